"""Reading training curves against reference results."""

from __future__ import annotations

from typing import Mapping, Sequence


def at_reference_losses(histories: Mapping[str, Mapping[str, Sequence[float]]],
                        references: Mapping[str, tuple[float, float]], loss: str = "val_loss",
                        score: str = "val_accuracy") -> list[dict]:
    """For each reference result ``(loss, score)``, the epoch of ``histories`` nearest to it in loss.

    ``histories`` maps a curve's name to its per-epoch columns (a History or a dict of lists).
    One row per reference: its name, loss and score, then the curve and epoch (1-based, over every
    curve and every epoch) whose ``loss`` is nearest to the reference's, that epoch's loss and
    score, and the score difference reference - curve. Two models measured the same way should
    score alike at an equal loss; a large difference there says a score was measured differently.
    """
    points = [(float(lo), float(sc), name, epoch + 1) for name, h in histories.items()
              for epoch, (lo, sc) in enumerate(zip(h[loss], h[score]))]
    rows = []
    for ref, (ref_loss, ref_score) in references.items() if points else ():
        lo, sc, name, epoch = min(points, key=lambda p: abs(p[0] - ref_loss))
        rows.append({"reference": ref, f"reference {loss}": ref_loss, f"reference {score}": ref_score,
                     "nearest": name, "epoch": epoch, loss: round(lo, 4), score: round(sc, 4),
                     "difference": round(ref_score - sc, 4)})
    return rows
