"""attn_core.experiments.sdpa: a sentence's weights with queries and keys made three ways."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from attn_core.experiments.sdpa import PROJECTIONS, projection_weights, self_peaks

matrices = arrays(np.float64, st.tuples(st.integers(2, 6), st.just(4)), elements=st.floats(-3, 3))


def by_hand(q, k):
    """Scores and a softmax written out with a loop over rows."""
    s = q @ k.T / np.sqrt(q.shape[1])
    w = np.array([np.exp(r - r.max()) / np.exp(r - r.max()).sum() for r in s])
    return s, w


def test_the_three_ways_by_hand():
    rng = np.random.default_rng(1)
    x, w_q, w_k = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for projection, (q, k) in zip(PROJECTIONS, [(x, x), (x @ w_k, x @ w_k), (x @ w_q, x @ w_k)]):
        scores, weights = projection_weights(x, w_q, w_k, projection)
        expected_scores, expected_weights = by_hand(q, k)
        assert_allclose(scores, expected_scores)
        assert_allclose(weights, expected_weights)


@given(matrices)
def test_a_shared_projection_gives_symmetric_scores_bounded_by_the_diagonal(x):
    w = np.random.default_rng(0).standard_normal((4, 3))
    scores, _ = projection_weights(x, w, w, "one matrix, W_Q = W_K")
    assert_allclose(scores, scores.T, atol=1e-9)
    diagonal = np.diag(scores)  # Cauchy-Schwarz: s_ij <= sqrt(s_ii s_jj)
    assert (scores <= np.sqrt(np.outer(diagonal, diagonal)) + 1e-9).all()


def test_separate_projections_can_be_asymmetric_and_look_past_the_token():
    x = np.eye(3)
    w_q = np.array([[0.0], [0.0], [3.0]])  # only token 2 asks
    w_k = np.array([[3.0], [0.0], [0.0]])  # only token 0 answers
    scores, weights = projection_weights(x, w_q, w_k, "separate W_Q and W_K")
    assert scores[2, 0] == 9.0 and scores[0, 2] == 0.0
    assert weights[2].argmax() == 0
    assert self_peaks(weights) == 1  # row 0 ties everywhere: argmax picks itself; the rest do not peak on themselves


def test_self_peaks_counts_diagonal_maxima():
    assert self_peaks(np.eye(4)) == 4
    assert self_peaks(np.full((3, 3), 1 / 3) + np.array([[0, 0.1, 0]] * 3)) == 1


@pytest.mark.parametrize("call, error, message", [
    (lambda: projection_weights(np.eye(3), np.ones((3, 2)), np.ones((3, 2)), "both"), ValueError, "projection must be one of"),
    (lambda: projection_weights(np.eye(3), np.ones((2, 2)), np.ones((2, 2)), PROJECTIONS[2]), ValueError, "d_model = 3"),
    (lambda: projection_weights(np.eye(3), np.ones((3, 2)), np.ones((3, 1)), PROJECTIONS[2]), ValueError, "w_q and w_k"),
    (lambda: projection_weights(None, np.ones((3, 2)), np.ones((3, 2)), PROJECTIONS[2]), TypeError, "x must be"),
    (lambda: self_peaks(np.ones((2, 3))), ValueError, "square"),
])
def test_bad_input_is_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()
