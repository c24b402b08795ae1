/* bootstrap.c - start-up set-up of the data directory and dev-mode identities.
 * Files holding key material are created 0600 with O_EXCL/rename so they are never readable by
 * others, even briefly. */
#include "base/cf.h"
#include "server/bootstrap.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/rbac.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "vault/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static cf_err join(char *out, size_t n, const char *a, const char *b)
{
    int k = snprintf(out, n, "%s/%s", a, b);
    return (k < 0 || (size_t)k >= n) ? CF_ETOOBIG : CF_OK;
}

cf_err cf_boot_paths(const struct cf_config *c, struct cf_paths *p)
{
    char abs[PATH_MAX];
    cf_err e = CF_OK;

    if (mkdir(c->data_dir, 0700) != 0 && errno != EEXIST) {
        cf_error("cannot create data dir %s: %s", c->data_dir, strerror(errno));
        return CF_EIO;
    }
    if (!realpath(c->data_dir, abs)) {
        cf_error("cannot resolve data dir %s: %s", c->data_dir, strerror(errno));
        return CF_EIO;
    }
    e = join(p->db, sizeof(p->db), abs, "coffer.db");
    if (!e)
        e = join(p->master_key, sizeof(p->master_key), abs, "master.key");
    if (!e)
        e = join(p->tls_dir, sizeof(p->tls_dir), abs, "tls");
    if (!e)
        e = join(p->ca_cert, sizeof(p->ca_cert), p->tls_dir, "ca.pem");
    if (!e)
        e = join(p->ca_key, sizeof(p->ca_key), p->tls_dir, "ca.key");
    if (!e)
        e = join(p->dev_admin, sizeof(p->dev_admin), abs, "dev-admin");
    if (!e)
        e = join(p->env, sizeof(p->env), abs, "env");
    if (e)
        return e;
    if (c->tls_cert[0]) {
        snprintf(p->cert, sizeof(p->cert), "%s", c->tls_cert);
        snprintf(p->key, sizeof(p->key), "%s", c->tls_key);
    } else {
        e = join(p->cert, sizeof(p->cert), p->tls_dir, "server.pem");
        if (!e)
            e = join(p->key, sizeof(p->key), p->tls_dir, "server.key");
    }
    if (!e && c->audit_dir[0])
        snprintf(p->audit_dir, sizeof(p->audit_dir), "%s", c->audit_dir);
    else if (!e)
        e = join(p->audit_dir, sizeof(p->audit_dir), abs, "audit");
    if (e)
        return e;
    /* The env file announces readiness: one left from an earlier run must not. */
    if (unlink(p->env) != 0 && errno != ENOENT) {
        cf_error("cannot remove %s: %s", p->env, strerror(errno));
        return CF_EIO;
    }
    return e;
}

/* Writes data to path atomically (temp file with mode, fsync, rename). */
static cf_err write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    int fd;
    cf_err e = CF_OK;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return CF_ETOOBIG;
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        cf_error("cannot write %s: %s", path, strerror(errno));
        return CF_EIO;
    }
    if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
        e = CF_EIO;
    close(fd);
    if (!e && rename(tmp, path) != 0)
        e = CF_EIO;
    if (e)
        unlink(tmp);
    return e;
}

/* Reads a whole small file into out (appending). */
static cf_err read_file(const char *path, struct cf_buf *out)
{
    char chunk[4096];
    ssize_t n;
    cf_err e = CF_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? CF_ENOTFOUND : CF_EIO;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0 && !e)
        e = cf_buf_append(out, chunk, (size_t)n);
    if (n < 0)
        e = CF_EIO;
    cf_wipe(chunk, sizeof(chunk));
    close(fd);
    return e;
}

cf_err cf_boot_master_key(const struct cf_paths *p, unsigned char key[32])
{
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 64);
    e = read_file(p->master_key, &b);
    if (e == CF_ENOTFOUND) {
        e = cf_random(key, 32);
        if (!e)
            e = write_file(p->master_key, key, 32, 0600);
        if (!e)
            cf_info("created dev master key %s", p->master_key);
    } else if (!e) {
        if (b.len != 32) {
            cf_error("master key file %s is not 32 bytes", p->master_key);
            e = CF_ECORRUPT;
        } else {
            memcpy(key, b.data, 32);
        }
    }
    cf_buf_wipe(&b);
    return e;
}

