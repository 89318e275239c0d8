"""Grid sweeps on Optuna: every point runs once, reports, resumes, workers, the command line."""

import dataclasses
import os
from pathlib import Path
import socket
import subprocess
import sys
import time

import pytest

import tests.experiments.dummy  # noqa: F401  (registers the dummy-test experiment)
from nnlab.errors import ConfigError
from nnlab.experiments import EXPERIMENTS, sweep
from nnlab.experiments.sweep import run_sweep
from nnlab.experiments.sweep_grid import parse_grid
from nnlab.reporting.sweep_report import read_results

GRID = {"optimizer.lr": ["0.05", "0.2"], "hidden": ["[4]", "[8, 8]"]}


@pytest.fixture
def calls(monkeypatch):
    """The grid points run_experiment was called for (it still runs them)."""
    made = []

    def counting(name, **kwargs):
        made.append(kwargs["out"].name)
        return real(name, **kwargs)

    real = sweep.run_experiment
    monkeypatch.setattr(sweep, "run_experiment", counting)
    return made


def _study(sweep_dir):
    import optuna

    return optuna.load_study(study_name=f"dummy-test-{sweep_dir.name}", storage=f"sqlite:///{sweep_dir / 'study.db'}")


def _ctrl_c(name, **kwargs):
    raise KeyboardInterrupt


def _ctrl_c_at(call, monkeypatch):
    """Make run_experiment press Ctrl-C at its ``call``-th call; return the points it is called for."""
    made, real = [], sweep.run_experiment

    def run(name, **kwargs):
        made.append(kwargs["out"].name)
        if len(made) == call:
            raise KeyboardInterrupt
        return real(name, **kwargs)

    monkeypatch.setattr(sweep, "run_experiment", run)
    return made


def test_parse_grid_splits_values_outside_brackets():
    assert parse_grid(["lr=0.1, 1e-3", "hidden=[8, 8],[4]", "act='a,b',relu"]) == {
        "lr": ["0.1", "1e-3"], "hidden": ["[8, 8]", "[4]"], "act": ["'a,b'", "relu"]}
    for bad, message in [(["lr"], "KEY=V1,V2"), (["lr=0.1,,0.2"], "empty value"), (["a=1", "a=2"], "twice")]:
        with pytest.raises(ConfigError, match=message):
            parse_grid(bad)


@pytest.mark.slow
def test_a_2x2_grid_runs_four_trials_and_writes_the_report(tmp_path, calls):
    out = run_sweep("dummy-test", GRID, out=tmp_path / "s", smoke=True)
    assert out == (tmp_path / "s").resolve() and len(calls) == 4
    assert sorted(p.name for p in (out / "trials").iterdir()) == sorted(calls)
    assert "optimizer.lr=0.05,hidden=8x8" in calls           # no brackets: a shell would take them as a glob
    rows = read_results(out)
    assert len(rows) == 4 and {r["state"] for r in rows} == {"COMPLETE"}
    accuracies = [float(r["test_accuracy"]) for r in rows]
    assert accuracies == sorted(accuracies, reverse=True)  # the objective is test_accuracy, max: best first
    points = {(lr, h) for lr in ("0.05", "0.2") for h in ("[4]", "[8,8]")}
    assert {(r["optimizer.lr"], r["hidden"]) for r in rows} == points
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # the metric against each of the two keys
    assert "<table>" in page and "trials/optimizer.lr=0.2,hidden=4" in page and "Best: optimizer.lr=" in page
    assert "| optimizer.lr | hidden | test_accuracy | state |" in (out / "report.md").read_text()
    assert (out / "study.db").is_file() and "experiment: dummy-test" in (out / "sweep.yaml").read_text()
    assert "4/4 done" in (out / "sweep.log").read_text()
    run_sweep("dummy-test", dict(reversed(GRID.items())), out=out, smoke=True)  # the same grid, keys swapped
    assert len(calls) == 4 and [r["state"] for r in read_results(out)] == ["COMPLETE"] * 4


@pytest.mark.parametrize("grid, message", [
    ({"optimizer.lrr": ["0.1"]}, "unknown key 'lrr'"),
    ({"epochs": ["1", "two"]}, "epochs must be an integer, got 'two'"),
    ({"optimizer": ["{lr: 0.1}"]}, "group of settings"),
    ({"optimizer.lr": ["0.1", "1e-1"]}, "lists 0.1 twice"),
    ({"epochs": []}, "needs a list of values"),
    ({}, "at least one --grid"),
])
def test_a_bad_grid_fails_before_anything_runs(tmp_path, calls, grid, message):
    with pytest.raises(ConfigError, match=message):
        run_sweep("dummy-test", grid, out=tmp_path / "s", smoke=True)
    assert not calls and not (tmp_path / "s").exists()


