#!/usr/bin/env bash
# Inputs a user can hand qsweep by mistake or on purpose: checkpoints edited
# with a valid CRC, FIFOs and directories where files belong, grids far too
# large or deep, sweep names with NUL, control or non-UTF-8 bytes, a --save
# that cannot be written. Each is refused with exit 2 and a message naming
# the cause, quickly (every run has a time limit: a hang is a failure).
set -u
. "$(dirname "$0")/lib.sh"

FC="--model fcdnn --depth 3 --width 8 --data synthetic --train-limit 512 --test-limit 128 --batch 64"

# forge IN OUT SECTION OFFSET BYTES: BYTES (printf escapes) written at OFFSET
# into the data of SECTION, then the CRC32 recomputed (gzip's trailer holds
# the same CRC, little-endian as in the checkpoint).
forge() {
    local in=$1 out=$2 sec=$3 off=$4 bytes=$5 name_at len
    name_at=$(grep -obUa "$sec" "$in" | head -n 1 | cut -d: -f1)
    [ -n "$name_at" ] || return 1
    len=$(stat -c %s "$in")
    cp "$in" "$out.body"
    printf "$bytes" | dd of="$out.body" bs=1 seek=$((name_at + ${#sec} + 8 + off)) \
        conv=notrunc status=none
    head -c $((len - 4)) "$out.body" >"$out"
    head -c $((len - 4)) "$out.body" | gzip -c | tail -c 8 | head -c 4 >>"$out"
    rm -f "$out.body"
}

CK=$T/float.ck
make_ck() {
    [ -s "$CK" ] && return 0
    qrun make_ck 120 train $FC --epochs 3 --stop-after 1 --save "$CK"
}

# train_cfg.batch is the struct's third int32 (after phase and epochs);
# state.epoch_done its first int64.
test_forged_resume() {
    local n=ckpt_forged_resume
    make_ck || { fail $n "training the checkpoint: $(why make_ck)"; return; }
    forge "$CK" "$T/same.ck" state 0 '\001' && cmp -s "$CK" "$T/same.ck" ||
        { fail $n "forging an unchanged byte changed the file"; return; }
    forge "$CK" "$T/b0.ck" train_cfg 8 '\000\000\000\000'
    forge "$CK" "$T/bneg.ck" train_cfg 8 '\200\377\377\377'
    forge "$CK" "$T/bbig.ck" train_cfg 8 '\000\000\000\100'
    forge "$CK" "$T/eneg.ck" state 0 '\373\377\377\377\377\377\377\377'
    expect_usage ckpt_forged_batch_0 'b0\.ck: train_cfg\.batch = 0 \(byte [0-9]+\) is out of range' \
        train $FC --epochs 3 --resume "$T/b0.ck"
    expect_usage ckpt_forged_batch_minus128 'bneg\.ck: train_cfg\.batch = -128 .*out of range' \
        train $FC --epochs 3 --resume "$T/bneg.ck"
    expect_usage ckpt_forged_batch_2pow30 'bbig\.ck: train_cfg\.batch = 1073741824 .*out of range' \
        train $FC --epochs 3 --resume "$T/bbig.ck"
    expect_usage ckpt_forged_epoch_done_minus5 'eneg\.ck: state\.epoch_done = -5 .*out of range' \
        train $FC --epochs 3 --resume "$T/eneg.ck"
    expect_usage ckpt_forged_export 'b0\.ck: train_cfg\.batch = 0 .*out of range' \
        export --from "$T/b0.ck" --out "$T/b0.json"
    expect_usage ckpt_forged_parent 'eneg\.ck: state\.epoch_done = -5 .*out of range' \
        train $FC --epochs 1 --phase retrain --wbits 2 --abits 2 --from "$T/eneg.ck"
    qrun $n 120 train $FC --epochs 3 --resume "$T/same.ck"
    [ "$RC" -eq 0 ] && pass $n || fail $n "the re-CRC'd unchanged checkpoint: $(why $n)"
}

test_fifos() {
    mkfifo "$T/fifo.ck" "$T/fifo.json" || { fail fifo_inputs "mkfifo failed"; return; }
    expect_usage fifo_resume 'fifo\.ck: not a regular file \(a FIFO\)' \
        train $FC --epochs 1 --resume "$T/fifo.ck"
    expect_usage fifo_from 'fifo\.ck: not a regular file \(a FIFO\)' \
        train $FC --epochs 1 --phase retrain --wbits 2 --abits 2 --from "$T/fifo.ck"
    expect_usage fifo_export_from 'fifo\.ck: not a regular file \(a FIFO\)' \
        export --from "$T/fifo.ck" --out "$T/x.json"
    expect_usage fifo_config 'fifo\.json: not a regular file \(a FIFO\)' train --config "$T/fifo.json"
    expect_usage fifo_grid_expand 'fifo\.json: not a regular file \(a FIFO\)' expand "$T/fifo.json"
    expect_usage fifo_grid_sweep 'fifo\.json: not a regular file \(a FIFO\)' \
        "$T/fifo.json" --dry-run --db "$T/fifo.db"
    mkdir -p "$T/dir.json"
    expect_usage directory_grid 'dir\.json: not a regular file \(a directory\)' expand "$T/dir.json"
}

test_save_directory() {
    mkdir -p "$T/out.ck"
    expect_usage save_to_directory '--save .*out\.ck: is a directory' \
        train $FC --epochs 1 --save "$T/out.ck"
}

grid() { # FILE NAME_JSON: a valid grid body with that name
    printf '{"name":%s,"axes":{"arch":"fcdnn","depth":4,"width":8}}' "$2" >"$1"
}

test_grid_names() {
    grid "$T/nul.json" '"rel\u0000base"'
    expect_usage grid_name_nul 'nul\.json: name: the string holds \\u0000 \(NUL\)' expand "$T/nul.json"
    grid "$T/utf8.json" "$(printf '"rel\377base"')"
    expect_usage grid_name_utf8 'utf8\.json: name: the string is not valid UTF-8 \(byte 4' \
        expand "$T/utf8.json"
    grid "$T/del.json" "$(printf '"rel\177base"')"
    expect_usage grid_name_control 'del\.json: name: control characters are not allowed' \
        expand "$T/del.json"
    local n=grid_name_escaped_backslash_ok
    grid "$T/esc.json" '"rel\\u0000base"'
    qrun $n 60 expand "$T/esc.json"
    [ "$RC" -eq 0 ] && pass $n || fail $n "a literal backslash-u0000 was refused: $(why $n)"
}

# The limits of grid.h, each refused before a tree is built: quickly.
test_grid_limits() {
    { printf '{"name":"big","axes":{"arch":"fcdnn","depth":4,"width":8,"seed":['
      yes '1,' | head -c 7500000 | tr -d '\n'; printf '1]}}'; } >"$T/big.json"
    expect_usage grid_over_size 'big\.json: 5[0-9]{6} bytes, more than the 4194304 allowed' \
        expand "$T/big.json"
    { printf '{"name":"many","axes":{"arch":"fcdnn","depth":4,"width":8,"seed":['
      seq -s, 1 150000; printf ']}}'; } >"$T/many.json"
    expect_usage grid_over_values 'many\.json: more than 100000 JSON values \(at line 1' \
        expand "$T/many.json"
    { printf '{"name":"deep","axes":{"arch":"fcdnn","depth":4,"width":8},"description":'
      printf '[%.0s' $(seq 40); printf ']%.0s' $(seq 40); printf '}'; } >"$T/deep.json"
    expect_usage grid_too_deep 'deep\.json: nested deeper than 32 lists/objects at line 1, column' \
        expand "$T/deep.json"
    # 700 widths x 1000 seeds: 700,000 float phases, refused at the 500,000th.
    { printf '{"name":"phases","axes":{"arch":"fcdnn","depth":4,"width":['
      seq -s, 1 700; printf '],"seed":['; seq -s, 1 1000; printf ']}}'; } >"$T/phases.json"
    expect_usage grid_over_phases 'phases\.json: axes: more than 500000 phases' \
        expand "$T/phases.json"
}

run_cases test_forged_resume test_fifos test_save_directory test_grid_names test_grid_limits
