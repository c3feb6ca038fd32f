"""The toy sentence the token explorers of chapters 5, 7 and 9 share: embedded and projected once.

Only the checks and the setup live here; each explorer computes and draws its own picture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import attn_core as ac

from .._checks import index_in
from ..toy import query_key_projections

__all__ = ["sentence_setup"]


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
        Fixed projections, checked by :func:`attn_core.toy.query_key_projections`.
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
    ValueError
        Fewer than 2 or more than ``max_tokens`` tokens, or ``query`` out of range.

    Examples
    --------
    >>> x, tokens, rng, w_q, w_k = sentence_setup(["a", "b", "c"], 4, query=1, seed=0)
    >>> x.shape, tokens, w_q.shape == w_k.shape
    ((3, 4), ['a', 'b', 'c'], True)
    >>> sentence_setup(["a"], 4, query=0, seed=0)
    Traceback (most recent call last):
    ValueError: the explorer shows 2 to 12 tokens, got 1
    """
    x = ac.embed_tokens(tokens, d_model)  # (n, d_model); checks the tokens
    tokens = [str(t) for t in tokens]
    n = len(tokens)
    if not 2 <= n <= max_tokens:
        raise ValueError(f"the explorer shows 2 to {max_tokens} tokens, got {n}")
    index_in(query, n, "query", query_name)
    rng = np.random.default_rng(seed)
    w_q, w_k = query_key_projections(d_model, rng, w_q=w_q, w_k=w_k)
    return x, tokens, rng, w_q, w_k
