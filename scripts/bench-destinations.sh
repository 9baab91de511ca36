#!/usr/bin/env bash
# Many destinations: what traffic to thousands of distinct services costs the gateway over time. N ServiceEntries,
# each with a VirtualService of its own host (so each destination is a series of its own in the gateway's counters
# and in the history analysis reads), all served by one nginx on 127.0.0.1. Prints how long the gateway took to
# serve, then its resident memory and CPU time every STEP seconds.
#
#   scripts/bench-destinations.sh                       # TRAFFIC=once: one request to each, then idle for 60 s
#   TRAFFIC=busy DURATION=960 STEP=60 scripts/bench-destinations.sh
#                                                       # every destination, round robin, as fast as one client goes
#
# Environment: COUNT=2000 destinations; TRAFFIC=once|busy; DURATION=60 seconds; STEP=20 seconds between samples;
# SUBSETS=1 gives each destination two versions, a DestinationRule with their subsets and a 90/10 route, as a
# canary per service would; MESH=1 binds each VirtualService to the mesh too (`gateways: [edge, mesh]`) and opens
# the mesh listener on MESH_PORT, as service-to-service canaries would have it; READY_TIMEOUT=300 seconds to wait
# for the gateway to serve; SERIN_BIN=path (default: a release build, made here). Needs nginx, curl and python3.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT=${COUNT:-2000}
TRAFFIC=${TRAFFIC:-once}
SUBSETS=${SUBSETS:-0}
MESH=${MESH:-0}
MESH_PORT=${MESH_PORT:-28397}
READY_TIMEOUT=${READY_TIMEOUT:-300}
DURATION=${DURATION:-60}
STEP=${STEP:-20}
BACKEND_PORT=${BACKEND_PORT:-28399}
PORT_OFFSET=${PORT_OFFSET:-28300}   # the Gateway's port 80 listens on 80 + this
ADMIN_PORT=${ADMIN_PORT:-28398}

case $TRAFFIC in once | busy) ;; *) echo "error: TRAFFIC must be once or busy, got '$TRAFFIC'" >&2; exit 1 ;; esac
case $MESH in 0 | 1) ;; *) echo "error: MESH must be 0 or 1, got '$MESH'" >&2; exit 1 ;; esac
# shellcheck source=bench/common.sh
source "$REPO_ROOT/scripts/bench/common.sh"
require_tools nginx curl python3
serin_binary "$REPO_ROOT"
make_work_dir

mkdir -p "$WORK/manifests" "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events {}
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 "ok\n"; } }
}
EOF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)

python3 - "$COUNT" "$BACKEND_PORT" "$SUBSETS" "$MESH" >"$WORK/manifests/destinations.yaml" <<'PY'
import sys
count, port, subsets, mesh = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
gateways = "[edge, mesh]" if mesh else "[edge]"
print("""apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]""")
for i in range(count):
    # With SUBSETS=1, as a canary per service would: two versions, a DestinationRule naming them, a 90/10 route.
    endpoints = (f"[{{address: 127.0.0.1, ports: {{http: {port}}}, labels: {{version: v1}}}}, "
                 f"{{address: 127.0.0.1, ports: {{http: {port}}}, labels: {{version: v2}}}}]") if subsets \
        else f"[{{address: 127.0.0.1, ports: {{http: {port}}}}}]"
    route = (f"    - destination: {{host: svc{i}.example.com, subset: v1}}\n      weight: 90\n"
             f"    - destination: {{host: svc{i}.example.com, subset: v2}}\n      weight: 10") if subsets \
        else f"    - destination: {{host: svc{i}.example.com}}"
    print(f"""---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {{name: svc{i}}}
spec:
  hosts: [svc{i}.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  endpoints: {endpoints}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: svc{i}}}
spec:
  hosts: [svc{i}.example.com]
  gateways: {gateways}
  http:
  - route:
{route}""")
    if subsets:
        print(f"""---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: svc{i}}}
spec:
  host: svc{i}.example.com
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}""")
PY

mesh_flags=()
[ "$MESH" = 1 ] && mesh_flags=(--mesh "127.0.0.1:$MESH_PORT")
started=$(date +%s%N)
"$SERIN_BIN" gateway -f "$WORK/manifests" --threads 1 --port-offset "$PORT_OFFSET" --admin "127.0.0.1:$ADMIN_PORT" \
    "${mesh_flags[@]}" >"$WORK/serin.log" 2>&1 &
GATEWAY=$!
PIDS+=("$GATEWAY")
wait_serving "$GATEWAY" "127.0.0.1:$ADMIN_PORT" "$WORK/serin.log" READY_TIMEOUT "$READY_TIMEOUT"
echo "ready after $(( ($(date +%s%N) - started) / 1000000 )) ms"

sample() {  # sample LABEL: resident memory and CPU time of the gateway
    local rss ticks
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$GATEWAY/status")
    ticks=$(cut -d')' -f2- "/proc/$GATEWAY/stat" | awk '{print $12 + $13}')
    echo "$1 rss_mb=$((rss / 1024)) cpu_s=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')"
}

# One client connection, pipelining 20 requests at a time, round robin over the hosts; `once` stops after one pass.
python3 - "$((PORT_OFFSET + 80))" "$COUNT" "$TRAFFIC" "$DURATION" >"$WORK/client.log" <<'PY' &
import socket, sys, time
port, count, traffic, duration = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
end = time.time() + duration
connection = socket.create_connection(("127.0.0.1", port))
sent = 0
while time.time() < end and (traffic == "busy" or sent < count):
    batch = min(20, count - sent % count)
    connection.sendall(b"".join(f"GET / HTTP/1.1\r\nHost: svc{(sent + k) % count}.example.com\r\n\r\n".encode() for k in range(batch)))
    answers = b""
    while answers.count(b"ok\n") < batch:
        chunk = connection.recv(65536)
        if not chunk:
            sys.exit("the gateway closed the connection")
        answers += chunk
    if answers.count(b" 200 ") != batch:
        sys.exit("an answer was not 200")
    sent += batch
print(f"requests={sent}")
PY
CLIENT=$!
PIDS+=("$CLIENT")

echo "destinations=$COUNT traffic=$TRAFFIC duration=${DURATION}s serin=$SERIN_BIN"
sample "t=0"
for ((elapsed = STEP; elapsed <= DURATION; elapsed += STEP)); do
    sleep "$STEP"
    sample "t=$elapsed"
done
wait "$CLIENT" || { echo "error: the client failed" >&2; exit 1; }
cat "$WORK/client.log"
