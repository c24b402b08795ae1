/* seen.c - the first-read set: which principals have read which secrets (rule first_read).
 *
 * Bounded memory: nsets sets of SEEN_WAYS 64-bit fingerprints of (oid, vault, name); a pair
 * maps to one set; when its set is full the oldest entry (FIFO) is forgotten, so the same pair
 * may later count as a first read again (a spurious alert, never a missed one for a pair not
 * seen before - except a 64-bit fingerprint collision). Striped mutexes; nothing allocated
 * after init. Nothing here is a secret: names and object ids, as the audit log holds them. */
#include "base/cf.h"
#include "metrics/metrics_int.h"

#include "base/log.h"

#include <stdlib.h>

cf_err m_seen_init(struct cf_metrics *m, size_t capacity)
{
    size_t sets = 1;

    if (capacity == 0)
        capacity = 65536;
    if (capacity < 1024)
        capacity = 1024;
    if (capacity > ((size_t)1 << 26))
        return CF_EINVAL;
    while (sets * SEEN_WAYS < capacity)
        sets <<= 1;
    m->nsets = sets;
    m->seen = calloc(sets * SEEN_WAYS, sizeof(*m->seen));
    m->seen_next = calloc(sets, 1);
    if (!m->seen || !m->seen_next)
        return CF_ENOMEM;
    for (size_t i = 0; i < SEEN_LOCKS; i++)
        pthread_mutex_init(&m->seen_mu[i], NULL);
    return CF_OK;
}

void m_seen_free(struct cf_metrics *m)
{
    if (m->seen)
        for (size_t i = 0; i < SEEN_LOCKS; i++)
            pthread_mutex_destroy(&m->seen_mu[i]);
    free(m->seen);
    free(m->seen_next);
    m->seen = NULL;
    m->seen_next = NULL;
}

static uint64_t fp_of(const char *oid, const char *vault, const char *name)
{
    const char *parts[3] = {oid, vault, name};
    uint64_t h = 14695981039346656037ull;

    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; p && *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ 0x1ffu) * 1099511628211ull; /* separator outside the byte range */
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

bool cf_metrics_note_read(struct cf_metrics *m, const char *oid, const char *vault,
                          const char *name)
{
    uint64_t fp;
    size_t set;
    uint64_t *ways;
    pthread_mutex_t *mu;
    bool first = true;

    if (!m || !oid || !*oid)
        return false;
    if (!atomic_load_explicit(&m->wants_reads, memory_order_relaxed))
        return false; /* no first_read rule: the GET path pays nothing */
    fp = fp_of(oid, vault, name);
    set = (size_t)(fp >> 20) & (m->nsets - 1);
    ways = &m->seen[set * SEEN_WAYS];
    mu = &m->seen_mu[set % SEEN_LOCKS];
    pthread_mutex_lock(mu);
    for (int i = 0; i < SEEN_WAYS; i++) {
        if (ways[i] == fp) {
            first = false;
            break;
        }
    }
    if (first) {
        int slot = -1;
        for (int i = 0; i < SEEN_WAYS && slot < 0; i++)
            if (ways[i] == 0)
                slot = i;
        if (slot < 0) {
            slot = m->seen_next[set];
            m->seen_next[set] = (uint8_t)((slot + 1) % SEEN_WAYS);
        }
        ways[slot] = fp;
    }
    pthread_mutex_unlock(mu);
    if (first) {
        pthread_mutex_lock(&m->fr_mu);
        m->fr_new++;
        if (m->nfr < FR_KEEP) {
            struct m_first_read *r = &m->fr[m->nfr++];
            snprintf(r->oid, sizeof(r->oid), "%s", oid);
            snprintf(r->vault, sizeof(r->vault), "%s", vault ? vault : "");
            snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
        }
        pthread_mutex_unlock(&m->fr_mu);
    }
    return first;
}
