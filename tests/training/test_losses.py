"""attn_core.training.losses: cross-entropy, accuracy and the gradient of a table lookup."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.training.gradient_check import gradient_check
from attn_core.training.losses import accuracy, cross_entropy, embedding_backward


def test_cross_entropy_by_hand_and_its_gradient():
    assert_allclose(cross_entropy([[0.0, 0.0, 0.0]], [2])[0], np.log(3))
    loss, grad = cross_entropy([[np.log(3.0), 0.0]], [0])  # softmax = (3/4, 1/4)
    assert_allclose(loss, -np.log(0.75))
    assert_allclose(grad, [[-0.25, 0.25]])
    rng = np.random.default_rng(2)
    params = {"z": rng.standard_normal((6, 4))}
    y = rng.integers(0, 4, 6)
    _, grad = cross_entropy(params["z"], y)
    assert gradient_check(lambda: cross_entropy(params["z"], y)[0], params, {"z": grad}) < 1e-7


def test_cross_entropy_over_positions_is_the_mean_over_every_prediction():
    rng = np.random.default_rng(3)
    z, y = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, (3, 4))
    loss, grad = cross_entropy(z, y)
    flat_loss, flat_grad = cross_entropy(z.reshape(12, 5), y.reshape(12))
    assert_allclose(loss, flat_loss)
    assert grad.shape == (3, 4, 5)
    assert_allclose(grad.reshape(12, 5), flat_grad)
    by_loop = np.mean([-np.log(np.exp(z[b, t, y[b, t]]) / np.exp(z[b, t]).sum())
                       for b in range(3) for t in range(4)])
    assert_allclose(loss, by_loop)


def test_accuracy_counts_the_argmax():
    assert accuracy([[1, 0], [0, 1], [1, 0]], [0, 1, 1]) == pytest.approx(2 / 3)
    assert accuracy([[[0.0, 1.0], [2.0, 0.0]]], [[1, 0]]) == 1.0


def test_embedding_backward_adds_the_rows_that_read_each_entry():
    rng = np.random.default_rng(4)
    indices, grad = rng.integers(0, 5, (3, 4)), rng.standard_normal((3, 4, 2))
    expected = np.zeros((5, 2))
    for i in range(3):
        for j in range(4):
            expected[indices[i, j]] += grad[i, j]
    assert_allclose(embedding_backward(5, indices, grad), expected)


@pytest.mark.parametrize("call, error, message", [
    (lambda: cross_entropy([[0.0, 1.0]], [2]), ValueError, r"labels must lie in 0\.\.1; got 2"),
    (lambda: cross_entropy([[0.0, 1.0]], [-1]), ValueError, r"labels must lie in 0\.\.1; got -1"),
    (lambda: cross_entropy([[0.0, 1.0]], [0.5]), TypeError, r"labels must hold whole numbers"),
    (lambda: cross_entropy([[0.0, 1.0]], [True]), TypeError, r"labels must hold whole numbers"),
    (lambda: cross_entropy([[0.0, 1.0]], None), TypeError, r"labels must be an array of whole numbers, got None"),
    (lambda: cross_entropy([[0.0, 1.0]], "0"), TypeError, r"labels .*string"),
    (lambda: cross_entropy([[0.0, 1.0]], [0, 1]), ValueError, r"labels must be integers of shape .*\(1,\); got shape \(2,\)"),
    (lambda: cross_entropy(None, [0]), TypeError, r"logits must be an array of numbers, got None"),
    (lambda: cross_entropy([[1j, 0]], [0]), TypeError, r"logits must hold real numbers"),
    (lambda: cross_entropy(np.zeros((0, 3)), np.zeros(0, int)), ValueError, r"logits must have at least one row"),
    (lambda: accuracy([[0.0, 1.0]], [3]), ValueError, r"labels must lie in 0\.\.1"),
    (lambda: accuracy("ab", [0]), TypeError, r"logits .*string"),
    (lambda: embedding_backward(3, [0, 3], [[1.0], [1.0]]), ValueError, r"indices must lie in 0\.\.2; got 3"),
    (lambda: embedding_backward(3, [0, -1], [[1.0], [1.0]]), ValueError, r"indices must lie in 0\.\.2; got -1"),
    (lambda: embedding_backward(3, [0.0, 1.0], [[1.0], [1.0]]), TypeError, r"indices must hold whole numbers"),
    (lambda: embedding_backward(3, [0, 1], [1.0, 1.0]), ValueError, r"grad must have shape indices.shape \+ \(d,\)"),
    (lambda: embedding_backward(0, [0], [[1.0]]), ValueError, r"n_rows must be >= 1"),
    (lambda: embedding_backward(2.0, [0], [[1.0]]), TypeError, r"n_rows must be a whole number"),
])
def test_bad_input_is_refused_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
