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
#   import:  an RSA PFX and an EC PEM imported with RSA-HSM / EC-HSM policies: the keys go onto
#            the token (two more private keys, sensitive, not extractable), the kid signs with
#            the imported key, the secrets and the store hold no key; an EC key under RSA-HSM 400.
#   no token: a plain --dev server refuses the RSA-HSM certificate exactly as an RSA-HSM key, and
#            an RSA-HSM import and a policy update to RSA-HSM with the same 400.
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

# ---- import with an -HSM policy (issue 13): the imported key goes onto the token -------------
# python3-azure + cryptography: an RSA PFX (password) imported with kty RSA-HSM and an EC PEM
# with EC-HSM; each kid signs (on the token) and the signature verifies with the imported
# certificate; the secrets hold no key; an EC key under RSA-HSM is a 400.
cat >"$dir/imp.py" <<'PY'
import base64, datetime, hashlib, os, secrets, sys
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.keyvault.certificates import CertificateClient, CertificatePolicy, KeyType, CertificateContentType
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from azure.keyvault.secrets import SecretClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
cred = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
    os.environ["AZURE_CLIENT_SECRET"], authority=os.environ["AZURE_AUTHORITY_HOST"],
    instance_discovery=False, disable_instance_discovery=True)
url = os.environ["COFFER_VAULT_URL"]
certs, keys, sec = CertificateClient(url, cred), KeyClient(url, cred), SecretClient(url, cred)
tag = secrets.token_hex(3)
def selfsigned(key, cn):
    n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=60)).sign(key, hashes.SHA256()))
def signs(kid, cert, alg):
    dg = hashlib.sha256(b"imported key on the token " + tag.encode()).digest()
    s = CryptographyClient(kid, cred).sign(alg, dg).signature
    pub = cert.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        pub.verify(s, dg, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    else:
        n = len(s) // 2
        pub.verify(encode_dss_signature(int.from_bytes(s[:n], "big"), int.from_bytes(s[n:], "big")), dg, ec.ECDSA(Prehashed(hashes.SHA256())))
if sys.argv[1] == "notoken":
    k = rsa.generate_private_key(65537, 2048)
    pfx = pkcs12.serialize_key_and_certificates(b"x", k, selfsigned(k, "nt"), None, serialization.NoEncryption())
    out = []
    try:
        certs.import_certificate(f"imp-nt-{tag}", pfx, policy=CertificatePolicy(issuer_name="Unknown", subject="CN=nt", key_type=KeyType.rsa_hsm, exportable=False))
        out.append("accepted")
    except HttpResponseError as e:
        out.append(f"{e.status_code}:{e.error.code if e.error else ''}")
    certs.import_certificate(f"imp-nt-{tag}", pfx)
    try:
        certs.update_certificate_policy(f"imp-nt-{tag}", CertificatePolicy(issuer_name="Unknown", subject="CN=nt", key_type=KeyType.rsa_hsm, exportable=False))
        out.append("accepted")
    except HttpResponseError as e:
        out.append(f"{e.status_code}:{e.error.code if e.error else ''}")
    assert certs.get_certificate_policy(f"imp-nt-{tag}").key_type == KeyType.rsa
    print(" ".join(out))
    sys.exit(0)
made = []
# RSA, PFX with a password
k = rsa.generate_private_key(65537, 2048)
c = selfsigned(k, "imported-rsa")
pfx = pkcs12.serialize_key_and_certificates(b"x", k, c, None, serialization.BestAvailableEncryption(b"pw-" + tag.encode()))
name = f"imp-rsa-{tag}"
r = certs.import_certificate(name, pfx, password="pw-" + tag, policy=CertificatePolicy(issuer_name="Unknown", subject="CN=imported-rsa", key_type=KeyType.rsa_hsm, exportable=False))
assert r.policy.key_type == KeyType.rsa_hsm and r.policy.exportable is False, (r.policy.key_type, r.policy.exportable)
assert keys.get_key(name).key.kty == "RSA-HSM"
signs(r.key_id, c, SignatureAlgorithm.rs256)
s = sec.get_secret(name)
key, leaf, extra = pkcs12.load_key_and_certificates(base64.b64decode(s.value), None)
assert key is None, "the secret carries a private key"
made.append((name, r.properties.version))
# EC, PEM
k = ec.generate_private_key(ec.SECP256R1())
c = selfsigned(k, "imported-ec")
pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()) + c.public_bytes(serialization.Encoding.PEM)
name = f"imp-ec-{tag}"
r = certs.import_certificate(name, pem, policy=CertificatePolicy(issuer_name="Unknown", subject="CN=imported-ec", key_type=KeyType.ec_hsm, content_type=CertificateContentType.pem))
assert r.policy.key_type == KeyType.ec_hsm and r.policy.exportable is False
signs(r.key_id, c, SignatureAlgorithm.es256)
assert "PRIVATE KEY" not in sec.get_secret(name).value
made.append((name, r.properties.version))
# an EC key under RSA-HSM
try:
    certs.import_certificate(f"imp-bad-{tag}", pem, policy=CertificatePolicy(issuer_name="Unknown", subject="CN=x", key_type=KeyType.rsa_hsm, content_type=CertificateContentType.pem))
    raise AssertionError("EC key imported as RSA-HSM")
except HttpResponseError as e:
    assert e.status_code == 400, e.status_code
for n, v in made:
    print(n, v)
PY
imp() { (set -a; . "$1/env"; set +a; cd "$dir" && /usr/bin/python3 -B imp.py "${@:2}"); }
before=$(privkeys)
if imp "$dir/p11" import >"$dir/imported" 2>"$E2E_WORK/$SUITE-import.py.log"; then
    pass "python3-azure: RSA PFX / EC PEM imported with RSA-HSM / EC-HSM policies, kid signs with the imported key, secrets without key, mismatched kty refused"
else
    fail "python3-azure import checks (see $SUITE-import.py.log)"
fi
after=$(privkeys)
if [ -n "$after" ]; then
    expect_eq "pkcs11-tool: the two imported keys are on the token" 2 "$((after - before))"
    # pkcs11-tool prints "extractable" for CKA_EXTRACTABLE true; an imported key is not
    # "always sensitive"/"never extractable" (it existed outside the token before)
    pub=$(pkcs11-tool --module "$LIB" --token-label coffer-hsmcerts --login --pin 12345678 \
        --list-objects --type privkey 2>/dev/null | grep 'Access:' | grep 'sensitive' |
        grep -Evc '(:|,) *extractable')
    expect_eq "pkcs11-tool: every private key on the token is sensitive and not extractable" "$after" "$pub"
fi
rows=$(/usr/bin/python3 - "$dir/p11" "$dir/imported" <<'PY'
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
expect_eq "store: the imported certificates' key rows hold only the sealed handle" "RSA-HSM:48 EC-HSM:48" "$rows"
cleanup

# without a token: the certificate is refused as the -HSM key is
start plain "$(free_port)"
wait_for "$dir/plain/env" && pass "cofferd without a token started" || fail "cofferd without a token started"
nt=$(py "$dir/plain" notoken 2>"$E2E_WORK/$SUITE-notoken.py.log")
expect_eq "no token: RSA-HSM certificate and RSA-HSM key refused alike" "400:BadParameter 400:BadParameter" "$nt"
ni=$(imp "$dir/plain" notoken 2>"$E2E_WORK/$SUITE-notoken-import.py.log")
expect_eq "no token: an RSA-HSM import and a policy update to RSA-HSM refused alike (400)" "400:BadParameter 400:BadParameter" "$ni"
cleanup
