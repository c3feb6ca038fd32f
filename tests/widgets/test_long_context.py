"""Chapter 14's explorers: RoPE rescaled at a growing scale; how far back a stack of sliding-window layers reaches."""

import itertools

import numpy as np
import pytest

from attn_core.experiments.long_context import reachable_positions
from attn_core.widgets.long_context import (
    LAYER_OPTIONS,
    REACH_POSITIONS,
    REACH_WINDOW,
    RESCALING_SCALES,
    reach_explorer,
    rescaling_explorer,
)


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("long_context.reach_explorer")


def test_default_state_counted_by_hand(explorer):
    state = explorer.state
    assert (state["layers"], state["windows"]) == (4, [REACH_WINDOW] * 4)
    assert state["reach"] == 4 * REACH_WINDOW and state["cached"] == 4 * (REACH_WINDOW + 1)
    assert state["beyond_two_windows"] > 0 and explorer.frame_count() == 3 * len(LAYER_OPTIONS)


def test_a_global_layer_reaches_everything_and_caches_the_context(explorer, restore):
    ex = restore(explorer)
    png = ex.displayed_png()
    ex.controls["pattern"].value, ex.controls["layers"].value = 2, 2
    assert ex.state["windows"] == [REACH_WINDOW, None] and ex.state["reach"] == float("inf")
    assert ex.state["cached"] == REACH_WINDOW + 1 + REACH_POSITIONS
    assert ex.displayed_png() != png and "receptive field everything" in ex.displayed_picture().value


def test_the_share_is_zero_exactly_beyond_the_reach(explorer, restore):
    ex = restore(explorer)
    for layers in (1, 6):
        ex.controls["pattern"].value, ex.controls["layers"].value = 0, layers
        reach = reachable_positions(ex.state["windows"], REACH_POSITIONS)[-1]
        np.testing.assert_array_equal(ex.state["share"] > 0, reach)


def test_five_local_layers_come_before_gemma_3s_first_global_one(explorer, restore):
    ex = restore(explorer)
    ex.controls["pattern"].value, ex.controls["layers"].value = 6, 4
    local = ex.state["share"].copy()
    ex.controls["pattern"].value = 0
    np.testing.assert_array_equal(ex.state["share"], local)  # no global layer yet: the same sources
    ex.controls["pattern"].value, ex.controls["layers"].value = 6, 6
    assert ex.state["reach"] == float("inf")


def test_refuses_starting_values_not_on_its_sliders():
    with pytest.raises(ValueError, match="layers"):
        reach_explorer(layers=5)
    with pytest.raises(ValueError, match="pattern"):
        reach_explorer(pattern=3)


@pytest.fixture(scope="module")
def rescaling(shared_explorer):
    return shared_explorer("long_context.rescaling_explorer")


def test_rescaling_angle_ratios_by_hand(rescaling, restore):
    ex = restore(rescaling)
    assert ex.frame_count() == 4 * len(RESCALING_SCALES)
    for scale in (2, 32):
        ex.controls["scale"].value = scale
        ex.controls["method"].value = "none"  # every angle s times the trained one
        np.testing.assert_allclose(ex.state["angle_ratio"], scale)
        ex.controls["method"].value = "interpolation"  # s positions, each divided by s
        np.testing.assert_allclose(ex.state["angle_ratio"], 1.0)
        assert ex.state["unseen_pairs"] == 0
        ex.controls["method"].value = "ntk"  # the fastest pair as trained, the slowest slowed by exactly s
        assert ex.state["angle_ratio"][0] == pytest.approx(scale) and ex.state["angle_ratio"][-1] == pytest.approx(1.0)
    # width 16, 32 training tokens: pairs 0 and 1 turn 32 / 2 pi and 32 / (2 pi sqrt 10) times, more than once
    np.testing.assert_array_equal(ex.state["completed_turn"], [True, True] + [False] * 6)


def test_interpolations_neighbour_gap_shrinks_about_as_one_over_s_squared(rescaling, restore):
    ex = restore(rescaling)
    ex.controls["method"].value = "interpolation"
    gaps = {}
    for scale in RESCALING_SCALES:
        ex.controls["scale"].value = scale
        gaps[scale] = ex.state["neighbour_gap"]
        assert ex.state["scores"].shape == (32 * scale,) and ex.state["scores"][0] == pytest.approx(1.0)
    for small, large in itertools.pairwise(RESCALING_SCALES):
        assert 0.8 * (large / small) ** 2 < gaps[small] / gaps[large] < 1.05 * (large / small) ** 2


def test_rescaling_moves_the_picture_and_refuses_values_not_on_its_sliders(rescaling, restore):
    ex = restore(rescaling)
    png = ex.displayed_png()
    ex.controls["method"].value = "yarn"
    assert ex.displayed_png() != png and "YaRN" in ex.displayed_picture().value
    with pytest.raises(ValueError, match="scale"):
        rescaling_explorer(scale=3)
    with pytest.raises(ValueError, match="method"):
        rescaling_explorer(method="linear")
