#!/usr/bin/env bash
# certificates suite (issue 13, server side): the server's private CA through `coffer ca
# create/show`, a certificate issued by it (issuer CofferCA) whose PEM and PFX secrets verify
# with `openssl verify -CAfile ca.pem` and whose key matches the certificate; backup/restore of
# a certificate into another vault; the managed key and secret refusing direct writes (403);
# a preserveCertOrder import with the CA first (PEM and PFX secrets keep the order, x5t is the
# leaf's), and of a PFX whose bags list the CA first (the file's order kept, openssl verify);
# includePending through the CLI and, for a cancelled pending-only certificate, page by page; an
# import whose policy key_props do not describe the key (400, nothing stored); dev_month_seconds
# refused without --dev, and a
# minute-scale AutoRenew watched through the SDK (js/certrenew.sdk.mjs, a 40 s month, a 2 s
# janitor); and (when Debian's pebble is installed) the Acme issuer against pebble on loopback.
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
W="$E2E_WORK/$SUITE-files"
mkdir -p "$W"
CO="$E2E_WORK/$SUITE.cli.out"
CE="$E2E_WORK/$SUITE.cli.err"
AV="api-version=7.5"

c() {
    timeout 120 "$COFFER" "$@" >"$CO" 2>"$CE"
    RC=$?
    { echo "### coffer $*"; cat "$CO" "$CE"; } >>"$E2E_WORK/$SUITE.cli.log"
}
c_ok() {
    if [ "$RC" -eq 0 ]; then pass "$1"; else
        fail "$1 (exit $RC: $(head -c 300 "$CE" | tr '\n' ' '))"; fi
}
q() { jget "$CO" "$1"; }
b() { jget "$RB" "$1"; }

c login
c_ok "coffer login"

# ---- the private CA -------------------------------------------------------------------------
c ca show
expect_eq "ca show before create exits 3 (not found)" 3 "$RC"
c ca create --subject "CN=Coffer E2E Root, O=Coffer" --kty EC --validity-months 24 \
    --file "$W/ca.pem"
c_ok "coffer ca create --subject ... --kty EC --file ca.pem"
expect_eq "ca create: issuerName" CofferCA "$(q 'd["issuerName"]')"
expect_eq "ca create: subject" "CN=Coffer E2E Root, O=Coffer" "$(q 'd["subject"]')"
expect_eq "ca create: kty" EC "$(q 'd["kty"]')"
ca_bc=$(openssl x509 -in "$W/ca.pem" -noout -ext basicConstraints 2>/dev/null | tr -d ' \n')
expect_eq "ca.pem is a CA root (basicConstraints critical CA:TRUE)" \
    "X509v3BasicConstraints:criticalCA:TRUE,pathlen:0" "$ca_bc"
expect_eq "ca.pem subject" "subject=CN = Coffer E2E Root, O = Coffer" \
    "$(openssl x509 -in "$W/ca.pem" -noout -subject 2>/dev/null)"
c ca create
expect_eq "a second ca create is refused" 1 "$((RC != 0))"
c ca show --file "$W/ca2.pem"
c_ok "coffer ca show --file ca2.pem"
expect_eq "ca show writes the same root" "$(sha256sum <"$W/ca.pem")" "$(sha256sum <"$W/ca2.pem")"

# ---- a certificate issued by the CA ---------------------------------------------------------
TOK=$(get_token "$(vault_resource)/.default")
[ -n "$TOK" ] && pass "vault token" || fail "vault token"
H=(-H "Authorization: Bearer $TOK" -H "Content-Type: application/json")
VU=$COFFER_VAULT_URL

req POST "$VU/certificates/int1/create?$AV" "${H[@]}" --data \
    '{"policy":{"issuer":{"name":"CofferCA"},"key_props":{"kty":"EC"},"secret_props":{"contentType":"application/x-pem-file"},"x509_props":{"subject":"CN=int1.internal","sans":{"dns_names":["int1.internal"]},"validity_months":6}}}'
expect_eq "create (CofferCA, PEM): 202" 202 "$CODE"
expect_eq "create: 202 body names the issuer" CofferCA "$(b 'd["issuer"]["name"]')"
req GET "$VU/certificates/int1/pending?$AV" "${H[@]}"
expect_eq "pending: completed with target" "completed $VU/certificates/int1" \
    "$(b 'd["status"]') $(b 'd["target"]')"
