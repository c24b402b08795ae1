-- wrk script: authenticated GET of a random secret among NAMES secrets named PREFIX0 ..
-- PREFIX(NAMES-1) (environment), so reads spread over the whole vault rather than one hot row.
local names = tonumber(os.getenv("NAMES"))
local prefix = os.getenv("PREFIX")
local n = 0
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
function setup(thread)
  n = n + 1
  thread:set("id", n)
end
function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
end
request = function()
  return wrk.format(nil, "/secrets/" .. prefix .. math.random(0, names - 1) .. "?api-version=7.5")
end
dofile("bench/wrk_report.lua")
