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
e2e_stop
exit 0
