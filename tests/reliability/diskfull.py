#!/usr/bin/env python3
"""diskfull.py - cofferd on a full disk and on a read-only data dir (driven by diskfull.sh).

Needs root (mount). A 24 MB tmpfs holds the data dir and a 3 MB filler file.
Disk full, audit log on another volume (DESIGN.md §6: keep it on its own volume to keep reads
alive):
  - writes of 16 KB values go on until they fail; every failure is an Azure-shaped JSON 5xx
    ({"error":{"code":...}}), and 503 ServiceUnavailable (CF_EFULL's mapping);
  - while full the same process keeps serving reads (every earlier acknowledged write, exact)
    and listings;
  - once the filler is deleted writes succeed again by themselves (same pid, no restart);
  - no acknowledged write is lost (all re-read exactly, before and after a clean restart) and
    `sqlite3 coffer.db "PRAGMA integrity_check"` prints ok while the server is down.
Disk full, audit log on the same (full) disk: audited requests fail closed:
  - once full, reads, listings and writes answer 503 Azure-shaped (a few reads may still land
    in the audit file's last allocated page), never a wrong value, never a 200 without a record;
  - once space returns, reads and writes resume by themselves (same process) and every
    acknowledged write is exact; `coffer audit verify` passes on the audit log afterwards.
Read-only data dir:
  - `mount -o remount,ro` while cofferd runs. Linux refuses it (EBUSY) while a file on the
    mount is open for writing, which cofferd's coffer.db always is; when the kernel refuses,
    that is reported as a note and the start-up case below is what is tested. If the remount
    succeeds the runtime case is checked: writes fail 5xx Azure-shaped, reads keep working,
    after remount rw writes resume.
  - start-up on a read-only data dir: cofferd either refuses to start (non-zero exit status,
    not a signal, an error line in its log, within 15 s) or serves reads and fails writes
    with Azure-shaped 5xx; after remount rw it starts and every acknowledged write is there.
Usage: diskfull.py --cofferd PATH --work DIR
"""
import argparse
import hashlib
import hmac
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relcommon import (Client, Results, Server, azure_error_code, free_port,  # noqa: E402
                       get_token, version_of)
from crash import integrity_check  # noqa: E402

# Known server bugs: check keys whose failure is expected until fixed (none known).
EXPECTED_FAIL = set()

TMPFS_MB = 24
FILLER_MB = 3
VALUE_LEN = 16000


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


def is_mounted(path):
    with open("/proc/self/mounts", encoding="utf-8") as f:
        return any(line.split()[1] == path for line in f)


