#!/usr/bin/env bash
# Where each proxy's CPU per request goes under the bench's load: user and kernel time per thread, context switches
# and the system calls that sleep or move bytes, per request, for Serin beside nginx and the bare SwiftNIO relay.
# Run with --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/wakeups-gateway.sh [--help]

Starts the same two nginx backends as scripts/bench-gateway.sh and, one at a time, each proxy of PROXIES in
front of them (one worker each, 90/10). Each gets a 1 s warm-up, then wrk sends CONNECTIONS connections for
DURATION seconds — each connection waiting DELAY_MS after every answer (a paced load, as the bench's
PACED=64@5000 is), or as fast as it can with DELAY_MS=0 — while `perf stat` counts the proxy's context
switches, epoll waits, futex waits and reads and writes. Prints, per request, for each thread that used CPU:
user and kernel time (from /proc/PID/task/TID/stat), and the counts.

Why: the bench gives one CPU figure per proxy. This splits it: whether a proxy makes more system calls or
sleeps more often than another (then the fix is in how it uses the kernel), or spends more user time per
request on the same calls (then the fix is in its own code), and whether another thread takes part.

Environment:
  PROXIES="serin nginx relay"   which to run (serin, nginx, relay, envoy, haproxy, baseline)
  CONNECTIONS=64   wrk connections     DELAY_MS=12   pause after each answer (64 × 1000 / 12 ≈ 5,000 req/s)
  DURATION=4       seconds measured    SERIN_BIN, BASELINE_BIN, ENVOY_BIN as in bench-gateway.sh
Needs perf (apt-get install linux-perf) and root for its syscall tracepoints.
USAGE
}
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi

COUNT_CONNECTIONS=${CONNECTIONS:-64}
DELAY=${DELAY_MS:-12}
SECONDS_MEASURED=${DURATION:-4}
# bench-gateway.sh's functions, set up for the plain HTTP/1.1 mode.
export MODES=http PROXIES=${PROXIES:-serin nginx relay} THREADS=1
# shellcheck source=bench-gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-gateway.sh"
MODE=http PROXY_THREADS=1

command -v perf >/dev/null || die "perf is missing (apt-get install linux-perf)"
prepare_one_at_a_time wakeups
CLK_TCK=$(getconf CLK_TCK)

threads_cpu() {  # threads_cpu PGID: "PID/TID NAME UTIME STIME" for every thread of the group's processes
    local pid task stat rest fields
    for pid in $(pgrep -g "$1"); do
        for task in /proc/"$pid"/task/*; do
            stat=$(<"$task/stat") || continue
            rest=${stat##*) }
            read -r -a fields <<<"$rest"
            echo "$pid/${task##*/} $(tr ' ' '_' <"$task/comm") ${fields[11]} ${fields[12]}"
        done
    done
}

EVENTS=context-switches,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex
EVENTS+=,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_writev
echo "== per request: ${COUNT_CONNECTIONS} connections, ${DELAY} ms after each answer, ${SECONDS_MEASURED} s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
for proxy in $PROXIES; do
    "start_$proxy"
    wait_ready "$proxy" "$PROXY_PID" "$PROXY_PORT" / "<h1>v" "$PROXY_LOG" http
    run_wrk "$COUNT_CONNECTIONS" 1 "$WORK_DIR/warmup.txt"
    threads_cpu "$PROXY_PID" | sort >"$WORK_DIR/before"
    pids=$(pgrep -g "$PROXY_PID" | paste -sd,)
    perf stat -x, -e "$EVENTS" -p "$pids" -o "$WORK_DIR/stat.csv" -- sleep $((SECONDS_MEASURED + 1)) &
    perf_pid=$!
    sleep 0.3  # perf attaches before the load starts; the load ends before perf does
    run_wrk "$COUNT_CONNECTIONS" "$SECONDS_MEASURED" "$WORK_DIR/load.txt" "$DELAY"
    wait "$perf_pid" || die "perf stat failed: $(cat "$WORK_DIR/stat.csv")"
    threads_cpu "$PROXY_PID" | sort >"$WORK_DIR/after"
    requests=$(awk '/requests in/ {print $1}' "$WORK_DIR/load.txt")
    [[ $requests -gt 0 ]] || die "wrk completed no requests through $proxy"
    echo "-- $proxy: $requests requests"
    join "$WORK_DIR/before" "$WORK_DIR/after" | awk -v n="$requests" -v tck="$CLK_TCK" '
        { user = $6 - $3; kernel = $7 - $4
          if (user + kernel > 0) printf "   thread %-20s user %5.1f µs  kernel %5.1f µs\n", $2, user * 1e6 / tck / n, kernel * 1e6 / tck / n }'
    awk -F, -v n="$requests" '$1 ~ /^[0-9]+$/ && $1 > 0 {
        name = $3; sub(/^syscalls:sys_enter_/, "", name); printf "   %-20s %.3f\n", name, $1 / n }' "$WORK_DIR/stat.csv"
    stop_group "$PROXY_PID"
done
