/* custody.h - the master key and its providers (DESIGN.md §2, §4) behind a small,
 * message-shaped API, so custody can later run as a separate, privilege-separated process.
 *
 * Providers:
 *   dev     the 32-byte key file <dir>/master.key (0600), created on first use. Always
 *           unsealed; cf_custody_seal refuses (CF_EINVAL). Dev mode only.
 *   shamir  the master key is split into N shares (Shamir over GF(256), threshold T); only a
 *           verifier is kept, in <dir>/custody.json. Starts SEALED (or UNINITIALISED before
 *           `coffer operator init`); T distinct shares unseal it.
 *   pkcs11  the master key is kept in <dir>/custody.json encrypted (CKM_AES_CBC_PAD) under a
 *           non-extractable AES-256 key in a PKCS#11 token, and checked against a verifier;
 *           it unseals itself at open.
 *
 * Invariants: the master key exists in clear only in this object's memory while UNSEALED and in
 * the caller's copy (cf_custody_master_key); seal wipes it. The state file never holds the key:
 * shamir stores HMAC-SHA256(master, "coffer custody verifier v1"); pkcs11 the token-encrypted
 * key plus that verifier. Nothing here logs key material or shares.
 *
 * Share text (what `coffer operator init` prints once): base64url (no padding) of 43 bytes
 *   version 0x01 | key id (4) | threshold (1) | index x (1, 1..255) | y (32) | check (4)
 * check = the first 4 bytes of SHA-256 over the 39 bytes before it: a mistyped share is refused
 * on its own (CF_EBADPARAM) before it is combined; a share of another init (key id) likewise.
 *
 * Threads: every function takes the object's mutex; the object may be shared. */
#ifndef CF_CUSTODY_H
#define CF_CUSTODY_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/secret.h"

#define CF_CUSTODY_KEY_LEN 32
#define CF_SHAMIR_MAX_SHARES 16
#define CF_SHARE_BYTES 43
#define CF_SHARE_TEXT_MAX 64 /* 58 base64url characters + NUL, with room */

/* ---- Shamir over GF(256) (shamir.c), usable on its own ---- */
struct cf_share {
    uint8_t key_id[4];
    uint8_t threshold;
    uint8_t x; /* 1..255 */
    uint8_t y[CF_CUSTODY_KEY_LEN];
};
/* Splits key into n shares (2 <= t <= n <= CF_SHAMIR_MAX_SHARES, else CF_EINVAL) with x = 1..n
 * and random polynomials of degree t-1 (one per byte). out[] is secret: wipe it after use. */
cf_err cf_shamir_split(const uint8_t key[CF_CUSTODY_KEY_LEN], const uint8_t key_id[4], int t,
                       int n, struct cf_share *out) CF_NODISCARD;
/* Lagrange interpolation at 0 of k shares (k >= 2; distinct non-zero x, else CF_EBADPARAM).
 * With fewer than the threshold, or a wrong share, the result is a wrong key: callers check
 * it against a verifier. */
/* The same with the coefficients derived from seed (HKDF-SHA256(seed, info "coffer shamir
 * coefficients v1" | key id | t)): the same (key, key id, t, n, seed) always gives the same
 * shares, so a rotation's shares can be shown again after a crash. seed is as secret as key. */
cf_err cf_shamir_split_seeded(const uint8_t key[CF_CUSTODY_KEY_LEN], const uint8_t key_id[4],
                              int t, int n, const uint8_t seed[32],
                              struct cf_share *out) CF_NODISCARD;
cf_err cf_shamir_combine(const struct cf_share *s, int k,
                         uint8_t key[CF_CUSTODY_KEY_LEN]) CF_NODISCARD;
/* Share text form (see above). encode writes a NUL-terminated string into out. decode:
 * CF_EBADPARAM for bad base64, a wrong length or version, a bad check value, x = 0. */
cf_err cf_share_encode(const struct cf_share *s, char out[CF_SHARE_TEXT_MAX]) CF_NODISCARD;
cf_err cf_share_decode(const char *text, struct cf_share *out) CF_NODISCARD;

