"""The recomputing backward pass of tiled attention: equal to the hand-written backward, and gradient-checked."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.tiled import tiled_attention_backward


def _log_sum_exp(q, k, causal, scale):
    """Per query, log sum_j exp(scaled score) over the keys it may attend; -inf if none (written out here)."""
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    n_q, n_k = scores.shape[-2:]
    allowed = np.ones((n_q, n_k), dtype=bool)
    if causal:
        for i in range(n_q):
            allowed[i, max(n_k - n_q + i + 1, 0):] = False  # query i stands at position n_k - n_q + i
    scores = np.where(allowed, scores, -np.inf)
    largest = scores.max(axis=-1, keepdims=True)
    largest = np.where(largest == -np.inf, 0, largest)
    total = np.exp(scores - largest).sum(axis=-1)
    return np.where(total == 0, -np.inf, largest[..., 0] + np.log(np.where(total == 0, 1, total)))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 13), st.integers(1, 13), st.integers(1, 9), st.booleans(), st.integers(0, 10**6))
def test_recomputed_gradients_equal_the_hand_written_backward(n_q, n_k, block, causal, seed):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((2, n_q, 4)) * 1.5, rng.standard_normal((2, n_k, 4)) * 1.5
    v, grad_output = rng.standard_normal((2, n_k, 3)), rng.standard_normal((2, n_q, 3))
    output, weights = ac.scaled_dot_product_attention(q, k, v, causal=causal)
    expected = ac.scaled_dot_product_attention_backward(q, k, v, weights, grad_output)
    log_sum_exp = _log_sum_exp(q, k, causal, 0.5)
    got = tiled_attention_backward(q, k, v, output, log_sum_exp, grad_output, causal=causal, block_size=block)
    for g, e in zip(got, expected, strict=True):
        assert_allclose(g, e, atol=1e-11)


def test_gradient_check_by_central_differences():
    """L = sum(O * R): each gradient entry against (L(x + h) - L(x - h)) / 2h."""
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    r = rng.standard_normal((5, 2))
    scale = 0.7

    def loss(q, k, v):
        return float((ac.scaled_dot_product_attention(q, k, v, causal=True, scale=scale)[0] * r).sum())

    output, _ = ac.scaled_dot_product_attention(q, k, v, causal=True, scale=scale)
    grads = tiled_attention_backward(q, k, v, output, _log_sum_exp(q, k, True, scale), r, causal=True,
                                     scale=scale, block_size=2)
    inputs = [q, k, v]
    h = 1e-6
    for which, grad in enumerate(grads):
        numeric = np.zeros_like(grad)
        for index in np.ndindex(grad.shape):
            plus = [x.copy() for x in inputs]
            minus = [x.copy() for x in inputs]
            plus[which][index] += h
            minus[which][index] -= h
            numeric[index] = (loss(*plus) - loss(*minus)) / (2 * h)
        assert_allclose(grad, numeric, atol=1e-7)


def test_queries_that_see_no_key_get_no_gradient():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((4, 2)), rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    output, _ = ac.scaled_dot_product_attention(q, k, v, causal=True)  # queries 0 and 1 see no key
    log_sum_exp = _log_sum_exp(q, k, True, 1 / np.sqrt(2))
    assert np.isneginf(log_sum_exp[:2]).all()
    grad_q, _, _ = tiled_attention_backward(q, k, v, output, log_sum_exp, np.ones((4, 2)), causal=True, block_size=1)
    assert np.array_equal(grad_q[:2], np.zeros((2, 2)))


def test_broadcast_keys_sum_their_gradients_and_float32_stays():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((3, 6, 4)).astype(np.float32)  # a batch of 3 against one shared k, v
    k, v = rng.standard_normal((8, 4)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)
    output, weights = ac.scaled_dot_product_attention(q, k, v)
    grad_output = np.ones_like(output)
    got = tiled_attention_backward(q, k, v, output, _log_sum_exp(q, k, False, 0.5), grad_output, block_size=3)
    expected = ac.scaled_dot_product_attention_backward(q, k, v, weights, grad_output)
    for g, e, x in zip(got, expected, (q, k, v), strict=True):
        assert g.shape == x.shape and g.dtype == np.float32
        assert_allclose(g, e, atol=2e-5)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 13), st.integers(1, 13), st.integers(1, 9), st.booleans(), st.integers(0, 10**6))
def test_forward_log_sum_exp_feeds_the_backward(n_q, n_k, block, causal, seed):
    """tiled_attention(..., return_log_sum_exp=True) gives L = m + log l; with it the backward is exact."""
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((n_q, 4)) * 2, rng.standard_normal((n_k, 4)) * 2, rng.standard_normal((n_k, 3))
    grad_output = rng.standard_normal((n_q, 3))
    output, log_sum_exp = ac.tiled_attention(q, k, v, causal=causal, block_size=block, return_log_sum_exp=True)
    assert_allclose(log_sum_exp, _log_sum_exp(q, k, causal, 0.5), atol=1e-12)
    reference, weights = ac.scaled_dot_product_attention(q, k, v, causal=causal)
    assert_allclose(output, reference, atol=1e-12)
    got = tiled_attention_backward(q, k, v, output, log_sum_exp, grad_output, causal=causal, block_size=block)
    for g, e in zip(got, ac.scaled_dot_product_attention_backward(q, k, v, weights, grad_output), strict=True):
        assert_allclose(g, e, atol=1e-11)


def test_log_sum_exp_by_hand_and_float32():
    q = np.array([[0.0, 0.0]])  # every score 0: L = log n_k
    k, v = np.ones((3, 2)), np.ones((3, 1))
    _, log_sum_exp = ac.tiled_attention(q, k, v, block_size=2, return_log_sum_exp=True)
    assert_allclose(log_sum_exp, [np.log(3.0)])
    _, lse32 = ac.tiled_attention(q.astype(np.float32), k.astype(np.float32), v.astype(np.float32),
                                  causal=True, block_size=2, return_log_sum_exp=True)
    assert lse32.dtype == np.float32
    assert ac.tiled_attention(q, k, v).shape == (1, 1)  # without the keyword: the output alone


def test_row_sum_of_weights_times_their_gradient_is_do_dot_o():
    """D_i = sum_j a_ij dA_ij = dO_i . O_i, with dA = dO V^T: the identity the backward pass relies on."""
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((7, 3)), rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    grad_output = rng.standard_normal((7, 2))
    output, weights = ac.scaled_dot_product_attention(q, k, v, causal=True)
    by_rows = np.array([sum(weights[i, j] * (grad_output[i] @ v[j]) for j in range(9)) for i in range(7)])
    assert_allclose(by_rows, (grad_output * output).sum(axis=1), atol=1e-13)