req GET "$VU/secrets/int1?$AV" "${H[@]}"
expect_eq "secret of the certificate: 200" 200 "$CODE"
expect_eq "secret: PEM content type, managed" "application/x-pem-file true" \
    "$(b 'd["contentType"]') $(b 'd["managed"]')"
"$PY" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["value"])' "$RB" \
    >"$W/int1.pem"
chmod 600 "$W/int1.pem"
expect_eq "PEM secret holds the leaf and the root" 2 "$(grep -c 'BEGIN CERTIFICATE' "$W/int1.pem")"
openssl x509 -in "$W/int1.pem" -out "$W/int1-leaf.pem" 2>/dev/null
expect_eq "openssl verify -CAfile ca.pem (PEM leaf)" "$W/int1-leaf.pem: OK" \
    "$(openssl verify -CAfile "$W/ca.pem" "$W/int1-leaf.pem" 2>&1)"
expect_eq "leaf issuer is the CA" "issuer=CN = Coffer E2E Root, O = Coffer" \
    "$(openssl x509 -in "$W/int1-leaf.pem" -noout -issuer 2>/dev/null)"
expect_eq "the PEM's key matches its certificate" \
    "$(openssl x509 -in "$W/int1-leaf.pem" -noout -pubkey 2>/dev/null | sha256sum)" \
    "$(openssl pkey -in "$W/int1.pem" -pubout 2>/dev/null | sha256sum)"
req POST "$VU/certificates/self1/create?$AV" "${H[@]}" --data \
    '{"policy":{"issuer":{"name":"Self"},"x509_props":{"subject":"CN=self1"}}}'
req GET "$VU/certificates/self1?$AV" "${H[@]}"
{ echo '-----BEGIN CERTIFICATE-----'; b 'd["cer"]' | fold -w 64; echo '-----END CERTIFICATE-----'; } \
    >"$W/self1.pem"
openssl verify -CAfile "$W/ca.pem" "$W/self1.pem" >/dev/null 2>&1
expect_eq "a self-signed certificate does not verify against ca.pem" 2 "$?"

# PFX flavour through an issuer object whose provider is CofferCA
req PUT "$VU/certificates/issuers/internal?$AV" "${H[@]}" --data '{"provider":"CofferCA"}'
expect_eq "issuer object with provider CofferCA: 200" 200 "$CODE"
req POST "$VU/certificates/int2/create?$AV" "${H[@]}" --data \
    '{"policy":{"issuer":{"name":"internal"},"x509_props":{"subject":"CN=int2.internal"}}}'
expect_eq "create (issuer internal, PFX): 202" 202 "$CODE"
req GET "$VU/certificates/int2/pending?$AV" "${H[@]}"
expect_eq "create (issuer internal): completed" completed "$(b 'd["status"]')"
req GET "$VU/secrets/int2?$AV" "${H[@]}"
"$PY" -c 'import base64,json,sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["value"]))' \
    "$RB" >"$W/int2.pfx"
chmod 600 "$W/int2.pfx"
openssl pkcs12 -in "$W/int2.pfx" -passin pass: -nokeys -clcerts -out "$W/int2-leaf.pem" 2>/dev/null
openssl pkcs12 -in "$W/int2.pfx" -passin pass: -nokeys -cacerts -out "$W/int2-chain.pem" 2>/dev/null
expect_eq "openssl verify -CAfile ca.pem (PFX leaf)" "$W/int2-leaf.pem: OK" \
    "$(openssl verify -CAfile "$W/ca.pem" "$W/int2-leaf.pem" 2>&1)"
expect_eq "the PFX carries the CA root" "$(openssl x509 -in "$W/ca.pem" -noout -fingerprint)" \
    "$(openssl x509 -in "$W/int2-chain.pem" -noout -fingerprint 2>/dev/null)"
expect_eq "the PFX key matches its certificate" \
    "$(openssl x509 -in "$W/int2-leaf.pem" -noout -pubkey 2>/dev/null | sha256sum)" \
    "$(openssl pkcs12 -in "$W/int2.pfx" -passin pass: -nocerts -nodes 2>/dev/null | openssl pkey -pubout 2>/dev/null | sha256sum)"

# ---- managed key and secret -----------------------------------------------------------------
req PUT "$VU/secrets/int1?$AV" "${H[@]}" --data '{"value":"x"}'
expect_eq "PUT /secrets/{certificate}: 403" 403 "$CODE"
req DELETE "$VU/secrets/int1?$AV" "${H[@]}"
expect_eq "DELETE /secrets/{certificate}: 403" 403 "$CODE"
req PATCH "$VU/keys/int1?$AV" "${H[@]}" --data '{"attributes":{"enabled":false}}'
expect_eq "PATCH /keys/{certificate}: 403" 403 "$CODE"
req DELETE "$VU/keys/int1?$AV" "${H[@]}"
expect_eq "DELETE /keys/{certificate}: 403" 403 "$CODE"

