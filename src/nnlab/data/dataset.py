"""``ImageSet``: what every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np


@dataclass
class ImageSet:
    """Images (N, C, H, W), uint8 or float32, with labels and class names.

    ``labels`` are class indices into ``class_names`` (``None`` for unlabelled sets).
    ``targets`` holds further per-sample labels (UTKFace: ``age``, ``gender``, ``race``).
    ``files`` names the source of each sample (file name or archive member), and ``skipped``
    lists the ``(file, reason)`` pairs a reader passed over, so nothing is dropped silently.
    """

    images: np.ndarray
    labels: np.ndarray | None
    class_names: list[str]
    name: str = ""
    split: str = ""
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    files: list[str] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {self.images.shape}")
        n = len(self.images)
        if self.labels is not None and len(self.labels) != n:
            raise ValueError(f"{len(self.labels)} labels for {n} images")
        for key, value in self.targets.items():
            if len(value) != n:
                raise ValueError(f"target {key!r} has {len(value)} values for {n} images")
        if self.files is not None and len(self.files) != n:
            raise ValueError(f"{len(self.files)} file names for {n} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Per-sample shape (C, H, W)."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, index: np.ndarray | Sequence[int] | slice) -> "ImageSet":
        """The samples at ``index`` (indices, a boolean mask or a slice), with everything aligned."""
        idx = np.arange(len(self))[index] if not isinstance(index, np.ndarray) or index.dtype != bool else np.flatnonzero(index)
        return replace(
            self,
            images=self.images[idx],
            labels=None if self.labels is None else self.labels[idx],
            targets={k: v[idx] for k, v in self.targets.items()},
            files=None if self.files is None else [self.files[i] for i in idx],
        )

    def select_classes(self, names: Sequence[str], relabel: bool = False) -> "ImageSet":
        """Only the samples of the named classes (e.g. ``["horse"]``); optionally renumber them."""
        if self.labels is None:
            raise ValueError(f"{self.name or 'this set'} has no labels to select classes by")
        unknown = [n for n in names if n not in self.class_names]
        if unknown:
            raise ValueError(f"unknown class(es) {unknown}; known: {', '.join(self.class_names)}")
        wanted = [self.class_names.index(n) for n in names]
        out = self.subset(np.isin(self.labels, wanted))
        if relabel:
            remap = np.full(len(self.class_names), -1, np.int64)
            remap[wanted] = np.arange(len(wanted))
            out = replace(out, labels=remap[out.labels], class_names=list(names))
        return out

    def class_counts(self) -> dict[str, int]:
        """Samples per class name, in class order (zero counts included)."""
        if self.labels is None:
            return {}
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def __repr__(self) -> str:
        what = f"{self.name}/{self.split}" if self.split else self.name
        skipped = f", skipped={len(self.skipped)}" if self.skipped else ""
        return (f"ImageSet({what}: {len(self)} x {self.shape} {self.images.dtype}, "
                f"{len(self.class_names)} classes{skipped})")
