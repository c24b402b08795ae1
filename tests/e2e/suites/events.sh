#!/usr/bin/env bash
# events suite: Event Grid for vaults (azure-kv-security-ops.md §7) against webhook receivers
# the suite starts on loopback (events_recv.py: plain HTTP on 127.0.0.1, which cofferd allows
# for loopback only). cofferd runs with events_retry_base_ms 200 (the retry schedule 10 s,
# 30 s, 1 min... becomes 0.2 s, 0.6 s, 1.2 s, 6 s...), a 1 s expiry scan and a 1-day lead.
#
#   handshake     create answers Succeeded after the receiver echoed the validationCode; the
#                 signing secret is shown by the create only
#   delivery      a secret set reaches an EventGridSchema and a CloudEventSchemaV1_0
#                 subscription: exact envelope fields, data {Id, VaultName, ObjectType,
#                 ObjectName, Version, NBF, EXP}, aeg-* headers, aeg-signature verified with
#                 the secret; the CloudEvents one filters on SecretNewVersionCreated only
#   options       CloudEventSchemaV1_0 subscriptions validate with the CloudEvents webhook OPTIONS
#                 handshake (WebHook-Request-Origin: eventgrid.azure.net, granted by the
#                 WebHook-Allowed-Origin echo), EventGridSchema ones with the validation event;
#                 an endpoint that does not grant ends Failed after retries
#   other types   KeyNewVersionCreated (key create), CertificateNewVersionCreated (self-signed
#                 create), VaultAccessPolicyChanged (accessPolicies/add) reach an Event Grid and
#                 an unfiltered CloudEvents subscription: envelope, data (Id, ObjectType,
#                 ObjectName, Version), signature; the filtered one gets none of them
#   retry         a receiver down for a while gets the event once it is back (delivery count > 0)
#   restart       cofferd stopped mid-retry and started again still delivers
#   expiry        a secret expiring in a few seconds gives SecretNearExpiry then SecretExpired,
#                 once each
#   dead letter   a receiver that always answers 500 ends in the dead-letter store
#                 (MaxDeliveryAttemptsExceeded after maxDeliveryAttempts 3), listed by the CLI
#   delete        a deleted subscription is gone from the list
set -uo pipefail
. "$E2E_DIR/lib.sh"
RECV_PIDS=()
trap 'e2e_cleanup; for p in "${RECV_PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$E2E_WORK/$SUITE-config"' EXIT

if [ ! -x "$COFFER" ]; then
    fail "coffer CLI binary exists at $COFFER"
    exit 0
fi
ARGS=(--events-retry-base-ms 200 --events-scan-interval-s 1 --events-near-expiry-days 1)
e2e_start main "" "" "${ARGS[@]}" || exit 1
export COFFER_CONFIG_DIR="$E2E_WORK/$SUITE-config"
mkdir -p "$COFFER_CONFIG_DIR"
CO="$E2E_WORK/$SUITE.cli.out"
CE="$E2E_WORK/$SUITE.cli.err"
V=$COFFER_VAULT_NAME
c() {
    timeout 90 "$COFFER" "$@" >"$CO" 2>"$CE"
    RC=$?
    case "$*" in
        *event-subscription\ create*) { echo "### coffer $* (stdout withheld)"; cat "$CE"; } ;;
        *) { echo "### coffer $*"; cat "$CO" "$CE"; } ;;
    esac >>"$E2E_WORK/$SUITE.cli.log"
}
c_ok() {
    if [ "$RC" -eq 0 ]; then pass "$1"; else
        fail "$1 (exit $RC: $(head -c 300 "$CE" | tr '\n' ' '))"; fi
}
q() { jget "$CO" "$1"; }

