/* authkeep.c - signing key rotation checks and trusted-issuer JWKS upkeep (authkeep.h).
 *
 * Map:
 *   issuers_from_config  [server] trusted_issuer* keys + [issuer.NAME] sections (inih)
 *   jwks_get             a file (bounded read) or an https URL (the curl program, no shell)
 *   issuer_load          jwks_get + cf_auth_trust_issuer; schedules the next refresh
 *   keep_main            the thread: wakes every minute or when the hook asks
 *   on_unknown_kid       the auth hook: marks the issuer and wakes the thread (never blocks
 *                        for long: one short mutex)
 * Why curl the program and not libcurl: cofferd does not link the client module (DESIGN.md
 * §2 keeps libcurl in src/client), and the auth module must do no I/O; a JWKS fetch happens
 * once an hour, so a child process costs nothing that matters. */
#include "base/cf.h"
#include "server/authkeep.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define KEEP_MAX_ISSUERS 8
#define JWKS_MAX (1024 * 1024)
#define TICK_S 60
#define URL_REFRESH_S 3600
#define FILE_REFRESH_S 300
#define RETRY_S 60
#define ON_DEMAND_MIN_S 60

struct keep_issuer {
    char name[64];
    char issuer[256];
    char jwks[PATH_MAX];
    char audience[256];
    char tenant[64];
    char ca_file[PATH_MAX];
    int64_t next;       /* monotonic s of the next scheduled load */
    int64_t last_fetch; /* monotonic s of the last load attempt */
    bool wanted;        /* a token named an unknown kid */
};

struct cf_authkeep {
    struct cf_auth *auth;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, started;
    pthread_t thread;
    size_t n;
    struct keep_issuer is[KEEP_MAX_ISSUERS];
};

static int64_t mono_s(void)
{
    return cf_mono_ms() / 1000;
}

static bool is_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0;
}

/* ---------------------------------------------------------------- configuration */

struct ini_ctx {
    struct cf_authkeep *k;
    bool bad;
};

static struct keep_issuer *section_issuer(struct cf_authkeep *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->is[i].name, name) == 0)
            return &k->is[i];
    if (k->n == KEEP_MAX_ISSUERS)
        return NULL;
    snprintf(k->is[k->n].name, sizeof(k->is[k->n].name), "%s", name);
    return &k->is[k->n++];
}

static int ini_issuer_cb(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *c = user;
    struct keep_issuer *is;
    char *dst = NULL;
    size_t cap = 0;

    if (strncmp(section, "issuer.", 7) != 0)
        return 1;
    if (strlen(section + 7) == 0 || strlen(section + 7) >= sizeof(is->name) ||
        !(is = section_issuer(c->k, section + 7))) {
        fprintf(stderr, "cofferd: config: [%s]: bad or too many issuer sections (8 at most)\n",
                section);
        c->bad = true;
        return 0;
    }
#define FIELD(key, f)                                                                              \
    if (strcmp(name, key) == 0) {                                                                  \
        dst = is->f;                                                                               \
        cap = sizeof(is->f);                                                                       \
    }
    FIELD("issuer", issuer)
    FIELD("jwks", jwks)
    FIELD("audience", audience)
    FIELD("tenant", tenant)
    FIELD("ca_file", ca_file)
#undef FIELD
    if (!dst || strlen(value) >= cap) {
        fprintf(stderr, "cofferd: config: [%s]: bad key or value: %s\n", section, name);
        c->bad = true;
        return 0;
    }
    snprintf(dst, cap, "%s", value);
    return 1;
}

static cf_err issuers_from_config(struct cf_authkeep *k, const struct cf_config *cfg)
{
    struct ini_ctx c = {k, false};

    if (cfg->trusted_issuer[0] || cfg->trusted_issuer_jwks[0] || cfg->trusted_issuer_audience[0]) {
        struct keep_issuer *is = section_issuer(k, "server");
        snprintf(is->issuer, sizeof(is->issuer), "%s", cfg->trusted_issuer);
        snprintf(is->jwks, sizeof(is->jwks), "%s", cfg->trusted_issuer_jwks);
        snprintf(is->audience, sizeof(is->audience), "%s", cfg->trusted_issuer_audience);
        snprintf(is->tenant, sizeof(is->tenant), "%s", cfg->trusted_issuer_tenant);
        snprintf(is->ca_file, sizeof(is->ca_file), "%s", cfg->trusted_issuer_ca_file);
    }
    if (cfg->config_file[0] && (ini_parse(cfg->config_file, ini_issuer_cb, &c) != 0 || c.bad))
        return CF_EINVAL;
    for (size_t i = 0; i < k->n; i++) {
        struct keep_issuer *is = &k->is[i];
        if (!is->issuer[0] || !is->jwks[0] || !is->audience[0]) {
            fprintf(stderr, "cofferd: trusted issuer %s: issuer, jwks and audience are all "
                            "required\n", is->name);
            return CF_EINVAL;
        }
        if (strncmp(is->jwks, "http://", 7) == 0) {
            fprintf(stderr, "cofferd: trusted issuer %s: the JWKS URL must be https\n",
                    is->name);
            return CF_EINVAL;
        }
    }
    return CF_OK;
}

/* ---------------------------------------------------------------- getting a JWKS */

static cf_err read_file(const char *path, struct cf_buf *out)
{
    char chunk[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cf_err e = CF_OK;

    if (fd < 0)
        return CF_EIO;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = CF_EIO;
            break;
        }
        if (n == 0)
            break;
        e = cf_buf_append(out, chunk, (size_t)n);
        if (e)
            break;
    }
    close(fd);
    return e;
}

/* GET url with the curl program: TLS verification on, https only (redirects too), bounded in
 * time and size. The URL goes as one argv element after "--": no shell, no option injection. */
