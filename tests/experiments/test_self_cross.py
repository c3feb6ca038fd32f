"""The reordering tasks and the cross-attention aligner of chapter 6."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from attn_core.experiments.self_cross import (
    TASKS,
    CrossAttentionAligner,
    alignment_accuracy,
    reordering_data,
    task_alignment,
    train_aligner,
)
from attn_core.training.gradient_check import gradient_check
from attn_core.training.losses import cross_entropy


# ----------------------------------------------------------------------------- tasks
def test_task_alignments_by_hand():
    assert_array_equal(task_alignment("copy", 4), [0, 1, 2, 3])
    assert_array_equal(task_alignment("reverse", 5), [4, 3, 2, 1, 0])
    assert_array_equal(task_alignment("swap pairs", 6), [1, 0, 3, 2, 5, 4])
    assert_array_equal(task_alignment("swap pairs", 3), [1, 0, 2])  # odd: the last stays
    for task in TASKS:
        for n in (1, 2, 7):
            assert sorted(task_alignment(task, n)) == list(range(n))  # a permutation


def test_unknown_task_and_bad_length_are_refused():
    with pytest.raises(ValueError, match="task must be one of 'copy', 'reverse', 'swap pairs'"):
        task_alignment("sort", 4)
    with pytest.raises(ValueError, match="length must be >= 1"):
        task_alignment("copy", 0)
    with pytest.raises(ValueError, match="task must be one of"):
        train_aligner("sort", steps=1)


def test_reordering_data_is_consistent():
    d = reordering_data(50, task="swap pairs", length=6, n_symbols=10, seed=3)
    assert d["source"].shape == d["target"].shape == d["decoder_input"].shape == (50, 6)
    for row in d["source"]:
        assert len(set(row.tolist())) == 6  # distinct symbols
    for b in range(50):  # target t is source alignment[t], by a plain loop
        for t in range(6):
            assert d["target"][b, t] == d["source"][b, d["alignment"][t]]
    assert_array_equal(d["decoder_input"][:, 0], 10)  # the start symbol
    assert_array_equal(d["decoder_input"][:, 1:], d["target"][:, :-1])
    again = reordering_data(50, task="swap pairs", length=6, n_symbols=10, seed=3)
    assert_array_equal(again["source"], d["source"])
    # the same seed gives the same sources whatever the task
    assert_array_equal(reordering_data(50, task="copy", length=6, n_symbols=10, seed=3)["source"], d["source"])
    with pytest.raises(ValueError, match="n_symbols=4 must be >= length=6"):
        reordering_data(2, task="copy", length=6, n_symbols=4)


def test_alignment_accuracy_by_hand():
    w = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25], [0.3, 0.3, 0.4]])
    assert alignment_accuracy(w, [1, 0, 2]) == 1.0
    assert alignment_accuracy(w, [1, 1, 1]) == pytest.approx(1 / 3)
    assert alignment_accuracy(np.stack([w, w]), [0, 0, 0]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="one entry per row"):
        alignment_accuracy(w, [0, 1])


# ----------------------------------------------------------------------------- model
def forward_loop(model, data):
    """The aligner's logits and weights, one example and one target step at a time."""
    p, d = model.params, model.width
    all_logits, all_weights = [], []
    for src, dec in zip(data["source"], data["decoder_input"]):
        x_enc = [p["src_embed"][s] + p["src_pos"][j] for j, s in enumerate(src)]
        keys = [x @ p["w_k"] for x in x_enc]
        values = [x @ p["w_v"] for x in x_enc]
        rows = []
        for t, y in enumerate(dec):
            q = (p["tgt_embed"][y] + p["tgt_pos"][t]) @ p["w_q"]
            scores = [float(q @ k) / math.sqrt(d) for k in keys]
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            weights = [e / sum(exps) for e in exps]
            read = sum(w * v for w, v in zip(weights, values))
            all_logits.append(read @ p["w_o"] + p["b_o"])
            rows.append(weights)
        all_weights.append(rows)
    return np.array(all_logits), np.array(all_weights)


def test_forward_matches_a_plain_loop():
    data = reordering_data(5, task="reverse", length=4, n_symbols=7, seed=2)
    model = CrossAttentionAligner(4, 7, width=6, seed=4)
    logits, cache = model.forward(data)
    loop_logits, loop_weights = forward_loop(model, data)
    assert_allclose(logits, loop_logits, atol=1e-12)
    assert_allclose(cache["weights"], loop_weights, atol=1e-12)
    assert_allclose(cache["weights"].sum(-1), 1.0)


