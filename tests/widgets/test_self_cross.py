"""Chapter 6's explorer (a learned alignment by task and training step) and its figures."""

import html

import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.self_cross import train_aligner
from attn_core.widgets.self_cross import alignment_training_explorer

from .conftest import ALIGNER_STEPS as STEPS


@pytest.fixture(scope="module")
def runs(aligner_runs):
    return aligner_runs


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("self_cross.alignment_training_explorer")  # task reverse, step 20


@pytest.fixture
def fresh(explorer):
    yield explorer
    explorer.controls["task"].value = "reverse"
    explorer.controls["step"].value = 20


def test_frames_and_starting_state(explorer, runs):
    assert explorer.frame_count() == 3 * len(STEPS)
    state = explorer.state
    assert state["task"] == "reverse" and state["step"] == 20
    run = runs["reverse"]
    assert_allclose(state["weights"], run.snapshots[2][0])
    assert state["alignment"].tolist() == [5, 4, 3, 2, 1, 0]
    assert state["target"] == state["source"][::-1]
    assert state["alignment_accuracy"] == run.alignment_accuracy[2]


def test_training_step_slider_changes_state_and_picture(fresh, runs):
    before_png = fresh.displayed_png()
    fresh.controls["step"].value = 80
    assert fresh.state["step"] == 80
    assert_allclose(fresh.state["weights"], runs["reverse"].snapshots[-1][0])
    assert fresh.state["alignment_accuracy"] == 1.0
    assert (fresh.state["read"] == fresh.state["alignment"]).all()
    assert fresh.displayed_png() != before_png
    alt = html.unescape(fresh.displayed_picture().value)
    assert "after 80 training steps" in alt and "alignment accuracy 1.00" in alt
    w = fresh.state["weights"]
    first = fresh.state["target"][0]
    assert f"{first} reads {first} (position 6) with {w[0, 5]:.2f}" in alt


def test_task_slider_changes_state_and_picture(fresh, runs):
    before_png = fresh.displayed_png()
    fresh.controls["task"].value = "swap pairs"
    assert fresh.state["task"] == "swap pairs"
    assert fresh.state["alignment"].tolist() == [1, 0, 3, 2, 5, 4]
    assert_allclose(fresh.state["weights"], runs["swap pairs"].snapshots[2][0])
    assert fresh.state["source"] == [fresh.state["target"][i] for i in [1, 0, 3, 2, 5, 4]]
    assert fresh.displayed_png() != before_png
    assert "swap pairs model after 20 training steps" in html.unescape(fresh.displayed_picture().value)


def test_untrained_rows_that_miss_say_where_they_should_read(fresh):
    fresh.controls["step"].value = 0
    state = fresh.state
    misses = [t for t in range(6) if state["read"][t] != state["alignment"][t]]
    assert misses  # the untrained map is wrong somewhere
    alt = html.unescape(fresh.displayed_picture().value)
    assert f"should read position {state['alignment'][misses[0]] + 1}" in alt


def test_bad_arguments_are_refused(runs):
    with pytest.raises(ValueError, match="at least one training run"):
        alignment_training_explorer({})
    odd = train_aligner("copy", steps=10, record_at=(0, 10), seed=1)
    with pytest.raises(ValueError, match="same training steps"):
        alignment_training_explorer({"reverse": runs["reverse"], "copy": odd})
    with pytest.raises(ValueError, match="probe must be"):
        alignment_training_explorer(runs, probe=4)
    with pytest.raises(ValueError, match="task must be one of"):
        alignment_training_explorer(runs, task="sort")
    with pytest.raises(ValueError, match="step must be one of the recorded steps"):
        alignment_training_explorer(runs, step=7)


