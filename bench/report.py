#!/usr/bin/env python3
"""report.py - turns a bench run's raw measurements into results (used by bench/run.sh).

    report.py RAW.jsonl META.json OUTDIR

RAW has one JSON object per measurement: op, target, mode, conns, round, rps, p50_ms, p99_ms,
p999_ms, non2xx, errors (see bench/lib.sh `record`). Writes OUTDIR/<stamp>.json (machine, knobs,
every raw figure, the medians and ratios), OUTDIR/<stamp>.md (tables with ratios against the
baselines) and gnuplot PNG charts: <stamp>-throughput.png (GET req/s vs connections, Coffer and
nginx), <stamp>-sweep-latency.png (p50/p99 vs connections) and <stamp>-latency.png
(p50/p99/p99.9 per operation). Medians are taken per measure over its rounds."""
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys

PCTS = ("p50_ms", "p75_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")

# (op, mode, target, baseline (target, mode) or None, label, bar): the main table, in order.
MEASURES = [
    ("get", "keepalive", "coffer", ("nginx", "keepalive"), "GET secret, keep-alive", 0.60),
    ("list", "keepalive", "coffer", ("nginx", "keepalive"), "list secrets (maxresults=25), keep-alive", None),
    ("set", "keepalive", "coffer", ("sqlite-1-per-commit", "local"), "SET secret (durable), keep-alive", 2.0),
    ("token", "keepalive", "coffer", ("crypto-floor", "cpu"), "token issuance (client_credentials)", None),
    ("get", "during-token-issuance", "coffer", ("coffer", "keepalive"),
     "GET secret, keep-alive, while tokens are issued", None),
    ("get", "newconn", "coffer", ("nginx", "newconn"), "GET secret, new TLS connection per request", None),
    ("set", "newconn", "coffer", None, "SET secret, new TLS connection per request", None),
    ("sign", "rsa2048", "coffer", ("openssl-speed", "rsa2048"), "key sign RSA-2048 (RS256), keep-alive", 0.7),
    ("sign", "es256", "coffer", ("openssl-speed", "es256"), "key sign EC P-256 (ES256), keep-alive", None),
    ("sign", "rsa2048", "coffer-softhsm2", ("openssl-speed", "rsa2048"),
     "key sign RSA-HSM 2048 (RS256) in SoftHSM2, keep-alive", None),
    ("sign", "es256", "coffer-softhsm2", ("openssl-speed", "es256"),
     "key sign EC-HSM P-256 (ES256) in SoftHSM2, keep-alive", None),
    ("certcreate", "rsa", "coffer", ("openssl-req", "rsa"), "certificate create, self-signed RSA-2048", None),
    ("certcreate", "ec", "coffer", ("openssl-req", "ec"), "certificate create, self-signed EC P-256", None),
]
BASELINE_LABEL = {
    "nginx": "nginx, same body and TLS, bearer check",
    "sqlite-1-per-commit": "SQLite, one durable commit per write",
    "sqlite-64-per-commit": "SQLite, 64 writes per durable commit",
    "crypto-floor": "PBKDF2 check + ES256 sign on all cores",
    "coffer": "Coffer GET alone (same connections)",
    "openssl-speed": "`openssl speed` signatures/s on every core",
    "openssl-req": "`openssl req -x509 -newkey` runs/s on every core",
}


def median_of(rows, key):
    vals = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None


def summarize(rows):
    s = {"rounds": len(rows), "rps": median_of(rows, "rps"),
         "rps_rounds": [r.get("rps", 0) for r in rows],
         "non2xx": sum(r.get("non2xx", 0) for r in rows),
         "errors": sum(r.get("errors", 0) for r in rows),
         "failed_rounds": sum(1 for r in rows if r.get("failed"))}
    for p in PCTS:
        m = median_of(rows, p)
        if m is not None:
            s[p] = m
    return s


def busy(m):
    """True when the load average at either end exceeded the core count by more than one."""
    try:
        return max(float(m["loadavg_at_start"][0]), float(m["loadavg_at_end"][0])) > m["cores"] + 1
    except (KeyError, ValueError, IndexError):
        return False


