"""Convolutions: the NumPy kernels of ``nnlab.engine.functional.vectorized`` against PyTorch (CPU).

float32, forward + backward, each thread count (1 and 2) in its own process (BLAS and OpenMP
thread pools are fixed at start-up); inside it the contenders alternate (the order rotates
every round) for ``--repeats`` rounds of ``--steps`` timed steps, and the best step of each is
kept (the median is recorded too):

* **one Conv2d layer**, batch 64, 32x32, 3x3, padding 1, 3->32 and 32->64 channels: output,
  input gradient, weight and bias gradients. NumPy: ``conv2d_forward`` + ``conv2d_backward``;
  PyTorch: ``F.conv2d`` + autograd.
* **the CSC321 colourization "base network"** (NF=32, 3x3 kernels, padding 1, 24 colours) on
  one batch of 100 grey 32x32 images, per-pixel softmax cross-entropy over the 24 colours:
  ``[Conv(1,NF), BN, MaxPool2, ReLU], [Conv(NF,2NF), BN, MaxPool2, ReLU], [Conv(2NF,2NF), BN,
  ReLU], [Conv(2NF,NF), BN, Upsample x2, ReLU], [Conv(NF,24), BN, Upsample x2, ReLU],
  Conv(24,24)``, BN being batch norm in training mode (batch statistics) right after each conv,
  as in the CSC321 model (``base_net``); and the same without BN (``base_net_no_bn``). The NumPy
  side is written directly with the functional kernels and NumPy batch norm / ReLU / loss
  (with their backward); the PyTorch side is the same ``nn.Sequential`` with autograd. Both
  start from the same weights, and the worker checks that they agree (loss and every gradient)
  before timing. Timed: forward + backward, all parameter gradients (the first conv's input
  gradient is not needed on either side); no optimizer step.

    python benchmarks/conv_vs_torch.py [--repeats 8] [--steps 4]

Writes ``benchmarks/results/conv_vs_torch.json``; key ``ratio`` is NumPy seconds / PyTorch
seconds for the base network's batch (with BN) at 2 threads (target: at most 2.0). It also
holds every ratio at 1 and 2 threads, every timing, the minor page faults of every timed step,
and a per-operation profile of the NumPy base network (best of rounds per operation).

Both contenders run in one process, as in ``engine_vs_torch.py``: each disturbs the other a
little (allocator state, cache), and this 2-core virtual machine's speed drifts by tens of
per cent over seconds, hence many short rounds and best-of.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import blas_info, git_revision, parse_args, rotated, run_thread_counts, write_result

NF, COLOURS, BATCH, SIZE = 32, 24, 100, 32
LAYER_BATCH = 64
LAYERS = {"conv_3_32": (3, 32), "conv_32_64": (32, 64)}
CONTENDERS = [*LAYERS, "base_net", "base_net_no_bn"]
EPS = 1e-5


# -- the NumPy base network -----------------------------------------------------------------------
class Profile:
    """Seconds per named operation (only when enabled: otherwise ``run`` just calls)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.seconds: dict[str, float] = {}
        self.faults: dict[str, int] = {}

    def run(self, name, fn, *args, **kw):
        if not self.enabled:
            return fn(*args, **kw)
        f = minor_faults()
        t = time.perf_counter()
        out = fn(*args, **kw)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
        self.faults[name] = self.faults.get(name, 0) + minor_faults() - f
        return out


#: The elementwise NumPy passes below (batch norm, ReLU, loss) go through the batch in chunks of
#: about this many bytes, so that a chunk's second and third passes find it in the cache.
CHUNK = 1 << 19


