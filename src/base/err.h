/* err.h - the one error vocabulary of Coffer.
 *
 * Every function that acts returns cf_err; CF_OK is 0. The table below is the single source: the
 * enum, the names and the generic messages are generated from it. api/ maps each code to an HTTP
 * status and an Azure error code (api/errmap.c), and a unit test fails when a code is unmapped.
 * Messages here are generic and never carry caller data: request-specific text (a name, a
 * version) is composed by api/, which also guarantees no secret reaches an error body. */
#ifndef CF_ERR_H
#define CF_ERR_H

#define CF_ERR_TABLE(X)                                                                            \
    X(CF_OK, "ok")                                                                                 \
    X(CF_ENOMEM, "out of memory")                                                                  \
    X(CF_EINVAL, "invalid argument")                                                               \
    X(CF_EIO, "input/output error")                                                                \
    X(CF_ESTORE, "storage failure")                                                                \
    X(CF_EFULL, "storage is full")                                                                 \
    X(CF_EBUSY, "service busy")                                                                    \
    X(CF_ECRYPTO, "cryptographic operation failed")                                                \
    X(CF_ECORRUPT, "integrity check failed")                                                       \
    X(CF_ENOTFOUND, "not found")                                                                   \
    X(CF_EEXISTS, "already exists")                                                                \
    X(CF_EDELETED, "deleted but recoverable")                                                      \
    X(CF_EDISABLED, "object is disabled")                                                          \
    X(CF_EPURGEPROTECT, "purge protection is enabled")                                             \
    X(CF_EBADNAME, "invalid name")                                                                 \
    X(CF_EBADJSON, "malformed JSON")                                                               \
    X(CF_EBADPARAM, "invalid parameter")                                                           \
    X(CF_EBADVERSION, "invalid api-version")                                                       \
    X(CF_ETOOBIG, "too large")                                                                     \
    X(CF_EUNAUTH, "not authenticated")                                                             \
    X(CF_EBADCLIENT, "invalid client credentials")                                                 \
    X(CF_EFORBIDDEN, "forbidden")                                                                  \
    X(CF_ETHROTTLED, "too many requests")                                                          \
    X(CF_ESEALED, "server is sealed")                                                              \
    X(CF_ENOTIMPL, "not implemented")                                                              \
    X(CF_EINTERNAL, "internal error")

typedef enum {
#define CF_ERR_ENUM(code, msg) code,
    CF_ERR_TABLE(CF_ERR_ENUM)
#undef CF_ERR_ENUM
        CF_ERR_COUNT
} cf_err;

/* "CF_ENOTFOUND" for CF_ENOTFOUND; "CF_E?" for an out-of-range value. */
const char *cf_err_name(cf_err e);
/* The generic message of the table. */
const char *cf_err_msg(cf_err e);

#endif
