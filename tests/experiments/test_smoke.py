"""Every registered experiment runs end to end with --smoke: tiny synthetic data, seconds."""

import json

import pytest

from nnlab.experiments import load_all

NAMES = sorted(n for n, e in load_all().items() if e.run.__module__.startswith("nnlab."))  # not the tests' toys


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_smoke_run_writes_a_complete_run_folder(name, smoke_runs):
    run_dir = smoke_runs[(name, None)]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok"
    assert (run_dir / "config.yaml").is_file() and (run_dir / "run.log").is_file()
    figures = list((run_dir / "figures").glob("*.png"))
    assert figures, f"{name} drew no figure"
    assert (run_dir / "report.html").read_text().count("data:image/png;base64,") == len(figures)


def test_every_experiment_has_a_summary_and_a_smoke_setting():
    experiments = load_all()
    for name in NAMES:
        assert experiments[name].summary and "\n" not in experiments[name].summary
        assert experiments[name].smoke, f"{name} has no smoke settings"


def _start_endless_run(out):
    """A real ``nnlab run`` process training (practically) forever into ``out``, once it has begun."""
    import os
    import subprocess
    import sys
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NNLAB_DATA", None)
    proc = subprocess.Popen([sys.executable, "-m", "nnlab", "-q", "run", "blobs-bce", "--smoke", "--set", "epochs=100000",
                             "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "run.log").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    return proc


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_still_writes_its_metrics(tmp_path):
    """SIGTERM (and Ctrl-C, the same path) ends a run with status interrupted, one line, exit 143."""
    import signal
    import time

    out = tmp_path / "killed"
    proc = _start_endless_run(out)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and "SIGTERM" in metrics["error"], err.decode()[-500:]
    assert err.decode().strip().splitlines()[-1] == "nnlab: stopped by SIGTERM"   # one line, no traceback
    assert (out / "report.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("key", [(n, p) for n in NAMES for p in (None, "seed")], ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_recorded_metric_is_described_in_the_report(key, smoke_runs):
    """A reader sees a description and a unit for every number, the seed's value beside the ones the
    seed reports, and a banner saying a smoke run's numbers mean nothing."""
    if key not in smoke_runs:
        pytest.skip(f"{key[0]} has no seed preset")
    run_dir = smoke_runs[key]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["about"], f"{key[0]} has no about text"
    undescribed = [r["key"] for r in summary["metrics"] if not r["description"]]
    assert not undescribed, f"{key[0]}: metrics without a description: {undescribed}"
    report = (run_dir / "report.md").read_text()
    assert "**Smoke run.**" in report and summary["about"][:60] in report
    head = report.split("## Results")[0]
    assert "## Metrics" in head and "| metric | value |" in head
    for row in summary["metrics"]:
        assert f"`{row['key']}`" in head
        if row["seed"] is not None:
            assert "| seed | target | met |" in head


@pytest.mark.slow
def test_a_run_folder_is_locked_while_written_and_a_killed_run_shows_incomplete(tmp_path):
    import signal

    from nnlab.errors import ConfigError
    from nnlab.experiments import run_experiment
    from nnlab.reporting.runs import read_run

    out = tmp_path / "busy"
    proc = _start_endless_run(out)
    try:
        assert read_run(out).status == "running"
        with pytest.raises(ConfigError, match=rf"being written by another nnlab process \(pid {proc.pid}\)"):
            run_experiment("blobs-bce", smoke=True, out=out, force=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert read_run(out).status == "incomplete"                       # killed: nobody holds the lock
