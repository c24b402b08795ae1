#!/usr/bin/env python3
"""overload.py - 10,000 idle TLS connections and bad peers against one cofferd (overload.sh).

One cofferd --dev (default configuration except --max-connections 10300, which leaves room
for this test's own clients next to the 10,000 idle connections; header_timeout_s stays 10,
idle_timeout_s 120). While a normal client (keep-alive, bearer token) keeps reading a secret
(and writing one every 10th request):
  - idleconns (C, compiled here) opens 10,000 TLS connections, each answered once (401) and
    then held idle; VmRSS of cofferd must stay <= 512 MiB; the server must keep all of them
    during the hold (idle timeout 120 s);
  - the normal client gets every answer (200) with bounded latency: p99 while the connections
    sit idle <= 10x the unloaded p99 (floor 20 ms), max while 10,000 handshakes are under way
    <= 5 s;
  - a burst of 600 connections beyond max_connections is shed at accept (closed at once, not
    queued) while the normal client is unaffected;
  - slowloris peers (TLS, request head trickled one byte every 0.5 s), half-open TLS peers
    (partial ClientHello, then silence) and silent TCP peers are all closed within
    header_timeout_s + 5 s; garbage-before-handshake peers (random bytes, plaintext HTTP, a
    TLS record header with an absurd length) are closed within 5 s; a 1 MiB request header is
    refused;
  - cofferd started with a soft descriptor limit of 1024 serves or refuses each of 1,500
    connections within 4 s and does not spin;
  - afterwards cofferd's descriptor count is back near its baseline (no leaked connections),
    1,000 fresh connections all succeed, RSS after release is reported, SIGTERM exits 0.
--soak: 5 rounds of 10,000 connections held 30 s each; RSS after each release must not grow
by more than 64 MiB over the first round's (a leak per connection would).
Usage: overload.py --cofferd PATH --work DIR [--rounds N] [--hold S]
"""
import argparse
import os
import random
import resource
import select
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relcommon import Client, Results, Server, free_port, get_token, rss_kib  # noqa: E402

# Known server bugs: check keys whose failure is expected until fixed (none known).
# ("fdlimit" was one: cofferd now raises its soft RLIMIT_NOFILE, fits max_connections under it,
# and pauses accepting briefly on EMFILE instead of spinning.)
EXPECTED_FAIL = set()
FD_SOFT_LIMIT = 1024

N_IDLE = 10000
MAX_CONN = 10300
HEADER_TIMEOUT = 10
RSS_LIMIT_KIB = 512 * 1024


def pct(xs, p):
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def nfds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class NormalClient(threading.Thread):
    """Keeps making requests; records (phase, latency, ok)."""

    def __init__(self, env, token):
        super().__init__(daemon=True)
        self.cl = Client(env, token, timeout=30)
        self.phase = "baseline"
        self.lat = {}
        self.errors = []
        self.stop = threading.Event()
        self.n = 0
        self.reconnects = []  # requests that needed a new connection (phase, latency)

    def one(self):
        self.n += 1
        c0 = self.cl.connects
        t0 = time.monotonic()
        try:
            if self.n % 10 == 0:
                st, doc, _ = self.cl.request("PUT", "/secrets/probe", {"value": f"v{self.n}"})
            else:
                st, doc, _ = self.cl.request("GET", "/secrets/probe")
        except Exception as e:
            self.errors.append(f"{self.phase}: {type(e).__name__}")
            return
        dt = time.monotonic() - t0
        if self.cl.connects != c0 and self.n > 1:
            self.reconnects.append(f"{self.phase} {dt * 1000:.0f} ms")
        if st != 200:
            self.errors.append(f"{self.phase}: HTTP {st}")
        self.lat.setdefault(self.phase, []).append(dt)

    def run(self):
        while not self.stop.is_set():
            self.one()
            time.sleep(0.002)


