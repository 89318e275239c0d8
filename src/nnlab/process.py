"""Process-wide settings nnlab makes for training: glibc's allocator kept from handing memory back.

Training allocates and frees the same large arrays (activations, gradients, im2col buffers) every
step. By default glibc serves every block over 128 KiB (the threshold grows only up to 32 MiB) with
a fresh ``mmap`` and trims the heap back to the OS on each large free, so each step faults its
pages in again: a FER2013 run spent a quarter of its CPU time in the kernel. Raising the mmap
threshold to 32 MiB and the trim threshold to 1 GiB keeps those pages in the process
(``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824`` in the shell does the same,
but only when set before Python starts). :func:`tune_malloc` makes the change with ``mallopt``
from inside the process, once; the CLI and :func:`nnlab.experiments.run_experiment` call it, and
runs record what it set. ``NNLAB_MALLOC=default`` leaves glibc's settings alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024      # the largest glibc accepts (HEAP_MAX / 2 on 64-bit)
TRIM_THRESHOLD = 1024 * 1024 * 1024

_state: dict[str, Any] | None = None


def tune_malloc() -> dict[str, Any]:
    """Set glibc's mmap and trim thresholds for this process (once) and return what holds:
    ``{"allocator": "glibc", "mmap_threshold": ..., "trim_threshold": ...}``, or why nothing was set
    (``{"allocator": "default", "reason": ...}``: not glibc, ``NNLAB_MALLOC=default``, or the user's
    own ``MALLOC_*_`` variables, which win)."""
    global _state
    if _state is not None:
        return _state
    if os.environ.get("NNLAB_MALLOC", "").lower() == "default":
        _state = {"allocator": "default", "reason": "NNLAB_MALLOC=default"}
        return _state
    own = {k: os.environ[k] for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_") if k in os.environ}
    if own:
        _state = {"allocator": "default", "reason": "set by the environment", **own}
        return _state
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
        gnu = getattr(libc, "gnu_get_libc_version", None)
    except OSError:
        mallopt = gnu = None
    if mallopt is None or gnu is None:
        _state = {"allocator": "default", "reason": "not glibc"}
        return _state
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not ok:
        _state = {"allocator": "default", "reason": "mallopt refused the thresholds"}
        return _state
    gnu.restype = ctypes.c_char_p
    _state = {"allocator": f"glibc {gnu().decode()}", "mmap_threshold": MMAP_THRESHOLD,
              "trim_threshold": TRIM_THRESHOLD}
    log.debug("malloc: mmap threshold %d, trim threshold %d", MMAP_THRESHOLD, TRIM_THRESHOLD)
    return _state
