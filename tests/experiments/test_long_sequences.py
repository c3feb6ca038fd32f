"""attn_core.experiments.long_sequences: path lengths, the tanh recurrence and its sensitivity, attention's sensitivity."""

from collections import deque

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.experiments.data import associative_recall
from attn_core.experiments.long_sequences import (
    accuracy_by_distance,
    attention_sensitivity,
    elman_states,
    path_lengths,
    recurrent_sensitivity,
    state_change_by_pair,
)
from attn_core.training.models import RecurrentReader


# ------------------------------------------------------------------ path lengths
def path_lengths_bfs(allowed):
    """Breadth-first search from every source j along the edges j -> i allowed[i, j]."""
    n = len(allowed)
    out = -np.ones((n, n), dtype=int)
    for j in range(n):
        out[j, j] = 0
        queue = deque([j])
        while queue:
            a = queue.popleft()
            for i in range(n):
                if allowed[i][a] and out[i, j] < 0:
                    out[i, j] = out[a, j] + 1
                    queue.append(i)
    return out


def test_path_lengths_by_hand():
    chain = ac.sliding_window_mask(5, window=1, causal=True)
    assert path_lengths(chain)[4].tolist() == [4, 3, 2, 1, 0]
    full = path_lengths(ac.causal_mask(5))
    assert full[4].tolist() == [1, 1, 1, 1, 0]
    assert (full[np.triu_indices(5, 1)] == -1).all()  # the future never arrives
    window = path_lengths(ac.sliding_window_mask(9, window=3, causal=True))
    assert window[8, 0] == 3  # ceil(8 / 3)
    assert (path_lengths(np.ones((4, 4), bool)) == 1 - np.eye(4, dtype=int)).all()


@pytest.mark.parametrize("mask", [
    ac.sliding_window_mask(12, window=2, causal=True),
    ac.strided_mask(12, stride=3),
    ac.fixed_mask(12, block=4),
    ac.bigbird_mask(12, window=1, seed=2),
    np.random.default_rng(0).random((10, 10)) < 0.2,
])
def test_path_lengths_match_breadth_first_search(mask):
    assert_array_equal(path_lengths(mask), path_lengths_bfs(mask))


def test_path_lengths_refuse_bad_masks():
    with pytest.raises(ValueError, match="square"):
        path_lengths(np.ones((2, 3), bool))
    with pytest.raises(TypeError, match="boolean"):
        path_lengths(np.ones((3, 3)))


# ------------------------------------------------------------------ recurrence
def test_elman_states_match_a_loop():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 5, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    states = elman_states(x, w, b)
    for batch in range(2):
        h = np.zeros(3)
        for t in range(5):
            h = np.tanh(x[batch, t] + h @ w + b)
            assert_allclose(states[batch, t], h)


def test_recurrent_sensitivity_of_one_unit_by_hand():
    # zero inputs keep h = 0, so every slope is 1 and the Jacobian is w ** (T - t)
    h = elman_states(np.zeros((6, 1)), [[0.9]])
    assert_allclose(recurrent_sensitivity(h, [[0.9]]), 0.9 ** np.arange(5, -1, -1))
    assert_allclose(recurrent_sensitivity(h, [[-2.0]]), 2.0 ** np.arange(5, -1, -1))


def jacobian_by_differences(x, w, b, t, eps=1e-6):
    """d h_T / d x_t by central differences: column c is the change of h_T for x_t[c]."""
    d = x.shape[-1]
    jac = np.empty((d, d))
    for c in range(d):
        up, down = x.copy(), x.copy()
        up[t, c] += eps
        down[t, c] -= eps
        jac[c] = (elman_states(up, w, b)[-1] - elman_states(down, w, b)[-1]) / (2 * eps)
    return jac  # row c: how h_T moves when x_t[c] moves (row-vector convention)


def test_recurrent_sensitivity_matches_finite_differences():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((7, 4)), 1.5 * rng.standard_normal((4, 4)) / 2, rng.standard_normal(4)
    norms = recurrent_sensitivity(elman_states(x, w, b), w)
    for t in range(7):
        expected = np.linalg.norm(jacobian_by_differences(x, w, b, t), 2)
        assert_allclose(norms[t], expected, rtol=1e-6)


def test_recurrent_sensitivity_broadcasts_over_batches():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 2, 6, 4)), rng.standard_normal((4, 4))
    norms = recurrent_sensitivity(elman_states(x, w), w)
    assert norms.shape == (3, 2, 6)
    assert_allclose(norms[1, 0], recurrent_sensitivity(elman_states(x[1, 0], w), w))


