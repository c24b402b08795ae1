#!/usr/bin/env bash
# Production configuration suite: cofferd --config FILE (INI, [server]) with an operator's own
# certificate (made here with the openssl CLI), no dev mode. Checks: the bootstrap admin is
# printed once on first start and works; a vault made through the management API serves
# secrets; a restart keeps data and credentials and prints no new admin; a --flag overrides the
# file; bad configurations are refused with a one-line error and exit status 2.
set -uo pipefail
. "$E2E_DIR/lib.sh"

dir=$E2E_WORK/config
mkdir -p "$dir/tls"
port=$(free_port)
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

# ---- an operator's CA and server certificate (EC P-256) ----
(
    cd "$dir/tls" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=Config Test CA" -keyout ca.key -out ca.pem \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1 &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=login.localhost" \
        -keyout server.key -out server.csr >/dev/null 2>&1 &&
    printf 'subjectAltName=DNS:login.localhost,DNS:management.localhost,DNS:vault.localhost,DNS:*.vault.localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out server.pem >/dev/null 2>&1
) && pass "operator certificate made with openssl" || fail "operator certificate made with openssl"
CA=$dir/tls/ca.pem

cat >"$dir/cofferd.ini" <<INI
; Coffer production configuration used by the e2e config suite
[server]
listen = 127.0.0.1,::1
port = $port
data_dir = $dir/data
tls_cert = $dir/tls/server.pem
tls_key = $dir/tls/server.key
dns_suffix = vault.localhost
log_level = info
token_lifetime_s = 1800
INI

# start_prod OUT [extra flags...]: starts cofferd --config, waits for the log line that says it
# serves; sets PID.
start_prod() {
    local out=$1 i
    shift
    "$COFFERD" --config "$dir/cofferd.ini" "$@" >"$out" 2>"$out.log" &
    PID=$!
    for ((i = 0; i < 300; i++)); do
        grep -q "cofferd serving" "$out.log" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$out.log" | sed 's/^/  | /'
    return 1
}
stop_prod() {
    kill -TERM "$PID" 2>/dev/null
    wait "$PID"
    local st=$?
    PID=""
    expect_eq "cofferd --config exits 0 on SIGTERM" 0 "$st"
}

# ---- first start: bootstrap admin printed once ----
if start_prod "$dir/run1.out"; then pass "cofferd --config starts"; else fail "cofferd --config starts"; exit 0; fi
tenant=$(sed -n 's/^  tenant: *//p' "$dir/run1.out")
cid=$(sed -n 's/^  client id: *//p' "$dir/run1.out")
csec=$(sed -n 's/^  client secret: *//p' "$dir/run1.out")
[ -n "$tenant" ] && [ -n "$cid" ] && [ -n "$csec" ] && pass "bootstrap admin printed on first start" ||
    fail "bootstrap admin printed on first start"
[ ! -e "$dir/data/env" ] && pass "no env file in production mode" || fail "no env file in production mode"
if grep -qF -- "$csec" "$dir/run1.out.log"; then fail "admin secret not in the log"; else pass "admin secret not in the log"; fi

export COFFER_CA_FILE=$CA AZURE_AUTHORITY_HOST="https://login.localhost:$port" \
    AZURE_TENANT_ID=$tenant AZURE_CLIENT_ID=$cid AZURE_CLIENT_SECRET=$csec
mgmt="https://management.localhost:$port"
tok_m=$(get_token "$mgmt/.default")
[ -n "$tok_m" ] && pass "token for management with the bootstrap admin" || fail "token for management with the bootstrap admin"
req GET "$mgmt/subscriptions?api-version=2022-12-01" -H "Authorization: Bearer $tok_m"
expect_eq "GET /subscriptions" 200 "$CODE"
sub=$(jget "$RB" 'd["value"][0]["subscriptionId"]')
req PUT "$mgmt/subscriptions/$sub/resourceGroups/prod-rg/providers/Microsoft.KeyVault/vaults/prodvault?api-version=2023-07-01" \
    -H "Authorization: Bearer $tok_m" -H 'Content-Type: application/json' \
    -d "{\"location\":\"westus\",\"properties\":{\"tenantId\":\"$tenant\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"enableRbacAuthorization\":true}}"
