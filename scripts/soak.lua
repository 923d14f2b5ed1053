-- Mixed workload for scripts/soak.sh: memory hits and misses, disk hits and
-- misses, stats reads, a few intentionally bad requests and occasional
-- clears. Each wrk thread runs its own copy of this script.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_id", #threads)
end

function init(args)
   math.randomseed(os.time() * 1000 + (thread_id or 0))
   sequence = 0
   answered_2xx = 0
   intended_400 = 0
   unintended = 0
end

local json = { ["Content-Type"] = "application/json" }

function request()
   local roll = math.random(10000)
   if roll <= 4000 then
      -- Memory hits: a few small n, asked again and again.
      return wrk.format("GET", "/factorial/" .. math.random(0, 60))
   elseif roll <= 5000 then
      -- Memory misses: spread wide enough that the LRU cannot hold them.
      return wrk.format("GET", "/factorial/" .. math.random(150, 800))
   elseif roll <= 8000 then
      -- Disk hits: twenty bodies, asked again and again.
      return wrk.format("POST", "/data", json, '{"user":' .. math.random(1, 20) .. '}')
   elseif roll <= 9500 then
      -- Disk misses: a body never sent before, of varying size.
      sequence = sequence + 1
      local body = string.format('{"thread":%d,"seq":%d,"pad":"%s"}',
         thread_id or 0, sequence, string.rep("x", math.random(0, 1500)))
      return wrk.format("POST", "/data", json, body)
   elseif roll <= 9900 then
      return wrk.format("GET", "/stats")
   elseif roll <= 9998 then
      -- Intended refusals: the only 400s this workload should see.
      return wrk.format("GET", "/factorial/-1")
   else
      return wrk.format("POST", "/clear-cache")
   end
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      answered_2xx = answered_2xx + 1
   elseif status == 400 then
      intended_400 = intended_400 + 1
   else
      unintended = unintended + 1
   end
end

function done(summary, latency, requests)
   local ok, bad, other = 0, 0, 0
   for _, thread in ipairs(threads) do
      ok = ok + thread:get("answered_2xx")
      bad = bad + thread:get("intended_400")
      other = other + thread:get("unintended")
   end
   io.write(string.format("requests           %d in %.1f s (%.0f/s)\n",
      summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
   io.write(string.format("2xx                %d\n", ok))
   io.write(string.format("intended 400       %d\n", bad))
   io.write(string.format("socket errors      connect %d, read %d, write %d, timeout %d\n",
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
   for _, p in ipairs({ 50, 90, 99, 99.9 }) do
      io.write(string.format("latency p%-5s     %.2f ms\n", p, latency:percentile(p) / 1000))
   end
   io.write(string.format("latency max        %.2f ms\n", latency.max / 1000))
   io.write(string.format("UNINTENDED_NON_2XX=%d\n", other))
   io.write(string.format("SOCKET_ERRORS=%d\n", summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
