"""Scaled dot-product attention in fewer passes over memory: the same maths as the reference.

:func:`attn_core.scaled_dot_product_attention` computes the formula step by step, and every
step reads and writes an ``n_q x n_k`` array. At the sizes of a benchmark those passes over
memory, not the arithmetic, take most of the time. This module computes the same result with
three of them saved; chapter 11 (efficiency) teaches where each one goes:

* the scale is folded into the queries (``n_q x d_k`` multiplications instead of ``n_q x n_k``);
* the softmax works in place, in the memory of the fresh score matrix;
* when the Cauchy-Schwarz inequality ``|q_i . k_j| <= |q_i| |k_j|`` proves that no score can
  overflow or underflow ``exp``, the softmax skips the row maximum and its subtraction.

Without a mask or a bias it can also spread the work over threads (``workers``): blocks of
query rows of every batch/head slice are independent, and numpy releases the GIL inside its
loops and matrix products, so the elementwise passes of the softmax use every core too.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import broadcast_batch, positive_int
from attn_core.attention import _checked_arguments
from attn_core.softmax import _softmax
from attn_core.tiled import _run_tasks

__all__ = ["fast_scaled_dot_product_attention"]


def fast_scaled_dot_product_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    causal: bool = False,
    scale: float | None = None,
    bias: ArrayLike | None = None,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Scaled dot-product attention, :math:`\operatorname{softmax}(QK^\top/\sqrt{d_k})\,V`, with fewer passes over memory.

    The same maths, arguments, checks and result (to rounding) as
    :func:`attn_core.scaled_dot_product_attention`, computed in fewer passes over the
    ``n_q x n_k`` arrays: the scale folded into the queries, the softmax in place, and no
    max shift when a Cauchy-Schwarz bound proves the scores small. Chapter 11 teaches it.

    Parameters
    ----------
    q, k, v, mask, causal, scale, bias
        As in :func:`attn_core.scaled_dot_product_attention`.
    workers : int, default 1
        Threads to spread the work over when there is no mask, causal mask or bias (with one, the
        work runs on one thread): blocks of query rows are independent tasks. The result does
        not depend on it. Give numpy's matrix library one thread per worker
        (``OPENBLAS_NUM_THREADS=1``, or ``attn_core.experiments.efficiency.blas_threads(1)``),
        or its own threads and these fight over the cores.

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`.

    Examples
    --------
    >>> import numpy as np, attn_core as ac
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 4))
    >>> fast = ac.fast_scaled_dot_product_attention(x, x, x, causal=True)
    >>> reference = ac.scaled_dot_product_attention(x, x, x, causal=True)
    >>> all(np.allclose(a, b) for a, b in zip(fast, reference))
    True
    """
    checked = _checked_arguments(q, k, v, mask, causal, scale, bias)
    return _fast_attention(*checked, workers=positive_int(workers, "workers"))


def _fast_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None,
    scale: float, bias: np.ndarray | None = None, workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """The fast path, without checks."""
    q_scaled = q * np.asarray(scale, dtype=q.dtype)  # (..., n_q, d_k): scaling n_q x d_k numbers, not n_q x n_k
    if workers > 1 and allowed is None and bias is None:
        return _fast_attention_threaded(q_scaled, k, v, workers)
    scores = q_scaled @ np.swapaxes(k, -1, -2)  # (..., n_q, n_k): a fresh array the softmax may overwrite
    if bias is not None:
        scores = scores + bias  # (..., n_q, n_k), may gain leading dims from the bias
    if allowed is None and bias is None and _scores_are_small(q_scaled, k, scores.dtype):
        weights = _softmax_unshifted(scores)  # (..., n_q, n_k): no max needed
    else:
        weights = _softmax_in_place(scores, allowed)  # (..., n_q, n_k)
    return weights @ v, weights  # (..., n_q, d_v)


#: Query rows per task of the threaded path: a (256, n_k) block of weights stays in cache longer.
ROWS_PER_TASK = 256


