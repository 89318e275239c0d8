"""``Sequential``: a stack of layers with a Keras-like training API.

>>> import numpy as np
>>> from nnlab.engine import Sequential, Dense
>>> model = Sequential([Dense(35, "leaky_relu", init="small"), Dense(1)], input_shape=(128,), seed=0)
>>> model.compile(loss="mse", optimizer={"name": "sgd", "lr": 1e-3, "momentum": 0.99})
>>> history = model.fit(np.zeros((10, 128)), np.zeros(10), epochs=2, batch_size=5)
>>> len(history)
2

After ``build`` every parameter of the model is a view into one flat buffer (and every gradient
into another), so optimizers update the whole model in a few vectorised passes.

One concept, the Sequential model: building, the training loop, evaluation and prediction share
its flat buffers, so one module of about 550 lines.
"""

from __future__ import annotations

import copy
import html
import logging
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from nnlab.engine.checkpoint import load_checkpoint, save_checkpoint
from nnlab.engine.layers.registry import layer_config, layer_from_config, register
from nnlab.engine.losses import Loss, make_loss
from nnlab.engine.module import Module, resolve_dtype
from nnlab.engine.optim import Optimizer, make_optimizer
from nnlab.errors import ConfigError, DataError, ShapeError
from nnlab.metrics.basic import StreamingMetric, make_metric
from nnlab.training.callbacks import CallbackList, ModelCheckpoint, fit_callbacks
from nnlab.training.history import History

log = logging.getLogger(__name__)


def _fresh(metric: StreamingMetric) -> StreamingMetric:
    """A reset copy of a metric object given to ``compile`` (the object itself is left as given)."""
    fresh = copy.deepcopy(metric)
    fresh.reset()
    return fresh


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


