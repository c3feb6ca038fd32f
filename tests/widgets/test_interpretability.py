"""Chapter 13's explorer: walking through the rows with one output, and which a head can make."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.interpretability import six_keys_example
from attn_core.widgets.interpretability import (
    FRACTION_OPTIONS,
    corner_names,
    same_output_explorer,
)


@pytest.fixture(scope="module")
def walk(shared_explorer):
    return shared_explorer("interpretability.same_output_explorer")


@pytest.fixture
def fresh_walk(walk, restore):
    return restore(walk)


def test_default_state(walk):
    assert walk.frame_count() == 8 * len(FRACTION_OPTIONS)
    state = walk.state
    assert state["corner_name"] == "B, D, F" and state["fraction"] == 0.6
    example = six_keys_example()
    a, v = example["weights"], example["values"]
    assert_allclose(state["output"], a @ v)  # the output never moves
    # total variation by hand: half the sum of |row - a|
    assert state["total_variation"] == pytest.approx(0.5 * sum(abs(r - w) for r, w in zip(state["row"], a)))
    assert state["residual"] > 1.0 and state["output_gap"] > 0.1


def test_sliders_change_state_and_picture(fresh_walk):
    ex = fresh_walk
    a = six_keys_example()["weights"]
    before = ex.displayed_png()
    ex.controls["fraction"].value = 0.0
    assert_allclose(ex.state["row"], a)  # at 0 the row is the head's own: reachable, no gap
    assert ex.state["residual"] < 1e-9 and ex.state["output_gap"] < 1e-9
    assert ex.displayed_png() != before
    gaps = []
    for fraction in (0.2, 0.4, 0.6, 0.8):  # the further from a, the further out of reach
        ex.controls["fraction"].value = fraction
        gaps.append(ex.state["residual"])
    assert np.all(np.diff(gaps) > 0)
    png = ex.displayed_png()
    ex.controls["corner"].value = 0
    assert ex.state["corner_name"] == "A, B, D" and ex.displayed_png() != png
    assert "the same as the head&#x27;s row" in ex.displayed_picture().value


def test_corner_names_and_bad_arguments():
    assert corner_names(np.array([[0.2, 0.0, 0.8], [0.0, 1.0, 0.0]]), np.array(list("xyz"))) == ["x, z", "y"]
    with pytest.raises(ValueError, match="corner must be an index"):
        same_output_explorer(corner=8)
    with pytest.raises(ValueError, match="fraction must be one of"):
        same_output_explorer(fraction=0.5)
