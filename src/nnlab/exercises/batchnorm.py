"""Batch normalisation on a real batch (seed 001 Q2), step by step, checked against the engine.

A convolution's output z (N, C, H, W) is normalised per channel with the mean and the biased
variance over the N H W values of that channel, then scaled by gamma and shifted by beta (both
learned). In training the layer also keeps running statistics, an exponential moving average
with PyTorch's momentum meaning: ``running = (1 - momentum) running + momentum batch`` (the
unbiased batch variance goes into ``running_var``). In evaluation those running statistics
replace the batch's, so one sample's output no longer depends on the rest of its batch.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.data import synthetic
from nnlab.engine import BatchNorm2d, Conv2d
from nnlab.errors import ConfigError, ShapeError
from nnlab.exercises.base import (
    ExerciseResult,
    checks_section,
    heading,
    matrix_lines,
    new_figure,
    sci,
)


def cifar_horses(data_dir: str | Path | None = None, n: int = 480) -> tuple[np.ndarray, str]:
    """The first ``n`` CIFAR-10 training horses as floats in [0, 1] (N, 3, 32, 32), and a line
    saying where they came from. Raises ``nnlab.data.MissingDataError`` when CIFAR-10 is not found
    (``data_dir``, then ``NNLAB_DATA``, then the cache)."""
    from nnlab.data import load

    data = load("cifar10", "train", data_dir=data_dir, classes=["horse"])
    images = data.images[:n].astype(np.float64) / 255.0
    return images, f"{len(images)} CIFAR-10 training horses (the first ones) from {data.source}"


def _stats(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel mean, biased and unbiased variance over (N, H, W)."""
    m = z.size // z.shape[1]
    var = z.var(axis=(0, 2, 3))
    return z.mean(axis=(0, 2, 3)), var, var * m / (m - 1)


