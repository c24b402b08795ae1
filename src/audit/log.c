/* log.c - the writer: open/recover, chained append, group fsync, checkpoints, rotation.
 *
 *   cf_audit_open / close        recover the node's newest file or start one; sync thread
 *   cf_audit_append[_outbox]     chain one line and pwrite it at the known end of the file
 *   cf_audit_sync / rotate       group fdatasync; final checkpoint + next file + retention
 *
 * Invariants (all under a->mu):
 * - a->size is the length of the verified prefix of the active file: every byte below it is a
 *   whole chained line. A failed or short write leaves need_trunc set and the next write first
 *   cuts the file back to a->size, so a torn line never stays in the middle of the file.
 * - a->seq / a->last_mac / a->hash advance only after a line was written completely.
 * - synced_seq <= seq; a record s is durable once synced_seq >= s. fail_upto marks records
 *   whose fsync failed (their durable appenders get the error).
 * - Only one fdatasync runs at a time (sync_running); it runs without the mutex, and the fd
 *   is not closed while it runs (rotation and reopen wait for it). */
#include "base/cf.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/log.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "audit/audit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_MAX (CF_AUDIT_MAC_LEN + CF_AUDIT_MAX_LINE + 2048)

struct cf_audit {
    pthread_mutex_t mu;
    pthread_cond_t synced_cv; /* a sync finished */
    pthread_cond_t work_cv;   /* wakes the sync thread */
    pthread_t thr;
    bool thr_started, thr_idle, stop;

    /* configuration (immutable after open) */
    char dir[PATH_MAX];
    char node[CF_AUDIT_MAX_NODE + 1];
    unsigned char key[CF_AUDIT_KEY_LEN];
    struct cf_hmac_key *hmac; /* key, scheduled once (the MAC of every record, under mu) */
    struct cf_sha256_ctx *sha; /* the unkeyed chain's digest context (under mu) */
    uint64_t rotate_bytes;
    unsigned keep_files, sync_ms, ckpt_every;
    uint64_t cache_keep;
    int fmt_ver;              /* format of the files this log starts (AUDIT_VERSION) */
    const struct cf_pkey *sign_key;
    char kid[128];
    bool have_kid;
    struct cf_clock sysclock;
    const struct cf_clock *clock;
    struct cf_audit_io io;

    /* active file */
    int fd;
    char fname[AUDIT_NAME_MAX];
    uint64_t size;
    uint64_t alloc_end; /* blocks are reserved (fallocate KEEP_SIZE) up to here */
    uint64_t dropped;   /* page cache given back up to here (a page multiple); see do_sync */
    int ver;            /* format of the active file: its header's version */
    bool need_trunc, need_reopen, no_prealloc;
    /* A file started by a rotation whose directory entry is not synced yet, and retention not
     * yet run: the sync thread does both with its next fdatasync (off the appender's path). */
    bool need_dir_sync, need_retention;

    /* chain */
    int64_t seq;
    unsigned char last_mac[CF_AUDIT_MAC_LEN];
    unsigned char hash[CF_AUDIT_MAC_LEN];
    int64_t last_outbox;
    uint64_t since_ckpt;

    /* sync */
    int64_t synced_seq, fail_upto;
    cf_err fail_err;
    bool sync_running;
    int64_t last_sync_ms;

    struct cf_buf rec;     /* [32-byte prefix][line][\n], reused */
    struct cf_buf batch;   /* the lines of one cf_audit_append_batch, written at once */
    struct cf_buf scratch; /* checkpoint payload and JWS */
    struct cf_audit_stats st;
};

static ssize_t real_pwrite(void *ctx, int fd, const void *p, size_t n, off_t off)
{
    (void)ctx;
    return pwrite(fd, p, n, off);
}

static int real_fsync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd);
}

static cf_err errno_err(int en)
{
    return en == ENOSPC || en == EDQUOT ? CF_EFULL : CF_EIO;
}

static void path_of(const struct cf_audit *a, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", a->dir, name);
}

static void sync_dir(const struct cf_audit *a)
{
    int d = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
        (void)fsync(d);
        close(d);
    }
}

/* ---- writing one chained line ---- */

/* Blocks are reserved ahead of the write position in chunks of this size (1 MiB: one fallocate
 * per ~1000 GET records; at 256 KiB it showed in a GET profile), with FALLOC_FL_KEEP_SIZE:
 * st_size (what readers, verify, the stream tail and rotation see) stays the end of the last
 * whole line, and a write into reserved blocks does not allocate. */
#define PREALLOC_CHUNK (1024u * 1024)

static void prealloc(struct cf_audit *a, size_t n)
{
    uint64_t from = a->alloc_end > a->size ? a->alloc_end : a->size;

    if (a->size + n <= a->alloc_end || a->no_prealloc)
        return;
    if (fallocate(a->fd, FALLOC_FL_KEEP_SIZE, (off_t)from,
                  (off_t)(a->size + n + PREALLOC_CHUNK - from)) == 0) {
        a->alloc_end = a->size + n + PREALLOC_CHUNK;
        return;
    }
    /* Not supported here: plain writes from now on. Out of space: the write itself decides
     * (it may still fit), and the next one tries again. */
    if (errno == EOPNOTSUPP || errno == ENOSYS)
        a->no_prealloc = true;
}

