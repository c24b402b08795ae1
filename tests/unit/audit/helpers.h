/* helpers.h - shared by the audit unit tests (header-only, static): temporary directories,
 * whole-file reads and line surgery for tamper tests, and a standard event. */
#ifndef CF_TEST_AUDIT_HELPERS_H
#define CF_TEST_AUDIT_HELPERS_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "audit/audit.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char test_key[CF_AUDIT_KEY_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static inline void test_mkdtemp(char out[64])
{
    snprintf(out, 64, "/tmp/cf_audit_test_XXXXXX");
    if (!mkdtemp(out))
        abort();
}

static inline void test_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Names of the audit files in dir, sorted; returns the count. */
static inline size_t test_files(const char *dir, char names[][160], size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "audit-", 6) == 0 && n < max)
            snprintf(names[n++], 160, "%.159s", de->d_name);
    closedir(d);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char t[160];
                memcpy(t, names[i], 160);
                memcpy(names[i], names[j], 160);
                memcpy(names[j], t, 160);
            }
    return n;
}

/* A file as an array of lines (each malloc'd, without newline); last_nl says whether the file
 * ended with a newline. */
struct test_lines {
    char *l[4096];
    size_t n;
    bool last_nl;
};

static inline void test_read_lines(const char *path, struct test_lines *t)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    memset(t, 0, sizeof(*t));
    if (!f)
        abort();
    while ((n = getline(&line, &cap, f)) > 0 && t->n < 4096) {
        t->last_nl = line[n - 1] == '\n';
        if (t->last_nl)
            line[n - 1] = '\0';
        t->l[t->n++] = strdup(line);
    }
    free(line);
    fclose(f);
}

static inline void test_write_lines(const char *path, const struct test_lines *t)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    for (size_t i = 0; i < t->n; i++)
        fprintf(f, "%s%s", t->l[i], i + 1 < t->n || t->last_nl ? "\n" : "");
    fclose(f);
}

static inline void test_free_lines(struct test_lines *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->l[i]);
    t->n = 0;
}

static inline void test_event(struct cf_audit_event *ev, int i)
{
    static _Thread_local char uri[128]; /* per thread: the sync test appends from 4 */
    memset(ev, 0, sizeof(*ev));
    ev->time_ms = 1740910542123 + i;
    ev->resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/app-rg/"
                      "providers/Microsoft.KeyVault/vaults/contoso-kv";
    ev->operation_name = i % 2 ? "SecretSet" : "SecretGet";
    ev->operation_version = "7.4";
    ev->http_status = 200;
    ev->duration_ms = 12;
    ev->caller_ip = "203.0.113.7";
    ev->identity.oid = "9a2b0c3d-0000-4000-8000-000000000002";
    snprintf(uri, sizeof(uri), "https://contoso-kv.vault.azure.net/secrets/s%d?api-version=7.4", i);
    ev->request_uri = uri;
}

/* Appends n formatted events. */
static inline cf_err test_append_n(struct cf_audit *a, int from, int n, bool durable)
{
    struct cf_buf b;
    struct cf_audit_event ev;
    cf_err e = CF_OK;
    cf_buf_init(&b, CF_AUDIT_MAX_LINE);
    for (int i = from; i < from + n && !e; i++) {
        cf_buf_reset(&b);
        test_event(&ev, i);
        e = cf_audit_format(&ev, &b);
        if (!e)
            e = cf_audit_append(a, cf_buf_str(&b), durable);
    }
    cf_buf_release(&b);
    return e;
}

/* The public half of an EC P-256 key, through its JWK (as an auditor would receive it). */
static inline struct cf_pkey *test_pubkey(const struct cf_pkey *k)
{
    struct cf_buf b;
    struct cf_jw w;
    struct cf_json *j = NULL;
    struct cf_pkey *pub = NULL;
    size_t xl, yl;
    const char *x, *y;
    cf_buf_init(&b, 4096);
    cf_jw_init(&w, &b);
    if (cf_pkey_write_jwk(k, NULL, &w) || cf_json_parse(b.data, b.len, &j, NULL, 0))
        abort();
    x = cf_json_str(cf_json_get(j, "x"), &xl);
    y = cf_json_str(cf_json_get(j, "y"), &yl);
    if (cf_pkey_from_jwk_ec((struct cf_str){x, xl}, (struct cf_str){y, yl}, &pub))
        abort();
    cf_json_free(j);
    cf_buf_release(&b);
    return pub;
}

#endif