@pytest.mark.slow
def test_the_metric_comes_from_the_objective_or_metric(tmp_path, monkeypatch, calls):
    monkeypatch.setitem(EXPERIMENTS, "dummy-test", dataclasses.replace(EXPERIMENTS["dummy-test"], objective=None))
    with pytest.raises(ConfigError, match="no objective"):
        run_sweep("dummy-test", {"epochs": [1]}, out=tmp_path / "a")
    with pytest.raises(ConfigError, match="NAME:min or NAME:max"):
        run_sweep("dummy-test", {"epochs": [1]}, out=tmp_path / "a", metric="wall_s:lowest")
    out = run_sweep("dummy-test", {"epochs": [1, 2]}, out=tmp_path / "b", metric="nope:min")
    rows = read_results(out)
    assert [r["state"] for r in rows] == ["FAIL", "FAIL"] and "recorded no metric 'nope'" in rows[0]["error"]
    out = run_sweep("dummy-test", {"epochs": [1, 3]}, out=tmp_path / "c", metric="test_accuracy:min")
    accuracies = [float(r["test_accuracy"]) for r in read_results(out)]
    assert accuracies == sorted(accuracies) and "test_accuracy (min)" in (out / "report.md").read_text()


@pytest.mark.slow
def test_a_failing_point_fails_alone_and_runs_again_on_resume(tmp_path, calls):
    grid = {"fail": [False, True]}
    out = run_sweep("dummy-test", grid, out=tmp_path / "s", smoke=True)
    rows = read_results(out)
    assert [(r["fail"], r["state"]) for r in rows] == [("false", "COMPLETE"), ("true", "FAIL")]
    assert "asked to fail" in rows[1]["error"] and "asked to fail" in (out / "report.html").read_text()
    calls.clear()
    run_sweep("dummy-test", grid, out=tmp_path / "s", smoke=True)
    assert calls == ["fail=true"]  # the complete point is kept, the failed one tried again


