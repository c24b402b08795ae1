#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
CC=clang cmake -S . -B build-fuzz -G Ninja -DCF_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug -DCF_WERROR=OFF >/dev/null
targets=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
ninja -C build-fuzz $targets >/dev/null
for t in $targets; do
    mkdir -p "build-fuzz/corpus/$t"
    echo "fuzz: $t for ${secs}s"
    ASAN_OPTIONS=detect_leaks=1 "build-fuzz/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
        -print_final_stats=0 "build-fuzz/corpus/$t" 2>"build-fuzz/$t.log" ||
        { tail -40 "build-fuzz/$t.log"; exit 1; }
done
echo "fuzz: all targets clean"
