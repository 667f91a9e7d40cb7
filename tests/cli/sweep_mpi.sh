#!/usr/bin/env bash
# The sweep service end to end with real MPI ranks (mpirun -n 3 and -n 1),
# a real SQLite file: completion, reuse, kill -9 and resume bit for bit,
# a diverging phase, SIGTERM, and a bad grid leaving the database untouched.
. "$(dirname "$0")/lib.sh"

# Synthetic FCDNNs, small enough for well under a second per phase, yet a
# sweep long against rank 0's start-up (MPI, SQLite: about 0.3 s of CPU),
# which the coordinator CPU test would otherwise measure instead of polling.
cat > "$T/grid.json" <<'G'
{
  "name": "mpi-test",
  "dataset": {"name": "synthetic", "train_limit": 20000, "test_limit": 2000},
  "axes": {"arch": "fcdnn", "width": [16, 32], "depth": [3, 4],
           "wbits": [32, 2], "abits": [32, 2], "clr": [false, true]},
  "exclude": [{"wbits": 2, "abits": 32}, {"wbits": 32, "abits": 2}],
  "float": {"epochs": 60}, "retrain": {"epochs": 24}, "clr": {"epochs": 8, "period": 2}
}
G
# The comparable part of a result: everything but timings and attempts.
rows() {
    sqlite3 "$1" "SELECT phase_id, phase, status, wbits, abits, clr, epochs_done,
                  printf('%.6f', test_acc), printf('%.9f', test_loss), printf('%.9f', train_loss),
                  COALESCE(error, '') FROM runs ORDER BY phase_id"
    sqlite3 "$1" "SELECT phase_id, epoch, printf('%.9f', train_loss), printf('%.6f', test_acc)
                  FROM epochs ORDER BY phase_id, epoch"
}

test_full_run() {
    mpirun -n 3 "$Q" "$T/grid.json" --db "$T/ref.db" --ckpt-interval 0 >"$T/ref.out" 2>"$T/ref.err"
    local rc=$? n
    n=$(sqlite3 "$T/ref.db" "SELECT COUNT(*) FROM runs WHERE status = 'done'" 2>/dev/null)
    local total
    total=$(sqlite3 "$T/ref.db" "SELECT COUNT(*) FROM runs" 2>/dev/null)
    if [ $rc -ne 0 ] || [ "$n" != "$total" ] || [ "${total:-0}" -lt 10 ]; then
        fail sweep_full_run "rc $rc, $n of $total done; $(tail -3 "$T/ref.err")"; return
    fi
    if ! grep -q "coordinator CPU" "$T/ref.err"; then
        fail sweep_full_run "no coordinator CPU line"; return
    fi
    pass sweep_full_run
}

# The coordinator must not spin: a spinning rank 0 burns a whole core (CPU ~ wall);
# a polling one stays well under half (start-up and SQLite included).
test_coordinator_cpu() {
    local line cpu wall
    line=$(grep "coordinator CPU" "$T/ref.err")
    wall=$(echo "$line" | sed -E 's/.*after ([0-9.]+) s.*/\1/')
    cpu=$(echo "$line" | sed -E 's/.*CPU ([0-9.]+) s.*/\1/')
    if awk -v c="$cpu" -v w="$wall" 'BEGIN { exit !(c < 0.5 * w) }'; then
        pass "sweep_coordinator_cpu ($cpu s CPU over $wall s)"
    else
        fail sweep_coordinator_cpu "rank 0 used $cpu s CPU over $wall s wall"
    fi
}

test_rerun_reuses() {
    local before after
    before=$(sqlite3 "$T/ref.db" "SELECT SUM(attempts) FROM phases")
    mpirun -n 3 "$Q" "$T/grid.json" --db "$T/ref.db" >/dev/null 2>"$T/rerun.err"
    after=$(sqlite3 "$T/ref.db" "SELECT SUM(attempts) FROM phases")
    if [ "$before" = "$after" ] && [ -n "$before" ]; then pass sweep_rerun_reuses_done
    else fail sweep_rerun_reuses_done "attempts $before -> $after"; fi
}

