"""``equivariance`` (seed 003 Q1): convolution commutes with shifts; max pooling only nearly.
"""

from __future__ import annotations

import numpy as np

from nnlab.engine import Conv2d, MaxPool2d
from nnlab.errors import ConfigError
from nnlab.exercises.base import (
    ExerciseResult,
    checks_section,
    heading,
    new_figure,
    sci,
    show_matrix,
    side_by_side,
)
from nnlab.exercises.numbers import KERNELS, max_abs, shifted


def equivariance(size: int = 16, shift: tuple[int, int] = (1, 2), seed: int = 0) -> ExerciseResult:
    """Convolution commutes with shifts (translation equivariance); max pooling is only nearly invariant."""
    size = int(size)
    if size < 12 or size % 2:
        raise ConfigError("size must be even and >= 12")
    dr, dc = int(shift[0]), int(shift[1])
    if max(abs(dr), abs(dc)) > 2:
        raise ConfigError("keep the shift within 2 pixels (the content is 4 pixels away from the borders)")
    rng = np.random.default_rng(seed)
    X = np.zeros((size, size))
    X[4 : size - 4, 4 : size - 4] = rng.integers(1, 10, (size - 8, size - 8))
    K = np.round(rng.normal(0, 1, (3, 3)), 2)

    conv = Conv2d(1, 1, 3, padding=1, bias=False, kernels=KERNELS)
    conv.build((1, size, size), np.random.default_rng(0), np.float64)
    conv.load_state_dict({"weight": K[None, None]})
    pool = MaxPool2d(2, kernels=KERNELS)
    pool.build((1, size, size), np.random.default_rng(0), np.float64)

    def C(a: np.ndarray) -> np.ndarray:
        return conv.forward(a[None, None])[0, 0]

    def P(a: np.ndarray) -> np.ndarray:
        return pool.forward(a[None, None])[0, 0]

    Xs = shifted(X, dr, dc)
    conv_then_shift = shifted(C(X), dr, dc)
    shift_then_conv = C(Xs)
    inner = (slice(2, size - 2), slice(2, size - 2))
    conv_diff = max_abs(shift_then_conv[inner], conv_then_shift[inner])
    conv_diff_all = max_abs(shift_then_conv, conv_then_shift)

    p0 = P(X)
    p1 = P(shifted(X, 0, 1))  # one pixel to the right
    changed = p1 != p0
    pool1_diff = max_abs(p1, p0)
    p2 = P(shifted(X, 2, 2))  # by the stride in both directions
    p0_moved = shifted(p0, 1, 1)
    pool2_diff = max_abs(p2, p0_moved)

    checks = {
        "conv(shift(x)) == shift(conv(x)) on the interior (max diff 0)": conv_diff <= 1e-12,
        "max pooling is not invariant to a 1-pixel shift": pool1_diff > 0,
        "a shift by the stride (2) shifts the pooled map by one cell exactly": pool2_diff == 0.0,
    }

    T = [heading("equivariance: convolution commutes with shifts, pooling only nearly"), ""]
    T.append(f"x: a {size}x{size} image, zero except a seeded {size - 8}x{size - 8} block of integers 1..9 in"
             " the middle (4 pixels from every border). shift(x, r, c) moves it r rows down and c columns"
             " right, filling with zeros.")
    T.append(side_by_side([(f"x, rows and columns 2..{size - 3} (the rest is 0)", X[2 : size - 2, 2 : size - 2]),
                           ("K (3x3, padding 1)", K)], 2))
    T.append("")
    T.append(f"Convolution: conv(shift(x, {dr}, {dc})) vs shift(conv(x), {dr}, {dc})")
    T.append(f"  max |difference| on the interior (2 pixels in from each border) = {sci(conv_diff)};"
             f" over the whole image = {sci(conv_diff_all)}")
    T.append("  (every output is the same sum of the same products, just at a different place: convolution"
             " is translation equivariant; only the borders, where zeros are shifted in, can differ).")
    T.append("")
    T.append("Max pooling 2x2 stride 2:")
    T.append(side_by_side([("pool(x)", p0), ("pool(shift(x, 0, 1))", p1), ("changed (1 = yes)", changed.astype(float))],
                          2))
    T.append(f"  1-pixel shift: max |pool(shift(x)) - pool(x)| = {pool1_diff:g};"
             f" {int(changed.sum())} of {changed.size} pooled values changed ({changed.mean():.1%});"
             f" of the {int((p0 > 0).sum())} windows that see the content,"
             f" {int(changed[p0 > 0].sum())} changed ({changed[p0 > 0].mean():.1%}).")
    T.append("  Pooling is only approximately invariant: a window's maximum survives a 1-pixel shift when it"
             " stays inside the window.")
    T.append(f"  shift by the stride, (2, 2): max |pool(shift(x, 2, 2)) - shift(pool(x), 1, 1)| = {sci(pool2_diff)}"
             " (exactly one cell).")
    T += ["", checks_section(checks)]

    values = {"x": X, "K": K, "shift": (dr, dc), "x_shifted": Xs, "conv_x": C(X), "conv_then_shift": conv_then_shift,
              "shift_then_conv": shift_then_conv, "conv_max_diff_interior": conv_diff,
              "conv_max_diff_all": conv_diff_all, "pool_x": p0, "pool_shift1": p1, "pool_changed": changed,
              "pool_shift1_max_diff": pool1_diff, "pool_shift1_changed_fraction": float(changed.mean()),
              "pool_shift2": p2, "pool_x_moved": p0_moved, "pool_shift2_max_diff": pool2_diff}
    return ExerciseResult("equivariance", "Translation equivariance of convolution; pooling's near-invariance",
                          "\n".join(T), values, checks, draw=_draw_equivariance)


def _draw_equivariance(r: ExerciseResult):
    v = r.values
    dr, dc = v["shift"]
    fig = new_figure(15, 6.4)
    ax = fig.subplots(2, 5)
    show_matrix(ax[0][0], v["x"], "x", cmap="gray", annotate=False)
    show_matrix(ax[0][1], v["x_shifted"], f"shift(x, {dr}, {dc})", cmap="gray", annotate=False)
    show_matrix(ax[0][2], v["conv_then_shift"], f"shift(conv(x), {dr}, {dc})", annotate=False)
    show_matrix(ax[0][3], v["shift_then_conv"], f"conv(shift(x, {dr}, {dc}))", annotate=False)
    show_matrix(ax[0][4], np.abs(v["shift_then_conv"] - v["conv_then_shift"]),
                f"|difference| (interior max {sci(v['conv_max_diff_interior'])})", cmap="magma", annotate=False,
                vmin=0, vmax=max(1.0, float(np.abs(v["shift_then_conv"] - v["conv_then_shift"]).max())))
    show_matrix(ax[1][0], v["pool_x"], "pool(x)", decimals=0, fontsize=6)
    show_matrix(ax[1][1], v["pool_shift1"], "pool(shift(x, 0, 1))", decimals=0, fontsize=6)
    show_matrix(ax[1][2], v["pool_changed"].astype(float),
                f"changed: {v['pool_shift1_changed_fraction']:.0%}", cmap="Reds", annotate=False, vmin=0, vmax=1)
    show_matrix(ax[1][3], v["pool_shift2"], "pool(shift(x, 2, 2))", decimals=0, fontsize=6)
    show_matrix(ax[1][4], v["pool_x_moved"], "shift(pool(x), 1, 1)", decimals=0, fontsize=6)
    fig.suptitle("Convolution is shift-equivariant (top); 2x2 max pooling is only nearly shift-invariant (bottom)",
                 fontsize=11)
    return fig
