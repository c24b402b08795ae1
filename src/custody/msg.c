/* msg.c - the message interface of custody.h: one JSON request, one JSON response. This is the
 * whole protocol of the custody socket, and what a separate custody process would speak.
 * Responses never carry key material; shares appear only in the answers to init, rotate and
 * - while a shamir rotation is unconfirmed - unseal (custody.h: they are kept nowhere, only
 * derivable from the pending record until confirmed).
 *
 * rotate, crash-safe: pending record committed -> store re-wrapped -> custody committed ->
 * (dev, pkcs11) record deleted; a crash anywhere is finished or undone by cf_custody_settle
 * at the next start. */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"

static const char *why(cf_err e)
{
    switch (e) {
    case CF_EBADPARAM:
        return "The share is malformed, mistyped, or belongs to another key (check it and "
               "try again).";
    case CF_EEXISTS:
        return "That share (or the initialisation) was given already.";
    case CF_EUNAUTH:
        return "The shares do not reproduce the master key; every share given so far was "
               "dropped: start again.";
    case CF_ESEALED:
        return "The server is sealed; unseal it with coffer operator unseal.";
    case CF_EBUSY:
        return "A master-key rotation is running, or the last one is not confirmed yet (give "
               "the new shares to the operators, then run coffer operator rotate-master-key "
               "--confirm).";
    case CF_ECORRUPT:
        return "The key these shares (or this token) give does not open the store, and no "
               "pending rotation does: the server stays sealed. Check the shares and the data "
               "directory.";
    case CF_EINVAL:
        return "This operation is not possible with this custody provider or in this state.";
    default:
        return cf_err_msg(e);
    }
}

static cf_err error_doc(cf_err e, struct cf_buf *resp)
{
    struct cf_jw w;
    cf_buf_reset(resp);
    cf_jw_init(&w, resp);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "error");
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "code", cf_err_name(e));
    cf_jw_kstr(&w, "message", why(e));
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    return cf_jw_err(&w);
}

static void status_members(struct cf_custody *c, struct cf_jw *w,
                           const struct cf_custody_progress *p)
{
    cf_jw_kstr(w, "state", cf_custody_state_name(cf_custody_state(c)));
    cf_jw_kstr(w, "provider",
               cf_custody_provider(c) == CF_CUSTODY_SHAMIR   ? "shamir"
               : cf_custody_provider(c) == CF_CUSTODY_PKCS11 ? "pkcs11"
                                                             : "dev");
    if (p) {
        cf_jw_kint(w, "have", p->have);
        cf_jw_kint(w, "threshold", p->threshold);
    }
    if (cf_custody_unconfirmed(c))
        cf_jw_kbool(w, "rotation_unconfirmed", true);
}

static int64_t int_member(const struct cf_json *root, const char *k)
{
    int64_t v = 0;
    return cf_json_int(cf_json_get(root, k), &v) ? v : 0;
}

