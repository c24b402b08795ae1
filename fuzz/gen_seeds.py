#!/usr/bin/env python3
"""Regenerates the committed seed corpora of the key, certificate and parser fuzz targets
(fuzz/corpus/fuzz_kvkey_*, fuzz_pkcs12, fuzz_pem, fuzz_assertion, fuzz_shamir,
fuzz_graph_filter, fuzz_rbac_pattern). Not part of the build: run it by hand after changing a
target's input format (python3 with the 'cryptography' package, as Debian ships it). Keys are
fresh each run, so the files change; the shapes do not. fuzz_audit_line's seeds come from the
target itself (FUZZ_AUDIT_DUMP=DIR, see fuzz_audit_line.c)."""
import base64
import hashlib
import datetime
import json
import os
import struct
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ib(n, size=None):
    size = size or max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(size, "big")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def putc(target, name, data, flags=0):
    """fuzz_cert.h's input: a flags byte, then the password line and the data."""
    put(target, name, bytes([flags]) + data)
    if name in ("ec_chain_pwd", "ec_chain", "ec_chain_ca_first"):
        put(target, name + "_preserve", bytes([flags | 1]) + data)
    if name in ("ec_chain_pwd", "rsa_pwd", "ec_chain", "rsa_traditional"):
        put(target, name + "_pfx_reexport", bytes([flags | 6]) + data)


def rsa_jwk(k, crt=True, kty="RSA"):
    pn, pv = k.public_key().public_numbers(), k.private_numbers()
    j = {"kty": kty, "n": b64u(ib(pn.n)), "e": b64u(ib(pn.e)), "d": b64u(ib(pv.d))}
    if crt:
        j.update(p=b64u(ib(pv.p)), q=b64u(ib(pv.q)), dp=b64u(ib(pv.dmp1)),
                 dq=b64u(ib(pv.dmq1)), qi=b64u(ib(pv.iqmp)))
    return j


CURVES = {"P-256": (ec.SECP256R1(), 32), "P-384": (ec.SECP384R1(), 48),
          "P-521": (ec.SECP521R1(), 66), "P-256K": (ec.SECP256K1(), 32)}


def ec_jwk(crv, k=None, pad=True):
    curve, size = CURVES[crv]
    k = k or ec.generate_private_key(curve)
    pn = k.public_key().public_numbers()
    s = size if pad else None
    return {"kty": "EC", "crv": crv, "x": b64u(ib(pn.x, s)), "y": b64u(ib(pn.y, s)),
            "d": b64u(ib(k.private_numbers().private_value, s))}


