"""attn_core.experiments.what_attention_buys: path lengths, sensitivities, the bound without pairing,
the linear probe, the fair protocol, and the stored runs (which must not drift from the code)."""

from collections import Counter, deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core.experiments.data import associative_recall
from attn_core.experiments.what_attention_buys import (
    accuracy_by_distance,
    accuracy_without_pairing,
    attention_sensitivity,
    elman_states,
    first_step_reaching,
    path_lengths,
    recurrent_sensitivity,
    swap_values,
    value_counts,
    value_probabilities,
)
from attn_core.training.models import AttentionReader, PoolingReader


@pytest.fixture(scope="module")
def data():
    return associative_recall(40, n_pairs=5, n_keys=8, n_values=3, seed=4)


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



# ------------------------------------------------------------------ re-pairing and the bound
def test_swap_values_by_hand():
    d = {"keys": np.array([[4, 7, 1], [2, 0, 5]]), "values": np.array([[0, 2, 3], [1, 1, 0]]),
         "query": np.array([4, 5]), "distance": np.array([3, 1]), "labels": np.array([0, 0])}
    s = swap_values(d, 0, -1)  # the first and the last pair
    assert s["values"].tolist() == [[3, 2, 0], [0, 1, 1]]
    assert s["labels"].tolist() == [3, 1]
    assert s["keys"].tolist() == d["keys"].tolist() and s["query"].tolist() == d["query"].tolist()
    assert d["values"].tolist() == [[0, 2, 3], [1, 1, 0]]  # the input is not changed


def test_swap_values_matches_a_loop(data):
    s = swap_values(data, 1, 3)
    for i in range(len(data["labels"])):
        values = list(data["values"][i])
        values[1], values[3] = values[3], values[1]
        assert list(s["values"][i]) == values
        position = list(s["keys"][i]).index(s["query"][i])  # recall by content: keys distinct
        assert s["labels"][i] == values[position]
    assert (s["labels"] != data["labels"]).any()


def test_swap_values_refuses_bad_positions(data):
    with pytest.raises(ValueError, match="first=5 is out of range for 5 pairs"):
        swap_values(data, 5, 0)
    with pytest.raises(ValueError, match="data has no 'values'"):
        swap_values({"keys": np.zeros((1, 2))}, 0, 1)
    with pytest.raises(TypeError, match="data must be a dict"):
        swap_values([1, 2], 0, 1)


def test_accuracy_without_pairing_by_hand_and_by_loop(data):
    d = {"keys": np.array([[0, 1, 2, 3]]), "values": np.array([[2, 2, 2, 0]]),
         "query": np.array([0]), "distance": np.array([4]), "labels": np.array([2])}
    assert accuracy_without_pairing(d) == pytest.approx(0.75)
    loop = np.mean([max(Counter(row).values()) / len(row) for row in data["values"].tolist()])
    assert accuracy_without_pairing(data) == pytest.approx(loop)


def test_the_bound_is_exact_on_average():
    """Over every list of values, the bound is the mean of max count / L (here L=3, 2 values)."""
    values = np.array([[a, b, c] for a in range(2) for b in range(2) for c in range(2)])
    d = {"keys": np.tile([0, 1, 2], (8, 1)), "values": values, "query": np.zeros(8, int),
         "distance": np.full(8, 3), "labels": values[:, 0]}
    # lists 000 and 111 have max count 3, the six others 2
    assert accuracy_without_pairing(d) == pytest.approx((2 * 3 + 6 * 2) / (8 * 3))


def test_value_probabilities_are_the_softmax_of_the_logits(data):
    model = PoolingReader(8, 3, width=6, seed=1)
    p = value_probabilities(model, data)
    logits = model.forward(data)[0]
    assert_allclose(p, np.exp(logits) / np.exp(logits).sum(1, keepdims=True))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_pooling_cannot_see_the_pairing(seed):
    """Any re-pairing of the values leaves the pooling reader's logits unchanged."""
    d = associative_recall(8, n_pairs=5, n_keys=8, n_values=3, seed=seed)
    model = PoolingReader(8, 3, width=6, seed=seed % 7)
    shuffled = dict(d, values=np.random.default_rng(seed).permuted(d["values"], axis=1))
    assert_allclose(model.forward(d)[0], model.forward(shuffled)[0], rtol=0, atol=1e-12)
    attention = AttentionReader(8, 3, width=6, seed=seed % 7)
    if (shuffled["values"] != d["values"]).any():  # attention sees the change
        assert not np.allclose(attention.forward(d)[0], attention.forward(shuffled)[0])

