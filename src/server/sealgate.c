/* sealgate.c - custody at start-up and while serving (the custody part of DESIGN.md §4).
 *
 * cf_boot_custody opens the configured provider (environment: COFFER_CUSTODY = dev | shamir |
 * pkcs11, default dev; COFFER_PKCS11_MODULE, COFFER_PKCS11_TOKEN, COFFER_PKCS11_PIN), serves the
 * custody socket <data_dir>/custody.sock for `coffer operator`, and while custody is sealed
 * answers every HTTPS request with 503 and an Azure-shaped error (health routes say "sealed")
 * until enough shares arrive. Then the caller builds the server with the master key.
 *
 * Sealing a running server (`coffer operator seal`): the seal hook stops the HTTP server; main
 * tears everything down in reverse order - which wipes the master key copies, every cached data
 * key, the token signing keys and the audit keys - and re-executes itself, so the new image
 * starts sealed with nothing of the old key in its address space.
 *
 * Rotation (`coffer operator rotate-master-key`): custody first commits a pending record (meta
 * custody.pending_master: the new key sealed under the old one) through the pending hooks,
 * then the rewrap hook hands the old and new key to the vault service (cf_vault_svc_rewrap:
 * every data key and the derivation root re-wrapped in one store write while requests keep
 * flowing), then custody makes the new key durable. The service is registered once built
 * (cf_sealgate_set_vault) and unregistered before it is freed; g->mu is held across the hook,
 * so it cannot go away mid-rotation.
 *
 * Start-up: the store is opened before custody, so that custody can check, before anything
 * uses its key, that the key opens the store's derivation root and finish (or forget) a
 * rotation a crash interrupted (cf_custody_settle: at open for dev and pkcs11, inside the
 * unseal message for shamir, whose answer then carries the new shares). The boot waits for
 * that settled unseal (the unsealed hook), not just for custody's state. */
#include "base/cf.h"
#include "server/sealgate.h"
#include "base/log.h"
#include "base/secret.h"
#include "custody/custody.h"
#include "http/http.h"
#include "server/bootstrap.h"
#include "store/store.h"
#include "vault/vault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>

struct cf_sealgate {
    struct cf_custody *custody;
    struct cf_custody_sock *sock;
    pthread_mutex_t mu;
    struct cf_http_server *srv; /* the full server, once serving */
    struct cf_vault_svc *vault; /* re-wraps at rotation; NULL until built and after teardown */
    struct cf_hsm *hsm;         /* pkcs11: HSM-protected keys in the custody token */
    struct cf_store *store;     /* the pending record and the root check; NULL at teardown */
    bool resealed;
    bool ready; /* unsealed and settled: the boot may take the key */
};

/* The token's key operations for the vault (vault.h's table, custody.h's functions). */
static const struct cf_vault_hsm_ops hsm_ops = {
    .generate = cf_hsm_generate,
    .sign = cf_hsm_sign,
    .verify = cf_hsm_verify,
    .encrypt = cf_hsm_encrypt,
    .decrypt = cf_hsm_decrypt,
    .destroy = cf_hsm_destroy,
};

static cf_err on_rewrap(void *ctx, const unsigned char old_key[CF_CUSTODY_KEY_LEN],
                        const unsigned char new_key[CF_CUSTODY_KEY_LEN])
{
    struct cf_sealgate *g = ctx;
    cf_err e;

    pthread_mutex_lock(&g->mu);
    /* Not serving yet (or stopping): nothing may be re-wrapped behind the service's back. */
    e = g->vault && !g->resealed ? cf_vault_svc_rewrap(g->vault, old_key, new_key) : CF_ESEALED;
    pthread_mutex_unlock(&g->mu);
    return e;
}

static void on_unsealed(void *ctx)
{
    struct cf_sealgate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->ready = true;
    pthread_mutex_unlock(&g->mu);
}

/* ---- the store side of custody's rotation (custody.h hooks) ---- */

struct meta_op {
    const void *p;
    size_t n;
    struct cf_buf *out;
};

static cf_err pending_get_fn(struct cf_store_txn *t, void *arg)
{
    struct meta_op *m = arg;
    return cf_store_meta_get(t, CF_CUSTODY_PENDING_META, m->out);
}

static cf_err pending_put_fn(struct cf_store_txn *t, void *arg)
{
    struct meta_op *m = arg;
    return cf_store_meta_put(t, CF_CUSTODY_PENDING_META, m->p, m->n);
}

static cf_err pending_del_fn(struct cf_store_txn *t, void *arg)
{
    (void)arg;
    return cf_store_meta_del(t, CF_CUSTODY_PENDING_META);
}

/* Runs fn on the store (a write when write), unless it is gone (teardown: CF_ESEALED). The
 * store outlives every call that got past the check: it is cleared under g->mu before it is
 * closed, and calls hold g->mu. */
static cf_err with_store(struct cf_sealgate *g, cf_store_fn fn, void *arg, bool write)
{
    cf_err e = CF_ESEALED;
    pthread_mutex_lock(&g->mu);
    if (g->store)
        e = write ? cf_store_write(g->store, fn, arg) : cf_store_read(g->store, fn, arg);
    pthread_mutex_unlock(&g->mu);
    return e;
}

