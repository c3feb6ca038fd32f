"""Positional encodings and position-dependent attention."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

import attn_core as ac
from attn_core import positions

finite = st.floats(-2, 2, allow_nan=False, allow_infinity=False)


def seq(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


# ---------------------------------------------------------------- positions
def test_sinusoidal_by_formula():
    table = positions.sinusoidal_positions(7, 6)
    for p in range(7):
        for i in range(3):
            w = 10000 ** (-2 * i / 6)
            assert math.isclose(table[p, 2 * i], math.sin(p * w), abs_tol=1e-12)
            assert math.isclose(table[p, 2 * i + 1], math.cos(p * w), abs_tol=1e-12)
    assert positions.sinusoidal_positions(3, 5).shape == (3, 5)


def test_sinusoidal_offset_is_a_rotation():
    """P[p + k] = R_k P[p] pairwise: the same linear map for every p (Vaswani et al., 2017)."""
    table = positions.sinusoidal_positions(20, 4)
    k = 3
    for i, w in enumerate(10000 ** (-np.arange(0, 4, 2) / 4)):
        rot = np.array([[math.cos(k * w), -math.sin(k * w)], [math.sin(k * w), math.cos(k * w)]])
        pairs = table[:, 2 * i: 2 * i + 2]
        assert_allclose(pairs[:-k] @ rot, pairs[k:], atol=1e-12)


@settings(deadline=None)
@given(hnp.arrays(np.float64, (2, 6), elements=finite), st.integers(-20, 20), st.integers(-20, 20), st.integers(-30, 30))
def test_rope_scores_depend_only_on_relative_offset(qk, m, n, shift):
    q, k = qk[:1], qk[1:]
    a = positions.rotary_embedding(q, [m]) @ positions.rotary_embedding(k, [n]).T
    b = positions.rotary_embedding(q, [m + shift]) @ positions.rotary_embedding(k, [n + shift]).T
    assert_allclose(a, b, atol=1e-9)


def test_rope_preserves_length_and_is_identity_at_zero():
    x = seq(5, 8)
    r = positions.rotary_embedding(x)
    assert_allclose(np.linalg.norm(r, axis=1), np.linalg.norm(x, axis=1))
    assert_allclose(r[0], x[0])


def test_relative_index_and_attention_by_loop():
    n, d, dist = 5, 3, 2
    q, k, v = seq(n, d, 0), seq(n, d, 1), seq(n, d, 2)
    rel_k, rel_v = seq(2 * dist + 1, d, 3), seq(2 * dist + 1, d, 4)
    out, w = positions.relative_position_attention(q, k, v, rel_k, rel_v)
    for i in range(n):
        idx = [min(max(j - i, -dist), dist) + dist for j in range(n)]
        scores = [q[i] @ (k[j] + rel_k[idx[j]]) / math.sqrt(d) for j in range(n)]
        e = np.exp(np.array(scores) - max(scores))
        a = e / e.sum()
        assert_allclose(w[i], a, atol=1e-12)
        assert_allclose(out[i], sum(a[j] * (v[j] + rel_v[idx[j]]) for j in range(n)), atol=1e-12)


def test_relative_attention_is_shift_equivariant():
    """Relative positions see only offsets: shifting the whole sequence changes nothing."""
    q, rel = seq(6, 4, 0), seq(5, 4, 1)
    out, _ = positions.relative_position_attention(q, q, q, rel)
    out2, _ = positions.relative_position_attention(q[1:], q[1:], q[1:], rel)
    # not equal overall (the first token is gone) but the weights' dependence is on offsets:
    idx = positions.relative_position_index(6, max_distance=2)
    assert_array_equal(idx[1:, 1:], positions.relative_position_index(5, max_distance=2))
    assert out2.shape == (5, 4)


def test_alibi_slopes_and_bias():
    assert_allclose(positions.alibi_slopes(8), [2.0 ** -(i + 1) for i in range(8)])
    s6 = positions.alibi_slopes(6)
    assert_allclose(s6[:4], positions.alibi_slopes(4))
    assert_allclose(s6[4:], positions.alibi_slopes(8)[0::2][:2])
    b = positions.alibi_bias(4, n_heads=2)
    assert b.shape == (2, 4, 4)
    assert_allclose(b[0, 3, 0], -3 * positions.alibi_slopes(2)[0])


# ------------------------------------------------ decoding: queries are the last positions
def test_alibi_bias_by_hand_and_bottom_right_for_a_decoding_step():
    slope = positions.alibi_slopes(1)[0]  # 1/256
    square = positions.alibi_bias(3, n_heads=1)[0]
    assert_allclose(square, -slope * np.array([[0, 1, 2], [1, 0, 1], [2, 1, 0]]))
    step = positions.alibi_bias(1, 5, n_heads=1)[0, 0]  # one new query after 4 cached keys
    assert_allclose(step, -slope * np.array([4, 3, 2, 1, 0]))  # 0 on the newest key, its own
    assert step[-1] == 0 and step.argmax() == 4


@given(st.integers(1, 6), st.integers(0, 6), st.integers(1, 4))
def test_alibi_decode_rows_are_the_last_rows_of_the_full_bias(n_q, extra, n_heads):
    n_k = n_q + extra
    full = positions.alibi_bias(n_k, n_heads=n_heads)
    assert_allclose(positions.alibi_bias(n_q, n_k, n_heads=n_heads), full[:, n_k - n_q:])


@given(st.integers(1, 6), st.integers(0, 6), st.integers(0, 3))
def test_relative_index_decode_rows_are_the_last_rows(n_q, extra, max_distance):
    n_k = n_q + extra
    full = positions.relative_position_index(n_k, max_distance=max_distance)
    assert_array_equal(positions.relative_position_index(n_q, n_k, max_distance=max_distance), full[n_k - n_q:])


def test_decoding_one_token_at_a_time_equals_the_full_causal_pass():
    """With a key/value cache, each step's one query gives the row the full causal pass gives it:
    causal mask, ALiBi bias and RoPE positions all align the query with the newest key."""
    n, d = 6, 4
    q, k, v = seq(n, d, 0), seq(n, d, 1), seq(n, d, 2)
    bias = positions.alibi_bias(n, n_heads=2)  # (2, n, n)
    rq, rk = positions.rotary_embedding(q), positions.rotary_embedding(k)
    full, _ = ac.scaled_dot_product_attention(rq, rk, v, causal=True, bias=bias)  # (2, n, d)
    for t in range(n):
        q_t = positions.rotary_embedding(q[t:t + 1], [t])  # the new query at position t
        step, _ = ac.scaled_dot_product_attention(
            q_t, rk[:t + 1], v[:t + 1], causal=True, bias=positions.alibi_bias(1, t + 1, n_heads=2))
        assert_allclose(step[:, 0], full[:, t], atol=1e-12)


# ------------------------------------------------------------------ RoPE angles and pairing
def test_rotary_angles_by_hand():
    angles = positions.rotary_angles([0, 1, 600], 4, base=100.0)  # theta = 1, 1/10
    assert_allclose(angles, [[0, 0], [1, 0.1], [600, 60]])
    assert positions.rotary_angles([3.0], 8).shape == (1, 4)


def test_rotary_embedding_rotates_pair_i_by_its_angle():
    x = seq(3, 6, 4)
    p = np.array([0.0, 2.0, 7.0])
    angles = positions.rotary_angles(p, 6, base=50.0)
    out = positions.rotary_embedding(x, p, base=50.0)
    for row in range(3):
        for i in range(3):
            c, s = math.cos(angles[row, i]), math.sin(angles[row, i])
            a, b = x[row, 2 * i], x[row, 2 * i + 1]
            assert_allclose(out[row, 2 * i: 2 * i + 2], [a * c - b * s, a * s + b * c], atol=1e-12)


def test_rotate_half_pairing_is_a_permutation_of_the_interleaved_one():
    """Llama/NeoX pair coordinate i with i + d/2: the same rotation of permuted coordinates."""
    d = 8
    order = np.array([c for i in range(d // 2) for c in (i, i + d // 2)])  # half-pair i -> (2i, 2i+1)
    q, k = seq(5, d, 5), seq(5, d, 6)
    half_q = positions.rotary_embedding(q, pairing="half")
    half_k = positions.rotary_embedding(k, pairing="half")
    assert_allclose(half_q[:, order], positions.rotary_embedding(q[:, order]), atol=1e-12)
    assert_allclose(half_q @ half_k.T,
                    positions.rotary_embedding(q[:, order]) @ positions.rotary_embedding(k[:, order]).T,
                    atol=1e-12)
    # and the half pairing is relative too
    def score(m, n):
        return positions.rotary_embedding(q[:1], [m], pairing="half") @ positions.rotary_embedding(
            k[:1], [n], pairing="half").T

    assert_allclose(score(2, 7), score(12, 17), atol=1e-12)


# ------------------------------------------------------------------------- T5 buckets
def test_t5_buckets_by_hand():
    # decoder (one direction), 16 buckets: distances 0..7 exact, then log-spaced up to 128
    row = positions.t5_relative_buckets(1, 300, n_buckets=16, max_distance=128, bidirectional=False)[0]

    def back(distance):  # the bucket of the key `distance` places back
        return row[299 - distance]

    assert [back(x) for x in range(8)] == list(range(8))
    # bucket 8 + floor(log(distance / 8) / log(128 / 8) * 8): 16 -> 10, 32 -> 12, 64 -> 14
    assert [back(8), back(15), back(16), back(31), back(32), back(64), back(127)] == [8, 9, 10, 11, 12, 14, 15]
    assert back(128) == back(299) == 15  # everything from max_distance on shares the last bucket
    # bidirectional: keys after the query use the upper half
    square = positions.t5_relative_buckets(3, n_buckets=8, max_distance=16)
    assert_array_equal(square, [[0, 5, 6], [1, 0, 5], [2, 1, 0]])
    assert positions.t5_relative_buckets(4, 9, n_buckets=8, bidirectional=False).max() < 8


def test_t5_last_bucket_starts_where_the_log_formula_reaches_it():
    """A decoder's 32 buckets: 16 + floor(log(delta / 16) / log(8) * 16) = 31 first when
    delta >= 16 * 8 ** (15 / 16) = 112.4, so bucket 31 starts at 113, before max_distance = 128."""
    by_distance = positions.t5_relative_buckets(1, 200, bidirectional=False)[0, ::-1]
    assert by_distance[112] == 30 and by_distance[113] == 31
    assert int(np.flatnonzero(by_distance == 31)[0]) == int(np.ceil(16 * 8 ** (15 / 16))) == 113
    two_sided = positions.t5_relative_buckets(1, 200)[0, ::-1]  # 16 per side: 8 + floor(... * 8)
    assert int(np.flatnonzero(two_sided == 15)[0]) == int(np.ceil(8 * 16 ** (7 / 8))) == 91


def test_docstrings_keep_their_latex():
    """No tab, form feed or carriage return where a backslash escape was eaten (\\t, \\r, \\f)."""
    for function in (positions.t5_relative_buckets, positions.relative_position_attention,
                     positions.alibi_bias, positions.alibi_slopes, positions.rotary_angles):
        doc = function.__doc__
        assert not any(char in doc for char in "\t\r\f\b"), function.__name__
    assert r"\text{max\_distance}" in positions.t5_relative_buckets.__doc__
    assert r"\rfloor" in positions.t5_relative_buckets.__doc__
    assert r"\alpha" not in positions.relative_position_attention.__doc__


@given(st.integers(1, 5), st.integers(0, 5))
def test_t5_buckets_decode_rows_are_the_last_rows_and_monotone(n_q, extra):
    n_k = n_q + extra
    full = positions.t5_relative_buckets(n_k, n_buckets=32, max_distance=128)
    assert_array_equal(positions.t5_relative_buckets(n_q, n_k), full[n_k - n_q:])
    far = positions.t5_relative_buckets(1, 400, bidirectional=False)[0, ::-1]  # by distance back
    assert (np.diff(far) >= 0).all() and far[0] == 0 and far[-1] == 31


# ---------------------------------------------------- permutation equivariance
@given(st.integers(2, 7), st.randoms(use_true_random=False))
def test_self_attention_is_permutation_equivariant_without_positions(n, rnd):
    x = seq(n, 4, n)
    perm = list(range(n))
    rnd.shuffle(perm)
    mha = ac.MultiHeadAttention(4, 2, seed=1)
    out, _ = mha(x)
    out_p, _ = mha(x[perm])
    assert_allclose(out_p, out[perm], atol=1e-12)


def test_positions_break_permutation_equivariance():
    x = seq(5, 4, 0)
    perm = [1, 0, 2, 3, 4]
    pe = positions.sinusoidal_positions(5, 4)
    mha = ac.MultiHeadAttention(4, 2, seed=1)
    out, _ = mha(x + pe)
    out_p, _ = mha(x[perm] + pe)
    assert not np.allclose(out_p, out[perm])
    rq = positions.rotary_embedding(x)
    _, w = ac.scaled_dot_product_attention(rq, rq, x)
    rq_p = positions.rotary_embedding(x[perm])
    _, w_p = ac.scaled_dot_product_attention(rq_p, rq_p, x[perm])
    assert not np.allclose(w_p, w[np.ix_(perm, perm)])




def test_relative_attention_with_max_distance_zero_is_plain_attention_plus_one_vector():
    q, k, v = seq(4, 3, 0), seq(4, 3, 1), seq(4, 2, 2)
    rel_k = seq(1, 3, 3)  # one row: every offset is clipped to 0
    out, w = positions.relative_position_attention(q, k, v, rel_k)
    shifted, w_shifted = ac.scaled_dot_product_attention(q, k + rel_k, v)
    assert_allclose(w, w_shifted, atol=1e-12)
    assert_allclose(out, shifted, atol=1e-12)
    assert_array_equal(positions.relative_position_index(2, 3, max_distance=0), np.zeros((2, 3)))


def test_relative_attention_causal_with_fewer_queries_is_bottom_right():
    q, k, v = seq(2, 3, 0), seq(5, 3, 1), seq(5, 2, 2)
    _, w = positions.relative_position_attention(q, k, v, seq(3, 3, 3), causal=True)
    assert_array_equal(w > 0, ac.causal_mask(2, 5))


# ------------------------------------------------------------------------------ bad input
x34 = np.ones((3, 4))


@pytest.mark.parametrize("call, error, message", [
    (lambda: positions.rotary_embedding(np.ones((3, 5))), ValueError, r"even width.*\(3, 5\)"),
    (lambda: positions.rotary_embedding(np.ones((3, 4)), [0, 1]), ValueError, r"positions must have shape \(3,\)"),
    (lambda: positions.rotary_embedding(np.ones((3, 4)), [0, 1, np.inf]), ValueError, r"positions contains inf at index \(2,\)"),
    (lambda: positions.rotary_embedding(np.ones((0, 4))), ValueError, r"x must not be empty"),
    (lambda: positions.rotary_embedding(np.ones((3, 4)), base=0.0), ValueError, r"base must be a finite number > 0"),
    (lambda: positions.rotary_embedding(None), TypeError, r"x must be an array of numbers, got None"),
    (lambda: positions.relative_position_attention(x34, x34, x34, np.ones((4, 4))),
     ValueError, r"rel_keys must be \(2 \* max_distance \+ 1, d_k=4\), got \(4, 4\)"),
    (lambda: positions.relative_position_attention(x34, x34, x34, np.ones((3, 4)), np.ones((3, 5))),
     ValueError, r"rel_values must be \(3, d_v=4\), got \(3, 5\)"),
    (lambda: positions.relative_position_attention(x34, x34, x34, np.ones((3, 4)), causal="no"),
     TypeError, r"causal must be True or False"),
    (lambda: positions.relative_position_attention(x34, x34, x34, np.full((3, 4), np.nan)[None]),
     ValueError, r"rel_keys must have at most 2 dimensions"),
    (lambda: positions.relative_position_index(3, max_distance=-1), ValueError, r"max_distance must be >= 0"),
    (lambda: positions.relative_position_index(3, max_distance=1.0), TypeError, r"max_distance must be a whole number"),
    (lambda: positions.relative_position_index(0, max_distance=1), ValueError, r"n_q must be >= 1"),
    (lambda: positions.sinusoidal_positions(3, 0), ValueError, r"d_model must be >= 1"),
    (lambda: positions.sinusoidal_positions(3, 4, base=float("inf")), ValueError, r"base must be a finite number > 0"),
    (lambda: positions.learned_position_table(3, 4, std=-1.0), ValueError, r"std must be a finite number > 0"),
    (lambda: positions.learned_position_table(3, 4, seed=None), TypeError, r"seed must be a whole number"),
    (lambda: positions.alibi_slopes(0), ValueError, r"n_heads must be >= 1"),
    (lambda: positions.alibi_bias(3, n_heads=2.0), TypeError, r"n_heads must be a whole number"),
    (lambda: positions.alibi_bias(3, 0, n_heads=2), ValueError, r"n_k must be >= 1"),
    (lambda: positions.rotary_embedding(x34, pairing="llama"), ValueError, r"pairing"),
    (lambda: positions.rotary_angles([0, 1], 3), ValueError, r"d must be even"),
    (lambda: positions.rotary_angles([[0, 1]], 4), ValueError, r"positions must have at most 1 dimension"),
    (lambda: positions.t5_relative_buckets(3, n_buckets=7), ValueError, r"n_buckets must be >= 2 \(an even"),
    (lambda: positions.t5_relative_buckets(3, bidirectional=1), TypeError, r"bidirectional must be True or False"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------- RoPE beyond the training length (owner: recurrences)
def test_interpolated_positions_by_hand_and_in_rotary_angles():
    assert_allclose(positions.interpolated_positions([0, 3, 6], 3.0), [0.0, 1.0, 2.0], rtol=0)
    # base 100, d = 4: theta = (1, 0.1); position 6 interpolated by 3 turns like position 2
    angles = positions.rotary_angles(positions.interpolated_positions([6.0], 3.0), 4, base=100.0)
    assert_allclose(angles, [[2.0, 0.2]], rtol=1e-15)


@given(st.integers(1, 64), st.floats(1.0, 64.0), st.sampled_from([2, 4, 8, 64]))
def test_interpolation_keeps_every_angle_within_the_trained_range(trained, scale, d):
    # trained on positions 0 .. L-1: pair i saw angles below L theta_i; PI runs s L positions
    extended = np.arange(int(np.floor(scale * trained)))
    angles = positions.rotary_angles(positions.interpolated_positions(extended, scale), d)
    theta = 10000.0 ** (-np.arange(0, d, 2) / d)
    assert np.all(angles < trained * theta[None, :])
    assert np.all(angles >= 0)


def test_ntk_scaled_base_by_hand():
    # 100 * 4^(4/2) = 1600; 10000 * 16^(8/6) = 10000 * 2^(16/3)
    assert positions.ntk_scaled_base(100.0, 4.0, 4) == pytest.approx(1600.0, rel=1e-15)
    assert positions.ntk_scaled_base(10000.0, 16.0, 8) == pytest.approx(10000.0 * 2 ** (16 / 3), rel=1e-14)
    assert positions.ntk_scaled_base(500000.0, 1.0, 128) == 500000.0


@given(st.sampled_from([4, 6, 16, 128]), st.floats(1.0, 100.0), st.floats(10.0, 1e6))
def test_ntk_slows_the_slowest_pair_by_the_scale_and_keeps_the_fastest(d, scale, base):
    old = positions.rotary_angles([1.0], d, base=base)[0]
    new = positions.rotary_angles([1.0], d, base=positions.ntk_scaled_base(base, scale, d))[0]
    assert new[0] == old[0] == 1.0
    assert new[-1] == pytest.approx(old[-1] / scale, rel=1e-10)
    # in between: slowed by s^(2i/(d-2)), between 1 and s
    for i in range(d // 2):
        assert new[i] == pytest.approx(old[i] * scale ** (-2 * i / (d - 2)), rel=1e-10)


def test_yarn_frequencies_by_hand():
    # d = 6, base 10000: theta = 1, 10000^(-1/3) = 0.0464159, 10000^(-2/3) = 0.00215443
    # L = 100: turns r = 100 theta / (2 pi) = 15.9155, 0.738723, 0.0342888; alpha 0.5, beta 20
    # gamma = (15.9155 - 0.5)/19.5 = 0.790538, (0.738723 - 0.5)/19.5 = 0.0122422, 0 (clipped)
    theta = np.array([1.0, 10000 ** (-1 / 3), 10000 ** (-2 / 3)])
    gamma = np.array([(100 / (2 * np.pi) - 0.5) / 19.5, (100 * theta[1] / (2 * np.pi) - 0.5) / 19.5, 0.0])
    expected = (1 - gamma) * theta / 8 + gamma * theta
    assert_allclose(expected[0], 0.209462 / 8 + 0.790538, rtol=1e-5)  # the formula, by hand, once: 0.816721
    out = positions.yarn_frequencies(6, scale=8.0, original_length=100, alpha=0.5, beta=20.0)
    assert_allclose(out, expected, rtol=1e-12)


@given(st.sampled_from([8, 32, 128]), st.floats(1.0, 64.0), st.sampled_from([256, 2048, 4096]))
def test_yarn_keeps_fast_pairs_and_interpolates_the_slowest_by_the_scale(d, scale, length):
    theta = 10000.0 ** (-np.arange(0, d, 2) / d)
    turns = length * theta / (2 * np.pi)
    out = positions.yarn_frequencies(d, scale=scale, original_length=length)  # alpha 1, beta 32
    assert_allclose(out[turns > 32], theta[turns > 32], rtol=0)  # turned many times: unchanged
    assert_allclose(out[turns < 1], theta[turns < 1] / scale, rtol=1e-14)  # under one turn: interpolated
    assert turns[0] > 32 and turns[-1] < 1  # both kinds are present at these sizes
    assert np.all(out <= theta * (1 + 1e-15)) and np.all(out >= theta / scale * (1 - 1e-15))
    assert np.all(np.diff(out) < 0)  # still ordered from fast to slow


def test_yarn_with_scale_one_is_plain_rope():
    assert_allclose(positions.yarn_frequencies(16, scale=1.0, original_length=512),
                    positions.rotary_angles([1.0], 16)[0], rtol=1e-15)


def test_yarn_attention_factor_by_hand():
    assert positions.yarn_attention_factor(1.0) == 1.0
    assert positions.yarn_attention_factor(np.e) == pytest.approx(1.1, rel=1e-15)
    assert positions.yarn_attention_factor(100.0) == pytest.approx(0.1 * 4.605170186 + 1, rel=1e-9)


@pytest.mark.parametrize("call, error, message", [
    (lambda: positions.interpolated_positions([0, 1], 0.5), ValueError, r"scale must be in \[1, inf\]"),
    (lambda: positions.interpolated_positions([0, 1], True), TypeError, r"scale must be a real number"),
    (lambda: positions.ntk_scaled_base(10000.0, 2.0, 2), ValueError, r"d must be an even whole number >= 4"),
    (lambda: positions.ntk_scaled_base(10000.0, 2.0, 5), ValueError, r"d must be an even"),
    (lambda: positions.yarn_frequencies(8, scale=2.0, original_length=0), ValueError, r"original_length must be >= 1"),
    (lambda: positions.yarn_frequencies(8, scale=2.0, original_length=64, alpha=32.0, beta=1.0), ValueError,
     r"alpha must be below beta"),
    (lambda: positions.yarn_attention_factor(float("nan")), ValueError, r"scale must be in"),
])
def test_bad_input_for_rope_scaling(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_rope_scaling_docstrings_keep_their_latex():
    for function in (positions.interpolated_positions, positions.ntk_scaled_base, positions.yarn_frequencies,
                     positions.yarn_attention_factor):
        assert not any(char in function.__doc__ for char in "\t\r\f\b"), function.__name__
    assert r"\theta'_i" in positions.yarn_frequencies.__doc__
    assert r"\operatorname{clip}" in positions.yarn_frequencies.__doc__


def test_rotary_embedding_with_frequencies():
    x = np.random.default_rng(0).standard_normal((5, 6))
    theta = positions.rotary_angles([1.0], 6)[0]
    # the default frequencies given explicitly change nothing, in both pairings
    for pairing in ("interleaved", "half"):
        assert_allclose(positions.rotary_embedding(x, frequencies=theta, pairing=pairing),
                        positions.rotary_embedding(x, pairing=pairing), rtol=1e-15)
    # pair i of the vector at position p turns by p * frequencies[i], here by hand
    frequencies = np.array([0.5, 0.25, 0.0])
    out = positions.rotary_embedding(x, frequencies=frequencies)
    for p in range(5):
        for i, f in enumerate(frequencies):
            c, s = np.cos(p * f), np.sin(p * f)
            a, b = x[p, 2 * i], x[p, 2 * i + 1]
            assert_allclose(out[p, 2 * i : 2 * i + 2], [a * c - b * s, a * s + b * c], rtol=1e-14, atol=1e-15)


@given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 30))
def test_yarn_rotated_scores_still_depend_only_on_the_offset(m, n, shift):
    rng = np.random.default_rng(m * 97 + n)
    q, k = rng.standard_normal((1, 8)), rng.standard_normal((1, 8))
    frequencies = positions.yarn_frequencies(8, scale=4.0, original_length=16)
    score = (positions.rotary_embedding(q, [m], frequencies=frequencies)
             @ positions.rotary_embedding(k, [n], frequencies=frequencies).T)
    shifted = (positions.rotary_embedding(q, [m + shift], frequencies=frequencies)
               @ positions.rotary_embedding(k, [n + shift], frequencies=frequencies).T)
    assert_allclose(score, shifted, rtol=1e-9, atol=1e-9)


def test_rotary_embedding_refuses_frequencies_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"frequencies must have shape \(d // 2,\) = \(2,\)"):
        positions.rotary_embedding(np.ones((3, 4)), frequencies=[1.0, 0.5, 0.25])
