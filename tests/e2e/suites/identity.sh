#!/usr/bin/env bash
# identity suite: service principals, credentials, groups and role assignments through the
# coffer CLI (az's command shapes), with logins as the new principal through the CLI and
# through python3-azure's ClientSecretCredential, and certificate login (client_assertion).
#
#   role definitions and assignments   ARM Microsoft.Authorization (always run)
#   ad sp / group / credentials         Graph v1.0 on the management host
#   enforcement                         a Secrets User (through a group) on vault A reads A,
#                                       gets 403 ForbiddenByRbac on B and on set
set -uo pipefail
. "$E2E_DIR/lib.sh"
CFG_ADMIN="$E2E_WORK/$SUITE-config-admin"
CFG_SP="$E2E_WORK/$SUITE-config-sp"
CFG_CERT="$E2E_WORK/$SUITE-config-cert"
CERTDIR="$E2E_WORK/$SUITE-cert"
trap 'e2e_cleanup; rm -rf "$CFG_ADMIN" "$CFG_SP" "$CFG_CERT" "$CERTDIR"' EXIT

if [ ! -x "$COFFER" ]; then
    fail "coffer CLI binary exists at $COFFER"
    exit 0
fi
e2e_start main || exit 1
mkdir -p "$CFG_ADMIN" "$CFG_SP" "$CFG_CERT" "$CERTDIR"
CO="$E2E_WORK/$SUITE.cli.out"
CE="$E2E_WORK/$SUITE.cli.err"
CFG=$CFG_ADMIN

# c ARGS...: coffer with the config dir $CFG; stdout in $CO, stderr in $CE, status in RC.
# The log never gets stdout of credential commands (it carries passwords).
c() {
    COFFER_CONFIG_DIR=$CFG timeout 60 "$COFFER" "$@" >"$CO" 2>"$CE"
    RC=$?
    case "$*" in
        *create-for-rbac*|*"credential reset"*) { echo "### coffer $* (stdout withheld)"; cat "$CE"; } ;;
        *) { echo "### coffer $*"; cat "$CO" "$CE"; } ;;
    esac >>"$E2E_WORK/$SUITE.cli.log"
}
c_ok() {
    if [ "$RC" -eq 0 ]; then pass "$1"; else
        fail "$1 (exit $RC: $(head -c 300 "$CE" | tr '\n' ' '))"; fi
}
c_fails() {
    if [ "$RC" -ne 0 ] && [ ! -s "$CO" ]; then pass "$1 (exit $RC)"; else
        fail "$1 (expected a failure, got exit $RC)"; fi
}
q() { jget "$CO" "$1"; }

# token_code CLIENT_ID SECRET: HTTP status of a client_credentials request for the
# management audience (the body is discarded: it may hold a token).
token_code() {
    curl -sS -o /dev/null -w '%{http_code}' --max-time 30 --cacert "$COFFER_CA_FILE" \
        --data-urlencode "client_id=$1" --data-urlencode "client_secret=$2" \
        --data-urlencode "grant_type=client_credentials" \
        --data-urlencode "scope=$COFFER_MANAGEMENT_URL/.default" \
        "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" 2>/dev/null || echo 000
}

# py_token CLIENT_ID SECRET: "ok" when azure.identity's ClientSecretCredential gets a token.
py_token() {
    CID=$1 CSEC=$2 timeout 60 "$PY" - <<'EOF' 2>>"$E2E_WORK/$SUITE.python.err"
import os
from azure.identity import ClientSecretCredential
cred = ClientSecretCredential(
    os.environ["AZURE_TENANT_ID"], os.environ["CID"], os.environ["CSEC"],
    authority=os.environ["AZURE_AUTHORITY_HOST"],
    instance_discovery=False, disable_instance_discovery=True)
try:
    t = cred.get_token(os.environ["COFFER_MANAGEMENT_URL"] + "/.default")
    print("ok" if t.token.count(".") == 2 else "bad")
except Exception as e:
    print("refused:" + type(e).__name__)
EOF
}

