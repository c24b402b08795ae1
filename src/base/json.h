/* json.h - JSON in and out. jansson stays behind this header (DESIGN.md §2).
 *
 * Output: cf_jw writes straight into a cf_buf (one buffer per response, no tree), handling commas
 * and string escaping. Errors are sticky: check cf_jw_err() once at the end.
 *
 * Input: cf_json_parse builds a read-only tree (strict: rejects duplicate keys, trailing garbage,
 * depth > CF_MAX_JSON_DEPTH, invalid UTF-8). Values returned by the getters are borrowed from
 * the root and live until cf_json_free(root). Getters accept NULL and return NULL/false for a
 * missing key or a wrong type, so validation reads top-down without nesting. */
#ifndef CF_JSON_H
#define CF_JSON_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/str.h"

/* ---- writer ---- */
#define CF_JW_MAX_DEPTH 32
struct cf_jw {
    struct cf_buf *out;
    cf_err err;
    int depth;
    bool first[CF_JW_MAX_DEPTH]; /* no element written yet at this depth */
    bool after_key;
};

void cf_jw_init(struct cf_jw *w, struct cf_buf *out);
void cf_jw_obj_begin(struct cf_jw *w);
void cf_jw_obj_end(struct cf_jw *w);
void cf_jw_arr_begin(struct cf_jw *w);
void cf_jw_arr_end(struct cf_jw *w);
void cf_jw_key(struct cf_jw *w, const char *key);
void cf_jw_str(struct cf_jw *w, const char *s);  /* NULL writes null */
void cf_jw_strn(struct cf_jw *w, const char *s, size_t n);
void cf_jw_int(struct cf_jw *w, int64_t v);
void cf_jw_bool(struct cf_jw *w, bool v);
void cf_jw_null(struct cf_jw *w);
/* Writes already-valid JSON text (e.g. a stored tags object) as one value. */
void cf_jw_raw(struct cf_jw *w, const char *json, size_t n);
/* Shorthands for "key": value. */
void cf_jw_kstr(struct cf_jw *w, const char *key, const char *s);
void cf_jw_kint(struct cf_jw *w, const char *key, int64_t v);
void cf_jw_kbool(struct cf_jw *w, const char *key, bool v);
cf_err cf_jw_err(const struct cf_jw *w);

/* ---- reader ---- */
struct cf_json; /* opaque */

enum cf_json_type {
    CF_JSON_NONE, /* absent (NULL handle) */
    CF_JSON_OBJECT,
    CF_JSON_ARRAY,
    CF_JSON_STRING,
    CF_JSON_INTEGER,
    CF_JSON_REAL,
    CF_JSON_TRUE,
    CF_JSON_FALSE,
    CF_JSON_NULL
};

/* Parses text[0..n). On failure returns CF_EBADJSON and, if errmsg is given, a short reason
 * (position and jansson's text, never the input itself) into errmsg[0..errlen). */
cf_err cf_json_parse(const char *text, size_t n, struct cf_json **out, char *errmsg,
                     size_t errlen) CF_NODISCARD;
void cf_json_free(struct cf_json *root);

enum cf_json_type cf_json_type(const struct cf_json *j);
const struct cf_json *cf_json_get(const struct cf_json *obj, const char *key);
/* String value (UTF-8, may contain NUL: use len) or NULL if not a string. */
const char *cf_json_str(const struct cf_json *j, size_t *len);
/* Integer value; a real with no fraction... is not accepted - only JSON integers. */
bool cf_json_int(const struct cf_json *j, int64_t *out);
/* Integer or real (reals truncated toward zero), for Unix times clients send as floats. */
bool cf_json_number(const struct cf_json *j, int64_t *out);
bool cf_json_bool(const struct cf_json *j, bool *out);
size_t cf_json_size(const struct cf_json *j); /* elements of an array or keys of an object */
const struct cf_json *cf_json_at(const struct cf_json *arr, size_t i);
/* Object iteration: start with *it = NULL; returns false when done. */
bool cf_json_next(const struct cf_json *obj, void **it, const char **key,
                  const struct cf_json **val);
/* Compact serialisation of j appended to out (keys in input order). */
cf_err cf_json_dump(const struct cf_json *j, struct cf_buf *out) CF_NODISCARD;

#endif
