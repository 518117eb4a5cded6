-- wrk script: replays recorded Sentry /store/ bodies (gzip) round-robin over keep-alive
-- connections. args: DIR N KEY. Requests are formatted once in init, so wrk spends its CPU on
-- the socket, not on building request strings.
local reqs = {}
local idx = 0
function init(args)
  local dir, n = args[1], tonumber(args[2])
  wrk.method = "POST"
  wrk.path = "/api/1/store/"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Content-Encoding"] = "gzip"
  wrk.headers["X-Sentry-Auth"] = "Sentry sentry_key=" .. args[3] ..
      ", sentry_version=7, sentry_client=sentry.python/1.9.10"
  for i = 1, n do
    local f = assert(io.open(dir .. "/" .. i .. ".gz", "rb"))
    reqs[i] = wrk.format(nil, nil, nil, f:read("*a"))
    f:close()
  end
  idx = math.random(n)
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end

-- No response() callback: with one, wrk hands every response to Lua (costly on a shared
-- machine); summary.errors.status counts answers >= 400.
function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors_non2xx=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
