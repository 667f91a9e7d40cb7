"""Figure 9 with the retrain learning rate swept (docs/results/fig9-lr.md):
the cells of sweeps/fig9-lr.json (mean +- std over seeds) and, per depth and
retrain lr, W2AF residual minus plain with its 95 % Welch t interval over the
per-seed values, the rule of docs/verdicts.md. Standard library only:
  /usr/bin/python3 docs/results/fig9_lr_verdicts.py run/fig9-lr.db"""
import os, sqlite3, statistics as st, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from welch import welch  # noqa: E402
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""select r.depth, r.residual, r.wbits, r.abits, json_extract(p.config,'$.lr') lr, r.seed, r.test_acc
  from runs r join phases p on p.id = r.phase_id where r.status='done' and r.sweep='fig9-lr'""").fetchall()
cells = {}
for d, res, wb, ab, lr, s, acc in rows:
    key = (d, res, wb, ab, lr if (wb, ab) != (32, 32) else None)
    cells.setdefault(key, []).append(acc)
def fmt(v): return f"{st.mean(v):.2f}±{st.stdev(v):.2f} ({len(v)})"
names = {(32,32):'float',(2,32):'W2AF',(32,2):'WFA2',(2,2):'W2A2'}
print("| model | retrain lr | float | W2AF | WFA2 | W2A2 |\n|---|---|---:|---:|---:|---:|")
for res in (0, 1):
    for d in (4, 6, 8):
        for lr in (0.0001, 0.001):
            c = [cells.get((d, res, 32, 32, None), [])] + [cells.get((d, res, wb, ab, lr), []) for wb, ab in ((2,32),(32,2),(2,2))]
            print(f"| fcdnn{'-res' if res else ''}-128-{d} | {lr:g} | " + " | ".join(fmt(v) if len(v) > 1 else '-' for v in c) + " |")
print("\nW2AF residual - plain (Welch 95 % interval over 3 + 3 seeds):\n\n| depth | retrain lr | diff | 95 % interval | verdict |\n|---|---|---:|---|---|")
for lr in (0.0001, 0.001):
    for d in (4, 6, 8):
        a, b = cells.get((d, 1, 2, 32, lr), []), cells.get((d, 0, 2, 32, lr), [])
        if len(a) < 2 or len(b) < 2: print(f"| {d} | {lr:g} | - | - | not enough data |"); continue
        m, lo, hi = welch(a, b)
        v = 'holds' if lo > 0 else 'contradicted' if hi < 0 else 'within noise'
        print(f"| {d} | {lr:g} | {m:+.2f} | [{lo:+.2f}, {hi:+.2f}] | {v} |")