def test_recurrence_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"w_h must have shape \(3, 3\)"):
        elman_states(np.zeros((4, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"b_h must have shape \(3,\)"):
        elman_states(np.zeros((4, 3)), np.zeros((3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="states must be a matrix"):
        recurrent_sensitivity(np.zeros(3), np.zeros((3, 3)))


# ------------------------------------------------------------------ attention
def attention_output(x, w_q, w_k, w_v, query):
    q = x[[query]] @ w_q  # (1, d_k)
    out, _ = ac.scaled_dot_product_attention(q, x @ w_k, x @ w_v)
    return out[0]


@pytest.mark.parametrize("query", [-1, 2])
def test_attention_sensitivity_matches_finite_differences(query):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5))
    w_q, w_k = rng.standard_normal((2, 5, 3))
    w_v = rng.standard_normal((5, 4))
    norms = attention_sensitivity(x, w_q, w_k, w_v, query=query)
    eps = 1e-6
    for t in range(6):
        jac = np.empty((5, 4))  # row c: how o moves when x_t[c] moves
        for c in range(5):
            up, down = x.copy(), x.copy()
            up[t, c] += eps
            down[t, c] -= eps
            jac[c] = (attention_output(up, w_q, w_k, w_v, query)
                      - attention_output(down, w_q, w_k, w_v, query)) / (2 * eps)
        assert_allclose(norms[t], np.linalg.norm(jac, 2), rtol=1e-5)


def test_attention_sensitivity_broadcasts_and_checks():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 4))
    w_q, w_k, w_v = rng.standard_normal((3, 4, 4))
    batch = attention_sensitivity(x, w_q, w_k, w_v)
    assert batch.shape == (3, 6)
    assert_allclose(batch[2], attention_sensitivity(x[2], w_q, w_k, w_v))
    with pytest.raises(ValueError, match="query=6 is out of range"):
        attention_sensitivity(x, w_q, w_k, w_v, query=6)
    with pytest.raises(ValueError, match=r"w_v must have shape \(4, ...\)"):
        attention_sensitivity(x, w_q, w_k, w_v[:3])
    with pytest.raises(ValueError, match="same shape"):
        attention_sensitivity(x, w_q, w_k[:, :2], w_v)


# ------------------------------------------------------------------ state change by pair
def test_state_change_by_pair_matches_a_loop():
    reader = RecurrentReader(4, 3, width=5, seed=3)
    data = associative_recall(6, n_pairs=4, n_keys=4, n_values=3, ordered=True, seed=4)
    change = state_change_by_pair(reader, data)
    for b in range(6):
        one = {name: value[b:b + 1] for name, value in data.items()}
        final = reader.forward(one)[1]["hs"][-1][0]
        for t in range(4):
            moves = []
            for other in range(3):
                if other == data["values"][b, t]:
                    continue
                values = one["values"].copy()
                values[0, t] = other
                moved = reader.forward({**one, "values": values})[1]["hs"][-1][0]
                moves.append(np.linalg.norm(moved - final))
            assert change[b, t] == pytest.approx(np.mean(moves))


def test_state_change_without_recurrence_sees_only_the_last_pair():
    reader = RecurrentReader(5, 4, width=6, seed=0)
    reader.params["w_h"][:] = 0.0  # h_L = tanh(x_L + b_h): earlier pairs cannot matter
    data = associative_recall(8, n_pairs=5, n_keys=5, n_values=4, ordered=True, seed=1)
    change = state_change_by_pair(reader, data)
    assert (change[:, :-1] == 0).all() and (change[:, -1] > 0).all()
    with pytest.raises(ValueError, match=r"data\['values'\] must have shape \(8, 5\); got \(5,\)"):
        state_change_by_pair(reader, {**data, "values": data["values"][0]})


# ------------------------------------------------------------------ accuracy by distance
def test_accuracy_by_distance_matches_a_loop():
    rng = np.random.default_rng(6)
    logits, labels, dist = rng.standard_normal((200, 4)), rng.integers(0, 4, 200), rng.integers(1, 6, 200)
    distances, acc = accuracy_by_distance(logits, labels, dist)
    assert distances.tolist() == [1, 2, 3, 4, 5]
    for d, a in zip(distances, acc):
        rows = [i for i in range(200) if dist[i] == d]
        assert a == pytest.approx(sum(np.argmax(logits[i]) == labels[i] for i in rows) / len(rows))
    with pytest.raises(ValueError, match="labels and distance"):
        accuracy_by_distance(logits, labels[:10], dist)


def test_a_nan_state_gives_nan_sensitivity_not_an_svd_failure():
    h = elman_states(np.random.default_rng(0).standard_normal((2, 4, 3)), np.eye(3) * 0.5)
    h[0, 1, 0] = np.nan
    sens = recurrent_sensitivity(h, np.eye(3) * 0.5)
    assert np.isnan(sens[0, :2]).all() and np.isfinite(sens[0, 2:]).all()  # NaN reaches steps <= 1
    assert_allclose(sens[1], recurrent_sensitivity(h[1], np.eye(3) * 0.5))
    x = np.random.default_rng(1).standard_normal((4, 3))
    x[2, 0] = np.nan
    assert np.isnan(attention_sensitivity(x, np.eye(3), np.eye(3), np.eye(3))).all()


RECALL = associative_recall(4, n_pairs=3, n_keys=3, n_values=2, ordered=True, seed=0)


