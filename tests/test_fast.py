"""fast_scaled_dot_product_attention: the same maths as the reference, in fewer passes over memory."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core import fast


@st.composite
def attention_arguments(draw):
    """Shapes with batch dims that broadcast, masks, causal, float32/float64, small to huge scores."""
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    batch = draw(st.sampled_from([(), (2,), (2, 3)]))
    n_q, n_k, d_k, d_v = (draw(st.integers(1, 6)) for _ in range(4))
    magnitude = draw(st.sampled_from([0.1, 1.0, 10.0, 100.0]))  # 100: scores of thousands, far past exp's range
    elements = st.floats(-1, 1, width=32, allow_nan=False, allow_infinity=False)
    q = draw(hnp.arrays(dtype, batch + (n_q, d_k), elements=elements)) * dtype(magnitude)
    k = draw(hnp.arrays(dtype, (n_k, d_k), elements=elements)) * dtype(magnitude)
    v = draw(hnp.arrays(dtype, batch[1:] + (n_k, d_v), elements=elements))  # broadcast over the first batch dim
    mask = draw(st.none() | hnp.arrays(np.bool_, draw(st.sampled_from([(n_q, n_k), (1, n_k), (n_k,)]))))
    causal = draw(st.booleans())
    scale = draw(st.none() | st.floats(0.01, 10))
    return dtype, q, k, v, {"mask": mask, "causal": causal, "scale": scale}


@settings(max_examples=300, deadline=None)
@given(attention_arguments())
def test_fast_equals_the_reference(arguments):
    dtype, q, k, v, options = arguments
    out, w = ac.fast_scaled_dot_product_attention(q, k, v, **options)
    ref_out, ref_w = ac.scaled_dot_product_attention(q, k, v, **options)
    assert out.dtype == ref_out.dtype == dtype and w.dtype == ref_w.dtype == dtype
    assert out.shape == ref_out.shape and w.shape == ref_w.shape
    # equal to rounding: a score s carries an error of about eps * |s|, and exp turns it into a
    # relative error of the weights of that size, so the tolerance grows with the largest score
    scale = options["scale"] or 1 / math.sqrt(q.shape[-1])
    largest_score = float(np.abs(q.astype(np.float64) @ k.T.astype(np.float64)).max()) * scale
    tolerance = 64 * np.finfo(dtype).eps * max(1.0, largest_score)
    assert_allclose(w, ref_w, rtol=tolerance, atol=tolerance)
    assert_allclose(out, ref_out, rtol=tolerance, atol=tolerance)


def test_both_softmax_paths_are_taken_and_equal_the_loop():
    """Small scores skip the max shift (Cauchy-Schwarz proves it safe); large ones take it."""
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 2, 50, 16))
    assert fast._scores_are_small(q / 4, k, np.dtype(np.float64))
    big = q * 400.0  # scores up to ~|q||k|/4 = thousands: exp would overflow unshifted
    assert not fast._scores_are_small(big / 4, k, np.dtype(np.float64))
    for queries in (q, big):
        out, w = ac.fast_scaled_dot_product_attention(queries, k, v)
        for b in range(2):
            scores = [[sum(queries[b, i, c] * k[b, j, c] for c in range(16)) / 4 for j in range(50)] for i in range(50)]
            for i in range(50):
                top = max(scores[i])
                e = [math.exp(s - top) for s in scores[i]]
                assert_allclose(w[b, i], [x / sum(e) for x in e], atol=1e-12)
    f32 = [a.astype(np.float32) * 3 for a in (q, k, v)]
    _, w = ac.fast_scaled_dot_product_attention(*f32)
    assert np.isfinite(w).all() and w.dtype == np.float32
    assert_allclose(w.sum(-1), 1.0, rtol=1e-5)


def test_safe_exp_bound_keeps_n_exponentials_in_range():
    for dtype in (np.float32, np.float64):
        for n in (1, 1000, 10**6):
            bound = fast.safe_exp_bound(np.dtype(dtype), n)
            with np.errstate(all="raise"):  # no overflow of the sum, no underflow to 0
                total = np.exp(np.full(n, bound, dtype=dtype)).sum(dtype=dtype)
                assert np.isfinite(total)
                assert np.exp(dtype(-bound)) > 0


def test_fully_masked_rows_and_nan_as_the_reference():
    q = np.array([[1.0, np.nan], [1.0, 0.0], [0.0, 1.0]])
    k = np.eye(2)
    mask = np.array([[True, True], [True, True], [False, False]])
    out, w = ac.fast_scaled_dot_product_attention(q, k, k, mask=mask)
    assert np.isnan(w[0]).all() and np.isnan(out[0]).all()
    assert np.isfinite(w[1]).all()
    assert_array_equal(w[2], 0.0)
    assert_array_equal(out[2], 0.0)


def test_huge_but_finite_inputs_do_not_overflow():
    q = np.array([[1e150, 0.0]])
    k = np.array([[1e150, 0.0], [-1e150, 0.0]])
    _, w = ac.fast_scaled_dot_product_attention(q, k, np.eye(2))
    assert_allclose(w, [[1.0, 0.0]])


@pytest.mark.parametrize("options, error, message", [
    ({"causal": "yes"}, TypeError, r"causal must be True or False"),
    ({"scale": 0.0}, ValueError, r"scale must be a finite number > 0"),
    ({"mask": np.ones((2, 3))}, TypeError, r"mask must be boolean"),
    ({"q": np.array([[np.inf, 0.0]])}, ValueError, r"q \(queries\) contains inf at index \(0, 0\)"),
    ({"k": np.ones((3, 1))}, ValueError, r"d_k"),
])
def test_bad_input_is_checked_like_the_reference(options, error, message):
    arrays = {"q": np.ones((2, 2)), "k": np.ones((3, 2)), "v": np.ones((3, 1))}
    arrays.update({name: options[name] for name in arrays if name in options})
    keywords = {name: value for name, value in options.items() if name not in arrays}
    for function in (ac.fast_scaled_dot_product_attention, ac.scaled_dot_product_attention):
        with pytest.raises(error, match=message):
            function(arrays["q"], arrays["k"], arrays["v"], **keywords)


@settings(max_examples=100, deadline=None)
@given(attention_arguments(), st.integers(2, 4))
def test_threads_give_the_serial_result(arguments, workers):
    """Blocks of query rows on threads: the same weights and output as one thread, to rounding."""
    dtype, q, k, v, options = arguments
    serial = ac.fast_scaled_dot_product_attention(q, k, v, **options)
    threaded = ac.fast_scaled_dot_product_attention(q, k, v, **options, workers=workers)
    scale = options["scale"] or 1 / math.sqrt(q.shape[-1])
    largest_score = float(np.abs(q.astype(np.float64) @ k.T.astype(np.float64)).max()) * scale
    tolerance = 64 * np.finfo(dtype).eps * max(1.0, largest_score)
    for a, b in zip(threaded, serial):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert_allclose(a, b, rtol=tolerance, atol=tolerance)


def test_threads_split_long_inputs_into_row_blocks():
    """600 queries = 3 tasks of at most 256 rows per head: rows across the task borders agree."""
    rng = np.random.default_rng(8)
    q, k, v = rng.standard_normal((2, 600, 8)), rng.standard_normal((2, 300, 8)), rng.standard_normal((2, 300, 4))
    for factor in (1.0, 100.0):  # small scores (no max shift) and huge ones (shifted)
        out, w = ac.fast_scaled_dot_product_attention(q * factor, k, v, workers=2)
        ref_out, ref_w = ac.scaled_dot_product_attention(q * factor, k, v)
        assert_allclose(w, ref_w, atol=1e-9)
        assert_allclose(out, ref_out, atol=1e-9)
        assert_allclose(w.sum(axis=-1), 1.0)
