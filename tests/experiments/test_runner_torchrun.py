"""``nnlab run`` under ``torchrun`` with two CPU processes (gloo): the main process alone writes
the run folder and trains the NumPy-engine phases, the torch phase trains data-parallel in both,
and the numbers equal those of one process up to float rounding.

super-resolution's smoke run has both kinds of phase: its MLPs on the NumPy engine and its CNN
on the torch engine.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
TIMES = ("_s", "wall_s")  # seconds differ between runs; every other number must agree


def _env(tmp_path):
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "TMPDIR": str(tmp_path / "tmp"),
            "NNLAB_DATA": ""}


def _numbers(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and not k.endswith(TIMES)}


@pytest.mark.slow
def test_nnlab_run_under_torchrun_has_one_writer_and_the_numbers_of_one_process(tmp_path):
    args = ["-m", "nnlab", "run", "super-resolution", "--smoke", "--threads", "1"]
    one = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "one")], env=_env(tmp_path), cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args,
                          "--out", str(tmp_path / "two")], env=_env(tmp_path), cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("run folder:") == 1                       # the main process alone reports
    run = tmp_path / "two"
    assert yaml.safe_load((run / "config.yaml").read_text())["run"]["processes"] == 2
    log = (run / "run.log").read_text()
    assert log.count("running super-resolution") == 1                # one process wrote the log
    assert not list((tmp_path / "tmp").glob("nnlab-rank*"))          # the other's scratch folder is gone
    assert not (run / "checkpoints").exists() and json.loads((run / "metrics.json").read_text())["status"] == "ok"
    single, double = _numbers(tmp_path / "one"), _numbers(run)
    assert set(single) == set(double)
    for key, value in single.items():
        assert math.isfinite(value), key
        if "cnn" in key:  # the torch CNN, data-parallel: float rounding
            np.testing.assert_allclose(double[key], value, rtol=1e-3, err_msg=key)
        else:  # the NumPy-engine MLPs (trained by the main process alone), bicubic, sizes: exactly
            assert double[key] == value, key


@pytest.mark.slow
def test_a_refused_run_under_torchrun_is_one_message_and_every_process_stops(tmp_path):
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "nnlab", "run",
            "super-resolution", "--smoke", "--out", str(tmp_path / "r"), "--set", "cnn.arch=nope"]
    result = subprocess.run(args, env=_env(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.count("cnn.arch must be one of") == 1, result.stderr[-3000:]
