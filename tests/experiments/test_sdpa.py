"""attn_core.experiments.sdpa: one sentence's weights at a chosen score scale."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.experiments.sdpa import scaled_weights


def test_scaled_weights_by_hand():
    queries = np.array([[1.0, 0.0], [0.0, 2.0]])
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    weights, used = scaled_weights(queries, keys, 0.5)
    for row, q in zip(weights, queries):
        e = [math.exp(0.5 * (q[0] * k[0] + q[1] * k[1])) for k in keys]
        assert_allclose(row, [x / sum(e) for x in e])
    assert_allclose(used, queries)
    assert_allclose(scaled_weights(queries, keys, 0.0)[0], np.full((2, 3), 1 / 3))


def test_a_typed_query_replaces_one_row_and_leaves_the_input_alone():
    queries = np.zeros((2, 2))
    weights, used = scaled_weights(queries, np.eye(2), 1.0, query=1, query_vector=[math.log(3.0), 0.0])
    assert_allclose(weights, [[0.5, 0.5], [0.75, 0.25]])
    assert_allclose(used[1], [math.log(3.0), 0.0])
    assert (queries == 0).all()
    with pytest.raises(ValueError, match="give query"):
        scaled_weights(queries, np.eye(2), 1.0, query_vector=[1.0, 0.0])


def test_scale_zero_gives_uniform_weights_and_a_negative_scale_is_refused():
    weights, _ = scaled_weights(np.eye(3), np.eye(3), 0.0)
    assert_allclose(weights, np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"scale must be in \[0, inf\)"):
        scaled_weights(np.eye(3), np.eye(3), -1.0)
    with pytest.raises(TypeError, match="scale must be a real number"):
        scaled_weights(np.eye(3), np.eye(3), None)


def test_nan_in_a_query_comes_out_as_nan_in_its_row_only():
    queries = np.eye(3)
    queries[1, 0] = np.nan
    weights, _ = scaled_weights(queries, np.eye(3), 1.0)
    assert np.isnan(weights[1]).all()
    assert not np.isnan(weights[[0, 2]]).any()
