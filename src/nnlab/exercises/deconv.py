"""Deconvolution-style projection of a feature back to the image (seed 003 Q2), with the engine.

Zeiler & Fergus (2014) look at what a unit of a trained convnet responds to by running its
activation back down to pixel space through a "deconvnet" attached to every layer: unpool with
the *switches* (where each max came from), rectify with a ReLU, and filter with the transposed
versions of the same filters (a transposed convolution). Simonyan et al. (2013) showed that this
is almost the gradient of the unit with respect to the input (a saliency map): the two differ
only in how the ReLU is handled. Backprop zeroes the signal where the *forward* input of the
ReLU was negative; the deconvnet zeroes it where the *backward signal itself* is negative.
Guided backpropagation (Springenberg et al. 2015) does both.

The network here has fixed, interpretable filters rather than trained ones: layer 1 holds four
oriented edge detectors (derivatives of a Gaussian), layer 2 combines them (horizontal and
vertical edges together; diagonal edges; vertical but not horizontal), with negative weights
that inhibit. A few steps of training on one image would not give readable filters, and with
known filters one can tell whether a projection shows what the unit was built to detect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine import Conv2d, MaxPool2d, ReLU, Sequential
from nnlab.engine.functional import reference as ref
from nnlab.errors import ConfigError, ShapeError
from nnlab.exercises.base import (
    ExerciseResult,
    checks_section,
    heading,
    new_figure,
    sci,
    show_matrix,
)
from nnlab.exercises.receptive_field import receptive_field

KERNELS = "vectorized"  # nine passes through the network: the loop kernels would take seconds

LAYER1_NAMES = ["vertical edge (dark | bright)", "horizontal edge (dark over bright)", "diagonal edge /",
                "diagonal edge \\"]
LAYER2_NAMES = ["horizontal + vertical edges (corners)", "diagonal edges", "vertical, not horizontal"]


def edge_filters(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """Four oriented edge detectors (4, 1, size, size): the derivative of a Gaussian across
    0, 90, 45 and 135 degrees, each with zero sum and unit L1 norm."""
    r = np.arange(size) - size // 2
    yy, xx = np.meshgrid(r, r, indexing="ij")
    g = np.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))
    out = []
    for angle in (0, 90, 45, 135):  # rows grow downwards: 45 gives an edge along '/', 135 along '\'
        t = np.deg2rad(angle)
        f = (xx * np.cos(t) + yy * np.sin(t)) * g  # positive where the image gets brighter along t
        out.append(f / np.abs(f).sum())
    return np.stack(out)[:, None]


def combination_filters() -> np.ndarray:
    """Layer 2 (3, 4, 3, 3): each filter sums some layer-1 channels over a 3x3 window and
    subtracts others (inhibition)."""
    w = np.zeros((3, 4, 3, 3))
    w[0, [0, 1]] = 1.0 / 9  # vertical and horizontal edges together: corners of boxes
    w[0, [2, 3]] = -0.5 / 9
    w[1, [2, 3]] = 1.0 / 9  # diagonal edges
    w[1, [0, 1]] = -0.5 / 9
    w[2, 0] = 1.0 / 9  # vertical but not horizontal edges
    w[2, 1] = -1.0 / 9
    return w


def synthetic_image(size: int = 32) -> np.ndarray:
    """A deterministic grey test pattern in [0, 1]: a bright square, a diagonal bar and a disc."""
    img = np.full((size, size), 0.1)
    s = size / 32
    img[int(5 * s) : int(15 * s), int(4 * s) : int(14 * s)] = 0.9
    r, c = np.mgrid[0:size, 0:size]
    img[(np.abs(r - c) <= 1.5 * s) & (r > 17 * s) & (r < 30 * s)] = 0.8
    img[(r - 24 * s) ** 2 + (c - 8 * s) ** 2 < (4.5 * s) ** 2] = 0.6
    return img


def _network(size: tuple[int, int]) -> Sequential:
    model = Sequential([
        Conv2d(1, 4, 5, padding=2, kernels=KERNELS), ReLU(), MaxPool2d(2, kernels=KERNELS),
        Conv2d(4, 3, 3, padding=1, kernels=KERNELS), ReLU(), MaxPool2d(2, kernels=KERNELS),
    ], input_shape=(1, *size), dtype="float64", seed=0, name="deconv-demo")
    model.load_state_dict({"0.weight": edge_filters(), "0.bias": np.zeros(4),
                           "3.weight": combination_filters(), "3.bias": np.full(3, -0.01)})
    return model


def unpool(signal: np.ndarray, switches: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Put each pooled value back where its maximum came from (the switch); zeros elsewhere."""
    out = np.zeros(shape)
    N, C, Ho, Wo = signal.shape
    W = shape[3]
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, col = divmod(int(switches[n, c, i, j]), W)
                    out[n, c, r, col] += signal[n, c, i, j]
    return out


