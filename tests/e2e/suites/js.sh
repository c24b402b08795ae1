#!/usr/bin/env bash
# JS suite: node:test files through @azure/identity + @azure/keyvault-secrets.
#   suites/js.sh NODE TESTDIR
# TESTDIR holds the *.test.mjs files and resolves @azure/* from its own (or its parent's)
# node_modules; NODE is the runtime of that generation. Flow: one cofferd; the *.test.mjs
# files; then restart.phase.mjs "before", a restart of cofferd on the same data dir and port
# (env must be identical), restart.phase.mjs "after".
# With SUBSET=1 only core.test.mjs runs (plus the restart round).
set -uo pipefail
. "$E2E_DIR/lib.sh"
trap e2e_cleanup EXIT

NODE=$1
TESTDIR=$2
echo "  node $("$NODE" --version) in $TESTDIR"

# run_node LABEL FILES...: runs node --test, spec output on the terminal, TAP into a file, and
# records one result per top-level test.
run_node() {
    local label=$1 tap rc
    shift
    tap="$E2E_WORK/$SUITE-$label.tap"
    (cd "$TESTDIR" && timeout 420 "$NODE" --test --test-concurrency=1 \
        --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" "$@") \
        >"$E2E_WORK/$SUITE-$label.out" 2>&1
    rc=$?
    # Top-level TAP lines are unindented: "ok 3 - name" / "not ok 4 - name # ...".
    local n=0 line
    while IFS= read -r line; do
        case $line in
            "ok "*) pass "$label: ${line#ok * - }"; n=$((n + 1)) ;;
            "not ok "*) fail "$label: ${line#not ok * - }"; n=$((n + 1)) ;;
        esac
    done < <(grep -E '^(not )?ok [0-9]+ - ' "$tap" 2>/dev/null)
    if [ "$rc" -ne 0 ] || [ "$n" -eq 0 ]; then
        # Show the failing tests' details (spec reporter output), never more than 150 lines.
        sed -n '/failing tests:/,$p' "$E2E_WORK/$SUITE-$label.out" | head -n 150 | sed 's/^/  | /'
        if ! grep -q 'failing tests:' "$E2E_WORK/$SUITE-$label.out"; then
            tail -n 60 "$E2E_WORK/$SUITE-$label.out" | sed 's/^/  | /'
        fi
        [ "$n" -gt 0 ] || fail "$label: node --test produced no results (exit $rc)"
        [ "$rc" -ne 124 ] || fail "$label: node --test timed out"
    fi
}

# a short janitor period: the certificate auto-renewal test waits for one of its runs
e2e_start main "" "" --janitor-interval-s 5 || exit 1
if [ "${SUBSET:-0}" = 1 ]; then
    files=(core.test.mjs)
else
    mapfile -t files < <(cd "$TESTDIR" && ls -- *.test.mjs)
fi
# keys.test.mjs (@azure/keyvault-keys) runs unless COFFER_E2E_KEYS=0.
if [ "${COFFER_E2E_KEYS:-1}" != 1 ]; then
    mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -vx keys.test.mjs)
fi
echo "  running ${files[*]}"
run_node tests "${files[@]}"

# Restart keeps data and credentials.
echo "  restart round"
export COFFER_E2E_RESTART_NAME="restart-$RANDOM$RANDOM"
COFFER_E2E_PHASE=before run_node restart-before restart.phase.mjs
cp "$SRV_DIR/env" "$E2E_WORK/$SUITE-env.before"
ca_before=$(sha256sum <"$SRV_DIR/tls/ca.pem")
dir=$SRV_DIR port=$SRV_PORT
e2e_stop
if e2e_start main "$dir" "$port"; then
    if cmp -s <(sort "$E2E_WORK/$SUITE-env.before") <(sort "$SRV_DIR/env"); then
        pass "restart: env file identical (same tenant, client, secret, subscription, URLs)"
    else
        changed=$(diff <(sort "$E2E_WORK/$SUITE-env.before") <(sort "$SRV_DIR/env") |
            grep -oE '^[<>] export [A-Z_]+' | awk '{print $3}' | sort -u | tr '\n' ' ')
        fail "restart: env file identical (changed: $changed)"
    fi
    expect_eq "restart: CA certificate kept" "$ca_before" "$(sha256sum <"$SRV_DIR/tls/ca.pem")"
    # The after phase uses the credentials of the first run (the env before the restart).
    set -a; . "$E2E_WORK/$SUITE-env.before"; set +a
    COFFER_E2E_PHASE=after run_node restart-after restart.phase.mjs
    e2e_stop
fi
exit 0
