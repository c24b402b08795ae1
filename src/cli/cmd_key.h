/* cmd_key.h - `coffer keyvault key ...` (cmd_key.c) and the PEM/DER conversions its import and
 * download need (keyder.c). Kept apart from cli_int.h so the keys commands are one unit.
 *
 * keyder.c works on DER directly (no OpenSSL outside crypto/): private keys in PEM (PKCS#8
 * "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY") become a private JWK for the
 * import request, and a public JWK from the service becomes a SubjectPublicKeyInfo (PEM or DER)
 * for download. Encrypted PEM is refused (there is no cipher here). */
#ifndef CF_CLI_CMD_KEY_H
#define CF_CLI_CMD_KEY_H

#include "base/cf.h"
#include "base/buf.h"
#include "cli/cli_int.h"

/* PEM private key -> JWK object {"kty":"RSA","n","e","d","p","q","dp","dq","qi"} or
 * {"kty":"EC","crv","x","y","d"} (members base64url; EC members at the full coordinate size).
 * *out is a new reference whose strings are wiped on free. CF_EINVAL with a reason in why
 * (never key bytes) for anything else: no key block, encrypted PEM, unsupported curve or
 * algorithm, malformed DER, an EC key without its public point. */
cf_err cf_cli_pem_to_jwk(const char *pem, size_t n, struct cf_val **out, char *why,
                         size_t whysz) CF_NODISCARD;
/* Public JWK (RSA/RSA-HSM n,e; EC/EC-HSM crv,x,y; members base64url) -> SubjectPublicKeyInfo
 * DER appended to der. CF_EINVAL with a reason for other key types or missing members. */
cf_err cf_cli_jwk_to_spki(const struct cf_val *jwk, struct cf_buf *der, char *why,
                          size_t whysz) CF_NODISCARD;
/* Appends "-----BEGIN label-----\n" + base64 in 64-column lines + "-----END label-----\n". */
cf_err cf_cli_pem_wrap(const char *label, const void *der, size_t n,
                       struct cf_buf *out) CF_NODISCARD;

/* az shapes (exposed for unit tests). A KeyBundle / DeletedKeyBundle as `az keyvault key show`
 * prints it: attributes, key (every JWK member, binary members in standard base64, null when
 * absent), managed, releasePolicy, tags (+ recoveryId, deletedDate, scheduledPurgeDate when
 * deleted). item: a KeyItem / DeletedKeyItem of a list (attributes, kid, managed, name, tags). */
struct cf_val *cf_cli_shape_key(const struct cf_val *b, bool deleted, bool item);
/* A KeyRotationPolicy as az prints it: id, lifetimeActions [{action, timeAfterCreate,
 * timeBeforeExpiry}], expiresIn, createdOn, updatedOn. */
struct cf_val *cf_cli_shape_rotation_policy(const struct cf_val *p);
/* The wire body of `rotation-policy update --value JSON`: accepts az's snake_case form
 * (lifetime_actions with action as a string or {type}, trigger or flat time_* members,
 * expires_in / expiry_time at the top or under attributes) and the REST form (lifetimeActions,
 * attributes.expiryTime). NULL with a reason in why when it is not a policy. */
struct cf_val *cf_cli_rotation_policy_body(const struct cf_val *in, char *why, size_t whysz);

int cf_cli_cmd_key_create(struct cf_cli_run *r);
int cf_cli_cmd_key_import(struct cf_cli_run *r);
int cf_cli_cmd_key_show(struct cf_cli_run *r);
int cf_cli_cmd_key_list(struct cf_cli_run *r);
int cf_cli_cmd_key_list_versions(struct cf_cli_run *r);
int cf_cli_cmd_key_list_deleted(struct cf_cli_run *r);
int cf_cli_cmd_key_show_deleted(struct cf_cli_run *r);
int cf_cli_cmd_key_set_attributes(struct cf_cli_run *r);
int cf_cli_cmd_key_delete(struct cf_cli_run *r);
int cf_cli_cmd_key_recover(struct cf_cli_run *r);
int cf_cli_cmd_key_purge(struct cf_cli_run *r);
int cf_cli_cmd_key_backup(struct cf_cli_run *r);
int cf_cli_cmd_key_restore(struct cf_cli_run *r);
int cf_cli_cmd_key_rotate(struct cf_cli_run *r);
int cf_cli_cmd_key_policy_show(struct cf_cli_run *r);
int cf_cli_cmd_key_policy_update(struct cf_cli_run *r);
int cf_cli_cmd_key_encrypt(struct cf_cli_run *r);
int cf_cli_cmd_key_decrypt(struct cf_cli_run *r);
int cf_cli_cmd_key_sign(struct cf_cli_run *r);
int cf_cli_cmd_key_verify(struct cf_cli_run *r);
int cf_cli_cmd_key_download(struct cf_cli_run *r);
int cf_cli_cmd_key_random(struct cf_cli_run *r);

