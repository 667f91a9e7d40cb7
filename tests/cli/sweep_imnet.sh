#!/usr/bin/env bash
# An ImageNet-layout sweep end to end on real MPI ranks (docs/imagenet.md,
# docs/cluster.md): a generated tiny JPEG tree, imagenet-resnet (Table 1's
# ResNet-18 design at width 8) float -> W2A2 retrain over two seeds and a
# mobilenetv2 float, the rows in `runs`; kill -9 during a retrain and a
# rerun equal to the uninterrupted run; `report table1` CSV on the result;
# a missing tree and a class count the tree does not have refused before
# anything runs.
. "$(dirname "$0")/lib.sh"

TOOL=$PWD/build/tests/tool_imnet
TREE=$T/tree

# 64 x 64 crops and batch 8 (24 float steps): at 32 x 32 the last stage is
# 1 x 1, and with few steps the BN statistics of so small a net make the
# evaluation or a W2A2 retrain non-finite (docs/cluster.md, "Known problem").
grid() { # FILE PATH [CLASSES]
    cat > "$1" <<G
{
  "name": "imnet-test",
  "dataset": {"name": "imagenet", "path": "$2", "image_size": 64, "classes": ${3:-4}},
  "axes": {"wbits": [32, 2], "abits": [32, 2], "seed": [1, 2]},
  "cases": [{"arch": "imagenet-resnet", "depth": 18, "width": 8},
            {"arch": "mobilenetv2", "width_mult": 0.35}],
  "exclude": [{"wbits": 32, "abits": 2}, {"wbits": 2, "abits": 32},
              {"arch": "mobilenetv2", "wbits": 2}, {"arch": "mobilenetv2", "seed": 2}],
  "float": {"epochs": 3, "batch": 8},
  "retrain": {"epochs": 4, "batch": 8}
}
G
}

# The comparable part of a result: everything but timings and attempts.
rows() {
    sqlite3 "$1" "SELECT phase_id, phase, status, arch, wbits, abits, epochs_done,
                  printf('%.6f', test_acc), printf('%.9f', test_loss), printf('%.9f', train_loss),
                  COALESCE(error, '') FROM runs ORDER BY phase_id"
    sqlite3 "$1" "SELECT phase_id, epoch, printf('%.9f', train_loss), printf('%.6f', test_acc)
                  FROM epochs ORDER BY phase_id, epoch"
}

imnet_sweep_full() {
    timeout -k 5 300 mpirun -n 3 "$Q" "$T/g.json" --db "$T/ref.db" --ckpt-interval 0 \
        >"$T/ref.out" 2>"$T/ref.err"
    local rc=$? got
    got=$(sqlite3 "$T/ref.db" "SELECT arch || ' ' || phase || ' ' || wbits || ' ' || abits || ' ' ||
                                seed || ' ' || dataset || ' ' || status FROM runs
                                ORDER BY arch, seed, phase" 2>&1 | tr '\n' ';')
    local want="imagenet-resnet float 32 32 1 imagenet done;imagenet-resnet retrain 2 2 1 imagenet done;"
    want+="imagenet-resnet float 32 32 2 imagenet done;imagenet-resnet retrain 2 2 2 imagenet done;"
    want+="mobilenetv2 float 32 32 1 imagenet done;"
    if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
        fail imnet_sweep_full "rc $rc; runs: $got; $(tail -3 "$T/ref.err")"; return
    fi
    pass imnet_sweep_full
}

# Killed while a retrain is mid-way (a checkpoint of it exists, not final),
# then rerun: the same rows, epochs and losses as the uninterrupted run.
imnet_sweep_kill9() {
    setsid mpirun -n 3 "$Q" "$T/g.json" --db "$T/kill.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/kill.err" &
    local pid=$!
    QS_BG_PIDS="$QS_BG_PIDS $pid"
    if ! wait_for "$T/kill.db" "SELECT EXISTS (SELECT 1 FROM checkpoints c JOIN phases p
            ON p.id = c.phase_id WHERE p.phase = 'retrain' AND p.status = 'running'
            AND c.final = 0)"; then
        kill -9 -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        fail imnet_sweep_kill9 "never reached a retrain mid-way: $(tail -2 "$T/kill.err")"; return
    fi
    kill -9 -- -"$pid"
    wait "$pid" 2>/dev/null
    local mid
    mid=$(sqlite3 "$T/kill.db" "SELECT COUNT(*) FROM phases WHERE status != 'done'")
    timeout -k 5 300 mpirun -n 3 "$Q" "$T/g.json" --db "$T/kill.db" --ckpt-interval 0 \
        --lock-wait 60 >/dev/null 2>"$T/kill2.err"
    local rc=$?
    if [ $rc -ne 0 ]; then fail imnet_sweep_kill9 "rerun exit $rc: $(tail -3 "$T/kill2.err")"; return; fi
    if ! diff <(rows "$T/ref.db") <(rows "$T/kill.db") >"$T/diff"; then
        fail imnet_sweep_kill9 "results differ from the uninterrupted run: $(head -5 "$T/diff")"; return
    fi
    pass "imnet_sweep_kill9 ($mid phase(s) left by the kill)"
}

