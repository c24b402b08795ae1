-- wrk script: authenticated GET (one secret, or a list page: the URL says which). TOKEN comes
-- from the environment.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
dofile("bench/wrk_report.lua")
