#!/usr/bin/env bash
# crash.sh [--short|--soak]: concurrent writers, cofferd killed with SIGKILL at random moments
# and restarted on the same data dir and port; every acknowledged write must survive exactly,
# nothing unacknowledged may be half-visible, integrity_check must pass. The checks are in
# crash.py (read its header); --short: 20 cycles (< 2 min), --soak: 200 cycles.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$MODE" = soak ]; then cycles=${CRASH_CYCLES:-200}; else cycles=${CRASH_CYCLES:-20}; fi
python3 "$REL_DIR/crash.py" --cofferd "$COFFERD" --work "$WORK" --cycles "$cycles" \
    --writers "${CRASH_WRITERS:-4}"
finish $?
