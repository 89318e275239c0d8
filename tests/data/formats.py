"""Helpers that write tiny fixtures in the real on-disk formats (images, trees, tars)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def encode(arr, fmt="PNG", mode=None, **save_kwargs) -> bytes:
    """Bytes of an image file holding ``arr`` ((H, W) or (H, W, C) uint8)."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, np.uint8), mode).save(buf, fmt, **save_kwargs)
    return buf.getvalue()


def write(path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_tree(root, members: dict[str, bytes]) -> Path:
    """Write {relative name: bytes} under ``root``."""
    for name, data in members.items():
        write(Path(root) / name, data)
    return Path(root)


def tree_members(root) -> dict[str, bytes]:
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def make_tar(path, members: dict[str, bytes], compression: str = "", sort: bool = False,
             top_dir_entry: bool = False) -> Path:
    """A tar of {member name: bytes} (in the given order, or sorted), optionally with a
    directory entry for the first member's top folder, as real archives have."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w" + (f":{compression}" if compression else "")) as tf:
        if top_dir_entry and members:
            d = tarfile.TarInfo(next(iter(members)).split("/")[0])
            d.type = tarfile.DIRTYPE
            tf.addfile(d)
        for name, data in (sorted(members.items()) if sort else members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_483_228_800
            tf.addfile(info, io.BytesIO(data))
    return path


def snapshot(folder) -> list[tuple[str, int, int]]:
    """(name, size, mtime) of everything below ``folder``: compare before/after to prove no writes."""
    folder = Path(folder)
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))
