#!/usr/bin/env bash
# `qsweep report best|pivot|pareto|table5` on a database with known
# accuracies over three datasets: best ranks within a dataset and shows it;
# a one-seed cell has no std (text: no "±", CSV: empty); --bits takes the
# tables' spelling; pivot's columns follow the documented order; pareto
# marks the frontier per dataset on bits and on BOPs; an unknown --sweep
# exits 2; a Table 5 without cells says what is missing.
. "$(dirname "$0")/lib.sh"

if ! command -v sqlite3 >/dev/null; then
    echo "PASS report_cli (no sqlite3 CLI: skipped)"; exit 0
fi

# Sweep "mix": every phase; sweep "fm": the Fashion-MNIST ones.
#   fm basic-8-16   float 93.0 (1 seed, 2.56e6 bits, 4e9 BOPs);
#                   W2A2 Lipschitz + CLR 91.5 (1 seed, 1.6e5 bits, 4e7 BOPs)
#   fm basic-14-16  W2A2 90.0 / 92.0 (2 seeds, 2.8e5 bits, 3e7 BOPs)
#   fm preact-8-16  W2A2 89.5 (1 seed, 1.6e5 bits, 4e7 BOPs)
#   synthetic fcdnn-64-3  W2A2 99.0 (1.8e4 bits), float 99.5 (2.88e5 bits)
#   cifar10 basic-8-16    W2A2 80.0 (1.6e5 bits)
DB=$T/mix.db
{
    cat sql/schema.sql
    cat <<'SQL'
INSERT INTO meta VALUES ('schema_version', '1'), ('application', 'qsweep');
INSERT INTO sweeps(id, name, grid) VALUES (1, 'mix', '{}'), (2, 'fm', '{}');
INSERT INTO phases(id, phase, config, model, dataset, arch, block, depth, width, params,
                   wbits, abits, regularizer, clr, seed, threads, epochs, status, test_acc,
                   model_bits, bops)
VALUES
 ('f1', 'float',   '{}', 'resnet-basic-8-16',  'fashion-mnist', 'resnet', 'basic',  8, 16, 80000, 32, 32, 'none', 0, 1, 1, 1, 'done', 93.0, 2560000, 4e9),
 ('c1', 'clr',     '{}', 'resnet-basic-8-16',  'fashion-mnist', 'resnet', 'basic',  8, 16, 80000, 2, 2, 'lipschitz', 1, 1, 1, 1, 'done', 91.5, 160000, 4e7),
 ('b1', 'retrain', '{}', 'resnet-basic-14-16', 'fashion-mnist', 'resnet', 'basic', 14, 16, 140000, 2, 2, 'none', 0, 1, 1, 1, 'done', 90.0, 280000, 3e7),
 ('b2', 'retrain', '{}', 'resnet-basic-14-16', 'fashion-mnist', 'resnet', 'basic', 14, 16, 140000, 2, 2, 'none', 0, 2, 1, 1, 'done', 92.0, 280000, 3e7),
 ('p1', 'retrain', '{}', 'resnet-preact-8-16', 'fashion-mnist', 'resnet', 'preact', 8, 16, 80000, 2, 2, 'none', 0, 1, 1, 1, 'done', 89.5, 160000, 4e7),
 ('s1', 'retrain', '{}', 'fcdnn-64-3', 'synthetic', 'fcdnn', NULL, 3, 64, 9000, 2, 2, 'none', 0, 1, 1, 1, 'done', 99.0, 18000, 1e5),
 ('s0', 'float',   '{}', 'fcdnn-64-3', 'synthetic', 'fcdnn', NULL, 3, 64, 9000, 32, 32, 'none', 0, 1, 1, 1, 'done', 99.5, 288000, 1e8),
 ('k1', 'retrain', '{}', 'resnet-basic-8-16',  'cifar10', 'resnet', 'basic',  8, 16, 80000, 2, 2, 'none', 0, 1, 1, 1, 'done', 80.0, 160000, 4e7);
INSERT INTO sweep_phases SELECT 1, id FROM phases;
INSERT INTO sweep_phases SELECT 2, id FROM phases WHERE dataset = 'fashion-mnist';
SQL
} | sqlite3 "$DB" >/dev/null 2>"$T/sqlite.err" || {
    echo "FAIL report_cli_db: building the database: $(head -c 300 "$T/sqlite.err")"; exit 0
}

# run_report NAME ARGS...: qsweep report ARGS into $T/NAME.out; fails the
# case (returns 1) unless it exits 0.
run_report() {
    local name=$1
    shift
    qrun "$name" 60 report "$@" --db "$DB"
    [ "$RC" -eq 0 ] || { fail "$name" "$(why "$name")"; return 1; }
}

