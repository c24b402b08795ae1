/* libFuzzer target: RBAC's two string grammars (src/auth/rbac.c) - the '*' action patterns of
 * role definitions (cf_rbac_action_matches) and assignment scopes (cf_rbac_scope_normalize,
 * cf_rbac_scope_covers). Custom roles and assignments come from callers, so both see
 * arbitrary text.
 *
 * Input: "<pattern>\n<action>\n<scope>" (missing parts are empty).
 * Checks:
 *   matches    equals an independent memoised matcher of the same rule ('*' = any run,
 *              case-insensitive ASCII, "/ * /" also matching zero segments), any number of
 *              stars, for actions up to 256 characters (the reference's memo table); actions
 *              up to 4096 characters are matched too (the matcher is O(len(pattern) *
 *              len(action)), so libFuzzer's timeout would catch a slow one); the result does not
 *              change with the ASCII case of either side; a pattern without '*' matches itself;
 *              "*" matches everything.
 *   normalize  the output starts with '/', has no "//", no trailing '/' (but "/"), no upper
 *              case ASCII, and normalising it again gives it back (idempotent); a NUL in the
 *              input is CF_EBADPARAM, a full buffer CF_ETOOBIG; the normal form covers itself
 *              and "/" covers it; covers ignores case. */
#include "base/cf.h"
#include "fuzz_check.h"
#include "auth/rbac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXLEN 256      /* patterns: custom roles take up to 255 characters */
#define MAX_ACTION 4096 /* actions are Coffer's own names (the longest 55), but any length works */

static char lc(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* memo[i][j]: 0 unknown, 1 false, 2 true - pattern p+i against s+j. */
static unsigned char memo[MAXLEN + 2][MAXLEN + 2];

static bool ref(const char *p, size_t pl, size_t i, const char *s, size_t sl, size_t j)
{
    bool r;

    if (memo[i][j])
        return memo[i][j] == 2;
    if (i == pl) {
        r = j == sl;
    } else if (p[i] == '*') {
        size_t k = i;
        r = false;
        /* "/ * /" (a first star between slashes) may also stand for no segment at all */
        if (i > 0 && p[i - 1] == '/' && i + 1 < pl && p[i + 1] == '/')
            r = ref(p, pl, i + 2, s, sl, j);
        while (k < pl && p[k] == '*')
            k++;
        if (!r && k == pl)
            r = true;
        for (size_t t = j; !r && t < sl; t++)
            r = lc(s[t]) == lc(p[k]) && ref(p, pl, k, s, sl, t);
    } else {
        r = j < sl && lc(p[i]) == lc(s[j]) && ref(p, pl, i + 1, s, sl, j + 1);
    }
    memo[i][j] = r ? 2 : 1;
    return r;
}

static bool ref_match(const char *p, const char *s)
{
    memset(memo, 0, sizeof(memo));
    return ref(p, strlen(p), 0, s, strlen(s), 0);
}

static void flip_case(char *s, unsigned seed)
{
    for (size_t i = 0; s[i]; i++, seed = seed * 1103515245u + 12345u)
        if ((seed >> 16) & 1) {
            if (s[i] >= 'a' && s[i] <= 'z')
                s[i] = (char)(s[i] - 'a' + 'A');
            else if (s[i] >= 'A' && s[i] <= 'Z')
                s[i] = (char)(s[i] - 'A' + 'a');
        }
}

static void check_pattern(const char *pat, const char *act, unsigned seed)
{
    static char a2[MAX_ACTION + 1];
    char p2[MAXLEN + 1];
    size_t stars = 0;
    bool m;

    for (const char *c = pat; *c; c++)
        stars += *c == '*';
    m = cf_rbac_action_matches(pat, act);
    if (strlen(act) <= MAXLEN)
        CHECK(m == ref_match(pat, act));
    snprintf(p2, sizeof(p2), "%s", pat);
    snprintf(a2, sizeof(a2), "%s", act);
    flip_case(p2, seed);
    flip_case(a2, seed ^ 0x5bd1e995u);
    CHECK(cf_rbac_action_matches(p2, a2) == m);
    if (stars == 0)
        CHECK(cf_rbac_action_matches(pat, pat));
    CHECK(cf_rbac_action_matches("*", act));
    CHECK(!cf_rbac_action_matches(NULL, act) && !cf_rbac_action_matches(pat, NULL));
}

static void check_scope(const char *in, size_t n)
{
    char out[CF_RBAC_MAX_SCOPE], again[CF_RBAC_MAX_SCOPE], up[CF_RBAC_MAX_SCOPE];
    char tiny[8];
    size_t len;
    cf_err e;

    e = cf_rbac_scope_normalize(in, n, out, sizeof(out));
    if (memchr(in, '\0', n)) {
        CHECK(e == CF_EBADPARAM || e == CF_ETOOBIG);
        return;
    }
    if (e == CF_ETOOBIG) {
        CHECK(n + 2 > sizeof(out));
        return;
    }
    CHECK(e == CF_OK);
    len = strlen(out);
    CHECK(len >= 1 && out[0] == '/' && !strstr(out, "//"));
    CHECK(len == 1 || out[len - 1] != '/');
    for (size_t i = 0; i < len; i++)
        CHECK(!(out[i] >= 'A' && out[i] <= 'Z'));
    CHECK(cf_rbac_scope_normalize(out, len, again, sizeof(again)) == CF_OK);
    CHECK(strcmp(out, again) == 0);
    CHECK(cf_rbac_scope_covers(out, out) && cf_rbac_scope_covers("/", out));
    snprintf(up, sizeof(up), "%s", out);
    flip_case(up, (unsigned)len);
    CHECK(cf_rbac_scope_covers(out, up) && cf_rbac_scope_covers(up, out));
    e = cf_rbac_scope_normalize(in, n, tiny, sizeof(tiny));
    CHECK(e == CF_OK ? strlen(tiny) == len : e == CF_ETOOBIG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size, *nl1, *nl2;
    static char act[MAX_ACTION + 1];
    char pat[MAXLEN + 1];
    size_t pl, al;

    if (size > 4096)
        return 0;
    nl1 = memchr(p, '\n', size);
    nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
    pl = nl1 ? (size_t)(nl1 - p) : size;
    al = nl1 ? (size_t)((nl2 ? nl2 : end) - nl1 - 1) : 0;
    if (pl <= MAXLEN && al <= MAX_ACTION && !memchr(p, '\0', pl) &&
        (!nl1 || !memchr(nl1 + 1, '\0', al))) {
        memcpy(pat, p, pl);
        pat[pl] = '\0';
        if (nl1)
            memcpy(act, nl1 + 1, al);
        act[al] = '\0';
        check_pattern(pat, act, (unsigned)size);
    }
    if (nl2)
        check_scope(nl2 + 1, (size_t)(end - nl2 - 1));
    return 0;
}
