"""Turning scores into weights: softmax, its textbook form, entropy, and sparsemax.

Softmax (Bridle, 1990) maps a row of real scores to a row of positive weights that sum to
one. Attention applies it to every row of the score matrix ``S``, one row per query.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, as_mask, check_axis, positive_number

__all__ = ["softmax", "softmax_backward", "naive_softmax", "attention_entropy", "sparsemax"]


def softmax(
    x: ArrayLike,
    axis: int = -1,
    *,
    temperature: float = 1.0,
    mask: ArrayLike | None = None,
) -> np.ndarray:
    r"""Softmax along ``axis``, stable for any finite input.

    .. math:: \operatorname{softmax}(x)_j = \frac{\exp((x_j - m)/T)}{\sum_{l} \exp((x_l - m)/T)},
              \quad m = \max_l x_l

    Subtracting the row maximum ``m`` changes nothing mathematically but keeps every
    exponent at most 0, so nothing overflows, even for scores near 1e300.

    Parameters
    ----------
    x : array_like, shape (..., n)
        Scores. Integers are promoted to float64; float32 stays float32.
    axis : int, default -1
        The axis whose entries compete for weight.
    temperature : float, default 1.0
        ``T > 0``. Small ``T`` sharpens the weights towards one-hot on the largest score,
        large ``T`` flattens them towards uniform.
    mask : array_like of bool, optional
        Broadcastable to ``x.shape``; ``True`` = may receive weight. Masked entries get
        exactly 0 and their scores are ignored (even NaN). A row with no allowed entry gets
        all zeros, never NaN.

    Returns
    -------
    ndarray, same shape and float dtype as ``x``
        Non-negative weights; each row with at least one allowed entry sums to 1.

    Raises
    ------
    TypeError
        ``x`` is not numeric, ``mask`` is not boolean, ``temperature`` is not a number.
    ValueError
        ``mask`` does not broadcast to ``x``; ``temperature`` is <= 0, infinite or NaN;
        ``axis`` is out of range.

    Notes
    -----
    Scores of ``-inf`` get weight 0, like masked entries. If a row holds ``+inf``, its
    weight is shared equally by the ``+inf`` entries (the limit of large scores). A NaN
    score that is not masked makes its whole row NaN, so a bug upstream cannot hide.

    Examples
    --------
    >>> import attn_core as ac
    >>> ac.softmax([1.0, 2.0, 3.0]).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> ac.softmax([1000.0, 1001.0]).round(4)      # no overflow
    array([0.2689, 0.7311])
    >>> ac.softmax([1.0, 2.0, 3.0], mask=[True, True, False]).round(4)
    array([0.2689, 0.7311, 0.    ])
    >>> ac.softmax([1.0, 2.0, 3.0], temperature=100.0).round(3)
    array([0.33 , 0.333, 0.337])
    """
    x = as_float_array(x, "x", min_ndim=1)
    axis = check_axis(axis, x.ndim)
    t = positive_number(temperature, "temperature")
    allowed = None if mask is None else as_mask(mask, "mask", x.shape, "scores x")
    return _softmax(x, axis, t, allowed)


def softmax_backward(weights: ArrayLike, grad_weights: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Gradient of a loss through softmax: from dL/dA back to dL/dS.

    With :math:`A = \operatorname{softmax}(S)` along ``axis``, the Jacobian of one row is
    :math:`\operatorname{diag}(a) - a a^\top`, so

    .. math:: \frac{\partial L}{\partial s_j} = a_j \left(\frac{\partial L}{\partial a_j}
              - \sum_l a_l \frac{\partial L}{\partial a_l}\right)

    (temperature 1; divide by ``T`` for a temperature). Masked entries have ``a_j = 0`` and
    get zero gradient.

    Parameters
    ----------
    weights : array_like
        The softmax output ``A``.
    grad_weights : array_like, same shape
        ``dL/dA``.
    axis : int, default -1

    Returns
    -------
    ndarray, same shape
        ``dL/dS``.

    Examples
    --------
    >>> a = softmax([0.0, 1.0])
    >>> softmax_backward(a, [1.0, 0.0]).round(4)      # d a_0 / d s
    array([ 0.1966, -0.1966])
    """
    a = as_float_array(weights, "weights", min_ndim=1)
    g = as_float_array(grad_weights, "grad_weights", min_ndim=1)
    if a.shape != g.shape:
        raise ValueError(f"weights {a.shape} and grad_weights {g.shape} must have the same shape")
    axis = check_axis(axis, a.ndim)
    return a * (g - (a * g).sum(axis=axis, keepdims=True))


def _softmax(
    x: np.ndarray, axis: int, t: float, allowed: np.ndarray | None, *, overwrite: bool = False
) -> np.ndarray:
    """Softmax without input checks, for callers that have checked already.

    ``overwrite=True`` lets it work in ``x``'s own memory (callers pass a fresh array of
    scores they no longer need): one pass fewer over an n_q x n_k array.
    """
    if allowed is not None:
        x, overwrite = np.where(allowed, x, -np.inf), True
    m = np.max(x, axis=axis, keepdims=True)
    if np.isfinite(m).all():  # the common case: in place, no temporaries
        with np.errstate(over="ignore"):  # x - m may fall below -1.8e308: exp gives 0 anyway
            z = np.subtract(x, m, out=x if overwrite else None)
        if t != 1.0:
            z *= 1.0 / t
        np.exp(z, out=z)
        total = z.sum(axis=axis, keepdims=True)
        z *= np.reciprocal(total, out=total)  # one division per row, then multiplications
        return z
    # Rows whose maximum is +inf, -inf (nothing allowed) or NaN.
    pos_inf, neg_inf = m == np.inf, m == -np.inf
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        z = np.exp((x - np.where(pos_inf | neg_inf, 0.0, m)) / t)
        z = np.where(pos_inf, x == np.inf, z)
        w = z / z.sum(axis=axis, keepdims=True)
    return np.where(neg_inf, 0.0, w).astype(x.dtype, copy=False)


