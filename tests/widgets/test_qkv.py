"""The kernel-width explorer (chapter 2) and its figures, driven without a browser."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.experiments.qkv import regression_data
from attn_core.widgets.qkv import BANDWIDTHS, kernel_width_explorer


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("qkv.kernel_width_explorer")


def _reset(ex):
    ex.controls["kernel"].value = "gaussian"
    ex.controls["bandwidth"].value = 0.2


def test_starts_at_a_middle_width_with_one_picture_per_combination(explorer):
    _reset(explorer)
    assert explorer.frame_count() == 2 * len(BANDWIDTHS) <= 60
    state = explorer.state
    assert state["bandwidth"] == 0.2 and state["kernel"] == "gaussian"
    x, y = regression_data(40, seed=1)
    pred, w = ac.nadaraya_watson(np.linspace(0, 5, 51), x, y, bandwidth=0.2)
    assert_allclose(state["weights"], w)
    assert_allclose(state["prediction"], pred)
    assert_allclose(state["weights"].sum(axis=1), 1.0)
    assert [o[0] for o in explorer.controls["bandwidth"].options][:3] == ["0.01", "0.02", "0.05"]


def test_moving_the_width_changes_state_and_picture(explorer):
    _reset(explorer)
    before_png, before = explorer.displayed_png(), dict(explorer.state)

    explorer.controls["bandwidth"].value = 0.01  # narrow: a hard lookup of the nearest point
    narrow_png = explorer.displayed_png()
    assert narrow_png != before_png
    assert explorer.state["largest_weight"] > 0.99
    assert explorer.state["effective_points"] < 1.3 < before["effective_points"]
    x, y = explorer.state["x_train"], explorer.state["y_train"]
    nearest = np.abs(explorer.state["x_query"][:, None] - x[None, :]).argmin(axis=1)
    assert (explorer.state["weights"].argmax(axis=1) == nearest).all()

    explorer.controls["bandwidth"].value = 10.0  # wide: every query gets the average
    assert explorer.displayed_png() not in (before_png, narrow_png)
    assert_allclose(explorer.state["prediction"], y.mean(), atol=0.05)
    assert explorer.state["effective_points"] > 39
    assert "sigma = 10" in explorer.displayed_picture().value


def test_held_out_error_is_u_shaped(explorer):
    _reset(explorer)
    errors = {}
    for sigma in (0.01, 0.2, 10.0):
        explorer.controls["bandwidth"].value = sigma
        errors[sigma] = explorer.state["heldout_error"]
    assert errors[0.2] < errors[0.01] and errors[0.2] < errors[10.0]
    assert f"{errors[10.0]:.3f}" in explorer.displayed_picture().value  # the alt text has it


def test_boxcar_leaves_empty_rows_as_zeros(explorer):
    _reset(explorer)
    gaussian_png = explorer.displayed_png()
    explorer.controls["kernel"].value = "boxcar"
    assert explorer.state["kernel"] == "boxcar"
    assert explorer.displayed_png() != gaussian_png
    explorer.controls["bandwidth"].value = 0.05
    state = explorer.state
    empty = state["weights"].sum(axis=1) == 0
    assert state["empty_queries"] == empty.sum() > 0
    assert_array_equal(state["prediction"][empty], 0.0)
    assert not np.isnan(state["weights"]).any()
    row = state["weights"][~empty][0]
    assert_allclose(row[row > 0], 1 / (row > 0).sum())  # a plain average of the neighbours
    assert "have no training point within the window" in explorer.displayed_picture().value


def test_a_width_off_the_slider_is_refused():
    with pytest.raises(ValueError, match="bandwidth must be one of"):
        kernel_width_explorer(bandwidth=0.25)


