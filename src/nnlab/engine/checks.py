"""Argument checks the engine's layers share: integer sizes, and arrays that must fit in memory."""

from __future__ import annotations

from nnlab.errors import ConfigError


def as_int(value: object, name: str, minimum: int | None = None) -> int:
    """``value`` as an int for a size or count named ``name``: an int, a NumPy integer or a float
    with no fractional part; anything else (2.5, "abc", True) is a :class:`ConfigError`, as PyTorch
    refuses non-integer sizes instead of truncating them."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__index__"):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        value = int(value)
    out = int(value.__index__()) if not isinstance(value, int) else value
    if minimum is not None and out < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value!r}")
    return out


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits(shape: tuple[int, ...], itemsize: int, what: str) -> None:
    """Refuse, before allocating, an array of ``shape`` that would not fit in the memory available."""
    n = 1
    for s in shape:
        n *= int(s)
    need, free = n * int(itemsize), available_memory()
    if free is not None and need > free:
        raise ConfigError(f"{what} of shape {tuple(shape)} needs {need / 2**30:.1f} GiB, more than the"
                          f" {free / 2**30:.1f} GiB of memory available")
