#!/usr/bin/env bash
# `qsweep expand`: every shipped sweep expands; bad grids exit 2 with every
# problem listed; ids are stable; no data is needed.
. "$(dirname "$0")/lib.sh"

sweeps_all_expand() {
    local f n bad=""
    for f in sweeps/*.json; do
        if ! "$Q" expand "$f" > "$T/out" 2> "$T/err"; then
            bad="$bad $f ($(head -c 300 "$T/err"))"
            continue
        fi
        n=$(grep -c '"phase_id"' "$T/out")
        tail -n 1 "$T/out" | grep -q "\"phases\":$n," || bad="$bad $f (summary does not count $n phases)"
        [ "$n" -gt 0 ] || bad="$bad $f (no phases)"
    done
    [ -z "$bad" ] && pass sweeps_all_expand || fail sweeps_all_expand "$bad"
}

sweep_phase_counts() {
    # table5: 17 rows x (float + W2AF + WFA2 + W2A2); table4: 4 depths x
    # (float, W2A2, W2A2 + lipschitz, its clr); demo: 8 models x 2 seeds x
    # (float, W2AF, WFA2, W2A2, W2A2 + lipschitz, its clr).
    local f want got bad=""
    for f in table5:68 table5-mini:48 table4:16 demo:96 fig1:9 fig2-3:48 fig9:72 fig9-lr:126; do
        want=${f#*:}
        got=$("$Q" expand "sweeps/${f%%:*}.json" | grep -c '"phase_id"')
        [ "$got" = "$want" ] || bad="$bad ${f%%:*}: $got phases, want $want;"
    done
    [ -z "$bad" ] && pass sweep_phase_counts || fail sweep_phase_counts "$bad"
}

table5_matches_paper() {
    # The 17 (block, depth, width) rows of paper-results.json, exactly.
    local spec=../shared/spec/paper-results.json
    if [ ! -f "$spec" ]; then pass "table5_matches_paper (no ../shared: skipped)"; return; fi
    grep -oE '\["(basic|preact|depthwise)", [0-9]+, [0-9]+,' "$spec" |
        sed -E 's/\["([a-z]+)", ([0-9]+), ([0-9]+),/resnet-\1-\2-\3/' | sort > "$T/want"
    "$Q" expand sweeps/table5.json | grep '"phase":"float"' |
        grep -oE '"model":"[^"]+"' | cut -d'"' -f4 | sort > "$T/got"
    if diff "$T/want" "$T/got" > "$T/diff"; then pass table5_matches_paper
    else fail table5_matches_paper "$(tr '\n' ' ' < "$T/diff")"; fi
}

fig9_lr_shares_floats() {
    # The retrain lr axis splits retrains only: fig9-lr's float phases are
    # fig9's, and its 1e-4 retrains (the synthetic default) are fig9's too.
    "$Q" expand sweeps/fig9.json --job-json | cut -f1 | sort > "$T/f9"
    "$Q" expand sweeps/fig9-lr.json --job-json > "$T/f9lr"
    local floats shared
    floats=$(grep -c '"phase":"float"' "$T/f9lr")
    shared=$(cut -f1 "$T/f9lr" | sort | comm -12 - "$T/f9" | wc -l)
    if [ "$floats" = 18 ] && [ "$shared" = 72 ]; then pass fig9_lr_shares_floats
    else fail fig9_lr_shares_floats "$floats float phases (want 18), $shared ids shared with fig9 (want 72)"; fi
}

expand_ids_stable() {
    "$Q" expand sweeps/demo.json > "$T/a" && "$Q" expand sweeps/demo.json > "$T/b"
    if cmp -s "$T/a" "$T/b" && [ "$(grep -oE '"phase_id":"[0-9a-f]{32}"' "$T/a" | sort -u | wc -l)" = 96 ]
    then pass expand_ids_stable; else fail expand_ids_stable "ids differ between runs or are not 96 distinct"; fi
}

expand_needs_no_data() {
    cat > "$T/nodata.json" <<'JSON'
{"name": "nodata", "dataset": {"name": "cifar10", "path": "/nonexistent/cifar"},
 "axes": {"block": "basic", "depth": 20, "width": 16, "wbits": [32, 2], "abits": 2}}
JSON
    if "$Q" expand "$T/nodata.json" > "$T/out" 2> "$T/err" && grep -q '"phases":3,' "$T/out"
    then pass expand_needs_no_data; else fail expand_needs_no_data "$(cat "$T/err")"; fi
}

expand_bad_grid_lists_all() {
    cat > "$T/bad.json" <<'JSON'
{"name": "bad", "dataset": {"name": "cifar10"},
 "axes": {"block": "basic", "depth": [8, 21], "width": 16, "wbits": [2, 9]},
 "float": {"epochs": 0}, "colour": "blue"}
JSON
    "$Q" expand "$T/bad.json" > "$T/out" 2> "$T/err"
    local rc=$? missing=""
    local w
    for w in "$T/bad.json: axes.depth\[1\]: depth 21 is not 6n+2 for block \"basic\"" \
             "$T/bad.json: axes.wbits\[1\]: 9 is not a bit width" \
             "$T/bad.json: float.epochs: 0 is not an integer" \
             "$T/bad.json: colour: unknown key"; do
        grep -q "$w" "$T/err" || missing="$missing [$w]"
    done
    if [ "$rc" = 2 ] && [ -z "$missing" ] && [ ! -s "$T/out" ]; then pass expand_bad_grid_lists_all
    else fail expand_bad_grid_lists_all "rc $rc, missing:$missing; stderr: $(head -c 500 "$T/err")"; fi
}

# The depth rule and missing data files beside problems that used to stop
# the check before them (a wholly bad axis, a bad dataset entry, a bad
# protocol axis): one run lists them all. The sweep itself checks the data
# files (expand does not) and leaves the database untouched.
grid_every_problem_one_pass() {
    local n=grid_every_problem_one_pass
    cat > "$T/both.json" <<'JSON'
{"name": "both", "dataset": [{"name": "cifar10", "path": "/nonexistent/cifar"}, {"name": "mnist"}],
 "axes": {"block": "basic", "depth": [8, 21], "width": 16, "wbits": [32, 2], "abits": 2,
          "seed": "one", "retrain.lr": ["fast", 0.01]}}
JSON
    local w1="$T/both.json: axes.depth\[1\]: depth 21 is not 6n+2 for block \"basic\""
    local w2="$T/both.json: axes.seed: must be an integer"
    local w3="$T/both.json: dataset\[1\].name: \"mnist\" is not allowed"
    local w4="$T/both.json: axes.retrain.lr\[0\]: must be a number"
    local w5="$T/both.json: dataset\[0\].path: /nonexistent/cifar/data_batch_1.bin: No such file"
    "$Q" expand "$T/both.json" > "$T/$n.out" 2> "$T/$n.err"
    local rc=$? missing="" w
    for w in "$w1" "$w2" "$w3" "$w4"; do grep -q "$w" "$T/$n.err" || missing="$missing [$w]"; done
    if [ "$rc" != 2 ] || [ -n "$missing" ] || ! grep -q "has 4 problems" "$T/$n.err"; then
        fail $n "expand: rc $rc, missing:$missing; stderr: $(head -c 700 "$T/$n.err")"; return
    fi
    timeout -k 5 120 mpirun -n 1 "$Q" "$T/both.json" --db "$T/both.db" > "$T/$n.sweep.out" 2> "$T/$n.sweep.err"
    rc=$?
    for w in "$w1" "$w2" "$w3" "$w4" "$w5"; do grep -q "$w" "$T/$n.sweep.err" || missing="$missing [$w]"; done
    if [ "$rc" != 2 ] || [ -n "$missing" ] || [ -e "$T/both.db" ]; then
        fail $n "sweep: rc $rc, missing:$missing, db $(ls "$T/both.db" 2>&1); stderr: $(head -c 700 "$T/$n.sweep.err")"; return
    fi
    pass $n
}

expand_missing_file() {
    "$Q" expand "$T/nope.json" > "$T/out" 2> "$T/err"
    local rc=$?
    if [ "$rc" = 2 ] && grep -q "nope.json" "$T/err"; then pass expand_missing_file
    else fail expand_missing_file "rc $rc: $(cat "$T/err")"; fi
}

expand_usage() {
    "$Q" expand > /dev/null 2>&1
    local a=$?
    "$Q" expand sweeps/demo.json --bogus > /dev/null 2>&1
    local b=$?
    "$Q" expand sweeps/demo.json --dry-run > /dev/null 2>&1
    local c=$?
    if [ "$a" = 2 ] && [ "$b" = 2 ] && [ "$c" = 0 ]; then pass expand_usage
    else fail expand_usage "no grid: $a, bad flag: $b, --dry-run: $c"; fi
}

run_cases fig9_lr_shares_floats sweeps_all_expand sweep_phase_counts table5_matches_paper expand_ids_stable \
    expand_needs_no_data expand_bad_grid_lists_all grid_every_problem_one_pass expand_missing_file expand_usage
