-- wrk script: replays recorded Sentry /store/ bodies (gzip) round-robin over keep-alive
-- connections. args: DIR N KEY
local bodies = {}
local idx = 0
function init(args)
  local dir, n = args[1], tonumber(args[2])
  for i = 1, n do
    local f = assert(io.open(dir .. "/" .. i .. ".gz", "rb"))
    bodies[i] = f:read("*a")
    f:close()
  end
  wrk.method = "POST"
  wrk.path = "/api/1/store/"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Content-Encoding"] = "gzip"
  wrk.headers["X-Sentry-Auth"] = "Sentry sentry_key=" .. args[3] ..
      ", sentry_version=7, sentry_client=sentry.python/1.9.10"
  idx = math.random(n)
end

function request()
  idx = idx % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[idx])
end

local non200 = 0
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors_non2xx=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
