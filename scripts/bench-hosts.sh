#!/usr/bin/env bash
# Thousands of hosts: is host lookup flat? Serin's gateway and mesh listener serving N VirtualServices of distinct
# hosts, wrk against the first host and the last, for each N: exact hosts (h0.example.com …) and wildcard ones
# (*.w0.example.com …, requests for a.wI.example.com), each KIND in turn. On 127.0.0.1 only; prints one line per run. For each N
# it also measures what N costs: the gateway's resident memory (and per VirtualService, against the seed alone), how
# long it takes to start serving, and an apply of one new VirtualService beside the N (serin apply to the admin
# listener, until the new host answers) and of all N again unchanged.
#
#   scripts/bench-hosts.sh                 # N = 2000 and 10000, exact and wildcard, 5 s per run, 8 connections
#   COUNTS="2000" KINDS=wildcard DURATION=10 CONNECTIONS=64 SERIN_BIN=.build/release/serin scripts/bench-hosts.sh
#
# Each VirtualService routes its host to the seed's web-v1-service (examples/seed, whose Gateway it binds to as
# well as to the mesh), served by `serin demo-app` on the seed's port 18081. Needs wrk and a release build
# (as the Dockerfile builds it: scripts/release/flags.sh), which it builds when SERIN_BIN is not given.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNTS=${COUNTS:-"2000 10000"}
KINDS=${KINDS:-"exact wildcard"}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-8}
BACKEND_PORT=18081   # examples/seed/web-serviceentry.yaml
GATEWAY_OFFSET=${GATEWAY_OFFSET:-28100}   # the Gateway's port 80 listens on 80 + this
MESH_PORT=${MESH_PORT:-28202}
ADMIN_PORT=${ADMIN_PORT:-28203}

command -v wrk >/dev/null || { echo "error: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=bench/common.sh
source "$REPO_ROOT/scripts/bench/common.sh"
serin_binary "$REPO_ROOT"
make_work_dir

wait_for() { # URL HOST
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null -H "Host: $2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "error: nothing answered $1 (Host: $2)" >&2
    exit 1
}

manifests() { # KIND COUNT DIR
    local kind=$1 count=$2 dir=$3
    mkdir -p "$dir"
    awk -v n="$count" -v kind="$kind" 'BEGIN {
        for (i = 0; i < n; i++) {
            printf "---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: host-%d}\n", i
            if (kind == "wildcard") printf "spec:\n  hosts: [\"*.w%d.example.com\"]\n", i
            else printf "spec:\n  hosts: [h%d.example.com]\n", i
            printf "  gateways: [web-gateway, mesh]\n"
            printf "  http:\n  - route:\n    - destination: {host: web-v1-service, port: {number: 80}}\n"
        }
    }' >"$dir/virtualservices.yaml"
}

host_of() { # KIND INDEX: the host a request for the INDEXth VirtualService names
    if [[ $1 == wildcard ]]; then echo "a.w$2.example.com"; else echo "h$2.example.com"; fi
}

run_wrk() { # LABEL URL HOST
    local out
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Host: $3" "$2")
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%-32s %-22s req/s %10s   p50 %8s   p99 %8s\n' "$1" "$3" "$rps" "$p50" "$p99"
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

"$SERIN_BIN" demo-app --app-version v1 --port "$BACKEND_PORT" >/dev/null 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$BACKEND_PORT/" localhost

# The seed alone: what the per-VirtualService memory is measured against (after the same warm-up traffic).
"$SERIN_BIN" gateway -f "$REPO_ROOT/examples/seed" --port-offset "$GATEWAY_OFFSET" --threads 1 --log-level warning \
    --admin "127.0.0.1:$ADMIN_PORT" >"$WORK/gateway-seed.log" 2>&1 &
gateway=$!
PIDS+=("$gateway")
wait_for "http://127.0.0.1:$((80 + GATEWAY_OFFSET))/" localhost
wrk -t1 -c"$CONNECTIONS" -d1s "http://127.0.0.1:$((80 + GATEWAY_OFFSET))/" >/dev/null
BASE_RSS=$(rss_kib "$gateway")
printf '%-32s rss %8s KiB\n' "seed only" "$BASE_RSS"
kill "$gateway"
wait "$gateway" 2>/dev/null || true

for kind in $KINDS; do
for count in $COUNTS; do
    dir="$WORK/$kind-$count"
    manifests "$kind" "$count" "$dir"
    first=$(host_of "$kind" 0)
    started=$(now_ms)
    "$SERIN_BIN" gateway -f "$REPO_ROOT/examples/seed" -f "$dir" --port-offset "$GATEWAY_OFFSET" --mesh "127.0.0.1:$MESH_PORT" \
        --admin "127.0.0.1:$ADMIN_PORT" --threads 1 --log-level warning >"$WORK/gateway-$count.log" 2>&1 &
    gateway=$!
    PIDS+=("$gateway")
    last=$(host_of "$kind" $((count - 1)))
    label="$count $kind hosts"
    wait_for "http://127.0.0.1:$((80 + GATEWAY_OFFSET))/" "$last"
    printf '%-32s starts serving in %6s ms\n' "$label" "$(( $(now_ms) - started ))"
    wait_for "http://127.0.0.1:$MESH_PORT/" "$first"
    for host in "$first" "$last"; do
        run_wrk "$label, gateway" "http://127.0.0.1:$((80 + GATEWAY_OFFSET))/" "$host"
        run_wrk "$label, mesh" "http://127.0.0.1:$MESH_PORT/" "$host"
    done
    rss=$(rss_kib "$gateway")
    printf '%-32s rss %8s KiB   per VirtualService %6s bytes\n' "$label" "$rss" "$(( (rss - BASE_RSS) * 1024 / count ))"

    # One more VirtualService, applied live beside the N: until the gateway answers for its host.
    printf -- "---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: host-new}\nspec:\n  hosts: [new.example.com]\n  gateways: [web-gateway]\n  http:\n  - route:\n    - destination: {host: web-v1-service, port: {number: 80}}\n" >"$WORK/new-$count.yaml"
    started=$(now_ms)
    "$SERIN_BIN" apply -f "$WORK/new-$count.yaml" --server "http://127.0.0.1:$ADMIN_PORT" >/dev/null
    wait_for "http://127.0.0.1:$((80 + GATEWAY_OFFSET))/" new.example.com
    printf '%-32s apply of 1 new VirtualService, serving in %6s ms\n' "$label" "$(( $(now_ms) - started ))"
    started=$(now_ms)
    "$SERIN_BIN" apply -f "$dir" --server "http://127.0.0.1:$ADMIN_PORT" >/dev/null
    printf '%-32s apply of all %s again (unchanged) in %6s ms\n' "$label" "$count" "$(( $(now_ms) - started ))"
    kill "$gateway"
    wait "$gateway" 2>/dev/null || true
done
done
