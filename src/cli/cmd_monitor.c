/* cmd_monitor.c - `coffer monitor diagnostic-settings ...` (cmd_monitor.h) against the server's
 * Microsoft.Insights/diagnosticSettings (api-version 2021-05-01-preview, what az uses).
 *
 * Map: options - body and shape (pure) - the resource URL - the four commands. */
#include "base/cf.h"
#include "cli/cmd_monitor.h"

#define DIAG_API "api-version=2021-05-01-preview"
#define DIAGS "/providers/Microsoft.Insights/diagnosticSettings"

/* clang-format off */
#define O_RES {"--resource", NULL, OPT_STR, true, "ID of the resource: a vault, or /subscriptions/ID for the server-wide setting."}
#define O_END {NULL, NULL, OPT_STR, false, NULL}
const struct cf_cli_opt cf_cli_o_diag_create[] = {
    {"--name", "-n", OPT_STR, true, "The name of the diagnostic setting."},
    O_RES,
    {"--logs", NULL, OPT_STR, false, "JSON encoded list of logs settings, e.g. '[{\"category\":\"AuditEvent\",\"enabled\":true}]'."},
    {"--metrics", NULL, OPT_STR, false, "JSON encoded list of metric settings."},
    {"--stream", NULL, OPT_STR, true, "The cofferd stream ([stream.NAME] in its configuration) the logs go to."},
    O_END};
const struct cf_cli_opt cf_cli_o_diag_list[] = {O_RES, O_END};
const struct cf_cli_opt cf_cli_o_diag_named[] = {
    {"--name", "-n", OPT_STR, true, "The name of the diagnostic setting."},
    O_RES, O_END};
/* clang-format on */

/* ---- body and shape ---- */

static struct cf_val *json_list(const char *text, const char *what, char *err, size_t errlen)
{
    struct cf_val *v = NULL;
    if (cf_val_parse(text, strlen(text), &v) != CF_OK || v->type != CF_VAL_ARR) {
        cf_val_unref(v);
        snprintf(err, errlen,
                 "argument %s: expected a JSON list, e.g. "
                 "'[{\"category\":\"AuditEvent\",\"enabled\":true}]'",
                 what);
        return NULL;
    }
    return v;
}

