/* keys.c - Key Vault keys (azure-kv-keys.md §2-§8): create, import, get, update, lists,
 * soft delete / recover / purge, rotation and rotation policies, the crypto
 * operations with the state rules of §7, and the janitor's due rotations.
 *
 * Map:
 *   helpers          key_ops names, versions, AAD, page tokens, ISO-8601 durations
 *   records          rec -> cf_key_meta, input -> record, the one "new version" write
 *   create / import  key material made outside any store transaction (RSA generation takes
 *                    up to seconds), sealed, then one write
 *   get ... purge    as secrets.c: one object per name, all versions deleted together
 *   crypto           cf_key_operate: the opened key from the key cache (kcache.c), or read
 *                    (sealed), state rules, unseal, cache; then the cf_kvkey_* operation.
 *                    Every write to a name drops its cached versions after the commit.
 *   rotation         cf_key_rotate, policies, cf_vault_keys_rotate_due
 * Backup and restore are in keys_backup.c; what the two files share is keys_int.h.
 *
 * Plaintext key material exists only in a struct cf_kvkey (OpenSSL clears it on free; cached
 * ones are shared by reference count and freed by their last user), in the
 * cf_secret of a serialised key, and in the backup payload buffer, which is wiped. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"

#include "store/store_events.h"
#include "vault/certs_int.h"
#include "vault/keys_int.h"

#define SECONDS_PER_DAY 86400
#define MIN_EXPIRY_DAYS 28

static const char *const op_names[CF_KEY_OP_COUNT] = {
    "encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export",
};

unsigned cf_key_op_parse(struct cf_str name)
{
    for (int i = 0; i < CF_KEY_OP_COUNT; i++) {
        if (cf_str_eq_cstr(name, op_names[i]))
            return 1u << i;
    }
    return 0;
}

const char *cf_key_op_name(int i)
{
    return i >= 0 && i < CF_KEY_OP_COUNT ? op_names[i] : "";
}

/* What a create without key_ops gets (§2.3): every operation the type can do. */
static unsigned default_ops(const char *kty)
{
    if (strcmp(kty, "EC") == 0 || strcmp(kty, "EC-HSM") == 0)
        return CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY;
    if (strcmp(kty, "oct") == 0 || strcmp(kty, "oct-HSM") == 0)
        return CF_KEY_OP_ENCRYPT | CF_KEY_OP_DECRYPT | CF_KEY_OP_WRAP | CF_KEY_OP_UNWRAP;
    return CF_KEY_OP_ENCRYPT | CF_KEY_OP_DECRYPT | CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY |
           CF_KEY_OP_WRAP | CF_KEY_OP_UNWRAP;
}

static cf_err bad(char *why, size_t n, const char *fmt, ...) CF_PRINTF(3, 4);
static cf_err bad(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (why && n) {
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return CF_EBADPARAM;
}

/* AAD "key\0<vault id>\0<name_lc>\0<version>". */
size_t cf_key_aad(char out[KEY_AAD_MAX], int64_t vault_id, const char *name_lc, const char *version)
{
    size_t n, l;
    int k;

    memcpy(out, "key", 4); /* with its NUL separator */
    n = 4;
    k = snprintf(out + n, 22, "%lld", (long long)vault_id);
    n += (size_t)k + 1;
    l = strlen(name_lc);
    memcpy(out + n, name_lc, l + 1);
    n += l + 1;
    l = strlen(version);
    memcpy(out + n, version, l);
    return n + l;
}

/* A new version id: 12 hex of the time in ms then 20 random hex, as secrets.c does (so new
 * versions land at the end of their object's index range). */
static cf_err new_version(char out[CF_VERSION_HEX_LEN + 1], int64_t now_ms)
{
    unsigned char b[16];
    uint64_t t = (uint64_t)(now_ms > 0 ? now_ms : 0);
    cf_err e;

    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(t >> (40 - 8 * i));
    e = cf_random(b + 6, 10);
    if (!e)
        cf_hex_encode(out, b, 16);
    return e;
}

static char *dup_opt(const char *s, cf_err *e)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *e = CF_ENOMEM;
    return d;
}

/* ---------------- page tokens (as secrets.c: base64url of the last name, or last seq) ----- */

static cf_err token_decode(struct cf_str tok, char out[CF_MAX_NAME_LEN + 1])
{
    struct cf_buf b;
    cf_err e;

    out[0] = '\0';
    if (tok.len == 0)
        return CF_OK;
    if (tok.len > 200)
        return CF_EBADPARAM;
    cf_buf_init(&b, 200);
    e = cf_b64_decode(&b, tok);
    if (e || b.len == 0 || b.len > CF_MAX_NAME_LEN ||
        !cf_name_valid_object((struct cf_str){b.data, b.len})) {
        e = CF_EBADPARAM;
    } else {
        memcpy(out, b.data, b.len + 1);
        for (size_t i = 0; i < b.len; i++) {
            if (out[i] >= 'A' && out[i] <= 'Z')
                e = CF_EBADPARAM; /* tokens we issue are lower-case */
        }
    }
    cf_buf_release(&b);
    return e;
}

static void token_encode(const char *text, char next[CF_PAGE_TOKEN_MAX])
{
    struct cf_buf b;

    cf_buf_init(&b, CF_PAGE_TOKEN_MAX - 1);
    next[0] = '\0';
    if (cf_b64url_encode(&b, text, strlen(text)) == CF_OK)
        memcpy(next, b.data, b.len + 1);
    cf_buf_release(&b);
}

static int page_max(int max)
{
    return max <= 0 || max > CF_PAGE_MAX ? CF_PAGE_MAX : max;
}

/* ---------------- ISO-8601 durations ---------------- */

struct dur {
    int64_t y, mo, w, d, h, mi, s;
};

/* P[nY][nM][nW][nD][T[nH][nM][nS]], designators in that order, integers of at most 6 digits
 * (so that adding one to a broken-down time cannot overflow), at least one component, total
 * not zero. Letters are accepted in either case. */
static bool dur_parse(struct cf_str s, struct dur *d)
{
    static const char date_des[] = "YMWD", time_des[] = "HMS";
    int64_t *date_f[] = {&d->y, &d->mo, &d->w, &d->d}, *time_f[] = {&d->h, &d->mi, &d->s};
    size_t i = 1;
    int next = 0, parts = 0;
    bool in_time = false;

    memset(d, 0, sizeof(*d));
    if (s.len < 3 || s.len > 39 || (s.p[0] != 'P' && s.p[0] != 'p'))
        return false;
    while (i < s.len) {
        int64_t v = 0;
        int digits = 0;
        char c;
        const char *des;
        const char *hit;

        if ((s.p[i] == 'T' || s.p[i] == 't') && !in_time) {
            in_time = true;
            next = 0;
            i++;
            if (i == s.len)
                return false; /* "T" needs a component */
            continue;
        }
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            if (++digits > 6)
                return false;
            v = v * 10 + (s.p[i++] - '0');
        }
        if (!digits || i == s.len)
            return false;
        c = s.p[i++];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        des = in_time ? time_des : date_des;
        hit = strchr(des + next, c);
        if (!hit || c == '\0')
            return false;
        next = (int)(hit - des) + 1;
        *(in_time ? time_f : date_f)[hit - des] = v;
        parts++;
    }
    if (!parts)
        return false;
    return d->y || d->mo || d->w || d->d || d->h || d->mi || d->s;
}

/* t + sign * d on the UTC calendar (months and years by calendar, as .NET adds them). */
static int64_t dur_add(int64_t t, const struct dur *d, int sign)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm))
        return t;
    tm.tm_year += sign * (int)d->y;
    tm.tm_mon += sign * (int)d->mo;
    tm.tm_mday += sign * (int)(7 * d->w + d->d);
    tm.tm_hour += sign * (int)d->h;
    tm.tm_min += sign * (int)d->mi;
    tm.tm_sec += sign * (int)d->s;
    return (int64_t)timegm(&tm);
}

bool cf_key_duration_valid(struct cf_str s)
{
    struct dur d;
    return dur_parse(s, &d);
}

/* ---------------- records ---------------- */

void cf_key_meta_release(struct cf_key_meta *m)
{
    if (!m)
        return;
    free(m->public_jwk);
    free(m->tags_json);
    free(m->release_policy);
    m->public_jwk = m->tags_json = m->release_policy = NULL;
}

/* Fills m from records, borrowing v's strings (m must then not be released). */
static void meta_fill(struct cf_key_meta *m, const struct cf_rec_key_obj *o,
                      const struct cf_rec_key_ver *v)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", o->name);
    memcpy(m->version, v->version, sizeof(m->version));
    memcpy(m->kty, v->kty, sizeof(m->kty));
    m->key_size = v->key_size;
    memcpy(m->crv, v->crv, sizeof(m->crv));
    m->key_ops = v->key_ops;
    m->attrs.enabled = v->enabled;
    m->attrs.exportable = v->exportable;
    m->attrs.nbf = v->nbf;
    m->attrs.exp = v->exp;
    m->attrs.created = v->created;
    m->attrs.updated = v->updated;
    m->public_jwk = v->public_jwk;
    m->tags_json = v->tags_json;
    m->release_policy = v->release_policy;
    m->managed = v->managed;
    m->deleted_date = o->deleted_date;
    m->scheduled_purge = o->scheduled_purge;
}

