"""Scaled dot-product attention (Vaswani et al., 2017), the operation at the centre of the book.

Shapes follow the book's conventions: queries ``(..., n_q, d_k)``, keys ``(..., n_k, d_k)``, values
``(..., n_k, d_v)``; weights ``(..., n_q, n_k)`` with row i = how query i spreads its
attention over the keys.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    as_mask,
    broadcast_batch,
    flag,
    positive_int,
    positive_number,
)
from attn_core.masks import _causal_mask
from attn_core.softmax import _softmax, _softmax_backward

__all__ = ["scaled_dot_product_attention", "scaled_dot_product_attention_backward", "attention_mask"]


def scaled_dot_product_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    causal: bool = False,
    scale: float | None = None,
    bias: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Scaled dot-product attention: :math:`\operatorname{softmax}(QK^\top/\sqrt{d_k})\,V`.

    This is the reference: it computes the formula step by step. The same result in fewer
    passes over memory is :func:`attn_core.fast_scaled_dot_product_attention`.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Queries, one per row.
    k : array_like, shape (..., n_k, d_k)
        Keys, one per row.
    v : array_like, shape (..., n_k, d_v)
        Values, one per key.
    mask : array_like of bool, optional
        Broadcastable to ``(..., n_q, n_k)``; ``True`` = query i may attend to key j. It
        may add leading (batch) dimensions, never change ``n_q`` or ``n_k``.
    causal : bool, default False
        If True, no query may attend to a key after it. The queries are the LAST ``n_q``
        positions (aligned bottom-right, see :func:`attn_core.causal_mask`): query i sees
        keys ``j <= n_k - n_q + i``, which is ``j <= i`` when ``n_q = n_k``.
    scale : float, optional
        Multiplies the scores; default ``1 / sqrt(d_k)``.
    bias : array_like, optional
        Broadcastable to ``(..., n_q, n_k)``; added to the scaled scores before the softmax
        (position biases such as ALiBi, Press et al., 2022). Not part of the minimal
        contract; ``None`` adds nothing. ``-inf`` entries act as masked.

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
        Row i is the weighted average of the values, with weights from row i of ``weights``.
    weights : ndarray, shape (..., n_q, n_k)
        Row i sums to 1, or is all zeros if query i may attend to no key.

    Raises
    ------
    TypeError
        Non-numeric ``q``, ``k``, ``v`` or ``bias``; a non-boolean ``mask``; ``causal`` not
        True or False.
    ValueError
        Empty arrays or infinities in ``q``, ``k``, ``v``; ``q`` and ``k`` disagree on
        ``d_k``; ``k`` and ``v`` disagree on ``n_k``; batch dimensions, ``mask`` or
        ``bias`` do not broadcast; ``scale`` <= 0, NaN or infinite.

    Examples
    --------
    >>> import numpy as np, attn_core as ac
    >>> q = np.array([[1.0, 0.0]])
    >>> k = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> v = np.array([[10.0], [20.0]])
    >>> out, w = ac.scaled_dot_product_attention(q, k, v)
    >>> w.round(4)
    array([[0.6698, 0.3302]])
    >>> out.round(3)
    array([[13.302]])
    """
    return _attention(*_checked_arguments(q, k, v, mask, causal, scale, bias))


def _attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None,
    scale: float, bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The formula, without checks: scores, softmax, weighted sum of the values."""
    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    if bias is not None:
        scores = scores + bias  # (..., n_q, n_k), may gain leading dims from the bias
    weights = _softmax(scores, -1, 1.0, allowed)  # (..., n_q, n_k): each row sums to 1 (or is 0)
    return weights @ v, weights  # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)


def _checked_arguments(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike | None, causal: bool,
    scale: float | None, bias: ArrayLike | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, float, np.ndarray | None]:
    """The door of scaled dot-product attention: every argument checked, mask and causal combined."""
    q, k, v, allowed = _checked_qkv_mask(q, k, v, mask, causal)
    weights_shape = _weights_shape(q, k)
    scale = _checked_scale(scale, q)
    if bias is not None:
        bias = as_float_array(bias, "bias", min_ndim=2, nonempty=True, finite=True, minus_inf_allowed=True)
        try:
            np.broadcast_shapes(bias.shape, weights_shape)
        except ValueError:
            raise ValueError(
                f"bias of shape {bias.shape} does not broadcast to the scores {weights_shape}"
            ) from None
    return q, k, v, allowed, scale, bias


def _checked_qkv_mask(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike | None, causal: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Queries, keys, values, and mask and causal combined: the door of every masked attention."""
    q, k, v = _check_qkv(q, k, v)
    return q, k, v, _checked_mask(mask, causal, _weights_shape(q, k))