def rand_value(n):
    return os.urandom(n // 2 + 1).hex()[:n]


class Acked:
    """Acknowledged writes: name -> (version, sha256 of value). Only hashes are kept."""

    def __init__(self):
        self.w = {}

    def put(self, cl, name, value):
        st, doc, raw = cl.request("PUT", f"/secrets/{name}", {"value": value})
        if st == 200 and isinstance(doc, dict) and doc.get("value") == value:
            self.w[name] = (version_of(doc), hashlib.sha256(value.encode()).hexdigest())
        return st, doc, raw

    def verify(self, cl):
        bad = []
        for name, (ver, h) in self.w.items():
            try:
                st, doc, _ = cl.request("GET", f"/secrets/{name}/{ver}")
            except Exception as e:
                bad.append(f"{name}/{ver}: {type(e).__name__}")
                continue
            if st != 200:
                bad.append(f"{name}/{ver}: HTTP {st}")
            elif hashlib.sha256(doc.get("value", "").encode()).hexdigest() != h:
                bad.append(f"{name}/{ver}: different value")
        return bad


def error_shape(st, doc):
    """'' when the answer is an Azure-shaped JSON 5xx, else a description."""
    code = azure_error_code(st, doc)
    if code is None:
        return f"HTTP {st} without an Azure-shaped JSON error body"
    if not 500 <= st <= 599:
        return f"HTTP {st} {code} (not 5xx)"
    return ""


def fill_disk(filler):
    with open(filler, "wb") as f:
        f.write(b"\0" * (FILLER_MB << 20))
        f.flush()
        os.fsync(f.fileno())


def disk_full(res, a, mnt, acked):
    data = os.path.join(mnt, "data")
    filler = os.path.join(mnt, "filler")
    fill_disk(filler)
    # the audit log on the work dir's (large) disk: only the data dir fills up
    srv = Server(a.cofferd, data, free_port(), os.path.join(a.work, "cofferd.log"),
                 extra=["--audit-dir", os.path.join(a.work, "audit-separate")])
    if not res.check(srv.start(), "cofferd starts with its data dir on a 24 MB tmpfs"):
        print(srv.log_tail())
        return None
    pid = srv.pid
    cl = Client(srv.env, get_token(srv.env), timeout=30)
    for i in range(20):
        acked.put(cl, f"keep-{i}", rand_value(64))
    res.check(len(acked.w) == 20, "20 small secrets written before filling")

    # Fill until writes fail (stop after 30 failures in a row).
    failures, shapes, codes = 0, [], {}
    n_ok = 0
    first_fail = None
    t0 = time.monotonic()
    for i in range(20000):
        st, doc, _ = acked.put(cl, f"fill-{i}", rand_value(VALUE_LEN))
        if st == 200:
            n_ok += 1
            failures = 0
            continue
        if first_fail is None:
            first_fail = i
        failures += 1
        key = f"{st} {azure_error_code(st, doc)}"
        codes[key] = codes.get(key, 0) + 1
        s = error_shape(st, doc)
        if s:
            shapes.append(s)
        if failures >= 30:
            break
    res.note(f"disk full after {n_ok} fill writes of {VALUE_LEN} chars "
             f"({time.monotonic() - t0:.1f} s); failure answers: {codes}")
    if not res.check(first_fail is not None, "writes fail once the tmpfs is full"):
        srv.kill()
        return None
    res.check(not shapes, "every failed write is an Azure-shaped JSON 5xx",
              "; ".join(sorted(set(shapes))[:3]))
    res.check(set(codes) == {"503 ServiceUnavailable"},
              "full-disk writes answer 503 ServiceUnavailable", str(codes))

    # While full: same process, reads of everything acknowledged, listing, a new token.
    res.check(srv.alive() and srv.pid == pid, "cofferd keeps running while the disk is full")
    bad = acked.verify(cl)
    res.check(not bad, f"while full: all {len(acked.w)} acknowledged secrets read back exactly",
              "; ".join(bad[:3]))
    st, doc, _ = cl.request("GET", "/secrets?maxresults=25")
    res.check(st == 200 and isinstance(doc, dict) and "value" in doc,
              "while full: list secrets answers 200", f"HTTP {st}")
    try:
        get_token(srv.env)
        res.ok("while full: the token endpoint issues a token")
    except Exception as e:
        res.fail(f"while full: the token endpoint issues a token ({e})")
    st, doc, _ = acked.put(cl, "while-full", rand_value(VALUE_LEN))
    res.check(st == 200 or not error_shape(st, doc),
              "while full: a further write is 200 or an Azure-shaped 5xx", f"HTTP {st}")

    # Free the space: writes must resume by themselves.
    os.unlink(filler)
    t0 = time.monotonic()
    resumed = None
    while time.monotonic() - t0 < 10:
        st, doc, _ = acked.put(cl, f"after-{int((time.monotonic() - t0) * 1000)}", "resumed")
        if st == 200:
            resumed = time.monotonic() - t0
            break
        time.sleep(0.1)
    res.check(resumed is not None and srv.pid == pid,
              "writes succeed again after space is freed, same process (no restart)",
              "still failing after 10 s")
    if resumed is not None:
        res.note(f"first successful write {resumed * 1000:.0f} ms after deleting the filler")
    okn = sum(1 for i in range(50) if acked.put(cl, f"post-{i}", rand_value(2000))[0] == 200)
    res.check(okn == 50, "50 more writes after recovery all succeed", f"{okn}/50")
    bad = acked.verify(cl)
    res.check(not bad, f"after recovery: all {len(acked.w)} acknowledged writes exact",
              "; ".join(bad[:3]))
    cl.close()
    st = srv.stop()
    res.check(st == 0, "cofferd exits 0 on SIGTERM after the full-disk episode", f"status {st}")
    ok, out = integrity_check(data, readonly=False)
    res.check(ok, "integrity_check ok after the full-disk episode", out)
    return srv


def disk_full_shared(res, a, mnt):
    """The audit log on the same full disk: every audited request fails closed with 503."""
    data = os.path.join(mnt, "data")
    filler = os.path.join(mnt, "filler")
    fill_disk(filler)
    srv = Server(a.cofferd, data, free_port(), os.path.join(a.work, "cofferd-shared.log"))
    if not res.check(srv.start(), "shared disk: cofferd starts with data and audit on a tmpfs"):
        print(srv.log_tail())
        return
    pid = srv.pid
    acked = Acked()
    cl = Client(srv.env, get_token(srv.env), timeout=30)
    for i in range(10):
        acked.put(cl, f"keep-{i}", rand_value(64))
    res.check(len(acked.w) == 10, "shared disk: 10 small secrets written before filling")
    failures = 0
    for i in range(20000):
        st, _, _ = acked.put(cl, f"fill-{i}", rand_value(VALUE_LEN))
        failures = 0 if st == 200 else failures + 1
        if failures >= 30:
            break
    res.check(failures >= 30, "shared disk: writes fail once the tmpfs is full")
    # Reads: each answer is the exact value or an Azure-shaped 503; once the audit file's
    # reserved blocks are used up they must be refused (fail closed). The log reserves blocks
    # ahead of its end (1 MiB chunks, ~1,000 GET records), so up to that many reads may still
    # be recorded, and answered, after the disk is full: read until 20 have been refused.
    wrong, shapes, n503, nreads = [], [], 0, 0
    names = list(acked.w.items())
    for k in range(4000):
        if n503 >= 20:
            break
        nreads += 1
        name, (ver, h) = names[k % len(names)]
        st, doc, _ = cl.request("GET", f"/secrets/{name}/{ver}")
        if st == 200:
            if hashlib.sha256(doc.get("value", "").encode()).hexdigest() != h:
                wrong.append(name)
        else:
            if st != 503 or azure_error_code(st, doc) != "ServiceUnavailable":
                shapes.append(f"HTTP {st} {azure_error_code(st, doc)}")
            n503 += 1
    res.check(not wrong, "shared disk: no read answers a wrong value", ", ".join(wrong[:3]))
    res.check(not shapes, "shared disk: refused reads are Azure-shaped 503 ServiceUnavailable",
              "; ".join(sorted(set(shapes))[:3]))
    res.check(n503 > 0, "shared disk: reads fail closed once the audit log cannot be written",
              f"all {nreads} reads answered 200")
    res.note(f"shared disk: {nreads - n503} reads answered (recorded in reserved blocks) "
             f"before the audit log was full, then {n503} refused")
    os.unlink(filler)
    t0, back = time.monotonic(), None
    while time.monotonic() - t0 < 10:
        st, _, _ = cl.request("GET", f"/secrets/{names[0][0]}/{names[0][1][0]}")
        st2 = acked.put(cl, f"after-{int((time.monotonic() - t0) * 1000)}", "resumed")[0]
        if st == 200 and st2 == 200:
            back = time.monotonic() - t0
            break
        time.sleep(0.1)
    res.check(back is not None and srv.pid == pid,
              "shared disk: reads and writes resume after space is freed, same process",
              "still failing after 10 s")
    bad = acked.verify(cl)
    res.check(not bad, f"shared disk: all {len(acked.w)} acknowledged writes exact",
              "; ".join(bad[:3]))
    cl.close()
    st = srv.stop()
    res.check(st == 0, "shared disk: cofferd exits 0 on SIGTERM", f"status {st}")
    coffer = os.path.join(os.path.dirname(os.path.abspath(a.cofferd)), "coffer")
    if os.path.exists(coffer):
        keyfile = os.path.join(a.work, "audit-mac.key")
        with open(os.path.join(data, "master.key"), "rb") as f:
            ikm = f.read()
        # dev custody: the MAC key is HKDF-SHA256(master key, info "coffer audit mac v1")
        prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
        okm = hmac.new(prk, b"coffer audit mac v1\x01", hashlib.sha256).digest()
        with open(keyfile, "wb") as f:
            f.write(okm.hex().encode())
        rc, out = run([coffer, "audit", "verify", "--dir", os.path.join(data, "audit"),
                       "--key-file", keyfile])
        res.check(rc == 0, "shared disk: `coffer audit verify` passes after the episode",
                  out.splitlines()[-1] if out else f"exit {rc}")
    ok, out = integrity_check(data, readonly=False)
    res.check(ok, "shared disk: integrity_check ok after the episode", out)


def read_only(res, a, mnt, srv, acked):
    data = srv.data_dir
    if not res.check(srv.start(), "cofferd restarts on the data dir"):
        print(srv.log_tail())
        return
    cl = Client(srv.env, get_token(srv.env), timeout=30)
    bad = acked.verify(cl)
    res.check(not bad, f"after restart: all {len(acked.w)} acknowledged writes exact",
              "; ".join(bad[:3]))
    rc, out = run(["mount", "-o", "remount,ro", mnt])
    if rc == 0:
        # Runtime read-only (only reachable on kernels that allow it).
        st, doc, _ = cl.request("PUT", "/secrets/ro-write", {"value": "x"})
        res.check(st != 200 and not error_shape(st, doc),
                  "read-only at runtime: a write fails with an Azure-shaped 5xx", f"HTTP {st}")
        bad = acked.verify(cl)
        res.check(not bad and srv.alive(), "read-only at runtime: reads keep working",
                  "; ".join(bad[:3]))
        run(["mount", "-o", "remount,rw", mnt])
        ok = False
        for _ in range(50):
            if acked.put(cl, "rw-again", "x")[0] == 200:
                ok = True
                break
            time.sleep(0.1)
        res.check(ok, "after remount rw, writes resume without a restart")
    else:
        res.note("mount -o remount,ro refused while cofferd runs (" + out.splitlines()[0] +
                 "): Linux does not make a mount read-only while a file on it is open for "
                 "writing, so a runtime read-only data dir cannot happen; testing start-up on "
                 "a read-only data dir instead")
    cl.close()
    st = srv.stop()
    res.check(st == 0, "cofferd exits 0 on SIGTERM", f"status {st}")

    rc, out = run(["mount", "-o", "remount,ro", mnt])
    if not res.check(rc == 0, "data dir remounted read-only with cofferd stopped", out):
        return
    with open(srv.log_path, "ab") as f:
        mark = f.tell()
    t0 = time.monotonic()
    started = srv.start(timeout=15)
    if started:
        res.note("cofferd started on a read-only data dir; checking it serves reads only")
        cl = Client(srv.env, get_token(srv.env), timeout=30)
        bad = acked.verify(cl)
        res.check(not bad, "read-only start: reads work", "; ".join(bad[:3]))
        st, doc, _ = cl.request("PUT", "/secrets/ro-write", {"value": "x"})
        res.check(st != 200 and not error_shape(st, doc),
                  "read-only start: a write fails with an Azure-shaped 5xx", f"HTTP {st}")
        cl.close()
        srv.stop()
    else:
        st = srv.proc.returncode if srv.proc else None
        if srv.proc is not None:
            srv.proc = None
        with open(srv.log_path, "rb") as f:
            f.seek(mark)
            log = f.read().decode("utf-8", "replace")
        errs = [ln for ln in log.splitlines() if " error " in ln or " fatal " in ln]
        res.check(st is not None and st > 0,
                  "read-only start: cofferd exits with a non-zero status (not a signal, no hang)",
                  f"status {st}")
        res.check(bool(errs), "read-only start: the log says why", "no error line")
        if errs:
            res.note(f"refused in {time.monotonic() - t0:.1f} s, exit {st}: {errs[0][25:160]}")
    rc, out = run(["mount", "-o", "remount,rw", mnt])
    res.check(rc == 0, "data dir remounted read-write", out)
    if not res.check(srv.start(), "cofferd starts again once the data dir is writable"):
        print(srv.log_tail())
        return
    cl = Client(srv.env, get_token(srv.env), timeout=30)
    bad = acked.verify(cl)
    res.check(not bad, f"after the read-only episode: all {len(acked.w)} acknowledged writes "
              "exact", "; ".join(bad[:3]))
    st, _, _ = acked.put(cl, "rw-final", "x")
    res.check(st == 200, "writes work after the read-only episode", f"HTTP {st}")
    cl.close()
    st = srv.stop()
    res.check(st == 0, "cofferd exits 0 on SIGTERM", f"status {st}")
    ok, out = integrity_check(data, readonly=False)
    res.check(ok, "integrity_check ok after the read-only episode", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cofferd", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    res = Results("diskfull", EXPECTED_FAIL)
    if os.geteuid() != 0:
        print("     diskfull: skipped: not root (mounting a tmpfs needs root; CI runs as root)")
        return res.summary()
    mnt = os.path.join(os.path.realpath(a.work), "mnt")
    os.makedirs(mnt, exist_ok=True)
    rc, out = run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0700", "tmpfs", mnt])
    if not res.check(rc == 0, f"{TMPFS_MB} MB tmpfs mounted for the data dir", out):
        return res.summary()
    srv = None
    try:
        acked = Acked()
        srv = disk_full(res, a, mnt, acked)
        if srv is not None:
            read_only(res, a, mnt, srv, acked)
    finally:
        if srv is not None:
            srv.kill()
        if is_mounted(mnt):
            run(["mount", "-o", "remount,rw", mnt])
            run(["umount", mnt])
    mnt2 = os.path.join(os.path.realpath(a.work), "mnt-shared")
    os.makedirs(mnt2, exist_ok=True)
    rc, out = run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0700", "tmpfs", mnt2])
    if res.check(rc == 0, f"{TMPFS_MB} MB tmpfs mounted for data and audit together", out):
        try:
            disk_full_shared(res, a, mnt2)
        finally:
            run(["umount", mnt2])
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
