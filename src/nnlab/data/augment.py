"""Data augmentation on NumPy arrays, seeded by a ``numpy.random.Generator`` passed in.

Every transform ``t`` is called as ``t(image, rng)`` with ``rng`` a ``numpy.random.Generator``
(never global random state), on one image (C, H, W) or a batch (N, C, H, W). On a batch each
image gets its own random draw, taken in order from ``rng``: ``t(batch, rng)`` equals
``np.stack([t(img, rng) for img in batch])`` with the same generator state. Transforms keep the
dtype (uint8 results are rounded and clipped to [0, 255]; float images are taken to be in
[0, 1] where a range matters), never modify their input, and return new contiguous arrays.

For PyTorch data pipelines :class:`TorchTransform` wraps a transform as ``f(x)`` taking and
returning a numpy array or a torch tensor, with a per-worker generator. :func:`augment_offline`
grows an :class:`~nnlab.data.dataset.ImageSet` with augmented copies and reports the class
counts before and after.

One concept, data augmentation: the transforms, their composition and the two ways of applying
them (on the fly in a pipeline, or offline), so one module of about 500 lines.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from nnlab.data.dataset import ImageSet
from nnlab.errors import ConfigError, ShapeError

log = logging.getLogger(__name__)

__all__ = [
    "ColorJitter",
    "Compose",
    "RandomCrop",
    "RandomErasing",
    "RandomHorizontalFlip",
    "RandomRotation",
    "TorchTransform",
    "Transform",
    "augment_offline",
    "paired_flip_and_shift",
    "paired_horizontal_flip",
    "paired_random_shift",
    "format_counts",
]

_LUMA = np.array([0.299, 0.587, 0.114])


def _value_range(dtype: np.dtype) -> tuple[float, float]:
    """The valid value range of an image dtype: [0, 255] for uint8, [0, 1] for float."""
    if dtype == np.uint8:
        return 0.0, 255.0
    if np.issubdtype(dtype, np.floating):
        return 0.0, 1.0
    raise ConfigError(f"augmentation supports uint8 or float images, got dtype {dtype}")


def _cast_back(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` (float) in ``dtype``: uint8 rounded and clipped to [0, 255], float cast."""
    if dtype == np.uint8:
        return np.ascontiguousarray(np.clip(np.rint(values), 0, 255), dtype=np.uint8)
    return np.ascontiguousarray(values, dtype=dtype)


class Transform:
    """Base class: subclasses implement ``_apply(image (C, H, W), rng) -> (C', H', W')``;
    ``__call__`` checks the arguments and maps batches image by image.

    A transform whose pixel work can be done for a whole batch at once sets ``batched = True``
    and implements ``_params(shape, rng)`` (one image's random draws, taken in the order the
    image-by-image path takes them), ``_out_shape(shape)`` and ``_apply_batch(batch, params)``.
    Its batches then go through one batched pass, with exactly the draws and the results of the
    image-by-image path, and so do :class:`Compose` chains made only of such transforms.
    """

    batched = False

    def _apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.batched:
            return self._apply_batch(image[None], [self._params(image.shape, rng)])[0]
        raise NotImplementedError

    def _params(self, shape: tuple[int, ...], rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def _out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape

    def _apply_batch(self, batch: np.ndarray, params: list) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{type(self).__name__} needs a numpy.random.Generator "
                            f"(np.random.default_rng(seed)), got {type(rng).__name__}")
        image = np.asarray(image)
        _value_range(image.dtype)
        if image.ndim == 3:
            return self._apply(image, rng)
        if image.ndim == 4:
            if len(image) == 0:
                return image.copy()
            if self.batched:   # the draws image by image, in order; the pixels in one pass
                return np.ascontiguousarray(self._apply_batch(image, [self._params(image.shape[1:], rng)
                                                                      for _ in range(len(image))]))
            return np.stack([self._apply(img, rng) for img in image])
        raise ShapeError(f"{type(self).__name__} needs (C, H, W) or (N, C, H, W), got shape {image.shape}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k != "batched")
        return f"{type(self).__name__}({args})"


class RandomHorizontalFlip(Transform):
    """Mirror left-right (``image[..., ::-1]``) with probability ``p`` (one uniform draw per image)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"flip probability must be in [0, 1], got {p}")
        self.p = float(p)

    batched = True

    def _params(self, shape, rng):
        return rng.random() < self.p

    def _apply_batch(self, batch, params):
        out = batch.copy()
        flip = np.asarray(params, bool)
        out[flip] = batch[flip][..., ::-1]
        return out


def paired_horizontal_flip(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                           p: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Mirror each image and its per-pixel target together, with probability ``p`` each.

    For dense targets (a colour class or segment per pixel), where flipping the image alone
    would break the pixel correspondence. One uniform draw per image.

    Shapes: x (N, C, H, W), y (N, H, W) or (N, C', H, W) -> the same shapes (copies).
    """
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"flip probability must be in [0, 1], got {p}")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 4 or y.ndim not in (3, 4) or len(x) != len(y) or x.shape[-2:] != y.shape[-2:]:
        raise ShapeError(f"need images (N, C, H, W) and targets (N, H, W) or (N, C, H, W) of the same N, H, W;"
                         f" got {x.shape} and {y.shape}")
    flip = rng.random(len(x)) < p                                   # (N,)
    x, y = x.copy(), y.copy()
    x[flip] = x[flip][..., ::-1]
    y[flip] = y[flip][..., ::-1]
    return x, y


