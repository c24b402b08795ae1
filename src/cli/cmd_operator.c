/* cmd_operator.c - `coffer operator ...` (cmd_operator.h): one request to the custody socket
 * per command; the answer is printed as the command's result (init and rotate-master-key show
 * the key shares; until a shamir rotation is confirmed with rotate-master-key --confirm, an
 * unseal with the previous shares shows the new ones again - the same shares).
 *
 * Map: socket path (--socket, $COFFER_CUSTODY_SOCKET, ./coffer-data/custody.sock), ask (connect,
 * write the line, read the answer, map {"error"} to exit 1), the handlers. */
#include "base/cf.h"
#include "cli/cmd_operator.h"
#include "base/secret.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_OPT {"--socket", NULL, OPT_STR, false, "custody socket of the server (default $COFFER_CUSTODY_SOCKET, else ./coffer-data/custody.sock)"}

const struct cf_cli_opt cf_cli_o_operator_sock[] = {SOCK_OPT, {NULL, NULL, OPT_STR, false, NULL}};
const struct cf_cli_opt cf_cli_o_operator_init[] = {
    SOCK_OPT,
    {"--shares", NULL, OPT_INT, false, "number of key shares (2-16; default 5; rotate: as before)"},
    {"--threshold", NULL, OPT_INT, false, "shares needed to unseal (default 3; rotate: as before)"},
    {NULL, NULL, OPT_STR, false, NULL}};
const struct cf_cli_opt cf_cli_o_operator_rotate[] = {
    SOCK_OPT,
    {"--shares", NULL, OPT_INT, false, "number of new key shares (2-16; default: as before)"},
    {"--threshold", NULL, OPT_INT, false, "new shares needed to unseal (default: as before)"},
    {"--confirm", NULL, OPT_FLAG, false, "the operators hold the new shares of the last rotation: the previous shares stop unsealing"},
    {NULL, NULL, OPT_STR, false, NULL}};
const struct cf_cli_opt cf_cli_o_operator_unseal[] = {
    SOCK_OPT,
    {"--share", NULL, OPT_STR, false, "the key share (default: read one line from stdin, which keeps it out of shell history)"},
    {NULL, NULL, OPT_STR, false, NULL}};

static const char *sock_path(struct cf_cli_run *r)
{
    const char *p = cf_cli_arg(r, "--socket");
    if (!p || !p[0])
        p = cf_cli_env(r, "COFFER_CUSTODY_SOCKET");
    return p && p[0] ? p : "coffer-data/custody.sock";
}

/* Sends req (one line) and parses the answer into r->result. */
static int ask(struct cf_cli_run *r, const char *req)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    const char *path = sock_path(r);
    struct cf_buf resp;
    struct cf_val *v = NULL, *err;
    char chunk[4096];
    size_t len = strlen(req);
    ssize_t n;
    int fd, rc = 0;

    if (strlen(path) >= sizeof(a.sun_path))
        return cf_cli_fail(r, 1, "custody socket path too long: %s", path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int en = errno;
        if (fd >= 0)
            close(fd);
        return cf_cli_fail(r, 1,
                           "cannot reach the custody socket %s (%s): run this on the server's "
                           "host, as its user, with --socket <data_dir>/custody.sock",
                           path, strerror(en));
    }
    if (write(fd, req, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        close(fd);
        return cf_cli_fail(r, 1, "cannot write to the custody socket %s", path);
    }
    cf_buf_init(&resp, 1 << 20);
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        if (cf_buf_append(&resp, chunk, (size_t)n) != CF_OK)
            break;
    close(fd);
    cf_wipe(chunk, sizeof(chunk));
    if (resp.len == 0 || cf_val_parse(resp.data, resp.len, &v) != CF_OK) {
        cf_buf_wipe(&resp);
        return cf_cli_fail(r, 1, "no valid answer from the custody socket %s", path);
    }
    cf_buf_wipe(&resp);
    if ((err = cf_val_get(v, "error")) != NULL) {
        struct cf_val *m = cf_val_get(err, "message");
        rc = cf_cli_fail(r, 1, "%s", m && m->s ? m->s : "custody request failed");
        cf_val_unref(v);
        return rc;
    }
    r->result = v;
    return 0;
}

static int with_counts(struct cf_cli_run *r, const char *op, int dn, int dt)
{
    const char *ns = cf_cli_arg(r, "--shares"), *ts = cf_cli_arg(r, "--threshold");
    long n = ns ? strtol(ns, NULL, 10) : dn, t = ts ? strtol(ts, NULL, 10) : dt;
    char req[160];

    if ((ns || dn) && (n < 2 || n > 16))
        return cf_cli_fail(r, 2, "--shares must be 2 to 16");
    if ((ts || dt) && (t < 2 || (n && t > n)))
        return cf_cli_fail(r, 2, "--threshold must be at least 2 and at most --shares");
    snprintf(req, sizeof(req), "{\"op\":\"%s\",\"shares\":%ld,\"threshold\":%ld}", op, n, t);
    return ask(r, req);
}

int cf_cli_cmd_operator_init(struct cf_cli_run *r)
{
    int rc = with_counts(r, "init", 5, 3);
    if (rc == 0)
        fprintf(stderr, "Key shares are shown this once. Give each to a different operator; "
                        "any threshold of them unseals the server.\n");
    return rc;
}

int cf_cli_cmd_operator_rotate(struct cf_cli_run *r)
{
    int rc;

    if (cf_cli_has(r, "--confirm")) {
        if (cf_cli_arg(r, "--shares") || cf_cli_arg(r, "--threshold"))
            return cf_cli_fail(r, 2, "--confirm takes no --shares or --threshold");
        rc = ask(r, "{\"op\":\"confirm\"}");
        if (rc == 0)
            fprintf(stderr, "Rotation confirmed: only the new key shares unseal from now on.\n");
        return rc;
    }
    rc = with_counts(r, "rotate", 0, 0);
    if (rc == 0 && cf_val_get(r->result, "shares"))
        fprintf(stderr, "The master key changed. Give each new key share to a different "
                        "operator, then run `coffer operator rotate-master-key --confirm`; until "
                        "then the old shares still unseal (and show these new shares again).\n");
    return rc;
}

int cf_cli_cmd_operator_unseal(struct cf_cli_run *r)
{
    const char *share = cf_cli_arg(r, "--share");
    char line[256], req[400];
    int rc;

    if (!share) {
        if (!fgets(line, sizeof(line), stdin))
            return cf_cli_fail(r, 2, "give a key share with --share or on stdin");
        line[strcspn(line, "\r\n")] = '\0';
        share = line;
    }
    if (strlen(share) > 128 || strpbrk(share, "\"\\"))
        return cf_cli_fail(r, 2, "that is not a key share");
    snprintf(req, sizeof(req), "{\"op\":\"unseal\",\"share\":\"%s\"}", share);
    rc = ask(r, req);
    cf_wipe(req, sizeof(req));
    cf_wipe(line, sizeof(line));
    if (rc == 0 && cf_val_get(r->result, "shares"))
        fprintf(stderr, "A master-key rotation is not confirmed yet: these are the NEW key "
                        "shares. Give each to a different operator, then run `coffer operator "
                        "rotate-master-key --confirm`.\n");
    return rc;
}

int cf_cli_cmd_operator_seal(struct cf_cli_run *r)
{
    return ask(r, "{\"op\":\"seal\"}");
}

int cf_cli_cmd_operator_status(struct cf_cli_run *r)
{
    return ask(r, "{\"op\":\"status\"}");
}
