"""Attention while generating: split-KV decoding and the caches a decoder keeps.

Generating text is one query at a time against every key cached so far, so decoding is
shaped differently from training: ``n_q = 1`` and a long ``n_k``. This module gathers the
techniques built for that shape, each exact (or, for quantisation, measured):

* **split-KV attention** (Flash-Decoding; Dao, Haziza, Massa & Sizov, 2023): cut the keys
  into chunks, attend to each chunk separately, and merge the partial results with the
  log-sum-exp rule, :func:`merge_partial_attention`. The chunks can run in parallel, which
  a single query otherwise cannot;
* a **rolling key/value cache** (:class:`RollingKVCache`) for sliding-window attention, a
  ring buffer of the last ``window + 1`` positions (Mistral 7B; Jiang et al., 2023),
  optionally behind a few *attention sinks* that are never evicted (StreamingLLM; Xiao et al., 2024);
* a **paged key/value cache** (:class:`PagedKVCache`): fixed-size blocks from one shared
  pool and a block table per sequence (PagedAttention in vLLM; Kwon et al., 2023);
* **int8 quantisation** of a cache, per channel or per token (:func:`quantize_int8`,
  :func:`dequantize_int8`), symmetric with an absmax scale.

The merge rule behind split-KV attention and the paged cache: if a query's attention over
the keys of chunk c gives the normalised output :math:`O_c` and the log-sum-exp of its
scores :math:`\\ell_c = \\log \\sum_{j \\in c} e^{s_j}`, then over all the keys

.. math:: O = \\sum_c e^{\\ell_c - \\ell}\\, O_c, \\qquad \\ell = \\log \\sum_c e^{\\ell_c},

because :math:`e^{\\ell_c - \\ell}` is exactly the share of the softmax's mass that lies in
chunk c. A chunk with no allowed key has :math:`\\ell_c = -\\infty` and weight 0.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    as_int_array,
    broadcast_batch,
    check_axis,
    choice,
    flag,
    nonnegative_int,
    positive_int,
)
from attn_core.attention import _check_qkv, _checked_scale
from attn_core.masks import _causal_mask

__all__ = [
    "split_kv_attention",
    "merge_partial_attention",
    "RollingKVCache",
    "PagedKVCache",
    "quantize_int8",
    "dequantize_int8",
]


# --- split-KV attention (Flash-Decoding) ------------------------------------------------------


def split_kv_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    n_splits: int,
    causal: bool = False,
    scale: float | None = None,
) -> np.ndarray:
    r"""Exact attention computed over ``n_splits`` chunks of the keys, merged by log-sum-exp.

    Flash-Decoding (Dao, Haziza, Massa & Sizov, 2023): when one query meets a long cache,
    the work of attention is all along the keys. Split the keys and values into chunks,
    compute for each chunk the attention output :math:`O_c` (normalised within the chunk)
    and the log-sum-exp :math:`\ell_c` of its scores, independently (on a GPU, in
    parallel), then merge with :func:`merge_partial_attention`. The result equals
    ``scaled_dot_product_attention(q, k, v, causal=causal, scale=scale)[0]`` up to rounding.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Usually ``n_q = 1`` (one decoding step); any ``n_q`` works.
    k : array_like, shape (..., n_k, d_k)
    v : array_like, shape (..., n_k, d_v)
    n_splits : int
        Number of chunks of (nearly) equal length; more chunks than keys leaves some chunks
        empty, and an empty chunk contributes nothing.
    causal : bool, default False
        The queries are the last ``n_q`` positions (bottom-right, as in
        :func:`attn_core.causal_mask`): query i sees keys ``j <= n_k - n_q + i``.
    scale : float, optional
        Default ``1 / sqrt(d_k)``.

    Returns
    -------
    ndarray, shape (..., n_q, d_v)
        float32 inputs give float32 output. A query that may attend no key (causal with
        ``n_q > n_k``) gets zeros.

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; ``n_splits`` not a whole number
        >= 1.

    References
    ----------
    T. Dao, D. Haziza, F. Massa, G. Sizov, "Flash-Decoding for long-context inference",
    PyTorch blog / Stanford CRFM technical note, 2023.

    Examples
    --------
    >>> import attn_core as ac
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((1, 4)), rng.standard_normal((10, 4)), rng.standard_normal((10, 3))
    >>> out = split_kv_attention(q, k, v, n_splits=3)
    >>> bool(np.allclose(out, ac.scaled_dot_product_attention(q, k, v)[0]))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    n_splits = positive_int(n_splits, "n_splits")
    return _split_kv_attention(q, k, v, n_splits, flag(causal, "causal"), _checked_scale(scale, q))


