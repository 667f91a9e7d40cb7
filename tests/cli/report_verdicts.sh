#!/usr/bin/env bash
# `qsweep report table5|table4|pivot` verdicts on a database with known
# per-seed accuracies (tests/verdict_db.sql; the intervals themselves are
# checked in tests/test_verdict.c): every verdict word printed, in CSV the
# claims after the cells, --dataset, the one-seed cell without a std.
. "$(dirname "$0")/lib.sh"

DB=$T/verdict.db
if ! cat sql/schema.sql tests/verdict_db.sql | sqlite3 "$DB" >/dev/null 2>"$T/sqlite.err"; then
    fail report_verdicts_db "building the database: $(head -c 300 "$T/sqlite.err")"
    exit 0
fi

csv_verdicts() {
    local out claims w
    out=$("$Q" report table5 --db "$DB" --sweep verdict --format csv 2>&1) ||
        { fail csv_verdicts "exit $?: $out"; return; }
    claims=$(echo "$out" | sed -n '/^claim,claim_verdict,/,$p')
    [ -n "$claims" ] || { fail csv_verdicts "no claims section: $(echo "$out" | tail -3)"; return; }
    for w in "holds" "within noise" "contradicted" "not enough data"; do
        # column 12: the comparison's verdict
        if ! echo "$claims" | awk -F, -v w="$w" 'NR > 1 && $12 == w { f = 1 } END { exit !f }'; then
            fail csv_verdicts "no comparison with verdict '$w': $claims"; return
        fi
    done
    if ! echo "$claims" | grep -qx '2,contradicted,preact: depth 8 vs 32,preact-8 W2A2,preact-32 W2A2,-2.1667,-2.7082,-1.6251,2.62,3,3,contradicted,2.00'; then
        fail csv_verdicts "claim 2 preact row: $(echo "$claims" | grep '^2,')"; return
    fi
    # the cells table comes first, unchanged in shape: 6 + 4 x 5 columns
    if [ "$(echo "$out" | head -1 | awk -F, '{ print NF }')" != 26 ]; then
        fail csv_verdicts "cells header: $(echo "$out" | head -1)"; return
    fi
    pass csv_verdicts
}

text_and_markdown() {
    local out line
    out=$("$Q" report table5 --db "$DB" --sweep verdict 2>&1) || { fail text_and_markdown "exit $?"; return; }
    line=$(echo "$out" | grep '^depthwise *29 ')
    # one seed: the mean alone, no "±" (and never "±0.00")
    if ! echo "$line" | grep -q ' 88\.00 ' || echo "$line" | grep -q '88\.00±'; then
        fail text_and_markdown "one-seed cell: $line"; return
    fi
    if ! echo "$out" | grep -q 'basic: depth 20 vs 8 *+1\.23 \[+0\.24, +2\.22\] *n 3/2  holds'; then
        fail text_and_markdown "claim 1 basic line: $(echo "$out" | grep 'basic: depth 20')"; return
    fi
    if ! echo "$out" | grep -q '^  2\. .*: contradicted (decided by preact: depth 8 vs 32)$'; then
        fail text_and_markdown "claim 2 verdict line: $(echo "$out" | grep '^  2\.')"; return
    fi
    out=$("$Q" report table5 --db "$DB" --sweep verdict --format markdown 2>&1)
    if ! echo "$out" | grep -q '^| 4\. .* | \*\*holds\*\* |'; then
        fail text_and_markdown "markdown claim 4: $(echo "$out" | grep '^| 4\.')"; return
    fi
    pass text_and_markdown
}

table4_and_dataset() {
    local out
    out=$("$Q" report table4 --db "$DB" --sweep verdict-t4 --format csv 2>&1) || { fail table4_and_dataset "exit $?"; return; }
    if ! echo "$out" | grep -q '^5,not enough data,depth 20,basic-20 W2A2+lip+clr,basic-20 W2A2,0\.6000,-,-,-,1,2,not enough data,0\.32$'; then
        fail table4_and_dataset "claim 5: $(echo "$out" | grep '^5,')"; return
    fi
    # another dataset: none of our cells, so nothing to compare
    out=$("$Q" report table5 --db "$DB" --sweep verdict --dataset fashion-mnist --format csv 2>&1)
    if echo "$out" | grep -q ',holds,\|,contradicted,' || ! echo "$out" | grep -q '^1,not enough data,,'; then
        fail table4_and_dataset "--dataset fashion-mnist: $(echo "$out" | tail -4)"; return
    fi
    pass table4_and_dataset
}

pivot_claims() {
    local out
    out=$("$Q" report pivot --db "$DB" --sweep verdict 2>&1) || { fail pivot_claims "exit $?: $out"; return; }
    if ! echo "$out" | grep -q '^resnet-depthwise-29-8 *88\.00 (1) *87\.15±0\.21 (2)'; then
        fail pivot_claims "one-seed pivot cell: $(echo "$out" | grep depthwise-29)"; return
    fi
    if ! echo "$out" | grep -q '^  2\. .*: contradicted'; then
        fail pivot_claims "no claims under the pivot: $(echo "$out" | tail -3)"; return
    fi
    out=$("$Q" report pivot --db "$DB" --sweep verdict --format csv 2>&1)
    if ! echo "$out" | grep -q '^resnet-depthwise-29-8,88\.00,,1,87\.15,0\.21,2,cifar10$'; then
        fail pivot_claims "csv one-seed std not empty: $(echo "$out" | grep depthwise-29)"; return
    fi
    pass pivot_claims
}

run_cases csv_verdicts text_and_markdown table4_and_dataset pivot_claims
