#!/usr/bin/env bash
# coffer CLI suite: <build>/coffer against a fresh cofferd, az-style commands and output.
# The three commands of the issue run verbatim, then the rest of the secret and vault
# surface, output formats, --query and error exits.
set -uo pipefail
. "$E2E_DIR/lib.sh"
trap 'e2e_cleanup; rm -rf "$E2E_WORK/$SUITE-config"' EXIT

if [ ! -x "$COFFER" ]; then
    fail "coffer CLI binary exists at $COFFER"
    exit 0
fi
e2e_start main || exit 1
export COFFER_CONFIG_DIR="$E2E_WORK/$SUITE-config"
mkdir -p "$COFFER_CONFIG_DIR"
CO="$E2E_WORK/$SUITE.cli.out"
CE="$E2E_WORK/$SUITE.cli.err"

# c ARGS...: runs coffer, stdout in $CO, stderr in $CE, status in RC.
c() {
    timeout 60 "$COFFER" "$@" >"$CO" 2>"$CE"
    RC=$?
    { echo "### coffer $*"; cat "$CO" "$CE"; } >>"$E2E_WORK/$SUITE.cli.log"
}
c_ok() {
    if [ "$RC" -eq 0 ]; then pass "$1"; else
        fail "$1 (exit $RC: $(head -c 300 "$CE" | tr '\n' ' '))"; fi
}
# c_fails WHAT: non-zero exit, empty stdout, exactly one line on stderr.
c_fails() {
    local lines
    lines=$(grep -c '' "$CE")
    if [ "$RC" -ne 0 ] && [ "$lines" -eq 1 ] && [ ! -s "$CO" ]; then
        pass "$1 (exit $RC, one stderr line)"
    else
        fail "$1 (expected non-zero exit, one stderr line, no stdout; got exit $RC, $lines stderr lines: $(head -c 200 "$CE" | tr '\n' '|'))"
    fi
}
out() { cat "$CO"; }
q() { jget "$CO" "$1"; }

# ---- not logged in ----------------------------------------------------------------------
c keyvault secret show --name x --vault-name coffer
c_fails "secret show before login fails"

c login
c_ok "coffer login (from the environment of cofferd's env file)"
if [ -f "$COFFER_CONFIG_DIR/profile.json" ]; then
    expect_eq "profile.json mode 0600" 600 "$(stat -c %a "$COFFER_CONFIG_DIR/profile.json")"
fi

# ---- the three commands of the issue, verbatim --------------------------------------------
c keyvault create --name "Your-Vault" --resource-group "YourResourceGroup" --location westus
c_ok 'keyvault create --name "Your-Vault" --resource-group "YourResourceGroup" --location westus'
expect_eq "create: name" Your-Vault "$(q 'd["name"]')"
expect_eq "create: location" westus "$(q 'd["location"]')"
expect_eq "create: resourceGroup" YourResourceGroup "$(q 'd["resourceGroup"]')"
expect_eq "create: vaultUri" "https://your-vault.$COFFER_DNS_SUFFIX:$COFFER_PORT/" \
    "$(q 'd["properties"]["vaultUri"].lower()')"
c keyvault secret set --vault-name "Your-Vault" --name "YourStoredPassword" --value "KlhOM901BkLx"
c_ok 'keyvault secret set --vault-name "Your-Vault" --name "YourStoredPassword" --value "KlhOM901BkLx"'
expect_eq "set: value" KlhOM901BkLx "$(q 'd["value"]')"
expect_eq "set: name" YourStoredPassword "$(q 'd["name"]')"
v1=$(q 'd["id"].rsplit("/",1)[1]')
expect_eq "set: versioned id" true "$(q '__import__("re").fullmatch(r"https://[^/]+/secrets/YourStoredPassword/[0-9a-f]{32}", d["id"]) is not None')"
c keyvault secret show --name "YourStoredPassword" --vault-name "Your-Vault"
c_ok 'keyvault secret show --name "YourStoredPassword" --vault-name "Your-Vault"'
expect_eq "show: value" KlhOM901BkLx "$(q 'd["value"]')"
expect_eq "show: enabled" true "$(q 'd["attributes"]["enabled"]')"
c keyvault secret show --name "YourStoredPassword" --vault-name "Your-Vault" --query value -o tsv
c_ok "secret show --query value -o tsv"
expect_eq "--query value -o tsv prints the value" KlhOM901BkLx "$(out)"
expect_eq "-o tsv output is exactly value + newline" "$(printf 'KlhOM901BkLx\n' | od -An -tx1)" "$(od -An -tx1 "$CO")"

# ---- more secret commands -----------------------------------------------------------------
V=(--vault-name Your-Vault)
c keyvault secret set "${V[@]}" --name YourStoredPassword --value "second-value"
c_ok "secret set (second version)"
v2=$(q 'd["id"].rsplit("/",1)[1]')
c keyvault secret show "${V[@]}" --name YourStoredPassword --version "$v1" --query value -o tsv
expect_eq "show --version <first>" KlhOM901BkLx "$(out)"
c keyvault secret set "${V[@]}" --name other-secret --value "o1" --tags env=e2e team=coffer
c_ok "secret set --tags"
# az (and so coffer) adds the file-encoding tag on set.
expect_eq "set --tags stored" '{"env": "e2e", "file-encoding": "utf-8", "team": "coffer"}' "$(q 'd["tags"]')"
c keyvault secret list "${V[@]}"
c_ok "secret list"
expect_eq "secret list: 2 secrets" 2 "$(q 'len(d)')"
expect_eq "secret list: no values" false "$(q 'any("value" in i for i in d)')"
c keyvault secret list "${V[@]}" --query "[?name=='YourStoredPassword'] | length(@)"
expect_eq "--query filter + length(@)" 1 "$(out)"
c keyvault secret list "${V[@]}" --query "length([?tags.env=='e2e'])"
expect_eq "--query length of a tag filter" 1 "$(out)"
c keyvault secret list "${V[@]}" --query "[].name" -o tsv
expect_eq "--query [].name -o tsv" "YourStoredPassword other-secret" "$(LC_ALL=C sort "$CO" | tr '\n' ' ' | sed 's/ $//')"
c keyvault secret list-versions "${V[@]}" --name YourStoredPassword
c_ok "secret list-versions"
expect_eq "list-versions: 2 versions" 2 "$(q 'len(d)')"
expect_eq "list-versions: the two version ids" "$(printf '%s\n' "$v1" "$v2" | sort | tr '\n' ' ')" \
    "$(q '" ".join(sorted(i["id"].rsplit("/",1)[1] for i in d)) + " "')"
