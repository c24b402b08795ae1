/* cli.h - the `coffer` command-line tool (shaped like `az keyvault`), as a library so its parts
 * can be unit-tested: a small value tree (value.c), a JMESPath subset (query.c), az's output
 * formats (output.c), the login profile and token cache (profile.c), argument parsing and the
 * command table (commands.c), and the command handlers (cmd_*.c).
 *
 * Ownership: cf_val nodes are reference-counted; every function returning a cf_val * returns a
 * new reference that the caller drops with cf_val_unref. Strings in the tree are wiped when a
 * node is freed (secret values pass through it). No globals: a struct cf_cli_ctx carries the
 * streams, environment and config directory through one invocation. */
#ifndef CF_CLI_H
#define CF_CLI_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"

/* ---- value tree (value.c) ---- */
enum cf_val_type { CF_VAL_NULL, CF_VAL_BOOL, CF_VAL_INT, CF_VAL_REAL, CF_VAL_STR, CF_VAL_ARR,
                   CF_VAL_OBJ };

struct cf_val {
    enum cf_val_type type;
    int refs;
    bool b;
    int64_t i;
    double d;
    char *s;        /* STR: NUL-terminated copy (may contain NUL; use slen) */
    size_t slen;
    struct cf_val **items; /* ARR elements / OBJ values */
    char **keys;           /* OBJ keys, parallel to items */
    size_t n, cap;
    /* OBJ built by a query's multiselect hash: table and tsv keep its key order (az's
     * OrderedDict); plain objects print with sorted keys. */
    bool ordered;
};

struct cf_val *cf_val_null(void);
struct cf_val *cf_val_bool(bool b);
struct cf_val *cf_val_int(int64_t i);
struct cf_val *cf_val_real(double d);
struct cf_val *cf_val_str(const char *s);            /* NULL s gives a null value */
struct cf_val *cf_val_strn(const char *s, size_t n);
struct cf_val *cf_val_arr(void);
struct cf_val *cf_val_obj(void);
struct cf_val *cf_val_ref(struct cf_val *v);
void cf_val_unref(struct cf_val *v);
/* Append/set take over the reference to v (also on failure, when v is dropped). A NULL v (an
 * allocation failure upstream) makes the call fail with CF_ENOMEM. */
cf_err cf_val_push(struct cf_val *arr, struct cf_val *v) CF_NODISCARD;
cf_err cf_val_set(struct cf_val *obj, const char *key, struct cf_val *v) CF_NODISCARD;
/* Borrowed lookups; NULL when absent or wrong type. */
struct cf_val *cf_val_get(const struct cf_val *obj, const char *key);
struct cf_val *cf_val_at(const struct cf_val *arr, size_t i);
/* Follows a dotted path of object keys ("attributes.enabled"). */
struct cf_val *cf_val_path(const struct cf_val *v, const char *dotted);
bool cf_val_is_str(const struct cf_val *v, const char *s);
/* JMESPath truthiness: false, null, "", [] and {} are false. */
bool cf_val_truthy(const struct cf_val *v);
/* Deep equality (JMESPath ==): numbers compare by value, bool never equals a number. */
bool cf_val_equal(const struct cf_val *a, const struct cf_val *b);
/* Converts a parsed JSON document (base/json.h) to a tree. NULL on allocation failure. */
struct cf_val *cf_val_from_json(const struct cf_json *j);
cf_err cf_val_parse(const char *text, size_t n, struct cf_val **out) CF_NODISCARD;
/* Compact JSON with keys in insertion order (request bodies). */
cf_err cf_val_dump(const struct cf_val *v, struct cf_buf *out) CF_NODISCARD;
/* Python's repr() of a float, as az prints numbers. */
void cf_val_fmt_real(double d, char *out, size_t n);

/* ---- query (query.c): the JMESPath subset az users write ---- */
struct cf_cli_query;
/* Compiles expr; on a syntax error returns CF_EINVAL with a reason in err. */
cf_err cf_cli_query_compile(const char *expr, struct cf_cli_query **out, char *err,
                            size_t errlen) CF_NODISCARD;
/* Evaluates q on input; *out is a new reference (a null value for "nothing"). CF_EINVAL with
 * a reason for a runtime type error (e.g. length() of a number). */
cf_err cf_cli_query_eval(const struct cf_cli_query *q, struct cf_val *input, struct cf_val **out,
                         char *err, size_t errlen) CF_NODISCARD;
void cf_cli_query_free(struct cf_cli_query *q);

/* ---- output (output.c) ---- */
enum cf_cli_fmt { CF_FMT_JSON, CF_FMT_JSONC, CF_FMT_TABLE, CF_FMT_TSV, CF_FMT_YAML, CF_FMT_NONE };

/* A command's table transformer (az's table_transformer): one column per row; path is a
 * dotted path; blank_falsy reproduces az's `value or ' '` (false and "" print blank). */
struct cf_cli_col {
    const char *header;
    const char *path;
    bool blank_falsy;
};

bool cf_cli_fmt_parse(const char *s, enum cf_cli_fmt *out);
/* Renders v as az does for fmt. cols (NULL-header-terminated) applies only to table output
 * when no query is active. A NULL v prints nothing, as az prints nothing for a None result. */
