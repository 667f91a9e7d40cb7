"""LSQ (weights), LSQ+ (activations) and BitPruning in PyTorch, written from
docs/quantizers.md, for tests/reference/lsq_reference.py.

Each quantizer returns the forward value computed with qsweep's float32
arithmetic (division w / s for weights, (x - beta) * (1 / s) for
activations, rounding of the double v + 0.5) and lets autograd form the
gradient of a straight-through surrogate whose derivatives are the
documented rules:
- LSQ weights, inside -Qp < v < Qp: q ~ w + c s (c = round(v) - v held
  constant), so dq/dw = 1 and dq/ds = c; clipped: q ~ +-Qp s. s enters as
  s g + (s - s g).detach(), so ds is scaled by g = 1 / sqrt(N Qp).
- LSQ+ activations, inside 0 <= u < P: y ~ x + c s (dy/dbeta = 0);
  below: y ~ beta; at or above P: y ~ P s + beta; g = 1 / sqrt(F P).
- BitPruning: y ~ Q_lo + f (Q_hi - Q_lo) with f = b - lo, plus the
  plain quantizers' straight-through terms (PACT's clip; LSQ's inside mask
  at each width, mixed by f).
The model is a plain walk over qsweep's node list (the graph is qsweep's;
the arithmetic of every node is PyTorch's own), in float32 or, to measure
float32's own rounding noise, float64.
"""
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

from qat_fcdnn import wquant  # Hwang-Sung (BitPruning's fixed first / last layers)


def _st(exact, sur):
    """exact forward value, the surrogate's gradient."""
    return exact.detach() + (sur - sur.detach())


def round_away(v):
    return torch.sign(v) * torch.floor(v.abs().double() + 0.5).to(v.dtype)


def round_up(v):
    return torch.floor(v.double() + 0.5).to(v.dtype)


def _scaled(s, g):
    return (s - s * g).detach() + s * g


def lsq_w(w, s, bits):
    """w [nch, row], s [nch]: LSQ symmetric weights."""
    qp = float(2 ** (bits - 1) - 1)
    g = 1.0 / math.sqrt(w.shape[1] * qp)
    s2 = s.view(-1, 1)
    with torch.no_grad():
        v = w / s2
        z = round_away(v).clamp(-qp, qp)
        exact = s2 * z
        inside = (v > -qp) & (v < qp)
        c = z - v
    sg = _scaled(s2, g)
    sur = torch.where(inside, w + c * sg, z * sg)
    return _st(exact, sur)


def lsq_act(x, s, beta, bits, features):
    """LSQ+ at a ReLU input x; s, beta 1-element tensors."""
    p = float(2 ** bits - 1)
    g = 1.0 / math.sqrt(features * p)
    with torch.no_grad():
        inv = 1.0 / s
        u = (x - beta) * inv
        r = round_up(u.clamp(0.0, p))
        exact = r * s + beta
        lo, hi = u < 0, u >= p
        c = r - u
    sg = _scaled(s, g)
    sur = torch.where(lo, beta.expand_as(x), torch.where(hi, p * sg + beta, x + c * sg))
    return _st(exact, sur)


def pact_q(x, alpha, bits):
    """PACT's forward with pact.c's arithmetic (no gradient)."""
    n = torch.tensor(float(2 ** bits - 1), dtype=x.dtype)
    a = alpha.detach()
    y = torch.minimum(torch.clamp(x.detach(), min=0.0), a)
    return round_up(y * (n / a)) * (a / n)


def bp_split(b):
    lo = min(max(int(math.floor(float(b))), 1), 7)
    return lo, lo + 1


def bp_act(x, alpha, b):
    lo, hi = bp_split(b)
    ql, qh = pact_q(x, alpha, lo), pact_q(x, alpha, hi)
    f = b - lo
    with torch.no_grad():
        exact = (1.0 - f) * ql + f * qh
    clip = torch.where(x < 0, torch.zeros_like(x), torch.where(x >= alpha, alpha.expand_as(x), x))
    return _st(exact, clip + f * (qh - ql))


def bp_w(w, b):
    """Learned-width weights: clip max |w| (held), widths floor / floor + 1."""
    bb = b + (2.0 - b).detach() if float(b) < 2 else b  # counts as 2, as qsweep
    lo, hi = bp_split(bb)
    with torch.no_grad():
        clip = w.abs().max()
        qs = []
        for k in (lo, hi):
            qp = float(2 ** (k - 1) - 1)
            s = clip / qp
            v = w / s
            qs.append((s * round_away(v).clamp(-qp, qp), ((v > -qp) & (v < qp)).to(w.dtype)))
    (ql, il), (qh, ih) = qs
    f = bb - lo
    with torch.no_grad():
        exact = (1.0 - f) * ql + f * qh
        fd = f.detach()
        coef = (1.0 - fd) * il + fd * ih
    return _st(exact, w * coef + f * (qh - ql))


