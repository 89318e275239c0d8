"""relu-pwl: a ReLU network whose weights are *set*, not trained, so that it is exactly the
piecewise-linear interpolant of a function through given knots (seed 002 Q3, MISSION.md part B).

Two constructions, both one hidden ReLU layer and a linear output, on knots x_0 < ... < x_{N-1}:

* ``hat-sum`` (the seed's): f_l(x) = sum_i f(x_i) t_i(x), each hat t_i made of four ReLU units
  r((x - x_{i-1}) / h_l) - r((x - x_i) / h_l) + r((x - x_{i+1}) / h_r) - r((x - x_i) / h_r),
  so 4N hidden units (the seed's figure: units 2 and 4 coincide when the knots are uniform);
* ``minimal``: f_l(x) = f(x_0) + sum_k c_k r(x - x_k) for k = 0..N-2, with c_0 the first
  slope and c_k the change of slope at x_k: N - 1 hidden units, exact on [x_0, x_{N-1}].

A network of the same width trained on samples of the target is shown beside them: close, but
not exact at the knots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nnlab.engine import Dense, Sequential
from nnlab.engine.errors import ConfigError
from nnlab.exercises.base import new_figure
from nnlab.experiments.registry import experiment

log = logging.getLogger(__name__)

TARGETS = {
    "sin": lambda x: np.sin(2 * np.pi * x),
    "runge": lambda x: 1.0 / (1.0 + 25.0 * (2 * x - 1) ** 2),  # Runge's function moved to [0, 1]
    "exp": lambda x: np.exp(-3 * x) * np.cos(6 * x),
}


@dataclass
class ReluPwlConfig:
    seed: int = 0                                   # the trained comparison's initialisation and shuffling
    target: Literal["sin", "runge", "exp"] = "sin"  # sin(2 pi x), 1/(1+25(2x-1)^2) or exp(-3x) cos(6x)
    interval: list[float] = field(default_factory=lambda: [0.0, 1.0])  # the seed's x in [0, 1]
    n_knots: int = 9                                # uniform knots over the interval (N)
    knots: list[float] | None = None                # explicit (possibly non-uniform) knots instead
    grid_points: int = 4001                         # dense grid on which errors are measured
    train_epochs: int = 3000                        # trained comparison (0: skip it)
    train_lr: float = 0.01                          # its Adam learning rate
    train_samples: int = 256                        # its training points, uniform over the interval


# -- the constructions ---------------------------------------------------------------------------
def _network(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: float) -> Sequential:
    """One hidden ReLU layer with the given weights: x (N, 1) -> (N, 1)."""
    model = Sequential([Dense(len(w1), "relu"), Dense(1)], input_shape=(1,), dtype="float64")
    model.load_state_dict({"0.weight": w1.reshape(-1, 1), "0.bias": b1,  # (H, 1), (H,)
                           "1.weight": w2.reshape(1, -1), "1.bias": np.array([b2])})  # (1, H), (1,)
    return model


def hat_sum_network(knots: np.ndarray, values: np.ndarray) -> Sequential:
    """The seed's construction: four ReLU units per knot, output weights f(x_i) * (1, -1, 1, -1)."""
    x = np.asarray(knots, dtype=np.float64)
    left = np.concatenate([[2 * x[0] - x[1]], x[:-1]])   # x_{i-1}, a virtual knot before x_0
    right = np.concatenate([x[1:], [2 * x[-1] - x[-2]]])  # x_{i+1}, a virtual knot after x_{N-1}
    hl, hr = x - left, right - x
    w1 = np.stack([1 / hl, 1 / hl, 1 / hr, 1 / hr], axis=1).reshape(-1)            # (4N,)
    b1 = np.stack([-left / hl, -x / hl, -right / hr, -x / hr], axis=1).reshape(-1)  # (4N,)
    w2 = (np.asarray(values, dtype=np.float64)[:, None] * np.array([1.0, -1.0, 1.0, -1.0])).reshape(-1)
    return _network(w1, b1, w2, 0.0)


def minimal_network(knots: np.ndarray, values: np.ndarray) -> tuple[Sequential, np.ndarray]:
    """N - 1 units r(x - x_k) with output weights = slope changes; returns (model, slopes)."""
    x, f = np.asarray(knots, dtype=np.float64), np.asarray(values, dtype=np.float64)
    slopes = np.diff(f) / np.diff(x)                        # (N-1,) slope of each piece
    c = np.concatenate([[slopes[0]], np.diff(slopes)])      # (N-1,) change of slope at x_k
    return _network(np.ones(len(x) - 1), -x[:-1], c, float(f[0])), c


def hat_network() -> Sequential:
    """The triangle t(x) = max(0, 1 - |x|) from the seed's four units (h = 1, x_j = 0)."""
    return hat_sum_network(np.array([-1.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0]))


