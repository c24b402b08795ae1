/* test_kvkey.c - Key Vault keys (kvkey.c): generation of every type and size, blob round trips
 * and corrupt blobs, JWK import of openssl-made keys (with and without CRT members) and every
 * bad-JWK path, public JWK shapes, sign/verify for every algorithm (and a flipped bit),
 * interop with signatures and ciphertexts made by the openssl CLI, RSA size limits, AES key
 * wrap (RFC 3394 / RFC 5649 vectors), AES-GCM (GCM spec test case 16), AES-CBC (SP 800-38A
 * F.2.1), and wrong alg / key type / digest length errors.
 *
 * The vectors below were made at test-writing time with OpenSSL 3.0:
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
 *   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:{P-256,P-521,secp256k1}
 *   printf 'coffer interop message' > msg
 *   openssl dgst -sha256 -sign ec.pem msg              (DER; r||s form derived from it)
 *   openssl dgst -sha256 -sign rsa.pem msg             (RS256)
 *   openssl dgst -sha256 -sign rsa.pem -sigopt rsa_padding_mode:pss
 *                -sigopt rsa_pss_saltlen:digest msg    (PS256)
 *   openssl pkeyutl -encrypt -inkey rsa.pem -in pt -pkeyopt rsa_padding_mode:oaep
 *                -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256   (RSA-OAEP-256)
 *   ... -pkeyopt rsa_padding_mode:oaep (RSA-OAEP), default padding (RSA1_5)
 * and converted to JWK members (base64url) with a short script. The keys are test-only. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "helpers.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <time.h>

#include <setjmp.h>
#include <cmocka.h>

/* openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 */
static const char RSA_JWK[] =
    "{\"kty\":\"RSA\",\"n\":\"sfkJzVWGEAxLwpi57Fdz4O4Sw6qtrfemgv6Bm-YQ7StE22U2lKVqwgdawW8525"
    "ia-Df71PdKw_dV_V1F9pYZDX2u2bxwO6aWmt8tuU77av3OaOK_PCPN6m3QEqCiCG-CF7bkFBgHuAq0Ua"
    "NLT1XDeUmwAnyCcav9FP5k8mEkb9Jgv3rvtA0WAPs19DSBASGYHjfoqICNMUbDG7Ud3EKFUdkLMVxzHe"
    "QdfU6KLhI_0hOND9lOqw6zv_inHtvYHutEmyT_g2tsnSH8NkxM7RCcNPcd_RzvyWNgoBgOj1h_UIQkyp"
    "aSNguiFQEVwawBG4uLzyPpzYCr7WzZlLI_gPggwQ\",\"e\":\"AQAB\",\"d\":\"DfScSyigqZN9QVYehiTZZl"
    "Lkz8kLc2_O88inOyVQQHi7HoUSQZezBmHzQOXK4KhXxo0FR07Y4wL7EDIHMW3VqxQm6NX46wSGHMDRYg"
    "2Kc3pRfDIDkuCv3ekcfslvyz-LMPbbbaPwvwK_3wLx_deYy2L21UsUI3u8DbBhFAyAAfCYZWdjRnhEHz"
    "NoJlo8JqC8jdHjbN8x8jnJq6RUM1BkjAqSwd53zZPQBzVjbAz0Eh0l7WLgOg0_O_h2hCTUahz7AFeeoS"
    "g7j5ytkrjt0r6oNcNptjYCM7rCygr82cvJOk6ja4RHD2kdd8wfeIh1G5zLEIJjXp_W7ZeAs3JHJkQrjQ"
    "\",\"p\":\"9zCFvJnquBUjLTcS7UO7XLUIT5vgL_xazxNPOudTz8NNo5CJRgUPSenwE5sCA_BiL98DzVvN4"
    "yl7YReFXyDL1604p7C3j2YbmTT1LQVdIZQwkzOv9ljZmYYrnR_dzTdqAfL-QnzgsO9hjQWnRx4FdBhO2"
    "9-D6s7wvZ73StyqCCc\",\"q\":\"uFDy39F6D9ZyZM8lI4NezPFohjssNEmbtMvF41-B3rt4yLImO_1Nf5Y"
    "WjGvj17M0U3M_VO2Kxqnuranqy1cF6hlIARskAxUKA5bcQNlhVgrzTWIsPnJVWKu-XpD5IBXSKrSKSN1"
    "GZWt8AKgYkiJ91uO-Mf7DvQNDp3He5Hl_eNc\",\"dp\":\"djbgXngFho-lSQRjqtCPlCCHnvre1lQLYajM"
    "ZVEoBd5TDPwcij31N9YHGHkzF4soidhPyzAyYIcAGEjVYc8fbT_MLnYW8x9T54sqDaPZDCwApwU7C8cm"
    "GYPO68_HlVMBAXmiG035buSsdHLVsu8qkIDnhcN5JRxeiXCytzycnFU\",\"dq\":\"rnEejKorRhYGClbqp"
    "WPOM1U_Qdt7CLmpvkEltv5LYcw4kmnZOemQkXIxQRFTgHBA08I9bFmtgDyQgphQecaQ-HCY70MKoEgnR"
    "CJhrpaOQur2PoTtruRy1gslj0bSIYXFdVmNj0ytNYu2vsBZEOXIB7tf5N1jz93pB-8Dr2U2Od0\",\"qi\""
    ":\"bjIpPZTOPf06U-EG2Y5UwTjuAAjJ7oUcwHnw8oL2EFWJ8sMyaILGHT5E_ztHDVrs8fSks6XUDu8h3J"
    "OMKNX8BS_7zXY3jkOYWx0xHW5Hh8Sf8HS_wBUb-CK4kkrxahL309RqfJE5wRApHWO03T1ECh9_wq_pmm"
    "jbKCP2jnl8S_w\"}";

static const char RSA_N[] =
    "sfkJzVWGEAxLwpi57Fdz4O4Sw6qtrfemgv6Bm-YQ7StE22U2lKVqwgdawW8525ia-Df71PdKw_dV_V1F"
    "9pYZDX2u2bxwO6aWmt8tuU77av3OaOK_PCPN6m3QEqCiCG-CF7bkFBgHuAq0UaNLT1XDeUmwAnyCcav9"
    "FP5k8mEkb9Jgv3rvtA0WAPs19DSBASGYHjfoqICNMUbDG7Ud3EKFUdkLMVxzHeQdfU6KLhI_0hOND9lO"
    "qw6zv_inHtvYHutEmyT_g2tsnSH8NkxM7RCcNPcd_RzvyWNgoBgOj1h_UIQkypaSNguiFQEVwawBG4uL"
    "zyPpzYCr7WzZlLI_gPggwQ";

static const char RSA_E[] = "AQAB";

static const char RSA_D[] =
    "DfScSyigqZN9QVYehiTZZlLkz8kLc2_O88inOyVQQHi7HoUSQZezBmHzQOXK4KhXxo0FR07Y4wL7EDIH"
    "MW3VqxQm6NX46wSGHMDRYg2Kc3pRfDIDkuCv3ekcfslvyz-LMPbbbaPwvwK_3wLx_deYy2L21UsUI3u8"
    "DbBhFAyAAfCYZWdjRnhEHzNoJlo8JqC8jdHjbN8x8jnJq6RUM1BkjAqSwd53zZPQBzVjbAz0Eh0l7WLg"
    "Og0_O_h2hCTUahz7AFeeoSg7j5ytkrjt0r6oNcNptjYCM7rCygr82cvJOk6ja4RHD2kdd8wfeIh1G5zL"
    "EIJjXp_W7ZeAs3JHJkQrjQ";

