"""Boolean attention masks, in the book's one convention: ``True`` = may attend.

A mask has shape ``(..., n_q, n_k)`` (or anything that broadcasts to it): entry ``[i, j]``
says whether query i may look at key j.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_int_array, flag, nonnegative_int, positive_int

__all__ = [
    "causal_mask",
    "padding_mask",
    "sliding_window_mask",
    "strided_mask",
    "fixed_mask",
    "bigbird_mask",
    "document_mask",
]


def causal_mask(n_q: int, n_k: int | None = None) -> np.ndarray:
    """Query i may attend to key j only if key j is not after it: no peeking at the future.

    The queries are the LAST ``n_q`` of the ``n_k`` positions (aligned bottom-right, as in
    FlashAttention >= 2.1 and decoding with a key/value cache): query i stands at position
    ``n_k - n_q + i`` and may see keys ``j <= n_k - n_q + i``. With ``n_q = n_k`` this is
    the lower triangle ``j <= i``; with ``n_q < n_k`` it is the last ``n_q`` rows of
    ``causal_mask(n_k)``; with ``n_q > n_k`` the first ``n_q - n_k`` queries see no key
    (their attention output is zero).

    Parameters
    ----------
    n_q : int
        Number of queries (rows).
    n_k : int, optional
        Number of keys (columns); defaults to ``n_q``.

    Returns
    -------
    ndarray of bool, shape (n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        If a length is not a whole number >= 1.

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    >>> causal_mask(2, 4).astype(int)        # the last two rows of causal_mask(4)
    array([[1, 1, 1, 0],
           [1, 1, 1, 1]])
    """
    return _causal_mask(*_lengths(n_q, n_k))


def _lengths(n_q: int, n_k: int | None) -> tuple[int, int]:
    """``n_q`` and ``n_k`` checked (whole numbers >= 1); ``n_k`` defaults to ``n_q``."""
    n_q = positive_int(n_q, "n_q")
    return n_q, n_q if n_k is None else positive_int(n_k, "n_k")


def _causal_mask(n_q: int, n_k: int) -> np.ndarray:
    """The bottom-right causal mask, without checks: key j <= query position n_k - n_q + i."""
    return _offsets(n_q, n_k) >= 0  # (n_q, n_k)


def _offsets(n_q: int, n_k: int) -> np.ndarray:
    """How far each key lies behind each query, ``(n_k - n_q + i) - j``, queries aligned at the end."""
    return np.arange(n_k - n_q, n_k)[:, None] - np.arange(n_k)[None, :]  # (n_q, n_k)


def padding_mask(lengths: ArrayLike, n_k: int) -> np.ndarray:
    """Hide the padding at the end of each sequence in a batch.

    Parameters
    ----------
    lengths : array_like of int, shape (batch,)
        The true length of each sequence, ``0 <= length <= n_k``.
    n_k : int
        The padded length (number of keys).

    Returns
    -------
    ndarray of bool, shape (batch, 1, n_k)
        Broadcasts over the queries: key j is allowed iff ``j < lengths[b]``.

    Raises
    ------
    TypeError
        If ``lengths`` is not integral (booleans are not), or ``n_k`` not a whole number.
    ValueError
        If ``lengths`` is empty or not a vector, a length is negative or larger than ``n_k``.

    Examples
    --------
    >>> padding_mask([2, 3], 4).astype(int)
    array([[[1, 1, 0, 0]],
    <BLANKLINE>
           [[1, 1, 1, 0]]])
    """
    n_k = positive_int(n_k, "n_k")
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        raise ValueError(f"lengths must be a non-empty vector (batch,), got shape {lengths.shape}")
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"lengths must be whole numbers, got dtype {lengths.dtype}")
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"lengths must be a non-empty vector (batch,), got shape {lengths.shape}")
    if (lengths < 0).any() or (lengths > n_k).any():
        raise ValueError(f"every length in lengths must lie in 0..n_k={n_k}, got {lengths.tolist()}")
    return (np.arange(n_k)[None, :] < lengths[:, None])[:, None, :]


def _checked_offsets(n_q: int, n_k: int | None, causal: bool) -> tuple[np.ndarray, bool]:
    """Lengths and ``causal`` checked; the offset of every (query, key) pair (see :func:`_offsets`)."""
    return _offsets(*_lengths(n_q, n_k)), flag(causal, "causal")


def sliding_window_mask(n_q: int, n_k: int | None = None, *, window: int, causal: bool = False) -> np.ndarray:
    """Local attention: query i may attend key j only when they are at most ``window`` apart.

    Each query sees a band of ``2 * window + 1`` keys around its own position (with
    ``causal=True``, only itself and the ``window`` keys before it), so the cost grows like
    ``n * window`` instead of ``n**2`` (Beltagy et al., 2020; Child et al., 2019).

    Parameters
    ----------
    n_q : int
    n_k : int, optional
        Default ``n_q``. With ``n_q != n_k`` the queries are the last ``n_q`` positions, as
        in :func:`causal_mask`.
    window : int
        How many neighbours on each side (``>= 1``).
    causal : bool, default False

    Returns
    -------
    ndarray of bool, shape (n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        A length or ``window`` that is not a whole number >= 1.

    Examples
    --------
    >>> sliding_window_mask(4, window=1).astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 1]])
    >>> sliding_window_mask(4, window=1, causal=True).astype(int)
    array([[1, 0, 0, 0],
           [1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    window = positive_int(window, "window")
    offset, causal = _checked_offsets(n_q, n_k, causal)
    return _sliding_window_mask(offset, window, causal)


def _sliding_window_mask(offset: np.ndarray, window: int, causal: bool) -> np.ndarray:
    """The band ``|offset| <= window`` (only ``0 <= offset`` when causal), without checks."""
    return (offset >= 0) & (offset <= window) if causal else np.abs(offset) <= window


def strided_mask(n: int, *, stride: int, causal: bool = True) -> np.ndarray:
    """The strided sparse pattern of Child et al. (2019): local band plus every ``stride``-th key.

    Query i attends key j when j is one of the ``stride`` positions up to i (the local
    part) or when ``i - j`` is a multiple of ``stride`` (the strided part). With
    ``stride ≈ sqrt(n)`` every query sees about ``2 sqrt(n)`` keys, and any position
    reaches any earlier one in two steps.

    Parameters
    ----------
    n : int
        Sequence length.
    stride : int
        ``>= 1``.
    causal : bool, default True
        If False, the pattern is mirrored to the future as well.

    Returns
    -------
    ndarray of bool, shape (n, n)

    Examples
    --------
    >>> strided_mask(6, stride=3).astype(int)
    array([[1, 0, 0, 0, 0, 0],
           [1, 1, 0, 0, 0, 0],
           [1, 1, 1, 0, 0, 0],
           [1, 1, 1, 1, 0, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 0, 1, 1, 1, 1]])
    """
    n, stride = positive_int(n, "n"), positive_int(stride, "stride")
    offset, causal = _offsets(n, n), flag(causal, "causal")
    distance = offset if causal else np.abs(offset)
    return (distance >= 0) & ((distance < stride) | (distance % stride == 0))


def fixed_mask(n: int, *, block: int, summary: int = 1, causal: bool = True) -> np.ndarray:
    """The fixed sparse pattern of Child et al. (2019): own block plus each block's summary keys.

    Query i attends key j when both lie in the same block of ``block`` positions, or when j
    is one of the last ``summary`` positions of its block (the cells that, in a trained
    model, learn to summarise their block for everyone).

    Parameters
    ----------
    n : int
    block : int
        Block length (``>= 1``).
    summary : int, default 1
        Summary positions per block, ``1 <= summary <= block``.
    causal : bool, default True

    Returns
    -------
    ndarray of bool, shape (n, n)

    Examples
    --------
    >>> fixed_mask(6, block=3).astype(int)
    array([[1, 0, 0, 0, 0, 0],
           [1, 1, 0, 0, 0, 0],
           [1, 1, 1, 0, 0, 0],
           [0, 0, 1, 1, 0, 0],
           [0, 0, 1, 1, 1, 0],
           [0, 0, 1, 1, 1, 1]])
    """
    n, block = positive_int(n, "n"), positive_int(block, "block")
    summary = positive_int(summary, "summary")
    if summary > block:
        raise ValueError(f"summary={summary} cannot exceed block={block}")
    offset, causal = _offsets(n, n), flag(causal, "causal")
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    allowed = (i // block == j // block) | (j % block >= block - summary)
    return allowed & (offset >= 0) if causal else allowed


def bigbird_mask(n: int, *, window: int, n_global: int = 1, n_random: int = 1, seed: int = 0) -> np.ndarray:
    """BigBird's pattern (Zaheer et al., 2020): sliding window + global tokens + random keys.

    * every query sees the keys within ``window`` positions of its own;
    * the first ``n_global`` positions attend to everything and are attended by everything;
    * every query also sees ``n_random`` keys drawn at random (seeded).

    Parameters
    ----------
    n : int
    window : int
        ``>= 1``.
    n_global : int, default 1
        ``0 <= n_global <= n``.
    n_random : int, default 1
        ``0 <= n_random <= n``.
    seed : int, default 0
        A whole number >= 0.

    Returns
    -------
    ndarray of bool, shape (n, n)

    Examples
    --------
    >>> m = bigbird_mask(8, window=1, n_global=1, n_random=1, seed=0)
    >>> bool(m[0].all() and m[:, 0].all()), int(m.sum(1).min()) >= 3
    (True, True)
    """
    n = positive_int(n, "n")
    window = positive_int(window, "window")
    for name, value in [("n_global", n_global), ("n_random", n_random)]:
        if nonnegative_int(value, name) > n:
            raise ValueError(f"{name} must be a whole number in 0..n={n}, got {value!r}")
    seed = nonnegative_int(seed, "seed")
    allowed = _sliding_window_mask(_offsets(n, n), window, False)
    allowed[:n_global, :] = True
    allowed[:, :n_global] = True
    rng = np.random.default_rng(seed)
    for i in range(n):
        allowed[i, rng.choice(n, size=n_random, replace=False)] = True
    return allowed


def document_mask(document_ids_q: ArrayLike, document_ids_k: ArrayLike | None = None) -> np.ndarray:
    """Packed sequences: a query may attend only the keys of its own document.

    To fill a batch without padding, several documents are concatenated into one row of
    ``n`` positions; ``document_ids[t]`` says which document position ``t`` belongs to
    (for documents of lengths ``lengths``: ``np.repeat(np.arange(len(lengths)), lengths)``).
    Attention must not cross from one document into another: query i may attend key j iff
    they belong to the same document. Combine it with :func:`causal_mask` (``&``) for a
    decoder. The mask is block-diagonal when each document fills one contiguous run, and
    then a tiled kernel can skip every tile off the diagonal blocks
    (:func:`attn_core.block_sparse_attention`).

    Parameters
    ----------
    document_ids_q : array_like of int, shape (n_q,)
        The document of each query, numbered from 0.
    document_ids_k : array_like of int, shape (n_k,), optional
        The document of each key; default ``document_ids_q`` (self-attention).

    Returns
    -------
    ndarray of bool, shape (n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        Ids that are not whole numbers >= 0, or not a non-empty vector.

    Examples
    --------
    >>> document_mask([0, 0, 1, 1, 1]).astype(int)
    array([[1, 1, 0, 0, 0],
           [1, 1, 0, 0, 0],
           [0, 0, 1, 1, 1],
           [0, 0, 1, 1, 1],
           [0, 0, 1, 1, 1]])
    """
    ids_q = as_int_array(document_ids_q, "document_ids_q", ndim=1, low=0)
    ids_k = ids_q if document_ids_k is None else as_int_array(document_ids_k, "document_ids_k", ndim=1, low=0)
    for name, ids in (("document_ids_q", ids_q), ("document_ids_k", ids_k)):
        if ids.size == 0:
            raise ValueError(f"{name} must be a non-empty vector of document ids, got shape {ids.shape}")
    return ids_q[:, None] == ids_k[None, :]  # (n_q, n_k)