c keyvault secret list "${V[@]}" -o table
c_ok "secret list -o table"
if [ "$(sed -n 2p "$CO" | tr -d ' -')" = "" ] && [ "$(sed -n 2p "$CO" | grep -c -- '---')" -eq 1 ] &&
    grep -q YourStoredPassword "$CO" && head -n 1 "$CO" | grep -q 'Name'; then
    pass "-o table: header, dashes, rows"
else
    fail "-o table: header, dashes, rows (got: $(head -n 3 "$CO" | tr '\n' '|'))"
fi
c keyvault show --name Your-Vault --query "{n:name, l:location}" -o tsv
expect_eq "-o tsv of a multiselect hash (tab-separated, key order)" "Your-Vault	westus" "$(out)"

exp=2030-01-01T00:00:00Z
c keyvault secret set-attributes "${V[@]}" --name YourStoredPassword --enabled false \
    --content-type text/plain --tags a=1 --expires "$exp"
c_ok "secret set-attributes --enabled false --content-type --tags --expires"
expect_eq "set-attributes: contentType" text/plain "$(q 'd["contentType"]')"
expect_eq "set-attributes: enabled" false "$(q 'd["attributes"]["enabled"]')"
expect_eq "set-attributes: tags" '{"a": "1"}' "$(q 'd["tags"]')"
expect_eq "set-attributes: expires" "2030-01-01T00:00:00+00:00" "$(q 'd["attributes"]["expires"]')"
c keyvault secret show "${V[@]}" --name YourStoredPassword
c_fails "show of a disabled secret fails"
if grep -q -i forbidden "$CE" || grep -q -i disabled "$CE"; then pass "disabled: stderr names the reason"
else fail "disabled: stderr names the reason (got: $(head -c 200 "$CE"))"; fi
c keyvault secret set-attributes "${V[@]}" --name YourStoredPassword --enabled true
c_ok "secret set-attributes --enabled true"
c keyvault secret show "${V[@]}" --name YourStoredPassword --query value -o tsv
expect_eq "re-enabled secret readable" second-value "$(out)"

dl="$E2E_WORK/$SUITE-download.txt"
rm -f "$dl"
c keyvault secret download "${V[@]}" --name YourStoredPassword --file "$dl"
c_ok "secret download --file"
expect_eq "download wrote exactly the value" second-value "$(cat "$dl" 2>/dev/null)"
expect_eq "download wrote no trailing newline" 12 "$(stat -c %s "$dl" 2>/dev/null)"
c keyvault secret download "${V[@]}" --name YourStoredPassword --file "$dl"
if [ "$RC" -ne 0 ]; then pass "download refuses to overwrite an existing file"; else
    fail "download refuses to overwrite an existing file"; fi
rm -f "$dl"

bk="$E2E_WORK/$SUITE-backup.blob"
rm -f "$bk"
c keyvault secret backup "${V[@]}" --name YourStoredPassword --file "$bk"
c_ok "secret backup --file"
if [ -s "$bk" ] && ! grep -q -a -e KlhOM901BkLx -e second-value "$bk"; then
    pass "backup file written, no plaintext value in it"
else fail "backup file written, no plaintext value in it"; fi

c keyvault secret delete "${V[@]}" --name YourStoredPassword
c_ok "secret delete"
expect_eq "delete: recoveryId" "https://your-vault.$COFFER_DNS_SUFFIX:$COFFER_PORT/deletedsecrets/yourstoredpassword" \
    "$(q 'd["recoveryId"].lower()')"
c keyvault secret show "${V[@]}" --name YourStoredPassword
c_fails "show of a deleted secret fails"
c keyvault secret list-deleted "${V[@]}" --query "[?name=='YourStoredPassword'] | length(@)"
c_ok "secret list-deleted"
expect_eq "list-deleted contains it once" 1 "$(out)"
c keyvault secret set "${V[@]}" --name YourStoredPassword --value x
c_fails "set on a soft-deleted name fails"
c keyvault secret recover "${V[@]}" --name YourStoredPassword
c_ok "secret recover"
c keyvault secret show "${V[@]}" --name YourStoredPassword --query value -o tsv
expect_eq "recovered value" second-value "$(out)"
c keyvault secret delete "${V[@]}" --name YourStoredPassword
c keyvault secret purge "${V[@]}" --name YourStoredPassword
c_ok "secret purge"
expect_eq "purge prints nothing" "" "$(out)"
c keyvault secret list-deleted "${V[@]}" --query "length(@)"
expect_eq "list-deleted empty after purge" 0 "$(out)"
c keyvault secret restore "${V[@]}" --file "$bk"
c_ok "secret restore --file"
c keyvault secret show "${V[@]}" --name YourStoredPassword --query value -o tsv
expect_eq "restored value" second-value "$(out)"
c keyvault secret list-versions "${V[@]}" --name YourStoredPassword --query "length(@)"
expect_eq "restored both versions" 2 "$(out)"
rm -f "$bk"

