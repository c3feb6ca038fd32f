"""Mask patterns, each checked against a loop written here; bad arguments of the mask builders."""


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import attn_core as ac
from attn_core import masks

finite = st.floats(-2, 2, allow_nan=False, allow_infinity=False)


def seq(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


# ------------------------------------------------------------------ mask patterns by loops
@given(st.integers(1, 9), st.integers(1, 4), st.booleans())
def test_sliding_window_by_loop(n, w, causal):
    m = masks.sliding_window_mask(n, window=w, causal=causal)
    for i in range(n):
        for j in range(n):
            assert m[i, j] == ((0 <= i - j <= w) if causal else (abs(i - j) <= w))


@given(st.integers(1, 12), st.integers(1, 5))
def test_strided_by_loop(n, stride):
    m = masks.strided_mask(n, stride=stride)
    for i in range(n):
        for j in range(n):
            assert m[i, j] == (j <= i and (i - j < stride or (i - j) % stride == 0))


@given(st.integers(1, 12), st.integers(1, 5), st.data())
def test_fixed_by_loop(n, block, data):
    c = data.draw(st.integers(1, block))
    m = masks.fixed_mask(n, block=block, summary=c)
    for i in range(n):
        for j in range(n):
            assert m[i, j] == (j <= i and (i // block == j // block or j % block >= block - c))


def test_strided_reaches_everything_in_two_steps():
    m = masks.strided_mask(16, stride=4).astype(int)
    two_steps = (m @ m) > 0
    assert_array_equal(two_steps, np.tril(np.ones((16, 16), dtype=bool)))


def test_bigbird_parts():
    m = masks.bigbird_mask(12, window=1, n_global=2, n_random=2, seed=3)
    assert m[:2].all() and m[:, :2].all()
    assert (m & masks.sliding_window_mask(12, window=1) == masks.sliding_window_mask(12, window=1)).all()
    assert (m.sum(1) >= 3).all()
    assert_array_equal(m, masks.bigbird_mask(12, window=1, n_global=2, n_random=2, seed=3))




# ------------------------------------------------------------- causal alignment: bottom-right
@given(st.integers(1, 6), st.integers(1, 6))
def test_causal_mask_is_bottom_right_aligned(n_q, n_k):
    """The queries are the LAST n_q positions: query i stands at n_k - n_q + i."""
    m = ac.causal_mask(n_q, n_k)
    assert m.shape == (n_q, n_k)
    for i in range(n_q):
        position = n_k - n_q + i
        for j in range(n_k):
            assert m[i, j] == (j <= position)


def test_causal_mask_rows_are_the_last_rows_of_the_square_mask():
    assert_array_equal(ac.causal_mask(2, 4), [[1, 1, 1, 0], [1, 1, 1, 1]])
    assert_array_equal(ac.causal_mask(3, 5), ac.causal_mask(5)[-3:])
    # more queries than keys: the first n_q - n_k queries come before every key
    assert_array_equal(ac.causal_mask(3, 2), [[0, 0], [1, 0], [1, 1]])


def test_decoding_with_a_cache_equals_the_full_causal_pass():
    """Token by token, with every earlier key and value kept (a cache), each new query gets the
    output the full causal pass gives its row; so does a chunk of several new queries."""
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((7, 4)), rng.standard_normal((7, 4)), rng.standard_normal((7, 3))
    full, _ = ac.scaled_dot_product_attention(q, k, v, causal=True)
    for t in range(7):
        step, _ = ac.scaled_dot_product_attention(q[t:t + 1], k[:t + 1], v[:t + 1], causal=True)
        np.testing.assert_allclose(step[0], full[t], atol=1e-12)
    chunk, _ = ac.scaled_dot_product_attention(q[4:], k, v, mask=ac.causal_mask(3, 7))
    np.testing.assert_allclose(chunk, full[4:], atol=1e-12)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3))
def test_causal_sliding_window_with_fewer_queries_is_bottom_right(n_q, n_k, w):
    m = masks.sliding_window_mask(n_q, n_k, window=w, causal=True)
    for i in range(n_q):
        position = n_k - n_q + i
        for j in range(n_k):
            assert m[i, j] == (0 <= position - j <= w)


def test_padding_mask_by_hand():
    assert_array_equal(ac.padding_mask([0, 2], 3), [[[False, False, False]], [[True, True, False]]])


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, error, message", [
    (lambda: masks.causal_mask(0), ValueError, r"n_q must be >= 1, got 0"),
    (lambda: masks.causal_mask(3, -1), ValueError, r"n_k must be >= 1, got -1"),
    (lambda: masks.causal_mask(2.0), TypeError, r"n_q must be a whole number"),
    (lambda: masks.causal_mask(True), TypeError, r"n_q must be a whole number"),
    (lambda: masks.causal_mask(None), TypeError, r"n_q must be a whole number"),
    (lambda: masks.causal_mask("3"), TypeError, r"n_q must be a whole number"),
    (lambda: masks.padding_mask([], 3), ValueError, r"lengths must be a non-empty vector"),
    (lambda: masks.padding_mask([[1, 2]], 3), ValueError, r"lengths must be a non-empty vector \(batch,\), got shape \(1, 2\)"),
    (lambda: masks.padding_mask([True], 3), TypeError, r"lengths must be whole numbers"),
    (lambda: masks.padding_mask(None, 3), TypeError, r"lengths must be whole numbers"),
    (lambda: masks.padding_mask([-1], 3), ValueError, r"every length in lengths must lie in 0..n_k=3"),
    (lambda: masks.padding_mask([1], 0), ValueError, r"n_k must be >= 1"),
    (lambda: masks.sliding_window_mask(4, window=0), ValueError, r"window must be >= 1, got 0"),
    (lambda: masks.sliding_window_mask(4, window=-2), ValueError, r"window must be >= 1"),
    (lambda: masks.sliding_window_mask(4, window=1.5), TypeError, r"window must be a whole number"),
    (lambda: masks.sliding_window_mask(4, window=1, causal="no"), TypeError, r"causal must be True or False, got 'no'"),
    (lambda: masks.sliding_window_mask(4, window=1, causal=None), TypeError, r"causal must be True or False, got None"),
    (lambda: masks.sliding_window_mask(4, window=1, causal=1), TypeError, r"causal must be True or False, got 1"),
    (lambda: masks.strided_mask(4, stride=0), ValueError, r"stride must be >= 1"),
    (lambda: masks.strided_mask(0, stride=2), ValueError, r"n must be >= 1"),
    (lambda: masks.strided_mask(4, stride=2, causal="yes"), TypeError, r"causal must be True or False"),
    (lambda: masks.fixed_mask(4, block=2, summary=3), ValueError, r"summary=3 cannot exceed block=2"),
    (lambda: masks.fixed_mask(4, block=2, summary=0), ValueError, r"summary must be >= 1"),
    (lambda: masks.fixed_mask(4, block=2, causal=None), TypeError, r"causal must be True or False"),
    (lambda: masks.bigbird_mask(4, window=1, n_random=9), ValueError, r"n_random must be a whole number in 0..n=4"),
    (lambda: masks.bigbird_mask(4, window=1, n_global=-1), ValueError, r"n_global must be >= 0"),
    (lambda: masks.bigbird_mask(4, window=1, n_global=True), TypeError, r"n_global must be a whole number"),
    (lambda: masks.bigbird_mask(4, window=1, n_random=1.0), TypeError, r"n_random must be a whole number"),
    (lambda: masks.bigbird_mask(4, window=0), ValueError, r"window must be >= 1"),
    (lambda: masks.bigbird_mask(4, window=1, seed=-1), ValueError, r"seed must be >= 0"),
    (lambda: masks.bigbird_mask(4, window=1, seed="a"), TypeError, r"seed must be a whole number"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_sliding_window_causal_no_is_refused_not_read_as_true():
    """Before: causal="no" is truthy, and silently gave the causal band."""
    with pytest.raises(TypeError):
        masks.sliding_window_mask(5, window=1, causal="no")


# ------------------------------------------------------------------ packed sequences
def test_document_mask_by_hand_and_between_two_id_lists():
    np.testing.assert_array_equal(masks.document_mask([0, 0, 1]).astype(int), [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(masks.document_mask([1], [0, 1, 1]).astype(int), [[0, 1, 1]])


def test_document_mask_is_block_diagonal_for_packed_documents():
    lengths = [3, 1, 4]
    ids = np.repeat(np.arange(3), lengths)
    mask = masks.document_mask(ids)
    start = 0
    for length in lengths:  # each document sees itself whole and nothing else
        assert mask[start:start + length, start:start + length].all()
        assert mask[start:start + length].sum() == length * length
        start += length


@pytest.mark.parametrize("call, error, message", [
    (lambda: masks.document_mask([0.5, 1.0]), TypeError, "document_ids_q"),
    (lambda: masks.document_mask([[0, 1]]), ValueError, "document_ids_q"),
    (lambda: masks.document_mask([], [0]), ValueError, "document_ids_q"),
    (lambda: masks.document_mask([0], "ab"), TypeError, "document_ids_k"),
])
def test_document_mask_refuses_bad_ids(call, error, message):
    with pytest.raises(error, match=message):
        call()
