"""PyTorch training-throughput reference for qsweep's bench.

Times forward + backward + SGD step (momentum 0.9, lr 0.1, wd 5e-4) of one
model from tests/reference/common.py (basic / preact / depthwise ResNets,
FCDNN), or an ImageNet ResNet of torchvision's layout written out below
(basic blocks for 18/34, bottlenecks for 50/101; 3 x 224 x 224 input,
1000 classes) on a random batch, after 2 warm-up steps; --reps R times R runs of
--steps steps and reports the fastest, like `qsweep bench --reps`.
Prints one JSON line: model, impl, torch, batch, threads, img_per_s, rss_mb
(peak RSS of the process from getrusage), load1 (load average at start),
cpu_util (CPU seconds over wall seconds x threads of the best rep, as
qsweep bench reports it: below 0.9 other processes took the cores).

  /usr/bin/python3 bench/torch_ref.py --model resnet --block basic --depth 20 --width 31 --threads 1 --steps 5
  /usr/bin/python3 bench/torch_ref.py --model fcdnn --width 256 --depth 4 --steps 200
  /usr/bin/python3 bench/torch_ref.py --model imagenet-resnet --depth 18 --batch 32 --steps 2
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

IMNET_STAGES = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
                50: ("bottleneck", [3, 4, 6, 3]), 101: ("bottleneck", [3, 4, 23, 3])}


class ImnetBlock(torch.nn.Module):
    """torchvision's BasicBlock / Bottleneck (stride on the 3x3, 1x1
    projection shortcut with BN where the shape changes)."""

    def __init__(self, kind, cin, width, stride):
        super().__init__()
        nn = torch.nn
        exp = 4 if kind == "bottleneck" else 1
        cout = width * exp
        if kind == "basic":
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
                nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
        else:
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
                nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                      if stride != 1 or cin != cout else nn.Identity())
        self.cout = cout

    def forward(self, x):
        return F.relu(self.body(x) + self.short(x))


def imnet_resnet(depth, width, classes=1000):
    nn = torch.nn
    kind, blocks = IMNET_STAGES[depth]
    layers = [nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
              nn.MaxPool2d(3, 2, 1)]
    cin = width
    for s, n in enumerate(blocks):
        for b in range(n):
            blk = ImnetBlock(kind, cin, width << s, 2 if (b == 0 and s > 0) else 1)
            layers.append(blk)
            cin = blk.cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["resnet", "fcdnn", "imagenet-resnet"], default="resnet")
    p.add_argument("--block", default="basic", choices=sorted(common.BLOCKS))
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--width", type=int, default=None,
                   help="16 (resnet, fcdnn), 64 (imagenet-resnet)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--reps", type=int, default=1)
    args = p.parse_args()
    load1 = os.getloadavg()[0]
    common.set_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "imagenet-resnet":
        if args.depth not in IMNET_STAGES:
            p.error(f"--depth {args.depth}: imagenet-resnet takes {sorted(IMNET_STAGES)}")
        w = args.width or 64
        model = imnet_resnet(args.depth, w)
        x, name = torch.randn(args.batch, 3, 224, 224), f"imagenet-resnet-{args.depth}-{w}"
        classes = 1000
    elif args.model == "resnet":
        args.width = args.width or 16
        model = common.ResNet(args.block, args.depth, args.width)
        x, name = torch.randn(args.batch, 3, 32, 32), f"resnet-{args.block}-{args.depth}-{args.width}"
        classes = 10
    else:
        args.width = args.width or 16
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
    dt = cpu = None
    for _ in range(max(1, args.reps)):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            step()
        d = time.perf_counter() - t0
        if dt is None or d < dt:
            dt, cpu = d, time.process_time() - c0
    print(json.dumps({
        "model": name, "impl": "pytorch", "torch": torch.__version__, "batch": args.batch,
        "threads": args.threads, "steps": args.steps, "reps": args.reps, "load1": round(load1, 2),
        "img_per_s": round(args.batch * args.steps / dt, 1),
        "params": sum(t.numel() for t in model.parameters()),
        "cpu_util": round(cpu / (dt * args.threads), 2),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}))


if __name__ == "__main__":
    main()
