#!/usr/bin/env bash
# oidc suite: trust in an external OIDC issuer, and token signing key rotation.
#
# The test plays two issuers (python3 + cryptography): "corp" with an RSA and an EC key in a
# JWKS file (the trusted_issuer* keys of [server]), and "web" with its JWKS served over https
# (an [issuer.web] section; a python https server using the dev server certificate, ca_file
# the dev CA). cofferd trusts both; a Secrets User assignment names the external oid
# (coffer role assignment create --assignee-object-id); tokens the test signs read a secret
# (RS256, PS256, ES256, and a group from the "groups" claim); an untrusted issuer, a wrong
# audience, an expired token and an unknown kid get 401, and a principal without a role 403.
# Then `coffer ad signing-key rotate`: old and new tokens both work, JWKS lists both kids.
set -uo pipefail
. "$E2E_DIR/lib.sh"
D="$E2E_WORK/$SUITE-idp"
CFG="$E2E_WORK/$SUITE-config"
WEB_PID=""
trap 'e2e_cleanup; [ -n "$WEB_PID" ] && kill "$WEB_PID" 2>/dev/null; rm -rf "$CFG"' EXIT
mkdir -p "$D" "$CFG"
CO="$E2E_WORK/$SUITE.cli.out"
CE="$E2E_WORK/$SUITE.cli.err"

c() {
    COFFER_CONFIG_DIR=$CFG timeout 60 "$COFFER" "$@" >"$CO" 2>"$CE"
    RC=$?
    { echo "### coffer $*"; cat "$CO" "$CE"; } >>"$E2E_WORK/$SUITE.cli.log"
}
c_ok() {
    if [ "$RC" -eq 0 ]; then pass "$1"; else
        fail "$1 (exit $RC: $(head -c 300 "$CE" | tr '\n' ' '))"; fi
}
q() { jget "$CO" "$1"; }

