"""The faces of ``expression`` (seed 003, question 5): FER2013 (or AffectNet) read, cropped, split,
balanced and augmented, and the UTKFace faces the transferred network is pretrained on. Not an
experiment itself (no ``exp_`` prefix).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.data import synthetic
from nnlab.data.augment import RandomErasing, augment_offline
from nnlab.data.preprocess import resize, scale01, to_grayscale
from nnlab.data.splits import split_indices
from nnlab.errors import ConfigError
from nnlab.experiments.expression_notes import (
    augmentation_note,
)
from nnlab.reporting.figures import sample_grid
from nnlab.reporting.vision import count_bars

AGE_BANDS = (25, 40)  # UTKFace pretraining age bands: under 25 (35% of faces), 25-39, 40 and over


NATIVE_SIZE = 48  # FER2013's side; every image is brought to it, the network upsamples to input_size


def load_expressions(ctx):
    """(train, test) ImageSets of greyscale 48x48 uint8 faces with one class-name list."""
    cfg = ctx.cfg
    if ctx.smoke:
        train = synthetic.faces(cfg.synthetic_size, 7, cfg.seed, "synthetic-train")
        test = synthetic.faces(cfg.synthetic_size // 2, 7, cfg.seed + 1, "synthetic-test")
    elif cfg.dataset == "fer2013":
        train, test = ctx.data("fer2013", "train"), ctx.data("fer2013", "test")
    else:
        train, test = ctx.data("affectnet", "train"), ctx.data("affectnet", "validation")
    sets = []
    for s in (train, test):
        images = s.images if s.images.shape[1] == 1 else to_grayscale(s.images)
        if images.shape[-2:] != (NATIVE_SIZE, NATIVE_SIZE):
            images = resize(images, (NATIVE_SIZE, NATIVE_SIZE))
        sets.append(_replace_images(s, crop_faces(images, cfg.face_crop)))
    if list(sets[0].class_names) != list(sets[1].class_names):
        raise ConfigError(f"train and test classes differ: {sets[0].class_names} vs {sets[1].class_names}")
    return sets[0], sets[1]


def crop_faces(images: np.ndarray, keep: float) -> np.ndarray:
    """The central ``keep`` of each side of every face, resized back to the full side (bilinear);
    ``keep`` 1 returns the images unchanged.

    Shapes: (N, C, S, S) -> (N, C, S, S), same dtype.
    """
    if keep >= 1:
        return images

    side = images.shape[-1]
    margin = int(round(side * (1 - keep) / 2))
    return resize(images[..., margin:side - margin, margin:side - margin], (side, side))


def _replace_images(imageset, images: np.ndarray, index: np.ndarray | None = None):
    from dataclasses import replace

    if index is None:
        return replace(imageset, images=images)
    return replace(imageset, images=images, labels=imageset.labels[index],
                   targets={k: v[index] for k, v in imageset.targets.items()},
                   files=None if imageset.files is None else [imageset.files[i] for i in index])


def stratified_subset(imageset, limit: int, seed: int):
    """A stratified, seeded ``limit`` of the images (all of them when limit is 0 or too big)."""
    if not limit or limit >= len(imageset):
        return imageset
    keep, _ = split_indices(imageset.labels, (limit / len(imageset), 1 - limit / len(imageset)), seed=seed)
    return _replace_images(imageset, imageset.images[keep], keep)


def prepare(ctx, train, test) -> dict[str, Any]:
    """Hold out the validation part, top up small classes offline, draw the data figures.

    Returns float32 arrays in [0, 1]: ``x_fit``/``y_fit`` (after the top-up), ``x_val``,
    ``y_val``, ``x_test``, ``y_test``, and ``classes``.
    """
    from dataclasses import replace

    cfg = ctx.cfg
    fit_idx, val_idx = split_indices(train.labels, (1 - cfg.val_fraction, cfg.val_fraction), seed=cfg.seed)
    fit, val = _replace_images(train, train.images[fit_idx], fit_idx), _replace_images(train, train.images[val_idx], val_idx)
    from nnlab.torchlib.augment import RandomAffine

    transform = RandomAffine(cfg.degrees, cfg.zoom, cfg.shift)
    online = online_transform(cfg, transform)
    ctx.figure("samples", sample_grid(train, per_class=cfg.shown_per_class, seed=cfg.seed),
               f"{cfg.shown_per_class} training faces per class, greyscale {NATIVE_SIZE}x{NATIVE_SIZE}")
    shown = _per_class(fit.labels, cfg.shown_per_class, cfg.seed)
    view = online if cfg.augment else transform
    augmented = view(fit.images[shown], np.random.default_rng(cfg.seed))           # (k, 1, 48, 48) uint8
    shown_set = replace(_replace_images(fit, augmented, shown), name=f"{train.name or 'faces'} augmented")
    used = ("online, a fresh view in every epoch" if cfg.augment else "offline copies" if
            cfg.balance_to > 0 or cfg.augment_copies > 0 else "not used in this run")
    ctx.figure("augmented", sample_grid(shown_set, per_class=cfg.shown_per_class, seed=cfg.seed),
               f"augmented training faces, {cfg.shown_per_class} per class ({used}): {describe_augmentation(cfg, cfg.augment)}")
    fit, report = offline_augmentation(cfg, fit, transform)
    rows = [{"class": k, "before": report["before"][k], "added": report["added"][k], "after": report["after"][k]}
            for k in report["before"]]
    rows.append({"class": "total", **{c: sum(r[c] for r in rows) for c in ("before", "added", "after")}})
    ctx.table("class-counts", rows, f"training images per class before and after offline augmentation (top-up to"
              f" {cfg.balance_to}, then {cfg.augment_copies} augmented copies of every image; the {len(val_idx)}"
              " validation images are held out first)")
    ctx.figure("class-counts", count_bars({"before": report["before"], "after": report["after"]},
                                          "training images per class, before and after augmentation"),
               "training images per class before and after offline augmentation"
               + ("; online augmentation then shows a fresh random view of every image in every epoch" if cfg.augment
                  else ""))
    ctx.note(augmentation_note(cfg, report["before"], report["after"], cfg.epochs), title="Augmentation")
    ctx.record(n_train=len(fit_idx), n_train_augmented=len(fit), n_val=len(val_idx), n_test=len(test))
    return {"x_fit": scale01(fit.images), "y_fit": fit.labels.astype(np.int64),
            "x_val": scale01(val.images), "y_val": val.labels.astype(np.int64),
            "x_test": scale01(test.images), "y_test": test.labels.astype(np.int64),
            "classes": list(train.class_names), "transform": transform, "online": online}


def offline_augmentation(cfg, fit, transform):
    """``fit`` topped up to ``balance_to`` per class, then with ``augment_copies`` augmented
    copies of every image; and the counts (``before``, ``added``, ``after`` per class)."""
    counts = fit.class_counts()
    if cfg.balance_to > 0:
        fit, _ = augment_offline(fit, transform, per_class_target=cfg.balance_to, seed=cfg.seed)
    if cfg.augment_copies > 0:
        fit, _ = augment_offline(fit, transform, copies=cfg.augment_copies, seed=cfg.seed + 1)
    after = fit.class_counts()
    return fit, {"before": counts, "added": {k: after[k] - counts[k] for k in counts}, "after": after}


def online_transform(cfg, affine):
    """The per-batch training augmentation: ``affine``, then :class:`RandomErasing` with
    probability ``erase`` (when > 0). Called as ``f(batch, rng)``."""
    if cfg.erase <= 0:
        return affine

    erasing = RandomErasing(cfg.erase)

    def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return erasing(affine(batch, rng), rng)

    return augment


def _per_class(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(labels == c), min(k, int((labels == c).sum())), replace=False)
             for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def describe_augmentation(cfg, online: bool = True) -> str:
    return (f"mirror (p 0.5), rotation +-{cfg.degrees:g} deg, zoom 1+-{cfg.zoom:g}, shift +-{cfg.shift:g}"
            " of the side, reflected borders"
            + (f"; then random erasing (p {cfg.erase:g})" if cfg.erase > 0 and online else ""))


def utkface_faces(ctx):
    """UTKFace as greyscale 48x48 faces in [0, 1] with gender x ethnicity labels (10 classes),
    times the age band for ``pretrain_task: gender_race_age`` (30 classes).

    Shapes: -> x (N, 1, 48, 48) float32, y (N,) int64 = (5 * gender + race) [* 3 + band];
    class names.
    """
    cfg = ctx.cfg
    names = pretrain_classes(cfg)
    if ctx.smoke:
        k = len(names)
        data = synthetic.faces(max(cfg.pretrain_limit, 10 * k), k, cfg.seed + 2, "utkface-synthetic")
        return scale01(data.images), data.labels.astype(np.int64), data.class_names
    data = ctx.data("utkface")
    y = (5 * np.asarray(data.targets["gender"]) + np.asarray(data.targets["race"])).astype(np.int64)
    if cfg.pretrain_task == "gender_race_age":
        band = np.digitize(np.asarray(data.targets["age"]), AGE_BANDS)          # 0, 1, 2
        y = y * (len(AGE_BANDS) + 1) + band
    keep = np.arange(len(y))
    if cfg.pretrain_limit and cfg.pretrain_limit < len(y):
        keep = np.sort(np.random.default_rng(cfg.seed).choice(len(y), cfg.pretrain_limit, replace=False))
    grey = resize(to_grayscale(data.images[keep]), (NATIVE_SIZE, NATIVE_SIZE))       # (N, 1, 48, 48) uint8
    return scale01(grey), y[keep], names


def pretrain_classes(cfg) -> list[str]:
    """The UTKFace pretraining class names, in label order: gender x ethnicity, each split by
    age band for ``pretrain_task: gender_race_age``."""
    names = [f"{g}-{r}" for g in ("male", "female") for r in ("white", "black", "asian", "indian", "other")]
    if cfg.pretrain_task != "gender_race_age":
        return names
    bands = [f"<{AGE_BANDS[0]}", *(f"{a}-{b - 1}" for a, b in zip(AGE_BANDS, AGE_BANDS[1:])), f"{AGE_BANDS[-1]}+"]
    return [f"{n}-{b}" for n in names for b in bands]


def task_words(cfg) -> str:
    """The UTKFace pretraining labels in words."""
    return "gender x ethnicity" + (" x age band" if cfg.pretrain_task == "gender_race_age" else "")
