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

The cost of decoding is counted by :func:`decode_step_bytes` (the bytes one step reads: every
weight once, and every sequence's key/value cache), :func:`decode_step_flops` (the
arithmetic of the same step), :func:`cache_crossover_tokens` (the batch x context at which the
cache reads as many bytes as the weights), :func:`decode_flops_per_byte` (the step's arithmetic
per byte read), :func:`memory_bound_context` (the context beyond which a step is memory-bound at
every batch), :func:`kv_sharing_speedup` (what shrinking the cache buys a memory-bound step) and
:func:`generation_flops` (generating a whole sequence with and without the cache, every layer
counted). They take a model's shape as
keywords, e.g. ``**LLAMA2_7B``; Pope et al. (2023) analyse inference the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import math

from attn_core._checks import flag, nonnegative_int, number_in_range, positive_int, positive_number
from attn_core.experiments.data import _as_tokens
from attn_core.multihead import MultiHeadAttention, _kv_cache_bytes

__all__ = ["PLANTED_HEAD_NAMES", "word_position_codes", "planted_heads", "mean_pool_kv_heads",
           "LLAMA2_7B", "LLAMA2_70B", "decode_step_bytes", "decode_step_flops",
           "cache_crossover_tokens", "generation_flops", "decode_flops_per_byte", "memory_bound_context",
           "kv_sharing_speedup", "LLAMA2_VOCABULARY"]

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


# ---------------------------------------------------------------- the cost of decoding

#: Llama 2 7B (Touvron et al., 2023): 32 layers of 32 heads of width 128 (d_model 4096), every
#: head with its own keys and values; the parameter count of the released checkpoint.
LLAMA2_7B = {"parameters": 6_738_415_616, "n_layers": 32, "n_heads": 32, "n_kv_heads": 32, "d_head": 128}

#: Llama 2 70B (Touvron et al., 2023): 80 layers of 64 query heads of width 128 (d_model 8192),
#: grouped-query attention with 8 key/value heads, trained that way from the start.
LLAMA2_70B = {"parameters": 68_976_648_192, "n_layers": 80, "n_heads": 64, "n_kv_heads": 8, "d_head": 128}

#: Tokens in the vocabulary of every Llama 2 model (Touvron et al., 2023): the embedding table
#: has this many rows of width d_model.
LLAMA2_VOCABULARY = 32_000


def _model_shape(parameters, n_layers, n_heads, n_kv_heads, d_head) -> tuple[int, int, int, int, int]:
    """The door check shared by the cost functions: whole numbers >= 1, n_kv_heads dividing n_heads."""
    shape = tuple(positive_int(v, name) for v, name in [
        (parameters, "parameters"), (n_layers, "n_layers"), (n_heads, "n_heads"),
        (n_kv_heads, "n_kv_heads"), (d_head, "d_head")])
    if shape[2] % shape[3]:
        raise ValueError(f"n_kv_heads={shape[3]} does not divide n_heads={shape[2]}")
    return shape


def decode_step_bytes(context: int, *, parameters: int, n_layers: int, n_heads: int, n_kv_heads: int,
                      d_head: int, batch: int = 1, bytes_per_number: int = 2) -> dict[str, int]:
    """Bytes one decoding step reads from memory: every weight once, and every sequence's cache.

    A step produces one new token for each of ``batch`` sequences. The weights are read once
    for the whole batch (each weight is used for every sequence while it is in fast memory);
    the key/value cache is read once per sequence, since each sequence has its own:

    ``weights = parameters * bytes_per_number``,
    ``cache = 2 * n_layers * n_kv_heads * d_head * context * batch * bytes_per_number``.

    Activations, which are small at one token a sequence, are not counted.

    Parameters
    ----------
    context : int
        Tokens in each sequence's cache at this step, the new one included.
    parameters, n_layers, n_heads, n_kv_heads, d_head : int
        The model's shape (e.g. ``**LLAMA2_7B``); ``n_kv_heads`` must divide ``n_heads``.
    batch : int, default 1
        Sequences decoded together.
    bytes_per_number : int, default 2
        2 for 16-bit numbers (bfloat16, float16).

    Returns
    -------
    dict
        ``{"weights": bytes, "cache": bytes}``.

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1; ``n_kv_heads`` not dividing ``n_heads``.

    Examples
    --------
    >>> step = decode_step_bytes(4096, **LLAMA2_7B)
    >>> round(step["weights"] / 1e9, 2), round(step["cache"] / 1e9, 2)     # GB
    (13.48, 2.15)
    """
    context = positive_int(context, "context")
    parameters, n_layers, _, n_kv_heads, d_head = _model_shape(parameters, n_layers, n_heads, n_kv_heads, d_head)
    batch = positive_int(batch, "batch")
    bytes_per_number = positive_int(bytes_per_number, "bytes_per_number")
    return _decode_step_bytes(context, parameters, n_layers, n_kv_heads, d_head, batch, bytes_per_number)


