"""PyTorch reference of qsweep's quantization-aware training on the synthetic
FCDNNs (methods.md sections 2-6), independent of the C code.

Same quantizers as core/quant/wquant.c and core/quant/pact.c:
- weights: one step D per layer, M = 2^(b-1) - 1, z = clip(round(w / D), -M, M)
  (round half away from zero); first quantization: best of the 64 candidates
  D = (j/64) max|w| / M, then alternating minimisation until z stops changing
  (<= 100 iterations); later quantizations warm-start from the previous D
  (<= 10 iterations, a fresh search if every z is 0); b = 1: sign(w), D = mean|w|.
  Quantized once per optimizer step (as the C model: weights are re-quantized
  when they change, not on every forward). STE: the gradient of the quantized
  weight goes to the float weight unchanged.
- PACT on every hidden ReLU: y = clip(x, 0, a), yq = round(y n / a) a / n with
  n = 2^k - 1; dL/dx = dL/dyq on 0 <= x < a, dL/da = dL/dyq on x >= a;
  loss + 1e-4 a^2. a from the MSE calibration: the best of the 101 quantiles
  0.50..1.00 of the float ReLU output on 2,000 fixed-seed training examples
  (float weights, eval mode).
- First and last linear layers at first_last_bits (8) whenever wbits < 32.
Protocol (synthetic): float Adam 1e-3 cosine, 100 epochs; retrain from the
float model, fresh Adam 1e-4 cosine, 30 epochs; optional CLR (Adam,
1e-4..1e-6, period 8, triangle) carrying alphas and steps; batch 128, last
partial batch dropped; evaluation with quantized weights and activations.

Prints one JSON object: test accuracy per setting and seed, mean and min,
and the thresholds the C end-to-end test uses. Examples:

  /usr/bin/python3 tests/reference/qat_fcdnn.py --width 256 --depth 4 --seeds 0 1 2
  /usr/bin/python3 tests/reference/qat_fcdnn.py --width 128 --depth 4 --from-qsc f.qsc \
      --settings W2AF WFA2 W2A2

--from-qsc starts the quantized phases from a float checkpoint written by
`qsweep train` (same architecture), to compare the QAT phase alone; the test
set is then this script's own draw of the same distribution.
"""
import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import common  # noqa: E402


