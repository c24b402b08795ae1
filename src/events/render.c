/* render.c - the pure parts of events.h: event type names, endpoint check, the data object and
 * the two envelopes (EventGridSchema, CloudEventSchemaV1_0), eventTime, the retry schedule,
 * the meaning of an answer, and the signature header. No state, no I/O. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "events/events.h"

#include <arpa/inet.h>
#include <time.h>

static const char *const kv_types[] = {
    "SecretNewVersionCreated",      "SecretNearExpiry",      "SecretExpired",
    "KeyNewVersionCreated",         "KeyNearExpiry",         "KeyExpired",
    "CertificateNewVersionCreated", "CertificateNearExpiry", "CertificateExpired",
    "VaultAccessPolicyChanged",
};

bool cf_events_type_known(const char *type)
{
    size_t plen = strlen(CF_EVENTS_TYPE_PREFIX);

    if (!type)
        return false;
    if (strcmp(type, CF_EVENTS_ALERT_FIRED) == 0 || strcmp(type, CF_EVENTS_ALERT_RESOLVED) == 0)
        return true;
    if (strncmp(type, CF_EVENTS_TYPE_PREFIX, plen) != 0)
        return false;
    for (size_t i = 0; i < CF_ARRAY_LEN(kv_types); i++)
        if (strcmp(type + plen, kv_types[i]) == 0)
            return true;
    return false;
}

bool cf_events_endpoint_ok(const char *url)
{
    const char *host, *end;
    char h[64];
    size_t n;
    unsigned char a[16];

    if (!url || strlen(url) >= CF_EVENTS_URL_MAX)
        return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return false;
    if (strncmp(url, "https://", 8) == 0)
        return url[8] != '\0' && url[8] != '/';
    if (strncmp(url, "http://", 7) != 0)
        return false;
    /* plain HTTP only to this machine: the signature protects integrity, not secrecy */
    host = url + 7;
    if (*host == '[') {
        end = strchr(host, ']');
        if (!end)
            return false;
        host++;
    } else {
        end = host + strcspn(host, ":/?#");
    }
    n = (size_t)(end - host);
    if (n == 0 || n >= sizeof(h) || memchr(host, '@', n))
        return false;
    memcpy(h, host, n);
    h[n] = '\0';
    if (strcasecmp(h, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET6, h, a) == 1)
        return strcmp(h, "::1") == 0;
    if (inet_pton(AF_INET, h, a) == 1)
        return a[0] == 127;
    return false;
}

static const char *kind_path(const char *object_type)
{
    if (strcmp(object_type, "Secret") == 0)
        return "secrets";
    if (strcmp(object_type, "Key") == 0)
        return "keys";
    if (strcmp(object_type, "Certificate") == 0)
        return "certificates";
    return NULL;
}

cf_err cf_events_render_data(const struct cf_events_kv *kv, const char *dns_suffix, int port,
                             struct cf_buf *out)
{
    char host[160], portbuf[16] = "";
    const char *kp = kind_path(kv->object_type);
    struct cf_buf id;
    struct cf_jw w;
    size_t i;
    cf_err e;

    for (i = 0; kv->vault_name[i] && i + 1 < sizeof(host); i++) /* host names are lower case */
        host[i] = (char)((kv->vault_name[i] >= 'A' && kv->vault_name[i] <= 'Z')
                             ? kv->vault_name[i] - 'A' + 'a'
                             : kv->vault_name[i]);
    host[i] = '\0';
    if (port > 0 && port != 443)
        snprintf(portbuf, sizeof(portbuf), ":%d", port);
    cf_buf_init(&id, 1024);
    if (kp)
        e = cf_buf_printf(&id, "https://%s.%s%s/%s/%s/%s", host, dns_suffix, portbuf, kp,
                          kv->object_name, kv->version ? kv->version : "");
    else
        e = cf_buf_printf(&id, "https://%s.%s%s/", host, dns_suffix, portbuf);
    if (e)
        goto out;
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "Id", (const char *)id.data);
    cf_jw_kstr(&w, "VaultName", kv->vault_name);
    cf_jw_kstr(&w, "ObjectType", kv->object_type);
    cf_jw_kstr(&w, "ObjectName", kv->object_name);
    cf_jw_kstr(&w, "Version", kv->version ? kv->version : "");
    cf_jw_key(&w, "NBF");
    if (kv->nbf)
        cf_jw_int(&w, kv->nbf);
    else
        cf_jw_null(&w);
    cf_jw_key(&w, "EXP");
    if (kv->exp)
        cf_jw_int(&w, kv->exp);
    else
        cf_jw_null(&w);
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
out:
    cf_buf_release(&id);
    return e;
}

