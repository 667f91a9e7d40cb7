#!/usr/bin/env bash
# Runs every test binary (build/tests/test_*) and every CLI test script
# (tests/cli/*.sh), counts PASS/FAIL lines, and ends with "N passed, N failed".
# A binary or script that crashes or exits non-zero without a FAIL line counts
# as one failure, so a test can never pass by dying quietly.
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

run_one() { # name, command...
    local name=$1; shift
    local out="$log/$(basename "$name").out"
    local t0=$SECONDS
    "$@" >"$out" 2>"$out.err"
    local rc=$?
    local p f
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    grep -E '^(PASS|FAIL) ' "$out"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with status $rc"
        tail -n 20 "$out.err" | sed 's/^/    /'
        f=1
    elif [ "$f" -gt 0 ]; then
        tail -n 20 "$out.err" | sed 's/^/    /'
    fi
    echo "  ($name: $((SECONDS - t0)) s)" >&2
    pass=$((pass + p))
    fail=$((fail + f))
}

for t in build/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$t" "$t"
done
for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    case $(basename "$s") in lib*) continue ;; esac # sourced helpers, not tests
    run_one "$s" bash "$s"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
