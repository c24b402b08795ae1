/* cmd_cert.h - `coffer keyvault certificate ...` (cmd_cert.c): the data-plane certificate
 * commands with az 2.45's argument names and result shapes (its track-1 models through todict:
 * camelCase members, null when absent), plus the conversions they need, exposed for unit tests.
 * Kept apart from cli_int.h so the certificate commands are one unit. */
#ifndef CF_CLI_CMD_CERT_H
#define CF_CLI_CMD_CERT_H

#include "base/cf.h"
#include "cli/cli_int.h"

/* A policy as a user writes it -> the wire's CertificatePolicy. Member names are matched
 * without case and underscores, in any of the three spellings az users meet: the wire's
 * (key_props, x509_props, sans, dns_names, validity_months, action_type, cty ...), az's model
 * attributes (key_properties, x509_certificate_properties, subject_alternative_names ...) and
 * their camelCase output (keyProperties, issuerParameters ...), so `get-default-policy` output
 * feeds `create --policy` unchanged. Nulls are dropped, unknown members ignored (as msrest).
 * NULL with a reason in why when it is not an object or a member has the wrong JSON type. */
struct cf_val *cf_cli_cert_policy_body(const struct cf_val *in, char *why, size_t whysz);

/* Shapes (wire JSON in, az's output out; NULL only on memory exhaustion). */
enum cf_cli_cert_shape { CF_CLI_CERT_BUNDLE, CF_CLI_CERT_DELETED, CF_CLI_CERT_ITEM,
                         CF_CLI_CERT_DELETED_ITEM };
/* CertificateBundle and friends: attributes {created, enabled, expires, notBefore,
 * recoverableDays, recoveryLevel, updated}, cer, contentType, id, kid, name, policy, sid, tags,
 * x509Thumbprint (standard base64 of the SHA-1) and x509ThumbprintHex (upper-case hex); items
 * keep attributes, id, name, tags and the thumbprints; deleted ones add deletedDate, recoveryId,
 * scheduledPurgeDate. */
struct cf_val *cf_cli_shape_cert(const struct cf_val *b, enum cf_cli_cert_shape s);
/* CertificatePolicy: attributes, id, issuerParameters {certificateTransparency,
 * certificateType, name}, keyProperties {curve, exportable, keySize, keyType, reuseKey},
 * lifetimeActions [{action {actionType}, trigger {daysBeforeExpiry, lifetimePercentage}}],
 * secretProperties {contentType}, x509CertificateProperties {ekus, keyUsage, subject,
 * subjectAlternativeNames {dnsNames, emails, upns}, validityInMonths}. null for null. */
struct cf_val *cf_cli_shape_cert_policy(const struct cf_val *p);
/* CertificateOperation: cancellationRequested, csr, error, id, issuerParameters, name,
 * requestId, status, statusDetails, target. */
struct cf_val *cf_cli_shape_cert_op(const struct cf_val *o);
/* Contacts: contactList [{emailAddress, name, phone}], id. */
struct cf_val *cf_cli_shape_cert_contacts(const struct cf_val *c);
/* IssuerBundle: attributes {created, enabled, updated}, credentials {accountId, password:null},
 * id, organizationDetails {adminDetails [{emailAddress, firstName, lastName, phone}], id},
 * provider. item: {id, provider}. */
struct cf_val *cf_cli_shape_cert_issuer(const struct cf_val *i, bool item);
/* What `az keyvault certificate get-default-policy` prints. */
struct cf_val *cf_cli_cert_default_policy(void);
/* DER -> PEM the way az writes it (base64.encodebytes: 76-column lines). */
cf_err cf_cli_cert_pem(const void *der, size_t n, struct cf_buf *out) CF_NODISCARD;
/* The merge file: every PEM CERTIFICATE block in order, or the whole file as one DER
 * certificate when it has none -> an array of standard base64 strings (x5c). NULL when empty. */
struct cf_val *cf_cli_cert_x5c(const char *data, size_t n);

