"""Losses and their gradients: cross-entropy over logits, accuracy, and the gradient of an embedding lookup.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array
from attn_core.softmax import _softmax

__all__ = ["embedding_backward", "cross_entropy", "accuracy"]


def embedding_backward(n_rows: int, indices: ArrayLike, grad: ArrayLike) -> np.ndarray:
    """Gradient of a table lookup ``table[indices]``: each row adds up the gradients of the
    positions that read it.

    The same as ``np.add.at(out, indices, grad)`` on a zero table, computed as a product with
    a one-hot matrix, which is several times faster for the book's small vocabularies.

    Parameters
    ----------
    n_rows : int
        Rows of the table.
    indices : array_like of int, any shape ``S``
    grad : array_like, shape ``S + (d,)``

    Returns
    -------
    ndarray, shape (n_rows, d)

    Examples
    --------
    >>> embedding_backward(3, [0, 2, 0], [[1.0], [2.0], [3.0]])
    array([[4.],
           [0.],
           [2.]])
    """
    idx = np.asarray(indices).reshape(-1)
    g = np.asarray(grad, dtype=float).reshape(idx.size, -1)
    if idx.size * n_rows > 10_000_000:  # a large vocabulary: the one-hot matrix would not pay
        out = np.zeros((n_rows, g.shape[1]))
        np.add.at(out, idx, g)
        return out
    one_hot = idx[None, :] == np.arange(n_rows)[:, None]  # (n_rows, positions)
    return one_hot.astype(g.dtype) @ g  # (n_rows, d)


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    .. math:: L = -\frac{1}{B} \sum_b \log \operatorname{softmax}(z_b)_{y_b}, \qquad
              \frac{\partial L}{\partial z_b} = \frac{\operatorname{softmax}(z_b) - \operatorname{onehot}(y_b)}{B}

    Parameters
    ----------
    logits : array_like, shape (B, C)
    labels : array_like of int, shape (B,)

    Returns
    -------
    loss : float
    grad_logits : ndarray, shape (B, C)

    Examples
    --------
    >>> loss, grad = cross_entropy([[0.0, 0.0]], [1])
    >>> round(loss, 4), grad
    (0.6931, array([[ 0.5, -0.5]]))
    """
    z = as_float_array(logits, "logits", min_ndim=2)
    y = np.asarray(labels)
    if y.dtype.kind not in "iu" or y.shape != z.shape[:1]:
        raise ValueError(f"labels must be integers of shape ({z.shape[0]},), got {y.dtype} {y.shape}")
    if (y < 0).any() or (y >= z.shape[1]).any():
        raise ValueError(f"labels must lie in 0..{z.shape[1] - 1}")
    p = _softmax(z, 1, 1.0, None)  # (B, C)
    rows = np.arange(z.shape[0])
    log_p = z[rows, y] - z.max(1) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))
    grad = p.copy()
    grad[rows, y] -= 1.0
    return float(-log_p.mean()), grad / z.shape[0]


def accuracy(logits: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of rows whose largest logit is the label.

    Examples
    --------
    >>> accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1])
    0.5
    """
    return float((np.argmax(np.asarray(logits), axis=-1) == np.asarray(labels)).mean())
