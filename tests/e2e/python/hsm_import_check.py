"""Coffer e2e (custody suite, not a unittest module): importing a key as HSM-protected through
Debian's python3-azure against a cofferd whose custody is a SoftHSM2 token (issue 12). A local
RSA-2048 key is imported with import_key(hardware_protected=True): the answer is RSA-HSM with
the key's own modulus and no private member; Coffer signs (RS256, PS256) on the token and the
signatures verify locally with the key generated here; the same JWK imported without
hardware_protected stays a software RSA key. Prints "name version" for custody.sh's row and
token checks. Exit 0 = every check held."""
import hashlib
import os
import secrets
import sys

from azure.identity import ClientSecretCredential
from azure.keyvault.keys import JsonWebKey, KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed


def i2b(i):
    return i.to_bytes((i.bit_length() + 7) // 8, "big")


cred = ClientSecretCredential(
    os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"],
    authority=os.environ["AZURE_AUTHORITY_HOST"], instance_discovery=False,
    disable_instance_discovery=True)
client = KeyClient(os.environ["COFFER_VAULT_URL"], cred)
tag = secrets.token_hex(4)

priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pn = priv.private_numbers()
jwk = JsonWebKey(kty="RSA", n=i2b(pn.public_numbers.n), e=i2b(pn.public_numbers.e), d=i2b(pn.d),
                 p=i2b(pn.p), q=i2b(pn.q), dp=i2b(pn.dmp1), dq=i2b(pn.dmq1), qi=i2b(pn.iqmp),
                 key_ops=["sign", "verify"])

k = client.import_key(f"hsm-imp-{tag}", jwk, hardware_protected=True)
assert k.key.kty == "RSA-HSM", k.key.kty
assert int.from_bytes(k.key.n, "big") == pn.public_numbers.n, "modulus differs"
assert k.key.d is None, "private member echoed"
assert sorted(k.key_operations) == ["sign", "verify"], k.key_operations
got = client.get_key(k.name)
assert got.key.kty == "RSA-HSM", got.key.kty

pub = priv.public_key()
cc = CryptographyClient(k, cred)
dg = hashlib.sha256(b"imported hsm data").digest()
s = cc.sign(SignatureAlgorithm.rs256, dg).signature
pub.verify(s, dg, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
s = cc.sign(SignatureAlgorithm.ps256, dg).signature
pub.verify(s, dg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
           Prehashed(hashes.SHA256()))
assert cc.verify(SignatureAlgorithm.rs256, dg, cc.sign(SignatureAlgorithm.rs256, dg).signature).is_valid

soft = client.import_key(f"soft-imp-{tag}", jwk)
assert soft.key.kty == "RSA", soft.key.kty

print(k.name, k.properties.version)
print(soft.name, soft.properties.version)
sys.exit(0)
