/* p11.c - the PKCS#11 token behind the pkcs11 custody provider: dlopen the module, find the
 * token by label, log in with the user PIN, and encrypt/decrypt with an AES key that never
 * leaves the token (CKA_SENSITIVE, not CKA_EXTRACTABLE).
 *
 * Why CKM_AES_CBC_PAD: it is what every token (SoftHSM2 2.6.1 included) offers through
 * C_Encrypt on raw bytes; the integrity of the unwrapped master key is checked by custody's
 * verifier (HMAC), not by the mode. */
#include "base/cf.h"
#include "custody/custody_int.h"
#include "base/log.h"
#include "crypto/crypto.h"

#include <dlfcn.h>
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <pthread.h>

struct cf_p11 {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE session;
    CK_SLOT_ID slot;
    bool initialized, open;
    pthread_mutex_t mu;
};

void cf_p11_close(struct cf_p11 *p)
{
    if (!p)
        return;
    if (p->open) {
        p->f->C_Logout(p->session);
        p->f->C_CloseSession(p->session);
    }
    if (p->initialized)
        p->f->C_Finalize(NULL);
    if (p->dl)
        dlclose(p->dl);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Token labels are 32 bytes padded with spaces. */
static bool label_eq(const unsigned char lab[32], const char *want)
{
    size_t n = strlen(want), end = 32;
    while (end > 0 && lab[end - 1] == ' ')
        end--;
    return n == end && memcmp(lab, want, n) == 0;
}

struct cf_p11 *cf_p11_open(const char *module, const char *token_label, const char *pin,
                           cf_err *err)
{
    CK_C_GetFunctionList getf;
    CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
    CK_SLOT_ID slots[64];
    CK_ULONG nslots = CF_ARRAY_LEN(slots);
    struct cf_p11 *p;
    CK_RV rv;
    cf_err e = CF_EIO;
    bool found = false;

    if (!module || !module[0] || !token_label || !token_label[0] || !pin) {
        *err = CF_EINVAL;
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        *err = CF_ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        cf_error("custody: cannot load PKCS#11 module %s: %s", module, dlerror());
        goto fail;
    }
    getf = (CK_C_GetFunctionList)(uintptr_t)dlsym(p->dl, "C_GetFunctionList");
    if (!getf || getf(&p->f) != CKR_OK || !p->f) {
        cf_error("custody: %s is not a PKCS#11 module", module);
        goto fail;
    }
    rv = p->f->C_Initialize(&init);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        cf_error("custody: C_Initialize failed (0x%lx)", (unsigned long)rv);
        goto fail;
    }
    p->initialized = rv == CKR_OK;
    if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &nslots)) != CKR_OK) {
        cf_error("custody: C_GetSlotList failed (0x%lx)", (unsigned long)rv);
        goto fail;
    }
    for (CK_ULONG i = 0; i < nslots && !found; i++) {
        CK_TOKEN_INFO ti;
        if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !label_eq(ti.label, token_label))
            continue;
        found = true;
        p->slot = slots[i];
        rv = p->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                 &p->session);
        if (rv != CKR_OK) {
            cf_error("custody: C_OpenSession failed (0x%lx)", (unsigned long)rv);
            goto fail;
        }
        p->open = true;
        rv = p->f->C_Login(p->session, CKU_USER, (CK_UTF8CHAR_PTR)(uintptr_t)pin,
                           (CK_ULONG)strlen(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            cf_error("custody: the token %s refused the PIN (0x%lx)", token_label,
                     (unsigned long)rv);
            e = CF_EUNAUTH;
            goto fail;
        }
    }
    if (!found) {
        cf_error("custody: no PKCS#11 token labelled %s in %s", token_label, module);
        e = CF_ENOTFOUND;
        goto fail;
    }
    *err = CF_OK;
    return p;
fail:
    cf_p11_close(p);
    *err = e;
    return NULL;
}

