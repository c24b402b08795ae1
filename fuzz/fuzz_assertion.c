/* libFuzzer target: certificate client credentials - a client_assertion JWT at the token
 * endpoint (src/auth/token.c's assertion_open / assertion_check through cf_auth_issue_token,
 * and src/crypto/x509_cred.c's cf_jws_verify). The world is fuzz_env.h's store and token
 * authority, whose service principal gets two registered certificates (EC P-256 and RSA-2048,
 * made once, valid 2025..2035) and a fixed clock (FIXED_NOW, 2026-01-01T00:00:00Z), so seeds
 * with absolute times stay valid.
 *
 * Input: byte 0 selects the mode, the rest is text in which "@CLIENT@", "@AUD@" (the token
 * endpoint URL), "@X5T@" and "@X5T256@" (the EC certificate's thumbprints; "@RX5T@" the RSA
 * one's) are replaced before use:
 *   0  raw: the text is the assertion as a client sends it;
 *   1  claims: the text is the payload, signed ES256 by the EC key with the header
 *      {"alg":"ES256","typ":"JWT","x5t":...} (byte 1 odd: RS256 by the RSA key, the RSA x5t);
 *   2  header: "<header JSON>\n<payload JSON>", signed by the key the header's alg names
 *      (RS256/PS256: RSA, anything else: EC with ES256 - so an unsupported alg is signed
 *      correctly but must still be refused).
 * Checks: never crashes; a refusal is CF_EBADCLIENT / CF_EBADPARAM with an error name, status
 * 400/401 and an AADSTS-numbered description that does not contain the assertion's signature;
 * raw text is never accepted (nothing but the keys signs) and never verifies under either
 * registered key through cf_jws_verify; an accepted assertion has a header alg in
 * {RS256, PS256, ES256} equal to what signed it, iss == sub == the client id, a numeric exp with
 * now - 300 < exp <= now + 3600 + 300, any nbf/iat numeric and not in the future (beyond the
 * skew), and the same assertion presented again is refused (jti replay). */
#include "base/cf.h"
#include "fuzz_check.h"
#include "fuzz_env.h"

#include "base/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_NOW 1767225600LL /* 2026-01-01T00:00:00Z */
#define SKEW 300
#define MAX_LIFE 3600

static struct fuzz_env *env;
static struct cf_pkey *ec_key, *rsa_key, *ec_pub, *rsa_pub;
static char x5t[64], x5t256[64], rx5t[64], aud[256];

static int64_t fixed_ms(const struct cf_clock *c)
{
    (void)c;
    return FIXED_NOW * 1000;
}

static void b64u(const unsigned char *p, size_t n, char *out, size_t cap)
{
    struct cf_buf b;
    cf_buf_init(&b, cap - 1);
    if (cf_b64url_encode(&b, p, n) != CF_OK)
        abort();
    memcpy(out, b.data, b.len + 1);
    cf_buf_release(&b);
}

/* A key, a certificate for it valid around FIXED_NOW, its registration's DER in der. */
static void make_cred(bool rsa, struct cf_pkey **priv, struct cf_pkey **pub, struct cf_buf *der,
                      struct cf_x509_cred *xc)
{
    struct cf_kvkey *k = NULL;
    struct cf_secret *blob = NULL;
    char why[256];
    struct cf_cert_req req = {.subject = rsa ? "CN=fuzz-rsa" : "CN=fuzz-ec",
                              .key_usage = 1, /* digitalSignature */
                              .not_before = FIXED_NOW - 86400LL * 365,
                              .not_after = FIXED_NOW + 86400LL * 3650};

    if ((rsa ? cf_kvkey_generate_rsa(2048, 0, &k) : cf_kvkey_generate_ec(CF_CRV_P256, &k)) ||
        cf_cert_self_signed(k, &req, der, why, sizeof(why)) || cf_kvkey_to_blob(k, &blob) ||
        cf_pkey_from_der(blob->p + 5, blob->len - 5, priv) ||
        cf_x509_cred_parse(der->data, der->len, xc, pub))
        fuzz_die("credential", CF_EINTERNAL);
    cf_secret_free(blob);
    cf_kvkey_free(k);
}

