#!/usr/bin/env python3
"""crash.py - kill -9 crash-safety check for cofferd (driven by crash.sh).

Each cycle: W writer threads (keep-alive HTTPS, bearer token from the token endpoint) PUT
secrets with unique random values to distinct names (d{cycle}-{writer}-{seq}) and to a few
names shared by every writer in that cycle (s{cycle}-{k}: new versions of one secret). Every
attempt is journalled before it is sent ("try": name, value) and every acknowledged write
(HTTP 200) after ("ack": try id, version from the returned id). After a random 0.2-2 s
cofferd gets SIGKILL; the writers' in-flight requests die with it. While the server is down
`sqlite3 -readonly DIR/coffer.db "PRAGMA integrity_check"` must print "ok" (read-only so the
CLI neither checkpoints nor deletes the WAL: the server's own recovery is what is under test;
every 5th cycle and at the end the plain command is used). Then cofferd restarts on the same
data dir and port and the verifier checks:
  A. every acknowledged write is readable at its exact version with its exact value
     (per cycle: the last cycle's acks plus a random sample of older ones; at the end: all);
  B. for each shared name the latest version's value is one the clients sent (acknowledged
     or in flight) and, when it is an acknowledged value, it carries the acknowledged version;
     404 only if no write to it was ever acknowledged;
  C. every version listed by list-versions (all pages) is readable and holds a value the clients
     sent for that name; every acknowledged version is listed;
  D. an unacknowledged distinct name is absent (404) or holds exactly the value sent;
  E. (end) the vault listing (all pages) holds no name the clients never wrote, and every
     acknowledged distinct name is listed.
At the end cofferd gets SIGTERM (must exit 0) and the verifier is run once against a
deliberately corrupted copy of the journal: it must report each planted problem (a verifier
that cannot fail is useless).

Usage: crash.py --cofferd PATH --work DIR [--cycles N] [--writers W] [--seed S]
       crash.py --cofferd PATH --work DIR --verify-journal J --data-dir D   (re-verify only)
Values are never printed: problems name the secret and version only.
"""
import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relcommon import (Client, Results, Server, azure_error_code, free_port,  # noqa: E402
                       get_token, version_of)

# Known server bugs: check keys whose failure is expected until fixed (none known).
EXPECTED_FAIL = set()

SHARED_PER_CYCLE = 3
SHARED_FRACTION = 0.3


# ---------------------------------------------------------------- journal and its state
class State:
    """What the clients did, rebuilt from journal records by apply()."""

    def __init__(self):
        self.tries = {}          # try id -> (cycle, name, value)
        self.values = {}         # name -> set of values sent
        self.acks = []           # (cycle, name, version, value)
        self.acked_tries = set()
        self.naks = {}           # status -> count (non-200 answers)
        self.shared = {}         # cycle -> set of shared names
        self.ntries = {}         # name -> writes attempted
        self.acked = {}          # name -> {version: value}

    def apply(self, r):
        t = r["t"]
        if t == "try":
            self.tries[r["id"]] = (r["cy"], r["n"], r["v"])
            self.values.setdefault(r["n"], set()).add(r["v"])
            self.ntries[r["n"]] = self.ntries.get(r["n"], 0) + 1
            if r["n"].startswith("s"):
                self.shared.setdefault(r["cy"], set()).add(r["n"])
        elif t == "ack":
            cy, n, v = self.tries[r["id"]]
            self.acks.append((cy, n, r["ver"], v))
            self.acked_tries.add(r["id"])
            self.acked.setdefault(n, {})[r["ver"]] = v
        elif t == "nak":
            self.naks[r["st"]] = self.naks.get(r["st"], 0) + 1

    def acked_versions(self, name):
        return self.acked.get(name, {})


class Journal:
    def __init__(self, path, state):
        self.f = open(path, "a", encoding="utf-8")
        self.state = state
        self.lock = threading.Lock()
        self.next_id = 0

    def rec(self, **r):
        with self.lock:
            if r["t"] == "try":
                r["id"] = self.next_id
                self.next_id += 1
            self.f.write(json.dumps(r, separators=(",", ":")) + "\n")
            self.state.apply(r)
            return r.get("id")

    def flush(self):
        with self.lock:
            self.f.flush()