static cf_err save_pem_pair(const char *cert_path, const struct cf_buf *cert,
                            const char *key_path, const struct cf_buf *key)
{
    cf_err e = write_file(key_path, key->data, key->len, 0600);
    if (!e)
        e = write_file(cert_path, cert->data, cert->len, 0644);
    return e;
}

/* Leaf certificates live at most 398 days (the CA/Browser Forum limit TLS checkers enforce);
 * the dev server renews its leaf on start when fewer than 30 days remain. */
#define DEV_CERT_DAYS 397
#define DEV_CERT_RENEW_S (30 * 86400)

bool cf_boot_crl_url(const struct cf_config *c, char *url, size_t cap)
{
    char host[128];
    const char *colon, *h;
    char *end;
    size_t hl;
    long port;
    int k;

    if (cap)
        url[0] = '\0';
    if (!c->metrics_listen[0] || strcmp(c->metrics_tls, "off") != 0)
        return false;
    colon = strrchr(c->metrics_listen, ':');
    if (!colon || colon == c->metrics_listen)
        return false;
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 1 || port > 65535) /* 0: not known before bind */
        return false;
    h = c->metrics_listen;
    hl = (size_t)(colon - h);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') { /* "[::1]:9464" */
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host))
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    /* a wildcard bind answers on loopback too, the one address every client here can reach */
    if (strcmp(host, "0.0.0.0") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, sizeof(host), "::1");
    k = snprintf(url, cap, strchr(host, ':') ? "http://[%s]:%ld%s" : "http://%s:%ld%s", host,
                     port, CF_BOOT_CRL_PATH);
    if (k < 0 || (size_t)k >= cap) {
        if (cap)
            url[0] = '\0';
        return false;
    }
    return true;
}

cf_err cf_boot_dev_tls(const struct cf_config *c, struct cf_paths *p)
{
    struct cf_buf ca_cert, ca_key, cert, key, sans, old;
    char sans_path[PATH_MAX + 16], wild[200], crl_url[256];
    const char *dns[6];
    const char *ip[] = {"127.0.0.1", "::1"};
    int64_t not_after = 0;
    bool has_crl;
    cf_err e = CF_OK;

    cf_buf_init(&ca_cert, 1 << 16);
    cf_buf_init(&ca_key, 1 << 16);
    cf_buf_init(&cert, 1 << 16);
    cf_buf_init(&key, 1 << 16);
    cf_buf_init(&sans, 4096);
    cf_buf_init(&old, 4096);
    if (mkdir(p->tls_dir, 0700) != 0 && errno != EEXIST) {
        e = CF_EIO;
        goto out;
    }
    if (read_file(p->ca_cert, &ca_cert) != CF_OK || read_file(p->ca_key, &ca_key) != CF_OK) {
        cf_buf_reset(&ca_cert);
        cf_buf_wipe(&ca_key);
        cf_buf_init(&ca_key, 1 << 16);
        e = cf_x509_make_ca("Coffer Dev CA", 3650, &ca_cert, &ca_key);
        if (!e)
            e = save_pem_pair(p->ca_cert, &ca_cert, p->ca_key, &ca_key);
        if (e)
            goto out;
        cf_info("created dev CA %s", p->ca_cert);
        if (!c->tls_cert[0])
            unlink(p->cert); /* a new CA means a new leaf */
    }
    if (c->tls_cert[0])
        goto out; /* the operator's certificate (tls_cert/tls_key) is never touched */
    snprintf(wild, sizeof(wild), "*.%s", c->dns_suffix);
    dns[0] = c->login_host;
    dns[1] = c->management_host;
    dns[2] = c->dns_suffix;
    dns[3] = wild;
    dns[4] = "localhost";
    for (size_t i = 0; i < 5; i++)
        e = e ? e : cf_buf_printf(&sans, "%s\n", dns[i]);
    /* The CRL URL is part of what the leaf says: a leaf made by an older version (no "crl"
     * line, no distribution point) or for another metrics address is made again at start;
     * the CA stays, so clients that trust it keep working. */
    has_crl = cf_boot_crl_url(c, crl_url, sizeof(crl_url));
    e = e ? e : cf_buf_printf(&sans, "crl %s\n", has_crl ? crl_url : "-");
    if (e)
        goto out;
    snprintf(sans_path, sizeof(sans_path), "%s/server.sans", p->tls_dir);
    if (read_file(sans_path, &old) == CF_OK && cf_str_eq(cf_buf_str(&old), cf_buf_str(&sans)) &&
        read_file(p->cert, &cert) == CF_OK && access(p->key, R_OK) == 0 &&
        cf_x509_not_after(cert.data, &not_after) == CF_OK &&
        not_after > (int64_t)time(NULL) + DEV_CERT_RENEW_S)
        goto out; /* the certificate on disk has these names and is far from expiry */
    cf_buf_reset(&cert);
    e = cf_x509_make_server(ca_cert.data, ca_key.data, dns, 5, ip, 2, DEV_CERT_DAYS,
                            has_crl ? crl_url : NULL, &cert, &key);
    if (!e)
        e = save_pem_pair(p->cert, &cert, p->key, &key);
    if (!e)
        e = write_file(sans_path, sans.data, sans.len, 0644);
    if (!e && has_crl)
        cf_info("created dev server certificate %s (CRL: %s)", p->cert, crl_url);
    else if (!e)
        cf_warn("created dev server certificate %s without a CRL distribution point: the CRL "
                "is served only on a plain-HTTP metrics_listen with a fixed port",
                p->cert);
out:
    if (e)
        cf_error("dev TLS set-up failed: %s", cf_err_name(e));
    cf_buf_release(&ca_cert);
    cf_buf_wipe(&ca_key);
    cf_buf_release(&cert);
    cf_buf_wipe(&key);
    cf_buf_release(&sans);
    cf_buf_release(&old);
    return e;
}

