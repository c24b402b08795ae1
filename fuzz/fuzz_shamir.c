/* libFuzzer target: Shamir shares (src/custody/shamir.c) - the text an operator types into
 * `coffer operator unseal`, and the split/combine arithmetic behind it.
 *
 * Input: byte 0 selects the mode.
 *   even  parse: the rest is '\n'-separated share texts, each given to cf_share_decode.
 *         Checks: never crashes; a decoded share has x != 0 and threshold >= 2, re-encodes to
 *         text that decodes to the same share and is a fixed point of decode+encode; the
 *         decoded shares (distinct x, at most 16) combine without crashing.
 *   odd   split: byte 1 threshold t, byte 2 share count n (both brought into
 *         2 <= t <= n <= 16), bytes 3..34 the key, byte 35 which shares to use, bytes 36-37 a
 *         typo (position, replacement character), byte 38 a second typo position.
 *         Checks: the shares encode and decode; any t of them (in the chosen order) combine
 *         to the key, t - 1 of them (t > 2) do not; a share text with one character replaced
 *         or two neighbouring characters swapped either fails to decode or decodes to the very
 *         same share (the 4-byte check catches every typo that changes a share; only the
 *         unused low bits of the last character can change without changing the bytes). */
#include "base/cf.h"
#include "fuzz_check.h"
#include "custody/custody.h"
#include "base/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static bool same_share(const struct cf_share *a, const struct cf_share *b)
{
    return memcmp(a->key_id, b->key_id, 4) == 0 && a->threshold == b->threshold && a->x == b->x &&
           memcmp(a->y, b->y, sizeof(a->y)) == 0;
}

static void parse_mode(const uint8_t *p, size_t n)
{
    struct cf_share got[CF_SHAMIR_MAX_SHARES];
    int k = 0;
    const char *s = (const char *)p, *end = s + n, *nl;
    char line[256];

    for (; s < end; s = nl + 1) {
        struct cf_share sh, again;
        char text[CF_SHARE_TEXT_MAX], text2[CF_SHARE_TEXT_MAX];
        size_t len;
        nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            nl = end;
        len = (size_t)(nl - s);
        if (len >= sizeof(line) || memchr(s, '\0', len))
            continue;
        memcpy(line, s, len);
        line[len] = '\0';
        memset(&sh, 0xee, sizeof(sh));
        if (cf_share_decode(line, &sh) != CF_OK)
            continue;
        CHECK(sh.x != 0 && sh.threshold >= 2);
        CHECK(cf_share_encode(&sh, text) == CF_OK);
        CHECK(strlen(text) < CF_SHARE_TEXT_MAX);
        CHECK(cf_share_decode(text, &again) == CF_OK && same_share(&sh, &again));
        CHECK(cf_share_encode(&again, text2) == CF_OK && strcmp(text, text2) == 0);
        bool dup = false;
        for (int i = 0; i < k; i++)
            dup = dup || got[i].x == sh.x;
        if (!dup && k < CF_SHAMIR_MAX_SHARES)
            got[k++] = sh;
    }
    if (k >= 2) {
        uint8_t key[CF_CUSTODY_KEY_LEN];
        CHECK(cf_shamir_combine(got, k, key) == CF_OK);
    }
}

/* Decoding text with a typo gives an error or exactly the original share. */
static void typo_check(const char *text, const struct cf_share *orig)
{
    struct cf_share sh;
    if (cf_share_decode(text, &sh) == CF_OK)
        CHECK(same_share(&sh, orig));
}

static void split_mode(const uint8_t *p, size_t n)
{
    uint8_t in[38], key[CF_CUSTODY_KEY_LEN], out[CF_CUSTODY_KEY_LEN];
    static const uint8_t key_id[4] = {0xc0, 0xff, 0xee, 0x01};
    struct cf_share shares[CF_SHAMIR_MAX_SHARES], pick[CF_SHAMIR_MAX_SHARES];
    char text[CF_SHAMIR_MAX_SHARES][CF_SHARE_TEXT_MAX];
    int t, cnt, order[CF_SHAMIR_MAX_SHARES];

    memset(in, 0, sizeof(in));
    memcpy(in, p, CF_MIN(n, sizeof(in)));
    cnt = 2 + in[1] % (CF_SHAMIR_MAX_SHARES - 1);
    t = 2 + in[0] % (cnt - 1);
    memcpy(key, in + 2, sizeof(key));

    CHECK(cf_shamir_split(key, key_id, t, cnt, shares) == CF_OK);
    for (int i = 0; i < cnt; i++) {
        struct cf_share back;
        CHECK(cf_share_encode(&shares[i], text[i]) == CF_OK);
        CHECK(cf_share_decode(text[i], &back) == CF_OK && same_share(&back, &shares[i]));
        order[i] = i;
    }
    /* A permutation from byte 34 (Fisher-Yates with a tiny LCG). */
    unsigned r = in[34] * 2654435761u + 1;
    for (int i = cnt - 1; i > 0; i--) {
        r = r * 1103515245u + 12345u;
        int j = (int)((r >> 16) % (unsigned)(i + 1)), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (int i = 0; i < t; i++)
        CHECK(cf_share_decode(text[order[i]], &pick[i]) == CF_OK);
    CHECK(cf_shamir_combine(pick, t, out) == CF_OK && memcmp(out, key, sizeof(key)) == 0);
    if (t > 2) {
        CHECK(cf_shamir_combine(pick, t - 1, out) == CF_OK);
        CHECK(memcmp(out, key, sizeof(key)) != 0);
    }
    /* a repeated share is refused, not silently combined */
    pick[1] = pick[0];
    CHECK(cf_shamir_combine(pick, t, out) == CF_EBADPARAM);

    {
        const struct cf_share *victim = &shares[order[0]];
        char typo[CF_SHARE_TEXT_MAX];
        size_t len = strlen(text[order[0]]), pos = in[35] % len, pos2 = in[37] % (len - 1);
        char c = b64url[in[36] % 64];
        memcpy(typo, text[order[0]], len + 1);
        typo[pos] = c;
        typo_check(typo, victim);
        memcpy(typo, text[order[0]], len + 1);
        c = typo[pos2];
        typo[pos2] = typo[pos2 + 1];
        typo[pos2 + 1] = c;
        typo_check(typo, victim);
        memcpy(typo, text[order[0]], len + 1); /* a dropped character */
        memmove(typo + pos, typo + pos + 1, len - pos);
        typo_check(typo, victim);
    }
    cf_wipe(shares, sizeof(shares));
    cf_wipe(pick, sizeof(pick));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16 * 1024)
        return 0;
    if (data[0] & 1)
        split_mode(data + 1, size - 1);
    else
        parse_mode(data + 1, size - 1);
    return 0;
}
