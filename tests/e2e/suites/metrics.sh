#!/usr/bin/env bash
# metrics suite: the admin listener of a fresh cofferd (metrics_listen on a free port, alert
# rules from a config file checked every second).
#
#   health      /healthz 200 "ok"; /readyz 200 {"ready":true}; an unknown path 404; POST refused
#   exposition  /metrics parses as Prometheus text 0.0.4 (a small parser: HELP/TYPE before
#               samples, label syntax, numeric values, histogram buckets cumulative and ending
#               in +Inf = _count); after a few requests the request counters show them per
#               vault, operation and status, tokens issued count, store commits are timed,
#               process figures are there; promtool check metrics when installed
#   prometheus  a real Prometheus server (Debian's prometheus, loopback, 1 s scrapes) scrapes the
#               admin listener: up{job="coffer"} 1, and its query API returns the vault's
#               SecretGet api hits, the latency histogram count and a sum by status class
#   alerts      with the vault's firewall closed, 403s make the rule
#               increase(coffer_api_requests_total{status="403"}[1m]) > 2 fire: the log line
#               "alert firing: forbidden" and coffer_alerts_fired_total{rule="forbidden"} 1;
#               a bad rule stops start-up with the section and position named
#   readiness   the active audit file moved away: /readyz 503 with a JSON reason naming audit,
#               200 again once it is back
#   secrets     no secret value, client secret or token in the exposition
set -uo pipefail
. "$E2E_DIR/lib.sh"
trap 'e2e_cleanup' EXIT

MPORT=$(free_port)
CONF="$E2E_WORK/$SUITE.ini"
cat >"$CONF" <<EOC
[server]
alert_interval_s = 1
metrics_listen = 127.0.0.1:$MPORT

[alert.forbidden]
expr = increase(coffer_api_requests_total{status="403"}[1m]) > 2

[alert.unavailable]
expr = availability < 99%
for = 1m
EOC
e2e_start main "" "" --config "$CONF" || exit 0
M="http://127.0.0.1:$MPORT"
MB="$E2E_WORK/$SUITE.metrics"

# mget PATH: GET on the admin listener; CODE, body in $MB.
mget() {
    CODE=$(curl -sS -o "$MB" -w '%{http_code}' --max-time 10 "$M$1" 2>>"$E2E_WORK/$SUITE.curl-errors")
    [ -n "$CODE" ] || CODE=000
}

# parse_metrics FILE: checks the text format; prints "ok" or the first problem, and writes one
# line per sample "name{sorted labels} value" into FILE.parsed.
parse_metrics() {
    "$PY" - "$1" <<'PYEOF'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
types, helps, samples, problems = {}, set(), [], []
fam = None
def family_of(n):
    for suf in ("_bucket", "_sum", "_count"):
        if n.endswith(suf) and types.get(n[: -len(suf)]) == "histogram":
            return n[: -len(suf)]
    return n
if not text.endswith("\n"):
    problems.append("no final newline")
for ln, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("# HELP "):
        m = re.match(r"# HELP (%s) (.*)$" % name_re, line)
        if not m:
            problems.append("line %d: bad HELP" % ln); continue
        helps.add(m.group(1)); continue
    if line.startswith("# TYPE "):
        m = re.match(r"# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % name_re, line)
        if not m:
            problems.append("line %d: bad TYPE" % ln); continue
        if m.group(1) in types:
            problems.append("line %d: TYPE twice" % ln)
        types[m.group(1)] = m.group(2); fam = m.group(1); continue
    if line.startswith("#") or not line:
        problems.append("line %d: stray line" % ln); continue
    m = re.match(r"(%s)(\{.*\})? (\S+)$" % name_re, line)
    if not m:
        problems.append("line %d: bad sample %r" % (ln, line[:80])); continue
    name, lab, val = m.group(1), m.group(2) or "", m.group(3)
    if family_of(name) != fam:
        problems.append("line %d: %s outside its family" % (ln, name))
    labels = {}
    if lab:
        body, pos = lab[1:-1], 0
        while pos < len(body):
            lm = label_re.match(body, pos)
            if not lm:
                problems.append("line %d: bad labels" % ln); break
            labels[lm.group(1)] = lm.group(2); pos = lm.end()
    try:
        v = float(val)
    except ValueError:
        problems.append("line %d: bad value" % ln); continue
    samples.append((name, labels, v))
hist = {}
for name, labels, v in samples:
    if name.endswith("_bucket"):
        key = (name[:-7], tuple(sorted((k, x) for k, x in labels.items() if k != "le")))
        hist.setdefault(key, []).append((labels.get("le"), v))
counts = {(n[:-6], tuple(sorted(l.items()))): v for n, l, v in samples if n.endswith("_count")}
for key, bs in hist.items():
    vals = [v for _, v in bs]
    if bs[-1][0] != "+Inf":
        problems.append("%s: last bucket is not +Inf" % key[0])
    if vals != sorted(vals):
        problems.append("%s: buckets not cumulative" % key[0])
    if counts.get(key) != vals[-1]:
        problems.append("%s: +Inf != _count" % key[0])
for t in types:
    if t not in helps:
        problems.append("%s: TYPE without HELP" % t)
with open(path + ".parsed", "w") as f:
    for name, labels, v in samples:
        f.write("%s{%s} %r\n" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels.items())), v))
