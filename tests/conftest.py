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


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """Every experiment run once with --smoke, under its default and its seed preset, two at a
    time: (experiment, preset) -> run folder. Shared by the smoke, report and lab-book tests, so
    each smoke run happens once per test session. No data files are read (NNLAB_DATA unset)."""
    from nnlab.experiments import load_all
    from nnlab.experiments.many import run_many

    experiments = {n: e for n, e in load_all().items() if e.run.__module__.startswith("nnlab.")}  # not tests' toys
    jobs = [(n, p) for n, e in sorted(experiments.items()) for p in (None, *(["seed"] if "seed" in e.presets else []))]
    with pytest.MonkeyPatch.context() as mp:  # the spawned workers inherit this environment
        mp.delenv("NNLAB_DATA", raising=False)
        mp.setenv("NNLAB_CACHE", str(tmp_path_factory.mktemp("smoke-cache")))
        runs = run_many(jobs, tmp_path_factory.mktemp("smoke-runs"), smoke=True, workers=2)
    failed = [job for job in jobs if job not in runs]
    assert not failed, f"smoke runs failed: {failed}"
    return runs