def _split_kv_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, n_splits: int, causal: bool,
                        scale: float) -> np.ndarray:
    """Split-KV attention without checks: partial attention per chunk, then the merge."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    allowed = _causal_mask(n_q, n_k) if causal else None  # (n_q, n_k) or None
    bounds = [c * n_k // n_splits for c in range(n_splits + 1)]  # chunk c is keys bounds[c]:bounds[c+1]
    outputs, log_sum_exps = [], []
    for start, end in itertools.pairwise(bounds):
        chunk_allowed = None if allowed is None else allowed[:, start:end]  # (n_q, n_c)
        output, log_sum_exp = _partial_attention(q, k[..., start:end, :], v[..., start:end, :],
                                                 chunk_allowed, scale)
        outputs.append(output)
        log_sum_exps.append(log_sum_exp)
    return _merge_partial_attention(outputs, log_sum_exps)[0]


def _partial_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None,
                       scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Attention of ``q`` over one chunk of keys: its normalised output and log-sum-exp.

    ``q`` (..., n_q, d_k), ``k`` (..., n_c, d_k), ``v`` (..., n_c, d_v), ``allowed``
    broadcastable to (..., n_q, n_c) or None. Returns ``output`` (..., n_q, d_v) and
    ``log_sum_exp`` (..., n_q); a query with no allowed key in the chunk (or an empty chunk)
    gets output 0 and log-sum-exp ``-inf``. NaN in the inputs comes out as NaN.
    """
    lead = broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    dtype = np.result_type(q, k, v)
    n_q, n_c, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    if n_c == 0:  # an empty chunk holds none of the softmax's mass
        return np.zeros(lead + (n_q, d_v), dtype=dtype), np.full(lead + (n_q,), -np.inf, dtype=dtype)
    scores = (q @ np.swapaxes(k, -1, -2)) * dtype.type(scale)  # (..., n_q, d_k) @ (..., d_k, n_c) -> (..., n_q, n_c)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)  # (..., n_q, n_c)
    row_max = scores.max(axis=-1, keepdims=True)  # (..., n_q, 1); -inf for a row with no allowed key
    row_max = np.where(row_max == -np.inf, 0, row_max)  # such a row: exp(-inf - 0) = 0, no NaN (NaN stays NaN)
    exponentials = np.exp(scores - row_max)  # (..., n_q, n_c), 0 where not allowed
    total = exponentials.sum(axis=-1, keepdims=True)  # (..., n_q, 1)
    empty = total == 0  # no allowed key in this chunk
    safe_total = np.where(empty, 1, total)
    output = (exponentials @ v) / safe_total  # (..., n_q, n_c) @ (..., n_c, d_v) -> (..., n_q, d_v)
    log_sum_exp = np.where(empty, -np.inf, row_max + np.log(safe_total))[..., 0]  # (..., n_q)
    return output.astype(dtype, copy=False), log_sum_exp.astype(dtype, copy=False)