# login_sp CFGDIR ARGS...: coffer login as a service principal against this server.
login_sp() {
    local dir=$1
    shift
    CFG=$dir c login --service-principal --tenant "$AZURE_TENANT_ID" \
        --authority "$AZURE_AUTHORITY_HOST" --management-url "$COFFER_MANAGEMENT_URL" \
        --ca-file "$COFFER_CA_FILE" --dns-suffix "$COFFER_DNS_SUFFIX" "$@"
}

# ---- admin login, two vaults --------------------------------------------------------------
c login
c_ok "admin login"
SUB=$COFFER_SUBSCRIPTION_ID
c keyvault create --name id-vault-a --resource-group id-rg --location westus
c_ok "keyvault create id-vault-a"
VA=$(q 'd["id"]')
c keyvault create --name id-vault-b --resource-group id-rg --location westus
c_ok "keyvault create id-vault-b"
VB=$(q 'd["id"]')
c keyvault secret set --vault-name id-vault-a --name s1 --value value-a -o none
c_ok "secret set in vault A"
c keyvault secret set --vault-name id-vault-b --name s1 --value value-b -o none
c_ok "secret set in vault B"

# ---- role definitions (ARM) ---------------------------------------------------------------
c role definition list --name "Key Vault Secrets User"
c_ok "role definition list --name"
expect_eq "built-in Secrets User: az shape" \
    "4633458b-17de-408a-b874-0445c86b69e6 BuiltInRole Key Vault Secrets User" \
    "$(q 'd[0]["name"] + " " + d[0]["roleType"] + " " + d[0]["roleName"]')"
expect_eq "built-in Secrets User: dataActions" \
    '["Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]' \
    "$(q 'sorted(d[0]["permissions"][0]["dataActions"])')"
c role definition list --query "length(@)"
expect_eq "role definition list: at least the 15 built-in roles" true "$( [ "$(cat "$CO")" -ge 15 ] 2>/dev/null && echo true || echo false)"

ROLEFILE="$E2E_WORK/$SUITE-role.json"
cat >"$ROLEFILE" <<EOF
{
  "Name": "E2E Secret Rotator",
  "IsCustom": true,
  "Description": "Read and set secrets; no delete or purge.",
  "Actions": ["Microsoft.KeyVault/vaults/read"],
  "NotActions": [],
  "DataActions": [
    "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "Microsoft.KeyVault/vaults/secrets/setSecret/action"
  ],
  "NotDataActions": [],
  "AssignableScopes": ["/subscriptions/$SUB"]
}
EOF
c role definition create --role-definition "@$ROLEFILE"
c_ok "role definition create --role-definition @file.json"
expect_eq "custom role: name, type, 3 dataActions, scope" \
    "E2E Secret Rotator CustomRole 3 /subscriptions/$SUB" \
    "$(q 'd["roleName"] + " " + d["roleType"] + " " + str(len(d["permissions"][0]["dataActions"])) + " " + d["assignableScopes"][0]')"
CUSTOM_ID=$(q 'd["name"]')
c role definition list --custom-role-only --query "[].roleName" -o tsv
expect_eq "role definition list --custom-role-only" "E2E Secret Rotator" "$(cat "$CO")"
c role definition create --role-definition "@$ROLEFILE"
c_fails "a second custom role of the same name is refused"
c role definition list --name "E2E Secret Rotator" --query "[0].name" -o tsv
expect_eq "custom role id in list = id from create" "$CUSTOM_ID" "$(cat "$CO")"
G0=00000000-0000-4000-8000-00000000e2e0
c role assignment create --role "E2E Secret Rotator" --assignee-object-id "$G0" \
    --assignee-principal-type Group --scope "$VA"
c_ok "role assignment create with the custom role (by name)"
c role definition delete --name "E2E Secret Rotator"
c_fails "a custom role with assignments cannot be deleted"
c role assignment delete --assignee "$G0" --role "E2E Secret Rotator" --scope "$VA"
c_ok "role assignment delete --assignee --role --scope"
c role definition delete --name "E2E Secret Rotator"
c_ok "role definition delete --name"
c role definition list --custom-role-only --query "length(@)"
expect_eq "custom role gone" 0 "$(cat "$CO")"

