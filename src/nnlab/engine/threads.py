"""The engine's own threads, for the work NumPy leaves on one core.

BLAS spreads a matrix product over every core, but NumPy's element-wise passes and reductions
(batch normalisation, pooling, activations, im2col copies) run on the calling thread. They
release the GIL, so the engine splits such work over the batch and runs the parts on a small
pool of threads, the calling thread taking the first part.

The number of threads is :func:`set_threads`'s, else ``NNLAB_ENGINE_THREADS``, else
``OMP_NUM_THREADS`` (what caps BLAS too), else the cores this process may run on. Work smaller
than :data:`MIN_PARALLEL` values stays on the calling thread: a hand-off costs some
microseconds. The results do not depend on the thread count: each part computes its own rows,
and partial sums are added in a fixed order.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

#: below this many values (per call) the work is not split
MIN_PARALLEL = 1 << 16

_threads: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()
_warned: set[str] = set()
log = logging.getLogger(__name__)


def _default_threads() -> int:
    for var in ("NNLAB_ENGINE_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
        if value and var == "NNLAB_ENGINE_THREADS" and value not in _warned:   # a typo says so, once
            _warned.add(value)
            log.warning("NNLAB_ENGINE_THREADS=%r is not a whole number >= 1; ignored", value)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def num_threads() -> int:
    """How many threads the engine's element-wise work uses."""
    return _threads if _threads is not None else _default_threads()


def set_threads(n: int | None) -> int | None:
    """Use ``n`` threads (None: the default again); returns the previous setting."""
    global _threads
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"the engine's threads must be a whole number >= 1, got {n!r}")
    previous, _threads = _threads, n
    return previous


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(workers, thread_name_prefix="nnlab-engine"), workers
        return _pool


def _forget_pool() -> None:  # a forked child has none of the parent's threads
    global _pool, _pool_size
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """``range(n)`` cut into at most ``parts`` contiguous, nearly equal, non-empty pieces."""
    parts = max(1, min(parts, n))
    return [(n * k // parts, n * (k + 1) // parts) for k in range(parts)]


#: the size of the blocks :func:`blocks` cuts a piece into: several passes over one block stay in
#: the (L2) cache, where each pass over a whole batch would stream it from memory again
BLOCK_BYTES = 1 << 18


def blocks(lo: int, hi: int, item_bytes: int) -> list[tuple[int, int]]:
    """``range(lo, hi)`` cut into contiguous blocks of about :data:`BLOCK_BYTES` (``item_bytes``
    each item), at least one item per block."""
    step = max(1, BLOCK_BYTES // max(1, item_bytes))
    return [(a, min(hi, a + step)) for a in range(lo, hi, step)]


def split(fn: Callable[[int, int], Any], n: int, work: int) -> list[Any]:
    """``[fn(lo, hi) for each piece of range(n)]``, the pieces run at once on the engine's
    threads when ``work`` (the values the call touches) is at least :data:`MIN_PARALLEL`;
    results in the pieces' order. An exception in any piece is raised here."""
    parts = min(num_threads(), n) if work >= MIN_PARALLEL else 1
    if parts <= 1 or threading.current_thread().name.startswith("nnlab-engine"):
        return [fn(0, n)]
    pieces = ranges(n, parts)
    futures = [_executor(parts - 1).submit(fn, lo, hi) for lo, hi in pieces[1:]]
    results, error = [], None
    try:
        results.append(fn(*pieces[0]))
    except BaseException as exc:  # the other pieces still finish before the error goes up
        error = exc
    for f in futures:
        try:
            results.append(f.result())
        except BaseException as exc:
            error = error or exc
    if error is not None:
        raise error
    return results
