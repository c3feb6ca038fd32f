"""Chapter 1's toy memory: keys and values to look up, and the fixed-summary baseline.

Seeded: the same seed gives the same arrays on any machine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, nonnegative_int, positive_int

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
    seed = nonnegative_int(seed, "seed")
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((n_items, d_k))
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    return keys, rng.standard_normal(n_items)


def summary_readout(keys: ArrayLike, values: ArrayLike, queries: ArrayLike) -> np.ndarray:
    r"""Read values back from a fixed-size summary of the whole memory.

    The memory is first compressed into one ``d_k x d_v`` matrix
    :math:`F = \sum_j k_j^\top v_j` (an outer-product, "fast weight" memory; Schmidhuber,
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

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite arrays; shapes that do not fit together.

    Examples
    --------
    >>> summary_readout(np.eye(2), [3.0, 5.0], [[1.0, 0.0]])   # orthogonal keys: exact
    array([3.])
    """
    k = as_float_array(keys, "keys", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    v = as_float_array(values, "values", min_ndim=1, max_ndim=2, nonempty=True, finite=True)
    q = as_float_array(queries, "queries", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if v.shape[0] != k.shape[0]:
        raise ValueError(f"one value per key: keys {k.shape}, values {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same width: {q.shape}, {k.shape}")
    summary = k.T @ v  # (d_k,) or (d_k, d_v): the fixed-size state
    return q @ summary


# ---------------------------------------------------------------- one look-up at a selectivity
from attn_core._checks import index_in, number_in_range  # noqa: E402
from attn_core.scores import dot_product_scores  # noqa: E402
from attn_core.softmax import softmax  # noqa: E402

__all__ += ["selective_lookup"]


def selective_lookup(keys: ArrayLike, values: ArrayLike, item: int, beta: float) -> dict:
    r"""Ask the memory for ``item`` with its own key, at selectivity ``beta``.

    The weights are :math:`a = \operatorname{softmax}(\beta\, k_{item} \cdot k_j)`, the answer
    :math:`\sum_j a_j v_j`: the average of the values at ``beta = 0``, the stored value as
    ``beta`` grows (when the item's key matches itself best).

    Parameters
    ----------
    keys : array_like, shape (n, d_k)
    values : array_like, shape (n,)
    item : int
        Whose key is the query, 0 to n - 1.
    beta : float
        The selectivity, >= 0.

    Returns
    -------
    dict
        ``scores`` (n,), ``weights`` (n,), ``answer`` (float), ``average`` (the mean value)
        and ``truth`` (the value stored for ``item``).

    Raises
    ------
    ValueError
        Keys that are not a matrix, a value count that differs from the key count, ``item``
        out of range, a negative or infinite ``beta``.

    Examples
    --------
    >>> lookup = selective_lookup(np.eye(2), [1.0, 3.0], 0, 0.0)
    >>> lookup["weights"].tolist(), lookup["answer"], lookup["truth"]
    ([0.5, 0.5], 2.0, 1.0)
    """
    k = as_float_array(keys, "keys", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    v = as_float_array(values, "values", min_ndim=1, max_ndim=1, finite=True)
    if v.shape[0] != k.shape[0]:
        raise ValueError(f"one value per key: keys {k.shape}, values {v.shape}")
    item = index_in(item, k.shape[0], "item", "key")
    beta = number_in_range(beta, "beta", 0.0, np.inf)
    query = k[item][None, :]  # (1, d_k): ask for item `item`
    scores = dot_product_scores(query, k)[0]  # (n,)
    weights = softmax(beta * scores)  # (n,)
    return {"scores": scores, "weights": weights, "answer": float(weights @ v),  # sum_j a_j v_j
            "average": float(v.mean()), "truth": float(v[item])}
