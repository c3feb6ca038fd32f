"""Chapter 11's explorer (the online softmax, block by block) and its figures."""

import numpy as np
import pytest

import attn_core as ac
from attn_core.experiments.efficiency import stepper_inputs
from attn_core.tiled import online_softmax_steps
from attn_core.widgets.efficiency import READINGS, tile_stepper_explorer

IN_ORDER, REVERSED, LARGEST = "in order", "reversed", "largest first"
NO_SHIFT = {order: f"{order}, f16" for order in ("in order", "reversed", "largest first")}


@pytest.fixture(scope="module")
def explorer(shared_explorer):
    return shared_explorer("efficiency.tile_stepper_explorer")


@pytest.fixture
def fresh(explorer):
    """The module's explorer, put back to its starting controls after the test."""
    yield explorer
    explorer.controls["block"].value = 0
    explorer.controls["reading"].value = IN_ORDER


def test_default_state_is_the_first_block_of_the_first_query(explorer):
    q, k, v = stepper_inputs()
    scores = ac.scaled_dot_product_scores(q, k)
    first = next(online_softmax_steps(scores[0], v, block_size=4))
    state = explorer.state
    assert explorer.frame_count() == 6 * 6 <= 40
    assert (state["query"], state["block"], state["n_blocks"], state["keys"]) == (0, 0, 6, (0, 4))
    assert state["running_max"] == scores[0, :4].max()
    np.testing.assert_allclose(state["normaliser"], np.exp(scores[0, :4] - scores[0, :4].max()).sum())
    np.testing.assert_allclose(state["output"], first.output)
    np.testing.assert_allclose(state["output"], ac.softmax(scores[0, :4]) @ v[:4])
    assert state["previous_max"] == -np.inf and state["rescale"] == 0.0


def test_block_slider_reads_more_keys_and_ends_at_full_attention(fresh):
    q, k, v = stepper_inputs()
    expected, _ = ac.scaled_dot_product_attention(q, k, v)
    before_png, before = fresh.displayed_png(), fresh.state
    fresh.controls["block"].value = 2
    state = fresh.state
    assert state["block"] == 2 and state["keys"] == (8, 12)
    assert state["running_max"] >= before["running_max"]
    scores = ac.scaled_dot_product_scores(q, k)[0]
    np.testing.assert_allclose(state["output"], ac.softmax(scores[:12]) @ v[:12])
    assert fresh.displayed_png() != before_png
    alt = fresh.displayed_picture().value
    assert "key block 3 of 6 (keys 9 to 12)" in alt
    assert f"running maximum m = {state['running_max']:.2f}" in alt
    fresh.controls["block"].value = 5
    np.testing.assert_allclose(fresh.state["output"], expected[0], atol=1e-12)
    assert fresh.state["gap"] < 1e-12


def test_rescale_factor_is_exp_of_the_change_of_maximum(fresh):
    for order in (IN_ORDER, REVERSED, LARGEST):
        fresh.controls["reading"].value = order
        for block in range(1, 6):
            fresh.controls["block"].value = block
            s = fresh.state
            np.testing.assert_allclose(s["rescale"], np.exp(s["previous_max"] - s["running_max"]))
            assert 0 < s["rescale"] <= 1


def test_order_slider_reads_other_blocks_first_and_ends_at_the_same_output(fresh):
    q, k, v = stepper_inputs()
    scores = ac.scaled_dot_product_scores(q, k)[0]
    expected, _ = ac.scaled_dot_product_attention(q, k, v)
    before_png = fresh.displayed_png()
    fresh.controls["reading"].value = REVERSED
    state = fresh.state
    assert state["keys"] == (20, 24) and state["read"] == [5]
    assert state["running_max"] == scores[20:].max()
    assert fresh.displayed_png() != before_png
    assert "reading the blocks reversed, after reading key block 1 of 6 (keys 21 to 24)" in (
        fresh.displayed_picture().value)
    fresh.controls["reading"].value = LARGEST
    assert fresh.state["running_max"] == scores.max()  # the best block first: m is final at once
    for block in range(1, 6):  # ... so nothing is ever rescaled
        fresh.controls["block"].value = block
        assert fresh.state["rescale"] == 1.0
    np.testing.assert_allclose(fresh.state["output"], expected[0], atol=1e-12)


