#!/usr/bin/env bash
# Phase ids are the hash of the job JSON: a refactor of the grid, the
# override logic or the job writer must leave every id and every job JSON
# byte-identical for existing grids (a changed id re-runs finished work).
# tests/fixtures/phase_ids.txt was recorded before the job-spec refactor.
. "$(dirname "$0")/lib.sh"

phase_ids_unchanged() {
    local fx=tests/fixtures/phase_ids.txt f bad=""
    for f in $(cut -f1 "$fx" | uniq); do
        if ! "$Q" expand "$f" --job-json > "$T/got" 2> "$T/err"; then
            bad="$bad $f ($(head -c 200 "$T/err"));"
            continue
        fi
        awk -F'\t' -v g="$f" '$1 == g { print $2 "\t" $3 }' "$fx" > "$T/want"
        if ! cmp -s "$T/want" "$T/got"; then
            bad="$bad $f: $(diff "$T/want" "$T/got" | grep -c '^[<>]') lines differ, first: $(diff "$T/want" "$T/got" | grep -m1 '^[<>]' | head -c 300);"
        fi
    done
    local n; n=$(wc -l < "$fx")
    [ -z "$bad" ] && pass "phase_ids_unchanged ($n phases)" || fail phase_ids_unchanged "$bad"
}

phase_ids_cover_every_grid() {
    # A new sweep must be added to the fixture on purpose.
    local f missing=""
    for f in sweeps/*.json tests/fixtures/grids/*.json; do
        grep -q "^$f	" tests/fixtures/phase_ids.txt || missing="$missing $f"
    done
    [ -z "$missing" ] && pass phase_ids_cover_every_grid ||
        fail phase_ids_cover_every_grid "not in tests/fixtures/phase_ids.txt:$missing (run tests/fixtures/gen_phase_ids.sh)"
}

run_cases phase_ids_unchanged phase_ids_cover_every_grid
