#!/usr/bin/env bash
# No plaintext at rest or in logs. A cofferd at --log-level debug gets 20+ secret values that
# each carry a random 24-character marker (curl and the JS SDK, with versions, tags, a delete,
# a backup whose blob is saved under the data dir); after a clean stop every file under the data
# dir and the server's log are searched for every marker, and the log for the client secret
# and for "eyJ" (a JWT). Also checks the modes of the files holding key material, and that
# lib.sh's per-server leak and record check (server_check.py) fails on planted leaks.
set -uo pipefail
. "$E2E_DIR/lib.sh"
trap e2e_cleanup EXIT

e2e_start main "" "" --log-level debug || exit 1
V=$COFFER_VAULT_URL
TOKEN=$(get_token "$(vault_resource)/.default")
[ -n "$TOKEN" ] && pass "token" || fail "token"
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')

marker() { "$PY" -c 'import secrets,string; a=string.ascii_letters+string.digits; print("".join(secrets.choice(a) for _ in range(24)))'; }
MARKERS=()
stored=0
for i in $(seq 1 20); do
    m=$(marker)
    MARKERS+=("$m")
    req PUT "$V/secrets/pt-$i?api-version=7.4" "${AUTH[@]}" \
        --data-binary "{\"value\":\"secret value $i: $m (end)\",\"contentType\":\"text/plain\"}"
    [ "$CODE" = 200 ] && stored=$((stored + 1))
done
expect_eq "20 marked secrets stored with curl" 20 "$stored"
# A second version of pt-1, then pt-2 deleted (soft-deleted values must stay sealed too).
m=$(marker); MARKERS+=("$m")
req PUT "$V/secrets/pt-1?api-version=7.4" "${AUTH[@]}" --data-binary "{\"value\":\"v2 $m\"}"
expect_eq "second version of pt-1" 200 "$CODE"
req DELETE "$V/secrets/pt-2?api-version=7.4" "${AUTH[@]}"
expect_eq "pt-2 deleted" 200 "$CODE"
req GET "$V/secrets/pt-5?api-version=7.4" "${AUTH[@]}"
expect_eq "marked value reads back (the markers really were stored)" "secret value 5: ${MARKERS[4]} (end)" \
    "$(jget "$RB" 'd["value"]')"