def _check_qkv(q: ArrayLike, k: ArrayLike, v: ArrayLike) -> tuple[np.ndarray, ...]:
    """Check queries, keys and values against each other; return them as float arrays."""
    q = as_float_array(q, "q (queries)", min_ndim=2, nonempty=True, finite=True)
    k = as_float_array(k, "k (keys)", min_ndim=2, nonempty=True, finite=True)
    v = as_float_array(v, "v (values)", min_ndim=2, nonempty=True, finite=True)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"queries and keys must share their last dimension d_k: "
            f"q has shape {q.shape} (d_k={q.shape[-1]}), k has shape {k.shape} "
            f"(d_k={k.shape[-1]})"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"keys and values must have the same length n_k (one value per key): "
            f"k has shape {k.shape} (n_k={k.shape[-2]}), v has shape {v.shape} "
            f"(n_k={v.shape[-2]})"
        )
    broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    return q, k, v


def _weights_shape(q: np.ndarray, k: np.ndarray) -> tuple[int, ...]:
    """``(..., n_q, n_k)`` for checked queries and keys."""
    return broadcast_batch({"q": q.shape, "k": k.shape}) + (q.shape[-2], k.shape[-2])


def _checked_scale(scale: float | None, q: np.ndarray) -> float:
    """``scale`` checked (finite, > 0), or the default ``1 / sqrt(d_k)``."""
    scale = positive_number(scale, "scale", allow_none=True)
    return 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale


def attention_mask(
    mask: ArrayLike | None, causal: bool, weights_shape: tuple[int, ...]
) -> np.ndarray | None:
    """Combine a boolean ``mask`` and the causal mask into one array of ``weights_shape``.

    Returns ``None`` when nothing is masked. The causal part is aligned bottom-right, as in
    :func:`attn_core.causal_mask`.

    Parameters
    ----------
    mask : array_like of bool, optional
        Broadcastable to ``weights_shape``; it may add leading dimensions.
    causal : bool
    weights_shape : tuple of int
        ``(..., n_q, n_k)``, every size >= 1.

    Returns
    -------
    ndarray of bool or None

    Raises
    ------
    TypeError
        A non-boolean mask; ``causal`` not True or False; sizes that are not whole numbers.
    ValueError
        A mask that does not broadcast; ``weights_shape`` with fewer than two sizes or a size < 1.

    Examples
    --------
    >>> attention_mask(None, True, (2, 3)).astype(int)
    array([[1, 1, 0],
           [1, 1, 1]])
    """
    if isinstance(weights_shape, (str, bytes)) or not isinstance(weights_shape, (tuple, list)):
        raise TypeError(f"weights_shape must be a tuple of sizes (..., n_q, n_k), got {weights_shape!r:.40}")
    if len(weights_shape) < 2:
        raise ValueError(f"weights_shape must have at least two sizes (..., n_q, n_k), got {weights_shape}")
    weights_shape = tuple(positive_int(size, "weights_shape entry") for size in weights_shape)
    return _checked_mask(mask, causal, weights_shape)


def _checked_mask(mask: ArrayLike | None, causal: bool, weights_shape: tuple[int, ...]) -> np.ndarray | None:
    """The door check of ``mask`` and ``causal`` for weights of ``weights_shape``; both combined."""
    causal = flag(causal, "causal")
    allowed = None
    if mask is not None:
        mask_shape = np.shape(mask)
        try:  # a mask may add leading (batch) dimensions, never change n_q or n_k
            target = np.broadcast_shapes(weights_shape, mask_shape)
        except ValueError:
            target = None
        if target is None or target[-2:] != tuple(weights_shape[-2:]):
            target = weights_shape  # let as_mask raise its message with the shapes
        allowed = as_mask(mask, "mask", target, "weights (..., n_q, n_k)")
    return _with_causal(allowed, causal, *weights_shape[-2:])


