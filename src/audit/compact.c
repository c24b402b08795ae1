/* compact.c - the compact form of a record line, as the store's audit outbox keeps it (issue 11:
 * the outbox's rows were ~16 of ~44 WAL frames per SET commit).
 *
 *   cf_audit_compact / _raw   one walk over the line: at each byte that can start a token (a
 *                             lead byte: '{', '0', '/', '"', ','), the few tokens of that byte
 *                             (for '"': and of the key's first letter) are tried longest
 *                             first; a match is written as its token byte
 *   cf_audit_expand           the inverse: literal runs copied, token bytes replaced
 *
 * Token bytes are 0x01..0x1F. A record line never holds a raw byte below 0x20 (JSON escapes
 * them as \u00XX, and cf_audit_append refuses lines with \n or \r), so the two alphabets do not
 * meet: a line without token bytes - a row written before this codec, full JSON - expands to
 * itself, and the encoder refuses (CF_EINVAL) a line that holds such a byte rather than make it
 * ambiguous. A token byte outside the table makes expand fail (CF_EINVAL): it never guesses.
 *
 * TOK_SAME_URI is the one token that is not a constant: it stands for ,"requestUri":"https://
 * followed by the same bytes as the object id (the text after TOK_PROPS_ID up to the first '"'
 * after it): a SET's requestUri is its id. Both sides compute that span on the same full text
 * (the encoder on its input, the decoder on what it has written), so they agree.
 *
 * Size bound: every token stands for at least 6 bytes, so the output is never longer than the
 * input (cf_audit_compact_raw needs room for n bytes). A compact line is shorter than the line
 * (each token saves 5 bytes or more) whenever a token matched.
 *
 * Truncation: each token is one byte, so every prefix of a compact line expands to a prefix of
 * the line; the codec cannot tell a cut row from a short one. Rows are not cut (they commit
 * whole with their write), and cf_audit_append refuses what is not "{...}".
 *
 * No allocation beyond growing the caller's out buffer; no state but the const tables. */
#include "base/cf.h"
#include "audit/audit.h"

/* ---- the token table: a persistent format ----
 * Rows in the outbox survive crashes and upgrades, and a later build expands them with its
 * table: entries may be APPENDED (up to 0x1F) but never changed, removed or reordered. A new
 * token also needs its index in tok_groups (its first byte's list, longer tokens first). The
 * strings are what src/api/audit_rec.c's fast_format (and cf_audit_format) write around the
 * variable fields of a write's record. */
enum {
    TOK_TIME = 1,      /* {"time":"20 */
    TOK_TIME_RES,      /* the 0000Z of a ms time, then resourceId */
    TOK_RG,
    TOK_PROVIDER,
    TOK_OPNAME,
    TOK_OPVER,
    TOK_CAT_OK,        /* category .. resultType Success, resultSignature OK, empty description */
    TOK_CAT_SUCCESS,
    TOK_CAT_FAILURE,
    TOK_DESC,
    TOK_DURATION,
    TOK_CALLER_IP,
    TOK_CORRELATION,
    TOK_IDENTITY_OID,
    TOK_UPN,
    TOK_APPID,
    TOK_PROPS_ID,      /* end of identity, properties, id: the span TOK_SAME_URI repeats */
    TOK_CLIENT_INFO,
    TOK_REQUEST_URI,
    TOK_STATUS_200_RBAC,
    TOK_STATUS,
    TOK_RBAC,
    TOK_POLICY,
    TOK_SECRETS,
    TOK_KEYS,
    TOK_CERTS,
    TOK_IDENTITY,
    TOK_SAME_URI,      /* TOK_REQUEST_URI + the id's span (not in tok_text's constant sense) */
    TOK_END
};

struct tok {
    const char *s;
    size_t len;
};

