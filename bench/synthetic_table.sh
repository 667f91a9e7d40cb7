#!/usr/bin/env bash
# The table of issue 5: synthetic FCDNNs 200-4, 256-4, 128-6, 128-8, test
# accuracy (%) of the float model and of W2AF, WFA2, W2A2 retrained from it,
# with the synthetic protocol of methods.md section 3 (float: Adam 1e-3
# cosine, 100 epochs; retrain: Adam 1e-4 cosine, 30 epochs; batch 128).
# Runs sequentially (one thread each); every phase's JSON lines, checkpoint
# and decision map (PGM) land in OUT.
#
#   bash bench/synthetic_table.sh                 # seeds 1 2
#   SEEDS="1" NETS="128-4" OUT=/tmp/t bash bench/synthetic_table.sh
#   EXTRA="--lr 1e-3" bash bench/synthetic_table.sh   # retrain overrides
#
# Prints a markdown table: mean over seeds, per-seed values in brackets.
set -eu
cd "$(dirname "$0")/.."
Q=${QSWEEP_BIN:-$PWD/bin/qsweep}
SEEDS=${SEEDS:-1 2}
NETS=${NETS:-200-4 256-4 128-6 128-8}
SETTINGS=${SETTINGS:-W2AF WFA2 W2A2}
OUT=${OUT:-out/synthetic_table}
EXTRA=${EXTRA:-}
mkdir -p "$OUT"
[ -x "$Q" ] || { echo "missing $Q (run make)" >&2; exit 1; }

bits() { # W2AF -> "2 32"
    local w=${1#W} a
    a=${w#*A}
    w=${w%%A*}
    [ "$w" = F ] && w=32
    [ "$a" = F ] && a=32
    echo "$w $a"
}

last_acc() { sed -n '$p' "$1" | sed -E 's/.*"test_acc":([0-9.]+).*/\1/'; }

for net in $NETS; do
    width=${net%-*} depth=${net#*-}
    M="--model fcdnn --width $width --depth $depth --data synthetic"
    for seed in $SEEDS; do
        f=$OUT/$net-s$seed-float
        if [ ! -s "$f.qsc" ]; then
            echo "+ qsweep train $M --seed $seed --save $f.qsc" >&2
            "$Q" train $M --seed "$seed" --save "$f.qsc" --decision-map "$f.pgm" >"$f.jsonl"
        fi
        for s in $SETTINGS; do
            read -r wb ab <<<"$(bits "$s")"
            r=$OUT/$net-s$seed-$s
            if [ ! -s "$r.qsc" ]; then
                echo "+ qsweep train $M --seed $seed --phase retrain --from $f.qsc --wbits $wb --abits $ab $EXTRA" >&2
                "$Q" train $M --seed "$seed" --phase retrain --from "$f.qsc" --wbits "$wb" \
                    --abits "$ab" $EXTRA --save "$r.qsc" --decision-map "$r.pgm" >"$r.jsonl"
            fi
        done
    done
done

printf '| net | float |'
for s in $SETTINGS; do printf ' %s |' "$s"; done
printf '\n|---|---|'
for s in $SETTINGS; do printf -- '---|'; done
printf '\n'
for net in $NETS; do
    printf '| %s |' "$net"
    for s in float $SETTINGS; do
        vals=""
        for seed in $SEEDS; do vals="$vals $(last_acc "$OUT/$net-s$seed-$s.jsonl")"; done
        echo "$vals" | awk '{ s = 0; l = ""; for (i = 1; i <= NF; i++) { s += $i; l = l (i > 1 ? ", " : "") $i }
                              if (NF > 1) printf " %.1f (%s) |", s / NF, l; else printf " %s |", l }'
    done
    printf '\n'
done