def spans(a):
    """Slices of the batch axis of ``a``, about CHUNK bytes each."""
    per = max(1, a[:1].nbytes)
    nb = max(1, CHUNK // per)
    return [slice(i, min(i + nb, len(a))) for i in range(0, len(a), nb)]


def bn_forward(z, gamma, beta, relu: bool):
    """Batch norm in training mode (per channel over N, H, W), optionally followed by ReLU;
    returns (h, cache). Sums per chunk (einsum), accumulated in float64."""
    import numpy as np

    N, C = z.shape[:2]
    z3 = z.reshape(N, C, -1)
    s1 = np.zeros(C)
    s2 = np.zeros(C)
    for sl in spans(z3):
        s1 += np.einsum("ncp->c", z3[sl])
        s2 += np.einsum("ncp,ncp->c", z3[sl], z3[sl])
    m = z3.shape[0] * z3.shape[2]
    mean = s1 / m
    var = np.maximum(s2 / m - mean * mean, 0.0)
    invstd = 1.0 / np.sqrt(var + EPS)
    scale = (gamma * invstd).astype(z.dtype).reshape(1, C, 1, 1)
    shift = (beta - mean * gamma * invstd).astype(z.dtype).reshape(1, C, 1, 1)
    h = np.empty_like(z)
    for sl in spans(z):
        hc = h[sl]
        np.multiply(z[sl], scale, out=hc)
        hc += shift
        if relu:
            np.maximum(hc, 0, out=hc)
    return h, (mean, invstd)


def bn_backward(dh, z, h, gamma, cache):
    """(dz, dgamma, dbeta) of batch norm in training mode; if ``h`` is given, the ReLU that
    followed it (output h) is differentiated first. Overwrites and returns dh as dz."""
    import numpy as np

    mean, invstd = cache
    N, C = z.shape[:2]
    d3, z3 = dh.reshape(N, C, -1), z.reshape(N, C, -1)
    dbeta = np.zeros(C)
    sdz = np.zeros(C)
    for sl in spans(d3):
        dc = d3[sl]
        if h is not None:
            np.multiply(dc, h.reshape(N, C, -1)[sl] > 0, out=dc)
        dbeta += np.einsum("ncp->c", dc)
        sdz += np.einsum("ncp,ncp->c", dc, z3[sl])
    m = d3.shape[0] * d3.shape[2]
    dgamma = (sdz - mean * dbeta) * invstd
    k = gamma * invstd
    u = -k * invstd * dgamma / m
    v = -k * dbeta / m - u * mean
    k4, u4, v4 = (a.astype(dh.dtype).reshape(1, C, 1) for a in (k, u, v))
    tmp = np.empty_like(d3[spans(d3)[0]])
    for sl in spans(d3):
        dc = d3[sl]
        t = tmp[:len(dc)]
        np.multiply(z3[sl], u4, out=t)
        dc *= k4
        dc += t
        dc += v4
    return dh, dgamma.astype(dh.dtype), dbeta.astype(dh.dtype)


def softmax_ce(logits, target):
    """Mean per-pixel cross-entropy over the channel axis; returns (loss, dlogits)."""
    import numpy as np

    d = np.empty_like(logits)
    count = target.size
    total = 0.0
    for sl in spans(logits):
        lc, dc, tc = logits[sl], d[sl], target[sl][:, None]
        mx = lc.max(axis=1, keepdims=True)
        np.subtract(lc, mx, out=dc)
        np.exp(dc, out=dc)
        se = dc.sum(axis=1, keepdims=True)
        total += float((np.log(se) + mx - np.take_along_axis(lc, tc, axis=1)).sum(dtype=np.float64))
        dc *= (1.0 / count) / se
        np.put_along_axis(dc, tc, np.take_along_axis(dc, tc, axis=1) - 1.0 / count, axis=1)
    return total / count, d


def relu_backward(d, h):
    """d *= (h > 0), in place, chunk by chunk."""
    import numpy as np

    for sl in spans(d):
        np.multiply(d[sl], h[sl] > 0, out=d[sl])
    return d


def numpy_blocks(bn: bool):
    """(in, out, post) for the five blocks, post in {"pool", "none", "up"}."""
    return [(1, NF, "pool"), (NF, 2 * NF, "pool"), (2 * NF, 2 * NF, "none"), (2 * NF, NF, "up"),
            (NF, COLOURS, "up")]


def numpy_step(params, x, target, bn: bool, prof: Profile):
    """Forward + backward of the base network; returns (loss, grads) (grads in params' order).

    The same function as the PyTorch model, computed a little differently where that is exact:
    in the upsampling blocks ReLU comes before the (nearest) upsampling (they commute), and it
    is fused with batch norm where it directly follows it.
    """
    import numpy as np

    from nnlab.engine.functional import vectorized as V

    one, pad = (1, 1), (1, 1)
    run = prof.run
    caches = []
    a = x
    p = iter(params)
    for _, _, post in numpy_blocks(bn):
        w, b = next(p), next(p)
        z = run("conv fwd", V.conv2d_forward, a, w, b, one, pad, one)
        relu_in_bn = bn and post != "pool"
        if bn:
            gamma, beta = next(p), next(p)
            h, bc = run("bn(+relu) fwd", bn_forward, z, gamma, beta, relu_in_bn)
        else:
            gamma, h, bc = None, z, None
        am, pooled = None, None
        if post == "pool":
            pooled, am = run("maxpool fwd", V.maxpool2d_forward, h, (2, 2), (2, 2), (0, 0))
            run("relu fwd", np.maximum, pooled, 0, out=pooled)
            out = pooled
        else:
            if not relu_in_bn:
                run("relu fwd", np.maximum, h, 0, out=h)
            out = run("upsample fwd", V.upsample_nearest2d_forward, h, (2, 2)) if post == "up" else h
        caches.append((a, w, z, gamma, bc, am, post, h, pooled, relu_in_bn))
        a = out
    w, b = next(p), next(p)
    logits = run("conv fwd", V.conv2d_forward, a, w, b, one, pad, one)
    loss, d = run("loss fwd+bwd", softmax_ce, logits, target)

    grads = []
    d, dw, db = run("conv bwd", V.conv2d_backward, d, a, w, one, pad, one)
    grads += [db, dw]
    for i in range(len(caches) - 1, -1, -1):
        a_in, w, z, gamma, bc, am, post, h, pooled, relu_in_bn = caches[i]
        if post == "pool":
            run("relu bwd", relu_backward, d, pooled)
            d = run("maxpool bwd", V.maxpool2d_backward, d, am, z.shape)
        else:
            if post == "up":
                d = run("upsample bwd", V.upsample_nearest2d_backward, d, (2, 2))
            if not relu_in_bn:
                run("relu bwd", relu_backward, d, h)
        if bn:
            d, dg, dbeta = run("bn(+relu) bwd", bn_backward, d, z, h if relu_in_bn else None, gamma, bc)
            grads += [dbeta, dg]
        d, dw, db = run("conv bwd", V.conv2d_backward, d, a_in, w, one, pad, one, need_dx=i > 0)
        grads += [db, dw]
    return loss, grads[::-1]


# -- the PyTorch base network ---------------------------------------------------------------------
def torch_model(bn: bool):
    from torch import nn

    mods: list = []
    for cin, cout, post in numpy_blocks(bn):
        mods.append(nn.Conv2d(cin, cout, 3, padding=1))
        if bn:
            mods.append(nn.BatchNorm2d(cout, eps=EPS))
        if post == "pool":
            mods.append(nn.MaxPool2d(2))
        elif post == "up":
            mods.append(nn.Upsample(scale_factor=2, mode="nearest"))
        mods.append(nn.ReLU())
    mods.append(nn.Conv2d(COLOURS, COLOURS, 3, padding=1))
    return nn.Sequential(*mods)


def torch_params_as_numpy(model):
    """The parameters in numpy_step's order: per block w, b (, gamma, beta); final w, b."""
    return [p.detach().numpy().copy() for p in model.parameters()]


# -- timing ---------------------------------------------------------------------------------------
def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed_steps(fn, steps: int, faults: list[int]) -> list[float]:
    out = []
    for _ in range(steps):
        f0 = minor_faults()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
        faults.append(minor_faults() - f0)
    return out


def worker(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from nnlab.engine.functional import vectorized as V

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    one, pad = (1, 1), (1, 1)
    runners = {}

    # one layer
    for name, (cin, cout) in LAYERS.items():
        x = rng.standard_normal((LAYER_BATCH, cin, SIZE, SIZE), dtype=np.float32)
        w = (rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) / np.float32(3 * cin ** 0.5))
        b = rng.standard_normal(cout, dtype=np.float32)
        dy = rng.standard_normal((LAYER_BATCH, cout, SIZE, SIZE), dtype=np.float32)

        def np_layer(x=x, w=w, b=b, dy=dy):
            V.conv2d_forward(x, w, b, one, pad, one)
            V.conv2d_backward(dy, x, w, one, pad, one)

        xt, wt, bt, dyt = (torch.tensor(a, requires_grad=r) for a, r in ((x, True), (w, True), (b, True), (dy, False)))

        def torch_layer(xt=xt, wt=wt, bt=bt, dyt=dyt):
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, padding=1).backward(dyt)

        runners[f"{name}/numpy"] = np_layer
        runners[f"{name}/torch"] = torch_layer

    # the base network, with batch norm (the measurement of record) and without
    x = rng.random((BATCH, 1, SIZE, SIZE), dtype=np.float32)
    target = rng.integers(0, COLOURS, size=(BATCH, SIZE, SIZE))
    xt, tt = torch.from_numpy(x), torch.from_numpy(target)
    prof = Profile(False)
    checks = {}
    for name, bn in (("base_net", True), ("base_net_no_bn", False)):
        torch.manual_seed(0)
        model = torch_model(bn).train()
        params = torch_params_as_numpy(model)

        def torch_net(model=model):
            model.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xt), tt)
            loss.backward()
            return loss

        def np_net(params=params, bn=bn):
            return numpy_step(params, x, target, bn, prof)

        # agreement check (float32 tolerance) before timing
        loss_np, grads = np_net()
        loss_t = float(torch_net().detach())
        # relative to each gradient's largest entry (at least 1e-4: the conv biases before batch
        # norm have an exact gradient of zero)
        worst = max(float(np.abs(g - p.grad.numpy()).max() / max(float(np.abs(p.grad.numpy()).max()), 1e-4))
                    for g, p in zip(grads, model.parameters()))
        assert abs(loss_np - loss_t) < 1e-4 * abs(loss_t), (name, loss_np, loss_t)
        assert worst < 1e-2, f"{name}: NumPy and PyTorch gradients differ: worst relative error {worst:.3g}"
        checks[name] = {"loss_numpy": loss_np, "loss_torch": loss_t, "worst_grad_rel_err": worst}
        runners[f"{name}/numpy"] = np_net
        runners[f"{name}/torch"] = torch_net

    for fn in runners.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in runners}
    faults: dict[str, list[int]] = {name: [] for name in runners}
    names = list(runners)
    # per-op profile of the NumPy base network (with BN): one profiled step per round, so that
    # it samples the same machine conditions as the timings; best of rounds per op
    best: dict[str, float] = {}
    faults_per_op: dict[str, int] = {}
    for r in range(args.repeats):
        for name in rotated(names, 2 * r):
            times[name] += timed_steps(runners[name], args.steps, faults[name])
        prof.seconds, prof.faults, prof.enabled = {}, {}, True
        runners["base_net/numpy"]()
        prof.enabled = False
        for k_, v in prof.seconds.items():
            best[k_] = min(best.get(k_, np.inf), v)
            faults_per_op[k_] = prof.faults[k_]
    profile = {k_: {"seconds": v, "minor_faults_last_step": faults_per_op[k_]}
               for k_, v in sorted(best.items(), key=lambda kv: -kv[1])}
    best_t = {k_: min(v) for k_, v in times.items()}
    median = {k_: float(np.median(v)) for k_, v in times.items()}
    print(json.dumps({"threads": args.threads, "torch_threads": torch.get_num_threads(), "best": best_t,
                      "median": median, "all": times, "profile": profile, "minor_faults": faults,
                      "check": checks,
                      "blas": blas_info(), "torch": torch.__version__}))


