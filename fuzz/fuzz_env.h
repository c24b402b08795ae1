/* fuzz_env.h - the one real world the stateful fuzz targets run against: a SQLite store in a
 * fresh temp dir (under /dev/shm when it exists, so durable commits cost no disk flush), a
 * fixed master key, the token authority with a default tenant and one service principal, the
 * vault service, and the vault "fuzz" in group "fuzz-rg". Built once per process (the process
 * is the fuzzer's), torn down and removed at exit.
 *
 * Header-only so that each fuzz_<name>.c stays one self-contained target (the CMake glob builds
 * every fuzz/fuzz_*.c into its own executable). A failure while building the world aborts: a
 * fuzzer that silently runs against nothing finds nothing. */
#ifndef CF_FUZZ_ENV_H
#define CF_FUZZ_ENV_H

#include "base/cf.h"
#include "auth/auth.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "vault/vault.h"

#include <ftw.h>
#include <unistd.h>

#define FUZZ_VAULT "fuzz"
#define FUZZ_GROUP "fuzz-rg"
#define FUZZ_PORT ":8443"

struct fuzz_env {
    char dir[128];
    char db[160];
    unsigned char master[32];
    struct cf_clock clock;
    struct cf_store *store;
    struct cf_auth *auth;
    struct cf_vault_svc *vault;
    char tenant[37];
    char sub[37];
    char client_id[64];
    char object_id[37];
    char client_secret[128];
    struct cf_vault_ref ref;
};

static inline void fuzz_die(const char *what, cf_err e)
{
    fprintf(stderr, "fuzz: set-up failed: %s: %s\n", what, cf_err_name(e));
    abort();
}

