/* guard.c - a vault's own access rules, compiled once when the vault enters the cache: its
 * access policies (azure-kv-security-ops.md §3, used when enableRbacAuthorization is false) and
 * its network rules (§4: publicNetworkAccess, networkAcls.defaultAction and ipRules).
 *
 * Compiled form: policies become (objectId, applicationId, one permission bitmask per kind);
 * ip rules become (family, address bytes, prefix length). A check walks these arrays under the
 * cache's read lock and allocates nothing. The store keeps the JSON as the management plane
 * wrote it (normalised by api/h_arm.c); a value this file cannot read grants nothing.
 *
 * Permission names compare case-insensitively ("Get", "GetRotationPolicy"); "all" is every
 * permission of its kind. */
#include "base/cf.h"

#include <arpa/inet.h>

#include "base/json.h"
#include "vault/vault_int.h"

enum { KIND_KEYS, KIND_SECRETS, KIND_CERTIFICATES, KIND_STORAGE, KIND_N };

static const char *const kind_names[KIND_N] = {"keys", "secrets", "certificates", "storage"};

/* Bit i of a kind's mask is perm_names[kind][i]. ARM's enum (§3.2), without "all". */
static const char *const perm_names[KIND_N][24] = {
    [KIND_KEYS] = {"encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list",
                   "create", "update", "import", "delete", "backup", "restore", "recover", "purge",
                   "release", "rotate", "getrotationpolicy", "setrotationpolicy", NULL},
    [KIND_SECRETS] = {"get", "list", "set", "delete", "backup", "restore", "recover", "purge",
                      NULL},
    [KIND_CERTIFICATES] = {"get", "list", "delete", "create", "import", "update", "managecontacts",
                           "getissuers", "listissuers", "setissuers", "deleteissuers",
                           "manageissuers", "recover", "purge", "backup", "restore", NULL},
    [KIND_STORAGE] = {"get", "list", "delete", "set", "update", "regeneratekey", "recover", "purge",
                      "backup", "restore", "setsas", "listsas", "getsas", "deletesas", NULL},
};

struct guard_policy {
    char oid[37];   /* lower case */
    char appid[37]; /* lower case; "" = any application (not a compound identity) */
    uint32_t perms[KIND_N];
};

struct guard_ip {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
};

struct cf_vault_guard {
    struct guard_policy *pol;
    size_t npol;
    bool public_disabled; /* publicNetworkAccess "Disabled" */
    bool deny_default;    /* networkAcls.defaultAction "Deny" */
    struct guard_ip *ips;
    size_t nips;
};

static int kind_of(struct cf_str k)
{
    for (int i = 0; i < KIND_N; i++)
        if (cf_str_eq_ci(k, cf_str_from(kind_names[i])))
            return i;
    return -1;
}

/* The bit of permission name p in kind, 0 when unknown; "all" is every bit. */
static uint32_t perm_bit(int kind, struct cf_str p)
{
    if (cf_str_eq_ci(p, CF_STR("all")))
        return UINT32_MAX;
    for (int i = 0; perm_names[kind][i]; i++)
        if (cf_str_eq_ci(p, cf_str_from(perm_names[kind][i])))
            return 1u << i;
    return 0;
}

static void lower_copy(char *out, size_t outsz, const char *in, size_t n)
{
    if (n >= outsz)
        n = outsz - 1;
    cf_str_lower((struct cf_str){in, n}, out);
}

/* ---------------- ip rules ---------------- */

bool cf_vault_ip_rule_parse(struct cf_str s, int *family, unsigned char addr[16], int *prefix)
{
    char text[64];
    struct cf_str a = s, p = CF_STR_NULL, h, t;
    int64_t pl;
    int max;

    if (cf_str_split(s, '/', &h, &t)) {
        if (t.len == 0 || t.len > 3)
            return false;
        a = h;
        p = t;
    }
    if (a.len == 0 || a.len >= sizeof(text))
        return false;
    memcpy(text, a.p, a.len);
    text[a.len] = '\0';
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = AF_INET6;
        max = 128;
    } else {
        return false;
    }
    *prefix = max;
    if (p.p) {
        for (size_t i = 0; i < p.len; i++)
            if (p.p[i] < '0' || p.p[i] > '9')
                return false;
        if (!cf_str_to_i64(p, &pl) || pl < 0 || pl > max)
            return false;
        *prefix = (int)pl;
    }
    return true;
}

/* The first `prefix` bits of a and b are equal. */
static bool prefix_eq(const unsigned char *a, const unsigned char *b, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a[full] ^ b[full]) & (unsigned char)(0xff00 >> rest)) == 0;
}

/* ---------------- compile ---------------- */

