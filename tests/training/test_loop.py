"""attn_core.training.loop: the one training loop, evaluate, and what they refuse."""

import numpy as np
import pytest

from attn_core.experiments.data import associative_recall
from attn_core.training.adam import Adam
from attn_core.training.loop import evaluate, train
from attn_core.training.models import (
    AttentionReader,
    DeepSetsReader,
    NextTokenModel,
    PoolingReader,
)


class Linear:
    """The smallest model of the protocol (no check_inputs: train uses forward/backward)."""

    def __init__(self):
        self.params = {"w": np.zeros((2, 2))}

    def forward(self, inputs):
        return inputs["x"] @ self.params["w"], inputs["x"]

    def backward(self, cache, grad_logits):
        return {"w": cache.T @ grad_logits}


def test_train_reduces_the_loss_of_a_protocol_model_without_checks():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2))
    data = {"x": x, "labels": (x[:, 0] > x[:, 1]).astype(int)}
    model = Linear()
    before = evaluate(model, data)[0]
    history = train(model, data, steps=100, batch_size=20, lr=0.1, eval_every=50, progress=False)
    assert history.train_loss[-1] < before - 0.3
    assert history.train_accuracy[-1] > 0.9
    assert history.steps == [50, 100] and np.isnan(history.test_accuracy).all()


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


def test_a_nonlinear_code_per_pair_lets_pooling_bind_keys_to_values():
    """Seed 0, 600 steps: the Deep Sets reader reaches 0.976 where plain pooling stays at 0.644 (chance 1/3)."""
    train_set = associative_recall(2000, n_pairs=3, n_keys=6, n_values=3, seed=10)
    test_set = associative_recall(500, n_pairs=3, n_keys=6, n_values=3, seed=11)
    results = {}
    for model in (PoolingReader(6, 3, width=16, seed=0), DeepSetsReader(6, 3, width=16, encoder_width=32, seed=0)):
        history = train(model, train_set, test_set, steps=600, lr=1e-2, eval_every=600, progress=False)
        results[type(model).__name__] = history.test_accuracy[-1]
    assert results["DeepSetsReader"] >= 0.9
    assert results["PoolingReader"] <= 0.75


def test_labels_per_position_average_over_every_prediction():
    tokens = np.tile(np.array([[0, 1, 2, 3]]), (64, 1))  # always the same sequence
    model = NextTokenModel(4, 4, width=8, seed=0)
    data = {"tokens": tokens, "labels": tokens[:, 1:]}
    before = evaluate(model, data)[0]
    history = train(model, data, steps=150, batch_size=16, lr=0.05, eval_every=150, progress=False)
    assert history.train_loss[-1] < 0.5 * before  # log 4 = 1.39 at the start
    logits, _ = model.forward(data)  # (64, 3, 4): one row per label
    assert history.train_accuracy[-1] == np.mean(logits.argmax(-1) == data["labels"])


