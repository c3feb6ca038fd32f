"""Hand-written backward passes against finite differences, and training that reaches its accuracy."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.experiments.data import associative_recall
from attn_core.training.adam import Adam
from attn_core.training.gradient_check import gradient_check
from attn_core.training.loop import train
from attn_core.training.losses import accuracy, cross_entropy
from attn_core.training.models import AttentionReader, PoolingReader, RecurrentReader


def test_softmax_backward_matches_the_jacobian():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(5)
    a = ac.softmax(s)
    jacobian = np.diag(a) - np.outer(a, a)
    g = rng.standard_normal(5)
    assert_allclose(ac.softmax_backward(a, g), jacobian.T @ g, atol=1e-12)


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

    out, w = ac.scaled_dot_product_attention(params["q"], params["k"], params["v"], mask=mask)
    dq, dk, dv = ac.scaled_dot_product_attention_backward(params["q"], params["k"], params["v"], w, grad_out)
    assert dq.shape == params["q"].shape
    assert gradient_check(loss, params, {"q": dq, "k": dk, "v": dv}, samples=30) < 1e-6


def test_cross_entropy_gradient():
    rng = np.random.default_rng(2)
    params = {"z": rng.standard_normal((6, 4))}
    y = rng.integers(0, 4, 6)
    _, grad = cross_entropy(params["z"], y)
    assert gradient_check(lambda: cross_entropy(params["z"], y)[0], params, {"z": grad}) < 1e-7
    assert_allclose(cross_entropy([[0.0, 0.0, 0.0]], [2])[0], np.log(3))


@pytest.mark.parametrize("model_cls", [AttentionReader, RecurrentReader, PoolingReader])
@pytest.mark.parametrize("ordered", [False, True])
def test_every_reader_backward_by_finite_differences(model_cls, ordered):
    data = associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3, ordered=ordered)
    model = model_cls(8, 4, width=8, seed=1)
    logits, cache = model.forward(data)
    _, grad = cross_entropy(logits, data["labels"])
    grads = model.backward(cache, grad)
    assert set(grads) == set(model.params)
    error = gradient_check(lambda: cross_entropy(model.forward(data)[0], data["labels"])[0],
                           model.params, grads, samples=15)
    assert error < 1e-6


def test_gradient_check_catches_a_wrong_gradient():
    data = associative_recall(6, n_pairs=5, n_keys=8, n_values=4, seed=3)
    model = AttentionReader(8, 4, width=8, seed=1)
    logits, cache = model.forward(data)
    grads = model.backward(cache, cross_entropy(logits, data["labels"])[1])
    grads["w_k"] = grads["w_k"] * 1.5
    assert gradient_check(lambda: cross_entropy(model.forward(data)[0], data["labels"])[0],
                          model.params, grads) > 0.1


def test_attention_reader_learns_recall_by_content():
    """Seed 0: the attention reader solves the task; chance is 1/4."""
    train_set = associative_recall(2000, n_pairs=6, n_keys=12, n_values=4, seed=10)
    test_set = associative_recall(500, n_pairs=6, n_keys=12, n_values=4, seed=11)
    model = AttentionReader(12, 4, width=16, seed=0)
    history = train(model, train_set, test_set, steps=400, lr=1e-2, eval_every=400, progress=False)
    assert history.test_accuracy[-1] >= 0.97


def test_pooling_reader_cannot_bind_keys_to_values():
    train_set = associative_recall(2000, n_pairs=6, n_keys=12, n_values=4, seed=10)
    test_set = associative_recall(500, n_pairs=6, n_keys=12, n_values=4, seed=11)
    model = PoolingReader(12, 4, width=16, seed=0)
    history = train(model, train_set, test_set, steps=400, lr=1e-2, eval_every=400, progress=False)
    assert history.test_accuracy[-1] < 0.6


def test_progress_is_printed(capsys):
    data = associative_recall(64, n_pairs=3, n_keys=4, n_values=2, seed=0)
    train(AttentionReader(4, 2, width=4), data, steps=4, batch_size=16, eval_every=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "step    4/4" in lines[-1] and lines[-1].startswith("[####")
    assert max(len(line) for line in lines) <= 64  # fits the page's code width


def test_adam_and_accuracy():
    p = {"w": np.array([5.0, -3.0])}
    opt = Adam(p, lr=0.1)
    for _ in range(500):
        opt.step({"w": 2 * p["w"]})
    assert np.abs(p["w"]).max() < 0.05
    assert accuracy([[1, 0], [0, 1], [1, 0]], [0, 1, 1]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: cross_entropy([[0.0, 1.0]], [2]), ValueError, r"labels must lie in 0..1"),
    (lambda: cross_entropy([[0.0, 1.0]], [0.5]), ValueError, r"labels must be integers"),
    (lambda: associative_recall(4, n_pairs=5, n_keys=3, n_values=2), ValueError, r"n_keys=3 must be >= n_pairs=5"),
    (lambda: associative_recall(4, n_pairs=5, n_keys=8, n_values=2, distance=6), ValueError, r"distance must lie in 1..n_pairs=5"),
    (lambda: train(AttentionReader(4, 2), associative_recall(8, n_pairs=3, n_keys=4, n_values=2), batch_size=16),
     ValueError, r"batch_size=16 is larger than the training set \(8 examples\)"),
    (lambda: AttentionReader(0, 2), ValueError, r"n_keys must be >= 1"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_callback_sees_each_evaluation():
    data = associative_recall(64, n_pairs=3, n_keys=4, n_values=2, seed=0)
    seen = []
    train(AttentionReader(4, 2, width=4), data, steps=6, batch_size=16, eval_every=3, progress=False,
          callback=lambda step, model: seen.append((step, model.params["w_q"].copy())))
    assert [s for s, _ in seen] == [3, 6] and not np.allclose(seen[0][1], seen[1][1])
