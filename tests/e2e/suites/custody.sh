#!/usr/bin/env bash
# custody suite (issue 12, key custody): master-key providers on dev servers.
#   shamir  COFFER_CUSTODY=shamir: starts uninitialised (503), `coffer operator init` prints 5
#           shares, still sealed (503, health "sealed"); a mistyped share and a foreign one are
#           refused; 3 of 5 unseal; a secret is written; `operator seal` -> 503 with the sealed
#           message; a different 3 of 5 unseal the same process (re-executed) and the secret reads.
#   pkcs11  COFFER_CUSTODY=pkcs11 on a SoftHSM2 token made here: unsealed at start, a secret is
#           written, restart -> unseals itself, the secret reads; no master.key left in the dir.
#   rotate  (both providers) secrets in two vaults and a backup, then `coffer operator
#           rotate-master-key`: shamir prints 5 new shares; every secret still reads, the
#           pre-rotation backup restores; shamir: after a seal the old shares are refused and 3
#           new ones unseal; after a restart (new shares / the token) everything is served; the
#           audit chain and its checkpoint signatures verify across the rotation; pkcs11: two
#           more rotations while a reader and a writer keep going fail no request. shamir: the
#           old shares unseal until `rotate-master-key --confirm`, then are refused.
#   crash   COFFER_TEST_CRASH_AT makes cofferd _exit(137) at a point of the rotation: for each
#           point (rotate-pending, rotate-rewrap, rotate-custody, settle-custody, and shamir's
#           confirm-custody) cofferd is killed there, restarted, unsealed with the shares the
#           operators have (the OLD ones; pkcs11: by itself): the secrets read, shamir shows the
#           new shares once the rotation reached the store, those unseal after a seal, the old
#           ones are refused afterwards, and the pending record (meta custody.pending_master)
#           is gone when it should be.
set -uo pipefail
. "$E2E_DIR/lib.sh"

dir=$E2E_WORK/custody
rm -rf "$dir"
mkdir -p "$dir"
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

start() { # start <name> <port> [env...]: cofferd --dev in $dir/<name>
    local name=$1 port=$2
    shift 2
    env "$@" "$COFFERD" --dev --data-dir "$dir/$name" --port "$port" \
        >>"$dir/$name.out" 2>>"$E2E_WORK/$SUITE-main.$name.log" &
    PID=$!
}
wait_for() { # wait_for <file-or-socket>
    for _ in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.1; done
    return 1
}
code() { curl -sk -o "$dir/body" -w '%{http_code}' --cacert "$1" "$2"; }
op() { "$COFFER" operator "$@" -o json; }
share() { python3 -c "import json,sys;print(json.load(open('$dir/shares.json'))['shares'][$1])"; }
has() { case "$3" in *"$2"*) pass "$1" ;; *) fail "$1 (no '$2' in '$3')" ;; esac; }
jf() { python3 -c "import json,sys;print(json.load(open(sys.argv[1])).get(sys.argv[2],''))" "$1" "$2" 2>/dev/null; }
secret_env() { ( . "$1/env"; export AZURE_CONFIG_DIR="$1/cli"; shift; "$COFFER" "$@" ); }
nshare() { python3 -c "import json,sys;print(json.load(open('$dir/newshares.json'))['shares'][$1])"; }
val() { secret_env "$dir/$1" keyvault secret show --vault-name "$2" -n "$3" --query value -o tsv 2>/dev/null; }

