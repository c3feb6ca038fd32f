"""Nadaraya-Watson pooling: attention before deep learning."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.experiments.qkv import regression_data


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
    assert_allclose(w, [[0.5, 0.5]])  # the query is equally far from both points


def test_kernel_scores_by_hand():
    scores, mask = ac.kernel_scores([0.0], [0.0, 1.0, 3.0], bandwidth=2.0)
    assert_allclose(scores, [[0.0, -1 / 8, -9 / 8]])
    assert mask is None
    _, mask = ac.kernel_scores([[0.0, 0.0]], [[0.6, 0.8], [1.0, 1.0]], bandwidth=1.0, kernel="boxcar")
    assert_array_equal(mask, [[True, False]])  # distances 1 and sqrt(2)


def test_nan_in_the_data_comes_out_as_nan():
    pred, w = ac.nadaraya_watson([0.0, np.nan], [0.0, 1.0], [1.0, 2.0], bandwidth=1.0)
    assert np.isfinite(pred[0]) and np.isnan(pred[1]) and np.isnan(w[1]).all()


@pytest.mark.parametrize("call, error, message", [
    (lambda: ac.nadaraya_watson([0.0], [0.0, 1.0], [1.0], bandwidth=1.0), ValueError,
     r"one output per input: x_train has 2 points, y_train has shape \(1,\)"),
    (lambda: ac.nadaraya_watson([0.0], [0.0], [1.0], bandwidth=0.0), ValueError, r"bandwidth must be a finite number > 0"),
    (lambda: ac.nadaraya_watson([0.0], [0.0], [1.0], bandwidth=float("nan")), ValueError, r"bandwidth must be a finite number > 0"),
    (lambda: ac.nadaraya_watson([0.0], [0.0], [1.0], bandwidth=None), TypeError, r"bandwidth must be a positive real number"),
    (lambda: ac.nadaraya_watson([0.0], [0.0], [1.0], bandwidth=1.0, kernel="cosine"), ValueError,
     r"kernel must be one of 'gaussian', 'boxcar'; got 'cosine'"),
    (lambda: ac.nadaraya_watson([0.0], [0.0], [1.0], bandwidth=1.0, kernel=None), ValueError, r"kernel must be one of"),
    (lambda: ac.nadaraya_watson([], [0.0], [1.0], bandwidth=1.0), ValueError, r"x_query must not be empty"),
    (lambda: ac.nadaraya_watson([0.0], [], [], bandwidth=1.0), ValueError, r"x_train must not be empty"),
    (lambda: ac.nadaraya_watson([0.0], [0.0], [np.inf], bandwidth=1.0), ValueError, r"y_train contains inf at index \(0,\)"),
    (lambda: ac.nadaraya_watson([0.0], [0.0], np.ones((1, 1, 1)), bandwidth=1.0), ValueError, r"y_train must have at most 2"),
    (lambda: ac.nadaraya_watson([[0.0, 1.0]], [0.0], [1.0], bandwidth=1.0), ValueError,
     r"x_query and x_train must be points of the same dimension"),
    (lambda: ac.nadaraya_watson("0", [0.0], [1.0], bandwidth=1.0), TypeError, r"x_query must be an array of numbers"),
    (lambda: ac.kernel_scores([[0.0, 1.0]], [0.0], bandwidth=1.0), ValueError, r"same dimension: queries \(1, 2\), keys \(1, 1\)"),
    (lambda: ac.kernel_scores(np.ones((1, 1, 1)), [0.0], bandwidth=1.0), ValueError, r"queries must have at most 2 dimensions"),
    (lambda: ac.kernel_scores([0.0], [-np.inf], bandwidth=1.0), ValueError, r"keys contains -inf"),
    (lambda: ac.kernel_scores([0.0], [0.0], bandwidth=1.0, kernel=["gaussian"]), ValueError, r"kernel must be one of"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
