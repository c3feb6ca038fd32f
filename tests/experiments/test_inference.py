"""attn_core.experiments.inference: current models' shapes, cache tables, step costs, paging, int8 error."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.experiments.efficiency import A100, H100, Accelerator
from attn_core.experiments.inference import (
    DEEPSEEK_V3,
    GEMMA_2B,
    LLAMA3_8B,
    LLAMA3_70B,
    MISTRAL_7B,
    MISTRAL_7B_WINDOW,
    SERVER_MEMORY_BYTES,
    decode_cost,
    int8_cache_error,
    kv_cache_table,
    latent_decode_cost,
    outlier_keys,
    prefill_cost,
    reserved_cache_slots,
    roofline_time,
)
from attn_core.experiments.multihead import LLAMA2_7B, decode_step_bytes, decode_step_flops


def _decoder_parameters(*, vocab, d_model, n_layers, n_heads, n_kv_heads, d_head, d_ff, tied):
    """Parameters of a Llama-style decoder from its configuration, counted tensor by tensor.

    Per layer: W_Q and W_O (d_model x h d_head each), W_K and W_V (d_model x h_kv d_head each),
    a gated feed-forward layer (three d_model x d_ff matrices), two norm vectors; then the
    embedding table, the output layer unless tied, and the final norm.
    """
    attention = 2 * d_model * n_heads * d_head + 2 * d_model * n_kv_heads * d_head
    layer = attention + 3 * d_model * d_ff + 2 * d_model
    return n_layers * layer + vocab * d_model * (1 if tied else 2) + d_model


@pytest.mark.parametrize("shape, config", [
    (LLAMA3_8B, dict(vocab=128_256, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8, d_head=128,
                     d_ff=14_336, tied=False)),
    (LLAMA3_70B, dict(vocab=128_256, d_model=8192, n_layers=80, n_heads=64, n_kv_heads=8, d_head=128,
                      d_ff=28_672, tied=False)),
    (MISTRAL_7B, dict(vocab=32_000, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8, d_head=128,
                      d_ff=14_336, tied=False)),
    (GEMMA_2B, dict(vocab=256_128, d_model=2048, n_layers=18, n_heads=8, n_kv_heads=1, d_head=256,
                    d_ff=16_384, tied=True)),
])
def test_parameter_counts_follow_from_the_published_configurations(shape, config):
    assert shape["parameters"] == _decoder_parameters(**config)
    for key in ("n_layers", "n_heads", "n_kv_heads", "d_head"):
        assert shape[key] == config[key]


def test_llama2_7b_count_checks_the_counting_rule():
    """The rule reproduces chapter 8's Llama 2 7B count (vocabulary 32,000, d_ff 11,008, untied)."""
    assert LLAMA2_7B["parameters"] == _decoder_parameters(vocab=32_000, d_model=4096, n_layers=32, n_heads=32,
                                                          n_kv_heads=32, d_head=128, d_ff=11_008, tied=False)


def test_cache_table_by_hand():
    rows = {row["name"]: row for row in kv_cache_table((1000, 8192), batch=3)}
    assert list(rows) == ["Llama 3 8B", "Llama 3 70B", "Mistral 7B", "Gemma 2B", "DeepSeek-V3"]
    assert rows["Llama 3 8B"]["per_token"] == 2 * 32 * 8 * 128 * 2  # keys and values, 32 layers, 2 bytes
    assert rows["Llama 3 70B"]["per_token"] == 2 * 80 * 8 * 128 * 2
    assert rows["Gemma 2B"]["per_token"] == 2 * 18 * 1 * 256 * 2
    assert rows["DeepSeek-V3"]["per_token"] == 61 * (512 + 64) * 2
    assert rows["DeepSeek-V3"]["numbers_per_layer"] == 576 and rows["Llama 3 8B"]["numbers_per_layer"] == 2048
    for name, row in rows.items():
        cached = [min(n, 4096) if name == "Mistral 7B" else n for n in (1000, 8192)]
        assert row["per_sequence"] == [row["per_token"] * n for n in cached]
        assert row["per_batch"] == 3 * row["per_sequence"][-1]


