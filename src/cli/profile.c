/* profile.c - what `coffer login` remembers: the profile (credentials, endpoints, subscription)
 * in CONFIG/profile.json and access tokens per audience in CONFIG/tokens.json, plus the reader
 * for the server's env file.
 *
 * Both files hold credentials (as az's service_principal_entries.json and msal_token_cache.json
 * do), so they are written 0600 through a temp file + rename, in a directory created 0700.
 * Buffers that held file contents are wiped. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/secret.h"
#include "cli/cli.h"
#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROFILE_MAX (64 * 1024)
#define TOKENS_MAX (1024 * 1024)

void cf_cli_profile_release(struct cf_cli_profile *p)
{
    if (!p)
        return;
    if (p->client_secret) {
        cf_wipe(p->client_secret, strlen(p->client_secret));
        free(p->client_secret);
    }
    memset(p, 0, sizeof(*p));
}

cf_err cf_cli_config_dir(const char *env_dir, const char *home, char *out, size_t n)
{
    int w;
    if (env_dir && *env_dir)
        w = snprintf(out, n, "%s", env_dir);
    else if (home && *home)
        w = snprintf(out, n, "%s/.coffer", home);
    else
        return CF_EINVAL;
    return (w < 0 || (size_t)w >= n) ? CF_ETOOBIG : CF_OK;
}

static cf_err ensure_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) == 0)
        return CF_OK;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return CF_OK;
    return CF_EIO;
}

/* Writes data to dir/name atomically with mode 0600. */
static cf_err write_private(const char *dir, const char *name, const char *data, size_t len)
{
    char path[4096], tmp[4160];
    int fd;
    size_t off = 0;
    cf_err err = CF_OK;

    if (ensure_dir(dir) != CF_OK)
        return CF_EIO;
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return CF_ETOOBIG;
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return CF_EIO;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = CF_EIO;
            break;
        }
        off += (size_t)w;
    }
    if (!err && (fchmod(fd, 0600) != 0 || fsync(fd) != 0))
        err = CF_EIO;
    if (close(fd) != 0 && !err)
        err = CF_EIO;
    if (!err && rename(tmp, path) != 0)
        err = CF_EIO;
    if (err)
        unlink(tmp);
    return err;
}

/* Reads dir/name into b (max bytes); CF_ENOTFOUND when absent. */
static cf_err read_file(const char *path, struct cf_buf *b)
{
    char chunk[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cf_err err = CF_OK;
    if (fd < 0)
        return errno == ENOENT ? CF_ENOTFOUND : CF_EIO;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = CF_EIO;
            break;
        }
        if (r == 0)
            break;
        err = cf_buf_append(b, chunk, (size_t)r);
        if (err)
            break;
    }
    cf_wipe(chunk, sizeof(chunk));
    close(fd);
    return err;
}

static cf_err read_in(const char *dir, const char *name, struct cf_buf *b)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return CF_ETOOBIG;
    return read_file(path, b);
}

cf_err cf_cli_profile_save(const char *dir, const struct cf_cli_profile *p)
{
    struct cf_buf b;
    struct cf_jw w;
    cf_err err;

    cf_buf_init(&b, PROFILE_MAX);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "environmentName", p->environment[0] ? p->environment : "Coffer");
    cf_jw_kstr(&w, "tenantId", p->tenant_id);
    cf_jw_kstr(&w, "clientId", p->client_id);
    cf_jw_kstr(&w, "clientSecret", p->client_secret ? p->client_secret : "");
    cf_jw_kstr(&w, "authority", p->authority);
    cf_jw_kstr(&w, "managementUrl", p->management_url);
    cf_jw_kstr(&w, "dnsSuffix", p->dns_suffix);
    cf_jw_kint(&w, "port", p->port);
    cf_jw_kstr(&w, "caFile", p->ca_file);
    cf_jw_kstr(&w, "subscriptionId", p->subscription_id);
    cf_jw_kstr(&w, "subscriptionName", p->subscription_name);
    if (p->cert_file[0])
        cf_jw_kstr(&w, "clientCertificate", p->cert_file);
    cf_jw_obj_end(&w);
    err = cf_jw_err(&w);
    if (!err)
        err = cf_buf_putc(&b, '\n');
    if (!err)
        err = write_private(dir, "profile.json", b.data, b.len);
    cf_buf_wipe(&b);
    return err;
}

