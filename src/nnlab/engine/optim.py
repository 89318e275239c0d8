"""Optimizers. Each sees only (parameter, gradient) pairs and follows ``torch.optim`` exactly.

======================  =========================================================================
``SGD``                 p -= lr * g  (g includes ``weight_decay * p``, the L2 penalty's gradient)
``SGD(momentum=mu)``    b = mu * b + (1 - dampening) * g;  p -= lr * b   (b = g on the first step)
``SGD(nesterov=True)``  p -= lr * (g + mu * b)
``Adam``                Kingma & Ba, with bias correction; ``weight_decay`` is L2 (added to g)
``AdamW``               Adam with decoupled weight decay: p *= 1 - lr * weight_decay, then Adam
======================  =========================================================================

Fast path: when the parameters are consecutive views of one flat buffer (as ``Sequential``
arranges), the update runs over that buffer in chunks of up to ``CHUNK`` elements: a few NumPy
calls per chunk instead of a few per parameter. Adam keeps its moments rescaled (m / (1 - beta1) and
v / (1 - beta2)) so that each moment update is two in-place passes; the bias corrections and
the rescaling are folded into two scalars per step. ``state_dict`` reports the moments in
PyTorch's scaling (``exp_avg``, ``exp_avg_sq``).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from nnlab.engine import threads
from nnlab.engine.module import Parameter
from nnlab.errors import ConfigError, WeightsMismatchError

#: elements per chunk of the updates. Measured here on the 1M-parameter autoencoder, chunks of
#: 16K-64K elements were slower than whole arrays (the state fits in L3 and every NumPy call
#: costs ~1 us); chunks of 256K cost the same as whole arrays and bound the scratch memory.
CHUNK = 1 << 18


def _flat_span(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """A 1-D view covering ``arrays`` if they lie back to back in one buffer, else ``None``."""
    if not arrays:
        return None
    base = arrays[0].base
    dtype = arrays[0].dtype
    if base is None or base.ndim != 1 or not base.flags.c_contiguous or base.dtype != dtype:
        return None
    base_ptr = base.__array_interface__["data"][0]
    start_ptr = arrays[0].__array_interface__["data"][0]
    ptr = start_ptr
    for a in arrays:
        if a.base is not base or a.dtype != dtype or not a.flags.c_contiguous:
            return None
        if a.__array_interface__["data"][0] != ptr:
            return None
        ptr += a.nbytes
    start = (start_ptr - base_ptr) // dtype.itemsize
    stop = (ptr - base_ptr) // dtype.itemsize
    return base[start:stop]


class Optimizer:
    """Base class: holds the parameters, the learning rate and per-parameter state arrays."""

    #: names of per-parameter state arrays, in PyTorch's naming
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params: list[Parameter] = list(params)
        if not self.params:
            raise ConfigError(f"{type(self).__name__} got an empty parameter list")
        if not all(isinstance(p, Parameter) for p in self.params):
            raise ConfigError("optimizers take nnlab Parameters (model.parameters())")
        if len({p.data.dtype for p in self.params}) != 1:
            raise ConfigError("all parameters of one optimizer must share a dtype")
        self.lr = lr
        self.step_count = 0
        self.relink()
        # State lives per segment (one flat array on the fast path), created on first use.
        self._state: dict[str, list[np.ndarray]] = {}
        # per thread's first job: (update temp, decayed grad), each of _scratch_n elements
        self._scratch: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._scratch_n = 0

    def relink(self) -> None:
        """Find the parameters' storage again: one flat segment when they lie back to back in one
        buffer (a built Sequential's), else one per parameter. Called after the parameters moved
        (a deep copy of the model gives them new buffers); the state arrays carry over."""
        data = _flat_span([p.data for p in self.params])
        grad = _flat_span([p._grad for p in self.params])
        if data is not None and grad is not None:
            segments = [(data, grad)]
        else:
            segments = [(p.data.reshape(-1), p._grad.reshape(-1)) for p in self.params]
        for name, arrays in getattr(self, "_state", {}).items():
            if [a.shape for a in arrays] != [d.shape for d, _ in segments]:
                raise RuntimeError(f"{type(self).__name__}: the {name} state does not fit the parameters' new storage")
        self._segments = segments

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"learning rate must be a finite number >= 0, got {value}")
        self._lr = value

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Apply one update to every parameter from its accumulated gradient."""
        for p in self.params:
            p.grad  # noqa: B018 - materialise zeros for parameters that received no gradient
        self.step_count += 1
        n = min(CHUNK, max(d.size for d, _ in self._segments))
        if self._scratch_n != n:
            self._scratch, self._scratch_n = {}, n
        jobs = [(i, lo, min(lo + CHUNK, data.size))
                for i, (data, _) in enumerate(self._segments) for lo in range(0, data.size, CHUNK)]

        def run(a: int, b: int) -> None:      # jobs a..b on one thread, with scratch of its own
            if a not in self._scratch:
                dtype = self.params[0].data.dtype
                self._scratch[a] = (np.empty(n, dtype), np.empty(n, dtype))
            tmp, tmp_wd = self._scratch[a]
            for i, lo, hi in jobs[a:b]:
                data, grad = self._segments[i]
                chunk_state = {k: v[i][lo:hi] for k, v in self._state.items()}
                self._update(data[lo:hi], grad[lo:hi], chunk_state, tmp[: hi - lo], tmp_wd[: hi - lo])

        # element-wise updates of disjoint chunks: the same numbers on any number of threads
        threads.split(run, len(jobs), sum(d.size for d, _ in self._segments))

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], tmp: np.ndarray, tmp_wd: np.ndarray) -> None:
        """Update ``p`` in place from ``g``; ``tmp`` and ``tmp_wd`` are scratch of ``p``'s size."""
        raise NotImplementedError  # pragma: no cover

    def _ensure_state(self, *names: str) -> None:
        for name in names:
            if name not in self._state:
                self._state[name] = [np.zeros_like(d) for d, _ in self._segments]

    # -- (de)serialisation ----------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def _export(self, name: str, flat: np.ndarray) -> np.ndarray:
        """Convert internal state to PyTorch's scaling (override when they differ)."""
        return flat

    def _import(self, name: str, flat: np.ndarray) -> np.ndarray:
        return flat

    def _per_param(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if len(self._segments) == len(self.params):
            return [a.reshape(p.shape) for a, p in zip(arrays, self.params)]
        out, offset = [], 0
        for p in self.params:
            out.append(arrays[0][offset : offset + p.size].reshape(p.shape))
            offset += p.size
        return out

    def state_dict(self, exact: bool = False) -> dict[str, Any]:
        """Hyper-parameters, step count, and per-parameter state arrays (copies).

        The arrays are in PyTorch's scaling. ``exact=True`` gives the internal representation
        instead, which reloads bit for bit (checkpoints use it to resume exactly).
        """
        def convert(name: str, seg: np.ndarray) -> np.ndarray:
            return seg if exact else self._export(name, seg)

        state = {
            name: [a.copy() for a in self._per_param([convert(name, s) for s in segs])]
            for name, segs in self._state.items()
        }
        return {"type": type(self).__name__, "hyper": self.hyperparameters(), "step": self.step_count,
                "state": state, "scaling": "internal" if exact else "torch"}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        if sd.get("type") != type(self).__name__:
            raise WeightsMismatchError(f"optimizer state is for {sd.get('type')!r}, not {type(self).__name__}")
        for k, v in sd.get("hyper", {}).items():
            setattr(self, k, tuple(v) if isinstance(v, list) else v)
        for name, arrays in sd.get("state", {}).items():
            if name not in self.state_names:
                raise WeightsMismatchError(f"{type(self).__name__} has no state {name!r}")
            if len(arrays) != len(self.params):
                raise WeightsMismatchError(f"optimizer state {name!r} has {len(arrays)} arrays for {len(self.params)} parameters")
            for a, p in zip(arrays, self.params):
                if tuple(np.shape(a)) != p.shape:
                    raise WeightsMismatchError(f"optimizer state {name!r}: shape {np.shape(a)} for parameter {p.shape}")
            self._ensure_state(name)
            for dst, src in zip(self._per_param(self._state[name]), arrays):
                dst[...] = src
            if sd.get("scaling", "torch") == "torch":
                for seg in self._state[name]:
                    seg[...] = self._import(name, seg)
        self.step_count = int(sd.get("step", 0))

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({hp})"


class SGD(Optimizer):
    state_names = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if not 0 <= momentum < 1 + 1e-12 or weight_decay < 0:
            raise ConfigError(f"SGD needs 0 <= momentum <= 1 and weight_decay >= 0, got {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ConfigError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "weight_decay": self.weight_decay, "nesterov": self.nesterov}

    def step(self) -> None:
        if self.momentum:
            self._ensure_state("momentum_buffer")
        super().step()

    def _update(self, p, g, state, tmp, tmp_wd):
        if self.weight_decay:
            g_wd = tmp_wd
            np.multiply(p, self.weight_decay, out=g_wd)
            g_wd += g
            g = g_wd
        if self.momentum:
            buf = state["momentum_buffer"]
            if self.step_count == 1:
                np.copyto(buf, g)
            else:
                buf *= self.momentum
                if self.dampening:
                    buf += (1 - self.dampening) * g
                else:
                    buf += g
            if self.nesterov:
                np.multiply(buf, self.momentum, out=tmp)
                tmp += g
                g = tmp
            else:
                g = buf
        np.multiply(g, self.lr, out=tmp)
        p -= tmp


class Momentum(SGD):
    """SGD with (heavy-ball) momentum, the seed's "momentum" optimizer: :class:`SGD` whose
    ``momentum`` defaults to 0.9 instead of 0."""

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-2, momentum: float = 0.9, **kwargs: Any) -> None:
        super().__init__(params, lr=lr, momentum=momentum, **kwargs)


class Adam(Optimizer):
    state_names = ("exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        b1, b2 = (float(b) for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1) or eps < 0 or weight_decay < 0:
            raise ConfigError(f"{type(self).__name__} needs 0 <= betas < 1, eps >= 0, weight_decay >= 0")
        self.betas, self.eps, self.weight_decay = (b1, b2), float(eps), float(weight_decay)

    def hyperparameters(self):
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay}

    # Internal moments: M = m / (1 - b1), U = v / (1 - b2), so M' = b1 M + g and U' = b2 U + g^2.
    def _export(self, name, flat):
        return flat * (1 - self.betas[0]) if name == "exp_avg" else flat * (1 - self.betas[1])

    def _import(self, name, flat):
        scale = (1 - self.betas[0]) if name == "exp_avg" else (1 - self.betas[1])
        return flat / scale if scale else flat

    def step(self) -> None:
        self._ensure_state("exp_avg", "exp_avg_sq")
        b1, b2 = self.betas
        t = self.step_count + 1
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        # denom = sqrt(v / bc2) + eps = c * (sqrt(U) + eps / c) with c = sqrt((1 - b2) / bc2)
        c = math.sqrt((1 - b2) / bc2)
        self._eps_scaled = self.eps / c
        self._step_scale = self.lr * (1 - b1) / (bc1 * c)
        super().step()

    def _update(self, p, g, state, tmp, tmp_wd):
        b1, b2 = self.betas
        M, U = state["exp_avg"], state["exp_avg_sq"]
        if self.decoupled:
            if self.weight_decay:
                p *= 1 - self.lr * self.weight_decay
        elif self.weight_decay:
            g_wd = tmp_wd
            np.multiply(p, self.weight_decay, out=g_wd)
            g_wd += g
            g = g_wd
        M *= b1
        M += g
        np.multiply(g, g, out=tmp)
        U *= b2
        U += tmp
        np.sqrt(U, out=tmp)
        tmp += self._eps_scaled
        np.divide(M, tmp, out=tmp)
        tmp *= self._step_scale
        p -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam, "adamw": AdamW}


def make_optimizer(spec: str | Mapping[str, Any] | Optimizer, params: Iterable[Parameter]) -> Optimizer:
    """Build from a name or ``{"name": "sgd", "lr": 0.01, "momentum": 0.9, ...}``."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    kwargs = dict(spec)
    name = str(kwargs.pop("name", "")).lower()
    if name == "nesterov":
        name, kwargs = "sgd", {"momentum": 0.9, **kwargs, "nesterov": True}
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; known: {', '.join(sorted(OPTIMIZERS))}, nesterov")
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    try:
        return OPTIMIZERS[name](params, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"optimizer {name!r}: {exc}") from None
