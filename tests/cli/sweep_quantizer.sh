#!/usr/bin/env bash
# The quantizer axis end to end: a tiny real sweep (synthetic FCDNNs, real
# SQLite, mpirun -n 3 = the coordinator and 2 worker ranks) crossing
# hwang-pact and lsq+: the phase ids (Hwang-PACT ones as without the axis,
# one float parent for both), the runs rows and their quantizer column,
# reuse of an earlier Hwang-PACT-only run, a kill -9 and resume equal to
# the uninterrupted run, the API's quantizer filter and the report pivot.
. "$(dirname "$0")/lib.sh"

grid() { # NAME QUANTIZER_AXIS_JSON (empty: no axis)
    cat <<G
{
  "name": "$1",
  "dataset": {"name": "synthetic", "train_limit": 20000, "test_limit": 2000},
  "axes": {"arch": "fcdnn", "width": 16, "depth": [3, 4],
           "wbits": [32, 2], "abits": [32, 2], "clr": [false, true]${2:+, \"quantizer\": $2}},
  "exclude": [{"wbits": 2, "abits": 32}, {"wbits": 32, "abits": 2}],
  "quant": {"lsq_winit": "mean"},
  "float": {"epochs": 30}, "retrain": {"epochs": 12}, "clr": {"epochs": 6, "period": 2}
}
G
}
grid qsw '["hwang-pact", "lsq+"]' >"$T/both.json"
grid qsw '' >"$T/hp.json"

# The comparable part of a result: everything but timings and attempts.
rows() {
    sqlite3 "$1" "SELECT phase_id, parent_id, phase, quantizer, status, wbits, abits, clr,
                  epochs_done, printf('%.6f', test_acc), printf('%.9f', test_loss),
                  printf('%.9f', train_loss), COALESCE(error, '') FROM runs ORDER BY phase_id"
    sqlite3 "$1" "SELECT phase_id, epoch, printf('%.9f', train_loss), printf('%.6f', test_acc)
                  FROM epochs ORDER BY phase_id, epoch"
}

quantizer_phase_ids() {
    if ! "$Q" expand "$T/both.json" --job-json >"$T/both.ids" 2>"$T/e1" ||
        ! "$Q" expand "$T/hp.json" --job-json >"$T/hp.ids" 2>"$T/e2"; then
        fail quantizer_phase_ids "expand: $(cat "$T/e1" "$T/e2" | head -3)"; return
    fi
    local nb nh nl missing
    nb=$(wc -l <"$T/both.ids"); nh=$(wc -l <"$T/hp.ids")
    nl=$(grep -c '"quantizer":"lsq+"' "$T/both.ids")
    # Every phase of the grid without the axis, byte for byte, is a phase of
    # the grid with it; the rest are the lsq+ retrains and clrs (no float).
    missing=$(sort "$T/hp.ids" | comm -23 - <(sort "$T/both.ids") | wc -l)
    if [ "$nh" != 6 ] || [ "$nb" != 10 ] || [ "$nl" != 4 ] || [ "$missing" != 0 ]; then
        fail quantizer_phase_ids "phases: $nh without the axis, $nb with ($nl lsq+), $missing of the first missing"; return
    fi
    if grep '"quantizer":"lsq+"' "$T/both.ids" | grep -q '"phase":"float"' ||
        ! grep '"quantizer":"lsq+"' "$T/both.ids" | grep -q '"lsq_winit":"mean"' ||
        grep -v '"quantizer":"lsq+"' "$T/both.ids" | grep -q 'lsq_'; then
        fail quantizer_phase_ids "lsq+ keys in the wrong job JSON: $(grep lsq "$T/both.ids" | head -2)"; return
    fi
    pass "quantizer_phase_ids ($nb phases, the $nh Hwang-PACT ones unchanged)"
}

quantizer_sweep_rows() {
    if ! timeout -k 5 600 mpirun -n 3 "$Q" "$T/both.json" --db "$T/ref.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/ref.err"; then
        fail quantizer_sweep_rows "sweep failed: $(tail -3 "$T/ref.err")"; return
    fi
    local got
    got=$(sqlite3 "$T/ref.db" "SELECT group_concat(q || ':' || n, ' ') FROM (SELECT quantizer || '/' ||
          phase AS q, COUNT(*) AS n FROM runs WHERE status = 'done' GROUP BY 1 ORDER BY 1)")
    if [ "$got" != "hwang-pact/clr:2 hwang-pact/retrain:2 lsq+/clr:2 lsq+/retrain:2 none/float:2" ]; then
        fail quantizer_sweep_rows "done phases by quantizer: $got"; return
    fi
    # Each lsq+ retrain hangs off the float phase its Hwang-PACT twin does,
    # each lsq+ clr off an lsq+ retrain; and the two quantizers train apart.
    local bad
    bad=$(sqlite3 "$T/ref.db" "SELECT COUNT(*) FROM runs r JOIN runs p ON p.phase_id = r.parent_id
          WHERE r.quantizer = 'lsq+' AND NOT ((r.phase = 'retrain' AND p.phase = 'float' AND EXISTS
          (SELECT 1 FROM runs h WHERE h.quantizer = 'hwang-pact' AND h.phase = 'retrain'
           AND h.parent_id = p.phase_id)) OR (r.phase = 'clr' AND p.quantizer = 'lsq+'))")
    local same
    same=$(sqlite3 "$T/ref.db" "SELECT COUNT(*) FROM runs l JOIN runs h ON h.parent_id = l.parent_id
           WHERE l.quantizer = 'lsq+' AND h.quantizer = 'hwang-pact' AND l.phase = 'retrain'
           AND h.phase = 'retrain' AND l.train_loss = h.train_loss")
    if [ "$bad" != 0 ] || [ "$same" != 0 ]; then
        fail quantizer_sweep_rows "$bad lsq+ phases with the wrong parent, $same lsq+ retrains equal to Hwang-PACT"; return
    fi
    pass quantizer_sweep_rows
}

# A Hwang-PACT-only run first, then the grid with the axis on the same
# database: the done phases are kept (no new attempt), only lsq+ runs, and
# the results equal the one-go run's.
quantizer_sweep_reuse() {
    if ! timeout -k 5 600 mpirun -n 3 "$Q" "$T/hp.json" --db "$T/reuse.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/r1.err"; then
        fail quantizer_sweep_reuse "first sweep failed: $(tail -3 "$T/r1.err")"; return
    fi
    local before after
    before=$(sqlite3 "$T/reuse.db" "SELECT COUNT(*) || '/' || SUM(attempts) FROM phases")
    if ! timeout -k 5 600 mpirun -n 3 "$Q" "$T/both.json" --db "$T/reuse.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/r2.err"; then
        fail quantizer_sweep_reuse "second sweep failed: $(tail -3 "$T/r2.err")"; return
    fi
    after=$(sqlite3 "$T/reuse.db" "SELECT COUNT(*) || '/' || SUM(attempts) FROM phases
            WHERE json_extract(config, '$.quantizer') IS NULL")
    if [ "$before" != "6/6" ] || [ "$after" != "$before" ]; then
        fail quantizer_sweep_reuse "Hwang-PACT phases/attempts $before, after the axis run $after"; return
    fi
    if ! diff <(rows "$T/ref.db") <(rows "$T/reuse.db") >"$T/diff"; then
        fail quantizer_sweep_reuse "results differ from the one-go run: $(head -4 "$T/diff")"; return
    fi
    pass quantizer_sweep_reuse
}

# Killed while an lsq+ phase runs with a checkpoint (its steps and offsets
# in it), then resumed: every result as in the uninterrupted run.
quantizer_sweep_kill9_resume() {
    setsid mpirun -n 3 "$Q" "$T/both.json" --db "$T/kill.db" --ckpt-interval 0 \
        >/dev/null 2>"$T/kill.err" &
    local pid=$!
    if ! wait_for "$T/kill.db" "SELECT EXISTS (SELECT 1 FROM checkpoints c JOIN runs r
            ON r.phase_id = c.phase_id WHERE r.status = 'running' AND r.quantizer = 'lsq+'
            AND c.final = 0)"; then
        kill -9 -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        fail quantizer_sweep_kill9_resume "never saw a running lsq+ phase with a checkpoint"; return
    fi
    kill -9 -- -"$pid"
    wait "$pid" 2>/dev/null
    local resumed
    resumed=$(sqlite3 "$T/kill.db" "SELECT COUNT(*) FROM runs r JOIN checkpoints c ON
              c.phase_id = r.phase_id WHERE r.status = 'running' AND c.final = 0 AND c.epoch > 0")
    if ! timeout -k 5 600 mpirun -n 3 "$Q" "$T/both.json" --db "$T/kill.db" --ckpt-interval 0 \
        --lock-wait 60 >/dev/null 2>"$T/kill2.err"; then
        fail quantizer_sweep_kill9_resume "rerun failed: $(tail -3 "$T/kill2.err")"; return
    fi
    if ! diff <(rows "$T/ref.db") <(rows "$T/kill.db") >"$T/diff"; then
        fail quantizer_sweep_kill9_resume "results differ from the uninterrupted run: $(head -4 "$T/diff")"; return
    fi
    pass "quantizer_sweep_kill9_resume ($resumed phase(s) resumed from a checkpoint)"
}

# serve DB: qsweep serve on a free port in the background; SRV its pid,
# URL its address (empty when it never printed one).
serve() {
    "$Q" serve --db "$1" --port 0 --web "$PWD/web" >"$T/serve.out" 2>"$T/serve.err" &
    SRV=$!
    URL=""
    QS_BG_PIDS="$QS_BG_PIDS $SRV"
    local i
    for i in $(seq 1 300); do
        URL=$(sed -n 's/^qsweep serve: \(http:\/\/127\.0\.0\.1:[0-9]*\/\)$/\1/p' "$T/serve.out")
        [ -n "$URL" ] && break
        sleep 0.1
    done
}

quantizer_api_filter() {
    serve "$T/ref.db"
    local srv=$SRV url=$URL
    if [ -z "$url" ]; then fail quantizer_api_filter "no URL: $(head -c 200 "$T/serve.err")"; return; fi
    local n_l n_h code rows_q
    curl -s "${url}api/runs?quantizer=lsq%2B" >"$T/l.json"
    curl -s "${url}api/runs?quantizer=hwang-pact&phase=retrain" >"$T/h.json"
    code=$(curl -s -o "$T/bad.json" -w '%{http_code}' "${url}api/runs?quantizer=lsq")
    kill "$srv"; wait "$srv" 2>/dev/null
    n_l=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$T/l.json" 2>&1)
    rows_q=$("$PY" -c 'import json,sys; print(",".join(sorted({r["quantizer"] for r in json.load(open(sys.argv[1]))["rows"]})))' "$T/l.json" 2>&1)
    n_h=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$T/h.json" 2>&1)
    if [ "$n_l" != 4 ] || [ "$rows_q" != "lsq+" ] || [ "$n_h" != 2 ] || [ "$code" != 400 ] ||
        ! grep -q quantizer "$T/bad.json"; then
        fail quantizer_api_filter "lsq+ total $n_l ($rows_q), hwang-pact retrains $n_h, bad value HTTP $code $(head -c 200 "$T/bad.json")"; return
    fi
    pass quantizer_api_filter
}

# The charts keep the quantizers apart: at one W/A setting a Hwang-PACT and
# an LSQ+ retrain are two lines ("W2A2", "W2A2[lsq+]"), never two seeds of
# one; Pareto points and the pareto report likewise; the Lipschitz / CLR
# effect chart is the paper's (Hwang-PACT) only.
quantizer_charts() {
    serve "$T/ref.db"
    local srv=$SRV url=$URL out
    if [ -z "$url" ]; then fail quantizer_charts "no URL: $(head -c 200 "$T/serve.err")"; return; fi
    curl -s "${url}api/depth" >"$T/depth.json"
    curl -s "${url}api/pareto" >"$T/pareto.json"
    curl -s "${url}api/effect?block=fcdnn&wbits=2&abits=2" >"$T/effect.json"
    kill "$srv"; wait "$srv" 2>/dev/null
    sqlite3 "$T/ref.db" "SELECT depth || ' ' || quantizer || ' ' || printf('%.4f', test_acc) FROM runs
                         WHERE phase = 'retrain' ORDER BY depth, quantizer" >"$T/want"
    out=$("$PY" - "$T/depth.json" "$T/pareto.json" "$T/effect.json" "$T/want" 2>&1 <<'P'
import json, sys
d, p, e = (json.load(open(f)) for f in sys.argv[1:4])
want = sorted(l.split() for l in open(sys.argv[4]))
lab = {'hwang-pact': 'W2A2', 'lsq+': 'W2A2[lsq+]'}
got = sorted([str(g['depth']), g['quantizer'], '%.4f' % g['mean']] for g in d['groups']
             if g['setting'] != 'float')
ok = got == want and all(g['n'] == 1 and g['setting'] == lab[g['quantizer']]
                         for g in d['groups'] if g['setting'] != 'float')
pts = sorted(pt['setting'] for pt in p['points'] if pt['setting'] != 'float')
ok = ok and pts == ['W2A2', 'W2A2', 'W2A2[lsq+]', 'W2A2[lsq+]']
eff = [g for g in e['groups'] if g['variant'] == 'retrain']
ok = ok and len(eff) == 2 and all(g['n'] == 1 for g in eff)
print('ok' if ok else 'depth %s want %s; pareto %s; effect retrain groups %s' % (
    got, want, pts, [(g['depth'], g['n']) for g in eff]))
P
)
    if [ "$out" != ok ]; then fail quantizer_charts "$out"; return; fi
    out=$("$Q" report pareto --db "$T/ref.db" --format csv 2>&1 | grep -c ',W2A2\[lsq+\],')
    if [ "$out" != 2 ]; then fail quantizer_charts "report pareto: $out W2A2[lsq+] points, want 2"; return; fi
    pass quantizer_charts
}

quantizer_report_pivot() {
    local out cols got want
    out=$("$Q" report pivot --db "$T/ref.db" --format csv 2>&1) || { fail quantizer_report_pivot "exit $?: $out"; return; }
    cols=$(echo "$out" | head -1 | tr ',' '\n' | grep -v '_std$\|_n$' | tr '\n' ' ')
    # each quantizer's column follows the paper's of the same setting
    if [ "$cols" != "model float W2A2 W2A2[lsq+] W2A2+clr W2A2+clr[lsq+] dataset " ]; then
        fail quantizer_report_pivot "columns: '$cols'"; return
    fi
    got=$(echo "$out" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "W2A2[lsq+]") c = i }
                                 $1 == "fcdnn-16-4" { print $c }')
    want=$(sqlite3 "$T/ref.db" "SELECT printf('%.2f', test_acc) FROM runs WHERE model = 'fcdnn-16-4'
           AND phase = 'retrain' AND quantizer = 'lsq+'")
    if [ -z "$got" ] || [ "$got" != "$want" ]; then
        fail quantizer_report_pivot "fcdnn-16-4 W2A2[lsq+] cell '$got', want '$want'"; return
    fi
    pass quantizer_report_pivot
}

# Table 5 cells count Hwang-PACT phases only: an lsq+ twin (accuracy 0)
# of every quantized phase of the verdict database changes no byte of
# the report. `report best` competes the quantizer asked for.
quantizer_tables_and_best() {
    local db=$T/verdict.db a b
    if ! cat sql/schema.sql tests/verdict_db.sql | sqlite3 "$db" >/dev/null 2>"$T/sq.err"; then
        fail quantizer_tables_and_best "verdict database: $(head -c 200 "$T/sq.err")"; return
    fi
    a=$("$Q" report table5 --db "$db" --sweep verdict --format csv 2>&1)
    sqlite3 "$db" "INSERT INTO phases(id, phase, config, model, dataset, arch, block, depth, width,
        params, wbits, abits, regularizer, clr, seed, threads, epochs, status, epochs_done, test_acc)
        SELECT 'l' || substr(id, 2), phase, '{\"quantizer\":\"lsq+\"}', model, dataset, arch, block,
        depth, width, params, wbits, abits, regularizer, clr, seed, threads, epochs, status,
        epochs_done, 0 FROM phases WHERE phase <> 'float';
        INSERT INTO sweep_phases(sweep_id, phase_id) SELECT sp.sweep_id, 'l' || substr(sp.phase_id, 2)
        FROM sweep_phases sp JOIN phases p ON p.id = sp.phase_id WHERE p.phase <> 'float'"
    b=$("$Q" report table5 --db "$db" --sweep verdict --format csv 2>&1)
    local n
    n=$(sqlite3 "$db" "SELECT COUNT(*) FROM runs WHERE quantizer = 'lsq+'")
    if [ "${n:-0}" -lt 10 ] || [ "$a" != "$b" ]; then
        fail quantizer_tables_and_best "$n lsq+ rows; table5 changed: $(diff <(echo "$a") <(echo "$b") | head -3)"; return
    fi
    local q want got
    for q in hwang-pact lsq+; do
        want=$(sqlite3 "$T/ref.db" "SELECT printf('%.2f', MAX(test_acc)) FROM runs WHERE wbits = 2
               AND quantizer = '$q'")
        got=$("$Q" report best --db "$T/ref.db" --budget 1000 --tolerance 1 --bits w2a2 \
              --quantizer "$q" --format csv |
              awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "test_acc") c = i } NR == 2 { print $c }')
        if [ -z "$got" ] || [ "$got" != "$want" ]; then
            fail quantizer_tables_and_best "best at $q: '$got', want '$want'"; return
        fi
    done
    pass quantizer_tables_and_best
}

# A database whose runs view predates the quantizer column (its writer was
# an older qsweep): readers see the current view and the file is untouched.
quantizer_older_view() {
    cp "$T/ref.db" "$T/old.db"
    sqlite3 "$T/old.db" "DROP VIEW runs; CREATE VIEW runs AS SELECT s.name AS sweep, p.id AS phase_id,
        p.parent_id, p.phase, p.status, p.dataset, p.arch, p.block, p.depth, p.width, p.residual,
        p.model, p.params, p.wbits, p.abits, p.regularizer, p.clr, p.seed, p.threads, p.epochs,
        p.test_acc, p.test_loss, p.train_loss, p.train_acc, p.epochs_done, p.seconds, p.img_per_s,
        p.model_bits, p.bops, p.error, p.attempts, p.version, p.started, p.finished
        FROM sweep_phases sp JOIN sweeps s ON s.id = sp.sweep_id JOIN phases p ON p.id = sp.phase_id;
        PRAGMA wal_checkpoint(TRUNCATE)"
    local before after out
    before=$(sha256sum "$T/old.db" | cut -d' ' -f1)
    out=$("$Q" report pivot --db "$T/old.db" --format csv 2>&1)
    after=$(sha256sum "$T/old.db" | cut -d' ' -f1)
    if ! echo "$out" | head -1 | grep -q 'W2A2\[lsq+\]' || [ "$before" != "$after" ]; then
        fail quantizer_older_view "pivot: $(echo "$out" | head -2); file changed: $([ "$before" != "$after" ] && echo yes || echo no)"; return
    fi
    if sqlite3 "$T/old.db" "SELECT quantizer FROM runs" >/dev/null 2>&1; then
        fail quantizer_older_view "the file's own view gained the column"; return
    fi
    pass quantizer_older_view
}

run_cases quantizer_phase_ids quantizer_sweep_rows quantizer_sweep_reuse \
    quantizer_sweep_kill9_resume quantizer_api_filter quantizer_charts quantizer_report_pivot \
    quantizer_tables_and_best quantizer_older_view
