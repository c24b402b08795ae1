-- wrk script: authenticated GET of secret "s" in a random one of VAULTS vaults named
-- VPREFIX0 .. VPREFIX(VAULTS-1) (environment); the vault is chosen by the Host header on one
-- connection (the certificate covers *.SUFFIX). PORT and SUFFIX complete the host name.
local vaults = tonumber(os.getenv("VAULTS"))
local vprefix = os.getenv("VPREFIX")
local tail = "." .. os.getenv("SUFFIX") .. ":" .. os.getenv("PORT")
local auth = "Bearer " .. os.getenv("TOKEN")
local n = 0
function setup(thread)
  n = n + 1
  thread:set("id", n)
end
function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
end
request = function()
  local h = { Authorization = auth, Host = vprefix .. math.random(0, vaults - 1) .. tail }
  return wrk.format("GET", "/secrets/s?api-version=7.5", h)
end
dofile("bench/wrk_report.lua")
