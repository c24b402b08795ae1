/* cmd_identity.h - what the identity commands share (cmd_ad.c: `ad sp|app|group ...`, cmd_role.c:
 * `role assignment|definition ...`) and what their unit tests reach: the handlers, the az result
 * shapes, and the Graph/ARM helpers one file uses from the other. Kept apart from cli_int.h so
 * the command families of several authors do not edit one header. */
#ifndef CF_CLI_CMD_IDENTITY_H
#define CF_CLI_CMD_IDENTITY_H

#include "base/cf.h"
#include "cli/cli_int.h"

/* ---- handlers (cmd_ad.c) ---- */
int cf_cli_cmd_ad_sp_create_for_rbac(struct cf_cli_run *r);
int cf_cli_cmd_ad_sp_credential_reset(struct cf_cli_run *r);
int cf_cli_cmd_ad_sp_list(struct cf_cli_run *r);
int cf_cli_cmd_ad_sp_show(struct cf_cli_run *r);
int cf_cli_cmd_ad_sp_delete(struct cf_cli_run *r);
int cf_cli_cmd_ad_app_create(struct cf_cli_run *r);
int cf_cli_cmd_ad_app_list(struct cf_cli_run *r);
int cf_cli_cmd_ad_app_show(struct cf_cli_run *r);
int cf_cli_cmd_ad_app_delete(struct cf_cli_run *r);
int cf_cli_cmd_ad_group_create(struct cf_cli_run *r);
int cf_cli_cmd_ad_group_list(struct cf_cli_run *r);
int cf_cli_cmd_ad_group_show(struct cf_cli_run *r);
int cf_cli_cmd_ad_group_delete(struct cf_cli_run *r);
int cf_cli_cmd_ad_member_add(struct cf_cli_run *r);
int cf_cli_cmd_ad_member_remove(struct cf_cli_run *r);
int cf_cli_cmd_ad_member_list(struct cf_cli_run *r);
int cf_cli_cmd_ad_member_check(struct cf_cli_run *r);

/* ---- handlers (cmd_role.c) ---- */
int cf_cli_cmd_role_assignment_create(struct cf_cli_run *r);
int cf_cli_cmd_role_assignment_list(struct cf_cli_run *r);
int cf_cli_cmd_role_assignment_delete(struct cf_cli_run *r);
int cf_cli_cmd_role_definition_list(struct cf_cli_run *r);
int cf_cli_cmd_role_definition_create(struct cf_cli_run *r);
int cf_cli_cmd_role_definition_delete(struct cf_cli_run *r);

/* ---- shared helpers ---- */
bool cf_cli_is_guid(const char *s);
/* {mgmt}/v1.0/<path> */
void cf_cli_graph_url(struct cf_cli_run *r, const char *path, char *out, size_t n);
/* Resolves an assignee as az does: a service principal by appId (Graph $filter appId eq), else
 * an object id of a service principal or a group. oid[37] gets the object id, ptype[32] the
 * principalType ("ServicePrincipal", "Group"). With fallback an unknown GUID is taken as an object id with ptype "" (az's
 * --assignee-object-id). Returns an exit code (error printed) or 0. */
int cf_cli_resolve_assignee(struct cf_cli_run *r, const char *assignee, bool fallback,
                            char oid[37], char ptype[32]);
/* az's principalName of a role assignment list: a service principal's first
 * servicePrincipalNames entry (else appId), a group's displayName; "" when Graph does not know
 * the object or cannot be asked. Prints nothing. */
void cf_cli_principal_name(struct cf_cli_run *r, const char *oid, char *name, size_t n);
/* Creates a role assignment of role (name, GUID or id) for principal oid at scope; *out gets
 * the ARM body (NULL allowed). quiet_exists: an existing identical assignment is a warning,
 * not an error (create-for-rbac). Returns an exit code or 0. */
int cf_cli_role_assign(struct cf_cli_run *r, const char *role, const char *oid,
                       const char *ptype, const char *scope, const char *name,
                       bool quiet_exists, struct cf_val **out);

/* ---- az shapes (exposed for unit tests) ---- */
/* ARM role assignment -> az's flattened model (properties lifted to the top). */
struct cf_val *cf_cli_shape_role_assignment(const struct cf_val *arm);
/* ARM role definition -> az's model: roleName, roleType, permissions[], assignableScopes... */
struct cf_val *cf_cli_shape_role_definition(const struct cf_val *arm);
/* az's custom role input ({"Name","Description","Actions",..,"AssignableScopes"}, keys of any
 * initial case) -> the ARM PUT body. *scope gets a pointer into input (the first assignable
 * scope, where az creates the role). CF_EINVAL with az's message in err. */
cf_err cf_cli_role_definition_body(const struct cf_val *input, struct cf_val **body,
                                   const char **scope, char *err, size_t errlen) CF_NODISCARD;
/* create-for-rbac's and credential reset's output: {"appId","displayName","password","tenant"}
 * (displayName omitted when NULL; password null when NULL). */
struct cf_val *cf_cli_shape_sp_credentials(const char *app_id, const char *display_name,
                                           const char *password, const char *tenant);
/* now + years (calendar years, as dateutil's relativedelta), ISO "YYYY-MM-DDTHH:MM:SSZ". */
bool cf_cli_years_from(int64_t now_s, int64_t years, char out[32]);
/* The "key" value of a keyCredential from --cert: a PEM text, "@file" of one, or base64 DER.
 * *b64 gets base64 DER (malloc'd). CF_EINVAL with a reason. */
cf_err cf_cli_cert_arg(const char *arg, char **b64, char *err, size_t errlen) CF_NODISCARD;

#endif
