#!/usr/bin/env bash
# `make bench`: qsweep training-step speed (forward + backward + SGD update,
# batch 128) of the Table 5 benchmark models at 1 and 2 threads, float and
# W2A2; one JSON line per measurement (keys: interfaces.md `qsweep bench`).
# MODELS: an extended regex picking models by label (e.g. MODELS=FCDNN).
# Environment: QSWEEP (binary, default bin/qsweep), THREADS ("1 2"),
# REPS (best of, default 3), BATCH (128), BITS ("32 2": float and W2A2).
set -eu
cd "$(dirname "$0")/.."
. bench/models.sh
BENCH_MODELS=$(grep -E -- "${MODELS:-.}" <<<"$BENCH_MODELS")
QSWEEP=${QSWEEP:-bin/qsweep}
THREADS=${THREADS:-1 2}
REPS=${REPS:-3}
BATCH=${BATCH:-128}
BITS=${BITS:-32 2}
echo "# $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)," \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}" >&2
while IFS='|' read -r label qflags _ steps rbatch; do
    batch=${rbatch:-$BATCH}
    for t in $THREADS; do
        for b in $BITS; do
            q=""
            [ "$b" = 32 ] || q="--wbits $b --abits $b"
            # shellcheck disable=SC2086
            "$QSWEEP" bench $qflags --batch "$batch" --threads "$t" --steps "$steps" --reps "$REPS" $q
        done
    done
done <<<"$BENCH_MODELS"
