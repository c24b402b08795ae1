/* acme.c - the ACME protocol driver (acme.h), RFC 8555 with ES256 account keys.
 *
 * Map:
 *   challenges   the token -> key authorization table the http-01 listener serves
 *   jws          flattened JWS (protected {alg, jwk|kid, nonce, url}), nonces (badNonce: one
 *                retry), problem documents -> a short reason
 *   order        directory, account (registered once per vault and issuer, URL kept by the
 *                vault), newOrder, authorizations (http-01 / dns-01 hook), finalize, polling,
 *                the PEM chain -> DER -> cf_cert_acme_complete
 *   driver       one pass over the vault's orders; the thread */
#include "base/cf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "http/fetch.h"
#include "http/http.h"
#include "server/acme.h"

#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHALLENGES 64
#define POLL_TRIES 60
#define POLL_MS 250
#define URL_MAX CF_ACME_URL_MAX
#define CHAL_PREFIX "/.well-known/acme-challenge/"

struct chal {
    char token[128];
    char keyauth[256];
};

struct cf_acme {
    struct cf_vault_svc *svc;
    struct cf_acme_opts opts;
    struct cf_http_admin *listener;
    char addr[64];      /* the listener's address parsed from http01_listen */
    pthread_mutex_t mu; /* guards chals, stop */
    pthread_cond_t cv;
    struct chal chals[MAX_CHALLENGES];
    size_t nchals;
    bool stop;
    bool thread_started;
    pthread_t thread;
};

/* ---------------- challenges ---------------- */

static void chal_put(struct cf_acme *a, const char *token, const char *keyauth)
{
    pthread_mutex_lock(&a->mu);
    if (a->nchals == MAX_CHALLENGES) /* oldest out: an order uses a handful */
        memmove(&a->chals[0], &a->chals[1], sizeof(a->chals[0]) * --a->nchals);
    snprintf(a->chals[a->nchals].token, sizeof(a->chals[0].token), "%s", token);
    snprintf(a->chals[a->nchals].keyauth, sizeof(a->chals[0].keyauth), "%s", keyauth);
    a->nchals++;
    pthread_mutex_unlock(&a->mu);
}

static void chal_drop(struct cf_acme *a, const char *token)
{
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->nchals; i++)
        if (strcmp(a->chals[i].token, token) == 0) {
            memmove(&a->chals[i], &a->chals[i + 1], sizeof(a->chals[0]) * (a->nchals - i - 1));
            a->nchals--;
            break;
        }
    pthread_mutex_unlock(&a->mu);
}

/* The http-01 listener: GET /.well-known/acme-challenge/<token> -> the key authorization. */
static void serve(void *ctx, enum cf_http_method method, struct cf_str path,
                  struct cf_http_admin_reply *out)
{
    struct cf_acme *a = ctx;
    size_t pl = strlen(CHAL_PREFIX);

