/* bootstrap.h - what cofferd sets up before it serves: the data directory, the dev custody key,
 * the dev CA and server certificate, server identifiers kept in the store, the dev admin
 * principal and vault, and the env file that announces readiness. */
#ifndef CF_SERVER_BOOTSTRAP_H
#define CF_SERVER_BOOTSTRAP_H

#include "base/cf.h"
#include "base/buf.h"
#include "server/config.h"

#include <limits.h>

struct cf_store;
struct cf_audit;
struct cf_pkey;
struct cf_auth;
struct cf_vault_svc;

struct cf_paths {
    char db[PATH_MAX];
    char master_key[PATH_MAX];
    char tls_dir[PATH_MAX];
    char ca_cert[PATH_MAX];
    char ca_key[PATH_MAX];
    char cert[PATH_MAX];
    char key[PATH_MAX];
    char dev_admin[PATH_MAX];
    char env[PATH_MAX];
    char audit_dir[PATH_MAX]; /* config audit_dir, or DIR/audit */
};

/* Creates data_dir (0700) and fills absolute paths. Removes a stale env file. */
cf_err cf_boot_paths(const struct cf_config *c, struct cf_paths *p);
/* Dev custody: reads or creates the 32-byte master key file (0600). */
cf_err cf_boot_master_key(const struct cf_paths *p, unsigned char key[32]);
/* Dev TLS: CA kept across restarts; server certificate regenerated when its SAN set or its CRL
 * URL (cf_boot_crl_url) changes, or within 30 days of expiry. With tls_cert set (dev mode with
 * the operator's certificate) only the CA is made: the operator's files are never written. */
cf_err cf_boot_dev_tls(const struct cf_config *c, struct cf_paths *p);

/* ---- the dev CA's certificate revocation list ----
 * The dev server certificate names, as its CRL distribution point, http://HOST:PORT/crl/dev-ca.crl
 * on the metrics listener (metrics_listen, plain HTTP: a CRL is signed and is fetched without
 * TLS); HOST is the listen address (a wildcard 0.0.0.0 / :: becomes 127.0.0.1 / [::1]).
 * Writes that URL and returns true when metrics_listen is set, metrics_tls is off and the port
 * is fixed (not 0); else url = "" and false (the certificate then has no distribution point). */
#define CF_BOOT_CRL_PATH "/crl/dev-ca.crl"
bool cf_boot_crl_url(const struct cf_config *c, char *url, size_t cap);
/* The served CRL (cf_x509_make_crl with the dev CA in p->tls_dir): empty, valid 7 days from
 * its making (thisUpdate backdated an hour), cRLNumber = the making time in Unix seconds, made
 * again by the first cf_boot_crl_get a day after the last (or when the clock went back), so
 * a served CRL is never past its nextUpdate. The CA key is read from disk only to sign. */
struct cf_boot_crl;
cf_err cf_boot_crl_new(const struct cf_paths *p, int64_t now, struct cf_boot_crl **out);
/* Appends the current CRL's DER to out, making a new one first when due (thread-safe). If a
 * due refresh fails the current CRL is served while still valid. */
cf_err cf_boot_crl_get(struct cf_boot_crl *c, int64_t now, struct cf_buf *out);
void cf_boot_crl_free(struct cf_boot_crl *c);
/* A UUID kept in the store's meta table under key, created on first use. */
cf_err cf_boot_meta_uuid(struct cf_store *s, const char *key, char out[37]);
/* The dev admin service principal: its credentials are kept in p->dev_admin (0600). */
cf_err cf_boot_dev_admin(struct cf_auth *a, const struct cf_paths *p, const char *tenant,
                         char client_id[64], char secret[128]);
/* The dev vault "coffer" in group "coffer-dev", created if missing. */
cf_err cf_boot_dev_vault(struct cf_vault_svc *v, const char *sub, const char *tenant);
/* Production first start: creates the bootstrap administrator (service principal
 * "coffer-admin") once, prints its credentials on stdout - the only time they are shown - and
 * records that it exists (meta "server.bootstrap_admin"). Later starts do nothing. */
cf_err cf_boot_prod_admin(struct cf_store *s, struct cf_auth *a, const char *tenant);
/* Gives the administrator Owner and Key Vault Administrator at "/" (the whole server) unless
 * it has them: the dev admin by client id, or (client_id NULL) the production bootstrap admin
 * recorded by cf_boot_prod_admin. Without it nobody could do anything: access is denied by
 * default. Idempotent; run at every start so data dirs from before enforcement keep working. */
struct cf_rbac;
cf_err cf_boot_admin_roles(struct cf_store *s, struct cf_rbac *rb, const char *tenant,
                           const char *client_id);
/* The audit log: creates p->audit_dir (0700), derives the MAC key from the derivation root
 * (cf_vault_derive_root: the master key of stores older than the root; HKDF-SHA256, info
 * "coffer audit mac v1"; the checkpoint key's seal key likewise), loads the checkpoint signing key
 * (EC P-256) kept sealed in the store's meta table - creating it on the first start - and writes
 * its public JWK to <audit_dir>/audit-signing-key.jwk (for `coffer audit verify --public-key`),
 * then opens nlanes logs (1..CF_BOOT_AUDIT_LANES_MAX): lane 0 is node node_id, lane k the
 * node "<node_id>.w<k>" (one chain per HTTP worker: see cf_api_config.audit). *sign_key
 * must outlive the logs (free it after cf_audit_close). A log that does not verify under the
 * key (CF_ECORRUPT) is reported and fails start-up; on failure nothing stays open. */
#define CF_BOOT_AUDIT_LANES_MAX 16
cf_err cf_boot_audit(const struct cf_config *c, const struct cf_paths *p, struct cf_store *s,
                     const unsigned char root[32], size_t nlanes, struct cf_audit **logs,
                     struct cf_pkey **sign_key);
/* Writes the env file atomically and prints the same lines on stdout. */
cf_err cf_boot_write_env(const struct cf_config *c, const struct cf_paths *p, const char *sub,
                         const char *tenant, const char *client_id, const char *secret);

#define CF_DEV_VAULT "coffer"
#define CF_DEV_GROUP "coffer-dev"

#endif
