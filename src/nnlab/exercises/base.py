"""What every worked exercise returns, and the helpers that write its text and draw its figure.

An exercise is a function returning an :class:`ExerciseResult`: a plain-text report with every
number (what ``nnlab exercise NAME`` prints), the numbers themselves in ``values``, the claims
it demonstrates in ``checks`` (each one computed, never asserted by hand) and a ``figure()``.
Matplotlib is imported only when a figure is drawn, through its object API (no pyplot, no
screen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass
class ExerciseResult:
    """The outcome of one worked exercise.

    ``name``: the CLI name; ``title``: one line; ``text``: the report; ``values``: the numbers
    (NumPy arrays and scalars); ``checks``: claim -> whether it holds; ``figure_path``: where
    :func:`nnlab.exercises.run` saved the figure, if it did.
    """

    name: str
    title: str
    text: str
    values: dict[str, Any]
    checks: dict[str, bool]
    figure_path: Path | None = None
    draw: Callable[[ExerciseResult], Figure] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when every check holds."""
        return all(self.checks.values())

    def figure(self) -> Figure:
        """A new matplotlib Figure showing the exercise."""
        if self.draw is None:
            raise RuntimeError(f"exercise {self.name!r} has no figure")
        return self.draw(self)

    def __str__(self) -> str:
        return self.text


# -- text ---------------------------------------------------------------------------------------
def _is_integral(a: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(a)) and np.all(a == np.round(a)))


def format_numbers(a: Any, decimals: int = 4) -> list[str]:
    """The entries of ``a`` as strings: integers without decimals when every entry is one."""
    arr = np.asarray(a, dtype=np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0
    if _is_integral(arr):
        return [str(int(v)) for v in arr.reshape(-1)]
    out = []
    for v in arr.reshape(-1):
        s = f"{v:.{decimals}f}"
        if float(s) == 0.0:
            s = s.lstrip("-")
        out.append(s)
    return out


def matrix_lines(a: Any, decimals: int = 4) -> list[str]:
    """A vector or matrix as aligned text lines, one row per line, in brackets."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return format_numbers(arr, decimals)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"matrix_lines takes a vector or a matrix, got shape {arr.shape}")
    cells = np.array(format_numbers(arr, decimals), dtype=object).reshape(arr.shape)
    width = max(len(c) for c in cells.reshape(-1))
    return ["[ " + "  ".join(c.rjust(width) for c in row) + " ]" for row in cells]


def side_by_side(blocks: Sequence[tuple[str, Any]], decimals: int = 4, gap: int = 4, indent: int = 2) -> str:
    """Matrices next to each other, each under its label, top-aligned."""
    rendered = []
    for label, a in blocks:
        lines = matrix_lines(a, decimals)
        width = max(len(label), *(len(s) for s in lines))
        rendered.append((width, [label.ljust(width)] + [s.ljust(width) for s in lines]))
    height = max(len(r[1]) for r in rendered)
    rows = []
    for k in range(height):
        parts = [(r[1][k] if k < len(r[1]) else " " * r[0]) for r in rendered]
        rows.append(" " * indent + (" " * gap).join(parts).rstrip())
    return "\n".join(rows)


def matrix_block(label: str, a: Any, decimals: int = 4, indent: int = 2) -> str:
    """A label and a matrix under it."""
    return side_by_side([(label, a)], decimals=decimals, indent=indent)


def heading(title: str, char: str = "=") -> str:
    return f"{title}\n{char * len(title)}"


def checks_section(checks: dict[str, bool]) -> str:
    lines = [heading("Checks", "-")]
    lines += [f"  [{'yes' if ok else 'NO '}] {claim}" for claim, ok in checks.items()]
    return "\n".join(lines)


def sci(v: float) -> str:
    """A small error in scientific notation (0 written as 0)."""
    return "0" if v == 0 else f"{v:.2e}"


# -- figures ------------------------------------------------------------------------------------
def new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure  # the object API: no backend, no screen, no global state

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def show_matrix(ax: Axes, a: Any, title: str = "", decimals: int = 2, cmap: str = "viridis",
                annotate: bool | None = None, vmin: float | None = None, vmax: float | None = None,
                fontsize: float | None = None) -> None:
    """``imshow`` of a matrix with its numbers written in the cells (when it is small)."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    finite = arr[np.isfinite(arr)]
    lo = float(finite.min()) if vmin is None and finite.size else vmin
    hi = float(finite.max()) if vmax is None and finite.size else vmax
    if lo is not None and hi is not None and lo == hi:
        lo, hi = lo - 1, hi + 1
    im = ax.imshow(arr, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    if annotate is None:
        annotate = arr.size <= 100
    if annotate:
        cells = format_numbers(arr, decimals)
        size = fontsize or (9 if max(arr.shape) <= 4 else 7 if max(arr.shape) <= 7 else 5.5)
        for idx, text in zip(np.ndindex(arr.shape), cells):
            value = arr[idx]
            rgba = im.cmap(im.norm(value))
            luminance = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
            ax.text(idx[1], idx[0], text, ha="center", va="center", fontsize=size,
                    color="black" if luminance > 0.5 else "white")