@pytest.mark.slow
def test_resume_after_ctrl_c_and_after_a_killed_worker(tmp_path, monkeypatch):
    made = _ctrl_c_at(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run_sweep("dummy-test", GRID, out=tmp_path / "s", smoke=True)
    out = (tmp_path / "s").resolve()
    assert sorted(r["state"] for r in read_results(out)) == ["COMPLETE", "COMPLETE", "FAIL", "WAITING"]

    # the fourth point's worker was killed while it ran: RUNNING, its process gone
    from optuna.trial import TrialState

    study = _study(out)
    waiting = study.get_trials(states=(TrialState.WAITING,))[0]
    study._storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    study._storage.set_trial_user_attr(waiting._trial_id, "host", socket.gethostname())
    study._storage.set_trial_user_attr(waiting._trial_id, "pid", int(dead.stdout))

    first = list(made)
    made.clear()
    run_sweep("dummy-test", GRID, out=tmp_path / "s", smoke=True)
    assert sorted(made) == sorted([first[2], waiting.user_attrs["point"]])  # only the missing points
    assert [r["state"] for r in read_results(out)] == ["COMPLETE"] * 4
    assert len(list((out / "trials").iterdir())) == 4


@pytest.mark.slow
def test_a_trial_whose_heartbeat_stops_is_waited_for_then_run_again(tmp_path, monkeypatch):
    from optuna.trial import TrialState

    for name, value in [("HEARTBEAT_S", 1), ("GRACE_S", 1), ("POLL_S", 0.1)]:
        monkeypatch.setattr(sweep, name, value)
    real = sweep.run_experiment
    monkeypatch.setattr(sweep, "run_experiment", _ctrl_c)
    grid = {"epochs": [1]}
    with pytest.raises(KeyboardInterrupt):
        run_sweep("dummy-test", grid, out=tmp_path / "s")
    monkeypatch.setattr(sweep, "run_experiment", real)
    out = (tmp_path / "s").resolve()
    # another machine took the point and went silent (its last heartbeat is now)
    study = _study(out)
    trial = study.ask()
    study._storage.set_trial_user_attr(trial._trial_id, "host", "elsewhere")
    study._storage.set_trial_user_attr(trial._trial_id, "params", {"epochs": 1})
    study._storage.record_heartbeat(trial._trial_id)
    assert study.get_trials(states=(TrialState.RUNNING,))
    # a rerun sees it RUNNING elsewhere, waits, then fails it once its heartbeat is stale
    start = time.perf_counter()
    run_sweep("dummy-test", grid, out=tmp_path / "s")
    assert time.perf_counter() - start >= 1
    assert study.trials[trial.number].state == TrialState.FAIL
    assert read_results(out)[0]["state"] == "COMPLETE"


@pytest.mark.slow
def test_another_machine_joins_through_the_storage_and_study_name(tmp_path, monkeypatch):
    _ctrl_c_at(2, monkeypatch)
    grid = {"epochs": [1, 2]}
    with pytest.raises(KeyboardInterrupt):
        run_sweep("dummy-test", grid, out=tmp_path / "a")
    a = (tmp_path / "a").resolve()
    shared = {"storage": f"sqlite:///{a / 'study.db'}", "study": "dummy-test-a"}
    with pytest.raises(ConfigError, match="holds a sweep of"):  # the same study, other settings
        run_sweep("dummy-test", grid, out=tmp_path / "b", overrides=["seed=1"], **shared)
    b = run_sweep("dummy-test", grid, out=tmp_path / "b", **shared)
    assert [p.name for p in (b / "trials").iterdir()] == ["epochs=2"]  # only the point A did not finish
    rows = read_results(b)
    assert [r["state"] for r in rows] == ["COMPLETE"] * 2
    assert {r["run"] for r in rows} == {"trials/epochs=2", str(a / "trials" / "epochs=1")}


@pytest.mark.slow
def test_two_worker_processes_share_the_study(tmp_path):
    out = run_sweep("dummy-test", GRID, out=tmp_path / "s", smoke=True, workers=2)
    rows = read_results(out)
    assert len(rows) == 4 and {r["state"] for r in rows} == {"COMPLETE"}
    assert len(list((out / "trials").iterdir())) == 4
    pids = {t.user_attrs["pid"] for t in _study(out).trials}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # the trials ran in the worker processes
    assert "[worker " in (out / "sweep.log").read_text()


@pytest.mark.slow
def test_cli_sweep(tmp_path, capsys):
    from nnlab.cli import main

    out = tmp_path / "s"
    assert main(["-q", "sweep", "dummy-test", "--grid", "optimizer.lr=0.05,0.2", "--smoke", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best: optimizer.lr=" in text and "2/2 grid points complete" in text and "report.html" in text
    assert (out / "report.html").is_file()
    with pytest.raises(SystemExit, match="unknown key 'lrr'"):
        main(["-q", "sweep", "dummy-test", "--grid", "optimizer.lrr=0.1", "--out", str(tmp_path / "x")])


@pytest.mark.slow
@pytest.mark.parametrize("quiet", [False, True])
def test_the_console_shows_one_line_per_trial_and_nothing_with_q(tmp_path, capsys, quiet):
    from nnlab.cli import main

    out = tmp_path / "s"
    args = ["sweep", "dummy-test", "--grid", "optimizer.lr=0.05,0.2", "--smoke", "--out", str(out)]
    assert main(["-q", *args] if quiet else args) == 0
    err = capsys.readouterr().err
    assert "epoch 1:" in (out / "sweep.log").read_text()             # the epochs are logged, in the file
    assert "epoch 1:" not in err                                      # not on the console
    assert err.count("/2 done]") == (0 if quiet else 2), err              # "trial N POINT: metric=... [k/2 done]"


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie not yet reaped counts as ended)."""
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return True


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to see the workers end")
def test_workers_end_when_the_sweep_process_is_killed(tmp_path):
    out = tmp_path / "s"
    code = ("import tests.experiments.dummy\nfrom nnlab.experiments.sweep import run_sweep\n"
            f"run_sweep('dummy-test', {{'epochs': [1, 2]}}, out={str(out)!r}, workers=2, overrides=['sleep_s=60'])\n")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, pids = time.time() + 120, set()
    while time.time() < deadline and len(pids) < 2:  # until both workers are inside a trial
        time.sleep(0.5)
        try:
            pids = {t.user_attrs["pid"] for t in _study(out.resolve()).trials if "pid" in t.user_attrs}
        except Exception:  # the study is not there yet
            pass
    assert len(pids) == 2, "the workers never started their trials"
    parent.kill()
    parent.wait()
    deadline = time.time() + 20
    while time.time() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.2)
    assert all(_gone(p) for p in pids), "a worker outlived its sweep process"