# ---- errors -----------------------------------------------------------------------------
c keyvault secret show "${V[@]}" --name does-not-exist
c_fails "show a missing secret"
if grep -q -i -e SecretNotFound -e 'not found' "$CE"; then pass "missing secret: stderr says not found"
else fail "missing secret: stderr says not found (got: $(head -c 200 "$CE"))"; fi
c keyvault secret show --vault-name no-such-vault --name x
c_fails "show in a missing vault"
c keyvault secret set "${V[@]}" --name bad_name --value x
c_fails "set with an invalid name"
c keyvault secret show "${V[@]}" --name x --query 'length('
c_fails "a syntax error in --query"
c keyvault secret nonsense-command
if [ "$RC" -ne 0 ]; then pass "unknown command exits non-zero"; else fail "unknown command exits non-zero"; fi

# ---- vault commands -----------------------------------------------------------------------
c keyvault list
c_ok "keyvault list"
expect_eq "keyvault list: Your-Vault once" 1 "$(q 'sum(1 for v in d if v["name"] == "Your-Vault")')"
expect_eq "keyvault list: the dev vault" 1 "$(q 'sum(1 for v in d if v["name"] == "'"$COFFER_VAULT_NAME"'")')"
c keyvault list --resource-group YourResourceGroup --query "[].name" -o tsv
expect_eq "keyvault list -g" Your-Vault "$(out)"
c keyvault show --name Your-Vault
c_ok "keyvault show"
expect_eq "show: id" "/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/YourResourceGroup/providers/Microsoft.KeyVault/vaults/Your-Vault" "$(q 'd["id"]')"
expect_eq "show: tenantId" "$AZURE_TENANT_ID" "$(q 'd["properties"]["tenantId"]')"
c keyvault update --name Your-Vault --enabled-for-deployment true
c_ok "keyvault update --enabled-for-deployment true"
c keyvault show --name Your-Vault --query properties.enabledForDeployment
expect_eq "update persisted" true "$(out)"
c keyvault show --name No-Such-Vault
c_fails "keyvault show of a missing vault"
c keyvault delete --name Your-Vault
c_ok "keyvault delete"
c keyvault show --name Your-Vault
c_fails "show of a deleted vault fails"
c keyvault secret show "${V[@]}" --name YourStoredPassword
c_fails "secrets of a deleted vault are unreachable"
c keyvault list-deleted --query "[?name=='Your-Vault'] | length(@)"
c_ok "keyvault list-deleted"
expect_eq "list-deleted has Your-Vault" 1 "$(out)"
c keyvault recover --name Your-Vault
c_ok "keyvault recover"
c keyvault secret show "${V[@]}" --name YourStoredPassword --query value -o tsv
expect_eq "recovered vault keeps its secrets" second-value "$(out)"
c keyvault delete --name Your-Vault
c_ok "keyvault delete (again)"
c keyvault purge --name Your-Vault
c_ok "keyvault purge"
c keyvault list-deleted --query "[?name=='Your-Vault'] | length(@)"
expect_eq "purged vault no longer listed as deleted" 0 "$(out)"
c keyvault create --name "Your-Vault" --resource-group "YourResourceGroup" --location westus
c_ok "vault name free again after purge"
c keyvault secret list "${V[@]}" --query "length(@)"
expect_eq "re-created vault is empty" 0 "$(out)"

# ---- resource groups ----------------------------------------------------------------------
c group create --name cli-rg --location westus
c_ok "group create"
expect_eq "group create: id" "/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/cli-rg" "$(q 'd["id"]')"
c group list --query "[?name=='cli-rg'] | length(@)"
c_ok "group list"
expect_eq "group list has cli-rg" 1 "$(out)"
c group list --query "[?name=='YourResourceGroup'] | length(@)"
expect_eq "group created implicitly by keyvault create is listed" 1 "$(out)"
c group show --name cli-rg --query location -o tsv
c_ok "group show"
expect_eq "group show location" westus "$(out)"
c group delete --name cli-rg --yes
c_ok "group delete --yes"
c group show --name cli-rg
c_fails "group show after delete"

# ---- the data dir and server are fine ------------------------------------------------------
c keyvault secret show --vault-name "$COFFER_VAULT_NAME" --name does-not-exist
c_fails "dev vault: missing secret"

# ==== keys (issue 12): coffer keyvault key ... against the dev vault ==========================
# Cross-checked with openssl: imported PEM keys, downloaded public keys, signatures and
# ciphertexts made on either side. Runs unless COFFER_E2E_KEYS=0.
if [ "${COFFER_E2E_KEYS:-1}" = 1 ]; then
K=(--vault-name "$COFFER_VAULT_NAME")
KD="$E2E_WORK/$SUITE-keys"
rm -rf "$KD"; mkdir -p "$KD"
b64file() { base64 -w0 <"$1"; }

