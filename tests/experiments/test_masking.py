"""attn_core.experiments.masking: the toy data and the next-token model of chapter 7."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from attn_core.experiments.masking import (
    NextTokenModel,
    next_token_accuracy,
    repeated_sequences,
    train_next_token,
)
from attn_core.training.gradient_check import gradient_check


def test_repeated_sequences_repeat_and_are_seeded():
    s = repeated_sequences(50, half=4, vocab=5, seed=3)
    assert s.shape == (50, 8) and s.dtype.kind == "i"
    assert_array_equal(s[:, :4], s[:, 4:])
    assert s.min() >= 0 and s.max() <= 4
    assert_array_equal(s, repeated_sequences(50, half=4, vocab=5, seed=3))
    assert not np.array_equal(s, repeated_sequences(50, half=4, vocab=5, seed=4))
    with pytest.raises(ValueError, match="vocab must be >= 2"):
        repeated_sequences(3, vocab=1)
    with pytest.raises(ValueError):
        repeated_sequences(0)


def plain_forward(model, sequence):
    """The model's logits for one sequence, with Python loops over positions."""
    p, n = model.params, len(sequence)
    x = [p["token"][tok] + p["position"][t] for t, tok in enumerate(sequence)]
    q = [xi @ p["w_q"] for xi in x]
    k = [xi @ p["w_k"] for xi in x]
    v = [xi @ p["w_v"] for xi in x]
    logits = []
    for i in range(n):
        keys = range(i + 1) if model.causal else range(n)
        scores = {j: float(q[i] @ k[j]) / math.sqrt(model.width) for j in keys}
        top = max(scores.values())
        exps = {j: math.exp(s - top) for j, s in scores.items()}
        total = sum(exps.values())
        out = sum(exps[j] / total * v[j] for j in keys)
        logits.append(out @ p["w_o"] + p["b_o"])
    return np.array(logits)


@pytest.mark.parametrize("causal", [True, False])
def test_forward_matches_a_plain_loop(causal):
    model = NextTokenModel(6, 7, width=5, causal=causal, seed=1)
    model.params["b_o"] += np.arange(6) * 0.1  # a non-zero bias, to check it too
    tokens = np.array([[0, 5, 2, 2, 1, 3, 4], [1, 1, 0, 4, 5, 2, 3]])
    logits, cache = model.forward(tokens)
    for b in range(2):
        assert_allclose(logits[b], plain_forward(model, tokens[b]), atol=1e-12)
    if causal:
        assert_array_equal(np.triu(cache["weights"][0], k=1), 0.0)
    assert_allclose(cache["weights"].sum(-1), 1.0)


@pytest.mark.parametrize("causal", [True, False])
def test_backward_by_finite_differences(causal):
    model = NextTokenModel(5, 6, width=4, causal=causal, seed=2)
    tokens = repeated_sequences(4, half=3, vocab=5, seed=0)
    _, grads = model.loss(tokens)
    assert gradient_check(lambda: model.loss(tokens)[0], model.params, grads) < 1e-6


def test_loss_is_the_mean_cross_entropy_of_the_next_tokens():
    model = NextTokenModel(4, 3, width=4, causal=False, seed=0)
    tokens = np.array([[0, 1, 2], [3, 3, 1]])
    logits, _ = model.forward(tokens)
    terms = []
    for b in range(2):
        for t in range(2):  # position 2 has no next token: it is left out
            row = logits[b, t]
            log_total = math.log(sum(math.exp(z) for z in row))
            terms.append(log_total - row[tokens[b, t + 1]])
    loss, grads = model.loss(tokens)
    assert loss == pytest.approx(sum(terms) / len(terms))
    assert sorted(grads) == sorted(model.params)


def test_causal_model_ignores_the_future_and_open_model_does_not():
    tokens = np.array([[0, 1, 2, 3, 4, 5]])
    edited = tokens.copy()
    edited[0, 4] = 0  # change a future token for positions 0..3
    for causal in (True, False):
        model = NextTokenModel(6, 6, width=8, causal=causal, seed=5)
        before, _ = model.forward(tokens)
        after, _ = model.forward(edited)
        if causal:
            assert_array_equal(before[0, :4], after[0, :4])  # exactly, not approximately
        else:
            assert np.abs(before[0, :4] - after[0, :4]).max() > 1e-3


def test_prefix_accuracy_equals_teacher_forcing_only_with_the_mask():
    train = repeated_sequences(400, half=4, vocab=6, seed=1)
    test = repeated_sequences(200, half=4, vocab=6, seed=2)
    honest = NextTokenModel(6, 8, width=12, causal=True, seed=3)
    cheater = NextTokenModel(6, 8, width=12, causal=False, seed=3)
    for model in (honest, cheater):
        losses = train_next_token(model, train, steps=150, batch_size=32)
        assert np.mean(losses[-20:]) < np.mean(losses[:20])
    assert_array_equal(next_token_accuracy(honest, test), next_token_accuracy(honest, test, prefix_only=True))
    forced = next_token_accuracy(cheater, test)
    generating = next_token_accuracy(cheater, test, prefix_only=True)
    assert forced.shape == generating.shape == (7,)
    assert forced[:3].mean() > 0.9  # random letters "predicted": it copies the answer
    assert generating[:3].mean() < 0.4  # and cannot once the answer is absent


def test_bad_tokens_are_refused():
    model = NextTokenModel(4, 5, width=4)
    with pytest.raises(ValueError, match="whole numbers of shape"):
        model.forward(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="1 to n_positions=5"):
        model.forward(np.zeros((1, 6), dtype=int))
    with pytest.raises(ValueError, match="0..vocab-1=3"):
        model.forward(np.array([[0, 4]]))
    with pytest.raises(ValueError, match="at least 2 tokens"):
        model.loss(np.array([[1]]))
    with pytest.raises(TypeError, match="causal must be True or False"):
        NextTokenModel(4, 5, causal="yes")
    assert repr(model) == "NextTokenModel(vocab=4, n_positions=5, width=4, causal=True)"
