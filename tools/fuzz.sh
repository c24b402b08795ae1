#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz_*.c) with clang and runs each for FUZZ_SECONDS
# (default 30, what CI uses), FUZZ_JOBS targets at a time (default: the number of cores).
# FUZZ_TARGETS="fuzz_request fuzz_backup" picks a subset.
# Each target's working corpus is build-fuzz/corpus/<target> (kept between runs); the committed
# seeds in fuzz/corpus/<target>/ are copied into it first. A crash leaves its input in
# build-fuzz/artifacts/<target>/ and the log's tail on stdout, and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
CC=clang cmake -S . -B build-fuzz -G Ninja -DCF_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug -DCF_WERROR=OFF >/dev/null
targets=${FUZZ_TARGETS:-$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')}
ninja -C build-fuzz $targets >/dev/null

run_one() {
    local t=$1 corpus="build-fuzz/corpus/$1" art="build-fuzz/artifacts/$1/"
    mkdir -p "$corpus" "$art"
    if [ -d "fuzz/corpus/$t" ]; then
        cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    fi
    # -timeout: one input taking longer than 25 s is a hang (a request never answered).
    ASAN_OPTIONS=detect_leaks=1 "build-fuzz/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
        -timeout=25 -print_final_stats=1 -artifact_prefix="$art" "$corpus" \
        >"build-fuzz/$t.log" 2>&1
}

declare -A pids=()
failed=0
# Waits for any running target and reports it.
wait_one() {
    local pid rc=0 t
    wait -n -p pid || rc=$?
    t=${pids[$pid]}
    if [ "$rc" = 0 ]; then
        echo "fuzz: $t clean ($(grep -a 'stat::number_of_executed_units' "build-fuzz/$t.log" |
            awk '{print $2}') runs, $(grep -a 'stat::average_exec_per_sec' "build-fuzz/$t.log" |
            awk '{print $2}') exec/s)"
    else
        echo "fuzz: $t FAILED (input in build-fuzz/artifacts/$t/)"
        tail -40 "build-fuzz/$t.log"
        failed=1
    fi
    unset "pids[$pid]"
}

for t in $targets; do
    while [ "${#pids[@]}" -ge "$jobs" ]; do
        wait_one
    done
    echo "fuzz: $t for ${secs}s"
    run_one "$t" &
    pids[$!]=$t
done
while [ "${#pids[@]}" -gt 0 ]; do
    wait_one
done
[ "$failed" = 0 ] || exit 1
echo "fuzz: all targets clean"