def test_decode_cost_is_chapter_8s_count_at_the_cached_context():
    for context, batch in [(1, 1), (4096, 1), (10_000, 32)]:
        step = decode_cost(context, batch=batch, **LLAMA3_8B)
        assert step["weight_bytes"] == decode_step_bytes(context, batch=batch, **LLAMA3_8B)["weights"]
        assert step["cache_bytes"] == decode_step_bytes(context, batch=batch, **LLAMA3_8B)["cache"]
        assert step["attention_flops"] == decode_step_flops(context, batch=batch, **LLAMA3_8B)["attention"]
        windowed = decode_cost(context, batch=batch, window=MISTRAL_7B_WINDOW, **MISTRAL_7B)
        assert windowed == decode_cost(min(context, 4096), batch=batch, **MISTRAL_7B)


def test_prefill_counts_the_keys_each_query_attends_in_a_loop():
    shape = dict(parameters=7, n_layers=2, n_heads=3, n_kv_heads=1, d_head=5)
    for prompt in (1, 6, 13):
        for window in (None, 1, 4, 20):
            keys = sum(i + 1 if window is None else min(i + 1, window) for i in range(prompt))
            cost = prefill_cost(prompt, batch=2, window=window, **shape)
            assert cost["attention_flops"] == 4 * 2 * 3 * 5 * keys * 2
            assert cost["weight_flops"] == 2 * 7 * prompt * 2 and cost["weight_bytes"] == 14
            cached = prompt if window is None else min(prompt, window)
            assert cost["cache_bytes"] == 2 * 2 * 1 * 5 * cached * 2 * 2


def test_prefill_is_compute_bound_and_decode_memory_bound_at_batch_1():
    prefill = roofline_time(prefill_cost(4096, **LLAMA3_8B), H100)
    decode = roofline_time(decode_cost(4096, **LLAMA3_8B), H100)
    assert prefill["bound"] == "compute" and decode["bound"] == "memory"
    assert 0.9 < decode["intensity"] < 1.5  # about one FLOP per byte
    assert prefill["intensity"] > 4000  # about prompt x batch FLOPs per byte of weights
    short = roofline_time(prefill_cost(64, **LLAMA3_8B), H100)
    assert short["bound"] == "memory"  # a short prompt does not reach the ridge (295)


def test_roofline_time_by_hand():
    chip = Accelerator("toy", peak_flops=100.0, memory_bandwidth=10.0, sram_bytes=1, source="made up")
    slow_memory = roofline_time({"a_bytes": 50, "a_flops": 200}, chip)  # 4 FLOP/byte < ridge 10
    assert slow_memory == {"flops": 200.0, "bytes": 50.0, "intensity": 4.0, "seconds": 5.0, "bound": "memory"}
    busy = roofline_time({"a_bytes": 5, "b_bytes": 5, "a_flops": 1000, "b_flops": 1000}, chip)
    assert busy["seconds"] == 20.0 and busy["bound"] == "compute"
    with pytest.raises(TypeError, match="cost"):
        roofline_time({"flops": 1}, chip)
    with pytest.raises(ValueError, match="no bytes"):
        roofline_time({"a_bytes": 0, "a_flops": 1}, chip)


def test_latent_decode_absorbed_and_explicit_read_the_same_bytes():
    shape = dict(n_layers=61, n_heads=128, d_head=128, d_latent=512, d_rope=64)
    absorbed = latent_decode_cost(1000, **shape)
    explicit = latent_decode_cost(1000, absorbed=False, **shape)
    assert absorbed["cache_bytes"] == explicit["cache_bytes"] == ac.latent_kv_cache_bytes(
        1000, n_layers=61, d_latent=512, d_rope=64)
    # absorbed: per head, a 576-wide score and a 512-wide average; 2 FLOPs per multiply-add
    assert absorbed["attention_flops"] == 61 * 1000 * 128 * 2 * (576 + 512)
    assert absorbed["attention_flops"] / absorbed["cache_bytes"] == pytest.approx(128 * 2 * 1088 / (576 * 2))
    assert explicit["attention_flops"] > 100 * absorbed["attention_flops"]


def test_absorbed_flops_count_matches_the_matrix_products_of_the_library():
    """Count the multiply-adds of the absorbed form's products in latent_attention, per position."""
    h, d_latent, d_rope = 4, 8, 2
    # scores: (h, 1, d_latent) @ (d_latent, n) and (h, 1, d_rope) @ (d_rope, n); average: (h, 1, n) @ (n, d_latent)
    multiply_adds_per_position = h * (d_latent + d_rope) + h * d_latent
    cost = latent_decode_cost(1, n_layers=1, n_heads=h, d_head=3, d_latent=d_latent, d_rope=d_rope)
    assert cost["attention_flops"] == 2 * multiply_adds_per_position


