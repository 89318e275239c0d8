"""``batch-size``: seed 002 Q2, an MNIST MLP trained with batch 64, 256 and 1024.

Three things are shown:

1. convergence per epoch and per second of training: small batches make more progress per
   epoch (more steps), large ones pass over the data faster (fewer, larger matrix products);
2. gradient accumulation: a batch of 64 processed as 32 micro-batches of 2 whose gradients are
   summed (``fit(..., accumulate_steps=32)``) gives the gradient of the whole batch, equal up to
   rounding (float32 and float64 shown), so one optimizer step is the same step;
3. memory: the peak memory of one training step (``tracemalloc``, which NumPy reports its
   buffers to) grows with the batch without accumulation and stays flat with micro-batches of 2;
4. "don't decay the learning rate, increase the batch size" (Smith et al. 2017, the seed's
   reference [2] and its figure 6): a step decay of the learning rate (divided by ``k`` after
   given epochs) against a constant rate with the batch multiplied by ``k`` after the same
   epochs (:class:`nnlab.training.batch_schedule.BatchSizeScheduler`). Both keep the ratio
   lr / batch, SGD's noise scale, equal epoch by epoch; the second needs far fewer updates.

The seed names no architecture; we use 784-256-10 (ReLU) with softmax cross-entropy and plain
SGD with momentum at one learning rate for every batch size (no lr scaling), so the curves show
the effect of the batch alone.
"""

from __future__ import annotations

import logging
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from nnlab.engine import Dense, Sequential
from nnlab.engine.schedules import Constant, MultiStepDecay
from nnlab.experiments.mnist_data import check_dataset, load_mnist
from nnlab.experiments.registry import experiment
from nnlab.reporting.figures import overlay_figure
from nnlab.training.batch_schedule import BatchSizeScheduler, BatchSizeSteps
from nnlab.training.callbacks import Callback, LearningRateScheduler

log = logging.getLogger(__name__)


@dataclass
class ScheduleStudy:
    """Smith et al. (2017): divide the learning rate by ``factor``, or multiply the batch by it."""

    epochs: int = 6                    # both runs train this many epochs
    batch: int = 64                    # the starting batch (kept by the decaying run)
    lr: float = 0.1                    # the starting rate (kept by the growing-batch run)
    factor: int = 5                    # k: the paper's factor 5
    milestones: list[int] = field(default_factory=lambda: [2, 4])  # epochs after which lr / k, or batch * k


@dataclass
class BatchSizeConfig:
    seed: int = 0                      # weights and shuffling draw from it
    hidden: list[int] = field(default_factory=lambda: [256])  # hidden layer sizes (ReLU)
    batch_sizes: list[int] = field(default_factory=lambda: [64, 256, 1024])  # one network per batch size
    epochs: int = 10                   # the same number of passes for every batch size
    lr: float = 0.01                   # SGD learning rate, the same for every batch size
    momentum: float = 0.9             # SGD momentum
    micro_batch: int = 2               # micro-batch size of the accumulation studies
    check_batch: int = 64              # the batch whose accumulated gradient is compared
    memory_batches: list[int] = field(default_factory=lambda: [64, 256, 1024])  # effective batches measured
    train_limit: int = 0               # use only the first N training images (0: all)
    dataset: str = "mnist"             # an IDX data set: mnist or fashion-mnist (same files, other classes)
    schedule: ScheduleStudy = field(default_factory=ScheduleStudy)  # decay the rate or grow the batch


SEED_PRESET = {"hidden": [256], "batch_sizes": [64, 256, 1024]}
SMOKE = {"epochs": 2, "batch_sizes": [16, 64], "memory_batches": [8, 32], "check_batch": 16,
         "schedule": {"epochs": 3, "batch": 16, "factor": 2, "milestones": [1, 2]}}

RUNS = {"lr_decay": "learning rate / k", "batch_increase": "batch x k"}  # the two arms of the schedule study

