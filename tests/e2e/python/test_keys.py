"""Coffer e2e: keys through Debian's python3-azure (azure-keyvault-keys 4.8.0b3) and its
CryptographyClient on /usr/bin/python3: create/import/get/list/update, delete/recover/purge,
backup/restore, rotate + policy, random bytes, and crypto on both paths (Python encrypts, wraps
and verifies locally with the public key; sign/decrypt/unwrap go to the service), cross-checked
with the `cryptography` package. Run by tests/e2e/suites/python.sh with cofferd's DIR/env."""
import hashlib
import logging
import os
import re
import secrets
import time
import unittest

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.keys import (
    JsonWebKey,
    KeyClient,
    KeyRotationLifetimeAction,
    KeyRotationPolicy,
    KeyRotationPolicyAction,
)
from azure.keyvault.keys.crypto import (
    CryptographyClient,
    EncryptionAlgorithm,
    KeyWrapAlgorithm,
    SignatureAlgorithm,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

HEX32 = re.compile(r"^[0-9a-f]{32}$")
CURVES = [  # crv, alg, hash, coordinate bytes, cryptography curve
    ("P-256", "ES256", hashlib.sha256, 32, ec.SECP256R1()),
    ("P-384", "ES384", hashlib.sha384, 48, ec.SECP384R1()),
    ("P-521", "ES512", hashlib.sha512, 66, ec.SECP521R1()),
    ("P-256K", "ES256K", hashlib.sha256, 32, ec.SECP256K1()),
]
RSA_SIGN = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512,
            "PS256": hashes.SHA256, "PS384": hashes.SHA384, "PS512": hashes.SHA512}


def env(name):
    v = os.environ.get(name)
    if not v:
        raise RuntimeError(f"{name} is not set (run through tests/e2e/run.sh)")
    return v


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(6)}"


def i2b(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


def rsa_jwk(priv, ops):
    pn, pub = priv.private_numbers(), priv.public_key().public_numbers()
    return JsonWebKey(kty="RSA", key_ops=ops, n=i2b(pub.n), e=i2b(pub.e), d=i2b(pn.d), p=i2b(pn.p),
                      q=i2b(pn.q), dp=i2b(pn.dmp1), dq=i2b(pn.dmq1), qi=i2b(pn.iqmp))


def ec_jwk(priv, crv, size, ops):
    pn = priv.private_numbers()
    return JsonWebKey(kty="EC", crv=crv, key_ops=ops, x=i2b(pn.public_numbers.x, size),
                      y=i2b(pn.public_numbers.y, size), d=i2b(pn.private_value, size))


def rsa_public(jwk):
    return rsa.RSAPublicNumbers(int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")).public_key()


def verify_rsa(pub, alg, dg, sig):
    h = RSA_SIGN[alg]()
    pad = (padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size) if alg.startswith("PS")
           else padding.PKCS1v15())
    pub.verify(sig, dg, pad, Prehashed(h))  # raises InvalidSignature


def verify_ec(pub, alg, size, dg, sig):
    h = {"ES256": hashes.SHA256(), "ES256K": hashes.SHA256(), "ES384": hashes.SHA384(),
         "ES512": hashes.SHA512()}[alg]
    der = encode_dss_signature(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))
    pub.verify(der, dg, ec.ECDSA(Prehashed(h)))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