def _decode_step_bytes(context: int, parameters: int, n_layers: int, n_kv_heads: int, d_head: int, batch: int,
                       bytes_per_number: int) -> dict[str, int]:
    """:func:`decode_step_bytes` without checks: every weight once, every sequence's cache once."""
    return {"weights": parameters * bytes_per_number,
            "cache": _kv_cache_bytes(context, n_layers, n_kv_heads, d_head, batch, bytes_per_number)}


def decode_step_flops(context: int, *, parameters: int, n_layers: int, n_heads: int, n_kv_heads: int,
                      d_head: int, batch: int = 1) -> dict[str, int]:
    """Floating-point operations of one decoding step (a multiply-add counts as 2).

    ``weights = 2 * parameters * batch``: each weight multiplies one number of each new token
    and adds it (the usual estimate, which also counts the embedding matrix);
    ``attention = 4 * n_layers * n_heads * d_head * context * batch``: each query head forms
    ``context`` scores of ``d_head`` multiply-adds and as long a weighted average. Grouped
    key/value heads do not reduce it: every query head still reads every cached key.

    Parameters
    ----------
    context : int
        Tokens each new query attends to.
    parameters, n_layers, n_heads, n_kv_heads, d_head : int
        The model's shape; ``n_kv_heads`` is checked but does not change the count.
    batch : int, default 1

    Returns
    -------
    dict
        ``{"weights": flops, "attention": flops}``.

    Raises
    ------
    TypeError, ValueError
        As :func:`decode_step_bytes`.

    Examples
    --------
    >>> step = decode_step_flops(4096, **LLAMA2_7B)
    >>> round(step["weights"] / 1e9, 2), round(step["attention"] / 1e9, 2)   # GFLOP
    (13.48, 2.15)
    """
    context = positive_int(context, "context")
    parameters, n_layers, n_heads, _, d_head = _model_shape(parameters, n_layers, n_heads, n_kv_heads, d_head)
    batch = positive_int(batch, "batch")
    return _decode_step_flops(context, parameters, n_layers, n_heads, d_head, batch)


def _decode_step_flops(context: int, parameters: int, n_layers: int, n_heads: int, d_head: int,
                       batch: int) -> dict[str, int]:
    """:func:`decode_step_flops` without checks."""
    return {"weights": 2 * parameters * batch, "attention": 4 * n_layers * n_heads * d_head * context * batch}


def cache_crossover_tokens(*, parameters: int, n_layers: int, n_heads: int, n_kv_heads: int,
                           d_head: int) -> float:
    """The batch x context at which a decoding step reads as many cache bytes as weight bytes.

    Setting the two terms of :func:`decode_step_bytes` equal (weights and cache in the same
    precision) gives ``batch * context = parameters / (2 * n_layers * n_kv_heads * d_head)``.
    Only the product matters: one sequence of that many tokens, or ``batch`` sequences of
    ``1 / batch`` of it. Below it the weights dominate the bytes a step reads, above it the cache.

    Parameters
    ----------
    parameters, n_layers, n_heads, n_kv_heads, d_head : int
        The model's shape.

    Returns
    -------
    float
        Tokens (batch x context).

    Raises
    ------
    TypeError, ValueError
        As :func:`decode_step_bytes`.

    Examples
    --------
    >>> round(cache_crossover_tokens(**LLAMA2_7B))
    25705
    >>> round(cache_crossover_tokens(**LLAMA2_70B))
    421000
    """
    parameters, n_layers, _, n_kv_heads, d_head = _model_shape(parameters, n_layers, n_heads, n_kv_heads, d_head)
    return parameters / _kv_cache_bytes(1, n_layers, n_kv_heads, d_head, 1, 1)  # numbers per cached token


