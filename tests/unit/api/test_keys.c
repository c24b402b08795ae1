/* test_keys.c - the keys data plane through cf_api_handle with the real route table, handlers,
 * vault, auth, RBAC and a SQLite store in a temp dir; only the HTTP layer is replaced (the
 * harness is fake_http.h).
 *
 * Covers every keys route (latest, "//" and versioned forms of the crypto operations), the
 * bundle/item shapes and ids, the state rules of §7 with Azure's codes (KeyDisabled,
 * KeyOperationForbidden, expired / not yet valid), the soft-delete lifecycle with the delete
 * poller's view, backup/restore into another vault, rotation and rotation policies, paging,
 * and bad input: malformed JSON, wrong kty, HSM types, bad alg, bad base64url, oversized
 * values, bad key_ops/tags/policies/release policies, rng bounds. */
#include "base/cf.h"
#include "api/api.h"
#include "auth/auth.h"
#include "auth/rbac.h"
#include "base/codec.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "store/store.h"
#include "vault/vault.h"

#include <pthread.h>
#include <setjmp.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_http.h"

#define BASE1 "https://vone." SUFFIX PORT
#define AV "api-version=7.6"

/* A P-256 private JWK (generated for these tests). */
#define EC_JWK                                                                                     \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"ujgoG_433ui3YNwcLceLm02-c-E7xCBhfaYMBnyyLEY\","     \
    "\"y\":\"uvWq2tohl_VhxnOl7NmV5I54cdqdbxrBgiFKRe_IEKo\","                                       \
    "\"d\":\"jKEg2LoT-osxgDf1a-8lefZK814nGnsMSQIE1wzuOAw\",\"key_ops\":[\"sign\",\"verify\"]}"
/* base64url of 32 bytes 0x01..0x20 (a SHA-256-sized digest) */
#define DIGEST "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"

static int setup(void **state)
{
    return fx_setup(
        state,
        &(struct fx_opts){.tag = "apikeys", .vaults = {"vone", "vtwo"}, .host = V1, .query = AV});
}

/* Copies a string member into out and frees r after checking 200. */
static void take_str(struct fake_req *r, const char *path, char *out, size_t n)
{
    if (r->status != 200)
        fail_msg("expected 200, got %d: %s", r->status, r->body);
    snprintf(out, n, "%s", jstr(r, path));
    done(r);
}

/* ---------------- tests ---------------- */

