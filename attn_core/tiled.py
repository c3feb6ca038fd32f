"""Attention in tiles with an online softmax: exact, without the n_q x n_k matrix.

The softmax of a row can be computed in one pass over blocks of keys if we keep three
running quantities per query: the largest score seen so far ``m``, the sum of exponentials
relative to it ``l``, and the weighted sum of values ``acc`` (Milakov & Gimelshein, 2018).
When a block raises the maximum from ``m`` to ``m'``, everything accumulated so far is
rescaled by ``exp(m - m')``. FlashAttention (Dao et al., 2022) organises the same
computation around GPU memory; Rabe & Staats (2021) around memory on any device.

The module also holds the backward pass that recomputes the weights tile by tile from one
log-sum-exp per query (:func:`tiled_attention_backward`, fed by
``tiled_attention(..., return_log_sum_exp=True)``), and :func:`block_sparse_attention`, which
skips every tile that a causal, sliding-window or packed-document mask hides whole.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, as_int_array, broadcast_batch, flag, positive_int
from attn_core.attention import _check_qkv, _checked_scale, _unbroadcast

__all__ = ["tiled_attention", "tiled_attention_backward", "block_sparse_attention", "online_softmax_steps",
           "OnlineSoftmaxStep", "TILE_SKIPPED", "TILE_MASKED", "TILE_FULL"]

#: The kinds of tile a tiled kernel meets: one it never computes (no query of the tile may attend
#: any key of it), one computed with some of its cells masked, one computed whole.
TILE_SKIPPED, TILE_MASKED, TILE_FULL = 0, 1, 2


def tiled_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    causal: bool = False,
    scale: float | None = None,
    block_size: int = 256,
    workers: int = 1,
    return_log_sum_exp: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Exact attention computed block by block; never materialises the n_q x n_k matrix.

    Equal (up to rounding) to ``scaled_dot_product_attention(q, k, v, causal=causal,
    scale=scale)[0]``. Working memory is one ``block_size x block_size`` tile of scores per
    running task (one per worker) plus the running statistics, whatever the sequence length. With
    ``causal=True`` the tiles wholly above the diagonal are skipped, about half the work.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)
    v : array_like, shape (..., n_k, d_v)
    causal : bool, default False
        No query attends a key after it; the queries are the last ``n_q`` positions
        (bottom-right, as in :func:`attn_core.causal_mask`): query i sees keys
        ``j <= n_k - n_q + i``.
    scale : float, optional
        Default ``1 / sqrt(d_k)``.
    block_size : int, default 256
        Rows of queries and of keys per tile; need not divide the lengths.
    workers : int, default 1
        Threads to spread the work over: the query blocks of every batch/head slice are
        independent tasks, and numpy releases the GIL inside its loops and matrix products,
        so ``workers=os.cpu_count()`` can use every core. The result does not depend on it.
        Give numpy's matrix library one thread per worker (``OPENBLAS_NUM_THREADS=1``, or
        ``attn_core.experiments.efficiency.blas_threads(1)``): threads of its own on top of
        these fight over the cores and can be many times slower.
    return_log_sum_exp : bool, default False
        Also return, per query, the log-sum-exp of its scaled scores over the keys it may
        attend, :math:`L_i = m_i + \log l_i` from the running maximum and normaliser
        (``-inf`` for a query that sees no key): the ``n_q`` numbers that
        :func:`tiled_attention_backward` needs instead of the weights.

    Returns
    -------
    ndarray, shape (..., n_q, d_v)
        float32 inputs give float32 output. A query that sees no key (causal, ``n_q > n_k``)
        gets zeros.
    log_sum_exp : ndarray, shape (..., n_q)
        Only with ``return_log_sum_exp=True``.

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; ``block_size`` not a whole number
        >= 1.

    Examples
    --------
    >>> import attn_core as ac
    >>> x = np.random.default_rng(0).standard_normal((10, 4))
    >>> out = tiled_attention(x, x, x, block_size=3, causal=True)
    >>> bool(np.allclose(out, ac.scaled_dot_product_attention(x, x, x, causal=True)[0]))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    block = positive_int(block_size, "block_size")
    causal, want_log_sum_exp = flag(causal, "causal"), flag(return_log_sum_exp, "return_log_sum_exp")
    lead = broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    log_sum_exp = np.empty(lead + (q.shape[-2],), dtype=np.result_type(q, k, v)) if want_log_sum_exp else None
    out = _tiled_attention(q, k, v, causal, _checked_scale(scale, q), block, positive_int(workers, "workers"),
                           log_sum_exp)
    return (out, log_sum_exp) if want_log_sum_exp else out


def _tiled_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool, scale: float,
                     block: int, workers: int = 1, log_sum_exp: np.ndarray | None = None) -> np.ndarray:
    """Tiled attention with the online softmax, without checks.

    The work is cut into independent tasks, one per (batch/head slice, query block); each
    task reads its key blocks in order with :func:`_query_block`. With ``workers > 1`` the
    tasks run on that many threads (numpy releases the GIL inside its loops and matrix
    products); every task does the same arithmetic either way, so the result is the same.
    """
    lead = broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    dtype = np.result_type(q, k, v)
    n_q, d_v = q.shape[-2], v.shape[-1]
    out = np.zeros(lead + (n_q, d_v), dtype=dtype)  # a query that sees no key keeps its zeros
    q, k, v = (np.broadcast_to(a, lead + a.shape[-2:]) for a in (q, k, v))  # views, no copies
    starts = range(0, n_q, block)
    if causal:  # the last query blocks see the most keys: start them first, so no thread waits long at the end
        starts = starts[::-1]
    tasks = itertools.product(np.ndindex(*lead), starts)  # (slice index, first query), made as needed

    def run(task: tuple[tuple[int, ...], int]) -> None:
        index, start = task
        _query_block(q[index], k[index], v[index], out[index], start, causal, scale, block,
                     None if log_sum_exp is None else log_sum_exp[index])

    _run_tasks(run, tasks, workers)
    return out


def block_sparse_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    causal: bool = False,
    window: int | None = None,
    document_ids: ArrayLike | None = None,
    scale: float | None = None,
    block_size: int = 256,
) -> np.ndarray:
    """Tiled attention under a structured mask that never computes a tile the mask hides whole.

    The mask is the conjunction of up to three structures, each of which lets query ``i``
    (at position ``p_i = n_k - n_q + i``, bottom-right as in :func:`attn_core.causal_mask`)
    see one interval of keys ``lo_i <= j <= hi_i``, so their conjunction does too:

    * ``causal``: ``j <= p_i``;
    * ``window``: ``|p_i - j| <= window`` (with ``causal``, ``0 <= p_i - j <= window``), as
      :func:`attn_core.sliding_window_mask`;
    * ``document_ids``: ``document_ids[j] == document_ids[p_i]``, the mask of packed sequences
      (several documents concatenated into one row of a batch), as
      :func:`attn_core.document_mask`; each document must fill one contiguous run of positions.

    From the intervals every tile is classified once (skipped, computed with a mask, computed
    whole; :func:`attn_core.experiments.efficiency.tile_schedule` returns the same
    classification), and the online softmax of :func:`tiled_attention` runs over the tiles
    that are not skipped, with the same tile update (``_tile_update``). The output equals
    ``scaled_dot_product_attention`` under the same dense mask; a query that sees no key gets
    zeros. There is no block-sparse backward pass here: :func:`tiled_attention_backward`
    handles the causal mask only.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)
    v : array_like, shape (..., n_k, d_v)
    causal : bool, default False
    window : int, optional
        Keys at most ``window`` positions away (``>= 1``); None: no window.
    document_ids : array_like of int, shape (n_k,), optional
        The document of each key position, numbered from 0; the queries are the last ``n_q`` positions, so
        query ``i`` belongs to document ``document_ids[p_i]`` (a query before the first key,
        possible only when ``n_q > n_k``, belongs to none and sees no key).
    scale : float, optional
        Default ``1 / sqrt(d_k)``.
    block_size : int, default 256
        Rows of queries and of keys per tile.

    Returns
    -------
    ndarray, shape (..., n_q, d_v)

    Raises
    ------
    TypeError, ValueError
        As :func:`tiled_attention`; ``window`` not a whole number >= 1; ``document_ids`` not a
        vector of ``n_k`` whole numbers >= 0, or a document split into several runs.

    Examples
    --------
    >>> import attn_core as ac
    >>> x = np.random.default_rng(0).standard_normal((10, 4))
    >>> ids = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])  # three packed documents
    >>> out = block_sparse_attention(x, x, x, causal=True, document_ids=ids, block_size=4)
    >>> mask = ac.causal_mask(10) & ac.document_mask(ids)
    >>> bool(np.allclose(out, ac.scaled_dot_product_attention(x, x, x, mask=mask)[0]))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    block = positive_int(block_size, "block_size")
    causal = flag(causal, "causal")
    window = None if window is None else positive_int(window, "window")
    n_q, n_k = q.shape[-2], k.shape[-2]
    ids = None if document_ids is None else _checked_document_ids(document_ids, n_k)
    low, high = _allowed_intervals(n_q, n_k, causal, window, ids)
    return _block_sparse_attention(q, k, v, low, high, _checked_scale(scale, q), block)


def _checked_document_ids(document_ids: ArrayLike, n_k: int) -> np.ndarray:
    """``document_ids`` as a vector of ``n_k`` whole numbers, each document one contiguous run."""
    ids = as_int_array(document_ids, "document_ids", ndim=1, low=0)
    if ids.shape[0] != n_k:
        raise ValueError(f"document_ids must give one document per key, shape (n_k={n_k},), got shape {ids.shape}")
    starts = np.flatnonzero(np.diff(ids)) + 1  # where a new run begins
    runs = ids[np.concatenate(([0], starts))]  # the document of each run
    if np.unique(runs).size != runs.size:
        raise ValueError("document_ids must put each document in one contiguous run of positions (packed "
                         f"sequences), got runs of documents {runs.tolist()[:10]}")
    return ids


def _allowed_intervals(n_q: int, n_k: int, causal: bool, window: int | None,
                       document_ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """For every query, the first and last key it may attend, ``lo <= j <= hi`` (empty when lo > hi)."""
    position = np.arange(n_q) + (n_k - n_q)  # (n_q,): bottom-right
    low = np.zeros(n_q, dtype=np.int64)
    high = np.full(n_q, n_k - 1, dtype=np.int64)
    if causal:
        high = np.minimum(high, position)
    if window is not None:
        low = np.maximum(low, position - window)
        if not causal:
            high = np.minimum(high, position + window)
    if document_ids is not None:
        run_start = np.flatnonzero(np.r_[True, np.diff(document_ids) != 0])  # first position of each run
        run_of = np.cumsum(np.r_[True, np.diff(document_ids) != 0]) - 1  # (n_k,): the run of each position
        run_end = np.r_[run_start[1:], n_k] - 1
        inside = position >= 0
        run = run_of[np.where(inside, position, 0)]  # (n_q,)
        low = np.where(inside, np.maximum(low, run_start[run]), 0)
        high = np.where(inside, np.minimum(high, run_end[run]), -1)  # before the first key: no document
    return low, high


def _tile_kinds(low: np.ndarray, high: np.ndarray, n_k: int, block: int, key_block: int | None = None) -> np.ndarray:
    """Classify every (query block, key block) tile from the per-query intervals ``low <= j <= high``.

    Query blocks have ``block`` rows, key blocks ``key_block`` (default ``block``).
    """
    n_q = low.shape[0]
    key_block = block if key_block is None else key_block
    k_first = np.arange(0, n_k, key_block)  # (key blocks,)
    k_last = np.minimum(k_first + key_block, n_k) - 1
    lo, hi = low[:, None], high[:, None]  # (n_q, 1)
    some = (lo <= hi) & (lo <= k_last[None, :]) & (hi >= k_first[None, :])  # (n_q, key blocks)
    every = (lo <= k_first[None, :]) & (hi >= k_last[None, :])  # (n_q, key blocks)
    q_first = np.arange(0, n_q, block)
    any_row = np.logical_or.reduceat(some, q_first, axis=0)  # (query blocks, key blocks)
    all_rows = np.logical_and.reduceat(every, q_first, axis=0)
    kinds = np.full(any_row.shape, TILE_SKIPPED)
    kinds[any_row] = TILE_MASKED
    kinds[all_rows] = TILE_FULL
    return kinds


def _block_sparse_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, low: np.ndarray, high: np.ndarray,
                            scale: float, block: int) -> np.ndarray:
    """The online softmax over the tiles that are not skipped, without checks."""
    lead = broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    dtype = np.result_type(q, k, v)
    n_q, n_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    kinds = _tile_kinds(low, high, n_k, block)  # (query blocks, key blocks), computed once for every slice
    out = np.zeros(lead + (n_q, d_v), dtype=dtype)  # a query that sees no key keeps its zeros
    q, k, v = (np.broadcast_to(a, lead + a.shape[-2:]) for a in (q, k, v))  # views, no copies
    for index in np.ndindex(*lead):
        for a, start in enumerate(range(0, n_q, block)):
            end = min(start + block, n_q)
            q_block = q[index][start:end] * np.asarray(scale, dtype=dtype)  # (b_q, d_k)
            m = np.full((end - start, 1), -np.inf, dtype=dtype)  # running max
            l = np.zeros((end - start, 1), dtype=dtype)  # running sum of exp
            acc = np.zeros((end - start, d_v), dtype=dtype)  # running weighted values
            for u in np.flatnonzero(kinds[a] != TILE_SKIPPED):  # the skipped tiles are never read
                k_start, k_stop = u * block, min(u * block + block, n_k)
                s = q_block @ k[index][k_start:k_stop].T  # (b_q, b_k)
                if kinds[a, u] == TILE_MASKED:
                    columns = np.arange(k_start, k_stop)[None, :]  # (1, b_k)
                    hidden = (columns < low[start:end, None]) | (columns > high[start:end, None])  # (b_q, b_k)
                    s[hidden] = -np.inf
                m = _tile_update(s, v[index][k_start:k_stop], m, l, acc)
            np.divide(acc, l, out=out[index][start:end], where=l != 0)  # (b_q, d_v)
    return out