def paired_random_shift(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                        padding: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Shift each image and its per-pixel target together by up to ``padding`` pixels.

    Both are padded by ``padding`` on each side with mirrored borders (``np.pad``'s
    ``"reflect"``), then one window of the original size is cut at a random position,
    the same window for an image and its target: CIFAR's pad-and-crop for dense targets.
    Two integer draws per image (top, then left), taken in order.

    Shapes: x (N, C, H, W), y (N, H, W) or (N, C', H, W) -> the same shapes (copies).
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 4 or y.ndim not in (3, 4) or len(x) != len(y) or x.shape[-2:] != y.shape[-2:]:
        raise ShapeError(f"need images (N, C, H, W) and targets (N, H, W) or (N, C, H, W) of the same N, H, W;"
                         f" got {x.shape} and {y.shape}")
    p = int(padding)
    h, w = x.shape[-2:]
    if not 0 <= p < min(h, w):
        raise ConfigError(f"shift padding must be in [0, {min(h, w)}) for {h}x{w} images, got {padding}")
    if p == 0:
        return x.copy(), y.copy()

    def pad(a: np.ndarray) -> np.ndarray:
        return np.pad(a, [(0, 0)] * (a.ndim - 2) + [(p, p), (p, p)], mode="reflect")

    xp, yp = pad(x), pad(y)
    corners = rng.integers(0, 2 * p + 1, (len(x), 2))                # (N, 2): top, left
    rows = corners[:, :1] + np.arange(h)                              # (N, H)
    cols = corners[:, 1:] + np.arange(w)                              # (N, W)
    n = np.arange(len(x))[:, None, None]

    def cut(a: np.ndarray) -> np.ndarray:
        moved = np.moveaxis(a, 1, -1) if a.ndim == 4 else a          # (N, H, W[, C])
        out = moved[n, rows[:, :, None], cols[:, None, :]]            # (N, H, W[, C])
        return np.ascontiguousarray(np.moveaxis(out, -1, 1) if a.ndim == 4 else out)

    return cut(xp), cut(yp)


def paired_flip_and_shift(padding: int = 4, p: float = 0.5) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``augment(x, y, rng)``: :func:`paired_horizontal_flip` with probability ``p``, then
    :func:`paired_random_shift` by up to ``padding`` pixels, images and targets together."""

    def augment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = paired_horizontal_flip(x, y, rng, p)
        return paired_random_shift(x, y, rng, padding)

    return augment


class RandomRotation(Transform):
    """Rotate by an angle drawn uniformly from ``[-max_degrees, max_degrees]`` about the image
    centre (positive = counter-clockwise), with ``skimage.transform.rotate`` (``order=1``:
    bilinear; the output keeps the input size).

    Fill: the corners uncovered by the rotation are filled by ``mode``, default ``"reflect"``
    (mirror of the image at its border, as ``np.pad(mode="reflect")``), so no black corners
    appear; ``"edge"``, ``"symmetric"``, ``"wrap"`` and ``"constant"`` (with ``cval``, in the
    image's units) are also accepted.
    """

    MODES = ("reflect", "edge", "symmetric", "wrap", "constant")

    def __init__(self, max_degrees: float = 10.0, mode: str = "reflect", order: int = 1,
                 cval: float = 0.0) -> None:
        if max_degrees < 0:
            raise ConfigError(f"max_degrees must be >= 0, got {max_degrees}")
        if mode not in self.MODES:
            raise ConfigError(f"unknown rotation fill mode {mode!r}; use one of {', '.join(self.MODES)}")
        self.max_degrees = float(max_degrees)
        self.mode = mode
        self.order = int(order)
        self.cval = float(cval)

    def _apply(self, image, rng):
        from skimage.transform import rotate

        angle = rng.uniform(-self.max_degrees, self.max_degrees)
        hwc = image.transpose(1, 2, 0).astype(np.float64)
        # clip=False: skimage's own clipping to the input range can wipe out a constant fill
        # on partly covered corner pixels; bilinear (order <= 1) cannot overshoot anyway
        out = rotate(hwc, angle, resize=False, order=self.order, mode=self.mode, cval=self.cval,
                     preserve_range=True, clip=False)
        if self.order > 1:
            values = [hwc.min(), hwc.max()] + ([self.cval] if self.mode == "constant" else [])
            out = np.clip(out, min(values), max(values))
        return _cast_back(out.transpose(2, 0, 1), image.dtype)


class RandomCrop(Transform):
    """Pad each spatial side by ``padding`` pixels, then crop a ``size`` window at a uniformly
    random position (top and left drawn in that order). ``size``: an int (square) or (h, w);
    with ``size`` equal to the image size (CIFAR's 32 with padding 4) the shape is kept.

    ``pad_mode``: ``"reflect"`` (``np.pad`` mirror without repeating the edge; needs
    ``padding < H, W``) or ``"constant"`` (filled with ``fill``, in the image's units).
    """

    def __init__(self, size: int | Sequence[int], padding: int = 4, pad_mode: str = "reflect",
                 fill: float = 0) -> None:
        self.size = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
        if len(self.size) != 2 or min(self.size) < 1:
            raise ConfigError(f"crop size must be a positive int or (h, w), got {size}")
        if padding < 0:
            raise ConfigError(f"padding must be >= 0, got {padding}")
        if pad_mode not in ("reflect", "constant"):
            raise ConfigError(f"pad_mode must be 'reflect' or 'constant', got {pad_mode!r}")
        self.padding = int(padding)
        self.pad_mode = pad_mode
        self.fill = fill

    batched = True

    def _params(self, shape, rng):
        p, (h, w) = self.padding, self.size
        if p and self.pad_mode == "reflect" and p >= min(shape[1:]):
            raise ConfigError(f"reflect padding {p} needs images larger than {p} pixels, got shape {tuple(shape)}")
        ph, pw = shape[1] + 2 * p, shape[2] + 2 * p
        if h > ph or w > pw:
            raise ShapeError(f"crop size {self.size} is larger than the padded image {(ph, pw)}")
        return int(rng.integers(0, ph - h + 1)), int(rng.integers(0, pw - w + 1))   # top, then left

    def _out_shape(self, shape):
        return (shape[0], *self.size)

    def _apply_batch(self, batch, params):
        p, (h, w) = self.padding, self.size
        if p:
            width = ((0, 0), (0, 0), (p, p), (p, p))
            batch = (np.pad(batch, width, mode="reflect") if self.pad_mode == "reflect"
                     else np.pad(batch, width, mode="constant", constant_values=self.fill))
        top, left = np.asarray(params, np.intp).reshape(-1, 2).T
        windows = np.lib.stride_tricks.sliding_window_view(batch, (h, w), axis=(2, 3))  # (N, C, ., ., h, w)
        return np.ascontiguousarray(windows[np.arange(len(batch)), :, top, left])        # (N, C, h, w)


class ColorJitter(Transform):
    """Random brightness then contrast change (fixed order), clipped to the valid range of the
    dtype ([0, 255] for uint8, [0, 1] for float):

    * brightness: ``x * b`` with ``b ~ U[1 - brightness, 1 + brightness]``;
    * contrast: ``(x - m) * c + m`` with ``c ~ U[1 - contrast, 1 + contrast]`` and ``m`` the
      mean grey level of the (brightness-adjusted) image (BT.601 luma for 3 channels, the plain
      mean otherwise), as in torchvision.

    Factors are drawn b first, then c, from the generator; a factor of 0 skips that draw.
    """

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2) -> None:
        for name, v in (("brightness", brightness), ("contrast", contrast)):
            if not 0 <= v <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {v}")
        self.brightness = float(brightness)
        self.contrast = float(contrast)

    def _apply(self, image, rng):
        lo, hi = _value_range(image.dtype)
        x = image.astype(np.float64)
        if self.brightness:
            x = np.clip(x * rng.uniform(1 - self.brightness, 1 + self.brightness), lo, hi)
        if self.contrast:
            c = rng.uniform(1 - self.contrast, 1 + self.contrast)
            grey = np.tensordot(_LUMA, x, axes=(0, 0)) if x.shape[0] == 3 else x.mean(axis=0)
            m = grey.mean()
            x = np.clip((x - m) * c + m, lo, hi)
        return _cast_back(x, image.dtype)


class RandomErasing(Transform):
    """With probability ``p``, fill one random rectangle of the image with uniform noise in the
    dtype's range (Zhong et al. 2020, "Random Erasing Data Augmentation").

    The rectangle covers a fraction ``U[scale]`` of the image area with an aspect ratio
    (height / width) whose logarithm is uniform in ``log(ratio)``; a draw that does not fit
    is retried up to 10 times, then the image is left as it is. Draws per image, in order:
    the probability, then (area, log-ratio, top, left) per try, then the noise.
    """

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.25),
                 ratio: tuple[float, float] = (0.3, 3.3)) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"erasing probability must be in [0, 1], got {p}")
        if not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise ConfigError(f"erasing needs 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1],"
                              f" got scale {scale}, ratio {ratio}")
        self.p, self.scale, self.ratio = float(p), tuple(map(float, scale)), tuple(map(float, ratio))

    def _apply(self, image, rng):
        out = image.copy()
        if rng.random() >= self.p:
            return out
        c, h, w = image.shape
        lo, hi = _value_range(image.dtype)
        for _ in range(10):
            area = rng.uniform(*self.scale) * h * w
            aspect = np.exp(rng.uniform(*np.log(self.ratio)))
            eh, ew = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
            top, left = rng.integers(0, max(1, h - eh + 1)), rng.integers(0, max(1, w - ew + 1))
            if 0 < eh <= h and 0 < ew <= w:
                noise = rng.uniform(lo, hi, (c, eh, ew))
                out[:, top:top + eh, left:left + ew] = _cast_back(noise, image.dtype)
                break
        return out


class Compose(Transform):
    """Apply ``transforms`` in order to each image (on a batch, the whole chain per image)."""

    def __init__(self, transforms: Sequence[Callable[[np.ndarray, np.random.Generator], np.ndarray]]) -> None:
        self.transforms = list(transforms)
        self.batched = all(getattr(t, "batched", False) for t in self.transforms)

    def _apply(self, image, rng):
        if self.batched:
            return super()._apply(image, rng)
        out = image
        for t in self.transforms:
            out = t(out, rng)
        return image.copy() if out is image else np.ascontiguousarray(out)

    def _params(self, shape, rng):   # each transform's draws for one image, in chain order
        params = []
        for t in self.transforms:
            params.append(t._params(shape, rng))
            shape = t._out_shape(shape)
        return params

    def _out_shape(self, shape):
        for t in self.transforms:
            shape = t._out_shape(shape)
        return shape

    def _apply_batch(self, batch, params):
        out = batch
        for i, t in enumerate(self.transforms):
            out = t._apply_batch(out, [p[i] for p in params])
        return batch.copy() if out is batch else out

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"


class TorchTransform:
    """Adapter for PyTorch data pipelines: ``f = TorchTransform(transform, seed)``;
    ``f(x)`` takes one image (or a batch) as a numpy array or a torch tensor and returns the
    same type (a tensor keeps its dtype and device). torch is imported only here, lazily.

    Generators: in the main process (``num_workers=0``) one generator seeded with ``seed``,
    advancing from call to call. In a DataLoader worker (``torch.utils.data.get_worker_info()``
    is not None) a generator seeded with ``(seed, info.seed)``; torch gives each worker a
    different ``info.seed`` (``base_seed + worker_id``, with ``base_seed`` drawn anew for every
    epoch from torch's generator), so workers and epochs do not repeat each other's
    augmentations, and runs are reproducible when the DataLoader's ``generator`` (or
    ``torch.manual_seed``) is fixed.
    """

    def __init__(self, transform: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                 seed: int = 0) -> None:
        self.transform = transform
        self.seed = int(seed)
        self._rng: np.random.Generator | None = None
        self._rng_key: tuple | None = None

    def generator(self) -> np.random.Generator:
        """The generator for the current process / DataLoader worker (created on first use)."""
        try:
            from torch.utils.data import get_worker_info
            info = get_worker_info()
        except ImportError:  # used without torch: behave as the main process
            info = None
        key = (os.getpid(), None) if info is None else (os.getpid(), info.id, info.seed)
        if self._rng is None or self._rng_key != key:
            entropy = [self.seed] if info is None else [self.seed, int(info.seed)]
            self._rng = np.random.default_rng(np.random.SeedSequence(entropy))
            self._rng_key = key
            if info is not None:
                log.debug("TorchTransform: worker %d seeded with (%d, %d)", info.id, self.seed, info.seed)
        return self._rng

    def __call__(self, x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return self.transform(x, self.generator())
        import torch

        if isinstance(x, torch.Tensor):
            arr = x.detach().cpu().numpy()
            out = np.ascontiguousarray(self.transform(arr, self.generator()))
            return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)
        raise TypeError(f"TorchTransform takes a numpy array or a torch tensor, got {type(x).__name__}")

    def __getstate__(self) -> dict:
        # a pickled copy (e.g. into a DataLoader worker) starts its own generator
        state = dict(self.__dict__)
        state["_rng"], state["_rng_key"] = None, None
        return state

    def __repr__(self) -> str:
        return f"TorchTransform({self.transform!r}, seed={self.seed})"


# --------------------------------------------------------------------------------------------
# offline augmentation
# --------------------------------------------------------------------------------------------

def _counts(labels: np.ndarray | None, class_names: list[str], n: int) -> dict[str, int]:
    if labels is None:
        return {"all": int(n)}
    counts = np.bincount(labels, minlength=len(class_names))
    return {name: int(c) for name, c in zip(class_names, counts)}


def augment_offline(imageset: ImageSet, transform: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                    copies: int | None = None, per_class_target: int | None = None,
                    seed: int = 0) -> tuple[ImageSet, dict[str, Any]]:
    """``imageset`` with augmented samples appended after the originals, and a report.

    Give one of:

    * ``copies`` (default 1 when neither is given): every image gets ``copies`` augmented
      copies; copy k of all images is appended as block k (k = 1..copies).
    * ``per_class_target``: each class with fewer than ``per_class_target`` samples is brought
      up to exactly that many by augmenting its own images, taken in a seeded random order
      and cycled through evenly when more are needed than there are; larger classes are left
      as they are (nothing is removed). Needs labels. An empty class cannot be grown (logged).

    ``transform(image, rng)`` is applied image by image with ``np.random.default_rng(seed)``;
    it must keep the image shape. Labels, targets and file names are carried along; the
    file name of the k-th augmentation of ``name`` is ``"name#augk"``. If the set has no file
    names, ``report["source_index"]`` still tells where every sample came from.

    The report is a dict: ``before``, ``added``, ``after`` (samples per class name, or
    ``{"all": n}`` for an unlabelled set) and ``source_index`` (int64, the original index of
    every output sample). :func:`format_counts` prints it as a table.
    """
    if copies is not None and per_class_target is not None:
        raise ConfigError("give either copies or per_class_target, not both")
    rng = np.random.default_rng(seed)
    n = len(imageset)
    labels = imageset.labels
    if per_class_target is None:
        copies = 1 if copies is None else int(copies)
        if copies < 0:
            raise ConfigError(f"copies must be >= 0, got {copies}")
        sources = np.tile(np.arange(n), copies)
        rounds = np.repeat(np.arange(1, copies + 1), n)
    else:
        target = int(per_class_target)
        if labels is None:
            raise ConfigError(f"per_class_target needs labels; {imageset.name or 'this set'} has none")
        if target < 0:
            raise ConfigError(f"per_class_target must be >= 0, got {target}")
        picks, picks_round = [], []
        for c, name in enumerate(imageset.class_names):
            members = np.flatnonzero(labels == c)
            need = target - len(members)
            if need <= 0:
                continue
            if len(members) == 0:
                log.warning("augment_offline: class %r has no samples to augment; it stays at 0", name)
                continue
            order = rng.permutation(members)
            k = np.arange(need)
            picks.append(order[k % len(members)])
            picks_round.append(k // len(members) + 1)
        sources = np.concatenate(picks) if picks else np.zeros(0, np.int64)
        rounds = np.concatenate(picks_round) if picks_round else np.zeros(0, np.int64)

    sample_shape = imageset.images.shape[1:]
    new = np.empty((len(sources),) + sample_shape, imageset.images.dtype)
    for j, i in enumerate(sources):
        out = np.asarray(transform(imageset.images[i], rng))
        if out.shape != sample_shape:
            raise ShapeError(f"augment_offline needs a transform that keeps the shape {sample_shape}, "
                             f"got {out.shape}")
        new[j] = out

    source_index = np.concatenate([np.arange(n), sources]).astype(np.int64)
    files = None
    if imageset.files is not None:
        files = list(imageset.files) + [f"{imageset.files[i]}#aug{k}" for i, k in zip(sources, rounds)]
    result = replace(
        imageset,
        images=np.concatenate([imageset.images, new]),
        labels=None if labels is None else labels[source_index],
        targets={key: value[source_index] for key, value in imageset.targets.items()},
        files=files,
    )
    before = _counts(labels, imageset.class_names, n)
    after = _counts(result.labels, result.class_names, len(result))
    report = {"before": before, "added": {k: after[k] - before[k] for k in before}, "after": after,
              "source_index": source_index}
    log.info("augment_offline: %d -> %d samples (%d added)", n, len(result), len(sources))
    return result, report


def format_counts(report: dict[str, Any]) -> str:
    """The per-class counts of an :func:`augment_offline` report as a plain-text table
    (columns ``class``, ``before``, ``added``, ``after``; a ``total`` row last)."""
    before, after = report["before"], report["after"]
    added = report.get("added") or {k: after[k] - before[k] for k in before}
    names = list(before)
    rows = [(name, before[name], added[name], after[name]) for name in names]
    rows.append(("total", sum(before.values()), sum(added.values()), sum(after.values())))
    width = max(len("class"), *(len(str(r[0])) for r in rows))
    nums = [max(len(h), *(len(str(r[i])) for r in rows)) for i, h in ((1, "before"), (2, "added"), (3, "after"))]
    header = f"{'class':<{width}}  {'before':>{nums[0]}}  {'added':>{nums[1]}}  {'after':>{nums[2]}}"
    lines = [header, "-" * len(header)]
    for r in rows:
        if r[0] == "total":
            lines.append("-" * len(header))
        lines.append(f"{r[0]!s:<{width}}  {r[1]:>{nums[0]}}  {r[2]:>{nums[1]}}  {r[3]:>{nums[2]}}")
    return "\n".join(lines)
