-- wrk_report.lua - shared `done` for the bench wrk scripts (loaded with dofile from the repo
-- root). wrk --latency prints 50/75/90/99 only; this adds p99.9 and prints one machine-readable
-- line: BENCH {json}. Latencies from wrk are in microseconds; printed in milliseconds.
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH {"rps": %.1f, "requests": %d, "non2xx": %d, "errors": %d, ' ..
    '"p50_ms": %.3f, "p75_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "p999_ms": %.3f, ' ..
    '"max_ms": %.3f, "duration_s": %.2f}\n',
    summary.requests / secs, summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(75) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000, secs))
end