def load_journal(path):
    st = State()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                st.apply(json.loads(line))
    return st


def new_value(rng):
    # Mostly small values, some that need overflow pages; unique by the random prefix.
    n = rng.randint(16, 300) if rng.random() < 0.97 else rng.randint(4000, 20000)
    return secrets.token_hex(16) + secrets.token_urlsafe(n)[: max(0, n - 32)]


# ---------------------------------------------------------------- writers
def writer(cycle, idx, env, token, stop, journal, shared_names, counters, seed):
    rng = random.Random(seed)
    cl = Client(env, token, timeout=10)
    seq = 0
    while not stop.is_set():
        if rng.random() < SHARED_FRACTION:
            name = rng.choice(shared_names)
        else:
            name = f"d{cycle}-{idx}-{seq}"
            seq += 1
        value = new_value(rng)
        tid = journal.rec(t="try", cy=cycle, n=name, v=value)
        try:
            st, doc, _ = cl.request("PUT", f"/secrets/{name}", {"value": value})
        except Exception:  # the server was killed under us: the write is "in flight"
            break
        if st == 200:
            ver = version_of(doc)
            if ver is None or doc.get("value") != value:
                counters["bad_ack"] += 1
                continue
            journal.rec(t="ack", id=tid, ver=ver)
        else:
            code = azure_error_code(st, None if doc is None else doc)
            journal.rec(t="nak", id=tid, st=st, code=code)
            if code is None:
                counters["nonjson_err"] += 1
            if st in (429, 503):
                time.sleep(0.01)
    cl.close()


