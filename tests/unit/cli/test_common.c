/* test_common.c - the data-plane addressing cmd_common.c gives the key, certificate and secret
 * commands: cf_cli_parse_id for each kind (the live and the deleted collection, versions, percent-encoded
 * names, a certificate's ".../pending" meaning the latest) and the ids it refuses (another
 * collection, no name, a nested version, no https, an over-long host or version). */
#include "base/cf.h"
#include "cli/cli_int.h"

#include <setjmp.h>
#include <cmocka.h>

static const struct cf_cli_kind KEYS = {.coll = "keys", .noun = "key", .api = "api-version=7.5"};
static const struct cf_cli_kind CERTS = {.coll = "certificates",
                                         .noun = "certificate",
                                         .api = "api-version=7.5",
                                         .latest_alias = "pending"};

static const struct cf_cli_kind SECRETS = {
    .coll = "secrets", .noun = "secret", .api = "api-version=7.5"};

static void parses_ids(void **state)
{
    struct cf_cli_addr a;
    (void)state;
    assert_true(cf_cli_parse_id(&KEYS, "https://v.vault.localhost:8443/keys/k1/abc", &a));
    assert_string_equal(a.base, "https://v.vault.localhost:8443");
    assert_string_equal(a.name, "k1");
    assert_string_equal(a.version, "abc");
    assert_true(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/deletedkeys/k1", &a));
    assert_string_equal(a.base, "https://v.vault.localhost");
    assert_string_equal(a.name, "k1");
    assert_string_equal(a.version, "");
    /* a trailing slash is the latest; the name is percent-encoded for the URL */
    assert_true(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/keys/a b/", &a));
    assert_string_equal(a.name, "a%20b");
    assert_string_equal(a.version, "");
    assert_true(cf_cli_parse_id(&CERTS, "https://v.vault.localhost/certificates/c/v1", &a));
    assert_string_equal(a.name, "c");
    assert_string_equal(a.version, "v1");
    assert_true(cf_cli_parse_id(&CERTS, "https://v.vault.localhost/deletedcertificates/c", &a));
    assert_string_equal(a.name, "c");
    /* the operation's id names the certificate, not a version called "pending" */
    assert_true(cf_cli_parse_id(&CERTS, "https://v.vault.localhost/certificates/c/pending", &a));
    assert_string_equal(a.version, "");
    /* ... which is a certificate rule only */
    assert_true(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/keys/k/pending", &a));
    assert_string_equal(a.version, "pending");
    /* secrets: the live and the deleted collection, as cmd_secret.c parsed them on its own */
    assert_true(cf_cli_parse_id(&SECRETS, "https://v.vault.localhost/secrets/s1/v2", &a));
    assert_string_equal(a.name, "s1");
    assert_string_equal(a.version, "v2");
    assert_true(cf_cli_parse_id(&SECRETS, "https://v.vault.localhost/deletedsecrets/s1", &a));
    assert_string_equal(a.name, "s1");
    assert_string_equal(a.version, "");
}

static void refuses_ids(void **state)
{
    struct cf_cli_addr a;
    char big[1024];
    (void)state;
    assert_false(cf_cli_parse_id(&KEYS, "http://v.vault.localhost/keys/k", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https:///keys/k", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https://v.vault.localhost", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/secrets/k", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/keysx/k", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/keys", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/keys/", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/deleted/k", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/certificates/c", &a));
    assert_false(cf_cli_parse_id(&CERTS, "https://v.vault.localhost/keys/k", &a));
    assert_false(cf_cli_parse_id(&SECRETS, "https://v.vault.localhost/keys/k", &a));
    assert_false(cf_cli_parse_id(&SECRETS, "https://v.vault.localhost/deleteddeletedsecrets/s", &a));
    assert_false(cf_cli_parse_id(&SECRETS, "https://v.vault.localhost/secrets/s/v/x", &a));
    assert_false(cf_cli_parse_id(&KEYS, "https://v.vault.localhost/keys/k/v1/extra", &a));
    assert_false(cf_cli_parse_id(&CERTS, "https://v.vault.localhost/certificates/c/pending/x", &a));
    snprintf(big, sizeof(big), "https://v.vault.localhost/keys/k/%0100d", 1);
    assert_false(cf_cli_parse_id(&KEYS, big, &a)); /* a version longer than any */
    snprintf(big, sizeof(big), "https://%0700d/keys/k", 1);
    assert_false(cf_cli_parse_id(&KEYS, big, &a)); /* a host longer than the base holds */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_ids),
        cmocka_unit_test(refuses_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