# ------------------------------------------------------------- quantizers
def round_away(x):
    """roundf: half away from zero (torch.round is half to even)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def _levels(w, d, m):
    return round_away(w / d).clamp_(-m, m)


def _err(w, z, d):
    return float(((w.double() - (d * z).double()) ** 2).sum())


@torch.no_grad()
def wquant(w, bits, step):
    """Returns (q, step). step <= 0: first call (coarse search + <= 100 alternations)."""
    if bits >= 32:
        return w.clone(), 0.0
    if bits == 1:
        d = float(w.abs().double().mean())
        d32 = torch.tensor(d, dtype=torch.float32)
        return torch.where(w >= 0, d32, -d32), float(d32)
    m = float(2 ** (bits - 1) - 1)
    d = torch.tensor(step, dtype=torch.float32)
    max_iter = 10
    z = None
    if step > 0:
        z = _levels(w, d, m)
        if float((z * z).sum()) == 0.0:
            z = None
    if z is None:
        mx = float(w.abs().max())
        if mx <= 0:
            return torch.zeros_like(w), 0.0
        best, best_e = None, math.inf
        for j in range(1, 65):
            dj = torch.tensor(j / 64 * mx / m, dtype=torch.float32)
            e = _err(w, _levels(w, dj, m), dj)
            if e < best_e:
                best, best_e = dj, e
        d, max_iter = best, 100
        z = _levels(w, d, m)
    for _ in range(max_iter):
        szz = float((z.double() ** 2).sum())
        if szz == 0.0:
            break
        dn = torch.tensor(float((w.double() * z.double()).sum()) / szz, dtype=torch.float32)
        if float(dn) == float(d):
            break
        d = dn
        zn = _levels(w, d, m)
        changed = bool((zn != z).any())
        z = zn
        if not changed:
            break
    return d * z, float(d)


def pact(x, alpha, bits):
    """Forward clip + rounding with the STE gradients of methods.md."""
    y = torch.where(x < 0, torch.zeros_like(x), torch.where(x >= alpha, alpha.expand_as(x), x))
    if bits >= 32:
        return y
    n = float(2 ** bits - 1)
    with torch.no_grad():
        a = alpha.detach().float()
        scale, inv = torch.tensor(n, dtype=torch.float32) / a, a / n
        yq = torch.floor(y.detach() * scale + 0.5) * inv
    return y + (yq - y).detach()


@torch.no_grad()
def calibrate_mse(y, bits):
    """The clip among the 101 quantiles 0.50..1.00 (linear interpolation) with
    the least mean squared PACT error; ties to the lower quantile."""
    v = np.sort(y.detach().double().numpy().ravel())
    pos = torch.tensor(v[v > 0], dtype=torch.float32)
    cands = np.quantile(v, [0.5 + 0.005 * j for j in range(101)])
    best_a, best_e, prev = 1.0, math.inf, 0.0
    for j in range(101):
        a = float(np.float32(cands[j]))
        if not a > 0 or a == prev:
            continue
        prev = a
        q = pact(pos, torch.tensor([a], dtype=torch.float32), bits)
        e = float(((pos.double() - q.double()) ** 2).sum())
        if e < best_e:
            best_a, best_e = a, e
    return best_a


# ------------------------------------------------------------------ model
class QLinear(nn.Linear):
    def __init__(self, i, o, bits=32):
        super().__init__(i, o)
        self.bits, self.step, self._qver, self._q = bits, 0.0, None, None

    def qweight(self):
        if self.bits >= 32:
            return self.weight
        ver = self.weight._version
        if self._qver != ver:  # re-quantize only when the weights changed
            self._q, self.step = wquant(self.weight.detach(), self.bits, self.step)
            self._qver = ver
        return self.weight + (self._q - self.weight).detach()

    def forward(self, x):
        return F.linear(x, self.qweight(), self.bias)


class QFCDNN(nn.Module):
    def __init__(self, width, depth, wbits=32, abits=32, first_last_bits=8):
        super().__init__()
        fl = first_last_bits if wbits < 32 else 32
        self.layers = nn.ModuleList([QLinear(2, width, fl)] +
                                    [QLinear(width, width, wbits) for _ in range(depth - 2)] +
                                    [QLinear(width, 2, fl)])
        self.abits = abits
        self.alphas = nn.Parameter(torch.full((depth - 1,), 10.0)) if abits < 32 else None
        self.record = None

    def forward(self, x):
        h = x
        for i, lin in enumerate(self.layers[:-1]):
            pre = lin(h)
            if self.record is not None:
                self.record[i].append(F.relu(pre).detach())
            h = pact(pre, self.alphas[i:i + 1], self.abits) if self.alphas is not None else F.relu(pre)
        return self.layers[-1](h)


def load_qsc(path, model):
    """Float weights of an fcdnn checkpoint written by qsweep (core/io/ckpt.h)."""
    raw = open(path, "rb").read()
    assert raw[:4] == b"QSCK", f"{path}: not a qsweep checkpoint"
    nsec, off, sec = struct.unpack_from("<I", raw, 8)[0], 12, {}
    for _ in range(nsec):
        nl = struct.unpack_from("<H", raw, off)[0]
        name = raw[off + 2: off + 2 + nl].decode()
        size = struct.unpack_from("<Q", raw, off + 2 + nl)[0]
        sec[name] = raw[off + 10 + nl: off + 10 + nl + size]
        off += 10 + nl + size
    mi = struct.unpack("<12i", sec["model"])
    assert mi[0] == 0, f"{path}: not an fcdnn"
    p = np.frombuffer(sec["params"], dtype="<f4")
    k = 0
    with torch.no_grad():
        for lin in model.layers:
            for t in (lin.weight, lin.bias):
                t.copy_(torch.from_numpy(p[k:k + t.numel()].copy()).view_as(t))
                k += t.numel()


# --------------------------------------------------------------- protocol
def clr_lambda(ipe, period, lr_max, lr_min):
    tri = (0, .25, .5, .75, 1, .75, .5, .25)
    steps = max(1, round(period / 8 * ipe))
    return lambda it: (lr_min / lr_max) ** tri[(it // steps) % 8]


def train(model, data, epochs, lr, gen, sched="cosine", lipschitz=0.0, pact_l2=1e-4):
    xtr, ytr = data[0], data[1]
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    ipe = len(xtr) // 128
    lam = common.cosine_lambda(ipe * epochs) if sched == "cosine" else clr_lambda(ipe, 8, lr, 1e-6)
    sch = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(ipe):
            idx = perm[i * 128:(i + 1) * 128]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            if model.alphas is not None:
                loss = loss + pact_l2 * (model.alphas ** 2).sum()
            if lipschitz > 0:
                for lin in model.layers:
                    g = lin.weight @ lin.weight.t()
                    loss = loss + lipschitz / 2 * ((g - torch.eye(g.shape[0])) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sch.step()


@torch.no_grad()
def calibrate(model, xtr, n=2000, seed=20201):
    model.eval()
    idx = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(seed))[:n]
    saved, model.alphas = model.alphas, None
    wb = [lin.bits for lin in model.layers]
    for lin in model.layers:
        lin.bits = 32
    model.record = [[] for _ in model.layers[:-1]]
    model(xtr[idx])
    rec, model.record, model.alphas = model.record, None, saved
    for lin, b in zip(model.layers, wb):
        lin.bits = b
    for i, ys in enumerate(rec):
        model.alphas[i] = calibrate_mse(torch.cat(ys), model.abits)


SETTINGS = {"W2AF": (2, 32), "WFA2": (32, 2), "W2A2": (2, 2), "W4A4": (4, 4),
            "W3A3": (3, 3), "W1AF": (1, 32), "W8A8": (8, 8)}


def run_seed(args, seed, data):
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    base = QFCDNN(args.width, args.depth)
    if args.from_qsc:
        load_qsc(args.from_qsc, base)
    else:
        train(base, data, args.float_epochs, args.float_lr, torch.Generator().manual_seed(seed))
    out = {"float": common.evaluate(base, xte, yte)}
    for name in args.settings:
        wb, ab = SETTINGS[name]
        q = QFCDNN(args.width, args.depth, wb, ab)
        q.load_state_dict(base.state_dict(), strict=False)
        if ab < 32:
            calibrate(q, xtr)
        out[name + "_start"] = common.evaluate(q, xte, yte)
        gen = torch.Generator().manual_seed(seed + 1000)
        train(q, data, args.retrain_epochs, args.retrain_lr, gen, lipschitz=args.lipschitz)
        out[name] = common.evaluate(q, xte, yte)
        if args.clr_epochs > 0:  # alphas and steps carry over, fresh Adam
            train(q, data, args.clr_epochs, 1e-4, gen, sched="clr", lipschitz=args.lipschitz)
            out[name + "_clr"] = common.evaluate(q, xte, yte)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--settings", nargs="+", default=["W2AF", "WFA2", "W2A2"], choices=sorted(SETTINGS))
    p.add_argument("--float-epochs", type=int, default=100)
    p.add_argument("--retrain-epochs", type=int, default=30)
    p.add_argument("--clr-epochs", type=int, default=0)
    p.add_argument("--float-lr", type=float, default=1e-3)
    p.add_argument("--retrain-lr", type=float, default=1e-4)
    p.add_argument("--lipschitz", type=float, default=0.0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--from-qsc", default=None)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    common.set_threads(args.threads)
    data = common.rings(seed=args.data_seed)
    res, t0 = {}, time.time()
    for s in args.seeds:
        res[s] = run_seed(args, s, data)
        print(f"seed {s}: " + " ".join(f"{k} {v:.2f}" for k, v in res[s].items()) +
              f" ({time.time() - t0:.0f}s)", file=sys.stderr)
    keys = list(res[args.seeds[0]].keys())
    summary = {k: {"mean": round(statistics.mean(r[k] for r in res.values()), 2),
                   "min": round(min(r[k] for r in res.values()), 2),
                   "max": round(max(r[k] for r in res.values()), 2)} for k in keys}
    print(json.dumps({"model": f"fcdnn-{args.width}-{args.depth}", "torch": torch.__version__,
                      "float_epochs": 0 if args.from_qsc else args.float_epochs,
                      "retrain_epochs": args.retrain_epochs, "clr_epochs": args.clr_epochs,
                      "float_lr": args.float_lr, "retrain_lr": args.retrain_lr,
                      "per_seed": {str(s): {k: round(v, 2) for k, v in r.items()} for s, r in res.items()},
                      "summary": summary, "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
