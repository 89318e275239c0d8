"""Sequential: training behaviour, accumulation, determinism, summary, and bad input."""

import math

import numpy as np
import pytest

from nnlab.engine import (
    ConfigError,
    DataError,
    Dense,
    Linear,
    ReLU,
    Sequential,
    ShapeError,
    Softmax,
    TrainingDivergedError,
)
from nnlab.training import Callback, EarlyStopping


def mlp(dtype="float32", seed=0, out=3, act="tanh"):
    return Sequential([Dense(16, act), Dense(8, act), Dense(out)], input_shape=(5,), dtype=dtype, seed=seed)


def blobs(rng, n=60):
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 5)) * 0.3 + np.eye(3, 5)[y] * 2
    return x, y


def test_overfits_a_tiny_batch(rng):
    x = rng.standard_normal((8, 5))
    y = rng.standard_normal((8, 2))
    model = mlp(out=2).compile("mse", {"name": "adam", "lr": 1e-2})
    first = model.evaluate(x, y)["loss"]
    model.fit(x, y, epochs=400, batch_size=8)
    last = model.evaluate(x, y)["loss"]
    assert last < 0.01 * first, (first, last)


def test_classifier_learns_and_history_has_every_key(rng):
    x, y = blobs(rng)
    vx, vy = blobs(rng, 30)
    model = mlp().compile("cross_entropy", "adam", metrics=["accuracy"])
    h = model.fit(x, y, epochs=15, batch_size=16, validation_data=(vx, vy))
    assert h.epochs == list(range(1, 16))
    assert set(h.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert h["loss"][-1] < h["loss"][0]
    assert h["val_accuracy"][-1] > 0.9
    assert model.evaluate(vx, vy)["accuracy"] == pytest.approx(h["val_accuracy"][-1])
    probs = model.predict(vx)
    assert probs.shape == (30, 3) and probs.dtype == np.float32


def test_accumulation_gives_the_same_gradient_as_one_large_batch(rng):
    x = rng.standard_normal((64, 5))
    y = rng.integers(0, 3, 64)
    grads = {}
    for k in (1, 32, 5):  # 32 micro-batches of 2; 5 uneven micro-batches
        model = mlp(dtype="float64").compile("cross_entropy", {"name": "sgd", "lr": 0.0})
        model.fit(x, y, epochs=1, batch_size=64, shuffle=False, accumulate_steps=k)
        grads[k] = model._flat_grad.copy()
    assert np.abs(grads[1]).max() > 0
    np.testing.assert_allclose(grads[32], grads[1], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads[5], grads[1], rtol=1e-10, atol=1e-14)


def test_accumulated_training_equals_large_batch_training(rng):
    x = rng.standard_normal((96, 5))
    y = rng.standard_normal((96, 3))
    weights = []
    for k in (1, 16):
        model = mlp(dtype="float64", seed=5).compile("mse", {"name": "adam", "lr": 1e-2})
        model.fit(x, y, epochs=3, batch_size=32, accumulate_steps=k)
        weights.append(model._flat_data.copy())
    np.testing.assert_allclose(weights[1], weights[0], rtol=1e-9, atol=1e-12)


def test_same_seed_same_numbers(rng):
    x, y = blobs(rng)
    runs = []
    for _ in range(2):
        model = mlp(seed=11).compile("cross_entropy", "adam", metrics=["accuracy"])
        h = model.fit(x, y, epochs=3, batch_size=7, validation_split=0.25)
        runs.append((h["loss"], h["val_loss"], model._flat_data.copy()))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])


def test_parameters_live_in_one_flat_buffer():
    model = mlp()
    params = model.parameters()
    assert sum(p.size for p in params) == model._flat_data.size == model.num_parameters()
    params[0].data[0, 0] = 42.0
    assert model._flat_data[0] == 42.0


def test_summary_counts_and_columns():
    model = Sequential(
        [Dense(35, "leaky_relu", init="small"), Dense(6, "leaky_relu", init="small"), Dense(1, "leaky_relu", init="small")],
        input_shape=(128,),
    )
    rows = model.summary_rows()
    assert [r["params"] for r in rows] == [128 * 35 + 35, 35 * 6 + 6, 6 + 1]
    assert [r["output_shape"] for r in rows] == [("N", 35), ("N", 6), ("N", 1)]
    text = model.compile("mse", {"name": "sgd", "lr": 0.01, "momentum": 0.99}).summary()
    assert "Total parameters: 4,738" in text
    assert "leaky_relu(0.01)" in text and "small N(0,0.01^2)" in text
    assert "momentum=0.99" in text and "Loss: mse" in text


