/* custody.c - the custody object: providers (dev key file, shamir, pkcs11), the sealed-state
 * machine, the state file <dir>/custody.json, and master-key rotation.
 *
 * Map: files (atomic write, read) -> state file (load/save: provider, key id, n/t, verifier,
 * pkcs11 ciphertext) -> verifier -> open per provider -> init (shamir) -> unseal / seal ->
 * master_key -> rotate begin/commit/abort.
 *
 * States: UNINITIALISED (shamir without state file) --init--> SEALED --T shares--> UNSEALED
 * --seal--> SEALED. dev is UNSEALED from open to close. pkcs11 is UNSEALED after open; sealed
 * by request, an "unseal" asks the token again. */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "custody/custody_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERIFIER_INFO "coffer custody verifier v1"
#define P11_LABEL "coffer-master-wrap"
#define STATE_FILE "custody.json"
#define DEV_FILE "master.key"

struct cf_custody {
    pthread_mutex_t mu;
    enum cf_custody_provider provider;
    enum cf_custody_state state;
    char state_path[PATH_MAX];
    char key_path[PATH_MAX];
    unsigned char key[CF_CUSTODY_KEY_LEN]; /* valid iff UNSEALED */
    uint8_t key_id[4];
    int n, t;
    unsigned char verifier[CF_SHA256_LEN];
    struct cf_buf wrapped; /* pkcs11: iv || ciphertext of the key */
    struct cf_share held[CF_SHAMIR_MAX_SHARES];
    int nheld;
    struct cf_p11 *p11;
    /* rotation in progress */
    bool rotating;
    unsigned char new_key[CF_CUSTODY_KEY_LEN];
    uint8_t new_key_id[4];
    int new_n, new_t;
    struct cf_buf new_wrapped;
};

/* ---------------- files ---------------- */

cf_err cf_custody__write_file(const char *path, const void *p, size_t n, unsigned mode)
{
    char tmp[PATH_MAX + 8], dir[PATH_MAX];
    cf_err e = CF_OK;
    int fd;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return CF_ETOOBIG;
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        cf_error("custody: cannot write %s: %s", path, strerror(errno));
        return CF_EIO;
    }
    if (write(fd, p, n) != (ssize_t)n || fsync(fd) != 0)
        e = CF_EIO;
    close(fd);
    if (!e && rename(tmp, path) != 0)
        e = CF_EIO;
    if (e) {
        unlink(tmp);
        return e;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { /* the rename itself must survive a crash */
        if (fsync(fd) != 0)
            e = CF_EIO;
        close(fd);
    }
    return e;
}

cf_err cf_custody__read_file(const char *path, struct cf_buf *out)
{
    char chunk[4096];
    ssize_t n;
    cf_err e = CF_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? CF_ENOTFOUND : CF_EIO;
    while (!e && (n = read(fd, chunk, sizeof(chunk))) > 0)
        e = cf_buf_append(out, chunk, (size_t)n);
    if (!e && n < 0)
        e = CF_EIO;
    cf_wipe(chunk, sizeof(chunk));
    close(fd);
    return e;
}

/* ---------------- verifier and state file ---------------- */

static cf_err verifier_of(const unsigned char key[CF_CUSTODY_KEY_LEN],
                          unsigned char out[CF_SHA256_LEN])
{
    return cf_hmac_sha256(key, CF_CUSTODY_KEY_LEN, VERIFIER_INFO, strlen(VERIFIER_INFO), out);
}

static const char *provider_name(enum cf_custody_provider p)
{
    return p == CF_CUSTODY_SHAMIR ? "shamir" : p == CF_CUSTODY_PKCS11 ? "pkcs11" : "dev";
}

