"""matrix.py - the authorization matrix (issue 10, "Tests"): every built-in role x every
data-plane operation x every scope kind, through REST, and the same for access policies.

    /usr/bin/python3 matrix.py DIR/env

The expected answer of every cell is computed HERE from the reference
(azure-kv-security-ops.md §2.2 role DataActions, §2.4 operation -> DataAction -> policy
permission, §2.5 scopes, §2.6 matching, §3.2 policy names), never from the server's tables,
so the test can disagree with the server.

A cell is (principal, operation). Allowed: the status the object's state gives (the test
models each principal's own secret and key: live / deleted / gone), never a 403 authorization
refusal. Refused: 403 with inner code ForbiddenByRbac and the right "Action:" and "Resource:"
lines (RBAC vaults), or ForbiddenByPolicy naming the permission (access-policy vaults).

RBAC principals: one per (role, scope kind); scope kinds "/" (the whole server), the
subscription, the resource group, the vault, and one object (the principal's own secret and
key). Object-scope principals are also tried on another object (refused) and on vault-level
operations (lists, restore: refused). Every RBAC principal also reads a secret and a key in a
second vault in another resource group: allowed only from "/" and the subscription.

Policy principals: one per single permission (secrets and keys, §3.2), plus "all", none and
mixed case, on a vault with enableRbacAuthorization false; plus cross-model checks (a role
assignment does not open a policy vault, a policy entry does not open an RBAC vault).
"""
import base64
import hashlib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from azlib import API, Results, Srv, b64url  # noqa: E402

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils  # noqa: E402

KV = "Microsoft.KeyVault/"

# ---------------------------------------------------------------- the reference's roles (§2.2)
ROLES = [
    # (short, name, guid, DataActions, NotDataActions)
    ("kv-admin", "Key Vault Administrator", "00482a5a-887f-4fb3-b363-3b7fe8e74483",
     [KV + "vaults/*"]),
    ("kv-reader", "Key Vault Reader", "21090545-7ca7-4776-b22c-e363652d74d2",
     [KV + "vaults/*/read", KV + "vaults/secrets/readMetadata/action"]),
    ("secrets-officer", "Key Vault Secrets Officer", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
     [KV + "vaults/secrets/*"]),
    ("secrets-user", "Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6",
     [KV + "vaults/secrets/getSecret/action", KV + "vaults/secrets/readMetadata/action"]),
    ("crypto-officer", "Key Vault Crypto Officer", "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
     [KV + "vaults/keys/*", KV + "vaults/keyrotationpolicies/*"]),
    ("crypto-user", "Key Vault Crypto User", "12338af0-0e69-4776-bea7-57ae8d297424",
     [KV + "vaults/keys/read", KV + "vaults/keys/update/action", KV + "vaults/keys/backup/action",
      KV + "vaults/keys/encrypt/action", KV + "vaults/keys/decrypt/action",
      KV + "vaults/keys/wrap/action", KV + "vaults/keys/unwrap/action",
      KV + "vaults/keys/sign/action", KV + "vaults/keys/verify/action"]),
    ("crypto-sea-user", "Key Vault Crypto Service Encryption User",
     "e147488a-f6f5-4113-8e2d-b22465e65bf6",
     [KV + "vaults/keys/read", KV + "vaults/keys/wrap/action", KV + "vaults/keys/unwrap/action"]),
    ("crypto-release-user", "Key Vault Crypto Service Release User",
     "08bbd89e-9f13-488c-ac41-acfcb10c90ab", [KV + "vaults/keys/release/action"]),
    ("certs-officer", "Key Vault Certificates Officer", "a4417e6f-fecd-4de8-b567-7b0420556985",
     [KV + "vaults/certificatecas/*", KV + "vaults/certificates/*",
      KV + "vaults/certificatecontacts/write"]),
    ("cert-user", "Key Vault Certificate User", "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
     [KV + "vaults/certificates/read", KV + "vaults/secrets/getSecret/action",
      KV + "vaults/secrets/readMetadata/action", KV + "vaults/keys/read"]),
    ("data-access-admin", "Key Vault Data Access Administrator",
     "8b54135c-b56d-4d72-a534-26097cfdc8d8", []),
    ("kv-contributor", "Key Vault Contributor", "f25e0fa2-a7c8-4377-a976-54943a77a395", []),
    ("owner", "Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", []),
    ("contributor", "Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c", []),
    ("reader", "Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7", []),
]
SCOPES = ["server", "subscription", "group", "vault", "object"]


def glob_ok(pattern, action):
    """§2.6: '*' matches any run of characters, case-insensitive, whole string."""
    rx = "^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$"
    return re.match(rx, action, re.IGNORECASE) is not None


def role_allows(data_actions, action):
    return any(glob_ok(p, action) for p in data_actions)