def generation_flops(n_tokens: int, *, parameters: int, n_layers: int, n_heads: int, n_kv_heads: int,
                     d_head: int, cached: bool = True) -> int:
    """Floating-point operations to generate ``n_tokens`` tokens one at a time, with or without a cache.

    The step that produces token ``t`` (counting from 0) has ``k = t + 1`` tokens. With a
    key/value cache it runs the new token only: ``2 * parameters`` for the weights and
    ``4 * n_layers * n_heads * d_head * k`` to attend to ``k`` keys. Without a cache it must run
    the whole prefix through every layer again, because a layer's keys and values at a position
    are computed from the output of the layer below there: ``2 * parameters * k`` for the
    weights and, under the causal mask, ``4 * n_layers * n_heads * d_head * k (k + 1) / 2`` for
    attention.

    Parameters
    ----------
    n_tokens : int
    parameters, n_layers, n_heads, n_kv_heads, d_head : int
        The model's shape.
    cached : bool, default True

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        As :func:`decode_step_bytes`; ``cached`` not True or False.

    Examples
    --------
    >>> shape = dict(parameters=10, n_layers=1, n_heads=1, n_kv_heads=1, d_head=1)
    >>> generation_flops(2, **shape), generation_flops(2, cached=False, **shape)   # 20+4 + 20+8; 20+4 + 40+12
    (52, 76)
    """
    n_tokens = positive_int(n_tokens, "n_tokens")
    parameters, n_layers, n_heads, _, d_head = _model_shape(parameters, n_layers, n_heads, n_kv_heads, d_head)
    cached = flag(cached, "cached")
    t = np.arange(1, n_tokens + 1, dtype=np.int64)  # tokens at each step
    per_key = 4 * n_layers * n_heads * d_head  # scores and weighted average, every layer and head
    if cached:
        steps = 2 * parameters + per_key * t  # the new token only
    else:
        steps = 2 * parameters * t + per_key * t * (t + 1) // 2  # the whole prefix again, causal
    return int(sum(int(s) for s in steps))


def decode_flops_per_byte(context: int, *, parameters: int, n_layers: int, n_heads: int, n_kv_heads: int,
                          d_head: int, batch: int = 1, bytes_per_number: int = 2) -> float:
    """Arithmetic intensity of one decoding step: its FLOPs divided by the bytes it reads.

    The ratio of the totals of :func:`decode_step_flops` and :func:`decode_step_bytes`. With
    ``c = cache_crossover_tokens(...)`` and 2-byte numbers it is
    ``batch * (1 + context * n_heads / (n_kv_heads * c)) / (1 + batch * context / c)``: about
    ``batch`` while the weights dominate the bytes, and it grows with ``batch`` towards
    ``c / context + n_heads / n_kv_heads``. A step is memory-bound when this is below the
    FLOPs per byte the hardware can sustain (its peak FLOP/s over its bandwidth).

    Parameters
    ----------
    context : int
        Tokens in each sequence's cache, the new one included.
    parameters, n_layers, n_heads, n_kv_heads, d_head : int
        The model's shape (e.g. ``**LLAMA2_7B``); ``n_kv_heads`` must divide ``n_heads``.
    batch : int, default 1
        Sequences decoded together.
    bytes_per_number : int, default 2

    Returns
    -------
    float
        FLOPs per byte read.

    Raises
    ------
    TypeError, ValueError
        As :func:`decode_step_bytes`.

    Examples
    --------
    >>> round(decode_flops_per_byte(4096, **LLAMA2_7B), 2)               # one sequence
    1.0
    >>> round(decode_flops_per_byte(64, batch=1024, **LLAMA2_7B), 1)     # many short ones
    289.2
    """
    context = positive_int(context, "context")
    parameters, n_layers, n_heads, n_kv_heads, d_head = _model_shape(parameters, n_layers, n_heads, n_kv_heads,
                                                                     d_head)
    batch = positive_int(batch, "batch")
    bytes_per_number = positive_int(bytes_per_number, "bytes_per_number")
    flops = _decode_step_flops(context, parameters, n_layers, n_heads, d_head, batch)  # weights + attention
    read = _decode_step_bytes(context, parameters, n_layers, n_kv_heads, d_head, batch, bytes_per_number)
    return sum(flops.values()) / sum(read.values())


