"""Scaled dot-product attention in fewer passes over memory: the same maths as the reference.

:func:`attn_core.scaled_dot_product_attention` computes the formula step by step, and every
step reads and writes an ``n_q x n_k`` array. At the sizes of a benchmark those passes over
memory, not the arithmetic, take most of the time. This module computes the same result with
three of them saved; chapter 11 (efficiency) teaches where each one goes:

* the scale is folded into the queries (``n_q x d_k`` multiplications instead of ``n_q x n_k``);
* the softmax works in place, in the memory of the fresh score matrix;
* when the Cauchy-Schwarz inequality ``|q_i . k_j| <= |q_i| |k_j|`` proves that no score can
  overflow or underflow ``exp``, the softmax skips the row maximum and its subtraction.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core.attention import _checked_arguments
from attn_core.softmax import _softmax

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
    return _fast_attention(*_checked_arguments(q, k, v, mask, causal, scale, bias))


def _fast_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None,
    scale: float, bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The fast path, without checks."""
    q_scaled = q * np.asarray(scale, dtype=q.dtype)  # (..., n_q, d_k): scaling n_q x d_k numbers, not n_q x n_k
    scores = q_scaled @ np.swapaxes(k, -1, -2)  # (..., n_q, n_k): a fresh array the softmax may overwrite
    if bias is not None:
        scores = scores + bias  # (..., n_q, n_k), may gain leading dims from the bias
    if allowed is None and bias is None and _scores_are_small(q_scaled, k, scores.dtype):
        weights = _softmax_unshifted(scores)  # (..., n_q, n_k): no max needed
    else:
        weights = _softmax_in_place(scores, allowed)  # (..., n_q, n_k)
    return weights @ v, weights  # (..., n_q, d_v)


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
