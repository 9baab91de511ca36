-- wrk hook for scripts/bench-gateway.sh.
--
-- wrk's human report rounds latencies to two decimals and mixes units (us, ms, s). This hook adds one
-- line after it with the exact numbers (integers, microseconds), which bench_gateway.py reads.
-- summary.errors.status counts responses that were not 2xx/3xx; the other error fields are socket errors.

-- BENCH_DELAY_MS paces the load: each connection waits that long after an answer before its next request,
-- so every proxy is measured at (nearly) the same request rate instead of each at its own maximum.
local pace = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if pace and pace > 0 then
  delay = function() return pace end
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d p50_us=%.0f p99_us=%.0f mean_us=%.0f max_us=%.0f "
      .. "connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
end
