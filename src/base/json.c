/* json.c - the streaming writer and the jansson-backed reader. */
#include "base/cf.h"
#include "base/json.h"

#include "base/secret.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>

/* jansson's allocations hold request bodies - secret values among them - so they are wiped on
 * free. Each block carries its size in a 16-byte header (keeps malloc's alignment). The
 * allocator is process-wide in jansson; it is installed once, before the first parse. */
#define WIPE_HDR 16

static void *wiping_malloc(size_t n)
{
    unsigned char *p = malloc(n + WIPE_HDR);
    if (!p)
        return NULL;
    memcpy(p, &n, sizeof(n));
    return p + WIPE_HDR;
}

static void wiping_free(void *q)
{
    unsigned char *p;
    size_t n;
    if (!q)
        return;
    p = (unsigned char *)q - WIPE_HDR;
    memcpy(&n, p, sizeof(n));
    cf_wipe(q, n);
    free(p);
}

static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;

static void install_allocator(void)
{
    json_set_alloc_funcs(wiping_malloc, wiping_free);
}

/* ---- writer ---- */

void cf_jw_init(struct cf_jw *w, struct cf_buf *out)
{
    w->out = out;
    w->err = CF_OK;
    w->depth = 0;
    w->first[0] = true;
    w->after_key = false;
}

static void put(struct cf_jw *w, const char *p, size_t n)
{
    if (!w->err)
        w->err = cf_buf_append(w->out, p, n);
}

/* Emits the separating comma for a new element at the current depth. */
static void sep(struct cf_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        put(w, ",", 1);
    w->first[w->depth] = false;
}

static void jw_open(struct cf_jw *w, char c)
{
    sep(w);
    put(w, &c, 1);
    if (w->depth + 1 >= CF_JW_MAX_DEPTH) {
        w->err = CF_ETOOBIG;
        return;
    }
    w->first[++w->depth] = true;
}

static void jw_close(struct cf_jw *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    put(w, &c, 1);
}

void cf_jw_obj_begin(struct cf_jw *w)
{
    jw_open(w, '{');
}
void cf_jw_obj_end(struct cf_jw *w)
{
    jw_close(w, '}');
}
void cf_jw_arr_begin(struct cf_jw *w)
{
    jw_open(w, '[');
}
void cf_jw_arr_end(struct cf_jw *w)
{
    jw_close(w, ']');
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Writes s[0..n) as a JSON string. Bytes that are not well-formed UTF-8 (request text echoed in
 * an error message, a restored value) become U+FFFD, so the output is always valid JSON - a
 * client's parser (and ours) rejects invalid UTF-8. */
static void put_escaped(struct cf_jw *w, const char *s, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t start = 0;

    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char u[6];
        if (c >= 0x80) {
            size_t len = utf8_seq((const unsigned char *)s + i, n - i);
            if (len) {
                i += len - 1;
                continue;
            }
            put(w, s + start, i - start);
            put(w, "\\ufffd", 6);
            start = i + 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, s + start, i - start);
        switch (c) {
        case '"': rep = "\\\""; break;
        case '\\': rep = "\\\\"; break;
        case '\n': rep = "\\n"; break;
        case '\r': rep = "\\r"; break;
        case '\t': rep = "\\t"; break;
        case '\b': rep = "\\b"; break;
        case '\f': rep = "\\f"; break;
        default:
            u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
            u[4] = hx[c >> 4]; u[5] = hx[c & 15];
            put(w, u, 6);
            break;
        }
        if (rep)
            put(w, rep, strlen(rep));
        start = i + 1;
    }
    put(w, s + start, n - start);
    put(w, "\"", 1);
}

void cf_jw_key(struct cf_jw *w, const char *key)
{
    sep(w);
    put_escaped(w, key, strlen(key));
    put(w, ":", 1);
    w->after_key = true;
}

void cf_jw_strn(struct cf_jw *w, const char *s, size_t n)
{
    sep(w);
    put_escaped(w, s, n);
}

void cf_jw_str(struct cf_jw *w, const char *s)
{
    if (!s) {
        cf_jw_null(w);
        return;
    }
    cf_jw_strn(w, s, strlen(s));
}

void cf_jw_int(struct cf_jw *w, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%lld", (long long)v);
    sep(w);
    put(w, t, (size_t)n);
}

