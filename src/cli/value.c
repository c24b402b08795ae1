/* value.c - the CLI's reference-counted value tree: constructors, lookups, JMESPath truthiness
 * and equality, conversion from base/json.h documents and compact serialisation.
 *
 * Invariant: an OBJ never holds two equal keys (cf_val_set replaces). Strings are wiped on
 * free because secret values travel through the tree on their way to stdout. */
#include "base/cf.h"
#include "base/secret.h"
#include "cli/cli.h"

#include <math.h>

static struct cf_val *node(enum cf_val_type t)
{
    struct cf_val *v = calloc(1, sizeof(*v));
    if (v) {
        v->type = t;
        v->refs = 1;
    }
    return v;
}

struct cf_val *cf_val_null(void)
{
    return node(CF_VAL_NULL);
}

struct cf_val *cf_val_bool(bool b)
{
    struct cf_val *v = node(CF_VAL_BOOL);
    if (v)
        v->b = b;
    return v;
}

struct cf_val *cf_val_int(int64_t i)
{
    struct cf_val *v = node(CF_VAL_INT);
    if (v)
        v->i = i;
    return v;
}

struct cf_val *cf_val_real(double d)
{
    struct cf_val *v = node(CF_VAL_REAL);
    if (v)
        v->d = d;
    return v;
}

struct cf_val *cf_val_strn(const char *s, size_t n)
{
    struct cf_val *v = node(CF_VAL_STR);
    if (!v)
        return NULL;
    v->s = malloc(n + 1);
    if (!v->s) {
        free(v);
        return NULL;
    }
    if (n)
        memcpy(v->s, s, n);
    v->s[n] = '\0';
    v->slen = n;
    return v;
}

struct cf_val *cf_val_str(const char *s)
{
    return s ? cf_val_strn(s, strlen(s)) : cf_val_null();
}

struct cf_val *cf_val_arr(void)
{
    return node(CF_VAL_ARR);
}

struct cf_val *cf_val_obj(void)
{
    return node(CF_VAL_OBJ);
}

struct cf_val *cf_val_ref(struct cf_val *v)
{
    if (v)
        v->refs++;
    return v;
}

void cf_val_unref(struct cf_val *v)
{
    if (!v || --v->refs > 0)
        return;
    for (size_t k = 0; k < v->n; k++) {
        cf_val_unref(v->items[k]);
        if (v->keys)
            free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
    if (v->s) {
        cf_wipe(v->s, v->slen);
        free(v->s);
    }
    free(v);
}

static cf_err grow(struct cf_val *c)
{
    size_t ncap;
    struct cf_val **ni;
    if (c->n < c->cap)
        return CF_OK;
    ncap = c->cap ? c->cap * 2 : 8;
    ni = realloc(c->items, ncap * sizeof(*ni));
    if (!ni)
        return CF_ENOMEM;
    c->items = ni;
    if (c->type == CF_VAL_OBJ) {
        char **nk = realloc(c->keys, ncap * sizeof(*nk));
        if (!nk)
            return CF_ENOMEM;
        c->keys = nk;
    }
    c->cap = ncap;
    return CF_OK;
}

cf_err cf_val_push(struct cf_val *arr, struct cf_val *v)
{
    if (!v)
        return CF_ENOMEM;
    if (!arr || arr->type != CF_VAL_ARR) {
        cf_val_unref(v);
        return CF_EINVAL;
    }
    if (grow(arr) != CF_OK) {
        cf_val_unref(v);
        return CF_ENOMEM;
    }
    arr->items[arr->n++] = v;
    return CF_OK;
}

cf_err cf_val_set(struct cf_val *obj, const char *key, struct cf_val *v)
{
    char *k;
    if (!v)
        return CF_ENOMEM;
    if (!obj || obj->type != CF_VAL_OBJ) {
        cf_val_unref(v);
        return CF_EINVAL;
    }
    for (size_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->keys[i], key) == 0) {
            cf_val_unref(obj->items[i]);
            obj->items[i] = v;
            return CF_OK;
        }
    }
    k = strdup(key);
    if (!k || grow(obj) != CF_OK) {
        free(k);
        cf_val_unref(v);
        return CF_ENOMEM;
    }
    obj->keys[obj->n] = k;
    obj->items[obj->n++] = v;
    return CF_OK;
}

