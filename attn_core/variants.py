"""Variants of attention that trade exactness for sparsity, speed or memory.

Each function takes queries ``(..., n_q, d_k)``, keys ``(..., n_k, d_k)`` and values
``(..., n_k, d_v)`` like :func:`attn_core.scaled_dot_product_attention` and approximates or
restricts what it computes. Local and sparse patterns need no function of their own: they
are masks (:mod:`attn_core.masks`) passed to the ordinary attention.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    as_mask,
    choice,
    flag,
    nonnegative_int,
    positive_int,
)
from attn_core.attention import _attention, _check_qkv, _checked_qkv_mask
from attn_core.softmax import _softmax

__all__ = [
    "hard_attention",
    "top_k_attention",
    "low_rank_attention",
    "linformer_projection",
    "elu_feature_map",
    "linear_attention",
    "linear_attention_weights",
    "random_feature_map",
    "random_feature_attention",
    "local_attention",
    "sparse_attention",
    "block_selection_mask",
    "block_top_k_attention",
]


def hard_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, *, seed: int = 0,
    mask: ArrayLike | None = None, causal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Stochastic hard attention (Xu et al., 2015): each query picks ONE key, sampled from the weights.

    The sample is drawn from the softmax weights of ordinary attention, so on average the
    output equals soft attention's; each single output is one value, not a blend. Training it
    needs a gradient estimator for the sampling (Williams, 1992) or a relaxation (Jang et al.,
    2017); here it is only evaluated.

    Parameters
    ----------
    q, k, v, mask, causal
        As in :func:`attn_core.scaled_dot_product_attention`.
    seed : int, default 0
        A whole number >= 0.

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k)
        One-hot rows (all zeros for a query with no allowed key, all NaN for a query whose
        soft weights are NaN).

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; a bad ``seed``.

    Examples
    --------
    >>> q = np.array([[1.0, 0.0]]); k = np.eye(2) * 50; v = np.array([[1.0], [2.0]])
    >>> hard_attention(q, k, v)[1]
    array([[1., 0.]])
    """
    q, k, v, allowed = _checked_qkv_mask(q, k, v, mask, causal)
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    _, soft = _attention(q, k, v, allowed, 1.0 / math.sqrt(q.shape[-1]))  # (..., n_q, n_k)
    cumulative = np.cumsum(soft, axis=-1)  # (..., n_q, n_k)
    draw = rng.random(soft.shape[:-1] + (1,)) * cumulative[..., -1:]  # (..., n_q, 1)
    picked = np.minimum((cumulative <= draw).sum(-1), soft.shape[-1] - 1)  # (..., n_q)
    weights = np.zeros_like(soft)
    np.put_along_axis(weights, picked[..., None], 1.0, axis=-1)
    total = cumulative[..., -1:]  # (..., n_q, 1): 1 (to rounding), 0 when no key is allowed, or NaN
    weights *= total != 0  # no allowed key: no choice
    weights[np.isnan(total[..., 0])] = np.nan  # NaN soft weights: a NaN row, not a finite pick
    return weights @ v, weights


