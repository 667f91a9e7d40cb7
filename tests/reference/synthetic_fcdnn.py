"""Float FCDNN W-D on the synthetic rings (methods.md sections 1, 3, 6).

Protocol: Adam lr 1e-3 (betas 0.9/0.999, eps 1e-8, no weight decay), cosine to 0
evaluated per iteration over all iterations, batch 128 (last partial batch
dropped), fresh shuffle each epoch, 100 epochs. The spec expects test accuracy
~96% for 128-4 and ~70% for 128-3. Prints one JSON object.

  /usr/bin/python3 tests/reference/synthetic_fcdnn.py --width 128 --depth 4 --seeds 0 1 2
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import common  # noqa: E402


def run(args, seed, data):
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    model = common.FCDNN(args.width, args.depth, residual=args.residual)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    per_epoch = len(xtr) // args.batch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, common.cosine_lambda(per_epoch * args.epochs))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return common.evaluate(model, xte, yte), loss.item()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--residual", action="store_true")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    common.set_threads(args.threads)
    data = common.rings(seed=args.data_seed)
    accs, t0 = {}, time.time()
    for s in args.seeds:
        acc, loss = run(args, s, data)
        accs[s] = acc
        print(f"seed {s}: test acc {acc:.2f}% final train loss {loss:.4f} ({time.time() - t0:.0f}s)",
              file=sys.stderr)
    vals = list(accs.values())
    print(json.dumps({
        "model": f"fcdnn-{args.width}-{args.depth}" + ("-res" if args.residual else ""),
        "epochs": args.epochs, "torch": torch.__version__,
        "test_acc": {str(k): round(v, 2) for k, v in accs.items()},
        "mean": round(statistics.mean(vals), 2),
        "std": round(statistics.stdev(vals), 2) if len(vals) > 1 else 0.0,
        "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
