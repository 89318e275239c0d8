"""Real processes: a training run killed with SIGKILL resumes to the same weights, and two
``torchrun`` processes (gloo, CPU) train to the same weights as one process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow  # real training processes, tens of seconds

SCRIPT = Path(__file__).with_name("train_script.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def train(out, *args, timeout=120):
    subprocess.run([sys.executable, str(SCRIPT), str(out), *args], env=ENV, check=True, timeout=timeout,
                   capture_output=True)
    return dict(np.load(out))


def checkpoint_epoch(path):
    return int(torch.load(path, weights_only=True)["epoch"])


def wait_for(condition, proc, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the training process ended early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.005)
    raise AssertionError("timed out waiting for the training process")


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    reference = train(tmp_path / "ref.npz", "--epochs", "6")
    ckpt = tmp_path / "ckpt.pt"
    out = tmp_path / "resumed.npz"
    cmd = [sys.executable, str(SCRIPT), str(out), "--epochs", "6", "--checkpoint", str(ckpt), "--slow", "0.03"]
    killed_at = []
    # kill 1: in the middle of an epoch, after the first checkpoint
    # kill 2: just after a checkpoint was replaced (the rename may be a moment old)
    for when in ("mid-epoch", "after-checkpoint"):
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if when == "mid-epoch":
                wait_for(ckpt.exists, proc)
                time.sleep(0.1)
            else:
                start = ckpt.stat().st_mtime_ns
                wait_for(lambda: ckpt.stat().st_mtime_ns != start, proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        killed_at.append(checkpoint_epoch(ckpt))
    assert killed_at[0] < killed_at[1] < 6, f"the kills did not interrupt training: {killed_at}"
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "a temporary file was left behind"
    resumed = train(out, "--epochs", "6", "--checkpoint", str(ckpt))
    assert checkpoint_epoch(ckpt) == 6
    for key, value in reference.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=f"{key} differs after resuming")


def test_torchrun_two_processes_equal_one_process_on_the_same_global_batch(tmp_path):
    # global batch 31 splits 15/16 and the last one 27 -> 13/14; micro-batches of ~half that
    args = ["--epochs", "3", "--batch-size", "31", "--dropout", "0"]
    single = train(tmp_path / "one.npz", *args)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(SCRIPT), str(tmp_path / "two.npz"), *args, "--accumulate", "2"]
    result = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    double = dict(np.load(tmp_path / "two.npz"))
    assert set(double) == set(single)
    for key, value in single.items():
        np.testing.assert_allclose(double[key], value, rtol=1e-9, atol=1e-12, err_msg=f"{key} differs")