def top_k_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, *, top_k: int,
    mask: ArrayLike | None = None, causal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep each query's ``top_k`` highest-scoring keys and renormalise the softmax over them.

    A deterministic middle ground between soft attention (``top_k = n_k``) and a hard
    argmax (``top_k = 1``). Ties at the threshold are all kept.

    Parameters
    ----------
    q, k, v, mask, causal
        As in :func:`attn_core.scaled_dot_product_attention`.
    top_k : int
        A whole number >= 1.

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k)
        At most ``top_k`` non-zero entries per row (more only on ties). A row with a NaN
        score is NaN.

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; a bad ``top_k``.

    Examples
    --------
    >>> q = np.array([[1.0]]); k = np.array([[3.0], [2.0], [1.0]]); v = np.eye(3)
    >>> (top_k_attention(q, k, v, top_k=2)[1] > 0).astype(int)
    array([[1, 1, 0]])
    """
    top_k = positive_int(top_k, "top_k")
    q, k, v, allowed = _checked_qkv_mask(q, k, v, mask, causal)
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # (..., n_q, n_k)
    masked = scores if allowed is None else np.where(allowed, scores, -np.inf)  # (..., n_q, n_k)
    kept = min(top_k, masked.shape[-1])
    kth = -np.sort(-masked, axis=-1)[..., kept - 1 : kept]  # (..., n_q, 1): the top_k-th score
    keep = (masked >= kth) | np.isnan(masked)  # (..., n_q, n_k): a NaN score is kept, so its row stays NaN
    if allowed is not None:
        keep &= allowed
    return _attention(q, k, v, keep, scale)


def linformer_projection(n_k: int, rank: int, *, seed: int = 0) -> np.ndarray:
    """A random ``(rank, n_k)`` projection with N(0, 1/rank) entries, for :func:`low_rank_attention`.

    Linformer learns these. Its argument for a random one (Wang et al., 2020, Theorem 1) is
    the Johnson-Lindenstrauss lemma applied to the weights ``P`` times each column ``w`` of
    the values: ``||P R^T R w - P w|| <= eps ||P w||`` with probability ``1 - o(1)`` when
    ``R`` has ``r = 5 log n / (eps^2 - eps^3)`` rows, which exceeds ``n`` for every ``eps``
    below a length of a few thousand
    (:func:`attn_core.experiments.variants.linformer_jl_rank`). Note that this construction,
    ``P R^T R V``, is not :func:`low_rank_attention` with a random projection, which takes
    the softmax *after* projecting the keys. Their Theorem 2, for the projections ``E``,
    ``F`` of the model itself, needs ``r = Theta(d log d / eps^2)``, independent of ``n``.

    Examples
    --------
    >>> linformer_projection(100, 8).shape
    (8, 100)
    """
    n_k, rank = positive_int(n_k, "n_k"), positive_int(rank, "rank")
    return np.random.default_rng(nonnegative_int(seed, "seed")).normal(0.0, 1.0 / np.sqrt(rank), (rank, n_k))


def low_rank_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, e: ArrayLike, f: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Linformer-style attention (Wang et al., 2020): compress the keys and values along the sequence.

    .. math:: \operatorname{softmax}\!\left(\frac{Q (E K)^\top}{\sqrt{d_k}}\right) (F V)

    ``E`` and ``F`` (``rank x n_k``) mix the ``n_k`` keys and values into ``rank`` summary
    rows, so the weight matrix is ``n_q x rank``: linear in the sequence length.

    Parameters
    ----------
    q, k, v : array_like
        As in :func:`attn_core.scaled_dot_product_attention`.
    e : array_like, shape (rank, n_k)
    f : array_like, shape (rank, n_k), optional
        Default ``e`` (shared projection).

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, rank)

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; ``e`` or ``f`` not
        ``(rank, n_k)``, or of different shapes.

    Examples
    --------
    >>> from attn_core import scaled_dot_product_attention
    >>> q = k = v = np.eye(4)
    >>> out, w = low_rank_attention(q, k, v, np.eye(4))   # identity projection: exact
    >>> bool(np.allclose(out, scaled_dot_product_attention(q, k, v)[0]))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    n_k = k.shape[-2]
    e = as_float_array(e, "e", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    f = e if f is None else as_float_array(f, "f", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    for name, m in [("e", e), ("f", f)]:
        if m.shape[1] != n_k:
            raise ValueError(f"{name} must have shape (rank, n_k={n_k}), got {m.shape}")
    if e.shape != f.shape:
        raise ValueError(f"e and f must have the same shape, got {e.shape} and {f.shape}")
    return _attention(q, e @ k, f @ v, None, 1.0 / math.sqrt(q.shape[-1]))  # keys (..., rank, d_k), values (..., rank, d_v)


def elu_feature_map(x: ArrayLike) -> np.ndarray:
    r"""The feature map :math:`\phi(x) = \operatorname{elu}(x) + 1` of Katharopoulos et al. (2020).

    Positive everywhere, so that :math:`\phi(q) \cdot \phi(k) > 0` can act as an
    unnormalised attention weight.

    Examples
    --------
    >>> elu_feature_map([-1.0, 0.0, 2.0]).round(4)
    array([0.3679, 1.    , 3.    ])
    """
    return _elu_plus_one(as_float_array(x, "x", nonempty=True, finite=True))


def _elu_plus_one(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


FeatureMap = Callable[[np.ndarray], np.ndarray]


def _features(feature_map: FeatureMap, x: np.ndarray, name: str) -> np.ndarray:
    """``feature_map(x)``, checked: a numeric array of x's shape but the last axis (the kernel of the default)."""
    if feature_map is elu_feature_map:
        return _elu_plus_one(x)
    if not callable(feature_map):
        raise TypeError(f"feature_map must be a function of an array, got {feature_map!r:.40}")
    phi = as_float_array(feature_map(x), f"feature_map({name})", min_ndim=2, nonempty=True, finite=True)
    if phi.shape[:-1] != x.shape[:-1]:
        raise ValueError(f"feature_map({name}) must keep the leading shape {x.shape[:-1]}, got {phi.shape}")
    return phi


