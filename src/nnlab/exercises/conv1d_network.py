"""``conv1d-network`` (seed 003 Q3): the 1-D network with 7,904 parameters, its gradients checked, and
the seed's closed-form gradients of one sample beside backprop.
"""

from __future__ import annotations

import logging

import numpy as np

from nnlab.engine import (
    AvgPool1d,
    Conv1d,
    Dense,
    Flatten,
    ReLU,
    Sequential,
    gradcheck,
    make_loss,
    numerical_gradient,
)
from nnlab.errors import ConfigError
from nnlab.exercises.base import ExerciseResult, checks_section, heading, matrix_block, new_figure
from nnlab.exercises.conv1d_gradients import closed_form_gradients, closed_form_text
from nnlab.exercises.numbers import KERNELS

log = logging.getLogger(__name__)


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
