"""Shared helpers for the reliability checks (standard library only).

Map: Results (ok/FAIL lines and the final "N passed, N failed"), env-file parsing, free_port,
Server (start/kill/stop one `cofferd --dev` on a data dir and port), Client (one keep-alive
HTTPS connection to a vault host trusting the dev CA, with a bearer token), get_token, rss_kib.

Checks never print secret values or the client secret: only names, versions, statuses, error
codes and counts.
"""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse


class Results:
    """One "ok"/"FAIL" line per check; summary() prints "N passed, N failed".

    expected_fail: keys of checks that fail because of a known, reported server bug (each
    script lists them, with the reason, in EXPECTED_FAIL at its top). Such a failure still
    prints a FAIL line, marked "[expected: known bug KEY]", but is counted apart (xfail) so
    the run stays green; when such a check passes, a note says to remove the key."""

    def __init__(self, name, expected_fail=()):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.xfailed = {}
        self.expected_fail = set(expected_fail)

    def ok(self, what, key=None):
        self.passed += 1
        print(f"ok   {self.name}: {what}", flush=True)
        if key in self.expected_fail:
            self.note(f"'{key}' passed: remove it from EXPECTED_FAIL")

    def fail(self, what, key=None):
        if key in self.expected_fail:
            self.xfailed[key] = self.xfailed.get(key, 0) + 1
            print(f"FAIL {self.name}: {what} [expected: known bug {key}]", flush=True)
            return
        self.failed += 1
        print(f"FAIL {self.name}: {what}", flush=True)

    def check(self, cond, what, detail="", key=None):
        if cond:
            self.ok(what, key=key)
        else:
            self.fail(what + (f" ({detail})" if detail else ""), key=key)
        return cond

    def note(self, text):
        print(f"     {self.name}: {text}", flush=True)

    def summary(self):
        if self.xfailed:
            n = sum(self.xfailed.values())
            self.note(f"{n} expected failures (known bugs, not counted below: "
                      f"{', '.join(sorted(self.xfailed))})")
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def parse_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("export ") or "=" not in line:
                continue
            k, v = line[len("export "):].split("=", 1)
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                v = v[1:-1]
            env[k] = v
    return env


def free_port():
    """A port free on both 127.0.0.1 and ::1 (cofferd --dev listens on both)."""
    for _ in range(100):
        s4 = socket.socket(socket.AF_INET)
        s4.bind(("127.0.0.1", 0))
        p = s4.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6)
            s6.bind(("::1", p))
            s6.close()
        except OSError:
            s4.close()
            continue
        s4.close()
        return p
    raise RuntimeError("no free port")


class Server:
    """One cofferd --dev process on DATA_DIR and PORT; stdout (it carries the client secret)
    goes to a file that is never printed, stderr to LOG (appended across restarts)."""

    def __init__(self, cofferd, data_dir, port, log_path, extra=(), preexec_fn=None):
        self.preexec_fn = preexec_fn
        self.cofferd = cofferd
        self.data_dir = data_dir
        self.port = port
        self.log_path = log_path
        self.extra = list(extra)
        self.proc = None
        self.env = None
        self.starts = 0

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=30.0):
        """Starts cofferd and waits for DATA_DIR/env (its "ready" signal). Returns True when
        ready; False (process stopped) otherwise."""
        os.makedirs(self.data_dir, exist_ok=True)
        envf = os.path.join(self.data_dir, "env")
        stale = None
        try:
            os.unlink(envf)
        except FileNotFoundError:
            pass
        except OSError:  # e.g. a read-only data dir: ignore the old file, wait for a new one
            st = os.stat(envf)
            stale = (st.st_ino, st.st_mtime_ns)
        self.starts += 1
        out = open(os.path.join(os.path.dirname(self.log_path), "cofferd.stdout"), "wb")
        log = open(self.log_path, "ab")
        log.write(f"==== start {self.starts} ====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [self.cofferd, "--dev", "--data-dir", self.data_dir, "--port", str(self.port)]
            + self.extra, stdout=out, stderr=log, stdin=subprocess.DEVNULL,
            preexec_fn=self.preexec_fn)
        out.close()
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                st = os.stat(envf)
                fresh = (st.st_ino, st.st_mtime_ns) != stale
            except OSError:
                fresh = False
            if fresh:
                try:
                    self.env = parse_env(envf)
                    if "AZURE_CLIENT_SECRET" in self.env:
                        return True
                except OSError:
                    pass
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        self.kill()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL and reap; returns the wait status (or None when not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        st = self.proc.wait()
        self.proc = None
        return st

    def stop(self, timeout=20.0):
        """SIGTERM; returns the exit status (None when it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            st = self.proc.returncode
            self.proc = None
            return st
        self.proc.send_signal(signal.SIGTERM)
        try:
            st = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self.proc = None
        return st

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join("     | " + ln for ln in lines[-n:])
        except OSError:
            return "     | (no log)"


def rss_kib(pid):
    """(VmRSS, VmHWM) of PID in KiB from /proc, or (None, None)."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def tls_context(env):
    return ssl.create_default_context(cafile=env["COFFER_CA_FILE"])


def get_token(env, timeout=10.0):
    """A data-plane token (client credentials) from the server's token endpoint."""
    u = urllib.parse.urlsplit(env["AZURE_AUTHORITY_HOST"])
    port = int(env["COFFER_PORT"])
    scope = f"https://{env['COFFER_DNS_SUFFIX']}:{port}/.default"
    body = urllib.parse.urlencode({
        "client_id": env["AZURE_CLIENT_ID"], "client_secret": env["AZURE_CLIENT_SECRET"],
        "grant_type": "client_credentials", "scope": scope}).encode()
    c = http.client.HTTPSConnection(u.hostname, port, context=tls_context(env), timeout=timeout)
    try:
        c.request("POST", f"/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token", body=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"token endpoint answered {r.status}")
        return json.loads(data)["access_token"]
    finally:
        c.close()


class Client:
    """A keep-alive HTTPS client for the dev vault. request() returns (status, parsed JSON or
    None, raw body); network errors raise OSError / http.client exceptions."""

    API = "api-version=7.4"

    def __init__(self, env, token, timeout=30.0):
        u = urllib.parse.urlsplit(env["COFFER_VAULT_URL"])
        self.host = u.hostname
        self.port = u.port or 443
        self.ctx = tls_context(env)
        self.token = token
        self.timeout = timeout
        self.conn = None
        self.connects = 0

    def _connect(self):
        self.connects += 1
        self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                timeout=self.timeout)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None):
        if self.conn is None:
            self._connect()
        sep = "&" if "?" in path else "?"
        url = path if "api-version=" in path else path + sep + self.API
        headers = {"Authorization": "Bearer " + self.token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, url, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except BaseException:
            self.close()
            raise
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, doc, raw

    def get_url(self, url):
        """GET an absolute nextLink on the same host."""
        u = urllib.parse.urlsplit(url)
        return self.request("GET", u.path + ("?" + u.query if u.query else ""))


def azure_error_code(status, doc):
    """error.code of an Azure-shaped error body, or None when the body is not one."""
    if not isinstance(doc, dict):
        return None
    e = doc.get("error")
    if not isinstance(e, dict) or not isinstance(e.get("code"), str) or not e["code"]:
        return None
    return e["code"]


def version_of(doc):
    """The version segment of a secret bundle's id (.../secrets/{name}/{version})."""
    sid = doc.get("id", "") if isinstance(doc, dict) else ""
    parts = urllib.parse.urlsplit(sid).path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "secrets":
        return parts[2]
    return None