/* Same, moving v's strings into m. */
void cf_key_meta_take(struct cf_key_meta *m, const struct cf_rec_key_obj *o,
                      struct cf_rec_key_ver *v)
{
    meta_fill(m, o, v);
    v->public_jwk = v->tags_json = v->release_policy = NULL;
}

cf_err cf_key_ctx_init(struct cf_key_ctx *c, struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                       struct cf_str name)
{
    memset(c, 0, sizeof(*c));
    cf_buf_init(&c->ver.priv, PRIV_MAX);
    if (!svc || !v)
        return CF_EINVAL;
    c->svc = svc;
    c->v = v;
    c->name = name;
    c->now = cf_vault_now(svc);
    return cf_secret_name_lc(name, c->name_lc);
}

void cf_key_ctx_release(struct cf_key_ctx *c)
{
    cf_rec_key_ver_release(&c->ver);
}

/* 32 hex (any case) or empty; anything else cannot exist. */
static bool set_version(struct cf_key_ctx *c, struct cf_str version)
{
    if (version.len == 0)
        return true;
    if (version.len != CF_VERSION_HEX_LEN)
        return false;
    cf_str_lower(version, c->version);
    for (size_t i = 0; i < CF_VERSION_HEX_LEN; i++) {
        char ch = c->version[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return false;
    }
    return true;
}

cf_err cf_key_find_obj(struct cf_store_txn *t, struct cf_key_ctx *c, bool want_deleted)
{
    cf_err e = cf_store_key_obj_get(t, c->v->id, c->name_lc, &c->obj);
    if (e)
        return e;
    if ((c->obj.deleted_date != 0) != want_deleted)
        return CF_ENOTFOUND;
    return CF_OK;
}

static cf_err find_ver(struct cf_store_txn *t, struct cf_key_ctx *c)
{
    cf_rec_key_ver_release(&c->ver);
    return cf_store_key_ver_get(t, c->obj.id, c->obj.latest_seq, c->version[0] ? c->version : NULL,
                                c->with_priv, &c->ver);
}

/* Whether a release policy text says "immutable": true. */
static bool policy_immutable(const char *json)
{
    struct cf_json *j = NULL;
    bool imm = false;

    if (!json || cf_json_parse(json, strlen(json), &j, NULL, 0) != CF_OK)
        return false;
    if (!cf_json_bool(cf_json_get(j, "immutable"), &imm))
        imm = false;
    cf_json_free(j);
    return imm;
}

/* Applies the optional fields of in to v (a new version, or an update). */
static cf_err apply_input(struct cf_rec_key_ver *v, const struct cf_key_input *in, char *why,
                          size_t whysz)
{
    cf_err e = CF_OK;

    if (!in)
        return CF_OK;
    if (in->has_enabled)
        v->enabled = in->enabled;
    if (in->has_nbf)
        v->nbf = in->nbf;
    if (in->has_exp)
        v->exp = in->exp;
    if (in->has_key_ops && in->key_ops)
        v->key_ops = in->key_ops;
    if (in->has_tags) {
        free(v->tags_json); /* a supplied map replaces the whole map */
        v->tags_json = dup_opt(in->tags_json, &e);
    }
    if (in->has_release_policy) {
        if (v->release_policy && policy_immutable(v->release_policy) &&
            (!in->release_policy || strcmp(in->release_policy, v->release_policy) != 0))
            return bad(why, whysz, "The key's release policy is immutable and cannot be changed.");
        free(v->release_policy);
        v->release_policy = dup_opt(in->release_policy, &e);
    }
    if (in->has_exportable) {
        if (v->exportable && !in->exportable)
            return bad(why, whysz, "An exportable key cannot be made non-exportable.");
        v->exportable = in->exportable;
    }
    if (e)
        return e;
    if (v->exportable && !v->release_policy)
        return bad(why, whysz, "Exportable keys must have a release policy.");
    if (v->nbf && v->exp && v->nbf > v->exp)
        return bad(why, whysz, "The key's 'nbf' must not be later than its 'exp'.");
    return CF_OK;
}

/* The one write that adds a version (create, import, rotate): c->ver is complete except for
 * seq and object_id; c->ver.priv holds the sealed private key. */
static cf_err new_version_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    struct cf_rec_key_ver *v = &c->ver;
    bool exists;
    cf_err e;

    e = cf_store_key_obj_get(t, c->v->id, c->name_lc, &c->obj);
    if (e && e != CF_ENOTFOUND)
        return e;
    exists = e == CF_OK;
    if (exists && c->obj.deleted_date != 0)
        return CF_EDELETED; /* ObjectIsDeletedButRecoverable */
    v->seq = exists ? c->obj.latest_seq + 1 : 1;
    if (!exists) {
        memset(&c->obj, 0, sizeof(c->obj));
        c->obj.vault_id = c->v->id;
        snprintf(c->obj.name, sizeof(c->obj.name), "%.*s", CF_STR_FMT(c->name));
        memcpy(c->obj.name_lc, c->name_lc, sizeof(c->obj.name_lc));
    }
    c->obj.latest_seq = v->seq;
    memcpy(c->obj.latest_version, v->version, sizeof(c->obj.latest_version));
    e = exists ? cf_store_key_obj_update(t, &c->obj) : cf_store_key_obj_insert(t, &c->obj);
    if (e)
        return e;
    v->object_id = c->obj.id;
    e = cf_store_key_ver_insert(t, v);
    if (!e && c->hsm_id) { /* the row now holds the token object: keys_hsm.c */
        int64_t refs = 0;
        e = cf_key_hsm_ref(t, c->hsm_id, +1, false, &refs);
    }
    if (!e) /* the event commits with the version (vault.h) */
        e = cf_vault_emit(c->svc, t, "KeyNewVersionCreated", c->v->id, c->v->name, "Key",
                          c->obj.name, v->version, v->nbf, v->exp);
    return e;
}

/* Fills the key columns of c->ver from k (type, size, curve, public JWK), seals its private
 * part under the vault's data key, gives it a new version id and default key_ops. */
static cf_err fill_from_key(struct cf_key_ctx *c, const struct cf_kvkey *k)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[KEY_AAD_MAX];
    struct cf_secret *blob = NULL;
    struct cf_buf jwk;
    struct cf_jw w;
    enum cf_kty kty = cf_kvkey_type(k);
    cf_err e;

    snprintf(c->ver.kty, sizeof(c->ver.kty), "%s",
             kty == CF_KTY_RSA  ? "RSA"
             : kty == CF_KTY_EC ? "EC"
                                : "oct");
    c->ver.key_size = kty == CF_KTY_EC ? 0 : cf_kvkey_bits(k);
    snprintf(c->ver.crv, sizeof(c->ver.crv), "%s",
             kty == CF_KTY_EC ? cf_crv_name(cf_kvkey_curve(k)) : "");
    c->ver.key_ops = default_ops(c->ver.kty);
    c->ver.enabled = true;
    c->ver.created = c->ver.updated = c->now;
    e = new_version(c->ver.version, cf_clock_ms(c->svc->clock));
    if (e)
        return e;
    cf_buf_init(&jwk, JWK_MAX);
    cf_jw_init(&w, &jwk);
    cf_jw_obj_begin(&w);
    e = cf_kvkey_write_public_jwk(k, false, &w);
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (!e) {
        free(c->ver.public_jwk);
        c->ver.public_jwk = cf_buf_detach(&jwk, NULL);
        if (!c->ver.public_jwk)
            e = CF_ENOMEM;
    }
    cf_buf_release(&jwk);
    if (!e)
        e = cf_kvkey_to_blob(k, &blob);
    if (!e)
        e = cf_vault_dek(c->svc, c->v, dek);
    if (!e) {
        cf_buf_reset(&c->ver.priv);
        e = cf_aead_seal(dek, aad, cf_key_aad(aad, c->v->id, c->name_lc, c->ver.version), blob->p,
                         blob->len, &c->ver.priv);
        cf_wipe(dek, sizeof(dek));
    }
    cf_secret_free(blob);
    return e;
}

/* The common end of a new version: apply the input, write, hand the result over. */
static cf_err add_version(struct cf_key_ctx *c, const struct cf_kvkey *k,
                          const struct cf_key_input *in, bool imported, struct cf_key_meta *out,
                          char *why, size_t whysz)
{
    cf_err e = cf_key_refuse_managed(c->svc, c->v, c->name_lc); /* a certificate's key */

    if (!e && k) /* NULL: an HSM key, whose columns hsm_fill wrote */
        e = fill_from_key(c, k);
    c->ver.imported = imported;
    if (!e)
        e = apply_input(&c->ver, in, why, whysz);
    if (!e) {
        e = cf_store_write(c->svc->store, new_version_fn, c);
        /* after the commit (or the attempt): kcache.c's rule. The new version is the latest,
         * so "latest" entries of the name are stale now. */
        cf_kcache_forget(c->svc->kcache, c->v->id, c->name_lc);
    }
    if (!e)
        cf_key_meta_take(out, &c->obj, &c->ver);
    return e;
}

/* ---------------- create, import ---------------- */

static bool has_hsm_suffix(const char *kty)
{
    return cf_key_kty_is_hsm(kty);
}

bool cf_key_kty_is_hsm(const char *kty)
{
    size_t n = strlen(kty);
    return n > 4 && strcmp(kty + n - 4, "-HSM") == 0;
}