cf_err cf_cli_render(struct cf_buf *out, const struct cf_val *v, enum cf_cli_fmt fmt,
                     bool query_active, const struct cf_cli_col *cols, char *err,
                     size_t errlen) CF_NODISCARD;
/* az's global transform: adds "resourceGroup" to every object whose "id" is an ARM resource id
 * under a resource group. */
cf_err cf_cli_add_resource_group(struct cf_val *v) CF_NODISCARD;
/* Unix seconds -> "2024-05-01T10:20:30+00:00" (Python's isoformat of an aware UTC datetime). */
void cf_cli_iso_time(int64_t unix_s, char out[40]);
/* Parses ISO-8601 ("2030-01-01", "2030-01-01T00:00:00Z", "...+02:00", fractions) to Unix s. */
bool cf_cli_parse_time(const char *s, int64_t *out);

/* ---- profile (profile.c) ---- */
struct cf_cli_profile {
    char tenant_id[128];
    char client_id[256];
    char *client_secret;       /* malloc'd, wiped on release */
    char authority[512];       /* e.g. https://login.localhost:8443 */
    char management_url[512];  /* e.g. https://management.localhost:8443 */
    char dns_suffix[256];      /* e.g. vault.localhost */
    int port;                  /* data-plane port; 443 = omit */
    char ca_file[1024];        /* "" = system trust */
    char subscription_id[128];
    char subscription_name[256];
    char environment[64];
    /* Certificate login (`login --service-principal --certificate FILE`): absolute path of a
     * PEM holding the private key and the certificate; "" = client secret login. As az, the
     * profile keeps the path, not the key: tokens are requested with a fresh client_assertion
     * signed from the file each time. */
    char cert_file[1024];
};

void cf_cli_profile_release(struct cf_cli_profile *p);
/* The config dir: $COFFER_CONFIG_DIR, else $HOME/.coffer. */
cf_err cf_cli_config_dir(const char *env_dir, const char *home, char *out, size_t n) CF_NODISCARD;
/* Writes dir/profile.json (0600; dir created 0700) atomically. */
cf_err cf_cli_profile_save(const char *dir, const struct cf_cli_profile *p) CF_NODISCARD;
/* CF_ENOTFOUND when there is no profile (not logged in). */
cf_err cf_cli_profile_load(const char *dir, struct cf_cli_profile *p) CF_NODISCARD;
/* Removes the profile and the token cache. */
cf_err cf_cli_profile_remove(const char *dir) CF_NODISCARD;
/* Token cache dir/tokens.json (0600): audience -> {accessToken, expiresOn}. get succeeds only
 * for a token valid for more than 5 more minutes at now_s. out gets a malloc'd copy. */
cf_err cf_cli_token_cache_get(const char *dir, const char *audience, int64_t now_s,
                              char **out) CF_NODISCARD;
cf_err cf_cli_token_cache_put(const char *dir, const char *audience, const char *token,
                              int64_t expires_on) CF_NODISCARD;
/* Builds the client_assertion MSAL sends for a certificate credential: a JWT RS256 with header
 * x5t (base64url SHA-1 of the DER certificate), claims aud = token_url, iss = sub = client_id,
 * jti (random GUID), nbf = iat = now_s, exp = now_s + 600. pem holds the certificate and its
 * unencrypted RSA private key. Appends to out (wipe it after use). CF_EINVAL (with a reason in
 * why, never key bytes) when pem has no certificate or no usable key. */
cf_err cf_cli_client_assertion(const char *pem, size_t pem_len, const char *client_id,
                               const char *token_url, int64_t now_s, struct cf_buf *out,
                               char *why, size_t whysz) CF_NODISCARD;
/* The DER of the first CERTIFICATE block of a PEM text (appended to der); CF_EINVAL if none. */
cf_err cf_cli_pem_cert_der(const char *pem, size_t pem_len, struct cf_buf *der) CF_NODISCARD;
/* Reads a whole file (at most max bytes) into out (caller wipes: it may hold a key). */
cf_err cf_cli_read_file(const char *path, size_t max, struct cf_buf *out) CF_NODISCARD;

/* Reads an env file of `export NAME="value"` lines; calls cb for each. */
cf_err cf_cli_read_env_file(const char *path,
                            void (*cb)(void *ctx, const char *name, const char *value),
                            void *ctx) CF_NODISCARD;

/* ---- invocation (commands.c) ---- */
struct cf_cli_ctx {
    FILE *out;
    FILE *err;
    /* getenv replacement, so tests control the environment; NULL = getenv. */
    const char *(*getenv)(void *ctx, const char *name);
    void *env_ctx;
    /* Overrides the time source for tests; NULL = time(). */
    int64_t (*now)(void *ctx);
};

/* Runs one `coffer` invocation (argv[0] is the program name). Returns the exit code: 0 ok,
 * 1 error, 2 usage error, 3 resource not found on a show command. */
int cf_cli_run(struct cf_cli_ctx *ctx, int argc, char **argv);

/* az-style error line for a service error body: "(Code) message", or the status text. */
void cf_cli_format_service_error(int status, const char *body, size_t len, char *out, size_t n);

#endif