    out->status = 404;
    out->content_type = "text/plain";
    if (method != CF_HTTP_GET || path.len <= pl || memcmp(path.p, CHAL_PREFIX, pl) != 0)
        return;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->nchals; i++) {
        const char *t = a->chals[i].token;
        if (strlen(t) == path.len - pl && memcmp(t, path.p + pl, path.len - pl) == 0) {
            if (cf_buf_append_str(&out->body, cf_str_from(a->chals[i].keyauth)) == CF_OK)
                out->status = 200;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
}

/* ---------------- JWS ---------------- */

struct sess {
    struct cf_acme *a;
    const struct cf_acme_order *o;
    struct cf_kvkey *key;
    char kid[URL_MAX];
    char nonce[256];
    char new_nonce[URL_MAX], new_account[URL_MAX], new_order[URL_MAX];
    char jwk[512];       /* canonical public JWK {"crv","kty","x","y"} */
    char thumbprint[64]; /* base64url SHA-256 of jwk (RFC 7638) */
    char why[300];       /* the ACME problem, for the operation's error */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static cf_err b64url(const void *p, size_t n, struct cf_buf *out)
{
    cf_buf_reset(out);
    return cf_b64url_encode(out, p, n);
}

static bool jstr(const struct cf_json *j, const char *key, char *out, size_t n)
{
    size_t len;
    const char *s = cf_json_str(cf_json_get(j, key), &len);
    out[0] = '\0';
    if (!s || len >= n || memchr(s, 0, len))
        return false;
    memcpy(out, s, len + 1);
    return true;
}

static cf_err parse_body(const struct cf_http_fetch_resp *r, struct cf_json **j)
{
    *j = NULL;
    if (!r->body.len || cf_json_parse(r->body.data, r->body.len, j, NULL, 0) != CF_OK)
        return CF_EBADPARAM;
    return CF_OK;
}

/* A problem document (RFC 7807) into s->why; CF_EBADPARAM (the order fails). */
static cf_err problem(struct sess *s, const char *step, const struct cf_http_fetch_resp *r)
{
    struct cf_json *j = NULL;
    char type[128] = "", detail[200] = "";

    if (parse_body(r, &j) == CF_OK) {
        (void)jstr(j, "type", type, sizeof(type));
        (void)jstr(j, "detail", detail, sizeof(detail));
    }
    cf_json_free(j);
    snprintf(s->why, sizeof(s->why), "ACME %.20s: HTTP %d %.80s%s%.150s", step, r->status, type,
             detail[0] ? ": " : "", detail);
    return CF_EBADPARAM;
}

static cf_err fetch(struct sess *s, const char *method, const char *url, const char *ctype,
                    const void *body, size_t n, struct cf_http_fetch_resp *r)
{
    cf_err e = cf_http_fetch(method, url, ctype, body, n, s->o->ca_file[0] ? s->o->ca_file : NULL,
                             s->a->opts.timeout_s, r);
    if (!e && r->replay_nonce[0])
        memcpy(s->nonce, r->replay_nonce, sizeof(s->nonce));
    return e;
}

static cf_err get_nonce(struct sess *s)
{
    struct cf_http_fetch_resp r;
    cf_err e;

    if (s->nonce[0])
        return CF_OK;
    e = fetch(s, "HEAD", s->new_nonce, NULL, NULL, 0, &r);
    if (!e && !s->nonce[0])
        e = problem(s, "newNonce", &r);
    cf_http_fetch_resp_release(&r);
    return e;
}

/* POST a JWS of payload (NULL: POST-as-GET, an empty payload) to url. */
static cf_err post(struct sess *s, const char *url, const char *payload,
                   struct cf_http_fetch_resp *r)
{
    struct cf_buf prot, p64, pay64, input, sig, sig64, body;
    unsigned char digest[CF_SHA256_LEN];
    struct cf_jw w;
    char why[128];
    cf_err e = CF_OK;

    for (int attempt = 0; attempt < 2; attempt++) {
        cf_buf_init(&prot, 4096);
        cf_buf_init(&p64, 8192);
        cf_buf_init(&pay64, 64 * 1024);
        cf_buf_init(&input, 80 * 1024);
        cf_buf_init(&sig, 256);
        cf_buf_init(&sig64, 256);
        cf_buf_init(&body, 96 * 1024);
        if ((e = get_nonce(s)) != CF_OK)
            goto round;
        cf_jw_init(&w, &prot);
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "alg", "ES256");
        if (s->kid[0]) {
            cf_jw_kstr(&w, "kid", s->kid);
        } else {
            cf_jw_key(&w, "jwk");
            cf_jw_raw(&w, s->jwk, strlen(s->jwk));
        }
        cf_jw_kstr(&w, "nonce", s->nonce);
        cf_jw_kstr(&w, "url", url);
        cf_jw_obj_end(&w);
        s->nonce[0] = '\0'; /* used */
        if ((e = cf_jw_err(&w)) != CF_OK || (e = b64url(prot.data, prot.len, &p64)) != CF_OK ||
            (payload && (e = b64url(payload, strlen(payload), &pay64)) != CF_OK) ||
            (e = cf_buf_printf(&input, "%s.%s", p64.data, payload ? pay64.data : "")) != CF_OK ||
            (e = cf_sha256(input.data, input.len, digest)) != CF_OK ||
            (e = cf_kvkey_sign(s->key, "ES256", digest, sizeof(digest), &sig, why, sizeof(why))) !=
                CF_OK ||
            (e = b64url(sig.data, sig.len, &sig64)) != CF_OK)
            goto round;
        cf_jw_init(&w, &body);
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "protected", p64.data);
        cf_jw_kstr(&w, "payload", payload ? pay64.data : "");
        cf_jw_kstr(&w, "signature", sig64.data);
        cf_jw_obj_end(&w);
        if ((e = cf_jw_err(&w)) == CF_OK)
            e = fetch(s, "POST", url, "application/jose+json", body.data, body.len, r);
    round:
        cf_buf_release(&prot);
        cf_buf_release(&p64);
        cf_buf_release(&pay64);
        cf_buf_release(&input);
        cf_buf_release(&sig);
        cf_buf_release(&sig64);
        cf_buf_release(&body);
        if (e || r->status != 400 || attempt == 1 ||
            !strstr(r->body.data ? r->body.data : "", "badNonce"))
            break;
        cf_http_fetch_resp_release(r); /* a rejected nonce: once more with the fresh one */
    }
    return e;
}