/* ---------------- HSM-protected keys (the token's operations: vault.h) ----------------
 * Such a version keeps kty "RSA-HSM" / "EC-HSM" / "oct-HSM", its public JWK, and in priv the
 * token handle HSM_TAG || id sealed under the vault's data key with the version's AAD (so a
 * handle cannot be moved to another key's row). Its operations are never cached: each reads
 * the row, applies the state rules and asks the token. */

void cf_vault_svc_set_hsm(struct cf_vault_svc *svc, struct cf_hsm *h,
                          const struct cf_vault_hsm_ops *ops)
{
    if (!svc)
        return;
    svc->hsm = ops ? h : NULL;
    svc->hsm_ops = h ? ops : NULL;
}

/* The token handle of an HSM version (c->ver.priv, sealed). */
static cf_err hsm_handle(struct cf_key_ctx *c, const struct cf_buf *sealed, const char *version,
                         unsigned char id[CF_VAULT_HSM_ID_LEN])
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[KEY_AAD_MAX];
    struct cf_secret *blob = NULL;
    cf_err e = cf_vault_dek(c->svc, c->v, dek);

    if (e)
        return e;
    e = cf_aead_open(dek, aad, cf_key_aad(aad, c->v->id, c->name_lc, version), sealed->data,
                     sealed->len, &blob);
    cf_wipe(dek, sizeof(dek));
    if (!e && (blob->len != HSM_BLOB_LEN || memcmp(blob->p, HSM_TAG, HSM_TAG_LEN) != 0))
        e = CF_ECORRUPT;
    if (!e)
        memcpy(id, (const unsigned char *)blob->p + HSM_TAG_LEN, CF_VAULT_HSM_ID_LEN);
    else
        cf_error("vault: an HSM key version in vault %lld does not open", (long long)c->v->id);
    cf_secret_free(blob);
    return e ? CF_ECORRUPT : CF_OK;
}

/* The columns of a new HSM version of type base-HSM whose token object is id (c->ver's public
 * JWK is already set): attributes as fill_from_key, a new version id, and in priv the handle
 * HSM_TAG || id sealed with the version's AAD. Generated and imported keys share it, so an
 * imported one is indistinguishable from a generated one in the store. */
static cf_err hsm_seal_version(struct cf_key_ctx *c, const char *base, int size, const char *crv,
                               const unsigned char id[CF_VAULT_HSM_ID_LEN])
{
    unsigned char dek[CF_AEAD_KEY_LEN], blob[HSM_BLOB_LEN];
    char aad[KEY_AAD_MAX];
    cf_err e;

    snprintf(c->ver.kty, sizeof(c->ver.kty), "%s-HSM", base);
    c->ver.key_size = size;
    snprintf(c->ver.crv, sizeof(c->ver.crv), "%s", crv ? crv : "");
    c->ver.key_ops = default_ops(c->ver.kty);
    c->ver.enabled = true;
    c->ver.created = c->ver.updated = c->now;
    if ((e = new_version(c->ver.version, cf_clock_ms(c->svc->clock))) ||
        (e = cf_vault_dek(c->svc, c->v, dek)))
        return e;
    memcpy(blob, HSM_TAG, HSM_TAG_LEN);
    memcpy(blob + HSM_TAG_LEN, id, CF_VAULT_HSM_ID_LEN);
    cf_buf_reset(&c->ver.priv);
    e = cf_aead_seal(dek, aad, cf_key_aad(aad, c->v->id, c->name_lc, c->ver.version), blob,
                     sizeof(blob), &c->ver.priv);
    cf_wipe(dek, sizeof(dek));
    cf_wipe(blob, sizeof(blob));
    return e;
}

/* Generates the key of spec (kty with -HSM) on the token under a fresh id and fills c->ver
 * as fill_from_key does. On failure nothing stays on the token. */
static cf_err hsm_fill(struct cf_key_ctx *c, const struct cf_key_spec *spec,
                       unsigned char id[CF_VAULT_HSM_ID_LEN], bool *made, char *why, size_t whysz)
{
    const struct cf_vault_hsm_ops *ops = c->svc->hsm_ops;
    char base[8];
    const char *crv = spec->crv && spec->crv[0] ? spec->crv : "P-256";
    int size = spec->key_size;
    struct cf_buf jwk;
    struct cf_jw w;
    cf_err e;

    *made = false;
    snprintf(base, sizeof(base), "%.*s", (int)(strlen(spec->kty) - 4), spec->kty);
    if (strcmp(base, "RSA") == 0 && size == 0)
        size = 2048;
    if (strcmp(base, "oct") == 0 && size == 0)
        size = 256;
    if (strcmp(base, "RSA") != 0 && strcmp(base, "EC") != 0 && strcmp(base, "oct") != 0)
        return bad(why, whysz, "Invalid key type %.32s: use RSA-HSM, EC-HSM or oct-HSM.",
                   spec->kty);
    if (strcmp(base, "RSA") == 0 &&
        (spec->public_exponent < 0 || spec->public_exponent > UINT32_MAX ||
         (spec->public_exponent && (spec->public_exponent < 3 || !(spec->public_exponent & 1)))))
        return bad(why, whysz, "Invalid public exponent: it must be an odd number >= 3.");
    if ((e = cf_random(id, CF_VAULT_HSM_ID_LEN)))
        return e;
    cf_buf_init(&jwk, JWK_MAX);
    cf_jw_init(&w, &jwk);
    cf_jw_obj_begin(&w);
    e = ops->generate(c->svc->hsm, base, strcmp(base, "EC") == 0 ? 0 : size,
                      (uint32_t)spec->public_exponent, strcmp(base, "EC") == 0 ? crv : NULL, id, &w,
                      why, whysz);
    *made = e == CF_OK;
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (!e) {
        free(c->ver.public_jwk);
        if (!(c->ver.public_jwk = cf_buf_detach(&jwk, NULL)))
            e = CF_ENOMEM;
    }
    cf_buf_release(&jwk);
    if (e)
        return e;
    return hsm_seal_version(c, base, strcmp(base, "EC") == 0 ? 0 : size,
                            strcmp(base, "EC") == 0 ? crv : "", id);
}

/* A new HSM version of c's name: generate on the token, write; the token objects go again
 * when the write fails. */
static cf_err hsm_add_version(struct cf_key_ctx *c, const struct cf_key_spec *spec,
                              const struct cf_key_input *in, struct cf_key_meta *out, char *why,
                              size_t whysz)
{
    unsigned char id[CF_VAULT_HSM_ID_LEN];
    bool made = false;
    cf_err e = cf_key_refuse_managed(c->svc, c->v, c->name_lc);

    if (!e)
        e = hsm_fill(c, spec, id, &made, why, whysz);
    c->hsm_id = id;
    if (!e)
        e = add_version(c, NULL, in, false, out, why, whysz);
    c->hsm_id = NULL;
    if (e && made && c->svc->hsm_ops->destroy(c->svc->hsm, id) != CF_OK)
        cf_warn("vault: an HSM key of a failed create stays on the token");
    return e;
}

/* The 400 for an -HSM type on a server without a token: create and import answer alike. */
static cf_err no_hsm(const char *kty, char *why, size_t whysz)
{
    return bad(why, whysz,
               "Key type %.16s needs a hardware security module, and this server has none "
               "configured: use %.*s for a software-protected key.",
               kty, (int)(strlen(kty) - 4), kty);
}

/* An imported key (k, parsed and checked by cf_kvkey_from_jwk) put on the token under a fresh
 * id (svc->hsm_import: sensitive, never extractable), then written as a new version exactly
 * like a generated one - kty base-HSM, the token's public JWK, the sealed handle, one
 * reference on the object (new_version_fn). The software copy stays the caller's to free:
 * nothing of it is stored. A failed write takes the object off the token again. */
static cf_err hsm_import_version(struct cf_key_ctx *c, const struct cf_kvkey *k,
                                 const struct cf_key_input *in, struct cf_key_meta *out, char *why,
                                 size_t whysz)
{
    struct cf_vault_svc *svc = c->svc;
    unsigned char id[CF_VAULT_HSM_ID_LEN];
    bool ec = cf_kvkey_type(k) == CF_KTY_EC, made = false;
    struct cf_buf jwk;
    struct cf_jw w;
    cf_err e = cf_key_refuse_managed(svc, c->v, c->name_lc); /* before the token is touched */

    if (!e)
        e = cf_random(id, sizeof(id));
    if (e)
        return e;
    cf_buf_init(&jwk, JWK_MAX);
    cf_jw_init(&w, &jwk);
    cf_jw_obj_begin(&w);
    e = svc->hsm_import(svc->hsm, k, id, &w, why, whysz);
    made = e == CF_OK;
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (!e) {
        free(c->ver.public_jwk);
        if (!(c->ver.public_jwk = cf_buf_detach(&jwk, NULL)))
            e = CF_ENOMEM;
    }
    cf_buf_release(&jwk);
    if (!e)
        e = hsm_seal_version(c, ec ? "EC" : "RSA", ec ? 0 : cf_kvkey_bits(k),
                             ec ? cf_crv_name(cf_kvkey_curve(k)) : "", id);
    c->hsm_id = id;
    if (!e)
        e = add_version(c, NULL, in, true, out, why, whysz);
    c->hsm_id = NULL;
    if (e && made && svc->hsm_ops->destroy(svc->hsm, id) != CF_OK)
        cf_warn("vault: an HSM key of a failed import stays on the token");
    cf_wipe(id, sizeof(id));
    return e;
}

