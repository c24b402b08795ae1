-- wrk script: authenticated GET of one secret. TOKEN comes from the environment.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