def test_first_step_reaching():
    assert first_step_reaching([20, 40, 60], [0.5, 0.9, 1.0], 0.9) == 40
    assert first_step_reaching([20, 40], [0.5, 0.6], 0.9) is None
    with pytest.raises(ValueError, match="steps has 2 entries, accuracies 3"):
        first_step_reaching([1, 2], [0.1, 0.2, 0.3], 0.5)



RECALL = associative_recall(4, n_pairs=3, n_keys=3, n_values=2, ordered=True, seed=0)
RECALL_CONTENT = associative_recall(4, n_pairs=3, n_keys=5, n_values=2, seed=0)


def recall_with(key, value):
    return {**RECALL_CONTENT, key: value}


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
    (lambda: accuracy_by_distance([[0.0, 1.0]], [2], [1]), ValueError, r"labels must lie in 0\.\.1; got 2"),
    (lambda: accuracy_by_distance([[0.0, 1.0]], [0.0], [1]), TypeError, r"labels must hold whole numbers"),
    (lambda: accuracy_by_distance([[0.0, 1.0]], [0], None), TypeError, r"distance must be an array of whole numbers"),
    (lambda: accuracy_by_distance(np.zeros((0, 2)), [], []), ValueError, r"logits must not be empty"),
    (lambda: accuracy_by_distance(np.zeros((1, 2, 2)), [0], [1]), ValueError, r"logits must have at most 2 dimensions"),
    (lambda: swap_values(RECALL_CONTENT, 0.0, 1), TypeError, r"first must be a whole number"),
    (lambda: swap_values(RECALL_CONTENT, 0, True), TypeError, r"second must be a whole number"),
    (lambda: swap_values(RECALL_CONTENT, 0, -4), ValueError, r"second=-4 is out of range for 3 pairs"),
    (lambda: value_counts(recall_with("values", RECALL_CONTENT["values"].astype(float))), TypeError,
     r"data\['values'\] must hold whole numbers"),
    (lambda: value_counts(recall_with("keys", np.zeros((4, 0), int))), ValueError,
     r"data\['keys'\] must be \(n_examples, n_pairs\), both >= 1"),
    (lambda: accuracy_without_pairing(recall_with("distance", RECALL_CONTENT["distance"] + 3)), ValueError,
     r"data\['distance'\] must lie in 1\.\.3"),
    (lambda: accuracy_without_pairing(recall_with("labels", RECALL_CONTENT["labels"][:2])), ValueError,
     r"data\['labels'\] must have shape \(4,\); got \(2,\)"),
    (lambda: accuracy_without_pairing(recall_with("query", None)), TypeError,
     r"data\['query'\] must be an array of whole numbers, got None"),
    (lambda: value_probabilities(None, RECALL_CONTENT), TypeError, r"model must have a non-empty dict of parameters"),
    (lambda: value_probabilities(PoolingReader(5, 2), recall_with("labels", RECALL_CONTENT["labels"] + 2)), ValueError,
     r"data\['labels'\] must lie in 0\.\.1"),
    (lambda: first_step_reaching([1, 2], [0.5, 0.9], 1.5), ValueError, r"level must be in \[0, 1\], got 1.5"),
    (lambda: first_step_reaching([1, 2], [0.5, 0.9], float("nan")), ValueError, r"level must be in \[0, 1\]"),
    (lambda: first_step_reaching([1.0, 2.0], [0.5, 0.9], 0.5), TypeError, r"steps must hold whole numbers"),
    (lambda: first_step_reaching([], [], 0.5), ValueError, r"accuracies must not be empty"),
    (lambda: first_step_reaching(None, [0.5], 0.5), TypeError, r"steps must be an array of whole numbers, got None"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ the linear probe
from attn_core.experiments.what_attention_buys import (
    CONFIG,
    READERS,
    load_reader,
    load_results,
    make_reader,
    pick_by_validation,
    probe_accuracy,
    query_indexed_probe_accuracy,
    recall_sampler,
    recall_test_set,
    run_name,
    run_reader,
)
from attn_core.training.loop import evaluate


def test_probe_reads_what_the_vector_holds_and_nothing_else():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4, (600, 3))  # three pairs, four values
    noise = rng.standard_normal((600, 2))
    features = np.hstack([np.eye(4)[values[:, 2]], noise])  # holds pair 2's value, nothing of 0 and 1
    accuracy = probe_accuracy(features[:400], values[:400], features[400:], values[400:], 4)
    assert accuracy[2] == 1.0
    assert (accuracy[:2] < 0.4).all()  # chance is 0.25; 200 test examples