def test_seed004_autoencoder_parameter_count():
    sizes = [784, 500, 200, 100, 30, 100, 200, 500, 784]
    model = Sequential([Dense(s, "relu") for s in sizes[1:]], input_shape=(784,))
    assert model.num_parameters() == sum(a * b + b for a, b in zip(sizes, sizes[1:])) == 1_032_414


def test_early_stopping_restores_best_weights(rng):
    x, y = rng.standard_normal((40, 5)), rng.standard_normal((40, 3))
    vx, vy = rng.standard_normal((20, 5)), rng.standard_normal((20, 3))  # noise: val loss soon rises

    class Record(Callback):
        weights = {}

        def on_epoch_end(self, trainer, epoch, logs):
            self.weights[epoch] = trainer.get_weights()

    rec = Record()
    stop = EarlyStopping(monitor="val_loss", patience=3)
    model = mlp(dtype="float64").compile("mse", {"name": "adam", "lr": 3e-2})
    h = model.fit(x, y, epochs=200, batch_size=40, validation_data=(vx, vy), callbacks=[rec, stop])
    assert len(h) < 200 and stop.stopped_epoch == len(h)
    best_epoch = h.best("val_loss")[0]
    assert stop.best_epoch == best_epoch and best_epoch < len(h)
    final = model.state_dict()
    assert all(np.array_equal(final[k], rec.weights[best_epoch][k]) for k in final)


def test_nan_loss_stops_training_and_keeps_finite_weights(rng):
    x, y = rng.standard_normal((32, 5)) * 100, rng.standard_normal((32, 3)) * 1e6
    model = mlp(act="relu").compile("mse", {"name": "sgd", "lr": 1e6})
    with pytest.raises(TrainingDivergedError, match=r"loss became .* epoch \d+, batch \d+/\d+"):
        model.fit(x, y, epochs=50, batch_size=8)
    assert np.isfinite(model._flat_data).all()


def test_callbacks_are_told_when_training_ends_by_an_error(rng):
    ended = []

    class Watch(Callback):
        def on_train_end(self, trainer):
            ended.append(trainer.epoch)

    model = mlp(act="relu").compile("mse", {"name": "sgd", "lr": 1e6})
    with pytest.raises(TrainingDivergedError):
        model.fit(rng.standard_normal((32, 5)) * 100, rng.standard_normal((32, 3)) * 1e6, epochs=50,
                  batch_size=8, callbacks=[Watch()])
    assert len(ended) == 1


@pytest.mark.parametrize(
    "x, y, error, match",
    [
        (np.zeros((0, 5)), np.zeros((0,), int), DataError, "empty"),
        (np.zeros((4, 6)), np.zeros(4, int), ShapeError, r"shape \(4, 6\).*samples of shape \(5,\)"),
        (np.zeros((4, 5)), np.zeros(3, int), ShapeError, "4 samples but y has 3"),
        (np.array([[0, 0, np.nan, 0, 0]] * 4), np.zeros(4, int), DataError, r"4 NaN .* index \(0, 2\)"),
        (np.array([[0, 0, np.inf, 0, 0]] * 4), np.zeros(4, int), DataError, "NaN or infinite"),
        (np.zeros((4, 5)), np.array([0, 1, 3, 2]), DataError, r"1 label\(s\) out of range \[0, 2\]"),
        (np.zeros((4, 5)), np.array([0, -1, 1, 2]), DataError, "out of range"),
        (np.zeros((4, 5)), np.array([0.5, 1, 1, 2]), DataError, "integers"),
        (np.zeros((4, 5)), np.zeros((4, 3)), ShapeError, "1-D array of class indices"),
    ],
)
def test_bad_input_names_the_problem(x, y, error, match):
    model = mlp().compile("cross_entropy", "adam")
    with pytest.raises(error, match=match):
        model.fit(x, y, epochs=1)


