"""Chapter 14 (why attention performs): the training explorer and the chapter's figures."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.data import associative_recall
from attn_core.experiments.performance import Snapshots
from attn_core.training.models import AttentionReader
from attn_core.widgets.performance import training_explorer

from .conftest import READER_STEPS as STEPS


@pytest.fixture(scope="module")
def runs(reader_runs):
    """An attention and a pooling reader trained as in the chapter, smaller (tests/widgets/conftest.py)."""
    return reader_runs


@pytest.fixture()
def explorer(shared_explorer, restore):
    return restore(shared_explorer("performance.training_explorer"))  # step 0


def test_one_picture_per_step_and_reader(explorer):
    assert explorer.frame_count() == 2 * (len(STEPS) + 1) <= 60
    assert explorer.controls["step"].description == "Training step"
    assert explorer.controls["model"].description == "Reader"
    assert [label for label, _ in explorer.controls["step"].options] == ["0", "40", "80", "200"]
    assert explorer.state["model"] == "attention" and explorer.state["step"] == 0


def test_training_moves_the_attention_weights_and_the_picture(explorer, runs):
    snapshots, example = runs
    before_png, before = explorer.displayed_png(), explorer.state["weights"].copy()
    queried = explorer.state["queried_pair"]
    assert queried == 6 - example["distance"][0]
    explorer.controls["step"].value = 200
    after = explorer.state["weights"]
    assert after[queried] > 0.6 > before[queried]
    assert explorer.state["prediction"] == explorer.state["answer"] == example["labels"][0]
    assert explorer.state["test_accuracy"] == snapshots["attention"].test_accuracy[200] > 0.95
    assert explorer.displayed_png() != before_png
    assert "at training step 200" in explorer.displayed_picture().value  # the alt text follows
    assert_allclose(after.sum(), 1.0)
    assert_allclose(explorer.state["probabilities"].sum(), 1.0)


def test_the_pooling_reader_weights_every_pair_alike(explorer):
    attention_png = explorer.displayed_png()
    explorer.controls["model"].value = "pooling"
    assert explorer.displayed_png() != attention_png
    for step in (0,) + STEPS:
        explorer.controls["step"].value = step
        assert_allclose(explorer.state["weights"], np.full(6, 1 / 6))
    assert "The pooling reader at training step 200" in explorer.displayed_picture().value
    assert "0.17, " in explorer.displayed_picture().value


def test_bad_arguments_are_refused(runs):
    snapshots, example = runs
    with pytest.raises(ValueError, match="at least one"):
        training_explorer({}, example)
    with pytest.raises(TypeError, match="runs must be a mapping"):
        training_explorer(["attention"], example)
    with pytest.raises(TypeError, match="step must be None or a whole number"):
        training_explorer(snapshots, example, step="0")
    with pytest.raises(ValueError, match="example has no 'labels'"):
        training_explorer(snapshots, {name: value for name, value in example.items() if name != "labels"})
    with pytest.raises(ValueError, match="not one of the recorded steps"):
        training_explorer(snapshots, example, step=7)
    with pytest.raises(ValueError, match="is not one of"):
        training_explorer(snapshots, example, model="recurrent")
    two = {name: value[:2] for name, value in associative_recall(2, n_pairs=6, n_keys=12,
                                                                  n_values=4).items()}
    with pytest.raises(ValueError, match="one example"):
        training_explorer(snapshots, two)
    other = Snapshots(AttentionReader(12, 4, width=4), test_set=two)
    with pytest.raises(ValueError, match="same steps"):
        training_explorer({"attention": snapshots["attention"], "other": other}, example)
    with pytest.raises(ValueError, match="without a test_set"):
        training_explorer({"a": Snapshots(AttentionReader(12, 4, width=4))}, example)
    many = Snapshots(test_set=two)
    for step in range(31):
        many.record(step, AttentionReader(12, 4, width=4))
    with pytest.raises(ValueError, match="more than 60 pictures"):
        training_explorer({"a": many, "b": many}, example)