# Backup of pt-1 (two versions): blob saved under the data dir, raw and base64url-decoded.
req POST "$V/secrets/pt-1/backup?api-version=7.4" "${AUTH[@]}"
expect_eq "backup pt-1" 200 "$CODE"
mkdir -p "$SRV_DIR/backups"
jget "$RB" 'd["value"]' >"$SRV_DIR/backups/pt-1.blob"
"$PY" - "$SRV_DIR/backups/pt-1.blob" "$SRV_DIR/backups/pt-1.bin" <<'EOF'
import base64, sys
t = open(sys.argv[1]).read().strip()
open(sys.argv[2], "wb").write(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
EOF
[ -s "$SRV_DIR/backups/pt-1.bin" ] && pass "backup blob is base64url" || fail "backup blob is base64url"

# Through the JS SDK too (challenge flow, CAE claims, keep-alive): 3 more markers.
if [ -d "$E2E_DIR/js/node_modules/@azure/keyvault-secrets" ]; then
    js_markers=("$(marker)" "$(marker)" "$(marker)")
    MARKERS+=("${js_markers[@]}")
    (cd "$E2E_DIR/js" && M1=${js_markers[0]} M2=${js_markers[1]} M3=${js_markers[2]} timeout 120 node --input-type=module -e '
import { secretClient } from "./helpers.mjs";
const c = secretClient();
await c.setSecret("pt-js", `js ${process.env.M1}`, { tags: { kind: "marker" } });
const s = await c.setSecret("pt-js", `js2 ${process.env.M2}`);
await c.updateSecretProperties("pt-js", s.properties.version, { contentType: "x" });
await c.setSecret("pt-js-del", `jsdel ${process.env.M3}`);
await (await c.beginDeleteSecret("pt-js-del")).pollUntilDone();
const g = await c.getSecret("pt-js");
if (g.value !== `js2 ${process.env.M2}`) throw new Error("read back mismatch");
await c.backupSecret("pt-js");
console.log("js-ok");
') >"$E2E_WORK/$SUITE-js.out" 2>&1
    expect_eq "JS SDK wrote and read 3 marked values" js-ok "$(tail -n 1 "$E2E_WORK/$SUITE-js.out")"
else
    fail "JS SDK available for the plaintext suite (tests/e2e/js/node_modules missing)"
fi
# Failed requests with a marker in the body must not log it either.
m=$(marker); MARKERS+=("$m")
req PUT "$V/secrets/bad_name?api-version=7.4" "${AUTH[@]}" --data-binary "{\"value\":\"$m\"}"
expect_eq "invalid-name PUT carrying a marker -> 400" 400 "$CODE"
m=$(marker); MARKERS+=("$m")
req PUT "$V/secrets/pt-x?api-version=7.4" "${AUTH[@]}" --data-binary "{\"value\":\"$m\""
expect_eq "malformed JSON carrying a marker -> 400" 400 "$CODE"

# The token endpoint with a marker as client secret, in the form and in a query string (the
# audit log records the client id of a token request, never its body or query).
m=$(marker); MARKERS+=("$m")
req POST "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token?client_secret=$m" \
    --data-urlencode "client_id=$AZURE_CLIENT_ID" --data-urlencode "client_secret=$m" \
    --data-urlencode "grant_type=client_credentials" --data-urlencode "scope=$(vault_resource)/.default"
expect_eq "token request with a marker as a wrong client secret -> 401" 401 "$CODE"

# Positive control: the search method finds a marker where it is known to be.
printf 'xx%syy' "${MARKERS[0]}" >"$E2E_WORK/$SUITE-control.bin"
grep -a -q -F "${MARKERS[0]}" "$E2E_WORK/$SUITE-control.bin" && pass "control: grep finds a marker" ||
    fail "control: grep finds a marker"

# While the server runs (the -wal and -shm files hold the newest pages).
dir=$SRV_DIR
live=0
nlive=$(find "$dir" -type f | wc -l)
for m in "${MARKERS[@]}"; do
    if grep -r -a -q -F -- "$m" "$dir"; then live=$((live + 1)); fi
done
expect_eq "no marker in the data dir while the server runs ($nlive files: $(cd "$dir" && ls coffer.db* | tr '\n' ' '))" 0 "$live"
e2e_stop

# ---- the search ---------------------------------------------------------------------------
echo "  files under the data dir:"
find "$dir" -type f -printf '    %P (%s bytes)\n'
[ -f "$dir/coffer.db" ] && pass "coffer.db exists" || fail "coffer.db exists"
files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$dir" -type f -print0)
leaks=0
for m in "${MARKERS[@]}"; do
    hit=$(grep -a -l -F -- "$m" "${files[@]}" "$SRV_LOG" "$SRV_OUT" 2>/dev/null | sed "s|$E2E_WORK/||" | tr '\n' ' ')
    if [ -n "$hit" ]; then leaks=$((leaks + 1)); echo "    marker found in: $hit"; fi
done
expect_eq "no marker (of ${#MARKERS[@]}) in any data file (db, -wal, -shm, backups) or the log" 0 "$leaks"
for f in "$dir"/coffer.db*; do
    if grep -a -q -F -- "$AZURE_CLIENT_SECRET" "$f"; then fail "client secret not stored in clear in ${f##*/}"
    else pass "client secret not stored in clear in ${f##*/}"; fi
done
if grep -a -q -F -- "$AZURE_CLIENT_SECRET" "$SRV_LOG"; then fail "client secret not in the log"; else
    pass "client secret not in the log"; fi
if grep -a -q -F -- "$TOKEN" "$SRV_LOG"; then fail "the access token not in the log"; else
    pass "the access token not in the log"; fi
if grep -a -q -F -- "eyJ" "$SRV_LOG"; then fail "no 'eyJ' (JWT) in the log"; else pass "no 'eyJ' (JWT) in the log"; fi
# The audit log (under the data dir, so the marker search above covered it): it holds the
# records of this run, and no token, client secret or query string.
afiles=()
while IFS= read -r -d '' f; do afiles+=("$f"); done < <(find "$dir/audit" -type f -name 'audit-*.jsonl' -print0 2>/dev/null)
nrec=$(cat "${afiles[@]}" /dev/null 2>/dev/null | grep -c '"category":"AuditEvent"')
[ "$nrec" -ge 30 ] && pass "the audit log holds this run's records ($nrec in ${#afiles[@]} files)" ||
    fail "the audit log holds this run's records ($nrec in ${#afiles[@]} files)"
cat "${afiles[@]}" /dev/null 2>/dev/null | grep -a '"category":"AuditEvent"' >"$E2E_WORK/$SUITE-records.txt"
for what in "the access token:$TOKEN" "the client secret:$AZURE_CLIENT_SECRET"; do
    if grep -a -q -F -- "${what#*:}" "${afiles[@]}" /dev/null; then
        fail "no ${what%%:*} in the audit files"
    else
        pass "no ${what%%:*} in the audit files"
    fi
done
# in the records (a checkpoint line carries its own JWS, which starts "eyJ" too)
for what in "a JWT:eyJ" "a query string:api-version=" "a client_secret field:client_secret"; do
    if grep -a -q -F -- "${what#*:}" "$E2E_WORK/$SUITE-records.txt"; then
        fail "no ${what%%:*} in the audit records"
    else
        pass "no ${what%%:*} in the audit records"
    fi
done
if [ -s "$SRV_LOG" ]; then pass "the debug log is not empty ($(wc -l <"$SRV_LOG") lines)"; else
    fail "the debug log is not empty"; fi
# lib.sh runs server_check.py at every e2e_stop of every suite (audit chain, one record per
# answer, known operation names, no JWT / client secret / sent value in log, audit or metrics).
# Positive controls: it does fail on a planted JWT, a planted value and a count that is off.
CTL="$E2E_WORK/$SUITE-control"
cp "$SRV_LOG" "$CTL.log"
printf 'x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb250cm9sIn0.c2ln x\nvalue %s-planted\n' "${MARKERS[0]}" >>"$CTL.log"
printf '%s-planted\n' "${MARKERS[0]}" >"$CTL.values"
printf '# TYPE coffer_api_requests_total counter\ncoffer_api_requests_total{vault="x",operation="SecretGet",status="200"} 1\n' >"$CTL.metrics"
"$PY" "$E2E_DIR/server_check.py" --audit-dir "$dir/audit" --since 1970-01-01T00:00:00.000 \
    --log "$CTL.log" --values "$CTL.values" --metrics "$CTL.metrics" >"$CTL.out" 2>&1
grep -q '^FAIL no token.*a JWT in the log' "$CTL.out" && pass "control: server_check.py finds a planted JWT" ||
    fail "control: server_check.py finds a planted JWT ($(grep -c . "$CTL.out") lines)"
grep -q '^FAIL no token.*a secret value the suite sent in the log' "$CTL.out" &&
    pass "control: server_check.py finds a planted secret value" ||
    fail "control: server_check.py finds a planted secret value"
grep -q '^FAIL one audit record per answered request' "$CTL.out" &&
    pass "control: server_check.py catches records != answered requests" ||
    fail "control: server_check.py catches records != answered requests"
rm -f "$CTL".*
for f in master.key tls/ca.key tls/server.key dev-admin env; do
    expect_eq "$f mode 0600" 600 "$(stat -c %a "$dir/$f" 2>/dev/null)"
done
exit 0
