#!/usr/bin/env bash
# Many Canaries in one `serin up`: how long until every rollout has taken its first step, how long a restart takes
# to be ready again, and how long SIGTERM takes to stop it, with whether the gateway still took new requests while
# it stopped. For each N: N VirtualServices (svc-I.example.com, bound to the seed's Gateway) and N Canaries, each
# moving its VirtualService from the seed's web-v1-service to web-v2-service (`serin demo-app` v1 and v2). On
# 127.0.0.1 only; prints one line per N.
#
#   scripts/bench-canaries.sh                  # N = 100 and 1000
#   COUNTS="1000" SERIN_BIN=/tmp/serin scripts/bench-canaries.sh
#
# Needs a release build (as the Dockerfile builds it: scripts/release/flags.sh), which it builds when SERIN_BIN is
# not given.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNTS=${COUNTS:-"100 1000"}
GATEWAY_OFFSET=${GATEWAY_OFFSET:-28300}   # the Gateway's port 80 listens on 80 + this
ADMIN_PORT=${ADMIN_PORT:-28303}
V1_PORT=${V1_PORT:-28381}
V2_PORT=${V2_PORT:-28382}

# shellcheck source=bench/common.sh
source "$REPO_ROOT/scripts/bench/common.sh"
require_tools curl python3
serin_binary "$REPO_ROOT"
make_work_dir

now() { date +%s%N; }
seconds_since() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.2f}')" "$1" "$(now)"; }

"$SERIN_BIN" demo-app --app-version v1 --port "$V1_PORT" >/dev/null 2>&1 & PIDS+=($!)
"$SERIN_BIN" demo-app --app-version v2 --port "$V2_PORT" >/dev/null 2>&1 & PIDS+=($!)

for count in $COUNTS; do
    manifests="$WORK/m$count"
    mkdir -p "$manifests"
    cp "$REPO_ROOT"/examples/seed/*.yaml "$manifests/"
    sed -i "s/18081/$V1_PORT/; s/18082/$V2_PORT/" "$manifests/web-serviceentry.yaml"
    python3 - "$count" > "$manifests/many.yaml" <<'EOF'
import sys
for i in range(int(sys.argv[1])):
    print(f"""---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: vs-{i}}}
spec:
  hosts: [svc-{i}.example.com]
  gateways: [web-gateway]
  http: [{{route: [{{destination: {{host: web-v1-service, port: {{number: 80}}}}}}]}}]
---
apiVersion: serin.dev/v1alpha1
kind: Canary
metadata: {{name: c-{i}}}
spec:
  targetRef: {{apiVersion: networking.istio.io/v1alpha3, kind: VirtualService, name: vs-{i}}}
  canary: {{host: web-v2-service, port: 80}}
  progressDeadlineSeconds: 600
  analysis:
    interval: 10s
    threshold: 2
    stepWeight: 20
    maxWeight: 80
    metrics: [{{name: request-success-rate, thresholdRange: {{min: 99}}, interval: 10s}}]""")
EOF
    state="$WORK/state$count.sqlite"
    arguments=(up -f "$manifests" --port-offset "$GATEWAY_OFFSET" --admin "127.0.0.1:$ADMIN_PORT" --state "$state")

    # First start: until every rollout has logged its first step.
    log="$WORK/first$count.log"
    started=$(now)
    "$SERIN_BIN" "${arguments[@]}" >"$log" 2>&1 & pid=$!
    PIDS+=("$pid")
    wait_serving "$pid" "127.0.0.1:$ADMIN_PORT" "$log" "N=$count" 300
    ready=$(seconds_since "$started")
    until (( $(grep -c "advance canary weight to 20%" "$log") >= count )); do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "error: serin exited" >&2; exit 1; }
        if (( $(now) - started > 600 * 1000000000 )); then echo "error: not every rollout stepped in 600 s" >&2; exit 1; fi
        sleep 0.2
    done
    stepped=$(seconds_since "$started")
    rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")

    # SIGTERM: until the process is gone, asking the gateway for a Canary's host meanwhile.
    stopping=$(now)
    kill -TERM "$pid"
    served_after=0
    while kill -0 "$pid" 2>/dev/null; do
        code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' -H 'Host: svc-1.example.com' "http://127.0.0.1:$((80 + GATEWAY_OFFSET))/" || true)
        [[ $code == 200 ]] && served_after=$(seconds_since "$stopping")
        sleep 0.1
    done
    stopped=$(seconds_since "$stopping")

    # Restart on the saved state: until ready again, then stopped again.
    log="$WORK/again$count.log"
    started=$(now)
    "$SERIN_BIN" "${arguments[@]}" >"$log" 2>&1 & pid=$!
    PIDS+=("$pid")
    wait_serving "$pid" "127.0.0.1:$ADMIN_PORT" "$log" "N=$count, restart" 300
    restarted=$(seconds_since "$started")
    stopping=$(now)
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    stopped_again=$(seconds_since "$stopping")

    printf 'canaries %5d  ready %6.2fs  all stepped %6.2fs  rss %4d MiB  SIGTERM: stopped %5.2fs, last 200 at %5.2fs  restart ready %6.2fs, stopped %5.2fs\n' \
        "$count" "$ready" "$stepped" "$rss" "$stopped" "$served_after" "$restarted" "$stopped_again"
done
