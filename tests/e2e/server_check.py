#!/usr/bin/env python3
"""server_check.py - the checks lib.sh's e2e_stop runs on every cofferd an e2e suite started
(issue 11: "every operation of the e2e suites leaves the expected audit record", "no secret
value or token anywhere in logs, audit files or metrics").

    server_check.py --audit-dir D --since ISO --log F [--metrics F] [--values F]
                    [--coffer BIN] [--routes routes.c]
    (the dev admin's client secret comes in $CHECK_CLIENT_SECRET, never on the command line)

Checks, one output line each ("ok <what>" or "FAIL <what>"; never a value or a token):
  verify    `coffer audit verify --dir D --public-key D/audit-signing-key.jwk` exits 0: the
            hash chain links and the signed checkpoints hold
  count     the AuditEvent records of this run (time >= --since: runs on one data dir never
            overlap) equal the requests the server answered by the /metrics scrape taken just
            before SIGTERM (sum of coffer_api_requests_total), and per HTTP status too.
            Relaxed to "records <= requests" when the scrape shows audit write errors (a
            fail-closed test: the refused answers have no record) or retention removed files.
  names     every record has an operationName Coffer's route table (src/api/routes.c) or the
            reference's list (azure-kv-security-ops.md 5.3) knows; "Unknown" only for a request
            that matched no route (400/404/405)
  leaks     no JWT (eyJ...eyJ...) and no client secret in the log, the audit records or the
            scrape; none of the suite's secret values (--values: one per line, recorded by
            lib.sh's req/get_token, >= 10 characters) in any of them
Prints nothing about the values themselves: a leak names the file and the kind only.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
# azure-kv-security-ops.md 5.3 names the route table does not carry (not request operations
# or planned ones); the route table is read at run time so new routes need no edit here.
REFERENCE = set("""Authentication VaultGetDeleted VaultListDeleted VaultPurge VaultRecover
VaultAccessPolicyChangedEventGridNotification KeyRotateIfDue KeyNearExpiryEventGridNotification
KeyExpiredEventGridNotification SecretNearExpiryEventGridNotification
SecretExpiredEventGridNotification CertificatePolicySet CertificateEnroll CertificateRenew
CertificateNearExpiryEventGridNotification CertificateExpiredEventGridNotification""".split())


def route_names(path):
    names = set()
    try:
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if line.startswith("{") and "api_" in line:
                names.update(re.findall(r'"([A-Z][A-Za-z]+)"', line))
    except OSError:
        pass
    return names


def parse_metrics(path):
    """{(name, frozenset(labels))} -> value; {} when there was no scrape."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    for line in open(path, encoding="utf-8", errors="replace"):
        m = SAMPLE.match(line.rstrip("\n"))
        if not m or line.startswith("#"):
            continue
        try:
            v = float(m.group(3))
        except ValueError:
            continue
        out[(m.group(1), frozenset(LABEL.findall(m.group(2) or "")))] = v
    return out