static cf_err generate(const struct cf_key_spec *spec, struct cf_kvkey **k, char *why, size_t whysz)
{
    const char *kty = spec->kty ? spec->kty : "";
    enum cf_crv crv = CF_CRV_P256;
    int size = spec->key_size;

    if (has_hsm_suffix(kty))
        return no_hsm(kty, why, whysz);
    if (strcmp(kty, "RSA") == 0) {
        if (size == 0)
            size = 2048;
        if (size != 2048 && size != 3072 && size != 4096)
            return bad(why, whysz, "Invalid key size %d for RSA keys: use 2048, 3072 or 4096.",
                       size);
        if (spec->public_exponent < 0 || spec->public_exponent > UINT32_MAX ||
            (spec->public_exponent && (spec->public_exponent < 3 || !(spec->public_exponent & 1))))
            return bad(why, whysz, "Invalid public exponent: it must be an odd number >= 3.");
        return cf_kvkey_generate_rsa(size, (uint32_t)spec->public_exponent, k);
    }
    if (strcmp(kty, "EC") == 0) {
        if (spec->crv && !cf_crv_parse(cf_str_from(spec->crv), &crv))
            return bad(why, whysz, "Invalid curve name %.32s: use P-256, P-384, P-521 or P-256K.",
                       spec->crv);
        return cf_kvkey_generate_ec(crv, k);
    }
    if (strcmp(kty, "oct") == 0) {
        if (size == 0)
            size = 256;
        if (size != 128 && size != 192 && size != 256)
            return bad(why, whysz, "Invalid key size %d for oct keys: use 128, 192 or 256.", size);
        return cf_kvkey_generate_oct(size, k);
    }
    return bad(why, whysz, "Invalid key type %.32s: use RSA, EC or oct.", kty);
}

cf_err cf_key_create(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     const struct cf_key_spec *spec, const struct cf_key_input *in,
                     struct cf_key_meta *out, char *why, size_t whysz)
{
    struct cf_kvkey *k = NULL;
    struct cf_key_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
    if (why && whysz)
        why[0] = '\0';
    e = cf_key_ctx_init(&c, svc, v, name);
    if (!e && (!spec || !out))
        e = CF_EINVAL;
    if (!e && spec->kty && has_hsm_suffix(spec->kty) && svc->hsm) {
        e = hsm_add_version(&c, spec, in, out, why, whysz);
        goto out;
    }
    if (!e)
        e = generate(spec, &k, why, whysz);
    if (!e)
        e = add_version(&c, k, in, false, out, why, whysz);
out:
    cf_kvkey_free(k);
    cf_key_ctx_release(&c);
    return e;
}

cf_err cf_key_import(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     const struct cf_json *jwk, bool hsm, const struct cf_key_input *in,
                     struct cf_key_meta *out, char *why, size_t whysz)
{
    struct cf_kvkey *k = NULL;
    const char *kty;
    char hkty[16];
    bool want_hsm;
    size_t kn;
    struct cf_key_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out));
    if (why && whysz)
        why[0] = '\0';
    e = cf_key_ctx_init(&c, svc, v, name);
    if (!e && !out)
        e = CF_EINVAL;
    if (e)
        goto out;
    kty = cf_json_str(cf_json_get(jwk, "kty"), NULL);
    if (cf_json_type(jwk) != CF_JSON_OBJECT || !kty)
        e = bad(why, whysz, "The key to import must be a JSON Web Key with a 'kty'.");
    else if (cf_json_get(jwk, "key_hsm"))
        e = bad(why, whysz,
                "BYOK import ('key_hsm', a key wrapped for a vendor HSM) is not supported: send "
                "the private key's JWK members instead.");
    if (e)
        goto out;
    /* "Hsm": true or an -HSM kty ask for the token; the JWK's own type decides the rest */
    want_hsm = hsm || has_hsm_suffix(kty);
    kn = has_hsm_suffix(kty) ? strlen(kty) - 4 : strlen(kty);
    snprintf(hkty, sizeof(hkty), "%.*s-HSM", (int)(kn < 8 ? kn : 8), kty);
    if ((kn != 3 || strncmp(kty, "RSA", 3) != 0) && (kn != 2 || strncmp(kty, "EC", 2) != 0) &&
        (kn != 3 || strncmp(kty, "oct", 3) != 0))
        e = bad(why, whysz, "Invalid key type %.32s: use RSA, EC or oct (or their -HSM types).",
                kty);
    else if (want_hsm && (!svc->hsm || !svc->hsm_ops))
        e = no_hsm(hkty, why, whysz);
    else if (want_hsm && strcmp(hkty, "oct-HSM") == 0)
        e = bad(why, whysz,
                "An oct-HSM key cannot be imported: this server's hardware security module "
                "takes RSA and EC keys only. Create an oct-HSM key on the server instead, or "
                "import the key as oct.");
    else if (want_hsm && !svc->hsm_import)
        e = bad(why, whysz,
                "This server's hardware security module cannot import keys: use %.*s for a "
                "software-protected key.",
                (int)kn, kty);
    if (!e) {
        e = cf_kvkey_from_jwk(jwk, &k, why, whysz);
        if (e == CF_EINVAL)
            e = bad(why, whysz, "The key to import is not a valid private JSON Web Key.");
    }
    if (!e && want_hsm)
        e = hsm_import_version(&c, k, in, out, why, whysz);
    else if (!e)
        e = add_version(&c, k, in, true, out, why, whysz);
out:
    cf_kvkey_free(k);
    cf_key_ctx_release(&c);
    return e;
}

/* ---------------- get, update ---------------- */

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    cf_err e = cf_key_find_obj(t, c, false);
    return e ? e : find_ver(t, c);
}

/* out from a cached entry: its texts copied (out owns them). */
static cf_err meta_from_ent(struct cf_key_meta *out, const struct cf_kcache_ent *ent)
{
    cf_err e = CF_OK;

    meta_fill(out, &ent->obj, &ent->ver);
    out->public_jwk = dup_opt(ent->ver.public_jwk, &e);
    out->tags_json = dup_opt(ent->ver.tags_json, &e);
    out->release_policy = dup_opt(ent->ver.release_policy, &e);
    return e;
}

/* GET: the cached version's metadata, or a store read whose result is cached (kcache.c). */
cf_err cf_key_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                  struct cf_str version, struct cf_key_meta *out)
{
    struct cf_kcache_ent *ent = NULL;
    struct cf_key_ctx c;
    uint64_t gen = 0;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out));
    e = cf_key_ctx_init(&c, svc, v, name);
    if (!e && (!set_version(&c, version) || !out))
        e = out ? CF_ENOTFOUND : CF_EINVAL;
    if (e)
        goto out;
    ent = cf_kcache_get(svc->kcache, v->id, c.name_lc, c.version, CF_KCACHE_META, &gen);
    if (ent) {
        e = meta_from_ent(out, ent);
        goto out;
    }
    e = cf_store_read(svc->store, get_fn, &c);
    if (e)
        goto out;
    if (cf_kcache_ent_new(v, &c.obj, &c.ver, NULL, &ent) == CF_OK)
        cf_kcache_put(svc->kcache, gen, ent); /* without memory we still answer */
    cf_key_meta_take(out, &c.obj, &c.ver);
out:
    if (e && out) {
        cf_key_meta_release(out);
        memset(out, 0, sizeof(*out));
    }
    cf_kcache_unref(ent);
    cf_key_ctx_release(&c);
    return e;
}

static cf_err update_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    cf_err e = cf_key_find_obj(t, c, false);

    if (!e)
        e = find_ver(t, c);
    if (!e)
        e = apply_input(&c->ver, c->in, c->why, c->whysz);
    if (e)
        return e;
    c->ver.updated = c->now;
    return cf_store_key_ver_update(t, &c->ver);
}

/* The common end of a write to one name: commit fn, drop the cached versions (after the
 * commit: see kcache.c), hand the resulting metadata over. */
static cf_err write_and_take(struct cf_key_ctx *c, cf_store_fn fn, struct cf_key_meta *out)
{
    cf_err e = cf_key_refuse_managed(c->svc, c->v, c->name_lc); /* a certificate's key */

    if (!e)
        e = cf_store_write(c->svc->store, fn, c);
    cf_kcache_forget(c->svc->kcache, c->v->id, c->name_lc);
    if (!e && out)
        cf_key_meta_take(out, &c->obj, &c->ver);
    cf_key_ctx_release(c);
    return e;
}

cf_err cf_key_update(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str version, const struct cf_key_input *in, struct cf_key_meta *out,
                     char *why, size_t whysz)
{
    static const struct cf_key_input nothing;
    struct cf_key_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out));
    if (why && whysz)
        why[0] = '\0';
    e = cf_key_ctx_init(&c, svc, v, name);
    if (!e && !set_version(&c, version))
        e = CF_ENOTFOUND;
    if (e) {
        cf_key_ctx_release(&c);
        return e;
    }
    c.in = in ? in : &nothing;
    c.why = why;
    c.whysz = whysz;
    return write_and_take(&c, update_fn, out);
}

/* ---------------- lists ---------------- */

struct list_ctx {
    const struct cf_vault_ref *v;
    bool deleted;
    char after_lc[CF_MAX_NAME_LEN + 1];
    int64_t after_seq;
    char name_lc[CF_MAX_NAME_LEN + 1];
    int max;
    cf_key_cb cb;
    void *arg;
    struct cf_rec_key_obj obj;
    char last[CF_MAX_NAME_LEN + 1];
    int64_t last_seq;
    bool more;
};

