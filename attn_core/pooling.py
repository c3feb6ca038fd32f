"""Attention pooling before deep learning: Nadaraya–Watson kernel regression.

Nadaraya (1964) and Watson (1964) predicted ``y`` at a new point ``x`` as a weighted
average of observed ``y_i``, weighting each by how close ``x_i`` is to ``x``. Read ``x`` as
the query, the ``x_i`` as keys and the ``y_i`` as values, and it is attention: the kernel
gives the scores, normalising gives the weights.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, choice, positive_number
from attn_core.softmax import _softmax

__all__ = ["KERNELS", "kernel_scores", "nadaraya_watson"]

#: The kernels :func:`nadaraya_watson` knows, by name.
KERNELS = ("gaussian", "boxcar")


def _as_points(x: ArrayLike, name: str) -> np.ndarray:
    """Points as rows: a vector (n,) becomes (n, 1)."""
    x = as_float_array(x, name, min_ndim=1, max_ndim=2, nonempty=True, finite=True)
    return x[:, None] if x.ndim == 1 else x


def kernel_scores(
    queries: ArrayLike, keys: ArrayLike, *, bandwidth: float, kernel: str = "gaussian"
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Scores and mask that make softmax reproduce a kernel's normalised weights.

    * ``"gaussian"``: :math:`s_{ij} = -\|x_i - x_j\|^2 / (2\sigma^2)`, so that
      :math:`\operatorname{softmax}(s_i)_j \propto \exp(-\|x_i - x_j\|^2 / 2\sigma^2)`.
    * ``"boxcar"``: every key within distance ``bandwidth`` scores 0, the rest are masked,
      so the weights are a plain average of the neighbours.

    Parameters
    ----------
    queries : array_like, shape (n_q,) or (n_q, d)
    keys : array_like, shape (n_k,) or (n_k, d)
    bandwidth : float
        The kernel width :math:`\sigma > 0`.
    kernel : {"gaussian", "boxcar"}

    Returns
    -------
    scores : ndarray, shape (n_q, n_k)
    mask : ndarray of bool, shape (n_q, n_k), or None
        ``True`` = may attend; ``None`` when nothing is masked.

    Raises
    ------
    TypeError, ValueError
        Points that are not numbers, empty, infinite, of more than two dimensions or of
        different dimensions; ``bandwidth`` not finite and > 0; an unknown ``kernel``.

    Examples
    --------
    >>> s, m = kernel_scores([0.0], [0.0, 1.0, 3.0], bandwidth=1.0)
    >>> s
    array([[-0. , -0.5, -4.5]])
    >>> kernel_scores([0.0], [0.0, 1.0, 3.0], bandwidth=1.0, kernel="boxcar")[1]
    array([[ True,  True, False]])
    """
    q, k, sigma, kernel = _checked_kernel_arguments(queries, keys, bandwidth, kernel, "queries", "keys")
    return _kernel_scores(q, k, sigma, kernel)


def _checked_kernel_arguments(queries, keys, bandwidth, kernel, queries_name, keys_name):
    """The door shared by :func:`kernel_scores` and :func:`nadaraya_watson`."""
    q, k = _as_points(queries, queries_name), _as_points(keys, keys_name)
    if q.shape[1] != k.shape[1]:
        raise ValueError(
            f"{queries_name} and {keys_name} must be points of the same dimension: "
            f"{queries_name} {q.shape}, {keys_name} {k.shape}"
        )
    return q, k, positive_number(bandwidth, "bandwidth"), choice(kernel, KERNELS, "kernel")


def _kernel_scores(q: np.ndarray, k: np.ndarray, sigma: float, kernel: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores (and mask) of the kernel, without checks."""
    sq_dist = ((q[:, None, :] - k[None, :, :]) ** 2).sum(-1)  # (n_q, n_k)
    if kernel == "gaussian":
        return -sq_dist / (2 * sigma**2), None
    return np.zeros_like(sq_dist), sq_dist <= sigma**2


def nadaraya_watson(
    x_query: ArrayLike,
    x_train: ArrayLike,
    y_train: ArrayLike,
    *,
    bandwidth: float,
    kernel: str = "gaussian",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Nadaraya–Watson kernel regression, written as attention pooling.

    .. math:: \hat f(x) = \sum_i \alpha(x, x_i)\, y_i, \qquad
              \alpha(x, x_i) = \frac{K((x - x_i)/\sigma)}{\sum_j K((x - x_j)/\sigma)}

    Parameters
    ----------
    x_query : array_like, shape (n_q,) or (n_q, d)
        Where to predict (the queries).
    x_train : array_like, shape (n_k,) or (n_k, d)
        Observed inputs (the keys).
    y_train : array_like, shape (n_k,) or (n_k, d_v)
        Observed outputs (the values).
    bandwidth : float
        Kernel width :math:`\sigma > 0`: small = look only at the nearest points (towards a
        hard lookup), large = average everything.
    kernel : {"gaussian", "boxcar"}

    Returns
    -------
    predictions : ndarray, shape (n_q,) or (n_q, d_v), following ``y_train``
        A query with no training point inside a boxcar window predicts 0.
    weights : ndarray, shape (n_q, n_k)
        Row i: how much each training point counts for query i; rows sum to 1.

    Raises
    ------
    TypeError, ValueError
        As :func:`kernel_scores`; ``y_train`` not numeric, empty, infinite, of more than two
        dimensions, or of another length than ``x_train``.

    Examples
    --------
    >>> pred, w = nadaraya_watson([0.5], [0.0, 1.0], [0.0, 10.0], bandwidth=1.0)
    >>> pred, w
    (array([5.]), array([[0.5, 0.5]]))
    """
    q, k, sigma, kernel = _checked_kernel_arguments(x_query, x_train, bandwidth, kernel, "x_query", "x_train")
    y = as_float_array(y_train, "y_train", min_ndim=1, max_ndim=2, nonempty=True, finite=True)
    if y.shape[0] != k.shape[0]:
        raise ValueError(
            f"x_train and y_train must have one output per input: x_train has "
            f"{k.shape[0]} points, y_train has shape {y.shape}"
        )
    scores, allowed = _kernel_scores(q, k, sigma, kernel)
    weights = _softmax(scores, -1, 1.0, allowed)  # (n_q, n_k)
    return weights @ y, weights
