/* custody_int.h - inside custody: the PKCS#11 token (p11.c) and state-file helpers. */
#ifndef CF_CUSTODY_INT_H
#define CF_CUSTODY_INT_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/secret.h"

#include <p11-kit-1/p11-kit/pkcs11.h>

/* A logged-in session on one token of a dlopen'ed PKCS#11 module. Calls are serialised by a
 * mutex (one session). */
struct cf_p11;
/* CF_ENOTFOUND: no token with that label; CF_EUNAUTH: PIN refused; CF_EIO: module. */
struct cf_p11 *cf_p11_open(const char *module, const char *token_label, const char *pin,
                           cf_err *err);
void cf_p11_close(struct cf_p11 *p);
/* The AES-256 secret key object with CKA_LABEL label on the token (CKA_TOKEN, CKA_SENSITIVE,
 * CKA_EXTRACTABLE false), generated when create and absent (else CF_ENOTFOUND). Then
 * encrypts (CKM_AES_CBC_PAD, random 16-byte IV; out gets iv || ciphertext) or decrypts. */
cf_err cf_p11_encrypt(struct cf_p11 *p, const char *label, bool create, const void *pt,
                      size_t n, struct cf_buf *out);
cf_err cf_p11_decrypt(struct cf_p11 *p, const char *label, const void *ct, size_t n,
                      struct cf_secret **pt);
/* Whether the key object's attributes say it can never leave the token (for tests). */
cf_err cf_p11_key_is_protected(struct cf_p11 *p, const char *label, bool *yes);

/* The module's function list and the token's slot, for hsm.c's own sessions (which share
 * this object's login: PKCS#11 logs in per application and token, not per session). Valid
 * until cf_p11_close. */
CK_FUNCTION_LIST_PTR cf_p11_funcs(const struct cf_p11 *p);
CK_SLOT_ID cf_p11_slot(const struct cf_p11 *p);
struct cf_custody;
/* The custody object's token (pkcs11 provider), NULL for the others. */
struct cf_p11 *cf_custody__p11(struct cf_custody *c);

/* Atomic small-file write (tmp, fsync, rename, fsync dir) and whole-file read. */
cf_err cf_custody__write_file(const char *path, const void *p, size_t n, unsigned mode);
cf_err cf_custody__read_file(const char *path, struct cf_buf *out);

#endif
