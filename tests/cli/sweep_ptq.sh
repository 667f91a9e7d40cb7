#!/usr/bin/env bash
# PTQ in a real sweep: mpirun with 2 worker ranks, float -> ptq (W8A8 and
# W4A8, beside the QAT retrains of the same bits), a real SQLite file: the
# rows, accuracy near float at W8A8, the pivot's ptq columns, kill -9 and
# resume to the same results, and a database from before the ptq phase.
. "$(dirname "$0")/lib.sh"

# Synthetic FCDNNs trained to 90 % and more (150 epochs: seconds per float
# phase), 4 float parents so that a kill lands mid-sweep.
cat > "$T/grid.json" <<'G'
{
  "name": "ptq-test",
  "dataset": {"name": "synthetic", "train_limit": 20000, "test_limit": 2000},
  "axes": {"arch": "fcdnn", "width": [32, 64], "depth": 4, "seed": [1, 2],
           "wbits": [32, 8, 4], "abits": [32, 8], "method": ["qat", "ptq"]},
  "exclude": [{"wbits": 32, "abits": 8}, {"wbits": 8, "abits": 32}, {"wbits": 4, "abits": 32}],
  "float": {"epochs": 150}, "retrain": {"epochs": 4},
  "ptq": {"calib_images": 1024, "bias_correction": "empirical", "per_channel": true}
}
G
rows() {
    sqlite3 "$1" "SELECT phase_id, phase, status, method, COALESCE(rounding, ''),
                  COALESCE(equalize, ''), wbits, abits, epochs_done, printf('%.6f', test_acc),
                  printf('%.9f', test_loss), COALESCE(error, '') FROM runs ORDER BY phase_id"
}