static cf_err list_cb(const struct cf_rec_key_obj *o, const struct cf_rec_key_ver *v, void *arg)
{
    struct list_ctx *c = arg;
    struct cf_key_meta m;

    if (!o) {
        o = &c->obj;
        c->last_seq = v->seq;
    } else {
        memcpy(c->last, o->name_lc, sizeof(c->last));
    }
    meta_fill(&m, o, v);
    return c->cb(&m, c->arg);
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct list_ctx *c = arg;
    return cf_store_key_list(t, c->v->id, c->deleted, c->after_lc, c->max, list_cb, c, &c->more);
}

static cf_err list_common(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str after, int max, bool deleted, cf_key_cb cb, void *arg,
                          char next[CF_PAGE_TOKEN_MAX])
{
    struct list_ctx c;
    cf_err e;

    next[0] = '\0';
    if (!svc || !v || !cb)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    e = token_decode(after, c.after_lc);
    if (e)
        return e;
    c.v = v;
    c.deleted = deleted;
    c.max = page_max(max);
    c.cb = cb;
    c.arg = arg;
    e = cf_store_read(svc->store, list_fn, &c);
    if (!e && c.more)
        token_encode(c.last, next);
    return e;
}

cf_err cf_key_list(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str after,
                   int max, cf_key_cb cb, void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    return list_common(svc, v, after, max, false, cb, arg, next);
}

cf_err cf_key_list_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str after, int max, cf_key_cb cb, void *arg,
                           char next[CF_PAGE_TOKEN_MAX])
{
    return list_common(svc, v, after, max, true, cb, arg, next);
}

static cf_err versions_fn(struct cf_store_txn *t, void *arg)
{
    struct list_ctx *c = arg;
    cf_err e = cf_store_key_obj_get(t, c->v->id, c->name_lc, &c->obj);

    if (e == CF_ENOTFOUND || (!e && c->obj.deleted_date != 0))
        return CF_OK; /* unknown or deleted name: an empty list */
    if (e)
        return e;
    return cf_store_key_list_versions(t, c->obj.id, c->after_seq, c->max, false, list_cb, c,
                                      &c->more);
}

cf_err cf_key_list_versions(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                            struct cf_str name, struct cf_str after, int max, cf_key_cb cb,
                            void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    char seq[24];
    struct list_ctx c;
    cf_err e;

    next[0] = '\0';
    if (!svc || !v || !cb)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    e = cf_secret_name_lc(name, c.name_lc);
    if (e)
        return e;
    if (after.len) { /* the token of a versions page is the last seq in decimal, base64url'd */
        struct cf_buf b;
        cf_buf_init(&b, 64);
        e = after.len > 64 ? CF_EBADPARAM : cf_b64_decode(&b, after);
        if (e || !cf_str_to_i64((struct cf_str){b.data, b.len}, &c.after_seq) || c.after_seq < 0)
            e = CF_EBADPARAM;
        cf_buf_release(&b);
        if (e)
            return e;
    }
    c.v = v;
    c.max = page_max(max);
    c.cb = cb;
    c.arg = arg;
    e = cf_store_read(svc->store, versions_fn, &c);
    if (!e && c.more) {
        snprintf(seq, sizeof(seq), "%lld", (long long)c.last_seq);
        token_encode(seq, next);
    }
    return e;
}

/* ---------------- delete, get deleted, recover, purge ---------------- */

static cf_err delete_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    cf_err e = cf_key_find_obj(t, c, false);

    if (e)
        return e;
    c->obj.deleted_date = c->now;
    c->obj.scheduled_purge = c->now + (int64_t)c->v->retention_days * SECONDS_PER_DAY;
    e = cf_store_key_obj_update(t, &c->obj);
    return e ? e : find_ver(t, c);
}

static cf_err get_deleted_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    cf_err e = cf_key_find_obj(t, c, true);
    return e ? e : find_ver(t, c);
}

static cf_err recover_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    cf_err e = cf_key_find_obj(t, c, true);

    if (e)
        return e;
    c->obj.deleted_date = c->obj.scheduled_purge = 0;
    e = cf_store_key_obj_update(t, &c->obj);
    return e ? e : find_ver(t, c);
}

static cf_err purge_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    size_t had = c->hsm_gone ? c->hsm_gone->n : 0;
    cf_err e = cf_key_find_obj(t, c, true);

    if (e)
        return e;
    if (c->v->purge_protection)
        return CF_EPURGEPROTECT;
    /* the versions' token references go in the same transaction as the rows */
    if (c->hsm_gone)
        e = cf_key_hsm_release_object(t, c->svc, &c->obj, c->hsm_gone);
    if (!e)
        e = cf_store_key_obj_delete(t, c->obj.id);
    if (e && c->hsm_gone)
        c->hsm_gone->n = had; /* rolled back */
    return e;
}

/* One name in, one write (or read), one bundle out. */
static cf_err name_op(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      cf_store_fn fn, bool write, struct cf_key_meta *out)
{
    struct cf_key_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out));
    e = cf_key_ctx_init(&c, svc, v, name);
    if (e) {
        cf_key_ctx_release(&c);
        return e;
    }
    if (write)
        return write_and_take(&c, fn, out);
    e = cf_store_read(svc->store, fn, &c);
    if (!e && out)
        cf_key_meta_take(out, &c.obj, &c.ver);
    cf_key_ctx_release(&c);
    return e;
}

cf_err cf_key_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_key_meta *out)
{
    return name_op(svc, v, name, delete_fn, true, out);
}

cf_err cf_key_get_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, struct cf_key_meta *out)
{
    return name_op(svc, v, name, get_deleted_fn, false, out);
}

cf_err cf_key_recover(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_key_meta *out)
{
    return name_op(svc, v, name, recover_fn, true, out);
}

/* Purge; the token objects no other version row holds are destroyed once it is committed
 * (keys_hsm.c). */
cf_err cf_key_purge(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name)
{
    struct cf_key_hsm_gone gone = {0};
    struct cf_key_ctx c;
    cf_err e;

    if (!svc)
        return CF_EINVAL;
    e = cf_key_ctx_init(&c, svc, v, name);
    if (e) {
        cf_key_ctx_release(&c);
        return e;
    }
    c.hsm_gone = &gone;
    e = write_and_take(&c, purge_fn, NULL); /* releases c */
    if (!e)
        cf_key_hsm_destroy_gone(svc, &gone);
    else
        cf_key_hsm_gone_release(&gone);
    return e;
}

/* ---------------- crypto operations ---------------- */

static const char *const opkind_name[] = {"sign",    "verify",  "encrypt",
                                          "decrypt", "wrapKey", "unwrapKey"};
static const unsigned opkind_bit[] = {CF_KEY_OP_SIGN,    CF_KEY_OP_VERIFY, CF_KEY_OP_ENCRYPT,
                                      CF_KEY_OP_DECRYPT, CF_KEY_OP_WRAP,   CF_KEY_OP_UNWRAP};

/* §7. disabled: decrypt, sign and unwrapKey are refused while the public-key operations
 * (encrypt, verify, wrapKey) stay allowed, as on the real service - for RSA and EC; an oct key
 * has no public half, so a disabled oct key does nothing. Outside nbf..exp the operations that
 * produce new protected data (encrypt, wrapKey, sign) are refused; decrypting, unwrapping and
 * verifying old data stay legitimate. */
static cf_err state_rules(const struct cf_rec_key_ver *v, enum cf_key_opkind op, int64_t now,
                          enum cf_key_refusal *why)
{
    bool public_op = op == CF_KEY_ENCRYPT || op == CF_KEY_VERIFY || op == CF_KEY_WRAP;
    bool produces = op == CF_KEY_ENCRYPT || op == CF_KEY_WRAP || op == CF_KEY_SIGN;

    if (!v->enabled && (!public_op || strncmp(v->kty, "oct", 3) == 0))
        return CF_EDISABLED;
    if (!(v->key_ops & opkind_bit[op])) {
        *why = CF_KEY_REFUSED_OP;
        return CF_EFORBIDDEN;
    }
    if (produces && v->nbf && now < v->nbf) {
        *why = CF_KEY_REFUSED_NOT_YET_VALID;
        return CF_EFORBIDDEN;
    }
    if (produces && v->exp && now >= v->exp) {
        *why = CF_KEY_REFUSED_EXPIRED;
        return CF_EFORBIDDEN;
    }
    return CF_OK;
}

/* The sealed key of c->ver opened into a cf_kvkey. */
static cf_err open_key(struct cf_key_ctx *c, struct cf_kvkey **k)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[KEY_AAD_MAX];
    struct cf_secret *blob = NULL;
    cf_err e = cf_vault_dek(c->svc, c->v, dek);

    if (e)
        return e;
    e = cf_aead_open(dek, aad, cf_key_aad(aad, c->v->id, c->name_lc, c->ver.version),
                     c->ver.priv.data, c->ver.priv.len, &blob);
    cf_wipe(dek, sizeof(dek));
    if (!e)
        e = cf_kvkey_from_blob(blob->p, blob->len, k);
    if (e) {
        cf_error("vault: a key version in vault %lld does not open", (long long)c->v->id);
        e = CF_ECORRUPT;
    }
    cf_secret_free(blob);
    return e;
}

