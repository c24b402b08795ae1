# shellcheck shell=bash
# Shared helpers for the shell-driven e2e suites (sourced, never executed).
#
# Map: result recording (pass/fail/expect_*), JSON helpers (jget), cofferd lifecycle
# (e2e_start/e2e_stop/e2e_restart), curl wrappers (req, get_token).
#
# Every check appends one line "PASS <suite>: <what>" or "FAIL <suite>: <what>" to $E2E_RESULTS;
# run.sh counts those lines for the final "N passed, N failed". Checks never print secret
# values: only status codes, error codes and lengths.
#
# Required environment (set by run.sh): E2E_DIR, E2E_WORK, E2E_RESULTS, COFFERD, SUITE.

PY=/usr/bin/python3

pass() { echo "PASS $SUITE: $*" >>"$E2E_RESULTS"; echo "  ok   $*"; }
fail() { echo "FAIL $SUITE: $*" >>"$E2E_RESULTS"; echo "  FAIL $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}
# expect_in WHAT ACTUAL ALLOWED...
expect_in() {
    local what=$1 actual=$2 a
    shift 2
    for a in "$@"; do
        if [ "$actual" = "$a" ]; then pass "$what"; return 0; fi
    done
    fail "$what (expected one of '$*', got '$actual')"
}
# expect_ok WHAT CMD...   (command must exit 0)
expect_ok() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what (command failed: exit $?)"; fi
}

# jget FILE PYEXPR: evaluates PYEXPR with `d` bound to the parsed JSON of FILE and prints the
# result ('' for None, JSON for dicts/lists, true/false for bools). Prints "<nojson>" when FILE
# is not JSON and "<err>" when the expression fails.
jget() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1], encoding="utf-8"))
except Exception:
    print("<nojson>"); sys.exit(0)
try:
    v = eval(sys.argv[2], {"d": d})
except Exception:
    print("<err>"); sys.exit(0)
if v is None: print("")
elif isinstance(v, bool): print("true" if v else "false")
elif isinstance(v, (dict, list)): print(json.dumps(v, sort_keys=True))
else: print(v)
EOF
}

free_port() {
    "$PY" - <<'EOF'
import socket
for _ in range(50):
    s4 = socket.socket(socket.AF_INET); s4.bind(("127.0.0.1", 0)); p = s4.getsockname()[1]
    try:
        s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", p)); s6.close()
    except OSError:
        s4.close(); continue
    s4.close(); print(p); break
EOF
}

