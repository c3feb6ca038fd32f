"""Chapter 7's mask editor, its helpers, and the mask figure."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.experiments.data import embed_tokens
from attn_core.experiments.masking import editor_masks
from attn_core.widgets import LIVE_ONLY_CLASS
from attn_core.widgets.masking import (
    EDITOR_TOKENS,
    mask_editor_explorer,
    parse_cells,
)

D_MODEL = 8


def dashed_marks(ax):
    """The dashed outlines that mask_heatmap draws round the marked cells."""
    return [p for p in ax.patches if p.get_linestyle() == "--" and p.get_visible()]

N = len(EDITOR_TOKENS)
REAL = np.array([t != "<pad>" for t in EDITOR_TOKENS])


def editor_scores(seed=0):
    rng = np.random.default_rng(seed)
    w_q = rng.standard_normal((D_MODEL, 4)) / np.sqrt(D_MODEL)
    w_k = rng.standard_normal((D_MODEL, 4)) / np.sqrt(D_MODEL)
    x = embed_tokens(list(EDITOR_TOKENS), D_MODEL)
    return ac.scaled_dot_product_scores(x @ w_q, x @ w_k)


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("masking.mask_editor_explorer")


@pytest.fixture
def fresh(explorer):
    """The module's explorer, put back to its starting controls after the test."""
    yield explorer
    explorer.controls["cells"].value = ""
    explorer.controls["mask"].value = "causal"
    explorer.controls["query"].value = 2
    explorer.message.value = ""
    assert explorer.view.selected_index == 0


def test_default_state_is_causal_attention(explorer):
    assert explorer.frame_count() == 6 * N <= 60
    state = explorer.state
    assert state["mask_name"] == "causal" and state["query"] == 2 and state["token"] == "sat"
    assert_array_equal(state["allowed"], ac.causal_mask(N))
    assert_allclose(state["weights"], ac.softmax(editor_scores(), mask=ac.causal_mask(N)))
    assert_allclose(state["unmasked"], ac.softmax(editor_scores()))
    assert state["cells"] == () and state["empty_rows"] == []


def test_every_mask_renormalises_the_unmasked_rows(fresh):
    scores = editor_scores()
    unmasked = ac.softmax(scores)
    for name, allowed in editor_masks(REAL).items():
        fresh.controls["mask"].value = name
        state = fresh.state
        assert_array_equal(state["allowed"], allowed)
        for i in range(N):  # a plain loop over the rows: equation (eq-masking-renormalise)
            share = sum(unmasked[i, j] for j in range(N) if allowed[i, j])
            expected = [unmasked[i, j] / share if allowed[i, j] else 0.0 for j in range(N)] \
                if share > 0 else [0.0] * N
            assert_allclose(state["weights"][i], expected, atol=1e-12)
            assert state["share"][i] == pytest.approx(share)


def test_mask_slider_changes_state_and_picture(fresh):
    before_png, before = fresh.displayed_png(), fresh.state["weights"].copy()
    fresh.controls["mask"].value = "none"
    assert not np.allclose(fresh.state["weights"], before)
    assert_allclose(fresh.state["weights"], ac.softmax(editor_scores()))
    assert fresh.displayed_png() != before_png
    alt = fresh.displayed_picture().value
    row = fresh.state["weights"][2]
    assert "mask &#x27;none&#x27;" in alt and f"sat {row[2]:.2f}" in alt
    assert "held 1.00 of the unmasked weight" in alt


def test_fully_masked_rows_get_zeros_and_say_so(fresh):
    fresh.controls["mask"].value = "padding + queries"
    fresh.controls["query"].value = 5
    state = fresh.state
    assert state["empty_rows"] == [4, 5]
    assert_array_equal(state["weights"][4:], 0.0)
    assert_allclose(state["weights"][:4].sum(axis=1), 1.0)
    assert "row 5 (&lt;pad&gt;): no key allowed, so every weight is 0" in fresh.displayed_picture().value
    assert "all zeros: 4, 5" in fresh.displayed_picture().value
    fresh.controls["mask"].value = "window & padding"
    assert fresh.state["empty_rows"] == [5]


def test_query_slider_moves_the_outline_not_the_weights(fresh):
    before_png, weights = fresh.displayed_png(), fresh.state["weights"].copy()
    fresh.controls["query"].value = 0
    assert fresh.state["token"] == "the"
    assert_array_equal(fresh.state["weights"], weights)
    assert fresh.displayed_png() != before_png
    share = fresh.state["share"][0]
    assert f"row 0 (the): the allowed keys held {share:.2f}" in fresh.displayed_picture().value
    assert fresh.state["weights"][0, 0] == 1.0


