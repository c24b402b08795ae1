/* routes.c - the one route table: every operation Coffer serves, with its handler, whether it
 * writes, the audit operation name and the permission it will need. Order matters where
 * patterns overlap: the first match wins, so literal segments come before "*" captures.
 * A unit test walks this table and fails on a row without an operation or permission. */
#include "base/cf.h"
#include "api/internal.h"
#include "api/h_certs.h"
#include "api/h_diag.h"

#define D API_PLANE_DATA
#define A API_PLANE_AUTHORITY
#define M API_PLANE_MGMT

#define VAULTS "subscriptions/*/resourcegroups/*/providers/microsoft.keyvault/vaults"
#define AUTHZ "**/providers/microsoft.authorization"
#define DELETED "subscriptions/*/providers/microsoft.keyvault/locations/*/deletedvaults/*"

const struct api_route api_routes[] = {
    /* ---- secrets (azure-kv-secrets.md §2-§13) ---- */
    {D, CF_HTTP_POST, "secrets/restore", api_secret_restore, API_WRITE, "SecretRestore", "secrets/restore"},
    {D, CF_HTTP_GET, "secrets", api_secret_list, 0, "SecretList", "secrets/list"},
    {D, CF_HTTP_GET, "secrets/*/versions", api_secret_list_versions, 0, "SecretListVersions", "secrets/list"},
    {D, CF_HTTP_POST, "secrets/*/backup", api_secret_backup, 0, "SecretBackup", "secrets/backup"},
    /* set is asynchronous: queued to the group commit from the loop, answered by the writer */
    {D, CF_HTTP_PUT, "secrets/*", api_secret_set, 0, "SecretSet", "secrets/set"},
    {D, CF_HTTP_GET, "secrets/*", api_secret_get, 0, "SecretGet", "secrets/get"},
    {D, CF_HTTP_GET, "secrets/*/*", api_secret_get, 0, "SecretGet", "secrets/get"},
    {D, CF_HTTP_PATCH, "secrets/*", api_secret_update, API_WRITE, "SecretUpdate", "secrets/set"},
    {D, CF_HTTP_PATCH, "secrets/*/*", api_secret_update, API_WRITE, "SecretUpdate", "secrets/set"},
    {D, CF_HTTP_DELETE, "secrets/*", api_secret_delete, API_WRITE, "SecretDelete", "secrets/delete"},
    {D, CF_HTTP_GET, "deletedsecrets", api_secret_list_deleted, 0, "SecretListDeleted", "secrets/list"},
    {D, CF_HTTP_GET, "deletedsecrets/*", api_secret_get_deleted, 0, "SecretGetDeleted", "secrets/get"},
    {D, CF_HTTP_POST, "deletedsecrets/*/recover", api_secret_recover, API_WRITE, "SecretRecover", "secrets/recover"},
    {D, CF_HTTP_DELETE, "deletedsecrets/*", api_secret_purge, API_WRITE, "SecretPurge", "secrets/purge"},

    /* ---- keys (azure-kv-keys.md §5-§6). Crypto operations start on the event loop: the
     * handler runs a cheap one there (a P-256 signature, an RSA public-key operation on a
     * cached key) and hands the rest to the CPU pool with api_defer - an RSA private-key
     * operation costs 0.25 ms (2048) to ~5 ms (4096), which the loop must not spend
     * (key generation: up to seconds, on the write pool). ---- */
    {D, CF_HTTP_POST, "keys/restore", api_key_restore, API_WRITE, "KeyRestore", "keys/restore"},
    {D, CF_HTTP_GET, "keys", api_key_list, 0, "KeyList", "keys/list"},
    {D, CF_HTTP_GET, "keys/*/versions", api_key_list_versions, 0, "KeyListVersions", "keys/list"},
    {D, CF_HTTP_GET, "keys/*/rotationpolicy", api_key_policy_get, 0, "KeyRotationPolicyGet", "keys/getrotationpolicy"},
    {D, CF_HTTP_PUT, "keys/*/rotationpolicy", api_key_policy_set, API_WRITE, "KeyRotationPolicySet", "keys/setrotationpolicy"},
    {D, CF_HTTP_POST, "keys/*/create", api_key_create, API_WRITE, "KeyCreate", "keys/create"},
    {D, CF_HTTP_POST, "keys/*/backup", api_key_backup, 0, "KeyBackup", "keys/backup"},
    {D, CF_HTTP_POST, "keys/*/rotate", api_key_rotate, API_WRITE, "KeyRotate", "keys/rotate"},
    /* "/keys/{name}/{op}" and "/keys/{name}//{op}" (empty version) address the latest version */
    {D, CF_HTTP_POST, "keys/*/sign", api_key_sign, 0, "KeySign", "keys/sign"},
    {D, CF_HTTP_POST, "keys/*/verify", api_key_verify, 0, "KeyVerify", "keys/verify"},
    {D, CF_HTTP_POST, "keys/*/encrypt", api_key_encrypt, 0, "KeyEncrypt", "keys/encrypt"},
    {D, CF_HTTP_POST, "keys/*/decrypt", api_key_decrypt, 0, "KeyDecrypt", "keys/decrypt"},
    {D, CF_HTTP_POST, "keys/*/wrapkey", api_key_wrap, 0, "KeyWrap", "keys/wrapKey"},
    {D, CF_HTTP_POST, "keys/*/unwrapkey", api_key_unwrap, 0, "KeyUnwrap", "keys/unwrapKey"},
    {D, CF_HTTP_POST, "keys/*/release", api_key_release, 0, "KeyRelease", "keys/release"},
    {D, CF_HTTP_POST, "keys/*/*/sign", api_key_sign, 0, "KeySign", "keys/sign"},
    {D, CF_HTTP_POST, "keys/*/*/verify", api_key_verify, 0, "KeyVerify", "keys/verify"},
    {D, CF_HTTP_POST, "keys/*/*/encrypt", api_key_encrypt, 0, "KeyEncrypt", "keys/encrypt"},
    {D, CF_HTTP_POST, "keys/*/*/decrypt", api_key_decrypt, 0, "KeyDecrypt", "keys/decrypt"},
    {D, CF_HTTP_POST, "keys/*/*/wrapkey", api_key_wrap, 0, "KeyWrap", "keys/wrapKey"},
    {D, CF_HTTP_POST, "keys/*/*/unwrapkey", api_key_unwrap, 0, "KeyUnwrap", "keys/unwrapKey"},
    {D, CF_HTTP_POST, "keys/*/*/release", api_key_release, 0, "KeyRelease", "keys/release"},
    {D, CF_HTTP_PUT, "keys/*", api_key_import, API_WRITE, "KeyImport", "keys/import"},
    {D, CF_HTTP_GET, "keys/*", api_key_get, 0, "KeyGet", "keys/get"},
    {D, CF_HTTP_GET, "keys/*/*", api_key_get, 0, "KeyGet", "keys/get"},
    {D, CF_HTTP_PATCH, "keys/*", api_key_update, API_WRITE, "KeyUpdate", "keys/update"},
    {D, CF_HTTP_PATCH, "keys/*/*", api_key_update, API_WRITE, "KeyUpdate", "keys/update"},
    {D, CF_HTTP_DELETE, "keys/*", api_key_delete, API_WRITE, "KeyDelete", "keys/delete"},
    {D, CF_HTTP_GET, "deletedkeys", api_key_list_deleted, 0, "KeyListDeleted", "keys/list"},
    {D, CF_HTTP_GET, "deletedkeys/*", api_key_get_deleted, 0, "KeyGetDeleted", "keys/get"},
    {D, CF_HTTP_POST, "deletedkeys/*/recover", api_key_recover, API_WRITE, "KeyRecover", "keys/recover"},
    {D, CF_HTTP_DELETE, "deletedkeys/*", api_key_purge, API_WRITE, "KeyPurge", "keys/purge"},
    /* random bytes (§5.10): no key involved; Azure names no vault permission for it (Managed
     * HSM has "rng"), so it needs what reading a key needs */
    {D, CF_HTTP_POST, "rng", api_key_random, 0, "KeyRandomBytes", "keys/get"},

    /* ---- certificates (azure-kv-certificates.md §5): contacts, issuers and restore are
     * reserved second segments, matched before the name capture; "pending" and "policy"
     * before the version capture. Create, merge and import generate keys or sign: the
     * blocking pool. ---- */
    {D, CF_HTTP_POST, "certificates/restore", api_cert_restore, API_WRITE, "CertificateRestore", "certificates/restore"},
    {D, CF_HTTP_GET, "certificates/contacts", api_cert_contacts_get, 0, "CertificateContactsGet", "certificates/managecontacts"},
    {D, CF_HTTP_PUT, "certificates/contacts", api_cert_contacts_set, API_WRITE, "CertificateContactsSet", "certificates/managecontacts"},
    {D, CF_HTTP_DELETE, "certificates/contacts", api_cert_contacts_delete, API_WRITE, "CertificateContactsDelete", "certificates/managecontacts"},
    {D, CF_HTTP_GET, "certificates/issuers", api_cert_issuer_list, 0, "CertificateIssuersList", "certificates/listissuers"},
    {D, CF_HTTP_GET, "certificates/issuers/*", api_cert_issuer_get, 0, "CertificateIssuerGet", "certificates/getissuers"},
    {D, CF_HTTP_PUT, "certificates/issuers/*", api_cert_issuer_set, API_WRITE, "CertificateIssuerSet", "certificates/setissuers"},
    {D, CF_HTTP_PATCH, "certificates/issuers/*", api_cert_issuer_update, API_WRITE, "CertificateIssuerUpdate", "certificates/manageissuers"},
    {D, CF_HTTP_DELETE, "certificates/issuers/*", api_cert_issuer_delete, API_WRITE, "CertificateIssuerDelete", "certificates/deleteissuers"},
    {D, CF_HTTP_GET, "certificates", api_cert_list, 0, "CertificateList", "certificates/list"},
    {D, CF_HTTP_GET, "certificates/*/versions", api_cert_list_versions, 0, "CertificateListVersions", "certificates/list"},
    {D, CF_HTTP_POST, "certificates/*/create", api_cert_create, API_WRITE, "CertificateCreate", "certificates/create"},
    {D, CF_HTTP_POST, "certificates/*/import", api_cert_import, API_WRITE, "CertificateImport", "certificates/import"},
    {D, CF_HTTP_POST, "certificates/*/backup", api_cert_backup, API_WRITE, "CertificateBackup", "certificates/backup"},
    {D, CF_HTTP_GET, "certificates/*/pending", api_cert_op_get, 0, "CertificatePendingGet", "certificates/get"},
    {D, CF_HTTP_PATCH, "certificates/*/pending", api_cert_op_cancel, API_WRITE, "CertificatePendingUpdate", "certificates/update"},
    {D, CF_HTTP_DELETE, "certificates/*/pending", api_cert_op_delete, API_WRITE, "CertificatePendingDelete", "certificates/delete"},
    {D, CF_HTTP_POST, "certificates/*/pending/merge", api_cert_merge, API_WRITE, "CertificatePendingMerge", "certificates/create"},
    {D, CF_HTTP_GET, "certificates/*/policy", api_cert_policy_get, 0, "CertificatePolicyGet", "certificates/get"},
    {D, CF_HTTP_PATCH, "certificates/*/policy", api_cert_policy_update, API_WRITE, "CertificatePolicyUpdate", "certificates/update"},
    {D, CF_HTTP_GET, "certificates/*", api_cert_get, 0, "CertificateGet", "certificates/get"},
    {D, CF_HTTP_GET, "certificates/*/*", api_cert_get, 0, "CertificateGet", "certificates/get"},
    {D, CF_HTTP_PATCH, "certificates/*", api_cert_update, API_WRITE, "CertificateUpdate", "certificates/update"},
    {D, CF_HTTP_PATCH, "certificates/*/*", api_cert_update, API_WRITE, "CertificateUpdate", "certificates/update"},
    {D, CF_HTTP_DELETE, "certificates/*", api_cert_delete, API_WRITE, "CertificateDelete", "certificates/delete"},
    {D, CF_HTTP_GET, "deletedcertificates", api_cert_list_deleted, 0, "CertificateListDeleted", "certificates/list"},
    {D, CF_HTTP_GET, "deletedcertificates/*", api_cert_get_deleted, 0, "CertificateGetDeleted", "certificates/get"},
    {D, CF_HTTP_POST, "deletedcertificates/*/recover", api_cert_recover, API_WRITE, "CertificateRecover", "certificates/recover"},
    {D, CF_HTTP_DELETE, "deletedcertificates/*", api_cert_purge, API_WRITE, "CertificatePurge", "certificates/purge"},

    /* ---- token authority (clients.md §1) ---- */
    {A, CF_HTTP_GET, "adfs/.well-known/openid-configuration", api_oidc_config_adfs, API_NOAUTH, "OidcDiscovery", "public"},
    {A, CF_HTTP_GET, "adfs/*/.well-known/openid-configuration", api_oidc_config_adfs, API_NOAUTH, "OidcDiscovery", "public"},
    /* the token endpoint checks a password hash (~5 ms of CPU when not recently verified): it
     * runs on the blocking pool so the event loops keep serving while it computes */
    {A, CF_HTTP_POST, "adfs/oauth2/token", api_token, API_NOAUTH | API_WRITE, "TokenIssue", "public"},
    {A, CF_HTTP_GET, "adfs/discovery/keys", api_jwks, API_NOAUTH, "Jwks", "public"},
    {A, CF_HTTP_GET, "*/v2.0/.well-known/openid-configuration", api_oidc_config, API_NOAUTH, "OidcDiscovery", "public"},
    {A, CF_HTTP_GET, "*/discovery/v2.0/keys", api_jwks, API_NOAUTH, "Jwks", "public"},
    {A, CF_HTTP_POST, "*/oauth2/v2.0/token", api_token, API_NOAUTH | API_WRITE, "TokenIssue", "public"},

    /* ---- management (azure-kv-secrets.md §15) ---- */
    {M, CF_HTTP_GET, "metadata/endpoints", api_arm_metadata, API_NOAUTH, "CloudMetadata", "public"},
    {M, CF_HTTP_GET, "subscriptions", api_arm_sub_list, 0, "SubscriptionList", "subscriptions/read"},
    {M, CF_HTTP_GET, "subscriptions/*", api_arm_sub_get, 0, "SubscriptionGet", "subscriptions/read"},
    {M, CF_HTTP_GET, "subscriptions/*/resources", api_arm_resources_list, 0, "ResourceList", "resources/read"},
    {M, CF_HTTP_GET, "subscriptions/*/resourcegroups", api_arm_group_list, 0, "ResourceGroupList", "resourceGroups/read"},
    {M, CF_HTTP_PUT, "subscriptions/*/resourcegroups/*", api_arm_group_put, API_WRITE, "ResourceGroupWrite", "resourceGroups/write"},
    {M, CF_HTTP_GET, "subscriptions/*/resourcegroups/*", api_arm_group_get, 0, "ResourceGroupRead", "resourceGroups/read"},
    {M, CF_HTTP_HEAD, "subscriptions/*/resourcegroups/*", api_arm_group_get, 0, "ResourceGroupRead", "resourceGroups/read"},
    {M, CF_HTTP_DELETE, "subscriptions/*/resourcegroups/*", api_arm_group_delete, API_WRITE, "ResourceGroupDelete", "resourceGroups/delete"},
    {M, CF_HTTP_POST, "subscriptions/*/providers/microsoft.keyvault/checknameavailability", api_arm_check_name, 0, "VaultCheckName", "vaults/read"},
    {M, CF_HTTP_GET, "subscriptions/*/providers/microsoft.keyvault/vaults", api_arm_vault_list_sub, 0, "VaultList", "vaults/read"},
    {M, CF_HTTP_GET, "subscriptions/*/providers/microsoft.keyvault/deletedvaults", api_arm_deleted_list, 0, "DeletedVaultList", "deletedVaults/read"},
    {M, CF_HTTP_GET, "subscriptions/*/providers/microsoft.keyvault/deletedmanagedhsms", api_arm_deleted_hsm_list, 0, "DeletedManagedHsmList", "deletedManagedHSMs/read"},
    {M, CF_HTTP_GET, DELETED, api_arm_deleted_get, 0, "DeletedVaultGet", "deletedVaults/read"},
    {M, CF_HTTP_POST, DELETED "/purge", api_arm_deleted_purge, API_WRITE, "DeletedVaultPurge", "locations/deletedVaults/purge/action"},
    {M, CF_HTTP_GET, VAULTS, api_arm_vault_list_rg, 0, "VaultList", "vaults/read"},
    {M, CF_HTTP_PUT, VAULTS "/*", api_arm_vault_put, API_WRITE, "VaultPut", "vaults/write"},
    {M, CF_HTTP_PATCH, VAULTS "/*", api_arm_vault_patch, API_WRITE, "VaultPatch", "vaults/write"},
    {M, CF_HTTP_GET, VAULTS "/*", api_arm_vault_get, 0, "VaultGet", "vaults/read"},
    {M, CF_HTTP_DELETE, VAULTS "/*", api_arm_vault_delete, API_WRITE, "VaultDelete", "vaults/delete"},
    /* incremental access policies (azure-kv-security-ops.md §3.4): cap[3] is add|replace|remove */
    {M, CF_HTTP_PUT, VAULTS "/*/accesspolicies/*", api_arm_vault_policy, API_WRITE, "VaultAccessPolicyUpdate", "vaults/accessPolicies/write"},
    /* Event Grid subscriptions on a vault (§7, h_events.c); authorized at the vault */
    {M, CF_HTTP_GET, VAULTS "/*/providers/microsoft.eventgrid/eventsubscriptions", api_event_sub_list, 0, "EventSubscriptionList", "vaults/read"},
    {M, CF_HTTP_GET, VAULTS "/*/providers/microsoft.eventgrid/eventsubscriptions/*/deadletters", api_event_sub_deadletters, 0, "EventSubscriptionDeadLetterList", "vaults/read"},
    {M, CF_HTTP_PUT, VAULTS "/*/providers/microsoft.eventgrid/eventsubscriptions/*", api_event_sub_put, API_WRITE, "EventSubscriptionWrite", "vaults/write"},
    {M, CF_HTTP_GET, VAULTS "/*/providers/microsoft.eventgrid/eventsubscriptions/*", api_event_sub_get, 0, "EventSubscriptionGet", "vaults/read"},
    {M, CF_HTTP_DELETE, VAULTS "/*/providers/microsoft.eventgrid/eventsubscriptions/*", api_event_sub_delete, API_WRITE, "EventSubscriptionDelete", "vaults/write"},
    /* diagnostic settings (h_diag.h) on a vault, and server-wide on the subscription */
    {M, CF_HTTP_GET, VAULTS "/*/providers/microsoft.insights/diagnosticsettings", api_diag_list, 0, "DiagnosticSettingsList", "vaults/read"},
    {M, CF_HTTP_PUT, VAULTS "/*/providers/microsoft.insights/diagnosticsettings/*", api_diag_put, API_WRITE, "DiagnosticSettingsWrite", "vaults/write"},
    {M, CF_HTTP_GET, VAULTS "/*/providers/microsoft.insights/diagnosticsettings/*", api_diag_get, 0, "DiagnosticSettingsGet", "vaults/read"},
    {M, CF_HTTP_DELETE, VAULTS "/*/providers/microsoft.insights/diagnosticsettings/*", api_diag_delete, API_WRITE, "DiagnosticSettingsDelete", "vaults/write"},
    {M, CF_HTTP_GET, "subscriptions/*/providers/microsoft.insights/diagnosticsettings", api_diag_list, 0, "DiagnosticSettingsList", "vaults/read"},
    {M, CF_HTTP_PUT, "subscriptions/*/providers/microsoft.insights/diagnosticsettings/*", api_diag_put, API_WRITE, "DiagnosticSettingsWrite", "vaults/write"},
    {M, CF_HTTP_GET, "subscriptions/*/providers/microsoft.insights/diagnosticsettings/*", api_diag_get, 0, "DiagnosticSettingsGet", "vaults/read"},
    {M, CF_HTTP_DELETE, "subscriptions/*/providers/microsoft.insights/diagnosticsettings/*", api_diag_delete, API_WRITE, "DiagnosticSettingsDelete", "vaults/write"},

    /* the token signing key ring (Coffer's own provider; authorized at "/" like the directory) */
    {M, CF_HTTP_GET, "providers/microsoft.coffer/signingkeys", api_signing_key_list, 0, "SigningKeyList", "directory/read"},
    {M, CF_HTTP_POST, "providers/microsoft.coffer/signingkeys/rotate", api_signing_key_rotate, API_WRITE, "SigningKeyRotate", "directory/write"},
    /* the server's private CA (h_certs.c; the CofferCA certificate issuer) */
    {M, CF_HTTP_PUT, "providers/microsoft.coffer/certificateauthority", api_ca_put, API_WRITE, "CertificateAuthorityWrite", "directory/write"},
    {M, CF_HTTP_GET, "providers/microsoft.coffer/certificateauthority", api_ca_get, 0, "CertificateAuthorityRead", "directory/read"},

    /* ---- access control (azure-kv-security-ops.md §2.7) at any scope: "/", a subscription,
     * a group, a vault, an object. Last: "**" rows never shadow the rows above. ---- */
    {M, CF_HTTP_GET, AUTHZ "/roleassignments", api_rbac_assignment_list, 0, "RoleAssignmentList", "roleAssignments/read"},
    {M, CF_HTTP_PUT, AUTHZ "/roleassignments/*", api_rbac_assignment_put, API_WRITE | API_AUTHZ_HANDLER, "RoleAssignmentWrite", "roleAssignments/write"},
    {M, CF_HTTP_GET, AUTHZ "/roleassignments/*", api_rbac_assignment_get, 0, "RoleAssignmentGet", "roleAssignments/read"},
    {M, CF_HTTP_DELETE, AUTHZ "/roleassignments/*", api_rbac_assignment_delete, API_WRITE | API_AUTHZ_HANDLER, "RoleAssignmentDelete", "roleAssignments/delete"},
    {M, CF_HTTP_GET, AUTHZ "/roledefinitions", api_rbac_definition_list, 0, "RoleDefinitionList", "roleDefinitions/read"},
    {M, CF_HTTP_PUT, AUTHZ "/roledefinitions/*", api_rbac_definition_put, API_WRITE, "RoleDefinitionWrite", "roleDefinitions/write"},
    {M, CF_HTTP_GET, AUTHZ "/roledefinitions/*", api_rbac_definition_get, 0, "RoleDefinitionGet", "roleDefinitions/read"},
    {M, CF_HTTP_DELETE, AUTHZ "/roledefinitions/*", api_rbac_definition_delete, API_WRITE, "RoleDefinitionDelete", "roleDefinitions/delete"},
    /* management locks (§9) at the subscription, a group or a vault */
    {M, CF_HTTP_GET, AUTHZ "/locks", api_lock_list, 0, "ManagementLockList", "locks/read"},
    {M, CF_HTTP_PUT, AUTHZ "/locks/*", api_lock_put, API_WRITE, "ManagementLockWrite", "locks/write"},
    {M, CF_HTTP_GET, AUTHZ "/locks/*", api_lock_get, 0, "ManagementLockGet", "locks/read"},
    {M, CF_HTTP_DELETE, AUTHZ "/locks/*", api_lock_delete, API_WRITE, "ManagementLockDelete", "locks/delete"},

    /* ---- the directory, Microsoft Graph v1.0 shapes (identity-contract.md): no api-version.
     * Literal rows first; the "v1.0/ *" rows (no space) last: they catch the keyed forms
     * applications(appId='X') and servicePrincipals(appId='X'), and answer anything else
     * under /v1.0 with Graph's 400. */
    {M, CF_HTTP_POST, "v1.0/applications", api_graph_app_create, API_NOVERSION | API_WRITE, "ApplicationCreate", "directory/write"},
    {M, CF_HTTP_GET, "v1.0/applications", api_graph_app_list, API_NOVERSION, "ApplicationList", "directory/read"},
    {M, CF_HTTP_GET, "v1.0/applications/*", api_graph_app_get, API_NOVERSION, "ApplicationGet", "directory/read"},
    {M, CF_HTTP_PATCH, "v1.0/applications/*", api_graph_app_patch, API_NOVERSION | API_WRITE, "ApplicationUpdate", "directory/write"},
    {M, CF_HTTP_DELETE, "v1.0/applications/*", api_graph_app_delete, API_NOVERSION | API_WRITE, "ApplicationDelete", "directory/write"},
    {M, CF_HTTP_POST, "v1.0/applications/*/addPassword", api_graph_add_password, API_NOVERSION | API_WRITE, "ApplicationAddPassword", "directory/write"},
    {M, CF_HTTP_POST, "v1.0/applications/*/removePassword", api_graph_remove_password, API_NOVERSION | API_WRITE, "ApplicationRemovePassword", "directory/write"},
    {M, CF_HTTP_GET, "v1.0/servicePrincipals", api_graph_sp_list, API_NOVERSION, "ServicePrincipalList", "directory/read"},
    {M, CF_HTTP_GET, "v1.0/servicePrincipals/*", api_graph_sp_get, API_NOVERSION, "ServicePrincipalGet", "directory/read"},
    {M, CF_HTTP_GET, "v1.0/servicePrincipals/*/memberOf", api_graph_sp_member_of, API_NOVERSION, "ServicePrincipalMemberOf", "directory/read"},
    {M, CF_HTTP_POST, "v1.0/groups", api_graph_group_create, API_NOVERSION | API_WRITE, "GroupCreate", "directory/write"},
    {M, CF_HTTP_GET, "v1.0/groups", api_graph_group_list, API_NOVERSION, "GroupList", "directory/read"},
    {M, CF_HTTP_GET, "v1.0/groups/*", api_graph_group_get, API_NOVERSION, "GroupGet", "directory/read"},
    {M, CF_HTTP_DELETE, "v1.0/groups/*", api_graph_group_delete, API_NOVERSION | API_WRITE, "GroupDelete", "directory/write"},
    {M, CF_HTTP_GET, "v1.0/groups/*/members", api_graph_group_members, API_NOVERSION, "GroupMemberList", "directory/read"},
    {M, CF_HTTP_POST, "v1.0/groups/*/members/$ref", api_graph_group_member_add, API_NOVERSION | API_WRITE, "GroupMemberAdd", "directory/write"},
    {M, CF_HTTP_DELETE, "v1.0/groups/*/members/*/$ref", api_graph_group_member_remove, API_NOVERSION | API_WRITE, "GroupMemberRemove", "directory/write"},
    {M, CF_HTTP_GET, "v1.0/*", api_graph_keyed, API_NOVERSION, "ApplicationGet", "directory/read"},
    {M, CF_HTTP_PATCH, "v1.0/*", api_graph_keyed, API_NOVERSION | API_WRITE, "ApplicationUpdate", "directory/write"},
    {M, CF_HTTP_DELETE, "v1.0/*", api_graph_keyed, API_NOVERSION | API_WRITE, "ApplicationDelete", "directory/write"},
};

const size_t api_routes_count = CF_ARRAY_LEN(api_routes);
