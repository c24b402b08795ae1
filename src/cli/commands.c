/* commands.c - the declarative command table, argument parsing (argparse-like, as az), help at
 * every level, and cf_cli_run: parse -> handler -> resourceGroup transform -> --query -> render.
 *
 * Exit codes (az's): 0 ok, 1 error, 2 usage error (bad arguments or --query syntax), 3 a 404
 * on a show command. Every error is one "ERROR: ..." line on stderr and nothing on stdout. */
#include "base/cf.h"
#include "cli/cli_int.h"
#include "cli/cmd_audit.h"
#include "cli/cmd_identity.h"
#include "cli/cmd_cert.h"
#include "cli/cmd_events.h"
#include "cli/cmd_key.h"
#include "cli/cmd_lock.h"
#include "cli/cmd_monitor.h"
#include "cli/cmd_signing.h"
#include "cli/cmd_ca.h"
#include "cli/cmd_operator.h"

#include <unistd.h>

/* ---- the table ---- */

#define VAULT_NAME_OPT {"--vault-name", NULL, OPT_STR, false, "Name of the Key Vault."}
#define SECRET_NAME_OPT {"--name", "-n", OPT_STR, false, "Name of the secret."}
#define ID_OPT {"--id", NULL, OPT_STR, false, "Id of the secret. If specified all other 'Id' arguments should be omitted."}
#define END_OPT {NULL, NULL, OPT_STR, false, NULL}

static const struct cf_cli_opt o_login[] = {
    {"--service-principal", NULL, OPT_FLAG, false, "The credential is a service principal."},
    {"--username", "-u", OPT_STR, false, "Client id of the service principal."},
    {"--password", "-p", OPT_STR, false, "Client secret of the service principal (or, as az, the path of a PEM certificate)."},
    {"--certificate", NULL, OPT_STR, false, "PEM file with the service principal's certificate and its private key."},
    {"--tenant", "-t", OPT_STR, false, "The tenant of the service principal."},
    {"--authority", NULL, OPT_STR, false, "Token authority URL, e.g. https://login.localhost:8443."},
    {"--management-url", NULL, OPT_STR, false, "Management endpoint, e.g. https://management.localhost:8443."},
    {"--dns-suffix", NULL, OPT_STR, false, "Vault DNS suffix (default vault.localhost)."},
    {"--port", NULL, OPT_INT, false, "Data-plane port (default 443, or from the management URL)."},
    {"--ca-file", NULL, OPT_STR, false, "PEM file of the CA to trust."},
    {"--env-file", NULL, OPT_STR, false, "Server env file to read when the environment has no credentials (default ./coffer-data/env)."},
    {"--allow-no-subscriptions", NULL, OPT_FLAG, false, "Accepted for az compatibility."},
    END_OPT};
static const struct cf_cli_opt o_none[] = {END_OPT};
static const struct cf_cli_opt o_group_create[] = {
    {"--name", "-n", OPT_STR, true, "Name of the new resource group."},
    {"--location", "-l", OPT_STR, true, "Location."},
    {"--tags", NULL, OPT_LIST, false, "Space-separated tags: key[=value] [key[=value] ...]."},
    END_OPT};
static const struct cf_cli_opt o_group_name[] = {
    {"--name", "-n", OPT_STR, true, "Name of the resource group."}, END_OPT};
static const struct cf_cli_opt o_group_delete[] = {
    {"--name", "-n", OPT_STR, true, "Name of the resource group."},
    {"--yes", "-y", OPT_FLAG, false, "Do not prompt for confirmation."},
    {"--no-wait", NULL, OPT_FLAG, false, "Do not wait for the operation to finish."},
    END_OPT};
static const struct cf_cli_opt o_group_list[] = {
    {"--tag", NULL, OPT_STR, false, "Filter by a tag: key[=value]."}, END_OPT};

static const struct cf_cli_opt o_vault_create[] = {
    {"--name", "-n", OPT_STR, true, "Name of the Key Vault."},
    {"--resource-group", "-g", OPT_STR, true, "Name of resource group."},
    {"--location", "-l", OPT_STR, false, "Location (default: the resource group's)."},
    {"--sku", NULL, OPT_STR, false, "SKU: standard or premium."},
    {"--retention-days", NULL, OPT_INT, false, "Soft delete retention days, 7-90 (default 90)."},
    {"--enable-purge-protection", NULL, OPT_BOOL, false, "Enable purge protection (irreversible)."},
    {"--enable-rbac-authorization", NULL, OPT_BOOL, false, "Use RBAC for data-plane authorization (default true)."},
    {"--enabled-for-deployment", NULL, OPT_BOOL, false, "Allow VMs to retrieve certificates."},
    {"--enabled-for-disk-encryption", NULL, OPT_BOOL, false, "Allow Disk Encryption."},
    {"--enabled-for-template-deployment", NULL, OPT_BOOL, false, "Allow ARM templates."},
    {"--public-network-access", NULL, OPT_STR, false, "Enabled or Disabled."},
    {"--tags", NULL, OPT_LIST, false, "Space-separated tags: key[=value] [key[=value] ...]."},
    {"--no-self-perms", NULL, OPT_BOOL, false, "Accepted for az compatibility."},
    {"--no-wait", NULL, OPT_FLAG, false, "Accepted for az compatibility."},
    END_OPT};
static const struct cf_cli_opt o_vault_rg_opt[] = {
    {"--resource-group", "-g", OPT_STR, false, "Name of resource group."}, END_OPT};
static const struct cf_cli_opt o_vault_name_rg[] = {
    {"--name", "-n", OPT_STR, true, "Name of the Key Vault."},
    {"--resource-group", "-g", OPT_STR, false, "Name of resource group (found from the name when omitted)."},
    {"--no-wait", NULL, OPT_FLAG, false, "Accepted for az compatibility."},
    END_OPT};
