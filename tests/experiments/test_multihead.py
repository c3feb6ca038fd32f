"""attn_core.experiments.multihead: one-hot word/position codes, planted heads, mean-pooled key/value heads."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.experiments.multihead import (
    LLAMA2_7B,
    LLAMA2_70B,
    PLANTED_HEAD_NAMES,
    LLAMA2_VOCABULARY,
    cache_crossover_tokens,
    decode_flops_per_byte,
    decode_step_bytes,
    decode_step_flops,
    generation_flops,
    kv_sharing_speedup,
    mean_pool_kv_heads,
    memory_bound_context,
    planted_heads,
    word_position_codes,
)

SENTENCE = "the cat saw the dog chase the cat".split()


def test_codes_by_hand():
    codes = word_position_codes(["b", "a", "b"], width=3)
    assert_array_equal(codes, [[1, 0, 0, 1, 0, 0],
                               [0, 1, 0, 0, 1, 0],
                               [1, 0, 0, 0, 0, 1]])


def test_planted_scores_by_hand():
    """A match scores `strength` after scaling; everything else scores 0."""
    layer = planted_heads(d_head=8, strength=3.0)
    x = word_position_codes(SENTENCE)  # (8, 32)
    q = layer.split_heads(x @ layer.w_q)  # (4, 8, 8)
    k = layer.split_heads(x @ layer.w_k)  # (4, 8, 8)
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(8)  # (4, n, n)
    n = len(SENTENCE)
    previous = np.zeros((n, n))
    following = np.zeros((n, n))
    same = np.zeros((n, n))
    for i in range(n):  # a plain loop over every (query, key) pair
        for j in range(n):
            previous[i, j] = 3.0 * (j == i - 1)
            following[i, j] = 3.0 * (j == i + 1)
            same[i, j] = 3.0 * (SENTENCE[i] == SENTENCE[j])
    assert_allclose(scores[0], previous, atol=1e-12)
    assert_allclose(scores[1], following, atol=1e-12)
    assert_allclose(scores[2], same, atol=1e-12)
    assert_allclose(scores[3], 0.0)


def test_planted_weights():
    layer = planted_heads()
    _, w = layer(word_position_codes(SENTENCE))
    e4 = np.exp(4.0)
    assert w.shape == (4, 8, 8) and len(PLANTED_HEAD_NAMES) == 4
    assert_allclose(w[0, 0], 1 / 8)  # nothing before the first token: uniform
    assert_allclose(w[0, 3, 2], e4 / (e4 + 7))  # "the" (4th) looks at "saw"
    assert_allclose(w[1, 7], 1 / 8)  # nothing after the last token
    assert_allclose(w[2, 0, [0, 3, 6]], e4 / (3 * e4 + 5))  # the three "the"s
    assert_allclose(w[3], 1 / 8)
    assert not layer.bias


def test_mean_pool_with_as_many_heads_changes_nothing():
    layer = ac.MultiHeadAttention(12, 6, n_kv_heads=3, seed=4)
    rng = np.random.default_rng(5)
    layer.b_k, layer.b_v = rng.standard_normal((2, 6))
    same = mean_pool_kv_heads(layer, 3)
    x = rng.standard_normal((2, 5, 12))
    assert_allclose(same(x)[0], layer(x)[0], atol=1e-12)
    assert same is not layer and same.w_k is not layer.w_k


def test_mean_pool_is_the_average_of_each_group():
    layer = ac.MultiHeadAttention(16, 4, seed=2)
    pooled = mean_pool_kv_heads(layer, 2)
    for g in range(2):  # new head g averages old heads 2g and 2g + 1, a plain loop
        for name in ("w_k", "w_v"):
            old = getattr(layer, name)
            expected = (old[:, (2 * g) * 4:(2 * g + 1) * 4] + old[:, (2 * g + 1) * 4:(2 * g + 2) * 4]) / 2
            assert_allclose(getattr(pooled, name)[:, g * 4:(g + 1) * 4], expected)
    assert_array_equal(pooled.w_q, layer.w_q)
    assert_array_equal(pooled.w_o, layer.w_o)
    assert pooled.n_kv_heads == 2 and pooled.group_size == 2


def test_pooling_heads_with_equal_keys_keeps_their_maps():
    """Heads 1 and 2 of the planted layer read the same keys: sharing them loses nothing."""
    layer = planted_heads()
    x = word_position_codes(SENTENCE)
    _, w4 = layer(x)
    _, w2 = mean_pool_kv_heads(layer, 2)(x)
    assert_allclose(w2[:2], w4[:2], atol=1e-12)
    assert_allclose(w2[3], w4[3])
    assert w2[2, 0, 0] < w4[2, 0, 0]  # the same-word head shares with a head of zero keys: softer
    _, w1 = mean_pool_kv_heads(layer, 1)(x)
    assert w1[0, 1, 0] < w4[0, 1, 0]


TINY = {"parameters": 1000, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "d_head": 3}


def test_decode_step_bytes_by_hand():
    step = decode_step_bytes(5, batch=7, bytes_per_number=4, **TINY)
    assert step == {"weights": 1000 * 4, "cache": 2 * 2 * 2 * 3 * 5 * 7 * 4}  # keys+values, layers, kv heads


def test_decode_step_bytes_cache_agrees_with_the_library_formula():
    for shape in (LLAMA2_7B, LLAMA2_70B):
        for context, batch in [(1, 1), (4096, 1), (1000, 16)]:
            step = decode_step_bytes(context, batch=batch, **shape)
            assert step["cache"] == ac.kv_cache_bytes(context, n_layers=shape["n_layers"], batch=batch,
                                                      n_kv_heads=shape["n_kv_heads"], d_head=shape["d_head"])


def test_published_shapes_match_their_parameter_counts():
    """d_model = n_heads * d_head: 4096 and 8192, the widths of Llama 2 7B and 70B."""
    assert LLAMA2_7B["n_heads"] * LLAMA2_7B["d_head"] == 4096
    assert LLAMA2_70B["n_heads"] * LLAMA2_70B["d_head"] == 8192
    assert LLAMA2_70B["n_kv_heads"] == 8 and LLAMA2_7B["n_kv_heads"] == LLAMA2_7B["n_heads"]


def test_crossover_is_where_cache_equals_weights():
    for shape in (LLAMA2_7B, LLAMA2_70B, TINY):
        tokens = cache_crossover_tokens(**shape)
        for batch in (1, 2, 8):
            below, above = int(tokens // batch), int(tokens // batch) + 1
            assert decode_step_bytes(below, batch=batch, **shape)["cache"] <= shape["parameters"] * 2
            assert decode_step_bytes(above, batch=batch, **shape)["cache"] > shape["parameters"] * 2 * (1 - 1e-12)
    assert cache_crossover_tokens(**TINY) == 1000 / (2 * 2 * 2 * 3)


def test_decode_step_flops_by_hand_and_intensity_one_at_batch_one():
    step = decode_step_flops(5, batch=3, **TINY)
    assert step == {"weights": 2 * 1000 * 3, "attention": 4 * 2 * 4 * 3 * 5 * 3}
    flops = decode_step_flops(1, **LLAMA2_7B)["weights"]
    assert flops / decode_step_bytes(1, **LLAMA2_7B)["weights"] == 1.0  # 2 flops, 2 bytes a weight


def test_generation_flops_equals_a_loop_over_steps():
    n = 6
    cached = uncached = 0
    for t in range(1, n + 1):  # the step with t tokens
        attend_one = 4 * 2 * 4 * 3 * t  # one query over t keys, every layer and head
        cached += 2 * 1000 + attend_one
        uncached += 2 * 1000 * t + sum(4 * 2 * 4 * 3 * i for i in range(1, t + 1))  # causal prefix
    assert generation_flops(n, **TINY) == cached
    assert generation_flops(n, cached=False, **TINY) == uncached
    assert generation_flops(1, cached=False, **TINY) == generation_flops(1, **TINY)


def test_flops_per_byte_by_hand():
    """TINY, context 5, batch 7, 2 bytes: (2*1000*7 + 4*2*4*3*5*7) FLOPs over (1000 + 2*2*2*3*5*7) * 2 bytes."""
    assert decode_flops_per_byte(5, batch=7, **TINY) == (14_000 + 3_360) / ((1000 + 840) * 2)
    assert decode_flops_per_byte(5, batch=7, bytes_per_number=4, **TINY) == (14_000 + 3_360) / ((1000 + 840) * 4)


def test_flops_per_byte_grows_with_the_batch_towards_its_limit():
    """The limit c/n + h/h_kv (2-byte numbers), approached from below as the batch grows."""
    for shape in (LLAMA2_7B, LLAMA2_70B, TINY):
        c = cache_crossover_tokens(**shape)
        for context in (3, 64, 4096):
            limit = c / context + shape["n_heads"] / shape["n_kv_heads"]
            values = [decode_flops_per_byte(context, batch=b, **shape) for b in (1, 4, 64, 1024, 10**9)]
            assert all(a < b for a, b in zip(values, values[1:]))
            assert values[-1] < limit and values[-1] == pytest.approx(limit, rel=1e-3)


def test_memory_bound_context_by_hand():
    """TINY, 10 FLOPs per byte, 2 bytes: 1000 / (2 * 3 * (2 * 2 * 10 - 2 * 4)) = 1000 / 192."""
    threshold = memory_bound_context(10.0, **TINY)
    assert threshold == 1000 / 192
    # context 5 (below): the limit at large batch is (2000 + 480) / 240 > 10, so a big batch is compute-bound;
    # context 6 (above): (2000 + 576) / 288 < 10 at every batch.
    assert decode_flops_per_byte(5, batch=10**9, **TINY) > 10
    assert max(decode_flops_per_byte(6, batch=b, **TINY) for b in (1, 10, 10**3, 10**9)) < 10
    assert memory_bound_context(4.0, **TINY) == 1000 / (2 * 3 * (2 * 2 * 4 - 8))
    # 2 FLOPs per byte: the cache alone does h / h_kv = 2 FLOPs per byte, so no context is memory-bound
    # at every batch
    assert memory_bound_context(2.0, **TINY) == float("inf")


def test_kv_sharing_speedup_by_hand():
    assert kv_sharing_speedup(0.5, n_heads=4, n_kv_heads=1) == 1 / (0.5 + 0.5 / 4)
    assert kv_sharing_speedup(0.0, n_heads=32, n_kv_heads=8) == 1.0  # no cache: nothing gained
    assert kv_sharing_speedup(1.0, n_heads=32, n_kv_heads=1) == 32.0  # all cache: the whole factor


def test_kv_sharing_speedup_is_the_ratio_of_step_bytes():
    """The formula equals (bytes with h key/value heads) / (bytes with h_kv), the weights unchanged."""
    for context, batch in [(2048, 64), (4096, 1), (100, 3)]:
        before = decode_step_bytes(context, batch=batch, **LLAMA2_7B)
        after = decode_step_bytes(context, batch=batch, **{**LLAMA2_7B, "n_kv_heads": 8})
        share = before["cache"] / sum(before.values())
        assert kv_sharing_speedup(share, n_heads=32, n_kv_heads=8) == pytest.approx(
            sum(before.values()) / sum(after.values()), rel=1e-12)


def test_vocabulary_is_a_small_share_of_the_7b_model():
    assert 0.01 < LLAMA2_VOCABULARY * 4096 / LLAMA2_7B["parameters"] < 0.03


@pytest.mark.parametrize("call, error, message", [
    (lambda: decode_step_bytes(0, **TINY), ValueError, "context"),
    (lambda: decode_step_bytes(4, **{**TINY, "n_kv_heads": 3}), ValueError, "n_kv_heads=3 does not divide"),
    (lambda: decode_step_flops(4, batch=1.5, **TINY), TypeError, "batch"),
    (lambda: cache_crossover_tokens(**{**TINY, "parameters": -1}), ValueError, "parameters"),
    (lambda: generation_flops(3, cached="no", **TINY), TypeError, "cached"),
    (lambda: decode_flops_per_byte(0, **TINY), ValueError, "context"),
    (lambda: memory_bound_context(0.0, **TINY), ValueError, "flops_per_byte"),
    (lambda: memory_bound_context(10.0, bytes_per_number=0, **TINY), ValueError, "bytes_per_number"),
    (lambda: kv_sharing_speedup(1.5, n_heads=4, n_kv_heads=2), ValueError, "cache_share must be in"),
    (lambda: kv_sharing_speedup(0.5, n_heads=4, n_kv_heads=3), ValueError, "n_kv_heads=3 does not divide"),
    (lambda: word_position_codes("the cat"), TypeError, "sequence of strings"),
    (lambda: word_position_codes([], width=4), ValueError, "at least one token"),
    (lambda: word_position_codes(list("abcde"), width=4), ValueError, "got 5"),
    (lambda: planted_heads(d_head=0), ValueError, "d_head must be >= 1"),
    (lambda: planted_heads(strength=-1.0), ValueError, "strength must be a finite number > 0"),
    (lambda: mean_pool_kv_heads("layer", 1), TypeError, "must be a MultiHeadAttention"),
    (lambda: mean_pool_kv_heads(ac.MultiHeadAttention(8, 4), 3), ValueError, "n_kv_heads=3 does not divide"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