def test_probe_matches_a_loop_of_ridge_regressions():
    rng = np.random.default_rng(1)
    train_x, test_x = rng.standard_normal((80, 5)), rng.standard_normal((30, 5))
    train_y, test_y = rng.integers(0, 3, (80, 4)), rng.integers(0, 3, (30, 4))
    ridge = 0.1
    expected = []
    for j in range(4):  # one probe per pair, written out
        design = np.hstack([train_x, np.ones((80, 1))])
        target = np.zeros((80, 3))
        target[np.arange(80), train_y[:, j]] = 1.0
        w = np.linalg.solve(design.T @ design + ridge * 80 * np.eye(6), design.T @ target)
        guess = (np.hstack([test_x, np.ones((30, 1))]) @ w).argmax(axis=1)
        expected.append(np.mean(guess == test_y[:, j]))
    assert_allclose(probe_accuracy(train_x, train_y, test_x, test_y, 3, ridge=ridge), expected)


def test_logistic_probe_reads_what_the_vector_holds_and_nothing_else():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4, (600, 3))
    features = np.hstack([np.eye(4)[values[:, 2]], rng.standard_normal((600, 2))])
    accuracy = probe_accuracy(features[:400], values[:400], features[400:], values[400:], 4, method="logistic")
    assert accuracy[2] == 1.0
    assert (accuracy[:2] < 0.4).all()


def test_logistic_probe_is_a_softmax_regression_written_out():
    rng = np.random.default_rng(2)
    train_x, test_x = rng.standard_normal((60, 3)), rng.standard_normal((20, 3))
    train_y, test_y = rng.integers(0, 3, (60, 2)), rng.integers(0, 3, (20, 2))
    mean, scale = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    expected = []
    for j in range(2):  # one probe per pair, 100 plain gradient steps of size 1
        design = np.hstack([(train_x - mean) / scale, np.ones((60, 1))])
        w = np.zeros((4, 3))
        for _ in range(100):
            z = design @ w
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            w -= design.T @ (p - np.eye(3)[train_y[:, j]]) / 60
        guess = (np.hstack([(test_x - mean) / scale, np.ones((20, 1))]) @ w).argmax(axis=1)
        expected.append(np.mean(guess == test_y[:, j]))
    assert_allclose(probe_accuracy(train_x, train_y, test_x, test_y, 3, method="logistic"), expected)


@pytest.mark.parametrize("call, error, message", [
    (lambda: probe_accuracy(np.ones((4, 2)), np.zeros((4, 1), int), np.ones((2, 2)), np.zeros((2, 1), int), 2,
                            method="svm"), ValueError, r"method must be one of 'least squares', 'logistic'"),
    (lambda: probe_accuracy(np.ones((4, 2)), np.zeros((4, 1), int), np.ones((2, 3)), np.zeros((2, 1), int), 2),
     ValueError, r"test_features must have the width of train_features \(2\)"),
    (lambda: probe_accuracy(np.ones((4, 2)), np.zeros((3, 1), int), np.ones((2, 2)), np.zeros((2, 1), int), 2),
     ValueError, r"train_values must be \(4, L\)"),
    (lambda: probe_accuracy(np.ones((4, 2)), np.zeros((4, 1), int), np.ones((2, 2)), np.zeros((2, 2), int), 2),
     ValueError, r"test_values must be \(2, 1\)"),
    (lambda: probe_accuracy(np.ones((4, 2)), np.full((4, 1), 2), np.ones((2, 2)), np.zeros((2, 1), int), 2),
     ValueError, r"train_values must lie in 0\.\.1"),
    (lambda: probe_accuracy(np.ones((4, 2)), np.zeros((4, 1), int), np.ones((2, 2)), np.zeros((2, 1), int), 2,
                            ridge=0.0), ValueError, r"ridge must be a finite number > 0"),
])
def test_probe_refuses_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ the protocol
def test_sampler_draws_fresh_reproducible_batches_of_the_task():
    sample = recall_sampler()
    first = sample(8, np.random.default_rng(5))
    again = sample(8, np.random.default_rng(5))
    for name in first:
        assert_array_equal(first[name], again[name])
    rng = np.random.default_rng(5)
    one, two = sample(8, rng), sample(8, rng)
    assert not np.array_equal(one["values"], two["values"])
    task = CONFIG["task"]
    assert_array_equal(one["keys"], np.tile(np.arange(task["n_pairs"]), (8, 1)))  # keys are positions
    assert one["values"].max() < task["n_values"]
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        sample(8, 5)