# ---- backup / restore into another vault ----------------------------------------------------
req POST "$VU/certificates/int1/backup?$AV" "${H[@]}"
expect_eq "backup: 200" 200 "$CODE"
"$PY" -c 'import json,sys; print(json.dumps({"value": json.load(open(sys.argv[1]))["value"]}))' \
    "$RB" >"$W/int1.backup.json"
req POST "$VU/certificates/restore?$AV" "${H[@]}" --data @"$W/int1.backup.json"
expect_eq "restore onto the live name: 409" 409 "$CODE"
c keyvault create --name certs-two --resource-group "$COFFER_RESOURCE_GROUP" --location westus
c_ok "second vault certs-two"
VU2="https://certs-two.$COFFER_DNS_SUFFIX:$COFFER_PORT"
req POST "$VU2/certificates/restore?$AV" "${H[@]}" --data @"$W/int1.backup.json"
expect_eq "restore into certs-two: 200" 200 "$CODE"
expect_eq "restored id is the name's in certs-two" "$VU2/certificates/int1" \
    "$(b 'd["id"].rsplit("/",1)[0]')"
req GET "$VU2/secrets/int1?$AV" "${H[@]}"
"$PY" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["value"])' "$RB" \
    >"$W/int1-restored.pem"
chmod 600 "$W/int1-restored.pem"
expect_eq "restored secret is the same PEM" "$(sha256sum <"$W/int1.pem")" \
    "$(sha256sum <"$W/int1-restored.pem")"
req POST "$VU2/keys/int1/sign?$AV" "${H[@]}" --data \
    '{"alg":"ES256","value":"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"}'
expect_eq "restored key signs in certs-two" 200 "$CODE"

# ---- preserveCertOrder with the CA first (fuzz seed fuzz_pem/ec_chain_ca_first_preserve) ------
# openssl makes a CA and a leaf; the PEM lists the CA, then the leaf, then the key. Imported with
# preserveCertOrder the bundle's x5t/cer are the leaf's and both secret forms keep the order.
(cd "$W" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout oca.key         -out oca.pem -days 30 -subj "/CN=Order CA" >/dev/null 2>&1 &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout oleaf.key         -out oleaf.csr -subj "/CN=order.leaf" >/dev/null 2>&1 &&
    openssl x509 -req -in oleaf.csr -CA oca.pem -CAkey oca.key -set_serial 7 -days 3         -out oleaf.pem >/dev/null 2>&1 &&
    cat oca.pem oleaf.pem oleaf.key >ocafirst.pem)
leaf_x5t=$(openssl x509 -in "$W/oleaf.pem" -outform DER 2>/dev/null | openssl dgst -sha1 -binary |
    "$PY" -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).decode().rstrip("="))')
for ct in application/x-pem-file application/x-pkcs12; do
    n=order-${ct##*/x-}
    "$PY" -c 'import json,sys; print(json.dumps({"value": open(sys.argv[1]).read(), "preserveCertOrder": True, "policy": {"secret_props": {"contentType": sys.argv[2]}}}))'         "$W/ocafirst.pem" "$ct" >"$W/$n.json"
    req POST "$VU/certificates/$n/import?api-version=7.6" "${H[@]}" --data @"$W/$n.json"
    expect_eq "import CA-first PEM with preserveCertOrder ($ct): 200" 200 "$CODE"
    expect_eq "preserved import ($ct): x5t is the leaf's, subject from the leaf" \
        "$leaf_x5t CN=order.leaf true" \
        "$(b 'd["x5t"]') $(b 'd["policy"]["x509_props"]["subject"]') $(b 'd.get("preserveCertOrder")')"
    req GET "$VU/secrets/$n?$AV" "${H[@]}"
    if [ "$ct" = application/x-pem-file ]; then
        "$PY" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["value"])' "$RB" >"$W/$n.out"
        order=$(openssl crl2pkcs7 -nocrl -certfile "$W/$n.out" 2>/dev/null |
            openssl pkcs7 -print_certs -noout 2>/dev/null | grep -o 'subject=.*' | tr '\n' ';')
    else
        "$PY" -c 'import base64,json,sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["value"]))' \
            "$RB" >"$W/$n.pfx"
        openssl pkcs12 -in "$W/$n.pfx" -passin pass: -nodes -out "$W/$n.out" 2>/dev/null
        order=$(openssl pkcs12 -in "$W/$n.pfx" -passin pass: -nokeys 2>/dev/null |
            grep -o '^subject=.*' | tr '\n' ';')
    fi
    chmod 600 "$W/$n.out"
    expect_eq "preserved import ($ct): the secret lists the CA, then the leaf" \
        "subject=CN = Order CA;subject=CN = order.leaf;" "$order"
    expect_eq "preserved import ($ct): the secret's key is the leaf's" \
        "$(openssl x509 -in "$W/oleaf.pem" -noout -pubkey 2>/dev/null | sha256sum)" \
        "$(openssl pkey -in "$W/$n.out" -pubout 2>/dev/null | sha256sum)"
