/* cmd_events.c - `coffer keyvault event-subscription create / list / show / delete /
 * dead-letters`: the ARM resource Microsoft.EventGrid/eventSubscriptions under a vault
 * (azure-kv-security-ops.md §7), as `az eventgrid event-subscription` shapes it, addressed by
 * --vault-name as `az keyvault` commands are.
 *
 * create PUTs the subscription, then (unless --no-wait) polls it until the server's validation
 * handshake has run: Succeeded prints it (with properties.signingSecret, shown only by the
 * create), Failed exits 1.
 *
 * Map: options - vault lookup - the PUT body (pure) - commands. */
#include "base/cf.h"
#include "cli/cmd_events.h"

#include <time.h>

#define EG_API "api-version=2022-06-15"
#define POLL_MS 250
#define POLL_MAX_S 60

/* clang-format off */
#define O_VAULT {"--vault-name", NULL, OPT_STR, true, "Name of the Key Vault."}
#define O_NAME {"--name", "-n", OPT_STR, true, "Name of the event subscription."}
#define O_RG {"--resource-group", "-g", OPT_STR, false, "Resource group of the vault (found when omitted)."}
#define O_END {NULL, NULL, OPT_STR, false, NULL}
const struct cf_cli_opt cf_cli_o_evsub_create[] = {
    O_VAULT, O_NAME, O_RG,
    {"--endpoint", NULL, OPT_STR, true, "Webhook URL: https://, or http:// to a loopback address."},
    {"--included-event-types", NULL, OPT_LIST, false, "Space-separated event types (default: every Microsoft.KeyVault type)."},
    {"--event-delivery-schema", NULL, OPT_STR, false, "eventgridschema (default) or cloudeventschemav1_0."},
    {"--max-delivery-attempts", NULL, OPT_INT, false, "1-30 (default 30)."},
    {"--event-ttl", NULL, OPT_INT, false, "Event time to live in minutes, 1-1440 (default 1440)."},
    {"--no-wait", NULL, OPT_FLAG, false, "Do not wait for the validation handshake."},
    O_END};
const struct cf_cli_opt cf_cli_o_evsub_list[] = {O_VAULT, O_RG, O_END};
const struct cf_cli_opt cf_cli_o_evsub_named[] = {O_VAULT, O_NAME, O_RG, O_END};
/* clang-format on */

/* The vault's ARM id path (no host) into out: the group from -g, else found by listing. */
static int vault_path(struct cf_cli_run *r, char *out, size_t n)
{
    const char *name = cf_cli_arg(r, "--vault-name");
    char rg[200], erg[600], en[200];
    int rc;

    if ((rc = cf_cli_vault_group(r, name, rg, sizeof(rg), 3)) != 0)
        return rc;
    cf_cli_pct(rg, erg, sizeof(erg));
    cf_cli_pct(name, en, sizeof(en));
    snprintf(out, n, "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s",
             r->prof.subscription_id, erg, en);
    return 0;
}

/* https://management.../<vault>/providers/Microsoft.EventGrid/eventSubscriptions[/name][/sub]
 * ?api-version */
static int sub_url(struct cf_cli_run *r, bool named, const char *tail, char *url, size_t n)
{
    char path[1500], aud[600], en[300] = "";
    int rc;

    if ((rc = vault_path(r, path, sizeof(path))) != 0)
        return rc;
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    if (named)
        cf_cli_pct(cf_cli_arg(r, "--name"), en, sizeof(en));
    snprintf(url, n, "%s%s/providers/Microsoft.EventGrid/eventSubscriptions%s%s%s?" EG_API, aud,
             path, named ? "/" : "", en, tail ? tail : "");
    return 0;
}

