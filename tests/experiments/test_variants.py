"""attn_core.experiments.variants: the shared inputs, the error measure and the costs of chapter 10."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core import variants
from attn_core.experiments.variants import (
    DEFAULT_BUDGETS,
    POSITION_FREQUENCIES,
    VARIANTS,
    implicit_weights,
    lookup_sequence,
    mean_pooling_projection,
    relative_error,
    run_variant,
)
from attn_core.masks import bigbird_mask, fixed_mask, sliding_window_mask, strided_mask

N, D = 128, 16


@pytest.fixture(scope="module")
def data():
    return lookup_sequence(seed=1)


# ----------------------------------------------------------------- lookup_sequence
def test_lookup_sequence_shapes_and_determinism(data):
    assert data["q"].shape == data["k"].shape == data["v"].shape == (N, D)
    assert data["lookups"].shape == (8, 2)
    again = lookup_sequence(seed=1)
    for name in ("q", "k", "v", "lookups"):
        assert_array_equal(again[name], data[name])
    assert not np.array_equal(lookup_sequence(seed=2)["q"], data["q"])


def test_position_part_scores_by_formula(data):
    """Position parts score 10/6 * sum_f cos(f (i - j)) (lookup queries: half of it)."""
    q, k = data["q"], data["k"]
    lookup_rows = data["lookups"][:, 0]
    f = np.asarray(POSITION_FREQUENCIES)
    for i in (0, 5, 40, 127, int(lookup_rows[0])):
        for j in (0, 3, 41, 90):
            expected = 10.0 / 6 * np.cos(f * (i - j)).sum()
            if i in lookup_rows:
                expected *= 0.5
            assert_allclose(q[i, :12] @ k[j, :12] / np.sqrt(D), expected, atol=1e-12)


def test_lookups_are_far_back_and_win_the_attention(data):
    lookups = data["lookups"]
    assert (lookups[:, 0] >= N // 2).all() and (lookups[:, 0] - lookups[:, 1] >= N // 4).all()
    assert len(set(lookups[:, 1])) == len(lookups) and (np.diff(lookups[:, 0]) > 0).all()
    _, weights = ac.scaled_dot_product_attention(data["q"], data["k"], data["v"])
    assert_array_equal(weights[lookups[:, 0]].argmax(axis=1), lookups[:, 1])
    ordinary = np.setdiff1d(np.arange(N), lookups[:, 0])
    offset = np.abs(np.arange(N)[:, None] - np.arange(N)[None, :])
    near = (weights * (offset <= 2)).sum(axis=1)
    assert near[ordinary].min() > 0.85  # locality
    assert (np.abs(weights[ordinary].argmax(axis=1) - ordinary) <= 1).all()


@pytest.mark.parametrize("n, n_lookups", [(16, 2), (64, 8), (100, 0)])
def test_lookup_sequence_other_sizes(n, n_lookups):
    d = lookup_sequence(n, n_lookups=n_lookups, seed=3)
    assert d["q"].shape == (n, D) and d["lookups"].shape == (n_lookups, 2)
    if n_lookups:
        assert (d["lookups"][:, 0] - d["lookups"][:, 1] >= n // 4).all()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 15}, ValueError, r"n must lie in 16..128, got 15"),
    ({"n": 129}, ValueError, r"n must lie in 16..128"),
    ({"n": 2.5}, TypeError, r"n"),
    ({"n_lookups": 9}, ValueError, r"n_lookups must be a whole number in 0..8"),
    ({"n": 32, "n_lookups": 5}, ValueError, r"in 0..4 for n=32"),
    ({"n_lookups": True}, ValueError, r"n_lookups"),
])
def test_lookup_sequence_refuses_bad_sizes(kwargs, error, message):
    with pytest.raises(error, match=message):
        lookup_sequence(**kwargs)


# ----------------------------------------------------------------- relative_error
def test_relative_error_by_hand_and_by_loop():
    assert relative_error([[1.0, -3.0]], [[2.0, -2.0]]) == 0.5
    assert relative_error([[2.0, -2.0]], [[2.0, -2.0]]) == 0.0
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 5, 3))
    diff = sum(abs(a[i, c] - b[i, c]) for i in range(5) for c in range(3))
    size = sum(abs(b[i, c]) for i in range(5) for c in range(3))
    assert_allclose(relative_error(a, b), diff / size)


def test_relative_error_refuses_bad_input():
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="all zeros"):
        relative_error(np.ones(2), np.zeros(2))


# ----------------------------------------------------------------- implicit weights, pooling
def test_implicit_weights_of_softmax_and_low_rank(data):
    q, k, v = data["q"][:20], data["k"][:20], data["v"][:20]
    _, weights = ac.scaled_dot_product_attention(q, k, v)
    w = implicit_weights(lambda values: ac.scaled_dot_product_attention(q, k, values)[0], 20)
    assert_allclose(w, weights, atol=1e-12)
    e = mean_pooling_projection(20, 5)
    _, w_low = variants.low_rank_attention(q, k, v, e)  # (20, 5)
    implicit = implicit_weights(lambda values: variants.low_rank_attention(q, k, values, e)[0], 20)
    assert_allclose(implicit, w_low @ e, atol=1e-12)  # the weights seen through F = E
    assert_allclose(implicit @ v, variants.low_rank_attention(q, k, v, e)[0], atol=1e-12)


def test_mean_pooling_projection_by_hand_and_by_loop():
    assert_allclose(mean_pooling_projection(4, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    assert_array_equal(mean_pooling_projection(6, 6), np.eye(6))
    p = mean_pooling_projection(10, 3)  # blocks of 4, 3, 3
    expected = np.zeros((3, 10))
    start = 0
    for row, size in enumerate([4, 3, 3]):
        for j in range(start, start + size):
            expected[row, j] = 1 / size
        start += size
    assert_allclose(p, expected)
    assert_allclose(p.sum(axis=1), 1.0)


def test_mean_pooling_projection_refuses_bad_rank():
    with pytest.raises(ValueError, match=r"rank must be <= n_k=4, got 5"):
        mean_pooling_projection(4, 5)
    with pytest.raises(ValueError, match="rank must be >= 1"):
        mean_pooling_projection(4, 0)


# ----------------------------------------------------------------- run_variant
def test_defaults_cover_every_variant():
    assert set(DEFAULT_BUDGETS) == set(VARIANTS)


def test_costs_by_formula(data):
    """The chapter's table: multiply-adds and memory at n = 128, d_k = d_v = 16."""
    q, k, v = data["q"], data["k"], data["v"]
    nnz = {
        "local": sliding_window_mask(N, window=4).sum(),
        "strided": strided_mask(N, stride=16, causal=False).sum(),
        "fixed": fixed_mask(N, block=16, summary=2, causal=False).sum(),
        "BigBird": bigbird_mask(N, window=2, n_global=2, n_random=2, seed=0).sum(),
    }
    assert nnz["local"] == N * 9 - 4 * 5 == 1132
    expected = {
        "full": (N * N * 32, N * N),
        "hard": (N * N * 16, N * N),
        "top-k": (N * N * 16 + N * 8 * 16, N * N),
        "low-rank": (2 * N * 32 * 32, N * 32),
        "linear": (2 * N * 16 * 17, 16 * 17),
        "random features": (2 * N * 256 * 33, 256 * 17),
        # 16 blocks of 8: block means, 16 gate scores per query, then the chosen pairs (4 blocks of 8)
        "block top-k": (N * 16 + N * 16 * 16 + N * 32 * 32, N * 16 + N * 32),
        **{name: (count * 32, count) for name, count in nnz.items()},
    }
    for name, (work, memory) in expected.items():
        run = run_variant(name, q, k, v)
        assert (run.multiply_adds, run.memory) == (work, memory), name
    assert run_variant("local", q, k, v, budget=4).multiply_adds == 36_224
    assert run_variant("random features", q, k, v).multiply_adds == 2_162_688