static cf_err on_pending_get(void *ctx, struct cf_buf *out)
{
    struct meta_op m = {.out = out};
    return with_store(ctx, pending_get_fn, &m, false);
}

static cf_err on_pending_put(void *ctx, const void *p, size_t n)
{
    struct meta_op m = {.p = p, .n = n};
    return with_store(ctx, pending_put_fn, &m, true);
}

static cf_err on_pending_del(void *ctx)
{
    return with_store(ctx, pending_del_fn, NULL, true);
}

static cf_err on_root_opens(void *ctx, const unsigned char key[CF_CUSTODY_KEY_LEN], bool *opens)
{
    struct cf_sealgate *g = ctx;
    cf_err e = CF_ESEALED;
    pthread_mutex_lock(&g->mu);
    if (g->store)
        e = cf_vault_root_opens(g->store, key, opens);
    pthread_mutex_unlock(&g->mu);
    return e;
}

static void on_sealed(void *ctx)
{
    struct cf_sealgate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->resealed = true;
    if (g->srv)
        cf_http_server_stop(g->srv);
    pthread_mutex_unlock(&g->mu);
    cf_info("custody: sealed by the operator: stopping, wiping keys, restarting sealed");
}

static void sealed_handler(struct cf_http_req *req, void *ctx)
{
    struct cf_sealgate *g = ctx;
    static const struct cf_http_hdr h[] = {{"Content-Type", "application/json; charset=utf-8"}};
    bool uninit = cf_custody_state(g->custody) == CF_CUSTODY_UNINITIALISED;
    const char *body;

    if (cf_str_eq_cstr(req->path, "/healthz") || cf_str_eq_cstr(req->path, "/readyz"))
        body = uninit ? "{\"status\":\"uninitialised\",\"sealed\":true}"
                      : "{\"status\":\"sealed\",\"sealed\":true}";
    else if (uninit)
        body = "{\"error\":{\"code\":\"ServiceUnavailable\",\"message\":\"The server is not "
               "initialised; run coffer operator init, then unseal it with coffer operator "
               "unseal\"}}";
    else
        body = "{\"error\":{\"code\":\"ServiceUnavailable\",\"message\":\"The server is "
               "sealed; unseal it with coffer operator unseal\"}}";
    cf_http_respond(req, 503, h, CF_ARRAY_LEN(h), body, strlen(body));
}

struct sealed_run {
    struct cf_http_server *srv;
    pthread_t thread;
};

static void *sealed_main(void *arg)
{
    struct sealed_run *r = arg;
    if (cf_http_server_run(r->srv) != CF_OK)
        cf_warn("custody: the sealed listener stopped with an error");
    return NULL;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? v : dflt;
}

static bool is_ready(struct cf_sealgate *g)
{
    bool r;
    pthread_mutex_lock(&g->mu);
    r = g->ready;
    pthread_mutex_unlock(&g->mu);
    /* not under g->mu: custody's settle holds its own lock while it calls the hooks above */
    return r && cf_custody_state(g->custody) == CF_CUSTODY_UNSEALED;
}

/* Waits (signals blocked, polled with sigtimedwait) until custody is unsealed and settled.
 * CF_ENOTFOUND when SIGINT/SIGTERM asked to stop. */
static cf_err wait_unsealed(struct cf_sealgate *g, const sigset_t *sigs)
{
    struct timespec ts = {0, 200 * 1000 * 1000};
    while (!is_ready(g)) {
        int s = sigtimedwait(sigs, NULL, &ts);
        if (s == SIGINT || s == SIGTERM)
            return CF_ENOTFOUND;
    }
    return CF_OK;
}

cf_err cf_boot_custody(const struct cf_config *c, struct cf_paths *p, struct cf_store *store,
                       struct cf_sealgate **out, unsigned char master[32])
{
    char data_dir[PATH_MAX], sock_path[PATH_MAX + 16];
    struct cf_custody_cfg cc = {.provider = CF_CUSTODY_DEV};
    struct cf_custody_hooks hooks;
    struct cf_sealgate *g;
    const char *prov = env_or("COFFER_CUSTODY", "dev");
    char *slash;
    sigset_t sigs, old;
    cf_err e = CF_OK;

