"""Why convolutions for images (seed 001 Q1): parameters, counted, and what weight sharing buys.

A convolution and a dense layer can map the same image to the same output size; the dense
layer gives every output its own weight for every input pixel, a locally connected layer keeps
the K x K window but not the sharing, and the convolution shares one K x K x C filter over every
position. The exercise counts all three for a few images and layers, with the engine's layers
(``num_parameters``) where they fit in memory and by formula everywhere, and shows on a small
image that a convolution *is* a dense layer whose matrix is sparse and weight-tied.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine import Conv2d, Linear
from nnlab.errors import ConfigError
from nnlab.exercises.base import ExerciseResult, checks_section, heading, new_figure, sci

#: (what, C, H, W, filters, kernel): 'same' padding, stride 1, so the output is F x H x W
CASES: tuple[tuple[str, int, int, int, int, int], ...] = (
    ("CIFAR-10 grey (seed 001)", 1, 32, 32, 32, 3),
    ("MNIST", 1, 28, 28, 16, 5),
    ("CIFAR-10 colour", 3, 32, 32, 64, 3),
    ("FER2013", 1, 48, 48, 32, 3),
    ("light VGG input (seed 003)", 3, 128, 128, 16, 3),
)

ENGINE_LIMIT = 40_000_000  # dense layers up to this many parameters are also built by the engine


def conv_params(C: int, F: int, K: int) -> int:
    """F filters of K x K x C weights, plus F biases."""
    return F * C * K * K + F


def dense_params(C: int, H: int, W: int, F: int) -> int:
    """Every one of the F H W outputs sees every one of the C H W inputs, plus a bias each."""
    return (C * H * W) * (F * H * W) + F * H * W


def local_params(C: int, H: int, W: int, F: int, K: int) -> int:
    """A locally connected layer: the K x K window of a convolution, but a filter per position."""
    return H * W * F * C * K * K + F * H * W


def _engine_counts(C: int, H: int, W: int, F: int, K: int) -> tuple[int, int | None, tuple[int, ...]]:
    conv = Conv2d(C, F, K, padding=K // 2, init="zeros")
    conv.build((C, H, W), np.random.default_rng(0), np.float32)
    dense_n = None
    if dense_params(C, H, W, F) <= ENGINE_LIMIT:
        dense = Linear(C * H * W, F * H * W, init="zeros")  # zeros: nothing to draw, only to count
        dense.build((C * H * W,), np.random.default_rng(0), np.float32)
        dense_n = dense.num_parameters()
        del dense
    return conv.num_parameters(), dense_n, conv.output_shape((C, H, W))


def conv_as_matrix(size: int = 6, filters: int = 2, K: int = 3, seed: int = 0) -> dict[str, Any]:
    """The matrix of a 1 -> ``filters`` convolution (padding K // 2) on a ``size`` x ``size`` image,
    read off column by column from the engine's Conv2d applied to the basis images."""
    conv = Conv2d(1, filters, K, padding=K // 2, bias=False)
    conv.build((1, size, size), np.random.default_rng(0), np.float64)
    w = np.random.default_rng(seed).normal(0, 1, (filters, 1, K, K))
    conv.load_state_dict({"weight": w})
    basis = np.eye(size * size).reshape(size * size, 1, size, size)  # every one-pixel image
    M = conv.forward(basis).reshape(size * size, -1).T  # (F size^2, size^2): column p = response to pixel p
    x = np.random.default_rng(seed + 1).normal(0, 1, (1, 1, size, size))
    dense_out = M @ x.reshape(-1)
    conv_out = conv.forward(x).reshape(-1)
    # translation: shifting the image one column right shifts the conv output (away from the border)
    shifted = np.roll(x, 1, axis=3)
    shifted[..., 0] = 0
    inner = (slice(None), slice(None), slice(K // 2 + 1, size - K // 2))  # columns free of border effects
    conv_shift = conv.forward(shifted)[0]
    conv_then_shift = np.roll(conv.forward(x)[0], 1, axis=2)
    dense_rand = np.random.default_rng(seed + 2).normal(0, 1, M.shape) * (M != 0)  # same sparsity, no sharing
    rand_shift = (dense_rand @ shifted.reshape(-1)).reshape(filters, size, size)
    rand_then_shift = np.roll((dense_rand @ x.reshape(-1)).reshape(filters, size, size), 1, axis=2)
    return {"matrix": M, "weight": w, "nonzero": int(np.count_nonzero(M)),
            "distinct": int(np.unique(M[M != 0]).size), "all_filter_weights": bool(np.all(np.isin(M[M != 0], w))), "dense_vs_conv": float(np.max(np.abs(dense_out - conv_out))),
            "equivariance_conv": float(np.max(np.abs(conv_shift[inner] - conv_then_shift[inner]))),
            "equivariance_local": float(np.max(np.abs(rand_shift[inner] - rand_then_shift[inner]))),
            "size": size, "filters": filters, "K": K}


def why_conv(cases: Any = CASES) -> ExerciseResult:
    """Why CNNs for images: parameters of a conv vs a dense layer with the same input and output size."""
    rows = []
    for what, C, H, W, F, K in cases:
        if min(C, H, W, F, K) < 1 or K % 2 == 0:
            raise ConfigError(f"{what}: sizes must be >= 1 and the kernel odd ('same' padding), got {K}")
        conv_n, dense_n, out_shape = _engine_counts(C, H, W, F, K)
        rows.append({"what": what, "input": (C, H, W), "filters": F, "kernel": K, "output": out_shape,
                     "conv": conv_params(C, F, K), "conv_engine": conv_n, "local": local_params(C, H, W, F, K),
                     "dense": dense_params(C, H, W, F), "dense_engine": dense_n,
                     "ratio": dense_params(C, H, W, F) / conv_params(C, F, K)})
    tiny = conv_as_matrix()
    S, Fm, Km = tiny["size"], tiny["filters"], tiny["K"]

    checks = {
        "engine Conv2d.num_parameters() == F (K K C) + F for every case": all(r["conv"] == r["conv_engine"] for r in rows),
        "engine Linear.num_parameters() == (C H W)(F H W) + F H W where built":
            all(r["dense_engine"] in (None, r["dense"]) for r in rows) and any(r["dense_engine"] for r in rows),
        "the conv output has the dense layer's size (F x H x W)": all(r["output"] == (r["filters"], *r["input"][1:])
                                                                      for r in rows),
        "a convolution is a dense layer with a sparse, tied matrix (same outputs)": tiny["dense_vs_conv"] <= 1e-12,
        f"that {Fm * S * S}x{S * S} matrix holds only the {Fm * Km * Km} filter weights":
            tiny["all_filter_weights"] and tiny["distinct"] == Fm * Km * Km,
        "shifting the input shifts the conv output (weight sharing)": tiny["equivariance_conv"] <= 1e-12,
        "the same sparse matrix without sharing is not shift-equivariant": tiny["equivariance_local"] > 1e-6,
    }

    T = [heading("why-conv: a convolution against a dense layer with the same input and output"), ""]
    T.append("Each row maps the same image to the same F x H x W output ('same' padding, stride 1):")
    T.append("  conv:  F (K K C) + F                 one K x K x C filter per output channel, shared by every"
             " position")
    T.append("  local: H W F (K K C) + F H W         the same K x K windows, a separate filter at every position")
    T.append("  dense: (C H W)(F H W) + F H W        every output sees every input pixel")
    T.append("Counted with the engine: Conv2d(C, F, K, padding=K//2).num_parameters() always; Linear(C H W, F H W)"
             f" only up to {ENGINE_LIMIT:,} parameters (zero-initialised, float32; larger ones would need gigabytes),"
             " the rest by the formula (the engine has no locally connected layer).")
    T.append("")
    T.append(f"  {'image':<28} {'C x H x W':>11} {'filters':>9} {'output':>12} {'conv':>8} {'local':>12}"
             f" {'dense':>16} {'dense / conv':>13}  engine (conv, dense)")
    for r in rows:
        C, H, W = r["input"]
        eng_dense = f"{r['dense_engine']:,}" if r["dense_engine"] is not None else "formula only"
        filt = f"{r['filters']} {r['kernel']}x{r['kernel']}"
        T.append(f"  {r['what']:<28} {f'{C}x{H}x{W}':>11} {filt:>9} {'x'.join(map(str, r['output'])):>12}"
                 f" {r['conv']:>8,} {r['local']:>12,} {r['dense']:>16,} {r['ratio']:>13,.0f}"
                 f"  {r['conv_engine']:,}, {eng_dense}")
    first = rows[0]
    T.append("")
    T.append(f"The seed's setting, a {first['input'][1]}x{first['input'][2]} grey image and {first['filters']}"
             f" {first['kernel']}x{first['kernel']} filters: {first['conv']:,} parameters against"
             f" {first['dense']:,} ({first['dense'] / 1e6:.1f} M) for the dense layer, {first['ratio']:,.0f} times"
             " more. The conv count does not depend on the image size; the dense count grows with its square.")
    T.append("")
    T.append(f"What the sharing is: the engine's Conv2d(1, {Fm}, {Km}, padding={Km // 2}) applied to the {S * S}"
             f" one-pixel images of a {S}x{S} image gives its matrix, {Fm * S * S} x {S * S}:")
    T.append(f"  {tiny['nonzero']} of its {Fm * S ** 4} entries are nonzero (locality) and they take only"
             f" {tiny['distinct']} distinct values, the {Fm} x {Km}x{Km} filter weights (sharing);"
             f" matrix @ x == conv(x): max difference {sci(tiny['dense_vs_conv'])}.")
    T.append(f"  Shift the input one column: the conv output shifts with it (interior max difference"
             f" {sci(tiny['equivariance_conv'])}); the same sparse matrix with independent weights per position"
             f" does not ({tiny['equivariance_local']:.3f}).")
    T.append("  So one filter detects its pattern wherever it appears (translation equivariance; see"
             " `nnlab exercise equivariance`), and a pattern learned in one place is known everywhere.")
    T.append("")
    T.append("Other reasons CNNs suit images (seed 001 Q1 names the first two): far fewer parameters, hence less"
             " data and memory; local windows match local image structure (edges, textures); pooling and"
             " strides build larger receptive fields layer by layer (`nnlab exercise receptive-field`).")
    T += ["", checks_section(checks)]

    values = {"rows": rows, "conv_matrix": tiny["matrix"], "conv_matrix_weight": tiny["weight"],
              "conv_matrix_nonzero": tiny["nonzero"], "conv_matrix_distinct": tiny["distinct"],
              "conv_matrix_max_diff": tiny["dense_vs_conv"], "equivariance_conv": tiny["equivariance_conv"],
              "equivariance_local": tiny["equivariance_local"]}
    checks = {claim: bool(ok) for claim, ok in checks.items()}  # plain bools, not numpy ones
    return ExerciseResult("why-conv", "Why convolutions: parameters of a conv, a locally connected and a dense layer",
                          "\n".join(T), values, checks, draw=_draw)


def _draw(r: ExerciseResult):
    v = r.values
    fig = new_figure(15, 5.0)
    ax = fig.subplots(1, 2, width_ratios=[1.7, 1])
    rows = v["rows"]
    pos = np.arange(len(rows))
    for k, (key, label) in enumerate([("conv", "convolution"), ("local", "locally connected"),
                                      ("dense", "dense (fully connected)")]):
        bars = ax[0].bar(pos + (k - 1) * 0.27, [row[key] for row in rows], width=0.27, label=label)
        ax[0].bar_label(bars, labels=[f"{row[key]:.2g}" for row in rows], fontsize=6.5, rotation=90, padding=2)
    ax[0].set_yscale("log")
    ax[0].set_ylim(10, max(row["dense"] for row in rows) * 200)
    ax[0].set_xticks(pos, [f"{row['what']}\n{'x'.join(map(str, row['input']))} -> {'x'.join(map(str, row['output']))}"
                           for row in rows], fontsize=7)
    ax[0].set_ylabel("parameters (log scale)")
    ax[0].set_xlabel("input image (C x H x W) -> output (F x H x W)")
    ax[0].legend(fontsize=8, loc="upper left")
    ax[0].set_title("Same input, same output size: parameters of each layer type", fontsize=9)
    M = v["conv_matrix"]
    lim = float(np.abs(M).max())
    ax[1].imshow(M, cmap="coolwarm", vmin=-lim, vmax=lim, interpolation="nearest", aspect="auto")
    ax[1].set_xlabel(f"input pixel ({M.shape[1]})")
    ax[1].set_ylabel(f"output unit ({M.shape[0]})")
    ax[1].set_title(f"A conv as a dense matrix: {v['conv_matrix_nonzero']} nonzero,"
                    f" {v['conv_matrix_distinct']} distinct weights", fontsize=9)
    fig.suptitle("Why convolutions: locality and weight sharing cut the parameters by orders of magnitude",
                 fontsize=11)
    return fig


__all__ = ["CASES", "conv_as_matrix", "conv_params", "dense_params", "local_params", "why_conv"]