def fmt_rps(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_ms(v):
    if v is None:
        return ""
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def main():
    raw_path, meta_path, outdir = sys.argv[1:4]
    raw = [json.loads(line) for line in open(raw_path) if line.strip()]
    meta = json.load(open(meta_path))
    groups = {}
    for r in raw:
        groups.setdefault((r["op"], r["mode"], r["target"], r["conns"]), []).append(r)
    summary = {f"{op}/{mode}/{target}/{conns}": summarize(rows)
               for (op, mode, target, conns), rows in groups.items()}

    def find(op, mode, target):
        for (o, m, t, c), rows in groups.items():
            if o == op and m == mode and t == target:
                return summary[f"{o}/{m}/{t}/{c}"], c
        return None, None

    ratios = {}
    table = []
    for op, mode, target, base, label, bar in MEASURES:
        s, conns = find(op, mode, target)
        if s is None:
            continue
        b, bconns = find(op, base[1], base[0]) if base else (None, None)
        ratio = s["rps"] / b["rps"] if b and b.get("rps") else None
        key = f"{op}_{mode}_vs_{base[0]}_{base[1]}" if base else None
        if key and target != "coffer":
            key = f"{op}_{mode}_{target}_vs_{base[0]}_{base[1]}"
        if key and ratio is not None:
            ratios[key] = ratio
        table.append((label, op, mode, conns, s, base, bconns, b, ratio, bar))
    sg, _ = find("get", "keepalive", "coffer")
    ss, _ = find("set", "keepalive", "coffer")
    if sg and ss and sg["rps"]:
        ratios["set_keepalive_vs_coffer_get"] = ss["rps"] / sg["rps"]
    sgn, _ = find("get", "newconn", "coffer")
    ssn, _ = find("set", "newconn", "coffer")
    if sgn and ssn and sgn["rps"]:
        ratios["set_newconn_vs_coffer_get_newconn"] = ssn["rps"] / sgn["rps"]

    sweep = []
    for c in sorted({k[3] for k in groups if k[1] == "sweep"}):
        co = summary.get(f"get/sweep/coffer/{c}")
        ng = summary.get(f"get/sweep/nginx/{c}")
        if not co or not ng:
            continue
        sweep.append({"conns": c, "coffer_rps": co["rps"], "nginx_rps": ng["rps"],
                      "ratio": co["rps"] / ng["rps"] if ng["rps"] else None,
                      "coffer_p50_ms": co.get("p50_ms"), "coffer_p99_ms": co.get("p99_ms"),
                      "coffer_p999_ms": co.get("p999_ms"), "nginx_p50_ms": ng.get("p50_ms"),
                      "nginx_p99_ms": ng.get("p99_ms"), "nginx_p999_ms": ng.get("p999_ms")})

    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H%M%SZ")
    os.makedirs(outdir, exist_ok=True)
    base = os.path.join(outdir, stamp)
    m = meta["machine"]
    k = meta["knobs"]
    rounds = k["ROUNDS"]

    # ---- Markdown ----
    md = [f"# Coffer bench {m['date']}", "",
          f"Machine: {m['cpu_model']} ({m['cpu_mhz']} MHz), {m['cores']} cores, "
          f"{m['mem_total_mib']} MiB, {m['os']}, kernel {m['kernel']}; load average at start "
          f"{' '.join(m['loadavg_at_start'])}, at end {' '.join(m.get('loadavg_at_end', []))}"
          + (f" (BUSY MACHINE: other work ran beside the bench - {', '.join(m.get('busiest_other_processes_at_end', []))}; "
             "ratios of alternating rounds are the figures to trust)" if busy(m) else "") + ".",
          f"Software: coffer {m['coffer_commit']}, {m['wrk']}, {m['nginx']}, {m['openssl']}, "
          f"SQLite {m['sqlite']}. Load generators run on the same cores as the servers.",
          f"Method: {rounds} alternating rounds of {k['DUR']} s per measure (each beside its "
          f"baseline); figures are medians over the rounds. Keep-alive: wrk, {k['WRK_THREADS']} "
          f"threads. New connection per request: bench/tls_load.c (full TLS 1.3 handshake, no "
          f"resumption, certificate {'verified' if k.get('NEWCONN_VERIFY') else 'not verified (client CPU)'}). "
          f"Run took {meta['elapsed_s']} s.", "",
          "| measure | conns | Coffer req/s | p50 ms | p99 ms | p99.9 ms | baseline | baseline req/s "
          "| baseline p50 / p99 / p99.9 ms | ratio | bar |",
          "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for label, op, mode, conns, s, bname, bconns, b, ratio, bar in table:
        bl = BASELINE_LABEL.get(bname[0], "-") if bname else "-"
        blat = (f"{fmt_ms(b.get('p50_ms'))} / {fmt_ms(b.get('p99_ms'))} / {fmt_ms(b.get('p999_ms'))}"
                if b and "p50_ms" in b else "")
        rt = f"**{ratio:.2f}**" if ratio is not None else ""
        barf = (f"≥ {bar:.2f} " + ("ok" if ratio is not None and ratio >= bar else "SHORT")) if bar else ""
        md.append(f"| {label} | {conns} | {fmt_rps(s['rps'])} | {fmt_ms(s.get('p50_ms'))} | "
                  f"{fmt_ms(s.get('p99_ms'))} | {fmt_ms(s.get('p999_ms'))} | {bl} | "
                  f"{fmt_rps(b['rps']) if b else '-'} | {blat} | {rt} | {barf} |")
    s64, _ = find("set", "local", "sqlite-64-per-commit")
    md.append("")
    extra = []
    if "set_keepalive_vs_coffer_get" in ratios:
        extra.append(f"- SET / Coffer's own GET (keep-alive): **{ratios['set_keepalive_vs_coffer_get']:.2f}** (bar ≥ 0.40 "
                     f"{'ok' if ratios['set_keepalive_vs_coffer_get'] >= 0.4 else 'SHORT'})")
    if s64:
        extra.append(f"- SQLite 64 writes per durable commit (reference): {fmt_rps(s64['rps'])} writes/s")
    if "set_newconn_vs_coffer_get_newconn" in ratios:
        extra.append(f"- SET / GET with a new connection per request: **{ratios['set_newconn_vs_coffer_get_newconn']:.2f}**")
    mixr = [r for r in raw if r.get("mode") == "during-token-issuance"]
    if mixr:
        extra.append(f"- GET while tokens are issued: {mixr[0].get('token_conns')} connections asked for tokens "
                     f"(median {statistics.median(r.get('token_rps', 0) for r in mixr):.0f} tokens/s) during the GET run")
    def paired(op, mode_a, target_a, mode_b, target_b):
        """Median over rounds of a_r / b_r (the two measured next to each other), or None."""
        rows_a = {r.get("round"): r["rps"] for r in raw
                  if r.get("op") == op and r.get("mode") == mode_a and r.get("target") == target_a}
        rows_b = {r.get("round"): r["rps"] for r in raw
                  if r.get("op") == op and r.get("mode") == mode_b and r.get("target") == target_b}
        rs = [rows_a[k] / rows_b[k] for k in rows_a if k in rows_b and rows_b[k]]
        return statistics.median(rs) if rs else None

    for op, bar in (("get", 0.10), ("set", 0.20)):
        on, _ = find(op, "audit-on", "coffer")
        off, _ = find(op, "audit-off", "coffer-audit-off")
        pr = paired(op, "audit-on", "coffer", "audit-off", "coffer-audit-off")
        if on and off and off["rps"] and pr:
            # the median of the rounds' own ratios: each pair ran back to back (order
            # alternating), so a drift of the machine over the run cancels within a pair
            cost = 1 - pr
            ratios[f"{op}_audit_cost"] = cost
            extra.append(f"- {op.upper()} with the audit log {fmt_rps(on['rps'])}/s, with --audit off "
                         f"{fmt_rps(off['rps'])}/s (medians; {len([r for r in raw if r.get('op') == op and r.get('mode') == 'audit-on'])} "
                         f"pairs in alternating order): the audit log costs, median of the pairs' ratios, "
                         f"**{cost * 100:.0f} %** (bar ≤ {bar * 100:.0f} % {'ok' if cost <= bar else 'SHORT'})")
    wa, _ = find("get", "keepalive-with-assignments", "coffer")
    wn, _ = find("get", "keepalive-with-assignments", "nginx")
    g0, _ = find("get", "keepalive-before-assignments", "coffer")
    n0, _ = find("get", "keepalive-before-assignments", "nginx")
    if not g0:  # results of an older bench.sh: the baseline of the first rounds
        g0, _ = find("get", "keepalive", "coffer")
        n0, _ = find("get", "keepalive", "nginx")
    if wa and wn and g0 and n0 and wn["rps"] and n0["rps"] and g0["rps"]:
        pa = paired("get", "keepalive-with-assignments", "coffer", "keepalive-with-assignments", "nginx")
        pb = paired("get", "keepalive-before-assignments", "coffer", "keepalive-before-assignments", "nginx")
        ra = pa / pb if pa and pb else (wa["rps"] / wn["rps"]) / (g0["rps"] / n0["rps"])
        ratios["get_with_assignments_vs_without"] = ra
        nasg = next((r.get("assignments") for r in raw if r.get("mode") == "keepalive-with-assignments"), "?")
        extra.append(f"- GET with {nasg} role assignments in the server: {fmt_rps(wa['rps'])}/s "
                     f"(nginx in the same rounds {fmt_rps(wn['rps'])}/s); against GET without them, both "
                     f"relative to nginx: **{ra:.2f}** (bar ≥ 0.95 {'ok' if ra >= 0.95 else 'SHORT'})")
    cf, _ = find("token", "cpu", "crypto-floor")
    if cf:
        r0 = next(r for r in raw if r["target"] == "crypto-floor")
        extra.append(f"- Token crypto floor: PBKDF2-HMAC-SHA256 × {r0.get('pbkdf2_iterations')} iterations "
                     f"{r0['pbkdf2_per_s_one_core']:.0f}/s and ES256 sign {r0['es256_sign_per_s_one_core']:,.0f}/s "
                     f"per core → {cf['rps']:.0f}/s on {r0['cores']} cores (load generator and TLS not included)")
    bad = [(key, s) for key, s in summary.items() if s["non2xx"] or s["errors"] or s["failed_rounds"]]
    for key, s in bad:
        extra.append(f"- WARNING {key}: non-2xx {s['non2xx']}, socket errors {s['errors']}, failed rounds {s['failed_rounds']}")
    if not meta.get("cofferd_alive_at_end", True):
        extra.append("- WARNING: cofferd died during the run")
    extra.append(f"- cofferd VmRSS at the end of the run: {meta.get('cofferd_vmrss_kib_at_end', 0) / 1024:.0f} MiB; "
                 f"bodies: GET {meta['bodies']['get_bytes']} B, list page {meta['bodies']['list_bytes']} B")
    md += extra
    if sweep:
        md += ["", f"## GET throughput vs connections (keep-alive, {k['SWEEP_DUR']} s × {k['SWEEP_ROUNDS']} alternating rounds, medians)", "",
               "| conns | Coffer req/s | nginx req/s | ratio | Coffer p50 / p99 / p99.9 ms | nginx p50 / p99 / p99.9 ms |",
               "|---:|---:|---:|---:|---:|---:|"]
        for w in sweep:
            md.append(f"| {w['conns']} | {fmt_rps(w['coffer_rps'])} | {fmt_rps(w['nginx_rps'])} | "
                      f"{w['ratio']:.2f} | {fmt_ms(w['coffer_p50_ms'])} / {fmt_ms(w['coffer_p99_ms'])} / {fmt_ms(w['coffer_p999_ms'])} | "
                      f"{fmt_ms(w['nginx_p50_ms'])} / {fmt_ms(w['nginx_p99_ms'])} / {fmt_ms(w['nginx_p999_ms'])} |")
    md += ["", "## Per-round req/s", "", "| measure | rounds |", "|---|---|"]
    for key in sorted(summary):
        md.append(f"| {key} | {', '.join(fmt_rps(v) for v in summary[key]['rps_rounds'])} |")

    # ---- charts ----
    charts = {}
    if shutil.which("gnuplot"):
        charts = plot(base, stamp, table, sweep)
        if charts:
            md += ["", "## Charts", ""] + [f"![{n}]({os.path.basename(p)})" for n, p in charts.items()]
    open(base + ".md", "w").write("\n".join(md) + "\n")

    res = {"stamp": stamp, **meta, "summary": summary, "ratios": ratios, "sweep": sweep,
           "bars": {"get_keepalive_vs_nginx_keepalive": 0.60, "set_keepalive_vs_sqlite-1-per-commit_local": 2.0,
                    "set_keepalive_vs_coffer_get": 0.40},
           "charts": {n: os.path.basename(p) for n, p in charts.items()}, "raw": raw}
    with open(base + ".json", "w") as f:
        json.dump(res, f, indent=2)
    print("\n".join(md))
    print(f"\nbench: results in {base}.json, {base}.md" + "".join(f", {p}" for p in charts.values()))


def plot(base, stamp, table, sweep):
    charts = {}
    tmp = base + ".gp.tmp"
    try:
        if sweep:
            xr = f"set xrange [{min(w['conns'] for w in sweep) / 1.4}:{max(w['conns'] for w in sweep) * 1.4}]"
            with open(tmp, "w") as f:
                for w in sweep:
                    f.write(f"{w['conns']} {w['coffer_rps']} {w['nginx_rps']} {w['ratio']} "
                            f"{w['coffer_p50_ms']} {w['coffer_p99_ms']} {w['nginx_p50_ms']} {w['nginx_p99_ms']} "
                            f"{w['coffer_p999_ms']} {w['nginx_p999_ms']}\n")
            out = base + "-throughput.png"
            gp(f"""set terminal pngcairo size 900,540 font 'sans,10'
set output '{out}'
set title 'GET secret over TLS keep-alive: throughput vs connections ({stamp})'
set xlabel 'connections'; set ylabel 'requests/s'; set y2label 'Coffer / nginx'
set logscale x 2; set xtics (8,16,32,64,128,256,512,1024); {xr}
set yrange [0:*]; set y2range [0:1.5]; set y2tics 0.25; set ytics nomirror
set grid; set key bottom right
plot '{tmp}' using 1:2 with linespoints lw 2 pt 7 title 'Coffer', \
     '' using 1:3 with linespoints lw 2 pt 5 title 'nginx baseline', \
     '' using 1:4 axes x1y2 with linespoints dt 2 lw 1 pt 1 title 'ratio (right axis)', \
     0.6 axes x1y2 with lines dt 3 lc 'gray' title 'bar 0.60'
""")
            charts["GET throughput vs connections"] = out
            out = base + "-sweep-latency.png"
            gp(f"""set terminal pngcairo size 900,540 font 'sans,10'
set output '{out}'
set title 'GET secret over TLS keep-alive: latency vs connections ({stamp})'
set xlabel 'connections'; set ylabel 'latency, ms (log)'
set logscale x 2; set logscale y; set xtics (8,16,32,64,128,256,512,1024); {xr}
set grid; set key top left
plot '{tmp}' using 1:5 with linespoints lw 2 pt 7 lc 1 title 'Coffer p50', \
     '' using 1:6 with linespoints lw 2 pt 7 dt 2 lc 1 title 'Coffer p99', \
     '' using 1:9 with linespoints lw 1 pt 6 dt 3 lc 1 title 'Coffer p99.9', \
     '' using 1:7 with linespoints lw 2 pt 5 lc 2 title 'nginx p50', \
     '' using 1:8 with linespoints lw 2 pt 5 dt 2 lc 2 title 'nginx p99', \
     '' using 1:10 with linespoints lw 1 pt 4 dt 3 lc 2 title 'nginx p99.9'
""")
            charts["GET latency vs connections"] = out
        rows = []
        short = {"nginx": "nginx", "crypto-floor": None, "sqlite-1-per-commit": None}
        for label, op, mode, conns, s, bname, bconns, b, ratio, bar in table:
            tag = f"{op.upper()} " + {"keepalive": "keep-alive", "newconn": "new conn",
                                      "during-token-issuance": "+tokens"}.get(mode, mode)
            if "p50_ms" in s:
                rows.append((f"{tag}\\nCoffer ({conns} c)", s))
            if b and bname and short.get(bname[0]) and "p50_ms" in b:
                rows.append((f"{tag}\\n{short[bname[0]]} ({bconns} c)", b))
        if rows:
            with open(tmp, "w") as f:
                for name, s in rows:
                    f.write(f"\"{name}\" {s['p50_ms']} {s['p99_ms']} {s['p999_ms']}\n")
            out = base + "-latency.png"
            gp(f"""set terminal pngcairo size 1100,560 font 'sans,9'
set output '{out}'
set title 'Latency percentiles per operation, medians of rounds ({stamp})'
set ylabel 'ms (log scale)'; set logscale y; set yrange [0.05:*]
set style data histogram; set style histogram clustered gap 1
set style fill solid 0.85 border -1; set boxwidth 0.9
set grid ytics; set key top left; set xtics scale 0 font 'sans,8'; set bmargin 5
plot '{tmp}' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'
""")
            charts["latency percentiles per operation"] = out
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return charts


def gp(script):
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        print("report: gnuplot failed: " + r.stderr.strip(), file=sys.stderr)


if __name__ == "__main__":
    main()
