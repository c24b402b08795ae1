"""throttle.py - service limits on loopback, IPv4 and IPv6 (issue 10, "Tests").

    /usr/bin/python3 throttle.py ENV LIMIT VAULT4 VAULT6

The server runs with --throttle on --throttle-secret-create LIMIT (per vault per 10 s; a
principal's budget is 5x that). For each address family, on its own vault (own bucket):
LIMIT secret sets pass, the next one is 429 Throttled with Retry-After (whole seconds, >= 1)
and azure-kv-security-ops.md §6.3's body; other operations (get, list: another class) still
pass while sets are throttled; after waiting Retry-After seconds a set passes again.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from azlib import API, Results, Srv  # noqa: E402


def run(s, res, addr, vault, limit):
    fam = "IPv6" if ":" in addr else "IPv4"
    v = s.vault(vault, addr)
    tok = s.admin_data
    codes = []
    for i in range(limit):
        r = v.request("PUT", "/secrets/t%d?%s" % (i, API), {"value": "x"}, tok)
        codes.append(r.status)
    res.eq("%s (%s): the first %d secret sets pass" % (fam, addr, limit), [200] * limit, codes)
    sock = v.c.sock if v.c else None
    res.eq("%s: the connection really is %s loopback" % (fam, fam),
           addr, sock.getpeername()[0] if sock else None)
    info = r.header("x-ms-keyvault-network-info") or ""
    if "addr=" in info:
        res.rec(("addr=%s;" % addr) in info, "%s: the server saw the client as %s (%s)" %
                (fam, addr, info))
    r = v.request("PUT", "/secrets/t-over?" + API, {"value": "x"}, tok)
    ra = r.header("Retry-After")
    code, _, msg = r.err()
    res.rec(r.status == 429 and code == "Throttled" and "VaultRequestTypeLimitReached" in msg,
            "%s: set number %d is 429 Throttled (VaultRequestTypeLimitReached)" % (fam, limit + 1),
            "HTTP %d %s" % (r.status, code))
    res.rec(ra is not None and ra.isdigit() and 1 <= int(ra) <= 10,
            "%s: the 429 carries Retry-After in whole seconds (%s)" % (fam, ra))
    wait = int(ra) if ra and ra.isdigit() else 2
    # other operation classes are not throttled meanwhile
    g = v.request("GET", "/secrets/t0?" + API, None, tok)
    lst = v.request("GET", "/secrets?" + API, None, tok)
    res.eq("%s: get and list still pass while sets are throttled" % fam, (200, 200),
           (g.status, lst.status))
    r = v.request("PUT", "/secrets/t-over?" + API, {"value": "x"}, tok)
    res.eq("%s: still 429 before Retry-After has passed" % fam, 429, r.status)
    time.sleep(wait)
    r = v.request("PUT", "/secrets/t-over?" + API, {"value": "x"}, tok)
    res.eq("%s: after waiting Retry-After (%d s) the set passes" % (fam, wait), 200, r.status)


def main():
    envfile, limit, v4, v6 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    res = Results()
    s = Srv(envfile)
    for name in (v4, v6):
        s.put_vault(name, rbac=True)
    run(s, res, "127.0.0.1", v4, limit)
    run(s, res, "::1", v6, limit)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
