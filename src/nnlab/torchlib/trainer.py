"""``Trainer``: the PyTorch training loop, driven by the same callbacks as the NumPy engine.

>>> trainer = Trainer(model, loss="cross_entropy", optimizer={"name": "adam", "lr": 1e-3},
...                   metrics=["accuracy"])                                  # doctest: +SKIP
>>> history = trainer.fit(x, y, epochs=10, batch_size=100, validation_data=(vx, vy),
...                       checkpoint="runs/demo/checkpoint.pt", progress=True)  # doctest: +SKIP

The loop is nothing but batches and callback calls (:mod:`nnlab.training.callbacks`): the
same History, ProgressBar, EarlyStopping, LearningRateScheduler, CSVLogger and
ModelCheckpoint that drive ``Sequential.fit``. It picks CUDA when present, else the CPU; it
can run in mixed precision on a GPU, accumulate gradients over micro-batches, clip the
gradient norm, and train data-parallel under ``torchrun``.

Reproducible and resumable: epoch ``e`` visits the data in the order
``default_rng([seed, e]).permutation(n)``, so the order depends on nothing but the seed and
the epoch, and a checkpoint (written atomically, read with ``weights_only=True``) holds the
weights, the optimizer, the gradient scaler, the random state, the history and the
callbacks' state. ``fit(checkpoint=path)`` writes one after every epoch and, if the file
exists, continues from it: a run killed at any point and started again ends with the same
weights as one that was never interrupted.

One concept, the PyTorch training loop: data-parallel sharding, mixed precision, accumulation
and the checkpoints that make a run resumable share its state, so one module of about 550 lines.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import math
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from nnlab.atomic_io import atomic_write_bytes
from nnlab.engine.module import Module
from nnlab.errors import ConfigError, DataError, ShapeError, TrainingDivergedError
from nnlab.metrics.basic import StreamingMetric, make_metric
from nnlab.torchlib.distributed import DistContext, env_world_size, init_distributed
from nnlab.training.callbacks import CallbackList, ModelCheckpoint, fit_callbacks
from nnlab.training.history import History

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "nnlab-torch-checkpoint-1"
LOSSES: dict[str, Callable[[], nn.Module]] = {
    "mse": nn.MSELoss, "l1": nn.L1Loss, "mae": nn.L1Loss, "huber": nn.HuberLoss, "cross_entropy": nn.CrossEntropyLoss,
    "nll": nn.NLLLoss, "bce": nn.BCELoss, "bce_with_logits": nn.BCEWithLogitsLoss,
}
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop,
}


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when available (the process's local GPU under torchrun), else the CPU."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _lookup(spec: Any, table: Mapping[str, Any], what: str, hint: str = "") -> tuple[Any, dict[str, Any]]:
    """``"name"`` or ``{"name": ..., **kwargs}`` -> (``table[name]``, kwargs); ConfigError if unknown."""
    kwargs: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        kwargs = dict(spec)
        spec = kwargs.pop("name", None)
    if not isinstance(spec, str) or spec.lower() not in table:
        raise ConfigError(f"unknown {what} {spec!r}; known: {', '.join(table)}{hint}")
    return table[spec.lower()], kwargs


def make_loss(spec: Any) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss from a name (``mse``, ``cross_entropy``, ...), ``{"name": ..., **kwargs}``, a
    module or any callable ``(outputs, targets) -> scalar mean loss``."""
    if callable(spec):
        return spec
    cls, kwargs = _lookup(spec, LOSSES, "loss", " (or pass a callable)")
    return cls(**kwargs)


def make_optimizer(spec: Any, params: Iterable[nn.Parameter], lr: float | None = None) -> torch.optim.Optimizer:
    """An optimizer from a name, ``{"name": "adam", "lr": 1e-3, ...}``, a factory
    ``params -> optimizer``, or an optimizer instance (used as it is)."""
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if callable(spec) and not isinstance(spec, (str, Mapping)):
        return spec(params)
    cls, kwargs = _lookup(spec, OPTIMIZERS, "optimizer")
    if lr is not None:
        kwargs["lr"] = lr
    kwargs.setdefault("lr", 1e-3)
    try:
        return cls(params, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"optimizer {cls.__name__}: {exc}") from None