def _with_causal(allowed: np.ndarray | None, causal: bool, n_q: int, n_k: int) -> np.ndarray | None:
    """``allowed`` and, if ``causal``, the bottom-right causal mask, without checks."""
    if not causal:
        return allowed
    return _causal_mask(n_q, n_k) if allowed is None else allowed & _causal_mask(n_q, n_k)


def scaled_dot_product_attention_backward(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    weights: ArrayLike,
    grad_output: ArrayLike,
    *,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of a loss with respect to ``q``, ``k`` and ``v``, given ``dL/d(output)``.

    The forward pass was :math:`S = s\,QK^\top`, :math:`A = \operatorname{softmax}(S)`,
    :math:`O = AV` (``s`` the scale). Walking it backwards:

    .. math:: dV = A^\top dO, \quad dA = dO\,V^\top, \quad
              dS = A \odot (dA - \operatorname{rowsum}(dA \odot A)), \quad
              dQ = s\,dS\,K, \quad dK = s\,dS^\top Q

    Masks need no special care: a masked weight is 0, so its score gets no gradient.

    Parameters
    ----------
    q, k, v : array_like
        The forward pass's inputs, shapes as in :func:`scaled_dot_product_attention`.
    weights : array_like, shape (..., n_q, n_k)
        The weights the forward pass returned.
    grad_output : array_like, shape (..., n_q, d_v)
        ``dL/dO``.
    scale : float, optional
        The forward pass's scale; default ``1 / sqrt(d_k)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`scaled_dot_product_attention`; ``weights`` not ``(..., n_q, n_k)`` or
        ``grad_output`` not ``(..., n_q, d_v)``.

    Returns
    -------
    grad_q, grad_k, grad_v : ndarray
        Same shapes as ``q``, ``k``, ``v`` (summed over any batch dimension they were
        broadcast along).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 2, 3))
    >>> out, w = scaled_dot_product_attention(q, k, v)
    >>> dq, dk, dv = scaled_dot_product_attention_backward(q, k, v, w, np.ones_like(out))
    >>> dq.shape, dk.shape, dv.shape
    ((2, 3), (2, 3), (2, 3))
    """
    q, k, v = _check_qkv(q, k, v)
    a = as_float_array(weights, "weights", min_ndim=2, nonempty=True, finite=True)
    g = as_float_array(grad_output, "grad_output", min_ndim=2, nonempty=True, finite=True)
    n_q, n_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    if a.shape[-2:] != (n_q, n_k):
        raise ValueError(f"weights must be (..., n_q={n_q}, n_k={n_k}), got shape {a.shape}")
    if g.shape[-2:] != (n_q, d_v):
        raise ValueError(f"grad_output must be (..., n_q={n_q}, d_v={d_v}), got shape {g.shape}")
    broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape, "weights": a.shape, "grad_output": g.shape})
    return _attention_backward(q, k, v, a, g, _checked_scale(scale, q))


def _attention_backward(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, a: np.ndarray, g: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The backward pass, without checks."""
    grad_v = np.swapaxes(a, -1, -2) @ g  # (..., n_k, d_v)
    grad_a = g @ np.swapaxes(v, -1, -2)  # (..., n_q, n_k)
    grad_s = _softmax_backward(a, grad_a, -1) * scale  # (..., n_q, n_k), through S = scale * Q K^T
    grad_q = grad_s @ k  # (..., n_q, d_k)
    grad_k = np.swapaxes(grad_s, -1, -2) @ q  # (..., n_k, d_k)
    return _unbroadcast(grad_q, q.shape), _unbroadcast(grad_k, k.shape), _unbroadcast(grad_v, v.shape)


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient over the dimensions its input was broadcast along."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad
