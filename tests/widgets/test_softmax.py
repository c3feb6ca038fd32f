"""The explorer of chapter 4 (softmax): temperature, softmax or sparsemax, typed scores."""

import numpy as np
import pytest

import attn_core as ac
from attn_core.widgets import LIVE_ONLY_CLASS
from attn_core.widgets.softmax import (
    KEYS,
    SCORES,
    TEMPERATURES,
    parse_scores,
    temperature_explorer,
)


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("softmax.temperature_explorer")


def test_one_picture_per_temperature_and_normalisation(explorer):
    assert explorer.frame_count() == len(TEMPERATURES) * 2 <= 60
    assert explorer.controls["temperature"].value == 1.0
    assert explorer.controls["normalisation"].value == "softmax"
    np.testing.assert_allclose(explorer.state["weights"], ac.softmax(SCORES))
    assert explorer.state["keys"] == list(KEYS)


def test_temperature_slider_changes_state_and_picture():
    ex = temperature_explorer()
    before_png, before = ex.displayed_png(), ex.state["weights"].copy()
    ex.controls["temperature"].value = 0.1
    np.testing.assert_allclose(ex.state["weights"], ac.softmax(SCORES, temperature=0.1))
    assert ex.state["weights"].max() > before.max()
    assert ex.state["entropy"] < float(ac.attention_entropy(before))
    assert ex.displayed_png() != before_png
    alt = ex.displayed_picture().value
    assert "temperature T = 0.1" in alt and "cat 0.99" in alt


def test_high_temperature_flattens_towards_uniform():
    ex = temperature_explorer()
    ex.controls["temperature"].value = 20.0
    w = ex.state["weights"]
    assert w.max() - w.min() < 0.03
    assert ex.state["entropy"] == pytest.approx(np.log(len(KEYS)), abs=0.01)


def test_normalisation_slider_switches_to_sparsemax():
    ex = temperature_explorer()
    before_png = ex.displayed_png()
    ex.controls["normalisation"].value = "sparsemax"
    w = ex.state["weights"]
    np.testing.assert_allclose(w, ac.sparsemax(np.array(SCORES)))
    np.testing.assert_allclose(w, [0, 0.75, 0, 0, 0, 0.25])  # by hand: tau = 0.75
    assert ex.state["nonzero"] == 2
    assert ex.displayed_png() != before_png
    assert "sparsemax" in ex.displayed_picture().value


def test_entropy_is_in_the_title_of_a_live_redraw():
    ex = temperature_explorer()
    ex.controls["temperature"].value = 2.0
    ex.controls["scores"].value = "2, 0, 0, 0, 0, 0"
    title = ex._figure.axes[0].get_title()
    assert f"entropy {ex.state['entropy']:.2f} nats" in title
    assert f"{ex.state['effective_keys']:.1f} effective keys" in title
    assert "softmax at temperature T = 2" in title


def test_typed_scores_redraw_and_bad_text_shows_a_message():
    ex = temperature_explorer()
    assert LIVE_ONLY_CLASS in ex.controls["scores"]._dom_classes
    ex.controls["scores"].value = "1, 1, 0, 0, 0, 0"
    assert ex.message.value == "" and ex.view.selected_index == 1
    np.testing.assert_allclose(ex.state["weights"], ac.softmax([1, 1, 0, 0, 0, 0]))
    good_png = ex.displayed_png()
    labels = [t.get_text() for t in ex._figure.axes[0].get_xticklabels()]
    assert labels[0] == "the\n1"  # the score under each key follows the typed scores

    ex.controls["scores"].value = "1, one, 0, 0, 0, 0"
    assert "'one' is not a number" in ex.message.value
    assert ex.displayed_png() == good_png  # the last good picture stays
    ex.controls["scores"].value = "1, 2, 3"
    assert "expected 6 numbers, got 3" in ex.message.value
    ex.controls["scores"].value = "1e300, 0, 0, 0, 0, 0"
    assert "keep every score between" in ex.message.value

    ex.controls["normalisation"].value = "sparsemax"  # the typed scores still hold
    np.testing.assert_allclose(ex.state["weights"], ac.sparsemax([1, 1, 0, 0, 0, 0]))
    ex.controls["scores"].value = ", ".join(f"{s:g}" for s in SCORES)
    assert ex.message.value == "" and ex.view.selected_index == 0


def test_parse_scores_refuses_arguments_that_are_not_text_or_a_count():
    with pytest.raises(TypeError, match="text must be a str"):
        parse_scores(1.0, 1)
    with pytest.raises(TypeError, match="count must be a whole number"):
        parse_scores("1", 1.0)
    with pytest.raises(ValueError, match="count must be >= 1"):
        parse_scores("1", 0)


def test_temperature_explorer_refuses_bad_starting_values():
    with pytest.raises(TypeError, match="temperature must be a positive real number"):
        temperature_explorer(temperature="1")
    with pytest.raises(ValueError, match="temperature must be one of temperatures"):
        temperature_explorer(temperature=4.0)
    with pytest.raises(ValueError, match="normalisation must be one of"):
        temperature_explorer(normalisation="argmax")
    with pytest.raises(ValueError, match="scores contains inf"):
        temperature_explorer(scores=(1.0, np.inf, 0.0, 0.0, 0.0, 0.0))


def test_parse_scores_and_mismatched_keys():
    assert parse_scores("1 2;3", 3) == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="every number must be finite"):
        parse_scores("1, nan, 2", 3)
    with pytest.raises(ValueError, match="2 entries for 3 keys"):
        temperature_explorer(scores=[1.0, 2.0], keys=["a", "b", "c"])


def test_sparsemax_reaches_one_hot_and_full_support_at_finite_temperatures():
    """What the chapter tells the reader to look for in the explorer."""
    ex = temperature_explorer()
    ex.controls["normalisation"].value = "sparsemax"
    ex.controls["temperature"].value = 0.5  # at most the gap between the two largest scores
    assert ex.state["nonzero"] == 1 and ex.state["entropy"] == 0.0
    ex.controls["temperature"].value = 10.0  # above sum(s_j - min s) = 7
    assert ex.state["nonzero"] == len(KEYS)
