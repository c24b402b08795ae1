#!/usr/bin/env bash
# profile.sh - where a keep-alive GET (or SET) spends its CPU: a dev cofferd as bench/run.sh
# starts it (authorization and audit on), wrk with bench/get.lua (or set.lua) against it, and
# `perf record` on cofferd meanwhile. Prints the top symbols (self time, user space unless the
# kernel's are readable) and, with the request count wrk reports, CPU µs per request.
#
#   bench/profile.sh                 GET, 64 connections, 10 s
#   OP=set bench/profile.sh          SET
#   OP=rs256 bench/profile.sh        sign RS256 with an RSA-2048 software key (OP=es256: P-256)
#   MALLOCS=1 bench/profile.sh       also count malloc/calloc/realloc calls per request
#                                    (uprobes on libc; needs root)
#   MALLOCS=callers bench/profile.sh  only the allocation probes, with call graphs: who
#                                    allocates (folded stacks in $OUTDIR/mallocs.txt)
#   CALLGRAPH=1 bench/profile.sh     record call graphs (dwarf) for perf report --children
#
# Knobs: OP (get), CONNS (64), DUR (10), BUILD (build), TOP (40), KEEP (leave perf.data in
# $OUTDIR, default bench/results/tmp/profile-<stamp>), COFFERD_ARGS (e.g. '--audit off').
# The report ends with CPU µs per request for each cofferd thread (by thread name).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OP=${OP:-get}
CONNS=${CONNS:-64}
DUR=${DUR:-10}
TOP=${TOP:-40}
WRK_THREADS=${WRK_THREADS:-2}
OUTDIR=${OUTDIR:-bench/results/tmp/profile-$(date -u +%Y%m%dT%H%M%SZ)}
# shellcheck source=bench/lib.sh
source bench/lib.sh

command -v perf >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null; }
bench_deps
cmake -S . -B "$BUILD" -G Ninja >/dev/null && ninja -C "$BUILD" cofferd >/dev/null

mkdir -p "$OUTDIR"
TMP=$(mktemp -d)
RAW=$TMP/raw.jsonl
cleanup() {
    [ -n "${COFFERD_PID:-}" ] && kill "$COFFERD_PID" 2>/dev/null
    wait 2>/dev/null
    [ -n "${PROBES:-}" ] && perf probe -q -d 'probe_libc:*' 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
PORT=$((20000 + RANDOM % 20000))
# shellcheck disable=SC2086
start_cofferd "$TMP/data" "$PORT" ${COFFERD_ARGS:-}
SCOPE="https://vault.localhost:$PORT/.default"
TOKEN=$(get_token "$SCOPE")
export TOKEN
url="https://coffer.vault.localhost:$PORT"
curl -s --cacert "$COFFER_CA_FILE" -X PUT -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"value":"bench-value-0123456789abcdef0123456789abcdef"}' \
    "$url/secrets/bench?api-version=7.5" >/dev/null
if [ "$OP" = set ]; then
    script=bench/set.lua target=$url
elif [ "$OP" = rs256 ] || [ "$OP" = es256 ]; then
    kb='{"kty":"RSA","key_size":2048}' ALG=RS256
    [ "$OP" = es256 ] && kb='{"kty":"EC","crv":"P-256"}' ALG=ES256
    export ALG
    curl -s -o /dev/null --cacert "$COFFER_CA_FILE" -X POST -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' -d "$kb" "$url/keys/bench-$OP/create?api-version=7.5"
    script=bench/sign.lua target="$url/keys/bench-$OP/sign?api-version=7.5"
else
    script=bench/get.lua target="$url/secrets/bench?api-version=7.5"
fi
wrk -t1 -c8 -d2s -s "$script" "$target" >/dev/null 2>&1 || true # warm-up (token cache, buffers)

events=(-e cpu-clock)
if [ "${MALLOCS:-0}" != 0 ]; then
    libc=$(ldd "$BUILD/cofferd" | awk '/libc.so/ {print $3}')
    for f in malloc calloc realloc; do perf probe -q -x "$libc" "$f" 2>/dev/null || true; done
    PROBES=1
    events+=(-e 'probe_libc:*')
fi
cg=()
[ "${CALLGRAPH:-0}" = 1 ] && cg=(--call-graph dwarf,16384)
[ "${MALLOCS:-0}" = callers ] && events=(-e 'probe_libc:*') cg=(--call-graph dwarf,8192)
perf record -q "${events[@]}" "${cg[@]}" -p "$COFFERD_PID" -o "$OUTDIR/perf.data" -- sleep "$((DUR + 1))" 2>/dev/null &
perfpid=$!
sleep 0.5
wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$script" "$target" >"$OUTDIR/wrk.txt" 2>&1
wait "$perfpid" || true
res=$(awk '/^BENCH / {sub(/^BENCH /, ""); print}' "$OUTDIR/wrk.txt")
reqs=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
rps=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rps"])')
echo "profile: $OP, $CONNS connections, $DUR s: $reqs requests ($rps/s)"