def test_outputs_weights_and_errors(data):
    q, k, v = data["q"], data["k"], data["v"]
    exact, full_weights = ac.scaled_dot_product_attention(q, k, v)
    for name in VARIANTS:
        run = run_variant(name, q, k, v)
        assert run.output.shape == (N, D) and run.weights.shape == (N, N)
        # every variant is linear in the values: its (implicit) weights reproduce its output
        assert_allclose(run.weights @ v, run.output, atol=1e-9, err_msg=name)
        assert_allclose(run.error, relative_error(run.output, exact), err_msg=name)
    assert run_variant("full", q, k, v).error == 0.0
    assert_allclose(run_variant("full", q, k, v).weights, full_weights)
    local = run_variant("local", q, k, v, budget=3)
    masked, _ = ac.scaled_dot_product_attention(q, k, v, mask=sliding_window_mask(N, window=3))
    assert_allclose(local.output, masked, atol=1e-12)
    assert run_variant("low-rank", q, k, v, budget=N).error < 1e-12  # block means of 1 key
    assert run_variant("top-k", q, k, v, budget=N).error < 1e-12
    assert run_variant("hard", q, k, v, seed=3).weights.sum(axis=1).tolist() == [1.0] * N


def test_budget_and_seed(data):
    q, k, v = data["q"], data["k"], data["v"]
    assert run_variant("full", q, k, v, budget=7).parameter == "all keys"
    assert run_variant("strided", q, k, v, budget=8).parameter == "stride 8"
    errors = [run_variant("local", q, k, v, budget=w).error for w in (1, 2, 4)]
    assert errors[0] > errors[1] > errors[2]
    a = run_variant("random features", q, k, v, budget=64, seed=0).output
    b = run_variant("random features", q, k, v, budget=64, seed=1).output
    assert not np.allclose(a, b)


