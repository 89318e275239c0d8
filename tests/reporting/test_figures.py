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
