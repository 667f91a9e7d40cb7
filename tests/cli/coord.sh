#!/usr/bin/env bash
# The coordinator's contract on real mpirun ranks and a real SQLite file:
# one coordinator per database (a second is refused naming the holder, a
# stale claim is taken over), exit codes (full disk, SIGTERM to mpirun or
# to rank 0), a sweep whose coordinator is gone shown as interrupted, and
# `qsweep run-until-done` finishing a sweep after a worker rank is killed.
# QS_CASES="coord_reference coord_sigterm" runs only those cases.
. "$(dirname "$0")/lib.sh"

command -v mpirun >/dev/null && command -v sqlite3 >/dev/null || {
    echo "FAIL coord: mpirun and sqlite3 are needed (make setup)"; exit 1; }

# The synthetic grid of sweep_mpi.sh, its retrains longer (120 epochs, 1-2 s
# each): 12 phases, with seconds of work left after MID below.
cat >"$T/grid.json" <<'G'
{
  "name": "coord-test",
  "dataset": {"name": "synthetic", "train_limit": 20000, "test_limit": 2000},
  "axes": {"arch": "fcdnn", "width": [16, 32], "depth": [3, 4],
           "wbits": [32, 2], "abits": [32, 2], "clr": [false, true]},
  "exclude": [{"wbits": 2, "abits": 32}, {"wbits": 32, "abits": 2}],
  "float": {"epochs": 60}, "retrain": {"epochs": 120}, "clr": {"epochs": 8, "period": 2}
}
G
sed 's/"coord-test"/"coord-other"/' "$T/grid.json" >"$T/other.json"
# The same 12 phases, their floats far too long to end during a test: what
# a dead rank leaves behind cannot be finished by the others first.
sed 's/"float": {"epochs": 60}/"float": {"epochs": 100000}/' "$T/grid.json" >"$T/long12.json"
# One phase far too long to finish while a test runs (100,000 epochs of a
# few ms): a signal sent once it has reported an epoch always lands
# mid-sweep, however fast the machine is.
cat >"$T/long.json" <<'G'
{
  "name": "coord-long",
  "dataset": {"name": "synthetic", "train_limit": 20000, "test_limit": 2000},
  "axes": {"arch": "fcdnn", "width": 16, "depth": 3, "wbits": 32, "abits": 32},
  "float": {"epochs": 100000}
}
G

# The comparable part of a result: everything but timings and attempts.
rows() {
    sqlite3 "$1" "SELECT id, phase, status, wbits, abits, clr, epochs_done,
                  printf('%.6f', test_acc), printf('%.9f', test_loss), printf('%.9f', train_loss),
                  COALESCE(error, '') FROM phases ORDER BY id"
    sqlite3 "$1" "SELECT phase_id, epoch, printf('%.9f', train_loss), printf('%.6f', test_acc)
                  FROM epochs ORDER BY phase_id, epoch"
}
# A mid-sweep state: some phases done, a running one with a checkpoint.
MID="SELECT (SELECT COUNT(*) FROM phases WHERE status = 'done') >= 2
        AND EXISTS (SELECT 1 FROM checkpoints c JOIN phases p ON p.id = c.phase_id
                    WHERE p.status = 'running' AND c.final = 0)"