/* ---------------- the order ---------------- */

static cf_err load_directory(struct sess *s)
{
    struct cf_http_fetch_resp r;
    struct cf_json *j = NULL;
    cf_err e = fetch(s, "GET", s->o->directory, NULL, NULL, 0, &r);

    if (!e && r.status != 200)
        e = problem(s, "directory", &r);
    if (!e && (parse_body(&r, &j) != CF_OK || !jstr(j, "newNonce", s->new_nonce, URL_MAX) ||
               !jstr(j, "newAccount", s->new_account, URL_MAX) ||
               !jstr(j, "newOrder", s->new_order, URL_MAX))) {
        snprintf(s->why, sizeof(s->why), "ACME directory %.200s is not an ACME directory.",
                 s->o->directory);
        e = CF_EBADPARAM;
    }
    cf_json_free(j);
    cf_http_fetch_resp_release(&r);
    return e;
}

/* The canonical JWK and its thumbprint. */
static cf_err key_ids(struct sess *s)
{
    struct cf_buf b, t;
    struct cf_json *j = NULL;
    struct cf_jw w;
    unsigned char d[CF_SHA256_LEN];
    char crv[16], x[128], y[128];
    cf_err e;

    cf_buf_init(&b, 1024);
    cf_buf_init(&t, 128);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    e = cf_kvkey_write_public_jwk(s->key, true, &w);
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (!e &&
        (cf_json_parse(b.data, b.len, &j, NULL, 0) != CF_OK || !jstr(j, "crv", crv, sizeof(crv)) ||
         !jstr(j, "x", x, sizeof(x)) || !jstr(j, "y", y, sizeof(y))))
        e = CF_EINVAL;
    if (!e)
        snprintf(s->jwk, sizeof(s->jwk),
                 "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", crv, x, y);
    if (!e)
        e = cf_sha256(s->jwk, strlen(s->jwk), d);
    if (!e)
        e = cf_b64url_encode(&t, d, sizeof(d));
    if (!e)
        snprintf(s->thumbprint, sizeof(s->thumbprint), "%s", t.data);
    cf_json_free(j);
    cf_buf_release(&b);
    cf_buf_release(&t);
    return e;
}