def test_run_variant_refuses_bad_input(data):
    q, k, v = data["q"], data["k"], data["v"]
    with pytest.raises(ValueError, match="name must be one of .*got 'sliding'"):
        run_variant("sliding", q, k, v)
    with pytest.raises(ValueError, match="one self-attention sequence"):
        run_variant("local", q[:10], k, v)
    with pytest.raises(ValueError, match="one self-attention sequence"):
        run_variant("local", q[None], k[None], v[None])
    with pytest.raises(ValueError, match="budget must be >= 1"):
        run_variant("local", q, k, v, budget=0)






# ----------------------------------------------------------------- second edition: inputs, measures, gradients
from attn_core.experiments.variants import (  # noqa: E402
    SELECTION_BLOCK,
    frobenius_error,
    random_sequence,
    score_function_gradients,
    soft_attention_gradient,
    weight_error,
)


def test_random_sequence_scores_have_the_stated_spread():
    data = random_sequence(128, scale=0.5, seed=4)
    assert data["q"].shape == data["k"].shape == data["v"].shape == (128, 16)
    assert data["lookups"].shape == (0, 2)
    scores = data["q"] @ data["k"].T / 4.0
    assert abs(scores.std() - 0.25) < 0.02 and abs(scores.mean()) < 0.02  # scale**2
    again = random_sequence(128, scale=0.5, seed=4)
    assert_array_equal(again["q"], data["q"])
    with pytest.raises(ValueError, match="scale"):
        random_sequence(scale=0.0)


def test_frobenius_and_weight_error_by_hand():
    assert frobenius_error([[3.0, 0.0]], [[0.0, 4.0]]) == 5.0 / 4.0
    assert weight_error([[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]) == 0.5  # rows: 1 and 0
    assert weight_error(np.eye(3), np.eye(3)) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        frobenius_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="all zeros"):
        frobenius_error(np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="n_q, n_k"):
        weight_error(np.ones(2), np.ones(2))


def test_run_variant_reports_the_three_measures(data):
    q, k, v = data["q"], data["k"], data["v"]
    exact, full_weights = ac.scaled_dot_product_attention(q, k, v)
    for name in ("local", "low-rank", "block top-k"):
        run = run_variant(name, q, k, v)
        assert run.frobenius_error == frobenius_error(run.output, exact)
        assert run.weight_error == weight_error(run.weights, full_weights)
        assert 0.0 < run.weight_error < 1.0


