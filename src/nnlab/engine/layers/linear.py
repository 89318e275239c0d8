"""Fully connected layer with an optional fused activation."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine import init as initializers
from nnlab.engine.activations import ActivationSpec, activation_spec, make_activation
from nnlab.engine.checks import as_int
from nnlab.engine.layers.registry import register
from nnlab.engine.module import Module, Parameter
from nnlab.errors import ConfigError, ShapeError


@register
class Linear(Module):
    """y = act(x @ W.T + b), with W of shape (out_features, in_features) as in PyTorch.

    ``in_features`` may be left out; it is then taken from the input shape when the model is
    built. ``activation`` is fused (applied in place on the product), so ``Linear(.., activation
    ="relu")`` equals ``Linear`` followed by ``ReLU`` but saves a buffer and a pass. ``init`` is
    an initialiser spec (see :mod:`nnlab.engine.init`); ``"auto"`` picks He for the ReLU family
    and Xavier otherwise. Biases start at ``bias_init`` (zeros by default); with
    ``init="torch_default"`` they use PyTorch's default instead.
    """

    def __init__(
        self,
        in_features: int | None = None,
        out_features: int | None = None,
        *,
        activation: ActivationSpec = None,
        init: initializers.InitSpec = "auto",
        bias: bool = True,
        bias_init: initializers.InitSpec | None = None,
    ) -> None:
        super().__init__()
        if out_features is None:
            raise ConfigError("Linear needs out_features >= 1, got None")
        self.in_features = None if in_features is None else as_int(in_features, "Linear in_features", 1)
        self.out_features = as_int(out_features, "Linear out_features", 1)
        self.kernel = make_activation(activation)
        self.use_bias = bool(bias)
        if init == "auto":
            init = "he_normal" if self.kernel.name in ("relu", "leaky_relu") else "xavier_uniform"
        self.init = initializers.normalize(init)
        if bias_init is None:
            bias_init = "torch_default" if self.init["name"] == "torch_default" else "zeros"
        self.bias_init = initializers.normalize(bias_init)
        self._x: np.ndarray | None = None
        self._y: np.ndarray | None = None
        self._z: np.ndarray | None = None

    def build(self, input_shape, rng, dtype) -> None:
        if len(input_shape) != 1:
            raise ShapeError(
                f"Linear expects a flat per-sample input (features,), got {tuple(input_shape)};"
                " add a Flatten layer first"
            )
        if self.in_features is None:
            self.in_features = int(input_shape[0])
        elif self.in_features != input_shape[0]:
            raise ShapeError(f"Linear(in_features={self.in_features}) got input with {input_shape[0]} features")
        super().build(input_shape, rng, dtype)
        shape = (self.out_features, self.in_features)
        w = initializers.initialize(self.init, shape, rng, self.dtype)
        self._params["weight"] = Parameter(w, "weight")
        if self.use_bias:
            b = initializers.initialize(self.bias_init, (self.out_features,), rng, self.dtype, fan_in=self.in_features)
            self._params["bias"] = Parameter(b, "bias")

    def output_shape(self, input_shape):
        return (self.out_features,)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        self._x = x
        z = self._buffer("z", (x.shape[0], self.out_features))
        np.matmul(x, self._params["weight"].data.T, out=z)
        if self.use_bias:
            z += self._params["bias"].data
        if self.kernel.needs_input:
            self._z = z.copy()
        self._y = self.kernel.forward(z, z)
        return self._y

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        if self._x is None:
            raise RuntimeError("Linear.backward called before forward")
        if grad_out.shape != self._y.shape:
            raise ShapeError(f"Linear.backward expects a gradient of shape {self._y.shape}, got {grad_out.shape}")
        if self.kernel.name == "identity":
            dz = grad_out
        else:
            out = grad_out if self._ws_enabled else np.empty_like(grad_out)
            dz = self.kernel.backward(grad_out, self._y, self._z, out, self._buffer("scratch", grad_out.shape))
        weight = self._params["weight"]
        g, overwrite = weight.grad_target()
        if overwrite:
            np.matmul(dz.T, self._x, out=g)
        else:
            g += dz.T @ self._x
        if self.use_bias:
            # the column sums as a BLAS product with a ones vector: faster than sum(axis=0)
            ones = self._ones(dz.shape[0])
            gb, overwrite = self._params["bias"].grad_target()
            if overwrite:
                np.matmul(ones, dz, out=gb)
            else:
                gb += ones @ dz
        if not need_input_grad:
            return None
        dx = self._buffer("dx", self._x.shape)
        return np.matmul(dz, weight.data, out=dx)

    def _ones(self, n: int) -> np.ndarray:
        ones = self._ws.get("ones") if self._ws_enabled else None
        if ones is None or ones.shape[0] != n or ones.dtype != self.dtype:
            ones = np.ones(n, self.dtype)
            if self._ws_enabled:
                self._ws["ones"] = ones
        return ones

    def get_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"in_features": self.in_features, "out_features": self.out_features}
        if self.kernel.name != "identity":
            cfg["activation"] = activation_spec(self.kernel)
        cfg["init"] = self.init if len(self.init) > 1 else self.init["name"]
        if not self.use_bias:
            cfg["bias"] = False
        else:
            cfg["bias_init"] = self.bias_init if len(self.bias_init) > 1 else self.bias_init["name"]
        return cfg

    def label(self) -> str:
        return f"Linear({self.in_features} -> {self.out_features})"

    def describe(self) -> dict[str, str]:
        return {"activation": self.kernel.label(), "init": initializers.describe(self.init)}


class Dense(Linear):
    """A :class:`Linear` layer built the Keras/seed way: ``Dense(35, activation="leaky_relu",
    init="small")``, its input size taken from the layer before it. It is saved, and shown, as
    the ``Linear`` it is."""

    def __init__(self, units: int, activation: ActivationSpec = None, init: initializers.InitSpec = "auto",
                 **kwargs: Any) -> None:
        super().__init__(None, units, activation=activation, init=init, **kwargs)
