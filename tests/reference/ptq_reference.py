#!/usr/bin/python3
"""PyTorch reference for qsweep's cross-layer equalisation (core/ptq/cle.c).

Equalisation is a function of the weights alone, so the reference runs on
the very weights qsweep saw: build/tests/tool_ptq_ref writes two small
folded, per-channel distorted ResNets (basic-8 and depthwise-11, width 4)
before and after qs_cle_equalize; this script equalises the "before"
weights with its own torch code, from the rule in docs/ptq-methods.md
(s_i = sqrt(r1_i r2_i) / r2_i, producer channel / s_i, consumer input
channel * s_i, passes over all pairs until every |log s_i| < tol), and
compares the result with qsweep's. Tolerance: 1e-3 relative to each
layer's largest weight. Exit 1 outside it.

    make build/tests/tool_ptq_ref && /usr/bin/python3 tests/reference/ptq_reference.py
"""
import json
import math
import os
import subprocess
import sys

import torch

TOL = 1e-3
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
    print("tolerance %.0e: %s" % (TOL, "within" if worst <= TOL else "OUTSIDE"))
    return 0 if worst <= TOL else 1


if __name__ == "__main__":
    sys.exit(main())