test_kill9_resume() {
    setsid mpirun -n 3 "$Q" "$T/grid.json" --db "$T/kill.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/kill.err" &
    local pid=$!
    # Killed once some phases are done and a running one has a checkpoint.
    if ! wait_for "$T/kill.db" "SELECT (SELECT COUNT(*) FROM phases WHERE status='done') >= 2
            AND EXISTS (SELECT 1 FROM checkpoints c JOIN phases p ON p.id = c.phase_id
                        WHERE p.status = 'running' AND c.final = 0)"; then
        kill -9 -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        fail sweep_kill9_resume "never reached a mid-sweep state"; return
    fi
    kill -9 -- -"$pid"
    wait "$pid" 2>/dev/null
    local done_before attempts_before
    done_before=$(sqlite3 "$T/kill.db" "SELECT group_concat(id) FROM (SELECT id FROM phases WHERE status='done' ORDER BY id)")
    attempts_before=$(sqlite3 "$T/kill.db" "SELECT SUM(attempts) FROM phases WHERE status='done'")
    local resumed
    resumed=$(sqlite3 "$T/kill.db" "SELECT COUNT(*) FROM phases p JOIN checkpoints c ON c.phase_id = p.id
                                    WHERE p.status = 'running' AND c.final = 0")
    # The killed job's ranks live on for a moment (they notice the lost
    # mpirun within a second or two); the rerun waits for rank 0's claim.
    mpirun -n 3 "$Q" "$T/grid.json" --db "$T/kill.db" --ckpt-interval 0 --lock-wait 60 \
        >/dev/null 2>"$T/kill2.err"
    local rc=$?
    local attempts_after
    attempts_after=$(sqlite3 "$T/kill.db" "SELECT SUM(attempts) FROM phases WHERE id IN
                     (SELECT value FROM json_each('[\"' || replace('$done_before', ',', '\",\"') || '\"]'))")
    if [ $rc -ne 0 ]; then fail sweep_kill9_resume "rerun exit $rc: $(tail -3 "$T/kill2.err")"; return; fi
    if [ "$attempts_before" != "$attempts_after" ]; then
        fail sweep_kill9_resume "done phases reran (attempts $attempts_before -> $attempts_after)"; return
    fi
    if ! diff <(rows "$T/ref.db") <(rows "$T/kill.db") >"$T/diff"; then
        fail sweep_kill9_resume "results differ from the uninterrupted run: $(head -5 "$T/diff")"; return
    fi
    pass "sweep_kill9_resume ($resumed phase(s) resumed from a checkpoint)"
}

# lr 10 with SGD: the 64-6 net's loss goes to NaN within an epoch at
# seeds 1 and 3, the 16-3 net trains (at lr 1e3 it also diverges, to a
# finite train loss over the bound): one diverging job per seed.
test_diverge() {
    cat > "$T/div.json" <<'G'
{
  "name": "diverge",
  "dataset": {"name": "synthetic", "train_limit": 2000, "test_limit": 500},
  "axes": {"arch": "fcdnn", "seed": [1, 3], "wbits": [32, 2], "abits": [32, 2]},
  "cases": [{"width": 16, "depth": 3}, {"width": 64, "depth": 6}],
  "exclude": [{"wbits": 2, "abits": 32}, {"wbits": 32, "abits": 2}],
  "float": {"epochs": 3, "optimizer": "sgd", "lr": 10}, "retrain": {"epochs": 2}
}
G
    mpirun -n 3 "$Q" "$T/div.json" --db "$T/div.db" >/dev/null 2>"$T/div.err"
    local rc=$? f c d
    f=$(sqlite3 "$T/div.db" "SELECT COUNT(*) FROM runs WHERE phase = 'float' AND status = 'failed' AND error LIKE 'diverged at epoch 1: train loss %' AND width = 64")
    c=$(sqlite3 "$T/div.db" "SELECT COUNT(*) FROM runs WHERE phase = 'retrain' AND status = 'failed' AND error LIKE 'parent failed: diverged at epoch 1: train loss %' AND width = 64")
    d=$(sqlite3 "$T/div.db" "SELECT COUNT(*) FROM runs WHERE status = 'done' AND width = 16")
    # Exit 1: the sweep went on, but not every phase is done.
    if [ $rc -eq 1 ] && [ "$f" = "2" ] && [ "$c" = "2" ] && [ "$d" = "4" ]; then pass sweep_diverged_marked_failed
    else fail sweep_diverged_marked_failed "rc $rc, float diverged $f, children $c, others done $d; $(tail -2 "$T/div.err")"; fi
}

test_one_rank() {
    mpirun -n 1 "$Q" "$T/grid.json" --db "$T/one.db" --ckpt-interval 0 >/dev/null 2>"$T/one.err"
    local rc=$?
    if [ $rc -eq 0 ] && diff <(rows "$T/ref.db") <(rows "$T/one.db") >/dev/null; then
        pass sweep_one_rank_same_results
    else
        fail sweep_one_rank_same_results "rc $rc; $(tail -2 "$T/one.err")"
    fi
}

test_sigterm() {
    # A short phase that finishes and one far too long to (100,000 epochs):
    # with the 12-phase grid the sweep could end between the poll and the
    # signal on an idle machine (exit 0, a false failure).
    cat > "$T/term.json" <<'G'
{
  "name": "mpi-term",
  "dataset": {"name": "synthetic", "train_limit": 20000, "test_limit": 2000},
  "axes": {"arch": "fcdnn", "width": 16, "depth": 3, "wbits": 32, "abits": 32,
           "float.epochs": [60, 100000]}
}
G
    setsid mpirun -n 3 "$Q" "$T/term.json" --db "$T/term.db" >/dev/null 2>"$T/term.err" &
    local pid=$!
    if ! wait_for "$T/term.db" "SELECT COUNT(*) >= 1 FROM phases WHERE status = 'done'"; then
        kill -9 -- -"$pid" 2>/dev/null; fail sweep_sigterm "no progress"; return
    fi
    kill -TERM "$pid"
    wait "$pid"
    local rc=$? running done
    running=$(sqlite3 "$T/term.db" "SELECT COUNT(*) FROM phases WHERE status = 'running'")
    done=$(sqlite3 "$T/term.db" "SELECT COUNT(*) FROM phases WHERE status = 'done'")
    if [ "$running" = "0" ] && [ "$done" -ge 1 ] && [ "$rc" = 130 ]; then pass "sweep_sigterm_requeues (exit $rc)"
    else fail sweep_sigterm "rc $rc, running $running, done $done"; fi
}

test_bad_grid_untouched() {
    cp "$T/ref.db" "$T/bad.db"
    local before after
    before=$(sha256sum "$T/bad.db" | cut -d' ' -f1)
    printf '{"name": "mpi-test", "axes": {"arch": "fcdnn", "depth": [21], "width": 0}, "bogus": 1}' > "$T/bad.json"
    mpirun -n 3 "$Q" "$T/bad.json" --db "$T/bad.db" >/dev/null 2>"$T/bad.err"
    local rc=$?
    after=$(sha256sum "$T/bad.db" | cut -d' ' -f1)
    if [ $rc -ne 0 ] && [ "$before" = "$after" ] && grep -q "bogus" "$T/bad.err"; then
        pass sweep_bad_grid_db_untouched
    else
        fail sweep_bad_grid_db_untouched "rc $rc, db changed: $([ "$before" != "$after" ] && echo yes || echo no); $(head -3 "$T/bad.err")"
    fi
}

# `qsweep report pivot` on the finished sweep: one row per model, float
# first, and each cell the mean over the distinct done phases (checked
# against sqlite3 on the same file); an unknown sweep and a missing file.
test_report_pivot() {
    local out csv want got cols
    out=$("$Q" report pivot --db "$T/ref.db" 2>&1) || { fail report_pivot "exit $?: $out"; return; }
    cols=$(echo "$out" | head -1 | tr -s ' ')
    if [ "$cols" != "model float W2A2 W2A2+clr " ] && [ "$cols" != "model float W2A2 W2A2+clr" ]; then
        fail report_pivot "columns: '$cols'"; return
    fi
    if [ "$(echo "$out" | grep -c '^fcdnn-')" != 4 ]; then
        fail report_pivot "want 4 model rows: $out"; return
    fi
    csv=$("$Q" report pivot --db "$T/ref.db" --format csv)
    got=$(echo "$csv" | awk -F, '$1 == "fcdnn-32-4" { print $5 }')
    want=$(sqlite3 "$T/ref.db" "SELECT printf('%.2f', AVG(test_acc)) FROM (SELECT DISTINCT phase_id,
           test_acc FROM runs WHERE model = 'fcdnn-32-4' AND phase = 'retrain' AND wbits = 2)")
    if [ -z "$got" ] || [ "$got" != "$want" ]; then
        fail report_pivot "fcdnn-32-4 W2A2 csv '$got', sqlite3 '$want'"; return
    fi
    out=$("$Q" report pivot --db "$T/ref.db" --sweep nope 2>&1)
    local rcs=$?
    if [ $rcs -ne 2 ] || ! echo "$out" | grep -q "\-\-sweep nope: .*ref.db has no sweep of that name"; then
        fail report_pivot "unknown sweep: rc $rcs, $out"; return
    fi
    out=$("$Q" report pivot --db "$T/missing.db" 2>&1)
    local rc=$?
    if [ $rc -ne 2 ] || ! echo "$out" | grep -q "missing.db"; then
        fail report_pivot "missing db: rc $rc, $out"; return
    fi
    pass report_pivot
}

test_full_run
test_coordinator_cpu
test_report_pivot
test_rerun_reuses
test_kill9_resume
test_diverge
test_one_rank
test_sigterm
test_bad_grid_untouched
