#!/usr/bin/env bash
# make bench-scale: how Coffer behaves as data grows (issue 9, "Scale"). Takes minutes; not in CI.
# Loopback only, one cofferd --dev on a fresh data dir, bounded by SCALE_MAX_S: every loading
# step is projected from the rate measured so far and skipped (and reported as skipped) when it
# would not fit in the time left.
#
#   growth      one vault grown to each of SCALE_STEPS secrets (written through the API with
#               keep-alive PUTs, bench/tls_load.c); at each size: GET of a random secret and of
#               one hot secret (wrk, CONNS connections), first-page list latency (1 connection)
#               and throughput (CONNS), cofferd VmRSS and database size
#   deleted     first-page list of a vault with 1,000 live secrets and DELETED soft-deleted ones
#               (named to sort before the live ones) vs a vault with the 1,000 live ones only;
#               also the first page of deleted secrets
#   versions    one secret with VERSIONS versions: GET latest, GET an old version by id, first
#               page of its versions
#   vaults      VAULTS vaults created through the management API; GET of a secret in a random
#               vault; first page of the management vault list
#   rss         VmRSS growth per million secrets, from the largest growth step
# Results: $OUT/<stamp>-scale.{json,md,png} (machine description included).
#
# Knobs: SCALE_MAX_S (1500), SCALE_STEPS ("1000 100000 1000000"), SCALE_DUR (s per measure, 5),
# CONNS (64), LOAD_CONNS (64), DELETED (100000), VERSIONS (1000), VAULTS (1000), WRK_THREADS (2),
# BUILD (build), OUT (bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SCALE_MAX_S=${SCALE_MAX_S:-1500}
SCALE_STEPS=${SCALE_STEPS:-1000 100000 1000000}
SCALE_DUR=${SCALE_DUR:-5}
CONNS=${CONNS:-64}
LOAD_CONNS=${LOAD_CONNS:-64}
DELETED=${DELETED:-100000}
VERSIONS=${VERSIONS:-1000}
VAULTS=${VAULTS:-1000}
WRK_THREADS=${WRK_THREADS:-2}
OUT=${OUT:-bench/results}
# shellcheck source=bench/lib.sh
source bench/lib.sh

