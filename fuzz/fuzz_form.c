/* libFuzzer target: the token endpoint's request parsing (src/api/h_authority.c), whose helpers
 * are static: the file is #included here, as tests/unit/api/test_authority.c does, and the api/
 * functions it calls are replaced by stubs that are never reached (so nothing else of
 * libcf_api is linked in). Full token requests through dispatch are fuzz_request's job.
 *
 * Input: line 1 = Content-Type, line 2 = Authorization ("-" for none), the rest = the
 * x-www-form-urlencoded body.
 * Checks: content_type_is_form never crashes; form_parse either succeeds with every view
 * inside the scratch buffer and no longer than the raw body plus header (decoding never grows
 * text), client credentials from Basic only when the header is Basic, or fails with an Entra
 * error (invalid_request / invalid_client, 400 / 401, "AADSTS<n>: ..." description). */
#include "base/cf.h"

#include "api/h_authority.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---------------- stubs for what h_authority.c calls outside the parser ---------------- */

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
    (void)status;
    (void)code;
    (void)inner;
    (void)fmt;
    __builtin_trap();
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
    (void)key;
    __builtin_trap();
}

const char *cf_http_header(const struct cf_http_req *req, const char *name)
{
    (void)req;
    (void)name;
    __builtin_trap();
}

/* ---------------- the target ---------------- */

static bool inside(struct cf_str s, const struct cf_buf *b)
{
    if (!s.p)
        return true;
    return s.p >= b->data && s.p + s.len <= b->data + b->len;
}

static char *take_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *ctype, *authz_line, *body;
    const char *authz;
    size_t blen, room;
    struct cf_buf scratch, basic;
    struct authority_form f;
    struct cf_token_error te;
    cf_err e;

    if (size > CF_MAX_BODY_BYTES || memchr(data, '\0', size))
        return 0; /* http/ hands over NUL-terminated header values; bodies may hold NULs but
                     then the form has a bad escape or an odd name, as any other byte */
    ctype = take_line(&p, end);
    authz_line = take_line(&p, end);
    authz = strcmp(authz_line, "-") == 0 ? NULL : authz_line;
    blen = (size_t)(end - p);
    body = malloc(blen + 1); /* exactly the body, NUL-terminated, as http/ gives it */
    if (!body)
        abort();
    memcpy(body, p, blen);
    body[blen] = '\0';

    (void)content_type_is_form(ctype);

    room = blen + (authz ? strlen(authz) : 0) + 16;
    cf_buf_init(&scratch, room);
    cf_buf_init(&basic, room);
    memset(&te, 0, sizeof(te));
    e = form_parse((struct cf_str){body, blen}, authz, &scratch, &basic, &f, &te);
    if (e == CF_OK) {
        const struct cf_str *v[] = {&f.grant_type, &f.client_id, &f.client_secret,
                                    &f.scope,      &f.client_assertion, &f.client_assertion_type};
        for (size_t i = 0; i < CF_ARRAY_LEN(v); i++)
            if (!inside(*v[i], &scratch) || v[i]->len > room)
                __builtin_trap();
        if (f.basic && !(authz && strncasecmp(authz, "Basic ", 6) == 0))
            __builtin_trap();
        if (scratch.len > room)
            __builtin_trap();
    } else {
        if (!te.error || (te.http_status != 400 && te.http_status != 401) ||
            strncmp(te.description, "AADSTS", 6) != 0)
            __builtin_trap();
        if (strcmp(te.error, "invalid_request") != 0 && strcmp(te.error, "invalid_client") != 0)
            __builtin_trap();
    }
    cf_buf_wipe(&scratch);
    cf_buf_wipe(&basic);
    free(body);
    free(ctype);
    free(authz_line);
    return 0;
}
