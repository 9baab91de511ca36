#!/usr/bin/env bash
# The code and data a proxy's request touches, traced by valgrind's lackey, for Serin beside nginx and the bare
# SwiftNIO relay: what a request that finds the caches cold fetches again. Run with --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/footprint-gateway.sh [--help]

Starts the same two nginx backends as scripts/bench-gateway.sh and, one at a time, each proxy of PROXIES in front
of them (one worker each, 90/10) under valgrind's lackey, which reports every instruction and every data access.
Each gets WARMUP requests from h2load (HTTP/1.1 keep-alive, one connection: each request alone in its turns of
the event loop), then REQUESTS more are traced. scripts/bench/footprint.c cuts the trace into turns of the event
loop (a call of epoll_wait each) and counts the distinct 64-byte lines each turn touches. Prints, per request:

  turns        turns of the event loop that read a socket: 2 for a proxied request (the client's request, then
               the upstream's response); other turns (timers, other threads) are left out
  code KiB     distinct code lines each of those turns runs through, summed: code run in both turns counts twice,
               as a cold turn fetches it again
  data KiB     distinct data lines each turn reads or writes, summed the same way
  binary, libraries, anonymous   where the data lines lie: the program's own data (for Swift, its type metadata
               and globals), shared libraries' data, and anonymous memory (the heap and the threads' stacks)

then, for each proxy, its code lines per request by whose code they are (Swift module, the Swift runtime, or the
library) and the functions with the most, and the functions that first touch the most data lines in a turn.

Why: scripts/instructions-gateway.sh counts instructions and the code a request runs through; on a paced load each
request finds the caches cold, and what it must fetch again is its code and its data. This VM has no hardware
counters to count the misses themselves; the trace counts what a cold turn must fetch, on any machine.
Lackey slows a proxy about 500-fold: Serin's start-up alone takes several minutes, a run of the defaults about
fifteen; the counts are the same from run to run to within a few lines.

Environment:
  PROXIES="serin nginx relay"   which to run (serin, baseline, nginx, relay)
  REQUESTS=1000   requests traced       WARMUP=300   requests before
  TOP=25          functions listed per proxy (0: none)
  SERIN_BIN, BASELINE_BIN as in bench-gateway.sh (debug info is stripped from a copy: valgrind 3.19 cannot read
  Swift 6.3's DWARF 5)
Needs valgrind (apt-get install valgrind), h2load (nghttp2-client) and a C compiler (cc).
USAGE
}
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi

TRACED=${REQUESTS:-1000}
WARMUP=${WARMUP:-300}
TOP=${TOP:-25}
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# bench-gateway.sh's functions, set up for the plain HTTP/1.1 mode.
export MODES=http PROXIES=${PROXIES:-serin nginx relay} THREADS=1
# shellcheck source=bench-gateway.sh
source "$SCRIPTS/bench-gateway.sh"
MODE=http PROXY_THREADS=1
READY_TIMEOUT=1200   # Serin's start-up under lackey takes minutes

check_tool_settings TRACED WARMUP
command -v valgrind >/dev/null || die "valgrind is missing (apt-get install valgrind)"
command -v h2load >/dev/null || die "h2load is missing (apt-get install nghttp2-client)"
command -v cc >/dev/null || die "a C compiler is missing (apt-get install gcc)"
prepare_one_at_a_time footprint
cc -O2 -o "$WORK_DIR/footprint" "$SCRIPTS/bench/footprint.c" || die "cannot build scripts/bench/footprint.c"
LIBC=$(readlink -f "$(ldd "$(command -v h2load)" | awk '$1 == "libc.so.6" {print $3}')")
[[ -r $LIBC ]] || die "cannot find libc.so.6"