void cf_events_time(int64_t time_ms, char out[40])
{
    time_t s;
    struct tm tm;
    size_t n;

    if (time_ms < 0)
        time_ms = 0;
    s = (time_t)(time_ms / 1000);
    gmtime_r(&s, &tm);
    n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    /* Event Grid writes 7 fractional digits; milliseconds are what the clock has */
    snprintf(out + n, 40 - n, ".%03d0000Z", (int)(time_ms % 1000));
}

cf_err cf_events_render_event(const char *schema, const char *id, const char *topic,
                              const char *subject, const char *type, int64_t time_ms,
                              const char *data, struct cf_buf *out)
{
    bool ce = schema && strcmp(schema, CF_EVENTS_SCHEMA_CE) == 0;
    char when[40];
    struct cf_jw w;

    cf_events_time(time_ms, when);
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    if (ce) {
        cf_jw_kstr(&w, "specversion", "1.0");
        cf_jw_kstr(&w, "id", id);
        cf_jw_kstr(&w, "source", topic);
        cf_jw_kstr(&w, "subject", subject);
        cf_jw_kstr(&w, "type", type);
        cf_jw_kstr(&w, "time", when);
        cf_jw_key(&w, "data");
        cf_jw_raw(&w, data, strlen(data));
    } else {
        cf_jw_kstr(&w, "id", id);
        cf_jw_kstr(&w, "topic", topic);
        cf_jw_kstr(&w, "subject", subject);
        cf_jw_kstr(&w, "eventType", type);
        cf_jw_kstr(&w, "eventTime", when);
        cf_jw_key(&w, "data");
        cf_jw_raw(&w, data, strlen(data));
        cf_jw_kstr(&w, "dataVersion", "1");
        cf_jw_kstr(&w, "metadataVersion", "1");
    }
    cf_jw_obj_end(&w);
    return cf_jw_err(&w);
}

/* Event Grid's documented schedule, in seconds (§7.3); past its end every 12 h. */
static const int64_t schedule_s[] = {10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200};

static int64_t scale(int64_t ms, int64_t base_ms)
{
    if (base_ms <= 0)
        base_ms = 10000;
    return ms / 10000 * base_ms + (ms % 10000) * base_ms / 10000;
}

int64_t cf_events_backoff_ms(int attempt, int64_t base_ms)
{
    size_t i = attempt <= 1 ? 0 : (size_t)(attempt - 1);

    if (i >= CF_ARRAY_LEN(schedule_s))
        i = CF_ARRAY_LEN(schedule_s) - 1;
    return scale(schedule_s[i] * 1000, base_ms);
}

bool cf_events_classify(int status, int64_t base_ms, bool *retry, int64_t *min_ms,
                        const char **outcome)
{
    *retry = true;
    *min_ms = scale(10000, base_ms);
    if (status >= 200 && status <= 204) {
        *retry = false;
        *min_ms = 0;
        *outcome = "Succeeded";
        return true;
    }
    switch (status) {
    case 0:
        *outcome = "SocketError";
        break;
    case 400:
    case 413:
        *retry = false;
        *outcome = status == 400 ? "BadRequest" : "RequestEntityTooLarge";
        break;
    case 401:
        *retry = false;
        *outcome = "Unauthorized";
        break;
    case 403:
        *retry = false;
        *outcome = "Forbidden";
        break;
    case 404:
        *outcome = "NotFound";
        break;
    case 408:
        *min_ms = scale(120000, base_ms);
        *outcome = "TimedOut";
        break;
    case 503:
        *min_ms = scale(30000, base_ms);
        *outcome = "Busy";
        break;
    default:
        *outcome = "GenericError";
        break;
    }
    return false;
}

cf_err cf_events_sign(const char *secret, const void *body, size_t n, char out[80])
{
    unsigned char mac[CF_SHA256_LEN];
    cf_err e = cf_hmac_sha256(secret, strlen(secret), body, n, mac);

    if (e)
        return e;
    memcpy(out, "sha256=", 7);
    cf_hex_encode(out + 7, mac, sizeof(mac));
    out[7 + 2 * sizeof(mac)] = '\0';
    cf_wipe(mac, sizeof(mac));
    return CF_OK;
}
