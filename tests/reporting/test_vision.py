"""Figures of nnlab.reporting.vision: ROC curves, CAM grids, grouped count bars."""

import matplotlib
import numpy as np
import pytest

from nnlab.metrics.classification import roc_curves
from nnlab.reporting.vision import cam_grid, count_bars, roc_figure

matplotlib.use("Agg")


def test_roc_figure_draws_one_curve_per_class_with_its_auc(rng):
    y = np.repeat(np.arange(3), 20)
    scores = rng.random((60, 3))
    scores[np.arange(60), y] += 0.5                               # informative, not perfect
    roc = roc_curves(y, scores)
    fig = roc_figure(roc, ["a", "b", "c"], "test")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == [f"{n} (AUC {a:.3f})" for n, a in zip("abc", roc["auc"])]
    assert labels[3] == "chance"
    curve = ax.get_lines()[0]
    np.testing.assert_allclose(curve.get_xdata(), roc["fpr"][0])
    assert f"{roc['macro_auc']:.3f}" in ax.get_title()


def test_roc_figure_marks_an_undefined_class_and_checks_names():
    roc = roc_curves(np.array([0, 0, 1, 1]), np.array([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1],
                                                       [0.4, 0.5, 0.1]]), 3)
    fig = roc_figure(roc, ["x", "y", "z"])
    assert "z (AUC n/a)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    with pytest.raises(ValueError, match="class names"):
        roc_figure(roc, ["x", "y"])


def test_cam_grid_blends_each_cell_and_leaves_missing_ones_empty():
    image = np.zeros((8, 8))
    cam = np.zeros((8, 8))
    cam[2:4, 2:4] = 1.0
    cells = [[(image, cam, "right: a"), None], [(image, cam, "wrong: b"), (image, cam, "wrong: a")]]
    fig = cam_grid(cells, ["a", "b"], ["c1", "c2"], title="t")
    axes = fig.axes
    assert len(axes) == 4
    shown = [ax for ax in axes if ax.images]
    assert len(shown) == 3 and not axes[1].images               # the None cell has no image
    assert [ax.get_title() for ax in shown] == ["right: a", "wrong: b", "wrong: a"]
    rgb = shown[0].images[0].get_array()
    assert rgb.shape == (8, 8, 3)
    assert not np.allclose(rgb[3, 3], rgb[6, 6])                  # the hot spot is coloured differently
    assert axes[0].get_ylabel() == "a" and axes[2].get_ylabel() == "b"


def test_cam_grid_checks_its_labels():
    cell = (np.zeros((4, 4)), np.zeros((4, 4)), "")
    with pytest.raises(ValueError, match="row labels"):
        cam_grid([[cell]], ["a", "b"])
    with pytest.raises(ValueError, match="column labels"):
        cam_grid([[cell, cell]], ["a"], ["only one"])


def test_count_bars_heights_are_the_counts():
    counts = {"before": {"a": 3, "b": 10}, "after": {"a": 8, "b": 10}}
    fig = count_bars(counts, "t")
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [3, 10, 8, 10]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["before", "after"]
    with pytest.raises(ValueError, match="classes"):
        count_bars({"before": {"a": 1}, "after": {"b": 1}})
