"""PyTorch reference for the ResNet QAT end-to-end test (tests/test_qat_e2e.c):
basic ResNet on a Fashion-MNIST subset, float then W2A2 retraining, with the
quantizers of qat_fcdnn.py (weight step search + alternation, STE; PACT with
MSE alpha calibration on the float model in eval mode, L2 1e-4 a^2) at the
places methods.md section 2 lists for a basic block: the stem ReLU and both
ReLUs of every block (the second after the add). First conv and last linear
at 8 bits. Fashion-MNIST protocol (methods.md section 3), shortened:
float SGD 0.9 lr 0.1 cosine wd 5e-4; retrain SGD 0.9 lr 0.01 cosine, no wd;
crop (4-pixel padding) + flip; batch 128, last partial batch dropped.

  /usr/bin/python3 tests/reference/qat_resnet.py --seeds 0 1 2
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import common  # noqa: E402
from qat_fcdnn import calibrate_mse, pact, wquant  # noqa: E402


class QConv(nn.Conv2d):
    def __init__(self, cin, cout, k, stride, bits):
        super().__init__(cin, cout, k, stride, k // 2, bias=False)
        self.bits, self.step, self._ver, self._q = bits, 0.0, None, None

    def forward(self, x):
        w = self.weight
        if self.bits < 32:
            if self._ver != w._version:
                self._q, self.step = wquant(w.detach(), self.bits, self.step)
                self._ver = w._version
            w = w + (self._q - w).detach()
        return F.conv2d(x, w, None, self.stride, self.padding)


class QLin(nn.Linear):
    def __init__(self, i, o, bits):
        super().__init__(i, o)
        self.bits, self.step, self._ver, self._q = bits, 0.0, None, None

    def forward(self, x):
        w = self.weight
        if self.bits < 32:
            if self._ver != w._version:
                self._q, self.step = wquant(w.detach(), self.bits, self.step)
                self._ver = w._version
            w = w + (self._q - w).detach()
        return F.linear(x, w, self.bias)


class Act(nn.Module):
    """ReLU (float) or PACT; in calibration mode a float ReLU that records."""

    def __init__(self, bits):
        super().__init__()
        self.bits = bits
        self.alpha = nn.Parameter(torch.tensor([10.0])) if bits < 32 else None
        self.record = None

    def forward(self, x):
        if self.record is not None:
            y = F.relu(x)
            self.record.append(y.detach().flatten())
            return y
        return F.relu(x) if self.alpha is None else pact(x, self.alpha, self.bits)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, wb, ab):
        super().__init__()
        self.c1, self.b1, self.a1 = QConv(cin, cout, 3, stride, wb), nn.BatchNorm2d(cout), Act(ab)
        self.c2, self.b2, self.a2 = QConv(cout, cout, 3, 1, wb), nn.BatchNorm2d(cout), Act(ab)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(QConv(cin, cout, 1, stride, wb), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = self.b2(self.c2(self.a1(self.b1(self.c1(x)))))
        return self.a2(o + (x if self.sc is None else self.sc(x)))


class PreBlock(nn.Module):
    """Preact: BN-Act-conv3x3-BN-Act-conv3x3 + shortcut (1x1 conv s2, no BN, on
    the first BN-Act output when the shape changes); the sum is not quantized."""

    def __init__(self, cin, cout, stride, wb, ab):
        super().__init__()
        self.b1, self.a1, self.c1 = nn.BatchNorm2d(cin), Act(ab), QConv(cin, cout, 3, stride, wb)
        self.b2, self.a2, self.c2 = nn.BatchNorm2d(cout), Act(ab), QConv(cout, cout, 3, 1, wb)
        self.sc = QConv(cin, cout, 1, stride, wb) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        o = self.a1(self.b1(x))
        s = x if self.sc is None else self.sc(o)
        return self.c2(self.a2(self.b2(self.c1(o)))) + s


QBLOCKS = {"basic": Block, "preact": PreBlock}


class QResNet(nn.Module):
    """basic: stem conv-BN-Act; preact: stem conv alone, final BN-Act before the pool."""

    def __init__(self, depth, k, wbits=32, abits=32, flb=8, in_channels=1, block="basic"):
        super().__init__()
        n = (depth - 2) // 6
        fl = flb if wbits < 32 else 32
        self.stem = QConv(in_channels, k, 3, 1, fl)
        self.preact = block == "preact"
        if not self.preact:
            self.bn, self.act = nn.BatchNorm2d(k), Act(abits)
        layers, cin = [], k
        for g, cout in enumerate((k, 2 * k, 4 * k)):
            for i in range(n):
                layers.append(QBLOCKS[block](cin, cout, 2 if (g and not i) else 1, wbits, abits))
                cin = cout
        self.blocks = nn.Sequential(*layers)
        if self.preact:
            self.bn, self.act = nn.BatchNorm2d(cin), Act(abits)
        self.fc = QLin(cin, 10, fl)

    def forward(self, x):
        if self.preact:
            return self.fc(self.act(self.bn(self.blocks(self.stem(x)))).mean((2, 3)))
        return self.fc(self.blocks(self.act(self.bn(self.stem(x)))).mean((2, 3)))


def train(model, data, epochs, lr, wd, gen, pact_l2=1e-4, milestones=None,
          prep=common.normalise):
    """SGD 0.9, batch 128 (last partial batch dropped), crop + flip; lr per
    iteration: cosine to 0, or x0.1 at each of the `milestones` fractions."""
    xtr, ytr = data[0], data[1]
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    ipe = len(xtr) // 128
    lam = (common.cosine_lambda(ipe * epochs) if milestones is None
           else common.step_lambda(ipe * epochs, milestones))
    sch = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    alphas = [m.alpha for m in model.modules() if isinstance(m, Act) and m.alpha is not None]
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(ipe):
            idx = perm[i * 128:(i + 1) * 128]
            xb = prep(common.augment(xtr[idx], gen))
            loss = F.cross_entropy(model(xb), ytr[idx])
            if alphas:
                loss = loss + pact_l2 * sum((a ** 2).sum() for a in alphas)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sch.step()


@torch.no_grad()
def calibrate(model, xtr, n=2000, seed=20201, prep=common.normalise, cap=0):
    """Alphas from the float model (plain ReLU, float weights, BN eval).
    cap > 0: a layer with more than `cap` recorded values keeps every
    ceil(count / cap)-th (qsweep's bound, core/train/train.c); 0: all values."""
    model.eval()
    convs = [m for m in model.modules() if isinstance(m, (QConv, QLin))]
    bits = [m.bits for m in convs]
    for m in convs:
        m.bits = 32
    acts = [m for m in model.modules() if isinstance(m, Act) and m.alpha is not None]
    for a in acts:
        a.record = []
    idx = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(seed))[:n]
    for i in range(0, len(idx), 128):
        model(prep(xtr[idx[i:i + 128]]))
    for a in acts:
        y = torch.cat(a.record)
        a.alpha.fill_(calibrate_mse(y[::-(-len(y) // cap)] if cap else y, a.bits))
        a.record = None
    for m, b in zip(convs, bits):
        m.bits = b


def run_seed(args, seed, data):
    xtr, ytr, xte, yte = data
    prep = common.normalise
    torch.manual_seed(seed)
    f = QResNet(args.depth, args.width)
    gen = torch.Generator().manual_seed(seed)
    train(f, data, args.float_epochs, 0.1, 5e-4, gen)
    out = {"float": common.evaluate(f, xte, yte, prep=prep)}
    q = QResNet(args.depth, args.width, 2, 2)
    q.load_state_dict(f.state_dict(), strict=False)
    calibrate(q, xtr)
    out["W2A2_start"] = common.evaluate(q, xte, yte, prep=prep)
    train(q, data, args.retrain_epochs, 0.01, 0.0, gen)
    out["W2A2"] = common.evaluate(q, xte, yte, prep=prep)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--train-limit", type=int, default=2000)
    p.add_argument("--test-limit", type=int, default=500)
    p.add_argument("--float-epochs", type=int, default=3)
    p.add_argument("--retrain-epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    common.set_threads(args.threads)
    data = common.fashion_mnist(args.train_limit, args.test_limit)
    res, t0 = {}, time.time()
    for s in args.seeds:
        res[s] = run_seed(args, s, data)
        print(f"seed {s}: " + " ".join(f"{k} {v:.2f}" for k, v in res[s].items()) +
              f" ({time.time() - t0:.0f}s)", file=sys.stderr)
    keys = list(res[args.seeds[0]].keys())
    print(json.dumps({"model": f"resnet-basic-{args.depth}-{args.width}", "torch": torch.__version__,
                      "train_limit": args.train_limit, "test_limit": args.test_limit,
                      "float_epochs": args.float_epochs, "retrain_epochs": args.retrain_epochs,
                      "per_seed": {str(s): {k: round(v, 2) for k, v in r.items()} for s, r in res.items()},
                      "min": {k: round(min(r[k] for r in res.values()), 2) for k in keys},
                      "mean": {k: round(statistics.mean(r[k] for r in res.values()), 2) for k in keys},
                      "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
