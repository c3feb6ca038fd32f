"""attn_core.experiments.multihead: one-hot word/position codes, planted heads, mean-pooled key/value heads."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.experiments.multihead import (
    PLANTED_HEAD_NAMES,
    mean_pool_kv_heads,
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


@pytest.mark.parametrize("call, error, message", [
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
