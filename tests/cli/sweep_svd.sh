#!/usr/bin/env bash
# SVD compression in a real sweep (issue 15): synthetic FCDNNs, real
# SQLite, mpirun -n 3 (the coordinator and 2 worker ranks), float ->
# compress children from the grid's "compress" block: the runs rows (phase
# compress, its factored params, the compress and ranks columns, phase_svd),
# then a kill -9 during a compress phase's fine-tune and a rerun equal to
# the uninterrupted run.
. "$(dirname "$0")/lib.sh"

cat >"$T/svd.json" <<'G'
{
  "name": "qsw-svd",
  "dataset": {"name": "synthetic", "train_limit": 20000, "test_limit": 2000},
  "axes": {"arch": "fcdnn", "width": 32, "depth": [3, 4]},
  "float": {"epochs": 30},
  "compress": {"method": "svd", "params": [0.5, 0.7], "epochs": 8}
}
G

# The comparable part of a result: everything but timings and attempts.
rows() {
    sqlite3 "$1" "SELECT phase_id, parent_id, phase, status, epochs_done, params,
                  printf('%.6f', test_acc), printf('%.9f', train_loss), COALESCE(compress, ''),
                  COALESCE(ranks, ''), COALESCE(error, '') FROM runs ORDER BY phase_id"
    sqlite3 "$1" "SELECT phase_id, params_before, ranks, rank_list FROM phase_svd ORDER BY phase_id"
    sqlite3 "$1" "SELECT phase_id, epoch, printf('%.9f', train_loss), printf('%.6f', test_acc)
                  FROM epochs ORDER BY phase_id, epoch"
}

