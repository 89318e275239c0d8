"""Facial-expression data sets: FER2013 (image folders or the original CSV) and AffectNet-style folders.

FER2013, image-folder layout (the Kaggle "fer2013" layout)
----------------------------------------------------------
::

    FER2013/train/<class>/Training_<id>.png      48x48 grayscale
    FER2013/test/<class>/PublicTest_<id>.jpg     (and PrivateTest_<id>.jpg)

as a folder (``FER2013/`` or ``fer2013/``, or a folder holding one), or as a tar archive read
in place (the shared ``FER2013_images.tar`` holds ``FER2013/train/...`` and
``FER2013/test/...``); a folder holding no ``train``/``test`` folders but one ``fer*.tar``
archive is read through it. The class folders are ``angry disgust fear happy neutral sad
surprise`` (matched case-insensitively); labels always follow the CSV's emotion index,
:data:`FER_CLASSES`, whatever the folder order. Other folders are skipped and reported.
Images are read as grayscale: ``(N, 1, 48, 48)`` uint8.

FER2013, CSV (``fer2013.csv``, optionally gzip-compressed)
---------------------------------------------------------
A header ``emotion,pixels,Usage`` (any column order; names are matched case-insensitively and
stripped, so the ``emotion, Usage, pixels`` header of ``icml_face_data.csv`` works) and one
row per image: ``emotion`` 0..6, ``pixels`` 2304 space-separated integers 0..255 (48x48, row
major), ``Usage`` ``Training``/``PublicTest``/``PrivateTest``. ``Usage`` is only required to
filter by it. A row with a wrong pixel count, a bad pixel value or a label outside 0..6 is a
:class:`DataFormatError` naming the line number (``on_error="raise"``), or is skipped, logged
and recorded in ``ImageSet.skipped`` as ``("fer2013.csv:LINE", reason)`` (``on_error="skip"``).

AffectNet-style folders
-----------------------
::

    ROOT/[AffectNet/]Train/<class>/<image>
    ROOT/[AffectNet/]Validation/<class>/<image>

(folder or tar; ``train``/``training`` and ``validation``/``val``/``valid`` are accepted in any
case). Class names are the class folders of both splits, lower-cased and sorted, so the two
splits share one label order. Read as RGB by default; all images must have one size.

All readers cache their decoded arrays (:mod:`nnlab.data.cache`), keyed by the source file's
(or every file of the source folder's) path, size and mtime.
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
from pathlib import Path

import numpy as np

from nnlab.data.dataset import ImageSet
from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.cache import cached_imageset
from nnlab.data.decode import check_on_error
from nnlab.data.image_source import ImageSource, split_root
from nnlab.data.images import read_class_folders

log = logging.getLogger(__name__)

#: emotion index 0..6 of the FER2013 CSV -> class name (also the folder names)
FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FER_SPLITS = ("train", "test")
FER_USAGES = ("Training", "PublicTest", "PrivateTest")
FER_SIZE = 48

_AFFECTNET_SPLITS = {"train": ("train", "training"), "validation": ("validation", "val", "valid")}
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def _is_archive(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(_ARCHIVE_SUFFIXES)


def _fer_root(path: str | os.PathLike, depth: int = 0) -> Path:
    """The FER2013 folder or archive under ``path`` (see the module docstring)."""
    disk, rest = split_root(path)
    if rest or disk.is_file():
        return Path(path).expanduser()
    children = {c.name.lower(): c for c in disk.iterdir()}
    if any(s in children and children[s].is_dir() for s in FER_SPLITS):
        return disk
    if "fer2013" in children and children["fer2013"].is_dir() and depth == 0:
        return _fer_root(children["fer2013"], depth + 1)
    archives = sorted(c for c in children.values() if _is_archive(c) and c.name.lower().startswith("fer"))
    if len(archives) == 1:
        return archives[0]
    raise MissingDataError(
        f"{disk}: no FER2013 data. Expected FER2013/train/<class>/*.png and FER2013/test/<class>/*.jpg "
        f"(a folder, or a tar such as FER2013_images.tar)"
        + (f"; found several archives {[a.name for a in archives]}: pass one" if archives else ""))


def read_fer2013(path: str | os.PathLike, split: str = "train", on_error: str = "skip",
                 cache: bool = True) -> ImageSet:
    """FER2013 in the image-folder layout (folder or tar), one split, as ``(N, 1, 48, 48)`` uint8.

    ``split``: ``"train"`` or ``"test"``. Labels index :data:`FER_CLASSES` (the CSV's emotion
    order). ``on_error``: ``"skip"`` (default) skips, logs and records images that will not
    decode or have another size; ``"raise"`` raises :class:`DataFormatError` naming the file.
    """
    check_on_error(on_error)
    if split not in FER_SPLITS:
        raise ValueError(f"split must be one of {FER_SPLITS}, got {split!r}")
    root = _fer_root(path)
    disk, below = split_root(root)

    def build() -> ImageSet:
        with ImageSource(root) as src:
            base = src.prefix
            d = src.find_dir((split,), base) or src.find_dir(("fer2013", split), base)
            if d is None:
                raise MissingDataError(
                    f"{src.display(base)}: no {split}/ folder (looked for {split}/ and FER2013/{split}/); "
                    f"found {src.subdirs(base) or 'no folders'}")
            ims = read_class_folders(src, [d], FER_CLASSES, on_error, "L", "fer2013", split)
        if ims.shape[1:] != (FER_SIZE, FER_SIZE):
            log.warning("%s: FER2013 images are %dx%d, not the usual 48x48", root, ims.shape[2], ims.shape[1])
        return ims

    params = {"below": list(below), "split": split, "on_error": on_error, "format": 1}
    return cached_imageset("fer2013", disk, params, build, enabled=cache, logger=log)


def read_fer2013_csv(path: str | os.PathLike, usage: str | None = None, on_error: str = "skip",
                     cache: bool = True) -> ImageSet:
    """FER2013 from the original CSV, optionally only the rows of one ``Usage``.

    ``usage``: ``None`` (all rows), ``"Training"``, ``"PublicTest"`` or ``"PrivateTest"``.
    Missing columns are a :class:`DataFormatError` naming the file and the columns; bad rows
    are errors naming the line (``on_error="raise"``) or skipped and reported (``"skip"``).
    Returns ``(N, 1, 48, 48)`` uint8, labels = emotion index into :data:`FER_CLASSES`, ``files``
    = ``"<csv name>:<line>"``.
    """
    check_on_error(on_error)
    if usage is not None and usage not in FER_USAGES:
        raise ValueError(f"usage must be None or one of {FER_USAGES}, got {usage!r}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingDataError(f"{path}: no such file (expected the FER2013 CSV, e.g. fer2013.csv)")

    def build() -> ImageSet:
        return _parse_fer_csv(path, usage, on_error)

    params = {"usage": usage, "on_error": on_error, "format": 1}
    return cached_imageset("fer2013csv", path, params, build, enabled=cache, logger=log)


def _parse_fer_csv(path: Path, usage: str | None, on_error: str) -> ImageSet:
    npix = FER_SIZE * FER_SIZE
    rows: list[np.ndarray] = []
    labels: list[int] = []
    files: list[str] = []
    skipped: list[tuple[str, str]] = []
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataFormatError(path, "empty file; expected the header emotion,pixels,Usage")
            cols = {h.strip().lower(): i for i, h in enumerate(header)}
            needed = ["emotion", "pixels"] + (["Usage"] if usage is not None else [])
            missing = [c for c in needed if c.lower() not in cols]
            if missing:
                raise DataFormatError(path, f"missing column(s) {', '.join(missing)}; the header has "
                                            f"{', '.join(h.strip() for h in header) or 'nothing'} "
                                            f"(expected emotion,pixels,Usage)")
            ie, ip, iu = cols["emotion"], cols["pixels"], cols.get("usage")
            for row in reader:
                line = reader.line_num
                if not any(c.strip() for c in row):
                    continue
                # another usage: not read (a malformed row is reported whatever its usage)
                if usage is not None and len(row) == len(header) and row[iu].strip() != usage:  # type: ignore[index]
                    continue
                problem, pixels, label = _parse_row(row, len(header), ie, ip, npix)
                if problem is not None:
                    if on_error == "raise":
                        raise DataFormatError(path, f"line {line}: {problem}")
                    skipped.append((f"{path.name}:{line}", problem))
                    continue
                rows.append(pixels)
                labels.append(label)
                files.append(f"{path.name}:{line}")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not a UTF-8 text CSV ({exc})") from exc
    except (OSError, EOFError, csv.Error) as exc:  # a damaged .gz, or a CSV syntax error
        raise DataFormatError(path, f"cannot read the CSV ({type(exc).__name__}: {exc})") from exc
    if not rows:
        raise DataFormatError(path, f"no usable rows{f' with Usage {usage}' if usage else ''} "
                                    f"({len(skipped)} skipped)")
    images = np.stack(rows).astype(np.uint8).reshape(-1, 1, FER_SIZE, FER_SIZE)
    return ImageSet(images=images, labels=np.asarray(labels, np.int64), class_names=list(FER_CLASSES),
                    name="fer2013", split=usage or "", files=files, skipped=skipped, source=str(path))


def _parse_row(
    row: list[str], ncols: int, ie: int, ip: int, npix: int
) -> tuple[str | None, np.ndarray, int]:
    """(problem or None, pixels as int16, label) of one CSV row."""
    empty = np.zeros(0, np.int16)
    if len(row) != ncols:
        return f"{len(row)} fields, the header has {ncols}", empty, -1
    try:
        label = int(row[ie])
    except ValueError:
        return f"emotion {row[ie].strip()!r} is not an integer", empty, -1
    if not 0 <= label < len(FER_CLASSES):
        return f"emotion {label} out of range 0..{len(FER_CLASSES) - 1}", empty, -1
    tokens = row[ip].split()
    if len(tokens) != npix:
        return f"{len(tokens)} pixel values, expected {npix} ({FER_SIZE}x{FER_SIZE})", empty, -1
    try:
        pixels = np.array(tokens, dtype=np.int64)
    except (ValueError, OverflowError):
        return "pixels are not all integers", empty, -1
    if pixels.min() < 0 or pixels.max() > 255:
        return f"pixel values out of 0..255 (min {pixels.min()}, max {pixels.max()})", empty, -1
    return None, pixels.astype(np.int16), label


def read_affectnet(root: str | os.PathLike, split: str = "train", on_error: str = "skip",
                   mode: str | None = "RGB", cache: bool = True) -> ImageSet:
    """An AffectNet-style tree (``Train/`` and ``Validation/``, a folder per class), one split.

    ``split``: ``"train"`` or ``"validation"`` (``"val"`` accepted). ``root``: the folder or tar
    holding the split folders, directly or inside one top folder. Class names: the lower-cased
    class folders of both splits, sorted. ``mode``: ``"RGB"`` (default), ``"L"`` or ``None``.
    """
    check_on_error(on_error)
    key = {"val": "validation", "valid": "validation"}.get(split.lower(), split.lower())
    if key not in _AFFECTNET_SPLITS:
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    disk, below = split_root(root)

    def build() -> ImageSet:
        with ImageSource(root) as src:
            found = {k: _find_split(src, names) for k, names in _AFFECTNET_SPLITS.items()}
            d = found[key]
            if d is None:
                looked = "/, ".join(_AFFECTNET_SPLITS[key]) + "/"
                raise MissingDataError(
                    f"{src.display(src.prefix)}: no {key} folder (looked for {looked} here and one "
                    f"folder down); found {src.subdirs(src.prefix) or 'no folders'}")
            classes = sorted({c.lower() for s in found.values() if s is not None for c in src.subdirs(s)})
            return read_class_folders(src, [d], classes, on_error, mode, "affectnet", key)

    params = {"below": list(below), "split": key, "on_error": on_error, "mode": mode, "format": 1}
    return cached_imageset("affectnet", disk, params, build, enabled=cache, logger=log)


def _find_split(src: ImageSource, names: tuple[str, ...]) -> tuple[str, ...] | None:
    for base in [src.prefix] + [src.prefix + (s,) for s in src.subdirs(src.prefix)]:
        for n in names:
            d = src.find_dir((n,), base)
            if d is not None:
                return d
    return None
