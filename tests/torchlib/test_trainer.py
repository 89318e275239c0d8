"""The PyTorch Trainer: same callbacks, same numbers as the NumPy engine, exact resumes."""

import io
import math
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nnlab.engine import Dense, Dropout, Sequential, TrainingDivergedError  # noqa: E402
from nnlab.engine.schedules import ReduceOnPlateau  # noqa: E402
from nnlab.errors import ConfigError, DataError  # noqa: E402
from nnlab.torchlib import Trainer, to_torch  # noqa: E402
from nnlab.training.callbacks import (  # noqa: E402
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def blobs(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, (x[:, 0] - 0.5 * x[:, 1] > 0).astype(np.int64)


def mlp(seed=0, dropout=0.0):
    layers = [Dense(16, "relu"), Dense(2)]
    if dropout:
        layers.insert(1, Dropout(dropout))
    return Sequential(layers, input_shape=(6,), dtype="float64", seed=seed)


def trainer(model=None, **kw):
    kw.setdefault("optimizer", {"name": "adam", "lr": 0.01})
    return Trainer(model if model is not None else mlp(), loss="cross_entropy", metrics=["accuracy"], **kw)


def max_diff(a, b):
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def test_same_updates_as_the_numpy_engine():
    x, y = blobs()
    engine = mlp(seed=3)
    torch_model = to_torch(engine)
    engine.compile(loss="cross_entropy", optimizer={"name": "adam", "lr": 0.01})
    engine.fit(x, y, epochs=3, batch_size=32, shuffle=False)
    t = Trainer(torch_model, loss="cross_entropy", optimizer={"name": "adam", "lr": 0.01})
    t.fit(x, y, epochs=3, batch_size=32, shuffle=False)
    assert max_diff(t.get_weights(), engine.state_dict()) < 1e-10


def test_history_has_loss_metrics_validation_and_lr():
    x, y = blobs()
    t = trainer()
    h = t.fit(x, y, epochs=3, batch_size=20, validation_data=blobs(40, seed=1))
    assert list(h.keys()) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert h.epochs == [1, 2, 3]
    assert h["loss"][-1] < h["loss"][0]
    assert h["val_accuracy"][-1] > 0.8
    assert t.evaluate(*blobs(40, seed=1))["accuracy"] == pytest.approx(h["val_accuracy"][-1])
    assert t.predict(x).shape == (120, 2)


def test_gradient_accumulation_equals_one_large_batch():
    x, y = blobs()
    a, b = trainer(mlp(seed=1)), trainer(mlp(seed=1), accumulate_steps=4)
    a.fit(x, y, epochs=2, batch_size=30)
    b.fit(x, y, epochs=2, batch_size=30)
    assert max_diff(a.get_weights(), b.get_weights()) < 1e-12


def test_gradient_clipping_bounds_the_step():
    x, y = blobs()
    before = mlp(seed=2)
    t = Trainer(before, loss="cross_entropy", optimizer={"name": "sgd", "lr": 1.0}, clip_grad_norm=1e-3)
    w0 = t.get_weights()
    t.fit(x * 1e3, y, epochs=1, batch_size=len(x))  # a huge gradient, one step
    step = math.sqrt(sum(float(((t.get_weights()[k] - w0[k]) ** 2).sum()) for k in w0))
    assert step == pytest.approx(1e-3, rel=1e-6)


def test_same_seed_same_weights_other_seed_other_order():
    x, y = blobs()
    runs = []
    for seed in (5, 5, 6):
        t = trainer(mlp(dropout=0.3), seed=seed)
        t.fit(x, y, epochs=2, batch_size=16)
        runs.append(t.get_weights())
    assert max_diff(runs[0], runs[1]) == 0
    assert max_diff(runs[0], runs[2]) > 1e-6


def test_standard_callbacks_drive_the_torch_loop(tmp_path):
    x, y = blobs()
    t = trainer(optimizer={"name": "sgd", "lr": 0.1})
    bar = io.StringIO()
    stop = EarlyStopping(monitor="val_loss", patience=2, min_delta=10.0)  # no epoch improves by 10
    h = t.fit(x, y, epochs=20, batch_size=30, validation_data=blobs(30, seed=2), callbacks=[
        stop, CSVLogger(tmp_path / "h.csv"), ModelCheckpoint(tmp_path / "ep{epoch}.pt"),
        LearningRateScheduler(lambda epoch: 0.1 / epoch), ProgressBar(total_epochs=20, file=bar)])
    assert len(h) == 3 and stop.stopped_epoch == 3
    assert h["lr"] == pytest.approx([0.1 / e for e in h.epochs])
    assert (tmp_path / "h.csv").read_text().count("\n") == len(h) + 1
    assert sorted(p.name for p in tmp_path.glob("ep*.pt")) == sorted(f"ep{e}.pt" for e in h.epochs)
    assert "epoch 1/20" in bar.getvalue()


def test_resume_in_process_is_exact_with_dropout_and_callback_state(tmp_path):
    x, y = blobs()
    val = blobs(40, seed=1)

    class Interrupt(Callback):                         # Ctrl-C at the end of epoch 3, before its checkpoint
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 3:
                raise KeyboardInterrupt

    def run(epochs, ckpt=None, extra=()):
        t = trainer(mlp(dropout=0.3))
        # early stopping watches the rate, which only falls: its best epoch stays epoch 1, before the
        # resume (a fresh EarlyStopping after it would name epoch 3)
        cbs = [EarlyStopping(monitor="lr", mode="max", patience=50, restore_best_weights=False),
               LearningRateScheduler(ReduceOnPlateau(0.01, patience=0, factor=0.5))]
        t.fit(x, y, epochs=epochs, batch_size=16, validation_data=val, callbacks=cbs + list(extra), checkpoint=ckpt)
        return t, cbs

    straight, straight_cbs = run(5)
    ckpt = tmp_path / "c.pt"
    with pytest.raises(KeyboardInterrupt):
        run(5, ckpt, [Interrupt()])
    resumed, cbs = run(5, ckpt)                        # from the checkpoint of epoch 2
    assert resumed.history.epochs == [1, 2, 3, 4, 5]
    assert max_diff(straight.get_weights(), resumed.get_weights()) == 0
    assert resumed.history["lr"] == straight.history["lr"]
    assert len(resumed.history.seconds) == 5 and all(s > 0 for s in resumed.history.seconds)  # times kept
    # the callbacks continue from their saved state, not from scratch
    stop, plateau = cbs[0], cbs[1].schedule
    assert (stop.best, stop.best_epoch, stop.wait) == (straight_cbs[0].best, straight_cbs[0].best_epoch,
                                                      straight_cbs[0].wait)
    assert stop.best_epoch == 1 and stop.wait == 4
    assert plateau.state_dict() == straight_cbs[1].schedule.state_dict()


def test_checkpoints_are_read_with_weights_only(tmp_path):
    evil = tmp_path / "evil.pt"

    class Boom:
        def __reduce__(self):
            return (eval, ("1/0",))

    evil.write_bytes(pickle.dumps({"format": "nnlab-torch-checkpoint-1", "x": Boom()}, protocol=2))
    with pytest.raises(DataError, match="not a readable nnlab checkpoint"):
        trainer().load_checkpoint(evil)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(DataError, match="not an nnlab torch checkpoint"):
        trainer().load_checkpoint(other)


def test_checkpoint_write_is_atomic_and_leaves_no_temporary(tmp_path):
    t = trainer()
    t.fit(*blobs(), epochs=1, batch_size=40)
    t.save_checkpoint(tmp_path / "a.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]
    fresh = trainer(mlp(seed=9))
    assert fresh.load_checkpoint(tmp_path / "a.pt") == 1
    assert max_diff(fresh.get_weights(), t.get_weights()) == 0


def test_divergence_restores_the_epoch_start_weights():
    x, y = blobs()
    t = Trainer(mlp(), loss="mse", optimizer={"name": "sgd", "lr": 1e6})
    w0 = t.get_weights()
    with pytest.raises(TrainingDivergedError, match="during epoch 1"):  # no per-batch logs: found at the epoch's end
        t.fit(x, np.eye(2)[y] * 1e10, epochs=3, batch_size=10)
    assert max_diff(t.get_weights(), w0) == 0
    batches = []

    class Batches(Callback):  # asks for per-batch logs: the guard then stops at the first NaN batch
        def on_batch_end(self, trainer, step, logs):
            batches.append(step)

    t = Trainer(mlp(), loss="mse", optimizer={"name": "sgd", "lr": 1e6})
    with pytest.raises(TrainingDivergedError, match=r"at epoch 1, batch \d+/12"):
        t.fit(x, np.eye(2)[y] * 1e10, epochs=3, batch_size=10, callbacks=[Batches()])
    assert max_diff(t.get_weights(), w0) == 0 and len(batches) < 12


def test_mixed_precision_on_cpu_falls_back_with_a_warning(caplog):
    t = trainer(amp=True, device="cpu")
    assert t.amp_dtype is None
    assert "mixed precision runs on CUDA only" in caplog.text


def test_clear_errors_for_bad_input():
    x, y = blobs()
    with pytest.raises(DataError, match="120 samples but y has 119"):
        trainer().fit(x, y[:-1])
    with pytest.raises(ConfigError, match="unknown loss"):
        Trainer(mlp(), loss="hinge")
    with pytest.raises(ConfigError, match="unknown optimizer"):
        Trainer(mlp(), optimizer="lbfgs2")
    with pytest.raises(ConfigError, match="accumulate_steps"):
        trainer(accumulate_steps=8).fit(x, y, batch_size=4)


def small_cnn(seed=0):
    from nnlab.engine import Conv2d, Flatten, ReLU

    return Sequential([Conv2d(1, 4, 3, padding=1), ReLU(), Flatten(), Dense(2)], input_shape=(1, 6, 6),
                      dtype="float64", seed=seed)


def images(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 6, 6))
    return x, (x[:, 0, :, :3].mean((1, 2)) > x[:, 0, :, 3:].mean((1, 2))).astype(np.int64)


def test_augment_sees_every_batch_is_seeded_and_resumes_exactly(tmp_path):
    from nnlab.data.augment import RandomHorizontalFlip

    x, y = images()
    seen = []

    def flip(batch, rng):
        seen.append(batch.shape[0])
        return RandomHorizontalFlip(0.5)(batch, rng)

    def run(epochs, ckpt=None, augment=flip):
        t = trainer(small_cnn())
        t.fit(x, y, epochs=epochs, batch_size=16, augment=augment, checkpoint=ckpt)
        return t

    a, b, plain = run(3), run(3), run(3, augment=None)
    assert sum(seen) == 2 * 3 * len(x)                     # every training sample, every epoch
    assert max_diff(a.get_weights(), b.get_weights()) == 0  # seeded: same run, same weights
    assert max_diff(a.get_weights(), plain.get_weights()) > 1e-6  # the flips changed training
    ckpt = tmp_path / "c.pt"
    run(2, ckpt)
    assert max_diff(a.get_weights(), run(3, ckpt).get_weights()) == 0


def test_augment_must_keep_the_batch_shape():
    x, y = images()
    from nnlab.errors import ShapeError

    with pytest.raises(ShapeError, match="batch shape"):
        trainer(small_cnn()).fit(x, y, epochs=1, batch_size=16, augment=lambda b, rng: b[:, :, :4])


def test_augment_targets_transforms_inputs_and_targets_together():
    from nnlab.data.augment import paired_horizontal_flip
    from nnlab.engine import Conv2d

    rng = np.random.default_rng(0)
    x = rng.random((32, 1, 6, 6))
    y = (x[:, 0] > 0.5).astype(np.int64)                  # a class per pixel: (N, 6, 6)
    pairs = []

    def flip(xb, yb, r):
        xa, ya = paired_horizontal_flip(xb, yb, r)
        pairs.append((xa, ya))
        return xa, ya

    net = Sequential([Conv2d(1, 2, 1)], input_shape=(1, 6, 6), dtype="float64", seed=0)
    t = Trainer(net, loss="cross_entropy", optimizer={"name": "sgd", "lr": 0.1}, seed=0)
    t.fit(x, y, epochs=2, batch_size=8, augment=flip, augment_targets=True)
    assert sum(len(a) for a, _ in pairs) == 2 * len(x)
    for xa, ya in pairs:                                  # the targets still match their (flipped) pixels
        assert np.array_equal(ya, (xa[:, 0] > 0.5).astype(np.int64))
    originals = {img.tobytes() for img in x}
    mirrored = sum(img.tobytes() not in originals for xa, _ in pairs for img in xa)
    assert 0 < mirrored < 2 * len(x)                      # about half of the images were mirrored
    with pytest.raises(Exception, match="batch shape"):
        Trainer(net, loss="cross_entropy").fit(x, y, epochs=1, batch_size=8, augment_targets=True,
                         augment=lambda xb, yb, r: (xb, yb[:, :3]))


def test_channels_last_gives_the_same_training():
    x, y = images()
    a = trainer(small_cnn())
    b = trainer(small_cnn(), channels_last=True)
    ha = a.fit(x, y, epochs=2, batch_size=16, validation_data=(x, y))
    hb = b.fit(x, y, epochs=2, batch_size=16, validation_data=(x, y))
    assert max_diff(a.get_weights(), b.get_weights()) < 1e-10
    assert np.allclose(ha["val_loss"], hb["val_loss"], rtol=1e-10)
    assert np.allclose(a.predict(x), b.predict(x), rtol=1e-10)