def _linear_inputs(q: ArrayLike, k: ArrayLike, causal: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """Door of linear attention: queries and keys, and ``causal`` (which needs n_q = n_k)."""
    q = as_float_array(q, "q (queries)", min_ndim=2, nonempty=True, finite=True)
    k = as_float_array(k, "k (keys)", min_ndim=2, nonempty=True, finite=True)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must share d_k: q {q.shape}, k {k.shape}")
    causal = flag(causal, "causal")
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"causal linear attention needs n_q == n_k: q {q.shape}, k {k.shape}")
    return q, k, causal


def linear_attention_weights(
    q: ArrayLike, k: ArrayLike, *, causal: bool = False, feature_map: FeatureMap = elu_feature_map
) -> np.ndarray:
    r"""The ``n_q x n_k`` weights that linear attention uses implicitly (for pictures and tests).

    .. math:: A_{ij} = \frac{\phi(q_i) \cdot \phi(k_j)}{\sum_{l} \phi(q_i) \cdot \phi(k_l)}

    (with ``l <= i`` and ``j <= i`` when causal, which needs ``n_q = n_k``). This is the
    quadratic form that :func:`linear_attention` never builds.

    Raises
    ------
    TypeError, ValueError
        Bad ``q`` or ``k`` (as in :func:`attn_core.scaled_dot_product_attention`), a
        ``feature_map`` that is not a function or returns the wrong shape, ``causal`` not
        True or False or with ``n_q != n_k``.

    Examples
    --------
    >>> linear_attention_weights(np.ones((2, 2)), np.ones((3, 2))).round(3)
    array([[0.333, 0.333, 0.333],
           [0.333, 0.333, 0.333]])
    """
    q, k, causal = _linear_inputs(q, k, causal)
    raw = _features(feature_map, q, "q") @ np.swapaxes(_features(feature_map, k, "k"), -1, -2)  # (..., n_q, n_k)
    if causal:
        raw = raw * np.tril(np.ones(raw.shape[-2:], dtype=bool))  # (..., n, n): j <= i only
    return raw / raw.sum(-1, keepdims=True)  # (..., n_q, n_k)


