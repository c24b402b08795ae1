/* h_events.c - Event Grid subscriptions on a vault (azure-kv-security-ops.md §7): the ARM
 * resource Microsoft.EventGrid/eventSubscriptions under .../vaults/{v}/providers/, and
 * Coffer's dead-letter listing. cap[0..3]: subscription, resource group, vault, name.
 *
 * Map: enter (tenant, subscription, the live vault and its canonical id), parse (the PUT
 * body -> a subscription record), write_sub (the ARM shape), handlers.
 *
 * Shape notes: the PUT answers 201 (created) or 200 with provisioningState "Creating" until
 * the handshake ran, which a GET then shows as Succeeded or Failed (clients poll). The signing
 * secret of the webhook signature (events.h) is in properties.signingSecret of the create's
 * answer only: it is never shown again. */
#include "base/cf.h"
#include "api/internal.h"
#include "base/log.h"
#include "events/events.h"

#define SUB_TYPE "Microsoft.EventGrid/eventSubscriptions"
#define EG_PROVIDER "/providers/Microsoft.EventGrid/eventSubscriptions"

struct ev_target {
    struct cf_vault v;
    char topic[400];
    char name[CF_EVENT_SUB_NAME_MAX + 1];
};

static bool copy_cap(struct cf_str s, char *out, size_t n)
{
    if (!s.p || s.len >= n || memchr(s.p, '\0', s.len))
        return false;
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return true;
}

/* Replies on failure. with_name: cap[3] is the subscription's name. */
static bool enter(struct api_req *r, struct ev_target *t, bool with_name)
{
    const struct cf_api_config *c = &r->api->cfg;
    char rg[91], vname[25];
    cf_err e;

    memset(t, 0, sizeof(*t));
    if (!c->events) {
        api_error(r, 404, "InvalidResourceType", NULL,
                  "The resource type 'eventSubscriptions' could not be found in the namespace "
                  "'Microsoft.EventGrid'.");
        return false;
    }
    if (!c->tenant_id || strcasecmp(r->who.tenant_id, c->tenant_id) != 0) {
        api_error(r, 401, "InvalidAuthenticationTokenTenant", NULL,
                  "The access token is from the wrong issuer.");
        return false;
    }
    if (!c->subscription_id || !cf_str_eq_ci(r->cap[0], cf_str_from(c->subscription_id))) {
        api_error(r, 404, "SubscriptionNotFound", NULL,
                  "The subscription '%.*s' could not be found.", (int)CF_MIN(r->cap[0].len, 64),
                  r->cap[0].p ? r->cap[0].p : "");
        return false;
    }
    if (!copy_cap(r->cap[1], rg, sizeof(rg)) || !copy_cap(r->cap[2], vname, sizeof(vname)) ||
        (e = cf_vault_get(c->vault, c->subscription_id, rg, vname, &t->v)) != CF_OK ||
        t->v.deleted_date != 0) {
        api_error(r, 404, "ResourceNotFound", NULL,
                  "The Resource 'Microsoft.KeyVault/vaults/%.*s' under resource group '%.*s' was "
                  "not found.",
                  (int)CF_MIN(r->cap[2].len, 64), r->cap[2].p ? r->cap[2].p : "",
                  (int)CF_MIN(r->cap[1].len, 90), r->cap[1].p ? r->cap[1].p : "");
        cf_vault_release(&t->v);
        return false;
    }
    snprintf(t->topic, sizeof(t->topic),
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s",
             c->subscription_id, t->v.resource_group, t->v.name);
    if (with_name && !copy_cap(r->cap[3], t->name, sizeof(t->name))) {
        api_error(r, 400, "InvalidEventSubscriptionName", NULL,
                  "The event subscription name must be 3-64 characters: letters, digits and "
                  "hyphens.");
        cf_vault_release(&t->v);
        return false;
    }
    return true;
}

static void not_found(struct api_req *r, const struct ev_target *t)
{
    api_error(r, 404, "ResourceNotFound", NULL,
              "The event subscription '%s' of vault '%s' could not be found.", t->name,
              t->v.name);
}

/* ",A,B," -> ["A","B"] */
static void write_types(struct cf_jw *w, const char *types)
{
    const char *p = types && types[0] ? types + 1 : "";

    cf_jw_arr_begin(w);
    while (*p) {
        const char *c = strchr(p, ',');
        if (!c)
            break;
        cf_jw_strn(w, p, (size_t)(c - p));
        p = c + 1;
    }
    cf_jw_arr_end(w);
}

