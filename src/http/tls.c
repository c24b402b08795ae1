/* tls.c - the TLS side of http/: the one shared SSL_CTX, per-connection sessions, and the
 * ex_data slot that carries http/'s per-connection state (freed with the session).
 *
 * Map: tls_log_errors (OpenSSL error queue -> log line), cf_http_tls_new/free (context: PEM
 * chain + key, TLS 1.2+, AEAD-only 1.2 suites, no compression/renegotiation), session_new and
 * session_state (the state slot), tls_state_free (OpenSSL's ex_data free hook -> release). */
#include "base/cf.h"
#include "base/log.h"
#include "http/http_int.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

struct cf_http_tls {
    SSL_CTX *ctx;
    int ex_idx; /* SSL ex_data slot for the per-connection state; -1 until allocated */
    cf_http_tls_release_fn release;
};

/* TLS 1.2 suites: ECDHE + AEAD only (TLS 1.3 suites are AEAD by definition and stay default). */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* Drains OpenSSL's error queue into one log line (file names only, never key material). */
static void tls_log_errors(const char *what, const char *file)
{
    char msg[256] = "";
    unsigned long e = ERR_get_error();

    if (e != 0)
        ERR_error_string_n(e, msg, sizeof(msg));
    cf_error("http: tls: %s %s: %s", what, file ? file : "", msg[0] ? msg : "failed");
    ERR_clear_error();
}

/* OpenSSL calls this from SSL_free for every session, with or without state in the slot. */
static void tls_state_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                           void *argp)
{
    struct cf_http_tls *tls = argp;

    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    if (ptr != NULL && tls != NULL && tls->release != NULL)
        tls->release(ptr);
}

struct cf_http_tls *cf_http_tls_new(const char *cert_file, const char *key_file,
                                    cf_http_tls_release_fn release, cf_err *err)
{
    struct cf_http_tls *tls = NULL;
    cf_err e = CF_ECRYPTO;

    if (cert_file == NULL || key_file == NULL) {
        cf_error("http: tls: certificate and key files are required");
        e = CF_EINVAL;
        goto fail;
    }
    tls = calloc(1, sizeof(*tls));
    if (tls == NULL) {
        e = CF_ENOMEM;
        goto fail;
    }
    tls->ex_idx = -1;
    tls->release = release;
    tls->ctx = SSL_CTX_new(TLS_server_method());
    if (tls->ctx == NULL) {
        tls_log_errors("SSL_CTX_new", NULL);
        goto fail;
    }
    if (SSL_CTX_set_min_proto_version(tls->ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(tls->ctx, tls12_ciphers) != 1) {
        tls_log_errors("protocol/cipher set-up", NULL);
        goto fail;
    }
    /* No compression (CRIME), no renegotiation (a client-driven CPU sink); the server picks the
     * suite. Session tickets stay on: they let clients resume without server-side state. */
    SSL_CTX_set_options(tls->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                      SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Up to 10k mostly idle connections: give the 2 x ~34 KB record buffers back while idle. */
    SSL_CTX_set_mode(tls->ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(tls->ctx, cert_file) != 1) {
        tls_log_errors("loading certificate chain", cert_file);
        e = CF_EIO;
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(tls->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        tls_log_errors("loading private key", key_file);
        e = CF_EIO;
        goto fail;
    }
    if (SSL_CTX_check_private_key(tls->ctx) != 1) {
        tls_log_errors("key does not match certificate", key_file);
        e = CF_EINVAL;
        goto fail;
    }
    tls->ex_idx = SSL_get_ex_new_index(0, tls, NULL, NULL, tls_state_free);
    if (tls->ex_idx < 0) {
        tls_log_errors("SSL_get_ex_new_index", NULL);
        goto fail;
    }
    /* Lets cf_http_tls_session_state find the slot from a session alone (the evhttp error hook
     * has no other context). */
    SSL_CTX_set_app_data(tls->ctx, tls);
    *err = CF_OK;
    return tls;

fail:
    cf_http_tls_free(tls);
    *err = e;
    return NULL;
}

void cf_http_tls_free(struct cf_http_tls *tls)
{
    if (tls == NULL)
        return;
    SSL_CTX_free(tls->ctx);
    if (tls->ex_idx >= 0)
        CRYPTO_free_ex_index(CRYPTO_EX_INDEX_SSL, tls->ex_idx);
    free(tls);
}

struct ssl_st *cf_http_tls_session_new(struct cf_http_tls *tls, void *state)
{
    SSL *ssl = SSL_new(tls->ctx);

    if (ssl == NULL) {
        tls_log_errors("SSL_new", NULL);
        return NULL;
    }
    if (SSL_set_ex_data(ssl, tls->ex_idx, state) != 1) {
        /* The slot stayed empty, so SSL_free does not release the caller's state. */
        tls_log_errors("SSL_set_ex_data", NULL);
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

void *cf_http_tls_session_state(const struct ssl_st *ssl)
{
    const struct cf_http_tls *tls;

    if (ssl == NULL)
        return NULL;
    tls = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    return tls != NULL ? SSL_get_ex_data(ssl, tls->ex_idx) : NULL;
}

void cf_http_tls_session_free(struct ssl_st *ssl)
{
    SSL_free(ssl);
}
