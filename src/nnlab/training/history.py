"""The per-epoch record of a training run."""

from __future__ import annotations

import csv
import html
import io
import math
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from nnlab.atomic_io import atomic_write_text
from nnlab.training.callbacks import Callback


#: the column of a history's CSV (and checkpoint rows) that holds each epoch's seconds
TIME_KEY = "epoch_s"


class History(Callback):
    """Per-epoch logs: ``history["val_loss"]`` is a list with one value per epoch.

    It is also a callback (the training loop always attaches one), so it records every epoch
    that ends, including those before an early stop or a crash, and how long each took
    (:attr:`seconds`: from the epoch's start to its logs, the training and validation passes;
    NaN for an epoch appended by hand without a time). The times are kept beside the metrics,
    not among them, so curves, logs and TensorBoard never show them; the CSV writes them as the
    column ``epoch_s``.
    """

    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.history: dict[str, list[float]] = {}
        self.seconds: list[float] = []
        self._epoch_start: float | None = None

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        seconds = None if self._epoch_start is None else time.perf_counter() - self._epoch_start
        self._epoch_start = None
        self.append(epoch, logs, seconds=seconds)

    def append(self, epoch: int, logs: Mapping[str, float], seconds: float | None = None) -> None:
        """Record one epoch's ``logs``; ``seconds`` is how long it took (or ``logs[TIME_KEY]``,
        as a CSV row or a checkpoint holds it)."""
        logs = dict(logs)
        recorded = logs.pop(TIME_KEY, None)
        seconds = recorded if seconds is None else seconds
        n = len(self.epochs)
        self.epochs.append(int(epoch))
        self.seconds.extend([math.nan] * (n - len(self.seconds)))
        self.seconds.append(math.nan if seconds is None else float(seconds))
        for key, value in logs.items():
            column = self.history.setdefault(key, [math.nan] * n)
            column.append(float(value))
        for column in self.history.values():
            if len(column) < n + 1:
                column.append(math.nan)

    def add_column(self, key: str, values: list[float]) -> None:
        """Add a per-epoch column computed outside the loop (e.g. cumulative seconds)."""
        if len(values) != len(self.epochs):
            raise ValueError(f"{key}: {len(values)} values for {len(self.epochs)} epochs")
        self.history[key] = [float(v) for v in values]

    def elapsed(self) -> list[float]:
        """Seconds of training from the first epoch's start to the end of each epoch (the sum of
        :attr:`seconds`; NaN from the first epoch without a time on)."""
        out, total = [], 0.0
        for s in self.seconds:
            total += s
            out.append(total)
        return out

    def first_reaching(self, key: str, bound: float, mode: str = "max") -> int | None:
        """The index of the first epoch whose ``key`` is at least ``bound`` (``mode="max"``) or at
        most ``bound`` (``"min"``); None if none is."""
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', not {mode!r}")
        for i, v in enumerate(self[key]):
            if not math.isnan(v) and (v >= bound if mode == "max" else v <= bound):
                return i
        return None

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps: epochs, metrics and times (plain lists)."""
        return {"epochs": list(self.epochs), "history": {k: list(v) for k, v in self.history.items()},
                "seconds": list(self.seconds)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back :meth:`state_dict`'s record (a checkpoint without times gives NaN times)."""
        self.epochs = [int(e) for e in state["epochs"]]
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        seconds = [float(x) for x in state.get("seconds", [])]
        self.seconds = seconds + [math.nan] * (len(self.epochs) - len(seconds))

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"no {key!r} in history; recorded: {', '.join(self.history) or 'nothing'}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self) -> Iterator[str]:
        return iter(self.history)

    def last(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.history.items()} if self.epochs else {}

    def best(self, monitor: str = "val_loss", mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the best value of ``monitor``."""
        values = self[monitor]
        finite = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
        if not finite:
            raise ValueError(f"{monitor!r} has no finite value")
        v, i = (min if mode == "min" else max)(finite)
        return self.epochs[i], v

    def _timed(self) -> bool:
        return any(not math.isnan(s) for s in self.seconds)

    def to_rows(self) -> list[dict[str, float]]:
        """One dict per epoch: ``epoch``, every metric and, when times were recorded, ``epoch_s``."""
        timed = self._timed()
        return [{"epoch": e, **{k: v[i] for k, v in self.history.items()},
                 **({TIME_KEY: self.seconds[i]} if timed else {})} for i, e in enumerate(self.epochs)]

    def to_csv(self, path: str | Path) -> None:
        """Write one row per epoch, atomically (a crash leaves the old file or the new, never half);
        the last column is ``epoch_s`` when times were recorded."""
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=["epoch", *self.history, *([TIME_KEY] if self._timed() else [])])
        writer.writeheader()
        writer.writerows(self.to_rows())
        atomic_write_text(path, buf.getvalue())

    @classmethod
    def from_csv(cls, path: str | Path) -> "History":
        h = cls()
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                epoch = int(row.pop("epoch"))
                h.append(epoch, {k: float(v) if v not in ("", None) else math.nan for k, v in row.items()})
        return h

    def plot(self, title: str = "", log_loss: bool = False, keys: list[str] | None = None) -> Any:
        """A matplotlib figure of the curves: one panel per metric, training and validation per
        epoch (the figure a run report shows). ``keys`` picks panels (``["loss"]``); in Jupyter
        the returned figure displays itself."""
        from nnlab.plotting import history_figure

        return history_figure(self, title=title, log_loss=log_loss, keys=keys)

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={list(self.history)})"

    def _repr_html_(self, max_rows: int = 20) -> str:
        """Jupyter's view: the epochs as a table (the first and last when there are more than
        ``max_rows``), each epoch's seconds last when they were recorded, with the best validation
        loss (or loss) and the training time named under it."""
        timed = self._timed()
        label = "seconds" if "seconds" not in self.history else TIME_KEY   # never hide a metric of that name
        columns = {**self.history, **({label: self.seconds} if timed else {})}
        head = "".join(f"<th>{html.escape(k)}</th>" for k in ["epoch", *columns])
        rows = list(range(len(self.epochs)))
        if len(rows) > max_rows:
            rows = [*rows[: max_rows // 4], -1, *rows[-(max_rows - max_rows // 4):]]

        def cell(v: float) -> str:
            return "<td>&ndash;</td>" if math.isnan(v) else f"<td>{v:.5g}</td>"

        body = "".join(
            f"<tr><td colspan='{len(columns) + 1}'>&hellip; {len(self.epochs) - max_rows} more epochs &hellip;</td></tr>"
            if i < 0 else f"<tr><td>{self.epochs[i]}</td>{''.join(cell(v[i]) for v in columns.values())}</tr>"
            for i in rows)
        note = f"History: {len(self)} epoch{'s' if len(self) != 1 else ''}"
        monitor = next((k for k in ("val_loss", "loss") if k in self.history), None)
        if monitor is not None:
            try:
                epoch, value = self.best(monitor)
                note += f"; lowest {monitor} {value:.5g} at epoch {epoch}"
            except ValueError:
                pass
        if timed:
            total = sum(t for t in self.seconds if not math.isnan(t))
            note += f"; {total:.1f} s of training and validation"
        return (f"<div><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                f"<p>{html.escape(note)}</p></div>")
