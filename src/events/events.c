/* events.c - events.h: life cycle, the subscribed-vault set, emission (inside a write and from
 * alerts), subscription management, and the worker (fan-out, validation handshakes,
 * deliveries with retry and dead-lettering, the expiry scan).
 *
 * Invariants:
 * - An outbox row exists only for a vault in `vaults` (the set of vaults with at least one
 *   subscription, in any state) at the moment of the write; the set is loaded from the store
 *   at start-up and grows BEFORE a subscription's insert commits, so no event of a vault is
 *   missed once its subscription exists.
 * - A delivery row exists only for a subscription in state Succeeded at fan-out; it is deleted
 *   when acknowledged, or moved to event_deadletters (same write) when it gives up.
 * - Signing secrets are sealed (AES-256-GCM, AAD "event-sub\0<vault id>\0<name_lc>") and
 *   opened only for the one request they sign; the plaintext is wiped after it. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "events/events.h"
#include "store/store_vault.h"

#include <pthread.h>
#include <time.h>

#define DATA_MAX (8 * 1024)
#define BODY_MAX (64 * 1024)
#define FAN_BATCH 64
#define DUE_BATCH 16
#define EXPIRY_BATCH 256
#define MAX_VAULTS_TRACKED 4096
#define MAX_PENDING_VALIDATIONS 64
#define KICK_WINDOW_MS 2000
#define KICK_POLL_MS 20
#define IDLE_POLL_MS 1000

struct vault_count {
    int64_t vault_id;
    int subs;
};

struct validation {
    int64_t sub_id;
    int tries;
    int64_t next_ms;
};

struct cf_events {
    struct cf_events_opts o;
    struct cf_clock sysclock;
    unsigned char seal_key[CF_AEAD_KEY_LEN];
    char dns_suffix[128];
    int64_t lead_s;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    bool stop, running, kicked;
    int64_t kick_until_ms;
    int async_pending; /* alert writes in flight */
    struct vault_count *vaults;
    size_t nvaults;
    struct validation val[MAX_PENDING_VALIDATIONS];
    size_t nval;
    pthread_t thread;
};

static int64_t now_ms(const struct cf_events *ev)
{
    return cf_clock_ms(ev->o.clock);
}

/* ---------------------------------------------------------------- the subscribed-vault set */

static struct vault_count *find_vault_locked(struct cf_events *ev, int64_t vault_id)
{
    for (size_t i = 0; i < ev->nvaults; i++)
        if (ev->vaults[i].vault_id == vault_id)
            return &ev->vaults[i];
    return NULL;
}

static cf_err vault_add(struct cf_events *ev, int64_t vault_id, int delta)
{
    struct vault_count *v;
    cf_err e = CF_OK;

    pthread_mutex_lock(&ev->mu);
    v = find_vault_locked(ev, vault_id);
    if (!v && delta > 0) {
        if (ev->nvaults >= MAX_VAULTS_TRACKED) {
            e = CF_EFULL;
        } else {
            struct vault_count *n = realloc(ev->vaults, (ev->nvaults + 1) * sizeof(*n));
            if (!n) {
                e = CF_ENOMEM;
            } else {
                ev->vaults = n;
                v = &ev->vaults[ev->nvaults++];
                v->vault_id = vault_id;
                v->subs = 0;
            }
        }
    }
    if (v) {
        v->subs += delta;
        if (v->subs <= 0) /* swap-remove */
            *v = ev->vaults[--ev->nvaults];
    }
    pthread_mutex_unlock(&ev->mu);
    return e;
}

static bool subscribed(struct cf_events *ev, int64_t vault_id, bool any)
{
    bool r;

    pthread_mutex_lock(&ev->mu);
    r = any ? ev->nvaults > 0 : find_vault_locked(ev, vault_id) != NULL;
    pthread_mutex_unlock(&ev->mu);
    return r;
}

static cf_err load_cb(const struct cf_rec_event_sub *s, void *arg)
{
    return vault_add(arg, s->vault_id, +1);
}

static cf_err load_fn(struct cf_store_txn *t, void *arg)
{
    return cf_store_event_sub_list(t, 0, load_cb, arg);
}

/* ---------------------------------------------------------------- life cycle */

