#!/usr/bin/env bash
# `qsweep train` on bad usage or input (interfaces.md): exit status 2, a
# message on stderr that says what is wrong (and what is allowed), nothing
# on stdout. Also the two positive cases next to the checks: depthwise depth
# 20 is valid and --params resolves a width.
set -u
. "$(dirname "$0")/lib.sh"

FC="--model fcdnn --depth 4 --width 8 --data synthetic"
RN="--model resnet --width 4 --data fashion-mnist"

# Regex-escapes a literal (paths) for expect_usage.
esc() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

test_unknown_flag() {
    expect_usage train_err_unknown_flag 'unknown option "--bogus"' train $FC --bogus 1
}

test_missing_value() {
    expect_usage train_err_missing_value '--epochs needs a value' train $FC --epochs
}

test_depth21_basic() {
    expect_usage train_err_depth21_basic \
        'depth 21 is not 6n\+2 for block "basic" \(allowed: 8, 14, 20' \
        train $RN --block basic --depth 21
}

test_depth21_preact() {
    expect_usage train_err_depth21_preact 'depth 21 is not 6n\+2.*allowed: 8, 14, 20' \
        train $RN --block preact --depth 21
}

test_depth21_depthwise() {
    expect_usage train_err_depth21_depthwise \
        'depth 21 is not 9n\+2 for block "depthwise" \(allowed: 11, 20, 29' \
        train $RN --block depthwise --depth 21
}

# The other half: 20 = 9 x 2 + 2 is a depthwise depth (not a basic one).
test_depth20_depthwise_valid() {
    local n=train_depth20_depthwise_valid
    [ -n "$FMNIST_DIR" ] || { fail $n "$FMNIST_MISSING"; return; }
    qrun $n 120 train $RN --block depthwise --depth 20 --epochs 1 --train-limit 128 \
        --test-limit 64
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    local m
    m=$(jget "$T/$n.out" model)
    [ "$m" = "resnet-depthwise-20-4" ] || { fail $n "model \"$m\", expected resnet-depthwise-20-4"; return; }
    pass $n
}

test_depth_fcdnn() {
    expect_usage train_err_depth1_fcdnn 'depth 1 is invalid for fcdnn \(allowed: 2\.\.' \
        train --model fcdnn --depth 1 --width 8 --data synthetic
}

test_width0() {
    expect_usage train_err_width0 '--width: "0" .*1\.\.65536' \
        train --model fcdnn --depth 4 --width 0 --data synthetic
}

test_no_width() {
    expect_usage train_err_no_width '--width K or --params N is required' \
        train --model fcdnn --depth 4 --data synthetic
}

# --params N picks the width whose count is nearest (methods.md section 1):
# FCDNN 64-4 has 8,642 parameters, ResNet basic-20-31 1,018,019.
test_params_resolves_width() {
    local n=train_params_resolves_width m
    qrun $n 60 train --model fcdnn --depth 4 --params 8600 --data synthetic --epochs 1 \
        --train-limit 512 --test-limit 256
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    m=$(jget "$T/$n.out" model)
    [ "$m" = "fcdnn-64-4" ] || { fail $n "--params 8600 gave model \"$m\", expected fcdnn-64-4"; return; }
    grep -q "8642 params" "$T/$n.err" || { fail $n "stderr lacks \"8642 params\": $(head -c 200 "$T/$n.err")"; return; }
    qrun $n.info 60 info --model resnet --block basic --depth 20 --params 1e6 --data cifar10
    if [ "$RC" -ne 0 ]; then fail $n "info: $(why $n.info)"; return; fi
    m=$(jget "$T/$n.info.out" model)
    [ "$m" = "resnet-basic-20-31" ] || { fail $n "--params 1e6 gave \"$m\", expected resnet-basic-20-31"; return; }
    pass $n
}

test_params_too_small() {
    expect_usage train_err_params_not_number '--params: "5" is not a number in 10\.\.' \
        train --model fcdnn --depth 4 --params 5 --data synthetic
}

