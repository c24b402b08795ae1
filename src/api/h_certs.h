/* h_certs.h - the certificates handlers (h_certs.c), for the route table (routes.c). Kept
 * out of internal.h so the certificates surface lands without touching the shared header. */
#ifndef CF_API_H_CERTS_H
#define CF_API_H_CERTS_H

#include "api/internal.h"

void api_cert_create(struct api_req *r);
void api_cert_op_get(struct api_req *r);
void api_cert_op_cancel(struct api_req *r);
void api_cert_op_delete(struct api_req *r);
void api_cert_merge(struct api_req *r);
void api_cert_import(struct api_req *r);
void api_cert_get(struct api_req *r);
void api_cert_update(struct api_req *r);
void api_cert_policy_get(struct api_req *r);
void api_cert_policy_update(struct api_req *r);
void api_cert_list(struct api_req *r);
void api_cert_list_versions(struct api_req *r);
void api_cert_list_deleted(struct api_req *r);
void api_cert_delete(struct api_req *r);
void api_cert_get_deleted(struct api_req *r);
void api_cert_recover(struct api_req *r);
void api_cert_purge(struct api_req *r);
void api_cert_backup(struct api_req *r);
void api_cert_restore(struct api_req *r);
void api_cert_contacts_get(struct api_req *r);
void api_cert_contacts_set(struct api_req *r);
void api_cert_contacts_delete(struct api_req *r);
void api_cert_issuer_list(struct api_req *r);
void api_cert_issuer_get(struct api_req *r);
void api_cert_issuer_set(struct api_req *r);
void api_cert_issuer_update(struct api_req *r);
void api_cert_issuer_delete(struct api_req *r);
/* The server's private CA on the management host (Coffer's own provider, authorized at "/"):
 * PUT/GET /providers/Microsoft.Coffer/certificateAuthority. */
void api_ca_put(struct api_req *r);
void api_ca_get(struct api_req *r);

#endif
