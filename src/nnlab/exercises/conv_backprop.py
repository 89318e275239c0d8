"""``conv-backprop`` (seed 000 Q3): every weight's gradient through a strided conv, an activation and
a linear unit: analytic = engine backward = finite differences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.engine import Activation, Conv2d, Flatten, Linear, numerical_gradient
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
from nnlab.exercises.numbers import KERNELS, close, engine_model, max_abs, paren

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
    model = engine_model([Conv2d(1, 1, 2, stride=2, bias=False, kernels=KERNELS), Activation(activation), Flatten(),
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
        "analytic dE/dk == engine backward": close(grad_k, engine_k),
        "analytic dE/dw == engine backward": close(grad_w, engine_w),
        "analytic dE/dk == finite differences": max_abs(grad_k, numeric_k) <= tol_fd,
        "analytic dE/dw == finite differences": max_abs(grad_w, numeric_w) <= tol_fd,
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
            terms = " + ".join(f"{paren(Kk[a, b])}*{paren(X[2 * i + a, 2 * j + b])}" for a in range(2) for b in range(2))
            L.append(f"  c_{i}{j} = {terms} = {c[i, j]:.4f}")
    L.append(side_by_side([("c", c), (f"y = {activation}(c)", y), ("g'(c)", dg(c))], dec))
    L.append("  out = " + " + ".join(f"{paren(Wt[i, j])}*{y[i, j]:.4f}" for i in range(2) for j in range(2))
             + f" = {out:.6f}")
    L.append(f"  E = 1/2 ({T:g} - {paren(out, '.6f')})^2 = {E:.6f}")
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
            L.append(f"    dE/dw_{2 * i + j} = {paren(dE_dout, '.6f')} * {y[i, j]:.6f} = {grad_w[i, j]:.6f}")
    L.append(f"  dE/dk_ab = (out - t) * sum_ij w_ij g'(c_ij) x_(2i+a, 2j+b),   {dg_text}")
    for a in range(2):
        for b in range(2):
            terms = " + ".join(f"{paren(Wt[i, j])}*{dg(c[i, j]):.4f}*{paren(X[2 * i + a, 2 * j + b])}"
                               for i in range(2) for j in range(2))
            L.append(f"    dE/dk_{a}{b} = {paren(dE_dout, '.4f')} * ({terms}) = {grad_k[a, b]:.6f}")
    L.append("")
    L.append("Three ways to the same gradients: the formulas above, the engine's backward"
             " (Sequential([Conv2d(1, 1, 2, stride=2, bias=False, kernels='reference'),"
             f" Activation('{activation}'), Flatten(), Linear(4, 1, bias=False)]) in float64, backward from"
             f" out - t), and central differences (eps = {eps:g}):")
    L.append(side_by_side([("dE/dk analytic", grad_k), ("engine", engine_k), ("numeric", numeric_k)], 8))
    L.append(side_by_side([("dE/dw analytic", grad_w), ("engine", engine_w), ("numeric", numeric_w)], 8))
    L.append(f"  max |analytic - engine| = {sci(max(max_abs(grad_k, engine_k), max_abs(grad_w, engine_w)))},"
             f"  max |analytic - numeric| = {sci(max(max_abs(grad_k, numeric_k), max_abs(grad_w, numeric_w)))}")
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