static bool copy_field(const struct cf_json *o, const char *key, char *out, size_t n)
{
    size_t len;
    const char *s = cf_json_str(cf_json_get(o, key), &len);
    if (!s || len >= n)
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

cf_err cf_cli_profile_load(const char *dir, struct cf_cli_profile *p)
{
    struct cf_buf b;
    struct cf_json *j = NULL;
    const char *secret;
    size_t slen;
    int64_t port = 443;
    cf_err err;

    memset(p, 0, sizeof(*p));
    cf_buf_init(&b, PROFILE_MAX);
    err = read_in(dir, "profile.json", &b);
    if (err)
        goto out;
    err = cf_json_parse(b.data, b.len, &j, NULL, 0);
    if (err)
        goto out;
    err = CF_ECORRUPT;
    if (!copy_field(j, "tenantId", p->tenant_id, sizeof(p->tenant_id)) ||
        !copy_field(j, "clientId", p->client_id, sizeof(p->client_id)) ||
        !copy_field(j, "authority", p->authority, sizeof(p->authority)) ||
        !copy_field(j, "managementUrl", p->management_url, sizeof(p->management_url)) ||
        !copy_field(j, "dnsSuffix", p->dns_suffix, sizeof(p->dns_suffix)) ||
        !copy_field(j, "caFile", p->ca_file, sizeof(p->ca_file)) ||
        !copy_field(j, "subscriptionId", p->subscription_id, sizeof(p->subscription_id)))
        goto out;
    copy_field(j, "subscriptionName", p->subscription_name, sizeof(p->subscription_name));
    copy_field(j, "clientCertificate", p->cert_file, sizeof(p->cert_file));
    if (!copy_field(j, "environmentName", p->environment, sizeof(p->environment)))
        snprintf(p->environment, sizeof(p->environment), "Coffer");
    cf_json_int(cf_json_get(j, "port"), &port);
    p->port = (int)port;
    secret = cf_json_str(cf_json_get(j, "clientSecret"), &slen);
    if (!secret)
        goto out;
    p->client_secret = strndup(secret, slen);
    err = p->client_secret ? CF_OK : CF_ENOMEM;
out:
    cf_json_free(j);
    cf_buf_wipe(&b);
    if (err && err != CF_ENOTFOUND)
        cf_cli_profile_release(p);
    return err;
}

cf_err cf_cli_profile_remove(const char *dir)
{
    char path[4096];
    cf_err err = CF_OK;
    static const char *const files[] = {"profile.json", "tokens.json"};
    for (size_t i = 0; i < CF_ARRAY_LEN(files); i++) {
        if (snprintf(path, sizeof(path), "%s/%s", dir, files[i]) >= (int)sizeof(path))
            return CF_ETOOBIG;
        if (unlink(path) != 0 && errno != ENOENT)
            err = CF_EIO;
    }
    return err;
}

/* ---- token cache ---- */

cf_err cf_cli_token_cache_get(const char *dir, const char *audience, int64_t now_s, char **out)
{
    struct cf_buf b;
    struct cf_json *j = NULL;
    const struct cf_json *e;
    int64_t exp;
    const char *tok;
    size_t len;
    cf_err err;

    *out = NULL;
    cf_buf_init(&b, TOKENS_MAX);
    err = read_in(dir, "tokens.json", &b);
    if (err)
        goto out;
    err = cf_json_parse(b.data, b.len, &j, NULL, 0);
    if (err)
        goto out;
    e = cf_json_get(j, audience);
    tok = cf_json_str(cf_json_get(e, "accessToken"), &len);
    err = CF_ENOTFOUND;
    if (!tok || !cf_json_int(cf_json_get(e, "expiresOn"), &exp) || exp - 300 <= now_s)
        goto out;
    *out = strndup(tok, len);
    err = *out ? CF_OK : CF_ENOMEM;
out:
    cf_json_free(j);
    cf_buf_wipe(&b);
    return err;
}

cf_err cf_cli_token_cache_put(const char *dir, const char *audience, const char *token,
                              int64_t expires_on)
{
    struct cf_buf in, outb;
    struct cf_json *j = NULL;
    struct cf_jw w;
    cf_err err;
    int64_t now = (int64_t)time(NULL);

    cf_buf_init(&in, TOKENS_MAX);
    cf_buf_init(&outb, TOKENS_MAX);
    err = read_in(dir, "tokens.json", &in);
    if (err == CF_OK && cf_json_parse(in.data, in.len, &j, NULL, 0) != CF_OK)
        j = NULL; /* a damaged cache is replaced */
    cf_jw_init(&w, &outb);
    cf_jw_obj_begin(&w);
    if (j) {
        void *it = NULL;
        const char *k;
        const struct cf_json *v;
        while (cf_json_next(j, &it, &k, &v)) {
            const char *t;
            size_t tl;
            int64_t e;
            if (strcmp(k, audience) == 0)
                continue;
            t = cf_json_str(cf_json_get(v, "accessToken"), &tl);
            if (!t || !cf_json_int(cf_json_get(v, "expiresOn"), &e) || e <= now)
                continue; /* drop expired entries */
            cf_jw_key(&w, k);
            cf_jw_obj_begin(&w);
            cf_jw_key(&w, "accessToken");
            cf_jw_strn(&w, t, tl);
            cf_jw_kint(&w, "expiresOn", e);
            cf_jw_obj_end(&w);
        }
    }
    cf_jw_key(&w, audience);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "accessToken", token);
    cf_jw_kint(&w, "expiresOn", expires_on);
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    err = cf_jw_err(&w);
    if (!err)
        err = write_private(dir, "tokens.json", outb.data, outb.len);
    cf_json_free(j);
    cf_buf_wipe(&in);
    cf_buf_wipe(&outb);
    return err;
}

