"""The door checks of attn_core.plot: what the table of tests/test_bad_input.py cannot see.

The table calls each function once per bad value on a fresh Axes; these tests cover the cases
that depend on an Axes drawn before (an in-place update must not skip a check), on values of
another argument, and the values a chapter passes that look unusual but are valid.
"""

from __future__ import annotations

import numpy as np
import pytest

from attn_core.plot import accuracy_curves, attention_heatmap, new_figure, weight_bars
from attn_core.plot.interpretability import weight_effect_scatter
from attn_core.plot.masking import mask_heatmap
from attn_core.plot.variants import weight_map


def _ax():
    return new_figure(2, 2, dpi=20).add_subplot()


def test_a_redraw_in_place_still_checks_its_labels_and_highlight():
    ax = weight_bars(_ax(), [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="labels has 2 labels, but weights has 3"):
        weight_bars(ax, [0.1, 0.1, 0.8], ["a", "b"])
    with pytest.raises(ValueError, match="highlight must be a key index in 0..2"):
        weight_bars(ax, [0.1, 0.1, 0.8], highlight=3)
    ax = attention_heatmap(_ax(), [[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(ValueError, match="highlight_row must be a query index in 0..1"):
        attention_heatmap(ax, [[0.5, 0.5], [0.2, 0.8]], highlight_row=2)


def test_a_figure_function_refuses_something_that_is_not_an_axes():
    figure = new_figure()
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        weight_bars(figure, [0.5, 0.5])  # the figure, not one of its Axes


def test_a_log_axis_needs_positive_positions():
    with pytest.raises(ValueError, match="x must hold numbers > 0"):
        accuracy_curves(_ax(), [0, 10, 100], {"attention": [0.1, 0.5, 0.9]}, log_x=True)


def test_groups_may_be_booleans_or_zeros_and_ones_but_nothing_else():
    weights, effects = [0.1, 0.5, 0.9], [0.2, 0.4, 0.8]
    for groups in (np.array([False, True, False]), [0, 1, 0]):
        ax = weight_effect_scatter(_ax(), weights, effects, groups)
        sizes = [len(collection.get_offsets()) for collection in ax.collections]
        assert sizes == [2, 1]  # two "other" points, one point of the key asked for
    with pytest.raises(ValueError, match="groups must lie in 0..1"):
        weight_effect_scatter(_ax(), weights, effects, [0, 2, 0])


def test_a_boolean_mask_is_drawn_as_zeros_and_ones_by_weight_map():
    mask = np.array([[True, False], [True, True]])
    ax = weight_map(_ax(), mask)
    assert ax.images[0].get_array().tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_a_marked_cell_must_lie_inside_the_mask():
    mask = np.tril(np.ones((3, 3), dtype=bool))
    assert len(mask_heatmap(_ax(), mask, marked=[(2, 0)])._attn_marked) == 1
    with pytest.raises(ValueError, match=r"marked cell \(3, 0\) lies outside the mask of shape \(3, 3\)"):
        mask_heatmap(_ax(), mask, marked=[(3, 0)])