static void write_sub(struct cf_jw *w, const struct ev_target *t, const struct cf_rec_event_sub *s,
                      const char *secret)
{
    char id[600], when[40];

    snprintf(id, sizeof(id), "%s" EG_PROVIDER "/%s", t->topic, s->name);
    cf_jw_obj_begin(w);
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "topic", t->topic);
    cf_jw_kstr(w, "provisioningState", s->state);
    cf_jw_key(w, "destination");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "endpointType", "WebHook");
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    /* Azure shows only the base URL; the query may carry a key, so it is cut here too */
    cf_jw_key(w, "endpointBaseUrl");
    cf_jw_strn(w, s->endpoint, strcspn(s->endpoint, "?"));
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
    cf_jw_key(w, "filter");
    cf_jw_obj_begin(w);
    cf_jw_key(w, "includedEventTypes");
    if (s->types && s->types[0])
        write_types(w, s->types);
    else
        cf_jw_null(w);
    cf_jw_obj_end(w);
    cf_jw_kstr(w, "eventDeliverySchema", s->schema);
    cf_jw_key(w, "retryPolicy");
    cf_jw_obj_begin(w);
    cf_jw_kint(w, "maxDeliveryAttempts", s->max_attempts);
    cf_jw_kint(w, "eventTimeToLiveInMinutes", s->ttl_min);
    cf_jw_obj_end(w);
    if (s->dead_letter) {
        cf_jw_key(w, "deadLetterDestination");
        cf_jw_raw(w, s->dead_letter, strlen(s->dead_letter));
    }
    if (secret && secret[0])
        cf_jw_kstr(w, "signingSecret", secret);
    cf_jw_obj_end(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "name", s->name);
    cf_jw_kstr(w, "type", SUB_TYPE);
    cf_jw_key(w, "systemData");
    cf_jw_obj_begin(w);
    cf_time_iso8601(s->created, when);
    cf_jw_kstr(w, "createdAt", when);
    cf_time_iso8601(s->updated, when);
    cf_jw_kstr(w, "lastModifiedAt", when);
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

static bool bad_body(struct api_req *r, const char *msg)
{
    api_error(r, 400, "InvalidRequestContent", NULL, "%s", msg);
    return false;
}

/* The PUT body into in (types into the caller's buffer). Replies on failure. */
static bool parse(struct api_req *r, struct cf_rec_event_sub *in, struct cf_buf *types,
                  struct cf_buf *dead)
{
    const struct cf_json *p = cf_json_get(r->body, "properties"), *d, *dp, *f, *tl, *rp, *x;
    const char *s;
    int64_t n;

    if (cf_json_type(p) != CF_JSON_OBJECT)
        return bad_body(r, "The request body must have 'properties'.");
    d = cf_json_get(p, "destination");
    dp = cf_json_get(d, "properties");
    s = cf_json_str(cf_json_get(d, "endpointType"), NULL);
    if (cf_json_type(d) != CF_JSON_OBJECT || (s && strcasecmp(s, "WebHook") != 0))
        return bad_body(r, "properties.destination must be a WebHook destination.");
    in->endpoint = (char *)(uintptr_t)cf_json_str(cf_json_get(dp, "endpointUrl"), NULL);
    if (!in->endpoint)
        return bad_body(r, "properties.destination.properties.endpointUrl is required.");
    f = cf_json_get(p, "filter");
    tl = cf_json_get(f, "includedEventTypes");
    if (tl && cf_json_type(tl) != CF_JSON_NULL) {
        if (cf_json_type(tl) != CF_JSON_ARRAY || cf_json_size(tl) > CF_EVENTS_MAX_TYPES)
            return bad_body(r, "filter.includedEventTypes must be an array of at most 25 types.");
        for (size_t i = 0; i < cf_json_size(tl); i++) {
            s = cf_json_str(cf_json_at(tl, i), NULL);
            if (!s || strchr(s, ','))
                return bad_body(r, "filter.includedEventTypes must hold event type names.");
            if (cf_buf_printf(types, "%s%s,", types->len ? "" : ",", s) != CF_OK)
                return bad_body(r, "filter.includedEventTypes is too long.");
        }
    }
    in->types = types->len ? types->data : (char *)(uintptr_t)"";
    s = cf_json_str(cf_json_get(p, "eventDeliverySchema"), NULL);
    snprintf(in->schema, sizeof(in->schema), "%s", s ? s : "");
    if (s && strlen(s) >= sizeof(in->schema))
        return bad_body(r, "eventDeliverySchema must be EventGridSchema or CloudEventSchemaV1_0.");
    rp = cf_json_get(p, "retryPolicy");
    if ((x = cf_json_get(rp, "maxDeliveryAttempts")) != NULL) {
        if (!cf_json_number(x, &n) || n < 1 || n > 30)
            return bad_body(r, "retryPolicy.maxDeliveryAttempts must be 1-30.");
        in->max_attempts = (int)n;
    }
    if ((x = cf_json_get(rp, "eventTimeToLiveInMinutes")) != NULL) {
        if (!cf_json_number(x, &n) || n < 1 || n > 1440)
            return bad_body(r, "retryPolicy.eventTimeToLiveInMinutes must be 1-1440.");
        in->ttl_min = (int)n;
    }
    x = cf_json_get(p, "deadLetterDestination");
    if (x && cf_json_type(x) != CF_JSON_NULL) {
        if (cf_json_type(x) != CF_JSON_OBJECT || cf_json_dump(x, dead) != CF_OK)
            return bad_body(r, "deadLetterDestination must be an object.");
        in->dead_letter = dead->data;
    }
    return true;
}

static void reply_err(struct api_req *r, cf_err e, const char *why)
{
    if (e == CF_EBADPARAM)
        api_error(r, 400, "InvalidRequestContent", NULL, "%s", why[0] ? why : "Bad request.");
    else
        api_error_err(r, e);
}

