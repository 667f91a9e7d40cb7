"""Shared PyTorch reference models and data for qsweep (spec: /work/shared/spec/methods.md).

- FCDNN W-D (section 1), optional residual (f(h) + h) * 0.5 on the W -> W layers.
- CIFAR-style ResNets with basic / preact / depthwise blocks (section 1).
- Synthetic rings data (section 6), Fashion-MNIST from Debian's idx files and
  CIFAR-10 from the binary batches (data/cifar10/).
PyTorch's default init is the spec's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
conv/linear weights and biases, BN gamma 1 / beta 0, momentum 0.1, eps 1e-5.

Run `/usr/bin/python3 tests/reference/common.py --selftest` to check the
parameter counts of methods.md.
"""
import gzip
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def set_threads(n):
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)


# ---------------------------------------------------------------- models
class FCDNN(nn.Module):
    """2 -> W, (D-2) x (W -> W), W -> classes; ReLU after every hidden layer."""

    def __init__(self, width, depth, in_features=2, classes=2, residual=False):
        super().__init__()
        assert depth >= 2
        self.residual = residual
        self.first = nn.Linear(in_features, width)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 2))
        self.last = nn.Linear(width, classes)

    def forward(self, x):
        h = F.relu(self.first(x))
        for lin in self.hidden:
            f = F.relu(lin(h))
            h = (f + h) * 0.5 if self.residual else f
        return self.last(h)


def conv3x3(cin, cout, stride=1, groups=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride, 0, bias=False)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, + shortcut (1x1 conv s2 + BN on shape change), ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, cout, stride), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = conv3x3(cout, cout), nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        return F.relu(o + (x if self.short is None else self.short(x)))


class PreactBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3, + shortcut (1x1 conv s2, no BN, on the
    first BN-ReLU output when the shape changes), no ReLU after the add."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), conv3x3(cin, cout, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), conv3x3(cout, cout)
        self.short = conv1x1(cin, cout, stride) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        o = F.relu(self.bn1(x))
        s = x if self.short is None else self.short(o)
        o = self.conv1(o)
        o = self.conv2(F.relu(self.bn2(o)))
        return o + s


class DepthwiseBlock(nn.Module):
    """Inverted residual: 1x1 expand to 6 x cout - BN - ReLU - dw3x3 (stride) -
    BN - ReLU - 1x1 project - BN, + shortcut (1x1 conv s2 + BN on shape change)."""

    def __init__(self, cin, cout, stride, expand=6):
        super().__init__()
        hid = expand * cout
        self.expand, self.bn1 = conv1x1(cin, hid), nn.BatchNorm2d(hid)
        self.dw, self.bn2 = conv3x3(hid, hid, stride, groups=hid), nn.BatchNorm2d(hid)
        self.project, self.bn3 = conv1x1(hid, cout), nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.bn1(self.expand(x)))
        o = F.relu(self.bn2(self.dw(o)))
        o = self.bn3(self.project(o))
        return o + (x if self.short is None else self.short(x))


BLOCKS = {"basic": (BasicBlock, 6), "preact": (PreactBlock, 6), "depthwise": (DepthwiseBlock, 9)}


class ResNet(nn.Module):
    """Stem 3x3 conv (+BN-ReLU except preact); 3 groups of n blocks at k, 2k, 4k
    (stride 2 at the first block of groups 2 and 3); preact: final BN-ReLU; GAP; linear."""

    def __init__(self, block="basic", depth=20, width=16, in_channels=3, classes=10):
        super().__init__()
        cls, per = BLOCKS[block]
        assert (depth - 2) % per == 0, f"{block} depth must be {per}n+2"
        n = (depth - 2) // per
        self.preact = block == "preact"
        self.stem = conv3x3(in_channels, width)
        self.stem_bn = None if self.preact else nn.BatchNorm2d(width)
        layers, cin = [], width
        for g, cout in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                layers.append(cls(cin, cout, 2 if (g > 0 and i == 0) else 1))
                cin = cout
        self.blocks = nn.Sequential(*layers)
        self.final_bn = nn.BatchNorm2d(cin) if self.preact else None
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.stem(x)
        if self.stem_bn is not None:
            x = F.relu(self.stem_bn(x))
        x = self.blocks(x)
        if self.final_bn is not None:
            x = F.relu(self.final_bn(x))
        return self.fc(x.mean((2, 3)))