/* ---- certificate credentials ---- */

cf_err cf_cli_read_file(const char *path, size_t max, struct cf_buf *out)
{
    cf_buf_init(out, max);
    return read_file(path, out);
}

cf_err cf_cli_pem_cert_der(const char *pem, size_t pem_len, struct cf_buf *der)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    const char *b, *e;
    struct cf_buf b64;
    size_t start = der->len;
    cf_err err = CF_OK;

    b = pem ? memmem(pem, pem_len, begin, sizeof(begin) - 1) : NULL;
    if (!b)
        return CF_EINVAL;
    b += sizeof(begin) - 1;
    e = memmem(b, pem_len - (size_t)(b - pem), end, sizeof(end) - 1);
    if (!e)
        return CF_EINVAL;
    /* The body is base64 broken into lines: drop the white space before decoding. */
    cf_buf_init(&b64, (size_t)(e - b) + 1);
    for (const char *c = b; c < e && !err; c++)
        if (*c != '\n' && *c != '\r' && *c != ' ' && *c != '\t')
            err = cf_buf_putc(&b64, *c);
    if (!err)
        err = b64.len ? cf_b64_decode(der, (struct cf_str){b64.data, b64.len}) : CF_EINVAL;
    /* A certificate is a DER SEQUENCE: anything else is not one. */
    if (!err && (der->len - start < 64 || (unsigned char)der->data[start] != 0x30))
        err = CF_EINVAL;
    if (err) {
        der->len = start;
        if (der->data)
            der->data[start] = '\0';
        err = err == CF_ENOMEM ? err : CF_EINVAL;
    }
    cf_buf_release(&b64);
    return err;
}

cf_err cf_cli_client_assertion(const char *pem, size_t pem_len, const char *client_id,
                               const char *token_url, int64_t now_s, struct cf_buf *out,
                               char *why, size_t whysz)
{
    unsigned char sha1[20];
    char jti[37], x5t[40];
    struct cf_buf der, t, claims;
    struct cf_jw w;
    cf_err err;

    if (whysz)
        why[0] = '\0';
    cf_buf_init(&der, 64 * 1024);
    cf_buf_init(&t, sizeof(x5t) - 1);
    cf_buf_init(&claims, 8192);
    if ((err = cf_cli_pem_cert_der(pem, pem_len, &der)) != CF_OK) {
        snprintf(why, whysz, "the certificate file holds no PEM certificate");
        goto out;
    }
    if ((err = cf_sha1(der.data, der.len, sha1)) != CF_OK ||
        (err = cf_b64url_encode(&t, sha1, sizeof(sha1))) != CF_OK ||
        (err = cf_uuid4(jti)) != CF_OK)
        goto out;
    snprintf(x5t, sizeof(x5t), "%s", t.data);
    cf_jw_init(&w, &claims);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "aud", token_url);
    cf_jw_kint(&w, "exp", now_s + 600);
    cf_jw_kstr(&w, "iss", client_id);
    cf_jw_kstr(&w, "jti", jti);
    cf_jw_kint(&w, "nbf", now_s);
    cf_jw_kint(&w, "iat", now_s);
    cf_jw_kstr(&w, "sub", client_id);
    cf_jw_obj_end(&w);
    if ((err = cf_jw_err(&w)) != CF_OK)
        goto out;
    err = cf_jwt_sign_rs256(pem, pem_len, x5t, claims.data, claims.len, out);
    if (err == CF_EINVAL)
        snprintf(why, whysz, "the certificate file holds no unencrypted RSA private key of "
                             "2048 bits or more");
out:
    cf_buf_release(&der);
    cf_buf_release(&t);
    cf_buf_release(&claims);
    return err;
}

/* ---- env file ---- */

cf_err cf_cli_read_env_file(const char *path,
                            void (*cb)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct cf_buf b;
    cf_err err;
    char *line, *next;

    cf_buf_init(&b, PROFILE_MAX);
    err = read_file(path, &b);
    if (err)
        goto out;
    for (line = b.data; line && *line; line = next) {
        char *eq, *name, *val, *end;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '#' || !*line)
            continue;
        if (strncmp(line, "export ", 7) == 0)
            line += 7;
        while (*line == ' ')
            line++;
        eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        name = line;
        val = eq + 1;
        end = val + strlen(val);
        while (end > val && (end[-1] == '\r' || end[-1] == ' '))
            *--end = '\0';
        if ((*val == '"' || *val == '\'') && end > val + 1 && end[-1] == *val) {
            char q = *val;
            char *r = val + 1, *w = val;
            end[-1] = '\0';
            while (*r) {
                if (q == '"' && *r == '\\' && r[1])
                    r++;
                *w++ = *r++;
            }
            *w = '\0';
        }
        cb(ctx, name, val);
    }
out:
    cf_buf_wipe(&b);
    return err;
}
