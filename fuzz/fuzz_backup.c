/* libFuzzer target: secret restore (cf_secret_restore) against the real vault service on a
 * SQLite store in a temp dir (fuzz_env.h, fixed master key).
 *
 * A backup blob is sealed with AES-256-GCM under the server's backup key, so random bytes stop
 * at the tag. Two input forms therefore:
 *   - anything not starting with 'P': the blob text itself (base64url), as a client sends it;
 *   - 'P' + payload: the target seals the payload with the backup key (HKDF-SHA256(master key,
 *     "coffer backup v1"), AAD = the blob magic, as src/vault/backup.c does) and restores that,
 *     so the fuzzer reaches the payload parser and the store write behind the tag.
 * Seeds: real backups of secrets made by this target (FUZZ_SEED_OUT=dir writes them, in both
 * forms, and exits), which restore here because the master key is fixed.
 *
 * Checks: never crashes; a blob that restores yields a secret that reads back (its latest
 * version: CF_OK with a value, or CF_EDISABLED for a disabled one) under the restored name,
 * and a fresh backup of it restores again after a purge. The restored secret is then purged,
 * so that the same seed restores again next time instead of failing with CF_EEXISTS. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/secret.h"

#include "fuzz_env.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char magic[8] = {'C', 'O', 'F', 'B', 'K', 'P', '0', '1'};
static unsigned char backup_key[CF_AEAD_KEY_LEN];
static struct fuzz_env *w;

static void purge(struct cf_str name)
{
    struct cf_secret_meta m;
    if (cf_secret_delete(w->vault, &w->ref, name, &m) == CF_OK)
        cf_secret_meta_release(&m);
    (void)cf_secret_purge(w->vault, &w->ref, name);
}

/* Seeds: a few real secrets (one version; several versions with attributes, tags and content
 * type; a disabled latest version; a long value), backed up. */
static void write_seeds(const char *dir)
{
    static const struct {
        const char *name, *value;
        struct cf_secret_input in;
    } sets[] = {
        {"simple", "hunter2", {0}},
        {"multi", "v1", {.has_content_type = true, .content_type = "text/plain"}},
        {"multi", "v2-\xc3\xa9t\xc3\xa9",
         {.has_tags = true, .tags_json = "{\"env\":\"dev\",\"team\":\"core\"}"}},
        {"multi", "v3",
         {.has_nbf = true, .nbf = 1700000000, .has_exp = true, .exp = 1893456000,
          .has_enabled = true, .enabled = true}},
        {"disabled", "off", {.has_enabled = true, .enabled = false}},
        {"empty", "", {0}},
    };
    static const char *const names[] = {"simple", "multi", "disabled", "empty"};
    struct cf_buf blob, raw, payload;
    char path[512];
    cf_err e;

    mkdir(dir, 0755);
    for (size_t i = 0; i < CF_ARRAY_LEN(sets); i++) {
        struct cf_secret_meta m;
        if ((e = cf_secret_set(w->vault, &w->ref, cf_str_from(sets[i].name),
                               cf_str_from(sets[i].value), &sets[i].in, &m)))
            fuzz_die("seed set", e);
        cf_secret_meta_release(&m);
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(names); i++) {
        struct cf_secret *pt = NULL;
        FILE *f;

        cf_buf_init(&blob, 1 << 24);
        cf_buf_init(&raw, 1 << 24);
        cf_buf_init(&payload, 1 << 24);
        if ((e = cf_secret_backup(w->vault, &w->ref, cf_str_from(names[i]), &blob)) ||
            (e = cf_b64_decode(&raw, cf_buf_str(&blob))) ||
            (e = cf_aead_open(backup_key, magic, sizeof(magic), raw.data + sizeof(magic),
                              raw.len - sizeof(magic), &pt)) ||
            (e = cf_buf_puts(&payload, "P")) || (e = cf_buf_append(&payload, pt->p, pt->len)))
            fuzz_die("seed backup", e);
        snprintf(path, sizeof(path), "%s/blob_%s", dir, names[i]);
        f = fopen(path, "wb");
        if (!f || fwrite(blob.data, 1, blob.len, f) != blob.len || fclose(f))
            fuzz_die("seed write", CF_EIO);
        snprintf(path, sizeof(path), "%s/payload_%s", dir, names[i]);
        f = fopen(path, "wb");
        if (!f || fwrite(payload.data, 1, payload.len, f) != payload.len || fclose(f))
            fuzz_die("seed write", CF_EIO);
        cf_secret_free(pt);
        cf_buf_release(&blob);
        cf_buf_release(&raw);
        cf_buf_wipe(&payload);
        purge(cf_str_from(names[i]));
    }
    fprintf(stderr, "fuzz_backup: seeds written to %s\n", dir);
    fuzz_env_atexit();
    _exit(0); /* exit() inside a run would be reported by libFuzzer as a crash */
}