# Waits (bounded) for a pid to end.
wait_gone() {
    local i
    for i in $(seq 1 6000); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.02; done
    return 1
}
# start TAG DB [GRID]: mpirun -n 3 in the background, in its own session;
# BG is its pid.
BG=""
start() {
    setsid mpirun -n 3 "$Q" "${3:-$T/grid.json}" --db "$2" --ckpt-interval 0 \
        >"$T/$1.out" 2>"$T/$1.err" &
    BG=$!
    QS_BG_PIDS="$QS_BG_PIDS $BG"
}
stop_bg() { thaw; kill -9 -- -"$BG" 2>/dev/null; wait "$BG" 2>/dev/null; }
# The background sweep held still (SIGSTOP) and let go: what a test does in
# between happens mid-sweep however slowly the test itself runs on a
# loaded machine (a few seconds: the claim's heartbeat bound is 30 s).
# Every process under BG one by one: hydra starts its proxy and each rank
# in a session of its own, out of BG's process group.
FROZEN=""
freeze() {
    local p
    FROZEN=""
    for p in $BG $(descendants "$BG"); do
        kill -STOP "$p" 2>/dev/null && FROZEN="$FROZEN $p"
    done
}
thaw() {
    local p
    for p in $FROZEN; do kill -CONT "$p" 2>/dev/null; done
    FROZEN=""
}
# The claim's pid (rank 0 of the job holding the database).
holder_pid() { sqlite3 "$1" "SELECT pid FROM coordinator" 2>/dev/null; }
# The processes under PID, four levels deep (mpirun or run-until-done,
# hydra's proxy, the ranks), parents first.
descendants() {
    local level=$1 next p
    for _ in 1 2 3 4; do
        next=""
        for p in $level; do next="$next $(pgrep -P "$p" | tr '\n' ' ')"; done
        echo $next
        level=$next
    done
}
# rank_pid PID RANK: the process of MPI rank RANK among the descendants of
# PID, by the PMI_RANK hydra gives it.
rank_pid() {
    local c
    for c in $(descendants "$1"); do
        if tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx "PMI_RANK=$2"; then
            echo "$c"; return 0
        fi
    done
    return 1
}

coord_reference() {
    timeout -k 5 300 mpirun -n 3 "$Q" "$T/grid.json" --db "$T/ref.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/ref.err"
    local rc=$? n
    n=$(sqlite3 "$T/ref.db" "SELECT COUNT(*) FROM phases WHERE status = 'done'")
    if [ $rc -ne 0 ] || [ "$n" != 12 ]; then
        fail coord_reference "rc $rc, $n of 12 done: $(tail -2 "$T/ref.err")"; return
    fi
    if [ "$(sqlite3 "$T/ref.db" "SELECT COUNT(*) FROM coordinator")" != 0 ]; then
        fail coord_reference "the claim is still there after the end"; return
    fi
    pass coord_reference
}

coord_second_refused() {
    start two "$T/two.db"
    if ! wait_for "$T/two.db" "$MID"; then stop_bg; fail coord_second_refused "never mid-sweep"; return; fi
    local pid grid rc
    # Not frozen: a coordinator whose workers cannot answer keeps its write
    # transaction open, and the second one would meet that, not the claim.
    pid=$(rank_pid "$BG" 0)
    for grid in grid other; do
        timeout -k 5 120 mpirun -n 1 "$Q" "$T/$grid.json" --db "$T/two.db" >/dev/null 2>"$T/two2.err"
        rc=$?
        if [ $rc -ne 2 ]; then stop_bg; fail coord_second_refused "$grid: second coordinator exit $rc, want 2"; return; fi
        if ! grep -Eq "in use by another coordinator \(host $(uname -n), pid $pid, sweep \"coord-test\", since [0-9-]+ [0-9:]+ UTC" "$T/two2.err"; then
            stop_bg; fail coord_second_refused "$grid: message does not name the holder: $(cat "$T/two2.err")"; return
        fi
    done
    wait "$BG"
    rc=$?
    if [ $rc -ne 0 ]; then fail coord_second_refused "first coordinator exit $rc: $(tail -2 "$T/two.err")"; return; fi
    if ! diff <(rows "$T/ref.db") <(rows "$T/two.db") >"$T/diff"; then
        fail coord_second_refused "results differ from the uninterrupted run: $(head -3 "$T/diff")"; return
    fi
    pass coord_second_refused
}