svd_sweep_rows() {
    if ! timeout -k 5 600 mpirun -n 3 "$Q" "$T/svd.json" --db "$T/ref.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/ref.err"; then
        fail svd_sweep_rows "sweep failed: $(tail -3 "$T/ref.err")"; return
    fi
    local got small labels lists
    got=$(sqlite3 "$T/ref.db" "SELECT group_concat(q || ':' || n, ' ') FROM (SELECT phase || '/' ||
          quantizer || '/' || method AS q, COUNT(*) AS n FROM runs WHERE status = 'done'
          GROUP BY 1 ORDER BY 1)")
    if [ "$got" != "compress/none/none:4 float/none/none:2" ]; then
        fail svd_sweep_rows "done phases by phase/quantizer/method: $got"; return
    fi
    # Each compress row: at most its fraction of its float parent's params
    # (phase_svd keeps the parent's count), ranks summarised, one rank per
    # weight layer (3 or 4 linears), first and last kept whole.
    small=$(sqlite3 "$T/ref.db" "SELECT COUNT(*) FROM runs r JOIN phase_svd v ON v.phase_id =
            r.phase_id JOIN runs f ON f.phase_id = r.parent_id WHERE r.phase = 'compress' AND
            v.params_before = f.params AND r.params <= f.params *
            CAST(substr(r.compress, 12) AS REAL) AND r.ranks LIKE 'svd %/' || r.depth || ' layers%'")
    labels=$(sqlite3 "$T/ref.db" "SELECT group_concat(DISTINCT compress) FROM (SELECT compress
             FROM runs WHERE phase = 'compress' ORDER BY compress)")
    lists=$(sqlite3 "$T/ref.db" "SELECT COUNT(*) FROM phase_svd v JOIN runs r ON r.phase_id =
            v.phase_id WHERE length(v.rank_list) - length(replace(v.rank_list, ',', '')) + 1 =
            r.depth AND v.rank_list LIKE '0,%' AND v.rank_list LIKE '%,0'")
    if [ "$small" != 4 ] || [ "$labels" != "svd params=0.5,svd params=0.7" ] || [ "$lists" != 4 ]; then
        fail svd_sweep_rows "$small of 4 compress rows small enough with their ranks, labels \"$labels\", $lists rank lists of the right length"; return
    fi
    pass "svd_sweep_rows ($(sqlite3 "$T/ref.db" "SELECT group_concat(r.depth || ':' || r.compress || ':' || printf('%.1f', r.test_acc) || '/' || printf('%.1f', f.test_acc), ' ') FROM runs r JOIN runs f ON f.phase_id = r.parent_id WHERE r.phase = 'compress'") acc compressed/float)"
}

# Killed while a compress phase fine-tunes with a checkpoint, then resumed:
# every result and rank as in the uninterrupted run.
svd_kill9_resume() {
    setsid mpirun -n 3 "$Q" "$T/svd.json" --db "$T/kill.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/kill.err" &
    local pid=$!
    if ! wait_for "$T/kill.db" "SELECT EXISTS (SELECT 1 FROM checkpoints c JOIN runs r
            ON r.phase_id = c.phase_id WHERE r.status = 'running' AND r.phase = 'compress'
            AND c.final = 0)"; then
        kill -9 -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        fail svd_kill9_resume "never saw a running compress phase with a checkpoint"; return
    fi
    kill -9 -- -"$pid"
    wait "$pid" 2>/dev/null
    local resumed
    resumed=$(sqlite3 "$T/kill.db" "SELECT COUNT(*) FROM runs r JOIN checkpoints c ON
              c.phase_id = r.phase_id WHERE r.status = 'running' AND r.phase = 'compress' AND
              c.final = 0 AND c.epoch > 0")
    if ! timeout -k 5 600 mpirun -n 3 "$Q" "$T/svd.json" --db "$T/kill.db" --ckpt-interval 0 \
        --lock-wait 60 >/dev/null 2>"$T/kill2.err"; then
        fail svd_kill9_resume "rerun failed: $(tail -3 "$T/kill2.err")"; return
    fi
    if ! diff <(rows "$T/ref.db") <(rows "$T/kill.db") >"$T/diff"; then
        fail svd_kill9_resume "results differ from the uninterrupted run: $(head -4 "$T/diff")"; return
    fi
    pass "svd_kill9_resume ($resumed compress phase(s) resumed from a checkpoint)"
}

# A database made before the compress phase existed (its phases CHECK
# allows float to ptq, no phase_svd table): read as it is by status, then
# the compress sweep widens the CHECK, adds the table and runs.
svd_old_database() {
    sed -e 's/"depth": \[3, 4\]/"depth": 3/' -e 's/qsw-svd/qsw-svd-old/' "$T/svd.json" > "$T/svd1.json"
    grep -v '"compress"' "$T/svd1.json" | sed 's/"float": {"epochs": 30},/"float": {"epochs": 30}/' > "$T/float.json"
    mpirun -n 1 "$Q" "$T/float.json" --db "$T/old.db" >/dev/null 2>"$T/old.err" ||
        { fail svd_old_database "float sweep: $(tail -2 "$T/old.err")"; return; }
    sqlite3 "$T/old.db" "PRAGMA writable_schema = ON;
        UPDATE sqlite_master SET sql = replace(sql, ', ''compress'')', ')') WHERE name = 'phases';
        PRAGMA writable_schema = OFF; DROP TABLE phase_svd;" 2>"$T/old.err"
    if sqlite3 "$T/old.db" "SELECT sql FROM sqlite_master WHERE name = 'phases'" | grep -q "'compress'"; then
        fail svd_old_database "could not make the old CHECK: $(cat "$T/old.err")"; return
    fi
    "$Q" status --db "$T/old.db" >"$T/old.st" 2>&1 ||
        { fail svd_old_database "status of the old file: $(tail -2 "$T/old.st")"; return; }
    mpirun -n 2 "$Q" "$T/svd1.json" --db "$T/old.db" >/dev/null 2>"$T/old2.err"
    local rc=$? n ok
    n=$(sqlite3 "$T/old.db" "SELECT COUNT(*) FROM runs WHERE phase = 'compress' AND status = 'done'
        AND ranks IS NOT NULL")
    ok=$(sqlite3 "$T/old.db" "PRAGMA integrity_check")
    [ $rc -eq 0 ] && [ "$n" = 2 ] && [ "$ok" = ok ] && pass svd_old_database ||
        fail svd_old_database "rc $rc, $n compress done with ranks, integrity $ok: $(tail -2 "$T/old2.err")"
}

run_cases svd_sweep_rows svd_kill9_resume svd_old_database
