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

import io
import logging
import os
import tarfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from nnlab.data.cache import cached_arrays
from nnlab.data.dataset import ImageSet
from nnlab.data.errors import DataFormatError, MissingDataError

log = logging.getLogger(__name__)

#: file extensions read as images (lower case)
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)
_MODES = (None, "RGB", "L")
_GRAY_MODES = {"1", "L", "LA", "La", "I", "F"}
_ON_ERROR = ("skip", "raise")
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def is_image_name(name: str) -> bool:
    """Whether ``name`` has an image extension (:data:`IMAGE_EXTENSIONS`)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def check_on_error(on_error: str) -> None:
    """Raise ``ValueError`` unless ``on_error`` is ``"skip"`` or ``"raise"``."""
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")


def _check_mode(mode: str | None) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'RGB', 'L' or None, got {mode!r}")


# --------------------------------------------------------------------------------------------
# single images


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
    _check_mode(mode)
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


def _to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    if arr.shape[0] == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=0)
    gray = Image.fromarray(arr.transpose(1, 2, 0), "RGB").convert("L")
    return np.asarray(gray)[None]


def _majority(values: Sequence[Any]) -> Any:
    """The most common value; ties go to the one seen first."""
    return Counter(values).most_common(1)[0][0]


# --------------------------------------------------------------------------------------------
# where files come from: a folder or a tar archive


def split_root(root: str | os.PathLike) -> tuple[Path, tuple[str, ...]]:
    """Split ``root`` into (an existing folder or file on disk, member-path parts below it).

    ``"a/b.tar/FER2013/train"`` gives ``(Path("a/b.tar"), ("FER2013", "train"))``. Raises
    :class:`MissingDataError` if no leading part of ``root`` exists.
    """
    path = Path(root).expanduser()
    rest: list[str] = []
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            raise MissingDataError(f"{path}: no such folder or tar archive")
        rest.insert(0, probe.name)
        probe = probe.parent
    if rest and probe.is_dir():
        raise MissingDataError(f"{path}: no such folder ({probe} has no {rest[0]!r})")
    return probe, tuple(rest)


def _parts(path: str | Sequence[str] | None) -> tuple[str, ...]:
    if path is None:
        return ()
    if not isinstance(path, str):
        path = "/".join(path)
    return tuple(p for p in path.replace("\\", "/").split("/") if p not in ("", "."))


def _hidden(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"


class ImageSource:
    """The regular files below a folder or inside a tar archive, read in place.

    ``files`` lists every file as a tuple of path parts relative to ``path`` (the folder or the
    archive), sorted; hidden files are left out. Archive members that are not read (links,
    unsafe paths) are listed by :meth:`ignored_under` as ``(name, reason)``. Use as a context
    manager to close the archive. A damaged archive raises :class:`DataFormatError` naming it.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.path, self.prefix = split_root(root)
        self.is_archive = self.path.is_file()
        self._ignored: list[tuple[tuple[str, ...], str, str]] = []  # (parts, name, reason)
        self._tar: tarfile.TarFile | None = None
        self._members: dict[tuple[str, ...], tarfile.TarInfo] = {}
        if self.is_archive:
            try:
                self._open_archive()
            except BaseException:
                self.close()
                raise
            self.files = sorted(self._members)
        else:
            self.files = self._walk()
        self._dirs: set[tuple[str, ...]] = {f[:i] for f in self.files for i in range(len(f))}
        if self.prefix:
            found = self.find_dir(self.prefix)
            if found is None:
                raise MissingDataError(f"{self.display(self.prefix)}: no such folder in {self.path}")
            self.prefix = found

    # -- listing
    def _walk(self) -> list[tuple[str, ...]]:
        def fail(exc: OSError) -> None:  # an unreadable sub-folder is an error, not a silent gap
            raise DataFormatError(exc.filename or self.path, f"cannot list the folder ({exc.strerror or exc})")

        out = []
        for dirpath, dirnames, filenames in os.walk(self.path, onerror=fail):
            dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
            rel = Path(dirpath).relative_to(self.path).parts
            out.extend(rel + (f,) for f in filenames if not _hidden(f))
        return sorted(out)

    def _open_archive(self) -> None:
        with open(self.path, "rb") as f:
            head = f.read(6)
        compressed = any(head.startswith(m) for m in _COMPRESSED_MAGIC)
        try:
            self._tar = tarfile.open(self.path, "r:*")
            members = self._tar.getmembers()
        except tarfile.ReadError as exc:
            what = "truncated tar archive" if "unexpected end" in str(exc) else "not a readable tar archive"
            raise DataFormatError(self.path, f"{what} ({exc})") from exc
        except (EOFError, OSError, ValueError) as exc:  # zlib/lzma/bz2 stream errors
            raise DataFormatError(self.path, f"damaged archive ({type(exc).__name__}: {exc})") from exc
        if not compressed:
            self._check_end_marker(self._tar.offset)
        for m in members:
            parts = _parts(m.name)
            if not parts or any(_hidden(p) for p in parts):
                continue
            if m.isdir():
                continue
            if ".." in parts:
                self._ignored.append((parts, m.name, "unsafe member path with '..'; not read"))
            elif not m.isfile():
                self._ignored.append((parts, m.name, "not a regular file (link or device); not read"))
            else:
                self._members[parts] = m  # a name stored twice: the last copy wins, as tar does

    def _check_end_marker(self, offset: int) -> None:
        """A plain tar ends with zero blocks; tarfile silently stops at a truncated header."""
        with open(self.path, "rb") as f:
            f.seek(offset)
            block = f.read(512)
        if len(block) < 512 or block.strip(b"\0"):
            raise DataFormatError(
                self.path, f"truncated or corrupt tar archive: no valid header or end-of-archive "
                           f"marker at byte {offset} of {os.path.getsize(self.path)}")

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- names
    @staticmethod
    def name(parts: Sequence[str]) -> str:
        """The relative name of a file (an archive member name), ``/``-separated."""
        return "/".join(parts)

    def display(self, parts: Sequence[str]) -> str:
        """Where a file is, for messages: ``folder/rel/name`` or ``archive.tar/member``."""
        return f"{self.path}/{self.name(parts)}" if parts else str(self.path)

    def find_dir(self, parts: Sequence[str], base: Sequence[str] = ()) -> tuple[str, ...] | None:
        """The folder ``base/parts`` as it is spelt in the source (case-insensitive), or ``None``."""
        cur = tuple(base)
        for part in parts:
            children = {d[-1] for d in self._dirs if len(d) == len(cur) + 1 and d[:len(cur)] == cur}
            if part in children:
                cur = cur + (part,)
                continue
            matches = sorted(c for c in children if c.lower() == part.lower())
            if not matches:
                return None
            if len(matches) > 1:
                raise DataFormatError(self.display(cur + (part,)),
                                      f"ambiguous folder name: {matches} differ only in case")
            cur = cur + (matches[0],)
        return cur

    def subdirs(self, base: Sequence[str]) -> list[str]:
        """The folder names directly inside ``base``, sorted."""
        base = tuple(base)
        return sorted({d[len(base)] for d in self._dirs if len(d) > len(base) and d[:len(base)] == base})

    def ignored_under(self, base: Sequence[str]) -> list[tuple[str, str]]:
        """The archive members below ``base`` that are not read, as ``(name, reason)``."""
        base = tuple(base)
        return [(name, why) for parts, name, why in self._ignored if parts[:len(base)] == base]

    def files_under(self, base: Sequence[str]) -> list[tuple[str, ...]]:
        """The files below folder ``base`` (all depths), sorted."""
        base = tuple(base)
        return [f for f in self.files if len(f) > len(base) and f[:len(base)] == base]

    # -- reading
    def read_many(self, files: Sequence[tuple[str, ...]]) -> Iterator[tuple[int, bytes | OSError]]:
        """Yield ``(index into files, bytes)`` in the cheapest order (archive order for tars).

        A folder file that cannot be read yields its ``OSError`` instead of bytes (the caller
        applies ``on_error``); an archive that cannot be read raises :class:`DataFormatError`.
        """
        if not self.is_archive:
            for i, parts in enumerate(files):
                try:
                    yield i, (self.path.joinpath(*parts)).read_bytes()
                except OSError as exc:
                    yield i, exc
            return
        assert self._tar is not None
        order = sorted(range(len(files)), key=lambda i: self._members[files[i]].offset_data)
        for i in order:
            member = self._members[files[i]]
            try:
                f = self._tar.extractfile(member)
                data = f.read() if f is not None else b""
            except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                raise DataFormatError(self.path, f"truncated or corrupt tar archive: cannot read member "
                                                 f"{member.name!r} ({type(exc).__name__}: {exc})") from exc
            if len(data) != member.size:
                raise DataFormatError(self.path, f"truncated tar archive: member {member.name!r} has "
                                                 f"{len(data)} of its {member.size} bytes")
            yield i, data


