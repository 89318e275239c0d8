"""Live curves: the loss and metrics redrawn after every epoch while a model trains.

In Jupyter the figure is one display that updates in place (IPython's display handles);
elsewhere, given a ``path``, the figure is rewritten there after each epoch (a PNG an image
viewer reloads), and without one the callback does nothing, so a notebook's cell runs unchanged
as a script.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from nnlab.training.callbacks import Callback
from nnlab.training.history import History

log = logging.getLogger(__name__)


def _in_notebook() -> bool:
    """Whether an IPython kernel with a rich front end (Jupyter, VS Code) is running us."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveCurves(Callback):
    """Redraw the training curves (one panel per metric, training and validation) every
    ``every`` epochs: in place in a notebook, or into ``path`` (a PNG) elsewhere.

    ``keys`` picks the panels (``["loss", "accuracy"]``; default: every metric logged),
    ``log_loss`` puts the loss on a log scale. The curves it drew are in :attr:`history`.
    """

    rank_zero_only = True

    def __init__(self, keys: list[str] | None = None, every: int = 1, log_loss: bool = False,
                 path: str | Path | None = None, title: str = "") -> None:
        if int(every) < 1:
            raise ValueError(f"every must be a positive number of epochs, got {every!r}")
        self.keys, self.every, self.log_loss, self.title = keys, int(every), log_loss, title
        self.path = Path(path) if path is not None else None
        self.history = History()
        self._handle: Any = None
        self.redraws = 0

    def on_train_begin(self, trainer):
        self._handle = None

    def on_epoch_end(self, trainer, epoch, logs):
        self.history.append(epoch, logs)
        if len(self.history) % self.every == 0:
            self.draw()

    def on_train_end(self, trainer):
        if len(self.history) and len(self.history) % self.every:   # the last epochs were not drawn yet
            self.draw()

    def draw(self) -> None:
        """Draw the curves now (in the notebook, or into ``path``)."""
        notebook = _in_notebook()
        if not notebook and self.path is None:
            return
        fig = self.history.plot(title=self.title, log_loss=self.log_loss, keys=self.keys)
        self.redraws += 1
        if notebook:
            from IPython.display import display

            if self._handle is None:
                self._handle = display(fig, display_id=True)
            else:
                self._handle.update(fig)
        if self.path is not None:
            from nnlab.plotting import save_figure

            save_figure(fig, self.path)
