/* softhsm_fixture.h - a SoftHSM2 token the custody tests make for themselves in a temp dir (a
 * softhsm2.conf there, SOFTHSM2_CONF pointing at it, a freshly initialised token with user PIN
 * 1234), and the custody + HSM pair test_hsm.c and test_hsm_import.c open on it. When softhsm2
 * is not installed there is no token and the tests skip (g_h stays NULL). */
#ifndef CF_TEST_CUSTODY_SOFTHSM_FIXTURE_H
#define CF_TEST_CUSTODY_SOFTHSM_FIXTURE_H

#include "base/cf.h"
#include "custody/custody.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SOFTHSM_LIB "/usr/lib/softhsm/libsofthsm2.so"

/* Initialises a token labelled label under dir/tokens; false when softhsm2 is missing or the
 * token could not be made. */
static inline bool softhsm_token(const char *dir, const char *label)
{
    char conf[160], cmd[512];
    FILE *f;
    if (access(SOFTHSM_LIB, R_OK) != 0 || system("command -v softhsm2-util >/dev/null") != 0)
        return false;
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/tokens", dir);
    if (system(cmd) != 0 || !(f = fopen(conf, "w")))
        return false;
    fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", conf, 1);
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label %s --so-pin 4321 --pin 1234 >/dev/null",
             label);
    return system(cmd) == 0;
}

/* A cmocka setup's body: a temp dir from tmpl (dir holds 64 bytes), a "coffer-hsm" token in
 * it, and custody (PKCS#11) with its HSM on that token in *c, *h. 0 with *h NULL when there is
 * no softhsm2 (the tests skip); -1 on failure. */
static inline int softhsm_hsm_open(char *dir, const char *tmpl, struct cf_custody **c,
                                   struct cf_hsm **h)
{
    struct cf_custody_cfg cfg = {.provider = CF_CUSTODY_PKCS11,
                                 .p11_module = SOFTHSM_LIB,
                                 .p11_token = "coffer-hsm",
                                 .p11_pin = "1234"};
    cf_err e;
    snprintf(dir, 64, "%s", tmpl);
    if (!mkdtemp(dir))
        return -1;
    if (!softhsm_token(dir, "coffer-hsm"))
        return 0; /* tests skip */
    cfg.dir = dir;
    if (!(*c = cf_custody_open(&cfg, &e)) || !(*h = cf_hsm_open(*c, &e)))
        return -1;
    return 0;
}

/* The matching teardown: closes the pair and removes the dir. */
static inline int softhsm_hsm_close(const char *dir, struct cf_custody *c, struct cf_hsm *h)
{
    char cmd[128];
    cf_hsm_close(h);
    cf_custody_close(c);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
