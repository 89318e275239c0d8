"""Thread settings for NumPy training.

``Sequential.fit(workers=N)`` runs N threads, each doing BLAS calls; it is fastest when the BLAS
itself uses one thread, so that the workers do not compete with the BLAS's own (spinning)
threads. :func:`limit_blas_threads` sets that for a block of code, using ``threadpoolctl``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def limit_blas_threads(n: int = 1) -> Iterator[None]:
    """Limit every BLAS library loaded in this process to ``n`` threads inside the block."""
    from threadpoolctl import threadpool_limits  # lazy: only this helper needs it

    with threadpool_limits(limits=n, user_api="blas"):
        yield


def blas_threads() -> dict[str, int]:
    """The current thread count of each loaded BLAS library (for logs and benchmark records)."""
    from threadpoolctl import threadpool_info

    return {f"{i['internal_api']}:{i.get('version')}": i["num_threads"] for i in threadpool_info()
            if i.get("user_api") == "blas"}
