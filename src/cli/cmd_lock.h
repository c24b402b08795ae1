/* cmd_lock.h - `coffer lock ...` (cmd_lock.c: management locks, az lock's arguments and
 * shapes) and the vault access commands of `coffer keyvault` (cmd_policy.c: set-policy,
 * delete-policy, network-rule add/remove/list). Kept apart from cli_int.h so these command
 * families are one unit; commands.c splices the rows below into its tables. */
#ifndef CF_CLI_CMD_LOCK_H
#define CF_CLI_CMD_LOCK_H

#include "base/cf.h"
#include "cli/cli_int.h"

/* ---- handlers ---- */
int cf_cli_cmd_lock_create(struct cf_cli_run *r);
int cf_cli_cmd_lock_list(struct cf_cli_run *r);
int cf_cli_cmd_lock_show(struct cf_cli_run *r);
int cf_cli_cmd_lock_delete(struct cf_cli_run *r);
int cf_cli_cmd_vault_set_policy(struct cf_cli_run *r);
int cf_cli_cmd_vault_delete_policy(struct cf_cli_run *r);
int cf_cli_cmd_network_rule_add(struct cf_cli_run *r);
int cf_cli_cmd_network_rule_remove(struct cf_cli_run *r);
int cf_cli_cmd_network_rule_list(struct cf_cli_run *r);

/* ---- pure parts (exposed for unit tests) ---- */
/* An ARM lock -> az's model (ManagementLockObject: id, level, name, notes, owners, type; null
 * when unset). */
struct cf_val *cf_cli_shape_lock(const struct cf_val *arm);
/* The lock's scope path ("/subscriptions/S[/resourceGroups/G[/providers/NS/TYPE/NAME]]")
 * from az lock's arguments: rg may be NULL (the subscription); res with rtype (e.g.
 * "Microsoft.KeyVault/vaults", or "vaults" with ns "Microsoft.KeyVault"). Only Key Vault
 * vaults are lockable resources here. CF_EINVAL with a message in err. */
cf_err cf_cli_lock_scope(const char *sub, const char *rg, const char *res, const char *rtype,
                         const char *ns, char *out, size_t n, char *err, size_t errlen)
    CF_NODISCARD;
/* az keyvault set-policy's merge into a vault's accessPolicies array (modified in place):
 * the entry matching (tenant, oid, appid) case-insensitively gets each given list replaced
 * (de-duplicated), or a new entry is appended. perms[4]: keys, secrets, certificates, storage
 * (NULL: not given). */
cf_err cf_cli_policy_set(struct cf_val *policies, const char *tenant, const char *oid,
                         const char *appid, const struct cf_cli_arg *const perms[4])
    CF_NODISCARD;
/* az keyvault delete-policy: removes every entry matching (tenant, oid, appid); *removed
 * counts them. */
cf_err cf_cli_policy_delete(struct cf_val *policies, const char *tenant, const char *oid,
                            const char *appid, size_t *removed) CF_NODISCARD;

/* Option tables (cmd_lock.c, cmd_policy.c) and the rows commands.c splices into its tables. */
extern const struct cf_cli_opt cf_cli_o_lock_create[], cf_cli_o_lock_list[], cf_cli_o_lock_named[],
    cf_cli_o_set_policy[], cf_cli_o_delete_policy[], cf_cli_o_network_rule[],
    cf_cli_o_network_rule_list[];

#define CF_CLI_LOCK_GROUPS                                                                         \
    {"lock", "Manage Azure locks."},                                                               \
    {"keyvault network-rule", "Manage vault network ACLs."}

#define CF_CLI_LOCK_COMMANDS                                                                       \
    {"lock", "create", cf_cli_cmd_lock_create, CMD_LOGIN, "Create a lock.", cf_cli_o_lock_create, NULL}, \
    {"lock", "list", cf_cli_cmd_lock_list, CMD_LOGIN, "List lock information.", cf_cli_o_lock_list, NULL}, \
    {"lock", "show", cf_cli_cmd_lock_show, CMD_LOGIN | CMD_SHOW, "Show the properties of a lock.", cf_cli_o_lock_named, NULL}, \
    {"lock", "delete", cf_cli_cmd_lock_delete, CMD_LOGIN, "Delete a lock.", cf_cli_o_lock_named, NULL}, \
    {"keyvault", "set-policy", cf_cli_cmd_vault_set_policy, CMD_LOGIN, "Update security policy settings for a Key Vault.", cf_cli_o_set_policy, NULL}, \
    {"keyvault", "delete-policy", cf_cli_cmd_vault_delete_policy, CMD_LOGIN, "Delete security policy settings for a Key Vault.", cf_cli_o_delete_policy, NULL}, \
    {"keyvault network-rule", "add", cf_cli_cmd_network_rule_add, CMD_LOGIN, "Add a network rule to the network ACLs for a Key Vault.", cf_cli_o_network_rule, NULL}, \
    {"keyvault network-rule", "remove", cf_cli_cmd_network_rule_remove, CMD_LOGIN, "Remove a network rule from the network ACLs for a Key Vault.", cf_cli_o_network_rule, NULL}, \
    {"keyvault network-rule", "list", cf_cli_cmd_network_rule_list, CMD_LOGIN, "List network rules from the network ACLs for a Key Vault.", cf_cli_o_network_rule_list, NULL}

#endif