test_fcdnn_image_data() {
    expect_usage train_err_fcdnn_image_data '--model fcdnn takes --data synthetic' \
        train --model fcdnn --depth 4 --width 8 --data fashion-mnist
}

test_resnet_synthetic() {
    expect_usage train_err_resnet_synthetic \
        '--model resnet needs image data \(allowed: --data fashion-mnist, cifar10\)' \
        train --model resnet --block basic --depth 8 --width 4 --data synthetic
}

test_unknown_dataset() {
    expect_usage train_err_unknown_dataset 'unknown dataset "mnist".*synthetic, fashion-mnist, cifar10 or imagenet' \
        train --model resnet --depth 8 --width 4 --data mnist
}

test_missing_data_dir() {
    local d="$T/no-such-dir"
    expect_usage train_err_missing_data_dir_fmnist \
        "$(esc "$d")/train-images-idx3-ubyte\.gz: No such file or directory" \
        train --model resnet --depth 8 --width 4 --data fashion-mnist --data-dir "$d"
    expect_usage train_err_missing_data_dir_cifar10 \
        "$(esc "$d")/data_batch_1\.bin: No such file or directory" \
        train --model resnet --depth 8 --width 4 --data cifar10 --data-dir "$d"
}

# A short (truncated) data file is named, before any training (no stdout).
test_short_data_file() {
    local n=train_err_short_data_file d="$T/fm-short" f
    [ -n "$FMNIST_DIR" ] || { fail $n "$FMNIST_MISSING"; return; }
    mkdir -p "$d"
    for f in train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
        ln -s "$(cd "$FMNIST_DIR" && pwd)/$f" "$d/$f"
    done
    head -c 3000 "$FMNIST_DIR/train-images-idx3-ubyte.gz" >"$d/train-images-idx3-ubyte.gz"
    expect_usage $n "$(esc "$d")/train-images-idx3-ubyte\.gz: file is short" \
        train --model resnet --depth 8 --width 4 --data fashion-mnist --data-dir "$d" \
        --train-limit 512 --test-limit 64
    # A CIFAR-10 batch of the wrong size.
    mkdir -p "$T/c10"
    head -c 30730 /dev/zero >"$T/c10/data_batch_1.bin"
    expect_usage train_err_short_cifar_file \
        "$(esc "$T/c10")/data_batch_1\.bin: file is 30730 bytes, expected 30730000" \
        train --model resnet --depth 8 --width 4 --data cifar10 --data-dir "$T/c10"
}

test_retrain_without_from() {
    expect_usage train_err_retrain_without_from '--phase retrain needs --from' \
        train $FC --phase retrain --wbits 2 --abits 2
    expect_usage train_err_clr_without_from '--phase clr needs --from' \
        train $FC --phase clr --wbits 2 --abits 2 --period 2
}

test_bad_bits() {
    expect_usage train_err_wbits9 '--wbits: "9" is not a bit width \(allowed: 1\.\.8, 32 = float, or learned' \
        train $FC --wbits 9
    expect_usage train_err_abits0 '--abits: "0" is not a bit width \(allowed: 1\.\.8, 32 = float, or learned' \
        train $FC --abits 0
    expect_usage train_err_abits1 'abits 1 is not supported.*allowed: 2\.\.8 or 32' \
        train $FC --abits 1
}

test_bad_alpha_init() {
    expect_usage train_err_alpha_init_word '--alpha-init: "foo" is not mse, pNN\.N or a positive number' \
        train $FC --alpha-init foo
    expect_usage train_err_alpha_init_percentile '--alpha-init: "p0" is not a percentile' \
        train $FC --alpha-init p0
    expect_usage train_err_alpha_init_negative '--alpha-init: "-1" is not' \
        train $FC --alpha-init -1
}