def merge_partial_attention(
    outputs: ArrayLike, log_sum_exps: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    r"""Merge attention computed over disjoint chunks of the keys into attention over them all.

    Chunk c gave, for each query, its normalised output :math:`O_c` (attention over the keys
    of that chunk alone) and the log-sum-exp of its scores :math:`\ell_c`. Then

    .. math:: \ell = \log \sum_c e^{\ell_c}, \qquad O = \sum_c e^{\ell_c - \ell}\, O_c

    is the attention over the union of the chunks, and :math:`\ell` its log-sum-exp, so merged
    results can be merged again (the rule is associative). Computed with the largest
    :math:`\ell_c` subtracted first, so no exponential overflows. This is the reduction step
    of Flash-Decoding (Dao, Haziza, Massa & Sizov, 2023) and of the online softmax
    (Milakov & Gimelshein, 2018).

    Parameters
    ----------
    outputs : array_like, shape (n_chunks, ..., n_q, d_v)
        Each chunk's normalised output.
    log_sum_exps : array_like, shape (n_chunks, ..., n_q)
        Each chunk's log-sum-exp of (scaled) scores; ``-inf`` for a query that had no
        allowed key in that chunk (its output is then ignored).

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
        Zeros for a query with ``-inf`` in every chunk (no key at all).
    log_sum_exp : ndarray, shape (..., n_q)
        ``-inf`` for such a query.

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        Empty input, ``outputs`` with fewer than three dimensions, ``log_sum_exps`` not of
        shape ``outputs.shape[:-1]``, ``+inf`` in either or ``-inf`` in ``outputs``.

    Examples
    --------
    Two chunks, one key each, for one query with scores 0 and log 3 (so weights 1/4, 3/4):

    >>> outputs = np.array([[[10.0]], [[20.0]]])        # (2 chunks, 1 query, d_v = 1)
    >>> log_sum_exps = np.array([[0.0], [np.log(3.0)]])  # (2 chunks, 1 query)
    >>> output, log_sum_exp = merge_partial_attention(outputs, log_sum_exps)
    >>> output, log_sum_exp.round(4)
    (array([[17.5]]), array([1.3863]))
    """
    outputs = as_float_array(outputs, "outputs", min_ndim=3, nonempty=True, finite=True)
    log_sum_exps = as_float_array(log_sum_exps, "log_sum_exps", min_ndim=2, nonempty=True, finite=True,
                                  minus_inf_allowed=True)
    if log_sum_exps.shape != outputs.shape[:-1]:
        raise ValueError(
            f"log_sum_exps must have shape outputs.shape[:-1] = {outputs.shape[:-1]} "
            f"(n_chunks, ..., n_q); got outputs {outputs.shape}, log_sum_exps {log_sum_exps.shape}"
        )
    return _merge_partial_attention(list(outputs), list(log_sum_exps))


def _merge_partial_attention(outputs: list[np.ndarray], log_sum_exps: list[np.ndarray]
                             ) -> tuple[np.ndarray, np.ndarray]:
    """The log-sum-exp merge without checks; chunks given as lists of (..., n_q, d_v) and (..., n_q)."""
    stacked_lse = np.stack(np.broadcast_arrays(*log_sum_exps))  # (n_chunks, ..., n_q)
    dtype = np.result_type(stacked_lse, *outputs)
    largest = stacked_lse.max(axis=0)  # (..., n_q); -inf for a query with no key anywhere
    largest = np.where(largest == -np.inf, 0, largest)  # keeps exp below from seeing -inf - -inf
    shares = np.exp(stacked_lse - largest)  # (n_chunks, ..., n_q): e^{l_c - max}, 0 for an empty chunk
    total = shares.sum(axis=0)  # (..., n_q)
    empty = total == 0
    safe_total = np.where(empty, 1, total)
    output = sum(share[..., None] * np.where(share[..., None] == 0, 0, o)  # an empty chunk's output is ignored
                 for share, o in zip(shares, outputs)) / safe_total[..., None]  # (..., n_q, d_v)
    log_sum_exp = np.where(empty, -np.inf, largest + np.log(safe_total))  # (..., n_q)
    return np.asarray(output, dtype=dtype), np.asarray(log_sum_exp, dtype=dtype)


# --- the rolling (ring-buffer) cache of sliding-window attention --------------------------------


def _check_cache_entries(keys: ArrayLike, values: ArrayLike, n_kv_heads: int, d_head: int,
                         batch: tuple[int, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    """New cache entries ``(..., n_kv_heads, t, d_head)`` checked: numbers, finite, matching shapes."""
    keys = as_float_array(keys, "keys", min_ndim=3, nonempty=True, finite=True)
    values = as_float_array(values, "values", min_ndim=3, nonempty=True, finite=True)
    if keys.shape[-3:] != (n_kv_heads, keys.shape[-2], d_head) or keys.shape != values.shape:
        raise ValueError(
            f"cache entries must be (..., n_kv_heads={n_kv_heads}, t, d_head={d_head}), keys and values "
            f"alike; got keys {keys.shape}, values {values.shape}"
        )
    if batch is not None and keys.shape[:-3] != batch:
        raise ValueError(f"keys {keys.shape} do not continue the cached batch dimensions {batch}")
    return keys, values


def _check_query(q: ArrayLike, n_kv_heads: int, d_head: int, *, one_position: bool) -> np.ndarray:
    """Queries ``(..., n_heads, n_q, d_head)`` with ``n_heads`` a multiple of ``n_kv_heads``."""
    q = as_float_array(q, "q (queries)", min_ndim=3, nonempty=True, finite=True)
    n_heads, n_q, width = q.shape[-3:]
    if width != d_head or n_heads % n_kv_heads:
        raise ValueError(
            f"q (queries) must be (..., n_heads, n_q, d_head={d_head}) with n_heads a multiple of "
            f"n_kv_heads={n_kv_heads}; got shape {q.shape}"
        )
    if one_position and n_q != 1:
        raise ValueError(f"q (queries) must hold one position (n_q = 1) per head; got shape {q.shape}")
    return q


def _grouped(keys: np.ndarray, n_heads: int) -> np.ndarray:
    """Key or value heads ``(..., n_kv_heads, n, d)`` repeated so query head j reads kv head j // g."""
    return np.repeat(keys, n_heads // keys.shape[-3], axis=-3)  # (..., n_heads, n, d)


class RollingKVCache:
    """The keys and values of the last ``window + 1`` positions, in a ring buffer (plus any sinks).

    Sliding-window attention with ``window`` w lets the query at position p see the keys at
    positions ``p - w, ..., p`` (:func:`attn_core.sliding_window_mask` with ``causal=True``).
    A decoder therefore never needs more than the last ``w + 1`` keys and values: Mistral 7B
    (Jiang et al., 2023) keeps them in a rolling buffer of fixed size, writing position p
    into slot ``p mod (w + 1)`` over the oldest entry. Memory stays ``w + 1`` positions
    however long the generation runs. (The paper's buffer has ``W`` slots, slot ``i mod W``,
    for a query that sees ``W`` positions counting itself; in this library's convention a
    window of ``w`` means ``w`` earlier positions plus itself, hence ``w + 1`` slots.) Keys are stored after any position encoding (RoPE
    rotates a key by its absolute position before it is cached), so the order of the slots
    does not matter: attention is a sum over keys, the same in any order.

    With ``n_sinks`` s > 0 the first s positions are never evicted (StreamingLLM's
    *attention sinks*; Xiao et al., 2024): they sit in s slots of their own, in front of the
    ring, and the query at position p sees the keys ``j < s`` or ``p - w <= j <= p``, the
    sliding-window mask with the first s columns switched on. Memory is ``s + w + 1``
    positions. (StreamingLLM also gives the cached keys positions counted within the cache
    rather than in the text; this cache stores keys as they are given, so that choice is the
    caller's.)

    Parameters
    ----------
    window : int
        How many earlier positions a query sees besides its own (>= 1).
    n_kv_heads, d_head : int
        Key/value heads and their width (>= 1).
    n_sinks : int, default 0
        How many of the first positions to keep for ever (>= 0).

    Attributes
    ----------
    keys, values : ndarray, shape (..., n_kv_heads, n_sinks + window + 1, d_head), or None
        The slots, allocated at the first :meth:`append` (with its batch dimensions and dtype):
        the sinks' slots first, then the ring.
    positions : ndarray of int, shape (n_sinks + window + 1,)
        The absolute position held in each slot; ``-1`` for a slot not yet written.
    length : int
        Positions appended so far (the next position to be written).

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1 (``n_sinks``: >= 0).

    References
    ----------
    A. Q. Jiang et al., "Mistral 7B", arXiv:2310.06825, 2023 (sliding-window attention and
    its rolling buffer cache). G. Xiao, Y. Tian, B. Chen, S. Han and M. Lewis, "Efficient
    Streaming Language Models with Attention Sinks", ICLR 2024 (the sink tokens).

    Examples
    --------
    >>> cache = RollingKVCache(window=2, n_kv_heads=1, d_head=2)
    >>> for position in range(5):
    ...     cache.append(np.full((1, 1, 2), float(position)), np.zeros((1, 1, 2)))
    >>> cache.length, cache.positions.tolist()   # positions 2, 3, 4 in slots 2, 0, 1
    (5, [3, 4, 2])
    >>> cache.keys.shape
    (1, 3, 2)

    With one sink, position 0 stays while the ring rolls on:

    >>> sinks = RollingKVCache(window=2, n_kv_heads=1, d_head=2, n_sinks=1)
    >>> sinks.append(np.zeros((1, 6, 2)), np.zeros((1, 6, 2)))
    >>> sinks.positions.tolist()   # the sink's slot, then the ring's three
    [0, 4, 5, 3]
    """

    def __init__(self, window: int, n_kv_heads: int, d_head: int, *, n_sinks: int = 0):
        self.window = positive_int(window, "window")
        self.n_kv_heads = positive_int(n_kv_heads, "n_kv_heads")
        self.d_head = positive_int(d_head, "d_head")
        self.n_sinks = nonnegative_int(n_sinks, "n_sinks")
        self.capacity = self.n_sinks + self.window + 1
        self.keys: np.ndarray | None = None
        self.values: np.ndarray | None = None
        self.positions = np.full(self.capacity, -1, dtype=np.int64)
        self.length = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the keys and values: fixed once allocated, whatever ``length``."""
        return 0 if self.keys is None else self.keys.nbytes + self.values.nbytes

    def append(self, keys: ArrayLike, values: ArrayLike) -> None:
        """Write the next ``t`` positions, each over the slot of the position ``window + 1`` before it.

        Positions below ``n_sinks`` go to the sinks' own slots and stay there.

        Parameters
        ----------
        keys, values : array_like, shape (..., n_kv_heads, t, d_head)
            Usually ``t = 1``. With ``t > window + 1`` only the last ``window + 1`` survive
            (and the sinks).

        Raises
        ------
        TypeError, ValueError
            Non-numeric, empty or infinite input; shapes other than
            ``(..., n_kv_heads, t, d_head)``; keys and values of different shapes; batch
            dimensions other than those already cached.
        """
        keys, values = _check_cache_entries(keys, values, self.n_kv_heads, self.d_head,
                                            None if self.keys is None else self.keys.shape[:-3])
        self._append(keys, values)

    def _slot(self, positions: np.ndarray) -> np.ndarray:
        """The slot of each position: its own for a sink, the ring's ``p mod (window + 1)`` otherwise."""
        ring = self.window + 1
        return np.where(positions < self.n_sinks, positions,
                        self.n_sinks + (positions - self.n_sinks) % ring)

    def _append(self, keys: np.ndarray, values: np.ndarray) -> None:
        if self.keys is None:
            shape = keys.shape[:-2] + (self.capacity, self.d_head)  # (..., n_kv_heads, capacity, d_head)
            dtype = np.result_type(keys, values)
            self.keys, self.values = np.zeros(shape, dtype=dtype), np.zeros(shape, dtype=dtype)
        t = keys.shape[-2]
        new_positions = np.arange(self.length, self.length + t)
        survive = (new_positions < self.n_sinks) | (new_positions >= self.length + t - (self.window + 1))
        new_positions, index = new_positions[survive], np.flatnonzero(survive)  # the ones that stay
        slots = self._slot(new_positions)
        self.keys[..., slots, :] = keys[..., index, :]  # (..., n_kv_heads, t', d_head)
        self.values[..., slots, :] = values[..., index, :]
        self.positions[slots] = new_positions
        self.length += t

    def attend(self, q: ArrayLike, *, scale: float | None = None) -> np.ndarray:
        """Attention of the newest position's query over the sinks and the keys in the window.

        The query is at position ``length - 1``; it sees the positions
        ``length - 1 - window, ..., length - 1`` that have been written, and the first
        ``n_sinks``, which are exactly the filled slots. Query head j reads key/value head
        ``j // (n_heads / n_kv_heads)`` (grouped-query attention, as
        :class:`attn_core.MultiHeadAttention`).

        Parameters
        ----------
        q : array_like, shape (..., n_heads, 1, d_head)
            One position per head; ``n_heads`` a multiple of ``n_kv_heads``.
        scale : float, optional
            Default ``1 / sqrt(d_head)``.

        Returns
        -------
        ndarray, shape (..., n_heads, 1, d_head)

        Raises
        ------
        TypeError, ValueError
            Non-numeric, empty or infinite ``q``, or of the wrong shape; an empty cache;
            ``scale`` not finite and > 0.
        """
        q = _check_query(q, self.n_kv_heads, self.d_head, one_position=True)
        if self.keys is None:
            raise ValueError("the cache is empty: append keys and values before attending with q")
        try:
            np.broadcast_shapes(q.shape[:-3], self.keys.shape[:-3])  # the batch dimensions
        except ValueError:
            raise ValueError(f"q (queries) {q.shape} does not broadcast with the cached keys "
                             f"{self.keys.shape}") from None
        return self._attend(q, _checked_scale(scale, q))

    def _attend(self, q: np.ndarray, scale: float) -> np.ndarray:
        filled = self.positions >= 0  # (capacity,): slots written so far
        keys = _grouped(self.keys[..., filled, :], q.shape[-3])  # (..., n_heads, n_filled, d_head)
        values = _grouped(self.values[..., filled, :], q.shape[-3])  # (..., n_heads, n_filled, d_head)
        return _partial_attention(q, keys, values, None, scale)[0]


# --- the paged cache (PagedAttention) -------------------------------------------------------------


class PagedKVCache:
    """Keys and values of many sequences in fixed-size blocks of one shared pool, found through block tables.

    A server decoding many sequences at once cannot know how long each will grow. Giving every
    sequence a contiguous region sized for the longest possible output wastes most of it;
    PagedAttention (Kwon et al., 2023, the vLLM server) borrows the operating system's pages
    instead. The pool holds ``n_blocks`` blocks of ``block_size`` positions each; a sequence
    owns a list of blocks, its **block table**, and position p of the sequence lives in block
    ``block_table[p // block_size]`` at offset ``p % block_size``. A sequence takes a new block
    only when its last one is full, so at most ``block_size - 1`` slots per sequence are unused,
    and a finished sequence's blocks go back to the pool (:meth:`free`) for the next one.

    Attention reads the pages one at a time, never copying a sequence into one piece: each
    page gives a partial output and log-sum-exp, merged as in :func:`merge_partial_attention`.

    Parameters
    ----------
    block_size : int
        Positions per block (vLLM's default is 16).
    n_blocks : int
        Blocks in the pool, allocated up front.
    n_kv_heads, d_head : int
        Key/value heads and their width.
    dtype : {"float64", "float32"}, default "float64"
        What the pool stores; entries are converted to it.

    Attributes
    ----------
    key_blocks, value_blocks : ndarray, shape (n_blocks, n_kv_heads, block_size, d_head)
        The pool.
    block_tables : dict of int to list of int
        Each sequence's blocks, in order.
    lengths : dict of int to int
        Each sequence's number of positions.
    free_blocks : list of int
        Blocks not owned by any sequence; the last one is handed out next.

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1; an unknown ``dtype``.

    References
    ----------
    W. Kwon et al., "Efficient memory management for large language model serving with
    PagedAttention", SOSP 2023.

    Examples
    --------
    >>> cache = PagedKVCache(block_size=4, n_blocks=8, n_kv_heads=1, d_head=2)
    >>> cache.append(0, np.ones((1, 6, 2)), np.ones((1, 6, 2)))   # sequence 0: 6 positions
    >>> cache.append(1, np.ones((1, 3, 2)), np.ones((1, 3, 2)))   # sequence 1: 3 positions
    >>> cache.append(0, np.ones((1, 1, 2)), np.ones((1, 1, 2)))   # sequence 0 again: fits block 1
    >>> cache.block_tables, cache.lengths, cache.n_free_blocks
    ({0: [0, 1], 1: [2]}, {0: 7, 1: 3}, 5)
    >>> cache.free(0)                                             # blocks 0 and 1 back in the pool
    >>> cache.append(2, np.ones((1, 5, 2)), np.ones((1, 5, 2)))   # a new sequence reuses them
    >>> cache.block_tables
    {1: [2], 2: [0, 1]}
    """

    def __init__(self, block_size: int, n_blocks: int, n_kv_heads: int, d_head: int, *,
                 dtype: str = "float64"):
        self.block_size = positive_int(block_size, "block_size")
        self.n_blocks = positive_int(n_blocks, "n_blocks")
        self.n_kv_heads = positive_int(n_kv_heads, "n_kv_heads")
        self.d_head = positive_int(d_head, "d_head")
        dtype = np.dtype(choice(dtype, ("float64", "float32"), "dtype"))
        shape = (self.n_blocks, self.n_kv_heads, self.block_size, self.d_head)
        self.key_blocks = np.zeros(shape, dtype=dtype)
        self.value_blocks = np.zeros(shape, dtype=dtype)
        self.block_tables: dict[int, list[int]] = {}
        self.lengths: dict[int, int] = {}
        self.free_blocks = list(range(self.n_blocks))[::-1]  # block 0 is handed out first

    @property
    def n_free_blocks(self) -> int:
        return len(self.free_blocks)

    def append(self, sequence: int, keys: ArrayLike, values: ArrayLike) -> None:
        """Add the next ``t`` positions of ``sequence``, taking blocks from the pool as needed.

        Parameters
        ----------
        sequence : int
            The sequence's id (a whole number >= 0); a new id starts a new sequence.
        keys, values : array_like, shape (n_kv_heads, t, d_head)

        Raises
        ------
        TypeError, ValueError
            ``sequence`` not a whole number >= 0; non-numeric, empty or infinite entries, or
            shapes other than ``(n_kv_heads, t, d_head)``.
        RuntimeError
            Not enough free blocks; nothing is written (free a finished sequence first).
        """
        sequence = nonnegative_int(sequence, "sequence")
        keys, values = _check_cache_entries(keys, values, self.n_kv_heads, self.d_head, ())
        self._append(sequence, keys, values)

    def _append(self, sequence: int, keys: np.ndarray, values: np.ndarray) -> None:
        table = self.block_tables.get(sequence, [])
        length, t = self.lengths.get(sequence, 0), keys.shape[-2]
        needed = math.ceil((length + t) / self.block_size) - len(table)
        if needed > len(self.free_blocks):
            raise RuntimeError(f"out of blocks: sequence {sequence} needs {needed} more, "
                               f"{len(self.free_blocks)} are free; free a finished sequence first")
        table = table + [self.free_blocks.pop() for _ in range(needed)]
        self.block_tables[sequence], self.lengths[sequence] = table, length + t
        new_positions = np.arange(length, length + t)  # (t,)
        blocks = np.asarray(table)[new_positions // self.block_size]  # (t,): the physical block of each
        offsets = new_positions % self.block_size  # (t,)
        self.key_blocks[blocks, :, offsets] = np.swapaxes(keys, 0, 1)  # (t, n_kv_heads, d_head)
        self.value_blocks[blocks, :, offsets] = np.swapaxes(values, 0, 1)  # (t, n_kv_heads, d_head)

    def free(self, sequence: int) -> None:
        """Return the blocks of a finished ``sequence`` to the pool and forget it.

        Raises
        ------
        TypeError, ValueError
            ``sequence`` not a whole number >= 0, or not in the cache.
        """
        sequence = self._known(sequence)
        self.free_blocks.extend(reversed(self.block_tables.pop(sequence)))
        del self.lengths[sequence]

    def _known(self, sequence: int) -> int:
        sequence = nonnegative_int(sequence, "sequence")
        if sequence not in self.block_tables:
            raise ValueError(f"sequence {sequence} is not in the cache (it holds {sorted(self.block_tables)})")
        return sequence

    def attend(self, sequence: int, q: ArrayLike, *, causal: bool = True,
               scale: float | None = None) -> np.ndarray:
        """Attention of ``sequence``'s newest queries over its keys, read page by page.

        Parameters
        ----------
        sequence : int
            A sequence in the cache.
        q : array_like, shape (n_heads, n_q, d_head)
            ``n_heads`` a multiple of ``n_kv_heads``: query head j reads key/value head
            ``j // (n_heads / n_kv_heads)``. Usually ``n_q = 1``.
        causal : bool, default True
            The queries are the last ``n_q`` positions of the sequence (bottom-right, as
            :func:`attn_core.causal_mask`) and see no later key. With ``n_q = 1`` it changes
            nothing.
        scale : float, optional
            Default ``1 / sqrt(d_head)``.

        Returns
        -------
        ndarray, shape (n_heads, n_q, d_head)
            Equal, up to rounding, to :func:`attn_core.scaled_dot_product_attention` over the
            sequence's keys and values laid out contiguously.

        Raises
        ------
        TypeError, ValueError
            An unknown ``sequence``; ``q`` non-numeric, empty, infinite or of the wrong
            shape; ``causal`` not True or False; ``scale`` not finite and > 0.
        """
        sequence = self._known(sequence)
        q = _check_query(q, self.n_kv_heads, self.d_head, one_position=False)
        if q.ndim != 3:
            raise ValueError(f"q (queries) must be (n_heads, n_q, d_head) for one sequence; got shape {q.shape}")
        return self._attend(sequence, q, flag(causal, "causal"), _checked_scale(scale, q))

    def _attend(self, sequence: int, q: np.ndarray, causal: bool, scale: float) -> np.ndarray:
        length, n_heads, n_q = self.lengths[sequence], q.shape[0], q.shape[1]
        allowed = _causal_mask(n_q, length) if causal else None  # (n_q, length)
        outputs, log_sum_exps = [], []
        for page, block in enumerate(self.block_tables[sequence]):
            start = page * self.block_size
            filled = min(self.block_size, length - start)  # the last page may be partly filled
            keys = _grouped(self.key_blocks[block, :, :filled], n_heads)  # (n_heads, filled, d_head)
            values = _grouped(self.value_blocks[block, :, :filled], n_heads)  # (n_heads, filled, d_head)
            page_allowed = None if allowed is None else allowed[:, start:start + filled]  # (n_q, filled)
            output, log_sum_exp = _partial_attention(q, keys, values, page_allowed, scale)
            outputs.append(output)
            log_sum_exps.append(log_sum_exp)
        return _merge_partial_attention(outputs, log_sum_exps)[0].astype(np.result_type(q, self.key_blocks),
                                                                           copy=False)


# --- int8 quantisation of a cache -------------------------------------------------------------------

INT8_LEVELS = 127  # symmetric: codes -127..127, so that 0 is exact and the range is the same both sides


def quantize_int8(x: ArrayLike, *, axis: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Symmetric absmax int8 quantisation, one scale per slice along ``axis``.

    Each group of numbers that shares a scale :math:`s = \max |x| / 127` is stored as the
    8-bit codes :math:`\operatorname{round}(x / s) \in \{-127, \dots, 127\}`; then
    :func:`dequantize_int8` gives back :math:`s \cdot \text{code}`, within :math:`s / 2` of
    ``x`` (the rounding error), a quarter of the memory of float32 plus one scale per group.
    The group is what ``axis`` runs along. For a cache ``(..., n, d_head)``:

    * ``axis=-1``, **per token**: each position's ``d_head`` numbers share a scale;
    * ``axis=-2``, **per channel**: each channel's ``n`` numbers share a scale.

    Keys often have a few channels much larger than the rest, which would waste the levels
    of every token's scale: quantising keys per channel and values per token is what KIVI
    (Liu et al., 2024) found to work. The absmax scheme is that of LLM.int8() (Dettmers et
    al., 2022).

    Parameters
    ----------
    x : array_like
        Real numbers, at least one dimension.
    axis : int
        The axis along which one scale is shared (the maximum is taken along it).

    Returns
    -------
    quantized : ndarray of int8, same shape as ``x``
    scales : ndarray, shape of ``x`` with ``axis`` of length 1
        float32 for float32 input, else float64. A group of zeros gets scale 0 (and codes 0);
        a group holding NaN gets scale NaN, so that dequantising gives NaN.

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite ``x``; ``axis`` not an integer within its dimensions.

    References
    ----------
    T. Dettmers, M. Lewis, Y. Belkada, L. Zettlemoyer, "LLM.int8(): 8-bit matrix
    multiplication for transformers at scale", NeurIPS 2022. Z. Liu et al., "KIVI: a
    tuning-free asymmetric 2bit quantization for KV cache", ICML 2024.

    Examples
    --------
    >>> quantized, scales = quantize_int8(np.array([[1.0, -2.0, 0.5, 4.0]]), axis=-1)
    >>> quantized, scales * 127          # 1 * 127/4 = 31.75 -> 32; -63.5 -> -64 (half to even)
    (array([[  32,  -64,   16,  127]], dtype=int8), array([[4.]]))
    >>> dequantize_int8(quantized, scales).round(3)
    array([[ 1.008, -2.016,  0.504,  4.   ]])
    """
    x = as_float_array(x, "x", min_ndim=1, nonempty=True, finite=True)
    return _quantize_int8(x, check_axis(axis, x.ndim))


def _quantize_int8(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    scales = np.abs(x).max(axis=axis, keepdims=True) / INT8_LEVELS  # (..., 1, ...): NaN if the group holds NaN
    safe = np.where((scales == 0) | np.isnan(scales), 1, scales)  # a group of zeros (or NaN) is coded 0
    codes = np.where(np.isnan(x), 0, np.rint(x / safe))  # same shape as x; NaN cannot be an int8 code
    return np.clip(codes, -INT8_LEVELS, INT8_LEVELS).astype(np.int8), scales


def dequantize_int8(quantized: ArrayLike, scales: ArrayLike) -> np.ndarray:
    """Numbers back from int8 codes: ``quantized * scales``.

    Parameters
    ----------
    quantized : array_like of int8
        Codes in ``-127..127``, as :func:`quantize_int8` returns them.
    scales : array_like
        Broadcastable to ``quantized``'s shape without changing it (one scale per group).

    Returns
    -------
    ndarray, shape of ``quantized``, dtype of ``scales`` (float64 for integer scales)

    Raises
    ------
    TypeError
        ``quantized`` not of dtype int8; non-numeric ``scales``.
    ValueError
        A code of -128; empty or infinite input; ``scales`` that does not broadcast to
        ``quantized``.

    Examples
    --------
    >>> dequantize_int8(np.array([127, -64, 0], dtype=np.int8), np.array([0.5]))
    array([ 63.5, -32. ,   0. ])
    """
    codes = as_int_array(quantized, "quantized", low=-INT8_LEVELS, high=INT8_LEVELS + 1)
    if codes.dtype != np.int8:
        raise TypeError(f"quantized must have dtype int8 (the codes of quantize_int8), got {codes.dtype}")
    if codes.ndim == 0 or codes.size == 0:
        raise ValueError(f"quantized must have at least one dimension and one entry; got shape {codes.shape}")
    scales = as_float_array(scales, "scales", nonempty=True, finite=True)
    try:
        fits = np.broadcast_shapes(codes.shape, scales.shape) == codes.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"scales of shape {scales.shape} does not broadcast to quantized {codes.shape}")
    return _dequantize_int8(codes, scales)


def _dequantize_int8(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    return codes.astype(scales.dtype) * scales  # same shape as codes
