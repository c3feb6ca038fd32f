"""The reordering tasks and the cross-attention aligner of chapter 6."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from attn_core.experiments.self_cross import (
    FIXED_TASKS,
    TASKS,
    AlignmentRun,
    alignment_accuracy,
    reordering_data,
    task_alignment,
    train_aligner,
    training_examples,
)
from attn_core.training.gradient_check import gradient_check
from attn_core.training.loop import train
from attn_core.training.losses import cross_entropy
from attn_core.training.models import CrossAttentionAligner


# ----------------------------------------------------------------------------- tasks
def test_task_alignments_by_hand():
    assert_array_equal(task_alignment("copy", 4), [0, 1, 2, 3])
    assert_array_equal(task_alignment("reverse", 5), [4, 3, 2, 1, 0])
    assert_array_equal(task_alignment("swap pairs", 6), [1, 0, 3, 2, 5, 4])
    assert_array_equal(task_alignment("swap pairs", 3), [1, 0, 2])  # odd: the last stays
    for task in FIXED_TASKS:
        for n in (1, 2, 7):
            assert sorted(task_alignment(task, n)) == list(range(n))  # a permutation


def test_unknown_task_and_bad_length_are_refused():
    with pytest.raises(ValueError, match="depends on the symbols"):
        task_alignment("sort", 4)
    with pytest.raises(ValueError, match="task must be one of 'copy', 'reverse', 'swap pairs'"):
        task_alignment("rotate", 4)
    with pytest.raises(ValueError, match="length must be >= 1"):
        task_alignment("copy", 0)
    with pytest.raises(ValueError, match="task must be one of"):
        train_aligner("rotate", steps=1)


def test_reordering_data_is_consistent():
    d = reordering_data(50, task="swap pairs", length=6, n_symbols=10, seed=3)
    assert d["source"].shape == d["target"].shape == d["decoder_input"].shape == (50, 6)
    for row in d["source"]:
        assert len(set(row.tolist())) == 6  # distinct symbols
    for b in range(50):  # target t is source alignment[t], by a plain loop
        for t in range(6):
            assert d["target"][b, t] == d["source"][b, d["alignment"][b, t]]
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

    assert gradient_check(loss, model.params, grads, samples=12) < 1e-6
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
    with pytest.raises(ValueError, match=r"inputs\['source'\] must have shape \(2, 4\); got \(2, 5\)"):
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
    assert_array_equal(run.probe["alignment"], [[5, 4, 3, 2, 1, 0]] * 4)


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
    assert alignment_accuracy(weights, reverse_run.test["alignment"][:100]) > 0.99


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


def test_train_aligner_is_train_with_an_alignment_run_as_callback():
    """The wrapper adds nothing to the loop: the same data, model and callback give the same run."""
    wrapped = train_aligner("swap pairs", steps=30, record_at=(0, 15, 30), length=4, n_symbols=6, seed=2)
    settings = {"task": "swap pairs", "length": 4, "n_symbols": 6}
    model = CrossAttentionAligner(4, 6, seed=2)
    run = AlignmentRun("swap pairs", model, reordering_data(500, seed=4, **settings),
                       reordering_data(4, seed=5, **settings), record_at=(0, 15, 30))
    run.record(0)
    train(model, training_examples(reordering_data(2000, seed=3, **settings)), steps=30, batch_size=32,
          lr=0.005, seed=2, eval_every=15, progress=False, callback=run)
    assert run.steps == wrapped.steps == [0, 15, 30]
    assert_allclose(run.alignment_accuracy, wrapped.alignment_accuracy)
    assert_allclose(run.snapshots[-1], wrapped.snapshots[-1])


def test_progress_prints_one_line_per_evaluation(capsys):
    train_aligner("copy", steps=20, record_at=(0, 10, 20), length=4, n_symbols=6, progress=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "step   20/20" in lines[-1]


BAD_WEIGHTS = np.full((2, 3), 1 / 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: task_alignment(None, 3), TypeError, r"task must be one of"),
    (lambda: task_alignment(["copy"], 3), TypeError, r"task must be one of"),
    (lambda: task_alignment("copy", 2.0), TypeError, r"length must be a whole number"),
    (lambda: task_alignment("copy", True), TypeError, r"length must be a whole number"),
    (lambda: reordering_data(0, task="copy"), ValueError, r"n_examples must be >= 1"),
    (lambda: reordering_data(2, task="copy", seed=-1), ValueError, r"seed must be >= 0"),
    (lambda: reordering_data(2, task="copy", n_symbols="10"), TypeError, r"n_symbols must be a whole number"),
    (lambda: alignment_accuracy(None, [0, 1]), TypeError, r"weights must be an array of numbers, got None"),
    (lambda: alignment_accuracy(np.ones(3), [0]), ValueError, r"weights must be a matrix"),
    (lambda: alignment_accuracy(BAD_WEIGHTS, [0, 3]), ValueError, r"alignment must lie in 0\.\.2; got 3"),
    (lambda: alignment_accuracy(BAD_WEIGHTS, [0, -1]), ValueError, r"alignment must lie in 0\.\.2; got -1"),
    (lambda: alignment_accuracy(BAD_WEIGHTS, [0.0, 1.0]), TypeError, r"alignment must hold whole numbers"),
    (lambda: alignment_accuracy(BAD_WEIGHTS.astype(complex), [0, 1]), TypeError, r"weights must hold real numbers"),
    (lambda: training_examples({"source": 1}), ValueError, r"data has no 'decoder_input'"),
    (lambda: training_examples(None), TypeError, r"data must be a dict"),
    (lambda: train_aligner("copy", record_at=5), TypeError, r"record_at must be a sequence of steps"),
    (lambda: train_aligner("copy", record_at=(-1,)), ValueError, r"record_at entry must be >= 0"),
    (lambda: train_aligner("copy", progress="yes"), TypeError, r"progress must be True or False"),
    (lambda: train_aligner("copy", source_positions=None), TypeError, r"source_positions must be True or False"),
    (lambda: AlignmentRun("copy", None, {}, {}), TypeError, r"model must be a CrossAttentionAligner"),
    (lambda: AlignmentRun("copy", CrossAttentionAligner(4, 6), reordering_data(2, task="copy", length=5, n_symbols=6),
                          reordering_data(2, task="copy", length=4, n_symbols=6)),
     ValueError, r"test\['source'\] must have shape \(2, 4\); got \(2, 5\)"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_sort_alignment_depends_on_the_input_and_points_at_the_sorted_symbols():
    data = reordering_data(50, task="sort", length=5, n_symbols=9, seed=4)
    source, target, alignment = data["source"], data["target"], data["alignment"]
    for b in range(50):  # a loop written here, not the vectorised code under test
        assert list(target[b]) == sorted(source[b])
        assert [source[b, alignment[b, t]] for t in range(5)] == list(target[b])
    assert len({tuple(row) for row in alignment}) > 1  # not one permutation for every input


def test_fixed_tasks_give_one_alignment_row_per_example():
    data = reordering_data(3, task="reverse", length=4, n_symbols=6)
    assert_array_equal(data["alignment"], [[3, 2, 1, 0]] * 3)


def test_location_only_aligner_cannot_align_sorting_but_content_can():
    settings = dict(length=6, n_symbols=12, steps=300, lr=0.01, record_at=(300,), n_train=1000, n_test=200, seed=2)
    content = train_aligner("sort", scores="content", **settings)
    location = train_aligner("sort", scores="location", **settings)
    assert content.alignment_accuracy[-1] > 0.8
    assert location.alignment_accuracy[-1] < 0.3  # chance is 1/6: its map is the same for every input
    reverse = train_aligner("reverse", scores="location", **settings)
    assert reverse.alignment_accuracy[-1] > 0.95  # where position suffices, it aligns


def test_location_aligner_gradients_match_finite_differences():
    from attn_core.training.gradient_check import gradient_check
    from attn_core.training.losses import cross_entropy
    model = CrossAttentionAligner(4, 6, width=5, scores="location", seed=3)
    examples = training_examples(reordering_data(3, task="sort", length=4, n_symbols=6, seed=1))

    def loss():
        return cross_entropy(model.forward(examples)[0], examples["labels"].reshape(-1))[0]

    logits, cache = model.forward(examples)
    grads = model.backward(cache, cross_entropy(logits, examples["labels"].reshape(-1))[1])
    assert gradient_check(loss, model.params, grads) < 1e-5


def test_location_scores_need_source_positions():
    with pytest.raises(ValueError, match="needs source_positions=True"):
        CrossAttentionAligner(4, 6, scores="location", source_positions=False)
    with pytest.raises(ValueError, match="scores must be one of"):
        CrossAttentionAligner(4, 6, scores="content-ish")