static cf_err run_op(const struct cf_kvkey *k, const struct cf_key_op_args *a,
                     struct cf_key_op_result *res, char *why, size_t whysz)
{
    struct cf_kvkey_sym sym;
    struct cf_str v = a->value;
    const void *p = v.p ? v.p : "";

    memset(&sym, 0, sizeof(sym));
    switch (a->op) {
    case CF_KEY_SIGN:
        return cf_kvkey_sign(k, a->alg, p, v.len, &res->out, why, whysz);
    case CF_KEY_VERIFY:
        return cf_kvkey_verify(k, a->alg, a->digest.p ? a->digest.p : "", a->digest.len, p, v.len,
                               &res->valid, why, whysz);
    case CF_KEY_WRAP:
        return cf_kvkey_wrap(k, a->alg, p, v.len, &res->out, why, whysz);
    case CF_KEY_UNWRAP:
        return cf_kvkey_unwrap(k, a->alg, p, v.len, &res->plain, why, whysz);
    case CF_KEY_ENCRYPT:
    case CF_KEY_DECRYPT:
        break;
    }
    if (a->iv.p) {
        if (a->iv.len > sizeof(sym.iv))
            return bad(why, whysz, "Invalid length of 'iv': %zu bytes.", a->iv.len);
        memcpy(sym.iv, a->iv.p, a->iv.len);
        sym.iv_len = a->iv.len;
    }
    if (a->aad.p) {
        sym.aad = a->aad.p;
        sym.aad_len = a->aad.len;
    }
    if (a->op == CF_KEY_ENCRYPT) {
        cf_err e = cf_kvkey_encrypt_ex(k, a->alg, p, v.len, &sym, &res->out, why, whysz);
        if (!e && cf_kvkey_type(k) == CF_KTY_OCT) {
            memcpy(res->iv, sym.iv, sym.iv_len);
            res->iv_len = sym.iv_len;
            memcpy(res->tag, sym.tag, sym.tag_len);
            res->tag_len = sym.tag_len;
        }
        return e;
    }
    if (a->tag.p) {
        if (a->tag.len != CF_KVKEY_TAG_LEN)
            return bad(why, whysz, "Invalid length of 'tag': %zu bytes, 16 expected.", a->tag.len);
        memcpy(sym.tag, a->tag.p, a->tag.len);
        sym.tag_len = a->tag.len;
    }
    return cf_kvkey_decrypt_ex(k, a->alg, p, v.len, &sym, &res->plain, why, whysz);
}

/* run_op for a key in the token. */
static cf_err run_hsm_op(struct cf_vault_svc *svc, const unsigned char id[CF_VAULT_HSM_ID_LEN],
                         const struct cf_key_op_args *a, struct cf_key_op_result *res, char *why,
                         size_t whysz)
{
    const struct cf_vault_hsm_ops *ops = svc->hsm_ops;
    struct cf_kvkey_sym sym;
    struct cf_str v = a->value;
    const void *p = v.p ? v.p : "";
    cf_err e;

    memset(&sym, 0, sizeof(sym));
    switch (a->op) {
    case CF_KEY_SIGN:
        return ops->sign(svc->hsm, id, a->alg, p, v.len, &res->out, why, whysz);
    case CF_KEY_VERIFY:
        return ops->verify(svc->hsm, id, a->alg, a->digest.p ? a->digest.p : "", a->digest.len, p,
                           v.len, &res->valid, why, whysz);
    case CF_KEY_WRAP:
        return ops->encrypt(svc->hsm, id, a->alg, true, p, v.len, NULL, &res->out, why, whysz);
    case CF_KEY_UNWRAP:
        return ops->decrypt(svc->hsm, id, a->alg, true, p, v.len, NULL, &res->plain, why, whysz);
    case CF_KEY_ENCRYPT:
    case CF_KEY_DECRYPT:
        break;
    }
    if (a->iv.p) {
        if (a->iv.len > sizeof(sym.iv))
            return bad(why, whysz, "Invalid length of 'iv': %zu bytes.", a->iv.len);
        memcpy(sym.iv, a->iv.p, a->iv.len);
        sym.iv_len = a->iv.len;
    }
    if (a->aad.p) {
        sym.aad = a->aad.p;
        sym.aad_len = a->aad.len;
    }
    if (a->op == CF_KEY_ENCRYPT) {
        e = ops->encrypt(svc->hsm, id, a->alg, false, p, v.len, &sym, &res->out, why, whysz);
        if (!e && sym.iv_len) {
            memcpy(res->iv, sym.iv, sym.iv_len);
            res->iv_len = sym.iv_len;
            memcpy(res->tag, sym.tag, sym.tag_len);
            res->tag_len = sym.tag_len;
        }
        return e;
    }
    if (a->tag.p) {
        if (a->tag.len != CF_KVKEY_TAG_LEN)
            return bad(why, whysz, "Invalid length of 'tag': %zu bytes, 16 expected.", a->tag.len);
        memcpy(sym.tag, a->tag.p, a->tag.len);
        sym.tag_len = a->tag.len;
    }
    return ops->decrypt(svc->hsm, id, a->alg, false, p, v.len, &sym, &res->plain, why, whysz);
}

static cf_err op_read_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    cf_err e = cf_key_find_obj(t, c, false);
    return e ? e : find_ver(t, c);
}

/* The opened key of c's version for op, checked against the state rules: a cached entry, or
 * the version read (with its sealed private part), checked, opened and cached. *out is the
 * caller's reference (set whenever the key was found, even when refused). */
static cf_err op_key(struct cf_key_ctx *c, enum cf_key_opkind op, struct cf_key_op_result *res,
                     struct cf_kcache_ent **out, bool *hsm,
                     unsigned char hsm_id[CF_VAULT_HSM_ID_LEN])
{
    struct cf_kcache *kc = c->svc->kcache;
    struct cf_kvkey *k = NULL;
    uint64_t gen;
    cf_err e;

    *out = cf_kcache_get(kc, c->v->id, c->name_lc, c->version, CF_KCACHE_KEY, &gen);
    if (*out) {
        snprintf(res->name, sizeof(res->name), "%s", (*out)->obj.name);
        memcpy(res->version, (*out)->ver.version, sizeof(res->version));
        return state_rules(&(*out)->ver, op, c->now, &res->refused);
    }
    c->with_priv = true;
    e = cf_store_read(c->svc->store, op_read_fn, c);
    if (e)
        return e;
    snprintf(res->name, sizeof(res->name), "%s", c->obj.name);
    memcpy(res->version, c->ver.version, sizeof(res->version));
    e = state_rules(&c->ver, op, c->now, &res->refused);
    if (!e && has_hsm_suffix(c->ver.kty)) { /* never cached: the token holds the key */
        *hsm = true;
        return c->svc->hsm ? hsm_handle(c, &c->ver.priv, c->ver.version, hsm_id)
                           : bad(c->why, c->whysz,
                                 "This key lives in a hardware security module, and this server "
                                 "has none configured.");
    }
    if (!e)
        e = open_key(c, &k);
    if (!e) {
        e = cf_kcache_ent_new(c->v, &c->obj, &c->ver, k, out);
        if (e)
            cf_kvkey_free(k);
        else
            cf_kcache_put(kc, gen, *out);
    }
    return e;
}

cf_err cf_key_operate(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_str version, const struct cf_key_op_args *a,
                      struct cf_key_op_result *res, char *why, size_t whysz)
{
    unsigned char hsm_id[CF_VAULT_HSM_ID_LEN];
    struct cf_kcache_ent *ent = NULL;
    struct cf_key_ctx c;
    bool hsm = false;
    cf_err e;

    if (why && whysz)
        why[0] = '\0';
    e = cf_key_ctx_init(&c, svc, v, name);
    if (!e && (!a || !res || !a->alg || (unsigned)a->op > CF_KEY_UNWRAP))
        e = CF_EINVAL;
    if (e)
        goto out;
    res->refused = CF_KEY_REFUSED_NONE;
    res->valid = false;
    res->iv_len = res->tag_len = 0;
    if (!set_version(&c, version)) {
        e = CF_ENOTFOUND;
        goto out;
    }
    c.why = why;
    c.whysz = whysz;
    e = op_key(&c, a->op, res, &ent, &hsm, hsm_id);
    if (!e && hsm)
        e = run_hsm_op(svc, hsm_id, a, res, why, whysz);
    else if (!e)
        e = run_op(ent->key, a, res, why, whysz);
    cf_wipe(hsm_id, sizeof(hsm_id));
    if (e == CF_EINVAL) /* the crypto layer's "missing parameter" is the caller's doing */
        e = why && why[0] ? CF_EBADPARAM
                          : bad(why, whysz, "Invalid parameters for %s.", opkind_name[a->op]);

out:
    cf_kcache_unref(ent);
    cf_key_ctx_release(&c);
    return e;
}

/* Cheap means tens of microseconds: a public-key RSA operation up to 3072 bits (verify,
 * encrypt, wrap: ~10-40 us) or any P-256 operation (~25-80 us, OpenSSL's nistz256 code), on a
 * software key already opened in the cache. Everything else costs a millisecond or more, or
 * may block: an RSA private-key operation (0.25 ms at 2048 bits, ~5 ms at 4096), P-384/P-521/
 * P-256K (0.3-1.5 ms, generic code), the PKCS#11 token, a store read and a PKCS#8 decode. */