static const struct cf_cli_opt o_vault_update[] = {
    {"--name", "-n", OPT_STR, true, "Name of the Key Vault."},
    {"--resource-group", "-g", OPT_STR, false, "Name of resource group."},
    {"--retention-days", NULL, OPT_INT, false, "Soft delete retention days."},
    {"--enable-purge-protection", NULL, OPT_BOOL, false, "Enable purge protection (irreversible)."},
    {"--enable-rbac-authorization", NULL, OPT_BOOL, false, "Use RBAC for data-plane authorization."},
    {"--enabled-for-deployment", NULL, OPT_BOOL, false, "Allow VMs to retrieve certificates."},
    {"--enabled-for-disk-encryption", NULL, OPT_BOOL, false, "Allow Disk Encryption."},
    {"--enabled-for-template-deployment", NULL, OPT_BOOL, false, "Allow ARM templates."},
    {"--public-network-access", NULL, OPT_STR, false, "Enabled or Disabled."},
    {"--tags", NULL, OPT_LIST, false, "Space-separated tags (replace the vault's tags)."},
    {"--default-action", NULL, OPT_STR, false, "Default action to apply when no rule matches: Allow or Deny."},
    {"--bypass", NULL, OPT_STR, false, "Bypass traffic for space-separated uses: AzureServices or None."},
    {"--no-wait", NULL, OPT_FLAG, false, "Accepted for az compatibility."},
    END_OPT};
static const struct cf_cli_opt o_vault_deleted[] = {
    {"--name", "-n", OPT_STR, true, "Name of the deleted Key Vault."},
    {"--location", "-l", OPT_STR, false, "Location of the deleted vault (found when omitted)."},
    {"--resource-group", "-g", OPT_STR, false, "Resource group to recover into (default: the original)."},
    {"--no-wait", NULL, OPT_FLAG, false, "Accepted for az compatibility."},
    END_OPT};

static const struct cf_cli_opt o_secret_set[] = {
    VAULT_NAME_OPT,
    SECRET_NAME_OPT,
    {"--value", NULL, OPT_STR, false, "Plain text secret value. Cannot be used with --file."},
    {"--file", "-f", OPT_STR, false, "Source file for the secret. Use --encoding to say how it is read."},
    {"--encoding", "-e", OPT_STR, false, "Source file encoding: ascii, base64, hex, utf-8 (default utf-8)."},
    {"--description", NULL, OPT_STR, false, "Description of the secret contents (e.g. password, connection string)."},
    {"--content-type", NULL, OPT_STR, false, "Same as --description."},
    {"--disabled", NULL, OPT_BOOL, false, "Create the secret in a disabled state."},
    {"--expires", NULL, OPT_TIME, false, "Expiration UTC datetime (Y-m-d'T'H:M:S'Z')."},
    {"--not-before", NULL, OPT_TIME, false, "Key not usable before this UTC datetime (Y-m-d'T'H:M:S'Z')."},
    {"--tags", NULL, OPT_LIST, false, "Space-separated tags: key[=value] [key[=value] ...]."},
    END_OPT};
static const struct cf_cli_opt o_secret_show[] = {
    VAULT_NAME_OPT, SECRET_NAME_OPT, ID_OPT,
    {"--version", "-v", OPT_STR, false, "The secret version. If omitted, uses the latest version."},
    END_OPT};
static const struct cf_cli_opt o_secret_named[] = {VAULT_NAME_OPT, SECRET_NAME_OPT, ID_OPT, END_OPT};
static const struct cf_cli_opt o_secret_list[] = {
    VAULT_NAME_OPT,
    {"--id", NULL, OPT_STR, false, "Full URI of the Vault."},
    {"--maxresults", NULL, OPT_INT, false, "Maximum number of results to return."},
    {"--include-managed", NULL, OPT_BOOL, false, "Include managed secrets (default false)."},
    END_OPT};
static const struct cf_cli_opt o_secret_list_versions[] = {
    VAULT_NAME_OPT, SECRET_NAME_OPT, ID_OPT,
    {"--maxresults", NULL, OPT_INT, false, "Maximum number of results to return."},
    END_OPT};
static const struct cf_cli_opt o_secret_set_attrs[] = {
    VAULT_NAME_OPT, SECRET_NAME_OPT, ID_OPT,
    {"--version", "-v", OPT_STR, false, "The secret version (default: the latest)."},
    {"--enabled", NULL, OPT_BOOL, false, "Enable the secret."},
    {"--expires", NULL, OPT_TIME, false, "Expiration UTC datetime (Y-m-d'T'H:M:S'Z')."},
    {"--not-before", NULL, OPT_TIME, false, "Not usable before this UTC datetime."},
    {"--content-type", NULL, OPT_STR, false, "Type of the secret value such as a password."},
    {"--tags", NULL, OPT_LIST, false, "Space-separated tags: key[=value] [key[=value] ...]."},
    END_OPT};
static const struct cf_cli_opt o_secret_file[] = {
    VAULT_NAME_OPT, SECRET_NAME_OPT, ID_OPT,
    {"--file", "-f", OPT_STR, true, "File to write."},
    END_OPT};
static const struct cf_cli_opt o_secret_download[] = {
    VAULT_NAME_OPT, SECRET_NAME_OPT, ID_OPT,
    {"--file", "-f", OPT_STR, true, "File to receive the secret contents."},
    {"--encoding", "-e", OPT_STR, false, "Encoding of the secret: ascii, base64, hex, utf-8 (default: the secret's file-encoding tag, else utf-8)."},
    {"--version", "-v", OPT_STR, false, "The secret version (default: the latest)."},
    END_OPT};
