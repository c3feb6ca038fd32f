"""Counting and measuring what attention costs (chapter 11).

Full attention does ``n_q * n_k`` dot products and, as usually written, keeps an
``n_q x n_k`` matrix of scores. The functions here count that cost, lay out the tiles that
:func:`attn_core.tiled_attention` visits, and measure time and working memory of any
attention function, so that a chapter's tables and curves come from one place.
"""

from __future__ import annotations

import contextlib
import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, nonnegative_int, positive_int

__all__ = [
    "AttentionCost",
    "attention_cost",
    "TILE_SKIPPED",
    "TILE_MASKED",
    "TILE_FULL",
    "tile_schedule",
    "Measurement",
    "time_and_peak_memory",
    "growth_exponent",
    "set_blas_threads",
    "blas_threads",
]

#: Codes of :func:`tile_schedule`: a tile never computed, one computed with part of it
#: masked (it crosses the diagonal), one computed whole.
TILE_SKIPPED, TILE_MASKED, TILE_FULL = 0, 1, 2


@dataclass(frozen=True)
class AttentionCost:
    """What one head of full attention costs for one sequence, counted (not measured)."""

    multiply_adds: int  # n_q n_k d_k for Q K^T plus n_q n_k d_v for A V
    exponentials: int  # n_q n_k: one per score
    score_bytes: int  # one n_q x n_k matrix of scores (the weights are another)
    input_output_bytes: int  # Q, K, V and the output O


def attention_cost(n_q: int, n_k: int, d_k: int, d_v: int | None = None, *, itemsize: int = 4) -> AttentionCost:
    r"""Count the arithmetic and the memory of full attention for one head of one sequence.

    .. math:: \text{multiply-adds} = n_q n_k (d_k + d_v), \qquad
              \text{score bytes} = n_q n_k \cdot \text{itemsize}

    Parameters
    ----------
    n_q, n_k : int
        Numbers of queries and of keys.
    d_k : int
        Width of queries and keys.
    d_v : int, optional
        Width of values; default ``d_k``.
    itemsize : int, default 4
        Bytes per number (4 for float32, 8 for float64).

    Returns
    -------
    AttentionCost

    Raises
    ------
    TypeError, ValueError
        An argument that is not a whole number >= 1.

    Examples
    --------
    >>> cost = attention_cost(1024, 1024, 64)
    >>> cost.multiply_adds, cost.score_bytes // 2**20, cost.input_output_bytes // 2**20
    (134217728, 4, 1)
    """
    n_q, n_k = positive_int(n_q, "n_q"), positive_int(n_k, "n_k")
    d_k = positive_int(d_k, "d_k")
    d_v = d_k if d_v is None else positive_int(d_v, "d_v")
    itemsize = positive_int(itemsize, "itemsize")
    return AttentionCost(
        multiply_adds=n_q * n_k * (d_k + d_v),
        exponentials=n_q * n_k,
        score_bytes=n_q * n_k * itemsize,
        input_output_bytes=(n_q * d_k + n_k * d_k + n_k * d_v + n_q * d_v) * itemsize,
    )