# Table 1's ResNet-18 row holds ours (width 8, two seeds each side, the
# drop's interval); the rows we did not run are empty.
imnet_report_table1() {
    if ! "$Q" report table1 --db "$T/ref.db" --format csv >"$T/t1.csv" 2>"$T/t1.err"; then
        fail imnet_report_table1 "exit: $(cat "$T/t1.err")"; return
    fi
    local r18 r34 n
    r18=$(grep '^ResNet18,' "$T/t1.csv")
    r34=$(grep '^ResNet34,' "$T/t1.csv")
    n=$(wc -l <"$T/t1.csv")
    # model,depth,blocks,pw,ow,pp,op,fp,fo,fs,fn,wp,wo,ws,wn,dp,do,lo,hi
    if [ "$n" != 8 ] || [ "$(head -1 "$T/t1.csv" | cut -d, -f1,9,17,18)" != "model,float_ours,drop_ours,drop_lo" ] ||
        ! echo "$r18" | grep -Eq '^ResNet18,18,2\.2\.2\.2,90,8,22\.8,0\.[0-9]+,72\.6,[0-9.]+,[0-9.]*,2,70\.2,[0-9.]+,[0-9.]*,2,2\.4,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$' ||
        [ "$r34" != "ResNet34,34,3.4.6.3,64,-,21.8,-,73.6,,,0,70.5,,,0,3.1,,," ]; then
        fail imnet_report_table1 "csv: $(cat "$T/t1.csv")"; return
    fi
    # One seed left: its cells have no std (not 0) and no interval.
    cp "$T/ref.db" "$T/one.db"
    sqlite3 "$T/one.db" "DELETE FROM phases WHERE id IN (SELECT phase_id FROM runs WHERE seed = 2)"
    r18=$("$Q" report table1 --db "$T/one.db" --format csv 2>&1 | grep '^ResNet18,')
    if ! echo "$r18" | grep -Eq '^ResNet18,18,2\.2\.2\.2,90,8,22\.8,0\.[0-9]+,72\.6,[0-9.]+,,1,70\.2,[0-9.]+,,1,2\.4,-?[0-9.]+,,$'; then
        fail imnet_report_table1 "one seed: $r18"; return
    fi
    pass imnet_report_table1
}

# Refused before any job runs, naming the path and key; no database made.
imnet_sweep_refusals() {
    grid "$T/missing.json" "$T/nope"
    grid "$T/classes.json" "$TREE" 5
    local rc1 rc2
    timeout -k 5 120 mpirun -n 2 "$Q" "$T/missing.json" --db "$T/r1.db" >/dev/null 2>"$T/r1.err"
    rc1=$?
    timeout -k 5 120 mpirun -n 2 "$Q" "$T/classes.json" --db "$T/r2.db" >/dev/null 2>"$T/r2.err"
    rc2=$?
    if [ $rc1 -ne 2 ] || ! grep -q "missing.json: dataset.path: $T/nope/.*No such file" "$T/r1.err"; then
        fail imnet_sweep_refusals "missing tree: rc $rc1: $(head -3 "$T/r1.err")"
    elif [ $rc2 -ne 2 ] ||
        ! grep -q "classes.json: dataset.classes: 5 classes, but $TREE/train has 4 class directories" "$T/r2.err"; then
        fail imnet_sweep_refusals "class count: rc $rc2: $(head -3 "$T/r2.err")"
    elif [ -s "$T/r1.db" ] || [ -s "$T/r2.db" ]; then
        fail imnet_sweep_refusals "a refused sweep wrote a database"
    else
        pass imnet_sweep_refusals
    fi
}

if ! "$TOOL" gen "$TREE" 4 16 4 80 60 1 >"$T/gen.out" 2>&1; then
    fail imnet_sweep_tree "tool_imnet gen: $(tail -2 "$T/gen.out")"
    exit 0
fi
grid "$T/g.json" "$TREE"
run_cases imnet_sweep_full imnet_sweep_kill9 imnet_report_table1 imnet_sweep_refusals
