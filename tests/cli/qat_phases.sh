#!/usr/bin/env bash
# Quantized phases through `qsweep train` (issue 5): float -> retrain W2A2 ->
# clr for every block type, model size and BOPs per phase in the JSON
# lines, architecture refusal, bit-identical resume of retrain and clr,
# `qsweep export`, and the decision map of a trained FCDNN.
set -u
. "$(dirname "$0")/lib.sh"

FM="--data fashion-mnist --train-limit 256 --test-limit 64"

# has_keys FILE KEY...: every line of FILE has every KEY (as "KEY":).
has_keys() {
    local f=$1 k
    shift
    for k in "$@"; do
        if [ "$(grep -c "\"$k\":" "$f")" -ne "$(wc -l <"$f")" ]; then return 1; fi
    done
}

# float -> retrain W2A2 -> clr (with Lipschitz), one epoch each.
test_three_blocks() {
    if [ -z "$FMNIST_DIR" ]; then fail qat_three_blocks "$FMNIST_MISSING"; return; fi
    local b d n
    for b in basic preact depthwise; do
        d=8
        [ $b = depthwise ] && d=11
        n=qat_phases_$b
        local M="--model resnet --block $b --depth $d --width 4 $FM --epochs 1"
        local tag=$n.f
        qrun $tag 120 train $M --save "$T/$b.f" &&
            tag=$n.r && qrun $tag 120 train $M --phase retrain --from "$T/$b.f" --wbits 2 --abits 2 --save "$T/$b.r" &&
            tag=$n.c && qrun $tag 120 train $M --phase clr --from "$T/$b.r" --wbits 2 --abits 2 --lipschitz 1e-4
        if [ "$RC" -ne 0 ]; then fail $n "$tag: $(why $tag)"; continue; fi
        local ok=1 p
        for p in f r c; do
            json_lines "$T/$n.$p.out" || { fail $n "phase $p: $JMSG"; ok=0; break; }
            has_keys "$T/$n.$p.out" model_bits bops test_acc || { fail $n "phase $p: model_bits/bops missing"; ok=0; break; }
        done
        [ $ok = 1 ] || continue
        local fb rb cb fo ro co lip
        fb=$(jget "$T/$n.f.out" model_bits) rb=$(jget "$T/$n.r.out" model_bits) cb=$(jget "$T/$n.c.out" model_bits)
        fo=$(jget "$T/$n.f.out" bops) ro=$(jget "$T/$n.r.out" bops) co=$(jget "$T/$n.c.out" bops)
        lip=$(jget "$T/$n.c.out" lipschitz)
        if ! fge "$fb" "$((4 * rb))" || [ "$rb" != "$cb" ] || ! fge "$fo" "$((16 * ro))" || [ "$ro" != "$co" ]; then
            fail $n "model_bits float $fb retrain $rb clr $cb, bops float $fo retrain $ro clr $co"
        elif [ -z "$lip" ] || ! fge "$lip" 0; then
            fail $n "clr --lipschitz: no lipschitz value in $(tail -1 "$T/$n.c.out" | cut -c1-200)"
        else
            pass $n
        fi
    done
}

# methods.md section 8 for fcdnn-128-4: float 32 x 33666 bits; W2A2: first
# and last 8-bit, hidden 2-bit, biases 32; BOPs as tests/test_qat.c.
test_cost_fcdnn() {
    local n=qat_cost_fcdnn M="--model fcdnn --width 128 --depth 4 --data synthetic --train-limit 512 --test-limit 100 --epochs 1"
    qrun $n.f 60 train $M --save "$T/c.f" || { fail $n "$(why $n.f)"; return; }
    qrun $n.r 60 train $M --phase retrain --from "$T/c.f" --wbits 2 --abits 2 || { fail $n "$(why $n.r)"; return; }
    local fb rb ro
    fb=$(jget "$T/$n.f.out" model_bits) rb=$(jget "$T/$n.r.out" model_bits) ro=$(jget "$T/$n.r.out" bops)
    if [ "$fb" = 1077312 ] && [ "$rb" = 81984 ] && [ "$ro" = 200704 ]; then pass $n
    else fail $n "model_bits float $fb (want 1077312), W2A2 $rb (want 81984), W2A2 bops $ro (want 200704)"; fi
}

