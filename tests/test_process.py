"""nnlab.process.tune_malloc: the allocator setting nnlab makes for training processes."""

import json
import subprocess
import sys

import pytest
import yaml

CODE = "import json; from nnlab.process import tune_malloc; print(json.dumps([tune_malloc(), tune_malloc()]))"


def _state(env):
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    first, second = json.loads(out.stdout)
    assert first == second                                   # set once; the second call says the same
    return first


@pytest.fixture
def clean_env():
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "NNLAB_MALLOC"}
    return env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_glibc_thresholds_are_set_unless_asked_not_to_or_set_by_the_shell(clean_env):
    state = _state(clean_env)
    assert state["allocator"].startswith("glibc ") and state["mmap_threshold"] == 32 * 1024 * 1024
    assert state["trim_threshold"] == 1024 ** 3
    assert _state({**clean_env, "NNLAB_MALLOC": "default"}) == {"allocator": "default", "reason": "NNLAB_MALLOC=default"}
    own = _state({**clean_env, "MALLOC_TRIM_THRESHOLD_": "0"})
    assert own["allocator"] == "default" and own["MALLOC_TRIM_THRESHOLD_"] == "0"


def test_a_run_records_the_allocator_setting(smoke_run):
    meta = yaml.safe_load((smoke_run("blobs-bce") / "config.yaml").read_text())["run"]
    assert "malloc" in meta and "allocator" in meta["malloc"]
