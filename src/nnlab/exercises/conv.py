"""The worked exercises of the convolution family (seeds 000 Q2/Q3, 003 Q1/Q3/Q4).

Every exercise computes its numbers twice: once "by hand" (explicit sums and loops written
here, the way the seeds write them) and once with the NumPy engine's layers, built with
``kernels="reference"`` so that what runs is the readable loop code of
:mod:`nnlab.engine.functional.reference`. The checks compare the two (and, for gradients,
central finite differences).

* ``conv-pool``       a 4x4 image, three 3x3 filters with padding 1, 2x2 max pooling
* ``conv-backprop``   every weight's gradient through a strided conv, an activation and a
                      linear unit: analytic = engine backward = finite differences
* ``conv1d-network``  the 1-D network of 003 Q3: 7,904 parameters, its gradients checked, and
                      the seed's closed-form gradients of one sample beside backprop
* ``dilation``        the output size of a dilated convolution, and dilation = K kron A
* ``equivariance``    convolution commutes with shifts; max pooling only nearly
* ``transposed-conv`` transposed convolution = the input-gradient of a convolution; upsampling
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.engine import (
    Activation,
    AvgPool1d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dense,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    gradcheck,
    make_loss,
    numerical_gradient,
)
from nnlab.engine.functional import reference as ref
from nnlab.errors import ConfigError, ShapeError
from nnlab.exercises.base import (
    ExerciseResult,
    checks_section,
    heading,
    matrix_block,
    matrix_lines,
    new_figure,
    sci,
    show_matrix,
    side_by_side,
)
from nnlab.exercises.conv1d_gradients import closed_form_gradients, closed_form_text

log = logging.getLogger(__name__)

KERNELS = "reference"  # the readable loop kernels: what the exercises show

SEED_IMAGE = np.array([[2, 1, 3, 3], [1, 6, 2, 5], [1, 4, 5, 2], [6, 6, 5, 3]], dtype=np.float64)

#: three classic 3x3 filters (the seed's own filters cannot be read from its text)
DEFAULT_FILTERS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "Laplacian edge detector": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),
    "box blur 1/9": np.full((3, 3), 1 / 9),
}


def _model(layers: list, input_shape: tuple[int, ...]) -> Sequential:
    return Sequential(layers, input_shape=input_shape, dtype="float64", seed=0)


def _max_abs(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)), initial=0.0))


def _close(a: Any, b: Any, tol: float = 1e-12) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and _max_abs(a, b) <= tol * max(1.0, float(np.max(np.abs(b), initial=0.0)))


def _n(v: float, fmt: str = "g") -> str:
    """A number for a written-out sum: negative ones in parentheses."""
    s = format(float(v) + 0.0, fmt)
    return f"({s})" if s.startswith("-") else s


def _shift(a: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """``a`` moved dr rows down and dc columns right (negative: up/left), zeros shifted in."""
    out = np.zeros_like(a)
    H, W = a.shape[-2:]
    src_r = slice(max(0, -dr), H - max(0, dr))
    dst_r = slice(max(0, dr), H - max(0, -dr))
    src_c = slice(max(0, -dc), W - max(0, dc))
    dst_c = slice(max(0, dc), W - max(0, -dc))
    out[..., dst_r, dst_c] = a[..., src_r, src_c]
    return out


# =============================================================================================
# conv-pool
# =============================================================================================
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
    model = _model([Conv2d(1, F, k, padding=p, kernels=KERNELS), MaxPool2d(2, kernels=KERNELS)], (1, H, W))
    model.load_state_dict({"0.weight": K[:, None], "0.bias": np.zeros(F)})
    x = img[None, None]
    maps_engine = model.layers[0].forward(x)[0]
    pooled_engine = model.forward(x)[0]

    checks = {
        f"conv output is {Ho}x{Wo}x{F}": maps_engine.shape == (F, Ho, Wo),
        f"pooled output is {Ho // 2}x{Wo // 2}x{F}": pooled_engine.shape == (F, Ho // 2, Wo // 2),
        "engine Conv2d == hand sums": _close(maps_engine, maps),
        "engine MaxPool2d == hand maxima": _close(pooled_engine, pooled),
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
        terms = " + ".join(f"{_n(P[i0 + a, j0 + b])}*{_n(K[f, a, b], '.4g')}" for a in range(k) for b in range(k))
        lines.append(f"  out[{i0},{j0}] = {terms} = {maps[f, i0, j0]:.4f}")
        lines.append(side_by_side([(f"map {f + 1} ({Ho}x{Wo})", maps[f]),
                                   (f"max-pooled {f + 1} ({Ho // 2}x{Wo // 2})", pooled[f])], dec))
    lines.append("")
    lines.append(f"Engine check: Conv2d(1, {F}, {k}, padding={p}, kernels='reference') with these filters and"
                 f" zero bias, then MaxPool2d(2): max |engine - hand| = {sci(_max_abs(maps_engine, maps))}"
                 f" (maps), {sci(_max_abs(pooled_engine, pooled))} (pooled).")
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


# =============================================================================================
# conv-backprop
# =============================================================================================
_ACTS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray], str]] = {
    # sigmoid(c) = (1 + tanh(c / 2)) / 2: the same function, without overflow for large |c|
    "sigmoid": (lambda c: 0.5 * (1 + np.tanh(c / 2)), lambda c: 0.25 * (1 - np.tanh(c / 2) ** 2),
                "g'(c) = g(c) (1 - g(c))"),
    "tanh": (np.tanh, lambda c: 1 - np.tanh(c) ** 2, "g'(c) = 1 - tanh(c)^2"),
    "relu": (lambda c: np.maximum(c, 0), lambda c: (c > 0).astype(np.float64), "g'(c) = 1 if c > 0 else 0"),
}


def conv_backprop(x: Any = None, k: Any = None, w: Any = None, t: float | None = None,
                  activation: str = "sigmoid", seed: int = 0, eps: float = 1e-6) -> ExerciseResult:
    """Backprop through a 2x2 stride-2 conv, an activation and a linear unit: analytic = engine = numeric."""
    if activation not in _ACTS:
        raise ConfigError(f"activation must be one of {', '.join(_ACTS)}, got {activation!r}")
    rng = np.random.default_rng(seed)
    x_def = rng.integers(-2, 4, (4, 4)).astype(np.float64)
    k_def = np.round(rng.normal(0.0, 0.5, (2, 2)), 2)
    w_def = np.round(rng.normal(0.0, 1.0, (2, 2)), 2)
    X = x_def if x is None else np.array(x, dtype=np.float64)
    Kk = k_def if k is None else np.array(k, dtype=np.float64)
    Wt = w_def if w is None else np.array(w, dtype=np.float64).reshape(2, 2)
    T = 1.0 if t is None else float(t)
    if X.shape != (4, 4) or Kk.shape != (2, 2) or Wt.size != 4:
        raise ShapeError("conv-backprop takes x 4x4, k 2x2 and 4 weights w")
    g, dg, dg_text = _ACTS[activation]

    # -- forward, by hand ---------------------------------------------------------------------
    def forward(k_: np.ndarray, w_: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        c_ = np.zeros((2, 2))
        for i in range(2):
            for j in range(2):
                c_[i, j] = sum(k_[a, b] * X[2 * i + a, 2 * j + b] for a in range(2) for b in range(2))
        y_ = g(c_)
        out_ = float(np.sum(w_ * y_))
        return c_, y_, out_, 0.5 * (T - out_) ** 2

    c, y, out, E = forward(Kk, Wt)

    # -- the seed's formulas, with the sign of dE/dout corrected --------------------------------
    dE_dout = out - T  # d/d(out) of 1/2 (t - out)^2; the seed wrote t - out
    grad_w = dE_dout * y  # dE/dw_i = (out - t) y_i
    grad_k = np.zeros((2, 2))
    for a in range(2):
        for b in range(2):
            grad_k[a, b] = dE_dout * sum(Wt[i, j] * dg(c[i, j]) * X[2 * i + a, 2 * j + b]
                                         for i in range(2) for j in range(2))

    # -- the engine: Conv2d -> Activation -> Flatten -> Linear, float64, backward from out - t --
    model = _model([Conv2d(1, 1, 2, stride=2, bias=False, kernels=KERNELS), Activation(activation), Flatten(),
                    Linear(4, 1, bias=False)], (1, 4, 4))
    model.load_state_dict({"0.weight": Kk.reshape(1, 1, 2, 2), "3.weight": Wt.reshape(1, 4)})
    xb = X[None, None]
    out_engine = model.forward(xb)
    model.zero_grad()
    model.backward(out_engine - T)
    params = dict(model.named_parameters())
    engine_k = params["0.weight"].grad.reshape(2, 2).copy()
    engine_w = params["3.weight"].grad.reshape(2, 2).copy()

    def objective() -> float:
        return 0.5 * (T - float(model.forward(xb)[0, 0])) ** 2

    numeric_k = numerical_gradient(objective, params["0.weight"].data, eps).reshape(2, 2)
    numeric_w = numerical_gradient(objective, params["3.weight"].data, eps).reshape(2, 2)

    # what a small step does with the right sign and with the seed's sign
    lr = 1e-3
    E_descent = forward(Kk - lr * grad_k, Wt - lr * grad_w)[3]
    E_seed = forward(Kk + lr * grad_k, Wt + lr * grad_w)[3]
    moving = bool(np.any(grad_k != 0) or np.any(grad_w != 0))

    tol_fd = 1e-7
    checks = {
        "engine forward == hand forward": abs(float(out_engine[0, 0]) - out) <= 1e-12 * max(1.0, abs(out)),
        "analytic dE/dk == engine backward": _close(grad_k, engine_k),
        "analytic dE/dw == engine backward": _close(grad_w, engine_w),
        "analytic dE/dk == finite differences": _max_abs(grad_k, numeric_k) <= tol_fd,
        "analytic dE/dw == finite differences": _max_abs(grad_w, numeric_w) <= tol_fd,
        "a step against the gradient lowers E": E_descent < E or not moving,
        "a step with the seed's sign (t - out) raises E": E_seed > E or not moving,
    }

    # -- text ---------------------------------------------------------------------------------
    dec = 4
    L = [heading(f"conv-backprop: gradients through a strided convolution ({activation})"), ""]
    L.append("Network (seed 000 Q3): c = conv(x, k) with a 2x2 kernel, stride 2, no padding (4x4 -> 2x2);"
             f" y = g(c) with g = {activation};")
    L.append("out = sum_i w_i y_i over the flattened 2x2 y (4 weights, no bias); E = 1/2 (t - out)^2.")
    L.append(f"Inputs{' (seeded, seed=' + str(seed) + ')' if x is None or k is None or w is None else ''}:")
    L.append(side_by_side([("x", X), ("k", Kk), ("w (w_ij = w_i, row-major)", Wt)], dec))
    L.append(f"  t = {T:g}")
    L.append("")
    L.append("Forward")
    for i in range(2):
        for j in range(2):
            terms = " + ".join(f"{_n(Kk[a, b])}*{_n(X[2 * i + a, 2 * j + b])}" for a in range(2) for b in range(2))
            L.append(f"  c_{i}{j} = {terms} = {c[i, j]:.4f}")
    L.append(side_by_side([("c", c), (f"y = {activation}(c)", y), ("g'(c)", dg(c))], dec))
    L.append("  out = " + " + ".join(f"{_n(Wt[i, j])}*{y[i, j]:.4f}" for i in range(2) for j in range(2))
             + f" = {out:.6f}")
    L.append(f"  E = 1/2 ({T:g} - {_n(out, '.6f')})^2 = {E:.6f}")
    L.append("")
    L.append("Backward (the seed's formulas)")
    L.append(f"  dE/dout = out - t = {dE_dout:.6f}")
    L.append("  NOTE: the seed wrote dE/dout = t - out. That has the wrong sign: d/dout of 1/2 (t - out)^2"
             " is -(t - out) = out - t.")
    L.append(f"  With the seed's sign every gradient below flips, and a step 'downhill' (lr = {lr:g}) takes E from"
             f" {E:.8f} to {E_seed:.8f} instead of {E_descent:.8f}.")
    L.append("  dE/dw_i = (out - t) y_i")
    for i in range(2):
        for j in range(2):
            L.append(f"    dE/dw_{2 * i + j} = {_n(dE_dout, '.6f')} * {y[i, j]:.6f} = {grad_w[i, j]:.6f}")
    L.append(f"  dE/dk_ab = (out - t) * sum_ij w_ij g'(c_ij) x_(2i+a, 2j+b),   {dg_text}")
    for a in range(2):
        for b in range(2):
            terms = " + ".join(f"{_n(Wt[i, j])}*{dg(c[i, j]):.4f}*{_n(X[2 * i + a, 2 * j + b])}"
                               for i in range(2) for j in range(2))
            L.append(f"    dE/dk_{a}{b} = {_n(dE_dout, '.4f')} * ({terms}) = {grad_k[a, b]:.6f}")
    L.append("")
    L.append("Three ways to the same gradients: the formulas above, the engine's backward"
             " (Sequential([Conv2d(1, 1, 2, stride=2, bias=False, kernels='reference'),"
             f" Activation('{activation}'), Flatten(), Linear(4, 1, bias=False)]) in float64, backward from"
             f" out - t), and central differences (eps = {eps:g}):")
    L.append(side_by_side([("dE/dk analytic", grad_k), ("engine", engine_k), ("numeric", numeric_k)], 8))
    L.append(side_by_side([("dE/dw analytic", grad_w), ("engine", engine_w), ("numeric", numeric_w)], 8))
    L.append(f"  max |analytic - engine| = {sci(max(_max_abs(grad_k, engine_k), _max_abs(grad_w, engine_w)))},"
             f"  max |analytic - numeric| = {sci(max(_max_abs(grad_k, numeric_k), _max_abs(grad_w, numeric_w)))}")
    L += ["", checks_section(checks)]

    values = {"x": X, "k": Kk, "w": Wt, "t": T, "activation": activation, "c": c, "y": y, "out": out, "E": E,
              "dE_dout": dE_dout, "grad_k": grad_k, "grad_w": grad_w, "engine_grad_k": engine_k,
              "engine_grad_w": engine_w, "numeric_grad_k": numeric_k, "numeric_grad_w": numeric_w,
              "E_after_descent_step": E_descent, "E_after_seed_sign_step": E_seed}
    return ExerciseResult("conv-backprop", "Backprop through a strided convolution: every weight's gradient",
                          "\n".join(L), values, checks, draw=_draw_conv_backprop)


def _draw_conv_backprop(r: ExerciseResult):
    v = r.values
    fig = new_figure(13, 6.2)
    top = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    ax = top[0].subplots(1, 5)
    show_matrix(ax[0], v["x"], "input x", cmap="gray")
    show_matrix(ax[1], v["k"], "kernel k", cmap="coolwarm")
    show_matrix(ax[2], v["c"], "c = conv(x, k), stride 2", decimals=3)
    show_matrix(ax[3], v["y"], f"y = {v['activation']}(c)", decimals=3)
    show_matrix(ax[4], v["w"], f"w   (out = {v['out']:.4f}, t = {v['t']:g})", cmap="coolwarm")
    bottom = top[1].subplots(1, 3, width_ratios=[1, 1, 2.2])
    show_matrix(bottom[0], v["grad_k"], "dE/dk", decimals=4, cmap="coolwarm")
    show_matrix(bottom[1], v["grad_w"], "dE/dw", decimals=4, cmap="coolwarm")
    names = [f"k{a}{b}" for a in range(2) for b in range(2)] + [f"w{i}" for i in range(4)]
    series = [("analytic", np.r_[v["grad_k"].ravel(), v["grad_w"].ravel()]),
              ("engine backward", np.r_[v["engine_grad_k"].ravel(), v["engine_grad_w"].ravel()]),
              ("finite differences", np.r_[v["numeric_grad_k"].ravel(), v["numeric_grad_w"].ravel()])]
    pos = np.arange(len(names))
    for s, (label, vals) in enumerate(series):
        bottom[2].bar(pos + (s - 1) * 0.27, vals, width=0.27, label=label)
    bottom[2].axhline(0, color="black", linewidth=0.6)
    bottom[2].set_xticks(pos, names)
    bottom[2].set_title("dE/d(weight): three ways", fontsize=9)
    bottom[2].legend(fontsize=8)
    fig.suptitle(f"Backprop through conv(2x2, stride 2) -> {v['activation']} -> linear unit;"
                 f" E = 1/2 (t - out)^2 = {v['E']:.5f}", fontsize=11)
    return fig


# =============================================================================================
# conv1d-network
# =============================================================================================
def conv1d_network(batch: int = 4, seed: int = 0, full_gradcheck: bool = False, eps: float = 1e-6,
                   rtol: float = 1e-5, atol: float = 1e-7) -> ExerciseResult:
    """The 1-D network of seed 003 Q3: 7,904 parameters, and its gradients vs finite differences."""
    if batch < 1:
        raise ConfigError("batch must be >= 1")
    L_in = 785
    model = Sequential([
        Conv1d(1, 1, 2, padding=1, init="he_normal", kernels=KERNELS), ReLU(), AvgPool1d(2, kernels=KERNELS), Flatten(),
        Dense(20, "relu"), Dense(1, "sigmoid"),
    ], input_shape=(1, L_in), dtype="float64", seed=seed, name="seed-003-q3")
    rows = model.summary_rows()
    total = model.num_parameters()
    by_hand = {"Conv1d: 1 filter x 2 taps + 1 bias": 1 * 2 + 1,
               "Dense 393 -> 20: 393 x 20 + 20": 393 * 20 + 20,
               "Dense 20 -> 1: 20 x 1 + 1": 20 + 1}

    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, 1, L_in))
    y = (np.arange(batch) % 2).astype(np.float64)
    loss = make_loss("bce")

    # analytic: one forward, one backward of the whole model
    value = loss.forward(model.forward(x), y)
    model.zero_grad()
    model.backward(loss.backward(), need_input_grad=False)
    params = dict(model.named_parameters())
    analytic = {name: p.grad.copy() for name, p in params.items()}

    # numeric: central differences of the loss, parameter by parameter
    def full() -> float:
        return loss.forward(model.forward(x), y)

    feats = x
    for layer in model.layers[:4]:
        feats = layer.forward(feats)
    head = model.layers[4:]

    def head_only() -> float:
        h = feats
        for layer in head:
            h = layer.forward(h)
        return loss.forward(h, y)

    numeric = {}
    for name, p in params.items():
        f = full if name.startswith("0.") else head_only  # dense weights do not move the pooled features
        numeric[name] = numerical_gradient(f, p.data, eps)

    table = []
    for name in params:
        a, n = analytic[name], numeric[name]
        diff = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1), 0.0)
        table.append((name, a.shape, float(diff.max()), float(rel.max()),
                      bool(np.all(diff <= atol + rtol * np.abs(n)))))

    # seed 003 Q3.2: the closed-form gradients of one training sample, against the engine's backprop
    closed = closed_form_gradients({nm: p.data for nm, p in params.items()}, x[0, 0], float(y[0]))
    loss.forward(model.forward(x[:1]), y[:1])
    model.zero_grad()
    model.backward(loss.backward(), need_input_grad=False)
    one_sample = {nm: p.grad.copy() for nm, p in params.items()}
    closed_lines, closed_diff = closed_form_text(closed, one_sample, float(y[0]))

    def agree(names: tuple[str, ...]) -> bool:
        return all(closed_diff[nm] <= 1e-12 * max(1.0, float(np.max(np.abs(one_sample[nm])))) for nm in names)

    checks = {
        "7,904 parameters": total == 7904,
        "the count by hand agrees": sum(by_hand.values()) == total,
        "pooled length is 393": model.layers[2].output_shape((1, 786)) == (1, 393),
        "conv weight gradients == finite differences": all(ok for nm, *_, ok in table if nm.startswith("0.")),
        "dense weight gradients == finite differences": all(ok for nm, *_, ok in table if not nm.startswith("0.")),
        "every tensor gets a nonzero gradient (no dead network)": all(np.any(g != 0) for g in analytic.values()),
        "closed forms dCost/dW^F, db^F, dW^A, db^M (one sample) == engine backprop":
            agree(("5.weight", "5.bias", "4.weight", "4.bias")),
        "closed forms dCost/dW^C_1, dW^C_2, db^C through the average pooling == engine backprop":
            agree(("0.weight", "0.bias")),
    }
    full_result = None
    if full_gradcheck:
        full_result = gradcheck(model, x, y, loss="bce", eps=eps, rtol=rtol, atol=atol)
        checks["nnlab.engine.gradcheck(model, x, y, loss='bce') ok"] = full_result.ok

    # -- text ---------------------------------------------------------------------------------
    T = [heading("conv1d-network: the 1-D network of seed 003 Q3"), ""]
    T.append("Input length 785, zero padding 1 (787), Conv1d with one kernel of size 2 (786) + ReLU,"
             " average pooling 2 stride 2 (393), Flatten, Dense 20 + ReLU, Dense 1 + sigmoid,"
             " binary cross-entropy.")
    T.append("")
    T.append(model.summary())
    T.append("")
    T.append("Parameters by hand:")
    for what, n in by_hand.items():
        T.append(f"  {what:<40} {n:>6,}")
    T.append(f"  {'total':<40} {sum(by_hand.values()):>6,}")
    T.append("")
    T.append(f"Gradients on a seeded batch of {batch} (inputs standard normal, targets {y.astype(int).tolist()}),"
             f" float64, BCE loss = {value:.6f}:")
    T.append(f"analytic = the engine's backward; numeric = central differences (eps = {eps:g}) of the loss,"
             " one parameter at a time.")
    T.append("The dense weights do not change the pooled features, so their differences are taken with the"
             " features computed once (the same numbers as re-running the whole network, without 15,000"
             " passes through the reference loop kernels).")
    T.append(f"ok: every |analytic - numeric| <= {atol:g} + {rtol:g} |numeric|.")
    T.append(f"  {'tensor':<10} {'shape':<10} {'max abs err':>12} {'max rel err':>12}  ok")
    for name, shape, mae, mre, ok in table:
        T.append(f"  {name:<10} {shape!s:<10} {mae:12.3e} {mre:12.3e}  {'yes' if ok else 'NO'}")
    T.append("")
    T.append(matrix_block("conv weight gradient, analytic", analytic["0.weight"].reshape(-1), 10))
    T.append(matrix_block("conv weight gradient, numeric", numeric["0.weight"].reshape(-1), 10))
    T.append(f"  conv bias gradient: analytic {analytic['0.bias'][0]:.10f}, numeric {numeric['0.bias'][0]:.10f}")
    T.append(f"  output bias gradient: analytic {analytic['5.bias'][0]:.10f}, numeric {numeric['5.bias'][0]:.10f}")
    T += [""] + closed_lines
    if full_result is not None:
        T += ["", "nnlab.engine.gradcheck(model, x, y, loss='bce') (every parameter and the input):", str(full_result)]
    T += ["", checks_section(checks)]

    values = {"total_parameters": total, "summary_rows": rows, "loss": value, "x": x, "y": y,
              "analytic": analytic, "numeric": numeric,
              "errors": {nm: {"max_abs_err": mae, "max_rel_err": mre, "ok": ok} for nm, _, mae, mre, ok in table},
              "signal": {"input": x[0, 0], "conv_relu": model.layers[1].forward(model.layers[0].forward(x[:1]))[0, 0],
                         "pooled": feats[0]},
              "closed_form": {nm: closed[nm] for nm in one_sample}, "closed_form_engine": one_sample,
              "closed_form_max_diff": closed_diff,
              "closed_form_sample": {"z": closed["z"], "Y": float(y[0]), "cost": closed["cost"]}}
    return ExerciseResult("conv1d-network", "The 1-D network of seed 003 Q3: 7,904 parameters and its gradients",
                          "\n".join(T), values, checks, draw=_draw_conv1d_network)


def _draw_conv1d_network(r: ExerciseResult):
    v = r.values
    fig = new_figure(14, 4.2)
    ax = fig.subplots(1, 3, width_ratios=[1.5, 1, 1])
    s = v["signal"]
    n = 40
    # conv output i reads the padded positions i, i + 1, i.e. the inputs i - 1 and i: drawn at i - 0.5;
    # pooled value m averages conv outputs 2m and 2m + 1: drawn over [2m - 1, 2m + 1)
    ax[0].plot(np.arange(n), s["input"][:n], ".-", label="input x", linewidth=0.8)
    ax[0].plot(np.arange(n + 1) - 0.5, s["conv_relu"][: n + 1], ".-", label="ReLU(conv1d(x)), kernel 2, pad 1",
               linewidth=0.8)
    m = n // 2 + 1
    ax[0].stairs(s["pooled"][:m], np.arange(m + 1) * 2 - 1.0, label="average pool 2 (393 long)", linewidth=1.6)
    ax[0].set_title(f"first {n} positions of sample 0", fontsize=9)
    ax[0].set_xlabel("position")
    ax[0].legend(fontsize=7)
    a = np.concatenate([g.ravel() for g in v["analytic"].values()])
    nm = np.concatenate([g.ravel() for g in v["numeric"].values()])
    ax[1].plot(nm, a, ".", markersize=2)
    lo, hi = float(min(a.min(), nm.min())), float(max(a.max(), nm.max()))
    ax[1].plot([lo, hi], [lo, hi], color="gray", linewidth=0.6)
    from matplotlib.ticker import MaxNLocator

    ax[1].xaxis.set_major_locator(MaxNLocator(5))
    ax[1].set_xlabel("finite differences")
    ax[1].set_ylabel("engine backward")
    ax[1].set_title(f"all {a.size:,} gradients", fontsize=9)
    names = list(v["errors"])
    errs = [max(v["errors"][k]["max_abs_err"], 1e-18) for k in names]
    ax[2].bar(range(len(names)), errs, color=["tab:green" if v["errors"][k]["ok"] else "tab:red" for k in names])
    ax[2].set_yscale("log")
    ax[2].set_xticks(range(len(names)), names, rotation=45, fontsize=8)
    ax[2].set_title("max |analytic - numeric| per tensor", fontsize=9)
    fig.suptitle(f"Seed 003 Q3: Conv1d(2) -> avg pool -> 20 -> 1, {v['total_parameters']:,} parameters;"
                 f" BCE = {v['loss']:.4f}", fontsize=11)
    return fig


# =============================================================================================
# dilation
# =============================================================================================
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
    diff = _max_abs(dilated, plain) if dilated.shape == plain.shape else float("inf")

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
        "engine dilated conv == hand sums": _close(dilated, hand),
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
             + " + ".join(f"{_n(K[a, b])}*{_n(X[D * a, D * b])}" for a in range(F) for b in range(F))
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


# =============================================================================================
# equivariance
# =============================================================================================
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

    Xs = _shift(X, dr, dc)
    conv_then_shift = _shift(C(X), dr, dc)
    shift_then_conv = C(Xs)
    inner = (slice(2, size - 2), slice(2, size - 2))
    conv_diff = _max_abs(shift_then_conv[inner], conv_then_shift[inner])
    conv_diff_all = _max_abs(shift_then_conv, conv_then_shift)

    p0 = P(X)
    p1 = P(_shift(X, 0, 1))  # one pixel to the right
    changed = p1 != p0
    pool1_diff = _max_abs(p1, p0)
    p2 = P(_shift(X, 2, 2))  # by the stride in both directions
    p0_moved = _shift(p0, 1, 1)
    pool2_diff = _max_abs(p2, p0_moved)

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


# =============================================================================================
# transposed-conv
# =============================================================================================
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
                         "backward_diff": _max_abs(dx, ty), "shape_ok": dx.shape == ty.shape == x.shape})

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
        "stride 2, kernel 2: the output is x kron k": _close(up, np.kron(x2, k2)),
        "overlapping stamps add up (3x3 kernel, stride 2: 2x2 -> 5x5)": _close(ov, ov_hand),
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


__all__ = [
    "DEFAULT_FILTERS",
    "SEED_IMAGE",
    "conv1d_network",
    "conv_backprop",
    "conv_pool",
    "dilation",
    "equivariance",
    "transposed_conv",
]