/* Gives back the blocks reserved past the end (truncating to the same size frees them), before
 * the file is closed for good. */
static void release_prealloc(struct cf_audit *a)
{
    if (a->fd >= 0 && a->alloc_end > a->size && !a->need_trunc &&
        ftruncate(a->fd, (off_t)a->size) == 0)
        a->alloc_end = a->size;
}

/* Writes p[0..n) at a->size: whole or not at all (a torn tail is cut). */
static cf_err write_at_end(struct cf_audit *a, const char *p, size_t n)
{
    size_t done = 0;

    if (a->need_trunc) {
        if (ftruncate(a->fd, (off_t)a->size) != 0)
            return errno_err(errno);
        a->need_trunc = false;
        a->alloc_end = a->size; /* the cut freed the reserved blocks too */
    }
    prealloc(a, n);
    while (done < n) {
        ssize_t w = a->io.pwrite(a->io.ctx, a->fd, p + done, n - done, (off_t)(a->size + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int en = w < 0 ? errno : ENOSPC;
            /* Cut the torn line now if we can; otherwise before the next write. */
            a->need_trunc = done > 0 || w < 0;
            if (a->need_trunc && ftruncate(a->fd, (off_t)a->size) == 0) {
                a->need_trunc = false;
                a->alloc_end = a->size;
            }
            return errno_err(en);
        }
        done += (size_t)w;
    }
    a->size += n;
    return CF_OK;
}

/* Decimal digits of v (>= 0 here: seq and outbox ids) at p; returns their count. */
static size_t put_dec(char *p, int64_t v)
{
    char t[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 : (uint64_t)v;

    do {
        t[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++)
        p[i] = t[n - 1 - i];
    return n;
}

#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

/* The chain's state after a line: committed to a only once the line is in the file. */
struct chain_state {
    int64_t seq;
    unsigned char mac[CF_AUDIT_MAC_LEN];
    unsigned char hash[CF_AUDIT_MAC_LEN];
};

/* Chains body (a JSON object text without its closing '}') after cs into a->rec as
 * [32-byte scratch][line\n] and advances cs (seq, MAC, unkeyed hash); writes nothing. The tail
 * is copied in place, not printf'd (this runs for every audited request): reserve once, then
 * write ,"chain":{"seq":N,"node":"..","prev":"<hex>"[,"outbox":N] and, after the MAC over all
 * of that, ,"mac":"<hex>"}}\n - the exact bytes the printf form wrote (the tests parse them).
 * In the active file's format (audit_int.h): v2 reads the line's bytes once (d), v1 twice. */
static cf_err chain_line(struct cf_audit *a, const char *body, size_t blen, int64_t outbox,
                         struct chain_state *cs)
{
    unsigned char mac[CF_AUDIT_MAC_LEN], d[CF_SHA256_LEN];
    size_t canon, nlen = strlen(a->node);
    char *p;
    cf_err e;

    cf_buf_reset(&a->rec);
    if ((e = cf_buf_reserve(&a->rec, CF_AUDIT_MAC_LEN + blen + AUDIT_TAIL_MAX)))
        return e;
    p = a->rec.data;
    memcpy(p, cs->mac, CF_AUDIT_MAC_LEN);
    p += CF_AUDIT_MAC_LEN;
    memcpy(p, body, blen);
    p += blen;
    PUT_LIT(p, AUDIT_CHAIN_KEY);
    p += put_dec(p, cs->seq + 1);
    PUT_LIT(p, ",\"node\":\"");
    memcpy(p, a->node, nlen); /* audit_node_valid: plain characters, CF_AUDIT_MAX_NODE at most */
    p += nlen;
    PUT_LIT(p, "\",\"prev\":\"");
    cf_hex_encode(p, cs->mac, CF_AUDIT_MAC_LEN); /* writes a NUL after the digits */
    p += 2 * CF_AUDIT_MAC_LEN;
    *p++ = '"';
    if (outbox > 0) {
        PUT_LIT(p, ",\"outbox\":");
        p += put_dec(p, outbox);
    }
    canon = (size_t)(p - a->rec.data);
    if (a->ver == AUDIT_V2) {
        /* d = SHA256(line up to ,"mac":), mac = HMAC(key, d): the only pass over the line */
        if ((e = cf_sha256_ctx_digest(a->sha, a->rec.data + CF_AUDIT_MAC_LEN,
                                      canon - CF_AUDIT_MAC_LEN, d)) ||
            (e = cf_hmac_key_mac(a->hmac, d, sizeof(d), mac)))
            return e;
    } else if ((e = cf_hmac_key_mac(a->hmac, a->rec.data, canon, mac))) {
        return e; /* v1: HMAC(key, prev || line up to ,"mac":) */
    }
    PUT_LIT(p, AUDIT_MAC_KEY);
    cf_hex_encode(p, mac, CF_AUDIT_MAC_LEN);
    p += 2 * CF_AUDIT_MAC_LEN;
    PUT_LIT(p, "\"}}\n");
    *p = '\0';
    a->rec.len = (size_t)(p - a->rec.data);
    /* The unkeyed chain the checkpoints sign. */
    if (a->ver == AUDIT_V2) {
        unsigned char m[3 * CF_AUDIT_MAC_LEN]; /* h || d || mac */
        memcpy(m, cs->hash, CF_AUDIT_MAC_LEN);
        memcpy(m + CF_AUDIT_MAC_LEN, d, CF_AUDIT_MAC_LEN);
        memcpy(m + 2 * CF_AUDIT_MAC_LEN, mac, CF_AUDIT_MAC_LEN);
        if ((e = cf_sha256_ctx_digest(a->sha, m, sizeof(m), cs->hash)))
            return e;
    } else {
        /* v1: h = SHA256(h || line), reusing the prefix room (the MAC is computed) */
        memcpy(a->rec.data, cs->hash, CF_AUDIT_MAC_LEN);
        if ((e = cf_sha256_ctx_digest(a->sha, a->rec.data, a->rec.len - 1, cs->hash)))
            return e;
    }
    cs->seq++;
    memcpy(cs->mac, mac, sizeof(mac));
    return CF_OK;
}

static void chain_get(const struct cf_audit *a, struct chain_state *cs)
{
    cs->seq = a->seq;
    memcpy(cs->mac, a->last_mac, sizeof(cs->mac));
    memcpy(cs->hash, a->hash, sizeof(cs->hash));
}

/* The lines up to cs are in the file: the chain moves on. */
static void chain_commit(struct cf_audit *a, const struct chain_state *cs, uint64_t lines,
                         uint64_t bytes, int64_t outbox)
{
    a->seq = cs->seq;
    memcpy(a->last_mac, cs->mac, sizeof(a->last_mac));
    memcpy(a->hash, cs->hash, sizeof(a->hash));
    if (outbox > a->last_outbox)
        a->last_outbox = outbox;
    a->st.records += lines;
    a->st.bytes += bytes;
}

/* Chains body and writes it (one line, one write). */
static cf_err put_line(struct cf_audit *a, const char *body, size_t blen, int64_t outbox)
{
    struct chain_state cs;
    size_t n;
    cf_err e;

    chain_get(a, &cs);
    if ((e = chain_line(a, body, blen, outbox, &cs)))
        return e;
    n = a->rec.len - CF_AUDIT_MAC_LEN;
    if ((e = write_at_end(a, a->rec.data + CF_AUDIT_MAC_LEN, n)))
        return e;
    chain_commit(a, &cs, 1, n, outbox);
    return CF_OK;
}

static cf_err put_checkpoint(struct cf_audit *a, bool final)
{
    char t[32], mh[2 * CF_AUDIT_MAC_LEN + 1], hh[2 * CF_AUDIT_MAC_LEN + 1];
    int64_t now = cf_clock_ms(a->clock);
    struct cf_buf *s = &a->scratch;
    size_t plen;
    cf_err e;

    cf_audit_time(now, t);
    cf_hex_encode(mh, a->last_mac, CF_AUDIT_MAC_LEN);
    cf_hex_encode(hh, a->hash, CF_AUDIT_MAC_LEN);
    cf_buf_reset(s);
    /* The signed payload first; the line is built after it in the same buffer. */
    if ((e = cf_buf_printf(s, "{\"node\":\"%s\",\"seq\":%lld,\"mac\":\"%s\",\"hash\":\"%s\","
                              "\"time\":%lld}",
                           a->node, (long long)a->seq, mh, hh, (long long)now)))
        return e;
    plen = s->len;
    if ((e = cf_buf_printf(s, AUDIT_CKPT_PREFIX ",\"final\":%s,\"time\":\"%s\",\"seq\":%lld,"
                              "\"mac\":\"%s\",\"hash\":\"%s\"",
                           final ? "true" : "false", t, (long long)a->seq, mh, hh)))
        return e;
    if (a->sign_key) {
        if ((e = cf_buf_puts(s, ",\"jws\":\"")) ||
            (e = cf_jwt_sign_es256(a->sign_key, a->have_kid ? a->kid : NULL, s->data, plen, s)) ||
            (e = cf_buf_putc(s, '"')))
            return e;
    }
    if ((e = put_line(a, s->data + plen, s->len - plen, 0)))
        return e;
    a->since_ckpt = 0;
    a->st.checkpoints++;
    return CF_OK;
}

/* ---- sync ---- */

/* Runs one fdatasync covering every record written so far. Called with the mutex held and
 * no sync running; drops the mutex during the call.
 *
 * After the sync the whole pages it covered leave the page cache (POSIX_FADV_DONTNEED on clean
 * pages frees them), but for the newest cache_keep bytes, which a shipper is about to read.
 * The log is written once and read rarely, and at 40 MB/s of GET records it would otherwise
 * fill memory with itself: measured (issue 11, a Firecracker VM whose free memory goes back to
 * the host), once ~1.4 GB of log had been cached, every new page cost the appender a host
 * fault - worker CPU per GET 35 -> 50 us, the drainer's per SET 3 -> 9 us. Given back, the
 * same pages are reused and the cost stays flat; on any machine it keeps the log from pushing
 * the store's pages out of memory. */
static void retention(struct cf_audit *a);

static void drop_synced_pages(int fd, uint64_t from, uint64_t to)
{
    if (to > from)
        (void)posix_fadvise(fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
}

static void do_sync(struct cf_audit *a)
{
    int64_t target = a->seq;
    int fd = a->fd, rc, en = 0;
    bool dir = a->need_dir_sync, keep = a->need_retention;
    uint64_t drop_from = a->dropped,
             drop_to = a->size > a->cache_keep ? (a->size - a->cache_keep) & ~(uint64_t)4095 : 0;
    struct stat st;

    if (fd < 0 || a->need_reopen)
        return;
    /* A removed active file would swallow every record; start a new one (its header names the
     * last MAC, so verify shows the missing file) and fail the unsynced records. */
    if (fstat(fd, &st) == 0 && st.st_nlink == 0) {
        cf_error("audit: active file %s was removed; starting a new file", a->fname);
        close(a->fd);
        a->fd = -1;
        a->fail_upto = target;
        a->fail_err = CF_EIO;
        pthread_cond_broadcast(&a->synced_cv);
        return;
    }
    a->sync_running = true;
    a->need_dir_sync = a->need_retention = false;
    pthread_mutex_unlock(&a->mu);
    /* Without the mutex: the fd and the active file's name stay while sync_running (rotation
     * and reopen wait for it). A new file's records count as durable once its directory entry
     * is synced too. */
    rc = a->io.fsync(a->io.ctx, fd);
    if (rc != 0)
        en = errno;
    if (rc == 0)
        drop_synced_pages(fd, drop_from, drop_to);
    if (rc == 0 && dir)
        sync_dir(a);
    if (keep)
        retention(a);
    pthread_mutex_lock(&a->mu);
    a->sync_running = false;
    a->last_sync_ms = cf_mono_ms();
    if (rc == 0) {
        if (target > a->synced_seq)
            a->synced_seq = target;
        /* the same file still (rotation and reopen wait for a running sync) */
        if (drop_to > a->dropped)
            a->dropped = drop_to;
        a->st.fsyncs++;
    } else {
        /* After a failed fsync the kernel may have dropped the pages: reread the file before
         * trusting it again (next append), and fail whoever waited for these records. */
        cf_error("audit: fdatasync of %s failed (errno %d)", a->fname, en);
        a->fail_upto = target;
        a->fail_err = errno_err(en);
        a->need_reopen = true;
        a->need_dir_sync = a->need_dir_sync || dir;
    }
    pthread_cond_broadcast(&a->synced_cv);
}

static void wait_sync_idle(struct cf_audit *a)
{
    while (a->sync_running)
        pthread_cond_wait(&a->synced_cv, &a->mu);
}

/* Waits until record s is durable (leading a sync when none runs). */
static cf_err wait_durable(struct cf_audit *a, int64_t s)
{
    while (a->synced_seq < s) {
        if (a->fail_upto >= s)
            return a->fail_err;
        if (a->fd < 0 || a->need_reopen)
            return CF_EIO;
        if (!a->sync_running)
            do_sync(a);
        else
            pthread_cond_wait(&a->synced_cv, &a->mu);
    }
    return CF_OK;
}

static void *sync_thread(void *arg)
{
    struct cf_audit *a = arg;

    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        if (a->seq > a->synced_seq && a->fd >= 0 && !a->need_reopen) {
            int64_t due = a->last_sync_ms + a->sync_ms, now = cf_mono_ms();
            struct timespec ts;
            if (now >= due && !a->sync_running) {
                do_sync(a);
                continue;
            }
            if (due <= now)
                due = now + 1;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)((due - now) / 1000);
            ts.tv_nsec += (long)((due - now) % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->work_cv, &a->mu, &ts);
        } else {
            a->thr_idle = true;
            pthread_cond_wait(&a->work_cv, &a->mu);
            a->thr_idle = false;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- files ---- */

struct scan {
    bool any;        /* at least one complete, parsed line */
    int ver;         /* the file's format (its header's version) */
    bool final;      /* the last line is a final checkpoint */
    int64_t seq;
    unsigned char mac[CF_AUDIT_MAC_LEN];
    unsigned char hash[CF_AUDIT_MAC_LEN];
    int64_t outbox;
    uint64_t since_ckpt;
    uint64_t size; /* bytes of complete lines */
};

/* Reads a file: chain state at its end; cuts a torn last line (a crash mid-write: never
 * acknowledged as durable). CF_ECORRUPT when the last line does not verify under the key. */
static cf_err scan_file(struct cf_audit *a, const char *path, struct scan *sc)
{
    struct audit_reader rd;
    struct audit_tail t, last = {0};
    struct cf_buf scratch, lastline;
    bool torn = false, last_ok = false;
    cf_err e;

    memset(sc, 0, sizeof(*sc));
    cf_buf_init(&scratch, REC_MAX);
    cf_buf_init(&lastline, REC_MAX);
    if ((e = audit_reader_open(&rd, path)))
        goto release;
    sc->ver = AUDIT_VERSION;
    while (audit_reader_next(&rd)) {
        if (!rd.nl) {
            torn = true;
            break;
        }
        if (rd.off == 0) {
            int v = audit_header_version(rd.line, rd.len);
            sc->ver = v ? v : AUDIT_VERSION;
        }
        last_ok = audit_parse_tail(rd.line, rd.len, &t);
        if ((e = audit_hash_step(sc->ver, sc->hash, rd.line, rd.len, &scratch)))
            goto close_reader;
        sc->size = rd.next_off;
        if (!last_ok)
            continue;
        last = t;
        if (t.outbox > sc->outbox)
            sc->outbox = t.outbox;
        sc->final = false;
        if (audit_line_kind(rd.line, rd.len) == AUDIT_KIND_CHECKPOINT) {
            sc->since_ckpt = 0;
            sc->final = strncmp(rd.line + sizeof(AUDIT_CKPT_PREFIX) - 1, ",\"final\":true", 13) == 0;
        } else {
            sc->since_ckpt++;
        }
        cf_buf_reset(&lastline);
        if ((e = cf_buf_append(&lastline, rd.line, rd.len)))
            goto close_reader;
    }
    if (torn) {
        cf_warn("audit: %s ends with a torn line (%llu bytes), cut at the last complete line",
                path, (unsigned long long)(rd.next_off - rd.off));
        if (truncate(path, (off_t)sc->size) != 0) {
            e = errno_err(errno);
            goto close_reader;
        }
    }
    if (sc->size == 0)
        goto close_reader;
    if (!last_ok) {
        cf_error("audit: the last record of %s is malformed; run coffer audit verify", path);
        e = CF_ECORRUPT;
        goto close_reader;
    }
    {
        unsigned char mac[CF_AUDIT_MAC_LEN];
        if ((e = audit_mac(sc->ver, a->key, &last, lastline.data, &scratch, mac)))
            goto close_reader;
        if (!cf_ct_eq(mac, last.mac, sizeof(mac)) || strcmp(last.node, a->node) != 0) {
            cf_error("audit: the last record of %s does not verify under the audit key "
                     "(wrong key or tampering; run coffer audit verify)", path);
            e = CF_ECORRUPT;
            goto close_reader;
        }
    }
    sc->any = true;
    sc->seq = last.seq;
    memcpy(sc->mac, last.mac, sizeof(sc->mac));
close_reader:
    audit_reader_close(&rd);
release:
    cf_buf_release(&scratch);
    cf_buf_release(&lastline);
    return e;
}

static void apply_scan(struct cf_audit *a, const struct scan *sc)
{
    a->seq = sc->seq;
    memcpy(a->last_mac, sc->mac, sizeof(a->last_mac));
    memcpy(a->hash, sc->hash, sizeof(a->hash));
    if (sc->outbox > a->last_outbox)
        a->last_outbox = sc->outbox;
    a->since_ckpt = sc->since_ckpt;
    a->size = sc->size;
    a->alloc_end = sc->size;
    a->dropped = 0;
    a->ver = sc->ver;
}

static void retention(struct cf_audit *a)
{
    struct audit_file *v;
    size_t n;
    char path[PATH_MAX + AUDIT_NAME_MAX];

    if (!a->keep_files || audit_list(a->dir, a->node, &v, &n) != CF_OK)
        return;
    for (size_t i = 0; i + a->keep_files < n; i++) {
        if (strcmp(v[i].name, a->fname) == 0)
            continue;
        path_of(a, v[i].name, path, sizeof(path));
        if (unlink(path) != 0)
            cf_warn("audit: cannot remove old file %s (errno %d)", v[i].name, errno);
    }
    free(v);
}

/* Starts the next file: header line linking to the last MAC, synced with its directory entry -
 * now, or (defer: a rotation on the appenders' path) by the sync thread's next fdatasync, which
 * also runs retention: a rotation then costs the appender one fsync (the old file's, so it is
 * complete on disk before the next file exists) instead of three and an unlink. Until that sync
 * the new file's records are not durable (synced_seq stays below them), as any record's. */
static cf_err start_file(struct cf_audit *a, bool defer)
{
    char name[AUDIT_NAME_MAX], prev[AUDIT_NAME_MAX], path[PATH_MAX + AUDIT_NAME_MAX], ts[32];
    char body[1024];
    int64_t now = cf_clock_ms(a->clock);
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    int n;
    cf_err e;

    gmtime_r(&secs, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(name, sizeof(name), "audit-%s-%020lld-%s.jsonl", a->node, (long long)(a->seq + 1),
             ts);
    path_of(a, name, path, sizeof(path));
    /* A file of this name can only be our own earlier attempt whose header never completed. */
    a->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (a->fd < 0)
        return errno_err(errno);
    snprintf(prev, sizeof(prev), "%s", a->fname);
    snprintf(a->fname, sizeof(a->fname), "%s", name);
    a->size = 0;
    a->alloc_end = 0;
    a->dropped = 0;
    a->ver = a->fmt_ver;
    a->need_trunc = false;
    memset(a->hash, 0, sizeof(a->hash));
    cf_audit_time(now, ts);
    /* "version" right after the fixed-width "time" (audit_header_version relies on it) */
    n = snprintf(body, sizeof(body),
                 AUDIT_HEADER_PREFIX ",\"time\":\"%s\",\"version\":%d,\"node\":\"%s\","
                 "\"file\":\"%s\",\"prevFile\":\"%s\"",
                 ts, a->ver, a->node, name, prev);
    if ((e = put_line(a, body, (size_t)n, a->last_outbox)))
        goto unlink_file;
    a->since_ckpt = 0;
    if (defer) {
        a->need_dir_sync = a->need_retention = true;
        if (a->thr_idle)
            pthread_cond_signal(&a->work_cv);
        return CF_OK;
    }
    if (a->io.fsync(a->io.ctx, a->fd) != 0) {
        /* The header is chained already: keep the file and reread it before the next line. */
        e = errno_err(errno);
        a->need_reopen = true;
        return e;
    }
    a->st.fsyncs++;
    a->synced_seq = a->seq;
    sync_dir(a);
    retention(a);
    return CF_OK;
unlink_file:
    /* Nothing of the new file counts: the next append retries from the same state. */
    close(a->fd);
    a->fd = -1;
    a->need_trunc = false;
    unlink(path);
    snprintf(a->fname, sizeof(a->fname), "%s", prev);
    return e;
}

/* Re-reads the active file after a failed fsync (the file is the truth). */
static cf_err reopen(struct cf_audit *a)
{
    char path[PATH_MAX + AUDIT_NAME_MAX];
    struct scan sc;
    cf_err e;

    wait_sync_idle(a);
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    path_of(a, a->fname, path, sizeof(path));
    if ((e = scan_file(a, path, &sc)))
        return e == CF_ENOTFOUND ? CF_EIO : e;
    if (!sc.any)
        return CF_EIO;
    a->fd = open(path, O_WRONLY | O_CLOEXEC);
    if (a->fd < 0)
        return errno_err(errno);
    apply_scan(a, &sc);
    a->need_trunc = false;
    if (a->io.fsync(a->io.ctx, a->fd) != 0) {
        e = errno_err(errno);
        close(a->fd);
        a->fd = -1;
        return e;
    }
    a->st.fsyncs++;
    a->synced_seq = a->seq;
    a->need_reopen = false;
    return CF_OK;
}

static cf_err rotate_locked(struct cf_audit *a, bool defer)
{
    cf_err e;

    wait_sync_idle(a);
    if (a->fd >= 0) {
        if ((e = put_checkpoint(a, true)))
            return e;
        if (a->io.fsync(a->io.ctx, a->fd) != 0)
            return errno_err(errno); /* stays on this file; its final checkpoint is written */
        a->st.fsyncs++;
        a->synced_seq = a->seq;
        release_prealloc(a);
        close(a->fd);
        a->fd = -1;
    }
    if ((e = start_file(a, defer)))
        return e;
    a->st.rotations++;
    return CF_OK;
}

/* Makes sure a file is open and ready for the next line. */
static cf_err ready(struct cf_audit *a)
{
    cf_err e;
    if (a->need_reopen && (e = reopen(a)))
        return e;
    if (a->fd < 0)
        return start_file(a, false);
    if (a->size >= a->rotate_bytes)
        return rotate_locked(a, true);
    return CF_OK;
}

/* ---- public API ---- */

/* A record line as the log takes it: one JSON object text on one line, and not shaped like
 * the log's own header or checkpoint records - readers (verify, read, the stream tail) tell
 * those apart by that prefix alone, so a record carrying it would be skipped or misread. */
static bool line_ok(struct cf_str line, cf_err *e)
{
    static const char own[] = "{\"category\":\"CofferAudit\"";

    *e = CF_EINVAL;
    if (line.len > CF_AUDIT_MAX_LINE) {
        *e = CF_ETOOBIG;
        return false;
    }
    if (!line.p || line.len < 3 || line.p[0] != '{' || line.p[line.len - 1] != '}')
        return false;
    if (line.len >= sizeof(own) - 1 && memcmp(line.p, own, sizeof(own) - 1) == 0)
        return false;
    if (audit_line_kind(line.p, line.len) != AUDIT_KIND_RECORD)
        return false;
    return !memchr(line.p, '\n', line.len) && !memchr(line.p, '\r', line.len);
}

static cf_err append(struct cf_audit *a, struct cf_str line, int64_t outbox, bool durable)
{
    int64_t s;
    cf_err e;

    if (!line_ok(line, &e))
        return e;
    pthread_mutex_lock(&a->mu);
    if (outbox > 0 && outbox <= a->last_outbox) {
        a->st.outbox_skipped++;
        e = durable ? wait_durable(a, a->seq) : CF_OK;
        goto unlock;
    }
    if ((e = ready(a)) || (e = put_line(a, line.p, line.len - 1, outbox))) {
        a->st.write_errors++;
        goto unlock;
    }
    s = a->seq;
    if (++a->since_ckpt >= a->ckpt_every && put_checkpoint(a, false) != CF_OK)
        cf_warn("audit: checkpoint failed; retried after the next record");
    if (durable)
        e = wait_durable(a, s);
    else if (a->thr_idle)
        pthread_cond_signal(&a->work_cv);
unlock:
    pthread_mutex_unlock(&a->mu);
    return e;
}

cf_err cf_audit_append(struct cf_audit *a, struct cf_str line, bool durable)
{
    return append(a, line, 0, durable);
}

cf_err cf_audit_append_outbox(struct cf_audit *a, struct cf_str line, int64_t outbox_id,
                              bool durable)
{
    if (outbox_id < 1)
        return CF_EINVAL;
    return append(a, line, outbox_id, durable);
}

/* The batch appends: ids NULL (records of a loop pass) or the lines' outbox ids (increasing;
 * those the log already holds are skipped, as cf_audit_append_outbox skips them). */
static cf_err append_batch(struct cf_audit *a, const struct cf_str *lines, const int64_t *ids,
                           size_t n)
{
    struct chain_state cs;
    size_t k = 0;
    int64_t top = 0;
    cf_err e = CF_OK;

    if (n == 0)
        return CF_OK;
    if (n > CF_AUDIT_MAX_BATCH)
        return CF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!line_ok(lines[i], &e))
            return e;
        if (ids && (ids[i] < 1 || (i > 0 && ids[i] <= ids[i - 1])))
            return CF_EINVAL;
    }
    pthread_mutex_lock(&a->mu);
    if ((e = ready(a)))
        goto failed;
    /* Chain every line into the batch on a copy of the state; the log's own state moves only
     * once the whole batch is in the file (all or nothing, like one append). */
    chain_get(a, &cs);
    cf_buf_reset(&a->batch);
    for (size_t i = 0; i < n; i++) {
        int64_t id = ids ? ids[i] : 0;
        if (ids && id <= a->last_outbox) {
            a->st.outbox_skipped++;
            continue;
        }
        if ((e = chain_line(a, lines[i].p, lines[i].len - 1, id, &cs)) ||
            (e = cf_buf_append(&a->batch, a->rec.data + CF_AUDIT_MAC_LEN,
                               a->rec.len - CF_AUDIT_MAC_LEN)))
            goto failed;
        top = id;
        k++;
    }
    if (k == 0)
        goto unlock;
    if ((e = write_at_end(a, a->batch.data, a->batch.len)))
        goto failed;
    chain_commit(a, &cs, k, a->batch.len, top);
    /* A checkpoint after the batch when it crossed checkpoint_every (so one may come up to
     * CF_AUDIT_MAX_BATCH - 1 records late). */
    a->since_ckpt += k;
    if (a->since_ckpt >= a->ckpt_every && put_checkpoint(a, false) != CF_OK)
        cf_warn("audit: checkpoint failed; retried after the next record");
    if (a->thr_idle)
        pthread_cond_signal(&a->work_cv);
    goto unlock;
failed:
    a->st.write_errors++;
unlock:
    pthread_mutex_unlock(&a->mu);
    return e;
}

cf_err cf_audit_append_batch(struct cf_audit *a, const struct cf_str *lines, size_t n)
{
    return append_batch(a, lines, NULL, n);
}

cf_err cf_audit_append_outbox_batch(struct cf_audit *a, const struct cf_str *lines,
                                    const int64_t *ids, size_t n)
{
    return ids ? append_batch(a, lines, ids, n) : CF_EINVAL;
}

int64_t cf_audit_last_outbox_id(struct cf_audit *a)
{
    int64_t v;
    pthread_mutex_lock(&a->mu);
    v = a->last_outbox;
    pthread_mutex_unlock(&a->mu);
    return v;
}

cf_err cf_audit_sync(struct cf_audit *a)
{
    cf_err e;
    pthread_mutex_lock(&a->mu);
    e = a->need_reopen ? reopen(a) : CF_OK;
    if (!e)
        e = wait_durable(a, a->seq);
    pthread_mutex_unlock(&a->mu);
    return e;
}

cf_err cf_audit_rotate(struct cf_audit *a)
{
    cf_err e;
    pthread_mutex_lock(&a->mu);
    e = a->need_reopen ? reopen(a) : CF_OK;
    if (!e)
        e = rotate_locked(a, true);
    pthread_mutex_unlock(&a->mu);
    return e;
}

void cf_audit_get_stats(struct cf_audit *a, struct cf_audit_stats *out)
{
    pthread_mutex_lock(&a->mu);
    *out = a->st;
    out->seq = a->seq;
    out->synced_seq = a->synced_seq;
    pthread_mutex_unlock(&a->mu);
}

void cf_audit_active_file(struct cf_audit *a, char *out, size_t n)
{
    pthread_mutex_lock(&a->mu);
    snprintf(out, n, "%s", a->fd >= 0 ? a->fname : "");
    pthread_mutex_unlock(&a->mu);
}

static cf_err recover(struct cf_audit *a)
{
    struct audit_file *v = NULL;
    char path[PATH_MAX + AUDIT_NAME_MAX];
    struct scan sc;
    size_t n;
    cf_err e;

    if ((e = audit_list(a->dir, a->node, &v, &n)))
        return e;
    /* Newest first; a file left empty by a crash during its creation is removed. */
    while (n > 0) {
        path_of(a, v[n - 1].name, path, sizeof(path));
        if ((e = scan_file(a, path, &sc)))
            goto free_list;
        if (sc.any)
            break;
        cf_warn("audit: removing empty file %s", v[n - 1].name);
        unlink(path);
        n--;
    }
    if (n > 0) {
        apply_scan(a, &sc);
        snprintf(a->fname, sizeof(a->fname), "%s", v[n - 1].name);
        if (!sc.final) {
            a->fd = open(path, O_WRONLY | O_CLOEXEC);
            if (a->fd < 0) {
                e = errno_err(errno);
                goto free_list;
            }
            if (a->io.fsync(a->io.ctx, a->fd) == 0)
                a->st.fsyncs++;
            a->synced_seq = a->seq;
            /* A file of another format (v1, written before an upgrade) is closed with its
             * final checkpoint (in its own format) and the chain goes on in a new file. When
             * that fails the log stays on it, in its format, until the next rotation. */
            if (a->ver != a->fmt_ver && (e = rotate_locked(a, false))) {
                cf_warn("audit: cannot rotate %s to the v%d format (%s); continuing it",
                        a->fname, a->fmt_ver, cf_err_name(e));
                e = CF_OK;
                if (a->fd < 0)
                    e = start_file(a, false);
            }
            goto free_list;
        }
    }
    a->synced_seq = a->seq;
    e = start_file(a, false);
free_list:
    free(v);
    return e;
}

struct cf_audit *cf_audit_open(const struct cf_audit_config *cfg, cf_err *err)
{
    struct cf_audit *a = NULL;
    pthread_condattr_t ca;
    cf_err e = CF_EINVAL;

    if (!cfg || !cfg->dir || !cfg->mac_key || strlen(cfg->dir) >= PATH_MAX ||
        (cfg->node_id && !audit_node_valid(cfg->node_id)) ||
        (cfg->sign_kid && strlen(cfg->sign_kid) >= 128) || cfg->format_version > AUDIT_VERSION)
        goto out;
    e = CF_ENOMEM;
    if (!(a = calloc(1, sizeof(*a))))
        goto out;
    snprintf(a->dir, sizeof(a->dir), "%s", cfg->dir);
    snprintf(a->node, sizeof(a->node), "%s", cfg->node_id ? cfg->node_id : "node0");
    memcpy(a->key, cfg->mac_key, sizeof(a->key));
    if ((e = cf_hmac_key_new(a->key, sizeof(a->key), &a->hmac)) ||
        (e = cf_sha256_ctx_new(&a->sha)))
        goto free_a;
    e = CF_ENOMEM;
    a->rotate_bytes = cfg->rotate_bytes ? cfg->rotate_bytes : CF_AUDIT_DEFAULT_ROTATE_BYTES;
    a->keep_files = cfg->keep_files;
    a->fmt_ver = cfg->format_version == AUDIT_V1 ? AUDIT_V1 : AUDIT_VERSION;
    a->sync_ms = cfg->sync_interval_ms ? cfg->sync_interval_ms : CF_AUDIT_DEFAULT_SYNC_MS;
    a->cache_keep = cfg->cache_keep_bytes ? cfg->cache_keep_bytes : CF_AUDIT_DEFAULT_CACHE_KEEP;
    a->ckpt_every = cfg->checkpoint_every ? cfg->checkpoint_every
                                          : CF_AUDIT_DEFAULT_CHECKPOINT_EVERY;
    a->sign_key = cfg->sign_key;
    if (cfg->sign_kid) {
        snprintf(a->kid, sizeof(a->kid), "%s", cfg->sign_kid);
        a->have_kid = true;
    }
    a->sysclock = cf_clock_system();
    a->clock = cfg->clock ? cfg->clock : &a->sysclock;
    a->io = cfg->io ? *cfg->io : (struct cf_audit_io){real_pwrite, real_fsync, NULL};
    if (!a->io.pwrite)
        a->io.pwrite = real_pwrite;
    if (!a->io.fsync)
        a->io.fsync = real_fsync;
    a->fd = -1;
    cf_buf_init(&a->rec, REC_MAX);
    cf_buf_init(&a->scratch, REC_MAX);
    cf_buf_init(&a->batch, (size_t)CF_AUDIT_MAX_BATCH * REC_MAX);
    if ((e = cf_buf_reserve(&a->rec, 4096)) || (e = cf_buf_reserve(&a->scratch, 2048)))
        goto free_a;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->work_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&a->synced_cv, NULL);
    a->last_sync_ms = cf_mono_ms();
    pthread_mutex_lock(&a->mu);
    e = recover(a);
    pthread_mutex_unlock(&a->mu);
    if (e)
        goto destroy;
    if (pthread_create(&a->thr, NULL, sync_thread, a) != 0) {
        e = CF_ENOMEM;
        goto destroy;
    }
    a->thr_started = true;
    pthread_setname_np(a->thr, "cf-audit-sync"); /* top -H, perf */
    goto out;
destroy:
    if (a->fd >= 0)
        close(a->fd);
    pthread_cond_destroy(&a->work_cv);
    pthread_cond_destroy(&a->synced_cv);
    pthread_mutex_destroy(&a->mu);
free_a:
    cf_buf_release(&a->rec);
    cf_buf_release(&a->scratch);
    cf_buf_release(&a->batch);
    cf_hmac_key_free(a->hmac);
    cf_sha256_ctx_free(a->sha);
    cf_wipe(a->key, sizeof(a->key));
    free(a);
    a = NULL;
out:
    if (err)
        *err = a ? CF_OK : e;
    return a;
}

void cf_audit_close(struct cf_audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    wait_sync_idle(a);
    if (a->fd >= 0 && !a->need_reopen && a->since_ckpt > 0 && put_checkpoint(a, false) != CF_OK)
        cf_warn("audit: closing checkpoint failed");
    if (a->fd >= 0 && !a->need_reopen && a->seq > a->synced_seq)
        do_sync(a);
    a->stop = true;
    pthread_cond_signal(&a->work_cv);
    pthread_mutex_unlock(&a->mu);
    if (a->thr_started)
        pthread_join(a->thr, NULL);
    if (a->fd >= 0) {
        release_prealloc(a);
        close(a->fd);
    }
    pthread_cond_destroy(&a->work_cv);
    pthread_cond_destroy(&a->synced_cv);
    pthread_mutex_destroy(&a->mu);
    cf_buf_release(&a->rec);
    cf_buf_release(&a->scratch);
    cf_buf_release(&a->batch);
    cf_hmac_key_free(a->hmac);
    cf_sha256_ctx_free(a->sha);
    cf_wipe(a->key, sizeof(a->key));
    free(a);
}
