"""Decayed (RetNet, gated) and delta-rule linear attention: hand-computed cases, loops written here, forms agree."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from attn_core import recurrences, variants
from attn_core.recurrences import decayed_linear_attention, delta_rule_attention


def sequences(shape_qk, d_v, seed=0):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal(shape_qk), rng.standard_normal(shape_qk)
    v = rng.standard_normal(shape_qk[:-1] + (d_v,))
    return q, k, v


def unit_rows(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# ------------------------------------------------------------------ decayed linear attention
def test_decayed_by_hand():
    # d_k = d_v = 1, q = k = 1, values 1, 2, 4, decay 0.5:
    # F_1 = 1, F_2 = 0.5 * 1 + 2 = 2.5, F_3 = 0.5 * 2.5 + 4 = 5.25
    q = k = np.ones((3, 1))
    v = np.array([[1.0], [2.0], [4.0]])
    for form in recurrences.DECAY_FORMS:
        out = decayed_linear_attention(q, k, v, 0.5, form=form, chunk_size=2)
        assert_allclose(out, [[1.0], [2.5], [5.25]], rtol=0, atol=1e-14)


def test_decayed_by_hand_with_per_step_gates_and_two_dimensions():
    # keys e_1, e_2, e_1; gates (ignored, 0.5, 0.25); queries read e_1 + e_2
    k = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    v = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    q = np.ones((3, 2))
    # F_1 = e_1^T (1, 0); F_2 = 0.5 F_1 + e_2^T (0, 1); F_3 = 0.25 F_2 + e_1^T (3, 3)
    # o_1 = (1, 0); o_2 = (0.5, 1); o_3 = (0.125, 0.25) + (3, 3)
    expected = [[1.0, 0.0], [0.5, 1.0], [3.125, 3.25]]
    for form in recurrences.DECAY_FORMS:
        out = decayed_linear_attention(q, k, v, [0.9, 0.5, 0.25], form=form, chunk_size=2)
        assert_allclose(out, expected, rtol=0, atol=1e-14)


def loop_with_decay_matrix(q, k, v, gamma):
    """o_t = sum_{s<=t} (prod_{s<r<=t} gamma_r) (q_t . k_s) v_s, by two loops."""
    n = q.shape[0]
    out = np.zeros((n, v.shape[1]))
    for t in range(n):
        for s in range(t + 1):
            out[t] += np.prod(gamma[s + 1 : t + 1]) * (q[t] @ k[s]) * v[s]
    return out


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 12), st.integers(1, 4), st.integers(1, 3), st.integers(1, 13), st.integers(0, 10**6))
def test_decayed_forms_equal_the_double_loop(n, d_k, d_v, chunk_size, seed):
    q, k, v = sequences((n, d_k), d_v, seed)
    gamma = np.random.default_rng(seed + 1).uniform(0.05, 1.0, n)
    expected = loop_with_decay_matrix(q, k, v, gamma)
    for form in recurrences.DECAY_FORMS:
        out = decayed_linear_attention(q, k, v, gamma, form=form, chunk_size=chunk_size)
        assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 20), st.integers(1, 21), st.floats(0.01, 1.0), st.integers(0, 10**6))
def test_decayed_forms_agree_batched_per_head(n, chunk_size, low, seed):
    q, k, v = sequences((2, 3, n, 4), 5, seed)  # (batch 2, heads 3, n, d)
    gates = np.random.default_rng(seed).uniform(low, 1.0, (3, n))  # per head and step
    recurrent = decayed_linear_attention(q, k, v, gates)
    for form in ("parallel", "chunked"):
        assert_allclose(decayed_linear_attention(q, k, v, gates, form=form, chunk_size=chunk_size), recurrent,
                        rtol=1e-10, atol=1e-10)


def test_retnet_constant_decay_is_the_power_matrix():
    # RetNet's parallel form: D_ts = gamma^(t - s) for s <= t, one gamma per head
    q, k, v = sequences((2, 6, 3), 2, seed=4)  # two heads
    gammas = np.array([0.9, 0.5])
    out = decayed_linear_attention(q, k, v, gammas[:, None], form="chunked", chunk_size=4)
    for head, gamma in enumerate(gammas):
        t, s = np.indices((6, 6))
        decay = np.where(s <= t, gamma ** (t - s).astype(float), 0.0)
        expected = ((q[head] @ k[head].T) * decay) @ v[head]
        assert_allclose(out[head], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("form", recurrences.DECAY_FORMS)
def test_no_decay_is_chapter_10_causal_linear_attention_without_its_normaliser(form):
    q, k, v = sequences((7, 4), 3, seed=2)
    phi_q, phi_k = variants.elu_feature_map(q), variants.elu_feature_map(k)
    normaliser = np.einsum("nd,nd->n", phi_q, np.cumsum(phi_k, axis=0))  # phi(q_i) . z_i
    normalised = variants.linear_attention(q, k, v, causal=True)
    out = decayed_linear_attention(phi_q, phi_k, v, 1.0, form=form, chunk_size=3)
    assert_allclose(out, normalised * normaliser[:, None], rtol=1e-10, atol=1e-12)


def test_no_decay_state_is_the_running_sum_of_outer_products():
    q, k, v = sequences((5, 3), 2, seed=3)
    state = np.zeros((3, 2))
    expected = []
    for t in range(5):
        state += np.outer(k[t], v[t])
        expected.append(q[t] @ state)
    assert_allclose(decayed_linear_attention(q, k, v, 1.0), expected, rtol=1e-12)


@settings(deadline=None, max_examples=25)
@given(st.integers(2, 10), st.integers(0, 10**6))
def test_decayed_is_causal(n, seed):
    # changing the inputs at step t changes no output before t, in every form
    q, k, v = sequences((n, 3), 2, seed)
    gamma = np.random.default_rng(seed).uniform(0.1, 1.0, n)
    t = n // 2
    q2, k2, v2, gamma2 = q.copy(), k.copy(), v.copy(), gamma.copy()
    q2[t:], k2[t:], v2[t:], gamma2[t:] = 9.0, -9.0, 9.0, 0.3
    for form in recurrences.DECAY_FORMS:
        before = decayed_linear_attention(q, k, v, gamma, form=form, chunk_size=3)
        after = decayed_linear_attention(q2, k2, v2, gamma2, form=form, chunk_size=3)
        assert_allclose(before[:t], after[:t], rtol=0, atol=0)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 9), st.floats(-3, 3), st.integers(0, 10**6))
def test_decayed_is_linear_in_the_values(n, factor, seed):
    q, k, v = sequences((n, 3), 2, seed)
    w = np.random.default_rng(seed + 7).standard_normal(v.shape)
    gamma = np.random.default_rng(seed).uniform(0.1, 1.0, n)
    combined = decayed_linear_attention(q, k, v + factor * w, gamma, form="chunked", chunk_size=2)
    separate = decayed_linear_attention(q, k, v, gamma) + factor * decayed_linear_attention(q, k, w, gamma)
    assert_allclose(combined, separate, rtol=1e-9, atol=1e-9)


def test_smaller_decay_forgets_an_old_key_faster():
    # write (e_1, 1) once, then only zero values: query e_1 reads gamma^(t-1)
    k = np.zeros((6, 2)); k[:, 1] = 1.0; k[0] = [1.0, 0.0]
    v = np.zeros((6, 1)); v[0] = 1.0
    q = np.tile([1.0, 0.0], (6, 1))
    for gamma in (0.9, 0.5):
        out = decayed_linear_attention(q, k, v, gamma, form="parallel")
        assert_allclose(out[:, 0], gamma ** np.arange(6.0), rtol=1e-12)


def test_decay_of_the_first_step_has_no_effect():
    q, k, v = sequences((4, 2), 2, seed=5)
    gamma = np.array([0.8, 0.7, 0.6, 0.9])
    changed = gamma.copy(); changed[0] = 0.01
    for form in recurrences.DECAY_FORMS:
        assert_allclose(decayed_linear_attention(q, k, v, gamma, form=form, chunk_size=3),
                        decayed_linear_attention(q, k, v, changed, form=form, chunk_size=3), rtol=1e-12)


@pytest.mark.parametrize("form", recurrences.DECAY_FORMS)
def test_tiny_decays_do_not_overflow_or_warn(form):
    # gates near 0 make the running log-decay very negative: no exp overflow (warnings are errors)
    q, k, v = sequences((40, 3), 2, seed=6)
    out = decayed_linear_attention(q, k, v, 1e-300, form=form, chunk_size=7)
    # each state keeps only its newest write: o_t = (q_t . k_t) v_t
    assert_allclose(out, np.einsum("nd,nd->n", q, k)[:, None] * v, rtol=1e-10, atol=1e-12)


def test_float32_stays_float32_and_integers_promote():
    q, k, v = (x.astype(np.float32) for x in sequences((5, 2), 2))
    for form in recurrences.DECAY_FORMS:
        assert decayed_linear_attention(q, k, v, [0.5] * 5, form=form, chunk_size=2).dtype == np.float32
    assert decayed_linear_attention(np.ones((2, 1), int), np.ones((2, 1), int), np.ones((2, 1), int), 1).dtype \
        == np.float64
    assert delta_rule_attention(q, k, v, 0.5, form="chunked", chunk_size=2).dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: decayed_linear_attention(np.ones((3, 2)), np.ones((4, 2)), np.ones((4, 1)), 0.5), "n_q == n_k"),
    (lambda: decayed_linear_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 1)), 0.0), "decay must lie"),
    (lambda: decayed_linear_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 1)), [0.5, 1.5, 1]), "index \\(0, 1\\)|index \\(1,\\)"),
    (lambda: decayed_linear_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 1)), [0.5, 0.5]), "decay of shape"),
    (lambda: decayed_linear_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 1)), 0.5, form="delta"), "form"),
    (lambda: decayed_linear_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 1)), 0.5, chunk_size=0), "chunk_size"),
    (lambda: delta_rule_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 1)), -0.1), "strength must lie"),
    (lambda: delta_rule_attention(np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 1)), 0.5, form="parallel"), "form"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------------------ delta rule
def test_delta_rule_by_hand():
    # d_k = d_v = 1, k = 1, strength = 0.5, values 4, 8, q = 1:
    # F_1 = 0 + 0.5 * (4 - 0) = 2; F_2 = 2 + 0.5 * (8 - 2) = 5
    k = q = np.ones((2, 1))
    v = np.array([[4.0], [8.0]])
    for form in recurrences.DELTA_FORMS:
        assert_allclose(delta_rule_attention(q, k, v, 0.5, form=form, chunk_size=1), [[2.0], [5.0]], rtol=0,
                        atol=1e-14)


def test_delta_rule_by_hand_with_two_keys():
    # k_1 = e_1, k_2 = (e_1 + e_2)/sqrt 2, strength 1, values 1 then 3; query k_2 at step 2
    s = 1 / np.sqrt(2)
    k = np.array([[1.0, 0.0], [s, s]])
    v = np.array([[1.0], [3.0]])
    q = k.copy()
    # F_1 = e_1^T 1; k_2 F_1 = s; F_2 = F_1 + k_2^T (3 - s); q_2 F_2 = s + 1 * (3 - s) = 3
    # q_1 F_1 = 1
    for form in recurrences.DELTA_FORMS:
        assert_allclose(delta_rule_attention(q, k, v, 1.0, form=form, chunk_size=2), [[1.0], [3.0]], rtol=0,
                        atol=1e-14)


def delta_loop(q, k, v, strength):
    """F_t = (I - strength_t k_t^T k_t) F_{t-1} + strength_t k_t^T v_t, written as the product form."""
    d_k, d_v = k.shape[1], v.shape[1]
    state = np.zeros((d_k, d_v))
    out = []
    for t in range(len(q)):
        state = (np.eye(d_k) - strength[t] * np.outer(k[t], k[t])) @ state + strength[t] * np.outer(k[t], v[t])
        out.append(q[t] @ state)
    return np.array(out)


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 14), st.integers(1, 5), st.integers(1, 3), st.integers(1, 15), st.integers(0, 10**6))
def test_delta_rule_forms_equal_the_product_loop(n, d_k, d_v, chunk_size, seed):
    q, k, v = sequences((n, d_k), d_v, seed)
    k = unit_rows(k)
    strength = np.random.default_rng(seed + 1).uniform(0.0, 1.0, n)
    expected = delta_loop(q, k, v, strength)
    for form in recurrences.DELTA_FORMS:
        assert_allclose(delta_rule_attention(q, k, v, strength, form=form, chunk_size=chunk_size), expected,
                        rtol=1e-10, atol=1e-10)


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 20), st.integers(1, 21), st.integers(0, 10**6))
def test_delta_rule_chunked_equals_recurrent_batched_per_head(n, chunk_size, seed):
    q, k, v = sequences((2, 3, n, 4), 3, seed)
    k = unit_rows(k)
    strength = np.random.default_rng(seed).uniform(0.0, 1.0, (2, 3, n))
    assert_allclose(delta_rule_attention(q, k, v, strength, form="chunked", chunk_size=chunk_size),
                    delta_rule_attention(q, k, v, strength), rtol=1e-10, atol=1e-10)


def test_overwriting_a_pair_delta_replaces_linear_attention_adds():
    # store (e_1 -> a), (e_2 -> b), then overwrite e_1 with c; query e_1 at the end
    k = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    a, b, c = np.array([1.0, 2.0]), np.array([-3.0, 5.0]), np.array([7.0, -1.0])
    v = np.array([a, b, c, [0.0, 0.0]])
    q = np.tile([1.0, 0.0, 0.0], (4, 1))
    for form in recurrences.DELTA_FORMS:
        delta = delta_rule_attention(q, k, v, 1.0, form=form, chunk_size=3)
        assert_allclose(delta[-1], c, rtol=0, atol=1e-14)  # exactly the new value
        assert_allclose(delta[1], a, rtol=0, atol=1e-14)  # before the overwrite: the old one
    linear = decayed_linear_attention(q, k, v, 1.0)
    assert_allclose(linear[-1], a + c, rtol=0, atol=1e-14)  # addition piles the two up
    # and the pair stored under e_2 is untouched by the overwrite
    assert_allclose(delta_rule_attention(np.tile([0.0, 1.0, 0.0], (4, 1)), k, v, 1.0)[-1], b, atol=1e-14)


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 6), st.integers(0, 10**6))
def test_delta_rule_with_orthonormal_keys_is_linear_attention_scaled_by_strength(n, seed):
    # with each key orthogonal to all earlier ones, k_t F_{t-1} = 0: only the strength_t k_t^T v_t write is left
    rng = np.random.default_rng(seed)
    k = np.linalg.qr(rng.standard_normal((6, 6)))[0][:n]  # n orthonormal rows
    q, v = rng.standard_normal((n, 6)), rng.standard_normal((n, 2))
    strength = rng.uniform(0.0, 1.0, n)
    expected = decayed_linear_attention(q, k, v * strength[:, None], 1.0)
    for form in recurrences.DELTA_FORMS:
        assert_allclose(delta_rule_attention(q, k, v, strength, form=form, chunk_size=4), expected, rtol=1e-10,
                        atol=1e-10)


def test_strength_zero_writes_nothing():
    q, k, v = sequences((5, 3), 2, seed=8)
    for form in recurrences.DELTA_FORMS:
        assert_allclose(delta_rule_attention(q, k, v, 0.0, form=form, chunk_size=2), np.zeros((5, 2)), atol=0)


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 30), st.integers(1, 31), st.integers(0, 10**6))
def test_delta_rule_reads_back_the_newest_pair_moved_by_strength(n, chunk_size, seed):
    # k_t F_t = k_t F_{t-1} + strength_t |k_t|^2 (v_t - k_t F_{t-1}): with a unit key, the read of
    # the key just written is (1 - strength_t) (what was there) + strength_t v_t, whatever came before
    _, k, v = sequences((n, 4), 2, seed)
    k = unit_rows(k)
    strength = np.random.default_rng(seed).uniform(0.0, 1.0, n)
    after = delta_rule_attention(k, k, v, strength, form="chunked", chunk_size=chunk_size)
    before = np.zeros((n, 2))
    for t in range(1, n):  # read k_t from the state after t - 1 steps: the queries are k_t, the keys stop at t - 1
        before[t] = delta_rule_attention(np.vstack([k[:t], k[t]]), np.vstack([k[:t], 0 * k[t]]),
                                         np.vstack([v[:t], v[t]]), np.append(strength[:t], 0.0))[-1]
    assert_allclose(after, (1 - strength[:, None]) * before + strength[:, None] * v, rtol=1e-9, atol=1e-9)
    assert_allclose(delta_rule_attention(k, k, v, 1.0, form="chunked", chunk_size=chunk_size), v,
                    rtol=1e-9, atol=1e-9)


def test_docstrings_keep_their_latex():
    for function in (decayed_linear_attention, delta_rule_attention):
        assert not any(char in function.__doc__ for char in "\t\r\f\b"), function.__name__
    assert r"\eta_t\, k_t^\top" in delta_rule_attention.__doc__
    assert r"\lambda_t F_{t-1}" in decayed_linear_attention.__doc__


# ------------------------------------------------------------------ state passing (both rules)
def test_initial_state_by_hand():
    # d_k = d_v = 1, F_0 = 2, decay 0.5, k = q = 1, values 1, 1:
    # F_1 = 0.5 * 2 + 1 = 2, F_2 = 0.5 * 2 + 1 = 2; delta rule (strength 0.5): F_1 = 2 + 0.5 (1 - 2) = 1.5,
    # F_2 = 1.5 + 0.5 (1 - 1.5) = 1.25
    ones = np.ones((2, 1))
    for form in recurrences.DECAY_FORMS:
        out, state = decayed_linear_attention(ones, ones, ones, 0.5, form=form, chunk_size=1,
                                              initial_state=[[2.0]], return_state=True)
        assert_allclose(out, [[2.0], [2.0]], atol=1e-14)
        assert_allclose(state, [[2.0]], atol=1e-14)
    for form in recurrences.DELTA_FORMS:
        out, state = delta_rule_attention(ones, ones, ones, 0.5, form=form, chunk_size=1,
                                          initial_state=[[2.0]], return_state=True)
        assert_allclose(out, [[1.5], [1.25]], atol=1e-14)
        assert_allclose(state, [[1.25]], atol=1e-14)


def decayed_final_state_loop(k, v, decay, initial):
    """F_n = (prod_r lambda_r) F_0 + sum_s (prod_{r > s} lambda_r) k_s^T v_s, by a loop over s."""
    state = np.prod(decay) * initial
    for s in range(len(k)):
        state = state + np.prod(decay[s + 1:]) * np.outer(k[s], v[s])
    return state


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 12), st.integers(1, 13), st.integers(0, 10**6))
def test_decayed_final_state_is_the_decayed_sum_of_writes(n, chunk_size, seed):
    q, k, v = sequences((n, 3), 2, seed)
    rng = np.random.default_rng(seed)
    decay, initial = rng.uniform(0.3, 1.0, n), rng.standard_normal((3, 2))
    expected = decayed_final_state_loop(k, v, decay, initial)
    for form in recurrences.DECAY_FORMS:
        _, state = decayed_linear_attention(q, k, v, decay, form=form, chunk_size=chunk_size,
                                            initial_state=initial, return_state=True)
        assert_allclose(state, expected, rtol=1e-10, atol=1e-10)


@settings(deadline=None, max_examples=30)
@given(st.integers(2, 16), st.integers(1, 15), st.integers(1, 6), st.integers(0, 10**6))
def test_two_halves_passing_the_state_equal_one_run(n, cut, chunk_size, seed):
    # what a chunked kernel does between chunks, and a decoder between calls
    cut = min(cut, n - 1)
    q, k, v = sequences((2, n, 4), 3, seed)
    k = unit_rows(k)
    rng = np.random.default_rng(seed)
    decay, strength = rng.uniform(0.3, 1.0, (2, n)), rng.uniform(0.0, 1.0, (2, n))
    halves = [(slice(None, cut), slice(cut, None))]
    for function, gate, forms in ((decayed_linear_attention, decay, recurrences.DECAY_FORMS),
                                  (delta_rule_attention, strength, recurrences.DELTA_FORMS)):
        whole, whole_state = function(q, k, v, gate, return_state=True)
        for form in forms:
            for first, second in halves:
                out_1, state_1 = function(q[:, first], k[:, first], v[:, first], gate[:, first], form=form,
                                          chunk_size=chunk_size, return_state=True)
                out_2, state_2 = function(q[:, second], k[:, second], v[:, second], gate[:, second], form=form,
                                          chunk_size=chunk_size, initial_state=state_1, return_state=True)
                assert_allclose(np.concatenate([out_1, out_2], axis=1), whole, rtol=1e-10, atol=1e-10)
                assert_allclose(state_2, whole_state, rtol=1e-10, atol=1e-10)


def test_delta_rule_final_state_with_orthonormal_keys_and_full_strength_stores_every_pair():
    # d_k orthonormal keys written with strength 1: k_i F = v_i for every i, F = K^T V
    rng = np.random.default_rng(3)
    k = np.linalg.qr(rng.standard_normal((5, 5)))[0]  # (5, 5), orthonormal rows
    v = rng.standard_normal((5, 2))
    _, state = delta_rule_attention(k, k, v, 1.0, return_state=True)
    assert_allclose(k @ state, v, atol=1e-12)
    assert_allclose(state, k.T @ v, atol=1e-12)


def test_a_bad_initial_state_names_its_shape():
    ones = np.ones((3, 2))
    with pytest.raises(ValueError, match="initial_state of shape \\(3, 3\\)"):
        decayed_linear_attention(ones, ones, ones, 0.5, initial_state=np.ones((3, 3)))
    with pytest.raises(ValueError, match="initial_state"):
        delta_rule_attention(ones, ones, ones, 0.5, initial_state=np.ones(2))
    with pytest.raises(TypeError, match="return_state"):
        delta_rule_attention(ones, ones, ones, 0.5, return_state="yes")


# ------------------------------------------------------------------ gated linear attention (vector gate)
from attn_core.recurrences import gated_linear_attention


def test_gated_by_hand():
    # d_k = 2, q = k = (1, 1), v = 1, gate (1, 0.5) at every step:
    # row 0 of F keeps 1, 2, 3; row 1 holds 1, 0.5 + 1 = 1.5, 0.75 + 1 = 1.75; o_t = row 0 + row 1
    q = k = np.ones((3, 2))
    v = np.ones((3, 1))
    for form in recurrences.GATED_FORMS:
        out, state = gated_linear_attention(q, k, v, [1.0, 0.5], form=form, chunk_size=2, return_state=True)
        assert_allclose(out, [[2.0], [3.5], [4.75]], atol=1e-14)
        assert_allclose(state, [[3.0], [1.75]], atol=1e-14)


def loop_with_vector_gates(q, k, v, gate):
    """o_t = sum_{s<=t} sum_c q_tc k_sc (prod_{s<r<=t} gate_rc) v_s, by loops over t, s and c."""
    n, d_k = q.shape
    out = np.zeros((n, v.shape[1]))
    for t in range(n):
        for s in range(t + 1):
            weight = sum(q[t, c] * k[s, c] * np.prod(gate[s + 1 : t + 1, c]) for c in range(d_k))
            out[t] += weight * v[s]
    return out


@settings(deadline=None, max_examples=30)
@given(st.integers(1, 10), st.integers(1, 4), st.integers(1, 3), st.integers(1, 11), st.integers(0, 10**6))
def test_gated_forms_equal_the_triple_loop(n, d_k, d_v, chunk_size, seed):
    q, k, v = sequences((n, d_k), d_v, seed)
    gate = np.random.default_rng(seed + 1).uniform(0.05, 1.0, (n, d_k))
    expected = loop_with_vector_gates(q, k, v, gate)
    for form in recurrences.GATED_FORMS:
        assert_allclose(gated_linear_attention(q, k, v, gate, form=form, chunk_size=chunk_size), expected,
                        rtol=1e-10, atol=1e-10)


@settings(deadline=None, max_examples=20)
@given(st.integers(1, 14), st.integers(1, 6), st.integers(0, 10**6))
def test_gated_with_one_gate_for_every_coordinate_is_decayed_linear_attention(n, chunk_size, seed):
    q, k, v = sequences((2, n, 3), 2, seed)
    decay = np.random.default_rng(seed).uniform(0.3, 1.0, (2, n))
    expected = decayed_linear_attention(q, k, v, decay)
    for form in recurrences.GATED_FORMS:
        out = gated_linear_attention(q, k, v, np.repeat(decay[..., None], 3, axis=-1), form=form,
                                     chunk_size=chunk_size)
        assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


@settings(deadline=None, max_examples=20)
@given(st.integers(2, 14), st.integers(1, 13), st.integers(1, 5), st.integers(0, 10**6))
def test_gated_two_halves_passing_the_state_equal_one_run(n, cut, chunk_size, seed):
    cut = min(cut, n - 1)
    q, k, v = sequences((n, 3), 2, seed)
    gate = np.random.default_rng(seed).uniform(0.3, 1.0, (n, 3))
    whole, whole_state = gated_linear_attention(q, k, v, gate, return_state=True)
    for form in recurrences.GATED_FORMS:
        out_1, state_1 = gated_linear_attention(q[:cut], k[:cut], v[:cut], gate[:cut], form=form,
                                                chunk_size=chunk_size, return_state=True)
        out_2, state_2 = gated_linear_attention(q[cut:], k[cut:], v[cut:], gate[cut:], form=form,
                                                chunk_size=chunk_size, initial_state=state_1, return_state=True)
        assert_allclose(np.concatenate([out_1, out_2]), whole, rtol=1e-10, atol=1e-10)
        assert_allclose(state_2, whole_state, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("form", recurrences.GATED_FORMS)
def test_gated_tiny_gates_do_not_overflow_and_a_closed_coordinate_forgets(form):
    q, k, v = sequences((30, 2), 2, seed=4)
    gate = np.tile([1e-300, 1.0], (30, 1))  # coordinate 0 forgets at once, coordinate 1 never
    out = gated_linear_attention(q, k, v, gate, form=form, chunk_size=7)
    # o_t = q_t0 k_t0 v_t (only the newest write survives in row 0) + q_t1 sum_{s<=t} k_s1 v_s
    expected = (q[:, 0] * k[:, 0])[:, None] * v + q[:, 1, None] * np.cumsum(k[:, 1, None] * v, axis=0)
    assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_gated_bad_gates_name_the_argument():
    ones = np.ones((3, 2))
    with pytest.raises(ValueError, match="gate must lie in \\(0, 1\\]"):
        gated_linear_attention(ones, ones, ones, [0.5, 0.0])
    with pytest.raises(ValueError, match="gate of shape \\(3,\\)"):
        gated_linear_attention(ones, ones, ones, [0.5, 0.5, 0.5])


def test_gated_float32_stays_float32():
    q, k, v = (x.astype(np.float32) for x in sequences((5, 2), 2))
    for form in recurrences.GATED_FORMS:
        assert gated_linear_attention(q, k, v, np.float32(0.5), form=form, chunk_size=2).dtype == np.float32
