"""Opening a sweep's Optuna storage and study: SQLite or a shared database, created safely by any
number of workers at once, with one-line errors for a missing driver or server.

The study's name on a shared database (:func:`default_study_name`) comes from the experiment
and the grid, so the same command on every machine joins the same study. The only private
Optuna name nnlab uses is read here (:func:`grid_ids`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from nnlab.errors import ConfigError

log = logging.getLogger(__name__)

SQLITE_TIMEOUT_S = 60  # how long a SQLite writer waits for another worker's lock
OPEN_TRIES = 8         # workers that create a new database's schema at once: the losers retry
DRIVERS = {"postgresql": ("psycopg", "postgres"), "mysql": ("pymysql", None)}  # URL scheme: module, nnlab extra


def open_study(url: str, name: str, choices: Mapping[str, Sequence[Any]], direction: str, *,
               heartbeat_s: int, grace_s: int):
    """Optuna's storage at ``url`` and the grid study ``name`` in it (``direction`` "min" or "max"),
    created if new, with trial heartbeats every ``heartbeat_s`` and stale after ``grace_s``.

    Workers that start together on a new database race to create Optuna's schema and the study:
    the ones that lose retry (at most ``OPEN_TRIES`` times, a random fraction of a second apart)
    and join what the winner made. A missing driver, a server that cannot be reached and a URL
    that is not one are one-line :class:`ConfigError` s."""
    import optuna
    import sqlalchemy.exc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for attempt in range(1, OPEN_TRIES + 1):
        try:
            return _create_study(url, name, choices, direction, heartbeat_s, grace_s)
        except ImportError as exc:  # Optuna wraps SQLAlchemy's ModuleNotFoundError of the driver
            missing = exc if isinstance(exc, ModuleNotFoundError) else exc.__cause__
            if url.startswith("sqlite") or not isinstance(missing, ModuleNotFoundError):
                raise
            raise _driver_error(url, missing) from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError,
                optuna.exceptions.DuplicatedStudyError) as exc:
            if attempt == OPEN_TRIES:
                raise ConfigError(f"--storage {masked_url(url)}: could not create or join study "
                                  f"{name!r}: {_first_line(exc)}") from None
            log.info("study %r: another worker is creating it (%s); joining", name, type(exc).__name__)
            time.sleep(random.uniform(0.1, 0.3) * attempt)
        except sqlalchemy.exc.OperationalError as exc:  # no server, refused, bad password
            raise ConfigError(f"--storage {masked_url(url)}: {_first_line(exc)}") from None
        except sqlalchemy.exc.ArgumentError as exc:
            if isinstance(exc, sqlalchemy.exc.NoSuchModuleError):  # the dialect's own import of its driver
                _check_driver(url)                                 # failed (when it was not loaded before)
            raise ConfigError(f"--storage {masked_url(url)} is not a database URL: {exc}") from None
    raise AssertionError("unreachable")


def _create_study(url: str, name: str, choices, direction: str, heartbeat_s: int, grace_s: int):
    import optuna

    sqlite = url.startswith("sqlite")
    kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S, "isolation_level": None}} if sqlite else {}
    with warnings.catch_warnings():  # the heartbeat is "experimental" since optuna 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=heartbeat_s,
                                             grace_period=grace_s)
    if sqlite:  # SQLite ignores SELECT ... FOR UPDATE: without a write lock taken up front, two workers
        import sqlalchemy  # can both take the same queued trial (SQLAlchemy's pysqlite recipe)

        sqlalchemy.event.listen(storage.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    sampler = optuna.samplers.GridSampler(dict(choices))
    study = optuna.create_study(storage=storage, study_name=name, sampler=sampler, load_if_exists=True,
                                direction="minimize" if direction == "min" else "maximize")
    return storage, study


def _check_driver(url: str) -> None:
    """Raise the one-line driver error when the URL scheme's driver (``DRIVERS``) cannot be imported."""
    module = DRIVERS.get(url.partition(":")[0].partition("+")[0], (None, None))[0]
    if module is not None:
        try:
            __import__(module)
        except ModuleNotFoundError as missing:
            raise _driver_error(url, missing) from None


def _driver_error(url: str, exc: ModuleNotFoundError) -> ConfigError:
    """One line for a database driver that is not installed: which one, and how to get it."""
    scheme = url.partition(":")[0].partition("+")[0]
    module, extra = DRIVERS.get(scheme, (exc.name, None))
    how = f'pip install -e ".[{extra}]" (or pip install "nnlab[{extra}]")' if extra else f"pip install {module}"
    return ConfigError(f"--storage {masked_url(url)} needs the database driver {exc.name!r}, which is not "
                       f"installed: {how}")


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def default_study_name(name: str, choices: Mapping[str, Sequence[Any]], *, metric: str, preset: str | None,
                       overrides: Sequence[str], smoke: bool) -> str:
    """The study name for a shared database: the experiment and a digest of the grid and every
    setting, so the same command joins the same study from any machine (and another grid does not)."""
    settings = {"grid": {k: list(v) for k, v in choices.items()}, "metric": metric, "preset": preset,
                "set": list(overrides), "smoke": smoke}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{name}-{digest}"


def grid_ids(sampler) -> dict[tuple, int]:
    """The position of each grid point in Optuna's ``GridSampler``: {values in sorted key order: id}.

    The only use of a private Optuna name in nnlab (``GridSampler._all_grids``, Optuna 3 to 5.1):
    a queued point carries its grid id so that the sampler counts it as visited and stops the
    study when the grid is done, instead of drawing the point again. Without that attribute
    (another sampler, a future Optuna) points are queued without ids, which is still correct.
    """
    return {tuple(g): i for i, g in enumerate(getattr(sampler, "_all_grids", None) or [])}


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
