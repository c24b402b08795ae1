#!/usr/bin/env bash
# make bench: authenticated GET secret and durable SET secret against cofferd, each beside a
# baseline measured in the same run (DESIGN.md §5, issue 8 figures):
#   GET: nginx serving the same JSON body over the same TLS (certificate, TLS 1.3, keep-alive)
#        with a bearer-header check, at the same connection count.
#   SET: SQLite committing one durable transaction per write (and batched, for reference).
# Loopback only, bounded in time. Results: bench/results/<date>.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DUR=${DUR:-10}
CONNS=${CONNS:-64}
THREADS=${WRK_THREADS:-2}
for p in wrk nginx-light curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
cmake -S . -B "$BUILD" -G Ninja >/dev/null && ninja -C "$BUILD" cofferd >/dev/null
cc -O2 -o "$BUILD/bench_sqlite" bench/sqlite_baseline.c -lsqlite3

tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000))
nport=$((port + 1))
"$BUILD/cofferd" --dev --data-dir "$tmp/data" --port "$port" --log-level warn >"$tmp/cofferd.out" 2>&1 &
for _ in $(seq 1 100); do [ -f "$tmp/data/env" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
source "$tmp/data/env"
TOKEN=$(curl -s --cacert "$COFFER_CA_FILE" "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d "client_id=$AZURE_CLIENT_ID" \
    --data-urlencode "client_secret=$AZURE_CLIENT_SECRET" \
    --data-urlencode "scope=https://vault.localhost:$port/.default" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
export TOKEN
url="https://coffer.vault.localhost:$port"
curl -s --cacert "$COFFER_CA_FILE" -X PUT -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"value":"bench-value-0123456789abcdef0123456789abcdef"}' \
    "$url/secrets/bench?api-version=7.5" >/dev/null
curl -s --cacert "$COFFER_CA_FILE" -H "Authorization: Bearer $TOKEN" \
    "$url/secrets/bench?api-version=7.5" >"$tmp/body.json"

# nginx baseline: same body, same certificate, keep-alive, bearer check, one worker per core.
mkdir -p "$tmp/www/secrets"
cp "$tmp/body.json" "$tmp/www/secrets/bench"
chmod 755 "$tmp" "$tmp/www" "$tmp/www/secrets"; chmod 644 "$tmp/www/secrets/bench" # nginx workers run as www-data
cat >"$tmp/nginx.conf" <<NGX
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nport ssl reuseport;
    listen [::1]:$nport ssl reuseport;
    ssl_certificate $tmp/data/tls/server.pem;
    ssl_certificate_key $tmp/data/tls/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $tmp/www;
    default_type application/json;
    location / { if (\$http_authorization = "") { return 401; } }
  }
}
NGX
nginx -c "$tmp/nginx.conf"
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$COFFER_CA_FILE" -H "Authorization: Bearer $TOKEN" \
    "https://coffer.vault.localhost:$nport/secrets/bench")
[ "$code" = 200 ] || { echo "bench: nginx baseline answers $code, not 200" >&2; exit 1; }

wrk_run() { # name url script
    wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$3" "$2" >"$tmp/$1.txt" 2>&1 || true
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$1.txt")
    p50=$(awk '$1=="50%" {print $2}' "$tmp/$1.txt")
    p99=$(awk '$1=="99%" {print $2}' "$tmp/$1.txt")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/$1.txt")
    echo "$1 ${rps:-0} ${p50:-?} ${p99:-?} ${non2xx:-0}"
}
# Warm up, then alternate so both see the same machine state.
wrk -t1 -c8 -d2s -s bench/get.lua "$url/secrets/bench?api-version=7.5" >/dev/null 2>&1 || true
ROUNDS=${ROUNDS:-3}
gets=(); ngxs=(); sets=(); sqls=()
for r in $(seq 1 "$ROUNDS"); do
    gets+=("$(wrk_run "get_coffer_$r" "$url/secrets/bench?api-version=7.5" bench/get.lua)")
    ngxs+=("$(wrk_run "get_nginx_$r" "https://coffer.vault.localhost:$nport/secrets/bench" bench/get.lua)")
    sets+=("$(wrk_run "set_coffer_$r" "$url" bench/set.lua)")
    sqls+=("$("$BUILD/bench_sqlite" "$tmp/baseline.db" "$DUR")")
done

python3 - "$CONNS" "$ROUNDS" "${gets[@]}" "${ngxs[@]}" "${sets[@]}" "${sqls[@]}" <<'PY'
import json, sys, datetime, platform, os, statistics
conns, rounds = sys.argv[1], int(sys.argv[2])
rest = sys.argv[3:]
def parse(s):
    name, rps, p50, p99, bad = s.split()
    return {"name": name, "rps": float(rps), "p50": p50, "p99": p99, "non2xx": int(bad)}
G = [parse(x) for x in rest[0:rounds]]
N = [parse(x) for x in rest[rounds:2 * rounds]]
SS = [parse(x) for x in rest[2 * rounds:3 * rounds]]
QQ = [json.loads(x) for x in rest[3 * rounds:4 * rounds]]
S = {"name": "set_coffer (median)", "rps": statistics.median(x["rps"] for x in SS),
     "p50": SS[len(SS) // 2]["p50"], "p99": SS[len(SS) // 2]["p99"], "non2xx": sum(x["non2xx"] for x in SS)}
Q = {"sqlite_commit_per_write_per_s": statistics.median(q["sqlite_commit_per_write_per_s"] for q in QQ),
     "sqlite_batched64_per_s": statistics.median(q["sqlite_batched64_per_s"] for q in QQ)}
get_med = statistics.median([g["rps"] for g in G]); ngx_med = statistics.median([n["rps"] for n in N])
res = {
  "date": datetime.datetime.utcnow().isoformat() + "Z",
  "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
  "connections": int(conns),
  "get": G, "nginx": N, "set_rounds": SS, "set": S, "sqlite_rounds": QQ, "sqlite": Q,
  "get_vs_nginx": get_med / ngx_med if ngx_med else 0,
  "set_vs_sqlite_single": S["rps"] / Q["sqlite_commit_per_write_per_s"] if Q["sqlite_commit_per_write_per_s"] else 0,
}
os.makedirs("bench/results", exist_ok=True)
stamp = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H%M%SZ")
with open(f"bench/results/{stamp}.json", "w") as f: json.dump(res, f, indent=2)
md = [f"# Coffer bench {res['date']}", "", f"Machine: {res['machine']}; wrk {conns} connections, keep-alive, TLS 1.3", "",
      "| measure | req/s | p50 | p99 | non-2xx |", "|---|---:|---:|---:|---:|"]
for r in G + N + SS + [S]:
    md.append(f"| {r['name']} | {r['rps']:.0f} | {r['p50']} | {r['p99']} | {r['non2xx']} |")
md += [f"| sqlite one durable commit per write (median) | {Q['sqlite_commit_per_write_per_s']:.0f} | | | |",
       f"| sqlite 64 writes per commit (median) | {Q['sqlite_batched64_per_s']:.0f} | | | |", "",
       f"GET: Coffer / nginx (medians of {rounds} alternating rounds) = **{res['get_vs_nginx']:.2f}** (bar 0.60)",
       f"SET: Coffer durable writes / SQLite one commit per write (medians of {rounds} rounds) = **{res['set_vs_sqlite_single']:.2f}x** (bar 2x)"]
open(f"bench/results/{stamp}.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