static cf_err compile_policies(struct cf_vault_guard *g, const char *json)
{
    struct cf_json *root = NULL;
    size_t n;
    cf_err e = CF_OK;

    if (!json || !json[0])
        return CF_OK;
    if (cf_json_parse(json, strlen(json), &root, NULL, 0) != CF_OK)
        return CF_OK; /* unreadable: grants nothing */
    if (cf_json_type(root) != CF_JSON_ARRAY || (n = cf_json_size(root)) == 0)
        goto out;
    g->pol = calloc(n, sizeof(*g->pol));
    if (!g->pol) {
        e = CF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cf_json *ent = cf_json_at(root, i), *perms = cf_json_get(ent, "permissions");
        struct guard_policy *p = &g->pol[g->npol];
        size_t len = 0;
        const char *oid = cf_json_str(cf_json_get(ent, "objectId"), &len);
        const char *app;
        void *it = NULL;
        const char *key;
        const struct cf_json *list;

        if (!oid || len == 0 || len > 36)
            continue;
        lower_copy(p->oid, sizeof(p->oid), oid, len);
        app = cf_json_str(cf_json_get(ent, "applicationId"), &len);
        if (app && len > 0 && len <= 36)
            lower_copy(p->appid, sizeof(p->appid), app, len);
        while (cf_json_next(perms, &it, &key, &list)) {
            int k = kind_of(cf_str_from(key));
            if (k < 0 || cf_json_type(list) != CF_JSON_ARRAY)
                continue;
            for (size_t j = 0; j < cf_json_size(list); j++) {
                size_t pl = 0;
                const char *pn = cf_json_str(cf_json_at(list, j), &pl);
                if (pn)
                    p->perms[k] |= perm_bit(k, (struct cf_str){pn, pl});
            }
        }
        g->npol++;
    }
out:
    cf_json_free(root);
    return e;
}

static cf_err compile_acls(struct cf_vault_guard *g, const char *json)
{
    struct cf_json *root = NULL;
    const struct cf_json *rules;
    size_t n, len;
    const char *da;
    cf_err e = CF_OK;

    if (!json || !json[0])
        return CF_OK;
    if (cf_json_parse(json, strlen(json), &root, NULL, 0) != CF_OK) {
        g->deny_default = true; /* unreadable rules: refuse rather than open the vault */
        return CF_OK;
    }
    da = cf_json_str(cf_json_get(root, "defaultAction"), &len);
    g->deny_default = da && cf_str_eq_ci((struct cf_str){da, len}, CF_STR("Deny"));
    rules = cf_json_get(root, "ipRules");
    if (cf_json_type(rules) != CF_JSON_ARRAY || (n = cf_json_size(rules)) == 0)
        goto out;
    g->ips = calloc(n, sizeof(*g->ips));
    if (!g->ips) {
        e = CF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = cf_json_str(cf_json_get(cf_json_at(rules, i), "value"), &len);
        struct guard_ip *ip = &g->ips[g->nips];
        if (v && cf_vault_ip_rule_parse((struct cf_str){v, len}, &ip->family, ip->addr,
                                        &ip->prefix))
            g->nips++;
    }
out:
    cf_json_free(root);
    return e;
}

cf_err cf_vault_guard_compile(const struct cf_rec_vault *rec, struct cf_vault_guard **out)
{
    struct cf_vault_guard *g = calloc(1, sizeof(*g));
    cf_err e;

    *out = NULL;
    if (!g)
        return CF_ENOMEM;
    g->public_disabled = strcasecmp(rec->public_network_access, "Disabled") == 0;
    e = compile_policies(g, rec->access_policies_json);
    if (!e)
        e = compile_acls(g, rec->network_acls_json);
    if (e) {
        cf_vault_guard_free(g);
        return e;
    }
    *out = g;
    return CF_OK;
}

void cf_vault_guard_free(struct cf_vault_guard *g)
{
    if (!g)
        return;
    free(g->pol);
    free(g->ips);
    free(g);
}

bool cf_vault_guard_net_restricted(const struct cf_vault_guard *g)
{
    return g && (g->public_disabled || g->deny_default);
}

/* ---------------- checks ---------------- */

enum cf_vault_net cf_vault_guard_net(const struct cf_vault_guard *g, const char *ip)
{
    unsigned char addr[16] = {0}, mapped[16];
    int family;

    if (!g)
        return CF_VAULT_NET_ALLOWED;
    if (g->public_disabled)
        return CF_VAULT_NET_CONNECTION;
    if (!g->deny_default)
        return CF_VAULT_NET_ALLOWED;
    if (!ip)
        return CF_VAULT_NET_FIREWALL;
    if (inet_pton(AF_INET, ip, addr) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, addr) == 1) {
        family = AF_INET6;
        /* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket */
        static const unsigned char v4map[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(addr, v4map, 12) == 0) {
            memcpy(mapped, addr + 12, 4);
            memset(addr, 0, sizeof(addr));
            memcpy(addr, mapped, 4);
            family = AF_INET;
        }
    } else {
        return CF_VAULT_NET_FIREWALL;
    }
    for (size_t i = 0; i < g->nips; i++)
        if (g->ips[i].family == family && prefix_eq(g->ips[i].addr, addr, g->ips[i].prefix))
            return CF_VAULT_NET_ALLOWED;
    return CF_VAULT_NET_FIREWALL;
}

static bool policy_matches(const struct guard_policy *p, const struct cf_vault_caller *c)
{
    if (p->appid[0] && (!c->appid || strcasecmp(p->appid, c->appid) != 0))
        return false;
    if (c->oid && strcasecmp(p->oid, c->oid) == 0)
        return true;
    for (size_t i = 0; i < c->ngroups; i++)
        if (strcasecmp(p->oid, c->groups[i]) == 0)
            return true;
    return false;
}

bool cf_vault_guard_policy(const struct cf_vault_guard *g, const struct cf_vault_caller *c,
                           const char *permission)
{
    struct cf_str k, p;
    uint32_t bit;
    int kind;

    if (!g || !permission || !cf_str_split(cf_str_from(permission), '/', &k, &p))
        return false;
    kind = kind_of(k);
    if (kind < 0 || (bit = perm_bit(kind, p)) == 0 || bit == UINT32_MAX)
        return false;
    for (size_t i = 0; i < g->npol; i++)
        if ((g->pol[i].perms[kind] & bit) && policy_matches(&g->pol[i], c))
            return true;
    return false;
}