/* ---------------- the dev CA's CRL ---------------- */

/* A CRL is valid a week and made again once a day, so a client's cached copy never outlives
 * its nextUpdate by more than a day of drift; thisUpdate is backdated an hour (clock skew),
 * like the certificates. Made lazily by the request that finds it due: no timer. */
#define CRL_VALID_S (7 * 86400)
#define CRL_REFRESH_S 86400
#define CRL_BACKDATE_S 3600

struct cf_boot_crl {
    pthread_mutex_t mu;
    char ca_cert[PATH_MAX];
    char ca_key[PATH_MAX];
    struct cf_buf der; /* the current CRL, guarded by mu */
    int64_t made;      /* when der was made (Unix s); 0: never */
};

/* Makes a new CRL into c->der (mu held). The CA key is read from disk for this and wiped:
 * it is not kept in memory between refreshes (once a day). */
static cf_err crl_make(struct cf_boot_crl *c, int64_t now)
{
    struct cf_buf cert, key, der;
    cf_err e;

    cf_buf_init(&cert, 1 << 16);
    cf_buf_init(&key, 1 << 16);
    cf_buf_init(&der, 1 << 16);
    e = read_file(c->ca_cert, &cert);
    if (!e)
        e = read_file(c->ca_key, &key);
    /* cRLNumber: the making time, increasing across restarts without any stored counter */
    if (!e)
        e = cf_x509_make_crl(cert.data, key.data, now - CRL_BACKDATE_S, now + CRL_VALID_S,
                             (uint64_t)now, &der);
    if (!e) {
        struct cf_buf t = c->der;
        c->der = der;
        der = t;
        c->made = now;
    }
    cf_buf_release(&cert);
    cf_buf_wipe(&key);
    cf_buf_release(&der);
    return e;
}

cf_err cf_boot_crl_new(const struct cf_paths *p, int64_t now, struct cf_boot_crl **out)
{
    struct cf_boot_crl *c = calloc(1, sizeof(*c));
    cf_err e;

    *out = NULL;
    if (!c)
        return CF_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    snprintf(c->ca_cert, sizeof(c->ca_cert), "%s", p->ca_cert);
    snprintf(c->ca_key, sizeof(c->ca_key), "%s", p->ca_key);
    cf_buf_init(&c->der, 1 << 16);
    e = crl_make(c, now);
    if (e) {
        cf_error("dev CA CRL: cannot make it (%s)", cf_err_name(e));
        cf_boot_crl_free(c);
        return e;
    }
    *out = c;
    return CF_OK;
}

