#!/usr/bin/env bash
# certificates suite (issue 13, server side): the server's private CA through `coffer ca
# create/show`, a certificate issued by it (issuer CofferCA) whose PEM and PFX secrets verify
# with `openssl verify -CAfile ca.pem` and whose key matches the certificate; backup/restore of
# a certificate into another vault; the managed key and secret refusing direct writes (403);
# and (when Debian's pebble is installed) the Acme issuer against pebble on loopback.
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

e2e_stop

# ---- ACME against pebble (certs_acme.sh: its own cofferd, pebble and challtestsrv) ----------
# shellcheck disable=SC1091
. "$E2E_DIR/suites/certs_acme.sh"