# ------------------------------------------------------------- inits
def lsq_winit(w, bits, rule="mse"):
    """Per row of w [nch, row]: the MSE grid (100 candidates) or 2 mean|w| / sqrt(Qp)."""
    qp = float(2 ** (bits - 1) - 1)
    out = []
    for row in w:
        mx = float(row.abs().max())
        if not mx > 0:
            out.append(1.0)
            continue
        if rule == "mean":
            out.append(float(np.float32(2.0 * float(row.abs().double().sum()) / len(row) / math.sqrt(qp))))
            continue
        best, best_e = np.float32(mx / qp), math.inf
        for j in range(1, 101):
            s = torch.tensor(np.float32(j / 100 * mx / qp))
            q = s * round_away(row / s).clamp(-qp, qp)
            e = float(((row.double() - q.double()) ** 2).sum())
            if e < best_e:
                best, best_e = s, e
        out.append(float(best))
    return torch.tensor(out, dtype=torch.float32)


def _quantile(v, q):
    """v sorted float64: linear interpolation between the nearest ranks."""
    pos = q * (len(v) - 1)
    lo = int(pos)
    if lo >= len(v) - 1:
        return np.float32(v[-1])
    return np.float32(v[lo] + (pos - lo) * (v[lo + 1] - v[lo]))


def _act_err(y, s, beta, bits):
    p = float(2 ** bits - 1)
    s, beta = torch.tensor(s), torch.tensor(beta)
    u = ((y - beta) * (1.0 / s)).clamp(0.0, p)
    return float(((y.double() - (round_up(u) * s + beta).double()) ** 2).mean())


def lsq_ainit(y, bits, offset=0):
    """MSE init of (s, beta) on a calibration sample y (float32 tensor)."""
    y = y[~torch.isnan(y)]
    v = np.sort(y.double().numpy())
    p = np.float32(2 ** bits - 1)
    best_s, best_b, best_e = np.float32(1.0), np.float32(v[0] if offset and len(v) else 0.0), math.inf
    if not offset:
        prev = np.float32(0.0)
        for j in range(101):
            hi = _quantile(v, 0.50 + 0.005 * j)
            if not hi > 0 or hi == prev:
                continue
            prev = hi
            st = np.float32(hi / p)
            e = _act_err(y, st, np.float32(0.0), bits)
            if e < best_e:
                best_s, best_e = st, e
        return float(best_s), 0.0
    for a in range(26):
        lo = _quantile(v, 0.02 * a)
        for b in range(26):
            hi = _quantile(v, 0.50 + 0.02 * b)
            st = np.float32(np.float32(hi - lo) / p)
            if not st > 0:
                continue
            e = _act_err(y, st, lo, bits)
            if e < best_e:
                best_s, best_b, best_e = st, lo, e
    return float(best_s), float(best_b)


def bp_loss(b, counts, lam):
    c = counts / counts.sum()
    return lam * (c * b).sum()


# ------------------------------------------------------------- checkpoints
def read_qsc(path):
    """Sections of a qsweep checkpoint (core/io/ckpt.h) as bytes."""
    raw = open(path, "rb").read()
    assert raw[:4] == b"QSCK", f"{path}: not a qsweep checkpoint"
    nsec, off, sec = struct.unpack_from("<I", raw, 8)[0], 12, {}
    for _ in range(nsec):
        nl = struct.unpack_from("<H", raw, off)[0]
        name = raw[off + 2: off + 2 + nl].decode()
        size = struct.unpack_from("<Q", raw, off + 2 + nl)[0]
        sec[name] = raw[off + 10 + nl: off + 10 + nl + size]
        off += 10 + nl + size
    return {k: np.frombuffer(sec[k], dtype="<f4").copy() for k in ("params", "buffers")}


