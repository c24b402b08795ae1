#!/usr/bin/env bash
# auditstream suite: streaming the audit log of a real cofferd (issue 11, server/auditstream.h).
#
#   syslog      a real rsyslogd started here (never the system's: its own config, work dir,
#               pid file, no /dev/log) listening on TCP (octet-counted framing) and on a unix
#               datagram socket, writing each message's raw form (%rawmsg%) to a file; the
#               records of the dev vault arrive once each, in chain order per lane, as
#               RFC 5424 messages with the coffer@32473 structured data and the JSON record
#   https       a Python HTTPS receiver (certificate from this suite's own CA, bearer token
#               checked) that is down at first: records queue (the audit files, pinned while
#               time rotation and keep_files=2 retention remove them from the audit dir),
#               cofferd restarts in between, then the receiver comes up and everything drains
#               in order with no record lost or sent twice and no gap
#   rotation    audit_rotate_seconds rotates the lanes; a rotated file copied on its own
#               verifies with only the public checkpoint key (`coffer audit verify`)
#   settings    `coffer monitor diagnostic-settings create` with AuditEvent enabled sends the
#               vault's records to the syslog stream; with it disabled they stop (the HTTPS
#               stream, scope=all, still gets them); list and delete
set -uo pipefail
. "$E2E_DIR/lib.sh"
W="$E2E_WORK/$SUITE"
mkdir -p "$W"
export COFFER_CONFIG_DIR="$W/cli"
mkdir -p "$COFFER_CONFIG_DIR"
RS_PID="" RX_PID=""
stop_pid() { [ -n "$1" ] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() { stop_pid "$RX_PID"; stop_pid "$RS_PID"; e2e_cleanup; }
trap cleanup EXIT

RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
if [ ! -x "$RSYSLOGD" ]; then
    fail "rsyslogd is installed (tools/install-deps.sh installs rsyslog)"
    exit 0
fi
if [ ! -x "$COFFER" ]; then
    fail "coffer CLI binary exists at $COFFER"
    exit 0
fi

# wait_until SECONDS CMD...: polls CMD every 0.2 s
wait_until() {
    local t=$1 i
    shift
    for ((i = 0; i < t * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# ---- rsyslogd (TCP + unix socket, raw messages to files) ---------------------------------
TCP_PORT=$(free_port)
cat >"$W/rsyslog.conf" <<EOF
global(workDirectory="$W" maxMessageSize="256k")
module(load="imuxsock" SysSock.Use="off")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="tcp") { action(type="omfile" file="$W/syslog-tcp.log" template="raw") }
ruleset(name="unix") { action(type="omfile" file="$W/syslog-unix.log" template="raw") }
input(type="imtcp" address="127.0.0.1" port="$TCP_PORT" ruleset="tcp")
input(type="imuxsock" Socket="$W/log.sock" ruleset="unix")
EOF
"$RSYSLOGD" -n -f "$W/rsyslog.conf" -i "$W/rsyslog.pid" >"$W/rsyslogd.out" 2>&1 &
RS_PID=$!
if wait_until 10 test -S "$W/log.sock"; then pass "rsyslogd started (tcp $TCP_PORT, unix socket)"; else
    fail "rsyslogd started ($(head -c 300 "$W/rsyslogd.out"))"; exit 0; fi

# ---- the HTTPS receiver's CA and certificate ------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=e2e-ca \
    -keyout "$W/ca.key" -out "$W/ca.pem" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$W/rx.key" -out "$W/rx.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$W/rx.ext"
openssl x509 -req -in "$W/rx.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
    -extfile "$W/rx.ext" -out "$W/rx.pem" >/dev/null 2>&1
[ -s "$W/rx.pem" ] && pass "receiver certificate issued by the suite's CA" ||
    fail "receiver certificate issued by the suite's CA"
RX_PORT=$(free_port)
printf 'e2e-stream-token-%s\n' "$RANDOM$RANDOM" >"$W/bearer"
chmod 600 "$W/bearer"
cat >"$W/rx.py" <<'EOF'
import http.server, json, ssl, sys
port, cert, key, out, bearer = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
tok = open(bearer).read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Authorization") != "Bearer " + tok:
            self.send_response(401); self.end_headers(); return
        try:
            recs = json.loads(body)
            assert isinstance(recs, list)
        except Exception:
            self.send_response(400); self.end_headers(); return
        with open(out, "a") as f:
            for r in recs:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
rx_start() {
    "$PY" "$W/rx.py" "$RX_PORT" "$W/rx.pem" "$W/rx.key" "$W/https.jsonl" "$W/bearer" \
        >>"$W/rx.out" 2>&1 &
    RX_PID=$!
}

# ---- cofferd with three streams ---------------------------------------------------------------
CFG="$W/cofferd.ini"
cat >"$CFG" <<EOF
[server]
audit_rotate_seconds = 2
audit_keep_files = 2
threads = 2

[stream.sl]
type = syslog
target = tcp:127.0.0.1:$TCP_PORT
hostname = e2e-host

[stream.su]
type = syslog
target = unix:$W/log.sock
scope = all

[stream.hs]
type = https
target = https://127.0.0.1:$RX_PORT/ingest
ca_file = $W/ca.pem
bearer_file = $W/bearer
scope = all
retry_max_s = 2
batch = 7
EOF
e2e_start main "" "" --config "$CFG" || exit 0
AD=$SRV_DIR/audit
V=$COFFER_VAULT_URL
VID="/subscriptions/$COFFER_SUBSCRIPTION_ID/resourceGroups/$COFFER_RESOURCE_GROUP/providers/Microsoft.KeyVault/vaults/$COFFER_VAULT_NAME"
TOKEN=$(get_token "$(vault_resource)/.default")
[ -n "$TOKEN" ] && pass "token" || fail "token"
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
c() { timeout 60 "$COFFER" "$@" >"$W/cli.out" 2>"$W/cli.err"; }

c login
expect_eq "coffer login" 0 "$?"
c monitor diagnostic-settings create --resource "$VID" --name to-siem \
    --logs '[{"category":"AuditEvent","enabled":true}]' --stream sl
expect_eq "monitor diagnostic-settings create (AuditEvent -> sl)" 0 "$?"
expect_eq "create answers the setting" "to-siem sl AuditEvent true" \
    "$(jget "$W/cli.out" '"%s %s %s %s" % (d["name"], d["streamName"], d["logs"][0]["category"], str(d["logs"][0]["enabled"]).lower())')"
c monitor diagnostic-settings list --resource "$VID"
expect_eq "list shows it" "to-siem" "$(jget "$W/cli.out" '",".join(x["name"] for x in d)')"
c monitor diagnostic-settings create --resource "$VID" --name bad \
    --logs '[{"category":"NoSuchCategory","enabled":true}]' --stream sl
[ "$?" -ne 0 ] && pass "an unknown category is refused" || fail "an unknown category is refused"
sleep 1.5 # the shippers re-read the settings at most every second

# put N: PUT secrets as-<from>..as-<to>
put() {
    local i
    for ((i = $1; i <= $2; i++)); do
        req PUT "$V/secrets/as-$i?api-version=7.4" "${AUTH[@]}" --data-binary '{"value":"stream test"}'
        [ "$CODE" = 200 ] || { fail "set as-$i ($CODE)"; return 1; }
    done
    return 0
}
put 1 20 && pass "20 secrets set"

# ---- syslog: every record once, in order per lane, RFC 5424 -----------------------------------
check_syslog() { # check_syslog FILE FROM TO -> prints "ok" or a reason
    "$PY" - "$@" <<'EOF'
import json, re, sys
path, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pat = re.compile(r'^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z) (\S+) cofferd (\d+) (\S+) '
                 r'\[coffer@32473 category="([^"]*)" operation="([^"]*)" resultType="([^"]*)" '
                 r'node="([^"]*)" seq="(\d+)"\] \ufeff(\{.*\})$')
try:
    lines = open(path, encoding="utf-8").read().splitlines()
except OSError:
    print("no file"); sys.exit()
seen, last, sets = set(), {}, {}
for l in lines:
    m = pat.match(l)
    if not m:
        print("not RFC 5424: " + l[:120]); sys.exit()
    pri, ts, host, pid, msgid, cat, op, res, node, seq, msg = m.groups()
    seq = int(seq)
    rec = json.loads(msg)
    if rec["chain"]["node"] != node or rec["chain"]["seq"] != seq or rec["operationName"] != msgid:
        print("SD does not match the record"); sys.exit()
    if not rec["time"].startswith(ts[:19]):
        print("timestamp %s vs %s" % (ts, rec["time"])); sys.exit()
    if (node, seq) in seen:
        print("duplicate %s/%d" % (node, seq)); sys.exit()
    seen.add((node, seq))
    if last.get(node, 0) >= seq:
        print("out of order in lane %s" % node); sys.exit()
    last[node] = seq
    u = rec.get("properties", {}).get("requestUri", "")
    m2 = re.search(r"/secrets/as-(\d+)(?:\?|$)", u)
    if m2 and op == "SecretSet":
        sets[int(m2.group(1))] = sets.get(int(m2.group(1)), 0) + 1
want = list(range(lo, hi + 1))
missing = [i for i in want if sets.get(i) != 1]
print("ok" if not missing else "missing %s" % missing[:5])
EOF
}
syslog_has() { [ "$(check_syslog "$1" "$2" "$3")" = ok ]; }
wait_until 20 syslog_has "$W/syslog-tcp.log" 1 20
expect_eq "tcp syslog (stream sl, per diagnostic setting): SecretSet as-1..20 once each, in order, RFC 5424" \
    ok "$(check_syslog "$W/syslog-tcp.log" 1 20)"
wait_until 20 syslog_has "$W/syslog-unix.log" 1 20
expect_eq "unix-socket syslog (stream su): SecretSet as-1..20 once each, in order, RFC 5424" \
    ok "$(check_syslog "$W/syslog-unix.log" 1 20)"
expect_eq "tcp syslog: the host name and PRI (log audit, info)" "1" \
    "$(grep -c '^<110>1 [^ ]* e2e-host cofferd ' "$W/syslog-tcp.log" | awk '{print ($1>0)?1:0}')"

# ---- HTTPS receiver down: the queue holds across rotation, retention and a restart --------
[ ! -s "$W/https.jsonl" ] && pass "nothing reached the HTTPS receiver while it is down" ||
    fail "nothing reached the HTTPS receiver while it is down"
put 21 30
sleep 2.5
put 31 40
e2e_stop
e2e_start main "$SRV_DIR" "$SRV_PORT" --config "$CFG" || exit 0
TOKEN=$(get_token "$(vault_resource)/.default")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
put 41 50
sleep 2.5
put 51 60
sleep 2.5
pinned_only=$("$PY" - "$AD" <<'EOF'
import glob, os, sys
d = sys.argv[1]
print(sum(1 for p in glob.glob(d + "/.stream.hs/audit-*.jsonl")
          if not os.path.exists(os.path.join(d, os.path.basename(p)))))
EOF
)
[ "${pinned_only:-0}" -gt 0 ] &&
    pass "retention removed files the stream still needs; its pins hold them ($pinned_only files)" ||
    fail "retention removed files the stream still needs; its pins hold them (got ${pinned_only:-?})"
rx_start
check_https() {
    "$PY" - "$W/https.jsonl" "$@" <<'EOF'
import json, re, sys
path, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    recs = [json.loads(l) for l in open(path, encoding="utf-8")]
except OSError:
    print("no file"); sys.exit()
seen, last, sets = set(), {}, {}
for r in recs:
    if r.get("kind") == "gap":
        print("gap record: %s" % r.get("reason")); sys.exit()
    c = r["chain"]
    k = (c["node"], c["seq"])
    if k in seen:
        print("duplicate %s/%d" % k); sys.exit()
    seen.add(k)
    if last.get(c["node"], 0) >= c["seq"]:
        print("out of order in lane %s" % c["node"]); sys.exit()
    last[c["node"]] = c["seq"]
    m = re.search(r"/secrets/as-(\d+)(?:\?|$)", r.get("properties", {}).get("requestUri", ""))
    if m and r["operationName"] == "SecretSet":
        sets[int(m.group(1))] = sets.get(int(m.group(1)), 0) + 1
missing = [i for i in range(lo, hi + 1) if sets.get(i) != 1]
print("ok" if not missing else "missing %s" % missing[:5])
EOF
}
https_has() { [ "$(check_https 1 60)" = ok ]; }
wait_until 40 https_has
expect_eq "https: after the outage and a restart, as-1..60 drained once each, in order per lane, no gap" \
    ok "$(check_https 1 60)"
[ ! -e "$AD/.stream.hs/gaps.jsonl" ] && pass "no gap event recorded" ||
    fail "no gap event recorded ($(head -c 300 "$AD/.stream.hs/gaps.jsonl"))"
wait_until 10 "$PY" - "$AD" <<'EOF' >/dev/null
import glob, os, sys
d = sys.argv[1]
sys.exit(1 if any(not os.path.exists(os.path.join(d, os.path.basename(p)))
                  for p in glob.glob(d + "/.stream.hs/audit-*.jsonl")) else 0)
EOF
expect_eq "shipped files are unpinned" 0 "$?"

# ---- diagnostic settings: AuditEvent disabled for the vault stops its records on sl -----------
c monitor diagnostic-settings create --resource "$VID" --name to-siem \
    --logs '[{"category":"AuditEvent","enabled":false}]' --stream sl
expect_eq "diagnostic setting updated: AuditEvent disabled" 0 "$?"
sleep 1.5
put 61 65
https_has61() { [ "$(check_https 61 65)" = ok ]; }
wait_until 20 https_has61
expect_eq "the scope=all HTTPS stream still gets as-61..65" ok "$(check_https 61 65)"
sleep 1
expect_eq "the syslog stream sl got none of as-61..65" 0 \
    "$(grep -cE '/secrets/as-6[1-5]"' "$W/syslog-tcp.log")"
c monitor diagnostic-settings delete --resource "$VID" --name to-siem
expect_eq "diagnostic setting deleted" 0 "$?"
c monitor diagnostic-settings list --resource "$VID"
expect_eq "list is empty after delete" "0" "$(jget "$W/cli.out" 'len(d)')"

# ---- rotation by time: a rotated file verifies on its own with the public key ---------------
e2e_stop
rotated=$("$PY" - "$AD" <<'EOF'
import glob, json, sys
for p in sorted(glob.glob(sys.argv[1] + "/audit-*.jsonl")):
    last = open(p, encoding="utf-8").read().splitlines()[-1]
    if '"kind":"checkpoint","final":true' in last:
        print(p); break
EOF
)
nfiles=$(ls "$AD"/audit-*.jsonl 2>/dev/null | wc -l)
[ -n "$rotated" ] && pass "time rotation left rotated files with a final checkpoint ($nfiles files)" ||
    fail "time rotation left rotated files with a final checkpoint"
if [ -n "$rotated" ]; then
    mkdir -p "$W/one"
    cp "$rotated" "$W/one/"
    timeout 60 "$COFFER" audit verify --dir "$W/one" --public-key "$AD/audit-signing-key.jwk" \
        >"$W/verify.out" 2>&1
    expect_eq "coffer audit verify: one rotated file on its own, public key only" 0 "$?"
    expect_eq "its signed checkpoints verified" true \
        "$(jget "$W/verify.out" 'str(d["signaturesChecked"] and d["intact"]).lower()')"
fi
grep -q "auditstream" "$SRV_LOG" && pass "cofferd logged its streams" || fail "cofferd logged its streams"
exit 0