def grants_allow(grants, action):
    """§2.6: union over assignments of (DataActions - NotDataActions); Not is no deny."""
    return any(role_allows(d, action) and not role_allows(n, action) for d, n in grants)


# A custom role with wildcards and NotDataActions (issue 10: "Custom roles with wildcards and
# NotDataActions"): every secret and key action except secret delete/purge and every key
# "/action" (so keys/read and keys/delete remain).
CUSTOM = ("e2e-authz-custom", "E2E Authz Secrets No Delete",
          [KV + "vaults/secrets/*", KV + "vaults/keys/*"],
          [KV + "vaults/secrets/delete", KV + "vaults/secrets/purge/action",
           KV + "vaults/keys/*/action"])


# ---------------------------------------------------------------- operations (§2.4)
# Each: id, kind ("secret"/"key"), DataAction (without the KV/vaults/ prefix), policy
# permission "<kind>/<name>" (§3.2 casing), level ("object": the resource is the object;
# "vault": lists, restore, rng).
# Ops whose §2.4 row is marked (unverified): GET /deletedsecrets[/{n}] and /deletedkeys[/{n}]
# (readMetadata / keys/read, policy list). For the policy of the single get-deleted, the
# secrets reference (azure-kv-secrets.md, "Get, Get deleted: get") and §2.4 ("list",
# unverified) disagree: those cells accept either answer and are counted as ambiguous.
OPS = {}


def op(oid, kind, action, perm, level="object", alt_perm=None):
    OPS[oid] = {"id": oid, "kind": kind, "action": KV + "vaults/" + action, "perm": perm,
                "level": level, "alt_perm": alt_perm}


op("secret.get", "secret", "secrets/getSecret/action", "secrets/get")
op("secret.get-version", "secret", "secrets/getSecret/action", "secrets/get")
op("secret.list", "secret", "secrets/readMetadata/action", "secrets/list", "vault")
op("secret.list-versions", "secret", "secrets/readMetadata/action", "secrets/list")
op("secret.set", "secret", "secrets/setSecret/action", "secrets/set")
op("secret.update", "secret", "secrets/update/action", "secrets/set")
op("secret.backup", "secret", "secrets/backup/action", "secrets/backup")
op("secret.delete", "secret", "secrets/delete", "secrets/delete")
op("secret.get-deleted", "secret", "secrets/readMetadata/action", "secrets/list",
   alt_perm="secrets/get")
op("secret.list-deleted", "secret", "secrets/readMetadata/action", "secrets/list", "vault")
op("secret.recover", "secret", "secrets/recover/action", "secrets/recover")
op("secret.purge", "secret", "secrets/purge/action", "secrets/purge")
op("secret.restore", "secret", "secrets/restore/action", "secrets/restore", "vault")
op("key.get", "key", "keys/read", "keys/get")
op("key.get-version", "key", "keys/read", "keys/get")
op("key.list", "key", "keys/read", "keys/list", "vault")
op("key.list-versions", "key", "keys/read", "keys/list")
op("key.get-rotation-policy", "key", "keyrotationpolicies/read", "keys/getrotationpolicy")
op("key.set-rotation-policy", "key", "keyrotationpolicies/write", "keys/setrotationpolicy")
op("key.update", "key", "keys/update/action", "keys/update")
op("key.encrypt", "key", "keys/encrypt/action", "keys/encrypt")
op("key.decrypt", "key", "keys/decrypt/action", "keys/decrypt")
op("key.wrap", "key", "keys/wrap/action", "keys/wrapKey")
op("key.unwrap", "key", "keys/unwrap/action", "keys/unwrapKey")
op("key.sign", "key", "keys/sign/action", "keys/sign")
op("key.verify", "key", "keys/verify/action", "keys/verify")
op("key.release", "key", "keys/release/action", "keys/release")
op("key.import", "key", "keys/import/action", "keys/import")
op("key.create", "key", "keys/create/action", "keys/create")
op("key.rotate", "key", "keys/rotate/action", "keys/rotate")
op("key.backup", "key", "keys/backup/action", "keys/backup")
op("key.delete", "key", "keys/delete", "keys/delete")
op("key.get-deleted", "key", "keys/read", "keys/list", alt_perm="keys/get")
op("key.list-deleted", "key", "keys/read", "keys/list", "vault")
op("key.recover", "key", "keys/recover/action", "keys/recover")
op("key.purge", "key", "keys/purge/action", "keys/purge")
op("key.restore", "key", "keys/restore/action", "keys/restore", "vault")
# POST /rng: no key involved; the reference names no permission for it (Managed HSM has
# "rng"). Coffer documents (routes.c) that it needs what reading a key needs: keys/read,
# policy keys get. Checked against that documented choice.
op("key.rng", "key", "keys/read", "keys/get", "vault")