def _run_tasks(run: Callable[[Any], None], tasks: Iterator[Any], workers: int) -> None:
    """Call ``run`` on every task, on ``workers`` threads that take the next task when free.

    The threads share one iterator (behind a lock), so no list of every task or future is
    kept: the bookkeeping stays a few objects whatever the number of tasks. An error in any
    task is raised here.
    """
    if workers == 1:
        for task in tasks:
            run(task)
        return
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                task = next(tasks, None)
            if task is None:
                return
            run(task)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()  # re-raises an error of that thread


def _tile_update(s: np.ndarray, v_block: np.ndarray, m: np.ndarray, l: np.ndarray, acc: np.ndarray,
                 product: np.ndarray | None = None) -> np.ndarray:
    """Fold one tile of scores into a query block's running statistics: one step of the online softmax.

    ``s`` (b_q, b_k) holds the scaled scores, a hidden key at -inf; it is overwritten with
    ``exp(s - m')``. ``m`` (b_q, 1) is the running maximum; ``l`` (b_q, 1) and ``acc``
    (b_q, d_v), the running sum of exponentials and of weighted values, are rescaled and
    added to in place; ``product`` (b_q, d_v), if given, receives ``exp(s - m') @ v_block``.
    Returns the new running maximum ``m'``. Both :func:`tiled_attention` and
    :func:`block_sparse_attention` call this, so the update exists once.
    """
    m_new = np.maximum(m, s.max(axis=1, keepdims=True))  # (b_q, 1)
    shift_by = np.where(m_new == -np.inf, 0.0, m_new)  # (b_q, 1); no key yet: no -inf - -inf
    s -= shift_by
    np.exp(s, out=s)  # P = exp(S - m'), in place (0 for a hidden key)
    rescale = np.exp(m - shift_by)  # (b_q, 1): the old sums were relative to m
    l *= rescale
    l += s.sum(axis=1, keepdims=True)
    acc *= rescale
    acc += np.matmul(s, v_block, out=product)  # (b_q, d_v)
    return m_new


def _query_block(q: np.ndarray, k: np.ndarray, v: np.ndarray, out: np.ndarray, start: int,
                 causal: bool, scale: float, block: int, log_sum_exp: np.ndarray | None = None) -> None:
    """Rows ``start : start + block`` of one slice's output, one key block at a time.

    ``q`` (n_q, d_k), ``k`` (n_k, d_k), ``v`` (n_k, d_v); writes ``out[start:end]`` (n_q, d_v)
    and, if given, ``log_sum_exp[start:end]`` (n_q,): m + log l, -inf where no key was seen.
    Working memory: one (b_q, b_k) tile of scores, the running m and l (b_q,), and the
    accumulator and one product with the values (b_q, d_v).
    """
    n_q, n_k = q.shape[0], k.shape[0]
    end = min(start + block, n_q)
    offset = n_k - n_q  # causal: query i stands at position i + offset (bottom-right)
    q_block = q[start:end] * np.asarray(scale, dtype=out.dtype)  # (b_q, d_k): the scale on n d numbers
    m = np.full((end - start, 1), -np.inf, dtype=out.dtype)  # running max
    l = np.zeros((end - start, 1), dtype=out.dtype)  # running sum of exp
    acc = np.zeros((end - start, out.shape[1]), dtype=out.dtype)  # running weighted values
    tile = np.empty((end - start, min(block, n_k)), dtype=out.dtype)  # the only scores in memory, reused
    product = np.empty_like(acc)  # P V of one tile, reused
    k_end = min(n_k, end + offset) if causal else n_k  # causal: no key after the block's last query
    for k_start in range(0, k_end, block):
        k_stop = min(k_start + block, k_end)
        s = tile if k_stop - k_start == tile.shape[1] else tile[:, : k_stop - k_start]  # (b_q, b_k)
        np.matmul(q_block, k[k_start:k_stop].T, out=s)  # (b_q, b_k)
        if causal and k_stop - 1 > start + offset:  # the tile crosses the diagonal: hide the future
            future = np.arange(k_start, k_stop)[None, :] > np.arange(start + offset, end + offset)[:, None]
            np.copyto(s, -np.inf, where=future)  # (b_q, b_k), in place
        m = _tile_update(s, v[k_start:k_stop], m, l, acc, product)
    np.divide(acc, l, out=out[start:end], where=l != 0)  # (b_q, d_v)
    if log_sum_exp is not None:
        rows = log_sum_exp[start:end]  # (b_q,)
        rows[:] = -np.inf  # a query that saw no key
        np.log(l[:, 0], out=rows, where=l[:, 0] != 0)
        rows += np.where(l[:, 0] != 0, m[:, 0], 0)  # L = m + log l


