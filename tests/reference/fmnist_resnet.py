"""Small float basic ResNet on a Fashion-MNIST subset (methods.md sections 1, 3).

Defaults are the settings the C test uses: basic block, depth 8, width 8,
1-channel stem, first 4000 training / first 1000 test images (28x28 padded to
32x32, normalised with mean 0.2860 std 0.3530), 3 epochs, batch 128 (last
partial batch dropped), SGD momentum 0.9, lr 0.1 cosine to 0 per iteration,
weight decay 5e-4, random crop (4-pixel zero padding) + horizontal flip.
Prints one JSON object with per-seed and mean/std final test accuracy.

  /usr/bin/python3 tests/reference/fmnist_resnet.py --seeds 0 1 2
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
    model = common.ResNet(args.block, args.depth, args.width, in_channels=1)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                          weight_decay=args.weight_decay)
    per_epoch = len(xtr) // args.batch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, common.cosine_lambda(per_epoch * args.epochs))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            xb = xtr[idx]
            if not args.no_augment:
                xb = common.augment(xb, gen)
            loss = F.cross_entropy(model(common.normalise(xb)), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return common.evaluate(model, xte, yte, prep=common.normalise), loss.item()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--block", default="basic", choices=sorted(common.BLOCKS))
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--train-limit", type=int, default=4000)
    p.add_argument("--test-limit", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    common.set_threads(args.threads)
    data = common.fashion_mnist(args.train_limit, args.test_limit)
    accs, t0 = {}, time.time()
    for s in args.seeds:
        acc, loss = run(args, s, data)
        accs[s] = acc
        print(f"seed {s}: test acc {acc:.2f}% final train loss {loss:.4f} ({time.time() - t0:.0f}s)",
              file=sys.stderr)
    vals = list(accs.values())
    print(json.dumps({
        "model": f"resnet-{args.block}-{args.depth}-{args.width}", "data": "fashion-mnist",
        "train_limit": args.train_limit, "test_limit": args.test_limit, "epochs": args.epochs,
        "torch": torch.__version__,
        "test_acc": {str(k): round(v, 2) for k, v in accs.items()},
        "mean": round(statistics.mean(vals), 2),
        "std": round(statistics.stdev(vals), 2) if len(vals) > 1 else 0.0,
        "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