def test_bad_regression_targets_and_bce_range():
    model = mlp(out=2).compile("mse", "adam")
    with pytest.raises(ShapeError, match="targets of shape"):
        model.fit(np.zeros((4, 5)), np.zeros((4, 3)))
    with pytest.raises(DataError, match="NaN"):
        model.fit(np.zeros((4, 5)), np.full((4, 2), np.nan))
    model = mlp(out=1, act="relu").compile("bce_with_logits", "adam")
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        model.fit(np.zeros((4, 5)), np.array([0, 1, 2, 1]))


def test_bad_configuration():
    with pytest.raises(ConfigError, match="softmax"):
        Sequential([Dense(3), Softmax()], input_shape=(4,)).compile("cross_entropy", "adam")
    with pytest.raises(ConfigError, match="unknown loss"):
        mlp().compile("hinge", "adam")
    with pytest.raises(ConfigError, match="unknown optimizer"):
        mlp().compile("mse", "rmsprop2")
    with pytest.raises(ConfigError, match="unknown metric"):
        mlp().compile("mse", "adam", metrics=["f7"])
    with pytest.raises(ShapeError, match="layer 1"):
        Sequential([Dense(3), Linear(4, 2)], input_shape=(4,))
    with pytest.raises(RuntimeError, match="compile"):
        mlp().fit(np.zeros((2, 5)), np.zeros(2))
    with pytest.raises(ConfigError, match="accumulate_steps"):
        mlp().compile("mse", "adam").fit(np.zeros((2, 5)), np.zeros((2, 3)), batch_size=2, accumulate_steps=3)


def test_forward_outside_fit_returns_fresh_arrays(rng):
    model = Sequential([Dense(4), ReLU(), Dense(2)], input_shape=(3,), seed=0)
    x1, x2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    a = model.forward(x1)
    a_copy = a.copy()
    model.forward(x2)
    np.testing.assert_array_equal(a, a_copy)
    g = np.ones((2, 2), np.float32)
    model.backward(g)
    np.testing.assert_array_equal(g, np.ones((2, 2)))


def test_validation_split_holds_out_a_fraction(rng):
    x, y = blobs(rng, 50)
    seen = []

    class Count(Callback):
        def on_batch_end(self, trainer, step, logs):
            seen.append(step)

    model = mlp().compile("cross_entropy", "adam")
    model.fit(x, y, epochs=1, batch_size=10, validation_split=0.2, callbacks=[Count()])
    assert len(seen) == math.ceil(40 / 10)
    with pytest.raises(ConfigError):
        model.fit(x, y, validation_split=0.2, validation_data=(x, y))



def test_public_train_step_equals_one_fit_step_and_checks_its_input():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), rng.integers(0, 2, 8)
    a = Sequential([Dense(4, "relu"), Dense(2)], input_shape=(3,), dtype="float64", seed=1)
    b = Sequential([Dense(4, "relu"), Dense(2)], input_shape=(3,), dtype="float64", seed=1)
    for m in (a, b):
        m.compile(loss="cross_entropy", optimizer={"name": "sgd", "lr": 0.1})
    loss = a.train_step(x, y, accumulate_steps=4)
    b.fit(x, y, epochs=1, batch_size=8, shuffle=False)
    assert np.isfinite(loss)
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(v, b.state_dict()[k], rtol=1e-12, atol=1e-15)
    with pytest.raises(ConfigError, match="accumulate_steps"):
        a.train_step(x, y, accumulate_steps=9)


# -- a batch size that changes between epochs (BatchSizeScheduler) --------------------------
class _BatchProbe(Callback):
    """Per epoch: the loop's batch size and steps as an epoch begins, and the steps it took."""

    def __init__(self):
        self.begin, self.taken = [], []

    def on_epoch_begin(self, trainer, epoch):
        self.begin.append((trainer.batch_size, trainer.steps_per_epoch))
        self.taken.append(0)

    def on_batch_end(self, trainer, step, logs):
        self.taken[-1] += 1