def tile_schedule(n_q: int, n_k: int, *, block_size: int, causal: bool = False) -> np.ndarray:
    """Which tiles of the ``n_q x n_k`` scores tiled attention computes.

    The queries are cut into blocks of ``block_size`` rows and the keys into blocks of
    ``block_size`` columns (the last block of each may be shorter). Tile ``(a, b)`` pairs
    query block ``a`` with key block ``b``. Without a causal mask every tile is computed
    whole. With one (query ``i`` sees key ``j`` only if ``j <= i + n_k - n_q``, the
    bottom-right alignment of :func:`attn_core.causal_mask`), a tile whose keys all
    come after its queries is skipped, a tile that crosses the diagonal is computed with
    its future cells masked, and the rest are computed whole:
    :func:`attn_core.tiled_attention` visits exactly the tiles that are not skipped.

    Parameters
    ----------
    n_q, n_k : int
    block_size : int
    causal : bool, default False

    Returns
    -------
    ndarray of int, shape (ceil(n_q / block_size), ceil(n_k / block_size))
        :data:`TILE_SKIPPED` (0), :data:`TILE_MASKED` (1) or :data:`TILE_FULL` (2).

    Raises
    ------
    TypeError, ValueError
        Sizes that are not whole numbers >= 1; ``causal`` not a boolean.

    Examples
    --------
    >>> tile_schedule(8, 8, block_size=2, causal=True)
    array([[1, 0, 0, 0],
           [2, 1, 0, 0],
           [2, 2, 1, 0],
           [2, 2, 2, 1]])
    """
    n_q, n_k = positive_int(n_q, "n_q"), positive_int(n_k, "n_k")
    block = positive_int(block_size, "block_size")
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be True or False, got {causal!r:.40}")
    q_first = np.arange(0, n_q, block)  # first query of each block
    q_last = np.minimum(q_first + block, n_q) - 1  # last query of each block
    k_first = np.arange(0, n_k, block)
    k_last = np.minimum(k_first + block, n_k) - 1
    kinds = np.full((q_first.size, k_first.size), TILE_FULL)  # (query blocks, key blocks)
    if causal:  # bottom-right, as attn_core.causal_mask: query i sees key j iff j <= i + n_k - n_q
        shift = n_k - n_q
        partly_future = k_last[None, :] > q_first[:, None] + shift  # some key after some query
        all_future = k_first[None, :] > q_last[:, None] + shift  # every key after every query
        kinds[partly_future] = TILE_MASKED
        kinds[all_future] = TILE_SKIPPED
    return kinds


@dataclass(frozen=True)
class Measurement:
    """Time and working memory of one function call, measured."""

    seconds: float  # processor time of the fastest timed run
    peak_bytes: int  # tracemalloc's peak during one call, minus the arrays it returned