@register
class Sequential(Module):
    """Layers applied in order. Give ``input_shape`` (per sample, no batch axis) to build at once."""

    def __init__(
        self,
        layers: Iterable[Module] = (),
        *,
        input_shape: Sequence[int] | None = None,
        dtype: Any = "float32",
        seed: int | np.random.Generator | None = None,
        name: str = "sequential",
    ) -> None:
        super().__init__()
        self.layers: list[Module] = []
        for layer in layers:
            self.add(layer)
        self.name = name
        self.dtype = resolve_dtype(dtype)
        self.rng = as_generator(seed)
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self._metric_specs: list[Any] = []   # compile's metrics: names or StreamingMetric objects
        self._out_shape: tuple[int, ...] | None = None
        if input_shape is not None:
            self.build(tuple(input_shape))

    # -- structure ------------------------------------------------------------------
    def add(self, layer: Module) -> "Sequential":
        if not isinstance(layer, Module):
            raise ConfigError(f"Sequential takes nnlab layers, got {type(layer).__name__}")
        if getattr(self, "built", False):
            raise ConfigError("cannot add layers to a built model")
        self.layers.append(layer)
        return self

    def children(self):
        return ((str(i), layer) for i, layer in enumerate(self.layers))

    def build(self, input_shape, rng: np.random.Generator | None = None, dtype: Any = None) -> None:
        if not self.layers:
            raise ConfigError("a Sequential model needs at least one layer")
        dtype = self.dtype if dtype is None else resolve_dtype(dtype)
        rng = self.rng if rng is None else rng
        shape = tuple(int(d) for d in input_shape)
        if any(d < 1 for d in shape):
            raise ShapeError(f"input_shape must be positive, got {shape}")
        for i, layer in enumerate(self.layers):
            try:
                layer.build(shape, rng, dtype)
                shape = layer.output_shape(shape)
            except (ShapeError, ConfigError) as exc:
                raise type(exc)(f"layer {i} ({type(layer).__name__}): {exc}") from None
        super().build(input_shape, rng, dtype)
        self._out_shape = shape
        self._flatten_parameters()

    def __deepcopy__(self, memo: dict[int, Any]) -> "Sequential":
        """An independent copy that trains: NumPy's deep copy of a view is a new array, not a view
        of the copied buffer, so the copy's parameters go back into one flat buffer of its own and
        its optimizer (with its state: Adam's moments, the step count) finds them there."""
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = copy.deepcopy(value, memo)
        if self.built:
            new._flatten_parameters()
        if new.optimizer is not None:
            new.optimizer.relink()
        return new

    def _flatten_parameters(self) -> None:
        """Move every parameter (and gradient) into one contiguous buffer, keeping values."""
        params = self.parameters()
        total = sum(p.size for p in params)
        self._flat_data = np.empty(total, self.dtype)
        self._flat_grad = np.zeros(total, self.dtype)
        offset = 0
        for p in params:
            n = p.size
            p.rebind(self._flat_data[offset : offset + n].reshape(p.shape), self._flat_grad[offset : offset + n].reshape(p.shape))
            offset += n

    def output_shape(self, input_shape=None):
        if input_shape is None or (self.built and tuple(input_shape) == self.input_shape):
            if self._out_shape is None:
                raise RuntimeError("model is not built")
            return self._out_shape
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    # -- computation ----------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        g = grad_out
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            g = self.layers[i].backward(g, need_input_grad=need_input_grad or i > 0)
        return g

    # -- configuration --------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"layers": [layer_config(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Sequential":
        config = dict(config)
        layers = config.pop("layers", None)
        if not isinstance(layers, list) or not layers:
            raise ConfigError("a Sequential spec needs a non-empty 'layers' list")
        built = [layer_from_config(spec) for spec in layers]
        try:
            return cls(built, **config)
        except TypeError as exc:
            raise ConfigError(f"Sequential: {exc}") from None

    def compile(
        self,
        loss: str | Mapping[str, Any] | Loss = "mse",
        optimizer: str | Mapping[str, Any] | Optimizer = "adam",
        metrics: Iterable[str] = (),
    ) -> "Sequential":
        """Choose the loss, the optimizer (name, dict of hyper-parameters, or instance) and metrics."""
        self._require_built()
        self.loss = make_loss(loss)
        self.optimizer = make_optimizer(optimizer, self.parameters())
        # names ("accuracy", "rmse") or StreamingMetric objects (e.g. PixelAccuracy), each fit a fresh copy
        self._metric_specs = list(metrics)
        self._make_metrics()  # validate names now
        if self.loss.name == "cross_entropy" and self.layers[-1].describe().get("activation") == "softmax":
            raise ConfigError(
                "the last layer applies softmax and cross_entropy applies it again: drop the Softmax"
                " (cross_entropy takes logits), or use LogSoftmax with the 'nll' loss"
            )
        return self

    @property
    def metric_names(self) -> list[str]:
        """The names of the metrics ``compile`` was given (``accuracy``, ...)."""
        return [m.name if isinstance(m, StreamingMetric) else str(m) for m in self._metric_specs]

    def _make_metrics(self) -> list[StreamingMetric]:
        from_logits = self.loss is not None and self.loss.name == "bce_with_logits"
        try:
            return [_fresh(m) if isinstance(m, StreamingMetric) else make_metric(m, from_logits=from_logits)
                    for m in self._metric_specs]
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def _require_built(self) -> None:
        if not self.built:
            raise RuntimeError("the model is not built: pass input_shape=... or call build(input_shape)")

    def _require_compiled(self) -> None:
        self._require_built()
        if self.loss is None or self.optimizer is None:
            raise RuntimeError("call compile(loss=..., optimizer=...) before fit or evaluate")

    # -- data checks ----------------------------------------------------------------
    def _check_x(self, x: Any, what: str = "x") -> np.ndarray:
        self._require_built()
        x = np.asarray(x)
        if x.size == 0 or x.ndim == 0 or len(x) == 0:
            raise DataError(f"{what} is empty (shape {x.shape}); there is nothing to train or evaluate on")
        if x.shape[1:] != self.input_shape:
            raise ShapeError(
                f"{what} has shape {x.shape}, but the model takes samples of shape {self.input_shape}"
                f" (expected ({len(x)}, {', '.join(map(str, self.input_shape))}))"
            )
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise DataError(f"{what} must be numeric, got dtype {x.dtype}")
        x = x.astype(self.dtype, copy=False)
        # min/max propagate NaN and reveal inf without a full-size boolean temporary
        if not (np.isfinite(x.min()) and np.isfinite(x.max())):
            bad = np.argwhere(~np.isfinite(x))
            raise DataError(
                f"{what} contains {len(bad)} NaN or infinite value(s); the first is at index {tuple(int(i) for i in bad[0])}"
            )
        return x

    def _check_xy(self, x: Any, y: Any, what: str = "") -> tuple[np.ndarray, np.ndarray]:
        x = self._check_x(x, f"{what}x")
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            raise ShapeError(f"{what}x has {len(x)} samples but {what}y has {len(y) if y.ndim else 'no'} rows")
        assert self.loss is not None
        y = self.loss.check_targets(y, self.output_shape())
        if self.loss.target_kind == "values":
            y = y.astype(self.dtype, copy=False)
        return x, y

    # -- training -------------------------------------------------------------------
    def fit(
        self,
        x: Any,
        y: Any,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        callbacks: Iterable[Any] = (),
        accumulate_steps: int = 1,
        initial_epoch: int = 0,
        history: History | None = None,
        progress: bool = False,
        checkpoint: str | Path | ModelCheckpoint | None = None,
        augment: Any = None,
        augment_targets: bool = False,
    ) -> History:
        """Train for ``epochs`` epochs and return the :class:`History`.

        ``batch_size`` is the number of samples per optimizer step. With ``accumulate_steps=k``
        each batch is processed as ``k`` micro-batches whose gradients are summed (weighted by
        their sizes) before the single step: the update is the same as with one large batch,
        but memory is bounded by the micro-batch. ``validation_split`` holds out a seeded random
        fraction of the data. ``initial_epoch`` (with ``history``) continues a run: epochs
        ``initial_epoch + 1 .. epochs`` are trained. If the loss or the weights become NaN or
        infinite, a :class:`TrainingDivergedError` is raised and the weights are restored to those
        at the start of the failing epoch (:class:`~nnlab.training.callbacks.TerminateOnNaN`,
        first among the callbacks).

        A callback may change the batch size for the coming epoch in ``on_epoch_begin`` by
        setting ``trainer.batch_size`` (see :class:`nnlab.training.batch_schedule.BatchSizeScheduler`):
        the epoch's steps, ``trainer.steps_per_epoch`` and the batch buffers follow it.

        ``checkpoint``: a path (``.npz`` is added) or a :class:`ModelCheckpoint` (its path). A resumable checkpoint (weights, optimizer,
        random state, history and callback state) is written there atomically after every epoch
        and once more when training ends; if one exists, training resumes from it, and a
        checkpoint of finished training returns its history without training again. The result
        is the same as that of an uninterrupted run.

        ``augment``: called as ``augment(batch, rng)`` on every training batch, returning a batch
        of the same shape (the transforms of ``nnlab.data.augment``); with ``augment_targets`` as
        ``augment(batch, targets, rng)``, returning both (dense targets such as per-pixel labels
        move with their image). ``rng`` is the model's generator, whose state the checkpoint keeps,
        so a resumed run augments as the uninterrupted one would.
        """
        self._require_compiled()
        assert self.loss is not None and self.optimizer is not None
        if int(epochs) < 1 or int(batch_size) < 1 or int(accumulate_steps) < 1:
            raise ConfigError("epochs, batch_size and accumulate_steps must be >= 1")
        if accumulate_steps > batch_size:
            raise ConfigError(f"accumulate_steps ({accumulate_steps}) cannot exceed batch_size ({batch_size})")
        x, y = self._check_xy(x, y)
        if validation_data is not None and validation_split:
            raise ConfigError("give validation_data or validation_split, not both")
        if validation_split:
            if not 0 < validation_split < 1:
                raise ConfigError(f"validation_split must be in (0, 1), got {validation_split}")
            perm = self.rng.permutation(len(x))
            n_val = int(round(len(x) * validation_split))
            if n_val == 0 or n_val == len(x):
                raise DataError(f"validation_split={validation_split} of {len(x)} samples leaves an empty set")
            validation_data = (x[perm[:n_val]], y[perm[:n_val]])
            x, y = x[perm[n_val:]], y[perm[n_val:]]
        if validation_data is not None:
            vx, vy = self._check_xy(*validation_data, what="validation ")
            validation_data = (vx, vy)

        n = len(x)
        history = history if history is not None else History()
        cbs, checkpoint = fit_callbacks(callbacks, epochs, history=history, progress=progress,
                                        checkpoint=checkpoint, suffix=".npz")     # save_checkpoint's own naming
        cb = CallbackList(cbs)
        loop = _FitLoop(self, n, int(batch_size), history, cb)
        if checkpoint is not None and checkpoint.exists():
            state = load_checkpoint(checkpoint, self)
            history.load_state_dict(state["history"].state_dict())
            cb.load_state_dict(state["callbacks"])
            initial_epoch = loop.epoch = state["epoch"]
            log.info("resumed from %s after epoch %d", checkpoint, state["epoch"])
            if state["finished"] and (state["epoch"] >= epochs or state["stopped"]):
                return history
        metrics = self._make_metrics()
        xbuf = ybuf = np.empty(0)  # the shuffled batch buffers, (batch_size, ...) once an epoch needs them
        first_epoch = int(initial_epoch) + 1

        self.train()
        cb.on_train_begin(loop)
        try:
            # Overflow is not an error here: a diverging loss is detected and reported below.
            with self.workspace(), np.errstate(over="ignore", invalid="ignore"):
                for epoch in range(first_epoch, int(epochs) + 1):
                    loop.epoch = epoch
                    cb.on_epoch_begin(loop, epoch)
                    batch_size, steps = loop.batch_size, loop.steps_per_epoch  # a callback may have changed them
                    if accumulate_steps > batch_size:
                        raise ConfigError(f"accumulate_steps ({accumulate_steps}) cannot exceed the batch size"
                                          f" {batch_size} of epoch {epoch}")
                    if shuffle and len(xbuf) < batch_size:
                        xbuf = np.empty((batch_size, *x.shape[1:]), x.dtype)
                        ybuf = np.empty((batch_size, *y.shape[1:]), y.dtype)
                    order = self.rng.permutation(n) if shuffle else None
                    for m in metrics:
                        m.reset()
                    loss_sum, seen = 0.0, n
                    for step in range(steps):
                        lo, hi = step * batch_size, min(n, (step + 1) * batch_size)
                        if order is None:
                            xb, yb = x[lo:hi], y[lo:hi]
                        else:
                            idx = order[lo:hi]
                            xb = np.take(x, idx, axis=0, out=xbuf[: hi - lo], mode="clip")
                            yb = np.take(y, idx, axis=0, out=ybuf[: hi - lo], mode="clip")
                        if augment is not None:
                            xb, yb = self._augmented(augment, augment_targets, xb, yb)
                        batch_loss = self._train_step(xb, yb, accumulate_steps, metrics)
                        loss_sum += batch_loss * (hi - lo)
                        cb.on_batch_end(loop, step, {"loss": batch_loss})  # TerminateOnNaN stops a NaN here
                        if loop.stop_training:      # stopped within the epoch (the learning-rate finder)
                            seen = hi
                            break
                    logs = {"loss": loss_sum / seen, **{m.name: m.result() for m in metrics}}
                    if validation_data is not None:
                        val = self._evaluate(*validation_data, batch_size=max(batch_size, 256))
                        logs.update({f"val_{k}": v for k, v in val.items()})
                        self.train()
                    logs["lr"] = self.optimizer.lr
                    cb.on_epoch_end(loop, epoch, logs)
                    if loop.stop_training:
                        break
        finally:
            cb.on_train_end(loop)
            self.train()
        if checkpoint is not None:          # the finished state, after the callbacks' end (best weights)
            loop.finished = True
            loop.save_checkpoint(checkpoint)
        return history

    def _augmented(self, augment: Any, with_targets: bool, xb: np.ndarray,
                   yb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A training batch through ``augment`` (see :meth:`fit`), checked to keep its shape and dtype."""
        outs = augment(xb, yb, self.rng) if with_targets else (augment(xb, self.rng), yb)
        new_x, new_y = (np.asarray(o) for o in outs)
        if new_x.shape != xb.shape or new_y.shape != yb.shape:
            raise ShapeError(f"augment changed the batch shape from {xb.shape} to {new_x.shape}"
                             + (f" (targets {yb.shape} to {new_y.shape})" if with_targets else ""))
        return new_x.astype(xb.dtype, copy=False), new_y.astype(yb.dtype, copy=False)

    def _snapshot(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self._flat_data.copy(), {k: b.copy() for k, b in self.named_buffers()}

    def _restore(self, snapshot: tuple[np.ndarray, dict[str, np.ndarray]]) -> None:
        flat, buffers = snapshot
        self._flat_data[...] = flat
        for k, b in self.named_buffers():
            b[...] = buffers[k]

    def train_step(self, x: Any, y: Any, accumulate_steps: int = 1) -> float:
        """One optimizer step on the batch (x, y), as ``fit`` takes it, and its mean loss.

        With ``accumulate_steps=k`` the batch runs as ``k`` micro-batches whose gradients add up
        to the batch's; nothing else is allocated per step (what a memory study measures).
        """
        self._require_compiled()
        x, y = self._check_xy(x, y)
        if not 1 <= int(accumulate_steps) <= len(x):
            raise ConfigError(f"accumulate_steps must be between 1 and the batch size {len(x)}")
        self.train()
        with self.workspace():
            return self._train_step(x, y, int(accumulate_steps), [])

    def _train_step(self, xb: np.ndarray, yb: np.ndarray, accumulate_steps: int, metrics: list[StreamingMetric]) -> float:
        assert self.loss is not None and self.optimizer is not None
        nb = len(xb)
        self.optimizer.zero_grad()  # its parameter list is this model's, without a tree walk
        total = 0.0
        k = min(accumulate_steps, nb)
        bounds = [0, nb] if k == 1 else [i * nb // k for i in range(k + 1)]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            xm, ym = (xb, yb) if hi - lo == nb else (xb[lo:hi], yb[lo:hi])
            out = self.forward(xm)
            value = self.loss.forward(out, ym)
            if not math.isfinite(value):
                return value
            for m in metrics:
                m.update(ym, out)
            g = self.loss.backward()
            if hi - lo != nb:
                g *= (hi - lo) / nb
            self.backward(g, need_input_grad=False)
            total += value * (hi - lo)
        self.optimizer.step()
        return total / nb

    # -- evaluation -----------------------------------------------------------------
    def evaluate(self, x: Any, y: Any, batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics on (x, y) in evaluation mode."""
        self._require_compiled()
        x, y = self._check_xy(x, y)
        return self._evaluate(x, y, batch_size)

    def _evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, float]:
        assert self.loss is not None
        metrics = self._make_metrics()
        total = 0.0
        was_training = self.training
        self.eval()
        try:
            with self.workspace():
                for lo in range(0, len(x), batch_size):
                    xb, yb = x[lo : lo + batch_size], y[lo : lo + batch_size]
                    out = self.forward(xb)
                    total += self.loss.forward(out, yb) * len(xb)
                    for m in metrics:
                        m.update(yb, out)
        finally:
            self.train(was_training)
        return {"loss": total / len(x), **{m.name: m.result() for m in metrics}}

    def predict(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """Outputs for ``x`` in evaluation mode, computed in batches."""
        x = self._check_x(x)
        out = np.empty((len(x), *self.output_shape()), self.dtype)
        was_training = self.training
        self.eval()
        try:
            with self.workspace():
                for lo in range(0, len(x), batch_size):
                    out[lo : lo + batch_size] = self.forward(x[lo : lo + batch_size])
        finally:
            self.train(was_training)
        return out

    # -- inspection -----------------------------------------------------------------
    def summary_rows(self, expand: bool = True) -> list[dict[str, Any]]:
        """One dict per layer: index, depth, layer, output shape, activation, init, parameters.

        With ``expand``, the layers inside containers (Residual, Concat, nested Sequential)
        follow their container at ``depth + 1``; a container's count is its whole subtree.
        """
        self._require_built()
        rows: list[dict[str, Any]] = []

        def visit(layer: Module, index: str, depth: int) -> None:
            info = layer.describe()
            rows.append({
                "index": index,
                "depth": depth,
                "layer": layer.label(),
                "output_shape": ("N", *layer.output_shape(layer.input_shape)),
                "activation": info.get("activation", ""),
                "init": info.get("init", ""),
                "params": layer.num_parameters(),
                "buffers": sum(b.size for _, b in layer.named_buffers()),
            })
            if expand:
                for name, child in layer.children():
                    visit(child, f"{index}.{name}", depth + 1)

        for i, layer in enumerate(self.layers):
            visit(layer, str(i), 0)
        return rows

    def summary(self) -> str:
        """The seed's ``get_network_info``: layers, shapes, activations, initialisation, counts."""
        rows = self.summary_rows()
        head = ["#", "Layer", "Output shape", "Activation", "Init", "Params"]
        table = [[str(r["index"]), "  " * r["depth"] + r["layer"], "(" + ", ".join(map(str, r["output_shape"])) + ")",
                  r["activation"] or "-", r["init"] or "-", f"{r['params']:,}"] for r in rows]
        widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]

        def fmt(cells: list[str]) -> str:
            return "  ".join(c.rjust(w) if j == 5 else c.ljust(w) for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

        total = self.num_parameters()
        buffers = sum(b.size for _, b in self.named_buffers())
        rule = "-" * len(fmt(head))
        lines = [
            f"Model: {self.name}  input ({', '.join(map(str, self.input_shape))})  dtype {self.dtype.name}"
            f"  {len(self.layers)} layers",
            rule, fmt(head), rule, *(fmt(t) for t in table), rule,
            f"Total parameters: {total:,}  (trainable {total:,}, non-trainable {buffers:,})"
            f"  {(total + buffers) * self.dtype.itemsize / 1024:,.1f} KiB",
        ]
        lines += [f"{what.capitalize()}: {value}" for what, value in self._compiled_parts()]
        return "\n".join(lines)

    def _compiled_parts(self) -> list[tuple[str, str]]:
        """(what, description) of what ``compile`` set: the loss, the optimizer, the metrics."""
        parts = []
        if self.loss is not None:
            parts.append(("loss", self.loss.name))
        if self.optimizer is not None:
            parts.append(("optimizer", repr(self.optimizer)))
        if self.metric_names:
            parts.append(("metrics", ", ".join(self.metric_names)))
        return parts

    def _repr_html_(self) -> str:
        """Jupyter's view of :meth:`summary`: the layers as an HTML table (nested layers indented),
        with the totals, loss, optimizer and metrics under it. An unbuilt model shows its repr."""
        if not self.built:
            return f"<pre>{html.escape(repr(self))}</pre>"
        rows = self.summary_rows()
        head = "".join(f"<th>{h}</th>" for h in ("#", "Layer", "Output shape", "Activation", "Init", "Params"))
        body = "".join(
            f"<tr><td>{r['index']}</td><td style='text-align:left;padding-left:{0.4 + 1.2 * r['depth']:.1f}em'>"
            f"{html.escape(r['layer'])}</td><td>({', '.join(map(str, r['output_shape']))})</td>"
            f"<td>{html.escape(r['activation'] or '-')}</td><td>{html.escape(r['init'] or '-')}</td>"
            f"<td style='text-align:right'>{r['params']:,}</td></tr>" for r in rows)
        total = self.num_parameters()
        buffers = sum(b.size for _, b in self.named_buffers())
        notes = [f"<b>{html.escape(self.name)}</b>: input ({', '.join(map(str, self.input_shape))}),"
                 f" dtype {self.dtype.name}; {total:,} parameters (non-trainable {buffers:,}),"
                 f" {(total + buffers) * self.dtype.itemsize / 1024:,.1f} KiB"]
        notes += [f"{what} {html.escape(value)}" for what, value in self._compiled_parts()]
        return (f"<div><p>{'; '.join(notes)}</p><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table></div>")


class _FitLoop:
    """The :class:`~nnlab.training.TrainerLike` view of a ``Sequential.fit`` run.

    ``batch_size`` may be set by a callback in ``on_epoch_begin``; ``steps_per_epoch``
    (``ceil(samples / batch_size)``) follows at once, so later callbacks see the new count.
    """

    def __init__(self, model: Sequential, samples: int, batch_size: int, history: History,
                 callbacks: CallbackList | None = None) -> None:
        self.model, self.samples, self.history, self.callbacks = model, samples, history, callbacks
        self.stop_training = self.finished = False
        self.epoch = 0
        self.batch_size = batch_size

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if int(value) != value or int(value) < 1:
            raise ConfigError(f"the batch size must be a positive integer, got {value!r}")
        self._batch_size = int(value)
        self.steps_per_epoch = math.ceil(self.samples / self._batch_size)

    @property
    def lr(self) -> float:
        assert self.model.optimizer is not None
        return self.model.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        assert self.model.optimizer is not None
        self.model.optimizer.lr = value

    def get_weights(self) -> dict[str, np.ndarray]:
        return self.model.state_dict()

    def get_gradients(self) -> dict[str, np.ndarray]:
        """Copies of the last step's gradient of every parameter, named as in :meth:`get_weights`.
        (``zero_grad`` only marks the gradients stale; the buffer keeps them until the next step's
        backward pass, so they are still there in ``on_epoch_end``.)"""
        return {name: p.grad.copy() for name, p in self.model.named_parameters()}

    def snapshot(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self.model._snapshot()

    def restore(self, snapshot: tuple[np.ndarray, dict[str, np.ndarray]]) -> None:
        self.model._restore(snapshot)

    def weights_finite(self) -> bool:
        return bool(np.isfinite(self.model._flat_data).all())

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        self.model.load_state_dict(dict(weights))

    def save_checkpoint(self, path) -> None:
        save_checkpoint(path, self.model, epoch=self.epoch, history=self.history, finished=self.finished,
                        stopped=self.stop_training,
                        callbacks=self.callbacks.state_dict() if self.callbacks is not None else None)