/* ---- the custody object ---- */
enum cf_custody_provider { CF_CUSTODY_DEV, CF_CUSTODY_SHAMIR, CF_CUSTODY_PKCS11 };
enum cf_custody_state {
    CF_CUSTODY_UNINITIALISED, /* shamir before `operator init`: no master key yet */
    CF_CUSTODY_SEALED,
    CF_CUSTODY_UNSEALED,
};

struct cf_custody_cfg {
    enum cf_custody_provider provider;
    const char *dir; /* data dir: master.key, custody.json */
    /* pkcs11 */
    const char *p11_module; /* path of the PKCS#11 module (.so) */
    const char *p11_token;  /* token label */
    const char *p11_pin;    /* user PIN */
};

struct cf_custody;

/* "dev" / "shamir" / "pkcs11". */
bool cf_custody_provider_parse(const char *name, enum cf_custody_provider *out);
const char *cf_custody_state_name(enum cf_custody_state s);

/* Opens custody: dev reads or creates the key file; shamir reads custody.json (absent =
 * UNINITIALISED); pkcs11 opens the token, creates its wrapping key and the master key on the
 * first start (taking over an existing dev master.key so a data dir keeps its data) and
 * unseals. NULL and *err on failure (CF_ECORRUPT: the state file or the token's answer does
 * not match the verifier). */
struct cf_custody *cf_custody_open(const struct cf_custody_cfg *cfg, cf_err *err);
void cf_custody_close(struct cf_custody *c);

enum cf_custody_state cf_custody_state(struct cf_custody *c);
enum cf_custody_provider cf_custody_provider(const struct cf_custody *c);

/* Shamir only, UNINITIALISED only (else CF_EEXISTS / CF_EINVAL): generates the master key - or
 * takes over <dir>/master.key when a dev key file exists (the file is removed once custody.json
 * is durable) - writes the verifier and returns n share texts in out[0..n). Leaves the object
 * SEALED: the operators unseal it with their shares. */
cf_err cf_custody_init_shamir(struct cf_custody *c, int n, int t,
                              char (*out)[CF_SHARE_TEXT_MAX]) CF_NODISCARD;

struct cf_custody_progress {
    int have;      /* distinct shares held */
    int threshold; /* shares needed */
    bool unsealed;
};
/* Shamir: adds one share. CF_EBADPARAM for a malformed share (nothing is kept),
 * CF_EEXISTS for an index already given (harmless), CF_EUNAUTH when the threshold is reached
 * but the shares do not reproduce the master key (all shares held are dropped: start again),
 * CF_EINVAL when not SEALED. The progress is filled in every case. */
cf_err cf_custody_unseal_share(struct cf_custody *c, const char *share,
                               struct cf_custody_progress *p) CF_NODISCARD;
/* The progress (state, shares held, threshold) without changing anything. */
void cf_custody_progress(struct cf_custody *c, struct cf_custody_progress *p);
/* Wipes the master key and any shares held: SEALED. pkcs11 seals too (until the next open);
 * dev refuses (CF_EINVAL). */
cf_err cf_custody_seal(struct cf_custody *c) CF_NODISCARD;
/* Copies the master key; CF_ESEALED unless UNSEALED. */
cf_err cf_custody_master_key(struct cf_custody *c,
                             unsigned char out[CF_CUSTODY_KEY_LEN]) CF_NODISCARD;

