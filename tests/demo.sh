#!/usr/bin/env bash
# `make demo`: the demo sweep on 3 MPI ranks (rank 0 coordinates, 1 and 2
# train) with the dashboard serving its database, then the dashboard stays
# up until Ctrl-C. DEMO_DB, DEMO_PORT and DEMO_RANKS override the defaults.
set -u
cd "$(dirname "$0")/.."
Q=$PWD/bin/qsweep
DB=${DEMO_DB:-demo.db}
PORT=${DEMO_PORT:-8080}
RANKS=${DEMO_RANKS:-3}
LOG=$(mktemp -d "${TMPDIR:-/tmp}/qsweep-demo.XXXXXX")
serve_pid=""
sweep_pid=""
cleanup() {
    [ -n "$sweep_pid" ] && kill -TERM "$sweep_pid" 2>/dev/null && wait "$sweep_pid" 2>/dev/null
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
    rm -rf "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== qsweep demo: sweeps/demo.json on $RANKS MPI ranks, results in $DB"
"$Q" expand sweeps/demo.json | tail -n 1
mpirun -n "$RANKS" "$Q" sweeps/demo.json --db "$DB" 2> >(tee "$LOG/sweep.err" >&2) &
sweep_pid=$!

# The dashboard needs the database the sweep creates: wait for its first rows.
for _ in $(seq 1 300); do
    [ "$(sqlite3 "$DB" 'SELECT COUNT(*) > 0 FROM phases' 2>/dev/null)" = 1 ] && break
    kill -0 "$sweep_pid" 2>/dev/null || break
    sleep 0.2
done
start_serve() {
    "$Q" serve --db "$DB" --port "$1" >"$LOG/serve.out" 2>"$LOG/serve.err" &
    serve_pid=$!
    for _ in $(seq 1 100); do
        grep -q "http://" "$LOG/serve.out" 2>/dev/null && return 0
        kill -0 "$serve_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
if ! start_serve "$PORT"; then
    echo "(port $PORT is busy; using a free port)"
    start_serve 0 || { echo "demo: the dashboard did not start:"; cat "$LOG/serve.err"; }
fi
URL=$(grep -o "http://[^ ]*" "$LOG/serve.out" | head -n 1)
echo
echo "== dashboard: $URL   (open it: the charts fill in as phases finish)"
echo

wait "$sweep_pid"
rc=$?
sweep_pid=""
echo
"$Q" status --db "$DB"
echo
echo "== the results are in $DB; try:"
echo "   sqlite3 $DB 'SELECT model, phase, wbits, abits, regularizer, clr, test_acc FROM runs'"
echo "   bin/qsweep report best --db $DB --budget 3e5 --bits w2a2 --tolerance 1"
[ $rc -eq 0 ] || echo "demo: the sweep exited with status $rc"
if [ -n "$URL" ]; then
    echo
    echo "== dashboard still serving at $URL; Ctrl-C to stop"
    wait "$serve_pid"
fi
