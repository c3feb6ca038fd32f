"""Toy data that several chapters compute on: embedded tokens, projections, a sentence, recall.

Every generator takes a ``seed`` and returns the same arrays for the same seed on any
machine, so the numbers printed in the book are the numbers a reader gets.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, flag, index_in, nonnegative_int, positive_int

__all__ = ["embed_tokens", "query_key_projections", "sentence_setup", "associative_recall"]


def _as_tokens(tokens: object, name: str = "tokens") -> list[str]:
    """``tokens`` as a non-empty list of strings, or raise naming ``name``."""
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"{name} must be a sequence of strings, e.g. 'the cat sat'.split(); got {tokens!r:.40}")
    if not tokens:
        raise ValueError(f"{name} must hold at least one token, got none")
    return list(tokens)


def embed_tokens(tokens: Sequence[str], d_model: int = 8, *, seed: int = 0) -> np.ndarray:
    """Give every distinct token a fixed random vector; equal tokens get equal rows.

    A stand-in for a learned embedding table, so that chapters can attend over words.
    The vector of a word depends only on the word, ``d_model`` and ``seed``, not on the
    sentence it appears in.

    Parameters
    ----------
    tokens : sequence of str
        At least one token.
    d_model : int
    seed : int
        A whole number >= 0.

    Returns
    -------
    ndarray, shape (len(tokens), d_model)
        Entries are standard normal.

    Raises
    ------
    TypeError, ValueError
        ``tokens`` not a non-empty sequence of strings; ``d_model`` or ``seed`` not a whole
        number (>= 1, >= 0).

    Examples
    --------
    >>> x = embed_tokens(["the", "cat", "the"], 4)
    >>> x.shape, bool((x[0] == x[2]).all()), bool((x[0] == x[1]).all())
    ((3, 4), True, False)
    """
    tokens = _as_tokens(tokens)
    d_model = positive_int(d_model, "d_model")
    seed = nonnegative_int(seed, "seed")
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
    TypeError
        ``rng`` not a numpy Generator; a projection that is not an array of numbers.
    ValueError
        A given projection that is not ``(d_model, d_k)`` or holds an infinity, or two of
        different shapes.

    Examples
    --------
    >>> w_q, w_k = query_key_projections(8, np.random.default_rng(0))
    >>> w_q.shape, w_k.shape
    ((8, 4), (8, 4))
    """
    d_model, d_k = positive_int(d_model, "d_model"), positive_int(d_k, "d_k")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {rng!r:.40}")
    given = {}
    for name, w in (("w_q", w_q), ("w_k", w_k)):
        if w is not None:
            w = as_float_array(w, name, nonempty=True, finite=True)
            if w.ndim != 2 or w.shape[0] != d_model:
                raise ValueError(f"{name} must have shape (d_model={d_model}, d_k), got {w.shape}")
            given[name] = w
    if len(given) == 2 and given["w_q"].shape != given["w_k"].shape:
        raise ValueError(f"w_q and w_k must have the same shape (d_model, d_k), got {given['w_q'].shape} "
                         f"and {given['w_k'].shape}")
    return _query_key_projections(d_model, rng, d_k, given.get("w_q"), given.get("w_k"))


def _query_key_projections(d_model: int, rng: np.random.Generator, d_k: int, w_q: np.ndarray | None,
                           w_k: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The kernel of :func:`query_key_projections`: draw the missing projections, in order."""
    out = []
    for w in (w_q, w_k):
        out.append(rng.standard_normal((d_model, d_k)) / np.sqrt(d_model) if w is None else w)
    if out[0].shape != out[1].shape:  # one given, one drawn
        raise ValueError(f"w_q and w_k must have the same shape (d_model, d_k), got {out[0].shape} and {out[1].shape}")
    return out[0], out[1]


def sentence_setup(
    tokens: Sequence[str],
    d_model: int,
    query: int,
    seed: int,
    *,
    w_q: np.ndarray | None = None,
    w_k: np.ndarray | None = None,
    max_tokens: int = 12,
    query_name: str = "token index",
) -> tuple[np.ndarray, list[str], np.random.Generator, np.ndarray, np.ndarray]:
    """Embed a short sentence and make its query/key projections, checking what a reader can pass.

    Parameters
    ----------
    tokens : sequence of str
        2 to ``max_tokens`` tokens, embedded with :func:`attn_core.embed_tokens`.
    d_model : int
    query : int
        The token whose row the explorer starts on, ``0 <= query < len(tokens)``.
    seed : int
        Seeds the generator that draws the projections (returned, for any further draws).
    w_q, w_k : ndarray, optional
        Fixed projections, checked by :func:`attn_core.experiments.data.query_key_projections`.
    max_tokens : int, default 12
    query_name : str
        What the query index counts, for the error message.

    Returns
    -------
    x : ndarray, shape (n, d_model)
    tokens : list of str
    rng : numpy.random.Generator
    w_q, w_k : ndarray, shape (d_model, d_k)

    Raises
    ------
    TypeError, ValueError
        Fewer than 2 or more than ``max_tokens`` tokens, ``query`` out of range, and the
        errors of :func:`embed_tokens` and :func:`query_key_projections`.

    Examples
    --------
    >>> x, tokens, rng, w_q, w_k = sentence_setup(["a", "b", "c"], 4, query=1, seed=0)
    >>> x.shape, tokens, w_q.shape == w_k.shape
    ((3, 4), ['a', 'b', 'c'], True)
    >>> sentence_setup(["a"], 4, query=0, seed=0)
    Traceback (most recent call last):
    ValueError: tokens: the explorer shows 2 to 12 tokens, got 1
    """
    tokens = _as_tokens(tokens)
    d_model = positive_int(d_model, "d_model")
    seed = nonnegative_int(seed, "seed")
    max_tokens = positive_int(max_tokens, "max_tokens")
    n = len(tokens)
    if not 2 <= n <= max_tokens:
        raise ValueError(f"tokens: the explorer shows 2 to {max_tokens} tokens, got {n}")
    index_in(query, n, "query", query_name)
    x = embed_tokens(tokens, d_model)  # (n, d_model)
    rng = np.random.default_rng(seed)
    w_q, w_k = query_key_projections(d_model, rng, w_q=w_q, w_k=w_k)
    return x, tokens, rng, w_q, w_k


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

    Raises
    ------
    TypeError, ValueError
        A size, ``seed`` or ``distance`` that is not a whole number in range; ``ordered`` not
        a boolean; ``n_keys < n_pairs``.

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
    if distance is not None and not 1 <= positive_int(distance, "distance") <= n_pairs:
        raise ValueError(f"distance must lie in 1..n_pairs={n_pairs}, got {distance}")
    seed = nonnegative_int(seed, "seed")
    ordered = flag(ordered, "ordered")
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
