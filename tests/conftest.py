import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def data_dir():
    """The real data sets (``NNLAB_DATA``); tests that need them skip with a reason otherwise."""
    path = os.environ.get("NNLAB_DATA")
    if not path:
        pytest.skip("NNLAB_DATA is not set: real-data tests need the data sets (CI sets ../shared/data)")
    if not Path(path).is_dir():
        pytest.skip(f"NNLAB_DATA={path} is not a folder")
    return Path(path)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own nnlab cache folder: tests never write into the user's home."""
    monkeypatch.setenv("NNLAB_CACHE", str(tmp_path_factory.mktemp("nnlab-cache")))
    monkeypatch.delenv("NNLAB_NO_CACHE", raising=False)


@pytest.fixture(scope="module")
def torch_one_thread():
    """Small tensors: torch's intra-op thread pool only adds latency (and 2 threads slow down
    sharply on a busy machine). Tests that compare with torch use this; it restores the setting."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _smoke_key(name: str, engine: str | None, kwargs: dict) -> tuple:
    """What identifies a smoke run: the experiment, its engine (None: the experiment's first) and
    the other run_experiment arguments (lists as tuples, so that the key hashes)."""
    from nnlab.experiments import get

    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items() if v is not None))
    return name, engine or get(name).engines[0], frozen


class _SmokeRuns:
    """The smoke runs of one test session, each made once: key -> run folder (or the error that ended
    it). Runs are made without data files (NNLAB_DATA unset) and with a cache folder of their own."""

    def __init__(self, root: Path, cache: Path):
        self.root, self.cache, self.done = root, cache, {}

    def run(self, name: str, engine: str | None = None, **kwargs) -> Path:
        key = _smoke_key(name, engine, kwargs)
        if key not in self.done:
            from nnlab.experiments import run_experiment

            out = self.root / f"{len(self.done):02d}-{name}"
            with pytest.MonkeyPatch.context() as mp:
                mp.delenv("NNLAB_DATA", raising=False)
                mp.setenv("NNLAB_CACHE", str(self.cache))
                try:
                    self.done[key] = run_experiment(name, smoke=True, engine=engine, out=out, **kwargs)
                except Exception as exc:  # every later test that needs this run fails the same way, at once
                    self.done[key] = exc
        found = self.done[key]
        if isinstance(found, Exception):
            raise found
        return found


@pytest.fixture(scope="session")
def _smoke_session(tmp_path_factory):
    return _SmokeRuns(tmp_path_factory.mktemp("smoke-runs"), tmp_path_factory.mktemp("smoke-cache"))


@pytest.fixture(scope="session")
def smoke_run(_smoke_session):
    """``smoke_run(name, engine=None, **kwargs) -> Path``: the folder of a finished ``--smoke`` run of
    experiment ``name`` (``kwargs`` as for ``run_experiment``: ``preset``, ``overrides``...), made
    once per test session and shared by every test that asks for the same run (and by
    ``smoke_runs``). For tests that only read a run's outputs: a test that changes, kills or resumes
    a run, or checks a fresh folder, makes its own."""
    return _smoke_session.run


@pytest.fixture(scope="session")
def smoke_runs(_smoke_session):
    """Every experiment run once with --smoke, under its default and its seed preset, two at a
    time: (experiment, preset) -> run folder. Shared by the smoke, report and lab-book tests, so
    each smoke run happens once per test session; the runs ``smoke_run`` already made are reused
    (and the ones made here are ``smoke_run``'s too). No data files are read (NNLAB_DATA unset)."""
    from nnlab.experiments import load_all
    from nnlab.experiments.many import run_many

    experiments = {n: e for n, e in load_all().items() if e.run.__module__.startswith("nnlab.")}  # not tests' toys
    jobs = [(n, p) for n, e in sorted(experiments.items()) for p in (None, *(["seed"] if "seed" in e.presets else []))]
    session = _smoke_session
    keys = {job: _smoke_key(job[0], None, {"preset": job[1]}) for job in jobs}
    missing = [job for job in jobs if keys[job] not in session.done]
    if missing:
        with pytest.MonkeyPatch.context() as mp:  # the spawned workers inherit this environment
            mp.delenv("NNLAB_DATA", raising=False)
            mp.setenv("NNLAB_CACHE", str(session.cache))
            made = run_many(missing, session.root / "many", smoke=True, workers=2)
        for job in missing:
            session.done[keys[job]] = made.get(job, RuntimeError(f"the smoke run of {job} failed (see the log)"))
    runs = {job: session.done[keys[job]] for job in jobs}
    failed = [job for job, run in runs.items() if isinstance(run, Exception)]
    assert not failed, f"smoke runs failed: {failed}"
    return runs
