#!/usr/bin/env bash
# Instructions and cache misses per request, counted exactly by valgrind's callgrind, for Serin beside nginx and the
# bare SwiftNIO relay: the comparison of proxies' own work that this VM's noise cannot blur. Run with --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/instructions-gateway.sh [--help]

Starts the same two nginx backends as scripts/bench-gateway.sh and, one at a time, each proxy of PROXIES in
front of them (one worker each, 90/10) under valgrind's callgrind with its cache simulation. Each gets WARMUP
requests from h2load (HTTP/1.1 keep-alive, CONNECTIONS connections), then its counters are zeroed and REQUESTS
more are counted. Prints, per request:

  instructions   user-space instructions the proxy executed (its own code, its libraries, libc)
  I1 misses      instruction fetches that missed a simulated 32 KiB first-level cache: code beyond what
                 fits there, fetched again on every request
  D1 misses      data reads and writes that missed the simulated first-level data cache
  LL misses      misses of the simulated last-level cache (code and data)
  hot code KiB   the code a request runs through: 64-byte lines executed on at least half the requests. A
                 request that finds the caches cold (another process ran in between, as under a paced
                 load) fetches all of it again, whatever the simulated cache keeps
  code pages     the 4 KiB pages those lines lie on: the instruction TLB entries such a request needs

then the functions with the most instructions, for each proxy, and its hot code by module (Swift module,
runtime or library).

Why: the bench's CPU per request moves ±20% from run to run on a shared VM, and perf's samples are as noisy.
These counts are the same on every run, so a change of a few percent shows, and they say where the work is.
This VM has no hardware counters to count real cache and TLB misses; the footprint columns are what a cold
request must fetch, whichever machine runs it.
They leave out the kernel (system calls cost all three proxies alike: scripts/wakeups-gateway.sh) and
cannot show what another process's run does to the real caches; the simulated caches see only this process.