static const char EC256_JWK[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"-nRXwZvTGQI-6IOObs9xXrPxO3GVSd-Sb6UR0C3cLDM\",\"y\":"
    "\"oK7lp60krBdZLUI9pGlLEB8bibvGH9rgMnGkDcTgCV8\",\"d\":\"PuaoO_-ZP7NCHlWe7ktVM1WhggGNr"
    "DyDwg8ULUZ95bU\"}";

static const char EC256_JWK_X[] = "-nRXwZvTGQI-6IOObs9xXrPxO3GVSd-Sb6UR0C3cLDM";

static const char EC256_JWK_Y[] = "oK7lp60krBdZLUI9pGlLEB8bibvGH9rgMnGkDcTgCV8";

static const char EC521_JWK[] =
    "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"ARq_0sCvwU2nN08_p55VHoR3V5gB6fAxQw2IwJG_GwNYUYupo"
    "IGFPhDe9QN4JL69URnjkuMIoi3wgme6rJoDfVNN\",\"y\":\"AOiHKLA36ij5o3jKbdxcUthOtZozaab2tS"
    "ym2smGkoGk4zhIdN2Nw3GVEbw8PpKcYBEGofyKwZKKKdkFYhBY8CIw\",\"d\":\"AVK82OxfrVLGb2JCyCG"
    "WrPFRODRLqh-x2dxjc6vhtNi7X1_X_aiuNj3uA1qHot6-B-XJGsyUCCnZ2s7Ir12V7lyw\"}";

static const char EC521_JWK_X[] =
    "ARq_0sCvwU2nN08_p55VHoR3V5gB6fAxQw2IwJG_GwNYUYupoIGFPhDe9QN4JL69URnjkuMIoi3wgme6"
    "rJoDfVNN";

static const char EC521_JWK_Y[] =
    "AOiHKLA36ij5o3jKbdxcUthOtZozaab2tSym2smGkoGk4zhIdN2Nw3GVEbw8PpKcYBEGofyKwZKKKdkF"
    "YhBY8CIw";

static const char EC256K_JWK[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256K\",\"x\":\"yXPoPsVlq-tFf2VDGiKWsgy4YIlj2lnuQAkujqW83xw\",\"y\""
    ":\"kUttUnv0nDpjr_lBNyV_eeuuprF99Go9xkQZ_ZsGVk8\",\"d\":\"D-YbhbwW5aUbn6IFqv7IbSciLNXs"
    "sB1JmYGCXvchL0k\"}";

static const char EC256K_JWK_X[] = "yXPoPsVlq-tFf2VDGiKWsgy4YIlj2lnuQAkujqW83xw";

static const char EC256K_JWK_Y[] = "kUttUnv0nDpjr_lBNyV_eeuuprF99Go9xkQZ_ZsGVk8";

static const char MSG_SHA256[] = "726c03bbd7c9c317141daad444c9ab674b8b50c3c5b161e3b5ac96cb76cb712a";

/* openssl dgst -sha256 -sign ec.pem (DER) converted to r||s */
static const char EC256_SIG_RS[] =
    "9c56cd38b5951fcf5e55d29b37bb92b22e2dbb427cc6215996d13389d723a3d8786f5d7799432636"
    "781bbe5bc3a7ae6831942310a8b3ca1001bc84eaac4c42ab";

static const char EC256_SIG_DER[] =
    "30450221009c56cd38b5951fcf5e55d29b37bb92b22e2dbb427cc6215996d13389d723a3d8022078"
    "6f5d7799432636781bbe5bc3a7ae6831942310a8b3ca1001bc84eaac4c42ab";

static const char RS256_SIG[] =
    "15e33b587bfbd495473034fa549fee0ac5ca70c4235f5dff632bbe5d3c253e57434780830aec9621"
    "f06c21b905ec2bcf9cdf9bf24f4999c1bdb99a95fa8aee3ac8a2a3fec66d8bdc2990fff774c56a04"
    "1a3a93176fb24affb39fa9144123f1dc4de3ee57bffa56af140ac80e05d402e955cdaef699ad2ad1"
    "ed1eca530f355a2e3d45680b8d9d1a1b6f6992f89bac7b0b0996a98e2ae6d7859b585bc0e9cb8384"
    "987aea4ecbe22b844a952039aa76a3203d0ba2f971f05ddf76efaa78aa7222db1ed4917aec033a73"
    "688872903e596dd15d4dd5d556d4bc9e0a421e0bc2ee55a4ca130b25637353229eb9e1b070fdc269"
    "0883eb4ca219358c33cea077bbb09900";

static const char PS256_SIG[] =
    "98cf5cafcf718d1d1e59f3d7c497142a3e7e1a1038abea5c03ce8f7b4f0775f1b5f4475f7c215b2a"
    "9750e7e1161f908b9e0aa97a37a16b640a37400bdfccbd6409c71b79439b31f998e7f10c0689e8d3"
    "c1b34615bacc7f9847cdb6e8ae9a8447b2cfdea9be08b9f31943e0d324e3d1e94e5bd545a0cf6ebe"
    "d0ca33771f8bde3b157002ada76d176bac2f4fd55e2260767e6e785382a74fb921f40e431057d7ec"
    "45e8e088deb6dd10231c856055a7cd35067d993974f45a2a8c26711c1e3fb20780056461dd8826d5"
    "1ec65602b16891e1e3c558df6e4de12e8f05994ad489e0b216f7798d7cf021320e6950948fa9abdc"
    "0de2ce9a93ea3f06fa8b486e06a0fe62";

static const char OAEP256_CT[] =
    "2a8f8125d07402504701115874d94b53b0d46ea142d95767ee9795257c0df5b59d62373dc00ec4b2"
    "75e8f9295da67e151f04d850132d9e5fdd592b0c37581ceb0d135212af52d08ca23218917032b3bd"
    "cb45e2c2d7ec3f525e753e75bd988b2c4d4b73fb607e7d7110e4f2c147cb1b998fe34d07e808bde5"
    "817c20b7bd2a7520e3bd297f313d4f53bfd820ab453079d916bd3f46ccaa5f2d695f4c288ad78c6d"
    "b7ef3936a36674dd1d908adc3a525e5d5772248036400db78bdb505bd0a977a2b15dbcc9ddc5de87"
    "b170ed29144eb7e316c83f7b44572a33b688705a65500e7c897f8e20bd45552953df97a021eda276"
    "8e318b9646c83398bb34265d4a745f7c";

static const char OAEP1_CT[] =
    "54cf48d7688755546616d410cfa9a6bcd7424128fcc5b4c2a6a058d60734e719b224b429944eec0c"
    "b041a5f6f0cda14fef7348c94c61852876a5e3468b900cf2485b13855feada71f68b975e390c4cf5"
    "c0b6805f9b0da103b2c47659934505136b2b9c832a66deb0d1b0dc4035a35603db34e6af9c26e69a"
    "a24b9520f24ceab045ac6f6c64c04e993ea9f01d07dd2646514dfaf8757d38254a7f4b914a5d8bbe"
    "a1469e5eca3ebb31bdc0f26c3e53d6e1f5c13a25dee46fae1662e452856f500e09a8ad032a01a9ba"
    "6a36bd079aafe2a57faa79b56967af9d454ff631389a8c2dbfb1934c3ccca6c707380f063036b364"
    "e1fe39a08313992d0c35e0aacfded9be";

static const char PKCS1_CT[] =
    "3901d06f17c8a4edbe6a857c9103e5d34cf4ea0b756b7b37c4305432d32c351f3a3fca6d5733a452"
    "ec4b28c47734e87642db5f04d1bc4eba2782891fa84c7b66bbc34094fa6be4aa4ea06e0fce0f4e40"
    "223f30de79c8c514f81d22e2f69ad1984aa87145ce417a7ab7f658ac15d333a8ed735cf4918f8d47"
    "1902915e5aff8355f2293f7c8bc238e4394b22dbf523e21628bad514a31df2dc62dd4151bd3f6a49"
    "0de1155b7633d3419f3f022dca1bd2f943330eb8155d84a7e52419f756e5616e27ed2b0c32aa747f"
    "e2974ee2092c3c73d48c70eecd0128aeb3bcef5336329e1c6a39da3ca882f245660e681369fb6bab"
    "5db9bc0cd6e32fea1f62c707f8506cdf";

static const char RSA_P[] =
    "9zCFvJnquBUjLTcS7UO7XLUIT5vgL_xazxNPOudTz8NNo5CJRgUPSenwE5sCA_BiL98DzVvN4yl7YReF"
    "XyDL1604p7C3j2YbmTT1LQVdIZQwkzOv9ljZmYYrnR_dzTdqAfL-QnzgsO9hjQWnRx4FdBhO29-D6s7w"
    "vZ73StyqCCc";

static const char RSA_Q[] =
    "uFDy39F6D9ZyZM8lI4NezPFohjssNEmbtMvF41-B3rt4yLImO_1Nf5YWjGvj17M0U3M_VO2Kxqnuranq"
    "y1cF6hlIARskAxUKA5bcQNlhVgrzTWIsPnJVWKu-XpD5IBXSKrSKSN1GZWt8AKgYkiJ91uO-Mf7DvQND"
    "p3He5Hl_eNc";

static const char RSA_DP[] =
    "djbgXngFho-lSQRjqtCPlCCHnvre1lQLYajMZVEoBd5TDPwcij31N9YHGHkzF4soidhPyzAyYIcAGEjV"
    "Yc8fbT_MLnYW8x9T54sqDaPZDCwApwU7C8cmGYPO68_HlVMBAXmiG035buSsdHLVsu8qkIDnhcN5JRxe"
    "iXCytzycnFU";

static const char RSA_DQ[] =
    "rnEejKorRhYGClbqpWPOM1U_Qdt7CLmpvkEltv5LYcw4kmnZOemQkXIxQRFTgHBA08I9bFmtgDyQgphQ"
    "ecaQ-HCY70MKoEgnRCJhrpaOQur2PoTtruRy1gslj0bSIYXFdVmNj0ytNYu2vsBZEOXIB7tf5N1jz93p"
    "B-8Dr2U2Od0";

static const char RSA_QI[] =
    "bjIpPZTOPf06U-EG2Y5UwTjuAAjJ7oUcwHnw8oL2EFWJ8sMyaILGHT5E_ztHDVrs8fSks6XUDu8h3JOM"
    "KNX8BS_7zXY3jkOYWx0xHW5Hh8Sf8HS_wBUb-CK4kkrxahL309RqfJE5wRApHWO03T1ECh9_wq_pmmjb"
    "KCP2jnl8S_w";

static const char EC256_D[] = "PuaoO_-ZP7NCHlWe7ktVM1WhggGNrDyDwg8ULUZ95bU";

static const char PT_OAEP[] = "a 32-byte secret for OAEP-256!!!";

static const char GCM_K[] = "_v_pkoZlcxxtao-UZzCDCP7_6ZKGZXMcbWqPlGcwgwg";

static const char KW128_K[] = "AAECAwQFBgcICQoLDA0ODw";

static const char KW256_K[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

static const char KWP192_K[] = "WEDfbimwKvGrSTtwW_Fuoa6DOPTcwXao";

static const char CBC128_K[] = "K34VFiiu0qar9xWICc9PPA";

/* ---- shared keys (generated once per executable: RSA 4096 once) ---- */

static struct {
    struct cf_kvkey *rsa2048, *rsa3072, *rsa4096;
    struct cf_kvkey *ec[4];  /* P-256, P-384, P-521, P-256K */
    struct cf_kvkey *oct[3]; /* 128, 192, 256 */
} K;

static const enum cf_crv all_crv[4] = {CF_CRV_P256, CF_CRV_P384, CF_CRV_P521, CF_CRV_P256K};
static const int oct_bits[3] = {128, 192, 256};

static int group_setup(void **state)
{
    (void)state;
    if (cf_kvkey_generate_rsa(2048, 0, &K.rsa2048) || cf_kvkey_generate_rsa(3072, 0, &K.rsa3072) ||
        cf_kvkey_generate_rsa(4096, 0, &K.rsa4096))
        return -1;
    for (int i = 0; i < 4; i++)
        if (cf_kvkey_generate_ec(all_crv[i], &K.ec[i]))
            return -1;
    for (int i = 0; i < 3; i++)
        if (cf_kvkey_generate_oct(oct_bits[i], &K.oct[i]))
            return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cf_kvkey_free(K.rsa2048);
    cf_kvkey_free(K.rsa3072);
    cf_kvkey_free(K.rsa4096);
    for (int i = 0; i < 4; i++)
        cf_kvkey_free(K.ec[i]);
    for (int i = 0; i < 3; i++)
        cf_kvkey_free(K.oct[i]);
    return 0;
}

/* ---- helpers ---- */

static struct cf_json *parse(const char *text)
{
    struct cf_json *j = NULL;
    assert_int_equal(cf_json_parse(text, strlen(text), &j, NULL, 0), CF_OK);
    return j;
}

/* Imports JSON text; returns the error, the key in *out, the reason in why. */
static cf_err import_text(const char *text, struct cf_kvkey **out, char why[200])
{
    struct cf_json *j = parse(text);
    cf_err e = cf_kvkey_from_jwk(j, out, why, 200);
    cf_json_free(j);
    return e;
}

static struct cf_kvkey *import_ok(const char *text)
{
    struct cf_kvkey *k = NULL;
    char why[200];
    cf_err e = import_text(text, &k, why);
    if (e != CF_OK)
        fail_msg("import failed: %s (%s)", cf_err_name(e), why);
    assert_non_null(k);
    return k;
}

static struct cf_kvkey *import_oct(const char *k_b64)
{
    char text[200];
    snprintf(text, sizeof(text), "{\"kty\":\"oct\",\"k\":\"%s\"}", k_b64);
    return import_ok(text);
}

/* The public JWK of k as a parsed object {"kty":...,...}. */
static struct cf_json *public_jwk(const struct cf_kvkey *k)
{
    struct cf_buf b;
    struct cf_jw w;
    struct cf_json *j;

    cf_buf_init(&b, 8192);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_kvkey_write_public_jwk(k, true, &w), CF_OK);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
    j = parse(b.data);
    cf_buf_release(&b);
    return j;
}

static const char *member(const struct cf_json *j, const char *name)
{
    return cf_json_str(cf_json_get(j, name), NULL);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31u + i * 7u + 1u);
}

/* ---- curves, generation ---- */

static void test_crv_names(void **state)
{
    enum cf_crv c = CF_CRV_NONE;
    (void)state;
    assert_true(cf_crv_parse(CF_STR("P-256"), &c));
    assert_int_equal(c, CF_CRV_P256);
    assert_true(cf_crv_parse(CF_STR("P-384"), &c));
    assert_int_equal(c, CF_CRV_P384);
    assert_true(cf_crv_parse(CF_STR("P-521"), &c));
    assert_int_equal(c, CF_CRV_P521);
    assert_true(cf_crv_parse(CF_STR("P-256K"), &c));
    assert_int_equal(c, CF_CRV_P256K);
    assert_true(cf_crv_parse(CF_STR("SECP256K1"), &c));
    assert_int_equal(c, CF_CRV_P256K);
    assert_false(cf_crv_parse(CF_STR("p-256"), &c));
    assert_false(cf_crv_parse(CF_STR("P-256 "), &c));
    assert_false(cf_crv_parse(CF_STR(""), &c));
    assert_false(cf_crv_parse(CF_STR("P-224"), &c));
    for (int i = 0; i < 4; i++) {
        const char *n = cf_crv_name(all_crv[i]);
        assert_non_null(n);
        assert_true(cf_crv_parse(cf_str_from(n), &c));
        assert_int_equal(c, all_crv[i]);
    }
    assert_null(cf_crv_name(CF_CRV_NONE));
}

static void test_generate_shapes(void **state)
{
    static const size_t coord_chars[4] = {43, 64, 88, 43};
    static const int crv_bits[4] = {256, 384, 521, 256};
    struct cf_kvkey *rsa[3] = {K.rsa2048, K.rsa3072, K.rsa4096};
    struct cf_json *j;
    (void)state;

    for (int i = 0; i < 3; i++) {
        int bits = 2048 + 1024 * i;
        assert_int_equal(cf_kvkey_type(rsa[i]), CF_KTY_RSA);
        assert_int_equal(cf_kvkey_bits(rsa[i]), bits);
        assert_int_equal(cf_kvkey_curve(rsa[i]), CF_CRV_NONE);
        j = public_jwk(rsa[i]);
        assert_string_equal(member(j, "kty"), "RSA");
        /* n: exactly bits/8 bytes, no leading zero -> ceil(bytes*4/3) characters, no '=' */
        assert_int_equal(strlen(member(j, "n")), ((size_t)bits / 8 * 4 + 2) / 3);
        assert_null(strchr(member(j, "n"), '='));
        assert_string_equal(member(j, "e"), "AQAB");
        assert_null(cf_json_get(j, "d"));
        assert_int_equal(cf_json_size(j), 3);
        cf_json_free(j);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(cf_kvkey_type(K.ec[i]), CF_KTY_EC);
        assert_int_equal(cf_kvkey_curve(K.ec[i]), all_crv[i]);
        assert_int_equal(cf_kvkey_bits(K.ec[i]), crv_bits[i]);
        j = public_jwk(K.ec[i]);
        assert_string_equal(member(j, "kty"), "EC");
        assert_string_equal(member(j, "crv"), cf_crv_name(all_crv[i]));
        assert_int_equal(strlen(member(j, "x")), coord_chars[i]);
        assert_int_equal(strlen(member(j, "y")), coord_chars[i]);
        assert_null(cf_json_get(j, "d"));
        assert_int_equal(cf_json_size(j), 4);
        cf_json_free(j);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cf_kvkey_type(K.oct[i]), CF_KTY_OCT);
        assert_int_equal(cf_kvkey_bits(K.oct[i]), oct_bits[i]);
        j = public_jwk(K.oct[i]);
        assert_string_equal(member(j, "kty"), "oct");
        assert_int_equal(cf_json_size(j), 1);
        cf_json_free(j);
    }
    /* write_kty=false: the caller writes "kty" (e.g. "RSA-HSM") itself. */
    {
        struct cf_buf b;
        struct cf_jw w;
        cf_buf_init(&b, 4096);
        cf_jw_init(&w, &b);
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "kty", "EC-HSM");
        assert_int_equal(cf_kvkey_write_public_jwk(K.ec[0], false, &w), CF_OK);
        cf_jw_obj_end(&w);
        j = parse(b.data);
        assert_string_equal(member(j, "kty"), "EC-HSM");
        assert_string_equal(member(j, "crv"), "P-256");
        cf_json_free(j);
        cf_buf_release(&b);
    }
}

