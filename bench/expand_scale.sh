#!/usr/bin/env bash
# Scale benchmark: a grid of 108,900 phases (30 widths x 10 depths x 11
# seeds x 33 phases per model: the float, 8 quantized bit pairs x 2
# regularizers, each with a clr child) is expanded and registered in a new
# database; requirement: under 2 s together. Prints the timings as JSON.
# Run from anywhere after `make`: bash bench/expand_scale.sh
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x bin/qsweep ] || { echo "run make first" >&2; exit 2; }
objs=$(ls build/worker/*/*.o build/server/*/*.o build/gen/*.o | grep -v '^build/server/cli/main\.o$')
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE $(make -s print-inc-server) $(pkg-config --cflags libcjson sqlite3) \
   -o "$tmp/expand_scale" bench/expand_scale.c $objs build/libqscore.a \
   $(pkg-config --libs openblas zlib libcjson sqlite3 libmicrohttpd mpich) -lm -lpthread
widths=$(seq -s, 16 8 248)   # 30 widths
cat > "$tmp/scale.json" <<JSON
{"name": "scale", "dataset": {"name": "synthetic"},
 "axes": {"arch": "fcdnn", "width": [${widths}],
          "depth": [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
          "seed": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
          "wbits": [32, 2, 4], "abits": [32, 2, 4],
          "regularizer": ["none", "lipschitz"], "clr": [false, true]}}
JSON
"$tmp/expand_scale" "$tmp/scale.json" "$tmp/scale.db"
echo "qsweep expand of the same grid: $( { /usr/bin/time -f '%e s, %M KB max RSS' bin/qsweep expand "$tmp/scale.json" > /dev/null; } 2>&1 )" >&2