static void create_get_update_list(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char kid1[256], kid2[256], path[512];

    r = call(f, CF_HTTP_POST, "/keys/Ec1/create",
             "{\"kty\":\"EC\",\"crv\":\"P-384\",\"tags\":{\"a\":\"b\"},"
             "\"attributes\":{\"exp\":4102444800}}");
    assert_int_equal(r->status, 200);
    assert_true(strncmp(jstr(r, "key.kid"), BASE1 "/keys/Ec1/", strlen(BASE1 "/keys/Ec1/")) == 0);
    assert_string_equal(jstr(r, "key.kty"), "EC");
    assert_string_equal(jstr(r, "key.crv"), "P-384");
    assert_int_equal(strlen(jstr(r, "key.x")), 64); /* 48 bytes, fixed length */
    assert_int_equal(cf_json_size(jget(r, "key.key_ops")), 2);
    assert_null(jget(r, "key.d"));
    assert_string_equal(jstr(r, "attributes.recoveryLevel"), "Recoverable+Purgeable");
    assert_string_equal(jstr(r, "tags.a"), "b");
    assert_non_null(strstr(r->body, "\"exp\":4102444800"));
    assert_non_null(strstr(r->body, "\"exportable\":false"));
    take_str(r, "key.kid", kid1, sizeof(kid1));

    /* a second create: a new latest version */
    r = call(f, CF_HTTP_POST, "/keys/ec1/create", "{\"kty\":\"EC\"}");
    take_str(r, "key.kid", kid2, sizeof(kid2));
    assert_string_not_equal(kid1, kid2);
    assert_non_null(strstr(kid2, "/keys/Ec1/")); /* the name keeps its first casing */
    /* latest: "/keys/n", "/keys/n/"; versioned */
    r = call(f, CF_HTTP_GET, "/keys/EC1/", NULL);
    assert_string_equal(jstr(r, "key.kid"), kid2);
    assert_string_equal(jstr(r, "key.crv"), "P-256");
    done(r);
    snprintf(path, sizeof(path), "/keys/ec1/%s", ver_of(kid1));
    r = call(f, CF_HTTP_GET, path, NULL);
    assert_string_equal(jstr(r, "key.kid"), kid1);
    done(r);
    expect(call(f, CF_HTTP_GET, "/keys/ec1/00000000000000000000000000000000", NULL), 404,
           "KeyNotFound", NULL);
    expect(call(f, CF_HTTP_GET, "/keys/ec1/notaversion", NULL), 404, "KeyNotFound", NULL);
    expect(call(f, CF_HTTP_GET, "/keys/nope", NULL), 404, "KeyNotFound", NULL);
    expect(call(f, CF_HTTP_GET, "/keys/bad_name", NULL), 400, "BadParameter", NULL);

    /* update a version, then the latest */
    snprintf(path, sizeof(path), "/keys/ec1/%s", ver_of(kid1));
    r = call(
        f, CF_HTTP_PATCH, path,
        "{\"key_ops\":[\"verify\"],\"tags\":{\"x\":\"1\"},\"attributes\":{\"enabled\":false}}");
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "key.kid"), kid1);
    assert_int_equal(cf_json_size(jget(r, "key.key_ops")), 1);
    assert_non_null(strstr(r->body, "\"enabled\":false"));
    assert_string_equal(jstr(r, "tags.x"), "1");
    done(r);
    r = call(f, CF_HTTP_PATCH, "/keys/ec1", "{\"attributes\":{\"nbf\":1000}}");
    assert_string_equal(jstr(r, "key.kid"), kid2);
    assert_non_null(strstr(r->body, "\"nbf\":1000"));
    done(r);
    expect(call(f, CF_HTTP_PATCH, "/keys/ec1", "{\"key_ops\":[\"fly\"]}"), 400, "BadParameter",
           NULL);
    expect(call(f, CF_HTTP_PATCH, "/keys/ec1", "{\"tags\":{\"a\":1}}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_PATCH, "/keys/ec1", "{\"attributes\":{\"enabled\":\"yes\"}}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_PATCH, "/keys/ec1", "{\"attributes\":{\"exportable\":true}}"), 400,
           "BadParameter", NULL); /* no release policy */
    expect(call(f, CF_HTTP_PATCH, "/keys/ec1", "{\"release_policy\":{\"data\":\"@@\"}}"), 400,
           "BadParameter", NULL);
    r = call(f, CF_HTTP_PATCH, "/keys/ec1",
             "{\"release_policy\":{\"data\":\"eyJhIjoxfQ\"},\"attributes\":{\"exportable\":true}}");
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "release_policy.data"), "eyJhIjoxfQ");
    assert_string_equal(jstr(r, "release_policy.contentType"), "application/json; charset=utf-8");
    assert_non_null(strstr(r->body, "\"exportable\":true"));
    done(r);

    /* lists: items have base kids and no JWK; pages of one follow nextLink */
    r = call(f, CF_HTTP_POST, "/keys/zz/create", "{\"kty\":\"oct\",\"key_size\":128}");
    assert_string_equal(jstr(r, "key.kty"), "oct");
    assert_null(jget(r, "key.k"));
    done(r);
    r = call_on(f, V1, CF_HTTP_GET, "/keys", AV "&maxresults=1", NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(cf_json_size(jget(r, "value")), 1);
    assert_string_equal(jstr(r, "value"), ""); /* an array */
    assert_string_equal(cf_json_str(cf_json_get(cf_json_at(jget(r, "value"), 0), "kid"), NULL),
                        BASE1 "/keys/Ec1");
    assert_null(cf_json_get(cf_json_at(jget(r, "value"), 0), "key"));
    {
        const char *next = jstr(r, "nextLink"), *q = strchr(next, '?');
        char query[512];
        assert_non_null(q);
        snprintf(query, sizeof(query), "%s", q + 1);
        done(r);
        r = call_on(f, V1, CF_HTTP_GET, "/keys", query, NULL);
        assert_int_equal(r->status, 200);
        assert_string_equal(cf_json_str(cf_json_get(cf_json_at(jget(r, "value"), 0), "kid"), NULL),
                            BASE1 "/keys/zz");
        assert_int_equal(cf_json_type(jget(r, "nextLink")), CF_JSON_NULL);
        done(r);
    }
    r = call(f, CF_HTTP_GET, "/keys/ec1/versions", NULL);
    assert_int_equal(cf_json_size(jget(r, "value")), 2);
    assert_string_equal(cf_json_str(cf_json_get(cf_json_at(jget(r, "value"), 0), "kid"), NULL),
                        kid1);
    done(r);
    expect(call_on(f, V1, CF_HTTP_GET, "/keys", AV "&maxresults=26", NULL), 400, "BadParameter",
           NULL);
    expect(call_on(f, V1, CF_HTTP_GET, "/keys", AV "&$skiptoken=%21%21", NULL), 400, "BadParameter",
           NULL);
}