# recv_start NAME PORT: a receiver writing $E2E_WORK/$SUITE-NAME.jsonl; answers with the
# status in $E2E_WORK/$SUITE-NAME.status (default 200).
declare -A RECV_PID
recv_start() {
    "$PY" "$E2E_DIR/suites/events_recv.py" "$2" "$E2E_WORK/$SUITE-$1.jsonl" \
        "$E2E_WORK/$SUITE-$1.status" >>"$E2E_WORK/$SUITE-$1.log" 2>&1 &
    RECV_PID[$1]=$!
    RECV_PIDS+=($!)
    local i
    for ((i = 0; i < 50; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
recv_stop() { kill "${RECV_PID[$1]}" 2>/dev/null; wait "${RECV_PID[$1]}" 2>/dev/null; }

# notifications NAME [TYPE] [SUBJECT]: how many Notification requests NAME got (of that event
# type and subject), counting retries
notifications() {
    "$PY" - "$E2E_WORK/$SUITE-$1.jsonl" "${2:-}" "${3:-}" <<'EOF'
import json, sys
n = 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    lines = []
for l in lines:
    r = json.loads(l)
    if r["headers"].get("aeg-event-type") != "Notification":
        continue
    b = json.loads(r["body"])
    ev = b[0] if isinstance(b, list) else b
    t = ev.get("eventType") or ev.get("type")
    if sys.argv[2] and t != sys.argv[2]:
        continue
    if sys.argv[3] and ev.get("subject") != sys.argv[3]:
        continue
    n += 1
print(n)
EOF
}
# wait_for NAME TYPE SUBJECT MIN SECONDS: waits until NAME got at least MIN such requests
wait_for() {
    local i
    for ((i = 0; i < $5 * 10; i++)); do
        [ "$(notifications "$1" "$2" "$3")" -ge "$4" ] && return 0
        sleep 0.1
    done
    return 1
}

PA=$(free_port); PB=$(free_port); PC=$(free_port)
recv_start eg "$PA" || fail "receiver eg started"
recv_start ce "$PB" || fail "receiver ce started"
recv_start dead "$PC" || fail "receiver dead started"
echo 500 >"$E2E_WORK/$SUITE-dead.status"

c login
c_ok "login"

# ---- handshake -------------------------------------------------------------------------------
c keyvault event-subscription create --vault-name "$V" --name eg-sub --endpoint "http://127.0.0.1:$PA/hook" -o json
c_ok "create an EventGridSchema subscription"
expect_eq "it is Succeeded after the handshake" "Succeeded" "$(q 'd["properties"]["provisioningState"]')"
SECRET_EG=$(q 'd["properties"]["signingSecret"]')
expect_eq "the create shows a 43-character signing secret" "43" "${#SECRET_EG}"
expect_eq "the receiver saw one SubscriptionValidation" "1" \
    "$(grep -c '"aeg-event-type": "SubscriptionValidation"' "$E2E_WORK/$SUITE-eg.jsonl")"
c keyvault event-subscription create --vault-name "$V" --name ce-sub --endpoint "http://127.0.0.1:$PB/ce" \
    --event-delivery-schema cloudeventschemav1_0 --included-event-types Microsoft.KeyVault.SecretNewVersionCreated -o json
c_ok "create a CloudEventSchemaV1_0 subscription filtered on SecretNewVersionCreated"
SECRET_CE=$(q 'd["properties"]["signingSecret"]')
c keyvault event-subscription show --vault-name "$V" --name eg-sub -o json
expect_eq "show never shows the secret" "" "$(q 'd["properties"].get("signingSecret")')"
c keyvault event-subscription create --vault-name "$V" --name bad-url --endpoint "http://192.0.2.1/hook"
if [ "$RC" -ne 0 ] && grep -q "loopback" "$CE"; then pass "plain http to a non-loopback host is refused"; else
    fail "plain http to a non-loopback host is refused (exit $RC)"; fi

# ---- delivery --------------------------------------------------------------------------------
c keyvault secret set --vault-name "$V" --name ev1 --value v1 -o json
VER=$(q 'd["id"].rsplit("/",1)[1]')
wait_for eg Microsoft.KeyVault.SecretNewVersionCreated ev1 1 10 && wait_for ce Microsoft.KeyVault.SecretNewVersionCreated ev1 1 10
expect_eq "both receivers got SecretNewVersionCreated" "1 1" \
    "$(notifications eg Microsoft.KeyVault.SecretNewVersionCreated ev1) $(notifications ce Microsoft.KeyVault.SecretNewVersionCreated ev1)"
CHECK=$("$PY" - "$E2E_WORK/$SUITE-eg.jsonl" "$E2E_WORK/$SUITE-ce.jsonl" "$SECRET_EG" "$SECRET_CE" "$V" "$VER" "$COFFER_PORT" <<'EOF'
import hashlib, hmac, json, sys
eg_f, ce_f, seg, sce, vault, ver, port = sys.argv[1:]
def find(path):
    for l in open(path):
        r = json.loads(l)
        if r["headers"].get("aeg-event-type") == "Notification" and '"ev1"' in r["body"]:
            return r
bad = []
for path, secret, ce in ((eg_f, seg, False), (ce_f, sce, True)):
    r = find(path)
    h, body = r["headers"], r["body"]
    want = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if h.get("aeg-signature") != want: bad.append("signature")
    if h.get("aeg-delivery-count") != "0": bad.append("delivery-count")
    if h.get("aeg-subscription-name") != ("CE-SUB" if ce else "EG-SUB"): bad.append("sub-name")
    if h.get("aeg-data-version") != "1": bad.append("data-version")
    b = json.loads(body)
    if ce:
        if not h.get("content-type", "").startswith("application/cloudevents+json"): bad.append("ce content-type")
        ev = b
        keys = ["specversion", "id", "source", "subject", "type", "time", "data"]
        if ev["specversion"] != "1.0": bad.append("specversion")
        topic = ev["source"]
    else:
        if not isinstance(b, list) or len(b) != 1: bad.append("array")
        ev = b[0]
        keys = ["id", "topic", "subject", "eventType", "eventTime", "data", "dataVersion", "metadataVersion"]
        topic = ev["topic"]
    if list(ev.keys()) != keys: bad.append("keys %s" % list(ev.keys()))
    if not topic.endswith("/providers/Microsoft.KeyVault/vaults/" + vault): bad.append("topic")
    d = ev["data"]
    if list(d.keys()) != ["Id", "VaultName", "ObjectType", "ObjectName", "Version", "NBF", "EXP"]: bad.append("data keys")
    if d["Id"] != "https://%s.vault.localhost:%s/secrets/ev1/%s" % (vault.lower(), port, ver): bad.append("Id " + d["Id"])
    if (d["VaultName"], d["ObjectType"], d["ObjectName"], d["Version"], d["NBF"], d["EXP"]) != (vault, "Secret", "ev1", ver, None, None): bad.append("data")
print(" ".join(bad) or "ok")
EOF
)
expect_eq "shapes, headers and signatures of both schemas" "ok" "$CHECK"

# ---- the CloudEvents OPTIONS handshake -------------------------------------------------------
# options NAME: "OPTIONS-requests origin-of-the-last POST-validations" seen by receiver NAME
options() {
    "$PY" - "$E2E_WORK/$SUITE-$1.jsonl" <<'EOF'
import json, sys
n, origin, val = 0, "-", 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError:
    lines = []
for l in lines:
    r = json.loads(l)
    if r.get("method") == "OPTIONS":
        n += 1; origin = r["headers"].get("webhook-request-origin", "-")
    elif r["headers"].get("aeg-event-type") == "SubscriptionValidation":
        val += 1
print(n, origin, val)
EOF
}
expect_eq "the CloudEvents subscription validated with OPTIONS (WebHook-Request-Origin), no validation event" \
    "1 eventgrid.azure.net 0" "$(options ce)"
expect_eq "the Event Grid subscription validated with the validation event, no OPTIONS" \
    "0 - 1" "$(options eg)"
PD=$(free_port); PE=$(free_port)
recv_start all "$PD" || fail "receiver all started"
recv_start deny "$PE" || fail "receiver deny started"
: >"$E2E_WORK/$SUITE-deny.jsonl.deny"
c keyvault event-subscription create --vault-name "$V" --name ce-all --endpoint "http://127.0.0.1:$PD/all" \
    --event-delivery-schema cloudeventschemav1_0 -o json
c_ok "create an unfiltered CloudEventSchemaV1_0 subscription"
SECRET_ALL=$(q 'd["properties"]["signingSecret"]')
expect_eq "it is Succeeded after the OPTIONS grant" "Succeeded 1" \
    "$(q 'd["properties"]["provisioningState"]') $(options all | cut -d' ' -f1)"
c keyvault event-subscription create --vault-name "$V" --name ce-deny --endpoint "http://127.0.0.1:$PE/deny" \
    --event-delivery-schema cloudeventschemav1_0 -o json
st=""
for ((i = 0; i < 100; i++)); do
    c keyvault event-subscription show --vault-name "$V" --name ce-deny -o json
    st=$(q 'd["properties"]["provisioningState"]')
    [ "$st" = Creating ] || break
    sleep 0.1
done
expect_eq "an endpoint answering OPTIONS without WebHook-Allowed-Origin is not granted (Failed)" Failed "$st"
n=$(options deny | cut -d' ' -f1)
[ "$n" -ge 2 ] && pass "the OPTIONS handshake was retried before giving up ($n requests)" ||
    fail "the OPTIONS handshake was retried before giving up ($n requests)"
c keyvault event-subscription delete --vault-name "$V" --name ce-deny

# ---- key, certificate and access-policy events, both schemas -------------------------------
VTOK=$(get_token "$(vault_resource)/.default")
MTOK=$(get_token "$COFFER_MANAGEMENT_URL/.default")
c keyvault key create --vault-name "$V" --name evk --kty EC -o json
c_ok "create key evk"
KVER=$(q 'd["key"]["kid"].rsplit("/",1)[1]')
req POST "$COFFER_VAULT_URL/certificates/evc/create?api-version=7.4" -H "Authorization: Bearer $VTOK" \
    -H 'Content-Type: application/json' --data-binary \
    '{"policy":{"key_props":{"kty":"EC","crv":"P-256","exportable":true},"secret_props":{"contentType":"application/x-pem-file"},"x509_props":{"subject":"CN=evc","validity_months":12},"issuer":{"name":"Self"}}}'
expect_eq "create certificate evc (202)" 202 "$CODE"
POBJ=$("$PY" -c 'import uuid; print(uuid.uuid4())')
req PUT "$COFFER_MANAGEMENT_URL/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/$COFFER_RESOURCE_GROUP/providers/Microsoft.KeyVault/vaults/$V/accessPolicies/add?api-version=2023-07-01" \
    -H "Authorization: Bearer $MTOK" -H 'Content-Type: application/json' --data-binary \
    "{\"properties\":{\"accessPolicies\":[{\"tenantId\":\"$AZURE_TENANT_ID\",\"objectId\":\"$POBJ\",\"permissions\":{\"secrets\":[\"get\"]}}]}}"
expect_in "an access policy added (accessPolicies/add)" "$CODE" 200 201
ok=1
for r in eg all; do
    wait_for "$r" Microsoft.KeyVault.KeyNewVersionCreated evk 1 10 &&
        wait_for "$r" Microsoft.KeyVault.CertificateNewVersionCreated evc 1 20 &&
        wait_for "$r" Microsoft.KeyVault.VaultAccessPolicyChanged "$V" 1 10 || ok=0
done
[ "$ok" = 1 ] && pass "KeyNewVersionCreated, CertificateNewVersionCreated, VaultAccessPolicyChanged reach both schemas" ||
    fail "KeyNewVersionCreated, CertificateNewVersionCreated, VaultAccessPolicyChanged reach both schemas ($(
        for r in eg all; do echo -n "$r: $(notifications "$r" Microsoft.KeyVault.KeyNewVersionCreated evk)"
            echo -n "/$(notifications "$r" Microsoft.KeyVault.CertificateNewVersionCreated evc)"
            echo -n "/$(notifications "$r" Microsoft.KeyVault.VaultAccessPolicyChanged "$V") "; done))"
req GET "$COFFER_VAULT_URL/certificates/evc?api-version=7.4" -H "Authorization: Bearer $VTOK"
CVER=$(jget "$RB" 'd["id"].rsplit("/",1)[1]')
expect_eq "the ce-sub filter kept key, certificate and policy events away" 0 \
    "$(( $(notifications ce Microsoft.KeyVault.KeyNewVersionCreated) + $(notifications ce Microsoft.KeyVault.CertificateNewVersionCreated) + $(notifications ce Microsoft.KeyVault.VaultAccessPolicyChanged) ))"
CHECK=$("$PY" - "$E2E_WORK/$SUITE-eg.jsonl" "$E2E_WORK/$SUITE-all.jsonl" "$SECRET_EG" "$SECRET_ALL" "$V" "$COFFER_PORT" "$KVER" "$CVER" <<'EOF'
import hashlib, hmac, json, sys
eg_f, all_f, seg, sall, vault, port, kver, cver = sys.argv[1:]
base = "https://%s.vault.localhost:%s" % (vault.lower(), port)
want = {  # type: (subject, ObjectType, ObjectName, Version, Id)
    "KeyNewVersionCreated": ("evk", "Key", "evk", kver, base + "/keys/evk/" + kver),
    "CertificateNewVersionCreated": ("evc", "Certificate", "evc", cver, base + "/certificates/evc/" + cver),
    "VaultAccessPolicyChanged": (vault, "Vault", vault, "", None),
}
bad = []
for path, secret, ce in ((eg_f, seg, False), (all_f, sall, True)):
    seen = {}
    for l in open(path):
        r = json.loads(l)
        if r.get("method") == "OPTIONS" or r["headers"].get("aeg-event-type") != "Notification":
            continue
        b = json.loads(r["body"])
        ev = b if ce else b[0]
        t = (ev.get("type") if ce else ev.get("eventType")) or ""
        short = t.replace("Microsoft.KeyVault.", "")
        if short in want and short not in seen:
            seen[short] = (r, ev)
    tag = "ce" if ce else "eg"
    for short, (subj, otype, oname, ver, oid) in want.items():
        if short not in seen:
            bad.append("%s: no %s" % (tag, short)); continue
        r, ev = seen[short]
        sig = "sha256=" + hmac.new(secret.encode(), r["body"].encode(), hashlib.sha256).hexdigest()
        if r["headers"].get("aeg-signature") != sig: bad.append("%s %s: signature" % (tag, short))
        if ce and (ev.get("specversion") != "1.0" or not ev.get("source", "").endswith("/vaults/" + vault)):
            bad.append("%s %s: envelope" % (tag, short))
        if not ce and (not ev.get("topic", "").endswith("/vaults/" + vault) or ev.get("dataVersion") != "1"):
            bad.append("%s %s: envelope" % (tag, short))
        d = ev.get("data", {})
        if ev.get("subject") != subj: bad.append("%s %s: subject %s" % (tag, short, ev.get("subject")))
        if (d.get("VaultName"), d.get("ObjectType"), d.get("ObjectName")) != (vault, otype, oname):
            bad.append("%s %s: data %s/%s/%s" % (tag, short, d.get("VaultName"), d.get("ObjectType"), d.get("ObjectName")))
        if ver and d.get("Version") != ver: bad.append("%s %s: Version" % (tag, short))
        if oid and d.get("Id") != oid: bad.append("%s %s: Id %s" % (tag, short, d.get("Id")))
print(" ".join(bad) or "ok")
EOF
)
expect_eq "key, certificate and policy events: envelope, data (Id, ObjectType, Version), signature in both schemas" "ok" "$CHECK"

# ---- retry after the receiver was down ---------------------------------------------------------
recv_stop eg
c keyvault secret set --vault-name "$V" --name ev2 --value v2 -o none
sleep 1.5
recv_start eg "$PA"
if wait_for eg Microsoft.KeyVault.SecretNewVersionCreated ev2 1 20; then
    pass "a receiver down for a while gets the event once it is back"
else fail "a receiver down for a while gets the event once it is back"; fi
expect_eq "the late delivery counts its earlier attempts" "true" "$("$PY" - "$E2E_WORK/$SUITE-eg.jsonl" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if '"ev2"' in r["body"]:
        print("true" if int(r["headers"]["aeg-delivery-count"]) > 0 else "false"); break
EOF
)"

