"""Data-parallel training with ``torch.distributed``, launched by ``torchrun``.

    torchrun --standalone --nproc_per_node=2 my_training_script.py     # one machine
    torchrun --nnodes=2 --node_rank=0 --rdzv_endpoint=HOST:29500 ...    # many machines

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in each process;
:func:`init_distributed` joins the process group (NCCL on GPUs, gloo on CPUs), and the
:class:`~nnlab.torchlib.trainer.Trainer` then wraps its model in ``DistributedDataParallel``.
Every process walks the same seeded order of the data; each takes its share of every global
batch, and the gradients are averaged so that an optimizer step equals the single-process step
on the same global batch.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel job (``world_size == 1``: not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, lo: int, hi: int) -> tuple[int, int]:
        """This process's contiguous part of the global batch ``[lo, hi)``."""
        n = hi - lo
        return lo + self.rank * n // self.world_size, lo + (self.rank + 1) * n // self.world_size

    def all_reduce(self, values: list[float], device: torch.device | str = "cpu") -> list[float]:
        """Sums of ``values`` over all processes (the values themselves when not distributed)."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(backend: str | None = None, timeout_s: float | None = None) -> DistContext:
    """Join the process group that ``torchrun`` describes in the environment (idempotent).

    Returns a single-process context when ``WORLD_SIZE`` is unset or 1. ``timeout_s``: how long a
    collective may wait for the other processes (PyTorch's default, 30 min, when None).
    """
    if dist.is_available() and dist.is_initialized():
        return current()
    if env_world_size() <= 1:
        return DistContext()
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE is set but {', '.join(missing)} is not: launch with torchrun")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, **({"timeout": timedelta(seconds=timeout_s)} if timeout_s else {}))
    ctx = current()
    log.info("joined a %d-process %s group as rank %d", ctx.world_size, backend, ctx.rank)
    return ctx


def current() -> DistContext:
    """The context of the process group this process has joined, if any."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistContext()
    return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def share_from_main(value: Any = None) -> Any:
    """The main process's ``value`` in every process (a broadcast of a picklable object between
    the job's own processes; every process must call it at the same point). Not distributed: ``value``."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shutdown() -> None:
    """Leave the process group (call at the end of a script run under torchrun).

    Waits for every process first, so that none tears down gloo's connections while another is
    still using them (seen as a rare SIGABRT, "terminate called without an active exception",
    at exit); drop the Trainer (its DDP wrapper) before calling this.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