def linear_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, *, causal: bool = False,
    feature_map: FeatureMap = elu_feature_map,
) -> np.ndarray:
    r"""Linear attention (Katharopoulos et al., 2020): softmax's kernel replaced by a feature map.

    .. math:: o_i = \frac{\phi(q_i)^\top \sum_j \phi(k_j) v_j^\top}{\phi(q_i)^\top \sum_j \phi(k_j)}

    Grouping the sums first costs ``O(n d^2)`` instead of ``O(n^2 d)``. When causal the sums
    run over ``j <= i`` and become running (prefix) sums: a recurrent state of fixed size, as
    in an RNN.

    Parameters
    ----------
    q, k, v : array_like
        As in :func:`attn_core.scaled_dot_product_attention`. When causal, ``n_q = n_k``.
    causal : bool, default False
    feature_map : callable, default :func:`elu_feature_map`
        Must return positive numbers.

    Returns
    -------
    ndarray, shape (..., n_q, d_v)

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; as
        :func:`linear_attention_weights` for ``feature_map`` and ``causal``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 5, 4))
    >>> quadratic = linear_attention_weights(q, k, causal=True) @ v
    >>> bool(np.allclose(linear_attention(q, k, v, causal=True), quadratic))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    q, k, causal = _linear_inputs(q, k, causal)
    return _linear_attention_from_features(_features(feature_map, q, "q"), _features(feature_map, k, "k"), v, causal)


def _linear_attention_from_features(phi_q: np.ndarray, phi_k: np.ndarray, v: np.ndarray,
                                    causal: bool) -> np.ndarray:
    """Linear attention given the features ``phi(q)`` (..., n_q, f) and ``phi(k)`` (..., n_k, f)."""
    if not causal:
        state = np.swapaxes(phi_k, -1, -2) @ v  # (..., f, d_v): sum_j phi(k_j) v_j^T
        norm = phi_k.sum(-2)  # (..., f): sum_j phi(k_j)
        return (phi_q @ state) / (phi_q @ norm[..., None])  # (..., n_q, d_v)
    states = np.cumsum(phi_k[..., :, :, None] * v[..., :, None, :], axis=-3)  # (..., n, f, d_v): prefix sums
    norms = np.cumsum(phi_k, axis=-2)  # (..., n, f)
    numerator = np.einsum("...nf,...nfd->...nd", phi_q, states)  # (..., n, d_v)
    return numerator / np.einsum("...nf,...nf->...n", phi_q, norms)[..., None]


def random_feature_map(x: ArrayLike, projection: ArrayLike, *, stabilise: str | None = None) -> np.ndarray:
    r"""Positive random features for the softmax kernel (Choromanski et al., 2021).

    .. math:: \phi(x) = \frac{1}{\sqrt{m}} \exp\!\left(W x - \frac{\|x\|^2}{2} - c\right),
              \qquad \mathbb{E}[\phi(x) \cdot \phi(y)] = e^{-2c}\, \exp(x \cdot y)

    ``W`` has ``m`` rows drawn from N(0, I) (Rahimi & Recht, 2007, for the idea of random
    features). The constant ``c`` keeps the exponentials in range; it cancels in attention's
    normalisation when it is the same for all keys, or the same within each query's row.

    Parameters
    ----------
    x : array_like, shape (..., n, d)
    projection : array_like, shape (m, d)
    stabilise : {None, "row", "all"}
        ``c = 0``; ``c`` = each row's largest exponent (for queries); ``c`` = the largest
        exponent of all rows (for keys).

    Returns
    -------
    ndarray, shape (..., n, m)

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite ``x`` or ``projection``; ``projection`` not
        ``(m, d)``; an unknown ``stabilise``.

    Examples
    --------
    >>> w = np.random.default_rng(0).standard_normal((20000, 2))
    >>> x, y = np.array([[0.3, -0.2]]), np.array([[0.1, 0.4]])
    >>> estimate = (random_feature_map(x, w) @ random_feature_map(y, w).T).item()
    >>> bool(abs(estimate - np.exp(x @ y.T).item()) < 0.02)
    True
    """
    x = as_float_array(x, "x", min_ndim=2, nonempty=True, finite=True)
    w = as_float_array(projection, "projection", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if w.shape[-1] != x.shape[-1]:
        raise ValueError(f"projection must be (m, d) with d the width of x: x has shape {x.shape}, projection {w.shape}")
    return _random_features(x, w, choice(stabilise, (None, "row", "all"), "stabilise"))


def _random_features(x: np.ndarray, w: np.ndarray, stabilise: str | None) -> np.ndarray:
    """The positive random features, without checks."""
    exponent = x @ w.T - 0.5 * (x**2).sum(-1, keepdims=True)  # (..., n, m)
    if stabilise == "row":
        exponent -= exponent.max(-1, keepdims=True)
    elif stabilise == "all":
        exponent -= exponent.max(axis=(-2, -1), keepdims=True)
    return np.exp(exponent) / np.sqrt(w.shape[0])  # (..., n, m)


def random_feature_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, *, n_features: int, seed: int = 0,
    orthogonal: bool = True, causal: bool = False,
) -> np.ndarray:
    r"""Performer-style attention (Choromanski et al., 2021): softmax attention approximated with random features.

    With :math:`\phi` from :func:`random_feature_map` applied to :math:`q / d_k^{1/4}` and
    :math:`k / d_k^{1/4}`, :math:`\phi(q_i) \cdot \phi(k_j)` is an unbiased estimate of
    :math:`\exp(q_i \cdot k_j / \sqrt{d_k})`, and linear attention with this feature map
    estimates softmax attention. The error shrinks as ``n_features`` grows.

    Parameters
    ----------
    q, k, v : array_like
    n_features : int
        Number of random features ``m``.
    seed : int, default 0
        A whole number >= 0.
    orthogonal : bool, default True
        Draw the projections in orthogonal blocks (lower variance), rescaled to the lengths
        of Gaussian rows.
    causal : bool, default False
        Needs ``n_q = n_k``.

    Returns
    -------
    ndarray, shape (..., n_q, d_v)

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; a bad ``n_features``, ``seed``,
        ``orthogonal`` or ``causal``.

    Examples
    --------
    >>> from attn_core import scaled_dot_product_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 6, 4)) * 0.5
    >>> exact = scaled_dot_product_attention(q, k, v)[0]
    >>> approx = random_feature_attention(q, k, v, n_features=4096, seed=1)
    >>> bool(np.abs(approx - exact).max() < 0.05)
    True
    """
    q, k, v = _check_qkv(q, k, v)
    q, k, causal = _linear_inputs(q, k, causal)
    m = positive_int(n_features, "n_features")
    d = q.shape[-1]
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    if flag(orthogonal, "orthogonal"):
        blocks = []
        for _ in range(-(-m // d)):
            block, r = np.linalg.qr(rng.standard_normal((d, d)))
            blocks.append((block * np.sign(np.diag(r))).T)  # signs fixed: a uniformly random rotation
        w = np.concatenate(blocks)[:m] * np.sqrt(rng.chisquare(d, size=(m, 1)))  # (m, d)
    else:
        w = rng.standard_normal((m, d))  # (m, d)
    phi_q = _random_features(q / d**0.25, w, "row")  # (..., n_q, m)
    phi_k = _random_features(k / d**0.25, w, "all")  # (..., n_k, m)
    return _linear_attention_from_features(phi_q, phi_k, v, causal)


def local_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, *, window: int, causal: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Sliding-window attention computed on the band only: ``O(n * window)`` work and memory.

    Equal to ``scaled_dot_product_attention(q, k, v, mask=sliding_window_mask(n, window=window,
    causal=causal))`` but never forms the ``n x n`` scores: each query gathers its
    ``2 * window + 1`` neighbours (``window + 1`` when causal).

    Parameters
    ----------
    q, k, v : array_like, shapes (..., n, d_k), (..., n, d_k), (..., n, d_v)
        Self-attention layout: as many queries as keys.
    window : int
    causal : bool, default False

    Returns
    -------
    output : ndarray, shape (..., n, d_v)
    band_weights : ndarray, shape (..., n, 2 * window + 1)
        Column ``c`` holds the weight of key ``i - window + c`` (zero outside the sequence,
        and for future keys when causal).

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; a bad ``window`` or ``causal``;
        ``n_q != n_k``.

    Examples
    --------
    >>> from attn_core import scaled_dot_product_attention
    >>> from attn_core.masks import sliding_window_mask
    >>> x = np.random.default_rng(0).standard_normal((6, 3))
    >>> out, _ = local_attention(x, x, x, window=1)
    >>> full, _ = scaled_dot_product_attention(x, x, x, mask=sliding_window_mask(6, window=1))
    >>> bool(np.allclose(out, full))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    window = positive_int(window, "window")
    causal = flag(causal, "causal")
    n = q.shape[-2]
    if k.shape[-2] != n:
        raise ValueError(f"local attention needs as many queries as keys: q {q.shape}, k {k.shape}")
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    q, k, v = (np.broadcast_to(a, lead + a.shape[-2:]) for a in (q, k, v))
    width = 2 * window + 1
    pad = [(0, 0)] * len(lead) + [(window, window), (0, 0)]
    k_band = np.lib.stride_tricks.sliding_window_view(np.pad(k, pad), width, axis=-2)  # (..., n, d_k, width)
    v_band = np.lib.stride_tricks.sliding_window_view(np.pad(v, pad), width, axis=-2)  # (..., n, d_v, width)
    scores = np.einsum("...nd,...ndw->...nw", q, k_band) / math.sqrt(q.shape[-1])  # (..., n, width)
    offset = np.arange(width) - window  # key position minus query position
    position = np.arange(n)[:, None] + offset[None, :]  # (n, width)
    allowed = (position >= 0) & (position < n) & ((offset <= 0) if causal else True)
    weights = _softmax(scores, -1, 1.0, np.broadcast_to(allowed, scores.shape))  # (..., n, width)
    return np.einsum("...nw,...ndw->...nd", weights, v_band), weights


def sparse_attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike) -> np.ndarray:
    """Attention computed on the allowed (query, key) pairs only: ``O(nnz * d)`` work.

    Equal to ``scaled_dot_product_attention(q, k, v, mask=mask)[0]`` for any boolean mask
    (strided, fixed, BigBird, ...), but scores are computed only where ``mask`` is True,
    as a sparse kernel would. A query with no allowed key gets zeros.

    Parameters
    ----------
    q : array_like, shape (n_q, d_k)
    k : array_like, shape (n_k, d_k)
    v : array_like, shape (n_k, d_v)
    mask : array_like of bool, shape (n_q, n_k)

    Returns
    -------
    ndarray, shape (n_q, d_v)

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; arrays with batch dimensions; a
        ``mask`` that is not boolean or not ``(n_q, n_k)``.

    Examples
    --------
    >>> from attn_core import scaled_dot_product_attention
    >>> from attn_core.masks import strided_mask
    >>> x = np.random.default_rng(0).standard_normal((6, 3))
    >>> m = strided_mask(6, stride=2)
    >>> bool(np.allclose(sparse_attention(x, x, x, m), scaled_dot_product_attention(x, x, x, mask=m)[0]))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    if q.ndim != 2 or k.ndim != 2 or v.ndim != 2:
        raise ValueError(f"sparse_attention takes one sequence: q {q.shape}, k {k.shape}, v {v.shape}")
    allowed = as_mask(mask, "mask", (q.shape[0], k.shape[0]), "weights (n_q, n_k)")
    rows, cols = np.nonzero(allowed)  # row-major: each query's keys are contiguous
    out = np.zeros((q.shape[0], v.shape[1]), dtype=np.result_type(q, k, v))
    if rows.size == 0:
        return out
    scores = np.einsum("pd,pd->p", q[rows], k[cols]) / math.sqrt(q.shape[1])  # (nnz,)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # first pair of each query
    row_max = np.maximum.reduceat(scores, starts)  # (queries with keys,)
    counts = np.diff(np.r_[starts, rows.size])
    e = np.exp(scores - np.repeat(row_max, counts))  # (nnz,)
    norm = np.add.reduceat(e, starts)
    weights = e / np.repeat(norm, counts)  # (nnz,)
    np.add.at(out, rows, weights[:, None] * v[cols])  # (n_q, d_v)
    return out


