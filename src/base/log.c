/* log.c - one line per call, written with a single write(2) so lines from threads never mix. */
#include "base/cf.h"
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum cf_log_level log_min = CF_LOG_INFO;
static int log_fd = 2;

void cf_log_setup(enum cf_log_level min, int fd)
{
    log_min = min;
    log_fd = fd;
}

bool cf_log_enabled(enum cf_log_level lvl)
{
    return lvl >= log_min;
}

void cf_log(enum cf_log_level lvl, const char *fmt, ...)
{
    static const char *const tags[] = {"debug", "info", "warn", "error"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int k;
    va_list ap;

    if (lvl < log_min)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
                 tags[(unsigned)lvl < 4 ? lvl : 3]);
    if (k > 0)
        n += (size_t)k;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (k > 0)
        n += CF_MIN((size_t)k, sizeof(line) - n - 2);
    line[n++] = '\n';
    if (write(log_fd, line, n) < 0) {
        /* Nowhere left to report a failed log write. */
    }
}