def _to_saveable(obj: Any) -> Any:
    """NumPy arrays to tensors, recursively (``weights_only`` loading accepts tensors only)."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, Mapping):
        return {k: _to_saveable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_saveable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _from_saved(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.cpu().numpy()
    if isinstance(obj, Mapping):
        return {k: _from_saved(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_saved(v) for v in obj]
    return obj


class Trainer:
    """Train a ``torch.nn.Module`` (or a NumPy-engine network, converted first).

    Parameters
    ----------
    model : the network; an engine ``Module`` is converted with ``to_torch``.
    loss, optimizer : see :func:`make_loss` and :func:`make_optimizer`; ``lr`` overrides the
        optimizer's learning rate.
    metrics : names (``accuracy``, ``rmse``, ``mae``) or :class:`~nnlab.metrics.StreamingMetric`
        objects, computed on the training batches and on the validation data.
    device : ``"auto"`` (CUDA if present, else CPU) or any torch device.
    amp : mixed precision on CUDA: ``True``/``"fp16"`` (with a gradient scaler) or ``"bf16"``;
        ignored with a warning on the CPU.
    accumulate_steps : split every batch into this many micro-batches whose gradients add up
        to the batch's (the same update, less memory).
    clip_grad_norm : clip the global gradient norm to this value before each step.
    seed : seeds torch and the data order. ``deterministic`` also asks cuDNN for deterministic
        kernels (the CPU is deterministic already).
    distributed : ``"auto"`` joins the ``torchrun`` process group when ``WORLD_SIZE > 1``.
    channels_last : keep the model's 4-d weights and every image batch in the NHWC memory
        layout (the same numbers; convolutions ran 1.3-1.4x faster on this project's CPU).
    """

    def __init__(self, model: nn.Module | Module, loss: Any = "mse", optimizer: Any = "adam", *,
                 lr: float | None = None, metrics: Iterable[str | StreamingMetric] = (),
                 device: str | torch.device = "auto", amp: bool | str = False, accumulate_steps: int = 1,
                 clip_grad_norm: float | None = None, seed: int = 0, deterministic: bool = True,
                 distributed: bool | str = "auto", channels_last: bool = False) -> None:
        if isinstance(model, Module):
            from nnlab.torchlib.convert import to_torch

            model = to_torch(model)
        if not isinstance(model, nn.Module):
            raise ConfigError(f"Trainer takes a torch.nn.Module or an nnlab engine model, got {type(model).__name__}")
        if int(accumulate_steps) < 1:
            raise ConfigError("accumulate_steps must be >= 1")
        self.dist = init_distributed() if distributed is True or (distributed == "auto" and env_world_size() > 1) \
            else DistContext()
        self.device = pick_device(device)
        self.seed = int(seed)
        torch.manual_seed(self.seed)
        if deterministic and self.device.type == "cuda":
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        self.channels_last = bool(channels_last)
        self.model = model.to(self.device, memory_format=torch.channels_last) if self.channels_last \
            else model.to(self.device)
        self.net: nn.Module = self.model
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.loss_fn = make_loss(loss)
        self.optimizer = make_optimizer(optimizer, self.model.parameters(), lr)
        self.metric_specs = list(metrics)
        self.amp_dtype = self._amp_dtype(amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.accumulate_steps, self.clip_grad_norm = int(accumulate_steps), clip_grad_norm
        self.param_dtype = next((p.dtype for p in self.model.parameters()), torch.float32)
        self.history = History()
        self.stop_training, self.epoch, self.steps_per_epoch = False, 0, 0
        self.finished = False  # training ended (all epochs, or stopped early) and its end was applied
        self._callbacks: CallbackList | None = None

    def _amp_dtype(self, amp: bool | str) -> torch.dtype | None:
        if not amp:
            return None
        if self.device.type != "cuda":
            log.warning("mixed precision runs on CUDA only; training in full precision on %s", self.device)
            return None
        if amp in (True, "fp16", "float16"):
            return torch.float16
        if amp in ("bf16", "bfloat16"):
            return torch.bfloat16
        raise ConfigError(f"amp must be True, 'fp16' or 'bf16', got {amp!r}")

    # -- the TrainerLike side: what callbacks see -----------------------------------
    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = float(value)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def get_gradients(self) -> dict[str, np.ndarray]:
        """Copies of the last step's gradient of every parameter that has one (unscaled, and under
        torchrun averaged over the processes), named as in :meth:`get_weights` (the unwrapped model's)."""
        return {k: p.grad.detach().cpu().numpy().copy() for k, p in self.model.named_parameters()
                if p.grad is not None}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        current = self.model.state_dict()
        self.model.load_state_dict({k: torch.as_tensor(np.asarray(v)).to(current[k]) for k, v in weights.items()})

    def snapshot(self) -> dict[str, torch.Tensor]:
        """Copies of the weights on their device (no transfer), for :meth:`restore`."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self, snapshot: Mapping[str, torch.Tensor]) -> None:
        self.model.load_state_dict(snapshot)

    def weights_finite(self) -> bool:
        """Whether every floating-point weight is finite (one wait for the device)."""
        checks = [torch.isfinite(v).all() for v in self.model.state_dict().values() if v.is_floating_point()]
        return bool(torch.stack(checks).all()) if checks else True

    # -- data -----------------------------------------------------------------------
    def _tensors(self, x: Any, y: Any, what: str = "") -> tuple[torch.Tensor, torch.Tensor]:
        x, y = torch.as_tensor(x), torch.as_tensor(y)
        if x.ndim == 0 or len(x) == 0:
            raise DataError(f"{what}x is empty; there is nothing to train or evaluate on")
        if y.ndim == 0 or len(y) != len(x):
            raise DataError(f"{what}x has {len(x)} samples but {what}y has {len(y) if y.ndim else 'no'} rows")
        if x.is_floating_point():
            x = x.to(self.param_dtype)
        if y.is_floating_point():
            y = y.to(self.param_dtype)
        elif y.dtype in (torch.int8, torch.int16, torch.int32, torch.uint8):
            y = y.long()
        return x, y

    def _to_device(self, xb: torch.Tensor) -> torch.Tensor:
        xb = xb.to(self.device, non_blocking=True)
        if self.channels_last and xb.ndim == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return xb

    def _augmented(self, augment: Callable[..., Any], xb: torch.Tensor, yb: torch.Tensor | None,
                   epoch: int, start: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        rng = np.random.default_rng([self.seed, epoch, start])
        if yb is None:
            outs, ins = (augment(xb.numpy(), rng),), (xb,)
        else:
            outs, ins = augment(xb.numpy(), yb.numpy(), rng), (xb, yb)
        result = []
        for out, t in zip(outs, ins):
            out = np.ascontiguousarray(out)
            if out.shape != tuple(t.shape):
                raise ShapeError(f"augment changed the batch shape from {tuple(t.shape)} to {out.shape}")
            result.append(torch.from_numpy(out).to(t.dtype))
        return result[0], (result[1] if yb is not None else None)

    def _order(self, n: int, epoch: int, shuffle: bool) -> torch.Tensor:
        if not shuffle:
            return torch.arange(n)
        return torch.from_numpy(np.random.default_rng([self.seed, epoch]).permutation(n))

    def _make_metrics(self) -> list[StreamingMetric]:
        out = []
        for spec in self.metric_specs:
            if isinstance(spec, StreamingMetric):
                out.append(copy.deepcopy(spec))
                out[-1].reset()
            else:
                out.append(make_metric(spec, from_logits=True))
        return out

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    # -- training -------------------------------------------------------------------
    def fit(self, x: Any, y: Any, *, epochs: int = 1, batch_size: int = 32,
            validation_data: tuple[Any, Any] | None = None, shuffle: bool = True, callbacks: Iterable[Any] = (),
            progress: bool = False, checkpoint: str | Path | ModelCheckpoint | None = None,
            augment: Callable[..., Any] | None = None, augment_targets: bool = False) -> History:
        """Train until epoch ``epochs`` and return the :class:`History`.

        ``batch_size`` is the global batch (split across processes under torchrun).
        ``augment``: called as ``augment(batch, rng)`` on every training batch (a NumPy array
        (N, ...) on the CPU, before it moves to the device) and returns the augmented batch
        of the same shape, as the transforms of :mod:`nnlab.data.augment` do. ``rng`` is
        ``default_rng([seed, epoch, first sample's position in the epoch])``, so the
        augmentation, like the order, depends on nothing but the seed and resumes exactly.
        With ``augment_targets`` it is called as ``augment(batch, targets, rng)`` and returns
        both, transformed together (dense targets: see
        :func:`nnlab.data.augment.paired_horizontal_flip`).
        ``checkpoint``: keep a resumable checkpoint at this path (``.pt`` added when it has no
        suffix; or a :class:`ModelCheckpoint`, at its path) after every epoch and once more when
        training ends (the end of callbacks applied: best weights restored), and, if it already
        exists, resume from it; a checkpoint of finished training returns at once.
        """
        if int(epochs) < 1 or int(batch_size) < 1:
            raise ConfigError("epochs and batch_size must be >= 1")
        if self.accumulate_steps > batch_size:
            raise ConfigError(f"accumulate_steps ({self.accumulate_steps}) cannot exceed batch_size ({batch_size})")
        x, y = self._tensors(x, y)
        if validation_data is not None:
            validation_data = self._tensors(*validation_data, what="validation ")
        n, batch_size = len(x), int(batch_size)
        if batch_size < self.dist.world_size:
            raise ConfigError(f"batch_size {batch_size} is smaller than the {self.dist.world_size} processes")
        self.steps_per_epoch = math.ceil(n / batch_size)
        cbs, checkpoint = fit_callbacks(callbacks, epochs, history=self.history, progress=progress,
                                        checkpoint=checkpoint, suffix=".pt", keep_any_suffix=True)
        if not self.dist.is_main:
            cbs = [c for c in cbs if not getattr(c, "rank_zero_only", False)]
        cb = self._callbacks = CallbackList(cbs)
        if checkpoint is not None and Path(checkpoint).exists():
            self.load_checkpoint(checkpoint)
        if self.finished and (self.epoch >= epochs or self.stop_training):
            log.info("already trained (%d epochs%s); nothing to do", self.epoch,
                     ", stopped early" if self.epoch < epochs else "")
            return self.history
        if self.epoch >= epochs and checkpoint is None:
            log.info("already trained for %d epochs (asked for %d); nothing to do", self.epoch, epochs)
            return self.history
        self.stop_training = self.finished = False
        self.model.train()
        cb.on_train_begin(self)
        try:
            for epoch in range(self.epoch + 1, int(epochs) + 1):
                self.epoch = epoch
                cb.on_epoch_begin(self, epoch)
                logs = self._train_epoch(x, y, epoch, batch_size, shuffle, cb, augment, augment_targets)
                if validation_data is not None:
                    logs.update({f"val_{k}": v for k, v in self.evaluate(*validation_data).items()})
                logs["lr"] = self.lr
                cb.on_epoch_end(self, epoch, logs)
                if self.stop_training:
                    break
        finally:
            cb.on_train_end(self)
            self.model.train()
        if checkpoint is not None:      # the finished state, after the callbacks' end (best weights)
            self.finished = True
            self.save_checkpoint(checkpoint)
        return self.history

    def _train_epoch(self, x, y, epoch, batch_size, shuffle, cb, augment=None,
                     augment_targets=False) -> dict[str, float]:
        n = len(x)
        order = self._order(n, epoch, shuffle)
        metrics = self._make_metrics()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        per_batch = cb.has_batch_hooks
        count = 0  # samples this process trained on
        for step in range(self.steps_per_epoch):
            lo, hi = step * batch_size, min(n, (step + 1) * batch_size)
            slo, shi = self.dist.shard(lo, hi)
            idx = order[slo:shi]
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb, yb_aug = self._augmented(augment, xb, yb if augment_targets else None, epoch, slo)
                yb = yb if yb_aug is None else yb_aug
            xb = self._to_device(xb)
            yb = yb.to(self.device, non_blocking=True)
            before = float(loss_sum) if per_batch else 0.0
            self._train_step(xb, yb, hi - lo, metrics, loss_sum)
            count += shi - slo
            if per_batch:  # a NaN is stopped here by TerminateOnNaN, else at the epoch's end
                cb.on_batch_end(self, step, {"loss": (float(loss_sum) - before) / max(1, shi - slo)})
                if self.stop_training and not self.dist.active:  # stopped within the epoch (the lr finder)
                    break
        totals = [float(loss_sum), float(count)]
        for m in metrics:
            totals.extend(m.totals())
        totals = self.dist.all_reduce(totals, self.device)
        loss = totals[0] / totals[1]
        for i, m in enumerate(metrics):
            m.set_totals(totals[2 + 2 * i], int(totals[3 + 2 * i]))
        return {"loss": loss, **{m.name: m.result() for m in metrics}}

    def _train_step(self, xb: torch.Tensor, yb: torch.Tensor, global_n: int, metrics: list[StreamingMetric],
                    loss_sum: torch.Tensor) -> None:
        """One optimizer step on this process's share of a global batch of ``global_n``
        samples; adds the summed (not mean) loss over the share to ``loss_sum`` (no sync)."""
        self.optimizer.zero_grad(set_to_none=True)
        nb = len(xb)
        k = max(1, min(self.accumulate_steps, nb))
        plain = k == 1 and not self.dist.active and self.amp_dtype is None and self.clip_grad_norm is None
        if plain:  # the common case, without the machinery below (measured: ~15 us a step)
            out = self.net(xb)
            loss = self.loss_fn(out, yb)
            loss.backward()
            loss_sum.add_(loss.detach(), alpha=nb)
            self._update_metrics(metrics, yb, out)
            self.optimizer.step()
            return
        bounds = [i * nb // k for i in range(k + 1)]
        for i in range(k):
            lo, hi = bounds[i], bounds[i + 1]
            xm, ym = (xb, yb) if k == 1 else (xb[lo:hi], yb[lo:hi])
            sync = self.dist.active and i < k - 1
            with (self.net.no_sync() if sync else nullcontext()):
                with self._autocast():
                    out = self.net(xm)
                    loss = self.loss_fn(out, ym)
                # the mean over this part, weighted so that the (averaged) gradients are those
                # of the mean loss over the whole global batch
                weight = (hi - lo) * self.dist.world_size / global_n
                self.scaler.scale(loss if weight == 1 else loss * weight).backward()
            loss_sum.add_(loss.detach(), alpha=hi - lo)
            self._update_metrics(metrics, ym, out)
        if self.clip_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), float(self.clip_grad_norm))
        self.scaler.step(self.optimizer)
        self.scaler.update()

    @staticmethod
    def _update_metrics(metrics: list[StreamingMetric], y: torch.Tensor, out: torch.Tensor) -> None:
        if metrics:
            yt, yp = y.detach().cpu().numpy(), out.detach().float().cpu().numpy()
            for m in metrics:
                m.update(yt, yp)

    # -- evaluation -----------------------------------------------------------------
    def _batches(self, x: torch.Tensor, batch_size: int) -> Iterator[tuple[int, int]]:
        for lo in range(0, len(x), batch_size):
            yield lo, min(len(x), lo + batch_size)

    def evaluate(self, x: Any, y: Any, batch_size: int = 256) -> dict[str, float]:
        """Mean loss and metrics in evaluation mode (every process evaluates all of ``x``)."""
        x, y = self._tensors(x, y)
        metrics = self._make_metrics()
        total = 0.0
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), self._autocast():
                for lo, hi in self._batches(x, batch_size):
                    xb, yb = self._to_device(x[lo:hi]), y[lo:hi].to(self.device)
                    out = self.model(xb)
                    total += float(self.loss_fn(out, yb)) * (hi - lo)
                    for m in metrics:
                        m.update(yb.cpu().numpy(), out.float().cpu().numpy())
        finally:
            self.model.train(was_training)
        return {"loss": total / len(x), **{m.name: m.result() for m in metrics}}

    def predict(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """Outputs for ``x`` in evaluation mode, as a NumPy array."""
        x = torch.as_tensor(x)
        if x.is_floating_point():
            x = x.to(self.param_dtype)
        outs = []
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), self._autocast():
                for lo, hi in self._batches(x, batch_size):
                    outs.append(self.model(self._to_device(x[lo:hi])).float().cpu())
        finally:
            self.model.train(was_training)
        return torch.cat(outs).numpy()

    # -- checkpoints ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything an exact resume needs, as tensors and plain Python values."""
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "finished": self.finished,
            "stopped": self.stop_training,
            "seed": self.seed,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "history": self.history.state_dict(),
            "callbacks": _to_saveable(self._callbacks.state_dict()) if self._callbacks else {},
        }

    def save_checkpoint(self, path: str | Path) -> None:
        """Write a resumable checkpoint atomically (a temporary file, then a rename).
        Under torchrun only the main process writes."""
        if not self.dist.is_main:
            return
        bad = [k for k, v in self.model.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise TrainingDivergedError(f"refusing to checkpoint non-finite weights ({', '.join(bad[:5])})")
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        atomic_write_bytes(path, buf.getvalue())

    def load_checkpoint(self, path: str | Path) -> int:
        """Restore a checkpoint written by :meth:`save_checkpoint`; returns its epoch."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for foreign or damaged files
            raise DataError(f"{path} is not a readable nnlab checkpoint: {exc}") from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise DataError(f"{path} is not an nnlab torch checkpoint (format {CHECKPOINT_FORMAT})")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.history.load_state_dict(state["history"])
        if self._callbacks is not None:
            self._callbacks.load_state_dict(_from_saved(state["callbacks"]))
        self.epoch = int(state["epoch"])
        self.finished = bool(state.get("finished", False))
        self.stop_training = bool(state.get("stopped", False))
        log.info("resumed from %s after epoch %d", path, self.epoch)
        return self.epoch


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with torch's intra-op threads set to ``n`` (unchanged when ``None``), then restore them."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
