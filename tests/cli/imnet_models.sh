#!/usr/bin/env bash
# The ImageNet-scale models on the command line (docs/imagenet.md):
# `qsweep info` gives torchvision's parameter counts for the standard
# depths and Table 1's for explicit --blocks (also from a job JSON with a
# "blocks" list), bad combinations exit 2 with a message, and `qsweep
# train` trains the tiny versions on Fashion-MNIST for one epoch, float and
# W2A2 retraining.
set -u
. "$(dirname "$0")/lib.sh"

# info_params NAME WANT ARGS...: `qsweep info ARGS` reports params WANT.
info_params() {
    local name=$1 want=$2
    shift 2
    if ! qrun "$name" 60 info "$@"; then
        fail "$name" "$(why "$name")"
    elif ! grep -q "\"params\":$want," "$T/$name.out"; then
        fail "$name" "want params $want: $(head -c 300 "$T/$name.out")"
    else
        pass "$name"
    fi
}

test_info_counts() {
    info_params imnet_info_resnet18 11689512 --model imagenet-resnet --depth 18
    info_params imnet_info_resnet50 25557032 --model imagenet-resnet --depth 50
    info_params imnet_info_mobilenetv2 3504872 --model mobilenetv2
    info_params imnet_info_mobilenetv2_w14 6108776 --model mobilenetv2 --width-mult 1.4
    # Table 1's ResNet-44 (25.0M) and ResNet-26 (21.4M)
    info_params imnet_info_table1_44 24987952 --model imagenet-resnet --depth 44 --blocks 3,4,5,2 --width 72
    info_params imnet_info_table1_26 21430590 --model imagenet-resnet --blocks 3,3,3,3 --width 70
    printf '{"model":"imagenet-resnet","depth":44,"blocks":[3,4,5,2],"width":72}\n' >"$T/j44.json"
    info_params imnet_info_json_blocks 24987952 --config "$T/j44.json"
}

test_usage_errors() {
    expect_usage imnet_err_depth26 'depth 26 has no standard block table.*--blocks' \
        info --model imagenet-resnet --depth 26
    expect_usage imnet_err_blocks3 '"3,4,5" is not four block counts' \
        info --model imagenet-resnet --blocks 3,4,5
    expect_usage imnet_err_depth_mismatch 'depth 30 does not match blocks 2,2,2,2' \
        info --model imagenet-resnet --blocks 2,2,2,2 --depth 30
    expect_usage imnet_err_mbv2_depth 'mobilenetv2 takes --width-mult' \
        info --model mobilenetv2 --depth 20
    expect_usage imnet_err_synthetic 'needs image data' \
        info --model mobilenetv2 --data synthetic
    expect_usage imnet_err_train_nodata 'needs --data' train --model mobilenetv2
}

test_train_tiny() {
    if [ -z "$FMNIST_DIR" ]; then
        if [ "${CI:-}" = "true" ]; then fail imnet_train_tiny "$FMNIST_MISSING"; else
            echo "# SKIP imnet_train_tiny: $FMNIST_MISSING"; pass imnet_train_tiny; fi
        return
    fi
    local m ok=1
    for m in "--model mobilenetv2 --width-mult 0.25" "--model imagenet-resnet --blocks 1,1,1,1 --width 8 --block bottleneck"; do
        if ! qrun imnet_train 300 train $m --data fashion-mnist --data-dir "$FMNIST_DIR" \
            --train-limit 128 --test-limit 64 --epochs 1 --batch 32; then
            fail imnet_train_tiny "$m: $(why imnet_train)"; ok=0; break
        elif ! grep -q '"epoch":1,' "$T/imnet_train.out"; then
            fail imnet_train_tiny "$m: no epoch line: $(head -c 300 "$T/imnet_train.out")"; ok=0; break
        fi
    done
    [ "$ok" = 1 ] && pass imnet_train_tiny
}

# Float, then W2A2 retraining from it: PACT calibration must run the float
# model with its ReLU6 (a plain ReLU there gave unbounded outputs, an
# infinite alpha and a NaN loss at the second step).
test_retrain_w2a2() {
    if [ -z "$FMNIST_DIR" ]; then
        if [ "${CI:-}" = "true" ]; then fail imnet_retrain_w2a2 "$FMNIST_MISSING"; else
            echo "# SKIP imnet_retrain_w2a2: $FMNIST_MISSING"; pass imnet_retrain_w2a2; fi
        return
    fi
    local c="--model mobilenetv2 --width-mult 0.25 --data fashion-mnist --data-dir $FMNIST_DIR --train-limit 256 --test-limit 64 --epochs 1 --batch 32"
    if ! qrun imnet_float 300 train $c --save "$T/mb.ck"; then
        fail imnet_retrain_w2a2 "float: $(why imnet_float)"
    elif ! qrun imnet_w2a2 300 train $c --phase retrain --from "$T/mb.ck" --wbits 2 --abits 2; then
        fail imnet_retrain_w2a2 "retrain: $(why imnet_w2a2)"
    elif ! grep -q '"phase":"retrain","epoch":1,' "$T/imnet_w2a2.out"; then
        fail imnet_retrain_w2a2 "no epoch line: $(head -c 300 "$T/imnet_w2a2.out")"
    else
        pass imnet_retrain_w2a2
    fi
}

run_cases test_info_counts test_usage_errors test_train_tiny test_retrain_w2a2