static void create_and_import_refusals(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;

    expect(call(f, CF_HTTP_POST, "/keys/k/create", "{bad json"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/k/create", "[]"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/k/create", "{}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/k/create", "{\"kty\":\"DSA\"}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/k/create", "{\"kty\":7}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/k/create", "{\"kty\":\"RSA\",\"key_size\":1024}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/k/create", "{\"kty\":\"RSA\",\"key_size\":\"big\"}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/k/create", "{\"kty\":\"EC\",\"crv\":\"P-123\"}"), 400,
           "BadParameter", NULL);
    /* HSM types: a clear refusal, never a software key */
    r = call(f, CF_HTTP_POST, "/keys/k/create", "{\"kty\":\"EC-HSM\"}");
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(jstr(r, "error.message"), "hardware security module"));
    done(r);
    expect(call(f, CF_HTTP_POST, "/keys/k/create", "{\"kty\":\"oct-HSM\"}"), 400, "BadParameter",
           NULL);
    /* an HSM import without a token: the create's answer ("Hsm", the client's "hsm", or the
     * JWK's -HSM kty), never a software key */
    r = call(f, CF_HTTP_PUT, "/keys/k", "{\"key\":" EC_JWK ",\"Hsm\":true}");
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error.code"), "BadParameter");
    assert_non_null(strstr(jstr(r, "error.message"),
                           "Key type EC-HSM needs a hardware security module, and this server "
                           "has none configured: use EC for a software-protected key."));
    done(r);
    r = call(f, CF_HTTP_PUT, "/keys/k", "{\"key\":" EC_JWK ",\"hsm\":true}");
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(jstr(r, "error.message"), "Key type EC-HSM needs a hardware"));
    done(r);
    expect(call(f, CF_HTTP_PUT, "/keys/k", "{\"key\":" EC_JWK ",\"Hsm\":\"yes\"}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_GET, "/keys/k", NULL), 404, "KeyNotFound", NULL);

    /* import */
    expect(call(f, CF_HTTP_PUT, "/keys/k", "{}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/keys/k", "{\"key\":{\"kty\":\"EC\",\"crv\":\"P-256\"}}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/keys/k", "{\"key\":{\"kty\":\"oct\",\"k\":\"!!\"}}"), 400,
           "BadParameter", NULL);
    r = call(f, CF_HTTP_PUT, "/keys/imp", "{\"key\":" EC_JWK ",\"tags\":{\"t\":\"v\"}}");
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "key.x"), "ujgoG_433ui3YNwcLceLm02-c-E7xCBhfaYMBnyyLEY");
    assert_null(jget(r, "key.d"));
    assert_int_equal(cf_json_size(jget(r, "key.key_ops")), 2);
    assert_null(strstr(r->body, "jKEg2LoT")); /* the private part never comes back */
    done(r);
}

/* Signs DIGEST with alg on path; returns the signature (base64url) in sig. */
static void sign(struct fx *f, const char *path, const char *alg, char *sig, size_t n, char *kid,
                 size_t kn)
{
    char body[256];
    struct fake_req *r;

    snprintf(body, sizeof(body), "{\"alg\":\"%s\",\"value\":\"" DIGEST "\"}", alg);
    r = call(f, CF_HTTP_POST, path, body);
    if (r->status != 200)
        fail_msg("sign %s: %d %s", path, r->status, r->body);
    snprintf(sig, n, "%s", jstr(r, "value"));
    if (kid)
        snprintf(kid, kn, "%s", jstr(r, "kid"));
    done(r);
}

