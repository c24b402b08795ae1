-- wrk script: token issuance, client_credentials with the dev admin (form body, like the
-- Azure SDKs send). AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and SCOPE come from
-- the environment; the URL is the authority host.
local function enc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
wrk.method = "POST"
wrk.path = "/" .. os.getenv("AZURE_TENANT_ID") .. "/oauth2/v2.0/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=" .. enc(os.getenv("AZURE_CLIENT_ID")) ..
  "&client_secret=" .. enc(os.getenv("AZURE_CLIENT_SECRET")) .. "&scope=" .. enc(os.getenv("SCOPE"))
dofile("bench/wrk_report.lua")
