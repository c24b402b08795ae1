/* crypto.h - the only OpenSSL wrapper (DESIGN.md §2). Everything cryptographic in Coffer goes
 * through here; no other module includes an OpenSSL header (http/tls.c excepted).
 *
 * Conventions: functions return cf_err; after a failed OpenSSL call the error queue is turned
 * into a log line (never containing key material) and cleared. Secret outputs are returned in
 * a struct cf_secret (wiped on free) or appended to a cf_buf the caller wipes. Thread-safe:
 * no function keeps state between calls; struct cf_pkey may be shared read-only by threads. */
#ifndef CF_CRYPTO_H
#define CF_CRYPTO_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/secret.h"
#include "base/str.h"

/* ---- randomness and identifiers ---- */
cf_err cf_random(void *p, size_t n) CF_NODISCARD;
/* 32 lowercase hex characters from 16 random bytes (an object version, a request id). */
cf_err cf_random_hex32(char out[33]) CF_NODISCARD;
/* A random RFC 4122 v4 UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
cf_err cf_uuid4(char out[37]) CF_NODISCARD;

/* ---- hashes and MACs ---- */
#define CF_SHA256_LEN 32
cf_err cf_sha256(const void *p, size_t n, unsigned char out[CF_SHA256_LEN]);
cf_err cf_sha1(const void *p, size_t n, unsigned char out[20]);
cf_err cf_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                      unsigned char out[CF_SHA256_LEN]);
/* A keyed HMAC-SHA256 for many messages under one key (the audit chain MACs every record):
 * the key schedule is done once and the MAC algorithm fetched once, which the one-shot form
 * above repeats per call (~1 µs of a GET). Not thread-safe: one user at a time (the caller's
 * lock). The key bytes are held by OpenSSL's context and cleansed by cf_hmac_key_free. */
struct cf_hmac_key;
cf_err cf_hmac_key_new(const void *key, size_t klen, struct cf_hmac_key **out) CF_NODISCARD;
cf_err cf_hmac_key_mac(struct cf_hmac_key *k, const void *msg, size_t mlen,
                       unsigned char out[CF_SHA256_LEN]);
void cf_hmac_key_free(struct cf_hmac_key *k);
/* ---- reusable SHA-256 context (hot paths that hash many messages) ----
 * One digest context kept across messages: the algorithm is fetched and the context allocated
 * once, where cf_sha256 allocates and frees both per call (~0.7 µs of an audited GET). Begin,
 * update any number of times, end (which leaves the context ready for the next begin); or
 * cf_sha256_ctx_digest for one buffer. Not thread-safe: one user at a time (the audit chain
 * keeps one per lane, under the lane's mutex). Hashes no secret; nothing to wipe. */
struct cf_sha256_ctx;
cf_err cf_sha256_ctx_new(struct cf_sha256_ctx **out) CF_NODISCARD;
cf_err cf_sha256_begin(struct cf_sha256_ctx *c);
cf_err cf_sha256_update(struct cf_sha256_ctx *c, const void *p, size_t n);
cf_err cf_sha256_end(struct cf_sha256_ctx *c, unsigned char out[CF_SHA256_LEN]);
cf_err cf_sha256_ctx_digest(struct cf_sha256_ctx *c, const void *p, size_t n,
                            unsigned char out[CF_SHA256_LEN]);
void cf_sha256_ctx_free(struct cf_sha256_ctx *c);
/* HKDF-SHA256 (RFC 5869) deriving outlen bytes (1..255*32, else CF_EINVAL); salt and info
 * may be NULL/0. */
cf_err cf_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
                      const void *info, size_t infolen, void *out, size_t outlen);

/* ---- AEAD: AES-256-GCM ----
 * Sealed format: nonce (12 random bytes) || ciphertext || tag (16). AAD binds the context (vault,
 * object type, name, version) so a sealed value cannot be moved to another slot. */
#define CF_AEAD_KEY_LEN 32
#define CF_AEAD_NONCE_LEN 12
#define CF_AEAD_TAG_LEN 16
#define CF_AEAD_OVERHEAD (CF_AEAD_NONCE_LEN + CF_AEAD_TAG_LEN)
/* Appends the sealed form of pt to out (fresh random nonce); on failure out is unchanged.
 * CF_ETOOBIG when out's maximum cannot take ptlen + CF_AEAD_OVERHEAD. */