struct cf_val *cf_cli_evsub_body(const char *endpoint, const struct cf_cli_arg *types,
                                 const char *schema, const char *max_attempts,
                                 const char *ttl_min, char *err, size_t errlen)
{
    struct cf_val *body = cf_val_obj(), *props = cf_val_obj(), *dest = cf_val_obj(),
                  *dprops = cf_val_obj(), *filter = cf_val_obj(), *retry = cf_val_obj();
    const char *sch = NULL;
    bool ok = body && props && dest && dprops && filter && retry;
    long v;
    char *end;

    err[0] = '\0';
    if (ok && schema) {
        if (!strcasecmp(schema, "eventgridschema"))
            sch = "EventGridSchema";
        else if (!strcasecmp(schema, "cloudeventschemav1_0"))
            sch = "CloudEventSchemaV1_0";
        else
            snprintf(err, errlen, "--event-delivery-schema: eventgridschema or "
                                  "cloudeventschemav1_0");
    }
    ok = ok && !err[0] && cf_val_set(dprops, "endpointUrl", cf_val_str(endpoint)) == CF_OK &&
         cf_val_set(dest, "endpointType", cf_val_str("WebHook")) == CF_OK &&
         cf_val_set(dest, "properties", cf_val_ref(dprops)) == CF_OK &&
         cf_val_set(props, "destination", cf_val_ref(dest)) == CF_OK;
    if (ok && types && types->present && types->nlist) {
        struct cf_val *arr = cf_val_arr();
        ok = arr != NULL;
        for (size_t i = 0; ok && i < types->nlist; i++)
            ok = cf_val_push(arr, cf_val_str(types->list[i])) == CF_OK;
        ok = ok && cf_val_set(filter, "includedEventTypes", cf_val_ref(arr)) == CF_OK;
        cf_val_unref(arr);
    }
    ok = ok && cf_val_set(props, "filter", cf_val_ref(filter)) == CF_OK;
    if (ok && sch)
        ok = cf_val_set(props, "eventDeliverySchema", cf_val_str(sch)) == CF_OK;
    if (ok && max_attempts) {
        v = strtol(max_attempts, &end, 10);
        if (*end || v < 1 || v > 30)
            snprintf(err, errlen, "--max-delivery-attempts must be 1-30");
        else
            ok = cf_val_set(retry, "maxDeliveryAttempts", cf_val_int(v)) == CF_OK;
    }
    if (ok && !err[0] && ttl_min) {
        v = strtol(ttl_min, &end, 10);
        if (*end || v < 1 || v > 1440)
            snprintf(err, errlen, "--event-ttl must be 1-1440");
        else
            ok = cf_val_set(retry, "eventTimeToLiveInMinutes", cf_val_int(v)) == CF_OK;
    }
    if (ok && !err[0] && (max_attempts || ttl_min))
        ok = cf_val_set(props, "retryPolicy", cf_val_ref(retry)) == CF_OK;
    ok = ok && !err[0] && cf_val_set(body, "properties", cf_val_ref(props)) == CF_OK;
    if (!ok && !err[0])
        snprintf(err, errlen, "out of memory");
    cf_val_unref(props);
    cf_val_unref(dest);
    cf_val_unref(dprops);
    cf_val_unref(filter);
    cf_val_unref(retry);
    if (!ok) {
        cf_val_unref(body);
        return NULL;
    }
    return body;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *state_of(const struct cf_val *v)
{
    const struct cf_val *s = cf_val_path(v, "properties.provisioningState");
    return s && s->type == CF_VAL_STR ? s->s : "";
}

int cf_cli_cmd_evsub_create(struct cf_cli_run *r)
{
    struct cf_cli_http h, g;
    struct cf_val *body, *secret;
    char url[4096], aud[600], err[200];
    int rc;

    body = cf_cli_evsub_body(cf_cli_arg(r, "--endpoint"), cf_cli_argv(r, "--included-event-types"),
                             cf_cli_arg(r, "--event-delivery-schema"),
                             cf_cli_arg(r, "--max-delivery-attempts"), cf_cli_arg(r, "--event-ttl"),
                             err, sizeof(err));
    if (!body)
        return cf_cli_fail(r, 2, "%s", err);
    if ((rc = sub_url(r, true, NULL, url, sizeof(url))) != 0) {
        cf_val_unref(body);
        return rc;
    }
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    rc = cf_cli_call(r, "PUT", url, aud, body, false, &h);
    cf_val_unref(body);
    if (rc)
        return rc;
    secret = cf_val_ref(cf_val_path(h.body, "properties.signingSecret"));
    r->result = cf_val_ref(h.body);
    cf_cli_http_release(&h);
    for (int waited = 0; !cf_cli_has(r, "--no-wait") && !strcmp(state_of(r->result), "Creating") &&
                         waited < POLL_MAX_S * 1000;
         waited += POLL_MS) {
        sleep_ms(POLL_MS);
        if ((rc = cf_cli_call(r, "GET", url, aud, NULL, false, &g)) != 0) {
            cf_val_unref(secret);
            return rc;
        }
        cf_val_unref(r->result);
        r->result = cf_val_ref(g.body);
        cf_cli_http_release(&g);
    }
    if (secret && r->result && r->result->type == CF_VAL_OBJ) {
        struct cf_val *p = cf_val_get(r->result, "properties");
        if (p && cf_val_set(p, "signingSecret", cf_val_ref(secret)) != CF_OK) {
            cf_val_unref(secret);
            return cf_cli_fail(r, 1, "out of memory");
        }
    }
    cf_val_unref(secret);
    if (!strcmp(state_of(r->result), "Failed"))
        return cf_cli_fail(r, 1,
                           "Webhook validation handshake failed for %s: the endpoint must answer "
                           "200 with {\"validationResponse\": <validationCode>}.",
                           cf_cli_arg(r, "--endpoint"));
    return 0;
}

int cf_cli_cmd_evsub_list(struct cf_cli_run *r)
{
    char url[4096];
    int rc;

    if ((rc = sub_url(r, false, NULL, url, sizeof(url))) != 0)
        return rc;
    return cf_cli_mgmt_list(r, url, NULL);
}

int cf_cli_cmd_evsub_show(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char url[4096];
    int rc;

    if ((rc = sub_url(r, true, NULL, url, sizeof(url))) != 0 ||
        (rc = cf_cli_mgmt_call(r, "GET", url, NULL, &h)) != 0)
        return rc;
    r->result = cf_val_ref(h.body);
    cf_cli_http_release(&h);
    return 0;
}

int cf_cli_cmd_evsub_delete(struct cf_cli_run *r)
{
    char url[4096];
    int rc;

    if ((rc = sub_url(r, true, NULL, url, sizeof(url))) != 0)
        return rc;
    return cf_cli_mgmt_show(r, "DELETE", url, NULL, NULL);
}

int cf_cli_cmd_evsub_dead_letters(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char url[4096];
    int rc;

    if ((rc = sub_url(r, true, "/deadLetters", url, sizeof(url))) != 0 ||
        (rc = cf_cli_mgmt_call(r, "GET", url, NULL, &h)) != 0)
        return rc;
    r->result = cf_val_ref(cf_val_get(h.body, "value"));
    if (!r->result)
        r->result = cf_val_arr();
    cf_cli_http_release(&h);
    return 0;
}