best_per_dataset() {
    run_report best_per_dataset best --bits W2A2 --budget 1e5 --tolerance 1 || return
    local o=$T/best_per_dataset.out
    # cifar10's basic row is its own ranking, not hidden under Fashion-MNIST's better one
    if ! grep -q '^ dataset cifar10:$' "$o" || ! grep -q '^ dataset fashion-mnist:$' "$o" ||
       ! grep -q '^ dataset synthetic:$' "$o"; then
        fail best_per_dataset "dataset headings: $(cat "$o")"; return
    fi
    if [ "$(grep -c '^  basic ' "$o")" != 2 ]; then
        fail best_per_dataset "want a basic row per dataset: $(cat "$o")"; return
    fi
    run_report best_csv best --bits w2a2 --budget 1e5 --tolerance 1 --format csv || return
    if ! grep -qx 'dataset,block,depth,width,params,phase,regularizer,test_acc,std,n' "$T/best_csv.out" ||
       ! grep -qx 'cifar10,basic,8,16,80000,retrain,none,80.00,,1' "$T/best_csv.out" ||
       ! grep -qx 'fashion-mnist,basic,8,16,80000,clr,lipschitz,91.50,,1' "$T/best_csv.out" ||
       ! grep -qx 'fashion-mnist,preact,8,16,80000,retrain,none,89.50,,1' "$T/best_csv.out"; then
        fail best_per_dataset "csv: $(cat "$T/best_csv.out")"; return
    fi
    run_report best_one best --bits W2A2 --budget 1e5 --tolerance 1 --dataset cifar10 --format csv || return
    if [ "$(wc -l <"$T/best_one.out")" != 2 ]; then
        fail best_per_dataset "--dataset cifar10: $(cat "$T/best_one.out")"; return
    fi
    pass best_per_dataset
}

# One seed: the mean alone in every report and format; two seeds: mean±std.
one_seed_no_std() {
    local bad=""
    run_report os_best best --bits W2A2 --budget 1e5 --tolerance 1 --dataset fashion-mnist || return
    grep -q 'preact    depth   8 width  16 (80000 params), retrain: 89.50% over 1 seed' "$T/os_best.out" || bad="$bad best-text"
    run_report os_best2 best --bits W2A2 --budget 1.4e5 --tolerance 0.01 || return
    grep -q 'retrain: 91.00±1.41% over 2 seed' "$T/os_best2.out" || bad="$bad best-2seeds"
    run_report os_pivot pivot --sweep fm || return
    grep -q '^resnet-preact-8-16 .* 89\.50 (1)' "$T/os_pivot.out" || bad="$bad pivot-text"
    grep -q '91\.00±1\.41 (2)' "$T/os_pivot.out" || bad="$bad pivot-2seeds"
    run_report os_pareto pareto --dataset fashion-mnist || return
    grep -E -q '^ +1\.6e\+05 +89\.50 +1  preact' "$T/os_pareto.out" || bad="$bad pareto-text"
    if grep -q '±0\.00\|0\.00±' "$T/os_best.out" "$T/os_pivot.out" "$T/os_pareto.out"; then bad="$bad zero-std"; fi
    if [ -z "$bad" ]; then pass one_seed_no_std; else fail one_seed_no_std "$bad"; fi
}

# --bits in the tables' spelling (any case) selects the same rows as before.
bits_spelling() {
    local a b c
    run_report bits_upper best --bits W2A2 --format csv || return
    run_report bits_lower best --bits w2a2 --format csv || return
    run_report bits_af best --bits W2AF --format csv || return
    expect_usage bits_bad '--bits "W9A2": expected float, WxAy, WxAF or WFAy' report best --db "$DB" --bits W9A2
    a=$(cat "$T/bits_upper.out"); b=$(cat "$T/bits_lower.out"); c=$(cat "$T/bits_af.out")
    if [ "$a" = "$b" ] && [ "$c" = "dataset,block,depth,width,params,phase,regularizer,test_acc,std,n" ]; then
        pass bits_spelling
    else
        fail bits_spelling "W2A2 '$a' w2a2 '$b' W2AF '$c'"
    fi
}

