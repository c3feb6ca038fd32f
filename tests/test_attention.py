"""scaled_dot_product_attention and masks: hand-computed cases, loops and properties."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


def attention_by_loops(q, k, v, allowed=None):
    """Attention for one sequence, one query and one key at a time, in plain Python."""
    n_q, d_k = len(q), len(q[0])
    out, weights = [], []
    for i in range(n_q):
        keep = [j for j in range(len(k)) if allowed is None or allowed[i][j]]
        scores = {j: sum(q[i][c] * k[j][c] for c in range(d_k)) / math.sqrt(d_k) for j in keep}
        top = max(scores.values()) if scores else 0.0
        exps = {j: math.exp(s - top) for j, s in scores.items()}
        total = sum(exps.values())
        row = [exps[j] / total if j in exps else 0.0 for j in range(len(k))]
        weights.append(row)
        out.append([sum(row[j] * v[j][c] for j in range(len(k))) for c in range(len(v[0]))])
    return np.array(out), np.array(weights)


@st.composite
def qkv(draw, batch=()):
    n_q, n_k, d_k, d_v = (draw(st.integers(1, 5)) for _ in range(4))
    arr = lambda *shape: draw(hnp.arrays(np.float64, batch + shape, elements=finite))
    return arr(n_q, d_k), arr(n_k, d_k), arr(n_k, d_v)


def test_worked_example_by_hand():
    # scores = [1, 0] / sqrt(2); weights = softmax; output = weighted average of 10 and 20
    out, w = ac.scaled_dot_product_attention([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], [[10.0], [20.0]])
    a = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    assert_allclose(w, [[a, 1 - a]])
    assert_allclose(out, [[10 * a + 20 * (1 - a)]])


@given(qkv())
def test_equals_the_loop(args):
    q, k, v = args
    out, w = ac.scaled_dot_product_attention(q, k, v)
    out_loop, w_loop = attention_by_loops(q, k, v)
    assert_allclose(w, w_loop, atol=1e-12)
    assert_allclose(out, out_loop, atol=1e-10)
    assert_allclose(w.sum(-1), 1.0)


@given(qkv(), st.data())
def test_masked_equals_the_loop(args, data):
    q, k, v = args
    mask = data.draw(hnp.arrays(np.bool_, (len(q), len(k))))
    out, w = ac.scaled_dot_product_attention(q, k, v, mask=mask)
    out_loop, w_loop = attention_by_loops(q, k, v, mask)
    assert_allclose(w, w_loop, atol=1e-12)
    assert_allclose(out, out_loop, atol=1e-10)
    assert (w[~mask] == 0).all()


@given(qkv(), st.randoms(use_true_random=False))
def test_permuting_keys_and_values_together_changes_nothing(args, rnd):
    q, k, v = args
    perm = list(range(len(k)))
    rnd.shuffle(perm)
    out, w = ac.scaled_dot_product_attention(q, k, v)
    out_p, w_p = ac.scaled_dot_product_attention(q, k[perm], v[perm])
    assert_allclose(out_p, out, atol=1e-12)
    assert_allclose(w_p, w[:, perm], atol=1e-12)


@given(qkv(batch=(2, 3)))
def test_batch_dims_equal_separate_calls(args):
    q, k, v = args
    out, w = ac.scaled_dot_product_attention(q, k, v)
    for b in range(2):
        for h in range(3):
            o1, w1 = ac.scaled_dot_product_attention(q[b, h], k[b, h], v[b, h])
            assert_allclose(out[b, h], o1, atol=1e-12)
            assert_allclose(w[b, h], w1, atol=1e-12)


def test_batch_dims_broadcast():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 1, 4, 3))
    k = rng.standard_normal((5, 3))  # shared by every batch and head
    v = rng.standard_normal((1, 6, 5, 2))
    out, w = ac.scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 6, 4, 2) and w.shape == (2, 1, 4, 5)


def test_causal_never_looks_ahead():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4))
    out, w = ac.scaled_dot_product_attention(x, x, x, causal=True)
    assert_array_equal(w[np.triu_indices(6, 1)], 0.0)
    # changing the future leaves the past unchanged
    x2 = x.copy()
    x2[4:] += 10.0
    out2, _ = ac.scaled_dot_product_attention(x2, x2, x2, causal=True)
    assert_allclose(out2[:4], out[:4])
    assert not np.allclose(out2[4:], out[4:])


@given(st.integers(1, 6), st.integers(1, 6))
def test_causal_mask_is_top_left_aligned(n_q, n_k):
    m = ac.causal_mask(n_q, n_k)
    assert m.shape == (n_q, n_k)
    for i in range(n_q):
        for j in range(n_k):
            assert m[i, j] == (j <= i)


def test_causal_and_mask_combine():
    x = np.eye(3)
    pad = np.array([True, False, True])
    _, w = ac.scaled_dot_product_attention(x, x, x, mask=pad, causal=True)
    assert_array_equal(w > 0, [[1, 0, 0], [1, 0, 0], [1, 0, 1]])


def test_fully_masked_query_gives_zero_weights_and_output():
    q = np.ones((2, 3))
    k = np.ones((4, 3))
    v = np.arange(8.0).reshape(4, 2)
    mask = np.array([[True] * 4, [False] * 4])
    out, w = ac.scaled_dot_product_attention(q, k, v, mask=mask)
    assert_array_equal(w[1], 0.0)
    assert_array_equal(out[1], 0.0)
    assert not np.isnan(out).any()


def test_mask_may_add_batch_dims():
    q = np.ones((3, 2))
    mask = ac.padding_mask([1, 3], 3)  # (2, 1, 3)
    out, w = ac.scaled_dot_product_attention(q, q, np.arange(6.0).reshape(3, 2), mask=mask)
    assert w.shape == (2, 3, 3)
    assert_allclose(w[0], [[1, 0, 0]] * 3)
    assert_allclose(w[1], np.full((3, 3), 1 / 3))


def test_padding_mask():
    assert_array_equal(ac.padding_mask([0, 2], 3), [[[False, False, False]], [[True, True, False]]])


def test_scale_argument():
    q = np.array([[1.0, 1.0]])
    k = np.array([[1.0, 1.0], [0.0, 0.0]])
    _, w = ac.scaled_dot_product_attention(q, k, np.eye(2), scale=1.0)
    assert_allclose(w, [[math.exp(2) / (math.exp(2) + 1), 1 / (math.exp(2) + 1)]])


def test_dtypes():
    f32 = np.ones((2, 3), dtype=np.float32)
    out, w = ac.scaled_dot_product_attention(f32, f32, f32)
    assert out.dtype == np.float32 and w.dtype == np.float32
    out, w = ac.scaled_dot_product_attention(np.ones((2, 3), dtype=int), f32, f32)
    assert out.dtype == np.float64
    out, _ = ac.scaled_dot_product_attention(f32, f32, f32, mask=np.eye(2, dtype=bool), causal=True)
    assert out.dtype == np.float32


def test_nan_in_the_data_comes_out_as_nan():
    q = np.array([[1.0, np.nan], [1.0, 0.0]])
    k = np.eye(2)
    out, w = ac.scaled_dot_product_attention(q, k, k)
    assert np.isnan(w[0]).all() and np.isnan(out[0]).all()
    assert np.isfinite(w[1]).all()


def test_huge_inputs_do_not_overflow():
    q = np.array([[1e150, 0.0]])
    k = np.array([[1e150, 0.0], [-1e150, 0.0]])
    out, w = ac.scaled_dot_product_attention(q, k, np.eye(2))
    assert_allclose(w, [[1.0, 0.0]])


def test_both_softmax_paths_agree():
    """Small scores skip the max shift (Cauchy-Schwarz proves it safe); large ones take it."""
    import sys

    attention = sys.modules["attn_core.attention"]
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 2, 50, 16))
    assert attention._scores_are_small(q / 4, k, np.dtype(np.float64))
    big = q * 400.0  # scores up to ~|q||k|/4 = thousands: exp would overflow unshifted
    assert not attention._scores_are_small(big / 4, k, np.dtype(np.float64))
    for qq in (q, big):
        out, w = ac.scaled_dot_product_attention(qq, k, v)
        out_loop, w_loop = zip(*(attention_by_loops(qq[b], k[b], v[b]) for b in range(2)))
        assert_allclose(w, np.array(w_loop), atol=1e-12)
        assert_allclose(out, np.array(out_loop), atol=1e-10)
    f32 = [a.astype(np.float32) * 3 for a in (q, k, v)]
    out, w = ac.scaled_dot_product_attention(*f32)
    assert np.isfinite(w).all() and w.dtype == np.float32
    assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
