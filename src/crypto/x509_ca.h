/* x509_ca.h - the one X.509 step the certificates' private CA (vault/ca.c) needs beyond
 * crypto.h's pkcs12.c: turning a self-signed certificate into a CA root. A separate header so
 * crypto.h (another module's contract) stays untouched. */
#ifndef CF_CRYPTO_X509_CA_H
#define CF_CRYPTO_X509_CA_H

#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"

/* der: a self-signed certificate of k (cf_cert_self_signed). Appends to out the same
 * certificate with basicConstraints replaced by a critical CA:TRUE, pathlen:0 and re-signed
 * with k (new signature, same serial, subject, validity and other extensions). CF_EBADPARAM
 * when der does not parse or is not k's. */
cf_err cf_cert_make_ca(const struct cf_kvkey *k, const void *der, size_t len,
                       struct cf_buf *out) CF_NODISCARD;

#endif