struct cf_val *cf_val_get(const struct cf_val *obj, const char *key)
{
    if (!obj || obj->type != CF_VAL_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

struct cf_val *cf_val_at(const struct cf_val *arr, size_t i)
{
    if (!arr || arr->type != CF_VAL_ARR || i >= arr->n)
        return NULL;
    return arr->items[i];
}

struct cf_val *cf_val_path(const struct cf_val *v, const char *dotted)
{
    char part[256];
    const char *p = dotted;
    const struct cf_val *cur = v;

    while (cur && *p) {
        size_t l = strcspn(p, ".");
        if (l >= sizeof(part))
            return NULL;
        memcpy(part, p, l);
        part[l] = '\0';
        cur = cf_val_get(cur, part);
        p += l;
        if (*p == '.')
            p++;
    }
    /* The lookup functions hand out borrowed, mutable nodes; so does this one. */
    return (struct cf_val *)(uintptr_t)cur;
}

bool cf_val_is_str(const struct cf_val *v, const char *s)
{
    return v && v->type == CF_VAL_STR && strcmp(v->s, s) == 0;
}

bool cf_val_truthy(const struct cf_val *v)
{
    if (!v)
        return false;
    switch (v->type) {
    case CF_VAL_NULL: return false;
    case CF_VAL_BOOL: return v->b;
    case CF_VAL_STR: return v->slen > 0;
    case CF_VAL_ARR:
    case CF_VAL_OBJ: return v->n > 0;
    case CF_VAL_INT:
    case CF_VAL_REAL: return true;
    }
    return false;
}

static bool is_num(const struct cf_val *v)
{
    return v && (v->type == CF_VAL_INT || v->type == CF_VAL_REAL);
}

bool cf_val_equal(const struct cf_val *a, const struct cf_val *b)
{
    if (!a || !b)
        return a == b;
    if (is_num(a) && is_num(b)) {
        if (a->type == CF_VAL_INT && b->type == CF_VAL_INT)
            return a->i == b->i;
        return (a->type == CF_VAL_INT ? (double)a->i : a->d) ==
               (b->type == CF_VAL_INT ? (double)b->i : b->d);
    }
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case CF_VAL_NULL: return true;
    case CF_VAL_BOOL: return a->b == b->b;
    case CF_VAL_STR: return a->slen == b->slen && memcmp(a->s, b->s, a->slen) == 0;
    case CF_VAL_ARR:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!cf_val_equal(a->items[i], b->items[i]))
                return false;
        return true;
    case CF_VAL_OBJ:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!cf_val_equal(a->items[i], cf_val_get(b, a->keys[i])))
                return false;
        return true;
    default: return false;
    }
}

struct cf_val *cf_val_from_json(const struct cf_json *j)
{
    struct cf_val *v = NULL;
    int64_t i;
    size_t len;
    const char *s;

    switch (cf_json_type(j)) {
    case CF_JSON_NONE:
    case CF_JSON_NULL: return cf_val_null();
    case CF_JSON_TRUE: return cf_val_bool(true);
    case CF_JSON_FALSE: return cf_val_bool(false);
    case CF_JSON_INTEGER:
        if (!cf_json_int(j, &i))
            return NULL;
        return cf_val_int(i);
    case CF_JSON_REAL: {
        /* The reader exposes reals only as text through dump; parse that back. */
        struct cf_buf b;
        cf_buf_init(&b, 64);
        if (cf_json_dump(j, &b) != CF_OK) {
            cf_buf_release(&b);
            return NULL;
        }
        v = cf_val_real(strtod(b.data, NULL));
        cf_buf_release(&b);
        return v;
    }
    case CF_JSON_STRING:
        s = cf_json_str(j, &len);
        return cf_val_strn(s, len);
    case CF_JSON_ARRAY:
        v = cf_val_arr();
        for (size_t k = 0; v && k < cf_json_size(j); k++) {
            if (cf_val_push(v, cf_val_from_json(cf_json_at(j, k))) != CF_OK) {
                cf_val_unref(v);
                return NULL;
            }
        }
        return v;
    case CF_JSON_OBJECT: {
        void *it = NULL;
        const char *key;
        const struct cf_json *val;
        v = cf_val_obj();
        while (v && cf_json_next(j, &it, &key, &val)) {
            if (cf_val_set(v, key, cf_val_from_json(val)) != CF_OK) {
                cf_val_unref(v);
                return NULL;
            }
        }
        return v;
    }
    }
    return NULL;
}

cf_err cf_val_parse(const char *text, size_t n, struct cf_val **out)
{
    struct cf_json *j = NULL;
    cf_err err = cf_json_parse(text, n, &j, NULL, 0);
    *out = NULL;
    if (err != CF_OK)
        return err;
    *out = cf_val_from_json(j);
    cf_json_free(j);
    return *out ? CF_OK : CF_ENOMEM;
}

void cf_val_fmt_real(double d, char *out, size_t n)
{
    if (isnan(d)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(out, n, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    /* Shortest representation that reads back to the same double, as Python's repr. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".eEn")) {
        size_t l = strlen(out);
        if (l + 2 < n)
            memcpy(out + l, ".0", 3);
    }
}

static void dump(const struct cf_val *v, struct cf_jw *w)
{
    char t[40];
    switch (v->type) {
    case CF_VAL_NULL: cf_jw_null(w); break;
    case CF_VAL_BOOL: cf_jw_bool(w, v->b); break;
    case CF_VAL_INT: cf_jw_int(w, v->i); break;
    case CF_VAL_REAL:
        cf_val_fmt_real(v->d, t, sizeof(t));
        cf_jw_raw(w, t, strlen(t));
        break;
    case CF_VAL_STR: cf_jw_strn(w, v->s, v->slen); break;
    case CF_VAL_ARR:
        cf_jw_arr_begin(w);
        for (size_t i = 0; i < v->n; i++)
            dump(v->items[i], w);
        cf_jw_arr_end(w);
        break;
    case CF_VAL_OBJ:
        cf_jw_obj_begin(w);
        for (size_t i = 0; i < v->n; i++) {
            cf_jw_key(w, v->keys[i]);
            dump(v->items[i], w);
        }
        cf_jw_obj_end(w);
        break;
    }
}

cf_err cf_val_dump(const struct cf_val *v, struct cf_buf *out)
{
    struct cf_jw w;
    if (!v)
        return CF_EINVAL;
    cf_jw_init(&w, out);
    dump(v, &w);
    return cf_jw_err(&w);
}