def main() -> None:
    def options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--repeats", type=int, default=8)
        p.add_argument("--steps", type=int, default=4)

    args = parse_args(__doc__, options)
    if args.worker:
        worker(args)
        return
    runs = {}
    for threads, r in run_thread_counts(__file__, ["--repeats", str(args.repeats), "--steps", str(args.steps)]):
        runs[threads] = r
        b = r["best"]
        print(f"{threads} thread(s):")
        for what in CONTENDERS:
            n, t = b[f"{what}/numpy"], b[f"{what}/torch"]
            print(f"  {what:<15} numpy {n * 1e3:8.1f} ms   torch {t * 1e3:8.1f} ms   numpy/torch {n / t:6.2f}")
        if r["profile"]:
            total = sum(v["seconds"] for v in r["profile"].values())
            print(f"  NumPy base network, per op (best of rounds, sum {total * 1e3:.1f} ms):")
            for k, v in r["profile"].items():
                print(f"    {k:<14} {v['seconds'] * 1e3:7.2f} ms  {100 * v['seconds'] / total:5.1f} %"
                      f"   ({v['minor_faults_last_step']} page faults)")
    two, one = runs[2]["best"], runs[1]["best"]

    def ratios(b):
        return {what: b[f"{what}/numpy"] / b[f"{what}/torch"] for what in CONTENDERS}

    result = {
        "benchmark": "conv_vs_torch",
        "what": "float32 forward+backward: one Conv2d layer (batch 64, 32x32, 3x3, pad 1) and the CSC321 "
                "colourization base network (batch 100, 1x32x32, NF=32, 24 colours, softmax cross-entropy)",
        "repeats": args.repeats,
        "steps": args.steps,
        "ratio": two["base_net/numpy"] / two["base_net/torch"],
        "ratios_2_threads": ratios(two),
        "ratios_1_thread": ratios(one),
        "seconds": {str(t): r["best"] for t, r in runs.items()},
        "median_seconds": {str(t): r["median"] for t, r in runs.items()},
        "all_seconds": {str(t): r["all"] for t, r in runs.items()},
        "profile_numpy_base_net": {str(t): r["profile"] for t, r in runs.items()},
        "minor_page_faults_during_timing": {str(t): r["minor_faults"] for t, r in runs.items()},
        "agreement_check": {str(t): r["check"] for t, r in runs.items()},
        "configurations": {
            "numpy": "nnlab.engine.functional.vectorized kernels, NumPy's BLAS with the process's thread count",
            "torch": "torch.nn.functional / nn.Sequential + autograd, torch.set_num_threads(threads)",
        },
        "torch": runs[2]["torch"],
        "blas": runs[2]["blas"],
        "git": git_revision(),
        "target": "ratio <= 2.0",
        "notes": "2-vCPU virtual machine whose speed drifts by tens of per cent with the host's load "
                 "(a 1024^3 sgemm at 2 threads measures 90-235 GFLOP/s from minute to minute): compare runs "
                 "taken at the same time only; best of rounds for both contenders, medians recorded too.",
    }
    path = write_result("conv_vs_torch", result)
    print(f"ratio (numpy / torch, base network, 2 threads) = {result['ratio']:.3f}   -> {path}")


if __name__ == "__main__":
    main()