cf_err cf_custody_handle_msg(struct cf_custody *c, const struct cf_custody_hooks *hooks,
                             const char *req, size_t len, struct cf_buf *resp)
{
    char(*shares)[CF_SHARE_TEXT_MAX] = NULL;
    unsigned char old_key[CF_CUSTODY_KEY_LEN], new_key[CF_CUSTODY_KEY_LEN];
    struct cf_buf pending;
    struct cf_custody_progress prog;
    struct cf_json *root = NULL;
    const char *op;
    struct cf_jw w;
    int nshares = 0;
    cf_err e = CF_OK, ret;

    memset(&prog, 0, sizeof(prog));
    cf_buf_init(&pending, 4096);
    if (cf_json_parse(req, len, &root, NULL, 0) != CF_OK ||
        !(op = cf_json_str(cf_json_get(root, "op"), NULL))) {
        e = CF_EBADJSON;
        goto done;
    }
    cf_buf_reset(resp);
    cf_jw_init(&w, resp);
    cf_jw_obj_begin(&w);
    if (strcmp(op, "status") == 0) {
        cf_custody_progress(c, &prog);
        status_members(c, &w, &prog);
    } else if (strcmp(op, "init") == 0) {
        int n = (int)int_member(root, "shares"), t = (int)int_member(root, "threshold");
        if (n < 2 || n > CF_SHAMIR_MAX_SHARES || t < 2 || t > n) {
            e = CF_EBADPARAM;
            goto done;
        }
        if (!(shares = calloc(CF_SHAMIR_MAX_SHARES, CF_SHARE_TEXT_MAX))) {
            e = CF_ENOMEM;
            goto done;
        }
        if ((e = cf_custody_init_shamir(c, n, t, shares)))
            goto done;
        nshares = n;
        status_members(c, &w, NULL);
    } else if (strcmp(op, "unseal") == 0) {
        const char *s = cf_json_str(cf_json_get(root, "share"), NULL);
        bool was = cf_custody_state(c) == CF_CUSTODY_UNSEALED;
        if (!s && cf_custody_provider(c) == CF_CUSTODY_SHAMIR) {
            e = CF_EBADPARAM;
            goto done;
        }
        if ((e = cf_custody_unseal_share(c, s ? s : "", &prog)))
            goto done;
        if (!was && prog.unsealed) {
            if (!(shares = calloc(CF_SHAMIR_MAX_SHARES, CF_SHARE_TEXT_MAX))) {
                e = CF_ENOMEM;
            } else if ((e = cf_custody_settle(c, hooks, shares, &nshares))) {
                nshares = 0;
            }
            if (e) { /* the key does not open the store: stay sealed */
                if (cf_custody_seal(c) != CF_OK)
                    cf_error("custody: cannot seal again after a failed unseal");
                goto done;
            }
            if (hooks && hooks->unsealed)
                hooks->unsealed(hooks->ctx);
        }
        status_members(c, &w, &prog);
    } else if (strcmp(op, "seal") == 0) {
        if ((e = cf_custody_seal(c)))
            goto done;
        if (hooks && hooks->sealed)
            hooks->sealed(hooks->ctx);
        status_members(c, &w, NULL);
    } else if (strcmp(op, "rotate") == 0) {
        if (!hooks || !hooks->rewrap || !hooks->pending_put || !hooks->pending_del) {
            e = CF_ENOTIMPL;
            goto done;
        }
        if (!(shares = calloc(CF_SHAMIR_MAX_SHARES, CF_SHARE_TEXT_MAX))) {
            e = CF_ENOMEM;
            goto done;
        }
        if ((e = cf_custody_master_key(c, old_key)) ||
            (e = cf_custody_rotate_begin(c, (int)int_member(root, "shares"),
                                         (int)int_member(root, "threshold"), new_key, &pending)))
            goto done;
        /* 1. the pending record (the new key sealed under the old one), its own commit */
        if ((e = hooks->pending_put(hooks->ctx, pending.data, pending.len))) {
            cf_custody_rotate_abort(c);
            goto done;
        }
        cf_custody_crash_point("rotate-pending");
        /* 2. re-wrap (one store transaction); a failure changed nothing */
        if ((e = hooks->rewrap(hooks->ctx, old_key, new_key))) {
            cf_custody_rotate_abort(c);
            (void)hooks->pending_del(hooks->ctx);
            goto done;
        }
        cf_custody_crash_point("rotate-rewrap");
        /* 3. custody makes the new key durable. If that fails, wrap back so the data stays
         * readable under the key custody still has (else the next start finishes it from the
         * pending record). */
        if ((e = cf_custody_rotate_commit(c, shares, &nshares))) {
            if (hooks->rewrap(hooks->ctx, new_key, old_key) != CF_OK)
                cf_error("custody: rotation could not be committed nor undone: the store is "
                         "wrapped under the new key; restart to finish the rotation from its "
                         "pending record");
            else
                (void)hooks->pending_del(hooks->ctx);
            cf_custody_rotate_abort(c);
            nshares = 0;
            goto done;
        }
        cf_custody_crash_point("rotate-custody");
        /* 4. dev, pkcs11: done. shamir keeps the record (and the old shares working) until the
         * operators confirm they hold the new shares. */
        if (cf_custody_provider(c) != CF_CUSTODY_SHAMIR &&
            (e = hooks->pending_del(hooks->ctx)) != CF_OK) {
            cf_warn("custody: rotated, but the pending record stays until the next start (%s)",
                    cf_err_name(e));
            e = CF_OK;
        }
        status_members(c, &w, NULL);
    } else if (strcmp(op, "confirm") == 0) {
        if ((e = cf_custody_confirm(c, hooks)))
            goto done;
        status_members(c, &w, NULL);
    } else {
        e = CF_EBADPARAM;
        goto done;
    }
    if (nshares) {
        cf_jw_key(&w, "shares");
        cf_jw_arr_begin(&w);
        for (int i = 0; i < nshares; i++)
            cf_jw_str(&w, shares[i]);
        cf_jw_arr_end(&w);
    }
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
done:
    ret = e ? error_doc(e, resp) : CF_OK;
    cf_json_free(root);
    if (shares) {
        cf_wipe(shares, CF_SHAMIR_MAX_SHARES * CF_SHARE_TEXT_MAX);
        free(shares);
    }
    cf_buf_release(&pending);
    cf_wipe(old_key, sizeof(old_key));
    cf_wipe(new_key, sizeof(new_key));
    return ret ? ret : e;
}
