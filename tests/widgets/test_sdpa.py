"""Chapter 5's explorer: the sentence's weight map for three ways of making queries and keys."""

import numpy as np
import pytest

import attn_core as ac
from attn_core.experiments.data import embed_tokens
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
    explorer.controls["query"].value = 1
    explorer.controls["projection"].value = "separate W_Q and W_K"
    assert explorer.view.selected_index == 0


def test_default_state_is_scaled_dot_product_attention(explorer):
    w_q, w_k = projections()
    x = embed_tokens(list(SENTENCE), D_MODEL)
    _, weights = ac.scaled_dot_product_attention(x @ w_q, x @ w_k, x)
    assert explorer.frame_count() == 3 * 8
    assert explorer.state["query"] == 1 and explorer.state["token"] == "cat"
    np.testing.assert_allclose(explorer.state["weights"], weights, atol=1e-12)
    assert not explorer.state["symmetric"]


def test_equal_words_get_equal_rows_and_columns(explorer):
    weights = explorer.state["weights"]
    np.testing.assert_array_equal(weights[0], weights[4])  # "the" twice: no positions
    np.testing.assert_array_equal(weights[:, 0], weights[:, 4])


def test_tokens_as_they_are_and_one_matrix_are_symmetric_and_self_matching(fresh):
    x = embed_tokens(list(SENTENCE), D_MODEL)
    w_q, w_k = projections()
    for name, q in [("tokens as they are", x), ("one matrix, W_Q = W_K", x @ w_k)]:
        fresh.controls["projection"].value = name
        expected = ac.softmax(q @ q.T / np.sqrt(q.shape[1]))
        np.testing.assert_allclose(fresh.state["weights"], expected, atol=1e-12)
        assert fresh.state["symmetric"]
        peaks = sum(int(np.argmax(row) == i) for i, row in enumerate(expected))  # a loop, by hand
        assert fresh.state["self_peaks"] == peaks
        assert f"{peaks} of 8 rows peak on their own token" in fresh.displayed_picture().value
    fresh.controls["projection"].value = "tokens as they are"
    assert fresh.state["self_peaks"] >= 7  # every row but a tie between the two "the"


def test_query_slider_moves_the_highlight(fresh):
    before_png = fresh.displayed_png()
    fresh.controls["query"].value = 7
    assert fresh.state["query"] == 7 and fresh.state["token"] == "slept"
    assert fresh.displayed_png() != before_png
    alt = fresh.displayed_picture().value
    row = fresh.state["weights"][7]
    assert "Highlighted row 8, &#x27;slept&#x27;" in alt
    assert f"sat {row[2]:.2f}" in alt and f"slept {row[7]:.2f}" in alt


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="2 to 12 tokens"):
        sentence_attention_explorer(["only"])
    with pytest.raises(ValueError, match="query must be"):
        sentence_attention_explorer(query=8)
    with pytest.raises(ValueError, match="w_q must have shape"):
        sentence_attention_explorer(SENTENCE, np.ones((5, 4)))
    with pytest.raises(ValueError, match="projection must be one of"):
        sentence_attention_explorer(projection="both")
    with pytest.raises(TypeError):
        sentence_attention_explorer("the cat sat")