def block_selection_mask(
    q: ArrayLike, k: ArrayLike, *, block_size: int, top_k: int, causal: bool = False
) -> np.ndarray:
    r"""The keys each query keeps under block top-k selection (MoBA's gate).

    The keys are cut into consecutive blocks of ``block_size`` (the last may be shorter).
    Query :math:`i` scores block :math:`u` by :math:`\bar s_{iu} = q_i \cdot \bar k_u / \sqrt{d_k}`,
    with :math:`\bar k_u` the mean of the block's keys, and keeps its ``top_k`` best blocks:
    the gate of MoBA (Lu et al., 2025). (The code ranks :math:`q_i \cdot \bar k_u`; the
    factor :math:`1/\sqrt{d_k}` does not change the ranking.) NSA (Yuan et al., 2025)
    ranks blocks differently, by the attention to learned block summaries. When causal (``n_q = n_k``), the query's own
    block is always kept, ``top_k - 1`` more are chosen among the earlier blocks, and keys
    after the query are dropped. Ties go to the earlier block.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)
    block_size : int
        A whole number >= 1.
    top_k : int
        Blocks kept per query, a whole number >= 1 (all of them when it exceeds the count).
    causal : bool, default False

    Returns
    -------
    ndarray of bool, shape (..., n_q, n_k)
        True where query i may attend key j.

    Raises
    ------
    TypeError, ValueError
        Bad ``q`` or ``k`` (as in :func:`attn_core.scaled_dot_product_attention`); a bad
        ``block_size``, ``top_k`` or ``causal``; ``causal`` with ``n_q != n_k``.

    Examples
    --------
    >>> q = np.array([[1.0], [-1.0]]); k = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    >>> block_selection_mask(q, k, block_size=2, top_k=1).astype(int)
    array([[1, 1, 0, 0],
           [0, 0, 1, 1]])
    """
    q, k, causal = _linear_inputs(q, k, causal)
    block_size, top_k = positive_int(block_size, "block_size"), positive_int(top_k, "top_k")
    return _block_selection_mask(q, k, block_size, top_k, causal)


