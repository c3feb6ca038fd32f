"""Chapter 10's explorer (variant x budget) and its figures."""

import html
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.variants import lookup_sequence, run_variant
from attn_core.widgets.variants import (
    BUDGET_LABELS,
    EXPLORER_BUDGETS,
    describe_variant,
    variant_explorer,
)


@pytest.fixture(scope="module")
def data():
    return lookup_sequence(seed=1)


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("variants.variant_explorer")  # its default data is lookup_sequence(seed=1)


@pytest.fixture
def fresh(explorer):
    """The module's explorer, put back to its starting controls after the test."""
    yield explorer
    explorer.controls["variant"].value = "local"
    explorer.controls["level"].value = 2


def alt_text(explorer):
    tag = explorer.displayed_picture().value
    return html.unescape(re.search(r'alt="([^"]*)"', tag).group(1))


def test_default_state_is_local_window_4(explorer, data):
    assert explorer.frame_count() == 9 * 5 == 45
    state = explorer.state
    assert (state["variant"], state["level"], state["budget"]) == ("local", 2, 4)
    run = run_variant("local", data["q"], data["k"], data["v"], budget=4)
    assert state["error"] == run.error and state["multiply_adds"] == run.multiply_adds == 36_224
    assert_allclose(state["weights"], run.weights)
    i, j = data["lookups"][0]
    assert (state["query"], state["key"]) == (i, j)
    assert_allclose(state["row"], run.weights[i])
    assert state["full_row"][j] > 0.9 and state["row"][j] == 0.0  # the window misses key j


def test_variant_slider_changes_state_and_picture(fresh, data):
    before = fresh.displayed_png()
    fresh.controls["variant"].value = "BigBird"
    assert fresh.state["variant"] == "BigBird" and fresh.state["budget"] == 4
    assert fresh.state["parameter"] == "window 4, 2 global, 2 random"
    run = run_variant("BigBird", data["q"], data["k"], data["v"], budget=4)
    assert fresh.state["error"] == run.error
    assert fresh.displayed_png() != before
    assert f"error against full attention {run.error:.2f}".lower() in alt_text(fresh).lower()


def test_budget_slider_changes_state_and_picture(fresh):
    fresh.controls["variant"].value = "low-rank"
    before_png, before_error = fresh.displayed_png(), fresh.state["error"]
    fresh.controls["level"].value = 4  # rank 128 = n: block means of one key, exact
    assert fresh.state["budget"] == 128 and fresh.state["error"] < 1e-12
    assert before_error > 0.1
    assert fresh.displayed_png() != before_png


def test_full_attention_has_no_error_at_any_budget(fresh):
    fresh.controls["variant"].value = "full"
    for level in range(5):
        fresh.controls["level"].value = level
        assert fresh.state["error"] == 0.0 and fresh.state["budget"] is None


def test_error_falls_with_the_budget_where_it_should(fresh):
    for variant in ("top-k", "local", "low-rank"):
        fresh.controls["variant"].value = variant
        errors = []
        for level in range(5):
            fresh.controls["level"].value = level
            errors.append(fresh.state["error"])
        assert errors[0] > errors[-1], variant


def test_alt_text_gives_the_numbers(fresh):
    fresh.controls["variant"].value = "random features"
    fresh.controls["level"].value = 0
    state, text = fresh.state, alt_text(fresh)
    assert "random features attention, m = 16" in text
    assert f"{state['multiply_adds']:,} multiply-adds" in text
    assert f"full attention puts {state['full_row'][state['key']]:.2f} on its distant key" in text
    assert text == describe_variant(state)


def test_defaults_and_budget_table():
    assert len(BUDGET_LABELS) == 5
    assert all(len(budgets) == 5 for budgets in EXPLORER_BUDGETS.values())
    ex = variant_explorer(variant="linear", level=0)
    assert ex.state["variant"] == "linear" and ex.state["parameter"] == "elu + 1, 16 features"


def test_bad_arguments_are_refused(data):
    with pytest.raises(ValueError, match="all of q, k, v and lookups, or none"):
        variant_explorer(data["q"], data["k"], data["v"])
    with pytest.raises(ValueError, match="unknown variant 'hard'"):
        variant_explorer(variant="hard")
    with pytest.raises(ValueError, match="level must be a whole number in 0..4"):
        variant_explorer(level=5)
    with pytest.raises(ValueError, match="at least one"):
        variant_explorer(data["q"], data["k"], data["v"], np.zeros((0, 2), dtype=int))


