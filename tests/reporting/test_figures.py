"""Shared report figures: the decision-region panels."""

import numpy as np

from nnlab.reporting.figures import decision_regions


def test_decision_regions_draws_one_panel_per_model_over_the_grid():
    x = np.array([[-1.0, 0.0], [1.0, 0.0]])
    y = np.array([0, 1])
    seen = []

    def right_half(grid):
        seen.append(grid.shape)
        return (grid[:, 0] > 0).astype(float)

    fig = decision_regions({"a: acc 1.000": right_half, "b": lambda g: np.full(len(g), 0.25)}, x, y,
                           extent=2.0, steps=11)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["a: acc 1.000", "b"]
    assert seen == [(121, 2)]                                   # an 11 x 11 grid of 2-D points
    assert axes[0].get_xlim()[0] <= -2.0 and axes[0].get_xlim()[1] >= 2.0
    points = axes[0].collections[-1]                            # the scatter, drawn last
    np.testing.assert_array_equal(points.get_offsets(), x)
    colours = points.get_facecolors()
    assert not np.allclose(colours[0], colours[1])              # the two classes in two colours


def test_overlaid_curves_that_coincide_say_so_instead_of_hiding_each_other():
    from nnlab.reporting.figures import overlay_figure
    from nnlab.training.history import History

    def history(values):
        h = History()
        for epoch, v in enumerate(values, 1):
            h.append(epoch, {"loss": v})
        return h

    fig = overlay_figure({"A": history([3, 2, 1]), "B": history([3, 2, 1]), "C": history([3, 1, 0.5])})
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["A", "B (same as A)", "C"]
    assert ax.get_lines()[0].get_linestyle() != ax.get_lines()[1].get_linestyle()   # both stay visible
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
