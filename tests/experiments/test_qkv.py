"""The toy regression data of chapter 2 (queries, keys and values)."""

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from attn_core.experiments.qkv import regression_data, regression_target


def test_regression_data_is_seeded():
    a = regression_data(10, seed=5)
    b = regression_data(10, seed=5)
    c = regression_data(10, seed=6)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])  # before: after `and`, this check never ran
    assert not np.array_equal(a[0], c[0])
    assert_allclose(regression_data(10, noise=0.0, seed=5)[1], regression_target(a[0]))


# ---------------------------------------------------------- one kernel width, measured (the explorer's maths)
from attn_core.experiments.qkv import kernel_regression_fit  # noqa: E402


def test_kernel_regression_fit_by_hand():
    # boxcar of width 1: query 0 sees x = 0 and 1, query 10 sees nothing, held-out 0.5 sees both
    fit = kernel_regression_fit([0.0, 10.0], [0.0, 1.0, 3.0], [1.0, 3.0, 7.0], [0.5, 3.0], [2.5, 6.0],
                                bandwidth=1.0, kernel="boxcar")
    assert_allclose(fit["weights"], [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    assert_allclose(fit["prediction"], [2.0, 0.0])
    assert fit["empty_queries"] == 1
    assert fit["effective_points"] == 2.0  # the one non-empty row is uniform over 2 points
    assert fit["heldout_error"] == np.mean([(2.0 - 2.5) ** 2, (7.0 - 6.0) ** 2])
    assert fit["largest_weight"] == 0.5


def test_kernel_regression_fit_wide_gaussian_uses_every_point():
    x, y = regression_data(20, seed=3)
    fit = kernel_regression_fit([2.5], x, y, x, y, bandwidth=1e6)
    assert_allclose(fit["weights"], np.full((1, 20), 1 / 20))
    assert abs(fit["effective_points"] - 20.0) < 1e-9  # exp(entropy of a uniform row) = 20
    assert fit["empty_queries"] == 0