# under_lackey NAME BINARY [ARGUMENT...]: a command that runs BINARY under lackey, its trace written to the pipe
# WORK_DIR/NAME.trace for footprint (start_footprint). Serin's `validate`, which the bench runs first, runs as it is.
under_lackey() {
    local name=$1 binary=$2 copy="$WORK_DIR/$1.bin" wrapper="$WORK_DIR/$1-under-lackey" extra=""
    shift 2
    (($# == 0)) || extra=$(printf ' %q' "$@")
    strip --strip-debug -o "$copy" "$binary" 2>/dev/null || cp "$binary" "$copy"
    mkfifo "$WORK_DIR/$name.trace"
    cat >"$wrapper" <<EOF
#!/usr/bin/env bash
if [[ \${1:-} == validate ]]; then exec "$copy" "\$@"; fi
exec valgrind --tool=lackey --trace-mem=yes --log-file="$WORK_DIR/$name.trace" "$copy" "\$@"$extra
EOF
    chmod +x "$wrapper"
    echo "$wrapper"
}

# start_footprint NAME: footprint reading NAME's trace, its results in WORK_DIR/NAME.*, in a process group of its own
# (so that stopping the proxy ends the trace, not footprint); sets FOOTPRINT_PID.
start_footprint() {
    local name=$1
    # shellcheck disable=SC2016
    start_group "$WORK_DIR/$name.counts" sh -c 'exec "$@" <"$0"' "$WORK_DIR/$name.trace" \
        "$WORK_DIR/footprint" "$WORK_DIR/$name.trigger" "$WORK_DIR/$name.attribution" "$WORK_DIR/$name.code" \
        "$WORK_DIR/$name.regions" "$name.bin"
    FOOTPRINT_PID=$STARTED_PID
}

# trigger NAME PID: tells footprint, through WORK_DIR/NAME.trigger, where epoll_wait and the reads lie in valgrind's
# process PID (the traced program's libraries are mapped in it), and the process's maps.
trigger() {
    local name=$1 pid=$2 base symbols
    base=$(awk -v libc="$LIBC" '$6 == libc && !b {split($1, r, "-"); b = r[1]} END {print b}' "/proc/$pid/maps")
    [[ -n $base ]] || die "libc is not mapped in $name's process $pid"
    symbols=$(nm -D "$LIBC")
    {
        printf '%x\n' $((16#$base + 16#$(awk '$3 ~ /^epoll_wait@/ {print $1; exit}' <<<"$symbols")))
        for offset in $(awk '$3 ~ /^(read|readv|recv|recvfrom)@/ {print $1}' <<<"$symbols"); do
            printf '%x ' $((16#$base + 16#$offset))
        done
        echo
        cat "/proc/$pid/maps"
    } >"$WORK_DIR/$name.trigger.part"
    mv "$WORK_DIR/$name.trigger.part" "$WORK_DIR/$name.trigger"
}

load() { h2load_all_2xx "$1" 1 "http://127.0.0.1:$PROXY_PORT/" h2load --h1; }

echo "== per request, traced by lackey: $TRACED requests (HTTP/1.1 keep-alive, one connection) after $WARMUP"
printf '%-9s %7s %9s %9s %8s %10s %10s\n' proxy turns "code KiB" "data KiB" binary libraries anonymous
for proxy in $PROXIES; do
    wrap_proxy "$proxy" under_lackey
    start_footprint "$proxy"
    "start_$proxy"
    wait_ready "$proxy" "$PROXY_PID" "$PROXY_PORT" / "<h1>v" "$PROXY_LOG" http
    load "$WARMUP"
    trigger "$proxy" "$(pgrep -g "$PROXY_PID" -f valgrind | sort -n | tail -1)"
    # footprint looks for the trigger every million lines of trace: a few requests' worth.
    load "$TRACED"
    stop_group "$PROXY_PID"
    wait "$FOOTPRINT_PID" || true   # the trace ends with the proxy, and footprint with it
    stop_group "$FOOTPRINT_PID"
    read -r turns code data binary libraries anonymous _ <"$WORK_DIR/$proxy.counts" || die "footprint counted nothing for $proxy: $(cat "$WORK_DIR/$proxy.counts")"
    ((turns > 0)) || die "footprint saw no turn of $proxy's event loop read a socket: is epoll_wait in $LIBC?"
    awk -v p="$proxy" -v n="$TRACED" -v t="$turns" -v c="$code" -v d="$data" -v b="$binary" -v l="$libraries" -v a="$anonymous" \
        'BEGIN {printf "%-9s %7.2f %9.1f %9.1f %8.1f %10.1f %10.1f\n", p, t / n, c * 64 / 1024 / n, d * 64 / 1024 / n, b * 64 / 1024 / n, l * 64 / 1024 / n, a * 64 / 1024 / n}'
done
if ((TOP > 0)); then
    for proxy in $PROXIES; do
        echo
        echo "-- $proxy: code per request, each line counted in every turn that runs through it"
        python3 "$SCRIPTS/bench/footprint_functions.py" code "$WORK_DIR/$proxy.code" "$WORK_DIR/$proxy.regions" "$TRACED" "$TOP"
        echo "-- $proxy: functions by the data lines per request they are the first in a turn to touch"
        python3 "$SCRIPTS/bench/footprint_functions.py" data "$WORK_DIR/$proxy.attribution" "$WORK_DIR/$proxy.regions" "$TRACED" "$TOP"
    done
fi
