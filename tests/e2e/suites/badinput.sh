#!/usr/bin/env bash
# Bad-input suite: curl (--cacert), openssl s_client and raw python sockets against one
# cofferd. Malformed bodies, limits, names, api-versions, tokens, broken TLS, odd paths; the
# server must answer each with the right status and stay up.
set -uo pipefail
. "$E2E_DIR/lib.sh"
trap e2e_cleanup EXIT

e2e_start main || exit 1
V=$COFFER_VAULT_URL
RES=$(vault_resource)
JSONCT=(-H 'Content-Type: application/json')

TOKEN=$(get_token "$RES/.default")
if [ -n "$TOKEN" ]; then pass "token from the token endpoint with curl"; else
    fail "token from the token endpoint with curl"; e2e_stop; exit 0; fi
AUTH=(-H "Authorization: Bearer $TOKEN")

# error_code: error.code of the last JSON response body
error_code() { jget "$RB" 'd["error"]["code"]'; }
json_ct() { header Content-Type | tr 'A-Z' 'a-z' | tr -d ' '; }

req PUT "$V/secrets/probe?api-version=7.4" "${AUTH[@]}" "${JSONCT[@]}" --data-binary '{"value":"probe-value"}'
expect_eq "PUT probe secret with a curl token" 200 "$CODE"

# ---- 401 challenge before anything else -------------------------------------------------
want_challenge="Bearer authorization=\"https://login.localhost:$COFFER_PORT/$AZURE_TENANT_ID\", resource=\"https://vault.localhost:$COFFER_PORT\""
req PUT "$V/secrets/probe?api-version=7.4" "${JSONCT[@]}" --data-binary ''
expect_eq "no token, bodyless PUT -> 401" 401 "$CODE"
expect_eq "401 WWW-Authenticate is exactly the challenge" "$want_challenge" "$(header WWW-Authenticate)"
expect_eq "401 body error.code" Unauthorized "$(error_code)"
expect_eq "401 Content-Type" "application/json;charset=utf-8" "$(json_ct)"
req PUT "$V/secrets/a_b?api-version=7.4" "${JSONCT[@]}" --data-binary '{not json'
expect_eq "no token + invalid name + bad JSON -> 401 (challenge first)" 401 "$CODE"
req GET "$V/secrets/probe"
expect_eq "no token + no api-version -> 401 (challenge first)" 401 "$CODE"
expect_eq "challenge on GET without api-version" "$want_challenge" "$(header WWW-Authenticate)"
req GET "$V/secrets/probe?api-version=7.4" -H "Authorization: Bearer garbage.garbage.garbage"
expect_eq "garbage token -> 401" 401 "$CODE"
expect_eq "garbage token 401 carries the challenge" "$want_challenge" "$(header WWW-Authenticate)"
req GET "$V/secrets/probe?api-version=7.4" -H "Authorization: Bearer "
expect_eq "empty bearer token -> 401" 401 "$CODE"
req GET "$V/secrets/probe?api-version=7.4" -H "Authorization: Basic $(printf 'a:b' | base64)"
expect_eq "Basic auth on the data plane -> 401" 401 "$CODE"
# Tampered signature: flip one character of the last segment.
last=${TOKEN: -2:1}
if [ "$last" = A ]; then sub=B; else sub=A; fi
tampered="${TOKEN:0:${#TOKEN}-2}$sub${TOKEN: -1}"
req GET "$V/secrets/probe?api-version=7.4" -H "Authorization: Bearer $tampered"
expect_eq "token with a tampered signature -> 401" 401 "$CODE"
# Tampered payload (aud changed) with the original signature.
forged=$("$PY" - "$TOKEN" <<'EOF'
import base64, json, sys
h, p, s = sys.argv[1].split(".")
pad = lambda x: x + "=" * (-len(x) % 4)
claims = json.loads(base64.urlsafe_b64decode(pad(p)))
claims["exp"] = int(claims.get("exp", 0)) + 86400 * 365
print(h + "." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + "." + s)
EOF
)
req GET "$V/secrets/probe?api-version=7.4" -H "Authorization: Bearer $forged"
expect_eq "token with a modified payload (exp extended) -> 401" 401 "$CODE"
# "alg":"none" token with the same claims.
nonetok=$("$PY" - "$TOKEN" <<'EOF'
import base64, sys
h, p, s = sys.argv[1].split(".")
hdr = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
print(hdr + "." + p + ".")
EOF
)
req GET "$V/secrets/probe?api-version=7.4" -H "Authorization: Bearer $nonetok"
expect_eq "alg=none token -> 401" 401 "$CODE"
MGMT_TOKEN=$(get_token "$COFFER_MANAGEMENT_URL/.default")
if [ -n "$MGMT_TOKEN" ]; then
    pass "management-audience token issued"
    req GET "$V/secrets/probe?api-version=7.4" -H "Authorization: Bearer $MGMT_TOKEN"
    expect_eq "token for another audience (management) -> 401" 401 "$CODE"