c keyvault key create "${K[@]}" --name cli-rsa --kty RSA --size 2048 --tags env=e2e
c_ok "key create --kty RSA --size 2048 --tags"
expect_eq "key create: kty" RSA "$(q 'd["key"]["kty"]')"
expect_eq "key create: e (standard base64)" AQAB "$(q 'd["key"]["e"]')"
expect_eq "key create: n is 256 bytes" 256 "$(q 'len(__import__("base64").b64decode(d["key"]["n"]))')"
expect_eq "key create: default ops" "decrypt encrypt sign unwrapKey verify wrapKey" "$(q '" ".join(sorted(d["key"]["keyOps"]))')"
expect_eq "key create: no private member" "None None" "$(q 'str(d["key"]["d"]) + " " + str(d["key"]["p"])')"
expect_eq "key create: tags" '{"env": "e2e"}' "$(q 'd["tags"]')"
expect_eq "key create: az shape (top-level members)" "attributes key managed releasePolicy tags" "$(q '" ".join(sorted(d))')"
expect_eq "key create: versioned kid" true "$(q '__import__("re").fullmatch(r"https://[^/]+/keys/cli-rsa/[0-9a-f]{32}", d["key"]["kid"]) is not None')"
rsa_v1=$(q 'd["key"]["kid"].rsplit("/",1)[1]')
c keyvault key create "${K[@]}" --name cli-ec --curve P-384 --ops sign verify
c_ok "key create --curve P-384 --ops sign verify (kty EC from the curve)"
expect_eq "EC: kty/crv" "EC P-384" "$(q 'd["key"]["kty"] + " " + d["key"]["crv"]')"
expect_eq "EC: x is 48 bytes" 48 "$(q 'len(__import__("base64").b64decode(d["key"]["x"]))')"
expect_eq "EC: ops" "sign verify" "$(q '" ".join(sorted(d["key"]["keyOps"]))')"
c keyvault key create "${K[@]}" --name cli-bad --kty RSA --size 1000
c_fails "key create --size 1000 fails"
c keyvault key create "${K[@]}" --name cli-rsa --kty RSA
c_ok "key create on an existing name: a new version"
rsa_v2=$(q 'd["key"]["kid"].rsplit("/",1)[1]')
c keyvault key show "${K[@]}" --name cli-rsa --query key.kid -o tsv
expect_eq "key show: latest version" "$rsa_v2" "$(out | sed 's|.*/||')"
c keyvault key show "${K[@]}" --name cli-rsa --version "$rsa_v1" --query key.kid -o tsv
expect_eq "key show --version" "$rsa_v1" "$(out | sed 's|.*/||')"
c keyvault key list-versions "${K[@]}" --name cli-rsa --query "length(@)"
expect_eq "key list-versions: 2" 2 "$(out)"
c keyvault key list "${K[@]}" --query "[?name=='cli-rsa'] | [0].kid" -o tsv
c_ok "key list"
expect_eq "key list: unversioned kid, name from it" "cli-rsa" "$(out | sed 's|.*/keys/||')"
c keyvault key show "${K[@]}" --name no-such-key
if [ "$RC" -eq 3 ]; then pass "key show of a missing key exits 3"; else fail "key show of a missing key exits 3 (got $RC: $(head -c 200 "$CE"))"; fi

# Import PEMs made by openssl; download gives back exactly openssl's public key.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KD/rsa.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$KD/ec.pem" 2>/dev/null
openssl pkey -in "$KD/rsa.pem" -pubout -out "$KD/rsa.pub.pem" 2>/dev/null
openssl pkey -in "$KD/ec.pem" -pubout -out "$KD/ec.pub.pem" 2>/dev/null
c keyvault key import "${K[@]}" --name cli-imp-rsa --pem-file "$KD/rsa.pem"
c_ok "key import --pem-file (RSA)"
expect_eq "import: no private member echoed" None "$(q 'str(d["key"]["d"])')"
c keyvault key import "${K[@]}" --name cli-imp-ec --pem-string="$(cat "$KD/ec.pem")" --ops sign verify
c_ok "key import --pem-string=PEM (EC) --ops"
expect_eq "import EC: crv" P-256 "$(q 'd["key"]["crv"]')"
for k in rsa ec; do
    c keyvault key download "${K[@]}" --name "cli-imp-$k" --file "$KD/$k.dl.pem"
    c_ok "key download ($k, PEM)"
    if cmp -s "$KD/$k.dl.pem" "$KD/$k.pub.pem"; then pass "download ($k) equals openssl's public key PEM"
    else fail "download ($k) equals openssl's public key PEM"; fi
done
c keyvault key download "${K[@]}" --name cli-imp-rsa --file "$KD/rsa.dl.der" --encoding DER
c_ok "key download --encoding DER"
if openssl pkey -pubin -inform DER -in "$KD/rsa.dl.der" -outform PEM 2>/dev/null | cmp -s - "$KD/rsa.pub.pem"; then
    pass "DER download parses in openssl to the same key"; else fail "DER download parses in openssl to the same key"; fi
c keyvault key download "${K[@]}" --name cli-imp-rsa --file "$KD/rsa.dl.der"
c_fails "key download refuses an existing file"

# Sign / verify with openssl on the other side.
printf 'message for coffer' >"$KD/msg"
openssl dgst -sha256 -binary "$KD/msg" >"$KD/msg.sha256"
dg=$(b64file "$KD/msg.sha256")
c keyvault key sign "${K[@]}" --name cli-imp-rsa -a RS256 --digest "$dg"
c_ok "key sign -a RS256"
expect_eq "sign: result members" "algorithm keyId signature" "$(q '" ".join(sorted(d))')"
q 'd["signature"]' | base64 -d >"$KD/sig.rs256" 2>/dev/null
if openssl pkeyutl -verify -pubin -inkey "$KD/rsa.pub.pem" -in "$KD/msg.sha256" -sigfile "$KD/sig.rs256" \
    -pkeyopt digest:sha256 >/dev/null 2>&1; then pass "openssl verifies coffer's RS256 signature"
