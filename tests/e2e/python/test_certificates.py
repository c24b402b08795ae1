"""Coffer e2e: certificates through Debian's python3-azure (azure-keyvault-certificates 4.7.0b1)
on /usr/bin/python3, the JS flow made shorter: Self RSA and EC certificates through
begin_create_certificate (policy with subject, SANs, EKUs, key usage, validity), the secret
(PFX / PEM) parsed by the `cryptography` package and checked against the certificate, signing
with the certificate's key through CryptographyClient, versions/list/update/policy, import of a
password-protected PFX made by `cryptography`, import of PEM with an encrypted PKCS#8 key, the
Unknown-issuer CSR signed by a CA made here and merged, delete/recover/purge, contacts, issuers,
an import whose policy key_props do not describe the key (400 BadParameter, nothing stored), and
includePending listing a pending-only certificate whose operation was cancelled.
Run by tests/e2e/suites/python.sh."""
import base64
import datetime
import hashlib
import logging
import os
import re
import secrets
import unittest

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.certificates import (
    AdministratorContact,
    CertificateClient,
    CertificateContact,
    CertificatePolicy,
    CertificateContentType,
    KeyCurveName,
    KeyType,
    KeyUsageType,
    WellKnownIssuerNames,
)
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from azure.keyvault.secrets import SecretClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HEX32 = re.compile(r"^[0-9a-f]{32}$")
FAST = {"_polling_interval": 0.1}


def env(name):
    v = os.environ.get(name)
    if not v:
        raise RuntimeError(f"{name} is not set (run through tests/e2e/run.sh)")
    return v


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(6)}"


def spki(pub):
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def make_ca():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Coffer py test CA")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def ca_issue(ca_key, ca_cert, subject, public_key):
    now = datetime.datetime.utcnow()
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))


def verify_issued(leaf, ca_cert):
    """The leaf's signature verifies with the CA's key (raises otherwise)."""
    ca_cert.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(),
                                leaf.signature_hash_algorithm)
    assert leaf.issuer == ca_cert.subject


class CertificatesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        logging.getLogger("azure").setLevel(logging.ERROR)
        cls.cred = ClientSecretCredential(
            env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID"), env("AZURE_CLIENT_SECRET"),
            authority=env("AZURE_AUTHORITY_HOST"), instance_discovery=False, disable_instance_discovery=True)
        cls.url = env("COFFER_VAULT_URL")
        cls.client = CertificateClient(cls.url, cls.cred)
        cls.secrets = SecretClient(cls.url, cls.cred)
        cls.ca_key, cls.ca_cert = make_ca()

    def create_self(self, name, policy, **kw):
        return self.client.begin_create_certificate(name, policy, **kw, **FAST).result()

    def test_create_rsa_pfx_secret_and_sign(self):
        name = unique("pyrsa")
        policy = CertificatePolicy(
            issuer_name=WellKnownIssuerNames.self, subject="CN=py.coffer.test,O=Coffer e2e",
            san_dns_names=["py.coffer.test"], san_emails=["ops@coffer.test"], key_type=KeyType.rsa, key_size=2048,
            exportable=True, reuse_key=False, content_type=CertificateContentType.pkcs12,
            enhanced_key_usage=["1.3.6.1.5.5.7.3.1"],
            key_usage=[KeyUsageType.digital_signature, KeyUsageType.key_encipherment], validity_in_months=3)
        c = self.create_self(name, policy, tags={"lang": "py"})
        v = c.properties.version
        self.assertRegex(v, HEX32)
        self.assertEqual(c.id, f"{self.url}/certificates/{name}/{v}")
        self.assertEqual(c.key_id, f"{self.url}/keys/{name}/{v}")
        self.assertEqual(c.secret_id, f"{self.url}/secrets/{name}/{v}")
        self.assertEqual(c.properties.tags, {"lang": "py"})
        cert = x509.load_der_x509_certificate(bytes(c.cer))
        self.assertEqual(bytes(c.properties.x509_thumbprint), hashlib.sha1(bytes(c.cer)).digest())
        self.assertEqual(cert.subject.rfc4514_string(), "O=Coffer e2e,CN=py.coffer.test")
        self.assertEqual(cert.issuer, cert.subject)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["py.coffer.test"])
        self.assertEqual(san.get_values_for_type(x509.RFC822Name), ["ops@coffer.test"])
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(list(eku), [ExtendedKeyUsageOID.SERVER_AUTH])
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        self.assertTrue(ku.critical)
        self.assertTrue(ku.value.digital_signature and ku.value.key_encipherment)
        self.assertFalse(ku.value.key_cert_sign)
        days = (cert.not_valid_after - cert.not_valid_before).days
        self.assertTrue(88 <= days <= 93, days)
        self.assertEqual(c.policy.issuer_name, "Self")
        self.assertEqual(c.policy.san_dns_names, ["py.coffer.test"])
        self.assertEqual(c.policy.validity_in_months, 3)
        self.assertEqual(c.policy.key_size, 2048)

        s = self.secrets.get_secret(name)
        self.assertEqual(s.properties.content_type, "application/x-pkcs12")
        self.assertTrue(s.properties.managed)
        key, leaf, extra = pkcs12.load_key_and_certificates(base64.b64decode(s.value), None)
        self.assertEqual(leaf.public_bytes(serialization.Encoding.DER), bytes(c.cer))
        self.assertEqual(spki(key.public_key()), spki(cert.public_key()), "PFX key matches the certificate")
        self.assertEqual(extra, [])

        data = b"signed by a certificate's key"
        digest = hashlib.sha256(data).digest()
        sig = CryptographyClient(c.key_id, self.cred).sign(SignatureAlgorithm.rs256, digest).signature
        cert.public_key().verify(sig, data, padding.PKCS1v15(), hashes.SHA256())

    def test_create_ec_pem_versions_update_policy(self):
        name = unique("pyec")
        policy = CertificatePolicy(
            issuer_name="Self", subject="CN=pyec.coffer.test", key_type=KeyType.ec, key_curve_name=KeyCurveName.p_256,
            content_type=CertificateContentType.pem, key_usage=[KeyUsageType.digital_signature], validity_in_months=12)
        c1 = self.create_self(name, policy)
        cert = x509.load_der_x509_certificate(bytes(c1.cer))
        self.assertIsInstance(cert.public_key(), ec.EllipticCurvePublicKey)
        s = self.secrets.get_secret(name)
        self.assertEqual(s.properties.content_type, "application/x-pem-file")
        key = serialization.load_pem_private_key(s.value.encode(), None)
        self.assertEqual(spki(key.public_key()), spki(cert.public_key()), "PEM key matches the certificate")
        pem_cert = x509.load_pem_x509_certificate(s.value[s.value.index("-----BEGIN CERTIFICATE"):].encode())
        self.assertEqual(pem_cert, cert)
        data = b"ec"
        sig = CryptographyClient(c1.key_id, self.cred).sign(SignatureAlgorithm.es256, hashlib.sha256(data).digest())
        r, s_ = int.from_bytes(sig.signature[:32], "big"), int.from_bytes(sig.signature[32:], "big")
        cert.public_key().verify(encode_dss_signature(r, s_), data, ec.ECDSA(hashes.SHA256()))

        # Policy update then a second version; get by version, versions, list, update.
        self.client.update_certificate_policy(name, CertificatePolicy(issuer_name="Self", subject="CN=pyec2", validity_in_months=2))
        p = self.client.get_certificate_policy(name)
        self.assertEqual(p.subject, "CN=pyec2")
        self.assertEqual(p.validity_in_months, 2)
        self.assertEqual(p.key_curve_name, "P-256", "key_props not sent: kept")
        c2 = self.create_self(name, p)
        self.assertNotEqual(c2.properties.version, c1.properties.version)
        self.assertIn("CN=pyec2", x509.load_der_x509_certificate(bytes(c2.cer)).subject.rfc4514_string())
        self.assertEqual(self.client.get_certificate(name).properties.version, c2.properties.version)
        self.assertEqual(bytes(self.client.get_certificate_version(name, c1.properties.version).cer), bytes(c1.cer))
        versions = sorted(x.version for x in self.client.list_properties_of_certificate_versions(name))
        self.assertEqual(versions, sorted([c1.properties.version, c2.properties.version]))
        self.assertEqual(len([x for x in self.client.list_properties_of_certificates() if x.name == name]), 1)
        u = self.client.update_certificate_properties(name, c1.properties.version, enabled=False, tags={"old": "1"})
        self.assertFalse(u.properties.enabled)
        self.assertEqual(u.properties.tags, {"old": "1"})
        self.assertTrue(self.client.get_certificate(name).properties.enabled)
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_certificate(unique("nocert"))

    def test_import_pfx_with_password(self):
        key = ec.generate_private_key(ec.SECP384R1())
        leaf = ca_issue(self.ca_key, self.ca_cert, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyimp")]), key.public_key())
        pfx = pkcs12.serialize_key_and_certificates(b"pyimp", key, leaf, [self.ca_cert],
                                                    serialization.BestAvailableEncryption(b"py-pfx-pass"))
        name = unique("pyimp")
        with self.assertRaises(HttpResponseError) as ctx:
            self.client.import_certificate(name, pfx, password="wrong")
        self.assertEqual(ctx.exception.status_code, 400)
        c = self.client.import_certificate(name, pfx, password="py-pfx-pass")
        self.assertEqual(bytes(c.cer), leaf.public_bytes(serialization.Encoding.DER))
        self.assertEqual(c.policy.issuer_name, "Unknown")
        self.assertEqual(c.policy.key_type, "EC")
        k2, leaf2, chain = pkcs12.load_key_and_certificates(base64.b64decode(self.secrets.get_secret(name).value), None)
        self.assertEqual(spki(k2.public_key()), spki(key.public_key()))
        self.assertEqual(leaf2, leaf)
        self.assertEqual(chain, [self.ca_cert])
        verify_issued(leaf2, self.ca_cert)

    # PEM with a password-encrypted PKCS#8 key, as the SDK sends it (base64 of the PEM text,
    # content type PEM in the policy): wrong and missing passwords are 400s, the right one
    # imports and the secret reads back as PEM with the key in clear. (A comment, not a
    # docstring: unittest -v would print its first line inside the result line.)
    def test_import_pem_with_encrypted_key(self):
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = ca_issue(self.ca_key, self.ca_cert, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pypem")]),
                        key.public_key())
        pem = (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(b"py-pem-pass"))
               + leaf.public_bytes(serialization.Encoding.PEM) + self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.assertIn(b"ENCRYPTED PRIVATE KEY", pem)
        policy = CertificatePolicy(WellKnownIssuerNames.unknown, content_type=CertificateContentType.pem)
        name = unique("pypem")
        for pw in ("wrong", None):
            with self.assertRaises(HttpResponseError) as ctx:
                self.client.import_certificate(name, pem, password=pw, policy=policy)
            self.assertEqual(ctx.exception.status_code, 400)
            self.assertNotIn("py-pem-pass", str(ctx.exception))
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_certificate(name)
        c = self.client.import_certificate(name, pem, password="py-pem-pass", policy=policy)
        self.assertEqual(bytes(c.cer), leaf.public_bytes(serialization.Encoding.DER))
        self.assertEqual(c.policy.content_type, CertificateContentType.pem)
        self.assertEqual(c.policy.key_type, "EC")
        s = self.secrets.get_secret(name)
        self.assertEqual(s.properties.content_type, "application/x-pem-file")
        k2 = serialization.load_pem_private_key(s.value.encode(), None)
        self.assertEqual(spki(k2.public_key()), spki(key.public_key()))
        certs = [x509.load_pem_x509_certificate(("-----BEGIN CERTIFICATE" + part).encode())
                 for part in s.value.split("-----BEGIN CERTIFICATE")[1:]]
        self.assertEqual(certs, [leaf, self.ca_cert])
        verify_issued(certs[0], self.ca_cert)

    # azure-kv-certificates.md §3.1 (a kty/size/curve mismatch is a 400 BadParameter) and §3.3
    # (an import's key_props reflect the imported key): key_type, key_size or key_curve_name
    # that are not the key's are refused before anything is stored; agreeing ones are accepted.
    def test_import_policy_key_mismatch(self):
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ec_key = ec.generate_private_key(ec.SECP256R1())
        pfx = {}
        for label, key in (("rsa", rsa_key), ("ec", ec_key)):
            leaf = ca_issue(self.ca_key, self.ca_cert,
                            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"pypol{label}")]), key.public_key())
            pfx[label] = pkcs12.serialize_key_and_certificates(b"pypol", key, leaf, None,
                                                               serialization.NoEncryption())
        name = unique("pypol")
        cases = (
            ("rsa", dict(key_type=KeyType.rsa, key_size=4096),
             "Property 'key_props.key_size' 4096 does not match the imported RSA key (2048 bits)."),
            ("rsa", dict(key_type=KeyType.ec),
             "Property 'key_props.kty' EC does not match the imported RSA key."),
            ("ec", dict(key_type=KeyType.ec, key_curve_name=KeyCurveName.p_384),
             "Property 'key_props.crv' P-384 does not match the imported EC key on curve P-256."),
            ("ec", dict(key_type=KeyType.rsa, key_size=2048),
             "Property 'key_props.kty' RSA does not match the imported EC key."),
        )
        for label, kw, message in cases:
            policy = CertificatePolicy(WellKnownIssuerNames.unknown, subject="CN=pypol", **kw)
            with self.assertRaises(HttpResponseError) as ctx:
                self.client.import_certificate(name, pfx[label], policy=policy)
            self.assertEqual(ctx.exception.status_code, 400, kw)
            self.assertEqual(ctx.exception.error.code, "BadParameter", kw)
            self.assertEqual(ctx.exception.error.message, message)
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_certificate(name)
        with self.assertRaises(ResourceNotFoundError):
            self.secrets.get_secret(name)
        ok = CertificatePolicy(WellKnownIssuerNames.unknown, subject="CN=pypol", key_type=KeyType.rsa, key_size=2048)
        c = self.client.import_certificate(name, pfx["rsa"], policy=ok)
        self.assertEqual((c.policy.key_type, c.policy.key_size), ("RSA", 2048))
        ok = CertificatePolicy(WellKnownIssuerNames.unknown, subject="CN=pypol", key_curve_name=KeyCurveName.p_256)
        c = self.client.import_certificate(unique("pypol"), pfx["ec"], policy=ok)
        self.assertEqual((c.policy.key_type, c.policy.key_curve_name), ("EC", "P-256"))

    # A pending-only certificate whose create was cancelled keeps its pending object in the final
    # status (Learn, "Monitor and manage certificate creation"), so include_pending lists it
    # (disabled, as GET reads it) until the operation is deleted.
    def test_include_pending_lists_cancelled(self):
        name = unique("pycancel")
        policy = CertificatePolicy(issuer_name=WellKnownIssuerNames.unknown, subject="CN=pycancel.coffer.test")
        self.client.begin_create_certificate(name, policy, **FAST)
        op = self.client.cancel_certificate_operation(name)
        self.assertEqual(op.status.lower(), "cancelled")
        self.assertTrue(op.cancellation_requested)
        self.assertNotIn(name, [c.name for c in self.client.list_properties_of_certificates()])
        listed = [c for c in self.client.list_properties_of_certificates(include_pending=True, max_page_size=1)
                  if c.name == name]
        self.assertEqual(len(listed), 1, "listed once with include_pending, in pages of one")
        self.assertFalse(listed[0].enabled)
        self.assertFalse(self.client.get_certificate(name).properties.enabled)
        self.client.delete_certificate_operation(name)
        self.assertNotIn(name, [c.name for c in self.client.list_properties_of_certificates(include_pending=True)])

    def test_unknown_issuer_csr_merge(self):
        name = unique("pymerge")
        policy = CertificatePolicy(issuer_name=WellKnownIssuerNames.unknown, subject="CN=pymerge.coffer.test")
        # The 4.7.0b1 poller counts an Unknown-issuer operation as finished before it runs, so
        # its result() is None whatever the server says; read the operation instead.
        self.client.begin_create_certificate(name, policy, **FAST)
        op = self.client.get_certificate_operation(name)
        self.assertEqual(op.status.lower(), "inprogress")
        self.assertEqual(op.issuer_name, "Unknown")
        self.assertIn("Please Perform Merge", op.status_details)
        op = self.client.get_certificate_operation(name)
        csr = x509.load_der_x509_csr(bytes(op.csr))
        self.assertTrue(csr.is_signature_valid)
        self.assertEqual(csr.subject.rfc4514_string(), "CN=pymerge.coffer.test")
        leaf = ca_issue(self.ca_key, self.ca_cert, csr.subject, csr.public_key())
        der = leaf.public_bytes(serialization.Encoding.DER)
        c = self.client.merge_certificate(name, [der, self.ca_cert.public_bytes(serialization.Encoding.DER)])
        self.assertEqual(bytes(c.cer), der)
        self.assertEqual(self.client.get_certificate_operation(name).status, "completed")
        key, leaf2, chain = pkcs12.load_key_and_certificates(base64.b64decode(self.secrets.get_secret(name).value), None)
        self.assertEqual(spki(key.public_key()), spki(csr.public_key()), "the server's key is in the secret")
        self.assertEqual(chain, [self.ca_cert])
        verify_issued(leaf2, self.ca_cert)

    def test_delete_recover_purge(self):
        name = unique("pydel")
        c = self.create_self(name, CertificatePolicy.get_default())
        d = self.client.begin_delete_certificate(name, **FAST).result()
        self.assertEqual(d.recovery_id, f"{self.url}/deletedcertificates/{name}")
        self.assertEqual(self.client.get_deleted_certificate(name).name, name)
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_certificate(name)
        r = self.client.begin_recover_deleted_certificate(name, **FAST).result()
        self.assertEqual(r.properties.version, c.properties.version)
        self.assertEqual(self.secrets.get_secret(name).properties.version, c.properties.version)
        self.client.begin_delete_certificate(name, **FAST).result()
        self.client.purge_deleted_certificate(name)
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_deleted_certificate(name)

    def test_contacts_and_issuers(self):
        contacts = [CertificateContact(email="admin@coffer.test", name="Ada", phone="111")]
        got = self.client.set_contacts(contacts)
        self.assertEqual([(x.email, x.name, x.phone) for x in got], [("admin@coffer.test", "Ada", "111")])
        self.assertEqual([x.email for x in self.client.get_contacts()], ["admin@coffer.test"])
        self.assertEqual([x.email for x in self.client.delete_contacts()], ["admin@coffer.test"])
        self.assertEqual(list(self.client.get_contacts()), [])

        name = unique("pyiss")
        i = self.client.create_issuer(name, "Test", account_id="acct", password="never-echoed", enabled=True,
                                      admin_contacts=[AdministratorContact(first_name="J", last_name="D", email="j@coffer.test", phone="1")])
        self.assertEqual(i.name, name)
        self.assertEqual(i.provider, "Test")
        self.assertEqual(i.account_id, "acct")
        self.assertIsNone(i.password)
        u = self.client.update_issuer(name, account_id="acct2", enabled=False)
        self.assertEqual(u.account_id, "acct2")
        self.assertFalse(u.enabled)
        self.assertEqual(u.admin_contacts[0].email, "j@coffer.test")
        self.assertIn(name, [x.name for x in self.client.list_properties_of_issuers()])
        self.assertEqual(self.client.delete_issuer(name).provider, "Test")
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_issuer(name)


if __name__ == "__main__":
    unittest.main()
