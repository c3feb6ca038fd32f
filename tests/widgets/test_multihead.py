"""Chapter 8's explorer: the bytes of a decoding step, weights against cache."""

import numpy as np
import pytest

from attn_core.experiments.multihead import (
    LLAMA2_7B,
)
from attn_core.widgets.multihead import (
    BANDWIDTH,
    decode_bytes_explorer,
)


@pytest.fixture(scope="module")
def bytes_explorer(shared_explorer):
    return shared_explorer("multihead.decode_bytes_explorer")


def test_decode_bytes_default_state_by_hand(bytes_explorer):
    state = bytes_explorer.state
    assert (state["batch"], state["context"]) == (1, 4096) and bytes_explorer.frame_count() == 16
    weights = LLAMA2_7B["parameters"] * 2  # 16-bit numbers
    for kv, w, c in zip((32, 8, 1), state["weights"], state["cache"]):
        assert w == weights
        assert c == 2 * 32 * kv * 128 * 4096 * 2  # keys and values, 32 layers, 2 bytes
    np.testing.assert_allclose(state["milliseconds"], (state["weights"] + state["cache"]) / BANDWIDTH * 1e3)
    assert state["flops_per_byte"][0] < 1.5  # batch 1: about one operation per byte read


def test_decode_bytes_only_batch_times_context_moves_the_cache(bytes_explorer, restore):
    ex = restore(bytes_explorer)
    ex.controls["batch"].value, ex.controls["context"].value = 4, 1024
    cache_a, png = ex.state["cache"].copy(), ex.displayed_png()
    ex.controls["batch"].value, ex.controls["context"].value = 1, 4096
    np.testing.assert_array_equal(ex.state["cache"], cache_a)  # 4 x 1,024 = 1 x 4,096 cached tokens
    ex.controls["batch"].value, ex.controls["context"].value = 64, 65536
    assert ex.state["cache_share"][0] > 0.99 and ex.displayed_png() != png
    assert "multi-head, 32 kv heads: 2,212.5 GB a step, cache 99%" in ex.displayed_picture().value


def test_decode_bytes_refuses_values_not_on_its_sliders():
    with pytest.raises(ValueError, match="batch must be one of 1, 4, 16, 64"):
        decode_bytes_explorer(batch=2)
    with pytest.raises(ValueError, match="context must be one of"):
        decode_bytes_explorer(context=True)
