"""TensorBoard logging for both engines, on TensorBoard's own event writer (no TensorFlow, no torch).

:class:`TensorBoard` is a callback: per epoch it writes every value of the epoch's logs (training
values to a ``train`` sub-run, ``val_*`` values to a ``validation`` sub-run under the same tag, so
that TensorBoard draws them on one chart), the learning rate, and every ``histogram_freq`` epochs
a histogram of each weight and of its last gradient, with the gradient's L2 norm (vanishing or
exploding gradients show there first). The run's settings go to the HParams dashboard. The log
folder of one training run::

    LOG_DIR/             the hparams of the run (one TensorBoard "session")
    LOG_DIR/train/       epoch_loss, epoch_<metric>, learning_rate, weights/<name>, gradients/<name>,
                         gradient_norm/<name>, the images given
    LOG_DIR/validation/  epoch_loss, epoch_<metric> of the validation data (the logs' val_* values)

Steps are epochs (from 1). A resumed fit appends new event files to the same folders, headed by
a restart marker that makes TensorBoard drop what the interrupted run wrote after its checkpoint.

:class:`EventWriter` writes one folder (scalars, histograms, images, matplotlib figures, text,
hparams), and :func:`read_scalars` and friends read a log folder back with TensorBoard's own
reader, for tests and notebooks. ``tensorboard`` is imported only when a writer or reader is made:
``import nnlab.training`` does not need it.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nnlab.errors import ConfigError, ShapeError
from nnlab.training.callbacks import Callback

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install -e ".[tensorboard]" (or pip install tensorboard)'


class TensorBoardMissingError(ConfigError, ImportError):
    """TensorBoard logging was asked for, but the ``tensorboard`` package is not installed."""


def require_tensorboard() -> None:
    """Raise :class:`TensorBoardMissingError` (a ConfigError: the CLI says it in one line) without
    the ``tensorboard`` package."""
    try:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: F401
    except ImportError as exc:
        raise TensorBoardMissingError("TensorBoard logging needs the tensorboard package, which is not installed:"
                                      f" {INSTALL_HINT}") from exc


def flatten_hparams(config: Any, prefix: str = "") -> dict[str, bool | int | float | str]:
    """A run's settings as the flat ``name -> bool | int | float | str`` dict the HParams dashboard takes:
    nested dicts (or dataclasses) flattened with dots (``train.lr``), lists and None as strings."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    out: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        if isinstance(value, Mapping):
            out.update(flatten_hparams(value, name + "."))
        elif isinstance(value, np.generic):
            out[name] = value.item()
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = str(list(value) if isinstance(value, tuple) else value)
    return out


def histogram_proto(values: Any, bins: int = 30) -> Any:
    """A ``HistogramProto`` of ``values`` (any shape; non-finite values left out), or None when
    nothing finite is left. ``bucket_limit`` holds the right edges of ``numpy.histogram``'s bins."""
    from tensorboard.compat.proto.summary_pb2 import HistogramProto

    a = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(a)
    if not finite.all():
        a = a[finite]
    if a.size == 0:
        return None
    counts, edges = np.histogram(a, bins=bins)
    return HistogramProto(min=float(a.min()), max=float(a.max()), num=float(a.size), sum=float(a.sum()),
                          sum_squares=float(np.dot(a, a)), bucket_limit=edges[1:].tolist(),
                          bucket=counts.astype(np.float64).tolist())


def to_hwc_uint8(image: Any) -> np.ndarray:
    """One image as (H, W, C) uint8, C in 1, 3, 4. Takes (H, W), (H, W, C) or (C, H, W) (channels
    first when the last axis cannot be channels); floats are read as [0, 1] (clipped), ints as 0..255."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None]
    elif a.ndim == 3 and a.shape[-1] not in (1, 3, 4) and a.shape[0] in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ShapeError(f"an image must be (H, W), (H, W, C) or (C, H, W) with 1, 3 or 4 channels, got {a.shape}")
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        return (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.clip(a, 0, 255).astype(np.uint8)


def png_size(png: bytes) -> tuple[int, int, int]:
    """(height, width, channels) of a PNG file's bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        return img.height, img.width, {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}.get(img.mode, 3)