class KeysTest(unittest.TestCase):
    # The SDK logs "Local <op> operation failed" and silently retries on the service when its
    # local provider breaks: every test asserts that did not happen, so the local path is real.
    def setUp(self):
        self.records = _Records()
        logging.getLogger("azure.keyvault.keys").addHandler(self.records)

    def tearDown(self):
        logging.getLogger("azure.keyvault.keys").removeHandler(self.records)
        local = [m for m in self.records.messages if m.startswith("Local ")]
        self.assertEqual(local, [], "the SDK's local crypto failed and fell back to the service")

    @classmethod
    def setUpClass(cls):
        cls.vault_url = env("COFFER_VAULT_URL")
        cls.cred = ClientSecretCredential(
            env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID"), env("AZURE_CLIENT_SECRET"),
            authority=env("AZURE_AUTHORITY_HOST"),
            instance_discovery=False, disable_instance_discovery=True,
        )
        cls.client = KeyClient(cls.vault_url, cls.cred)

    def assertStatus(self, cm, status, code=None):
        self.assertEqual(cm.exception.status_code, status, str(cm.exception))
        if code:
            self.assertEqual(cm.exception.error.code, code)

    def test_create_types(self):
        name = unique("pyrsa")
        k = self.client.create_rsa_key(name, size=3072, tags={"t": "1"})
        self.assertEqual(k.name, name)
        self.assertEqual(k.key_type, "RSA")
        self.assertRegex(k.properties.version, HEX32)
        self.assertEqual(k.id, f"{self.vault_url}/keys/{name}/{k.properties.version}")
        self.assertEqual(len(k.key.n), 384)
        self.assertEqual(k.key.e, b"\x01\x00\x01")
        self.assertEqual(sorted(k.key_operations),
                         sorted(["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]))
        self.assertEqual(k.properties.tags, {"t": "1"})
        self.assertIsNone(k.key.d)
        for crv, _, _, size, _ in CURVES:
            e = self.client.create_ec_key(unique("pyec"), curve=crv)
            self.assertEqual(e.key_type, "EC")
            self.assertEqual(e.key.crv, crv)
            self.assertEqual((len(e.key.x), len(e.key.y)), (size, size))
            self.assertEqual(sorted(e.key_operations), ["sign", "verify"])
        with self.assertRaises(HttpResponseError) as cm:
            self.client.create_ec_key(unique("pybad"), curve="P-192")
        self.assertStatus(cm, 400, "BadParameter")

    def test_get_list_update(self):
        name = unique("pyget")
        a = self.client.create_ec_key(name)
        b = self.client.create_ec_key(name, tags={"v": "2"})
        self.assertEqual(self.client.get_key(name).properties.version, b.properties.version)
        self.assertEqual(self.client.get_key(name, a.properties.version).key.x, a.key.x)
        versions = {p.version for p in self.client.list_properties_of_key_versions(name)}
        self.assertEqual(versions, {a.properties.version, b.properties.version})
        listed = [p for p in self.client.list_properties_of_keys() if p.name == name]
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0].id, f"{self.vault_url}/keys/{name}")
        u = self.client.update_key_properties(name, enabled=False, tags={"x": "y"}, key_operations=["verify"])
        self.assertEqual(u.properties.version, b.properties.version)
        self.assertFalse(u.properties.enabled)
        self.assertEqual(u.properties.tags, {"x": "y"})
        self.assertEqual(u.key_operations, ["verify"])
        with self.assertRaises(ResourceNotFoundError) as cm:
            self.client.get_key(unique("pynone"))
        self.assertStatus(cm, 404, "KeyNotFound")

    def test_delete_recover_purge(self):
        name = unique("pydel")
        k = self.client.create_rsa_key(name)
        d = self.client.begin_delete_key(name, _polling_interval=0.1).result()
        self.assertEqual(d.recovery_id, f"{self.vault_url}/deletedkeys/{name}")
        self.assertIsNotNone(d.deleted_date)
        self.assertIsNotNone(d.scheduled_purge_date)
        self.assertEqual(self.client.get_deleted_key(name).name, name)
        self.assertEqual([x.name for x in self.client.list_deleted_keys()].count(name), 1)
        with self.assertRaises(HttpResponseError) as cm:
            self.client.create_rsa_key(name)
        self.assertStatus(cm, 409, "Conflict")
        r = self.client.begin_recover_deleted_key(name, _polling_interval=0.1).result()
        self.assertEqual(r.properties.version, k.properties.version)
        self.client.begin_delete_key(name, _polling_interval=0.1).result()
        self.client.purge_deleted_key(name)
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_deleted_key(name)

    def test_backup_restore(self):
        name = unique("pybak")
        a = self.client.create_rsa_key(name)
        b = self.client.create_rsa_key(name)
        blob = self.client.backup_key(name)
        self.assertIsInstance(blob, bytes)
        with self.assertRaises((HttpResponseError, ResourceExistsError)) as cm:
            self.client.restore_key_backup(blob)
        self.assertStatus(cm, 409, "Conflict")
        self.client.begin_delete_key(name, _polling_interval=0.1).result()
        self.client.purge_deleted_key(name)
        r = self.client.restore_key_backup(blob)
        self.assertEqual(r.properties.version, b.properties.version)
        self.assertEqual(r.key.n, b.key.n)
        versions = {p.version for p in self.client.list_properties_of_key_versions(name)}
        self.assertEqual(versions, {a.properties.version, b.properties.version})

    def test_rotate_and_policy(self):
        name = unique("pyrot")
        k = self.client.create_ec_key(name, curve="P-384")
        policy = KeyRotationPolicy(
            lifetime_actions=[
                KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate, time_after_create="P90D"),
                KeyRotationLifetimeAction(KeyRotationPolicyAction.notify, time_before_expiry="P30D"),
            ],
            expires_in="P1Y",
        )
        p = self.client.update_key_rotation_policy(name, policy)
        self.assertEqual(p.id, f"{self.vault_url}/keys/{name}/rotationpolicy")
        self.assertEqual(p.expires_in, "P1Y")
        got = self.client.get_key_rotation_policy(name)
        acts = sorted((str(a.action).split(".")[-1].lower(), a.time_after_create, a.time_before_expiry)
                      for a in got.lifetime_actions)
        self.assertEqual(acts, [("notify", None, "P30D"), ("rotate", "P90D", None)])
        r = self.client.rotate_key(name)
        self.assertNotEqual(r.properties.version, k.properties.version)
        self.assertEqual((r.key_type, r.key.crv), ("EC", "P-384"))
        self.assertNotEqual(r.key.x, k.key.x)
        self.assertIsNotNone(r.properties.expires_on)
        days = (r.properties.expires_on.timestamp() - time.time()) / 86400
        self.assertTrue(360 < days < 370, days)

    def test_random_bytes(self):
        a, b = self.client.get_random_bytes(16), self.client.get_random_bytes(16)
        self.assertEqual((len(a), len(b)), (16, 16))
        self.assertNotEqual(a, b)
        with self.assertRaises(HttpResponseError) as cm:
            self.client.get_random_bytes(200)
        self.assertStatus(cm, 400, "BadParameter")

    def test_crypto_rsa(self):
        k = self.client.create_rsa_key(unique("pycr"), size=2048)
        cc = CryptographyClient(k.id, self.cred)  # from the id: GETs the key, then local + remote
        pub = rsa_public(k.key)
        for name, h in RSA_SIGN.items():
            alg = SignatureAlgorithm(name)  # the local provider needs the enum, not a str
            dg = hashlib.new(h.name, b"py data").digest()
            s = cc.sign(alg, dg)  # remote
            self.assertEqual(s.key_id, k.id)
            self.assertEqual(len(s.signature), 256)
            verify_rsa(pub, name, dg, s.signature)  # the cryptography package
            self.assertTrue(cc.verify(alg, dg, s.signature).is_valid)  # SDK local verify
            bad = bytes([s.signature[0] ^ 1]) + s.signature[1:]
            self.assertFalse(cc.verify(alg, dg, bad).is_valid)
        for alg in (EncryptionAlgorithm.rsa1_5, EncryptionAlgorithm.rsa_oaep, EncryptionAlgorithm.rsa_oaep_256):
            pt = secrets.token_bytes(48)
            e = cc.encrypt(alg, pt)  # local with the public key
            self.assertEqual(len(e.ciphertext), 256)
            self.assertEqual(cc.decrypt(alg, e.ciphertext).plaintext, pt)  # remote
        for alg in (KeyWrapAlgorithm.rsa1_5, KeyWrapAlgorithm.rsa_oaep, KeyWrapAlgorithm.rsa_oaep_256):
            cek = secrets.token_bytes(32)
            w = cc.wrap_key(alg, cek)
            self.assertEqual(cc.unwrap_key(alg, w.encrypted_key).key, cek)
        with self.assertRaises(HttpResponseError) as cm:
            cc.sign(SignatureAlgorithm.rs256, b"\x00" * 20)
        self.assertStatus(cm, 400, "BadParameter")

    def test_crypto_ec_every_curve(self):
        for crv, name, h, size, _ in CURVES:
            alg = SignatureAlgorithm(name)
            k = self.client.create_ec_key(unique("pyecs"), curve=crv)
            cc = CryptographyClient(k, self.cred)
            dg = h(b"ec data").digest()
            s = cc.sign(alg, dg)
            self.assertEqual(len(s.signature), 2 * size, alg)
            pub = ec.EllipticCurvePublicNumbers(
                int.from_bytes(k.key.x, "big"), int.from_bytes(k.key.y, "big"),
                {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1(),
                 "P-256K": ec.SECP256K1()}[crv]).public_key()
            verify_ec(pub, name, size, dg, s.signature)
            self.assertTrue(cc.verify(alg, dg, s.signature).is_valid, name)

    def test_import_and_cross_check(self):
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        k = self.client.import_key(unique("pyimp"), rsa_jwk(priv, ["sign", "verify", "decrypt", "encrypt"]))
        self.assertEqual(k.key_type, "RSA")
        self.assertIsNone(k.key.d)
        self.assertEqual(int.from_bytes(k.key.n, "big"), priv.public_key().public_numbers().n)
        cc = CryptographyClient(k, self.cred)
        dg = hashlib.sha256(b"imported").digest()
        # Coffer's signature verifies with our own public key; ours verifies through Coffer.
        verify_rsa(priv.public_key(), "PS256", dg, cc.sign(SignatureAlgorithm.ps256, dg).signature)
        mine = priv.sign(dg, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        self.assertTrue(cc.verify(SignatureAlgorithm.rs256, dg, mine).is_valid)
        # We encrypt with the public key, Coffer decrypts.
        ct = priv.public_key().encrypt(b"to coffer", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                                   algorithm=hashes.SHA256(), label=None))
        self.assertEqual(cc.decrypt(EncryptionAlgorithm.rsa_oaep_256, ct).plaintext, b"to coffer")
        for crv, alg, h, size, curve in CURVES:
            epriv = ec.generate_private_key(curve)
            ek = self.client.import_key(unique("pyimpec"), ec_jwk(epriv, crv, size, ["sign", "verify"]))
            self.assertEqual(ek.key.crv, crv)
            self.assertEqual(int.from_bytes(ek.key.x, "big"), epriv.public_key().public_numbers().x)
            dg = h(b"imported ec").digest()
            sig = CryptographyClient(ek, self.cred).sign(SignatureAlgorithm(alg), dg).signature
            verify_ec(epriv.public_key(), alg, size, dg, sig)

    def test_disabled_and_key_ops(self):
        name = unique("pydis")
        k = self.client.create_rsa_key(name, key_operations=["sign", "verify", "decrypt"])
        self.client.update_key_properties(name, enabled=False)
        cc = CryptographyClient(k.id, self.cred)
        with self.assertRaises(HttpResponseError) as cm:
            cc.sign(SignatureAlgorithm.rs256, hashlib.sha256(b"x").digest())
        self.assertStatus(cm, 403, "Forbidden")
        self.client.update_key_properties(name, enabled=True)
        # wrapKey is not in key_ops: no local wrap, and the service refuses unwrapKey.
        ct = rsa_public(k.key).encrypt(b"k" * 16, padding.PKCS1v15())
        cc2 = CryptographyClient(k.id, self.cred)
        with self.assertRaises(HttpResponseError) as cm:
            cc2.unwrap_key(KeyWrapAlgorithm.rsa1_5, ct)
        self.assertStatus(cm, 403, "Forbidden")
        self.assertEqual(cc2.decrypt(EncryptionAlgorithm.rsa1_5, ct).plaintext, b"k" * 16)


if __name__ == "__main__":
    unittest.main(verbosity=2)
