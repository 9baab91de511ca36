#!/usr/bin/env bash
# Clients that give up: the gateway's memory and connections while half the requests are abandoned mid-exchange.
# A slow backend (it answers after DELAY seconds, every fifth answer a 503) sits behind four routes: a plain one,
# one with a 50 ms `timeout` (the gateway answers 504 first), one with `retries` on 5xx and an 80 ms
# `perTryTimeout`, and one whose fault `delay` holds every request for 30 s. Each round, CLIENTS requests go out
# CONCURRENCY at a time, a quarter to each route; the delayed ones all leave during their delay, and of the others
# half read their answer, half close their connection at a random moment before it comes. After each round the
# script prints the gateway's resident memory and its open client and upstream connections (from /metrics; the
# backend's DestinationRule gives it a connection budget, so the pool's accounting is exercised and counted too).
#
# Every exchange a client leaves holds an upstream connection, timers and the handler that owns them; all of it
# must go when the client does. Memory that climbs round after round, or client connections still counted once
# the clients are gone, is a leak.
#
#   scripts/soak-gateway.sh                  # 8 rounds of 3,000 requests
#   ROUNDS=20 CLIENTS=5000 scripts/soak-gateway.sh
#
# Environment: ROUNDS=8; CLIENTS=3000 per round; CONCURRENCY=100; DELAY=0.1 seconds the backend takes;
# SERIN_BIN=path (default: a release build, made here). Needs curl and python3.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-8}
CLIENTS=${CLIENTS:-3000}
CONCURRENCY=${CONCURRENCY:-100}
DELAY=${DELAY:-0.1}
BACKEND_PORT=${BACKEND_PORT:-28499}
PORT_OFFSET=${PORT_OFFSET:-28400}   # the Gateway's port 80 listens on 80 + this
ADMIN_PORT=${ADMIN_PORT:-28498}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
# shellcheck source=bench/common.sh
source "$REPO_ROOT/scripts/bench/common.sh"
require_tools curl python3
serin_binary "$REPO_ROOT"
make_work_dir

cat >"$WORK/backend.py" <<'PY'
# A keep-alive HTTP/1.1 backend that answers each request after a delay; every fifth answer is a 503.
import asyncio, sys
port, delay = int(sys.argv[1]), float(sys.argv[2])
answered = 0
async def serve(reader, writer):
    global answered
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            answered += 1
            await asyncio.sleep(delay)
            status = b"503 Service Unavailable" if answered % 5 == 0 else b"200 OK"
            writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 3\r\n\r\nok\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    await server.serve_forever()
asyncio.run(main())
PY

cat >"$WORK/clients.py" <<'PY'
# COUNT requests, CONCURRENCY at a time, a quarter to each route's host; half the clients (and all of the delayed
# route's) leave before the answer.
import asyncio, random, sys
port, count, concurrency = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
outcome = {"answered": 0, "left": 0, "failed": 0}
async def client(index):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        host = (b"plain", b"timeout", b"retries", b"delayed")[index % 4]
        writer.write(b"GET / HTTP/1.1\r\nhost: " + host + b"\r\n\r\n")
        await writer.drain()
        if host == b"delayed" or random.random() < 0.5:
            await asyncio.sleep(random.random() * 0.15)
            outcome["left"] += 1
        else:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            outcome["answered"] += 1
        writer.close()
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        outcome["failed"] += 1
async def main():
    limit = asyncio.Semaphore(concurrency)
    async def limited(index):
        async with limit:
            await client(index)
    await asyncio.gather(*(limited(index) for index in range(count)))
    print(f"answered {outcome['answered']}, left early {outcome['left']}, failed {outcome['failed']}")
asyncio.run(main())
PY

mkdir -p "$WORK/manifests"
cat >"$WORK/manifests/soak.yaml" <<EOF
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: plain}
spec:
  hosts: [plain]
  gateways: [edge]
  http:
  - route: [{destination: {host: backend}}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: timeout}
spec:
  hosts: [timeout]
  gateways: [edge]
  http:
  - timeout: 50ms
    route: [{destination: {host: backend}}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: retries}
spec:
  hosts: [retries]
  gateways: [edge]
  http:
  - retries: {attempts: 2, perTryTimeout: 80ms, retryOn: 5xx}
    route: [{destination: {host: backend}}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: delayed}
spec:
  hosts: [delayed]
  gateways: [edge]
  http:
  - fault: {delay: {fixedDelay: 30s, percentage: {value: 100}}}
    route: [{destination: {host: backend}}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: backend}
spec:
  hosts: [backend]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: $BACKEND_PORT}}]
---
# A connection budget: the pool's accounting is exercised too, and /metrics counts the backend's connections.
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: backend}
spec:
  host: backend
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1000}}
EOF

python3 "$WORK/backend.py" "$BACKEND_PORT" "$DELAY" &
PIDS+=($!)
"$SERIN_BIN" gateway -f "$WORK/manifests" --port-offset "$PORT_OFFSET" --admin "127.0.0.1:$ADMIN_PORT" >"$WORK/serin.log" 2>&1 &
SERIN_PID=$!
PIDS+=("$SERIN_PID")
GATEWAY_PORT=$((80 + PORT_OFFSET))
wait_serving "$SERIN_PID" "127.0.0.1:$ADMIN_PORT" "$WORK/serin.log" "a 30 s limit" 30

# A gauge's value, summed over its label sets.
gauge() {
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v name="$1" 'index($1, name) == 1 && substr($1, length(name) + 1, 1) ~ /^[{]?$/ { sum += $NF } END { print sum + 0 }'
}
echo "serin: $SERIN_BIN; $ROUNDS rounds of $CLIENTS requests, $CONCURRENCY at a time, backend delay ${DELAY}s"
printf '%-6s %-50s %9s %14s %16s\n' round clients "RSS kB" "client conns" "upstream conns"
for round in $(seq "$ROUNDS"); do
    result=$(python3 "$WORK/clients.py" "$GATEWAY_PORT" "$CLIENTS" "$CONCURRENCY")
    # The clients are gone; the gateway notices the last of them within moments (up to 5 s before it is reported).
    for _ in $(seq 50); do
        (( $(gauge serin_gateway_downstream_connections_active) == 0 )) && break
        sleep 0.1
    done
    printf '%-6s %-50s %9s %14s %16s\n' "$round" "$result" "$(awk '/VmRSS/ { print $2 }' "/proc/$SERIN_PID/status")" \
        "$(gauge serin_gateway_downstream_connections_active)" "$(gauge serin_gateway_upstream_connections_active)"
done