static const struct cf_cli_opt o_secret_restore[] = {
    VAULT_NAME_OPT,
    {"--file", "-f", OPT_STR, true, "Local backup file from which to restore the secret."},
    END_OPT};

static const struct cf_cli_col t_secret_list[] = {
    {"Name", "name", true},
    {"Id", "id", true},
    {"ContentType", "contentType", true},
    {"Enabled", "attributes.enabled", true},
    {"Expires", "attributes.expires", true},
    {NULL, NULL, false}};
static const struct cf_cli_col t_group_list[] = {
    {"Name", "name", false},
    {"Location", "location", false},
    {"Status", "properties.provisioningState", false},
    {NULL, NULL, false}};

/* ---- identity: ad sp|app|group, role assignment|definition (cmd_ad.c, cmd_role.c) ---- */
static const struct cf_cli_opt o_rbac_create[] = {
    {"--name", "-n", OPT_STR, false, "Display name of the service principal (default azure-cli-<time>)."},
    {"--role", NULL, OPT_STR, false, "Role of the service principal (name or id); needs --scopes."},
    {"--scopes", NULL, OPT_LIST, false, "Space-separated scopes the role assignment applies to."},
    {"--years", NULL, OPT_INT, false, "Number of years for which the credentials will be valid (default 1)."},
    {"--cert", NULL, OPT_STR, false, "PEM or base64 DER public certificate, or @FILE: a certificate credential instead of a password."},
    {"--create-cert", NULL, OPT_FLAG, false, "Not supported: make a certificate with openssl and pass --cert @FILE."},
    {"--skip-assignment", NULL, OPT_FLAG, false, "Accepted for az compatibility (no assignment is made without --role)."},
    END_OPT};
static const struct cf_cli_opt o_cred_reset[] = {
    {"--id", NULL, OPT_STR, true, "Service principal: appId or object id."},
    {"--append", NULL, OPT_FLAG, false, "Append the new credential instead of overwriting."},
    {"--cert", NULL, OPT_STR, false, "PEM or base64 DER public certificate, or @FILE."},
    {"--create-cert", NULL, OPT_FLAG, false, "Not supported: make a certificate with openssl and pass --cert @FILE."},
    {"--display-name", NULL, OPT_STR, false, "Friendly name for the credential."},
    {"--end-date", NULL, OPT_TIME, false, "Finer grain of expiry time, e.g. '2030-12-31T11:59:59+00:00'."},
    {"--years", NULL, OPT_INT, false, "Number of years for which the credentials will be valid (default 1)."},
    END_OPT};
static const struct cf_cli_opt o_ad_list[] = {
    {"--display-name", NULL, OPT_STR, false, "Object's display name or its prefix."},
    {"--filter", NULL, OPT_STR, false, "OData filter, e.g. --filter \"displayname eq 'test'\"."},
    {"--all", NULL, OPT_FLAG, false, "List all entities, expect long delay if under a big organization."},
    END_OPT};
static const struct cf_cli_opt o_app_list[] = {
    {"--display-name", NULL, OPT_STR, false, "Application's display name or its prefix."},
    {"--app-id", NULL, OPT_STR, false, "Application id."},
    {"--filter", NULL, OPT_STR, false, "OData filter."},
    {"--all", NULL, OPT_FLAG, false, "List all entities."},
    END_OPT};
static const struct cf_cli_opt o_ad_id[] = {
    {"--id", NULL, OPT_STR, true, "appId or object id."}, END_OPT};
static const struct cf_cli_opt o_app_create[] = {
    {"--display-name", NULL, OPT_STR, true, "The display name of the application."}, END_OPT};
static const struct cf_cli_opt o_adgroup_create[] = {
    {"--display-name", NULL, OPT_STR, true, "Object's display name."},
    {"--mail-nickname", NULL, OPT_STR, true, "Mail nickname."},
    {"--description", NULL, OPT_STR, false, "Group description."},
    {"--force", NULL, OPT_BOOL, false, "Always create a new group instead of returning an existing one of the same names."},
    END_OPT};
static const struct cf_cli_opt o_adgroup_list[] = {
    {"--display-name", NULL, OPT_STR, false, "Object's display name or its prefix."},
    {"--filter", NULL, OPT_STR, false, "OData filter."},
    END_OPT};
static const struct cf_cli_opt o_adgroup_id[] = {
    {"--group", "-g", OPT_STR, true, "Group's object id or display name."}, END_OPT};
static const struct cf_cli_opt o_member[] = {
    {"--group", "-g", OPT_STR, true, "Group's object id or display name."},
    {"--member-id", NULL, OPT_STR, true, "The object id of the member (service principal or group)."},
    END_OPT};
static const struct cf_cli_opt o_asg_create[] = {
    {"--role", NULL, OPT_STR, true, "Role name or id."},
    {"--assignee", NULL, OPT_STR, false, "Represent a service principal by appId, or a group or service principal by object id."},
    {"--assignee-object-id", NULL, OPT_STR, false, "The assignee's object id (no Graph lookup when --assignee-principal-type is given)."},
    {"--assignee-principal-type", NULL, OPT_STR, false, "ForeignGroup, Group, ServicePrincipal or User; use with --assignee-object-id."},
    {"--scope", NULL, OPT_STR, false, "Scope the assignment applies to, e.g. /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault} (default: the subscription)."},
    {"--resource-group", "-g", OPT_STR, false, "Use the resource group as the scope."},
    {"--name", "-n", OPT_STR, false, "A GUID for the role assignment (default: a new one)."},
    END_OPT};