def test_every_query_and_order_reaches_its_final_output():
    q, k, v = stepper_inputs()
    expected, _ = ac.scaled_dot_product_attention(q, k, v)
    for query in range(3):
        explorer = tile_stepper_explorer(query=query)
        for order in (IN_ORDER, REVERSED, LARGEST):
            state = explorer._compute(block=5, reading=order)
            assert sorted(state["read"]) == list(range(6))
            np.testing.assert_allclose(state["output"], expected[query], atol=1e-12)


def test_own_inputs_and_block_size():
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 3)), rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    ex = tile_stepper_explorer(q, k, v, block_size=3, query=1, block=2)
    assert ex.frame_count() == 3 * 6 and ex.state["keys"] == (6, 9)  # 3 blocks x 3 orders x 2 shifts
    np.testing.assert_allclose(ex.state["output"], ac.scaled_dot_product_attention(q, k, v)[0][1])


def test_bad_arguments_are_refused():
    q, k, v = stepper_inputs()
    with pytest.raises(ValueError, match="all three"):
        tile_stepper_explorer(q, k)
    with pytest.raises(ValueError, match="2 to 12 blocks"):
        tile_stepper_explorer(q, k, v, block_size=24)
    with pytest.raises(ValueError, match="block_size"):
        tile_stepper_explorer(q, k, v, block_size=0)
    with pytest.raises(ValueError, match=r"query must be a query in 0\.\.2, got 3"):
        tile_stepper_explorer(query=3)
    with pytest.raises(ValueError, match=r"block must be a block in 0\.\.5, got True"):
        tile_stepper_explorer(block=True)
    with pytest.raises(TypeError, match="block_size must be a whole number"):
        tile_stepper_explorer(block_size=4.0)
    with pytest.raises(ValueError, match="share their last dimension"):
        tile_stepper_explorer(q[:, :3], k, v)
    with pytest.raises(ValueError, match="order must be one of"):
        tile_stepper_explorer(order="random")
    with pytest.raises(ValueError, match="shift must be one of"):
        tile_stepper_explorer(shift="none")


def test_the_outlier_overflows_float16_without_the_shift_at_the_block_that_holds_it(fresh):
    q, k, v = stepper_inputs()
    scores = ac.scaled_dot_product_scores(q, k)[0]
    assert scores[14] == pytest.approx(12.0) and np.exp(np.float64(12.0)) > np.finfo(np.float16).max
    # the block of key 15 (index 14) is block 4 (index 3); each order reads it at another step
    first_nan = {"in order": 3, "reversed": 2, "largest first": 0}
    for order, step in first_nan.items():
        fresh.controls["reading"].value = NO_SHIFT[order]
        for block in range(6):
            fresh.controls["block"].value = block
            state = fresh.state
            read = sorted(b * 4 + j for b in state["read"] for j in range(4))
            if block < step:  # no overflow yet: the plain sums, by hand, in float64
                assert 3 not in state["read"]
                weights = np.exp(scores[read])
                np.testing.assert_allclose(state["normaliser"], weights.sum(), rtol=2e-3)
                np.testing.assert_allclose(state["output"], weights @ v[read] / weights.sum(), atol=2e-2)
            else:  # exp(12) = 162,755 > 65,504: l = inf and the output is NaN from then on
                assert state["normaliser"] == np.inf and np.isnan(state["output"]).all()
        assert "Running output nan, nan, nan" in fresh.displayed_picture().value
    # with the running maximum, the same order ends at the exact output
    fresh.controls["reading"].value = IN_ORDER
    fresh.controls["block"].value = 5
    np.testing.assert_allclose(fresh.state["output"], ac.scaled_dot_product_attention(q, k, v)[0][0], atol=1e-12)
    assert fresh.state["normaliser"] < 2  # the outlier's own term, e^0 = 1, plus small ones


