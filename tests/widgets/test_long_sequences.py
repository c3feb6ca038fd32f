"""Chapter 12 (long sequences): the recall explorer and the chapter's figure functions."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.long_sequences import state_change_by_pair
from attn_core.widgets.long_sequences import (
    VALUE_NAMES,
    describe_recall,
    recall_explorer,
)

from .conftest import RECALL_PAIRS as L


@pytest.fixture(scope="module")
def tiny(tiny_readers):
    """Untrained tiny readers and a small test set: the explorer needs no training to be tested."""
    return tiny_readers


@pytest.fixture()
def explorer(shared_explorer, restore):
    return restore(shared_explorer("long_sequences.recall_explorer"))


def first_example(data, d):
    i = int(np.flatnonzero(data["distance"] == d)[0])
    return i, {name: value[i:i + 1] for name, value in data.items()}


def test_one_picture_per_distance_and_model(explorer):
    assert explorer.frame_count() == 2 * L <= 60
    assert explorer.controls["distance"].description == "Distance d"
    assert explorer.controls["model"].description == "Model"
    assert [label for label, _ in explorer.controls["distance"].options] == ["1", "2", "3", "4", "5"]
    assert explorer.state["model"] == "attention" and explorer.state["distance"] == 1


def test_state_is_the_models_own_numbers(explorer, tiny):
    recurrent, attention, data = tiny
    for d in (1, 4):
        i, one = first_example(data, d)
        explorer.controls["distance"].value = d
        explorer.controls["model"].value = "attention"
        logits, cache = attention.forward(one)
        assert_allclose(explorer.state["heights"], cache["weights"][0, 0])
        assert_allclose(explorer.state["heights"].sum(), 1.0)
        assert explorer.state["position"] == L - d
        assert explorer.state["true"] == VALUE_NAMES[data["labels"][i]]
        assert explorer.state["predicted"] == VALUE_NAMES[logits.argmax()]
        assert explorer.state["pairs"] == [VALUE_NAMES[v] for v in data["values"][i]]

        explorer.controls["model"].value = "recurrent"
        assert_allclose(explorer.state["heights"], state_change_by_pair(recurrent, one)[0])
        assert explorer.state["predicted"] == VALUE_NAMES[recurrent.forward(one)[0].argmax()]


def test_moving_each_control_changes_state_and_picture(explorer):
    before_png, before = explorer.displayed_png(), explorer.state["heights"].copy()
    explorer.controls["distance"].value = 3
    assert explorer.state["position"] == L - 3
    assert not np.allclose(explorer.state["heights"], before)
    assert explorer.displayed_png() != before_png

    middle_png = explorer.displayed_png()
    explorer.controls["model"].value = "recurrent"
    assert explorer.state["model"] == "recurrent"
    assert explorer.displayed_png() != middle_png
    assert "Recurrent reader, distance 3" in explorer.displayed_picture().value  # the alt text


def test_alt_text_gives_the_numbers(explorer):
    text = describe_recall(explorer.state)
    weights = explorer.state["heights"]
    assert f"{weights[0]:.2f}" in text and f"{weights[-1]:.2f}" in text
    assert f"It answers {explorer.state['predicted']}; the true value is {explorer.state['true']}" in text
    explorer.controls["model"].value = "recurrent"
    text = describe_recall(explorer.state)
    assert "final state moves" in text and f"{explorer.state['heights'][0]:.2f}" in text


def test_bad_arguments_are_refused(tiny):
    with pytest.raises(ValueError, match="model must be one of"):
        recall_explorer(*tiny, model="convolution")
    with pytest.raises(ValueError, match="distance=9 is not among"):
        recall_explorer(*tiny, distance=9)
    with pytest.raises(ValueError, match="value_names has 2 names for 3 values"):
        recall_explorer(*tiny, value_names=["x", "y"])
    with pytest.raises(TypeError, match="distance must be a whole number"):
        recall_explorer(*tiny, distance=True)
    with pytest.raises(TypeError, match="attention must be a reader"):
        recall_explorer(tiny[0], None, tiny[2])
    unlabelled = {name: value for name, value in tiny[2].items() if name != "labels"}
    with pytest.raises(ValueError, match="data must be a dict of arrays with"):
        recall_explorer(tiny[0], tiny[1], unlabelled)