# ---- the issuers' keys and JWKS ------------------------------------------------------------
cat >"$D/idp.py" <<'PYEOF'
import base64, json, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def n2b(n): return n.to_bytes((n.bit_length() + 7) // 8, "big")

def load(path): return serialization.load_pem_private_key(open(path, "rb").read(), None)

def jwk(key, kid):
    pub = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        return {"kty": "RSA", "use": "sig", "kid": kid, "n": b64(n2b(pub.n)), "e": b64(n2b(pub.e))}
    return {"kty": "EC", "use": "sig", "kid": kid, "crv": "P-256",
            "x": b64(pub.x.to_bytes(32, "big")), "y": b64(pub.y.to_bytes(32, "big"))}

def keys(d):
    made = {"rsa": rsa.generate_private_key(65537, 2048), "ec": ec.generate_private_key(ec.SECP256R1()),
            "web": ec.generate_private_key(ec.SECP256R1()), "evil": rsa.generate_private_key(65537, 2048)}
    for name, k in made.items():
        open(f"{d}/{name}.pem", "wb").write(k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    json.dump({"keys": [jwk(made["rsa"], "rsa1"), jwk(made["ec"], "ec1"),
                        {"kty": "oct", "kid": "skip-me", "k": "AAAA"}]}, open(f"{d}/corp-jwks.json", "w"))
    json.dump({"keys": [jwk(made["web"], "web1")]}, open(f"{d}/web-jwks.json", "w"))

def token(keyfile, alg, kid, iss, aud, exp_in, oid, groups):
    key = load(keyfile)
    now = int(time.time())
    hdr = {"alg": alg, "typ": "JWT", "kid": kid}
    body = {"iss": iss, "aud": aud, "iat": now, "nbf": now, "exp": now + int(exp_in), "oid": oid,
            "sub": oid, "tid": "external-tenant", "azp": "e2e-idp-client"}
    if groups: body["groups"] = groups.split(",")
    si = (b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(body).encode())).encode()
    if alg == "RS256": sig = key.sign(si, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "PS256": sig = key.sign(si, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    else:
        r, s = utils.decode_dss_signature(key.sign(si, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    print(si.decode() + "." + b64(sig))

if sys.argv[1] == "keys": keys(sys.argv[2])
else: token(*sys.argv[2:10])
PYEOF
if "$PY" "$D/idp.py" keys "$D"; then pass "issuer keys and JWKS made (python3 cryptography)"; else
    fail "issuer keys and JWKS made (python3 cryptography)"; exit 0; fi

CORP=https://idp.corp.test/realms/e2e
WEB=https://idp-web.test/tenant-1
AUD=api://coffer-e2e
OID=5e1c3a9d-0e2e-4e2e-8e2e-00000000e2e5
OID2=5e1c3a9d-0e2e-4e2e-8e2e-00000000e2e6
GRP=5e1c3a9d-0e2e-4e2e-8e2e-00000000e2e7
NOBODY=5e1c3a9d-0e2e-4e2e-8e2e-00000000e2e8
# tok KEY ALG KID ISS AUD EXP_IN OID [GROUPS]
tok() { "$PY" "$D/idp.py" token "$D/$1.pem" "$2" "$3" "$4" "$5" "$6" "$7" "${8:-}"; }

# ---- a first start makes the data dir and its TLS material (the web issuer serves with it) ---
DATA="$E2E_WORK/$SUITE-data"
PORT=$(free_port)
e2e_start pre "$DATA" "$PORT" || exit 0
e2e_stop
WEB_PORT=$(free_port)
cp "$D/web-jwks.json" "$D/jwks"
cat >"$D/web.py" <<'PYEOF'
import http.server, ssl, sys, os
os.chdir(sys.argv[1])
srv = http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PYEOF
"$PY" "$D/web.py" "$D" "$WEB_PORT" "$DATA/tls/server.pem" "$DATA/tls/server.key" \
    2>"$E2E_WORK/$SUITE-web.log" &
WEB_PID=$!
for ((i = 0; i < 50; i++)); do
    curl -s --cacert "$DATA/tls/ca.pem" -o /dev/null "https://localhost:$WEB_PORT/jwks" && break
    sleep 0.1
done

cat >"$D/cofferd.ini" <<INI
[server]
trusted_issuer = $CORP
trusted_issuer_jwks = $D/corp-jwks.json
trusted_issuer_audience = $AUD

[issuer.web]
issuer = $WEB
jwks = https://localhost:$WEB_PORT/jwks
audience = $AUD
ca_file = $DATA/tls/ca.pem
INI
e2e_start main "$DATA" "$PORT" --config "$D/cofferd.ini" --token-lifetime-s 600 || exit 0
grep -q "trusting issuer $CORP: 2 key(s)" "$SRV_LOG" && pass "file JWKS loaded (oct key skipped)" ||
    fail "file JWKS loaded (oct key skipped)"
grep -q "trusting issuer $WEB: 1 key(s)" "$SRV_LOG" && pass "https JWKS fetched with the dev CA" ||
    fail "https JWKS fetched with the dev CA"

# ---- a vault, a secret, roles for the external principals --------------------------------
c login
c_ok "admin login"
c keyvault create --name oidc-vault --resource-group oidc-rg --location westus
c_ok "keyvault create"
VID=$(q 'd["id"]')
c keyvault secret set --vault-name oidc-vault --name s1 --value from-coffer -o none
c_ok "secret set"
c role assignment create --role "Key Vault Secrets User" --assignee-object-id "$OID" \
    --assignee-principal-type User --scope "$VID"
c_ok "role assignment for the external oid"
c role assignment create --role "Key Vault Secrets User" --assignee-object-id "$GRP" \
    --assignee-principal-type Group --scope "$VID"
c_ok "role assignment for an external group"
c role assignment create --role "Key Vault Secrets User" --assignee-object-id "$OID2" \
    --assignee-principal-type User --scope "$VID"
c_ok "role assignment for the web issuer's principal"

URL="https://oidc-vault.$COFFER_DNS_SUFFIX:$COFFER_PORT/secrets/s1?api-version=7.5"
# A token that could not be made must not pass a "401" check by accident.
get_with() {
    if [ -z "$1" ]; then CODE=no-token; return; fi
    req GET "$URL" -H "Authorization: Bearer $1"
}

for alg in RS256 PS256; do
    get_with "$(tok rsa $alg rsa1 "$CORP" "$AUD" 600 "$OID")"
    expect_eq "$alg token of the trusted issuer reads the secret" "200 from-coffer" "$CODE $(jget "$RB" 'd.get("value")')"
done
get_with "$(tok ec ES256 ec1 "$CORP" "$AUD" 600 "$OID")"
expect_eq "ES256 token of the trusted issuer reads the secret" 200 "$CODE"
get_with "$(tok ec ES256 ec1 "$CORP" "$AUD" 600 "$NOBODY" "$GRP")"
expect_eq "an external principal in an assigned group (groups claim)" 200 "$CODE"
get_with "$(tok web ES256 web1 "$WEB" "$AUD" 600 "$OID2")"
expect_eq "token of the issuer with an https JWKS" 200 "$CODE"
get_with "$(tok ec ES256 ec1 "$CORP" "$AUD" 600 "$NOBODY")"
expect_eq "a valid external token without a role: 403" 403 "$CODE"

get_with "$(tok evil RS256 rsa1 https://evil.test/realms/e2e "$AUD" 600 "$OID")"
expect_eq "untrusted issuer: 401" 401 "$CODE"
get_with "$(tok evil RS256 rsa1 "$CORP" "$AUD" 600 "$OID")"
expect_eq "trusted iss, signed by another key: 401" 401 "$CODE"
get_with "$(tok rsa RS256 rsa1 "$CORP" api://someone-else 600 "$OID")"
expect_eq "wrong audience: 401" 401 "$CODE"
get_with "$(tok rsa RS256 rsa1 "$CORP" "$AUD" -600 "$OID")"
expect_eq "expired: 401" 401 "$CODE"
get_with "$(tok rsa RS256 rsa-unknown "$CORP" "$AUD" 600 "$OID")"
expect_eq "unknown kid: 401" 401 "$CODE"
get_with "$(tok web ES256 web1 "$CORP" "$AUD" 600 "$OID")"
expect_eq "another issuer's key under this issuer's name: 401" 401 "$CODE"

# ---- signing key rotation ------------------------------------------------------------------
old=$(get_token "$(vault_resource)/.default")
c ad signing-key list
c_ok "ad signing-key list"
kid0=$(q 'd[0]["kid"]')
expect_eq "one signing key, active" "1 True" "$(q 'str(len(d)) + " " + str(d[0]["active"])')"
c ad signing-key rotate
c_ok "ad signing-key rotate"
kid1=$(q 'd["kid"]')
[ -n "$kid1" ] && [ "$kid1" != "$kid0" ] && pass "rotation made a new kid" || fail "rotation made a new kid"
new=$(get_token "$(vault_resource)/.default")
expect_eq "new tokens carry the new kid" "$kid1" "$("$PY" -c 'import base64,json,sys; h=sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h+"="*(-len(h)%4)))["kid"])' "$new")"
get_with "$old"
expect_eq "a token of the retired key still works" 200 "$CODE"
get_with "$new"
expect_eq "a token of the new key works" 200 "$CODE"
req GET "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/discovery/v2.0/keys"
expect_eq "JWKS lists both kids, the new one first" "$kid1 $kid0" "$(jget "$RB" '" ".join(k["kid"] for k in d["keys"])')"
c ad signing-key list
expect_eq "signing-key list: new active, old retired with retireAfter" "$kid1 True $kid0 False True" \
    "$(q 'd[0]["kid"] + " " + str(d[0]["active"]) + " " + d[1]["kid"] + " " + str(d[1]["active"]) + " " + str(d[1]["retireAfter"] is not None)')"
e2e_stop
e2e_start restart "$DATA" "$PORT" --config "$D/cofferd.ini" --token-lifetime-s 600 || exit 0
req GET "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/discovery/v2.0/keys"
expect_eq "after a restart JWKS still lists both" "$kid1 $kid0" "$(jget "$RB" '" ".join(k["kid"] for k in d["keys"])')"
get_with "$old"
expect_eq "after a restart the retired key's token still works" 200 "$CODE"
e2e_stop

# ---- bad issuer configuration: refused at start --------------------------------------------
printf '[issuer.x]\nissuer = %s\naudience = %s\n' "$CORP" "$AUD" >"$D/bad.ini"
"$COFFERD" --dev --data-dir "$DATA" --port "$PORT" --config "$D/bad.ini" >/dev/null 2>"$D/bad.err"
st=$?
[ "$st" -ne 0 ] && grep -q "jwks" "$D/bad.err" && pass "issuer without jwks refused at start" ||
    fail "issuer without jwks refused at start (exit $st)"
