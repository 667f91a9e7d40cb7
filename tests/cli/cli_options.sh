#!/usr/bin/env bash
# One option parser for every command: --help (exit 0, stdout, every option
# the command takes) and --version on each command and at the top level;
# unknown options, missing values and stray arguments exit 2 with a message
# naming them; "--opt=value" equals "--opt value"; bare `qsweep info` says
# what to give instead of describing a default model.
. "$(dirname "$0")/lib.sh"

CMDS="train bench info export expand status serve report run-until-done checkpoint"

help_everywhere() {
    local c bad=""
    for c in $CMDS; do
        qrun "help-$c" 30 "$c" --help
        if [ "$RC" -ne 0 ] || ! grep -q "^usage: qsweep $c" "$T/help-$c.out" ||
           ! grep -q -- '--version' "$T/help-$c.out" || [ -s "$T/help-$c.err" ]; then
            bad="$bad $c(rc $RC)"
        fi
    done
    qrun help-sweep 30 sweeps/demo.json --help
    [ "$RC" -eq 0 ] && grep -q '^usage: qsweep GRID.json' "$T/help-sweep.out" || bad="$bad GRID.json"
    qrun help-top 30 --help
    [ "$RC" -eq 0 ] && grep -q 'checkpoint get' "$T/help-top.out" || bad="$bad top"
    if [ -z "$bad" ]; then pass help_everywhere; else fail help_everywhere "bad:$bad"; fi
}

version_everywhere() {
    local c bad="" want
    qrun version-top 30 --version
    want=$(head -1 "$T/version-top.out")
    case $want in "qsweep: "*) ;; *) fail version_everywhere "top: '$want'"; return ;; esac
    for c in $CMDS; do
        qrun "version-$c" 30 "$c" --version
        [ "$RC" -eq 0 ] && [ "$(head -1 "$T/version-$c.out")" = "$want" ] || bad="$bad $c"
    done
    qrun version-sweep 30 sweeps/demo.json --version
    [ "$RC" -eq 0 ] && [ "$(head -1 "$T/version-sweep.out")" = "$want" ] || bad="$bad GRID.json"
    if [ -z "$bad" ]; then pass version_everywhere; else fail version_everywhere "bad:$bad"; fi
}

# Every --option a command's help names is one it accepts: the help and the
# parser cannot drift apart (a name missing from the table would be
# "unknown option" here).
help_lists_what_parses() {
    local c o bad=""
    for c in export expand status serve report run-until-done checkpoint; do
        for o in $(grep -oE -- '--[a-z][a-z-]+' "$T/help-$c.out" | sort -u); do
            case $o in --help | --version) continue ;; esac
            # In $T, where there is no results.db: nothing starts serving or training.
            (cd "$T" && timeout -k 5 30 "$Q" "$c" "$o" >"$T/opt.out" 2>"$T/opt.err" </dev/null)
            if grep -q "unknown option \"$o\"" "$T/opt.err"; then bad="$bad $c:$o"; fi
        done
    done
    if [ -z "$bad" ]; then pass help_lists_what_parses
    else fail help_lists_what_parses "listed in help but refused:$bad"; fi
}

# train, bench and info read the job spec's flags (worker/job/jobspec.def):
# train's help names every one of them, and bench's every bench-only flag.
train_help_complete() {
    local k miss=""
    for k in $(sed -nE 's/^QS_JOB_SETTING\([A-Z0-9_]+, "([a-z0-9_]+)".*/\1/p' worker/job/jobspec.def | tr _ -); do
        grep -q -- "--$k\b" "$T/help-train.out" || miss="$miss --$k"
    done
    for k in --steps --reps --batch --threads; do
        grep -q -- "$k\b" "$T/help-bench.out" || miss="$miss bench:$k"
    done
    if [ -z "$miss" ] && [ -n "$(sed -n '/QS_JOB_SETTING(/p' worker/job/jobspec.def)" ]; then
        pass train_help_complete
    else
        fail train_help_complete "missing from the help:$miss"
    fi
}