def test_progress_is_printed(capsys):
    data = associative_recall(64, n_pairs=3, n_keys=4, n_values=2, seed=0)
    train(AttentionReader(4, 2, width=4), data, steps=4, batch_size=16, eval_every=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "step    4/4" in lines[-1] and lines[-1].startswith("[####")
    assert max(len(line) for line in lines) <= 64  # fits the page's code width


def test_callback_sees_each_evaluation():
    data = associative_recall(64, n_pairs=3, n_keys=4, n_values=2, seed=0)
    seen = []
    train(AttentionReader(4, 2, width=4), data, steps=6, batch_size=16, eval_every=3, progress=False,
          callback=lambda step, model: seen.append((step, model.params["w_q"].copy())))
    assert [s for s, _ in seen] == [3, 6] and not np.allclose(seen[0][1], seen[1][1])


def test_eval_at_chooses_the_evaluated_steps_and_the_last_is_always_one():
    data = associative_recall(64, n_pairs=3, n_keys=4, n_values=2, seed=0)
    seen = []
    history = train(AttentionReader(4, 2, width=4), data, steps=7, batch_size=16, eval_at=[2, 5, 30],
                    progress=False, callback=lambda step, model: seen.append(step))
    assert seen == history.steps == [2, 5, 7]


class Scripted:
    """A one-parameter model whose gradients are a fixed script, whatever the data."""

    def __init__(self, script):
        self.params = {"w": np.zeros(2)}
        self.script = list(script)

    def forward(self, inputs):
        return np.zeros((len(inputs["labels"]), 2)), None

    def backward(self, cache, grad_logits):
        return {"w": np.array(self.script.pop(0))}


def test_clip_norm_clips_the_global_norm_before_each_adam_step():
    data = {"x": np.zeros((4, 1)), "labels": np.zeros(4, int)}
    script = [[6.0, 8.0], [0.3, -0.4]]  # norms 10 and 0.5
    clipped = Scripted(script)
    train(clipped, data, steps=2, batch_size=4, lr=0.1, clip_norm=1.0, progress=False)
    by_hand = {"w": np.zeros(2)}
    optimiser = Adam(by_hand, lr=0.1)
    optimiser.step({"w": np.array([0.6, 0.8])})  # norm 10 -> 1: scaled by 1/10
    optimiser.step({"w": np.array([0.3, -0.4])})  # norm 0.5 <= 1: unchanged
    np.testing.assert_allclose(clipped.params["w"], by_hand["w"], rtol=1e-12)
    unclipped = Scripted(script)
    train(unclipped, data, steps=2, batch_size=4, lr=0.1, progress=False)
    assert not np.allclose(unclipped.params["w"], by_hand["w"])


def recall_sampler(calls):
    """A sampler of fresh recall examples that records each call (size, the examples it gave)."""

    def sample(n, rng):
        data = associative_recall(n, n_pairs=3, n_keys=6, n_values=3, seed=int(rng.integers(2**31)))
        calls.append((n, data))
        return data

    return sample


def test_a_sampler_is_called_for_fresh_examples_at_every_step():
    calls = []
    train(AttentionReader(6, 3, width=4), recall_sampler(calls), steps=5, batch_size=16, monitor_size=40,
          progress=False)
    assert [n for n, _ in calls] == [40, 16, 16, 16, 16, 16]  # the monitor batch once, then one per step
    batches = [d["keys"].tobytes() + d["values"].tobytes() + d["query"].tobytes() for _, d in calls[1:]]
    assert len(set(batches)) == 5  # no batch repeats


def test_sampler_runs_are_reproducible_with_a_seed_and_differ_across_seeds():
    def run(seed):
        calls = []
        model = AttentionReader(6, 3, width=4)
        history = train(model, recall_sampler(calls), steps=6, batch_size=8, eval_every=3, seed=seed,
                        monitor_size=32, progress=False)
        return model.params, history, calls

    (p1, h1, c1), (p2, h2, c2), (p3, _, c3) = run(0), run(0), run(1)
    assert all(np.array_equal(p1[k], p2[k]) for k in p1)
    assert h1.train_loss == h2.train_loss and h1.train_accuracy == h2.train_accuracy
    assert all(np.array_equal(a[1]["keys"], b[1]["keys"]) for a, b in zip(c1, c2))
    assert not np.array_equal(c1[1][1]["keys"], c3[1][1]["keys"])
    assert not all(np.array_equal(p1[k], p3[k]) for k in p1)


def test_with_a_sampler_train_accuracy_is_measured_on_the_monitor_batch():
    calls = []
    model = AttentionReader(6, 3, width=4)
    test_set = associative_recall(50, n_pairs=3, n_keys=6, n_values=3, seed=99)
    history = train(model, recall_sampler(calls), test_set, steps=4, batch_size=8, eval_every=2,
                    monitor_size=64, progress=False)
    monitor = calls[0][1]
    assert len(monitor["labels"]) == 64
    assert (history.train_loss[-1], history.train_accuracy[-1]) == evaluate(model, monitor)
    assert history.test_accuracy[-1] == evaluate(model, test_set)[1]


def test_seconds_at_records_the_time_of_each_evaluation():
    data = associative_recall(64, n_pairs=3, n_keys=4, n_values=2, seed=0)
    history = train(AttentionReader(4, 2, width=4), data, steps=6, batch_size=16, eval_every=2, progress=False)
    assert len(history.seconds_at) == len(history.steps) == 3
    assert 0 < history.seconds_at[0] <= history.seconds_at[1] <= history.seconds_at[2] <= history.seconds


def test_progress_lines_with_a_sampler_have_the_same_form(capsys):
    train(AttentionReader(6, 3, width=4), recall_sampler([]), steps=4, batch_size=8, eval_every=2,
          monitor_size=16)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("[##########] step    4/4 loss ")


DATA = associative_recall(8, n_pairs=3, n_keys=4, n_values=2, seed=0)


def reader():
    return AttentionReader(4, 2, width=4)


def with_(key, value):
    return {**DATA, key: value}


def without(key):
    return {k: v for k, v in DATA.items() if k != key}


@pytest.mark.parametrize("call, error, message", [
    (lambda: train(reader(), DATA, batch_size=16), ValueError, r"batch_size=16 is larger than the training set \(8 examples\)"),
    (lambda: train(reader(), DATA, steps=0), ValueError, r"steps must be >= 1, got 0"),
    (lambda: train(reader(), DATA, steps=True), TypeError, r"steps must be a whole number"),
    (lambda: train(reader(), DATA, batch_size=4.0), TypeError, r"batch_size must be a whole number"),
    (lambda: train(reader(), DATA, eval_every=-1), ValueError, r"eval_every must be >= 1"),
    (lambda: train(reader(), DATA, lr=float("inf")), ValueError, r"lr must be a finite number > 0, got inf"),
    (lambda: train(reader(), DATA, lr=-0.1), ValueError, r"lr must be a finite number > 0"),
    (lambda: train(reader(), DATA, seed=-1), ValueError, r"seed must be >= 0"),
    (lambda: train(reader(), DATA, progress="no"), TypeError, r"progress must be True or False"),
    (lambda: train(reader(), DATA, progress=None), TypeError, r"progress must be True or False"),
    (lambda: train(reader(), DATA, callback="print"), TypeError, r"callback must be a function"),
    (lambda: train(reader(), DATA, eval_at=5), TypeError, r"eval_at must be a sequence of steps"),
    (lambda: train(reader(), DATA, eval_at=[0]), ValueError, r"eval_at entry must be >= 1, got 0"),
    (lambda: train(reader(), DATA, eval_at=[1.5]), TypeError, r"eval_at entry must be a whole number"),
    (lambda: train(None, DATA), TypeError, r"model must have a non-empty dict of parameters"),
    (lambda: train(reader(), None), TypeError, r"train_set must be a dict"),
    (lambda: train(reader(), without("labels")), ValueError, r"train_set has no 'labels'"),
    (lambda: train(reader(), without("query")), ValueError, r"train_set has no 'query'"),
    (lambda: train(reader(), with_("labels", DATA["labels"] + 5)), ValueError, r"train_set\['labels'\] must lie in 0\.\.1"),
    (lambda: train(reader(), with_("labels", DATA["labels"] - 1)), ValueError, r"train_set\['labels'\] must lie in 0\.\.1; got -1"),
    (lambda: train(reader(), with_("keys", DATA["keys"] + 10)), ValueError, r"train_set\['keys'\] must lie in 0\.\.3"),
    (lambda: train(reader(), with_("query", DATA["query"][:5])), ValueError, r"train_set\['query'\] must have shape \(8,\); got \(5,\)"),
    (lambda: train(reader(), with_("values", DATA["values"][:, :2])), ValueError, r"train_set\['values'\] must have shape \(8, 3\); got \(8, 2\)"),
    (lambda: train(reader(), with_("keys", DATA["keys"].astype(float))), TypeError, r"train_set\['keys'\] must hold whole numbers"),
    (lambda: train(reader(), DATA, test_set=without("keys")), ValueError, r"test_set has no 'keys'"),
    (lambda: evaluate(reader(), with_("query", None)), TypeError, r"data\['query'\] must be an array of whole numbers, got None"),
    (lambda: evaluate(Linear(), {"x": np.zeros((0, 2)), "labels": np.zeros(0, int)}), ValueError, r"data\['labels'\] must hold one entry per example"),
    (lambda: train(reader(), DATA, clip_norm=0.0), ValueError, r"clip_norm must be a finite number > 0, got 0.0"),
    (lambda: train(reader(), DATA, clip_norm=float("nan")), ValueError, r"clip_norm must be a finite number > 0"),
    (lambda: train(reader(), DATA, clip_norm="1"), TypeError, r"clip_norm must be a positive real number"),
    (lambda: train(reader(), DATA, monitor_size=0), ValueError, r"monitor_size must be >= 1, got 0"),
    (lambda: train(reader(), DATA, monitor_size=8.0), TypeError, r"monitor_size must be a whole number"),
    (lambda: train(reader(), [DATA]), TypeError, r"train_set must be a dict .* or a function sample\(batch_size, rng\)"),
    (lambda: train(reader(), lambda n, rng: DATA, batch_size=4), ValueError,
     r"train_set\(1024, rng\) must return 1024 examples; it returned 8"),
    (lambda: train(reader(), lambda n, rng: DATA, batch_size=4, monitor_size=8), ValueError,
     r"train_set\(4, rng\) must return 4 examples; it returned 8"),
    (lambda: train(reader(), lambda n, rng: list(DATA)), TypeError, r"train_set\(1024, rng\) must be a dict"),
    (lambda: train(reader(), lambda n, rng: with_("keys", DATA["keys"] + 10), monitor_size=8), ValueError,
     r"train_set\(8, rng\)\['keys'\] must lie in 0\.\.3"),
    (lambda: train(reader(), lambda n: DATA), TypeError, r"train_set, a function, must take two arguments"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()