# A write lock held past the busy timeout is reported with who holds it:
# here a sqlite3 shell's open transaction, first on a file no coordinator
# claims, then under a live claim (a coordinator stopped mid-transaction
# looks like this). The shell answers a query once the lock is taken, so
# the sweep starts only while it is held.
coord_lock_named() {
    local rc line lk
    cp "$T/ref.db" "$T/lk.db" 2>/dev/null || { fail coord_lock_named "no reference database"; return; }
    coproc LK { exec sqlite3 "$T/lk.db"; }
    lk=$LK_PID # bash unsets LK_PID once the shell ends
    echo "BEGIN IMMEDIATE; SELECT 'held';" >&"${LK[1]}"
    read -r -t 60 line <&"${LK[0]}"
    if [ "$line" != held ]; then fail coord_lock_named "the shell did not take the lock: $line"; return; fi
    timeout -k 5 120 mpirun -n 3 "$Q" "$T/grid.json" --db "$T/lk.db" >/dev/null 2>"$T/lk.err"
    rc=$?
    if [ $rc -ne 2 ] || ! grep -q "database is locked by another writer for over 5 s (no coordinator claims this file" "$T/lk.err"; then
        echo "ROLLBACK;" >&"${LK[1]}"; exec {LK[1]}>&-; wait "$lk"
        fail coord_lock_named "free file: exit $rc, want 2 naming the writer: $(head -2 "$T/lk.err")"; return
    fi
    # The claim of a live process (the shell's own pid), then the lock again.
    echo "ROLLBACK; INSERT INTO coordinator(id, host, pid, sweep, token, since, heartbeat)
          VALUES (1, '$(uname -n)', $lk, 'coord-test', 't', strftime('%s','now'), strftime('%s','now'));
          BEGIN IMMEDIATE; SELECT 'held';" >&"${LK[1]}"
    read -r -t 60 line <&"${LK[0]}"
    timeout -k 5 120 mpirun -n 3 "$Q" "$T/grid.json" --db "$T/lk.db" >/dev/null 2>"$T/lk2.err"
    rc=$?
    echo "ROLLBACK;" >&"${LK[1]}"; exec {LK[1]}>&-; wait "$lk"
    if [ $rc -ne 2 ] || ! grep -q "the claimed coordinator is host $(uname -n), pid $lk, sweep \"coord-test\".*stopped or hung" "$T/lk2.err"; then
        fail coord_lock_named "claimed file: exit $rc, want 2 naming pid $lk: $(head -2 "$T/lk2.err")"; return
    fi
    pass coord_lock_named
}

coord_stale_takeover() {
    start stale "$T/stale.db"
    if ! wait_for "$T/stale.db" "$MID"; then stop_bg; fail coord_stale_takeover "never mid-sweep"; return; fi
    local pid rc holder
    # read while the sweep runs: a reader can meet the lock of a frozen writer
    holder=$(holder_pid "$T/stale.db")
    freeze
    pid=$(rank_pid "$BG" 0)
    if [ -z "$pid" ]; then stop_bg; fail coord_stale_takeover "no rank 0 found"; return; fi
    if [ "$holder" != "$pid" ]; then
        stop_bg; fail coord_stale_takeover "the claim does not name rank 0 (pid $pid, claim: $holder)"; return
    fi
    kill -9 "$pid"
    thaw
    wait "$BG" 2>/dev/null
    wait_gone "$pid"
    # No --lock-wait: a claim whose pid ended on this host is stale now.
    timeout -k 5 300 mpirun -n 3 "$Q" "$T/grid.json" --db "$T/stale.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/stale2.err"
    rc=$?
    if [ $rc -ne 0 ]; then fail coord_stale_takeover "rerun exit $rc: $(tail -2 "$T/stale2.err")"; return; fi
    if ! grep -q "took over the stale claim of a coordinator that is gone (host $(uname -n), pid $pid," "$T/stale2.err"; then
        fail coord_stale_takeover "no take-over line: $(head -3 "$T/stale2.err")"; return
    fi
    if ! diff <(rows "$T/ref.db") <(rows "$T/stale.db") >"$T/diff"; then
        fail coord_stale_takeover "results differ from the uninterrupted run: $(head -3 "$T/diff")"; return
    fi
    pass coord_stale_takeover
}

