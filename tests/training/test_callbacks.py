import csv
import io
import logging
from pathlib import Path

import numpy as np
import pytest

from nnlab.engine import Dense, ReduceOnPlateau, Sequential, StepDecay
from nnlab.errors import TrainingDivergedError
from nnlab.training import (
    Callback,
    CallbackList,
    CSVLogger,
    EpochLogger,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
    TrainerLike,
)


def model_and_data(rng):
    model = Sequential([Dense(8, "tanh"), Dense(1)], input_shape=(3,), seed=0)
    model.compile("mse", {"name": "sgd", "lr": 0.05}, metrics=["rmse", "mae"])
    x = rng.standard_normal((40, 3))
    return model, x, x.sum(1, keepdims=True)


def test_csv_logger_writes_a_flushed_row_per_epoch(tmp_path, rng):
    model, x, y = model_and_data(rng)
    path = tmp_path / "logs" / "history.csv"
    rows_seen = []

    class Peek(Callback):  # read the file while training runs: each row must already be there
        def on_epoch_end(self, trainer, epoch, logs):
            with open(path) as f:
                rows_seen.append(len(list(csv.DictReader(f))))

    logger, spy = CSVLogger(path), Peek()
    h = model.fit(x, y, epochs=3, batch_size=10, validation_split=0.25, callbacks=[logger, spy])
    assert rows_seen == [1, 2, 3]
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["val_rmse"]) == pytest.approx(h["val_rmse"][-1])
    assert History.from_csv(path)["loss"] == pytest.approx(h["loss"])


def test_csv_logger_append_continues_a_file(tmp_path, rng):
    model, x, y = model_and_data(rng)
    path = tmp_path / "h.csv"
    model.fit(x, y, epochs=2, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=4, initial_epoch=2, callbacks=[CSVLogger(path, append=True)])
    with open(path) as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3, 4]