static void setup(void)
{
    struct cf_buf ecd, rsad;
    struct cf_x509_cred ecx, rsax;
    struct cf_auth_key_in in[2];
    cf_err e;

    env = fuzz_env_get(true);
    env->clock.now_ms = fixed_ms; /* the authority holds &env->clock */
    cf_buf_init(&ecd, 16384);
    cf_buf_init(&rsad, 16384);
    make_cred(false, &ec_key, &ec_pub, &ecd, &ecx);
    make_cred(true, &rsa_key, &rsa_pub, &rsad, &rsax);
    memset(in, 0, sizeof(in));
    in[0].der = ecd.data;
    in[0].der_len = ecd.len;
    in[1].der = rsad.data;
    in[1].der_len = rsad.len;
    if ((e = cf_auth_keys_set(env->auth, env->tenant, CF_AUTH_ID_CLIENT, env->client_id, in, 2)))
        fuzz_die("keys_set", e);
    b64u(ecx.sha1, 20, x5t, sizeof(x5t));
    b64u(ecx.sha256, 32, x5t256, sizeof(x5t256));
    b64u(rsax.sha1, 20, rx5t, sizeof(rx5t));
    snprintf(aud, sizeof(aud), "https://login.localhost" FUZZ_PORT "/%s/oauth2/v2.0/token",
             env->tenant);
    cf_buf_release(&ecd);
    cf_buf_release(&rsad);
}

/* in[0..n) with the placeholders replaced, NUL-terminated, into out. */
static void expand(const char *in, size_t n, struct cf_buf *out)
{
    static const char *const subs[] = {"@CLIENT@", "@AUD@", "@X5T256@", "@X5T@", "@RX5T@"};
    const char *vals[] = {env->client_id, aud, x5t256, x5t, rx5t};

    cf_buf_reset(out);
    for (size_t i = 0; i < n;) {
        size_t s;
        for (s = 0; s < CF_ARRAY_LEN(subs); s++) {
            size_t tl = strlen(subs[s]);
            if (n - i >= tl && memcmp(in + i, subs[s], tl) == 0) {
                if (cf_buf_puts(out, vals[s]) != CF_OK)
                    abort();
                i += tl;
                break;
            }
        }
        if (s == CF_ARRAY_LEN(subs)) {
            if (cf_buf_putc(out, in[i]) != CF_OK)
                abort();
            i++;
        }
    }
}

