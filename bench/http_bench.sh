#!/usr/bin/env bash
# Latency of the dashboard's API under concurrent load (not a test): a
# generated database of 10,000 phases and 2,000,000 epoch rows
# (tests/gen_db.h with sql/indexes.sql), `qsweep serve` on 127.0.0.1, and
# Debian's wrk (or ab from apache2-utils) against the sweep overview, the
# per-epoch curves of one phase and the runs list. Bounded: each run lasts
# DURATION seconds with CONNS connections, on loopback only. The server
# takes at most 32 connections from one address (docs/api.md): CONNS above
# that measures refusals, not answers.
#
#   bash bench/http_bench.sh            # DURATION=10 CONNS=8 THREADS=2
#   PHASES=10000 EPOCH_ROWS=2000000 DB=build/bench/http.db bash bench/http_bench.sh
#
# Three server modes per endpoint: the default (answers cached between
# commits), --no-cache (every request queries SQLite: the cost after each
# commit of a running sweep), and the default while a writer commits to
# the database every WRITE_MS milliseconds.
set -u
cd "$(dirname "$0")/.." || exit 1
Q=${QSWEEP_BIN:-$PWD/bin/qsweep}
PHASES=${PHASES:-10000}
EPOCH_ROWS=${EPOCH_ROWS:-2000000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
THREADS=${THREADS:-2}
WRITE_MS=${WRITE_MS:-500}
# NICE=-10 (root) runs the server and the load generator ahead of the
# machine's other work: on a shared machine the latency otherwise mostly
# measures the other jobs. The cpu column does not depend on it.
NICE=${NICE:-0}
OUT=build/bench
DB=${DB:-$OUT/http-$PHASES-$EPOCH_ROWS.db}
mkdir -p "$OUT"
SRV=""
WRITER=""
cleanup() {
    [ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
    wait 2>/dev/null
    rm -f "$OUT/bench-run.db" "$OUT/bench-run.db-wal" "$OUT/bench-run.db-shm"
}
trap cleanup EXIT

[ -x "$Q" ] || { echo "http_bench: $Q missing (run make)" >&2; exit 1; }
TOOL=""
if command -v wrk >/dev/null 2>&1; then TOOL=wrk
elif command -v ab >/dev/null 2>&1; then TOOL=ab
else echo "http_bench: needs wrk or ab (apt-get install wrk)" >&2; exit 1; fi

cc -O2 -std=c11 -D_GNU_SOURCE -Itests -Iserver/report tests/tool_gen_db.c server/report/paper.c -o "$OUT/tool_gen_db" \
    $(pkg-config --cflags --libs sqlite3 zlib) -lm || exit 1
if [ ! -s "$DB" ]; then
    echo "# generating $DB ($PHASES phases, $EPOCH_ROWS epoch rows)" >&2
    IDX=""
    [ -f sql/indexes.sql ] && IDX="--indexes sql/indexes.sql"
    "$OUT/tool_gen_db" --out "$DB" --phases "$PHASES" --epoch-rows "$EPOCH_ROWS" $IDX || exit 1
fi
# The writer below changes the "live" sweep: benchmark a copy.
cp "$DB" "$OUT/bench-run.db" && rm -f "$OUT/bench-run.db-wal" "$OUT/bench-run.db-shm"
RUNDB=$OUT/bench-run.db

start() { # extra serve flags...
    nice -n "$NICE" "$Q" serve --db "$RUNDB" --port 0 "$@" >"$OUT/serve.out" 2>"$OUT/serve.err" &
    SRV=$!
    URL=""
    for _ in $(seq 1 100); do
        URL=$(sed -n 's/^qsweep serve: \(http:.*\/\)$/\1/p' "$OUT/serve.out")
        [ -n "$URL" ] && return 0
        sleep 0.1
    done
    echo "http_bench: the server did not start: $(cat "$OUT/serve.err")" >&2
    exit 1
}
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=""; }

# CPU seconds (user + system) the server has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SRV/stat"; }

# measure NAME PATH: prints "NAME req/s p50 p99 cpu" (milliseconds; cpu is
# the server's CPU time per request, which the machine's other load does
# not inflate the way it inflates latency).
measure() {
    local name=$1 path=$2 out="$OUT/$TOOL.txt" c0 c1
    c0=$(cpu_s)
    if [ "$TOOL" = wrk ]; then
        nice -n "$NICE" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "$URL$path" >"$out" 2>&1
    else
        nice -n "$NICE" ab -q -k -t "$DURATION" -n 1000000 -c "$CONNS" "$URL$path" >"$out" 2>&1
    fi
    c1=$(cpu_s)
    awk -v n="$name" -v cpu="$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" -v tool="$TOOL" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        tool == "wrk" && /requests in/ { reqs = $1 }
        tool == "wrk" && /Requests\/sec/ { rps = $2 }
        tool == "wrk" && $1 == "50%" { p50 = ms($2) }
        tool == "wrk" && $1 == "99%" { p99 = ms($2) }
        tool == "ab" && /Complete requests/ { reqs = $3 }
        tool == "ab" && /Requests per second/ { rps = $4 }
        tool == "ab" && $1 == "50%" { p50 = $2 }
        tool == "ab" && $1 == "99%" { p99 = $2 }
        /Non-2xx/ { bad = $NF }
        END { printf "%-28s %9.0f %9.2f %9.2f %9.3f%s\n", n, rps, p50, p99, reqs ? 1000 * cpu / reqs : 0,
                     bad ? "  (" bad " non-2xx!)" : "" }' "$out"
}

start
PHASE=$(curl -s "${URL}api/runs?sweep=scale&status=done&limit=1" 2>/dev/null | grep -o '"phase_id":"[0-9a-f]*"' | head -n 1 | cut -d'"' -f4)
if [ -z "$PHASE" ]; then # no curl: ask the database
    PHASE=$(sqlite3 "$RUNDB" "SELECT p.id FROM phases p JOIN sweep_phases sp ON sp.phase_id = p.id JOIN sweeps s ON s.id = sp.sweep_id WHERE s.name = 'scale' AND p.status = 'done' LIMIT 1")
fi
stop
EPOCHS=$(sqlite3 "$RUNDB" "SELECT count(*) FROM epochs WHERE phase_id = '$PHASE'" 2>/dev/null || echo "?")
NPH=$(sqlite3 "$RUNDB" "SELECT count(*) FROM phases" 2>/dev/null || echo "?")
NEP=$(sqlite3 "$RUNDB" "SELECT count(*) FROM epochs" 2>/dev/null || echo "?")

echo "# qsweep serve HTTP benchmark: $TOOL, $CONNS connections, $THREADS client threads, ${DURATION}s a run"
echo "# database: $NPH phases, $NEP epoch rows ($(du -h "$RUNDB" | cut -f1)); curves phase: $EPOCHS epochs"
echo "# machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs; nice $NICE"
ENDPOINTS=(
    "overview|api/sweeps"
    "curves|api/curves?phase_id=$PHASE"
    "runs (default, 100 rows)|api/runs"
    "runs (sweep, by acc, 50)|api/runs?sweep=scale&sort=test_acc&order=desc&limit=50"
)
for mode in cached no-cache writer; do
    case $mode in
        cached) start ;;
        no-cache) start --no-cache ;;
        writer)
            start
            ( while :; do "$OUT/tool_gen_db" --advance "$RUNDB" >/dev/null 2>&1 || true
                sleep "$(awk -v m="$WRITE_MS" 'BEGIN { print m / 1000 }')"; done ) &
            WRITER=$!
            ;;
    esac
    echo
    echo "## $mode$([ "$mode" = writer ] && echo " (a commit every ${WRITE_MS} ms)")"
    printf "%-28s %9s %9s %9s %9s\n" endpoint "req/s" "p50 ms" "p99 ms" "cpu ms"
    for e in "${ENDPOINTS[@]}"; do
        measure "${e%%|*}" "${e#*|}"
    done
    [ -n "$WRITER" ] && { kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null; WRITER=""; }
    stop
done
