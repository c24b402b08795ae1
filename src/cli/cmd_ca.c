/* cmd_ca.c - `coffer ca create | show` (cmd_ca.h).
 *
 * Map: url (management base + the provider path), cf_cli_shape_ca, write_pem (--file), the two
 * handlers. */
#include "base/cf.h"
#include "cli/cmd_ca.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define CA_PATH "/providers/Microsoft.Coffer/certificateAuthority"
#define CA_API "api-version=2024-01-01"

const struct cf_cli_opt cf_cli_o_ca_create[] = {
    {"--subject", NULL, OPT_STR, false, "The CA's subject (default \"CN=Coffer Internal CA\")."},
    {"--validity-months", NULL, OPT_INT, false, "The root's validity in months (default 120)."},
    {"--kty", NULL, OPT_STR, false, "The CA key type: RSA (default, 3072 bits) or EC (P-256)."},
    {"--size", NULL, OPT_INT, false, "RSA key size: 2048, 3072 or 4096."},
    {"--curve", NULL, OPT_STR, false, "EC curve: P-256, P-384 or P-521."},
    {"--file", "-f", OPT_STR, false, "Also write the root certificate (PEM) to this file."},
    {NULL, NULL, OPT_STR, false, NULL}};
const struct cf_cli_opt cf_cli_o_ca_show[] = {
    {"--file", "-f", OPT_STR, false, "Write the root certificate (PEM) to this file."},
    {NULL, NULL, OPT_STR, false, NULL}};

struct cf_val *cf_cli_shape_ca(const struct cf_val *res)
{
    static const char *const keys[] = {"issuerName", "subject",   "kty",      "keySize", "crv",
                                       "created",    "notBefore", "notAfter", "x5t",     "pem"};
    const struct cf_val *p = cf_val_get(res, "properties");
    struct cf_val *o = cf_val_obj();

    for (size_t i = 0; o && i < CF_ARRAY_LEN(keys); i++)
        if (cf_val_set(o, keys[i], cf_cli_copy(cf_val_get(p, keys[i]))) != CF_OK) {
            cf_val_unref(o);
            o = NULL;
        }
    return o;
}

static void url(struct cf_cli_run *r, char *out, size_t n, char *aud, size_t audn)
{
    cf_cli_mgmt_audience(r, aud, audn);
    snprintf(out, n, "%s" CA_PATH "?" CA_API, aud);
}

/* The PEM of the answer to path (0644: a root certificate is public). */
static int write_pem(struct cf_cli_run *r, const char *path, const struct cf_val *res)
{
    const struct cf_val *pem = cf_val_path(res, "properties.pem");
    size_t off = 0;
    int fd;

    if (!pem || pem->type != CF_VAL_STR)
        return cf_cli_fail(r, 1, "unexpected answer from the server");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cf_cli_fail(r, 1, "[Errno %d] %s: '%s'", errno, strerror(errno), path);
    while (off < pem->slen) {
        ssize_t w = write(fd, pem->s + off, pem->slen - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return cf_cli_fail(r, 1, "cannot write '%s'", path);
        }
        off += (size_t)w;
    }
    if (close(fd) != 0)
        return cf_cli_fail(r, 1, "cannot write '%s'", path);
    return 0;
}

static int finish(struct cf_cli_run *r, struct cf_cli_http *h)
{
    const char *file = cf_cli_arg(r, "--file");
    int rc = file ? write_pem(r, file, h->body) : 0;

    if (!rc) {
        r->result = cf_cli_shape_ca(h->body);
        rc = r->result ? 0 : cf_cli_fail(r, 1, "unexpected answer from the server");
    }
    cf_cli_http_release(h);
    return rc;
}

int cf_cli_cmd_ca_create(struct cf_cli_run *r)
{
    static const struct {
        const char *opt, *prop;
        bool num;
    } map[] = {{"--subject", "subject", false},
               {"--validity-months", "validityMonths", true},
               {"--kty", "kty", false},
               {"--size", "keySize", true},
               {"--curve", "crv", false}};
    struct cf_val *body = cf_val_obj(), *props = cf_val_obj();
    struct cf_cli_http h;
    char u[1024], aud[600];
    int rc;

    for (size_t i = 0; body && props && i < CF_ARRAY_LEN(map); i++) {
        const char *v = cf_cli_arg(r, map[i].opt);
        int64_t n = 0;
        if (!v)
            continue;
        if (map[i].num && !cf_str_to_i64(cf_str_from(v), &n)) {
            cf_val_unref(body);
            cf_val_unref(props);
            return cf_cli_fail(r, 2, "argument %s: invalid int value: '%s'", map[i].opt, v);
        }
        if (cf_val_set(props, map[i].prop, map[i].num ? cf_val_int(n) : cf_val_str(v)) != CF_OK) {
            cf_val_unref(body);
            body = props = NULL; /* set dropped props on failure */
        }
    }
    if (!body || !props || cf_val_set(body, "properties", props) != CF_OK) {
        cf_val_unref(body);
        return cf_cli_fail(r, 1, "out of memory");
    }
    url(r, u, sizeof(u), aud, sizeof(aud));
    rc = cf_cli_call(r, "PUT", u, aud, body, false, &h);
    cf_val_unref(body);
    if (rc)
        return rc;
    return finish(r, &h);
}

int cf_cli_cmd_ca_show(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char u[1024], aud[600];
    int rc;

    url(r, u, sizeof(u), aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "GET", u, aud, NULL, false, &h)) != 0)
        return rc;
    return finish(r, &h);
}
