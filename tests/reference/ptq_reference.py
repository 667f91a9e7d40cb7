#!/usr/bin/python3
"""PyTorch reference for qsweep's cross-layer equalisation (core/ptq/cle.c)
and AdaRound objective (core/ptq/adaround.c).

Equalisation is a function of the weights alone, so the reference runs on
the very weights qsweep saw: build/tests/tool_ptq_ref writes two small
folded, per-channel distorted ResNets (basic-8 and depthwise-11, width 4)
before and after qs_cle_equalize; this script equalises the "before"
weights with its own torch code, from the rule in docs/ptq-methods.md
(s_i = sqrt(r1_i r2_i) / r2_i, producer channel / s_i, consumer input
channel * s_i, passes over all pairs until every |log s_i| < tol), and
compares the result with qsweep's. Tolerance: 1e-3 relative to each
layer's largest weight.

AdaRound: on one 4-bit conv the tool dumps (inputs, float targets, grid,
floor codes, V), the objective
    rec + lambda sum(1 - |2h - 1|^beta), h = clip(sigmoid(V)(zeta - gamma) + gamma, 0, 1),
    W~ = s clip(floor + h, -Qp, Qp), rec = mean over examples and output
    positions of the sum over channels of (conv(x, W~) - t)^2
with torch's conv2d and autograd for dL/dV, against qsweep's loss and dV.
Tolerance 1e-4 relative (loss; dV relative to its largest entry).
Exit 1 outside any tolerance.

    make build/tests/tool_ptq_ref && /usr/bin/python3 tests/reference/ptq_reference.py
"""
import json
import math
import os
import subprocess
import sys

import torch

TOL = 1e-3
TOL_ADAROUND = 1e-4
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def consumer_view(layer, cin):
    """The consumer's weights as [c_out, c_in, taps] (a dwconv: [c, 1, taps] with c_in its channels)."""
    w = layer["w"]
    if layer["type"] == "dwconv":
        return w.view(layer["c"], 1, -1)
    return w.view(layer["c"], cin, -1)


def equalise(layers, bias, pairs, tol, max_sweeps):
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        change = 0.0
        for k, (p, c) in enumerate(pairs):
            prod, cons = layers[p], layers[c]
            n = prod["c"]
            wp = prod["w"].view(n, -1)
            r1 = wp.abs().amax(dim=1)
            wc = consumer_view(cons, n)
            if cons["type"] == "dwconv":
                r2 = wc.abs().amax(dim=(1, 2))
            else:
                r2 = wc.abs().amax(dim=(0, 2))
            ok = (r1 > 0) & (r2 > 0)
            s = torch.where(ok, torch.sqrt(r1 * r2) / torch.where(ok, r2, torch.ones_like(r2)),
                            torch.ones_like(r1))
            wp /= s[:, None]
            if bias[k] is not None:
                bias[k] /= s
            if cons["type"] == "dwconv":
                wc *= s[:, None, None]
            else:
                wc *= s[None, :, None]
            change = max(change, float(s.log().abs().max()))
        if change < tol:
            break
    return sweeps


def adaround(a):
    """(relative loss difference, relative dV difference, loss) for the dumped layer."""
    x = torch.tensor(a["x"], dtype=torch.float64).view(*a["x_shape"])
    t = torch.tensor(a["t"], dtype=torch.float64)
    base = torch.tensor(a["base"], dtype=torch.float64).view(*a["w_shape"])
    steps = torch.tensor(a["steps"], dtype=torch.float64)
    s = steps.view(-1, 1, 1, 1) if len(a["steps"]) > 1 else steps
    v = torch.tensor(a["v"], dtype=torch.float64).view(*a["w_shape"]).requires_grad_(True)
    zeta, gamma, qp = a["zeta"], a["gamma"], a["qp"]
    h = torch.clamp(torch.sigmoid(v) * (zeta - gamma) + gamma, 0.0, 1.0)
    wq = s * torch.clamp(base + h, -qp, qp)
    y = torch.nn.functional.conv2d(x, wq, stride=a["stride"], padding=a["pad"])
    t = t.view_as(y)
    positions = y.shape[2] * y.shape[3]
    rec = ((y - t) ** 2).sum() / (y.shape[0] * positions)
    reg = (1.0 - (2.0 * h - 1.0).abs() ** a["beta"]).sum()
    loss = rec + a["lambda"] * reg
    loss.backward()
    dv_ref = torch.tensor(a["dv"], dtype=torch.float64)
    dv = v.grad.flatten()
    return (abs(float(loss) - a["loss"]) / abs(a["loss"]),
            float((dv - dv_ref).abs().max() / dv_ref.abs().max()), float(loss))


def main():
    tool = os.path.join(ROOT, "build/tests/tool_ptq_ref")
    if not os.access(tool, os.X_OK):
        sys.exit("%s is missing: make build/tests/tool_ptq_ref" % tool)
    data = json.loads(subprocess.run([tool], check=True, capture_output=True, text=True).stdout)
    worst = 0.0
    print("%-16s %5s %14s %14s %12s" % ("model", "pairs", "sweeps qsweep", "sweeps torch", "max rel diff"))
    for m in data["models"]:
        def load(state):
            layers = {l["node"]: dict(l, w=torch.tensor(l["w"], dtype=torch.float64)) for l in state["layers"]}
            bias = [None if b is None else torch.tensor(b, dtype=torch.float64) for b in state["bias"]]
            return layers, bias
        layers, bias = load(m["before"])
        want_layers, want_bias = load(m["after"])
        n = equalise(layers, bias, m["pairs"], m["tol"], m["max_sweeps"])
        diff = 0.0
        for node, l in layers.items():
            ref = want_layers[node]["w"]
            diff = max(diff, float((l["w"] - ref).abs().max() / ref.abs().max()))
        for b, ref in zip(bias, want_bias):
            if b is not None:
                diff = max(diff, float((b - ref).abs().max() / max(float(ref.abs().max()), 1e-12)))
        worst = max(worst, diff)
        print("%-16s %5d %14d %14d %12.2e" % (m["model"], len(m["pairs"]), m["sweeps"], n, diff))
    print("CLE tolerance %.0e: %s" % (TOL, "within" if worst <= TOL else "OUTSIDE"))
    dl, dg, loss = adaround(data["adaround"])
    ok_a = dl <= TOL_ADAROUND and dg <= TOL_ADAROUND
    print("AdaRound objective, conv node %d: loss qsweep %.8g torch %.8g (rel %.2e), dL/dV max rel %.2e;"
          " tolerance %.0e: %s" % (data["adaround"]["node"], data["adaround"]["loss"], loss, dl, dg,
                                   TOL_ADAROUND, "within" if ok_a else "OUTSIDE"))
    return 0 if worst <= TOL and ok_a else 1


if __name__ == "__main__":
    sys.exit(main())
