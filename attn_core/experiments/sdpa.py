"""Chapter 5 (scaled dot-product attention): one sentence's weights at a chosen score scale.

:func:`scaled_weights` is what the chapter's explorer shows: the weights of every query of a
sentence, the scores multiplied by a scale the reader picks (0 gives uniform rows, the
standard 1/sqrt(d_k) the usual map), optionally with one query replaced by a typed vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, index_in, number_in_range
from attn_core.scores import _dot
from attn_core.softmax import _softmax

__all__ = ["scaled_weights"]


def scaled_weights(
    queries: ArrayLike,
    keys: ArrayLike,
    scale: float,
    *,
    query: int | None = None,
    query_vector: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The weights :math:`\operatorname{softmax}(c\, Q K^\top)` for a scale :math:`c`, one query replaceable.

    Parameters
    ----------
    queries : array_like, shape (n_q, d_k)
    keys : array_like, shape (n_k, d_k)
    scale : float
        The number :math:`c >= 0` multiplying the dot products (0 allowed: uniform weights).
    query : int, optional
        The row ``query_vector`` replaces.
    query_vector : sequence of float, shape (d_k,), optional
        A query of the reader's own for row ``query``.

    Returns
    -------
    weights : ndarray, shape (n_q, n_k)
    queries : ndarray, shape (n_q, d_k)
        The queries used (a copy, with the replaced row).

    Raises
    ------
    ValueError
        Queries or keys that are not matrices of one width; a scale that is negative or not
        finite; ``query`` out of range; ``query_vector`` of the wrong length, or without
        ``query``.

    Examples
    --------
    >>> weights, _ = scaled_weights(np.eye(2), np.eye(2), 0.0)
    >>> weights.tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    >>> weights, used = scaled_weights(np.eye(2), np.eye(2), 1.0, query=0, query_vector=[0.0, np.log(3.0)])
    >>> weights[0].round(3).tolist(), used[0].round(3).tolist()
    ([0.25, 0.75], [0.0, 1.099])
    """
    q = as_float_array(queries, "queries", min_ndim=2, max_ndim=2, nonempty=True, finite=True).copy()
    k = as_float_array(keys, "keys", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if k.shape[1] != q.shape[1]:
        raise ValueError(f"queries and keys must have the same width d_k: {q.shape}, {k.shape}")
    scale = number_in_range(scale, "scale", 0.0, np.inf, high_open=True)
    if query is not None:
        query = index_in(query, q.shape[0], "query", "query")
    if query_vector is not None:
        if query is None:
            raise ValueError("query_vector needs the row it replaces: give query")
        row = as_float_array(query_vector, "query_vector", min_ndim=1, max_ndim=1, finite=True)
        if row.shape != (q.shape[1],):
            raise ValueError(f"query_vector must have d_k = {q.shape[1]} numbers, got shape {row.shape}")
        q[query] = row
    return _softmax(_dot(q, k) * scale, -1, 1.0, None), q  # (n_q, n_k), (n_q, d_k)
