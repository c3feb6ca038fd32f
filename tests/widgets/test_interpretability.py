"""Chapter 13's explorers (rollout, weight beside effect) and figures."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.interpretability import (
    layer_maps,
    misleading_map_example,
)
from attn_core.widgets.interpretability import (
    SENTENCE,
    rollout_explorer,
    weight_effect_explorer,
)


@pytest.fixture(scope="module")
def rollout(shared_explorer):
    return shared_explorer("interpretability.rollout_explorer")


@pytest.fixture(scope="module")
def effect(shared_explorer):
    return shared_explorer("interpretability.weight_effect_explorer")


@pytest.fixture
def fresh_rollout(rollout):
    yield rollout
    rollout.controls["view"].value = "rollout"
    rollout.controls["query"].value = len(SENTENCE) - 1


@pytest.fixture
def fresh_effect(effect):
    yield effect
    effect.controls["length"].value = 4.0
    effect.controls["removed"].value = -1


def test_rollout_default_state(rollout):
    assert rollout.frame_count() == 36
    assert rollout.state["view"] == "rollout" and rollout.state["query"] == 8
    assert_allclose(rollout.state["row"].sum(), 1.0)


def test_rollout_sliders_change_state_and_picture(fresh_rollout):
    ex = fresh_rollout
    before = ex.displayed_png()
    ex.controls["view"].value = "layer 2"
    assert ex.state["view"] == "layer 2"
    assert_allclose(ex.state["row"], layer_maps()["layer 2"][8])
    assert ex.displayed_png() != before
    alt = ex.displayed_picture().value
    assert "layer 2, heads averaged" in alt and "saw 0.47" in alt
    png = ex.displayed_png()
    ex.controls["query"].value = 4
    assert ex.state["query"] == 4 and ex.displayed_png() != png
    assert "query 4 &#x27;the&#x27;" in ex.displayed_picture().value
    ex.controls["view"].value = "rollout, writing heads"
    assert "rollout, writing heads only" in ex.displayed_picture().value


def test_rollout_explorer_bad_arguments():
    with pytest.raises(ValueError, match="2 to 10 tokens"):
        rollout_explorer(["a"])
    with pytest.raises(ValueError, match="view must be one of"):
        rollout_explorer(view="layer 3")
    with pytest.raises(ValueError, match=r"query must be a position in 0\.\.8, got 9"):
        rollout_explorer(query=9)


# --------------------------------------------------------------------------- weight vs effect
def test_effect_default_state(effect):
    assert effect.frame_count() == 24
    a, v = misleading_map_example(4.0)["weights"], misleading_map_example(4.0)["values"]
    output = sum(a[l] * v[l] for l in range(5))
    by_hand = []  # without key j the other weights are divided by 1 - a_j: how far does the output move?
    for j in range(5):
        moved = sum(a[l] * v[l] for l in range(5) if l != j) / (1 - a[j])
        by_hand.append(np.hypot(*(moved - output)))
    assert_allclose(effect.state["effects"], by_hand)
    # the weights rank A > B > C > D > E; removal effects rank them the other way round
    assert np.all(np.diff(effect.state["weights"]) <= 0)
    assert np.all(np.diff(effect.state["effects"]) >= -1e-12)
    assert effect.state["moved_output"] is None


def test_effect_sliders_change_state_and_picture(fresh_effect):
    ex = fresh_effect
    before = ex.displayed_png()
    ex.controls["removed"].value = 4
    moved = ex.state["moved_output"]
    a, v = ex.state["weights"], ex.state["values"]
    assert_allclose(moved, sum(a[l] * v[l] for l in range(4)) / a[:4].sum())  # E's weight shared out
    assert_allclose(np.linalg.norm(moved - ex.state["output"]), ex.state["effects"][4])
    assert ex.displayed_png() != before
    assert "Without E it moves to" in ex.displayed_picture().value
    png, weights = ex.displayed_png(), ex.state["weights"].copy()
    ex.controls["length"].value = 0.0
    assert ex.state["length"] == 0.0 and ex.displayed_png() != png
    assert_allclose(ex.state["weights"], weights)  # the map does not change
    assert ex.state["effects"][4] < ex.state["effects"][2]  # E no longer matters most
    assert "E&#x27;s value is (0, 0)" in ex.displayed_picture().value


def test_effect_explorer_bad_arguments():
    with pytest.raises(ValueError, match="length must be one of"):
        weight_effect_explorer(length=3.0)
    with pytest.raises(ValueError, match="removed must be -1"):
        weight_effect_explorer(removed=5)


