/* cli_int.h - what the CLI's own files share: the command table types, the per-invocation run
 * state, and the helpers handlers use (arguments, service calls, result shaping). */
#ifndef CF_CLI_INT_H
#define CF_CLI_INT_H

#include "base/cf.h"
#include "cli/cli.h"
#include "client/client.h"

enum cf_cli_opt_type {
    OPT_STR,  /* one value */
    OPT_INT,  /* one integer value */
    OPT_TIME, /* one ISO-8601 value */
    OPT_FLAG, /* no value */
    OPT_BOOL, /* az's three-state flag: alone = true, or followed by true/false */
    OPT_LIST, /* zero or more values up to the next option (--tags a=1 b=2) */
};

struct cf_cli_opt {
    const char *name;  /* "--vault-name" */
    const char *alias; /* "-n" or NULL */
    enum cf_cli_opt_type type;
    bool required;
    const char *help;
};

struct cf_cli_run;
typedef int (*cf_cli_handler)(struct cf_cli_run *r);

enum {
    CMD_LOGIN = 1 << 0, /* needs a profile */
    CMD_SHOW = 1 << 1,  /* a 404 exits 3 (az's ResourceNotFound) */
};

struct cf_cli_cmd {
    const char *group; /* "keyvault secret"; "" for top level */
    const char *name;  /* "show" */
    cf_cli_handler fn;
    unsigned flags;
    const char *summary;
    const struct cf_cli_opt *opts; /* terminated by a NULL name */
    const struct cf_cli_col *table; /* table transformer or NULL */
};

struct cf_cli_group {
    const char *name;
    const char *summary;
};

extern const struct cf_cli_cmd cf_cli_commands[];
extern const size_t cf_cli_ncommands;
extern const struct cf_cli_group cf_cli_groups[];
extern const size_t cf_cli_ngroups;

#define CF_CLI_MAX_OPTS 40
#define CF_CLI_MAX_LIST 64

struct cf_cli_arg {
    bool present;
    const char *value;                /* STR/INT/TIME/BOOL ("true"/"false") */
    const char *list[CF_CLI_MAX_LIST]; /* LIST */
    size_t nlist;
};

struct cf_cli_run {
    struct cf_cli_ctx *ctx;
    const struct cf_cli_cmd *cmd;
    struct cf_cli_arg args[CF_CLI_MAX_OPTS];
    enum cf_cli_fmt fmt;
    const char *query;
    char config_dir[2048];
    struct cf_cli_profile prof;
    bool have_profile;
    struct cf_client *client;
    struct cf_val *result; /* what the command prints (NULL = nothing) */
};

/* ---- commands.c ---- */
const char *cf_cli_env(struct cf_cli_run *r, const char *name);
int64_t cf_cli_now(struct cf_cli_run *r);
/* The argument of option name (as in the table), NULL when absent. */
const char *cf_cli_arg(struct cf_cli_run *r, const char *name);
const struct cf_cli_arg *cf_cli_argv(struct cf_cli_run *r, const char *name);
bool cf_cli_has(struct cf_cli_run *r, const char *name);
/* Prints "ERROR: <msg>" on stderr and returns code. */
int cf_cli_fail(struct cf_cli_run *r, int code, const char *fmt, ...) CF_PRINTF(3, 4);

/* ---- cmd_common.c: service calls ---- */
struct cf_cli_http {
    long status;
    struct cf_val *body; /* parsed JSON body, or NULL when empty/not JSON */
    char location[1024];
};
/* Creates r->client (the profile's CA file, the CLI's user agent) unless there is one. 0, or the
 * exit code of the error it printed. */
int cf_cli_ensure_client(struct cf_cli_run *r);
/* Gets a token for audience (cached or fresh) into *tok (malloc'd, caller wipes+frees). */
int cf_cli_token(struct cf_cli_run *r, const char *audience, char **tok);
/* Calls the service with a token for audience. On a transport error or an HTTP error status
 * prints the az-style error and returns the exit code; 0 on success (2xx). body_val may be NULL.
 * When ok404 is set a 404 is returned as success with h->status 404 (existence checks). */
int cf_cli_call(struct cf_cli_run *r, const char *method, const char *url, const char *audience,
                const struct cf_val *body_val, bool ok404, struct cf_cli_http *h);
void cf_cli_http_release(struct cf_cli_http *h);
/* GETs url and every nextLink, appending each page's "value" elements to *out (an array). */
int cf_cli_list_all(struct cf_cli_run *r, const char *url, const char *audience,
                    struct cf_val **out);