#define T(lit) {lit, sizeof(lit) - 1}
static const struct tok tok_text[TOK_END] = {
    [TOK_TIME] = T("{\"time\":\"20"),
    [TOK_TIME_RES] = T("0000Z\",\"resourceId\":\"/SUBSCRIPTIONS/"),
    [TOK_RG] = T("/RESOURCEGROUPS/"),
    [TOK_PROVIDER] = T("/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/"),
    [TOK_OPNAME] = T("\",\"operationName\":\""),
    [TOK_OPVER] = T("\",\"operationVersion\":\""),
    [TOK_CAT_OK] = T("\",\"category\":\"AuditEvent\",\"resultType\":\"Success\","
                     "\"resultSignature\":\"OK\",\"resultDescription\":\"\",\"durationMs\":\""),
    [TOK_CAT_SUCCESS] =
        T("\",\"category\":\"AuditEvent\",\"resultType\":\"Success\",\"resultSignature\":\""),
    [TOK_CAT_FAILURE] =
        T("\",\"category\":\"AuditEvent\",\"resultType\":\"Failure\",\"resultSignature\":\""),
    [TOK_DESC] = T("\",\"resultDescription\":\""),
    [TOK_DURATION] = T("\",\"durationMs\":\""),
    [TOK_CALLER_IP] = T("\",\"callerIpAddress\":\""),
    [TOK_CORRELATION] = T("\",\"correlationId\":\""),
    [TOK_IDENTITY_OID] = T("\",\"identity\":{\"claim\":{"
                           "\"http://schemas.microsoft.com/identity/claims/objectidentifier\":\""),
    [TOK_UPN] = T("\",\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn\":\""),
    [TOK_APPID] = T("\",\"appid\":\""),
    [TOK_PROPS_ID] = T("\"}},\"properties\":{\"id\":\"https://"),
    [TOK_CLIENT_INFO] = T("\",\"clientInfo\":\""),
    [TOK_REQUEST_URI] = T("\",\"requestUri\":\"https://"),
    [TOK_STATUS_200_RBAC] = T("\",\"httpStatusCode\":200,\"isRbacAuthorized\":true}}"),
    [TOK_STATUS] = T("\",\"httpStatusCode\":"),
    [TOK_RBAC] = T(",\"isRbacAuthorized\":"),
    [TOK_POLICY] = T(",\"isAccessPolicyMatch\":"),
    [TOK_SECRETS] = T("/secrets/"),
    [TOK_KEYS] = T("/keys/"),
    [TOK_CERTS] = T("/certificates/"),
    [TOK_IDENTITY] = T("\",\"identity\":{\"claim\":{\""),
    [TOK_SAME_URI] = T("\",\"requestUri\":\"https://"), /* + the id's span */
};
#undef T

/* Lead bytes: the group of tokens a byte can start (0: none), and BAD for the bytes a line
 * must not hold (the token alphabet and NUL). The tokens that start with '"' (most, and '"' is
 * the line's most frequent lead byte) are split further by their fourth byte (quote_sub): the
 * first letter of the key after ",", or the ',' of "}},. */
enum {
    G_NONE,
    G_BRACE,
    G_ZERO,
    G_SLASH,
    G_COMMA,
    G_QC,
    G_QI,
    G_QH,
    G_QR,
    G_QO,
    G_QD,
    G_QA,
    G_QPROPS,
    G_COUNT,
    G_QUOTE = G_COUNT, /* lead[] only: look up quote_sub */
    G_BAD
};
static const unsigned char lead[256] = {
    [0x00] = G_BAD, [0x01] = G_BAD, [0x02] = G_BAD, [0x03] = G_BAD, [0x04] = G_BAD,
    [0x05] = G_BAD, [0x06] = G_BAD, [0x07] = G_BAD, [0x08] = G_BAD, [0x09] = G_BAD,
    [0x0a] = G_BAD, [0x0b] = G_BAD, [0x0c] = G_BAD, [0x0d] = G_BAD, [0x0e] = G_BAD,
    [0x0f] = G_BAD, [0x10] = G_BAD, [0x11] = G_BAD, [0x12] = G_BAD, [0x13] = G_BAD,
    [0x14] = G_BAD, [0x15] = G_BAD, [0x16] = G_BAD, [0x17] = G_BAD, [0x18] = G_BAD,
    [0x19] = G_BAD, [0x1a] = G_BAD, [0x1b] = G_BAD, [0x1c] = G_BAD, [0x1d] = G_BAD,
    [0x1e] = G_BAD, [0x1f] = G_BAD,
    ['{'] = G_BRACE, ['0'] = G_ZERO, ['/'] = G_SLASH, ['"'] = G_QUOTE, [','] = G_COMMA,
};
static const unsigned char quote_sub[256] = {
    ['c'] = G_QC, ['i'] = G_QI, ['h'] = G_QH, ['r'] = G_QR,
    ['o'] = G_QO, ['d'] = G_QD, ['a'] = G_QA, [','] = G_QPROPS,
};

/* Each group's tokens, 0-terminated; a token that is a prefix of another comes after it
 * (longest first). TOK_SAME_URI is tried where TOK_REQUEST_URI matches. The unit test checks
 * that every token is found where it stands alone. */
static const unsigned char tok_groups[G_COUNT][8] = {
    [G_BRACE] = {TOK_TIME},
    [G_ZERO] = {TOK_TIME_RES},
    [G_SLASH] = {TOK_PROVIDER, TOK_RG, TOK_CERTS, TOK_SECRETS, TOK_KEYS},
    [G_COMMA] = {TOK_POLICY, TOK_RBAC},
    [G_QC] = {TOK_CAT_OK, TOK_CAT_SUCCESS, TOK_CAT_FAILURE, TOK_CALLER_IP, TOK_CORRELATION,
              TOK_CLIENT_INFO},
    [G_QI] = {TOK_IDENTITY_OID, TOK_IDENTITY},
    [G_QH] = {TOK_UPN, TOK_STATUS_200_RBAC, TOK_STATUS},
    [G_QR] = {TOK_REQUEST_URI, TOK_DESC},
    [G_QO] = {TOK_OPVER, TOK_OPNAME},
    [G_QD] = {TOK_DURATION},
    [G_QA] = {TOK_APPID},
    [G_QPROPS] = {TOK_PROPS_ID},
};

