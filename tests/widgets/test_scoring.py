"""The explorer of chapter 3 (scoring functions) and its arrow figure."""

import math

import numpy as np
import pytest

from attn_core.experiments.scoring import KEY_ANGLES, KEY_LENGTHS, example_keys
from attn_core.plot import new_figure
from attn_core.scores import SCORE_FUNCTIONS
from attn_core.widgets.scoring import ANGLES, LENGTHS, query_direction_explorer


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("scoring.query_direction_explorer")


def arrows(ax):
    """The arrows of vector_arrows: annotations with an arrow, keys first, then queries."""
    return [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]


def check_weights(state):
    """Each row is a softmax of the state's own scores, and the dot row is q . k_j, by hand."""
    for row, name in zip(state["weights"], SCORE_FUNCTIONS):
        e = [math.exp(s - max(state["scores"][name])) for s in state["scores"][name]]
        np.testing.assert_allclose(row, [x / sum(e) for x in e], atol=1e-12, err_msg=name)
    angle, length = math.radians(state["angle"]), state["length"]
    dots = [length * r * math.cos(angle - math.radians(a)) for a, r in zip(KEY_ANGLES, KEY_LENGTHS)]
    np.testing.assert_allclose(state["scores"]["dot"], dots, atol=1e-12)


def test_one_picture_per_direction_and_length(explorer):
    assert explorer.frame_count() == len(ANGLES) * len(LENGTHS) <= 60
    assert explorer.controls["angle"].value == 60.0 and explorer.controls["length"].value == 1.0
    check_weights(explorer.state)
    np.testing.assert_allclose(explorer.state["weights"].sum(axis=1), 1.0)
    assert explorer.controls["angle"].description == "Query direction (degrees)"


def test_play_button_starts_where_the_direction_slider_starts(explorer):
    # on the static page the link copies the play button's value into the slider
    assert explorer.play.value == explorer.controls["angle"].index == ANGLES.index(60.0)
    assert any(link.source == (explorer.play, "value") for link in explorer.links)


def test_direction_slider_changes_state_and_picture():
    ex = query_direction_explorer()
    before_png, before = ex.displayed_png(), ex.state["weights"].copy()
    ex.controls["angle"].value = 150.0
    np.testing.assert_allclose(ex.state["query"], [-np.sqrt(3) / 2, 0.5])
    check_weights(ex.state)
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
    np.testing.assert_allclose(arrows(left)[-1].xy, [0.0, -1.0], atol=1e-12)  # the query, last


def test_bad_arguments():
    with pytest.raises(ValueError, match="2-D vectors"):
        query_direction_explorer(keys=np.ones((4, 3)))
    with pytest.raises(ValueError, match="angle must be one of"):
        query_direction_explorer(angle=45.0)


