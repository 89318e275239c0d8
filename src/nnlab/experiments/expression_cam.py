"""Class activation maps of the ``expression`` networks: seed 003 Q5.4.

:func:`cam_figure` draws Grad-CAM of two right and two wrong test predictions per class;
:func:`cam_analysis` measures where the Grad-CAM mass of many right and wrong predictions lies
(the face centre against the border, the upper half of the face against the lower) and
:func:`cam_advice` turns those numbers into the improvement they point to. Not an experiment
itself (no ``exp_`` prefix): ``exp_expression`` calls these.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.metrics.cam import mass_share
from nnlab.reporting.vision import cam_grid

#: a difference in CAM share (absolute) that the advice treats as real, not noise
CAM_GAP = 0.02


def conv_relus(net) -> list[str]:
    """Names of the ReLU modules before the first Flatten: the convolutional trunk's."""
    from torch import nn

    names = []
    for name, module in net.named_modules():
        if isinstance(module, nn.Flatten):
            break
        if isinstance(module, nn.ReLU):
            names.append(name)
    return names


def cam_layer(cfg, net) -> str:
    """The name of the conv ReLU that Grad-CAM hooks: ``cam_relu``, clipped to the ones there are."""
    relus = conv_relus(net)
    return relus[max(-len(relus), min(cfg.cam_relu, len(relus) - 1))]


def cam_analysis(ctx, key: str, net, x: np.ndarray, y: np.ndarray, pred: np.ndarray, classes: list[str]) -> None:
    """Where the Grad-CAM mass of right and wrong test predictions lies, per class; the advice."""
    cfg = ctx.cfg
    rows = cam_regions(net, cam_layer(cfg, net), x, y, pred, classes, cfg.cam_analysis, cfg.cam_box, cfg.seed)
    even = float(region_masks(x.shape[-1], cfg.cam_box)["centre"].mean())
    ctx.table(f"{key}-cam-regions", rows,
              f"{key}: Grad-CAM of up to {cfg.cam_analysis} right and {cfg.cam_analysis} wrong test predictions per"
              f" true class: centre = mean share of the map's mass on the central {cfg.cam_box:.0%} of each side"
              f" (an even map: {even:.2f}); lower = mean share of that centre mass in its lower half (nose, mouth;"
              " an even map: 0.5)")
    overall = rows[-1]
    ctx.record(**{f"{key}_cam_{part}_{kind}": overall[f"{part}_{kind}"] for part in ("centre", "lower")
                  for kind in ("right", "wrong") if overall[f"{part}_{kind}"] is not None})
    ctx.note(cam_advice(rows, cfg.cam_box, even, key), title=f"{key}: what the class activation maps suggest")


def cam_figure(ctx, key: str, net, x: np.ndarray, y: np.ndarray, pred: np.ndarray, classes: list[str]) -> None:
    """Grad-CAM of ``cam_per_kind`` right and wrong test predictions per class (rows = classes)."""
    from nnlab.torchlib.cam import grad_cam_maps

    cfg = ctx.cfg
    layer = cam_layer(cfg, net)
    rng = np.random.default_rng(cfg.seed)
    k = cfg.cam_per_kind
    picks = []                                                                      # (class, index or -1)
    for c in range(len(classes)):
        for hit in (True, False):
            pool = np.flatnonzero((y == c) & ((pred == c) == hit))
            chosen = list(rng.choice(pool, min(k, len(pool)), replace=False)) if len(pool) else []
            picks.extend((c, hit, int(i)) for i in chosen + [-1] * (k - len(chosen)))
    index = np.array([i for _, _, i in picks if i >= 0], dtype=np.int64)
    maps, _ = grad_cam_maps(net, layer, x[index], size=x.shape[-2:])                # (M, 48, 48), predicted class
    cam_of = dict(zip(index.tolist(), maps))
    cells: list[list] = [[] for _ in classes]
    for c, hit, i in picks:
        cells[c].append(None if i < 0 else (x[i, 0], cam_of[i], f"{'right' if hit else 'wrong'}: {classes[pred[i]]}"))
    cols = [f"right {j + 1}" for j in range(k)] + [f"wrong {j + 1}" for j in range(k)]
    ctx.figure(f"{key}-cam", cam_grid(cells, classes, cols, f"{key}: Grad-CAM at {layer!r} for the predicted class"),
               f"{key}: Grad-CAM (Selvaraju et al. 2017) of the predicted class at ReLU {layer!r}, for {k} right and"
               f" {k} wrong test predictions per true class (rows); captions give the prediction; an empty panel"
               " means the class has too few such predictions")


def region_masks(size: int, box: float) -> dict[str, np.ndarray]:
    """Boolean (size, size) masks: ``centre`` (the central ``box`` of each side, where the
    face's features are in a face crop), its ``upper`` half (eyes, brows) and ``lower`` half
    (nose, mouth)."""
    lo = int(round(size * (1 - box) / 2))
    hi, mid = size - lo, size // 2
    centre = np.zeros((size, size), bool)
    centre[lo:hi, lo:hi] = True
    rows = np.arange(size)[:, None]
    return {"centre": centre, "upper": centre & (rows < mid), "lower": centre & (rows >= mid)}


