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
        Scores, not empty. Integers are promoted to float64; float32 stays float32. ``-inf``
        means weight 0; ``+inf`` is refused.
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
        ``x`` is empty or holds ``+inf``; ``mask`` does not broadcast to ``x``;
        ``temperature`` is <= 0, infinite or NaN; ``axis`` is out of range.

    Notes
    -----
    Scores of ``-inf`` get weight 0, like masked entries. A NaN score that is not masked
    makes its whole row NaN, so a bug upstream cannot hide.

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
    x = _scores(x)
    axis = check_axis(axis, x.ndim)
    temperature = positive_number(temperature, "temperature")
    allowed = None if mask is None else as_mask(mask, "mask", x.shape, "scores x")
    return _softmax(x, axis, temperature, allowed)


def _scores(x: ArrayLike) -> np.ndarray:
    """The door check of the softmax family: a non-empty float array, ``-inf`` allowed."""
    return as_float_array(x, "x", min_ndim=1, nonempty=True, finite=True, minus_inf_allowed=True)


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
    a = as_float_array(weights, "weights", min_ndim=1, nonempty=True, finite=True)
    g = as_float_array(grad_weights, "grad_weights", min_ndim=1, nonempty=True, finite=True)
    if a.shape != g.shape:
        raise ValueError(f"weights {a.shape} and grad_weights {g.shape} must have the same shape")
    axis = check_axis(axis, a.ndim)
    return _softmax_backward(a, g, axis)


def _softmax_backward(a: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
    """dL/dS from the weights ``a`` and dL/dA ``g``, without checks."""
    return a * (g - (a * g).sum(axis=axis, keepdims=True))


def _softmax(x: np.ndarray, axis: int, temperature: float, allowed: np.ndarray | None) -> np.ndarray:
    """Softmax without input checks, for callers that have checked already.

    ``allowed`` is a boolean array of ``x``'s shape or ``None``. The steps are the formula's:
    masked scores become ``-inf``; the row maximum is subtracted (a row of only ``-inf``
    subtracts 0 instead); exponentiate; divide by the row sum, which is 0 only for a row with
    no allowed entry, whose weights stay 0. A row whose maximum is ``+inf`` (scores that
    overflowed) shares its weight equally among its ``+inf`` entries, the limit of large
    scores. NaN propagates: ``NaN != 0``, so a NaN row is divided and stays NaN.
    """
    if allowed is not None:
        x = np.where(allowed, x, -np.inf)  # masked scores count as -inf
    row_max = np.max(x, axis=axis, keepdims=True)  # (..., 1, ...)
    shift = np.where(np.isinf(row_max), 0.0, row_max)  # no inf - inf
    with np.errstate(over="ignore"):  # (x - shift) / T below -1.8e308 is -inf: its exp is 0 anyway
        exponentials = np.exp((x - shift) / temperature)  # same shape as x
    exponentials = np.where(row_max == np.inf, x == np.inf, exponentials)
    total = exponentials.sum(axis=axis, keepdims=True)  # (..., 1, ...)
    inverse = np.divide(1.0, total, out=np.zeros_like(total), where=total != 0)  # one division per row
    return exponentials * inverse


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
    x = _scores(x)
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
        If any weight is negative or infinite, or ``weights`` is empty. A NaN weight gives
        a NaN entropy.

    Examples
    --------
    >>> import numpy as np, attn_core as ac
    >>> float(ac.attention_entropy([1.0, 0.0, 0.0]))
    0.0
    >>> bool(np.isclose(ac.attention_entropy([0.25] * 4), np.log(4)))
    True
    """
    w = as_float_array(weights, "weights", min_ndim=1, nonempty=True, finite=True)
    axis = check_axis(axis, w.ndim)
    if (w < 0).any():
        raise ValueError(f"weights must be non-negative; the smallest is {np.nanmin(w)}")
    log_w = np.log(w, out=np.zeros_like(w), where=w != 0)  # 0 ln 0 = 0; NaN stays NaN
    return 0.0 - (w * log_w).sum(axis=axis)  # 0.0 - : a one-hot row gives 0.0, not -0.0


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
    x = _scores(x)
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