static cf_err account(struct sess *s)
{
    struct cf_http_fetch_resp r;
    char payload[512];
    cf_err e;

    if ((e = cf_cert_acme_account(s->a->svc, s->o->vault, s->o->issuer, &s->key, s->kid)) !=
            CF_OK ||
        (e = key_ids(s)) != CF_OK)
        return e;
    if (s->kid[0])
        return CF_OK;
    if (s->o->email[0] && !strpbrk(s->o->email, "\"\\"))
        snprintf(payload, sizeof(payload),
                 "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:%s\"]}", s->o->email);
    else
        snprintf(payload, sizeof(payload), "{\"termsOfServiceAgreed\":true}");
    e = post(s, s->new_account, payload, &r);
    if (!e && (r.status != 200 && r.status != 201))
        e = problem(s, "newAccount", &r);
    if (!e && (!r.location[0] || strlen(r.location) >= sizeof(s->kid))) {
        snprintf(s->why, sizeof(s->why), "ACME newAccount: no usable account URL.");
        e = CF_EBADPARAM;
    }
    if (!e) {
        snprintf(s->kid, sizeof(s->kid), "%.*s", (int)(sizeof(s->kid) - 1), r.location);
        e = cf_cert_acme_account_set_url(s->a->svc, s->o->vault, s->o->issuer, s->kid);
    }
    cf_http_fetch_resp_release(&r);
    return e;
}

/* POST-as-GET url until its "status" leaves pending/processing; *j is the last body. */
static cf_err poll(struct sess *s, const char *what, const char *url, struct cf_json **j,
                   char status[32])
{
    cf_err e = CF_OK;

    *j = NULL;
    for (int i = 0; i < POLL_TRIES; i++) {
        struct cf_http_fetch_resp r;
        cf_json_free(*j);
        *j = NULL;
        e = post(s, url, NULL, &r);
        if (!e && r.status != 200)
            e = problem(s, what, &r);
        if (!e && (parse_body(&r, j) != CF_OK || !jstr(*j, "status", status, 32)))
            e = problem(s, what, &r);
        cf_http_fetch_resp_release(&r);
        if (e || (strcmp(status, "pending") != 0 && strcmp(status, "processing") != 0))
            return e;
        sleep_ms(POLL_MS);
    }
    snprintf(s->why, sizeof(s->why), "ACME %s: still %s after %d polls.", what, status, POLL_TRIES);
    return CF_EIO; /* try again on a later pass */
}