# ---- restart mid-retry ---------------------------------------------------------------------
recv_stop eg
c keyvault secret set --vault-name "$V" --name ev3 --value v3 -o none
sleep 1
DIR=$SRV_DIR PORT=$SRV_PORT
e2e_stop
recv_start eg "$PA"
e2e_start main "$DIR" "$PORT" "${ARGS[@]}" || exit 1
if wait_for eg Microsoft.KeyVault.SecretNewVersionCreated ev3 1 25; then
    pass "cofferd restarted mid-retry still delivers"
else fail "cofferd restarted mid-retry still delivers"; fi

# ---- near expiry and expired ------------------------------------------------------------------
EXP=$(date -u -d "+5 seconds" +%Y-%m-%dT%H:%M:%SZ)
c keyvault secret set --vault-name "$V" --name ev4 --value v4 --expires "$EXP" -o none
c_ok "set a secret expiring in 5 s"
wait_for eg Microsoft.KeyVault.SecretNearExpiry ev4 1 10
expect_eq "SecretNearExpiry arrives" "1" "$(notifications eg Microsoft.KeyVault.SecretNearExpiry ev4)"
wait_for eg Microsoft.KeyVault.SecretExpired ev4 1 15
sleep 2
expect_eq "SecretExpired arrives once, NearExpiry stays once" "1 1" \
    "$(notifications eg Microsoft.KeyVault.SecretExpired ev4) $(notifications eg Microsoft.KeyVault.SecretNearExpiry ev4)"
