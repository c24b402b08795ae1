/* client.c - the libcurl-backed HTTPS client of client.h.
 *
 * Map: retry helpers (pure, tested directly) - header/body callbacks - cf_client_new/free -
 * one attempt (send_once) - cf_client_request (the retry loop). */
#include "base/cf.h"
#include "client/client.h"

#include <curl/curl.h>
#include <errno.h>

struct cf_client {
    CURL *curl;
    char *ca_file;
    char *user_agent;
    long connect_timeout_s;
    long timeout_s;
    int max_retries;
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *sleep_ctx;
    char err[CURL_ERROR_SIZE + 64];
};

/* What the header callback collects for one attempt. */
struct hdr_state {
    int retry_after_s;
    char *location;
    size_t location_size;
};

/* ---- retry helpers ---- */

int cf_client_parse_retry_after(const char *value)
{
    int64_t v;
    struct cf_str s;

    if (!value)
        return -1;
    s = cf_str_from(value);
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t' || s.p[s.len - 1] == '\r' ||
                     s.p[s.len - 1] == '\n'))
        s.len--;
    if (s.len == 0 || s.p[0] == '-' || s.p[0] == '+' || !cf_str_to_i64(s, &v) || v < 0)
        return -1;
    return v > 86400 ? 86400 : (int)v;
}

int64_t cf_client_retry_delay_ms(int attempt, int retry_after_s)
{
    if (retry_after_s >= 0)
        return (int64_t)CF_MIN(retry_after_s, 60) * 1000;
    if (attempt < 1)
        attempt = 1;
    if (attempt > 6)
        attempt = 6;
    return (int64_t)1000 << (attempt - 1);
}

bool cf_client_status_retryable(long status)
{
    return status == 429 || status == 503;
}

static void default_sleep(void *ctx, int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    (void)ctx;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- curl callbacks ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct cf_buf *b = ud;
    size_t len = size * n;
    if (cf_buf_append(b, p, len) != CF_OK)
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    return len;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
                      size_t *vlen)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    *value = line + nl + 1;
    *vlen = len - nl - 1;
    while (*vlen && (**value == ' ' || **value == '\t')) {
        (*value)++;
        (*vlen)--;
    }
    while (*vlen && ((*value)[*vlen - 1] == '\r' || (*value)[*vlen - 1] == '\n' ||
                     (*value)[*vlen - 1] == ' '))
        (*vlen)--;
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct hdr_state *h = ud;
    size_t len = size * n;
    const char *v;
    size_t vlen;
    char tmp[32];

    if (header_is(p, len, "Retry-After", &v, &vlen)) {
        if (vlen < sizeof(tmp)) {
            memcpy(tmp, v, vlen);
            tmp[vlen] = '\0';
            h->retry_after_s = cf_client_parse_retry_after(tmp);
        }
    } else if (header_is(p, len, "Location", &v, &vlen)) {
        if (vlen < h->location_size) {
            memcpy(h->location, v, vlen);
            h->location[vlen] = '\0';
        }
    }
    return len;
}

/* ---- lifecycle ---- */

struct cf_client *cf_client_new(const struct cf_client_opts *opts)
{
    struct cf_client *c;
    static const struct cf_client_opts none = {0};

    if (!opts)
        opts = &none;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->curl = curl_easy_init();
    c->user_agent = strdup(opts->user_agent ? opts->user_agent : "coffer-cli");
    c->ca_file = opts->ca_file ? strdup(opts->ca_file) : NULL;
    if (!c->curl || !c->user_agent || (opts->ca_file && !c->ca_file)) {
        cf_client_free(c);
        return NULL;
    }
    c->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 10;
    c->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 60;
    c->max_retries = opts->max_retries < 0 ? 0 : (opts->max_retries == 0 ? 3 : opts->max_retries);
    c->sleep_ms = opts->sleep_ms ? opts->sleep_ms : default_sleep;
    c->sleep_ctx = opts->sleep_ctx;
    return c;
}

void cf_client_free(struct cf_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->ca_file);
    free(c->user_agent);
    free(c);
}

const char *cf_client_errmsg(const struct cf_client *c)
{
    return c ? c->err : "";
}

void cf_client_resp_init(struct cf_client_resp *r)
{
    r->status = 0;
    cf_buf_init(&r->body, CF_CLIENT_MAX_BODY);
    r->location[0] = '\0';
    r->attempts = 0;
}

void cf_client_resp_release(struct cf_client_resp *r)
{
    if (!r)
        return;
    cf_buf_wipe(&r->body);
    r->status = 0;
}

/* ---- one attempt ---- */

static cf_err send_once(struct cf_client *c, const char *method, const char *url,
                        const char *bearer, const char *content_type, const void *body,
                        size_t body_len, struct cf_client_resp *resp, int *retry_after_s)
{
    struct curl_slist *hdrs = NULL, *tmp;
    struct hdr_state hs = {.retry_after_s = -1,
                           .location = resp->location,
                           .location_size = sizeof(resp->location)};
    struct cf_buf auth;
    char cerr[CURL_ERROR_SIZE];
    CURLcode rc;
    cf_err err = CF_OK;
    CURL *h = c->curl;

    cf_buf_init(&auth, 64 * 1024);
    cerr[0] = '\0';
    cf_buf_reset(&resp->body);
    resp->location[0] = '\0';
    resp->status = 0;

    /* Reset per-request options but keep the connection cache of the handle. */
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);

    tmp = curl_slist_append(hdrs, "Accept: application/json");
    if (tmp)
        hdrs = tmp;
    if (bearer) {
        if (cf_buf_printf(&auth, "Authorization: Bearer %s", bearer) != CF_OK) {
            err = CF_ENOMEM;
            goto out;
        }
        tmp = curl_slist_append(hdrs, auth.data);
        if (!tmp) {
            err = CF_ENOMEM;
            goto out;
        }
        hdrs = tmp;
    }
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        char ct[160];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 content_type ? content_type : "application/json");
        tmp = curl_slist_append(hdrs, ct);
        if (tmp)
            hdrs = tmp;
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    }
    /* curl adds "Expect: 100-continue" to large bodies; the server does not need the round trip. */
    tmp = curl_slist_append(hdrs, "Expect:");
    if (tmp)
        hdrs = tmp;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    rc = curl_easy_perform(h);
    resp->attempts++;
    if (rc != CURLE_OK) {
        snprintf(c->err, sizeof(c->err), "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        err = rc == CURLE_WRITE_ERROR ? CF_ETOOBIG : CF_EIO;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    *retry_after_s = hs.retry_after_s;
out:
    /* The handle keeps pointers to these until the next reset; clear them now. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    cf_buf_wipe(&auth);
    return err;
}

cf_err cf_client_request(struct cf_client *c, const char *method, const char *url,
                         const char *bearer, const char *content_type, const void *body,
                         size_t body_len, struct cf_client_resp *resp)
{
    cf_err err;
    int attempt = 0;

    if (!c || !method || !url || !resp)
        return CF_EINVAL;
    c->err[0] = '\0';
    for (;;) {
        int retry_after = -1;
        err = send_once(c, method, url, bearer, content_type, body, body_len, resp,
                        &retry_after);
        if (err != CF_OK)
            return err;
        if (!cf_client_status_retryable(resp->status) || attempt >= c->max_retries)
            return CF_OK;
        attempt++;
        c->sleep_ms(c->sleep_ctx, cf_client_retry_delay_ms(attempt, retry_after));
    }
}

void cf_client_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cf_client_global_cleanup(void)
{
    curl_global_cleanup();
}