def test_typed_cells_toggle_and_redraw_live(fresh):
    assert LIVE_ONLY_CLASS in fresh.controls["cells"]._dom_classes
    png = fresh.displayed_png()
    fresh.controls["cells"].value = "2 3, 0 0"
    assert fresh.message.value == "" and fresh.view.selected_index == 1
    state = fresh.state
    assert state["cells"] == ((2, 3), (0, 0))
    expected = ac.causal_mask(N)
    expected[2, 3], expected[0, 0] = True, False
    assert_array_equal(state["allowed"], expected)
    assert state["weights"][2, 3] > 0 and state["empty_rows"] == [0]
    assert fresh.displayed_png() != png
    ax_mask = fresh._figure.axes[0]
    assert len(dashed_marks(ax_mask)) == 2 and "+ 2 toggled" in ax_mask.get_title()
    assert "Toggled cells (query key): 2 3, 0 0." in fresh.displayed_picture().value
    assert fresh._figure._suptitle.get_text().startswith("row 2 (sat): the allowed keys held")
    # the toggles apply to whichever mask the slider picks
    fresh.controls["mask"].value = "none"
    assert not fresh.state["allowed"][2, 3] and not fresh.state["allowed"][0, 0]
    assert fresh.state["allowed"].sum() == N * N - 2


def test_bad_cells_show_a_message_and_keep_the_picture(fresh):
    fresh.controls["cells"].value = "1 2"
    good, png = fresh.state["weights"].copy(), fresh.displayed_png()
    for text, message in [
        ("2", "'2' is not a cell"),
        ("1 2 3", "is not a cell: type a query and a key"),
        ("a 3", "'a' is not a whole number (the query"),
        ("2 x", "(the key of cell"),
        ("6 1", "query 6 is out of range: positions are numbered 0 to 5"),
        ("1 -1", "key -1 is out of range"),
        ("1.5 2", "is not a whole number"),
        ("2 3, 2 3", "cell 2 3 is listed twice"),
        ("2 3,, 1 1", "an empty cell between two commas"),
    ]:
        fresh.controls["cells"].value = text
        assert message in fresh.message.value, (text, fresh.message.value)
        assert "Traceback" not in fresh.message.value
        assert_array_equal(fresh.state["weights"], good)
        assert fresh.displayed_png() == png


def test_blank_cells_go_back_to_the_precomputed_frames(fresh):
    fresh.controls["cells"].value = "1 2"
    fresh.controls["cells"].value = "   "
    assert fresh.view.selected_index == 0 and fresh.message.value == ""
    assert fresh.state["cells"] == ()


def test_parse_cells_refuses_arguments_that_are_not_text_or_a_size():
    with pytest.raises(TypeError, match="text must be a str"):
        parse_cells(None, 3)
    with pytest.raises(TypeError, match="n must be a whole number"):
        parse_cells("0 1", 3.0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        parse_cells("0 1", 0)


def test_parse_cells():
    assert parse_cells("2 3, 4 1", 6) == ((2, 3), (4, 1))
    assert parse_cells("0 5;5 0", 6) == ((0, 5), (5, 0))
    assert parse_cells("", 6) == ()
    assert parse_cells("2 3,", 6) == ((2, 3),)  # a trailing comma is harmless
    with pytest.raises(ValueError, match="out of range: positions are numbered 0 to 2"):
        parse_cells("3 0", 3)


def test_explorer_arguments_are_checked():
    with pytest.raises(ValueError, match="2 to 10 tokens"):
        mask_editor_explorer(["only"])
    with pytest.raises(ValueError, match="mask must be one of"):
        mask_editor_explorer(mask="diagonal")
    with pytest.raises(ValueError, match="query must be a position"):
        mask_editor_explorer(query=6)
    with pytest.raises(ValueError, match="w_q must have shape"):
        mask_editor_explorer(EDITOR_TOKENS, np.ones((5, 4)))
    with pytest.raises(TypeError):
        mask_editor_explorer("the cat")


def test_explicit_projections_give_the_default_map():
    rng = np.random.default_rng(0)
    w_q = rng.standard_normal((D_MODEL, 4)) / np.sqrt(D_MODEL)
    w_k = rng.standard_normal((D_MODEL, 4)) / np.sqrt(D_MODEL)
    ex = mask_editor_explorer(EDITOR_TOKENS, w_q, w_k, mask="none", query=0)
    assert_allclose(ex.state["weights"], ac.softmax(editor_scores()), atol=1e-12)