print(problems[0] if problems else "ok")
PYEOF
}
# val SERIES: the value of a parsed series (labels sorted by name), "" if absent.
val() { grep -F -- "$1 " "$MB.parsed" | head -n 1 | awk '{print $NF}'; }

# ---- health ---------------------------------------------------------------------------------
mget /healthz
expect_eq "/healthz 200 ok" "200 ok" "$CODE $(cat "$MB")"
mget /readyz
expect_eq "/readyz 200 ready" "200 true" "$CODE $(jget "$MB" 'd["ready"]')"
mget /nope
expect_eq "unknown admin path 404" 404 "$CODE"
CODE=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$M/metrics" 2>/dev/null)
expect_eq "POST on the admin listener refused (501)" 501 "$CODE"

# ---- some traffic ---------------------------------------------------------------------------
SUB=$COFFER_SUBSCRIPTION_ID
VAULT=$COFFER_VAULT_NAME
VURL=$COFFER_VAULT_URL
VTOK=$(get_token "$(vault_resource)/.default")
MTOK=$(get_token "$COFFER_MANAGEMENT_URL/.default")
if [ -n "$VTOK" ] && [ -n "$MTOK" ]; then pass "tokens issued"; else fail "tokens issued"; fi
req PUT "$VURL/secrets/m1?api-version=7.4" -H "Authorization: Bearer $VTOK" \
    -H 'Content-Type: application/json' --data '{"value":"metrics-e2e-secret-value-7f3a"}'
expect_eq "secret set" 200 "$CODE"
for _ in 1 2 3; do
    req GET "$VURL/secrets/m1?api-version=7.4" -H "Authorization: Bearer $VTOK"
done
expect_eq "secret get" 200 "$CODE"
req GET "$VURL/secrets/nope?api-version=7.4" -H "Authorization: Bearer $VTOK"
expect_eq "missing secret 404" 404 "$CODE"
req GET "$VURL/secrets/m1?api-version=7.4"
expect_eq "no token 401" 401 "$CODE"

mget /metrics
expect_eq "/metrics 200" 200 "$CODE"
expect_eq "/metrics parses as text format 0.0.4" ok "$(parse_metrics "$MB")"
ctype=$(curl -sS -o /dev/null -w '%{content_type}' "$M/metrics")
expect_eq "/metrics Content-Type" "text/plain; version=0.0.4; charset=utf-8" "$ctype"
expect_eq "SecretGet 200 counted" 3.0 \
    "$(val "coffer_api_requests_total{operation=\"SecretGet\",status=\"200\",vault=\"$VAULT\"}")"
