"""Toy multi-head layers for chapter 8: heads planted by hand, and key/value heads pooled.

Trained heads specialise (Clark et al., 2019): some look at the previous token, some at
other occurrences of the same word, some spread their attention over the whole sentence.
:func:`planted_heads` builds a :class:`~attn_core.multihead.MultiHeadAttention` layer whose
four heads do exactly that, by writing their query and key projections by hand, so that
the weight maps of a sentence can be read at a glance. The sentence enters as
:func:`word_position_codes`: a one-hot code of the word beside a one-hot code of its position.

:func:`mean_pool_kv_heads` turns a layer into one with fewer key/value heads by averaging
the key and value projections of the heads in each group, the conversion Ainslie et al.
(2023) use to start grouped-query attention from a multi-head checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attn_core._checks import nonnegative_int, positive_int, positive_number
from attn_core.experiments.data import _as_tokens
from attn_core.multihead import MultiHeadAttention

__all__ = ["PLANTED_HEAD_NAMES", "word_position_codes", "planted_heads", "mean_pool_kv_heads"]

#: What the four heads of :func:`planted_heads` look at, in order.
PLANTED_HEAD_NAMES = ("previous token", "next token", "same word", "broad")


def word_position_codes(tokens: Sequence[str], *, width: int = 16) -> np.ndarray:
    """One row per token: a one-hot code of its word, then a one-hot code of its position.

    Words are numbered in the order they first appear, so ``"the cat saw the"`` gives the
    word numbers 0, 1, 2, 0. Row ``i`` has a 1 in column ``word(i)`` and a 1 in column
    ``width + i``; every other entry is 0.

    Parameters
    ----------
    tokens : sequence of str
        At most ``width`` tokens.
    width : int, default 16
        Columns of each code; the rows have ``2 * width`` columns.

    Returns
    -------
    ndarray, shape (len(tokens), 2 * width)

    Raises
    ------
    TypeError
        ``tokens`` is not a sequence of strings.
    ValueError
        No tokens, or more tokens than ``width``.

    Examples
    --------
    >>> word_position_codes(["a", "b", "a"], width=3).astype(int)
    array([[1, 0, 0, 1, 0, 0],
           [0, 1, 0, 0, 1, 0],
           [1, 0, 0, 0, 0, 1]])
    """
    tokens = _as_tokens(tokens)
    width = positive_int(width, "width")
    if not 1 <= len(tokens) <= width:
        raise ValueError(f"tokens: need 1 to {width} tokens (the width of the codes), got {len(tokens)}")
    vocabulary = list(dict.fromkeys(tokens))  # distinct words, in order of first appearance
    codes = np.zeros((len(tokens), 2 * width))  # (n, 2 * width)
    for i, token in enumerate(tokens):
        codes[i, vocabulary.index(token)] = 1.0  # the word
        codes[i, width + i] = 1.0  # the position
    return codes


def planted_heads(*, d_head: int = 8, strength: float = 4.0, seed: int = 7) -> MultiHeadAttention:
    r"""A four-head layer whose heads attend to the previous token, the next token, the same word, everywhere.

    The layer reads :func:`word_position_codes` of width ``2 * d_head`` (so
    ``d_model = 4 * d_head``). Each head's columns of ``W_Q`` and ``W_K`` are written by
    hand so that a match scores ``strength`` after the scaling by :math:`1/\sqrt{d_\text{head}}`
    and everything else scores 0:

    0. **previous token**: query ``i`` matches key ``i - 1`` (the first token matches nothing);
    1. **next token**: query ``i`` matches key ``i + 1`` (the last token matches nothing);
    2. **same word**: query ``i`` matches every key with the same word, itself included;
    3. **broad**: no query matches anything, so every weight is ``1 / n``.

    A query that matches nothing has all its scores equal to 0 and spreads its weight evenly.
    ``W_V`` and ``W_O`` keep the layer's random initialisation; there are no biases.
    The patterns are exact for sentences of at most ``d_head`` tokens.

    Parameters
    ----------
    d_head : int, default 8
        Width of each head.
    strength : float, default 4.0
        The scaled score of a match.
    seed : int, default 7
        Seeds ``W_V`` and ``W_O``.

    Returns
    -------
    MultiHeadAttention
        ``d_model = 4 * d_head``, four heads, ``bias=False``.

    Raises
    ------
    TypeError, ValueError
        ``d_head`` not a whole number >= 1, ``strength`` not a number > 0.

    Examples
    --------
    >>> layer = planted_heads()
    >>> x = word_position_codes("the cat saw the dog".split())
    >>> _, weights = layer(x)                       # (heads, n, n)
    >>> weights[0, 2].round(2)                      # "saw" looks at "cat", before it
    array([0.01, 0.93, 0.02, 0.02, 0.02])
    >>> weights[2, 0].round(2)                      # "the" looks at both "the"s
    array([0.49, 0.01, 0.01, 0.49, 0.01])
    """
    d_head = positive_int(d_head, "d_head")
    strength = positive_number(strength, "strength")
    seed = nonnegative_int(seed, "seed")
    width = 2 * d_head  # of each code: word columns 0..width-1, position columns width..2*width-1
    layer = MultiHeadAttention(4 * d_head, 4, bias=False, seed=seed)
    layer.w_q[:] = 0.0
    layer.w_k[:] = 0.0
    match = strength * np.sqrt(d_head)  # q . k / sqrt(d_head) = strength for a match
    previous, following, same_word = 0, d_head, 2 * d_head  # first column of heads 0, 1, 2
    for p in range(d_head):  # key of position p: a 1 in column p of each positional head
        layer.w_k[width + p, previous + p] = 1.0
        layer.w_k[width + p, following + p] = 1.0
    for p in range(1, d_head + 1):  # the query of position p asks for position p - 1
        layer.w_q[width + p, previous + p - 1] = match
    for p in range(d_head - 1):  # the query of position p asks for position p + 1
        layer.w_q[width + p, following + p + 1] = match
    for word in range(d_head):  # query and key of word w: column w of the same-word head
        layer.w_q[word, same_word + word] = match
        layer.w_k[word, same_word + word] = 1.0
    return layer  # head 3 (broad) keeps zero queries and keys


def mean_pool_kv_heads(layer: MultiHeadAttention, n_kv_heads: int) -> MultiHeadAttention:
    """The same layer with fewer key/value heads, each the average of the heads it replaces.

    The key/value heads of ``layer`` are taken in consecutive groups; each group's columns
    of ``W_K`` and ``W_V`` (and biases) are averaged into one head. The query and output
    projections are copied. This is how Ainslie et al. (2023) convert a multi-head
    checkpoint to grouped-query attention before training it a little more; ``n_kv_heads=1``
    gives multi-query attention.

    Parameters
    ----------
    layer : MultiHeadAttention
    n_kv_heads : int
        Must divide ``layer.n_kv_heads``.

    Returns
    -------
    MultiHeadAttention
        A new layer; ``layer`` is not changed.

    Raises
    ------
    TypeError
        ``layer`` is not a MultiHeadAttention.
    ValueError
        ``n_kv_heads`` does not divide ``layer.n_kv_heads``.

    Examples
    --------
    >>> layer = MultiHeadAttention(8, 4, seed=0)
    >>> mqa = mean_pool_kv_heads(layer, 1)
    >>> mqa.w_k.shape, bool(np.allclose(mqa.w_k, layer.w_k.reshape(8, 4, 2).mean(axis=1)))
    ((8, 2), True)
    """
    if not isinstance(layer, MultiHeadAttention):
        raise TypeError(f"layer must be a MultiHeadAttention, got {type(layer).__name__}")
    n_kv_heads = positive_int(n_kv_heads, "n_kv_heads")
    if layer.n_kv_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads={n_kv_heads} does not divide the layer's "
                         f"n_kv_heads={layer.n_kv_heads}")
    pooled = MultiHeadAttention(layer.d_model, layer.n_heads, n_kv_heads=n_kv_heads, bias=layer.bias)
    per_group = layer.n_kv_heads // n_kv_heads  # old key/value heads averaged into one new one
    d_model, d_head = layer.d_model, layer.d_head

    def pool_columns(w: np.ndarray) -> np.ndarray:
        w = w.reshape(d_model, n_kv_heads, per_group, d_head)  # (d_model, new, per_group, d_head)
        return w.mean(axis=2).reshape(d_model, n_kv_heads * d_head)  # (d_model, new * d_head)

    def pool_bias(b: np.ndarray) -> np.ndarray:
        return b.reshape(n_kv_heads, per_group, d_head).mean(axis=1).reshape(-1)  # (new * d_head,)

    pooled.w_q, pooled.b_q = layer.w_q.copy(), layer.b_q.copy()
    pooled.w_o, pooled.b_o = layer.w_o.copy(), layer.b_o.copy()
    pooled.w_k, pooled.b_k = pool_columns(layer.w_k), pool_bias(layer.b_k)
    pooled.w_v, pooled.b_v = pool_columns(layer.w_v), pool_bias(layer.b_v)
    return pooled
