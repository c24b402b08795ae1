/* throttle.c - per-vault and per-principal token buckets (see throttle.h).
 *
 * Layout: 64 stripes, each a mutex and 128 slots. A bucket's 64-bit key (FNV-1a of its owner
 * and class) picks the stripe and the first slot; a probe looks at up to 8 slots from there.
 * A slot holds the key, the tokens left and when they were last topped up. */
#include "base/cf.h"
#include "auth/throttle.h"

#include <pthread.h>

#define STRIPES 64
#define SLOTS 128
#define PROBE 8
#define WINDOW_MS 10000.0

struct slot {
    uint64_t key; /* 0 = empty */
    double tokens;
    int64_t last_ms;
};

struct stripe {
    pthread_mutex_t mu;
    struct slot slots[SLOTS];
};

struct cf_throttle {
    struct cf_throttle_limits lim;
    const struct cf_clock *clock;
    struct stripe stripes[STRIPES];
};

void cf_throttle_limits_default(struct cf_throttle_limits *l)
{
    l->per_10s[CF_THROTTLE_SECRET_CREATE] = 300;
    l->per_10s[CF_THROTTLE_KEY_CREATE] = 20;
    l->per_10s[CF_THROTTLE_KEY_OTHER] = 4000;
    l->per_10s[CF_THROTTLE_OTHER] = 4000;
    l->principal_factor = 5;
}

struct cf_throttle *cf_throttle_new(const struct cf_throttle_limits *l,
                                    const struct cf_clock *clock, cf_err *err)
{
    struct cf_throttle *t;

    if (!l || !clock || l->principal_factor < 1) {
        *err = CF_EINVAL;
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        *err = CF_ENOMEM;
        return NULL;
    }
    t->lim = *l;
    t->clock = clock;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&t->stripes[i].mu, NULL);
    *err = CF_OK;
    return t;
}

void cf_throttle_free(struct cf_throttle *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&t->stripes[i].mu);
    free(t);
}

enum cf_throttle_class cf_throttle_class_of(const char *op)
{
    if (!op)
        return CF_THROTTLE_OTHER;
    if (strcmp(op, "SecretSet") == 0 || strcmp(op, "KeyImport") == 0 ||
        strcmp(op, "CertificateImport") == 0)
        return CF_THROTTLE_SECRET_CREATE;
    if (strcmp(op, "KeyCreate") == 0)
        return CF_THROTTLE_KEY_CREATE;
    if (strncmp(op, "Key", 3) == 0)
        return CF_THROTTLE_KEY_OTHER;
    return CF_THROTTLE_OTHER;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t bucket_key(char kind, const void *id, size_t n, enum cf_throttle_class cls)
{
    unsigned char c = (unsigned char)cls;
    uint64_t h = fnv(14695981039346656037ull, &kind, 1);
    h = fnv(h, &c, 1);
    h = fnv(h, id, n);
    return h ? h : 1;
}

/* The slot of key in its stripe (locked by the caller): found, or an empty or reusable one
 * (reset to full), or the least recently used of the window. */
static struct slot *find_slot(struct stripe *s, uint64_t key, double cap, int64_t now)
{
    size_t first = (size_t)(key >> 8) % SLOTS;
    struct slot *free_sl = NULL, *lru = NULL, *sl;

    for (size_t i = 0; i < PROBE; i++) {
        sl = &s->slots[(first + i) % SLOTS];
        if (sl->key == key)
            return sl;
        if (sl->key == 0 || now - sl->last_ms >= (int64_t)WINDOW_MS) {
            if (!free_sl)
                free_sl = sl; /* empty, or idle long enough to be full again */
        } else if (!lru || sl->last_ms < lru->last_ms) {
            lru = sl;
        }
    }
    sl = free_sl ? free_sl : lru;
    sl->key = key;
    sl->tokens = cap;
    sl->last_ms = now;
    return sl;
}

static void refill(struct slot *sl, double cap, int64_t now)
{
    if (now > sl->last_ms) {
        sl->tokens += (double)(now - sl->last_ms) * cap / WINDOW_MS;
        if (sl->tokens > cap)
            sl->tokens = cap;
        sl->last_ms = now;
    }
}

/* Seconds until weight tokens are back (>= 1). */
static int wait_s(const struct slot *sl, double cap, int weight)
{
    double ms = ((double)weight - sl->tokens) * WINDOW_MS / cap;
    int s = (int)(ms / 1000.0);
    if ((double)s * 1000.0 < ms)
        s++;
    return s < 1 ? 1 : s;
}

bool cf_throttle_admit(struct cf_throttle *t, int64_t vault_id, const char *principal_oid,
                       enum cf_throttle_class cls, int weight, int *retry_after_s)
{
    int limit = cls < CF_THROTTLE_NCLASSES ? t->lim.per_10s[cls] : 0;
    double vcap, pcap;
    uint64_t vk, pk;
    struct stripe *a, *b;
    struct slot *vs, *ps;
    int64_t now;
    bool ok;

    *retry_after_s = 0;
    if (limit <= 0 || weight <= 0)
        return true;
    vcap = (double)limit;
    pcap = (double)limit * t->lim.principal_factor;
    vk = bucket_key('v', &vault_id, sizeof(vault_id), cls);
    pk = bucket_key('p', principal_oid ? principal_oid : "", principal_oid ? strlen(principal_oid) : 0,
                    cls);
    a = &t->stripes[vk % STRIPES];
    b = &t->stripes[pk % STRIPES];
    if (a > b) { /* one lock order: lower address first */
        struct stripe *x = a;
        a = b;
        b = x;
    }
    pthread_mutex_lock(&a->mu);
    if (b != a)
        pthread_mutex_lock(&b->mu);
    now = cf_clock_ms(t->clock);
    vs = find_slot(&t->stripes[vk % STRIPES], vk, vcap, now);
    refill(vs, vcap, now); /* now the most recent slot: the next find evicts it last */
    ps = find_slot(&t->stripes[pk % STRIPES], pk, pcap, now);
    refill(ps, pcap, now);
    if (vs == ps) { /* a full window evicted one for the other: degrade open */
        ok = true;
    } else if ((ok = vs->tokens >= weight && ps->tokens >= weight)) {
        vs->tokens -= weight;
        ps->tokens -= weight;
    } else {
        int wv = vs->tokens >= weight ? 0 : wait_s(vs, vcap, weight);
        int wp = ps->tokens >= weight ? 0 : wait_s(ps, pcap, weight);
        *retry_after_s = wv > wp ? wv : wp;
    }
    if (b != a)
        pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&a->mu);
    return ok;
}
