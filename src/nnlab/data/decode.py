"""Decoding image files into ``(C, H, W)`` uint8 arrays, and many of them into one ``(N, C, H, W)``.

How modes, sizes and channels are settled is described in :mod:`nnlab.data.images`. Decoding
never executes code from a file.
"""

from __future__ import annotations

import io
import logging
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.image_source import ImageSource


log = logging.getLogger(__name__)

#: file extensions read as images (lower case)
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)


_MODES = (None, "RGB", "L")


_GRAY_MODES = {"1", "L", "LA", "La", "I", "F"}


_ON_ERROR = ("skip", "raise")


def is_image_name(name: str) -> bool:
    """Whether ``name`` has an image extension (:data:`IMAGE_EXTENSIONS`)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def check_on_error(on_error: str) -> None:
    """Raise ``ValueError`` unless ``on_error`` is ``"skip"`` or ``"raise"``."""
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")


def check_mode(mode: str | None) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'RGB', 'L' or None, got {mode!r}")


def _pixels(im: Image.Image, mode: str | None) -> np.ndarray:
    """The pixels of a loaded Pillow image as (C, H, W) uint8 in ``mode`` (see module doc)."""
    kind = mode or ("L" if im.mode in _GRAY_MODES or im.mode.startswith("I;16") else "RGB")
    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit integer or float gray
        arr = np.asarray(im)
        if im.mode.startswith("I;16") or (im.mode == "I" and arr.max(initial=0) > 255):
            arr = arr.astype(np.int64) >> 8
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        im = Image.fromarray(arr, "L")
    if im.mode != kind:
        im = im.convert(kind)
    arr = np.asarray(im)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def decode_image(
    data: bytes | str | os.PathLike, name: str | None = None, mode: str | None = None
) -> np.ndarray:
    """Decode one image (its bytes, or a path) into a ``(C, H, W)`` uint8 array.

    ``mode``: ``"RGB"`` (C = 3), ``"L"`` (C = 1) or ``None`` (the file's own kind, see the module
    docstring). ``name`` is the file named in errors (default: the path). A file that will not
    decode raises :class:`DataFormatError` naming it; a missing path raises
    :class:`MissingDataError`.
    """
    check_mode(mode)
    is_bytes = isinstance(data, (bytes, bytearray, memoryview))
    name = name if name is not None else ("<bytes>" if is_bytes else str(data))
    src: Any = io.BytesIO(data) if is_bytes else Path(data)
    try:
        with Image.open(src) as im:
            im.load()
            return _pixels(im, mode)
    except FileNotFoundError as exc:
        if is_bytes:
            raise DataFormatError(name, f"cannot decode the image ({exc})") from exc
        raise MissingDataError(f"{name}: no such image file") from exc
    except MemoryError:
        raise
    except UnidentifiedImageError as exc:
        raise DataFormatError(name, "not an image Pillow can identify (corrupt, or not an image file)") from exc
    except Exception as exc:  # Pillow's plugins raise OSError, ValueError, SyntaxError, struct.error...
        raise DataFormatError(name, f"cannot decode the image ({type(exc).__name__}: {exc})") from exc


def to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    if arr.shape[0] == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=0)
    gray = Image.fromarray(arr.transpose(1, 2, 0), "RGB").convert("L")
    return np.asarray(gray)[None]


def majority(values: Sequence[Any]) -> Any:
    """The most common value; ties go to the one seen first."""
    return Counter(values).most_common(1)[0][0]


def decode_files(
    source: ImageSource,
    files: Sequence[tuple[str, ...]],
    mode: str | None,
    on_error: str,
    skipped: list[tuple[str, str]],
) -> tuple[list[int], list[np.ndarray]]:
    """Decode ``files`` of ``source``; returns (the kept indices, ascending, their arrays).

    Files that fail are raised (``on_error="raise"``) or appended to ``skipped``.
    """
    decoded: dict[int, np.ndarray] = {}
    for i, data in source.read_many(files):
        where = source.display(files[i])
        try:
            if isinstance(data, OSError):
                raise DataFormatError(where, f"cannot read the file ({data})") from data
            decoded[i] = decode_image(data, where, mode)
        except DataFormatError as exc:
            if on_error == "raise":
                raise
            skipped.append((source.name(files[i]), exc.problem))
    kept = sorted(decoded)
    return kept, [decoded[i] for i in kept]


def stack_images(
    arrays: Sequence[np.ndarray],
    names: Sequence[str],
    mode: str | None,
    on_error: str,
    skipped: list[tuple[str, str]],
    where: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Stack ``(C, H, W)`` arrays into ``(N, C, H, W)``: one size, one channel count.

    Returns the array and the positions kept. An image whose size differs from most images'
    raises :class:`DataFormatError` naming it (``where`` or ``names``), or is appended to
    ``skipped`` (``on_error="skip"``). Channels follow ``mode``, else the majority.
    """
    where = where if where is not None else names
    if not arrays:
        return np.zeros((0, 3 if mode == "RGB" else 1, 0, 0), np.uint8), []
    size = majority([a.shape[1:] for a in arrays])
    keep = []
    for i, a in enumerate(arrays):
        if a.shape[1:] == size:
            keep.append(i)
            continue
        problem = (f"image is {a.shape[2]}x{a.shape[1]} (WxH) but the others are {size[1]}x{size[0]}; "
                   f"all images of a set must have one size")
        if on_error == "raise":
            raise DataFormatError(where[i], problem)
        skipped.append((names[i], problem))
    channels = {"RGB": 3, "L": 1}.get(mode or "") or majority([arrays[i].shape[0] for i in keep])
    out = np.empty((len(keep), channels) + tuple(size), np.uint8)
    for j, i in enumerate(keep):
        out[j] = to_channels(arrays[i], channels)
    return out, keep


def log_skipped(what: str, skipped: Sequence[tuple[str, str]], shown: int = 3,
                logger: logging.Logger | None = None) -> None:
    """Warn once (on ``logger``, default this module's) about skipped files: how many, and the
    first few with their reasons."""
    if not skipped:
        return
    first = "; ".join(f"{n}: {r}" for n, r in skipped[:shown])
    more = f" (and {len(skipped) - shown} more; see ImageSet.skipped)" if len(skipped) > shown else ""
    (logger or log).warning("%s: skipped %d file(s): %s%s", what, len(skipped), first, more)
