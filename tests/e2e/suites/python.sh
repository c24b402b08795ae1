#!/usr/bin/env bash
# Python suite: python/test_secrets.py, test_certificates.py and test_keys.py (unittest) through
# Debian's python3-azure on /usr/bin/python3, against a fresh cofferd. One result per test method.
set -uo pipefail
. "$E2E_DIR/lib.sh"
trap e2e_cleanup EXIT

e2e_start main || exit 1
out="$E2E_WORK/$SUITE-unittest.out"
# test_keys.py (azure.keyvault.keys) runs unless COFFER_E2E_KEYS=0.
modules=(test_secrets test_certificates)
[ "${COFFER_E2E_KEYS:-1}" != 1 ] || modules+=(test_keys)
(cd "$E2E_DIR/python" &&
    timeout 300 /usr/bin/python3 -B -W ignore::ResourceWarning -m unittest -v "${modules[@]}") >"$out" 2>&1
rc=$?
n=0
# unittest -v lines: "test_x (test_secrets.SecretsTest.test_x) ... ok|FAIL|ERROR|skipped ..."
while IFS= read -r line; do
    t=${line%% *}
    case $line in
        *" ... ok") pass "$t"; n=$((n + 1)) ;;
        *" ... FAIL"|*" ... ERROR") fail "$t"; n=$((n + 1)) ;;
        *" ... skipped"*) fail "$t (skipped)"; n=$((n + 1)) ;;
    esac
done < <(grep -E '^test[A-Za-z0-9_]* \(.*\) \.\.\. ' "$out")
# Every test that ran must have given one parsable result line (output written in the middle of
# a line would hide a result).
ran=$(sed -n 's/^Ran \([0-9]*\) tests\? in .*/\1/p' "$out" | tail -n 1)
if [ -n "$ran" ] && [ "$ran" != "$n" ]; then
    fail "unittest ran $ran tests but $n result lines were parsed"
fi
if [ "$rc" -ne 0 ] || [ "$n" -eq 0 ]; then
    sed -n '/^=\{20,\}/,$p' "$out" | head -n 150 | sed 's/^/  | /'
    [ "$n" -gt 0 ] || { tail -n 40 "$out" | sed 's/^/  | /'; fail "unittest produced no results (exit $rc)"; }
fi
e2e_stop
exit 0
