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
