"""Stand-alone activation layers (``Linear`` can also fuse its activation), and ``PReLU``, whose
negative slope is a learned parameter."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine.activations import ActivationSpec, activation_spec, make_activation
from nnlab.engine.layers.registry import register
from nnlab.engine.module import Module, Parameter
from nnlab.errors import ConfigError, ShapeError


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


@register
class PReLU(Module):
    """y = x if x > 0 else a * x, with a *learned* slope ``a`` (``torch.nn.PReLU``).

    ``num_parameters=1`` shares one slope over every value; ``num_parameters=C`` learns one slope
    per channel along axis 1, so samples must be ``(C, ...)`` (dense ``(C,)`` or conv ``(C, H, W)``).
    The slopes start at ``init`` (PyTorch's 0.25); at 0 the layer is ReLU, at 1 the identity.

    Shapes: (N, *) -> (N, *); weight (num_parameters,).
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        super().__init__()
        if int(num_parameters) < 1:
            raise ConfigError(f"PReLU needs num_parameters >= 1, got {num_parameters}")
        # the attribute is not called num_parameters: Module.num_parameters() counts every parameter
        self.num_slopes, self.init = int(num_parameters), float(init)
        self._x: np.ndarray | None = None

    def build(self, input_shape, rng, dtype) -> None:
        shape, n = tuple(input_shape), self.num_slopes
        if n > 1 and (len(shape) < 1 or shape[0] != n):
            raise ShapeError(f"PReLU({n}) learns one slope per channel: expects samples ({n}, ...), got {shape}")
        super().build(input_shape, rng, dtype)
        self._params["weight"] = Parameter(np.full(n, self.init, self.dtype), "weight")  # (num_parameters,)

    def _slope(self, ndim: int) -> np.ndarray:
        """The slopes shaped to broadcast over (N, C, ...): (1, C, 1, ...), or one 0-d slope."""
        w = self._params["weight"].data
        return w.reshape((1, -1) + (1,) * (ndim - 2)) if self.num_slopes > 1 else w.reshape(())

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        self._x = x
        return np.where(x > 0, x, self._slope(x.ndim) * x)

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        x = self._x
        negative = x <= 0  # the gradient at 0 follows PyTorch: the slope side
        axes = None if self.num_slopes == 1 else (0, *range(2, x.ndim))  # all but the channel axis
        dW = np.where(negative, x * grad_out, 0).sum(axis=axes)  # dL/da = sum of x * dy where x <= 0
        self._params["weight"].accumulate(np.reshape(dW, self.num_slopes))
        if not need_input_grad:
            return None
        return np.where(negative, self._slope(x.ndim) * grad_out, grad_out)

    def get_config(self) -> dict[str, Any]:
        return {"num_parameters": self.num_slopes, "init": self.init}

    def label(self) -> str:
        return f"PReLU({self.num_slopes})"

    def describe(self) -> dict[str, str]:
        return {"activation": "prelu", "init": f"constant({self.init:g})"}
