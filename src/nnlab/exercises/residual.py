"""Why residual connections keep gradients alive (seed 001 Q3), measured.

A plain stack h_l = f_l(h_{l-1}) backpropagates g_{l-1} = g_l J_l, a product of L Jacobians: with
sigmoid (f' <= 1/4) it shrinks geometrically. A residual stack h_l = h_{l-1} + f_l(h_{l-1}) has
d h_l / d h_{l-1} = I + J_l, so g_{l-1} = g_l + g_l J_l: the gradient arriving from above passes
down unchanged, whatever the branch does. The exercise builds both stacks with the *same*
weights (the engine's ``Residual`` container around the same ``Dense`` layers), runs one batch,
and measures every layer's gradient norm.

Veit et al. (2016) add a caveat the seed repeats: expanding the product prod_l (I + J_l) gives
2^L paths; a path through k residual branches contributes a product of k Jacobians, which
still vanishes for large k. Residual networks do not make long paths carry gradient; most of it
comes from the many short paths, so they behave like an ensemble of shallower networks. The
exercise splits the input gradient by path length exactly and shows where it comes from.
"""

from __future__ import annotations

from math import comb

import numpy as np

from nnlab.engine import Dense, Linear, Residual, Sequential, make_loss
from nnlab.errors import ConfigError
from nnlab.exercises.base import ExerciseResult, checks_section, heading, new_figure, sci

_DERIVATIVE = {  # f'(z) from the activation's output y
    "sigmoid": lambda y: y * (1 - y),
    "tanh": lambda y: 1 - y ** 2,
    "relu": lambda y: (y > 0).astype(np.float64),
}


def _stack(depth: int, width: int, activation: str, residual: bool, seed: int) -> Sequential:
    layers = [Dense(width, activation) for _ in range(depth)]
    body = [Residual(layer) for layer in layers] if residual else layers
    return Sequential([*body, Linear(width, 1)], input_shape=(width,), dtype="float64", seed=seed)


def _signal_norms(model: Sequential, g: np.ndarray) -> list[float]:
    """Backpropagate ``g`` layer by layer; return ||dL/dh_l|| (Frobenius over the batch) for the
    input of every layer, input first (the last entry is the head's input)."""
    norms = []
    for layer in reversed(model.layers):
        g = layer.backward(g)
        norms.append(float(np.linalg.norm(g)))
    return norms[::-1]