void cf_events_kick(struct cf_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->kicked = true;
    ev->kick_until_ms = now_ms(ev) + KICK_WINDOW_MS;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

struct cf_events *cf_events_new(const struct cf_events_opts *o, cf_err *err)
{
    struct cf_events *ev;
    cf_err e = CF_EINVAL;

    if (!o || !o->store || !o->seal_key || !o->send) {
        *err = CF_EINVAL;
        return NULL;
    }
    if (!(ev = calloc(1, sizeof(*ev)))) {
        *err = CF_ENOMEM;
        return NULL;
    }
    ev->o = *o;
    ev->sysclock = cf_clock_system();
    if (!ev->o.clock)
        ev->o.clock = &ev->sysclock;
    memcpy(ev->seal_key, o->seal_key, sizeof(ev->seal_key));
    ev->o.seal_key = NULL;
    snprintf(ev->dns_suffix, sizeof(ev->dns_suffix), "%s",
             o->dns_suffix ? o->dns_suffix : "vault.localhost");
    ev->o.dns_suffix = ev->dns_suffix;
    if (ev->o.near_expiry_days <= 0)
        ev->o.near_expiry_days = o->near_expiry_days < 0 ? 0 : 30;
    ev->lead_s = o->near_expiry_s > 0 ? o->near_expiry_s : (int64_t)ev->o.near_expiry_days * 86400;
    if (ev->o.retry_base_ms <= 0)
        ev->o.retry_base_ms = 10000;
    if (ev->o.scan_interval_s <= 0)
        ev->o.scan_interval_s = 60;
    if (ev->o.timeout_s <= 0)
        ev->o.timeout_s = 30;
    if (ev->o.validate_tries <= 0)
        ev->o.validate_tries = 10;
    pthread_mutex_init(&ev->mu, NULL);
    pthread_cond_init(&ev->cv, NULL);
    if ((e = cf_store_read(o->store, load_fn, ev)) != CF_OK) {
        cf_events_free(ev);
        *err = e;
        return NULL;
    }
    *err = CF_OK;
    return ev;
}

static void *worker_main(void *arg);

cf_err cf_events_start(struct cf_events *ev)
{
    if (!ev || ev->running)
        return CF_EINVAL;
    if (pthread_create(&ev->thread, NULL, worker_main, ev) != 0)
        return CF_EINTERNAL;
    ev->running = true;
    return CF_OK;
}

void cf_events_free(struct cf_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->stop = true;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    if (ev->running)
        pthread_join(ev->thread, NULL);
    pthread_mutex_lock(&ev->mu);
    while (ev->async_pending > 0) /* alert writes hold ev until their done callback */
        pthread_cond_wait(&ev->cv, &ev->mu);
    pthread_mutex_unlock(&ev->mu);
    pthread_mutex_destroy(&ev->mu);
    pthread_cond_destroy(&ev->cv);
    free(ev->vaults);
    cf_wipe(ev->seal_key, sizeof(ev->seal_key));
    free(ev);
}

/* ---------------------------------------------------------------- emission */

static cf_err add_row(struct cf_events *ev, struct cf_store_txn *t, int64_t vault_id,
                      const char *type, const char *subject, const char *data)
{
    struct cf_rec_event rec;
    cf_err e;

    memset(&rec, 0, sizeof(rec));
    if ((e = cf_uuid4(rec.event_id)) != CF_OK)
        return e;
    rec.vault_id = vault_id;
    snprintf(rec.type, sizeof(rec.type), "%s", type);
    rec.subject = (char *)(uintptr_t)subject; /* borrowed (store_events.h) */
    rec.data = (char *)(uintptr_t)data;
    rec.time_ms = now_ms(ev);
    return cf_store_event_add(t, &rec);
}

cf_err cf_events_emit(struct cf_events *ev, struct cf_store_txn *t, const struct cf_events_kv *kv)
{
    char type[96];
    struct cf_buf data;
    cf_err e;

    if (!ev || !kv || !kv->type || !kv->vault_name || !kv->object_type || !kv->object_name)
        return ev && kv ? CF_EINVAL : CF_OK;
    if (!subscribed(ev, kv->vault_id, false))
        return CF_OK;
    snprintf(type, sizeof(type), "%s%s", CF_EVENTS_TYPE_PREFIX, kv->type);
    cf_buf_init(&data, DATA_MAX);
    e = cf_events_render_data(kv, ev->dns_suffix, ev->o.port, &data);
    if (!e)
        e = add_row(ev, t, kv->vault_id, type, kv->object_name, data.data);
    cf_buf_release(&data);
    if (!e)
        cf_events_kick(ev); /* the worker polls briefly: the row is visible once committed */
    return e;
}

struct alert_job {
    struct cf_events *ev;
    char vault_lc[25];
    char type[32];
    char *subject, *data;
};

static cf_err alert_fn(struct cf_store_txn *t, void *arg)
{
    struct alert_job *j = arg;
    int64_t vault_id = 0;

    if (j->vault_lc[0]) {
        struct cf_rec_vault v;
        memset(&v, 0, sizeof(v));
        cf_err e = cf_store_vault_get_by_name(t, j->vault_lc, &v);
        vault_id = v.id;
        cf_rec_vault_release(&v);
        if (e == CF_ENOTFOUND)
            return CF_OK;
        if (e)
            return e;
        if (!subscribed(j->ev, vault_id, false))
            return CF_OK;
    }
    return add_row(j->ev, t, vault_id, j->type, j->subject, j->data);
}

static void alert_done(cf_err result, void *arg)
{
    struct alert_job *j = arg;
    struct cf_events *ev = j->ev;

    if (result)
        cf_warn("events: an alert event could not be stored (%s)", cf_err_name(result));
    free(j->subject);
    free(j->data);
    free(j);
    cf_events_kick(ev);
    pthread_mutex_lock(&ev->mu);
    ev->async_pending--;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

void cf_events_alert(struct cf_events *ev, const char *rule, const char *expr, bool firing,
                     double value, const char *detail, const char *vault, int64_t time_ms)
{
    struct alert_job *j;
    struct cf_buf data;
    struct cf_jw w;
    bool server_wide = !vault || !vault[0];

    (void)time_ms; /* eventTime is the outbox insert's (the tick's time is in the log) */
    if (!ev || !rule || !subscribed(ev, 0, true))
        return;
    if (!(j = calloc(1, sizeof(*j))))
        return;
    j->ev = ev;
    if (!server_wide)
        for (size_t i = 0; vault[i] && i + 1 < sizeof(j->vault_lc); i++)
            j->vault_lc[i] = (char)((vault[i] >= 'A' && vault[i] <= 'Z') ? vault[i] - 'A' + 'a'
                                                                         : vault[i]);
    snprintf(j->type, sizeof(j->type), "%s",
             firing ? CF_EVENTS_ALERT_FIRED : CF_EVENTS_ALERT_RESOLVED);
    cf_buf_init(&data, DATA_MAX);
    cf_jw_init(&w, &data);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "Rule", rule);
    cf_jw_kstr(&w, "Expression", expr ? expr : "");
    cf_jw_kbool(&w, "Firing", firing);
    cf_jw_key(&w, "Value");
    if (value == value && value < 9.0e15 && value > -9.0e15) { /* not NaN, fits JSON */
        char num[64];
        snprintf(num, sizeof(num), "%.17g", value);
        cf_jw_raw(&w, num, strlen(num));
    } else {
        cf_jw_null(&w);
    }
    cf_jw_kstr(&w, "Detail", detail ? detail : "");
    cf_jw_key(&w, "VaultName");
    if (server_wide)
        cf_jw_null(&w);
    else
        cf_jw_str(&w, vault);
    cf_jw_obj_end(&w);
    j->subject = strdup(rule);
    j->data = cf_jw_err(&w) ? NULL : cf_buf_detach(&data, NULL);
    cf_buf_release(&data);
    if (!j->subject || !j->data)
        goto fail;
    pthread_mutex_lock(&ev->mu);
    ev->async_pending++;
    pthread_mutex_unlock(&ev->mu);
    if (cf_store_write_async(ev->o.store, alert_fn, j, alert_done, j) == CF_OK)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->async_pending--;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
fail:
    cf_warn("events: alert %s: no event (out of memory or store queue full)", rule);
    free(j->subject);
    free(j->data);
    free(j);
}

/* ---------------------------------------------------------------- signing secrets */

static size_t secret_aad(char *aad, size_t cap, int64_t vault_id, const char *name_lc)
{
    int n = snprintf(aad, cap, "event-sub%c%lld%c%s", 0, (long long)vault_id, 0, name_lc);
    return n < 0 ? 0 : CF_MIN((size_t)n, cap - 1);
}

/* Opens s's secret into out (CF_EVENTS_SECRET_LEN + 1); wipe it after use. */
static cf_err secret_open(struct cf_events *ev, const struct cf_rec_event_sub *s,
                          char out[CF_EVENTS_SECRET_LEN + 1])
{
    char aad[128];
    struct cf_secret *pt = NULL;
    cf_err e = cf_aead_open(ev->seal_key, aad, secret_aad(aad, sizeof(aad), s->vault_id, s->name_lc),
                            s->secret.data, s->secret.len, &pt);

    if (e)
        return e;
    if (pt->len != CF_EVENTS_SECRET_LEN) {
        e = CF_ECORRUPT;
    } else {
        memcpy(out, pt->p, CF_EVENTS_SECRET_LEN);
        out[CF_EVENTS_SECRET_LEN] = '\0';
    }
    cf_secret_free(pt);
    return e;
}

/* A fresh secret in text, and its sealed form appended to sealed. */
static cf_err secret_new(struct cf_events *ev, int64_t vault_id, const char *name_lc,
                         char text[CF_EVENTS_SECRET_LEN + 1], struct cf_buf *sealed)
{
    unsigned char raw[32];
    char aad[128];
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 64);
    if ((e = cf_random(raw, sizeof(raw))) == CF_OK && (e = cf_b64url_encode(&b, raw, 32)) == CF_OK) {
        if (b.len != CF_EVENTS_SECRET_LEN) {
            e = CF_EINTERNAL;
        } else {
            memcpy(text, b.data, CF_EVENTS_SECRET_LEN + 1);
            e = cf_aead_seal(ev->seal_key, aad, secret_aad(aad, sizeof(aad), vault_id, name_lc),
                             text, CF_EVENTS_SECRET_LEN, sealed);
        }
    }
    cf_wipe(raw, sizeof(raw));
    cf_buf_wipe(&b);
    return e;
}