def test_block_top_k_variant_is_the_library_function(data):
    q, k, v = data["q"], data["k"], data["v"]
    run = run_variant("block top-k", q, k, v, budget=3)
    out, weights = variants.block_top_k_attention(q, k, v, block_size=SELECTION_BLOCK, top_k=3)
    assert_allclose(run.output, out) and run.parameter == "top 3 blocks of 8"
    assert run_variant("block top-k", q, k, v, budget=N // SELECTION_BLOCK).error < 1e-12  # every block


def test_soft_attention_gradient_against_finite_differences():
    rng = np.random.default_rng(0)
    scores, values, target = rng.standard_normal(5), rng.standard_normal((5, 3)), rng.standard_normal(3)

    def loss(s):
        a = np.exp(s) / np.exp(s).sum()
        return 0.5 * np.sum((a @ values - target) ** 2)

    value, gradient = soft_attention_gradient(scores, values, target)
    assert_allclose(value, loss(scores))
    step = 1e-6
    numeric = [(loss(scores + step * e) - loss(scores - step * e)) / (2 * step) for e in np.eye(5)]
    assert_allclose(gradient, numeric, atol=1e-8)


def test_score_function_exact_gradient_and_unbiased_estimates():
    rng = np.random.default_rng(1)
    scores, values, target = rng.standard_normal(4), rng.standard_normal((4, 2)), rng.standard_normal(2)

    def expected_loss(s):  # J = sum_j a_j L_j, written out
        a = np.exp(s) / np.exp(s).sum()
        return sum(a[j] * 0.5 * np.sum((values[j] - target) ** 2) for j in range(4))

    step = 1e-6
    numeric = [(expected_loss(scores + step * e) - expected_loss(scores - step * e)) / (2 * step) for e in np.eye(4)]
    for baseline in (False, True):
        exact, estimates = score_function_gradients(scores, values, target, n_samples=2, n_trials=40000,
                                                    baseline=baseline, seed=2)
        assert_allclose(exact, numeric, atol=1e-8)
        assert estimates.shape == (40000, 4)
        spread = estimates.std(axis=0) / np.sqrt(40000)
        assert np.all(np.abs(estimates.mean(axis=0) - exact) < 5 * spread + 1e-12)  # unbiased
    # the variance falls like 1/n_samples
    _, few = score_function_gradients(scores, values, target, n_samples=1, n_trials=20000, seed=3)
    _, many = score_function_gradients(scores, values, target, n_samples=16, n_trials=20000, seed=3)
    ratio = few.var(axis=0).sum() / many.var(axis=0).sum()
    assert 12 < ratio < 21


def test_score_function_refuses_a_baseline_with_one_sample():
    with pytest.raises(ValueError, match="n_samples >= 2"):
        score_function_gradients([0.0, 1.0], [[1.0], [0.0]], [1.0], n_samples=1, baseline=True)
    with pytest.raises(ValueError, match="values must have shape"):
        soft_attention_gradient([0.0, 1.0], [[1.0]], [1.0])


# ----------------------------------------------------------------- matched cost, JL, Eckart-Young
from attn_core.experiments.variants import (  # noqa: E402
    eckart_young_error,
    linformer_jl_rank,
    low_rank_at_matched_cost,
)


@pytest.mark.parametrize("name, budget", [("local", 4), ("block top-k", 1), ("strided", 16), ("top-k", 8)])
def test_matched_low_rank_is_the_largest_rank_within_the_budget(data, name, budget):
    q, k, v = data["q"], data["k"], data["v"]
    variant, low = low_rank_at_matched_cost(name, q, k, v, budget=budget)
    assert variant.multiply_adds == run_variant(name, q, k, v, budget=budget).multiply_adds
    per_rank = 2 * N * (D + D)  # low rank's work per unit of rank, written out
    assert low.multiply_adds == low.budget * per_rank <= variant.multiply_adds
    assert (low.budget + 1) * per_rank > variant.multiply_adds
    assert low.weight_error == run_variant("low-rank", q, k, v, budget=low.budget).weight_error


def test_matched_low_rank_never_goes_below_rank_one():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 32, 4))
    _, low = low_rank_at_matched_cost("local", q, k, v, budget=1)  # 94 pairs x 8 = 752 < 2 x 2n(d_k + d_v)
    assert low.budget == 1