bool cf_key_op_cheap(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str version, enum cf_key_opkind op)
{
    struct cf_kcache_ent *ent = NULL;
    struct cf_key_ctx c;
    bool cheap = false;
    uint64_t gen;

    if (cf_key_ctx_init(&c, svc, v, name) != CF_OK || !set_version(&c, version))
        goto out;
    ent = cf_kcache_get(svc->kcache, v->id, c.name_lc, c.version, CF_KCACHE_KEY, &gen);
    if (!ent || has_hsm_suffix(ent->ver.kty))
        goto out;
    if (strcmp(ent->ver.kty, "EC") == 0)
        cheap = strcmp(ent->ver.crv, "P-256") == 0;
    else if (strcmp(ent->ver.kty, "RSA") == 0)
        cheap = ent->ver.key_size <= 3072 &&
                (op == CF_KEY_VERIFY || op == CF_KEY_ENCRYPT || op == CF_KEY_WRAP);
out:
    cf_kcache_unref(ent);
    cf_key_ctx_release(&c);
    return cheap;
}

/* ---------------- rotation ---------------- */

static cf_err rotate_read_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    cf_err e = cf_key_find_obj(t, c, false);

    if (!e)
        e = find_ver(t, c);
    if (e)
        return e;
    e = cf_store_key_policy_get(t, c->obj.id, &c->pol);
    c->has_pol = e == CF_OK;
    return e == CF_ENOTFOUND ? CF_OK : e;
}

/* Rotates the live key of c (name set): a new key like the latest version. */
static cf_err rotate_ctx(struct cf_key_ctx *c, struct cf_key_meta *out)
{
    struct cf_key_spec spec;
    struct cf_key_input in;
    struct cf_rec_key_ver old;
    struct cf_kvkey *k = NULL;
    struct dur d;
    char why[160], kty[16];
    cf_err e;

    e = cf_store_read(c->svc->store, rotate_read_fn, c);
    if (e)
        return e;
    memset(&spec, 0, sizeof(spec));
    spec.kty = c->ver.kty;
    spec.key_size = c->ver.key_size;
    spec.crv = c->ver.crv[0] ? c->ver.crv : NULL;
    e = has_hsm_suffix(spec.kty) && c->svc->hsm ? CF_OK : generate(&spec, &k, why, sizeof(why));
    if (e) {
        cf_error("vault: rotation of a %s key failed: %s", c->ver.kty, cf_err_name(e));
        return e;
    }
    /* The new version copies the latest one's operations, tags and exportability. add_version
     * rebuilds c->ver from scratch, so the latest version moves to `old`, which in borrows. */
    old = c->ver;
    memset(&c->ver, 0, sizeof(c->ver));
    cf_buf_init(&c->ver.priv, PRIV_MAX);
    memset(&in, 0, sizeof(in));
    in.has_key_ops = true;
    in.key_ops = old.key_ops;
    in.has_tags = old.tags_json != NULL;
    in.tags_json = old.tags_json;
    in.has_release_policy = old.release_policy != NULL;
    in.release_policy = old.release_policy;
    in.has_exportable = true;
    in.exportable = old.exportable;
    if (c->has_pol && c->pol.expiry_time[0] && dur_parse(cf_str_from(c->pol.expiry_time), &d)) {
        in.has_exp = true;
        in.exp = dur_add(c->now, &d, 1);
    }
    if (k) {
        e = add_version(c, k, &in, false, out, why, sizeof(why));
    } else { /* an HSM key: a new key pair in the token */
        snprintf(kty, sizeof(kty), "%s", old.kty);
        spec.kty = kty;
        spec.crv = old.crv[0] ? old.crv : NULL;
        e = hsm_add_version(c, &spec, &in, out, why, sizeof(why));
    }
    cf_rec_key_ver_release(&old);
    cf_kvkey_free(k);
    return e;
}

cf_err cf_key_rotate(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_key_meta *out)
{
    struct cf_key_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out));
    e = cf_key_ctx_init(&c, svc, v, name);
    if (!e && !out)
        e = CF_EINVAL;
    if (!e)
        e = rotate_ctx(&c, out);
    cf_key_ctx_release(&c);
    return e;
}

static void policy_from_rec(struct cf_key_policy *p, const struct cf_rec_key_policy *r)
{
    memset(p, 0, sizeof(*p));
    p->rotate = r->rotate == CF_REC_ROTATE_AFTER_CREATE    ? CF_KEY_TRIGGER_AFTER_CREATE
                : r->rotate == CF_REC_ROTATE_BEFORE_EXPIRY ? CF_KEY_TRIGGER_BEFORE_EXPIRY
                                                           : CF_KEY_TRIGGER_NONE;
    memcpy(p->rotate_dur, r->rotate_dur, sizeof(p->rotate_dur));
    memcpy(p->notify_dur, r->notify_dur, sizeof(p->notify_dur));
    memcpy(p->expiry_time, r->expiry_time, sizeof(p->expiry_time));
    p->created = r->created;
    p->updated = r->updated;
}

static cf_err policy_get_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    cf_err e = cf_key_find_obj(t, c, false);

    if (e)
        return e;
    e = cf_store_key_policy_get(t, c->obj.id, &c->pol);
    c->has_pol = e == CF_OK;
    return e == CF_ENOTFOUND ? CF_OK : e;
}

cf_err cf_key_policy_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                         struct cf_key_policy *out)
{
    struct cf_key_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out));
    e = cf_key_ctx_init(&c, svc, v, name);
    if (!e && !out)
        e = CF_EINVAL;
    if (!e)
        e = cf_store_read(svc->store, policy_get_fn, &c);
    if (!e && c.has_pol)
        policy_from_rec(out, &c.pol);
    else if (!e && svc->notify_days >= 0) /* the implicit default policy: Notify only */
        snprintf(out->notify_dur, sizeof(out->notify_dur), "P%dD",
                 svc->notify_days ? svc->notify_days : 30);
    cf_key_ctx_release(&c);
    return e;
}

void cf_vault_keys_set_notify_lead(struct cf_vault_svc *svc, int days)
{
    if (svc)
        svc->notify_days = days < 0 ? -1 : days; /* 0: the default, as the events module reads it */
}

static cf_err policy_set_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_key_ctx *c = arg;
    struct cf_rec_key_policy old;
    cf_err e = cf_key_find_obj(t, c, false);

    if (e)
        return e;
    c->pol.object_id = c->obj.id;
    c->pol.updated = c->now;
    e = cf_store_key_policy_get(t, c->obj.id, &old);
    c->pol.created = e == CF_OK ? old.created : c->now;
    if (e && e != CF_ENOTFOUND)
        return e;
    return cf_store_key_policy_put(t, &c->pol);
}

cf_err cf_key_policy_set(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                         const struct cf_key_policy *in, struct cf_key_policy *out, char *why,
                         size_t whysz)
{
    struct dur rot, exp, notify;
    bool has_exp;

    memset(&rot, 0, sizeof(rot));
    memset(&exp, 0, sizeof(exp));
    struct cf_key_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out));
    if (why && whysz)
        why[0] = '\0';
    e = cf_key_ctx_init(&c, svc, v, name);
    if (!e && (!in || !out))
        e = CF_EINVAL;
    if (e)
        goto out;
    has_exp = in->expiry_time[0] != '\0';
    if (in->rotate != CF_KEY_TRIGGER_NONE && !dur_parse(cf_str_from(in->rotate_dur), &rot))
        e = bad(why, whysz, "Invalid ISO-8601 duration in the Rotate action's trigger: %.39s",
                in->rotate_dur);
    else if (in->notify_dur[0] && !dur_parse(cf_str_from(in->notify_dur), &notify))
        e = bad(why, whysz, "Invalid ISO-8601 duration in the Notify action's trigger: %.39s",
                in->notify_dur);
    else if (has_exp && !dur_parse(cf_str_from(in->expiry_time), &exp))
        e = bad(why, whysz, "Invalid ISO-8601 duration in 'expiryTime': %.39s", in->expiry_time);
    else if (has_exp && dur_add(c.now, &exp, 1) - c.now < MIN_EXPIRY_DAYS * SECONDS_PER_DAY)
        e = bad(why, whysz, "'expiryTime' must be at least %d days (P%dD).", MIN_EXPIRY_DAYS,
                MIN_EXPIRY_DAYS);
    else if (has_exp && in->rotate == CF_KEY_TRIGGER_BEFORE_EXPIRY &&
             dur_add(c.now, &rot, 1) >= dur_add(c.now, &exp, 1))
        e = bad(why, whysz,
                "The Rotate action's 'timeBeforeExpiry' must be shorter than 'expiryTime'.");
    if (e)
        goto out;
    c.pol.rotate = in->rotate == CF_KEY_TRIGGER_AFTER_CREATE    ? CF_REC_ROTATE_AFTER_CREATE
                   : in->rotate == CF_KEY_TRIGGER_BEFORE_EXPIRY ? CF_REC_ROTATE_BEFORE_EXPIRY
                                                                : CF_REC_ROTATE_NONE;
    if (c.pol.rotate != CF_REC_ROTATE_NONE)
        snprintf(c.pol.rotate_dur, sizeof(c.pol.rotate_dur), "%s", in->rotate_dur);
    snprintf(c.pol.notify_dur, sizeof(c.pol.notify_dur), "%s", in->notify_dur);
    snprintf(c.pol.expiry_time, sizeof(c.pol.expiry_time), "%s", in->expiry_time);
    e = cf_store_write(svc->store, policy_set_fn, &c);
    if (!e)
        policy_from_rec(out, &c.pol);