/* Audiences and endpoints from the profile. */
void cf_cli_mgmt_audience(struct cf_cli_run *r, char *out, size_t n);
void cf_cli_data_audience(struct cf_cli_run *r, char *out, size_t n);
/* https://{vault}.{suffix}[:port] */
void cf_cli_vault_url(struct cf_cli_run *r, const char *vault, char *out, size_t n);
/* Percent-encodes a path segment into out. */
void cf_cli_pct(const char *s, char *out, size_t n);
/* Copies a JSON value into a tree node, or null when absent. */
struct cf_val *cf_cli_copy(const struct cf_val *v);
/* Unix seconds (int) -> ISO string value; null when absent. */
struct cf_val *cf_cli_time_val(const struct cf_val *unix_s);
/* ARM ISO time string -> Python isoformat ("...+00:00"); null when absent. */
struct cf_val *cf_cli_arm_time_val(const struct cf_val *s);
/* Parses "k=v" items into an object (az: "k" alone gives ""). */
struct cf_val *cf_cli_tags(const struct cf_cli_arg *a);

/* ---- cmd_common.c: data-plane objects (keys, certificates, secrets) ---- */
/* What the shared plumbing needs to know of an object kind. */
struct cf_cli_kind {
    const char *coll;         /* "keys": {vault}/keys/{name}, {vault}/deletedkeys/{name} */
    const char *noun;         /* "key", as in "argument --id: invalid key id" */
    const char *api;          /* the query's api-version ("api-version=7.5") */
    const char *latest_alias; /* an id's version segment that means the latest, or NULL */
};
/* An object's address: the vault's base URL (no trailing slash), the percent-encoded name and
 * the version ("" = latest). */
struct cf_cli_addr {
    char base[600];
    char name[256];
    char version[64];
};
/* Parses https://host[:port]/{coll|deleted<coll>}/{name}[/{version}] into a. */
bool cf_cli_parse_id(const struct cf_cli_kind *k, const char *id, struct cf_cli_addr *a);
/* a from --id, or --vault-name (and --name when need_name); --version when given. 0, or the
 * exit code of the usage error it printed. */
int cf_cli_resolve(struct cf_cli_run *r, const struct cf_cli_kind *k, bool need_name,
                   struct cf_cli_addr *a);
/* cf_cli_call with the data-plane audience (errors are fatal, 404 included). */
int cf_cli_data_call(struct cf_cli_run *r, const char *method, const char *url,
                     const struct cf_val *body, struct cf_cli_http *h);
/* Resolves a named object, then a bodyless method on {base}{prefix}{name}{suffix}?{api}. */
int cf_cli_named_call(struct cf_cli_run *r, const struct cf_cli_kind *k, const char *method,
                      const char *prefix, const char *suffix, struct cf_cli_http *h);
/* Appends the file at path to b (its maximum bounds the size); az's error lines. */
int cf_cli_read_whole(struct cf_cli_run *r, const char *path, struct cf_buf *b);
/* Writes data to path with mode 0600; excl refuses an existing file, else it is truncated. A
 * failed write removes the file. */
int cf_cli_write_whole(struct cf_cli_run *r, const char *path, const void *data, size_t n,
                       bool excl);
/* `... backup`: POST {base}/{coll}/{name}/backup, the decoded blob written to --file. */
int cf_cli_backup(struct cf_cli_run *r, const struct cf_cli_kind *k);
/* `... restore`: --file's blob POSTed to {base}/{coll}/restore; the caller shapes h. */
int cf_cli_restore(struct cf_cli_run *r, const struct cf_cli_kind *k, struct cf_cli_http *h);
/* {method} {base}/{coll}/{name}/{version}?{api} with an optional JSON body (show, download,
 * set-attributes). An empty version leaves the trailing '/': the latest, as the server reads it. */
int cf_cli_version_call(struct cf_cli_run *r, const struct cf_cli_kind *k,
                        const struct cf_cli_addr *a, const char *method, const struct cf_val *body,
                        struct cf_cli_http *h);
/* `... show`: resolves a named object (cf_cli_resolve) and GETs that version. */
int cf_cli_show_call(struct cf_cli_run *r, const struct cf_cli_kind *k, struct cf_cli_http *h);
/* Sets r->result to v (shaped from h->body; NULL = out of memory) and releases h. */
int cf_cli_set_result(struct cf_cli_run *r, struct cf_cli_http *h, struct cf_val *v);
/* Adds what a list prints for item to out (nothing to skip it); CF_OK or CF_ENOMEM. */
typedef cf_err (*cf_cli_item_fn)(struct cf_cli_run *r, const struct cf_val *item, const void *arg,
                                 struct cf_val *out);
/* `... list*`: checks --maxresults, GETs url and every nextLink, and sets r->result to the
 * array add() builds, cut at --maxresults entries. */
