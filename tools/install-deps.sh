#!/usr/bin/env bash
# Installs the Debian packages Coffer needs to build, run and test, skipping the apt round trip
# when everything is already there. Idempotent; needs root (or sudo) only when something is
# missing. Used by `make run`, `make test` and .ci/run.
set -euo pipefail

build_pkgs=(build-essential cmake ninja-build pkg-config libssl-dev libevent-dev libjansson-dev
            libsqlite3-dev libinih-dev libcurl4-openssl-dev libcmocka-dev libp11-kit-dev)
run_pkgs=(libnss-myhostname openssl ca-certificates)
test_pkgs=(softhsm2 opensc python3-azure python3-msal azure-cli sqlite3 clang libclang-rt-14-dev nodejs npm pebble rsyslog testssl.sh
           prometheus)
[ "${1:-}" = "--no-test" ] && test_pkgs=()

missing=()
for p in "${build_pkgs[@]}" "${run_pkgs[@]}" "${test_pkgs[@]}"; do
    if [ "$p" = nodejs ] || [ "$p" = npm ]; then
        command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue
    fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    # With recommends: the e2e clients (azure-cli, python3-azure) were verified installed this way.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# *.localhost must resolve (libnss-myhostname); make sure nsswitch uses it even if the package
# was already installed before nsswitch.conf was replaced.
if ! grep -qE '^hosts:.*myhostname' /etc/nsswitch.conf 2>/dev/null; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO sed -i -E 's/^(hosts:[[:space:]]+files)/\1 myhostname/' /etc/nsswitch.conf
fi