def tls_ctx_noverify():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class SlowPeers(threading.Thread):
    """Slowloris, half-open TLS and silent TCP peers; records when the server closes each."""

    def __init__(self, host, port, sni, n_each=40):
        super().__init__(daemon=True)
        self.host, self.port, self.sni, self.n_each = host, port, sni, n_each
        self.closed_after = {"slowloris": [], "half-open TLS": [], "silent TCP": []}
        self.opened = {k: 0 for k in self.closed_after}
        self.stop = threading.Event()

    def run(self):
        peers = []  # (kind, sock, t0, raw)
        ctx = tls_ctx_noverify()
        hello = None
        for i in range(self.n_each):
            try:  # slowloris: full handshake, then the head one byte at a time
                s = socket.create_connection((self.host, self.port), timeout=10)
                t0 = time.monotonic()
                ts = ctx.wrap_socket(s, server_hostname=self.sni)
                ts.setblocking(False)
                peers.append(["slowloris", ts, t0, 0])
                self.opened["slowloris"] += 1
            except OSError:
                pass
            try:  # half-open TLS: the first bytes of a ClientHello, then silence
                if hello is None:
                    hello = self.client_hello(ctx)
                s = socket.create_connection((self.host, self.port), timeout=10)
                t0 = time.monotonic()
                s.sendall(hello[: len(hello) // 2])
                s.setblocking(False)
                peers.append(["half-open TLS", s, t0, 0])
                self.opened["half-open TLS"] += 1
            except OSError:
                pass
            try:  # silent TCP
                s = socket.create_connection((self.host, self.port), timeout=10)
                s.setblocking(False)
                peers.append(["silent TCP", s, time.monotonic(), 0])
                self.opened["silent TCP"] += 1
            except OSError:
                pass
        head = (f"GET /secrets/probe?api-version=7.4 HTTP/1.1\r\nHost: {self.sni}\r\n"
                "X-Slow: " + "a" * 100000).encode()
        deadline = time.monotonic() + HEADER_TIMEOUT + 20
        last_trickle = 0.0
        while peers and time.monotonic() < deadline and not self.stop.is_set():
            socks = [p[1] for p in peers]
            r, _, _ = select.select(socks, [], [], 0.1)
            now = time.monotonic()
            gone = set()
            for p in peers:
                if p[1] in r:
                    try:
                        data = p[1].recv(4096)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    except (OSError, ssl.SSLError):
                        data = b""
                    if not data:
                        gone.add(id(p))
                        self.closed_after[p[0]].append(now - p[2])
            if now - last_trickle >= 0.5:
                last_trickle = now
                for p in peers:
                    if p[0] == "slowloris" and id(p) not in gone:
                        try:
                            p[1].send(head[p[3]:p[3] + 1])
                            p[3] += 1
                        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                            pass
                        except (OSError, ssl.SSLError):
                            gone.add(id(p))
                            self.closed_after[p[0]].append(now - p[2])
            for p in [p for p in peers if id(p) in gone]:
                p[1].close()
            peers = [p for p in peers if id(p) not in gone]
        for p in peers:
            p[1].close()

    def client_hello(self, ctx):
        """The bytes of a real ClientHello, captured with a memory BIO."""
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        o = ctx.wrap_bio(inc, out, server_hostname=self.sni)
        try:
            o.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return out.read()


class GarbagePeers(threading.Thread):
    """Connections that send garbage instead of a ClientHello; each must be closed <= 5 s."""

    KINDS = ("random bytes", "plaintext HTTP", "TLS header, absurd length", "1 MiB header")

    def __init__(self, host, port, sni, rate=15.0):
        super().__init__(daemon=True)
        self.host, self.port, self.sni, self.rate = host, port, sni, rate
        self.stop = threading.Event()
        self.count = {k: 0 for k in self.KINDS}
        self.slow = []   # kinds that were not closed within 5 s
        self.huge_status = []
        self.connect_failures = 0

    def run(self):
        rng = random.Random(7)
        ctx = tls_ctx_noverify()
        i = 0
        while not self.stop.is_set():
            kind = self.KINDS[i % len(self.KINDS)]
            i += 1
            try:
                s = socket.create_connection((self.host, self.port), timeout=5)
            except OSError:
                self.connect_failures += 1
                time.sleep(0.2)
                continue
            t0 = time.monotonic()
            try:
                if kind == "random bytes":
                    s.sendall(bytes(rng.getrandbits(8) for _ in range(2048)))
                elif kind == "plaintext HTTP":
                    s.sendall(f"GET / HTTP/1.1\r\nHost: {self.sni}\r\n\r\n".encode())
                elif kind == "TLS header, absurd length":
                    s.sendall(b"\x16\x03\x01\xff\xff\x01\xff\xff\xff" + b"\0" * 64)
                else:
                    s = ctx.wrap_socket(s, server_hostname=self.sni)
                    head = (f"GET /secrets/probe?api-version=7.4 HTTP/1.1\r\nHost: {self.sni}"
                            "\r\nX-Big: ").encode() + b"a" * (1 << 20) + b"\r\n\r\n"
                    try:
                        s.sendall(head)
                    except OSError:
                        pass
                closed, first = self.wait_closed(s, t0 + 5)
                if kind == "1 MiB header":
                    self.huge_status.append(first[:12].decode("latin-1"))
                if not closed:
                    self.slow.append(kind)
            except OSError:
                pass  # reset by the server: closed, which is what we want
            finally:
                s.close()
            self.count[kind] += 1
            time.sleep(1.0 / self.rate)

    @staticmethod
    def wait_closed(s, deadline):
        first = b""
        s.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (OSError, ssl.SSLError):
                return True, first
            if not d:
                return True, first
            if not first:
                first = d
        return False, first


def run_idle(binary, port, sni, n, inflight, hold, host="127.0.0.1", timeout=20):
    """Starts idleconns; returns the Popen (stdout lines: established..., held...)."""
    return subprocess.Popen([binary, host, str(port), sni, str(n), str(inflight), str(hold),
                             f"{sni}:{port}", str(timeout)], stdout=subprocess.PIPE, text=True)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def fd_limit_phase(res, a, binary):
    """cofferd started with a soft descriptor limit of 1024 (hard limit unchanged), 1,500
    connections: each must be served or refused promptly; no CPU spin at the limit."""
    def lower():
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_SOFT_LIMIT, hard))
    port = free_port()
    srv = Server(a.cofferd, os.path.join(a.work, "data-fd"), port,
                 os.path.join(a.work, "cofferd-fd.log"), preexec_fn=lower)
    if not res.check(srv.start(), f"cofferd starts with a soft fd limit of {FD_SOFT_LIMIT}"):
        return
    sni = srv.env["COFFER_VAULT_URL"].split("//")[1].split(":")[0]
    cl = Client(srv.env, get_token(srv.env), timeout=10)
    cl.request("PUT", "/secrets/probe", {"value": "probe"})
    p = run_idle(binary, port, sni, 1500, 200, 3, timeout=4)
    # CPU over 2 s while connections beyond the descriptor limit wait in the backlog.
    time.sleep(1.0)
    hz = os.sysconf("SC_CLK_TCK")
    c0, t0 = cpu_ticks(srv.pid), time.monotonic()
    try:
        st, _, _ = cl.request("GET", "/secrets/probe")
    except Exception as e:
        st = type(e).__name__
    time.sleep(max(0.0, 2.0 - (time.monotonic() - t0)))
    cpu = (cpu_ticks(srv.pid) - c0) / hz / (time.monotonic() - t0)
    est = read_line(p, "established", 60)
    p.wait()
    cl.close()
    if est is None:
        res.fail("fd limit: idleconns reported nothing", key="fdlimit")
    else:
        ok_n, timedout = int(est[1]), int(est[4])
        res.note(f"soft fd limit {FD_SOFT_LIMIT}: {ok_n} of 1500 connections served, "
                 f"{int(est[2]) - timedout} refused, {timedout} hung > 4 s; cofferd CPU "
                 f"{cpu * 100:.0f}% of a core while at the limit; keep-alive client: {st}")
        res.check(timedout == 0, f"soft fd limit {FD_SOFT_LIMIT}: 1,500 connections are each "
                  f"served or refused within 4 s (none left hanging)",
                  f"{timedout} hung", key="fdlimit")
        res.check(cpu < 0.25, f"soft fd limit {FD_SOFT_LIMIT}: no accept spin at the limit "
                  f"(cofferd CPU {cpu * 100:.0f}% of a core < 25%)", key="fdlimit")
    res.check(st == 200, "fd limit: an established keep-alive client is still served",
              f"{st}")
    res.check(srv.stop() == 0, "fd limit: cofferd exits 0 on SIGTERM")


