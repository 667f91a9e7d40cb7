#!/usr/bin/env bash
# A diverging phase is a training failure: a NaN/inf loss, or an epoch's
# train loss over 10 x ln(classes) (docs/methods.md, "Divergence"). Exit
# status 1, the last stdout line is a JSON object with
# "status":"failed","error":"diverged", every stdout line stays JSON, the
# epochs before the failure keep their normal lines, and stderr says the
# epoch and the loss. In a sweep the phase is failed with that reason, its
# children with "parent failed: ...", and the sweep exits 1.
set -u
. "$(dirname "$0")/lib.sh"

# expect_diverged NAME ARGS...: qsweep ARGS diverges as described above.
# GOOD is set to the number of normal epoch lines before the failure; the
# first line is epoch FIRST (1, or later for a resumed run).
GOOD=0
FIRST=1
expect_diverged() {
    local n=$1
    shift
    qrun $n 120 "$@"
    if [ "$RC" -ne 1 ]; then fail $n "expected exit status 1, got $(why $n)"; return 1; fi
    if ! json_lines "$T/$n.out"; then fail $n "stdout: $JMSG"; return 1; fi
    local st er ph ep lines
    lines=$(wc -l <"$T/$n.out")
    st=$(jget "$T/$n.out" status)
    er=$(jget "$T/$n.out" error)
    ph=$(jget "$T/$n.out" phase)
    ep=$(jget "$T/$n.out" epoch)
    if [ "$st" != failed ] || [ "$er" != diverged ]; then
        fail $n "last line has status \"$st\", error \"$er\": $(tail -n 1 "$T/$n.out")"; return 1
    fi
    GOOD=$((lines - 1))
    # Every line before the last is a normal epoch line, in order.
    local i
    for ((i = 1; i <= GOOD; i++)); do
        if [ "$(jget "$T/$n.out" epoch $i)" != $((FIRST + i - 1)) ] ||
            [ -z "$(jget "$T/$n.out" test_acc $i)" ] || [ -n "$(jget "$T/$n.out" status $i)" ]; then
            fail $n "line $i is not the normal line of epoch $((FIRST + i - 1)): $(sed -n "${i}p" "$T/$n.out")"
            return 1
        fi
    done
    if [ "$ep" != $((FIRST + GOOD)) ]; then
        fail $n "the failed line says epoch \"$ep\", expected $((FIRST + GOOD))"; return 1
    fi
    if [ -z "$ph" ]; then fail $n "the failed line has no phase"; return 1; fi
    if ! grep -Eq "^qsweep train: diverged at epoch $ep: (train|test) loss " "$T/$n.err"; then
        fail $n "stderr does not say the epoch ($ep) and the loss: $(head -c 300 "$T/$n.err")"; return 1
    fi
    return 0
}

# Plain SGD at lr 1e6 blows the FCDNN up within a few iterations of epoch 1.
test_fcdnn_sgd() {
    local n=train_diverge_fcdnn_sgd_lr1e6
    expect_diverged $n train --model fcdnn --width 64 --depth 4 --data synthetic --optimizer sgd \
        --lr 1e6 --epochs 3 || return
    [ "$(jget "$T/$n.out" phase)" = float ] || { fail $n "phase is not float: $(tail -n 1 "$T/$n.out")"; return; }
    pass $n
}

# ResNet with BN: lr 1e3 only gives huge finite losses here; 1e5 is NaN in
# epoch 1.
test_resnet() {
    local n=train_diverge_resnet_lr1e5
    [ -n "$FMNIST_DIR" ] || { fail $n "$FMNIST_MISSING"; return; }
    expect_diverged $n train --model resnet --depth 8 --width 4 --data fashion-mnist \
        --train-limit 512 --test-limit 256 --lr 1e5 --epochs 3 || return
    pass $n
}

# Divergence after good epochs: a (deliberately inverted) CLR schedule from
# lr 1e-2 up to 1e6 over 8 epochs keeps the first epochs sane, then goes
# NaN; the earlier epoch lines stay on stdout, then the failed line.
test_after_good_epochs() {
    local n=train_diverge_after_good_epochs
    [ -n "$FMNIST_DIR" ] || { fail $n "$FMNIST_MISSING"; return; }
    expect_diverged $n train --model resnet --depth 8 --width 4 --data fashion-mnist \
        --train-limit 512 --test-limit 256 --schedule clr --period 8 --lr 1e-2 --lr-min 1e6 \
        --epochs 8 --save "$T/$n.ck" || return
    if [ "$GOOD" -lt 1 ]; then fail $n "diverged in epoch 1: no good epoch lines before it"; return; fi
    # --save keeps the last good epoch's checkpoint; resuming it replays the
    # same failure at the same epoch (the run is deterministic).
    if [ ! -s "$T/$n.ck" ]; then fail $n "no checkpoint of the good epochs"; return; fi
    local good=$GOOD
    FIRST=$((good + 1))
    expect_diverged $n.resumed train --model resnet --depth 8 --width 4 --data fashion-mnist \
        --train-limit 512 --test-limit 256 --schedule clr --period 8 --lr 1e-2 --lr-min 1e6 \
        --epochs 8 --resume "$T/$n.ck" || { FIRST=1; return; }
    FIRST=1
    if [ "$(wc -l <"$T/$n.resumed.out")" -ne 1 ] ||
        [ "$(jget "$T/$n.resumed.out" epoch)" != $((good + 1)) ]; then
        fail $n "resumed after $good epochs, expected one failed line for epoch $((good + 1)): $(tr '\n' ' ' <"$T/$n.resumed.out")"
        return
    fi
    pass "$n ($good good epochs)"
}