def project(model: Sequential, top: np.ndarray, relu: str = "deconvnet") -> np.ndarray:
    """Run ``top`` (shaped like the model's output) down to the input after a forward pass.

    ``relu``: ``"deconvnet"`` rectifies the backward signal (Zeiler & Fergus), ``"gradient"``
    masks it with the forward ReLU input > 0 (backprop), ``"guided"`` does both.
    """
    conv1, relu1, pool1, conv2, relu2, pool2 = model.layers
    signal = top
    for conv, act, pool in ((conv2, relu2, pool2), (conv1, relu1, pool1)):
        signal = unpool(signal, pool._argmax, pool._x_shape)
        forward_on = act._y > 0  # where the ReLU let its input through on the way up
        if relu == "deconvnet":
            signal = np.maximum(signal, 0)
        elif relu == "gradient":
            signal = signal * forward_on
        elif relu == "guided":
            signal = np.maximum(signal, 0) * forward_on
        else:
            raise ConfigError(f"relu must be deconvnet, gradient or guided, got {relu!r}")
        w = dict(conv.named_parameters())["weight"].data
        signal = conv.F.conv_transpose2d_forward(signal, w, None, conv.stride, conv.padding, (0, 0), conv.dilation)
    return signal


def _field_box(unit: tuple[int, int], stack: list[tuple[int, int, int]]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The input rows and columns (first, last) an output unit depends on; ``stack`` is
    (kernel, stride, padding) per layer, input first."""
    box = []
    for u in unit:
        lo = hi = u
        for k, s, p in reversed(stack):
            lo, hi = lo * s - p, hi * s - p + k - 1
        box.append((lo, hi))
    return box[0], box[1]


def deconv_projection(image: Any = None, source: str | None = None) -> ExerciseResult:
    """Deconvnet projection (Zeiler & Fergus) of the strongest unit back to pixels, vs its gradient."""
    img = synthetic_image() if image is None else np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < 8:
        raise ShapeError(f"the image must be 2-D and at least 8x8, got shape {img.shape}")
    if img.min() < 0 or img.max() > 1:
        raise ConfigError("the image must be in [0, 1]")
    source = source or ("a synthetic 32x32 pattern (a bright square, a diagonal bar, a disc)" if image is None
                        else f"the {img.shape[0]}x{img.shape[1]} image given")
    model = _network(img.shape)
    x = img[None, None]
    out = model.forward(x)  # (1, 3, H/4, W/4)
    c, i, j = (int(v) for v in np.unravel_index(np.argmax(out[0]), out.shape[1:]))
    a = float(out[0, c, i, j])
    if a <= 0:
        raise ShapeError("no layer-2 unit fires on this image: nothing to project")
    top = np.zeros_like(out)
    top[0, c, i, j] = a
    deconv = project(model, top, "deconvnet")[0, 0]
    mine_grad = project(model, top, "gradient")[0, 0]
    guided = project(model, top, "guided")[0, 0]
    whole = np.zeros_like(out)
    whole[0, c] = out[0, c]
    deconv_map = project(model, whole, "deconvnet")[0, 0]
    model.forward(x)
    engine_grad = model.backward(top)[0, 0]  # d(a * unit)/dx: backprop from the same top signal

    # the pieces, against the engine: unpooling = MaxPool2d.backward, transposed conv = Conv2d.backward
    pool2, conv2 = model.layers[5], model.layers[3]
    sig = np.random.default_rng(0).standard_normal(out.shape)
    unpool_diff = float(np.max(np.abs(unpool(sig, pool2._argmax, pool2._x_shape) - pool2.backward(sig))))
    sig2 = np.random.default_rng(1).standard_normal(pool2._x_shape)
    w2 = dict(conv2.named_parameters())["weight"].data
    tconv_diff = float(np.max(np.abs(ref.conv_transpose2d_forward(sig2, w2, None, (1, 1), (1, 1), (0, 0), (1, 1))
                                     - conv2.backward(sig2))))
    model.forward(x)

    stack = [(5, 1, 2), (2, 2, 0), (3, 1, 1), (2, 2, 0)]
    rf = receptive_field([(k, s) for k, s, _ in stack])
    (r0, r1), (c0, c1) = _field_box((i, j), stack)
    outside = np.ones_like(deconv, dtype=bool)
    outside[max(r0, 0) : r1 + 1, max(c0, 0) : c1 + 1] = False
    grad_diff = float(np.max(np.abs(mine_grad - engine_grad)))
    differ = float(np.mean(np.abs(deconv - engine_grad) > 1e-12 * max(1.0, float(np.abs(deconv).max()))))
    corr = float(np.corrcoef(deconv.ravel(), engine_grad.ravel())[0, 1]) if np.any(engine_grad) else float("nan")

    checks = {
        "unpooling with the switches == the engine's MaxPool2d.backward": unpool_diff <= 1e-12,
        "transposed conv with the same filters == the engine's Conv2d.backward": tconv_diff <= 1e-12,
        "deconvnet with the forward ReLU mask instead of ReLU(signal) == the engine's gradient": grad_diff <= 1e-12,
        f"the projection stays inside the unit's {rf}x{rf} receptive field": not np.any(deconv[outside])
                                                                             and r1 - r0 + 1 == rf == c1 - c0 + 1,
    }
    checks = {claim: bool(ok) for claim, ok in checks.items()}  # plain bools, not numpy ones

    T = [heading("deconv-projection: what a unit sees, projected back to pixels (Zeiler & Fergus 2014)"), ""]
    T.append(f"Image: {source}.")
    T.append("Network (engine, float64): Conv2d(1, 4, 5, padding=2) -> ReLU -> MaxPool2d(2)"
             " -> Conv2d(4, 3, 3, padding=1) -> ReLU -> MaxPool2d(2).")
    T.append("Fixed filters, so that the projection can be read: layer 1 = " + "; ".join(LAYER1_NAMES)
             + " (derivatives of a Gaussian, 5x5);")
    T.append("layer 2 = " + "; ".join(LAYER2_NAMES) + " (3x3 sums of layer-1 channels, inhibiting ones"
             " weighted negative, bias -0.01). Trained filters are what the method is for; a few training steps"
             " on one image would not give filters one can check a projection against.")
    T.append("")
    T.append(f"Strongest unit of the top layer: channel {c} ({LAYER2_NAMES[c]}) at ({i}, {j}) of"
             f" {out.shape[2]}x{out.shape[3]}, activation {a:.5f}.")
    T.append("Deconvnet: keep that activation, zero the rest, then for each layer from the top: unpool with the"
             " switches recorded by max pooling, ReLU, transposed convolution with the same filters (no bias).")
    T.append(f"  Its receptive field: {rf}x{rf} pixels, rows {r0}..{r1}, columns {c0}..{c1} (outside"
             f" 0..{img.shape[0] - 1}: the zero padding); the projection is zero outside it. Nonzero pixels:"
             f" {int(np.count_nonzero(deconv))}.")
    T.append(f"  unpool == MaxPool2d.backward: max difference {sci(unpool_diff)}; transposed conv (the loop kernel of"
             f" nnlab.engine.functional.reference) == Conv2d.backward: {sci(tconv_diff)} (a deconvnet reuses the"
             " backward pass's pieces).")
    T.append("")
    T.append("Gradient (saliency, Simonyan et al. 2013): the engine's backward from the same top signal."
             " The only difference is the ReLU:")
    T.append("  backprop:   signal * 1(forward input > 0)      deconvnet: max(signal, 0)      guided: both")
    T.append(f"  deconvnet with the backprop rule == the engine's gradient: max difference {sci(grad_diff)}.")
    T.append(f"  deconvnet vs gradient: they differ at {differ:.1%} of the pixels; correlation {corr:.3f}."
             f" Negative pixels: deconvnet {int(np.sum(deconv < 0))}, gradient {int(np.sum(engine_grad < 0))},"
             f" guided {int(np.sum(guided < 0))}.")
    T.append("  (Negative pixels can remain after the last ReLU: the first layer's filters have negative taps.)")
    T.append("")
    T.append("How this makes a network interpretable (seed 003 Q2): a projection shows which pixels, in which"
             " pattern, drive a unit, so one can see what each layer has learned (edges, then their"
             " combinations) and diagnose filters. An 'up-convolution' (a learned transposed convolution in a"
             " decoder or generator) is the same operation used to upsample; it interprets nothing by itself,"
             " and its uneven overlaps are behind the checkerboard artefacts and spectral distortions noted by"
             " Durall et al. (2020), the seed's reference.")
    T += ["", checks_section(checks)]

    values = {"image": img, "source": source, "unit": (c, i, j), "activation": a, "feature_maps": out[0],
              "projection": deconv, "projection_map": deconv_map, "gradient": engine_grad, "guided": guided,
              "receptive_field": rf, "field_box": ((r0, r1), (c0, c1)), "unpool_max_diff": unpool_diff,
              "transposed_conv_max_diff": tconv_diff, "gradient_max_diff": grad_diff,
              "fraction_differing": differ, "correlation": corr, "layer1_filters": edge_filters()[:, 0]}
    return ExerciseResult("deconv-projection", "Deconvnet projection of a unit to pixels, and its gradient",
                          "\n".join(T), values, checks, draw=_draw)


def _draw(r: ExerciseResult):
    from matplotlib.patches import Rectangle

    v = r.values
    fig = new_figure(17, 3.6)
    ax = fig.subplots(1, 7)
    c, i, j = v["unit"]
    (r0, r1), (c0, c1) = v["field_box"]
    filters = v["layer1_filters"]  # (4, 5, 5) tiled 2x2 with a blank line between
    k = filters.shape[1]
    mosaic = np.full((2 * k + 1, 2 * k + 1), np.nan)
    for n in range(4):
        mosaic[(n // 2) * (k + 1) : (n // 2) * (k + 1) + k, (n % 2) * (k + 1) : (n % 2) * (k + 1) + k] = filters[n]
    lim = float(np.abs(filters).max())
    show_matrix(ax[0], mosaic, "layer-1 filters: | , -- , / , \\", cmap="coolwarm", annotate=False, vmin=-lim, vmax=lim)
    show_matrix(ax[1], v["image"], "input (red: receptive field)", cmap="gray", annotate=False, vmin=0, vmax=1)
    ax[1].add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False, edgecolor="red"))
    show_matrix(ax[2], v["feature_maps"][c], f"layer-2 map {c} (strongest)", annotate=False)
    ax[2].add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    for a, key, title in zip(ax[3:], ["projection", "projection_map", "gradient", "guided"],
                             ["deconvnet: the red unit", f"deconvnet: all of map {c}", "gradient (saliency)",
                              "guided backprop"]):
        lim = float(np.abs(v[key]).max()) or 1.0
        show_matrix(a, v[key], title, cmap="coolwarm", annotate=False, vmin=-lim, vmax=lim)
    fig.suptitle(f"Zeiler & Fergus deconvnet vs the gradient for the strongest layer-2 unit ({LAYER2_NAMES[c]});"
                 " blue < 0 < red", fontsize=11)
    return fig


__all__ = ["combination_filters", "deconv_projection", "edge_filters", "project", "synthetic_image", "unpool"]
