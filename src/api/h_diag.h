/* h_diag.h - Microsoft.Insights/diagnosticSettings on a vault and on the subscription (h_diag.c,
 * api-version 2021-05-01-preview shapes; azure-kv-security-ops.md §5.1, issue 11).
 *
 * Vault rows: cap[0..2] are the subscription, group and vault, cap[3] the setting's name.
 * Subscription rows ("server-wide": records not about a vault): cap[0] the subscription, cap[1]
 * the name. The destination is a stream of cofferd's configuration ([stream.NAME]), named by the
 * Coffer-specific properties.streamName; Azure's storageAccountId / workspaceId / eventHub*
 * destinations are refused with a 400 that says so. */
#ifndef CF_API_H_DIAG_H
#define CF_API_H_DIAG_H

struct api_req;

void api_diag_put(struct api_req *r);
void api_diag_get(struct api_req *r);
void api_diag_delete(struct api_req *r);
void api_diag_list(struct api_req *r);

#endif
