"""attn_core.training.adam: the optimiser, by hand and on bad settings."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from attn_core.training.adam import Adam, clip_by_global_norm


def test_first_step_moves_each_entry_by_lr_against_its_gradient_sign():
    # after one step m_hat = g and v_hat = g**2, so the update is lr * g / (|g| + eps)
    p = {"w": np.array([1.0, -2.0, 0.5])}
    Adam(p, lr=0.1, eps=1e-12).step({"w": np.array([3.0, -0.5, 0.0])})
    assert_allclose(p["w"], [0.9, -1.9, 0.5])


def test_adam_minimises_a_quadratic():
    p = {"w": np.array([5.0, -3.0])}
    opt = Adam(p, lr=0.1)
    for _ in range(500):
        opt.step({"w": 2 * p["w"]})
    assert np.abs(p["w"]).max() < 0.05


@pytest.mark.parametrize("kwargs, error, message", [
    ({"lr": 0.0}, ValueError, r"lr must be a finite number > 0, got 0.0"),
    ({"lr": float("nan")}, ValueError, r"lr must be a finite number > 0, got nan"),
    ({"lr": "0.1"}, TypeError, r"lr must be a positive real number"),
    ({"beta1": 1.0}, ValueError, r"beta1 must be in \[0, 1\), got 1.0"),
    ({"beta1": -0.1}, ValueError, r"beta1 must be in \[0, 1\), got -0.1"),
    ({"beta2": float("inf")}, ValueError, r"beta2 must be in \[0, 1\), got inf"),
    ({"beta2": True}, TypeError, r"beta2 must be a real number"),
    ({"eps": 0.0}, ValueError, r"eps must be a finite number > 0"),
    ({"eps": None}, TypeError, r"eps must be a positive real number"),
])
def test_bad_settings_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        Adam({"w": np.zeros(2)}, **kwargs)


@pytest.mark.parametrize("params, message", [
    (None, r"params must be a non-empty dict"),
    ({}, r"params must be a non-empty dict"),
    ({"w": [1.0, 2.0]}, r"params\['w'\] must be a float ndarray"),
    ({"w": np.array([1, 2])}, r"params\['w'\] must be a float ndarray"),
])
def test_bad_params_are_refused(params, message):
    with pytest.raises(TypeError, match=message):
        Adam(params)


@pytest.mark.parametrize("grads, error, message", [
    ([1.0], TypeError, r"grads must be a dict"),
    ({}, ValueError, r"missing \['w'\]"),
    ({"w": np.zeros(2), "u": np.zeros(1)}, ValueError, r"unknown \['u'\]"),
    ({"w": np.zeros(3)}, ValueError, r"grads\['w'\] has shape \(3,\), the parameter \(2,\)"),
    ({"w": np.array([np.nan, 0.0])}, ValueError, r"grads\['w'\] is not finite"),
    ({"w": np.array(["a", "b"])}, TypeError, r"grads\['w'\] must hold real numbers"),
])
def test_bad_gradients_are_refused_and_nothing_moves(grads, error, message):
    p = {"w": np.array([1.0, 2.0])}
    opt = Adam(p)
    with pytest.raises(error, match=message):
        opt.step(grads)
    assert_allclose(p["w"], [1.0, 2.0])
    assert opt.t == 0


def test_clipping_scales_every_gradient_by_one_factor():
    # norm = sqrt(1 + 4 + 4 + 16) = 5 over both arrays together; max_norm 2 -> factor 2/5
    grads = {"a": np.array([[1.0, 2.0]]), "b": np.array([2.0, 4.0])}
    clipped, norm = clip_by_global_norm(grads, 2.0)
    assert norm == 5.0
    assert_allclose(clipped["a"], [[0.4, 0.8]])
    assert_allclose(clipped["b"], [0.8, 1.6])
    assert_allclose(np.sqrt(sum((g**2).sum() for g in clipped.values())), 2.0)
    assert_allclose(grads["a"], [[1.0, 2.0]])  # the input is not changed


@pytest.mark.parametrize("max_norm", [5.0, 7.5])
def test_gradients_within_the_norm_are_unchanged(max_norm):
    grads = {"a": np.array([3.0]), "b": np.array([[0.0, -4.0]])}  # norm exactly 5
    clipped, norm = clip_by_global_norm(grads, max_norm)
    assert norm == 5.0
    assert clipped["a"].tolist() == [3.0] and clipped["b"].tolist() == [[0.0, -4.0]]


@pytest.mark.parametrize("grads, max_norm, error, message", [
    ({"a": np.ones(2)}, 0.0, ValueError, r"max_norm must be a finite number > 0, got 0.0"),
    ({"a": np.ones(2)}, None, TypeError, r"max_norm must be a positive real number"),
    ({}, 1.0, TypeError, r"grads must be a non-empty dict"),
    ([np.ones(2)], 1.0, TypeError, r"grads must be a non-empty dict"),
    ({"a": np.array([1.0, np.inf])}, 1.0, ValueError, r"grads\['a'\] is not finite"),
    ({"a": np.array([1.0, np.nan])}, 1.0, ValueError, r"grads\['a'\] is not finite"),
    ({"a": "text"}, 1.0, TypeError, r"grads\['a'\] must hold real numbers"),
])
def test_clipping_refuses_bad_input(grads, max_norm, error, message):
    with pytest.raises(error, match=message):
        clip_by_global_norm(grads, max_norm)
