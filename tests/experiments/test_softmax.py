"""Chapter 4's masking recipes: what each gives, checked against float arithmetic done another way."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import attn_core as ac
from attn_core.experiments.softmax import (FORMATS, MASKING_RECIPES, describe_row, empty_row_outcomes,
                                           masked_by_recipe, round_to_bfloat16)

rows = arrays(np.float64, st.integers(2, 8), elements=st.floats(-20, 20))


@given(rows, st.data())
def test_a_row_with_an_allowed_key_agrees_with_the_masked_softmax_for_every_recipe(scores, data):
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores))))
    mask[data.draw(st.integers(0, len(scores) - 1))] = True
    expected = ac.softmax(scores, mask=mask)
    for recipe in MASKING_RECIPES:
        for fmt, tol in [("float16", 5e-3), ("bfloat16", 3e-2), ("float32", 1e-5), ("float64", 1e-12)]:
            got = masked_by_recipe(scores, mask, recipe, fmt)
            np.testing.assert_allclose(got, expected, atol=tol, err_msg=f"{recipe}, {fmt}")


@given(arrays(np.float64, st.integers(2, 8), elements=st.floats(-30, 30), unique=True))
def test_adding_minus_1e9_in_float32_erases_differences_below_half_the_spacing_64(scores):
    # float32 numbers near 1e9 are 64 apart, so s - 1e9 rounds to -1e9 whenever |s| < 32
    assert np.spacing(np.float32(1e9)) == 64
    nothing = np.zeros(len(scores), dtype=bool)
    np.testing.assert_allclose(masked_by_recipe(scores, nothing, "add -1e9", "float32"), 1 / len(scores))


@given(arrays(np.float64, st.integers(2, 8), elements=st.floats(-30, 30)))
def test_adding_minus_1e9_in_float64_gives_back_the_unmasked_weights(scores):
    nothing = np.zeros(len(scores), dtype=bool)
    e = np.exp(scores - scores.max())
    np.testing.assert_allclose(masked_by_recipe(scores, nothing, "add -1e9", "float64"), e / e.sum(), rtol=1e-6)


def test_minus_1e9_overflows_float16_to_minus_inf_and_brings_nan_back():
    with np.errstate(over="ignore"):
        assert np.isneginf(np.float16(-1e9))
    nothing = np.zeros(3, dtype=bool)
    for recipe in ("replace by -1e9", "add -1e9", "replace by -inf"):
        assert np.isnan(masked_by_recipe([1.0, 2.0, 3.0], nothing, recipe, "float16")).all()


def test_the_outcome_table_of_an_empty_row():
    table = empty_row_outcomes([0.3, -1.2, 2.0, 0.5])
    assert set(table) == set(MASKING_RECIPES) and all(set(row) == set(FORMATS) for row in table.values())
    assert all(v == "NaN" for v in table["replace by -inf"].values())
    assert table["replace by -1e9"] == {"float16": "NaN", "bfloat16": "uniform", "float32": "uniform",
                                        "float64": "uniform"}
    assert table["add -1e9"]["float64"] == "unmasked" and table["add -1e9"]["float32"] == "uniform"
    assert set(table["replace by the format's minimum"].values()) == {"uniform"}
    # no recipe gives the zeros that ac.softmax gives
    assert not any("zeros" in row.values() for row in table.values())


def test_bfloat16_rounding_keeps_8_significant_bits_and_ties_to_even():
    x = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-7, -2.5, 0.0], dtype=np.float32)
    np.testing.assert_array_equal(round_to_bfloat16(x), [1.0, 1 + 2**-6, 1 + 2**-7, -2.5, 0.0])
    assert np.isnan(round_to_bfloat16([np.nan])).all()


def test_describe_row_names_each_case():
    u = np.array([0.1, 0.2, 0.7])
    assert describe_row([np.nan] * 3, u) == "NaN"
    assert describe_row([0, 0, 0], u) == "zeros"
    assert describe_row([1 / 3] * 3, u) == "uniform"
    assert describe_row(u, u) == "unmasked"
    assert describe_row([0.7, 0.2, 0.1], u) == "other"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"recipe": "subtract"}, ValueError, "recipe must be one of"),
    ({"dtype": "float8"}, ValueError, "dtype must be one of"),
    ({"mask": [1, 0, 1]}, TypeError, "mask must be boolean"),
    ({"scores": None}, TypeError, "scores must be an array"),
])
def test_bad_input_is_refused_by_name(kwargs, error, message):
    args = {"scores": [1.0, 2.0, 3.0], "mask": [True, False, True], "recipe": "add -1e9", "dtype": "float32"}
    with pytest.raises(error, match=message):
        masked_by_recipe(**(args | kwargs))


# ---------------------------------------------------- one row at a temperature (the chapter's explorer)
from attn_core.experiments.softmax import normalised_weights  # noqa: E402


def test_normalised_weights_by_hand():
    state = normalised_weights([1.5, 1.0, 0.5, -1.0], 2.0, "sparsemax")
    # s / 2 = [0.75, 0.5, 0.25, -0.5]: support {0, 1, 2}, tau = (1.5 - 1) / 3 = 1/6
    expected = np.array([7, 4, 1, 0]) / 12
    np.testing.assert_allclose(state["weights"], expected)
    assert state["nonzero"] == 3
    h = -sum(p * np.log(p) for p in expected[:3])  # a plain loop over the non-zero weights
    assert state["entropy"] == pytest.approx(h)
    assert state["effective_keys"] == pytest.approx(np.exp(h))
    with pytest.raises(ValueError, match="normalisation must be one of"):
        normalised_weights([1.0, 2.0], 1.0, "argmax")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"scores": None}, TypeError, "scores"),
    ({"scores": "1 2"}, TypeError, "scores"),
    ({"scores": [True, False]}, TypeError, "scores has boolean dtype"),
    ({"scores": []}, ValueError, "scores must not be empty"),
    ({"scores": [[1.0, 2.0]]}, ValueError, "scores must have at most 1 dimensions"),
    ({"scores": [1.0, np.inf]}, ValueError, "scores contains inf"),
    ({"scores": [1.0, -np.inf]}, ValueError, "scores contains -inf"),
    ({"temperature": 0.0}, ValueError, "temperature must be a finite number > 0"),
    ({"temperature": "1"}, TypeError, "temperature"),
    ({"temperature": True}, TypeError, "temperature"),
    ({"normalisation": None}, ValueError, "normalisation must be one of"),
])
def test_normalised_weights_refuses_bad_input(kwargs, error, message):
    args = {"scores": [1.0, 2.0], "temperature": 1.0, "normalisation": "softmax"}
    with pytest.raises(error, match=message):
        normalised_weights(**(args | kwargs))


def test_normalised_weights_passes_nan_through_and_accepts_integers():
    assert np.isnan(normalised_weights([1.0, np.nan], 1.0, "softmax")["weights"]).all()
    state = normalised_weights([0, 0], 2, "softmax")  # integers promote to float
    np.testing.assert_allclose(state["weights"], [0.5, 0.5])
    assert state["temperature"] == 2.0


@pytest.mark.parametrize("call, message", [
    (lambda: describe_row([0.5, np.inf], [0.5, 0.5]), "weights contains inf"),
    (lambda: describe_row([0.5, 0.5], [-np.inf, 1.0]), "unmasked contains -inf"),
    (lambda: empty_row_outcomes([]), "scores must not be empty"),
    (lambda: empty_row_outcomes([1.0, np.inf]), "scores contains inf"),
    (lambda: masked_by_recipe([1.0, -np.inf], [True, True], "add -1e9", "float64"), "scores contains -inf"),
])
def test_infinities_are_refused_at_the_door(call, message):
    with pytest.raises(ValueError, match=message):
        call()