def cam_picks(y: np.ndarray, pred: np.ndarray, num_classes: int, per_kind: int, seed: int) -> list[tuple[int, bool, np.ndarray]]:
    """Up to ``per_kind`` seeded test indices per (true class, right or wrong)."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in range(num_classes):
        for right in (True, False):
            pool = np.flatnonzero((y == c) & ((pred == c) == right))
            picks.append((c, right, np.sort(rng.choice(pool, min(per_kind, len(pool)), replace=False))))
    return picks


def cam_regions(net, layer: str, x: np.ndarray, y: np.ndarray, pred: np.ndarray, classes: list[str],
                per_kind: int, box: float, seed: int, chunk: int = 256) -> list[dict[str, Any]]:
    """Where the Grad-CAM of the predicted class puts its mass, for right and wrong test
    predictions of every class: one row per class and an ``all`` row.

    ``centre`` is the share of the map's mass inside the central box (chance: ``box**2``);
    ``lower`` the share of the centre's mass in its lower half (nose, mouth; chance 0.5).
    """
    from nnlab.torchlib.cam import grad_cam_maps

    masks = region_masks(x.shape[-1], box)
    stats: dict[tuple[int, bool], dict[str, np.ndarray]] = {}
    for c, right, index in cam_picks(y, pred, len(classes), per_kind, seed):
        maps = [grad_cam_maps(net, layer, x[index[i:i + chunk]])[0] for i in range(0, len(index), chunk)]
        maps = np.concatenate(maps) if maps else np.zeros((0, *x.shape[-2:]))       # (n, H, W)
        centre = mass_share(maps, masks["centre"]) if len(maps) else np.zeros(0)
        lower = mass_share(maps, masks["lower"]) if len(maps) else np.zeros(0)
        stats[c, right] = {"centre": centre, "lower": lower / np.where(centre > 0, centre, np.nan)}
    rows = [_cam_row(name, stats[c, True], stats[c, False]) for c, name in enumerate(classes)]
    merged = [{k: np.concatenate([stats[c, right][k] for c in range(len(classes))]) for k in ("centre", "lower")}
              for right in (True, False)]
    rows.append(_cam_row("all", *merged))
    return rows


def _mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return round(float(values.mean()), 4) if len(values) else None


def _cam_row(name: str, right: dict[str, np.ndarray], wrong: dict[str, np.ndarray]) -> dict[str, Any]:
    return {"class": name, "right_n": len(right["centre"]), "wrong_n": len(wrong["centre"]),
            "centre_right": _mean(right["centre"]), "centre_wrong": _mean(wrong["centre"]),
            "lower_right": _mean(right["lower"]), "lower_wrong": _mean(wrong["lower"])}


def cam_advice(rows: list[dict[str, Any]], box: float, even: float, model: str) -> str:
    """The improvement the CAM numbers of :func:`cam_regions` point to, in words (the seed's
    Q5.4). ``even`` is the centre's share of an even map (the centre's area fraction)."""
    overall = rows[-1]
    if overall["centre_wrong"] is None or overall["centre_right"] is None:
        return f"{model}: too few right or wrong test predictions to compare their class activation maps."
    d_centre = overall["centre_right"] - overall["centre_wrong"]
    d_lower = (overall["lower_wrong"] or 0.0) - (overall["lower_right"] or 0.0)
    gaps = [(r["centre_right"] - r["centre_wrong"], r["class"]) for r in rows[:-1]
            if r["centre_right"] is not None and r["centre_wrong"] is not None]
    worst = max(gaps) if gaps else (0.0, "")
    head = (f"{model}: Grad-CAM puts {overall['centre_right']:.1%} of its mass on the central {box:.0%} x {box:.0%}"
            f" of the face for right predictions and {overall['centre_wrong']:.1%} for wrong ones (an even map:"
            f" {even:.0%}); of the centre's mass, the lower half (nose, mouth) gets {overall['lower_right']:.1%}"
            f" when right and {overall['lower_wrong']:.1%} when wrong. ")
    if d_centre >= CAM_GAP:
        return head + (
            f"Wrong predictions look more at the border: hair, background, the image's edge ({d_centre:.1%} less"
            f" on the face; most for {worst[1]}, {worst[0]:.1%}). Improvement: show the network less of the border:"
            " crop tighter around the face (`--set face_crop=0.8` keeps the central 80% of each side, for training"
            " and test alike), or hide random patches while training (`erase`).")
    if d_centre <= -CAM_GAP:
        return head + (
            f"Wrong predictions look more at the centre of the face than right ones ({-d_centre:.1%} more), so the"
            " right ones also draw on the face's outline and pose: cropping tighter would throw that away. A"
            " network that stares at the eyes and mouth and still errs lacks detail there: a larger input"
            " (`input_size`, 64 -> 128 px) gives those features more pixels, and more faces of the confused classes"
            " more examples of them.")
    if abs(d_lower) >= CAM_GAP:
        part = "the mouth" if d_lower > 0 else "the eyes and brows"
        return head + (
            f"Wrong predictions lean more on {part} ({abs(d_lower):.1%} more of the centre's mass) and under-use the"
            " rest of the face. Improvement: random erasing (`--set erase=0.5`) hides a patch of every training face"
            " now and then, so no single part can decide and the network learns to combine eyes and mouth.")
    return head + (
        "Right and wrong predictions look at the same places, so the errors come from what the network sees there"
        " (expressions that look alike: see the confusion matrix), not from where it looks. The maps suggest no"
        " input-side fix; more faces of the confused classes or a wider input (`input_size`) are the next steps.")
