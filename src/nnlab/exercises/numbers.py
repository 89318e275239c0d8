"""What the convolution exercises share: the seed's 4x4 image, engine models built on the readable
loop kernels, and the comparisons their checks make."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.engine import Sequential

KERNELS = "reference"  # the readable loop kernels: what the exercises show

SEED_IMAGE = np.array([[2, 1, 3, 3], [1, 6, 2, 5], [1, 4, 5, 2], [6, 6, 5, 3]], dtype=np.float64)


def engine_model(layers: list, input_shape: tuple[int, ...]) -> Sequential:
    """A float64 engine model of ``layers`` (seeded: the exercises' numbers never change)."""
    return Sequential(layers, input_shape=input_shape, dtype="float64", seed=0)


def max_abs(a: Any, b: Any) -> float:
    """The largest absolute difference of two arrays (0 for empty ones)."""
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)), initial=0.0))


def close(a: Any, b: Any, tol: float = 1e-12) -> bool:
    """Same shape and equal to ``tol`` relative to the larger of 1 and ``b``'s largest magnitude."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and max_abs(a, b) <= tol * max(1.0, float(np.max(np.abs(b), initial=0.0)))


def paren(v: float, fmt: str = "g") -> str:
    """A number for a written-out sum: negative ones in parentheses."""
    s = format(float(v) + 0.0, fmt)
    return f"({s})" if s.startswith("-") else s


def shifted(a: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """``a`` moved dr rows down and dc columns right (negative: up/left), zeros shifted in."""
    out = np.zeros_like(a)
    H, W = a.shape[-2:]
    src_r = slice(max(0, -dr), H - max(0, dr))
    dst_r = slice(max(0, dr), H - max(0, -dr))
    src_c = slice(max(0, -dc), W - max(0, dc))
    dst_c = slice(max(0, dc), W - max(0, -dc))
    out[..., dst_r, dst_c] = a[..., src_r, src_c]
    return out