def audit_lines(d):
    """(records, other_lines, retention): AuditEvent records as (dict, raw bytes); the raw
    bytes of every other line; whether a node's oldest file names a predecessor that is gone."""
    recs, other, retention = [], [], False
    files = sorted(glob.glob(os.path.join(d, "audit-*.jsonl")))
    names = {os.path.basename(f) for f in files}
    for f in files:
        with open(f, "rb") as fh:
            for i, raw in enumerate(fh):
                try:
                    r = json.loads(raw)
                except ValueError:
                    other.append(raw)
                    continue
                if r.get("category") == "AuditEvent":
                    recs.append((r, raw))
                else:
                    if i == 0 and r.get("kind") == "header" and r.get("prevFile") and \
                            r["prevFile"] not in names:
                        retention = True
                    # a checkpoint carries its own JWS: not a token, blank it for the scan
                    other.append(re.sub(rb'"jws":"[^"]*"', b'"jws":""', raw))
    return recs, other, retention


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audit-dir", required=True)
    ap.add_argument("--since", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--metrics", default="")
    ap.add_argument("--values", default="")
    ap.add_argument("--coffer", default="")
    ap.add_argument("--routes", default="")
    a = ap.parse_args()
    res = []

    def out(ok, what):
        res.append(("ok " if ok else "FAIL ") + what)

    d = a.audit_dir
    have_audit = os.path.isdir(d) and glob.glob(os.path.join(d, "audit-*.jsonl"))
    if not have_audit:
        out(True, "no audit log kept (audit off or elsewhere): record checks skipped")
    # ---- verify
    if have_audit and a.coffer:
        cmd = [a.coffer, "audit", "verify", "--dir", d]
        if os.path.exists(os.path.join(d, "audit-signing-key.jwk")):
            cmd += ["--public-key", os.path.join(d, "audit-signing-key.jwk")]
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=60)
            rc, txt = p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired) as e:
            rc, txt = -1, str(e)
        first = " ".join(txt.split())[:200] if rc else ""
        out(rc == 0, "coffer audit verify (chain, signed checkpoints)%s" %
            ("" if rc == 0 else ": exit %d %s" % (rc, first)))
    recs, other, retention = audit_lines(d) if have_audit else ([], [], False)
    since = a.since[:23]
    mine = [(r, raw) for r, raw in recs if str(r.get("time", ""))[:23] >= since]
    # ---- count against the scrape
    met = parse_metrics(a.metrics)
    if have_audit and met:
        by_status = {}
        nreq = 0
        for (name, labels), v in met.items():
            if name == "coffer_api_requests_total":
                st = dict(labels).get("status", "?")
                by_status[st] = by_status.get(st, 0) + int(v)
                nreq += int(v)
        werr = sum(v for (n, _), v in met.items() if n == "coffer_audit_write_errors_total")
        rec_status = {}
        for r, _ in mine:
            st = str(r.get("properties", {}).get("httpStatusCode", "?"))
            rec_status[st] = rec_status.get(st, 0) + 1
        # Compared per status class: a write's record commits with the write, before the
        # handler knows 200 from 201 (audit_rec.c success_status predicts it), so within 2xx
        # the exact codes may differ - listed, not failed (a known defect, issue 11 notes).
        def by_class(m):
            c = {}
            for st, n in m.items():
                c[st[:1] + "xx"] = c.get(st[:1] + "xx", 0) + n
            return c
        rc_, bc_ = by_class(rec_status), by_class(by_status)
        diff = ", ".join("%s: %d records / %d answers" % (s, rc_.get(s, 0), bc_.get(s, 0))
                         for s in sorted(set(rc_) | set(bc_)) if rc_.get(s, 0) != bc_.get(s, 0))
        within = ", ".join("%s: %d/%d" % (s, rec_status.get(s, 0), by_status.get(s, 0))
                           for s in sorted(set(rec_status) | set(by_status))
                           if rec_status.get(s, 0) != by_status.get(s, 0))
        if werr or retention:
            why = "%d audit write errors" % werr if werr else "retention removed files"
            out(len(mine) <= nreq, "%d audit records for %d answered requests (%s: at most)"
                % (len(mine), nreq, why))
        else:
            out(len(mine) == nreq and not diff, "one audit record per answered request (%d records,"
                " %d requests)%s" % (len(mine), nreq, ": " + diff if diff else
                                     " [exact 2xx codes records/answers: %s]" % within if within else ""))
    elif have_audit:
        out(True, "no /metrics scrape (listener off): %d records not counted" % len(mine))
    # ---- names
    if have_audit:
        known = route_names(a.routes) | REFERENCE
        bad = {}
        for r, _ in mine:
            op = r.get("operationName")
            st = r.get("properties", {}).get("httpStatusCode")
            okname = isinstance(op, str) and op and (op in known or not known)
            if op == "Unknown" and st in (400, 404, 405):
                okname = True
            if not okname:
                k = "%s/%s" % (op, st)
                bad[k] = bad.get(k, 0) + 1
        out(not bad, "every record's operationName is known (%d records)%s" % (
            len(mine), "" if not bad else ": " + ", ".join("%s x%d" % kv for kv in sorted(bad.items())[:8])))
    # ---- leaks
    sources = []
    try:
        sources.append(("log", open(a.log, "rb").read()))
    except OSError:
        pass
    if have_audit:
        sources.append(("audit records", b"\n".join(raw for _, raw in recs)))
        sources.append(("audit headers/checkpoints", b"\n".join(other)))
    if a.metrics and os.path.exists(a.metrics):
        sources.append(("metrics", open(a.metrics, "rb").read()))
    needles = []
    cs = os.environ.get("CHECK_CLIENT_SECRET", "")
    if len(cs) >= 10:
        needles.append(("the client secret", cs.encode()))
    if a.values and os.path.exists(a.values):
        vals = {v.rstrip("\n") for v in open(a.values, encoding="utf-8", errors="replace")}
        needles += [("a secret value the suite sent", v.encode()) for v in sorted(vals) if len(v) >= 10]
    leaks = []
    for where, blob in sources:
        if JWT.search(blob):
            leaks.append("a JWT in the %s" % where)
        for kind, n in needles:
            if n in blob:
                leaks.append("%s in the %s" % (kind, where))
    leaks = sorted(set(leaks))
    out(not leaks, "no token, client secret or secret value (%d checked) in the log, audit files"
        " or metrics%s" % (len(needles), "" if not leaks else ": " + "; ".join(leaks)))
    print("\n".join(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
