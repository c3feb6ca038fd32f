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
    number_in_range,
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
    "interpolated_positions",
    "ntk_scaled_base",
    "yarn_frequencies",
    "yarn_attention_factor",
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
    frequencies: ArrayLike | None = None,
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
    frequencies : array_like of shape (d // 2,), optional
        The angles per position :math:`\theta_i` to use instead of :math:`\text{base}^{-2i/d}`
        (``base`` is then unused), e.g. :func:`yarn_frequencies` for a model run beyond its
        training length.

    Returns
    -------
    ndarray, same shape as ``x``

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite ``x`` or ``positions``; an odd width; ``positions``
        not ``(n,)``; ``base`` not finite and > 0; an unknown ``pairing``; ``frequencies``
        not ``(d // 2,)`` finite numbers.

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
    if frequencies is not None:
        frequencies = as_float_array(frequencies, "frequencies", min_ndim=1, nonempty=True, finite=True)
        if frequencies.shape != (d // 2,):
            raise ValueError(f"frequencies must have shape (d // 2,) = ({d // 2},) for x {x.shape}, "
                             f"got {frequencies.shape}")
    return _rotary_embedding(x, p, base, pairing, frequencies)


def _rotary_embedding(x: np.ndarray, p: np.ndarray, base: float, pairing: str = "interleaved",
                      frequencies: np.ndarray | None = None) -> np.ndarray:
    d = x.shape[-1]
    if frequencies is None:
        angle = _rotary_angles(p, d, base)  # (n, d/2)
    else:
        angle = p[:, None] * frequencies[None, :]  # (n, d/2)
    cos, sin = np.cos(angle), np.sin(angle)
    first, second = (slice(0, None, 2), slice(1, None, 2)) if pairing == "interleaved" else (
        slice(0, d // 2), slice(d // 2, None))
    even, odd = x[..., first], x[..., second]  # (..., n, d/2) each: the two coordinates of every pair
    out = np.empty_like(x)
    out[..., first] = even * cos - odd * sin
    out[..., second] = even * sin + odd * cos
    return out


# --------------------------------------------- RoPE beyond the training length: rescaled angles
def _context_scale(scale: float) -> float:
    """``scale`` checked: how many times longer the new context is than the trained one (>= 1)."""
    return number_in_range(scale, "scale", 1.0, math.inf)


def _even_width(d: int, minimum: int = 2) -> int:
    d = positive_int(d, "d")
    if d % 2 or d < minimum:
        raise ValueError(f"d must be an even whole number >= {minimum} (pairs of coordinates), got {d}")
    return d


def interpolated_positions(positions: ArrayLike, scale: float) -> np.ndarray:
    r"""Position interpolation (Chen et al., 2023): divide the positions by the ``scale``.

    A model trained on positions :math:`0 \le p < L` is run on :math:`s L` positions by
    feeding RoPE the position :math:`p / s` (then fine-tuned briefly). Every pair then turns
    by :math:`(p / s)\,\theta_i < L\,\theta_i`: no angle leaves the range seen in training,
    at the price of squeezing neighbouring positions ``s`` times closer in every pair, the
    fast ones included. Use the result as the ``positions`` of :func:`rotary_angles` or
    :func:`rotary_embedding`.

    Parameters
    ----------
    positions : array_like, shape (n,)
        Any finite numbers.
    scale : float
        :math:`s = L_\text{new} / L`, at least 1.

    Returns
    -------
    ndarray, shape (n,)

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite ``positions``; ``scale`` not a finite number >= 1.

    Examples
    --------
    >>> interpolated_positions([0, 1, 2, 3, 4, 5, 6, 7], 2.0)    # 8 positions where 4 were trained
    array([0. , 0.5, 1. , 1.5, 2. , 2.5, 3. , 3.5])
    """
    p = as_float_array(positions, "positions", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    return p / _context_scale(scale)  # (n,)


def ntk_scaled_base(base: float, scale: float, d: int) -> float:
    r"""NTK-aware scaling of RoPE (bloc97, 2023): a larger base instead of smaller positions.

    .. math:: \text{base}' = \text{base} \cdot s^{d / (d - 2)}

    The exponent is chosen so that the slowest pair, :math:`\theta_{d/2-1} =
    \text{base}^{-(d-2)/d}`, turns exactly ``s`` times more slowly (it is interpolated, like
    every pair under :func:`interpolated_positions`), while the fastest pair,
    :math:`\theta_0 = 1`, is unchanged and the pairs between are slowed by
    :math:`s^{2i/(d-2)}`, less the faster they turn. The name comes from the post's appeal
    to neural tangent kernel theory (a network learns high-frequency functions of its
    inputs poorly): interpolation squeezes the fast pairs too, and with them the fine
    distinctions between neighbouring positions; this base change leaves them almost as
    trained. Peng et al. (2024) analyse it and build YaRN on it (:func:`yarn_frequencies`).

    Parameters
    ----------
    base : float
        The trained base (10,000 in the original RoPE); finite and > 0.
    scale : float
        :math:`s = L_\text{new} / L`, at least 1.
    d : int
        The even width of the rotated vectors, at least 4 (with one pair there is nothing
        to rescale: :math:`\theta_0 = 1` whatever the base).

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        ``base`` not finite and > 0; ``scale`` not a finite number >= 1; ``d`` not an even
        whole number >= 4.

    Examples
    --------
    >>> new_base = ntk_scaled_base(100.0, 4.0, 4)          # 100 * 4 ** (4 / 2)
    >>> new_base
    1600.0
    >>> rotary_angles([1], 4, base=new_base)                 # the slow pair: 0.1 / 4
    array([[1.   , 0.025]])
    """
    base = positive_number(base, "base")
    scale = _context_scale(scale)
    d = _even_width(d, 4)
    return base * scale ** (d / (d - 2))


def yarn_frequencies(
    d: int, *, base: float = 10000.0, scale: float, original_length: int,
    alpha: float = 1.0, beta: float = 32.0,
) -> np.ndarray:
    r"""The RoPE frequencies of YaRN (Peng et al., 2024): interpolate only the slow pairs.

    Pair ``i`` turns at :math:`\theta_i = \text{base}^{-2i/d}`, a wavelength of
    :math:`\lambda_i = 2\pi / \theta_i` positions, so over the trained length ``L`` it makes
    :math:`r_i = L / \lambda_i` turns. YaRN ("NTK-by-parts") keeps a pair that turned many
    times in training (:math:`r_i > \beta`: it has been seen at every angle), interpolates by
    ``s`` a pair that did not complete a turn (:math:`r_i < \alpha`: new positions would give
    it angles never seen), and blends linearly between:

    .. math:: \theta'_i = \big(1 - \gamma(r_i)\big)\,\frac{\theta_i}{s} + \gamma(r_i)\,\theta_i,
              \qquad \gamma(r) = \operatorname{clip}\!\left(\frac{r - \alpha}{\beta - \alpha}, 0, 1\right)

    (the paper's formula; some implementations round the two boundaries to whole pair
    indices). The paper's :math:`\alpha = 1, \beta = 32` are for Llama. YaRN also sharpens
    the attention: see :func:`yarn_attention_factor`. The angles are ``positions[:, None] *
    yarn_frequencies(...)``.

    Parameters
    ----------
    d : int
        The even width of the rotated vectors.
    base : float, default 10000
        Finite and > 0.
    scale : float
        :math:`s = L_\text{new} / L`, at least 1.
    original_length : int
        ``L``, the length the model was trained on.
    alpha, beta : float, default 1 and 32
        The numbers of turns below which a pair is interpolated and above which it is kept;
        finite, :math:`0 < \alpha < \beta`.

    Returns
    -------
    ndarray, shape (d // 2,)
        :math:`\theta'_i`, in radians per position, from :math:`\theta_i / s` to :math:`\theta_i`.

    Raises
    ------
    TypeError, ValueError
        ``d`` not an even whole number >= 2; ``base`` or ``alpha`` or ``beta`` not finite and
        > 0, or ``alpha >= beta``; ``scale`` not a finite number >= 1; ``original_length`` not a
        whole number >= 1.

    Examples
    --------
    Over 64 trained positions the fast pair (wavelength 6.3) turns 10 times, the slow pair
    (wavelength 628) a tenth of a turn: with alpha 1 and beta 8 the first is kept and the
    second is divided by the scale.

    >>> yarn_frequencies(4, base=10000.0, scale=4.0, original_length=64, alpha=1.0, beta=8.0)
    array([1.    , 0.0025])
    """
    d = _even_width(d)
    base = positive_number(base, "base")
    scale = _context_scale(scale)
    original_length = positive_int(original_length, "original_length")
    alpha, beta = positive_number(alpha, "alpha"), positive_number(beta, "beta")
    if alpha >= beta:
        raise ValueError(f"alpha must be below beta (turns: interpolate below alpha, keep above beta); "
                         f"got alpha={alpha}, beta={beta}")
    return _yarn_frequencies(d, base, scale, original_length, alpha, beta)


def _yarn_frequencies(d: int, base: float, scale: float, original_length: int, alpha: float,
                      beta: float) -> np.ndarray:
    theta = base ** (-np.arange(0, d, 2) / d)  # (d/2,)
    turns = original_length * theta / (2 * math.pi)  # (d/2,): r_i = L / lambda_i
    kept = np.clip((turns - alpha) / (beta - alpha), 0.0, 1.0)  # (d/2,): gamma(r_i)
    return (1.0 - kept) * theta / scale + kept * theta  # (d/2,)


def yarn_attention_factor(scale: float) -> float:
    r"""YaRN's attention temperature: multiply queries and keys by :math:`0.1 \ln s + 1`.

    Peng et al. (2024) found that at a longer context the softmax should be sharper, and
    fitted, for Llama, :math:`\sqrt{1/t} = 0.1 \ln s + 1`: the rotated queries and keys are
    both multiplied by this factor, so the scores are multiplied by its square, :math:`1/t`
    (implementations fold it into the cosine and sine tables). It is 1 at ``scale = 1``.

    Parameters
    ----------
    scale : float
        :math:`s = L_\text{new} / L`, at least 1.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        ``scale`` not a finite number >= 1.

    Examples
    --------
    >>> round(yarn_attention_factor(16.0), 4)       # 0.1 ln 16 + 1
    1.2773
    """
    return 0.1 * math.log(_context_scale(scale)) + 1.0


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