done

# ---- preserveCertOrder with a CA-first PFX (issue 13) -----------------------------------------
# The PFX secret above lists the CA's bag before the leaf's. Imported as a PFX with
# preserveCertOrder the stored chain keeps that order (OpenSSL's PKCS12_parse alone hands the
# leaf back first); without it the leaf comes first. Read back through the PEM secret.
for pres in true false; do
    n=pfxorder-$pres
    "$PY" -c 'import base64,json,sys; print(json.dumps({"value": base64.b64encode(open(sys.argv[1], "rb").read()).decode(), "preserveCertOrder": sys.argv[2] == "true", "policy": {"secret_props": {"contentType": "application/x-pem-file"}}}))' \
        "$W/order-pkcs12.pfx" "$pres" >"$W/$n.json"
    req POST "$VU/certificates/$n/import?api-version=7.6" "${H[@]}" --data @"$W/$n.json"
    expect_eq "import CA-first PFX (preserveCertOrder $pres): 200, x5t and subject are the leaf's" \
        "200 $leaf_x5t CN=order.leaf" "$CODE $(b 'd["x5t"]') $(b 'd["policy"]["x509_props"]["subject"]')"
    req GET "$VU/secrets/$n?$AV" "${H[@]}"
    "$PY" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["value"])' "$RB" >"$W/$n.out"
    chmod 600 "$W/$n.out"
    order=$(openssl crl2pkcs7 -nocrl -certfile "$W/$n.out" 2>/dev/null |
        openssl pkcs7 -print_certs -noout 2>/dev/null | grep -o 'subject=.*' | tr '\n' ';')
    if [ "$pres" = true ]; then
        expect_eq "CA-first PFX, preserved: the secret lists the CA, then the leaf" \
            "subject=CN = Order CA;subject=CN = order.leaf;" "$order"
    else
        expect_eq "CA-first PFX, not preserved: the secret lists the leaf first" \
            "subject=CN = order.leaf;subject=CN = Order CA;" "$order"
    fi
    # the leaf of the secret verifies against the CA, and the secret's key is the leaf's
    "$PY" -c 'import re,sys; t=open(sys.argv[1]).read(); c=re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", t, re.S); l=[x for x in c][int(sys.argv[2])]; sys.stdout.write(l)' \
        "$W/$n.out" "$([ "$pres" = true ] && echo 1 || echo 0)" >"$W/$n-leaf.pem"
    expect_eq "CA-first PFX ($pres): openssl verify -CAfile oca.pem of the secret's leaf" \
        "$W/$n-leaf.pem: OK" "$(openssl verify -CAfile "$W/oca.pem" "$W/$n-leaf.pem" 2>&1)"
    expect_eq "CA-first PFX ($pres): the secret's key is the leaf's" \
        "$(openssl x509 -in "$W/oleaf.pem" -noout -pubkey 2>/dev/null | sha256sum)" \
        "$(openssl pkey -in "$W/$n.out" -pubout 2>/dev/null | sha256sum)"
done

# ---- includePending through the CLI -----------------------------------------------------------
req POST "$VU/certificates/pend-cli/create?$AV" "${H[@]}" --data \
    '{"policy":{"issuer":{"name":"Unknown"},"x509_props":{"subject":"CN=pend-cli"}}}'
expect_eq "create (Unknown issuer): 202" 202 "$CODE"
c keyvault certificate list --vault-name "$COFFER_VAULT_NAME" --query "[?name=='pend-cli'] | length(@)"
expect_eq "certificate list: a pending certificate is left out" 0 "$(tr -d ' \n' <"$CO")"
c keyvault certificate list --vault-name "$COFFER_VAULT_NAME" --include-pending \
    --query "[?name=='pend-cli'].attributes.enabled | [0]"
