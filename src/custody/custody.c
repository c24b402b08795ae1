/* custody.c - the custody object: providers (dev key file, shamir, pkcs11), the sealed-state
 * machine, the state file <dir>/custody.json, and master-key rotation.
 *
 * Map: files (atomic write, read) -> state file (load/save: provider, key id, n/t, verifier,
 * pkcs11 ciphertext) -> verifier -> open per provider -> init (shamir) -> unseal / seal ->
 * master_key -> rotate begin/commit/abort -> settle (start-up after a crash) / confirm.
 *
 * Crash-safe rotation (custody.h): the store holds a pending record (the new key sealed under
 * the old one) from before the re-wrap until custody holds the new key durably (shamir: until
 * the operators confirm they hold the new shares); custody's state file keeps the previous
 * verifier meanwhile, so whichever shares the operators have, the next unseal ends in the key
 * that opens the store.
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

/* What identifies a shamir key: its shares' key id and split, and its verifier. */
struct prev_key {
    uint8_t key_id[4];
    int n, t;
    unsigned char verifier[CF_SHA256_LEN];
};

#define PENDING_MAGIC "CFPM"
#define PENDING_LEN (4 + 1 + CF_CUSTODY_KEY_LEN + 4 + 1 + 1 + 32)

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
    bool held_prev; /* the shares held are of the previous key */
    struct cf_p11 *p11;
    /* shamir: a committed rotation not yet confirmed; the previous key still unseals */
    bool has_prev;
    struct prev_key prev;
    bool from_prev; /* key was unsealed with the previous shares (until settled) */
    /* rotation in progress */
    bool rotating;
    unsigned char new_key[CF_CUSTODY_KEY_LEN];
    uint8_t new_key_id[4];
    uint8_t new_seed[32];
    int new_n, new_t;
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

/* Writes the state file for (key_id, n, t, verifier of key, wrapped) and, shamir, the
 * previous key of an unconfirmed rotation (prev, may be NULL). */
static cf_err state_save(const struct cf_custody *c, const uint8_t key_id[4], int n, int t,
                         const unsigned char key[CF_CUSTODY_KEY_LEN], const struct cf_buf *wrapped,
                         const struct prev_key *prev)
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
        if (prev) {
            cf_buf_reset(&b64);
            if ((e = cf_b64url_encode(&b64, prev->verifier, sizeof(prev->verifier))))
                goto out;
            cf_hex_encode(id, prev->key_id, 4);
            cf_jw_key(&w, "previous");
            cf_jw_obj_begin(&w);
            cf_jw_kstr(&w, "key_id", id);
            cf_jw_kstr(&w, "verifier", b64.data);
            cf_jw_kint(&w, "shares", prev->n);
            cf_jw_kint(&w, "threshold", prev->t);
            cf_jw_obj_end(&w);
        }
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

