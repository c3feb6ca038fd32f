"""softmax, naive_softmax, attention_entropy and sparsemax: hand-computed cases and properties."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
rows = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6), elements=finite)


def test_hand_computed_row():
    e = [math.exp(1), math.exp(2), math.exp(3)]
    assert_allclose(ac.softmax([1.0, 2.0, 3.0]), [v / sum(e) for v in e])


def test_axis_zero_normalises_columns():
    x = np.array([[0.0, 1.0], [0.0, 3.0]])
    w = ac.softmax(x, axis=0)
    assert_allclose(w[:, 0], [0.5, 0.5])
    assert_allclose(w[:, 1], [1 / (1 + math.exp(2)), math.exp(2) / (1 + math.exp(2))])


@given(rows)
def test_rows_sum_to_one(x):
    assert_allclose(ac.softmax(x).sum(-1), 1.0, rtol=1e-12)


@given(rows, finite)
def test_adding_a_constant_changes_nothing(x, c):
    assert_allclose(ac.softmax(x + c), ac.softmax(x), atol=1e-12)


@given(hnp.arrays(np.float64, st.integers(2, 8), elements=st.floats(-5, 5)))
def test_temperature_to_zero_approaches_one_hot(x):
    x = x + np.arange(x.size) * 1e-3  # break ties
    w = ac.softmax(x, temperature=1e-6)
    expected = np.zeros_like(x)
    expected[np.argmax(x)] = 1.0
    assert_allclose(w, expected, atol=1e-9)


def test_large_temperature_approaches_uniform():
    assert_allclose(ac.softmax([1.0, 5.0, -3.0], temperature=1e9), [1 / 3] * 3, atol=1e-8)


@pytest.mark.parametrize("big", [1e3, 1e100, 1e300, 1.7e308])
def test_no_overflow_for_huge_scores(big):
    w = ac.softmax([big, big / 2, -big])
    assert np.isfinite(w).all()
    assert_allclose(w, [1.0, 0.0, 0.0], atol=1e-200)


def test_equal_huge_scores_share_weight():
    assert_allclose(ac.softmax([1e300, 1e300, -1e300]), [0.5, 0.5, 0.0])


def test_naive_softmax_overflows_where_softmax_does_not():
    assert np.isnan(ac.naive_softmax([1000.0, 1001.0])).all()
    assert_allclose(ac.softmax([1000.0, 1001.0]), ac.naive_softmax([0.0, 1.0]))


def test_masked_entries_get_exactly_zero_and_the_rest_renormalise():
    w = ac.softmax([1.0, 2.0, 3.0, 4.0], mask=[True, False, True, False])
    assert w[1] == 0.0 and w[3] == 0.0
    assert_allclose(w[[0, 2]], ac.softmax([1.0, 3.0]))


@given(rows, st.data())
def test_masked_keys_get_exactly_zero(x, data):
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    w = ac.softmax(x, mask=mask)
    assert (w[~mask] == 0.0).all()
    sums = w.sum(-1)
    has_any = mask.any(-1)
    assert_allclose(sums[has_any], 1.0)
    assert_array_equal(sums[~has_any], 0.0)


def test_fully_masked_row_is_zero_not_nan():
    w = ac.softmax([[1.0, 2.0], [3.0, 4.0]], mask=[[False, False], [True, True]])
    assert_array_equal(w[0], [0.0, 0.0])
    assert not np.isnan(w).any()


def test_minus_infinity_scores_act_as_masked():
    assert_allclose(ac.softmax([0.0, -np.inf]), [1.0, 0.0])
    assert_array_equal(ac.softmax([-np.inf, -np.inf]), [0.0, 0.0])


def test_nan_in_the_data_comes_out_as_nan():
    w = ac.softmax([[1.0, np.nan], [1.0, 2.0]])
    assert np.isnan(w[0]).all()
    assert np.isfinite(w[1]).all()


def test_masked_nan_is_ignored():
    assert_allclose(ac.softmax([np.nan, 0.0], mask=[False, True]), [0.0, 1.0])


def test_dtypes():
    assert ac.softmax(np.array([1, 2, 3])).dtype == np.float64
    assert ac.softmax(np.array([1, 2], dtype=np.float32)).dtype == np.float32
    assert ac.softmax(np.array([1, 2], dtype=np.float32), temperature=0.5).dtype == np.float32
    masked = ac.softmax(np.array([1, 2], dtype=np.float32), mask=[True, False])
    assert masked.dtype == np.float32
    assert ac.softmax(np.array([1, -np.inf], dtype=np.float32)).dtype == np.float32


def test_float32_huge_scores_do_not_overflow():
    w = ac.softmax(np.array([1e38, 0.0], dtype=np.float32))
    assert_allclose(w, [1.0, 0.0])


def test_mask_broadcasts_over_rows():
    x = np.arange(6.0).reshape(2, 3)
    w = ac.softmax(x, mask=np.array([True, True, False]))
    assert (w[:, 2] == 0).all()


# --------------------------------------------------------------------------- entropy
def test_entropy_of_one_hot_and_uniform():
    assert ac.attention_entropy([0.0, 1.0, 0.0]) == 0.0
    assert_allclose(ac.attention_entropy(np.full((2, 5), 0.2)), [math.log(5)] * 2)


def test_entropy_hand_computed():
    assert_allclose(ac.attention_entropy([0.5, 0.25, 0.25]), -(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))


@given(hnp.arrays(np.float64, st.integers(1, 8), elements=finite), st.floats(0.05, 20))
def test_entropy_is_between_zero_and_log_n(x, t):
    h = ac.attention_entropy(ac.softmax(x, temperature=t))
    assert -1e-12 <= h <= math.log(x.size) + 1e-12


def test_entropy_grows_with_temperature():
    x = np.array([0.3, 2.0, -1.0, 0.8])
    hs = [ac.attention_entropy(ac.softmax(x, temperature=t)) for t in (0.1, 0.5, 1, 2, 10)]
    assert np.all(np.diff(hs) > 0)


# ------------------------------------------------------------------------- sparsemax
def sparsemax_by_sorting(z):
    """Martins & Astudillo (2016), Algorithm 1, written as a plain loop."""
    z_sorted = sorted(z, reverse=True)
    k_max, running = 0, 0.0
    for k, value in enumerate(z_sorted, start=1):
        running += value
        if 1 + k * value > running:
            k_max, total = k, running
    tau = (total - 1) / k_max
    return [max(v - tau, 0.0) for v in z]


def test_sparsemax_hand_computed():
    assert_allclose(ac.sparsemax([0.0, 1.0, 1.5]), [0.0, 0.25, 0.75])
    assert_allclose(ac.sparsemax([1.0, 1.0]), [0.5, 0.5])


@given(hnp.arrays(np.float64, st.integers(1, 8), elements=finite))
def test_sparsemax_matches_the_loop_and_sums_to_one(x):
    p = ac.sparsemax(x)
    assert_allclose(p, sparsemax_by_sorting(list(x)), atol=1e-9)
    assert_allclose(p.sum(), 1.0)
    assert (p >= 0).all()


@given(hnp.arrays(np.float64, st.integers(1, 8), elements=finite), finite)
def test_sparsemax_shift_invariant(x, c):
    assert_allclose(ac.sparsemax(x + c), ac.sparsemax(x), atol=1e-9)


def test_sparsemax_mask_and_axis():
    p = ac.sparsemax([[5.0, 1.0], [0.0, 0.5]], axis=0, mask=[[False, True], [True, True]])
    assert_allclose(p, [[0.0, 0.75], [1.0, 0.25]])
    assert_array_equal(ac.sparsemax([1.0, 2.0], mask=[False, False]), [0.0, 0.0])


# ------------------------------------------------------------------- NaN in, NaN out; inf refused
def test_plus_inf_scores_are_refused_naming_the_index():
    with pytest.raises(ValueError, match=r"x contains inf at index \(1,\)"):
        ac.softmax([0.0, np.inf])
    with pytest.raises(ValueError, match=r"x contains inf at index \(0, 1\)"):
        ac.sparsemax([[0.0, np.inf]])
    with pytest.raises(ValueError, match=r"x contains inf"):
        ac.naive_softmax([np.inf])


def test_scores_that_overflow_inside_share_the_weight_of_the_largest():
    """Finite data whose scores overflow in a matmul reach the kernel as +inf: the limit of large scores."""
    from attn_core.softmax import _softmax

    assert_allclose(_softmax(np.array([np.inf, 1.0, np.inf]), -1, 1.0, None), [0.5, 0.0, 0.5])


def test_entropy_of_nan_is_nan_not_zero():
    """Before: a NaN weight counted as 0 ln 0 = 0, a finite entropy from broken weights."""
    h = ac.attention_entropy([[0.5, np.nan], [0.5, 0.5]])
    assert np.isnan(h[0])
    assert math.isclose(h[1], math.log(2))
    with pytest.raises(ValueError, match=r"weights contains inf"):
        ac.attention_entropy([np.inf, 0.0])


def test_sparsemax_nan_row_is_nan_and_minus_inf_is_masked():
    p = ac.sparsemax([[np.nan, 1.0], [-np.inf, 1.0]])
    assert np.isnan(p[0]).all()
    assert_array_equal(p[1], [0.0, 1.0])


def test_softmax_backward_by_finite_differences():
    x = np.array([0.3, -1.2, 2.0, 0.5])
    g = np.array([1.0, -2.0, 0.5, 3.0])
    grad = ac.softmax_backward(ac.softmax(x), g)
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6
        numeric = (g @ ac.softmax(x + step) - g @ ac.softmax(x - step)) / 2e-6
        assert math.isclose(grad[j], numeric, abs_tol=1e-8)


@pytest.mark.parametrize("call, error, message", [
    (lambda: ac.softmax([]), ValueError, r"x must not be empty; got shape \(0,\)"),
    (lambda: ac.sparsemax([]), ValueError, r"x must not be empty"),
    (lambda: ac.sparsemax(np.ones((2, 0))), ValueError, r"x must not be empty"),
    (lambda: ac.naive_softmax([]), ValueError, r"x must not be empty"),
    (lambda: ac.attention_entropy([]), ValueError, r"weights must not be empty"),
    (lambda: ac.softmax([1.0 + 1j]), TypeError, r"x must hold real numbers"),
    (lambda: ac.softmax(np.array([1.0], dtype=object)), TypeError, r"x must be an array of numbers, got dtype object"),
    (lambda: ac.softmax("12"), TypeError, r"x must be an array of numbers, got the string"),
    (lambda: ac.softmax([1.0, 2.0], axis=True), TypeError, r"axis must be an integer"),
    (lambda: ac.softmax([1.0, 2.0], mask=[True, None]), TypeError, r"mask must be boolean"),
    (lambda: ac.softmax([1.0, 2.0], mask="all"), TypeError, r"mask must be a boolean array"),
    (lambda: ac.softmax([1.0, 2.0], temperature="hot"), TypeError, r"temperature must be a positive real number"),
    (lambda: ac.sparsemax([1.0, 2.0], mask=[1, 0]), TypeError, r"mask must be boolean"),
    (lambda: ac.sparsemax([1.0, 2.0], axis=2), ValueError, r"axis=2 is out of range"),
    (lambda: ac.softmax_backward([0.5, 0.5], [1.0]), ValueError, r"weights \(2,\) and grad_weights \(1,\) must have the same shape"),
    (lambda: ac.softmax_backward(None, [1.0]), TypeError, r"weights must be an array of numbers, got None"),
    (lambda: ac.softmax_backward([0.5, 0.5], [np.inf, 1.0]), ValueError, r"grad_weights contains inf at index \(0,\)"),
    (lambda: ac.attention_entropy([[0.5, 0.5]], axis=-3), ValueError, r"axis=-3 is out of range"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
