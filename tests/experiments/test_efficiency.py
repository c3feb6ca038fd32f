"""Counting, tiling and measuring the cost of attention (attn_core.experiments.efficiency)."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attn_core as ac
from attn_core.experiments.efficiency import (
    TILE_FULL,
    TILE_MASKED,
    TILE_SKIPPED,
    attention_cost,
    growth_exponent,
    tile_schedule,
    time_and_peak_memory,
)


def test_attention_cost_by_hand():
    cost = attention_cost(3, 5, 4, 2, itemsize=8)
    assert cost.multiply_adds == 3 * 5 * 4 + 3 * 5 * 2  # Q K^T, then A V
    assert cost.exponentials == 15
    assert cost.score_bytes == 15 * 8
    assert cost.input_output_bytes == (3 * 4 + 5 * 4 + 5 * 2 + 3 * 2) * 8


def test_attention_cost_quadruples_when_n_doubles():
    small, large = attention_cost(512, 512, 64), attention_cost(1024, 1024, 64)
    assert large.multiply_adds == 4 * small.multiply_adds
    assert large.score_bytes == 4 * small.score_bytes
    assert large.input_output_bytes == 2 * small.input_output_bytes


def test_attention_cost_matches_the_arrays_of_full_attention():
    q = np.zeros((64, 8), dtype=np.float32)
    _, weights = ac.scaled_dot_product_attention(q, q, q)
    assert attention_cost(64, 64, 8).score_bytes == weights.nbytes


def brute_force_schedule(n_q, n_k, block, causal):
    """Classify each tile by looking at the block of the causal mask it covers."""
    allowed = ac.causal_mask(n_q, n_k) if causal else np.ones((n_q, n_k), dtype=bool)
    rows = range(0, n_q, block)
    cols = range(0, n_k, block)
    kinds = np.empty((len(rows), len(cols)), dtype=int)
    for a, qs in enumerate(rows):
        for b, ks in enumerate(cols):
            tile = allowed[qs:qs + block, ks:ks + block]
            kinds[a, b] = TILE_FULL if tile.all() else TILE_SKIPPED if not tile.any() else TILE_MASKED
    return kinds


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 12), st.booleans())
def test_tile_schedule_equals_a_plain_loop_over_the_mask(n_q, n_k, block, causal):
    np.testing.assert_array_equal(tile_schedule(n_q, n_k, block_size=block, causal=causal),
                                  brute_force_schedule(n_q, n_k, block, causal))


def test_causal_skips_the_tiles_above_the_diagonal():
    kinds = tile_schedule(4096, 4096, block_size=256, causal=True)
    t = 4096 // 256
    assert kinds.shape == (t, t)
    assert (kinds == TILE_SKIPPED).sum() == t * (t - 1) // 2 == 120
    assert (kinds == TILE_MASKED).sum() == t  # the diagonal
    np.testing.assert_array_equal(np.diag(kinds), TILE_MASKED)
    assert (tile_schedule(100, 100, block_size=7) == TILE_FULL).all()


def test_skipped_tiles_are_never_read_by_tiled_attention():
    """NaN values in the skipped key blocks would leak into a computed tile even where it is
    masked (0 x NaN = NaN): the first query block's output stays clean only if they are skipped."""
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 12, 4))
    out = ac.tiled_attention(q, k, v, causal=True, block_size=4)
    k2, v2 = k.copy(), v.copy()
    k2[4:], v2[4:] = 1e3, np.nan  # keys of blocks 2 and 3: skipped for query block 1
    out2 = ac.tiled_attention(q, k2, v2, causal=True, block_size=4)
    np.testing.assert_array_equal(out2[:4], out[:4])


@pytest.mark.parametrize("call, error, message", [
    (lambda: tile_schedule(0, 4, block_size=2), ValueError, "n_q must be >= 1"),
    (lambda: tile_schedule(4, 4, block_size=1.5), TypeError, "block_size must be a whole number"),
    (lambda: tile_schedule(4, 4, block_size=2, causal="yes"), TypeError, "causal must be True or False"),
    (lambda: attention_cost(4, 4, 0), ValueError, "d_k must be >= 1"),
    (lambda: growth_exponent([1, 2], [1, 2, 3]), ValueError, "same length"),
    (lambda: growth_exponent([2, 2], [1, 2]), ValueError, "two different sizes"),
    (lambda: growth_exponent([1, 2], [0, 2]), ValueError, "> 0"),
    (lambda: time_and_peak_memory(3), TypeError, "fn must be a function"),
    (lambda: time_and_peak_memory(print, repeats=0), ValueError, "repeats must be >= 1"),
])
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_growth_exponent_of_powers():
    n = np.array([256, 512, 1024, 2048])
    assert growth_exponent(n, 5 * n**2.0) == pytest.approx(2.0)
    assert growth_exponent(n, 3 * n) == pytest.approx(1.0)
    assert growth_exponent(n, np.full(4, 7.0)) == pytest.approx(0.0, abs=1e-12)