def memory_bound_context(flops_per_byte: float, *, parameters: int, n_layers: int, n_heads: int,
                         n_kv_heads: int, d_head: int, bytes_per_number: int = 2) -> float:
    """The context beyond which a decoding step is memory-bound whatever the batch.

    :func:`decode_flops_per_byte` grows with the batch towards its limit
    ``(2 * parameters + 4 * n_layers * n_heads * d_head * n) / (2 * n_layers * n_kv_heads * d_head * n * e)``
    (``n`` the context, ``e`` the bytes per number). That limit is at most ``flops_per_byte``,
    the hardware's FLOPs per byte, exactly when

    ``n >= parameters / (n_layers * d_head * (n_kv_heads * e * flops_per_byte - 2 * n_heads))``,

    with 2-byte numbers ``c / (flops_per_byte - n_heads / n_kv_heads)``, ``c`` the crossover of
    :func:`cache_crossover_tokens`. Shorter contexts become compute-bound at a large enough batch.
    If ``n_kv_heads * e * flops_per_byte <= 2 * n_heads`` the cache alone does enough arithmetic
    per byte to keep the hardware busy, no context is memory-bound at every batch, and the
    result is ``math.inf``.

    Parameters
    ----------
    flops_per_byte : float
        The hardware's peak FLOP/s divided by its memory bandwidth (bytes/s).
    parameters, n_layers, n_heads, n_kv_heads, d_head : int
        The model's shape.
    bytes_per_number : int, default 2

    Returns
    -------
    float
        Tokens of context (not rounded), or ``math.inf``.

    Raises
    ------
    TypeError, ValueError
        ``flops_per_byte`` not a number > 0; the shape as in :func:`decode_step_bytes`.

    Examples
    --------
    >>> a100 = 312e12 / 2.039e12                                    # FLOPs per byte
    >>> round(memory_bound_context(a100, **LLAMA2_7B)), round(memory_bound_context(a100, **LLAMA2_70B))
    (169, 2903)
    """
    flops_per_byte = positive_number(flops_per_byte, "flops_per_byte")
    parameters, n_layers, n_heads, n_kv_heads, d_head = _model_shape(parameters, n_layers, n_heads, n_kv_heads,
                                                                     d_head)
    bytes_per_number = positive_int(bytes_per_number, "bytes_per_number")
    margin = n_kv_heads * bytes_per_number * flops_per_byte - 2 * n_heads  # > 0: the cache alone is memory-bound
    if margin <= 0:
        return math.inf
    return parameters / (n_layers * d_head * margin)


def kv_sharing_speedup(cache_share: float, *, n_heads: int, n_kv_heads: int) -> float:
    """How many times faster a memory-bound decoding step gets when h key/value heads become n_kv_heads.

    The step's time is its bytes over the bandwidth. If the cache is the fraction
    ``cache_share`` (s) of the bytes with ``n_heads`` key/value heads, sharing them so that
    ``n_kv_heads`` remain divides the cache by ``n_heads / n_kv_heads`` and leaves the weights
    (the model's parameters kept fixed), so the time is divided by

    ``1 / ((1 - s) + s * n_kv_heads / n_heads)``,

    close to ``n_heads / n_kv_heads`` only when ``s`` is close to 1.

    Parameters
    ----------
    cache_share : float
        The cache's share of the bytes of the multi-head step, in [0, 1].
    n_heads : int
        Query heads h, also the key/value heads before the sharing.
    n_kv_heads : int
        Key/value heads after the sharing; must divide ``n_heads``.

    Returns
    -------
    float
        The speed-up, between 1 and ``n_heads / n_kv_heads``.

    Raises
    ------
    TypeError, ValueError
        ``cache_share`` not a number in [0, 1]; a head count not a whole number >= 1, or
        ``n_kv_heads`` not dividing ``n_heads``.

    Examples
    --------
    >>> round(kv_sharing_speedup(0.836, n_heads=32, n_kv_heads=8), 2)
    2.68
    >>> kv_sharing_speedup(1.0, n_heads=32, n_kv_heads=8)               # all cache: the full factor
    4.0
    """
    cache_share = number_in_range(cache_share, "cache_share", 0.0, 1.0)
    n_heads = positive_int(n_heads, "n_heads")
    n_kv_heads = positive_int(n_kv_heads, "n_kv_heads")
    if n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads={n_kv_heads} does not divide n_heads={n_heads}")
    return 1.0 / ((1.0 - cache_share) + cache_share * n_kv_heads / n_heads)
