"""Reading image files: single images, folder-per-class trees, and the same trees inside a tar.

Formats
-------
*Image files* are anything Pillow decodes (PNG, JPEG, BMP, GIF, TIFF, WebP, PNM). A file is
taken to be an image by its extension (:data:`IMAGE_EXTENSIONS`, case-insensitive).

*Folder-per-class* (the torchvision ``ImageFolder`` layout)::

    ROOT/[SPLIT/]<class>/<image>          e.g. FER2013/train/angry/Training_10118481.png

Everything below a class folder belongs to that class (sub-folders included). ``ROOT`` is a
folder, or a tar archive (plain, ``.gz``, ``.bz2`` or ``.xz``) optionally followed by a member
prefix: ``path/to/FER2013_images.tar/FER2013/train``. Archives are read in place with
:mod:`tarfile`; nothing is ever extracted to disk, and only regular-file members are read
(links are reported and ignored). Hidden files and folders (names starting with ``.``) and
``__MACOSX`` folders are ignored. Any other file that is not an image is recorded in
``ImageSet.skipped`` and logged, never dropped silently. Folder names (the prefix, split and
class folders) are matched case-insensitively when there is no exact match.

Pixels
------
Every image becomes a ``(C, H, W)`` uint8 array, ``C`` = 1 (grayscale, mode ``"L"``) or 3
(``"RGB"``). With ``mode=None`` an image keeps its own kind: grayscale-like files (``1``, ``L``,
``LA``, 16/32-bit ``I``/``F``) give ``L``, everything else ``RGB`` (alpha is dropped, palettes
are expanded). 16-bit pixels are scaled to 8 bits (``>> 8``).

When a set is stacked into one ``(N, C, H, W)`` array (:func:`read_image_folder`):

* the *size* is the size of most images (ties: the first one); an image of another size is a
  :class:`DataFormatError` naming it (``on_error="raise"``) or is skipped and reported
  (``on_error="skip"``);
* the *channels* are those of ``mode`` if given, else those of most images (ties: the first
  one); the others are converted (gray -> RGB repeats the channel; RGB -> gray uses Pillow's
  ITU-R 601-2 luma).

A file that will not decode is a :class:`DataFormatError` naming it, or with
``on_error="skip"`` it is skipped, recorded in ``ImageSet.skipped`` and logged. A damaged
archive (truncated, bad header, bad compressed stream) is always an error: no partial result.
Decoding never executes code from a file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from nnlab.data.cache import cached_imageset
from nnlab.data.dataset import ImageSet
from nnlab.data.decode import (
    IMAGE_EXTENSIONS,
    check_mode,
    check_on_error,
    decode_files,
    decode_image,
    is_image_name,
    log_skipped,
    majority,
    stack_images,
    to_channels,
)
from nnlab.data.errors import DataFormatError, MissingDataError
from nnlab.data.image_source import ImageSource, is_hidden, path_parts, split_root

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# folder-per-class


def read_class_folders(
    source: ImageSource,
    split_dirs: Sequence[tuple[str, ...]],
    classes: Sequence[str] | None,
    on_error: str,
    mode: str | None,
    name: str,
    split: str,
) -> ImageSet:
    """The folder-per-class reader on an open :class:`ImageSource` (resolved split folders).

    ``classes``: the class names in label order; class folders are matched to them
    case-insensitively, and folders not among them are skipped and reported. ``None``: the
    class folders found, sorted.
    """
    check_on_error(on_error)
    check_mode(mode)
    skipped: list[tuple[str, str]] = [s for base in split_dirs for s in source.ignored_under(base)]
    found: dict[str, list[tuple[str, ...]]] = {}  # class folder name -> its image files
    for base in split_dirs:
        for f in source.files_under(base):
            rel = f[len(base):]
            if len(rel) < 2:
                skipped.append((source.name(f), "not inside a class folder"))
            elif not is_image_name(rel[-1]):
                skipped.append((source.name(f), "not an image file (by its extension)"))
            else:
                found.setdefault(rel[0], []).append(f)
    if classes is None:
        class_names = sorted(found)
        index = {c: i for i, c in enumerate(class_names)}
    else:
        class_names = list(classes)
        lower = {c.lower(): i for i, c in enumerate(class_names)}
        if len(lower) != len(class_names):
            raise ValueError(f"classes {class_names} repeat a name (names are matched case-insensitively)")
        index = {}
        for folder, folder_files in found.items():
            i = next((j for j, c in enumerate(class_names) if c == folder), lower.get(folder.lower()))
            if i is None:
                why = (f"class folder not among the classes {class_names}; "
                       f"its {len(folder_files)} file(s) were not read")
                skipped.append((folder, why))
            else:
                index[folder] = i
        missing = [c for i, c in enumerate(class_names) if i not in index.values()]
        if missing:
            log.warning("%s: no folder for class(es) %s", source.display(split_dirs[0]), missing)
    files = [f for folder in sorted(index) for f in found[folder]]
    files.sort()
    if not files:
        raise DataFormatError(source.display(split_dirs[0] if split_dirs else ()),
                              "no images in class folders (expected ROOT/<class>/<image>)")
    labels_all = _labels(files, split_dirs, index)
    kept, arrays = decode_files(source, files, mode, on_error, skipped)
    names = [source.name(files[i]) for i in kept]
    images, keep = stack_images(arrays, names, mode, on_error, skipped,
                                where=[source.display(files[i]) for i in kept])
    if len(images) == 0:
        raise DataFormatError(source.display(split_dirs[0] if split_dirs else ()),
                              f"no readable images ({len(skipped)} skipped, first: {skipped[:1]})")
    rows = [kept[j] for j in keep]
    return ImageSet(images=images, labels=labels_all[rows], class_names=class_names, name=name, split=split,
                    files=[source.name(files[i]) for i in rows], skipped=skipped, source=str(source.path))


def _labels(
    files: Sequence[tuple[str, ...]], split_dirs: Sequence[tuple[str, ...]], index: dict[str, int]
) -> np.ndarray:
    out = np.empty(len(files), np.int64)
    for k, f in enumerate(files):
        base = next(b for b in split_dirs if f[:len(b)] == b)
        out[k] = index[f[len(base)]]
    return out


def read_image_folder(
    root: str | os.PathLike,
    split_dirs: str | Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    on_error: str = "skip",
    mode: str | None = None,
    *,
    prefix: str | None = None,
    name: str | None = None,
    cache: bool = False,
) -> ImageSet:
    """Read a folder-per-class tree (``ROOT/[SPLIT/]<class>/<image>``) into an :class:`ImageSet`.

    ``root``: a folder, or a tar archive optionally followed by a member prefix
    (``data/FER2013_images.tar/FER2013``); ``prefix`` adds further parts. ``split_dirs``: a
    sub-folder of ``root`` (``"train"``) or several, whose class folders are merged; ``None``
    reads ``root``'s class folders. ``classes``: class names in label order (matched to folder
    names case-insensitively; other folders are skipped and reported); default: the class
    folders found, sorted alphabetically. ``mode``/``on_error``: see the module docstring.
    ``cache=True`` keeps the decoded arrays in the user's cache (:mod:`nnlab.data.cache`).

    Returns images ``(N, C, H, W)`` uint8 sorted by file name, ``labels`` indexing
    ``class_names``, ``files`` (names relative to ``root``'s folder or archive) and ``skipped``.
    """
    check_on_error(on_error)
    check_mode(mode)
    if isinstance(split_dirs, str):
        split_dirs = [split_dirs]
    disk, below = split_root(root)
    below = below + path_parts(prefix)
    set_name = name if name is not None else (below[-1] if below else disk.name.split(".")[0])
    split = "+".join(split_dirs) if split_dirs else ""

    def build() -> ImageSet:
        with ImageSource(disk) as src:
            base = src.find_dir(below) if below else ()
            if base is None:
                raise MissingDataError(f"{src.display(below)}: no such folder in {disk}")
            dirs = []
            for s in split_dirs or [""]:
                d = src.find_dir(path_parts(s), base)
                if d is None:
                    raise MissingDataError(f"{src.display(base + path_parts(s))}: no such folder; found "
                                           f"{src.subdirs(base) or 'no folders'} in {src.display(base)}")
                dirs.append(d)
            ims = read_class_folders(src, dirs, classes, on_error, mode, set_name, split)
            if not cache:
                log_skipped(src.display(base), ims.skipped)
            return ims

    if not cache:
        return build()
    params = {"below": list(below), "split_dirs": list(split_dirs or []), "classes": list(classes or []),
              "on_error": on_error, "mode": mode, "name": set_name}
    return cached_imageset("imagefolder", disk, params, build, enabled=True)


# --------------------------------------------------------------------------------------------
# loose images of any size


def read_images(
    paths_or_folder: str | os.PathLike | Iterable[str | os.PathLike],
    mode: str | None = None,
    on_error: str = "raise",
) -> list[tuple[str, np.ndarray]]:
    """Read image files of any sizes (e.g. super-resolution benchmarks) as ``(name, (C, H, W))``.

    ``paths_or_folder``: a folder (its image files, not recursive, sorted by name), one image
    file, or a list of files (kept in order). ``name`` is the file name (``"baby.png"``).
    Channels: ``mode`` if given, else those of most images (others converted, see the module
    docstring). Nothing is resized: images of different sizes cannot be stacked. A file that
    will not decode raises :class:`DataFormatError` (``on_error="skip"``: logged and left out).
    """
    check_on_error(on_error)
    check_mode(mode)
    if isinstance(paths_or_folder, (str, os.PathLike)):
        p = Path(paths_or_folder).expanduser()
        if p.is_dir():
            files = sorted((f for f in p.iterdir() if f.is_file() and not is_hidden(f.name)),
                           key=lambda f: f.name)
            paths = [f for f in files if is_image_name(f.name)]
            if len(paths) < len(files):
                log.debug("%s: %d file(s) that are not images were not read", p, len(files) - len(paths))
            if not paths:
                raise DataFormatError(
                    p, f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) in this folder")
        elif p.exists():
            paths = [p]
        else:
            raise MissingDataError(f"{p}: no such image file or folder")
    else:
        paths = [Path(x).expanduser() for x in paths_or_folder]
    out: list[tuple[str, np.ndarray]] = []
    skipped: list[tuple[str, str]] = []
    for p in paths:
        try:
            out.append((p.name, decode_image(p, str(p), mode)))
        except DataFormatError as exc:
            if on_error == "raise":
                raise
            skipped.append((str(p), exc.problem))
    log_skipped("read_images", skipped)
    if mode is None and out:
        channels = majority([a.shape[0] for _, a in out])
        out = [(n, to_channels(a, channels)) for n, a in out]
    return out
