"""Where image files come from: a folder, or a tar archive (plain, ``.gz``, ``.bz2``, ``.xz``) read in
place with an optional member prefix. The layout rules are described in :mod:`nnlab.data.images`.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from nnlab.data.errors import DataFormatError, MissingDataError

_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


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


def path_parts(path: str | Sequence[str] | None) -> tuple[str, ...]:
    if path is None:
        return ()
    if not isinstance(path, str):
        path = "/".join(path)
    return tuple(p for p in path.replace("\\", "/").split("/") if p not in ("", "."))


def is_hidden(part: str) -> bool:
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
            dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
            rel = Path(dirpath).relative_to(self.path).parts
            out.extend(rel + (f,) for f in filenames if not is_hidden(f))
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
            parts = path_parts(m.name)
            if not parts or any(is_hidden(p) for p in parts):
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
