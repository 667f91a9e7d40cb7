#!/usr/bin/env bash
# Runs every test binary (build/tests/test_*) and every CLI test script
# (tests/cli/*.sh), counts PASS/FAIL lines, and ends with "N passed, N failed".
# The numerical binaries run again on every narrower kernel path this CPU
# has (`qsweep version`: kernels_supported), their lines tagged [avx2] /
# [generic], so each path is tested on each machine.
# A binary or script that crashes or exits non-zero without a FAIL line counts
# as one failure, so a test can never pass by dying quietly.
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

tag=""   # run_one's label for the kernel path of a rerun
run_one() { # name, command...
    local name=$1; shift
    local out="$log/$(basename "$name")${tag:+.$tag}.out"
    local t0=$SECONDS
    "$@" >"$out" 2>"$out.err"
    local rc=$?
    local p f
    [ -z "$tag" ] || sed -i -E "s/^(PASS|FAIL) /\1 [$tag] /" "$out"
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    grep -E '^(PASS|FAIL) ' "$out"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL ${tag:+[$tag] }$name: exited with status $rc"
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
numerical="test_layers test_layers_dw test_layers_nn test_model test_quant test_pact test_qat test_qat_e2e test_gemm test_par test_lsq test_lsq_model"
# shellcheck disable=SC2046
set -- $(bin/qsweep version | sed -n 's/^kernels_supported: *//p')
[ $# -gt 0 ] && shift   # the widest ran above
for kp in "$@"; do
    tag=$kp
    for t in $numerical; do
        run_one "build/tests/$t" env QSWEEP_KERNELS="$kp" "build/tests/$t"
    done
done
tag=""
for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    case $(basename "$s") in lib*) continue ;; esac # sourced helpers, not tests
    run_one "$s" bash "$s"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