static cf_err run_hook(const char *hook, const char *op, const char *domain, const char *value)
{
    pid_t pid;
    int st = 0;

    if (!hook[0])
        return CF_EINVAL;
    pid = fork();
    if (pid < 0)
        return CF_EIO;
    if (pid == 0) {
        execl(hook, hook, op, domain, value, (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? CF_OK : CF_EIO;
}

/* One authorization: valid already, or proven now through the configured challenge. */
static cf_err authorize(struct sess *s, const char *authz_url)
{
    struct cf_http_fetch_resp r;
    struct cf_json *j = NULL, *pj = NULL;
    const struct cf_json *chs;
    char status[32] = "", type[16], token[128] = "", curl_[URL_MAX] = "", keyauth[256];
    char domain[256] = "", txt[64] = "";
    bool dns = strcmp(s->o->challenge, "dns-01") == 0;
    cf_err e = post(s, authz_url, NULL, &r);

    if (!e && r.status != 200)
        e = problem(s, "authorization", &r);
    if (!e && (parse_body(&r, &j) != CF_OK || !jstr(j, "status", status, sizeof(status))))
        e = problem(s, "authorization", &r);
    cf_http_fetch_resp_release(&r);
    if (e || strcmp(status, "valid") == 0)
        goto out;
    (void)jstr(cf_json_get(j, "identifier"), "value", domain, sizeof(domain));
    chs = cf_json_get(j, "challenges");
    for (size_t i = 0; i < cf_json_size(chs); i++) {
        const struct cf_json *c = cf_json_at(chs, i);
        if (jstr(c, "type", type, sizeof(type)) && strcmp(type, dns ? "dns-01" : "http-01") == 0 &&
            jstr(c, "token", token, sizeof(token)) && jstr(c, "url", curl_, sizeof(curl_)))
            break;
        token[0] = '\0';
    }
    if (!token[0] || strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_") != strlen(token)) {
        snprintf(s->why, sizeof(s->why),
                 "ACME authorization for %.200s offers no usable %s "
                 "challenge.",
                 domain, dns ? "dns-01" : "http-01");
        e = CF_EBADPARAM;
        goto out;
    }
    snprintf(keyauth, sizeof(keyauth), "%s.%s", token, s->thumbprint);
    if (dns) {
        unsigned char d[CF_SHA256_LEN];
        struct cf_buf t;
        cf_buf_init(&t, sizeof(txt) - 1);
        e = cf_sha256(keyauth, strlen(keyauth), d);
        if (!e)
            e = cf_b64url_encode(&t, d, sizeof(d));
        if (!e)
            snprintf(txt, sizeof(txt), "%s", t.data);
        cf_buf_release(&t);
        if (!e && run_hook(s->o->dns_hook, "set", domain, txt) != CF_OK) {
            snprintf(s->why, sizeof(s->why),
                     "ACME dns-01: the DNS hook failed to set the "
                     "record of %.200s.",
                     domain);
            e = CF_EBADPARAM;
        }
    } else {
        chal_put(s->a, token, keyauth);
    }
    if (e)
        goto out;
    e = post(s, curl_, "{}", &r);
    if (!e && r.status != 200)
        e = problem(s, "challenge", &r);
    cf_http_fetch_resp_release(&r);
    if (!e)
        e = poll(s, "authorization", authz_url, &pj, status);
    if (!e && strcmp(status, "valid") != 0) {
        const struct cf_json *c = cf_json_get(pj, "challenges");
        char detail[160] = "";
        for (size_t i = 0; i < cf_json_size(c); i++)
            if (jstr(cf_json_at(c, i), "type", type, sizeof(type)) &&
                strcmp(type, dns ? "dns-01" : "http-01") == 0)
                (void)jstr(cf_json_get(cf_json_at(c, i), "error"), "detail", detail,
                           sizeof(detail));
        snprintf(s->why, sizeof(s->why), "ACME authorization of %.100s is %.20s%s%.150s", domain,
                 status, detail[0] ? ": " : ".", detail);
        e = CF_EBADPARAM;
    }
    if (dns)
        (void)run_hook(s->o->dns_hook, "clear", domain, txt);
    else
        chal_drop(s->a, token);
out:
    cf_json_free(pj);
    cf_json_free(j);
    return e;
}

/* "-----BEGIN CERTIFICATE-----" blocks of pem -> concatenated DER, leaf first. */
static cf_err pem_chain(const char *pem, size_t n, struct cf_buf *der)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    const char *p = pem, *stop = pem + n;
    struct cf_buf b64;
    cf_err e = CF_OK;
    int count = 0;

    cf_buf_init(&b64, 64 * 1024);
    while (!e && p < stop) {
        const char *a = memmem(p, (size_t)(stop - p), begin, sizeof(begin) - 1), *z;
        if (!a)
            break;
        a += sizeof(begin) - 1;
        z = memmem(a, (size_t)(stop - a), end, sizeof(end) - 1);
        if (!z)
            return CF_EBADPARAM;
        cf_buf_reset(&b64);
        for (const char *c = a; !e && c < z; c++)
            if (*c != '\r' && *c != '\n' && *c != ' ' && *c != '\t')
                e = cf_buf_append(&b64, c, 1);
        if (!e)
            e = cf_b64_decode(der, (struct cf_str){b64.data ? b64.data : "", b64.len});
        p = z + sizeof(end) - 1;
        count++;
    }
    cf_buf_release(&b64);
    return e ? CF_EBADPARAM : count ? CF_OK : CF_EBADPARAM;
}

static cf_err run_order(struct sess *s, struct cf_buf *chain)
{
    struct cf_http_fetch_resp r;
    struct cf_json *j = NULL, *oj = NULL;
    struct cf_buf payload, csr64;
    struct cf_jw w;
    char order_url[URL_MAX] = "", finalize[URL_MAX] = "", cert_url[URL_MAX] = "";
    char status[32] = "";
    const struct cf_json *authz;
    cf_err e;

    cf_buf_init(&payload, 64 * 1024);
    cf_buf_init(&csr64, 32 * 1024);
    if ((e = load_directory(s)) != CF_OK || (e = account(s)) != CF_OK)
        goto out;
    cf_jw_init(&w, &payload);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "identifiers");
    cf_jw_arr_begin(&w);
    for (size_t i = 0; i < s->o->ndomains; i++) {
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "type", "dns");
        cf_jw_kstr(&w, "value", s->o->domains[i]);
        cf_jw_obj_end(&w);
    }
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    if ((e = cf_jw_err(&w)) != CF_OK || (e = post(s, s->new_order, payload.data, &r)) != CF_OK)
        goto out;
    if (r.status != 201 || !r.location[0] || strlen(r.location) >= sizeof(order_url) ||
        parse_body(&r, &j) != CF_OK || !jstr(j, "finalize", finalize, sizeof(finalize)))
        e = problem(s, "newOrder", &r);
    else
        snprintf(order_url, sizeof(order_url), "%.*s", (int)(sizeof(order_url) - 1), r.location);
    cf_http_fetch_resp_release(&r);
    if (e)
        goto out;
    authz = cf_json_get(j, "authorizations");
    for (size_t i = 0; !e && i < cf_json_size(authz); i++) {
        char u[URL_MAX];
        size_t len;
        const char *a = cf_json_str(cf_json_at(authz, i), &len);
        if (!a || len >= sizeof(u))
            continue;
        memcpy(u, a, len + 1);
        e = authorize(s, u);
    }
    if (e)
        goto out;
    /* finalize with the operation's CSR */
    if ((e = cf_b64url_encode(&csr64, s->o->csr.data, s->o->csr.len)) != CF_OK)
        goto out;
    cf_buf_reset(&payload);
    if ((e = cf_buf_printf(&payload, "{\"csr\":\"%s\"}", csr64.data)) != CF_OK ||
        (e = post(s, finalize, payload.data, &r)) != CF_OK)
        goto out;
    if (r.status != 200)
        e = problem(s, "finalize", &r);
    cf_http_fetch_resp_release(&r);
    if (!e)
        e = poll(s, "order", order_url, &oj, status);
    if (!e && (strcmp(status, "valid") != 0 || !jstr(oj, "certificate", cert_url, URL_MAX))) {
        snprintf(s->why, sizeof(s->why), "ACME order is %s.", status);
        e = CF_EBADPARAM;
    }
    if (e)
        goto out;
    if ((e = post(s, cert_url, NULL, &r)) != CF_OK)
        goto out;
    if (r.status != 200 || pem_chain(r.body.data ? r.body.data : "", r.body.len, chain) != CF_OK)
        e = problem(s, "certificate", &r);
    cf_http_fetch_resp_release(&r);
out:
    cf_json_free(j);
    cf_json_free(oj);
    cf_buf_release(&payload);
    cf_buf_release(&csr64);
    return e;
}

