#!/usr/bin/env bash
# Learning, end to end through `qsweep train`, with thresholds from PyTorch
# runs of the same models and settings (scripts in tests/reference/).
#
# Synthetic rings, the spec's defaults (methods.md section 3: Adam lr 1e-3
# cosine to 0, batch 128, 100 epochs), final-epoch test accuracy:
#   FCDNN 128-4  PyTorch (tests/reference/synthetic_fcdnn.py, seeds 0,1,2):
#                96.3 +- 0.6;   qsweep seeds 0,1,2: 96.96 / 96.57 / 96.59.
#                Threshold: >= 93 for seeds 0 and 1 (seed 2 is not run: the
#                128-4 runs agree to half a point).
#   FCDNN 128-3  PyTorch 82.7 +- 14 (bimodal: some seeds learn the rings,
#                most do not); qsweep seeds 0,1,2: 81.6 / 77.0 / 96.1.
#                The paper's Figure 1: 128-3 underfits. Threshold: its mean
#                over seeds 0,1,2 is at least 3 points below 128-4's mean
#                over seeds 0,1 (measured: 84.9 vs 96.8).
# Fashion-MNIST, basic ResNet depth 8 width 8, first 4000 train / 1000 test
# images, 3 epochs, SGD 0.9 lr 0.1 cosine, wd 5e-4, crop + flip:
#   PyTorch (tests/reference/fmnist_resnet.py, seeds 0,1,2): 62.2 +- 7.7,
#   min 53.4; qsweep seed 0: about 67..69. Threshold: >= 45 (chance is 10).
#
# The six runs go in parallel, at most one per core (each is 1 thread):
# about 50 s of CPU in all (a 100-epoch 128-4 run ~9 s, 128-3 ~6 s, the
# ResNet ~15 s), so about 25-30 s on 2 idle cores.
set -u
. "$(dirname "$0")/lib.sh"

SYN="--model fcdnn --width 128 --data synthetic"
RESNET="--model resnet --block basic --depth 8 --width 8 --data fashion-mnist \
        --train-limit 4000 --test-limit 1000 --epochs 3 --seed 0"

# ---- a small job pool: bg TAG SECONDS ARGS...; finish TAG sets RC --------
NPAR=$(nproc 2>/dev/null || echo 2)
[ "$NPAR" -ge 1 ] 2>/dev/null || NPAR=2
[ "$NPAR" -gt 8 ] && NPAR=8
# `wait -n -p` (bash >= 5.1) says which job ended first; older shells wait
# for the oldest running job.
WAIT_P=1
if [ "${BASH_VERSINFO[0]}" -lt 5 ] || { [ "${BASH_VERSINFO[0]}" -eq 5 ] && [ "${BASH_VERSINFO[1]}" -lt 1 ]; }; then
    WAIT_P=0
fi
declare -A PID=() TAG=() STATUS=()
ORDER=()
RUNNING=0
bg() {
    local tag=$1 secs=$2 done_pid st t
    local -a live
    shift 2
    while [ "$RUNNING" -ge "$NPAR" ]; do
        live=()
        for t in "${ORDER[@]}"; do [ -z "${STATUS[$t]+set}" ] && live+=("${PID[$t]}"); done
        done_pid=""
        if [ "$WAIT_P" -eq 1 ]; then
            wait -n -p done_pid "${live[@]}"
            st=$?
        else
            done_pid=${live[0]}
            wait "$done_pid"
            st=$?
        fi
        [ -n "$done_pid" ] || return 1 # interrupted
        STATUS[${TAG[$done_pid]}]=$st
        RUNNING=$((RUNNING - 1))
    done
    # The job is `timeout` itself, so cleanup can end it by its id.
    timeout -k 5 "$secs" "$Q" "$@" >"$T/$tag.out" 2>"$T/$tag.err" &
    PID[$tag]=$!
    TAG[$!]=$tag
    ORDER+=("$tag")
    QS_BG_PIDS="$QS_BG_PIDS $!"
    RUNNING=$((RUNNING + 1))
}
finish() {
    if [ -z "${STATUS[$1]+set}" ]; then
        wait "${PID[$1]}"
        STATUS[$1]=$?
        RUNNING=$((RUNNING - 1))
    fi
    RC=${STATUS[$1]}
}

