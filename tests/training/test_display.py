"""What a student sees: a History as a table and a figure, live curves, the compact epoch line."""

import logging

import numpy as np
import pytest

from nnlab.engine import model_from_spec
from nnlab.training import EpochLogger, History, LiveCurves
from nnlab.training.callbacks import epoch_line

SPEC = {"input_shape": [3], "layers": [{"type": "Linear", "in_features": 3, "out_features": 1}]}


def _history(epochs):
    h = History()
    for e in range(1, epochs + 1):
        h.append(e, {"loss": 1 / e, "accuracy": 0.5 + e / 100, "val_loss": 1.2 / e, "lr": 0.1})
    return h


def test_a_history_is_a_table_in_jupyter_with_its_best_epoch_named():
    text = _history(5)._repr_html_()
    assert text.count("<tr>") == 6 and "<th>val_loss</th>" in text
    assert "lowest val_loss 0.24 at epoch 5" in text


def test_a_timed_history_shows_each_epochs_seconds_and_the_total():
    h = History()
    h.append(1, {"loss": 1.0}, seconds=2.0)
    h.append(2, {"loss": 0.5}, seconds=3.5)
    text = h._repr_html_()
    assert "<th>seconds</th>" in text and "<td>3.5</td>" in text
    assert "5.5 s of training and validation" in text
    assert "<th>seconds</th>" not in _history(3)._repr_html_()       # nothing to show without times


def test_a_long_history_shows_its_first_and_last_epochs():
    text = _history(100)._repr_html_(max_rows=20)
    assert "<td>1</td>" in text and "<td>100</td>" in text and "<td>50</td>" not in text
    assert "80 more epochs" in text


def test_a_history_plots_one_panel_per_metric():
    fig = _history(4).plot(title="run")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy"]                     # lr is not a panel; val_loss joins loss
    assert len(fig.axes[0].get_lines()) == 2 and fig.axes[0].get_xlabel() == "epoch"
    assert [ax.get_title() for ax in _history(4).plot(keys=["accuracy"]).axes] == ["accuracy"]


def _fit(callbacks, epochs=3):
    model = model_from_spec(SPEC, seed=0)
    model.compile(loss="mse", optimizer={"name": "sgd", "lr": 0.01})
    x = np.ones((40, 3), np.float32)
    return model.fit(x, np.zeros((40, 1), np.float32), epochs=epochs, batch_size=10, callbacks=callbacks,
                     validation_data=(x, np.zeros((40, 1), np.float32)))


def test_live_curves_redraw_into_a_file_outside_a_notebook(tmp_path):
    live = LiveCurves(every=2, path=tmp_path / "curves.png")
    h = _fit([live], epochs=5)
    assert live.redraws == 3                                   # epochs 2 and 4, and the last one at the end
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert live.history["val_loss"] == h["val_loss"]


def test_live_curves_update_one_display_in_a_notebook(monkeypatch):
    display_mod = pytest.importorskip("IPython.display")
    shown = []

    class Handle:
        def update(self, fig):
            shown.append(("update", fig))

    def display(fig, display_id=False):
        shown.append(("display", fig))
        return Handle()

    monkeypatch.setattr("nnlab.training.live._in_notebook", lambda: True)
    monkeypatch.setattr(display_mod, "display", display)
    _fit([LiveCurves()], epochs=3)
    assert [kind for kind, _ in shown] == ["display", "update", "update"]
    assert [ax.get_title() for ax in shown[-1][1].axes] == ["loss"]


def test_live_curves_do_nothing_outside_a_notebook_without_a_file():
    live = LiveCurves()
    _fit([live], epochs=2)
    assert live.redraws == 0 and len(live.history) == 2


def test_the_epoch_line_is_compact_with_accuracies_as_percentages():
    line = epoch_line("[1/3] unet", 3, 25, {"loss": 0.41234, "accuracy": 0.612, "val_loss": 0.455, "lr": 1e-3}, 41.23)
    assert line == "[1/3] unet  epoch 3/25  loss 0.4123  accuracy 61.20%  val_loss 0.4550  lr 0.001  41.2 s"


def test_epoch_records_meant_for_files_are_marked_so_the_console_can_drop_them(caplog):
    caplog.set_level(logging.INFO)
    _fit([EpochLogger(console=False)], epochs=1)
    _fit([EpochLogger()], epochs=1)
    marks = [getattr(r, "nnlab_console", True) for r in caplog.records if "epoch 1:" in r.getMessage()]
    assert marks == [False, True]