def test_a_batch_size_schedule_sets_each_epochs_batches_and_steps(rng, monkeypatch):
    from nnlab.training.batch_schedule import BatchSizeScheduler, BatchSizeSteps

    x, y = blobs(rng, n=100)
    model = mlp().compile("cross_entropy", {"name": "sgd", "lr": 0.05, "momentum": 0.9})
    seen = []  # the size of every batch the optimizer stepped on
    step = model._train_step
    monkeypatch.setattr(model, "_train_step", lambda xb, yb, *a: seen.append(len(xb)) or step(xb, yb, *a))
    sched, probe = BatchSizeScheduler(BatchSizeSteps(8, milestones=[2, 3], factor=4)), _BatchProbe()
    model.fit(x, y, epochs=4, batch_size=8, callbacks=[sched, probe])
    assert sched.batch_sizes == [8, 8, 32, 128]
    assert sched.steps == [13, 13, 4, 1] == probe.taken  # ceil(100 / batch)
    assert probe.begin == list(zip(sched.batch_sizes, sched.steps))  # later callbacks see the new values
    assert seen == [8] * 12 + [4] + [8] * 12 + [4] + [32] * 3 + [4] + [100]  # the last batch of an epoch is short
    assert model.optimizer.step_count == 31


def test_a_constant_batch_size_schedule_is_bit_identical_to_a_plain_fit(rng):
    from nnlab.training.batch_schedule import BatchSizeScheduler

    x, y = blobs(rng)
    runs = []
    for callbacks in ([], [BatchSizeScheduler(lambda epoch: 7)]):
        model = mlp(seed=3).compile("cross_entropy", {"name": "adam", "lr": 1e-2}, metrics=["accuracy"])
        h = model.fit(x, y, epochs=3, batch_size=7, validation_split=0.25, callbacks=callbacks)
        runs.append(((h.epochs, h.history), model._flat_data.copy()))
    assert runs[0][0] == runs[1][0]                 # every metric of every epoch (the times differ)
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_a_scheduled_batch_change_equals_continuing_with_the_new_batch(rng):
    """Epochs 1-2 at batch 6, then 3-4 at 20 in one fit == two fits (the second resumes the first)."""
    from nnlab.training.batch_schedule import BatchSizeScheduler, BatchSizeSteps

    x, y = blobs(rng)
    one = mlp(seed=4).compile("cross_entropy", {"name": "sgd", "lr": 0.1, "momentum": 0.9})
    h1 = one.fit(x, y, epochs=4, batch_size=6, callbacks=[BatchSizeScheduler(BatchSizeSteps(6, [2], factor=20 / 6))])
    two = mlp(seed=4).compile("cross_entropy", {"name": "sgd", "lr": 0.1, "momentum": 0.9})
    h2 = two.fit(x, y, epochs=2, batch_size=6)
    two.fit(x, y, epochs=4, batch_size=20, initial_epoch=2, history=h2)
    assert h1["loss"] == h2["loss"]
    np.testing.assert_array_equal(one._flat_data, two._flat_data)


def test_a_scheduled_batch_size_is_checked(rng):
    from nnlab.training.batch_schedule import BatchSizeScheduler

    x, y = blobs(rng)
    model = mlp().compile("cross_entropy", "sgd")
    with pytest.raises(ConfigError, match="positive integer"):
        model.fit(x, y, epochs=2, callbacks=[BatchSizeScheduler(lambda epoch: 0)])
    with pytest.raises(ConfigError, match="accumulate_steps .4. cannot exceed the batch size 2 of epoch 2"):
        model.fit(x, y, epochs=2, batch_size=8, accumulate_steps=4, callbacks=[BatchSizeScheduler(lambda e: 10 - 8 * (e > 1))])


def test_a_deep_copy_trains_on_its_own_with_the_optimizer_state_carried_over():
    """NumPy's deep copy of a view is a new array: the copy's parameters must go back into one flat
    buffer of its own, which its optimizer updates (a copy that silently never trained was the bug)."""
    import copy

    from nnlab.engine import model_from_spec

    spec = {"input_shape": [3], "layers": [{"type": "Linear", "in_features": 3, "out_features": 4},
                                           {"type": "Linear", "in_features": 4, "out_features": 1}]}
    rng = np.random.default_rng(0)
    x = rng.random((64, 3)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    model = model_from_spec(spec, seed=0)
    model.compile(loss="mse", optimizer={"name": "adam", "lr": 0.01})
    model.fit(x, y, epochs=1, batch_size=8)
    twin = copy.deepcopy(model)
    before = model.predict(x).copy()
    assert not np.shares_memory(twin._flat_data, model._flat_data)
    assert all(np.shares_memory(p.data, twin._flat_data) for p in twin.parameters())
    twin.fit(x, y, epochs=2, batch_size=8)
    assert np.abs(twin.predict(x) - before).max() > 1e-3          # the copy trained
    assert np.array_equal(model.predict(x), before)                # the original did not move
    model.fit(x, y, epochs=2, batch_size=8)                        # same state, same rng: the same steps
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))