cf_err cf_boot_crl_get(struct cf_boot_crl *c, int64_t now, struct cf_buf *out)
{
    cf_err e = CF_OK;

    pthread_mutex_lock(&c->mu);
    /* due, or the clock went back past it (then a CRL "from the future" would be refused) */
    if (now - c->made >= CRL_REFRESH_S || now < c->made - CRL_BACKDATE_S) {
        e = crl_make(c, now);
        if (e && now < c->made + CRL_VALID_S) {
            cf_warn("dev CA CRL: cannot make a new one (%s); serving the current one",
                    cf_err_name(e));
            e = CF_OK;
        } else if (e) {
            cf_error("dev CA CRL: cannot make a new one (%s)", cf_err_name(e));
        }
    }
    if (!e)
        e = cf_buf_append(out, c->der.data, c->der.len);
    pthread_mutex_unlock(&c->mu);
    return e;
}

void cf_boot_crl_free(struct cf_boot_crl *c)
{
    if (!c)
        return;
    cf_buf_release(&c->der);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

struct meta_arg {
    const char *key;
    char *out;
};

static cf_err meta_uuid_fn(struct cf_store_txn *t, void *arg)
{
    struct meta_arg *m = arg;
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 64);
    e = cf_store_meta_get(t, m->key, &b);
    if (e == CF_OK && b.len == 36) {
        memcpy(m->out, b.data, 36);
        m->out[36] = '\0';
    } else if (e == CF_ENOTFOUND) {
        e = cf_uuid4(m->out);
        if (!e)
            e = cf_store_meta_put(t, m->key, m->out, 36);
    } else if (!e) {
        e = CF_ECORRUPT;
    }
    cf_buf_release(&b);
    return e;
}

cf_err cf_boot_meta_uuid(struct cf_store *s, const char *key, char out[37])
{
    struct meta_arg m = {key, out};
    return cf_store_write(s, meta_uuid_fn, &m);
}

cf_err cf_boot_dev_admin(struct cf_auth *a, const struct cf_paths *p, const char *tenant,
                         char client_id[64], char secret[128])
{
    struct cf_buf b;
    char oid[37], text[300];
    cf_err e;
    int n;

    cf_buf_init(&b, 1024);
    e = read_file(p->dev_admin, &b);
    if (!e) {
        char *nl = memchr(b.data, '\n', b.len);
        if (nl && (size_t)(nl - b.data) < 64 && b.len - (size_t)(nl - b.data) - 1 < 128) {
            size_t cl = (size_t)(nl - b.data), sl = b.len - cl - 1;
            memcpy(client_id, b.data, cl);
            client_id[cl] = '\0';
            memcpy(secret, nl + 1, sl);
            secret[sl] = '\0';
            if (sl && secret[sl - 1] == '\n')
                secret[sl - 1] = '\0';
            if (cf_auth_sp_exists(a, tenant, client_id))
                goto out;
        }
        cf_warn("dev admin file %s does not match the store; creating a new dev admin",
                p->dev_admin);
    }
    e = cf_auth_sp_create(a, tenant, "coffer-dev-admin", NULL, client_id, oid, secret, 128);
    if (e)
        goto out;
    n = snprintf(text, sizeof(text), "%s\n%s\n", client_id, secret);
    e = write_file(p->dev_admin, text, (size_t)n, 0600);
    cf_wipe(text, sizeof(text));
out:
    cf_buf_wipe(&b);
    return e;
}