static bool verify(struct fx *f, const char *path, const char *alg, const char *sig)
{
    char body[2048];
    struct fake_req *r;
    bool v = false;

    snprintf(body, sizeof(body), "{\"alg\":\"%s\",\"digest\":\"" DIGEST "\",\"value\":\"%s\"}", alg,
             sig);
    r = call(f, CF_HTTP_POST, path, body);
    if (r->status != 200)
        fail_msg("verify %s: %d %s", path, r->status, r->body);
    assert_true(cf_json_bool(jget(r, "value"), &v));
    assert_null(jget(r, "kid"));
    done(r);
    return v;
}

static void crypto_operations(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char sig[1024], kid[256], path[512], ct[1024], body[4096], wrapped[1024];

    /* EC: sign latest, verify through the "//" (empty version) and versioned paths */
    r = call(f, CF_HTTP_PUT, "/keys/ec", "{\"key\":" EC_JWK "}");
    done(r);
    sign(f, "/keys/ec/sign", "ES256", sig, sizeof(sig), kid, sizeof(kid));
    assert_int_equal(strlen(sig), 86); /* r||s, 64 bytes */
    assert_true(strncmp(kid, BASE1 "/keys/ec/", strlen(BASE1 "/keys/ec/")) == 0);
    assert_true(verify(f, "/keys/ec//verify", "ES256", sig));
    snprintf(path, sizeof(path), "/keys/ec/%s/verify", ver_of(kid));
    assert_true(verify(f, path, "ES256", sig));
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    assert_false(verify(f, "/keys/ec/verify", "ES256", sig)); /* 200, value false */
    snprintf(path, sizeof(path), "/keys/ec/%s/sign", ver_of(kid));
    sign(f, path, "ES256", sig, sizeof(sig), NULL, 0);
    expect(call(f, CF_HTTP_POST, "/keys/ec/00000000000000000000000000000000/sign",
                "{\"alg\":\"ES256\",\"value\":\"" DIGEST "\"}"),
           404, "KeyNotFound", NULL);

    /* bad input */
    expect(call(f, CF_HTTP_POST, "/keys/ec/sign", "{\"value\":\"" DIGEST "\"}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/ec/sign", "{\"alg\":\"ES256\"}"), 400, "BadParameter",
           NULL);
    expect(call(f, CF_HTTP_POST, "/keys/ec/sign", "{\"alg\":\"RS256\",\"value\":\"" DIGEST "\"}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/ec/sign", "{\"alg\":\"XYZ1\",\"value\":\"" DIGEST "\"}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/ec/sign", "{\"alg\":\"ES256\",\"value\":\"$$$\"}"), 400,
           "BadParameter", NULL);
    r = call(f, CF_HTTP_POST, "/keys/ec/sign", "{\"alg\":\"ES256\",\"value\":\"AAAA\"}");
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(jstr(r, "error.message"), "3 bytes"));
    done(r);
    expect(call(f, CF_HTTP_POST, "/keys/ec/verify", "{\"alg\":\"ES256\",\"value\":\"AAAA\"}"), 400,
           "BadParameter", NULL); /* no digest */
    expect(call(f, CF_HTTP_POST, "/keys/ec/sign", "not json"), 400, "BadParameter", NULL);
    {
        /* an oversized value: 100 KB of base64url */
        size_t n = 100 * 1024;
        char *big = malloc(n + 64);
        memcpy(big, "{\"alg\":\"ES256\",\"value\":\"", 24);
        memset(big + 24, 'A', n);
        memcpy(big + 24 + n, "\"}", 3);
        expect(call(f, CF_HTTP_POST, "/keys/ec/sign", big), 400, "BadParameter", NULL);
        free(big);
    }

    /* RSA: encrypt / decrypt and wrap / unwrap; the ciphertext is the modulus size */
    r = call(f, CF_HTTP_POST, "/keys/rsa/create", "{\"kty\":\"RSA\",\"key_size\":2048}");
    assert_string_equal(jstr(r, "key.e"), "AQAB");
    assert_int_equal(strlen(jstr(r, "key.n")), 342);
    done(r);
    r = call(f, CF_HTTP_POST, "/keys/rsa/encrypt",
             "{\"alg\":\"RSA-OAEP-256\",\"value\":\"aGVsbG8\"}");
    take_str(r, "value", ct, sizeof(ct));
    assert_int_equal(strlen(ct), 342);
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ct);
    r = call(f, CF_HTTP_POST, "/keys/rsa/decrypt", body);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "value"), "aGVsbG8");
    assert_non_null(strstr(jstr(r, "kid"), "/keys/rsa/"));
    done(r);
    ct[5] = ct[5] == 'A' ? 'B' : 'A';
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", ct);
    expect(call(f, CF_HTTP_POST, "/keys/rsa/decrypt", body), 400, "BadParameter", NULL);
    r = call(f, CF_HTTP_POST, "/keys/rsa/wrapkey",
             "{\"alg\":\"RSA-OAEP\",\"value\":\"" DIGEST "\"}");
    take_str(r, "value", wrapped, sizeof(wrapped));
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP\",\"value\":\"%s\"}", wrapped);
    r = call(f, CF_HTTP_POST, "/keys/rsa//unwrapKey", body);
    assert_string_equal(jstr(r, "value"), DIGEST);
    done(r);
    sign(f, "/keys/rsa/sign", "PS256", sig, sizeof(sig), kid, sizeof(kid));
    assert_true(verify(f, "/keys/rsa/verify", "PS256", sig));
    sign(f, "/keys/rsa/sign", "RS256", sig, sizeof(sig), NULL, 0);
    assert_true(verify(f, "/keys/rsa/verify", "RS256", sig));
    assert_false(verify(f, "/keys/rsa/verify", "PS256", sig));

    /* oct: AES-GCM with iv, tag and aad echoed; decrypt with them */
    r = call(f, CF_HTTP_POST, "/keys/aes/create", "{\"kty\":\"oct\"}");
    done(r);
    r = call(f, CF_HTTP_POST, "/keys/aes/encrypt",
             "{\"alg\":\"A256GCM\",\"value\":\"aGVsbG8\",\"aad\":\"Y3R4\"}");
    assert_int_equal(r->status, 200);
    assert_int_equal(strlen(jstr(r, "iv")), 16);
    assert_int_equal(strlen(jstr(r, "tag")), 22);
    assert_string_equal(jstr(r, "aad"), "Y3R4");
    snprintf(body, sizeof(body),
             "{\"alg\":\"A256GCM\",\"value\":\"%s\",\"iv\":\"%s\",\"tag\":\"%s\",\"aad\":\"Y3R4\"}",
             jstr(r, "value"), jstr(r, "iv"), jstr(r, "tag"));
    done(r);
    r = call(f, CF_HTTP_POST, "/keys/aes/decrypt", body);
    assert_string_equal(jstr(r, "value"), "aGVsbG8");
    done(r);
    r = call(f, CF_HTTP_POST, "/keys/aes/wrapkey", "{\"alg\":\"A256KW\",\"value\":\"" DIGEST "\"}");
    take_str(r, "value", wrapped, sizeof(wrapped));
    snprintf(body, sizeof(body), "{\"alg\":\"A256KW\",\"value\":\"%s\"}", wrapped);
    r = call(f, CF_HTTP_POST, "/keys/aes/unwrapkey", body);
    assert_string_equal(jstr(r, "value"), DIGEST);
    done(r);
}

