"""Attention in tiles with an online softmax: exact, without the n_q x n_k matrix.

The softmax of a row can be computed in one pass over blocks of keys if we keep three
running quantities per query: the largest score seen so far ``m``, the sum of exponentials
relative to it ``l``, and the weighted sum of values ``acc`` (Milakov & Gimelshein, 2018).
When a block raises the maximum from ``m`` to ``m'``, everything accumulated so far is
rescaled by ``exp(m - m')``. FlashAttention (Dao et al., 2022) organises the same
computation around GPU memory; Rabe & Staats (2021) around memory on any device.
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

from attn_core._checks import as_float_array, broadcast_batch, flag, positive_int
from attn_core.attention import _check_qkv, _checked_scale, _unbroadcast

__all__ = ["tiled_attention", "tiled_attention_backward", "online_softmax_steps", "OnlineSoftmaxStep"]


def tiled_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    causal: bool = False,
    scale: float | None = None,
    block_size: int = 256,
    workers: int = 1,
) -> np.ndarray:
    """Exact attention computed block by block; never materialises the n_q x n_k matrix.

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

    Returns
    -------
    ndarray, shape (..., n_q, d_v)
        float32 inputs give float32 output. A query that sees no key (causal, ``n_q > n_k``)
        gets zeros.

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
    return _tiled_attention(q, k, v, flag(causal, "causal"), _checked_scale(scale, q), block,
                            positive_int(workers, "workers"))


def _tiled_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool, scale: float,
                     block: int, workers: int = 1) -> np.ndarray:
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
        _query_block(q[index], k[index], v[index], out[index], start, causal, scale, block)

    _run_tasks(run, tasks, workers)
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


def _query_block(q: np.ndarray, k: np.ndarray, v: np.ndarray, out: np.ndarray, start: int,
                 causal: bool, scale: float, block: int) -> None:
    """Rows ``start : start + block`` of one slice's output, one key block at a time.

    ``q`` (n_q, d_k), ``k`` (n_k, d_k), ``v`` (n_k, d_v); writes ``out[start:end]`` (n_q, d_v).
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
        m_new = np.maximum(m, s.max(axis=1, keepdims=True))  # (b_q, 1)
        shift_by = np.where(m_new == -np.inf, 0.0, m_new)  # (b_q, 1); no key yet: no -inf - -inf
        s -= shift_by
        np.exp(s, out=s)  # P = exp(S - m_new), in place (0 for a hidden key)
        rescale = np.exp(m - shift_by)  # (b_q, 1): the old sums were relative to m
        l *= rescale
        l += s.sum(axis=1, keepdims=True)
        acc *= rescale
        acc += np.matmul(s, v[k_start:k_stop], out=product)  # (b_q, d_v)
        m = m_new
    np.divide(acc, l, out=out[start:end], where=l != 0)  # (b_q, d_v)


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
    the backward pass of FlashAttention (Dao et al., 2022) in the loop order of
    FlashAttention-2 (Dao, 2023): memory stays one tile per step whatever the sequence
    length, at the price of computing the scores twice.

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
    for start in range(0, n_q, block):
        end = min(start + block, n_q)
        q_block, g_block = qb[..., start:end, :], gb[..., start:end, :]  # (..., b_q, d_k), (..., b_q, d_v)
        k_end = min(n_k, end + offset) if causal else n_k  # causal: no key after the block's last query
        for k_start in range(0, max(k_end, 0), block):
            k_stop = min(k_start + block, k_end)
            k_block, v_block = kb[..., k_start:k_stop, :], vb[..., k_start:k_stop, :]
            scores = (q_block @ np.swapaxes(k_block, -1, -2)) * scale  # (..., b_q, b_k), recomputed
            if causal:
                future = np.arange(k_start, k_stop)[None, :] > np.arange(start + offset, end + offset)[:, None]
                scores = np.where(future, -np.inf, scores)  # (..., b_q, b_k)
            weights = np.exp(scores - shift[..., start:end, None])  # (..., b_q, b_k): A, exactly, from L
            grad_v[..., k_start:k_stop, :] += np.swapaxes(weights, -1, -2) @ g_block  # (..., b_k, d_v)
            grad_weights = g_block @ np.swapaxes(v_block, -1, -2)  # (..., b_q, b_k)
            grad_scores = weights * (grad_weights - delta[..., start:end, None]) * scale  # (..., b_q, b_k)
            grad_q[..., start:end, :] += grad_scores @ k_block  # (..., b_q, d_k)
            grad_k[..., k_start:k_stop, :] += np.swapaxes(grad_scores, -1, -2) @ q_block  # (..., b_k, d_k)
    return _unbroadcast(grad_q, q.shape), _unbroadcast(grad_k, k.shape), _unbroadcast(grad_v, v.shape)
