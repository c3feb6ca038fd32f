"""attn_core.experiments.performance: re-pairing, the bound without pairing, held-out sets, reading readers."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.experiments.data import associative_recall
from attn_core.experiments.performance import (
    Snapshots,
    accuracy_without_pairing,
    first_step_reaching,
    held_out,
    pair_weights,
    swap_values,
    value_counts,
    value_probabilities,
)
from attn_core.training.loop import evaluate, train
from attn_core.training.models import AttentionReader, PoolingReader, RecurrentReader


@pytest.fixture(scope="module")
def data():
    return associative_recall(40, n_pairs=5, n_keys=8, n_values=3, seed=4)


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


def test_held_out_removes_exactly_the_seen_examples():
    train_set = associative_recall(30, n_pairs=3, n_keys=3, n_values=2, ordered=True, seed=0)
    test_set = associative_recall(50, n_pairs=3, n_keys=3, n_values=2, ordered=True, seed=1)
    kept = held_out(test_set, train_set)
    seen = {(tuple(k), tuple(v), q) for k, v, q in
            zip(train_set["keys"].tolist(), train_set["values"].tolist(), train_set["query"].tolist())}
    expected = [i for i in range(50) if (tuple(test_set["keys"][i]), tuple(test_set["values"][i]),
                                         int(test_set["query"][i])) not in seen]
    assert 0 < len(expected) < 50
    assert kept["labels"].tolist() == test_set["labels"][expected].tolist()
    assert set(kept) == set(test_set)


def test_pair_weights_of_each_reader(data):
    attention = AttentionReader(8, 3, width=6, seed=2)
    weights = pair_weights(attention, data)  # (40, 5)
    p = attention.params
    q = p["w_q"][data["query"]][:, None, :]
    k = p["w_k"][data["keys"]] + p["w_k"][8 + data["values"]]
    v = p["w_v"][data["keys"]] + p["w_v"][8 + data["values"]]
    _, expected = ac.scaled_dot_product_attention(q, k, v)
    assert_allclose(weights, expected[:, 0])
    assert_allclose(weights.sum(1), 1.0)
    assert_allclose(pair_weights(PoolingReader(8, 3, width=6), data), np.full((40, 5), 0.2))
    with pytest.raises(TypeError, match="RecurrentReader has no weights over the pairs"):
        pair_weights(RecurrentReader(8, 3, width=6), data)


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


def test_snapshots_keep_independent_copies(data):
    model = AttentionReader(8, 3, width=6, seed=0)
    snaps = Snapshots(model, test_set=data, steps=[2, 6])
    initial = model.params["w_q"].copy()
    train(model, data, steps=6, batch_size=8, eval_every=2, progress=False, callback=snaps)
    assert snaps.steps == [0, 2, 6] and repr(snaps) == "Snapshots(steps=[0, 2, 6])"
    assert_allclose(snaps.models[0].params["w_q"], initial)
    assert not np.allclose(snaps.models[6].params["w_q"], initial)
    assert_allclose(snaps.models[6].params["w_q"], model.params["w_q"])
    assert snaps.test_accuracy[2] == evaluate(snaps.models[2], data)[1]
    every = Snapshots()
    train(AttentionReader(8, 3, width=6), data, steps=4, batch_size=8, eval_every=2,
          progress=False, callback=every)
    assert every.steps == [2, 4] and every.test_accuracy == {}


def test_first_step_reaching():
    assert first_step_reaching([20, 40, 60], [0.5, 0.9, 1.0], 0.9) == 40
    assert first_step_reaching([20, 40], [0.5, 0.6], 0.9) is None
    with pytest.raises(ValueError, match="steps has 2 entries, accuracies 3"):
        first_step_reaching([1, 2], [0.1, 0.2, 0.3], 0.5)


# ---------- names of the pairs (moved from the widget)
from attn_core.experiments.performance import KEY_NAMES, pair_labels  # noqa: E402

def _one_example(keys, values):
    """A data set of one example with the given pairs (query: the first key, its value the label)."""
    return {"keys": np.array([keys]), "values": np.array([values]), "query": np.array([keys[0]]),
            "distance": np.array([len(keys)]), "labels": np.array([values[0]])}


def test_pair_labels():
    example = _one_example([11, 0], [3, 0])
    assert pair_labels(example) == ["L→3", "A→0"]
    assert pair_labels(example, ["x"] * 12) == ["x→3", "x→0"]
    assert pair_labels(_one_example([1, 0], [3, 0]), range(2)) == ["1→3", "0→0"]  # keys that are positions
    assert KEY_NAMES[:3] == ("A", "B", "C")
    two = {name: np.concatenate([value, value]) for name, value in example.items()}
    with pytest.raises(ValueError, match="one example"):
        pair_labels(two)


def test_pair_labels_refuses_bad_input():
    example = _one_example([11, 0], [3, 0])
    with pytest.raises(ValueError, match="example has no 'labels'"):
        pair_labels({name: value for name, value in example.items() if name != "labels"})
    with pytest.raises(TypeError, match="example"):
        pair_labels([1, 2])
    with pytest.raises(TypeError, match="key_names"):
        pair_labels(example, "ABCDEFGHIJKL")
    with pytest.raises(ValueError, match="key_names has 2 names"):
        pair_labels(example, ["x", "y"])



RECALL = associative_recall(4, n_pairs=3, n_keys=5, n_values=2, seed=0)


def recall_with(key, value):
    return {**RECALL, key: value}


@pytest.mark.parametrize("call, error, message", [
    (lambda: swap_values(RECALL, 0.0, 1), TypeError, r"first must be a whole number"),
    (lambda: swap_values(RECALL, 0, True), TypeError, r"second must be a whole number"),
    (lambda: swap_values(RECALL, 0, -4), ValueError, r"second=-4 is out of range for 3 pairs"),
    (lambda: value_counts(recall_with("values", RECALL["values"].astype(float))), TypeError,
     r"data\['values'\] must hold whole numbers"),
    (lambda: value_counts(recall_with("keys", np.zeros((4, 0), int))), ValueError,
     r"data\['keys'\] must be \(n_examples, n_pairs\), both >= 1"),
    (lambda: accuracy_without_pairing(recall_with("distance", RECALL["distance"] + 3)), ValueError,
     r"data\['distance'\] must lie in 1\.\.3"),
    (lambda: accuracy_without_pairing(recall_with("labels", RECALL["labels"][:2])), ValueError,
     r"data\['labels'\] must have shape \(4,\); got \(2,\)"),
    (lambda: accuracy_without_pairing(recall_with("query", None)), TypeError,
     r"data\['query'\] must be an array of whole numbers, got None"),
    (lambda: held_out(RECALL, associative_recall(4, n_pairs=4, n_keys=5, n_values=2)), ValueError,
     r"test_set has 3 pairs per example, train_set 4"),
    (lambda: pair_weights(AttentionReader(5, 2), recall_with("keys", RECALL["keys"] + 5)), ValueError,
     r"data\['keys'\] must lie in 0\.\.4"),
    (lambda: value_probabilities(None, RECALL), TypeError, r"model must have a non-empty dict of parameters"),
    (lambda: value_probabilities(PoolingReader(5, 2), recall_with("labels", RECALL["labels"] + 2)), ValueError,
     r"data\['labels'\] must lie in 0\.\.1"),
    (lambda: Snapshots(AttentionReader(5, 2), test_set=recall_with("values", RECALL["values"] + 2)), ValueError,
     r"test_set\['values'\] must lie in 0\.\.1"),
    (lambda: Snapshots(steps=5), TypeError, r"steps must be a sequence of whole numbers or None"),
    (lambda: Snapshots(steps=[1.5]), TypeError, r"steps entry must be a whole number"),
    (lambda: Snapshots(object()), TypeError, r"model must have a non-empty dict of parameters"),
    (lambda: Snapshots().record(-1, AttentionReader(5, 2)), ValueError, r"step must be >= 0"),
    (lambda: first_step_reaching([1, 2], [0.5, 0.9], 1.5), ValueError, r"level must be in \[0, 1\], got 1.5"),
    (lambda: first_step_reaching([1, 2], [0.5, 0.9], float("nan")), ValueError, r"level must be in \[0, 1\]"),
    (lambda: first_step_reaching([1.0, 2.0], [0.5, 0.9], 0.5), TypeError, r"steps must hold whole numbers"),
    (lambda: first_step_reaching([], [], 0.5), ValueError, r"accuracies must not be empty"),
    (lambda: first_step_reaching(None, [0.5], 0.5), TypeError, r"steps must be an array of whole numbers, got None"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_snapshots_without_a_model_check_the_test_set_with_the_first_model_recorded():
    keep = Snapshots(test_set=recall_with("values", RECALL["values"] + 2))  # values 2, 3: not for n_values=2
    with pytest.raises(ValueError, match=r"test_set\['values'\] must lie in 0\.\.1"):
        keep(1, AttentionReader(5, 2))