def test_linformer_jl_rank_formula_and_its_minimum():
    assert linformer_jl_rank(100, 0.5) == pytest.approx(5 * np.log(100) / (0.25 - 0.125))
    grid = np.linspace(0.01, 0.99, 981)
    ranks = [linformer_jl_rank(128, eps) for eps in grid]
    assert grid[int(np.argmin(ranks))] == pytest.approx(2 / 3, abs=1e-3)
    assert min(ranks) > 128  # at n = 128 the theorem never asks for fewer rows than n


def test_eckart_young_error_is_the_best_rank_r_error():
    diagonal = np.diag([4.0, 2.0, 1.0])
    assert eckart_young_error(diagonal, 1) == pytest.approx(np.sqrt(5 / 21))
    assert eckart_young_error(diagonal, 3) == 0.0
    rng = np.random.default_rng(1)
    m = rng.standard_normal((6, 5))
    bound = eckart_young_error(m, 2)
    for _ in range(20):  # no random rank-2 matrix does better
        guess = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 5))
        assert np.linalg.norm(guess - m) / np.linalg.norm(m) >= bound
    with pytest.raises(ValueError, match="rank must be <="):
        eckart_young_error(m, 6)


# ------------------------------------------------------------------ recall from a fixed state
from attn_core.experiments.variants import (  # noqa: E402
    FIXED_STATE_MEMORIES, RECALL_MEMORIES, TUNED_KNOBS, equal_state_window, memory_recall, memory_recall_sweep,
    state_sizes, tune_memory)


def test_equal_state_window_by_hand():
    # 16 x 16 = 256 numbers = 8 pairs of 16 + 16; 4 x 12 = 48 = 3 pairs of 16; never below one pair
    assert equal_state_window(16, 16) == 8
    assert equal_state_window(4, 12) == 3
    assert equal_state_window(1, 1) == 1


def test_state_sizes_fixed_memories_hold_d_k_d_v_and_the_window_no_more():
    sizes = state_sizes(64, 8, 8)
    assert all(sizes[memory] == 64 for memory in FIXED_STATE_MEMORIES)
    assert sizes["softmax window"] == 4 * 16 <= sizes["linear"]
    assert sizes["softmax"] == 64 * 16
    assert set(sizes) == set(RECALL_MEMORIES)


@pytest.mark.parametrize("memory", ["linear", "delta rule", "least squares"])
@pytest.mark.parametrize("n_pairs", [1, 3, 8])
def test_orthogonal_keys_up_to_d_k_are_recalled_exactly(memory, n_pairs):
    # F = sum k_i^T v_i and k_j k_i^T = delta_ij: k_j F = v_j; the delta rule (strength 1) then writes the
    # same F (each k_t F_{t-1} = 0); least squares solves K F = V exactly
    result = memory_recall(memory, n_pairs, 8, keys="orthogonal", strength=1.0, n_trials=16)
    assert result.error < 1e-12
    assert result.accuracy == 1.0


@pytest.mark.parametrize("memory", FIXED_STATE_MEMORIES)
@pytest.mark.parametrize("n_pairs", [9, 16, 40])
def test_more_pairs_than_d_k_cannot_all_be_recalled_exactly(memory, n_pairs):
    # counting, for VECTORS: n > d_k = 8 keys drawn with a density span a random 8-dimensional subspace col(K)
    # of R^n, and K F = V needs every column of V in it; a value column fixed independently of the keys lies
    # in that subspace with probability 0. So no F returns every stored vector, not even the matrix of least
    # squared error (decoding the token may still succeed: see the fitted state below)
    result = memory_recall(memory, n_pairs, 8, n_trials=16)
    assert result.error > 0.05


def test_least_squares_error_is_zero_up_to_d_k_random_keys_and_positive_beyond():
    # d_k random keys are linearly independent (almost surely): exact; one more is not
    assert memory_recall("least squares", 8, 8, n_trials=8).error < 1e-9
    assert memory_recall("least squares", 9, 8, n_trials=8).error > 1e-3


