-- GET /factorial/1, /factorial/2, ... /factorial/100, then 1 again, for the
-- Redis hit row of scripts/load.sh. The instance it is aimed at keeps one
-- step in memory, and every one of these is already in Redis: a request
-- finds its n last asked a hundred requests ago, long evicted from memory,
-- and is answered from Redis. Each wrk thread starts half the cycle away
-- from the other, so two connections seldom ask for the same n at once
-- (which would let one answer from the memory the other just filled).
local cycle = 100
local threads = 0

setup = function(thread)
  thread:set("offset", threads * 50)
  threads = threads + 1
end

local n = 0
init = function(args)
  n = offset or 0
end

request = function()
  n = n % cycle + 1
  return wrk.format("GET", "/factorial/" .. n)
end