/* ---------------- the driver ---------------- */

struct pass {
    struct cf_acme *a;
    int completed;
};

static cf_err order_cb(const struct cf_acme_order *o, void *arg)
{
    struct pass *p = arg;
    struct sess s;
    struct cf_buf chain;
    char why[256] = "";
    cf_err e;

    if (strncmp(o->directory, "https://", 8) != 0) {
        (void)cf_cert_acme_fail(p->a->svc, o->vault, o->name, o->request_id,
                                "The Acme issuer needs an https:// directory URL in "
                                "credentials.account_id.");
        return CF_OK;
    }
    memset(&s, 0, sizeof(s));
    s.a = p->a;
    s.o = o;
    cf_buf_init(&chain, 96 * 1024);
    e = run_order(&s, &chain);
    if (!e) {
        e = cf_cert_acme_complete(p->a->svc, o->vault, o->name, o->request_id,
                                  (struct cf_str){chain.data, chain.len}, why, sizeof(why));
        if (e == CF_EBADPARAM)
            (void)cf_cert_acme_fail(p->a->svc, o->vault, o->name, o->request_id,
                                    why[0] ? why : "The issued certificate does not match.");
        else if (!e)
            p->completed++;
    } else if (e == CF_EBADPARAM) {
        (void)cf_cert_acme_fail(p->a->svc, o->vault, o->name, o->request_id, s.why);
    } else {
        cf_warn("acme: order for certificate %s in vault %s: %s; will retry", o->name, o->vault,
                s.why[0] ? s.why : cf_err_name(e));
    }
    cf_kvkey_free(s.key);
    cf_buf_release(&chain);
    return CF_OK; /* one order's trouble does not stop the others */
}

