#!/usr/bin/env python3
# A webhook receiver for the events e2e suite: answers the validation handshakes (Event Grid's
# validation event, the CloudEvents OPTIONS request), records every request (headers + body) as
# one JSON line, can be told to fail (status file) or to refuse the OPTIONS grant (OUTFILE.deny).
import http.server, json, sys, os, hmac, hashlib
port, outfile, statusfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        rec = {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode()}
        with open(outfile, "a") as f:
            f.write(json.dumps(rec) + "\n")
        status = 200
        try:
            status = int(open(statusfile).read().strip())
        except Exception:
            pass
        if self.headers.get("aeg-event-type") == "SubscriptionValidation":
            ev = json.loads(body)
            if isinstance(ev, list):
                ev = ev[0]
            out = json.dumps({"validationResponse": ev["data"]["validationCode"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_OPTIONS(self):
        # the CloudEvents webhook handshake: grant by echoing WebHook-Request-Origin, unless
        # OUTFILE.deny exists (then 200 without the header: not a grant)
        rec = {"method": "OPTIONS", "headers": {k.lower(): v for k, v in self.headers.items()}, "body": ""}
        with open(outfile, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(200)
        origin = self.headers.get("WebHook-Request-Origin")
        if origin and not os.path.exists(outfile + ".deny"):
            self.send_header("WebHook-Allowed-Origin", origin)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