def _fast_attention_threaded(
    q_scaled: np.ndarray, k: np.ndarray, v: np.ndarray, workers: int
) -> tuple[np.ndarray, np.ndarray]:
    """The unmasked fast path on ``workers`` threads, one task per (slice, block of query rows).

    Each task does, for its rows, what :func:`_fast_attention` does for all of them, writing
    straight into the weights and the output: rows of attention do not depend on each other.
    """
    lead = broadcast_batch({"q": q_scaled.shape, "k": k.shape, "v": v.shape})
    weights_dtype = np.result_type(q_scaled, k)
    n_q, n_k = q_scaled.shape[-2], k.shape[-2]
    weights = np.empty(lead + (n_q, n_k), dtype=weights_dtype)
    out = np.empty(lead + (n_q, v.shape[-1]), dtype=np.result_type(weights_dtype, v))
    small = _scores_are_small(q_scaled, k, weights_dtype)  # one bound for all tasks, as the serial path
    q_scaled, k, v = (np.broadcast_to(a, lead + a.shape[-2:]) for a in (q_scaled, k, v))  # views
    tasks = itertools.product(np.ndindex(*lead), range(0, n_q, ROWS_PER_TASK))  # made as needed

    def run(task: tuple[tuple[int, ...], int]) -> None:
        index, start = task
        rows = slice(start, start + ROWS_PER_TASK)
        scores = np.matmul(q_scaled[index][rows], k[index].T, out=weights[index][rows])  # (b_q, n_k)
        block = _softmax_unshifted(scores) if small else _softmax_in_place(scores, None)
        if block is not scores:  # a row that was not finite: the reference softmax made a new array
            weights[index][rows] = block
        np.matmul(weights[index][rows], v[index], out=out[index][rows])  # (b_q, d_v)

    _run_tasks(run, tasks, workers)
    return out, weights


def _scores_are_small(q: np.ndarray, k: np.ndarray, dtype: np.dtype) -> bool:
    """True if Cauchy-Schwarz bounds every score ``|q_i . k_j| <= |q_i| |k_j|`` safely for exp.

    The bound costs O((n_q + n_k) d) instead of the O(n_q n_k) pass that finding each row's
    maximum would; when it holds, softmax needs no max shift. NaN fails the test.
    """
    longest_q = np.sqrt(np.max(np.einsum("...d,...d->...", q, q), initial=0.0))  # max_i |q_i|
    longest_k = np.sqrt(np.max(np.einsum("...d,...d->...", k, k), initial=0.0))  # max_j |k_j|
    return bool(longest_q * longest_k <= safe_exp_bound(dtype, k.shape[-2]))


def safe_exp_bound(dtype: np.dtype, n: int) -> float:
    """Largest ``b`` such that ``n`` terms ``exp(x)``, ``|x| <= b``, neither overflow nor underflow.

    Examples
    --------
    >>> round(safe_exp_bound(np.dtype(np.float32), 1000), 1)
    79.8
    """
    info = np.finfo(dtype)
    return float(min(np.log(info.max) - np.log(max(n, 1)), -np.log(info.tiny)) - 2.0)


def _softmax_unshifted(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of a fresh array, in place, WITHOUT the max shift.

    Only for callers that have proved every score lies in ``[-b, b]`` with
    ``b <= safe_exp_bound(dtype, n)``: then no exponential overflows, no row underflows to
    zero, and the result equals the shifted softmax to rounding, with two passes fewer. (Or
    that have shifted already: scores <= 0 with a 0 in every row.)
    """
    np.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)  # (..., n_q, 1)
    scores *= np.reciprocal(total, out=total)  # one division per row, then multiplications
    return scores


def _softmax_in_place(scores: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """Softmax over the last axis of a fresh array, in its own memory where it can.

    Rows whose maximum is not finite (no allowed key, NaN, scores that overflowed) are rare;
    for them it hands over to the reference :func:`attn_core.softmax._softmax`.
    """
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)  # (..., n_q, n_k), may gain the mask's leading dims
    row_max = np.max(scores, axis=-1, keepdims=True)  # (..., n_q, 1)
    if not np.isfinite(row_max).all():
        return _softmax(scores, -1, 1.0, None)
    with np.errstate(over="ignore"):  # scores - max below -1.8e308 is -inf: exp gives 0 anyway
        np.subtract(scores, row_max, out=scores)  # every score now <= 0, the largest of each row 0
    return _softmax_unshifted(scores)