def test_reserved_slots_by_hand_and_waste_under_one_block():
    assert reserved_cache_slots([1, 16, 17, 32], block_size=16, max_length=32) == {
        "used": 66, "contiguous": 128, "paged": 16 + 16 + 32 + 32}
    lengths = np.random.default_rng(0).integers(1, 2049, 100)
    slots = reserved_cache_slots(lengths, block_size=16, max_length=2048)
    assert 0 <= slots["paged"] - slots["used"] < 100 * 16
    with pytest.raises(ValueError, match="lengths"):
        reserved_cache_slots([0, 3], block_size=4, max_length=8)
    with pytest.raises(ValueError, match="lengths"):
        reserved_cache_slots([9], block_size=4, max_length=8)


def test_outlier_keys_have_large_channels_only_where_asked():
    keys = outlier_keys(2000, 16, outlier_channels=(2,), factor=10.0, seed=1)
    spread = keys.std(axis=0)
    assert 8 < spread[2] < 12 and (np.delete(spread, 2) < 1.2).all()
    assert_allclose(outlier_keys(5, 4, seed=3, outlier_channels=(0,)), outlier_keys(5, 4, seed=3,
                                                                                   outlier_channels=(0,)))
    with pytest.raises(ValueError, match="outlier_channels"):
        outlier_keys(5, 4, outlier_channels=(4,))


def test_int8_error_per_channel_keys_beat_per_token_on_outlier_keys():
    rng = np.random.default_rng(5)
    k = outlier_keys(512, 64, seed=5)
    v = rng.standard_normal((512, 64))
    q = rng.standard_normal((8, 64))
    kivi = int8_cache_error(q, k, v, keys="channel", values="token")
    per_token = int8_cache_error(q, k, v, keys="token", values="token")
    assert kivi["relative_error"] < per_token["relative_error"] / 2
    assert kivi["bf16_bytes"] == 2 * 2 * 512 * 64
    assert kivi["int8_bytes"] == 2 * 512 * 64 + 2 * (64 + 512)  # codes; key scales per channel, value per token
    assert per_token["int8_bytes"] == 2 * 512 * 64 + 2 * (512 + 512)
    exact = ac.scaled_dot_product_attention(q, k, v)[0]
    assert math.isclose(int8_cache_error(q, k, v)["relative_error"], kivi["relative_error"])
    assert np.linalg.norm(exact) > 0


def test_deepseek_v3_shape_as_published():
    """DeepSeek-V3's config.json: 61 layers, 128 heads of 128 (qk_nope_head_dim, v_head_dim), hidden 7,168,
    kv_lora_rank 512, q_lora_rank 1,536, qk_rope_head_dim 64."""
    assert (DEEPSEEK_V3["n_layers"], DEEPSEEK_V3["n_heads"], DEEPSEEK_V3["d_head"]) == (61, 128, 128)
    assert (DEEPSEEK_V3["d_model"], DEEPSEEK_V3["d_query_latent"]) == (7168, 1536)
    assert (DEEPSEEK_V3["d_latent"], DEEPSEEK_V3["d_rope"]) == (512, 64)
    latent = ac.latent_kv_cache_bytes(1, n_layers=DEEPSEEK_V3["n_layers"], d_latent=DEEPSEEK_V3["d_latent"],
                                      d_rope=DEEPSEEK_V3["d_rope"])
    assert latent == 61 * (512 + 64) * 2 == 70_272
    # per layer, as much as grouped-query attention with 2.25 key/value heads of width 128
    one_head = ac.kv_cache_bytes(1, n_layers=61, n_kv_heads=1, d_head=DEEPSEEK_V3["d_head"])
    assert latent / one_head == 2.25


def test_gemma_checkpoint_vocabulary_gives_the_checkpoint_count():
    """GEMMA_2B holds the report's count (vocabulary 256,128); the released configuration says 256,000."""
    checkpoint = _decoder_parameters(vocab=256_000, d_model=2048, n_layers=18, n_heads=8, n_kv_heads=1,
                                     d_head=256, d_ff=16_384, tied=True)
    assert checkpoint == 2_506_172_416 == GEMMA_2B["parameters"] - 128 * 2048


def test_server_memory_is_eight_80_gb_accelerators():
    assert SERVER_MEMORY_BYTES == 8 * 80e9


def test_a100_ridge_is_chapter_8s_figure():
    assert round(A100.peak_flops / A100.memory_bandwidth) == 153
