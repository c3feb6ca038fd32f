"""Chapter 1's toy memory: keys and values to look up, and the fixed-summary baseline.

Seeded: the same seed gives the same arrays on any machine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, positive_int

__all__ = ["key_value_memory", "summary_readout"]


def key_value_memory(
    n_items: int, d_k: int = 16, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A memory of ``n_items`` (key, value) pairs: random unit-length keys, scalar values.

    Think of a phone book: each key stands for a name, each value for a number. A query
    that equals one item's key asks for that item's value.

    Parameters
    ----------
    n_items : int
    d_k : int
        Width of the keys.
    seed : int

    Returns
    -------
    keys : ndarray, shape (n_items, d_k)
        Rows of length 1.
    values : ndarray, shape (n_items,)
        Standard normal numbers.

    Examples
    --------
    >>> keys, values = key_value_memory(4, 8, seed=0)
    >>> keys.shape, values.shape
    ((4, 8), (4,))
    >>> np.linalg.norm(keys, axis=1).round(6)
    array([1., 1., 1., 1.])
    """
    n_items, d_k = positive_int(n_items, "n_items"), positive_int(d_k, "d_k")
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((n_items, d_k))
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    return keys, rng.standard_normal(n_items)


def summary_readout(keys: ArrayLike, values: ArrayLike, queries: ArrayLike) -> np.ndarray:
    r"""Read values back from a fixed-size summary of the whole memory.

    The memory is first compressed into one ``d_k x d_v`` matrix
    :math:`M = \sum_j k_j^\top v_j` (an outer-product, "fast weight" memory; Schmidhuber,
    1992), whatever the number of items; a query reads :math:`q M`. Its size never grows,
    so once there are more items than dimensions they interfere: the fixed-length
    bottleneck of an encoder that must pass everything through one vector.

    Parameters
    ----------
    keys : array_like, shape (n, d_k)
    values : array_like, shape (n,) or (n, d_v)
    queries : array_like, shape (n_q, d_k)

    Returns
    -------
    ndarray, shape (n_q,) or (n_q, d_v)

    Examples
    --------
    >>> summary_readout(np.eye(2), [3.0, 5.0], [[1.0, 0.0]])   # orthogonal keys: exact
    array([3.])
    """
    k = as_float_array(keys, "keys", min_ndim=2)
    v = as_float_array(values, "values", min_ndim=1)
    q = as_float_array(queries, "queries", min_ndim=2)
    if v.shape[0] != k.shape[0]:
        raise ValueError(f"one value per key: keys {k.shape}, values {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same width: {q.shape}, {k.shape}")
    summary = k.T @ v  # (d_k,) or (d_k, d_v): the fixed-size state
    return q @ summary
