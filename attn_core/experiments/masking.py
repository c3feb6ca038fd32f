"""Chapter 7's experiment: what a next-token predictor learns with and without a causal mask.

A language model is trained to predict token ``t + 1`` from position ``t`` for every
position at once (teacher forcing), and is then used to generate, when only the tokens up
to ``t`` exist. The causal mask (Vaswani et al., 2017) makes the two situations the same for
the model. :class:`attn_core.training.models.NextTokenModel` can be built with or without it,
and :func:`attn_core.training.loop.train` trains both on :func:`next_token_data`, so
chapter 7 can compare what each learned.

The toy data, :func:`repeated_sequences`, makes the comparison measurable: the first half
of every sequence is random (no honest model can predict it better than chance) and the
second half repeats the first (an honest model can learn to look back).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_int_array, flag, nonnegative_int, positive_int
from attn_core.training.models import NextTokenModel

__all__ = ["repeated_sequences", "next_token_data", "next_token_accuracy"]


def repeated_sequences(n_sequences: int, *, half: int = 6, vocab: int = 8, seed: int = 0) -> np.ndarray:
    """Sequences whose second half repeats their first: ``a b c a b c``.

    Parameters
    ----------
    n_sequences : int
    half : int, default 6
        Length of the random first half; sequences have ``2 * half`` tokens.
    vocab : int, default 8
        Tokens are integers ``0 .. vocab - 1``, drawn uniformly and independently.
    seed : int, default 0

    Returns
    -------
    ndarray of int, shape (n_sequences, 2 * half)

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1; ``vocab`` must be >= 2.

    Examples
    --------
    >>> s = repeated_sequences(2, half=3, vocab=5, seed=1)
    >>> s.shape, bool((s[:, :3] == s[:, 3:]).all())
    ((2, 6), True)
    """
    n_sequences, half = positive_int(n_sequences, "n_sequences"), positive_int(half, "half")
    vocab, seed = positive_int(vocab, "vocab"), nonnegative_int(seed, "seed")
    if vocab < 2:
        raise ValueError(f"vocab must be >= 2 (one token would make every prediction trivial), got {vocab}")
    first = np.random.default_rng(seed).integers(0, vocab, (n_sequences, half))
    return np.concatenate([first, first], axis=1)


def next_token_data(sequences: ArrayLike) -> dict[str, np.ndarray]:
    """A training set for next-token prediction: every position's label is the token after it.

    Parameters
    ----------
    sequences : array_like of int, shape (n_sequences, n), n >= 2

    Returns
    -------
    dict
        ``tokens`` (n_sequences, n), the sequences, and ``labels`` (n_sequences, n - 1),
        ``tokens[:, 1:]``, as :class:`~attn_core.training.models.NextTokenModel` and
        :func:`attn_core.training.loop.train` read them.

    Raises
    ------
    TypeError, ValueError
        Sequences that are not whole numbers >= 0 of shape (n_sequences, n) with n >= 2.

    Examples
    --------
    >>> next_token_data([[0, 1, 2], [2, 2, 0]])["labels"]
    array([[1, 2],
           [2, 0]])
    """
    tokens = as_int_array(sequences, "sequences", ndim=2, low=0)
    if tokens.shape[0] == 0 or tokens.shape[1] < 2:
        raise ValueError(f"sequences must be (n_sequences >= 1, n >= 2) tokens; got shape {tokens.shape}")
    return {"tokens": tokens, "labels": tokens[:, 1:]}


def next_token_accuracy(model: NextTokenModel, tokens: ArrayLike, *, prefix_only: bool = False) -> np.ndarray:
    """How often the model's most likely next token is right, at each position ``t = 0 .. n-2``.

    Parameters
    ----------
    model : NextTokenModel
    tokens : array_like of int, shape (n_sequences, n), 2 <= n <= n_positions
    prefix_only : bool, default False
        False: one forward pass over the whole sequence (teacher forcing, as in training).
        True: as when generating text, position ``t`` is predicted from ``tokens[:, :t + 1]``
        alone, the tokens after it not yet existing.

    Returns
    -------
    ndarray, shape (n - 1,)
        Accuracy of the prediction of token ``t + 1`` made at position ``t``.

    Raises
    ------
    TypeError, ValueError
        A model that is not a NextTokenModel, tokens it cannot read, a ``prefix_only`` that
        is not True or False.

    Examples
    --------
    >>> data = repeated_sequences(8, half=2, vocab=3)
    >>> model = NextTokenModel(3, 4, width=4)     # causal: the two ways agree
    >>> a, b = next_token_accuracy(model, data), next_token_accuracy(model, data, prefix_only=True)
    >>> a.shape, bool(np.array_equal(a, b))
    ((3,), True)
    """
    if not isinstance(model, NextTokenModel):
        raise TypeError(f"model must be a NextTokenModel, got {type(model).__name__}")
    tokens = model.check_inputs({"tokens": tokens}, "tokens")["tokens"]
    prefix_only = flag(prefix_only, "prefix_only")
    n = tokens.shape[1]
    if not prefix_only:
        logits, _ = model._all_logits(tokens)  # (B, n, vocab)
        return (logits[:, :-1].argmax(axis=-1) == tokens[:, 1:]).mean(axis=0)
    hits = []
    for t in range(n - 1):
        logits, _ = model._all_logits(tokens[:, :t + 1])  # (B, t + 1, vocab): the future is absent
        hits.append((logits[:, -1].argmax(axis=-1) == tokens[:, t + 1]).mean())
    return np.array(hits)


# ------------------------------------------------------- the mask editor of the chapter's explorer
from attn_core.masks import causal_mask, sliding_window_mask  # noqa: E402
from attn_core._checks import as_float_array, as_mask, index_in  # noqa: E402
from attn_core.softmax import _softmax  # noqa: E402

__all__ += ["editor_masks", "masked_weights", "toggle_cells"]


def editor_masks(is_real: ArrayLike) -> dict[str, np.ndarray]:
    """The masks on the editor's "Mask" slider, in order, for a sequence with padding.

    Parameters
    ----------
    is_real : array_like of bool, shape (n,)
        False at the padding positions.

    Returns
    -------
    dict of name -> ndarray of bool, shape (n, n)
        ``none``, ``padding`` (keys only), ``padding + queries`` (padding hidden as keys
        and as queries), ``causal``, ``window & padding`` (each query sees itself and the
        key before it, padding hidden) and
        ``only key 1``.

    Examples
    --------
    >>> masks = editor_masks([True, True, False])
    >>> list(masks)[:3]
    ['none', 'padding', 'padding + queries']
    >>> masks["window & padding"].astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [0, 1, 0]])
    """
    real = np.asarray(is_real)
    if real.dtype.kind != "b" or real.ndim != 1 or real.size < 2:
        raise ValueError(f"is_real must be a boolean vector of at least 2 positions, got {real.dtype} {real.shape}")
    n = real.size
    keys = np.broadcast_to(real[None, :], (n, n))  # (n, n): padding hidden as a key
    everything = np.ones((n, n), dtype=bool)
    return {
        "none": everything,
        "padding": keys.copy(),
        "padding + queries": real[:, None] & real[None, :],
        "causal": causal_mask(n),
        "window & padding": sliding_window_mask(n, window=1, causal=True) & keys,
        "only key 1": everything & (np.arange(n) == 1)[None, :],
    }


def masked_weights(scores: ArrayLike, allowed: ArrayLike) -> dict:
    r"""Weights with and without a mask, and the share of each row the allowed keys held.

    Row i of the masked weights is the unmasked row restricted to the allowed keys and
    divided by their share :math:`\sum_{l \text{ allowed}} a_{il}`; a row with no allowed key
    is all zeros.

    Parameters
    ----------
    scores : array_like, shape (n_q, n_k)
    allowed : array_like of bool, shape (n_q, n_k)

    Returns
    -------
    dict
        ``weights`` (masked), ``unmasked``, ``share`` (n_q,) and ``empty_rows`` (list of
        the queries with no allowed key).

    Raises
    ------
    TypeError
        ``scores`` is not an array of real numbers, or ``allowed`` is not boolean.
    ValueError
        ``scores`` is not a non-empty matrix of finite numbers (NaN passes through), or
        ``allowed`` does not broadcast to its shape.

    Examples
    --------
    >>> state = masked_weights([[0.0, 0.0, np.log(2.0)]], [[True, False, True]])
    >>> state["unmasked"].round(2).tolist(), state["share"].round(2).tolist()
    ([[0.25, 0.25, 0.5]], [0.75])
    >>> state["weights"].round(3).tolist()
    [[0.333, 0.0, 0.667]]
    """
    scores = as_float_array(scores, "scores", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    allowed = as_mask(allowed, "allowed", scores.shape, "scores")  # (n_q, n_k)
    return _masked_weights(scores, allowed)


def _masked_weights(scores: np.ndarray, allowed: np.ndarray) -> dict:
    """:func:`masked_weights` without the checks: float scores and a boolean mask, both (n_q, n_k)."""
    unmasked = _softmax(scores, -1, 1.0, None)  # (n_q, n_k)
    weights = _softmax(scores, -1, 1.0, allowed)  # (n_q, n_k)
    share = np.where(allowed, unmasked, 0.0).sum(axis=-1)  # (n_q,)
    return {"weights": weights, "unmasked": unmasked, "share": share,
            "empty_rows": [int(i) for i in np.flatnonzero(~allowed.any(axis=-1))]}


def toggle_cells(allowed: ArrayLike, cells) -> np.ndarray:
    """A copy of the boolean mask ``allowed`` with each listed ``(query, key)`` cell switched.

    Parameters
    ----------
    allowed : array_like of bool, shape (n_q, n_k)
    cells : sequence of (int, int)
        Cells to switch (allowed <-> blocked), e.g. what the reader typed.

    Returns
    -------
    ndarray of bool, shape (n_q, n_k)
        ``allowed`` itself is left unchanged.

    Raises
    ------
    ValueError
        ``allowed`` is not a boolean matrix; a cell outside it.

    Examples
    --------
    >>> toggle_cells(np.eye(2, dtype=bool), [(0, 1), (1, 1)]).astype(int).tolist()
    [[1, 1], [0, 0]]
    """
    mask = np.asarray(allowed)
    if mask.dtype.kind != "b" or mask.ndim != 2:
        raise ValueError(f"allowed must be a boolean matrix (n_q, n_k), got {mask.dtype} {mask.shape}")
    try:
        listed = [tuple(cell) for cell in cells]
    except TypeError:
        raise TypeError(f"cells must be a sequence of (query, key) pairs, got {cells!r:.40}") from None
    if any(len(cell) != 2 for cell in listed):
        raise ValueError(f"cells must be (query, key) pairs, got {cells!r:.60}")
    pairs = [(index_in(i, mask.shape[0], "cells", "query"), index_in(j, mask.shape[1], "cells", "key"))
             for i, j in listed]
    return _toggle_cells(mask, pairs)


def _toggle_cells(mask: np.ndarray, pairs) -> np.ndarray:
    """:func:`toggle_cells` without the checks: a boolean matrix and in-range (query, key) pairs."""
    toggled = mask.copy()  # (n_q, n_k)
    for i, j in pairs:
        toggled[i, j] = not toggled[i, j]
    return toggled