int cf_cli_cmd_cert_create(struct cf_cli_run *r);
int cf_cli_cmd_cert_import(struct cf_cli_run *r);
int cf_cli_cmd_cert_show(struct cf_cli_run *r);
int cf_cli_cmd_cert_list(struct cf_cli_run *r);
int cf_cli_cmd_cert_list_versions(struct cf_cli_run *r);
int cf_cli_cmd_cert_list_deleted(struct cf_cli_run *r);
int cf_cli_cmd_cert_show_deleted(struct cf_cli_run *r);
int cf_cli_cmd_cert_set_attributes(struct cf_cli_run *r);
int cf_cli_cmd_cert_delete(struct cf_cli_run *r);
int cf_cli_cmd_cert_recover(struct cf_cli_run *r);
int cf_cli_cmd_cert_purge(struct cf_cli_run *r);
int cf_cli_cmd_cert_backup(struct cf_cli_run *r);
int cf_cli_cmd_cert_restore(struct cf_cli_run *r);
int cf_cli_cmd_cert_download(struct cf_cli_run *r);
int cf_cli_cmd_cert_default_policy(struct cf_cli_run *r);
int cf_cli_cmd_cert_pending_show(struct cf_cli_run *r);
int cf_cli_cmd_cert_pending_merge(struct cf_cli_run *r);
int cf_cli_cmd_cert_pending_delete(struct cf_cli_run *r);
int cf_cli_cmd_cert_contact_add(struct cf_cli_run *r);
int cf_cli_cmd_cert_contact_list(struct cf_cli_run *r);
int cf_cli_cmd_cert_contact_delete(struct cf_cli_run *r);
int cf_cli_cmd_cert_issuer_create(struct cf_cli_run *r);
int cf_cli_cmd_cert_issuer_list(struct cf_cli_run *r);
int cf_cli_cmd_cert_issuer_show(struct cf_cli_run *r);
int cf_cli_cmd_cert_issuer_update(struct cf_cli_run *r);
int cf_cli_cmd_cert_issuer_delete(struct cf_cli_run *r);

extern const struct cf_cli_opt cf_cli_o_cert_create[], cf_cli_o_cert_import[], cf_cli_o_cert_show[],
    cf_cli_o_cert_named[], cf_cli_o_cert_list[], cf_cli_o_cert_list_versions[],
    cf_cli_o_cert_set_attrs[], cf_cli_o_cert_file[], cf_cli_o_cert_restore[],
    cf_cli_o_cert_download[], cf_cli_o_cert_default_policy[], cf_cli_o_cert_pending[],
    cf_cli_o_cert_merge[], cf_cli_o_cert_vault[], cf_cli_o_cert_contact_add[],
    cf_cli_o_cert_contact_delete[], cf_cli_o_cert_issuer_create[], cf_cli_o_cert_issuer_update[],
    cf_cli_o_cert_issuer_named[];

/* One table row per line, as in commands.c. */
/* clang-format off */
#define CF_CLI_CERT_GROUPS                                                                         \
    {"keyvault certificate", "Manage certificates."},                                              \
    {"keyvault certificate pending", "Manage pending certificate creation operations."},          \
    {"keyvault certificate contact", "Manage contacts for certificate management."},              \
    {"keyvault certificate issuer", "Manage certificate issuer information."}