static const struct cf_cli_opt o_asg_list[] = {
    {"--scope", NULL, OPT_STR, false, "Scope (default: the subscription)."},
    {"--assignee", NULL, OPT_STR, false, "appId or object id of the assignee."},
    {"--role", NULL, OPT_STR, false, "Role name or id."},
    {"--resource-group", "-g", OPT_STR, false, "Use the resource group as the scope."},
    {"--all", NULL, OPT_FLAG, false, "Show all assignments under the subscription, at any scope."},
    {"--include-inherited", NULL, OPT_FLAG, false, "Include assignments applied on parent scopes."},
    {"--include-groups", NULL, OPT_FLAG, false, "Include extra assignments to the groups of which the assignee is a member."},
    END_OPT};
static const struct cf_cli_opt o_asg_delete[] = {
    {"--ids", NULL, OPT_LIST, false, "Space-separated role assignment ids."},
    {"--assignee", NULL, OPT_STR, false, "appId or object id of the assignee."},
    {"--role", NULL, OPT_STR, false, "Role name or id."},
    {"--scope", NULL, OPT_STR, false, "Scope (default: the subscription)."},
    {"--resource-group", "-g", OPT_STR, false, "Use the resource group as the scope."},
    {"--include-inherited", NULL, OPT_FLAG, false, "Include assignments applied on parent scopes."},
    {"--yes", "-y", OPT_FLAG, false, "Confirm deleting every assignment under the subscription."},
    END_OPT};
static const struct cf_cli_opt o_def_list[] = {
    {"--name", "-n", OPT_STR, false, "A role's name or id."},
    {"--custom-role-only", NULL, OPT_BOOL, false, "Custom roles only (vs. built-in ones)."},
    {"--scope", NULL, OPT_STR, false, "Scope (default: the subscription)."},
    END_OPT};
static const struct cf_cli_opt o_def_create[] = {
    {"--role-definition", NULL, OPT_STR, true, "Description of a role as JSON, or a path (@FILE) to a file containing one: Name, Description, Actions, NotActions, DataActions, NotDataActions, AssignableScopes."},
    END_OPT};
static const struct cf_cli_opt o_def_delete[] = {
    {"--name", "-n", OPT_STR, true, "The role's name or id."},
    {"--custom-role-only", NULL, OPT_BOOL, false, "Custom roles only (vs. built-in ones)."},
    {"--scope", NULL, OPT_STR, false, "Scope (default: the subscription)."},
    END_OPT};
static const struct cf_cli_col t_asg_list[] = {
    {"Principal", "principalName", false},
    {"Role", "roleDefinitionName", false},
    {"Scope", "scope", false},
    {NULL, NULL, false}};

const struct cf_cli_group cf_cli_groups[] = {
    {"", "Coffer: a self-hosted secret store that speaks the Azure Key Vault API."},
    {"account", "Show the signed-in account."},
    {"group", "Manage resource groups."},
    {"keyvault", "Manage KeyVault keys, secrets, and certificates."},
    {"keyvault secret", "Manage secrets."},
    CF_CLI_AUDIT_GROUPS,
    CF_CLI_KEY_GROUPS,
    CF_CLI_CERT_GROUPS,
    CF_CLI_LOCK_GROUPS,
    CF_CLI_MONITOR_GROUPS,
    CF_CLI_EVENTS_GROUPS,
    CF_CLI_SIGNING_GROUPS,
    CF_CLI_CA_GROUPS,
    CF_CLI_OPERATOR_GROUPS,
    {"ad", "Manage Microsoft Entra ID (Graph) entities: service principals, applications, groups."},
    {"ad sp", "Manage service principals."},
    {"ad sp credential", "Manage a service principal's password or certificate credentials."},
    {"ad app", "Manage applications."},
    {"ad group", "Manage groups."},
    {"ad group member", "Manage group members."},
    {"role", "Manage Azure role-based access control (Azure RBAC)."},
    {"role assignment", "Manage role assignments."},
    {"role definition", "Manage role definitions."},
};
const size_t cf_cli_ngroups = CF_ARRAY_LEN(cf_cli_groups);

