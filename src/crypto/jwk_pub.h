/* jwk_pub.h - (token-authority addition) public keys to and from JWK for tokens of trusted
 * external OIDC issuers: RSA public keys from a JWK's n/e, and any key's public JWK for tests
 * that play such an issuer. Same conventions as crypto.h (which this extends; kept in its own
 * header so crypto.h stays untouched by this change). */
#ifndef CF_CRYPTO_JWK_PUB_H
#define CF_CRYPTO_JWK_PUB_H

#include "base/cf.h"
#include "base/json.h"
#include "base/str.h"
#include "crypto/crypto.h"

/* Public RSA key from a JWK's "n" and "e" (unpadded base64url, big-endian). The modulus must be
 * 2048..8192 bits, the exponent odd, 3..2^32-1. CF_EINVAL for anything else. */
cf_err cf_pkey_from_jwk_rsa(struct cf_str n_b64url, struct cf_str e_b64url,
                            struct cf_pkey **out) CF_NODISCARD;
/* True for an RSA key (public or private). */
bool cf_pkey_is_rsa(const struct cf_pkey *k);
/* Writes the public JWK object {"kty","use":"sig","kid","alg", n/e or crv/x/y} of an RSA or EC
 * P-256 key with w; kid and alg are omitted when NULL. CF_EINVAL for another key type. */
cf_err cf_pkey_write_public_jwk(const struct cf_pkey *k, const char *kid, const char *alg,
                                struct cf_jw *w);

#endif
