"""Where a token is: positional encodings and position-dependent attention.

Self-attention alone is permutation-equivariant: shuffle the input rows and the output rows
are shuffled the same way, so "dog bites man" and "man bites dog" look alike to it. Each
function here gives attention a sense of order in one of the ways the literature proposes.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    choice,
    flag,
    nonnegative_int,
    positive_int,
    positive_number,
)
from attn_core.attention import _attention, _checked_qkv_mask
from attn_core.masks import _lengths, _offsets

__all__ = [
    "sinusoidal_positions",
    "learned_position_table",
    "relative_position_index",
    "relative_position_attention",
    "t5_relative_buckets",
    "rotary_angles",
    "rotary_embedding",
    "alibi_slopes",
    "alibi_bias",
]

#: The two ways of grouping RoPE's coordinates into rotated pairs (see :func:`rotary_embedding`).
ROTARY_PAIRINGS = ("interleaved", "half")


def sinusoidal_positions(n: int, d_model: int, *, base: float = 10000.0) -> np.ndarray:
    r"""The sinusoidal encodings of Vaswani et al. (2017), one row per position.

    .. math:: P_{p, 2i} = \sin(p\,\omega_i), \quad P_{p, 2i+1} = \cos(p\,\omega_i),
              \quad \omega_i = \text{base}^{-2i/d_\text{model}}

    Pairs of columns turn at geometrically spaced frequencies, so that moving by a fixed
    offset is the same rotation of every pair at every position.

    Parameters
    ----------
    n : int
        Number of positions.
    d_model : int
        Width; an odd width drops the last cosine column.
    base : float, default 10000

    Returns
    -------
    ndarray, shape (n, d_model)

    Examples
    --------
    >>> sinusoidal_positions(3, 4).round(3)
    array([[ 0.   ,  1.   ,  0.   ,  1.   ],
           [ 0.841,  0.54 ,  0.01 ,  1.   ],
           [ 0.909, -0.416,  0.02 ,  1.   ]])
    """
    n, d_model = positive_int(n, "n"), positive_int(d_model, "d_model")
    base = positive_number(base, "base")
    omega = base ** (-np.arange(0, d_model, 2) / d_model)  # (ceil(d/2),)
    angles = np.arange(n)[:, None] * omega[None, :]  # (n, ceil(d/2))
    table = np.empty((n, 2 * omega.size))
    table[:, 0::2], table[:, 1::2] = np.sin(angles), np.cos(angles)
    return table[:, :d_model]


def learned_position_table(n_max: int, d_model: int, *, seed: int = 0, std: float = 0.02) -> np.ndarray:
    """A table of position vectors to be learned, one row per position (Gehring et al., 2017).

    Learned encodings are ordinary parameters: they start random (here normal with standard
    deviation ``std``, as in BERT; Devlin et al., 2019) and training shapes them. A model
    using one cannot represent positions beyond ``n_max``.

    Parameters
    ----------
    n_max, d_model : int
        Whole numbers >= 1.
    seed : int, default 0
        A whole number >= 0.
    std : float, default 0.02
        Finite and > 0.

    Returns
    -------
    ndarray, shape (n_max, d_model)

    Examples
    --------
    >>> learned_position_table(5, 3).shape
    (5, 3)
    """
    n_max, d_model = positive_int(n_max, "n_max"), positive_int(d_model, "d_model")
    std = positive_number(std, "std")
    return np.random.default_rng(nonnegative_int(seed, "seed")).normal(0.0, std, (n_max, d_model))


def relative_position_index(n_q: int, n_k: int | None = None, *, max_distance: int) -> np.ndarray:
    """Index into a table of ``2 * max_distance + 1`` relative positions (Shaw et al., 2018).

    Entry ``[i, j]`` is ``clip(j - p_i, -max_distance, max_distance) + max_distance``, where
    ``p_i`` is the position of query ``i``: keys further than ``max_distance`` away share
    the end rows of the table. ``n_q``, ``n_k`` are whole numbers >= 1 (``n_k`` defaults to
    ``n_q``), ``max_distance`` >= 0. The queries are the LAST ``n_q`` of the ``n_k``
    positions, ``p_i = n_k - n_q + i``, aligned bottom-right as in
    :func:`attn_core.masks.causal_mask`: a decoding step (one query, a cache of ``n_k``
    keys) gets the last row of the full index, and with ``n_q = n_k`` it is ``j - i``.

    Examples
    --------
    >>> relative_position_index(3, max_distance=1)
    array([[1, 2, 2],
           [0, 1, 2],
           [0, 0, 1]])
    >>> relative_position_index(1, 3, max_distance=1)   # one new query after two cached keys
    array([[0, 0, 1]])
    """
    n_q, n_k = _lengths(n_q, n_k)
    return _relative_position_index(n_q, n_k, nonnegative_int(max_distance, "max_distance"))


def _relative_position_index(n_q: int, n_k: int, max_distance: int) -> np.ndarray:
    offset = -_offsets(n_q, n_k)  # (n_q, n_k): j - (n_k - n_q + i), key minus query position
    return np.clip(offset, -max_distance, max_distance) + max_distance


def t5_relative_buckets(
    n_q: int,
    n_k: int | None = None,
    *,
    n_buckets: int = 32,
    max_distance: int = 128,
    bidirectional: bool = True,
) -> np.ndarray:
    r"""T5's bucket of every (query, key) pair: exact near offsets, log-spaced far ones.

    Raffel et al. (2020) add to each score a learned scalar chosen by the bucket of the
    offset, one scalar per bucket and head, the same table in every layer. With ``bidirectional`` the buckets are split
    in two halves, keys before the query (and the query itself) in ``0 .. n_buckets/2 - 1``,
    keys after it in the upper half. Within a half of ``b`` buckets, the distance
    :math:`\delta = |j - p_i|` goes to bucket :math:`\delta` while
    :math:`\delta < b/2`; beyond that to
    :math:`b/2 + \lfloor \log(\delta / (b/2)) / \log(\text{max\_distance} / (b/2))
    \cdot (b - b/2) \rfloor`, capped at ``b - 1``. The last bucket begins where this
    formula first reaches ``b - 1``, :math:`\delta = (b/2)\,(\text{max\_distance}/(b/2))^{(b/2 - 1)/(b/2)}`
    (113 in a decoder with 32 buckets, 91 in each half of 32 two-sided ones), so every distance from there on, ``max_distance`` included,
    shares the last bucket. Without ``bidirectional`` (a decoder) only keys before the query
    are told apart, all ``b = n_buckets`` buckets for them, and later keys get bucket 0.
    Queries are aligned bottom-right, ``p_i = n_k - n_q + i``, as in
    :func:`relative_position_index`.

    Parameters
    ----------
    n_q : int
    n_k : int, optional
        Default ``n_q``.
    n_buckets : int, default 32
        An even number >= 2 when ``bidirectional``, else >= 2.
    max_distance : int, default 128
        The distance from which on every key shares one bucket (>= 1).
    bidirectional : bool, default True

    Returns
    -------
    ndarray of int, shape (n_q, n_k)
        Values in ``0 .. n_buckets - 1``.

    Raises
    ------
    TypeError, ValueError
        Lengths, ``n_buckets`` or ``max_distance`` not whole numbers >= 1; an odd or too
        small ``n_buckets``.

    Examples
    --------
    >>> by_distance = t5_relative_buckets(1, 200, n_buckets=16, bidirectional=False)[0, ::-1]
    >>> by_distance[[0, 1, 7, 8, 16, 32, 127, 128, 199]]
    array([ 0,  1,  7,  8, 10, 12, 15, 15, 15])
    """
    n_q, n_k = _lengths(n_q, n_k)
    n_buckets = positive_int(n_buckets, "n_buckets")
    max_distance = positive_int(max_distance, "max_distance")
    bidirectional = flag(bidirectional, "bidirectional")
    if n_buckets < 2 or (bidirectional and (n_buckets < 4 or n_buckets % 2)):
        raise ValueError(f"n_buckets must be >= 2 (an even number >= 4 when bidirectional), got {n_buckets}")
    behind = _offsets(n_q, n_k)  # (n_q, n_k): p_i - j, how far the key lies behind the query
    return _t5_relative_buckets(behind, n_buckets, max_distance, bidirectional)


def _t5_relative_buckets(behind: np.ndarray, n_buckets: int, max_distance: int, bidirectional: bool) -> np.ndarray:
    bucket = np.zeros(behind.shape, dtype=int)
    if bidirectional:
        n_buckets //= 2
        bucket += (behind < 0) * n_buckets  # keys after the query: the upper half
        distance = np.abs(behind)
    else:
        distance = np.maximum(behind, 0)
    exact = n_buckets // 2
    ratio = np.maximum(distance, exact) / exact  # >= 1: no log of 0
    far = exact + (np.log(ratio) / np.log(max(max_distance / exact, 1.0 + 1e-12)) * (n_buckets - exact)).astype(int)
    far = np.minimum(far, n_buckets - 1)
    return bucket + np.where(distance < exact, distance, far)


def relative_position_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    rel_keys: ArrayLike,
    rel_values: ArrayLike | None = None,
    *,
    mask: ArrayLike | None = None,
    causal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Self-attention with relative position representations (Shaw et al., 2018).

    .. math:: s_{ij} = \frac{q_i \cdot (k_j + a^K_{ij})}{\sqrt{d_k}}, \qquad
              o_i = \sum_j a_{ij} (v_j + a^V_{ij})

    where :math:`a_{ij}` are the weights and :math:`a^K_{ij}` (:math:`a^V_{ij}`) is the row of
    ``rel_keys`` (``rel_values``) for the clipped offset ``j - i``.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)
    v : array_like, shape (..., n_k, d_v)
    rel_keys : array_like, shape (2 * max_distance + 1, d_k)
        One vector per clipped offset, from ``-max_distance`` to ``+max_distance``.
    rel_values : array_like, shape (2 * max_distance + 1, d_v), optional
    mask, causal
        As in :func:`attn_core.scaled_dot_product_attention`.

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; ``rel_keys`` not
        ``(2 * max_distance + 1, d_k)`` or ``rel_values`` not ``(len(rel_keys), d_v)``.

    Examples
    --------
    >>> from attn_core import scaled_dot_product_attention
    >>> q = k = v = np.eye(3)
    >>> out, w = relative_position_attention(q, k, v, np.zeros((3, 3)))
    >>> bool(np.allclose(out, scaled_dot_product_attention(q, k, v)[0]))   # zero table: plain attention
    True
    """
    q, k, v, allowed = _checked_qkv_mask(q, k, v, mask, causal)
    rel_keys = as_float_array(rel_keys, "rel_keys", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if rel_keys.shape[0] % 2 == 0 or rel_keys.shape[1] != q.shape[-1]:
        raise ValueError(f"rel_keys must be (2 * max_distance + 1, d_k={q.shape[-1]}), got {rel_keys.shape}")
    if rel_values is not None:
        rel_values = as_float_array(rel_values, "rel_values", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
        if rel_values.shape != (rel_keys.shape[0], v.shape[-1]):
            raise ValueError(f"rel_values must be ({rel_keys.shape[0]}, d_v={v.shape[-1]}), got {rel_values.shape}")
    index = _relative_position_index(q.shape[-2], k.shape[-2], rel_keys.shape[0] // 2)  # (n_q, n_k)
    scale = 1.0 / math.sqrt(q.shape[-1])
    bias = np.einsum("...id,ijd->...ij", q, rel_keys[index]) * scale  # (..., n_q, n_k): q_i . a_ij
    output, weights = _attention(q, k, v, allowed, scale, bias)  # (..., n_q, d_v), (..., n_q, n_k)
    if rel_values is not None:
        output = output + np.einsum("...ij,ijd->...id", weights, rel_values[index])  # (..., n_q, d_v)
    return output, weights


def rotary_angles(positions: ArrayLike, d: int, *, base: float = 10000.0) -> np.ndarray:
    r"""The angles by which RoPE turns each pair: :math:`p\,\theta_i`, :math:`\theta_i = \text{base}^{-2i/d}`.

    Pair 0 turns fastest (one radian per position); the last pair turns
    :math:`\text{base}^{-(d-2)/d}` radians per position. A model trained on positions below
    ``n_train`` has seen pair ``i`` only at angles below ``n_train * theta_i``: the slow pairs
    never complete a turn in training. Long-context methods (position interpolation, NTK,
    YaRN) change these angles, by rescaling ``positions`` or ``base``.

    Parameters
    ----------
    positions : array_like, shape (n,)
        Positions (or distances); any finite numbers.
    d : int
        The even width of the rotated vectors.
    base : float, default 10000
        Llama 3 uses 500,000.

    Returns
    -------
    ndarray, shape (n, d // 2)
        Column ``i`` is ``positions * theta_i``, in radians (not reduced modulo 2 pi).

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite ``positions``; ``d`` not an even whole number >= 2;
        ``base`` not finite and > 0.

    Examples
    --------
    >>> rotary_angles([0, 1, 2], 4, base=100.0)
    array([[0. , 0. ],
           [1. , 0.1],
           [2. , 0.2]])
    """
    p = as_float_array(positions, "positions", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    d = positive_int(d, "d")
    if d % 2:
        raise ValueError(f"d must be even (pairs of coordinates), got {d}")
    return _rotary_angles(p, d, positive_number(base, "base"))


def _rotary_angles(p: np.ndarray, d: int, base: float) -> np.ndarray:
    theta = base ** (-np.arange(0, d, 2) / d)  # (d/2,)
    return p[:, None] * theta[None, :]  # (n, d/2)


def rotary_embedding(
    x: ArrayLike,
    positions: ArrayLike | None = None,
    *,
    base: float = 10000.0,
    pairing: str = "interleaved",
) -> np.ndarray:
    r"""Rotary position embedding, RoPE (Su et al., 2024): rotate each pair of coordinates.

    Pair ``i`` of the vector at position ``p`` is rotated by the angle :math:`p\,\theta_i`,
    :math:`\theta_i = \text{base}^{-2i/d}` (:func:`rotary_angles`). Because rotations
    compose, the dot product of a rotated query at position m and a rotated key at position
    n depends on the positions only through ``n - m``. A model applies it to the queries and
    keys of every head in every layer, after the projections; the values are not rotated.

    ``pairing`` says which coordinates form pair ``i``: ``"interleaved"`` (the default, as in
    the RoFormer paper and Meta's Llama code) pairs ``(2i, 2i + 1)``; ``"half"`` pairs
    ``(i, i + d/2)``, the "rotate half" of the GPT-NeoX code and of Hugging Face's Llama. The two differ only by a fixed permutation
    of the coordinates, applied to queries and keys alike, so they give the same scores when
    the projections are permuted to match.

    Parameters
    ----------
    x : array_like, shape (..., n, d)
        Queries or keys; ``d`` must be even.
    positions : array_like of shape (n,), optional
        Default ``0, 1, ..., n - 1``. For a decoding step with a cache of ``n_k`` keys, pass
        the new query's position, ``[n_k - 1]``.
    base : float, default 10000
    pairing : {"interleaved", "half"}, default "interleaved"

    Returns
    -------
    ndarray, same shape as ``x``

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite ``x`` or ``positions``; an odd width; ``positions``
        not ``(n,)``; ``base`` not finite and > 0; an unknown ``pairing``.

    Examples
    --------
    >>> q = np.array([[1.0, 0.0]])
    >>> rotary_embedding(q, [1], base=1.0).round(4)   # rotated by 1 radian
    array([[0.5403, 0.8415]])
    """
    x = as_float_array(x, "x", min_ndim=2, nonempty=True, finite=True)
    n, d = x.shape[-2:]
    if d % 2:
        raise ValueError(f"rotary embedding needs an even width, got x of shape {x.shape}")
    base = positive_number(base, "base")
    pairing = choice(pairing, ROTARY_PAIRINGS, "pairing")
    p = np.arange(n, dtype=float) if positions is None else as_float_array(
        positions, "positions", min_ndim=1, nonempty=True, finite=True)
    if p.shape != (n,):
        raise ValueError(f"positions must have shape ({n},) to match x {x.shape}, got {p.shape}")
    return _rotary_embedding(x, p, base, pairing)


def _rotary_embedding(x: np.ndarray, p: np.ndarray, base: float, pairing: str = "interleaved") -> np.ndarray:
    d = x.shape[-1]
    angle = _rotary_angles(p, d, base)  # (n, d/2)
    cos, sin = np.cos(angle), np.sin(angle)
    first, second = (slice(0, None, 2), slice(1, None, 2)) if pairing == "interleaved" else (
        slice(0, d // 2), slice(d // 2, None))
    even, odd = x[..., first], x[..., second]  # (..., n, d/2) each: the two coordinates of every pair
    out = np.empty_like(x)
    out[..., first] = even * cos - odd * sin
    out[..., second] = even * sin + odd * cos
    return out


def alibi_slopes(n_heads: int) -> np.ndarray:
    r"""The head-specific slopes of ALiBi (Press et al., 2022).

    For a power of two ``h``: the geometric sequence starting at ``2**(-8/h)`` with that
    ratio, :math:`\lambda_g = 2^{-8(g+1)/h}` for head :math:`g = 0, \dots, h - 1`. Otherwise, as in the paper's code, the slopes of the nearest smaller power of two
    followed by every other slope of the next power of two.

    Examples
    --------
    >>> alibi_slopes(4)
    array([0.25      , 0.0625    , 0.015625  , 0.00390625])
    >>> alibi_slopes(8)[0], alibi_slopes(8)[-1]
    (np.float64(0.5), np.float64(0.00390625))
    """
    return _alibi_slopes(positive_int(n_heads, "n_heads"))


def _alibi_slopes(n_heads: int) -> np.ndarray:
    def power_of_two(h: int) -> np.ndarray:
        start = 2.0 ** (-8.0 / h)
        return start ** np.arange(1, h + 1)

    if n_heads & (n_heads - 1) == 0:
        return power_of_two(n_heads)
    closest = 2 ** int(np.floor(np.log2(n_heads)))
    return np.concatenate([power_of_two(closest), power_of_two(2 * closest)[0::2][: n_heads - closest]])


def alibi_bias(n_q: int, n_k: int | None = None, *, n_heads: int) -> np.ndarray:
    r"""ALiBi's linear distance penalty, :math:`-\lambda_g\,|p_i - j|`, one matrix per head ``g``.

    Add it to the scores (``scaled_dot_product_attention(..., bias=...)``): the further a
    key, the lower its score, head ``g`` with its own slope :math:`\lambda_g`. No position vectors are
    added to the tokens at all.

    The queries are the LAST ``n_q`` of the ``n_k`` positions, ``p_i = n_k - n_q + i``
    (aligned bottom-right, as in :func:`attn_core.masks.causal_mask`): a decoding step, one
    query after a cache of ``n_k - 1`` keys, gets the last row of the full bias, 0 on its
    own (newest) key and the steepest penalty on the oldest. With ``n_q = n_k`` this is
    :math:`-\lambda_g |i - j|`, two-sided; Press et al. use it with a causal mask.

    Parameters
    ----------
    n_q : int
    n_k : int, optional
        Default ``n_q``.
    n_heads : int
        The slopes are :func:`alibi_slopes` of ``n_heads``.

    Returns
    -------
    ndarray, shape (n_heads, n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        A length or ``n_heads`` that is not a whole number >= 1.

    Examples
    --------
    >>> alibi_bias(3, n_heads=2)[1]     # the second head's slope is 1/256
    array([[-0.        , -0.00390625, -0.0078125 ],
           [-0.00390625, -0.        , -0.00390625],
           [-0.0078125 , -0.00390625, -0.        ]])
    >>> alibi_bias(1, 3, n_heads=1)     # one decoding query after 2 cached keys: 0 on the newest
    array([[[-0.0078125 , -0.00390625, -0.        ]]])
    """
    n_q, n_k = _lengths(n_q, n_k)
    n_heads = positive_int(n_heads, "n_heads")
    distance = np.abs(_offsets(n_q, n_k))  # (n_q, n_k): |p_i - j|, queries at the end
    return -_alibi_slopes(n_heads)[:, None, None] * distance[None, :, :]  # (h, n_q, n_k)
