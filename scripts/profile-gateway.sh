#!/usr/bin/env bash
# Where Serin's gateway spends its CPU, sampled by perf while h2load sends a fixed number of requests, and its
# CPU time per request: to find what a change should target, and to compare two builds. Run with --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/profile-gateway.sh [--help]

Starts the same two nginx backends and the same serin gateway (90/10 split) as scripts/bench-gateway.sh,
sends WARMUP requests with h2load, then REQUESTS more while perf samples the gateway (cpu-clock, which
needs no hardware counters), and prints the gateway's CPU time per request and the functions that took
most of it, by self time and including callees (Swift names demangled).

Environment:
  MODE=http        http (HTTP/1.1 keep-alive), https (HTTP/1.1 over TLS, 1 KB page, keep-alive),
                   h2 (h2c with prior knowledge, 10 streams per connection)
  REQUESTS=20000   requests counted        WARMUP=2000   requests before counting
  CONNECTIONS=8    h2load -c               THREADS=1     serin --threads
  TOP=25           functions listed        OUT=DIR       keep perf.data in DIR (default: a temp dir, removed)
  SERIN_BIN=/path  the serin binary (default: build as bench-gateway.sh does)
  ALLOCATIONS=1    count instead of sampling: swift_allocObject, malloc and swift_retain calls per request
                   (uprobes added with perf probe, which needs root; exact counts, not samples)

Compare two builds by running this with SERIN_BIN set to each, back to back: CPU µs/request moves with
other work on the machine (check the load line), the shares of the functions much less.
USAGE
}
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi

PROFILE_MODE=${MODE:-http}
REQUESTS=${REQUESTS:-20000}
WARMUP=${WARMUP:-2000}
PROFILE_CONNECTIONS=${CONNECTIONS:-8}
TOP=${TOP:-25}
KEEP_DIR=${OUT:-}
case $PROFILE_MODE in http | https | h2) ;; *) echo "MODE must be http, https or h2, got '$PROFILE_MODE'" >&2; exit 1 ;; esac
# bench-gateway.sh's functions, set up for Serin alone in this one mode.
export MODES=$PROFILE_MODE PROXIES=serin THREADS=${THREADS:-1}
# shellcheck source=bench-gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-gateway.sh"
MODE=$PROFILE_MODE PROXY_THREADS=$THREADS 

command -v perf >/dev/null || die "perf is missing (apt-get install linux-perf)"
command -v h2load >/dev/null || die "h2load is missing (apt-get install nghttp2-client)"
validate_settings
ensure_tools
build_serin
WORK_DIR=$(mktemp -d /tmp/serin-profile.XXXXXX)
PROFILE_OUT=${KEEP_DIR:-$WORK_DIR}
mkdir -p "$PROFILE_OUT"

mapfile -t ports < <(python3 "$HELPER" ports 4)
PORT_V1=${ports[0]} PORT_V2=${ports[1]} PORT_SERIN=${ports[2]} PORT_SERIN_ADMIN=${ports[3]}
start_backend v1 "$PORT_V1"
start_backend v2 "$PORT_V2"
[[ $MODE == https ]] && make_certificate

start_serin
wait_ready serin "$PROXY_PID" "$PROXY_PORT" / "<h1>v" "$PROXY_LOG" "$MODE"

