"""Where data sets come from: an explicit folder alone, else ``NNLAB_DATA``, then the user's cache.

Each named data set declares the files it needs (:class:`DataFiles`), relative to its folder
inside a data root (``ROOT/mnist/train-images-idx3-ubyte.gz``...). :func:`locate` finds the
first root that has them all; if none has, public sets are downloaded (with checksums) into
the cache when ``download=True``, and otherwise :class:`MissingDataError` lists exactly which
files are expected where.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from nnlab.data.cache import cache_dir
from nnlab.data.errors import ChecksumError, MissingDataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteFile:
    """A file of a public data set: its name, where to fetch it, and its checksum."""

    name: str
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DataFiles:
    """The files a data set needs, relative to ``ROOT/folder``.

    ``alternatives`` are lists of files of which *any one complete list* suffices (e.g. the
    image-folder tar or the unpacked folder). ``how_to_get`` explains the manual route.
    """

    folder: str
    alternatives: tuple[tuple[RemoteFile, ...], ...]
    how_to_get: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def data_roots(data_dir: str | Path | None = None) -> list[tuple[str, Path]]:
    """The folders searched, in order, each with where it came from.

    An explicit ``data_dir`` is the only folder searched: a file missing there is an error, never
    silently read from ``NNLAB_DATA`` or the cache instead.
    """
    if data_dir is not None:
        return [("--data-dir", Path(data_dir).expanduser())]
    roots: list[tuple[str, Path]] = []
    env = os.environ.get("NNLAB_DATA")
    if env:
        roots.append(("NNLAB_DATA", Path(env).expanduser()))
    roots.append(("cache", cache_dir() / "data"))
    return roots


def _present(base: Path, files: Sequence[RemoteFile]) -> bool:
    return all((base / f.name).exists() for f in files)


def locate(
    spec: DataFiles,
    data_dir: str | Path | None = None,
    download: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    name: str | None = None,
) -> tuple[Path, tuple[RemoteFile, ...]]:
    """Return ``(folder, files)`` for the first root holding one complete alternative.

    With ``download=True`` a public set missing everywhere is downloaded into the cache and
    verified. Otherwise :class:`MissingDataError` says what to put where.
    """
    roots = data_roots(data_dir)
    for _, root in roots:
        base = root / spec.folder
        for files in spec.alternatives:
            if _present(base, files):
                return base, files
    downloadable = [alt for alt in spec.alternatives if all(f.url for f in alt)]
    if download and downloadable:
        target = cache_dir() / "data" / spec.folder
        for f in downloadable[0]:
            if not (target / f.name).exists():
                fetch(f, target, progress=progress)
        return target, downloadable[0]
    raise MissingDataError(missing_message(spec, roots, can_download=bool(downloadable), name=name))


def missing_message(spec: DataFiles, roots: list[tuple[str, Path]], can_download: bool, name: str | None = None) -> str:
    name = name or spec.folder
    lines = [f"data set {name!r} not found. Looked in:"]
    for origin, root in roots:
        base = root / spec.folder
        state = "folder missing" if not base.exists() else "incomplete"
        lines.append(f"  {base}  ({origin}; {state})")
    lines.append(f"Put one of these file sets into <DATA>/{spec.folder}/, where <DATA> is --data-dir or $NNLAB_DATA:")
    for i, files in enumerate(spec.alternatives, 1):
        lines.append(f"  option {i}:")
        for f in files:
            check = f"  sha256 {f.sha256}" if f.sha256 else (f"  md5 {f.md5}" if f.md5 else "")
            lines.append(f"    {f.name}{check}")
    if spec.how_to_get:
        lines.append(spec.how_to_get)
    if [origin for origin, _ in roots] == ["--data-dir"]:
        lines.append("Only --data-dir was looked in; without it nnlab looks in $NNLAB_DATA, then the cache.")
    if can_download:
        lines.append(f"Or, when online: nnlab data fetch {name}  (downloads and verifies the public files)")
    return "\n".join(lines)


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | Path, f: RemoteFile) -> None:
    """Raise :class:`ChecksumError` if ``path`` does not match ``f``'s size and checksum."""
    path = Path(path)
    if f.size is not None and path.stat().st_size != f.size:
        raise ChecksumError(f"{path}: {path.stat().st_size} bytes, expected {f.size}")
    for algorithm in ("sha256", "md5"):
        expected = getattr(f, algorithm)
        if expected:
            actual = file_digest(path, algorithm)
            if actual != expected:
                raise ChecksumError(f"{path}: {algorithm} {actual}, expected {expected} (corrupt or wrong file)")
            return


def fetch(
    f: RemoteFile,
    target_dir: str | Path,
    progress: Callable[[int, int | None], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``f.url`` into ``target_dir/f.name``, verify it, and move it in place atomically.

    ``progress(bytes_done, bytes_total)`` is called as data arrives (the CLI shows a bar).
    Nothing is left behind if the download or the check fails.
    """
    if not f.url:
        raise MissingDataError(f"{f.name} has no public download address; it must be copied by hand")
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    dest = target_dir / f.name
    fd, tmp = tempfile.mkstemp(prefix=f".{f.name}.", suffix=".part", dir=target_dir)
    log.info("downloading %s from %s", f.name, f.url)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(f.url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            total_n = int(total) if total and total.isdigit() else f.size
            done = 0
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                out.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total_n)
        verify(tmp, f)
        shutil.move(tmp, dest)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MissingDataError(f"could not download {f.name} from {f.url}: {exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