usage_errors() {
    expect_usage info_bare 'qsweep info: which model\? give --model resnet\|fcdnn' info
    expect_usage info_unknown 'qsweep info: unknown option "--bogus"' info --model resnet --bogus 1
    expect_usage status_unknown 'qsweep status: unknown option "--bogus" \(qsweep status --help' \
        status --bogus
    expect_usage status_missing_value 'qsweep status: --db needs a value \(FILE\)' status --db
    expect_usage status_value_is_option 'qsweep status: --db needs a value' status --db --json
    expect_usage status_stray 'qsweep status: unexpected argument "extra"' status extra
    expect_usage switch_with_value 'qsweep status: --json takes no value' status --json=1
    expect_usage report_no_kind 'qsweep report: which report\? \(allowed: table5, table4, table1, best, pivot, pareto\)' report
    expect_usage report_bad_kind 'qsweep report: unknown report "tabel5"' report tabel5
    expect_usage report_bad_format 'qsweep report: --format "html" \(allowed: text, markdown, csv\)' \
        report table5 --format html
    expect_usage report_table1_foreign_option 'qsweep report: --bits is an option of report best, not of table1' \
        report table1 --bits W2A2
    expect_usage report_foreign_option 'qsweep report: --budget is an option of report best, not of pivot' \
        report pivot --budget 1e6
    expect_usage expand_no_grid 'qsweep expand: give the grid file' expand
    expect_usage export_missing 'qsweep export: --from CK and --out FILE are required' export --from x
    expect_usage serve_bad_port 'qsweep serve: --port' serve --port 70000
    expect_usage rerun_bad_retries 'qsweep run-until-done: --retries' run-until-done g.json --retries x
    expect_usage checkpoint_no_action 'qsweep checkpoint: give an action \(allowed: get\)' checkpoint
    expect_usage checkpoint_bad_action 'qsweep checkpoint: unknown action "put"' checkpoint put
    expect_usage bench_bad 'qsweep bench: unknown option "--bogus"' bench --bogus 1
    expect_usage train_bad 'qsweep train: unknown option "--bogus"' train --bogus 1
}

# "--db=FILE" reads the same file as "--db FILE".
equals_form() {
    local a b
    if ! command -v sqlite3 >/dev/null; then pass "equals_form (no sqlite3 CLI: skipped)"; return; fi
    sqlite3 "$T/e.db" <sql/schema.sql >/dev/null &&
        sqlite3 "$T/e.db" "INSERT INTO meta VALUES ('schema_version', '1'), ('application', 'qsweep');
                           INSERT INTO sweeps(id, name, grid) VALUES (1, 'only', '{}')" ||
        { fail equals_form "could not build the database"; return; }
    a=$("$Q" status --db "$T/e.db" --json 2>&1) && b=$("$Q" status --db="$T/e.db" --json 2>&1)
    if [ -n "$a" ] && [ "$a" = "$b" ] && echo "$a" | grep -q '"sweep":"only"'; then pass equals_form
    else fail equals_form "'$a' vs '$b'"; fi
}

# info prints the model asked for, and --help is help, not a value.
info_model() {
    qrun info_help 30 info --help
    if [ "$RC" -ne 0 ] || ! grep -q -- '--model is required' "$T/info_help.out"; then
        fail info_model "info --help: $(why info_help)"; return
    fi
    qrun info_ok 30 info --model resnet --depth 8 --width 4
    if [ "$RC" -eq 0 ] && [ "$(jget "$T/info_ok.out" model)" = resnet-basic-8-4 ]; then pass info_model
    else fail info_model "$(why info_ok) $(cat "$T/info_ok.out")"; fi
}

# QSWEEP_WINOGRAD: 0 or 1 (the conv algorithm, docs/kernels.md), shown by
# version and bench; anything else is refused before anything runs.
winograd_env() {
    QSWEEP_WINOGRAD=2 expect_usage winograd_bad 'QSWEEP_WINOGRAD=2: 0 .* or 1' version || return
    QSWEEP_WINOGRAD=0 qrun wg_off 30 version
    local off on
    off=$(sed -n 's/^winograd: //p' "$T/wg_off.out")
    qrun wg_on 30 version
    on=$(sed -n 's/^winograd: //p' "$T/wg_on.out")
    QSWEEP_WINOGRAD=0 qrun wg_bench 60 bench --model resnet --depth 8 --width 8 --steps 1 --batch 4
    if [ "$off/$on" = off/on ] && [ "$(jget "$T/wg_bench.out" winograd)" = 0 ]; then pass winograd_env
    else fail winograd_env "version: '$off' '$on'; bench: $(why wg_bench) $(cat "$T/wg_bench.out")"; fi
}

run_cases help_everywhere version_everywhere help_lists_what_parses train_help_complete usage_errors equals_form info_model winograd_env
