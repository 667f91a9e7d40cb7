"""PyTorch training-throughput reference for qsweep's bench.

Times forward + backward + SGD step (momentum 0.9, lr 0.1, wd 5e-4) of one
model from tests/reference/common.py (basic / preact / depthwise ResNets,
FCDNN) on a random batch, after 2 warm-up steps; --reps R times R runs of
--steps steps and reports the fastest, like `qsweep bench --reps`.
Prints one JSON line: model, impl, torch, batch, threads, img_per_s, rss_mb
(peak RSS of the process from getrusage), load1 (load average at start).

  /usr/bin/python3 bench/torch_ref.py --model resnet --block basic --depth 20 --width 31 --threads 1 --steps 5
  /usr/bin/python3 bench/torch_ref.py --model fcdnn --width 256 --depth 4 --steps 200
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import common  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["resnet", "fcdnn"], default="resnet")
    p.add_argument("--block", default="basic", choices=sorted(common.BLOCKS))
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--reps", type=int, default=1)
    args = p.parse_args()
    load1 = os.getloadavg()[0]
    common.set_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "resnet":
        model = common.ResNet(args.block, args.depth, args.width)
        x, name = torch.randn(args.batch, 3, 32, 32), f"resnet-{args.block}-{args.depth}-{args.width}"
        classes = 10
    else:
        model = common.FCDNN(args.width, args.depth)
        x, name = torch.randn(args.batch, 2), f"fcdnn-{args.width}-{args.depth}"
        classes = 2
    y = torch.randint(0, classes, (args.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    model.train()

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    dt = None
    for _ in range(max(1, args.reps)):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        d = time.perf_counter() - t0
        dt = d if dt is None else min(dt, d)
    print(json.dumps({
        "model": name, "impl": "pytorch", "torch": torch.__version__, "batch": args.batch,
        "threads": args.threads, "steps": args.steps, "reps": args.reps, "load1": round(load1, 2),
        "img_per_s": round(args.batch * args.steps / dt, 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}))


if __name__ == "__main__":
    main()
