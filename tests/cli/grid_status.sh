#!/usr/bin/env bash
# `qsweep status`: progress lines and failed phases from a real database;
# clear errors, exit 2 and untouched files for a missing or foreign --db;
# reads while another process holds a write transaction.
. "$(dirname "$0")/lib.sh"

have_sqlite() { command -v sqlite3 > /dev/null; }

# A qsweep database with one sweep "t": 2 done, 1 running (epochs 1, 2 at
# 100 and 250 img/s), 1 failed (diverged) with a child failed by it, 1 queued.
# Its coordinator's claim: $2 (host), $3 (pid), $4 (heartbeat age, s);
# default this host and this shell, heartbeat now: a live coordinator.
make_db() {
    local host=${2:-$(uname -n)} pid=${3:-$$} age=${4:-0}
    sqlite3 "$1" < sql/schema.sql > /dev/null &&
    sqlite3 "$1" "INSERT INTO coordinator(id, host, pid, sweep, token, since, heartbeat)
                  VALUES (1, '$host', $pid, 't', 'x', 1000, strftime('%s', 'now') - $age)" &&
    sqlite3 "$1" <<'SQL'
INSERT INTO meta VALUES ('schema_version', '1'), ('application', 'qsweep');
INSERT INTO sweeps(id, name, grid, started) VALUES (1, 't', '{}', 1000);
INSERT INTO phases(id, parent_id, phase, config, model, dataset, arch, depth, width, params,
                   wbits, abits, regularizer, seed, threads, epochs, gflop, status, seconds,
                   finished, epochs_done, error, updated)
VALUES ('a', NULL, 'float', '{}', 'fcdnn-128-4', 'synthetic', 'fcdnn', 4, 128, 33666, 32, 32,
        'none', 1, 1, 10, 100, 'done', 10, 2000, 10, NULL, 1),
       ('b', 'a', 'retrain', '{}', 'fcdnn-128-4', 'synthetic', 'fcdnn', 4, 128, 33666, 2, 32,
        'none', 1, 1, 10, 100, 'done', 10, 2001, 10, NULL, 1),
       ('c', 'a', 'retrain', '{}', 'fcdnn-128-4', 'synthetic', 'fcdnn', 4, 128, 33666, 32, 2,
        'none', 1, 1, 10, 100, 'running', NULL, NULL, 5, NULL, 1),
       ('d', 'a', 'retrain', '{}', 'fcdnn-128-4', 'synthetic', 'fcdnn', 4, 128, 33666, 2, 2,
        'lipschitz', 1, 1, 10, 100, 'failed', NULL, NULL, 3, 'diverged', 2),
       ('e', 'd', 'clr', '{}', 'fcdnn-128-4', 'synthetic', 'fcdnn', 4, 128, 33666, 2, 2,
        'lipschitz', 1, 1, 10, 100, 'failed', NULL, NULL, 0, 'parent failed: diverged', 3),
       ('f', 'a', 'retrain', '{}', 'fcdnn-128-4', 'synthetic', 'fcdnn', 4, 128, 33666, 2, 2,
        'none', 1, 1, 10, 100, 'queued', NULL, NULL, 0, NULL, 1);
INSERT INTO sweep_phases SELECT 1, id FROM phases;
INSERT INTO epochs(phase_id, epoch, img_per_s) VALUES ('c', 1, 100), ('c', 2, 250);
SQL
}

status_progress_and_failures() {
    if ! have_sqlite; then pass "status_progress_and_failures (no sqlite3 CLI: skipped)"; return; fi
    make_db "$T/r.db" || { fail status_progress_and_failures "could not build the database"; return; }
    "$Q" status --db "$T/r.db" > "$T/out" 2> "$T/err"
    local rc=$? miss=""
    # Left: queued 100 + running 50 + 0 = 150 GFLOP; rate 10 GFLOP/s per
    # rank x 1 running = 15 s. The phases are synthetic: points, not images.
    grep -q '^t: 2/6 done, 1 running, 2 failed, 1 queued; 250 points/s; ETA 15s$' "$T/out" || miss="$miss [progress line]"
    grep -q '^  failed: fcdnn-128-4 retrain w2a2 lipschitz seed 1 (d): diverged$' "$T/out" || miss="$miss [failed retrain]"
    grep -q '^  failed: fcdnn-128-4 clr w2a2 lipschitz seed 1 (e): parent failed: diverged$' "$T/out" || miss="$miss [failed child]"
    if [ "$rc" = 0 ] && [ -z "$miss" ]; then pass status_progress_and_failures
    else fail status_progress_and_failures "rc $rc, missing$miss; got: $(cat "$T/out" "$T/err")"; fi
}

# --json lists the same failed phases, own failure first, each with its
# reason, so a script need not parse the text lines.
status_json_failures() {
    if ! have_sqlite; then pass "status_json_failures (no sqlite3 CLI: skipped)"; return; fi
    make_db "$T/j.db" || { fail status_json_failures "could not build the database"; return; }
    "$Q" status --db "$T/j.db" --json > "$T/out" 2> "$T/err"
    local rc=$?
    if [ "$rc" = 0 ] && python3 - "$T/out" <<'PY'
import json, sys
o = json.loads(open(sys.argv[1]).read())
f = o["failed_phases"]
assert o["failed"] == 2 and len(f) == 2, o
assert [(x["phase_id"], x["phase"], x["error"]) for x in f] == \
    [("d", "retrain", "diverged"), ("e", "clr", "parent failed: diverged")], f
assert (f[0]["model"], f[0]["wbits"], f[0]["abits"], f[0]["regularizer"], f[0]["seed"]) == \
    ("fcdnn-128-4", 2, 2, "lipschitz", 1), f[0]
PY
    then pass status_json_failures
    else fail status_json_failures "rc $rc: $(cat "$T/out" "$T/err")"; fi
}

