"""``transposed-conv`` (seed 003 Q3): transposed convolution = the input-gradient of a convolution;
upsampling.
"""

from __future__ import annotations

import numpy as np

from nnlab.engine import Conv2d, ConvTranspose2d
from nnlab.engine.functional import reference as ref
from nnlab.exercises.base import (
    ExerciseResult,
    checks_section,
    heading,
    matrix_lines,
    new_figure,
    sci,
    show_matrix,
    side_by_side,
)
from nnlab.exercises.numbers import KERNELS, close, max_abs


def transposed_conv(seed: int = 0) -> ExerciseResult:
    """Transposed convolution: the input-gradient (adjoint) of a convolution, and an upsampler."""
    rng = np.random.default_rng(seed)
    configs = [  # (N, C_in, C_out, H, W, k, stride, padding, dilation)
        (2, 2, 3, 5, 5, 3, 2, 1, 1),
        (1, 1, 2, 6, 7, 2, 2, 0, 1),
        (2, 3, 2, 7, 6, 3, 1, 1, 2),
    ]
    adj_rows = []
    for (N, C, O, H, W, k, s, p, d) in configs:
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((O, C, k, k))
        S, Pd, Dl = (s, s), (p, p), (d, d)
        cx = ref.conv2d_forward(x, w, None, S, Pd, Dl)
        y = rng.standard_normal(cx.shape)
        Ho, Wo = cx.shape[2:]
        # output_padding recovers the rows/columns the convolution's floor dropped
        op = (H - ((Ho - 1) * s - 2 * p + d * (k - 1) + 1), W - ((Wo - 1) * s - 2 * p + d * (k - 1) + 1))
        ty = ref.conv_transpose2d_forward(y, w, None, S, Pd, op, Dl)  # w (O, C, k, k) read as (C_in, C_out, ...)
        lhs, rhs = float(np.sum(cx * y)), float(np.sum(x * ty))
        layer = Conv2d(C, O, k, stride=s, padding=p, dilation=d, bias=False, kernels=KERNELS)
        layer.build((C, H, W), np.random.default_rng(0), np.float64)
        layer.load_state_dict({"weight": w})
        layer.forward(x)
        dx = layer.backward(y)
        adj_rows.append({"config": (N, C, O, H, W, k, s, p, d), "output_padding": op, "conv_shape": cx.shape,
                         "lhs": lhs, "rhs": rhs, "inner_diff": abs(lhs - rhs),
                         "backward_diff": max_abs(dx, ty), "shape_ok": dx.shape == ty.shape == x.shape})

    # upsampling: each input value stamps a scaled copy of the kernel
    x2 = np.array([[1.0, 2.0], [3.0, 4.0]])
    k2 = np.array([[1.0, 0.0], [2.0, 1.0]])
    up_layer = ConvTranspose2d(1, 1, 2, stride=2, bias=False, kernels=KERNELS)
    up_layer.build((1, 2, 2), np.random.default_rng(0), np.float64)
    up_layer.load_state_dict({"weight": k2[None, None]})
    up = up_layer.forward(x2[None, None])[0, 0]

    k3 = np.ones((3, 3))
    ov_layer = ConvTranspose2d(1, 1, 3, stride=2, bias=False, kernels=KERNELS)
    ov_layer.build((1, 2, 2), np.random.default_rng(0), np.float64)
    ov_layer.load_state_dict({"weight": k3[None, None]})
    ov = ov_layer.forward(x2[None, None])[0, 0]
    ov_hand = np.zeros((5, 5))
    for i in range(2):
        for j in range(2):
            ov_hand[2 * i : 2 * i + 3, 2 * j : 2 * j + 3] += x2[i, j] * k3

    checks = {
        "<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> (every configuration)":
            all(r["inner_diff"] <= 1e-12 * max(1.0, abs(r["lhs"])) for r in adj_rows),
        "conv_transpose2d(y, w) == Conv2d.backward(y) (every configuration)":
            all(r["shape_ok"] and r["backward_diff"] <= 1e-12 for r in adj_rows),
        "2x2 -> 4x4 with a 2x2 kernel, stride 2": up.shape == (4, 4),
        "stride 2, kernel 2: the output is x kron k": close(up, np.kron(x2, k2)),
        "overlapping stamps add up (3x3 kernel, stride 2: 2x2 -> 5x5)": close(ov, ov_hand),
    }

    T = [heading("transposed-conv: the gradient of a convolution, and an upsampler"), ""]
    T.append("A convolution is linear in its input, y = C x for a (sparse) matrix C. The transposed convolution"
             " computes C^T y: it is")
    T.append("the gradient of sum(conv(x) * y) with respect to x, i.e. what a Conv2d layer's backward returns"
             " for the upstream gradient y.")
    T.append("So <conv2d(x, w), y> = <x, conv_transpose2d(y, w)> with the same weights (read as (C_in, C_out,"
             " k, k)), stride, padding and dilation;")
    T.append("output_padding adds back the rows/columns that the convolution's floor dropped. Seeded random"
             " x, w, y; kernels from nnlab.engine.functional.reference:")
    T.append(f"  {'N,Cin,Cout,H,W':<16} {'k':>2} {'s':>2} {'p':>2} {'d':>2} {'out_pad':>8}"
             f" {'<conv(x), y>':>18} {'<x, convT(y)>':>18} {'|diff|':>9} {'|convT - dx|':>12}")
    for r in adj_rows:
        N, C, O, H, W, k, s, p, d = r["config"]
        T.append(f"  {f'{N},{C},{O},{H},{W}':<16} {k:>2} {s:>2} {p:>2} {d:>2} {r['output_padding']!s:>8}"
                 f" {r['lhs']:18.12f} {r['rhs']:18.12f} {sci(r['inner_diff']):>9} {sci(r['backward_diff']):>12}")
    T.append("")
    T.append("Upsampling: ConvTranspose2d(1, 1, 2, stride=2, kernels='reference'). Each input value x[i, j] stamps"
             " x[i, j] * k at rows 2i.., columns 2j..:")
    T.append(side_by_side([("x (2x2)", x2), ("k (2x2)", k2), ("output (4x4) = x kron k", up)], 2))
    for i in range(2):
        for j in range(2):
            T.append(f"  x[{i},{j}] = {x2[i, j]:g} -> rows {2 * i}-{2 * i + 1}, columns {2 * j}-{2 * j + 1}:"
                     f" {x2[i, j]:g} * k = " + " ".join(matrix_lines(x2[i, j] * k2, 2)))
    T.append("")
    T.append("With a 3x3 kernel at stride 2 the stamps overlap and add up: (2 - 1) * 2 + 3 = 5, so 2x2 -> 5x5"
             " (the middle row and column collect two or four stamps):")
    T.append(side_by_side([("x", x2), ("k (ones)", k3), ("output (5x5)", ov)], 2))
    T += ["", checks_section(checks)]

    values = {"adjoint": adj_rows, "x_up": x2, "k_up": k2, "up": up, "k_overlap": k3, "overlap": ov,
              "overlap_hand": ov_hand}
    return ExerciseResult("transposed-conv", "Transposed convolution: a convolution's gradient, and upsampling",
                          "\n".join(T), values, checks, draw=_draw_transposed)


