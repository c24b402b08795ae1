#!/usr/bin/env bash
# certevents suite: a certificate policy's EmailContacts action sends
# Microsoft.KeyVault.CertificateNearExpiry to an Event Grid webhook (events_recv.py) at its
# trigger. cofferd --dev runs with a 31 s certificate month (dev_month_seconds; a policy day is
# then 1 s) and a 1 s janitor. The events scan's own lead (at least a day) covers every such
# certificate at once, and whichever comes first sends the version's one NearExpiry (the unit
# test test_certnotice.c covers that interplay); here the scan runs once a day (its first run,
# at start, sees no subscription), so the events can only come from the policy.
#
#   pct    validity 1 month, EmailContacts at lifetime_percentage 30: the event arrives once,
#          not before nbf + 30 % of the lifetime, with the scan's data (Id with the version,
#          VaultName, ObjectType, ObjectName, Version, NBF, EXP), signed
#   days   validity 1 month, EmailContacts at days_before_expiry 14: once, not before exp - 14 s
#   auto   AutoRenew at 30 %: renewed, no CertificateNearExpiry
#   log    the janitor's line names EmailContacts, the contact count and that the event was sent;
#          it carries no contact address
set -uo pipefail
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/suites/webhook_lib.sh"
RECV_PID=""
trap 'e2e_cleanup; [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null; rm -rf "$E2E_WORK/$SUITE-config"' EXIT

if [ ! -x "$COFFER" ]; then
    fail "coffer CLI binary exists at $COFFER"
    exit 0
fi
e2e_start main "" "" --dev-month-seconds 31 --janitor-interval-s 1 --events-scan-interval-s 86400 \
    --events-retry-base-ms 200 || exit 1
export COFFER_CONFIG_DIR="$E2E_WORK/$SUITE-config"
mkdir -p "$COFFER_CONFIG_DIR"
V=$COFFER_VAULT_URL
TOKEN=$(get_token "$(vault_resource)/.default")
[ -n "$TOKEN" ] && pass "token" || fail "token"
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')

# ---- the receiver and the subscription --------------------------------------------------------
webhook_subscribe certs-sub

req PUT "$V/certificates/contacts?api-version=7.5" "${AUTH[@]}" \
    --data-binary '{"contacts":[{"email":"certops@example.com","name":"Cert Ops"}]}'
expect_eq "set the certificate contacts" 200 "$CODE"

# near NAME: the CertificateNearExpiry notifications the receiver got for NAME, as "<count>
# <Id> <VaultName> <ObjectType> <ObjectName> <Version> <NBF> <EXP> <signature ok>" (the last)
near() {
    "$PY" - "$RECV" "$1" "$SIGNING" <<'EOF'
import hashlib, hmac, json, sys
path, name, secret = sys.argv[1:]
n, last = 0, ("-",)
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    lines = []
for l in lines:
    r = json.loads(l)
    if r["headers"].get("aeg-event-type") != "Notification":
        continue
    for ev in json.loads(r["body"]):
        if ev.get("eventType") != "Microsoft.KeyVault.CertificateNearExpiry" or \
                ev.get("subject") != name:
            continue
        n += 1
        d = ev["data"]
        want = "sha256=" + hmac.new(secret.encode(), r["body"].encode(), hashlib.sha256).hexdigest()
        last = (d["Id"], d["VaultName"], d["ObjectType"], d["ObjectName"], d["Version"],
                str(d["NBF"]), str(d["EXP"]),
                "signed" if r["headers"].get("aeg-signature") == want else "badsig")
print(n, *last)
EOF
}

