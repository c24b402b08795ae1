#!/usr/bin/env bash
# hsmcerts suite (issues 12/13): certificates whose policy asks for RSA-HSM / EC-HSM keys, on a
# cofferd with pkcs11 custody over a SoftHSM2 token made here (as custody.sh does).
#   python3-azure (python/hsm_certs_check.py): RSA-HSM and EC-HSM self-signed certificates,
#       exportable false; each verifies with its own public key, its kid signs on the token and
#       the signature verifies with the certificate's public key, the secret holds no private
#       key; exportable:true is a 400; an Unknown-issuer EC-HSM certificate's CSR verifies, a
#       local CA signs it, the merge completes and its kid signs; a backup whose token key was
#       purged does not restore (400).
#   openssl: each issued certificate's self-signature and the CSR's signature verify.
#   token:   pkcs11-tool (when installed) lists three more private keys on the token.
#   store:   every certificate's key row holds only the sealed token handle (48 bytes), kty -HSM.
#   no token: a plain --dev server refuses the RSA-HSM certificate exactly as an RSA-HSM key.
set -uo pipefail
. "$E2E_DIR/lib.sh"

dir=$E2E_WORK/hsmcerts
rm -rf "$dir"
mkdir -p "$dir/out"
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null; PID=""; }
trap cleanup EXIT

start() { # start <name> <port> [env...]: cofferd --dev in $dir/<name>
    local name=$1 port=$2
    shift 2
    env "$@" "$COFFERD" --dev --data-dir "$dir/$name" --port "$port" \
        >>"$dir/$name.out" 2>>"$E2E_WORK/$SUITE-main.$name.log" &
    PID=$!
}
wait_for() {
    for _ in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.1; done
    return 1
}
py() { (set -a; . "$1/env"; set +a; cd "$E2E_DIR/python" && /usr/bin/python3 -B hsm_certs_check.py "${@:2}"); }

LIB=/usr/lib/softhsm/libsofthsm2.so
if [ ! -r "$LIB" ] || ! command -v softhsm2-util >/dev/null; then
    fail "softhsm2 is not installed (tools/install-deps.sh installs it)"
    exit 0
fi
mkdir -p "$dir/hsm/tokens"
printf 'directories.tokendir = %s/hsm/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" >"$dir/hsm/softhsm2.conf"
export SOFTHSM2_CONF=$dir/hsm/softhsm2.conf
softhsm2-util --init-token --free --label coffer-hsmcerts --so-pin 87654321 --pin 12345678 >/dev/null &&
    pass "token initialised" || fail "token initialised"
privkeys() { # private key objects on the token ("" without pkcs11-tool)
    command -v pkcs11-tool >/dev/null || return 0
    pkcs11-tool --module "$LIB" --token-label coffer-hsmcerts --login --pin 12345678 \
        --list-objects --type privkey 2>/dev/null | grep -c '^Private Key Object'
}

start p11 "$(free_port)" COFFER_CUSTODY=pkcs11 COFFER_PKCS11_MODULE=$LIB \
    COFFER_PKCS11_TOKEN=coffer-hsmcerts COFFER_PKCS11_PIN=12345678 SOFTHSM2_CONF=$SOFTHSM2_CONF
wait_for "$dir/p11/env" && pass "cofferd with pkcs11 custody started" || fail "cofferd with pkcs11 custody started"
before=$(privkeys)

if py "$dir/p11" create "$dir/out" >"$dir/created" 2>"$E2E_WORK/$SUITE-create.py.log"; then
    pass "python3-azure: RSA-HSM/EC-HSM self-signed + Unknown/merge certificates, kid signs on the token, secrets without key, exportable refused, purged backup refused"
else
    fail "python3-azure checks (see $SUITE-create.py.log)"
fi

# openssl: the self-signature of each issued certificate, the CSR's signature
for f in "$dir"/out/hsm-rsa-*.der "$dir"/out/hsm-ec-*.der; do
    [ -e "$f" ] || { fail "openssl: no certificate written"; continue; }
    n=$(basename "$f" .der)
    openssl x509 -inform DER -in "$f" -out "$dir/$n.pem" 2>/dev/null
    if openssl verify -check_ss_sig -partial_chain -trusted "$dir/$n.pem" "$dir/$n.pem" >"$dir/$n.verify" 2>&1; then
        pass "openssl verify -check_ss_sig: ${n%-*}"
    else
        fail "openssl verify -check_ss_sig: ${n%-*} ($(tail -n 2 "$dir/$n.verify" | tr '\n' ' '))"
    fi
done
for f in "$dir"/out/hsm-csr-*.csr; do
    [ -e "$f" ] || { fail "openssl: no CSR written"; continue; }
    openssl req -inform DER -in "$f" -noout -verify >"$dir/csr.verify" 2>&1 &&
        pass "openssl req -verify: the token-signed CSR" || fail "openssl req -verify: the token-signed CSR ($(cat "$dir/csr.verify"))"
done

# the token holds the private keys (RSA, EC, the CSR flow's; the purged backup's is gone)
after=$(privkeys)
if [ -n "$after" ]; then
    expect_eq "pkcs11-tool: three more private keys on the token" 3 "$((after - before))"
else
    pass "pkcs11-tool not installed: token object count not checked"
fi

# the store: key rows of the certificates hold only the sealed token handle
rows=$(/usr/bin/python3 - "$dir/p11" "$dir/created" <<'PY'
import glob, sqlite3, sys
db = glob.glob(sys.argv[1] + "/*.db")[0]
con = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
out = []
for l in open(sys.argv[2]):
    name, version = l.split()
    kty, n = con.execute("SELECT kty, length(priv) FROM key_versions WHERE version=?", (version,)).fetchone()
    out.append(f"{kty}:{n}")
print(" ".join(out))
PY
)
expect_eq "store: the certificates' key rows hold only the sealed handle" "RSA-HSM:48 EC-HSM:48 EC-HSM:48" "$rows"
cleanup

# without a token: the certificate is refused as the -HSM key is
start plain "$(free_port)"
wait_for "$dir/plain/env" && pass "cofferd without a token started" || fail "cofferd without a token started"
nt=$(py "$dir/plain" notoken 2>"$E2E_WORK/$SUITE-notoken.py.log")
expect_eq "no token: RSA-HSM certificate and RSA-HSM key refused alike" "400:BadParameter 400:BadParameter" "$nt"
cleanup