static void test_generate_bad(void **state)
{
    struct cf_kvkey *k = (struct cf_kvkey *)1;
    (void)state;
    assert_int_equal(cf_kvkey_generate_rsa(1024, 0, &k), CF_EBADPARAM);
    assert_null(k);
    assert_int_equal(cf_kvkey_generate_rsa(2047, 0, &k), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_generate_rsa(8192, 0, &k), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_generate_rsa(2048, 65536, &k), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_generate_rsa(2048, 1, &k), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_NONE, &k), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_generate_ec((enum cf_crv)99, &k), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_generate_oct(64, &k), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_generate_oct(512, &k), CF_EBADPARAM);
    assert_null(k);
}

static void test_generate_rsa_exponent(void **state)
{
    struct cf_kvkey *k = NULL;
    struct cf_json *j;
    (void)state;
    assert_int_equal(cf_kvkey_generate_rsa(2048, 3, &k), CF_OK);
    j = public_jwk(k);
    assert_string_equal(member(j, "e"), "Aw");
    cf_json_free(j);
    cf_kvkey_free(k);
}

static void test_oct_keys_differ(void **state)
{
    struct cf_kvkey *a = NULL, *b = NULL;
    struct cf_secret *ba = NULL, *bb = NULL;
    (void)state;
    assert_int_equal(cf_kvkey_generate_oct(256, &a), CF_OK);
    assert_int_equal(cf_kvkey_generate_oct(256, &b), CF_OK);
    assert_int_equal(cf_kvkey_to_blob(a, &ba), CF_OK);
    assert_int_equal(cf_kvkey_to_blob(b, &bb), CF_OK);
    assert_int_equal(ba->len, 5 + 32);
    assert_memory_not_equal(ba->p + 5, bb->p + 5, 32);
    cf_secret_free(ba);
    cf_secret_free(bb);
    cf_kvkey_free(a);
    cf_kvkey_free(b);
}

/* ---- blobs ---- */

/* k -> blob -> k2: same public JWK, and a signature / ciphertext of one is accepted by the
 * other. */
static void blob_round_trip(const struct cf_kvkey *k)
{
    struct cf_secret *blob = NULL, *pt = NULL;
    struct cf_kvkey *k2 = NULL;
    struct cf_buf b1, b2, sig, ct;
    struct cf_jw w1, w2;
    unsigned char dg[32];
    bool valid = false;

    assert_int_equal(cf_kvkey_to_blob(k, &blob), CF_OK);
    assert_int_equal(cf_kvkey_from_blob(blob->p, blob->len, &k2), CF_OK);
    assert_int_equal(cf_kvkey_type(k2), cf_kvkey_type(k));
    assert_int_equal(cf_kvkey_bits(k2), cf_kvkey_bits(k));
    assert_int_equal(cf_kvkey_curve(k2), cf_kvkey_curve(k));
    cf_buf_init(&b1, 4096);
    cf_buf_init(&b2, 4096);
    cf_jw_init(&w1, &b1);
    cf_jw_init(&w2, &b2);
    cf_jw_obj_begin(&w1);
    cf_jw_obj_begin(&w2);
    assert_int_equal(cf_kvkey_write_public_jwk(k, true, &w1), CF_OK);
    assert_int_equal(cf_kvkey_write_public_jwk(k2, true, &w2), CF_OK);
    cf_jw_obj_end(&w1);
    cf_jw_obj_end(&w2);
    assert_string_equal(b1.data, b2.data);
    cf_buf_release(&b1);
    cf_buf_release(&b2);

    cf_buf_init(&sig, 1024);
    cf_buf_init(&ct, 1024);
    fill(dg, sizeof(dg), 5);
    if (cf_kvkey_type(k) == CF_KTY_OCT) {
        struct cf_kvkey_sym sym = {0};
        const char *alg = cf_kvkey_bits(k) == 128   ? "A128GCM"
                          : cf_kvkey_bits(k) == 192 ? "A192GCM"
                                                    : "A256GCM";
        assert_int_equal(cf_kvkey_encrypt_ex(k, alg, dg, sizeof(dg), &sym, &ct, NULL, 0), CF_OK);
        assert_int_equal(cf_kvkey_decrypt_ex(k2, alg, ct.data, ct.len, &sym, &pt, NULL, 0), CF_OK);
        assert_int_equal(pt->len, sizeof(dg));
        assert_memory_equal(pt->p, dg, sizeof(dg));
        cf_secret_free(pt);
    } else {
        const char *alg = cf_kvkey_type(k) == CF_KTY_RSA      ? "PS256"
                          : cf_kvkey_curve(k) == CF_CRV_P256K ? "ES256K"
                                                              : "ES256";
        if (cf_kvkey_curve(k) == CF_CRV_P256 || cf_kvkey_curve(k) == CF_CRV_P256K ||
            cf_kvkey_type(k) == CF_KTY_RSA) {
            assert_int_equal(cf_kvkey_sign(k2, alg, dg, sizeof(dg), &sig, NULL, 0), CF_OK);
            assert_int_equal(
                cf_kvkey_verify(k, alg, dg, sizeof(dg), sig.data, sig.len, &valid, NULL, 0), CF_OK);
            assert_true(valid);
        }
    }
    cf_buf_release(&sig);
    cf_buf_release(&ct);
    cf_kvkey_free(k2);
    cf_secret_free(blob);
}

static void test_blob_round_trip(void **state)
{
    (void)state;
    blob_round_trip(K.rsa2048);
    blob_round_trip(K.rsa4096);
    for (int i = 0; i < 4; i++)
        blob_round_trip(K.ec[i]);
    for (int i = 0; i < 3; i++)
        blob_round_trip(K.oct[i]);
}