def test_peak_memory_sees_temporary_arrays_and_not_the_answer():
    size = 200_000  # float64: 1.6 MB
    temporary = time_and_peak_memory(lambda: float(np.ones(size).sum()), repeats=1)
    assert size * 8 <= temporary.peak_bytes < size * 8 + 100_000
    returned = time_and_peak_memory(lambda: np.ones(size), repeats=1)
    assert returned.peak_bytes < 100_000  # the answer itself is not working memory
    assert temporary.seconds >= 0


def test_peak_memory_inside_an_outer_trace():
    tracemalloc.start()
    try:
        keep = np.ones(500_000)  # allocated before: must not count
        m = time_and_peak_memory(lambda: float(np.ones(100_000).sum()), repeats=1)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    assert 800_000 <= m.peak_bytes < 900_000
    del keep


def test_tiled_attention_memory_is_flat_and_full_attention_grows():
    rng = np.random.default_rng(1)
    peaks = {"full": [], "tiled": []}
    for n in (256, 1024):
        q = rng.standard_normal((n, 16)).astype(np.float32)
        peaks["full"].append(time_and_peak_memory(
            lambda: ac.scaled_dot_product_attention(q, q, q)[0], repeats=1).peak_bytes)
        peaks["tiled"].append(time_and_peak_memory(
            lambda: ac.tiled_attention(q, q, q, block_size=128), repeats=1).peak_bytes)
    assert peaks["full"][1] > 12 * peaks["full"][0]  # 16 times more scores
    assert peaks["tiled"][1] < 1.5 * peaks["tiled"][0]


def test_blas_threads_sets_and_restores_the_count():
    from threadpoolctl import threadpool_info

    from attn_core.experiments.efficiency import blas_threads, set_blas_threads

    def get():
        pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
        return pools[0]["num_threads"] if pools else None

    before = get()
    if before is None:  # numpy built without a BLAS threadpoolctl knows: nothing changes
        assert set_blas_threads(1) is None
        return
    with blas_threads(1) as done:
        assert done and get() == 1
        a = np.arange(12.0).reshape(3, 4)
        np.testing.assert_array_equal(a @ a.T, [[14, 38, 62], [38, 126, 214], [62, 214, 366]])
    assert get() == before
    previous = set_blas_threads(1)
    assert previous == before and get() == 1
    set_blas_threads(previous)
    assert get() == before
    with pytest.raises(ValueError, match="count must be >= 1"):
        set_blas_threads(0)


# ------------------------------------------- the online softmax block by block (the stepper explorer's maths)
from attn_core.experiments.efficiency import (  # noqa: E402
    online_softmax_state,
    online_softmax_walk,
    stepper_inputs,
)


def test_stepper_inputs_are_seeded_with_queries_twice_as_long():
    q, k, v = stepper_inputs()
    again = stepper_inputs()
    assert [a.shape for a in (q, k, v)] == [(3, 8), (24, 8), (24, 3)]
    for a, b in zip((q, k, v), again):
        np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(11)
    np.testing.assert_allclose(q, 2.0 * rng.standard_normal((3, 8)))


def test_online_softmax_state_by_hand():
    # one query, four keys with scores 0, 2, 1, 3 (q . k / sqrt(1)); values 1, 2, 3, 4; blocks of 2
    q, k, v = np.array([[1.0]]), np.array([[0.0], [2.0], [1.0], [3.0]]), np.array([[1.0], [2.0], [3.0], [4.0]])
    walk = online_softmax_walk(q, k, v, block_size=2)
    first, second = online_softmax_state(walk, 0, 0), online_softmax_state(walk, 0, 1)
    assert first["keys"] == (0, 2) and second["keys"] == (2, 4) and first["n_blocks"] == 2
    assert first["previous_max"] == -np.inf and first["running_max"] == 2.0
    assert first["normaliser"] == pytest.approx(np.exp(-2.0) + 1.0)
    assert first["output"][0] == pytest.approx((np.exp(-2.0) * 1 + 2) / (np.exp(-2.0) + 1))
    assert second["previous_max"] == 2.0 and second["running_max"] == 3.0
    assert second["rescale"] == pytest.approx(np.exp(-1.0))
    e = np.exp(np.array([0.0, 2.0, 1.0, 3.0]) - 3.0)
    assert second["output"][0] == pytest.approx(float(e @ [1, 2, 3, 4] / e.sum()))
    assert second["gap"] < 1e-12


# ---------------------------------------------------------------- bad input, checked at the door
from attn_core.experiments.efficiency import blas_threads  # noqa: E402


def test_blas_threads_checks_its_count_when_called_not_when_the_block_is_entered():
    with pytest.raises(TypeError, match="count must be a whole number"):
        blas_threads("two")  # no `with`: the check does not wait for the block


def test_growth_exponent_passes_nan_through_and_refuses_inf():
    assert np.isnan(growth_exponent([1, 2, 4], [1.0, np.nan, 16.0]))
    with pytest.raises(ValueError, match="values contains inf"):
        growth_exponent([1, 2, 4], [1.0, np.inf, 16.0])


