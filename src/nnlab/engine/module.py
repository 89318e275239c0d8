"""The module contract of the NumPy engine.

Every layer is a :class:`Module` with an explicit ``forward`` and ``backward``; there is no
autograd. ``forward(x)`` caches what ``backward`` needs; ``backward(grad_out)`` returns the
gradient with respect to the input and adds the gradients of the parameters into
``Parameter.grad``.

Gradients accumulate until :meth:`Module.zero_grad` is called, as in PyTorch. Zeroing is lazy:
it only marks the gradient as zero, and the next backward *writes* into the buffer instead of
adding to it, which saves a pass over memory on every step.

Workspace mode (:meth:`Module.workspace`) is the engine's fast path, used by
``Sequential.fit``/``evaluate``/``predict``: layers reuse preallocated output buffers between
calls and may overwrite the gradient passed to ``backward``. Outside workspace mode every call
returns fresh arrays and never mutates its arguments.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, ClassVar, Iterator

import numpy as np

from nnlab.errors import ShapeError

DTypeLike = Any


def resolve_dtype(dtype: DTypeLike) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


class Parameter:
    """A trainable array and its gradient: the (parameter, gradient) pair optimizers see."""

    __slots__ = ("data", "_grad", "_grad_is_zero", "name")

    def __init__(self, data: np.ndarray, name: str = "") -> None:
        self.data = data
        self._grad = np.zeros_like(data)
        self._grad_is_zero = True
        self.name = name

    @property
    def grad(self) -> np.ndarray:
        """The accumulated gradient (materialised as zeros if nothing was accumulated)."""
        if self._grad_is_zero:
            self._grad.fill(0)
            self._grad_is_zero = False
        return self._grad

    def zero_grad(self) -> None:
        self._grad_is_zero = True

    def grad_target(self) -> tuple[np.ndarray, bool]:
        """Return ``(buffer, overwrite)``: write into ``buffer`` if ``overwrite``, else add to it."""
        overwrite = self._grad_is_zero
        self._grad_is_zero = False
        return self._grad, overwrite

    def accumulate(self, value: np.ndarray) -> None:
        buf, overwrite = self.grad_target()
        if overwrite:
            np.copyto(buf, value)
        else:
            buf += value

    def rebind(self, data: np.ndarray, grad: np.ndarray) -> None:
        """Move this parameter into caller-provided storage (e.g. views of one flat buffer)."""
        if data.shape != self.data.shape or grad.shape != self.data.shape:
            raise ShapeError(f"cannot rebind parameter {self.name!r} of shape {self.data.shape}")
        data[...] = self.data
        if not self._grad_is_zero:
            grad[...] = self._grad
        self.data = data
        self._grad = grad

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and container.

    Subclasses implement ``forward``, ``backward``, ``output_shape`` and ``get_config``, and
    declare their parameters in ``self._params`` (name -> Parameter) and non-trainable state
    (e.g. running statistics) in ``self._buffers`` (name -> ndarray), both created in
    ``build``, which runs once the input shape is known.
    """

    #: registry name used in architecture JSON; set by :func:`nnlab.engine.layers.register`.
    type_name: ClassVar[str] = ""

    def __init__(self) -> None:
        self.training = True
        self.built = False
        self.dtype: np.dtype = np.dtype(np.float32)
        self.input_shape: tuple[int, ...] | None = None  # per-sample shape, no batch axis
        self._params: dict[str, Parameter] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self._ws_enabled = False
        self._ws: dict[str, np.ndarray] = {}

    # -- construction ---------------------------------------------------------------
    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator, dtype: DTypeLike) -> None:
        """Create parameters for per-sample ``input_shape`` (override; call super last)."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = resolve_dtype(dtype)
        self.built = True

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for a per-sample input shape (no batch axis)."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (JSON-serialisable)."""
        return {}

    # -- computation ----------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError  # pragma: no cover - abstract

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # -- parameters and state -------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._params.items():
            yield prefix + name, p
        for cname, child in self.children():
            yield from child.named_parameters(f"{prefix}{cname}.")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name, b in self._buffers.items():
            yield prefix + name, b
        for cname, child in self.children():
            yield from child.named_buffers(f"{prefix}{cname}.")

    def children(self) -> Iterator[tuple[str, "Module"]]:
        return iter(())

    def modules(self) -> Iterator["Module"]:
        yield self
        for _, child in self.children():
            yield from child.modules()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """(dotted name, module) of this module (name ``prefix``, "" for the root) and every descendant."""
        yield prefix, self
        for cname, child in self.children():
            yield from child.named_modules(f"{prefix}.{cname}" if prefix else cname)

    @contextmanager
    def recording_outputs(self) -> Iterator[list[np.ndarray]]:
        """Within the block, keep a copy of what this module outputs in each forward pass (the
        engine's forward hook): ``with layer.recording_outputs() as outputs: model.predict(x)``.
        Containers call their children's ``forward`` directly, so the instance's ``forward`` is
        wrapped for the block and put back after it."""
        outputs: list[np.ndarray] = []
        original = self.forward

        def forward(x, *args, **kwargs):
            y = original(x, *args, **kwargs)
            outputs.append(np.array(y, copy=True))   # the layer reuses its output buffer
            return y

        self.forward = forward  # type: ignore[method-assign]
        try:
            yield outputs
        finally:
            del self.forward

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed by dotted name."""
        out = {k: p.data.copy() for k, p in self.named_parameters()}
        out.update({k: b.copy() for k, b in self.named_buffers()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray], source: str = "state dict") -> None:
        """Copy arrays into this module's parameters and buffers, checking names and shapes."""
        from nnlab.errors import WeightsMismatchError

        targets: dict[str, np.ndarray] = {k: p.data for k, p in self.named_parameters()}
        targets.update(dict(self.named_buffers()))
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        wrong = [
            f"{k}: expected {targets[k].shape}, found {np.shape(state[k])}"
            for k in targets
            if k in state and tuple(np.shape(state[k])) != targets[k].shape
        ]
        if missing or unexpected or wrong:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if unexpected:
                parts.append(f"unexpected {unexpected}")
            if wrong:
                parts.append("shape mismatch " + "; ".join(wrong))
            raise WeightsMismatchError(
                f"{source} does not match the architecture: " + ", ".join(parts)
            )
        for k, dst in targets.items():
            src = np.asarray(state[k])
            if not np.issubdtype(src.dtype, np.number):
                raise WeightsMismatchError(f"{source}: {k} is not numeric ({src.dtype})")
            dst[...] = src
        for p in self.parameters():
            p.zero_grad()

    def astype(self, dtype: DTypeLike) -> "Module":
        """A deep copy of this (built) module with parameters and buffers cast to ``dtype``."""
        import copy

        dtype = resolve_dtype(dtype)
        clone = copy.deepcopy(self)
        for m in clone.modules():
            m.dtype = dtype
            m._ws.clear()
            for p in m._params.values():
                p.data = p.data.astype(dtype)
                p._grad = np.zeros_like(p.data)
                p._grad_is_zero = True
            for k, b in m._buffers.items():
                if np.issubdtype(b.dtype, np.floating):
                    m._buffers[k] = b.astype(dtype)
        flatten = getattr(clone, "_flatten_parameters", None)
        if flatten is not None:
            flatten()
        return clone

    # -- modes ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    @contextmanager
    def workspace(self) -> Iterator[None]:
        """Reuse output buffers and allow in-place gradients inside this block (fast path)."""
        mods = list(self.modules())
        previous = [m._ws_enabled for m in mods]
        for m in mods:
            m._ws_enabled = True
        try:
            yield
        finally:
            for m, prev in zip(mods, previous):
                m._ws_enabled = prev
                if not prev:
                    m._ws.clear()

    def _buffer(self, key: str, shape: tuple[int, ...], dtype: np.dtype | None = None) -> np.ndarray:
        """An uninitialised array: reused across calls in workspace mode, fresh otherwise."""
        dtype = self.dtype if dtype is None else dtype
        if not self._ws_enabled:
            return np.empty(shape, dtype=dtype)
        buf = self._ws.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = np.empty(shape, dtype=dtype)
            self._ws[key] = buf
        return buf

    # -- inspection -----------------------------------------------------------------
    def label(self) -> str:
        """A short name for summaries, e.g. ``Linear(784 -> 500)`` (override to add detail)."""
        return type(self).__name__

    def describe(self) -> dict[str, str]:
        """Extra columns for ``summary()``: activation and initialisation."""
        return {"activation": "", "init": ""}

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        if not self.built:
            raise RuntimeError(f"{type(self).__name__} is not built; call build(input_shape, rng, dtype)")
        x = np.asarray(x)
        if x.shape[1:] != self.input_shape:
            raise ShapeError(
                f"{type(self).__name__} expects input of shape (N, {', '.join(map(str, self.input_shape))}),"
                f" got {x.shape}"
            )
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return x

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