else
    fail "management-audience token issued"
fi
# Data-plane token on the management plane.
req GET "$COFFER_MANAGEMENT_URL/subscriptions?api-version=2019-11-01" "${AUTH[@]}"
expect_eq "vault-audience token on the management plane -> 401" 401 "$CODE"

# ---- token endpoint -----------------------------------------------------------------------
req POST "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" \
    --data-urlencode "client_id=$AZURE_CLIENT_ID" --data-urlencode "client_secret=wrong-$RANDOM" \
    --data-urlencode grant_type=client_credentials --data-urlencode "scope=$RES/.default"
expect_eq "wrong client secret -> 401" 401 "$CODE"
expect_eq "wrong client secret -> error invalid_client" invalid_client "$(jget "$RB" 'd["error"]')"
if grep -q -- "$AZURE_CLIENT_SECRET" "$RB" "$RH"; then fail "token error does not echo the client secret"
else pass "token error does not echo the client secret"; fi
req POST "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" \
    --data-urlencode "client_id=$AZURE_CLIENT_ID" --data-urlencode "client_secret=" \
    --data-urlencode grant_type=client_credentials --data-urlencode "scope=$RES/.default"
expect_eq "empty client secret -> 401" 401 "$CODE"
req POST "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary '%%%&&&==='
expect_in "garbage form at the token endpoint -> 400/401" "$CODE" 400 401

# ---- malformed bodies and limits ----------------------------------------------------------
for body in '{"value": "x",' '[]' '{"value": 5}' '{}' 'null' '{"value":"x","attributes":"no"}'; do
    req PUT "$V/secrets/probe?api-version=7.4" "${AUTH[@]}" "${JSONCT[@]}" --data-binary "$body"
    expect_eq "PUT body '$body' -> 400" 400 "$CODE"
    expect_eq "PUT body '$body' -> error.code BadParameter" BadParameter "$(error_code)"
done
req PUT "$V/secrets/probe?api-version=7.4" "${AUTH[@]}" "${JSONCT[@]}" --data-binary '{"value": "x",'
expect_eq "400 Content-Type is JSON" "application/json;charset=utf-8" "$(json_ct)"
req GET "$V/secrets/probe?api-version=7.4" "${AUTH[@]}"
expect_eq "failed PUTs created no version (value unchanged)" probe-value "$(jget "$RB" 'd["value"]')"

big="$E2E_WORK/$SUITE-big.json"
"$PY" -c 'import sys; sys.stdout.write("{\"value\":\"" + "A" * 300000 + "\"}")' >"$big"
req PUT "$V/secrets/probe?api-version=7.4" "${AUTH[@]}" "${JSONCT[@]}" -H 'Expect:' --data-binary "@$big"
expect_in "300 KB body -> 413 or 400" "$CODE" 413 400
case $(error_code) in ""|"<nojson>"|"<err>") fail "300 KB body: JSON error envelope (got '$(head -c 200 "$RB")')" ;;
    *) pass "300 KB body: JSON error envelope (code $(error_code))" ;; esac
hdr=$("$PY" -c 'print("X-Big: " + "b" * 20000)')
req GET "$V/secrets/probe?api-version=7.4" "${AUTH[@]}" -H "$hdr"
expect_in "20 KB header -> 431 or 400" "$CODE" 431 400
many=()
for i in $(seq 1 200); do many+=(-H "X-Many-$i: $(printf '%090d' "$i")"); done
req GET "$V/secrets/probe?api-version=7.4" "${AUTH[@]}" "${many[@]}"
expect_in "200 headers of 100 bytes (20 KB) -> 431 or 400" "$CODE" 431 400
req GET "$V/secrets/probe?api-version=7.4" "${AUTH[@]}"
expect_eq "server answers after oversize requests" 200 "$CODE"

