/* x509_int.h - the X.509 builders of pkcs12.c that x509_assemble.c shares (not part of the
 * contract): the subject parser and the extension set of a cf_cert_req, so a certificate whose
 * key is on a token carries exactly the names and extensions of a software-key one. */
#ifndef CF_CRYPTO_X509_INT_H
#define CF_CRYPTO_X509_INT_H

#include "base/cf.h"
#include "crypto/crypto.h"

#include <openssl/x509.h>

/* The self-signed certificate of req for pk, unsigned: subject = issuer, serial, validity,
 * req's extensions and the key ids (pkcs12.c). */
cf_err cf_cert_int_tbs(const struct cf_cert_req *req, EVP_PKEY *pk, X509 **out, char *why,
                       size_t whysz);
/* As pkcs12.c's parse_subject / build_exts (CF_EBADPARAM with a reason in why). */
cf_err cf_cert_int_subject(const char *s, X509_NAME **out, char *why, size_t whysz);
cf_err cf_cert_int_exts(const struct cf_cert_req *req, STACK_OF(X509_EXTENSION) * *out, char *why,
                        size_t whysz);

#endif
