"""attn_core.experiments.masking: the toy data and the next-token experiment of chapter 7.

The model itself (forward against a plain loop, backward against finite differences) is
tested in tests/training/test_models.py.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from attn_core.experiments.masking import (
    next_token_accuracy,
    next_token_data,
    repeated_sequences,
)
from attn_core.training.loop import evaluate, train
from attn_core.training.models import NextTokenModel


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


def test_loss_is_the_mean_cross_entropy_of_the_next_tokens():
    model = NextTokenModel(4, 3, width=4, causal=False, seed=0)
    tokens = np.array([[0, 1, 2], [3, 3, 1]])
    data = next_token_data(tokens)
    logits, _ = model.forward(data)
    assert logits.shape == (2, 2, 4)  # position 2 has no next token: it is left out
    terms = []
    for b in range(2):
        for t in range(2):
            row = logits[b, t]
            log_total = math.log(sum(math.exp(z) for z in row))
            terms.append(log_total - row[tokens[b, t + 1]])
    loss, _ = evaluate(model, data)
    assert loss == pytest.approx(sum(terms) / len(terms))


def test_causal_model_ignores_the_future_and_open_model_does_not():
    tokens = np.array([[0, 1, 2, 3, 4, 5]])
    edited = tokens.copy()
    edited[0, 4] = 0  # change a future token for positions 0..3
    for causal in (True, False):
        model = NextTokenModel(6, 6, width=8, causal=causal, seed=5)
        before, _ = model.forward({"tokens": tokens})
        after, _ = model.forward({"tokens": edited})
        if causal:
            assert_array_equal(before[0, :4], after[0, :4])  # exactly, not approximately
        else:
            assert np.abs(before[0, :4] - after[0, :4]).max() > 1e-3


def test_prefix_accuracy_equals_teacher_forcing_only_with_the_mask():
    train_tokens = repeated_sequences(400, half=4, vocab=6, seed=1)
    test = repeated_sequences(200, half=4, vocab=6, seed=2)
    honest = NextTokenModel(6, 8, width=12, causal=True, seed=3)
    cheater = NextTokenModel(6, 8, width=12, causal=False, seed=3)
    for model in (honest, cheater):
        before = evaluate(model, next_token_data(train_tokens))[0]
        history = train(model, next_token_data(train_tokens), steps=150, batch_size=32, lr=0.03, eval_every=150,
                        progress=False)
        assert history.train_loss[-1] < before
    assert_array_equal(next_token_accuracy(honest, test), next_token_accuracy(honest, test, prefix_only=True))
    forced = next_token_accuracy(cheater, test)
    generating = next_token_accuracy(cheater, test, prefix_only=True)
    assert forced.shape == generating.shape == (7,)
    assert forced[:3].mean() > 0.9  # random letters "predicted": it copies the answer
    assert generating[:3].mean() < 0.4  # and cannot once the answer is absent


def test_next_token_data_labels_are_the_following_tokens():
    data = next_token_data(np.array([[3, 1, 4, 1], [5, 9, 2, 6]]))
    assert_array_equal(data["tokens"], [[3, 1, 4, 1], [5, 9, 2, 6]])
    assert_array_equal(data["labels"], [[1, 4, 1], [9, 2, 6]])


MODEL = NextTokenModel(4, 5, width=4)


@pytest.mark.parametrize("call, error, message", [
    (lambda: repeated_sequences(2, seed=-1), ValueError, r"seed must be >= 0"),
    (lambda: repeated_sequences(2.0), TypeError, r"n_sequences must be a whole number"),
    (lambda: repeated_sequences(2, half=True), TypeError, r"half must be a whole number"),
    (lambda: next_token_data(None), TypeError, r"sequences must be an array of whole numbers, got None"),
    (lambda: next_token_data([[0.0, 1.0]]), TypeError, r"sequences must hold whole numbers"),
    (lambda: next_token_data([0, 1]), ValueError, r"sequences must have 2 dimensions"),
    (lambda: next_token_data([[0]]), ValueError, r"n >= 2"),
    (lambda: next_token_data([[0, -1]]), ValueError, r"sequences must lie in 0\.\.; got -1"),
    (lambda: next_token_accuracy(None, [[0, 1]]), TypeError, r"model must be a NextTokenModel"),
    (lambda: next_token_accuracy(MODEL, [[0, 1]], prefix_only="yes"), TypeError, r"prefix_only must be True or False"),
    (lambda: next_token_accuracy(MODEL, [[0, 4]]), ValueError, r"tokens\['tokens'\] must lie in 0\.\.3; got 4"),
    (lambda: next_token_accuracy(MODEL, np.zeros((1, 6), int)), ValueError, r"2 to n_positions=5 tokens"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()



# ---------- the mask editor's masks and weights (moved from the widget)
import attn_core as ac  # noqa: E402
from attn_core.experiments.masking import editor_masks, masked_weights, toggle_cells  # noqa: E402

REAL = np.array([True, True, True, True, False, False])
N = REAL.size

def test_editor_masks_by_hand():
    masks = editor_masks(REAL)
    assert list(masks) == ["none", "padding", "padding + queries", "causal",
                           "window & padding", "only key 1"]
    assert masks["none"].all()
    assert_array_equal(masks["padding"], np.broadcast_to(ac.padding_mask([4], N)[0], (N, N)))
    assert_array_equal(masks["padding + queries"].sum(axis=1), [4, 4, 4, 4, 0, 0])
    assert_array_equal(masks["window & padding"].sum(axis=1), [1, 2, 2, 2, 1, 0])
    assert_array_equal(masks["only key 1"], np.tile(np.eye(N, dtype=bool)[1], (N, 1)))
    with pytest.raises(ValueError, match="boolean vector"):
        editor_masks([1, 0, 1])


def test_masked_weights_by_hand():
    # unmasked: e^0, e^0, e^ln2 over 4 -> 0.25, 0.25, 0.5; allowed keys 0 and 2 held 0.75
    state = masked_weights([[0.0, 0.0, np.log(2.0)], [1.0, 2.0, 3.0]],
                           [[True, False, True], [False, False, False]])
    assert_allclose(state["weights"][0], [1 / 3, 0, 2 / 3])
    assert_allclose(state["share"], [0.75, 0.0])
    assert_array_equal(state["weights"][1], 0.0)
    assert state["empty_rows"] == [1]


def test_toggle_cells_switches_only_the_listed_cells_and_copies():
    allowed = np.tril(np.ones((3, 3), dtype=bool))
    toggled = toggle_cells(allowed, [(0, 2), (2, 0)])
    expected = [[1, 0, 1], [1, 1, 0], [0, 1, 1]]
    assert_array_equal(toggled.astype(int), expected)
    assert_array_equal(allowed, np.tril(np.ones((3, 3), dtype=bool)))  # the input is untouched
    assert_array_equal(toggle_cells(allowed, []), allowed)


@pytest.mark.parametrize("call, error, message", [
    (lambda: masked_weights(None, np.ones((2, 2), bool)), TypeError, "scores"),
    (lambda: masked_weights([1.0, 2.0], np.ones(2, bool)), ValueError, r"scores must be a matrix"),
    (lambda: masked_weights([[1.0, np.inf]], [[True, True]]), ValueError, "scores contains inf"),
    (lambda: masked_weights([[1.0, -np.inf]], [[True, True]]), ValueError, "scores contains -inf"),
    (lambda: masked_weights(np.zeros((0, 0)), np.ones((0, 0), bool)), ValueError, "scores must not be empty"),
    (lambda: masked_weights([[1.0, 2.0]], [[1, 0]]), TypeError, "allowed must be boolean"),
    (lambda: masked_weights([[1.0, 2.0]], None), TypeError, "allowed must be boolean"),
    (lambda: masked_weights([[1.0, 2.0]], [[True, True, True]]), ValueError, "allowed of shape"),
])
def test_masked_weights_refuses_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_masked_weights_broadcasts_a_key_mask_and_passes_nan_through():
    state = masked_weights([[0.0, 0.0], [0.0, np.log(3.0)]], [True, False])  # one key mask for every row
    assert_allclose(state["weights"], [[1.0, 0.0], [1.0, 0.0]])
    assert_allclose(state["share"], [0.5, 0.25])
    assert np.isnan(masked_weights([[np.nan, 0.0]], [[True, True]])["weights"]).all()


def test_masks_of_any_size_are_accepted():
    assert editor_masks(np.ones(5, dtype=bool))["causal"].shape == (5, 5)
    assert_array_equal(toggle_cells(np.zeros((2, 3), dtype=bool), [(1, 2)]).astype(int), [[0, 0, 0], [0, 0, 1]])