def batchnorm(images: Any = None, source: str | None = None, batch_size: int = 16, batches: int = 50,
              channels: int = 6, momentum: float = 0.1, eps: float = 1e-5, seed: int = 0,
              data_dir: str | Path | None = None) -> ExerciseResult:
    """Batch normalisation on a batch: per-channel statistics, gamma and beta, running averages, train vs eval."""
    if images is None and data_dir is not None:  # CIFAR-10 horses when found, else the synthetic batch
        from nnlab.data import MissingDataError

        try:
            images, source = cifar_horses(data_dir, n=batch_size * batches)
        except MissingDataError:
            source = f"CIFAR-10 was not found under {data_dir} (nor NNLAB_DATA, nor the cache)"
    if images is None:
        images = synthetic.shaded_images(batch_size * batches, seed=seed)
        made = f"{len(images)} synthetic colour images (seeded ramps, discs and noise)"
        source = f"{source}; {made} instead" if source else f"{made}; no images given"
    x_all = np.asarray(images, dtype=np.float64)
    if x_all.ndim != 4:
        raise ShapeError(f"images must be (N, C, H, W), got shape {x_all.shape}")
    if x_all.min() < 0 or x_all.max() > 1:
        raise ConfigError("images must be in [0, 1]")
    batches = min(int(batches), len(x_all) // int(batch_size))
    if batches < 2:
        raise ConfigError(f"need at least 2 batches of {batch_size} images, got {len(x_all)} images")
    source = source or f"{len(x_all)} images given"
    B, C = int(batch_size), int(channels)
    xs = x_all[: B * batches].reshape(batches, B, *x_all.shape[1:])

    conv = Conv2d(x_all.shape[1], C, 3, padding=1, init="he_normal")  # seeded
    conv.build(x_all.shape[1:], np.random.default_rng(seed), np.float64)
    gamma, beta = np.linspace(0.5, 2.0, C), np.linspace(-1.0, 1.0, C)

    def new_bn() -> BatchNorm2d:
        bn = BatchNorm2d(C, eps=eps, momentum=momentum)
        bn.build((C, *x_all.shape[2:]), np.random.default_rng(0), np.float64)
        bn.load_state_dict({**bn.state_dict(), "weight": gamma, "bias": beta})
        return bn

    # -- one batch, by hand and with the engine -------------------------------------------------
    z = conv.forward(xs[0])  # (B, C, H, W)
    mu, var, var_unbiased = _stats(z)
    shape = (1, C, 1, 1)
    xhat = (z - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    y_hand = gamma.reshape(shape) * xhat + beta.reshape(shape)
    bn = new_bn()
    y_engine = bn.forward(z)
    xhat_mean, xhat_var = xhat.mean(axis=(0, 2, 3)), xhat.var(axis=(0, 2, 3))
    y_mean, y_std = y_engine.mean(axis=(0, 2, 3)), y_engine.std(axis=(0, 2, 3))
    undo = BatchNorm2d(C, eps=eps)
    undo.build((C, *x_all.shape[2:]), np.random.default_rng(0), np.float64)
    undo.load_state_dict({**undo.state_dict(), "weight": np.sqrt(var + eps), "bias": mu})
    undo_diff = float(np.max(np.abs(undo.forward(z) - z)))

    # -- running statistics over the batches: the engine against the moving average by hand -----
    run_mean, run_var = np.zeros(C), np.ones(C)
    trace_mean, trace_var, zs = [run_mean], [run_var], []
    bn = new_bn()
    engine_mean, engine_var = [bn._buffers["running_mean"].copy()], [bn._buffers["running_var"].copy()]
    for k in range(batches):
        zk = conv.forward(xs[k])
        zs.append(zk)
        mk, _, vk = _stats(zk)
        run_mean = (1 - momentum) * run_mean + momentum * mk
        run_var = (1 - momentum) * run_var + momentum * vk
        trace_mean.append(run_mean)
        trace_var.append(run_var)
        bn.forward(zk)
        engine_mean.append(bn._buffers["running_mean"].copy())
        engine_var.append(bn._buffers["running_var"].copy())
    trace_mean, trace_var = np.array(trace_mean), np.array(trace_var)  # (batches + 1, C)
    engine_mean, engine_var = np.array(engine_mean), np.array(engine_var)
    z_all = np.concatenate(zs)
    pop_mean, pop_var, _ = _stats(z_all)
    target_var = np.mean([_stats(zk)[2] for zk in zs], axis=0)  # what running_var averages

    # -- evaluation mode ---------------------------------------------------------------------------
    bn.eval()
    y_eval = bn.forward(z)
    rm, rv = bn._buffers["running_mean"], bn._buffers["running_var"]
    y_eval_hand = gamma.reshape(shape) * (z - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + eps) + beta.reshape(shape)
    y_eval_alone = bn.forward(z[:1])
    probe = new_bn()  # training mode: sample 0 in two different batches
    mixed = np.concatenate([z[:1], zs[1][1:]])
    train_dep = float(np.max(np.abs(copy.deepcopy(probe).forward(z)[0] - copy.deepcopy(probe).forward(mixed)[0])))
    eval_train_diff = float(np.max(np.abs(y_eval - y_engine)))

    tol = 1e-10
    # after k batches the start still weighs (1 - momentum)^k: only enough batches come 10x closer
    factor, closer = (0.1, "10x closer") if (1 - momentum) ** batches < 0.05 else (1.0, "closer")
    checks = {
        "engine BatchNorm2d (training) == (z - mean) / sqrt(var + eps) * gamma + beta":
            float(np.max(np.abs(y_engine - y_hand))) <= tol,
        "normalised: per-channel mean 0 (|mean| < 1e-12)": float(np.max(np.abs(xhat_mean))) < 1e-12,
        "normalised: per-channel variance 1 (within 1%; exactly var / (var + eps))":
            float(np.max(np.abs(xhat_var - var / (var + eps)))) <= tol and float(np.max(np.abs(xhat_var - 1))) < 1e-2,
        "output: per-channel mean beta and standard deviation gamma (within 1%)":
            float(np.max(np.abs(y_mean - beta))) <= 1e-9 and float(np.max(np.abs(y_std / gamma - 1))) < 1e-2,
        "gamma = sqrt(var + eps), beta = mean undoes the normalisation": undo_diff <= 1e-9,
        f"running mean/var after {batches} batches == the moving average by hand (momentum {momentum:g})":
            float(np.max(np.abs(engine_mean - trace_mean))) <= tol and float(np.max(np.abs(engine_var - trace_var))) <= tol,
        f"the running averages converge: {closer} to their targets than at the start":
            float(np.max(np.abs(trace_mean[-1] - pop_mean))) < factor * float(np.max(np.abs(pop_mean)))
            and float(np.max(np.abs(trace_var[-1] - target_var))) < factor * float(np.max(np.abs(1 - target_var))),
        "evaluation mode == gamma (z - running_mean) / sqrt(running_var + eps) + beta":
            float(np.max(np.abs(y_eval - y_eval_hand))) <= tol,
        "evaluation: a sample's output does not depend on its batch": float(np.max(np.abs(y_eval_alone[0] - y_eval[0]))) <= tol,
        "training: the same sample in another batch gives another output": train_dep > 1e-6,
    }

    dec = 4
    m = z.size // C
    T = [heading("batchnorm: batch normalisation of a convolution's output"), ""]
    T.append(f"Images: {source}.")
    T.append(f"Batches of {B}; z = Conv2d({x_all.shape[1]}, {C}, 3, padding=1)(x) (seeded He init,"
             f" float64): z is {B} x {C} x {z.shape[2]} x {z.shape[3]}, so each channel's statistics are over"
             f" m = {B} x {z.shape[2]} x {z.shape[3]} = {m:,} values.")
    T.append("")
    T.append("1. Batch statistics (the seed's (1) and (2)), per channel c:")
    T.append("   mean_c = (1/m) sum z,   var_c = (1/m) sum (z - mean_c)^2   (biased, used to normalise)")
    T.append("   mean      " + " ".join(matrix_lines(mu, dec)))
    T.append("   var       " + " ".join(matrix_lines(var, dec)))
    T.append(f"2. Normalise: z_hat = (z - mean_c) / sqrt(var_c + eps), eps = {eps:g}. Per channel afterwards:")
    T.append("   mean      " + " ".join(matrix_lines(xhat_mean, 12)))
    T.append("   variance  " + " ".join(matrix_lines(xhat_var, 6)) + "   (= var / (var + eps), not exactly 1)")
    T.append("3. Scale and shift with the learned gamma and beta (set here to spread values to see them):"
             " y = gamma_c z_hat + beta_c")
    T.append("   gamma     " + " ".join(matrix_lines(gamma, dec)))
    T.append("   beta      " + " ".join(matrix_lines(beta, dec)))
    T.append("   mean(y)   " + " ".join(matrix_lines(y_mean, dec)) + "   (= beta)")
    T.append("   std(y)    " + " ".join(matrix_lines(y_std, dec)) + "   (= gamma)")
    T.append(f"   engine BatchNorm2d({C}) in training mode gives the same y: max |difference| ="
             f" {sci(float(np.max(np.abs(y_engine - y_hand))))}.")
    T.append(f"   gamma and beta let the network undo the normalisation when that is better: with gamma ="
             f" sqrt(var + eps) and beta = mean, y == z (max difference {sci(undo_diff)}).")
    T.append("")
    T.append(f"4. Running statistics (for evaluation), PyTorch's momentum = {momentum:g}: after each training batch")
    T.append("   running_mean = (1 - momentum) running_mean + momentum mean_batch     (starts at 0)")
    T.append("   running_var  = (1 - momentum) running_var  + momentum var_batch * m / (m - 1)   (starts at 1;"
             " unbiased)")
    T.append(f"   An exponential moving average: the initial value still weighs (1 - momentum)^k after k batches"
             f" ({(1 - momentum) ** batches:.3f} after {batches}).")
    T.append(f"   {'batch':>5}  running_mean (first 3 channels)      running_var (first 3 channels)")
    for k in sorted({0, 1, 2, 5, 10, 20, batches} & set(range(batches + 1))):
        T.append(f"   {k:>5}  " + " ".join(f"{v:9.4f}" for v in trace_mean[k, :3]) + "     "
                 + " ".join(f"{v:9.4f}" for v in trace_var[k, :3]))
    T.append(f"   targets: the mean over all {batches} batches " + " ".join(f"{v:.4f}" for v in pop_mean[:3])
             + "; the average unbiased within-batch variance " + " ".join(f"{v:.4f}" for v in target_var[:3])
             + " (the variance over all batches, " + " ".join(f"{v:.4f}" for v in pop_var[:3])
             + ", also counts the spread of the batch means)")
    T.append(f"   the engine's buffers after every batch == the average by hand: max |difference| ="
             f" {sci(float(max(np.max(np.abs(engine_mean - trace_mean)), np.max(np.abs(engine_var - trace_var)))))}.")
    T.append("")
    T.append("5. Training vs evaluation on the first batch:")
    T.append("   training uses the batch's own mean and variance; evaluation uses running_mean and running_var:"
             f" max |y_train - y_eval| = {eval_train_diff:.4f}.")
    T.append(f"   In evaluation a sample's output is the same alone or in its batch (difference"
             f" {sci(float(np.max(np.abs(y_eval_alone[0] - y_eval[0]))))}); in training, putting sample 0 among"
             f" other images changes its output by up to {train_dep:.4f}.")
    T.append("")
    T.append("Why it helps (seed 001 Q2): every layer sees inputs of a stable scale whatever the layers before it"
             " do, so larger learning rates work and training needs fewer epochs; the batch noise in the"
             " statistics also regularises a little.")
    T.append("A correction to the seed's wording: the exponential moving average keeps running_mean and"
             " running_var (used in evaluation); gamma and beta are ordinary parameters learned by gradient"
             " descent, not by the moving average.")
    T += ["", checks_section(checks)]

    values = {"source": source, "z": z, "mean": mu, "var": var, "var_unbiased": var_unbiased, "z_hat": xhat,
              "z_hat_mean": xhat_mean, "z_hat_var": xhat_var, "gamma": gamma, "beta": beta, "y": y_engine,
              "y_mean": y_mean, "y_std": y_std, "running_mean": trace_mean, "running_var": trace_var,
              "engine_running_mean": engine_mean, "engine_running_var": engine_var, "population_mean": pop_mean,
              "population_var": pop_var, "target_var": target_var, "y_eval": y_eval, "eval_train_max_diff": eval_train_diff,
              "train_batch_dependence": train_dep, "momentum": momentum, "batches": batches, "batch_size": B}
    checks = {claim: bool(ok) for claim, ok in checks.items()}  # plain bools, not numpy ones
    return ExerciseResult("batchnorm", "Batch normalisation: statistics, gamma and beta, running averages",
                          "\n".join(T), values, checks, draw=_draw)


def _draw(r: ExerciseResult):
    v = r.values
    fig = new_figure(15, 4.2)
    ax = fig.subplots(1, 4)
    show = min(3, len(v["mean"]))
    colours = ["tab:blue", "tab:orange", "tab:green"]
    for c in range(show):
        ax[0].hist(v["z"][:, c].ravel(), bins=50, histtype="step", color=colours[c], label=f"channel {c}")
        ax[1].hist(v["z_hat"][:, c].ravel(), bins=50, histtype="step", color=colours[c], label=f"channel {c}")
    ax[0].set_title("before: conv output z\n(first batch)", fontsize=9)
    ax[1].set_title("after: (z - mean) / sqrt(var + eps)\n(first batch)", fontsize=9)
    for a in ax[:2]:
        a.set_xlabel("value")
        a.set_ylabel("count")
        a.legend(fontsize=7)
    k = np.arange(len(v["running_mean"]))
    for c in range(show):
        ax[2].plot(k, v["running_mean"][:, c], color=colours[c], label=f"channel {c}")
        ax[2].axhline(v["population_mean"][c], color=colours[c], linestyle="--", linewidth=0.8)
        ax[3].plot(k, v["running_var"][:, c], color=colours[c], label=f"channel {c}")
        ax[3].axhline(v["target_var"][c], color=colours[c], linestyle="--", linewidth=0.8)
    ax[2].set_title(f"running_mean, momentum {v['momentum']:g}\n(dashed: mean over all batches)", fontsize=9)
    ax[3].set_title("running_var\n(dashed: average within-batch variance)", fontsize=9)
    for a, what in zip(ax[2:], ["running mean", "running variance"]):
        a.set_xlabel("training batches seen")
        a.set_ylabel(what)
        a.legend(fontsize=7)
    fig.suptitle(f"Batch normalisation of a conv output ({v['source']})", fontsize=10)
    return fig


__all__ = ["batchnorm", "cifar_horses"]