static cf_err issue(struct cf_str assertion, struct cf_token_error *te)
{
    char scope[64];
    struct cf_buf tok;
    int64_t exp = 0;
    cf_err e;

    snprintf(scope, sizeof(scope), "https://vault.localhost/.default");
    struct cf_token_request tr = {
        .tenant = cf_str_from(env->tenant),
        .grant_type = CF_STR("client_credentials"),
        .client_id = cf_str_from(env->client_id),
        .scope = cf_str_from(scope),
        .client_assertion_type = CF_STR("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        .client_assertion = assertion,
        .endpoint = cf_str_from(aud),
    };
    cf_buf_init(&tok, 64 * 1024);
    memset(te, 0, sizeof(*te));
    e = cf_auth_issue_token(env->auth, &tr, &tok, &exp, te);
    if (getenv("FUZZ_DEBUG")) /* seed checking: which way each input went */
        fprintf(stderr, "fuzz_assertion: %s %s\n", cf_err_name(e), e ? te->description : "");
    if (e == CF_OK) {
        CHECK(tok.len > 0 && exp > 0);
    } else {
        const char *dot = memrchr(assertion.p, '.', assertion.len);
        size_t siglen = dot ? assertion.len - (size_t)(dot - assertion.p) - 1 : 0;
        CHECK(e == CF_EBADCLIENT || e == CF_EBADPARAM);
        CHECK(te->error && (te->http_status == 400 || te->http_status == 401));
        CHECK(memchr(te->description, '\0', sizeof(te->description)));
        CHECK(strncmp(te->description, "AADSTS", 6) == 0 || te->aadsts > 0);
        CHECK(siglen < 16 || !memmem(te->description, strlen(te->description), dot + 1, siglen));
    }
    cf_buf_release(&tok);
    return e;
}

static bool num_claim(const struct cf_json *c, const char *k, int64_t *v)
{
    return cf_json_number(cf_json_get(c, k), v);
}

/* What an accepted assertion must have been. */
static void check_accepted(const char *header, size_t hlen, const char *payload, size_t plen,
                           const char *signed_alg)
{
    struct cf_json *h = NULL, *c = NULL;
    size_t n = 0;
    const char *s;
    int64_t exp = 0, t = 0;

    CHECK(cf_json_parse(header, hlen, &h, NULL, 0) == CF_OK);
    s = cf_json_str(cf_json_get(h, "alg"), &n);
    CHECK(s && cf_str_eq_cstr((struct cf_str){s, n}, signed_alg));
    CHECK(cf_json_parse(payload, plen, &c, NULL, 0) == CF_OK && cf_json_type(c) == CF_JSON_OBJECT);
    s = cf_json_str(cf_json_get(c, "iss"), &n);
    CHECK(s && cf_str_eq_cstr((struct cf_str){s, n}, env->client_id));
    s = cf_json_str(cf_json_get(c, "sub"), &n);
    CHECK(s && cf_str_eq_cstr((struct cf_str){s, n}, env->client_id));
    CHECK(num_claim(c, "exp", &exp) && FIXED_NOW < exp + SKEW &&
          exp <= FIXED_NOW + MAX_LIFE + SKEW);
    CHECK(!cf_json_get(c, "nbf") || (num_claim(c, "nbf", &t) && t <= FIXED_NOW + SKEW));
    CHECK(!cf_json_get(c, "iat") || (num_claim(c, "iat", &t) && t <= FIXED_NOW + SKEW));
    CHECK(cf_json_get(c, "aud") != NULL);
    cf_json_free(h);
    cf_json_free(c);
}

static void raw(const char *text, size_t n)
{
    struct cf_token_error te;
    struct cf_jwt jwt;
    static const char *const algs[] = {"RS256", "PS256", "ES256"};

    if (n > CF_JWT_MAX_LEN + 16)
        return;
    CHECK(issue((struct cf_str){text, n}, &te) != CF_OK);
    memset(&jwt, 0, sizeof(jwt));
    if (cf_jwt_decode((struct cf_str){text, n}, &jwt) == CF_OK) {
        for (size_t i = 0; i < CF_ARRAY_LEN(algs); i++) {
            CHECK(cf_jws_verify(ec_pub, algs[i], &jwt) != CF_OK);
            CHECK(cf_jws_verify(rsa_pub, algs[i], &jwt) != CF_OK);
        }
    }
    cf_jwt_release(&jwt);
}

static void signed_one(const char *header, const char *payload, const char *alg,
                       struct cf_pkey *key)
{
    struct cf_buf jws;
    struct cf_token_error te;

    cf_buf_init(&jws, 64 * 1024);
    if (cf_jws_sign(key, alg, header, payload, &jws) != CF_OK) {
        cf_buf_release(&jws);
        return; /* too long for the buffer */
    }
    if (issue(cf_buf_str(&jws), &te) == CF_OK) {
        check_accepted(header, strlen(header), payload, strlen(payload), alg);
        CHECK(issue(cf_buf_str(&jws), &te) != CF_OK); /* a replay */
    }
    cf_buf_release(&jws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_buf text, hdr;
    const char *t, *nl;

    if (!env)
        setup();
    if (size < 1 || size > 8192)
        return 0;
    cf_buf_init(&text, 64 * 1024);
    cf_buf_init(&hdr, 1024);
    expand((const char *)data + 1, size - 1, &text);
    t = text.data ? text.data : "";
    switch (data[0] % 3) {
    case 0:
        raw(t, text.len);
        break;
    case 1:
        if (memchr(t, '\0', text.len))
            break;
        if (size > 1 && data[1] & 1) {
            if (cf_buf_puts(&hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"") ||
                cf_buf_puts(&hdr, rx5t) || cf_buf_puts(&hdr, "\"}"))
                abort();
            signed_one(hdr.data, t, "RS256", rsa_key);
        } else {
            if (cf_buf_puts(&hdr, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"x5t\":\"") ||
                cf_buf_puts(&hdr, x5t) || cf_buf_puts(&hdr, "\"}"))
                abort();
            signed_one(hdr.data, t, "ES256", ec_key);
        }
        break;
    default:
        if (memchr(t, '\0', text.len) || !(nl = strchr(t, '\n')))
            break;
        if (cf_buf_append(&hdr, t, (size_t)(nl - t)) || cf_buf_putc(&hdr, '\0'))
            abort();
        if (strstr(hdr.data, "\"RS256\""))
            signed_one(hdr.data, nl + 1, "RS256", rsa_key);
        else if (strstr(hdr.data, "\"PS256\""))
            signed_one(hdr.data, nl + 1, "PS256", rsa_key);
        else
            signed_one(hdr.data, nl + 1, "ES256", ec_key);
        break;
    }
    cf_buf_release(&text);
    cf_buf_release(&hdr);
    return 0;
}