static int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static inline void fuzz_rm_tree(const char *dir)
{
    if (dir[0])
        nftw(dir, fuzz_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A temp dir of our own: /dev/shm when writable (no fsync cost), else TMPDIR or /tmp. */
static inline void fuzz_tmpdir(char *out, size_t n, const char *tag)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    snprintf(out, n, "%s/coffer-%s-XXXXXX", base, tag);
    if (!mkdtemp(out))
        fuzz_die("mkdtemp", CF_EIO);
}

/* (Re)creates the vault "fuzz" owned by the server's tenant: recovers a soft-deleted one,
 * moves a re-homed one back to the server's tenant, keeping whatever other properties a request
 * gave it (retention and purge protection cannot be undone). Returns false when it cannot
 * (e.g. the name was taken by a vault in another group); the target then runs on regardless,
 * with its data-plane coverage reduced. Stateful targets call it after every request that may
 * have changed vaults. */
static inline bool fuzz_env_vault(struct fuzz_env *w)
{
    struct cf_vault in, out;
    bool created = false, have = false;
    cf_err e;

    e = cf_vault_resolve(w->vault, cf_str_from(FUZZ_VAULT), &w->ref);
    if (e == CF_OK && strcmp(w->ref.tenant_id, w->tenant) == 0)
        return true;
    memset(&in, 0, sizeof(in));
    if (cf_vault_get(w->vault, w->sub, FUZZ_GROUP, FUZZ_VAULT, &in) == CF_OK) {
        have = true;
    } else {
        snprintf(in.name, sizeof(in.name), "%s", FUZZ_VAULT);
        snprintf(in.subscription, sizeof(in.subscription), "%s", w->sub);
        snprintf(in.resource_group, sizeof(in.resource_group), "%s", FUZZ_GROUP);
        snprintf(in.location, sizeof(in.location), "local");
        snprintf(in.sku, sizeof(in.sku), "standard");
        in.retention_days = 7;
        in.rbac = true;
    }
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", w->tenant);
    e = cf_vault_put(w->vault, &in, CF_VAULT_PUT_DEFAULT, &created, &out);
    if (e == CF_EDELETED)
        e = cf_vault_put(w->vault, &in, CF_VAULT_PUT_RECOVER, &created, &out);
    if (have)
        cf_vault_release(&in);
    if (e)
        return false;
    cf_vault_release(&out);
    e = cf_vault_resolve(w->vault, cf_str_from(FUZZ_VAULT), &w->ref);
    return e == CF_OK && strcmp(w->ref.tenant_id, w->tenant) == 0;
}

static struct fuzz_env *fuzz_env_global; /* for the atexit clean-up only */

static void fuzz_env_atexit(void)
{
    struct fuzz_env *w = fuzz_env_global;
    if (!w)
        return;
    fuzz_env_global = NULL;
    cf_vault_svc_free(w->vault);
    cf_auth_free(w->auth);
    cf_store_close(w->store);
    fuzz_rm_tree(w->dir);
    cf_wipe(w->master, sizeof(w->master));
}

/* Builds the world once. with_auth false skips the token authority (cheaper start). */
static inline struct fuzz_env *fuzz_env_get(bool with_auth)
{
    static struct fuzz_env w;
    char issuer[128];
    cf_err e;

    if (fuzz_env_global)
        return fuzz_env_global;
    cf_log_setup(getenv("FUZZ_LOG") ? CF_LOG_DEBUG : CF_LOG_ERROR, 2);
    w.clock = cf_clock_system();
    fuzz_tmpdir(w.dir, sizeof(w.dir), "fuzz");
    snprintf(w.db, sizeof(w.db), "%s/coffer.db", w.dir);
    /* A fixed master key: committed backup blobs (fuzz/corpus/fuzz_backup) open under it, and
     * runs are reproducible. */
    for (size_t i = 0; i < sizeof(w.master); i++)
        w.master[i] = (unsigned char)(0xc0 + 7 * i);
    w.store = cf_store_open_sqlite(&(struct cf_store_opts){.path = w.db}, &e);
    if (!w.store)
        fuzz_die("store", e);
    if ((e = cf_uuid4(w.tenant)) || (e = cf_uuid4(w.sub)))
        fuzz_die("uuid", e);
    if (with_auth) {
        snprintf(issuer, sizeof(issuer), "https://login.localhost" FUZZ_PORT);
        w.auth = cf_auth_new(w.store, &w.clock, w.master,
                             &(struct cf_auth_opts){.token_lifetime_s = 86400, .issuer = issuer},
                             &e);
        if (!w.auth)
            fuzz_die("auth", e);
        if ((e = cf_auth_set_default_tenant(w.auth, w.tenant)) ||
            (e = cf_auth_sp_create(w.auth, w.tenant, "fuzz-admin", NULL, w.client_id,
                                   w.object_id, w.client_secret, sizeof(w.client_secret))))
            fuzz_die("principal", e);
    }
    w.vault = cf_vault_svc_new(w.store, &w.clock, w.master, &e);
    if (!w.vault)
        fuzz_die("vault service", e);
    if (!fuzz_env_vault(&w))
        fuzz_die("vault", CF_EINTERNAL);
    fuzz_env_global = &w;
    atexit(fuzz_env_atexit);
    return &w;
}

/* A token for the principal with audience aud ("https://vault.localhost"). */
static inline void fuzz_env_token(struct fuzz_env *w, const char *aud, struct cf_buf *out)
{
    char scope[200];
    struct cf_token_request tr;
    struct cf_token_error te;
    int64_t exp = 0;
    cf_err e;

    snprintf(scope, sizeof(scope), "%s/.default", aud);
    memset(&te, 0, sizeof(te));
    tr = (struct cf_token_request){.tenant = cf_str_from(w->tenant),
                                   .grant_type = CF_STR("client_credentials"),
                                   .client_id = cf_str_from(w->client_id),
                                   .client_secret = cf_str_from(w->client_secret),
                                   .scope = cf_str_from(scope)};
    e = cf_auth_issue_token(w->auth, &tr, out, &exp, &te);
    if (e) {
        fprintf(stderr, "fuzz: token: %s\n", te.description);
        fuzz_die("token", e);
    }
}

#endif
