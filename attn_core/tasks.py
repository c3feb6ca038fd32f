"""Seeded toy tasks on which small models are trained in the book.

Associative recall: a sequence of (key, value) pairs is read, then a query key; the answer is
the value that was paired with that key. The *distance* of an example is how many pairs
back the queried pair lies (1 = the last pair before the query). A model can only answer if
information about every pair survives until the query arrives, or if it can look back.
"""

from __future__ import annotations

import numpy as np

from ._checks import positive_int

__all__ = ["associative_recall"]


def associative_recall(
    n_examples: int,
    *,
    n_pairs: int,
    n_keys: int,
    n_values: int,
    seed: int = 0,
    distance: int | None = None,
    ordered: bool = False,
) -> dict[str, np.ndarray]:
    """Examples of the associative recall task.

    Parameters
    ----------
    n_examples : int
    n_pairs : int
        Pairs per sequence ``L``.
    n_keys : int
        Size of the key vocabulary; the keys of one sequence are distinct, so
        ``n_keys >= n_pairs``.
    n_values : int
        Size of the value vocabulary (values may repeat). Chance accuracy is ``1/n_values``.
    seed : int
    distance : int, optional
        Put every query at this distance (``1..n_pairs``); default uniform.
    ordered : bool, default False
        Use the positions ``0, 1, ..., L-1`` as the keys of every sequence, so that the query
        names a position: "which value came ``d`` pairs before the end?" (recall by
        position rather than by content).

    Returns
    -------
    dict with
        ``keys`` (n_examples, L) int, ``values`` (n_examples, L) int, ``query`` (n_examples,)
        int, ``distance`` (n_examples,) int, ``labels`` (n_examples,) int: the answer.

    Examples
    --------
    >>> d = associative_recall(3, n_pairs=4, n_keys=6, n_values=5, seed=0)
    >>> d["keys"].shape, d["labels"].shape
    ((3, 4), (3,))
    >>> i = 0; pos = 4 - d["distance"][i]
    >>> bool(d["keys"][i, pos] == d["query"][i] and d["values"][i, pos] == d["labels"][i])
    True
    >>> o = associative_recall(2, n_pairs=4, n_keys=4, n_values=5, ordered=True, seed=0)
    >>> o["keys"][0].tolist(), bool((o["query"] == 4 - o["distance"]).all())
    ([0, 1, 2, 3], True)
    """
    n_examples, n_pairs = positive_int(n_examples, "n_examples"), positive_int(n_pairs, "n_pairs")
    n_keys, n_values = positive_int(n_keys, "n_keys"), positive_int(n_values, "n_values")
    if n_keys < n_pairs:
        raise ValueError(f"n_keys={n_keys} must be >= n_pairs={n_pairs} (keys in a sequence are distinct)")
    if distance is not None and not 1 <= distance <= n_pairs:
        raise ValueError(f"distance must lie in 1..n_pairs={n_pairs}, got {distance}")
    rng = np.random.default_rng(seed)
    if ordered:
        keys = np.tile(np.arange(n_pairs), (n_examples, 1))
    else:
        keys = np.argsort(rng.random((n_examples, n_keys)), axis=1)[:, :n_pairs]  # distinct per row
    values = rng.integers(0, n_values, (n_examples, n_pairs))
    if distance is None:
        dist = rng.integers(1, n_pairs + 1, n_examples)
    else:
        dist = np.full(n_examples, distance)
    rows, pos = np.arange(n_examples), n_pairs - dist
    return {
        "keys": keys,
        "values": values,
        "query": keys[rows, pos],
        "distance": dist,
        "labels": values[rows, pos],
    }