def residual_gradients(depth: int = 24, width: int = 32, batch: int = 64, activation: str = "sigmoid",
                       seed: int = 0) -> ExerciseResult:
    """Gradient norms per layer of a deep plain network vs the same network with residual connections."""
    if activation not in _DERIVATIVE:
        raise ConfigError(f"activation must be one of {', '.join(_DERIVATIVE)}, got {activation!r}")
    if depth < 2 or width < 1 or batch < 1:
        raise ConfigError("depth must be >= 2, width and batch >= 1")
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, width))  # (B, width)
    y = rng.standard_normal((batch, 1))
    loss = make_loss("mse")

    plain = _stack(depth, width, activation, residual=False, seed=seed)
    res = _stack(depth, width, activation, residual=True, seed=seed)
    res.load_state_dict({(f"{k.split('.')[0]}.block.{k.split('.')[1]}" if int(k.split(".")[0]) < depth else k): v
                         for k, v in plain.state_dict().items()})  # the same weights in both

    out = {}
    for name, model in (("plain", plain), ("residual", res)):
        value = loss.forward(model.forward(x), y)
        model.zero_grad()
        signal = _signal_norms(model, loss.backward())
        params = dict(model.named_parameters())
        prefix = ".block." if name == "residual" else "."
        weight = [float(np.linalg.norm(params[f"{i}{prefix}weight"].grad)) for i in range(depth)]
        out[name] = {"loss": value, "weight_grad": np.array(weight), "signal": np.array(signal[:depth]),
                     "input_grad_norm": signal[0]}
    for v in out.values():
        v["ratio"] = v["weight_grad"][0] / v["weight_grad"][-1]
        v["signal_ratio"] = v["signal"][0] / v["signal"][-1]
    res.forward(x)
    h_norms = np.array([np.linalg.norm(layer.block._x) for layer in res.layers[:depth]] + [
        np.linalg.norm(res.layers[-1]._x)])  # ||h_0|| .. ||h_L|| of the residual stack

    # -- the identity path, checked on block 1: d(x + f(x))/dx = I + f'(x) ------------------------
    block = res.layers[0]
    h0 = x[:1]
    block.forward(h0)
    W = dict(block.named_parameters())["block.weight"].data
    a = block.block.forward(h0)[0]
    J = _DERIVATIVE[activation](a)[:, None] * W  # d f / d h: (width, width)
    block.forward(h0)
    engine_jac = np.stack([block.backward(np.eye(width)[i : i + 1])[0] for i in range(width)])  # row i: d out_i / dh
    identity_diff = float(np.max(np.abs(engine_jac - (np.eye(width) + J))))

    # -- Veit et al.: the input gradient split by the number of residual branches a path goes through --
    by_len, total = _paths(res, x, y, loss, depth, width, activation)
    res.forward(x)
    loss.forward(res.layers[-1]._y, y)
    res.zero_grad()
    engine_dx = res.backward(loss.backward())
    paths_diff = float(np.max(np.abs(total - engine_dx))) / max(1.0, float(np.max(np.abs(engine_dx))))
    share = np.linalg.norm(by_len.reshape(depth + 1, -1), axis=1)
    cum = np.cumsum(share) / share.sum()
    short = int(np.searchsorted(cum, 0.9) + 1)  # path lengths 0..short-1 hold 90% of the summed norms

    p, r = out["plain"], out["residual"]
    checks = {
        "residual block backward == (I + f'(x)) applied to the gradient (engine vs formula)": identity_diff <= 1e-12,
        "residual: the gradient reaching layer 1 is at least half that reaching layer L": r["signal_ratio"] >= 0.5,
        "first/last ratio of the gradient reaching each layer: residual > plain": r["signal_ratio"] > p["signal_ratio"],
        "the sum over all 2^L paths, split by length, == the engine's input gradient": paths_diff <= 1e-10,
    }
    if activation == "sigmoid":  # the classic vanishing case; Xavier/He keep tanh/ReLU plain stacks alive
        checks["plain (sigmoid): the gradient reaching layer 1 is < 1e-6 of that reaching layer L"] = (
            p["signal_ratio"] < 1e-6)
        checks["first-layer weight gradient: residual >= 1000 x plain (same weights, same batch)"] = (
            r["weight_grad"][0] >= 1e3 * p["weight_grad"][0])

    T = [heading("residual-gradients: the gradient through a deep plain stack and through residual blocks"), ""]
    T.append(f"Two networks with the same weights: {depth} layers Dense({width}, {activation}) (the engine's default"
             f" init: {'He' if activation == 'relu' else 'Xavier'}), then Linear({width}, 1), MSE loss; one seeded batch"
             f" of {batch}.")
    T.append(f"  plain:    h_l = {activation}(W_l h_(l-1) + b_l)")
    T.append(f"  residual: h_l = h_(l-1) + {activation}(W_l h_(l-1) + b_l)    (Residual(Dense(...)) in the engine)")
    T.append("")
    T.append(f"  {'layer':>5} {'plain ||dL/dW||':>16} {'residual ||dL/dW||':>19} {'plain ||dL/dh||':>16}"
             f" {'residual ||dL/dh||':>19}")
    for i in range(depth):
        T.append(f"  {i + 1:>5} {p['weight_grad'][i]:16.3e} {r['weight_grad'][i]:19.3e} {p['signal'][i]:16.3e}"
                 f" {r['signal'][i]:19.3e}")
    T.append(f"  (||dL/dh||: the gradient reaching layer l's input; loss: plain {p['loss']:.4f}, residual"
             f" {r['loss']:.4f})")
    T.append("")
    T.append("first layer / last layer:")
    T.append(f"  gradient reaching the layer, ||dL/dh||:  plain {p['signal_ratio']:.3e}   residual {r['signal_ratio']:.3e}")
    T.append(f"  weight gradient, ||dL/dW||:             plain {p['ratio']:.3e}   residual {r['ratio']:.3e}")
    T.append(f"The residual net's first layer gets {r['weight_grad'][0] / p['weight_grad'][0]:.3e} times the plain"
             f" one's weight gradient. Part of that is scale: the residual stack's activations grow with depth"
             f" (||h_L|| / ||h_0|| = {h_norms[-1] / h_norms[0]:.3g}: every block adds its {activation} output), so its"
             f" output and loss are larger ({r['loss']:.4g} vs {p['loss']:.4g}). Within each net the first/last"
             " ratios are fair: dL/dW_l = delta_l h_(l-1)^T, so the residual net's deeper layers, which see larger"
             " h, get larger weight gradients, while the gradient reaching each layer, dL/dh, stays nearly flat.")
    T.append("")
    T.append("Why: the plain stack multiplies the gradient by J_l = diag(f'(z_l)) W_l at every layer,"
             f" g_0 = g_L J_L ... J_1; {activation}' <= {'1/4' if activation == 'sigmoid' else '1'}, so with"
             " weights of norm about 1 the product shrinks geometrically with depth.")
    T.append("A residual block computes x + f(x), so d(x + f(x))/dx = I + f'(x): g_(l-1) = g_l + g_l J_l. The"
             " first term carries the gradient from above down unchanged (the identity path); nothing has to be"
             " multiplied by a small factor for the gradient to reach the first layer.")
    T.append(f"Checked on block 1: the engine's backward, applied to each unit vector, gives I + diag(f'(z)) W"
             f" (max difference {sci(identity_diff)}).")
    T.append("")
    T.append("The seed's caveat (Veit, Wilber & Belongie 2016, 'Residual networks behave like ensembles of relatively"
             " shallow networks'): expanding prod_l (I + J_l) gives 2^L paths; a path through k residual branches")
    T.append("carries a product of k Jacobians, which still vanishes for large k. Splitting this network's input"
             " gradient exactly by k (their sum equals the engine's dL/dx, max relative difference"
             f" {sci(paths_diff)}):")
    T.append(f"  {'k':>3} {'paths C(L, k)':>15} {'||gradient via length-k paths||':>33}")
    for k in range(min(depth, 12) + 1):
        T.append(f"  {k:>3} {comb(depth, k):>15,} {share[k]:33.3e}")
    T.append(f"  Paths through at most {short - 1} branches carry 90% of the summed norms, although the longest"
             f" path is {depth} layers deep: the gradient does not travel the whole depth; the residual net avoids"
             " vanishing gradients by being, in effect, an ensemble of much shallower networks, as the seed says.")
    T += ["", checks_section(checks)]

    values = {"depth": depth, "width": width, "activation": activation, "plain": p, "residual": r,
              "plain_ratio": p["ratio"], "residual_ratio": r["ratio"], "identity_max_diff": identity_diff,
              "path_length_norms": share, "path_counts": np.array([comb(depth, k) for k in range(depth + 1)]),
              "paths_max_diff": paths_diff, "short_paths_90": short - 1, "residual_h_norms": h_norms,
              "plain_signal_ratio": p["signal_ratio"], "residual_signal_ratio": r["signal_ratio"]}
    checks = {claim: bool(ok) for claim, ok in checks.items()}  # plain bools, not numpy ones
    return ExerciseResult("residual-gradients", "Gradient norms per layer: a deep plain stack vs residual blocks",
                          "\n".join(T), values, checks, draw=_draw)