# acc TAG EPOCHS: waits for the run, checks that it exited 0 and printed
# EPOCHS lines ending at epoch EPOCHS, and sets ACC to its final test_acc;
# on error returns 1 with the reason in ERR.
ERR=""
ACC=""
acc() {
    local tag=$1 epochs=$2 n e a
    finish "$tag"
    if [ "$RC" -ne 0 ]; then ERR="$tag: $(why "$tag")"; return 1; fi
    n=$(wc -l <"$T/$tag.out")
    e=$(jget "$T/$tag.out" epoch)
    a=$(jget "$T/$tag.out" test_acc)
    if [ "$n" -ne "$epochs" ] || [ "$e" != "$epochs" ] || [ -z "$a" ]; then
        ERR="$tag: $n lines, last epoch \"$e\", test_acc \"$a\" (expected $epochs epochs)"
        return 1
    fi
    ACC=$a
}

mean() { awk 'BEGIN { s = 0; for (i = 1; i < ARGC; i++) s += ARGV[i]; printf "%.2f", s / (ARGC - 1) }' "$@"; }

T0=$SECONDS
# Longest first, so the pool ends together.
if [ -n "$FMNIST_DIR" ]; then bg resnet 300 train $RESNET; fi
for s in 0 1; do bg w128d4s$s 300 train $SYN --depth 4 --seed $s; done
for s in 0 1 2; do bg w128d3s$s 300 train $SYN --depth 3 --seed $s; done

test_fcdnn_128_4() {
    local s n=train_learns_fcdnn_128_4
    A4=()
    for s in 0 1; do
        acc w128d4s$s 100 || { fail $n "$ERR"; return; }
        A4+=("$ACC")
    done
    for s in 0 1; do
        if ! fge "${A4[$s]}" 93; then
            fail $n "seed $s: test accuracy ${A4[$s]} < 93 (PyTorch 96.3 +- 0.6)"; return
        fi
    done
    pass "$n (seeds 0,1: ${A4[*]})"
}

test_fcdnn_128_3_underfits() {
    local s n=train_fcdnn_128_3_below_128_4
    local -a a3=()
    for s in 0 1 2; do
        acc w128d3s$s 100 || { fail $n "$ERR"; return; }
        a3+=("$ACC")
    done
    if [ "${#A4[@]}" -ne 2 ]; then fail $n "no 128-4 results to compare with"; return; fi
    local m3 m4
    m3=$(mean "${a3[@]}")
    m4=$(mean "${A4[@]}")
    if ! fge "$(awk -v a="$m4" -v b="$m3" 'BEGIN { print a - b }')" 3; then
        fail $n "128-3 mean $m3 (${a3[*]}) is not 3 points below 128-4 mean $m4 (${A4[*]})"; return
    fi
    pass "$n (128-3 mean $m3: ${a3[*]}; 128-4 mean $m4)"
}

test_resnet_fmnist() {
    local n=train_learns_resnet_fmnist a
    [ -n "$FMNIST_DIR" ] || { fail $n "$FMNIST_MISSING"; return; }
    acc resnet 3 || { fail $n "$ERR"; return; }
    a=$ACC
    if ! fge "$a" 45; then
        fail $n "test accuracy $a < 45 (PyTorch 62.2 +- 7.7, min 53.4; chance 10)"; return
    fi
    pass "$n (test accuracy $a)"
}

A4=()
run_cases test_fcdnn_128_4 test_fcdnn_128_3_underfits test_resnet_fmnist
echo "train_learning: $((SECONDS - T0)) s wall, $NPAR in parallel" >&2