static cf_err fetch_url(const char *url, const char *ca_file, struct cf_buf *out)
{
    const char *argv[16];
    size_t n = 0;
    int pfd[2], status = 0;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    cf_err e = CF_OK;
    char chunk[8192];

    argv[n++] = "curl";
    argv[n++] = "--silent";
    argv[n++] = "--show-error";
    argv[n++] = "--fail";
    argv[n++] = "--proto";
    argv[n++] = "=https";
    argv[n++] = "--max-time";
    argv[n++] = "20";
    argv[n++] = "--max-filesize";
    argv[n++] = "1048576";
    if (ca_file && ca_file[0]) {
        argv[n++] = "--cacert";
        argv[n++] = ca_file;
    }
    argv[n++] = "--";
    argv[n++] = url;
    argv[n] = NULL;
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return CF_EIO;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    if (posix_spawnp(&pid, "curl", &fa, NULL, (char *const *)(void *)argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(pfd[0]);
        close(pfd[1]);
        cf_warn("authkeep: cannot run curl to fetch a JWKS (is it installed?)");
        return CF_EIO;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    for (;;) {
        ssize_t r = read(pfd[0], chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (!e)
            e = cf_buf_append(out, chunk, (size_t)r); /* keep draining after an overflow */
    }
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        e = CF_EIO;
    return e;
}

static cf_err jwks_get(const struct keep_issuer *is, struct cf_buf *out)
{
    return is_url(is->jwks) ? fetch_url(is->jwks, is->ca_file, out) : read_file(is->jwks, out);
}

/* Loads one issuer's JWKS into auth. Caller holds no lock (the fetch may take seconds). */
static cf_err issuer_load(struct cf_authkeep *k, struct keep_issuer *is)
{
    struct cf_buf doc;
    int64_t now = mono_s();
    cf_err e;

    cf_buf_init(&doc, JWKS_MAX);
    is->last_fetch = now;
    e = jwks_get(is, &doc);
    if (e) {
        cf_warn("authkeep: trusted issuer %s: cannot %s its JWKS %s", is->name,
                is_url(is->jwks) ? "fetch" : "read", is->jwks);
        is->next = now + RETRY_S;
        goto release;
    }
    e = cf_auth_trust_issuer(k->auth, is->issuer, is->audience, is->tenant[0] ? is->tenant : NULL,
                             doc.data ? doc.data : "", doc.len);
    if (e) {
        cf_warn("authkeep: trusted issuer %s: JWKS %s not accepted (%s)", is->name, is->jwks,
                e == CF_ENOTFOUND ? "unknown tenant" : "no usable key, or not a JWKS");
        is->next = now + RETRY_S;
        goto release;
    }
    is->next = now + (is_url(is->jwks) ? URL_REFRESH_S : FILE_REFRESH_S);
release:
    cf_buf_release(&doc);
    return e;
}

/* ---------------------------------------------------------------- the thread */

static void on_unknown_kid(void *ctx, const char *issuer)
{
    struct cf_authkeep *k = ctx;

    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(k->is[i].issuer, issuer) == 0 && !k->is[i].wanted) {
            k->is[i].wanted = true;
            pthread_cond_signal(&k->cv);
        }
    }
    pthread_mutex_unlock(&k->mu);
}

static void *keep_main(void *arg)
{
    struct cf_authkeep *k = arg;

    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec ts;
        int64_t now;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += TICK_S;
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
        if (k->stop)
            break;
        now = mono_s();
        for (size_t i = 0; i < k->n; i++) {
            struct keep_issuer *is = &k->is[i];
            bool due = now >= is->next ||
                       (is->wanted && now >= is->last_fetch + ON_DEMAND_MIN_S);
            if (!due)
                continue;
            is->wanted = false;
            /* is[] entries never move and only this thread loads them: unlocked is fine for
             * the fetch; the hook only touches "wanted" under mu */
            pthread_mutex_unlock(&k->mu);
            (void)issuer_load(k, is);
            pthread_mutex_lock(&k->mu);
        }
        pthread_mutex_unlock(&k->mu);
        if (cf_auth_rotate_due(k->auth) != CF_OK)
            cf_warn("authkeep: signing key check failed; will retry");
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

struct cf_authkeep *cf_authkeep_start(const struct cf_config *cfg, struct cf_auth *auth,
                                      cf_err *err)
{
    struct cf_authkeep *k = calloc(1, sizeof(*k));
    cf_err e;

    if (!k) {
        e = CF_ENOMEM;
        goto fail;
    }
    k->auth = auth;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    e = issuers_from_config(k, cfg);
    if (e)
        goto fail;
    for (size_t i = 0; i < k->n; i++) {
        struct keep_issuer *is = &k->is[i];
        e = issuer_load(k, is);
        if (e && !is_url(is->jwks)) {
            fprintf(stderr, "cofferd: trusted issuer %s: cannot use the JWKS file %s\n",
                    is->name, is->jwks);
            goto fail;
        }
    }
    if (k->n)
        cf_auth_set_issuer_hook(auth, on_unknown_kid, k);
    if (pthread_create(&k->thread, NULL, keep_main, k) != 0) {
        e = CF_ENOMEM;
        goto fail;
    }
    k->started = true;
    *err = CF_OK;
    return k;
fail:
    cf_authkeep_stop(k);
    *err = e;
    return NULL;
}

void cf_authkeep_stop(struct cf_authkeep *k)
{
    if (!k)
        return;
    if (k->n)
        cf_auth_set_issuer_hook(k->auth, NULL, NULL);
    if (k->started) {
        pthread_mutex_lock(&k->mu);
        k->stop = true;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->thread, NULL);
    }
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}