def _result_bytes(result: Any) -> int:
    arrays = result if isinstance(result, (tuple, list)) else (result,)
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def time_and_peak_memory(
    fn: Callable[..., Any], *args: Any, repeats: int = 3, clock: Callable[[], float] = time.process_time
) -> Measurement:
    """Measure ``fn(*args)``: the fastest of ``repeats`` timed runs, and the working memory of one.

    One warm-up call comes first. Time is read from ``clock``, by default
    ``time.process_time``: the processor time this process used, which other programs
    sharing the processor do not inflate as they inflate wall-clock time. (With a
    multi-threaded matrix library it adds up the time of all threads, waiting included; run
    it on one thread, e.g. ``OPENBLAS_NUM_THREADS=1``, for the cost of the work itself.) Of
    the timed runs the fastest is kept, the one least disturbed by anything else. The memory is the peak that Python's ``tracemalloc``
    sees during one more call (numpy reports its array allocations to it), minus the bytes
    of the arrays the call returns: what the computation needed on top of its answer.
    Memory allocated outside numpy and Python (a BLAS library's own buffers) is not seen.

    Parameters
    ----------
    fn : callable
    *args
        Passed to ``fn``.
    repeats : int, default 3
    clock : callable, default ``time.process_time``
        Returns seconds; ``time.perf_counter`` for wall-clock time.

    Returns
    -------
    Measurement

    Examples
    --------
    >>> m = time_and_peak_memory(lambda n: np.ones((n, n)).sum(), 500)
    >>> m.seconds > 0, m.peak_bytes >= 500 * 500 * 8
    (True, True)
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {fn!r:.40}")
    if not callable(clock):
        raise TypeError(f"clock must be a function returning seconds, got {clock!r:.40}")
    repeats = positive_int(repeats, "repeats")
    fn(*args)  # warm-up
    gc.collect()  # once: a full collection costs tens of milliseconds in a busy kernel
    was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: no collection in the middle of a timed run
    try:
        times = []
        for _ in range(repeats):
            start = clock()
            fn(*args)
            times.append(clock() - start)
    finally:
        if was_enabled:
            gc.enable()
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
    else:
        tracemalloc.start()
        before = 0
    try:
        result = fn(*args)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return Measurement(seconds=min(times), peak_bytes=max(0, peak - _result_bytes(result)))


def growth_exponent(n: ArrayLike, values: ArrayLike) -> float:
    r"""The slope of ``log(values)`` against ``log(n)``: ``p`` in ``values ~ c n^p``.

    A straight line on a log-log plot has this slope; a cost that grows like :math:`n^2`
    has slope 2, one that does not grow at all slope 0. Fitted by least squares.

    Parameters
    ----------
    n : array_like, shape (m,)
        Positive sizes, at least two different ones.
    values : array_like, shape (m,)
        Positive measurements.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        Non-numeric or infinite input, shapes differ, fewer than two distinct sizes, or a
        value that is not positive. A NaN gives NaN.

    Examples
    --------
    >>> round(growth_exponent([1, 2, 4, 8], [3, 12, 48, 192]), 6)
    2.0
    """
    n = as_float_array(n, "n", min_ndim=1, max_ndim=1, finite=True)
    values = as_float_array(values, "values", min_ndim=1, max_ndim=1, finite=True)
    if n.shape != values.shape:
        raise ValueError(f"n and values must be vectors of the same length, got {n.shape} and {values.shape}")
    if np.isnan(n).any() or np.isnan(values).any():
        return float("nan")  # NaN in, NaN out
    if np.unique(n).size < 2:
        raise ValueError("n must hold at least two different sizes to fit a slope")
    if not (np.all(n > 0) and np.all(values > 0)):
        raise ValueError("n and values must be > 0 to take logarithms")
    slope, _ = np.polyfit(np.log(n), np.log(values), 1)
    return float(slope)


def set_blas_threads(count: int) -> int | None:
    """Make numpy's matrix products use ``count`` threads; return the previous count.

    numpy hands its matrix products to a BLAS library, usually OpenBLAS, which uses every
    core it finds. On a machine whose cores are busy with other programs its threads wait
    for one another, and many small products (as in tiled attention) can become many times
    slower; one thread makes timings steadier and processor time a measure of the work
    alone. Where the library is not OpenBLAS, or cannot be found, nothing changes and the
    function returns None. (The thread count is set with threadpoolctl.)

    Parameters
    ----------
    count : int
        Threads to use, >= 1.

    Returns
    -------
    int or None
        The thread count before the call, or None if it could not be set.

    Examples
    --------
    >>> previous = set_blas_threads(1)
    >>> float((np.ones((50, 50)) @ np.ones((50, 50)))[0, 0])
    50.0
    >>> _ = set_blas_threads(previous) if previous else None
    """
    count = positive_int(count, "count")
    from threadpoolctl import threadpool_info, threadpool_limits

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    if not blas:
        return None
    before = int(blas[0]["num_threads"])
    threadpool_limits(limits=count, user_api="blas")
    return before


def blas_threads(count: int) -> contextlib.AbstractContextManager[bool]:
    """Run numpy's matrix products on ``count`` threads inside a ``with`` block (see
    :func:`set_blas_threads`); the previous count comes back on leaving it.

    ``count`` is checked when the function is called, not when the block is entered.

    Yields
    ------
    bool
        True if the thread count was set, False if the library offers no control.

    Raises
    ------
    TypeError, ValueError
        ``count`` not a whole number >= 1.

    Examples
    --------
    >>> with blas_threads(1) as done:
    ...     product = np.ones((50, 50)) @ np.ones((50, 50))
    >>> float(product[0, 0])
    50.0
    """
    return _blas_threads(positive_int(count, "count"))


@contextlib.contextmanager
def _blas_threads(count: int) -> Iterator[bool]:
    """The context manager of :func:`blas_threads`, for a checked ``count``."""
    before = set_blas_threads(count)
    try:
        yield before is not None
    finally:
        if before is not None:
            set_blas_threads(before)


# ------------------------------------------------------------- inputs of the online-softmax stepper
__all__ += ["STEPPER_SEED", "stepper_inputs"]

#: Seed of the explorer's default queries, keys and values (not the chapter's seed 0).
STEPPER_SEED = 11


def stepper_inputs(
    n_q: int = 3, n_k: int = 24, d_k: int = 8, d_v: int = 3, *, seed: int = STEPPER_SEED,
    outlier: float | None = 12.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The explorer's default queries ``(n_q, d_k)``, keys ``(n_k, d_k)`` and values ``(n_k, d_v)``.

    Queries are drawn twice as long as keys, so that the scores spread over a few units and
    the running maximum visibly jumps. With ``outlier``, key ``j = 7 n_k // 12`` (0-based:
    key 15 of 24, in the fourth of six blocks of four) is replaced by a multiple of the first
    query, so that the first query's score for it, ``q_0 . k_j / sqrt(d_k)``, is exactly
    ``outlier``: the default 12 is above 11.09, where ``exp`` overflows in float16.

    Parameters
    ----------
    n_q, n_k, d_k, d_v : int
        Numbers of queries and keys, widths of keys and values.
    seed : int, default STEPPER_SEED
    outlier : float or None, default 12.0
        The first query's score for key ``7 n_k // 12``; None keeps the drawn key.

    Returns
    -------
    q, k, v : ndarray

    Raises
    ------
    TypeError, ValueError
        Sizes that are not whole numbers >= 1, a negative seed, an ``outlier`` that is not a
        finite number.

    Examples
    --------
    >>> q, k, v = stepper_inputs()
    >>> [a.shape for a in (q, k, v)], round(float(q[0] @ k[14]) / 8 ** 0.5, 12)
    ([(3, 8), (24, 8), (24, 3)], 12.0)
    """
    n_q, n_k = positive_int(n_q, "n_q"), positive_int(n_k, "n_k")
    d_k, d_v = positive_int(d_k, "d_k"), positive_int(d_v, "d_v")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    if outlier is not None:
        outlier = float(as_float_array(outlier, "outlier", max_ndim=0, finite=True))
        if np.isnan(outlier):
            raise ValueError("outlier must be a finite number or None, got nan")
    q = 2.0 * rng.standard_normal((n_q, d_k))  # (n_q, d_k)
    k = rng.standard_normal((n_k, d_k))  # (n_k, d_k)
    v = rng.standard_normal((n_k, d_v))  # (n_k, d_v)
    if outlier is not None:
        k[7 * n_k // 12] = q[0] * (outlier * d_k ** 0.5 / (q[0] @ q[0]))  # (d_k,): q_0 . k_j / sqrt(d_k) = outlier
    return q, k, v


# ------------------------------------------------------ the online softmax, block by block, per query
from attn_core._checks import choice, index_in  # noqa: E402
from attn_core.attention import scaled_dot_product_attention  # noqa: E402
from attn_core.scores import scaled_dot_product_scores  # noqa: E402
from attn_core.tiled import OnlineSoftmaxStep, online_softmax_steps  # noqa: E402

__all__ += ["READING_ORDERS", "SHIFTS", "online_softmax_walk", "online_softmax_state"]

#: The orders in which :func:`online_softmax_walk` can read the key blocks: left to right, right
#: to left, or each query's blocks by their largest score, highest first.
READING_ORDERS = ("in order", "reversed", "largest first")

#: How :func:`online_softmax_walk` keeps its sums: relative to the running maximum (exact, float64),
#: or with no shift at all, ``sum exp(s_j)``, in float16, where ``exp`` overflows above 11.09.
SHIFTS = ("running max", "none, float16")


def _unshifted_steps(s: np.ndarray, v: np.ndarray, block: int, blocks: list[int]) -> list[OnlineSoftmaxStep]:
    """The online softmax with no shift, in float16: ``l = sum exp(s_j)``, ``acc = sum exp(s_j) v_j``.

    An exponential above 65,504 is ``inf``; ``inf / inf`` and ``inf - inf`` are NaN, and NaN stays.
    ``running_max`` is reported as 0 (the sums are taken relative to 0) and ``rescale`` as 1.
    """
    s16, v16 = s.astype(np.float16), v.astype(np.float16)
    l, acc = np.float16(0.0), np.zeros(v.shape[1], dtype=np.float16)
    steps = []
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is the point
        for b in blocks:
            start, end = b * block, min(b * block + block, s.size)
            p = np.exp(s16[start:end])  # (block,) float16: no shift
            l = np.float16(l + p.sum(dtype=np.float16))
            acc = (acc + p @ v16[start:end]).astype(np.float16)  # (d_v,)
            steps.append(OnlineSoftmaxStep(b, (start, end), 0.0, float(l), (acc / l).astype(float), 1.0))
    return steps


def online_softmax_walk(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, *, block_size: int, order: str = "in order",
    shift: str = "running max",
) -> dict:
    """Every query's online softmax over the key blocks, and the exact attention output to compare.

    Parameters
    ----------
    q, k, v : array_like, shapes (n_q, d_k), (n_k, d_k), (n_k, d_v)
    block_size : int
        Keys per block.
    order : {"in order", "reversed", "largest first"}, default "in order"
        The order the blocks are read in (:data:`READING_ORDERS`); "largest first" reads
        each query's blocks by their largest score, highest first, so that the running
        maximum is found at once and never rescales.
    shift : {"running max", "none, float16"}, default "running max"
        :data:`SHIFTS`: the online softmax of {eq}`eq-efficiency-update` in float64, or sums
        of ``exp(s_j)`` with no shift in float16 (``running_max`` reported as 0, ``rescale``
        as 1), where one score above 11.09 overflows and the output becomes NaN.

    Returns
    -------
    dict
        ``scores`` (n_q, n_k), ``steps`` (for each query, the list of
        :class:`attn_core.tiled.OnlineSoftmaxStep` after each block, in reading order),
        ``final_output`` (n_q, d_v) (:func:`attn_core.scaled_dot_product_attention`),
        ``n_blocks``, ``order``, ``shift``.

    Raises
    ------
    ValueError
        ``q``, ``k``, ``v`` that do not fit together or are not matrices; ``block_size`` < 1;
        an ``order`` not in :data:`READING_ORDERS`, a ``shift`` not in :data:`SHIFTS`.

    Examples
    --------
    >>> q, k, v = stepper_inputs(2, 6, 4, 3)
    >>> walk = online_softmax_walk(q, k, v, block_size=4)
    >>> walk["n_blocks"], len(walk["steps"]), bool(np.allclose(walk["steps"][1][-1].output, walk["final_output"][1]))
    (2, 2, True)
    >>> q, k, v = stepper_inputs(1, 8, 4, 3)  # query 0 scores key 5 at 12: exp(12) > 65,504
    >>> walk = online_softmax_walk(q, k, v, block_size=4, shift="none, float16")
    >>> [bool(np.isnan(step.output).any()) for step in walk["steps"][0]]
    [False, True]
    """
    block_size = positive_int(block_size, "block_size")
    order = choice(order, READING_ORDERS, "order")
    shift = choice(shift, SHIFTS, "shift")
    final_output, _ = scaled_dot_product_attention(q, k, v)  # (n_q, d_v); checks q, k, v
    if final_output.ndim != 2:
        raise ValueError(f"q, k and v must be one sequence each (matrices), got q of shape {np.shape(q)}")
    scores = scaled_dot_product_scores(q, k)  # (n_q, n_k)
    n_blocks = -(-scores.shape[1] // block_size)
    steps = []
    for row in scores:
        if order == "in order":
            blocks = np.arange(n_blocks)
        elif order == "reversed":
            blocks = np.arange(n_blocks)[::-1]
        else:  # largest first: each block's best score, highest first (ties: the earlier block)
            best = np.array([row[b * block_size:(b + 1) * block_size].max() for b in range(n_blocks)])
            blocks = np.argsort(-best, kind="stable")
        if shift == "running max":
            steps.append(list(online_softmax_steps(row, v, block_size=block_size, order=blocks)))
        else:
            steps.append(_unshifted_steps(row, np.asarray(v, dtype=float), block_size, [int(b) for b in blocks]))
    return {"scores": scores, "steps": steps, "final_output": final_output, "n_blocks": n_blocks, "order": order,
            "shift": shift}


def online_softmax_state(walk: dict, query: int, block: int) -> dict:
    """Where the online softmax of ``query`` stands after reading key block ``block`` (0-based).

    Parameters
    ----------
    walk : dict
        What :func:`online_softmax_walk` returned.
    query, block : int

    Returns
    -------
    dict
        ``query``, ``block`` (how many blocks were read before this one), ``n_blocks``, ``n_k``,
        ``keys`` (the [start, end) of the block just read), ``read`` (the key blocks read so
        far, in reading order), ``order``, ``shift``,
        ``scores`` (n_k,), ``running_max``, ``previous_max`` (-inf before the first block),
        ``normaliser``, ``rescale``, ``output`` and ``final_output`` (d_v,), and ``gap`` (the
        largest absolute difference of the two outputs).

    Raises
    ------
    TypeError
        ``walk`` is not what :func:`online_softmax_walk` returns.
    ValueError
        ``query`` or ``block`` out of range.

    Examples
    --------
    >>> walk = online_softmax_walk(*stepper_inputs(1, 8, 4, 2), block_size=4)
    >>> online_softmax_state(walk, 0, 0)["keys"], round(online_softmax_state(walk, 0, 1)["gap"], 12)
    ((0, 4), 0.0)
    """
    if not isinstance(walk, dict) or not {"steps", "scores", "final_output", "n_blocks"} <= set(walk):
        raise TypeError(f"walk must be what online_softmax_walk returns, got {type(walk).__name__}")
    query = index_in(query, len(walk["steps"]), "query", "query")
    block = index_in(block, walk["n_blocks"], "block", "block")
    step = walk["steps"][query][block]
    previous = walk["steps"][query][block - 1].running_max if block > 0 else -np.inf
    final = walk["final_output"][query]
    return {"query": query, "block": block, "n_blocks": walk["n_blocks"], "n_k": walk["scores"].shape[1],
            "keys": step.keys, "read": [st.block for st in walk["steps"][query][:block + 1]],
            "order": walk.get("order", "in order"), "shift": walk.get("shift", "running max"), "scores": walk["scores"][query], "running_max": step.running_max,
            "previous_max": previous, "normaliser": step.normaliser, "rescale": step.rescale,
            "output": step.output, "final_output": final, "gap": float(np.abs(step.output - final).max())}


# ------------------------------------------------------------ the stored benchmark, as a table
import json  # noqa: E402
from importlib import resources  # noqa: E402

__all__ += ["load_benchmark", "format_benchmark", "benchmark_ratios", "BENCHMARK_COMPARISONS"]

#: The time ratios the benchmark prints at every ``n``: (numerator, denominator) row names.
BENCHMARK_COMPARISONS = (
    ("torch sdpa math", "torch sdpa"),  # PyTorch's unfused path against its fused kernel
    ("tiled", "torch sdpa"),  # our loop against the fused kernel: both return the output only
    ("tiled causal", "tiled"),  # the causal tiles skipped
    ("sdpa", "torch matmul"),  # both return the output and the weights
    ("textbook", "textbook f32"),  # the float64 trap of np.sqrt(d)
)


def load_benchmark() -> dict:
    """The stored run of ``benchmarks/attention_benchmark.py --write``: attn_core against PyTorch.

    Read from ``attn_core/experiments/results/attention_benchmark.json``, which the
    benchmark writes (installed with the package, so a chapter can print it anywhere).

    Returns
    -------
    dict
        The keys :func:`format_benchmark` describes.

    Raises
    ------
    FileNotFoundError
        The benchmark has not been stored.

    Examples
    --------
    >>> sorted(load_benchmark())[:3]
    ['command', 'date', 'implementations']
    """
    with resources.files("attn_core.experiments").joinpath("results", "attention_benchmark.json").open(
            "r", encoding="utf-8") as handle:
        return json.load(handle)


_BENCHMARK_KEYS = {"command", "date", "machine", "numpy", "torch", "threads", "setup", "implementations",
                   "rows", "ratios"}


def _check_results(results: Any) -> None:
    if not isinstance(results, dict) or not _BENCHMARK_KEYS <= set(results):
        missing = sorted(_BENCHMARK_KEYS - set(results)) if isinstance(results, dict) else "everything"
        raise TypeError(f"results must be the benchmark's stored dict; missing: {missing}")


def benchmark_ratios(results: dict, numerator: str, denominator: str) -> dict[int, tuple[float, float, float]]:
    """Time of one benchmark row over another's, round by round, at every ``n`` both were run at.

    Every round of the benchmark runs each implementation once, in turn, so the two times
    of one round saw the same state of the machine; their ratio is fairer than a ratio of
    medians. The median of the per-round ratios is given with their smallest and largest.

    Parameters
    ----------
    results : dict
        What the benchmark stores (:func:`load_benchmark`); each row holds
        ``round_milliseconds``, the time of every round.
    numerator, denominator : str
        Names of two implementations (keys of ``results["implementations"]``).

    Returns
    -------
    dict
        ``n`` -> (median, smallest, largest) of the per-round ratios, for every ``n`` at
        which both were run (empty if none).

    Raises
    ------
    TypeError
        ``results`` is not the benchmark's dict, or a name is not a string.
    ValueError
        A name that is not one of the implementations, or two rows of unequal numbers of
        rounds.

    Examples
    --------
    >>> results = {"command": "", "date": "", "machine": "", "numpy": "", "torch": None,
    ...            "threads": {}, "setup": "", "implementations": {"a": "", "b": ""}, "ratios": [],
    ...            "rows": [{"implementation": "a", "n": 8, "round_milliseconds": [2.0, 3.0, 8.0]},
    ...                     {"implementation": "b", "n": 8, "round_milliseconds": [1.0, 2.0, 2.0]}]}
    >>> benchmark_ratios(results, "a", "b")  # rounds: 2/1, 3/2, 8/2
    {8: (2.0, 1.5, 4.0)}
    """
    _check_results(results)
    for name, value in (("numerator", numerator), ("denominator", denominator)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be the name of an implementation, got {value!r:.40}")
        if value not in results["implementations"]:
            raise ValueError(f"{name} must be one of {sorted(results['implementations'])}, got {value!r:.40}")
    rounds = {(row["implementation"], row["n"]): row["round_milliseconds"] for row in results["rows"]}
    out = {}
    for n in sorted({row["n"] for row in results["rows"]}):
        if (numerator, n) in rounds and (denominator, n) in rounds:
            top, bottom = np.asarray(rounds[numerator, n], float), np.asarray(rounds[denominator, n], float)
            if top.shape != bottom.shape:
                raise ValueError(f"{numerator} and {denominator} have {top.size} and {bottom.size} rounds at n = {n}")
            per_round = top / bottom  # one ratio per round
            out[n] = (float(np.median(per_round)), float(per_round.min()), float(per_round.max()))
    return out


def format_benchmark(results: dict) -> str:
    """The table of ``benchmarks/attention_benchmark.py``'s results, with what was measured where.

    Parameters
    ----------
    results : dict
        What the benchmark stores (:func:`load_benchmark`):
        ``command``, ``date``, ``machine``, ``load`` (optional: how busy the machine was),
        ``note`` (optional: a remark printed under the header),
        ``numpy``, ``torch`` (None without PyTorch),
        ``threads`` (name -> count), ``setup``, ``implementations`` (name -> description),
        ``rows`` (``implementation``, ``n``, ``milliseconds`` (the median of the rounds),
        ``round_milliseconds`` (optional: every round), ``working_memory_bytes`` or None) and
        ``ratios`` (``label``, ``n``, ``median``, ``min``, ``max``: see :func:`benchmark_ratios`).

    Returns
    -------
    str
        A header (machine, date, versions, threads, the command that rebuilds it), the
        implementations, one block of rows per ``n`` (time, and working memory as a share of
        one ``n x n`` float32 matrix), then the ratios at every ``n``.

    Raises
    ------
    TypeError
        ``results`` is not a dict with those keys.

    Examples
    --------
    >>> results = {"command": "python bench.py --write", "date": "2026-01-01 00:00 UTC",
    ...            "machine": "a CPU, 2 cores", "numpy": "2.4", "torch": None,
    ...            "threads": {"attn_core workers": 2}, "setup": "float32",
    ...            "implementations": {"tiled": "attn_core.tiled_attention"},
    ...            "rows": [{"implementation": "tiled", "n": 1024, "milliseconds": 31.5,
    ...                      "working_memory_bytes": 2**20}],
    ...            "ratios": [{"label": "tiled / tiled", "n": 1024, "median": 1.0, "min": 0.9, "max": 1.2}]}
    >>> print(format_benchmark(results))  # doctest: +NORMALIZE_WHITESPACE
    measured 2026-01-01 00:00 UTC on a CPU, 2 cores
    numpy 2.4, torch not installed; threads: attn_core workers 2
    float32
    rebuilt by `python bench.py --write`
    <BLANKLINE>
      tiled            attn_core.tiled_attention
    <BLANKLINE>
    n = 1024 (one n x n float32 matrix: 4 MiB)
      tiled                 31.5 ms       1.00 MiB =  25.00 % of n x n
    <BLANKLINE>
    time ratios: median of the per-round ratios (smallest - largest)
      tiled / tiled                 n = 1024   1.00 (0.90 - 1.20)
    """
    _check_results(results)
    threads = ", ".join(f"{name} {count}" for name, count in results["threads"].items())
    lines = [f"measured {results['date']} on {results['machine']}"]
    if "load" in results:
        lines.append(f"load average {results['load']}")
    if "note" in results:
        lines.append(results["note"])
    lines += [f"numpy {results['numpy']}, torch {results['torch'] or 'not installed'}; threads: {threads}",
              results["setup"], f"rebuilt by `{results['command']}`", ""]
    lines += [f"  {name:<16} {text}" for name, text in results["implementations"].items()]
    for n in sorted({row["n"] for row in results["rows"]}):
        matrix = n * n * 4
        lines += ["", f"n = {n} (one n x n float32 matrix: {matrix / 2**20:.0f} MiB)"]
        for row in (r for r in results["rows"] if r["n"] == n):
            memory = row["working_memory_bytes"]
            traced = ("   not traced" if memory is None
                      else f"{memory / 2**20:10.2f} MiB = {100 * memory / matrix:6.2f} % of n x n")
            lines.append(f"  {row['implementation']:<16} {row['milliseconds']:9.1f} ms {traced}")
    if results["ratios"]:
        lines += ["", "time ratios: median of the per-round ratios (smallest - largest)"]
        lines += [f"  {r['label']:<28} n = {r['n']:<5} {r['median']:6.2f} ({r['min']:.2f} - {r['max']:.2f})"
                  for r in results["ratios"]]
    return "\n".join(lines)
