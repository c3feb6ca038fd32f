"""scaled_dot_product_attention (the reference), its backward pass and attention_mask."""

import math

import numpy as np
import pytest
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


# ------------------------------------------------------------- causal alignment: bottom-right
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 100))
def test_causal_with_fewer_queries_is_bottom_right_by_loop(n_q, n_k, seed):
    """Query i of n_q stands at position n_k - n_q + i and sees keys up to it, none after."""
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((n_q, 3)), rng.standard_normal((n_k, 3)), rng.standard_normal((n_k, 2))
    allowed = [[j <= n_k - n_q + i for j in range(n_k)] for i in range(n_q)]
    out, w = ac.scaled_dot_product_attention(q, k, v, causal=True)
    out_loop, w_loop = attention_by_loops(q, k, v, allowed)
    assert_allclose(w, w_loop, atol=1e-12)
    assert_allclose(out, out_loop, atol=1e-10)


def decode_one_step_at_a_time(attend, x):
    """Position t attends, as a single query with causal=True, to the keys 0..t kept in a cache."""
    keys, values, outputs = [], [], []
    for t in range(len(x)):
        keys.append(x[t])
        values.append(2.0 * x[t])
        outputs.append(attend(x[t:t + 1], np.array(keys), np.array(values)))  # 1 query, t + 1 keys
    return np.concatenate(outputs)


@pytest.mark.parametrize("name", ["reference", "fast", "tiled"])
def test_decode_one_step_at_a_time_with_a_kv_cache_equals_full_causal_attention(name):
    attend = {
        "reference": lambda q, k, v: ac.scaled_dot_product_attention(q, k, v, causal=True)[0],
        "fast": lambda q, k, v: ac.fast_scaled_dot_product_attention(q, k, v, causal=True)[0],
        "tiled": lambda q, k, v: ac.tiled_attention(q, k, v, causal=True, block_size=2),
    }[name]
    x = np.random.default_rng(3).standard_normal((7, 4))
    full, _ = ac.scaled_dot_product_attention(x, x, 2.0 * x, causal=True)
    assert_allclose(decode_one_step_at_a_time(attend, x), full, atol=1e-12)
    # several new positions at once: the last 3 queries against all 7 keys
    assert_allclose(attend(x[4:], x, 2.0 * x), full[4:], atol=1e-12)


def test_causal_with_more_queries_than_keys_gives_zero_rows_for_the_queries_before_every_key():
    q, k = np.ones((3, 2)), np.ones((1, 2))
    out, w = ac.scaled_dot_product_attention(q, k, [[5.0]], causal=True)
    assert_array_equal(w, [[0.0], [0.0], [1.0]])
    assert_array_equal(out, [[0.0], [0.0], [5.0]])


def test_attention_mask_combines_mask_and_bottom_right_causal():
    assert attention_mask_is_none()
    assert_array_equal(ac.attention_mask(None, True, (2, 3)), [[1, 1, 0], [1, 1, 1]])
    pad = np.array([True, False, True])
    assert_array_equal(ac.attention_mask(pad, True, (2, 3)), [[1, 0, 0], [1, 0, 1]])


def attention_mask_is_none():
    return ac.attention_mask(None, False, (2, 3)) is None


# --------------------------------------------------------------------- backward, by differences
def test_backward_equals_finite_differences():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 4, 3))
    mask = rng.random((4, 4)) < 0.7
    mask[:, 0] = True
    grad_out = rng.standard_normal((4, 3))

    def loss(q, k, v):
        return float((ac.scaled_dot_product_attention(q, k, v, mask=mask)[0] * grad_out).sum())

    _, w = ac.scaled_dot_product_attention(q, k, v, mask=mask)
    grads = ac.scaled_dot_product_attention_backward(q, k, v, w, grad_out)
    step = 1e-6
    for which, grad in enumerate(grads):
        args = [q, k, v]
        for index in np.ndindex(args[which].shape):
            plus, minus = [a.copy() for a in args], [a.copy() for a in args]
            plus[which][index] += step
            minus[which][index] -= step
            assert math.isclose(grad[index], (loss(*plus) - loss(*minus)) / (2 * step), abs_tol=1e-6)