const struct cf_cli_cmd cf_cli_commands[] = {
    {"", "login", cf_cli_cmd_login, 0, "Log in with a service principal.", o_login, NULL},
    {"", "logout", cf_cli_cmd_logout, 0, "Log out: remove the saved profile and tokens.", o_none, NULL},
    {"account", "show", cf_cli_cmd_account_show, CMD_LOGIN, "Get the details of the subscription.", o_none, NULL},
    {"group", "create", cf_cli_cmd_group_create, CMD_LOGIN, "Create a new resource group.", o_group_create, NULL},
    {"group", "list", cf_cli_cmd_group_list, CMD_LOGIN, "List resource groups.", o_group_list, t_group_list},
    {"group", "show", cf_cli_cmd_group_show, CMD_LOGIN | CMD_SHOW, "Gets a resource group.", o_group_name, NULL},
    {"group", "delete", cf_cli_cmd_group_delete, CMD_LOGIN, "Delete a resource group.", o_group_delete, NULL},
    {"keyvault", "create", cf_cli_cmd_vault_create, CMD_LOGIN, "Create a Key Vault.", o_vault_create, NULL},
    {"keyvault", "list", cf_cli_cmd_vault_list, CMD_LOGIN, "List Key Vaults.", o_vault_rg_opt, NULL},
    {"keyvault", "show", cf_cli_cmd_vault_show, CMD_LOGIN | CMD_SHOW, "Show details of a Key Vault.", o_vault_name_rg, NULL},
    {"keyvault", "update", cf_cli_cmd_vault_update, CMD_LOGIN, "Update the properties of a Key Vault.", o_vault_update, NULL},
    {"keyvault", "delete", cf_cli_cmd_vault_delete, CMD_LOGIN, "Delete a Key Vault.", o_vault_name_rg, NULL},
    {"keyvault", "recover", cf_cli_cmd_vault_recover, CMD_LOGIN, "Recover a deleted Key Vault.", o_vault_deleted, NULL},
    {"keyvault", "purge", cf_cli_cmd_vault_purge, CMD_LOGIN, "Permanently delete a deleted Key Vault.", o_vault_deleted, NULL},
    {"keyvault", "list-deleted", cf_cli_cmd_vault_list_deleted, CMD_LOGIN, "Get information about the deleted Key Vaults in a subscription.", o_none, NULL},
    {"keyvault", "show-deleted", cf_cli_cmd_vault_show_deleted, CMD_LOGIN | CMD_SHOW, "Show details of a deleted Key Vault.", o_vault_deleted, NULL},
    {"keyvault secret", "set", cf_cli_cmd_secret_set, CMD_LOGIN, "Create a secret (if one doesn't exist) or update a secret in a KeyVault.", o_secret_set, NULL},
    {"keyvault secret", "show", cf_cli_cmd_secret_show, CMD_LOGIN | CMD_SHOW, "Get a specified secret from a given key vault.", o_secret_show, NULL},
    {"keyvault secret", "list", cf_cli_cmd_secret_list, CMD_LOGIN, "List secrets in a specified key vault.", o_secret_list, t_secret_list},
    {"keyvault secret", "list-versions", cf_cli_cmd_secret_list_versions, CMD_LOGIN, "List all versions of the specified secret.", o_secret_list_versions, NULL},
    {"keyvault secret", "list-deleted", cf_cli_cmd_secret_list_deleted, CMD_LOGIN, "Lists deleted secrets for the specified vault.", o_secret_list, NULL},
    {"keyvault secret", "set-attributes", cf_cli_cmd_secret_set_attributes, CMD_LOGIN, "Updates the attributes associated with a specified secret in a given key vault.", o_secret_set_attrs, NULL},
    {"keyvault secret", "delete", cf_cli_cmd_secret_delete, CMD_LOGIN, "Deletes a secret from a specified key vault.", o_secret_named, NULL},
    {"keyvault secret", "recover", cf_cli_cmd_secret_recover, CMD_LOGIN, "Recovers the deleted secret to the latest version.", o_secret_named, NULL},
    {"keyvault secret", "purge", cf_cli_cmd_secret_purge, CMD_LOGIN, "Permanently deletes the specified secret.", o_secret_named, NULL},
    {"keyvault secret", "show-deleted", cf_cli_cmd_secret_show_deleted, CMD_LOGIN | CMD_SHOW, "Gets the specified deleted secret.", o_secret_named, NULL},
    {"keyvault secret", "backup", cf_cli_cmd_secret_backup, CMD_LOGIN, "Backs up the specified secret.", o_secret_file, NULL},
    {"keyvault secret", "restore", cf_cli_cmd_secret_restore, CMD_LOGIN, "Restores a backed up secret to a vault.", o_secret_restore, NULL},
    {"keyvault secret", "download", cf_cli_cmd_secret_download, CMD_LOGIN, "Download a secret from a KeyVault.", o_secret_download, NULL},
    CF_CLI_AUDIT_COMMANDS,
    CF_CLI_KEY_COMMANDS,
    CF_CLI_CERT_COMMANDS,
    CF_CLI_LOCK_COMMANDS,
    CF_CLI_MONITOR_COMMANDS,
    CF_CLI_EVENTS_COMMANDS,
    CF_CLI_SIGNING_COMMANDS,
    CF_CLI_CA_COMMANDS,
    CF_CLI_OPERATOR_COMMANDS,
    {"ad sp", "create-for-rbac", cf_cli_cmd_ad_sp_create_for_rbac, CMD_LOGIN, "Create an application and its service principal, optionally with RBAC role assignments.", o_rbac_create, NULL},
    {"ad sp credential", "reset", cf_cli_cmd_ad_sp_credential_reset, CMD_LOGIN, "Reset a service principal's password or certificate credential.", o_cred_reset, NULL},
    {"ad sp", "list", cf_cli_cmd_ad_sp_list, CMD_LOGIN, "List service principals.", o_ad_list, NULL},
    {"ad sp", "show", cf_cli_cmd_ad_sp_show, CMD_LOGIN | CMD_SHOW, "Get the details of a service principal.", o_ad_id, NULL},
    {"ad sp", "delete", cf_cli_cmd_ad_sp_delete, CMD_LOGIN, "Delete a service principal (and its application).", o_ad_id, NULL},
    {"ad app", "create", cf_cli_cmd_ad_app_create, CMD_LOGIN, "Create an application (and its service principal).", o_app_create, NULL},
    {"ad app", "list", cf_cli_cmd_ad_app_list, CMD_LOGIN, "List applications.", o_app_list, NULL},
    {"ad app", "show", cf_cli_cmd_ad_app_show, CMD_LOGIN | CMD_SHOW, "Get the details of an application.", o_ad_id, NULL},
    {"ad app", "delete", cf_cli_cmd_ad_app_delete, CMD_LOGIN, "Delete an application.", o_ad_id, NULL},
    {"ad group", "create", cf_cli_cmd_ad_group_create, CMD_LOGIN, "Create a group.", o_adgroup_create, NULL},
    {"ad group", "list", cf_cli_cmd_ad_group_list, CMD_LOGIN, "List groups.", o_adgroup_list, NULL},
    {"ad group", "show", cf_cli_cmd_ad_group_show, CMD_LOGIN | CMD_SHOW, "Get the details of a group.", o_adgroup_id, NULL},
    {"ad group", "delete", cf_cli_cmd_ad_group_delete, CMD_LOGIN, "Delete a group.", o_adgroup_id, NULL},
    {"ad group member", "add", cf_cli_cmd_ad_member_add, CMD_LOGIN, "Add a member to a group.", o_member, NULL},
    {"ad group member", "remove", cf_cli_cmd_ad_member_remove, CMD_LOGIN, "Remove a member from a group.", o_member, NULL},
    {"ad group member", "list", cf_cli_cmd_ad_member_list, CMD_LOGIN, "Get the members of a group.", o_adgroup_id, NULL},
    {"ad group member", "check", cf_cli_cmd_ad_member_check, CMD_LOGIN, "Check if a member is in a group.", o_member, NULL},
    {"role assignment", "create", cf_cli_cmd_role_assignment_create, CMD_LOGIN, "Create a new role assignment for a service principal or group.", o_asg_create, NULL},
    {"role assignment", "list", cf_cli_cmd_role_assignment_list, CMD_LOGIN, "List role assignments.", o_asg_list, t_asg_list},
    {"role assignment", "delete", cf_cli_cmd_role_assignment_delete, CMD_LOGIN, "Delete role assignments.", o_asg_delete, NULL},
    {"role definition", "list", cf_cli_cmd_role_definition_list, CMD_LOGIN, "List role definitions.", o_def_list, NULL},
    {"role definition", "create", cf_cli_cmd_role_definition_create, CMD_LOGIN, "Create a custom role definition.", o_def_create, NULL},
    {"role definition", "delete", cf_cli_cmd_role_definition_delete, CMD_LOGIN, "Delete a role definition.", o_def_delete, NULL},
};
const size_t cf_cli_ncommands = CF_ARRAY_LEN(cf_cli_commands);