def test_the_html_summary_lists_every_layer_escaped():
    from nnlab.models import create_model

    model = create_model("colour_unet").build(seed=0)
    text = model._repr_html_()
    rows = model.summary_rows()
    assert text.count("<tr>") == len(rows) + 1                      # the header and one row per layer
    assert "Conv2d(1 -&gt; 32" in text and "->" not in text          # layer labels are escaped
    assert f"{model.num_parameters():,} parameters" in text
    assert "<pre>" in Sequential([Dense(3)])._repr_html_()          # unbuilt: its repr


def _pixel_net(seed=0):
    from nnlab.engine import Conv2d

    model = Sequential([Conv2d(1, 4, 3, padding=1), ReLU(), Conv2d(4, 3, 1)], input_shape=(1, 6, 6), seed=seed)
    return model


def test_per_pixel_classification_trains_with_a_metric_object_and_paired_augmentation():
    """Seed 001's set-up on the NumPy engine: (N, C, H, W) logits, (N, H, W) labels, a PixelAccuracy
    object, and an augmentation that flips images and their label maps together."""
    from nnlab.metrics.pixel import PixelAccuracy

    rng = np.random.default_rng(0)
    x = rng.random((32, 1, 6, 6)).astype(np.float32)
    y = (x[:, 0] * 3).astype(np.int64).clip(0, 2)           # the class is the grey level's third
    seen = []

    def flip(xb, yb, r):
        seen.append(len(xb))
        return xb[..., ::-1], yb[..., ::-1]

    metric = PixelAccuracy()
    model = _pixel_net()
    model.compile(loss="cross_entropy", optimizer={"name": "adam", "lr": 0.05}, metrics=[metric])
    h = model.fit(x, y, epochs=15, batch_size=8, validation_data=(x, y), augment=flip, augment_targets=True)
    assert seen[:4] == [8, 8, 8, 8] and len(seen) == 15 * 4
    assert h["val_accuracy"][-1] > 0.9 and h["loss"][-1] < h["loss"][0]
    assert metric._count == 0                                # the object given to compile is left alone
    assert "metrics accuracy" in model._repr_html_() and "Metrics: accuracy" in model.summary()


def test_an_augmentation_that_changes_the_shape_is_refused():
    model = _pixel_net()
    model.compile(loss="cross_entropy", optimizer="sgd")
    x, y = np.zeros((4, 1, 6, 6), np.float32), np.zeros((4, 6, 6), np.int64)
    with pytest.raises(ShapeError, match="augment changed the batch shape"):
        model.fit(x, y, epochs=1, batch_size=2, augment=lambda xb, r: xb[:, :, :4])


def test_per_pixel_labels_of_the_wrong_shape_are_refused():
    model = _pixel_net()
    model.compile(loss="cross_entropy", optimizer="sgd")
    with pytest.raises(ShapeError, match=r"per-pixel labels must be \(N, 6, 6\)"):
        model.fit(np.zeros((4, 1, 6, 6), np.float32), np.zeros((4, 5, 6), np.int64), epochs=1)


def test_recording_outputs_keeps_what_a_nested_module_gave_and_then_stops():
    from nnlab.models import create_model

    model = create_model("colour_unet", num_filters=4).build(seed=0)
    names = dict(model.named_modules())
    assert names[""] is model and "0.0.2" in names           # dotted names, as the state dict's
    relus = [m for m in model.modules() if isinstance(m, ReLU)]
    x = np.random.default_rng(0).random((2, 1, 32, 32)).astype(np.float32)
    with relus[1].recording_outputs() as outputs:
        model.predict(x)
    assert len(outputs) == 1 and outputs[0].shape[0] == 2 and (outputs[0] >= 0).all()
    model.predict(x)
    assert len(outputs) == 1 and "forward" not in vars(relus[1])   # the wrapper is gone
