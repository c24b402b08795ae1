#!/usr/bin/env python3
"""scale_report.py - results of bench/scale.sh.

    scale_report.py RAW.jsonl META.json OUTDIR [STAMP]

Writes OUTDIR/<stamp>-scale.json (machine, knobs, every raw figure, derived figures),
OUTDIR/<stamp>-scale.md (tables) and OUTDIR/<stamp>-scale.png (GET and first-page list latency
vs secrets in the vault, gnuplot)."""
import datetime
import json
import os
import shutil
import subprocess
import sys


def ms(v):
    if v is None:
        return ""
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def rps(v):
    return "-" if v is None else f"{v:,.0f}"


def main():
    raw_path, meta_path, outdir = sys.argv[1:4]
    raw = [json.loads(line) for line in open(raw_path) if line.strip()]
    meta = json.load(open(meta_path))
    m, k = meta["machine"], meta["knobs"]
    stamp = sys.argv[4] if len(sys.argv) > 4 else \
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    os.makedirs(outdir, exist_ok=True)
    base = os.path.join(outdir, stamp + "-scale")

    def rows(phase, **kw):
        return [r for r in raw if r.get("phase") == phase and all(r.get(a) == b for a, b in kw.items())]

    def one(phase, **kw):
        r = rows(phase, **kw)
        return r[0] if r else None

    derived = {}
    g = meta.get("rss_growth", {})
    if g.get("to_secrets", 0) > g.get("from_secrets", 0):
        derived["vmrss_mib_per_million_secrets"] = (
            (g["to_kib"] - g["from_kib"]) / 1024 / ((g["to_secrets"] - g["from_secrets"]) / 1e6))
        derived["rss_growth_measured_over"] = f"{g['from_secrets']} -> {g['to_secrets']} secrets"
        derived["vmrss_mib_per_million_secrets_from_start"] = (
            (g["to_kib"] - meta["vmrss_kib_at_start"]) / 1024 / (g["to_secrets"] / 1e6))

    md = [f"# Coffer bench-scale {m['date']}", "",
          f"Machine: {m['cpu_model']} ({m['cpu_mhz']} MHz), {m['cores']} cores, {m['mem_total_mib']} MiB, "
          f"{m['os']}, kernel {m['kernel']}; load average at start {' '.join(m['loadavg_at_start'])}, at end "
          f"{' '.join(m.get('loadavg_at_end', []))}; busiest processes at the end: "
          f"{', '.join(m.get('busiest_other_processes_at_end', []))}.",
          f"Software: coffer {m['coffer_commit']}, {m['wrk']}, {m['openssl']}, SQLite {m['sqlite']}. "
          f"One cofferd --dev, default configuration; data written through the API (keep-alive PUTs, "
          f"{k['LOAD_CONNS']} connections). Each measure {k['SCALE_DUR']} s, one run (not alternated). "
          f"Run took {meta['elapsed_s']} s (limit {k['SCALE_MAX_S']} s).", ""]

    # growth
    steps = sorted({r["secrets"] for r in rows("growth")})
    md += ["## Secrets in one vault", "",
           "| secrets | load writes/s | GET random req/s | p50 / p99 / p99.9 ms | GET hot req/s | p50 / p99 / p99.9 ms "
           "| list page 1, 1 conn: p50 / p99 / p99.9 ms | list page 1 req/s (64 c) | VmRSS MiB | DB MiB |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    chart = []
    for n in steps:
        ld = one("growth", secrets=n, op="load")
        if ld and ld.get("skipped"):
            md.append(f"| {n:,} | skipped: did not fit in the time limit ({ld.get('left_s')} s left) | | | | | | | | |")
            continue
        gr = one("growth", secrets=n, op="get_random") or {}
        gh = one("growth", secrets=n, op="get_hot") or {}
        l1 = one("growth", secrets=n, op="list_first_page", conns=1) or {}
        lc = [r for r in rows("growth", secrets=n, op="list_first_page") if r.get("conns") != 1]
        lc = lc[0] if lc else {}
        mem = one("growth", secrets=n, op="memory") or {}
        md.append(f"| {n:,} | {rps(ld.get('rps') if ld else None)} | {rps(gr.get('rps'))} | "
                  f"{ms(gr.get('p50_ms'))} / {ms(gr.get('p99_ms'))} / {ms(gr.get('p999_ms'))} | {rps(gh.get('rps'))} | "
                  f"{ms(gh.get('p50_ms'))} / {ms(gh.get('p99_ms'))} / {ms(gh.get('p999_ms'))} | "
                  f"{ms(l1.get('p50_ms'))} / {ms(l1.get('p99_ms'))} / {ms(l1.get('p999_ms'))} | {rps(lc.get('rps'))} | "
                  f"{mem.get('vmrss_kib', 0) / 1024:.0f} | {mem.get('db_mib', '')} |")
        if gr.get("p50_ms") is not None and l1.get("p50_ms") is not None:
            chart.append((n, gr["p50_ms"], gr["p99_ms"], l1["p50_ms"], l1["p99_ms"]))
    if "vmrss_mib_per_million_secrets" in derived:
        md += ["", f"VmRSS growth: **{derived['vmrss_mib_per_million_secrets']:.0f} MiB per million secrets** "
                   f"over the last step ({derived['rss_growth_measured_over']}, after loading and random reads); "
                   f"{derived['vmrss_mib_per_million_secrets_from_start']:.0f} MiB per million measured from the empty "
                   f"server (caches are bounded, so this falls as the vault grows). "
                   f"VmRSS at start {meta['vmrss_kib_at_start'] / 1024:.0f} MiB, at end {meta['vmrss_kib_at_end'] / 1024:.0f} MiB; "
                   f"database at end {meta['db_mib_at_end']} MiB."]

    def line(label, r):
        if not r:
            return []
        if r.get("skipped"):
            return [f"| {label} | skipped (time limit) | | |"]
        return [f"| {label} | {rps(r.get('rps'))} | {ms(r.get('p50_ms'))} / {ms(r.get('p99_ms'))} / {ms(r.get('p999_ms'))} | "
                f"{r.get('conns', '')} |"]

    hdr = ["| measure | req/s | p50 / p99 / p99.9 ms | conns |", "|---|---:|---:|---:|"]
    v = rows("versions")
    if v:
        md += ["", f"## One secret with {k['VERSIONS']:,} versions", ""] + hdr
        for r in v:
            md += line(r["op"].replace("_", " "), r)
    v = rows("vaults")
    if v:
        md += ["", f"## {k['VAULTS']:,} vaults", ""] + hdr
        for r in v:
            if r["op"] == "mgmt_list_page_len":
                continue
            md += line(r["op"].replace("_", " "), r)
        pl = one("vaults", op="mgmt_list_page_len")
        if pl:
            md.append(f"\nThe management list's first page held {pl['page_len']} vaults.")
    v = rows("deleted")
    if v:
        md += ["", f"## First page of the list with and without {k['DELETED']:,} soft-deleted secrets "
                   "(1,000 live; deleted names sort first)", "",
               "| measure | live | deleted | req/s | p50 / p99 / p99.9 ms | conns |", "|---|---:|---:|---:|---:|---:|"]
        for r in v:
            if r.get("skipped"):
                md.append("| skipped (time limit) | | | | | |")
                continue
            md.append(f"| {r['op'].replace('_', ' ')} | {r.get('live', '')} | {r.get('deleted', '')} | {rps(r.get('rps'))} | "
                      f"{ms(r.get('p50_ms'))} / {ms(r.get('p99_ms'))} / {ms(r.get('p999_ms'))} | {r.get('conns', '')} |")
    bad = [r for r in raw if r.get("non2xx") or r.get("errors")]
    for r in bad:
        md.append(f"\nWARNING {r.get('phase')}/{r.get('op')}: non-2xx {r.get('non2xx')}, errors {r.get('errors')}")
    if not meta.get("cofferd_alive_at_end", True):
        md.append("\nWARNING: cofferd died during the run")

    png = None
    if chart and shutil.which("gnuplot"):
        tmp = base + ".gp.tmp"
        with open(tmp, "w") as f:
            for c in chart:
                f.write(" ".join(str(x) for x in c) + "\n")
        png = base + ".png"
        script = f"""set terminal pngcairo size 900,540 font 'sans,10'
set output '{png}'
set title 'Latency vs secrets in the vault ({stamp})'
set xlabel 'secrets in the vault (log)'; set ylabel 'ms (log)'
set logscale x; set logscale y; set grid; set key below
set xrange [{min(c[0] for c in chart) / 2}:{max(c[0] for c in chart) * 2}]
plot '{tmp}' using 1:2 with linespoints lw 2 pt 7 lc 1 title 'GET random secret p50 ({k["CONNS"]} conns)', \\
     '' using 1:3 with linespoints lw 2 pt 7 dt 2 lc 1 title 'GET random secret p99', \\
     '' using 1:4 with linespoints lw 2 pt 5 lc 2 title 'list first page p50 (1 conn)', \\
     '' using 1:5 with linespoints lw 2 pt 5 dt 2 lc 2 title 'list first page p99'
"""
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        os.remove(tmp)
        if r.returncode != 0:
            print("scale_report: gnuplot failed: " + r.stderr.strip(), file=sys.stderr)
            png = None
        else:
            md += ["", f"![latency vs secrets]({os.path.basename(png)})"]
    open(base + ".md", "w").write("\n".join(md) + "\n")
    with open(base + ".json", "w") as f:
        json.dump({"stamp": stamp, **meta, "derived": derived, "chart": os.path.basename(png) if png else None,
                   "raw": raw}, f, indent=2)
    print("\n".join(md))
    print(f"\nbench-scale: results in {base}.json, {base}.md" + (f", {png}" if png else ""))


if __name__ == "__main__":
    main()