def param_count(model):
    """Learnable weights, biases, BN gamma and beta (no running stats)."""
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- data
def rings(seed=0, radii=10, points=100, copies=9, sigma=0.1, test_points=10000,
          test_radius=10.5):
    """Synthetic semicircles of methods.md section 6. Returns float32 tensors
    (xtr, ytr, xte, yte), inputs divided by the largest radius.
    Angles: np.linspace(0, pi, points) (upper) and np.linspace(pi, 2pi, points) (lower)."""
    rng = np.random.default_rng(seed)
    core, lab = [], []
    for r in range(1, radii + 1):
        for a0 in (0.0, math.pi):
            th = np.linspace(a0, a0 + math.pi, points)
            core.append(np.stack([r * np.cos(th), r * np.sin(th)], 1))
            lab.append(np.full(points, r % 2))
    core, lab = np.concatenate(core), np.concatenate(lab)
    noisy = [core] + [core + rng.normal(0.0, sigma, core.shape) for _ in range(copies)]
    xtr, ytr = np.concatenate(noisy), np.tile(lab, copies + 1)
    rad = test_radius * np.sqrt(rng.uniform(size=test_points))
    th = rng.uniform(0, 2 * math.pi, test_points)
    xte = np.stack([rad * np.cos(th), rad * np.sin(th)], 1)
    yte = np.clip(np.round(rad), 1, radii).astype(np.int64) % 2
    f = lambda a: torch.tensor(a / radii, dtype=torch.float32)
    return f(xtr), torch.tensor(ytr, dtype=torch.long), f(xte), torch.tensor(yte, dtype=torch.long)


FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530


def _idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(train_limit=0, test_limit=0, root=FMNIST_DIR):
    """Raw images in [0, 1] zero-padded 28 -> 32, shape [N, 1, 32, 32], and labels.
    limit 0 = whole split, else the first `limit` examples. Normalise with
    `normalise` AFTER augmentation (padding pixels are raw 0, as torchvision)."""
    out = []
    for split, lim in (("train", train_limit), ("t10k", test_limit)):
        x = _idx(f"{root}/{split}-images-idx3-ubyte.gz")
        y = _idx(f"{root}/{split}-labels-idx1-ubyte.gz")
        if lim:
            x, y = x[:lim], y[:lim]
        x = torch.tensor(x, dtype=torch.float32).div_(255.0).unsqueeze(1)
        out += [F.pad(x, (2, 2, 2, 2)), torch.tensor(y, dtype=torch.long)]
    return tuple(out)


CIFAR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "cifar10")
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR_REC = 1 + 3 * 32 * 32


def _cifar_split(root, files, limit):
    recs, left = [], limit
    for name in files:
        raw = np.fromfile(os.path.join(root, name), np.uint8).reshape(-1, CIFAR_REC)
        recs.append(raw[:left] if limit else raw)
        left -= len(recs[-1])
        if limit and left <= 0:
            break
    raw = np.concatenate(recs)
    x = torch.tensor(raw[:, 1:].reshape(-1, 3, 32, 32), dtype=torch.float32).div_(255.0)
    return x, torch.tensor(raw[:, 0], dtype=torch.long)


def cifar10(train_limit=0, test_limit=0, root=CIFAR_DIR):
    """Raw images in [0, 1], shape [N, 3, 32, 32], and labels: the first
    `limit` records (0 = all) of data_batch_1..5 in file order / test_batch.
    Normalise with normalise(x, CIFAR_MEAN, CIFAR_STD) after augmentation."""
    train = _cifar_split(root, [f"data_batch_{i}.bin" for i in range(1, 6)], train_limit)
    return train + _cifar_split(root, ["test_batch.bin"], test_limit)