def read_line(p, prefix, timeout):
    """Next stdout line of p starting with prefix, split; None on timeout/exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            line = p.stdout.readline()
            if not line:
                return None
            if line.startswith(prefix):
                return line.split()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cofferd", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--hold", type=float, default=6.0)
    a = ap.parse_args()
    res = Results("overload", EXPECTED_FAIL)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < N_IDLE + 500:
        res.fail(f"open-file limit {hard} too low for {N_IDLE} connections (raise ulimit -n)")
        return res.summary()
    binary = os.path.join(a.work, "idleconns")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idleconns.c")
    cp = subprocess.run(["cc", "-O2", "-o", binary, src, "-lssl", "-lcrypto"],
                        capture_output=True, text=True)
    if not res.check(cp.returncode == 0, "idleconns.c compiles (cc + OpenSSL)",
                     cp.stderr[:300]):
        return res.summary()

    port = free_port()
    srv = Server(a.cofferd, os.path.join(a.work, "data"), port,
                 os.path.join(a.work, "cofferd.log"), ["--max-connections", str(MAX_CONN)])
    if not res.check(srv.start(), f"cofferd starts (--max-connections {MAX_CONN})"):
        print(srv.log_tail())
        return res.summary()
    pid = srv.pid
    sni = srv.env["COFFER_VAULT_URL"].split("//")[1].split(":")[0]
    token = get_token(srv.env)
    nc = NormalClient(srv.env, token)
    st, _, _ = nc.cl.request("PUT", "/secrets/probe", {"value": "probe"})
    res.check(st == 200, "probe secret written", f"HTTP {st}")
    for _ in range(300):
        nc.one()
    base_p99 = pct(nc.lat.get("baseline", []), 99)
    base_p50 = pct(nc.lat.get("baseline", []), 50)
    rss0, _ = rss_kib(pid)
    fd0 = nfds(pid)
    res.note(f"unloaded: p50 {base_p50 * 1000:.2f} ms, p99 {base_p99 * 1000:.2f} ms; "
             f"RSS {rss0 / 1024:.0f} MiB, {fd0} fds")

    nc.phase = "opening"
    nc.start()
    slow = SlowPeers("127.0.0.1", port, sni)
    slow.start()
    garbage = GarbagePeers("127.0.0.1", port, sni)
    garbage.start()

    rss_after_release = []
    max_rss = 0
    for rnd in range(a.rounds):
        tag = f"round {rnd + 1}: " if a.rounds > 1 else ""
        nc.phase = "opening"
        p = run_idle(binary, port, sni, N_IDLE, 256, a.hold)
        est = None
        t0 = time.monotonic()
        while est is None and time.monotonic() - t0 < 120:
            est = read_line(p, "established", 1)
            r, _ = rss_kib(pid)
            max_rss = max(max_rss, r or 0)
        if est is None:
            res.fail(f"{tag}idleconns reported no result within 120 s")
            p.kill()
            p.wait()
            break
        ok_n, fail_n, secs = int(est[1]), int(est[2]), float(est[3])
        res.check(ok_n == N_IDLE, f"{tag}{N_IDLE} TLS connections opened and answered "
                  f"({secs:.1f} s, {ok_n / max(secs, 0.01):.0f}/s)", f"{ok_n} ok, {fail_n} failed")
        nc.phase = "hold"
        rss_hold, _ = rss_kib(pid)
        fd_hold = nfds(pid)
        # Over the cap: a burst of 600 more while the 10,000 are held.
        b = run_idle(binary, port, sni, 600, 100, 0.5)
        tb = time.monotonic()
        best = read_line(b, "established", 30)
        burst_t = time.monotonic() - tb
        b.wait()
        if rnd == 0:
            if best is None:
                res.fail("over-cap burst: idleconns reported nothing within 30 s")
            else:
                room = MAX_CONN - N_IDLE
                res.check(int(best[2]) > 0 and int(best[1]) <= room and burst_t < 15,
                          f"a burst of 600 connections beyond the cap is shed at accept "
                          f"({best[1]} admitted, {best[2]} refused, {burst_t:.1f} s)",
                          f"admitted {best[1]}, refused {best[2]}, room {room}")
        while True:
            r, _ = rss_kib(pid)
            max_rss = max(max_rss, r or 0)
            held = read_line(p, "held", 0.5)
            if held is not None or p.poll() is not None:
                break
        p.wait()
        if held is not None:
            res.check(int(held[2]) == 0, f"{tag}cofferd kept every idle keep-alive connection "
                      f"during the hold", f"{held[2]} closed by the server")
        nc.phase = "after"
        res.check(max_rss <= RSS_LIMIT_KIB, f"{tag}cofferd VmRSS <= 512 MiB with {N_IDLE} "
                  f"connections open (peak {max_rss / 1024:.0f} MiB, "
                  f"{rss_hold / 1024:.0f} MiB at {fd_hold} fds)")
        time.sleep(1.5)
        r, _ = rss_kib(pid)
        rss_after_release.append(r)
        res.note(f"{tag}RSS after the connections closed: {r / 1024:.0f} MiB")

    # Bad peers: wait for the slow peers' verdicts.
    slow.join(HEADER_TIMEOUT + 25)
    for kind, closed in slow.closed_after.items():
        opened = slow.opened[kind]
        late = [t for t in closed if t > HEADER_TIMEOUT + 5]
        res.check(opened > 0 and len(closed) == opened and not late,
                  f"{opened} {kind} peers closed by the server within header_timeout_s + 5 s "
                  f"(max {max(closed, default=0):.1f} s)",
                  f"{len(closed)} of {opened} closed, {len(late)} late")
    garbage.stop.set()
    garbage.join(10)
    total = sum(garbage.count.values())
    res.check(total > 0 and not garbage.slow,
              f"{total} garbage-before-handshake peers closed within 5 s "
              f"({', '.join(f'{k}: {v}' for k, v in garbage.count.items())})",
              f"not closed in time: {sorted(set(garbage.slow))}")
    bad_huge = [s for s in garbage.huge_status if s and not s.startswith("HTTP/1.1 4")]
    res.check(not bad_huge, "1 MiB request header refused (4xx or closed)",
              f"answers: {sorted(set(bad_huge))}")

    # Normal client verdicts.
    nc.phase = "final"
    time.sleep(0.5)
    nc.stop.set()
    nc.join(30)
    lat = nc.lat
    res.check(not nc.errors, f"normal client: all {sum(len(v) for v in lat.values())} requests "
              f"answered 200", f"{len(nc.errors)} errors, e.g. {nc.errors[:3]}")
    hold_p99 = pct(lat.get("hold", []), 99)
    open_max = max(lat.get("opening", [0]) + lat.get("after", [0]))
    bound = max(10 * base_p99, 0.020)
    res.check(lat.get("hold") and hold_p99 <= bound,
              f"normal client p99 with {N_IDLE} idle connections {hold_p99 * 1000:.1f} ms <= "
              f"{bound * 1000:.1f} ms (10x unloaded p99, floor 20 ms)")
    # 10,000 TLS handshakes saturate both cores for a few seconds; this bound only catches
    # starvation (the spec's criterion is the p99 above). 2 s proved flaky on a shared machine.
    res.check(lat.get("opening") and open_max <= 5.0,
              f"normal client max latency while {N_IDLE} connections open and close "
              f"{open_max * 1000:.0f} ms <= 5 s (p99 while opening "
              f"{pct(lat.get('opening', []), 99) * 1000:.1f} ms)")
    if nc.reconnects:
        res.note(f"normal client reconnected {len(nc.reconnects)} times: {nc.reconnects[:5]}")
    res.note("normal client: " + "; ".join(
        f"{ph} n={len(v)} p50={pct(v, 50) * 1000:.1f} p99={pct(v, 99) * 1000:.1f} "
        f"max={max(v) * 1000:.1f} ms" for ph, v in lat.items() if v))

    # Descriptors back, fresh connections accepted, memory bounded across rounds.
    time.sleep(1.0)
    fd1 = nfds(pid)
    res.check(0 <= fd1 <= fd0 + 20, f"cofferd descriptors back to baseline after all peers left "
              f"({fd0} -> {fd1})")
    f = run_idle(binary, port, sni, 1000, 100, 0)
    fr = read_line(f, "established", 60)
    f.wait()
    res.check(fr is not None and int(fr[1]) == 1000, "1,000 fresh connections all accepted "
              "afterwards (connection slots released)", f"{fr}")
    if len(rss_after_release) > 1:
        growth = rss_after_release[-1] - rss_after_release[0]
        res.check(growth <= 64 * 1024, f"RSS after release does not grow across "
                  f"{len(rss_after_release)} rounds ({growth / 1024:+.0f} MiB)")
    res.check(srv.alive() and srv.pid == pid, "cofferd still running (same process)")
    st = srv.stop()
    res.check(st == 0, "cofferd exits 0 on SIGTERM", f"status {st}")
    fd_limit_phase(res, a, binary)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