@pytest.mark.parametrize("n_pairs", [4, 64])
def test_softmax_with_the_full_cache_recalls_every_pair(n_pairs):
    # a unit key scores 1 against itself and less against any other; times 16 the own key's weight dominates
    result = memory_recall("softmax", n_pairs, 16, n_trials=16)
    assert result.accuracy == 1.0
    assert result.state_size == n_pairs * 32


def test_softmax_window_recalls_the_last_m_pairs_only():
    # 16 orthogonal keys, window m = 8: the 8 newest are found; an older key is orthogonal to all 8 kept,
    # so its weights are uniform and the output is the mean of the kept values
    result = memory_recall("softmax window", 16, 16, keys="orthogonal", n_trials=32)
    assert (result.accuracy_by_age[:8] == 1.0).all()
    assert result.accuracy_by_age[8:].mean() < 0.5


def test_decayed_memory_with_orthogonal_keys_returns_faded_values():
    # k_j F = lambda^(age - 1) v_j: decoded right every time, but |o - v| / |v| = 1 - lambda^(age - 1);
    # ages 1..4 at lambda = 0.5: errors 0, 0.5, 0.75, 0.875, mean 0.53125
    result = memory_recall("decayed", 4, 4, keys="orthogonal", decay=0.5, n_trials=8)
    assert result.accuracy == 1.0
    assert result.error == pytest.approx(0.53125, abs=1e-12)


def test_delta_rule_recalls_the_newest_pair_exactly():
    # with strength 1 and a unit key, k_t F_t = v_t whatever was stored before
    result = memory_recall("delta rule", 40, 8, strength=1.0, n_trials=16)
    assert result.strength == 1.0
    assert result.accuracy_by_age[0] == 1.0


def test_recall_falls_towards_chance_as_pairs_pile_up():
    for memory in ("linear", "delta rule", "softmax window"):
        few, many = (memory_recall(memory, n, 8, n_trials=32) for n in (4, 128))
        assert few.accuracy > many.accuracy
        assert many.accuracy < 0.4 and many.chance == 1 / 8


def test_recall_sweep_order_and_state_sizes():
    rows = memory_recall_sweep(["linear", "softmax"], [4, 8], [2, 4], n_trials=2)
    assert [(r.memory, r.n_pairs, r.d_k) for r in rows][:4] == [("linear", 4, 2), ("linear", 4, 4),
                                                                 ("linear", 8, 2), ("linear", 8, 4)]
    assert [r.state_size for r in rows[4:]] == [4 * 4, 4 * 8, 8 * 4, 8 * 8]
    with pytest.raises(ValueError, match="memories must not be empty"):
        memory_recall_sweep([], 4, 4)


def test_recall_refuses_orthogonal_keys_beyond_d_k():
    with pytest.raises(ValueError, match="n_pairs <= d_k"):
        memory_recall("linear", 5, 4, keys="orthogonal")


def test_fitted_state_decodes_twice_d_k_random_pairs():
    # tokens are decoded by argmax, so a state is a linear classifier of the keys: it can hold more pairs
    # than d_k (Cover 1965), where no matrix returns the 16 stored vectors of 8-wide keys
    fitted = memory_recall("fitted state", 16, 8)
    assert fitted.accuracy == 1.0
    assert memory_recall("least squares", 16, 8).accuracy < 1.0


@pytest.mark.parametrize("memory", sorted(TUNED_KNOBS))
def test_tuning_picks_the_grid_value_that_recalls_best_on_the_tuning_sequences(memory):
    knob, grid = TUNED_KNOBS[memory]
    one_by_one = [memory_recall(memory, 16, 8, n_trials=16, seed=1, **{knob: value}).accuracy for value in grid]
    best = tune_memory(memory, 16, 8, n_trials=16, seed=1)  # the grid as one batch
    assert best in grid
    assert one_by_one[list(grid).index(best)] == max(one_by_one)
    assert list(grid).index(best) == one_by_one.index(max(one_by_one))  # first of a tie
    # memory_recall tunes on seed + 1 and measures on seed, and says which value it used
    result = memory_recall(memory, 16, 8, n_trials=16, seed=0)
    assert getattr(result, knob) == best
    assert tune_memory(memory, 16, 8, grid=[0.5], seed=1) == 0.5


