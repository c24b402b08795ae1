/* names.c - name rules (azure-kv-common.md §9, azure-kv-secrets.md §15.5) and the recovery
 * level of a vault's settings (azure-kv-common.md §10). Pure functions. */
#include "base/cf.h"

#include "vault/vault.h"

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool cf_name_valid_object(struct cf_str name)
{
    if (!name.p || name.len < 1 || name.len > CF_MAX_NAME_LEN)
        return false;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return false;
    }
    return true;
}

bool cf_name_valid_vault(struct cf_str name)
{
    if (!name.p || name.len < 3 || name.len > 24)
        return false;
    if (!is_alpha(name.p[0]))
        return false;
    if (!is_alpha(name.p[name.len - 1]) && !is_digit(name.p[name.len - 1]))
        return false;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return false;
        if (c == '-' && i > 0 && name.p[i - 1] == '-')
            return false;
    }
    return true;
}

bool cf_name_valid_group(struct cf_str name)
{
    if (!name.p || name.len < 1 || name.len > 90)
        return false;
    if (name.p[name.len - 1] == '.')
        return false;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-' && c != '.' && c != '(' &&
            c != ')')
            return false;
    }
    return true;
}

/* Soft delete is always on for Coffer vaults, so "Purgeable" alone never occurs; a protected
 * subscription does not exist here. */
const char *cf_recovery_level(const struct cf_vault_ref *v)
{
    bool custom = v->retention_days != 90;
    if (v->purge_protection)
        return custom ? "CustomizedRecoverable" : "Recoverable";
    return custom ? "CustomizedRecoverable+Purgeable" : "Recoverable+Purgeable";
}
