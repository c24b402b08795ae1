/* str.c - string views. */
#include "base/cf.h"
#include "base/str.h"

#include <stdlib.h>
#include <strings.h>

struct cf_str cf_str_from(const char *cstr)
{
    return cstr ? (struct cf_str){cstr, strlen(cstr)} : CF_STR_NULL;
}

bool cf_str_eq(struct cf_str a, struct cf_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool cf_str_eq_ci(struct cf_str a, struct cf_str b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

bool cf_str_eq_cstr(struct cf_str a, const char *b)
{
    return cf_str_eq(a, cf_str_from(b));
}

bool cf_str_starts_with(struct cf_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

bool cf_str_split(struct cf_str s, char c, struct cf_str *head, struct cf_str *tail)
{
    const char *hit = s.len ? memchr(s.p, c, s.len) : NULL;
    if (!hit) {
        *head = s;
        *tail = CF_STR_NULL;
        return false;
    }
    *head = (struct cf_str){s.p, (size_t)(hit - s.p)};
    *tail = (struct cf_str){hit + 1, s.len - head->len - 1};
    return true;
}

bool cf_str_to_i64(struct cf_str s, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0, lim;

    if (s.len == 0 || s.len > 20)
        return false;
    if (s.p[0] == '-' || s.p[0] == '+') {
        neg = s.p[0] == '-';
        i = 1;
        if (s.len == 1)
            return false;
    }
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9 || v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

char *cf_str_dup(struct cf_str s)
{
    char *d = malloc(s.len + 1);
    if (d) {
        if (s.len)
            memcpy(d, s.p, s.len);
        d[s.len] = '\0';
    }
    return d;
}

void cf_str_lower(struct cf_str s, char *out)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[s.len] = '\0';
}