@dataclass(frozen=True)
class OnlineSoftmaxStep:
    """What the online softmax knows after reading one more block of scores (one query)."""

    block: int  # index of the block just read (its place from the left, whatever the reading order)
    keys: tuple[int, int]  # the key positions [start, end) of that block
    running_max: float  # m: the largest score so far
    normaliser: float  # l: sum of exp(score - m) so far
    output: np.ndarray  # acc / l: the attention output if the row ended here, (d_v,)
    rescale: float  # exp(m_old - m_new): how much the earlier sums were shrunk


def online_softmax_steps(
    scores: ArrayLike, values: ArrayLike, *, block_size: int, order: ArrayLike | None = None
) -> Iterator[OnlineSoftmaxStep]:
    """Replay the online softmax for one query, block by block (for teaching and explorers).

    Parameters
    ----------
    scores : array_like, shape (n_k,)
        One query's (already scaled) scores.
    values : array_like, shape (n_k, d_v)
    block_size : int
    order : array_like of int, optional
        The blocks in the order they are read, a permutation of ``0 .. n_blocks - 1``;
        default left to right. The last output does not depend on it.

    Yields
    ------
    OnlineSoftmaxStep
        One per block, in reading order. The last step's ``output`` equals
        ``softmax(scores) @ values``.

    Examples
    --------
    >>> import attn_core as ac
    >>> s, v = np.array([1.0, 3.0, 2.0, 5.0]), np.eye(4)
    >>> steps = list(online_softmax_steps(s, v, block_size=2))
    >>> [step.running_max for step in steps]
    [3.0, 5.0]
    >>> bool(np.allclose(steps[-1].output, ac.softmax(s) @ v))
    True
    >>> [step.running_max for step in online_softmax_steps(s, v, block_size=2, order=[1, 0])]
    [5.0, 5.0]
    """
    s = as_float_array(scores, "scores", min_ndim=1, nonempty=True, finite=True)
    v = as_float_array(values, "values", min_ndim=2, nonempty=True, finite=True)
    if s.ndim != 1 or v.ndim != 2 or v.shape[0] != s.shape[0]:
        raise ValueError(f"scores must be (n_k,) and values (n_k, d_v): got {s.shape} and {v.shape}")
    block = positive_int(block_size, "block_size")
    n_blocks = -(-s.size // block)
    if order is None:
        blocks = list(range(n_blocks))
    else:
        given = np.asarray(order)
        if given.dtype.kind not in "iu" or given.ndim != 1 or sorted(given.tolist()) != list(range(n_blocks)):
            raise ValueError(f"order must be a permutation of the {n_blocks} block indices 0..{n_blocks - 1}, "
                             f"got {order!r:.60}")
        blocks = given.tolist()
    return _online_softmax_steps(s, v, block, blocks)


def _online_softmax_steps(s: np.ndarray, v: np.ndarray, block: int, blocks: list[int]) -> Iterator[OnlineSoftmaxStep]:
    """The replay, without checks (a generator: the checks above run at the call, not at the first step)."""
    m, l, acc = -np.inf, 0.0, np.zeros(v.shape[1])
    for b in blocks:
        start = b * block
        end = min(start + block, s.size)
        m_new = max(m, float(s[start:end].max()))
        p = np.exp(s[start:end] - m_new)
        rescale = float(np.exp(m - m_new))
        l = l * rescale + float(p.sum())
        acc = acc * rescale + p @ v[start:end]
        m = m_new
        yield OnlineSoftmaxStep(b, (start, end), m, l, acc / l, rescale)


def tiled_attention_backward(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    output: ArrayLike,
    log_sum_exp: ArrayLike,
    grad_output: ArrayLike,
    *,
    causal: bool = False,
    scale: float | None = None,
    block_size: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of attention by recomputation: the weights are rebuilt tile by tile, never stored.

    The forward pass keeps only its output :math:`O` and, per query, the log-sum-exp of its
    scaled scores :math:`L_i = \log \sum_j e^{S_{ij}}` (``n_q`` numbers, not ``n_q x n_k``).
    The backward pass recomputes each tile of scores and gets the weights back exactly,
    :math:`A_{ij} = e^{S_{ij} - L_i}`; with :math:`D_i = \sum_c dO_{ic} O_{ic}` (which equals
    :math:`\sum_j A_{ij}\, dA_{ij}`), every tile adds its share of

    .. math:: dV = A^\top dO, \quad dS = A \odot (dO\,V^\top - D), \quad
              dQ = s\,dS\,K, \quad dK = s\,dS^\top Q,

    the same gradients as :func:`attn_core.scaled_dot_product_attention_backward`. This is
    the backward pass of FlashAttention (Dao et al., 2022, appendix B, which also introduced
    ``D``), with key blocks outside as in both FlashAttention papers (FlashAttention-2, Dao,
    2023, runs the key blocks in parallel), so that the gradients of one key block,
    ``dK_u`` and ``dV_u``, are complete when its inner loop over the query blocks ends, and
    each query block's ``dQ_a`` is read, added to and written back once per tile. Memory
    stays one tile per step whatever the sequence length, at the price of computing the
    scores twice.

    Parameters
    ----------
    q, k, v : array_like
        The forward pass's inputs, shapes as in :func:`tiled_attention`.
    output : array_like, shape (..., n_q, d_v)
        The forward pass's output.
    log_sum_exp : array_like, shape (..., n_q)
        Per query, :math:`\log \sum_j e^{S_{ij}}` over the keys it may attend (scaled
        scores); ``-inf`` for a query that sees no key.
    grad_output : array_like, shape (..., n_q, d_v)
        :math:`dL/dO`.
    causal : bool, default False
        As in the forward pass (bottom-right).
    scale : float, optional
        As in the forward pass; default ``1 / sqrt(d_k)``.
    block_size : int, default 256
        Rows of queries and of keys per tile.

    Returns
    -------
    grad_q, grad_k, grad_v : ndarray
        Same shapes as ``q``, ``k``, ``v`` (summed over any batch dimension they were
        broadcast along).

    Raises
    ------
    TypeError, ValueError
        As :func:`tiled_attention`; ``output`` or ``grad_output`` not ``(..., n_q, d_v)``,
        ``log_sum_exp`` not ``(..., n_q)`` or holding ``+inf``.

    Examples
    --------
    >>> import attn_core as ac
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 6, 4))
    >>> out, weights = ac.scaled_dot_product_attention(q, k, v, causal=True)
    >>> scores = np.where(ac.causal_mask(6), q @ k.T / 2, -np.inf)
    >>> log_sum_exp = np.log(np.exp(scores).sum(axis=-1))
    >>> grads = tiled_attention_backward(q, k, v, out, log_sum_exp, np.ones_like(out), causal=True, block_size=4)
    >>> expected = ac.scaled_dot_product_attention_backward(q, k, v, weights, np.ones_like(out))
    >>> all(np.allclose(g, e) for g, e in zip(grads, expected))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    n_q, d_v = q.shape[-2], v.shape[-1]
    o = as_float_array(output, "output", min_ndim=2, nonempty=True, finite=True)
    g = as_float_array(grad_output, "grad_output", min_ndim=2, nonempty=True, finite=True)
    lse = as_float_array(log_sum_exp, "log_sum_exp", min_ndim=1, nonempty=True, finite=True, minus_inf_allowed=True)
    for name, arr in (("output", o), ("grad_output", g)):
        if arr.shape[-2:] != (n_q, d_v):
            raise ValueError(f"{name} must be (..., n_q={n_q}, d_v={d_v}), got shape {arr.shape}")
    if lse.shape[-1] != n_q:
        raise ValueError(f"log_sum_exp must be (..., n_q={n_q}), got shape {lse.shape}")
    broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape, "output": o.shape, "grad_output": g.shape,
                     "log_sum_exp": lse.shape + (1,)})
    block = positive_int(block_size, "block_size")
    return _tiled_attention_backward(q, k, v, o, lse, g, flag(causal, "causal"), _checked_scale(scale, q), block)