def _trained_network(cfg: ReluPwlConfig, f, width: int, ctx) -> Sequential:
    a, b = cfg.interval
    xs = np.linspace(a, b, cfg.train_samples)[:, None]  # (S, 1)
    model = Sequential([Dense(width, "relu"), Dense(1)], input_shape=(1,), dtype="float64", seed=cfg.seed)
    model.compile(loss="mse", optimizer={"name": "adam", "lr": cfg.train_lr})
    history = model.fit(xs, f(xs), epochs=cfg.train_epochs, batch_size=32, callbacks=ctx.callbacks(cfg.train_epochs))
    ctx.history(history, "trained", caption="the trained comparison: MSE on samples of the target per epoch")
    return model


# -- the experiment ------------------------------------------------------------------------------
def _knots(cfg: ReluPwlConfig) -> np.ndarray:
    if len(cfg.interval) != 2 or not cfg.interval[0] < cfg.interval[1]:
        raise ConfigError(f"interval must be [a, b] with a < b, got {cfg.interval}")
    if cfg.knots is not None:
        knots = np.asarray(cfg.knots, dtype=np.float64)
    else:
        if cfg.n_knots < 2:
            raise ConfigError(f"n_knots must be at least 2, got {cfg.n_knots}")
        knots = np.linspace(cfg.interval[0], cfg.interval[1], cfg.n_knots)
    if len(knots) < 2 or np.any(np.diff(knots) <= 0):
        raise ConfigError(f"knots must be at least two strictly increasing values, got {knots.tolist()}")
    return knots


def _curve(model: Sequential, x: np.ndarray) -> np.ndarray:
    return model.predict(x[:, None])[:, 0]


@experiment("relu-pwl", "a ReLU network set by hand to be exactly the piecewise-linear interpolant (seed 002 Q3)",
            config=ReluPwlConfig, presets={"seed": {"interval": [0.0, 1.0], "n_knots": 9}},
            smoke={"n_knots": 5, "grid_points": 401, "train_epochs": 30, "train_samples": 64},
            objective=("max_knot_error", "min"))
def run(ctx) -> None:
    cfg: ReluPwlConfig = ctx.cfg
    f = TARGETS[cfg.target]
    knots = _knots(cfg)
    values = f(knots)
    grid = np.linspace(knots[0], knots[-1], cfg.grid_points)  # (G,) errors are measured here
    interp = np.interp(grid, knots, values)                    # the interpolant itself

    # the hat function itself: network vs the formula on [-2, 2]
    hat_x = np.linspace(-2, 2, 801)
    hat_model = hat_network()
    hat_error = float(np.abs(_curve(hat_model, hat_x) - np.maximum(0, 1 - np.abs(hat_x))).max())
    ctx.figure("hat", _hat_figure(hat_model, hat_x),
               "the triangle t(x) from four ReLU units (dashed: each unit times its output weight; solid: the sum)")

    minimal, slope_changes = minimal_network(knots, values)
    nets = {"hat-sum (seed)": hat_sum_network(knots, values), "minimal": minimal}
    if cfg.train_epochs > 0:
        nets["trained"] = _trained_network(cfg, f, len(knots) - 1, ctx)
    rows, curves = [], {}
    for name, model in nets.items():
        out = _curve(model, grid)
        curves[name] = out
        rows.append({"network": name, "hidden_units": model.layers[0].out_features,
                     "max_knot_error": float(np.abs(_curve(model, knots) - values).max()),
                     "max_error_vs_interpolant": float(np.abs(out - interp).max()),
                     "max_error_vs_target": float(np.abs(out - f(grid)).max())})
    ctx.table("networks", rows, "errors of each network: at the knots, against the interpolant and the target "
              f"on {cfg.grid_points} points of [x_0, x_N-1]")
    ctx.table("minimal-weights", [{"unit": k, "knot": float(knots[k]), "input_weight": 1.0,
                                   "bias": float(-knots[k]) + 0.0, "output_weight": float(c)}
                                  for k, c in enumerate(slope_changes)],
              f"the minimal network's weights (output bias f(x_0) = {values[0]:.6g})")

    fine = np.linspace(knots[0], knots[-1], 20001)
    d2 = np.gradient(np.gradient(f(fine), fine), fine)  # f'' by finite differences
    h = np.diff(knots)
    bound = float(max(hk**2 / 8 * np.abs(d2[(fine >= lo) & (fine <= lo + hk)]).max() for lo, hk in zip(knots, h)))
    constructed = rows[:2]
    ctx.record(max_knot_error=max(r["max_knot_error"] for r in constructed),
               max_knot_error_hat_sum=rows[0]["max_knot_error"], max_knot_error_minimal=rows[1]["max_knot_error"],
               max_interpolant_error=max(r["max_error_vs_interpolant"] for r in constructed),
               max_target_error=rows[1]["max_error_vs_target"], interpolation_bound=bound,
               hat_max_error=hat_error, hidden_units_hat_sum=rows[0]["hidden_units"],
               hidden_units_minimal=rows[1]["hidden_units"], n_knots=len(knots))
    if len(rows) > 2:
        ctx.record(trained_max_knot_error=rows[2]["max_knot_error"], trained_max_target_error=rows[2]["max_error_vs_target"])
    ctx.figure("interpolant", _interpolant_figure(grid, f, knots, values, curves),
               f"{cfg.target} through {len(knots)} knots: the constructed networks, the trained one, and their errors")
    ctx.note(_explanation(rows, hat_error, bound, cfg), title="What this shows")


