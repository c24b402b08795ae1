/* libFuzzer target: cofferd's configuration (src/server/config.c cf_config_load): the INI file
 * named by --config, and command-line flags. Input: optional flag lines first, then the file:
 * if the input starts with "ARGS\n", each following line up to a line "--\n" is one extra
 * argv element (after "--config FILE"); the rest is written to a temp file and read as the INI.
 * Checks: never crashes; an accepted configuration has NUL-terminated strings, a port in
 * 1..65535, non-negative numbers, and in production mode a certificate and key path. Usage and
 * error lines go to /dev/null (stdout and stderr of config.c, not the fuzzer's report). */
#include "base/cf.h"
#include "server/config.h"

#include "fuzz_env.h"

#include <fcntl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 32

static char dir[128], file[192];

static void cleanup(void)
{
    fuzz_rm_tree(dir);
}

static bool terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int devnull = -1;
    char *argv[MAX_ARGS + 4];
    char *copy, *p, *end;
    int argc = 0, saved_out, saved_err;
    struct cf_config c;
    FILE *f;
    cf_err e;

    if (!dir[0]) {
        fuzz_tmpdir(dir, sizeof(dir), "config");
        snprintf(file, sizeof(file), "%s/cofferd.ini", dir);
        atexit(cleanup);
        devnull = open("/dev/null", O_WRONLY);
    }
    if (size > 65536)
        return 0;
    copy = malloc(size + 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    p = copy;
    end = copy + size;
    argv[argc++] = "cofferd";
    argv[argc++] = "--config";
    argv[argc++] = file;
    if (size >= 5 && memcmp(p, "ARGS\n", 5) == 0) {
        p += 5;
        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                nl = end;
            *nl = '\0';
            if (strcmp(p, "--") == 0) {
                p = nl + 1;
                break;
            }
            if (argc < MAX_ARGS)
                argv[argc++] = p;
            p = nl + 1;
        }
    }
    argv[argc] = NULL;
    f = fopen(file, "wb");
    if (!f)
        abort();
    if (p < end)
        fwrite(p, 1, (size_t)(end - p), f);
    fclose(f);

    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    dup2(devnull, 1);
    dup2(devnull, 2);
    e = cf_config_load(&c, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);

    if (e == CF_OK) {
        if (!terminated(c.data_dir, sizeof(c.data_dir)) ||
            !terminated(c.listen, sizeof(c.listen)) ||
            !terminated(c.tls_cert, sizeof(c.tls_cert)) ||
            !terminated(c.tls_key, sizeof(c.tls_key)) ||
            !terminated(c.dns_suffix, sizeof(c.dns_suffix)) ||
            !terminated(c.login_host, sizeof(c.login_host)) ||
            !terminated(c.management_host, sizeof(c.management_host)) ||
            !terminated(c.log_level, sizeof(c.log_level)) || c.port < 1 || c.port > 65535 ||
            c.threads < 0 || c.max_body_bytes < 0 || c.max_header_bytes < 0 ||
            c.max_connections < 0 || c.header_timeout_s < 0 || c.idle_timeout_s < 0 ||
            c.token_lifetime_s < 0 || c.pool_threads < 0 || !c.login_host[0] ||
            !c.management_host[0] || (!c.dev && (!c.tls_cert[0] || !c.tls_key[0])))
            __builtin_trap();
    } else if (e != CF_EINVAL && e != CF_ENOTFOUND) {
        __builtin_trap();
    }
    free(copy);
    return 0;
}
