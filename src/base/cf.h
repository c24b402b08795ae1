/* cf.h - the first include of every Coffer source file.
 *
 * Pulls in the few standard headers every module uses, the shared macros, and banned.h so that
 * unsafe libc calls fail to compile anywhere in the tree. */
#ifndef CF_CF_H
#define CF_CF_H

/* Standard headers whose declarations banned.h would otherwise break: include them first. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/err.h"

#define CF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CF_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CF_NODISCARD __attribute__((warn_unused_result))

/* Limits shared by every layer (STYLE.md §5). Runtime-configurable limits start from these. */
#define CF_MAX_HEADER_BYTES (16 * 1024)
#define CF_MAX_BODY_BYTES (256 * 1024)
#define CF_MAX_SECRET_VALUE_CHARS 25600
#define CF_MAX_NAME_LEN 127
#define CF_MAX_CONTENT_TYPE 255
#define CF_MAX_TAGS 15
#define CF_MAX_TAG_LEN 512
#define CF_MAX_JSON_DEPTH 32
#define CF_PAGE_MAX 25
#define CF_VERSION_HEX_LEN 32

#include "base/banned.h"

#endif
