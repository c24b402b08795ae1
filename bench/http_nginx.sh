#!/usr/bin/env bash
# http_nginx.sh - http/ front end vs nginx, same small JSON body over TLS with keep-alive, wrk on
# the same machine (DESIGN.md §5). Loopback only; everything stops by itself.
#   bench/http_nginx.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
# Needs nginx (nginx-light), wrk, openssl, and BUILD_DIR/libcf_http.a + libcf_base.a.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
SECS=${2:-10}
CONNS=${3:-50}
THREADS=${THREADS:-2}
PORT_CF=${PORT_CF:-18443}
PORT_NGX=${PORT_NGX:-18444}
TMP=$(mktemp -d /tmp/cf-http-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$TMP"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
BODY='{"value":"hello","id":"https://v.vault.localhost/secrets/s/0123456789abcdef0123456789abcdef"}'

cc -O2 -D_GNU_SOURCE -I "$ROOT/src" "$ROOT/bench/http_echo.c" "$BUILD/libcf_http.a" \
  "$BUILD/libcf_base.a" -levent -levent_openssl -levent_pthreads -lssl -lcrypto -ljansson \
  -lpthread -o "$TMP/http_echo"

mkdir -p "$TMP/ngx/logs"
cat > "$TMP/ngx/nginx.conf" <<NGX
worker_processes $THREADS;
pid $TMP/ngx/nginx.pid;
error_log $TMP/ngx/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$PORT_NGX ssl reuseport;
    ssl_certificate $TMP/cert.pem;
    ssl_certificate_key $TMP/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { default_type "application/json; charset=utf-8"; return 200 '$BODY'; }
  }
}
NGX

"$TMP/http_echo" "$TMP/cert.pem" "$TMP/key.pem" "$PORT_CF" "$THREADS" & pids+=($!)
nginx -c "$TMP/ngx/nginx.conf" -p "$TMP/ngx" & pids+=($!)
sleep 0.5
curl -sk "https://127.0.0.1:$PORT_CF/" >/dev/null && curl -sk "https://127.0.0.1:$PORT_NGX/" >/dev/null

run() { # name port
  local out rps
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "https://127.0.0.1:$2/")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  printf '%-8s %10s req/s   %s\n' "$1" "$rps" "$(awk '/ 99%/ {print "p99 " $2}' <<<"$out")"
  echo "$rps"
}
for round in $(seq 1 ${ROUNDS:-2}); do
  c=$(run coffer "$PORT_CF" | tee /dev/stderr | tail -1)
  n=$(run nginx "$PORT_NGX" | tee /dev/stderr | tail -1)
  awk -v c="$c" -v n="$n" -v r="$round" 'BEGIN { printf "round %d: coffer/nginx = %.0f %%\n", r, 100*c/n }'
done