out:
    cf_key_ctx_release(&c);
    return e;
}

/* ---------------- the janitor ---------------- */

#define ROTATE_PAGE 64

struct due_item {
    int64_t vault_id;
    char name[CF_MAX_NAME_LEN + 1];
};

/* A Notify action that is due: the latest version's exp minus timeBeforeExpiry has passed. */
struct notify_item {
    int64_t vault_id, object_id, nbf, exp;
    char name[CF_MAX_NAME_LEN + 1];
    char version[CF_VERSION_HEX_LEN + 1];
};

struct due_ctx {
    int64_t now, after_id;
    struct due_item items[ROTATE_PAGE];
    size_t n;
    struct notify_item notes[ROTATE_PAGE];
    size_t nnotes;
    bool more;
    struct cf_store_txn *t;
};

/* Notify (azure-kv-security-ops.md §7.1): KeyNearExpiry of the current version once
 * timeBeforeExpiry before its exp. Not once expired: the events scan sends KeyExpired then. */
static void notify_check(struct due_ctx *c, const struct cf_rec_key_obj *o,
                         const struct cf_rec_key_policy *p, const struct cf_rec_key_ver *v)
{
    struct notify_item *it;
    struct dur d;

    if (!p->notify_dur[0] || !v->exp || c->now >= v->exp || c->nnotes == ROTATE_PAGE ||
        !dur_parse(cf_str_from(p->notify_dur), &d) || c->now < dur_add(v->exp, &d, -1))
        return;
    it = &c->notes[c->nnotes++];
    it->vault_id = o->vault_id;
    it->object_id = o->id;
    it->nbf = v->nbf;
    it->exp = v->exp;
    snprintf(it->name, sizeof(it->name), "%s", o->name);
    snprintf(it->version, sizeof(it->version), "%s", v->version);
}

static cf_err due_cb(const struct cf_rec_key_obj *o, const struct cf_rec_key_policy *p, void *arg)
{
    struct due_ctx *c = arg;
    struct cf_rec_key_ver v;
    struct dur d;
    int64_t at = 0;
    cf_err e;

    c->after_id = o->id;
    e = cf_store_key_ver_get(c->t, o->id, o->latest_seq, NULL, false, &v);
    if (e)
        return e == CF_ENOTFOUND ? CF_OK : e;
    notify_check(c, o, p, &v);
    if (!dur_parse(cf_str_from(p->rotate_dur), &d))
        ; /* no Rotate action (or a bad row, validated on write: skipped, not fatal) */
    else if (p->rotate == CF_REC_ROTATE_AFTER_CREATE)
        at = dur_add(v.created, &d, 1);
    else if (v.exp)
        at = dur_add(v.exp, &d, -1);
    cf_rec_key_ver_release(&v);
    if (at && c->now >= at && c->n < ROTATE_PAGE) {
        c->items[c->n].vault_id = o->vault_id;
        snprintf(c->items[c->n].name, sizeof(c->items[0].name), "%s", o->name);
        c->n++;
    }
    return CF_OK;
}

static cf_err due_fn(struct cf_store_txn *t, void *arg)
{
    struct due_ctx *c = arg;
    c->t = t;
    c->n = c->nnotes = 0;
    return cf_store_key_policy_list_rotating(t, c->after_id, ROTATE_PAGE, due_cb, c, &c->more);
}

struct vault_name_ctx {
    int64_t id;
    char name[25];
};

static cf_err vault_name_fn(struct cf_store_txn *t, void *arg)
{
    struct vault_name_ctx *c = arg;
    struct cf_rec_vault rec;
    cf_err e = cf_store_vault_get_by_id(t, c->id, &rec);

    if (e)
        return e;
    snprintf(c->name, sizeof(c->name), "%s", rec.name);
    e = rec.deleted_date ? CF_ENOTFOUND : CF_OK;
    cf_rec_vault_release(&rec);
    return e;
}

static cf_err rotate_item(struct cf_vault_svc *svc, const struct due_item *it)
{
    struct vault_name_ctx vn = {it->vault_id, ""};
    struct cf_vault_ref ref;
    struct cf_key_meta m;
    struct cf_key_ctx c;
    cf_err e = cf_store_read(svc->store, vault_name_fn, &vn);

    if (!e)
        e = cf_vault_resolve(svc, cf_str_from(vn.name), &ref);
    if (e)
        return e == CF_ENOTFOUND ? CF_OK : e; /* the vault went away meanwhile */
    memset(&m, 0, sizeof(m));
    e = cf_key_ctx_init(&c, svc, &ref, cf_str_from(it->name));
    if (!e)
        e = rotate_ctx(&c, &m);
    if (!e)
        cf_info("vault: rotated key %s in vault %s (new version %s)", m.name, ref.name, m.version);
    cf_key_meta_release(&m);
    cf_key_ctx_release(&c);
    return e == CF_ENOTFOUND || e == CF_EDELETED ? CF_OK : e;
}

struct notify_ctx {
    struct cf_vault_svc *svc;
    const struct notify_item *it;
    bool sent;
};

/* The mark is the events scan's own (store_events.h), so a version gets one KeyNearExpiry
 * whichever of the two sees it first; the event commits with the mark. */
static cf_err notify_fn(struct cf_store_txn *t, void *arg)
{
    struct notify_ctx *c = arg;
    const struct notify_item *it = c->it;
    struct vault_name_ctx vn = {it->vault_id, ""};
    bool was_near = false;
    cf_err e = vault_name_fn(t, &vn);

    c->sent = false;
    if (!e)
        e = cf_store_expiry_mark(t, CF_EVENT_KIND_KEY, it->object_id, it->version, true, false,
                                 &was_near, NULL);
    if (!e && !was_near) {
        e = cf_vault_emit(c->svc, t, "KeyNearExpiry", it->vault_id, vn.name, "Key", it->name,
                          it->version, it->nbf, it->exp);
        c->sent = !e;
    }
    return e == CF_ENOTFOUND ? CF_OK : e; /* the vault went away meanwhile */
}

static cf_err notify_item_send(struct cf_vault_svc *svc, const struct notify_item *it)
{
    struct notify_ctx c = {svc, it, false};
    cf_err e = cf_store_write(svc->store, notify_fn, &c);

    if (!e && c.sent)
        cf_info("vault: key %s version %s expires soon: KeyNearExpiry (rotation policy Notify)",
                it->name, it->version);
    return e;
}

#define KEY_PURGE_BATCH 256

struct key_purge_ctx {
    struct cf_vault_svc *svc;
    int64_t now;
    int n;
    struct cf_rec_key_obj objs[KEY_PURGE_BATCH];
    struct cf_key_hsm_gone gone;
};

/* Retention expiry: the expired objects one by one, each releasing its token references in
 * this same transaction (keys_hsm.c); the objects to destroy wait for the commit. */
static cf_err key_purge_fn(struct cf_store_txn *t, void *arg)
{
    struct key_purge_ctx *c = arg;
    cf_err e = cf_store_key_list_expired(t, c->now, c->objs, KEY_PURGE_BATCH, &c->n);

    c->gone.n = 0;
    for (int i = 0; !e && i < c->n; i++) {
        e = cf_key_hsm_release_object(t, c->svc, &c->objs[i], &c->gone);
        if (!e)
            e = cf_store_key_obj_delete(t, c->objs[i].id);
    }
    if (e)
        c->gone.n = 0;
    return e;
}

cf_err cf_vault_keys_rotate_due(struct cf_vault_svc *svc)
{
    struct key_purge_ctx *pc;
    struct due_ctx *c;
    int64_t now;
    cf_err e = CF_OK, first = CF_OK;

    if (!svc)
        return CF_EINVAL;
    pc = calloc(1, sizeof(*pc));
    if (!pc)
        return CF_ENOMEM;
    pc->svc = svc;
    pc->now = cf_vault_now(svc);
    do { /* bounded transactions, so a large backlog does not hold the writer for long */
        pc->n = 0;
        e = cf_store_write(svc->store, key_purge_fn, pc);
        for (int i = 0; !e && i < pc->n; i++)
            cf_kcache_forget(svc->kcache, pc->objs[i].vault_id, pc->objs[i].name_lc);
        if (!e && pc->gone.n)
            cf_key_hsm_destroy_gone(svc, &pc->gone); /* releases the list */
    } while (!e && pc->n == KEY_PURGE_BATCH);
    now = pc->now;
    cf_key_hsm_gone_release(&pc->gone);
    free(pc);
    if (e)
        return e;
    c = calloc(1, sizeof(*c));
    if (!c)
        return CF_ENOMEM;
    c->now = now;
    do {
        e = cf_store_read(svc->store, due_fn, c);
        /* Notify before Rotate: the event names the version that is about to expire. */
        for (size_t i = 0; !e && i < c->nnotes; i++) {
            cf_err ne = notify_item_send(svc, &c->notes[i]);
            if (ne && !first)
                first = ne;
        }
        for (size_t i = 0; !e && i < c->n; i++) {
            cf_err re = rotate_item(svc, &c->items[i]);
            if (re && !first)
                first = re; /* one key failing does not stop the others */
        }
    } while (!e && c->more);
    free(c);
    return e ? e : first;
}
