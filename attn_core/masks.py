"""Boolean attention masks, in the book's one convention: ``True`` = may attend.

A mask has shape ``(..., n_q, n_k)`` (or anything that broadcasts to it): entry ``[i, j]``
says whether query i may look at key j.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import positive_int

__all__ = ["causal_mask", "padding_mask"]


def causal_mask(n_q: int, n_k: int | None = None) -> np.ndarray:
    """Query i may attend to key j only if ``j <= i``: no peeking at the future.

    Parameters
    ----------
    n_q : int
        Number of queries (rows).
    n_k : int, optional
        Number of keys (columns); defaults to ``n_q``. The mask is aligned top-left: row i
        allows keys ``0..i`` whatever ``n_k`` is.

    Returns
    -------
    ndarray of bool, shape (n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        If a length is not a whole number >= 1.

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    n_q = positive_int(n_q, "n_q")
    n_k = n_q if n_k is None else positive_int(n_k, "n_k")
    return np.arange(n_k)[None, :] <= np.arange(n_q)[:, None]


def padding_mask(lengths: ArrayLike, n_k: int) -> np.ndarray:
    """Hide the padding at the end of each sequence in a batch.

    Parameters
    ----------
    lengths : array_like of int, shape (batch,)
        The true length of each sequence, ``0 <= length <= n_k``.
    n_k : int
        The padded length (number of keys).

    Returns
    -------
    ndarray of bool, shape (batch, 1, n_k)
        Broadcasts over the queries: key j is allowed iff ``j < lengths[b]``.

    Raises
    ------
    TypeError
        If ``lengths`` is not integral.
    ValueError
        If a length is negative or larger than ``n_k``.

    Examples
    --------
    >>> padding_mask([2, 3], 4).astype(int)
    array([[[1, 1, 0, 0]],
    <BLANKLINE>
           [[1, 1, 1, 0]]])
    """
    n_k = positive_int(n_k, "n_k")
    lengths = np.asarray(lengths)
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"lengths must be whole numbers, got dtype {lengths.dtype}")
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be a vector (batch,), got shape {lengths.shape}")
    if (lengths < 0).any() or (lengths > n_k).any():
        raise ValueError(f"every length must lie in 0..n_k={n_k}, got {lengths.tolist()}")
    return (np.arange(n_k)[None, :] < lengths[:, None])[:, None, :]
