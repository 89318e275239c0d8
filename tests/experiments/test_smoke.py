"""Every registered experiment runs end to end with --smoke: tiny synthetic data, seconds."""

import json

import pytest

from nnlab.experiments import load_all, run_experiment

NAMES = sorted(n for n in load_all() if n != "dummy-test")


@pytest.mark.parametrize("name", NAMES)
def test_smoke_run_writes_a_complete_run_folder(name, tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)  # smoke runs must need no data files
    run_dir = run_experiment(name, smoke=True, out=tmp_path / name)
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


def test_a_run_stopped_by_sigterm_still_writes_its_metrics(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NNLAB_DATA", None)
    proc = subprocess.Popen([sys.executable, "-m", "nnlab", "-q", "run", "blobs-bce", "--smoke", "--set", "epochs=100000",
                             "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "run.log").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "SIGTERM" in metrics["error"], err.decode()[-500:]
    assert (out / "report.html").is_file()
