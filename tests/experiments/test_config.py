"""Typed configs: defaults, presets, files and --set layered, and every bad setting an error that says why."""

import pytest

from nnlab.errors import ConfigError
from nnlab.experiments import EXPERIMENTS, resolve_config
from nnlab.experiments.config import apply, parse_assignments
from tests.experiments.dummy import DummyConfig


def test_configs_layer_defaults_preset_file_and_set(tmp_path):
    exp = EXPERIMENTS["dummy-test"]
    (tmp_path / "c.yaml").write_text("epochs: 7\noptimizer:\n  momentum: 0.9\n")
    cfg = resolve_config(exp, preset="seed", config_file=tmp_path / "c.yaml", overrides=["optimizer.lr=0.3"])
    assert cfg.hidden == [4] and cfg.epochs == 7 and cfg.optimizer.momentum == 0.9 and cfg.optimizer.lr == 0.3
    assert isinstance(resolve_config(exp, overrides=["optimizer.lr=1"]).optimizer.lr, float)


@pytest.mark.parametrize("override, message", [
    ("epoch=3", "unknown key 'epoch'; did you mean 'epochs'?"),
    ("epochs=3.5", "epochs must be an integer"),
    ("optimizer=3", "group of settings"),
    ("optimizer.beta=1", "unknown key 'beta'"),
    ("fail=yes please", "true or false"),
    ("noequals", "KEY=VALUE"),
])
def test_bad_settings_are_errors_that_say_why(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(EXPERIMENTS["dummy-test"], overrides=[override])


def test_unknown_preset_and_yaml_keys(tmp_path):
    with pytest.raises(ConfigError, match="presets"):
        resolve_config(EXPERIMENTS["dummy-test"], preset="best")
    (tmp_path / "bad.yaml").write_text("hiden: [3]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'hiden'"):
        resolve_config(EXPERIMENTS["dummy-test"], config_file=tmp_path / "bad.yaml")


def test_parse_assignments_reads_yaml_values():
    assert parse_assignments(["a=1", "b=[1, 2]", "c=x"]) == {"a": 1, "b": [1, 2], "c": "x"}
    assert apply(DummyConfig(), parse_assignments(["optimizer.lr=1e-3"])).optimizer.lr == 1e-3  # YAML 1.1's "1e-3"
    assert apply(DummyConfig(), {"hidden": [3, 2]}).hidden == [3, 2]