/* ---------------------------------------------------------------- subscriptions */

static bool name_ok(const char *name, char lc[CF_EVENT_SUB_NAME_MAX + 1])
{
    size_t n = name ? strlen(name) : 0;

    if (n < 3 || n > CF_EVENT_SUB_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c == '-' && i > 0 && i + 1 < n);
        if (!ok)
            return false;
        lc[i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    lc[n] = '\0';
    return true;
}

static bool bad(char *why, size_t whysz, const char *msg)
{
    if (why && whysz)
        snprintf(why, whysz, "%s", msg);
    return false;
}

/* Checks the types list ",A,B," (or ""). */
static bool types_ok(const char *types, char *why, size_t whysz)
{
    char one[128];
    const char *p = types;
    size_t count = 0;

    if (!types || !types[0])
        return true;
    if (types[0] != ',' || types[strlen(types) - 1] != ',')
        return bad(why, whysz, "includedEventTypes is malformed.");
    p++;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = (size_t)(c - p);
        if (n == 0 || n >= sizeof(one))
            return bad(why, whysz, "includedEventTypes has an empty or too long entry.");
        memcpy(one, p, n);
        one[n] = '\0';
        if (!cf_events_type_known(one)) {
            if (why && whysz)
                snprintf(why, whysz, "'%.100s' is not an event type of Microsoft.KeyVault.vaults "
                         "(or Coffer.Alert.Fired / Coffer.Alert.Resolved).", one);
            return false;
        }
        if (++count > CF_EVENTS_MAX_TYPES)
            return bad(why, whysz, "includedEventTypes has more than 25 entries.");
        p = c + 1;
    }
    return true;
}

struct put_ctx {
    struct cf_events *ev;
    struct cf_rec_event_sub rec; /* borrowed strings from in */
    bool created, revalidate;
    struct cf_rec_event_sub *out;
};

static cf_err put_fn(struct cf_store_txn *t, void *arg)
{
    struct put_ctx *c = arg;
    struct cf_rec_event_sub cur;
    int64_t id = 0;
    cf_err e;

    memset(&cur, 0, sizeof(cur));
    cf_buf_init(&cur.secret, 4096);
    e = cf_store_event_sub_get(t, c->rec.vault_id, c->rec.name_lc, &cur);
    if (e == CF_ENOTFOUND) {
        c->created = true;
        e = cf_store_event_sub_insert(t, &c->rec, &id);
    } else if (!e) {
        struct cf_rec_event_sub upd = c->rec;
        c->created = false;
        upd.id = cur.id;
        upd.created = cur.created;
        upd.secret = cur.secret; /* the secret stays (it was shown once) */
        snprintf(upd.name, sizeof(upd.name), "%s", cur.name);
        c->revalidate = strcmp(cur.endpoint, c->rec.endpoint) != 0 ||
                        strcmp(cur.schema, c->rec.schema) != 0 ||
                        strcmp(cur.state, "Failed") == 0;
        snprintf(upd.state, sizeof(upd.state), "%s", c->revalidate ? "Creating" : cur.state);
        id = cur.id;
        e = cf_store_event_sub_update(t, &upd);
    }
    cf_rec_event_sub_release(&cur);
    if (!e) {
        cf_rec_event_sub_release(c->out);
        cf_buf_init(&c->out->secret, 4096);
        e = cf_store_event_sub_get_id(t, id, c->out);
    }
    return e;
}