t_start=$(date +%s)
LOADAVG_AT_START=$(cat /proc/loadavg)
export LOADAVG_AT_START
deadline=$((t_start + SCALE_MAX_S))
bench_deps
bench_build
TMP=$(mktemp -d)
RAW=$TMP/raw.jsonl
: >"$RAW"
cleanup() {
    [ -n "${COFFERD_PID:-}" ] && kill "$COFFERD_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
PORT=$((20000 + RANDOM % 20000))
start_cofferd "$TMP/data" "$PORT"
export PORT SUFFIX=$COFFER_DNS_SUFFIX
TOKEN=$(get_token "https://vault.localhost:$PORT/.default")
MTOKEN=$(get_token "https://management.localhost:$PORT/.default")
export TOKEN
auth="Authorization: Bearer $TOKEN"
json_ct='Content-Type: application/json'
rss0=$(vm_rss_kib "$COFFERD_PID")
load_rate=5000 # writes/s, refined by every load

left() { echo $((deadline - $(date +%s))); }
# fits N_WRITES EXTRA_S: true when loading N_WRITES at the last measured rate, plus EXTRA_S of
# measuring, fits in the time left.
fits() { python3 -c "import sys; n,r,x,l=map(float,sys.argv[1:]); sys.exit(0 if n/r+x < l else 1)" "$1" "$load_rate" "$2" "$(left)"; }
skip() { record '{"rps": 0, "requests": 0, "non2xx": 0, "errors": 0, "skipped": true}' "$@" left_s="$(left)"; }

# load VAULT_HOST COUNT START METHOD PATH [BODY]: COUNT keep-alive requests with {n} from START;
# the result in LOAD_OUT, the rate kept for the projections (run it in this shell, not in $()).
load() {
    local host=$1 count=$2 start=$3 method=$4 path=$5 body=${6:-} out
    local args=(--connect "[::1]:$PORT" --host "$host" --sni coffer.vault.localhost --ca "$COFFER_CA_FILE"
        --keepalive --conns "$LOAD_CONNS" --requests "$count" --start "$start" --duration 3600
        --method "$method" --path "$path" --header "$auth")
    [ -n "$body" ] && args+=(--header "$json_ct" --body "$body")
    out=$(tls_load_run "${args[@]}")
    LOAD_OUT=$out
    # Let the background WAL checkpoint of a large load finish before measuring reads.
    if [ "$count" -ge 10000 ]; then sleep 3; fi
    load_rate=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(max(d["rps"], 100))' 2>/dev/null || echo "$load_rate")
}
wrk_c1() { # SCRIPT URL: one connection, latency
    wrk -t1 -c1 -d"${SCALE_DUR}s" --latency -s "$1" "$2" 2>&1 | awk '/^BENCH / {sub(/^BENCH /, ""); print}' || true
}
db_mib() { du -cm "$TMP/data"/coffer.db* 2>/dev/null | awk 'END {print $1}'; }

# ---- growth ----
create_vault "$MTOKEN" scale
surl="https://scale.vault.localhost:$PORT"
have=0
val='{"value":"scale-value-{n}-0123456789abcdef0123456789abcdef"}'
growth_rss_from=$rss0
growth_rss_from_n=0
growth_step() { # N: grow the vault to N secrets and measure
    local n=$1 rss_before rss
    [ "$n" -le "$have" ] && return 0
    if ! fits $((n - have)) $((SCALE_DUR * 5 + 10)); then
        skip phase=growth secrets="$n" op=load
        echo "bench-scale: skipping the $n-secret step (at $load_rate writes/s it does not fit in $(left) s)" >&2
        return 0
    fi
    rss_before=$(vm_rss_kib "$COFFERD_PID")
    load scale.vault.localhost $((n - have)) "$have" PUT "/secrets/s-{n}?api-version=7.5" "$val"
    record "$LOAD_OUT" phase=growth secrets="$n" op=load conns="$LOAD_CONNS"
    record "$(NAMES=$n PREFIX=s- wrk_json bench/getrand.lua "$surl/" "$CONNS" "$SCALE_DUR")" phase=growth secrets="$n" op=get_random conns="$CONNS"
    record "$(wrk_json bench/get.lua "$surl/secrets/s-0?api-version=7.5" "$CONNS" "$SCALE_DUR")" phase=growth secrets="$n" op=get_hot conns="$CONNS"
    record "$(wrk_c1 bench/get.lua "$surl/secrets?api-version=7.5&maxresults=25")" phase=growth secrets="$n" op=list_first_page conns=1
    record "$(wrk_json bench/get.lua "$surl/secrets?api-version=7.5&maxresults=25" "$CONNS" "$SCALE_DUR")" phase=growth secrets="$n" op=list_first_page conns="$CONNS"
    rss=$(vm_rss_kib "$COFFERD_PID")
    record "{\"vmrss_kib\": $rss, \"vmrss_kib_before_load\": $rss_before, \"db_mib\": $(db_mib)}" phase=growth secrets="$n" op=memory
    growth_rss_from=$rss_before growth_rss_to=$rss growth_rss_from_n=$have growth_rss_to_n=$n
    have=$n
}
# Small steps first; steps over 100,000 secrets after the other phases (they take the longest).
for n in $SCALE_STEPS; do if [ "$n" -le 100000 ]; then growth_step "$n"; fi; done

# ---- versions ----
if fits "$VERSIONS" $((SCALE_DUR * 3 + 5)); then
    load coffer.vault.localhost "$VERSIONS" 0 PUT "/secrets/versioned?api-version=7.5" '{"value":"version-{n}"}'
    record "$LOAD_OUT" phase=versions versions="$VERSIONS" op=load conns="$LOAD_CONNS"
    curl -s --cacert "$COFFER_CA_FILE" -H "$auth" "$COFFER_VAULT_URL/secrets/versioned/versions?api-version=7.5&maxresults=25" >"$TMP/versions.json"
    old=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["value"][-1]["id"].rsplit("/",1)[1])' "$TMP/versions.json")
    record "$(wrk_json bench/get.lua "$COFFER_VAULT_URL/secrets/versioned?api-version=7.5" "$CONNS" "$SCALE_DUR")" phase=versions versions="$VERSIONS" op=get_latest conns="$CONNS"
    record "$(wrk_json bench/get.lua "$COFFER_VAULT_URL/secrets/versioned/$old?api-version=7.5" "$CONNS" "$SCALE_DUR")" phase=versions versions="$VERSIONS" op=get_old_version conns="$CONNS"
    record "$(wrk_c1 bench/get.lua "$COFFER_VAULT_URL/secrets/versioned/versions?api-version=7.5&maxresults=25")" phase=versions versions="$VERSIONS" op=list_versions_first_page conns=1
else
    skip phase=versions versions="$VERSIONS" op=load
fi