expect_eq "SecretGet 404 counted" 1.0 \
    "$(val "coffer_api_requests_total{operation=\"SecretGet\",status=\"404\",vault=\"$VAULT\"}")"
expect_eq "SecretSet 200 counted" 1.0 \
    "$(val "coffer_api_requests_total{operation=\"SecretSet\",status=\"200\",vault=\"$VAULT\"}")"
expect_eq "latency histogram count for SecretGet" 4.0 \
    "$(val "coffer_api_latency_seconds_count{operation=\"SecretGet\",vault=\"$VAULT\"}")"
expect_eq "tokens issued" 2.0 "$(val 'coffer_tokens_issued_total{}')"
expect_eq "availability of the vault" 1.0 "$(val "coffer_availability_ratio{vault=\"$VAULT\"}")"
c=$(val 'coffer_store_commit_seconds_count{}')
if "$PY" -c "import sys; sys.exit(0 if float('${c:-0}') >= 1 else 1)"; then
    pass "store commits timed ($c)"
else
    fail "store commits timed (got '$c')"
fi
for f in process_resident_memory_bytes process_open_fds process_threads process_cpu_seconds_total \
    process_start_time_seconds coffer_uptime_seconds coffer_audit_queue_depth coffer_sealed; do
    if [ -n "$(val "$f{}")" ]; then pass "$f present"; else fail "$f present"; fi
done
if command -v promtool >/dev/null 2>&1; then
    if promtool check metrics <"$MB" >"$E2E_WORK/$SUITE.promtool" 2>&1; then
        pass "promtool check metrics"
    else
        fail "promtool check metrics ($(head -c 300 "$E2E_WORK/$SUITE.promtool" | tr '\n' ' '))"
    fi
fi
# ---- a real Prometheus server scrapes the admin listener --------------------------------------
# (Debian's prometheus: loopback only, its own TSDB dir, 1 s scrapes; the query API must
# return the same counter the exposition showed)
if command -v prometheus >/dev/null 2>&1; then
    PP=$(free_port)
    PD="$E2E_WORK/$SUITE-prometheus"
    mkdir -p "$PD/data"
    cat >"$PD/prometheus.yml" <<EOP
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: coffer
    scheme: http
    static_configs:
      - targets: ["127.0.0.1:$MPORT"]
