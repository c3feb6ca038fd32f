"""Nadaraya-Watson pooling and the seeded toy data."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.experiments.data import embed_tokens
from attn_core.experiments.qkv import regression_data, regression_target
from attn_core.experiments.why_attention import key_value_memory, summary_readout


def nadaraya_watson_loop(xq, xs, ys, sigma):
    out = []
    for x in xq:
        k = [math.exp(-((x - xi) ** 2) / (2 * sigma**2)) for xi in xs]
        out.append(sum(ki * yi for ki, yi in zip(k, ys)) / sum(k))
    return out


def test_gaussian_matches_the_loop():
    x, y = regression_data(20, seed=3)
    xq = np.linspace(0, 5, 7)
    for sigma in (0.1, 0.5, 2.0):
        pred, w = ac.nadaraya_watson(xq, x, y, bandwidth=sigma)
        assert_allclose(pred, nadaraya_watson_loop(xq, x, y, sigma), atol=1e-10)
        assert_allclose(w.sum(1), 1.0)


def test_wide_kernel_averages_and_narrow_kernel_looks_up():
    x, y = regression_data(30, seed=0)
    wide, _ = ac.nadaraya_watson(x, x, y, bandwidth=1e4)
    assert_allclose(wide, y.mean(), atol=1e-6)
    narrow, w = ac.nadaraya_watson(x, x, y, bandwidth=1e-4)
    assert_allclose(narrow, y, atol=1e-6)
    assert_allclose(w, np.eye(30), atol=1e-6)


def test_boxcar_averages_neighbours():
    pred, w = ac.nadaraya_watson([0.0, 10.0], [0.0, 0.5, 2.0], [1.0, 3.0, 100.0], bandwidth=1.0, kernel="boxcar")
    assert_allclose(pred, [2.0, 0.0])  # 10.0 has no neighbour: zero weights, zero output
    assert_array_equal(w[1], 0.0)


def test_multidimensional_points_and_values():
    xs = np.array([[0.0, 0.0], [1.0, 1.0]])
    ys = np.array([[1.0, 0.0], [0.0, 1.0]])
    pred, w = ac.nadaraya_watson(np.array([[0.5, 0.5]]), xs, ys, bandwidth=1.0)
    assert_allclose(pred, [[0.5, 0.5]])


def test_regression_data_is_seeded():
    a = regression_data(10, seed=5)
    b = regression_data(10, seed=5)
    c = regression_data(10, seed=6)
    assert_array_equal(a[0], b[0]) and assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert_allclose(regression_data(10, noise=0.0, seed=5)[1], regression_target(a[0]))


def test_summary_readout_is_exact_for_orthogonal_keys_and_degrades_beyond_capacity():
    keys, values = np.eye(8), np.arange(8.0)
    assert_allclose(summary_readout(keys, values, keys), values, atol=1e-12)
    errors = []
    for n in (4, 64):
        keys, values = key_value_memory(n, 16, seed=0)
        errors.append(np.abs(summary_readout(keys, values, keys) - values).mean())
    assert errors[1] > 3 * errors[0]


def test_attention_reads_the_memory_that_the_summary_cannot():
    keys, values = key_value_memory(64, 16, seed=0)
    out, w = ac.scaled_dot_product_attention(keys, keys, values[:, None], scale=40.0)
    assert np.abs(out[:, 0] - values).mean() < 0.05
    assert (np.argmax(w, axis=1) == np.arange(64)).all()


def test_embed_tokens_depends_only_on_the_word():
    a = embed_tokens(["the", "cat"], 6, seed=1)
    b = embed_tokens(["dog", "the"], 6, seed=1)
    assert_array_equal(a[0], b[1])
    with pytest.raises(TypeError, match="sequence of strings"):
        embed_tokens("the cat", 4)
