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

The general claim (any network of ReLU or PReLU units, any depth, is continuous piecewise linear)
is checked on random networks: their kinks are found from their values alone and every piece
between two kinks is fitted by a line (see :mod:`nnlab.experiments.piecewise_linear`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nnlab.engine import Dense, Sequential
from nnlab.errors import ConfigError
from nnlab.exercises.base import new_figure
from nnlab.experiments import piecewise_linear as pwl
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
    random_widths: list[int] = field(default_factory=lambda: [8, 8, 8])  # hidden layers of the random nets
    random_interval: list[float] = field(default_factory=lambda: [-3.0, 3.0])  # where their kinks are sought
    random_bias_std: float = 1.0                    # N(0, s^2) biases spread the kinks over the interval
    sawtooth_depth: int = 4                         # tent map composed this often: 2^depth pieces


METRICS: dict[str, tuple[str, str]] = {
    "max_knot_error": ("largest |network - f| at the knots, over the two constructed networks", ""),
    "max_knot_error_hat_sum": ("the seed's hat-sum network: largest |network - f| at the knots", ""),
    "max_knot_error_minimal": ("the minimal network: largest |network - f| at the knots", ""),
    "max_interpolant_error": ("largest |network - interpolant| on the dense grid, constructed networks", ""),
    "max_target_error": ("the minimal network: largest |network - target| between the knots", ""),
    "interpolation_bound": ("the interpolation error bound (h^2 / 8) max|f''|", ""),
    "hat_max_error": ("largest |network - max(0, 1 - |x|)| of the four-unit hat on [-2, 2]", ""),
    "hidden_units_hat_sum": ("hidden units of the seed's hat-sum network (4 per knot)", "count"),
    "hidden_units_minimal": ("hidden units of the minimal network (knots - 1)", "count"),
    "n_knots": ("knots of the interpolant", "count"),
    "trained_max_knot_error": ("the trained network of the same width: largest |network - f| at the knots", ""),
    "trained_max_target_error": ("the trained network: largest |network - target| on the grid", ""),
    "random_piece_bound": ("most pieces a network of the random nets' widths can have: prod(n_l + 1)", "count"),
    "random_max_linear_residual": ("largest residual of a line fitted to one piece, random ReLU and PReLU nets",
                                   ""),
    "random_max_jump": ("largest gap at a kink between neighbouring pieces' lines (continuity)", ""),
    "random_max_kink_preactivation": ("largest |pre-activation| of the nearest-to-switching unit at a kink", ""),
    "random_{kind}_pieces": ("linear pieces found in the random {kind} network", "count"),
    "random_{kind}_max_linear_residual": ("largest residual of a line fitted to one piece of the random {kind} "
                                          "network", ""),
    "tanh_control_max_residual": ("the same check on the tanh network with the same weights: largest residual",
                                  ""),
    "sawtooth_pieces": ("linear pieces found in the composed tent map on [0, 1]", "count"),
    "sawtooth_expected_pieces": ("pieces of the tent map composed sawtooth_depth times: 2^depth", "count"),
    "sawtooth_piece_bound": ("the bound prod(n_l + 1) for the sawtooth network's widths (2 per layer)", "count"),
    "sawtooth_max_linear_residual": ("largest residual of a line fitted to one piece of the sawtooth", ""),
}


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
    history, _ = ctx.fit("trained", model, xs, f(xs), epochs=cfg.train_epochs, batch_size=32,
                         caption="the trained comparison: MSE on samples of the target per epoch")
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


@experiment("relu-pwl", "ReLU and PReLU networks are continuous piecewise-linear functions (seed 002 Q3)",
            config=ReluPwlConfig, presets={"seed": {"interval": [0.0, 1.0], "n_knots": 9}},
            smoke={"n_knots": 5, "grid_points": 401, "train_epochs": 30, "train_samples": 64,
                   "random_widths": [6, 6], "sawtooth_depth": 3},
            objective=("max_knot_error", "min"), metrics=METRICS,
            about="""A network of ReLU (or PReLU) units computes a continuous piecewise-linear function of its
            input. The experiment sets the weights of a one-hidden-layer ReLU network by hand so that it is
            exactly the piecewise-linear interpolant of a target (the seed's hat functions, and a minimal
            construction), beside a network of the same width that is trained instead. It then takes random
            ReLU and PReLU networks of several layers, finds their kinks numerically, and checks that they are
            linear between consecutive kinks to float64 rounding and continuous at them, with no more pieces
            than the bound prod(n_l + 1).""")
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
    _general(ctx, cfg)


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


# -- the general argument: any ReLU or PReLU network -------------------------------------------------
def _checked(model: Sequential, a: float, b: float) -> dict:
    f = pwl.as_function(model)
    kinks = pwl.find_kinks(f, a, b)
    return {"model": model, "kinks": kinks, **pwl.check_pieces(f, kinks, a, b)}


def _general(ctx, cfg: ReluPwlConfig) -> None:
    if len(cfg.random_interval) != 2 or not cfg.random_interval[0] < cfg.random_interval[1]:
        raise ConfigError(f"random_interval must be [a, b] with a < b, got {cfg.random_interval}")
    if not cfg.random_widths or min(cfg.random_widths) < 1 or cfg.sawtooth_depth < 1:
        raise ConfigError("random_widths needs at least one positive width and sawtooth_depth must be >= 1")
    a, b = cfg.random_interval
    nets = {kind: _checked(pwl.random_network(kind, cfg.random_widths, cfg.seed, cfg.random_bias_std), a, b)
            for kind in ("relu", "prelu")}
    for r in nets.values():  # every kink is a point where some unit switches: one pre-activation is 0
        r["kink_preactivation"] = float(np.abs(pwl.preactivations(r["model"], r["kinks"])).min(axis=1).max(initial=0))
    # control: the same weights with tanh, cut at the ReLU net's kinks, are far from linear
    tanh = pwl.check_pieces(pwl.as_function(pwl.random_network("tanh", cfg.random_widths, cfg.seed,
                                                               cfg.random_bias_std)), nets["relu"]["kinks"], a, b)
    saw = _checked(pwl.sawtooth_network(cfg.sawtooth_depth), 0.0, 1.0)
    bound = pwl.piece_bound(cfg.random_widths)
    ctx.record(random_relu_pieces=nets["relu"]["pieces"], random_prelu_pieces=nets["prelu"]["pieces"],
               random_piece_bound=bound,
               random_relu_max_linear_residual=nets["relu"]["max_residual"],
               random_prelu_max_linear_residual=nets["prelu"]["max_residual"],
               random_max_linear_residual=max(r["max_residual"] for r in nets.values()),
               random_max_jump=max(r["max_jump"] for r in nets.values()),
               random_max_kink_preactivation=max(r["kink_preactivation"] for r in nets.values()),
               tanh_control_max_residual=tanh["max_residual"],
               sawtooth_pieces=saw["pieces"], sawtooth_expected_pieces=2 ** cfg.sawtooth_depth,
               sawtooth_piece_bound=pwl.piece_bound([2] * cfg.sawtooth_depth),
               sawtooth_max_linear_residual=saw["max_residual"])
    widths = " x ".join(map(str, cfg.random_widths))
    rows = [{"network": f"random {kind}", "hidden_widths": widths, "kinks": len(r["kinks"]), "pieces": r["pieces"],
             "piece_bound": bound, "max_linear_residual": r["max_residual"], "max_jump": r["max_jump"],
             "min_slope_change": r["min_slope_change"], "max_kink_preactivation": r["kink_preactivation"]}
            for kind, r in nets.items()]
    rows.append({"network": f"sawtooth (tent map x{cfg.sawtooth_depth})", "hidden_widths": " x ".join(
        ["2"] * cfg.sawtooth_depth), "kinks": len(saw["kinks"]), "pieces": saw["pieces"],
        "piece_bound": pwl.piece_bound([2] * cfg.sawtooth_depth), "max_linear_residual": saw["max_residual"],
        "max_jump": saw["max_jump"], "min_slope_change": saw["min_slope_change"]})
    ctx.table("random-networks", rows, f"random networks on [{a:g}, {b:g}] and the sawtooth on [0, 1]: kinks found, "
              "pieces, the bound prod(n_l + 1), and how linear and continuous the pieces are (line fits)")
    ctx.figure("random-networks", _random_figure(nets, saw, a, b, cfg),
               "random ReLU and PReLU networks and the composed tent map, with the kinks found from their values "
               "marked (dots)")
    ctx.figure("piece-residuals", _residual_figure(nets, tanh, a, b),
               "largest residual of a line fitted to each piece (log scale): rounding for the ReLU and PReLU "
               "networks, far larger for the tanh control cut at the same points")
    ctx.note(_general_explanation(nets, tanh, saw, bound, cfg), title="Any ReLU or PReLU network is piecewise linear")


def _random_figure(nets, saw, a, b, cfg):
    fig = new_figure(12.0, 3.4)
    axes = fig.subplots(1, 3)
    x = np.linspace(a, b, 2001)
    for ax, (kind, r) in zip(axes, nets.items()):
        f = pwl.as_function(r["model"])
        ax.plot(x, f(x), lw=1.2)
        ax.plot(r["kinks"], f(r["kinks"]), "o", ms=3.5, color="C3", label=f"{len(r['kinks'])} kinks")
        ax.set_title(f"random {kind} net, widths {cfg.random_widths}: {r['pieces']} pieces", fontsize=9)
    f = pwl.as_function(saw["model"])
    xs = np.linspace(0, 1, 2001)
    axes[2].plot(xs, f(xs), lw=1.2)
    axes[2].plot(saw["kinks"], f(saw["kinks"]), "o", ms=3, color="C3", label=f"{len(saw['kinks'])} kinks")
    axes[2].set_title(f"tent map composed {cfg.sawtooth_depth}x ({2 * cfg.sawtooth_depth} units): "
                      f"{saw['pieces']} pieces", fontsize=9)
    for ax in axes:
        ax.set_xlabel("x")
        ax.set_ylabel("network output")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def _residual_figure(nets, tanh, a, b):
    fig = new_figure(6.4, 3.4)
    ax = fig.subplots()
    for kind, r in nets.items():
        edges = np.concatenate([[a], r["kinks"], [b]])
        ax.semilogy(0.5 * (edges[:-1] + edges[1:]), np.maximum(r["residuals"], 1e-18), "o", ms=4,
                    label=f"random {kind}")
    edges = np.concatenate([[a], nets["relu"]["kinks"], [b]])
    ax.semilogy(0.5 * (edges[:-1] + edges[1:]), np.maximum(tanh["residuals"], 1e-18), "s", ms=4, color="0.4",
                label="tanh control (same weights)")
    ax.set_xlabel("centre of the piece (x)")
    ax.set_ylabel("max |f - fitted line| (exact 0 at 1e-18)")
    ax.set_title("is each piece a straight line?", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return fig


def _general_explanation(nets, tanh, saw, bound, cfg) -> str:
    relu, prelu = nets["relu"], nets["prelu"]
    return "\n\n".join([
        "The argument is an induction over the layers. (1) The input x is continuous and piecewise linear (PWL) with "
        "one piece. (2) An affine map of continuous PWL functions, sum_i w_i g_i(x) + b, is continuous PWL: on each "
        "piece of the common refinement it is affine, and sums of continuous functions are continuous. "
        "(3) ReLU r(z) = max(0, z) and PReLU max(a z, z) (for a <= 1; min(a z, z) for a > 1) applied to a continuous "
        "PWL z(x) give a continuous PWL function: on each piece z is affine, so it changes sign at most once, "
        "splitting the piece in two, and both branches 0 and z, or a z and z, are affine and agree where z = 0. "
        "(4) So each hidden layer, an affine map followed by ReLU/PReLU, maps continuous PWL functions to "
        "continuous PWL functions, and so does the linear output layer: the whole network is continuous PWL. "
        "The kinks can only be where some unit's pre-activation is 0.",
        f"Counting pieces: on each piece of layer l - 1 the n_l units of layer l are affine in x, so each switches "
        f"at most once and they cut the piece into at most n_l + 1. Hence at most prod_l (n_l + 1) pieces: {bound} "
        f"for widths {cfg.random_widths}. A single layer of n units gives at most n + 1; depth multiplies: the tent "
        f"map composed {cfg.sawtooth_depth} times uses only {2 * cfg.sawtooth_depth} units and has "
        f"{saw['pieces']} = 2^{cfg.sawtooth_depth} pieces (bound {3 ** cfg.sawtooth_depth}).",
        f"Measured on [{cfg.random_interval[0]:g}, {cfg.random_interval[1]:g}] (random He-normal weights, "
        f"N(0, {cfg.random_bias_std:g}^2) biases, PReLU slopes from U(-0.5, 1)): the ReLU net has {relu['pieces']} "
        f"pieces and the PReLU net {prelu['pieces']}, far below the bound. A line fitted to each piece leaves a "
        f"largest residual of {relu['max_residual']:.2g} (ReLU) and {prelu['max_residual']:.2g} (PReLU): float64 "
        "rounding. The lines of neighbouring pieces meet at the kinks to "
        f"{max(relu['max_jump'], prelu['max_jump']):.2g} "
        "(continuity), and at every kink one unit's pre-activation is 0 to "
        f"{max(relu['kink_preactivation'], prelu['kink_preactivation']):.2g}. The check can fail: the same weights "
        f"with tanh, cut at the same points, leave residuals up to {tanh['max_residual']:.2g}.",
    ])
