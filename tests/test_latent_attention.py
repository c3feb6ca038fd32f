"""Multi-head latent attention: the explicit form against a loop over heads, the absorbed form against the explicit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.latent_attention import MultiHeadLatentAttention, latent_kv_cache_bytes
from attn_core.positions import rotary_embedding


def _layer(**sizes):
    shape = {"d_model": 12, "n_heads": 3, "d_latent": 6, "d_head": 4, "d_rope": 4, "seed": 1} | sizes
    d_model, n_heads = shape.pop("d_model"), shape.pop("n_heads")
    return MultiHeadLatentAttention(d_model, n_heads, **shape)


def test_explicit_form_equals_a_loop_over_heads_written_here():
    mla = _layer()
    x = np.random.default_rng(0).standard_normal((7, 12))
    d, r = mla.d_head, mla.d_rope
    latent = x @ mla.w_down_kv  # the cached latent, (7, d_latent)
    key_rope = rotary_embedding(x @ mla.w_key_rope)  # one rotary key part for every head, (7, d_rope)
    heads = []
    for i in range(mla.n_heads):
        keys = np.concatenate([latent @ mla.w_up_key[:, i * d:(i + 1) * d], key_rope], axis=1)
        values = latent @ mla.w_up_value[:, i * d:(i + 1) * d]
        queries = np.concatenate([x @ mla.w_query[:, i * d:(i + 1) * d],
                                  rotary_embedding(x @ mla.w_query_rope[:, i * r:(i + 1) * r])], axis=1)
        heads.append(ac.scaled_dot_product_attention(queries, keys, values, causal=True,
                                                     scale=1 / np.sqrt(d + r))[0])
    expected = np.concatenate(heads, axis=1) @ mla.w_output
    output, weights = mla(x, causal=True)
    assert_allclose(output, expected, atol=1e-12)
    assert_allclose(weights.sum(axis=-1), 1.0)
    assert np.array_equal(weights[:, 0, 1:], np.zeros((3, 6)))  # causal: position 0 sees only itself


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 4), st.sampled_from([2, 4]), st.integers(1, 9),
       st.booleans(), st.integers(0, 10**6))
def test_absorbed_form_equals_explicit_form(n_heads, d_latent, d_head, d_rope, n, causal, seed):
    mla = MultiHeadLatentAttention(8, n_heads, d_latent=d_latent, d_head=d_head, d_rope=d_rope, seed=seed)
    x = np.random.default_rng(seed).standard_normal((2, n, 8))
    output, weights = mla(x, causal=causal)
    absorbed_output, absorbed_weights = mla.absorbed(x, *mla.compress(x), causal=causal)
    assert_allclose(absorbed_output, output, atol=1e-10)
    assert_allclose(absorbed_weights, weights, atol=1e-12)


def test_decoding_token_by_token_from_the_latent_cache():
    """Cache only (latent, rotary key) per position; the absorbed form reproduces causal self-attention."""
    mla = _layer()
    x = np.random.default_rng(2).standard_normal((9, 12))
    expected, _ = mla(x, causal=True)
    latent, key_rope = np.zeros((0, mla.d_latent)), np.zeros((0, mla.d_rope))
    steps = []
    for t in range(9):
        new_latent, new_key_rope = mla.compress(x[t:t + 1], positions=[t])
        latent, key_rope = np.concatenate([latent, new_latent]), np.concatenate([key_rope, new_key_rope])
        steps.append(mla.absorbed(x[t:t + 1], latent, key_rope)[0])  # one query sees all it needs
    assert_allclose(np.concatenate(steps), expected, atol=1e-12)
    assert latent.shape == (9, 6) and key_rope.shape == (9, 4)  # 10 numbers a position, not 2 * 3 * 4 = 24


def test_absorbed_weights_are_the_products_of_the_per_head_matrices():
    mla = _layer()
    query_to_latent, latent_to_output = mla.absorbed_weights()
    d = mla.d_head
    for i in range(mla.n_heads):
        columns = slice(i * d, (i + 1) * d)
        assert_allclose(query_to_latent[i], mla.w_query[:, columns] @ mla.w_up_key[:, columns].T, atol=1e-12)
        assert_allclose(latent_to_output[i], mla.w_up_value[:, columns] @ mla.w_output[columns], atol=1e-12)


def test_the_rotary_key_part_carries_position_and_the_content_part_does_not():
    """Two equal inputs at different positions: only the rotary part tells them apart."""
    mla = _layer()
    x = np.tile(np.random.default_rng(3).standard_normal(12), (4, 1))  # the same vector at positions 0..3
    latent, key_rope = mla.compress(x)
    assert_allclose(latent, np.tile(latent[0], (4, 1)), atol=1e-12)
    assert not np.allclose(key_rope[1], key_rope[0])
    assert_allclose(np.linalg.norm(key_rope, axis=1), np.linalg.norm(key_rope[0]))  # rotations keep length


def test_cache_bytes_hand_computed():
    # DeepSeek-V2: 128 heads of width 128, d_c = 512, d_R = 64, 60 layers, bf16
    assert latent_kv_cache_bytes(1, n_layers=1, d_latent=512, d_rope=64) == (512 + 64) * 2
    mha = ac.kv_cache_bytes(1, n_layers=1, n_kv_heads=128, d_head=128)  # 2 * 128 * 128 numbers
    assert mha / latent_kv_cache_bytes(1, n_layers=1, d_latent=512, d_rope=64) == pytest.approx(32768 / 576)
    # as much as grouped-query attention with 2.25 key/value heads: 2 * 2.25 * 128 = 576 numbers
    assert latent_kv_cache_bytes(1, n_layers=1, d_latent=512, d_rope=64) == 2 * 2.25 * 128 * 2
    assert latent_kv_cache_bytes(4096, n_layers=60, d_latent=512, d_rope=64, batch=2) == 576 * 60 * 4096 * 2 * 2


def test_cache_bytes_match_what_compress_returns():
    mla = _layer()
    latent, key_rope = mla.compress(np.ones((5, 12)))
    assert latent.nbytes + key_rope.nbytes == latent_kv_cache_bytes(5, n_layers=1, d_latent=6, d_rope=4,
                                                                   bytes_per_number=8)


@pytest.mark.parametrize("call, message", [
    (lambda m: MultiHeadLatentAttention(12, 3, d_latent=6, d_head=4, d_rope=3), "d_rope"),
    (lambda m: m(np.ones((2, 5))), "d_model"),
    (lambda m: m.absorbed(np.ones((1, 12)), np.ones((3, 6)), np.ones((2, 4))), "key_rope"),
    (lambda m: m.absorbed(np.ones((1, 12)), np.ones((3, 5)), np.ones((3, 4))), "latent"),
    (lambda m: m.compress(np.ones((2, 12)), positions=[0.0]), "positions"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call(_layer())