def test_test_and_validation_sets_are_fixed_and_different():
    test, validation = recall_test_set(), recall_test_set(validation=True)
    assert len(test["labels"]) == CONFIG["test"]["size"]
    assert len(validation["labels"]) == CONFIG["validation"]["size"]
    assert_array_equal(recall_test_set()["values"], test["values"])
    assert not np.array_equal(test["values"][:len(validation["values"])], validation["values"])


def test_make_reader_builds_every_reader_and_refuses_query_first_for_the_others():
    for name, cls in READERS.items():
        model = make_reader(name)
        assert type(model) is cls and model.n_keys == CONFIG["task"]["n_keys"]
    with pytest.raises(ValueError, match="query_first applies to the recurrent readers"):
        make_reader("attention", query_first=True)
    with pytest.raises(ValueError, match="name must be one of"):
        make_reader("lstm")


# ------------------------------------------------------------------ the stored runs cannot drift from the code
@pytest.fixture(scope="module")
def stored():
    return load_results()


def test_stored_configuration_is_the_code_configuration(stored):
    assert stored["config"] == CONFIG
    expected_runs = list(CONFIG["readers"]) + [run_name(name, True) for name in CONFIG["query_first"]]
    assert sorted(stored["runs"]) == sorted(expected_runs)
    for name, record in stored["runs"].items():
        assert record["steps"] == [0] + CONFIG["eval_at"]
        assert len(record["by_distance"]) == len(record["steps"]) == len(record["test_accuracy"])
        assert len(record["validation_loss"]) == len(record["steps"])
        assert record["lr"] == stored["learning_rate"][name.split(",")[0]]
    for name in CONFIG["full_grid"]:  # every rate for the whole budget
        assert sorted(float(rate) for rate in stored["rate_runs"][name]) == CONFIG["learning_rates"]
        for rate, record in stored["rate_runs"][name].items():
            assert record["steps"] == [0] + CONFIG["eval_at"] and record["lr"] == float(rate)


RATE_RUNS = [(name, rate) for name in CONFIG["full_grid"] for rate in CONFIG["learning_rates"]]


@pytest.mark.parametrize("name, query_first, key", [(name, False, name) for name in CONFIG["readers"]]
                         + [(name, True, run_name(name, True)) for name in CONFIG["query_first"]])
def test_rerunning_the_first_evaluations_reproduces_the_stored_curve(stored, name, query_first, key):
    record = stored["runs"][key]
    first = CONFIG["eval_at"][:2]
    _, rerun = run_reader(name, lr=record["lr"], steps=first[-1], eval_at=first, query_first=query_first)
    assert rerun["test_accuracy"] == record["test_accuracy"][:3]  # step 0 and the first two: exactly
    assert rerun["by_distance"] == record["by_distance"][:3]
    assert rerun["validation_loss"] == record["validation_loss"][:3]


@pytest.mark.parametrize("name, rate", RATE_RUNS)
def test_rerunning_every_rate_reproduces_its_stored_curve(stored, name, rate):
    record = stored["rate_runs"][name][repr(rate)]
    first = CONFIG["eval_at"][:2]
    _, rerun = run_reader(name, lr=rate, steps=first[-1], eval_at=first)
    assert rerun["test_accuracy"] == record["test_accuracy"][:3]
    assert rerun["validation_loss"] == record["validation_loss"][:3]


@pytest.mark.parametrize("name", CONFIG["readers"])
def test_stored_weights_give_the_stored_final_accuracy(stored, name):
    model = load_reader(name)
    assert evaluate(model, recall_test_set())[1] == stored["runs"][name]["test_accuracy"][-1]


def test_the_stored_pick_has_the_lowest_validation_loss(stored):
    for name in CONFIG["full_grid"]:
        finals = {float(rate): record["validation_loss"][-1] for rate, record in stored["rate_runs"][name].items()}
        assert stored["learning_rate"][name] == min(finals, key=finals.get)
        assert stored["runs"][name] == stored["rate_runs"][name][repr(stored["learning_rate"][name])]
    for name in CONFIG["short_grid"]["readers"]:
        scores = stored["grid"][name]  # rate -> [validation accuracy, validation loss]
        assert sorted(float(rate) for rate in scores) == CONFIG["learning_rates"]
        assert stored["learning_rate"][name] == float(min(scores, key=lambda rate: scores[rate][1]))


