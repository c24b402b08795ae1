#!/usr/bin/env bash
# ab.sh - two cofferd builds side by side (before/after a change), each beside nginx, in
# alternating rounds on the same machine state: A, nginx, B, nginx, A, ... Prints per-round
# req/s and the medians, A/nginx, B/nginx and B/A. GET keep-alive (bench/get.lua) by default;
# OP=set also measures the durable SET (bench/set.lua) of each build in the same rounds, and
# the raw SQLite baseline (bench/sqlite_baseline.c: one durable commit per write) after them.
#
#   bench/ab.sh BIN_A BIN_B           e.g. /tmp/base/build/cofferd build/cofferd
#
# Also cofferd's own CPU time per request (user + system, from /proc/PID/stat around each run):
# on a busy machine req/s swings with the neighbours' load, CPU per request much less.
# Knobs: DUR (5), ROUNDS (5), CONNS (64), OP (get | set: GET and SET), WRK_THREADS (2),
# B_ASSIGNMENTS (0: N role assignments loaded into B's server first), A_ARGS / B_ARGS (extra
# cofferd options of A / B, e.g. B_ARGS='--audit off' with one binary: what the audit log costs).
# Both servers run in --dev mode like bench/run.sh (authorization and audit on).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bench/ab.sh BIN_A BIN_B" >&2; exit 2; }
BIN_A=$(realpath "$1")
BIN_B=$(realpath "$2")
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-64}
OP=${OP:-get}
WRK_THREADS=${WRK_THREADS:-2}
BUILD=unused
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_deps

TMP=$(mktemp -d)
RAW=$TMP/raw.jsonl
: >"$RAW"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# start NAME BIN PORT: a dev server, its token and a secret to read.
start() {
    local name=$1 bin=$2 port=$3 dir=$TMP/$1 tok
    local -a extra
    read -r -a extra <<<"$4"
    mkdir -p "$dir"
    "$bin" --dev --data-dir "$dir/data" --port "$port" --log-level warn "${extra[@]}" >"$dir/out" 2>&1 &
    PIDS+=($!)
    echo $! >"$dir/pid"
    for _ in $(seq 1 300); do [ -f "$dir/data/env" ] && break; sleep 0.1; done
    [ -f "$dir/data/env" ] || { echo "ab: $name did not start" >&2; cat "$dir/out" >&2; exit 1; }
    # shellcheck disable=SC1091
    (source "$dir/data/env" && export AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET COFFER_CA_FILE AZURE_AUTHORITY_HOST &&
        get_token "https://vault.localhost:$port/.default") >"$dir/token"
    tok=$(cat "$dir/token")
    curl -sk -X PUT -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        -d '{"value":"bench-value-0123456789abcdef0123456789abcdef"}' \
        "https://coffer.vault.localhost:$port/secrets/bench?api-version=7.5" >/dev/null
    curl -sk -H "Authorization: Bearer $tok" \
        "https://coffer.vault.localhost:$port/secrets/bench?api-version=7.5" >"$dir/body.json"
}
PA=$((20000 + RANDOM % 20000))
PB=$((PA + 1))
NPORT=$((PA + 2))
start a "$BIN_A" "$PA" "${A_ARGS:-}"
start b "$BIN_B" "$PB" "${B_ARGS:-}"
# B_ASSIGNMENTS=N: B's server also holds N role assignments (for other principals, on its dev
# vault) - with the same binary for A and B this measures what the assignments cost a GET.
if [ "${B_ASSIGNMENTS:-0}" -gt 0 ]; then
    cc -O2 -std=c17 -D_GNU_SOURCE -o "$TMP/tls_load" bench/tls_load.c -lssl -lcrypto -lpthread
    (
        # shellcheck disable=SC1091
        source "$TMP/b/data/env"
        export AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET COFFER_CA_FILE AZURE_AUTHORITY_HOST
        mtok=$(get_token "https://management.localhost:$PB/.default")
        "$TMP/tls_load" --connect "[::1]:$PB" --host management.localhost --keepalive --conns 8 \
            --requests "$B_ASSIGNMENTS" --duration 600 --method PUT \
            --path "/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/$COFFER_RESOURCE_GROUP/providers/Microsoft.KeyVault/vaults/coffer/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-{N}?api-version=2022-04-01" \
            --header "Authorization: Bearer $mtok" --header 'Content-Type: application/json' \
            --body '{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6","principalId":"11111111-0000-4000-8000-{N}","principalType":"ServicePrincipal"}}' |
            python3 -c 'import json,sys; d=json.load(sys.stdin); print("ab: B holds", d["requests"] - d["non2xx"] - d["errors"], "role assignments", file=sys.stderr)'
    )
fi
cmp -s <(sed 's/:'"$PA"'/:X/g' "$TMP/a/body.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(d))') \
    <(sed 's/:'"$PB"'/:X/g' "$TMP/b/body.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(d))') ||
    echo "ab: warning: A and B answer GET with different fields" >&2

mkdir -p "$TMP/www/secrets"
cp "$TMP/a/body.json" "$TMP/www/secrets/bench"
chmod 755 "$TMP" "$TMP/www" "$TMP/www/secrets"
chmod 644 "$TMP/www/secrets/bench"
cat >"$TMP/nginx.conf" <<NGX
worker_processes auto;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT ssl reuseport;
    listen [::1]:$NPORT ssl reuseport;
    ssl_certificate $TMP/a/data/tls/server.pem;
    ssl_certificate_key $TMP/a/data/tls/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $TMP/www;
    default_type application/json;
    location / { if (\$http_authorization = "") { return 401; } }
  }
}
NGX
nginx -c "$TMP/nginx.conf"
sleep 0.5

