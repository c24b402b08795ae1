#!/usr/bin/env bash
# Coffer end-to-end tests through the real clients (make test-e2e, make test-asan).
#
#   tests/e2e/run.sh <build-dir> [--subset] [--only SUITE[,SUITE...]]
#
# Suites (each starts its own cofferd --dev on a fresh data dir and a free port):
#   js        @azure/identity 4.13 + @azure/keyvault-secrets 4.11 + @azure/keyvault-keys 4.10.0 on
#             the system Node 20
#   js-next   @azure/identity 4.14 + @azure/keyvault-secrets 4.12 + @azure/keyvault-keys 4.10.2 on
#             Node 22 from npm
#   python    Debian python3-azure on /usr/bin/python3 (unittest)
#   az        Debian azure-cli 2.45 (login, az rest, get-access-token, az group)
#   cli       the coffer CLI from <build-dir>
#   identity  coffer ad/role commands, SP logins (CLI, python ClientSecretCredential, certificate)
#   locks     coffer lock / set-policy / delete-policy / network-rule: locks, access policies,
#             the firewall over IPv4 and IPv6
#   badinput  curl/openssl/python sockets: malformed and hostile requests
#   plaintext no secret value, client secret or token at rest or in the logs
#   audit     the audit log: records of typical operations, coffer audit verify/show, a
#             hand-edited record caught, fail closed with the audit directory gone
#   config    production mode: cofferd --config with an operator certificate
#   metrics   /metrics (text format, counts), /healthz, /readyz, an alert rule firing on 403s
#   auditstream  audit streaming: a real rsyslogd (TCP, unix socket) and an HTTPS receiver that
#             is down for a while (queue, restart, drain in order), time rotation, settings
#   events    Event Grid webhooks on loopback: handshake, both schemas, signature, retry,
#             restart mid-retry, NearExpiry/Expired, dead letters
#   keyevents key rotation policy Notify -> KeyNearExpiry on a webhook (1 s janitor); RSA signs on
#             the CPU pool whose clients hang up, and fail closed (503) with the audit dir gone
#   certevents certificate policy EmailContacts -> CertificateNearExpiry on a webhook (31 s test
#             month, 1 s janitor): once per version, at the trigger, the scan's data
#   certs     certificates: the private CA (coffer ca), CofferCA-issued chains verified with
#             openssl, backup/restore, managed key/secret (ACME against pebble when installed)
#   hsmcerts  RSA-HSM/EC-HSM certificates on a SoftHSM2 token: signed on the token (openssl
#             verifies), kid signs, no private key in the store or the secret, CSR flow
#   authz     authorization matrix (roles x operations x scopes, access policies), SDK sample,
#             token attacks, throttling on 127.0.0.1 and ::1 (three cofferd; about a minute)
# --subset (the ASan build): js core flow, badinput, python.
# Ends with "N passed, N failed"; exit status 1 on any failure.
set -uo pipefail

usage() { echo "usage: $0 <build-dir> [--subset] [--only SUITE,...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD_ARG=$1
shift
SUBSET=0
ONLY=""
while [ $# -gt 0 ]; do
    case $1 in
        --subset) SUBSET=1 ;;
        --only) ONLY=${2:-}; shift ;;
        *) usage ;;
    esac
    shift
