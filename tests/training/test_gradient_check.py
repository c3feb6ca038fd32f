"""attn_core.training.gradient_check: right and wrong gradients, and what it refuses."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.training.gradient_check import gradient_check


def test_right_gradient_scores_near_zero_and_wrong_one_near_one():
    w = {"w": np.array([1.0, -2.0, 0.5])}
    loss = lambda: float((w["w"] ** 3).sum())
    assert gradient_check(loss, w, {"w": 3 * w["w"] ** 2}) < 1e-8
    assert gradient_check(loss, w, {"w": -3 * w["w"] ** 2}) == pytest.approx(1.0)
    assert_allclose(w["w"], [1.0, -2.0, 0.5])  # restored


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("q_shape", [(2, 4, 3), (2, 1, 3), (4, 3)])
def test_attention_backward_by_finite_differences(causal, q_shape):
    rng = np.random.default_rng(1)
    n_q = q_shape[-2]
    params = {"q": rng.standard_normal(q_shape), "k": rng.standard_normal((2, 5, 3)),
              "v": rng.standard_normal((2, 5, 2))}
    grad_out = rng.standard_normal((2, n_q, 2))
    mask = ac.causal_mask(n_q, 5) if causal else None

    def loss():
        out, _ = ac.scaled_dot_product_attention(params["q"], params["k"], params["v"], mask=mask)
        return float((out * grad_out).sum())

    _, w = ac.scaled_dot_product_attention(params["q"], params["k"], params["v"], mask=mask)
    dq, dk, dv = ac.scaled_dot_product_attention_backward(params["q"], params["k"], params["v"], w, grad_out)
    assert dq.shape == params["q"].shape
    assert gradient_check(loss, params, {"q": dq, "k": dk, "v": dv}, samples=30) < 1e-6


def test_softmax_backward_matches_the_jacobian():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(5)
    a = ac.softmax(s)
    jacobian = np.diag(a) - np.outer(a, a)
    g = rng.standard_normal(5)
    assert_allclose(ac.softmax_backward(a, g), jacobian.T @ g, atol=1e-12)


def test_nan_loss_is_refused_not_scored_perfect():
    w = {"w": np.array([1.0, 2.0])}
    with pytest.raises(ValueError, match=r"loss\(\) returned nan at the given parameters"):
        gradient_check(lambda: float("nan"), w, {"w": np.zeros(2)})
    # a loss that turns NaN only when a parameter moves
    with pytest.raises(ValueError, match=r"loss\(\) returned nan with w\[0\] moved by \+eps"):
        gradient_check(lambda: float(np.sqrt(1.0 - w["w"][0])) if w["w"][0] <= 1 else float("nan"),
                       w, {"w": np.zeros(2)})
    assert_allclose(w["w"], [1.0, 2.0])  # restored even so


W = {"w": np.array([1.0, 2.0])}
LOSS = lambda: float((W["w"] ** 2).sum())
GRADS = {"w": 2 * W["w"]}


@pytest.mark.parametrize("call, error, message", [
    (lambda: gradient_check(LOSS, W, GRADS, eps=0), ValueError, r"eps must be a finite number > 0, got 0"),
    (lambda: gradient_check(LOSS, W, GRADS, eps=float("nan")), ValueError, r"eps must be a finite number > 0"),
    (lambda: gradient_check(LOSS, W, GRADS, eps="1e-5"), TypeError, r"eps must be a positive real number"),
    (lambda: gradient_check(LOSS, W, GRADS, floor=-1.0), ValueError, r"floor must be a finite number > 0"),
    (lambda: gradient_check(LOSS, W, GRADS, samples=0), ValueError, r"samples must be >= 1"),
    (lambda: gradient_check(LOSS, W, GRADS, samples=2.0), TypeError, r"samples must be a whole number"),
    (lambda: gradient_check(LOSS, W, GRADS, seed=-1), ValueError, r"seed must be >= 0"),
    (lambda: gradient_check(None, W, GRADS), TypeError, r"loss must be a function"),
    (lambda: gradient_check(lambda: "x", W, GRADS), TypeError, r"loss\(\) must return a real number"),
    (lambda: gradient_check(LOSS, None, GRADS), TypeError, r"params must be a non-empty dict"),
    (lambda: gradient_check(LOSS, W, {}), TypeError, r"grads must be a non-empty dict"),
    (lambda: gradient_check(LOSS, W, {"u": np.zeros(2)}), ValueError, r"missing \['w'\], unknown \['u'\]"),
    (lambda: gradient_check(LOSS, W, {"w": np.zeros(3)}), ValueError, r"grads\['w'\] has shape \(3,\), the parameter \(2,\)"),
    (lambda: gradient_check(LOSS, W, {"w": np.array([np.inf, 0])}), ValueError, r"grads\['w'\] is not finite"),
    (lambda: gradient_check(LOSS, {"w": [1.0, 2.0]}, GRADS), TypeError, r"params\['w'\] must be a float ndarray"),
    (lambda: gradient_check(LOSS, {"w": np.zeros(0)}, {"w": np.zeros(0)}), ValueError, r"params\['w'\] is empty"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()
