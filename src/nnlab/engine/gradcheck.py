"""Numerical gradient checking by central differences.

``gradcheck(layer_or_model, x)`` compares, in float64, the analytic gradients of the scalar
``sum(forward(x) * R)`` (``R`` a fixed random array, so that every output element counts) with
respect to the input and to every parameter against central differences
``(f(w + eps) - f(w - eps)) / (2 eps)``. ``gradcheck(loss, pred, target)`` checks dL/dpred, and
``gradcheck(model, x, target, loss=...)`` checks a whole network through its loss.

The module is deep-copied into float64 first (:meth:`Module.astype`), so float32 models and
layers a user wrote themselves can be checked without losing precision, and the original is
never modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from nnlab.engine.losses import Loss, make_loss
from nnlab.engine.module import Module


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x`` (perturbed in place)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        fp = f()
        flat[i] = orig - eps
        fm = f()
        flat[i] = orig
        gflat[i] = (fp - fm) / (2 * eps)
    return grad


@dataclass
class GradEntry:
    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    max_abs_err: float
    max_rel_err: float
    ok: bool


@dataclass
class GradcheckResult:
    entries: list[GradEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    def __getitem__(self, name: str) -> GradEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(name)

    def __str__(self) -> str:
        lines = [f"{'tensor':<24} {'max abs err':>12} {'max rel err':>12}  ok"]
        for e in self.entries:
            lines.append(f"{e.name:<24} {e.max_abs_err:12.3e} {e.max_rel_err:12.3e}  {'yes' if e.ok else 'NO'}")
        return "\n".join(lines)


def _compare(name: str, analytic: np.ndarray, numeric: np.ndarray, rtol: float, atol: float) -> GradEntry:
    analytic = np.asarray(analytic, dtype=np.float64)
    diff = np.abs(analytic - numeric)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1), 0.0)
    ok = bool(np.all(diff <= atol + rtol * np.abs(numeric)))
    return GradEntry(name, analytic, numeric, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)), ok)


def gradcheck(
    target: Module | Loss | str,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    loss: Loss | str | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int = 0,
    check_input: bool = True,
    raise_on_failure: bool = False,
) -> GradcheckResult:
    """Compare analytic and central-difference gradients (see the module docstring)."""
    rng = np.random.default_rng(seed)
    result = GradcheckResult()
    x = np.array(x, dtype=np.float64)

    if isinstance(target, (Loss, str)):
        loss_fn = make_loss(target)
        if y is None:
            raise ValueError("gradcheck of a loss needs targets y")
        loss_fn.forward(x, y)
        analytic = np.array(loss_fn.backward(), copy=True)
        numeric = numerical_gradient(lambda: loss_fn.forward(x, y), x, eps)
        result.entries.append(_compare("pred", analytic, numeric, rtol, atol))
    else:
        if not target.built:
            raise RuntimeError("gradcheck needs a built module (call build(input_shape, rng, dtype))")
        module = target.astype(np.float64)
        if loss is not None:
            loss_fn = make_loss(loss)
            if y is None:
                raise ValueError("gradcheck through a loss needs targets y")

            def objective() -> float:
                return loss_fn.forward(module.forward(x), y)

            def upstream(out: np.ndarray) -> np.ndarray:
                loss_fn.forward(out, y)
                return np.array(loss_fn.backward(), copy=True)
        else:
            out_shape = module.forward(x).shape
            R = rng.standard_normal(out_shape)

            def objective() -> float:
                return float(np.sum(module.forward(x) * R))

            def upstream(out: np.ndarray) -> np.ndarray:
                return R.copy()

        module.zero_grad()
        out = module.forward(x)
        dx = module.backward(upstream(out), need_input_grad=check_input)
        grads = {name: p.grad.copy() for name, p in module.named_parameters()}
        if check_input and dx is not None:
            result.entries.append(_compare("input", dx, numerical_gradient(objective, x, eps), rtol, atol))
        for name, p in module.named_parameters():
            numeric = numerical_gradient(objective, p.data, eps)
            result.entries.append(_compare(name, grads[name], numeric, rtol, atol))
    if raise_on_failure and not result.ok:
        raise AssertionError(f"gradient check failed:\n{result}")
    return result

