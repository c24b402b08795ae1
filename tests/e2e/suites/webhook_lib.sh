# webhook_lib.sh - sourced by the suites that receive Event Grid notifications (certevents,
# keyevents) after lib.sh; not a suite itself.

# webhook_subscribe NAME: starts a loopback Event Grid webhook (events_recv.py) on a free port
# and waits for it to listen, logs the coffer CLI in (COFFER_CONFIG_DIR set by the caller), and
# creates an EventGridSchema subscription NAME on the vault pointing at it, checking that it is
# Succeeded. Sets PR (the port), RECV (the .jsonl of what arrived), RECV_PID (for the caller's
# EXIT trap to kill) and SIGNING (the subscription's signing secret); the subscription's JSON
# is removed because it held that secret.
webhook_subscribe() {
    local name=$1 i
    PR=$(free_port)
    RECV="$E2E_WORK/$SUITE-recv.jsonl"
    "$PY" "$E2E_DIR/suites/events_recv.py" "$PR" "$RECV" "$E2E_WORK/$SUITE-recv.status" \
        >>"$E2E_WORK/$SUITE-recv.log" 2>&1 &
    RECV_PID=$!
    for ((i = 0; i < 50; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PR") 2>/dev/null && break
        sleep 0.1
    done
    timeout 60 "$COFFER" login >"$E2E_WORK/$SUITE.login.out" 2>&1
    expect_eq "coffer login" 0 "$?"
    timeout 60 "$COFFER" keyvault event-subscription create --vault-name "$COFFER_VAULT_NAME" \
        --name "$name" --endpoint "http://127.0.0.1:$PR/hook" -o json \
        >"$E2E_WORK/$SUITE.sub.json" 2>"$E2E_WORK/$SUITE.sub.err"
    expect_eq "an EventGridSchema subscription is Succeeded" Succeeded \
        "$(jget "$E2E_WORK/$SUITE.sub.json" 'd["properties"]["provisioningState"]')"
    SIGNING=$(jget "$E2E_WORK/$SUITE.sub.json" 'd["properties"]["signingSecret"]')
    rm -f "$E2E_WORK/$SUITE.sub.json" # it held the signing secret
}