/* Master-key rotation, crash-safe (the caller - msg.c's "rotate" - runs the steps in order):
 *   1. _begin (UNSEALED only): a new random key, key id and share seed; returns the key and in
 *      *pending the PENDING RECORD: magic "CFPM" | 1 | new key (32) | key id (4) | n | t |
 *      share seed (32), sealed (AES-256-GCM, AAD CF_CUSTODY_PENDING_AAD) under the CURRENT key.
 *      Nothing durable changes. The caller commits the record to the store (meta
 *      CF_CUSTODY_PENDING_META) before anything else, then re-wraps the store under the new key.
 *   2. _commit makes the new key custody's key (dev: key file; pkcs11: state file wrapped by the
 *      token; shamir: state file with the new verifier AND the previous key's verifier, key id
 *      and n/t, so the old shares keep unsealing until the rotation is confirmed). shamir fills
 *      shares[0..*nshares) - derived from the key and the seed, so the same shares can be
 *      derived again from the pending record (cf_custody_settle) until confirmed.
 *   _abort forgets a begun rotation. One rotation at a time (CF_EBUSY), and none while a
 *      shamir rotation is unconfirmed (CF_EBUSY).
 * n/t: shamir's new split, as at init when 0. */
#define CF_CUSTODY_PENDING_META "custody.pending_master"
#define CF_CUSTODY_PENDING_AAD "coffer custody pending master v1"
cf_err cf_custody_rotate_begin(struct cf_custody *c, int n, int t,
                               unsigned char new_key[CF_CUSTODY_KEY_LEN],
                               struct cf_buf *pending) CF_NODISCARD;
cf_err cf_custody_rotate_commit(struct cf_custody *c, char (*shares)[CF_SHARE_TEXT_MAX],
                                int *nshares) CF_NODISCARD;
void cf_custody_rotate_abort(struct cf_custody *c);
/* shamir: a rotation was committed but not confirmed (the previous shares still unseal). */
bool cf_custody_unconfirmed(struct cf_custody *c);

/* Test-only crash points: when the environment variable COFFER_TEST_CRASH_AT equals point the
 * process ends at once with _exit(137) (no clean-up, like a kill -9). Inert unless set. Points:
 * rotate-pending (pending record committed), rotate-rewrap (store re-wrapped), rotate-custody
 * (custody committed), settle-custody (start-up finished a rotation in custody),
 * confirm-custody (confirm dropped the previous verifier). */
void cf_custody_crash_point(const char *point);

/* ---- the message interface (msg.c) ----
 * One JSON request object in, one JSON response object out: the protocol of the custody
 * socket and of a future custody process.
 *   {"op":"status"}                          -> {"state","provider","have","threshold"
 *                                                [,"rotation_unconfirmed":true]}
 *   {"op":"init","shares":5,"threshold":3}   -> {"state","shares":[...]} (printed once)
 *   {"op":"unseal","share":"..."}            -> {"state","have","threshold"} and, when the
 *                                               unseal finished or found an unconfirmed
 *                                               rotation, "shares":[...] (the NEW shares) and
 *                                               "rotation_unconfirmed":true
 *   {"op":"seal"}                            -> {"state":"sealed"}
 *   {"op":"rotate"[,"shares":n,"threshold":t]} -> {"state", "shares":[...] for shamir,
 *                                               "rotation_unconfirmed":true for shamir}
 *   {"op":"confirm"}                         -> {"state"} (shamir: the new shares are in the
 *                                               operators' hands: forget the old ones)
 * Failures: {"error":{"code":"CF_E...","message":"..."}} (never key material). The hooks
 * connect custody to the server's store. */
struct cf_custody_hooks {
    void *ctx;
    /* After a successful unseal (and its settle) / seal (the server starts or stops serving). */
    void (*unsealed)(void *ctx);
    void (*sealed)(void *ctx);
    /* Rotation: re-wrap everything under new_key (old_key still valid), one store commit. A
     * failure aborts. */
    cf_err (*rewrap)(void *ctx, const unsigned char old_key[CF_CUSTODY_KEY_LEN],
                     const unsigned char new_key[CF_CUSTODY_KEY_LEN]);
    /* The store's derivation root: *opens tells whether it opens under key; CF_ENOTFOUND when
     * the store has none yet. */
    cf_err (*root_opens)(void *ctx, const unsigned char key[CF_CUSTODY_KEY_LEN], bool *opens);
    /* The pending record (meta CF_CUSTODY_PENDING_META): get appends it to out (CF_ENOTFOUND
     * when none), put and del each commit durably. */
    cf_err (*pending_get)(void *ctx, struct cf_buf *out);
    cf_err (*pending_put)(void *ctx, const void *p, size_t n);
    cf_err (*pending_del)(void *ctx);
};
cf_err cf_custody_handle_msg(struct cf_custody *c, const struct cf_custody_hooks *hooks,
                             const char *req, size_t len, struct cf_buf *resp) CF_NODISCARD;

