#!/usr/bin/env bash
# tls.sh [--short|--soak]: the TLS configuration of a dev cofferd checked with Debian's
# testssl.sh (/usr/bin/testssl, package testssl.sh) on loopback (issue 9: no finding rated
# MEDIUM or worse). --short (`make test`, ~70 s): protocols, cipher categories, forward secrecy,
# server preference, server defaults (certificate, tickets, resumption), HTTP headers and every
# vulnerability check. --soak (`make soak`, ~2 min): testssl's full default run (adds each cipher
# per protocol and the client simulations).
#
# Severity: a finding with severity MEDIUM, HIGH or CRITICAL fails - no exceptions. WARN
# entries (testssl's own scan problems, e.g. a check that could not connect on a busy machine,
# or --phone-out's pwnedkeys.com lookup on a machine without internet) are printed, not
# counted; a FATAL scan problem fails.
#
# Revocation (testssl's cert_revocation is HIGH when a certificate has neither a CRL nor an
# OCSP URI): the dev server certificate names the dev CA's CRL, http://127.0.0.1:MPORT/crl/
# dev-ca.crl on the metrics listener (README "Dev TLS and its CRL"). Before the scan this script
# reads the URL from the certificate cofferd serves, fetches it with curl (200, Content-Type
# application/pkix-crl), checks it with `openssl crl -verify` against the dev CA (signature,
# issuer, nextUpdate in the future) and the served certificate with `openssl verify -crl_check`.
# testssl runs with --phone-out so it fetches the CRL itself and verifies the certificate
# against it: its cert_crlRevoked result must be "not revoked" (without --phone-out testssl
# checks only that a distribution point is present).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
done_() {
    [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    echo "$pass passed, $fail failed"
    finish $((fail > 0))
}

TESTSSL=${TESTSSL:-$(command -v testssl || command -v testssl.sh || true)}
if [ -z "$TESTSSL" ]; then
    bad "testssl: not installed (apt-get install testssl.sh)"
    done_
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MPORT=$(free_port)
"$COFFERD" --dev --data-dir "$WORK/data" --port "$PORT" --metrics-listen "127.0.0.1:$MPORT" \
    --log-level warn >"$WORK/cofferd.out" 2>&1 &
PID=$!
for _ in $(seq 1 300); do [ -f "$WORK/data/env" ] && break; sleep 0.1; done
if [ ! -f "$WORK/data/env" ]; then
    bad "cofferd did not start"
    done_
fi

# ---- the dev CA's CRL, from the certificate cofferd serves ----
CA=$WORK/data/tls/ca.pem
openssl s_client -connect "127.0.0.1:$PORT" -servername coffer.vault.localhost </dev/null \
    2>/dev/null | openssl x509 -out "$WORK/served.pem" 2>/dev/null
crl_url=$(openssl x509 -in "$WORK/served.pem" -noout -ext crlDistributionPoints 2>/dev/null |
    sed -n 's/^ *URI://p')
want_url="http://127.0.0.1:$MPORT/crl/dev-ca.crl"
if [ "$crl_url" = "$want_url" ] &&
    ! openssl x509 -in "$WORK/served.pem" -noout -ext authorityInfoAccess 2>/dev/null | grep -q OCSP; then
    ok "crl: the served certificate names $crl_url (and no OCSP URI nothing would answer)"
else
    bad "crl: the served certificate's CRL distribution point is '$crl_url', want $want_url"
fi
ctype=$(curl -sS --noproxy '*' -o "$WORK/crl.der" -w '%{http_code} %{content_type}' "$crl_url" 2>&1)
if [ "$ctype" = "200 application/pkix-crl" ]; then
    ok "crl: GET $crl_url: 200 application/pkix-crl, $(stat -c %s "$WORK/crl.der") bytes"
else
    bad "crl: GET ${crl_url:-(no URL)}: $(echo $ctype)"
fi
if openssl crl -inform DER -in "$WORK/crl.der" -CAfile "$CA" -verify -noout 2>&1 | grep -qx 'verify OK' &&
    openssl crl -inform DER -in "$WORK/crl.der" -noout -issuer | grep -q 'CN = Coffer Dev CA$' &&
    openssl crl -inform DER -in "$WORK/crl.der" -out "$WORK/crl.pem" &&
    next=$(openssl crl -in "$WORK/crl.pem" -noout -nextupdate | sed 's/^nextUpdate=//') &&
    [ "$(date -d "$next" +%s)" -gt "$(date +%s)" ]; then
    ok "crl: signed by the dev CA, issuer Coffer Dev CA, nextUpdate $next"
else
    bad "crl: $WORK/crl.der does not verify under the dev CA or is past its nextUpdate"
fi
if openssl verify -crl_check -CAfile "$CA" -CRLfile "$WORK/crl.pem" "$WORK/served.pem" >"$WORK/verify.txt" 2>&1; then
    ok "crl: openssl verify -crl_check: the served certificate is valid and not revoked"
else
    bad "crl: openssl verify -crl_check: $(head -c 300 "$WORK/verify.txt" | tr '\n' ' ')"
fi

if [ "$MODE" = soak ]; then checks=(); else checks=(-p -s -f -P -S -h -U); fi
start=$SECONDS
# --ip: no DNS lookup (the name is only the SNI and Host); --add-ca: the dev CA is trusted, so
# the chain-of-trust check is about the chain, not about an unknown root; --phone-out: fetch
# the CRL and check the certificate against it.
"$TESTSSL" --quiet --warnings batch --color 0 --nodns min --phone-out "${checks[@]}" \
    --add-ca "$WORK/data/tls/ca.pem" --ip 127.0.0.1 --jsonfile "$WORK/testssl.json" \
    "coffer.vault.localhost:$PORT" >"$WORK/testssl.txt" 2>&1
st=$?
echo "     testssl ran $((SECONDS - start)) s (exit $st); report: $WORK/testssl.txt"

python3 - "$WORK/testssl.json" >"$WORK/verdict.txt" <<'PY'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception as e:  # no or broken JSON: the scan did not run
    print(f"bad scan: no JSON result ({e})")
    sys.exit(0)
ids = {r.get("id") for r in rows}
need = {"TLS1_2", "TLS1_3", "cipher_order", "cert_keySize", "heartbleed", "ROBOT"}
missing = sorted(need - ids)
if missing:
    print(f"bad scan: no result for {', '.join(missing)}")
for r in rows:
    sev, rid, fnd = r.get("severity", ""), r.get("id", ""), r.get("finding", "")
    if sev == "FATAL":
        print(f"bad scan: {rid}: {fnd}")
    elif sev == "WARN":
        print(f"warn {rid}: {fnd}")
    elif sev in ("MEDIUM", "HIGH", "CRITICAL"):
        print(f"bad {sev} {rid}: {fnd}")
    elif sev == "LOW":
        print(f"low {rid}: {fnd}")
# revocation: testssl saw the distribution point, fetched the CRL and found the leaf not revoked
crl = [r for r in rows if r.get("id", "").startswith("cert_crlDistributionPoints")]
rev = [r for r in rows if r.get("id", "").startswith("cert_crlRevoked")]
if not crl or crl[0].get("finding", "--") == "--":
    print("bad scan: no CRL distribution point in testssl's view of the certificate")
elif not rev or rev[0].get("finding") != "not revoked":
    got = f'{rev[0].get("severity")} {rev[0].get("finding")}' if rev else "no result"
    print(f"bad scan: cert_crlRevoked: {got} (want: not revoked)")
else:
    print(f'rev cert_crlDistributionPoints {crl[0].get("finding")}: {rev[0].get("finding")}')
print(f"summary {len(rows)} results")
PY
while read -r kind rest; do
    case $kind in
    bad) bad "testssl: $rest" ;;
    warn | low | rev) echo "     $kind $rest" ;;
    summary) echo "     testssl: $rest" ;;
    esac
done <"$WORK/verdict.txt"
grep -q '^summary' "$WORK/verdict.txt" || bad "testssl: its result could not be read"
grep -q '^bad' "$WORK/verdict.txt" || ok "testssl: no finding rated MEDIUM or worse (TLS 1.2/1.3, ciphers, forward secrecy, vulnerabilities, certificate and its revocation)"
done_
