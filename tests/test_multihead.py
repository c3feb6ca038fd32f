"""MultiHeadAttention: the loop over heads equals the vectorised form; the cache equals full causal."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.multihead import MultiHeadAttention, kv_cache_bytes

configs = st.sampled_from([(8, 1, 1), (8, 2, 2), (8, 4, 4), (8, 4, 2), (8, 4, 1), (12, 6, 3), (12, 6, 2)])


@settings(max_examples=30, deadline=None)
@given(configs, st.integers(1, 5), st.integers(1, 5), st.booleans(), st.integers(0, 10**6))
def test_loop_over_heads_equals_vectorised(config, n_q, n_k, bias, seed):
    d_model, h, h_kv = config
    mha = MultiHeadAttention(d_model, h, n_kv_heads=h_kv, bias=bias, seed=seed)
    if bias:  # non-zero biases so that they are exercised
        rng = np.random.default_rng(seed + 1)
        for name in ("b_q", "b_k", "b_v", "b_o"):
            setattr(mha, name, rng.standard_normal(getattr(mha, name).shape))
    rng = np.random.default_rng(seed)
    x, memory = rng.standard_normal((2, n_q, d_model)), rng.standard_normal((2, n_k, d_model))
    out, w = mha(x, memory)
    out_loop, w_loop = mha.heads_one_by_one(x, memory)
    assert out.shape == (2, n_q, d_model) and w.shape == (2, h, n_q, n_k)
    assert_allclose(out, out_loop, atol=1e-12)
    assert_allclose(w, w_loop, atol=1e-12)


def test_head_j_uses_its_own_columns():
    """Change W_Q's columns of head 1 only: head 0's weights do not move."""
    mha = MultiHeadAttention(8, 2, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 8))
    _, before = mha(x)
    mha.w_q[:, 4:8] += 1.0
    _, after = mha(x)
    assert_allclose(after[0], before[0])
    assert not np.allclose(after[1], before[1])


def test_grouped_heads_share_key_value_heads():
    mha = MultiHeadAttention(8, 4, n_kv_heads=2, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 8))
    _, before = mha(x)
    mha.w_k[:, 0:2] += 1.0  # key head 0, used by query heads 0 and 1
    _, after = mha(x)
    assert not np.allclose(after[0], before[0]) and not np.allclose(after[1], before[1])
    assert_allclose(after[2:], before[2:])


def test_split_and_merge_heads_are_inverse():
    mha = MultiHeadAttention(12, 3)
    x = np.arange(2 * 5 * 12.0).reshape(2, 5, 12)
    heads = mha.split_heads(x)
    assert heads.shape == (2, 3, 5, 4)
    assert_array_equal(heads[:, 1], x[..., 4:8])
    assert_array_equal(mha.merge_heads(heads), x)


def test_one_head_is_plain_attention_between_projections():
    mha = MultiHeadAttention(4, 1, bias=False, seed=3)
    x = np.random.default_rng(3).standard_normal((6, 4))
    expected, w_expected = ac.scaled_dot_product_attention(x @ mha.w_q, x @ mha.w_k, x @ mha.w_v)
    out, w = mha(x)
    assert_allclose(out, expected @ mha.w_o)
    assert_allclose(w[0], w_expected)


def test_mask_applies_to_every_head_and_broadcasts():
    mha = MultiHeadAttention(8, 2, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 4, 8))
    pad = ac.padding_mask([4, 2, 1], 4)  # (3, 1, 4)
    out, w = mha(x, mask=pad)
    assert w.shape == (3, 2, 4, 4)
    assert (w[1, :, :, 2:] == 0).all() and (w[2, :, :, 1:] == 0).all()
    _, w_causal = mha(x, causal=True)
    assert (w_causal[..., np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0).all()


@settings(max_examples=20, deadline=None)
@given(configs, st.integers(1, 7), st.integers(0, 10**6), st.sampled_from([1, 2, 3]))
def test_cache_equals_full_causal(config, n, seed, chunk):
    d_model, h, h_kv = config
    mha = MultiHeadAttention(d_model, h, n_kv_heads=h_kv, seed=seed)
    x = np.random.default_rng(seed).standard_normal((2, n, d_model))
    full, w_full = mha(x, causal=True)
    cache = mha.new_cache()
    outputs = []
    for start in range(0, n, chunk):
        out, w = mha.decode_step(x[:, start:start + chunk], cache)
        outputs.append(out)
        assert_allclose(w, w_full[..., start:start + chunk, : start + out.shape[-2]], atol=1e-12)
    assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-12)
    assert cache.length == n
    assert cache.keys.shape == (2, h_kv, n, d_model // h)


def test_cache_memory_shrinks_with_fewer_kv_heads():
    x = np.random.default_rng(0).standard_normal((10, 16))
    sizes = []
    for h_kv in (8, 2, 1):
        mha = MultiHeadAttention(16, 8, n_kv_heads=h_kv)
        cache = mha.new_cache()
        mha.decode_step(x, cache)
        sizes.append(cache.nbytes)
    assert sizes == [2 * 10 * 16 * 8, 2 * 10 * 2 * 2 * 8, 2 * 10 * 1 * 2 * 8]
    assert kv_cache_bytes(10, n_layers=1, n_kv_heads=2, d_head=2, bytes_per_number=8) == sizes[1]


def test_parameter_count_and_shapes():
    mha = MultiHeadAttention(16, 8, n_kv_heads=2, bias=True)
    assert mha.w_k.shape == (16, 4) and mha.b_v.shape == (4,)
    assert mha.parameter_count() == 2 * 16 * 16 + 2 * 16 * 4 + 2 * 16 + 2 * 4


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: MultiHeadAttention(10, 3), ValueError, r"d_model=10 is not divisible by n_heads=3"),
        (lambda: MultiHeadAttention(8, 4, n_kv_heads=3), ValueError, r"n_kv_heads=3 does not divide n_heads=4"),
        (lambda: MultiHeadAttention(8, 0), ValueError, r"n_heads must be >= 1"),
        (lambda: MultiHeadAttention(8.0, 2), TypeError, r"d_model must be a whole number"),
        (lambda: MultiHeadAttention(8, 2)(np.ones((3, 6))), ValueError, r"query has width 6 \(shape \(3, 6\)\), but d_model=8"),
        (lambda: MultiHeadAttention(8, 2)(np.ones((3, 8)), np.ones((4, 8)), np.ones((5, 8))), ValueError,
         r"key and value must have the same length: key \(4, 8\), value \(5, 8\)"),
        (lambda: MultiHeadAttention(8, 2)(None), TypeError, r"query must be an array of numbers, got None"),
        (lambda: MultiHeadAttention(8, 2)(np.ones((3, 8)), mask=np.ones((3, 3))), TypeError, r"mask must be boolean"),
        (lambda: MultiHeadAttention(8, 2).decode_step(np.ones((1, 4)), MultiHeadAttention(8, 2).new_cache()),
         ValueError, r"x has width 4"),
        (lambda: kv_cache_bytes(0, n_layers=1, n_kv_heads=1, d_head=1), ValueError, r"seq_len must be >= 1"),
        (lambda: kv_cache_bytes(4, n_layers=1.0, n_kv_heads=1, d_head=1), TypeError, r"n_layers must be a whole number"),
        (lambda: MultiHeadAttention(8, 2, bias="no"), TypeError, r"bias must be True or False, got 'no'"),
        (lambda: MultiHeadAttention(8, 2, bias=None), TypeError, r"bias must be True or False, got None"),
        (lambda: MultiHeadAttention(8, 2, seed=-1), ValueError, r"seed must be >= 0"),
        (lambda: MultiHeadAttention(8, 2, seed=1.5), TypeError, r"seed must be a whole number"),
        (lambda: MultiHeadAttention(8, 2, n_kv_heads=True), TypeError, r"n_kv_heads must be a whole number"),
        (lambda: MultiHeadAttention(8, 2)(np.ones((0, 8))), ValueError, r"query must not be empty"),
        (lambda: MultiHeadAttention(8, 2)(np.full((2, 8), np.inf)), ValueError, r"query contains inf at index \(0, 0\)"),
        (lambda: MultiHeadAttention(8, 2)(np.ones((3, 8)), causal="no"), TypeError, r"causal must be True or False"),
        (lambda: MultiHeadAttention(8, 2)(np.ones((3, 8)), causal=None), TypeError, r"causal must be True or False"),
        (lambda: MultiHeadAttention(8, 2)(np.ones((2, 3, 8)), np.ones((3, 4, 8))), ValueError, r"batch dimensions"),
        (lambda: MultiHeadAttention(8, 2).heads_one_by_one(np.ones((3, 8)), causal=1), TypeError, r"causal must be True or False"),
        (lambda: MultiHeadAttention(8, 2).split_heads("x"),
         TypeError, r"x must be an array of numbers, got the string"),
        (lambda: MultiHeadAttention(8, 2).split_heads(np.ones((3, 6))), ValueError, r"width 6 .*not a multiple of d_head=4"),
        (lambda: MultiHeadAttention(8, 2).split_heads(np.ones(8)), ValueError, r"x must be a matrix"),
        (lambda: MultiHeadAttention(8, 2).merge_heads(np.ones((2, 3))), ValueError, r"x must have at least|x must be"),
        (lambda: MultiHeadAttention(8, 2).merge_heads(np.ones((2, 3, 5))), ValueError, r"d_head=4\) with heads = n_heads=2 or n_kv_heads=2, got shape \(2, 3, 5\)"),
        (lambda: MultiHeadAttention(8, 2).decode_step(np.ones((1, 8)), None), TypeError, r"cache must be a KVCache"),
        (lambda: MultiHeadAttention(8, 2).decode_step(np.ones((1, 8)), ac.KVCache(1, 4)), ValueError,
         r"cache holds n_kv_heads=1, d_head=4; this layer needs n_kv_heads=2, d_head=4"),
        (lambda: ac.KVCache(0, 4), ValueError, r"n_kv_heads must be >= 1"),
        (lambda: ac.KVCache(-1, 4), ValueError, r"n_kv_heads must be >= 1"),
        (lambda: ac.KVCache("2", 4), TypeError, r"n_kv_heads must be a whole number"),
        (lambda: ac.KVCache(2, 4.0), TypeError, r"d_head must be a whole number"),
        (lambda: ac.KVCache(2, 4).append([1.0], [1.0]), ValueError, r"keys must be 3 dims|keys must"),
        (lambda: ac.KVCache(2, 4).append(np.ones((2, 3, 4)), np.ones((2, 2, 4))), ValueError, r"cache entries must be"),
        (lambda: ac.KVCache(2, 4).append(None, None), TypeError, r"keys must be an array of numbers, got None"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_split_heads_accepts_a_list():
    """Before: a list raised AttributeError ('list' object has no attribute 'shape')."""
    mha = MultiHeadAttention(4, 2)
    heads = mha.split_heads([[1.0, 2.0, 3.0, 4.0]])
    assert_array_equal(heads, [[[1.0, 2.0]], [[3.0, 4.0]]])
    assert_array_equal(mha.merge_heads(heads.tolist()), [[1.0, 2.0, 3.0, 4.0]])


def test_kv_cache_refuses_a_batch_that_does_not_continue_it():
    mha = MultiHeadAttention(4, 2)
    cache = mha.new_cache()
    mha.decode_step(np.ones((2, 1, 4)), cache)
    with pytest.raises(ValueError, match=r"x has batch dimensions \(3,\) but the cache holds \(2,\)"):
        mha.decode_step(np.ones((3, 1, 4)), cache)
    with pytest.raises(ValueError, match=r"do not continue the cached keys"):
        cache.append(np.ones((3, 2, 1, 2)), np.ones((3, 2, 1, 2)))


def test_causal_cross_attention_with_fewer_queries_is_bottom_right():
    """The last 3 positions as queries over all 7 keys = the last 3 rows of full causal self-attention."""
    mha = MultiHeadAttention(8, 2, n_kv_heads=1, seed=2)
    x = np.random.default_rng(4).standard_normal((7, 8))
    full, w_full = mha(x, causal=True)
    last, w_last = mha(x[4:], x, causal=True)
    assert_allclose(last, full[4:], atol=1e-12)
    assert_allclose(w_last, w_full[:, 4:], atol=1e-12)
    loop, _ = mha.heads_one_by_one(x[4:], x, causal=True)
    assert_allclose(loop, full[4:], atol=1e-12)


def test_nan_in_the_input_comes_out_as_nan():
    mha = MultiHeadAttention(4, 2)
    query, memory = np.ones((3, 4)), np.ones((5, 4))
    query[1, 2] = np.nan
    out, weights = mha(query, memory)
    assert np.isnan(out[1]).all() and np.isnan(weights[:, 1]).all()
    assert np.isfinite(out[[0, 2]]).all()


def decode_by_hand(layer, x, keys, values):
    """Chapter 8's decoding step, line for line: append the new key/value row, then attend by groups."""
    h_kv, group, d_k = layer.n_kv_heads, layer.group_size, layer.d_head  # group = h / h_kv
    q = layer.split_heads(x @ layer.w_q + layer.b_q)  # (h, 1, d_k)
    k = layer.split_heads(x @ layer.w_k + layer.b_k)  # (h_kv, 1, d_k)
    v = layer.split_heads(x @ layer.w_v + layer.b_v)  # (h_kv, 1, d_k)
    keys = np.concatenate([keys, k], axis=1)  # (h_kv, t + 1, d_k)
    values = np.concatenate([values, v], axis=1)  # (h_kv, t + 1, d_k)
    q = q.reshape(h_kv, group, d_k)  # (h_kv, group, d_k): each group's queries, no copy of the cache
    scores = q @ keys.swapaxes(1, 2) / np.sqrt(d_k)  # (h_kv, group, t + 1)
    heads = (ac.softmax(scores) @ values).reshape(layer.n_heads, 1, d_k)  # (h, 1, d_k)
    out = layer.merge_heads(heads) @ layer.w_o + layer.b_o  # (1, d_model)
    return out, keys, values


@settings(max_examples=20, deadline=None)
@given(configs, st.integers(1, 6), st.integers(0, 10**6))
def test_decode_by_hand_equals_cache(config, n, seed):
    d_model, h, h_kv = config
    layer = MultiHeadAttention(d_model, h, n_kv_heads=h_kv, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for name in ("b_q", "b_k", "b_v", "b_o"):  # non-zero biases
        setattr(layer, name, rng.standard_normal(getattr(layer, name).shape))
    x = rng.standard_normal((n, d_model))
    keys = values = np.zeros((h_kv, 0, layer.d_head))
    cache = layer.new_cache()
    rows = []
    for t in range(n):
        out_hand, keys, values = decode_by_hand(layer, x[t:t + 1], keys, values)
        out_cache, _ = layer.decode_step(x[t:t + 1], cache)
        assert_allclose(out_hand, out_cache, atol=1e-12)
        rows.append(out_hand)
    assert_array_equal(keys, cache.keys)
    assert_array_equal(values, cache.values)
    assert_allclose(np.concatenate(rows), layer(x, causal=True)[0], atol=1e-12)  # the full causal pass