/* Caller holds p->mu. */
static cf_err find_key(struct cf_p11 *p, const char *label, bool create, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len = 32, n = 0;
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)}};
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
                        {CKA_VALUE_LEN, &len, sizeof(len)},
                        {CKA_TOKEN, &yes, sizeof(yes)},
                        {CKA_PRIVATE, &yes, sizeof(yes)},
                        {CKA_SENSITIVE, &yes, sizeof(yes)},
                        {CKA_EXTRACTABLE, &no, sizeof(no)},
                        {CKA_ENCRYPT, &yes, sizeof(yes)},
                        {CKA_DECRYPT, &yes, sizeof(yes)}};
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_RV rv;

    if (p->f->C_FindObjectsInit(p->session, q, CF_ARRAY_LEN(q)) != CKR_OK)
        return CF_EIO;
    rv = p->f->C_FindObjects(p->session, h, 1, &n);
    p->f->C_FindObjectsFinal(p->session);
    if (rv != CKR_OK)
        return CF_EIO;
    if (n == 1)
        return CF_OK;
    if (!create)
        return CF_ENOTFOUND;
    rv = p->f->C_GenerateKey(p->session, &gen, t, CF_ARRAY_LEN(t), h);
    if (rv != CKR_OK) {
        cf_error("custody: C_GenerateKey (AES-256) failed (0x%lx)", (unsigned long)rv);
        return CF_EIO;
    }
    cf_info("custody: created the master wrapping key %s on the token", label);
    return CF_OK;
}

cf_err cf_p11_encrypt(struct cf_p11 *p, const char *label, bool create, const void *pt,
                      size_t n, struct cf_buf *out)
{
    unsigned char iv[16];
    CK_MECHANISM m = {CKM_AES_CBC_PAD, iv, sizeof(iv)};
    CK_OBJECT_HANDLE h;
    CK_ULONG clen;
    size_t start = out->len;
    cf_err e;

    if (!p || !label || !pt || n > 4096)
        return CF_EINVAL;
    pthread_mutex_lock(&p->mu);
    if ((e = find_key(p, label, create, &h)) || (e = cf_random(iv, sizeof(iv))))
        goto unlock;
    clen = (CK_ULONG)(n + 16);
    if ((e = cf_buf_append(out, iv, sizeof(iv))) || (e = cf_buf_reserve(out, clen)))
        goto unlock;
    if (p->f->C_EncryptInit(p->session, &m, h) != CKR_OK ||
        p->f->C_Encrypt(p->session, (CK_BYTE_PTR)(uintptr_t)pt, (CK_ULONG)n,
                        (CK_BYTE_PTR)out->data + out->len, &clen) != CKR_OK) {
        e = CF_ECRYPTO;
        out->len = start;
        goto unlock;
    }
    out->len += clen;
    out->data[out->len] = '\0';
unlock:
    pthread_mutex_unlock(&p->mu);
    return e;
}

cf_err cf_p11_decrypt(struct cf_p11 *p, const char *label, const void *ct, size_t n,
                      struct cf_secret **pt)
{
    CK_MECHANISM m = {CKM_AES_CBC_PAD, (void *)(uintptr_t)ct, 16};
    CK_OBJECT_HANDLE h;
    CK_ULONG plen;
    struct cf_secret *s = NULL;
    cf_err e;

    *pt = NULL;
    if (!p || !label || !ct || n < 32 || n % 16 || n > 8192)
        return CF_EINVAL;
    pthread_mutex_lock(&p->mu);
    if ((e = find_key(p, label, false, &h)))
        goto unlock;
    plen = (CK_ULONG)(n - 16);
    if (!(s = cf_secret_new(plen))) {
        e = CF_ENOMEM;
        goto unlock;
    }
    if (p->f->C_DecryptInit(p->session, &m, h) != CKR_OK ||
        p->f->C_Decrypt(p->session, (CK_BYTE_PTR)(uintptr_t)ct + 16, (CK_ULONG)(n - 16), s->p,
                        &plen) != CKR_OK) {
        e = CF_ECRYPTO;
        goto unlock;
    }
    s->len = plen;
    *pt = s;
    s = NULL;
unlock:
    pthread_mutex_unlock(&p->mu);
    cf_secret_free(s);
    return e;
}

cf_err cf_p11_key_is_protected(struct cf_p11 *p, const char *label, bool *yes)
{
    CK_BBOOL sens = CK_FALSE, extr = CK_TRUE;
    CK_ATTRIBUTE a[] = {{CKA_SENSITIVE, &sens, sizeof(sens)},
                        {CKA_EXTRACTABLE, &extr, sizeof(extr)}};
    CK_OBJECT_HANDLE h;
    cf_err e;

    pthread_mutex_lock(&p->mu);
    e = find_key(p, label, false, &h);
    if (!e && p->f->C_GetAttributeValue(p->session, h, a, CF_ARRAY_LEN(a)) != CKR_OK)
        e = CF_EIO;
    pthread_mutex_unlock(&p->mu);
    *yes = !e && sens == CK_TRUE && extr == CK_FALSE;
    return e;
}

CK_FUNCTION_LIST_PTR cf_p11_funcs(const struct cf_p11 *p)
{
    return p->f;
}

CK_SLOT_ID cf_p11_slot(const struct cf_p11 *p)
{
    return p->slot;
}
