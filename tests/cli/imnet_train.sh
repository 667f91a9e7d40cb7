#!/usr/bin/env bash
# `qsweep train --data imagenet` on a tiny generated ImageNet-layout tree
# (docs/imagenet.md): float then W2A2 retraining at image size 32 with one
# truncated JPEG skipped and counted each epoch, a resume bit for bit equal
# to the uninterrupted run, a parent of another stage table refused naming
# both models, and a missing ROOT refused before training, naming it.
set -u
. "$(dirname "$0")/lib.sh"

TOOL=$PWD/build/tests/tool_imnet
TREE=$T/tree
C="--model imagenet-resnet --blocks 1,1,1,1 --width 8 --data imagenet --data-dir $TREE --image-size 32 --batch 16"

make_tree() {
    "$TOOL" gen "$TREE" 4 16 4 80 60 1 >"$T/gen.out" 2>&1 || return 1
    # one file cut short: no end-of-image marker
    local f=$TREE/train/n00000002/n00000002_3.JPEG
    head -c 400 "$f" >"$T/cut" && mv "$T/cut" "$f"
}

test_float_retrain() {
    if ! qrun in_float 300 train $C --epochs 2 --save "$T/f.ck"; then
        fail imnet_train_float "$(why in_float)"; return
    fi
    if [ "$(grep -c '"skipped":1,' "$T/in_float.out")" != 2 ] ||
        [ "$(grep -c 'warning: epoch [12] skipped 1 file.*n00000002_3.JPEG: ' "$T/in_float.err")" != 2 ]; then
        fail imnet_train_float "want 'skipped':1 and a warning naming the file per epoch: $(head -c 300 "$T/in_float.out") / $(head -c 300 "$T/in_float.err")"
        return
    fi
    pass imnet_train_float
    if ! qrun in_w2a2 300 train $C --epochs 2 --phase retrain --from "$T/f.ck" --wbits 2 --abits 2 \
        --save "$T/r.ck"; then
        fail imnet_train_retrain_w2a2 "$(why in_w2a2)"
    elif [ "$(grep -c '"phase":"retrain".*"test_acc":[0-9]' "$T/in_w2a2.out")" != 2 ] ||
        ! grep -q '"wbits":2,"abits":2' "$T/in_w2a2.out"; then
        fail imnet_train_retrain_w2a2 "epoch lines: $(head -c 300 "$T/in_w2a2.out")"
    else
        pass imnet_train_retrain_w2a2
    fi
}

# Stopped after one epoch and resumed: the same bytes as one run (the
# loader's crops come from the job's RNG, which the checkpoint carries).
test_resume_identical() {
    local r="--epochs 3 --phase retrain --wbits 2 --abits 2"
    if ! qrun in_part 300 train $C $r --from "$T/f.ck" --stop-after 1 --save "$T/p.ck" ||
        ! qrun in_rest 300 train $C $r --resume "$T/p.ck" --save "$T/p.ck" ||
        ! qrun in_whole 300 train $C $r --from "$T/f.ck" --save "$T/w.ck"; then
        fail imnet_train_resume_identical "$(why in_part; why in_rest; why in_whole)"
    elif ! cmp -s "$T/p.ck" "$T/w.ck"; then
        fail imnet_train_resume_identical "resumed checkpoint differs from the uninterrupted run's"
    elif strip_timing "$T/in_whole.out" "$T/whole.j" && strip_timing "$T/in_rest.out" "$T/rest.j" &&
        [ "$(tail -n 2 "$T/whole.j")" != "$(cat "$T/rest.j")" ] || [ ! -s "$T/rest.j" ]; then
        fail imnet_train_resume_identical "epoch lines differ: $(head -c 300 "$T/rest.j")"
    else
        pass imnet_train_resume_identical
    fi
}

# Same depth and width, blocks split otherwise: the checkpoint's model
# section holds the stage table, so the retrain names both models.
test_stage_mismatch() {
    local m="--data imagenet --data-dir $TREE --image-size 32 --batch 16 --epochs 1 --width 8"
    if ! qrun in_p2111 300 train --model imagenet-resnet --blocks 2,1,1,1 $m --save "$T/a.ck"; then
        fail imnet_train_stage_mismatch "parent: $(why in_p2111)"; return
    fi
    expect_usage imnet_train_stage_mismatch \
        'a.ck holds imagenet-resnet-basic-12-8-2.1.1.1 .*this phase is imagenet-resnet-basic-12-8-1.1.1.2' \
        train --model imagenet-resnet --blocks 1,1,1,2 $m --phase retrain --from "$T/a.ck" --wbits 2 --abits 2
    qrun in_m25 300 train --model mobilenetv2 --width-mult 0.25 --data imagenet --data-dir "$TREE" \
        --image-size 32 --batch 16 --epochs 1 --save "$T/m.ck"
    expect_usage imnet_train_width_mult_mismatch 'm.ck holds mobilenetv2-0.25 .*this phase is mobilenetv2-0.3 ' \
        train --model mobilenetv2 --width-mult 0.3 --data imagenet --data-dir "$TREE" --image-size 32 \
        --batch 16 --epochs 1 --phase retrain --from "$T/m.ck" --wbits 2 --abits 2
}

test_bad_inputs() {
    expect_usage imnet_train_missing_root "$T/none/train: cannot open directory" \
        train $C --data-dir "$T/none" --epochs 1
    mkdir -p "$T/half/train/n1"
    expect_usage imnet_train_no_val "$T/half/val: cannot open directory" \
        train $C --data-dir "$T/half" --epochs 1
    expect_usage imnet_train_no_root 'imagenet needs its folder ROOT' \
        train --model imagenet-resnet --blocks 1,1,1,1 --width 8 --data imagenet --epochs 1
    expect_usage imnet_train_size_range '--image-size: .*16' train $C --image-size 16
    expect_usage imnet_train_size_other_data '--image-size is the crop side of --data imagenet' \
        train --model resnet --depth 8 --width 4 --data cifar10 --image-size 64
    expect_usage imnet_train_resnet_imagenet '--data imagenet trains --model imagenet-resnet or mobilenetv2' \
        train --model resnet --depth 8 --width 4 --data imagenet --data-dir "$TREE"
}

if ! make_tree; then
    fail imnet_train_tree "tool_imnet gen: $(head -c 300 "$T/gen.out")"
else
    run_cases test_float_retrain test_resume_identical test_stage_mismatch test_bad_inputs
fi