static void state_rules(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char sig[256], body[512];
    int64_t now = cf_clock_s(&f->clock);

    r = call(f, CF_HTTP_POST, "/keys/st/create", "{\"kty\":\"EC\"}");
    done(r);
    sign(f, "/keys/st/sign", "ES256", sig, sizeof(sig), NULL, 0);
    /* disabled: sign refused with KeyDisabled, verify still answered */
    expect(call(f, CF_HTTP_PATCH, "/keys/st", "{\"attributes\":{\"enabled\":false}}"), 200, NULL,
           NULL);
    r = call(f, CF_HTTP_POST, "/keys/st/sign", "{\"alg\":\"ES256\",\"value\":\"" DIGEST "\"}");
    assert_string_equal(jstr(r, "error.message"),
                        "Operation sign is not allowed on a disabled key.");
    expect(r, 403, "Forbidden", "KeyDisabled");
    assert_true(verify(f, "/keys/st/verify", "ES256", sig));
    /* the disabled key is still readable (crypto clients GET it first) */
    expect(call(f, CF_HTTP_GET, "/keys/st", NULL), 200, NULL, NULL);
    /* an operation outside key_ops */
    expect(call(f, CF_HTTP_PATCH, "/keys/st",
                "{\"attributes\":{\"enabled\":true},\"key_ops\":[\"verify\"]}"),
           200, NULL, NULL);
    r = call(f, CF_HTTP_POST, "/keys/st/sign", "{\"alg\":\"ES256\",\"value\":\"" DIGEST "\"}");
    assert_string_equal(jstr(r, "error.message"), "Operation sign is not permitted on this key.");
    expect(r, 403, "Forbidden", "KeyOperationForbidden");
    /* not yet valid, then expired: sign refused, verify allowed */
    snprintf(body, sizeof(body),
             "{\"key_ops\":[\"sign\",\"verify\"],\"attributes\":{\"nbf\":%lld}}",
             (long long)(now + 3600));
    expect(call(f, CF_HTTP_PATCH, "/keys/st", body), 200, NULL, NULL);
    expect(call(f, CF_HTTP_POST, "/keys/st/sign", "{\"alg\":\"ES256\",\"value\":\"" DIGEST "\"}"),
           403, "Forbidden", NULL);
    snprintf(body, sizeof(body), "{\"attributes\":{\"nbf\":%lld,\"exp\":%lld}}",
             (long long)(now - 7200), (long long)(now - 3600));
    expect(call(f, CF_HTTP_PATCH, "/keys/st", body), 200, NULL, NULL);
    r = call(f, CF_HTTP_POST, "/keys/st/sign", "{\"alg\":\"ES256\",\"value\":\"" DIGEST "\"}");
    assert_non_null(strstr(jstr(r, "error.message"), "expired"));
    expect(r, 403, "Forbidden", NULL);
    assert_true(verify(f, "/keys/st/verify", "ES256", sig));
    /* release: refused (no attestation), unknown key 404 */
    expect(call(f, CF_HTTP_POST, "/keys/st/release", "{\"target\":\"x\"}"), 403, "Forbidden", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/none/release", "{\"target\":\"x\"}"), 404, "KeyNotFound",
           NULL);
}