# -------------------------------------------------------------------------------- bad input
def test_inf_in_the_data_is_refused_at_the_door_naming_the_argument_and_index():
    q, k, v = np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2))
    bad = q.copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"q \(queries\) contains inf at index \(1, 2\)"):
        ac.scaled_dot_product_attention(bad, k, v)
    bad = v.copy()
    bad[0, 0] = -np.inf
    with pytest.raises(ValueError, match=r"v \(values\) contains -inf at index \(0, 0\)"):
        ac.scaled_dot_product_attention(q, k, bad)
    with pytest.raises(ValueError, match=r"weights contains inf"):
        ac.scaled_dot_product_attention_backward(q, k, v, np.full((2, 4), np.inf), np.ones((2, 2)))


def test_bias_may_be_minus_inf_which_masks():
    q = k = np.eye(2)
    bias = np.array([[0.0, -np.inf], [0.0, 0.0]])
    _, w = ac.scaled_dot_product_attention(q, k, k, bias=bias)
    assert_array_equal(w[0], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"bias contains inf"):
        ac.scaled_dot_product_attention(q, k, k, bias=-bias)


q3, k5, v5 = np.ones((3, 4)), np.ones((5, 4)), np.ones((5, 2))


def sdpa(**overrides):
    args = {"q": q3, "k": k5, "v": v5} | overrides
    return ac.scaled_dot_product_attention(args.pop("q"), args.pop("k"), args.pop("v"), **args)


@pytest.mark.parametrize("call, error, message", [
    (lambda: sdpa(q=np.ones((0, 4))), ValueError, r"q \(queries\) must not be empty; got shape \(0, 4\)"),
    (lambda: sdpa(k=np.ones((0, 4)), v=np.ones((0, 2))), ValueError, r"k \(keys\) must not be empty"),
    (lambda: sdpa(v=np.ones((5, 0))), ValueError, r"v \(values\) must not be empty"),
    (lambda: sdpa(q=np.ones(4)), ValueError, r"q \(queries\) must be a matrix"),
    (lambda: sdpa(q=np.ones((3, 4), dtype=object)), TypeError, r"q \(queries\) must be an array of numbers, got dtype object"),
    (lambda: sdpa(causal=None), TypeError, r"causal must be True or False, got None"),
    (lambda: sdpa(causal="no"), TypeError, r"causal must be True or False, got 'no'"),
    (lambda: sdpa(causal=1), TypeError, r"causal must be True or False, got 1"),
    (lambda: sdpa(scale=-1.0), ValueError, r"scale must be a finite number > 0, got -1.0"),
    (lambda: sdpa(scale=float("nan")), ValueError, r"scale must be a finite number > 0, got nan"),
    (lambda: sdpa(scale=float("inf")), ValueError, r"scale must be a finite number > 0, got inf"),
    (lambda: sdpa(scale=True), TypeError, r"scale must be a positive real number"),
    (lambda: sdpa(mask=np.ones((3, 5, 2), dtype=bool)), ValueError, r"mask of shape \(3, 5, 2\) does not broadcast"),
    (lambda: sdpa(mask=None, bias="x"), TypeError, r"bias must be an array of numbers"),
    (lambda: sdpa(bias=np.ones((0, 5))), ValueError, r"bias must not be empty"),
    (lambda: ac.scaled_dot_product_attention_backward(q3, k5, v5, np.ones((3, 4)), np.ones((3, 2))), ValueError,
     r"weights must be \(\.\.\., n_q=3, n_k=5\), got shape \(3, 4\)"),
    (lambda: ac.scaled_dot_product_attention_backward(q3, k5, v5, np.ones((3, 5)), np.ones((3, 3))), ValueError,
     r"grad_output must be \(\.\.\., n_q=3, d_v=2\), got shape \(3, 3\)"),
    (lambda: ac.scaled_dot_product_attention_backward(q3, k5, v5, None, np.ones((3, 2))), TypeError,
     r"weights must be an array of numbers, got None"),
    (lambda: ac.attention_mask(None, "yes", (2, 3)), TypeError, r"causal must be True or False"),
    (lambda: ac.attention_mask(None, True, (3,)), ValueError, r"weights_shape must have at least two sizes"),
    (lambda: ac.attention_mask(None, True, (0, 3)), ValueError, r"weights_shape entry must be >= 1"),
    (lambda: ac.attention_mask(None, True, "ab"), TypeError, r"weights_shape must be a tuple"),
    (lambda: ac.attention_mask(np.ones((2, 3)), True, (2, 3)), TypeError, r"mask must be boolean"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
