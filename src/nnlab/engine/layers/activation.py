"""Stand-alone activation layers (``Linear`` can also fuse its activation)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine.activations import ActivationSpec, activation_spec, make_activation
from nnlab.engine.layers import register
from nnlab.engine.module import Module


@register
class Activation(Module):
    """Applies an activation kernel element-wise (softmax and log-softmax over axis 1)."""

    def __init__(self, activation: ActivationSpec = "identity") -> None:
        super().__init__()
        self.kernel = make_activation(activation)
        self._y: np.ndarray | None = None
        self._z: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        self._z = x if self.kernel.needs_input else None
        self._y = self.kernel.forward(x, self._buffer("y", x.shape))
        return self._y

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        if not need_input_grad:
            return None
        out = grad_out if self._ws_enabled else np.empty_like(grad_out)
        return self.kernel.backward(grad_out, self._y, self._z, out, self._buffer("scratch", grad_out.shape))

    def get_config(self) -> dict[str, Any]:
        return {"activation": activation_spec(self.kernel)}

    def describe(self) -> dict[str, str]:
        return {"activation": self.kernel.label(), "init": ""}


class _Fixed(Activation):
    """An activation layer whose kernel is fixed by the class (config = kernel arguments)."""

    kernel_name = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__({"name": self.kernel_name, **kwargs})

    def get_config(self) -> dict[str, Any]:
        return self.kernel.config()


@register
class Identity(_Fixed):
    """y = x"""

    kernel_name = "identity"


@register
class ReLU(_Fixed):
    """y = max(x, 0)"""

    kernel_name = "relu"


@register
class LeakyReLU(_Fixed):
    """y = x if x > 0 else negative_slope * x"""

    kernel_name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__(negative_slope=negative_slope)


@register
class Sigmoid(_Fixed):
    """y = 1 / (1 + exp(-x))"""

    kernel_name = "sigmoid"


@register
class Tanh(_Fixed):
    """y = tanh(x)"""

    kernel_name = "tanh"


@register
class Softmax(_Fixed):
    """y = exp(x) / sum(exp(x)) over axis 1"""

    kernel_name = "softmax"


@register
class LogSoftmax(_Fixed):
    """y = log(softmax(x)) over axis 1, computed stably"""

    kernel_name = "log_softmax"