static bool hex_id(const char *id, size_t idlen, uint8_t out[4])
{
    if (!id || idlen != 8)
        return false;
    for (int i = 0; i < 4; i++) {
        unsigned v;
        if (sscanf(id + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

/* The "previous" member of a shamir state file (absent: no unconfirmed rotation). */
static cf_err prev_load(struct cf_custody *c, const struct cf_json *p)
{
    struct cf_buf ver;
    const char *id;
    size_t idlen = 0;
    int64_t n = 0, t = 0;
    cf_err e = CF_ECORRUPT;

    c->has_prev = false;
    if (!p)
        return CF_OK;
    cf_buf_init(&ver, 64);
    id = cf_json_str(cf_json_get(p, "key_id"), &idlen);
    if (hex_id(id, idlen, c->prev.key_id) && !b64_member(p, "verifier", &ver) &&
        ver.len == CF_SHA256_LEN && cf_json_int(cf_json_get(p, "shares"), &n) &&
        cf_json_int(cf_json_get(p, "threshold"), &t) && t >= 2 && n >= t &&
        n <= CF_SHAMIR_MAX_SHARES) {
        memcpy(c->prev.verifier, ver.data, CF_SHA256_LEN);
        c->prev.n = (int)n;
        c->prev.t = (int)t;
        c->has_prev = true;
        e = CF_OK;
    }
    cf_buf_release(&ver);
    return e;
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
        cf_error("custody: %s belongs to provider %s, not %s", c->state_path, prov ? prov : "?",
                 provider_name(c->provider));
        goto out;
    }
    if (!hex_id(id, idlen, c->key_id) || b64_member(root, "verifier", &ver) ||
        ver.len != CF_SHA256_LEN)
        goto out;
    memcpy(c->verifier, ver.data, CF_SHA256_LEN);
    if (c->provider == CF_CUSTODY_SHAMIR) {
        if (!cf_json_int(cf_json_get(root, "shares"), &n) ||
            !cf_json_int(cf_json_get(root, "threshold"), &t) || t < 2 || n < t ||
            n > CF_SHAMIR_MAX_SHARES)
            goto out;
        c->n = (int)n;
        c->t = (int)t;
        if (prev_load(c, cf_json_get(root, "previous")))
            goto out;
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

/* Checks key against the verifier (the previous key's when prev; constant time); on success
 * the object is UNSEALED. */
static cf_err accept_key_as(struct cf_custody *c, const unsigned char key[CF_CUSTODY_KEY_LEN],
                            bool prev)
{
    unsigned char v[CF_SHA256_LEN];
    cf_err e = verifier_of(key, v);

    if (!e && !cf_ct_eq(v, prev ? c->prev.verifier : c->verifier, sizeof(v)))
        e = CF_EUNAUTH;
    if (!e) {
        memcpy(c->key, key, CF_CUSTODY_KEY_LEN);
        c->from_prev = prev;
        c->state = CF_CUSTODY_UNSEALED;
    }
    cf_wipe(v, sizeof(v));
    return e;
}

static cf_err accept_key(struct cf_custody *c, const unsigned char key[CF_CUSTODY_KEY_LEN])
{
    return accept_key_as(c, key, false);
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
        e = state_save(c, c->key_id, 0, 0, key, &c->wrapped, NULL);
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

cf_err cf_custody_init_shamir(struct cf_custody *c, int n, int t, char (*out)[CF_SHARE_TEXT_MAX])
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
        e = state_save(c, c->key_id, n, t, key, NULL, NULL);
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
            cf_warn("custody: cannot remove the dev key file %s: remove it by hand", c->key_path);
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
    bool is_prev = false;
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
    /* a share of the current key, or - while a rotation is unconfirmed - of the previous one;
     * the shares held must all be of the same key */
    is_prev = c->has_prev && memcmp(s.key_id, c->prev.key_id, 4) == 0;
    if ((!is_prev && (memcmp(s.key_id, c->key_id, 4) != 0 || s.threshold != c->t || s.x > c->n)) ||
        (is_prev && (s.threshold != c->prev.t || s.x > c->prev.n)) ||
        (c->nheld && c->held_prev != is_prev)) {
        e = CF_EBADPARAM; /* a share of another init, or of another split */
        goto unlock;
    }
    for (int i = 0; i < c->nheld; i++)
        if (c->held[i].x == s.x) {
            e = CF_EEXISTS;
            goto unlock;
        }
    c->held_prev = is_prev;
    c->held[c->nheld++] = s;
    if (c->nheld < (is_prev ? c->prev.t : c->t))
        goto unlock;
    e = cf_shamir_combine(c->held, c->nheld, key);
    if (!e)
        e = accept_key_as(c, key, is_prev);
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
    p->threshold = c->provider != CF_CUSTODY_SHAMIR ? 0
                   : c->nheld && c->held_prev       ? c->prev.t
                                                    : c->t;
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
        cf_wipe(c->new_seed, sizeof(c->new_seed));
        c->nheld = 0;
        c->from_prev = c->held_prev = false;
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

void cf_custody_crash_point(const char *point)
{
    const char *at = getenv("COFFER_TEST_CRASH_AT");
    if (at && point && strcmp(at, point) == 0) {
        cf_warn("custody: test crash point %s reached: exiting at once", point);
        _exit(137);
    }
}

static cf_err make_shares_seeded(const unsigned char key[CF_CUSTODY_KEY_LEN],
                                 const uint8_t key_id[4], int n, int t, const uint8_t seed[32],
                                 char (*out)[CF_SHARE_TEXT_MAX])
{
    struct cf_share sh[CF_SHAMIR_MAX_SHARES];
    cf_err e = cf_shamir_split_seeded(key, key_id, t, n, seed, sh);

    for (int i = 0; !e && i < n; i++)
        e = cf_share_encode(&sh[i], out[i]);
    cf_wipe(sh, sizeof(sh));
    if (e)
        cf_wipe(out, (size_t)n * CF_SHARE_TEXT_MAX);
    return e;
}

/* The identity of the key held now (shamir): the previous key's when it was unsealed with the
 * previous shares. */
static void held_identity(const struct cf_custody *c, struct prev_key *out)
{
    if (c->from_prev) {
        *out = c->prev;
        return;
    }
    memcpy(out->key_id, c->key_id, 4);
    out->n = c->n;
    out->t = c->t;
    memcpy(out->verifier, c->verifier, sizeof(out->verifier));
}

/* Makes key (key_id, n/t, seed: shamir) custody's key durably, the key held now becoming the
 * previous one (shamir; kept until confirmed), and holds it. shamir fills the shares. Caller
 * holds c->mu; UNSEALED. */
static cf_err adopt(struct cf_custody *c, const unsigned char key[CF_CUSTODY_KEY_LEN],
                    const uint8_t key_id[4], int n, int t, const uint8_t seed[32],
                    char (*shares)[CF_SHARE_TEXT_MAX], int *nshares)
{
    unsigned char ver[CF_SHA256_LEN];
    struct prev_key prev;
    struct cf_buf wrapped;
    cf_err e;

    cf_buf_init(&wrapped, 8192);
    if ((e = verifier_of(key, ver)))
        goto out;
    switch (c->provider) {
    case CF_CUSTODY_DEV:
        e = cf_custody__write_file(c->key_path, key, CF_CUSTODY_KEY_LEN, 0600);
        break;
    case CF_CUSTODY_PKCS11:
        e = cf_p11_encrypt(c->p11, P11_LABEL, false, key, CF_CUSTODY_KEY_LEN, &wrapped);
        if (!e)
            e = state_save(c, key_id, 0, 0, key, &wrapped, NULL);
        if (!e) {
            cf_buf_reset(&c->wrapped);
            e = cf_buf_append(&c->wrapped, wrapped.data, wrapped.len);
        }
        break;
    case CF_CUSTODY_SHAMIR:
        if (!shares || !nshares || t < 2 || n < t || n > CF_SHAMIR_MAX_SHARES) {
            e = CF_EINVAL;
            break;
        }
        /* Already custody's key (its commit was durable, the shares may not have been shown):
         * keep the state file as it is, previous verifier included. */
        if (!cf_ct_eq(ver, c->verifier, sizeof(ver))) {
            held_identity(c, &prev);
            if (!(e = state_save(c, key_id, n, t, key, NULL, &prev))) {
                c->prev = prev;
                c->has_prev = true;
            }
        }
        if (!e && (e = make_shares_seeded(key, key_id, n, t, seed, shares)) == CF_OK)
            *nshares = n;
        break;
    default:
        e = CF_EINVAL;
    }
    if (e)
        goto out;
    memcpy(c->key, key, CF_CUSTODY_KEY_LEN);
    memcpy(c->key_id, key_id, 4);
    memcpy(c->verifier, ver, sizeof(ver));
    c->n = n;
    c->t = t;
    c->from_prev = false;
    cf_info("custody: master key is now key id %02x%02x%02x%02x", key_id[0], key_id[1], key_id[2],
            key_id[3]);
out:
    cf_buf_release(&wrapped);
    cf_wipe(ver, sizeof(ver));
    return e;
}

cf_err cf_custody_rotate_begin(struct cf_custody *c, int n, int t,
                               unsigned char new_key[CF_CUSTODY_KEY_LEN], struct cf_buf *pending)
{
    static const char aad[] = CF_CUSTODY_PENDING_AAD;
    unsigned char rec[PENDING_LEN];
    cf_err e = CF_OK;

    if (!c || !new_key || !pending)
        return CF_EINVAL;
    pthread_mutex_lock(&c->mu);
    if (c->state != CF_CUSTODY_UNSEALED) {
        e = CF_ESEALED;
        goto unlock;
    }
    if (c->rotating || c->has_prev || c->from_prev) {
        e = CF_EBUSY; /* one at a time; shamir: confirm the last one first */
        goto unlock;
    }
    c->new_n = n ? n : c->n;
    c->new_t = t ? t : c->t;
    if (c->provider == CF_CUSTODY_SHAMIR &&
        (c->new_t < 2 || c->new_n < c->new_t || c->new_n > CF_SHAMIR_MAX_SHARES)) {
        e = CF_EINVAL;
        goto unlock;
    }
    if ((e = cf_random(c->new_key, sizeof(c->new_key))) ||
        (e = cf_random(c->new_key_id, sizeof(c->new_key_id))) ||
        (e = cf_random(c->new_seed, sizeof(c->new_seed))))
        goto unlock;
    memcpy(rec, PENDING_MAGIC, 4);
    rec[4] = 1;
    memcpy(rec + 5, c->new_key, CF_CUSTODY_KEY_LEN);
    memcpy(rec + 5 + CF_CUSTODY_KEY_LEN, c->new_key_id, 4);
    rec[9 + CF_CUSTODY_KEY_LEN] = (uint8_t)c->new_n;
    rec[10 + CF_CUSTODY_KEY_LEN] = (uint8_t)c->new_t;
    memcpy(rec + 11 + CF_CUSTODY_KEY_LEN, c->new_seed, 32);
    cf_buf_reset(pending);
    if ((e = cf_aead_seal(c->key, aad, sizeof(aad) - 1, rec, sizeof(rec), pending)))
        goto unlock;
    memcpy(new_key, c->new_key, CF_CUSTODY_KEY_LEN);
    c->rotating = true;
unlock:
    if (e) {
        cf_wipe(c->new_key, sizeof(c->new_key));
        cf_wipe(c->new_seed, sizeof(c->new_seed));
    }
    pthread_mutex_unlock(&c->mu);
    cf_wipe(rec, sizeof(rec));
    return e;
}

cf_err cf_custody_rotate_commit(struct cf_custody *c, char (*shares)[CF_SHARE_TEXT_MAX],
                                int *nshares)
{
    cf_err e = CF_OK;

    if (nshares)
        *nshares = 0;
    pthread_mutex_lock(&c->mu);
    if (!c->rotating || c->state != CF_CUSTODY_UNSEALED) {
        e = CF_EINVAL;
        goto unlock;
    }
    e = adopt(c, c->new_key, c->new_key_id, c->new_n, c->new_t, c->new_seed, shares, nshares);
    if (e)
        goto unlock;
    c->rotating = false;
    cf_wipe(c->new_key, sizeof(c->new_key));
    cf_wipe(c->new_seed, sizeof(c->new_seed));
unlock:
    pthread_mutex_unlock(&c->mu);
    return e;
}

void cf_custody_rotate_abort(struct cf_custody *c)
{
    pthread_mutex_lock(&c->mu);
    c->rotating = false;
    cf_wipe(c->new_key, sizeof(c->new_key));
    cf_wipe(c->new_seed, sizeof(c->new_seed));
    pthread_mutex_unlock(&c->mu);
}

bool cf_custody_unconfirmed(struct cf_custody *c)
{
    bool r;
    pthread_mutex_lock(&c->mu);
    r = c->has_prev;
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* ---------------- settle (start-up) and confirm ---------------- */

struct pending {
    unsigned char key[CF_CUSTODY_KEY_LEN];
    uint8_t key_id[4];
    int n, t;
    uint8_t seed[32];
};

/* Opens a pending record under key. CF_ECORRUPT when it does not (another key's) or is
 * malformed. */
static cf_err pending_open(const unsigned char key[CF_CUSTODY_KEY_LEN], const struct cf_buf *b,
                           struct pending *out)
{
    static const char aad[] = CF_CUSTODY_PENDING_AAD;
    struct cf_secret *pt = NULL;
    const unsigned char *p;
    cf_err e = cf_aead_open(key, aad, sizeof(aad) - 1, b->data, b->len, &pt);

    if (e)
        return CF_ECORRUPT;
    p = pt->p;
    if (pt->len != PENDING_LEN || memcmp(p, PENDING_MAGIC, 4) != 0 || p[4] != 1) {
        e = CF_ECORRUPT;
    } else {
        memcpy(out->key, p + 5, CF_CUSTODY_KEY_LEN);
        memcpy(out->key_id, p + 5 + CF_CUSTODY_KEY_LEN, 4);
        out->n = p[9 + CF_CUSTODY_KEY_LEN];
        out->t = p[10 + CF_CUSTODY_KEY_LEN];
        memcpy(out->seed, p + 11 + CF_CUSTODY_KEY_LEN, 32);
    }
    cf_secret_free(pt);
    return e;
}

/* The store's root opens under key (a store without root: yes). */
static cf_err root_check(const struct cf_custody_hooks *h, const unsigned char *key, bool *opens)
{
    cf_err e = h->root_opens(h->ctx, key, opens);
    if (e == CF_ENOTFOUND) {
        *opens = true;
        e = CF_OK;
    }
    return e;
}

static void pending_drop(const struct cf_custody_hooks *h)
{
    cf_err e = h->pending_del ? h->pending_del(h->ctx) : CF_OK;
    if (e && e != CF_ENOTFOUND)
        cf_warn("custody: cannot delete the pending rotation record (%s); the next start "
                "deletes it",
                cf_err_name(e));
}

/* The store opens under the key held: custody's state file must name that key alone. */
static cf_err settle_current(struct cf_custody *c)
{
    cf_err e = CF_OK;

    if (c->from_prev) {
        /* custody committed a key the store never got (not something this code does): the
         * store decides, custody goes back to the key that opens it */
        cf_warn("custody: the store is wrapped under the previous master key: custody goes "
                "back to it");
        e = state_save(c, c->prev.key_id, c->prev.n, c->prev.t, c->key, NULL, NULL);
        if (!e) {
            memcpy(c->key_id, c->prev.key_id, 4);
            c->n = c->prev.n;
            c->t = c->prev.t;
            memcpy(c->verifier, c->prev.verifier, sizeof(c->verifier));
            c->has_prev = c->from_prev = false;
        }
    } else if (c->has_prev) {
        /* unsealed with the new shares: the operators hold them */
        e = state_save(c, c->key_id, c->n, c->t, c->key, NULL, NULL);
        if (!e) {
            c->has_prev = false;
            cf_info("custody: unsealed with the new shares: the rotation is confirmed");
        }
    }
    return e;
}

cf_err cf_custody_settle(struct cf_custody *c, const struct cf_custody_hooks *h,
                         char (*shares)[CF_SHARE_TEXT_MAX], int *nshares)
{
    struct pending pd;
    struct cf_buf rec;
    bool have, opens = false;
    cf_err e;

    if (nshares)
        *nshares = 0;
    if (!h || !h->root_opens || !h->pending_get)
        return CF_OK;
    memset(&pd, 0, sizeof(pd));
    cf_buf_init(&rec, 4096);
    pthread_mutex_lock(&c->mu);
    if (c->state != CF_CUSTODY_UNSEALED) {
        e = CF_ESEALED;
        goto unlock;
    }
    e = h->pending_get(h->ctx, &rec);
    have = e == CF_OK;
    if (e && e != CF_ENOTFOUND)
        goto unlock;
    if ((e = root_check(h, c->key, &opens)))
        goto unlock;
    if (opens) {
        /* the rotation never reached the store, or it finished: the record is stale */
        if ((e = settle_current(c)))
            goto unlock;
        if (have) {
            cf_info("custody: a pending master-key rotation %s; its record is removed",
                    pending_open(c->key, &rec, &pd) == CF_OK ? "never reached the store"
                                                             : "had finished");
            pending_drop(h);
        }
        goto unlock;
    }
    e = CF_ECORRUPT;
    if (!have) {
        cf_error("custody: the store's derivation root does not open under this master key "
                 "and no rotation is pending: wrong shares, token or data directory?");
        goto unlock;
    }
    if (pending_open(c->key, &rec, &pd) != CF_OK) {
        cf_error("custody: a master-key rotation is pending but its record does not open under "
                 "this master key");
        goto unlock;
    }
    if ((e = root_check(h, pd.key, &opens)) || !opens) {
        cf_error("custody: the store opens under neither the master key nor the pending one");
        e = e ? e : CF_ECORRUPT;
        goto unlock;
    }
    cf_warn("custody: finishing a master-key rotation that a crash interrupted");
    if ((e = adopt(c, pd.key, pd.key_id, pd.n, pd.t, pd.seed, shares, nshares)))
        goto unlock;
    cf_custody_crash_point("settle-custody");
    if (c->provider != CF_CUSTODY_SHAMIR)
        pending_drop(h); /* shamir keeps it until the operators confirm */
unlock:
    pthread_mutex_unlock(&c->mu);
    cf_wipe(&pd, sizeof(pd));
    cf_buf_release(&rec);
    return e;
}

cf_err cf_custody_confirm(struct cf_custody *c, const struct cf_custody_hooks *h)
{
    cf_err e = CF_OK;

    pthread_mutex_lock(&c->mu);
    if (c->state != CF_CUSTODY_UNSEALED) {
        e = CF_ESEALED;
    } else if (c->has_prev && !c->from_prev) {
        e = state_save(c, c->key_id, c->n, c->t, c->key, NULL, NULL);
        if (!e) {
            c->has_prev = false;
            cf_info("custody: master-key rotation confirmed; the previous shares are void");
            cf_custody_crash_point("confirm-custody");
        }
    } else if (c->from_prev) {
        e = CF_EINVAL; /* not settled */
    }
    pthread_mutex_unlock(&c->mu);
    if (!e && h)
        pending_drop(h);
    return e;
}
