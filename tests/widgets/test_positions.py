"""Chapter 9's explorer (shift every position by an offset) and its figures."""

import numpy as np
import pytest

from attn_core.experiments.positions import encoded_weights
from attn_core.widgets.positions import (
    ENCODINGS,
    OFFSETS,
    SENTENCE,
    position_offset_explorer,
)

from ..experiments.test_positions import (  # the explorer's default inputs
    SEED,
    setup,
)


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("positions.position_offset_explorer")


@pytest.fixture
def fresh(explorer):
    """The module's explorer, put back to its starting controls after the test."""
    yield explorer
    explorer.controls["offset"].value = 0
    explorer.controls["encoding"].value = "sinusoidal"


def weights(encoding, offset, seed=SEED):
    x, w_q, w_k, rel_keys, table = setup(seed)
    return encoded_weights(x, w_q, w_k, encoding, offset + np.arange(len(SENTENCE)),
                           learned_table=table, rel_keys=rel_keys)


# ------------------------------------------------------------------------ the explorer
def test_default_state(explorer):
    assert explorer.frame_count() == len(OFFSETS) * len(ENCODINGS) <= 60
    state = explorer.state
    assert state["encoding"] == "sinusoidal" and state["offset"] == 0 and state["max_change"] == 0.0
    np.testing.assert_array_equal(state["positions"], np.arange(8))
    np.testing.assert_allclose(state["weights"], weights("sinusoidal", 0), atol=1e-12)
    assert explorer.controls["offset"].description == "Offset added to every position"
    assert explorer.controls["encoding"].description == "Encoding"


def test_explicit_projections_and_tables_give_the_same_maps():
    x, w_q, w_k, rel_keys, table = setup()
    ex = position_offset_explorer(SENTENCE, w_q, w_k, rel_keys=rel_keys, learned_table=table)
    ex.controls["encoding"].value = "relative"
    np.testing.assert_allclose(ex.state["weights"], weights("relative", 0), atol=1e-12)


def test_offset_slider_changes_the_sinusoidal_map(fresh):
    png = fresh.displayed_png()
    fresh.controls["offset"].value = 8
    assert fresh.state["offset"] == 8
    np.testing.assert_array_equal(fresh.state["positions"], 8 + np.arange(8))
    np.testing.assert_allclose(fresh.state["weights"], weights("sinusoidal", 8), atol=1e-12)
    expected_change = np.abs(weights("sinusoidal", 8) - weights("sinusoidal", 0)).max()
    assert fresh.state["max_change"] == pytest.approx(expected_change) and expected_change > 0.01
    assert fresh.displayed_png() != png
    alt = fresh.displayed_picture().value
    assert "positions 8 to 15 (offset 8)" in alt and f"largest {expected_change:.2g}" in alt


def test_encoding_slider_shows_no_change_for_rope(fresh):
    fresh.controls["offset"].value = 16
    png = fresh.displayed_png()
    fresh.controls["encoding"].value = "rope"
    assert fresh.state["encoding"] == "rope"
    assert fresh.state["max_change"] < 1e-12
    assert fresh.displayed_png() != png
    alt = fresh.displayed_picture().value
    assert "rotary (RoPE)" in alt and "nothing moved" in alt
    row = fresh.state["weights"][4]
    assert f"the {row[0]:.2f}, cat {row[1]:.2f}" in alt


def test_learned_table_past_its_end_says_so(fresh):
    fresh.controls["encoding"].value = "learned"
    fresh.controls["offset"].value = 8
    assert fresh.state["weights"] is not None
    png = fresh.displayed_png()
    fresh.controls["offset"].value = 16
    assert fresh.state["weights"] is None and fresh.state["max_change"] is None
    assert fresh.displayed_png() != png
    assert "has only 16 rows" in fresh.displayed_picture().value


def test_play_button_steps_through_the_offsets(explorer):
    assert explorer.play.max == len(OFFSETS) - 1 and explorer.play.value == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="2 to 12 tokens"):
        position_offset_explorer(["only"])
    with pytest.raises(ValueError, match="query must be a token index"):
        position_offset_explorer(query=8)
    with pytest.raises(ValueError, match=r"w_q must have shape \(d_model=8, d_k\), got \(5, 4\)"):
        position_offset_explorer(SENTENCE, np.ones((5, 4)), np.ones((5, 4)))
    with pytest.raises(ValueError, match="learned_table must have shape"):
        position_offset_explorer(learned_table=np.ones((16, 3)))
    with pytest.raises(ValueError, match="fewer than the 8 tokens"):
        position_offset_explorer(learned_table=np.ones((4, 8)))
    with pytest.raises(TypeError):
        position_offset_explorer("the cat sat")