static void init(void)
{
    static const char info[] = "coffer backup v1";
    cf_err e;

    w = fuzz_env_get(false);
    if ((e = cf_hkdf_sha256(w->master, sizeof(w->master), NULL, 0, info, sizeof(info) - 1,
                            backup_key, sizeof(backup_key))))
        fuzz_die("hkdf", e);
    if (getenv("FUZZ_SEED_OUT"))
        write_seeds(getenv("FUZZ_SEED_OUT"));
}

/* The restored secret reads back, and backs up and restores again. */
static void check_restored(const struct cf_secret_meta *m)
{
    struct cf_str name = cf_str_from(m->name);
    struct cf_secret_meta got, again;
    struct cf_secret *val = NULL;
    struct cf_buf blob;
    cf_err e;

    e = cf_secret_get(w->vault, &w->ref, name, CF_STR(""), &got, &val);
    if (!(e == CF_OK && val) && e != CF_EDISABLED) {
        fprintf(stderr, "fuzz_backup: restored '%s' does not read back: %s\n", m->name,
                cf_err_name(e));
        __builtin_trap();
    }
    if (strcmp(got.version, m->version) != 0)
        __builtin_trap(); /* restore reports the latest version */
    cf_secret_meta_release(&got);
    cf_secret_free(val);

    cf_buf_init(&blob, 1 << 24);
    e = cf_secret_backup(w->vault, &w->ref, name, &blob);
    if (e)
        __builtin_trap();
    purge(name);
    e = cf_secret_restore(w->vault, &w->ref, cf_buf_str(&blob), &again);
    if (e) {
        fprintf(stderr, "fuzz_backup: a fresh backup of '%s' does not restore: %s\n", m->name,
                cf_err_name(e));
        __builtin_trap();
    }
    cf_secret_meta_release(&again);
    cf_buf_release(&blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_buf blob, sealed;
    struct cf_secret_meta m;
    cf_err e;

    if (!w)
        init();
    if (size > (1 << 20))
        return 0;
    cf_buf_init(&blob, 1 << 22);
    cf_buf_init(&sealed, 1 << 21);
    if (size > 0 && data[0] == 'P') {
        if (cf_buf_append(&sealed, magic, sizeof(magic)) ||
            cf_aead_seal(backup_key, magic, sizeof(magic), data + 1, size - 1, &sealed) ||
            cf_b64url_encode(&blob, sealed.data, sealed.len))
            goto out;
    } else if (cf_buf_append(&blob, data, size)) {
        goto out;
    }
    e = cf_secret_restore(w->vault, &w->ref, cf_buf_str(&blob), &m);
    if (e == CF_OK) {
        check_restored(&m);
        purge(cf_str_from(m.name));
    }
    cf_secret_meta_release(&m); /* zeroed by restore on every path */
out:
    cf_buf_release(&blob);
    cf_buf_release(&sealed);
    return 0;
}