case $MODE in
http) client=(h2load --h1) url="http://127.0.0.1:$PROXY_PORT/" ;;
https) client=(h2load --h1) url="https://127.0.0.1:$PROXY_PORT/1k" ;;
h2) client=(h2load -m 10) url="http://127.0.0.1:$PROXY_PORT/" ;;
esac
load() { h2load_all_2xx "$1" "$PROFILE_CONNECTIONS" "$url" "${client[@]}"; }  # load COUNT
cpu_ticks() {  # "UTIME STIME" of the gateway process, in clock ticks
    local stat rest fields
    stat=$(<"/proc/$PROXY_PID/stat")
    rest=${stat##*) }
    read -r -a fields <<<"$rest"
    echo "${fields[11]} ${fields[12]}"
}
log "warm-up: $WARMUP requests"
load "$WARMUP"
if [[ ${ALLOCATIONS:-0} == 1 ]]; then
    # The Swift runtime is in libswiftCore.so, or in serin itself when it was linked in (--static-swift-stdlib).
    swift_core=$(ldd "$SERIN" | awk '/libswiftCore.so/ {print $3}')
    swift_core=${swift_core:-$SERIN}
    libc=$(ldd "$SERIN" | awk '/libc.so.6/ {print $3}')
    [[ -n $libc ]] || die "cannot find libc.so.6 in ldd $SERIN"
    # Probes are named after the file they are in; any left from another binary are removed first.
    perf probe -q -d 'probe_*:swift_allocObject' -d 'probe_*:swift_retain' -d 'probe_libc:malloc' 2>/dev/null || true
    probe() {  # probe FILE FUNCTION: by name, or by the symbol's address where perf cannot read FILE's debug info
        local address
        perf probe -q -x "$1" "$2" 2>/dev/null && return
        address=$(nm "$1" 2>/dev/null | awk -v name="$2" '$3 == name && !found {print $1; found = 1}')
        [[ -n $address ]] && perf probe -q -x "$1" "$2=0x$address" ||
            die "perf probe could not add a uprobe on $2 in $1 (it needs root)"
    }
    probe "$swift_core" swift_allocObject
    probe "$swift_core" swift_retain
    probe "$libc" malloc
    group=$(perf probe -l 2>/dev/null | awk '/:swift_retain / {split($1, name, ":"); print name[1]; exit}')
    log "counting allocations over $REQUESTS requests ($MODE, $PROFILE_CONNECTIONS connections)"
    perf stat -x, -e "$group:swift_allocObject,$group:swift_retain,probe_libc:malloc" -p "$PROXY_PID" -o "$PROFILE_OUT/stat.csv" &
    PERF_PID=$!
    sleep 0.5
    load "$REQUESTS"
    kill -INT "$PERF_PID"
    wait "$PERF_PID" 2>/dev/null || true
    echo "== Serin gateway: allocations per request =="
    echo "load:     ${client[*]} -t 1 -c $PROFILE_CONNECTIONS -n $REQUESTS $url (after $WARMUP warm-up requests)"
    awk -F, -v n="$REQUESTS" '$3 ~ /swift_allocObject/ {printf "swift_allocObject: %.2f per request\n", $1 / n}
        $3 ~ /swift_retain/ {printf "swift_retain:      %.1f per request (each a reference count taken, an atomic add)\n", $1 / n}
        $3 ~ /malloc/ {printf "malloc:            %.2f per request (Swift objects, buffers and arrays all start here)\n", $1 / n}' \
        "$PROFILE_OUT/stat.csv"
    exit 0
fi
log "measuring: $REQUESTS requests ($MODE, $PROFILE_CONNECTIONS connections), sampled by perf"
perf record -e cpu-clock --all-user -F 4999 -g -p "$PROXY_PID" -o "$PROFILE_OUT/perf.data" >"$PROFILE_OUT/perf.log" 2>&1 &
PERF_PID=$!
sleep 0.5   # perf attaches asynchronously; its own log says when it has
read -r user_before system_before <<<"$(cpu_ticks)"
load "$REQUESTS"
read -r user_after system_after <<<"$(cpu_ticks)"
kill -INT "$PERF_PID"
wait "$PERF_PID" 2>/dev/null || true
CLK_TCK=$(getconf CLK_TCK)

echo "== Serin gateway: CPU per request and where it goes (perf) =="
echo "serin:    $SERIN ($(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
echo "load:     ${client[*]} -t 1 -c $PROFILE_CONNECTIONS -n $REQUESTS $url (after $WARMUP warm-up requests)"
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-minute averages; other work skews CPU per request)"
per_request() { echo $((($1) * 1000000 / CLK_TCK / REQUESTS)); }
echo "CPU µs/request: $(per_request "user_after - user_before + system_after - system_before")" \
    "(user $(per_request "user_after - user_before"), kernel $(per_request "system_after - system_before"); the gateway process)"
echo
echo "User-space self time by function (top $TOP; kernel time is not sampled):"
perf report -i "$PROFILE_OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | sed -n "1,${TOP}p" | sed 's/^ *//' |
    while read -r pct _ sym; do printf '%7s  %s\n' "$pct" "$(swift demangle --simplified <<<"$sym" | cut -c1-150)"; done
echo
echo "User-space time including callees (top $TOP):"
perf report -i "$PROFILE_OUT/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | sed -n "1,${TOP}p" | sed 's/^ *//' |
    while read -r pct _ _ sym; do printf '%7s  %s\n' "$pct" "$(swift demangle --simplified <<<"$sym" | cut -c1-150)"; done
if [[ -n $KEEP_DIR ]]; then echo "perf data kept: $PROFILE_OUT/perf.data"; fi