static void test_blob_bad(void **state)
{
    struct cf_secret *rsa = NULL, *ec = NULL, *oct = NULL;
    struct cf_kvkey *k = (struct cf_kvkey *)1;
    unsigned char buf[4096];
    (void)state;

    assert_int_equal(cf_kvkey_to_blob(K.rsa2048, &rsa), CF_OK);
    assert_int_equal(cf_kvkey_to_blob(K.ec[0], &ec), CF_OK);
    assert_int_equal(cf_kvkey_to_blob(K.oct[0], &oct), CF_OK);
    assert_memory_equal(rsa->p, "CFK\x01\x01", 5);
    assert_memory_equal(ec->p, "CFK\x01\x02", 5);
    assert_memory_equal(oct->p, "CFK\x01\x03", 5);
    assert_true(rsa->len < sizeof(buf));

    assert_int_equal(cf_kvkey_from_blob(NULL, 0, &k), CF_ECORRUPT);
    assert_null(k);
    assert_int_equal(cf_kvkey_from_blob("CFK\x01\x01", 5, &k), CF_ECORRUPT);
    assert_int_equal(cf_kvkey_from_blob("x", 1, &k), CF_ECORRUPT);
    /* wrong magic / version / type byte */
    memcpy(buf, rsa->p, rsa->len);
    buf[0] = 'X';
    assert_int_equal(cf_kvkey_from_blob(buf, rsa->len, &k), CF_ECORRUPT);
    memcpy(buf, rsa->p, rsa->len);
    buf[3] = 2;
    assert_int_equal(cf_kvkey_from_blob(buf, rsa->len, &k), CF_ECORRUPT);
    memcpy(buf, rsa->p, rsa->len);
    buf[4] = 0;
    assert_int_equal(cf_kvkey_from_blob(buf, rsa->len, &k), CF_ECORRUPT);
    buf[4] = 4;
    assert_int_equal(cf_kvkey_from_blob(buf, rsa->len, &k), CF_ECORRUPT);
    /* the type byte must match the PKCS#8 content */
    buf[4] = 2;
    assert_int_equal(cf_kvkey_from_blob(buf, rsa->len, &k), CF_ECORRUPT);
    memcpy(buf, ec->p, ec->len);
    buf[4] = 1;
    assert_int_equal(cf_kvkey_from_blob(buf, ec->len, &k), CF_ECORRUPT);
    /* truncated, one trailing byte, a flipped byte in the DER header */
    assert_int_equal(cf_kvkey_from_blob(rsa->p, rsa->len - 1, &k), CF_ECORRUPT);
    assert_int_equal(cf_kvkey_from_blob(ec->p, ec->len - 10, &k), CF_ECORRUPT);
    memcpy(buf, rsa->p, rsa->len);
    buf[rsa->len] = 0;
    assert_int_equal(cf_kvkey_from_blob(buf, rsa->len + 1, &k), CF_ECORRUPT);
    memcpy(buf, ec->p, ec->len);
    buf[5] ^= 0xff;
    assert_int_equal(cf_kvkey_from_blob(buf, ec->len, &k), CF_ECORRUPT);
    /* oct: 16/24/32 bytes only */
    assert_int_equal(cf_kvkey_from_blob(oct->p, oct->len - 1, &k), CF_ECORRUPT);
    memcpy(buf, oct->p, oct->len);
    memset(buf + oct->len, 0, 17);
    assert_int_equal(cf_kvkey_from_blob(buf, oct->len + 17, &k), CF_ECORRUPT);
    assert_int_equal(cf_kvkey_from_blob(buf, oct->len + 8, &k), CF_OK); /* 24 bytes: A192 */
    assert_int_equal(cf_kvkey_bits(k), 192);
    cf_kvkey_free(k);
    k = NULL;
    /* an oct blob tagged as RSA */
    memcpy(buf, oct->p, oct->len);
    buf[4] = 1;
    assert_int_equal(cf_kvkey_from_blob(buf, oct->len, &k), CF_ECORRUPT);
    assert_null(k);
    cf_secret_free(rsa);
    cf_secret_free(ec);
    cf_secret_free(oct);
}

/* ---- JWK import ---- */

static void test_jwk_rsa_interop(void **state)
{
    unsigned char dg[32], sig[256], ct[256];
    struct cf_kvkey *k = import_ok(RSA_JWK);
    struct cf_secret *pt = NULL;
    struct cf_json *j;
    bool valid = false;
    char why[200];
    (void)state;

    assert_int_equal(cf_kvkey_type(k), CF_KTY_RSA);
    assert_int_equal(cf_kvkey_bits(k), 2048);
    j = public_jwk(k);
    assert_string_equal(member(j, "n"), RSA_N);
    assert_string_equal(member(j, "e"), RSA_E);
    cf_json_free(j);
    test_unhex(MSG_SHA256, dg, sizeof(dg));

    test_unhex(RS256_SIG, sig, sizeof(sig));
    assert_int_equal(cf_kvkey_verify(k, "RS256", dg, 32, sig, 256, &valid, why, sizeof(why)),
                     CF_OK);
    assert_true(valid);
    assert_string_equal(why, "");
    assert_int_equal(cf_kvkey_verify(k, "PS256", dg, 32, sig, 256, &valid, NULL, 0), CF_OK);
    assert_false(valid); /* a PKCS#1 signature is not a PSS one */
    test_unhex(PS256_SIG, sig, sizeof(sig));
    assert_int_equal(cf_kvkey_verify(k, "PS256", dg, 32, sig, 256, &valid, NULL, 0), CF_OK);
    assert_true(valid);

    test_unhex(OAEP256_CT, ct, sizeof(ct));
    assert_int_equal(cf_kvkey_decrypt(k, "RSA-OAEP-256", ct, 256, &pt, why, sizeof(why)), CF_OK);
    assert_int_equal(pt->len, strlen(PT_OAEP));
    assert_memory_equal(pt->p, PT_OAEP, pt->len);
    cf_secret_free(pt);
    /* the same ciphertext under the SHA-1 OAEP alg does not decrypt: generic failure */
    assert_int_equal(cf_kvkey_decrypt(k, "RSA-OAEP", ct, 256, &pt, why, sizeof(why)), CF_ECRYPTO);
    assert_null(pt);
    assert_int_equal(cf_kvkey_unwrap(k, "RSA-OAEP-256", ct, 256, &pt, NULL, 0), CF_OK);
    assert_memory_equal(pt->p, PT_OAEP, pt->len);
    cf_secret_free(pt);

    test_unhex(OAEP1_CT, ct, sizeof(ct));
    assert_int_equal(cf_kvkey_decrypt(k, "RSA-OAEP", ct, 256, &pt, NULL, 0), CF_OK);
    assert_memory_equal(pt->p, PT_OAEP, pt->len);
    cf_secret_free(pt);
    test_unhex(PKCS1_CT, ct, sizeof(ct));
    assert_int_equal(cf_kvkey_decrypt(k, "RSA1_5", ct, 256, &pt, NULL, 0), CF_OK);
    assert_memory_equal(pt->p, PT_OAEP, pt->len);
    cf_secret_free(pt);
    cf_kvkey_free(k);
}

/* n, e, d only: the factors are recovered, the key decrypts openssl's ciphertext and round
 * trips through a blob. */
static void test_jwk_rsa_ned_only(void **state)
{
    char text[4096];
    unsigned char ct[256];
    struct cf_secret *pt = NULL, *blob = NULL;
    struct cf_kvkey *k, *k2 = NULL;
    (void)state;

    snprintf(text, sizeof(text), "{\"kty\":\"RSA-HSM\",\"n\":\"%s\",\"e\":\"%s\",\"d\":\"%s\"}",
             RSA_N, RSA_E, RSA_D);
    k = import_ok(text);
    test_unhex(OAEP256_CT, ct, sizeof(ct));
    assert_int_equal(cf_kvkey_decrypt(k, "RSA-OAEP-256", ct, 256, &pt, NULL, 0), CF_OK);
    assert_memory_equal(pt->p, PT_OAEP, pt->len);
    cf_secret_free(pt);
    assert_int_equal(cf_kvkey_to_blob(k, &blob), CF_OK);
    assert_int_equal(cf_kvkey_from_blob(blob->p, blob->len, &k2), CF_OK);
    assert_int_equal(cf_kvkey_decrypt(k2, "RSA-OAEP-256", ct, 256, &pt, NULL, 0), CF_OK);
    assert_memory_equal(pt->p, PT_OAEP, pt->len);
    cf_secret_free(pt);
    cf_secret_free(blob);
    cf_kvkey_free(k2);
    cf_kvkey_free(k);
}

