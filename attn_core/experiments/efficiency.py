"""Counting and measuring what attention costs (chapter 11).

Full attention does ``n_q * n_k`` dot products and, as usually written, keeps an
``n_q x n_k`` matrix of scores. The functions here count that cost, lay out the tiles that
:func:`attn_core.tiled_attention` visits, and measure time and working memory of any
attention function, so that a chapter's tables and curves come from one place.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, choice, flag, nonnegative_int, positive_int, positive_number
from attn_core.tiled import _allowed_intervals, _checked_document_ids, _tile_kinds

__all__ = [
    "AttentionCost",
    "attention_cost",
    "TILE_SKIPPED",
    "TILE_MASKED",
    "TILE_FULL",
    "tile_schedule",
    "allowed_pairs",
    "Measurement",
    "time_and_peak_memory",
    "growth_exponent",
    "set_blas_threads",
    "blas_threads",
]

#: Codes of :func:`tile_schedule`: a tile never computed, one computed with part of it
#: masked (it crosses the diagonal, a window's edge or a document's), one computed whole.
from attn_core.tiled import TILE_FULL, TILE_MASKED, TILE_SKIPPED  # noqa: E402


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


def tile_schedule(
    n_q: int, n_k: int, *, block_size: int, causal: bool = False, window: int | None = None,
    document_ids: ArrayLike | None = None, key_block_size: int | None = None,
) -> np.ndarray:
    """Which tiles of the ``n_q x n_k`` scores tiled attention computes.

    The queries are cut into blocks of ``block_size`` rows and the keys into blocks of
    ``key_block_size`` columns (default ``block_size``; the last block of each may be shorter). Tile ``(a, b)`` pairs
    query block ``a`` with key block ``b``. Without a mask every tile is computed whole.
    With one, a tile in which no query may attend any key is skipped, a tile in which some
    pairs are hidden is computed with them masked, and the rest are computed whole. The
    masks are those of :func:`attn_core.block_sparse_attention`: ``causal`` (query ``i``
    sees key ``j`` only if ``j <= i + n_k - n_q``, the bottom-right alignment of
    :func:`attn_core.causal_mask`), a sliding ``window`` and packed ``document_ids``, in any
    combination. :func:`attn_core.tiled_attention` (causal) and
    :func:`attn_core.block_sparse_attention` visit exactly the tiles that are not skipped.

    Parameters
    ----------
    n_q, n_k : int
    block_size : int
        Rows per query block (and per key block, unless ``key_block_size`` is given).
    causal : bool, default False
    window : int, optional
        Keys at most ``window`` positions away, as :func:`attn_core.sliding_window_mask`.
    document_ids : array_like of int, shape (n_k,), optional
        The document of each position, each document one contiguous run.
    key_block_size : int, optional
        Keys per key block; default ``block_size``.

    Returns
    -------
    ndarray of int, shape (ceil(n_q / block_size), ceil(n_k / key_block_size))
        ``TILE_SKIPPED`` (0), ``TILE_MASKED`` (1) or ``TILE_FULL`` (2) (constants of :mod:`attn_core.tiled`).

    Raises
    ------
    TypeError, ValueError
        Sizes that are not whole numbers >= 1; ``causal`` not a boolean; bad ``window`` or
        ``document_ids`` (as :func:`attn_core.block_sparse_attention`).

    Examples
    --------
    >>> tile_schedule(8, 8, block_size=2, causal=True)
    array([[1, 0, 0, 0],
           [2, 1, 0, 0],
           [2, 2, 1, 0],
           [2, 2, 2, 1]])
    >>> tile_schedule(8, 8, block_size=2, document_ids=[0, 0, 0, 0, 0, 1, 1, 1])
    array([[2, 2, 1, 0],
           [2, 2, 1, 0],
           [1, 1, 1, 1],
           [0, 0, 1, 2]])
    >>> tile_schedule(4, 8, block_size=4, key_block_size=2, causal=True)  # one query block, four key blocks
    array([[2, 2, 1, 1]])
    """
    n_q, n_k = positive_int(n_q, "n_q"), positive_int(n_k, "n_k")
    block = positive_int(block_size, "block_size")
    key_block = block if key_block_size is None else positive_int(key_block_size, "key_block_size")
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be True or False, got {causal!r:.40}")
    window = None if window is None else positive_int(window, "window")
    ids = None if document_ids is None else _checked_document_ids(document_ids, n_k)
    return _tile_kinds(*_allowed_intervals(n_q, n_k, bool(causal), window, ids), n_k, block, key_block)


def allowed_pairs(
    n_q: int, n_k: int, *, causal: bool = False, window: int | None = None, document_ids: ArrayLike | None = None,
) -> int:
    """How many (query, key) pairs a structured mask allows: the cells a perfect kernel would compute.

    The masks are those of :func:`tile_schedule`; each query sees one interval of keys, so the
    count is the sum of the intervals' lengths, without building the ``n_q x n_k`` mask. The
    cells of the tiles :func:`tile_schedule` computes, minus this, are computed and thrown away.

    Parameters
    ----------
    n_q, n_k : int
    causal : bool, default False
    window : int, optional
    document_ids : array_like of int, shape (n_k,), optional

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        As :func:`tile_schedule`.

    Examples
    --------
    >>> allowed_pairs(4, 4, causal=True)  # 1 + 2 + 3 + 4
    10
    >>> allowed_pairs(16, 16, causal=True, document_ids=[0] * 5 + [1] * 7 + [2] * 4)  # 15 + 28 + 10
    53
    """
    n_q, n_k = positive_int(n_q, "n_q"), positive_int(n_k, "n_k")
    window = None if window is None else positive_int(window, "window")
    ids = None if document_ids is None else _checked_document_ids(document_ids, n_k)
    low, high = _allowed_intervals(n_q, n_k, flag(causal, "causal"), window, ids)
    return int(np.maximum(high - low + 1, 0).sum())


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
from attn_core._checks import index_in  # noqa: E402
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


# ------------------------------------------------------------------ the roofline: hardware in numbers
__all__ += ["Accelerator", "A100", "H100", "ridge_point", "attainable_flops"]


@dataclass(frozen=True)
class Accelerator:
    """The three numbers of a chip that decide whether a computation waits on arithmetic or on memory.

    Attributes
    ----------
    name : str
    peak_flops : float
        Dense 16-bit (bfloat16/float16) tensor-core arithmetic, floating-point operations per
        second (a multiply-add counts as two).
    memory_bandwidth : float
        Bytes per second between the chip and its high-bandwidth memory (HBM).
    sram_bytes : int
        The on-chip memory one tile-computing program can hold its tiles in: the shared
        memory of ONE streaming multiprocessor (SM), as configured for a kernel (NVIDIA's
        "up to 164 KB" on A100, "up to 228 KB" on H100; KB = 1,024 bytes). This is the
        :math:`M` of FlashAttention's IO analysis, one per SM: every SM runs its own tiles.
    source : str
        Where the numbers come from.
    n_sms : int, default 1
        Streaming multiprocessors on the chip (108 on an A100, 132 on an H100): how many
        thread blocks, each with its own ``sram_bytes``, run at once. The default, 1, suits a
        made-up chip; it is a keyword after ``source`` so that older five-argument calls work.

    Raises
    ------
    TypeError, ValueError
        ``name`` or ``source`` not a string; a rate that is not a finite number > 0;
        ``sram_bytes`` or ``n_sms`` not a whole number >= 1.

    Examples
    --------
    >>> chip = Accelerator("toy", peak_flops=100.0, memory_bandwidth=10.0, sram_bytes=64, source="made up")
    >>> ridge_point(chip)
    10.0
    """

    name: str
    peak_flops: float  # FLOP/s, dense 16-bit tensor-core arithmetic
    memory_bandwidth: float  # bytes/s, HBM
    sram_bytes: int  # shared memory of one SM, the M of the IO analysis
    source: str  # the datasheet or paper
    n_sms: int = 1  # streaming multiprocessors

    def __post_init__(self) -> None:
        for field_name in ("name", "source"):
            if not isinstance(getattr(self, field_name), str):
                raise TypeError(f"{field_name} must be a string, got {getattr(self, field_name)!r:.40}")
        object.__setattr__(self, "peak_flops", positive_number(self.peak_flops, "peak_flops"))
        object.__setattr__(self, "memory_bandwidth", positive_number(self.memory_bandwidth, "memory_bandwidth"))
        object.__setattr__(self, "sram_bytes", positive_int(self.sram_bytes, "sram_bytes"))
        object.__setattr__(self, "n_sms", positive_int(self.n_sms, "n_sms"))


#: NVIDIA A100 SXM 80 GB: 312 TFLOP/s dense bfloat16, 2,039 GB/s HBM2e; 108 SMs with 192 KB of
#: combined L1 cache and shared memory each, of which up to 164 KB is shared memory.
A100 = Accelerator(
    name="NVIDIA A100 SXM 80GB", peak_flops=312e12, memory_bandwidth=2039e9, sram_bytes=164 * 1024,
    source="NVIDIA A100 Tensor Core GPU Architecture whitepaper (2020) and A100 datasheet: 312 TFLOP/s dense "
           "BF16, 2,039 GB/s HBM2e (80GB SXM), 108 SMs, 192 KB L1/shared per SM of which up to 164 KB shared",
    n_sms=108,
)
#: NVIDIA H100 SXM5 80 GB: 989.4 TFLOP/s dense bfloat16, 3.35 TB/s HBM3; 132 SMs with 256 KB of
#: combined L1 cache and shared memory each, of which up to 228 KB is shared memory.
H100 = Accelerator(
    name="NVIDIA H100 SXM5 80GB", peak_flops=989.4e12, memory_bandwidth=3.35e12, sram_bytes=228 * 1024,
    source="NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022) and H100 datasheet: 989.4 TFLOP/s dense "
           "BF16, 3.35 TB/s HBM3 (SXM5), 132 SMs, 256 KB L1/shared per SM of which up to 228 KB shared",
    n_sms=132,
)


def _check_accelerator(accelerator: Any) -> Accelerator:
    if not isinstance(accelerator, Accelerator):
        raise TypeError(f"accelerator must be an Accelerator (e.g. A100, H100), got {accelerator!r:.40}")
    return accelerator


def ridge_point(accelerator: Accelerator) -> float:
    r"""The arithmetic intensity (FLOP per byte of memory traffic) at which a chip stops waiting on memory.

    .. math:: I^\ast = \frac{\text{peak FLOP/s}}{\text{memory bytes/s}}

    Below it a computation is memory-bound (its speed is intensity x bandwidth), above it
    compute-bound (its speed is the peak): the corner of the roofline (Williams, Waterman &
    Patterson, 2009).

    Parameters
    ----------
    accelerator : Accelerator

    Returns
    -------
    float
        FLOP per byte.

    Raises
    ------
    TypeError
        ``accelerator`` is not an :class:`Accelerator`.

    Examples
    --------
    >>> round(ridge_point(A100), 1), round(ridge_point(H100), 1)
    (153.0, 295.3)
    """
    accelerator = _check_accelerator(accelerator)
    return accelerator.peak_flops / accelerator.memory_bandwidth


def attainable_flops(intensity: ArrayLike, accelerator: Accelerator) -> float | np.ndarray:
    r"""The roofline: the most FLOP/s a computation of a given arithmetic intensity can reach.

    .. math:: P(I) = \min(\text{peak FLOP/s},\; I \times \text{memory bytes/s})

    (Williams, Waterman & Patterson, 2009.) An upper bound, not a prediction: it assumes the
    arithmetic and the memory traffic overlap perfectly and that nothing else (latency, the
    cache, launching the kernel) limits the speed.

    Parameters
    ----------
    intensity : float or array_like
        Floating-point operations per byte moved to or from HBM, >= 0.
    accelerator : Accelerator

    Returns
    -------
    float or ndarray
        FLOP/s; an array for array input. NaN gives NaN.

    Raises
    ------
    TypeError, ValueError
        ``intensity`` not numeric, negative or infinite; ``accelerator`` not an
        :class:`Accelerator`.

    Examples
    --------
    >>> attainable_flops(1.0, A100) / 1e12  # one FLOP per byte: the bandwidth, in TFLOP/s
    2.039
    >>> attainable_flops([10.0, 1000.0], A100) / 1e12
    array([ 20.39, 312.  ])
    """
    values = as_float_array(intensity, "intensity", nonempty=True, finite=True)
    accelerator = _check_accelerator(accelerator)
    if np.any(values < 0):
        raise ValueError(f"intensity must be >= 0 FLOP per byte, got {values[values < 0].flat[0]}")
    out = np.minimum(accelerator.peak_flops, values * accelerator.memory_bandwidth)
    return float(out) if out.ndim == 0 else out


# ------------------------------------------------- memory traffic: FlashAttention's IO count, in bytes
__all__ += ["STATISTIC_BYTES", "sram_block_rows", "hbm_bytes", "BackwardCost", "backward_cost"]

#: Bytes of one per-query statistic (the log-sum-exp L_i, the row sum D_i): kept in float32, as
#: FlashAttention keeps them, whatever the width of Q, K and V.
STATISTIC_BYTES = 4

_FORWARD_METHODS = ("standard", "tiled")
_BACKWARD_METHODS = ("standard", "recompute")


def sram_block_rows(d: int, sram_bytes: int, *, itemsize: int = 2, blocks: int = 4) -> int:
    r"""Rows per block when ``blocks`` blocks of ``rows x d`` numbers must fit in ``sram_bytes``.

    .. math:: b = \left\lfloor \frac{M}{\text{blocks} \cdot d \cdot \text{itemsize}} \right\rfloor

    The forward pass holds four such blocks, :math:`Q_a`, :math:`K_u`, :math:`V_u` and the
    accumulator of :math:`O_a`. FlashAttention's Algorithm 1 (Dao et al., 2022), with
    :math:`M` counted in numbers, writes :math:`B_c = \lceil M / 4d \rceil` for one side of
    its tiles and :math:`B_r = \min(\lceil M / 4d \rceil, d)` for the other, so that the
    :math:`B_r \times B_c` tile of scores fits too; we floor, so that the blocks fit. This gives
    the largest *query* block, the one the HBM count depends on; the key block must stay small
    enough for the tile of scores (a square tile of :math:`328^2` float32 scores would not fit
    an SM's 256 KiB register file). The recomputing backward pass holds seven blocks
    (:math:`K_u, V_u, dK_u, dV_u, Q_a, dO_a, dQ_a`). The per-row statistics are neglected.

    Parameters
    ----------
    d : int
        Width of queries, keys and values (``d_k = d_v``).
    sram_bytes : int
        The on-chip memory :math:`M`, in bytes (e.g. ``A100.sram_bytes``).
    itemsize : int, default 2
        Bytes per number (2 for bfloat16).
    blocks : int, default 4

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    TypeError, ValueError
        An argument that is not a whole number >= 1.

    Examples
    --------
    >>> sram_block_rows(64, A100.sram_bytes)  # 164 KiB / (4 x 64 x 2 bytes)
    328
    """
    d, sram_bytes = positive_int(d, "d"), positive_int(sram_bytes, "sram_bytes")
    itemsize, blocks = positive_int(itemsize, "itemsize"), positive_int(blocks, "blocks")
    return max(1, sram_bytes // (blocks * d * itemsize))


def hbm_bytes(
    n: int, d: int, sram_bytes: int, method: str = "standard", *, itemsize: int = 2, block_size: int | None = None,
    causal: bool = False, window: int | None = None, document_ids: ArrayLike | None = None,
    key_block_size: int | None = None,
) -> int:
    r"""Bytes the forward pass of one head moves to and from HBM, counted along the algorithm's loops.

    ``"standard"`` is FlashAttention's Algorithm 0 (Dao et al., 2022), three kernels each of
    which reads its inputs from HBM and writes its result back:

    1. read :math:`Q, K` (:math:`2nd`), write :math:`S = QK^\top` (:math:`n^2`);
    2. read :math:`S`, write :math:`A = \operatorname{softmax}(S)` (:math:`2n^2`);
    3. read :math:`A, V` (:math:`n^2 + nd`), write :math:`O` (:math:`nd`):

    :math:`(4n^2 + 4nd)` numbers, whatever the mask (the dense kernels write every score).
    ``"tiled"`` follows the loops of :func:`attn_core.tiled_attention` and
    :func:`attn_core.block_sparse_attention` (query blocks outside, as FlashAttention-2): for
    each query block, read :math:`Q_a`; for each key block the mask does not skip, read
    :math:`K_u` and :math:`V_u`; write :math:`O_a` and the log-sum-exp :math:`L_a` that the
    backward pass needs (:data:`STATISTIC_BYTES` each). Without a mask that is
    :math:`2nd + 2nd \lceil n/b_q \rceil` numbers plus :math:`4n` bytes: it depends on the
    query block :math:`b_q` only, not on the key block (which must stay small enough for the
    :math:`b_q \times b_k` tile of scores to fit on the chip). With
    :math:`b_q = \lfloor M / 4d \rfloor`, about :math:`8 n^2 d^2 / M`: the
    :math:`\Theta(n^2 d^2 M^{-1})` of FlashAttention's Theorem 2. With a mask the key block
    matters: it decides which key rows a skipped tile spares. The count assumes that
    nothing read from HBM stays in a cache between loads (a GPU's L2 cache can serve some
    re-reads of :math:`K` and :math:`V`), and that the tile of scores never leaves the chip.

    Parameters
    ----------
    n : int
        Sequence length (``n_q = n_k = n``).
    d : int
        Width of queries, keys and values.
    sram_bytes : int
        On-chip memory :math:`M` of one streaming multiprocessor, in bytes.
    method : {"standard", "tiled"}, default "standard"
    itemsize : int, default 2
        Bytes per number of Q, K, V, S, A and O (2 for bfloat16).
    block_size : int, optional
        Rows per query block for ``"tiled"``; default :func:`sram_block_rows` ``(d, sram_bytes)``.
    causal, window, document_ids
        The mask, as in :func:`attn_core.block_sparse_attention`; ``"tiled"`` reads only the
        key blocks of tiles that are not skipped (:func:`tile_schedule`).
    key_block_size : int, optional
        Rows per key block for ``"tiled"``; default the query block.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        Sizes that are not whole numbers >= 1, an unknown ``method``, a bad mask argument.

    Examples
    --------
    >>> hbm_bytes(4, 2, 64, itemsize=1)  # 4 n^2 + 4 n d = 64 + 32
    96
    >>> hbm_bytes(4, 2, 64, "tiled", itemsize=1, block_size=2)  # Q, O: 8 + 8; K, V: 2 query blocks x 16; L: 16
    64
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    sram_bytes, itemsize = positive_int(sram_bytes, "sram_bytes"), positive_int(itemsize, "itemsize")
    method = choice(method, _FORWARD_METHODS, "method")
    block = sram_block_rows(d, sram_bytes, itemsize=itemsize) if block_size is None else positive_int(
        block_size, "block_size")
    key_block = block if key_block_size is None else positive_int(key_block_size, "key_block_size")
    kinds = tile_schedule(n, n, block_size=block, key_block_size=key_block, causal=causal, window=window,
                          document_ids=document_ids)
    if method == "standard":
        return (4 * n * n + 4 * n * d) * itemsize
    key_rows = np.minimum(np.arange(0, n, key_block) + key_block, n) - np.arange(0, n, key_block)  # (key blocks,)
    kv_reads = int(((kinds != TILE_SKIPPED) * key_rows[None, :]).sum()) * 2 * d  # K_u and V_u per computed tile
    return (n * d + kv_reads + n * d) * itemsize + n * STATISTIC_BYTES  # Q in; K, V; O out; L out


@dataclass(frozen=True)
class BackwardCost:
    """What the backward pass of one head costs, counted (see :func:`backward_cost`)."""

    multiply_adds: int  # matrix products
    exponentials: int  # exp(S - L), recomputed
    hbm_bytes: int  # bytes read from and written to HBM
    saved_bytes: int  # what the forward pass keeps for it beyond Q, K, V, O: A (n x n) or L (n)


def backward_cost(
    n: int, d: int, sram_bytes: int, method: str = "standard", *, itemsize: int = 2, block_size: int | None = None,
) -> BackwardCost:
    r"""Arithmetic and HBM traffic of the backward pass of one head, counted along the algorithm's loops.

    ``"standard"`` is FlashAttention's Algorithm 3 (the standard backward; Dao et al., 2022,
    appendix B), which uses the weights :math:`A` the forward pass stored:

    1. read :math:`A, dO`, write :math:`dV = A^\top dO`;
    2. read :math:`dO, V`, write :math:`dA = dO\,V^\top`;
    3. read :math:`A, dA`, write :math:`dS = A \odot (dA - \operatorname{rowsum}(A \odot dA))`;
    4. read :math:`dS, K`, write :math:`dQ = dS\,K`;  5. read :math:`dS, Q`, write :math:`dK = dS^\top Q`

    (the scale folded into :math:`Q`): :math:`7n^2 + 8nd` numbers and :math:`4n^2 d`
    multiply-adds. ``"recompute"`` follows the loops of
    :func:`attn_core.tiled_attention_backward`: read :math:`O, dO` and write
    :math:`D = \operatorname{rowsum}(dO \odot O)`; then for each key block read :math:`K_u, V_u`
    and, at its end, write :math:`dK_u, dV_u`; inside, for each query block, read
    :math:`Q_a, dO_a, L_a, D_a` and read and write back :math:`dQ_a`. It recomputes
    :math:`S` (:math:`n^2 d` more multiply-adds, :math:`n^2` exponentials) and never
    touches an :math:`n \times n` array in HBM.

    Parameters
    ----------
    n, d : int
        Sequence length and head width (``d_k = d_v = d``).
    sram_bytes : int
        On-chip memory :math:`M`, in bytes.
    method : {"standard", "recompute"}, default "standard"
    itemsize : int, default 2
    block_size : int, optional
        Rows per key block for ``"recompute"`` (the outer loop: :math:`Q`, :math:`dO` and
        :math:`dQ` are re-read once per key block); default :func:`sram_block_rows`
        ``(d, sram_bytes, blocks=7)``. The inner query block does not change the count; it
        must be small enough for the tiles :math:`S` and :math:`dS` to fit on the chip.

    Returns
    -------
    BackwardCost

    Raises
    ------
    TypeError, ValueError
        Sizes that are not whole numbers >= 1; an unknown ``method``.

    Examples
    --------
    >>> backward_cost(4, 2, 64, itemsize=1)  # 7 n^2 + 8 n d numbers, 4 n^2 d multiply-adds, A saved
    BackwardCost(multiply_adds=128, exponentials=0, hbm_bytes=176, saved_bytes=16)
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    sram_bytes, itemsize = positive_int(sram_bytes, "sram_bytes"), positive_int(itemsize, "itemsize")
    method = choice(method, _BACKWARD_METHODS, "method")
    if method == "standard":
        return BackwardCost(multiply_adds=4 * n * n * d, exponentials=0, hbm_bytes=(7 * n * n + 8 * n * d) * itemsize,
                            saved_bytes=n * n * itemsize)
    block = sram_block_rows(d, sram_bytes, itemsize=itemsize, blocks=7) if block_size is None else positive_int(
        block_size, "block_size")
    key_blocks = -(-n // block)
    traffic = 2 * n * d * itemsize + n * STATISTIC_BYTES  # read O and dO, write D
    traffic += 4 * n * d * itemsize  # per key block: read K_u, V_u; write dK_u, dV_u (every key once)
    traffic += key_blocks * n * (4 * d * itemsize + 2 * STATISTIC_BYTES)  # per tile: Q_a, dO_a, dQ_a twice; L_a, D_a
    return BackwardCost(multiply_adds=5 * n * n * d, exponentials=n * n, hbm_bytes=traffic,
                        saved_bytes=n * STATISTIC_BYTES)


# ------------------------------------------------------------------ a layer's FLOP budget
__all__ += ["LayerFlops", "layer_flops", "attention_overtakes_at"]


@dataclass(frozen=True)
class LayerFlops:
    """Floating-point operations (2 per multiply-add) of one transformer layer's matrix products."""

    projections: int  # W_Q and W_O (d_model x d_model), W_K and W_V (d_model x n_kv_heads d_head)
    mlp: int  # the MLP's matrices, d_model <-> expansion d_model
    scores: int  # Q K^T over the pairs computed, all heads together
    weighted_values: int  # A V over the same pairs

    @property
    def attention(self) -> int:
        """The part that grows like n^2: scores and weighted values."""
        return self.scores + self.weighted_values

    @property
    def total(self) -> int:
        return self.projections + self.mlp + self.attention


def _per_token_multiply_adds(d: int, expansion: Fraction, matrices: int, n_heads: int | None,
                             n_kv_heads: int | None) -> tuple[Fraction, Fraction]:
    """Multiply-adds per token of (the four projections, the MLP), exact."""
    kv_share = Fraction(1) if n_kv_heads is None else Fraction(n_kv_heads, n_heads)
    return (2 + 2 * kv_share) * d * d, matrices * expansion * d * d


def _checked_layer(d_model: Any, mlp_expansion: Any, mlp_matrices: Any, n_heads: Any,
                   n_kv_heads: Any) -> tuple[int, Fraction, int, int | None, int | None]:
    d = positive_int(d_model, "d_model")
    expansion = Fraction(positive_number(mlp_expansion, "mlp_expansion"))
    matrices = positive_int(mlp_matrices, "mlp_matrices")
    if (n_heads is None) != (n_kv_heads is None):
        raise ValueError("n_heads and n_kv_heads must be given together (grouped keys and values), "
                         f"got n_heads={n_heads!r:.20} and n_kv_heads={n_kv_heads!r:.20}")
    if n_heads is not None:
        n_heads, n_kv_heads = positive_int(n_heads, "n_heads"), positive_int(n_kv_heads, "n_kv_heads")
        if d % n_heads or n_heads % n_kv_heads:
            raise ValueError(f"n_heads must divide d_model and n_kv_heads must divide n_heads, got d_model={d}, "
                             f"n_heads={n_heads}, n_kv_heads={n_kv_heads}")
    if (expansion * d).denominator != 1:
        raise ValueError(f"mlp_expansion x d_model must be a whole number of hidden units, got {float(expansion)} "
                         f"x {d}")
    return d, expansion, matrices, n_heads, n_kv_heads


def layer_flops(
    n: int, d_model: int, *, causal: bool = False, mlp_expansion: float = 4, mlp_matrices: int = 2,
    n_heads: int | None = None, n_kv_heads: int | None = None,
) -> LayerFlops:
    r"""Count the FLOPs of one transformer layer's matrix products for a sequence of ``n`` tokens.

    .. math::
       \underbrace{2 (2 + 2g)\, n d^2}_{W_Q, W_O;\ W_K, W_V}
       + \underbrace{2 c e\, n d^2}_{\text{MLP}}
       + \underbrace{2 \cdot 2 P d}_{QK^\top,\ AV}

    with :math:`d` = ``d_model``, :math:`g` = ``n_kv_heads / n_heads`` (1 without grouping),
    :math:`c` = ``mlp_matrices``, :math:`e` = ``mlp_expansion`` and :math:`P` the number of
    (query, key) pairs computed: :math:`n^2`, or :math:`n(n+1)/2` with ``causal=True`` (a
    kernel that skips every masked pair; a tiled one comes close). Assumptions: the query
    heads together have width ``d_model``; grouped keys and values (``n_kv_heads`` shared
    key/value heads) shrink :math:`W_K` and :math:`W_V` but not attention, since every query
    head still scores every key; an MLP of two matrices by default (a gated MLP has three);
    nothing counted outside the matrix products (softmax, normalisation, embeddings, the
    output layer).

    Parameters
    ----------
    n : int
        Tokens in the sequence.
    d_model : int
    causal : bool, default False
    mlp_expansion : float, default 4
        Width of the MLP's hidden layer over ``d_model`` (``mlp_expansion * d_model`` must be
        whole; 3.5 for a hidden width of 28,672 at ``d_model = 8192``).
    mlp_matrices : int, default 2
        2 for up and down, 3 for a gated MLP (gate, up, down).
    n_heads, n_kv_heads : int, optional
        Query heads and the key/value heads they share; give both or neither.

    Returns
    -------
    LayerFlops

    Raises
    ------
    TypeError, ValueError
        Sizes that are not whole numbers >= 1; ``causal`` not a boolean; ``mlp_expansion``
        not a number > 0 or not giving a whole hidden width; only one of ``n_heads`` and
        ``n_kv_heads``, or heads that do not divide.

    Examples
    --------
    >>> f = layer_flops(2, 3)  # n = 2, d = 3
    >>> f.projections, f.mlp, f.scores, f.weighted_values  # 2*4*2*9, 2*2*4*2*9, 2*4*3, 2*4*3
    (144, 288, 24, 24)
    >>> g = layer_flops(2, 4, n_heads=4, n_kv_heads=1, mlp_matrices=3, mlp_expansion=2.5)
    >>> g.projections, g.mlp  # 2*2*(2*16 + 2*4), 2*2*3*4*10
    (160, 480)
    """
    n = positive_int(n, "n")
    d, expansion, matrices, n_heads, n_kv_heads = _checked_layer(d_model, mlp_expansion, mlp_matrices, n_heads,
                                                                 n_kv_heads)
    pairs = n * (n + 1) // 2 if flag(causal, "causal") else n * n
    projections, mlp = _per_token_multiply_adds(d, expansion, matrices, n_heads, n_kv_heads)
    return LayerFlops(projections=int(2 * n * projections), mlp=int(2 * n * mlp), scores=2 * pairs * d,
                      weighted_values=2 * pairs * d)


def attention_overtakes_at(
    d_model: int, *, causal: bool = False, mlp_expansion: float = 4, mlp_matrices: int = 2,
    n_heads: int | None = None, n_kv_heads: int | None = None,
) -> int:
    r"""The shortest sequence at which the :math:`n^2` part of a layer costs at least the rest.

    From :func:`layer_flops`, with :math:`R d^2` the multiply-adds per token of the
    projections and the MLP (:math:`R = 12` by default): :math:`2 P d \ge R\, n d^2`. Without
    a mask (:math:`P = n^2`) that is :math:`n \ge R d / 2`, :math:`6d` by default; causal
    (:math:`P = n(n+1)/2`), :math:`n + 1 \ge R d`, so :math:`n = 12d - 1` by default. Kaplan
    et al. (2020) call attention a small share while :math:`d_{model} > n_{ctx} / 12`; they do
    not derive their term, and it equals this count for a causal kernel that skips the masked
    pairs.

    Parameters
    ----------
    d_model : int
    causal : bool, default False
    mlp_expansion, mlp_matrices, n_heads, n_kv_heads
        As :func:`layer_flops`.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        As :func:`layer_flops`.

    Examples
    --------
    >>> attention_overtakes_at(768), attention_overtakes_at(768, causal=True)
    (4608, 9215)
    >>> attention_overtakes_at(8192, causal=True, n_heads=64, n_kv_heads=8, mlp_matrices=3, mlp_expansion=3.5)
    104447
    """
    d, expansion, matrices, n_heads, n_kv_heads = _checked_layer(d_model, mlp_expansion, mlp_matrices, n_heads,
                                                                 n_kv_heads)
    per_token = sum(_per_token_multiply_adds(d, expansion, matrices, n_heads, n_kv_heads)) / d  # R d
    if flag(causal, "causal"):
        return math.ceil(per_token) - 1  # n + 1 >= R d
    return math.ceil(per_token / 2)  # n >= R d / 2
