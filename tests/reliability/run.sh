#!/usr/bin/env bash
# run.sh [--short|--soak]: runs every reliability check (crash.sh, diskfull.sh, overload.sh, tls.sh) in
# the given mode and ends with the total "N passed, N failed"; exit status 1 when any failed.
# --short (default, `make test`): about 3 minutes on 2 cores (tls.sh: ~70 s of testssl). --soak (`make soak`): 200+
# kill cycles, 5 overload rounds; about 15-20 minutes.
# cofferd: $COFFERD, else $BUILD/cofferd (BUILD defaults to <repo>/build). Work dirs are kept
# (and named) only when a script fails; set REL_WORK=DIR to put them under DIR.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
mode=--short
for arg in "$@"; do
    case $arg in
    --short | --soak) mode=$arg ;;
    *) echo "usage: $0 [--short|--soak]" >&2; exit 2 ;;
    esac
done
passed=0 failed=0
log=$(mktemp /tmp/coffer-rel-run.XXXXXX)
trap 'rm -f "$log"' EXIT
for s in crash diskfull overload tls; do
    echo "== $s.sh $mode"
    start=$SECONDS
    "$dir/$s.sh" "$mode" 2>&1 | tee "$log"
    st=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL run: $s.sh ended without a summary line (exit $st)"
        failed=$((failed + 1))
        continue
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed}
    passed=$((passed + p)) failed=$((failed + f))
    if [ "$st" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL run: $s.sh exited $st with no failed check"
        failed=$((failed + 1))
    fi
    echo "== $s.sh: $line ($((SECONDS - start)) s)"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
