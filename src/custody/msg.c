/* msg.c - the message interface of custody.h: one JSON request, one JSON response. This is the
 * whole protocol of the custody socket, and what a separate custody process would speak.
 * Responses never carry key material; shares appear only in the answers to init and rotate
 * (they are shown to the operator once and kept nowhere). */
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
        return "A master-key rotation is already running.";
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
    cf_jw_kstr(w, "provider", cf_custody_provider(c) == CF_CUSTODY_SHAMIR   ? "shamir"
                              : cf_custody_provider(c) == CF_CUSTODY_PKCS11 ? "pkcs11"
                                                                           : "dev");
    if (p) {
        cf_jw_kint(w, "have", p->have);
        cf_jw_kint(w, "threshold", p->threshold);
    }
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
    struct cf_custody_progress prog;
    struct cf_json *root = NULL;
    const char *op;
    struct cf_jw w;
    int nshares = 0;
    cf_err e = CF_OK, ret;

    memset(&prog, 0, sizeof(prog));
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
        if (!was && prog.unsealed && hooks && hooks->unsealed)
            hooks->unsealed(hooks->ctx);
        status_members(c, &w, &prog);
    } else if (strcmp(op, "seal") == 0) {
        if ((e = cf_custody_seal(c)))
            goto done;
        if (hooks && hooks->sealed)
            hooks->sealed(hooks->ctx);
        status_members(c, &w, NULL);
    } else if (strcmp(op, "rotate") == 0) {
        if (!hooks || !hooks->rewrap) {
            e = CF_ENOTIMPL;
            goto done;
        }
        if (!(shares = calloc(CF_SHAMIR_MAX_SHARES, CF_SHARE_TEXT_MAX))) {
            e = CF_ENOMEM;
            goto done;
        }
        if ((e = cf_custody_master_key(c, old_key)) ||
            (e = cf_custody_rotate_begin(c, (int)int_member(root, "shares"),
                                         (int)int_member(root, "threshold"), new_key, shares,
                                         &nshares)))
            goto done;
        /* Re-wrap first (one store transaction), then make the new key durable. If that last
         * step fails, wrap back so the data stays readable under the key custody still has. */
        if ((e = hooks->rewrap(hooks->ctx, old_key, new_key))) {
            cf_custody_rotate_abort(c);
            nshares = 0;
            goto done;
        }
        if ((e = cf_custody_rotate_commit(c))) {
            if (hooks->rewrap(hooks->ctx, new_key, old_key) != CF_OK)
                cf_error("custody: rotation could not be committed nor undone: the store is "
                         "wrapped under the new key; see the custody log");
            cf_custody_rotate_abort(c);
            nshares = 0;
            goto done;
        }
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
    cf_wipe(old_key, sizeof(old_key));
    cf_wipe(new_key, sizeof(new_key));
    return ret ? ret : e;
}