Environment:
  PROXIES="serin nginx relay"   which to run (serin, baseline, nginx, relay)
  REQUESTS=20000   requests counted      WARMUP=2000   requests before counting
  CONNECTIONS=8    h2load -c             TOP=20        functions listed per proxy (0: none)
  RATE=N           pace each connection at N requests a second (h2load --rps) instead of as fast as it goes:
                   with many connections at a low rate, each request is alone on the event loop's turn, as
                   under the bench's paced load (e.g. CONNECTIONS=64 RATE=4 REQUESTS=6000 WARMUP=1000)
  OUT=DIR          keep callgrind's counts in DIR (PROXY.PID.out.N), for callgrind_annotate or kcachegrind
  CALLGRIND_OPTIONS="..."   more options for callgrind (each instruction is already counted by its address,
                 --dump-instr=yes, which the footprint needs; OUT's dumps can be read against objdump -d)
  SERIN_BIN, BASELINE_BIN as in bench-gateway.sh (debug info is stripped from a copy: valgrind 3.19
  cannot read Swift 6.3's DWARF 5)
Needs valgrind (apt-get install valgrind) and h2load (nghttp2-client). Each proxy runs about 50× slower under
valgrind: a run of the defaults takes a minute or two.
USAGE
}
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi

COUNTED=${REQUESTS:-20000}
WARMUP=${WARMUP:-2000}
CLIENT_CONNECTIONS=${CONNECTIONS:-8}
TOP=${TOP:-20}
CALLGRIND_OPTIONS=${CALLGRIND_OPTIONS:-}
KEEP_DIR=${OUT:-}
COUNTS="$(dirname "${BASH_SOURCE[0]}")/bench/callgrind_counts.py"
# bench-gateway.sh's functions, set up for the plain HTTP/1.1 mode.
export MODES=http PROXIES=${PROXIES:-serin nginx relay} THREADS=1
# shellcheck source=bench-gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-gateway.sh"
MODE=http PROXY_THREADS=1
READY_TIMEOUT=120   # start-up under valgrind is slow

check_tool_settings COUNTED WARMUP CLIENT_CONNECTIONS ${RATE:+RATE}
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || die "valgrind is missing (apt-get install valgrind)"
command -v h2load >/dev/null || die "h2load is missing (apt-get install nghttp2-client)"
prepare_one_at_a_time instructions

# under_valgrind NAME BINARY [ARGUMENT...]: a command that runs BINARY under callgrind, with ARGUMENTs after its own, its
# counts in WORK_DIR/NAME.PID.out. Serin's `validate`, which the bench runs before starting it, runs as it is.
under_valgrind() {
    local name=$1 binary=$2 copy="$WORK_DIR/$1.bin" wrapper="$WORK_DIR/$1-under-valgrind" extra
    shift 2
    extra=""
    (($# == 0)) || extra=$(printf ' %q' "$@")
    strip --strip-debug -o "$copy" "$binary" 2>/dev/null || cp "$binary" "$copy"
    cat >"$wrapper" <<EOF
#!/usr/bin/env bash
if [[ \${1:-} == validate ]]; then exec "$copy" "\$@"; fi
exec valgrind --tool=callgrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=1048576,16,64 \\
    --collect-atstart=yes --dump-instr=yes --callgrind-out-file="$WORK_DIR/$name.%p.out" --log-file="$WORK_DIR/$name.valgrind.log" $CALLGRIND_OPTIONS \\
    "$copy" "\$@"$extra
EOF
    chmod +x "$wrapper"
    echo "$wrapper"
}

load() { h2load_all_2xx "$1" "$CLIENT_CONNECTIONS" "http://127.0.0.1:$PROXY_PORT/" h2load --h1 ${RATE:+"--rps=$RATE"}; }  # load COUNT

echo "== per request, counted by callgrind: $COUNTED requests (HTTP/1.1 keep-alive, $CLIENT_CONNECTIONS connections${RATE:+, each paced at $RATE a second}) after $WARMUP"
printf '%-9s %13s %11s %11s %11s %13s %11s\n' proxy instructions "I1 misses" "D1 misses" "LL misses" "hot code KiB" "code pages"
for proxy in $PROXIES; do
    wrap_proxy "$proxy" under_valgrind
    "start_$proxy"
    wait_ready "$proxy" "$PROXY_PID" "$PROXY_PORT" / "<h1>v" "$PROXY_LOG" http
    load "$WARMUP"
    pids=$(pgrep -g "$PROXY_PID" | paste -sd' ')
    control() {  # control OPTION: to every process of the proxy (it exits 0 even when it reached none)
        local pid out
        for pid in $pids; do
            out=$(callgrind_control "$1" "$pid" 2>&1)
            [[ $out == *OK.* ]] || die "callgrind_control $1 $pid: $out"
        done
    }
    control -z
    load "$COUNTED"
    control -d
    stop_group "$PROXY_PID"
    if [[ -n $KEEP_DIR ]]; then mkdir -p "$KEEP_DIR" && cp "$WORK_DIR/$proxy".*.out* "$KEEP_DIR"/; fi
    # Only the dumps taken after the load count: -z's zeroing leaves the start-up in the first part files.
    find "$WORK_DIR" -maxdepth 1 -name "$proxy.*.out" -delete
    for file in "$WORK_DIR/$proxy".*.out.*; do
        [[ -e $file ]] || die "callgrind wrote no dump for $proxy (see $WORK_DIR/$proxy.valgrind.log)"
    done
    read -r -a counts <<<"$(for file in "$WORK_DIR/$proxy".*.out.*; do
        awk '/^totals:/ {print; exit} /^summary:/ {print; exit}' "$file"
    done | awk '{for (i = 2; i <= NF; i++) sum[i] += $i} END {for (i = 2; i <= NF; i++) printf "%d ", sum[i]; print ""}')"
    read -r hot_lines hot_pages < <(python3 "$COUNTS" footprint "$COUNTED" "$WORK_DIR/$proxy".*.out.*)
    # Events, in callgrind's order with --cache-sim=yes: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw.
    awk -v proxy="$proxy" -v n="$COUNTED" -v counts="${counts[*]}" -v lines="$hot_lines" -v pages="$hot_pages" 'BEGIN {
        split(counts, c, " ")
        printf "%-9s %13.0f %11.1f %11.1f %11.1f %13.0f %11d\n", proxy, c[1] / n, c[4] / n, (c[5] + c[6]) / n, (c[7] + c[8] + c[9]) / n,
            lines * 64 / 1024, pages }'
done
if ((TOP > 0)); then
    for proxy in $PROXIES; do
        echo
        echo "-- $proxy: functions by their own instructions per request (callees apart), and their I1 misses"
        python3 "$COUNTS" functions "$COUNTED" "$TOP" "$WORK_DIR/$proxy".*.out.* | while IFS=$'\t' read -r ir misses name; do
            printf '  %7s %6s  %s\n' "$ir" "$misses" "$(swift demangle --simplified <<<"$name" 2>/dev/null | cut -c1-130 || echo "$name")"
        done
        echo "-- $proxy: its hot code KiB by module"
        python3 "$COUNTS" modules "$COUNTED" "$WORK_DIR/$proxy".*.out.* | while IFS=$'\t' read -r kib module; do
            printf '  %7s  %s\n' "$kib" "$module"
        done
    done
fi
