/* throttle.h - Key Vault's service limits (azure-kv-common.md §11, azure-kv-security-ops.md
 * §6.3): token buckets per vault and per principal, one per transaction class, each holding
 * the class's limit per 10 seconds and refilling continuously at limit/10 per second.
 *
 * A request is admitted only when both its vault's and its principal's bucket of its class
 * hold its weight; then both are charged. A refused request charges nothing (Azure: 429s do
 * not count towards the limit) and learns how long until it would fit (Retry-After).
 *
 * Memory is bounded: a fixed table of buckets. A bucket idle for 10 s is full again, so it is
 * indistinguishable from a new one and its slot may be reused; when a probe window holds only
 * busy buckets the least recently used of them is reused (a burst of distinct callers can
 * then get a fresh budget: throttling degrades open rather than refusing everyone).
 *
 * Thread-safe: striped mutexes; a check allocates nothing. */
#ifndef CF_THROTTLE_H
#define CF_THROTTLE_H

#include "base/cf.h"
#include "base/clock.h"

enum cf_throttle_class {
    CF_THROTTLE_SECRET_CREATE, /* secret set, certificate import, key import (one budget) */
    CF_THROTTLE_KEY_CREATE,    /* key create */
    CF_THROTTLE_KEY_OTHER,     /* every other key transaction (weighted by key size) */
    CF_THROTTLE_OTHER,         /* every other transaction: secret get/list/update/... */
    CF_THROTTLE_NCLASSES
};

struct cf_throttle_limits {
    int per_10s[CF_THROTTLE_NCLASSES]; /* per vault; 0 = that class is not limited */
    int principal_factor;             /* a principal's limit = factor x the vault's (>= 1) */
};
/* Azure's current table: 300, 20, 4000, 4000; principal factor 5 (the subscription-wide
 * multiple). */
void cf_throttle_limits_default(struct cf_throttle_limits *l);

struct cf_throttle;
struct cf_throttle *cf_throttle_new(const struct cf_throttle_limits *l,
                                    const struct cf_clock *clock, cf_err *err);
void cf_throttle_free(struct cf_throttle *t);

/* The class of a route's audit operation name ("SecretSet" -> SECRET_CREATE, "KeySign" ->
 * KEY_OTHER ...). */
enum cf_throttle_class cf_throttle_class_of(const char *operation);

/* Admits (true) and charges weight to the vault's and the principal's bucket of class, or
 * refuses (false) with *retry_after_s (>= 1) set and nothing charged. */
bool cf_throttle_admit(struct cf_throttle *t, int64_t vault_id, const char *principal_oid,
                       enum cf_throttle_class cls, int weight, int *retry_after_s);

#endif