# The order each principal runs them in (a lifecycle: deletes, recovers, purges, restores).
SEQ = ["secret.get", "secret.get-version", "secret.list", "secret.list-versions", "secret.set",
       "secret.update", "secret.backup", "secret.delete", "secret.get-deleted",
       "secret.list-deleted", "secret.recover", "secret.delete", "secret.purge",
       "secret.restore", "secret.get",
       "key.get", "key.get-version", "key.list", "key.list-versions", "key.get-rotation-policy",
       "key.set-rotation-policy", "key.update", "key.encrypt", "key.decrypt", "key.wrap",
       "key.unwrap", "key.sign", "key.verify", "key.release", "key.import", "key.create",
       "key.rotate", "key.backup", "key.delete", "key.get-deleted", "key.list-deleted",
       "key.recover", "key.delete", "key.purge", "key.restore", "key.get", "key.rng"]
# Tried by object-scope principals on ANOTHER object of the same vault: always refused.
OTHER_OBJECT = ["secret.get", "secret.list-versions", "secret.set", "secret.update",
                "secret.backup", "secret.delete", "secret.get-deleted", "secret.recover",
                "secret.purge", "key.get", "key.update", "key.sign", "key.wrap", "key.unwrap",
                "key.create", "key.rotate", "key.backup", "key.delete", "key.purge"]

