"""benchmarks/budget_runs.py: a candidate's targets judged from its run folder, and its command."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
budget = pytest.importorskip("budget_runs")


def test_entry_judges_every_target_and_marks_runs_side_by_side(tmp_path):
    metrics = {"age_rmse": 8.02, "gender_accuracy": 0.93, "ethnicity_accuracy": 0.81, "wall_s": 900.0,
               "epoch_s": 40.0, "status": "ok"}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / budget.RUN_FILE).write_text(json.dumps({"threads": 1}))
    (tmp_path / budget.WALL_FILE).write_text("1500.0\n")                              # two sessions' time
    label = next(iter(budget.CANDIDATES["utkface-cnn"]))
    e = budget.entry("utkface-cnn", label, tmp_path)
    assert e["metrics"]["age_rmse"] == {"value": 8.02, "target": 8.0, "met": False}   # an error: at most 8
    assert e["metrics"]["ethnicity_accuracy"]["met"] is True                          # at least 0.81, equal counts
    assert e["all_met"] is False
    assert (e["wall_s"], e["side_by_side"], e["threads"]) == (1500.0, True, 1)
    (tmp_path / budget.RUN_FILE).unlink()           # no record of the sessions: the run's own wall time, alone
    (tmp_path / budget.WALL_FILE).unlink()
    e = budget.entry("utkface-cnn", label, tmp_path)
    assert (e["wall_s"], e["side_by_side"], e["threads"]) == (900.0, False, "default")


def test_command_sets_each_override_and_the_threads(tmp_path):
    label = "40px-w24-e20-mse"
    cmd = budget.command("utkface-cnn", label, tmp_path / "out", "/data", threads=1)
    assert cmd[1:5] == ["-m", "nnlab", "run", "utkface-cnn"]
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    assert sets == budget.CANDIDATES["utkface-cnn"][label]
    assert cmd[-4:] == ["--data-dir", "/data", "--threads", "1"]
    assert "--threads" not in budget.command("utkface-cnn", label, tmp_path, None, threads=None)


def test_wall_clock_keeps_earlier_sessions_and_writes_while_running_and_on_error(tmp_path):
    import threading

    from _common import wall_clock

    path = tmp_path / "run" / "wall_s"
    written = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        with wall_clock(path, earlier=100.0, every=0.01):
            for _ in range(500):             # wait (up to 5 s) for a write from inside the block
                if path.is_file():
                    written.set()
                    break
                threading.Event().wait(0.01)
            raise KeyboardInterrupt          # Ctrl-C: the time so far is still kept
    assert written.is_set()
    assert float(path.read_text()) >= 100.0
    assert not path.with_name("wall_s.tmp").exists()


def test_run_all_runs_a_pair_side_by_side_and_records_each(tmp_path, monkeypatch):
    script = ("import json, sys, pathlib; out = pathlib.Path(sys.argv[1]); "
              "(out / 'metrics.json').write_text(json.dumps({'age_rmse': float(sys.argv[2]), 'status': 'ok',"
              " 'val_age_mae': 5.0}))")
    values = {"a": "7.5", "b": "8.5"}
    monkeypatch.setitem(budget.CANDIDATES, "utkface-cnn", {"a": ["x=1"], "b": ["x=2"]})
    monkeypatch.setattr(budget, "command", lambda name, label, out, data_dir, threads:
                        [sys.executable, "-c", script, str(out), values[label]])
    monkeypatch.setattr(budget, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(budget, "update_result", lambda name, key, fn: recorded.__setitem__(key, fn({})))
    recorded = {}
    budget.run_all("utkface-cnn", ["a", "b"], tmp_path / "runs", None, pairs=True)
    assert set(recorded) == {"utkface-cnn/a", "utkface-cnn/b"}
    a, b = recorded["utkface-cnn/a"], recorded["utkface-cnn/b"]
    assert a["metrics"]["age_rmse"]["met"] is True and b["metrics"]["age_rmse"]["met"] is False
    assert a["side_by_side"] and a["threads"] == 1 and a["validation"] == {"val_age_mae": 5.0}
    assert (tmp_path / "runs" / "utkface-cnn" / "a" / budget.WALL_FILE).is_file()
    recorded.clear()                                 # finished runs are only read again, not rerun
    monkeypatch.setattr(budget, "command", lambda *a, **k: pytest.fail("a finished run was started again"))
    budget.run_all("utkface-cnn", ["a"], tmp_path / "runs", None, pairs=True)
    assert set(recorded) == {"utkface-cnn/a"}