# A 2 MB tmpfs fills within the first phases: exit 3 at once (not after a
# finalize time-out), and no line claims more than the file holds.
coord_full_disk() {
    local dir=$T/full n rc t0 secs said held
    mkdir -p "$dir"
    if ! mount -t tmpfs -o size=2m tmpfs "$dir" 2>/dev/null; then
        pass "coord_full_disk (cannot mount a tmpfs here: skipped)"; return
    fi
    trap 'umount "$T/full" 2>/dev/null; qs_cleanup' EXIT
    for n in 3 1; do
        rm -f "$dir"/*
        t0=$SECONDS
        timeout -k 5 120 mpirun -n $n "$Q" "$T/grid.json" --db "$dir/d.db" --ckpt-interval 0 \
            >/dev/null 2>"$T/full$n.err"
        rc=$?
        secs=$((SECONDS - t0))
        if [ $rc -ne 3 ]; then umount "$dir"; fail coord_full_disk "-n $n: exit $rc, want 3 (storage); $(tail -2 "$T/full$n.err")"; return; fi
        if [ $secs -gt 25 ]; then umount "$dir"; fail coord_full_disk "-n $n: took $secs s"; return; fi
        if grep -Eq "every result is written|finished after" "$T/full$n.err"; then
            umount "$dir"; fail coord_full_disk "-n $n: a false claim: $(grep -E "written|finished" "$T/full$n.err")"; return
        fi
        said=$(sed -nE 's/.* holds ([0-9]+) of [0-9]+ phases done.*/\1/p' "$T/full$n.err")
        held=$(sqlite3 "$dir/d.db" "SELECT COUNT(*) FROM phases WHERE status = 'done'")
        if [ -z "$said" ] || [ "$said" != "$held" ]; then
            umount "$dir"; fail coord_full_disk "-n $n: said '$said' done, the file holds $held"; return
        fi
    done
    umount "$dir"
    trap qs_cleanup EXIT
    pass coord_full_disk
}

coord_sigterm() {
    local target rc pid
    for target in mpirun rank0; do
        # The small grid could finish between the poll and the signal on an
        # idle machine (exit 0, a false failure): the long one cannot.
        start "term-$target" "$T/term-$target.db" "$T/long.json"
        if ! wait_for "$T/term-$target.db" "SELECT COUNT(*) >= 1 FROM epochs"; then
            stop_bg; fail coord_sigterm "$target: no progress"; return
        fi
        pid=$BG
        [ $target = rank0 ] && pid=$(rank_pid "$BG" 0)
        kill -TERM "$pid"
        wait "$BG"
        rc=$?
        if [ $rc -ne 130 ]; then fail coord_sigterm "SIGTERM to $target: exit $rc, want 130"; return; fi
        if [ "$(sqlite3 "$T/term-$target.db" "SELECT COUNT(*) FROM phases WHERE status = 'running'")" != 0 ]; then
            fail coord_sigterm "$target: running phases left"; return
        fi
    done
    pass coord_sigterm
}

# A worker rank killed: MPICH ends the job; the sweep must not look alive.
coord_killed_worker() {
    start kw "$T/kw.db" "$T/long12.json"
    if ! wait_for "$T/kw.db" "SELECT COUNT(*) = 2 FROM phases WHERE status = 'running' AND
                                  epochs_done >= 1"; then
        stop_bg; fail coord_killed_worker "never mid-sweep"; return
    fi
    local r0 worker rc out
    freeze
    r0=$(rank_pid "$BG" 0)
    worker=$(rank_pid "$BG" 1)
    if [ -z "$worker" ] || [ -z "$r0" ]; then stop_bg; fail coord_killed_worker "no ranks found"; return; fi
    kill -9 "$worker"
    thaw
    wait "$BG"
    rc=$?
    wait_gone "$r0"
    out=$("$Q" status --db "$T/kw.db" 2>&1)
    if ! echo "$out" | grep -Eq "^coord-test: [0-9]+/12 done, 0 running, .* [1-9][0-9]* interrupted; .*interrupted: its coordinator is gone"; then
        fail coord_killed_worker "mpirun exit $rc; status: $out"; return
    fi
    if echo "$out" | grep -q ETA; then fail coord_killed_worker "an ETA: $out"; return; fi
    if command -v curl >/dev/null; then
        timeout -k 5 120 "$Q" serve --db "$T/kw.db" --port 0 --web "$PWD/web" >"$T/serve.out" 2>"$T/serve.err" &
        local spid=$! i url="" api=""
        QS_BG_PIDS="$QS_BG_PIDS $spid"
        for i in $(seq 1 3000); do
            url=$(sed -n 's/^qsweep serve: \(http:\/\/127\.0\.0\.1:[0-9]*\/\)$/\1/p' "$T/serve.out")
            [ -n "$url" ] && break
            sleep 0.02
        done
        local runs=""
        [ -n "$url" ] && api=$(curl -s --max-time 30 "${url}api/sweeps") &&
            runs=$(curl -s --max-time 30 "${url}api/runs?status=running&limit=1")
        kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
        if ! echo "$api" | grep -q '"state":"interrupted"' || ! echo "$api" | grep -q '"eta_s":null' ||
            ! echo "$api" | grep -Eq '"running":0,"interrupted":[1-9]'; then
            fail coord_killed_worker "/api/sweeps: ${api:0:400} $(head -c 300 "$T/serve.err")"; return
        fi
        # The rows stay as stored; the answer says they are not being run.
        if ! echo "$runs" | grep -q '"running_live":false' || ! echo "$runs" | grep -q '"status":"running"'; then
            fail coord_killed_worker "/api/runs: ${runs:0:400}"; return
        fi
    fi
    pass "coord_killed_worker (mpirun exit $rc)"
}

