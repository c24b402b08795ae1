"""attacks.py - token attacks (issue 10, "Tests"): each one -> 401, on the data plane (with the
Bearer challenge) and on the management plane.

    /usr/bin/python3 attacks.py ATTACK_ENV OTHER_ENV

ATTACK_ENV: a cofferd --dev started with --token-lifetime-s 1, so a genuine token is expired
once its 60 s clock-skew allowance has passed (the script waits for that at its end; run it in
the background while other checks run). OTHER_ENV: a second, independent server (another
tenant, another signing key, another issuer).

We do not have the server's private key. Variants with a GENUINE signature: expired (short
lifetime), wrong audience (the management token on the data plane and the reverse), another
tenant / issuer / unknown kid (the other server's token), the vault's tenant differing from the
token's (a vault created with another tenantId), deleted principal, expired client secret.
Variants that change claims (not yet valid, issuer, tenant, oid, exp, aud) are proved by
"tampered payload": the otherwise-valid token with that one claim changed and the signature
kept, which must be rejected (the signature covers the claims); the nbf / iss checks on a
validly signed token are the unit tests' (tests/unit/auth).
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from azlib import API, Results, Srv, b64url, b64url_dec  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

SKEW_S = 60  # the server's documented allowance (src/auth/verify.c)


def parts(tok):
    h, p, s = tok.split(".")
    return json.loads(b64url_dec(h)), json.loads(b64url_dec(p)), s


def enc(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


class Attacks:
    def __init__(self, srv, other, res):
        self.s = srv
        self.o = other
        self.res = res
        self.n = 0
        self.data_path = "/secrets?" + API
        self.mgmt_path = "/subscriptions/%s?api-version=2022-12-01" % srv.sub

    def data(self, tok, vault="coffer"):
        return self.s.vault(vault).request("GET", self.data_path, None, tok)

    def mgmt(self, tok):
        return self.s.mgmt.request("GET", self.mgmt_path, None, tok)

    def expect_401(self, what, data_tok=None, mgmt_tok=None, vault="coffer"):
        """data_tok on the data plane and/or mgmt_tok on management: both must be 401."""
        s = self.s
        if data_tok is not None:
            self.n += 1
            r = self.data(data_tok, vault)
            ch = r.header("WWW-Authenticate") or ""
            want_auth = 'authorization="https://%s:%d/%s"' % (s.login_host, s.port, s.tenant)
            want_res = 'resource="%s"' % s.data_aud
            ok = r.status == 401 and r.err()[0] == "Unauthorized" and ch.startswith("Bearer ") \
                and want_auth in ch and want_res in ch
            self.res.rec(ok, "%s: data plane 401 Unauthorized with the Bearer challenge" % what,
                         "HTTP %d %s, WWW-Authenticate %r" % (r.status, r.err()[0], ch[:120]))
        if mgmt_tok is not None:
            self.n += 1
            r = self.mgmt(mgmt_tok)
            ok = r.status == 401 and r.err()[0] in ("InvalidAuthenticationToken",
                                                    "ExpiredAuthenticationToken",
                                                    "AuthenticationFailed")
            self.res.rec(ok, "%s: management 401" % what, "HTTP %d %s" % (r.status, r.err()[0]))

    def control(self, what, data_tok, mgmt_tok):
        r, m = self.data(data_tok), self.mgmt(mgmt_tok)
        self.res.rec(r.status == 200 and m.status == 200,
                     "control: %s accepted (data %d, management %d)" % (what, r.status, m.status),
                     "data %d %s, management %d %s" % (r.status, r.err()[0], m.status, m.err()[0]))

    # ------------------------------------------------------------------------------------------
    def forged(self, dt, mt):
        """Everything derived from a genuine data token dt and management token mt."""
        s = self.s
        jwks = s.login.request("GET", "/%s/discovery/v2.0/keys" % s.tenant).json["keys"]
        hdr_d, pay_d, sig_d = parts(dt)
        hdr_m, pay_m, sig_m = parts(mt)
        self.res.eq("server tokens are ES256 with a kid from the JWKS", (True, "ES256"),
                    (hdr_d["kid"] in [k["kid"] for k in jwks], hdr_d["alg"]))

        # alg none: unsigned, and with the original signature kept
        for label, tail in (("empty signature", ""), ("original signature", None)):
            nd = dict(hdr_d, alg="none")
            nm = dict(hdr_m, alg="none")
            self.expect_401("alg none (%s)" % label,
                            "%s.%s.%s" % (enc(nd), enc(pay_d), sig_d if tail is None else tail),
                            "%s.%s.%s" % (enc(nm), enc(pay_m), sig_m if tail is None else tail))
        for alg in ("None", "NONE"):
            self.expect_401("alg %r" % alg, "%s.%s." % (enc(dict(hdr_d, alg=alg)), enc(pay_d)),
                            "%s.%s." % (enc(dict(hdr_m, alg=alg)), enc(pay_m)))

        # HS256 keyed with the server's public key, in each form a confused verifier might use
        jwk = [k for k in jwks if k["kid"] == hdr_d["kid"]][0]
        pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64url_dec(jwk["x"]), "big"),
                                            int.from_bytes(b64url_dec(jwk["y"]), "big"),
                                            ec.SECP256R1()).public_key()
        forms = {
            "PEM SPKI": pub.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo),
            "DER SPKI": pub.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo),
            "uncompressed point": pub.public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint),
            "JWK JSON": json.dumps(jwk).encode(),
        }
        for label, key in forms.items():
            toks = []
            for hdr, pay in ((hdr_d, pay_d), (hdr_m, pay_m)):
                si = "%s.%s" % (enc(dict(hdr, alg="HS256")), enc(pay))
                toks.append(si + "." + b64url(hmac.new(key, si.encode(), hashlib.sha256).digest()))
            self.expect_401("HS256 signed with the server's public key (%s)" % label, *toks)

        # tampered signature: one bit flipped; truncated; another token's signature
        def flip(tok):
            h, p, sg = tok.split(".")
            b = bytearray(b64url_dec(sg))
            b[len(b) // 2] ^= 0x01
            return "%s.%s.%s" % (h, p, b64url(bytes(b)))
        self.expect_401("tampered signature (one bit flipped)", flip(dt), flip(mt))
        self.expect_401("truncated signature", dt[:-8], mt[:-8])
        self.expect_401("signature of another token", "%s.%s.%s" % (*dt.split(".")[:2], sig_m),
                        "%s.%s.%s" % (*mt.split(".")[:2], sig_d))

        # tampered payload, signature kept: the claim-based variants
        now = int(time.time())
        other_oid = str(uuid.uuid4())
        variants = [
            ("exp pushed a day later", {"exp": pay_d["exp"] + 86400}),
            ("not yet valid (nbf an hour ahead)", {"nbf": now + 3600, "iat": now + 3600}),
            ("expired (exp an hour ago)", {"exp": now - 3600, "nbf": now - 7200}),
            ("audience changed", {"aud": "https://vault.azure.net"}),
            ("issuer changed", {"iss": "https://sts.windows.net/%s/" % s.tenant}),
            ("tenant changed", {"tid": str(uuid.uuid4())}),
            ("oid changed to another principal", {"oid": other_oid, "sub": other_oid}),
        ]
        for label, ch in variants:
            self.expect_401("tampered payload: " + label,
                            "%s.%s.%s" % (dt.split(".")[0], enc(dict(pay_d, **ch)), sig_d),
                            "%s.%s.%s" % (mt.split(".")[0], enc(dict(pay_m, **ch)), sig_m))

        # unknown kid (header changed: the signature no longer matches either)
        self.expect_401("unknown kid", "%s.%s.%s" % (enc(dict(hdr_d, kid="unknown-kid")),
                                                     dt.split(".")[1], sig_d),
                        "%s.%s.%s" % (enc(dict(hdr_m, kid="unknown-kid")), mt.split(".")[1], sig_m))
        self.expect_401("no kid", "%s.%s.%s" % (enc({"alg": "ES256", "typ": "JWT"}),
                                                dt.split(".")[1], sig_d), None)
        self.expect_401("not a JWT", "abc.def", "abc")

    def genuine(self):
        s, o = self.s, self.o
        # wrong audience: each plane's genuine token on the other plane
        self.expect_401("wrong audience (management token on the data plane; data token on "
                        "management)", s.token(*s.admin, scope=s.mgmt_url + "/.default"),
                        s.token(*s.admin))
        r = s.token_resp(*s.admin, scope="https://storage.azure.com/.default")
        if r.status == 200:
            t = r.json["access_token"]
            self.expect_401("wrong audience (a token for https://storage.azure.com)", t, t)
        else:
            self.res.rec(r.status in (400, 401), "a token for a foreign resource is refused at "
                         "the token endpoint (HTTP %d)" % r.status, "HTTP %d" % r.status)
        # another server: another tenant, issuer and signing key (its kid is unknown here)
        od, om = o.token(*o.admin), o.token(*o.admin, scope=o.mgmt_url + "/.default")
        self.res.rec(parts(od)[1]["tid"] != s.tenant and parts(od)[0]["kid"] not in
                     [k["kid"] for k in s.login.request(
                         "GET", "/%s/discovery/v2.0/keys" % s.tenant).json["keys"]],
                     "the other server has another tenant and another signing key")
        # the other server's tokens name its own audiences (other port): rewrite nothing, the
        # audience is wrong too; so also ask it for tokens with OUR audiences
        od2 = o.token(*o.admin, scope=s.data_aud + "/.default")
        om2 = o.token(*o.admin, scope=s.mgmt_url + "/.default")
        self.expect_401("token of another tenant/issuer (unknown kid), our audience", od2, om2)
        self.expect_401("token of another tenant/issuer, its own audience", od, om)
        # token endpoint: our client in a tenant that is not ours
        r = s.token_resp(*s.admin, tenant=o.tenant)
        self.res.rec(r.status in (400, 401) and "access_token" not in (r.json or {}),
                     "token request naming another tenant is refused (HTTP %d)" % r.status)
        # a vault owned by another tenant (properties.tenantId): our genuine token -> 401
        body = {"location": "westus", "properties": {
            "tenantId": o.tenant, "sku": {"family": "A", "name": "standard"},
            "accessPolicies": [], "enableRbacAuthorization": True}}
        r = s.mgmt.request("PUT", s.vault_scope("authzforeign") + "?api-version=2023-07-01",
                           body, s.admin_mgmt)
        if r.status in (200, 201):
            self.expect_401("genuine token on a vault of another tenant", s.token(*s.admin),
                            None, vault="authzforeign")
        else:
            self.res.rec(r.status == 400, "a vault naming another tenant is refused (HTTP %d): "
                         "the cross-tenant vault case cannot arise" % r.status,
                         "HTTP %d %s" % (r.status, r.err()[0]))

    def deleted_principal(self):
        s = self.s
        p = s.new_principal("authz-attack-deleted")
        dt = s.token(p["appId"], p["secret"])
        mt = s.token(p["appId"], p["secret"], scope=s.mgmt_url + "/.default")
        # RBAC vault "coffer": give it a data role so the control is a 200, not a 403
        s.assign(s.vault_scope("coffer"), "4633458b-17de-408a-b874-0445c86b69e6", p["oid"])
        s.assign("/subscriptions/" + s.sub, "acdd72a7-3385-48ef-bd42-f606fba81ae7", p["oid"])
        self.control("the new principal's tokens before deletion", dt, mt)
        r = s.mgmt.request("DELETE", "/v1.0/applications/%s" % p["appObj"], None, s.admin_mgmt)
        self.res.rec(r.status == 204, "Graph DELETE /v1.0/applications/{id}", "HTTP %d" % r.status)
        self.expect_401("deleted principal (its earlier tokens reused)", dt, mt)
        r = s.token_resp(p["appId"], p["secret"])
        self.res.eq("deleted principal: token request 401 invalid_client", (401, "invalid_client"),
                    (r.status, (r.json or {}).get("error")))


def main():
    res = Results()
    s = Srv(sys.argv[1])
    o = Srv(sys.argv[2])
    a = Attacks(s, o, res)
    t_issued = time.time()
    # genuine tokens that expire in 1 s (accepted until exp + 60 s)
    exp_d = s.token(*s.admin)
    exp_m = s.token(*s.admin, scope=s.mgmt_url + "/.default")
    lifetime = parts(exp_d)[1]["exp"] - parts(exp_d)[1]["iat"]
    res.rec(lifetime <= 5, "attack server issues short-lived tokens (%d s)" % lifetime)
    # a client secret that ends in 3 s
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
    p = s.new_principal("authz-attack-short-secret",
                        end=end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    r = s.token_resp(p["appId"], p["secret"])
    res.eq("a client secret before its endDateTime works", 200, r.status)
    r = s.mgmt.request("POST", "/v1.0/applications/%s/addPassword" % p["appObj"],
                       {"passwordCredential": {"endDateTime": "2020-01-01T00:00:00Z"}},
                       s.admin_mgmt)
    res.eq("addPassword with an endDateTime in the past is refused (400), so an expired "
           "secret is made by waiting", 400, r.status)

    # fresh genuine tokens (they live 61 s: obtained now, used at once)
    a.control("genuine admin tokens", s.token(*s.admin),
              s.token(*s.admin, scope=s.mgmt_url + "/.default"))
    a.forged(s.token(*s.admin), s.token(*s.admin, scope=s.mgmt_url + "/.default"))
    a.genuine()
    a.deleted_principal()

    # expired client secret
    time.sleep(max(0.0, end.timestamp() - time.time() + 1.5))
    r = s.token_resp(p["appId"], p["secret"])
    desc = (r.json or {}).get("error_description", "")
    res.rec(r.status == 401 and (r.json or {}).get("error") == "invalid_client" and
            "AADSTS7000222" in desc, "expired client secret: 401 invalid_client AADSTS7000222",
            "HTTP %d %s %s" % (r.status, (r.json or {}).get("error"), desc[:60]))

    # expired genuine tokens: wait out lifetime + skew
    wait = t_issued + lifetime + SKEW_S + 2 - time.time()
    if wait > 0:
        print("  waiting %.0f s for the short-lived tokens to expire (lifetime + 60 s skew)" % wait,
              flush=True)
        time.sleep(wait)
    a.expect_401("expired token (genuine signature)", exp_d, exp_m)
    r = a.data(exp_d)
    res.rec("expired" in r.err()[2].lower() and
            a.mgmt(exp_m).err()[0] == "ExpiredAuthenticationToken",
            "expired: the 401s say so (AKV text / ExpiredAuthenticationToken)")
    print("  token attacks: %d 401 checks" % a.n, flush=True)
    s.close()
    o.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