@pytest.mark.parametrize("source_positions", [True, False])
def test_backward_matches_finite_differences(source_positions):
    data = reordering_data(6, task="swap pairs", length=4, n_symbols=6, seed=1)
    model = CrossAttentionAligner(4, 6, width=5, source_positions=source_positions, seed=2)
    labels = data["target"].reshape(-1)
    logits, cache = model.forward(data)
    _, grad = cross_entropy(logits, labels)
    grads = model.backward(cache, grad)
    assert set(grads) == set(model.params)

    def loss():
        return cross_entropy(model.forward(data)[0], labels)[0]

    params = model.params if source_positions else {k: v for k, v in model.params.items() if k != "src_pos"}
    assert gradient_check(loss, params, grads, samples=12) < 1e-6
    if not source_positions:
        assert_array_equal(grads["src_pos"], 0.0)


def test_without_source_positions_the_source_is_a_set():
    """Permuting the source permutes the columns of the map; the logits do not change."""
    data = reordering_data(3, task="copy", length=5, n_symbols=8, seed=0)
    model = CrossAttentionAligner(5, 8, width=6, source_positions=False, seed=1)
    logits, cache = model.forward(data)
    perm = np.array([3, 0, 4, 1, 2])
    shuffled = dict(data, source=data["source"][:, perm])
    logits_p, cache_p = model.forward(shuffled)
    assert_allclose(logits_p, logits, atol=1e-12)
    assert_allclose(cache_p["weights"], cache["weights"][:, :, perm], atol=1e-12)


def test_shapes_are_checked():
    model = CrossAttentionAligner(4, 6)
    with pytest.raises(ValueError, match=r"source must have shape \(N, 4\)"):
        model.forward({"source": np.zeros((2, 5), int), "decoder_input": np.zeros((2, 4), int)})


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def reverse_run():
    return train_aligner("reverse", seed=1)


def test_training_records_what_it_was_asked(reverse_run):
    run = reverse_run
    assert run.steps == [0, 10, 20, 30, 40, 60, 150]
    assert len(run.snapshots) == len(run.alignment_accuracy) == len(run.token_accuracy) == len(run.test_loss) == 7
    assert run.snapshots[0].shape == (4, 6, 6)
    assert_array_equal(run.probe["alignment"], [5, 4, 3, 2, 1, 0])


def test_reverse_is_learned_and_the_alignment_is_the_anti_diagonal(reverse_run):
    run = reverse_run
    assert run.alignment_accuracy[0] < 0.4 and run.token_accuracy[0] < 0.3  # untrained: near chance
    assert run.alignment_accuracy[-1] == 1.0 and run.token_accuracy[-1] > 0.99
    assert run.test_loss[-1] < 0.1 < run.test_loss[0]
    final = run.snapshots[-1]  # (4, 6, 6)
    assert (final[:, np.arange(6), np.arange(6)[::-1]] > 0.5).all()


def test_greedy_decoding_reverses_new_sequences(reverse_run):
    model = reverse_run.model
    source = reverse_run.test["source"][:100]
    output, weights = model.decode(source)
    assert (output == source[:, ::-1]).mean() > 0.99
    assert alignment_accuracy(weights, reverse_run.test["alignment"]) > 0.99


def test_decoding_step_t_depends_only_on_earlier_outputs():
    model = CrossAttentionAligner(4, 6, width=5, seed=3)
    source = reordering_data(3, task="copy", length=4, n_symbols=6, seed=5)["source"]
    output, weights = model.decode(source)
    fed = np.concatenate([np.full((3, 1), 6), output[:, :-1]], axis=1)
    logits, cache = model.forward({"source": source, "decoder_input": fed})
    assert_array_equal(logits.reshape(3, 4, 6).argmax(-1), output)
    assert_allclose(cache["weights"], weights, atol=1e-12)


def test_without_source_positions_copy_stays_near_chance():
    run = train_aligner("copy", source_positions=False, seed=1, record_at=(150,))
    assert run.alignment_accuracy[-1] < 0.35 and run.token_accuracy[-1] < 0.35
    assert_array_equal(run.model.params["src_pos"], 0.0)


def test_training_arguments_are_checked():
    with pytest.raises(ValueError, match="batch_size=64 is larger"):
        train_aligner("copy", n_train=10, batch_size=64)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        train_aligner("copy", lr=-1.0)
