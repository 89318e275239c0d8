"""``dilation`` (seed 003 Q4): the output size of a dilated convolution, and dilation = K kron A.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine import Conv2d
from nnlab.errors import ConfigError, ShapeError
from nnlab.exercises.base import (
    ExerciseResult,
    checks_section,
    heading,
    new_figure,
    sci,
    show_matrix,
    side_by_side,
)
from nnlab.exercises.numbers import KERNELS, close, max_abs, paren

DILATION_CASES = ((7, 8, 3, 2), (10, 10, 3, 3), (9, 12, 2, 4), (5, 6, 3, 1), (16, 9, 5, 2), (28, 28, 3, 2))


def dilation(M: int = 7, N: int = 8, F: int = 3, D: int = 2, seed: int = 0,
             cases: Any = DILATION_CASES) -> ExerciseResult:
    """Dilated convolution: output (M - D*F + D) x (N - D*F + D), and dilation = a kernel K kron A."""
    M, N, F, D = int(M), int(N), int(F), int(D)
    if min(M, N, F, D) < 1:
        raise ConfigError("M, N, F and D must be >= 1")
    span = D * (F - 1) + 1  # the receptive field of the dilated kernel
    Mo, No = M - D * F + D, N - D * F + D
    if Mo < 1 or No < 1:
        raise ShapeError(f"a {F}x{F} kernel dilated by {D} spans {span}x{span}: larger than the {M}x{N} input")
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 10, (M, N)).astype(np.float64)
    K = rng.integers(-2, 3, (F, F)).astype(np.float64)

    # by hand: out[i, j] = sum_ab K[a, b] x[i + D a, j + D b]
    hand = np.zeros((Mo, No))
    for i in range(Mo):
        for j in range(No):
            hand[i, j] = sum(K[a, b] * X[i + D * a, j + D * b] for a in range(F) for b in range(F))

    conv_d = Conv2d(1, 1, F, dilation=D, bias=False, kernels=KERNELS)
    conv_d.build((1, M, N), np.random.default_rng(0), np.float64)
    conv_d.load_state_dict({"weight": K[None, None]})
    dilated = conv_d.forward(X[None, None])[0, 0]

    A = np.zeros((D, D))
    A[0, 0] = 1
    KA = np.kron(K, A)  # D F x D F: K[a, b] at [D a, D b], zeros between
    K_dil = KA[:span, :span]  # the trailing D - 1 zero rows/columns cut off
    conv_p = Conv2d(1, 1, span, bias=False, kernels=KERNELS)
    conv_p.build((1, M, N), np.random.default_rng(0), np.float64)
    conv_p.load_state_dict({"weight": K_dil[None, None]})
    plain = conv_p.forward(X[None, None])[0, 0]
    diff = max_abs(dilated, plain) if dilated.shape == plain.shape else float("inf")

    shape_rows = []
    for m, n, f, d in cases:
        formula = (m - d * f + d, n - d * f + d)
        layer = Conv2d(1, 1, f, dilation=d, bias=False, kernels=KERNELS)
        layer.build((1, m, n), np.random.default_rng(0), np.float64)
        engine = tuple(layer.forward(np.zeros((1, 1, m, n))).shape[2:])
        shape_rows.append(((m, n, f, d), formula, engine))

    checks = {
        f"example {M}x{N}, F={F}, D={D} gives {Mo}x{No}": dilated.shape == (Mo, No),
        "formula == engine Conv2d output shape for every case": all(fm == en for _, fm, en in shape_rows),
        "engine dilated conv == hand sums": close(dilated, hand),
        "dilated conv == plain conv with (K kron A) cropped (max abs diff <= 1e-12)": diff <= 1e-12,
    }

    T = [heading("dilation: output size and the dilated kernel K kron A"), ""]
    T.append("With no padding and stride 1, an F x F kernel dilated by D reads taps D apart: it spans"
             f" D(F - 1) + 1 = {span} pixels, so an M x N input gives")
    T.append("  (M - D(F - 1) - 1 + 1) x (N - D(F - 1) - 1 + 1) = (M - D*F + D) x (N - D*F + D).")
    T.append(f"Example: M = {M}, N = {N}, F = {F}, D = {D}: ({M} - {D * F} + {D}) x ({N} - {D * F} + {D})"
             f" = {Mo} x {No}.")
    T.append("")
    T.append(side_by_side([(f"x ({M}x{N}, seeded)", X), (f"K ({F}x{F})", K)], 4))
    T.append(f"  out[i, j] = sum_ab K[a, b] x[i + {D} a, j + {D} b];  e.g. out[0, 0] = "
             + " + ".join(f"{paren(K[a, b])}*{paren(X[D * a, D * b])}" for a in range(F) for b in range(F))
             + f" = {hand[0, 0]:g}")
    T.append("")
    T.append(f"A ({D}x{D}) has a single 1 at [0, 0]; K kron A ({D * F}x{D * F}) puts K[a, b] at [{D}a, {D}b];"
             f" cropped to {span}x{span} it is the dilated kernel:")
    T.append(side_by_side([("A", A), ("K kron A", KA), (f"cropped ({span}x{span})", K_dil)], 4))
    T.append("")
    T.append(side_by_side([(f"Conv2d({F}, dilation={D})", dilated),
                           (f"Conv2d({span}) with the cropped kernel", plain), ("hand sums", hand)], 4))
    T.append(f"  max |dilated - plain| = {sci(diff)}")
    T.append("")
    T.append("Output shape: formula vs the engine's Conv2d(1, 1, F, dilation=D, kernels='reference')")
    T.append(f"  {'M':>3} {'N':>3} {'F':>2} {'D':>2}   {'formula':>9}   {'engine':>9}")
    for (m, n, f, d), fm, en in shape_rows:
        T.append(f"  {m:>3} {n:>3} {f:>2} {d:>2}   {fm[0]:>4}x{fm[1]:<4}   {en[0]:>4}x{en[1]:<4}"
                 f"  {'ok' if fm == en else 'DIFFERENT'}")
    T += ["", checks_section(checks)]

    values = {"x": X, "K": K, "A": A, "K_kron_A": KA, "K_dilated": K_dil, "dilated": dilated, "plain": plain,
              "hand": hand, "output_shape": (Mo, No), "max_abs_diff": diff,
              "shape_table": [{"M": c[0], "N": c[1], "F": c[2], "D": c[3], "formula": fm, "engine": en}
                              for c, fm, en in shape_rows], "D": D, "F": F}
    return ExerciseResult("dilation", "Dilated convolution: output size and K kron A", "\n".join(T), values, checks,
                          draw=_draw_dilation)


def _draw_dilation(r: ExerciseResult):
    v = r.values
    fig = new_figure(15, 4.0)
    ax = fig.subplots(1, 5, width_ratios=[1.7, 0.7, 1.0, 1.0, 1.0])
    X, D, F = v["x"], v["D"], v["F"]
    show_matrix(ax[0], X, "input x: taps of out[0, 0] boxed", cmap="gray", decimals=0)
    from matplotlib.patches import Rectangle

    for a in range(F):
        for b in range(F):
            ax[0].add_patch(Rectangle((D * b - 0.5, D * a - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.8))
    show_matrix(ax[1], v["K"], "kernel K", cmap="coolwarm")
    show_matrix(ax[2], v["K_dilated"], f"K kron A, cropped (D={D})", cmap="coolwarm")
    show_matrix(ax[3], v["dilated"], f"dilated conv {v['output_shape'][0]}x{v['output_shape'][1]}")
    show_matrix(ax[4], v["plain"], "plain conv, dilated kernel")
    fig.suptitle(f"Dilation D={D}: output (M - D*F + D) x (N - D*F + D); max difference {sci(v['max_abs_diff'])}",
                 fontsize=11)
    return fig