# ---------------------------------------------------------------- key material
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _i2b(i):
    return b64url(i.to_bytes((i.bit_length() + 7) // 8, "big"))


_pn = RSA.private_numbers()
JWK = {"kty": "RSA", "n": _i2b(_pn.public_numbers.n), "e": _i2b(_pn.public_numbers.e),
       "d": _i2b(_pn.d), "p": _i2b(_pn.p), "q": _i2b(_pn.q), "dp": _i2b(_pn.dmp1),
       "dq": _i2b(_pn.dmq1), "qi": _i2b(_pn.iqmp), "key_ops": ["encrypt", "decrypt", "sign",
                                                               "verify", "wrapKey", "unwrapKey"]}
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
CT = b64url(RSA.public_key().encrypt(b"authz matrix plaintext", OAEP))
WK = b64url(RSA.public_key().encrypt(os.urandom(32), OAEP))
DIGEST = hashlib.sha256(b"authz matrix").digest()
SIG = b64url(RSA.sign(DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())))


# ---------------------------------------------------------------- the run
class Matrix:
    def __init__(self, srv, res):
        self.s = srv
        self.res = res
        self.cells = 0
        self.ok = 0
        self.ambiguous = 0
        self.allowed_cells = self.allowed_2xx = 0
        self.fail_lines = 0
        self.max_fail_lines = int(os.environ.get("AUTHZ_MAX_FAIL_LINES", "60"))
        self.disagree = {}  # (op, "allowed"/"refused") -> count, for the summary

    # -- objects owned by one principal ------------------------------------------------------
    def make_objects(self, vault, tag):
        """Admin creates secret s-TAG (version, backup blob) and key k-TAG (version, backup)."""
        v = self.s.vault(vault)
        a = self.s.admin_data
        obj = {"vault": vault, "secret": "s-" + tag, "key": "k-" + tag,
               "sstate": "live", "kstate": "live"}
        r = v.request("PUT", "/secrets/%s?%s" % (obj["secret"], API), {"value": "v-" + tag}, a)
        assert r.status == 200, "admin secret set: %d %s" % (r.status, r.err())
        obj["sver"] = r.json["id"].rsplit("/", 1)[1]
        r = v.request("POST", "/secrets/%s/backup?%s" % (obj["secret"], API), {}, a)
        assert r.status == 200, "admin secret backup: %d" % r.status
        obj["sbackup"] = r.json["value"]
        r = v.request("PUT", "/keys/%s?%s" % (obj["key"], API), {"key": JWK}, a)
        assert r.status == 200, "admin key import: %d %s" % (r.status, r.err())
        obj["kver"] = r.json["key"]["kid"].rsplit("/", 1)[1]
        r = v.request("POST", "/keys/%s/backup?%s" % (obj["key"], API), {}, a)
        assert r.status == 200, "admin key backup: %d" % r.status
        obj["kbackup"] = r.json["value"]
        return obj

    # -- one operation -------------------------------------------------------------------------
    def run_op(self, oid, obj, token, vault=None):
        """Sends op oid against obj; returns (Resp, expected status if allowed, transition)."""
        v = self.s.vault(vault or obj["vault"])
        S, K, sv, kv = obj["secret"], obj["key"], obj["sver"], obj["kver"]
        st, kst = obj["sstate"], obj["kstate"]
        live = lambda x: 200 if x == "live" else 404  # noqa: E731
        dele = lambda x: 200 if x == "deleted" else 404  # noqa: E731
        crypto = "/keys/%s/%s/" % (K, kv)
        T = {  # id: (method, path, body, expected-if-allowed, new state on 2xx or None)
            "secret.get": ("GET", "/secrets/" + S, None, live(st), None),
            "secret.get-version": ("GET", "/secrets/%s/%s" % (S, sv), None, live(st), None),
            "secret.list": ("GET", "/secrets", None, 200, None),
            "secret.list-versions": ("GET", "/secrets/%s/versions" % S, None, 200, None),
            "secret.set": ("PUT", "/secrets/" + S, {"value": "new"},
                           409 if st == "deleted" else 200, "live"),
            "secret.update": ("PATCH", "/secrets/%s/%s" % (S, sv), {"contentType": "text/x"},
                              live(st), None),
            "secret.backup": ("POST", "/secrets/%s/backup" % S, {}, live(st), None),
            "secret.delete": ("DELETE", "/secrets/" + S, None, live(st), "deleted"),
            "secret.get-deleted": ("GET", "/deletedsecrets/" + S, None, dele(st), None),
            "secret.list-deleted": ("GET", "/deletedsecrets", None, 200, None),
            "secret.recover": ("POST", "/deletedsecrets/%s/recover" % S, {}, dele(st), "live"),
            "secret.purge": ("DELETE", "/deletedsecrets/" + S, None,
                             204 if st == "deleted" else 404, "gone"),
            "secret.restore": ("POST", "/secrets/restore", {"value": obj.get("sbackup", "")},
                               200 if st == "gone" else 409, "live"),
            "key.get": ("GET", "/keys/" + K, None, live(kst), None),
            "key.get-version": ("GET", "/keys/%s/%s" % (K, kv), None, live(kst), None),
            "key.list": ("GET", "/keys", None, 200, None),
            "key.list-versions": ("GET", "/keys/%s/versions" % K, None, 200, None),
            "key.get-rotation-policy": ("GET", "/keys/%s/rotationpolicy" % K, None,
                                        live(kst), None),
            "key.set-rotation-policy": ("PUT", "/keys/%s/rotationpolicy" % K,
                                        {"lifetimeActions": [], "attributes":
                                         {"expiryTime": "P90D"}}, live(kst), None),
            "key.update": ("PATCH", "/keys/%s/%s" % (K, kv), {"tags": {"m": "1"}}, live(kst),
                           None),
            "key.encrypt": ("POST", crypto + "encrypt",
                            {"alg": "RSA-OAEP", "value": b64url(b"hello")}, live(kst), None),
            "key.decrypt": ("POST", crypto + "decrypt", {"alg": "RSA-OAEP", "value": CT},
                            live(kst), None),
            "key.wrap": ("POST", crypto + "wrapkey", {"alg": "RSA-OAEP",
                                                      "value": b64url(os.urandom(32))},
                         live(kst), None),
            "key.unwrap": ("POST", crypto + "unwrapkey", {"alg": "RSA-OAEP", "value": WK},
                           live(kst), None),
            "key.sign": ("POST", crypto + "sign", {"alg": "RS256", "value": b64url(DIGEST)},
                         live(kst), None),
            "key.verify": ("POST", crypto + "verify", {"alg": "RS256", "digest": b64url(DIGEST),
                                                       "value": SIG}, live(kst), None),
            # Coffer refuses every release (no attestation service): an allowed caller gets a
            # 403 that is not an authorization refusal (checked in check_cell).
            "key.release": ("POST", crypto + "release", {"target": "eyJhbGciOiJub25lIn0.e30."},
                            403 if kst == "live" else 404, None),
            "key.import": ("PUT", "/keys/" + K, {"key": JWK},
                           409 if kst == "deleted" else 200, "live"),
            "key.create": ("POST", "/keys/%s/create" % K, {"kty": "EC", "crv": "P-256"},
                           409 if kst == "deleted" else 200, "live"),
            "key.rotate": ("POST", "/keys/%s/rotate" % K, {}, live(kst), None),
            "key.backup": ("POST", "/keys/%s/backup" % K, {}, live(kst), None),
            "key.delete": ("DELETE", "/keys/" + K, None, live(kst), "deleted"),
            "key.get-deleted": ("GET", "/deletedkeys/" + K, None, dele(kst), None),
            "key.list-deleted": ("GET", "/deletedkeys", None, 200, None),
            "key.recover": ("POST", "/deletedkeys/%s/recover" % K, {}, dele(kst), "live"),
            "key.purge": ("DELETE", "/deletedkeys/" + K, None,
                          204 if kst == "deleted" else 404, "gone"),
            "key.restore": ("POST", "/keys/restore", {"value": obj.get("kbackup", "")},
                            200 if kst == "gone" else 409, "live"),
            "key.rng": ("POST", "/rng", {"count": 8}, 200, None),
        }
        method, path, body, want, to = T[oid]
        sep = "&" if "?" in path else "?"
        r = v.request(method, path + sep + API, body, token)
        if to and 200 <= r.status < 300:
            obj["sstate" if OPS[oid]["kind"] == "secret" else "kstate"] = to
        return r, want

    # -- expectation and verdict ---------------------------------------------------------------
    def check_cell(self, who, oid, r, want, allowed, model, resource=None, permission=None,
                   ambiguous=False):
        """allowed: True/False (or None when ambiguous: either answer, each well-formed)."""
        self.cells += 1
        code, inner, msg = r.err()
        o = OPS[oid]
        refused_kind = "ForbiddenByRbac" if model == "rbac" else "ForbiddenByPolicy"
        is_refusal = r.status == 403 and inner.startswith("ForbiddenBy")
        problems = []
        if allowed is None:
            self.ambiguous += 1
            allowed = not is_refusal
        if allowed:
            if is_refusal:
                problems.append("refused (%s) but the reference allows it" % inner)
                self.disagree[(oid, "refused")] = self.disagree.get((oid, "refused"), 0) + 1
            elif oid == "key.release" and r.status == 403:
                pass  # Coffer's release refusal (no inner code): authorization passed
            elif r.status != want:
                problems.append("HTTP %d %s, expected %d for the object's state" %
                                (r.status, code, want))
            elif oid == "key.decrypt" and r.status == 200 and \
                    (r.json or {}).get("value") != b64url(b"authz matrix plaintext"):
                problems.append("decrypt gave another plaintext")
            elif oid == "key.verify" and r.status == 200 and (r.json or {}).get("value") is not True:
                problems.append("verify did not say true")
            if not problems:
                self.allowed_cells += 1
                self.allowed_2xx += 200 <= r.status < 300
        else:
            if not is_refusal:
                problems.append("HTTP %d %s, expected 403 %s" % (r.status, code or inner,
                                                                 refused_kind))
                self.disagree[(oid, "allowed")] = self.disagree.get((oid, "allowed"), 0) + 1
            elif inner != refused_kind:
                problems.append("inner code %s, expected %s" % (inner, refused_kind))
            elif code != "Forbidden":
                problems.append("outer code %s" % code)
            elif model == "rbac":
                if "Action: '%s'" % o["action"] not in msg:
                    m = re.search(r"Action: '([^']*)'", msg)
                    problems.append("Action line %r, expected %r" %
                                    (m.group(1) if m else None, o["action"]))
                if resource and "Resource: '%s'" % resource.lower() not in msg:
                    m = re.search(r"Resource: '([^']*)'", msg)
                    problems.append("Resource line %r, expected %r" %
                                    (m.group(1) if m else None, resource.lower()))
                if "oid=%s" % who["oid"] not in msg:
                    problems.append("caller oid not named")
            else:
                kind, perm = (permission or o["perm"]).split("/")
                alts = [(permission or o["perm"])] + ([o["alt_perm"]] if o["alt_perm"] else [])
                if not any(("does not have %s %s permission" % tuple(a.split("/"))).lower()
                           in msg.lower() for a in alts):
                    problems.append("message does not name '%s %s': %r" % (kind, perm, msg[:200]))
                if "oid=%s" % who["oid"] not in msg:
                    problems.append("caller oid not named")
        if problems:
            self.fail_lines += 1
            if self.fail_lines <= self.max_fail_lines:
                self.res.rec(False, "%s: %s %s" % (who["label"], oid,
                                                  "allowed" if allowed else "refused"),
                             "; ".join(problems))
            return False
        self.ok += 1
        return True

    # -- RBAC ----------------------------------------------------------------------------------
    def rbac(self, vault, vault_b, rg_b):
        s = self.s
        vscope = s.vault_scope(vault)
        scope_of = {"server": "/", "subscription": "/subscriptions/" + s.sub,
                    "group": "/subscriptions/%s/resourceGroups/%s" % (s.sub, s.rg),
                    "vault": vscope}
        other = self.make_objects(vault, "other")
        b_obj = self.make_objects(vault_b, "inb")
        s.put_vault(vault + "x", rbac=True)
        x_obj = self.make_objects(vault + "x", "inx")
        vscope_b = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s" % (
            s.sub, rg_b, vault_b)
        principals = []
        t0 = time.time()
        for short, name, guid, das in ROLES:
            for sk in SCOPES:
                tag = "%s-%s" % (short, sk)
                p = s.new_principal("authz-" + tag)
                p["label"] = "rbac %s @%s" % (name, sk)
                obj = self.make_objects(vault, tag)
                if sk == "object":
                    obj["sib"] = self.make_objects(vault, tag + "x")
                    s.assign(vscope + "/secrets/" + obj["secret"], guid, p["oid"])
                    s.assign(vscope + "/keys/" + obj["key"], guid, p["oid"])
                else:
                    s.assign(scope_of[sk], guid, p["oid"])
                p["token"] = s.token(p["appId"], p["secret"])
                principals.append((p, sk, [(das, [])], obj))
        principals += self.extra_principals(vault, vscope)
        print("  setup: %d RBAC principals, their objects and assignments in %.1f s" %
              (len(principals), time.time() - t0), flush=True)
        t0 = time.time()
        before = self.cells
        for p, sk, das, obj in principals:  # das: the grants [(DataActions, NotDataActions)]
            bad = 0
            for oid in SEQ:
                o = OPS[oid]
                res_path = vscope if o["level"] == "vault" else "%s/%s/%s" % (
                    vscope, "secrets" if o["kind"] == "secret" else "keys",
                    obj["secret"] if o["kind"] == "secret" else obj["key"])
                covers = sk != "object" or o["level"] == "object"
                allowed = covers and grants_allow(das, o["action"])
                r, want = self.run_op(oid, obj, p["token"])
                bad += not self.check_cell(p, oid, r, want, allowed, "rbac", res_path)
            if sk == "object":
                # the same object named in upper case: object names are case-insensitive
                up = dict(obj, secret=obj["secret"].upper(), key=obj["key"].upper())
                for oid in ("secret.get", "key.get"):
                    o = OPS[oid]
                    res_path = "%s/%s/%s" % (vscope, "secrets" if o["kind"] == "secret" else "keys",
                                             up["secret"] if o["kind"] == "secret" else up["key"])
                    r, want = self.run_op(oid, up, p["token"])
                    bad += not self.check_cell(dict(p, label=p["label"] + " (name in upper case)"),
                                               oid, r, want, grants_allow(das, o["action"]), "rbac",
                                               res_path)
                # an object whose name extends this one's: a scope is a path prefix, not a
                # string prefix (§2.5)
                for oid in ("secret.get", "key.get"):
                    o = OPS[oid]
                    sib = obj["sib"]
                    res_path = "%s/%s/%s" % (vscope, "secrets" if o["kind"] == "secret" else "keys",
                                             sib["secret"] if o["kind"] == "secret" else sib["key"])
                    r, want = self.run_op(oid, sib, p["token"])
                    bad += not self.check_cell(dict(p, label=p["label"] + " (object " + sib["secret"]
                                                    + ")"), oid, r, want, False, "rbac", res_path)
                for oid in OTHER_OBJECT:
                    o = OPS[oid]
                    res_path = "%s/%s/%s" % (vscope, "secrets" if o["kind"] == "secret"
                                             else "keys", other["secret"] if o["kind"] ==
                                             "secret" else other["key"])
                    r, want = self.run_op(oid, other, p["token"])
                    bad += not self.check_cell(dict(p, label=p["label"] + " (other object)"),
                                               oid, r, want, False, "rbac", res_path)
            # a vault in the same group whose name extends this vault's: only "/" .. group
            for oid in ("secret.get",):
                o = OPS[oid]
                covers = sk in ("server", "subscription", "group")
                res_path = "%s/secrets/%s" % (self.s.vault_scope(vault + "x"), x_obj["secret"])
                r, want = self.run_op(oid, x_obj, p["token"])
                bad += not self.check_cell(dict(p, label=p["label"] + " (vault %sx)" % vault),
                                           oid, r, want, covers and grants_allow(das, o["action"]),
                                           "rbac", res_path)
            # a vault in another resource group: covered only by "/" and the subscription
            for oid in ("secret.get", "key.get"):
                o = OPS[oid]
                covers = sk in ("server", "subscription")
                res_path = "%s/%s/%s" % (vscope_b, "secrets" if o["kind"] == "secret" else "keys",
                                         b_obj["secret"] if o["kind"] == "secret" else b_obj["key"])
                r, want = self.run_op(oid, b_obj, p["token"])
                bad += not self.check_cell(dict(p, label=p["label"] + " (vault in other group)"),
                                           oid, r, want, covers and grants_allow(das, o["action"]),
                                           "rbac", res_path)
        n = self.cells - before
        print("  RBAC: %d cells in %.1f s" % (n, time.time() - t0), flush=True)
        return n, len(principals)

    def extra_principals(self, vault, vscope):
        """Custom role; custom role + a built-in granting what it subtracts (union); a
        built-in role held through a group."""
        s = self.s
        out = []
        import uuid as _uuid
        cid = str(_uuid.uuid4())
        r = s.mgmt.request("PUT", "/subscriptions/%s/providers/Microsoft.Authorization/"
                           "roleDefinitions/%s?api-version=2022-04-01" % (s.sub, cid),
                           {"properties": {"roleName": CUSTOM[1], "type": "CustomRole",
                                           "description": "authz matrix",
                                           "assignableScopes": ["/subscriptions/" + s.sub],
                                           "permissions": [{"actions": [], "notActions": [],
                                                            "dataActions": CUSTOM[2],
                                                            "notDataActions": CUSTOM[3]}]}},
                           s.admin_mgmt)
        if not self.res.rec(r.status in (200, 201), "custom role with NotDataActions created",
                            "HTTP %d %s" % (r.status, r.err())):
            return out
        officer = [x for x in ROLES if x[0] == "secrets-officer"][0]
        su = [x for x in ROLES if x[0] == "secrets-user"][0]
        rows = [("custom", [(cid, CUSTOM[2], CUSTOM[3])], False),
                ("custom-plus-secrets-officer", [(cid, CUSTOM[2], CUSTOM[3]),
                                            (officer[2], officer[3], [])], False),
                ("group-secrets-user", [(su[2], su[3], [])], True)]
        for tag, roles, via_group in rows:
            p = s.new_principal("authz-" + tag)
            p["label"] = "rbac %s @vault" % tag
            obj = self.make_objects(vault, tag)
            target = p["oid"]
            if via_group:
                g = s.mgmt.request("POST", "/v1.0/groups", {"displayName": "authz-" + tag,
                                                           "mailNickname": "authz-" + tag,
                                                           "securityEnabled": True},
                                   s.admin_mgmt)
                assert g.status == 201, "group create: %d" % g.status
                target = g.json["id"]
                m = s.mgmt.request("POST", "/v1.0/groups/%s/members/$ref" % target,
                                   {"@odata.id": "%s/v1.0/directoryObjects/%s" % (s.mgmt_url,
                                                                                  p["oid"])},
                                   s.admin_mgmt)
                assert m.status == 204, "group member add: %d" % m.status
            for guid, _, _ in roles:
                s.assign(vscope, guid, target, "Group" if via_group else "ServicePrincipal")
            p["token"] = s.token(p["appId"], p["secret"])
            out.append((p, "vault", [(d, n) for _, d, n in roles], obj))
        return out

    # -- access policies -----------------------------------------------------------------------
    def policies(self, vault, rbac_vault):
        s = self.s
        sets = []
        for perm in ["get", "list", "set", "delete", "backup", "restore", "recover", "purge"]:
            sets.append(("secrets-" + perm, {"secrets": [perm], "keys": []}))
        for perm in ["encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list",
                     "create", "update", "import", "delete", "backup", "restore", "recover",
                     "purge", "release", "rotate", "getrotationpolicy", "setrotationpolicy"]:
            sets.append(("keys-" + perm, {"secrets": [], "keys": [perm]}))
        sets.append(("all", {"secrets": ["all"], "keys": ["all"]}))
        sets.append(("none", {"secrets": [], "keys": []}))
        # portal/Terraform casing (§3.2: compared case-insensitively)
        sets.append(("mixed-case", {"secrets": ["Get", "List", "Set"],
                                    "keys": ["Get", "WrapKey", "GetRotationPolicy"]}))
        # Microsoft's "Secret Management" template (§3.2)
        sets.append(("secret-management", {"secrets": ["get", "list", "set", "delete", "recover",
                                                       "backup", "restore"], "keys": []}))
        principals = []
        t0 = time.time()
        for tag, perms in sets:
            p = s.new_principal("authz-pol-" + tag)
            p["label"] = "policy %s" % tag
            p["perms"] = perms
            principals.append(p)
        entries = [{"tenantId": s.tenant, "objectId": p["oid"],
                    "permissions": {"secrets": p["perms"]["secrets"], "keys": p["perms"]["keys"],
                                    "certificates": [], "storage": []}} for p in principals]
        # the admin keeps all rights so it can prepare objects
        admin_oid = self.admin_oid()
        entries.append({"tenantId": s.tenant, "objectId": admin_oid,
                        "permissions": {"secrets": ["all"], "keys": ["all"], "certificates": [],
                                        "storage": []}})
        s.put_vault(vault, rbac=False, policies=entries)
        objs = {}
        for p in principals:
            objs[p["oid"]] = self.make_objects(vault, "pol-" + p["label"].split(" ", 1)[1])
            p["token"] = s.token(p["appId"], p["secret"])
        print("  setup: %d policy principals in %.1f s" % (len(principals), time.time() - t0),
              flush=True)
        t0 = time.time()
        before = self.cells
        for p in principals:
            have = {k: [x.lower() for x in v] for k, v in p["perms"].items()}

            def has(perm):
                kind, name = perm.split("/")
                lst = have.get(kind, [])
                return "all" in lst or name.lower() in lst

            obj = objs[p["oid"]]
            for oid in SEQ:
                o = OPS[oid]
                allowed = has(o["perm"])
                if o["alt_perm"] and has(o["alt_perm"]) != allowed:
                    allowed = None  # the two references disagree (see OPS)
                r, want = self.run_op(oid, obj, p["token"])
                self.check_cell(p, oid, r, want, allowed, "policy")
        n = self.cells - before
        print("  policies: %d cells in %.1f s" % (n, time.time() - t0), flush=True)

        # Cross-model: a role assignment does not open a policy vault ...
        q = s.new_principal("authz-cross-admin-on-policy-vault")
        q["label"] = "Key Vault Administrator (role) on a policy vault"
        s.assign(s.vault_scope(vault), ROLES[0][2], q["oid"])
        q["token"] = s.token(q["appId"], q["secret"])
        anyobj = objs[principals[0]["oid"]]
        for oid in ("secret.list", "key.list", "secret.get-version", "key.get-version"):
            r, want = self.run_op(oid, anyobj, q["token"])
            self.check_cell(q, oid, r, want, False, "policy")
        # ... and a policy entry does not open an RBAC vault (the "all" principal).
        allp = [p for p in principals if p["label"] == "policy all"][0]
        s.put_vault(rbac_vault, rbac=True, policies=[
            {"tenantId": s.tenant, "objectId": allp["oid"],
             "permissions": {"secrets": ["all"], "keys": ["all"], "certificates": [],
                             "storage": []}}])
        allp = dict(allp, label="policy all (entry on an RBAC vault)")
        for oid in ("secret.list", "key.list"):
            r, want = self.run_op(oid, {"vault": rbac_vault, "secret": "x", "key": "x",
                                        "sver": "", "kver": "", "sstate": "live",
                                        "kstate": "live"}, allp["token"])
            self.check_cell(allp, oid, r, want, False, "rbac", s.vault_scope(rbac_vault))
        return n, len(principals)

    def admin_oid(self):
        tok = self.s.admin_data
        payload = tok.split(".")[1]
        import json
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["oid"]