def pkcs8(k):
    return k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def kvkey_seeds():
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    e3 = rsa.generate_private_key(public_exponent=3, key_size=2048)
    jwks = {
        "rsa2048": rsa_jwk(r), "rsa2048_ned": rsa_jwk(r, crt=False),
        "rsa2048_hsm_e3": rsa_jwk(e3, kty="RSA-HSM"),
        "ec_p256": ec_jwk("P-256"), "ec_p384": ec_jwk("P-384"), "ec_p521": ec_jwk("P-521"),
        "ec_p256k": ec_jwk("P-256K"), "ec_p521_unpadded": ec_jwk("P-521", pad=False),
        "oct128": {"kty": "oct", "k": b64u(os.urandom(16))},
        "oct192_hsm": {"kty": "oct-HSM", "k": b64u(os.urandom(24))},
        "oct256_padded": {"kty": "oct", "k": base64.urlsafe_b64encode(os.urandom(32)).decode()},
        "oct_bad_size": {"kty": "oct", "k": b64u(os.urandom(20))},
        "public_only": {k: v for k, v in ec_jwk("P-256").items() if k != "d"},
        "key_hsm": {"kty": "RSA-HSM", "key_hsm": "AAAA"},
        "rsa_incomplete": {k: v for k, v in rsa_jwk(r).items() if k != "qi"},
    }
    bad = ec_jwk("P-256")
    bad["d"] = ec_jwk("P-256")["d"]  # d of another key
    jwks["ec_mismatch"] = bad
    for name, j in jwks.items():
        put("fuzz_kvkey_jwk", name, json.dumps(j, separators=(",", ":")))

    # fuzz_kvkey_blob: "CFK" 1 <kty+1> || PKCS#8 DER (RSA, EC) or raw bytes (oct)
    put("fuzz_kvkey_blob", "rsa2048", b"CFK\x01\x01" + pkcs8(r))
    for crv in ("P-256", "P-384", "P-521", "P-256K"):
        put("fuzz_kvkey_blob", "ec_" + crv.lower().replace("-", ""),
            b"CFK\x01\x02" + pkcs8(ec.generate_private_key(CURVES[crv][0])))
    for bits in (128, 192, 256):
        put("fuzz_kvkey_blob", "oct%d" % bits, b"CFK\x01\x03" + os.urandom(bits // 8))
    put("fuzz_kvkey_blob", "ec_as_rsa", b"CFK\x01\x01" + pkcs8(ec.generate_private_key(ec.SECP256R1())))
    put("fuzz_kvkey_blob", "rsa1024", b"CFK\x01\x01" +
        pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    put("fuzz_kvkey_blob", "ec_p224", b"CFK\x01\x02" + pkcs8(ec.generate_private_key(ec.SECP224R1())))
    put("fuzz_kvkey_blob", "header_only", b"CFK\x01\x03")
    put("fuzz_kvkey_blob", "bad_kty", b"CFK\x01\x04" + os.urandom(16))


def cert_for(key, cn, issuer_key=None, issuer_name=None, ca=False, days=30):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_name or name).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    signer = issuer_key or key
    return b.sign(signer, hashes.SHA256())


def cert_seeds():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert_for(ca_key, "Fuzz CA", ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert_for(leaf_key, "leaf.example", ca_key, ca.subject)
    rkey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rcert = cert_for(rkey, "rsa.example")
    k384 = ec.generate_private_key(ec.SECP384R1())
    c384 = cert_for(k384, "p384.example")
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)

    def pfx(key, cert, cas, pwd):
        # openssl, not 'cryptography': one PBKDF2 iteration for the bags and the MAC, so the
        # fuzzer spends its time in Coffer's code rather than in the KDF.
        with tempfile.TemporaryDirectory() as d:
            kf, cf, caf, out = (os.path.join(d, n) for n in ("k.pem", "c.pem", "ca.pem", "o.p12"))
            with open(kf, "wb") as f:
                f.write(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
            with open(cf, "wb") as f:
                f.write(pem(cert))
            cmd = ["openssl", "pkcs12", "-export", "-inkey", kf, "-in", cf, "-out", out,
                   "-iter", "1", "-nomaciter", "-passout", "pass:" + (pwd or b"").decode()]
            if cas:
                with open(caf, "wb") as f:
                    f.write(b"".join(pem(c) for c in cas))
                cmd += ["-certfile", caf]
            subprocess.run(cmd, check=True)
            with open(out, "rb") as f:
                return f.read()

    # fuzz_pkcs12 / fuzz_pem input: flags byte, password, '\n', data (see fuzz_cert.h)
    putc("fuzz_pkcs12", "ec_chain_pwd", b"s3cret\n" + pfx(leaf_key, leaf, [ca], b"s3cret"))
    putc("fuzz_pkcs12", "ec_chain_nopwd", b"\n" + pfx(leaf_key, leaf, [ca], None))
    putc("fuzz_pkcs12", "rsa_pwd", b"pw\n" + pfx(rkey, rcert, None, b"pw"))
    putc("fuzz_pkcs12", "p384_pwd", b"x\n" + pfx(k384, c384, None, b"x"))
    putc("fuzz_pkcs12", "wrong_pwd", b"nope\n" + pfx(leaf_key, leaf, [ca], b"s3cret"))
    putc("fuzz_pkcs12", "cert_only", b"\n" + pkcs12.serialize_key_and_certificates(
        b"c", None, None, [ca], serialization.NoEncryption()))

    def kpem(k, fmt=serialization.PrivateFormat.PKCS8, enc=serialization.NoEncryption()):
        return k.private_bytes(serialization.Encoding.PEM, fmt, enc)

    # fuzz_pem: the same input form
    putc("fuzz_pem", "ec_chain", b"\n" + kpem(leaf_key) + pem(leaf) + pem(ca))
    putc("fuzz_pem", "ec_chain_ca_first", b"\n" + pem(ca) + kpem(leaf_key) + pem(leaf))
    putc("fuzz_pem", "rsa_traditional", b"\n" + kpem(rkey, serialization.PrivateFormat.TraditionalOpenSSL) + pem(rcert))
    putc("fuzz_pem", "ec_encrypted", b"pw\n" + kpem(leaf_key, enc=serialization.BestAvailableEncryption(b"pw")) + pem(leaf))
    putc("fuzz_pem", "ec_trad_encrypted", b"pw\n" + kpem(leaf_key, serialization.PrivateFormat.TraditionalOpenSSL, serialization.BestAvailableEncryption(b"pw")) + pem(leaf))
    putc("fuzz_pem", "p384_sec1", b"\n" + kpem(k384, serialization.PrivateFormat.TraditionalOpenSSL) + pem(c384))
    putc("fuzz_pem", "key_only", b"\n" + kpem(leaf_key))
    putc("fuzz_pem", "mismatch", b"\n" + kpem(rkey) + pem(leaf))
    putc("fuzz_pem", "garbage_between", b"\nhello\n" + kpem(leaf_key) + b"junk\n" + pem(leaf))


def text_seeds():
    filters = {
        "eq": "displayName eq 'web-app'", "startswith": "startswith(displayName,'web')",
        "quote": "displayName eq 'it''s'", "appid": "appId eq '00000000-0000-0000-0000-000000000001'",
        "spaces": "  startswith( mailNickname ,'x' )  ", "bad_field": "color eq 'red'",
        "unterminated": "displayName eq 'abc", "empty_value": "id eq ''", "upper": "DISPLAYNAME EQ 'A'",
    }
    for n, t in filters.items():
        put("fuzz_graph_filter", n, t)
    # fuzz_rbac_pattern input: pattern '\n' action '\n' scope
    pats = {
        "reader": "Microsoft.KeyVault/vaults/*/read\nMicrosoft.KeyVault/vaults/read\n/subscriptions/S/resourceGroups/G",
        "secrets": "Microsoft.KeyVault/vaults/secrets/*\nmicrosoft.keyvault/vaults/secrets/getSecret/action\n//Subscriptions//s//",
        "star": "*\nMicrosoft.Authorization/roleAssignments/write\n/",
        "stars": "Microsoft.*/*/read\nMicrosoft.Insights/alertRules/read\n/subscriptions/a/resourcegroups/b/providers/microsoft.keyvault/vaults/v/secrets/n",
        "nomatch": "Microsoft.KeyVault/vaults/keys/*\nMicrosoft.KeyVault/vaults/secrets/readMetadata/action\n",
    }
    for n, t in pats.items():
        put("fuzz_rbac_pattern", n, t)


def assertion_seeds():
    # fuzz_assertion input: mode byte then text (see fuzz_assertion.c)
    now = 1767225600  # the target's fixed clock (2026-01-01T00:00:00Z)
    claims = {"iss": "@CLIENT@", "sub": "@CLIENT@", "aud": "@AUD@", "exp": now + 600,
              "nbf": now - 10, "iat": now - 10, "jti": "j1"}
    put("fuzz_assertion", "claims_ok", b"\x01" + json.dumps(claims).encode())
    c2 = dict(claims, aud=["https://other.example/x", "@AUD@"], jti=None)
    del c2["jti"]
    put("fuzz_assertion", "claims_aud_array", b"\x01" + json.dumps(c2).encode())
    put("fuzz_assertion", "claims_expired", b"\x01" + json.dumps(dict(claims, exp=now - 3600)).encode())
    put("fuzz_assertion", "claims_wrong_iss", b"\x01" + json.dumps(dict(claims, iss="x")).encode())
    put("fuzz_assertion", "claims_far_exp", b"\x01" + json.dumps(dict(claims, exp=now + 86400 * 3)).encode())
    put("fuzz_assertion", "claims_float_exp", b"\x01" + json.dumps(dict(claims, exp=now + 60.5)).encode())
    hdr = b64u(b'{"alg":"ES256","typ":"JWT","x5t":"AAAAAAAAAAAAAAAAAAAAAAAAAAA"}')
    put("fuzz_assertion", "raw_es256", b"\x00" + (hdr + "." + b64u(b'{"a":1}') + "." + b64u(os.urandom(64))).encode())
    hdr = b64u(b'{"alg":"RS256","typ":"JWT"}')
    put("fuzz_assertion", "raw_rs256", b"\x00" + (hdr + "." + b64u(b'{"a":1}') + "." + b64u(os.urandom(256))).encode())
    hdr = b64u(b'{"alg":"PS256"}')
    put("fuzz_assertion", "raw_ps256", b"\x00" + (hdr + "." + b64u(b'{}') + "." + b64u(os.urandom(256))).encode())
    put("fuzz_assertion", "header_rs", b"\x02" + b'{"alg":"RS256","typ":"JWT","x5t":"@RX5T@"}\n' + json.dumps(claims).encode())
    put("fuzz_assertion", "header_ps", b"\x02" + b'{"alg":"PS256","x5t":"@RX5T@"}\n' + json.dumps(claims).encode())
    put("fuzz_assertion", "header_hs256", b"\x02" + b'{"alg":"HS256","x5t":"@X5T@"}\n' + json.dumps(claims).encode())
    put("fuzz_assertion", "header_s256", b"\x02" + b'{"alg":"ES256","x5t#S256":"@X5T256@"}\n' + json.dumps(claims).encode())


def share_text(key_id, t, x, y, version=1):
    body = bytes([version]) + key_id + bytes([t, x]) + y
    return b64u(body + hashlib.sha256(body).digest()[:4])


def shamir_seeds():
    # parse mode (byte 0 even): share lines; split mode (odd): t, n, key, order, typo bytes
    kid = os.urandom(4)
    good = [share_text(kid, 3, x, os.urandom(32)) for x in (1, 2, 3)]
    put("fuzz_shamir", "parse_three", b"\x00" + "\n".join(good).encode())
    put("fuzz_shamir", "parse_spaces", b"\x00" + ("  " + good[0] + " \r\n" + good[1] + "\n").encode())
    put("fuzz_shamir", "parse_padded", b"\x00" + (good[0] + "==").encode())
    put("fuzz_shamir", "parse_std_alphabet", b"\x00" + good[0].replace("-", "+").replace("_", "/").encode())
    put("fuzz_shamir", "parse_bad_check", b"\x00" + (good[0][:-3] + ("A" if good[0][-3] != "A" else "B") + good[0][-2:]).encode())
    put("fuzz_shamir", "parse_x0", b"\x00" + share_text(kid, 3, 0, os.urandom(32)).encode())
    put("fuzz_shamir", "parse_v2", b"\x00" + share_text(kid, 3, 1, os.urandom(32), version=2).encode())
    put("fuzz_shamir", "parse_same_x", b"\x00" + (good[0] + "\n" + share_text(kid, 3, 1, os.urandom(32))).encode())
    for name, (t, n) in {"split_2of2": (0, 0), "split_3of5": (1, 3), "split_16of16": (14, 14)}.items():
        put("fuzz_shamir", name, b"\x01" + bytes([t, n]) + os.urandom(32) + bytes([7, 57, 12, 3]))


def audit_seeds():
    # chain mode (byte 0 odd): offset (4, little-endian), xor mask, record lines
    rec = lambda op, ip, t: json.dumps({"time": t, "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V1",
                                        "operationName": op, "category": "AuditEvent", "resultType": "Success",
                                        "callerIpAddress": ip, "identity": {"claim": {"appid": "a1"}},
                                        "properties": {"httpStatusCode": 200}}, separators=(",", ":"))
    lines = [rec("SecretGet", "10.0.0.1", "2026-01-01T00:00:01.0000000Z"),
             rec("SecretSet", "10.0.0.2", "2026-01-01T00:00:02.1230000Z"),
             rec("VaultGet", "::1", "2026-01-01T00:00:03Z"), '{"a":1}',
             rec("SecretGet", "10.0.0.1", "2026-01-01T00:00:04.5Z")]
    for name, (off, mask, ls) in {"chain_five": (100, 0x20, lines), "chain_one": (0, 1, lines[:1]),
                                  "chain_empty": (7, 0x80, []), "chain_bad_lines": (3000, 4, ["not json", '{"chain":1}', "{}", lines[0]]),
                                  "chain_last_byte": (0xFFFFFFFF, 0x0A, lines[:4])}.items():
        put("fuzz_audit_line", name, b"\x01" + struct.pack("<IB", off, mask) + "\n".join(ls).encode())


def kvkey_ops_seeds():
    # key, op, alg index (fuzz_kvkey_ops.c's table), iv len, tag len, aad len, digest len; bytes
    R = os.urandom
    seeds = {
        "verify_rs256": (0, 0, 0, 0, 0, 0, 32, R(32) + R(256)),
        "verify_ps512_short_digest": (0, 0, 5, 0, 0, 0, 32, R(32) + R(256)),
        "verify_es384": (2, 0, 9, 0, 0, 0, 48, R(48) + R(96)),
        "verify_es512_der": (3, 0, 10, 0, 0, 0, 64, R(64) + b"\x30\x81\x88\x02\x42" + R(66) + b"\x02\x42" + R(66)),
        "verify_hs256": (5, 0, 11, 0, 0, 0, 32, R(32) + R(32)),
        "decrypt_oaep": (0, 1, 15, 0, 0, 0, 0, R(256)),
        "decrypt_rsa15": (0, 1, 14, 0, 0, 0, 0, R(256)),
        "decrypt_gcm": (7, 1, 19, 12, 16, 4, 0, R(12) + R(16) + R(4) + R(32)),
        "decrypt_cbc": (5, 1, 20, 16, 0, 0, 0, R(16) + R(32)),
        "decrypt_cbcpad": (6, 1, 24, 16, 0, 0, 0, R(16) + R(48)),
        "unwrap_a192kw": (6, 2, 27, 0, 0, 0, 0, R(40)),
        "unwrap_kwp": (7, 2, 30, 0, 0, 0, 0, R(24)),
        "unwrap_oaep256": (0, 2, 16, 0, 0, 0, 0, R(256)),
        "encrypt_gcm_aad": (7, 3, 19, 0, 0, 5, 0, R(5) + b"hello world"),
        "encrypt_cbcpad_iv": (5, 3, 23, 16, 0, 0, 0, R(16) + b"seventeen bytes!!"),
        "wrap_oaep256": (0, 4, 16, 0, 0, 0, 0, R(32)),
        "wrap_kwp_5": (5, 4, 30, 0, 0, 0, 0, b"12345"),
        "unknown_alg": (1, 0, 32, 0, 0, 0, 32, R(32) + R(64)),
    }
    for name, v in seeds.items():
        put("fuzz_kvkey_ops", name, bytes(v[:7]) + v[7])


def main():
    kvkey_ops_seeds()
    shamir_seeds()
    audit_seeds()
    kvkey_seeds()
    cert_seeds()
    text_seeds()
    assertion_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
