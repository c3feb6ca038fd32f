"""Every score function of :mod:`attn_core.scores` applied to the same queries and keys.

Chapter 3 compares the six ways of scoring a key against a query side by side; this module
makes the six calls in one place, so that the chapter's figure, its explorer and the tests
compute exactly the same thing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array
from .scores import (
    additive_scores,
    bilinear_scores,
    cosine_scores,
    dot_product_scores,
    location_scores,
    scaled_dot_product_scores,
)

__all__ = ["SCORE_FUNCTIONS", "all_scores"]

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