def test_scheduler_sets_lr_each_epoch(rng):
    model, x, y = model_and_data(rng)
    h = model.fit(x, y, epochs=5, callbacks=[LearningRateScheduler(StepDecay(0.1, step_size=2, gamma=0.5))])
    assert h["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert model.optimizer.lr == pytest.approx(0.025)


def test_plateau_schedule_is_fed_the_monitored_value(rng):
    model, x, y = model_and_data(rng)
    sched = ReduceOnPlateau(0.05, factor=0.5, patience=0, min_delta=1e9)  # never "improves" after the first
    h = model.fit(x, y, epochs=4, callbacks=[LearningRateScheduler(sched, monitor="loss")])
    # epoch 1 sets the best; every later epoch is "bad" (bad > patience=0), so the rate halves
    assert h["lr"] == pytest.approx([0.05, 0.05, 0.025, 0.0125])


def test_checkpoint_best_only(tmp_path, rng):
    model, x, y = model_and_data(rng)
    ck = ModelCheckpoint(tmp_path / "best-{epoch}.npz", monitor="loss", save_best_only=True)
    model.fit(x, y, epochs=4, callbacks=[ck])
    assert ck.saved and all(p.exists() for p in ck.saved)

    class Recorder:                                    # a trainer that records which epochs were saved
        def __init__(self):
            self.epochs = []

        def save_checkpoint(self, path):
            self.epochs.append(int(Path(path).stem.split("-")[1]))

    ck, trainer = ModelCheckpoint(tmp_path / "b-{epoch}.npz", monitor="val_loss", save_best_only=True), Recorder()
    for epoch, loss in enumerate([3.0, 2.0, 2.5, 1.0, 4.0, 1.0], start=1):
        ck.on_epoch_end(trainer, epoch, {"val_loss": loss})
    assert trainer.epochs == [1, 2, 4]                  # only the improvements; a tie is not one
    ck, trainer = ModelCheckpoint(tmp_path / "a-{epoch}.npz", monitor="val_loss"), Recorder()
    for epoch, loss in enumerate([3.0, 2.0, 2.5], start=1):
        ck.on_epoch_end(trainer, epoch, {"val_loss": loss})
    assert trainer.epochs == [1, 2, 3]                  # without best-only, every epoch


def test_progress_bar_and_epoch_logger(rng, caplog):
    model, x, y = model_and_data(rng)
    out = io.StringIO()
    with caplog.at_level(logging.INFO, logger="nnlab"):
        model.fit(x, y, epochs=2, batch_size=10, callbacks=[ProgressBar(total_epochs=2, file=out), EpochLogger()])
    text = out.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "4/4" in text
    assert sum("epoch" in r.message and "loss=" in r.message for r in caplog.records) == 2


def test_fit_loop_satisfies_the_trainer_protocol(rng):
    model, x, y = model_and_data(rng)
    seen = []

    class Check:
        def on_train_begin(self, trainer):
            seen.append(isinstance(trainer, TrainerLike))

        on_epoch_begin = on_batch_end = on_epoch_end = on_train_end = lambda *a: None

    model.fit(x, y, callbacks=[Check()])
    assert seen == [True]


def test_non_callbacks_are_rejected():
    with pytest.raises(TypeError, match="lacks"):
        CallbackList([object()])


def test_history_records_and_finds_best():
    h = History()
    for e, v in enumerate([3.0, 1.0, 2.0], start=1):
        h.append(e, {"val_loss": v, "val_accuracy": 1 / v})
    assert h.best("val_loss") == (2, 1.0)
    assert h.best("val_accuracy", mode="max") == (2, 1.0)
    with pytest.raises(KeyError, match="recorded: val_loss, val_accuracy"):
        h["loss"]
    h.append(4, {"loss": 0.5})  # a key that appears late is padded with NaN
    assert np.isnan(h["loss"][0]) and h["loss"][-1] == 0.5 and np.isnan(h["val_loss"][-1])


def test_history_add_column_checks_its_length():
    from nnlab.training.history import History

    h = History()
    h.append(1, {"loss": 1.0})
    h.append(2, {"loss": 0.5})
    h.add_column("time_s", [0.1, 0.3])
    assert h["time_s"] == [0.1, 0.3]
    with pytest.raises(ValueError, match="1 values for 2 epochs"):
        h.add_column("x", [1.0])


def test_phase_bar_is_one_line_for_the_phase_with_its_epochs_and_resumes_where_it_stopped(tmp_path):
    import io

    import numpy as np

    from nnlab.engine.serialization import model_from_spec
    from nnlab.training.callbacks import Callback, PhaseBar

    spec = {"input_shape": [3], "layers": [{"type": "Linear", "in_features": 3, "out_features": 1}]}
    x, y = np.ones((40, 3), np.float32), np.zeros((40, 1), np.float32)

    def fitted(epochs, callbacks):
        model = model_from_spec(spec, seed=0)
        model.compile(loss="mse", optimizer={"name": "sgd", "lr": 0.01})
        model.fit(x, y, epochs=epochs, batch_size=10, callbacks=callbacks, checkpoint=tmp_path / "ckpt")

    out = io.StringIO()
    fitted(3, [PhaseBar(3, "[2/3] unet", file=out)])
    text = out.getvalue()
    assert "[2/3] unet epoch 3/3" in text and "12/12" in text and "val_" not in text and "loss=" in text

    class Stop(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 2:
                raise KeyboardInterrupt

    (tmp_path / "ckpt.npz").unlink()
    with pytest.raises(KeyboardInterrupt):
        fitted(4, [PhaseBar(4, "p", file=io.StringIO()), Stop()])
    resumed = io.StringIO()
    fitted(4, [PhaseBar(4, "p", file=resumed)])
    assert " 4/16 " in resumed.getvalue().replace("|", " ")        # the first epoch's 4 batches count as done
    assert "16/16" in resumed.getvalue()


def test_a_run_labels_its_phases_by_position_when_the_experiment_declares_them(tmp_path):
    from nnlab.experiments import load_all
    from nnlab.experiments.runner import RunContext, resolve_config

    exp = load_all()["colourization"]
    ctx = RunContext(exp, resolve_config(exp), tmp_path, smoke=False, engine="torch", data_dir=None, progress=False)
    assert ctx.phase_label("unet") == "[2/3] unet"
    other = load_all()["symmetry"]
    ctx = RunContext(other, resolve_config(other), tmp_path, smoke=False, engine="numpy", data_dir=None,
                     progress=False)
    ctx.callbacks(3, "he")
    assert ctx.phase_label("he") == "[phase 1] he"


def test_fit_callbacks_puts_the_nan_guard_first_one_progress_bar_and_the_checkpoint_last(tmp_path):
    from nnlab.training.callbacks import fit_callbacks

    first, history = EpochLogger(), History()
    cbs, path = fit_callbacks([first], 3, history=history, progress=True, checkpoint=tmp_path / "c", suffix=".npz")
    assert [type(c) for c in cbs] == [TerminateOnNaN, History, EpochLogger, ProgressBar, ModelCheckpoint]
    assert cbs[1] is history and cbs[2] is first and path == tmp_path / "c.npz"
    bar, guard = ProgressBar(total_epochs=3), TerminateOnNaN()
    cbs, path = fit_callbacks([bar, guard], 3, history=history, progress=True, checkpoint=None, suffix=".pt")
    assert cbs == [history, bar, guard] and path is None                   # no second bar or guard, no saver
    cbs, path = fit_callbacks([], 3, history=history, progress=False, checkpoint=tmp_path / "w.ckpt", suffix=".pt",
                              keep_any_suffix=True)
    assert path == tmp_path / "w.ckpt" and [type(c) for c in cbs] == [TerminateOnNaN, History, ModelCheckpoint]


def test_the_nan_guard_does_not_ask_for_batch_logs():
    assert not CallbackList([TerminateOnNaN(), History()]).has_batch_hooks
    assert CallbackList([TerminateOnNaN(), ProgressBar(total_epochs=1)]).has_batch_hooks


def test_weights_that_become_nan_are_restored_to_the_epoch_start(rng):
    model, x, y = model_and_data(rng)
    start = {}

    class Poison(Callback):  # the loss of every batch stays finite; the weights are spoiled after the last step
        def on_epoch_begin(self, trainer, epoch):
            start.update(trainer.get_weights())

        def on_batch_end(self, trainer, step, logs):
            if trainer.epoch == 2 and step == trainer.steps_per_epoch - 1:
                w = trainer.get_weights()
                w[next(iter(w))][...] = np.nan
                trainer.set_weights(w)

    with pytest.raises(TrainingDivergedError, match="weights became NaN or infinite during epoch 2"):
        model.fit(x, y, epochs=3, batch_size=10, callbacks=[Poison()])
    now = model.state_dict()
    assert all(np.array_equal(now[k], start[k]) for k in now)


def test_callback_state_follows_its_type_when_positions_shift():
    class Counter(Callback):
        state_attributes = ("n",)

        def __init__(self, n=0):
            self.n = n

    saved = CallbackList([History(), Counter(1), EpochLogger(), Counter(2)]).state_dict()
    assert saved["1:Counter"] == {"n": 1} and saved["3:Counter"] == {"n": 2}
    a, b = Counter(), Counter()
    CallbackList([TerminateOnNaN(), History(), a, b]).load_state_dict(saved)  # a guard added in front
    assert (a.n, b.n) == (1, 2)
