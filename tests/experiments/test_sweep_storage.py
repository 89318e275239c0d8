"""Sweeps against a real PostgreSQL server: workers on "two machines" (two processes with their
own sweep folders) started at the same instant on a fresh database, one of them SIGKILLed
mid-trial; the study name they share; the driver and connection errors.

The server: ``NNLAB_TEST_POSTGRES=postgresql://USER@HOST:PORT/DB`` (``.ci/run`` starts one with
``.ci/postgres``); without it the server tests skip. Each test gets a database of its own.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

import tests.experiments.dummy  # noqa: F401  (registers the dummy-test experiment)
from nnlab.errors import ConfigError
from nnlab.experiments.sweep import run_sweep
from nnlab.experiments.sweep_storage import default_study_name, open_study
from nnlab.reporting.sweep_report import read_results

ROOT = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("NNLAB_TEST_POSTGRES")
needs_server = pytest.mark.skipif(not SERVER, reason="no PostgreSQL server: set NNLAB_TEST_POSTGRES="
                                  "postgresql://USER@HOST:PORT/DB (.ci/run starts one with .ci/postgres)")


def test_ci_runs_the_server_tests():
    if os.environ.get("NNLAB_REQUIRE_POSTGRES") and not SERVER:
        pytest.fail("NNLAB_REQUIRE_POSTGRES is set but NNLAB_TEST_POSTGRES is not: the server tests would skip")
    if os.environ.get("NNLAB_REQUIRE_POSTGRES"):
        import psycopg  # the postgres extra, which .ci/run installs

        with psycopg.connect(SERVER, connect_timeout=10) as conn:
            assert conn.execute("select 1").fetchone() == (1,)


@pytest.fixture
def database():
    """The URL of a new, empty database on the test server, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg", reason='the postgres extra is not installed: pip install -e ".[postgres]"')
    name = f"nnlab_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield SERVER.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _machine(out: Path, storage: str, grid: dict, start_at: float, overrides=()) -> subprocess.Popen:
    """A process standing in for one machine: waits for ``start_at`` (so that several start at
    the same instant), then runs the sweep into its own folder ``out``; its output is piped."""
    code = textwrap.dedent(f"""
        import logging, time
        import tests.experiments.dummy
        from nnlab.experiments.sweep import run_sweep
        logging.basicConfig(level=logging.INFO)
        time.sleep(max(0.0, {start_at!r} - time.time()))
        run_sweep("dummy-test", {grid!r}, out={str(out)!r}, storage={storage!r}, smoke=True,
                  overrides={list(overrides)!r})
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _trials(storage: str, grid: dict, overrides=()):
    import optuna

    name = default_study_name("dummy-test", grid, metric="test_accuracy:max", preset=None, overrides=overrides,
                              smoke=True)
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


@needs_server
@pytest.mark.slow
def test_two_machines_started_at_once_on_a_fresh_database_run_every_point_once(tmp_path, database):
    grid = {"epochs": [1, 2, 3, 4, 5, 6]}
    start = time.time() + 3.0  # both import nnlab first, then open the new database in the same instant
    procs = [_machine(tmp_path / m, database, grid, start) for m in "ab"]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    complete = [t.user_attrs["point"] for t in _trials(database, grid) if t.state.name == "COMPLETE"]
    assert sorted(complete) == sorted(f"epochs={e}" for e in grid["epochs"])  # every point exactly once
    ran = {m: {p.name for p in (tmp_path / m / "trials").iterdir()} if (tmp_path / m / "trials").exists() else set()
           for m in "ab"}
    assert sorted(ran["a"] | ran["b"]) == sorted(complete) and not ran["a"] & ran["b"]
    for m, other in ("ab", "ba"):  # each machine's report lists every point, wherever it ran
        rows = read_results(tmp_path / m)
        assert [r["state"] for r in rows] == ["COMPLETE"] * 6
        for r in rows:
            point = f"epochs={r['epochs']}"
            here = point in ran[m]
            assert r["run"] == (f"trials/{point}" if here else str((tmp_path / other / "trials" / point).resolve()))


@needs_server
@pytest.mark.slow
def test_a_machine_killed_mid_trial_has_its_trial_run_again_by_the_other(tmp_path, database):
    grid, slow = {"epochs": [1, 2, 3]}, ["sleep_s=3"]
    a = _machine(tmp_path / "a", database, grid, time.time(), slow)
    deadline = time.time() + 120
    while time.time() < deadline:  # until machine A is inside a trial
        try:
            if any(t.state.name == "RUNNING" and t.user_attrs.get("pid") == a.pid
                   for t in _trials(database, grid, slow)):
                break
        except KeyError:  # the study does not exist yet
            pass
        time.sleep(0.2)
    else:
        pytest.fail("machine A never started a trial: " + a.communicate(timeout=5)[0])
    os.kill(a.pid, signal.SIGKILL)
    a.communicate(timeout=30)
    b = _machine(tmp_path / "b", database, grid, time.time(), slow)
    out = b.communicate(timeout=300)[0]
    assert b.returncode == 0, out
    trials = _trials(database, grid, slow)
    assert sorted(t.user_attrs["point"] for t in trials if t.state.name == "COMPLETE") == \
        ["epochs=1", "epochs=2", "epochs=3"]
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert len(failed) == 1 and failed[0].user_attrs["pid"] == a.pid  # A's trial, failed and run again by B
    assert "its worker is gone; running it again" in out


def test_a_trial_from_another_machine_is_marked_in_the_report(tmp_path):
    from types import SimpleNamespace

    from nnlab.experiments.sweep import _run_location
    from nnlab.experiments.sweep_grid import Point

    plan = SimpleNamespace(sweep_dir=str(tmp_path))
    point = Point({"epochs": 1}, ("epochs=1",), "epochs=1")
    here = SimpleNamespace(user_attrs={"host": socket.gethostname(), "run_dir": str(tmp_path / "trials" / "epochs=1")})
    there = SimpleNamespace(user_attrs={"host": "lab-pc-7", "run_dir": "/home/x/runs/s/trials/epochs=1"})
    assert _run_location(plan, here, point) == "trials/epochs=1"
    assert _run_location(plan, there, point) == "lab-pc-7:/home/x/runs/s/trials/epochs=1 (on another machine)"
    assert _run_location(plan, None, point) == "trials/epochs=1"


@needs_server
def test_four_workers_opening_a_new_database_at_once_all_join_one_study(database):
    start = time.time() + 2.5  # after their imports, the same instant
    code = textwrap.dedent(f"""
        import time
        from nnlab.experiments.sweep_storage import open_study
        time.sleep(max(0.0, {start!r} - time.time()))
        storage, study = open_study({database!r}, "s", {{"x": [1, 2]}}, "min", heartbeat_s=20, grace_s=60)
        print(storage.get_study_id_from_name("s"))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [o[1][-2000:] for o in outs]
    assert len({o[0].strip() for o in outs}) == 1  # one study, whoever created it


@needs_server
def test_the_same_command_joins_the_same_study_and_another_grid_does_not(tmp_path, database):
    a = run_sweep("dummy-test", {"epochs": [1]}, out=tmp_path / "a", storage=database, smoke=True)
    b = run_sweep("dummy-test", {"epochs": [1]}, out=tmp_path / "b", storage=database, smoke=True)
    assert not (b / "trials").exists()                       # B found the point done by A
    row = read_results(b)[0]
    assert row["state"] == "COMPLETE" and row["run"] == str(a / "trials" / "epochs=1")
    c = run_sweep("dummy-test", {"epochs": [2]}, out=tmp_path / "c", storage=database, smoke=True)
    assert [p.name for p in (c / "trials").iterdir()] == ["epochs=2"]  # another grid, another study
    trial = _trials(database, {"epochs": [1]})[0]
    assert trial.user_attrs["metrics"]["test_accuracy"] == json.loads(
        (a / "trials" / "epochs=1" / "metrics.json").read_text())["test_accuracy"]  # numbers in the database


def test_a_missing_driver_or_server_is_one_line(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name.split(".")[0] in ("psycopg", "psycopg2"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(ConfigError, match=r'needs the database driver .psycopg.*pip install -e "\.\[postgres\]"') as e:
        open_study("postgresql://u:secret@127.0.0.1:1/db", "s", {"x": [1]}, "min", heartbeat_s=20, grace_s=60)
    assert "secret" not in str(e.value) and "\n" not in str(e.value)
    monkeypatch.setattr(builtins, "__import__", real)
    pytest.importorskip("psycopg")
    with pytest.raises(ConfigError, match=r"--storage postgresql://u:\*\*\*@127.0.0.1:1/db: .*") as e:
        open_study("postgresql://u:secret@127.0.0.1:1/db", "s", {"x": [1]}, "min", heartbeat_s=20, grace_s=60)
    assert "\n" not in str(e.value)
