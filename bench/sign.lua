-- wrk script: a key operation (sign) with a fixed digest; the URL names the key, ALG the
-- algorithm. TOKEN comes from the environment.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
-- SHA-256 of "coffer", base64url without padding (32 bytes: RS256 and ES256 both take it)
wrk.body = '{"alg":"' .. os.getenv("ALG") .. '","value":"SO1freZX-qdhUTkSULGJQSch1GOqyx-tcQjlwbgSC1k"}'
dofile("bench/wrk_report.lua")