static void test_jwk_ec_interop(void **state)
{
    unsigned char dg[32], rs[64], der[80];
    struct cf_kvkey *k = import_ok(EC256_JWK);
    struct cf_json *j;
    bool valid = false;
    size_t derlen;
    (void)state;

    assert_int_equal(cf_kvkey_curve(k), CF_CRV_P256);
    j = public_jwk(k);
    assert_string_equal(member(j, "x"), EC256_JWK_X);
    assert_string_equal(member(j, "y"), EC256_JWK_Y);
    cf_json_free(j);
    test_unhex(MSG_SHA256, dg, sizeof(dg));
    test_unhex(EC256_SIG_RS, rs, sizeof(rs));
    assert_int_equal(cf_kvkey_verify(k, "ES256", dg, 32, rs, 64, &valid, NULL, 0), CF_OK);
    assert_true(valid);
    /* every single-bit flip of r||s, and of the digest, fails */
    for (size_t bit = 0; bit < 64 * 8; bit += 7) {
        rs[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_equal(cf_kvkey_verify(k, "ES256", dg, 32, rs, 64, &valid, NULL, 0), CF_OK);
        assert_false(valid);
        rs[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    dg[31] ^= 1;
    assert_int_equal(cf_kvkey_verify(k, "ES256", dg, 32, rs, 64, &valid, NULL, 0), CF_OK);
    assert_false(valid);
    dg[31] ^= 1;
    /* the DER form openssl wrote is not accepted: JOSE r||s only */
    derlen = test_unhex(EC256_SIG_DER, der, sizeof(der));
    assert_int_equal(cf_kvkey_verify(k, "ES256", dg, 32, der, derlen, &valid, NULL, 0), CF_OK);
    assert_false(valid);
    /* r = s = 0 and r = s = 0xff.. (>= n) are invalid, not errors */
    memset(rs, 0, sizeof(rs));
    assert_int_equal(cf_kvkey_verify(k, "ES256", dg, 32, rs, 64, &valid, NULL, 0), CF_OK);
    assert_false(valid);
    memset(rs, 0xff, sizeof(rs));
    assert_int_equal(cf_kvkey_verify(k, "ES256", dg, 32, rs, 64, &valid, NULL, 0), CF_OK);
    assert_false(valid);
    cf_kvkey_free(k);

    k = import_ok(EC521_JWK);
    assert_int_equal(cf_kvkey_curve(k), CF_CRV_P521);
    assert_int_equal(cf_kvkey_bits(k), 521);
    j = public_jwk(k);
    assert_string_equal(member(j, "x"), EC521_JWK_X);
    assert_string_equal(member(j, "y"), EC521_JWK_Y);
    cf_json_free(j);
    cf_kvkey_free(k);

    k = import_ok(EC256K_JWK);
    assert_int_equal(cf_kvkey_curve(k), CF_CRV_P256K);
    j = public_jwk(k);
    assert_string_equal(member(j, "crv"), "P-256K");
    assert_string_equal(member(j, "x"), EC256K_JWK_X);
    assert_string_equal(member(j, "y"), EC256K_JWK_Y);
    cf_json_free(j);
    cf_kvkey_free(k);
}

static void test_jwk_oct(void **state)
{
    struct cf_kvkey *k = import_oct(KW128_K);
    char why[200];
    (void)state;
    assert_int_equal(cf_kvkey_type(k), CF_KTY_OCT);
    assert_int_equal(cf_kvkey_bits(k), 128);
    cf_kvkey_free(k);
    k = import_ok("{\"kty\":\"oct-HSM\",\"k\":\"WEDfbimwKvGrSTtwW_Fuoa6DOPTcwXao\"}");
    assert_int_equal(cf_kvkey_bits(k), 192);
    cf_kvkey_free(k);
    k = NULL;
    /* 20 bytes, 8 bytes, 48 bytes */
    assert_int_equal(
        import_text("{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODxAREhM\"}", &k, why),
        CF_EBADPARAM);
    assert_non_null(strstr(why, "160 bits"));
    assert_int_equal(import_text("{\"kty\":\"oct\",\"k\":\"AAECAwQFBgc\"}", &k, why), CF_EBADPARAM);
    assert_int_equal(import_text("{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBka"
                                 "GxwdHh8gISIjJCUmJygpKissLS4v\"}",
                                 &k, why),
                     CF_EBADPARAM);
    assert_int_equal(import_text("{\"kty\":\"oct\"}", &k, why), CF_EBADPARAM);
    assert_null(k);
}

/* A JWK text made from RSA members, with one member replaced (value NULL = left out). */
static void rsa_jwk_with(char *out, size_t outsz, const char *name, const char *value)
{
    const char *names[8] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    const char *vals[8] = {RSA_N, RSA_E, RSA_D, RSA_P, RSA_Q, RSA_DP, RSA_DQ, RSA_QI};
    size_t n = 0;

    n += (size_t)snprintf(out + n, outsz - n, "{\"kty\":\"RSA\"");
    for (int i = 0; i < 8; i++) {
        const char *v = strcmp(names[i], name) == 0 ? value : vals[i];
        if (v)
            n += (size_t)snprintf(out + n, outsz - n, ",\"%s\":\"%s\"", names[i], v);
    }
    snprintf(out + n, outsz - n, "}");
    assert_true(n < outsz - 2);
}

static void expect_bad(const char *text, const char *why_part)
{
    struct cf_kvkey *k = (struct cf_kvkey *)1;
    char why[200];
    cf_err e = import_text(text, &k, why);
    if (e != CF_EBADPARAM)
        fail_msg("expected CF_EBADPARAM, got %s (%s) for %.60s", cf_err_name(e), why, text);
    assert_null(k);
    assert_true(why[0] != '\0');
    if (why_part && !strstr(why, why_part))
        fail_msg("why '%s' lacks '%s'", why, why_part);
    /* no key bytes in the reason: none of the private members' first 12 characters appear */
    const char *priv[] = {RSA_D, RSA_P, RSA_Q, RSA_DP, RSA_DQ, RSA_QI, EC256_D, RSA_N};
    for (size_t i = 0; i < CF_ARRAY_LEN(priv); i++) {
        char head[13];
        snprintf(head, sizeof(head), "%s", priv[i]);
        assert_null(strstr(why, head));
    }
}

static void test_jwk_bad(void **state)
{
    char text[4096], v[1024];
    struct cf_kvkey *k = NULL;
    struct cf_json *j;
    char why[200];
    (void)state;

    expect_bad("[]", "JSON Web Key");
    expect_bad("{}", "kty");
    expect_bad("{\"kty\":\"DSA\"}", "not supported");
    expect_bad("{\"kty\":5}", "kty");
    expect_bad("{\"kty\":\"rsa\",\"n\":\"AQAB\"}", "not supported"); /* kty is case-sensitive */

    /* RSA: a missing member, public only, partial CRT, truncated members, wrong types */
    rsa_jwk_with(text, sizeof(text), "n", NULL);
    expect_bad(text, "'n'");
    rsa_jwk_with(text, sizeof(text), "e", NULL);
    expect_bad(text, "'e'");
    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", RSA_N, RSA_E);
    expect_bad(text, "private");
    rsa_jwk_with(text, sizeof(text), "qi", NULL);
    expect_bad(text, "incomplete");
    rsa_jwk_with(text, sizeof(text), "p", NULL);
    expect_bad(text, "incomplete");
    snprintf(v, sizeof(v), "%.*s", (int)strlen(RSA_N) - 4, RSA_N); /* 2045 bits */
    rsa_jwk_with(text, sizeof(text), "n", v);
    expect_bad(text, "2048");
    snprintf(v, sizeof(v), "%.*s", (int)strlen(RSA_D) - 4, RSA_D);
    rsa_jwk_with(text, sizeof(text), "d", v);
    expect_bad(text, "not consistent");
    snprintf(v, sizeof(v), "%.*s", (int)strlen(RSA_QI) - 4, RSA_QI);
    rsa_jwk_with(text, sizeof(text), "qi", v);
    expect_bad(text, "not consistent");
    snprintf(v, sizeof(v), "%.*s", (int)strlen(RSA_P) - 8, RSA_P);
    rsa_jwk_with(text, sizeof(text), "p", v);
    expect_bad(text, "not consistent");
    rsa_jwk_with(text, sizeof(text), "dp", RSA_DQ); /* swapped CRT exponent */
    expect_bad(text, "not consistent");
    rsa_jwk_with(text, sizeof(text), "e", "Aw"); /* e = 3 does not match d */
    expect_bad(text, "not consistent");
    rsa_jwk_with(text, sizeof(text), "e", "AAE"); /* e = 1 */
    expect_bad(text, "not consistent");
    rsa_jwk_with(text, sizeof(text), "d", "!!!!");
    expect_bad(text, "base64url");
    rsa_jwk_with(text, sizeof(text), "q", "");
    expect_bad(text, "base64url");
    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":65537,\"d\":\"%s\"}", RSA_N,
             RSA_D);
    expect_bad(text, "'e'");
    /* n, e, d only with an inconsistent d: no factor is found */
    snprintf(v, sizeof(v), "%s", RSA_D);
    v[10] = v[10] == 'A' ? 'B' : 'A';
    snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"d\":\"%s\"}", RSA_N,
             RSA_E, v);
    expect_bad(text, "not consistent");
    /* an oversized member is refused before decoding */
    memset(v, 'A', 1000);
    v[1000] = '\0';
    rsa_jwk_with(text, sizeof(text), "n", v);
    expect_bad(text, "too long");

    /* EC: unknown / missing crv, truncated or overlong coordinates, a d of another key */
    expect_bad("{\"kty\":\"EC\",\"crv\":\"P-224\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}",
               "curve");
    expect_bad("{\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}", "crv");
    snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
             EC256_JWK_X, EC256_JWK_Y);
    expect_bad(text, "private");
    snprintf(text, sizeof(text),
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%.40s\",\"y\":\"%s\",\"d\":\"%s\"}",
             EC256_JWK_X, EC256_JWK_Y, EC256_D);
    expect_bad(text, "not consistent");
    snprintf(text, sizeof(text),
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%sAAAA\",\"y\":\"%s\",\"d\":\"%s\"}",
             EC256_JWK_X, EC256_JWK_Y, EC256_D);
    expect_bad(text, "too long");
    snprintf(text, sizeof(text),
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%.40s\",\"d\":\"%s\"}",
             EC256_JWK_X, EC256_JWK_Y, EC256_D);
    expect_bad(text, "not consistent");
    snprintf(text, sizeof(text),
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%.40s\"}",
             EC256_JWK_X, EC256_JWK_Y, EC256_D);
    expect_bad(text, "not consistent");
    /* P-256 members labelled P-384: shorter values are padded, then the point is not on it */
    snprintf(text, sizeof(text),
             "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}",
             EC256_JWK_X, EC256_JWK_Y, EC256_D);
    expect_bad(text, "not consistent");
    /* P-256K point labelled P-256 */
    snprintf(text, sizeof(text),
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}",
             EC256K_JWK_X, EC256K_JWK_Y, EC256_D);
    expect_bad(text, "not consistent");

    /* BYOK is recognised and refused as not implemented */
    j = parse("{\"kty\":\"RSA-HSM\",\"key_hsm\":\"AAAA\"}");
    assert_int_equal(cf_kvkey_from_jwk(j, &k, why, sizeof(why)), CF_ENOTIMPL);
    assert_null(k);
    cf_json_free(j);
    /* why may be NULL */
    j = parse("{}");
    assert_int_equal(cf_kvkey_from_jwk(j, &k, NULL, 0), CF_EBADPARAM);
    cf_json_free(j);
}

/* ---- n, e, d only: factor recovery is bounded ---- */

/* Appends "name":"<base64url of bn>" to b. */
static void jwk_bn_member(struct cf_buf *b, const char *name, const BIGNUM *bn)
{
    unsigned char raw[600];
    int len = BN_bn2bin(bn, raw);

    assert_true(len > 0 && (size_t)len <= sizeof(raw));
    assert_int_equal(cf_buf_printf(b, ",\"%s\":\"", name), CF_OK);
    assert_int_equal(cf_b64url_encode(b, raw, (size_t)len), CF_OK);
    assert_int_equal(cf_buf_putc(b, '"'), CF_OK);
}

/* Imports {"kty":"RSA","n","e","d"}; returns the error and the CPU seconds it took. */
static cf_err import_ned(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, struct cf_kvkey **k,
                         double *cpu)
{
    struct cf_buf b;
    struct timespec t0, t1;
    char why[200];
    cf_err err;

    cf_buf_init(&b, 8192);
    assert_int_equal(cf_buf_puts(&b, "{\"kty\":\"RSA\""), CF_OK);
    jwk_bn_member(&b, "n", n);
    jwk_bn_member(&b, "e", e);
    jwk_bn_member(&b, "d", d);
    assert_int_equal(cf_buf_putc(&b, '}'), CF_OK);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    err = import_text(b.data, k, why);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    *cpu = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (err != CF_OK)
        assert_non_null(strstr(why, "not consistent"));
    cf_buf_release(&b);
    return err;
}

/* A fresh OpenSSL key (d = e^-1 mod lcm(p-1, q-1)) and the same key with d = e^-1 mod
 * (p-1)(q-1) both import from n, e, d alone, and the recovered key signs like the original. */
