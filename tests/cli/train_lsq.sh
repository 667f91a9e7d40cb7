#!/usr/bin/env bash
# `--quantizer lsq+` through `qsweep train` and `qsweep bench`
# (docs/quantizers.md): a W2A2 retrain from a float checkpoint runs and its
# loss falls; `--epochs 2` equals `--stop-after 1` + `--resume` bit for bit
# (FCDNN and a tiny ResNet); clr continues it; the checkpoint refuses to be
# continued as Hwang-PACT; an explicit `--quantizer hwang-pact` changes
# nothing; bad values are usage errors; export refuses lsq+.
set -u
. "$(dirname "$0")/lib.sh"

FC64="--model fcdnn --width 64 --depth 4 --data synthetic --seed 3"
FM="--data fashion-mnist --train-limit 512 --test-limit 256 --augment 1 --seed 1"

# split_equal NAME SECS ARGS...: ARGS (with --epochs 2) whole and as
# --stop-after 1 + --resume give the same JSON lines and final checkpoint.
split_equal() {
    local n=$1 secs=$2
    shift 2
    qrun $n.full "$secs" train "$@" --save "$T/$n.full.ck" || { fail $n "whole: $(why $n.full)"; return; }
    qrun $n.part "$secs" train "$@" --stop-after 1 --save "$T/$n.part.ck" ||
        { fail $n "--stop-after 1: $(why $n.part)"; return; }
    qrun $n.rest "$secs" train "$@" --resume "$T/$n.part.ck" --save "$T/$n.rest.ck" ||
        { fail $n "--resume: $(why $n.rest)"; return; }
    strip_timing "$T/$n.full.out" "$T/$n.a"
    cat "$T/$n.part.out" "$T/$n.rest.out" >"$T/$n.split.out"
    strip_timing "$T/$n.split.out" "$T/$n.b"
    if [ "$(wc -l <"$T/$n.a")" -ne 2 ] || ! cmp -s "$T/$n.a" "$T/$n.b"; then
        fail $n "JSON lines differ: whole [$(tr '\n' ' ' <"$T/$n.a")] vs split [$(tr '\n' ' ' <"$T/$n.b")]"
        return
    fi
    if ! cmp -s "$T/$n.full.ck" "$T/$n.rest.ck"; then
        fail $n "final checkpoints differ: $(cmp "$T/$n.full.ck" "$T/$n.rest.ck" 2>&1 | head -n 1)"
        return
    fi
    pass $n
}

float_ck() {
    [ -f "$T/float.ck" ] && return 0
    qrun float 120 train $FC64 --epochs 20 --save "$T/float.ck"
}

test_lsq_retrain_learns() {
    local n=train_lsq_retrain_learns
    float_ck || { fail $n "float phase: $(why float)"; return; }
    qrun $n 120 train $FC64 --phase retrain --from "$T/float.ck" --wbits 2 --abits 2 \
        --quantizer lsq+ --epochs 4
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    local l1 l4
    l1=$(jget "$T/$n.out" train_loss 1)
    l4=$(jget "$T/$n.out" train_loss 4)
    if [ -z "$l1" ] || [ -z "$l4" ] || fge "$l4" "$l1"; then
        fail $n "train loss does not fall: epoch 1 $l1, epoch 4 $l4"
    else
        pass $n
    fi
}

test_lsq_resume() {
    float_ck || { fail train_lsq_resume "float phase: $(why float)"; return; }
    split_equal train_lsq_resume_retrain 120 $FC64 --phase retrain --from "$T/float.ck" \
        --wbits 2 --abits 2 --quantizer lsq+ --epochs 2
    split_equal train_lsq_resume_per_channel 120 $FC64 --phase retrain --from "$T/float.ck" \
        --wbits 3 --abits 3 --quantizer lsq+ --lsq-per-channel 1 --lsq-winit mean --epochs 2
    local r=$T/train_lsq_resume_retrain.full.ck
    [ -f "$r" ] || { fail train_lsq_resume_clr "no retrained checkpoint"; return; }
    split_equal train_lsq_resume_clr 120 $FC64 --phase clr --from "$r" --wbits 2 --abits 2 \
        --quantizer lsq+ --period 2 --epochs 2
    expect_usage train_lsq_clr_as_hwang "W2A2 checkpoint \(lsq\+\); this clr phase is W2A2 \(hwang-pact\)" \
        train $FC64 --phase clr --from "$r" --wbits 2 --abits 2 --period 2 --epochs 2
    expect_usage train_lsq_resume_as_hwang "other quantizer settings \(lsq\+\) than this phase \(hwang-pact\)" \
        train $FC64 --phase retrain --wbits 2 --abits 2 --epochs 2 --resume "$r"
    expect_usage train_lsq_export_refused "lsq\+ \(not supported yet\)" export --from "$r" --out "$T/x.json"
}

test_lsq_resume_resnet() {
    local n=train_lsq_resume_resnet
    [ -n "$FMNIST_DIR" ] || { fail $n "$FMNIST_MISSING"; return; }
    local RN="--model resnet --block basic --depth 8 --width 4 $FM"
    qrun $n.float 120 train $RN --epochs 1 --save "$T/rn-float.ck" || { fail $n "float: $(why $n.float)"; return; }
    split_equal $n 180 $RN --phase retrain --from "$T/rn-float.ck" --wbits 2 --abits 2 \
        --quantizer lsq+ --epochs 2
}

# The default is the old quantizer: saying it changes no byte of the
# checkpoint (no "quant" section is written) and no output line.
test_default_unchanged() {
    local n=train_lsq_default_unchanged
    float_ck || { fail $n "float phase: $(why float)"; return; }
    local a="$FC64 --phase retrain --from $T/float.ck --wbits 2 --abits 2 --epochs 1"
    qrun $n.a 60 train $a --save "$T/$n.a.ck" || { fail $n "$(why $n.a)"; return; }
    qrun $n.b 60 train $a --quantizer hwang-pact --save "$T/$n.b.ck" || { fail $n "$(why $n.b)"; return; }
    strip_timing "$T/$n.a.out" "$T/$n.a.j"
    strip_timing "$T/$n.b.out" "$T/$n.b.j"
    if ! cmp -s "$T/$n.a.ck" "$T/$n.b.ck" || ! cmp -s "$T/$n.a.j" "$T/$n.b.j"; then
        fail $n "explicit --quantizer hwang-pact changed the run"
    elif grep -q quant "$T/$n.a.ck"; then
        fail $n "the default checkpoint has a \"quant\" section"
    else
        pass $n
    fi
}

test_usage() {
    expect_usage train_lsq_bad_name "unknown quantizer \"lsq\" \(allowed: hwang-pact, lsq\+\)" \
        train $FC64 --quantizer lsq --epochs 1
    expect_usage train_lsq_one_bit "lsq\+ needs at least 2 weight bits" \
        train $FC64 --phase retrain --from "$T/float.ck" --wbits 1 --abits 2 --quantizer lsq+ --epochs 1
    local n=bench_lsq
    qrun $n 60 bench --model fcdnn --width 16 --depth 4 --wbits 2 --abits 2 --quantizer lsq+ --steps 1
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"
    elif [ "$(jget "$T/$n.out" quantizer)" != "lsq+" ]; then fail $n "bench JSON: $(head -c 300 "$T/$n.out")"
    else pass $n; fi
}

run_cases test_lsq_retrain_learns \
    test_lsq_resume \
    test_lsq_resume_resnet \
    test_default_unchanged \
    test_usage
