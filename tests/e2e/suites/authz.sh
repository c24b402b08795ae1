#!/usr/bin/env bash
# authz suite: the authorization tests of issue 10 on three dev servers.
#
#   main      authz/matrix.py: every built-in role x every data-plane operation (secrets and
#             keys) x every scope kind through REST, then access policies; expectations computed
#             from the reference, not from the server's tables. Then js/authz.sdk.mjs (phase
#             rbac): a Secrets User through @azure/keyvault-secrets and a certificate login
#             through ClientCertificateCredential.
#   attack    --token-lifetime-s 1: authz/attacks.py runs in the background from the start (a
#             genuine token needs lifetime + 60 s skew to expire): forged, tampered, foreign,
#             deleted-principal and expired tokens and an expired client secret, each 401.
#   throttle  --throttle on --throttle-secret-create 5: authz/throttle.py on 127.0.0.1 and ::1,
#             then js/authz.sdk.mjs (phase throttle): the SDK retries 429 after Retry-After.
set -uo pipefail
. "$E2E_DIR/lib.sh"
AZ="$E2E_DIR/authz"
JSDIR="$E2E_DIR/js"
NODE=${NODE:-$(command -v node || echo /usr/bin/node)}
LIMIT=5
CERTDIR="$E2E_WORK/$SUITE-cert"
ATTACK_PID=""
declare -A PIDS=()

cleanup() {
    [ -z "$ATTACK_PID" ] || kill "$ATTACK_PID" 2>/dev/null
    local n
    for n in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$n]}" 2>/dev/null
    done
    sleep 0.5
    for n in "${!PIDS[@]}"; do
        kill -KILL "${PIDS[$n]}" 2>/dev/null
    done
    rm -rf "$CERTDIR"
}
trap cleanup EXIT

# start NAME [cofferd args...]: e2e_start, remembering the server under NAME.
declare -A DIRS=() LOGS=()
start() {
    local name=$1
    shift
    e2e_start "$name" "" "" "$@" || return 1
    PIDS[$name]=$SRV_PID DIRS[$name]=$SRV_DIR LOGS[$name]=$SRV_LOG
    SRV_PID=""
}
stop() {
    local name=$1
    [ -n "${PIDS[$name]:-}" ] || return 0
    SRV_PID=${PIDS[$name]} SRV_NAME=$name SRV_LOG=${LOGS[$name]}
    unset "PIDS[$name]"
    e2e_stop
}

# run_node LABEL ENVFILE [VAR=VALUE...]: js/authz.sdk.mjs under node --test with the env of
# ENVFILE; one result per top-level test.
run_node() {
    local label=$1 envfile=$2 tap="$E2E_WORK/$SUITE-$1.tap" n=0 line rc
    shift 2
    (set -a; . "$envfile"; set +a; cd "$JSDIR" && env "$@" timeout 180 "$NODE" --test \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" authz.sdk.mjs) \
        >"$E2E_WORK/$SUITE-$label.out" 2>&1
    rc=$?
    while IFS= read -r line; do
        case $line in
            "ok "*) pass "sdk $label: ${line#ok * - }"; n=$((n + 1)) ;;
            "not ok "*) fail "sdk $label: ${line#not ok * - }"; n=$((n + 1)) ;;
        esac
    done < <(grep -E '^(not )?ok [0-9]+ - ' "$tap" 2>/dev/null)
    if [ "$rc" -ne 0 ] || [ "$n" -eq 0 ]; then
        sed -n '/failing tests:/,$p' "$E2E_WORK/$SUITE-$label.out" | head -n 80 | sed 's/^/  | /'
        [ "$n" -gt 0 ] || { fail "sdk $label: node --test produced no results (exit $rc)";
                            tail -n 30 "$E2E_WORK/$SUITE-$label.out" | sed 's/^/  | /'; }
    fi
    grep -E 'PUT attempts' "$E2E_WORK/$SUITE-$label.out" | sed 's/^/  /'
}

if [ ! -d "$JSDIR/node_modules/@azure/keyvault-secrets" ]; then
    fail "tests/e2e/js/node_modules has the Azure SDK (run.sh prepares it)"
fi

start main || exit 1
start attack --token-lifetime-s 1 || exit 1
# The attacks need a minute of waiting for the expired-token case: in the background.
"$PY" "$AZ/attacks.py" "${DIRS[attack]}/env" "${DIRS[main]}/env" \
    >"$E2E_WORK/$SUITE-attacks.out" 2>&1 &
ATTACK_PID=$!
start throttle --throttle on --throttle-secret-create "$LIMIT" || exit 1

echo "  -- matrix (REST)"
"$PY" "$AZ/matrix.py" "${DIRS[main]}/env" ||
    fail "matrix.py exited with status $?"

echo "  -- SDK sample"
mkdir -p "$CERTDIR"
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CERTDIR/key.pem" -out "$CERTDIR/cert.pem" \
    -subj "/CN=coffer-authz-sdk" -days 2 2>/dev/null; then
    cat "$CERTDIR/key.pem" "$CERTDIR/cert.pem" >"$CERTDIR/sp.pem"
    run_node rbac "${DIRS[main]}/env" COFFER_AUTHZ_PHASE=rbac COFFER_AUTHZ_CERT_PEM="$CERTDIR/sp.pem"
else
    fail "openssl makes a self-signed certificate"
fi

echo "  -- throttling (IPv4 and IPv6 loopback)"
"$PY" "$AZ/throttle.py" "${DIRS[throttle]}/env" "$LIMIT" authzthr4 authzthr6 ||
    fail "throttle.py exited with status $?"
run_node throttle "${DIRS[throttle]}/env" COFFER_AUTHZ_PHASE=throttle COFFER_AUTHZ_LIMIT="$LIMIT"

echo "  -- token attacks (background since the start)"
wait "$ATTACK_PID"
rc=$?
ATTACK_PID=""
sed 's/^/  /' "$E2E_WORK/$SUITE-attacks.out" | grep -v '^  *ok ' || true
echo "  ($(grep -c '^ *ok ' "$E2E_WORK/$SUITE-attacks.out") attack checks passed; details in $E2E_WORK/$SUITE-attacks.out)"
[ "$rc" -eq 0 ] || fail "attacks.py exited with status $rc"

stop throttle
stop attack
stop main
exit 0
