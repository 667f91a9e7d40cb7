#!/usr/bin/env bash
# The ptq method in grid files: ptq phases are children of float beside
# the QAT retrains (which the ptq axes leave alone), their job JSON carries
# the ptq settings and no training ones, and every bad ptq setting is a
# problem naming the file and its JSON path.
. "$(dirname "$0")/lib.sh"

# PTQAXES: the ptq axes in ptq.json, nothing in qat.json.
cat > "$T/grid.in" <<'G'
{
  "name": "ptq-grid",
  "dataset": {"name": "synthetic", "train_limit": 4000, "test_limit": 1000},
  "axes": {"arch": "fcdnn", "width": 32, "depth": 4, "wbits": [32, 8, 4], "abits": [32, 8]PTQAXES},
  "exclude": [{"wbits": 32, "abits": 8}, {"wbits": 8, "abits": 32}, {"wbits": 4, "abits": 32}],
  "float": {"epochs": 5}, "retrain": {"epochs": 2},
  "ptq": {"calib_images": 512, "bias_correction": "empirical", "per_channel": true}
}
G
sed 's/PTQAXES/, "method": ["qat", "ptq"], "rounding": ["nearest", "adaround"], "equalize": [false, true]/' \
    "$T/grid.in" > "$T/ptq.json"
sed 's/PTQAXES//' "$T/grid.in" > "$T/qat.json"

ptq_grid_dag() {
    if ! "$Q" expand "$T/ptq.json" --job-json > "$T/jobs" 2> "$T/err"; then
        fail ptq_grid_dag "expand failed: $(head -c 300 "$T/err")"; return
    fi
    local nf nr np float_id bad=""
    nf=$(grep -c '"phase":"float"' "$T/jobs")
    nr=$(grep -c '"phase":"retrain"' "$T/jobs")
    np=$(grep -c '"phase":"ptq"' "$T/jobs")
    # 1 float; retrain per bits (rounding / equalize do not split it);
    # ptq per bits x rounding x equalize
    [ "$nf $nr $np" = "1 2 8" ] || bad="$bad counts float/retrain/ptq $nf/$nr/$np;"
    "$Q" expand "$T/ptq.json" > "$T/list" 2>/dev/null
    float_id=$(grep -m1 '"phase":"float"' "$T/jobs" | cut -f1)
    [ "$(grep '"phase":"ptq"' "$T/list" | grep -c "\"parent\":\"$float_id\"")" = 8 ] ||
        bad="$bad ptq parents are not the float phase;"
    grep '"phase":"ptq"' "$T/jobs" | grep -q -E '"(lr|epochs|optimizer|alpha_init|quantizer)"' &&
        bad="$bad a ptq job carries a training setting;"
    [ "$(grep '"phase":"ptq"' "$T/jobs" | grep -c '"iterations":10000')" = 4 ] ||
        bad="$bad iterations not exactly on the adaround phases;"
    grep '"phase":"ptq"' "$T/jobs" | grep -v -q '"bias_correction":"empirical","calib_images":512' &&
        bad="$bad ptq settings missing;"
    grep '"phase":"retrain"' "$T/jobs" | grep -q -E '"(rounding|equalize|calib_images)"' &&
        bad="$bad a retrain carries a ptq setting;"
    [ -z "$bad" ] && pass ptq_grid_dag || fail ptq_grid_dag "$bad"
}

# The same grid without the method axis has the same float and retrains:
# ptq axes change nothing for the QAT phases.
ptq_axes_leave_qat_alone() {
    "$Q" expand "$T/qat.json" --job-json > "$T/qjobs" 2> "$T/qerr" ||
        { fail ptq_axes_leave_qat_alone "expand: $(head -c 300 "$T/qerr")"; return; }
    grep -v '"phase":"ptq"' "$T/jobs" | sort > "$T/a"
    sort "$T/qjobs" > "$T/b"
    cmp -s "$T/a" "$T/b" && pass ptq_axes_leave_qat_alone ||
        fail ptq_axes_leave_qat_alone "$(diff "$T/a" "$T/b" | head -3)"
}

ptq_grid_errors() {
    cat > "$T/bad.json" <<'G'
{
  "name": "ptq-bad",
  "dataset": {"name": "synthetic", "train_limit": 400, "test_limit": 100},
  "axes": {"arch": "fcdnn", "width": 32, "depth": 4, "wbits": [1, 8], "abits": 8,
           "method": ["ptq", "pqt"], "rounding": "adaroun", "equalize": 3},
  "ptq": {"calib_images": 1000, "bias_correction": true, "per_chanel": true, "iterations": 0}
}
G
    "$Q" expand "$T/bad.json" > /dev/null 2> "$T/err"
    local rc=$? bad="" want
    [ $rc -eq 2 ] || bad="$bad exit $rc;"
    for want in 'bad.json: axes.method\[1\]: "pqt" is not allowed' \
                'bad.json: axes.rounding: "adaroun" is not allowed' \
                'bad.json: axes.equalize: must be true or false' \
                'bad.json: ptq.per_chanel: unknown key' \
                'bad.json: ptq.bias_correction: must be a string (allowed: none, empirical, bn)' \
                'bad.json: ptq.iterations: 0 is not an integer in 1..' \
                'bad.json: axes.method\[0\]: "ptq" needs at least 2 weight bits' \
                'bad.json: ptq.calib_images: 1000 calibration images is more than the 400'; do
        grep -q "$want" "$T/err" || bad="$bad missing [$want];"
    done
    [ -z "$bad" ] && pass ptq_grid_errors || fail ptq_grid_errors "$bad $(head -c 600 "$T/err")"
}

run_cases ptq_grid_dag ptq_axes_leave_qat_alone ptq_grid_errors
