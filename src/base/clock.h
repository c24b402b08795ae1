/* clock.h - the time source, injectable so tests can move time (expiry, purge dates, tokens). */
#ifndef CF_CLOCK_H
#define CF_CLOCK_H

#include "base/cf.h"

struct cf_clock {
    /* Unix time in milliseconds. */
    int64_t (*now_ms)(const struct cf_clock *c);
    int64_t offset_ms; /* added to the system time by the system clock (tests, --clock-skew) */
};

/* A clock reading CLOCK_REALTIME plus offset_ms. */
struct cf_clock cf_clock_system(void);
static inline int64_t cf_clock_ms(const struct cf_clock *c)
{
    return c->now_ms(c);
}
static inline int64_t cf_clock_s(const struct cf_clock *c)
{
    return c->now_ms(c) / 1000;
}
/* Monotonic milliseconds, for durations and timeouts. */
int64_t cf_mono_ms(void);
/* Formats unix seconds as ISO-8601 UTC "2026-12-04T22:46:24Z" into out (>= 21 bytes). */
void cf_time_iso8601(int64_t unix_s, char out[32]);

#endif
