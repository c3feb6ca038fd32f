"""Chapter 10's explorer (input and sharpness x variant) and its alternative text."""

import html
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.variants import DEFAULT_BUDGETS, lookup_sequence, random_sequence, run_variant
from attn_core.widgets.variants import (
    EXPLORER_VARIANTS,
    INPUTS,
    SHARPNESS,
    describe_variant,
    variant_explorer,
)


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("variants.variant_explorer")  # random input, scale 1, local


@pytest.fixture
def fresh(explorer):
    """The module's explorer, put back to its starting controls after the test."""
    yield explorer
    explorer.controls["input"].value = ("random", 1.0)
    explorer.controls["variant"].value = "local"


def alt_text(explorer):
    tag = explorer.displayed_picture().value
    return html.unescape(re.search(r'alt="([^"]*)"', tag).group(1))


def test_default_state_is_local_on_random_input(explorer):
    assert explorer.frame_count() == len(INPUTS) * len(SHARPNESS) * len(EXPLORER_VARIANTS) == 40
    state = explorer.state
    assert (state["input"], state["sharpness"], state["variant"]) == ("random", 1.0, "local")
    data = random_sequence(128, seed=2)
    run = run_variant("local", data["q"], data["k"], data["v"], budget=DEFAULT_BUDGETS["local"])
    assert state["weight_error"] == run.weight_error and state["error"] == run.error
    assert_allclose(state["weights"], run.weights)
    # on random queries and keys a window of 4 keeps little of the weight: the low-rank family wins
    assert state["weight_error"] > 0.8
    assert state["best"] in ("low-rank", "linear", "random features")


def test_lookup_input_scaled_is_the_lookup_sequence_scaled(fresh):
    fresh.controls["input"].value = ("lookup", 0.5)
    data = lookup_sequence(seed=1)
    q, k, v = 0.5 * data["q"], 0.5 * data["k"], data["v"]
    for name in EXPLORER_VARIANTS:
        run = run_variant(name, q, k, v, budget=DEFAULT_BUDGETS[name])
        assert fresh.state["weight_errors"][name] == run.weight_error, name
    assert fresh.state["best"] == min(fresh.state["weight_errors"], key=fresh.state["weight_errors"].get)


def test_the_winning_family_flips_between_inputs(fresh):
    fresh.controls["input"].value = ("lookup", 1.0)
    local_wins = fresh.state["weight_errors"]
    fresh.controls["input"].value = ("random", 0.25)
    flat = fresh.state["weight_errors"]
    assert local_wins["local"] < local_wins["low-rank"] and flat["local"] > flat["low-rank"]


def test_controls_change_state_and_picture(fresh):
    before = fresh.displayed_png()
    fresh.controls["variant"].value = "low-rank"
    assert fresh.state["parameter"] == "rank 32" and fresh.displayed_png() != before
    before = fresh.displayed_png()
    fresh.controls["input"].value = ("lookup", 2.0)
    assert fresh.state["input"] == "lookup" and fresh.displayed_png() != before


def test_alt_text_gives_the_numbers(fresh):
    fresh.controls["variant"].value = "random features"
    state, text = fresh.state, alt_text(fresh)
    assert f"random features attention (n_f = 256), error on the weights {state['weight_error']:.2f}" in text
    assert f"The smallest is {state['best']}'s." in text
    assert text == describe_variant(state)