void cf_jw_bool(struct cf_jw *w, bool v)
{
    sep(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void cf_jw_null(struct cf_jw *w)
{
    sep(w);
    put(w, "null", 4);
}

void cf_jw_raw(struct cf_jw *w, const char *json, size_t n)
{
    sep(w);
    put(w, json, n);
}

void cf_jw_kstr(struct cf_jw *w, const char *key, const char *s)
{
    cf_jw_key(w, key);
    cf_jw_str(w, s);
}

void cf_jw_kint(struct cf_jw *w, const char *key, int64_t v)
{
    cf_jw_key(w, key);
    cf_jw_int(w, v);
}

void cf_jw_kbool(struct cf_jw *w, const char *key, bool v)
{
    cf_jw_key(w, key);
    cf_jw_bool(w, v);
}

cf_err cf_jw_err(const struct cf_jw *w)
{
    return w->err;
}

/* ---- reader ---- */

/* The opaque handle is the json_t itself; the cast keeps jansson out of every other file. */
static json_t *J(const struct cf_json *j)
{
    /* jansson's getters take non-const pointers though they do not modify; the union keeps
     * -Wcast-qual honest about where constness is dropped: here only. */
    union {
        const struct cf_json *c;
        json_t *m;
    } u = {.c = j};
    return u.m;
}

static size_t depth_of(const json_t *j, size_t limit)
{
    json_t *jm = J((const struct cf_json *)j);
    size_t d = 0, i;
    const char *k;
    json_t *v;

    if (limit == 0)
        return 1;
    if (json_is_object(j)) {
        json_object_foreach(jm, k, v) {
            size_t c = depth_of(v, limit - 1);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    if (json_is_array(j)) {
        json_array_foreach(jm, i, v) {
            size_t c = depth_of(v, limit - 1);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    return 0;
}

cf_err cf_json_parse(const char *text, size_t n, struct cf_json **out, char *errmsg, size_t errlen)
{
    json_error_t jerr;
    json_t *root;

    *out = NULL;
    pthread_once(&alloc_once, install_allocator);
    root = json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        if (errmsg && errlen)
            snprintf(errmsg, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        return CF_EBADJSON;
    }
    if (depth_of(root, CF_MAX_JSON_DEPTH + 1) > CF_MAX_JSON_DEPTH) {
        json_decref(root);
        if (errmsg && errlen)
            snprintf(errmsg, errlen, "JSON nested deeper than %d levels", CF_MAX_JSON_DEPTH);
        return CF_EBADJSON;
    }
    *out = (struct cf_json *)root;
    return CF_OK;
}

void cf_json_free(struct cf_json *root)
{
    if (root)
        json_decref((json_t *)root);
}

enum cf_json_type cf_json_type(const struct cf_json *j)
{
    if (!j)
        return CF_JSON_NONE;
    switch (json_typeof(J(j))) {
    case JSON_OBJECT: return CF_JSON_OBJECT;
    case JSON_ARRAY: return CF_JSON_ARRAY;
    case JSON_STRING: return CF_JSON_STRING;
    case JSON_INTEGER: return CF_JSON_INTEGER;
    case JSON_REAL: return CF_JSON_REAL;
    case JSON_TRUE: return CF_JSON_TRUE;
    case JSON_FALSE: return CF_JSON_FALSE;
    case JSON_NULL: return CF_JSON_NULL;
    }
    return CF_JSON_NONE;
}

const struct cf_json *cf_json_get(const struct cf_json *obj, const char *key)
{
    if (!obj || !json_is_object(J(obj)))
        return NULL;
    return (const struct cf_json *)json_object_get(J(obj), key);
}

const char *cf_json_str(const struct cf_json *j, size_t *len)
{
    if (!j || !json_is_string(J(j)))
        return NULL;
    if (len)
        *len = json_string_length(J(j));
    return json_string_value(J(j));
}

bool cf_json_int(const struct cf_json *j, int64_t *out)
{
    if (!j || !json_is_integer(J(j)))
        return false;
    *out = (int64_t)json_integer_value(J(j));
    return true;
}

bool cf_json_number(const struct cf_json *j, int64_t *out)
{
    double d;
    if (cf_json_int(j, out))
        return true;
    if (!j || !json_is_real(J(j)))
        return false;
    d = json_real_value(J(j));
    if (!(d > -9.2e18 && d < 9.2e18))
        return false;
    *out = (int64_t)d;
    return true;
}

bool cf_json_bool(const struct cf_json *j, bool *out)
{
    if (!j || !json_is_boolean(J(j)))
        return false;
    *out = json_is_true(J(j));
    return true;
}

size_t cf_json_size(const struct cf_json *j)
{
    if (!j)
        return 0;
    if (json_is_array(J(j)))
        return json_array_size(J(j));
    if (json_is_object(J(j)))
        return json_object_size(J(j));
    return 0;
}

const struct cf_json *cf_json_at(const struct cf_json *arr, size_t i)
{
    if (!arr || !json_is_array(J(arr)))
        return NULL;
    return (const struct cf_json *)json_array_get(J(arr), i);
}

bool cf_json_next(const struct cf_json *obj, void **it, const char **key,
                  const struct cf_json **val)
{
    json_t *o = J(obj);
    if (!obj || !json_is_object(o))
        return false;
    *it = *it ? json_object_iter_next(o, *it) : json_object_iter(o);
    if (!*it)
        return false;
    *key = json_object_iter_key(*it);
    *val = (const struct cf_json *)json_object_iter_value(*it);
    return true;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return cf_buf_append(data, buffer, size) ? -1 : 0;
}

cf_err cf_json_dump(const struct cf_json *j, struct cf_buf *out)
{
    if (!j)
        return CF_EINVAL;
    if (json_dump_callback(J(j), dump_cb, out,
                           JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) != 0)
        return CF_ENOMEM;
    return CF_OK;
}
