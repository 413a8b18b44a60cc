-- wrk script for scripts/soak.sh: mixes GET /healthz with GET /bench and
-- counts every response status, per thread, for the report.
--
-- One request in BENCH_EVERY goes to /bench (a short run); the rest are
-- /healthz. /bench answers 429 while another run holds the only slot,
-- which is designed behaviour and is counted as such.

local BENCH_EVERY = 10
local BENCH_PATH = "/bench?threads=2&iterations=20000"

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   statuses = {}
   sent = 0
end

function request()
   sent = sent + 1
   if sent % BENCH_EVERY == 0 then
      return wrk.format("GET", BENCH_PATH)
   end
   return wrk.format("GET", "/healthz")
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local total = {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         total[status] = (total[status] or 0) + count
      end
   end
   local keys = {}
   for status in pairs(total) do
      table.insert(keys, status)
   end
   table.sort(keys)
   for _, status in ipairs(keys) do
      io.write(string.format("soak-status %d %d\n", status, total[status]))
   end
   local e = summary.errors
   io.write(string.format("soak-summary requests %d duration_us %d connect %d read %d write %d timeout %d\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout))
   io.write(string.format("soak-latency p50_ms %.2f p99_ms %.2f max_ms %.2f\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
