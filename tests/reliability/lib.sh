# shellcheck shell=bash
# Shared set-up for the reliability scripts (sourced): mode (--short default, --soak), the
# cofferd binary ($COFFERD, else BUILD_DIR/cofferd with BUILD_DIR = $BUILD or <repo>/build) and
# a work directory ($REL_WORK, else a fresh mktemp dir) that is removed when the script passes
# and kept (path printed) when it fails.
export PYTHONDONTWRITEBYTECODE=1
REL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$REL_DIR/../.." && pwd)
MODE=short
for arg in "$@"; do
    case $arg in
    --short) MODE=short ;;
    --soak) MODE=soak ;;
    -h | --help) echo "usage: $0 [--short|--soak]"; exit 2 ;;
    *) echo "$0: unknown argument $arg" >&2; exit 2 ;;
    esac
done
BUILD_DIR=${BUILD:-$REPO/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$REPO/$BUILD_DIR ;; esac
COFFERD=${COFFERD:-$BUILD_DIR/cofferd}
if [ ! -x "$COFFERD" ]; then
    echo "FAIL $(basename "$0"): no cofferd binary at $COFFERD (build first, or set COFFERD)"
    echo "0 passed, 1 failed"
    exit 1
fi
COFFERD=$(cd "$(dirname "$COFFERD")" && pwd)/$(basename "$COFFERD")
if [ -n "${REL_WORK:-}" ]; then
    WORK=$REL_WORK/$(basename "$0" .sh)
    rm -rf "$WORK"; mkdir -p "$WORK"
else
    WORK=$(mktemp -d "/tmp/coffer-rel-$(basename "$0" .sh).XXXXXX")
fi
# finish STATUS: keep the work dir for inspection on failure, remove it on success.
finish() {
    if [ "$1" -eq 0 ]; then rm -rf "$WORK"; else echo "     (work dir kept: $WORK)"; fi
    exit "$1"
}