cf_err cf_boot_dev_vault(struct cf_vault_svc *v, const char *sub, const char *tenant)
{
    struct cf_vault in, out;
    bool created = false;
    cf_err e;

    memset(&out, 0, sizeof(out));
    e = cf_vault_get(v, sub, CF_DEV_GROUP, CF_DEV_VAULT, &out);
    cf_vault_release(&out);
    if (e != CF_ENOTFOUND)
        return e;
    memset(&in, 0, sizeof(in));
    snprintf(in.name, sizeof(in.name), "%s", CF_DEV_VAULT);
    snprintf(in.subscription, sizeof(in.subscription), "%s", sub);
    snprintf(in.resource_group, sizeof(in.resource_group), "%s", CF_DEV_GROUP);
    snprintf(in.location, sizeof(in.location), "local");
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", tenant);
    snprintf(in.sku, sizeof(in.sku), "standard");
    snprintf(in.public_network_access, sizeof(in.public_network_access), "Enabled");
    in.retention_days = 90;
    in.soft_delete = true;
    in.rbac = true;
    in.tags_json = (char *)(uintptr_t)"{}";
    in.access_policies_json = (char *)(uintptr_t)"[]";
    memset(&out, 0, sizeof(out));
    e = cf_vault_put(v, &in, CF_VAULT_PUT_DEFAULT, &created, &out);
    cf_vault_release(&out);
    if (!e)
        cf_info("created dev vault %s", CF_DEV_VAULT);
    return e;
}

cf_err cf_boot_write_env(const struct cf_config *c, const struct cf_paths *p, const char *sub,
                         const char *tenant, const char *client_id, const char *secret)
{
    struct cf_buf b;
    char port[16] = "";
    cf_err e = CF_OK;

    if (c->port != 443)
        snprintf(port, sizeof(port), ":%d", c->port);
    cf_buf_init(&b, 8192);
#define LINE(k, ...) e = e ? e : cf_buf_printf(&b, "export " k "=\"" __VA_ARGS__)
    LINE("COFFER_VAULT_URL", "https://%s.%s%s\"\n", CF_DEV_VAULT, c->dns_suffix, port);
    LINE("COFFER_VAULT_NAME", "%s\"\n", CF_DEV_VAULT);
    LINE("COFFER_RESOURCE_GROUP", "%s\"\n", CF_DEV_GROUP);
    LINE("COFFER_DNS_SUFFIX", "%s\"\n", c->dns_suffix);
    LINE("COFFER_PORT", "%d\"\n", c->port);
    LINE("COFFER_MANAGEMENT_URL", "https://%s%s\"\n", c->management_host, port);
    LINE("COFFER_SUBSCRIPTION_ID", "%s\"\n", sub);
    LINE("COFFER_CA_FILE", "%s\"\n", p->ca_cert);
    LINE("AZURE_TENANT_ID", "%s\"\n", tenant);
    LINE("AZURE_CLIENT_ID", "%s\"\n", client_id);
    LINE("AZURE_CLIENT_SECRET", "%s\"\n", secret);
    LINE("AZURE_AUTHORITY_HOST", "https://%s%s\"\n", c->login_host, port);
    LINE("NODE_EXTRA_CA_CERTS", "%s\"\n", p->ca_cert);
    LINE("REQUESTS_CA_BUNDLE", "%s\"\n", p->ca_cert);
    LINE("SSL_CERT_FILE", "%s\"\n", p->ca_cert);
#undef LINE
    if (!e)
        e = write_file(p->env, b.data, b.len, 0600);
    if (!e) {
        printf("Coffer is ready. Vault: https://%s.%s%s\n"
               "Environment for the Azure SDKs, az and coffer (also in %s; `source` it):\n%s",
               CF_DEV_VAULT, c->dns_suffix, port, p->env, b.data);
        fflush(stdout);
    }
    cf_buf_wipe(&b);
    return e;
}

struct admin_mark {
    const char *client_id; /* NULL: only look */
    bool exists;
};

static cf_err admin_mark_fn(struct cf_store_txn *t, void *arg)
{
    struct admin_mark *m = arg;
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 128);
    e = cf_store_meta_get(t, "server.bootstrap_admin", &b);
    cf_buf_release(&b);
    if (e == CF_OK) {
        m->exists = true;
        return CF_OK;
    }
    if (e != CF_ENOTFOUND || !m->client_id)
        return e == CF_ENOTFOUND ? CF_OK : e;
    return cf_store_meta_put(t, "server.bootstrap_admin", m->client_id, strlen(m->client_id));
}

