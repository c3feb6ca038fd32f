"""Chapter 1 (why attention): the selectivity explorer and the chapter's figure functions."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.why_attention import key_value_memory
from attn_core.widgets.why_attention import (
    ITEM_NAMES,
    SELECTIVITIES,
    selectivity_explorer,
)


@pytest.fixture(scope="module")
def memory():
    return key_value_memory(len(ITEM_NAMES), 4, seed=0)


@pytest.fixture()
def explorer(shared_explorer, restore):
    return restore(shared_explorer("why_attention.selectivity_explorer"))


def attention_answer_loop(keys, values, item, beta):
    """The answer written out with plain Python loops, to compare against the explorer."""
    scores = [sum(a * b for a, b in zip(keys[item], key)) for key in keys]
    exps = [np.exp(beta * (s - max(scores))) for s in scores]
    return sum(e * v for e, v in zip(exps, values)) / sum(exps)


def test_one_picture_per_item_and_selectivity(explorer):
    assert explorer.frame_count() == len(ITEM_NAMES) * len(SELECTIVITIES) <= 60
    assert [label for label, _ in explorer.controls["item"].options] == list(ITEM_NAMES)
    assert explorer.controls["item"].description == "Item asked for"
    assert explorer.controls["beta"].description == "Selectivity β"
    assert explorer.state["name"] == "ada" and explorer.state["beta"] == 2.0


def test_state_matches_a_plain_loop(explorer, memory):
    keys, values = memory
    for item in (0, 3):
        for beta in (1.0, 16.0):
            explorer.controls["item"].value = item
            explorer.controls["beta"].value = beta
            assert_allclose(explorer.state["answer"], attention_answer_loop(keys, values, item, beta))
            assert_allclose(explorer.state["weights"].sum(), 1.0)
            assert explorer.state["truth"] == values[item]


def test_beta_zero_averages_and_large_beta_looks_up(explorer, memory):
    keys, values = memory
    before_png, before = explorer.displayed_png(), explorer.state["weights"].copy()
    explorer.controls["beta"].value = 0.0
    assert_allclose(explorer.state["weights"], np.full(len(ITEM_NAMES), 1 / len(ITEM_NAMES)))
    assert_allclose(explorer.state["answer"], values.mean())
    assert not np.allclose(explorer.state["weights"], before)
    assert explorer.displayed_png() != before_png
    assert "ada 0.17, ben 0.17" in explorer.displayed_picture().value  # the alt text follows

    explorer.controls["beta"].value = max(SELECTIVITIES)
    for item in range(len(ITEM_NAMES)):
        explorer.controls["item"].value = item
        assert np.argmax(explorer.state["weights"]) == item
        assert abs(explorer.state["answer"] - values[item]) < 0.01


def test_moving_the_item_changes_state_and_picture(explorer):
    before_png = explorer.displayed_png()
    explorer.controls["item"].value = 2
    assert explorer.state["name"] == "cleo"
    assert np.argmax(explorer.state["weights"]) == 2
    assert explorer.displayed_png() != before_png
    assert "Asking for cleo" in explorer.displayed_picture().value


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="must be one of betas"):
        selectivity_explorer(beta=3.0)
    with pytest.raises(ValueError, match=">= 0"):
        selectivity_explorer(betas=(-1.0, 0.0), beta=0.0)
    with pytest.raises(ValueError, match=r"item must be a number in 0\.\.5, got 6"):
        selectivity_explorer(item=6)


def test_starting_values_of_the_wrong_type_are_refused_naming_them():
    with pytest.raises(ValueError, match="item must be a number in 0..5, got True"):
        selectivity_explorer(item=True)
    with pytest.raises(TypeError, match="beta must be a real number"):
        selectivity_explorer(beta="2")