# run-until-done: a worker killed mid-sweep, the wrapper reruns and
# finishes; the results equal the uninterrupted run's.
coord_run_until_done() {
    setsid "$Q" run-until-done "$T/grid.json" --db "$T/rud.db" --ckpt-interval 0 --retries 2 \
        -- -n 3 >"$T/rud.out" 2>"$T/rud.err" &
    BG=$!
    QS_BG_PIDS="$QS_BG_PIDS $BG"
    if ! wait_for "$T/rud.db" "$MID"; then stop_bg; fail coord_run_until_done "never mid-sweep"; return; fi
    local worker rc
    freeze
    worker=$(rank_pid "$BG" 1)
    if [ -z "$worker" ]; then stop_bg; fail coord_run_until_done "no worker rank found"; return; fi
    kill -9 "$worker"
    thaw
    local i
    for i in $(seq 1 6000); do kill -0 "$BG" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$BG" 2>/dev/null; then stop_bg; fail coord_run_until_done "still running after 300 s"; return; fi
    wait "$BG"
    rc=$?
    if [ $rc -ne 0 ]; then fail coord_run_until_done "exit $rc: $(tail -3 "$T/rud.err")"; return; fi
    if ! grep -q "rerunning (1 of 2 reruns)" "$T/rud.err"; then
        fail coord_run_until_done "it never reran: $(grep run-until-done "$T/rud.err")"; return
    fi
    if ! diff <(rows "$T/ref.db") <(rows "$T/rud.db") >"$T/diff"; then
        fail coord_run_until_done "results differ from the uninterrupted run: $(head -3 "$T/diff")"; return
    fi
    pass coord_run_until_done
}

# What a rerun cannot fix ends the loop at once: a bad grid (2), a database
# held by another coordinator (2).
coord_run_until_done_stops() {
    printf '{"name": "x", "axes": {"arch": "fcdnn", "bogus": 1}}' >"$T/bad.json"
    timeout -k 5 120 "$Q" run-until-done "$T/bad.json" --db "$T/bad.db" --retries 5 -- -n 1 \
        >/dev/null 2>"$T/rb.err"
    local rc=$?
    if [ $rc -ne 2 ] || [ "$(grep -c "has problems" "$T/rb.err")" != 1 ]; then
        fail coord_run_until_done_stops "bad grid: exit $rc, $(grep -c "has problems" "$T/rb.err") run(s)"; return
    fi
    # Held by a live coordinator: this shell stands in for one.
    cp "$T/ref.db" "$T/held.db"
    sqlite3 "$T/held.db" "UPDATE phases SET status = 'queued';
        INSERT INTO coordinator VALUES (1, '$(uname -n)', $$, 'coord-test', 't',
                                        strftime('%s', 'now'), strftime('%s', 'now') + 600)"
    timeout -k 5 120 "$Q" run-until-done "$T/grid.json" --db "$T/held.db" --retries 5 -- -n 1 \
        >/dev/null 2>"$T/rh.err"
    rc=$?
    if [ $rc -ne 2 ] || [ "$(grep -c "in use by another coordinator" "$T/rh.err")" != 1 ]; then
        fail coord_run_until_done_stops "held database: exit $rc: $(tail -2 "$T/rh.err")"; return
    fi
    pass coord_run_until_done_stops
}

run_cases ${QS_CASES:-coord_reference coord_lock_named coord_second_refused coord_stale_takeover coord_full_disk coord_sigterm \
    coord_killed_worker coord_run_until_done coord_run_until_done_stops}