static void test_jwk_rsa_ned_generated(void **state)
{
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    BIGNUM *n = NULL, *e = NULL, *d = NULL, *p = NULL, *q = NULL, *phi = BN_new();
    BN_CTX *bc = BN_CTX_new();
    struct cf_kvkey *k = NULL;
    double cpu;
    (void)state;

    assert_non_null(pk);
    assert_true(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) &&
                EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) &&
                EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_D, &d) &&
                EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) &&
                EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR2, &q));
    assert_int_equal(import_ned(n, e, d, &k, &cpu), CF_OK);
    assert_int_equal(cf_kvkey_bits(k), 2048);
    cf_kvkey_free(k);
    k = NULL;
    assert_true(BN_sub_word(p, 1) && BN_sub_word(q, 1) && BN_mul(phi, p, q, bc) &&
                BN_mod_inverse(d, e, phi, bc));
    assert_int_equal(import_ned(n, e, d, &k, &cpu), CF_OK);
    cf_kvkey_free(k);
    BN_CTX_free(bc);
    BN_free(phi);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_clear_free(d);
    BN_free(e);
    BN_free(n);
    EVP_PKEY_free(pk);
}

/* Bogus 4096-bit n, e, d are refused quickly (the old SP 800-56B loop spent 3-11 s of CPU on
 * them; the bound is generous for sanitizer builds on a busy machine):
 *  - d = e^-1 mod 2^4000, so d*e - 1 has 4000 factors of two (100 bases x 4000 squarings);
 *  - n a prime (RFC 3526's 4096-bit group) and d = e^-1 mod (n - 1): 2^(de-1) = 1 mod n, so
 *    every base passes the Fermat test and none splits n;
 *  - n and d*e - 1 consecutive Fibonacci numbers: the continued fraction of (de-1)/n is all
 *    ones, the longest run of convergents there is. */
static void test_jwk_rsa_ned_bogus_fast(void **state)
{
    BIGNUM *n = BN_new(), *e = BN_new(), *d = BN_new(), *m = BN_new(), *f0 = BN_new();
    BN_CTX *bc = BN_CTX_new();
    struct cf_kvkey *k = NULL;
    double cpu;
    (void)state;

    assert_true(n && e && d && m && f0 && bc && BN_set_word(e, 65537));
    /* 1: 2^4095 + 2^2000 + 1 */
    assert_true(BN_set_bit(n, 4095) && BN_set_bit(n, 2000) && BN_set_bit(n, 0));
    assert_true(BN_set_bit(m, 4000) && BN_mod_inverse(d, e, m, bc));
    assert_int_equal(import_ned(n, e, d, &k, &cpu), CF_EBADPARAM);
    print_message("bogus n,e,d (2^4000 | de-1): %.1f ms CPU\n", cpu * 1e3);
    assert_true(cpu < 2.0);
    /* 2: prime n */
    assert_non_null(BN_get_rfc3526_prime_4096(n));
    assert_true(BN_copy(m, n) && BN_sub_word(m, 1) && BN_mod_inverse(d, e, m, bc));
    assert_int_equal(import_ned(n, e, d, &k, &cpu), CF_EBADPARAM);
    print_message("bogus n,e,d (n prime): %.1f ms CPU\n", cpu * 1e3);
    assert_true(cpu < 2.0);
    /* 3: the first Fibonacci number of 4096 bits as n, d = floor(F(i+1) / e), made odd: d*e - 1
     * is within 2e of F(i+1), which leaves the continued fraction's first 2000 or so terms ones */
    BN_zero(f0);
    assert_true(BN_one(n));
    while (BN_num_bits(n) < 4096) /* n = F(i), f0 = F(i-1) */
        assert_true(BN_add(m, n, f0) && BN_copy(f0, n) && BN_copy(n, m));
    assert_true(BN_add(m, n, f0) && BN_div(d, NULL, m, e, bc));
    if (!BN_is_odd(d)) /* d*e - 1 even, or it is refused before the recovery */
        assert_true(BN_sub_word(d, 1));
    assert_int_equal(import_ned(n, e, d, &k, &cpu), CF_EBADPARAM);
    print_message("bogus n,e,d (Fibonacci): %.1f ms CPU\n", cpu * 1e3);
    assert_true(cpu < 2.0);
    assert_null(k);
    BN_CTX_free(bc);
    BN_free(f0);
    BN_free(m);
    BN_clear_free(d);
    BN_free(e);
    BN_free(n);
}

/* ---- sign / verify ---- */

struct sig_case {
    const char *alg;
    struct cf_kvkey **key;
    size_t dlen, siglen;
};

static void test_sign_verify_all(void **state)
{
    struct sig_case cases[] = {
        {"RS256", &K.rsa2048, 32, 256}, {"RS384", &K.rsa2048, 48, 256},
        {"RS512", &K.rsa3072, 64, 384}, {"PS256", &K.rsa2048, 32, 256},
        {"PS384", &K.rsa3072, 48, 384}, {"PS512", &K.rsa4096, 64, 512},
        {"RS256", &K.rsa4096, 32, 512}, {"RSNULL", &K.rsa2048, 35, 256},
        {"ES256", &K.ec[0], 32, 64},    {"ES384", &K.ec[1], 48, 96},
        {"ES512", &K.ec[2], 64, 132},   {"ES256K", &K.ec[3], 32, 64},
        {"HS256", &K.oct[0], 32, 32},   {"HS384", &K.oct[1], 48, 48},
        {"HS512", &K.oct[2], 64, 64},
    };
    (void)state;

    for (size_t i = 0; i < CF_ARRAY_LEN(cases); i++) {
        const struct sig_case *c = &cases[i];
        unsigned char dg[64];
        struct cf_buf sig;
        bool valid = false;
        char why[200];

        fill(dg, c->dlen, (unsigned)i);
        cf_buf_init(&sig, 4096);
        assert_int_equal(cf_buf_append(&sig, "pre", 3), CF_OK); /* sign appends */
        if (cf_kvkey_sign(*c->key, c->alg, dg, c->dlen, &sig, why, sizeof(why)) != CF_OK)
            fail_msg("%s: sign failed: %s", c->alg, why);
        assert_int_equal(sig.len, 3 + c->siglen);
        assert_memory_equal(sig.data, "pre", 3);
        assert_int_equal(cf_kvkey_verify(*c->key, c->alg, dg, c->dlen, sig.data + 3, c->siglen,
                                         &valid, why, sizeof(why)),
                         CF_OK);
        if (!valid)
            fail_msg("%s: own signature does not verify", c->alg);
        /* a flipped bit in the signature, in the digest; a truncated signature */
        sig.data[3 + c->siglen / 2] ^= 0x10;
        assert_int_equal(
            cf_kvkey_verify(*c->key, c->alg, dg, c->dlen, sig.data + 3, c->siglen, &valid, NULL, 0),
            CF_OK);
        assert_false(valid);
        sig.data[3 + c->siglen / 2] ^= 0x10;
        dg[0] ^= 0x01;
        assert_int_equal(
            cf_kvkey_verify(*c->key, c->alg, dg, c->dlen, sig.data + 3, c->siglen, &valid, NULL, 0),
            CF_OK);
        assert_false(valid);
        dg[0] ^= 0x01;
        assert_int_equal(cf_kvkey_verify(*c->key, c->alg, dg, c->dlen, sig.data + 3, c->siglen - 1,
                                         &valid, NULL, 0),
                         CF_OK);
        assert_false(valid);
        assert_int_equal(cf_kvkey_verify(*c->key, c->alg, dg, c->dlen, NULL, 0, &valid, NULL, 0),
                         CF_OK);
        assert_false(valid);
        cf_buf_release(&sig);
    }
}

/* ECDSA is randomised, RSA PKCS#1 deterministic: two RS256 signatures are equal, two ES256 not. */
static void test_sign_determinism(void **state)
{
    unsigned char dg[32];
    struct cf_buf a, b;
    (void)state;
    fill(dg, sizeof(dg), 9);
    cf_buf_init(&a, 1024);
    cf_buf_init(&b, 1024);
    assert_int_equal(cf_kvkey_sign(K.rsa2048, "RS256", dg, 32, &a, NULL, 0), CF_OK);
    assert_int_equal(cf_kvkey_sign(K.rsa2048, "RS256", dg, 32, &b, NULL, 0), CF_OK);
    assert_memory_equal(a.data, b.data, 256);
    cf_buf_reset(&a);
    cf_buf_reset(&b);
    assert_int_equal(cf_kvkey_sign(K.ec[0], "ES256", dg, 32, &a, NULL, 0), CF_OK);
    assert_int_equal(cf_kvkey_sign(K.ec[0], "ES256", dg, 32, &b, NULL, 0), CF_OK);
    assert_memory_not_equal(a.data, b.data, 64);
    cf_buf_release(&a);
    cf_buf_release(&b);
}

static void expect_sign_err(const struct cf_kvkey *k, const char *alg, size_t dlen, cf_err want,
                            const char *why_want)
{
    unsigned char dg[80], sig[600];
    struct cf_buf out;
    bool valid = true;
    char why[200];

    fill(dg, sizeof(dg), 3);
    memset(sig, 1, sizeof(sig));
    cf_buf_init(&out, 4096);
    assert_int_equal(cf_kvkey_sign(k, alg, dg, dlen, &out, why, sizeof(why)), want);
    assert_int_equal(out.len, 0);
    if (why_want && strcmp(why, why_want) != 0 && !strstr(why, why_want))
        fail_msg("sign %s: why '%s', expected '%s'", alg ? alg : "(null)", why, why_want);
    assert_int_equal(cf_kvkey_verify(k, alg, dg, dlen, sig, 64, &valid, why, sizeof(why)), want);
    assert_false(valid);
    cf_buf_release(&out);
}