/* Start-up after custody holds a key (dev and pkcs11 at open, shamir after the unseal - msg.c
 * calls it): makes custody and the store agree after a rotation that a crash interrupted.
 *   - the store's root opens under custody's key: any pending record is stale (the rotation
 *     never reached the store, or finished) and is deleted; shamir: a previous verifier is
 *     dropped (unsealing with the new shares proves the operators hold them).
 *   - it does not: the pending record is opened with custody's key; its key must open the
 *     root; custody then finishes the rotation (dev: key file; pkcs11: wrapped by the token;
 *     shamir: new verifier + previous kept) and holds the new key; dev/pkcs11 delete the
 *     record; shamir keeps it until confirmed and fills the new shares (the same ones the
 *     rotation showed, if it got that far) into shares[0..*nshares).
 *   - shamir unsealed with the previous shares of an unconfirmed rotation: as above (the new
 *     shares are shown again).
 * CF_ECORRUPT when neither custody's key nor a pending record opens the store (nothing is
 * changed; the caller seals again); hooks without root_opens: CF_OK, nothing done. */
cf_err cf_custody_settle(struct cf_custody *c, const struct cf_custody_hooks *hooks,
                         char (*shares)[CF_SHARE_TEXT_MAX], int *nshares) CF_NODISCARD;
/* shamir: the operators hold the new shares: drop the previous verifier (state file), then
 * delete the pending record. CF_OK when nothing is unconfirmed; CF_ESEALED unless UNSEALED. */
cf_err cf_custody_confirm(struct cf_custody *c, const struct cf_custody_hooks *hooks) CF_NODISCARD;

/* ---- the custody socket (sock.c) ----
 * A unix stream socket (0600, in the 0700 data dir; peers must have this process's uid or be
 * root, checked with SO_PEERCRED) served by one thread: one request line, one response line,
 * per connection. The listener fd is close-on-exec. */
struct cf_custody_sock;
struct cf_custody_sock *cf_custody_sock_start(struct cf_custody *c, const char *path,
                                              const struct cf_custody_hooks *hooks, cf_err *err);
void cf_custody_sock_stop(struct cf_custody_sock *s);

/* ---- HSM-protected keys (hsm.c): RSA-HSM, EC-HSM and oct-HSM keys generated and used inside
 * the pkcs11 provider's token ----
 * Decision: the key token is custody's token (COFFER_CUSTODY=pkcs11, the same module, label
 * and PIN); other providers have no HSM (cf_hsm_open: CF_ENOTFOUND). Each key is a token
 * object pair (RSA, EC) or one secret key (AES) with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE
 * true and CKA_EXTRACTABLE false, found by a CKA_ID of CF_HSM_ID_LEN random bytes the caller
 * chooses (the only thing the store keeps, with the public JWK). What a key is (type, size,
 * curve) is read from the token, so the id alone names it.
 *
 * Algorithms (Azure names, azure-kv-keys.md §6): RS256/384/512 (CKM_RSA_PKCS, DigestInfo made
 * here), PS256/384/512 (CKM_RSA_PKCS_PSS, salt = hash length), RSNULL, ES256/ES256K/ES384/
 * ES512 (CKM_ECDSA, raw r||s); RSA1_5 (CKM_RSA_PKCS), RSA-OAEP (CKM_RSA_PKCS_OAEP, SHA-1),
 * RSA-OAEP-256 (CKM_RSA_X_509 with the OAEP encoding done here: SoftHSM2 2.6.1 does OAEP with
 * SHA-1 only); oct: A*KW and CKM_AES_KEY_WRAP (RFC 3394 done here over CKM_AES_ECB),
 * A*CBC (CKM_AES_CBC), A*CBCPAD (CKM_AES_CBC_PAD), A*GCM (CKM_AES_GCM when the token lists it,
 * else CF_EBADPARAM "not supported by this HSM"). Public-key operations (verify, encrypt, wrap)
 * use the public key object on the token. Errors follow cf_kvkey_* (crypto.h): CF_EBADPARAM
 * with why (Azure-like text, never key bytes), CF_ECRYPTO for a failed decrypt/unwrap (no
 * detail), CF_ENOTFOUND for an id with no object, CF_EIO for the module.
 *
 * Threads: any; operations run on a pool of sessions (at most CF_HSM_SESSIONS at once; more
 * callers wait). The object must be closed before its custody object. */