cf_err cf_acme_run_once(struct cf_acme *a, int *completed)
{
    struct pass p = {a, 0};
    cf_err e = cf_cert_acme_orders(a->svc, order_cb, &p);
    if (completed)
        *completed = p.completed;
    return e;
}

static void *driver_main(void *arg)
{
    struct cf_acme *a = arg;

    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        struct timespec ts;
        int ms = a->opts.interval_ms;
        pthread_mutex_unlock(&a->mu);
        if (cf_acme_run_once(a, NULL) != CF_OK)
            cf_warn("acme: a pass over the orders failed; will retry");
        pthread_mutex_lock(&a->mu);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!a->stop)
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

struct cf_acme *cf_acme_new(struct cf_vault_svc *svc, const struct cf_acme_opts *opts, cf_err *err)
{
    struct cf_acme *a = calloc(1, sizeof(*a));
    cf_err e = CF_OK;

    if (!a || !svc) {
        free(a);
        *err = a ? CF_EINVAL : CF_ENOMEM;
        return NULL;
    }
    a->svc = svc;
    if (opts)
        a->opts = *opts;
    if (a->opts.interval_ms <= 0)
        a->opts.interval_ms = 2000;
    if (a->opts.timeout_s <= 0)
        a->opts.timeout_s = 30;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (a->opts.http01_listen) {
        /* "ADDRESS:PORT", the address possibly in brackets; "" = no listener */
        const char *l = a->opts.http01_listen, *colon = strrchr(l, ':');
        int64_t port = -1;
        size_t alen;
        if (!l[0]) {
            a->opts.http01_port = -1;
        } else if (!colon || !cf_str_to_i64(cf_str_from(colon + 1), &port) || port < 1 ||
                   port > 65535 || (alen = (size_t)(colon - l)) == 0 || alen >= sizeof(a->addr)) {
            cf_acme_free(a);
            *err = CF_EINVAL;
            return NULL;
        } else {
            if (l[0] == '[' && alen >= 2 && l[alen - 1] == ']')
                snprintf(a->addr, sizeof(a->addr), "%.*s", (int)(alen - 2), l + 1);
            else
                snprintf(a->addr, sizeof(a->addr), "%.*s", (int)alen, l);
            a->opts.http01_addr = a->addr;
            a->opts.http01_port = (int)port;
        }
    }
    if (a->opts.http01_port >= 0) {
        struct cf_http_admin_opts lo = {.addr =
                                            a->opts.http01_addr ? a->opts.http01_addr : "127.0.0.1",
                                        .port = a->opts.http01_port,
                                        .timeout_s = 10};
        a->listener = cf_http_admin_new(&lo, serve, a, &e);
        if (!a->listener) {
            cf_acme_free(a);
            *err = e ? e : CF_EIO;
            return NULL;
        }
    }
    *err = CF_OK;
    return a;
}

int cf_acme_http01_port(const struct cf_acme *a)
{
    return a && a->listener ? cf_http_admin_port(a->listener) : -1;
}

cf_err cf_acme_serve(struct cf_acme *a)
{
    return a->listener ? cf_http_admin_start(a->listener) : CF_OK;
}

cf_err cf_acme_start(struct cf_acme *a)
{
    cf_err e = cf_acme_serve(a);
    if (e)
        return e;
    if (pthread_create(&a->thread, NULL, driver_main, a) != 0)
        return CF_ENOMEM;
    a->thread_started = true;
    return CF_OK;
}

void cf_acme_free(struct cf_acme *a)
{
    if (!a)
        return;
    if (a->thread_started) {
        pthread_mutex_lock(&a->mu);
        a->stop = true;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
    }
    cf_http_admin_free(a->listener);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
