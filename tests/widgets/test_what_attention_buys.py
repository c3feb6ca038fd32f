"""Chapter 12 (what attention buys): the explorer that replays the stored runs."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.what_attention_buys import CONFIG, load_results
from attn_core.widgets.what_attention_buys import learning_explorer

from .conftest import BUYS_STEPS


@pytest.fixture()
def explorer(shared_explorer, restore):
    return restore(shared_explorer("what_attention_buys.learning_explorer"))


def fake(steps=(0, 10), names=("a", "b")):
    return {"config": {"task": {"n_values": 4}},
            "runs": {name: {"steps": list(steps), "test_accuracy": [0.25] * len(steps),
                            "by_distance": [[0.25, 0.5, 0.75]] * len(steps)} for name in names}}


def test_one_picture_per_reader_and_step(explorer):
    runs = load_results()["runs"]
    assert explorer.frame_count() == len(runs) * len(BUYS_STEPS) <= 100
    assert explorer.controls["reader"].description == "Reader"
    assert explorer.controls["step"].description == "Training step"
    assert [value for _, value in explorer.controls["step"].options] == list(BUYS_STEPS)
    assert explorer.state["reader"] == "elman" and explorer.state["step"] == BUYS_STEPS[-1]
    assert explorer.state["chance"] == 1 / CONFIG["task"]["n_values"]


def test_the_bars_are_the_stored_accuracies_by_distance(explorer):
    runs = load_results()["runs"]
    for reader in ("attention", "gru"):
        explorer.controls["reader"].value = reader
        for step in BUYS_STEPS:
            explorer.controls["step"].value = step
            i = runs[reader]["steps"].index(step)
            assert_allclose(explorer.state["by_distance"], runs[reader]["by_distance"][i])
            assert explorer.state["test_accuracy"] == runs[reader]["test_accuracy"][i]
            assert_allclose(explorer.state["final"], runs[reader]["by_distance"][-1])
    # the bars average to the overall accuracy, up to the unequal counts per distance
    assert abs(np.mean(explorer.state["by_distance"]) - explorer.state["test_accuracy"]) < 0.03


def test_moving_a_control_changes_the_picture_and_its_text(explorer):
    before_png = explorer.displayed_png()
    explorer.controls["step"].value = BUYS_STEPS[0]
    assert explorer.displayed_png() != before_png
    assert f"at training step {BUYS_STEPS[0]}" in explorer.displayed_picture().value


def test_a_small_set_of_runs():
    ex = learning_explorer(fake(), reader="b", step=0, steps=(0, 10, 99))  # 99 was not evaluated
    assert ex.frame_count() == 4 and ex.state["reader"] == "b" and ex.state["step"] == 0
    assert ex.state["chance"] == 0.25


@pytest.mark.parametrize("results, kwargs, error, message", [
    ({"runs": {}}, {}, TypeError, "non-empty 'runs'"),
    ({"runs": {"a": {"steps": [0]}}, "config": {"task": {"n_values": 2}}}, {}, TypeError,
     "must hold steps, test_accuracy and by_distance"),
    (fake(names=("a",)) | {"config": {}}, {"reader": "a"}, TypeError, r"config\['task'\]\['n_values'\]"),
    (fake(), {"reader": "c"}, ValueError, r"reader='c' is not one of the runs \['a', 'b'\]"),
    (fake(), {"reader": "a", "steps": (5,)}, ValueError, r"none of steps \[5\] is among the evaluated steps"),
    (fake(), {"reader": "a", "steps": (0, 10), "step": 5}, ValueError, r"step=5 is not one of the offered steps"),
    (fake(steps=range(60)), {"reader": "a", "steps": tuple(range(60))}, ValueError, "more than 100 pictures"),
])
def test_bad_input_is_refused(results, kwargs, error, message):
    with pytest.raises(error, match=message):
        learning_explorer(results, **kwargs)


def test_runs_evaluated_at_different_steps_are_refused():
    results = fake()
    results["runs"]["b"] = dict(results["runs"]["b"], steps=[0, 20])
    with pytest.raises(ValueError, match="every run must be evaluated at the same steps"):
        learning_explorer(results, reader="a")