#define CF_HSM_ID_LEN 16
#define CF_HSM_SESSIONS 4
struct cf_hsm;
struct cf_kvkey_sym; /* crypto.h */
struct cf_kvkey;     /* crypto.h */
struct cf_jw;        /* base/json.h */
/* CF_ENOTFOUND when custody has no token (provider dev or shamir). */
struct cf_hsm *cf_hsm_open(struct cf_custody *c, cf_err *err);
void cf_hsm_close(struct cf_hsm *h);
/* kty "RSA" (bits 2048/3072/4096, exponent 0 = 65537), "EC" (crv P-256, P-384, P-521, P-256K)
 * or "oct" (bits 128/192/256). Writes the public JWK members into the open object w: "n","e"
 * or "crv","x","y" (base64url, Azure's form), nothing for oct. CF_EBADPARAM (why) for a size
 * or curve the token cannot make; CF_EEXISTS when id is taken. */
cf_err cf_hsm_generate(struct cf_hsm *h, const char *kty, int bits, uint32_t exponent,
                       const char *crv, const unsigned char id[CF_HSM_ID_LEN], struct cf_jw *w,
                       char *why, size_t whysz) CF_NODISCARD;
/* (hsmcerts2) A software RSA or EC private key put on the token under id (C_CreateObject of
 * the private and public objects, with the same attributes as generated ones: never
 * extractable); the public JWK members go into w as for generate. CF_EBADPARAM (why) for oct or
 * a curve the token refuses; CF_EEXISTS when id is taken. Nothing stays on failure. */
cf_err cf_hsm_import(struct cf_hsm *h, const struct cf_kvkey *k,
                     const unsigned char id[CF_HSM_ID_LEN], struct cf_jw *w, char *why,
                     size_t whysz) CF_NODISCARD;
cf_err cf_hsm_sign(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], const char *alg,
                   const void *digest, size_t dlen, struct cf_buf *sig, char *why,
                   size_t whysz) CF_NODISCARD;
/* A signature that does not verify is CF_OK with *valid false. */
cf_err cf_hsm_verify(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], const char *alg,
                     const void *digest, size_t dlen, const void *sig, size_t slen, bool *valid,
                     char *why, size_t whysz) CF_NODISCARD;
/* wrap: wrapKey's algorithms (RSA*, A*KW, CKM_AES_KEY_WRAP) else encrypt's (RSA*, A*GCM,
 * A*CBC, A*CBCPAD; sym as cf_kvkey_encrypt_ex, may be NULL for RSA). */
cf_err cf_hsm_encrypt(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], const char *alg,
                      bool wrap, const void *pt, size_t n, struct cf_kvkey_sym *sym,
                      struct cf_buf *out, char *why, size_t whysz) CF_NODISCARD;
cf_err cf_hsm_decrypt(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], const char *alg,
                      bool unwrap, const void *ct, size_t n, const struct cf_kvkey_sym *sym,
                      struct cf_secret **pt, char *why, size_t whysz) CF_NODISCARD;
/* Destroys every object with that id (purge). CF_OK when there was none. */
cf_err cf_hsm_destroy(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN]) CF_NODISCARD;
/* Tests: whether the private (or secret) object says it can never leave the token. */
cf_err cf_hsm_is_protected(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN],
                           bool *yes) CF_NODISCARD;

#endif