expect_eq "certificate list --include-pending: listed, disabled" false "$(tr -d ' \n' <"$CO")"
c keyvault certificate list --vault-name "$COFFER_VAULT_NAME" --include-pending --query "length(@)"
n_all=$(tr -d ' \n' <"$CO")
c keyvault certificate list --vault-name "$COFFER_VAULT_NAME" --query "length(@)"
expect_eq "certificate list --include-pending: one more than without" "$(($(tr -d ' \n' <"$CO") + 1))" "$n_all"
req GET "$VU/certificates?$AV&includePending=true&maxresults=1" "${H[@]}"
expect_eq "includePending=true: the nextLink keeps it" 1 \
    "$(b '1 if "includePending=true" in (d.get("nextLink") or "") else 0')"

# A pending-only certificate whose operation was cancelled keeps its pending object in the final
# status (Learn, "Monitor and manage certificate creation"): includePending still lists it, on
# pages of one whose nextLink keeps the flag, until the operation is deleted.
req POST "$VU/certificates/pend-can/create?$AV" "${H[@]}" --data \
    '{"policy":{"issuer":{"name":"Unknown"},"x509_props":{"subject":"CN=pend-can"}}}'
expect_eq "create pend-can (Unknown issuer): 202" 202 "$CODE"
req PATCH "$VU/certificates/pend-can/pending?$AV" "${H[@]}" --data '{"cancellation_requested":true}'
expect_eq "cancel pend-can: 200, cancelled" "200 cancelled" "$CODE $(b 'd["status"]')"
# list_walk QUERY: every page from /certificates?QUERY through the nextLinks; prints the names
# (a pending one, without x5t, with a *) and then the number of pages.
list_walk() {
    "$PY" - "$VU/certificates?$AV&$1" "$TOK" "$COFFER_CA_FILE" <<'EOF'
import json, ssl, sys, urllib.request
url, tok, ca = sys.argv[1:4]
pending = "includePending=true" in url
ctx = ssl.create_default_context(cafile=ca)
names, pages = [], 0
while url:
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + tok})
    d = json.load(urllib.request.urlopen(req, context=ctx, timeout=30))
    pages += 1
    if pending and "includePending=true" not in url:
        print("nextLink-lost-includePending"); sys.exit(0)
    names += [i["id"].rsplit("/", 1)[1] + ("" if i.get("x5t") else "*") for i in d["value"]]
    url = d.get("nextLink")
print(" ".join(names), pages)
EOF
}
pend_names() { tr ' ' '\n' <<<"$1" | grep '^pend-' | tr '\n' ' ' | sed 's/ $//'; }
walk=$(list_walk "includePending=true&maxresults=1")
expect_eq "includePending, pages of one: the cancelled and the in-progress pending certificates" \
    "pend-can* pend-cli*" "$(pend_names "${walk% *}")"
walk25=$(list_walk "includePending=true&maxresults=25")
expect_eq "includePending, pages of one and of 25: the same list, pages of one hold one each" \
    "${walk25% *} $(wc -w <<<"${walk25% *}" | tr -d ' ')" "$walk"
expect_eq "without includePending: neither pending certificate" "" \
    "$(pend_names "$(list_walk "maxresults=1")")"
req DELETE "$VU/certificates/pend-can/pending?$AV" "${H[@]}"
expect_eq "delete the cancelled operation: 200" 200 "$CODE"
expect_eq "includePending after the delete: pend-can no longer listed" "pend-cli*" \
    "$(pend_names "$(list_walk "includePending=true&maxresults=2")")"

# ---- import: a policy whose key_props do not describe the key (§3.1, §3.3) -------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/pol.key" -out "$W/pol.pem" -days 2 \
    -subj /CN=pol.coffer.test 2>/dev/null
pol_import() { # NAME KEY_PROPS_JSON: the PEM import with that key_props
    "$PY" -c 'import json,sys; print(json.dumps({"value": open(sys.argv[1]).read() + open(sys.argv[2]).read(), "policy": {"key_props": json.loads(sys.argv[3]), "secret_props": {"contentType": "application/x-pem-file"}}}))' \
        "$W/pol.key" "$W/pol.pem" "$2" >"$W/pol-req.json"
    req POST "$VU/certificates/$1/import?$AV" "${H[@]}" --data @"$W/pol-req.json"
}
pol_import pol-bad '{"kty":"RSA","key_size":4096}'
expect_eq "import RSA-2048 with key_size 4096: 400 BadParameter and the message" \
    "400 BadParameter Property 'key_props.key_size' 4096 does not match the imported RSA key (2048 bits)." \
    "$CODE $(b 'd["error"]["code"]') $(b 'd["error"]["message"]')"
