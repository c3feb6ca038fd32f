"""attn_core.experiments.long_context: RoPE rescalings, needles, windows and their reach, sinks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core import positions as pos
from attn_core.experiments.long_context import (
    MODEL_WINDOWS,
    NEEDLE_CONFIG,
    ROPE_METHODS,
    SINK_CONFIG,
    ResidualRecallReader,
    eviction_errors,
    influence_rollout,
    kv_positions,
    layer_windows,
    load_needle,
    load_sinks,
    matching_scores,
    needle_distance,
    needle_recall,
    optional_needles,
    reachable_positions,
    receptive_field,
    rescaled_rotary,
    rope_scaling_table,
    sink_eviction,
    sink_head,
    train_sink_reader,
)
from attn_core.experiments.positions import marked_recall, stored_recall_reader

# --- RoPE rescaled -----------------------------------------------------------------------------


def test_interpolated_frequencies_rotate_like_interpolated_positions():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 8))
    positions = np.arange(12.0)
    frequencies = rescaled_rotary("interpolation", 8, scale=3.0, original_length=4)["frequencies"]
    by_frequencies = pos.rotary_embedding(x, positions, frequencies=frequencies)
    by_positions = pos.rotary_embedding(x, pos.interpolated_positions(positions, 3.0))
    assert_allclose(by_frequencies, by_positions, atol=1e-12)


def test_ntk_slows_the_slowest_pair_by_the_scale_and_keeps_the_fastest():
    theta = 10000.0 ** (-np.arange(0, 128, 2) / 128)
    ntk = rescaled_rotary("ntk", 128, scale=8.0, original_length=4096)["frequencies"]
    assert ntk[0] == 1.0 and math.isclose(ntk[-1], theta[-1] / 8.0, rel_tol=1e-12)
    slowed = theta / ntk  # pair i slowed by s ** (2i / (d - 2))
    assert_allclose(slowed, 8.0 ** (np.arange(64) / 63), rtol=1e-12)


def test_yarn_frequencies_follow_the_papers_ramp_written_as_a_loop():
    d, base, scale, length = 64, 10000.0, 16.0, 2048
    got = rescaled_rotary("yarn", d, scale=scale, original_length=length, base=base)
    for i, value in enumerate(got["frequencies"]):
        theta = base ** (-2 * i / d)
        turns = length / (2 * math.pi / theta)  # r = L / wavelength
        if turns < 1:
            expected = theta / scale
        elif turns > 32:
            expected = theta
        else:
            ramp = (turns - 1) / (32 - 1)
            expected = (1 - ramp) * theta / scale + ramp * theta
        assert math.isclose(value, expected, rel_tol=1e-12), i
    assert math.isclose(got["score_factor"], (0.1 * math.log(16.0) + 1) ** 2, rel_tol=1e-12)


def test_no_rescaling_at_scale_one():
    trained = rescaled_rotary("none", 16, scale=1.0, original_length=32)
    for method in ROPE_METHODS:
        rope = rescaled_rotary(method, 16, scale=1.0, original_length=32)
        assert_allclose(rope["frequencies"], trained["frequencies"], rtol=1e-12)
        assert rope["score_factor"] == 1.0


def test_matching_scores_by_hand():
    # pairs turning 0 and pi/2 per position: at distance 1, (cos 0 + cos pi/2) / 2 = 1/2; at 2, (1 - 1) / 2 = 0
    assert_allclose(matching_scores([0, 1, 2], [0.0, math.pi / 2]), [1.0, 0.5, 0.0], atol=1e-12)
    assert_allclose(matching_scores([0], [1.0, 2.0], score_factor=2.0), [2.0])


def test_matching_score_is_the_rotary_score_of_a_key_equal_to_its_query():
    d, distance = 16, 37
    q = np.ones((1, d)) / 4.0  # equal energy in every pair
    rotated_q = pos.rotary_embedding(q, [distance])
    rotated_k = pos.rotary_embedding(q, [0])
    theta = rescaled_rotary("none", d, scale=1.0, original_length=1)["frequencies"]
    assert_allclose((rotated_q @ rotated_k.T)[0, 0] / (q @ q.T)[0, 0], matching_scores([distance], theta)[0])


def test_unseen_pairs_counted_by_hand_for_the_llama_2_shape():
    # d = 128, L = 4096: pair i never turns in training when 4096 * 10000 ** (-i / 64) < 2 pi, i.e. i > 45.03
    rows = {row["method"]: row for row in rope_scaling_table(128, 4096, 8.0)}
    assert rows["none"]["unseen_pairs"] == 64 - 46
    assert rows["interpolation"]["unseen_pairs"] == 0 and rows["yarn"]["unseen_pairs"] == 0
    assert 0 < rows["ntk"]["unseen_pairs"] < 18  # only the slowest pair is slowed by the whole scale
    assert rows["interpolation"]["neighbour_gap"] < rows["none"]["neighbour_gap"] / 8  # squeezed neighbours
    assert math.isclose(rows["yarn"]["neighbour_gap"], rows["none"]["neighbour_gap"], rel_tol=0.01)


# --- needle in a haystack ----------------------------------------------------------------------


def test_needle_distance_by_hand():
    assert [needle_distance(10, depth) for depth in (0.0, 0.25, 0.5, 1.0)] == [9, 7, 5, 1]
    with pytest.raises(ValueError, match="depth"):
        needle_distance(10, 1.5)


def test_needle_recall_as_trained_is_the_readers_own_forward_pass():
    reader = stored_recall_reader("rope")
    length, depth = 96, 0.3
    distance = needle_distance(length, depth)
    data = marked_recall(200, length, distance=distance, seed=5 + 1000 * length + distance)
    logits, _ = reader.forward({"tokens": data["tokens"]})
    expected = float((logits.argmax(axis=-1) == data["labels"]).mean())
    assert needle_recall(reader, length, depth, n_examples=200) == expected


def test_every_method_is_the_trained_reader_within_the_training_length():
    reader = stored_recall_reader("rope")
    accuracies = {needle_recall(reader, 32, 0.5, method=m, n_examples=100) for m in ROPE_METHODS}
    assert len(accuracies) == 1


def test_needle_recall_refuses_a_reader_without_rope():
    with pytest.raises(TypeError, match="RoPE"):
        needle_recall(stored_recall_reader("alibi"), 64, 0.5)


def test_stored_needle_grid_is_this_configuration_and_reproduces():
    stored = load_needle()
    assert stored["config"] == NEEDLE_CONFIG
    reader = stored_recall_reader("rope")  # seed 1, the first of NEEDLE_CONFIG["seeds"]
    for method in ("none", "yarn"):
        for a, b in ((4, 0), (5, 3), (2, 6)):  # (length index, depth index)
            again = needle_recall(reader, NEEDLE_CONFIG["lengths"][a], NEEDLE_CONFIG["depths"][b], method=method,
                                  n_examples=NEEDLE_CONFIG["test_examples"], seed=NEEDLE_CONFIG["test_seed"])
            assert again == stored["accuracy"][method][0][a][b]


# --- windows: reach and memory -------------------------------------------------------------------


@given(windows=st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=1, max_size=4), n=st.integers(1, 24))
@settings(max_examples=60, deadline=None)
def test_receptive_field_is_what_the_composed_masks_reach(windows, n):
    reach = reachable_positions(windows, n)[-1]  # (n,): what the last position can read
    furthest = n - 1 - np.flatnonzero(reach)[0]
    assert furthest == min(receptive_field(windows), n - 1)
    assert reach[np.flatnonzero(reach)[0]:].all()  # no holes: everything nearer is reachable too


def test_reach_hand_computed_for_two_layers_of_window_two():
    reach = reachable_positions([2, 2], 6)
    assert reach[5].tolist() == [False, True, True, True, True, True]
    assert reach[2].tolist() == [True, True, True, False, False, False]  # causal: never ahead


def test_influence_rollout_by_hand_and_where_it_is_zero():
    # one layer, window 2, residual 1/2: the last of 4 keeps 1/2 + 1/6, the two before it 1/6 each
    assert_allclose(influence_rollout([2], 4), [0.0, 1 / 6, 1 / 6, 1 / 2 + 1 / 6])
    for windows in ([3, 3, 3], [3, None, 3]):
        share = influence_rollout(windows, 30)
        assert math.isclose(share.sum(), 1.0) and (share >= 0).all()
        assert_array_equal(share > 0, reachable_positions(windows, 30)[-1])


def test_layer_patterns_and_caches_of_the_published_shapes():
    gemma3 = layer_windows(12, window=1024, global_every=6)
    assert gemma3.count(None) == 2 and gemma3[5] is None and gemma3[11] is None  # five local, one global
    mistral = MODEL_WINDOWS["Mistral 7B"]
    windows = layer_windows(mistral["layers"], window=mistral["window"])
    assert mistral["window"] + 1 == 4096  # the paper's W: the positions a query sees, itself included
    assert receptive_field(windows) == 32 * 4095  # the paper's "theoretical attention span" counts 32 x W
    assert kv_positions(windows, 32768).tolist() == [4096] * 32  # W slots, as the paper's rolling buffer
    assert kv_positions([4, None, 4], 3).tolist() == [3, 3, 3]  # a short context fits every window


# --- attention sinks ------------------------------------------------------------------------------


def test_sink_head_scores_by_construction():
    head = sink_head(20, d=16, sink_score=5.0)
    q, k = head["q"], head["k"]
    scores = q @ k.T / 4.0  # scale 1 / sqrt(16)
    assert_allclose(scores[:, 0], 5.0)  # every query scores 5 on the first key
    for i in np.flatnonzero(head["active"]):
        assert math.isclose(scores[i, i - 1], 8.0)  # an active query: 3 more on the token before it
    assert not head["v"][0].any()  # the sink's value is zero


def test_eviction_errors_vanish_when_nothing_is_evicted_and_sinks_help_idle_queries():
    head = sink_head(48)
    q, k, v = head["q"], head["k"], head["v"]
    assert eviction_errors(q, k, v, window=47).max() < 1e-12
    later = np.arange(48) > 6
    idle = ~head["active"] & later
    without = eviction_errors(q, k, v, window=6)
    with_sink = eviction_errors(q, k, v, window=6, n_sinks=1)
    assert with_sink[idle].mean() < without[idle].mean() / 10


def test_eviction_errors_match_the_masked_attention_they_stand_for():
    head = sink_head(30, d=8, seed=3)
    q, k, v = head["q"], head["k"], head["v"]
    i, j = np.arange(30)[:, None], np.arange(30)[None, :]
    full, _ = ac.scaled_dot_product_attention(q, k, v, causal=True)
    masked, _ = ac.scaled_dot_product_attention(q, k, v, mask=(j <= i) & ((i - j <= 5) | (j < 2)))
    size = np.linalg.norm(full, axis=1)
    expected = np.linalg.norm(masked - full, axis=1) / np.maximum(size, size.mean())
    assert_allclose(eviction_errors(q, k, v, window=5, n_sinks=2), expected, atol=1e-12)


# --- a trained sink ---------------------------------------------------------------------------


def test_optional_needles_by_construction():
    data = optional_needles(200, 12, n_values=5, needle_within=4, seed=3)
    tokens, labels, needle = data["tokens"], data["labels"], data["has_needle"]
    assert (tokens[:, 0] == 5).all() and (tokens[:, -1] >= 12).all()  # <s> first, a question last
    marked = (tokens[:, 1:-1] >= 6) & (tokens[:, 1:-1] < 11)  # (B, n - 2)
    assert_array_equal(marked.sum(axis=1), needle.astype(int))  # one needle, or none
    rows = np.flatnonzero(needle)
    where = marked[rows].argmax(axis=1) + 1
    assert (where >= 12 - 1 - 4).all()  # among the last four before the question
    assert_array_equal(labels[rows], tokens[rows, where] - 6)
    assert_array_equal(labels[~needle], tokens[~needle, -1] - 12)  # the question's own default
    assert 60 < needle.sum() < 140


def test_residual_reader_gradients_match_finite_differences():
    from attn_core.training.gradient_check import gradient_check
    from attn_core.training.losses import cross_entropy

    reader = ResidualRecallReader(8, n_values=3, width=4, seed=2)
    data = optional_needles(5, 8, n_values=3, seed=1)

    def loss():
        logits, _ = reader.forward({"tokens": data["tokens"]})
        return cross_entropy(logits, data["labels"])[0]

    logits, cache = reader.forward({"tokens": data["tokens"]})
    grads = reader.backward(cache, cross_entropy(logits, data["labels"])[1])
    assert gradient_check(loss, reader.params, grads) < 1e-5


def test_residual_reader_adds_the_questions_vector_to_the_attention_output():
    reader = ResidualRecallReader(8, n_values=3, width=4, seed=0)
    tokens = optional_needles(3, 6, n_values=3, seed=4)["tokens"]
    logits, cache = reader.forward({"tokens": tokens})
    p = reader.params
    attention_only = cache["out"][:, 0] @ p["w_o"] + p["b_o"]
    assert_allclose(logits, attention_only + p["token"][tokens[:, -1]] @ p["w_o"])


def test_a_window_as_long_as_the_haystack_evicts_nothing():
    reader = ResidualRecallReader(32, n_values=8, width=16, seed=1)
    config = {**SINK_CONFIG, "test_length": 20, "needle_within": 4, "windows": [19], "test_examples": 50}
    result = sink_eviction(reader, config=config)
    assert result["accuracy"]["window 19"] == result["accuracy"]["whole"]  # 19 tokens and the question: all
    assert set(result["first_weight"]) == {"no needle", "needle"}


def test_evicting_only_the_first_token_is_a_window_one_short_of_the_haystack():
    reader = ResidualRecallReader(32, n_values=8, width=16, seed=2)
    config = {**SINK_CONFIG, "test_length": 20, "needle_within": 4, "windows": [18], "test_examples": 50}
    result = sink_eviction(reader, config=config)
    # 18 tokens and the question are everything but <s>; with <s> in front, the whole haystack
    assert result["accuracy"]["window 18"] == result["accuracy"]["whole without <s>"]
    assert result["accuracy"]["window 18 + <s>"] == result["accuracy"]["whole"]
    short = result["train_length"]
    assert set(short) == {"first_weight", "accuracy"} and set(short["accuracy"]) == {"no needle", "needle"}


def test_stored_sink_runs_are_this_configuration_and_reproduce():
    stored = load_sinks()
    assert stored["config"] == SINK_CONFIG
    again = sink_eviction(train_sink_reader(SINK_CONFIG["seeds"][0]))
    assert again == stored["runs"][0]