done

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/../.." && pwd)
case $BUILD_ARG in
    /*) BUILD=$BUILD_ARG ;;
    *) BUILD=$PWD/$BUILD_ARG; [ -d "$BUILD" ] || BUILD=$REPO/$BUILD_ARG ;;
esac
COFFERD=$BUILD/cofferd
COFFER=$BUILD/coffer
E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/coffer-e2e.XXXXXX")
E2E_RESULTS=$E2E_WORK/results
: >"$E2E_RESULTS"
# Keys suites (keys.test.mjs, test_keys.py, the keys section of cli.sh): on unless
# COFFER_E2E_KEYS=0.
COFFER_E2E_KEYS=${COFFER_E2E_KEYS:-1}
export E2E_DIR E2E_WORK E2E_RESULTS COFFERD COFFER BUILD SUBSET COFFER_E2E_KEYS
T0=$(date +%s)

echo "== coffer e2e: build $BUILD, work dir $E2E_WORK$( ((SUBSET)) && echo ', subset')"

record() { echo "$1 $2" >>"$E2E_RESULTS"; }

# ---- client preparation (idempotent) ------------------------------------------------------
# npm ci runs only when node_modules is missing or package.json/package-lock.json changed
# since the last successful install (stamp = their sha256).
prepare_npm() {
    local dir=$E2E_DIR/$1 stamp want
    want=$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)
    stamp=$dir/node_modules/.coffer-e2e-stamp
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "-- $1: node_modules up to date"
        return 0
    fi
    echo "-- $1: npm ci"
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >"$E2E_WORK/npm-$1.log" 2>&1); then
        tail -n 30 "$E2E_WORK/npm-$1.log"
        return 1
    fi
    echo "$want" >"$stamp"
}

prep_ok=1
if [ ! -x "$COFFERD" ]; then
    record FAIL "setup: $COFFERD exists and is executable"
    prep_ok=0
fi
NODE20=$(command -v node || echo /usr/bin/node)
want_suite() {
    if [ -n "$ONLY" ]; then
        case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac
    fi
    if ((SUBSET)); then
        case $1 in js|badinput|python) return 0 ;; *) return 1 ;; esac
    fi
    return 0
}
if want_suite js || want_suite plaintext || want_suite authz; then
    prepare_npm js || { record FAIL "setup: npm ci in tests/e2e/js"; prep_ok=0; }
fi
if want_suite js-next; then
    if prepare_npm js-next && [ -x "$E2E_DIR/js-next/node_modules/node/bin/node" ]; then
        # Same test files, resolved against js-next/node_modules: ESM ignores NODE_PATH, so
        # the files are copied into a directory under js-next.
        rm -rf "$E2E_DIR/js-next/suite"
        mkdir -p "$E2E_DIR/js-next/suite"
        cp "$E2E_DIR"/js/*.mjs "$E2E_DIR/js-next/suite/"
    else
        record FAIL "setup: npm ci in tests/e2e/js-next (node 22 binary)"
        prep_ok=0
    fi
fi

# ---- suites -------------------------------------------------------------------------------
# Each suite runs in its own bash process (so a crash in one cannot take the others down) and
# records its checks in $E2E_RESULTS.
run_suite() {
    local name=$1 t1 rc before
    shift
    want_suite "$name" || return 0
    before=$(wc -l <"$E2E_RESULTS")
    t1=$(date +%s)
    echo
    echo "== suite $name"
    SUITE=$name "$@"
    rc=$?
    if [ "$rc" -ne 0 ] && ! tail -n +$((before + 1)) "$E2E_RESULTS" | grep -q '^FAIL'; then
        record FAIL "$name: suite script exited with status $rc"
    fi
    if [ "$(wc -l <"$E2E_RESULTS")" -eq "$before" ]; then
        record FAIL "$name: suite recorded no results"
    fi
    if tail -n +$((before + 1)) "$E2E_RESULTS" | grep -q '^FAIL'; then
        local log
        for log in "$E2E_WORK/$name"-main.*.log; do
            [ -f "$log" ] || continue
            echo "  ---- tail of $log ----"
            tail -n 25 "$log" | sed 's/^/  | /'
        done
    fi
    echo "== suite $name done in $(( $(date +%s) - t1 )) s:" \
        "$(tail -n +$((before + 1)) "$E2E_RESULTS" | grep -c '^PASS') passed," \
        "$(tail -n +$((before + 1)) "$E2E_RESULTS" | grep -c '^FAIL') failed"
}

if ((prep_ok)); then
    run_suite js       bash "$E2E_DIR/suites/js.sh" "$NODE20" "$E2E_DIR/js"
    run_suite js-next  bash "$E2E_DIR/suites/js.sh" "$E2E_DIR/js-next/node_modules/node/bin/node" "$E2E_DIR/js-next/suite"
    run_suite python   bash "$E2E_DIR/suites/python.sh"
    run_suite badinput bash "$E2E_DIR/suites/badinput.sh"
    run_suite az       bash "$E2E_DIR/suites/az.sh"
    run_suite cli      bash "$E2E_DIR/suites/cli.sh"
    run_suite identity bash "$E2E_DIR/suites/identity.sh"
    run_suite locks    bash "$E2E_DIR/suites/locks.sh"
    run_suite plaintext bash "$E2E_DIR/suites/plaintext.sh"
    run_suite audit    bash "$E2E_DIR/suites/audit.sh"
    run_suite config   bash "$E2E_DIR/suites/config.sh"
    run_suite authz    bash "$E2E_DIR/suites/authz.sh"
    run_suite oidc     bash "$E2E_DIR/suites/oidc.sh"
    run_suite metrics  bash "$E2E_DIR/suites/metrics.sh"
    run_suite events   bash "$E2E_DIR/suites/events.sh"
    run_suite keyevents bash "$E2E_DIR/suites/keyevents.sh"
    run_suite certevents bash "$E2E_DIR/suites/certevents.sh"
    run_suite auditstream bash "$E2E_DIR/suites/auditstream.sh"
    run_suite custody  bash "$E2E_DIR/suites/custody.sh"
    run_suite hsmcerts bash "$E2E_DIR/suites/hsmcerts.sh"
    run_suite certs    bash "$E2E_DIR/suites/certs.sh"
fi

# ---- summary ------------------------------------------------------------------------------
npass=$(grep -c '^PASS' "$E2E_RESULTS")
nfail=$(grep -c '^FAIL' "$E2E_RESULTS")
echo
if [ "$nfail" -gt 0 ]; then
    echo "== failures:"
    grep '^FAIL' "$E2E_RESULTS" | sed 's/^FAIL /  /'
fi
echo "(cofferd logs and client output kept in $E2E_WORK)"
echo "== e2e finished in $(( $(date +%s) - T0 )) s"
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ] || exit 1
# Data dirs of a green run hold only test keys and secrets: drop them; the logs stay.
find "$E2E_WORK" -mindepth 1 -maxdepth 1 -type d -name '*-data' -exec rm -rf {} +
exit 0