ABOUT = """An MNIST multilayer perceptron trained with batches of 64, 256 and 1024 (the seed's question
on batch size): small batches learn more per epoch, large ones pass over the data faster. Gradient
accumulation then shows how a batch too large for memory can be processed as micro-batches of 2
with the same update. Finally, after Smith et al. (2017), a learning rate divided by k at two
epochs is compared with a constant rate whose batch is multiplied by k at the same epochs."""

METRICS = {
    "final_test_accuracy": ("best test accuracy after the last epoch over the batch sizes compared", "fraction"),
    "test_accuracy_batch{batch}": ("test accuracy after the last epoch, batch {batch}", "fraction"),
    "train_s_batch{batch}": ("seconds of training steps, batch {batch} (validation excluded)", "s"),
    "grad_max_abs_diff_{dtype}": ("largest difference between the whole-batch gradient and the sum over "
                                  "micro-batches, in {dtype}", ""),
    "peak_kib_full": ("peak memory of one step on the whole batch, per effective batch in memory_batches", "KiB"),
    "peak_kib_accumulated": ("peak memory of one step in micro-batches, per effective batch in memory_batches",
                             "KiB"),
    "memory_batches": ("effective batches of the memory study", "count"),
    "schedule_lr_decay_test_accuracy": ("test accuracy after the last epoch, learning rate divided by k at the "
                                        "milestones (constant batch)", "fraction"),
    "schedule_batch_increase_test_accuracy": ("test accuracy after the last epoch, batch multiplied by k at the "
                                              "milestones (constant learning rate)", "fraction"),
    "schedule_lr_decay_updates": ("optimizer updates of the decaying-rate run", "count"),
    "schedule_batch_increase_updates": ("optimizer updates of the growing-batch run", "count"),
    "schedule_update_ratio": ("updates of the growing-batch run / updates of the decaying-rate run", ""),
}


class TrainingClock(Callback):
    """Cumulative seconds spent in training steps (validation excluded) at the end of each epoch."""

    def __init__(self) -> None:
        self.elapsed, self.times = 0.0, []
        self._start = self._last = 0.0

    state_attributes = ("elapsed", "times")

    def on_epoch_begin(self, trainer, epoch):
        self._start = self._last = time.perf_counter()

    def on_batch_end(self, trainer, step, logs):
        self._last = time.perf_counter()

    def on_epoch_end(self, trainer, epoch, logs):
        self.elapsed += self._last - self._start
        self.times.append(self.elapsed)


def mlp(cfg: BatchSizeConfig, inputs: int, dtype: str = "float32") -> Sequential:
    layers = [Dense(h, "relu") for h in cfg.hidden] + [Dense(10)]
    return Sequential(layers, input_shape=(inputs,), dtype=dtype, seed=cfg.seed, name="mlp")


def compiled(cfg: BatchSizeConfig, inputs: int, dtype: str = "float32", lr: float | None = None) -> Sequential:
    model = mlp(cfg, inputs, dtype)
    model.compile(loss="cross_entropy", metrics=["accuracy"],
                  optimizer={"name": "sgd", "lr": cfg.lr if lr is None else lr, "momentum": cfg.momentum})
    return model