def test_the_sweep_picks_by_validation_and_states_the_bound(stored):
    sweep = CONFIG["pairs_sweep"]
    for name in sweep["readers"]:
        for n_pairs in sweep["n_pairs"]:
            point = stored["sweep"][name][str(n_pairs)]
            assert sorted(float(rate) for rate in point["by_rate"]) == CONFIG["learning_rates"]
            assert point["test_accuracy"] == point["by_rate"][repr(point["learning_rate"])]
            assert point["bound"] == accuracy_without_pairing(recall_test_set(n_pairs))
        main = stored["rate_runs"][name]  # the L = 16 point: the main runs at the sweep's last step
        at = CONFIG["eval_at"].index(sweep["steps"]) + 1
        assert {rate: record["test_accuracy"][at] for rate, record in main.items()} == \
            stored["sweep"][name][str(CONFIG["task"]["n_pairs"])]["by_rate"]


# ------------------------------------------------------------------ picking a rate, the query-indexed probe
def test_pick_by_validation_takes_the_lowest_loss_at_the_step_asked():
    records = {0.001: {"steps": [0, 5, 9], "validation_loss": [2.0, 1.0, 0.9]},
               0.01: {"steps": [0, 5, 9], "validation_loss": [2.0, 1.5, 0.3]}}
    assert pick_by_validation(records) == 0.01
    assert pick_by_validation(records, step=5) == 0.001
    with pytest.raises(ValueError, match="step=7 was not evaluated"):
        pick_by_validation(records, step=7)
    with pytest.raises(TypeError, match="must hold 'steps' and 'validation_loss'"):
        pick_by_validation({0.1: {"steps": [0]}})


def test_query_indexed_probe_answers_with_the_asked_for_pairs_probe():
    data = associative_recall(600, n_pairs=4, n_keys=4, n_values=3, ordered=True, seed=7)
    rng = np.random.default_rng(2)
    # the vector holds pairs 1 and 3 one-hot, nothing of pairs 0 and 2
    features = np.hstack([np.eye(3)[data["values"][:, 1]], np.eye(3)[data["values"][:, 3]],
                          rng.standard_normal((600, 2))])
    train, test = slice(0, 400), slice(400, 600)
    test_data = {key: value[test] for key, value in data.items()}
    accuracy, by_distance = query_indexed_probe_accuracy(features[train], data["values"][train], features[test],
                                                         test_data, 3)
    # by hand: each test memory answered by the probe of the pair it asks for
    per_pair = probe_accuracy(features[train], data["values"][train], features[test], data["values"][test], 3)
    assert by_distance[0] == 1.0 and by_distance[2] == 1.0  # distances 1 and 3: pairs 3 and 1
    assert by_distance[1] < 0.7 and by_distance[3] < 0.7  # pairs 2 and 0: nothing of them, chance 1/3
    counts = np.bincount(test_data["distance"], minlength=5)[1:]
    assert_allclose(accuracy, (by_distance * counts).sum() / counts.sum())
    assert 0 <= per_pair.min() and per_pair[1] == per_pair[3] == 1.0


def test_query_indexed_probe_matches_a_loop():
    rng = np.random.default_rng(3)
    data = associative_recall(90, n_pairs=3, n_keys=5, n_values=4, ordered=True, seed=1)
    x = rng.standard_normal((90, 6))
    train_x, test_x, test_data = x[:60], x[60:], {key: value[60:] for key, value in data.items()}
    correct = []
    for i in range(30):  # the probe of the asked-for pair, fitted and applied one memory at a time
        j = 3 - test_data["distance"][i]
        design = np.hstack([train_x, np.ones((60, 1))])
        target = np.eye(4)[data["values"][:60, j]]
        w = np.linalg.solve(design.T @ design + 1e-3 * 60 * np.eye(7), design.T @ target)
        correct.append((np.append(test_x[i], 1.0) @ w).argmax() == test_data["labels"][i])
    accuracy, _ = query_indexed_probe_accuracy(train_x, data["values"][:60], test_x, test_data, 4)
    assert accuracy == np.mean(correct)
