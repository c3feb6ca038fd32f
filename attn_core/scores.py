"""Scoring functions: how well does each key match each query?

Every function returns a score matrix ``S`` of shape ``(..., n_q, n_k)`` whose row i holds
query i's scores for every key; softmax then turns each row into weights. Queries are
``(..., n_q, d_q)`` and keys ``(..., n_k, d_k)``; leading dimensions broadcast.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, broadcast_batch, positive_number

__all__ = [
    "SCORE_FUNCTIONS",
    "all_scores",
    "dot_product_scores",
    "scaled_dot_product_scores",
    "bilinear_scores",
    "additive_scores",
    "cosine_scores",
    "location_scores",
]


def _queries_keys(q: ArrayLike, k: ArrayLike, *, same_width: bool) -> tuple[np.ndarray, ...]:
    """The door of every score function: queries and keys as float arrays that fit together."""
    q = _queries(q)
    k = as_float_array(k, "k (keys)", min_ndim=2, nonempty=True, finite=True)
    if same_width and q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"this score compares queries and keys directly, so they must have the same "
            f"width d_k: q has shape {q.shape}, k has shape {k.shape}"
        )
    broadcast_batch({"q": q.shape, "k": k.shape})
    return q, k


def _queries(q: ArrayLike) -> np.ndarray:
    return as_float_array(q, "q (queries)", min_ndim=2, nonempty=True, finite=True)


def _weight(w: ArrayLike, name: str, shape: tuple[int, ...], meaning: str) -> np.ndarray:
    """A learned parameter of a score, checked against the ``shape`` it must have."""
    w = as_float_array(w, name, nonempty=True, finite=True)
    if w.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({meaning}, from q (queries) and k (keys)), got {w.shape}")
    return w


def dot_product_scores(q: ArrayLike, k: ArrayLike) -> np.ndarray:
    r"""Dot-product scores :math:`s_{ij} = q_i \cdot k_j` (Luong et al., 2015, "dot").

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)

    Returns
    -------
    ndarray, shape (..., n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        Non-numeric input; ``q`` and ``k`` of different widths; batch dims that do not
        broadcast.

    Examples
    --------
    >>> dot_product_scores([[1.0, 2.0]], [[3.0, 4.0], [1.0, 0.0]])
    array([[11.,  1.]])
    """
    q, k = _queries_keys(q, k, same_width=True)
    return _dot(q, k)


def _dot(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    return q @ np.swapaxes(k, -1, -2)  # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)


def scaled_dot_product_scores(q: ArrayLike, k: ArrayLike, scale: float | None = None) -> np.ndarray:
    r"""Scaled dot-product scores :math:`s_{ij} = q_i \cdot k_j / \sqrt{d_k}` (Vaswani et al., 2017).

    If the entries of ``q`` and ``k`` are independent with mean 0 and variance 1, the dot
    product has variance ``d_k``; dividing by ``sqrt(d_k)`` brings it back to 1, so the
    softmax does not saturate as ``d_k`` grows.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)
    scale : float, optional
        Default ``1 / sqrt(d_k)``.

    Returns
    -------
    ndarray, shape (..., n_q, n_k)

    Examples
    --------
    >>> scaled_dot_product_scores([[1.0, 1.0, 1.0, 1.0]], [[1.0, 1.0, 1.0, 1.0]])
    array([[2.]])
    """
    q, k = _queries_keys(q, k, same_width=True)
    scale = positive_number(scale, "scale", allow_none=True)
    return _dot(q, k) * (1.0 / math.sqrt(q.shape[-1]) if scale is None else scale)  # (..., n_q, n_k)


def bilinear_scores(q: ArrayLike, k: ArrayLike, w: ArrayLike) -> np.ndarray:
    r"""Bilinear ("general") scores :math:`s_{ij} = q_i W k_j^\top` (Luong et al., 2015).

    ``W`` lets queries and keys live in spaces of different widths and learns which
    directions of one should match which of the other.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_q)
    k : array_like, shape (..., n_k, d_k)
    w : array_like, shape (d_q, d_k)

    Returns
    -------
    ndarray, shape (..., n_q, n_k)

    Examples
    --------
    >>> bilinear_scores([[1.0, 0.0]], [[0.0, 1.0, 0.0]], [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    array([[2.]])
    """
    q, k = _queries_keys(q, k, same_width=False)
    return _dot(q @ _weight(w, "w", (q.shape[-1], k.shape[-1]), "d_q x d_k"), k)  # (..., n_q, d_k) @ (..., d_k, n_k)


def additive_scores(
    q: ArrayLike, k: ArrayLike, w_q: ArrayLike, w_k: ArrayLike, w_v: ArrayLike
) -> np.ndarray:
    r"""Additive scores :math:`s_{ij} = w_v^\top \tanh(q_i W_q + k_j W_k)` (Bahdanau et al., 2015).

    A one-hidden-layer network scores each (query, key) pair; queries and keys may have
    different widths.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_q)
    k : array_like, shape (..., n_k, d_k)
    w_q : array_like, shape (d_q, h)
    w_k : array_like, shape (d_k, h)
    w_v : array_like, shape (h,)

    Returns
    -------
    ndarray, shape (..., n_q, n_k)

    Examples
    --------
    >>> s = additive_scores([[1.0]], [[1.0], [-1.0]], [[1.0]], [[1.0]], [1.0])
    >>> s.round(4)   # tanh(1 + 1), tanh(1 - 1)
    array([[0.964, 0.   ]])
    """
    q, k = _queries_keys(q, k, same_width=False)
    w_q = as_float_array(w_q, "w_q", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    h = w_q.shape[-1]
    w_q = _weight(w_q, "w_q", (q.shape[-1], h), "d_q x hidden")
    w_k = _weight(w_k, "w_k", (k.shape[-1], h), "d_k x hidden, same hidden width as w_q")
    w_v = _weight(w_v, "w_v", (h,), "hidden, same hidden width as w_q")
    return _additive(q, k, w_q, w_k, w_v)


def _additive(q: np.ndarray, k: np.ndarray, w_q: np.ndarray, w_k: np.ndarray, w_v: np.ndarray) -> np.ndarray:
    hidden = np.tanh((q @ w_q)[..., :, None, :] + (k @ w_k)[..., None, :, :])  # (..., n_q, n_k, h)
    return hidden @ w_v  # (..., n_q, n_k)


def cosine_scores(q: ArrayLike, k: ArrayLike) -> np.ndarray:
    r"""Cosine similarity :math:`s_{ij} = q_i \cdot k_j / (\|q_i\| \|k_j\|)` (Graves et al., 2014).

    Scores lie in ``[-1, 1]`` whatever the lengths of the vectors; only directions count.
    A zero vector has no direction: its scores are 0. A vector holding NaN scores NaN.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)

    Returns
    -------
    ndarray, shape (..., n_q, n_k)

    Examples
    --------
    >>> cosine_scores([[2.0, 0.0]], [[5.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    array([[1., 0., 0.]])
    """
    q, k = _queries_keys(q, k, same_width=True)
    return _dot(_unit_rows(q), _unit_rows(k))  # (..., n_q, n_k)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), without overflow or underflow.

    Dividing by the largest entry first keeps the squares in range for rows like 1e200 or
    1e-170, whose plain norms would come out as inf or 0.
    """
    biggest = np.max(np.abs(x), axis=-1, keepdims=True)  # (..., n, 1); NaN if the row holds NaN
    scaled = np.divide(x, biggest, out=np.zeros_like(x), where=biggest != 0)  # NaN != 0: stays NaN
    norm = np.linalg.norm(scaled, axis=-1, keepdims=True)  # (..., n, 1)
    return np.divide(scaled, norm, out=np.zeros_like(x), where=norm != 0)


def location_scores(q: ArrayLike, w: ArrayLike) -> np.ndarray:
    r"""Location-based scores :math:`s_i = q_i W` (Luong et al., 2015).

    The scores depend on the query alone, never on the keys' contents: the model learns
    *where* to look (a position), not *what* to look for.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_q)
    w : array_like, shape (d_q, n_k)
        One column per key position.

    Returns
    -------
    ndarray, shape (..., n_q, n_k)

    Examples
    --------
    >>> location_scores([[1.0, 0.0]], [[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]])
    array([[0., 1., 2.]])
    """
    q = _queries(q)
    w = as_float_array(w, "w", min_ndim=2, nonempty=True, finite=True)
    if w.ndim != 2 or w.shape[0] != q.shape[-1]:
        raise ValueError(f"w must have shape (d_q={q.shape[-1]}, n_k), d_q the width of q (queries), got {w.shape}")
    return q @ w  # (..., n_q, n_k)

#: The names of the six score functions, in the order :func:`all_scores` returns them.
SCORE_FUNCTIONS = ("dot", "scaled dot", "bilinear", "additive", "cosine", "location")


def all_scores(
    q: ArrayLike,
    k: ArrayLike,
    *,
    bilinear_w: ArrayLike,
    additive_w_q: ArrayLike,
    additive_w_k: ArrayLike,
    additive_w_v: ArrayLike,
    location_w: ArrayLike,
) -> dict[str, np.ndarray]:
    r"""The scores of every query for every key, by each of the six score functions.

    ========== ============================================== ==========================
    name       score :math:`s_{ij}`                           function
    ========== ============================================== ==========================
    dot        :math:`q_i \cdot k_j`                          :func:`~attn_core.scores.dot_product_scores`
    scaled dot :math:`q_i \cdot k_j / \sqrt{d_k}`             :func:`~attn_core.scores.scaled_dot_product_scores`
    bilinear   :math:`q_i W k_j^\top`                         :func:`~attn_core.scores.bilinear_scores`
    additive   :math:`w_v^\top \tanh(q_i W_q + k_j W_k)`      :func:`~attn_core.scores.additive_scores`
    cosine     :math:`q_i \cdot k_j / (\|q_i\| \|k_j\|)`      :func:`~attn_core.scores.cosine_scores`
    location   :math:`(q_i W_\text{loc})_j`                   :func:`~attn_core.scores.location_scores`
    ========== ============================================== ==========================

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Queries; the same width as the keys, since dot, scaled dot and cosine compare them
        directly.
    k : array_like, shape (..., n_k, d_k)
        Keys.
    bilinear_w : array_like, shape (d_k, d_k)
        The matrix ``W`` of the bilinear score.
    additive_w_q, additive_w_k : array_like, shape (d_k, h)
        The projections of the additive score's hidden layer, of width ``h``.
    additive_w_v : array_like, shape (h,)
        The additive score's output vector.
    location_w : array_like, shape (d_k, n_k)
        One column per key position.

    Returns
    -------
    dict of str -> ndarray, shape (..., n_q, n_k)
        One score matrix per name of :data:`SCORE_FUNCTIONS`, in that order.

    Raises
    ------
    TypeError, ValueError
        Whatever the six score functions raise for bad input; and a ``location_w`` whose
        number of columns is not the number of keys.

    Examples
    --------
    >>> q, k = [[1.0, 0.0]], [[2.0, 0.0], [0.0, 1.0]]
    >>> scores = all_scores(q, k, bilinear_w=[[0.0, 1.0], [-1.0, 0.0]],
    ...                     additive_w_q=[[1.0], [0.0]], additive_w_k=[[0.0], [0.0]],
    ...                     additive_w_v=[1.0], location_w=[[0.0, 3.0], [0.0, 0.0]])
    >>> {name: s.round(3).tolist() for name, s in scores.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'dot': [[2.0, 0.0]], 'scaled dot': [[1.414, 0.0]], 'bilinear': [[0.0, 1.0]],
     'additive': [[0.762, 0.762]], 'cosine': [[1.0, 0.0]], 'location': [[0.0, 3.0]]}
    """
    q, k = _queries_keys(q, k, same_width=True)
    d_k, n_k = q.shape[-1], k.shape[-2]
    bilinear_w = _weight(bilinear_w, "bilinear_w", (d_k, d_k), "d_k x d_k")
    additive_w_q = as_float_array(additive_w_q, "additive_w_q", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    h = additive_w_q.shape[-1]
    additive_w_q = _weight(additive_w_q, "additive_w_q", (d_k, h), "d_k x hidden")
    additive_w_k = _weight(additive_w_k, "additive_w_k", (d_k, h), "d_k x hidden, same hidden width as additive_w_q")
    additive_w_v = _weight(additive_w_v, "additive_w_v", (h,), "hidden, same hidden width as additive_w_q")
    location_w = as_float_array(location_w, "location_w", min_ndim=2, nonempty=True, finite=True)
    if location_w.shape != (d_k, n_k):
        raise ValueError(
            f"location_w needs one column per key and one row per query dimension: it must be "
            f"(d_k={d_k}, n_k={n_k}) (k has shape {k.shape}), got {location_w.shape}"
        )
    dot = _dot(q, k)  # (..., n_q, n_k)
    return {
        "dot": dot,  # (..., n_q, n_k)
        "scaled dot": dot * (1.0 / math.sqrt(d_k)),  # (..., n_q, n_k)
        "bilinear": _dot(q @ bilinear_w, k),  # (..., n_q, n_k)
        "additive": _additive(q, k, additive_w_q, additive_w_k, additive_w_v),  # (..., n_q, n_k)
        "cosine": _dot(_unit_rows(q), _unit_rows(k)),  # (..., n_q, n_k)
        "location": q @ location_w,  # (..., n_q, n_k)
    }