# ---------------------------------------------------------------- verifier
class Verifier:
    def __init__(self, env, token, nthreads=3):
        self.env = env
        self.token = token
        self.nthreads = nthreads

    def _parallel(self, items, fn):
        """Runs fn(client, item) -> list of problems over items on nthreads connections."""
        problems = []
        lock = threading.Lock()
        chunks = [items[i::self.nthreads] for i in range(self.nthreads)]

        def run(chunk):
            cl = Client(self.env, self.token, timeout=30)
            out = []
            for it in chunk:
                for attempt in range(3):
                    try:
                        out.extend(fn(cl, it))
                        break
                    except Exception as e:  # network hiccup: retry on a new connection
                        if attempt == 2:
                            out.append(f"request failed for {it!r:.80}: {type(e).__name__}")
            cl.close()
            with lock:
                problems.extend(out)

        ts = [threading.Thread(target=run, args=(c,)) for c in chunks if c]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return problems

    @staticmethod
    def _acked(cl, item):
        _, n, ver, v = item
        st, doc, _ = cl.request("GET", f"/secrets/{n}/{ver}")
        if st != 200:
            code = azure_error_code(st, doc)
            return [f"acknowledged write {n}/{ver} not readable: HTTP {st} {code}"]
        if not isinstance(doc, dict) or doc.get("value") != v:
            return [f"acknowledged write {n}/{ver} has a different value"]
        if version_of(doc) != ver:
            return [f"acknowledged write {n}/{ver} answered with id version {version_of(doc)}"]
        return []

    def verify_acks(self, acks):
        return self._parallel(list(acks), self._acked)

    def verify_shared(self, state, names):
        def one(cl, n):
            out = []
            sent = state.values.get(n, set())
            acked = state.acked_versions(n)
            st, doc, _ = cl.request("GET", f"/secrets/{n}")
            if st == 404:
                if acked:
                    out.append(f"shared {n}: latest is 404 but {len(acked)} writes were acked")
            elif st != 200:
                out.append(f"shared {n}: GET latest answered {st}")
            else:
                v, ver = doc.get("value"), version_of(doc)
                if v not in sent:
                    out.append(f"shared {n}: latest {ver} holds a value no client sent")
                else:
                    for aver, av in acked.items():
                        if av == v and aver != ver:
                            out.append(f"shared {n}: latest holds acked value of {aver} "
                                       f"under version {ver}")
            # C: every listed version readable with a sent value; acked ones all listed.
            listed = []
            st, doc, _ = cl.request("GET", f"/secrets/{n}/versions")
            while True:
                if st != 200 or not isinstance(doc, dict):
                    if not (st == 404 and not acked):
                        out.append(f"shared {n}: list versions answered {st}")
                    break
                for item in doc.get("value", []):
                    listed.append(item.get("id", "").rstrip("/").rsplit("/", 1)[-1])
                nxt = doc.get("nextLink")
                if not nxt:
                    break
                st, doc, _ = cl.get_url(nxt)
            if len(listed) != len(set(listed)):
                out.append(f"shared {n}: list versions repeats a version")
            if len(listed) > state.ntries.get(n, 0):
                out.append(f"shared {n}: more versions listed than writes attempted")
            for aver in acked:
                if aver not in listed:
                    out.append(f"shared {n}: acked version {aver} not listed")
            for ver in listed:
                st, d2, _ = cl.request("GET", f"/secrets/{n}/{ver}")
                if st != 200:
                    out.append(f"shared {n}: listed version {ver} not readable (HTTP {st})")
                elif d2.get("value") not in sent:
                    out.append(f"shared {n}: listed version {ver} holds a value no client sent")
            return out

        return self._parallel(sorted(names), one)

    def verify_unacked(self, state, tries):
        """D: distinct names whose write was never acknowledged."""
        def one(cl, item):
            n, v = item
            st, doc, _ = cl.request("GET", f"/secrets/{n}")
            if st == 404:
                return []
            if st != 200:
                return [f"unacked {n}: GET answered {st}"]
            if doc.get("value") != v:
                return [f"unacked {n}: visible with a value other than the one sent"]
            return []
        return self._parallel(list(tries), one)

    def verify_listing(self, state):
        """E: the vault listing against what the clients wrote."""
        out = []
        cl = Client(self.env, self.token, timeout=30)
        names = []
        st, doc, _ = cl.request("GET", "/secrets?maxresults=25")
        while True:
            if st != 200 or not isinstance(doc, dict):
                out.append(f"list secrets answered {st}")
                break
            for item in doc.get("value", []):
                names.append(item.get("id", "").rstrip("/").rsplit("/", 1)[-1])
            nxt = doc.get("nextLink")
            if not nxt:
                break
            st, doc, _ = cl.get_url(nxt)
        cl.close()
        listed = set(names)
        if len(listed) != len(names):
            out.append("list secrets repeats a name")
        unknown = [n for n in listed if n not in state.values]
        if unknown:
            out.append(f"list secrets shows {len(unknown)} names no client wrote "
                       f"(e.g. {unknown[0]})")
        missing = {n for (_, n, _, _) in state.acks if n not in listed}
        if missing:
            out.append(f"{len(missing)} acknowledged names missing from the listing "
                       f"(e.g. {sorted(missing)[0]})")
        return out, len(names)


def unacked_distinct(state, cycles=None):
    out = []
    for tid, (cy, n, v) in state.tries.items():
        if tid in state.acked_tries or n.startswith("s"):
            continue
        if cycles is None or cy in cycles:
            out.append((n, v))
    return out


