#!/usr/bin/env bash
# az suite: Debian's azure-cli 2.45 against cofferd, the recipe of clients.md §6. Kept small:
# every az call costs seconds. `az keyvault secret …` cannot work with Debian's package
# (clients.md §7), so the data plane goes through `az rest`.
set -uo pipefail
. "$E2E_DIR/lib.sh"
trap e2e_cleanup EXIT

e2e_start main || exit 1
P=$COFFER_PORT
RES=$(vault_resource)
export REQUESTS_CA_BUNDLE=$COFFER_CA_FILE AZURE_CORE_COLLECT_TELEMETRY=false
export AZURE_CORE_ONLY_SHOW_ERRORS=true AZURE_CORE_NO_COLOR=true

# azc LABEL ARGS...: runs az, stdout to $AO, stderr to $AE, exit status in AZ_RC.
AO="$E2E_WORK/$SUITE.az.out"
AE="$E2E_WORK/$SUITE.az.err"
azc() {
    local label=$1
    shift
    timeout 120 az "$@" >"$AO" 2>"$AE"
    AZ_RC=$?
    { echo "### $label: az $*" | sed -E 's/(-p|--password) [^ ]+/\1 ***/'; cat "$AO" "$AE"; } \
        >>"$E2E_WORK/$SUITE.az.log"
}
az_ok() {
    if [ "$AZ_RC" -eq 0 ]; then pass "$1"; else
        fail "$1 (exit $AZ_RC: $(grep -v '^$' "$AE" | tail -n 3 | tr '\n' ' ' | cut -c1-400))"; fi
}

register_cloud() {
    azc "cloud register" cloud register -n Coffer \
        --endpoint-active-directory "https://login.localhost:$P/adfs" \
        --endpoint-active-directory-resource-id https://management.localhost/ \
        --endpoint-active-directory-graph-resource-id https://graph.localhost/ \
        --endpoint-resource-manager "https://management.localhost:$P" \
        --suffix-keyvault-dns ".vault.localhost:$P"
    az_ok "az cloud register (clients.md §6 recipe)"
    azc "cloud set" cloud set -n Coffer
    az_ok "az cloud set -n Coffer"
}

# 1. Plain login: the server lists one subscription, so no --allow-no-subscriptions needed.
export AZURE_CONFIG_DIR="$E2E_WORK/$SUITE-azconfig1"
mkdir -p "$AZURE_CONFIG_DIR"
register_cloud
azc login login --service-principal -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" --tenant "$AZURE_TENANT_ID"
az_ok "az login --service-principal (one subscription)"
expect_eq "az login lists the server's subscription" "$COFFER_SUBSCRIPTION_ID" "$(jget "$AO" 'd[0]["id"]')"
expect_eq "az login: tenantId" "$AZURE_TENANT_ID" "$(jget "$AO" 'd[0]["tenantId"]')"
azc "account show" account show
az_ok "az account show"
expect_eq "az account show: subscription id" "$COFFER_SUBSCRIPTION_ID" "$(jget "$AO" 'd["id"]')"

U="$COFFER_VAULT_URL/secrets/az-secret?api-version=7.4"
azc "rest put" rest --method put --url "$U" --resource "$RES" --body '{"value":"from-az ✓"}'
az_ok "az rest --method put secret"
expect_eq "az rest put returns the value" "from-az ✓" "$(jget "$AO" 'd["value"]')"
expect_eq "az rest put returns a versioned id" true \
    "$(jget "$AO" '__import__("re").fullmatch(r"'"$COFFER_VAULT_URL"'/secrets/az-secret/[0-9a-f]{32}", d["id"]) is not None')"
azc "rest get" rest --method get --url "$U" --resource "$RES" --query value -o tsv
az_ok "az rest --method get secret --query value -o tsv"
expect_eq "az rest get prints the value" "from-az ✓" "$(cat "$AO")"
azc "rest get missing" rest --method get --url "$COFFER_VAULT_URL/secrets/az-missing?api-version=7.4" --resource "$RES"
if [ "$AZ_RC" -ne 0 ] && grep -q SecretNotFound "$AE"; then pass "az rest on a missing secret fails with SecretNotFound"
else fail "az rest on a missing secret fails with SecretNotFound (exit $AZ_RC)"; fi

azc "get-access-token" account get-access-token --resource "$RES"
az_ok "az account get-access-token --resource $RES"
tok=$(jget "$AO" 'd["accessToken"]')
req GET "$COFFER_VAULT_URL/secrets/az-secret?api-version=7.4" -H "Authorization: Bearer $tok"
expect_eq "the az token works with curl" 200 "$CODE"
expect_eq "curl with az token reads the value" "from-az ✓" "$(jget "$RB" 'd["value"]')"

# Resource groups through az group (azure-mgmt-resource shapes).
azc "group create" group create -n az-rg -l westus --tags team=e2e
az_ok "az group create"
expect_eq "az group create: id" "/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/az-rg" "$(jget "$AO" 'd["id"]')"
expect_eq "az group create: location" westus "$(jget "$AO" 'd["location"]')"
azc "group show" group show -n az-rg
az_ok "az group show"
expect_eq "az group show: tags" '{"team": "e2e"}' "$(jget "$AO" 'd["tags"]')"
azc "group list" group list --query "[?name=='az-rg'] | length(@)"
az_ok "az group list"
expect_eq "az group list contains az-rg once" 1 "$(cat "$AO")"