void api_event_sub_put(struct api_req *r)
{
    struct ev_target t;
    struct cf_rec_event_sub in, out;
    struct cf_buf types, dead;
    char secret[CF_EVENTS_SECRET_LEN + 1] = "", why[300] = "";
    bool created = false;
    struct cf_jw w;
    cf_err e;

    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    cf_buf_init(&types, 4096);
    cf_buf_init(&dead, 16 * 1024);
    cf_buf_init(&out.secret, 4096);
    if (!enter(r, &t, true))
        goto release;
    if (api_body_json(r, false) != CF_OK || !parse(r, &in, &types, &dead))
        goto release_vault;
    e = cf_events_sub_put(r->api->cfg.events, t.v.id, t.topic, t.name, &in, &created, secret,
                          &out, why, sizeof(why));
    if (e) {
        reply_err(r, e, why);
        goto release_vault;
    }
    cf_jw_init(&w, &r->out);
    write_sub(&w, &t, &out, secret);
    cf_wipe(secret, sizeof(secret));
    if (cf_jw_err(&w))
        api_error_err(r, cf_jw_err(&w));
    else
        api_reply(r, created ? 201 : 200);
release_vault:
    cf_vault_release(&t.v);
release:
    cf_wipe(secret, sizeof(secret));
    cf_rec_event_sub_release(&out);
    cf_buf_release(&types);
    cf_buf_release(&dead);
}

void api_event_sub_get(struct api_req *r)
{
    struct ev_target t;
    struct cf_rec_event_sub s;
    struct cf_jw w;
    cf_err e;

    memset(&s, 0, sizeof(s));
    if (!enter(r, &t, true))
        return;
    e = cf_events_sub_get(r->api->cfg.events, t.v.id, t.name, &s);
    if (e == CF_ENOTFOUND) {
        not_found(r, &t);
    } else if (e) {
        api_error_err(r, e);
    } else {
        cf_jw_init(&w, &r->out);
        write_sub(&w, &t, &s, NULL);
        if (cf_jw_err(&w))
            api_error_err(r, cf_jw_err(&w));
        else
            api_reply(r, 200);
    }
    cf_rec_event_sub_release(&s);
    cf_vault_release(&t.v);
}

struct list_arg {
    struct cf_jw *w;
    const struct ev_target *t;
};

static cf_err list_cb(const struct cf_rec_event_sub *s, void *arg)
{
    struct list_arg *a = arg;
    write_sub(a->w, a->t, s, NULL);
    return cf_jw_err(a->w);
}

void api_event_sub_list(struct api_req *r)
{
    struct ev_target t;
    struct cf_jw w;
    struct list_arg a = {&w, &t};
    cf_err e;

    if (!enter(r, &t, false))
        return;
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "value");
    cf_jw_arr_begin(&w);
    e = cf_events_sub_list(r->api->cfg.events, t.v.id, list_cb, &a);
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
    cf_vault_release(&t.v);
}

void api_event_sub_delete(struct api_req *r)
{
    struct ev_target t;
    cf_err e;

    if (!enter(r, &t, true))
        return;
    e = cf_events_sub_delete(r->api->cfg.events, t.v.id, t.name);
    if (e == CF_ENOTFOUND)
        api_reply_empty(r, 204); /* ARM: deleting what is not there is a success */
    else if (e)
        api_error_err(r, e);
    else
        api_reply_empty(r, 200);
    cf_vault_release(&t.v);
}

static cf_err dl_cb(const struct cf_rec_event_deadletter *d, void *arg)
{
    struct cf_jw *w = arg;
    char when[40];

    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "eventId", d->event_id);
    cf_jw_kstr(w, "eventType", d->type);
    cf_jw_kstr(w, "deadLetterReason", d->reason);
    cf_jw_kint(w, "deliveryAttempts", d->attempts);
    cf_jw_kstr(w, "lastDeliveryOutcome", d->last_outcome);
    cf_events_time(d->publish_ms, when);
    cf_jw_kstr(w, "publishTime", when);
    cf_events_time(d->last_ms, when);
    cf_jw_kstr(w, "lastDeliveryAttemptTime", when);
    cf_jw_key(w, "event");
    cf_jw_raw(w, d->body, strlen(d->body));
    cf_jw_obj_end(w);
    return cf_jw_err(w);
}

void api_event_sub_deadletters(struct api_req *r)
{
    struct ev_target t;
    struct cf_jw w;
    int64_t pending = 0;
    cf_err e;

    if (!enter(r, &t, true))
        return;
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "value");
    cf_jw_arr_begin(&w);
    e = cf_events_deadletters(r->api->cfg.events, t.v.id, t.name, dl_cb, &w);
    cf_jw_arr_end(&w);
    if (!e)
        e = cf_events_pending(r->api->cfg.events, t.v.id, t.name, &pending);
    cf_jw_kint(&w, "pendingDeliveries", pending);
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (e == CF_ENOTFOUND)
        not_found(r, &t);
    else if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
    cf_vault_release(&t.v);
}
