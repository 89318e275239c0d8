"""The receptive field of a stack of convolutions (seed 003 Q4.1), computed and measured.

:func:`receptive_field` is the standard recurrence: with ``r`` the field of one unit and ``j``
the jump (the input distance between two neighbouring units of the current layer), a layer of
kernel ``k``, stride ``s`` and dilation ``d`` gives ``r <- r + d (k - 1) j`` and ``j <- j s``,
starting from ``r = j = 1``. For ``n`` stacked ``K x K`` convolutions with stride 1 this is
``1 + n (K - 1)``; one layer gives ``K`` (the seed's question).

The exercise checks every number against the engine: the receptive field of an output unit is
the set of input pixels its value depends on, i.e. the nonzero support of the gradient of that
one unit with respect to the input. The networks are linear with positive weights, so no
gradient entry can cancel by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlab.engine import AvgPool2d, Conv2d, Sequential
from nnlab.errors import ConfigError
from nnlab.exercises.base import ExerciseResult, checks_section, heading, new_figure, show_matrix

#: (kernel, stride, dilation) of one layer; "pool" layers are average pooling of that kernel and stride
Layer = tuple[int, int, int]


def receptive_field(layers: Sequence[Sequence[int]]) -> int:
    """The receptive field (pixels along one axis) of one output unit of a stack of layers.

    ``layers`` lists ``(kernel, stride, dilation)`` (dilation and stride may be left out:
    ``(kernel,)`` or ``(kernel, stride)``), input first. Pooling counts like a convolution of
    its kernel and stride.

    >>> receptive_field([(3, 1, 1)] * 4)   # 1 + 4 * (3 - 1)
    9
    >>> receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])  # dilations 1, 2, 4
    15
    """
    r, jump = 1, 1
    for layer in layers:
        k, s, d = (tuple(int(v) for v in layer) + (1, 1))[:3]
        if k < 1 or s < 1 or d < 1:
            raise ConfigError(f"kernel, stride and dilation must be >= 1, got {tuple(layer)}")
        r += d * (k - 1) * jump
        jump *= s
    return r


def measured_field(stack: Sequence[tuple[str, Layer]]) -> dict[str, Any]:
    """Build ``stack`` in the engine (1 channel, positive weights, no activation), backpropagate
    a one-hot gradient from the centre output unit and return the support of dY/dX along a row.

    ``stack`` items are ``("conv" | "pool", (kernel, stride, dilation))``. Returns ``extent``
    (last - first nonzero column + 1), ``taps`` (how many columns are nonzero) and ``grad``, the
    2-D input gradient.
    """
    r = receptive_field([layer for _, layer in stack])
    size = 2 * r + 8  # wide enough that the centre unit's field stays inside the image
    rng = np.random.default_rng(0)
    layers = []
    for kind, (k, s, d) in stack:
        if kind == "pool":
            layers.append(AvgPool2d(k, stride=s))
        else:
            layers.append(Conv2d(1, 1, k, stride=s, dilation=d, bias=False))
    model = Sequential(layers, input_shape=(1, size, size), dtype="float64", seed=0)
    model.load_state_dict({name: rng.uniform(0.5, 1.5, p.shape) for name, p in model.named_parameters()})
    y = model.forward(np.zeros((1, 1, size, size)))
    dy = np.zeros_like(y)
    dy[0, 0, y.shape[2] // 2, y.shape[3] // 2] = 1.0
    grad = model.backward(dy)[0, 0]
    cols = np.flatnonzero(np.any(grad != 0, axis=0))
    rows = np.flatnonzero(np.any(grad != 0, axis=1))
    return {"extent": int(cols[-1] - cols[0] + 1), "extent_rows": int(rows[-1] - rows[0] + 1),
            "taps": int(cols.size), "grad": grad, "formula": r}


def _describe(stack: Sequence[tuple[str, Layer]]) -> str:
    parts = []
    for kind, (k, s, d) in stack:
        extra = (f"/{s}" if s > 1 else "") + (f" d{d}" if d > 1 else "")
        parts.append(f"{'pool' if kind == 'pool' else 'conv'}{k}{extra}")
    return " ".join(parts)


EXAMPLES: dict[str, list[tuple[str, Layer]]] = {
    "one dilated 3x3, D = 2": [("conv", (3, 1, 2))],
    "dilations 1, 2, 4 (3x3)": [("conv", (3, 1, 1)), ("conv", (3, 1, 2)), ("conv", (3, 1, 4))],
    "dilations 1, 2, 4, 8 (3x3)": [("conv", (3, 1, 2 ** i)) for i in range(4)],
    "3x3, 3x3 stride 2, 3x3": [("conv", (3, 1, 1)), ("conv", (3, 2, 1)), ("conv", (3, 1, 1))],
    "VGG: 2 x (3x3, 3x3, pool 2)": [("conv", (3, 1, 1)), ("conv", (3, 1, 1)), ("pool", (2, 2, 1))] * 2,
    "7x7 stride 2, pool 3 stride 2 (ResNet stem)": [("conv", (7, 2, 1)), ("pool", (3, 2, 1))],
}


def receptive_field_exercise(kernels: Sequence[int] = (3, 5, 7), max_depth: int = 6) -> ExerciseResult:
    """Receptive field of stacked, strided and dilated convolutions: 1 + n(K - 1), checked by gradients."""
    kernels = [int(k) for k in kernels]
    if not kernels or min(kernels) < 1 or int(max_depth) < 1:
        raise ConfigError("kernels must be >= 1 and max_depth >= 1")
    table = []
    for K in kernels:
        for n in range(1, int(max_depth) + 1):
            m = measured_field([("conv", (K, 1, 1))] * n)
            table.append({"K": K, "depth": n, "closed_form": 1 + n * (K - 1), "recurrence": m["formula"],
                          "engine": m["extent"], "engine_rows": m["extent_rows"], "taps": m["taps"]})
    examples = []
    for title, stack in EXAMPLES.items():
        m = measured_field(stack)
        examples.append({"name": title, "layers": _describe(stack), "recurrence": m["formula"],
                         "engine": m["extent"], "taps": m["taps"], "grad": m["grad"]})

    checks = {
        "stride 1: receptive field == 1 + n(K - 1) (recurrence, every K and depth)":
            all(r["recurrence"] == r["closed_form"] for r in table),
        "engine gradient support == 1 + n(K - 1) in rows and columns (every K and depth)":
            all(r["engine"] == r["engine_rows"] == r["closed_form"] for r in table),
        "one K x K layer, stride 1: receptive field K": all(r["engine"] == r["K"] for r in table if r["depth"] == 1),
        "strided, pooled and dilated examples: recurrence == engine gradient support":
            all(e["recurrence"] == e["engine"] for e in examples),
        "a single dilated layer leaves holes; dilations 1, 2, 4 cover their field":
            examples[0]["taps"] < examples[0]["engine"] and examples[1]["taps"] == examples[1]["engine"],
    }

    T = [heading("receptive-field: how far one output unit sees into the input"), ""]
    T.append("Seed 003 Q4.1: one K x K convolution with stride 1 sees a K x K window: its receptive field is K.")
    T.append("A stack: with r the field and j the jump (input distance between neighbouring units), a layer of"
             " kernel k, stride s, dilation d does")
    T.append("  r <- r + d (k - 1) j,   j <- j s        (from r = j = 1)")
    T.append("so n stride-1 K x K layers give 1 + n (K - 1): each layer adds K - 1 pixels, linear in depth;"
             " strides multiply what later layers add; dilation D multiplies one layer's share by D.")
    T.append("")
    T.append("Measured: the engine's input gradient of the centre output unit (linear layers, positive weights:"
             " no cancellation); its nonzero support along a row and a column is the receptive field.")
    T.append(f"  {'K':>2} {'depth':>5} {'1+n(K-1)':>9} {'recurrence':>11} {'engine (cols x rows)':>21}")
    for r in table:
        T.append(f"  {r['K']:>2} {r['depth']:>5} {r['closed_form']:>9} {r['recurrence']:>11}"
                 f" {str(r['engine']) + ' x ' + str(r['engine_rows']):>21}")
    T.append("")
    T.append("Strided, pooled (average pooling, whose gradient spreads over its window) and dilated stacks:")
    width = max(len(e["name"]) for e in examples)
    T.append(f"  {'stack':<{width}}  {'recurrence':>10} {'engine':>6} {'nonzero cols':>12}  layers")
    for e in examples:
        T.append(f"  {e['name']:<{width}}  {e['recurrence']:>10} {e['engine']:>6} {e['taps']:>12}  {e['layers']}")
    T.append("")
    T.append("A single 3x3 layer dilated by 2 spans 5 pixels but reads only 3 of them (holes: the 'gridding'"
             " effect); stacking dilations 1, 2, 4, ... covers the field without holes and grows it"
             " exponentially with depth (2^(n+1) - 1), while stride-1 stacks grow it only linearly.")
    T += ["", checks_section(checks)]

    values = {"table": table, "examples": [{k: v for k, v in e.items() if k != "grad"} for e in examples],
              "example_grads": {e["name"]: e["grad"] for e in examples}}
    checks = {claim: bool(ok) for claim, ok in checks.items()}  # plain bools, not numpy ones
    return ExerciseResult("receptive-field", "Receptive field of stacked, strided and dilated convolutions",
                          "\n".join(T), values, checks, draw=_draw)


def _draw(r: ExerciseResult):
    v = r.values
    fig = new_figure(15, 4.4)
    ax = fig.subplots(1, 4, width_ratios=[1.4, 1, 1, 1])
    for K in sorted({row["K"] for row in v["table"]}):
        rows = [row for row in v["table"] if row["K"] == K]
        depth = [row["depth"] for row in rows]
        line = ax[0].plot(depth, [row["closed_form"] for row in rows], label=f"1 + n({K} - 1)")[0]
        ax[0].plot(depth, [row["engine"] for row in rows], "o", color=line.get_color(), markerfacecolor="none")
    ax[0].set_xlabel("number of stacked K x K layers n (stride 1)")
    ax[0].set_ylabel("receptive field (pixels)")
    ax[0].set_title("lines: formula; circles: engine gradient support", fontsize=9)
    ax[0].legend(fontsize=8)
    for a, name in zip(ax[1:], ["one dilated 3x3, D = 2", "dilations 1, 2, 4 (3x3)", "VGG: 2 x (3x3, 3x3, pool 2)"]):
        g = v["example_grads"][name]
        nz = np.argwhere(g != 0)
        (r0, c0), (r1, c1) = nz.min(axis=0), nz.max(axis=0)
        crop = g[max(r0 - 2, 0) : r1 + 3, max(c0 - 2, 0) : c1 + 3]
        show_matrix(a, crop, f"{name}\n|dy/dx| of the centre unit: {c1 - c0 + 1} px", cmap="magma", annotate=False)
    fig.suptitle("Receptive field: 1 + n(K - 1) for stride 1; dilation widens it (with holes when used alone)",
                 fontsize=11)
    return fig


__all__ = ["EXAMPLES", "measured_field", "receptive_field", "receptive_field_exercise"]
