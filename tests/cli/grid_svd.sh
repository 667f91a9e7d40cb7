#!/usr/bin/env bash
# The "compress" block in grid files (issue 15): compress phases are
# children of every float phase, one per energy / params value, beside the
# QAT retrains (which the block leaves alone); their job JSON carries the
# compress settings, the other phases none; every bad value is a problem
# naming the file and its JSON path.
. "$(dirname "$0")/lib.sh"

# COMPRESS: the block in svd.json, nothing in plain.json.
cat > "$T/grid.in" <<'G'
{
  "name": "svd-grid",
  "dataset": {"name": "synthetic", "train_limit": 4000, "test_limit": 1000},
  "axes": {"arch": "fcdnn", "width": 32, "depth": [3, 4], "wbits": [32, 4], "abits": [32, 4]},
  "exclude": [{"wbits": 32, "abits": 4}, {"wbits": 4, "abits": 32}],
  "float": {"epochs": 5}, "retrain": {"epochs": 2}COMPRESS
}
G
sed 's/COMPRESS/, "compress": {"method": "svd", "params": [0.5, 0.7], "epochs": 3}/' \
    "$T/grid.in" > "$T/svd.json"
sed 's/COMPRESS/, "compress": {"method": "svd", "energy": 0.9, "first_last": true}/' \
    "$T/grid.in" > "$T/energy.json"
sed 's/COMPRESS//' "$T/grid.in" > "$T/plain.json"

svd_grid_dag() {
    if ! "$Q" expand "$T/svd.json" --job-json > "$T/jobs" 2> "$T/err"; then
        fail svd_grid_dag "expand failed: $(head -c 300 "$T/err")"; return
    fi
    local nf nr nc bad="" f
    nf=$(grep -c '"phase":"float"' "$T/jobs")
    nr=$(grep -c '"phase":"retrain"' "$T/jobs")
    nc=$(grep -c '"phase":"compress"' "$T/jobs")
    # per depth: 1 float, 1 retrain (W4A4), 2 compress (params 0.5, 0.7)
    [ "$nf $nr $nc" = "2 2 4" ] || bad="$bad counts float/retrain/compress $nf/$nr/$nc;"
    "$Q" expand "$T/svd.json" > "$T/list" 2>/dev/null
    for f in $(grep '"phase":"float"' "$T/jobs" | cut -f1); do
        [ "$(grep '"phase":"compress"' "$T/list" | grep -c "\"parent\":\"$f\"")" = 2 ] ||
            bad="$bad float $f has not 2 compress children;"
    done
    [ "$(grep '"phase":"compress"' "$T/list" | grep -c '"quantizer":"none"')" = 4 ] ||
        bad="$bad compress rows are not quantizer none;"
    [ "$(grep '"phase":"compress"' "$T/jobs" | grep '"compress":"svd"' | grep -c '"svd_epochs":3')" = 4 ] ||
        bad="$bad compress settings missing;"
    [ "$(grep '"phase":"compress"' "$T/jobs" | grep -c -E '"svd_params":0\.(5|7),')" = 4 ] ||
        bad="$bad svd_params values missing;"
    grep '"phase":"compress"' "$T/jobs" | grep -q -E '"(svd_energy|svd_first_last|wbits":4)' &&
        bad="$bad a compress job carries an unset or quantized setting;"
    grep -v '"phase":"compress"' "$T/jobs" | grep -q '"svd_\|"compress"' &&
        bad="$bad a float / retrain job carries a compress setting;"
    "$Q" expand "$T/energy.json" --job-json > "$T/ejobs" 2>/dev/null
    [ "$(grep '"phase":"compress"' "$T/ejobs" | grep '"svd_energy":0.9' | grep -c '"svd_first_last":1')" = 2 ] ||
        bad="$bad energy / first_last not carried;"
    [ -z "$bad" ] && pass svd_grid_dag || fail svd_grid_dag "$bad"
}

# Without the block: the same float and retrain phases, ids and all.
svd_grid_ids_unchanged() {
    "$Q" expand "$T/plain.json" --job-json > "$T/plain" 2>/dev/null
    grep -v '"phase":"compress"' "$T/jobs" > "$T/nocomp"
    if [ ! -s "$T/plain" ] || ! cmp -s "$T/plain" "$T/nocomp"; then
        fail svd_grid_ids_unchanged "float / retrain jobs differ with the block: $(diff "$T/plain" "$T/nocomp" | head -c 300)"
    else
        pass svd_grid_ids_unchanged
    fi
}

# bad_grid NAME BLOCK PATTERN...: the grid with BLOCK as its compress
# block is refused (exit 2) with every PATTERN on stderr.
bad_grid() {
    local n=$1 blk=$2
    shift 2
    sed "s/COMPRESS/, \"compress\": $blk/" "$T/grid.in" > "$T/$n.json"
    qrun "$n" 30 expand "$T/$n.json"
    if [ "$RC" -ne 2 ]; then fail "$n" "expected exit status 2: $(why "$n")"; return; fi
    local p
    for p in "$@"; do
        grep -qF -- "$p" "$T/$n.err" || { fail "$n" "no \"$p\" in: $(head -c 400 "$T/$n.err")"; return; }
    done
    pass "$n"
}

svd_grid_errors() {
    bad_grid svd_grid_energy_range '{"method": "svd", "energy": [0.5, 1.5, 0]}' \
        "$T/svd_grid_energy_range.json: compress.energy[1]: 1.5 is out of range" \
        "compress.energy[2]: 0 is out of range"
    bad_grid svd_grid_params_range '{"method": "svd", "params": [1, 0.5]}' \
        "compress.params[0]: 1 is out of range"
    bad_grid svd_grid_both '{"method": "svd", "params": 0.5, "energy": 0.5}' \
        'compress: give "energy" or "params", not both'
    bad_grid svd_grid_neither '{"method": "svd", "epochs": 2}' 'compress: missing "energy"'
    bad_grid svd_grid_method '{"method": "pca", "energy": 0.5}' \
        'compress.method: "pca" is not allowed (allowed: svd)'
    bad_grid svd_grid_keys '{"method": "svd", "energy": 0.5, "epochs": -1, "first_last": 2, "rank": 3}' \
        "compress.epochs: -1" "compress.first_last: must be true or false" "compress.rank: unknown key"
    bad_grid svd_grid_twice '{"method": "svd", "energy": [0.5, 0.5]}' "compress.energy[1]: 0.5 is given twice"
}

run_cases svd_grid_dag svd_grid_ids_unchanged svd_grid_errors
