"""RunContext.fit draws each network it trains into the report, once per architecture."""

from dataclasses import dataclass

import numpy as np
import pytest

from nnlab.engine import Concat, Dense, Identity, Sequential
from nnlab.experiments.registry import Experiment
from nnlab.experiments.runner import RunContext


@dataclass
class _Cfg:
    seed: int = 0


def _ctx(tmp_path, engine: str = "numpy") -> RunContext:
    exp = Experiment("drawing-test", "", _Cfg, lambda ctx: None, engines=("numpy", "torch"))
    return RunContext(exp, _Cfg(), tmp_path, smoke=True, engine=engine, data_dir=None, progress=False)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    return x, x[:, :1] - x[:, 1:2]


def _net(hidden=8, seed=0):
    return Sequential([Dense(hidden, "tanh"), Dense(1)], input_shape=(4,), seed=seed)


def _fit(ctx, name, net, engine_options=None):
    x, y = _data()
    learner = ctx.trainer(net, loss="mse", optimizer={"name": "adam", "lr": 0.01}, **(engine_options or {}))
    ctx.fit(name, learner, x, y, epochs=1, batch_size=16)


def _figures(ctx):
    return [e["name"] for e in ctx.manifest if e["kind"] == "figure"]


def test_each_architecture_is_drawn_once_before_its_curves(tmp_path):
    ctx = _ctx(tmp_path)
    _fit(ctx, "a", _net())
    _fit(ctx, "b", _net(seed=1))                    # the same network again (other weights): no new drawing
    _fit(ctx, "c", _net(hidden=5))                  # another width: drawn
    assert _figures(ctx) == ["network-a", "a-curves", "b-curves", "network-c", "c-curves"]
    png = (tmp_path / "figures" / "network-a.png").read_bytes()
    assert png.startswith(b"\x89PNG") and (tmp_path / "figures" / "network-c.png").exists()
    assert not (tmp_path / "figures" / "network-b.png").exists()
    caption = next(e["caption"] for e in ctx.manifest if e["name"] == "network-a")
    assert "each box is a layer" in caption and "output shape" in caption and "parameters" in caption
    assert "skip" not in caption                     # a plain chain: nothing to say about skip arrows


def test_a_skip_connection_is_described_and_one_phase_name_draws_two_networks(tmp_path):
    ctx = _ctx(tmp_path)
    _fit(ctx, "p", _net())
    unet = Sequential([Concat([[Dense(3, "relu")], Identity()]), Dense(1)], input_shape=(4,), seed=0)
    _fit(ctx, "p", unet)
    assert [n for n in _figures(ctx) if n.startswith("network-")] == ["network-p", "network-p-2"]
    caption = next(e["caption"] for e in ctx.manifest if e["name"] == "network-p-2")
    assert "concat node" in caption and "skip" in caption


def test_only_the_main_process_draws(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.rank = 1
    _fit(ctx, "a", _net())
    assert "network-a" not in _figures(ctx) and not (tmp_path / "figures" / "network-a.png").exists()


def test_the_torch_engine_draws_the_engine_model_it_converted(tmp_path):
    pytest.importorskip("torch")
    ctx = _ctx(tmp_path, "torch")
    _fit(ctx, "t", _net(), {"device": "cpu"})
    assert _figures(ctx)[0] == "network-t" and (tmp_path / "figures" / "network-t.png").exists()