# ---- master-key rotation, shared by the providers ----
# rot_prepare <name>: a second vault, a secret in each, a backup of the first secret.
rot_prepare() {
    local n=$1
    secret_env "$dir/$n" keyvault create --name rot2 --resource-group rot-rg --location westus >/dev/null 2>&1
    expect_eq "$n: second vault created" 0 "$?"
    expect_eq "$n: secret in vault 1" "v1-$n" "$(secret_env "$dir/$n" keyvault secret set --vault-name coffer -n r1 --value "v1-$n" --query value -o tsv 2>/dev/null)"
    expect_eq "$n: secret in vault 2" "v2-$n" "$(secret_env "$dir/$n" keyvault secret set --vault-name rot2 -n r2 --value "v2-$n" --query value -o tsv 2>/dev/null)"
    secret_env "$dir/$n" keyvault secret backup --vault-name coffer --name r1 --file "$dir/$n-r1.bak" >/dev/null 2>&1
    expect_eq "$n: backup taken before the rotation" 0 "$?"
}
# rot_read <name> <when>: every secret reads (both vaults, and the older one of the provider).
rot_read() {
    expect_eq "$1: $2: vault 1 secret" "v1-$1" "$(val "$1" coffer r1)"
    expect_eq "$1: $2: vault 2 secret" "v2-$1" "$(val "$1" rot2 r2)"
    expect_eq "$1: $2: secret from before" "$3" "$(val "$1" coffer "$4")"
}
# rot_restore <name>: the pre-rotation backup restores (into the second vault: r1 is new there).
rot_restore() {
    secret_env "$dir/$1" keyvault secret restore --vault-name rot2 --file "$dir/$1-r1.bak" >/dev/null 2>&1
    expect_eq "$1: pre-rotation backup restores" 0 "$?"
    expect_eq "$1: restored value" "v1-$1" "$(val "$1" rot2 r1)"
}
# rot_audit <name>: after a clean stop, the chain links and checkpoint signatures verify.
rot_audit() {
    timeout 60 "$COFFER" audit verify --dir "$dir/$1/audit" --public-key "$dir/$1/audit/audit-signing-key.jwk" >"$dir/$1-verify.out" 2>&1
    expect_eq "$1: coffer audit verify across the rotation" 0 "$?"
}