/* ---- small helpers ---- */

const char *cf_cli_env(struct cf_cli_run *r, const char *name)
{
    const char *v = r->ctx->getenv ? r->ctx->getenv(r->ctx->env_ctx, name) : getenv(name);
    return v && *v ? v : NULL;
}

int64_t cf_cli_now(struct cf_cli_run *r)
{
    return r->ctx->now ? r->ctx->now(r->ctx->env_ctx) : (int64_t)time(NULL);
}

static long opt_index(const struct cf_cli_cmd *c, const char *name)
{
    for (long i = 0; c->opts[i].name; i++)
        if (strcmp(c->opts[i].name, name) == 0)
            return i;
    return -1;
}

const struct cf_cli_arg *cf_cli_argv(struct cf_cli_run *r, const char *name)
{
    long i = opt_index(r->cmd, name);
    return i >= 0 && r->args[i].present ? &r->args[i] : NULL;
}

const char *cf_cli_arg(struct cf_cli_run *r, const char *name)
{
    const struct cf_cli_arg *a = cf_cli_argv(r, name);
    return a ? a->value : NULL;
}

bool cf_cli_has(struct cf_cli_run *r, const char *name)
{
    return cf_cli_argv(r, name) != NULL;
}

int cf_cli_fail(struct cf_cli_run *r, int code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One line: the contract with scripts (and az's own behaviour for service errors). */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(r->ctx->err, "ERROR: %s\n", msg);
    return code;
}

/* ---- help ---- */

static bool group_known(const char *g)
{
    for (size_t i = 0; i < cf_cli_ngroups; i++)
        if (strcmp(cf_cli_groups[i].name, g) == 0)
            return true;
    return false;
}

static void print_group_help(FILE *f, const char *g)
{
    const char *summary = "";
    size_t gl = strlen(g);
    for (size_t i = 0; i < cf_cli_ngroups; i++)
        if (strcmp(cf_cli_groups[i].name, g) == 0)
            summary = cf_cli_groups[i].summary;
    fprintf(f, "\nGroup\n    coffer%s%s : %s\n", *g ? " " : "", g, summary);
    fprintf(f, "\nSubgroups:\n");
    for (size_t i = 0; i < cf_cli_ngroups; i++) {
        const char *n = cf_cli_groups[i].name;
        const char *rest;
        if (!*n || strcmp(n, g) == 0)
            continue;
        if (gl && (strncmp(n, g, gl) != 0 || n[gl] != ' '))
            continue;
        rest = gl ? n + gl + 1 : n;
        if (strchr(rest, ' '))
            continue;
        fprintf(f, "    %-16s : %s\n", rest, cf_cli_groups[i].summary);
    }
    fprintf(f, "\nCommands:\n");
    for (size_t i = 0; i < cf_cli_ncommands; i++)
        if (strcmp(cf_cli_commands[i].group, g) == 0)
            fprintf(f, "    %-16s : %s\n", cf_cli_commands[i].name, cf_cli_commands[i].summary);
    fprintf(f, "\nTo search help, run: coffer <group> <command> --help\n");
}

static void print_cmd_help(FILE *f, const struct cf_cli_cmd *c)
{
    fprintf(f, "\nCommand\n    coffer %s%s%s : %s\n", c->group, *c->group ? " " : "", c->name,
            c->summary);
    fprintf(f, "\nArguments\n");
    for (size_t i = 0; c->opts[i].name; i++) {
        char n[64];
        snprintf(n, sizeof(n), "%s%s%s", c->opts[i].name, c->opts[i].alias ? " " : "",
                 c->opts[i].alias ? c->opts[i].alias : "");
        fprintf(f, "    %-34s%s: %s\n", n, c->opts[i].required ? " [Required] " : " ",
                c->opts[i].help);
    }
    fprintf(f, "\nGlobal Arguments\n"
               "    --help -h                         : Show this help message and exit.\n"
               "    --output -o                       : Output format. Allowed values: json, jsonc, none, table, tsv.  Default: json.\n"
               "    --query                           : JMESPath query string. See http://jmespath.org/ for more information and examples.\n"
               "    --only-show-errors --verbose --debug --subscription : accepted for az compatibility.\n");
}

/* ---- argument parsing ---- */

static bool is_bool_word(const char *s, const char **norm)
{
    static const char *const t[] = {"true", "yes", "1", "on"};
    static const char *const f[] = {"false", "no", "0", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, t[i]) == 0) {
            *norm = "true";
            return true;
        }
        if (strcasecmp(s, f[i]) == 0) {
            *norm = "false";
            return true;
        }
    }
    return false;
}

