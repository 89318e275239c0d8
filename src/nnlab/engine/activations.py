"""Activation functions as explicit forward/backward kernels.

Each kernel's ``forward(z, out)`` may write into ``out`` (which may be ``z`` itself) and
``backward(dy, y, z, out, scratch)`` returns dL/dz from dL/dy, using the *output* ``y`` where
that is enough (so the pre-activation need not be kept). ``needs_input`` says whether ``z`` is
needed. ``out`` may be ``dy`` itself; ``scratch``, when given, is a buffer shaped like ``y`` that
the kernel may overwrite, so that the training loop allocates no large temporaries (on this
kind of machine every freed large block goes back to the OS and costs page faults to reuse).

The activation layers in :mod:`nnlab.engine.layers` wrap these kernels; ``Linear`` fuses them so
that the activation runs in place on the matrix-product buffer.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from nnlab.errors import ConfigError


class ActivationKernel:
    name = ""
    needs_input = False

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def backward(
        self, dy: np.ndarray, y: np.ndarray, z: np.ndarray | None, out: np.ndarray, scratch: np.ndarray | None = None
    ) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def config(self) -> dict[str, Any]:
        return {}

    def label(self) -> str:
        cfg = self.config()
        if not cfg:
            return self.name
        return f"{self.name}(" + ", ".join(f"{v:g}" for v in cfg.values()) + ")"


class IdentityKernel(ActivationKernel):
    name = "identity"

    def forward(self, z, out):
        if out is not z:
            np.copyto(out, z)
        return out

    def backward(self, dy, y, z, out, scratch=None):
        if out is not dy:
            np.copyto(out, dy)
        return out


class ReLUKernel(ActivationKernel):
    name = "relu"

    def __init__(self) -> None:
        self._zeros: np.ndarray | None = None

    def forward(self, z, out):
        # maximum against an array of zeros is vectorised in NumPy; against the scalar 0 it is
        # not (4 us vs 18 us for a 100x500 float32 batch here).
        zeros = self._zeros
        if zeros is None or zeros.shape != z.shape or zeros.dtype != z.dtype:
            zeros = self._zeros = np.zeros_like(z)
        return np.maximum(z, zeros, out=out)

    def backward(self, dy, y, z, out, scratch=None):
        # y > 0 exactly where z > 0; the gradient at 0 is taken as 0 (as in PyTorch).
        return np.multiply(dy, y > 0, out=out)


class LeakyReLUKernel(ActivationKernel):
    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)
        # With a negative slope the output's sign no longer tells the input's sign.
        self.needs_input = self.negative_slope < 0

    def forward(self, z, out):
        if self.negative_slope >= 0 and self.negative_slope <= 1:
            # max(z, a*z) equals leaky_relu for 0 <= a <= 1 and needs no mask.
            return np.maximum(z, z * self.negative_slope, out=out)
        return _where_into(z > 0, z, z * self.negative_slope, out)

    def backward(self, dy, y, z, out, scratch=None):
        positive = (z > 0) if self.needs_input else (y > 0)
        scale = np.empty_like(dy) if scratch is None else scratch
        np.multiply(positive, 1 - self.negative_slope, out=scale)
        scale += self.negative_slope
        return np.multiply(dy, scale, out=out)

    def config(self):
        return {"negative_slope": self.negative_slope}


def _where_into(cond, a, b, out):
    out[...] = np.where(cond, a, b)
    return out


class SigmoidKernel(ActivationKernel):
    name = "sigmoid"

    def forward(self, z, out):
        with np.errstate(over="ignore"):  # exp(-z) = inf for very negative z gives exactly 0
            np.negative(z, out=out)
            np.exp(out, out=out)
            out += 1
            np.reciprocal(out, out=out)
        return out

    def backward(self, dy, y, z, out, scratch=None):
        s = np.subtract(1, y, out=scratch)
        s *= y
        return np.multiply(dy, s, out=out)


class TanhKernel(ActivationKernel):
    name = "tanh"

    def forward(self, z, out):
        return np.tanh(z, out=out)

    def backward(self, dy, y, z, out, scratch=None):
        s = np.multiply(y, y, out=scratch)
        np.subtract(1, s, out=s)
        return np.multiply(dy, s, out=out)


class SoftmaxKernel(ActivationKernel):
    """Softmax over axis 1 (the class/channel axis, as ``torch.nn.Softmax(dim=1)``)."""

    name = "softmax"

    def forward(self, z, out):
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def backward(self, dy, y, z, out, scratch=None):
        dot = np.multiply(dy, y, out=scratch).sum(axis=1, keepdims=True)
        np.subtract(dy, dot, out=out)
        out *= y
        return out


class LogSoftmaxKernel(ActivationKernel):
    """log(softmax(z)) over axis 1, computed stably (pair with ``NLLLoss``)."""

    name = "log_softmax"

    def forward(self, z, out):
        m = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - m).sum(axis=1, keepdims=True)) + m
        return np.subtract(z, lse, out=out)

    def backward(self, dy, y, z, out, scratch=None):
        total = dy.sum(axis=1, keepdims=True)
        soft = np.exp(y, out=scratch)
        soft *= total
        return np.subtract(dy, soft, out=out)


KERNELS: dict[str, type[ActivationKernel]] = {
    k.name: k for k in (IdentityKernel, ReLUKernel, LeakyReLUKernel, SigmoidKernel, TanhKernel, SoftmaxKernel,
                        LogSoftmaxKernel)
}
ALIASES = {"linear": "identity", "none": "identity", "leakyrelu": "leaky_relu", "logsoftmax": "log_softmax"}

ActivationSpec = str | Mapping[str, Any] | None


def make_activation(spec: ActivationSpec) -> ActivationKernel:
    """Build a kernel from ``None``, a name, or ``{"name": ..., **kwargs}``."""
    if spec is None:
        return IdentityKernel()
    if isinstance(spec, ActivationKernel):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"an activation is a name or a dict with a 'name' key, got {spec!r}")
    kwargs = dict(spec)
    name = str(kwargs.pop("name")).lower()
    name = ALIASES.get(name, name)
    if name not in KERNELS:
        raise ConfigError(f"unknown activation {name!r}; known: {', '.join(sorted(KERNELS))}")
    try:
        return KERNELS[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"activation {name!r}: {exc}") from None


def activation_spec(kernel: ActivationKernel) -> str | dict[str, Any]:
    cfg = kernel.config()
    return {"name": kernel.name, **cfg} if cfg else kernel.name
