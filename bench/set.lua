-- wrk script: durable SET of a secret; each thread writes its own names so versions spread.
local counter = 0
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"value":"bench-value-0123456789abcdef0123456789abcdef"}'
request = function()
  counter = counter + 1
  local path = "/secrets/bench-set-" .. (counter % 200) .. "?api-version=7.5"
  return wrk.format(nil, path)
end
dofile("bench/wrk_report.lua")