pol_import pol-bad '{"crv":"P-256"}'
expect_eq "import RSA-2048 with crv P-256: 400 BadParameter and the message" \
    "400 BadParameter Property 'key_props.crv' P-256 does not match the imported RSA key." \
    "$CODE $(b 'd["error"]["code"]') $(b 'd["error"]["message"]')"
req GET "$VU/certificates/pol-bad?$AV" "${H[@]}"
c1=$CODE
req GET "$VU/keys/pol-bad?$AV" "${H[@]}"
c2=$CODE
req GET "$VU/secrets/pol-bad?$AV" "${H[@]}"
expect_eq "refused imports stored nothing: certificate, key, secret 404" "404 404 404" "$c1 $c2 $CODE"
pol_import pol-bad '{"kty":"RSA","key_size":2048,"exportable":true}'
expect_eq "import with key_props that agree with the key: 200, RSA 2048" "200 RSA 2048" \
    "$CODE $(b 'd["policy"]["key_props"]["kty"]') $(b 'd["policy"]["key_props"]["key_size"]')"

e2e_stop

# ---- minute-scale auto-renewal (test-only dev_month_seconds) ----------------------------------
# Refused outside --dev, with a message naming the setting.
timeout 20 "$COFFERD" --data-dir "$E2E_WORK/$SUITE-prod" --port "$(free_port)" \
    --dev-month-seconds 40 >/dev/null 2>"$E2E_WORK/$SUITE-prod.err"
rc=$?
expect_eq "dev_month_seconds without --dev: cofferd refuses to start (exit 2)" 2 "$rc"
expect_eq "dev_month_seconds without --dev: the error names it" 1 \
    "$(grep -c 'dev_month_seconds is a test-only setting and needs --dev' "$E2E_WORK/$SUITE-prod.err")"
# A 40 s month and a 2 s janitor: js/certrenew.sdk.mjs watches an AutoRenew at 50 % through the
# SDK (about 20 s per renewal).
JSDIR=$E2E_DIR/js
NODE=${NODE:-$(command -v node || echo /usr/bin/node)}
if [ ! -d "$JSDIR/node_modules/@azure/keyvault-certificates" ]; then
    fail "tests/e2e/js/node_modules has the Azure SDK for the renewal test (run.sh --only js,certs prepares it)"
elif e2e_start renew "" "" --dev-month-seconds 40 --janitor-interval-s 2; then
    grep -q 'TEST ONLY: a certificate policy month lasts 40 s' "$SRV_LOG" &&
        pass "cofferd --dev --dev-month-seconds 40 says so in its log" ||
        fail "cofferd --dev --dev-month-seconds 40 says so in its log"
    tap="$E2E_WORK/$SUITE-renew.tap"
    (cd "$JSDIR" && COFFER_E2E_MONTH_S=40 COFFER_E2E_JANITOR_S=2 timeout 120 "$NODE" --test \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" certrenew.sdk.mjs) \
        >"$E2E_WORK/$SUITE-renew.out" 2>&1
    rc=$? n=0
    while IFS= read -r line; do
        case $line in
            "ok "*) pass "sdk: ${line#ok * - }"; n=$((n + 1)) ;;
            "not ok "*) fail "sdk: ${line#not ok * - }"; n=$((n + 1)) ;;
        esac
    done < <(grep -E '^(not )?ok [0-9]+ - ' "$tap" 2>/dev/null)
    if [ "$rc" -ne 0 ] || [ "$n" -eq 0 ]; then
        sed -n '/failing tests:/,$p' "$E2E_WORK/$SUITE-renew.out" | head -n 60 | sed 's/^/  | /'
        [ "$n" -gt 0 ] || { fail "sdk: node --test produced no results (exit $rc)";
                            tail -n 30 "$E2E_WORK/$SUITE-renew.out" | sed 's/^/  | /'; }
    fi
    e2e_stop
fi

# ---- ACME against pebble (certs_acme.sh: its own cofferd, pebble and challtestsrv) ----------
# shellcheck disable=SC1091
. "$E2E_DIR/suites/certs_acme.sh"
