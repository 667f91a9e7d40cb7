#!/usr/bin/env bash
# Layers run one way down: server -> worker -> core. Each layer is built
# with only its own and the lower layers' include paths (Makefile
# CORE_INC / WORKER_INC / SERVER_INC); these cases check that an upward
# include does not compile and that no source has one.
. "$(dirname "$0")/lib.sh"

CORE_INC=$(make -s print-inc-core)
WORKER_INC=$(make -s print-inc-worker)
SERVER_INC=$(make -s print-inc-server)

# probe LAYER_FLAGS HEADER: 0 when a file including HEADER compiles.
probe() {
    printf '#include "%s"\nint qs_probe;\n' "$2" > "$T/probe.c"
    # shellcheck disable=SC2086
    cc -std=c11 -D_GNU_SOURCE $(pkg-config --cflags libcjson sqlite3 libmicrohttpd mpich openblas 2>/dev/null) \
        $1 -fsyntax-only "$T/probe.c" 2>"$T/probe.err"
}

test_upward_include_fails() {
    local bad=""
    probe "$CORE_INC" "train.h" || bad="$bad core-cannot-include-its-own(train.h)"
    probe "$CORE_INC" "job.h" && bad="$bad core->worker(job.h)"
    probe "$CORE_INC" "coord.h" && bad="$bad core->server(coord.h)"
    probe "$WORKER_INC" "job.h" || bad="$bad worker-cannot-include-its-own(job.h)"
    probe "$WORKER_INC" "db.h" && bad="$bad worker->server(db.h)"
    probe "$SERVER_INC" "coord.h" || bad="$bad server-cannot-include-its-own(coord.h)"
    if [ -z "$bad" ]; then pass upward_include_fails; else fail upward_include_fails "$bad"; fi
}

# Every quoted include of a source resolves in its own layer or below.
test_no_upward_include_in_tree() {
    local bad="" f h layer dirs d found
    for f in core/*/*.[ch] worker/*/*.[ch] worker/*/*.def server/*/*.[ch]; do
        layer=${f%%/*}
        case $layer in
        core) dirs="core" ;;
        worker) dirs="worker core" ;;
        server) dirs="server worker core" ;;
        esac
        for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
            found=""
            for d in $dirs; do
                ls $d/*/"$h" >/dev/null 2>&1 && { found=$d; break; }
            done
            [ -n "$found" ] || bad="$bad $f:$h"
        done
    done
    if [ -z "$bad" ]; then pass no_upward_include_in_tree; else fail no_upward_include_in_tree "$bad"; fi
}

# Every room says what it owns.
test_rooms_have_readme() {
    local bad="" r
    for r in core/*/ worker/*/ server/*/; do
        [ -s "$r/README.md" ] || bad="$bad $r"
    done
    if [ -z "$bad" ]; then pass rooms_have_readme; else fail rooms_have_readme "missing README.md in$bad"; fi
}

run_cases test_upward_include_fails test_no_upward_include_in_tree test_rooms_have_readme