cf_err cf_boot_prod_admin(struct cf_store *s, struct cf_auth *a, const char *tenant)
{
    struct admin_mark m = {NULL, false};
    char client_id[64], oid[37], secret[128];
    cf_err e;

    e = cf_store_read(s, admin_mark_fn, &m);
    if (e || m.exists)
        return e;
    e = cf_auth_sp_create(a, tenant, "coffer-admin", NULL, client_id, oid, secret, sizeof(secret));
    if (e)
        return e;
    m.client_id = client_id;
    e = cf_store_write(s, admin_mark_fn, &m);
    if (!e) {
        /* stdout, not the log: this is the one time the operator can see the secret. */
        printf("Coffer bootstrap administrator (shown once - store it safely; rotate it with "
               "`coffer ad sp credential reset` once that exists):\n"
               "  tenant:        %s\n  client id:     %s\n  client secret: %s\n",
               tenant, client_id, secret);
        fflush(stdout);
    }
    cf_wipe(secret, sizeof(secret));
    return e;
}

/* ---------------- the administrator's roles ---------------- */

struct admin_lookup {
    const char *tenant, *client_id;
    char oid[37];
    char prod_client_id[64]; /* read from meta when client_id is NULL */
};

static cf_err admin_lookup_fn(struct cf_store_txn *t, void *arg)
{
    struct admin_lookup *l = arg;
    struct cf_rec_principal p;
    struct cf_buf b;
    cf_err e;

    if (!l->client_id) {
        cf_buf_init(&b, 128);
        e = cf_store_meta_get(t, "server.bootstrap_admin", &b);
        if (!e && b.len > 0 && b.len < sizeof(l->prod_client_id)) {
            memcpy(l->prod_client_id, b.data, b.len);
            l->prod_client_id[b.len] = '\0';
            l->client_id = l->prod_client_id;
        } else if (!e) {
            e = CF_ECORRUPT;
        }
        cf_buf_release(&b);
        if (e)
            return e;
    }
    memset(&p, 0, sizeof(p));
    e = cf_store_principal_get(t, l->tenant, l->client_id, &p);
    if (!e)
        memcpy(l->oid, p.object_id, sizeof(l->oid));
    cf_wipe(&p, sizeof(p));
    return e;
}

cf_err cf_boot_admin_roles(struct cf_store *s, struct cf_rbac *rb, const char *tenant,
                           const char *client_id)
{
    struct admin_lookup l = {.tenant = tenant, .client_id = client_id};
    cf_err e = cf_store_read(s, admin_lookup_fn, &l);

    if (e == CF_ENOTFOUND && !client_id)
        return CF_OK; /* no bootstrap admin was ever made (nothing to give roles to) */
    if (e)
        return e;
    /* Owner: the management plane, role assignments and the directory; Key Vault
     * Administrator: every data action in every RBAC vault. Both at "/", the whole server. */
    e = cf_rbac_ensure_assignment(rb, "/", CF_ROLE_OWNER, l.oid, "ServicePrincipal");
    if (!e)
        e = cf_rbac_ensure_assignment(rb, "/", CF_ROLE_KV_ADMINISTRATOR, l.oid,
                                      "ServicePrincipal");
    return e;
}

/* ---------------- audit log ---------------- */

#define AUDIT_MAC_INFO "coffer audit mac v1"
#define AUDIT_SEAL_INFO "coffer audit signing seal v1"
#define AUDIT_SIGN_AAD "coffer audit signing key v1:"
#define AUDIT_SIGN_META "audit.signing_key" /* {"v":1,"kid":..,"sealed":b64url(aead)} */
#define AUDIT_JWK_FILE "audit-signing-key.jwk"

struct audit_key_arg {
    const unsigned char *seal_key;
    char kid[40];
    struct cf_pkey *key;
};