def _draw_transposed(r: ExerciseResult):
    v = r.values
    fig = new_figure(9.5, 6.4)
    ax = fig.subplots(2, 3, width_ratios=[1, 1, 1.8])
    show_matrix(ax[0][0], v["x_up"], "x (2x2)", cmap="Blues")
    show_matrix(ax[0][1], v["k_up"], "kernel k (2x2)", cmap="Blues")
    show_matrix(ax[0][2], v["up"], "ConvTranspose2d, stride 2: 4x4 = x kron k", cmap="Blues", decimals=0)
    for c in range(1, 2):
        ax[0][2].axhline(2 * c - 0.5, color="red", linewidth=1.2)
        ax[0][2].axvline(2 * c - 0.5, color="red", linewidth=1.2)
    show_matrix(ax[1][0], v["x_up"], "x (2x2)", cmap="Blues")
    show_matrix(ax[1][1], v["k_overlap"], "kernel (3x3 ones)", cmap="Blues")
    show_matrix(ax[1][2], v["overlap"], "stride 2, kernel 3: 5x5, overlaps add", cmap="Blues", decimals=0)
    rows = v["adjoint"]
    worst = max(max(r["inner_diff"], r["backward_diff"]) for r in rows)
    fig.suptitle(f"Transposed convolution upsamples; it equals the conv's input gradient (max difference"
                 f" {sci(worst)} over {len(rows)} configurations)", fontsize=10)
    return fig
