#!/usr/bin/env bash
# keys_ab.sh - two cofferd binaries side by side on RS256 signs with an RSA-2048 software key,
# alternating A, B / B, A per round. Per round and binary, one JSON line:
#   sign only  wrk SC connections of signs for DUR s: req/s, p99 and cofferd's own CPU time per
#              request (user + system from /proc/PID/stat: on a loaded machine req/s follows
#              the neighbours, CPU per request much less)
#   mixed      the same sign load (one wrk thread) with GC connections of GETs beside it: the
#              GETs' req/s and latency (what signs on the event loop would cost a reader)
#   get only   with GETCPU=1: SC connections of GETs alone, req/s and CPU per GET (the sign's
#              CPU against a GET's on the same server, same moment)
#   floor      with SPEED=1 (RS256 only): `openssl speed -multi <cores> rsa2048` sign/s before
#              each round's pair, and each line's sign_rps against it (issue 12's bar: >= 0.70
#              with SC=64, as bench/run.sh measures it)
#
#   bench/keys_ab.sh BIN_A BIN_B      e.g. the CPU-pool build and an inline-RSA build
#
# Knobs: DUR (5), ROUNDS (4), SC (16), GC (4), GETCPU (0), SPEED (0), ALG (RS256: RSA-2048;
# ES256: a P-256 key).
# Both servers run --dev (authorization, audit on).
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bench/keys_ab.sh BIN_A BIN_B" >&2; exit 2; }
BIN_A=$(realpath "$1")
BIN_B=$(realpath "$2")
DUR=${DUR:-5}; ROUNDS=${ROUNDS:-4}; SC=${SC:-16}; GC=${GC:-4}; ALG=${ALG:-RS256}
case $ALG in
RS256) KEYBODY='{"kty":"RSA","key_size":2048}' ;;
ES256) KEYBODY='{"kty":"EC","crv":"P-256"}' ;;
*) echo "keys_ab: ALG is RS256 or ES256" >&2; exit 2 ;;
esac
TMP=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait; rm -rf $TMP' EXIT
start() { # name bin port
    local d=$TMP/$1
    mkdir -p $d
    $2 --dev --data-dir $d/data --port $3 --log-level warn >$d/out 2>&1 &
    PIDS+=($!); echo $! >$d/pid
    for _ in $(seq 1 300); do [ -f $d/data/env ] && break; sleep 0.1; done
    ( set -a; . $d/data/env; set +a
      tok=$(curl -s --cacert "$COFFER_CA_FILE" "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token" \
        -d grant_type=client_credentials -d "client_id=$AZURE_CLIENT_ID" \
        --data-urlencode "client_secret=$AZURE_CLIENT_SECRET" --data-urlencode "scope=https://vault.localhost:$3/.default" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
      echo "$tok" >$d/token
      url="https://coffer.vault.localhost:$3"
      curl -s -o /dev/null --cacert "$COFFER_CA_FILE" -X PUT -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        -d '{"value":"bench"}' "$url/secrets/bench?api-version=7.5"
      curl -s -o /dev/null --cacert "$COFFER_CA_FILE" -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        -d "$KEYBODY" "$url/keys/bench-rs/create?api-version=7.5"
      echo "$url" >$d/url )
}
ticks() { awk '{print $14 + $15}' /proc/$(cat $TMP/$1/pid)/stat; }
bench() { # name -> "sign_rps cpu_us_per_req | mixed: sign_rps get_rps get_p50 get_p99 get_p999"
    local d=$TMP/$1 u; u=$(cat $d/url); export TOKEN=$(cat $d/token) ALG
    local c0 c1 s
    c0=$(ticks $1)
    s=$(wrk -t2 -c$SC -d${DUR}s -s bench/sign.lua "$u/keys/bench-rs/sign?api-version=7.5" | grep ^BENCH | cut -c7-)
    c1=$(ticks $1)
    local srq; srq=$(echo "$s" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["non2xx"])')
    wrk -t1 -c$SC -d${DUR}s -s bench/sign.lua "$u/keys/bench-rs/sign?api-version=7.5" >$TMP/ms 2>&1 &
    local wp=$!
    local g; g=$(wrk -t1 -c$GC -d${DUR}s -s bench/get.lua "$u/secrets/bench?api-version=7.5" | grep ^BENCH | cut -c7-)
    wait $wp
    local ms; ms=$(grep ^BENCH $TMP/ms | cut -c7-)
    local go='{}' g0=0 g1=0
    if [ "${GETCPU:-0}" = 1 ]; then
        g0=$(ticks $1)
        go=$(wrk -t2 -c$SC -d${DUR}s -s bench/get.lua "$u/secrets/bench?api-version=7.5" | grep ^BENCH | cut -c7-)
        g1=$(ticks $1)
    fi
    python3 - "$1" "$srq" "$((c1 - c0))" "$s" "$g" "$ms" "$go" "$((g1 - g0))" "${FLOOR:-0}" <<'PY'
import json, sys
name, srq, ticks, s, g, ms, go, gticks, floor = sys.argv[1:]
req, non2xx = map(int, srq.split())
s, g, ms, go = json.loads(s), json.loads(g), json.loads(ms), json.loads(go)
out = {"bin": name, "sign_rps": s["rps"], "non2xx": non2xx, "cpu_us_per_sign": round(int(ticks) * 1e4 / max(req, 1), 1),
    "sign_p99_ms": s["p99_ms"], "mixed_sign_rps": ms["rps"], "mixed_get_rps": g["rps"], "get_p50_ms": g["p50_ms"],
    "get_p99_ms": g["p99_ms"], "get_p999_ms": g["p999_ms"], "get_max_ms": g["max_ms"]}
if go:
    out.update({"get_only_rps": go["rps"], "cpu_us_per_get": round(int(gticks) * 1e4 / max(go["requests"], 1), 1)})
if float(floor) > 0:
    out.update({"openssl_speed": float(floor), "ratio": round(s["rps"] / float(floor), 3)})
print(json.dumps(out))
PY
}
PA=$((20000 + RANDOM % 20000))
start a "$BIN_A" "$PA"
start b "$BIN_B" "$((PA + 1))"
for r in $(seq 1 $ROUNDS); do
    if [ "${SPEED:-0}" = 1 ] && [ "$ALG" = RS256 ]; then
        FLOOR=$(openssl speed -multi "$(nproc)" -seconds 2 -mr rsa2048 2>/dev/null | awk -F: '/^\+F2:/ {v = $4} END {print v}')
    fi
    if ((r % 2)); then bench a; bench b; else bench b; bench a; fi
    uptime | sed 's/.*load/load/' >&2
done
