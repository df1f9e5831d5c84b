-- wrk script for examples/http-api: 60% POST /transfer between random
-- bands of the 100 seeded ones, 2% POST /bands (new names), the rest
-- GET /bands?limit=20. done() prints one line load.sh parses.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(tid * 7919 + os.time())
end

local json = { ["Content-Type"] = "application/json" }

function request()
  local r = math.random(100)
  if r <= 60 then
    local from = math.random(100)
    local to = math.random(99)
    if to >= from then to = to + 1 end
    return wrk.format("POST", "/transfer", json,
      string.format('{"from":%d,"to":%d,"amount":%d}', from, to, math.random(50)))
  elseif r <= 62 then
    counter = counter + 1
    return wrk.format("POST", "/bands", json,
      string.format('{"name":"band %d-%d"}', tid, counter))
  end
  return wrk.format("GET", "/bands?limit=20")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout, e.status))
end