def _hat_figure(model: Sequential, x: np.ndarray):
    fig = new_figure(6.0, 3.4)
    ax = fig.subplots()
    state = model.state_dict()
    w1, b1, w2 = state["0.weight"][:, 0], state["0.bias"], state["1.weight"][0]
    for j in range(4, 8):  # the middle knot's four units (the outer knots have output weight 0)
        ax.plot(x, w2[j] * np.maximum(w1[j] * x + b1[j], 0), "--", lw=1,
                label=f"{w2[j]:+g} r({w1[j]:g}x{b1[j] + 0.0:+g})")
    ax.plot(x, _curve(model, x), "k", lw=2.2, label="network output")
    ax.plot(x, np.maximum(0, 1 - np.abs(x)), color="#e377c2", lw=1, ls=":", label="t(x) = max(0, 1-|x|)")
    ax.set_ylim(-1.6, 1.6)
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("the hat function as four ReLU units", fontsize=10)
    return fig


def _interpolant_figure(grid, f, knots, values, curves):
    fig = new_figure(10.0, 3.6)
    ax, ax_err = fig.subplots(1, 2)
    ax.plot(grid, f(grid), color="0.6", lw=3, alpha=0.6, label="target")
    styles = {"hat-sum (seed)": ("C0", "-"), "minimal": ("C1", "--"), "trained": ("C2", ":")}
    for name, out in curves.items():
        color, ls = styles[name]
        ax.plot(grid, out, color=color, ls=ls, lw=1.4, label=name)
        ax_err.semilogy(grid, np.maximum(np.abs(out - f(grid)), 1e-18), color=color, ls=ls, lw=1, label=f"{name} vs target")
    interp = np.interp(grid, knots, values)
    ax_err.semilogy(grid, np.maximum(np.abs(curves["minimal"] - interp), 1e-18), color="C3", lw=0.8,
                    label="minimal vs interpolant")
    ax.plot(knots, values, "ko", ms=4, label="knots")
    for a in (ax, ax_err):
        a.set_xlabel("x")
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    ax.set_title("networks against the target", fontsize=10)
    ax_err.set_title("|error| (exact zeros drawn at 1e-18)", fontsize=10)
    return fig


def _explanation(rows, hat_error, bound, cfg) -> str:
    seed, minimal = rows[0], rows[1]
    text = [
        "A one-hidden-layer ReLU network computes sum_j a_j max(0, w_j x + b_j) + c: a continuous function that is "
        "linear between the breakpoints -b_j / w_j. Choosing one breakpoint per knot and the output weights as "
        "the changes of slope makes it *equal* to the piecewise-linear interpolant, so no training is needed.",
        f"The triangle t(x) = r(x+1) - r(x) + r(x-1) - r(x) (the seed's four units) matches max(0, 1-|x|) "
        f"on [-2, 2] to {hat_error:.2g}. The seed's hat-sum network uses {seed['hidden_units']} hidden units "
        f"and is off at the knots by {seed['max_knot_error']:.2g}; the minimal one uses {minimal['hidden_units']} "
        f"units and is off by {minimal['max_knot_error']:.2g}. Both equal np.interp on the dense grid to "
        f"{max(seed['max_error_vs_interpolant'], minimal['max_error_vs_interpolant']):.2g}: rounding only "
        "(w x + b is computed as x / h - x_k / h, not (x - x_k) / h).",
        f"Between the knots the interpolant, and so the network, differs from the {cfg.target} target by up to "
        f"{minimal['max_error_vs_target']:.3g}, within the interpolation bound (h^2 / 8) max|f''| = {bound:.3g}. "
        "That error belongs to the interpolant, not to the network: more knots make it smaller as h^2.",
    ]
    if len(rows) > 2:
        tr = rows[2]
        text.append(f"A network of the same width ({tr['hidden_units']} units) trained for {cfg.train_epochs} epochs "
                    f"with Adam on {cfg.train_samples} samples of the target is off at the knots by "
                    f"{tr['max_knot_error']:.3g} and from the target by up to {tr['max_error_vs_target']:.3g}: "
                    "gradient descent finds a good fit, not the exact construction.")
    return "\n\n".join(text)