    *out = NULL;
    if (!cf_custody_provider_parse(prov, &cc.provider)) {
        cf_error("COFFER_CUSTODY must be dev, shamir or pkcs11 (got %s)", prov);
        return CF_EINVAL;
    }
    if (cc.provider == CF_CUSTODY_DEV && !c->dev)
        cf_warn("custody: the dev provider keeps the master key in a file; use "
                "COFFER_CUSTODY=shamir or pkcs11 in production");
    snprintf(data_dir, sizeof(data_dir), "%s", p->master_key); /* <abs data dir>/master.key */
    if ((slash = strrchr(data_dir, '/')))
        *slash = '\0';
    cc.dir = data_dir;
    cc.p11_module = env_or("COFFER_PKCS11_MODULE", "");
    cc.p11_token = env_or("COFFER_PKCS11_TOKEN", "");
    cc.p11_pin = env_or("COFFER_PKCS11_PIN", "");
    if (!(g = calloc(1, sizeof(*g))))
        return CF_ENOMEM;
    pthread_mutex_init(&g->mu, NULL);
    g->store = store;
    hooks = (struct cf_custody_hooks){.ctx = g,
                                      .unsealed = on_unsealed,
                                      .sealed = on_sealed,
                                      .rewrap = on_rewrap,
                                      .root_opens = on_root_opens,
                                      .pending_get = on_pending_get,
                                      .pending_put = on_pending_put,
                                      .pending_del = on_pending_del};
    if (!(g->custody = cf_custody_open(&cc, &e)))
        goto fail;
    if (cf_custody_state(g->custody) == CF_CUSTODY_UNSEALED) { /* dev, pkcs11 */
        if ((e = cf_custody_settle(g->custody, &hooks, NULL, NULL)))
            goto fail;
        g->ready = true;
    }
    if (cc.provider != CF_CUSTODY_DEV) {
        snprintf(sock_path, sizeof(sock_path), "%s/custody.sock", data_dir);
        if (!(g->sock = cf_custody_sock_start(g->custody, sock_path, &hooks, &e)))
            goto fail;
    }
    if (!is_ready(g)) {
        struct sealed_run run;
        const char *addrs[8];
        char listen_buf[256];
        size_t naddrs = 0;
        char *save = NULL;

        if (c->dev && (e = cf_boot_dev_tls(c, p)))
            goto fail;
        snprintf(listen_buf, sizeof(listen_buf), "%s", c->listen);
        for (char *t = strtok_r(listen_buf, ", ", &save); t && naddrs < CF_ARRAY_LEN(addrs);
             t = strtok_r(NULL, ", ", &save))
            addrs[naddrs++] = t;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &sigs, &old); /* threads made now inherit it */
        run.srv = cf_http_server_new(&(struct cf_http_opts){.addrs = addrs,
                                                            .naddrs = naddrs,
                                                            .port = c->port,
                                                            .cert_file = p->cert,
                                                            .key_file = p->key,
                                                            .threads = 1,
                                                            .max_connections = 256},
                                     sealed_handler, g, &e);
        if (!run.srv || pthread_create(&run.thread, NULL, sealed_main, &run) != 0) {
            cf_http_server_free(run.srv);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            e = e ? e : CF_EINTERNAL;
            goto fail;
        }
        cf_info("custody: %s; every request answers 503 until `coffer operator %s` (socket "
                "%s)",
                cf_custody_state_name(cf_custody_state(g->custody)),
                cf_custody_state(g->custody) == CF_CUSTODY_UNINITIALISED ? "init" : "unseal",
                sock_path);
        printf("Coffer is sealed. Unseal it with: coffer operator unseal --socket %s\n", sock_path);
        fflush(stdout);
        e = wait_unsealed(g, &sigs);
        cf_http_server_stop(run.srv);
        pthread_join(run.thread, NULL);
        cf_http_server_free(run.srv);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e)
            goto fail;
    }
    if ((e = cf_custody_master_key(g->custody, master)))
        goto fail;
    *out = g;
    return CF_OK;
fail:
    cf_sealgate_free(g);
    return e;
}

void cf_sealgate_serving(struct cf_sealgate *g, struct cf_http_server *srv)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->srv = srv;
    if (g->resealed && srv) /* sealed between unseal and now */
        cf_http_server_stop(srv);
    pthread_mutex_unlock(&g->mu);
}

void cf_sealgate_set_vault(struct cf_sealgate *g, struct cf_vault_svc *v)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu); /* waits for a rotation in progress */
    g->vault = v;
    if (!v)
        g->store = NULL; /* teardown: the store closes next */
    if (v && cf_custody_provider(g->custody) == CF_CUSTODY_PKCS11) {
        cf_err e = CF_OK;
        if (!g->hsm && !(g->hsm = cf_hsm_open(g->custody, &e)))
            cf_warn("custody: HSM-protected keys are unavailable (%s)", cf_err_name(e));
        cf_vault_svc_set_hsm(v, g->hsm, g->hsm ? &hsm_ops : NULL);
        cf_vault_svc_set_hsm_import(v, g->hsm ? cf_hsm_import : NULL);
    }
    pthread_mutex_unlock(&g->mu);
}

bool cf_sealgate_rotatable(const struct cf_sealgate *g)
{
    return g && cf_custody_provider(g->custody) != CF_CUSTODY_DEV;
}

bool cf_sealgate_resealed(struct cf_sealgate *g)
{
    bool r;
    if (!g)
        return false;
    pthread_mutex_lock(&g->mu);
    r = g->resealed;
    pthread_mutex_unlock(&g->mu);
    return r;
}

void cf_sealgate_free(struct cf_sealgate *g)
{
    if (!g)
        return;
    cf_custody_sock_stop(g->sock); /* first: no hook runs after this */
    cf_hsm_close(g->hsm);          /* its sessions belong to the custody token */
    cf_custody_close(g->custody);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
