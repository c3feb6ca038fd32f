"""Chapter 15's explorer: a decoding step of current models, its bytes, its FLOPs per byte, and whether it fits."""

import numpy as np
import pytest

from attn_core.experiments.efficiency import H100
from attn_core.experiments.inference import LLAMA3_8B, LLAMA3_70B, SERVER_MEMORY_BYTES
from attn_core.widgets.inference import SERVED, serving_explorer


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("inference.serving_explorer")


def test_default_state_by_hand(explorer):
    state = explorer.state
    assert (state["batch"], state["context"]) == (1, 8192) and explorer.frame_count() == 16
    assert state["labels"] == [label for label, _, _ in SERVED]
    assert state["weights"][0] == LLAMA3_8B["parameters"] * 2
    assert state["cache"][0] == 2 * 32 * 8 * 128 * 8192 * 2  # Llama 3 8B, one sequence of 8,192
    assert state["cache"][2] == 2 * 32 * 8 * 128 * 4096 * 2  # Mistral 7B: its window, 4,096 positions
    total = state["weights"] + state["cache"]
    np.testing.assert_allclose(state["milliseconds"], total / H100.memory_bandwidth * 1e3)  # memory-bound
    assert state["bound"] == ["memory"] * 4 and (state["intensity"] < 1.5).all()
    assert state["fits"] == [True] * 4


def test_mistral_cache_stops_at_its_window_and_batch_raises_intensity(explorer, restore):
    ex = restore(explorer)
    ex.controls["context"].value = 131072
    long_cache, png = ex.state["cache"].copy(), ex.displayed_png()
    ex.controls["context"].value = 8192
    assert ex.state["cache"][2] == long_cache[2] and ex.state["cache"][0] < long_cache[0]
    ex.controls["context"].value = 1024
    low = ex.state["intensity"].copy()
    ex.controls["batch"].value = 256
    assert (ex.state["intensity"] > 40 * low).all() and ex.displayed_png() != png
    assert "Llama 3 70B" in ex.displayed_picture().value


def test_a_huge_batch_at_a_short_context_crosses_the_ridge(explorer, restore):
    ex = restore(explorer)
    ex.controls["batch"].value = 1024
    ex.controls["context"].value = 128
    assert ex.state["bound"] == ["compute"] * 4 and ex.state["fits"] == [True] * 4
    ex.controls["context"].value = 1024  # Llama 3 70B alone stays past the ridge
    assert ex.state["bound"] == ["memory", "compute", "memory", "memory"]
    # by hand: 2 N + 4 L h d_k n B FLOPs over N e + 2 L h_kv d_k n B e bytes
    flops = 2 * LLAMA3_70B["parameters"] * 1024 + 4 * 80 * 64 * 128 * 1024 * 1024
    moved = 2 * LLAMA3_70B["parameters"] + 2 * 80 * 8 * 128 * 1024 * 1024 * 2
    assert ex.state["intensity"][1] == pytest.approx(flops / moved)


def test_a_long_context_batch_that_would_be_needed_does_not_fit(explorer, restore):
    ex = restore(explorer)
    ex.controls["batch"].value = 1024
    ex.controls["context"].value = 8192
    cache_70b = 2 * 80 * 8 * 128 * 8192 * 1024 * 2  # 2.7 TB
    assert ex.state["cache"][1] == cache_70b and cache_70b > SERVER_MEMORY_BYTES
    assert ex.state["fits"] == [False, False, True, True] and "does not fit" in ex.displayed_picture().value
    assert ex.state["bound"] == ["memory"] * 4


def test_refuses_values_not_on_its_sliders():
    with pytest.raises(ValueError, match="batch must be one of 1, 32, 256, 1024"):
        serving_explorer(batch=2)
    with pytest.raises(ValueError, match="context must be one of"):
        serving_explorer(context=True)
