"""The learning-rate finder: on linear regression, whose good range is known, for both engines."""

import numpy as np
import pytest

from nnlab.engine import model_from_spec
from nnlab.errors import ConfigError
from nnlab.training.lr_finder import find_lr

SPEC = {"input_shape": [10], "layers": [{"type": "Linear", "in_features": 10, "out_features": 1}]}


def _regression(seed=0, n=2000):
    """y = x w + noise with standard-normal x: the MSE's Hessian is 2 x'x / n, about 2 I, so plain
    SGD converges for a learning rate below 2 / 2 = 1 and diverges above it; it learns fastest
    around a tenth of that."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 10)).astype(np.float32)
    y = x @ rng.standard_normal((10, 1)).astype(np.float32) + 0.1 * rng.standard_normal((n, 1)).astype(np.float32)
    return x, y


def _model(seed=0, optimizer=None):
    model = model_from_spec(SPEC, seed=seed)
    model.compile(loss="mse", optimizer=optimizer or {"name": "sgd", "lr": 0.01})
    return model


@pytest.mark.parametrize("seed", [0, 1])
def test_the_suggestion_lies_in_the_known_good_range_and_the_sweep_stops_where_sgd_diverges(seed):
    x, y = _regression(seed)
    r = find_lr(_model(seed), x, y, batch_size=64, start_lr=1e-5, end_lr=100, steps=200)
    assert 1e-2 <= r.suggestion <= 0.5
    assert r.diverged and len(r.lrs) < 200
    assert 1.0 < r.lrs[-1] < 5.0            # stopped just past the divergence at lr = 1 (the average lags)
    assert r.suggestion < r.min_loss_lr <= r.lrs[-1]
    assert r.upper == pytest.approx(r.min_loss_lr / 10)
    assert np.all(np.diff(np.log(r.lrs)) > 0) and len(r.losses) == len(r.smoothed) == len(r.lrs)


def test_the_model_and_its_optimizer_are_left_untouched():
    x, y = _regression()
    model = _model(optimizer={"name": "adam", "lr": 1e-3})
    model.fit(x, y, epochs=1, batch_size=100)            # Adam has moments and a step count now
    twin = _model(optimizer={"name": "adam", "lr": 1e-3})
    twin.fit(x, y, epochs=1, batch_size=100)
    weights = {k: v.copy() for k, v in model.state_dict().items()}
    find_lr(model, x, y, batch_size=64, steps=60, start_lr=1e-4, end_lr=10)
    assert all(np.array_equal(weights[k], v) for k, v in model.state_dict().items())
    assert model.optimizer.lr == 1e-3
    # training on afterwards gives exactly what the twin that never swept gives
    model.fit(x, y, epochs=1, batch_size=100)
    twin.fit(x, y, epochs=1, batch_size=100)
    assert all(np.array_equal(twin.state_dict()[k], v) for k, v in model.state_dict().items())


def test_the_figure_marks_the_suggestion_and_labels_its_axes():
    x, y = _regression()
    r = find_lr(_model(), x, y, batch_size=64, start_lr=1e-5, end_lr=100, steps=200)
    ax = r.figure().axes[0]
    assert ax.get_xscale() == "log" and "learning rate" in ax.get_xlabel() and "loss" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"{r.suggestion:.2g}" in t for t in labels) and any("lowest loss" in t for t in labels)
    assert "exploded" in ax.get_title()


@pytest.mark.parametrize("kwargs, message", [
    ({"start_lr": 1.0, "end_lr": 0.1}, "start_lr < end_lr"),
    ({"steps": 2}, "at least 5 steps"),
    ({"smooth": 1.0}, "smooth"),
])
def test_bad_settings_are_refused(kwargs, message):
    x, y = _regression(n=100)
    with pytest.raises(ConfigError, match=message):
        find_lr(_model(), x, y, **kwargs)


def test_an_uncompiled_model_is_refused():
    x, y = _regression(n=100)
    with pytest.raises(ConfigError, match="compile"):
        find_lr(model_from_spec(SPEC, seed=0), x, y)


@pytest.mark.torch
def test_the_torch_trainer_finds_the_same_range_and_is_left_untouched():
    torch = pytest.importorskip("torch")
    from nnlab.torchlib import Trainer

    x, y = _regression()
    trainer = Trainer(_model(), loss="mse", optimizer={"name": "sgd", "lr": 0.01})
    trainer.fit(x, y, epochs=1, batch_size=100)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    r = find_lr(trainer, x, y, batch_size=64, start_lr=1e-5, end_lr=100, steps=200)
    assert 1e-2 <= r.suggestion <= 0.5 and r.diverged and 1.0 < r.lrs[-1] < 5.0
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    assert trainer.lr == 0.01 and trainer.epoch == 1 and len(trainer.history) == 1
