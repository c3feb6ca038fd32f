"""Chapter 5's explorer: the sentence's weight map, a highlighted query row, a score scale."""

import numpy as np
import pytest

import attn_core as ac
from attn_core.experiments.data import embed_tokens
from attn_core.widgets import LIVE_ONLY_CLASS
from attn_core.widgets.sdpa import SENTENCE, sentence_attention_explorer

D_MODEL, D_K = 8, 4


def projections(seed=0):
    rng = np.random.default_rng(seed)
    w_q = rng.standard_normal((D_MODEL, D_K)) / np.sqrt(D_MODEL)
    w_k = rng.standard_normal((D_MODEL, D_K)) / np.sqrt(D_MODEL)
    return w_q, w_k


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("sdpa.sentence_attention_explorer")


@pytest.fixture
def fresh(explorer):
    """The module's explorer, put back to its starting controls after the test."""
    yield explorer
    explorer.controls["query_vector"].value = ""
    explorer.controls["query"].value = 1
    explorer.controls["scale"].value = 1 / np.sqrt(D_K)
    explorer.message.value = ""
    assert explorer.view.selected_index == 0


def expected_weights(scale=1 / np.sqrt(D_K), query_row=None, query=None):
    w_q, w_k = projections()
    x = embed_tokens(list(SENTENCE), D_MODEL)
    q, k = x @ w_q, x @ w_k
    if query_row is not None:
        q[query] = query_row
    return ac.softmax(scale * (q @ k.T))


def test_default_state_is_scaled_dot_product_attention(explorer):
    w_q, w_k = projections()
    x = embed_tokens(list(SENTENCE), D_MODEL)
    _, weights = ac.scaled_dot_product_attention(x @ w_q, x @ w_k, x)
    assert explorer.frame_count() == 8 * 5
    assert explorer.state["query"] == 1 and explorer.state["token"] == "cat"
    np.testing.assert_allclose(explorer.state["weights"], weights, atol=1e-12)
    np.testing.assert_allclose(explorer.state["weights"].sum(axis=1), 1.0)


def test_explicit_projections_give_the_same_map():
    w_q, w_k = projections()
    a = sentence_attention_explorer(SENTENCE, w_q, w_k)
    np.testing.assert_allclose(a.state["weights"], expected_weights(), atol=1e-12)


def test_equal_words_get_equal_rows_and_columns(explorer):
    weights = explorer.state["weights"]
    np.testing.assert_array_equal(weights[0], weights[4])  # "the" twice: no positions
    np.testing.assert_array_equal(weights[:, 0], weights[:, 4])


def test_query_slider_moves_the_highlight(fresh):
    before_png = fresh.displayed_png()
    fresh.controls["query"].value = 7
    assert fresh.state["query"] == 7 and fresh.state["token"] == "slept"
    np.testing.assert_allclose(fresh.state["weights"], expected_weights(), atol=1e-12)  # same map
    assert fresh.displayed_png() != before_png
    alt = fresh.displayed_picture().value
    row = fresh.state["weights"][7]
    assert "Highlighted row 8, &#x27;slept&#x27;" in alt
    assert f"sat {row[2]:.2f}" in alt and f"slept {row[7]:.2f}" in alt


def test_score_scale_zero_is_uniform_and_large_scale_is_sharp(fresh):
    before_png = fresh.displayed_png()
    default_max = fresh.state["weights"].max(axis=1)
    fresh.controls["scale"].value = 0.0
    np.testing.assert_allclose(fresh.state["weights"], np.full((8, 8), 1 / 8))
    assert fresh.displayed_png() != before_png
    assert "0 (uniform) = 0" in fresh.displayed_picture().value
    fresh.controls["scale"].value = 4 / np.sqrt(D_K)
    np.testing.assert_allclose(fresh.state["weights"], expected_weights(4 / np.sqrt(D_K)), atol=1e-12)
    assert (fresh.state["weights"].max(axis=1) > default_max).all()


def test_typed_query_replaces_the_highlighted_row_only(fresh):
    fresh.controls["query_vector"].value = "1, -1, 0.5, 2"
    assert fresh.view.selected_index == 1 and fresh.message.value == ""
    assert fresh.state["typed"]
    expected = expected_weights(query_row=[1, -1, 0.5, 2], query=1)
    np.testing.assert_allclose(fresh.state["weights"], expected, atol=1e-12)
    np.testing.assert_allclose(np.delete(fresh.state["weights"], 1, axis=0),
                               np.delete(expected_weights(), 1, axis=0), atol=1e-12)
    assert "typed query" in fresh.displayed_picture().value
    # the live redraw updates the same heatmap artists in place
    image = fresh._figure.axes[0].images[0]
    png = fresh.displayed_png()
    fresh.controls["query_vector"].value = "0, 0, 0, 0"
    assert list(fresh._figure.axes[0].images) == [image]
    np.testing.assert_allclose(fresh.state["weights"][1], np.full(8, 1 / 8))
    assert fresh.displayed_png() != png


def test_bad_query_text_shows_a_message(fresh):
    fresh.controls["query_vector"].value = "1, -1, 0.5, 2"
    good, png = fresh.state["weights"].copy(), fresh.displayed_png()
    for text, message in [("1, 2", "Query vector: expected 4 numbers, got 2"),
                          ("1, two, 3, 4", "'two' is not a number"),
                          ("1, 2, 3, inf", "every number must be finite")]:
        fresh.controls["query_vector"].value = text
        assert message in fresh.message.value
        assert "Traceback" not in fresh.message.value
        np.testing.assert_array_equal(fresh.state["weights"], good)
        assert fresh.displayed_png() == png


def test_blank_query_text_goes_back_to_the_precomputed_frames(fresh):
    fresh.controls["query_vector"].value = "1, -1, 0.5, 2"
    fresh.controls["query_vector"].value = "  "
    assert fresh.view.selected_index == 0 and fresh.message.value == ""
    assert not fresh.state["typed"]
    np.testing.assert_allclose(fresh.state["weights"], expected_weights(), atol=1e-12)


def test_query_box_is_live_only_and_shows_the_own_query(fresh):
    box = fresh.controls["query_vector"]
    assert LIVE_ONLY_CLASS in box._dom_classes
    own = fresh.state["query_vector"]
    assert box.placeholder == "blank = own query: " + ", ".join(f"{v:.2f}" for v in own)
    fresh.controls["query"].value = 5
    assert box.placeholder.endswith(", ".join(f"{v:.2f}" for v in fresh.state["query_vector"]))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="2 to 12 tokens"):
        sentence_attention_explorer(["only"])
    with pytest.raises(ValueError, match="query must be a token index"):
        sentence_attention_explorer(query=8)
    with pytest.raises(ValueError, match="w_q must have shape"):
        sentence_attention_explorer(SENTENCE, np.ones((5, 4)))
    with pytest.raises(TypeError):
        sentence_attention_explorer("the cat sat")
