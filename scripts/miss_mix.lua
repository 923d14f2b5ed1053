-- A miss-heavy mix: 40% new JSON bodies (disk misses, each one written to
-- disk), 40% factorials of n from 1 to 2000 (mostly memory misses: the tier
-- keeps 100 steps), 10% memory hits and 10% disk hits.
local counter = 0
local thread_tag = 0

function setup(thread)
  thread_tag = thread_tag + 1
  thread:set("tag", thread_tag)
end

function init(args)
  math.randomseed(os.time() + tag)
end

local json_headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local pick = math.random(10)
  if pick <= 4 then
    local body = string.format('{"thread":%d,"n":%d,"t":%d}', tag, counter, os.time())
    return wrk.format("POST", "/data", json_headers, body)
  elseif pick <= 8 then
    return wrk.format("GET", "/factorial/" .. math.random(2000))
  elseif pick == 9 then
    return wrk.format("GET", "/factorial/20")
  else
    return wrk.format("POST", "/data", json_headers, '{"user":42,"items":["a","b"]}')
  end
end