@pytest.mark.parametrize("kwargs, message", [
    (dict(input="diffuse"), "input must be one of"),
    (dict(sharpness=3.0), "sharpness must be one of"),
    (dict(variant="hard"), "variant must be one of"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        variant_explorer(**kwargs)


# ------------------------------------------------------------------ decay_explorer
from attn_core.experiments.variants import memory_recall
from attn_core.widgets.variants import (
    DECAYS, RECALL_TRIALS, RECALL_WIDTH, REWRITES, STORED_PAIRS, decay_explorer, describe_decay, reach)


@pytest.fixture(scope="module")
def decay_view(shared_explorer):
    return shared_explorer("variants.decay_explorer")  # decay 0.9, 128 pairs


@pytest.fixture
def fresh_decay(decay_view):
    yield decay_view
    decay_view.controls["decay"].value = 0.9
    decay_view.controls["stored"].value = (128, 0.0)


def test_reach_by_hand():
    assert reach(np.array([1.0, 0.9, 0.6, 0.4, 0.7])) == 3  # the 4th newest falls below one half
    assert reach(np.array([0.4, 1.0])) == 0
    assert reach(np.array([0.5, 0.5])) == 2  # at the level counts
    assert reach(np.array([0.9, 0.6]), level=0.7) == 1


def test_decay_explorer_default_state_is_memory_recall(decay_view):
    assert decay_view.frame_count() == len(DECAYS) * len(STORED_PAIRS) * len(REWRITES) == 12
    state = decay_view.state
    assert (state["decay"], state["n_pairs"], state["rewrites"], state["window"]) == (0.9, 128, 0.0, 8)
    assert RECALL_TRIALS == 64  # the chapter's recall table draws the same 64 sequences
    direct = memory_recall("decayed", 128, RECALL_WIDTH, decay=0.9, n_trials=64, seed=0)
    assert_allclose(state["by_age"]["decayed"], direct.accuracy_by_age)
    assert state["accuracy"]["decayed"] == direct.accuracy
    assert state["half_life"] == pytest.approx(np.log(2) / -np.log(0.9))  # 6.58 writes
    assert state["chance"] == 1 / 8


def test_window_reaches_its_eight_pairs_and_full_softmax_every_pair(decay_view):
    state = decay_view.state
    assert state["reach"]["softmax window"] == 8  # 8 pairs of 16 + 16 numbers = one 16 x 16 state
    assert state["reach"]["softmax"] == 128
    assert (state["by_age"]["softmax window"][:8] == 1.0).all()


def test_decay_one_is_linear_attention_and_decay_trades_old_pairs_for_new(fresh_decay):
    fresh_decay.controls["stored"].value = (128, 0.0)
    fresh_decay.controls["decay"].value = 1.0
    at_one = fresh_decay.state
    assert_allclose(at_one["by_age"]["decayed"], at_one["by_age"]["linear"])
    assert at_one["half_life"] == float("inf")
    fresh_decay.controls["decay"].value = 0.9
    decayed = fresh_decay.state["by_age"]["decayed"]
    assert decayed[:4].mean() > at_one["by_age"]["linear"][:4].mean() + 0.3  # recent pairs: much better
    assert decayed[64:].mean() < at_one["by_age"]["linear"][64:].mean()  # old pairs: worse


def test_rewrites_turn_the_verdict_decay_and_the_delta_rule_beat_linear_attention(fresh_decay):
    # every key written twice, the newest asked: linear attention adds the two tokens, the delta rule
    # replaces the first and a decay fades it; with each key written once, a decay below 1 only loses
    fresh_decay.controls["stored"].value = (32, 1.0)
    fresh_decay.controls["decay"].value = 0.95
    twice = fresh_decay.state
    assert twice["rewrites"] == 1.0 and twice["strength"] is not None
    assert twice["accuracy"]["decayed"] > twice["accuracy"]["linear"] + 0.1
    assert twice["accuracy"]["delta rule"] > twice["accuracy"]["linear"] + 0.1
    fresh_decay.controls["stored"].value = (32, 0.0)
    once = fresh_decay.state
    assert once["accuracy"]["decayed"] < once["accuracy"]["linear"]
    direct = memory_recall("delta rule", 32, RECALL_WIDTH, rewrites=1.0, n_trials=64, seed=0)
    assert twice["accuracy"]["delta rule"] == direct.accuracy


def test_describe_decay_names_the_numbers(decay_view):
    text = describe_decay(decay_view.state)
    assert "128 keys" in text and "decay 0.9" in text
    assert f"decayed {decay_view.state['accuracy']['decayed']:.2f}" in text


@pytest.mark.parametrize("kwargs, message", [
    ({"decay": 0.3}, "decay must be one of"),
    ({"decay": True}, "decay must be one of"),
    ({"n_pairs": 10}, "n_pairs must be one of"),
    ({"rewrites": 0.5}, "rewrites must be one of"),
    ({"seed": -1}, "seed"),
])
def test_decay_explorer_refuses_values_it_does_not_offer(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        decay_explorer(**kwargs)