# ---- names --------------------------------------------------------------------------------
n128=$(printf 'n%.0s' $(seq 1 128))
n127=${n128:1}
for n in a_b "$n128" 'a.b' 'caf%C3%A9'; do
    req PUT "$V/secrets/$n?api-version=7.4" "${AUTH[@]}" "${JSONCT[@]}" --data-binary '{"value":"x"}'
    expect_eq "PUT invalid name '${n:0:20}' (${#n} chars) -> 400" 400 "$CODE"
    expect_eq "PUT invalid name '${n:0:20}' -> BadParameter" BadParameter "$(error_code)"
done
req GET "$V/secrets/a_b?api-version=7.4" "${AUTH[@]}"
expect_eq "GET invalid name a_b -> 400 BadParameter" "400 BadParameter" "$CODE $(error_code)"
req PUT "$V/secrets/$n127?api-version=7.4" "${AUTH[@]}" "${JSONCT[@]}" --data-binary '{"value":"x"}'
expect_eq "PUT 127-char name -> 200" 200 "$CODE"

# ---- api-version ----------------------------------------------------------------------------
req GET "$V/secrets/probe" "${AUTH[@]}"
expect_eq "missing api-version -> 400 BadParameter" "400 BadParameter" "$CODE $(error_code)"
req GET "$V/secrets/probe?api-version=abc" "${AUTH[@]}"
expect_eq "api-version=abc -> 400 BadParameter" "400 BadParameter" "$CODE $(error_code)"
req GET "$V/secrets/probe?api-version=" "${AUTH[@]}"
expect_eq "empty api-version -> 400" 400 "$CODE"
for v in 7.9 7.4-preview.1 2025-07-01 2026-04-01 2099-12-31-preview 2016-10-01; do
    req GET "$V/secrets/probe?api-version=$v" "${AUTH[@]}"
    expect_eq "api-version=$v -> 200" 200 "$CODE"
done
req GET "$V/secrets/probe?api%2Dversion=2025-07-01" "${AUTH[@]}"
expect_eq "api%2Dversion=2025-07-01 (encoded key) -> 200" 200 "$CODE"
expect_eq "api%2Dversion: value returned" probe-value "$(jget "$RB" 'd["value"]')"

# ---- paths ----------------------------------------------------------------------------------
req GET "$V/secrets/probe/?api-version=7.4" "${AUTH[@]}"
expect_eq "GET /secrets/probe/ (trailing slash = latest) -> 200" 200 "$CODE"
expect_eq "trailing slash returns the value" probe-value "$(jget "$RB" 'd["value"]')"
req GET "$V//secrets?api-version=7.4" "${AUTH[@]}"
expect_eq "GET //secrets (double slash) -> 200" 200 "$CODE"
expect_eq "//secrets lists the probe" true "$(jget "$RB" 'any(i["id"].endswith("/secrets/probe") for i in d["value"])')"
req GET "$V//secrets/probe?api-version=7.4" "${AUTH[@]}"
expect_eq "GET //secrets/probe -> 200" 200 "$CODE"
req GET "$V/secrets/probe/versions/extra/segments?api-version=7.4" "${AUTH[@]}"
expect_in "GET with too many segments -> 400/404/405" "$CODE" 400 404 405
req GET "$V/nonsense?api-version=7.4" "${AUTH[@]}"
expect_in "GET /nonsense -> 400/404" "$CODE" 400 404
req DELETE "$V/secrets/probe/0123456789abcdef0123456789abcdef?api-version=7.4" "${AUTH[@]}"
expect_in "DELETE of a single version -> 400/404/405" "$CODE" 400 404 405
req GET "$V/secrets/probe?api-version=7.4" "${AUTH[@]}"
expect_eq "probe still there" 200 "$CODE"
req GET "https://no-such-vault.$COFFER_DNS_SUFFIX:$COFFER_PORT/secrets?api-version=7.4" "${AUTH[@]}"
expect_in "unknown vault host -> 4xx" "$CODE" 400 401 403 404
req GET "$V/secrets?api-version=7.4&maxresults=1" "${AUTH[@]}"
expect_eq "maxresults=1 -> 200" 200 "$CODE"
expect_eq "maxresults=1 -> one item" 1 "$(jget "$RB" 'len(d["value"])')"
expect_eq "maxresults=1 -> absolute nextLink on the vault host" true \
    "$(jget "$RB" 'd["nextLink"].startswith("'"$V"'/secrets?")')"

# ---- broken TLS and plain HTTP ------------------------------------------------------------
alive_check() {
    req GET "$V/secrets/probe?api-version=7.4" "${AUTH[@]}"
    expect_eq "$1: a request afterwards succeeds" 200 "$CODE"
}
curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$COFFER_PORT/secrets?api-version=7.4" 2>/dev/null
alive_check "plain HTTP to the TLS port"
timeout 2 openssl s_client -connect "127.0.0.1:$COFFER_PORT" -servername "coffer.$COFFER_DNS_SUFFIX" \
    </dev/null >/dev/null 2>&1