bool cf_custody_provider_parse(const char *name, enum cf_custody_provider *out)
{
    static const enum cf_custody_provider all[] = {CF_CUSTODY_DEV, CF_CUSTODY_SHAMIR,
                                                   CF_CUSTODY_PKCS11};
    for (size_t i = 0; name && i < CF_ARRAY_LEN(all); i++)
        if (strcmp(name, provider_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

const char *cf_custody_state_name(enum cf_custody_state s)
{
    return s == CF_CUSTODY_UNSEALED ? "unsealed"
           : s == CF_CUSTODY_SEALED ? "sealed"
                                    : "uninitialised";
}

/* Writes the state file for (key_id, n, t, verifier of key, wrapped). */
static cf_err state_save(const struct cf_custody *c, const uint8_t key_id[4], int n, int t,
                         const unsigned char key[CF_CUSTODY_KEY_LEN],
                         const struct cf_buf *wrapped)
{
    unsigned char ver[CF_SHA256_LEN];
    char id[9];
    struct cf_buf doc, b64;
    struct cf_jw w;
    cf_err e;

    cf_buf_init(&doc, 16384);
    cf_buf_init(&b64, 8192);
    if ((e = verifier_of(key, ver)) || (e = cf_b64url_encode(&b64, ver, sizeof(ver))))
        goto out;
    cf_hex_encode(id, key_id, 4);
    cf_jw_init(&w, &doc);
    cf_jw_obj_begin(&w);
    cf_jw_kint(&w, "version", 1);
    cf_jw_kstr(&w, "provider", provider_name(c->provider));
    cf_jw_kstr(&w, "key_id", id);
    cf_jw_kstr(&w, "verifier", b64.data);
    if (c->provider == CF_CUSTODY_SHAMIR) {
        cf_jw_kint(&w, "shares", n);
        cf_jw_kint(&w, "threshold", t);
    }
    if (c->provider == CF_CUSTODY_PKCS11) {
        cf_buf_reset(&b64);
        if ((e = cf_b64url_encode(&b64, wrapped->data, wrapped->len)))
            goto out;
        cf_jw_kstr(&w, "wrap_key_label", P11_LABEL);
        cf_jw_kstr(&w, "wrapped", b64.data);
    }
    cf_jw_obj_end(&w);
    if (!(e = cf_jw_err(&w)) && !(e = cf_buf_putc(&doc, '\n')))
        e = cf_custody__write_file(c->state_path, doc.data, doc.len, 0600);
out:
    cf_buf_release(&doc);
    cf_buf_release(&b64);
    return e;
}

static cf_err b64_member(const struct cf_json *root, const char *k, struct cf_buf *out)
{
    size_t len = 0;
    const char *s = cf_json_str(cf_json_get(root, k), &len);
    if (!s)
        return CF_ECORRUPT;
    return cf_b64_decode(out, (struct cf_str){s, len}) ? CF_ECORRUPT : CF_OK;
}

static cf_err state_load(struct cf_custody *c)
{
    struct cf_buf doc, ver;
    struct cf_json *root = NULL;
    const char *prov, *id;
    int64_t n = 0, t = 0;
    size_t idlen = 0;
    cf_err e;

    cf_buf_init(&doc, 65536);
    cf_buf_init(&ver, 64);
    if ((e = cf_custody__read_file(c->state_path, &doc)))
        goto out;
    if (cf_json_parse(doc.data, doc.len, &root, NULL, 0)) {
        e = CF_ECORRUPT;
        goto out;
    }
    prov = cf_json_str(cf_json_get(root, "provider"), NULL);
    id = cf_json_str(cf_json_get(root, "key_id"), &idlen);
    e = CF_ECORRUPT;
    if (!prov || strcmp(prov, provider_name(c->provider)) != 0) {
        cf_error("custody: %s belongs to provider %s, not %s", c->state_path,
                 prov ? prov : "?", provider_name(c->provider));
        goto out;
    }
    if (!id || idlen != 8 || b64_member(root, "verifier", &ver) || ver.len != CF_SHA256_LEN)
        goto out;
    for (int i = 0; i < 4; i++) {
        unsigned v;
        if (sscanf(id + 2 * i, "%2x", &v) != 1)
            goto out;
        c->key_id[i] = (uint8_t)v;
    }
    memcpy(c->verifier, ver.data, CF_SHA256_LEN);
    if (c->provider == CF_CUSTODY_SHAMIR) {
        if (!cf_json_int(cf_json_get(root, "shares"), &n) ||
            !cf_json_int(cf_json_get(root, "threshold"), &t) || t < 2 || n < t ||
            n > CF_SHAMIR_MAX_SHARES)
            goto out;
        c->n = (int)n;
        c->t = (int)t;
    }
    if (c->provider == CF_CUSTODY_PKCS11) {
        cf_buf_reset(&c->wrapped);
        if (b64_member(root, "wrapped", &c->wrapped))
            goto out;
    }
    e = CF_OK;
out:
    if (e == CF_ECORRUPT)
        cf_error("custody: %s is not a valid custody state file", c->state_path);
    cf_json_free(root);
    cf_buf_release(&doc);
    cf_buf_release(&ver);
    return e;
}

/* Checks key against the verifier (constant time); on success the object is UNSEALED. */
static cf_err accept_key(struct cf_custody *c, const unsigned char key[CF_CUSTODY_KEY_LEN])
{
    unsigned char v[CF_SHA256_LEN];
    cf_err e = verifier_of(key, v);

    if (!e && !cf_ct_eq(v, c->verifier, sizeof(v)))
        e = CF_EUNAUTH;
    if (!e) {
        memcpy(c->key, key, CF_CUSTODY_KEY_LEN);
        c->state = CF_CUSTODY_UNSEALED;
    }
    cf_wipe(v, sizeof(v));
    return e;
}

/* ---------------- providers ---------------- */

static cf_err dev_open(struct cf_custody *c)
{
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 64);
    e = cf_custody__read_file(c->key_path, &b);
    if (e == CF_ENOTFOUND) {
        e = cf_random(c->key, CF_CUSTODY_KEY_LEN);
        if (!e)
            e = cf_custody__write_file(c->key_path, c->key, CF_CUSTODY_KEY_LEN, 0600);
        if (!e)
            cf_info("created dev master key %s", c->key_path);
    } else if (!e && b.len != CF_CUSTODY_KEY_LEN) {
        cf_error("master key file %s is not 32 bytes", c->key_path);
        e = CF_ECORRUPT;
    } else if (!e) {
        memcpy(c->key, b.data, CF_CUSTODY_KEY_LEN);
    }
    cf_buf_wipe(&b);
    if (!e)
        c->state = CF_CUSTODY_UNSEALED;
    return e;
}

/* The dev key file, if there is one: a data dir moving from dev to another provider keeps its
 * master key (and so its data). CF_ENOTFOUND when absent. */
static cf_err dev_key_take(const struct cf_custody *c, unsigned char key[CF_CUSTODY_KEY_LEN])
{
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 64);
    e = cf_custody__read_file(c->key_path, &b);
    if (!e && b.len != CF_CUSTODY_KEY_LEN)
        e = CF_ECORRUPT;
    if (!e)
        memcpy(key, b.data, CF_CUSTODY_KEY_LEN);
    cf_buf_wipe(&b);
    return e;
}

static cf_err p11_unseal(struct cf_custody *c)
{
    struct cf_secret *pt = NULL;
    cf_err e = cf_p11_decrypt(c->p11, P11_LABEL, c->wrapped.data, c->wrapped.len, &pt);

    if (!e && pt->len != CF_CUSTODY_KEY_LEN)
        e = CF_ECORRUPT;
    if (!e && (e = accept_key(c, pt->p)) == CF_EUNAUTH)
        e = CF_ECORRUPT;
    if (e)
        cf_error("custody: the token cannot open the master key in %s (%s)", c->state_path,
                 cf_err_name(e));
    cf_secret_free(pt);
    return e;
}

static cf_err p11_first_start(struct cf_custody *c)
{
    unsigned char key[CF_CUSTODY_KEY_LEN];
    bool took = false;
    cf_err e = dev_key_take(c, key);

    if (e == CF_OK)
        took = true;
    else if (e == CF_ENOTFOUND)
        e = cf_random(key, sizeof(key));
    if (!e)
        e = cf_random(c->key_id, sizeof(c->key_id));
    if (!e)
        e = cf_p11_encrypt(c->p11, P11_LABEL, true, key, sizeof(key), &c->wrapped);
    if (!e)
        e = state_save(c, c->key_id, 0, 0, key, &c->wrapped);
    if (!e)
        e = verifier_of(key, c->verifier);
    if (!e)
        e = p11_unseal(c); /* proves the round trip through the token */
    if (!e && took && unlink(c->key_path) == 0)
        cf_info("custody: the dev master key now lives wrapped by the token; removed %s",
                c->key_path);
    cf_wipe(key, sizeof(key));
    return e;
}

struct cf_custody *cf_custody_open(const struct cf_custody_cfg *cfg, cf_err *err)
{
    struct cf_custody *c;
    cf_err e = CF_OK;

    if (!cfg || !cfg->dir) {
        *err = CF_EINVAL;
        return NULL;
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        *err = CF_ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    cf_buf_init(&c->wrapped, 8192);
    cf_buf_init(&c->new_wrapped, 8192);
    c->provider = cfg->provider;
    c->state = CF_CUSTODY_SEALED;
    if (snprintf(c->state_path, sizeof(c->state_path), "%s/%s", cfg->dir, STATE_FILE) >=
            (int)sizeof(c->state_path) ||
        snprintf(c->key_path, sizeof(c->key_path), "%s/%s", cfg->dir, DEV_FILE) >=
            (int)sizeof(c->key_path)) {
        e = CF_ETOOBIG;
        goto fail;
    }
    switch (c->provider) {
    case CF_CUSTODY_DEV:
        e = dev_open(c);
        break;
    case CF_CUSTODY_SHAMIR:
        e = state_load(c);
        if (e == CF_ENOTFOUND) {
            c->state = CF_CUSTODY_UNINITIALISED;
            e = CF_OK;
        }
        break;
    case CF_CUSTODY_PKCS11:
        c->p11 = cf_p11_open(cfg->p11_module, cfg->p11_token, cfg->p11_pin, &e);
        if (!c->p11)
            break;
        e = state_load(c);
        if (e == CF_ENOTFOUND)
            e = p11_first_start(c);
        else if (!e)
            e = p11_unseal(c);
        break;
    default:
        e = CF_EINVAL;
    }
    if (e)
        goto fail;
    *err = CF_OK;
    return c;
fail:
    cf_custody_close(c);
    *err = e;
    return NULL;
}

void cf_custody_close(struct cf_custody *c)
{
    if (!c)
        return;
    cf_p11_close(c->p11);
    cf_buf_wipe(&c->wrapped);
    cf_buf_wipe(&c->new_wrapped);
    pthread_mutex_destroy(&c->mu);
    cf_wipe(c, sizeof(*c));
    free(c);
}

enum cf_custody_state cf_custody_state(struct cf_custody *c)
{
    enum cf_custody_state s;
    pthread_mutex_lock(&c->mu);
    s = c->state;
    pthread_mutex_unlock(&c->mu);
    return s;
}

struct cf_p11 *cf_custody__p11(struct cf_custody *c)
{
    return c ? c->p11 : NULL; /* fixed at open */
}

enum cf_custody_provider cf_custody_provider(const struct cf_custody *c)
{
    return c->provider; /* fixed at open */
}

/* ---------------- shamir ---------------- */

static cf_err make_shares(const unsigned char key[CF_CUSTODY_KEY_LEN], const uint8_t key_id[4],
                          int n, int t, char (*out)[CF_SHARE_TEXT_MAX])
{
    struct cf_share sh[CF_SHAMIR_MAX_SHARES];
    cf_err e = cf_shamir_split(key, key_id, t, n, sh);

    for (int i = 0; !e && i < n; i++)
        e = cf_share_encode(&sh[i], out[i]);
    cf_wipe(sh, sizeof(sh));
    if (e)
        cf_wipe(out, (size_t)n * CF_SHARE_TEXT_MAX);
    return e;
}

cf_err cf_custody_init_shamir(struct cf_custody *c, int n, int t,
                              char (*out)[CF_SHARE_TEXT_MAX])
{
    unsigned char key[CF_CUSTODY_KEY_LEN];
    bool took = false;
    cf_err e;

    if (!c || !out || t < 2 || n < t || n > CF_SHAMIR_MAX_SHARES)
        return CF_EINVAL;
    pthread_mutex_lock(&c->mu);
    if (c->provider != CF_CUSTODY_SHAMIR) {
        e = CF_EINVAL;
        goto unlock;
    }
    if (c->state != CF_CUSTODY_UNINITIALISED) {
        e = CF_EEXISTS;
        goto unlock;
    }
    e = dev_key_take(c, key);
    if (e == CF_OK)
        took = true;
    else if (e == CF_ENOTFOUND)
        e = cf_random(key, sizeof(key));
    if (!e)
        e = cf_random(c->key_id, sizeof(c->key_id));
    if (!e)
        e = make_shares(key, c->key_id, n, t, out);
    if (!e)
        e = state_save(c, c->key_id, n, t, key, NULL);
    if (!e)
        e = verifier_of(key, c->verifier);
    if (!e) {
        c->n = n;
        c->t = t;
        c->nheld = 0;
        c->state = CF_CUSTODY_SEALED;
        cf_info("custody: initialised (shamir %d of %d, key id %02x%02x%02x%02x)%s", t, n,
                c->key_id[0], c->key_id[1], c->key_id[2], c->key_id[3],
                took ? "; took over the dev master key" : "");
        if (took && unlink(c->key_path) != 0)
            cf_warn("custody: cannot remove the dev key file %s: remove it by hand",
                    c->key_path);
    } else {
        cf_wipe(out, (size_t)n * CF_SHARE_TEXT_MAX);
    }
unlock:
    pthread_mutex_unlock(&c->mu);
    cf_wipe(key, sizeof(key));
    return e;
}

cf_err cf_custody_unseal_share(struct cf_custody *c, const char *share,
                               struct cf_custody_progress *p)
{
    struct cf_share s;
    unsigned char key[CF_CUSTODY_KEY_LEN];
    cf_err e = CF_OK;

    memset(p, 0, sizeof(*p));
    pthread_mutex_lock(&c->mu);
    if (c->provider == CF_CUSTODY_PKCS11 && c->state == CF_CUSTODY_SEALED) {
        e = p11_unseal(c); /* the token is the share */
        goto unlock;
    }
    if (c->provider != CF_CUSTODY_SHAMIR || c->state != CF_CUSTODY_SEALED) {
        e = CF_EINVAL;
        goto unlock;
    }
    if ((e = cf_share_decode(share, &s)))
        goto unlock;
    if (memcmp(s.key_id, c->key_id, 4) != 0 || s.threshold != c->t || s.x > c->n) {
        e = CF_EBADPARAM; /* a share of another init, or of another split */
        goto unlock;
    }
    for (int i = 0; i < c->nheld; i++)
        if (c->held[i].x == s.x) {
            e = CF_EEXISTS;
            goto unlock;
        }
    c->held[c->nheld++] = s;
    if (c->nheld < c->t)
        goto unlock;
    e = cf_shamir_combine(c->held, c->nheld, key);
    if (!e)
        e = accept_key(c, key);
    if (e) {
        cf_warn("custody: %d shares were given but do not reproduce the master key; "
                "start again",
                c->nheld);
        e = CF_EUNAUTH;
    } else {
        cf_info("custody: unsealed");
    }
    cf_wipe(c->held, sizeof(c->held));
    c->nheld = 0;
unlock:
    p->have = c->nheld;
    p->threshold = c->provider == CF_CUSTODY_SHAMIR ? c->t : 0;
    p->unsealed = c->state == CF_CUSTODY_UNSEALED;
    pthread_mutex_unlock(&c->mu);
    cf_wipe(&s, sizeof(s));
    cf_wipe(key, sizeof(key));
    return e;
}

void cf_custody_progress(struct cf_custody *c, struct cf_custody_progress *p)
{
    pthread_mutex_lock(&c->mu);
    p->have = c->nheld;
    p->threshold = c->provider == CF_CUSTODY_SHAMIR ? c->t : 0;
    p->unsealed = c->state == CF_CUSTODY_UNSEALED;
    pthread_mutex_unlock(&c->mu);
}

cf_err cf_custody_seal(struct cf_custody *c)
{
    cf_err e = CF_OK;

    pthread_mutex_lock(&c->mu);
    if (c->provider == CF_CUSTODY_DEV) {
        e = CF_EINVAL;
    } else if (c->state == CF_CUSTODY_UNSEALED || c->state == CF_CUSTODY_SEALED) {
        cf_wipe(c->key, sizeof(c->key));
        cf_wipe(c->held, sizeof(c->held));
        cf_wipe(c->new_key, sizeof(c->new_key));
        c->nheld = 0;
        c->rotating = false;
        c->state = CF_CUSTODY_SEALED;
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

cf_err cf_custody_master_key(struct cf_custody *c, unsigned char out[CF_CUSTODY_KEY_LEN])
{
    cf_err e = CF_OK;

    pthread_mutex_lock(&c->mu);
    if (c->state == CF_CUSTODY_UNSEALED)
        memcpy(out, c->key, CF_CUSTODY_KEY_LEN);
    else
        e = CF_ESEALED;
    pthread_mutex_unlock(&c->mu);
    return e;
}

/* ---------------- rotation ---------------- */

cf_err cf_custody_rotate_begin(struct cf_custody *c, int n, int t,
                               unsigned char new_key[CF_CUSTODY_KEY_LEN],
                               char (*shares)[CF_SHARE_TEXT_MAX], int *nshares)
{
    cf_err e = CF_OK;

    *nshares = 0;
    pthread_mutex_lock(&c->mu);
    if (c->state != CF_CUSTODY_UNSEALED) {
        e = CF_ESEALED;
        goto unlock;
    }
    if (c->rotating) {
        e = CF_EBUSY;
        goto unlock;
    }
    c->new_n = n ? n : c->n;
    c->new_t = t ? t : c->t;
    if (c->provider == CF_CUSTODY_SHAMIR &&
        (!shares || c->new_t < 2 || c->new_n < c->new_t || c->new_n > CF_SHAMIR_MAX_SHARES)) {
        e = CF_EINVAL;
        goto unlock;
    }
    if ((e = cf_random(c->new_key, sizeof(c->new_key))) ||
        (e = cf_random(c->new_key_id, sizeof(c->new_key_id))))
        goto unlock;
    if (c->provider == CF_CUSTODY_SHAMIR &&
        (e = make_shares(c->new_key, c->new_key_id, c->new_n, c->new_t, shares)))
        goto unlock;
    if (c->provider == CF_CUSTODY_SHAMIR)
        *nshares = c->new_n;
    cf_buf_reset(&c->new_wrapped);
    if (c->provider == CF_CUSTODY_PKCS11 &&
        (e = cf_p11_encrypt(c->p11, P11_LABEL, false, c->new_key, sizeof(c->new_key),
                            &c->new_wrapped)))
        goto unlock;
    memcpy(new_key, c->new_key, CF_CUSTODY_KEY_LEN);
    c->rotating = true;
unlock:
    if (e)
        cf_wipe(c->new_key, sizeof(c->new_key));
    pthread_mutex_unlock(&c->mu);
    return e;
}

cf_err cf_custody_rotate_commit(struct cf_custody *c)
{
    cf_err e = CF_OK;

    pthread_mutex_lock(&c->mu);
    if (!c->rotating || c->state != CF_CUSTODY_UNSEALED) {
        e = CF_EINVAL;
        goto unlock;
    }
    if (c->provider == CF_CUSTODY_DEV)
        e = cf_custody__write_file(c->key_path, c->new_key, CF_CUSTODY_KEY_LEN, 0600);
    else
        e = state_save(c, c->new_key_id, c->new_n, c->new_t, c->new_key, &c->new_wrapped);
    if (e)
        goto unlock;
    if ((e = verifier_of(c->new_key, c->verifier)))
        goto unlock;
    memcpy(c->key, c->new_key, CF_CUSTODY_KEY_LEN);
    memcpy(c->key_id, c->new_key_id, 4);
    c->n = c->new_n;
    c->t = c->new_t;
    cf_buf_reset(&c->wrapped);
    e = cf_buf_append(&c->wrapped, c->new_wrapped.data, c->new_wrapped.len);
    c->rotating = false;
    cf_wipe(c->new_key, sizeof(c->new_key));
    cf_info("custody: master key rotated (key id %02x%02x%02x%02x)", c->key_id[0],
            c->key_id[1], c->key_id[2], c->key_id[3]);
unlock:
    pthread_mutex_unlock(&c->mu);
    return e;
}

void cf_custody_rotate_abort(struct cf_custody *c)
{
    pthread_mutex_lock(&c->mu);
    c->rotating = false;
    cf_wipe(c->new_key, sizeof(c->new_key));
    pthread_mutex_unlock(&c->mu);
}