def test_no_shift_picture_hides_the_running_max_and_says_float16(fresh):
    fresh.controls["reading"].value = IN_ORDER
    shifted_png = fresh.displayed_png()
    fresh.controls["reading"].value = NO_SHIFT["in order"]
    assert fresh.displayed_png() != shifted_png
    assert "no shift, float16" in fresh.displayed_picture().value
    assert len(READINGS) == 6 and set(READINGS.values()) == {
        (order, shift) for order in ("in order", "reversed", "largest first") for shift in ("running max",
                                                                                            "none, float16")}




# ------------------------------------------------------------------ tiles a structured mask skips
from attn_core.experiments.efficiency import TILE_SKIPPED, hbm_bytes, tile_schedule  # noqa: E402
from attn_core.widgets.efficiency import SPARSE_MASKS, block_sparse_explorer  # noqa: E402


@pytest.fixture(scope="module")
def sparse(shared_explorer):
    explorer = shared_explorer("efficiency.block_sparse_explorer")
    yield explorer
    explorer.controls["mask"].value = "window 256"
    explorer.controls["block_size"].value = 256


def test_block_sparse_explorer_counts_tiles_by_hand(sparse):
    assert sparse.frame_count() == 6 * 3
    state = sparse.state
    # window 256 = one block: query block a computes key blocks a-1 (masked) and a (masked); block 0 only its own
    assert (state["computed"], state["tiles"]) == (1 + 2 * 15, 256)
    assert state["allowed_pairs"] == sum(min(i, 256) + 1 for i in range(4096))  # query i sees min(i, w) + 1 keys
    assert state["wasted_cells"] == 31 * 256**2 - state["allowed_pairs"]
    sparse.controls["mask"].value = "documents of 1024"
    assert sparse.state["computed"] == 4 * 10  # four documents of four blocks: a lower triangle of 10 tiles each
    sparse.controls["mask"].value = "documents of 256"
    assert sparse.state["computed"] == 16 and sparse.state["wasted_cells"] == 16 * (256**2 - 256 * 257 // 2)
    sparse.controls["mask"].value = "window 256"


def test_block_sparse_explorer_trades_wasted_cells_for_bytes_as_blocks_shrink(sparse):
    """Window 256: smaller tiles follow the band more tightly but read the keys and values more often."""
    wasted, traffic = [], []
    for block in (512, 256, 128):
        sparse.controls["block_size"].value = block
        state = sparse.state
        np.testing.assert_array_equal(state["kinds"], tile_schedule(4096, 4096, block_size=block, causal=True,
                                                                    window=256))
        assert state["hbm_bytes"] == hbm_bytes(4096, 64, 1, "tiled", block_size=block, causal=True, window=256)
        assert state["hbm_bytes"] < state["causal_hbm_bytes"] < state["standard_hbm_bytes"]
        wasted.append(state["wasted_cells"] / state["computed_cells"])
        traffic.append(state["hbm_bytes"])
    assert wasted[0] > wasted[1] > wasted[2] and traffic[0] < traffic[1] < traffic[2]
    sparse.controls["block_size"].value = 256


def test_block_sparse_explorer_refuses_bad_settings():
    with pytest.raises(ValueError, match="mask"):
        block_sparse_explorer(mask="everything")
    with pytest.raises(ValueError, match="block_size"):
        block_sparse_explorer(block_size=100)
    with pytest.raises(ValueError, match="32 blocks"):
        block_sparse_explorer(n=2**16)
    assert len(SPARSE_MASKS) == 6 and all((w is None) != (length is None) for w, length in SPARSE_MASKS.values())
    assert TILE_SKIPPED == 0
