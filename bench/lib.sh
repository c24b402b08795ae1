# lib.sh - shared by bench/run.sh and bench/scale.sh (sourced from the repository root):
# packages, building the server and the bench tools, starting cofferd and the nginx baseline,
# tokens, and measurements recorded as one JSON object per line in $RAW.
# Expects: BUILD, TMP (a private temp dir), RAW (the jsonl file), WRK_THREADS.

bench_deps() {
    local p missing=()
    for p in wrk nginx-light curl gnuplot-nox; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# cofferd through CMake; the bench tools with cc (never part of the CMake build).
bench_build() {
    cmake -S . -B "$BUILD" -G Ninja >/dev/null && ninja -C "$BUILD" cofferd >/dev/null
    cc -O2 -o "$BUILD/bench_sqlite" bench/sqlite_baseline.c -lsqlite3
    cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -o "$BUILD/tls_load" bench/tls_load.c -lssl -lcrypto -lpthread
}

# start_cofferd DATADIR PORT [extra flags...]: starts cofferd --dev, waits for its env file
# (its appearance means ready) and sources it. Sets COFFERD_PID.
start_cofferd() {
    local dir=$1 port=$2
    shift 2
    "$BUILD/cofferd" --dev --data-dir "$dir" --port "$port" --log-level warn "$@" >"$TMP/cofferd.out" 2>&1 &
    COFFERD_PID=$!
    for _ in $(seq 1 300); do [ -f "$dir/env" ] && break; sleep 0.1; done
    [ -f "$dir/env" ] || { echo "bench: cofferd did not start" >&2; cat "$TMP/cofferd.out" >&2; return 1; }
    # shellcheck disable=SC1091
    source "$dir/env"
    export AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET COFFER_CA_FILE
}

# get_token SCOPE: an access token for the dev admin (client_credentials).
get_token() {
    curl -s --cacert "$COFFER_CA_FILE" "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" \
        -d grant_type=client_credentials -d "client_id=$AZURE_CLIENT_ID" \
        --data-urlencode "client_secret=$AZURE_CLIENT_SECRET" --data-urlencode "scope=$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# create_vault MGMT_TOKEN NAME: a vault in resource group bench-rg through the management API.
create_vault() {
    local code
    code=$(curl -s -o "$TMP/vault.json" -w '%{http_code}' --cacert "$COFFER_CA_FILE" -X PUT \
        -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"location\":\"westus\",\"properties\":{\"tenantId\":\"$AZURE_TENANT_ID\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"enableRbacAuthorization\":true}}" \
        "$COFFER_MANAGEMENT_URL/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/bench-rg/providers/Microsoft.KeyVault/vaults/$2?api-version=2023-07-01")
    case $code in 200 | 201) ;; *) echo "bench: creating vault $2 answered $code" >&2; return 1 ;; esac
}

# tls_load_run ARGS...: the C load generator against cofferd's loopback port ($PORT unless
# --connect is given first); prints its JSON line.
tls_load_run() {
    "$BUILD/tls_load" "$@" 2>>"$TMP/tls_load.err" || true
}

# record JSON KEY=VALUE...: appends JSON (a tool's result object) with the given string/number
# fields in front to $RAW; a missing result is recorded as failed.
record() {
    local json=$1 meta="" kv k v
    shift
    for kv in "$@"; do
        k=${kv%%=*} v=${kv#*=}
        if [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then meta+="\"$k\": $v, "; else meta+="\"$k\": \"$v\", "; fi
    done
    [[ $json == \{* ]] || json='{"rps": 0, "requests": 0, "non2xx": 0, "errors": 1, "failed": true}'
    echo "{$meta${json#\{}" >>"$RAW"
    echo "$*: $json" >&2
}

# wrk_json SCRIPT URL CONNS SECONDS: runs wrk with a bench script; prints the BENCH json.
wrk_json() {
    local t=$WRK_THREADS
    [ "$3" -lt "$t" ] && t=$3
    wrk -t"$t" -c"$3" -d"${4}s" --latency -s "$1" "$2" 2>&1 | awk '/^BENCH / {sub(/^BENCH /, ""); print}' || true
}

# vm_rss_kib PID
vm_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# machine_json: the machine description, as JSON (LOADAVG_AT_START: /proc/loadavg when the
# run began; a busy machine makes every figure noisy, so both ends are recorded).
machine_json() {
    python3 - "$BUILD" <<'PY'
import json, os, platform, subprocess, sqlite3, datetime
def out(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception:
        return "?"
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mhz = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("cpu MHz"):
        mhz = line.split(":", 1)[1].strip(); break
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
osname = next((l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release") if l.startswith("PRETTY_NAME")), "?")
commit = out(["git", "rev-parse", "--short=12", "HEAD"])
dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src"], capture_output=True).returncode != 0
print(json.dumps({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "cpu_model": cpu, "cpu_mhz": mhz, "cores": os.cpu_count(), "kernel": platform.release(),
    "os": osname, "mem_total_mib": int(mem) // 1024,
    "coffer_commit": commit + ("+dirty-src" if dirty else ""),
    "wrk": out(["wrk", "-v"]).split(" Copyright")[0], "nginx": out(["nginx", "-v"]),
    "openssl": out(["openssl", "version"]), "sqlite": sqlite3.sqlite_version,
    "loadavg_at_start": os.environ.get("LOADAVG_AT_START", "? ? ?").split()[:3],
    "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
    "busiest_other_processes_at_end": [l.split(None, 1)[1] for l in subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True,
        text=True).stdout.strip().splitlines()[:6] if l.strip()],
}))
PY
}