static bool looks_like_option(const char *s)
{
    if (s[0] != '-' || s[1] == '\0')
        return false;
    /* A negative number is a value, as in argparse. */
    if ((s[1] >= '0' && s[1] <= '9') || s[1] == '.')
        return false;
    return true;
}

/* Finds the option for token (exact name or alias, else an unambiguous prefix of a long name,
 * as argparse's allow_abbrev). -1 unknown, -2 ambiguous. */
static long find_opt(const struct cf_cli_cmd *c, const char *tok, size_t len)
{
    long found = -1;
    for (long i = 0; c->opts[i].name; i++) {
        if ((strlen(c->opts[i].name) == len && strncmp(c->opts[i].name, tok, len) == 0) ||
            (c->opts[i].alias && strlen(c->opts[i].alias) == len &&
             strncmp(c->opts[i].alias, tok, len) == 0))
            return i;
    }
    if (len < 3 || strncmp(tok, "--", 2) != 0)
        return -1;
    for (long i = 0; c->opts[i].name; i++) {
        if (strncmp(c->opts[i].name, tok, len) == 0) {
            if (found >= 0)
                return -2;
            found = i;
        }
    }
    return found;
}

/* Parses argv[i..] for command c. Returns -1 to continue, or an exit code. */
static int parse_args(struct cf_cli_run *r, int argc, char **argv, int i)
{
    const struct cf_cli_cmd *c = r->cmd;
    char missing[512];
    size_t ml = 0;

    for (; i < argc; i++) {
        const char *tok = argv[i], *eq, *inline_val = NULL;
        size_t len;
        long oi;

        if (!strcmp(tok, "--help") || !strcmp(tok, "-h")) {
            print_cmd_help(r->ctx->out, c);
            return 0;
        }
        if (!looks_like_option(tok))
            return cf_cli_fail(r, 2, "unrecognized arguments: %s", tok);
        eq = strncmp(tok, "--", 2) == 0 ? strchr(tok, '=') : NULL;
        len = eq ? (size_t)(eq - tok) : strlen(tok);
        if (eq)
            inline_val = eq + 1;

        /* Global arguments. */
        if ((len == 8 && !strncmp(tok, "--output", 8)) || (len == 2 && !strncmp(tok, "-o", 2))) {
            const char *v = inline_val ? inline_val : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !cf_cli_fmt_parse(v, &r->fmt))
                return cf_cli_fail(r, 2,
                                   "argument --output/-o: invalid choice: '%s' (choose from "
                                   "'json', 'jsonc', 'none', 'table', 'tsv')",
                                   v ? v : "");
            continue;
        }
        if (len == 7 && !strncmp(tok, "--query", 7)) {
            r->query = inline_val ? inline_val : (i + 1 < argc ? argv[++i] : NULL);
            if (!r->query)
                return cf_cli_fail(r, 2, "argument --query: expected one argument");
            continue;
        }
        if ((len == 7 && !strncmp(tok, "--debug", 7)) ||
            (len == 9 && !strncmp(tok, "--verbose", 9)) ||
            (len == 17 && !strncmp(tok, "--only-show-errors", 17)))
            continue;
        if ((len == 14 && !strncmp(tok, "--subscription", 14))) {
            if (!inline_val)
                i++;
            continue;
        }

        oi = find_opt(c, tok, len);
        if (oi == -2)
            return cf_cli_fail(r, 2, "ambiguous option: %.*s", (int)len, tok);
        if (oi < 0)
            return cf_cli_fail(r, 2, "unrecognized arguments: %s", tok);
        {
            const struct cf_cli_opt *o = &c->opts[oi];
            struct cf_cli_arg *a = &r->args[oi];
            const char *norm;
            a->present = true;
            switch (o->type) {
            case OPT_FLAG:
                if (inline_val)
                    return cf_cli_fail(r, 2, "argument %s: ignored explicit argument '%s'",
                                       o->name, inline_val);
                a->value = "true";
                break;
            case OPT_BOOL:
                if (inline_val) {
                    if (!is_bool_word(inline_val, &norm))
                        return cf_cli_fail(r, 2,
                                           "argument %s: invalid choice: '%s' (choose from "
                                           "'true', 'false')",
                                           o->name, inline_val);
                    a->value = norm;
                } else if (i + 1 < argc && is_bool_word(argv[i + 1], &norm)) {
                    a->value = norm;
                    i++;
                } else if (i + 1 < argc && !looks_like_option(argv[i + 1])) {
                    return cf_cli_fail(r, 2,
                                       "argument %s: invalid choice: '%s' (choose from 'true', "
                                       "'false')",
                                       o->name, argv[i + 1]);
                } else {
                    a->value = "true";
                }
                break;
            case OPT_LIST:
                a->nlist = 0;
                if (inline_val)
                    a->list[a->nlist++] = inline_val;
                while (!inline_val && i + 1 < argc && !looks_like_option(argv[i + 1])) {
                    if (a->nlist == CF_CLI_MAX_LIST)
                        return cf_cli_fail(r, 2, "argument %s: too many values", o->name);
                    a->list[a->nlist++] = argv[++i];
                }
                break;
            default:
                if (inline_val) {
                    a->value = inline_val;
                } else if (i + 1 < argc && !looks_like_option(argv[i + 1])) {
                    a->value = argv[++i];
                } else {
                    return cf_cli_fail(r, 2, "argument %s%s%s: expected one argument", o->name,
                                       o->alias ? "/" : "", o->alias ? o->alias : "");
                }
                if (o->type == OPT_INT) {
                    int64_t v;
                    if (!cf_str_to_i64(cf_str_from(a->value), &v))
                        return cf_cli_fail(r, 2, "argument %s: invalid int value: '%s'", o->name,
                                           a->value);
                } else if (o->type == OPT_TIME) {
                    int64_t v;
                    if (!cf_cli_parse_time(a->value, &v))
                        return cf_cli_fail(r, 2, "argument %s: invalid datetime_type value: '%s'",
                                           o->name, a->value);
                }
                break;
            }
        }
    }
    missing[0] = '\0';
    for (size_t k = 0; c->opts[k].name; k++) {
        if (c->opts[k].required && !r->args[k].present) {
            int w = snprintf(missing + ml, sizeof(missing) - ml, "%s%s%s%s", ml ? ", " : "",
                             c->opts[k].name, c->opts[k].alias ? "/" : "",
                             c->opts[k].alias ? c->opts[k].alias : "");
            if (w > 0 && (size_t)w < sizeof(missing) - ml)
                ml += (size_t)w;
        }
    }
    if (ml)
        return cf_cli_fail(r, 2, "the following arguments are required: %s", missing);
    return -1;
}