# ---- shamir ----
port=$(free_port)
start shamir "$port" COFFER_CUSTODY=shamir
S=$dir/shamir/custody.sock
wait_for "$S" && pass "shamir: custody socket up" || fail "shamir: custody socket up"
wait_for "$dir/shamir/tls/ca.pem"
CA=$dir/shamir/tls/ca.pem
for _ in $(seq 1 50); do [ "$(code "$CA" "https://localhost:$port/healthz")" != 000 ] && break; sleep 0.1; done
expect_eq "uninitialised: data request 503" 503 "$(code "$CA" "https://coffer.vault.localhost:$port/secrets?api-version=7.4")"
has "uninitialised: says run init" "coffer operator init" "$(cat "$dir/body")"
op status --socket "$S" >"$dir/st.json"
expect_eq "status: uninitialised" uninitialised "$(jf "$dir/st.json" state)"
op init --socket "$S" --shares 5 --threshold 3 >"$dir/shares.json" 2>/dev/null
expect_eq "init prints 5 shares" 5 "$(python3 -c "import json;print(len(json.load(open('$dir/shares.json'))['shares']))")"
expect_eq "init twice refused" 1 "$(op init --socket "$S" >/dev/null 2>&1; echo $?)"
expect_eq "sealed: data request 503" 503 "$(code "$CA" "https://coffer.vault.localhost:$port/secrets?api-version=7.4")"
has "sealed: Azure-shaped error" '"code":"ServiceUnavailable"' "$(cat "$dir/body")"
has "sealed: says how to unseal" "coffer operator unseal" "$(cat "$dir/body")"
expect_eq "sealed: token endpoint 503" 503 "$(code "$CA" "https://login.localhost:$port/common/v2.0/.well-known/openid-configuration")"
expect_eq "sealed: healthz 503" 503 "$(code "$CA" "https://localhost:$port/healthz")"
has "sealed: healthz says sealed" '"sealed":true' "$(cat "$dir/body")"
bad=$(share 0 | sed 's/^\(.\{10\}\)./\1Z/;s/^\(.\{10\}\)Z\(.*\)$/\1Y\2/')
expect_eq "mistyped share refused" 1 "$(op unseal --socket "$S" --share "${bad}x" >/dev/null 2>&1; echo $?)"
share 1 | op unseal --socket "$S" >"$dir/u.json"
expect_eq "share from stdin: 1 of 3" 1 "$(jf "$dir/u.json" have)"
expect_eq "same share twice refused" 1 "$(op unseal --socket "$S" --share "$(share 1)" >/dev/null 2>&1; echo $?)"
op unseal --socket "$S" --share "$(share 3)" >/dev/null
op unseal --socket "$S" --share "$(share 4)" >"$dir/u.json"
expect_eq "3 of 5 unseal" unsealed "$(jf "$dir/u.json" state)"
wait_for "$dir/shamir/env" && pass "shamir: serving after unseal" || fail "shamir: serving after unseal"
secret_env "$dir/shamir" login >/dev/null 2>&1
expect_eq "secret set" sealed-value "$(secret_env "$dir/shamir" keyvault secret set --vault-name coffer -n c1 --value sealed-value --query value -o tsv 2>/dev/null)"
op seal --socket "$S" >/dev/null
sleep 1.5
expect_eq "after seal: 503" 503 "$(code "$CA" "https://coffer.vault.localhost:$port/secrets?api-version=7.4")"
has "after seal: sealed message" "The server is sealed" "$(cat "$dir/body")"
kill -0 "$PID" 2>/dev/null && pass "seal keeps the process (re-exec)" || fail "seal keeps the process (re-exec)"
rm -f "$dir/shamir/env"
for i in 0 2 3; do op unseal --socket "$S" --share "$(share $i)" >"$dir/u.json"; done
expect_eq "another 3 of 5 unseal" unsealed "$(jf "$dir/u.json" state)"
wait_for "$dir/shamir/env"
expect_eq "secret readable after re-unseal" sealed-value "$(secret_env "$dir/shamir" keyvault secret show --vault-name coffer -n c1 --query value -o tsv 2>/dev/null)"
grep -q "$(share 0)" "$dir/shamir/custody.json" "$E2E_WORK/$SUITE-main.shamir.log" &&
    fail "no share in the state file or the log" || pass "no share in the state file or the log"

# ---- shamir: rotate-master-key ----
rot_prepare shamir
op rotate-master-key --socket "$S" >"$dir/newshares.json" 2>"$dir/rotate.err"
expect_eq "shamir: rotate-master-key succeeds" 0 "$?"
expect_eq "shamir: rotation prints 5 new shares" 5 "$(python3 -c "import json;print(len(json.load(open('$dir/newshares.json'))['shares']))" 2>/dev/null)"
has "shamir: says to confirm once the new shares are given out" "rotate-master-key --confirm" "$(cat "$dir/rotate.err")"
op status --socket "$S" >"$dir/st.json"
expect_eq "shamir: status says the rotation is unconfirmed" True "$(jf "$dir/st.json" rotation_unconfirmed)"
expect_eq "shamir: a second rotation before the confirm is refused" 1 "$(op rotate-master-key --socket "$S" >/dev/null 2>&1; echo $?)"
[ "$(nshare 0)" != "$(share 0)" ] && pass "shamir: the new shares differ" || fail "shamir: the new shares differ"
rot_read shamir "after rotation (no restart)" sealed-value c1
rot_restore shamir
expect_eq "shamir: a secret written after the rotation" after-rot "$(secret_env "$dir/shamir" keyvault secret set --vault-name rot2 -n r3 --value after-rot --query value -o tsv 2>/dev/null)"
op rotate-master-key --socket "$S" --confirm >/dev/null 2>&1
expect_eq "shamir: rotate-master-key --confirm" 0 "$?"
op status --socket "$S" >"$dir/st.json"
expect_eq "shamir: confirmed" "" "$(jf "$dir/st.json" rotation_unconfirmed)"
op seal --socket "$S" >/dev/null
sleep 1.5
rm -f "$dir/shamir/env"
expect_eq "shamir: an old share is refused after the rotation" 1 "$(op unseal --socket "$S" --share "$(share 0)" >/dev/null 2>&1; echo $?)"
for i in 1 2 4; do op unseal --socket "$S" --share "$(nshare $i)" >"$dir/u.json"; done
expect_eq "shamir: 3 new shares unseal" unsealed "$(jf "$dir/u.json" state)"
wait_for "$dir/shamir/env"
rot_read shamir "after seal + new shares" sealed-value c1
cleanup
PID=""
rot_audit shamir
rm -f "$dir/shamir/env"
start shamir "$port" COFFER_CUSTODY=shamir
wait_for "$S"
for _ in $(seq 1 50); do [ "$(code "$CA" "https://localhost:$port/healthz")" != 000 ] && break; sleep 0.1; done
expect_eq "shamir: restart: old shares refused" 1 "$(op unseal --socket "$S" --share "$(share 2)" >/dev/null 2>&1; echo $?)"
for i in 0 3 4; do op unseal --socket "$S" --share "$(nshare $i)" >"$dir/u.json"; done
expect_eq "shamir: restart: new shares unseal" unsealed "$(jf "$dir/u.json" state)"
wait_for "$dir/shamir/env" && pass "shamir: restart: serving" || fail "shamir: restart: serving"
rot_read shamir "after restart" sealed-value c1
expect_eq "shamir: restart: restored and later secrets" "v1-shamir after-rot" "$(val shamir rot2 r1) $(val shamir rot2 r3)"
grep -q "$(nshare 0)" "$dir/shamir/custody.json" "$E2E_WORK/$SUITE-main.shamir.log" &&
    fail "shamir: no new share in the state file or the log" || pass "shamir: no new share in the state file or the log"
cleanup
PID=""

# ---- rotation crash points (COFFER_TEST_CRASH_AT) ----
sh_of() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['shares'][int(sys.argv[2])])" "$1" "$2" 2>/dev/null; }
nshares_of() { python3 -c "import json,sys;print(len(json.load(open(sys.argv[1])).get('shares',[])))" "$1" 2>/dev/null; }
unseal_with() { # unseal_with <sock> <shares.json> <answer.json> i...
    local s=$1 f=$2 o=$3
    shift 3
    for i in "$@"; do op unseal --socket "$s" --share "$(sh_of "$f" "$i")" >"$o" 2>/dev/null; done
}
pending_rows() { # the pending record's rows in the data dir's store
    /usr/bin/python3 - "$dir/$1" <<'PY'
import glob, sqlite3, sys
con = sqlite3.connect("file:" + glob.glob(sys.argv[1] + "/*.db")[0] + "?mode=ro", uri=True)
print(con.execute("SELECT count(*) FROM meta WHERE key='custody.pending_master'").fetchone()[0])
PY
}
restart() { # restart <name> <port> [env...]: a clean start after a crash (stale socket, env gone)
    rm -f "$dir/$1/custody.sock" "$dir/$1/env"
    start "$@"
}
died() { # died <what>: cofferd (PID) ended with 137 at the crash point
    wait "$PID"
    expect_eq "$1: cofferd died at the crash point" 137 "$?"
    PID=""
}
crash_shamir() { # crash_shamir <point>
    local p=$1 n=cs-$1 port cs
    port=$(free_port)
    cs=$dir/$n/custody.sock
    rm -rf "${dir:?}/$n"
    start "$n" "$port" COFFER_CUSTODY=shamir COFFER_TEST_CRASH_AT="$([ "$p" = settle-custody ] && echo rotate-rewrap || echo "$p")"
    wait_for "$cs"
    op init --socket "$cs" >"$dir/$n-old.json" 2>/dev/null
    unseal_with "$cs" "$dir/$n-old.json" "$dir/$n-u.json" 0 1 2
    wait_for "$dir/$n/env"
    secret_env "$dir/$n" login >/dev/null 2>&1
    secret_env "$dir/$n" keyvault secret set --vault-name coffer -n k1 --value "before-$p" >/dev/null 2>&1
    if [ "$p" = confirm-custody ]; then
        op rotate-master-key --socket "$cs" >"$dir/$n-new.json" 2>/dev/null
        expect_eq "crash $p: rotate-master-key" 5 "$(nshares_of "$dir/$n-new.json")"
        op rotate-master-key --socket "$cs" --confirm >/dev/null 2>&1
    else
        op rotate-master-key --socket "$cs" >/dev/null 2>&1
    fi
    died "crash $p"
    if [ "$p" = settle-custody ]; then # the start-up that finishes the rotation dies too
        restart "$n" "$port" COFFER_CUSTODY=shamir COFFER_TEST_CRASH_AT=settle-custody
        wait_for "$cs"
        unseal_with "$cs" "$dir/$n-old.json" "$dir/$n-u.json" 0 1 2
        died "crash $p (in the unseal)"
    fi
    restart "$n" "$port" COFFER_CUSTODY=shamir
    wait_for "$cs"
    if [ "$p" = confirm-custody ]; then
        expect_eq "crash $p: old share refused after the confirm" 1 "$(op unseal --socket "$cs" --share "$(sh_of "$dir/$n-old.json" 0)" >/dev/null 2>&1; echo $?)"
        unseal_with "$cs" "$dir/$n-new.json" "$dir/$n-u.json" 1 2 3
    else
        unseal_with "$cs" "$dir/$n-old.json" "$dir/$n-u.json" 2 3 4
    fi
    expect_eq "crash $p: restart unseals" unsealed "$(jf "$dir/$n-u.json" state)"
    if [ "$p" = rotate-pending ]; then
        expect_eq "crash $p: no rotation happened: no shares shown" 0 "$(nshares_of "$dir/$n-u.json")"
        expect_eq "crash $p: pending record removed" 0 "$(pending_rows "$n")"
    elif [ "$p" != confirm-custody ]; then
        expect_eq "crash $p: the old shares' unseal shows the 5 new shares" 5 "$(nshares_of "$dir/$n-u.json")"
        expect_eq "crash $p: rotation unconfirmed" True "$(jf "$dir/$n-u.json" rotation_unconfirmed)"
        expect_eq "crash $p: pending record kept until confirmed" 1 "$(pending_rows "$n")"
        cp "$dir/$n-u.json" "$dir/$n-new.json"
    else
        expect_eq "crash $p: stale pending record removed" 0 "$(pending_rows "$n")"
    fi
    wait_for "$dir/$n/env" && pass "crash $p: serving" || fail "crash $p: serving"
    secret_env "$dir/$n" login >/dev/null 2>&1
    expect_eq "crash $p: secret readable" "before-$p" "$(val "$n" coffer k1)"
    [ "$p" = rotate-pending ] || [ "$p" = confirm-custody ] && { cleanup; PID=""; return; }
    # the new shares unseal (and confirm: they reached the operators); then the old ones are void
    op seal --socket "$cs" >/dev/null
    sleep 1.5
    rm -f "$dir/$n/env"
    unseal_with "$cs" "$dir/$n-new.json" "$dir/$n-u.json" 0 3 4
    expect_eq "crash $p: the new shares unseal" unsealed "$(jf "$dir/$n-u.json" state)"
    wait_for "$dir/$n/env"
    expect_eq "crash $p: secret readable with the new key" "before-$p" "$(val "$n" coffer k1)"
    expect_eq "crash $p: pending record removed once the new shares unsealed" 0 "$(pending_rows "$n")"
    op seal --socket "$cs" >/dev/null
    sleep 1.5
    expect_eq "crash $p: an old share is refused now" 1 "$(op unseal --socket "$cs" --share "$(sh_of "$dir/$n-old.json" 1)" >/dev/null 2>&1; echo $?)"
    cleanup
    PID=""
}
for p in rotate-pending rotate-rewrap rotate-custody settle-custody confirm-custody; do
    crash_shamir "$p"
done

# ---- pkcs11 (SoftHSM2) ----
LIB=/usr/lib/softhsm/libsofthsm2.so
if [ ! -r "$LIB" ] || ! command -v softhsm2-util >/dev/null; then
    fail "pkcs11: softhsm2 is not installed (tools/install-deps.sh installs it)"
    exit 0
fi
mkdir -p "$dir/hsm/tokens"
printf 'directories.tokendir = %s/hsm/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" >"$dir/hsm/softhsm2.conf"
export SOFTHSM2_CONF=$dir/hsm/softhsm2.conf
softhsm2-util --init-token --free --label coffer-e2e --so-pin 87654321 --pin 12345678 >/dev/null &&
    pass "pkcs11: token initialised" || fail "pkcs11: token initialised"
P11=(COFFER_CUSTODY=pkcs11 COFFER_PKCS11_MODULE=$LIB COFFER_PKCS11_TOKEN=coffer-e2e COFFER_PKCS11_PIN=12345678 SOFTHSM2_CONF=$SOFTHSM2_CONF)
port=$(free_port)
start p11 "$port" "${P11[@]}"
wait_for "$dir/p11/env" && pass "pkcs11: unsealed at start" || fail "pkcs11: unsealed at start"
secret_env "$dir/p11" login >/dev/null 2>&1
expect_eq "pkcs11: secret set" hsm-value "$(secret_env "$dir/p11" keyvault secret set --vault-name coffer -n h1 --value hsm-value --query value -o tsv 2>/dev/null)"
[ ! -e "$dir/p11/master.key" ] && pass "pkcs11: no master.key in the data dir" || fail "pkcs11: no master.key in the data dir"
cleanup
PID=""
rm -f "$dir/p11/env"
start p11 "$port" "${P11[@]}"
wait_for "$dir/p11/env" && pass "pkcs11: restart unseals itself" || fail "pkcs11: restart unseals itself"
expect_eq "pkcs11: secret readable after restart" hsm-value "$(secret_env "$dir/p11" keyvault secret show --vault-name coffer -n h1 --query value -o tsv 2>/dev/null)"

# ---- pkcs11: HSM-protected keys (RSA-HSM, EC-HSM) in the same token ----
# python3-azure creates them (hardware_protected=True), Coffer signs on the token, the SDK side
# verifies with `cryptography` from the returned JWK; then the SQLite row of each version holds
# only the sealed token handle (48 bytes), never a sealed private key (> 100 bytes).
if (set -a; . "$dir/p11/env"; set +a; cd "$E2E_DIR/python" && /usr/bin/python3 -B hsm_check.py) >"$dir/hsm.out" 2>"$E2E_WORK/$SUITE-hsm.py.log"; then
    pass "pkcs11: RSA-HSM and EC-HSM keys sign in the token; python verifies locally"
else
    fail "pkcs11: RSA-HSM and EC-HSM keys sign in the token; python verifies locally (see $SUITE-hsm.py.log)"
fi
hsm_rows=$(/usr/bin/python3 - "$dir/p11" "$dir/hsm.out" <<'PY'
import glob, sqlite3, sys
db = [p for p in glob.glob(sys.argv[1] + "/*.db")][0]
lines = [l.split() for l in open(sys.argv[2]) if l.strip()]
con = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
out = []
for l in lines:
    kty, n = con.execute("SELECT kty, length(priv) FROM key_versions WHERE version=?", (l[1],)).fetchone()
    out.append(f"{kty}:{n}")
print(" ".join(out))
PY
)
expect_eq "pkcs11: the key rows hold only the sealed handle" "RSA-HSM:48 EC-HSM:48" "$hsm_rows"

# ---- pkcs11: an RSA key imported as HSM-protected (issue 12) ----
# import_key(hardware_protected=True) puts the key on the token: one more private key object
# (sensitive, not extractable), the row holds only the sealed handle, Coffer signs on the token
# and python verifies with the key it generated; the same JWK imported plainly stays software.
p11privs() { # private key objects on the token ("" without pkcs11-tool)
    command -v pkcs11-tool >/dev/null || return 0
    pkcs11-tool --module "$LIB" --token-label coffer-e2e --login --pin 12345678 \
        --list-objects --type privkey 2>/dev/null | grep -c '^Private Key Object'
}
before=$(p11privs)
if (set -a; . "$dir/p11/env"; set +a; cd "$E2E_DIR/python" && /usr/bin/python3 -B hsm_import_check.py) >"$dir/hsmimp.out" 2>"$E2E_WORK/$SUITE-hsmimp.py.log"; then
    pass "pkcs11: an RSA key imported with hardware_protected is RSA-HSM and signs on the token; python verifies with its own key"
else
    fail "pkcs11: an RSA key imported with hardware_protected is RSA-HSM and signs on the token (see $SUITE-hsmimp.py.log)"
fi
after=$(p11privs)
if [ -n "$before" ]; then
    expect_eq "pkcs11-tool: one more private key on the token after the HSM import" 1 "$((after - before))"
    sens=$(pkcs11-tool --module "$LIB" --token-label coffer-e2e --login --pin 12345678 \
        --list-objects --type privkey 2>/dev/null | grep 'Access:' | grep 'sensitive' |
        grep -Evc '(:|,) *extractable')
    expect_eq "pkcs11-tool: every private key on the token is sensitive and not extractable" "$after" "$sens"
else
    pass "pkcs11-tool not installed: token object count not checked"
fi
imp_rows=$(/usr/bin/python3 - "$dir/p11" "$dir/hsmimp.out" <<'PY'
import glob, sqlite3, sys
db = [p for p in glob.glob(sys.argv[1] + "/*.db")][0]
con = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
out = []
for l in (l.split() for l in open(sys.argv[2]) if l.strip()):
    kty, n = con.execute("SELECT kty, length(priv) FROM key_versions WHERE version=?", (l[1],)).fetchone()
    out.append(f"{kty}:{48 if n == 48 else 'big' if n > 100 else n}")
print(" ".join(out))
PY
)
expect_eq "pkcs11: the imported HSM key's row holds only the sealed handle (the software import its sealed key)" "RSA-HSM:48 RSA:big" "$imp_rows"

# ---- pkcs11: rotate-master-key ----
rot_prepare p11
cp "$dir/p11/custody.json" "$dir/p11-custody.before"
op rotate-master-key --socket "$dir/p11/custody.sock" >"$dir/p11-rot.json" 2>/dev/null
expect_eq "pkcs11: rotate-master-key succeeds" 0 "$?"
expect_eq "pkcs11: no shares printed" "" "$(jf "$dir/p11-rot.json" shares)"
cmp -s "$dir/p11/custody.json" "$dir/p11-custody.before" &&
    fail "pkcs11: the token-wrapped key changed" || pass "pkcs11: the token-wrapped key changed"
rot_read p11 "after rotation (no restart)" hsm-value h1
rot_restore p11
# under load: a reader and a writer keep going through two more rotations; no request fails
: >"$dir/load.fail"
(for i in $(seq 1 12); do
    [ "$(val p11 coffer h1)" = hsm-value ] || echo "read $i" >>"$dir/load.fail"
    [ "$(secret_env "$dir/p11" keyvault secret set --vault-name rot2 -n "l$i" --value "l$i" --query value -o tsv 2>/dev/null)" = "l$i" ] ||
        echo "write $i" >>"$dir/load.fail"
done) &
LOAD=$!
sleep 0.5
for k in 1 2; do
    op rotate-master-key --socket "$dir/p11/custody.sock" >/dev/null 2>&1 || echo "rotation $k" >>"$dir/load.fail"
    sleep 0.7
done
wait "$LOAD"
expect_eq "pkcs11: two rotations under a read/write load fail nothing" "" "$(cat "$dir/load.fail")"
cleanup
PID=""
rot_audit p11
rm -f "$dir/p11/env"
start p11 "$port" "${P11[@]}"
wait_for "$dir/p11/env" && pass "pkcs11: restart after rotation unseals itself" || fail "pkcs11: restart after rotation unseals itself"
rot_read p11 "after restart" hsm-value h1
expect_eq "pkcs11: restart: restored secret" "v1-p11" "$(val p11 rot2 r1)"
expect_eq "pkcs11: restart: secrets written under load" "l1 l12" "$(val p11 rot2 l1) $(val p11 rot2 l12)"
cleanup
PID=""
start p11bad "$(free_port)" COFFER_CUSTODY=pkcs11 COFFER_PKCS11_MODULE=$LIB COFFER_PKCS11_TOKEN=coffer-e2e COFFER_PKCS11_PIN=0000 SOFTHSM2_CONF=$SOFTHSM2_CONF
wait "$PID"
expect_eq "pkcs11: wrong PIN refuses to start" 1 "$?"
PID=""

# ---- pkcs11: rotation crash points ----
crash_p11() { # crash_p11 <point>
    local p=$1 n=cp-$1 port
    port=$(free_port)
    rm -rf "${dir:?}/$n"
    start "$n" "$port" "${P11[@]}" COFFER_TEST_CRASH_AT="$([ "$p" = settle-custody ] && echo rotate-rewrap || echo "$p")"
    wait_for "$dir/$n/env"
    secret_env "$dir/$n" login >/dev/null 2>&1
    secret_env "$dir/$n" keyvault secret set --vault-name coffer -n k1 --value "p11-$p" >/dev/null 2>&1
    cp "$dir/$n/custody.json" "$dir/$n-custody.before"
    op rotate-master-key --socket "$dir/$n/custody.sock" >/dev/null 2>&1
    died "pkcs11 crash $p"
    if [ "$p" = settle-custody ]; then # the start-up that finishes the rotation dies too
        restart "$n" "$port" "${P11[@]}" COFFER_TEST_CRASH_AT=settle-custody
        died "pkcs11 crash $p (at start-up)"
    fi
    for r in 1 2; do
        restart "$n" "$port" "${P11[@]}"
        wait_for "$dir/$n/env" && pass "pkcs11 crash $p: restart $r unseals itself" || fail "pkcs11 crash $p: restart $r unseals itself"
        secret_env "$dir/$n" login >/dev/null 2>&1
        expect_eq "pkcs11 crash $p: restart $r: secret readable" "p11-$p" "$(val "$n" coffer k1)"
        expect_eq "pkcs11 crash $p: restart $r: no pending record" 0 "$(pending_rows "$n")"
        cleanup
        PID=""
    done
    if [ "$p" = rotate-pending ]; then
        cmp -s "$dir/$n/custody.json" "$dir/$n-custody.before" && pass "pkcs11 crash $p: the key did not change" || fail "pkcs11 crash $p: the key did not change"
    else
        cmp -s "$dir/$n/custody.json" "$dir/$n-custody.before" && fail "pkcs11 crash $p: the rotation finished" || pass "pkcs11 crash $p: the rotation finished"
    fi
}
for p in rotate-pending rotate-rewrap rotate-custody settle-custody; do
    crash_p11 "$p"
done