perf report -i "$OUTDIR/perf.data" --no-children --sort dso,symbol --stdio -q --percent-limit 0.4 \
    2>/dev/null >"$OUTDIR/report.txt" || true
perf report -i "$OUTDIR/perf.data" --no-children --sort dso --stdio -q 2>/dev/null >"$OUTDIR/dso.txt" || true
# Samples of cpu-clock are 1 ms of one CPU each (default 4000 Hz: 250 µs): convert to µs/request.
python3 - "$OUTDIR/perf.data" "$reqs" "$TOP" <<'PY'
import subprocess, sys, collections
data, reqs, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = subprocess.run(["perf", "script", "-G", "-i", data, "-F", "period,event,ip,sym,dso"],
                     capture_output=True, text=True).stdout
cpu = collections.Counter(); dso = collections.Counter(); calls = collections.Counter()
total = 0
for line in out.splitlines():
    parts = line.split()  # PERIOD EVENT: IP SYM... (DSO)
    if len(parts) < 3:
        continue
    ev = parts[1].rstrip(":")
    if ev.startswith("probe_libc"):
        calls[ev.split(":")[1]] += 1
        continue
    if ev != "cpu-clock":
        continue
    period = int(parts[0])
    sym = " ".join(parts[3:-1]) or "?"
    d = parts[-1].strip("()").rsplit("/", 1)[-1]
    cpu[(d, sym)] += period; dso[d] += period; total += period
if not reqs or not total:
    print("profile: no samples"); sys.exit(0)
ns = lambda p: p / reqs / 1000.0  # cpu-clock period is in ns
print(f"cofferd CPU per request: {ns(total):.2f} µs (all threads, user + kernel)")
print("by object:")
for d, p in dso.most_common(12):
    print(f"  {ns(p):7.2f} µs  {100*p/total:5.1f}%  {d}")
print(f"top {top} symbols (self):")
for (d, s), p in cpu.most_common(top):
    print(f"  {ns(p):7.3f} µs  {100*p/total:5.1f}%  {s}  [{d}]")
if calls:
    print("allocations per request:")
    for f, n in calls.most_common():
        print(f"  {n/reqs:8.3f}  {f}")
# Per thread name (threads are named cf-writer, cf-http, ...): which thread bounds the rate.
out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,tid,period,event"],
                     capture_output=True, text=True).stdout
names = collections.Counter(); tids = collections.defaultdict(set)
for line in out.splitlines():
    parts = line.split()
    if len(parts) < 4 or parts[-1].rstrip(":") != "cpu-clock":
        continue
    names[parts[0]] += int(parts[2]); tids[parts[0]].add(parts[1])
print("by thread (CPU µs per request; threads of that name):")
for n, p in names.most_common():
    print(f"  {ns(p):7.2f} µs  {100*p/total:5.1f}%  {n} ({len(tids[n])})")
PY
if [ "${CALLGRAPH:-0}" = 1 ]; then
    # Inclusive time: every function on a sample's stack (once per sample), µs per request.
    perf script -i "$OUTDIR/perf.data" -F period,event,ip,sym 2>/dev/null | python3 -c '
import sys, collections
reqs, top = int(sys.argv[1]), int(sys.argv[2])
incl = collections.Counter(); cur = set(); period = 0
def flush():
    for s in cur: incl[s] += period
for line in sys.stdin:
    p = line.split()
    if not p:
        flush(); cur = set(); period = 0; continue
    if len(p) >= 2 and p[1].endswith(":") and p[0].isdigit():
        period = int(p[0]); continue
    if len(p) >= 2 and p[1] != "[unknown]":
        cur.add(p[1].split("+")[0])
flush()
print("inclusive (µs per request, all threads):")
for s, n in incl.most_common(top):
    print(f"  {n/reqs/1000:7.2f}  {s}")
' "$reqs" "${TOP_INCL:-120}" >"$OUTDIR/inclusive.txt"
    echo "profile: inclusive costs in $OUTDIR/inclusive.txt"
fi
if [ "${MALLOCS:-0}" = callers ]; then
    perf script -i "$OUTDIR/perf.data" -F event,ip,sym 2>/dev/null | python3 -c '
import sys, collections
stacks = collections.Counter(); cur = []
def flush():
    if cur: stacks[";".join(reversed(cur[:12]))] += 1
for line in sys.stdin:
    if not line.strip():
        flush(); cur = []; continue
    p = line.split()
    if p[0].startswith("probe_libc"):
        flush(); cur = [p[0].rstrip(":").split(":")[1]]
    elif len(p) >= 2:
        cur.append(p[1].split("+")[0])
flush()
reqs = int(sys.argv[1])
for s, n in stacks.most_common(60):
    print(f"{n/reqs:8.3f}  {s}")
' "$reqs" >"$OUTDIR/mallocs.txt"
    echo "profile: allocating stacks per request (top):"
    head -40 "$OUTDIR/mallocs.txt"
fi
echo "profile: perf data and reports in $OUTDIR"
