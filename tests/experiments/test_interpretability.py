"""attn_core.experiments.interpretability: rollout, effects of keys and heads, alternative weights, the induction layers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.experiments.interpretability import (
    INDUCTION_BLOCKS,
    alternative_weights,
    attention_rollout,
    attention_stack,
    closest_reachable,
    gradient_times_input,
    head_outputs,
    induction_block,
    induction_codes,
    induction_layers,
    js_divergence,
    output_jacobian,
    removal_effect,
    same_output_corners,
    six_keys_example,
    total_variation,
    train_recall_reader,
)

SENTENCE = "<s> the cat saw the dog chase the cat".split()


def random_rows(rng, shape):
    return ac.softmax(rng.standard_normal(shape) * 2)


# --------------------------------------------------------------------------- rollout
def test_rollout_by_hand():
    """Two 2-token layers, computed on paper."""
    a1 = np.array([[1.0, 0.0], [0.6, 0.4]])
    a2 = np.array([[0.5, 0.5], [0.0, 1.0]])
    # residual 0.5: A1~ = [[1, 0], [0.3, 0.7]], A2~ = [[0.75, 0.25], [0, 1]]
    # R2 = A2~ A1~ = [[0.75 + 0.075, 0.175], [0.3, 0.7]]
    rollout = attention_rollout([a1, a2])
    assert_allclose(rollout[0], [[1.0, 0.0], [0.3, 0.7]])
    assert_allclose(rollout[1], [[0.825, 0.175], [0.3, 0.7]])


def test_rollout_of_previous_token_layers_is_binomial():
    n = 6
    previous = np.eye(n, k=-1)
    previous[0, 0] = 1.0
    rollout = attention_rollout(np.stack([previous] * 3))[-1]
    assert_allclose(rollout[5, 2:6], [1 / 8, 3 / 8, 3 / 8, 1 / 8])  # (1/2 + 1/2 shift)^3


def test_rollout_equals_a_plain_loop():
    rng = np.random.default_rng(0)
    weights = random_rows(rng, (3, 2, 5, 5))  # (L, h, n, n)
    for r in (0.0, 0.3, 0.5, 1.0):
        got = attention_rollout(weights, residual=r)
        product = np.eye(5)
        for layer in range(3):
            mixed = np.zeros((5, 5))
            for i in range(5):
                for j in range(5):
                    mean = sum(weights[layer, h, i, j] for h in range(2)) / 2
                    mixed[i, j] = (1 - r) * mean + r * (i == j)
                mixed[i] /= mixed[i].sum()
            product = mixed @ product
            assert_allclose(got[layer], product, atol=1e-12)


def test_rollout_with_residual_one_is_identity_and_zero_rows_keep_themselves():
    rng = np.random.default_rng(1)
    weights = random_rows(rng, (2, 4, 4))
    assert_allclose(attention_rollout(weights, residual=1.0)[-1], np.eye(4))
    empty = np.zeros((3, 3))
    empty[1:, 0] = 1.0  # query 0 may attend nothing
    assert_allclose(attention_rollout([empty])[0][0], [1.0, 0.0, 0.0])
    assert_allclose(attention_rollout([empty], residual=0.0)[0][0], [0.0, 0.0, 0.0])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_rollout_rows_sum_to_one(layers, n, r, seed):
    weights = random_rows(np.random.default_rng(seed), (layers, n, n))
    rollout = attention_rollout(weights, residual=r)
    assert rollout.shape == (layers, n, n)
    assert_allclose(rollout.sum(axis=-1), 1.0, atol=1e-12)
    assert (rollout >= 0).all()


@pytest.mark.parametrize("weights, residual, error, message", [
    ([], 0.5, ValueError, "at least one layer"),
    (np.ones((2, 3)), 0.5, ValueError, r"\(L, n, n\) or \(L, h, n, n\)"),
    (np.ones((1, 2, 3)) / 3, 0.5, ValueError, "square"),
    ([np.eye(2), np.eye(3)], 0.5, ValueError, "same number of positions"),
    ([np.array([[2.0, -1.0], [0.0, 1.0]])], 0.5, ValueError, "non-negative"),
    ([np.array([[0.5, 0.4], [0.0, 1.0]])], 0.5, ValueError, "sum to 1"),
    ([np.eye(2)], 1.5, ValueError, r"\[0, 1\]"),
    ([np.eye(2)], "half", TypeError, "residual"),
    ([np.array([["a", "b"], ["c", "d"]])], 0.5, TypeError, "numbers"),
])
def test_rollout_bad_input(weights, residual, error, message):
    with pytest.raises(error, match=message):
        attention_rollout(weights, residual=residual)


# --------------------------------------------------------------------------- stack and heads
def test_stack_equals_a_plain_loop():
    layers = [ac.MultiHeadAttention(6, 3, seed=s) for s in (2, 3, 4)]
    x = np.random.default_rng(5).standard_normal((2, 4, 6))
    stream, weights = attention_stack(layers, x, causal=True)
    assert stream.shape == (4, 2, 4, 6) and weights.shape == (3, 2, 3, 4, 4)
    h = x
    for l, layer in enumerate(layers):
        out, w = layer(h, causal=True)
        h = h + out
        assert_allclose(stream[l + 1], h)
        assert_allclose(weights[l], w)


def test_stack_bad_input():
    with pytest.raises(ValueError, match="at least one layer"):
        attention_stack([], np.ones((2, 4)))
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        attention_stack([np.eye(4)], np.ones((2, 4)))
    with pytest.raises(ValueError, match="same number of heads"):
        attention_stack([ac.MultiHeadAttention(4, 2), ac.MultiHeadAttention(4, 1)], np.ones((2, 4)))
    with pytest.raises(ValueError, match="d_model"):
        attention_stack([ac.MultiHeadAttention(4, 2)], np.ones((2, 5)))


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])
def test_head_outputs_add_up_to_the_layer(n_kv_heads):
    layer = ac.MultiHeadAttention(8, 4, n_kv_heads=n_kv_heads, seed=6)
    layer.b_o = np.arange(8.0)
    x = np.random.default_rng(7).standard_normal((3, 5, 8))
    mask = np.random.default_rng(8).random((5, 5)) < 0.7
    terms = head_outputs(layer, x, mask=mask, causal=True)
    assert terms.shape == (3, 4, 5, 8)
    assert_allclose(terms.sum(axis=-3) + layer.b_o, layer(x, mask=mask, causal=True)[0], atol=1e-12)
    layer.w_o[2:4] = 0.0  # head 2's rows of W_O
    assert_allclose(head_outputs(layer, x)[:, 1], 0.0)
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        head_outputs("layer", x)


# --------------------------------------------------------------------------- effects
def test_removal_effect_by_hand():
    a = np.array([0.5, 0.25, 0.25])
    v = np.array([[0.0], [2.0], [4.0]])  # output 1.5
    # without key 0: (0.5 + 1) / 0.5 = 3 -> 1.5; key 1: 1 / 0.75 = 4/3 -> 1/6; key 2: 0.5 / 0.75 -> 5/6
    assert_allclose(removal_effect(a, v), [1.5, 1 / 6, 5 / 6])


def test_removal_effect_equals_masking_each_key():
    rng = np.random.default_rng(9)
    q, k, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 2))
    out, w = ac.scaled_dot_product_attention(q, k, v)
    got = removal_effect(w, v)  # (2, 4, 6)
    for j in range(6):  # a plain loop: mask key j, recompute attention
        mask = np.ones(6, dtype=bool)
        mask[j] = False
        out_without, _ = ac.scaled_dot_product_attention(q, k, v, mask=mask)
        assert_allclose(got[..., j], np.linalg.norm(out - out_without, axis=-1), atol=1e-12)


def test_removal_effect_edge_cases():
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert_allclose(removal_effect([1.0, 0.0], v), [np.sqrt(5), 0.0])  # nothing left: output 0
    assert_allclose(removal_effect(np.zeros((1, 2)), v), [[0.0, 0.0]])  # a query with no key
    with pytest.raises(ValueError, match="one value per key"):
        removal_effect([0.5, 0.5], np.ones((3, 2)))
    with pytest.raises(ValueError, match="sum to 1"):
        removal_effect([0.5, 0.6], v)
    with pytest.raises(TypeError):
        removal_effect("weights", v)


def test_gradient_times_input_by_hand_and_by_finite_differences():
    a = np.array([[0.2, 0.3, 0.5]])
    v = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    readout = np.array([1.0, -1.0])
    g = gradient_times_input(a, v, readout)
    assert_allclose(g, [[0.2, -0.6, 0.0]])
    assert_allclose(g.sum(), ((a @ v) @ readout).item())
    eps = 1e-6
    for j in range(3):  # d y / d v_j, by central differences, dotted with v_j
        grad = np.zeros(2)
        for c in range(2):
            up, down = v.copy(), v.copy()
            up[j, c] += eps
            down[j, c] -= eps
            grad[c] = (((a @ up) @ readout) - ((a @ down) @ readout)).item() / (2 * eps)
        assert_allclose(g[0, j], grad @ v[j], atol=1e-8)
    with pytest.raises(ValueError, match="length d_v=2"):
        gradient_times_input(a, v, [1.0, 0.0, 0.0])


# --------------------------------------------------------------------------- alternative weights
def test_alternative_weights_by_hand():
    alt = alternative_weights([0.0, 1.0, 0.0], [[0.0], [1.0], [2.0]])
    assert_allclose(alt, [0.5, 0.0, 0.5], atol=1e-12)
    assert total_variation([0.0, 1.0, 0.0], alt) == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 5), st.integers(1, 3), st.floats(0.1, 1.0), st.integers(0, 10**6))
def test_alternative_weights_keep_the_output(extra, d_v, step, seed):
    n_k = d_v + 2 + extra  # more keys than d_v + 1: the null space is not empty
    rng = np.random.default_rng(seed)
    a = ac.softmax(rng.standard_normal(n_k))
    v = rng.standard_normal((n_k, d_v))
    alt = alternative_weights(a, v, step=step)
    assert (alt >= 0).all() and alt.sum() == pytest.approx(1.0)
    assert_allclose(alt @ v, a @ v, atol=1e-10)
    assert total_variation(a, alt) > 1e-3  # n_k > d_v + 1: there is room to move
    if step < 1:
        assert (alt > 0).all()


def test_alternative_weights_find_the_farthest_row():
    """No row reached by moving along a random direction lies farther than the corner found."""
    rng = np.random.default_rng(11)
    a = ac.softmax(rng.standard_normal(6))
    v = rng.standard_normal((6, 2))
    best = total_variation(a, alternative_weights(a, v))
    for _ in range(300):
        other = alternative_weights(a, v, direction=rng.standard_normal(6))
        assert_allclose(other @ v, a @ v, atol=1e-10)
        assert total_variation(a, other) <= best + 1e-12


def test_alternative_weights_follow_a_direction_and_stop_without_room():
    a = np.full(4, 0.25)
    v = np.array([[0.0], [1.0], [2.0], [3.0]])
    alt = alternative_weights(a, v, direction=[1.0, -1.0, -1.0, 1.0])
    assert_allclose(alt, [0.5, 0.0, 0.0, 0.5], atol=1e-12)  # the ends gain, the middle drains
    square = np.eye(3)  # three keys, values that span everything: no other row gives a V
    assert_allclose(alternative_weights([0.2, 0.3, 0.5], square), [0.2, 0.3, 0.5])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(weights=np.full((2, 2), 0.5), values=np.eye(2)), ValueError, "one row"),
    (dict(weights=[0.5, 0.5], values=np.eye(3)), ValueError, "n_k=2 rows"),
    (dict(weights=[0.5, 0.6], values=np.eye(2)), ValueError, "sum to 1"),
    (dict(weights=[0.0, 0.0], values=np.eye(2)), ValueError, "sum to 1"),
    (dict(weights=[0.5, 0.5], values=np.eye(2), step=0.0), ValueError, r"step must be in \(0, 1\]"),
    (dict(weights=[0.5, 0.5], values=np.eye(2), step=2.0), ValueError, r"\(0, 1\]"),
    (dict(weights=[0.5, 0.5], values=np.eye(2), direction=[1.0]), ValueError, "direction"),
])
def test_alternative_weights_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        alternative_weights(**kwargs)


def test_distances_by_hand():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    assert total_variation(p, q) == pytest.approx(0.5)
    # m = (1/4, 1/2, 1/4): KL(p||m) = 1/2 log2 2 + 1/2 log2 1 = 1/2, the same for q
    assert js_divergence(p, q) == pytest.approx(0.5)
    assert_allclose(total_variation(np.eye(3), np.eye(3)[::-1]), [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="same number of keys"):
        total_variation([1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="non-negative"):
        js_divergence([1.5, -0.5], [0.5, 0.5])


# --------------------------------------------------------------------------- induction layers
def test_induction_layers_complete_the_pattern():
    layers = induction_layers()
    stream, weights = attention_stack(layers, induction_codes(SENTENCE), causal=True)
    vocabulary = list(dict.fromkeys(SENTENCE))
    next_word = stream[-1, :, induction_block("next word")][:, :len(vocabulary)]  # (n, words)
    assert vocabulary[int(np.argmax(next_word[-1]))] == "saw"  # "cat saw ... cat" -> "saw"
    assert next_word[-1].max() > 0.9
    previous = weights[0, 0]  # layer 1, head 1
    assert all(previous[p, p - 1] > 0.97 for p in range(1, len(SENTENCE)))
    induction = weights[1, 0]
    assert induction[4, 2] > 0.9  # the second "the" attends to "cat", which followed the first
    assert induction[3, 0] > 0.8  # "saw" has no earlier occurrence: the sink
    assert_allclose(head_outputs(layers[1], stream[1], causal=True)[1], 0.0)  # the unused head
    assert_allclose(weights[1, 1], weights[0, 0])  # same pattern as layer 1's head 1


def test_induction_blocks_and_bad_input():
    assert [induction_block(b, 4) for b in INDUCTION_BLOCKS][-1] == slice(16, 20)
    assert induction_codes(SENTENCE).shape == (9, 50)
    with pytest.raises(ValueError, match="one of"):
        induction_block("nothing")
    with pytest.raises(ValueError, match="even"):
        induction_layers(width=5)
    with pytest.raises(ValueError, match="> 0"):
        induction_layers(strength=0.0)
    with pytest.raises(ValueError, match="1 to 4 tokens"):
        induction_codes(list("abcde"), width=4)


# --------------------------------------------------------------------------- corners of the same-output polytope
def test_same_output_corners_by_hand():
    # four keys at 0, 1, 2, 3 with output 1.5: rank [V 1] = 2, so each corner holds two keys,
    # one on each side of 1.5: {0, 2} -> (1/4, 3/4), {0, 3} -> (1/2, 1/2), {1, 2} -> (1/2, 1/2), {1, 3} -> (3/4, 1/4)
    corners = same_output_corners(np.full(4, 0.25), [[0.0], [1.0], [2.0], [3.0]])
    expected = [[0.25, 0, 0.75, 0], [0.5, 0, 0, 0.5], [0, 0.5, 0.5, 0], [0, 0.75, 0, 0.25]]
    assert_allclose(corners, expected, atol=1e-12)
    assert_allclose(same_output_corners([0.2, 0.3, 0.5], np.eye(3)), [[0.2, 0.3, 0.5]])  # no room


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 3), st.integers(1, 2), st.integers(0, 10**6))
def test_every_row_with_the_output_is_a_mixture_of_the_corners(extra, d_v, seed):
    """Corners are rows with the output, with at most rank [V 1] keys; a + small moves stay inside their hull."""
    n_k = d_v + 2 + extra
    rng = np.random.default_rng(seed)
    a = ac.softmax(rng.standard_normal(n_k))
    v = rng.standard_normal((n_k, d_v))
    corners = same_output_corners(a, v)
    rank = np.linalg.matrix_rank(np.column_stack([v, np.ones(n_k)]))
    assert_allclose(corners @ v, np.broadcast_to(a @ v, (len(corners), d_v)), atol=1e-9)
    assert_allclose(corners.sum(axis=1), 1.0)
    assert (corners >= 0).all() and ((corners > 1e-12).sum(axis=1) <= rank).all()
    # the farthest corner is what alternative_weights returns
    distances = [total_variation(a, c) for c in corners]
    assert total_variation(a, alternative_weights(a, v)) == pytest.approx(max(distances))


def test_same_output_corners_bad_input():
    with pytest.raises(ValueError, match="sum to 1"):
        same_output_corners([0.5, 0.6], np.eye(2))
    with pytest.raises(ValueError, match="n_k=2 rows"):
        same_output_corners([0.5, 0.5], np.eye(3))


# --------------------------------------------------------------------------- reachable rows
def test_six_keys_example_scores_by_hand():
    example = six_keys_example()
    q, k = example["query"], example["keys"]
    scores = [sum(q[c] * k[j, c] for c in range(2)) / np.sqrt(2) for j in range(6)]  # loop, not a matmul
    assert_allclose(scores, [2, 1, 0.5, 0, -0.5, 0.5], atol=1e-12)
    e = np.exp(scores)
    assert_allclose(example["weights"], e / e.sum())


def test_closest_reachable_finds_the_query_of_a_softmax_row():
    rng = np.random.default_rng(3)
    keys = rng.standard_normal((7, 3))
    query = rng.standard_normal(3)
    row = ac.softmax(keys @ query / np.sqrt(3))
    fit = closest_reachable(row, keys)
    assert fit["residual"] < 1e-10
    assert_allclose(fit["query"], query, atol=1e-10)
    assert_allclose(fit["weights"], row, atol=1e-12)


def test_closest_reachable_residual_by_hand():
    # keys (1, 0, -1), scale 1: log a = q k + c. For a = (1/4, 1/2, 1/4) symmetry gives q = 0 and
    # c = mean(log a); the residual is |log a - mean| = sqrt(2 (ln2 / 3)^2 + (2 ln2 / 3)^2) = ln2 sqrt(2/3)
    fit = closest_reachable([0.25, 0.5, 0.25], [[1.0], [0.0], [-1.0]], scale=1.0)
    assert fit["residual"] == pytest.approx(np.log(2) * np.sqrt(2 / 3))
    assert_allclose(fit["query"], [0.0], atol=1e-12)
    assert_allclose(fit["weights"], [1 / 3] * 3)


def test_other_rows_with_the_same_output_are_out_of_reach():
    """Six keys with d_k = 2: every point between a and a corner, except a, has a positive residual."""
    example = six_keys_example()
    a, v, keys = example["weights"], example["values"], example["keys"]
    for corner in same_output_corners(a, v):
        for t in (0.1, 0.5, 0.9):
            row = a + t * (corner - a)
            assert_allclose(row @ v, a @ v, atol=1e-12)
            assert closest_reachable(row, keys)["residual"] > 1e-3


def test_closest_reachable_bad_input():
    with pytest.raises(ValueError, match="> 0"):
        closest_reachable([0.5, 0.5, 0.0], np.eye(3))
    with pytest.raises(ValueError, match="n_k=2 rows"):
        closest_reachable([0.5, 0.5], np.eye(3))
    with pytest.raises(ValueError, match="sum to 1"):
        closest_reachable([0.5, 0.6], np.eye(2))


def test_output_jacobian_by_hand():
    # keys +-1, values +-1, scale 1: o = a_1 - a_2 = tanh(q), so J = 1 - tanh(q)^2
    for q in (0.0, 0.7, -1.3):
        J = output_jacobian([q], [[1.0], [-1.0]], [[1.0], [-1.0]], scale=1.0)
        assert J.shape == (1, 1)
        assert J[0, 0] == pytest.approx(1 - np.tanh(q) ** 2)
    # keys = values = e1, e2, 0 and q = 0: weights 1/3, J = [[2, -1], [-1, 2]] / 9 / sqrt(2)
    keys = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    assert_allclose(output_jacobian([0.0, 0.0], keys, keys), np.array([[2, -1], [-1, 2]]) / 9 / np.sqrt(2))


def test_output_jacobian_equals_finite_differences():
    rng = np.random.default_rng(5)
    keys, values, query = rng.standard_normal((6, 3)), rng.standard_normal((6, 4)), rng.standard_normal(3)

    def output(q):
        scores = [sum(q[c] * keys[j, c] for c in range(3)) / np.sqrt(3) for j in range(6)]  # a loop
        e = np.exp(scores)
        return (e / e.sum()) @ values

    h = 1e-6
    numeric = np.column_stack([(output(query + h * np.eye(3)[c]) - output(query - h * np.eye(3)[c])) / (2 * h)
                               for c in range(3)])  # (d_v, d_k)
    assert_allclose(output_jacobian(query, keys, values), numeric, atol=1e-8)


def test_output_jacobian_of_the_six_keys_has_full_rank():
    """d_k = 2 <= d_v = 2 and both singular values clearly positive: near q, only q gives the output."""
    example = six_keys_example()
    J = output_jacobian(example["query"], example["keys"], example["values"])
    assert J.shape == (2, 2)
    assert np.linalg.svd(J, compute_uv=False).min() > 0.05
    # and a query that moves along the null space of a rank-deficient J: equal keys give J = 0
    assert_allclose(output_jacobian([1.0, 2.0], np.ones((3, 2)), example["values"][:3]), 0.0, atol=1e-15)


def test_output_jacobian_bad_input():
    with pytest.raises(ValueError, match="query"):
        output_jacobian(np.zeros((1, 2)), np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="keys"):
        output_jacobian([0.0, 0.0], np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="values"):
        output_jacobian([0.0, 0.0], np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="scale"):
        output_jacobian([0.0, 0.0], np.eye(2), np.eye(2), scale=0.0)


# --------------------------------------------------------------------------- the trained reader
def test_train_recall_reader_learns_the_task():
    reader, test_set = train_recall_reader(steps=120, progress=False)
    logits, cache = reader.forward(test_set)
    assert (logits.argmax(axis=1) == test_set["labels"]).mean() > 0.9
    assert cache["weights"].shape == (1000, 1, 6)