static void soft_delete_backup_restore(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char blob[16384], body[17000], kid[256], sig[256];

    r = call(f, CF_HTTP_POST, "/keys/bk/create", "{\"kty\":\"EC\",\"tags\":{\"t\":\"1\"}}");
    take_str(r, "key.kid", kid, sizeof(kid));
    sign(f, "/keys/bk/sign", "ES256", sig, sizeof(sig), NULL, 0);
    expect(call(f, CF_HTTP_PUT, "/keys/bk/rotationpolicy",
                "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},"
                "\"action\":{\"type\":\"Rotate\"}}],\"attributes\":{\"expiryTime\":\"P1Y\"}}"),
           200, NULL, NULL);
    r = call(f, CF_HTTP_POST, "/keys/bk/backup", NULL);
    take_str(r, "value", blob, sizeof(blob));
    assert_true(strlen(blob) > 100);
    assert_null(strchr(blob, '=')); /* base64url, no padding */
    expect(call(f, CF_HTTP_POST, "/keys/none/backup", NULL), 404, "KeyNotFound", NULL);

    /* delete: the deleted bundle, visible at once to the poller; all routes see it gone */
    r = call(f, CF_HTTP_DELETE, "/keys/bk", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "recoveryId"), BASE1 "/deletedkeys/bk");
    assert_string_equal(jstr(r, "key.kid"), kid);
    assert_non_null(jget(r, "deletedDate"));
    assert_non_null(jget(r, "scheduledPurgeDate"));
    done(r);
    expect(call(f, CF_HTTP_GET, "/deletedkeys/bk", NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_GET, "/keys/bk", NULL), 404, "KeyNotFound", NULL);
    expect(call(f, CF_HTTP_DELETE, "/keys/bk", NULL), 404, "KeyNotFound", NULL);
    r = call(f, CF_HTTP_GET, "/deletedkeys", NULL);
    assert_int_equal(cf_json_size(jget(r, "value")), 1);
    assert_string_equal(cf_json_str(cf_json_get(cf_json_at(jget(r, "value"), 0), "kid"), NULL),
                        BASE1 "/keys/bk");
    done(r);
    expect(call(f, CF_HTTP_POST, "/keys/bk/create", "{\"kty\":\"EC\"}"), 409, "Conflict",
           "ObjectIsDeletedButRecoverable");
    snprintf(body, sizeof(body), "{\"value\":\"%s\"}", blob);
    expect(call(f, CF_HTTP_POST, "/keys/restore", body), 409, "Conflict",
           "ObjectIsDeletedButRecoverable");
    /* recover, then restore onto the live name is a conflict */
    r = call(f, CF_HTTP_POST, "/deletedkeys/bk/recover", NULL);
    assert_string_equal(jstr(r, "key.kid"), kid);
    assert_null(jget(r, "recoveryId"));
    done(r);
    expect(call(f, CF_HTTP_POST, "/deletedkeys/bk/recover", NULL), 404, "KeyNotFound", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/restore", body), 409, "Conflict", NULL);
    /* purge: 204, then the name is free */
    expect(call(f, CF_HTTP_DELETE, "/deletedkeys/bk", NULL), 404, "KeyNotFound", NULL);
    expect(call(f, CF_HTTP_DELETE, "/keys/bk", NULL), 200, NULL, NULL);
    r = call(f, CF_HTTP_DELETE, "/deletedkeys/bk", NULL);
    assert_int_equal(r->status, 204);
    assert_int_equal(r->body_len, 0);
    done(r);
    expect(call(f, CF_HTTP_GET, "/deletedkeys/bk", NULL), 404, "KeyNotFound", NULL);

    /* restore into another vault: same kid path, the key verifies the old signature */
    r = call_on(f, V2, CF_HTTP_POST, "/keys/restore", NULL, body);
    assert_int_equal(r->status, 200);
    assert_string_equal(ver_of(jstr(r, "key.kid")), ver_of(kid));
    assert_non_null(strstr(jstr(r, "key.kid"), "vtwo." SUFFIX));
    assert_string_equal(jstr(r, "tags.t"), "1");
    done(r);
    r = call_on(f, V2, CF_HTTP_GET, "/keys/bk/rotationpolicy", NULL, NULL);
    assert_string_equal(jstr(r, "attributes.expiryTime"), "P1Y");
    done(r);
    snprintf(body, sizeof(body), "{\"alg\":\"ES256\",\"digest\":\"" DIGEST "\",\"value\":\"%s\"}",
             sig);
    r = call_on(f, V2, CF_HTTP_POST, "/keys/bk/verify", NULL, body);
    assert_non_null(strstr(r->body, "\"value\":true"));
    done(r);
    /* garbage */
    expect(call(f, CF_HTTP_POST, "/keys/restore", "{\"value\":\"AAAA\"}"), 400, "BadParameter",
           NULL);
    expect(call(f, CF_HTTP_POST, "/keys/restore", "{\"value\":\"**\"}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/keys/restore", "{}"), 400, "BadParameter", NULL);
}

