#!/usr/bin/env bash
# diskfull.sh [--short|--soak]: cofferd with its data dir on a small tmpfs: full disk (writes
# fail 503 Azure-shaped, reads keep working, writes resume by themselves once space returns,
# nothing lost or corrupted) and a read-only data dir. Needs root; otherwise prints a skip
# note and "0 passed, 0 failed". The checks are in diskfull.py (read its header).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
mnt=$WORK/mnt
# Backstop for the Python script's own clean-up (it unmounts in a finally block).
cleanup() {
    if grep -qs " $(realpath -m "$mnt") " /proc/self/mounts; then
        mount -o remount,rw "$mnt" 2>/dev/null
        umount "$mnt" || umount -l "$mnt"
    fi
}
trap cleanup EXIT
python3 "$REL_DIR/diskfull.py" --cofferd "$COFFERD" --work "$WORK"
st=$?
cleanup
finish $st
