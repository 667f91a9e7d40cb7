"""qsweep's LSQ+ and BitPruning against an independent PyTorch implementation
(tests/reference/lsq_torch.py, written from docs/quantizers.md).

  make build/tests/tool_lsq_ref && /usr/bin/python3 tests/reference/lsq_reference.py

1. Kernels: random inputs (with values on the clip edges and the rounding
   ties) through build/tests/tool_lsq_ref kernels and through PyTorch.
2. Short retrains: the tool trains a float model, saves its checkpoint and
   retrains from it (full batch, Adam at a constant lr, so both sides see
   the same data in each step); PyTorch reads the float weights from that
   checkpoint, starts from qsweep's quantizer parameters (its own inits are
   compared separately) and takes the same steps.
3. Accuracy: LSQ+ W4A4 retrains on a Fashion-MNIST subset over seeds (each
   side its own data order), BitPruning on an FCDNN (full batch): final
   widths and accuracy.
Prints one line per comparison; exits 0 when all agree, 1 otherwise.
Options: --quick (parts 1 and 2 only), --tool PATH, --keep DIR.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["OMP_NUM_THREADS"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lsq_torch as L  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FAILS = []


def check(name, ok, detail):
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if not ok:
        FAILS.append(name)


def rel(got, ref, f32=False):
    """max |got - ref| / max |ref| (0 when both are 0)."""
    got = np.asarray(got, dtype=np.float64).ravel()
    if f32:  # 9 printed digits: the same float32, not the same double
        got = got.astype(np.float32).astype(np.float64)
    ref = np.asarray(ref, dtype=np.float64).ravel()
    assert got.shape == ref.shape, (got.shape, ref.shape)
    d = np.abs(got - ref).max() if len(ref) else 0.0
    m = np.abs(ref).max() if len(ref) else 0.0
    return float(d / m) if m > 0 else float(d)


def cmp(name, got, ref, tol):
    e = rel(got, ref)
    check(name, e <= tol, f"max rel err {e:.2e} (tol {tol:.0e})")


def tool(args, stdin=None):
    r = subprocess.run([TOOL] + args, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{TOOL} {' '.join(args)} failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


f32 = lambda a: [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]  # noqa: E731


# ------------------------------------------------------------- 1. kernels
def kernel_cases(rng):
    cases = []
    for bits, nch, row in ((2, 1, 600), (4, 1, 600), (3, 4, 150), (8, 2, 100)):
        w = rng.normal(0, 0.1, (nch, row)).astype(np.float32)
        s = np.array([np.float32(np.abs(r).mean()) for r in w], np.float32)
        qp = 2 ** (bits - 1) - 1
        w[:, 0], w[:, 1] = qp * s, -qp * s          # on the clip levels
        w[:, 2] = np.float32(0.5) * s                 # a rounding tie
        cases.append({"kind": "lsq_w", "bits": bits, "nch": nch, "x": f32(w), "s": f32(s),
                      "d": f32(rng.normal(0, 1, w.size))})
        cases.append({"kind": "lsq_winit", "bits": bits, "nch": nch, "x": f32(w), "rule": "mse"})
        cases.append({"kind": "lsq_winit", "bits": bits, "nch": nch, "x": f32(w), "rule": "mean"})
    for bits, beta, feats in ((2, 0.0, 300), (4, 0.0, 50), (4, -0.3, 120), (3, 0.2, 7)):
        s = np.float32(0.125 if bits == 2 else 0.07)
        x = rng.normal(0.2, 0.6, 3000).astype(np.float32)
        p = 2 ** bits - 1
        x[:3] = [beta, p * s + beta, 0.5 * s + beta]  # u = 0, u = P, a tie
        cases.append({"kind": "lsq_act", "bits": bits, "x": f32(x), "s": f32([s, beta]),
                      "features": feats, "d": f32(rng.normal(0, 1, x.size))})
    relu = np.maximum(rng.normal(0.3, 1.0, 5000), 0).astype(np.float32)
    for bits in (2, 4):
        cases.append({"kind": "lsq_ainit", "bits": bits, "x": f32(relu), "offset": 0})
    cases.append({"kind": "lsq_ainit", "bits": 3, "x": f32(rng.normal(0, 1, 2000)), "offset": 1})
    for b in (1.0, 2.5, 3.0, 4.75, 7.3, 8.0):
        x = rng.normal(0.5, 1.0, 2000).astype(np.float32)
        cases.append({"kind": "bp_act", "x": f32(x), "s": f32([1.7, b]),
                      "d": f32(rng.normal(0, 1, x.size))})
    for b in (2.0, 2.6, 4.0, 5.3, 8.0):
        w = rng.normal(0, 0.1, 700).astype(np.float32)
        cases.append({"kind": "bp_w", "x": f32(w), "s": f32([np.abs(w).max(), b]),
                      "d": f32(rng.normal(0, 1, w.size))})
    for mode in ("uniform", "params", "macs"):
        cases.append({"kind": "bp_loss", "x": f32([8.0, 5.5, 3.2, 7.9]), "mode": mode,
                      "d": f32([100, 2000, 50, 7]), "lambda": 0.3})
    return cases


def t32(v, grad=False):
    return torch.tensor(np.asarray(v, dtype=np.float32), requires_grad=grad)


def kernels():
    rng = np.random.default_rng(14)
    cases = kernel_cases(rng)
    out = tool(["kernels"], json.dumps({"cases": cases}))["cases"]
    worst = {}
    for c, o in zip(cases, out):
        k = c["kind"]
        if k == "lsq_w":
            w = t32(c["x"], True)
            s = t32(c["s"], True)
            q = L.lsq_w(w.view(c["nch"], -1), s, c["bits"]).view(-1)
            q.backward(t32(c["d"]))
            res = {"q": (o["q"], q), "dw": (o["dw"], w.grad), "ds": (o["ds"], s.grad)}
        elif k == "lsq_act":
            x, s, b = t32(c["x"], True), t32(c["s"][:1], True), t32(c["s"][1:], True)
            y = L.lsq_act(x, s, b, c["bits"], c["features"])
            y.backward(t32(c["d"]))
            res = {"y": (o["y"], y), "dx": (o["dx"], x.grad), "ds": ([o["ds"]], s.grad),
                   "dbeta": ([o["dbeta"]], b.grad)}
        elif k == "lsq_winit":
            ref = L.lsq_winit(t32(c["x"]).view(c["nch"], -1), c["bits"], c["rule"])
            res = {c["rule"]: (o["s"], ref)}
        elif k == "lsq_ainit":
            s, b = L.lsq_ainit(t32(c["x"]), c["bits"], c["offset"])
            res = {f"offset{c['offset']}": ([o["s"], o["beta"]], np.array([s, b], np.float32))}
        elif k == "bp_act":
            x, a, b = t32(c["x"], True), t32(c["s"][:1], True), t32(c["s"][1], True)
            y = L.bp_act(x, a, b)
            y.backward(t32(c["d"]))
            res = {"y": (o["y"], y), "dx": (o["dx"], x.grad), "db": ([o["db"]], [b.grad]),
                   "dalpha": ([o["dalpha"]], a.grad)}
        elif k == "bp_w":
            w, b = t32(c["x"], True), t32(c["s"][1], True)
            q = L.bp_w(w, b)
            q.backward(t32(c["d"]))
            res = {"q": (o["q"], q), "dw": (o["dw"], w.grad), "db": ([o["db"]], [b.grad])}
        else:
            b = torch.tensor(c["x"], dtype=torch.float64, requires_grad=True)
            cnt = torch.ones(4, dtype=torch.float64) if c["mode"] == "uniform" else \
                torch.tensor(c["d"], dtype=torch.float64)
            r = L.bp_loss(b, cnt, c["lambda"])
            r.backward()
            res = {"R": ([o["r"]], [r.item()]), "dR/db": (o["db"], b.grad)}
        for key, (got, ref) in res.items():
            ref = ref.detach().numpy() if torch.is_tensor(ref) else ref if isinstance(
                ref, np.ndarray) else np.array([float(v) for v in ref])
            name = f"{k} {key}"
            worst[name] = max(worst.get(name, 0.0), rel(got, ref, ref.dtype == np.float32))
    # Forward values, inits and elementwise gradients: the same float32
    # arithmetic, so exact; gradient sums over thousands of terms (ds,
    # dbeta, db, dalpha): qsweep adds float lanes in double, PyTorch sums
    # in float32, so they differ by float32 rounding (cancellation makes it
    # up to about 1e-5 of the sum).
    for name, e in worst.items():
        key = name.split()[1]
        tol = 3e-5 if key in ("ds", "dbeta", "db", "dalpha") else 2e-6 if key[0] == "d" else \
            1e-12 if key == "R" else 0.0  # R: a double sum on both sides
        check(f"kernel {name}", e <= tol, f"max rel err {e:.2e} over its cases (tol {tol:.0e})")


# ------------------------------------------------------------- 2. steps
def graph_from(out, ckpt):
    fl = L.read_qsc(ckpt)
    init = np.array(out["init"], dtype=np.float32)
    params = init.copy()
    nf = out["nparam"] - out["nalpha"]
    params[:nf] = fl["params"][:nf]
    return L.Graph(out["nodes"], params, fl["buffers"], out["nbits"]), fl


def own_inits(out, g, x, cfg):
    """PyTorch's inits from the float weights and the calibration sample
    (all training examples: fewer than the 2,000 qsweep samples)."""
    init = np.array(out["init"], dtype=np.float32)
    mine = init.copy()
    rec = g.relu_inputs(x)
    for i, nd in enumerate(out["nodes"]):
        if nd["step_off"] >= 0:
            w = torch.tensor(init[nd["w_off"]: nd["w_off"] + nd["wlen"]]).view(nd["nstep"], -1)
            mine[nd["step_off"]: nd["step_off"] + nd["nstep"]] = L.lsq_winit(
                w, nd["wbits"], cfg.get("winit", "mse")).numpy()
        if nd["alpha_off"] >= 0 and i in rec:
            if nd["bits_off"] >= 0:
                from qat_fcdnn import calibrate_mse
                mine[nd["alpha_off"]] = calibrate_mse(rec[i], 8)
            else:
                s, b = L.lsq_ainit(rec[i], nd["abits"])
                mine[nd["alpha_off"]], mine[nd["alpha_off"] + 1] = s, b
    lo = out["nparam"] - out["nalpha"]
    return init[lo:], mine[lo:]


def groups(out):
    """(name, slice) of the parameter vector: weights, LSQ steps, act s."""
    nd = out["nodes"]
    gs = []
    for i, n in enumerate(nd):
        if n["type"] in ("conv", "dwconv", "linear"):
            gs.append((f"w{i}", slice(n["w_off"], n["w_off"] + n["wlen"])))
        if n["step_off"] >= 0:
            gs.append((f"step{i}", slice(n["step_off"], n["step_off"] + n["nstep"])))
        if n["alpha_off"] >= 0:
            gs.append((f"act{i}", slice(n["alpha_off"], n["alpha_off"] + (1 if n["bits_off"] >= 0 else 2))))
        if n["bits_off"] >= 0:
            gs.append((f"b{i}", slice(n["bits_off"], n["bits_off"] + 1)))
    return gs


def grad_err(out, got, ref):
    """Worst relative error over the groups, and that group."""
    errs = [(rel(got[s], ref[s]), name) for name, s in groups(out)]
    return max(errs)


def learn_epochs(out, cfg):
    return cfg["epochs"] - cfg.get("bp_finetune_epochs", 1) if out["nbits"] else 0


def objective(g, out, cfg, ep, x, y):
    """Step ep's (0-based) cross-entropy and the loss qsweep minimises:
    + 1e-4 alpha^2 per PACT alpha (BitPruning runs on Hwang-PACT) and,
    while the widths learn, + lambda x the mean width."""
    loss = F.cross_entropy(g.forward(x, True), y)
    total = loss
    if out["nbits"]:
        a0, na = out["nparam"] - out["nalpha"], out["nalpha"] - out["nbits"]
        total = total + 1e-4 * (g.P[a0: a0 + na] ** 2).sum()
        if ep < learn_epochs(out, cfg):
            counts = torch.ones(out["nbits"], dtype=torch.float64)
            total = total + L.bp_loss(g.B.double(), counts, cfg.get("bp_lambda", 0.1)).to(g.B.dtype)
    return loss, total


def run_steps(g, out, cfg, x, y):
    """Full-batch Adam steps as the tool's retrain; returns per step the
    loss, the gradient of step 1 and the parameters after each step."""
    lr = cfg.get("lr", 1e-3)
    pg = [{"params": [g.P], "lr": lr}]
    if out["nbits"]:
        pg.append({"params": [g.B], "lr": lr * cfg.get("bp_lr_scale", 10)})
    opt = torch.optim.Adam(pg, betas=(0.9, 0.999), eps=1e-8)
    le = learn_epochs(out, cfg)
    res = []
    for ep in range(cfg["epochs"]):
        if out["nbits"] and ep == le:
            g.round_bits()
        opt.zero_grad()
        loss, total = objective(g, out, cfg, ep, x, y)
        total.backward()
        grad = torch.cat([g.P.grad, g.B.grad if g.B.grad is not None else torch.zeros(len(g.B))])
        if out["nbits"] and ep >= le:
            g.B.grad = None  # fixed widths: not stepped
        opt.step()
        if out["nbits"] and ep < le:
            g.clamp_bits()
        if not out["nbits"]:
            g.clamp_steps()
        res.append({"loss": loss.item(), "grad": grad.numpy().copy(),
                    "params": torch.cat([g.P, g.B]).detach().numpy().copy()})
    return res


def same_point(g, g64, out, cfg, x, y):
    """At qsweep's parameters before each of its steps: PyTorch's loss,
    gradient (float32 and float64) and quantized weights."""
    p0 = np.concatenate([g.P.detach().numpy(), g.B.detach().numpy()])
    res = []
    for k, ep in enumerate(out["epochs"]):
        p = p0 if k == 0 else np.array(out["epochs"][k - 1]["params"], dtype=np.float32)
        r = {}
        for key, gr in (("t32", g), ("t64", g64)):
            with torch.no_grad():
                gr.P.copy_(torch.tensor(p[: gr.nmain]))
                gr.B.copy_(torch.tensor(p[gr.nmain:]))
            if out["nbits"] and k >= learn_epochs(out, cfg):
                gr.round_bits()  # qsweep rounds up before the fine-tune's epochs
            gr.P.grad = gr.B.grad = None
            loss, total = objective(gr, out, cfg, k, x, y)
            total.backward()
            r[key] = np.concatenate([gr.P.grad.double().numpy(), gr.B.grad.double().numpy()
                                     if gr.B.grad is not None else np.zeros(len(gr.B))])
            r[key + "_loss"] = loss.item()
            if key == "t32":
                with torch.no_grad():
                    r["qw"] = [gr.weight(i, nd).numpy().copy() for i, nd in enumerate(gr.nodes)
                               if nd["type"] in ("conv", "dwconv", "linear") and nd["wbits"] < 32]
        res.append(r)
    return res


def step_case(name, cfg, tmp, k_tol, grad_tol=1e-4, update_tol=None):
    """The short retrain of cfg; update_tol None: the trajectories' updates
    are not compared (see the ResNet note in docs/quantizers.md)."""
    cfg = dict(cfg, ckpt=os.path.join(tmp, name.replace(" ", "_") + ".qsc"))
    path = os.path.join(tmp, name.replace(" ", "_") + ".json")
    json.dump(cfg, open(path, "w"))
    t0 = time.time()
    out = tool(["train", path])
    g, fl = graph_from(out, cfg["ckpt"])
    tr = out["train"]
    x = torch.tensor(tr["x"], dtype=torch.float32).view(tr["n"], -1)
    y = torch.tensor(tr["y"], dtype=torch.long)
    c_init, my_init = own_inits(out, g, x, cfg)
    cmp(f"{name} inits (steps, s / alpha)", my_init, c_init, 1e-6)
    p0 = np.concatenate([g.P.detach().numpy(), g.B.detach().numpy()])
    g64 = L.Graph(out["nodes"], p0, fl["buffers"], out["nbits"], dtype=torch.float64)
    sp = same_point(g, g64, out, cfg, x, y)
    ep = out["epochs"]
    k = len(ep)
    # The weights qsweep computes with, bit for bit, before every step
    # (with a test set, the epoch's evaluation has quantized them again at
    # the parameters after its step: the next step's).
    # The round-up that starts the fine-tune changes the widths between the
    # two, so that epoch is left out there.
    sh = 1 if "test" in out else 0
    le = learn_epochs(out, cfg)
    flips = sum(int((np.array(c, dtype=np.float32) != t).sum())
                for i, (e, r) in enumerate(zip(ep, sp[sh:]))
                if not (sh and out["nbits"] and i + 1 == le) for c, t in zip(e["qw"], r["qw"]))
    check(f"{name} quantized weights, {k} steps", flips == 0, f"{flips} differ")
    cmp(f"{name} step 1 loss", [sp[0]["t32_loss"]], [ep[0]["loss"]], 1e-6)
    e, grp = grad_err(out, np.array(ep[0]["grad"]), sp[0]["t32"])
    check(f"{name} step 1 gradients", e <= grad_tol,
          f"max rel err {e:.2e} (worst group {grp}, tol {grad_tol:.0e})")
    n = np.linalg.norm
    dl = max(abs(ep[i]["loss"] - sp[i]["t32_loss"]) / abs(sp[i]["t32_loss"]) for i in range(k))
    check(f"{name} loss at steps 1..{k}", dl <= k_tol, f"max rel err {dl:.2e} (tol {k_tol:.0e})")
    dc = [n(np.array(ep[i]["grad"]) - sp[i]["t32"]) / n(sp[i]["t32"]) for i in range(k)]
    d64 = [n(sp[i]["t32"] - sp[i]["t64"]) / n(sp[i]["t64"]) for i in range(k)]
    tol = max(grad_tol, 2 * max(d64))
    check(f"{name} gradients at steps 1..{k}", max(dc) <= tol,
          f"|g_qsweep - g_torch32| / |g| up to {max(dc):.2e}"
          + (f" (per step {' '.join(f'{v:.1e}' for v in dc)})" if k <= 8 else
             f" (median {statistics.median(dc):.1e})")
          + f"; float32 noise |g_torch32 - g_torch64| / |g| "
          f"up to {max(d64):.2e}; tol max({grad_tol:.0e}, 2 x noise) = {tol:.2e}")
    with torch.no_grad():
        g.P.copy_(torch.tensor(p0[: g.nmain]))
        g.B.copy_(torch.tensor(p0[g.nmain:]))
    g.hs = {}
    res = run_steps(g, out, cfg, x, y)
    cmp(f"{name} loss after {k} steps of each", [res[-1]["loss"]], [ep[-1]["loss"]], k_tol)
    for kk in (1, k):
        dcu, dtu = np.array(ep[kk - 1]["params"]) - p0, res[kk - 1]["params"] - p0
        e = float(n(dcu - dtu) / n(dcu))
        tol = 10 * grad_tol if kk == 1 else update_tol
        label = f"{name} parameter update after {kk} step{'s' if kk > 1 else ''}"
        if tol is None:
            print(f"info {label}: |dp_qsweep - dp_torch| / |dp_qsweep| = {e:.2e} (not compared)")
        else:
            check(label, e <= tol, f"|dp_qsweep - dp_torch| / |dp_qsweep| = {e:.2e} (tol {tol:.0e})")
    print(f"     ({name}: {time.time() - t0:.1f} s)")
    return out, res


# ------------------------------------------------------------- 3. accuracy
def accuracy_lsq(tmp, seeds):
    base = {"arch": "fcdnn", "width": 128, "depth": 4, "data": "fashion-mnist",
            "n": 4000, "test_n": 1000, "float_epochs": 5, "float_batch": 100, "epochs": 5,
            "batch": 100, "wbits": 2, "abits": 2, "lr": 1e-3, "eval": 1}
    accs_c, accs_t = [], []
    for seed in seeds:
        cfg = dict(base, seed=seed, ckpt=os.path.join(tmp, f"acc{seed}.qsc"))
        path = os.path.join(tmp, f"acc{seed}.json")
        json.dump(cfg, open(path, "w"))
        out = tool(["train", path])
        g, _ = graph_from(out, cfg["ckpt"])
        tr, te = out["train"], out["test"]
        x = torch.tensor(tr["x"], dtype=torch.float32).view(tr["n"], -1)
        y = torch.tensor(tr["y"], dtype=torch.long)
        _, mine = own_inits(out, g, x, cfg)  # PyTorch's own inits here
        with torch.no_grad():
            g.P[out["nparam"] - out["nalpha"]:] = torch.tensor(mine)
        opt = torch.optim.Adam([g.P], lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8)
        gen = torch.Generator().manual_seed(1000 + seed)
        for _ in range(cfg["epochs"]):
            perm = torch.randperm(tr["n"], generator=gen)
            for i in range(tr["n"] // cfg["batch"]):
                idx = perm[i * cfg["batch"]:(i + 1) * cfg["batch"]]
                opt.zero_grad()
                F.cross_entropy(g.forward(x[idx], True), y[idx]).backward()
                opt.step()
                g.clamp_steps()
        xt = torch.tensor(te["x"], dtype=torch.float32).view(te["n"], -1)
        with torch.no_grad():
            pred = g.forward(xt, False).argmax(1)
        accs_t.append(100.0 * (pred == torch.tensor(te["y"])).float().mean().item())
        accs_c.append(out["epochs"][-1]["test_acc"])
        print(f"     seed {seed}: qsweep {accs_c[-1]:.2f} %, PyTorch {accs_t[-1]:.2f} %")
    spread = max(max(accs_c) - min(accs_c), max(accs_t) - min(accs_t))
    d = abs(statistics.mean(accs_c) - statistics.mean(accs_t))
    tol = max(1.0, 2 * spread)
    check("fcdnn-128-4 LSQ+ W2A2 Fashion-MNIST accuracy", d <= tol,
          f"mean qsweep {statistics.mean(accs_c):.2f} %, PyTorch {statistics.mean(accs_t):.2f} % "
          f"over seeds {seeds}: |diff| {d:.2f} (tol max(1, 2 x spread {spread:.2f}) = {tol:.2f})")


def accuracy_bp(tmp):
    cfg = {"arch": "fcdnn", "width": 32, "depth": 4, "n": 2000, "test_n": 2000,
           "float_epochs": 20, "float_batch": 100, "epochs": 80, "bitprune": 1,
           "bp_lambda": 0.5, "bp_lr_scale": 30, "bp_finetune_epochs": 5, "lr": 1e-3, "eval": 1}
    out, res = step_case("fcdnn-32-4 BitPruning", cfg, tmp, 1e-3)
    g = L.Graph(out["nodes"], res[-1]["params"],
                L.read_qsc(os.path.join(tmp, "fcdnn-32-4_BitPruning.qsc"))["buffers"], out["nbits"])
    nm = out["nparam"] - out["nbits"]
    c_bits = [int(v) for v in out["epochs"][-1]["params"][nm:]]
    t_bits = [int(v) for v in res[-1]["params"][nm:]]
    check("fcdnn-32-4 BitPruning final widths", c_bits == t_bits,
          f"qsweep {c_bits}, PyTorch {t_bits}")
    te = out["test"]
    xt = torch.tensor(te["x"], dtype=torch.float32).view(te["n"], -1)
    with torch.no_grad():
        acc = 100.0 * (g.forward(xt, False).argmax(1) == torch.tensor(te["y"])).float().mean().item()
    c_acc = out["epochs"][-1]["test_acc"]
    check("fcdnn-32-4 BitPruning accuracy", abs(acc - c_acc) <= 1.0,
          f"qsweep {c_acc:.2f} %, PyTorch {acc:.2f} % (tol 1 point)")


def main():
    global TOOL
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tool", default=os.path.join(ROOT, "build", "tests", "tool_lsq_ref"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--keep", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = p.parse_args()
    TOOL = args.tool
    torch.set_num_threads(1)
    t0 = time.time()
    tmp = args.keep or tempfile.mkdtemp(prefix="lsqref")
    os.makedirs(tmp, exist_ok=True)
    kernels()
    step_case("fcdnn-32-4 LSQ+ W2A2", {"arch": "fcdnn", "width": 32, "depth": 4, "n": 512,
                                       "float_epochs": 10, "epochs": 6, "wbits": 2, "abits": 2},
              tmp, 1e-3, update_tol=1e-3)
    step_case("resnet-basic-8-8 LSQ+ W4A4 per channel",
              {"arch": "resnet", "block": "basic", "depth": 8, "width": 8, "data": "fashion-mnist",
               "n": 128, "float_epochs": 2, "epochs": 6, "wbits": 4, "abits": 4,
               "per_channel": 1, "lr": 1e-4}, tmp, 1e-3, grad_tol=1e-3)
    if not args.quick:
        accuracy_bp(tmp)
        accuracy_lsq(tmp, args.seeds)
    print(f"{len(FAILS)} of the comparisons failed; {time.time() - t0:.0f} s")
    sys.exit(1 if FAILS else 0)


TOOL = None
if __name__ == "__main__":
    main()
