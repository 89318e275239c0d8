"""``conv-pool`` (seed 000 Q2): a 4x4 image, three 3x3 filters with padding 1, 2x2 max pooling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine import Conv2d, MaxPool2d
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
from nnlab.exercises.numbers import KERNELS, SEED_IMAGE, close, engine_model, max_abs, paren

#: three classic 3x3 filters (the seed's own filters cannot be read from its text)
DEFAULT_FILTERS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "Laplacian edge detector": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),
    "box blur 1/9": np.full((3, 3), 1 / 9),
}


def conv_pool(image: Any = None, filters: Any = None, filter_names: list[str] | None = None,
              padding: int = 1) -> ExerciseResult:
    """A 4x4 image, three 3x3 filters with padding 1 (4x4x3), max pooling 2x2 stride 2 (2x2x3)."""
    default = filters is None
    img = SEED_IMAGE.copy() if image is None else np.array(image, dtype=np.float64)
    if default:
        names = list(DEFAULT_FILTERS)
        K = np.stack(list(DEFAULT_FILTERS.values()))
    else:
        K = np.array(filters, dtype=np.float64)
        if K.ndim == 2:
            K = K[None]
        names = list(filter_names) if filter_names else [f"filter {f + 1}" for f in range(len(K))]
    if img.ndim != 2 or K.ndim != 3 or K.shape[1] != K.shape[2] or len(names) != len(K):
        raise ConfigError("conv-pool takes a 2-D image and filters of shape (F, k, k) (one name each)")
    F, k = K.shape[0], K.shape[1]
    H, W = img.shape
    p = int(padding)

    # -- by hand: zero padding, then for every output the explicit sum over the 3x3 window -----
    P = np.zeros((H + 2 * p, W + 2 * p))
    P[p : p + H, p : p + W] = img
    Ho, Wo = H + 2 * p - k + 1, W + 2 * p - k + 1
    if Ho < 2 or Wo < 2:
        raise ShapeError(f"the {k}x{k} filters leave a {Ho}x{Wo} map: too small to pool 2x2")
    maps = np.zeros((F, Ho, Wo))
    for f in range(F):
        for i in range(Ho):
            for j in range(Wo):
                total = 0.0
                for a in range(k):
                    for b in range(k):
                        total += P[i + a, j + b] * K[f, a, b]
                maps[f, i, j] = total
    # max pooling 2x2, stride 2: the largest of each non-overlapping 2x2 block
    pooled = np.zeros((F, Ho // 2, Wo // 2))
    for f in range(F):
        for i in range(Ho // 2):
            for j in range(Wo // 2):
                pooled[f, i, j] = max(maps[f, 2 * i, 2 * j], maps[f, 2 * i, 2 * j + 1],
                                      maps[f, 2 * i + 1, 2 * j], maps[f, 2 * i + 1, 2 * j + 1])

    # -- the engine: Conv2d(1, F, k, padding) + MaxPool2d(2) with the reference kernels -------
    model = engine_model([Conv2d(1, F, k, padding=p, kernels=KERNELS), MaxPool2d(2, kernels=KERNELS)], (1, H, W))
    model.load_state_dict({"0.weight": K[:, None], "0.bias": np.zeros(F)})
    x = img[None, None]
    maps_engine = model.layers[0].forward(x)[0]
    pooled_engine = model.forward(x)[0]

    checks = {
        f"conv output is {Ho}x{Wo}x{F}": maps_engine.shape == (F, Ho, Wo),
        f"pooled output is {Ho // 2}x{Wo // 2}x{F}": pooled_engine.shape == (F, Ho // 2, Wo // 2),
        "engine Conv2d == hand sums": close(maps_engine, maps),
        "engine MaxPool2d == hand maxima": close(pooled_engine, pooled),
    }
    centre = np.zeros((k, k))
    centre[k // 2, k // 2] = 1
    for f in range(F):
        if np.array_equal(K[f], centre) and Ho == H and Wo == W:
            checks[f"the identity filter ({names[f]}) reproduces the image"] = bool(np.array_equal(maps[f], img))

    # -- text ---------------------------------------------------------------------------------
    dec = 4
    lines = [heading(f"conv-pool: convolution with {F} filter{'s' if F != 1 else ''}, padding {p}, then 2x2 max pooling"),
             ""]
    lines.append(f"Image {H}x{W}, {F} filters {k}x{k}, zero padding {p}, stride 1 -> {Ho}x{Wo}x{F};"
                 f" max pooling 2x2 stride 2 -> {Ho // 2}x{Wo // 2}x{F}.")
    lines.append("Convolution here is cross-correlation, as in PyTorch: out[i, j] = sum_ab P[i+a, j+b] K[a, b].")
    if default:
        lines.append("The seed's own filters cannot be read from its text, so these are three classic ones:"
                     " identity, a Laplacian edge detector and a 3x3 box blur (pass filters=... for others).")
    lines.append("")
    lines.append(side_by_side([("image", img), (f"padded image (padding {p})", P)], dec))
    lines.append("")
    lines.append(side_by_side([(f"filter {f + 1}: {names[f]}", K[f]) for f in range(F)], dec))
    i0, j0 = (1, 1) if Ho > 1 and Wo > 1 else (0, 0)
    for f in range(F):
        lines.append("")
        lines.append(f"Filter {f + 1} ({names[f]})")
        terms = " + ".join(f"{paren(P[i0 + a, j0 + b])}*{paren(K[f, a, b], '.4g')}" for a in range(k) for b in range(k))
        lines.append(f"  out[{i0},{j0}] = {terms} = {maps[f, i0, j0]:.4f}")
        lines.append(side_by_side([(f"map {f + 1} ({Ho}x{Wo})", maps[f]),
                                   (f"max-pooled {f + 1} ({Ho // 2}x{Wo // 2})", pooled[f])], dec))
    lines.append("")
    lines.append(f"Engine check: Conv2d(1, {F}, {k}, padding={p}, kernels='reference') with these filters and"
                 f" zero bias, then MaxPool2d(2): max |engine - hand| = {sci(max_abs(maps_engine, maps))}"
                 f" (maps), {sci(max_abs(pooled_engine, pooled))} (pooled).")
    lines += ["", checks_section(checks)]

    values = {"image": img, "padded": P, "filters": K, "filter_names": names, "maps": maps, "pooled": pooled,
              "maps_engine": maps_engine, "pooled_engine": pooled_engine}
    return ExerciseResult("conv-pool", "Convolution with three 3x3 filters and 2x2 max pooling",
                          "\n".join(lines), values, checks, draw=_draw_conv_pool)


def _draw_conv_pool(r: ExerciseResult):
    v = r.values
    F = len(v["filters"])
    fig = new_figure(12, 3.0 * F + 0.4)
    axes = fig.subplots(F, 4, squeeze=False)
    for f in range(F):
        show_matrix(axes[f][0], v["padded"], "padded image" if f == 0 else "", cmap="gray")
        show_matrix(axes[f][1], v["filters"][f], f"filter {f + 1}: {v['filter_names'][f]}", cmap="coolwarm")
        show_matrix(axes[f][2], v["maps"][f], f"map {f + 1}", decimals=2)
        show_matrix(axes[f][3], v["pooled"][f], f"max-pooled {f + 1}", decimals=2)
    fig.suptitle("Convolution (padding 1) then 2x2 max pooling, stride 2", fontsize=11)
    return fig
