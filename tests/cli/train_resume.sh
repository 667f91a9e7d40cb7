#!/usr/bin/env bash
# Checkpoints through `qsweep train` (interfaces.md): `--epochs 2` equals
# `--epochs 2 --stop-after 1 --save ck` then `--epochs 2 --resume ck` bit for
# bit: the JSON lines minus the wall-clock keys ("seconds", "img_per_s") and
# the final checkpoints' bytes (both runs end with --save). Then checkpoints
# that must be refused: truncated, one flipped byte, another architecture or
# bit width, not a checkpoint at all.
set -u
. "$(dirname "$0")/lib.sh"

FC64="--model fcdnn --width 64 --depth 4 --data synthetic --seed 3"
# Tiny Fashion-MNIST ResNets; crop + flip augmentation (on by default for
# images, forced here) draws from the job's RNG, so the RNG state must
# travel in the checkpoint.
FM="--data fashion-mnist --train-limit 512 --test-limit 256 --augment 1 --seed 1"

# same_as_split NAME LIMIT ARGS...: ARGS (which include --epochs 2) run
# whole and as --stop-after 1 + --resume; both must agree bit for bit.
same_as_split() {
    local n=$1 secs=$2
    shift 2
    qrun $n.full "$secs" train "$@" --save "$T/$n.full.ck"
    if [ "$RC" -ne 0 ]; then fail $n "uninterrupted run: $(why $n.full)"; return; fi
    qrun $n.part "$secs" train "$@" --stop-after 1 --save "$T/$n.part.ck"
    if [ "$RC" -ne 0 ]; then fail $n "--stop-after 1 run: $(why $n.part)"; return; fi
    qrun $n.rest "$secs" train "$@" --resume "$T/$n.part.ck" --save "$T/$n.rest.ck"
    if [ "$RC" -ne 0 ]; then fail $n "--resume run: $(why $n.rest)"; return; fi
    local nf np nr
    nf=$(wc -l <"$T/$n.full.out"); np=$(wc -l <"$T/$n.part.out"); nr=$(wc -l <"$T/$n.rest.out")
    if [ "$nf" -ne 2 ] || [ "$np" -ne 1 ] || [ "$nr" -ne 1 ]; then
        fail $n "JSON lines: whole $nf (expected 2), stop-after $np (1), resume $nr (1)"; return
    fi
    if ! grep -q "(resumed)" "$T/$n.rest.err"; then
        fail $n "the resumed run does not say \"(resumed)\" on stderr"; return
    fi
    strip_timing "$T/$n.full.out" "$T/$n.a"
    cat "$T/$n.part.out" "$T/$n.rest.out" >"$T/$n.split.out"
    strip_timing "$T/$n.split.out" "$T/$n.b"
    if ! cmp -s "$T/$n.a" "$T/$n.b"; then
        fail $n "JSON lines differ: whole [$(tr '\n' ' ' <"$T/$n.a")] vs split [$(tr '\n' ' ' <"$T/$n.b")]"
        return
    fi
    if ! cmp -s "$T/$n.full.ck" "$T/$n.rest.ck"; then
        fail $n "final checkpoints differ: $(cmp "$T/$n.full.ck" "$T/$n.rest.ck" 2>&1 | head -n 1)"
        return
    fi
    pass $n
}

test_resume_fcdnn() {
    same_as_split train_resume_fcdnn_64_4 60 $FC64 --epochs 2
}

test_resume_resnets() {
    if [ -z "$FMNIST_DIR" ]; then
        local b
        for b in basic preact depthwise; do fail train_resume_resnet_$b "$FMNIST_MISSING"; done
        return
    fi
    same_as_split train_resume_resnet_basic 120 --model resnet --block basic --depth 8 --width 4 $FM --epochs 2
    same_as_split train_resume_resnet_preact 120 --model resnet --block preact --depth 8 --width 4 $FM --epochs 2
    same_as_split train_resume_resnet_depthwise 120 --model resnet --block depthwise --depth 11 --width 4 $FM --epochs 2
}

