#!/usr/bin/env bash
# Every fuzz target (tests/fuzz/fuzz_NAME.c, docs/fuzzing.md) is built with
# libFuzzer + ASan + UBSan and run for a few seconds on its seeds: a crash,
# a leak, undefined behaviour or a target that no longer builds is a FAIL.
# New inputs and crash files go to a temporary directory. Without clang
# (make setup installs it) nothing is built and no result is printed.
set -u
cd "$(dirname "$0")/../.." || exit 1
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
    echo "note: ${FUZZ_CC:-clang} not found: the fuzz targets were not run (make setup installs it)"
    exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/qsweep-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
if ! make --no-print-directory -s fuzz-build fuzz-seeds >"$T/build.log" 2>&1; then
    echo "FAIL fuzz_build: make fuzz-build fuzz-seeds failed: $(tail -n 5 "$T/build.log" | tr '\n' ' ' | cut -c1-400)"
    exit 1
fi
for src in tests/fuzz/fuzz_*.c; do
    n=$(basename "$src" .c)
    n=${n#fuzz_}
    mkdir -p "$T/corpus-$n" "tests/fuzz/seeds/$n"
    seeds="tests/fuzz/seeds/$n"
    [ -d "build/fuzz/seeds/$n" ] && seeds="$seeds build/fuzz/seeds/$n"
    # shellcheck disable=SC2086
    timeout -k 5 180 "build/fuzz/fuzz_$n" -max_total_time=5 -rss_limit_mb=4096 \
        -artifact_prefix="$T/crash-$n-" "$T/corpus-$n" $seeds >"$T/$n.log" 2>&1
    rc=$?
    runs=$(sed -nE 's/^Done ([0-9]+) runs.*/\1/p' "$T/$n.log")
    if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
        echo "PASS fuzz_smoke_$n ($runs runs)"
    else
        echo "FAIL fuzz_smoke_$n: exit status $rc; $(grep -m 1 -E 'ERROR|SUMMARY|runtime error' "$T/$n.log" | cut -c1-300)"
        tail -n 30 "$T/$n.log" >&2
    fi
done
