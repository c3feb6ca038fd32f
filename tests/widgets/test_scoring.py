"""The explorer of chapter 3 (scoring functions) and its arrow figure."""

import numpy as np
import pytest

import attn_core as ac
from attn_core.plot import new_figure
from attn_core.plot.scoring import key_colors, vector_arrows
from attn_core.scores import SCORE_FUNCTIONS, all_scores
from attn_core.widgets.scoring import (
    ANGLES,
    KEY_LENGTHS,
    LENGTHS,
    example_keys,
    example_parameters,
    query_direction_explorer,
    query_from_polar,
)


@pytest.fixture(scope="module")
def explorer():
    return query_direction_explorer()


def expected_weights(angle, length):
    q = query_from_polar(angle, length)[None, :]
    scores = all_scores(q, example_keys(), **example_parameters())
    return np.concatenate([ac.softmax(scores[name]) for name in SCORE_FUNCTIONS])


def test_one_picture_per_direction_and_length(explorer):
    assert explorer.frame_count() == len(ANGLES) * len(LENGTHS) <= 60
    assert explorer.controls["angle"].value == 60.0 and explorer.controls["length"].value == 1.0
    np.testing.assert_allclose(explorer.state["weights"], expected_weights(60.0, 1.0))
    np.testing.assert_allclose(explorer.state["weights"].sum(axis=1), 1.0)
    assert explorer.controls["angle"].description == "Query direction (degrees)"


def test_play_button_starts_where_the_direction_slider_starts(explorer):
    # on the static page the link copies the play button's value into the slider
    assert explorer.play.value == explorer.controls["angle"].index == ANGLES.index(60.0)
    assert any(link.source == (explorer.play, "value") for link in explorer.links)


def test_every_picture_is_different(explorer):
    pictures = {frame.value for row in explorer.frames for frame in row}
    assert len(pictures) == explorer.frame_count()


def test_direction_slider_changes_state_and_picture():
    ex = query_direction_explorer()
    before_png, before = ex.displayed_png(), ex.state["weights"].copy()
    ex.controls["angle"].value = 150.0
    np.testing.assert_allclose(ex.state["query"], [-np.sqrt(3) / 2, 0.5])
    np.testing.assert_allclose(ex.state["weights"], expected_weights(150.0, 1.0))
    assert not np.allclose(ex.state["weights"], before)
    assert ex.displayed_png() != before_png
    alt = ex.displayed_picture().value
    assert "length 1 at 150 degrees" in alt
    assert "cosine: k₁ " in alt and f"{ex.state['weights'][4, 2]:.2f}" in alt


def test_length_changes_dot_but_not_cosine():
    """What the chapter asks the reader to see."""
    ex = query_direction_explorer()
    short = ex.state["weights"].copy()
    before_png = ex.displayed_png()
    ex.controls["length"].value = 2.0
    long = ex.state["weights"]
    assert ex.displayed_png() != before_png
    dot, cosine = SCORE_FUNCTIONS.index("dot"), SCORE_FUNCTIONS.index("cosine")
    np.testing.assert_allclose(long[cosine], short[cosine])
    assert long[dot].max() > short[dot].max()  # a longer query sharpens the dot-product row
    # the location row does not depend on the keys: the same with the keys in another order
    order = [3, 2, 1, 0]
    moved = query_direction_explorer(keys=example_keys()[order])
    moved.controls["length"].value = 2.0
    loc = SCORE_FUNCTIONS.index("location")
    np.testing.assert_allclose(moved.state["weights"][loc], long[loc])
    np.testing.assert_allclose(moved.state["weights"][dot], long[dot][order])


def test_dot_prefers_the_long_key_cosine_the_aligned_one(explorer):
    assert explorer.state["favourite"]["dot"] == "k₁"  # the longest key, 60 degrees away
    assert explorer.state["favourite"]["cosine"] == "k₂"  # the key the query points at
    assert explorer.state["favourite"]["bilinear"] == "k₃"  # 90 degrees further on
    assert KEY_LENGTHS[0] == max(KEY_LENGTHS)


def test_title_and_arrows_follow_the_query():
    ex = query_direction_explorer()
    ex.controls["angle"].value = 270.0
    assert "length 1 at 270 degrees" in ex.displayed_picture().value
    fig = new_figure(6.4, 3.2)
    ex._draw(fig, ex.state)  # what the frame of this state was drawn with
    left = fig.axes[0]
    assert left.get_title() == "query: 270°, length 1"
    np.testing.assert_allclose(left._attn_arrows["arrows"][-1].xy, [0.0, -1.0], atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="2-D vectors"):
        query_direction_explorer(keys=np.ones((4, 3)))
    with pytest.raises(ValueError, match="angle must be one of"):
        query_direction_explorer(angle=45.0)


def test_vector_arrows_updates_in_place_and_checks_input():
    fig = new_figure()
    ax = fig.add_subplot()
    vector_arrows(ax, [[1.0, 0.0], [0.0, 2.0]], ["a", "b"], queries=[[1.0, 1.0]], limit=3.0)
    arrows = list(ax._attn_arrows["arrows"])
    vector_arrows(ax, [[1.0, 0.0], [0.0, 2.0]], ["a", "b"], queries=[[-1.0, 0.5]], limit=3.0, title="moved")
    assert ax._attn_arrows["arrows"] == arrows  # the same artists, moved
    assert arrows[-1].xy == (-1.0, 0.5)
    assert [t.get_text() for t in ax._attn_arrows["texts"]] == ["a", "b", "q1"]
    assert ax.get_title() == "moved" and ax.get_xlim() == (-3.0, 3.0)
    with pytest.raises(ValueError, match="2-D vectors"):
        vector_arrows(ax, [[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="labels"):
        vector_arrows(ax, [[1.0, 0.0]], ["a", "b"])
    assert len(key_colors(3)) == 3
