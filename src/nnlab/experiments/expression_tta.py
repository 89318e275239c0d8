"""Test-time views of ``expression``: every face, its shifts and mirror images, and the averaged
class probabilities. Not an experiment itself (no ``exp_`` prefix).
"""

from __future__ import annotations

import numpy as np


def tta_views(x: np.ndarray, flip: bool, shift: int) -> list[np.ndarray]:
    """The test-time views of a batch: the faces, shifted by ``shift`` pixels up, down, left and
    right (reflected borders) when ``shift`` > 0, and the mirror image of each when ``flip``.

    Shapes: x (N, C, H, W) -> a list of 1, 2, 5 or 10 arrays (N, C, H, W), the faces first.
    """
    offsets = [(0, 0)] + ([(shift, 0), (-shift, 0), (0, shift), (0, -shift)] if shift > 0 else [])
    s = max(shift, 0)
    padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)), mode="reflect")
    h, w = x.shape[-2:]
    views = []
    for dy, dx in offsets:
        v = np.ascontiguousarray(padded[..., s + dy:s + dy + h, s + dx:s + dx + w])
        views += [v, np.ascontiguousarray(v[..., ::-1])] if flip else [v]
    return views


def predict_proba(trainer, x: np.ndarray, flip: bool, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities averaged over :func:`tta_views`, and those of the faces alone.

    Shapes: x (N, 1, H, W) -> ((N, K), (N, K)).
    """
    from scipy.special import softmax

    probs = [softmax(trainer.predict(v), axis=1) for v in tta_views(x, flip, shift)]
    return np.mean(probs, axis=0), probs[0]
