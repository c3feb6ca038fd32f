"""Chapter 8's explorer: four planted heads, with 4, 2 or 1 key/value heads shared among them."""

import numpy as np
import pytest

from attn_core.experiments.multihead import (
    mean_pool_kv_heads,
    planted_heads,
    word_position_codes,
)
from attn_core.widgets import LIVE_ONLY_CLASS
from attn_core.widgets.multihead import SENTENCE, head_sharing_explorer


def expected_weights(kv_heads, tokens=SENTENCE):
    layer = mean_pool_kv_heads(planted_heads(), kv_heads)
    return layer(word_position_codes(tokens))[1]


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("multihead.head_sharing_explorer")


@pytest.fixture
def fresh(explorer):
    """The module's explorer, put back to its starting controls after the test."""
    yield explorer
    explorer.controls["sentence"].value = " ".join(SENTENCE)
    explorer.controls["kv_heads"].value = 4
    explorer.controls["head"].value = -1
    explorer.message.value = ""
    assert explorer.view.selected_index == 0


def test_default_state_is_the_planted_layer(explorer):
    assert explorer.frame_count() == 15
    assert explorer.state["kv_heads"] == 4 and explorer.state["head"] == -1
    np.testing.assert_allclose(explorer.state["weights"], expected_weights(4))
    assert explorer.state["kv_of_head"] == [0, 1, 2, 3]


def test_kv_heads_slider_changes_state_and_picture(fresh):
    before = fresh.displayed_png()
    fresh.controls["kv_heads"].value = 2
    assert fresh.state["kv_of_head"] == [0, 0, 1, 1]
    np.testing.assert_allclose(fresh.state["weights"], expected_weights(2))
    assert fresh.displayed_png() != before
    alt = fresh.displayed_picture().value
    assert "query heads 1 and 2 share key/value head 1" in alt
    fresh.controls["kv_heads"].value = 1
    assert fresh.state["kv_of_head"] == [0, 0, 0, 0]
    assert "1 key/value head (" in fresh.displayed_picture().value


def test_head_slider_shows_one_map_with_its_numbers(fresh):
    before = fresh.displayed_png()
    fresh.controls["head"].value = 2
    assert fresh.state["head"] == 2
    assert fresh.displayed_png() != before
    alt = fresh.displayed_picture().value
    w = fresh.state["weights"][2]
    assert "Head 3 (same word)" in alt and "Head 1" not in alt
    assert f"saw→saw {w[2].max():.2f}" in alt


def test_typed_sentence_redraws_live_with_its_words(fresh):
    fresh.controls["head"].value = 0
    fresh.controls["sentence"].value = "a dog saw a cat"
    assert fresh.view.selected_index == 1 and fresh.message.value == ""
    np.testing.assert_allclose(fresh.state["weights"], expected_weights(4, "a dog saw a cat".split()))
    ax = [a for a in fresh._figure.axes if a.get_visible() and a.images][0]
    assert [t.get_text() for t in ax.get_xticklabels()] == "a dog saw a cat".split()
    png = fresh.displayed_png()
    fresh.controls["sentence"].value = "a cat saw a dog"  # same length, new words: new labels
    assert [t.get_text() for t in ax.get_xticklabels()] == "a cat saw a dog".split()
    assert fresh.displayed_png() != png


@pytest.mark.parametrize("text, message", [
    ("cat", "type 2 to 8 words separated by spaces, got 1"),
    ("one two three four five six seven eight nine", "got 9"),
    ("   ", "got 0"),
])
def test_bad_sentence_shows_a_message(fresh, text, message):
    good, png = fresh.state["weights"].copy(), fresh.displayed_png()
    fresh.controls["sentence"].value = text
    assert message in fresh.message.value and "Traceback" not in fresh.message.value
    np.testing.assert_array_equal(fresh.state["weights"], good)
    assert fresh.displayed_png() == png


def test_sentence_box_is_live_only(explorer):
    assert LIVE_ONLY_CLASS in explorer.controls["sentence"]._dom_classes


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="2 to 8 tokens"):
        head_sharing_explorer(list("abcdefghi"))
    with pytest.raises(ValueError, match="kv_heads must be 4, 2 or 1"):
        head_sharing_explorer(kv_heads=3)
    with pytest.raises(ValueError, match="head must be -1"):
        head_sharing_explorer(head=4)
    with pytest.raises(TypeError):
        head_sharing_explorer("the cat")


