"""Coffer e2e (custody suite, not a unittest module): HSM-protected keys through Debian's
python3-azure against a cofferd whose custody is a SoftHSM2 token. Creates an RSA-HSM and an
EC-HSM key with KeyClient(hsm=True), has Coffer sign (RS256, PS256, ES256) and checks every
signature locally with `cryptography` from the returned public JWK; wraps locally with the
public key and unwraps in Coffer (RSA-OAEP-256, which the token does through CKM_RSA_X_509).
Prints "name version" per key for the SQLite check of custody.sh. Exit 0 = every check held."""
import hashlib
import os
import secrets
import sys

from azure.identity import ClientSecretCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature


def b2i(b):
    return int.from_bytes(b, "big")


cred = ClientSecretCredential(
    os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"],
    authority=os.environ["AZURE_AUTHORITY_HOST"], instance_discovery=False,
    disable_instance_discovery=True)
client = KeyClient(os.environ["COFFER_VAULT_URL"], cred)
tag = secrets.token_hex(4)

rk = client.create_rsa_key(f"hsm-rsa-{tag}", size=2048, hardware_protected=True)
assert rk.key.kty == "RSA-HSM", rk.key.kty
pub = rsa.RSAPublicNumbers(b2i(rk.key.e), b2i(rk.key.n)).public_key()
cc = CryptographyClient(rk, cred)
dg = hashlib.sha256(b"hsm data").digest()
s = cc.sign(SignatureAlgorithm.rs256, dg).signature
pub.verify(s, dg, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
s = cc.sign(SignatureAlgorithm.ps256, dg).signature
pub.verify(s, dg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
           Prehashed(hashes.SHA256()))
assert cc.verify(SignatureAlgorithm.rs256, dg, cc.sign(SignatureAlgorithm.rs256, dg).signature).is_valid
cek = secrets.token_bytes(32)
wrapped = pub.encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                        algorithm=hashes.SHA256(), label=None))
assert CryptographyClient(rk.id, cred).unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped).key == cek

ek = client.create_ec_key(f"hsm-ec-{tag}", curve="P-256", hardware_protected=True)
assert ek.key.kty == "EC-HSM", ek.key.kty
epub = ec.EllipticCurvePublicNumbers(b2i(ek.key.x), b2i(ek.key.y), ec.SECP256R1()).public_key()
s = CryptographyClient(ek, cred).sign(SignatureAlgorithm.es256, dg).signature
assert len(s) == 64
epub.verify(encode_dss_signature(b2i(s[:32]), b2i(s[32:])), dg, ec.ECDSA(Prehashed(hashes.SHA256())))

print(rk.name, rk.properties.version, format(b2i(rk.key.n), "x"))
print(ek.name, ek.properties.version)
sys.exit(0)