def main():
    envfile = sys.argv[1]
    res = Results()
    t0 = time.time()
    s = Srv(envfile)
    m = Matrix(s, res)
    s.put_vault("authzrbac", rbac=True)
    # a second vault in another resource group (created with it)
    r = s.mgmt.request("PUT", "/subscriptions/%s/resourceGroups/authz-rg2/providers/"
                       "Microsoft.KeyVault/vaults/authzrbacb?api-version=2023-07-01" % s.sub,
                       {"location": "westus", "properties": {
                           "tenantId": s.tenant, "sku": {"family": "A", "name": "standard"},
                           "accessPolicies": [], "enableRbacAuthorization": True}},
                       s.admin_mgmt)
    res.rec(r.status in (200, 201), "vault authzrbacb in resource group authz-rg2 created",
            "HTTP %d" % r.status)
    try:
        rbac_cells, rbac_p = m.rbac("authzrbac", "authzrbacb", "authz-rg2")
        rbac_fail = m.fail_lines
        pol_cells, pol_p = m.policies("authzpol", "authzrbac")
    except (AssertionError, RuntimeError) as e:
        res.rec(False, "matrix setup", str(e))
        return 1
    nops = len(set(SEQ))
    res.rec(m.fail_lines == 0,
            "RBAC matrix: %d built-in roles x %d scope kinds x %d operations + a custom role "
            "with NotDataActions, a union and a group (%d principals), %d cells checked "
            "(incl. other-object, prefix, upper-case-name, other-vault cells)" %
            (len(ROLES), len(SCOPES), nops, rbac_p, rbac_cells),
            "%d failing cells" % rbac_fail)
    res.rec(m.fail_lines == rbac_fail,
            "access-policy matrix: %d permission sets x %d operations, %d cells checked "
            "(%d where the references disagree, either answer accepted)" %
            (pol_p, nops, pol_cells, m.ambiguous), "%d failing cells" % (m.fail_lines - rbac_fail))
    if m.disagree:
        print("  disagreements by operation: " + ", ".join(
            "%s: server %s x%d" % (k[0], "refused what the reference allows" if k[1] == "refused"
                                   else "allowed what the reference refuses", v) for k, v in sorted(m.disagree.items())))
    print("  matrix: %d cells, %d ok, %d failed (%d allowed cells: %d answered 2xx, the rest the "
          "404/409 of the object's state), %d requests, %.1f s" %
          (m.cells, m.ok, m.cells - m.ok, m.allowed_cells, m.allowed_2xx,
           sum(c.count for c in s.conns.values()), time.time() - t0), flush=True)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