else fail "openssl verifies coffer's RS256 signature"; fi
c keyvault key verify "${K[@]}" --name cli-imp-rsa -a RS256 --digest "$dg" --signature "$(b64file "$KD/sig.rs256")"
expect_eq "key verify: isValid" true "$(q 'd["isValid"]')"
openssl pkeyutl -sign -inkey "$KD/ec.pem" -in "$KD/msg.sha256" -out "$KD/sig.der" 2>/dev/null
# openssl makes DER; the service wants r||s (JOSE).
"$PY" - "$KD/sig.der" "$KD/sig.es256" <<'PYEOF'
import sys
der = open(sys.argv[1], "rb").read()
def read_int(b, i):
    assert b[i] == 2; n = b[i + 1]; return int.from_bytes(b[i + 2:i + 2 + n], "big"), i + 2 + n
i = 2 if der[1] < 0x80 else 3
r, i = read_int(der, i); s, _ = read_int(der, i)
open(sys.argv[2], "wb").write(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
PYEOF
c keyvault key verify "${K[@]}" --name cli-imp-ec -a ES256 --digest "$dg" --signature "$(b64file "$KD/sig.es256")"
c_ok "key verify -a ES256 (openssl's signature)"
expect_eq "coffer verifies openssl's ES256 signature" true "$(q 'd["isValid"]')"
c keyvault key sign "${K[@]}" --name cli-imp-ec -a ES256 --digest "$dg"
expect_eq "ES256 signature is 64 bytes (r||s)" 64 "$(q 'len(__import__("base64").b64decode(d["signature"]))')"
c keyvault key verify "${K[@]}" --name cli-imp-ec -a ES256 --digest "$dg" --signature "$(q 'd["signature"]')"
expect_eq "coffer verifies its own ES256 signature" true "$(q 'd["isValid"]')"
c keyvault key sign "${K[@]}" --name cli-imp-rsa -a RS256 --digest "$(printf 'short' | base64)"
c_fails "sign with a 5-byte digest fails"
if grep -q 'RS256 requires 32 bytes' "$CE"; then pass "wrong digest length: service message"
else fail "wrong digest length: service message (got: $(head -c 200 "$CE"))"; fi
c keyvault key sign "${K[@]}" --name cli-imp-rsa -a XS256 --digest "$dg"
c_fails "sign with an unknown algorithm fails"

# Encrypt / decrypt across coffer and openssl.
printf 'plain text for OAEP' >"$KD/pt"
openssl pkeyutl -encrypt -pubin -inkey "$KD/rsa.pub.pem" -in "$KD/pt" -out "$KD/ct" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 2>/dev/null
c keyvault key decrypt "${K[@]}" --name cli-imp-rsa -a RSA-OAEP-256 --value "$(b64file "$KD/ct")" --data-type plaintext
c_ok "key decrypt -a RSA-OAEP-256 --data-type plaintext"
expect_eq "coffer decrypts openssl's RSA-OAEP-256" "plain text for OAEP" "$(q 'd["result"]')"
c keyvault key encrypt "${K[@]}" --name cli-imp-rsa -a RSA-OAEP --value "secret words" --data-type plaintext
c_ok "key encrypt -a RSA-OAEP --data-type plaintext"
expect_eq "encrypt: result members" "aad algorithm iv kid result tag" "$(q '" ".join(sorted(d))')"
q 'd["result"]' | base64 -d >"$KD/ct2" 2>/dev/null
expect_eq "openssl decrypts coffer's RSA-OAEP" "secret words" \
    "$(openssl pkeyutl -decrypt -inkey "$KD/rsa.pem" -in "$KD/ct2" -pkeyopt rsa_padding_mode:oaep 2>/dev/null)"
c keyvault key decrypt "${K[@]}" --name cli-imp-rsa -a RSA-OAEP --value "$(b64file "$KD/ct2")"
expect_eq "decrypt (base64 result)" "$(printf 'secret words' | base64)" "$(q 'd["result"]')"
c keyvault key encrypt "${K[@]}" --name cli-imp-ec -a RSA-OAEP --value aGk=
c_fails "encrypt with an EC key fails"

# Attributes, disabled key, key_ops.
c keyvault key set-attributes "${K[@]}" --name cli-imp-rsa --enabled false --tags t=1 --expires 2031-01-01T00:00:00Z
c_ok "key set-attributes --enabled false --tags --expires"
expect_eq "set-attributes: enabled/expires/tags" "False 2031-01-01T00:00:00+00:00 {'t': '1'}" \
    "$(q 'str(d["attributes"]["enabled"]) + " " + d["attributes"]["expires"] + " " + str(d["tags"])')"
c keyvault key sign "${K[@]}" --name cli-imp-rsa -a RS256 --digest "$dg"
c_fails "sign with a disabled key fails"
if grep -q -i forbidden "$CE"; then pass "disabled key: stderr says Forbidden"
else fail "disabled key: stderr says Forbidden (got: $(head -c 200 "$CE"))"; fi
c keyvault key set-attributes "${K[@]}" --name cli-imp-rsa --enabled true --ops verify
c_ok "key set-attributes --enabled true --ops verify"
expect_eq "set-attributes --ops" verify "$(q '" ".join(d["key"]["keyOps"])')"
c keyvault key sign "${K[@]}" --name cli-imp-rsa -a RS256 --digest "$dg"
c_fails "sign outside key_ops fails"

# Rotation and its policy.
printf '%s' '{"lifetime_actions":[{"trigger":{"time_after_create":"P90D"},"action":{"type":"Rotate"}},{"trigger":{"time_before_expiry":"P30D"},"action":{"type":"Notify"}}],"attributes":{"expiry_time":"P2Y"}}' >"$KD/policy.json"
c keyvault key rotation-policy update "${K[@]}" --name cli-ec --value "$KD/policy.json"
c_ok "key rotation-policy update --value FILE (az's snake_case form)"
expect_eq "policy: expiresIn" P2Y "$(q 'd["expiresIn"]')"
c keyvault key rotation-policy show "${K[@]}" --name cli-ec
c_ok "key rotation-policy show"
expect_eq "policy: actions" "Notify::P30D Rotate:P90D:" \
    "$(q '" ".join(sorted("%s:%s:%s" % (a["action"], a["timeAfterCreate"] or "", a["timeBeforeExpiry"] or "") for a in d["lifetimeActions"]))')"
c keyvault key rotate "${K[@]}" --name cli-ec
c_ok "key rotate"
expect_eq "rotate: same type and curve" "EC P-384" "$(q 'd["key"]["kty"] + " " + d["key"]["crv"]')"
expect_eq "rotate: expiry from the policy (about 2 years)" true \
    "$(q '700 < (__import__("datetime").datetime.fromisoformat(d["attributes"]["expires"]).timestamp() - __import__("time").time()) / 86400 < 760')"
c keyvault key list-versions "${K[@]}" --name cli-ec --query "length(@)"
expect_eq "rotate added a version" 2 "$(out)"

# Backup, delete, recover, purge, restore.
c keyvault key backup "${K[@]}" --name cli-rsa --file "$KD/rsa.bak"
c_ok "key backup --file"
c keyvault key delete "${K[@]}" --name cli-rsa
c_ok "key delete"
expect_eq "delete: recoveryId" "https://$COFFER_VAULT_NAME.$COFFER_DNS_SUFFIX:$COFFER_PORT/deletedkeys/cli-rsa" "$(q 'd["recoveryId"]')"
c keyvault key show "${K[@]}" --name cli-rsa
c_fails "show of a deleted key fails"
c keyvault key show-deleted "${K[@]}" --name cli-rsa --query key.kty -o tsv
expect_eq "key show-deleted" RSA "$(out)"
c keyvault key list-deleted "${K[@]}" --query "[?name=='cli-rsa'] | length(@)"
expect_eq "key list-deleted has it" 1 "$(out)"
c keyvault key create "${K[@]}" --name cli-rsa
c_fails "create on a soft-deleted name fails"
c keyvault key recover "${K[@]}" --name cli-rsa
c_ok "key recover"
for i in 1 2 3 4 5 6 7 8 9 10; do
    c keyvault key show "${K[@]}" --name cli-rsa --query key.kid -o tsv
    [ "$RC" -eq 0 ] && break
    sleep 0.2
done
expect_eq "recovered: latest version kept" "$rsa_v2" "$(out | sed 's|.*/||')"
c keyvault key delete "${K[@]}" --name cli-rsa
c keyvault key purge "${K[@]}" --name cli-rsa
c_ok "key purge"
expect_eq "purge prints nothing" "" "$(out)"
c keyvault key restore "${K[@]}" --file "$KD/rsa.bak"
c_ok "key restore --file"
c keyvault key list-versions "${K[@]}" --name cli-rsa --query "[].kid" -o tsv
expect_eq "restore: both version ids back" "$(printf '%s\n' "$rsa_v1" "$rsa_v2" | sort | tr '\n' ' ')" \
    "$(sed 's|.*/||' "$CO" | sort | tr '\n' ' ')"

c keyvault key random "${K[@]}" --count 16
c_ok "key random --count 16"
expect_eq "random: 16 bytes" 16 "$(q 'len(__import__("base64").b64decode(d["value"]))')"
c keyvault key create "${K[@]}" --name cli-table --kty EC -o table
c_ok "key create -o table"
rm -rf "$KD"
fi

# ==== certificates (issue 13): coffer keyvault certificate ... against the dev vault ==========
# openssl cross-checks: the downloaded PEM/DER is the certificate (thumbprint), the secret's key
# matches it, a CSR from `pending show` signed by an openssl CA merges and verifies.
K=(--vault-name "$COFFER_VAULT_NAME")
CD="$E2E_WORK/$SUITE-certs"
rm -rf "$CD"; mkdir -p "$CD"
hexfp() { openssl x509 -in "$1" -inform "${2:-PEM}" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }

c keyvault certificate get-default-policy
c_ok "certificate get-default-policy"
expect_eq "default policy: az's subject and renewal" "CN=CLIGetDefaultPolicy AutoRenew 90" \
    "$(q 'd["x509CertificateProperties"]["subject"] + " " + d["lifetimeActions"][0]["action"]["actionType"] + " " + str(d["lifetimeActions"][0]["trigger"]["daysBeforeExpiry"])')"
cp "$CO" "$CD/default.json"
c keyvault certificate create "${K[@]}" --name cli-cert --policy "@$CD/default.json" --validity 6 --tags team=e2e
c_ok "certificate create --policy @default.json --validity 6 --tags"
expect_eq "create: the operation completed" "completed cli-cert" "$(q 'd["status"] + " " + d["name"]')"
c keyvault certificate show "${K[@]}" --name cli-cert
c_ok "certificate show"
expect_eq "show: az shape (top-level members)" "attributes cer contentType id kid name policy sid tags x509Thumbprint x509ThumbprintHex" "$(q '" ".join(sorted(d))')"
expect_eq "show: policy keyProperties" "RSA 2048 True" "$(q 'd["policy"]["keyProperties"]["keyType"] + " " + str(d["policy"]["keyProperties"]["keySize"]) + " " + str(d["policy"]["keyProperties"]["reuseKey"])')"
expect_eq "show: --validity overrode the policy" 6 "$(q 'd["policy"]["x509CertificateProperties"]["validityInMonths"]')"
expect_eq "show: tags" '{"team": "e2e"}' "$(q 'd["tags"]')"
cert_v1=$(q 'd["id"].rsplit("/", 1)[1]')
thumb=$(q 'd["x509ThumbprintHex"]')
c keyvault certificate download "${K[@]}" --name cli-cert --file "$CD/c.pem"
c_ok "certificate download (PEM default)"
expect_eq "downloaded PEM: openssl's SHA-1 fingerprint = x509ThumbprintHex" "$thumb" "$(hexfp "$CD/c.pem")"
expect_eq "downloaded PEM: subject" "subject=CN = CLIGetDefaultPolicy" "$(openssl x509 -in "$CD/c.pem" -noout -subject)"
if openssl verify -CAfile "$CD/c.pem" -partial_chain "$CD/c.pem" >/dev/null 2>&1 ||
    openssl x509 -in "$CD/c.pem" -noout -text | grep -q 'Signature Algorithm: sha256WithRSAEncryption'; then
    pass "downloaded PEM: openssl reads a sha256WithRSA self-signed certificate"
else fail "downloaded PEM: openssl reads a sha256WithRSA self-signed certificate"; fi
expect_eq "downloaded PEM: 76-column lines (az's encodebytes)" 76 "$(sed -n 2p "$CD/c.pem" | tr -d '\n' | wc -c)"
c keyvault certificate download "${K[@]}" --name cli-cert --file "$CD/c.der" --encoding DER
c_ok "certificate download --encoding DER"
expect_eq "downloaded DER: same fingerprint" "$thumb" "$(hexfp "$CD/c.der" DER)"
c keyvault certificate download "${K[@]}" --name cli-cert --file "$CD/c.der"
c_fails "certificate download onto an existing file"
# The certificate's secret (the PFX) through the secret commands; its key matches.
c keyvault secret show "${K[@]}" --name cli-cert --query value -o tsv
c_ok "secret show on the certificate's name"
base64 -d <"$CO" >"$CD/c.pfx"
openssl pkcs12 -in "$CD/c.pfx" -passin pass: -nodes -nocerts 2>/dev/null | openssl pkey -pubout 2>/dev/null >"$CD/k.pub"
expect_eq "the PFX key matches the certificate (openssl)" "$(openssl x509 -in "$CD/c.pem" -noout -pubkey | sha256sum)" "$(sha256sum <"$CD/k.pub")"
rm -f "$CD/c.pfx"

# Versions, list, set-attributes.
c keyvault certificate create "${K[@]}" --name cli-cert --policy "@$CD/default.json"
c_ok "certificate create (second version)"
c keyvault certificate list-versions "${K[@]}" --name cli-cert --query "length(@)"
expect_eq "list-versions: two" 2 "$(out)"
c keyvault certificate list "${K[@]}" --query "[?name=='cli-cert'] | length(@)"
c_ok "certificate list"
expect_eq "list: one item per name" 1 "$(out)"
c keyvault certificate set-attributes "${K[@]}" --name cli-cert --version "$cert_v1" --enabled false --tags gen=1
c_ok "certificate set-attributes --version --enabled false --tags"
expect_eq "set-attributes: disabled, tags" "False gen=1" "$(q 'str(d["attributes"]["enabled"]) + " gen=" + d["tags"]["gen"]')"
c keyvault certificate show "${K[@]}" --name cli-cert --version "$cert_v1" --query attributes.enabled
expect_eq "show --version: disabled" false "$(out)"
c keyvault certificate show "${K[@]}" --name cli-nothing
expect_eq "show of a missing certificate exits 3" 3 "$RC"

# Import a PFX with a password and a PEM made by openssl.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CD/i.key" -out "$CD/i.pem" \
    -days 3 -subj "/CN=cli-import" 2>/dev/null
openssl pkcs12 -export -inkey "$CD/i.key" -in "$CD/i.pem" -passout pass:cli-pass -out "$CD/i.pfx" 2>/dev/null
c keyvault certificate import "${K[@]}" --name cli-imp --file "$CD/i.pfx" --password cli-pass
c_ok "certificate import --file PFX --password"
expect_eq "import PFX: the same certificate" "$(hexfp "$CD/i.pem")" "$(q 'd["x509ThumbprintHex"]')"
expect_eq "import PFX: pkcs12 content, issuer Unknown" "application/x-pkcs12 Unknown" "$(q 'd["contentType"] + " " + d["policy"]["issuerParameters"]["name"]')"
cat "$CD/i.key" "$CD/i.pem" >"$CD/i-both.pem"
c keyvault certificate import "${K[@]}" --name cli-imp-pem --file "$CD/i-both.pem"
c_ok "certificate import --file PEM"
expect_eq "import PEM: pem content type" application/x-pem-file "$(q 'd["contentType"]')"
c keyvault secret show "${K[@]}" --name cli-imp-pem --query value -o tsv
expect_eq "import PEM: the secret's key is the imported one" "$(openssl pkey -in "$CD/i.key" -pubout | sha256sum)" \
    "$(openssl pkey -in "$CO" -pubout 2>/dev/null | sha256sum)"
c keyvault certificate import "${K[@]}" --name cli-imp2 --file "$CD/i.pfx" --password wrong
c_fails "certificate import with a wrong password"

# Unknown issuer: pending show -> CSR -> openssl CA signs -> pending merge.
cat >"$CD/unknown.json" <<'JSON'
{"issuer_parameters": {"name": "Unknown"}, "x509_certificate_properties": {"subject": "CN=cli-merge"},
 "key_properties": {"key_type": "RSA", "key_size": 2048}}
JSON
c keyvault certificate create "${K[@]}" --name cli-merge --policy "@$CD/unknown.json"
c_ok "certificate create (Unknown issuer)"
expect_eq "Unknown: the operation waits for a merge" inProgress "$(q 'd["status"]')"
c keyvault certificate pending show "${K[@]}" --name cli-merge
c_ok "certificate pending show"
q 'd["csr"]' | base64 -d >"$CD/m.csr.der"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CD/ca.key" -out "$CD/ca.pem" -days 2 -subj "/CN=cli CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl x509 -req -inform DER -in "$CD/m.csr.der" -CA "$CD/ca.pem" -CAkey "$CD/ca.key" -set_serial 7 -days 1 \
    -out "$CD/m.pem" 2>/dev/null
cat "$CD/m.pem" "$CD/ca.pem" >"$CD/chain.pem"
c keyvault certificate pending merge "${K[@]}" --name cli-merge --file "$CD/chain.pem"
c_ok "certificate pending merge --file chain.pem"
expect_eq "merge: the CA-signed certificate" "$(hexfp "$CD/m.pem")" "$(q 'd["x509ThumbprintHex"]')"
c keyvault certificate download "${K[@]}" --name cli-merge --file "$CD/merged.pem"
expect_ok "merged certificate verifies to the openssl CA" openssl verify -CAfile "$CD/ca.pem" "$CD/merged.pem"
c keyvault certificate pending show "${K[@]}" --name cli-merge --query status -o tsv
expect_eq "pending show after merge: completed" completed "$(out)"
c keyvault certificate create "${K[@]}" --name cli-pend --policy "@$CD/unknown.json"
c keyvault certificate pending delete "${K[@]}" --name cli-pend
c_ok "certificate pending delete"
c keyvault certificate pending show "${K[@]}" --name cli-pend
expect_eq "pending show after delete exits 3" 3 "$RC"

# Backup, delete, recover, purge, restore.
c keyvault certificate backup "${K[@]}" --name cli-cert --file "$CD/cert.bak"
c_ok "certificate backup --file"
c keyvault certificate delete "${K[@]}" --name cli-cert
c_ok "certificate delete"
expect_eq "delete: recoveryId" "https://$COFFER_VAULT_NAME.$COFFER_DNS_SUFFIX:$COFFER_PORT/deletedcertificates/cli-cert" "$(q 'd["recoveryId"]')"
c keyvault certificate list-deleted "${K[@]}" --query "[?name=='cli-cert'] | length(@)"
expect_eq "list-deleted: the certificate" 1 "$(out)"
c keyvault certificate show-deleted "${K[@]}" --name cli-cert --query name -o tsv
expect_eq "show-deleted" cli-cert "$(out)"
c keyvault certificate recover "${K[@]}" --name cli-cert
c_ok "certificate recover"
c keyvault certificate delete "${K[@]}" --name cli-cert
c keyvault certificate purge "${K[@]}" --name cli-cert
c_ok "certificate purge"
expect_eq "purge prints nothing" "" "$(out)"
c keyvault certificate restore "${K[@]}" --file "$CD/cert.bak"
c_ok "certificate restore --file"
c keyvault certificate list-versions "${K[@]}" --name cli-cert --query "length(@)"
expect_eq "restore: both versions back" 2 "$(out)"

# Contacts and issuers.
c keyvault certificate contact add "${K[@]}" --email a@coffer.test --name "Ada" --phone 111
c_ok "certificate contact add"
c keyvault certificate contact add "${K[@]}" --email b@coffer.test
c keyvault certificate contact list "${K[@]}" --query "contactList[].emailAddress" -o tsv
expect_eq "contact list" "a@coffer.test b@coffer.test" "$(tr '\n' ' ' <"$CO" | sed 's/ $//')"
c keyvault certificate contact add "${K[@]}" --email a@coffer.test
c_fails "contact add of an existing e-mail"
c keyvault certificate contact delete "${K[@]}" --email a@coffer.test
c_ok "certificate contact delete"
expect_eq "contact delete: the rest stays" b@coffer.test "$(q '" ".join(x["emailAddress"] for x in d["contactList"])')"
c keyvault certificate contact delete "${K[@]}" --email b@coffer.test
c keyvault certificate contact list "${K[@]}" --query "length(contactList)"
expect_eq "contacts empty after deleting the last" 0 "$(out)"
c keyvault certificate issuer create "${K[@]}" --issuer-name cli-iss --provider-name Test --account-id acct --password issuer-pass
c_ok "certificate issuer create"
expect_eq "issuer create: account, no password" "Test acct None" "$(q 'd["provider"] + " " + d["credentials"]["accountId"] + " " + str(d["credentials"]["password"])')"
if grep -q issuer-pass "$CO"; then fail "issuer create: the password is not printed"; else pass "issuer create: the password is not printed"; fi
c keyvault certificate issuer update "${K[@]}" --issuer-name cli-iss --account-id acct2 --enabled false
c_ok "certificate issuer update --enabled false"
expect_eq "issuer update" "acct2 False Test" "$(q 'd["credentials"]["accountId"] + " " + str(d["attributes"]["enabled"]) + " " + d["provider"]')"
c keyvault certificate issuer list "${K[@]}" --query "[].provider" -o tsv
expect_eq "issuer list" Test "$(out)"
c keyvault certificate issuer show "${K[@]}" --issuer-name cli-iss --query provider -o tsv
expect_eq "issuer show" Test "$(out)"
c keyvault certificate issuer delete "${K[@]}" --issuer-name cli-iss
c_ok "certificate issuer delete"
c keyvault certificate issuer show "${K[@]}" --issuer-name cli-iss
expect_eq "issuer show after delete exits 3" 3 "$RC"
c keyvault certificate create "${K[@]}" --name cli-bad --policy '{"key_properties": 5}'
c_fails "certificate create with a malformed policy"
rm -rf "$CD"

e2e_stop
exit 0
