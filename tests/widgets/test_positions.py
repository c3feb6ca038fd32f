"""Chapter 9's explorer: the marked token moved past the training length, four encodings."""

import numpy as np
import pytest

from attn_core.experiments.positions import (
    EXTRAPOLATION_CONFIG,
    load_extrapolation,
    marked_recall,
    stored_recall_reader,
)
from attn_core.widgets.positions import DISTANCES, ENCODINGS, LENGTH, recall_distance_explorer


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("positions.recall_distance_explorer")


@pytest.fixture
def fresh(explorer):
    """The module's explorer, put back to its starting controls after the test."""
    yield explorer
    explorer.controls["distance"].value = 16
    explorer.controls["encoding"].value = "alibi"


def question_weights(encoding, distance, seed=3):
    """The question's weights by distance back, computed here from the stored reader."""
    data = marked_recall(1, LENGTH, distance=distance, seed=seed + distance)
    _, cache = stored_recall_reader(encoding).forward({"tokens": data["tokens"]})
    return cache["weights"][0, 0, ::-1], int(data["labels"][0])


def test_default_state_and_frames(explorer):
    assert explorer.frame_count() == len(DISTANCES) * len(ENCODINGS) <= 100
    assert "learned" not in ENCODINGS  # no rows at 512 positions: nothing to draw, no blank frames
    state = explorer.state
    assert state["encoding"] == "alibi" and state["distance"] == 16
    weights, label = question_weights("alibi", 16)
    np.testing.assert_allclose(state["weights"], weights, atol=1e-12)
    assert state["label"] == label and state["marked_weight"] == pytest.approx(weights[16])
    index = EXTRAPOLATION_CONFIG["distances"].index(16)
    by_seed = load_extrapolation()["accuracy_by_seed"]["alibi"]["512"][index]
    assert state["accuracy"] == by_seed[0]  # the pictured reader is the first seed's
    assert state["median_accuracy"] == pytest.approx(np.median(by_seed))
    assert explorer.controls["distance"].description == "Distance of the marked token"


def test_alibi_loses_the_far_marked_token_to_its_recency_window(fresh):
    png = fresh.displayed_png()
    fresh.controls["distance"].value = 256
    state = fresh.state
    assert state["marked_weight"] < 0.01 and state["weights"][:32].sum() > 0.99
    assert fresh.displayed_png() != png
    alt = fresh.displayed_picture().value
    assert "stands 256 places before the question" in alt and f"weight {state['marked_weight']:.2f} on it" in alt


def test_without_positions_the_marked_token_wins_at_every_distance(fresh):
    fresh.controls["encoding"].value = "none"
    for distance in (1, 128, 511):
        fresh.controls["distance"].value = distance
        assert fresh.state["marked_weight"] > 0.9 and fresh.state["predicted"] == fresh.state["label"]


def test_rope_spreads_weight_beyond_the_training_distances(fresh):
    """At distance 16 the marked token wins under both, but RoPE leaks weight to keys further back
    than any training distance (32 on), at rotation angles never seen; ALiBi's penalty silences them."""
    fresh.controls["distance"].value = 16
    far = {}
    for encoding in ("rope", "alibi"):
        fresh.controls["encoding"].value = encoding
        assert fresh.state["weights"].sum() == pytest.approx(1.0)
        far[encoding] = fresh.state["weights"][32:].sum()
    assert far["rope"] > 1e-4
    assert far["alibi"] < 1e-12


def test_a_gentler_alibi_slope_keeps_the_marked_token_further_back(fresh):
    """At distance 256 slope 1/4 has lost the marked token; slope 1/64's penalty, 4 there, has not."""
    fresh.controls["distance"].value = 256
    weight = {}
    for encoding in ("alibi", "alibi 1/64"):
        fresh.controls["encoding"].value = encoding
        weight[encoding] = fresh.state["marked_weight"]
    assert weight["alibi"] < 0.01 < 0.5 < weight["alibi 1/64"]
    assert "the median over 8 trained seeds" in fresh.displayed_picture().value


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"length must be one of the stored test lengths \[32, 128, 512\], got 64"):
        recall_distance_explorer(length=64)
    with pytest.raises(TypeError, match="seed must be a whole number"):
        recall_distance_explorer(seed=-1)