static void rotation_and_policy(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char kid1[256], kid2[256];

    r = call(f, CF_HTTP_POST, "/keys/Rot/create",
             "{\"kty\":\"EC\",\"crv\":\"P-521\",\"key_ops\":[\"sign\"]}");
    take_str(r, "key.kid", kid1, sizeof(kid1));
    /* no policy yet: Azure's default one with the id, a Notify 30 days before expiry */
    r = call(f, CF_HTTP_GET, "/keys/rot/rotationpolicy", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "id"), BASE1 "/keys/Rot/rotationpolicy");
    assert_int_equal(cf_json_size(jget(r, "lifetimeActions")), 1);
    {
        const struct cf_json *a = cf_json_at(jget(r, "lifetimeActions"), 0);
        assert_string_equal(
            cf_json_str(cf_json_get(cf_json_get(a, "action"), "type"), NULL), "Notify");
        assert_string_equal(
            cf_json_str(cf_json_get(cf_json_get(a, "trigger"), "timeBeforeExpiry"), NULL),
            "P30D");
    }
    assert_int_equal(cf_json_type(jget(r, "attributes")), CF_JSON_OBJECT);
    done(r);
    expect(call(f, CF_HTTP_GET, "/keys/none/rotationpolicy", NULL), 404, "KeyNotFound", NULL);

    r = call(f, CF_HTTP_PUT, "/keys/rot/rotationpolicy",
             "{\"lifetimeActions\":[{\"trigger\":{\"timeBeforeExpiry\":\"P30D\"},"
             "\"action\":{\"type\":\"notify\"}},{\"trigger\":{\"timeAfterCreate\":\"P18M\"},"
             "\"action\":{\"type\":\"rotate\"}}],\"attributes\":{\"expiryTime\":\"P2Y\"}}");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "{\"trigger\":{\"timeAfterCreate\":\"P18M\"},"
                                    "\"action\":{\"type\":\"Rotate\"}}"));
    assert_non_null(strstr(r->body, "{\"trigger\":{\"timeBeforeExpiry\":\"P30D\"},"
                                    "\"action\":{\"type\":\"Notify\"}}"));
    assert_string_equal(jstr(r, "attributes.expiryTime"), "P2Y");
    assert_non_null(jget(r, "attributes.created"));
    done(r);
    /* bad policies */
    expect(call(f, CF_HTTP_PUT, "/keys/rot/rotationpolicy",
                "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"30 days\"},"
                "\"action\":{\"type\":\"Rotate\"}}]}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/keys/rot/rotationpolicy",
                "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P3D\"},"
                "\"action\":{\"type\":\"Notify\"}}]}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/keys/rot/rotationpolicy",
                "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P3D\"},"
                "\"action\":{\"type\":\"Rotate\"}},{\"trigger\":{\"timeAfterCreate\":\"P4D\"},"
                "\"action\":{\"type\":\"Rotate\"}}]}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/keys/rot/rotationpolicy",
                "{\"lifetimeActions\":[{\"trigger\":{},\"action\":{\"type\":\"Rotate\"}}]}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/keys/rot/rotationpolicy",
                "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P3D\"},"
                "\"action\":{\"type\":\"Explode\"}}]}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/keys/rot/rotationpolicy",
                "{\"attributes\":{\"expiryTime\":\"P7D\"}}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/keys/rot/rotationpolicy", "{\"lifetimeActions\":{}}"), 400,
           "BadParameter", NULL);
    /* the policy is unchanged by the refusals */
    r = call(f, CF_HTTP_GET, "/keys/rot/rotationpolicy", NULL);
    assert_string_equal(jstr(r, "attributes.expiryTime"), "P2Y");
    done(r);

    /* rotate: a new version like the latest, exp from expiryTime */
    r = call(f, CF_HTTP_POST, "/keys/rot/rotate", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "key.crv"), "P-521");
    assert_int_equal(cf_json_size(jget(r, "key.key_ops")), 1);
    assert_non_null(strstr(r->body, "\"exp\":"));
    done(r);
    r = call(f, CF_HTTP_GET, "/keys/rot", NULL);
    take_str(r, "key.kid", kid2, sizeof(kid2));
    assert_string_not_equal(kid1, kid2);
    expect(call(f, CF_HTTP_POST, "/keys/none/rotate", NULL), 404, "KeyNotFound", NULL);
}

static void random_bytes(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    struct cf_buf b;

    r = call(f, CF_HTTP_POST, "/rng", "{\"count\":32}");
    assert_int_equal(r->status, 200);
    cf_buf_init(&b, 256);
    assert_int_equal(cf_b64_decode(&b, cf_str_from(jstr(r, "value"))), CF_OK);
    assert_int_equal(b.len, 32);
    cf_buf_release(&b);
    done(r);
    expect(call(f, CF_HTTP_POST, "/rng", "{\"count\":128}"), 200, NULL, NULL);
    expect(call(f, CF_HTTP_POST, "/rng", "{\"count\":0}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/rng", "{\"count\":129}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/rng", "{}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/rng", "{\"count\":\"8\"}"), 400, "BadParameter", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_get_update_list, setup, teardown),
        cmocka_unit_test_setup_teardown(create_and_import_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(state_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(soft_delete_backup_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(rotation_and_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(random_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
