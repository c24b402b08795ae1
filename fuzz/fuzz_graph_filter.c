/* libFuzzer target: Graph's $filter query (src/api/h_graph.c parse_filter / filter_match,
 * "<field> eq '<value>'" and "startswith(<field>,'<value>')", '' for a quote), which is static:
 * the file is #included here, as fuzz_form.c does with h_authority.c, and the api/ functions
 * it calls are stubs (the error reply is recorded, nothing else is reached). Full Graph
 * requests through dispatch are fuzz_request's job.
 *
 * Input: the $filter value as the query parser hands it over (decoded, any bytes).
 * Checks: never crashes; success and the one 400 Request_UnsupportedQuery reply exclude each
 * other; an empty filter is "no filter"; an accepted one names an allowed field, holds a
 * value that matches itself (case-insensitively, and as a prefix of a longer value for
 * startswith), and written back in canonical form (quotes doubled) parses to the same filter. */
#include "base/cf.h"
#include "fuzz_check.h"

#include "api/h_graph.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cf_str fz_query; /* what api_query answers for "$filter" */
static int fz_errors, fz_status;

/* ---------------- stubs for what h_graph.c calls outside the parser ---------------- */

void api_reply(struct api_req *r, int status)
{
    (void)r;
    (void)status;
    __builtin_trap();
}

void api_reply_empty(struct api_req *r, int status)
{
    (void)r;
    (void)status;
    __builtin_trap();
}

void api_error(struct api_req *r, int status, const char *code, const char *inner, const char *fmt,
               ...)
{
    (void)r;
    (void)inner;
    (void)fmt;
    CHECK(strcmp(code, "Request_UnsupportedQuery") == 0);
    fz_errors++;
    fz_status = status;
}

void api_error_err(struct api_req *r, cf_err e)
{
    (void)r;
    (void)e;
    __builtin_trap();
}

void api_add_header(struct api_req *r, const char *name, const char *value)
{
    (void)r;
    (void)name;
    (void)value;
    __builtin_trap();
}

cf_err api_base_url(const struct api_req *r, struct cf_buf *out)
{
    (void)r;
    (void)out;
    __builtin_trap();
}

struct cf_str api_query(const struct api_req *r, const char *key)
{
    (void)r;
    CHECK(strcmp(key, "$filter") == 0);
    return fz_query;
}

/* ---------------- the target ---------------- */

static const char *const fz_fields[] = {"displayName", "appId", "mailNickname", "id", NULL};

static bool parse(const char *p, size_t n, struct filter *f)
{
    struct api_req r;
    bool ok;

    memset(&r, 0, sizeof(r));
    fz_query = (struct cf_str){p, n};
    fz_errors = 0;
    ok = parse_filter(&r, f, fz_fields);
    CHECK(ok ? fz_errors == 0 : fz_errors == 1 && fz_status == 400);
    return ok;
}

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct filter f, g;
    char canon[1200], uf[64], uv[300], longer[300];
    size_t k = 0;
    bool allowed = false;

    if (size > 4096)
        return 0;
    if (!parse((const char *)data, size, &f))
        return 0;
    if (!f.on) {
        CHECK(size == 0);
        return 0;
    }
    CHECK(size > 0 && memchr(f.field, '\0', sizeof(f.field)) &&
          memchr(f.value, '\0', sizeof(f.value)));
    for (const char *const *fl = fz_fields; *fl; fl++)
        allowed = allowed || strcasecmp(*fl, f.field) == 0;
    CHECK(allowed);

    /* matching */
    CHECK(filter_match(&f, f.field, f.value));
    snprintf(uf, sizeof(uf), "%s", f.field);
    snprintf(uv, sizeof(uv), "%s", f.value);
    upper(uf);
    upper(uv);
    CHECK(filter_match(&f, uf, uv));
    snprintf(longer, sizeof(longer), "%sX", f.value);
    CHECK(filter_match(&f, f.field, longer) == f.prefix);
    CHECK(!filter_match(&f, "notAField", f.value));

    /* canonical form round trip */
    k = (size_t)snprintf(canon, sizeof(canon), f.prefix ? "startswith(%s,'" : "%s eq '", f.field);
    for (const char *v = f.value; *v; v++) {
        if (*v == '\'')
            canon[k++] = '\'';
        canon[k++] = *v;
    }
    k += (size_t)snprintf(canon + k, sizeof(canon) - k, f.prefix ? "')" : "'");
    if (k < 400) {
        CHECK(parse(canon, k, &g));
        CHECK(g.on && g.prefix == f.prefix && strcmp(g.field, f.field) == 0 &&
              strcmp(g.value, f.value) == 0);
    }
    return 0;
}