/* ---- run ---- */

static const struct cf_cli_cmd *find_cmd(const char *path)
{
    for (size_t i = 0; i < cf_cli_ncommands; i++) {
        char full[128];
        snprintf(full, sizeof(full), "%s%s%s", cf_cli_commands[i].group,
                 *cf_cli_commands[i].group ? " " : "", cf_cli_commands[i].name);
        if (strcmp(full, path) == 0)
            return &cf_cli_commands[i];
    }
    return NULL;
}

static int finish(struct cf_cli_run *r)
{
    struct cf_val *res = r->result, *q = NULL;
    struct cf_cli_query *cq = NULL;
    struct cf_buf out;
    char err[512];
    int rc = 0;

    cf_buf_init(&out, SIZE_MAX / 2);
    if (!res)
        goto done;
    if (cf_cli_add_resource_group(res) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto done;
    }
    if (r->query) {
        if (cf_cli_query_compile(r->query, &cq, err, sizeof(err)) != CF_OK) {
            rc = cf_cli_fail(r, 2, "argument --query: invalid jmespath_type value: '%s'",
                             r->query);
            goto done;
        }
        if (cf_cli_query_eval(cq, res, &q, err, sizeof(err)) != CF_OK) {
            rc = cf_cli_fail(r, 1, "%s", err[0] ? err : "query failed");
            goto done;
        }
        res = q;
    }
    if (cf_cli_render(&out, res, r->fmt, r->query != NULL, r->cmd->table, err, sizeof(err)) !=
        CF_OK) {
        rc = cf_cli_fail(r, 1, "%s", err);
        goto done;
    }
    if (out.len)
        fwrite(out.data, 1, out.len, r->ctx->out);
    fflush(r->ctx->out);
done:
    cf_cli_query_free(cq);
    cf_val_unref(q);
    cf_buf_wipe(&out);
    return rc;
}

int cf_cli_run(struct cf_cli_ctx *ctx, int argc, char **argv)
{
    struct cf_cli_run *r = calloc(1, sizeof(*r));
    char path[256] = "";
    size_t pl = 0;
    int i = 1, rc;
    bool help = false;

    if (!r) {
        fprintf(ctx->err, "ERROR: out of memory\n");
        return 1;
    }
    r->ctx = ctx;
    r->fmt = CF_FMT_JSON;

    /* The command path: the leading words that are not options. */
    while (i < argc && argv[i][0] != '-') {
        char trial[256];
        snprintf(trial, sizeof(trial), "%s%s%s", path, pl ? " " : "", argv[i]);
        if (!group_known(trial) && !find_cmd(trial))
            break;
        pl = (size_t)snprintf(path, sizeof(path), "%s", trial);
        i++;
        if (find_cmd(path))
            break;
    }
    for (int k = i; k < argc; k++)
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h"))
            help = true;
    r->cmd = find_cmd(path);
    if (!r->cmd) {
        if (i < argc && argv[i][0] != '-') {
            rc = cf_cli_fail(r, 2, "'%s' is misspelled or not recognized by the system.",
                             argv[i]);
        } else {
            print_group_help(help ? ctx->out : ctx->out, path);
            rc = 0;
        }
        goto out;
    }
    rc = parse_args(r, argc, argv, i);
    if (rc >= 0)
        goto out;

    {
        const char *env_dir = cf_cli_env(r, "COFFER_CONFIG_DIR");
        const char *home = cf_cli_env(r, "HOME");
        if (cf_cli_config_dir(env_dir, home, r->config_dir, sizeof(r->config_dir)) != CF_OK) {
            rc = cf_cli_fail(r, 1, "cannot find the config directory: set COFFER_CONFIG_DIR");
            goto out;
        }
    }
    if (r->cmd->flags & CMD_LOGIN) {
        cf_err e = cf_cli_profile_load(r->config_dir, &r->prof);
        if (e == CF_ENOTFOUND) {
            rc = cf_cli_fail(r, 1, "Please run 'coffer login' to setup account.");
            goto out;
        }
        if (e != CF_OK) {
            rc = cf_cli_fail(r, 1, "The profile in %s is damaged; run 'coffer login' again.",
                             r->config_dir);
            goto out;
        }
        r->have_profile = true;
    }
    rc = r->cmd->fn(r);
    if (rc == 0)
        rc = finish(r);
out:
    cf_val_unref(r->result);
    cf_client_free(r->client);
    cf_cli_profile_release(&r->prof);
    free(r);
    return rc;
}