# A finite blow-up: plain SGD at lr 10 takes the 2-class FCDNN's train loss
# to thousands in epoch 1 without a NaN.
test_finite_bound() {
    local n=train_diverge_finite_bound
    expect_diverged $n train --model fcdnn --width 64 --depth 4 --data synthetic --train-limit 2000 \
        --test-limit 500 --optimizer sgd --lr 10 --epochs 3 || return
    if ! grep -Eq '^qsweep train: diverged at epoch 1: train loss [0-9.]+e\+[0-9]+ > 10 x ln\(2 classes\) = 6\.93$' "$T/$n.err"; then
        fail $n "stderr does not give the loss and the bound: $(tail -n 1 "$T/$n.err")"; return
    fi
    pass $n
}

# Finite after good epochs: a CLR schedule rising from lr 1e-2 to 50 keeps
# epochs 1-4 near chance (loss about ln 2), then epoch 5's train loss is
# about 5.6e7, finite; resuming the checkpoint of the good epochs fails at
# the same epoch (the bound needs no state from before the resume).
test_finite_after_good_epochs() {
    local n=train_diverge_finite_after_good_epochs
    local args=(train --model fcdnn --width 64 --depth 4 --data synthetic --train-limit 2000
        --test-limit 500 --optimizer sgd --schedule clr --period 8 --lr 1e-2 --lr-min 50 --epochs 8)
    expect_diverged $n "${args[@]}" --save "$T/$n.ck" || return
    if [ "$GOOD" -lt 1 ]; then fail $n "diverged in epoch 1: no good epoch lines before it"; return; fi
    if ! grep -Eq "^qsweep train: diverged at epoch $((GOOD + 1)): train loss [0-9.e+]+ > 10 x ln\(2 classes\)" "$T/$n.err"; then
        fail $n "not the bound: $(tail -n 1 "$T/$n.err")"; return
    fi
    local good=$GOOD
    FIRST=$((good + 1))
    expect_diverged $n.resumed "${args[@]}" --resume "$T/$n.ck" || { FIRST=1; return; }
    FIRST=1
    if [ "$(wc -l <"$T/$n.resumed.out")" -ne 1 ]; then
        fail $n "resumed after $good epochs, expected one failed line: $(tr '\n' ' ' <"$T/$n.resumed.out")"; return
    fi
    pass "$n ($good good epochs)"
}

# The sweep: at SGD lr 1e3 the 64-6 net's loss is NaN within epoch 1 and
# the 16-3 net's is about 3e10, finite (it used to end `done`, at chance
# accuracy); every child fails with them, the reasons say epoch and loss, and the sweep exits 1
# with "finished" and the count of failed phases.
test_sweep_all_diverged() {
    local n=train_diverge_sweep_all_failed
    cat >"$T/div.json" <<'G'
{
  "name": "diverge-all",
  "dataset": {"name": "synthetic", "train_limit": 2000, "test_limit": 500},
  "axes": {"arch": "fcdnn", "wbits": [32, 2], "abits": [32, 2]},
  "cases": [{"width": 16, "depth": 3}, {"width": 64, "depth": 6}],
  "exclude": [{"wbits": 2, "abits": 32}, {"wbits": 32, "abits": 2}],
  "float": {"epochs": 3, "optimizer": "sgd", "lr": 1e3}, "retrain": {"epochs": 2}
}
G
    timeout -k 5 300 mpirun -n 1 "$Q" "$T/div.json" --db "$T/div.db" >"$T/$n.out" 2>"$T/$n.err"
    RC=$?
    if [ $RC -ne 1 ]; then fail $n "expected exit status 1, got $(why $n)"; return; fi
    if ! grep -q '^qsweep: 4 phase(s) failed' "$T/$n.err"; then
        fail $n "no failed count: $(tail -n 2 "$T/$n.err")"; return
    fi
    local rows
    rows=$(sqlite3 "$T/div.db" "SELECT phase, status, error FROM phases ORDER BY phase, error")
    local want='^float\|failed\|diverged at epoch 1: train loss -?(nan|inf) at iteration [0-9]+
float\|failed\|diverged at epoch 1: train loss [0-9.e+]+ > 10 x ln\(2 classes\) = 6\.93
retrain\|failed\|parent failed: diverged at epoch 1: train loss -?(nan|inf) at iteration [0-9]+
retrain\|failed\|parent failed: diverged at epoch 1: train loss [0-9.e+]+ > 10 x ln\(2 classes\) = 6\.93$'
    if ! [[ "$rows" =~ $want ]]; then fail $n "phases: $(echo "$rows" | tr '\n' '~')"; return; fi
    pass $n
}

run_cases test_fcdnn_sgd \
    test_finite_bound \
    test_finite_after_good_epochs \
    test_sweep_all_diverged \
    test_resnet \
    test_after_good_epochs