cf_err cf_events_sub_put(struct cf_events *ev, int64_t vault_id, const char *topic,
                         const char *name, const struct cf_rec_event_sub *in, bool *created,
                         char secret_out[CF_EVENTS_SECRET_LEN + 1], struct cf_rec_event_sub *out,
                         char *why, size_t whysz)
{
    struct put_ctx c;
    cf_err e;

    secret_out[0] = '\0';
    memset(out, 0, sizeof(*out));
    cf_buf_init(&out->secret, 4096);
    if (!ev || !in || !topic)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    c.ev = ev;
    c.out = out;
    if (!name_ok(name, c.rec.name_lc)) {
        bad(why, whysz, "The event subscription name must be 3-64 characters: letters, digits "
                        "and hyphens (not first or last).");
        return CF_EBADPARAM;
    }
    if (!in->endpoint || !cf_events_endpoint_ok(in->endpoint)) {
        bad(why, whysz, "destination.properties.endpointUrl must be an https:// URL (http:// "
                        "only to a loopback address).");
        return CF_EBADPARAM;
    }
    if (!types_ok(in->types, why, whysz))
        return CF_EBADPARAM;
    if (in->schema[0] && strcmp(in->schema, CF_EVENTS_SCHEMA_EG) != 0 &&
        strcmp(in->schema, CF_EVENTS_SCHEMA_CE) != 0) {
        bad(why, whysz, "eventDeliverySchema must be EventGridSchema or CloudEventSchemaV1_0.");
        return CF_EBADPARAM;
    }
    if (in->max_attempts < 0 || in->max_attempts > 30 || in->ttl_min < 0 || in->ttl_min > 1440) {
        bad(why, whysz, "retryPolicy: maxDeliveryAttempts must be 1-30 and "
                        "eventTimeToLiveInMinutes 1-1440.");
        return CF_EBADPARAM;
    }
    c.rec.vault_id = vault_id;
    snprintf(c.rec.name, sizeof(c.rec.name), "%s", name);
    snprintf(c.rec.schema, sizeof(c.rec.schema), "%s",
             in->schema[0] ? in->schema : CF_EVENTS_SCHEMA_EG);
    snprintf(c.rec.state, sizeof(c.rec.state), "Creating");
    c.rec.max_attempts = in->max_attempts ? in->max_attempts : 30;
    c.rec.ttl_min = in->ttl_min ? in->ttl_min : 1440;
    c.rec.topic = (char *)(uintptr_t)topic;
    c.rec.endpoint = in->endpoint;
    c.rec.types = in->types ? in->types : (char *)(uintptr_t)"";
    c.rec.dead_letter = in->dead_letter;
    c.rec.created = c.rec.updated = cf_clock_s(ev->o.clock);
    cf_buf_init(&c.rec.secret, 256);
    if ((e = secret_new(ev, vault_id, c.rec.name_lc, secret_out, &c.rec.secret)) != CF_OK)
        goto out;
    /* the set grows before the commit: a write racing the create cannot miss its event */
    if ((e = vault_add(ev, vault_id, +1)) != CF_OK)
        goto out;
    e = cf_store_write(ev->o.store, put_fn, &c);
    if (e || !c.created)
        vault_add(ev, vault_id, -1);
    if (!e && !c.created)
        cf_wipe(secret_out, CF_EVENTS_SECRET_LEN + 1), secret_out[0] = '\0';
    if (!e && created)
        *created = c.created;
    if (!e && (c.created || c.revalidate)) {
        pthread_mutex_lock(&ev->mu);
        for (size_t i = 0; i < ev->nval; i++) /* a fresh handshake, tries from zero */
            if (ev->val[i].sub_id == out->id)
                ev->val[i] = ev->val[--ev->nval];
        pthread_mutex_unlock(&ev->mu);
        cf_events_kick(ev);
    }
out:
    if (e)
        cf_wipe(secret_out, CF_EVENTS_SECRET_LEN + 1), secret_out[0] = '\0';
    cf_buf_release(&c.rec.secret);
    return e;
}

struct get_ctx {
    int64_t vault_id;
    char name_lc[CF_EVENT_SUB_NAME_MAX + 1];
    struct cf_rec_event_sub *out;
    cf_store_event_sub_cb cb;
    cf_store_event_deadletter_cb dl_cb;
    void *arg;
    int64_t n;
};

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct get_ctx *c = arg;
    return cf_store_event_sub_get(t, c->vault_id, c->name_lc, c->out);
}

cf_err cf_events_sub_get(struct cf_events *ev, int64_t vault_id, const char *name,
                         struct cf_rec_event_sub *out)
{
    struct get_ctx c = {.vault_id = vault_id, .out = out};

    memset(out, 0, sizeof(*out));
    cf_buf_init(&out->secret, 4096);
    if (!ev)
        return CF_EINVAL;
    if (!name_ok(name, c.name_lc))
        return CF_ENOTFOUND;
    return cf_store_read(ev->o.store, get_fn, &c);
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct get_ctx *c = arg;
    return cf_store_event_sub_list(t, c->vault_id, c->cb, c->arg);
}

cf_err cf_events_sub_list(struct cf_events *ev, int64_t vault_id, cf_store_event_sub_cb cb,
                          void *arg)
{
    struct get_ctx c = {.vault_id = vault_id, .cb = cb, .arg = arg};

    if (!ev || !cb || vault_id <= 0)
        return CF_EINVAL;
    return cf_store_read(ev->o.store, list_fn, &c);
}

static cf_err delete_fn(struct cf_store_txn *t, void *arg)
{
    struct get_ctx *c = arg;
    cf_err e = cf_store_event_sub_get(t, c->vault_id, c->name_lc, c->out);
    return e ? e : cf_store_event_sub_delete(t, c->out->id);
}

cf_err cf_events_sub_delete(struct cf_events *ev, int64_t vault_id, const char *name)
{
    struct cf_rec_event_sub cur;
    struct get_ctx c = {.vault_id = vault_id, .out = &cur};
    cf_err e;

    if (!ev)
        return CF_EINVAL;
    if (!name_ok(name, c.name_lc))
        return CF_ENOTFOUND;
    memset(&cur, 0, sizeof(cur));
    cf_buf_init(&cur.secret, 4096);
    e = cf_store_write(ev->o.store, delete_fn, &c);
    cf_rec_event_sub_release(&cur);
    if (!e)
        vault_add(ev, vault_id, -1);
    return e;
}

static cf_err deadletters_fn(struct cf_store_txn *t, void *arg)
{
    struct get_ctx *c = arg;
    cf_err e = cf_store_event_sub_get(t, c->vault_id, c->name_lc, c->out);
    if (e)
        return e;
    if (c->dl_cb)
        return cf_store_event_deadletter_list(t, c->out->id, 0, 100000, c->dl_cb, c->arg);
    return cf_store_event_delivery_count(t, c->out->id, &c->n);
}

cf_err cf_events_deadletters(struct cf_events *ev, int64_t vault_id, const char *name,
                             cf_store_event_deadletter_cb cb, void *arg)
{
    struct cf_rec_event_sub cur;
    struct get_ctx c = {.vault_id = vault_id, .out = &cur, .dl_cb = cb, .arg = arg};
    cf_err e;

    if (!ev || !cb)
        return CF_EINVAL;
    if (!name_ok(name, c.name_lc))
        return CF_ENOTFOUND;
    memset(&cur, 0, sizeof(cur));
    cf_buf_init(&cur.secret, 4096);
    e = cf_store_read(ev->o.store, deadletters_fn, &c);
    cf_rec_event_sub_release(&cur);
    return e;
}

cf_err cf_events_pending(struct cf_events *ev, int64_t vault_id, const char *name, int64_t *n)
{
    struct cf_rec_event_sub cur;
    struct get_ctx c = {.vault_id = vault_id, .out = &cur};
    cf_err e;

    *n = 0;
    if (!ev)
        return CF_EINVAL;
    if (!name_ok(name, c.name_lc))
        return CF_ENOTFOUND;
    memset(&cur, 0, sizeof(cur));
    cf_buf_init(&cur.secret, 4096);
    e = cf_store_read(ev->o.store, deadletters_fn, &c);
    cf_rec_event_sub_release(&cur);
    *n = c.n;
    return e;
}