# Columns: float, W2A2, W2A2+lip+clr although the first model has only
# float and W2A2+lip+clr; a dataset column as soon as there are two.
pivot_order() {
    run_report pivot_fm pivot --sweep fm || return
    local head
    head=$(head -1 "$T/pivot_fm.out" | tr -s ' ' | sed 's/ $//')
    if [ "$head" != "model float W2A2 W2A2+lip+clr" ]; then fail pivot_order "columns '$head'"; return; fi
    run_report pivot_all pivot --format csv || return
    if ! head -1 "$T/pivot_all.out" | grep -qx 'model,float,float_std,float_n,W2A2,W2A2_std,W2A2_n,W2A2+lip+clr,W2A2+lip+clr_std,W2A2+lip+clr_n,dataset'; then
        fail pivot_order "csv header: $(head -1 "$T/pivot_all.out")"; return
    fi
    # the same model on two datasets: two rows
    if [ "$(grep -c '^resnet-basic-8-16,' "$T/pivot_all.out")" != 2 ] ||
       ! grep -qx 'resnet-basic-8-16,,,0,80.00,,1,,,0,cifar10' "$T/pivot_all.out"; then
        fail pivot_order "rows per dataset: $(cat "$T/pivot_all.out")"; return
    fi
    run_report pivot_text pivot || return
    if ! head -1 "$T/pivot_text.out" | grep -q '^model  *dataset  *float'; then
        fail pivot_order "no dataset column: $(head -1 "$T/pivot_text.out")"; return
    fi
    pass pivot_order
}

# Frontier per dataset: Fashion-MNIST's 4 points have 2 on the bits front
# (1.6e5 at 91.5 and the float model) and 3 on the BOPs front (basic-14's
# 3e7 BOPs is the smallest there); a global front would drop them under the
# synthetic points.
pareto_front() {
    run_report pareto_bits pareto || return
    local o=$T/pareto_bits.out
    if ! grep -q '^dataset fashion-mnist: 4 points, 2 on the frontier' "$o" ||
       ! grep -q '^dataset synthetic: 2 points, 2 on the frontier' "$o" ||
       ! grep -q '^dataset cifar10: 1 points, 1 on the frontier' "$o"; then
        fail pareto_front "bits counts: $(grep '^dataset' "$o")"; return
    fi
    run_report pareto_csv pareto --dataset fashion-mnist --format csv || return
    if ! grep -qx 'fashion-mnist,basic,W2A2,resnet-basic-14-16,280000,30000000,91.00,1.41,2,0' "$T/pareto_csv.out" ||
       ! grep -qx 'fashion-mnist,basic,W2A2+lip+clr,resnet-basic-8-16,160000,40000000,91.50,,1,1' "$T/pareto_csv.out" ||
       [ "$(awk -F, 'NR > 1 { n += $10 } END { print n }' "$T/pareto_csv.out")" != 2 ]; then
        fail pareto_front "csv: $(cat "$T/pareto_csv.out")"; return
    fi
    run_report pareto_bops pareto --x bops --dataset fashion-mnist --format csv || return
    if ! grep -qx 'fashion-mnist,basic,W2A2,resnet-basic-14-16,280000,30000000,91.00,1.41,2,1' "$T/pareto_bops.out" ||
       [ "$(awk -F, 'NR > 1 { n += $10 } END { print n }' "$T/pareto_bops.out")" != 3 ]; then
        fail pareto_front "bops csv: $(cat "$T/pareto_bops.out")"; return
    fi
    run_report pareto_md pareto --sweep fm --format markdown || return
    if ! grep -q '^| \* | 1.6e+05 | 91.50 | 1 | basic | W2A2+lip+clr | resnet-basic-8-16 |$' "$T/pareto_md.out"; then
        fail pareto_front "markdown: $(cat "$T/pareto_md.out")"; return
    fi
    expect_usage pareto_bad_x '--x "size" \(allowed: bits, bops\)' report pareto --db "$DB" --x size
    pass pareto_front
}

unknown_sweep() {
    local k
    for k in table5 table4 best pivot pareto; do
        expect_usage "unknown_sweep_$k" "qsweep report: --sweep nope: .*mix.db has no sweep of that name \(sweeps there: mix, fm\)" \
            report "$k" --db "$DB" --sweep nope
    done
    expect_usage sweep_without_db '--sweep needs --db' report table5 --sweep mix
}

table5_hint() {
    run_report hint table5 --sweep fm || return
    if ! grep -q '^no Table 5 cells of ours: the selection (dataset cifar10, sweep fm) has no done phase of a ResNet' "$T/hint.out" ||
       ! grep -q '^done phases here by dataset: fashion-mnist (5)$' "$T/hint.out"; then
        fail table5_hint "$(cat "$T/hint.out")"; return
    fi
    run_report hint_csv table5 --sweep fm --format csv || return
    if grep -q 'no Table 5 cells' "$T/hint_csv.out" || ! grep -q 'no Table 5 cells' "$T/hint_csv.err"; then
        fail table5_hint "csv: the hint belongs on stderr"; return
    fi
    # cifar10's basic-8-16 W2A2 is a cell: no hint
    run_report nohint table5 --sweep mix || return
    if grep -q 'no Table 5 cells' "$T/nohint.out"; then fail table5_hint "hint with a cell present"; return; fi
    pass table5_hint
}

run_cases best_per_dataset one_seed_no_std bits_spelling pivot_order pareto_front unknown_sweep table5_hint
