"""Coffer e2e (hsmcerts suite, not a unittest module): certificates whose key lives in a
SoftHSM2 token, through Debian's python3-azure. Modes (argv[1]):

  create  RSA-HSM and EC-HSM self-signed certificates (exportable false): each certificate's
          signature verifies with its own public key (`cryptography`), its kid signs through
          the keys API and the signature verifies with the certificate's public key, the
          secret (PFX) holds the certificate and no private key, exportable:true is refused;
          then an EC-HSM certificate with issuer Unknown: its CSR verifies, a local CA signs
          it, the merge completes and the kid signs for the merged certificate; a backup
          taken before a purge no longer restores (the purge destroyed the token key, the rule
          of HSM key backups). Writes <name>.der / .csr files into argv[2] and prints "name
          version" per certificate.
  notoken the same RSA-HSM create against a server without a token: prints the status and
          error code, and those of an RSA-HSM key create (they must be the same).
Exit 0 = every check held."""
import base64
import datetime
import hashlib
import os
import secrets
import sys

from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.keyvault.certificates import (CertificateClient, CertificatePolicy, KeyCurveName,
                                         KeyType, WellKnownIssuerNames)
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from azure.keyvault.secrets import SecretClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

cred = ClientSecretCredential(
    os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"],
    authority=os.environ["AZURE_AUTHORITY_HOST"], instance_discovery=False,
    disable_instance_discovery=True)
url = os.environ["COFFER_VAULT_URL"]
certs = CertificateClient(url, cred)
keys = KeyClient(url, cred)
secrets_ = SecretClient(url, cred)
tag = secrets.token_hex(3)


def b2i(b):
    return int.from_bytes(b, "big")


def verify_self(cert):
    pub = cert.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                   cert.signature_hash_algorithm)
    else:
        pub.verify(cert.signature, cert.tbs_certificate_bytes,
                   ec.ECDSA(cert.signature_hash_algorithm))


def sign_via_kid(kid, cert, alg, h):
    dg = h(b"signed by the token " + tag.encode()).digest()
    s = CryptographyClient(kid, cred).sign(alg, dg).signature
    pub = cert.public_key()
    hh = hashes.SHA256() if len(dg) == 32 else hashes.SHA384()
    if isinstance(pub, rsa.RSAPublicKey):
        pub.verify(s, dg, padding.PKCS1v15(), Prehashed(hh))
    else:
        n = len(s) // 2
        pub.verify(encode_dss_signature(b2i(s[:n]), b2i(s[n:])), dg, ec.ECDSA(Prehashed(hh)))


def secret_has_no_key(name):
    sec = secrets_.get_secret(name)
    assert sec.properties.content_type == "application/x-pkcs12", sec.properties.content_type
    key, leaf, extra = pkcs12.load_key_and_certificates(base64.b64decode(sec.value), None)
    assert key is None, "the secret carries a private key"
    assert leaf is not None or len(extra) == 1


def create_mode(outdir):
    made = []
    for kty, extra, alg, h in (
            (KeyType.rsa_hsm, {"key_size": 2048}, SignatureAlgorithm.rs256, hashlib.sha256),
            (KeyType.ec_hsm, {"key_curve_name": KeyCurveName.p_384}, SignatureAlgorithm.es384,
             hashlib.sha384)):
        name = f"hsm-{kty.value.split('-')[0].lower()}-{tag}"
        pol = CertificatePolicy(issuer_name=WellKnownIssuerNames.self, subject=f"CN={name}",
                                key_type=kty, exportable=False, **extra)
        c = certs.begin_create_certificate(name, pol).result()
        assert c.policy is None or c.policy.key_type == kty
        got = certs.get_certificate_policy(name)
        assert got.key_type == kty and got.exportable is False, (got.key_type, got.exportable)
        cert = x509.load_der_x509_certificate(bytes(c.cer))
        verify_self(cert)
        k = keys.get_key(name)
        assert k.key.kty == kty.value, k.key.kty
        assert k.properties.managed
        sign_via_kid(c.key_id, cert, alg, h)
        secret_has_no_key(name)
        open(os.path.join(outdir, name + ".der"), "wb").write(bytes(c.cer))
        made.append((name, c.properties.version))
    # exportable true with an -HSM key type: 400
    try:
        certs.begin_create_certificate(
            f"hsm-bad-{tag}", CertificatePolicy(issuer_name="Self", subject="CN=x",
                                                key_type=KeyType.rsa_hsm, exportable=True)).result()
        raise AssertionError("exportable RSA-HSM accepted")
    except HttpResponseError as e:
        assert e.status_code == 400, e.status_code
    # Unknown issuer: the CSR (signed on the token) verifies; a local CA signs it; merge
    name = f"hsm-csr-{tag}"
    pol = CertificatePolicy(issuer_name=WellKnownIssuerNames.unknown, subject=f"CN={name}",
                            key_type=KeyType.ec_hsm, key_curve_name=KeyCurveName.p_256)
    certs.begin_create_certificate(name, pol)
    op = certs.get_certificate_operation(name)
    assert op.status == "inProgress", op.status
    csr = x509.load_der_x509_csr(bytes(op.csr))
    assert csr.is_signature_valid
    open(os.path.join(outdir, name + ".csr"), "wb").write(bytes(op.csr))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsmcerts e2e CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_name)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(ca_key, hashes.SHA256()))
    merged = certs.merge_certificate(name, [leaf.public_bytes(serialization.Encoding.DER)])
    assert certs.get_certificate_operation(name).status == "completed"
    assert keys.get_key(name).key.kty == "EC-HSM"
    sign_via_kid(merged.key_id, leaf, SignatureAlgorithm.es256, hashlib.sha256)
    secret_has_no_key(name)
    made.append((name, merged.properties.version))
    # backup, delete + purge: the purge destroyed the token key, so (as for an HSM key's
    # backup) the blob no longer restores - 400, never a certificate whose key is gone
    rname = f"hsm-bak-{tag}"
    certs.begin_create_certificate(rname, CertificatePolicy(
        issuer_name="Self", subject="CN=bak", key_type=KeyType.ec_hsm)).result()
    blob = certs.backup_certificate(rname)
    assert len(blob) > 100
    certs.begin_delete_certificate(rname).result()
    certs.purge_deleted_certificate(rname)
    try:
        certs.restore_certificate_backup(blob)
        raise AssertionError("restored a certificate whose token key was purged")
    except HttpResponseError as e:
        assert e.status_code == 400, e.status_code
    for n, v in made:
        print(n, v)


def notoken_mode():
    out = []
    try:
        certs.begin_create_certificate(
            f"hsm-nt-{tag}", CertificatePolicy(issuer_name="Self", subject="CN=x",
                                               key_type=KeyType.rsa_hsm, exportable=False)).result()
        out.append("accepted")
    except HttpResponseError as e:
        out.append(f"{e.status_code}:{e.error.code if e.error else ''}")
    try:
        keys.create_rsa_key(f"hsm-ntk-{tag}", size=2048, hardware_protected=True)
        out.append("accepted")
    except HttpResponseError as e:
        out.append(f"{e.status_code}:{e.error.code if e.error else ''}")
    print(" ".join(out))


if sys.argv[1] == "create":
    create_mode(sys.argv[2])
else:
    notoken_mode()
sys.exit(0)