# ------------------------------------------------------------- the model
class Graph:
    """qsweep's node list run with PyTorch ops. P: the parameter vector
    without the learned widths (one tensor, so P.grad is qsweep's grad
    layout); B: the widths (their own optimiser group); buf: BN stats."""

    def __init__(self, nodes, params, buffers, nbits, bp_bmin=2, offset=0, dtype=torch.float32):
        self.nodes, self.nbits = nodes, nbits
        n = len(params) - nbits
        self.P = torch.tensor(params[:n], dtype=dtype).requires_grad_()
        self.B = torch.tensor(params[n:], dtype=dtype).requires_grad_()
        self.buf = torch.tensor(buffers, dtype=dtype)
        self.nmain = n
        self.bmin, self.offset = bp_bmin, offset
        self.hs = {}  # Hwang-Sung steps and cache of the fixed layers
        self.rec = None  # calibration: record the float ReLU outputs

    def seg(self, off, n):
        if off >= self.nmain:
            return self.B[off - self.nmain: off - self.nmain + n]
        return self.P[off: off + n]

    def weight(self, i, nd):
        w = self.seg(nd["w_off"], nd["wlen"])
        if nd["wbits"] >= 32 or self.rec is not None:
            return w
        if nd["bits_off"] >= 0:
            return bp_w(w, self.seg(nd["bits_off"], 1)[0])
        if nd["step_off"] >= 0:
            s = self.seg(nd["step_off"], nd["nstep"])
            return lsq_w(w.view(nd["nstep"], -1), s, nd["wbits"]).view(-1)
        ver = self.P._version  # Hwang-Sung: searched once per optimiser step
        step, cver, q = self.hs.get(i, (0.0, None, None))
        if cver != ver:
            q, step = wquant(w.detach(), nd["wbits"], step)
            self.hs[i] = (step, ver, q)
        return w + (q - w).detach()

    def forward(self, x, train):
        outs = []
        nb = x.shape[0]
        x = x.to(self.P.dtype)
        for i, nd in enumerate(self.nodes):
            t = nd["type"]
            a = outs[nd["in0"]] if nd["in0"] >= 0 else None
            if t == "input":
                y = x.view(nb, nd["c"], nd["h"], nd["w"])
            elif t in ("conv", "dwconv"):
                groups = nd["c"] if t == "dwconv" else 1
                w = self.weight(i, nd).view(nd["c"], -1, nd["kh"], nd["kh"])
                bias = self.seg(nd["b_off"], nd["c"]) if nd["b_off"] >= 0 else None
                y = F.conv2d(a, w, bias, nd["stride"], nd["pad"], groups=groups)
            elif t == "bn":
                y = F.batch_norm(a, self.buf[nd["rm_off"]: nd["rm_off"] + nd["c"]],
                                 self.buf[nd["rv_off"]: nd["rv_off"] + nd["c"]],
                                 self.seg(nd["w_off"], nd["c"]), self.seg(nd["b_off"], nd["c"]),
                                 training=train, momentum=0.1, eps=1e-5)
            elif t == "relu":
                feats = nd["c"] * nd["h"] * nd["w"]
                if nd["abits"] >= 32 or self.rec is not None:
                    y = F.relu(a)
                    if self.rec is not None and nd["abits"] < 32:
                        self.rec[i] = y.flatten()
                elif nd["bits_off"] >= 0:
                    y = bp_act(a, self.seg(nd["alpha_off"], 1), self.seg(nd["bits_off"], 1)[0])
                else:
                    beta = self.seg(nd["alpha_off"] + 1, 1)
                    if not self.offset:  # lsq_offset 0: beta stays where it is
                        beta = beta.detach()
                    y = lsq_act(a, self.seg(nd["alpha_off"], 1), beta, nd["abits"], feats)
            elif t == "linear":
                w = self.weight(i, nd).view(nd["c"], nd["in_features"])
                y = F.linear(a.reshape(nb, -1), w, self.seg(nd["b_off"], nd["c"]))
                y = y.view(nb, nd["c"], 1, 1)
            elif t == "gap":
                y = a.mean((2, 3), keepdim=True)
            elif t == "add":
                y = (a + outs[nd["in1"]]) * nd["scale"]
            else:
                raise ValueError(f"node {i}: type {t} not in this reference")
            outs.append(y)
        return outs[-1].reshape(nb, -1)

    def relu_inputs(self, x):
        """Float model (float weights, plain ReLUs, BN eval): the output of
        every quantized ReLU, {node: flat tensor}, for the calibration."""
        self.rec = {}
        with torch.no_grad():
            self.forward(x, False)
        rec, self.rec = self.rec, None
        return rec

    def learned(self):
        """(index in B, node, kind) of every learned width."""
        out = []
        for i, nd in enumerate(self.nodes):
            if nd["bits_off"] >= 0:
                out.append((nd["bits_off"] - self.nmain, i, "a" if nd["type"] == "relu" else "w"))
        return sorted(out)

    def clamp_bits(self):
        with torch.no_grad():
            for k, _, kind in self.learned():
                lo = max(self.bmin, 2) if kind == "w" else self.bmin
                v = float(self.B[k])
                self.B[k] = lo if not v >= lo else min(v, 8.0)

    def clamp_steps(self, smin=1e-6):
        """LSQ steps and LSQ+ scales stay >= smin (qsweep's QS_LSQ_STEP_MIN)."""
        with torch.no_grad():
            for nd in self.nodes:
                if nd["step_off"] >= 0:
                    s = self.seg(nd["step_off"], nd["nstep"])
                elif nd["alpha_off"] >= 0 and nd["bits_off"] < 0:
                    s = self.seg(nd["alpha_off"], 1)
                else:
                    continue
                s.clamp_(min=smin)

    def round_bits(self):
        with torch.no_grad():
            self.B.copy_(torch.ceil(self.B))