cf_err cf_aead_seal(const unsigned char key[CF_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                    const void *pt, size_t ptlen, struct cf_buf *out) CF_NODISCARD;
/* Opens sealed ct; *pt is a new cf_secret. CF_ECORRUPT when the tag or AAD does not match, for
 * a wrong key, and for ct shorter than CF_AEAD_OVERHEAD. *pt is NULL on any failure and no
 * unauthenticated plaintext is ever returned. */
cf_err cf_aead_open(const unsigned char key[CF_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                    const void *ct, size_t ctlen, struct cf_secret **pt) CF_NODISCARD;

/* ---- password-style hashing of client secrets ----
 * Stored form: "pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>" (NUL-terminated). */
#define CF_PWHASH_MAX 160
/* Iterations used for new hashes; verification accepts any count in [MIN, MAX] read from the
 * stored form (so the default can be raised without invalidating stored hashes). */
#define CF_PWHASH_ITER 20000
#define CF_PWHASH_ITER_MIN 1000
#define CF_PWHASH_ITER_MAX 10000000
cf_err cf_pwhash(const void *secret, size_t len, char out[CF_PWHASH_MAX]) CF_NODISCARD;
/* Constant-time check of secret against a stored form. False on any mismatch or bad form. */
bool cf_pwhash_verify(const void *secret, size_t len, const char *stored);

/* ---- asymmetric keys ---- */
struct cf_pkey; /* opaque EVP_PKEY */
/* New EC P-256 key pair. */
cf_err cf_pkey_generate_ec_p256(struct cf_pkey **out) CF_NODISCARD;
/* Private key as PKCS#8 DER (secret) and back. from_der accepts any PKCS#8 key type, requires
 * the whole input to be one key (no trailing bytes), and returns CF_EINVAL for anything that
 * does not parse. to_der fails (CF_ECRYPTO) for a public-only key. */
cf_err cf_pkey_to_der(const struct cf_pkey *k, struct cf_secret **der) CF_NODISCARD;
cf_err cf_pkey_from_der(const void *der, size_t len, struct cf_pkey **out) CF_NODISCARD;
void cf_pkey_free(struct cf_pkey *k);
/* Writes the public JWK object {"kty":"EC","use":"sig","kid":..,"alg":"ES256","crv":"P-256",
 * "x":..,"y":..} with w (for JWKS); "kid" is omitted when kid is NULL. CF_EINVAL unless k is
 * EC P-256. */
cf_err cf_pkey_write_jwk(const struct cf_pkey *k, const char *kid, struct cf_jw *w);
/* (Addition) Public EC P-256 key from a JWK's "x" and "y" (base64url of the 32-byte big-endian
 * coordinates), for verifying tokens of a trusted external issuer. CF_EINVAL for a wrong length,
 * bad base64url or a point not on the curve. */
cf_err cf_pkey_from_jwk_ec(struct cf_str x_b64url, struct cf_str y_b64url,
                           struct cf_pkey **out) CF_NODISCARD;

/* ---- JWT (compact JWS) ---- */
/* Appends header.payload.signature to out, header {"alg":"ES256","typ":"JWT","kid":kid} ("kid"
 * omitted when NULL), payload the given JSON text (not validated), signature raw r||s (64 bytes)
 * base64url. On failure out keeps its previous content. CF_EINVAL unless k is EC P-256. */
cf_err cf_jwt_sign_es256(const struct cf_pkey *k, const char *kid, const char *payload_json,
                         size_t payload_len, struct cf_buf *out) CF_NODISCARD;

/* Longest token cf_jwt_decode accepts. */
#define CF_JWT_MAX_LEN (16 * 1024)

struct cf_jwt {
    struct cf_buf header;        /* decoded header JSON */
    struct cf_buf payload;       /* decoded payload JSON */
    struct cf_buf sig;           /* decoded signature bytes */
    struct cf_str signing_input; /* "header.payload" as received (points into the token) */
    char alg[16];                /* "alg" from the header, "" if absent */
    char kid[128];               /* "kid" from the header, "" if absent */
};
/* Splits and decodes a compact JWT without verifying it. CF_EUNAUTH for anything malformed
 * (wrong number of parts, an empty part, bad or padded base64url, header not a JSON object, a
 * non-string or oversized alg/kid, a "crit" header, token > CF_JWT_MAX_LEN). The payload is
 * decoded but not parsed: the caller parses the claims after verifying. signing_input points
 * into token, which must outlive out. On failure out is left released (zeroed buffers). */
cf_err cf_jwt_decode(struct cf_str token, struct cf_jwt *out) CF_NODISCARD;
/* Frees what cf_jwt_decode allocated; safe on a zeroed struct and to call twice. */
void cf_jwt_release(struct cf_jwt *jwt);
/* Verifies an ES256 signature: the algorithm is fixed by the caller, never taken from the
 * token; a header alg other than ES256 fails. CF_EUNAUTH when it does not verify (also for a
 * signature that is not exactly 64 bytes, a released jwt, or a pub that is not EC P-256).
 * Checks the signature only: exp/nbf/iss/aud are the caller's. */
cf_err cf_jwt_verify_es256(const struct cf_pkey *pub, const struct cf_jwt *jwt) CF_NODISCARD;

/* ---- X.509 (dev CA and server certificate) ----
 * Keys are EC P-256, signatures ECDSA-SHA256, serials 128-bit random, notBefore backdated one
 * hour for clock skew, days in 1..36500. PEM text is appended to the buffers (certificate
 * "CERTIFICATE", key unencrypted PKCS#8 "PRIVATE KEY"); key PEM is secret (wipe the buffer). On
 * failure both buffers keep their previous content. CF_EINVAL for bad arguments. */
/* Self-signed CA: CN = common_name (1..64 chars), basicConstraints critical CA:TRUE, keyUsage
 * critical keyCertSign+cRLSign, subject and authority key ids. */
cf_err cf_x509_make_ca(const char *common_name, int days, struct cf_buf *cert_pem,
                       struct cf_buf *key_pem) CF_NODISCARD;
/* Leaf for TLS servers signed by the CA: subject CN = first DNS name, SANs = dns[] and ip[]
 * (textual IPv4/IPv6), EKU serverAuth, validity days. basicConstraints critical CA:FALSE,
 * keyUsage critical digitalSignature, subject and authority key ids; crl_url non-NULL adds a
 * cRLDistributionPoints extension with that one URI (http://, printable ASCII, no spaces or
 * quotes, <= 200 chars). DNS names must be LDH
 * labels with an optional leading "*." (one wildcard label, as clients match it); at least one
 * name or address is required; with no DNS name (or a first one over 64 chars) CN = first IP.
 * CF_EINVAL for an invalid name, address or CRL URL, or CA cert/key that do not parse or do
 * not match. */
cf_err cf_x509_make_server(const char *ca_cert_pem, const char *ca_key_pem, const char *const *dns,
                           size_t ndns, const char *const *ip, size_t nip, int days,
                           const char *crl_url, struct cf_buf *cert_pem,
                           struct cf_buf *key_pem) CF_NODISCARD;
/* The CA's certificate revocation list, DER appended to crl_der: version 2, issuer = the CA's
 * subject, thisUpdate/nextUpdate (Unix seconds, this < next), no revoked certificates (the dev
 * CA never revokes: a replaced leaf simply expires), cRLNumber crl_number and the CA's
 * authority key id, signed ECDSA-SHA256 with the CA key. CF_EINVAL for bad times or CA
 * cert/key that do not parse or do not match. */
cf_err cf_x509_make_crl(const char *ca_cert_pem, const char *ca_key_pem, int64_t this_update,
                        int64_t next_update, uint64_t crl_number,
                        struct cf_buf *crl_der) CF_NODISCARD;

/* The notAfter time of the first certificate in cert_pem, as Unix seconds. CF_EINVAL when it
 * does not parse. */
cf_err cf_x509_not_after(const char *cert_pem, int64_t *unix_s) CF_NODISCARD;

/* ---- (identity-cli) RS256 client assertions, jwt_rs.c ---- */
/* Appends header.payload.signature to out, header {"alg":"RS256","typ":"JWT","x5t":x5t}
 * ("x5t" omitted when NULL), payload the given JSON text (not validated), signature
 * RSASSA-PKCS1-v1_5 SHA-256 base64url. The key is the first private key block ("PRIVATE KEY"
 * or "RSA PRIVATE KEY", unencrypted) of the PEM text key_pem; other blocks (certificates) are
 * skipped. CF_EINVAL when there is none, it is encrypted, or it is not RSA of >= 2048 bits.
 * On failure out keeps its previous content. */
cf_err cf_jwt_sign_rs256(const char *key_pem, size_t key_pem_len, const char *x5t,
                         const char *payload_json, size_t payload_len,
                         struct cf_buf *out) CF_NODISCARD;

/* ---- Key Vault keys (kvkey.c): software RSA / EC / oct keys and their operations ----
 * A struct cf_kvkey is immutable once made and may be shared read-only between threads. Private
 * material lives in OpenSSL (cleared on free) or a cf_secret (oct). Errors: CF_EBADPARAM for
 * caller input (why gets a short Azure-like sentence that may quote the alg name but never key
 * bytes), CF_ECRYPTO for a decrypt/unwrap that fails (no detail), CF_ENOMEM, CF_EINVAL for API
 * misuse (NULL key, missing params). why may be NULL/0; it is "" on success. */
enum cf_kty { CF_KTY_RSA, CF_KTY_EC, CF_KTY_OCT };
enum cf_crv { CF_CRV_NONE, CF_CRV_P256, CF_CRV_P384, CF_CRV_P521, CF_CRV_P256K };
struct cf_kvkey; /* opaque: a private (or public-only) key */

/* "P-256" <-> CF_CRV_P256 ... ("P-256K" is secp256k1; "SECP256K1" is accepted as an alias on
 * input). False / NULL when unknown. */
bool cf_crv_parse(struct cf_str name, enum cf_crv *out);
const char *cf_crv_name(enum cf_crv crv);

/* bits 2048/3072/4096; exponent 0 = 65537, else an odd value >= 3 (CF_EBADPARAM otherwise). */
cf_err cf_kvkey_generate_rsa(int bits, uint32_t public_exponent,
                             struct cf_kvkey **out) CF_NODISCARD;
cf_err cf_kvkey_generate_ec(enum cf_crv crv, struct cf_kvkey **out) CF_NODISCARD;
cf_err cf_kvkey_generate_oct(int bits, struct cf_kvkey **out) CF_NODISCARD; /* 128, 192, 256 */
/* Import from a JWK object with private parts (RSA n,e,d,p,q,dp,dq,qi - or n,e,d alone, in which
 * case p and q are recovered (SP 800-56B App. C); EC crv,x,y,d; oct k). "kty" may carry the -HSM
 * suffix. RSA moduli must be 2048/3072/4096 bits, oct keys 128/192/256 bits, EC members at most
 * the coordinate size (shorter values are left-padded). Consistency is checked (OpenSSL's full
 * key check: the EC point is on the curve and matches d; RSA n = p*q, primes, CRT values).
 * CF_EBADPARAM with a short reason in why (never key bytes); public-only JWKs are refused. */
cf_err cf_kvkey_from_jwk(const struct cf_json *jwk, struct cf_kvkey **out, char *why,
                         size_t whysz) CF_NODISCARD;
/* Serialised private key to seal in the store: "CFK" 0x01 <kty byte> then PKCS#8 DER (RSA, EC)
 * or the raw key bytes (oct). Round-trips through _from_blob, which returns CF_ECORRUPT for
 * anything that is not such a blob (wrong tag, trailing bytes, unsupported curve or size). */
cf_err cf_kvkey_to_blob(const struct cf_kvkey *k, struct cf_secret **out) CF_NODISCARD;
cf_err cf_kvkey_from_blob(const void *p, size_t n, struct cf_kvkey **out) CF_NODISCARD;
/* Writes the public JWK members as Azure returns them, into an open JSON object:
 * RSA: "kty":"RSA","n","e";  EC: "kty":"EC","crv","x","y" (fixed-length coordinates);
 * oct: "kty":"oct" only. The caller writes kid, key_ops and the -HSM kty variants itself
 * (so it passes write_kty=false and writes "kty" itself when it needs "RSA-HSM"). Binary members
 * are base64url without padding; n and e carry no leading zero byte. */
cf_err cf_kvkey_write_public_jwk(const struct cf_kvkey *k, bool write_kty, struct cf_jw *w);
enum cf_kty cf_kvkey_type(const struct cf_kvkey *k);
/* (hsmcerts2, x509_keyparts.c) A private key's parts as big-endian unsigned integers, for a
 * PKCS#11 token import (custody hsm.c): RSA n, e, d, p, q, dp, dq, qi (minimal length); EC d, x,
 * y (left-padded to the coordinate size) with crv. Each part is a cf_secret, wiped by _release.
 * CF_EINVAL for oct or NULL. */
enum cf_kp { CF_KP_N, CF_KP_E, CF_KP_D, CF_KP_P, CF_KP_Q, CF_KP_DP, CF_KP_DQ, CF_KP_QI, CF_KP_X,
             CF_KP_Y, CF_KP_COUNT };
struct cf_kvkey_parts {
    enum cf_kty kty;
    enum cf_crv crv;
    struct cf_secret *v[CF_KP_COUNT]; /* NULL: not a part of this key type */
};
cf_err cf_kvkey_parts_get(const struct cf_kvkey *k, struct cf_kvkey_parts *out) CF_NODISCARD;
void cf_kvkey_parts_release(struct cf_kvkey_parts *p);
enum cf_crv cf_kvkey_curve(const struct cf_kvkey *k); /* CF_CRV_NONE for RSA and oct */
int cf_kvkey_bits(const struct cf_kvkey *k);          /* RSA modulus / oct key bits / curve bits */
void cf_kvkey_free(struct cf_kvkey *k);

/* Operations. alg is Azure's name ("RS256", "PS384", "ES256K", "RSA-OAEP-256", "A256KW"...).
 * CF_EBADPARAM: alg unknown or not for this key type/curve, wrong digest length, bad input
 * size (why gets Azure-like text). CF_ECRYPTO: a decrypt/unwrap that fails to authenticate or
 * a padding error (reported as a generic failure, no oracle detail). Output buffers are
 * appended to (unchanged on failure); plaintext outputs are cf_secret (*pt / *key NULL on
 * failure). */
/* Signature algorithms: RS256/384/512 (PKCS#1 v1.5), PS256/384/512 (PSS, MGF1 same hash, salt =
 * digest length), ES256 (P-256), ES256K (P-256K), ES384 (P-384), ES512 (P-521), RSNULL (PKCS#1
 * v1.5 type 1 over the raw value, 1..k-11 bytes), HS256/384/512 (oct: HMAC of the value). The
 * digest must be exactly 32/48/64 bytes for algorithms ending in 256 / 384 / 512. */
cf_err cf_kvkey_sign(const struct cf_kvkey *k, const char *alg, const void *digest, size_t dlen,
                     struct cf_buf *sig, char *why, size_t whysz) CF_NODISCARD;
/* ES*: sig is JOSE r||s (fixed length), not DER. A signature that does not verify, including one
 * of the wrong length or in DER form, is CF_OK with *valid false; errors are as for sign. */
cf_err cf_kvkey_verify(const struct cf_kvkey *k, const char *alg, const void *digest, size_t dlen,
                       const void *sig, size_t slen, bool *valid, char *why,
                       size_t whysz) CF_NODISCARD;
/* RSA1_5, RSA-OAEP (SHA-1), RSA-OAEP-256 for RSA keys. oct algorithms (A*GCM, A*CBC, A*CBCPAD,
 * A*KW) are accepted here too so an HSM-less server can tell "unsupported" from "unknown";
 * keys-server decides what an oct key may do (see the spec: software oct is answered as Azure
 * answers it). A*KW / CKM_AES_KEY_WRAP(_PAD) through encrypt/decrypt behave as wrap/unwrap.
 * A*GCM and A*CBC(PAD) need an IV (and GCM a tag), so these two functions return CF_EINVAL for
 * them: use the _ex variants below. RSA ciphertext must be exactly the modulus size. */
cf_err cf_kvkey_encrypt(const struct cf_kvkey *k, const char *alg, const void *pt, size_t n,
                        struct cf_buf *out, char *why, size_t whysz) CF_NODISCARD;
cf_err cf_kvkey_decrypt(const struct cf_kvkey *k, const char *alg, const void *ct, size_t n,
                        struct cf_secret **pt, char *why, size_t whysz) CF_NODISCARD;
/* wrapKey/unwrapKey: RSA1_5, RSA-OAEP, RSA-OAEP-256 (RSA); A128KW/A192KW/A256KW (oct, RFC 3394,
 * key size must match the alg; input a multiple of 8, >= 16 bytes to wrap, >= 24 to unwrap);
 * also CKM_AES_KEY_WRAP (RFC 3394, any oct size) and CKM_AES_KEY_WRAP_PAD (RFC 5649). */
cf_err cf_kvkey_wrap(const struct cf_kvkey *k, const char *alg, const void *key, size_t n,
                     struct cf_buf *out, char *why, size_t whysz) CF_NODISCARD;
cf_err cf_kvkey_unwrap(const struct cf_kvkey *k, const char *alg, const void *wrapped, size_t n,
                       struct cf_secret **key, char *why, size_t whysz) CF_NODISCARD;

/* (Addition) The request/response members encrypt and decrypt carry besides "value": */
#define CF_KVKEY_IV_MAX 16
#define CF_KVKEY_TAG_LEN 16
struct cf_kvkey_sym {
    /* encrypt: in (iv_len 0 = generate one; else 12 bytes for GCM, 16 for CBC), out: the IV used
     * (echo it as "iv"); decrypt: in (required for GCM and CBC). Ignored by RSA and KW algs. */
    unsigned char iv[CF_KVKEY_IV_MAX];
    size_t iv_len;
    /* GCM additional authenticated data (may be NULL/0); CF_EBADPARAM with other algs. */
    const void *aad;
    size_t aad_len;
    /* GCM: encrypt out (always 16 bytes), decrypt in (must be 16 bytes). */
    unsigned char tag[CF_KVKEY_TAG_LEN];
    size_t tag_len;
};
/* (Addition) encrypt/decrypt with IV, AAD and tag for A128GCM/A192GCM/A256GCM (12-byte IV, 16-byte
 * tag), A*CBC (no padding: input a multiple of 16) and A*CBCPAD (PKCS#7), key size matching the
 * alg. sym may be NULL for the RSA and KW algorithms (then these equal the plain functions). A
 * GCM tag mismatch and a CBCPAD padding error are CF_ECRYPTO. */
cf_err cf_kvkey_encrypt_ex(const struct cf_kvkey *k, const char *alg, const void *pt, size_t n,
                           struct cf_kvkey_sym *sym, struct cf_buf *out, char *why,
                           size_t whysz) CF_NODISCARD;
cf_err cf_kvkey_decrypt_ex(const struct cf_kvkey *k, const char *alg, const void *ct, size_t n,
                           const struct cf_kvkey_sym *sym, struct cf_secret **pt, char *why,
                           size_t whysz) CF_NODISCARD;

/* ==== identities (issue 10): certificates as client credentials, JWS for client assertions
 * (x509_cred.c) ==== */
#define CF_X509_CRED_MAX_DER (16 * 1024)
struct cf_x509_cred {
    unsigned char sha1[20];             /* thumbprint: SHA-1 of the DER (Graph's
                                           customKeyIdentifier, the x5t header) */
    unsigned char sha256[CF_SHA256_LEN]; /* SHA-256 of the DER (the x5t#S256 header) */
    int64_t not_before, not_after;      /* unix s */
};
/* Parses one DER certificate (the whole input, at most CF_X509_CRED_MAX_DER bytes): thumbprints,
 * validity, and (when pub is not NULL) its public key as a new *pub. Only RSA keys of
 * 2048..8192 bits and EC P-256 keys are accepted. CF_EINVAL for anything else or bad input. */
cf_err cf_x509_cred_parse(const void *der, size_t len, struct cf_x509_cred *out,
                          struct cf_pkey **pub) CF_NODISCARD;
/* Verifies a decoded JWS (cf_jwt_decode) with pub under alg, chosen by the caller from an
 * allow-list: "RS256" (RSASSA-PKCS1-v1_5 SHA-256), "PS256" (RSASSA-PSS SHA-256, MGF1-SHA-256,
 * any salt length) or "ES256" (raw r||s). The token's header alg must equal alg and the key
 * type must fit it (RSA >= 2048 bits, EC P-256). CF_EUNAUTH when it does not verify. */
cf_err cf_jws_verify(const struct cf_pkey *pub, const char *alg,
                     const struct cf_jwt *jwt) CF_NODISCARD;
/* Appends base64url(header_json).base64url(payload_json).base64url(signature) to out, for the
 * algorithms of cf_jws_verify (PS256 with a 32-byte salt). Both JSON texts are taken as given.
 * On failure out keeps its previous content. For tests and clients (client assertions). */
cf_err cf_jws_sign(const struct cf_pkey *k, const char *alg, const char *header_json,
                   const char *payload_json, struct cf_buf *out) CF_NODISCARD;
/* A fresh key (RSA 2048 when rsa, else EC P-256) and a self-signed certificate for it (CN =
 * cn, 1..64 chars; valid from an hour ago for days): DER appended to cert_der, the key in
 * *key (private; cf_pkey_to_der exports it). For tests and clients. */
cf_err cf_x509_cred_self_signed(bool rsa, const char *cn, int days, struct cf_buf *cert_der,
                                struct cf_pkey **key) CF_NODISCARD;

/* ==== certificates (issue 13): Key Vault certificates' X.509 work (pkcs12.c) ====
 * A chain is a buffer of concatenated DER certificates, leaf first. Keys are cf_kvkey (RSA or
 * EC). CF_EBADPARAM for caller input, with a short reason in why (never key bytes or
 * passwords); why may be NULL/0. Secret outputs (PKCS#12, PEM with a key) are appended to
 * buffers the caller wipes. */
#define CF_CERT_KU_COUNT 9
/* Key usage names in this order (bit i = 1u << i): digitalSignature, nonRepudiation,
 * keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly,
 * decipherOnly. _parse is case-sensitive and returns 0 for anything else. */
const char *cf_cert_ku_name(int i);
unsigned cf_cert_ku_parse(struct cf_str name);
enum cf_cert_san_kind { CF_SAN_DNS, CF_SAN_EMAIL, CF_SAN_UPN, CF_SAN_URI, CF_SAN_IP };
struct cf_cert_san {
    enum cf_cert_san_kind kind;
    const char *value;
};
struct cf_cert_req {
    const char *subject; /* "CN=a, O=b" (',' or ';' separated; "" allowed with SANs) */
    const struct cf_cert_san *sans;
    size_t nsans;
    const char *const *ekus; /* dotted OIDs */
    size_t nekus;
    unsigned key_usage;              /* CF_CERT_KU bits; 0: no keyUsage extension */
    int64_t not_before, not_after;   /* unix s (self-signed certificates only) */
};
/* PKCS#10 request (DER appended to der) for k with req's subject and extensions. */
cf_err cf_cert_csr(const struct cf_kvkey *k, const struct cf_cert_req *req, struct cf_buf *der,
                   char *why, size_t whysz) CF_NODISCARD;
/* Self-signed certificate (DER): 16-byte random serial, keyUsage critical, basicConstraints
 * CA:FALSE, EKU, SAN, SKI/AKI; SHA-256 (RSA, P-256, P-256K), SHA-384 (P-384), SHA-512 (P-521). */
cf_err cf_cert_self_signed(const struct cf_kvkey *k, const struct cf_cert_req *req,
                           struct cf_buf *der, char *why, size_t whysz) CF_NODISCARD;
struct cf_cert_info {
    unsigned char sha1[20]; /* x5t before base64url */
    int64_t not_before, not_after;
};
/* One DER certificate (the whole input). CF_EBADPARAM when it does not parse. */
cf_err cf_cert_info(const void *der, size_t len, struct cf_cert_info *out) CF_NODISCARD;
/* Writes the x509_props members derived from a certificate into an open JSON object: subject,
 * sans {dns_names, emails, upns}, ekus, key_usage, validity_months (§3.3). */
cf_err cf_cert_write_props(const void *der, size_t len, struct cf_jw *w) CF_NODISCARD;
/* *match: the certificate's public key is k's. */
cf_err cf_cert_key_matches(const void *der, size_t len, const struct cf_kvkey *k,
                           bool *match) CF_NODISCARD;
/* Walks a chain: the certificate at *off (advanced past it). False at the end or on a
 * malformed element. */
bool cf_cert_chain_next(const void *chain, size_t n, size_t *off, const unsigned char **der,
                        size_t *len);
/* Import: the private key and the chain (the certificate matching the key first, unless
 * preserve keeps the input order). pwd NULL or "" = no password. PEM: PKCS#8 (or traditional)
 * key, encrypted ones with pwd; certificates as "CERTIFICATE" blocks. */
cf_err cf_cert_from_pkcs12(const void *p, size_t n, const char *pwd, bool preserve,
                           struct cf_kvkey **key, struct cf_buf *chain, char *why,
                           size_t whysz) CF_NODISCARD;
cf_err cf_cert_from_pem(const char *pem, size_t n, const char *pwd, bool preserve,
                        struct cf_kvkey **key, struct cf_buf *chain, char *why,
                        size_t whysz) CF_NODISCARD;
/* Export: PKCS#12 with an empty password / PEM (PKCS#8 "PRIVATE KEY" then the chain, leaf
 * first); k NULL leaves the key out (a non-exportable certificate). */
cf_err cf_cert_to_pkcs12(const struct cf_kvkey *k, const void *chain, size_t n,
                         struct cf_buf *pfx) CF_NODISCARD;
cf_err cf_cert_to_pem(const struct cf_kvkey *k, const void *chain, size_t n,
                      struct cf_buf *pem) CF_NODISCARD;
/* A CA's signature on a PKCS#10 request (DER): subject, public key and requested extensions
 * copied, issuer = the CA certificate's subject, random serial, the given validity. For the
 * private-CA issuer and for tests of the merge flow. CF_EBADPARAM when the CSR does not parse
 * or its self-signature does not verify. */
cf_err cf_cert_sign_csr(const struct cf_kvkey *ca_key, const void *ca_der, size_t ca_len,
                        const void *csr_der, size_t csr_len, int64_t not_before,
                        int64_t not_after, struct cf_buf *der) CF_NODISCARD;


/* ==== certificates whose key Coffer does not hold (x509_assemble.c): HSM keys ====
 * The same request / self-signed certificate as cf_cert_csr / cf_cert_self_signed (same names,
 * extensions, serial, digests), but the signature comes from sign: it gets the digest of the
 * to-be-signed DER and the keys API algorithm (RS256 for RSA; ES256, ES256K, ES384, ES512 by
 * curve) and appends the signature as the keys API returns it (RSA: modulus-size bytes; EC:
 * r||s). The DER is assembled here and verified with the public key before it is appended
 * (CF_ECRYPTO when it does not verify). public_jwk: the key's public members as a JSON object
 * text, {"n","e"} (RSA) or {"crv","x","y"} (EC) - CF_EINVAL when it is neither. */
typedef cf_err (*cf_cert_sign_fn)(void *arg, const char *alg, const void *digest, size_t dlen,
                                  struct cf_buf *sig);
struct cf_cert_signer {
    const char *public_jwk;
    cf_cert_sign_fn sign;
    void *arg;
};
cf_err cf_cert_csr_signer(const struct cf_cert_signer *s, const struct cf_cert_req *req,
                          struct cf_buf *der, char *why, size_t whysz) CF_NODISCARD;
cf_err cf_cert_self_signed_signer(const struct cf_cert_signer *s, const struct cf_cert_req *req,
                                  struct cf_buf *der, char *why, size_t whysz) CF_NODISCARD;
/* *match: the certificate's public key is the one of public_jwk (as above). */
cf_err cf_cert_jwk_matches(const void *der, size_t len, const char *public_jwk,
                           bool *match) CF_NODISCARD;

#endif
