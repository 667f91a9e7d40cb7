#!/usr/bin/env bash
# `qsweep checkpoint get --db F --phase ID --out FILE`: the stored bytes of a
# phase's checkpoint, byte for byte, usable by `qsweep export --from`; by id
# or unique prefix; exit 2 with a message for an unknown, ambiguous or
# checkpoint-less phase and for an --out that is a directory.
. "$(dirname "$0")/lib.sh"

if ! command -v sqlite3 >/dev/null; then
    echo "PASS checkpoint_get (no sqlite3 CLI: skipped)"; exit 0
fi

FC="--model fcdnn --depth 4 --width 8 --data synthetic --epochs 1"
qrun ck_float 120 train $FC --save "$T/float.ck"
qrun ck_retrain 120 train $FC --phase retrain --from "$T/float.ck" --wbits 2 --abits 2 --save "$T/retrain.ck"
if [ "$RC" -ne 0 ] || [ ! -s "$T/retrain.ck" ]; then
    echo "FAIL checkpoint_get_setup: training the checkpoints: $(why ck_retrain)"; exit 0
fi

DB=$T/c.db
{
    cat sql/schema.sql
    cat <<SQL
INSERT INTO meta VALUES ('schema_version', '1'), ('application', 'qsweep');
INSERT INTO sweeps(id, name, grid) VALUES (1, 's', '{}');
INSERT INTO phases(id, parent_id, phase, config, model, dataset, arch, depth, width, params,
                   wbits, abits, seed, threads, epochs, status)
VALUES ('aa11', NULL, 'float', '{}', 'fcdnn-8-4', 'synthetic', 'fcdnn', 4, 8, 300, 32, 32, 1, 1, 1, 'done'),
       ('bb22', 'aa11', 'retrain', '{}', 'fcdnn-8-4', 'synthetic', 'fcdnn', 4, 8, 300, 2, 2, 1, 1, 1, 'done'),
       ('bb33', 'aa11', 'retrain', '{}', 'fcdnn-8-4', 'synthetic', 'fcdnn', 4, 8, 300, 2, 32, 1, 1, 1, 'queued');
INSERT INTO sweep_phases SELECT 1, id FROM phases;
INSERT INTO checkpoints(phase_id, epoch, final, bytes, data)
VALUES ('aa11', 1, 1, length(readfile('$T/float.ck')), readfile('$T/float.ck')),
       ('bb22', 1, 1, length(readfile('$T/retrain.ck')), readfile('$T/retrain.ck'));
SQL
} | sqlite3 "$DB" >/dev/null 2>"$T/sqlite.err" || {
    echo "FAIL checkpoint_get_db: building the database: $(head -c 300 "$T/sqlite.err")"; exit 0
}

get_by_id() {
    qrun get_id 60 checkpoint get --db "$DB" --phase bb22 --out "$T/got.ck"
    if [ "$RC" -ne 0 ]; then fail get_by_id "$(why get_id)"; return; fi
    if ! cmp -s "$T/got.ck" "$T/retrain.ck"; then fail get_by_id "bytes differ from the stored checkpoint"; return; fi
    if [ "$(cat "$T/get_id.out")" != "{\"phase_id\":\"bb22\",\"status\":\"done\",\"epoch\":1,\"final\":true,\"bytes\":$(wc -c <"$T/retrain.ck"),\"out\":\"$T/got.ck\"}" ]; then
        fail get_by_id "summary: $(cat "$T/get_id.out")"; return
    fi
    # what a user does next with it
    qrun get_export 60 export --from "$T/got.ck" --out "$T/got.json"
    if [ "$RC" -ne 0 ] || [ "$(jget "$T/get_export.out" wbits)" != 2 ]; then
        fail get_by_id "export of the checkpoint: $(why get_export)"; return
    fi
    pass get_by_id
}

get_by_prefix() {
    qrun get_prefix 60 checkpoint get --db "$DB" --phase aa --out "$T/p.ck"
    if [ "$RC" -eq 0 ] && cmp -s "$T/p.ck" "$T/float.ck"; then pass get_by_prefix
    else fail get_by_prefix "$(why get_prefix)"; fi
}

get_errors() {
    expect_usage ck_unknown "qsweep checkpoint: --phase zz: no phase with this id in .*c.db" \
        checkpoint get --db "$DB" --phase zz --out "$T/x.ck"
    expect_usage ck_ambiguous "qsweep checkpoint: --phase bb: several phases start so in .*c.db; give more of the id" \
        checkpoint get --db "$DB" --phase bb --out "$T/x.ck"
    expect_usage ck_none "qsweep checkpoint: --phase bb33: phase bb33 \(queued\) has no checkpoint in .*c.db: it has not started" \
        checkpoint get --db "$DB" --phase bb33 --out "$T/x.ck"
    mkdir -p "$T/dir.ck"
    expect_usage ck_out_dir "qsweep checkpoint: --out .*dir.ck: is a directory" \
        checkpoint get --db "$DB" --phase bb22 --out "$T/dir.ck"
    expect_usage ck_no_db "qsweep checkpoint: .*missing.db" \
        checkpoint get --db "$T/missing.db" --phase bb22 --out "$T/x.ck"
    expect_usage ck_no_out "--phase ID and --out FILE are required" checkpoint get --db "$DB" --phase bb22
    if [ -e "$T/x.ck" ] || [ -e "$T/x.ck.tmp" ]; then fail ck_nothing_written "an output file was left"
    else pass ck_nothing_written; fi
}

run_cases get_by_id get_by_prefix get_errors
