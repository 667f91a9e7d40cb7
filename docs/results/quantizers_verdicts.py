"""sweeps/quantizers-small.json's cells and verdicts (docs/results/quantizers-small.md):
per block and quantizer, the W2A2 / W4A4 accuracy of the shallow, wide
network minus the deep, narrow one ("wide beats deep at 2 bits", the paper's
answer), LSQ+ minus Hwang-PACT per model, and the BitPruning arm's learned
widths; 95 % Welch intervals over seeds, the rule of docs/verdicts.md.
Standard library only:
  /usr/bin/python3 docs/results/quantizers_verdicts.py run/q.db"""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from welch import cell, verdict  # noqa: E402

SWEEP = 'quantizers-small'
PAIRS = {'basic': (8, 20), 'preact': (8, 20), 'depthwise': (11, 29)}
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""SELECT block, depth, width, params, quantizer, wbits, abits, seed, test_acc,
                            mean_wbits, mean_abits
                     FROM runs WHERE sweep = ? AND status = 'done'""", (SWEEP,)).fetchall()
acc, bits, names = {}, {}, {}
for block, depth, width, params, q, wb, ab, seed, a, mw, ma in rows:
    setting = 'float' if q == 'none' else 'learned' if q == 'bitprune' else f'W{wb}A{ab}'
    key = (block, depth, 'none' if q in ('none', 'bitprune') else q, setting)
    acc.setdefault(key, []).append(a)
    names[(block, depth)] = f'{block}-{depth}-{width} ({params / 1000:.1f}k)'
    if q == 'bitprune':
        bits.setdefault((block, depth), []).append((mw, ma))

cols = [('none', 'float'), ('hwang-pact', 'W4A4'), ('lsq+', 'W4A4'), ('hwang-pact', 'W2A2'),
        ('lsq+', 'W2A2'), ('none', 'learned')]
print('| model | float | W4A4 Hwang-PACT | W4A4 LSQ+ | W2A2 Hwang-PACT | W2A2 LSQ+ | BitPruning | its mean W / A bits |')
print('|---|---:|---:|---:|---:|---:|---:|---:|')
for block, (sd, dd) in PAIRS.items():
    for d in (sd, dd):
        b = bits.get((block, d), [])
        bw = ', '.join(f'{w:.2f} / {a:.2f}' for w, a in b) if b else '-'
        print(f'| {names.get((block, d), f"{block}-{d}")} | ' +
              ' | '.join(cell(acc.get((block, d, q, s), [])) for q, s in cols) + f' | {bw} |')

print('\nShallow-wide minus deep-narrow (the claim: > 0 at 2 bits):\n')
print('| block | setting | quantizer | shallow - deep | 95 % interval | verdict |')
print('|---|---|---|---:|---|---|')
for block, (sd, dd) in PAIRS.items():
    for s in ('W2A2', 'W4A4'):
        for q in ('hwang-pact', 'lsq+'):
            m, ci, v = verdict(acc.get((block, sd, q, s), []), acc.get((block, dd, q, s), []))
            print(f'| {block} {sd} vs {dd} | {s} | {q} | {m} | {ci} | {v} |')
    m, ci, v = verdict(acc.get((block, sd, 'none', 'learned'), []), acc.get((block, dd, 'none', 'learned'), []))
    print(f'| {block} {sd} vs {dd} | learned | bitprune | {m} | {ci} | {v} |')

print('\nLSQ+ minus Hwang-PACT (same float parents):\n')
print('| model | setting | LSQ+ - Hwang-PACT | 95 % interval | verdict |')
print('|---|---|---:|---|---|')
for block, (sd, dd) in PAIRS.items():
    for d in (sd, dd):
        for s in ('W2A2', 'W4A4'):
            m, ci, v = verdict(acc.get((block, d, 'lsq+', s), []), acc.get((block, d, 'hwang-pact', s), []))
            print(f'| {block}-{d} | {s} | {m} | {ci} | {v} |')
