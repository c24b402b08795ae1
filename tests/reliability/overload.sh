#!/usr/bin/env bash
# overload.sh [--short|--soak]: 10,000 idle TLS connections, a burst over max_connections,
# slowloris / half-open / silent / garbage peers against one cofferd while a normal client keeps
# working: bounded latency, RSS <= 512 MiB, no leaked descriptors. The checks are in overload.py
# (read its header). --short: one round (~40 s); --soak: 5 rounds held 30 s each.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
# 10,000 connections need as many descriptors in this process tree and in cofferd.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$MODE" = soak ]; then args=(--rounds 5 --hold 30); else args=(--rounds 1 --hold 6); fi
python3 "$REL_DIR/overload.py" --cofferd "$COFFERD" --work "$WORK" "${args[@]}"
finish $?