def normalise(x, mean=FMNIST_MEAN, std=FMNIST_STD):
    """(x - mean) / std; mean and std scalars or per-channel sequences."""
    if not isinstance(mean, (int, float)):
        mean = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - mean) / std


def augment(x, gen, pad=4):
    """RandomCrop(H, padding=pad) + RandomHorizontalFlip on a raw batch [N, C, H, W]."""
    n, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        c = xp[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = c.flip(-1) if flip[i] else c
    return out


def cosine_lambda(total_iters):
    """lr factor at iteration t (0-based): 0.5 (1 + cos(pi t / T)), cosine to 0."""
    return lambda t: 0.5 * (1.0 + math.cos(math.pi * t / total_iters))


def step_lambda(total_iters, milestones, gamma=0.1):
    """lr factor at iteration t: gamma^(number of milestones m with
    t >= round(m total_iters)), rounding half away from zero as C's lround."""
    at = [math.floor(m * total_iters + 0.5) for m in milestones]
    return lambda t: gamma ** sum(t >= a for a in at)


@torch.no_grad()
def evaluate(model, x, y, batch=1000, prep=None):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        if prep is not None:
            xb = prep(xb)
        correct += (model(xb).argmax(1) == y[i:i + batch]).sum().item()
    return 100.0 * correct / len(x)


def selftest():
    checks = {
        "resnet-basic-20-31": (ResNet("basic", 20, 31), 1018019),
        "fcdnn-200-4": (FCDNN(200, 4), 81402),
        "fcdnn-128-6": (FCDNN(128, 6), 66690),
    }
    for name, (m, want) in checks.items():
        got = param_count(m)
        print(f"{name}: {got} params (want {want})")
        assert got == want, name
    for blk, d in (("preact", 20), ("depthwise", 20), ("basic", 8)):
        for cin in (3, 1):
            m = ResNet(blk, d, 16, in_channels=cin)
            y = m(torch.zeros(2, cin, 32, 32))
            assert y.shape == (2, 10)
            print(f"resnet-{blk}-{d}-16 in{cin}: {param_count(m)} params, forward ok")
    assert FCDNN(16, 4, residual=True)(torch.zeros(3, 2)).shape == (3, 2)
    xtr, ytr, xte, yte = rings()
    assert xtr.shape == (20000, 2) and xte.shape == (10000, 2)
    print(f"rings: train {tuple(xtr.shape)} mean label {ytr.float().mean():.3f}, "
          f"test {tuple(xte.shape)} mean label {yte.float().mean():.3f}, max |x| {xte.norm(dim=1).max():.3f}")
    if os.path.exists(FMNIST_DIR):
        a, b, c, d = fashion_mnist(100, 50)
        assert a.shape == (100, 1, 32, 32) and c.shape == (50, 1, 32, 32)
        assert augment(a, torch.Generator().manual_seed(0)).shape == a.shape
        print(f"fashion-mnist: {tuple(a.shape)} labels {b[:10].tolist()}, test {tuple(c.shape)}")
    if os.path.exists(os.path.join(CIFAR_DIR, "test_batch.bin")):
        a, b, c, d = cifar10(10050, 20)
        assert a.shape == (10050, 3, 32, 32) and c.shape == (20, 3, 32, 32)
        x = normalise(a[:2000], CIFAR_MEAN, CIFAR_STD)
        print(f"cifar10: {tuple(a.shape)} labels {b[:10].tolist()}, test {tuple(c.shape)} "
              f"labels {d[:10].tolist()}, normalised channel means "
              f"{[round(v, 3) for v in x.mean((0, 2, 3)).tolist()]}")
    lam = step_lambda(45, (0.5, 0.8))
    assert [lam(t) for t in (22, 23, 35, 36)] == [1.0, 0.1, 0.1, 0.1 ** 2], "step milestones"
    print("selftest ok")


if __name__ == "__main__":
    if "--selftest" in sys.argv:
        set_threads(1)
        selftest()