expect_eq "create a vault through the management API" 201 "$CODE"
expect_eq "vaultUri carries the configured suffix and port" "https://prodvault.vault.localhost:$port/" "$(jget "$RB" 'd["properties"]["vaultUri"]')"
tok_v=$(get_token "https://vault.localhost:$port/.default")
vault="https://prodvault.vault.localhost:$port"
req PUT "$vault/secrets/conn?api-version=7.5" -H "Authorization: Bearer $tok_v" \
    -H 'Content-Type: application/json' -d '{"value":"Server=db;Password=prod-1"}'
expect_eq "set a secret in the production server" 200 "$CODE"
req GET "$vault/secrets/conn?api-version=7.5" -H "Authorization: Bearer $tok_v"
expect_eq "get it back" "Server=db;Password=prod-1" "$(jget "$RB" 'd["value"]')"
# Deny by default: a vault on the access-policy model with no policy lets nobody in, not even
# the administrator (whose Key Vault Administrator role counts only on RBAC vaults).
req PUT "$mgmt/subscriptions/$sub/resourceGroups/prod-rg/providers/Microsoft.KeyVault/vaults/policyvault?api-version=2023-07-01" \
    -H "Authorization: Bearer $tok_m" -H 'Content-Type: application/json' \
    -d "{\"location\":\"westus\",\"properties\":{\"tenantId\":\"$tenant\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"accessPolicies\":[]}}"
expect_eq "create an access-policy vault with no policy" 201 "$CODE"
req PUT "https://policyvault.vault.localhost:$port/secrets/conn?api-version=7.5" -H "Authorization: Bearer $tok_v" \
    -H 'Content-Type: application/json' -d '{"value":"nope"}'
expect_eq "no policy: the administrator is refused" 403 "$CODE"
expect_eq "... with ForbiddenByPolicy" ForbiddenByPolicy "$(jget "$RB" 'd["error"]["innererror"]["code"]')"
expect_eq "token lifetime from the config file" 1800 "$("$PY" - "$tok_v" <<'PYEOF'
import base64, json, sys
p = sys.argv[1].split(".")[1]
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
print(c["exp"] - c["iat"])
PYEOF
)"
stop_prod

# ---- restart: same data, same admin, nothing printed; a flag overrides the file ----
port2=$(free_port)
if start_prod "$dir/run2.out" --port "$port2"; then pass "restart with --port overriding the file"; else fail "restart with --port overriding the file"; exit 0; fi
if grep -q "client secret" "$dir/run2.out"; then fail "no new bootstrap admin on restart"; else pass "no new bootstrap admin on restart"; fi
export AZURE_AUTHORITY_HOST="https://login.localhost:$port2"
tok_v=$(get_token "https://vault.localhost:$port2/.default")
req GET "https://prodvault.vault.localhost:$port2/secrets/conn?api-version=7.5" -H "Authorization: Bearer $tok_v"
expect_eq "data and credentials survive the restart" "Server=db;Password=prod-1" "$(jget "$RB" 'd["value"]')"
stop_prod

# ---- bad configurations: refused, one line, exit 2 ----
bad() { # WHAT INI-TEXT [flags...]
    local what=$1 text=$2 st
    shift 2
    printf '%s\n' "$text" >"$dir/bad.ini"
    "$COFFERD" --config "$dir/bad.ini" "$@" >"$dir/bad.out" 2>"$dir/bad.err"
    st=$?
    if [ "$st" -eq 2 ] && [ "$(wc -l <"$dir/bad.err")" -ge 1 ]; then pass "$what -> exit 2 with a message"
    else fail "$what -> exit 2 with a message (exit $st)"; fi
}
bad "unknown key" "[server]
colour = blue"
bad "no certificate outside dev mode" "[server]
data_dir = $dir/bad-data"
bad "port out of range" "[server]
port = 70000"
bad "unknown flag" "[server]" --no-such-flag 1
"$COFFERD" --help >"$dir/help.out" 2>&1
expect_eq "--help exits 0" 0 "$?"
grep -q -- "--tls_cert" "$dir/help.out" && pass "--help lists the configuration keys" || fail "--help lists the configuration keys"
exit 0
