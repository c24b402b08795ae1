"""azlib.py - the small HTTP client the authz e2e scripts share (stdlib only).

Map: Conn (one keep-alive TLS connection per host, pinned to a loopback address so IPv4 and
IPv6 can be chosen), Srv (the server of DIR/env: token requests, Graph principals, role
assignments, vault PUT), Results (PASS/FAIL lines in the e2e results file).

Nothing here prints a secret, a client secret or a token: checks name status codes, error
codes and ids only.
"""
import base64
import http.client
import json
import os
import socket
import ssl
import urllib.parse
import uuid

API = "api-version=7.5"
ARM = "api-version=2023-07-01"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64url_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def err(self):
        """(code, inner code, message) of an error body, '' where absent."""
        e = (self.json or {}).get("error") if isinstance(self.json, dict) else None
        if not isinstance(e, dict):
            return "", "", ""
        inner = e.get("innererror") or {}
        return e.get("code", ""), inner.get("code", "") if isinstance(inner, dict) else "", \
            e.get("message", "")


class Conn:
    """Keep-alive HTTPS to host:port, the TCP connection made to addr (127.0.0.1 or ::1) and
    the certificate checked against host. Reconnects once when the server closed it."""

    def __init__(self, host, port, ctx, addr="127.0.0.1"):
        self.host, self.port, self.ctx, self.addr = host, port, ctx, addr
        self.c = None
        self.count = 0

    def _open(self):
        fam = socket.AF_INET6 if ":" in self.addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect((self.addr, self.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=60)
        c.sock = self.ctx.wrap_socket(s, server_hostname=self.host)
        self.c = c

    def request(self, method, path, body=None, token=None, headers=None, form=False):
        h = {"Accept": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                h["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        for attempt in (0, 1):
            if self.c is None:
                self._open()
            try:
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                raw = r.read()
                self.count += 1
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return Resp(r.status, r.getheaders(), raw)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.BadStatusLine, ssl.SSLError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.c is not None:
            try:
                self.c.close()
            except OSError:
                pass
        self.c = None


class Results:
    def __init__(self, suite=None, path=None):
        self.suite = suite or os.environ.get("SUITE", "authz")
        self.path = path or os.environ.get("E2E_RESULTS")
        self.npass = self.nfail = 0
        self.f = open(self.path, "a", encoding="utf-8") if self.path else None

    def rec(self, ok, what, detail=""):
        line = ("PASS " if ok else "FAIL ") + self.suite + ": " + what + \
            ("" if ok or not detail else " (" + detail + ")")
        if ok:
            self.npass += 1
        else:
            self.nfail += 1
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()
        print(("  ok   " if ok else "  FAIL ") + what + ("" if ok or not detail else " (" + detail + ")"),
              flush=True)
        return ok

    def eq(self, what, expected, actual):
        return self.rec(expected == actual, what, "expected %r, got %r" % (expected, actual))


def load_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("export ") and "=" in line:
                k, v = line[7:].split("=", 1)
                env[k] = v.strip('"')
    return env


class Srv:
    """The dev server described by DIR/env, with the admin's credentials."""

    def __init__(self, envfile, addr="127.0.0.1"):
        self.env = e = load_env(envfile)
        self.port = int(e["COFFER_PORT"])
        self.suffix = e["COFFER_DNS_SUFFIX"]
        self.tenant = e["AZURE_TENANT_ID"]
        self.sub = e["COFFER_SUBSCRIPTION_ID"]
        self.rg = e["COFFER_RESOURCE_GROUP"]
        self.addr = addr
        self.ctx = ssl.create_default_context(cafile=e["COFFER_CA_FILE"])
        self.login_host = urllib.parse.urlsplit(e["AZURE_AUTHORITY_HOST"]).hostname
        self.mgmt_host = urllib.parse.urlsplit(e["COFFER_MANAGEMENT_URL"]).hostname
        self.mgmt_url = e["COFFER_MANAGEMENT_URL"]
        self.data_aud = "https://%s:%d" % (self.suffix, self.port)
        self.conns = {}
        self.admin = (e["AZURE_CLIENT_ID"], e["AZURE_CLIENT_SECRET"])
        self.admin_mgmt = self.token(*self.admin, scope=self.mgmt_url + "/.default")
        self.admin_data = self.token(*self.admin)

    def conn(self, host, addr=None):
        key = (host, addr or self.addr)
        if key not in self.conns:
            self.conns[key] = Conn(host, self.port, self.ctx, addr or self.addr)
        return self.conns[key]

    def vault(self, name, addr=None):
        return self.conn("%s.%s" % (name, self.suffix), addr)

    @property
    def login(self):
        return self.conn(self.login_host)

    @property
    def mgmt(self):
        return self.conn(self.mgmt_host)

    def token_resp(self, client_id, secret=None, scope=None, tenant=None, extra=None):
        form = {"grant_type": "client_credentials", "client_id": client_id,
                "scope": scope or self.data_aud + "/.default"}
        if secret is not None:
            form["client_secret"] = secret
        if extra:
            form.update(extra)
        return self.login.request("POST", "/%s/oauth2/v2.0/token" % (tenant or self.tenant),
                                  form, form=True)

    def token(self, client_id, secret, scope=None, tenant=None):
        r = self.token_resp(client_id, secret, scope, tenant)
        if r.status != 200 or not r.json or "access_token" not in r.json:
            raise RuntimeError("token request for %s: HTTP %d %s" % (client_id, r.status, r.err()[0]))
        return r.json["access_token"]

    # ---- Graph (management host, /v1.0) ----
    def new_principal(self, name, end=None):
        """Application + service principal + one password. Returns dict appId/oid/secret/appObj."""
        r = self.mgmt.request("POST", "/v1.0/applications", {"displayName": name}, self.admin_mgmt)
        if r.status != 201:
            raise RuntimeError("POST /v1.0/applications: HTTP %d %s" % (r.status, r.err()))
        app = r.json
        pc = {"displayName": "authz"}
        if end:
            pc["endDateTime"] = end
        r = self.mgmt.request("POST", "/v1.0/applications/%s/addPassword" % app["id"],
                              {"passwordCredential": pc}, self.admin_mgmt)
        if r.status != 200:
            raise RuntimeError("addPassword: HTTP %d %s" % (r.status, r.err()))
        secret = r.json["secretText"]
        r = self.mgmt.request("GET", "/v1.0/servicePrincipals?$filter=" +
                              urllib.parse.quote("appId eq '%s'" % app["appId"]), None,
                              self.admin_mgmt)
        if r.status != 200 or len(r.json.get("value", [])) != 1:
            raise RuntimeError("servicePrincipals filter: HTTP %d" % r.status)
        return {"appId": app["appId"], "appObj": app["id"], "oid": r.json["value"][0]["id"],
                "secret": secret, "name": name}

    def assign(self, scope, role_guid, oid, ptype="ServicePrincipal"):
        path = scope.rstrip("/") + "/providers/Microsoft.Authorization/roleAssignments/%s?%s" % (
            uuid.uuid4(), "api-version=2022-04-01")
        body = {"properties": {
            "roleDefinitionId": "/subscriptions/%s/providers/Microsoft.Authorization/"
                                "roleDefinitions/%s" % (self.sub, role_guid),
            "principalId": oid, "principalType": ptype}}
        r = self.mgmt.request("PUT", path, body, self.admin_mgmt)
        if r.status not in (200, 201):
            raise RuntimeError("role assignment at %s: HTTP %d %s" % (scope, r.status, r.err()))
        return r.json

    def vault_scope(self, name):
        return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s" % (
            self.sub, self.rg, name)

    def put_vault(self, name, rbac=True, policies=None):
        body = {"location": "westus", "properties": {
            "tenantId": self.tenant, "sku": {"family": "A", "name": "standard"},
            "accessPolicies": policies or [], "enableRbacAuthorization": rbac,
            "enableSoftDelete": True}}
        r = self.mgmt.request("PUT", self.vault_scope(name) + "?" + ARM, body, self.admin_mgmt)
        if r.status not in (200, 201):
            raise RuntimeError("vault PUT %s: HTTP %d %s" % (name, r.status, r.err()))
        return r.json

    def close(self):
        for c in self.conns.values():
            c.close()