openssl s_client -connect "127.0.0.1:$COFFER_PORT" -ign_eof </dev/null >/dev/null 2>&1 &
sc=$!
sleep 1
kill -KILL "$sc" 2>/dev/null
wait "$sc" 2>/dev/null
alive_check "openssl s_client killed mid-session"
# Half a ClientHello on one socket, random bytes on another, 50 idle sockets: the server must
# keep serving others while they hang (and a request must not wait for their timeouts).
"$PY" - "$COFFER_PORT" "$COFFER_CA_FILE" "$V" "$TOKEN" >"$E2E_WORK/$SUITE-tls.out" 2>&1 <<'EOF'
import os, socket, ssl, sys, time, subprocess
port, ca, vurl, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="coffer.vault.localhost")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
held = []
s = socket.create_connection(("127.0.0.1", port)); s.sendall(hello[: len(hello) // 2]); held.append(s)
s = socket.create_connection(("127.0.0.1", port)); s.sendall(os.urandom(1024)); held.append(s)
s = socket.create_connection(("::1", port)); s.sendall(b"\x16\x03\x01\xff\xff"); held.append(s)
for _ in range(50):
    held.append(socket.create_connection(("127.0.0.1", port)))
t = time.time()
r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                    "--cacert", ca, "-H", "Authorization: Bearer " + token,
                    vurl + "/secrets/probe?api-version=7.4"], capture_output=True, text=True)
print("status", r.stdout.strip(), "seconds", round(time.time() - t, 2))
for s in held:
    s.close()
EOF
st=$(awk '/^status/{print $2}' "$E2E_WORK/$SUITE-tls.out")
secs=$(awk '/^status/{print $4}' "$E2E_WORK/$SUITE-tls.out")
expect_eq "request served while half ClientHello/garbage/50 idle sockets are held" 200 "$st"
if [ -n "$secs" ] && "$PY" -c "import sys; sys.exit(0 if float('$secs') < 5 else 1)"; then
    pass "that request took < 5 s ($secs s)"
else
    fail "that request took < 5 s (took '${secs:-?}' s)"
fi
alive_check "after the held sockets closed"

# Truncated TLS: the ClientHello cut mid-record, then close.
"$PY" - "$COFFER_PORT" <<'EOF'
import socket, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context()
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="login.localhost")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
for cut in (1, 5, 40, len(hello) - 1):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(hello[:cut]); s.close()
EOF
alive_check "truncated ClientHellos"

# A TLS session that sends a request head and vanishes mid-body.
"$PY" - "$COFFER_PORT" "$COFFER_CA_FILE" "coffer.$COFFER_DNS_SUFFIX" "$TOKEN" <<'EOF'
import socket, ssl, sys
port, ca, host, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=host)
s.sendall((f"PUT /secrets/halfbody?api-version=7.4 HTTP/1.1\r\nHost: {host}:{port}\r\n"
           f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
           "Content-Length: 1000\r\n\r\n{\"value\":\"abc").encode())
s.close()
EOF
alive_check "client vanished mid-body"
req GET "$V/secrets/halfbody?api-version=7.4" "${AUTH[@]}"
expect_eq "the half-sent PUT created nothing" 404 "$CODE"

# Pipelined keep-alive requests on one connection both get answers.
pipe=$("$PY" - "$COFFER_PORT" "$COFFER_CA_FILE" "coffer.$COFFER_DNS_SUFFIX" "$TOKEN" <<'EOF'
import socket, ssl, sys
port, ca, host, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=host)
one = (f"GET /secrets/probe?api-version=7.4 HTTP/1.1\r\nHost: {host}:{port}\r\n"
       f"Authorization: Bearer {token}\r\n\r\n")
s.sendall((one * 2).encode())
s.settimeout(10)
data = b""
try:
    while data.count(b"probe-value") < 2:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except Exception:
    pass
print(data.count(b"HTTP/1.1 200"))
EOF
)
expect_eq "two pipelined requests on one connection -> two 200s" 2 "$pipe"

# ---- the end: still alive -----------------------------------------------------------------
if kill -0 "$SRV_PID" 2>/dev/null; then pass "cofferd process alive after the bad input"; else
    fail "cofferd process alive after the bad input"; fi
alive_check "end of suite"
e2e_stop
exit 0