/* ---------------------------------------------------------------- fan-out */

static bool sub_wants(const struct cf_rec_event_sub *s, const struct cf_rec_event *row)
{
    char needle[100];

    if (strcmp(s->state, "Succeeded") != 0)
        return false;
    if (!s->types || !s->types[0]) /* every type of the topic: the Key Vault ones */
        return row->vault_id != 0 &&
               strncmp(row->type, CF_EVENTS_TYPE_PREFIX, strlen(CF_EVENTS_TYPE_PREFIX)) == 0;
    snprintf(needle, sizeof(needle), ",%s,", row->type);
    return strstr(s->types, needle) != NULL;
}

struct fan {
    struct cf_events *ev;
    struct cf_store_txn *t;
    const struct cf_rec_event *row;
    int64_t upto;
    int deliveries;
    int64_t now;
};

static cf_err fan_sub(const struct cf_rec_event_sub *s, void *arg)
{
    struct fan *f = arg;
    struct cf_rec_event_delivery d;
    struct cf_buf body;
    cf_err e;

    if (!sub_wants(s, f->row))
        return CF_OK;
    cf_buf_init(&body, BODY_MAX);
    e = cf_events_render_event(s->schema, f->row->event_id, s->topic, f->row->subject,
                               f->row->type, f->row->time_ms, f->row->data, &body);
    if (!e) {
        memset(&d, 0, sizeof(d));
        d.sub_id = s->id;
        memcpy(d.event_id, f->row->event_id, sizeof(d.event_id));
        snprintf(d.type, sizeof(d.type), "%s", f->row->type);
        d.body = body.data;
        d.publish_ms = f->row->time_ms;
        d.next_ms = f->now;
        e = cf_store_event_delivery_add(f->t, &d);
    }
    cf_buf_release(&body);
    if (!e)
        f->deliveries++;
    return e;
}

static cf_err fan_row(const struct cf_rec_event *row, void *arg)
{
    struct fan *f = arg;

    f->row = row;
    f->upto = row->seq;
    /* a server-wide alert (vault 0) goes to any vault's subscription that lists its type */
    return cf_store_event_sub_list(f->t, row->vault_id, fan_sub, f);
}

static cf_err fan_fn(struct cf_store_txn *t, void *arg)
{
    struct fan *f = arg;
    cf_err e;

    f->t = t;
    f->upto = 0;
    f->deliveries = 0;
    e = cf_store_event_outbox_list(t, FAN_BATCH, fan_row, f);
    if (!e && f->upto > 0)
        e = cf_store_event_outbox_delete(t, f->upto);
    return e;
}

static cf_err any_row(const struct cf_rec_event *row, void *arg)
{
    (void)row;
    *(bool *)arg = true;
    return CF_OK;
}

static cf_err outbox_any_fn(struct cf_store_txn *t, void *arg)
{
    return cf_store_event_outbox_list(t, 1, any_row, arg);
}

/* Moves outbox rows into deliveries; *n gets the rows handled (0: the outbox was empty). */
static cf_err fan_out(struct cf_events *ev, int *deliveries)
{
    struct fan f = {.ev = ev};
    bool any = false;
    cf_err e;

    *deliveries = 0;
    if ((e = cf_store_read(ev->o.store, outbox_any_fn, &any)) != CF_OK || !any)
        return e;
    f.now = now_ms(ev);
    e = cf_store_write(ev->o.store, fan_fn, &f);
    if (!e)
        *deliveries = f.deliveries + (f.upto > 0 ? 1 : 0);
    return e;
}

/* ---------------------------------------------------------------- one webhook request */

/* Posts body to s's endpoint with the headers of §7.3 and the signature. */
static cf_err post(struct cf_events *ev, const struct cf_rec_event_sub *s, const char *event_type,
                   int delivery_count, const char *body, size_t n, int *status,
                   struct cf_buf *resp_body)
{
    char secret[CF_EVENTS_SECRET_LEN + 1], sig[80];
    char h_type[64], h_name[96], h_count[48], h_dv[48], h_mv[48], h_sig[100];
    const char *headers[8];
    bool ce = strcmp(s->schema, CF_EVENTS_SCHEMA_CE) == 0;
    struct cf_events_http_resp resp;
    struct cf_events_http_req req;
    size_t i;
    cf_err e;