def _paths(res: Sequential, x: np.ndarray, y: np.ndarray, loss, depth: int, width: int,
           activation: str) -> tuple[np.ndarray, np.ndarray]:
    """dL/dx split by the number k of residual branches a path goes through: returns (by_len, sum)
    with by_len (depth + 1, B, width). From the top, g_k(l - 1) = g_k(l) + g_(k-1)(l) J_l."""
    res.forward(x)
    loss.forward(res.layers[-1]._y, y)
    g_top = res.layers[-1].backward(loss.backward())  # (B, width): dL/dh_L
    derivative = _DERIVATIVE[activation]
    jac = []
    for layer in res.layers[:depth]:
        W = dict(layer.named_parameters())["block.weight"].data
        fprime = derivative(layer.block._y)  # (B, width), from the last forward
        jac.append((fprime, W))
    g = np.zeros((depth + 1, *g_top.shape))
    g[0] = g_top
    for fprime, W in reversed(jac):
        through = (g[:-1] * fprime) @ W  # g J = (g * f') W for row vectors
        g[1:] += through
    return g, g.sum(axis=0)


def _draw(r: ExerciseResult):
    v = r.values
    fig = new_figure(15, 4.4)
    ax = fig.subplots(1, 3, width_ratios=[1.3, 1.3, 1])
    layers = np.arange(1, v["depth"] + 1)
    ax[0].semilogy(layers, v["plain"]["weight_grad"], "o-", label=f"plain (first/last {v['plain_ratio']:.1e})")
    ax[0].semilogy(layers, v["residual"]["weight_grad"], "s-", label=f"residual (first/last {v['residual_ratio']:.2g})")
    ax[0].set_xlabel("layer index (1 = next to the input)")
    ax[0].set_ylabel("||dL/dW_l|| (log scale)")
    ax[0].set_title("weight-gradient norm per layer", fontsize=9)
    ax[0].legend(fontsize=8)
    ax[1].semilogy(layers, v["plain"]["signal"], "o-", label="plain")
    ax[1].semilogy(layers, v["residual"]["signal"], "s-", label="residual")
    ax[1].set_xlabel("layer index (1 = next to the input)")
    ax[1].set_ylabel("||dL/dh_(l-1)|| (log scale)")
    ax[1].set_title("gradient reaching each layer's input", fontsize=9)
    ax[1].legend(fontsize=8)
    k = np.arange(len(v["path_length_norms"]))
    ax[2].semilogy(k, np.maximum(v["path_length_norms"], 1e-300), "o-", label="||gradient via length-k paths||")
    ax[2].set_xlabel("residual branches on the path, k")
    ax[2].set_ylabel("gradient norm (log scale)")
    twin = ax[2].twinx()
    twin.semilogy(k, v["path_counts"], ":", color="gray", label="number of paths C(L, k)")
    twin.set_ylabel("number of paths (log scale)")
    ax[2].set_title(f"Veit et al.: 90% from paths of <= {v['short_paths_90']} branches", fontsize=9)
    ax[2].legend(fontsize=7, loc="lower left")
    twin.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{v['depth']} x Dense({v['width']}, {v['activation']}): plain vs residual, same weights, same batch",
                 fontsize=11)
    return fig


__all__ = ["residual_gradients"]