static cf_err audit_key_open(struct audit_key_arg *a, const struct cf_buf *doc)
{
    struct cf_json *root = NULL;
    struct cf_buf sealed, aad;
    struct cf_secret *der = NULL;
    const char *kid, *b64;
    size_t blen = 0;
    cf_err e;

    cf_buf_init(&sealed, 8192);
    cf_buf_init(&aad, 256);
    if ((e = cf_json_parse(doc->data, doc->len, &root, NULL, 0)))
        goto release;
    kid = cf_json_str(cf_json_get(root, "kid"), NULL);
    b64 = cf_json_str(cf_json_get(root, "sealed"), &blen);
    e = CF_ECORRUPT;
    if (!kid || !b64 || strlen(kid) >= sizeof(a->kid))
        goto release;
    snprintf(a->kid, sizeof(a->kid), "%s", kid);
    if ((e = cf_b64_decode(&sealed, (struct cf_str){b64, blen})) ||
        (e = cf_buf_printf(&aad, AUDIT_SIGN_AAD "%s", a->kid)) ||
        (e = cf_aead_open(a->seal_key, aad.data, aad.len, sealed.data, sealed.len, &der)) ||
        (e = cf_pkey_from_der(der->p, der->len, &a->key)))
        goto release;
release:
    cf_secret_free(der);
    cf_json_free(root);
    cf_buf_release(&sealed);
    cf_buf_release(&aad);
    return e;
}

static cf_err audit_key_new(struct audit_key_arg *a, struct cf_buf *doc)
{
    struct cf_secret *der = NULL;
    struct cf_buf sealed, aad, b64;
    unsigned char rnd[8];
    char hex[17];
    struct cf_jw w;
    cf_err e;

    cf_buf_init(&sealed, 8192);
    cf_buf_init(&aad, 256);
    cf_buf_init(&b64, 16384);
    if ((e = cf_random(rnd, sizeof(rnd))))
        goto release;
    cf_hex_encode(hex, rnd, sizeof(rnd));
    snprintf(a->kid, sizeof(a->kid), "coffer-audit-%s", hex);
    if ((e = cf_pkey_generate_ec_p256(&a->key)) || (e = cf_pkey_to_der(a->key, &der)) ||
        (e = cf_buf_printf(&aad, AUDIT_SIGN_AAD "%s", a->kid)) ||
        (e = cf_aead_seal(a->seal_key, aad.data, aad.len, der->p, der->len, &sealed)) ||
        (e = cf_b64url_encode(&b64, sealed.data, sealed.len)))
        goto release;
    cf_jw_init(&w, doc);
    cf_jw_obj_begin(&w);
    cf_jw_kint(&w, "v", 1);
    cf_jw_kstr(&w, "kid", a->kid);
    cf_jw_kstr(&w, "alg", "ES256");
    cf_jw_kstr(&w, "sealed", b64.data);
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
release:
    cf_secret_free(der);
    cf_buf_release(&sealed);
    cf_buf_release(&aad);
    cf_buf_release(&b64);
    return e;
}

/* Loads the sealed key, or creates and stores it (one write transaction: two nodes of one
 * store would still agree). */
static cf_err audit_key_fn(struct cf_store_txn *t, void *arg)
{
    struct audit_key_arg *a = arg;
    struct cf_buf doc;
    cf_err e;

    cf_buf_init(&doc, 65536);
    e = cf_store_meta_get(t, AUDIT_SIGN_META, &doc);
    if (e == CF_OK) {
        e = audit_key_open(a, &doc);
        if (e)
            cf_error("audit: the checkpoint signing key in the store cannot be opened with "
                     "this derivation root (%s)", cf_err_name(e));
    } else if (e == CF_ENOTFOUND) {
        cf_buf_reset(&doc);
        e = audit_key_new(a, &doc);
        if (!e)
            e = cf_store_meta_put(t, AUDIT_SIGN_META, doc.data, doc.len);
        if (!e)
            cf_info("audit: created checkpoint signing key %s", a->kid);
    }
    if (e) {
        cf_pkey_free(a->key);
        a->key = NULL;
    }
    cf_buf_release(&doc);
    return e;
}

static cf_err write_jwk(const char *dir, const struct cf_pkey *k, const char *kid)
{
    char path[PATH_MAX];
    struct cf_buf b;
    struct cf_jw w;
    cf_err e;

    if ((e = join(path, sizeof(path), dir, AUDIT_JWK_FILE)))
        return e;
    cf_buf_init(&b, 4096);
    cf_jw_init(&w, &b);
    e = cf_pkey_write_jwk(k, kid, &w);
    if (!e)
        e = cf_jw_err(&w);
    if (!e)
        e = cf_buf_putc(&b, '\n');
    if (!e)
        e = write_file(path, b.data, b.len, 0644); /* public: auditors verify with it */
    cf_buf_release(&b);
    return e;
}

