"""Interrupt and resume on real processes: a run killed with SIGKILL in the middle of training,
continued with ``nnlab run --resume``, ends with the metrics and histories of an uninterrupted run
(one NumPy-engine and one torch-engine experiment); settings that differ are refused."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nnlab.errors import ConfigError
from nnlab.experiments import run_experiment
from nnlab.experiments.run_folder import CHECKPOINTS
from nnlab.training import History

pytestmark = pytest.mark.slow


def _env():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NNLAB_DATA", None)
    return env


def _nnlab(*args):
    return [sys.executable, "-m", "nnlab", "-q", *args]


def _kill_after_first_checkpoint(args, out):
    """Start ``nnlab run ARGS --out OUT`` and SIGKILL it once a training phase has checkpointed."""
    proc = subprocess.Popen(_nnlab("run", *args, "--out", str(out)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if any((out / CHECKPOINTS).glob("*.*")):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed: {err.decode()[-800:]}"


def _outcome(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    numbers = {k: v for k, v in metrics.items() if not k.endswith("_s") and k not in ("error",)}
    histories = {}
    for path in sorted(run_dir.glob("*.csv")):
        h = History.from_csv(path)
        if "epoch_s" in path.read_text().partition("\n")[0]:   # a training loop's history: every epoch timed
            assert all(s > 0 for s in h.seconds), f"{path.name}: an epoch without its time"
        histories[path.name] = (h.epochs, h.history)          # every metric of every epoch; the times differ
    return numbers, histories


@pytest.mark.parametrize("args", [
    ["blobs-bce", "--smoke", "--set", "epochs=400"],                         # NumPy engine, three phases
    ["colourization", "--smoke", "--set", "epochs=4", "--set", "models=[base,unet]"],   # torch engine
], ids=["numpy", "torch"])
def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path, args):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    _kill_after_first_checkpoint(args, killed)
    assert json.loads((killed / "metrics.json").read_text())["status"] == "running"   # as the kill left it
    done = subprocess.run(_nnlab("run", "--resume", str(killed)), env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]
    subprocess.run(_nnlab("run", *args, "--out", str(whole)), env=_env(), check=True, capture_output=True)
    resumed, uninterrupted = _outcome(killed), _outcome(whole)
    assert resumed[0]["status"] == "ok" and resumed == uninterrupted
    assert "continuing the unfinished run" in (killed / "run.log").read_text()
    assert not (killed / CHECKPOINTS).exists()                                  # finished: cleaned away


def test_an_unfinished_run_is_continued_only_with_its_own_settings(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("run: {experiment: blobs-bce}\nconfig: {epochs: 5}\n")
    with pytest.raises(ConfigError, match=r"unfinished run with other settings \(.*epochs: 5 -> 7"):
        run_experiment("blobs-bce", smoke=True, overrides=["epochs=7"], out=out)
    with pytest.raises(ConfigError, match="holds an unfinished blobs-bce run, not symmetry"):
        run_experiment("symmetry", smoke=True, out=out)
    assert run_experiment("blobs-bce", smoke=True, overrides=["epochs=7"], out=out, force=True) == out


def test_resume_refuses_other_settings_and_foreign_folders(tmp_path):
    from nnlab.cli import main

    with pytest.raises(SystemExit, match="--set cannot be given with it"):
        main(["run", "--resume", str(tmp_path), "--set", "epochs=3"])
    with pytest.raises(SystemExit, match=r"is not a run folder \(no config.yaml\)"):
        main(["run", "--resume", str(tmp_path)])
    with pytest.raises(SystemExit, match="give an experiment NAME"):
        main(["run"])