# A parent of another architecture is refused, naming both.
test_other_arch() {
    local n=qat_other_arch F8="--model fcdnn --depth 4 --data synthetic --train-limit 512 --test-limit 100 --epochs 1"
    qrun $n.f 60 train $F8 --width 16 --save "$T/a.f" &&
        qrun $n.r 60 train $F8 --width 16 --phase retrain --from "$T/a.f" --wbits 2 --abits 2 --save "$T/a.r"
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n.r)"; return; fi
    expect_usage qat_clr_from_other_arch "fcdnn-16-4.*fcdnn-24-4" \
        train $F8 --width 24 --phase clr --from "$T/a.r" --wbits 2 --abits 2
    expect_usage qat_clr_from_other_bits "W2A2 checkpoint.*W4A4" \
        train $F8 --width 16 --phase clr --from "$T/a.r" --wbits 4 --abits 4
    # The chain is float -> retrain -> clr.
    expect_usage qat_clr_from_float "a.f is a float checkpoint; the clr phase starts from a retrain one" \
        train $F8 --width 16 --phase clr --from "$T/a.f" --wbits 2 --abits 2
    expect_usage qat_retrain_from_retrain "a.r is a retrain checkpoint; the retrain phase starts from a float one" \
        train $F8 --width 16 --phase retrain --from "$T/a.r" --wbits 4 --abits 4
    if [ -z "$FMNIST_DIR" ]; then fail qat_retrain_from_other_block "$FMNIST_MISSING"; return; fi
    qrun $n.b 120 train --model resnet --block basic --depth 8 --width 4 $FM --epochs 1 --save "$T/basic.f" ||
        { fail qat_retrain_from_other_block "$(why $n.b)"; return; }
    expect_usage qat_retrain_from_other_block "resnet-basic-8-4.*resnet-preact-8-4" \
        train --model resnet --block preact --depth 8 --width 4 $FM --epochs 1 --phase retrain \
        --from "$T/basic.f" --wbits 2 --abits 2
}

# --epochs 2 == --stop-after 1 + --resume, bit for bit (JSON without the
# wall-clock keys, and the final checkpoints), for retrain W2A2 and clr.
test_resume() {
    local M="--model fcdnn --width 32 --depth 4 --data synthetic --train-limit 2048 --test-limit 500"
    qrun qat_resume.f 60 train $M --epochs 2 --save "$T/res.f" || { fail qat_resume "$(why qat_resume.f)"; return; }
    local ph parent
    for ph in retrain clr; do
        local n=qat_resume_$ph Q2="--phase $ph --wbits 2 --abits 2 --epochs 2"
        parent="$T/res.f"
        [ $ph = clr ] && parent="$T/res.retrain.full"
        qrun $n.full 60 train $M $Q2 --from "$parent" --save "$T/res.$ph.full" &&
            qrun $n.half 60 train $M $Q2 --from "$parent" --stop-after 1 --save "$T/res.$ph.half" &&
            qrun $n.rest 60 train $M $Q2 --resume "$T/res.$ph.half" --save "$T/res.$ph.half"
        if [ "$RC" -ne 0 ]; then fail $n "$(why $n.rest)"; continue; fi
        cat "$T/$n.half.out" "$T/$n.rest.out" >"$T/$n.both.out"
        strip_timing "$T/$n.full.out" "$T/$n.a"
        strip_timing "$T/$n.both.out" "$T/$n.b"
        if ! cmp -s "$T/$n.a" "$T/$n.b"; then
            fail $n "JSON differs: $(diff "$T/$n.a" "$T/$n.b" | head -3 | cut -c1-200)"
        elif ! cmp -s "$T/res.$ph.full" "$T/res.$ph.half"; then
            fail $n "final checkpoints differ"
        else
            pass $n
        fi
    done
}