static void test_sign_bad(void **state)
{
    (void)state;
    /* the exact text Azure gives for a wrong digest length */
    expect_sign_err(K.ec[0], "ES256", 43, CF_EBADPARAM,
                    "Invalid length of 'value': 43 bytes. ES256 requires 32 bytes, encoded with "
                    "base64url.");
    expect_sign_err(K.rsa2048, "RS256", 48, CF_EBADPARAM,
                    "Invalid length of 'value': 48 bytes. RS256 requires 32 bytes, encoded with "
                    "base64url.");
    expect_sign_err(K.rsa2048, "PS512", 32, CF_EBADPARAM, "PS512 requires 64 bytes");
    expect_sign_err(K.ec[2], "ES512", 66, CF_EBADPARAM, "ES512 requires 64 bytes");
    expect_sign_err(K.ec[1], "ES384", 0, CF_EBADPARAM, "0 bytes");
    expect_sign_err(K.oct[0], "HS256", 31, CF_EBADPARAM, "HS256 requires 32 bytes");
    expect_sign_err(K.rsa2048, "RSNULL", 0, CF_EBADPARAM, "RSNULL");
    expect_sign_err(K.rsa2048, "RSNULL", 246, CF_EBADPARAM, "1 to 245 bytes");
    /* unknown / missing alg; algs of another key type, curve or operation */
    expect_sign_err(K.rsa2048, "RS257", 32, CF_EBADPARAM, "Invalid algorithm 'RS257'");
    expect_sign_err(K.rsa2048, "rs256", 32, CF_EBADPARAM, "Invalid algorithm");
    expect_sign_err(K.rsa2048, "RS256\"<x>", 32, CF_EBADPARAM, "Invalid algorithm '?'");
    expect_sign_err(K.rsa2048, "", 32, CF_EBADPARAM, "'alg' is required");
    expect_sign_err(K.rsa2048, NULL, 32, CF_EBADPARAM, "'alg' is required");
    expect_sign_err(K.rsa2048, "ES256", 32, CF_EBADPARAM, "not supported for a key of type RSA");
    expect_sign_err(K.ec[0], "RS256", 32, CF_EBADPARAM, "not supported for a key of type EC");
    expect_sign_err(K.ec[0], "ES384", 48, CF_EBADPARAM, "requires curve P-384");
    expect_sign_err(K.ec[0], "ES256K", 32, CF_EBADPARAM, "requires curve P-256K");
    expect_sign_err(K.ec[3], "ES256", 32, CF_EBADPARAM, "requires curve P-256;");
    expect_sign_err(K.oct[2], "RS256", 32, CF_EBADPARAM, "type oct");
    expect_sign_err(K.rsa2048, "HS256", 32, CF_EBADPARAM, "type RSA");
    expect_sign_err(K.rsa2048, "RSA-OAEP", 32, CF_EBADPARAM, "not valid for this operation");
    expect_sign_err(K.oct[0], "A128KW", 32, CF_EBADPARAM, "not valid for this operation");
}

/* ---- RSA encryption ---- */

static void test_rsa_encrypt_round_trip(void **state)
{
    static const struct {
        const char *alg;
        size_t overhead;
    } algs[] = {{"RSA1_5", 11}, {"RSA-OAEP", 42}, {"RSA-OAEP-256", 66}};
    struct cf_kvkey *keys[3] = {K.rsa2048, K.rsa3072, K.rsa4096};
    unsigned char pt[512];
    (void)state;

    for (size_t ki = 0; ki < 3; ki++) {
        size_t kb = (size_t)cf_kvkey_bits(keys[ki]) / 8;
        for (size_t ai = 0; ai < 3; ai++) {
            size_t sizes[3] = {0, 32, kb - algs[ai].overhead};
            for (size_t si = 0; si < 3; si++) {
                struct cf_secret *out = NULL;
                struct cf_buf ct;
                size_t n = sizes[si];
                fill(pt, n, (unsigned)(ki + ai + si));
                cf_buf_init(&ct, 4096);
                assert_int_equal(cf_kvkey_encrypt(keys[ki], algs[ai].alg, pt, n, &ct, NULL, 0),
                                 CF_OK);
                assert_int_equal(ct.len, kb);
                assert_int_equal(
                    cf_kvkey_decrypt(keys[ki], algs[ai].alg, ct.data, ct.len, &out, NULL, 0),
                    CF_OK);
                assert_int_equal(out->len, n);
                if (n)
                    assert_memory_equal(out->p, pt, n);
                cf_secret_free(out);
                /* wrap/unwrap are the same operation */
                cf_buf_reset(&ct);
                assert_int_equal(cf_kvkey_wrap(keys[ki], algs[ai].alg, pt, n, &ct, NULL, 0), CF_OK);
                assert_int_equal(
                    cf_kvkey_unwrap(keys[ki], algs[ai].alg, ct.data, ct.len, &out, NULL, 0), CF_OK);
                assert_int_equal(out->len, n);
                cf_secret_free(out);
                cf_buf_release(&ct);
            }
        }
    }
}