status_while_writing() {
    if ! have_sqlite; then pass "status_while_writing (no sqlite3 CLI: skipped)"; return; fi
    make_db "$T/w.db" || { fail status_while_writing "could not build the database"; return; }
    sqlite3 "$T/w.db" 'PRAGMA journal_mode = WAL' > /dev/null
    # A writer holds an open write transaction for 2 s.
    ( { echo "BEGIN IMMEDIATE; UPDATE phases SET status = 'done';"; sleep 2; echo "COMMIT;"; } |
        sqlite3 "$T/w.db" ) &
    local wpid=$!
    sleep 0.5
    "$Q" status --db "$T/w.db" > "$T/out" 2> "$T/err"
    local rc=$?
    wait "$wpid"
    if [ "$rc" = 0 ] && grep -q '^t: 2/6 done' "$T/out"; then pass status_while_writing
    else fail status_while_writing "rc $rc: $(cat "$T/out" "$T/err")"; fi
}

status_missing_db() {
    "$Q" status --db "$T/none.db" > "$T/out" 2> "$T/err"
    local rc=$?
    if [ "$rc" = 2 ] && grep -q "none.db: no such database" "$T/err" && [ ! -e "$T/none.db" ]
    then pass status_missing_db; else fail status_missing_db "rc $rc: $(cat "$T/err")"; fi
}

status_text_file_untouched() {
    printf 'not a database\n' > "$T/notes.db"
    cp "$T/notes.db" "$T/notes.orig"
    "$Q" status --db "$T/notes.db" > "$T/out" 2> "$T/err"
    local rc=$?
    if [ "$rc" = 2 ] && grep -q "notes.db: not a SQLite database" "$T/err" && cmp -s "$T/notes.db" "$T/notes.orig"
    then pass status_text_file_untouched; else fail status_text_file_untouched "rc $rc: $(cat "$T/err")"; fi
}

status_foreign_sqlite_untouched() {
    if ! have_sqlite; then pass "status_foreign_sqlite_untouched (no sqlite3 CLI: skipped)"; return; fi
    sqlite3 "$T/other.db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'
    cp "$T/other.db" "$T/other.orig"
    "$Q" status --db "$T/other.db" > "$T/out" 2> "$T/err"
    local rc=$?
    if [ "$rc" = 2 ] && grep -q "other.db: a SQLite database but not a qsweep database" "$T/err" &&
        cmp -s "$T/other.db" "$T/other.orig"
    then pass status_foreign_sqlite_untouched; else fail status_foreign_sqlite_untouched "rc $rc: $(cat "$T/err")"; fi
}

status_empty_db() {
    if ! have_sqlite; then pass "status_empty_db (no sqlite3 CLI: skipped)"; return; fi
    sqlite3 "$T/e.db" < sql/schema.sql > /dev/null
    sqlite3 "$T/e.db" "INSERT INTO meta VALUES ('schema_version', '1'), ('application', 'qsweep')"
    "$Q" status --db "$T/e.db" > "$T/out" 2> "$T/err"
    local rc=$?
    if [ "$rc" = 0 ] && grep -q "e.db: no sweeps yet" "$T/out"; then pass status_empty_db
    else fail status_empty_db "rc $rc: $(cat "$T/out" "$T/err")"; fi
}

# The same sweep whose coordinator is gone (rank 0 killed, or its node):
# its running phase is shown interrupted, the sweep too, with no ETA; the
# file is not changed. Three ways to be gone: pid ended on this host, a
# heartbeat older than the bound from another host, no claim at all.
status_interrupted() {
    if ! have_sqlite; then pass "status_interrupted (no sqlite3 CLI: skipped)"; return; fi
    local dead case db
    sh -c 'exit 0' & dead=$!
    wait "$dead"
    for case in "pid:$(uname -n):$dead:0" "heartbeat:other-host:1:300" "none"; do
        db=$T/i-${case%%:*}.db
        if [ "$case" = none ]; then
            make_db "$db" && sqlite3 "$db" "DELETE FROM coordinator"
        else
            IFS=: read -r _ host pid age <<<"$case"
            make_db "$db" "$host" "$pid" "$age"
        fi || { fail status_interrupted "could not build the database"; return; }
        local before
        before=$(sha256sum "$db" | cut -d' ' -f1)
        "$Q" status --db "$db" > "$T/out" 2> "$T/err"
        local rc=$?
        if [ "$rc" != 0 ] || ! grep -q '^t: 2/6 done, 0 running, 2 failed, 1 queued, 1 interrupted; 0.0 img/s; interrupted: its coordinator is gone' "$T/out"; then
            fail status_interrupted "${case%%:*}: rc $rc: $(cat "$T/out" "$T/err")"; return
        fi
        if grep -q 'ETA' "$T/out"; then fail status_interrupted "${case%%:*}: an ETA: $(cat "$T/out")"; return; fi
        if [ "$(sha256sum "$db" | cut -d' ' -f1)" != "$before" ] ||
            [ "$(sqlite3 "$db" "SELECT count(*) FROM phases WHERE status = 'running'")" != 1 ]; then
            fail status_interrupted "${case%%:*}: the file changed"; return
        fi
    done
    if ! grep -q "(host other-host, pid 1, sweep \"t\", since .*last heartbeat 30[0-9] s ago)" <("$Q" status --db "$T/i-heartbeat.db"); then
        fail status_interrupted "the line does not name the coordinator: $("$Q" status --db "$T/i-heartbeat.db")"; return
    fi
    pass status_interrupted
}

run_cases status_interrupted status_progress_and_failures status_json_failures status_while_writing status_missing_db \
    status_text_file_untouched status_foreign_sqlite_untouched status_empty_db
