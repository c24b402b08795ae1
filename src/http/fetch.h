/* fetch.h - a small blocking HTTP(S)/1.1 client on libevent (fetch.c), for the ACME issuer's
 * protocol driver (server/acme.c): one request per call, its own event loop, TLS with the
 * peer's certificate and host name verified against ca_file (NULL: the system's roots).
 * Outgoing HTTP elsewhere (CLI, webhooks) uses libcurl through src/client; the server is not
 * linked with it, and libevent already speaks HTTP here. A header of its own so http.h (the
 * module's contract for the server side) stays as it is. */
#ifndef CF_HTTP_FETCH_H
#define CF_HTTP_FETCH_H

#include "base/cf.h"
#include "base/buf.h"

#define CF_HTTP_FETCH_BODY_MAX (1024 * 1024)

struct cf_http_fetch_resp {
    int status;
    struct cf_buf body; /* initialised by the call (max CF_HTTP_FETCH_BODY_MAX) */
    char location[1024];
    char replay_nonce[256];
    char content_type[128];
    char allowed_origin[256]; /* WebHook-Allowed-Origin (the CloudEvents webhook handshake) */
};
void cf_http_fetch_resp_release(struct cf_http_fetch_resp *r);

/* method "GET" | "POST" | "HEAD" | "OPTIONS". url "https://host[:port]/path?query" (or
 * http://). body may be NULL (n 0). CF_EIO when the connection, TLS (including verification) or
 * the exchange fails; CF_EINVAL for a bad URL; an HTTP error status is CF_OK with out->status
 * set. */
cf_err cf_http_fetch(const char *method, const char *url, const char *content_type,
                     const void *body, size_t n, const char *ca_file, int timeout_s,
                     struct cf_http_fetch_resp *out) CF_NODISCARD;
/* The same with extra request headers: headers is NULL or a NULL-terminated array of
 * "Name: value" strings (e.g. an Authorization header; never logged). */
cf_err cf_http_fetch_ex(const char *method, const char *url, const char *content_type,
                        const char *const *headers, const void *body, size_t n,
                        const char *ca_file, int timeout_s,
                        struct cf_http_fetch_resp *out) CF_NODISCARD;

#endif