cf_err cf_boot_audit(const struct cf_config *c, const struct cf_paths *p, struct cf_store *s,
                     const unsigned char root[32], size_t nlanes, struct cf_audit **logs,
                     struct cf_pkey **sign_key)
{
    unsigned char mac[CF_AUDIT_KEY_LEN], seal[CF_AEAD_KEY_LEN];
    struct audit_key_arg ka;
    struct cf_audit_config ac;
    char node[CF_AUDIT_MAX_NODE + 1];
    size_t i = 0;
    cf_err e;

    *sign_key = NULL;
    memset(&ka, 0, sizeof(ka));
    if (nlanes < 1 || nlanes > CF_BOOT_AUDIT_LANES_MAX)
        return CF_EINVAL;
    for (i = 0; i < nlanes; i++)
        logs[i] = NULL;
    if (mkdir(p->audit_dir, 0700) != 0 && errno != EEXIST) {
        cf_error("cannot create the audit directory %s: %s", p->audit_dir, strerror(errno));
        return CF_EIO;
    }
    /* from the derivation root, not the master key: the chain and the sealed checkpoint key
     * outlive master-key rotations */
    if ((e = cf_hkdf_sha256(root, 32, NULL, 0, AUDIT_MAC_INFO, strlen(AUDIT_MAC_INFO), mac,
                            sizeof(mac))) ||
        (e = cf_hkdf_sha256(root, 32, NULL, 0, AUDIT_SEAL_INFO, strlen(AUDIT_SEAL_INFO), seal,
                            sizeof(seal))))
        goto wipe;
    ka.seal_key = seal;
    if ((e = cf_store_write(s, audit_key_fn, &ka)))
        goto wipe;
    if ((e = write_jwk(p->audit_dir, ka.key, ka.kid))) {
        cf_error("cannot write %s/%s", p->audit_dir, AUDIT_JWK_FILE);
        goto wipe;
    }
    for (i = 0; i < nlanes; i++) {
        if (i == 0)
            snprintf(node, sizeof(node), "%s", c->node_id);
        else if (snprintf(node, sizeof(node), "%s.w%zu", c->node_id, i) >= (int)sizeof(node)) {
            cf_error("audit: node_id %s is too long for its worker lanes", c->node_id);
            e = CF_EINVAL;
            goto close_lanes;
        }
        memset(&ac, 0, sizeof(ac));
        ac.dir = p->audit_dir;
        ac.mac_key = mac;
        ac.node_id = node;
        ac.rotate_bytes = (uint64_t)c->audit_rotate_mb * 1024 * 1024;
        ac.keep_files = (unsigned)c->audit_keep_files;
        ac.sign_key = ka.key;
        ac.sign_kid = ka.kid;
        logs[i] = cf_audit_open(&ac, &e);
        if (logs[i])
            continue;
        if (e == CF_ECORRUPT)
            cf_error("audit: the newest audit file of node %s in %s does not verify under this "
                     "server's audit key (another master key, or the file was altered). Check "
                     "it with `coffer audit verify --dir %s`; move the directory aside to start "
                     "a new log. Refusing to serve without an audit log.",
                     node, p->audit_dir, p->audit_dir);
        else
            cf_error("audit: cannot open the audit log of node %s in %s (%s)", node,
                     p->audit_dir, cf_err_name(e));
        goto close_lanes;
    }
    *sign_key = ka.key;
    ka.key = NULL;
    cf_info("audit: log in %s, node %s (%zu lane%s), signing key %s", p->audit_dir, c->node_id,
            nlanes, nlanes == 1 ? "" : "s", ka.kid);
    goto wipe;
close_lanes:
    while (i-- > 0) {
        cf_audit_close(logs[i]);
        logs[i] = NULL;
    }
wipe:
    cf_pkey_free(ka.key);
    cf_wipe(mac, sizeof(mac));
    cf_wipe(seal, sizeof(seal));
    return e;
}