/* Option tables (cmd_key.c) and the rows commands.c splices into its tables. */
extern const struct cf_cli_opt cf_cli_o_key_create[], cf_cli_o_key_import[], cf_cli_o_key_show[],
    cf_cli_o_key_named[], cf_cli_o_key_list[], cf_cli_o_key_list_versions[],
    cf_cli_o_key_set_attrs[], cf_cli_o_key_file[], cf_cli_o_key_restore[],
    cf_cli_o_key_policy_update[], cf_cli_o_key_encrypt[], cf_cli_o_key_decrypt[],
    cf_cli_o_key_sign[], cf_cli_o_key_verify[], cf_cli_o_key_download[], cf_cli_o_key_random[];
extern const struct cf_cli_col cf_cli_t_key_list[];

/* One table row per line, as in commands.c. */
/* clang-format off */
#define CF_CLI_KEY_GROUPS                                                                          \
    {"keyvault key", "Manage keys."},                                                              \
    {"keyvault key rotation-policy", "Manage key's rotation policy."}

#define CF_CLI_KEY_COMMANDS                                                                        \
    {"keyvault key", "create", cf_cli_cmd_key_create, CMD_LOGIN, "Create a new key, store it, then return key parameters and attributes to the client.", cf_cli_o_key_create, NULL}, \
    {"keyvault key", "import", cf_cli_cmd_key_import, CMD_LOGIN, "Import a private key (PEM).", cf_cli_o_key_import, NULL}, \
    {"keyvault key", "show", cf_cli_cmd_key_show, CMD_LOGIN | CMD_SHOW, "Get a key's attributes and, if it's an asymmetric key, its public material.", cf_cli_o_key_show, NULL}, \
    {"keyvault key", "list", cf_cli_cmd_key_list, CMD_LOGIN, "List keys in the specified vault.", cf_cli_o_key_list, cf_cli_t_key_list}, \
    {"keyvault key", "list-versions", cf_cli_cmd_key_list_versions, CMD_LOGIN, "List the identifiers and properties of a key's versions.", cf_cli_o_key_list_versions, NULL}, \
    {"keyvault key", "list-deleted", cf_cli_cmd_key_list_deleted, CMD_LOGIN, "List the deleted keys in the specified vault.", cf_cli_o_key_list, NULL}, \
    {"keyvault key", "show-deleted", cf_cli_cmd_key_show_deleted, CMD_LOGIN | CMD_SHOW, "Get the public part of a deleted key.", cf_cli_o_key_named, NULL}, \
    {"keyvault key", "set-attributes", cf_cli_cmd_key_set_attributes, CMD_LOGIN, "Change specified attributes of a key.", cf_cli_o_key_set_attrs, NULL}, \
    {"keyvault key", "delete", cf_cli_cmd_key_delete, CMD_LOGIN, "Delete a key of any type from storage in Azure Key Vault.", cf_cli_o_key_named, NULL}, \
    {"keyvault key", "recover", cf_cli_cmd_key_recover, CMD_LOGIN, "Recover the deleted key to its latest version.", cf_cli_o_key_named, NULL}, \
    {"keyvault key", "purge", cf_cli_cmd_key_purge, CMD_LOGIN, "Permanently delete the specified key.", cf_cli_o_key_named, NULL}, \
    {"keyvault key", "backup", cf_cli_cmd_key_backup, CMD_LOGIN, "Back up a key.", cf_cli_o_key_file, NULL}, \
    {"keyvault key", "restore", cf_cli_cmd_key_restore, CMD_LOGIN, "Restore a backed up key to a vault.", cf_cli_o_key_restore, NULL}, \
    {"keyvault key", "rotate", cf_cli_cmd_key_rotate, CMD_LOGIN, "Rotate the key based on the key policy by generating a new version of the key.", cf_cli_o_key_named, NULL}, \
    {"keyvault key", "encrypt", cf_cli_cmd_key_encrypt, CMD_LOGIN, "Encrypt a single block of data with the key.", cf_cli_o_key_encrypt, NULL}, \
    {"keyvault key", "decrypt", cf_cli_cmd_key_decrypt, CMD_LOGIN, "Decrypt a single block of encrypted data.", cf_cli_o_key_decrypt, NULL}, \
    {"keyvault key", "sign", cf_cli_cmd_key_sign, CMD_LOGIN, "Create a signature from a digest using the key.", cf_cli_o_key_sign, NULL}, \
    {"keyvault key", "verify", cf_cli_cmd_key_verify, CMD_LOGIN, "Verify a signature using the key.", cf_cli_o_key_verify, NULL}, \
    {"keyvault key", "download", cf_cli_cmd_key_download, CMD_LOGIN, "Download the public part of a stored key.", cf_cli_o_key_download, NULL}, \
    {"keyvault key", "random", cf_cli_cmd_key_random, CMD_LOGIN, "Get the requested number of random bytes.", cf_cli_o_key_random, NULL}, \
    {"keyvault key rotation-policy", "show", cf_cli_cmd_key_policy_show, CMD_LOGIN | CMD_SHOW, "Get the rotation policy of a Key Vault key.", cf_cli_o_key_named, NULL}, \
    {"keyvault key rotation-policy", "update", cf_cli_cmd_key_policy_update, CMD_LOGIN, "Update the rotation policy of a Key Vault key.", cf_cli_o_key_policy_update, NULL}
/* clang-format on */

#endif
