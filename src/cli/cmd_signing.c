/* cmd_signing.c - `coffer ad signing-key list | rotate` (cmd_signing.h).
 *
 * Map: url (management base + the provider path), cf_cli_shape_signing_key, the two handlers. */
#include "base/cf.h"
#include "cli/cmd_signing.h"

#define SIGNING_PATH "/providers/Microsoft.Coffer/signingKeys"
#define SIGNING_API "api-version=2024-01-01"

const struct cf_cli_opt cf_cli_o_signing_none[] = {{NULL, NULL, OPT_STR, false, NULL}};

struct cf_val *cf_cli_shape_signing_key(const struct cf_val *res)
{
    const struct cf_val *p = cf_val_get(res, "properties");
    struct cf_val *o = cf_val_obj();

    if (!o || cf_val_set(o, "kid", cf_cli_copy(cf_val_get(p, "kid"))) ||
        cf_val_set(o, "alg", cf_cli_copy(cf_val_get(p, "alg"))) ||
        cf_val_set(o, "active", cf_cli_copy(cf_val_get(p, "active"))) ||
        cf_val_set(o, "created", cf_cli_copy(cf_val_get(p, "created"))) ||
        cf_val_set(o, "retired", cf_cli_copy(cf_val_get(p, "retired"))) ||
        cf_val_set(o, "retireAfter", cf_cli_copy(cf_val_get(p, "retireAfter")))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

static void url(struct cf_cli_run *r, const char *suffix, char *out, size_t n, char *aud,
                size_t audn)
{
    cf_cli_mgmt_audience(r, aud, audn);
    snprintf(out, n, "%s" SIGNING_PATH "%s?" SIGNING_API, aud, suffix);
}

int cf_cli_cmd_signing_key_list(struct cf_cli_run *r)
{
    char u[1024], aud[600];

    url(r, "", u, sizeof(u), aud, sizeof(aud));
    return cf_cli_mgmt_list(r, u, cf_cli_shape_signing_key);
}

int cf_cli_cmd_signing_key_rotate(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char u[1024], aud[600];
    int rc;

    url(r, "/rotate", u, sizeof(u), aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "POST", u, aud, NULL, false, &h)) != 0)
        return rc;
    r->result = cf_cli_shape_signing_key(h.body);
    cf_cli_http_release(&h);
    return r->result ? 0 : cf_cli_fail(r, 1, "unexpected answer from the server");
}