# ---- cofferd lifecycle -------------------------------------------------------------------
# e2e_start NAME [DATADIR [PORT [EXTRA ARGS...]]]
# Starts cofferd --dev, waits for DATADIR/env (30 s), sources it. Sets SRV_PID, SRV_DIR,
# SRV_PORT, SRV_LOG (stderr = the server log), SRV_OUT (stdout: the env lines, which carry the
# client secret by contract, so it is never printed). Records a FAIL and returns 1 on failure.
SRV_PID=""
e2e_start() {
    local name=$1 dir=${2:-} port=${3:-}
    shift $(( $# < 3 ? $# : 3 ))
    [ -n "$dir" ] || dir="$E2E_WORK/$SUITE-$name-data"
    [ -n "$port" ] || port=$(free_port)
    mkdir -p "$dir"
    # A restart reuses the dir: drop the previous run's env so its presence means "ready".
    rm -f "$dir/env"
    SRV_DIR=$dir SRV_PORT=$port
    SRV_RUN=$((${SRV_RUN:-0} + 1))
    SRV_LOG="$E2E_WORK/$SUITE-$name.$SRV_RUN.log"
    SRV_OUT="$E2E_WORK/$SUITE-$name.$SRV_RUN.out"
    SRV_NAME=$name
    echo "  [cofferd $name: port $port, data $dir, log $SRV_LOG]"
    # For the checks at stop (server_check.py): /metrics on a free port unless the suite sets
    # metrics_listen itself (the log line names the port); when this run began.
    local ml=(--metrics-listen 127.0.0.1:0) a prev=""
    for a in "$@"; do
        case $a in --metrics-listen | --metrics-listen=*) ml=() ;; esac
        [ "$prev" = --config ] && grep -q '^[[:space:]]*metrics_listen' "$a" 2>/dev/null && ml=()
        prev=$a
    done
    printf '%s\n%s\n' "$dir" "$(date -u +%Y-%m-%dT%H:%M:%S.%3N)" >"$SRV_LOG.chk"
    "$COFFERD" --dev --data-dir "$dir" --port "$port" "${ml[@]}" "$@" >"$SRV_OUT" 2>"$SRV_LOG" &
    SRV_PID=$!
    local i
    for ((i = 0; i < 300; i++)); do
        [ -f "$dir/env" ] && break
        if ! kill -0 "$SRV_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [ ! -f "$dir/env" ]; then
        if kill -0 "$SRV_PID" 2>/dev/null; then
            fail "cofferd $name started (no $dir/env after 30 s)"
            kill -TERM "$SRV_PID" 2>/dev/null
        else
            fail "cofferd $name started (process exited before writing env)"
        fi
        wait "$SRV_PID" 2>/dev/null
        SRV_PID=""
        show_log
        return 1
    fi
    # shellcheck disable=SC1090,SC1091
    set -a; . "$dir/env"; set +a
    return 0
}

show_log() {
    echo "  ---- tail of cofferd log $SRV_LOG ----"
    tail -n 40 "$SRV_LOG" 2>/dev/null | sed 's/^/  | /'
    echo "  ----"
}

# e2e_stop: SIGTERM, wait up to 20 s, record whether the exit was clean (status 0). A
# non-zero status under ASan means a sanitizer report; the log tail is shown.
e2e_stop() {
    [ -n "$SRV_PID" ] || return 0
    local pid=$SRV_PID st i
    SRV_PID=""
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"; st=$?
        fail "cofferd $SRV_NAME was still running at the end (it had died, status $st)"
        show_log
        return 1
    fi
    srv_scrape
    kill -TERM "$pid"
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        fail "cofferd $SRV_NAME stopped within 20 s of SIGTERM"
        show_log
        return 1
    fi
    wait "$pid"; st=$?
    if [ "$st" -eq 0 ]; then
        pass "cofferd $SRV_NAME shut down cleanly on SIGTERM (exit 0)"
        srv_check
    else
        fail "cofferd $SRV_NAME shut down cleanly on SIGTERM (exit status $st)"
        show_log
        return 1
    fi
}

# srv_scrape: /metrics of the server being stopped into $SRV_LOG.metrics (http or https, as
# its log line says; nothing when the listener is off). srv_check: server_check.py on its audit
# dir, log and that scrape, one PASS/FAIL line each; a suite sets SRV_CHECK=0 to skip it for a
# server whose audit log it broke on purpose.
srv_scrape() {
    local u
    rm -f "$SRV_LOG.metrics"
    u=$(grep -o 'metrics: /metrics, /healthz, /readyz on [^ ]*' "$SRV_LOG" 2>/dev/null | tail -n 1)
    u=${u##* }
    [ -n "$u" ] || return 0
    case $u in https://*) ;; *) u=http://$u ;; esac
    curl -sS --max-time 10 --cacert "$COFFER_CA_FILE" -o "$SRV_LOG.metrics" "$u/metrics" 2>/dev/null ||
        rm -f "$SRV_LOG.metrics"
}
srv_check() {
    local line dir since
    [ "${SRV_CHECK:-1}" = 1 ] && [ -f "$SRV_LOG.chk" ] || return 0
    { read -r dir; read -r since; } <"$SRV_LOG.chk"
    while IFS= read -r line; do
        case $line in ok\ *) pass "cofferd $SRV_NAME: ${line#ok }" ;; *) fail "cofferd $SRV_NAME: ${line#FAIL }" ;; esac
    done < <(CHECK_CLIENT_SECRET=${AZURE_CLIENT_SECRET:-} "$PY" "$E2E_DIR/server_check.py" \
        --audit-dir "$dir/audit" --since "$since" --log "$SRV_LOG" --metrics "$SRV_LOG.metrics" \
        --values "$E2E_WORK/$SUITE.values" --coffer "${COFFER:-}" --routes "$E2E_DIR/../../src/api/routes.c" 2>&1)
}

# Kills a server left running when a suite aborts.
e2e_cleanup() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null
        sleep 1
        kill -KILL "$SRV_PID" 2>/dev/null
    fi
}

# ---- HTTP --------------------------------------------------------------------------------
# req METHOD URL [extra curl args...]: sets CODE (HTTP status, 000 when no response), and
# writes the body to $RB and headers to $RH.
RB="$E2E_WORK/$SUITE.body"
RH="$E2E_WORK/$SUITE.headers"
req() {
    local m=$1 u=$2
    shift 2
    : >"$RB"; : >"$RH"
    local a # secret values sent, for server_check.py's leak scan
    for a in "$@"; do
        [[ $a =~ \"value\":\"([^\"]{10,})\" ]] && printf '%s\n' "${BASH_REMATCH[1]}" >>"$E2E_WORK/$SUITE.values"
    done
    CODE=$(curl -sS -o "$RB" -D "$RH" -w '%{http_code}' --max-time 30 \
        --cacert "$COFFER_CA_FILE" -X "$m" "$@" "$u" 2>>"$E2E_WORK/$SUITE.curl-errors")
    [ -n "$CODE" ] || CODE=000
}
# header NAME: value of response header NAME from the last req (first match, CR stripped).
header() {
    grep -i "^$1:" "$RH" | head -n 1 | sed -E 's/^[^:]+:[[:space:]]*//' | tr -d '\r'
}

# get_token SCOPE [CLIENT_SECRET]: prints an access token for SCOPE (client credentials).
get_token() {
    local scope=$1 secret=${2:-$AZURE_CLIENT_SECRET} out
    printf '%s\n' "$secret" >>"$E2E_WORK/$SUITE.values"
    out=$(curl -sS --max-time 30 --cacert "$COFFER_CA_FILE" \
        --data-urlencode "client_id=$AZURE_CLIENT_ID" \
        --data-urlencode "client_secret=$secret" \
        --data-urlencode "grant_type=client_credentials" \
        --data-urlencode "scope=$scope" \
        "$AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token") || return 1
    printf '%s' "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null
}

vault_resource() { echo "https://$COFFER_DNS_SUFFIX:$COFFER_PORT"; }
