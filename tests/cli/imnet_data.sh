#!/usr/bin/env bash
# tests/tool_imnet.c (docs/imagenet.md): builds, writes a tiny
# ImageNet-layout tree and decodes it through the loader in train and eval
# mode, printing its speed.
set -u
. "$(dirname "$0")/lib.sh"

test_tool_imnet() {
    if ! cc -O2 -std=c11 -D_GNU_SOURCE $(make -s print-inc-core) tests/tool_imnet.c build/libqscore.a \
        $(pkg-config --libs libturbojpeg) -lpthread -lm -o "$T/tool_imnet" 2>"$T/cc.err"; then
        fail imnet_tool "building tests/tool_imnet.c: $(head -c 300 "$T/cc.err")"
        return
    fi
    if ! "$T/tool_imnet" gen "$T/tree" 3 8 2 64 48 >"$T/gen.out" 2>&1; then
        fail imnet_tool "gen: $(head -c 300 "$T/gen.out")"
        return
    fi
    if [ "$(find "$T/tree/train" -name '*.JPEG' | wc -l)" -ne 24 ] ||
        [ "$(find "$T/tree/val" -name '*.JPEG' | wc -l)" -ne 6 ]; then
        fail imnet_tool "gen wrote $(find "$T/tree" -name '*.JPEG' | wc -l) files, want 30"
        return
    fi
    local mode
    for mode in train eval; do
        if ! "$T/tool_imnet" bench "$T/tree" 2 4 8 "$mode" >"$T/bench.out" 2>&1 ||
            ! grep -q '"images":32,' "$T/bench.out"; then
            fail imnet_tool "bench $mode: $(head -c 300 "$T/bench.out")"
            return
        fi
    done
    pass imnet_tool
}

run_cases test_tool_imnet
