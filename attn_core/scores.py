"""Scoring functions: how well does each key match each query?

Every function returns a score matrix ``S`` of shape ``(..., n_q, n_k)`` whose row i holds
query i's scores for every key; softmax then turns each row into weights. Queries are
``(..., n_q, d_q)`` and keys ``(..., n_k, d_k)``; leading dimensions broadcast.
"""

from __future__ import annotations

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
    q = as_float_array(q, "q (queries)", min_ndim=2)
    k = as_float_array(k, "k (keys)", min_ndim=2)
    if same_width and q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"this score compares queries and keys directly, so they must have the same "
            f"width d_k: q has shape {q.shape}, k has shape {k.shape}"
        )
    broadcast_batch({"q": q.shape, "k": k.shape})
    return q, k


def _weight(w: ArrayLike, name: str, shape: tuple[int, ...], meaning: str) -> np.ndarray:
    w = as_float_array(w, name)
    if w.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({meaning}), got {w.shape}")
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
    return q @ np.swapaxes(k, -1, -2)  # (..., n_q, n_k)


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
    if scale is None:
        scale = 1.0 / np.sqrt(q.shape[-1])
    return (q @ np.swapaxes(k, -1, -2)) * scale  # (..., n_q, n_k)


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
    w = _weight(w, "w", (q.shape[-1], k.shape[-1]), "d_q x d_k")
    return (q @ w) @ np.swapaxes(k, -1, -2)  # (..., n_q, d_k) @ (..., d_k, n_k)


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
    w_q = as_float_array(w_q, "w_q", min_ndim=2)
    h = w_q.shape[-1]
    w_q = _weight(w_q, "w_q", (q.shape[-1], h), "d_q x hidden")
    w_k = _weight(w_k, "w_k", (k.shape[-1], h), "d_k x hidden, same hidden width as w_q")
    w_v = _weight(w_v, "w_v", (h,), "hidden, same hidden width as w_q")
    hidden = np.tanh((q @ w_q)[..., :, None, :] + (k @ w_k)[..., None, :, :])  # (..., n_q, n_k, h)
    return hidden @ w_v  # (..., n_q, n_k)


def cosine_scores(q: ArrayLike, k: ArrayLike) -> np.ndarray:
    r"""Cosine similarity :math:`s_{ij} = q_i \cdot k_j / (\|q_i\| \|k_j\|)` (Graves et al., 2014).

    Scores lie in ``[-1, 1]`` whatever the lengths of the vectors; only directions count.
    A zero vector has no direction: its scores are 0.

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
    return _unit_rows(q) @ np.swapaxes(_unit_rows(k), -1, -2)  # (..., n_q, n_k)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), without overflow or underflow.

    Dividing by the largest entry first keeps the squares in range for rows like 1e200 or
    1e-170, whose plain norms would come out as inf or 0.
    """
    biggest = np.max(np.abs(x), axis=-1, keepdims=True)  # (..., n, 1)
    scaled = np.divide(x, biggest, out=np.zeros_like(x), where=biggest > 0)
    norm = np.linalg.norm(scaled, axis=-1, keepdims=True)
    return np.divide(scaled, norm, out=np.zeros_like(x), where=norm > 0)


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
    q = as_float_array(q, "q (queries)", min_ndim=2)
    w = as_float_array(w, "w", min_ndim=2)
    if w.ndim != 2 or w.shape[0] != q.shape[-1]:
        raise ValueError(f"w must have shape (d_q={q.shape[-1]}, n_k), got {w.shape}")
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
    k_array = as_float_array(k, "k (keys)", min_ndim=2)
    location_array = as_float_array(location_w, "location_w", min_ndim=2)
    if location_array.shape[-1] != k_array.shape[-2]:
        raise ValueError(
            f"location_w needs one column per key: it has shape {location_array.shape}, "
            f"and k has {k_array.shape[-2]} keys (shape {k_array.shape})"
        )
    return {
        "dot": dot_product_scores(q, k),  # (..., n_q, n_k)
        "scaled dot": scaled_dot_product_scores(q, k),  # (..., n_q, n_k)
        "bilinear": bilinear_scores(q, k, bilinear_w),  # (..., n_q, n_k)
        "additive": additive_scores(q, k, additive_w_q, additive_w_k, additive_w_v),  # (..., n_q, n_k)
        "cosine": cosine_scores(q, k),  # (..., n_q, n_k)
        "location": location_scores(q, location_array),  # (..., n_q, n_k)
    }