# ---- role assignments with an object id (no Graph needed) ---------------------------------
G1=00000000-0000-4000-8000-00000000e2e1
c role assignment create --role "Key Vault Secrets User" --assignee-object-id "$G1" \
    --assignee-principal-type Group --scope "$VA"
c_ok "role assignment create --assignee-object-id --assignee-principal-type Group --scope vault"
expect_eq "assignment: az flattened shape" \
    "$G1 Group 4633458b-17de-408a-b874-0445c86b69e6 Microsoft.Authorization/roleAssignments id-rg" \
    "$(q 'd["principalId"] + " " + d["principalType"] + " " + d["roleDefinitionId"].rsplit("/",1)[1] + " " + d["type"] + " " + d["resourceGroup"]')"
expect_eq "assignment: scope is the vault" "$(echo "$VA" | tr A-Z a-z)" "$(q 'd["scope"].lower()')"
ASG1=$(q 'd["id"]')
c role assignment list --scope "$VA"
c_ok "role assignment list --scope vault"
expect_eq "list: the assignment with roleDefinitionName" "Key Vault Secrets User" \
    "$(q '[a["roleDefinitionName"] for a in d if a["principalId"] == "'"$G1"'"][0]')"
c role assignment list --all --assignee "$G1" --query "length(@)"
expect_eq "list --all --assignee <object id>" 1 "$(cat "$CO")"
c role assignment list --query "length([?principalId=='$G1'])"
expect_eq "list at the subscription scope does not show vault assignments" 0 "$(cat "$CO")"
c role assignment delete --ids "$ASG1"
c_ok "role assignment delete --ids"
c role assignment list --all --assignee "$G1" --query "length(@)"
expect_eq "deleted assignment gone" 0 "$(cat "$CO")"

# ---- Graph: service principals, credentials, groups ---------------------------------------
ADMIN_TOK=$(get_token "$COFFER_MANAGEMENT_URL/.default")
req GET "$COFFER_MANAGEMENT_URL/v1.0/applications" -H "Authorization: Bearer $ADMIN_TOK"
expect_eq "GET /v1.0/applications (Graph-shaped directory)" 200 "$CODE"

