"""Chapter 5 (scaled dot-product attention): where a sentence's queries and keys come from.

:func:`projection_weights` is what the chapter's explorer shows: the weights of every query of
a sentence when the queries and keys are the tokens themselves, one shared projection of them,
or two separate projections (chapter 2 argued why only the last lets a token look past
itself); :func:`self_peaks` counts the rows that peak on their own token.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, choice
from attn_core.scores import _dot
from attn_core.softmax import _softmax

__all__ = ["PROJECTIONS", "projection_weights", "self_peaks"]

#: The three ways of making queries and keys from the tokens ``X``, in the explorer's order.
PROJECTIONS = ("tokens as they are", "one matrix, W_Q = W_K", "separate W_Q and W_K")


def projection_weights(x: ArrayLike, w_q: ArrayLike, w_k: ArrayLike, projection: str
                       ) -> tuple[np.ndarray, np.ndarray]:
    r"""Scores and weights of self-attention over ``x`` with queries and keys made one of three ways.

    * ``"tokens as they are"``: :math:`Q = K = X`;
    * ``"one matrix, W_Q = W_K"``: :math:`Q = K = X W_K`;
    * ``"separate W_Q and W_K"``: :math:`Q = X W_Q`, :math:`K = X W_K`.

    The scores are :math:`S = Q K^\top / \sqrt{d}` with :math:`d` the width of the queries, and
    the weights their row-wise softmax. The first two give symmetric scores, :math:`S = S^\top`.

    Parameters
    ----------
    x : array_like, shape (n, d_model)
    w_q, w_k : array_like, shape (d_model, d_k)
    projection : one of :data:`PROJECTIONS`

    Returns
    -------
    scores, weights : ndarray, shape (n, n)

    Raises
    ------
    TypeError, ValueError
        Arrays that are not finite matrices, projections whose shapes do not fit ``x`` or each
        other, an unknown ``projection``.

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> w_q, w_k = np.array([[0.0], [2.0]]), np.array([[2.0], [0.0]])
    >>> scores, _ = projection_weights(x, w_q, w_k, "separate W_Q and W_K")
    >>> scores.tolist()                       # token 1 asks for token 0; nobody asks for 1
    [[0.0, 0.0], [4.0, 0.0]]
    >>> scores, _ = projection_weights(x, w_q, w_k, "one matrix, W_Q = W_K")
    >>> scores.tolist()                       # symmetric, largest on the diagonal
    [[4.0, 0.0], [0.0, 0.0]]
    """
    x = as_float_array(x, "x", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    w_q = as_float_array(w_q, "w_q", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    w_k = as_float_array(w_k, "w_k", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if w_q.shape != w_k.shape or w_q.shape[0] != x.shape[1]:
        raise ValueError(f"w_q and w_k must both have shape (d_model, d_k) with d_model = {x.shape[1]} "
                         f"(the width of x); got w_q {w_q.shape}, w_k {w_k.shape}")
    choice(projection, PROJECTIONS, "projection")
    return _projection_weights(x, w_q, w_k, projection)


def _projection_weights(x: np.ndarray, w_q: np.ndarray, w_k: np.ndarray, projection: str
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The kernel of :func:`projection_weights`, without checks."""
    if projection == PROJECTIONS[0]:
        q = k = x  # (n, d_model)
    elif projection == PROJECTIONS[1]:
        q = k = x @ w_k  # (n, d_k)
    else:
        q, k = x @ w_q, x @ w_k  # (n, d_k) each
    scores = _dot(q, k) / np.sqrt(q.shape[-1])  # (n, n)
    return scores, _softmax(scores, -1, 1.0, None)


def self_peaks(weights: ArrayLike) -> int:
    """How many rows of a square weight map put their largest weight on their own token.

    Parameters
    ----------
    weights : array_like, shape (n, n)

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        ``weights`` not a finite square matrix.

    Examples
    --------
    >>> self_peaks([[0.7, 0.3], [0.6, 0.4]])
    1
    """
    w = as_float_array(weights, "weights", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"weights must be square (one row and one column per token), got shape {w.shape}")
    return int((np.argmax(w, axis=1) == np.arange(len(w))).sum())