# ---- vaults ----
if fits $((VAULTS * 2)) $((SCALE_DUR * 2 + 5)); then
    vbody="{\"location\":\"westus\",\"properties\":{\"tenantId\":\"$AZURE_TENANT_ID\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"enableRbacAuthorization\":true}}"
    out=$(tls_load_run --connect "[::1]:$PORT" --host management.localhost --ca "$COFFER_CA_FILE" --keepalive \
        --conns 8 --requests "$VAULTS" --duration 3600 --method PUT \
        --path "/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/bench-rg/providers/Microsoft.KeyVault/vaults/bv{n}?api-version=2023-07-01" \
        --header "Authorization: Bearer $MTOKEN" --header "$json_ct" --body "$vbody")
    record "$out" phase=vaults vaults="$VAULTS" op=create_vault conns=8
    load "bv{n}.vault.localhost" "$VAULTS" 0 PUT "/secrets/s?api-version=7.5" '{"value":"in-vault-{n}"}'
    record "$LOAD_OUT" phase=vaults vaults="$VAULTS" op=load conns="$LOAD_CONNS"
    record "$(VAULTS=$VAULTS VPREFIX=bv wrk_json bench/getvaults.lua "https://bv0.vault.localhost:$PORT/" "$CONNS" "$SCALE_DUR")" \
        phase=vaults vaults="$VAULTS" op=get_random_vault conns="$CONNS"
    record "$(TOKEN=$MTOKEN wrk_c1 bench/get.lua "$COFFER_MANAGEMENT_URL/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/bench-rg/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01")" \
        phase=vaults vaults="$VAULTS" op=mgmt_list_vaults_first_page conns=1
    vpage=$(curl -s --cacert "$COFFER_CA_FILE" -H "Authorization: Bearer $MTOKEN" \
        "$COFFER_MANAGEMENT_URL/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/bench-rg/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01" |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["value"]))' 2>/dev/null || echo 0)
    record "{\"page_len\": $vpage}" phase=vaults vaults="$VAULTS" op=mgmt_list_page_len
else
    skip phase=vaults vaults="$VAULTS" op=create_vault
fi

# ---- deleted objects ----
if fits $((DELETED * 2 + 2000)) $((SCALE_DUR * 5 + 10)); then
    create_vault "$MTOKEN" scaledel
    create_vault "$MTOKEN" scalenodel
    for v in scaledel scalenodel; do
        load "$v.vault.localhost" 1000 0 PUT "/secrets/live-{n}?api-version=7.5" '{"value":"live-{n}"}'
    done
    load scaledel.vault.localhost "$DELETED" 0 PUT "/secrets/del-{n}?api-version=7.5" '{"value":"deleted-{n}"}'
    record "$LOAD_OUT" phase=deleted deleted="$DELETED" op=load conns="$LOAD_CONNS"
    load scaledel.vault.localhost "$DELETED" 0 DELETE "/secrets/del-{n}?api-version=7.5"
    record "$LOAD_OUT" phase=deleted deleted="$DELETED" op=delete conns="$LOAD_CONNS"
    for v in scalenodel scaledel; do
        d=0
        [ "$v" = scaledel ] && d=$DELETED
        vu="https://$v.vault.localhost:$PORT"
        record "$(wrk_c1 bench/get.lua "$vu/secrets?api-version=7.5&maxresults=25")" phase=deleted live=1000 deleted="$d" op=list_first_page conns=1
        record "$(wrk_json bench/get.lua "$vu/secrets?api-version=7.5&maxresults=25" "$CONNS" "$SCALE_DUR")" phase=deleted live=1000 deleted="$d" op=list_first_page conns="$CONNS"
        record "$(wrk_json bench/get.lua "$vu/secrets/live-7?api-version=7.5" "$CONNS" "$SCALE_DUR")" phase=deleted live=1000 deleted="$d" op=get_hot conns="$CONNS"
    done
    record "$(wrk_c1 bench/get.lua "https://scaledel.vault.localhost:$PORT/deletedsecrets?api-version=7.5&maxresults=25")" \
        phase=deleted live=1000 deleted="$DELETED" op=list_deleted_first_page conns=1
else
    skip phase=deleted deleted="$DELETED" op=load
fi

# ---- growth, large steps ----
for n in $SCALE_STEPS; do if [ "$n" -gt 100000 ]; then growth_step "$n"; fi; done

alive=true
kill -0 "$COFFERD_PID" 2>/dev/null || alive=false
machine=$(machine_json)
cat >"$TMP/meta.json" <<JSON
{"machine": $machine, "elapsed_s": $(($(date +%s) - t_start)), "cofferd_alive_at_end": $alive,
 "vmrss_kib_at_start": $rss0, "vmrss_kib_at_end": $(vm_rss_kib "$COFFERD_PID"), "db_mib_at_end": $(db_mib),
 "rss_growth": {"from_secrets": ${growth_rss_from_n:-0}, "to_secrets": ${growth_rss_to_n:-0},
                "from_kib": ${growth_rss_from:-0}, "to_kib": ${growth_rss_to:-0}},
 "knobs": {"SCALE_MAX_S": $SCALE_MAX_S, "SCALE_STEPS": "$SCALE_STEPS", "SCALE_DUR": $SCALE_DUR,
           "CONNS": $CONNS, "LOAD_CONNS": $LOAD_CONNS, "DELETED": $DELETED, "VERSIONS": $VERSIONS,
           "VAULTS": $VAULTS, "WRK_THREADS": $WRK_THREADS}}
JSON
$alive || { echo "bench-scale: cofferd died during the run" >&2; tail -20 "$TMP/cofferd.out" >&2; }
python3 bench/scale_report.py "$RAW" "$TMP/meta.json" "$OUT"
$alive
