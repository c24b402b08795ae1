/* client.h - a small HTTPS+JSON client on libcurl, for the `coffer` CLI.
 *
 * One struct cf_client owns one curl easy handle, reused across requests so that requests to
 * the same host share a kept-alive TLS connection. TLS peer and host verification are always
 * on; when ca_file is set it is the only trust anchor (CURLOPT_CAINFO).
 *
 * A request returns CF_OK whenever an HTTP response arrived, whatever its status: the caller
 * reads resp.status and resp.body. Transport failures (DNS, connect, TLS, timeout) return
 * CF_EIO and leave a one-line reason in cf_client_errmsg() - never a header or body, since those
 * may carry a token or a secret value.
 *
 * 429 and 503 responses are retried up to opts.max_retries times (default 3), waiting
 * Retry-After seconds (capped at 60) when the server sends it, else 1 s, 2 s, 4 s.
 *
 * Not thread-safe: one client per thread. Response bodies may hold secret values, so
 * cf_client_resp_release wipes them. */
#ifndef CF_CLIENT_H
#define CF_CLIENT_H

#include "base/cf.h"
#include "base/buf.h"

#define CF_CLIENT_MAX_BODY (32 * 1024 * 1024)

struct cf_client_opts {
    const char *ca_file;      /* PEM bundle to trust; NULL = the system store */
    long connect_timeout_s;   /* 0 = 10 */
    long timeout_s;           /* whole request; 0 = 60 */
    int max_retries;          /* for 429/503; negative = 0, 0 = default 3 */
    const char *user_agent;   /* NULL = "coffer-cli" */
    /* Waits between retries; NULL = nanosleep. Tests pass a recorder. */
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *sleep_ctx;
};

struct cf_client_resp {
    long status;          /* HTTP status, 0 when no response */
    struct cf_buf body;   /* response body (NUL-terminated) */
    char location[1024];  /* Location header when present, else "" */
    int attempts;         /* requests sent, retries included */
};

struct cf_client;

/* NULL on allocation or curl initialisation failure. Copies the strings of opts. */
struct cf_client *cf_client_new(const struct cf_client_opts *opts);
void cf_client_free(struct cf_client *c);

/* Sends method url with an optional bearer token and body (content_type required when body is
 * given). Fills resp, which must be released with cf_client_resp_release even on failure. */
cf_err cf_client_request(struct cf_client *c, const char *method, const char *url,
                         const char *bearer, const char *content_type, const void *body,
                         size_t body_len, struct cf_client_resp *resp) CF_NODISCARD;
void cf_client_resp_init(struct cf_client_resp *r);
void cf_client_resp_release(struct cf_client_resp *r);

/* The last transport error, "" when none. */
const char *cf_client_errmsg(const struct cf_client *c);

/* Parses a Retry-After header value (delta seconds only; an HTTP date gives -1). Returns the
 * seconds, or -1 when absent or unparsable. */
int cf_client_parse_retry_after(const char *value);
/* The wait before retry number attempt (1-based) given the Retry-After value (-1 = none):
 * Retry-After capped at 60 s, else 1 s, 2 s, 4 s... */
int64_t cf_client_retry_delay_ms(int attempt, int retry_after_s);
/* True for the statuses that are retried (429, 503). */
bool cf_client_status_retryable(long status);

/* Process-wide set-up and teardown of the HTTP library: call once at the start and end of
 * main(), before and after any other thread exists. */
void cf_client_global_init(void);
void cf_client_global_cleanup(void);

#endif