    *status = 0;
    if ((e = secret_open(ev, s, secret)) != CF_OK) {
        cf_error("events: subscription %s: the signing secret does not open (%s)", s->name,
                 cf_err_name(e));
        return e;
    }
    e = cf_events_sign(secret, body, n, sig);
    cf_wipe(secret, sizeof(secret));
    if (e)
        return e;
    snprintf(h_type, sizeof(h_type), "aeg-event-type: %s", event_type);
    snprintf(h_name, sizeof(h_name), "aeg-subscription-name: ");
    for (i = 0; s->name[i] && strlen(h_name) + 1 < sizeof(h_name); i++) {
        size_t l = strlen(h_name);
        char c = s->name[i];
        h_name[l] = (char)((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
        h_name[l + 1] = '\0';
    }
    snprintf(h_count, sizeof(h_count), "aeg-delivery-count: %d", delivery_count);
    snprintf(h_dv, sizeof(h_dv), "aeg-data-version: 1");
    snprintf(h_mv, sizeof(h_mv), "aeg-metadata-version: %s", ce ? "1.0" : "1");
    snprintf(h_sig, sizeof(h_sig), "aeg-signature: %s", sig);
    headers[0] = h_type;
    headers[1] = h_name;
    headers[2] = h_count;
    headers[3] = h_dv;
    headers[4] = h_mv;
    headers[5] = h_sig;
    headers[6] = NULL;
    memset(&req, 0, sizeof(req));
    req.url = s->endpoint;
    req.content_type = ce ? "application/cloudevents+json; charset=utf-8"
                          : "application/json; charset=utf-8";
    req.headers = headers;
    req.body = body;
    req.body_len = n;
    req.timeout_s = ev->o.timeout_s;
    memset(&resp, 0, sizeof(resp));
    cf_buf_init(&resp.body, 64 * 1024);
    e = ev->o.send(ev->o.send_ctx, &req, &resp);
    if (!e) {
        *status = resp.status;
        if (resp_body && resp.body.len)
            e = cf_buf_append(resp_body, resp.body.data, resp.body.len);
    }
    cf_buf_release(&resp.body);
    return e;
}

/* ---------------------------------------------------------------- validation handshakes */

struct pending_subs {
    struct cf_rec_event_sub subs[8];
    size_t n;
};

static cf_err pending_cb(const struct cf_rec_event_sub *s, void *arg)
{
    struct pending_subs *p = arg;
    struct cf_rec_event_sub *d;
    cf_err e = CF_OK;

    if (strcmp(s->state, "Creating") != 0 || p->n >= CF_ARRAY_LEN(p->subs))
        return CF_OK;
    d = &p->subs[p->n];
    *d = *s;
    d->topic = strdup(s->topic);
    d->endpoint = strdup(s->endpoint);
    d->types = strdup(s->types);
    d->dead_letter = s->dead_letter ? strdup(s->dead_letter) : NULL;
    cf_buf_init(&d->secret, 4096);
    if (!d->topic || !d->endpoint || !d->types || (s->dead_letter && !d->dead_letter) ||
        cf_buf_append(&d->secret, s->secret.data, s->secret.len) != CF_OK)
        e = CF_ENOMEM;
    p->n++;
    return e;
}

static cf_err pending_fn(struct cf_store_txn *t, void *arg)
{
    return cf_store_event_sub_list(t, 0, pending_cb, arg);
}

struct state_arg {
    int64_t id;
    const char *state;
    int64_t now;
};

static cf_err state_fn(struct cf_store_txn *t, void *arg)
{
    struct state_arg *a = arg;
    cf_err e = cf_store_event_sub_set_state(t, a->id, a->state, a->now);
    return e == CF_ENOTFOUND ? CF_OK : e;
}

/* True when the endpoint echoed the code: 200 and {"validationResponse": code}. */
static bool echoed(int status, const struct cf_buf *b, const char *code)
{
    struct cf_json *root = NULL;
    const char *got;
    bool ok = false;

    if (status != 200 || !b->len || cf_json_parse(b->data, b->len, &root, NULL, 0) != CF_OK)
        return false;
    got = cf_json_str(cf_json_get(root, "validationResponse"), NULL);
    ok = got && strcmp(got, code) == 0;
    cf_json_free(root);
    return ok;
}

/* The CloudEvents 1.0 webhook abuse protection (HTTP 1.1 Web Hooks for Event Delivery §4,
 * what Event Grid does for CloudEventSchemaV1_0 subscriptions instead of the validation
 * event): an OPTIONS request with WebHook-Request-Origin; the endpoint grants delivery with 200
 * and WebHook-Allowed-Origin naming that origin or "*". WebHook-Request-Callback (a URL the
 * endpoint may GET later to grant) is not offered, as validationUrl is not: only the
 * synchronous grant completes it. Returns whether delivery was granted; *status is the answer
 * (0: none). */
#define CE_ORIGIN "eventgrid.azure.net"
static bool ce_granted(struct cf_events *ev, const struct cf_rec_event_sub *s, int *status)
{
    const char *headers[] = {"WebHook-Request-Origin: " CE_ORIGIN, NULL};
    struct cf_events_http_resp resp;
    struct cf_events_http_req req;
    bool ok;

    memset(&req, 0, sizeof(req));
    req.method = "OPTIONS";
    req.url = s->endpoint;
    req.headers = headers;
    req.body = "";
    req.timeout_s = ev->o.timeout_s;
    memset(&resp, 0, sizeof(resp));
    cf_buf_init(&resp.body, 64 * 1024);
    *status = ev->o.send(ev->o.send_ctx, &req, &resp) == CF_OK ? resp.status : 0;
    ok = *status == 200 && (strcmp(resp.allowed_origin, CE_ORIGIN) == 0 ||
                            strcmp(resp.allowed_origin, "*") == 0);
    cf_buf_release(&resp.body);
    return ok;
}

static struct validation *val_slot_locked(struct cf_events *ev, int64_t sub_id)
{
    for (size_t i = 0; i < ev->nval; i++)
        if (ev->val[i].sub_id == sub_id)
            return &ev->val[i];
    if (ev->nval >= MAX_PENDING_VALIDATIONS)
        return NULL;
    ev->val[ev->nval] = (struct validation){sub_id, 0, 0};
    return &ev->val[ev->nval++];
}

static cf_err handshake(struct cf_events *ev, const struct cf_rec_event_sub *s)
{
    char code[37], id[37];
    struct cf_buf data, body, resp;
    struct state_arg st = {s->id, NULL, 0};
    struct validation *v;
    int64_t now = now_ms(ev);
    int status = 0;
    bool ok;
    cf_err e;

    pthread_mutex_lock(&ev->mu);
    v = val_slot_locked(ev, s->id);
    if (!v || v->next_ms > now) {
        pthread_mutex_unlock(&ev->mu);
        return CF_OK;
    }
    pthread_mutex_unlock(&ev->mu);
    if ((e = cf_uuid4(code)) || (e = cf_uuid4(id)))
        return e;
    cf_buf_init(&data, 1024);
    cf_buf_init(&body, BODY_MAX);
    cf_buf_init(&resp, 64 * 1024);
    /* EventGridSchema: the SubscriptionValidationEvent, whose validationCode the endpoint
     * echoes (validationUrl, manual validation, is not offered); CloudEvents: the OPTIONS
     * handshake (ce_granted) */
    bool ce = strcmp(s->schema, CF_EVENTS_SCHEMA_CE) == 0;
    e = ce ? CF_OK : cf_buf_printf(&data, "{\"validationCode\":\"%s\"}", code);
    if (!e && !ce)
        e = cf_buf_putc(&body, '[');
    if (!e && !ce)
        e = cf_events_render_event(s->schema, id, s->topic, "",
                                   "Microsoft.EventGrid.SubscriptionValidationEvent", now,
                                   data.data, &body);
    if (!e && !ce)
        e = cf_buf_putc(&body, ']');
    if (!e) {
        if (ce)
            ok = ce_granted(ev, s, &status);
        else {
            if (post(ev, s, "SubscriptionValidation", 0, body.data, body.len, &status, &resp))
                status = 0;
            ok = echoed(status, &resp, code);
        }
        pthread_mutex_lock(&ev->mu);
        v = val_slot_locked(ev, s->id);
        if (v && !ok) {
            v->tries++;
            v->next_ms = now + cf_events_backoff_ms(1, ev->o.retry_base_ms) / 2; /* 5 s */
            if (v->tries >= ev->o.validate_tries)
                st.state = "Failed";
        }
        if (ok)
            st.state = "Succeeded";
        if (st.state && v)
            *v = ev->val[--ev->nval];
        pthread_mutex_unlock(&ev->mu);
        if (st.state) {
            st.now = now / 1000;
            e = cf_store_write(ev->o.store, state_fn, &st);
            cf_info("events: subscription %s: validation %s", s->name,
                    ok ? "succeeded"
                    : ce ? "failed (the endpoint did not grant the OPTIONS handshake)"
                         : "failed (the endpoint did not echo the code)");
        }
    }
    cf_buf_release(&data);
    cf_buf_release(&body);
    cf_buf_release(&resp);
    return e;
}

static cf_err validate_pending(struct cf_events *ev)
{
    struct pending_subs p;
    cf_err e;

    memset(&p, 0, sizeof(p));
    e = cf_store_read(ev->o.store, pending_fn, &p);
    for (size_t i = 0; i < p.n; i++) {
        if (!e && !ev->stop)
            e = handshake(ev, &p.subs[i]);
        cf_rec_event_sub_release(&p.subs[i]);
    }
    return e;
}

/* ---------------------------------------------------------------- deliveries */

struct due {
    struct cf_rec_event_delivery d[DUE_BATCH];
    size_t n;
};

static cf_err due_cb(const struct cf_rec_event_delivery *d, void *arg)
{
    struct due *u = arg;
    struct cf_rec_event_delivery *c = &u->d[u->n];

    *c = *d;
    c->body = strdup(d->body ? d->body : "{}");
    u->n++;
    return c->body ? CF_OK : CF_ENOMEM;
}

struct due_arg {
    struct due *u;
    int64_t now;
};

static cf_err due_fn(struct cf_store_txn *t, void *arg)
{
    struct due_arg *a = arg;
    return cf_store_event_delivery_due(t, a->now, DUE_BATCH, due_cb, a->u);
}

struct sub_by_id {
    int64_t id;
    struct cf_rec_event_sub *out;
};

static cf_err sub_by_id_fn(struct cf_store_txn *t, void *arg)
{
    struct sub_by_id *a = arg;
    return cf_store_event_sub_get_id(t, a->id, a->out);
}

struct outcome {
    const struct cf_rec_event_delivery *d;
    const char *reason; /* NULL: retry later (d's new state); "": acknowledged */
    const char *last_outcome;
    int attempts;
    int64_t next_ms, now;
};

static cf_err outcome_fn(struct cf_store_txn *t, void *arg)
{
    struct outcome *o = arg;
    struct cf_rec_event_delivery upd;
    cf_err e;

    if (o->reason && o->reason[0]) {
        struct cf_rec_event_deadletter dl;
        memset(&dl, 0, sizeof(dl));
        dl.sub_id = o->d->sub_id;
        memcpy(dl.event_id, o->d->event_id, sizeof(dl.event_id));
        memcpy(dl.type, o->d->type, sizeof(dl.type));
        dl.body = o->d->body;
        snprintf(dl.reason, sizeof(dl.reason), "%s", o->reason);
        dl.attempts = o->attempts;
        snprintf(dl.last_outcome, sizeof(dl.last_outcome), "%s", o->last_outcome);
        dl.publish_ms = o->d->publish_ms;
        dl.last_ms = o->now;
        e = cf_store_event_delivery_delete(t, o->d->id);
        if (!e)
            e = cf_store_event_deadletter_add(t, &dl);
        return e == CF_ENOTFOUND ? CF_OK : e; /* the subscription went meanwhile */
    }
    if (o->reason) {
        e = cf_store_event_delivery_delete(t, o->d->id);
        return e == CF_ENOTFOUND ? CF_OK : e;
    }
    upd = *o->d;
    upd.attempts = o->attempts;
    upd.next_ms = o->next_ms;
    snprintf(upd.last_outcome, sizeof(upd.last_outcome), "%s", o->last_outcome);
    upd.last_ms = o->now;
    e = cf_store_event_delivery_update(t, &upd);
    return e == CF_ENOTFOUND ? CF_OK : e;
}

static cf_err attempt(struct cf_events *ev, const struct cf_rec_event_delivery *d)
{
    struct cf_rec_event_sub s;
    struct sub_by_id sa = {d->sub_id, &s};
    struct outcome o = {.d = d, .attempts = d->attempts, .now = now_ms(ev)};
    struct cf_buf body;
    bool ce, retry = true;
    int64_t min_ms = 0;
    int status = 0;
    cf_err e;

    memset(&s, 0, sizeof(s));
    cf_buf_init(&s.secret, 4096);
    cf_buf_init(&body, BODY_MAX + 2);
    e = cf_store_read(ev->o.store, sub_by_id_fn, &sa);
    if (e == CF_ENOTFOUND) { /* deleted meanwhile: the cascade took the row as well */
        e = CF_OK;
        goto out;
    }
    if (e)
        goto out;
    ce = strcmp(s.schema, CF_EVENTS_SCHEMA_CE) == 0;
    if (o.now > d->publish_ms + (int64_t)s.ttl_min * 60000) {
        /* TTL is checked at the next scheduled attempt (§7.3) */
        o.reason = "TimeToLiveExceeded";
        o.last_outcome = d->last_outcome[0] ? d->last_outcome : "TimeToLiveExceeded";
    } else {
        if ((e = ce ? cf_buf_puts(&body, d->body)
                    : cf_buf_printf(&body, "[%s]", d->body)) != CF_OK)
            goto out;
        if (post(ev, &s, "Notification", d->attempts, body.data, body.len, &status, NULL))
            status = 0;
        o.attempts = d->attempts + 1;
        if (cf_events_classify(status, ev->o.retry_base_ms, &retry, &min_ms, &o.last_outcome)) {
            o.reason = "";
        } else if (!retry) {
            o.reason = "NonRetriableStatus";
        } else if (o.attempts >= s.max_attempts) {
            o.reason = "MaxDeliveryAttemptsExceeded";
        } else {
            int64_t wait = cf_events_backoff_ms(o.attempts, ev->o.retry_base_ms);
            o.next_ms = o.now + (wait > min_ms ? wait : min_ms);
        }
    }
    e = cf_store_write(ev->o.store, outcome_fn, &o);
    if (!e && o.reason && o.reason[0])
        cf_warn("events: subscription %s: event %s dead-lettered (%s, last outcome %s, %d "
                "attempts)",
                s.name, d->event_id, o.reason, o.last_outcome, o.attempts);
out:
    cf_rec_event_sub_release(&s);
    cf_buf_release(&body);
    return e;
}

static cf_err deliver_due(struct cf_events *ev, size_t *done)
{
    struct due u;
    struct due_arg a = {&u, now_ms(ev)};
    cf_err e;

    *done = 0;
    memset(&u, 0, sizeof(u));
    e = cf_store_read(ev->o.store, due_fn, &a);
    for (size_t i = 0; i < u.n; i++) {
        if (!e && !ev->stop) {
            e = attempt(ev, &u.d[i]);
            (*done)++;
        }
        cf_rec_event_delivery_release(&u.d[i]);
    }
    return e;
}

static cf_err next_fn(struct cf_store_txn *t, void *arg)
{
    cf_err e = cf_store_event_delivery_next(t, arg);
    return e == CF_ENOTFOUND ? CF_OK : e;
}

/* ---------------------------------------------------------------- the expiry scan */

/* NearExpiry fires lead_s before exp for secrets, certificates and keys WITHOUT a rotation
 * policy; Expired fires at exp for all. A key's rotation policy owns its KeyNearExpiry
 * (azure-kv-security-ops.md 7.1: the lead is the policy's Notify timeBeforeExpiry, Azure's
 * default policy being Notify P30D): the vault janitor sends it at the policy's time
 * (cf_vault_keys_rotate_due), and a policy without a Notify action sends none - PUT replaces
 * the whole policy, default Notify included. The store's query leaves such keys out of the
 * near-expiry branch (store_events.h), so this scan never pre-empts the policy's time. Both
 * paths record the event in the same per-version mark (cf_store_expiry_mark) in the write
 * that adds the event, so a version gets at most one KeyNearExpiry whichever path sees it
 * first (e.g. one notified here at the default lead before a policy was set is not notified
 * again by the policy), and none once Expired was sent. */

struct scan {
    struct cf_events *ev;
    struct cf_rec_expiry *x;
    size_t n, cap;
    int64_t now;
    int emitted;
};

static cf_err scan_cb(const struct cf_rec_expiry *x, void *arg)
{
    struct scan *s = arg;

    if (s->n >= s->cap)
        return CF_OK;
    s->x[s->n++] = *x;
    return CF_OK;
}

static cf_err scan_read_fn(struct cf_store_txn *t, void *arg)
{
    struct scan *s = arg;
    return cf_store_expiry_due(t, s->now, s->ev->lead_s, s->cap, scan_cb, s);
}

static const char *const kind_name[] = {"Secret", "Key", "Certificate"};

static cf_err scan_write_fn(struct cf_store_txn *t, void *arg)
{
    struct scan *s = arg;
    cf_err e = CF_OK;

    for (size_t i = 0; i < s->n && !e; i++) {
        const struct cf_rec_expiry *x = &s->x[i];
        bool expired = x->exp <= s->now, was_near = false, was_exp = false;
        char type[48];

        /* already expired when first seen: Expired only (no late NearExpiry) */
        e = cf_store_expiry_mark(t, x->kind, x->object_id, x->version, true, expired, &was_near,
                                 &was_exp);
        if (e || (expired ? was_exp : was_near))
            continue;
        snprintf(type, sizeof(type), "%s%s", kind_name[x->kind], expired ? "Expired" : "NearExpiry");
        struct cf_events_kv kv = {type,     x->vault_id, x->vault_name, kind_name[x->kind],
                                  x->name, x->version,  x->nbf,        x->exp};
        e = cf_events_emit(s->ev, t, &kv);
        if (!e)
            s->emitted++;
    }
    if (!e)
        e = cf_store_expiry_prune(t);
    return e;
}

static cf_err scan_expiry(struct cf_events *ev)
{
    struct scan s = {.ev = ev, .cap = EXPIRY_BATCH};
    cf_err e;

    if (!subscribed(ev, 0, true))
        return CF_OK; /* no subscription anywhere: nobody to tell */
    s.now = now_ms(ev) / 1000;
    if (!(s.x = calloc(s.cap, sizeof(*s.x))))
        return CF_ENOMEM;
    e = cf_store_read(ev->o.store, scan_read_fn, &s);
    if (!e && s.n)
        e = cf_store_write(ev->o.store, scan_write_fn, &s);
    if (!e && s.emitted)
        cf_info("events: %d expiry event(s)", s.emitted);
    free(s.x);
    return e;
}

/* ---------------------------------------------------------------- the worker */

cf_err cf_events_run_once(struct cf_events *ev, bool scan)
{
    cf_err e = CF_OK, e2;
    size_t done = 0;
    int fanned = 0;

    if (scan)
        e = scan_expiry(ev);
    if ((e2 = fan_out(ev, &fanned)) && !e)
        e = e2;
    if ((e2 = validate_pending(ev)) && !e)
        e = e2;
    do {
        if ((e2 = deliver_due(ev, &done)) && !e)
            e = e2;
    } while (!e2 && done == DUE_BATCH && !ev->stop);
    return e;
}

static void *worker_main(void *arg)
{
    struct cf_events *ev = arg;
    int64_t next_scan = 0;

    for (;;) {
        int64_t now = now_ms(ev), wake, next_due = INT64_MAX;
        bool scan = now >= next_scan;
        struct timespec ts;
        cf_err e;

        if (scan)
            next_scan = now + (int64_t)ev->o.scan_interval_s * 1000;
        e = cf_events_run_once(ev, scan);
        if (e)
            cf_warn("events: worker pass failed (%s); will retry", cf_err_name(e));
        if (cf_store_read(ev->o.store, next_fn, &next_due) != CF_OK)
            next_due = INT64_MAX;
        pthread_mutex_lock(&ev->mu);
        now = now_ms(ev);
        wake = now + IDLE_POLL_MS;
        if (ev->kicked || now < ev->kick_until_ms) /* a row may be about to commit */
            wake = now + KICK_POLL_MS;
        if (e)
            wake = now + IDLE_POLL_MS;
        if (next_due < wake)
            wake = next_due;
        if (next_scan < wake)
            wake = next_scan;
        if (ev->nval > 0 && now + KICK_POLL_MS * 10 < wake) /* handshakes waiting to retry */
            wake = now + KICK_POLL_MS * 10;
        ev->kicked = false;
        if (wake > now && !ev->stop) {
            /* the clock may be a test's; the wait is real time */
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (wake - now) % 1000 * 1000000;
            ts.tv_sec += (time_t)((wake - now) / 1000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            while (!ev->stop && !ev->kicked &&
                   pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) == 0)
                ;
        }
        if (ev->stop) {
            pthread_mutex_unlock(&ev->mu);
            break;
        }
        pthread_mutex_unlock(&ev->mu);
    }
    return NULL;
}