# --------------------------------------------------------------------------------------------
# decoding many images into one array


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
    size = _majority([a.shape[1:] for a in arrays])
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
    channels = {"RGB": 3, "L": 1}.get(mode or "") or _majority([arrays[i].shape[0] for i in keep])
    out = np.empty((len(keep), channels) + tuple(size), np.uint8)
    for j, i in enumerate(keep):
        out[j] = _to_channels(arrays[i], channels)
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


# --------------------------------------------------------------------------------------------
# ImageSet <-> cache entry


def imageset_to_arrays(ims: ImageSet) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """An :class:`ImageSet` as ``(arrays, JSON metadata)`` for :func:`cached_arrays`."""
    arrays = {"images": ims.images}
    if ims.labels is not None:
        arrays["labels"] = ims.labels
    arrays.update({f"target_{k}": v for k, v in ims.targets.items()})
    meta = {"class_names": list(ims.class_names), "name": ims.name, "split": ims.split,
            "files": ims.files, "skipped": [list(s) for s in ims.skipped], "source": ims.source,
            "targets": list(ims.targets), "labelled": ims.labels is not None}
    return arrays, meta


def imageset_from_arrays(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ImageSet:
    """The inverse of :func:`imageset_to_arrays`."""
    return ImageSet(
        images=arrays["images"],
        labels=arrays["labels"] if meta["labelled"] else None,
        class_names=list(meta["class_names"]),
        name=meta["name"],
        split=meta["split"],
        targets={k: arrays[f"target_{k}"] for k in meta["targets"]},
        files=meta["files"],
        skipped=[tuple(s) for s in meta["skipped"]],  # type: ignore[misc]
        source=meta["source"],
    )


def cached_imageset(name: str, source: Path, params: dict[str, Any], build: Any, enabled: bool,
                    logger: logging.Logger | None = None) -> ImageSet:
    """``build()`` (returning an :class:`ImageSet`) through :func:`cached_arrays`.

    The entry is keyed by ``name``, ``params`` and ``source``'s path, size and mtime (for a
    folder: of every file in it), so it is rebuilt when the source changes. Skipped files are
    logged on every load, from the cache too.
    """
    arrays, meta = cached_arrays(name, [source], params, lambda: imageset_to_arrays(build()), enabled=enabled)
    ims = imageset_from_arrays(arrays, meta)
    log_skipped(f"{source}" + (f" ({ims.split})" if ims.split else ""), ims.skipped, logger=logger)
    return ims


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
    _check_mode(mode)
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
    _check_mode(mode)
    if isinstance(split_dirs, str):
        split_dirs = [split_dirs]
    disk, below = split_root(root)
    below = below + _parts(prefix)
    set_name = name if name is not None else (below[-1] if below else disk.name.split(".")[0])
    split = "+".join(split_dirs) if split_dirs else ""

    def build() -> ImageSet:
        with ImageSource(disk) as src:
            base = src.find_dir(below) if below else ()
            if base is None:
                raise MissingDataError(f"{src.display(below)}: no such folder in {disk}")
            dirs = []
            for s in split_dirs or [""]:
                d = src.find_dir(_parts(s), base)
                if d is None:
                    raise MissingDataError(f"{src.display(base + _parts(s))}: no such folder; found "
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
    _check_mode(mode)
    if isinstance(paths_or_folder, (str, os.PathLike)):
        p = Path(paths_or_folder).expanduser()
        if p.is_dir():
            files = sorted((f for f in p.iterdir() if f.is_file() and not _hidden(f.name)),
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
        channels = _majority([a.shape[0] for _, a in out])
        out = [(n, _to_channels(a, channels)) for n, a in out]
    return out