def _softmax_unshifted(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of a fresh array, in place, WITHOUT the max shift.

    Only for callers that have proved every score lies in ``[-b, b]`` with
    ``b <= safe_exp_bound(dtype, n)``: then no exponential overflows, no row underflows to
    zero, and the result equals the shifted softmax to rounding, with two passes fewer.
    """
    np.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    scores *= np.reciprocal(total, out=total)
    return scores


def safe_exp_bound(dtype: np.dtype, n: int) -> float:
    """Largest ``b`` such that ``n`` terms ``exp(x)``, ``|x| <= b``, neither overflow nor underflow."""
    info = np.finfo(dtype)
    return float(min(np.log(info.max) - np.log(max(n, 1)), -np.log(info.tiny)) - 2.0)


def naive_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""The textbook formula :math:`e^{x_j} / \sum_l e^{x_l}`, without the max shift.

    Kept for comparison only: it overflows to ``inf/inf = nan`` once a score passes about
    709 in float64 (88 in float32), and silently returns those NaNs.

    Parameters
    ----------
    x : array_like, shape (..., n)
    axis : int, default -1

    Returns
    -------
    ndarray, same shape as ``x``

    Examples
    --------
    >>> import attn_core as ac
    >>> ac.naive_softmax([1.0, 2.0, 3.0]).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> ac.naive_softmax([1000.0, 1001.0])
    array([nan, nan])
    """
    x = as_float_array(x, "x", min_ndim=1)
    axis = check_axis(axis, x.ndim)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return e / e.sum(axis=axis, keepdims=True)


def attention_entropy(weights: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Shannon entropy :math:`H = -\sum_j a_j \ln a_j` of each row of weights, in nats.

    ``0 ln 0`` counts as 0. ``H = 0`` for a one-hot row; ``H = ln n`` for a uniform row
    over ``n`` entries. ``exp(H)`` is the "effective number" of entries attended to.

    Parameters
    ----------
    weights : array_like, shape (..., n)
        Non-negative rows (normally summing to 1).
    axis : int, default -1

    Returns
    -------
    ndarray, shape ``weights.shape`` without ``axis``

    Raises
    ------
    ValueError
        If any weight is negative.

    Examples
    --------
    >>> import numpy as np, attn_core as ac
    >>> float(ac.attention_entropy([1.0, 0.0, 0.0]))
    0.0
    >>> bool(np.isclose(ac.attention_entropy([0.25] * 4), np.log(4)))
    True
    """
    w = as_float_array(weights, "weights", min_ndim=1)
    axis = check_axis(axis, w.ndim)
    if (w < 0).any():
        raise ValueError(f"weights must be non-negative; the smallest is {w.min()}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(w > 0, -w * np.log(w), 0.0)
    return terms.sum(axis=axis)


def sparsemax(x: ArrayLike, axis: int = -1, *, mask: ArrayLike | None = None) -> np.ndarray:
    r"""Sparsemax (Martins & Astudillo, 2016): the Euclidean projection onto the simplex.

    .. math:: \operatorname{sparsemax}(x)_j = \max(x_j - \tau, 0),
              \quad \tau \text{ chosen so that the row sums to } 1

    Unlike softmax it gives exactly zero weight to scores far enough below the best ones.

    Parameters
    ----------
    x : array_like, shape (..., n)
    axis : int, default -1
    mask : array_like of bool, optional
        Same convention as :func:`softmax`: ``True`` = may receive weight; a row with no
        allowed entry gets zeros.

    Returns
    -------
    ndarray, same shape and float dtype as ``x``

    Examples
    --------
    >>> import attn_core as ac
    >>> ac.sparsemax([1.0, 2.0, 3.0]).round(4)
    array([0., 0., 1.])
    >>> ac.sparsemax([0.0, 1.0, 1.5]).round(4)      # exact zeros, unlike softmax
    array([0.  , 0.25, 0.75])
    """
    x = as_float_array(x, "x", min_ndim=1)
    axis = check_axis(axis, x.ndim)
    allowed = None if mask is None else as_mask(mask, "mask", x.shape, "scores x")
    z = np.moveaxis(x if allowed is None else np.where(allowed, x, -np.inf), axis, -1)
    z_sorted = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        cumsum = np.cumsum(z_sorted, axis=-1)
        support = 1 + k * z_sorted > cumsum  # the sorted entries that keep weight
    k_max = support.sum(axis=-1, keepdims=True)
    empty = k_max == 0  # no allowed entry
    k_safe = np.maximum(k_max, 1)
    tau = (np.take_along_axis(cumsum, k_safe - 1, axis=-1) - 1) / k_safe
    with np.errstate(invalid="ignore"):
        p = np.where(empty, 0.0, np.maximum(z - tau, 0.0))
    nan_rows = np.isnan(z).any(axis=-1, keepdims=True)
    p = np.where(nan_rows, np.nan, p).astype(x.dtype, copy=False)
    return np.moveaxis(p, -1, axis)