def _block_selection_mask(q: np.ndarray, k: np.ndarray, block_size: int, top_k: int, causal: bool) -> np.ndarray:
    """Block top-k selection, without checks."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    starts = np.arange(0, n_k, block_size)  # first key of each block
    counts = np.diff(np.r_[starts, n_k])  # (n_blocks,)
    means = np.add.reduceat(k, starts, axis=-2) / counts[:, None]  # (..., n_blocks, d_k): block means
    gate = q @ np.swapaxes(means, -1, -2)  # (..., n_q, n_blocks): q_i . mean of block b
    n_blocks = starts.size
    if causal:
        own = np.arange(n_q) // block_size  # (n_q,): each query's block
        block = np.arange(n_blocks)
        gate = np.where(block[None, :] > own[:, None], -np.inf, gate)  # future blocks: never
        gate = np.where(block[None, :] == own[:, None], np.inf, gate)  # own block: always
    order = np.argsort(-gate, axis=-1, kind="stable")[..., :top_k]  # (..., n_q, kept): best blocks first
    chosen = np.zeros(gate.shape, dtype=bool)
    np.put_along_axis(chosen, order, True, axis=-1)
    chosen |= np.isnan(gate)  # a NaN gate is kept, so that the NaN reaches the output (as in full attention)
    if causal:
        chosen &= gate > -np.inf  # fewer earlier blocks than top_k: no future block fills the gap
    block_of_key = np.repeat(np.arange(n_blocks), counts)  # (n_k,)
    allowed = chosen[..., block_of_key]  # (..., n_q, n_k)
    if causal:
        allowed = allowed & np.tril(np.ones((n_q, n_k), dtype=bool))  # (..., n, n): j <= i
    return allowed


def block_top_k_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, *, block_size: int, top_k: int, causal: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    r"""Content-based sparse attention: each query attends exactly within the key blocks it selects.

    Mixture of Block Attention (MoBA, Lu et al., 2025), with its gate; the selection branch
    of Native Sparse Attention (NSA, Yuan et al., 2025) also keeps the top blocks, but ranks
    them by attention to learned block summaries. Here the blocks are chosen by the content of
    the queries and keys (:func:`block_selection_mask`: the ``top_k`` blocks whose mean key
    scores highest against the query), then ordinary softmax attention runs on the keys of
    those blocks only. The pattern is decided by a cheap score per *block*, ``n_q`` times
    ``n_k / block_size`` dot products, before any score per *key* is computed.

    This reference builds the mask and calls the masked attention, so its output equals
    ``scaled_dot_product_attention(q, k, v, mask=block_selection_mask(...))``; a kernel
    would gather the chosen blocks instead.

    Parameters
    ----------
    q, k, v : array_like
        As in :func:`attn_core.scaled_dot_product_attention`; when causal, ``n_q = n_k``.
    block_size, top_k, causal
        As in :func:`block_selection_mask`.

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
    weights : ndarray, shape (..., n_q, n_k)
        Zero outside the chosen blocks.

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; as :func:`block_selection_mask`.

    Examples
    --------
    >>> from attn_core import scaled_dot_product_attention
    >>> x = np.random.default_rng(0).standard_normal((8, 4))
    >>> out, _ = block_top_k_attention(x, x, x, block_size=2, top_k=4)   # all 4 blocks: full
    >>> bool(np.allclose(out, scaled_dot_product_attention(x, x, x)[0]))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    q, k, causal = _linear_inputs(q, k, causal)
    block_size, top_k = positive_int(block_size, "block_size"), positive_int(top_k, "top_k")
    allowed = _block_selection_mask(q, k, block_size, top_k, causal)  # (..., n_q, n_k)
    return _attention(q, k, v, allowed, 1.0 / math.sqrt(q.shape[-1]))