get_a() { TOKEN=$(cat "$TMP/a/token") wrk_json bench/get.lua "https://coffer.vault.localhost:$PA/secrets/bench?api-version=7.5" "$@"; }
get_b() { TOKEN=$(cat "$TMP/b/token") wrk_json bench/get.lua "https://coffer.vault.localhost:$PB/secrets/bench?api-version=7.5" "$@"; }
set_a() { TOKEN=$(cat "$TMP/a/token") wrk_json bench/set.lua "https://coffer.vault.localhost:$PA" "$@"; }
set_b() { TOKEN=$(cat "$TMP/b/token") wrk_json bench/set.lua "https://coffer.vault.localhost:$PB" "$@"; }
get_n() { TOKEN=x wrk_json bench/get.lua "https://coffer.vault.localhost:$NPORT/secrets/bench" "$@"; }
# cpu_ticks a|b|n: utime + stime of that server (clock ticks; nginx: 0, not measured)
cpu_ticks() {
    [ "$1" = n ] && { echo 0; return; }
    awk '{print $14 + $15}' "/proc/$(cat "$TMP/$1/pid")/stat"
}
[ "$OP" = set ] && cc -O2 -o "$TMP/bench_sqlite" bench/sqlite_baseline.c -lsqlite3
get_a 8 2 >/dev/null
get_b 8 2 >/dev/null
get_n 8 2 >/dev/null
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
    # alternate which build goes first, so neither always follows nginx
    if [ $((r % 2)) = 1 ]; then order="a n b"; else order="b n a"; fi
    for t in $order; do
        c0=$(cpu_ticks "$t")
        res=$(get_$t "$CONNS" "$DUR")
        record "$res" op=get target="$t" round="$r" cpu_ticks="$(($(cpu_ticks "$t") - c0))"
    done
    if [ "$OP" = set ]; then
        for t in ${order/n /}; do
            c0=$(cpu_ticks "$t")
            res=$(set_$t "$CONNS" "$DUR")
            record "$res" op=set target="$t" round="$r" cpu_ticks="$(($(cpu_ticks "$t") - c0))"
        done
        sq=$("$TMP/bench_sqlite" "$TMP/baseline.db" "$DUR" "$(((DUR + 1) / 2))")
        one=$(echo "$sq" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sqlite_commit_per_write_per_s"])')
        record "{\"rps\": $one, \"requests\": 0, \"non2xx\": 0, \"errors\": 0}" op=set target=sqlite round="$r" cpu_ticks=0
    fi
done
python3 - "$RAW" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$BIN_A" "$BIN_B" "${A_ARGS:-}" "${B_ARGS:-}" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(op, t):
    v = [r["rps"] for r in rows if r["op"] == op and r["target"] == t]
    return (statistics.median(v) if v else None), v
print(f"ab: A={sys.argv[4]} {sys.argv[6]}  B={sys.argv[5]} {sys.argv[7]}")
print(f"ab: load average at start {sys.argv[2]}, at end {sys.argv[3]}")
for op in ("get", "set"):
    a, va = med(op, "a"); b, vb = med(op, "b"); n, vn = med(op, "n")
    if a is None:
        continue
    print(f"{op}: A {a:,.0f}/s {[round(x) for x in va]}")
    print(f"{op}: B {b:,.0f}/s {[round(x) for x in vb]}")
    if n:
        print(f"{op}: nginx {n:,.0f}/s {[round(x) for x in vn]}")
        # per round ratios, then their median: robust to load changes between rounds
        ra = [r["rps"] / m["rps"] for r in rows for m in rows if r["op"] == "get" and r["target"] == "a" and m["target"] == "n" and m["round"] == r["round"]]
        rb = [r["rps"] / m["rps"] for r in rows for m in rows if r["op"] == "get" and r["target"] == "b" and m["target"] == "n" and m["round"] == r["round"]]
        print(f"{op}: A/nginx {a/n:.3f} (median of rounds {statistics.median(ra):.3f}), "
              f"B/nginx {b/n:.3f} (median of rounds {statistics.median(rb):.3f})")
    print(f"{op}: B/A {b/a:.3f}")
    hz = 100.0
    def cpu(t):
        v = [r["cpu_ticks"] / hz * 1e6 / r["requests"] for r in rows
             if r["op"] == op and r["target"] == t and r.get("requests")]
        return statistics.median(v), v
    ca, vca = cpu("a"); cb, vcb = cpu("b")
    print(f"{op}: cofferd CPU per request: A {ca:.1f} µs {[round(x, 1) for x in vca]}, "
          f"B {cb:.1f} µs {[round(x, 1) for x in vcb]}; B/A {cb/ca:.3f}")
ga, _ = med("get", "a"); gb, _ = med("get", "b"); sa, _ = med("set", "a"); sb, _ = med("set", "b")
if sa:
    print(f"SET/GET: A {sa/ga:.3f}, B {sb/gb:.3f}")
    sq, vsq = med("set", "sqlite")
    if sq:
        print(f"sqlite one durable commit per write: {sq:,.0f}/s {[round(x) for x in vsq]}; "
              f"SET/sqlite: A {sa/sq:.2f}, B {sb/sq:.2f}")
print("json " + json.dumps({"a": sys.argv[4], "b": sys.argv[5], "rows": rows}))
PY