static uint32_t load4(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The span TOK_SAME_URI repeats: from id_at up to the first '"' before end (or end). */
static size_t id_span(const char *text, size_t id_at, size_t end)
{
    const char *q = memchr(text + id_at, '"', end - id_at);
    return q ? (size_t)(q - (text + id_at)) : end - id_at;
}

bool cf_audit_compact_raw(const char *in, size_t n, char *out, size_t *outlen)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t i = 0, run = 0, o = 0, id_at = SIZE_MAX;

    while (i < n) {
        unsigned g = lead[u[i]];
        const unsigned char *c;
        const struct tok *t = NULL;
        unsigned k = 0;
        size_t used = 0;
        uint32_t v;

        if (g == G_NONE) {
            i++;
            continue;
        }
        if (g == G_BAD)
            return false;
        if (n - i < 6) { /* shorter than any token */
            i++;
            continue;
        }
        if (g == G_QUOTE) {
            /* only "," and "}}, start a token: a value's or key's own quote is skipped here */
            g = u[i + 1] == ',' || u[i + 1] == '}' ? quote_sub[u[i + 3]] : G_NONE;
            if (g == G_NONE) {
                i++;
                continue;
            }
        }
        v = load4(u + i);
        for (c = tok_groups[g]; *c; c++) {
            t = &tok_text[*c];
            if (t->len <= n - i && load4(t->s) == v && memcmp(in + i + 4, t->s + 4, t->len - 4) == 0)
                break;
        }
        if (!*c) {
            i++;
            continue;
        }
        k = *c;
        used = t->len;
        if (k == TOK_REQUEST_URI && id_at != SIZE_MAX) {
            size_t span = id_span(in, id_at, i);
            if (span && span <= n - i - used && memcmp(in + i + used, in + id_at, span) == 0) {
                k = TOK_SAME_URI;
                used += span;
            }
        }
        memcpy(out + o, in + run, i - run);
        o += i - run;
        out[o++] = (char)k;
        i += used;
        run = i;
        if (k == TOK_PROPS_ID && id_at == SIZE_MAX)
            id_at = i;
    }
    memcpy(out + o, in + run, n - run);
    *outlen = o + (n - run);
    return true;
}

cf_err cf_audit_compact(struct cf_str line, struct cf_buf *out)
{
    size_t m;
    cf_err e = cf_buf_reserve(out, line.len);
    if (e)
        return e;
    if (!cf_audit_compact_raw(line.p, line.len, out->data + out->len, &m)) {
        out->data[out->len] = '\0';
        return CF_EINVAL;
    }
    out->len += m;
    out->data[out->len] = '\0';
    return CF_OK;
}

/* Room for k more bytes at out->data + at (at >= out->len: bytes written, len not yet moved). */
static cf_err room(struct cf_buf *out, size_t at, size_t k)
{
    if (at + k < out->cap)
        return CF_OK;
    return cf_buf_reserve(out, at - out->len + k);
}

cf_err cf_audit_expand(struct cf_str in, struct cf_buf *out)
{
    const unsigned char *u = (const unsigned char *)in.p;
    size_t start = out->len, at = out->len, i = 0, run = 0, id_at = SIZE_MAX;
    cf_err e = CF_OK;

    if ((e = room(out, at, in.len)))
        goto fail;
    for (;;) {
        unsigned k;
        size_t lit;

        while (i < in.len && (u[i] >= 0x20 || u[i] == 0))
            i++;
        lit = i - run;
        if ((e = room(out, at, lit)))
            goto fail;
        memcpy(out->data + at, in.p + run, lit);
        at += lit;
        if (i == in.len)
            break;
        k = u[i++];
        run = i;
        if (k >= TOK_END) {
            e = CF_EINVAL;
            goto fail;
        }
        if ((e = room(out, at, tok_text[k].len)))
            goto fail;
        memcpy(out->data + at, tok_text[k].s, tok_text[k].len);
        at += tok_text[k].len;
        if (k == TOK_PROPS_ID && id_at == SIZE_MAX) {
            id_at = at - start;
        } else if (k == TOK_SAME_URI) {
            size_t span;
            if (id_at == SIZE_MAX) {
                e = CF_EINVAL; /* a repeat of an id the line never had */
                goto fail;
            }
            /* the span ends before this token's own text (which starts with '"') */
            span = id_span(out->data + start, id_at, at - tok_text[k].len - start);
            if ((e = room(out, at, span)))
                goto fail;
            memcpy(out->data + at, out->data + start + id_at, span);
            at += span;
        }
    }
    out->len = at;
    out->data[at] = '\0';
    return CF_OK;
fail:
    if (out->data)
        out->data[start] = '\0';
    out->len = start;
    return e;
}