def accumulated_gradient(cfg, x, y, dtype: str, accumulate_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(gradient, weights after the step) of one SGD step on the batch (x, y) from the seeded start.

    Shapes: -> (P,), (P,) with P the number of parameters.
    """
    model = compiled(cfg, x.shape[1], dtype, lr=0.1)
    model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, accumulate_steps=accumulate_steps)
    params = model.parameters()
    return np.concatenate([p.grad.ravel() for p in params]), np.concatenate([p.data.ravel() for p in params])


def gradient_check(ctx, x, y) -> list[dict]:
    cfg = ctx.cfg
    n = min(cfg.check_batch, len(x))
    steps = n // cfg.micro_batch
    rows = []
    for dtype in ("float32", "float64"):
        g_full, w_full = accumulated_gradient(cfg, x[:n], y[:n], dtype, 1)
        g_acc, w_acc = accumulated_gradient(cfg, x[:n], y[:n], dtype, steps)
        rows.append({"dtype": dtype, "batch": n, "micro_batch": cfg.micro_batch, "accumulate_steps": steps,
                     "max_abs_grad": float(np.abs(g_full).max()),
                     "grad_max_abs_diff": float(np.abs(g_full - g_acc).max()),
                     "weights_max_abs_diff_after_step": float(np.abs(w_full - w_acc).max())})
    ctx.table("gradient-accumulation", rows, f"one SGD step on a batch of {n}: the whole batch at once vs "
              f"{steps} micro-batches of {cfg.micro_batch} with their gradients summed (same start weights)")
    return rows


def step_peak_bytes(cfg, x, y, accumulate_steps: int) -> int:
    """Peak bytes allocated during one training step on (x, y) (the batch itself excluded)."""
    model = compiled(cfg, x.shape[1])
    model.train_step(x[:2], y[:2])  # warm-up: the optimizer's state is allocated once, not per step
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        # the engine's own step (what fit runs per batch), without fit's batch buffers
        model.train_step(x, y, accumulate_steps)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def memory_study(ctx, x, y) -> list[dict]:
    cfg = ctx.cfg
    rows = []
    for batch in cfg.memory_batches:
        b = min(batch, len(x))
        xb, yb = np.ascontiguousarray(x[:b]), np.ascontiguousarray(y[:b])
        full = step_peak_bytes(cfg, xb, yb, 1)
        acc = step_peak_bytes(cfg, xb, yb, max(1, b // cfg.micro_batch))
        rows.append({"effective_batch": b, "peak_kib_full_batch": round(full / 1024, 1),
                     f"peak_kib_micro_{cfg.micro_batch}": round(acc / 1024, 1),
                     "input_batch_kib": round(xb.nbytes / 1024, 1)})
    ctx.table("step-memory", rows, "peak memory allocated during one training step (tracemalloc), the input "
              f"batch itself excluded: the whole batch at once vs micro-batches of {cfg.micro_batch}")
    ctx.figure("step-memory", memory_figure(rows, cfg.micro_batch),
               "peak memory of one training step against the effective batch")
    return rows


def memory_figure(rows: list[dict], micro: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 3.4), dpi=100, layout="constrained")
    ax = fig.subplots()
    batches = [r["effective_batch"] for r in rows]
    ax.plot(batches, [r["peak_kib_full_batch"] for r in rows], "o-", label="whole batch at once")
    ax.plot(batches, [r[f"peak_kib_micro_{micro}"] for r in rows], "s-", label=f"micro-batches of {micro} (accumulated)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.set_xlabel("effective batch")
    ax.set_ylabel("peak KiB during one step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("memory of one training step", fontsize=10)
    return fig


def schedule_run(ctx, arm: str, data):
    """One arm of the Smith et al. comparison, phase ``arm`` of the run. -> (History with
    batch_size/updates/time_s columns, updates)."""
    x, y, x_test, y_test = data
    cfg, st = ctx.cfg, ctx.cfg.schedule
    if arm == "lr_decay":
        lr, batch = MultiStepDecay(st.lr, st.milestones, gamma=1 / st.factor), BatchSizeSteps(st.batch)
    else:
        lr, batch = Constant(st.lr), BatchSizeSteps(st.batch, st.milestones, factor=st.factor, max_batch=len(x))
    model = compiled(cfg, x.shape[1], lr=st.lr)
    sizes, clock = BatchSizeScheduler(batch), TrainingClock()
    h, _ = ctx.fit(arm, model, x, y, epochs=st.epochs, batch_size=st.batch, validation_data=(x_test, y_test),
                   callbacks=[sizes, LearningRateScheduler(lr), clock], history=False)
    h.add_column("batch_size", sizes.batch_sizes)
    h.add_column("updates", np.cumsum(sizes.steps).tolist())
    h.add_column("time_s", clock.times)
    return h, model.optimizer.step_count


def schedule_study(ctx, data) -> dict[str, dict]:
    """Decay the learning rate by k, or grow the batch by k, after the same epochs (Smith et al. 2017)."""
    cfg, st = ctx.cfg, ctx.cfg.schedule
    histories, rows = {}, []
    for arm, label in RUNS.items():
        h, updates = schedule_run(ctx, arm, data)
        ctx.history(h, f"history-{arm.replace('_', '-')}", plot=False)
        histories[label] = h
        rows.append({"run": label, "test_accuracy": round(h["val_accuracy"][-1], 4),
                     "test_loss": round(h["val_loss"][-1], 4), "updates": updates,
                     "lr_per_epoch": " ".join(f"{v:.3g}" for v in h["lr"]),
                     "batch_per_epoch": " ".join(str(int(b)) for b in h["batch_size"]),
                     "train_s": round(h["time_s"][-1], 2)})
    ctx.table("schedules", rows, f"SGD (momentum {cfg.momentum:g}), {st.epochs} epochs from lr {st.lr:g} and batch "
              f"{st.batch}: the rate divided by {st.factor}, or the batch multiplied by {st.factor}, after epochs "
              f"{', '.join(map(str, st.milestones))}; updates = optimizer steps over the whole run")
    ctx.figure("schedules", schedule_figure(histories),
               "the learning rate and the batch size of each run per epoch, then its test accuracy per epoch and "
               "against the cumulative number of optimizer updates (the growing batch takes fewer)")
    return {arm: row for arm, row in zip(RUNS, rows)}


def schedule_figure(histories: dict):
    """Learning rate, batch, and test accuracy (per epoch and per update) of the schedule study's runs."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, NullLocator

    fig = Figure(figsize=(13, 3.3), dpi=100, layout="constrained")
    rate, batch, per_epoch, per_update = fig.subplots(1, 4)
    for label, h in histories.items():
        rate.plot(h.epochs, h["lr"], "o-", drawstyle="steps-mid", ms=3, label=label)
        batch.plot(h.epochs, h["batch_size"], "o-", drawstyle="steps-mid", ms=3, label=label)
        per_epoch.plot(h.epochs, h["val_accuracy"], "o-", ms=3, label=label)
        per_update.plot(h["updates"], h["val_accuracy"], "o-", ms=3, label=label)
    rate.set(xlabel="epoch", ylabel="learning rate", yscale="log", title="learning rate per epoch")
    batch.set(xlabel="epoch", ylabel="batch size", yscale="log", title="batch size per epoch")
    for ax, key in ((rate, "lr"), (batch, "batch_size")):
        values = sorted({v for h in histories.values() for v in h[key]})
        ax.set_yticks(values, [f"{v:.3g}" if key == "lr" else str(int(v)) for v in values])
        ax.yaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    per_epoch.xaxis.set_major_locator(MaxNLocator(integer=True))
    per_epoch.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy per epoch")
    per_update.set(xlabel="optimizer updates (cumulative)", ylabel="test accuracy", title="test accuracy per update")
    for ax in (rate, batch, per_epoch, per_update):
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("decay the learning rate, or increase the batch size (Smith et al. 2017)", fontsize=10)
    return fig


def batch_comparison(ctx, data) -> dict[int, dict]:
    """The seed's figures 7 and 8: one run per batch size, per epoch and per second."""
    cfg = ctx.cfg
    x_train, y_train, x_test, y_test = data
    histories, finals = {}, {}
    for batch in cfg.batch_sizes:
        model = compiled(cfg, x_train.shape[1])
        clock = TrainingClock()
        h, _ = ctx.fit(f"batch{batch}", model, x_train, y_train, epochs=cfg.epochs, batch_size=batch,
                       validation_data=(x_test, y_test), callbacks=[clock], history=False)
        h.add_column("time_s", clock.times)
        ctx.history(h, f"history-batch{batch}", plot=False)
        histories[f"batch {batch}"] = h
        finals[batch] = {"test_accuracy": h["val_accuracy"][-1], "test_loss": h["val_loss"][-1],
                         "train_s": clock.elapsed}
        ctx.record(**{f"test_accuracy_batch{batch}": h["val_accuracy"][-1],
                      f"train_s_batch{batch}": round(clock.elapsed, 2)})
    keys = ["loss", "val_loss", "val_accuracy"]
    ctx.figure("curves-per-epoch", overlay_figure(histories, keys, x="epoch", title="per epoch"),
               "training loss, test loss and test accuracy against epochs (val_ = the 10k test set)")
    ctx.figure("curves-per-second", overlay_figure(histories, keys, x="time_s", title="per second of training"),
               "the same curves against cumulative seconds of training steps")
    ctx.table("batch-sizes", [{"batch": b, **{k: round(v, 4) for k, v in f.items()}} for b, f in finals.items()],
              f"after {cfg.epochs} epochs, SGD lr {cfg.lr:g} momentum {cfg.momentum:g}")
    ctx.record(final_test_accuracy=max(f["test_accuracy"] for f in finals.values()))
    return finals


@experiment("batch-size", "MNIST MLP with batch 64/256/1024: convergence per epoch and per second; "
            "gradient accumulation; Smith et al.'s growing batch instead of a decaying rate",
            config=BatchSizeConfig, presets={"seed": SEED_PRESET}, smoke=SMOKE,
            objective=("final_test_accuracy", "max"), about=ABOUT, metrics=METRICS, check=check_dataset)
def run(ctx) -> None:
    cfg = ctx.cfg
    data = load_mnist(ctx)
    x_train, y_train = data[:2]
    batch_comparison(ctx, data)

    grads = gradient_check(ctx, x_train, y_train)
    ctx.record(**{f"grad_max_abs_diff_{r['dtype']}": r["grad_max_abs_diff"] for r in grads})
    memory = memory_study(ctx, x_train, y_train)
    ctx.record(peak_kib_full=[r["peak_kib_full_batch"] for r in memory],
               peak_kib_accumulated=[r[f"peak_kib_micro_{cfg.micro_batch}"] for r in memory],
               memory_batches=[r["effective_batch"] for r in memory])

    arms = schedule_study(ctx, data)
    ctx.record(**{f"schedule_{arm}_{k}": arms[arm][k] for arm in RUNS for k in ("test_accuracy", "updates")},
               schedule_update_ratio=round(arms["batch_increase"]["updates"] / arms["lr_decay"]["updates"], 4))
    st = cfg.schedule
    ctx.note(f"MLP {'-'.join(map(str, [x_train.shape[1], *cfg.hidden, 10]))} (ReLU), softmax cross-entropy, SGD lr "
             f"{cfg.lr:g} with momentum {cfg.momentum:g}, {cfg.epochs} epochs for each batch size. Gradient "
             f"accumulation: the largest difference between the whole-batch gradient and the sum over micro-batches "
             f"is {grads[0]['grad_max_abs_diff']:.2g} in float32 and {grads[1]['grad_max_abs_diff']:.2g} in float64 "
             "(rounding only).", title="Setting")
    ctx.note(f"Smith et al. (2017) argue that SGD's noise scale is about lr N / (B (1 - momentum)), so dividing the "
             f"learning rate by k and multiplying the batch B by k are the same move. Both runs start at lr "
             f"{st.lr:g} and batch {st.batch}; after epochs {', '.join(map(str, st.milestones))} one divides the rate "
             f"by {st.factor}, the other multiplies the batch by {st.factor}. Final test accuracy "
             f"{arms['lr_decay']['test_accuracy']:.2%} (rate decay, {arms['lr_decay']['updates']} updates) against "
             f"{arms['batch_increase']['test_accuracy']:.2%} (growing batch, {arms['batch_increase']['updates']} "
             "updates). The NumPy engine supports batch-size schedules (Sequential.fit); the PyTorch Trainer does "
             "not.", title="Decay the learning rate, or increase the batch size")