enforcement_checks() {
    # The service principal (secret login in $CFG_SP) is in GROUP, which holds Key Vault
    # Secrets User on vault A only.
    local tok
    CFG=$CFG_SP c keyvault secret show --vault-name id-vault-a --name s1 --query value -o tsv
    expect_eq "enforced: Secrets User (via its group) reads vault A" value-a "$(cat "$CO")"
    CFG=$CFG_SP c keyvault secret show --vault-name id-vault-b --name s1
    c_fails "enforced: the same principal is refused on vault B"
    tok=$(curl -sS --max-time 30 --cacert "$COFFER_CA_FILE" \
        --data-urlencode "client_id=$APPID" --data-urlencode "client_secret=$PW2" \
        --data-urlencode "grant_type=client_credentials" \
        --data-urlencode "scope=$(vault_resource)/.default" \
        "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("access_token",""))' 2>/dev/null)
    req GET "https://id-vault-b.$COFFER_DNS_SUFFIX:$COFFER_PORT/secrets/s1?api-version=7.4" \
        -H "Authorization: Bearer $tok"
    expect_eq "enforced: REST on vault B is 403" 403 "$CODE"
    expect_eq "enforced: inner code ForbiddenByRbac" ForbiddenByRbac "$(jget "$RB" 'd["error"]["innererror"]["code"]')"
    req PUT "https://id-vault-a.$COFFER_DNS_SUFFIX:$COFFER_PORT/secrets/s2?api-version=7.4" \
        -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' --data '{"value":"x"}'
    expect_eq "enforced: set on vault A is 403 (Secrets User reads only)" 403 "$CODE"
    expect_eq "enforced: set refusal is ForbiddenByRbac" ForbiddenByRbac "$(jget "$RB" 'd["error"]["innererror"]["code"]')"
}

graph_checks() {
    local name="e2e-sp-$$" sp_oid pw1 pw0 gid cert_pem
    c ad sp create-for-rbac --name "$name"
    c_ok "ad sp create-for-rbac --name"
    expect_eq "create-for-rbac: az's keys" '["appId", "displayName", "password", "tenant"]' "$(q 'sorted(d)')"
    expect_eq "create-for-rbac: displayName, tenant" "$name $AZURE_TENANT_ID" "$(q 'd["displayName"] + " " + d["tenant"]')"
    expect_eq "create-for-rbac: a 40-character password" 40 "$(q 'len(d["password"])')"
    if grep -q "credentials that you must protect" "$CE"; then pass "create-for-rbac: az's credentials warning on stderr"; else fail "create-for-rbac: az's credentials warning on stderr"; fi
    APPID=$(q 'd["appId"]')
    pw0=$(q 'd["password"]')
    c ad sp show --id "$APPID"
    c_ok "ad sp show --id <appId>"
    sp_oid=$(q 'd["id"]')
    expect_eq "sp show: appId, displayName, accountEnabled" "$APPID $name true" "$(q 'd["appId"] + " " + d["displayName"] + " " + ("true" if d["accountEnabled"] else "false")')"
    c ad sp show --id "$sp_oid" --query appId -o tsv
    expect_eq "ad sp show --id <object id>" "$APPID" "$(cat "$CO")"
    c ad sp list --display-name "e2e-sp-" --query "[].appId" -o tsv
    expect_eq "ad sp list --display-name <prefix>" "$APPID" "$(cat "$CO")"
    c ad sp show --id 00000000-0000-4000-8000-0000000000ff
    expect_eq "ad sp show of an unknown id exits 3" 3 "$RC"

    # logins as the new principal
    login_sp "$CFG_SP" -u "$APPID" -p "$pw0"
    c_ok "coffer login --service-principal with the create-for-rbac secret"
    CFG=$CFG_SP c account show --query user.name -o tsv
    expect_eq "account show names the new principal" "$APPID" "$(cat "$CO")"
    expect_eq "ClientSecretCredential (python3-azure) with the new secret" ok "$(py_token "$APPID" "$pw0")"

    # reset without --append: the old secret stops working
    c ad sp credential reset --id "$APPID"
    c_ok "ad sp credential reset --id"
    expect_eq "credential reset: az's keys" '["appId", "password", "tenant"]' "$(q 'sorted(d)')"
    pw1=$(q 'd["password"]')
    expect_eq "old secret refused after reset" 401 "$(token_code "$APPID" "$pw0")"
    expect_eq "new secret accepted after reset" 200 "$(token_code "$APPID" "$pw1")"
    expect_eq "ClientSecretCredential with the reset secret" ok "$(py_token "$APPID" "$pw1")"
    c ad sp credential reset --id "$APPID" --append --years 2
    c_ok "ad sp credential reset --append --years 2"
    PW2=$(q 'd["password"]')
    expect_eq "--append keeps the previous secret" 200 "$(token_code "$APPID" "$pw1")"
    expect_eq "--append adds a working secret" 200 "$(token_code "$APPID" "$PW2")"
    login_sp "$CFG_SP" -u "$APPID" -p "$PW2"
    c_ok "coffer login with the appended secret"

    # groups
    c ad group create --display-name "e2e-group-$$" --mail-nickname "e2e-group-$$"
    c_ok "ad group create --display-name --mail-nickname"
    gid=$(q 'd["id"]')
    GROUP=$gid
    expect_eq "group: securityEnabled, mailNickname" "true e2e-group-$$" "$(q '("true" if d["securityEnabled"] else "false") + " " + d["mailNickname"]')"
    c ad group create --display-name "e2e-group-$$" --mail-nickname "e2e-group-$$"
    expect_eq "group create again returns the existing group (az)" "$gid" "$(q 'd["id"]')"
    c ad group show --group "e2e-group-$$" --query id -o tsv
    expect_eq "ad group show --group <display name>" "$gid" "$(cat "$CO")"
    c ad group member add --group "$gid" --member-id "$sp_oid"
    c_ok "ad group member add"
    c ad group member check --group "$gid" --member-id "$sp_oid"
    expect_eq "ad group member check: true" '{"value": true}' "$(q 'd')"
    c ad group member list --group "$gid" --query "[].id" -o tsv
    expect_eq "ad group member list" "$sp_oid" "$(cat "$CO")"

    # role assignments through Graph lookups
    c role assignment create --role "Key Vault Secrets User" --assignee-object-id "$gid" --scope "$VA"
    c_ok "role assignment to the group at vault A (type looked up in Graph)"
    expect_eq "group assignment principalType" Group "$(q 'd["principalType"]')"
    c role assignment create --role "Key Vault Reader" --assignee "$APPID" --scope "$VA"
    c_ok "role assignment create --assignee <appId>"
    expect_eq "appId resolved to the service principal's object id" "$sp_oid ServicePrincipal" "$(q 'd["principalId"] + " " + d["principalType"]')"
    c role assignment list --scope "$VA" --query "sort([].principalName)" -o tsv
    expect_eq "list: principalName (appId for the SP, display name for the group)" \
        "$(printf '%s\n' "$APPID" "e2e-group-$$" | LC_ALL=C sort | tr '\n' ' ')" "$(LC_ALL=C sort "$CO" | tr '\n' ' ')"
    c role assignment list --assignee "$APPID" --all --query "[].roleDefinitionName" -o tsv
    expect_eq "list --assignee <appId> --all" "Key Vault Reader" "$(cat "$CO")"
    c role assignment delete --assignee "$APPID" --role "Key Vault Reader" --scope "$VA"
    c_ok "role assignment delete --assignee --role --scope"
    c role assignment list --scope "$VA" --query "length(@)"
    expect_eq "one assignment left (the group's)" 1 "$(cat "$CO")"

    # certificate credential and login
    cert_pem="$CERTDIR/sp.pem"
    if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CERTDIR/key.pem" -out "$CERTDIR/cert.pem" \
        -subj "/CN=$name" -days 2 2>/dev/null; then
        cat "$CERTDIR/key.pem" "$CERTDIR/cert.pem" >"$cert_pem"
        c ad sp credential reset --id "$APPID" --cert "@$CERTDIR/cert.pem" --append
        c_ok "ad sp credential reset --cert @cert.pem --append"
        expect_eq "certificate reset: password is null" "" "$(q 'd["password"]')"
        login_sp "$CFG_CERT" -u "$APPID" --certificate "$cert_pem"
        c_ok "coffer login --service-principal --certificate (client_assertion RS256)"
        CFG=$CFG_CERT c account show --query user.name -o tsv
        expect_eq "certificate login: account show" "$APPID" "$(cat "$CO")"
        expect_eq "the profile keeps no secret with a certificate login" "" \
            "$(jget "$CFG_CERT/profile.json" 'd["clientSecret"]')"
        expect_eq "--append kept the password" 200 "$(token_code "$APPID" "$PW2")"
    else
        fail "openssl makes a self-signed certificate"
    fi

    enforcement_checks

    # leaving the group; deleting the principal
    c ad group member remove --group "$gid" --member-id "$sp_oid"
    c_ok "ad group member remove"
    c ad group member check --group "$gid" --member-id "$sp_oid"
    expect_eq "member check after remove: false" '{"value": false}' "$(q 'd')"
    c ad sp delete --id "$APPID"
    c_ok "ad sp delete --id"
    expect_eq "a deleted principal's secret is refused" 401 "$(token_code "$APPID" "$PW2")"
    c ad sp show --id "$APPID"
    expect_eq "ad sp show after delete exits 3" 3 "$RC"
    c ad group delete --group "$gid"
    c_ok "ad group delete"
}

graph_checks

e2e_stop
exit 0
