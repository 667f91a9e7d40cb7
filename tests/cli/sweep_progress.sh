#!/usr/bin/env bash
# The sweep's progress line when stderr is not a terminal (mpirun's pipe, a
# log file): plain lines, never "0 img/s" or "0 points/s", synthetic points
# counted as points, an ETA or "-". QSWEEP_PROGRESS_INTERVAL=0 prints a line
# per event (a phase started, reported an epoch, ended), so the test needs no
# sleeps and no timing.
set -u
. "$(dirname "$0")/lib.sh"

cat > "$T/grid.json" <<'G'
{
  "name": "progress-test",
  "dataset": {"name": "synthetic", "train_limit": 4000, "test_limit": 500},
  "axes": {"arch": "fcdnn", "width": [16, 32], "depth": [3],
           "wbits": [32, 2], "abits": [32, 2], "clr": [false, true]},
  "exclude": [{"wbits": 2, "abits": 32}, {"wbits": 32, "abits": 2}],
  "float": {"epochs": 4}, "retrain": {"epochs": 3}, "clr": {"epochs": 2, "period": 2}
}
G

RATE='([0-9]+|[0-9]+\.[0-9]+|[0-9.]+e[-+][0-9]+|-) (img|points)/s'
LINE="^qsweep: [0-9]+ done, [0-9]+ running, [0-9]+ failed, [0-9]+ queued \| (-|$RATE(, $RATE)?) \| ETA (-|[0-9]+m[0-9]{2}s|[0-9]+h[0-9]{2}m)\$"

# check_lines NAME ERRFILE: the progress lines of a finished 6-phase sweep.
check_lines() {
    local n=$1 f=$2 bad
    if grep -q $'\r' "$f"; then fail $n "a carriage return on a non-terminal"; return 1; fi
    grep -E '^qsweep: [0-9]+ done,' "$f" >"$T/$n.lines"
    bad=$(grep -Ev "$LINE" "$T/$n.lines" | head -n 1)
    if [ -n "$bad" ]; then fail $n "malformed line: $bad"; return 1; fi
    bad=$(grep -E '[^0-9.]0 (img|points)/s' "$T/$n.lines" | head -n 1)
    if [ -n "$bad" ]; then fail $n "a zero rate: $bad"; return 1; fi
    if grep -q 'img/s' "$T/$n.lines"; then fail $n "synthetic points counted as images: $(grep -m1 img/s "$T/$n.lines")"; return 1; fi
    if ! grep -Eq ' [1-9][0-9]* running, .*\| [0-9][0-9.e+-]* points/s \| ETA [0-9]' "$T/$n.lines"; then
        fail $n "no line with a running phase, its measured rate and an ETA: $(tr '\n' '~' <"$T/$n.lines" | head -c 600)"; return 1
    fi
    if [ "$(tail -n 1 "$T/$n.lines")" != "qsweep: 6 done, 0 running, 0 failed, 0 queued | - | ETA 0m00s" ]; then
        fail $n "last line: $(tail -n 1 "$T/$n.lines")"; return 1
    fi
    return 0
}

# progress_sweep CASE RANKS: the grid on RANKS MPI ranks, stderr a file,
# one line per event; every line must pass check_lines.
progress_sweep() {
    local n=$1
    QSWEEP_PROGRESS_INTERVAL=0 timeout -k 5 300 mpirun -n "$2" "$Q" "$T/grid.json" --db "$T/$n.db" \
        >"$T/$n.out" 2>"$T/$n.err"
    RC=$?
    if [ $RC -ne 0 ]; then fail $n "$(why $n)"; return; fi
    check_lines $n "$T/$n.err" && pass "$n ($(wc -l <"$T/$n.lines") lines)"
}
progress_mpi_pipe() { progress_sweep progress_mpi_pipe 3; }
progress_one_rank() { progress_sweep progress_one_rank 1; }

# A bad interval is named and the default kept; the sweep still runs.
progress_bad_interval() {
    local n=progress_bad_interval
    QSWEEP_PROGRESS_INTERVAL=soon timeout -k 5 300 mpirun -n 1 "$Q" "$T/grid.json" --db "$T/bad.db" \
        >"$T/$n.out" 2>"$T/$n.err"
    RC=$?
    if [ $RC -ne 0 ]; then fail $n "$(why $n)"; return; fi
    if ! grep -q 'QSWEEP_PROGRESS_INTERVAL "soon" is not seconds' "$T/$n.err"; then
        fail $n "no message naming the bad value: $(head -c 300 "$T/$n.err")"; return
    fi
    pass $n
}

run_cases progress_mpi_pipe progress_one_rank progress_bad_interval