# mkcert NAME LIFETIME-ACTION-JSON -> CID (the version's id), CVER, NBF, EXP
mkcert() {
    req POST "$V/certificates/$1/create?api-version=7.5" "${AUTH[@]}" --data-binary \
        "{\"policy\":{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC\",\"crv\":\"P-256\"},\"x509_props\":{\"subject\":\"CN=$1\",\"validity_months\":1},\"lifetime_actions\":[$2]}}"
    expect_eq "create certificate $1" 202 "$CODE"
    req GET "$V/certificates/$1?api-version=7.5" "${AUTH[@]}"
    expect_eq "get certificate $1" 200 "$CODE"
    read -r CID CVER NBF EXP < <(jget "$RB" '"%s %s %d %d" % (d["id"], d["id"].rsplit("/",1)[1], d["attributes"]["nbf"], d["attributes"]["exp"])')
}
mkcert cn-pct '{"trigger":{"lifetime_percentage":30},"action":{"action_type":"EmailContacts"}}'
P_ID=$CID P_VER=$CVER P_NBF=$NBF P_EXP=$EXP
expect_eq "cn-pct: one 31 s month, not backdated" 31 "$((P_EXP - P_NBF))"
mkcert cn-days '{"trigger":{"days_before_expiry":14},"action":{"action_type":"EmailContacts"}}'
D_ID=$CID D_VER=$CVER D_NBF=$NBF D_EXP=$EXP
mkcert cn-auto '{"trigger":{"lifetime_percentage":30},"action":{"action_type":"AutoRenew"}}'
A_VER=$CVER

# ---- wait for both (cn-pct at nbf + 9.3 s, cn-days at exp - 14 s) ------------------------------
P_AT="" D_AT=""
for ((i = 0; i < 150; i++)); do
    [ -z "$P_AT" ] && [ "$(near cn-pct | cut -d' ' -f1)" -ge 1 ] && P_AT=$(date +%s)
    [ -z "$D_AT" ] && [ "$(near cn-days | cut -d' ' -f1)" -ge 1 ] && D_AT=$(date +%s)
    [ -n "$P_AT" ] && [ -n "$D_AT" ] && break
    sleep 0.2
done
VN=$COFFER_VAULT_NAME
expect_eq "lifetime_percentage 30: CertificateNearExpiry with the version's data, signed" \
    "1 $P_ID $VN Certificate cn-pct $P_VER $P_NBF $P_EXP signed" "$(near cn-pct)"
[ -n "$P_AT" ] && [ "$P_AT" -ge $((P_NBF + 9)) ] && [ "$P_AT" -le $((P_NBF + 14)) ] &&
    pass "lifetime_percentage 30: it arrived at 30 % of the lifetime (+$((P_AT - P_NBF)) s of 31)" ||
    fail "lifetime_percentage 30: it arrived at 30 % of the lifetime (at +$((${P_AT:-0} - P_NBF)) s)"
expect_eq "days_before_expiry 14: CertificateNearExpiry with the version's data, signed" \
    "1 $D_ID $VN Certificate cn-days $D_VER $D_NBF $D_EXP signed" "$(near cn-days)"
[ -n "$D_AT" ] && [ "$D_AT" -ge $((D_EXP - 14)) ] && [ "$D_AT" -le $((D_EXP - 9)) ] &&
    pass "days_before_expiry 14: it arrived 14 policy days (14 s) before exp ($((D_EXP - D_AT)) s before)" ||
    fail "days_before_expiry 14: it arrived 14 policy days (14 s) before exp ($((D_EXP - ${D_AT:-0})) s before)"
sleep 3 # three more janitor runs
expect_eq "once per version (after 3 more janitor runs)" "1 1" \
    "$(near cn-pct | cut -d' ' -f1) $(near cn-days | cut -d' ' -f1)"
expect_eq "AutoRenew: no CertificateNearExpiry" 0 "$(near cn-auto | cut -d' ' -f1)"
req GET "$V/certificates/cn-auto?api-version=7.5" "${AUTH[@]}"
[ "$(jget "$RB" 'd["id"].rsplit("/",1)[1]')" != "$A_VER" ] && pass "AutoRenew: renewed" ||
    fail "AutoRenew: renewed"
req GET "$V/certificates/cn-pct?api-version=7.5" "${AUTH[@]}"
expect_eq "EmailContacts does not renew" "$P_VER" "$(jget "$RB" 'd["id"].rsplit("/",1)[1]')"

# ---- the log -----------------------------------------------------------------------------------
expect_eq "the log: one EmailContacts line for cn-pct (1 contact, event sent)" 1 \
    "$(grep -c "certificate cn-pct (version $P_VER) in vault $VN is near expiry (EmailContacts: 1 contact; CertificateNearExpiry sent)" "$SRV_LOG")"
expect_eq "the log carries no contact address" 0 "$(grep -c 'certops@example.com' "$SRV_LOG")"
e2e_stop
exit 0
