"""Small, seeded toy data and toy models that the chapters compute on.

Every generator takes a ``seed`` and returns the same arrays for the same seed on any
machine, so the numbers printed in the book are the numbers a reader gets.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, positive_int

__all__ = [
    "regression_target",
    "regression_data",
    "key_value_memory",
    "summary_readout",
    "embed_tokens",
    "query_key_projections",
]


def regression_target(x: ArrayLike) -> np.ndarray:
    r"""The smooth curve :math:`f(x) = \sin(2x) + 0.3x` that chapter 2 tries to recover.

    Examples
    --------
    >>> regression_target([0.0])
    array([0.])
    """
    x = as_float_array(x, "x")
    return np.sin(2 * x) + 0.3 * x


def regression_data(
    n: int = 40, *, noise: float = 0.3, low: float = 0.0, high: float = 5.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy samples ``y = f(x) + noise * eps`` of :func:`regression_target`, ``x`` sorted.

    Parameters
    ----------
    n : int
        Number of samples.
    noise : float
        Standard deviation of the Gaussian noise (>= 0).
    low, high : float
        The interval ``x`` is drawn from, uniformly.
    seed : int

    Returns
    -------
    x : ndarray, shape (n,)
    y : ndarray, shape (n,)

    Examples
    --------
    >>> x, y = regression_data(5, seed=1)
    >>> x.shape, bool((x[1:] >= x[:-1]).all())
    ((5,), True)
    """
    n = positive_int(n, "n")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not high > low:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(low, high, n))
    return x, regression_target(x) + noise * rng.standard_normal(n)


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


def embed_tokens(tokens: Sequence[str], d_model: int = 8, *, seed: int = 0) -> np.ndarray:
    """Give every distinct token a fixed random vector; equal tokens get equal rows.

    A stand-in for a learned embedding table, so that chapters can attend over words.
    The vector of a word depends only on the word, ``d_model`` and ``seed``, not on the
    sentence it appears in.

    Parameters
    ----------
    tokens : sequence of str
    d_model : int
    seed : int

    Returns
    -------
    ndarray, shape (len(tokens), d_model)
        Entries are standard normal.

    Examples
    --------
    >>> x = embed_tokens(["the", "cat", "the"], 4)
    >>> x.shape, bool((x[0] == x[2]).all()), bool((x[0] == x[1]).all())
    ((3, 4), True, False)
    """
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise TypeError("tokens must be a sequence of strings, e.g. 'the cat sat'.split()")
    d_model = positive_int(d_model, "d_model")
    rows = []
    for token in tokens:
        word_seed = zlib.crc32(token.encode("utf-8"))  # stable across runs and machines
        rows.append(np.random.default_rng([seed, word_seed]).standard_normal(d_model))
    return np.array(rows).reshape(len(tokens), d_model)



def query_key_projections(
    d_model: int,
    rng: np.random.Generator,
    *,
    d_k: int = 4,
    w_q: ArrayLike | None = None,
    w_k: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Toy projections ``W_Q`` and ``W_K`` (``d_model x d_k``), drawn unless given.

    A stand-in for learned projections, so that a chapter can turn :func:`embed_tokens`
    vectors into queries and keys. Missing ones are drawn from ``rng`` in the order
    ``W_Q``, then ``W_K``, with entries of variance ``1 / d_model``; given ones are checked.

    Returns
    -------
    w_q, w_k : ndarray, shape (d_model, d_k)

    Raises
    ------
    ValueError
        A given projection that is not ``(d_model, d_k)``, or two of different shapes.

    Examples
    --------
    >>> w_q, w_k = query_key_projections(8, np.random.default_rng(0))
    >>> w_q.shape, w_k.shape
    ((8, 4), (8, 4))
    """
    d_model, d_k = positive_int(d_model, "d_model"), positive_int(d_k, "d_k")
    out = []
    for name, w in (("w_q", w_q), ("w_k", w_k)):
        if w is None:
            w = rng.standard_normal((d_model, d_k)) / np.sqrt(d_model)
        w = as_float_array(w, name)
        if w.ndim != 2 or w.shape[0] != d_model:
            raise ValueError(f"{name} must have shape (d_model={d_model}, d_k), got {w.shape}")
        out.append(w)
    if out[0].shape != out[1].shape:
        raise ValueError(f"w_q and w_k must have the same shape (d_model, d_k), got {out[0].shape} and {out[1].shape}")
    return out[0], out[1]
