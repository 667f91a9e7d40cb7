"""PyTorch reference for one ResNet row of sweeps/table5-mini.json or
sweeps/table5-small.json (basic or preact block), independent of the C code:
the model and protocol qsweep runs.

Data: the first 2000 CIFAR-10 training images (data_batch_1 first) and the
first 1000 test images, per-channel mean/std normalisation, crop (4-pixel
zero padding) + flip. Float: 6 epochs, SGD 0.9, lr 0.1, wd 5e-4, x0.1 at
iterations round(0.5 T) and round(0.75 T). Retrain W2AF / WFA2 / W2A2 from
the float model: 3 epochs, fresh SGD 0.9, lr 0.01, no wd, x0.1 at round(0.5 T)
and round(0.8 T); stem conv and last linear at 8 bits when wbits < 32; PACT
alphas by the MSE calibration (all 2000 training images, BN eval, float
weights; like qsweep, at most 2^20 values per layer by a
fixed stride, --calib-cap), loss + 1e-4 a^2. Quantizers: qat_fcdnn.py; layers: qat_resnet.py.
Batch 128, last partial batch dropped; accuracy = final-epoch test accuracy.

  OMP_NUM_THREADS=1 /usr/bin/python3 tests/reference/table5_mini.py \\
      --block basic --depth 20 --width 7 --seeds 1 2 \\
      --qsweep-db out/table5-mini.db --out out/crosscheck/resnet-basic-20-7.json

--protocol table5-small switches to that sweep's protocol: all 50,000
training and 10,000 test images, float 15 epochs and retrain 2 epochs, both
cosine to 0 per iteration (other settings as above; the alpha calibration
uses a fixed-seed sample of 2,000 training images, as qsweep does), e.g.

  OMP_NUM_THREADS=1 /usr/bin/python3 tests/reference/table5_mini.py \\
      --protocol table5-small --block basic --depth 20 --width 10 \\
      --variants W2A2 --seeds 1 2 --qsweep-db docs/results/table5-small.csv
"""
import argparse
import csv
import functools
import json
import os
import sqlite3
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import common  # noqa: E402
from qat_fcdnn import SETTINGS  # noqa: E402
from qat_resnet import QResNet, calibrate, train  # noqa: E402

PREP = functools.partial(common.normalise, mean=common.CIFAR_MEAN, std=common.CIFAR_STD)


def run_seed(args, seed, data):
    xtr, _, xte, yte = data
    net = functools.partial(QResNet, args.depth, args.width, in_channels=3, block=args.block)
    torch.manual_seed(seed)
    base = net()
    cosine = args.protocol == "table5-small"
    train(base, data, args.float_epochs, 0.1, 5e-4, torch.Generator().manual_seed(seed),
          milestones=None if cosine else (0.5, 0.75), prep=PREP)
    acc = {"float": common.evaluate(base, xte, yte, prep=PREP)}
    for name in args.variants:
        wb, ab = SETTINGS[name]
        q = net(wbits=wb, abits=ab)
        q.load_state_dict(base.state_dict(), strict=False)
        if ab < 32:
            calibrate(q, xtr, n=min(len(xtr), 2000), prep=PREP, cap=args.calib_cap)
        acc[name + "_start"] = common.evaluate(q, xte, yte, prep=PREP)
        train(q, data, args.retrain_epochs, 0.01, 0.0, torch.Generator().manual_seed(seed + 1000),
              milestones=None if cosine else (0.5, 0.8), prep=PREP)
        acc[name] = common.evaluate(q, xte, yte, prep=PREP)
    return acc


def qsweep_numbers(src, model, sweep):
    """{variant: {seed: test_acc}} of qsweep's runs of this model, from a sweep
    database or from a CSV export of its runs view (docs/results/*.csv)."""
    out = {}
    if src.endswith(".csv"):
        with open(src, newline="") as f:
            rows = sorted((int(r["wbits"]), int(r["abits"]), int(r["seed"]), float(r["test_acc"]))
                          for r in csv.DictReader(f)
                          if r["sweep"] == sweep and r["model"] == model and r["status"] == "done")
    else:
        with sqlite3.connect(src) as con:
            rows = con.execute("select wbits, abits, seed, test_acc from runs where sweep = ? and "
                               "model = ? and status = 'done' order by seed", (sweep, model)).fetchall()
    names = {v: k for k, v in SETTINGS.items()}
    for wb, ab, seed, acc in rows:
        out.setdefault(names.get((wb, ab), "float"), {})[str(seed)] = acc
    return out


def stats(by_seed):
    vals = list(by_seed.values())
    return {"mean": round(statistics.mean(vals), 2),
            "std": round(statistics.stdev(vals), 2) if len(vals) > 1 else 0.0}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--protocol", default="table5-mini", choices=["table5-mini", "table5-small"])
    p.add_argument("--block", default="basic", choices=["basic", "preact"])
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--width", type=int, default=7)
    p.add_argument("--variants", nargs="*", default=["W2AF", "WFA2", "W2A2"], choices=sorted(SETTINGS))
    p.add_argument("--train-limit", type=int, default=2000)
    p.add_argument("--test-limit", type=int, default=1000)
    p.add_argument("--float-epochs", type=int, default=6)
    p.add_argument("--retrain-epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--calib-cap", type=int, default=1 << 20,
                   help="values per layer kept for the alpha calibration (qsweep's 2^20; 0 = all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--qsweep-db", default=None, help="add qsweep's numbers from this sweep db or runs CSV "
                   "(e.g. docs/results/table5-small.csv)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args()
    if args.protocol == "table5-small":
        args.train_limit, args.test_limit = 0, 0
        args.float_epochs, args.retrain_epochs = 15, 2
    common.set_threads(args.threads)
    data = common.cifar10(args.train_limit, args.test_limit)
    model = f"resnet-{args.block}-{args.depth}-{args.width}"
    res, t0 = {}, time.time()
    for s in args.seeds:
        res[str(s)] = run_seed(args, s, data)
        print(f"{model} seed {s}: " + " ".join(f"{k} {v:.1f}" for k, v in res[str(s)].items()) +
              f" ({time.time() - t0:.0f}s)", file=sys.stderr)
    report = {"model": model, "protocol": args.protocol, "data": "cifar10", "torch": torch.__version__,
              "train_limit": args.train_limit, "test_limit": args.test_limit,
              "float_epochs": args.float_epochs, "retrain_epochs": args.retrain_epochs,
              "threads": args.threads, "calib_cap": args.calib_cap, "seconds": round(time.time() - t0, 1),
              "per_seed": {s: {k: round(v, 2) for k, v in r.items()} for s, r in res.items()},
              "torch_acc": {k: stats({s: r[k] for s, r in res.items()}) for k in res[str(args.seeds[0])]}}
    if args.qsweep_db:
        q = qsweep_numbers(args.qsweep_db, model, args.protocol)
        report["qsweep"] = {k: dict(v, **stats(v)) for k, v in q.items()}
        report["diff_mean"] = {k: round(report["torch_acc"][k]["mean"] - report["qsweep"][k]["mean"], 2)
                               for k in q if k in report["torch_acc"]}
    text = json.dumps(report, indent=1)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