ptq_sweep_rows() {
    mpirun -n 3 "$Q" "$T/grid.json" --db "$T/ref.db" --ckpt-interval 0 >"$T/ref.out" 2>"$T/ref.err"
    local rc=$? bad="" q
    q() { sqlite3 "$T/ref.db" "$1"; }
    [ $rc -eq 0 ] || { fail ptq_sweep_rows "exit $rc: $(tail -3 "$T/ref.err")"; return; }
    [ "$(q "SELECT phase || ':' || COUNT(*) FROM runs WHERE status = 'done' GROUP BY phase ORDER BY phase" | tr '\n' ' ')" = \
      "float:4 ptq:8 retrain:8 " ] || bad="$bad counts $(q "SELECT phase, status, COUNT(*) FROM runs GROUP BY 1, 2" | tr '\n' ' ');"
    # every ptq row: method, variant, one result row, cost like its retrain twin
    [ "$(q "SELECT COUNT(*) FROM runs WHERE phase = 'ptq' AND method = 'ptq' AND
            rounding = 'nearest' AND equalize = 0 AND quantizer = 'ptq' AND epochs_done = 1
            AND seconds > 0 AND model_bits > 0 AND bops > 0")" = 8 ] || bad="$bad ptq columns;"
    [ "$(q "SELECT COUNT(*) FROM runs p JOIN runs r ON r.parent_id = p.parent_id AND
            r.phase = 'retrain' AND r.wbits = p.wbits AND r.abits = p.abits
            WHERE p.phase = 'ptq' AND r.model_bits = p.model_bits AND r.bops = p.bops")" = 8 ] ||
        bad="$bad ptq and retrain of the same bits differ in cost;"
    [ "$(q "SELECT COUNT(*) FROM runs WHERE method = 'qat' AND rounding IS NULL")" = 8 ] ||
        bad="$bad qat rows;"
    [ "$(q "SELECT COUNT(*) FROM epochs e JOIN runs r ON r.phase_id = e.phase_id WHERE r.phase = 'ptq'")" = 8 ] ||
        bad="$bad epochs rows;"
    # W8A8 within 2.5 points of its float parent and within 1.5 of the QAT
    # retrain of the same bits (the recorded run: at most 2.15 and 0.70;
    # the 4-epoch retrain loses as much at 8 bits on these rings). W4A8
    # loses far more (recorded: up to 31.45 points; 4-bit weights move the
    # ring boundaries), so it is only held above the 50 % of a guess.
    local gaps
    gaps=$(q "SELECT p.wbits, printf('%.2f', MAX(f.test_acc - p.test_acc)),
              printf('%.2f', MAX(r.test_acc - p.test_acc)) FROM runs p
              JOIN runs f ON f.phase_id = p.parent_id
              JOIN runs r ON r.parent_id = p.parent_id AND r.phase = 'retrain' AND r.wbits = p.wbits
              WHERE p.phase = 'ptq' GROUP BY p.wbits ORDER BY p.wbits" | tr '\n' ' ')
    echo "# ptq: wbits | worst gap to float | worst gap to retrain, over 4 parents: $gaps"
    q "SELECT COUNT(*) FROM runs p JOIN runs f ON f.phase_id = p.parent_id
       JOIN runs r ON r.parent_id = p.parent_id AND r.phase = 'retrain' AND r.wbits = p.wbits
       WHERE p.phase = 'ptq' AND CASE p.wbits WHEN 8 THEN f.test_acc - p.test_acc > 2.5
       OR r.test_acc - p.test_acc > 1.5 ELSE p.test_acc <= 50 END" | grep -qx 0 ||
        bad="$bad accuracy far from float: $gaps;"
    # Three of the four floats above 85 %: which seed's rings train less well
    # depends on the BLAS kernels (on an AVX2-only EPYC, OpenBLAS core Zen,
    # fcdnn-32-4 seed 1 stops at 82.6 % and the others reach 93.7-95.4 %).
    [ "$(q "SELECT COUNT(*) FROM runs WHERE phase = 'float' AND test_acc > 85")" -ge 3 ] ||
        bad="$bad float models too weak to show a gap ($(q "SELECT group_concat(test_acc, ' ') FROM runs WHERE phase = 'float'"));"
    [ -z "$bad" ] && pass ptq_sweep_rows || fail ptq_sweep_rows "$bad"
}

ptq_pivot() {
    "$Q" report pivot --db "$T/ref.db" --format csv > "$T/pivot" 2>"$T/pivot.err" ||
        { fail ptq_pivot "exit $?: $(head -3 "$T/pivot.err")"; return; }
    local head
    head=$(head -1 "$T/pivot" | tr ',' '\n' | grep -v -e '_std$' -e '_n$' -e '^model$' -e '^dataset$' | tr '\n' ' ')
    [ "$head" = "float W8A8 W8A8[ptq] W4A8 W4A8[ptq] " ] && pass ptq_pivot ||
        fail ptq_pivot "columns '$head'"
}

ptq_kill_resume() {
    setsid mpirun -n 3 "$Q" "$T/grid.json" --db "$T/kill.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/kill.err" &
    local pid=$!
    if ! wait_for "$T/kill.db" "SELECT (SELECT COUNT(*) FROM phases WHERE status = 'done') >= 3
            AND (SELECT COUNT(*) FROM phases WHERE status != 'done') >= 3"; then
        kill -9 -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        fail ptq_kill_resume "never reached a mid-sweep state"; return
    fi
    kill -9 -- -"$pid"
    wait "$pid" 2>/dev/null
    local before
    before=$(sqlite3 "$T/kill.db" "SELECT COUNT(*) FROM phases WHERE status = 'done'")
    mpirun -n 3 "$Q" "$T/grid.json" --db "$T/kill.db" --ckpt-interval 0 --lock-wait 60 \
        >/dev/null 2>"$T/kill2.err"
    local rc=$?
    [ $rc -eq 0 ] || { fail ptq_kill_resume "rerun exit $rc: $(tail -3 "$T/kill2.err")"; return; }
    if ! diff <(rows "$T/ref.db") <(rows "$T/kill.db") > "$T/diff"; then
        fail ptq_kill_resume "results differ from the uninterrupted run: $(head -4 "$T/diff")"; return
    fi
    pass "ptq_kill_resume (killed with $before of 20 done)"
}

# A database made before the ptq phase existed (its phases CHECK allows
# float, retrain, clr): the ptq sweep widens the CHECK and runs.
ptq_old_database() {
    sed -e 's/"seed": \[1, 2\]/"seed": 1/' -e 's/"width": \[32, 64\]/"width": 32/' \
        -e 's/ptq-test/ptq-old/' "$T/grid.json" > "$T/ptq1.json"
    sed -e 's/"method": \["qat", "ptq"\]/"method": "qat"/' "$T/ptq1.json" > "$T/qat.json"
    mpirun -n 1 "$Q" "$T/qat.json" --db "$T/old.db" >/dev/null 2>"$T/old.err" ||
        { fail ptq_old_database "qat sweep: $(tail -2 "$T/old.err")"; return; }
    sqlite3 "$T/old.db" "PRAGMA writable_schema = ON;
        UPDATE sqlite_master SET sql = replace(sql, ', ''ptq'', ''compress'')', ')') WHERE name = 'phases';
        PRAGMA writable_schema = OFF;" 2>"$T/old.err"
    if sqlite3 "$T/old.db" "SELECT sql FROM sqlite_master WHERE name = 'phases'" | grep -q "'ptq'"; then
        fail ptq_old_database "could not make the old CHECK: $(cat "$T/old.err")"; return
    fi
    mpirun -n 2 "$Q" "$T/ptq1.json" --db "$T/old.db" >/dev/null 2>"$T/old2.err"
    local rc=$?
    local n; n=$(sqlite3 "$T/old.db" "SELECT COUNT(*) FROM runs WHERE phase = 'ptq' AND status = 'done'")
    local ok; ok=$(sqlite3 "$T/old.db" "PRAGMA integrity_check")
    [ $rc -eq 0 ] && [ "$n" = 2 ] && [ "$ok" = ok ] && pass ptq_old_database ||
        fail ptq_old_database "rc $rc, $n ptq done, integrity $ok: $(tail -2 "$T/old2.err")"
}

run_cases ptq_sweep_rows ptq_pivot ptq_kill_resume ptq_old_database
