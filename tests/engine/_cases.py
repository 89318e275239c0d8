"""Random, seeded configurations for the convolution-family kernel tests.

Shared by the torch-free kernel tests (``test_functional_kernels.py``) and the comparisons with
``torch.nn.functional`` (``test_functional_reference.py``): sizes 1..7, channels 1..3, kernels
1..3, strides 1..3, padding 0..2, dilation 1..2, every spatial argument drawn per axis.
"""

from __future__ import annotations

import numpy as np

TOL = dict(rtol=1e-10, atol=1e-12)
N_CASES = 60  # random configurations per kernel


def _int(rng, lo, hi):
    """A random int in lo..hi (both included)."""
    return int(rng.integers(lo, hi + 1))


def _pair(rng, lo, hi):
    return (_int(rng, lo, hi), _int(rng, lo, hi))


def conv_out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_transpose_out(n, k, s, p, op, d):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def pool_out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def conv_config(rng):
    """A random conv2d configuration with a non-empty output."""
    while True:
        cfg = dict(
            N=_int(rng, 1, 2), C=_int(rng, 1, 3), O=_int(rng, 1, 3),
            size=_pair(rng, 1, 7), kernel=_pair(rng, 1, 3), stride=_pair(rng, 1, 3),
            padding=_pair(rng, 0, 2), dilation=_pair(rng, 1, 2), bias=bool(rng.random() < 0.7),
        )
        axes = zip(cfg["size"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"])
        out = [conv_out(*a) for a in axes]
        if min(out) >= 1:
            return cfg


def conv_case(rng):
    """A random conv2d case: (cfg, x, w, b or None, (stride, padding, dilation)), drawn in that order."""
    cfg = conv_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    w = rng.standard_normal((cfg["O"], cfg["C"], *cfg["kernel"]))
    b = rng.standard_normal(cfg["O"]) if cfg["bias"] else None
    return cfg, x, w, b, (cfg["stride"], cfg["padding"], cfg["dilation"])


def conv_transpose_case(rng):
    """A random conv_transpose2d case: (cfg, x, w, b or None, (stride, padding, output_padding,
    dilation)), drawn in that order."""
    cfg = conv_transpose_config(rng)
    x = rng.standard_normal((cfg["N"], cfg["C"], *cfg["size"]))
    w = rng.standard_normal((cfg["C"], cfg["O"], *cfg["kernel"]))
    b = rng.standard_normal(cfg["O"]) if cfg["bias"] else None
    return cfg, x, w, b, (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["dilation"])


def conv_transpose_config(rng):
    """A random conv_transpose2d configuration: output_padding < max(stride, dilation) per axis
    (PyTorch's rule), non-empty output."""
    while True:
        cfg = dict(
            N=_int(rng, 1, 2), C=_int(rng, 1, 3), O=_int(rng, 1, 3),
            size=_pair(rng, 1, 7), kernel=_pair(rng, 1, 3), stride=_pair(rng, 1, 3),
            padding=_pair(rng, 0, 2), dilation=_pair(rng, 1, 2), bias=bool(rng.random() < 0.7),
        )
        cfg["output_padding"] = tuple(
            _int(rng, 0, max(s, d) - 1) for s, d in zip(cfg["stride"], cfg["dilation"])
        )
        axes = zip(cfg["size"], cfg["kernel"], cfg["stride"], cfg["padding"],
                   cfg["output_padding"], cfg["dilation"])
        out = [conv_transpose_out(*a) for a in axes]
        if min(out) >= 1:
            return cfg


def pool_config(rng):
    """A random pooling configuration: padding <= kernel // 2 (PyTorch's rule), non-empty output."""
    while True:
        kernel = _pair(rng, 1, 3)
        cfg = dict(
            N=_int(rng, 1, 2), C=_int(rng, 1, 3), size=_pair(rng, 1, 7), kernel=kernel,
            stride=_pair(rng, 1, 3), padding=tuple(_int(rng, 0, min(2, k // 2)) for k in kernel),
        )
        axes = zip(cfg["size"], cfg["kernel"], cfg["stride"], cfg["padding"])
        out = [pool_out(*a) for a in axes]
        if min(out) >= 1:
            return cfg


def upsample_config(rng):
    return dict(N=_int(rng, 1, 2), C=_int(rng, 1, 3), size=_pair(rng, 1, 7), scale=_pair(rng, 1, 3))


def case_rng(kernel_id: int, case: int):
    """A generator of its own for every (kernel, case): a failing case reruns alone."""
    return np.random.default_rng([20261123, kernel_id, case])


def maxpool_tie_inputs():
    """Inputs whose pooling windows hold equal maxima: x has two 5.0 at flat indices 6 and 9
    (every 3x3 window of it holds both), z is all zeros."""
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = x[0, 0, 2, 1] = 5.0
    return x, np.zeros((1, 1, 4, 4))