expect_eq "the filtered CloudEvents subscription got no expiry events" "0" \
    "$(( $(notifications ce Microsoft.KeyVault.SecretNearExpiry) + $(notifications ce Microsoft.KeyVault.SecretExpired) ))"

# ---- dead letter ------------------------------------------------------------------------------
c keyvault event-subscription create --vault-name "$V" --name dead-sub --endpoint "http://127.0.0.1:$PC/x" \
    --max-delivery-attempts 3 -o json
c_ok "create a subscription whose receiver always answers 500"
c keyvault secret set --vault-name "$V" --name ev5 --value v5 -o none
for ((i = 0; i < 100; i++)); do
    c keyvault event-subscription dead-letters --vault-name "$V" --name dead-sub -o json
    [ "$(q 'len(d)')" -ge 1 ] 2>/dev/null && break
    sleep 0.2
done
expect_eq "the event ends in the dead-letter store" \
    "MaxDeliveryAttemptsExceeded 3 GenericError Microsoft.KeyVault.SecretNewVersionCreated" \
    "$(q '" ".join([d[0]["deadLetterReason"], str(d[0]["deliveryAttempts"]), d[0]["lastDeliveryOutcome"], d[0]["eventType"]])')"
expect_eq "the receiver saw exactly 3 attempts" "3" "$(notifications dead Microsoft.KeyVault.SecretNewVersionCreated ev5)"

# ---- delete -----------------------------------------------------------------------------------
c keyvault event-subscription delete --vault-name "$V" --name dead-sub
c_ok "delete a subscription"
c keyvault event-subscription list --vault-name "$V" -o json
expect_eq "the list holds the other three" "ce-all ce-sub eg-sub" "$(q '" ".join(sorted(x["name"] for x in d))')"
grep -q "$SECRET_EG" "$SRV_LOG" "$E2E_WORK/$SUITE-main".*.log 2>/dev/null &&
    fail "a signing secret is in the server log" || pass "no signing secret in the server log"
e2e_stop