EOP
    prometheus --config.file="$PD/prometheus.yml" --storage.tsdb.path="$PD/data" \
        --web.listen-address="127.0.0.1:$PP" >"$PD/log" 2>&1 &
    PROM_PID=$!
    trap 'e2e_cleanup; kill "$PROM_PID" 2>/dev/null' EXIT
    # pq EXPR: the first sample's value of an instant query ("" while there is none)
    pq() {
        curl -sS --max-time 5 -G "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
            "$PY" -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
    }
    got="" up=""
    for ((i = 0; i < 150; i++)); do
        up=$(pq 'up{job="coffer"}')
        got=$(pq "coffer_api_requests_total{vault=\"$VAULT\",operation=\"SecretGet\",status=\"200\"}")
        [ "$up" = 1 ] && [ -n "$got" ] && break
        kill -0 "$PROM_PID" 2>/dev/null || break
        sleep 0.2
    done
    expect_eq "Prometheus scrapes the admin listener (up{job=coffer})" 1 "$up"
    expect_eq "Prometheus query API: SecretGet 200 api hits of the vault" 3 "$got"
    expect_eq "Prometheus query API: the latency histogram count of SecretGet" 4 \
        "$(pq "coffer_api_latency_seconds_count{vault=\"$VAULT\",operation=\"SecretGet\"}")"
    expect_eq "Prometheus query API: sum of the vault's answers by status class 4xx" 2 \
        "$(pq "sum(coffer_api_requests_total{vault=\"$VAULT\",status=~\"4..\"})")"
    [ "$up" = 1 ] || sed 's/^/  | /' "$PD/log" | tail -n 15
    kill "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
    trap 'e2e_cleanup' EXIT
else
    fail "prometheus installed (Debian package prometheus; tools/install-deps.sh)"
fi
if grep -q -e "metrics-e2e-secret-value-7f3a" -e "$AZURE_CLIENT_SECRET" -e "${VTOK:0:40}" "$MB"; then
    fail "no secret value, client secret or token in /metrics"
else
    pass "no secret value, client secret or token in /metrics"
fi

# ---- an alert fires after 403s --------------------------------------------------------------
req PATCH "$COFFER_MANAGEMENT_URL/subscriptions/$SUB/resourceGroups/$COFFER_RESOURCE_GROUP/providers/Microsoft.KeyVault/vaults/$VAULT?api-version=2023-07-01" \
    -H "Authorization: Bearer $MTOK" -H 'Content-Type: application/json' \
    --data '{"properties":{"networkAcls":{"defaultAction":"Deny","bypass":"AzureServices"}}}'
expect_eq "vault firewall closed (PATCH)" 200 "$CODE"
for _ in 1 2 3 4; do
    req GET "$VURL/secrets/m1?api-version=7.4" -H "Authorization: Bearer $VTOK"
done
expect_eq "reads refused by the firewall" 403 "$CODE"
fired=""
for ((i = 0; i < 50; i++)); do
    if grep -q "alert firing: forbidden" "$SRV_LOG"; then fired=1; break; fi
    sleep 0.2
done
if [ -n "$fired" ]; then
    pass "alert rule fired (log line 'alert firing: forbidden')"
else
    fail "alert rule fired (no 'alert firing: forbidden' in the log within 10 s)"
fi
mget /metrics
parse_metrics "$MB" >/dev/null
expect_eq "coffer_alerts_fired_total{rule=forbidden}" 1.0 \
    "$(val 'coffer_alerts_fired_total{rule="forbidden"}')"
expect_eq "403s counted" 4.0 \
    "$(val "coffer_api_requests_total{operation=\"SecretGet\",status=\"403\",vault=\"$VAULT\"}")"
if grep -q "alert firing: unavailable" "$SRV_LOG"; then
    fail "availability rule stays quiet (no 5xx)"
else
    pass "availability rule stays quiet (no 5xx)"
fi

# ---- readiness follows the audit log --------------------------------------------------------
if ls "$SRV_DIR"/audit/audit-*.jsonl >/dev/null 2>&1; then
    mkdir -p "$E2E_WORK/$SUITE-moved"
    mv "$SRV_DIR"/audit/audit-*.jsonl "$E2E_WORK/$SUITE-moved/"
    mget /readyz
    expect_eq "/readyz 503 when the active audit file is gone" "503 false" \
        "$CODE $(jget "$MB" 'd["ready"]')"
    case "$(jget "$MB" 'd["reason"]')" in
        audit:*) pass "/readyz reason names the audit log" ;;
        *) fail "/readyz reason names the audit log (got '$(cat "$MB")')" ;;
    esac
    mv "$E2E_WORK/$SUITE-moved"/audit-*.jsonl "$SRV_DIR/audit/"
    mget /readyz
    expect_eq "/readyz 200 again once the file is back" 200 "$CODE"
else
    fail "audit files in $SRV_DIR/audit"
fi
e2e_stop

# ---- a bad rule stops start-up --------------------------------------------------------------
printf '[alert.bad]\nexpr = rate(coffer_api_requests_total) > 1\n' >"$E2E_WORK/$SUITE-bad.ini"
out=$(timeout 30 "$COFFERD" --dev --data-dir "$E2E_WORK/$SUITE-bad-data" --port "$(free_port)" \
    --metrics-listen "" --config "$E2E_WORK/$SUITE-bad.ini" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
    pass "a bad alert rule stops start-up (exit $rc)"
else
    fail "a bad alert rule stops start-up (exit $rc)"
fi
case "$out" in
    *"[alert.bad]: expr: position 31: expected '['"*) pass "the error names the rule and the position" ;;
    *) fail "the error names the rule and the position (got: $(echo "$out" | grep -i alert | head -n 2))" ;;
esac
exit 0