# Quantized phases: step sizes, PACT alphas and the calibrated flag travel in
# the checkpoint; a resumed phase must not calibrate again.
test_resume_retrain() {
    local n=train_resume_retrain_w2a2_fcdnn
    qrun $n.float 60 train $FC64 --epochs 3 --save "$T/fc-float.ck"
    if [ "$RC" -ne 0 ]; then fail $n "float phase: $(why $n.float)"; return; fi
    same_as_split $n 60 $FC64 --phase retrain --from "$T/fc-float.ck" --wbits 2 --abits 2 --epochs 2
    # clr continues the retrained W2A2 model (period 2 epochs: the lr moves every quarter epoch).
    same_as_split train_resume_clr_w2a2_fcdnn 60 $FC64 --phase clr --from "$T/$n.full.ck" \
        --wbits 2 --abits 2 --period 2 --epochs 2
    n=train_resume_retrain_w2a2_resnet
    [ -n "$FMNIST_DIR" ] || { fail $n "$FMNIST_MISSING"; return; }
    qrun $n.float 120 train --model resnet --block basic --depth 8 --width 4 $FM --epochs 1 \
        --save "$T/rn-float.ck"
    if [ "$RC" -ne 0 ]; then fail $n "float phase: $(why $n.float)"; return; fi
    same_as_split $n 120 --model resnet --block basic --depth 8 --width 4 $FM --phase retrain \
        --from "$T/rn-float.ck" --wbits 2 --abits 2 --epochs 2
}

# Results are bit-identical for the same seed and thread count (methods.md
# section 3), so the split run at 2 threads must match the whole one.
test_resume_threads2() {
    local n=train_resume_threads2
    if [ -n "$FMNIST_DIR" ]; then
        same_as_split $n 120 --model resnet --block basic --depth 8 --width 4 $FM --epochs 2 --threads 2
    else
        same_as_split $n 60 $FC64 --epochs 2 --threads 2
    fi
    grep -q "2 thread(s)" "$T/$n.full.err" 2>/dev/null ||
        fail ${n}_reported "stderr does not report 2 thread(s): $(head -c 200 "$T/$n.full.err" 2>/dev/null)"
}

# ---- refused checkpoints: exit 2, the file named, nothing on stdout ------

CK=""
base_ck() { # a 1-of-2-epoch fcdnn-64-4 checkpoint, made once
    if [ -z "$CK" ]; then
        qrun base_ck 60 train $FC64 --epochs 2 --stop-after 1 --save "$T/base.ck"
        [ "$RC" -eq 0 ] && CK=$T/base.ck
    fi
    [ -n "$CK" ]
}

esc() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

test_truncated() {
    base_ck || { fail train_resume_truncated "could not make a checkpoint: $(why base_ck)"; return; }
    local size
    size=$(wc -c <"$CK")
    head -c $((size / 2)) "$CK" >"$T/half.ck"
    expect_usage train_resume_truncated_half "$(esc "$T/half.ck"): .*(truncated|checksum|short)" \
        train $FC64 --epochs 2 --resume "$T/half.ck"
    head -c $((size - 1)) "$CK" >"$T/less1.ck"
    expect_usage train_resume_truncated_last_byte "$(esc "$T/less1.ck"): .*(truncated|checksum|short)" \
        train $FC64 --epochs 2 --resume "$T/less1.ck"
    head -c 3 "$CK" >"$T/three.ck"
    expect_usage train_resume_truncated_header "$(esc "$T/three.ck"): .*truncated" \
        train $FC64 --epochs 2 --resume "$T/three.ck"
    # A retrain from a truncated parent is refused the same way.
    expect_usage train_from_truncated "$(esc "$T/half.ck"): .*(truncated|checksum|short)" \
        train $FC64 --phase retrain --wbits 2 --abits 2 --epochs 2 --from "$T/half.ck"
}

# flip FILE OFFSET: xor the byte at OFFSET with 0x01.
flip() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf %03o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