def test_tile_schedule_is_bottom_right_aligned_when_keys_outnumber_queries():
    # 2 queries, 4 keys: query 0 sees keys 0..2, query 1 sees keys 0..3 (as ac.causal_mask(2, 4)).
    # Keys 0-1 are seen by both (full); keys 2-3 by query 1 wholly, by query 0 in part (masked).
    assert tile_schedule(2, 4, block_size=2, causal=True).tolist() == [[TILE_FULL, TILE_MASKED]]


# ------------------------------------------------------------------ the stored benchmark
import importlib.util  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from attn_core.experiments.efficiency import benchmark_ratios, format_benchmark, load_benchmark  # noqa: E402

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "attention_benchmark.py"


def _results(rows, ratios=()):
    return {"command": "python b.py --write", "date": "2026-01-01 00:00 UTC", "machine": "m, 2 cores",
            "numpy": "2", "torch": "2.14", "threads": {"torch": 2, "attn_core workers": 2}, "setup": "float32",
            "implementations": {"tiled": "t", "torch sdpa": "s"}, "rows": rows, "ratios": list(ratios)}


def _row(name, n, rounds, memory=None):
    return {"implementation": name, "n": n, "milliseconds": float(np.median(rounds)), "round_milliseconds": rounds,
            "working_memory_bytes": memory}


def test_format_benchmark_prints_the_label_rows_and_shares_by_hand():
    rows = [_row("tiled", 2048, [10.0, 12.0], 4 * 2**20), _row("torch sdpa", 2048, [5.0, 4.0])]
    ratio = {"label": "tiled / torch sdpa", "n": 2048, "median": 2.5, "min": 2.0, "max": 3.0}
    text = format_benchmark(_results(rows, [ratio]))
    assert text.startswith("measured 2026-01-01 00:00 UTC on m, 2 cores")
    assert "rebuilt by `python b.py --write`" in text
    assert "threads: torch 2, attn_core workers 2" in text
    assert "n = 2048 (one n x n float32 matrix: 16 MiB)" in text
    assert "4.00 MiB =  25.00 % of n x n" in text  # 4 MiB of a 2048^2 x 4 bytes = 16 MiB matrix
    assert "  tiled                 11.0 ms" in text  # the median of 10 and 12
    assert "not traced" in text
    assert text.endswith("tiled / torch sdpa           n = 2048    2.50 (2.00 - 3.00)")
    assert "goal" not in text


def test_benchmark_ratios_are_per_round_ratios_by_hand():
    rows = [_row("tiled", 512, [10.0, 30.0, 20.0]), _row("torch sdpa", 512, [5.0, 10.0, 4.0]),
            _row("tiled", 1024, [8.0]), _row("torch sdpa", 1024, [2.0]), _row("tiled", 2048, [1.0])]
    ratios = benchmark_ratios(_results(rows), "tiled", "torch sdpa")
    assert ratios == {512: (3.0, 2.0, 5.0), 1024: (4.0, 4.0, 4.0)}  # rounds 10/5, 30/10, 20/4; 2048: no sdpa
    # the ratio of the medians (20 / 5 = 4) is not the median of the ratios (3)
    assert benchmark_ratios(_results(rows), "torch sdpa", "tiled")[512] == (1 / 3, 0.2, 0.5)


def test_benchmark_ratios_refuses_bad_names_and_rounds():
    results = _results([_row("tiled", 8, [1.0, 2.0]), _row("torch sdpa", 8, [1.0])])
    with pytest.raises(ValueError, match="numerator must be one of"):
        benchmark_ratios(results, "full", "tiled")
    with pytest.raises(TypeError, match="denominator must be the name"):
        benchmark_ratios(results, "tiled", 3)
    with pytest.raises(ValueError, match="2 and 1 rounds at n = 8"):
        benchmark_ratios(results, "tiled", "torch sdpa")
    with pytest.raises(TypeError, match="results must be"):
        benchmark_ratios([], "tiled", "torch sdpa")


def test_format_benchmark_refuses_a_dict_without_its_keys():
    with pytest.raises(TypeError, match="missing: \\['command'"):
        format_benchmark({k: v for k, v in _results([]).items() if k != "command"})
    with pytest.raises(TypeError, match="results must be"):
        format_benchmark([1, 2])


