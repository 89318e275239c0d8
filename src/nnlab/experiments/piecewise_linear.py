"""Continuous piecewise-linear functions of one input, as ReLU and PReLU networks compute them.

Seed 002 Q3 asks to show that an MLP of ReLU or PReLU units builds a continuous piecewise-linear
(PWL) function. The argument is an induction over the layers (see :func:`piece_bound`); this
module checks it numerically for *any* such network, from its values alone:

* :func:`find_kinks` locates the breakpoints of a continuous PWL ``f`` on ``[a, b]``: slopes on a
  grid stay constant except next to a kink, where the lines of the two neighbouring pieces are
  intersected (and regions with several kinks are searched again on a finer grid);
* :func:`check_pieces` fits a line to each piece between consecutive kinks: for a PWL function
  the largest residual is float64 rounding, and the fits of neighbouring pieces meet at the kink
  (continuity);
* :func:`random_network` and :func:`sawtooth_network` build the networks that are checked.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import numpy as np

from nnlab.engine import Dense, Linear, PReLU, ReLU, Sequential, Tanh

Function = Callable[[np.ndarray], np.ndarray]  # x (G,) -> f(x) (G,)
EPS = np.finfo(np.float64).eps


def as_function(model: Sequential) -> Function:
    """The 1-D function x -> model(x) of a network with one input and one output."""
    return lambda x: model.predict(np.asarray(x, np.float64)[:, None])[:, 0]


# -- finding the kinks -----------------------------------------------------------------------
def find_kinks(f: Function, a: float, b: float, *, points: int = 4096, rtol: float = 1e-7,
               max_depth: int = 6, _depth: int = 0) -> np.ndarray:
    """The breakpoints of a continuous piecewise-linear ``f`` in ``[a, b]``, sorted.

    The slope of each of ``points`` cells is compared with its neighbour's; a run of changed
    slopes brackets one kink (one or two changes) or several (more). For one kink, the lines of
    the pure cells on either side are intersected, and the intersection is accepted if ``f``
    follows those lines on both sides of it; otherwise the bracket is searched again on a finer
    grid, up to ``max_depth`` times. A kink whose slope change is below ``rtol`` times the
    largest slope (or the rounding noise of the grid) is not seen; :func:`check_pieces` would
    then report a piece that is not linear.
    """
    h = (b - a) / points
    x = a + h * np.arange(-1, points + 2)  # (points + 3,) one padding cell on each side
    y = f(x)
    s = np.diff(y) / np.diff(x)            # (points + 2,) slope of each cell
    noise = 1e3 * EPS * max(1.0, float(np.abs(y).max())) / h
    changed = np.abs(np.diff(s)) > max(rtol * max(1.0, float(np.abs(s).max())), noise)  # boundary k at x[k+1]
    kinks: list[float] = []
    for i, j in _runs(np.flatnonzero(changed)):  # cells i and j + 1 are pure; the kinks lie between
        xk = _intersection(x[i], y[i], s[i], x[j + 1], y[j + 1], s[j + 1])
        inside = xk is not None and x[i + 1] - h * 1e-9 <= xk <= x[j + 1] + h * 1e-9
        if inside and j - i <= 1 and _follows(f, xk, x[i + 1], x[j + 1], (x[i], y[i], s[i]),
                                              (x[j + 1], y[j + 1], s[j + 1])):
            kinks.append(float(xk))
        elif _depth < max_depth:
            kinks.extend(find_kinks(f, x[i + 1], x[j + 1], points=64, rtol=rtol, max_depth=max_depth,
                                    _depth=_depth + 1))
        elif xk is not None:
            kinks.append(float(xk))
    kinks_arr = np.array(sorted(kinks))
    if _depth == 0:  # only kinks inside [a, b], and not at its ends
        tol = 1e-9 * (b - a)
        kinks_arr = kinks_arr[(kinks_arr > a + tol) & (kinks_arr < b - tol)]
    return kinks_arr


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of consecutive integers, as (first, last)."""
    if len(indices) == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(indices) - 1]])
    return [(int(indices[s]), int(indices[e])) for s, e in zip(starts, ends)]


def _intersection(x0, y0, m0, x1, y1, m1) -> float | None:
    """Where the line through (x0, y0) with slope m0 meets the one through (x1, y1) with slope m1."""
    if abs(m0 - m1) <= 1e-12 * max(1.0, abs(m0), abs(m1)):
        return None
    return (y1 - y0 + m0 * x0 - m1 * x1) / (m0 - m1)


def _follows(f: Function, xk: float, lo: float, hi: float, left, right) -> bool:
    """Whether ``f`` lies on the left line on [lo, xk] and on the right line on [xk, hi]."""
    xl, xr = np.linspace(lo, xk, 4), np.linspace(xk, hi, 4)
    line = lambda x, p: p[1] + p[2] * (x - p[0])  # noqa: E731
    fl, fr = f(xl), f(xr)
    scale = 1e-9 * max(1.0, float(np.abs(fl).max()), float(np.abs(fr).max()))
    return bool(np.abs(fl - line(xl, left)).max() <= scale and np.abs(fr - line(xr, right)).max() <= scale)