def _tiled_attention_backward(q: np.ndarray, k: np.ndarray, v: np.ndarray, o: np.ndarray, lse: np.ndarray,
                              g: np.ndarray, causal: bool, scale: float, block: int
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The recomputing backward pass without checks; tiles over query and key blocks, batch dims broadcast."""
    lead = broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape, "o": o.shape, "g": g.shape,
                            "lse": lse.shape + (1,)})
    dtype = np.result_type(q, k, v, o, lse, g)
    n_q, n_k = q.shape[-2], k.shape[-2]
    offset = n_k - n_q  # causal: query i stands at position i + offset (bottom-right)
    qb, kb, vb, ob, gb = (np.broadcast_to(a, lead + a.shape[-2:]) for a in (q, k, v, o, g))  # views
    shift = np.broadcast_to(np.where(lse == -np.inf, 0, lse), lead + (n_q,))  # a row with no key: all P = 0
    delta = (gb * ob).sum(axis=-1)  # (..., n_q): D_i = rowsum(dO * O) = rowsum(A * dA)
    grad_q = np.zeros(lead + q.shape[-2:], dtype=dtype)
    grad_k = np.zeros(lead + k.shape[-2:], dtype=dtype)
    grad_v = np.zeros(lead + v.shape[-2:], dtype=dtype)
    for k_start in range(0, n_k, block):  # key blocks outside: dK_u and dV_u stay with their block
        k_stop = min(k_start + block, n_k)
        k_block, v_block = kb[..., k_start:k_stop, :], vb[..., k_start:k_stop, :]  # (..., b_k, d_k), (..., b_k, d_v)
        q_first = max(k_start - offset, 0) if causal else 0  # causal: no query block before the key block
        for start in range(q_first - q_first % block, n_q, block):
            end = min(start + block, n_q)
            q_block, g_block = qb[..., start:end, :], gb[..., start:end, :]  # (..., b_q, d_k), (..., b_q, d_v)
            scores = (q_block @ np.swapaxes(k_block, -1, -2)) * scale  # (..., b_q, b_k), recomputed
            if causal:
                future = np.arange(k_start, k_stop)[None, :] > np.arange(start + offset, end + offset)[:, None]
                scores = np.where(future, -np.inf, scores)  # (..., b_q, b_k)
            weights = np.exp(scores - shift[..., start:end, None])  # (..., b_q, b_k): A, exactly, from L
            grad_v[..., k_start:k_stop, :] += np.swapaxes(weights, -1, -2) @ g_block  # (..., b_k, d_v)
            grad_weights = g_block @ np.swapaxes(v_block, -1, -2)  # (..., b_q, b_k)
            grad_scores = weights * (grad_weights - delta[..., start:end, None]) * scale  # (..., b_q, b_k)
            grad_q[..., start:end, :] += grad_scores @ k_block  # (..., b_q, d_k): read, add, write back
            grad_k[..., k_start:k_stop, :] += np.swapaxes(grad_scores, -1, -2) @ q_block  # (..., b_k, d_k)
    return _unbroadcast(grad_q, q.shape), _unbroadcast(grad_k, k.shape), _unbroadcast(grad_v, v.shape)