def test_stored_snapshot_is_labelled_and_compares_with_the_fused_kernel():
    results = load_benchmark()
    assert results["command"].startswith("python benchmarks/attention_benchmark.py")
    assert "--write" in results["command"]
    assert results["machine"] and results["date"].endswith("UTC")
    described = results["implementations"]
    assert "FLASH_ATTENTION" in described["torch sdpa"] and "(1, 8, n, 64)" in described["torch sdpa"]
    for name in ("torch sdpa", "torch sdpa math", "tiled", "tiled causal"):
        assert "output only, no weights" in described[name]
    for name in ("sdpa", "torch matmul", "textbook", "textbook f32"):
        assert "returns output and weights" in described[name]
    assert "max shift" in described["sdpa"]
    measured = {(row["implementation"], row["n"]) for row in results["rows"]}
    assert {n for name, n in measured if name == "tiled"} & {n for name, n in measured if name == "torch sdpa"}
    rounds = {len(row["round_milliseconds"]) for row in results["rows"]}
    assert len(rounds) == 1  # every row timed in the same rounds
    for row in results["rows"]:
        assert min(row["round_milliseconds"]) <= row["milliseconds"] <= max(row["round_milliseconds"])
    for ratio in results["ratios"]:
        assert ratio["min"] <= ratio["median"] <= ratio["max"]
    assert "goal" not in json.dumps(results)
    format_benchmark(results)


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("attention_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_without_torch_at_a_small_size(capsys):
    module = _benchmark_module()
    results = module.main(["--n", "64", "--repeats", "2", "--workers", "2"])
    names = {row["implementation"] for row in results["rows"]}
    assert {"textbook", "sdpa", "tiled", "tiled causal"} <= names
    assert all(len(row["round_milliseconds"]) == 2 and row["milliseconds"] > 0 for row in results["rows"])
    assert results["command"] == "python benchmarks/attention_benchmark.py --n 64 --repeats 2 --workers 2"
    assert {r["label"] for r in results["ratios"]} >= {"tiled causal / tiled", "textbook / textbook f32"}
    assert results["sdpa_max_shift_skipped"] == {"64": True}  # standard normal inputs: the bound holds
    assert "goal" not in module.__doc__
    assert "attn_core workers 2" in capsys.readouterr().out


def test_benchmark_refuses_to_write_on_a_busy_machine(monkeypatch, tmp_path, capsys):
    module = _benchmark_module()
    monkeypatch.setattr(module, "RESULTS", tmp_path / "snapshot.json")
    cores = module.os.cpu_count() or 1
    monkeypatch.setattr(module.os, "getloadavg", lambda: (cores / 2 + 0.5, 0.0, 0.0))
    with pytest.raises(SystemExit) as refused:
        module.main(["--n", "32", "--repeats", "1", "--write"])
    assert refused.value.code == 2 and "--allow-busy" in capsys.readouterr().err
    assert not (tmp_path / "snapshot.json").exists()
    results = module.main(["--n", "32", "--repeats", "1", "--write", "--allow-busy"])
    assert json.loads((tmp_path / "snapshot.json").read_text())["rows"] == results["rows"]
    assert "shared with other work" in results["load"]


def test_format_benchmark_says_how_busy_the_machine_was():
    results = _results([]) | {"load": "5.7 on 2 cores at the start (shared with other work)"}
    assert format_benchmark(results).split("\n")[1] == (
        "load average 5.7 on 2 cores at the start (shared with other work)")


def test_walk_in_every_reading_order_ends_at_attention():
    from attn_core.experiments.efficiency import READING_ORDERS, online_softmax_walk, stepper_inputs

    q, k, v = stepper_inputs()
    scores = ac.scaled_dot_product_scores(q, k)  # (3, 24)
    for order in READING_ORDERS:
        walk = online_softmax_walk(q, k, v, block_size=4, order=order)
        for query, steps in enumerate(walk["steps"]):
            read = [step.block for step in steps]
            assert sorted(read) == list(range(6))
            if order == "reversed":
                assert read == [5, 4, 3, 2, 1, 0]
            if order == "largest first":  # the block holding the row's maximum comes first: no rescale after it
                assert steps[0].running_max == scores[query].max()
                assert all(step.rescale == 1.0 for step in steps[1:])
            np.testing.assert_allclose(steps[-1].output, walk["final_output"][query], atol=1e-12)
    with pytest.raises(ValueError, match="order must be one of"):
        online_softmax_walk(q, k, v, block_size=4, order="random")


def test_stepper_outlier_is_the_first_querys_score_and_overflows_only_without_the_shift():
    from attn_core.experiments.efficiency import online_softmax_walk, stepper_inputs

    q, k, v = stepper_inputs()
    plain_q, plain_k, _ = stepper_inputs(outlier=None)
    np.testing.assert_array_equal(q, plain_q)
    np.testing.assert_array_equal(np.delete(k, 14, axis=0), np.delete(plain_k, 14, axis=0))  # only key 15 moves
    assert float(q[0] @ k[14]) / np.sqrt(8) == pytest.approx(12.0)
    shifted = online_softmax_walk(q, k, v, block_size=4)
    unshifted = online_softmax_walk(q, k, v, block_size=4, shift="none, float16")
    assert all(np.isfinite(step.output).all() for step in shifted["steps"][0])
    # no shift: l = sum of exp(s_j), by hand in float64, until the block of the outlier (index 3)
    scores = ac.scaled_dot_product_scores(q, k)[0]
    for step in unshifted["steps"][0][:3]:
        end = step.keys[1]
        assert step.running_max == 0.0 and step.rescale == 1.0
        np.testing.assert_allclose(step.normaliser, np.exp(scores[:end]).sum(), rtol=2e-3)
    assert [np.isnan(step.output).all() for step in unshifted["steps"][0]] == [False] * 3 + [True] * 3
    # the other queries have no outlier: float16 without a shift stays close to the exact output
    for query in (1, 2):
        np.testing.assert_allclose(unshifted["steps"][query][-1].output, shifted["final_output"][query], atol=2e-2)
    with pytest.raises(ValueError, match="shift must be one of"):
        online_softmax_walk(q, k, v, block_size=4, shift="none")


# ------------------------------------------------------------------------------ the roofline
from attn_core.experiments.efficiency import A100, H100, Accelerator, attainable_flops, ridge_point  # noqa: E402


def test_accelerators_hold_the_datasheet_numbers():
    assert (A100.peak_flops, A100.memory_bandwidth, A100.sram_bytes) == (312e12, 2.039e12, 164 * 1024)
    assert (H100.peak_flops, H100.memory_bandwidth, H100.sram_bytes) == (989.4e12, 3.35e12, 228 * 1024)
    assert "A100" in A100.name and "H100" in H100.name and A100.source and H100.source
    assert (A100.n_sms, H100.n_sms) == (108, 132) and "108 SMs" in A100.source and "132 SMs" in H100.source
    assert Accelerator("toy", 1.0, 1.0, 1, "").n_sms == 1  # five positional arguments still make a chip


def test_ridge_point_by_hand():
    assert ridge_point(A100) == pytest.approx(312 / 2.039)  # 153.0 FLOP per byte
    assert ridge_point(H100) == pytest.approx(989.4 / 3.35)  # 295.3
    assert ridge_point(Accelerator("toy", 100.0, 4.0, 8, "")) == 25.0


def test_roofline_is_bandwidth_times_intensity_then_flat():
    chip = Accelerator("toy", peak_flops=100.0, memory_bandwidth=4.0, sram_bytes=8, source="")
    assert attainable_flops(0.0, chip) == 0.0
    assert attainable_flops(5.0, chip) == 20.0  # memory-bound: 5 FLOP/byte x 4 bytes/s
    assert attainable_flops(25.0, chip) == 100.0  # the ridge
    assert attainable_flops(1e6, chip) == 100.0  # compute-bound
    np.testing.assert_array_equal(attainable_flops([1.0, 50.0], chip), [4.0, 100.0])
    assert np.isnan(attainable_flops(float("nan"), chip))


@pytest.mark.parametrize("call, error, message", [
    (lambda: Accelerator(3, 1.0, 1.0, 1, ""), TypeError, "name"),
    (lambda: Accelerator("x", 0.0, 1.0, 1, ""), ValueError, "peak_flops"),
    (lambda: Accelerator("x", 1.0, float("inf"), 1, ""), ValueError, "memory_bandwidth"),
    (lambda: Accelerator("x", 1.0, 1.0, 1.5, ""), TypeError, "sram_bytes"),
    (lambda: Accelerator("x", 1.0, 1.0, 1, None), TypeError, "source"),
    (lambda: Accelerator("x", 1.0, 1.0, 1, "", n_sms=0), ValueError, "n_sms"),
    (lambda: ridge_point("A100"), TypeError, "accelerator"),
    (lambda: attainable_flops(-1.0, A100), ValueError, "intensity"),
    (lambda: attainable_flops(1.0, None), TypeError, "accelerator"),
])
def test_roofline_refuses_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------- HBM traffic, counted by loops written in the test
from attn_core.experiments.efficiency import (  # noqa: E402
    STATISTIC_BYTES,
    attention_overtakes_at,
    backward_cost,
    hbm_bytes,
    layer_flops,
    sram_block_rows,
)


class Memory:
    """A stand-in for HBM: every load and store of an array adds its size (in numbers of ``itemsize`` bytes)."""

    def __init__(self, itemsize):
        self.itemsize, self.bytes = itemsize, 0

    def load(self, array, statistic=False):
        self.bytes += array.size * (STATISTIC_BYTES if statistic else self.itemsize)
        return np.array(array)

    store = load


def _standard_forward(memory, q, k, v):
    """Algorithm 0 of FlashAttention: three kernels, each through HBM."""
    s = memory.store(memory.load(q) @ memory.load(k).T / np.sqrt(q.shape[1]))
    a = memory.store(ac.softmax(memory.load(s)))
    return memory.store(memory.load(a) @ memory.load(v))


def _tiled_forward(memory, q, k, v, block, mask, key_block=None):
    """Query blocks outside, key blocks inside; a tile whose mask block is all False is not loaded."""
    n, d = q.shape
    key_block = key_block or block
    out = np.zeros_like(q)
    for a in range(0, n, block):
        q_a = memory.load(q[a:a + block]) / np.sqrt(d)
        m, l, acc = np.full((len(q_a), 1), -np.inf), np.zeros((len(q_a), 1)), np.zeros_like(q_a)
        for u in range(0, n, key_block):
            allowed = mask[a:a + block, u:u + key_block]
            if not allowed.any():
                continue
            s = np.where(allowed, q_a @ memory.load(k[u:u + key_block]).T, -np.inf)
            m_new = np.maximum(m, s.max(axis=1, keepdims=True))
            shift = np.where(m_new == -np.inf, 0, m_new)
            p = np.exp(s - shift)
            l = l * np.exp(m - shift) + p.sum(axis=1, keepdims=True)
            acc = acc * np.exp(m - shift) + p @ memory.load(v[u:u + key_block])
            m = m_new
        out[a:a + block] = memory.store(np.divide(acc, l, out=np.zeros_like(acc), where=l != 0))
        memory.store(np.zeros(len(q_a)), statistic=True)  # L_a, for the backward pass
    return out


@pytest.mark.parametrize("n, d, block, itemsize", [(8, 2, 3, 2), (12, 4, 4, 1), (5, 3, 8, 4)])
def test_hbm_bytes_equal_a_counter_in_the_loops(n, d, block, itemsize):
    rng = np.random.default_rng(n)
    q, k, v = rng.standard_normal((3, n, d))
    memory = Memory(itemsize)
    expected, _ = ac.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(_standard_forward(memory, q, k, v), expected, atol=1e-12)
    assert hbm_bytes(n, d, 10**6, "standard", itemsize=itemsize) == memory.bytes
    for causal, window, ids in [(False, None, None), (True, None, None), (True, 2, None),
                                (False, None, np.repeat([0, 1], [n // 2, n - n // 2])), (True, 1, np.repeat([0, 1, 2], [1, n - 3, 2]))]:
        mask = np.ones((n, n), dtype=bool)
        mask &= ac.causal_mask(n) if causal else True
        mask &= ac.sliding_window_mask(n, window=window, causal=causal) if window else True
        mask &= ac.document_mask(ids) if ids is not None else True
        for key_block in (block, 2):  # square tiles, and key blocks of 2 under query blocks of `block`
            memory = Memory(itemsize)
            got = _tiled_forward(memory, q, k, v, block, mask, key_block)
            np.testing.assert_allclose(got, ac.scaled_dot_product_attention(q, k, v, mask=mask)[0], atol=1e-12)
            assert hbm_bytes(n, d, 10**6, "tiled", itemsize=itemsize, block_size=block, causal=causal,
                             window=window, document_ids=ids, key_block_size=key_block) == memory.bytes


def test_hbm_bytes_without_a_mask_depend_on_the_query_block_only():
    """K and V are read once per query block, however the keys are cut: the key block can stay small."""
    for key_block in (1, 16, 64, 328, 4096):
        assert hbm_bytes(4096, 64, 1, "tiled", block_size=328, key_block_size=key_block) == hbm_bytes(
            4096, 64, 1, "tiled", block_size=328)
    by_hand = (2 * 4096 * 64 + 2 * 4096 * 64 * 13) * 2 + 4096 * 4  # ceil(4096 / 328) = 13 query blocks
    assert hbm_bytes(4096, 64, 1, "tiled", block_size=328, key_block_size=64) == by_hand
    assert hbm_bytes(4096, 64, 1, "tiled", block_size=128) > by_hand  # smaller query blocks: more re-reads


def test_tile_schedule_with_its_own_key_block_matches_a_dense_mask():
    n_q, n_k, block, key_block = 6, 10, 4, 3
    mask = ac.causal_mask(n_q, n_k) & ac.sliding_window_mask(n_k, window=4, causal=True)[-n_q:]
    kinds = tile_schedule(n_q, n_k, block_size=block, key_block_size=key_block, causal=True, window=4)
    assert kinds.shape == (2, 4)
    for a in range(2):
        for u in range(4):
            cells = mask[a * block:(a + 1) * block, u * key_block:(u + 1) * key_block]
            assert kinds[a, u] == (TILE_FULL if cells.all() else TILE_MASKED if cells.any() else TILE_SKIPPED)


def test_tiled_traffic_is_theorem_2s_n2_d2_over_m():
    """With b = M / (4 d) dividing n, K and V are read n / b times: 8 n^2 d^2 / M numbers."""
    n, d, itemsize, sram = 2**14, 64, 2, 2**17
    numbers = sram // itemsize  # M = 65,536 numbers
    assert sram_block_rows(d, sram, itemsize=itemsize) == numbers // (4 * d) == 256
    assert hbm_bytes(n, d, sram, "tiled", itemsize=itemsize) == (
        (8 * n**2 * d**2 // numbers + 2 * n * d) * itemsize + n * STATISTIC_BYTES)
    assert hbm_bytes(n, d, sram, "standard", itemsize=itemsize) == (4 * n * n + 4 * n * d) * itemsize
    doubled = hbm_bytes(n, d, 2 * sram, "tiled", itemsize=itemsize) - (2 * n * d * itemsize + n * STATISTIC_BYTES)
    single = hbm_bytes(n, d, sram, "tiled", itemsize=itemsize) - (2 * n * d * itemsize + n * STATISTIC_BYTES)
    assert 2 * doubled == single  # twice the SRAM, half the re-reads


def test_sram_block_rows_by_hand():
    assert sram_block_rows(64, 164 * 1024) == 328  # 167,936 / 512
    assert sram_block_rows(128, 1024, itemsize=4, blocks=7) == 1  # never below one row
    assert sram_block_rows(2, 100, itemsize=1, blocks=5) == 10


def _recompute_backward(memory, q, k, v, out, log_sum_exp, grad_out, block):
    """tiled_attention_backward's loops (key blocks outside), every HBM access counted."""
    n, d = q.shape
    scale = 1 / np.sqrt(d)
    delta = memory.store((memory.load(grad_out) * memory.load(out)).sum(axis=1), statistic=True)
    grad_q, grad_k, grad_v = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for u in range(0, n, block):
        k_u, v_u = memory.load(k[u:u + block]), memory.load(v[u:u + block])
        dk_u, dv_u = np.zeros_like(k_u), np.zeros_like(v_u)
        for a in range(0, n, block):
            q_a, g_a = memory.load(q[a:a + block]), memory.load(grad_out[a:a + block])
            l_a, delta_a = memory.load(log_sum_exp[a:a + block], True), memory.load(delta[a:a + block], True)
            p = np.exp(q_a @ k_u.T * scale - l_a[:, None])
            dv_u += p.T @ g_a
            ds = p * (g_a @ v_u.T - delta_a[:, None]) * scale
            grad_q[a:a + block] = memory.store(memory.load(grad_q[a:a + block]) + ds @ k_u)
            dk_u += ds.T @ q_a
        grad_k[u:u + block], grad_v[u:u + block] = memory.store(dk_u), memory.store(dv_u)
    return grad_q, grad_k, grad_v


def _standard_backward(memory, q, k, v, weights, grad_out):
    """Algorithm 3 of FlashAttention (its appendix B): five kernels through HBM, A stored by the forward pass."""
    scale = 1 / np.sqrt(q.shape[1])
    grad_v = memory.store(memory.load(weights).T @ memory.load(grad_out))
    grad_weights = memory.store(memory.load(grad_out) @ memory.load(v).T)
    a, da = memory.load(weights), memory.load(grad_weights)
    grad_scores = memory.store(a * (da - (a * da).sum(axis=1, keepdims=True)) * scale)
    grad_q = memory.store(memory.load(grad_scores) @ memory.load(k))
    grad_k = memory.store(memory.load(grad_scores).T @ memory.load(q))
    return grad_q, grad_k, grad_v


@pytest.mark.parametrize("n, d, block, itemsize", [(8, 2, 3, 2), (12, 4, 4, 1), (6, 3, 6, 4)])
def test_backward_cost_equals_a_counter_in_the_loops(n, d, block, itemsize):
    rng = np.random.default_rng(n)
    q, k, v, grad_out = rng.standard_normal((4, n, d))
    out, weights = ac.scaled_dot_product_attention(q, k, v)
    scores = q @ k.T / np.sqrt(d)
    log_sum_exp = np.log(np.exp(scores).sum(axis=1))
    expected = ac.scaled_dot_product_attention_backward(q, k, v, weights, grad_out)
    for method, run in [("standard", lambda m: _standard_backward(m, q, k, v, weights, grad_out)),
                        ("recompute", lambda m: _recompute_backward(m, q, k, v, out, log_sum_exp, grad_out, block))]:
        memory = Memory(itemsize)
        for got, want in zip(run(memory), expected, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-12)
        cost = backward_cost(n, d, 10**6, method, itemsize=itemsize, block_size=block)
        assert cost.hbm_bytes == memory.bytes, method
    standard, recompute = (backward_cost(n, d, 10**6, m, block_size=block) for m in ("standard", "recompute"))
    assert (standard.multiply_adds, recompute.multiply_adds) == (4 * n * n * d, 5 * n * n * d)  # S computed again
    assert (standard.exponentials, recompute.exponentials) == (0, n * n)
    assert (standard.saved_bytes, recompute.saved_bytes) == (n * n * 2, n * STATISTIC_BYTES)  # A, or L


@pytest.mark.parametrize("h, kv_heads, expansion, matrices", [(2, None, 4, 2), (4, 2, 2.5, 3), (4, 1, 4, 2)])
def test_layer_flops_equal_a_counted_numpy_layer(h, kv_heads, expansion, matrices):
    """Count the multiply-adds of every product in a tiny layer (h query heads, grouped keys and values, a gated
    MLP) written out here."""
    n, d = 6, 8
    groups = kv_heads or h
    hidden_width = int(expansion * d)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d))
    counted = {"projections": 0, "mlp": 0, "scores": 0, "weighted_values": 0}

    def product(a, b, part, pairs=None):
        """a @ b, counting a.rows x a.cols x b.cols multiply-adds, or pairs x width for attention's products."""
        width = a.shape[1] if part == "scores" else b.shape[1]
        counted[part] += a.shape[0] * a.shape[1] * b.shape[1] if pairs is None else pairs * width
        return a @ b

    for causal in (False, True):
        counted = dict.fromkeys(counted, 0)
        allowed = ac.causal_mask(n) if causal else np.ones((n, n), dtype=bool)
        d_head = d // h
        q = product(x, rng.standard_normal((d, d)), "projections")
        k, v = (product(x, rng.standard_normal((d, groups * d_head)), "projections") for _ in range(2))
        heads = []
        for j in range(h):
            part = slice(j * d_head, (j + 1) * d_head)
            shared = slice((j // (h // groups)) * d_head, (j // (h // groups) + 1) * d_head)  # its key/value head
            scores = product(q[:, part], k[:, shared].T, "scores", pairs=allowed.sum())  # only the allowed pairs
            weights = ac.softmax(np.where(allowed, scores, -np.inf))
            heads.append(product(weights, v[:, shared], "weighted_values", pairs=allowed.sum()))  # skipped: 0
        o = product(np.concatenate(heads, axis=1), rng.standard_normal((d, d)), "projections")
        hidden = product(o, rng.standard_normal((d, hidden_width)), "mlp")
        if matrices == 3:  # gated: a second matrix up, multiplied elementwise
            hidden = hidden * product(o, rng.standard_normal((d, hidden_width)), "mlp")
        product(np.maximum(hidden, 0), rng.standard_normal((hidden_width, d)), "mlp")
        grouping = {} if kv_heads is None else {"n_heads": h, "n_kv_heads": kv_heads}
        flops = layer_flops(n, d, causal=causal, mlp_expansion=expansion, mlp_matrices=matrices, **grouping)
        assert (flops.projections, flops.mlp, flops.scores, flops.weighted_values) == tuple(
            2 * counted[part] for part in ("projections", "mlp", "scores", "weighted_values"))
        assert flops.total == flops.projections + flops.mlp + flops.attention


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("d, expansion", [(8, 4), (5, 3), (12, 4)])
def test_attention_overtakes_at_the_first_n_a_loop_finds(causal, d, expansion):
    def attention_wins(n):
        f = layer_flops(n, d, causal=causal, mlp_expansion=expansion)
        return f.attention >= f.projections + f.mlp

    n = 1
    while not attention_wins(n):
        n += 1
    assert attention_overtakes_at(d, causal=causal, mlp_expansion=expansion) == n
    assert n == ((4 + 2 * expansion) * d - 1 if causal else (2 + expansion) * d)  # 12 d - 1 and 6 d for e = 4


def test_grouped_heads_and_a_gated_mlp_move_the_crossover_of_llama_2_70b():
    """d = 8192, 64 query heads sharing 8 key/value heads, three MLP matrices of width 28,672 (3.5 d):
    per token 2 d^2 + d^2 / 4 + 10.5 d^2 = 12.75 d^2 multiply-adds, so n + 1 >= 12.75 d = 104,448."""
    llama = {"n_heads": 64, "n_kv_heads": 8, "mlp_matrices": 3, "mlp_expansion": 3.5}
    assert attention_overtakes_at(8192, causal=True, **llama) == 104_447
    below, at = (layer_flops(n, 8192, causal=True, **llama) for n in (104_446, 104_447))
    assert below.attention < below.projections + below.mlp and at.attention >= at.projections + at.mlp
    assert layer_flops(1, 8192, **llama).projections == 2 * (2 + 2 / 8) * 8192**2


@pytest.mark.parametrize("call, error, message", [
    (lambda: hbm_bytes(8, 2, 64, "flash"), ValueError, "method"),
    (lambda: hbm_bytes(0, 2, 64), ValueError, "n must be"),
    (lambda: hbm_bytes(8, 2, 64, "tiled", block_size=0), ValueError, "block_size"),
    (lambda: backward_cost(8, 2, 64, "tiled"), ValueError, "method"),
    (lambda: sram_block_rows(2, 0), ValueError, "sram_bytes"),
    (lambda: layer_flops(4, 2, causal=1), TypeError, "causal"),
    (lambda: attention_overtakes_at(0), ValueError, "d_model"),
    (lambda: layer_flops(4, 8, n_heads=2), ValueError, "n_kv_heads"),
    (lambda: layer_flops(4, 8, n_heads=3, n_kv_heads=1), ValueError, "divide"),
    (lambda: layer_flops(4, 3, mlp_expansion=0.5), ValueError, "whole number"),
    (lambda: layer_flops(4, 3, mlp_matrices=0), ValueError, "mlp_matrices"),
    (lambda: hbm_bytes(8, 2, 64, "tiled", key_block_size=0), ValueError, "key_block_size"),
])
def test_counts_refuse_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_allowed_pairs_equal_the_dense_mask():
    from attn_core.experiments.efficiency import allowed_pairs

    ids = np.repeat([0, 1, 2], [3, 6, 2])
    for causal, window, documents in [(False, None, None), (True, None, None), (True, 3, None), (False, 2, ids),
                                      (True, None, ids), (True, 1, ids)]:
        mask = np.ones((11, 11), dtype=bool)
        mask &= ac.causal_mask(11) if causal else True
        mask &= ac.sliding_window_mask(11, window=window, causal=causal) if window else True
        mask &= ac.document_mask(documents) if documents is not None else True
        assert allowed_pairs(11, 11, causal=causal, window=window, document_ids=documents) == mask.sum()
    assert allowed_pairs(3, 8, causal=True) == 6 + 7 + 8  # the last three positions, bottom-right
