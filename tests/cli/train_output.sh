#!/usr/bin/env bash
# What `qsweep train` and `qsweep bench` print (interfaces.md): stdout is one
# flat JSON object per epoch with the contract's keys and units (accuracy a
# percentage 0..100), logs only on stderr; bench prints one JSON object with
# img_per_s, blas, blas_core and sgemm_gflop_s, and never overrides a user's
# OPENBLAS_CORETYPE.
set -u
. "$(dirname "$0")/lib.sh"

NUM='-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?'
INT='[0-9]+'
STR='"[^"]*"'

# val LINE KEY: the raw value of KEY in a flat JSON line (quotes stripped).
val() { printf '%s\n' "$1" | sed -nE "s/.*[{,]\"$2\":(\"([^\"]*)\"|([^,}]*)).*/\2\3/p"; }
# in_range X LO HI
in_range() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x + 0 >= lo + 0 && x + 0 <= hi + 0) }'; }

# epoch_lines FILE PHASE EPOCHS MODEL WBITS: every line is the epoch line of
# the contract; on failure ELMSG says which line and why.
ELMSG=""
epoch_lines() {
    local f=$1 phase=$2 epochs=$3 model=$4 wbits=$5 i=0 line key typ pat v
    if ! json_lines "$f"; then ELMSG=$JMSG; return 1; fi
    if [ "$(wc -l <"$f")" -ne "$epochs" ]; then ELMSG="$(wc -l <"$f") lines, expected $epochs"; return 1; fi
    while IFS= read -r line; do
        i=$((i + 1))
        for key in phase:STR epoch:INT epochs:INT lr:NUM train_loss:NUM train_acc:NUM \
            test_loss:NUM test_acc:NUM seconds:NUM img_per_s:NUM model:STR wbits:INT abits:INT; do
            typ=${key#*:}
            pat=${!typ}
            key=${key%%:*}
            if ! [[ $line =~ [{,]\"$key\":$pat[,}] ]]; then
                ELMSG="line $i: key \"$key\" missing or not of type $typ: $line"; return 1
            fi
        done
        [ "$(val "$line" phase)" = "$phase" ] || { ELMSG="line $i: phase \"$(val "$line" phase)\", expected $phase"; return 1; }
        [ "$(val "$line" epoch)" = "$i" ] || { ELMSG="line $i: epoch $(val "$line" epoch)"; return 1; }
        [ "$(val "$line" epochs)" = "$epochs" ] || { ELMSG="line $i: epochs $(val "$line" epochs), expected $epochs"; return 1; }
        [ "$(val "$line" model)" = "$model" ] || { ELMSG="line $i: model \"$(val "$line" model)\", expected $model"; return 1; }
        [ "$(val "$line" wbits)" = "$wbits" ] || { ELMSG="line $i: wbits $(val "$line" wbits), expected $wbits"; return 1; }
        for key in train_acc test_acc; do
            v=$(val "$line" $key)
            in_range "$v" 0 100 || { ELMSG="line $i: $key $v is not a percentage 0..100"; return 1; }
        done
        for key in lr train_loss test_loss seconds; do
            v=$(val "$line" $key)
            in_range "$v" 0 1e30 || { ELMSG="line $i: $key $v is negative"; return 1; }
        done
        v=$(val "$line" img_per_s)
        in_range "$v" 1e-9 1e30 || { ELMSG="line $i: img_per_s $v is not positive"; return 1; }
    done <"$f"
    # A percentage, not a fraction: two balanced classes start near 50.
    v=$(val "$(tail -n 1 "$f")" test_acc)
    in_range "$v" 1.0001 100 || { ELMSG="test_acc $v looks like a fraction, not a percentage"; return 1; }
    return 0
}

# Logs go to stderr, never JSON there; something is logged.
stderr_is_log() {
    local f=$1
    if [ ! -s "$f" ]; then ELMSG="nothing on stderr (expected the start-up log line)"; return 1; fi
    if grep -q '^{' "$f"; then ELMSG="JSON on stderr: $(grep -m1 '^{' "$f")"; return 1; fi
    return 0
}

FC="--model fcdnn --width 16 --depth 4 --data synthetic --train-limit 2048 --test-limit 1024 --seed 5"

test_float_lines() {
    local n=train_output_float_lines
    qrun $n 60 train $FC --epochs 3 --save "$T/float.ck"
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    epoch_lines "$T/$n.out" float 3 fcdnn-16-4 32 || { fail $n "$ELMSG"; return; }
    stderr_is_log "$T/$n.err" || { fail $n "$ELMSG"; return; }
    pass $n
}

test_retrain_lines() {
    local n=train_output_retrain_lines
    [ -s "$T/float.ck" ] || { fail $n "no float checkpoint (float case failed)"; return; }
    qrun $n 60 train $FC --phase retrain --from "$T/float.ck" --wbits 2 --abits 2 --epochs 2
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    epoch_lines "$T/$n.out" retrain 2 fcdnn-16-4 2 || { fail $n "$ELMSG"; return; }
    [ "$(val "$(head -n 1 "$T/$n.out")" abits)" = 2 ] || { fail $n "abits is not 2: $(head -n 1 "$T/$n.out")"; return; }
    stderr_is_log "$T/$n.err" || { fail $n "$ELMSG"; return; }
    pass $n
}

test_model_names() {
    local n=train_output_model_names
    qrun $n 60 train --model fcdnn --width 16 --depth 3 --residual --data synthetic \
        --train-limit 512 --test-limit 256 --epochs 1
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    epoch_lines "$T/$n.out" float 1 fcdnn-res-16-3 32 || { fail $n "$ELMSG"; return; }
    if [ -n "$FMNIST_DIR" ]; then
        qrun $n.rn 120 train --model resnet --block preact --depth 8 --width 4 --data fashion-mnist \
            --train-limit 256 --test-limit 128 --epochs 1
        if [ "$RC" -ne 0 ]; then fail $n "$(why $n.rn)"; return; fi
        epoch_lines "$T/$n.rn.out" float 1 resnet-preact-8-4 32 || { fail $n "$ELMSG"; return; }
        stderr_is_log "$T/$n.rn.err" || { fail $n "$ELMSG"; return; }
    else
        fail $n "$FMNIST_MISSING"; return
    fi
    pass $n
}

# --decision-map: the 256 x 256 grid's predicted labels as a binary PGM.
test_decision_map() {
    local n=train_output_decision_map
    qrun $n 60 train $FC --epochs 1 --decision-map "$T/map.pgm"
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    epoch_lines "$T/$n.out" float 1 fcdnn-16-4 32 || { fail $n "stdout: $ELMSG"; return; }
    local hdr size
    hdr=$(head -c 15 "$T/map.pgm" 2>/dev/null | tr '\n' ' ')
    size=$(wc -c <"$T/map.pgm" 2>/dev/null || echo 0)
    if [ "$hdr" != "P5 256 256 255 " ] || [ "$size" -ne $((15 + 65536)) ]; then
        fail $n "not a 256x256 PGM: header \"$hdr\", $size bytes"; return
    fi
    if [ -n "$(tail -c 65536 "$T/map.pgm" | tr -d '\000\377')" ]; then
        fail $n "pixels other than 0 and 255"; return
    fi
    pass $n
}

test_bench() {
    local n=bench_output line v
    qrun $n 120 bench --model fcdnn --width 64 --depth 4 --steps 2
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    if ! json_lines "$T/$n.out"; then fail $n "$JMSG"; return; fi
    if [ "$(wc -l <"$T/$n.out")" -ne 1 ]; then fail $n "$(wc -l <"$T/$n.out") lines, expected 1"; return; fi
    line=$(cat "$T/$n.out")
    for key in img_per_s sgemm_gflop_s; do
        if ! [[ $line =~ [{,]\"$key\":$NUM[,}] ]]; then fail $n "no number \"$key\": $line"; return; fi
        v=$(val "$line" $key)
        in_range "$v" 1e-9 1e30 || { fail $n "$key $v is not positive"; return; }
    done
    for key in blas blas_core; do
        if ! [[ $line =~ [{,]\"$key\":\"[^\"]+\"[,}] ]]; then fail $n "no string \"$key\": $line"; return; fi
    done
    [ "$(val "$line" model)" = fcdnn-64-4 ] || { fail $n "model \"$(val "$line" model)\""; return; }
    pass "$n ($(val "$line" blas), core $(val "$line" blas_core), sgemm $(val "$line" sgemm_gflop_s) GFLOP/s)"
}

# The environment's own OPENBLAS_CORETYPE (kept as it is: never set or unset
# here) is what bench reports, and qsweep's autofix stayed out of the way.
test_bench_user_coretype() {
    local n=bench_keeps_user_coretype line core fix
    [ -s "$T/bench_output.out" ] || { fail $n "no bench output (bench case failed)"; return; }
    line=$(cat "$T/bench_output.out")
    core=$(val "$line" blas_core)
    fix=$(val "$line" blas_autofix)
    if [ -z "${OPENBLAS_CORETYPE+set}" ] || [ -z "${OPENBLAS_CORETYPE}" ]; then
        # Nothing to compare with: only the key's presence is checked.
        [[ $line =~ \"blas_autofix\":\"[^\"]*\" ]] || { fail $n "no blas_autofix key: $line"; return; }
        pass "$n (OPENBLAS_CORETYPE not set here: core $core, autofix \"$fix\")"
        return
    fi
    if [ "${core,,}" != "${OPENBLAS_CORETYPE,,}" ]; then
        fail $n "blas_core \"$core\", but the user set OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"; return
    fi
    if ! [[ $line =~ \"blas_autofix\":\"\" ]]; then
        fail $n "blas_autofix \"$fix\" is not empty though the user set OPENBLAS_CORETYPE"; return
    fi
    pass "$n (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)"
}

run_cases test_float_lines \
    test_retrain_lines \
    test_model_names \
    test_decision_map \
    test_bench \
    test_bench_user_coretype
