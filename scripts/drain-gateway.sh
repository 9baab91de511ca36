#!/usr/bin/env bash
# What a proxy's graceful stop does to the keep-alive load it is serving: how many requests already sent on its
# open connections get no answer. Run with --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/drain-gateway.sh [--help]

Starts the same two nginx backends as scripts/bench-gateway.sh and, one at a time, each proxy of PROXIES in
front of them (one worker each, 90/10). wrk sends CONNECTIONS keep-alive connections for DURATION seconds; after
STOP_AFTER seconds the proxy is asked to stop gracefully, as its own manual says: Serin and the baseline build
SIGTERM (a drain of up to 15 s), nginx SIGQUIT (graceful shutdown), HAProxy SIGUSR1 (soft stop). Repeated
ROUNDS times. Prints, per proxy and round, what wrk counted:

  requests   answered requests
  lost       wrk's read errors: connections closed (or reset) with the request written on them unanswered —
             requests lost in the stop (wrk writes its next request as soon as an answer is whole, so a keep-alive
             connection the proxy closes "idle" has one on its way)
  refused    wrk's connect and write errors: new connections tried after the proxy stopped listening (wrk
             reconnects at once after "connection: close" and learns of the refusal when it writes): no request
             of them reached the proxy, and a load balancer would have sent them elsewhere
  exit       the proxy's exit status and how long after the signal it exited

Why: a gateway stopped under load should let every request sent on its open connections finish. A server that
closes its idle keep-alive connections at once races the request a client is sending on one (it then fails with
nothing sent back); one that answers it with "connection: close" loses none.

Environment:
  PROXIES="serin nginx haproxy"   which to run (serin, baseline, nginx, haproxy)
  CONNECTIONS=64   wrk connections      DURATION=5   seconds of load     STOP_AFTER=2   seconds before the signal
  ROUNDS=3         rounds per proxy
  SERIN_BIN, BASELINE_BIN as in bench-gateway.sh; SERIN_GATEWAY_ARGS: more options for serin gateway (for
  example "--min-drain-duration 2": the listeners keep serving, with connection: close, for 2 s)
USAGE
}
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi

COUNT_CONNECTIONS=${CONNECTIONS:-64}
LOAD_SECONDS=${DURATION:-5}
STOP_AFTER=${STOP_AFTER:-2}
DRAIN_ROUNDS=${ROUNDS:-3}
[[ $STOP_AFTER =~ ^[0-9]+$ && $LOAD_SECONDS =~ ^[0-9]+$ && $STOP_AFTER -lt $LOAD_SECONDS ]] ||
    { echo "drain-gateway.sh: STOP_AFTER must be a whole number of seconds below DURATION" >&2; exit 2; }
# bench-gateway.sh's functions, set up for the plain HTTP/1.1 mode.
export MODES=http PROXIES=${PROXIES:-serin nginx haproxy} THREADS=1 ROUNDS=1
# shellcheck source=bench-gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-gateway.sh"
MODE=http PROXY_THREADS=1
prepare_one_at_a_time drain

stop_signal() {  # the signal that asks PROXY to stop gracefully
    case $1 in
    nginx) echo QUIT ;;
    haproxy) echo USR1 ;;
    *) echo TERM ;;
    esac
}

echo "== ${COUNT_CONNECTIONS} keep-alive connections, ${LOAD_SECONDS} s of load, the stop asked after ${STOP_AFTER} s" \
    "(load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-9s %5s %9s %5s %8s %s\n' proxy round requests lost refused exit
for proxy in $PROXIES; do
    for ((round = 1; round <= DRAIN_ROUNDS; round++)); do
        "start_$proxy"
        wait_ready "$proxy" "$PROXY_PID" "$PROXY_PORT" / "<h1>v" "$PROXY_LOG" http
        out="$WORK_DIR/load-$proxy-$round.txt"
        BENCH_DELAY_MS=0 wrk -t "$WRK_THREADS" -c "$COUNT_CONNECTIONS" -d "${LOAD_SECONDS}s" -s "$WRK_LUA" \
            "$(mode_url)" >"$out" 2>&1 &
        wrk_pid=$!
        sleep "$STOP_AFTER"
        signalled=$(date +%s%N)
        kill "-$(stop_signal "$proxy")" "$PROXY_PID"
        status=0
        wait "$PROXY_PID" || status=$?
        exited=$((($(date +%s%N) - signalled) / 1000000))
        wait "$wrk_pid" || true
        requests=$(awk '/requests in/ {print $1}' "$out")
        # wrk prints no "Socket errors" line when it counted none.
        refused=0 lost=0 unwritten=0
        read -r refused lost unwritten < <(awk -F'[ ,]+' '/Socket errors/ {print $5, $7, $9}' "$out") || true
        printf '%-9s %5s %9s %5s %8s %s\n' "$proxy" "$round" "${requests:-0}" "${lost:-0}" "$((${refused:-0} + ${unwritten:-0}))" \
            "status $status after ${exited} ms"
        stop_group "$PROXY_PID"
    done
done