class EventWriter:
    """Writes TensorBoard events into one folder (a "run" in TensorBoard's words).

    A thin layer over ``tensorboard.summary.writer.event_file_writer.EventFileWriter`` and the
    protocol buffers of ``tensorboard.compat.proto``: what ``torch.utils.tensorboard`` does, without
    torch. Each open writer starts a new event file; the folder is made if needed.
    """

    def __init__(self, log_dir: str | Path, flush_secs: float = 30.0) -> None:
        require_tensorboard()
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.log_dir = Path(log_dir)
        self._writer = EventFileWriter(str(self.log_dir), flush_secs=flush_secs)

    def _event(self, step: int, **fields: Any) -> None:
        from tensorboard.compat.proto.event_pb2 import Event

        self._writer.add_event(Event(wall_time=time.time(), step=int(step), **fields))

    def _value(self, step: int, **value: Any) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        self._event(step, summary=Summary(value=[Summary.Value(**value)]))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self._value(step, tag=tag, simple_value=float(value))

    def histogram(self, tag: str, values: Any, step: int, bins: int = 30) -> None:
        """A histogram of an array's values (any shape); an array with nothing finite is skipped."""
        proto = histogram_proto(values, bins)
        if proto is not None:
            self._value(step, tag=tag, histo=proto)

    def png(self, tag: str, png: bytes, step: int) -> None:
        """An image given as the bytes of a PNG file."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        height, width, channels = png_size(png)
        self._value(step, tag=tag, image=Summary.Image(height=height, width=width, colorspace=channels,
                                                       encoded_image_string=png))

    def image(self, tag: str, image: Any, step: int) -> None:
        """One image: (H, W), (H, W, C) or (C, H, W), floats in [0, 1] or uint8 (see :func:`to_hwc_uint8`)."""
        from PIL import Image

        a = to_hwc_uint8(image)
        buf = io.BytesIO()
        Image.fromarray(a[:, :, 0] if a.shape[-1] == 1 else a).save(buf, format="PNG")
        self.png(tag, buf.getvalue(), step)

    def images(self, tag: str, batch: Any, step: int) -> None:
        """A batch of images (N, ...), each as in :meth:`image`, under the tags ``TAG/0``, ``TAG/1``, ..."""
        for i, image in enumerate(batch):
            self.image(f"{tag}/{i}", image, step)

    def figure(self, tag: str, fig: Any, step: int, dpi: float | None = None) -> None:
        """A matplotlib figure, rendered to PNG."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        self.png(tag, buf.getvalue(), step)

    def text(self, tag: str, text: str, step: int) -> None:
        """Markdown text (TensorBoard's Text dashboard)."""
        from tensorboard.plugins.text.summary_v2 import text_pb

        self._event(step, summary=text_pb(tag, text))

    def hparams(self, hparams: Mapping[str, Any], trial_id: str | None = None) -> None:
        """The settings of the run in this folder, for the HParams dashboard (flattened first)."""
        from tensorboard.plugins.hparams.summary_v2 import hparams_pb

        self._event(0, summary=hparams_pb(flatten_hparams(hparams), trial_id=trial_id))

    def restart(self, step: int) -> None:
        """Mark a restart at ``step``: TensorBoard drops what this folder holds from ``step`` on
        (what an interrupted run wrote after the checkpoint its resume starts from)."""
        from tensorboard.compat.proto.event_pb2 import SessionLog

        self._event(step, session_log=SessionLog(status=SessionLog.START))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class TensorBoard(Callback):
    """Write a fit's curves, weight and gradient histograms, settings and sample images for TensorBoard.

    Parameters
    ----------
    log_dir : the folder of this training run (``tensorboard --logdir`` on it or on a parent).
    histogram_freq : every this many epochs, a histogram per weight (``weights/<name>``, from
        ``trainer.get_weights()``) and per gradient (``gradients/<name>``) with its L2 norm
        (``gradient_norm/<name>``); 0 for none. Gradients come from ``trainer.get_gradients()``
        (the last step's), left out for a trainer without one.
    hparams : the run's settings (a dict, nested or not, or a dataclass), written once at train begin.
    images : tag -> a batch of images ((N, H, W), (N, H, W, C) or (N, C, H, W)), written at train begin.
    trial_id : the name the HParams dashboard gives this run (default: the folder's name).
    """

    rank_zero_only = True

    def __init__(self, log_dir: str | Path, histogram_freq: int = 1, hparams: Any = None,
                 images: Mapping[str, Any] | None = None, trial_id: str | None = None) -> None:
        require_tensorboard()    # before training starts, not at its first epoch
        if int(histogram_freq) < 0:
            raise ConfigError(f"histogram_freq must be >= 0, got {histogram_freq}")
        self.log_dir, self.histogram_freq = Path(log_dir), int(histogram_freq)
        self.hparams = flatten_hparams(hparams) if hparams is not None else None
        self.images = dict(images or {})
        self.trial_id = trial_id or self.log_dir.name
        self._writers: dict[str, EventWriter] = {}
        self._start = 0          # the first step this fit writes; earlier steps of a resumed run stay

    def writer(self, run: str) -> EventWriter:
        """The open writer of sub-run ``run`` (``train``, ``validation``, or ``""`` for the folder itself)."""
        if run not in self._writers:
            w = self._writers[run] = EventWriter(self.log_dir / run if run else self.log_dir)
            w.restart(self._start)
        return self._writers[run]

    def on_train_begin(self, trainer):
        done = int(getattr(trainer, "epoch", 0) or 0)    # epochs a resumed fit has already trained
        self._start = done + 1 if done else 0             # a fresh fit also replaces a failed try's images
        if self.hparams is not None:
            self.writer("").hparams(self.hparams, trial_id=self.trial_id)
        if not done:
            for tag, batch in self.images.items():
                self.writer("train").images(tag, batch, step=0)
        for w in self._writers.values():
            w.flush()

    def on_epoch_end(self, trainer, epoch, logs):
        for key, value in logs.items():
            if key == "lr":
                self.writer("train").scalar("learning_rate", value, epoch)
            elif key.startswith("val_"):
                self.writer("validation").scalar(f"epoch_{key[4:]}", value, epoch)
            else:
                self.writer("train").scalar(f"epoch_{key}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._histograms(trainer, epoch)
        for w in self._writers.values():
            w.flush()

    def _histograms(self, trainer: Any, epoch: int) -> None:
        train = self.writer("train")
        for name, w in trainer.get_weights().items():
            w = np.asarray(w)
            if w.size and np.issubdtype(w.dtype, np.floating):    # not counters (num_batches_tracked)
                train.histogram(f"weights/{name}", w, epoch)
        get_gradients = getattr(trainer, "get_gradients", None)
        if not callable(get_gradients):
            return
        for name, g in get_gradients().items():
            g = np.asarray(g, dtype=np.float64)
            train.histogram(f"gradients/{name}", g, epoch)
            train.scalar(f"gradient_norm/{name}", float(np.sqrt(np.dot(g.ravel(), g.ravel()))), epoch)

    def on_train_end(self, trainer):
        writers, self._writers = self._writers, {}
        for w in writers.values():
            w.close()


# -- reading a log folder back -------------------------------------------------------------
def _runs(log_dir: str | Path) -> dict[str, Any]:
    """Every folder under ``log_dir`` holding event files, as ``sub-run name -> loaded
    EventAccumulator`` (everything kept); the name is the path below ``log_dir`` (``.`` for itself)."""
    require_tensorboard()
    from tensorboard.backend.event_processing import event_accumulator as ea

    keep_all = {kind: 0 for kind in (ea.SCALARS, ea.HISTOGRAMS, ea.COMPRESSED_HISTOGRAMS, ea.IMAGES,
                                     ea.TENSORS, ea.AUDIO)}
    root = Path(log_dir)
    out = {}
    for folder in sorted({p.parent for p in root.rglob("events.out.tfevents.*")}):
        acc = ea.EventAccumulator(str(folder), size_guidance=keep_all)
        acc.Reload()
        out[folder.relative_to(root).as_posix()] = acc
    return out


def read_scalars(log_dir: str | Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """``{sub-run: {tag: [(step, value), ...]}}`` of every scalar under ``log_dir``."""
    return {run: {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
            for run, acc in _runs(log_dir).items()}


def read_histograms(log_dir: str | Path) -> dict[str, dict[str, list[tuple[int, dict[str, Any]]]]]:
    """``{sub-run: {tag: [(step, {min, max, num, sum, sum_squares, bucket_limit, bucket}), ...]}}``."""
    def plain(h: Any) -> dict[str, Any]:
        return {"min": h.min, "max": h.max, "num": h.num, "sum": h.sum, "sum_squares": h.sum_squares,
                "bucket_limit": list(h.bucket_limit), "bucket": list(h.bucket)}

    return {run: {tag: [(e.step, plain(e.histogram_value)) for e in acc.Histograms(tag)]
                  for tag in acc.Tags()["histograms"]}
            for run, acc in _runs(log_dir).items()}


def read_images(log_dir: str | Path) -> dict[str, dict[str, list[tuple[int, dict[str, Any]]]]]:
    """``{sub-run: {tag: [(step, {height, width, png}), ...]}}``; ``png`` is the encoded file."""
    return {run: {tag: [(e.step, {"height": e.height, "width": e.width, "png": e.encoded_image_string})
                        for e in acc.Images(tag)] for tag in acc.Tags()["images"]}
            for run, acc in _runs(log_dir).items()}


def read_hparams(log_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``{sub-run: {name: value}}`` of the hparams written under ``log_dir`` (the last of each run)."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    out = {}
    for run, acc in _runs(log_dir).items():
        try:
            content = acc.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG]
        except KeyError:        # no hparams in this sub-run
            continue
        info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
        out[run] = {name: getattr(v, v.WhichOneof("kind")) for name, v in info.hparams.items()}
    return out