struct cf_val *cf_cli_diag_body(const char *logs, const char *metrics, const char *stream,
                                char *err, size_t errlen)
{
    struct cf_val *body = NULL, *props = NULL, *l = NULL, *m = NULL;

    err[0] = '\0';
    if (!logs && !metrics) {
        snprintf(err, errlen, "usage error: --logs and/or --metrics is required");
        return NULL;
    }
    if ((logs && !(l = json_list(logs, "--logs", err, errlen))) ||
        (metrics && !(m = json_list(metrics, "--metrics", err, errlen))))
        goto fail;
    body = cf_val_obj();
    props = cf_val_obj();
    if (!body || !props || (l && cf_val_set(props, "logs", cf_val_ref(l))) ||
        (m && cf_val_set(props, "metrics", cf_val_ref(m))) ||
        cf_val_set(props, "streamName", cf_val_str(stream)) ||
        cf_val_set(body, "properties", cf_val_ref(props))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    cf_val_unref(props);
    cf_val_unref(l);
    cf_val_unref(m);
    return body;
fail:
    cf_val_unref(body);
    cf_val_unref(props);
    cf_val_unref(l);
    cf_val_unref(m);
    return NULL;
}

struct cf_val *cf_cli_shape_diag(const struct cf_val *arm)
{
    const struct cf_val *p = cf_val_get(arm, "properties");
    struct cf_val *o = cf_val_obj();

    if (!o || cf_val_set(o, "id", cf_cli_copy(cf_val_get(arm, "id"))) ||
        cf_val_set(o, "name", cf_cli_copy(cf_val_get(arm, "name"))) ||
        cf_val_set(o, "type", cf_cli_copy(cf_val_get(arm, "type"))) ||
        cf_val_set(o, "logs", cf_cli_copy(cf_val_get(p, "logs"))) ||
        cf_val_set(o, "metrics", cf_cli_copy(cf_val_get(p, "metrics"))) ||
        cf_val_set(o, "streamName", cf_cli_copy(cf_val_get(p, "streamName")))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* ---- URL ---- */

/* {mgmt}{resource}/providers/Microsoft.Insights/diagnosticSettings[/name]?api-version, the
 * resource's segments percent-encoded. Returns an exit code or 0. */
static int diag_url(struct cf_cli_run *r, const char *name, char *url, size_t n)
{
    const char *res = cf_cli_arg(r, "--resource"), *p;
    char aud[600], enc[1536], seg[400], eseg[1200];
    size_t k = 0;

    if (!res || res[0] != '/' || strncasecmp(res, "/subscriptions/", 15) != 0 ||
        (strchr(res + 15, '/') && !strcasestr(res, "/providers/Microsoft.KeyVault/vaults/")))
        return cf_cli_fail(r, 2,
                           "--resource must be the id of a Key Vault "
                           "(/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/"
                           "vaults/V) or of the subscription (/subscriptions/S).");
    enc[0] = '\0';
    for (p = res; *p == '/';) {
        size_t len = strcspn(p + 1, "/");
        if (len == 0)
            break;
        snprintf(seg, sizeof(seg), "%.*s", (int)CF_MIN(len, sizeof(seg) - 1), p + 1);
        cf_cli_pct(seg, eseg, sizeof(eseg));
        k += (size_t)snprintf(enc + k, sizeof(enc) - CF_MIN(k, sizeof(enc)), "/%s", eseg);
        if (k >= sizeof(enc))
            return cf_cli_fail(r, 2, "The resource id is too long.");
        p += 1 + len;
    }
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    if (name) {
        cf_cli_pct(name, seg, sizeof(seg));
        snprintf(url, n, "%s%s" DIAGS "/%s?" DIAG_API, aud, enc, seg);
    } else {
        snprintf(url, n, "%s%s" DIAGS "?" DIAG_API, aud, enc);
    }
    return 0;
}

/* ---- commands ---- */

int cf_cli_cmd_diag_create(struct cf_cli_run *r)
{
    struct cf_val *body;
    char url[4096], err[256];
    int rc;

    body = cf_cli_diag_body(cf_cli_arg(r, "--logs"), cf_cli_arg(r, "--metrics"),
                            cf_cli_arg(r, "--stream"), err, sizeof(err));
    if (!body)
        return cf_cli_fail(r, 2, "%s", err);
    if ((rc = diag_url(r, cf_cli_arg(r, "--name"), url, sizeof(url))) != 0)
        goto out;
    rc = cf_cli_mgmt_show(r, "PUT", url, body, cf_cli_shape_diag);
out:
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_diag_list(struct cf_cli_run *r)
{
    char url[4096];
    int rc;

    if ((rc = diag_url(r, NULL, url, sizeof(url))) != 0)
        return rc;
    return cf_cli_mgmt_list(r, url, cf_cli_shape_diag);
}

/* show (shape) and delete (NULL: prints nothing) of the setting --name. */
static int named_call(struct cf_cli_run *r, const char *method, cf_cli_shape_fn shape)
{
    char url[4096];
    int rc;
    if ((rc = diag_url(r, cf_cli_arg(r, "--name"), url, sizeof(url))) != 0)
        return rc;
    return cf_cli_mgmt_show(r, method, url, NULL, shape);
}

int cf_cli_cmd_diag_show(struct cf_cli_run *r)
{
    return named_call(r, "GET", cf_cli_shape_diag);
}

int cf_cli_cmd_diag_delete(struct cf_cli_run *r)
{
    return named_call(r, "DELETE", NULL);
}