int cf_cli_list_items(struct cf_cli_run *r, const char *url, cf_cli_item_fn add, const void *arg);
/* `... list`, `list-versions`, `list-deleted`: resolves the vault (and the name when named), then
 * cf_cli_list_items on {base}/{coll}[/{name}]{tail}?maxresults=25&{extra}{api}; extra is "" or
 * ends in '&'. */
int cf_cli_list_kind(struct cf_cli_run *r, const struct cf_cli_kind *k, const char *coll,
                     bool named, const char *tail, const char *extra, cf_cli_item_fn add,
                     const void *arg);
/* az's key and secret lists hide certificate-backed (managed) items in `list` unless
 * --include-managed is true. */
bool cf_cli_managed_hidden(struct cf_cli_run *r, const struct cf_val *item);

/* ---- cmd_common.c: management plane (ARM resources) ---- */
#define CF_CLI_VAULT_API "api-version=2023-07-01" /* Microsoft.KeyVault/vaults */
/* Shapes one resource for printing; NULL = out of memory. */
typedef struct cf_val *(*cf_cli_shape_fn)(const struct cf_val *res);
/* cf_cli_call with the management audience (errors are fatal, 404 included). */
int cf_cli_mgmt_call(struct cf_cli_run *r, const char *method, const char *url,
                     const struct cf_val *body, struct cf_cli_http *h);
/* cf_cli_mgmt_call whose answer prints as shape(body); shape NULL prints nothing. */
int cf_cli_mgmt_show(struct cf_cli_run *r, const char *method, const char *url,
                     const struct cf_val *body, cf_cli_shape_fn shape);
/* GETs url and every nextLink (management audience); r->result is the array of shape(item), or
 * the items as listed when shape is NULL. */
int cf_cli_mgmt_list(struct cf_cli_run *r, const char *url, cf_cli_shape_fn shape);
/* The resource group of vault name: --resource-group when given, else found by listing the
 * subscription's vaults (names compare case-insensitively; vault names are unique). Not found:
 * "The Vault '<name>' not found within subscription." and notfound_rc. */
int cf_cli_vault_group(struct cf_cli_run *r, const char *name, char *rg, size_t n,
                       int notfound_rc);

/* ---- handlers ---- */
int cf_cli_cmd_login(struct cf_cli_run *r);
int cf_cli_cmd_logout(struct cf_cli_run *r);
int cf_cli_cmd_account_show(struct cf_cli_run *r);
int cf_cli_cmd_group_create(struct cf_cli_run *r);
int cf_cli_cmd_group_list(struct cf_cli_run *r);
int cf_cli_cmd_group_show(struct cf_cli_run *r);
int cf_cli_cmd_group_delete(struct cf_cli_run *r);
int cf_cli_cmd_vault_create(struct cf_cli_run *r);
int cf_cli_cmd_vault_list(struct cf_cli_run *r);
int cf_cli_cmd_vault_show(struct cf_cli_run *r);
int cf_cli_cmd_vault_update(struct cf_cli_run *r);
int cf_cli_cmd_vault_delete(struct cf_cli_run *r);
int cf_cli_cmd_vault_recover(struct cf_cli_run *r);
int cf_cli_cmd_vault_purge(struct cf_cli_run *r);
int cf_cli_cmd_vault_list_deleted(struct cf_cli_run *r);
int cf_cli_cmd_vault_show_deleted(struct cf_cli_run *r);
int cf_cli_cmd_secret_set(struct cf_cli_run *r);
int cf_cli_cmd_secret_show(struct cf_cli_run *r);
int cf_cli_cmd_secret_list(struct cf_cli_run *r);
int cf_cli_cmd_secret_list_versions(struct cf_cli_run *r);
int cf_cli_cmd_secret_list_deleted(struct cf_cli_run *r);
int cf_cli_cmd_secret_set_attributes(struct cf_cli_run *r);
int cf_cli_cmd_secret_delete(struct cf_cli_run *r);
int cf_cli_cmd_secret_recover(struct cf_cli_run *r);
int cf_cli_cmd_secret_purge(struct cf_cli_run *r);
int cf_cli_cmd_secret_show_deleted(struct cf_cli_run *r);
int cf_cli_cmd_secret_backup(struct cf_cli_run *r);
int cf_cli_cmd_secret_restore(struct cf_cli_run *r);
int cf_cli_cmd_secret_download(struct cf_cli_run *r);

/* Shaping (cmd_secret.c / cmd_arm.c), exposed for unit tests. */
struct cf_val *cf_cli_shape_secret(const struct cf_val *b, bool deleted, bool item);
struct cf_val *cf_cli_shape_vault(const struct cf_val *v);
struct cf_val *cf_cli_shape_group(const struct cf_val *g);

#endif