test_flipped() {
    base_ck || { fail train_resume_flipped "could not make a checkpoint: $(why base_ck)"; return; }
    local size off where name re
    size=$(wc -c <"$CK")
    # name:offset:what the message must say (the header fields are checked
    # first, everything else by the CRC32 over the whole file).
    for where in "magic:0:not a qsweep checkpoint \(bad magic" "version:5:format version" \
        "middle:$((size / 2)):checksum mismatch" "params:$((size * 3 / 4)):checksum mismatch" \
        "crc:$((size - 1)):checksum mismatch"; do
        name=${where%%:*}
        off=${where#*:}; off=${off%%:*}
        re=${where#*:*:}
        cp "$CK" "$T/flip-$name.ck"
        flip "$T/flip-$name.ck" "$off"
        if cmp -s "$CK" "$T/flip-$name.ck"; then
            fail "train_resume_flipped_$name" "the byte at $off did not change"; continue
        fi
        expect_usage "train_resume_flipped_$name" "$(esc "$T/flip-$name.ck"): .*$re" \
            train $FC64 --epochs 2 --resume "$T/flip-$name.ck"
    done
}

test_other_arch() {
    base_ck || { fail train_resume_other_arch "could not make a checkpoint: $(why base_ck)"; return; }
    expect_usage train_resume_other_width "fcdnn-64-4.*fcdnn-32-4" \
        train --model fcdnn --width 32 --depth 4 --data synthetic --epochs 2 --resume "$CK"
    expect_usage train_resume_other_depth "fcdnn-64-4.*fcdnn-64-3" \
        train --model fcdnn --width 64 --depth 3 --data synthetic --epochs 2 --resume "$CK"
    expect_usage train_resume_plain_vs_residual "fcdnn-64-4.*fcdnn-res-64-4" \
        train $FC64 --residual --epochs 2 --resume "$CK"
    expect_usage train_from_other_arch "fcdnn-64-4.*fcdnn-32-4" \
        train --model fcdnn --width 32 --depth 4 --data synthetic --phase retrain --wbits 2 \
        --abits 2 --epochs 2 --from "$CK"
    if [ -n "$FMNIST_DIR" ]; then
        local n=train_resume_other_block
        qrun $n.mk 120 train --model resnet --block basic --depth 8 --width 4 $FM --epochs 2 \
            --stop-after 1 --save "$T/basic.ck"
        if [ "$RC" -ne 0 ]; then fail $n "$(why $n.mk)"; return; fi
        expect_usage $n "resnet-basic-8-4.*resnet-preact-8-4" \
            train --model resnet --block preact --depth 8 --width 4 $FM --epochs 2 --resume "$T/basic.ck"
        expect_usage train_resume_resnet_into_fcdnn "resnet-basic-8-4.*fcdnn-64-4" \
            train $FC64 --epochs 2 --resume "$T/basic.ck"
    else
        fail train_resume_other_block "$FMNIST_MISSING"
    fi
}

test_other_bits() {
    local f=$T/train_resume_retrain_w2a2_fcdnn.part.ck
    if [ ! -f "$f" ]; then fail train_resume_other_bits "no W2A2 checkpoint (retrain case failed)"; return; fi
    expect_usage train_resume_other_bits "W2A2 checkpoint, this phase is W4A4" \
        train $FC64 --phase retrain --wbits 4 --abits 4 --epochs 2 --resume "$f"
    expect_usage train_resume_quant_as_float "W2A2 checkpoint, this phase is W32A32" \
        train $FC64 --epochs 2 --resume "$f"
}

test_not_checkpoint() {
    echo "hello, not a checkpoint" >"$T/text.ck"
    expect_usage train_resume_text_file "$(esc "$T/text.ck"): not a qsweep checkpoint" \
        train $FC64 --epochs 2 --resume "$T/text.ck"
    : >"$T/empty.ck"
    expect_usage train_resume_empty_file "$(esc "$T/empty.ck"): not a qsweep checkpoint \(empty file\)" \
        train $FC64 --epochs 2 --resume "$T/empty.ck"
    expect_usage train_resume_missing_file "$(esc "$T/none.ck"): No such file or directory" \
        train $FC64 --epochs 2 --resume "$T/none.ck"
    mkdir -p "$T/dir.ck"
    expect_usage train_resume_directory "$(esc "$T/dir.ck"): not a regular file" \
        train $FC64 --epochs 2 --resume "$T/dir.ck"
    expect_usage train_from_text_file "$(esc "$T/text.ck"): not a qsweep checkpoint" \
        train $FC64 --phase retrain --wbits 2 --abits 2 --epochs 2 --from "$T/text.ck"
}

run_cases test_resume_fcdnn \
    test_resume_resnets \
    test_resume_retrain \
    test_resume_threads2 \
    test_truncated \
    test_flipped \
    test_other_arch \
    test_other_bits \
    test_not_checkpoint