# 2. A fresh config dir: a wrong secret fails; --allow-no-subscriptions also works.
export AZURE_CONFIG_DIR="$E2E_WORK/$SUITE-azconfig2"
mkdir -p "$AZURE_CONFIG_DIR"
register_cloud
azc "login wrong secret" login --service-principal -u "$AZURE_CLIENT_ID" -p "wrong-secret" --tenant "$AZURE_TENANT_ID"
if [ "$AZ_RC" -ne 0 ]; then pass "az login with a wrong secret fails"; else fail "az login with a wrong secret fails"; fi
azc "login allow-no-subs" login --service-principal -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" \
    --tenant "$AZURE_TENANT_ID" --allow-no-subscriptions
az_ok "az login --service-principal --allow-no-subscriptions"
azc "rest get 2" rest --method get --url "$U" --resource "$RES" --query value -o tsv
az_ok "az rest get after --allow-no-subscriptions login"
expect_eq "value read back" "from-az ✓" "$(cat "$AO")"

# 3. Certificates through az rest (Debian's az cannot run `az keyvault certificate …`,
# clients.md §7): create a Self-issued certificate, follow the operation, read it back, check
# the cer with openssl against the thumbprint, read the PEM secret and match its key.
CU="$COFFER_VAULT_URL/certificates/az-cert"
azc "rest cert create" rest --method post --url "$CU/create?api-version=7.4" --resource "$RES" \
    --body '{"policy":{"issuer":{"name":"Self"},"key_props":{"kty":"EC","crv":"P-256","exportable":true},"secret_props":{"contentType":"application/x-pem-file"},"x509_props":{"subject":"CN=az.coffer.test","sans":{"dns_names":["az.coffer.test"]},"validity_months":2}},"tags":{"by":"az"}}'
az_ok "az rest --method post certificates/az-cert/create"
expect_eq "az rest create: the operation's id" "$CU/pending" "$(jget "$AO" 'd["id"]')"
expect_eq "az rest create: issuer Self" Self "$(jget "$AO" 'd["issuer"]["name"]')"
azc "rest cert pending" rest --method get --url "$CU/pending?api-version=7.4" --resource "$RES"
az_ok "az rest --method get certificates/az-cert/pending"
expect_eq "the operation completed (target = the certificate)" "completed $CU" "$(jget "$AO" 'd["status"] + " " + d["target"]')"
azc "rest cert get" rest --method get --url "$CU/?api-version=7.4" --resource "$RES"
az_ok "az rest --method get certificates/az-cert/"
expect_eq "az rest get: tags" '{"by": "az"}' "$(jget "$AO" 'd["tags"]')"
expect_eq "az rest get: policy subject and key" "CN=az.coffer.test EC P-256" \
    "$(jget "$AO" 'd["policy"]["x509_props"]["subject"] + " " + d["policy"]["key_props"]["kty"] + " " + d["policy"]["key_props"]["crv"]')"
cver=$(jget "$AO" 'd["id"].rsplit("/", 1)[1]')
expect_eq "kid and sid carry the certificate's version" "$COFFER_VAULT_URL/keys/az-cert/$cver $COFFER_VAULT_URL/secrets/az-cert/$cver" \
    "$(jget "$AO" 'd["kid"] + " " + d["sid"]')"
jget "$AO" 'd["cer"]' | base64 -d >"$E2E_WORK/$SUITE-cert.der" 2>/dev/null
x5t=$(jget "$AO" 'd["x5t"]')
fp=$(openssl x509 -inform DER -in "$E2E_WORK/$SUITE-cert.der" -noout -fingerprint -sha1 2>/dev/null |
    sed 's/.*=//; s/://g' | xxd -r -p | base64 | tr '+/' '-_' | tr -d '=')
expect_eq "x5t = base64url(SHA-1) of cer (openssl)" "$x5t" "$fp"
expect_eq "openssl reads the cer: subject and SAN" "subject=CN = az.coffer.test DNS:az.coffer.test" \
    "$(openssl x509 -inform DER -in "$E2E_WORK/$SUITE-cert.der" -noout -subject -ext subjectAltName 2>/dev/null |
        grep -v 'Subject Alternative Name' | sed 's/^ *//' | tr '\n' ' ' | sed 's/ $//')"
azc "rest cert secret" rest --method get --url "$COFFER_VAULT_URL/secrets/az-cert?api-version=7.4" --resource "$RES"
az_ok "az rest --method get secrets/az-cert (the certificate's secret)"
expect_eq "the secret is managed PEM" "true application/x-pem-file" "$(jget "$AO" '("true" if d["managed"] else "false") + " " + d["contentType"]')"
jget "$AO" 'd["value"]' >"$E2E_WORK/$SUITE-cert-secret.pem"
kpub=$(openssl pkey -in "$E2E_WORK/$SUITE-cert-secret.pem" -pubout 2>/dev/null | sha256sum)
cpub=$(openssl x509 -inform DER -in "$E2E_WORK/$SUITE-cert.der" -noout -pubkey 2>/dev/null | sha256sum)
expect_eq "the secret's private key matches the certificate (openssl)" "$cpub" "$kpub"
rm -f "$E2E_WORK/$SUITE-cert-secret.pem"
azc "rest cert list" rest --method get --url "$COFFER_VAULT_URL/certificates?api-version=7.4" --resource "$RES" \
    --query "value[?x5t=='$x5t'] | length(@)"
az_ok "az rest --method get certificates (list)"
expect_eq "the list has the certificate once (by x5t)" 1 "$(cat "$AO")"

# az keeps the client secret in plain files in its config dir: do not leave them behind.
rm -rf "$E2E_WORK/$SUITE-azconfig1" "$E2E_WORK/$SUITE-azconfig2"
e2e_stop
exit 0