#define CF_CLI_CERT_COMMANDS                                                                       \
    {"keyvault certificate", "create", cf_cli_cmd_cert_create, CMD_LOGIN, "Create a Key Vault certificate.", cf_cli_o_cert_create, NULL}, \
    {"keyvault certificate", "import", cf_cli_cmd_cert_import, CMD_LOGIN, "Import a certificate into KeyVault.", cf_cli_o_cert_import, NULL}, \
    {"keyvault certificate", "show", cf_cli_cmd_cert_show, CMD_LOGIN | CMD_SHOW, "Gets information about a certificate.", cf_cli_o_cert_show, NULL}, \
    {"keyvault certificate", "list", cf_cli_cmd_cert_list, CMD_LOGIN, "List certificates in a specified key vault.", cf_cli_o_cert_list, NULL}, \
    {"keyvault certificate", "list-versions", cf_cli_cmd_cert_list_versions, CMD_LOGIN, "List the versions of a certificate.", cf_cli_o_cert_list_versions, NULL}, \
    {"keyvault certificate", "list-deleted", cf_cli_cmd_cert_list_deleted, CMD_LOGIN, "Lists the deleted certificates in the specified vault currently available for recovery.", cf_cli_o_cert_list, NULL}, \
    {"keyvault certificate", "show-deleted", cf_cli_cmd_cert_show_deleted, CMD_LOGIN | CMD_SHOW, "Retrieves information about the specified deleted certificate.", cf_cli_o_cert_named, NULL}, \
    {"keyvault certificate", "set-attributes", cf_cli_cmd_cert_set_attributes, CMD_LOGIN, "Updates the specified attributes associated with the given certificate.", cf_cli_o_cert_set_attrs, NULL}, \
    {"keyvault certificate", "delete", cf_cli_cmd_cert_delete, CMD_LOGIN, "Deletes a certificate from a specified key vault.", cf_cli_o_cert_named, NULL}, \
    {"keyvault certificate", "recover", cf_cli_cmd_cert_recover, CMD_LOGIN, "Recovers the deleted certificate back to its current version under /certificates.", cf_cli_o_cert_named, NULL}, \
    {"keyvault certificate", "purge", cf_cli_cmd_cert_purge, CMD_LOGIN, "Permanently deletes the specified deleted certificate.", cf_cli_o_cert_named, NULL}, \
    {"keyvault certificate", "backup", cf_cli_cmd_cert_backup, CMD_LOGIN, "Backs up the specified certificate.", cf_cli_o_cert_file, NULL}, \
    {"keyvault certificate", "restore", cf_cli_cmd_cert_restore, CMD_LOGIN, "Restores a backed up certificate to a vault.", cf_cli_o_cert_restore, NULL}, \
    {"keyvault certificate", "download", cf_cli_cmd_cert_download, CMD_LOGIN, "Download the public portion of a Key Vault certificate.", cf_cli_o_cert_download, NULL}, \
    {"keyvault certificate", "get-default-policy", cf_cli_cmd_cert_default_policy, 0, "Get the default policy for self-signed certificates.", cf_cli_o_cert_default_policy, NULL}, \
    {"keyvault certificate pending", "show", cf_cli_cmd_cert_pending_show, CMD_LOGIN | CMD_SHOW, "Gets the creation operation of a certificate.", cf_cli_o_cert_pending, NULL}, \
    {"keyvault certificate pending", "merge", cf_cli_cmd_cert_pending_merge, CMD_LOGIN, "Merges a certificate or a certificate chain with a key pair existing on the server.", cf_cli_o_cert_merge, NULL}, \
    {"keyvault certificate pending", "delete", cf_cli_cmd_cert_pending_delete, CMD_LOGIN, "Deletes the creation operation for a specific certificate.", cf_cli_o_cert_pending, NULL}, \
    {"keyvault certificate contact", "add", cf_cli_cmd_cert_contact_add, CMD_LOGIN, "Add a contact to the specified vault to receive notifications of certificate operations.", cf_cli_o_cert_contact_add, NULL}, \
    {"keyvault certificate contact", "list", cf_cli_cmd_cert_contact_list, CMD_LOGIN, "Lists the certificate contacts for a specified key vault.", cf_cli_o_cert_vault, NULL}, \
    {"keyvault certificate contact", "delete", cf_cli_cmd_cert_contact_delete, CMD_LOGIN, "Remove a certificate contact from the specified vault.", cf_cli_o_cert_contact_delete, NULL}, \
    {"keyvault certificate issuer", "create", cf_cli_cmd_cert_issuer_create, CMD_LOGIN, "Create a certificate issuer record.", cf_cli_o_cert_issuer_create, NULL}, \
    {"keyvault certificate issuer", "list", cf_cli_cmd_cert_issuer_list, CMD_LOGIN, "List certificate issuers for a specified key vault.", cf_cli_o_cert_vault, NULL}, \
    {"keyvault certificate issuer", "show", cf_cli_cmd_cert_issuer_show, CMD_LOGIN | CMD_SHOW, "Lists the specified certificate issuer.", cf_cli_o_cert_issuer_named, NULL}, \
    {"keyvault certificate issuer", "update", cf_cli_cmd_cert_issuer_update, CMD_LOGIN, "Update a certificate issuer record.", cf_cli_o_cert_issuer_update, NULL}, \
    {"keyvault certificate issuer", "delete", cf_cli_cmd_cert_issuer_delete, CMD_LOGIN, "Deletes the specified certificate issuer.", cf_cli_o_cert_issuer_named, NULL}
/* clang-format on */

#endif