@pytest.mark.parametrize("call, error, message", [
    (lambda: path_lengths(None), TypeError, r"allowed must be a boolean matrix"),
    (lambda: path_lengths("ab"), TypeError, r"allowed must be a boolean matrix"),
    (lambda: path_lengths(np.zeros((0, 0), bool)), ValueError, r"allowed must be a square matrix .* n >= 1"),
    (lambda: path_lengths(np.ones((2, 3), bool)), ValueError, r"allowed must be a square matrix"),
    (lambda: path_lengths(np.ones((2, 2))), TypeError, r"allowed must be boolean"),
    (lambda: elman_states(np.zeros((0, 2)), np.eye(2)), ValueError, r"x \(inputs\) must not be empty"),
    (lambda: elman_states([[np.inf, 0.0]], np.eye(2)), ValueError, r"x \(inputs\) contains inf at index \(0, 0\)"),
    (lambda: elman_states([[1.0, 0.0]], np.eye(3)), ValueError, r"w_h must have shape \(2, 2\)"),
    (lambda: elman_states([[1.0, 0.0]], np.eye(2), b_h=[0.0]), ValueError, r"b_h must have shape \(2,\)"),
    (lambda: elman_states([[1.0, 0.0]], None), TypeError, r"w_h must be an array of numbers, got None"),
    (lambda: elman_states([["a", "b"]], np.eye(2)), TypeError, r"x \(inputs\) must be an array of numbers"),
    (lambda: recurrent_sensitivity(np.zeros((1, 2)) + 1j, np.eye(2)), TypeError, r"states must hold real numbers"),
    (lambda: recurrent_sensitivity(np.zeros(2), np.eye(2)), ValueError, r"states must be a matrix"),
    (lambda: attention_sensitivity(np.ones((3, 2)), np.eye(2), np.eye(2), np.eye(2), query=3), ValueError,
     r"query=3 is out of range for a sequence of 3 positions"),
    (lambda: attention_sensitivity(np.ones((3, 2)), np.eye(2), np.eye(2), np.eye(2), query=1.0), TypeError,
     r"query must be a whole number"),
    (lambda: attention_sensitivity(np.ones((3, 2)), np.eye(2), np.eye(2), np.eye(2), query=True), TypeError,
     r"query must be a whole number"),
    (lambda: attention_sensitivity(np.ones((3, 2)), np.eye(3), np.eye(2), np.eye(2)), ValueError,
     r"w_q must have shape \(2, \.\.\.\)"),
    (lambda: state_change_by_pair(None, RECALL), TypeError, r"reader must be a RecurrentReader"),
    (lambda: state_change_by_pair(RecurrentReader(3, 2), {k: v for k, v in RECALL.items() if k != "values"}),
     ValueError, r"data has no 'values'"),
    (lambda: state_change_by_pair(RecurrentReader(3, 2), {**RECALL, "values": RECALL["values"] - 1}),
     ValueError, r"data\['values'\] must lie in 0\.\.1; got -1"),
    (lambda: state_change_by_pair(RecurrentReader(3, 1), associative_recall(2, n_pairs=3, n_keys=3, n_values=1)),
     ValueError, r"at least two values"),
    (lambda: accuracy_by_distance([[0.0, 1.0]], [2], [1]), ValueError, r"labels must lie in 0\.\.1; got 2"),
    (lambda: accuracy_by_distance([[0.0, 1.0]], [0.0], [1]), TypeError, r"labels must hold whole numbers"),
    (lambda: accuracy_by_distance([[0.0, 1.0]], [0], None), TypeError, r"distance must be an array of whole numbers"),
    (lambda: accuracy_by_distance(np.zeros((0, 2)), [], []), ValueError, r"logits must not be empty"),
    (lambda: accuracy_by_distance(np.zeros((1, 2, 2)), [0], [1]), ValueError, r"logits must have at most 2 dimensions"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------- both readers, one example per distance (the explorer's maths)
from attn_core.experiments.data import associative_recall  # noqa: E402
from attn_core.experiments.long_sequences import readers_by_distance, state_change_by_pair  # noqa: E402
from attn_core.training.models import AttentionReader, RecurrentReader  # noqa: E402


def test_readers_by_distance_takes_the_first_example_of_each_distance():
    data = associative_recall(40, n_pairs=5, n_keys=5, n_values=3, ordered=True, seed=7)
    recurrent, attention = RecurrentReader(5, 3, width=6, seed=1), AttentionReader(5, 3, width=6, seed=2)
    result = readers_by_distance(recurrent, attention, data)
    assert result["distances"] == sorted(set(int(d) for d in data["distance"]))
    for row, d in enumerate(result["distances"]):
        i = next(i for i in range(len(data["distance"])) if data["distance"][i] == d)  # a plain search
        one = {name: value[i:i + 1] for name, value in data.items()}
        logits, cache = attention.forward(one)
        np.testing.assert_allclose(result["heights"]["attention"][row], cache["weights"][0, 0])
        assert result["predicted"]["attention"][row] == logits[0].argmax()
        np.testing.assert_allclose(result["heights"]["recurrent"][row], state_change_by_pair(recurrent, one)[0])
        assert result["predicted"]["recurrent"][row] == recurrent.forward(one)[0][0].argmax()