def test_tuned_delta_rule_is_not_below_linear_attention():
    # as eta -> 0 the delta rule's state tends to eta times linear attention's: the same decoded tokens,
    # so a grid reaching small eta cannot do much worse than linear attention
    delta, linear = memory_recall_sweep(["delta rule", "linear"], 64, 64)
    assert delta.accuracy >= linear.accuracy - 0.01
    assert delta.strength < 1.0 and linear.strength is None and linear.decay is None


def test_rewritten_orthogonal_keys_by_hand():
    # 8 orthonormal keys in R^16, every one written twice (16 writes), the second time with another token.
    # Delta rule, eta = 1: k F = the newest value exactly. Linear attention: k F = e_old + e_new, so
    # |o - e_new| = |e_old| = 1. Decay 0.5: k F = 0.5^a e_old + e_new, decoded right since
    # e_new . o - e_old . o = (1 - 0.5^a)(1 - e_old . e_new) > 0.
    delta = memory_recall("delta rule", 8, 16, keys="orthogonal", rewrites=1.0, strength=1.0, n_trials=8)
    assert delta.accuracy == 1.0 and delta.error < 1e-12
    linear = memory_recall("linear", 8, 16, keys="orthogonal", rewrites=1.0, n_trials=8)
    assert linear.error == pytest.approx(1.0, abs=1e-12)
    decayed = memory_recall("decayed", 8, 16, keys="orthogonal", rewrites=1.0, decay=0.5, n_trials=8)
    assert decayed.accuracy == 1.0
    # the window of m = 8 writes holds exactly the 8 newest writes, one per key; the full cache holds 16
    window = memory_recall("softmax window", 8, 16, keys="orthogonal", rewrites=1.0, n_trials=8)
    assert window.accuracy == 1.0
    assert window.state_size == 8 * 32
    assert memory_recall("softmax", 8, 16, keys="orthogonal", rewrites=1.0, n_trials=8).state_size == 16 * 32
    # least squares fits each key's newest value: exact with orthonormal keys
    assert memory_recall("least squares", 8, 16, keys="orthogonal", rewrites=1.0, n_trials=8).error < 1e-12


def test_rewrites_rewrite_a_share_of_the_keys_and_ages_follow_the_newest_write():
    # half of 8 keys rewritten: 12 writes, so the full cache holds 12 pairs. The window of m = 2 pairs
    # (d_k = d_v = 4) holds the last 2 writes, both rewrites of two different keys: with orthonormal keys
    # these two (ages 1 and 2) are recalled exactly, and their first writes have left the window
    assert memory_recall("softmax", 8, 16, keys="orthogonal", rewrites=0.5, n_trials=8).state_size == 12 * 32
    window = memory_recall("softmax window", 4, 4, keys="orthogonal", rewrites=0.5, n_trials=16)
    assert (window.accuracy_by_age[:2] == 1.0).all() and window.error > 0.1
    plain = memory_recall("linear", 16, 16, n_trials=8)
    assert plain.rewrites == 0.0 and plain.accuracy_by_age.shape == (16,)
    # rewrites=0 leaves the task as it was: the same numbers as the task without the option
    assert memory_recall("linear", 16, 16, n_trials=8, rewrites=0.0).accuracy == plain.accuracy


def test_delta_rule_overwrites_where_linear_attention_adds():
    # every random key written twice: the delta rule (tuned) recalls the newest token far better
    delta, linear = (memory_recall(memory, 16, 16, rewrites=1.0) for memory in ("delta rule", "linear"))
    assert delta.accuracy > linear.accuracy + 0.2


def test_tune_memory_refuses_memories_without_a_knob_and_bad_grids():
    with pytest.raises(ValueError, match="memory"):
        tune_memory("linear", 4, 4)
    with pytest.raises(ValueError, match="grid"):
        tune_memory("decayed", 4, 4, grid=[0.5, 1.5])