static void test_rsa_encrypt_bad(void **state)
{
    unsigned char pt[600], ct[256];
    struct cf_secret *out = (struct cf_secret *)1;
    struct cf_buf b;
    char why[200];
    (void)state;

    fill(pt, sizeof(pt), 1);
    cf_buf_init(&b, 4096);
    /* one byte over the limit per algorithm (2048-bit key: 245 / 214 / 190) */
    assert_int_equal(cf_kvkey_encrypt(K.rsa2048, "RSA1_5", pt, 246, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "at most 245 bytes"));
    assert_int_equal(cf_kvkey_encrypt(K.rsa2048, "RSA-OAEP", pt, 215, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "at most 214 bytes"));
    assert_int_equal(cf_kvkey_encrypt(K.rsa2048, "RSA-OAEP-256", pt, 191, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "at most 190 bytes"));
    assert_int_equal(cf_kvkey_wrap(K.rsa2048, "RSA-OAEP-256", pt, 191, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(b.len, 0);
    /* decrypt: wrong length is a parameter error, garbage of the right length a crypto error */
    assert_int_equal(cf_kvkey_decrypt(K.rsa2048, "RSA-OAEP", pt, 255, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_null(out);
    assert_int_equal(cf_kvkey_decrypt(K.rsa2048, "RSA-OAEP", pt, 257, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_kvkey_decrypt(K.rsa2048, "RSA-OAEP", NULL, 0, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    for (int alg = 0; alg < 3; alg++) {
        const char *names[3] = {"RSA1_5", "RSA-OAEP", "RSA-OAEP-256"};
        assert_int_equal(cf_kvkey_encrypt(K.rsa2048, names[alg], pt, 16, &b, NULL, 0), CF_OK);
        memcpy(ct, b.data, 256);
        cf_buf_reset(&b);
        ct[100] ^= 0x40;
        assert_int_equal(cf_kvkey_decrypt(K.rsa2048, names[alg], ct, 256, &out, why, sizeof(why)),
                         CF_ECRYPTO);
        assert_null(out);
        assert_int_equal(cf_kvkey_unwrap(K.rsa2048, names[alg], ct, 256, &out, NULL, 0),
                         CF_ECRYPTO);
        assert_null(out);
    }
    /* wrong key type / op */
    assert_int_equal(cf_kvkey_encrypt(K.ec[0], "RSA-OAEP", pt, 16, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "type EC"));
    assert_int_equal(cf_kvkey_encrypt(K.rsa2048, "A128GCM", pt, 16, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_kvkey_encrypt(K.rsa2048, "RS256", pt, 16, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "not valid for this operation"));
    assert_int_equal(cf_kvkey_encrypt(K.rsa2048, "RSA-OAEP-512", pt, 16, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_kvkey_wrap(K.ec[0], "RSA-OAEP", pt, 16, &b, NULL, 0), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_unwrap(K.ec[0], "RSA-OAEP", pt, 16, &out, NULL, 0), CF_EBADPARAM);
    assert_int_equal(b.len, 0);
    cf_buf_release(&b);
}

/* ---- AES ---- */

static void test_aes_kw_vectors(void **state)
{
    unsigned char kd[32], want[40];
    struct cf_secret *out = NULL;
    struct cf_kvkey *k;
    struct cf_buf b;
    size_t n;
    char why[200];
    (void)state;

    cf_buf_init(&b, 4096);
    /* RFC 3394 §4.1: 128-bit KEK, 128-bit key data */
    k = import_oct(KW128_K);
    test_unhex("00112233445566778899AABBCCDDEEFF", kd, 16);
    test_unhex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", want, 24);
    assert_int_equal(cf_kvkey_wrap(k, "A128KW", kd, 16, &b, NULL, 0), CF_OK);
    assert_int_equal(b.len, 24);
    assert_memory_equal(b.data, want, 24);
    assert_int_equal(cf_kvkey_unwrap(k, "A128KW", want, 24, &out, NULL, 0), CF_OK);
    assert_int_equal(out->len, 16);
    assert_memory_equal(out->p, kd, 16);
    cf_secret_free(out);
    /* the PKCS#11 name and encrypt/decrypt do the same */
    cf_buf_reset(&b);
    assert_int_equal(cf_kvkey_wrap(k, "CKM_AES_KEY_WRAP", kd, 16, &b, NULL, 0), CF_OK);
    assert_memory_equal(b.data, want, 24);
    cf_buf_reset(&b);
    assert_int_equal(cf_kvkey_encrypt(k, "A128KW", kd, 16, &b, NULL, 0), CF_OK);
    assert_memory_equal(b.data, want, 24);
    assert_int_equal(cf_kvkey_decrypt(k, "A128KW", want, 24, &out, NULL, 0), CF_OK);
    cf_secret_free(out);
    /* tampered: integrity check fails, generic error */
    want[3] ^= 1;
    assert_int_equal(cf_kvkey_unwrap(k, "A128KW", want, 24, &out, why, sizeof(why)), CF_ECRYPTO);
    assert_null(out);
    /* size / alg mismatches */
    cf_buf_reset(&b);
    assert_int_equal(cf_kvkey_wrap(k, "A256KW", kd, 16, &b, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "requires a 256-bit key"));
    assert_int_equal(cf_kvkey_wrap(k, "A128KW", kd, 15, &b, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_wrap(k, "A128KW", kd, 8, &b, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_wrap(k, "A128KW", kd, 20, &b, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_unwrap(k, "A128KW", want, 16, &out, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_unwrap(k, "A128KW", want, 23, &out, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_wrap(k, "A128GCM", kd, 16, &b, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_wrap(k, "RSA-OAEP", kd, 16, &b, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(b.len, 0);
    cf_kvkey_free(k);

    /* RFC 3394 §4.6: 256-bit KEK, 256-bit key data */
    k = import_oct(KW256_K);
    test_unhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", kd, 32);
    test_unhex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
               want, 40);
    assert_int_equal(cf_kvkey_wrap(k, "A256KW", kd, 32, &b, NULL, 0), CF_OK);
    assert_memory_equal(b.data, want, 40);
    assert_int_equal(cf_kvkey_unwrap(k, "A256KW", want, 40, &out, NULL, 0), CF_OK);
    assert_memory_equal(out->p, kd, 32);
    cf_secret_free(out);
    cf_kvkey_free(k);

    /* RFC 5649 §6: 192-bit KEK, 20 octets of key data, with padding */
    k = import_oct(KWP192_K);
    cf_buf_reset(&b);
    n = test_unhex("c37b7e6492584340bed12207808941155068f738", kd, sizeof(kd));
    test_unhex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a", want, 32);
    assert_int_equal(cf_kvkey_wrap(k, "CKM_AES_KEY_WRAP_PAD", kd, n, &b, NULL, 0), CF_OK);
    assert_int_equal(b.len, 32);
    assert_memory_equal(b.data, want, 32);
    assert_int_equal(cf_kvkey_unwrap(k, "CKM_AES_KEY_WRAP_PAD", want, 32, &out, NULL, 0), CF_OK);
    assert_int_equal(out->len, n);
    assert_memory_equal(out->p, kd, n);
    cf_secret_free(out);
    assert_int_equal(cf_kvkey_wrap(k, "CKM_AES_KEY_WRAP_PAD", kd, 0, &b, NULL, 0), CF_EBADPARAM);
    want[20] ^= 1;
    assert_int_equal(cf_kvkey_unwrap(k, "CKM_AES_KEY_WRAP_PAD", want, 32, &out, NULL, 0),
                     CF_ECRYPTO);
    assert_null(out);
    assert_int_equal(cf_kvkey_unwrap(k, "CKM_AES_KEY_WRAP_PAD", want, 12, &out, NULL, 0),
                     CF_EBADPARAM);
    /* 192-bit key: A192KW works, A128KW does not */
    cf_buf_reset(&b);
    assert_int_equal(cf_kvkey_wrap(k, "A192KW", kd, 16, &b, NULL, 0), CF_OK);
    assert_int_equal(cf_kvkey_wrap(k, "A128KW", kd, 16, &b, NULL, 0), CF_EBADPARAM);
    cf_kvkey_free(k);
    cf_buf_release(&b);
}

static void test_aes_gcm(void **state)
{
    /* GCM spec test case 16 (AES-256, 96-bit IV, 20 bytes AAD) */
    unsigned char ct[60], pt[60], aad[20];
    struct cf_kvkey_sym sym = {0}, enc = {0};
    struct cf_secret *out = NULL;
    struct cf_kvkey *k = import_oct(GCM_K);
    struct cf_buf b;
    char why[200];
    (void)state;

    test_unhex("cafebabefacedbaddecaf888", sym.iv, 12);
    sym.iv_len = 12;
    test_unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
               "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
               ct, sizeof(ct));
    test_unhex("76fc6ece0f4e1768cddf8853bb2d551b", sym.tag, 16);
    sym.tag_len = 16;
    test_unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, sizeof(aad));
    sym.aad = aad;
    sym.aad_len = sizeof(aad);
    test_unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
               "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
               pt, sizeof(pt));
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A256GCM", ct, 60, &sym, &out, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(out->len, 60);
    assert_memory_equal(out->p, pt, 60);
    cf_secret_free(out);
    /* encrypt with the same IV gives the same ciphertext and tag */
    cf_buf_init(&b, 4096);
    enc.aad = aad;
    enc.aad_len = sizeof(aad);
    memcpy(enc.iv, sym.iv, 12);
    enc.iv_len = 12;
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A256GCM", pt, 60, &enc, &b, NULL, 0), CF_OK);
    assert_int_equal(b.len, 60);
    assert_memory_equal(b.data, ct, 60);
    assert_int_equal(enc.tag_len, 16);
    assert_memory_equal(enc.tag, sym.tag, 16);
    /* tampering with ciphertext, tag or AAD: generic failure, no plaintext */
    ct[0] ^= 1;
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A256GCM", ct, 60, &sym, &out, NULL, 0), CF_ECRYPTO);
    assert_null(out);
    ct[0] ^= 1;
    sym.tag[15] ^= 1;
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A256GCM", ct, 60, &sym, &out, NULL, 0), CF_ECRYPTO);
    sym.tag[15] ^= 1;
    sym.aad_len = 19;
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A256GCM", ct, 60, &sym, &out, NULL, 0), CF_ECRYPTO);
    sym.aad_len = 20;
    /* bad tag / IV lengths, missing sym, wrong key size */
    sym.tag_len = 12;
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A256GCM", ct, 60, &sym, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "'tag'"));
    sym.tag_len = 16;
    sym.iv_len = 16;
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A256GCM", ct, 60, &sym, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "'iv'"));
    sym.iv_len = 0;
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A256GCM", ct, 60, &sym, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    sym.iv_len = 12;
    sym.aad = NULL; /* a length without bytes is API misuse */
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A256GCM", ct, 60, &sym, &out, NULL, 0), CF_EINVAL);
    sym.aad = aad;
    assert_int_equal(cf_kvkey_decrypt(k, "A256GCM", ct, 60, &out, why, sizeof(why)), CF_EINVAL);
    assert_int_equal(cf_kvkey_encrypt(k, "A256GCM", pt, 60, &b, why, sizeof(why)), CF_EINVAL);
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A128GCM", pt, 60, &enc, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(b.len, 60);
    cf_kvkey_free(k);

    /* generated IVs differ; empty plaintext with AAD only; every size of key */
    for (int i = 0; i < 3; i++) {
        const char *alg = i == 0 ? "A128GCM" : i == 1 ? "A192GCM" : "A256GCM";
        struct cf_kvkey_sym s1 = {0}, s2 = {0};
        cf_buf_reset(&b);
        s1.aad = "hdr";
        s1.aad_len = 3;
        assert_int_equal(cf_kvkey_encrypt_ex(K.oct[i], alg, pt, 17, &s1, &b, NULL, 0), CF_OK);
        assert_int_equal(s1.iv_len, 12);
        assert_int_equal(cf_kvkey_encrypt_ex(K.oct[i], alg, NULL, 0, &s2, &b, NULL, 0), CF_OK);
        assert_int_equal(b.len, 17);
        assert_memory_not_equal(s1.iv, s2.iv, 12);
        assert_int_equal(cf_kvkey_decrypt_ex(K.oct[i], alg, b.data, 17, &s1, &out, NULL, 0), CF_OK);
        assert_memory_equal(out->p, pt, 17);
        cf_secret_free(out);
        assert_int_equal(cf_kvkey_decrypt_ex(K.oct[i], alg, NULL, 0, &s2, &out, NULL, 0), CF_OK);
        assert_int_equal(out->len, 0);
        cf_secret_free(out);
    }
    cf_buf_release(&b);
}

static void test_aes_cbc(void **state)
{
    unsigned char pt[32], ct[16];
    struct cf_kvkey_sym sym = {0};
    struct cf_secret *out = NULL;
    struct cf_kvkey *k = import_oct(CBC128_K);
    struct cf_buf b;
    char why[200];
    (void)state;

    /* SP 800-38A F.2.1, first block */
    test_unhex("000102030405060708090a0b0c0d0e0f", sym.iv, 16);
    sym.iv_len = 16;
    test_unhex("6bc1bee22e409f96e93d7e117393172a", pt, 16);
    test_unhex("7649abac8119b246cee98e9b12e9197d", ct, 16);
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A128CBC", pt, 16, &sym, &b, NULL, 0), CF_OK);
    assert_int_equal(b.len, 16);
    assert_memory_equal(b.data, ct, 16);
    assert_int_equal(sym.tag_len, 0);
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A128CBC", ct, 16, &sym, &out, NULL, 0), CF_OK);
    assert_memory_equal(out->p, pt, 16);
    cf_secret_free(out);
    /* no padding: lengths must be multiples of 16 */
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A128CBC", pt, 15, &sym, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "multiple of 16"));
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A128CBC", ct, 15, &sym, &out, NULL, 0), CF_EBADPARAM);
    /* aad is GCM-only; the IV is 16 bytes */
    sym.aad = "x";
    sym.aad_len = 1;
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A128CBC", pt, 16, &sym, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "'aad'"));
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A128KW", pt, 16, &sym, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    sym.aad_len = 0;
    sym.iv_len = 12;
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A128CBC", pt, 16, &sym, &b, why, sizeof(why)),
                     CF_EBADPARAM);

    /* CBCPAD: 5 bytes -> one block with a generated IV, and back */
    struct cf_kvkey_sym s2 = {0};
    cf_buf_reset(&b);
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A128CBCPAD", "hello", 5, &s2, &b, NULL, 0), CF_OK);
    assert_int_equal(b.len, 16);
    assert_int_equal(s2.iv_len, 16);
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A128CBCPAD", b.data, 16, &s2, &out, NULL, 0), CF_OK);
    assert_int_equal(out->len, 5);
    assert_memory_equal(out->p, "hello", 5);
    cf_secret_free(out);
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A128CBCPAD", b.data, 0, &s2, &out, NULL, 0),
                     CF_EBADPARAM);
    /* a block that decrypts to a last byte 0 is bad padding: generic failure */
    cf_buf_reset(&b);
    memset(pt, 0, 16);
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A128CBC", pt, 16, &s2, &b, NULL, 0), CF_OK);
    assert_int_equal(cf_kvkey_decrypt_ex(k, "A128CBCPAD", b.data, 16, &s2, &out, why, sizeof(why)),
                     CF_ECRYPTO);
    assert_null(out);
    assert_int_equal(cf_kvkey_encrypt_ex(k, "A256CBCPAD", pt, 16, &s2, &b, NULL, 0), CF_EBADPARAM);
    cf_kvkey_free(k);
    cf_buf_release(&b);
}

static void test_oct_wrong_algs(void **state)
{
    struct cf_secret *out = NULL;
    unsigned char in[32] = {0};
    struct cf_buf b;
    bool valid;
    char why[200];
    (void)state;

    cf_buf_init(&b, 1024);
    assert_int_equal(cf_kvkey_encrypt(K.oct[2], "RSA-OAEP", in, 16, &b, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "type oct"));
    assert_int_equal(cf_kvkey_sign(K.oct[2], "ES256", in, 32, &b, NULL, 0), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_verify(K.oct[2], "PS256", in, 32, in, 32, &valid, NULL, 0),
                     CF_EBADPARAM);
    assert_int_equal(cf_kvkey_unwrap(K.oct[2], "A256GCM", in, 32, &out, NULL, 0), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_decrypt(K.ec[0], "A256KW", in, 32, &out, NULL, 0), CF_EBADPARAM);
    assert_int_equal(b.len, 0);
    cf_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crv_names),        cmocka_unit_test(test_generate_shapes),
        cmocka_unit_test(test_generate_bad),     cmocka_unit_test(test_generate_rsa_exponent),
        cmocka_unit_test(test_oct_keys_differ),  cmocka_unit_test(test_blob_round_trip),
        cmocka_unit_test(test_blob_bad),         cmocka_unit_test(test_jwk_rsa_interop),
        cmocka_unit_test(test_jwk_rsa_ned_only),
        cmocka_unit_test(test_jwk_rsa_ned_generated), cmocka_unit_test(test_jwk_rsa_ned_bogus_fast), cmocka_unit_test(test_jwk_ec_interop),
        cmocka_unit_test(test_jwk_oct),          cmocka_unit_test(test_jwk_bad),
        cmocka_unit_test(test_sign_verify_all),  cmocka_unit_test(test_sign_determinism),
        cmocka_unit_test(test_sign_bad),         cmocka_unit_test(test_rsa_encrypt_round_trip),
        cmocka_unit_test(test_rsa_encrypt_bad),  cmocka_unit_test(test_aes_kw_vectors),
        cmocka_unit_test(test_aes_gcm),          cmocka_unit_test(test_aes_cbc),
        cmocka_unit_test(test_oct_wrong_algs),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
