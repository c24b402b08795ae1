/* log.h - leveled logging to stderr (or a file descriptor chosen at start-up).
 *
 * Rule: nothing secret is ever passed to these functions - no secret value, key material,
 * client secret, token or Authorization header. Log names and ids, never values.
 * The level and fd are the one process-wide setting (set once in main before threads start,
 * read-only afterwards), because every module logs and threading a logger through every call
 * would buy nothing. */
#ifndef CF_LOG_H
#define CF_LOG_H

#include "base/cf.h"

enum cf_log_level { CF_LOG_DEBUG, CF_LOG_INFO, CF_LOG_WARN, CF_LOG_ERROR };

/* Call once before any thread starts. */
void cf_log_setup(enum cf_log_level min, int fd);
bool cf_log_enabled(enum cf_log_level lvl);
void cf_log(enum cf_log_level lvl, const char *fmt, ...) CF_PRINTF(2, 3);

#define cf_debug(...) cf_log(CF_LOG_DEBUG, __VA_ARGS__)
#define cf_info(...) cf_log(CF_LOG_INFO, __VA_ARGS__)
#define cf_warn(...) cf_log(CF_LOG_WARN, __VA_ARGS__)
#define cf_error(...) cf_log(CF_LOG_ERROR, __VA_ARGS__)

#endif
