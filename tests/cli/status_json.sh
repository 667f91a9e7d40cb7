#!/usr/bin/env bash
# `qsweep status --sweep NAME` and `--json`: one JSON object per sweep with
# the counts, images/s and points/s (synthetic data) kept apart, the ETA
# and the failed phases (tests/cli/grid_status.sh fills them); an unknown sweep exits 2; a gone coordinator's rows are interrupted.
. "$(dirname "$0")/lib.sh"

if ! command -v sqlite3 >/dev/null; then
    echo "PASS status_json (no sqlite3 CLI: skipped)"; exit 0
fi

# Sweep "t" (its coordinator's claim: $2 pid, $3 heartbeat age): 2 done
# (10 s for 100 GFLOP each), a synthetic phase running at 150000 points/s
# (5 of 10 epochs), a Fashion-MNIST one at 120 img/s (2 of 10), 1 queued.
# Left: 100 + 50 + 80 = 230 GFLOP at 10 GFLOP/s x 2 running = 11.5 s.
# Sweep "old": finished.
make_db() {
    local pid=${2:-$$} age=${3:-0}
    sqlite3 "$1" <sql/schema.sql >/dev/null &&
    sqlite3 "$1" "INSERT INTO coordinator(id, host, pid, sweep, token, since, heartbeat)
                  VALUES (1, '$(uname -n)', $pid, 't', 'x', 1000, strftime('%s', 'now') - $age)" &&
    sqlite3 "$1" <<'SQL'
INSERT INTO meta VALUES ('schema_version', '1'), ('application', 'qsweep');
INSERT INTO sweeps(id, name, grid, started, finished) VALUES (1, 't', '{}', 1000, NULL),
                                                             (2, 'old', '{}', 500, 900);
INSERT INTO phases(id, phase, config, model, dataset, arch, block, depth, width, params, wbits,
                   abits, seed, threads, epochs, gflop, status, seconds, finished, epochs_done)
VALUES ('a', 'float', '{}', 'fcdnn-8-4', 'synthetic', 'fcdnn', NULL, 4, 8, 300, 32, 32, 1, 1, 10,
        100, 'done', 10, 2000, 10),
       ('b', 'float', '{}', 'resnet-basic-8-4', 'fashion-mnist', 'resnet', 'basic', 8, 4, 5000,
        32, 32, 1, 1, 10, 100, 'done', 10, 2001, 10),
       ('c', 'retrain', '{}', 'fcdnn-8-4', 'synthetic', 'fcdnn', NULL, 4, 8, 300, 2, 2, 1, 1, 10,
        100, 'running', NULL, NULL, 5),
       ('d', 'retrain', '{}', 'resnet-basic-8-4', 'fashion-mnist', 'resnet', 'basic', 8, 4, 5000,
        2, 2, 1, 1, 10, 100, 'running', NULL, NULL, 2),
       ('e', 'retrain', '{}', 'resnet-basic-8-4', 'fashion-mnist', 'resnet', 'basic', 8, 4, 5000,
        2, 32, 1, 1, 10, 100, 'queued', NULL, NULL, 0),
       ('z', 'float', '{}', 'fcdnn-8-4', 'synthetic', 'fcdnn', NULL, 4, 8, 300, 32, 32, 2, 1, 10,
        100, 'done', 10, 800, 10);
INSERT INTO sweep_phases VALUES (1, 'a'), (1, 'b'), (1, 'c'), (1, 'd'), (1, 'e'), (2, 'z');
INSERT INTO epochs(phase_id, epoch, img_per_s) VALUES ('c', 4, 90000), ('c', 5, 150000),
                                                      ('d', 1, 80), ('d', 2, 120);
SQL
}

make_db "$T/s.db" || { echo "FAIL status_json_db: could not build the database"; exit 0; }

rates_apart() {
    qrun rates 30 status --db "$T/s.db" --sweep t
    if [ "$RC" -eq 0 ] &&
       [ "$(cat "$T/rates.out")" = "t: 2/5 done, 2 running, 0 failed, 1 queued; 120.0 img/s; 150000 points/s; ETA 12s" ]; then
        pass rates_apart
    else
        fail rates_apart "$(why rates): $(cat "$T/rates.out")"
    fi
}

json_lines_per_sweep() {
    qrun json 30 status --db "$T/s.db" --json
    local want1='{"sweep":"t","state":"running","total":5,"done":2,"running":2,"interrupted":0,"failed":0,"queued":1,"img_per_s":120,"points_per_s":150000,"eta_s":11.5,"failed_phases":[]}'
    local want2='{"sweep":"old","state":"finished","total":1,"done":1,"running":0,"interrupted":0,"failed":0,"queued":0,"img_per_s":null,"points_per_s":null,"eta_s":0,"failed_phases":[]}'
    if [ "$RC" -ne 0 ]; then fail json_lines_per_sweep "$(why json)"; return; fi
    if [ "$(sed -n 1p "$T/json.out")" != "$want1" ] || [ "$(sed -n 2p "$T/json.out")" != "$want2" ] ||
       [ "$(wc -l <"$T/json.out")" != 2 ]; then
        fail json_lines_per_sweep "got: $(cat "$T/json.out")"; return
    fi
    qrun json_one 30 status --db "$T/s.db" --json --sweep old
    if [ "$RC" -eq 0 ] && [ "$(cat "$T/json_one.out")" = "$want2" ]; then pass json_lines_per_sweep
    else fail json_lines_per_sweep "--sweep old: $(cat "$T/json_one.out")"; fi
}

unknown_sweep() {
    expect_usage status_unknown_sweep 'qsweep status: .*s.db has no sweep named "nope"' \
        status --db "$T/s.db" --sweep nope
}

# The coordinator is gone (no such pid, heartbeat an hour old): nothing runs,
# so no rate and no ETA; the rows still 'running' are counted interrupted.
interrupted_json() {
    make_db "$T/gone.db" 999999999 3600 || { fail interrupted_json "could not build the database"; return; }
    qrun gone 30 status --db "$T/gone.db" --json --sweep t
    local want='{"sweep":"t","state":"interrupted","total":5,"done":2,"running":0,"interrupted":2,"failed":0,"queued":1,"img_per_s":null,"points_per_s":null,"eta_s":null,"failed_phases":[]}'
    if [ "$RC" -eq 0 ] && [ "$(cat "$T/gone.out")" = "$want" ]; then pass interrupted_json
    else fail interrupted_json "$(why gone): $(cat "$T/gone.out")"; fi
}

run_cases rates_apart json_lines_per_sweep unknown_sweep interrupted_json