test_bad_choices() {
    expect_usage train_err_bad_block 'unknown block "wide".*allowed: basic, preact, depthwise' \
        train $RN --block wide --depth 8
    expect_usage train_err_bad_optimizer '--optimizer: "rmsprop" is not allowed \(allowed: sgd, adam\)' \
        train $FC --optimizer rmsprop
    expect_usage train_err_bad_phase 'unknown phase "qat".*allowed: float, retrain, clr' \
        train $FC --phase qat
    expect_usage train_err_label_smoothing_1 '--label-smoothing: "1" is not a number \(allowed: 0\.\.1, 1 excluded\)' \
        train $FC --label-smoothing 1
    expect_usage train_err_label_smoothing_neg '--label-smoothing: "-0.1" is not a number' \
        train $FC --label-smoothing -0.1
    expect_usage train_err_positional 'unexpected argument "extra"' train $FC extra
    expect_usage train_err_no_model '--model is required' train --depth 4 --width 8 --data synthetic
}

test_config_errors() {
    local c=$T/job
    echo '{"model":"fcdnn","depth":4,"width":8,"data":"synthetic","bogus_key":1}' >"$c-unknown.json"
    expect_usage train_err_config_unknown_key \
        "$(esc "$c-unknown.json"): key \"bogus_key\": unknown option" train --config "$c-unknown.json"
    echo '{"model":"fcdnn","depth":"four","width":8,"data":"synthetic"}' >"$c-type.json"
    expect_usage train_err_config_wrong_type \
        "$(esc "$c-type.json"): key \"depth\": --depth: \"four\" is not an integer" \
        train --config "$c-type.json"
    echo '{"model":"fcdnn","depth":[4],"width":8,"data":"synthetic"}' >"$c-array.json"
    expect_usage train_err_config_array_value \
        "$(esc "$c-array.json"): key \"depth\" must be a string, number or boolean" \
        train --config "$c-array.json"
    echo '{"model":"fcdnn","depth":4,"width":8,"data":"synthetic","residual":1}' >"$c-switch.json"
    expect_usage train_err_config_switch_type \
        "$(esc "$c-switch.json"): key \"residual\" must be true or false" train --config "$c-switch.json"
    printf '{"model":"fcdnn",\n "depth":4,, "width":8}' >"$c-bad.json"
    expect_usage train_err_config_invalid_json \
        "$(esc "$c-bad.json"): not a JSON object \(error near byte [0-9]+\)" train --config "$c-bad.json"
    echo '[1, 2]' >"$c-array-top.json"
    expect_usage train_err_config_not_object "$(esc "$c-array-top.json"): not a JSON object" \
        train --config "$c-array-top.json"
    expect_usage train_err_config_missing_file "$(esc "$c-none.json"): No such file or directory" \
        train --config "$c-none.json"
    # A valid config is accepted, and the command line adds to it.
    local n=train_config_ok
    echo '{"model":"fcdnn","depth":4,"width":8,"data":"synthetic","train_limit":256,"test_limit":128}' >"$c-ok.json"
    qrun $n 60 train --config "$c-ok.json" --epochs 1
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"
    elif [ "$(jget "$T/$n.out" model)" != fcdnn-8-4 ]; then fail $n "model $(jget "$T/$n.out" model)"
    else pass $n; fi
}

test_unknown_subcommand() {
    expect_usage cli_err_unknown_subcommand 'unknown command "frobnicate"' frobnicate
    expect_usage cli_err_no_subcommand '^usage: qsweep COMMAND'
}

run_cases test_unknown_flag \
    test_missing_value \
    test_depth21_basic \
    test_depth21_preact \
    test_depth21_depthwise \
    test_depth20_depthwise_valid \
    test_depth_fcdnn \
    test_width0 \
    test_no_width \
    test_params_resolves_width \
    test_params_too_small \
    test_fcdnn_image_data \
    test_resnet_synthetic \
    test_unknown_dataset \
    test_missing_data_dir \
    test_short_data_file \
    test_retrain_without_from \
    test_bad_bits \
    test_bad_alpha_init \
    test_bad_choices \
    test_config_errors \
    test_unknown_subcommand