def integrity_check(data_dir, readonly):
    cmd = ["sqlite3"] + (["-readonly"] if readonly else []) + [
        os.path.join(data_dir, "coffer.db"), "PRAGMA integrity_check"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False, "timed out"
    out = (p.stdout + p.stderr).strip()
    return p.returncode == 0 and out == "ok", out[:200]


def show(res, problems, limit=8):
    for p in problems[:limit]:
        res.note("  " + p)
    if len(problems) > limit:
        res.note(f"  ... and {len(problems) - limit} more")


# ---------------------------------------------------------------- the corrupted-journal test
def corrupt_journal_selftest(res, journal_path, work, env, token):
    """Plants problems in a copy of the journal; the verifier must find each of them."""
    with open(journal_path, encoding="utf-8") as f:
        recs = [json.loads(x) for x in f if x.strip()]
    tries = {r["id"]: r for r in recs if r["t"] == "try"}
    ack_recs = [r for r in recs if r["t"] == "ack"]
    distinct = [r for r in ack_recs if not tries[r["id"]]["n"].startswith("s")]
    if len(distinct) < 2:
        res.fail("verifier self-test: too few acknowledged writes to corrupt")
        return
    a, b = distinct[0], distinct[len(distinct) // 2]
    tries[a["id"]]["v"] = tries[a["id"]]["v"] + "x"        # value changed
    b["ver"] = "0" * 32                                    # version that does not exist
    nid = max(tries) + 1
    recs.append({"t": "try", "id": nid, "cy": 0, "n": "never-written-name", "v": "zz"})
    recs.append({"t": "ack", "id": nid, "ver": "f" * 32})  # acked write that never happened
    # A shared name whose latest value is dropped from what the clients "sent".
    shared_ack = next((r for r in reversed(ack_recs) if tries[r["id"]]["n"].startswith("s")),
                      None)
    bad = os.path.join(work, "journal.corrupted")
    with open(bad, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    st = load_journal(bad)
    v = Verifier(env, token)
    names = {tries[a["id"]]["n"], tries[b["id"]]["n"], "never-written-name"}
    found = v.verify_acks([x for x in st.acks if x[1] in names])
    want = 3
    if shared_ack is not None:
        sname = tries[shared_ack["id"]]["n"]
        cl = Client(env, token)
        stt, doc, _ = cl.request("GET", f"/secrets/{sname}")
        cl.close()
        if stt == 200:
            st.values[sname].discard(doc.get("value"))
            found += v.verify_shared(st, {sname})
            want += 1
    res.check(len(found) >= want,
              "verifier reports every problem planted in a corrupted journal copy",
              f"planted {want}, reported {len(found)}")


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cofferd", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--min-up", type=float, default=0.2)
    ap.add_argument("--max-up", type=float, default=2.0)
    ap.add_argument("--sample", type=int, default=200, help="older acks re-checked per cycle")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--verify-journal")
    ap.add_argument("--data-dir")
    a = ap.parse_args()

    res = Results("crash", EXPECTED_FAIL)
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    os.makedirs(a.work, exist_ok=True)
    data = a.data_dir or os.path.join(a.work, "data")
    port = free_port()
    srv = Server(a.cofferd, data, port, os.path.join(a.work, "cofferd.log"))

    if a.verify_journal:  # re-verification only
        state = load_journal(a.verify_journal)
        if not res.check(srv.start(), "cofferd starts on the data dir"):
            return res.summary()
        v = Verifier(srv.env, get_token(srv.env))
        probs = v.verify_acks(state.acks)
        show(res, probs)
        res.check(not probs, f"all {len(state.acks)} acknowledged writes present and exact")
        srv.stop()
        return res.summary()

    res.note(f"seed {seed}, {a.cycles} cycles, {a.writers} writers, port {port}, work {a.work}")
    state = State()
    journal_path = os.path.join(a.work, "journal.jsonl")
    journal = Journal(journal_path, state)
    counters = {"bad_ack": 0, "nonjson_err": 0}
    t_start = time.monotonic()
    problems_total = 0
    restarts_ok = 0
    integ_ok = 0
    integ_total = 0
    verified = 0
    inflight_total = 0
    start_times = []

    if not res.check(srv.start(), "cofferd starts on a fresh data dir"):
        print(srv.log_tail())
        return res.summary()

    aborted = False
    for cycle in range(a.cycles):
        try:
            token = get_token(srv.env)
        except Exception as e:
            res.fail(f"cycle {cycle}: token after restart ({type(e).__name__}: {e})")
            aborted = True
            break
        stop = threading.Event()
        shared = [f"s{cycle}-{k}" for k in range(SHARED_PER_CYCLE)]
        n_tries_before = len(state.tries)
        n_acks_before = len(state.acks)
        ws = [threading.Thread(target=writer, args=(cycle, i, srv.env, token, stop, journal,
                                                    shared, counters, rng.random()))
              for i in range(a.writers)]
        for w in ws:
            w.start()
        time.sleep(rng.uniform(a.min_up, a.max_up))
        if not srv.alive():
            res.fail(f"cycle {cycle}: cofferd died on its own before the kill")
            print(srv.log_tail())
        srv.kill()
        stop.set()
        for w in ws:
            w.join()
        journal.flush()
        new_acks = state.acks[n_acks_before:]
        inflight = (len(state.tries) - n_tries_before) - len(new_acks)
        inflight_total += inflight

        readonly = (cycle % 5) != 4
        ok, out = integrity_check(data, readonly)
        integ_total += 1
        if ok:
            integ_ok += 1
        else:
            res.fail(f"cycle {cycle}: integrity_check after SIGKILL: {out}")
            problems_total += 1

        t0 = time.monotonic()
        if not srv.start():
            res.fail(f"cycle {cycle}: cofferd restarts on the same data dir and port")
            print(srv.log_tail())
            aborted = True
            break
        start_times.append(time.monotonic() - t0)
        restarts_ok += 1
        try:
            vtoken = get_token(srv.env)
        except Exception as e:
            res.fail(f"cycle {cycle}: token after restart ({type(e).__name__})")
            aborted = True
            break
        v = Verifier(srv.env, vtoken)
        older = state.acks[:n_acks_before]
        sample = rng.sample(older, min(a.sample, len(older)))
        probs = v.verify_acks(new_acks + sample)
        probs += v.verify_shared(state, set(shared))
        probs += v.verify_unacked(state, unacked_distinct(state, {cycle}))
        verified += len(new_acks) + len(sample)
        if probs:
            problems_total += len(probs)
            res.fail(f"cycle {cycle}: {len(probs)} problems after restart "
                     f"({len(new_acks)} new acks, {inflight} in flight at the kill)")
            show(res, probs)

    elapsed_cycles = time.monotonic() - t_start
    ncyc = restarts_ok
    res.check(not aborted and restarts_ok == a.cycles,
              f"cofferd restarted after each of {a.cycles} SIGKILLs", f"{restarts_ok} restarts")
    res.check(integ_ok == integ_total and integ_ok > 0,
              f"integrity_check ok after every kill ({integ_ok} of {integ_total})")
    res.check(problems_total == 0,
              f"per-cycle verification: {verified} acknowledged-write reads, shared names, "
              f"unacked names", f"{problems_total} problems")
    res.check(counters["bad_ack"] == 0, "every 200 echoed the value sent and a version id",
              f"{counters['bad_ack']} bad acks")
    res.check(counters["nonjson_err"] == 0, "every non-200 write answer was Azure-shaped JSON",
              f"{counters['nonjson_err']} non-JSON errors")

    # Final: everything, on the server as left by the last kill + restart.
    if srv.alive():
        token = get_token(srv.env)
        v = Verifier(srv.env, token)
        t0 = time.monotonic()
        probs = v.verify_acks(state.acks)
        show(res, probs)
        res.check(not probs, f"final: all {len(state.acks)} acknowledged writes present with "
                  f"their exact value at their exact version", f"{len(probs)} problems")
        all_shared = set().union(*state.shared.values()) if state.shared else set()
        probs = v.verify_shared(state, all_shared)
        show(res, probs)
        res.check(not probs, f"final: {len(all_shared)} shared names: latest and every listed "
                  f"version hold values that were sent; acked versions all listed")
        un = unacked_distinct(state)
        probs = v.verify_unacked(state, un)
        show(res, probs)
        res.check(not probs, f"final: {len(un)} unacknowledged distinct writes absent or exact")
        probs, nlisted = v.verify_listing(state)
        show(res, probs)
        res.check(not probs, f"final: vault listing ({nlisted} names) matches what was written")
        res.note(f"final verification took {time.monotonic() - t0:.1f} s")
        corrupt_journal_selftest(res, journal_path, a.work, srv.env, token)
        st = srv.stop()
        res.check(st == 0, "cofferd exits 0 on SIGTERM at the end", f"status {st}")
        ok, out = integrity_check(data, readonly=False)
        res.check(ok, "final sqlite3 PRAGMA integrity_check (plain) prints ok", out)
    else:
        res.fail("final verification: no running server")

    naks = ", ".join(f"{k}: {v}" for k, v in sorted(state.naks.items())) or "none"
    avg_start = sum(start_times) / len(start_times) if start_times else 0
    res.note(f"totals: {ncyc} kill/restart cycles in {elapsed_cycles:.1f} s; "
             f"{len(state.tries)} writes sent, {len(state.acks)} acknowledged and verified, "
             f"{inflight_total} in flight at kills; non-200 answers: {naks}; "
             f"mean restart-to-ready {avg_start * 1000:.0f} ms")
    srv.kill()
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
