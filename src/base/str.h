/* str.h - counted string views (not NUL-terminated) and small helpers on them. */
#ifndef CF_STR_H
#define CF_STR_H

#include "base/cf.h"

struct cf_str {
    const char *p;
    size_t len;
};

#define CF_STR(lit) ((struct cf_str){(lit), sizeof(lit) - 1})
#define CF_STR_NULL ((struct cf_str){NULL, 0})
/* For printf: printf("%.*s", CF_STR_FMT(s)) */
#define CF_STR_FMT(s) (int)(s).len, (s).p

struct cf_str cf_str_from(const char *cstr);
bool cf_str_eq(struct cf_str a, struct cf_str b);
bool cf_str_eq_ci(struct cf_str a, struct cf_str b);
bool cf_str_eq_cstr(struct cf_str a, const char *b);
bool cf_str_starts_with(struct cf_str s, const char *prefix);
/* Splits s at the first c: *head gets what precedes it, *tail what follows. False if no c. */
bool cf_str_split(struct cf_str s, char c, struct cf_str *head, struct cf_str *tail);
/* Parses a decimal int64 covering the whole view. */
bool cf_str_to_i64(struct cf_str s, int64_t *out);
/* malloc'd NUL-terminated copy, or NULL. */
char *cf_str_dup(struct cf_str s);
/* Lower-cases ASCII into out (size >= s.len + 1), NUL-terminates. */
void cf_str_lower(struct cf_str s, char *out);

#endif
