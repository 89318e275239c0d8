"""UTKFace (Aligned & Cropped faces): age, gender and race from the file names.

Format
------
JPEG files named ``[age]_[gender]_[race]_[date&time].jpg.chip.jpg``, e.g.
``100_0_0_20170112213500903.jpg.chip.jpg``: age in years (0..116), gender 0 male / 1 female,
race 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others. They come as a folder, or as a tar archive
(plain or compressed) read in place, e.g. the shared ``UTKFace_aligned_cropped_64x64_q90.tar``
with members ``UTKFace/<name>`` (64x64 RGB). A folder that holds no images but exactly one
``*.tar``/``*.tar.gz`` archive is read through that archive.

Labels
------
A name parses when its first three ``_``-separated fields are integers; the rest of the name
is not checked (the official set has names such as ``24_0_1_20170116220224657 .jpg.chip.jpg``
that are malformed after the third field but still carry labels). Names that do not parse
(three in the official set, e.g. ``39_1_20170116174525125.jpg.chip.jpg`` lacks the race) are
always skipped: counted, logged, and recorded in ``ImageSet.skipped``. Parsed labels out of
range (age < 0, gender not 0/1, race not 0..4) and images that will not decode are a
:class:`DataFormatError` naming the file with ``on_error="raise"``, and are skipped and
recorded with ``on_error="skip"`` (the default).

The result: images ``(N, 3, H, W)`` uint8 (RGB) in file-name order, ``labels`` = race with
``class_names = RACES``, ``targets = {"age", "gender", "race"}`` (int64), ``files`` = the
names relative to the folder or archive (``UTKFace/<name>``). UTKFace has no official split.
Decoded arrays are cached (:mod:`nnlab.data.cache`); the entry is rebuilt when the source
file (or any file of the source folder) changes.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from nnlab.data.dataset import ImageSet
from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.cache import cached_imageset
from nnlab.data.decode import check_on_error, decode_files, is_image_name, stack_images
from nnlab.data.image_source import ImageSource, split_root

log = logging.getLogger(__name__)

#: race index -> name, as in the UTKFace documentation
RACES = ["White", "Black", "Asian", "Indian", "Others"]
GENDERS = ["male", "female"]

_NAME = re.compile(r"^([+-]?\d+)_([+-]?\d+)_([+-]?\d+)_")
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def parse_utkface_name(name: str) -> tuple[int, int, int] | None:
    """``(age, gender, race)`` from a UTKFace file name (a path is fine), or ``None``.

    Only the first three ``_`` fields are read; they must be integers (a sign is allowed, so
    that a negative age is reported as out of range rather than as unparseable).
    """
    m = _NAME.match(os.path.basename(name))
    return None if m is None else (int(m.group(1)), int(m.group(2)), int(m.group(3)))


def label_problem(age: int, gender: int, race: int) -> str | None:
    """Why parsed labels are out of range, or ``None`` if they are fine."""
    bad = []
    if age < 0:
        bad.append(f"age {age} < 0")
    if gender not in (0, 1):
        bad.append(f"gender {gender} not 0/1")
    if not 0 <= race < len(RACES):
        bad.append(f"race {race} not 0..{len(RACES) - 1}")
    return "label out of range: " + ", ".join(bad) if bad else None


def _resolve(path: str | os.PathLike) -> Path:
    """The folder or archive to read: a folder without images but with one archive -> the archive."""
    disk, rest = split_root(path)
    if rest or disk.is_file():
        return Path(path).expanduser()
    has_images = any(is_image_name(f) for _, _, files in os.walk(disk) for f in files)
    if has_images:
        return disk
    archives = sorted(p for p in disk.iterdir() if p.is_file() and p.name.lower().endswith(_ARCHIVE_SUFFIXES))
    if len(archives) == 1:
        return archives[0]
    raise MissingDataError(
        f"{disk}: no UTKFace images (age_gender_race_datetime.jpg.chip.jpg) and "
        + (f"{len(archives)} archives ({', '.join(a.name for a in archives)}); pass the archive itself"
           if archives else "no tar archive of them (e.g. UTKFace_aligned_cropped_64x64_q90.tar)"))


def read_utkface(path: str | os.PathLike, on_error: str = "skip", cache: bool = True) -> ImageSet:
    """Read UTKFace from a folder or tar archive (see the module docstring for the format).

    ``on_error``: ``"skip"`` (default) skips, logs and records undecodable images and
    out-of-range labels; ``"raise"`` raises :class:`DataFormatError` naming the file.
    Unparseable names are skipped and reported either way. ``cache``: use the decoded-array
    cache.
    """
    check_on_error(on_error)
    source = _resolve(path)
    disk, below = split_root(source)

    def build() -> ImageSet:
        with ImageSource(source) as src:
            skipped: list[tuple[str, str]] = src.ignored_under(src.prefix)
            files, labels = [], []
            for f in src.files_under(src.prefix):
                rel = src.name(f)
                if not is_image_name(f[-1]):
                    skipped.append((rel, "not an image file (by its extension)"))
                    continue
                parsed = parse_utkface_name(f[-1])
                if parsed is None:
                    skipped.append((rel, "name does not parse as age_gender_race_*"))
                    continue
                problem = label_problem(*parsed)
                if problem is not None:
                    if on_error == "raise":
                        raise DataFormatError(src.display(f), problem)
                    skipped.append((rel, problem))
                    continue
                files.append(f)
                labels.append(parsed)
            if not files:
                raise DataFormatError(src.display(src.prefix), f"no UTKFace images (age_gender_race_*.jpg); "
                                                               f"{len(skipped)} file(s) skipped")
            kept, arrays = decode_files(src, files, "RGB", on_error, skipped)
            names = [src.name(files[i]) for i in kept]
            images, keep = stack_images(arrays, names, "RGB", on_error, skipped,
                                        where=[src.display(files[i]) for i in kept])
            if len(images) == 0:
                raise DataFormatError(src.display(src.prefix), "no UTKFace image could be decoded")
            rows = [kept[j] for j in keep]
            lab = np.asarray(labels, np.int64).reshape(-1, 3)[rows]
            return ImageSet(
                images=images, labels=lab[:, 2].copy(), class_names=list(RACES), name="utkface", split="",
                targets={"age": lab[:, 0].copy(), "gender": lab[:, 1].copy(), "race": lab[:, 2].copy()},
                files=[src.name(files[i]) for i in rows], skipped=skipped, source=str(source))

    params = {"below": list(below), "on_error": on_error, "format": 1}
    return cached_imageset("utkface", disk, params, build, enabled=cache, logger=log)
