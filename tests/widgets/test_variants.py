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
