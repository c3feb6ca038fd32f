"""attn_core.experiments.positions: the weights of one sentence under each positional encoding."""

import numpy as np
import pytest

import attn_core as ac
from attn_core import positions as pos
from attn_core.experiments.data import embed_tokens
from attn_core.experiments.positions import encoded_weights, offset_effect

SENTENCE = ("the", "cat", "sat", "on", "the", "mat", "and", "slept")
D_MODEL, D_K, SEED = 8, 4, 7


def setup(seed=SEED):
    """Projections and tables drawn like the chapter's explorer draws them."""
    rng = np.random.default_rng(seed)
    w_q = rng.standard_normal((D_MODEL, D_K)) / np.sqrt(D_MODEL)
    w_k = rng.standard_normal((D_MODEL, D_K)) / np.sqrt(D_MODEL)
    rel_keys = rng.standard_normal((5, D_K))
    table = pos.learned_position_table(16, D_MODEL, seed=seed + 1, std=1.0)
    return embed_tokens(list(SENTENCE), D_MODEL), w_q, w_k, rel_keys, table


def weights(encoding, offset, seed=SEED):
    x, w_q, w_k, rel_keys, table = setup(seed)
    return encoded_weights(x, w_q, w_k, encoding, offset + np.arange(len(SENTENCE)),
                           learned_table=table, rel_keys=rel_keys)

# ------------------------------------------------------------------ the maths behind it
def test_each_encoding_is_the_attn_core_computation():
    x, w_q, w_k, rel_keys, table = setup()
    n = len(SENTENCE)
    q, k = x @ w_q, x @ w_k
    p = pos.sinusoidal_positions(n, D_MODEL)
    expected = {
        "none": ac.scaled_dot_product_attention(q, k, k)[1],
        "sinusoidal": ac.scaled_dot_product_attention((x + p) @ w_q, (x + p) @ w_k, k)[1],
        "learned": ac.scaled_dot_product_attention((x + table[:n]) @ w_q, (x + table[:n]) @ w_k, k)[1],
        "relative": pos.relative_position_attention(q, k, k, rel_keys)[1],
        "rope": ac.scaled_dot_product_attention(pos.rotary_embedding(q), pos.rotary_embedding(k), k)[1],
        "alibi": ac.scaled_dot_product_attention(q, k, k, bias=pos.alibi_bias(n, n_heads=8)[0])[1],
    }
    for name, a in expected.items():
        got = encoded_weights(x, w_q, w_k, name, np.arange(n), learned_table=table, rel_keys=rel_keys)
        np.testing.assert_allclose(got, a, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(got.sum(axis=1), 1.0)


def test_sinusoidal_by_a_plain_loop():
    """Row i of the weights: softmax over j of (x_i + P_i) W_Q . (x_j + P_j) W_K / 2."""
    x, w_q, w_k, _, _ = setup()
    offset, n = 5, len(SENTENCE)
    got = weights("sinusoidal", offset)
    for i in range(n):
        p_i = [np.sin((offset + i) * 10000 ** (-2 * (c // 2) / D_MODEL) + (c % 2) * np.pi / 2)
               for c in range(D_MODEL)]  # cos(a) = sin(a + pi/2)
        scores = []
        for j in range(n):
            p_j = [np.sin((offset + j) * 10000 ** (-2 * (c // 2) / D_MODEL) + (c % 2) * np.pi / 2)
                   for c in range(D_MODEL)]
            scores.append(((x[i] + p_i) @ w_q) @ ((x[j] + p_j) @ w_k) / np.sqrt(D_K))
        e = np.exp(np.array(scores) - max(scores))
        np.testing.assert_allclose(got[i], e / e.sum(), atol=1e-12)


@pytest.mark.parametrize("encoding", ["relative", "rope", "alibi"])
def test_relative_encodings_ignore_a_common_offset(encoding):
    base = weights(encoding, 0)
    for offset in (1, 3, 16, 256, 10_000):
        np.testing.assert_allclose(weights(encoding, offset), base, atol=1e-12)


@pytest.mark.parametrize("encoding", ["sinusoidal", "learned"])
def test_absolute_encodings_change_with_the_offset(encoding):
    base = weights(encoding, 0)
    for offset in (1, 8):
        assert np.abs(weights(encoding, offset) - base).max() > 0.05


def test_learned_table_has_no_rows_past_its_end():
    assert weights("learned", 8) is not None  # positions 8 .. 15: the last rows
    assert weights("learned", 9) is None  # position 16 does not exist


def test_encoded_weights_refuses_bad_input():
    x, w_q, w_k, rel_keys, table = setup()
    with pytest.raises(ValueError, match="encoding must be one of .*; got 'absolute'"):
        encoded_weights(x, w_q, w_k, "absolute", np.arange(8))
    with pytest.raises(ValueError, match=r"one entry per token, shape \(8,\)"):
        encoded_weights(x, w_q, w_k, "rope", np.arange(7))
    with pytest.raises(ValueError, match="consecutive positions"):
        encoded_weights(x, w_q, w_k, "alibi", np.arange(8) * 2)
    with pytest.raises(ValueError, match="needs learned_table"):
        encoded_weights(x, w_q, w_k, "learned", np.arange(8))
    with pytest.raises(ValueError, match="needs rel_keys"):
        encoded_weights(x, w_q, w_k, "relative", np.arange(8))


def test_offset_effect_is_the_difference_of_two_maps():
    x, w_q, w_k, rel_keys, table = setup()
    tables = {"learned_table": table, "rel_keys": rel_keys}
    effect = offset_effect(x, w_q, w_k, "sinusoidal", 3, **tables)
    assert effect["positions"].tolist() == list(range(3, 3 + len(SENTENCE)))
    np.testing.assert_allclose(effect["weights_at_zero"], weights("sinusoidal", 0))
    np.testing.assert_allclose(effect["change"], np.abs(weights("sinusoidal", 3) - weights("sinusoidal", 0)))
    assert effect["max_change"] == pytest.approx(float(effect["change"].max()))
    past_the_table = offset_effect(x, w_q, w_k, "learned", 9, **tables)
    assert past_the_table["weights"] is None and past_the_table["max_change"] is None
