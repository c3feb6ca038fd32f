"""Losses and their gradients: cross-entropy over logits, accuracy, and the gradient of an embedding lookup.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, as_int_array, positive_int
from attn_core.softmax import _softmax

__all__ = ["embedding_backward", "cross_entropy", "accuracy"]


def _embedding_backward(n_rows: int, indices: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """The kernel of :func:`embedding_backward`, without checks."""
    idx = indices.reshape(-1)
    g = grad.reshape(idx.size, -1)  # (positions, d)
    if idx.size * n_rows > 10_000_000:  # a large vocabulary: the one-hot matrix would not pay
        out = np.zeros((n_rows, g.shape[1]), dtype=g.dtype)
        np.add.at(out, idx, g)
        return out
    one_hot = idx[None, :] == np.arange(n_rows)[:, None]  # (n_rows, positions)
    return one_hot.astype(g.dtype) @ g  # (n_rows, d)


def embedding_backward(n_rows: int, indices: ArrayLike, grad: ArrayLike) -> np.ndarray:
    """Gradient of a table lookup ``table[indices]``: each row adds up the gradients of the
    positions that read it.

    The same as ``np.add.at(out, indices, grad)`` on a zero table, computed as a product with
    a one-hot matrix, which is several times faster for the book's small vocabularies.

    Parameters
    ----------
    n_rows : int
        Rows of the table.
    indices : array_like of int, any shape ``S``, entries in ``0 .. n_rows - 1``
    grad : array_like, shape ``S + (d,)``

    Returns
    -------
    ndarray, shape (n_rows, d)

    Raises
    ------
    TypeError
        ``indices`` not whole numbers, ``grad`` not numbers, ``n_rows`` not a whole number.
    ValueError
        An index outside the table, ``grad`` whose shape is not ``indices.shape + (d,)``, or
        an infinite gradient (NaN gives NaN).

    Examples
    --------
    >>> embedding_backward(3, [0, 2, 0], [[1.0], [2.0], [3.0]])
    array([[4.],
           [0.],
           [2.]])
    """
    n_rows = positive_int(n_rows, "n_rows")
    idx = as_int_array(indices, "indices", low=0, high=n_rows)
    g = as_float_array(grad, "grad", min_ndim=1, finite=True)
    if g.shape[:-1] != idx.shape:
        raise ValueError(f"grad must have shape indices.shape + (d,) = {idx.shape} + (d,); got {g.shape}")
    return _embedding_backward(n_rows, idx, g)


def _check_logits_labels(logits: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    z = as_float_array(logits, "logits", min_ndim=1, finite=True)
    if z.shape[-1] == 0 or z.size == 0:
        raise ValueError(f"logits must have at least one row and one class; got shape {z.shape}")
    if isinstance(labels, (bool, np.bool_)):
        raise TypeError(f"labels must be whole numbers, got {labels!r}")
    try:
        y = as_int_array(labels, "labels")
    except TypeError as err:
        raise TypeError(f"{err} (labels must be integers of shape {z.shape[:-1]})") from None
    if y.shape != z.shape[:-1]:
        raise ValueError(f"labels must be integers of shape logits.shape[:-1] = {z.shape[:-1]}; "
                         f"got shape {y.shape}")
    y = as_int_array(y, "labels", low=0, high=z.shape[-1])
    return z, y


def _cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The kernel of :func:`cross_entropy`, without checks: ``z`` (..., C), ``y`` (...)."""
    flat = z.reshape(-1, z.shape[-1])  # (B, C): every leading position is one example
    labels = y.reshape(-1)  # (B,)
    rows = np.arange(flat.shape[0])
    shifted = flat - flat.max(1, keepdims=True)  # (B, C)
    log_p = shifted[rows, labels] - np.log(np.exp(shifted).sum(1))  # (B,)
    grad = _softmax(flat, 1, 1.0, None)  # (B, C)
    grad[rows, labels] -= 1.0
    return float(-log_p.mean()), (grad / flat.shape[0]).reshape(z.shape)


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    .. math:: L = -\frac{1}{B} \sum_b \log \operatorname{softmax}(z_b)_{y_b}, \qquad
              \frac{\partial L}{\partial z_b} = \frac{\operatorname{softmax}(z_b) - \operatorname{onehot}(y_b)}{B}

    Every leading position counts as one example ``b``: logits of shape ``(N, L, C)``
    with labels ``(N, L)`` average over all ``B = N L`` predictions.

    Parameters
    ----------
    logits : array_like, shape (..., C)
    labels : array_like of int, shape logits.shape[:-1], entries in ``0 .. C - 1``

    Returns
    -------
    loss : float
    grad_logits : ndarray, shape of ``logits``

    Raises
    ------
    TypeError
        Labels that are not whole numbers; logits that are not real numbers.
    ValueError
        Mismatched shapes, an empty ``logits``, an infinite logit (NaN gives NaN), or a
        label outside ``0 .. C - 1``.

    Examples
    --------
    >>> loss, grad = cross_entropy([[0.0, 0.0]], [1])
    >>> round(loss, 4), grad
    (0.6931, array([[ 0.5, -0.5]]))
    """
    z, y = _check_logits_labels(logits, labels)
    return _cross_entropy(z, y)


def _accuracy(z: np.ndarray, y: np.ndarray) -> float:
    """The kernel of :func:`accuracy`, without checks."""
    return float((np.argmax(z, axis=-1) == y).mean())


def accuracy(logits: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of predictions whose largest logit is the label.

    Parameters
    ----------
    logits : array_like, shape (..., C)
    labels : array_like of int, shape logits.shape[:-1], entries in ``0 .. C - 1``

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        As :func:`cross_entropy`.

    Examples
    --------
    >>> accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1])
    0.5
    """
    z, y = _check_logits_labels(logits, labels)
    return _accuracy(z, y)