# -- checking the pieces ---------------------------------------------------------------------
def check_pieces(f: Function, kinks: np.ndarray, a: float, b: float, samples: int = 33) -> dict:
    """Fit a line to ``f`` on each piece between consecutive kinks (and the ends of [a, b]).

    Returns ``pieces``, per-piece ``residuals`` (largest |f - fit|), ``slopes``, ``max_residual``,
    ``max_jump`` (largest gap between the fits of neighbouring pieces, and ``f``, at a kink) and
    ``min_slope_change`` (the smallest change of slope at a kink: every kink found is real).
    """
    edges = np.concatenate([[a], np.asarray(kinks, np.float64), [b]])
    fits, residuals = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        xs = np.linspace(lo, hi, samples)
        ys = f(xs)
        c = 0.5 * (lo + hi)  # centred, so the fit is well conditioned
        A = np.stack([xs - c, np.ones_like(xs)], axis=1)  # (samples, 2)
        (m, q), *_ = np.linalg.lstsq(A, ys, rcond=None)
        fits.append((c, m, q))
        residuals.append(float(np.abs(A @ np.array([m, q]) - ys).max()))
    at = lambda fit, x: fit[2] + fit[1] * (x - fit[0])  # noqa: E731
    values = f(np.asarray(kinks, np.float64)) if len(kinks) else np.zeros(0)
    jumps = [max(abs(at(fits[i], k) - at(fits[i + 1], k)), abs(at(fits[i], k) - v))
             for i, (k, v) in enumerate(zip(kinks, values))]
    slopes = np.array([fit[1] for fit in fits])
    return {"pieces": len(fits), "residuals": np.array(residuals), "slopes": slopes,
            "max_residual": max(residuals), "max_jump": max(jumps, default=0.0),
            "min_slope_change": float(np.abs(np.diff(slopes)).min()) if len(slopes) > 1 else None}


def piece_bound(widths: Sequence[int]) -> int:
    """The most pieces a network with hidden widths n_1..n_L can have on a line: prod (n_l + 1).

    On each piece of layer l - 1's output every unit of layer l is affine in x, so it changes
    sign at most once: the n_l units cut each piece into at most n_l + 1.
    """
    return int(np.prod([n + 1 for n in widths]))


def preactivations(model: Sequential, x: np.ndarray) -> np.ndarray:
    """Every hidden unit's input to its activation at the points ``x``: (G, total hidden units)."""
    h, out = np.asarray(x, np.float64)[:, None], []
    model.eval()
    for layer in model.layers[:-1]:
        h = layer.forward(h)
        if isinstance(layer, Linear):
            out.append(h)
    return np.concatenate(out, axis=1)


# -- the networks ----------------------------------------------------------------------------
def random_network(kind: Literal["relu", "prelu", "tanh"], widths: Sequence[int], seed: int,
                   bias_std: float = 1.0) -> Sequential:
    """1 -> widths (He-normal weights, N(0, bias_std^2) biases, then ReLU, PReLU or tanh) -> 1.

    PReLU learns one slope per unit; here they are drawn from U(-0.5, 1), so some are negative.
    The same ``seed`` gives the same affine layers whatever the ``kind``.
    """
    act = {"relu": lambda n: ReLU(), "prelu": lambda n: PReLU(n), "tanh": lambda n: Tanh()}[kind]
    layers = []
    for n in widths:
        layers += [Dense(n, init="he_normal", bias_init={"name": "normal", "std": bias_std}), act(n)]
    layers.append(Dense(1, init="he_normal", bias_init={"name": "normal", "std": bias_std}))
    model = Sequential(layers, input_shape=(1,), dtype="float64", seed=seed)
    slopes = np.random.default_rng(seed + 1)
    for layer in model.layers:
        if isinstance(layer, PReLU):
            (_, p), = layer.named_parameters()
            p.data[...] = slopes.uniform(-0.5, 1.0, p.shape)
    return model


def sawtooth_network(depth: int) -> Sequential:
    """The tent map t(x) = 2 r(x) - 4 r(x - 1/2) composed ``depth`` times: 2^depth pieces on [0, 1]
    from only 2 * depth ReLU units (one layer of n units gives at most n + 1)."""
    layers = [Dense(2, "relu") for _ in range(depth)] + [Dense(1)]
    model = Sequential(layers, input_shape=(1,), dtype="float64", seed=0)
    b = np.array([0.0, -0.5])  # (2,) the two units switch at 0 and 1/2 of their input
    state = {"0.weight": np.ones((2, 1)), "0.bias": b}
    for i in range(1, depth):
        state.update({f"{i}.weight": np.array([[2.0, -4.0], [2.0, -4.0]]), f"{i}.bias": b})
    state.update({f"{depth}.weight": np.array([[2.0, -4.0]]), f"{depth}.bias": np.zeros(1)})
    model.load_state_dict(state)
    return model