# qsweep export: the JSON of docs/export.md; refusals exit 2.
test_export() {
    local n=qat_export M="--model fcdnn --width 16 --depth 4 --data synthetic --train-limit 512 --test-limit 100 --epochs 1"
    qrun $n.f 60 train $M --save "$T/e.f" &&
        qrun $n.r 60 train $M --phase retrain --from "$T/e.f" --wbits 3 --abits 2 --save "$T/e.r" &&
        qrun $n 60 export --from "$T/e.r" --out "$T/e.json"
    if [ "$RC" -ne 0 ]; then fail $n "$(why $n)"; return; fi
    if ! json_lines "$T/$n.out" || [ "$(jget "$T/$n.out" wbits)" != 3 ]; then
        fail $n "stdout: $(head -c 300 "$T/$n.out")"
    elif [ -n "$PY" ] && ! "$PY" - "$T/e.json" >"$T/$n.py" 2>&1 <<'PY'
import base64, json, sys
e = json.load(open(sys.argv[1]))
assert e["format"] == "qsweep-export" and e["version"] == 1 and e["model"] == "fcdnn-16-4", e["model"]
lin = [n for n in e["nodes"] if n["type"] == "linear"]
pact = [n for n in e["nodes"] if n["type"] == "pact"]
assert [l["bits"] for l in lin] == [8, 3, 3, 8], [l["bits"] for l in lin]
assert len(pact) == 3 and all(p["bits"] == 2 and p["alpha"] > 0 and p["levels"] == 3 for p in pact)
for l in lin:
    codes = [c - 256 if c > 127 else c for c in base64.b64decode(l["codes"])]
    o, i = l["weight_shape"][:2]
    m = 2 ** (l["bits"] - 1) - 1
    assert len(codes) == o * i and max(map(abs, codes)) <= m and l["step"] > 0, l["id"]
    assert len(l["bias"]) == o
PY
    then
        fail $n "export JSON: $(tail -3 "$T/$n.py" | tr '\n' ' ' | cut -c1-300)"
    else
        pass $n
    fi
    expect_usage qat_export_float "W32A32" export --from "$T/e.f" --out "$T/x.json"
    expect_usage qat_export_missing_out "--out FILE are required" export --from "$T/e.r"
    expect_usage qat_export_no_file "$T/nope.qsc" export --from "$T/nope.qsc" --out "$T/x.json"
}

# The decision map of a trained fcdnn-128-4 (20 epochs): a 256 x 256 binary
# PGM whose labels form rings: both labels present, label mostly a
# function of the radius, several label changes along each ray, and
# mostly the true ring labels inside the disc of radius 10.5.
test_decision_map() {
    local n=qat_decision_map
    qrun $n 120 train --model fcdnn --width 128 --depth 4 --data synthetic --epochs 20 \
        --decision-map "$T/map.pgm" || { fail $n "$(why $n)"; return; }
    local hdr size
    hdr=$(head -c 15 "$T/map.pgm" | od -An -c | tr -d ' \n')
    size=$(wc -c <"$T/map.pgm")
    if [ "$hdr" != 'P5\n256256\n255\n' ] || [ "$size" -ne $((15 + 65536)) ]; then
        fail $n "header '$hdr', $size bytes (want P5 256 256 255, 65551 bytes)"; return
    fi
    local stats
    stats=$(tail -c 65536 "$T/map.pgm" | od -An -tu1 -v | tr -s ' ' '\n' | grep -v '^$' | awk '
        { v = $1; i = int((NR - 1) / 256); j = (NR - 1) % 256
          if (v != 0 && v != 255) bad++
          x = -11 + 22 * j / 255; y = 11 - 22 * i / 255; d = sqrt(x * x + y * y)
          l = v == 255; ones += l
          if (d <= 10.5) { k = int(d + 0.5); if (k < 1) k = 1; if (k > 10) k = 10
                           disc++; right += (l == k % 2) }
          b = int(d / 0.25); cnt[b]++; on[b] += l
          if (i == 128) row[j] = l; if (j == 128) col[i] = l }
        END { for (b in cnt) { m = on[b] > cnt[b] - on[b] ? on[b] : cnt[b] - on[b]; pure += m }
              for (j = 1; j < 256; j++) { t += row[j] != row[j - 1]; t += col[j] != col[j - 1] }
              printf "%d %d %.4f %.4f %d\n", bad, ones, pure / NR, right / disc, t }')
    local bad ones purity truth trans
    read -r bad ones purity truth trans <<<"$stats"
    if [ "$bad" -ne 0 ]; then fail $n "$bad pixels neither 0 nor 255"
    elif [ "$ones" -lt 6554 ] || [ "$ones" -gt 58982 ]; then fail $n "label 1 on $ones of 65536 pixels"
    elif ! fge "$purity" 0.85; then fail $n "labels are not rings: radial purity $purity < 0.85"
    elif [ "$trans" -lt 16 ]; then fail $n "only $trans label changes along the two central lines (true map: 36)"
    elif ! fge "$truth" 0.7; then fail $n "agrees with the true rings on $truth of the disc"
    else pass $n; fi
}

run_cases test_three_blocks test_cost_fcdnn test_other_arch test_resume test_export test_decision_map
