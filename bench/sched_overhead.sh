#!/usr/bin/env bash
# Scheduling overhead per phase: a sweep of many 1-epoch tiny synthetic
# phases on mpirun -n 3 (2 workers). overhead = (wall x workers - training
# seconds) / phases: the time a worker spends not training (messages,
# database, data and model set-up); training = the epochs' own seconds. Target: under 20 ms per phase.
set -eu
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
N=${PHASES_SEEDS:-100}   # seeds; each gives a float and a W2A2 retrain phase
seeds=$(seq -s, 1 "$N")
cat > "$T/g.json" <<G
{"name": "sched", "dataset": {"name": "synthetic", "train_limit": 256, "test_limit": 128},
 "axes": {"arch": "fcdnn", "width": 4, "depth": 2, "seed": [$seeds], "wbits": [32, 2], "abits": [32, 2]},
 "exclude": [{"wbits": 2, "abits": 32}, {"wbits": 32, "abits": 2}],
 "float": {"epochs": 1}, "retrain": {"epochs": 1}}
G
t0=$(date +%s.%N)
mpirun -n 3 bin/qsweep "$T/g.json" --db "$T/s.db" --quiet
t1=$(date +%s.%N)
sqlite3 "$T/s.db" "SELECT (SELECT COUNT(*) FROM phases WHERE status = 'done'),
                          (SELECT SUM(seconds) FROM epochs)" | {
    IFS='|' read -r n train
    awk -v n="$n" -v tr="$train" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" 'BEGIN {
        printf "{\"phases\":%d,\"wall_s\":%.2f,\"phase_seconds_sum\":%.2f,\"overhead_ms_per_phase\":%.1f}\n",
               n, w, tr, 1000 * (w * 2 - tr) / n }'
}
