"""Scaled dot-product attention (Vaswani et al., 2017), the operation at the centre of the book.

Shapes follow the book's conventions: queries ``(..., n_q, d_k)``, keys ``(..., n_k, d_k)``, values
``(..., n_k, d_v)``; weights ``(..., n_q, n_k)`` with row i = how query i spreads its
attention over the keys.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, as_mask, broadcast_batch, positive_number
from attn_core.masks import causal_mask
from attn_core.softmax import _softmax, _softmax_unshifted, safe_exp_bound

__all__ = ["scaled_dot_product_attention", "scaled_dot_product_attention_backward", "attention_mask"]


def _check_qkv(q: ArrayLike, k: ArrayLike, v: ArrayLike) -> tuple[np.ndarray, ...]:
    """Check queries, keys and values against each other; return them as float arrays."""
    q = as_float_array(q, "q (queries)", min_ndim=2)
    k = as_float_array(k, "k (keys)", min_ndim=2)
    v = as_float_array(v, "v (values)", min_ndim=2)
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
    if k.shape[-2] == 0:
        raise ValueError(f"there must be at least one key to attend to: k has shape {k.shape}")
    broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    return q, k, v


def _scores_are_small(q: np.ndarray, k: np.ndarray, dtype: np.dtype) -> bool:
    """True if Cauchy-Schwarz bounds every score ``|q_i . k_j| <= |q_i| |k_j|`` safely for exp.

    The bound costs O((n_q + n_k) d) instead of the O(n_q n_k) pass that finding each row's
    maximum would; when it holds, softmax needs no max shift. NaN or inf fails the test.
    """
    bound = np.sqrt(np.max(np.einsum("...d,...d->...", q, q), initial=0.0)) * np.sqrt(
        np.max(np.einsum("...d,...d->...", k, k), initial=0.0))
    return bool(bound <= safe_exp_bound(dtype, k.shape[-2]))


def attention_mask(
    mask: ArrayLike | None, causal: bool, weights_shape: tuple[int, ...]
) -> np.ndarray | None:
    """Combine a boolean ``mask`` and the causal mask into one array of ``weights_shape``.

    Returns ``None`` when nothing is masked. Raises like every public entry point:
    ``TypeError`` for a non-boolean mask, ``ValueError`` for one that does not broadcast.

    Examples
    --------
    >>> attention_mask(None, True, (2, 3)).astype(int)
    array([[1, 0, 0],
           [1, 1, 0]])
    """
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be True or False, got {causal!r:.40}")
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
    if causal:
        n_q, n_k = weights_shape[-2:]
        allowed = causal_mask(n_q, n_k) if allowed is None else allowed & causal_mask(n_q, n_k)
    return allowed


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

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Queries, one per row.
    k : array_like, shape (..., n_k, d_k)
        Keys, one per row.
    v : array_like, shape (..., n_k, d_v)
        Values, one per key.
    mask : array_like of bool, optional
        Broadcastable to ``(..., n_q, n_k)``; ``True`` = query i may attend to key j.
    causal : bool, default False
        If True, query i may attend to key j only when ``j <= i``.
    scale : float, optional
        Multiplies the scores; default ``1 / sqrt(d_k)``.
    bias : array_like, optional
        Broadcastable to ``(..., n_q, n_k)``; added to the scaled scores before the softmax
        (position biases such as ALiBi, Press et al., 2022). Not part of the minimal
        contract; ``None`` adds nothing.

    Returns
    -------
    output : ndarray, shape (..., n_q, d_v)
        Row i is the weighted average of the values, with weights from row i of ``weights``.
    weights : ndarray, shape (..., n_q, n_k)
        Row i sums to 1, or is all zeros if query i may attend to no key.

    Raises
    ------
    TypeError
        Non-numeric ``q``, ``k`` or ``v``; a non-boolean ``mask``.
    ValueError
        ``q`` and ``k`` disagree on ``d_k``; ``k`` and ``v`` disagree on ``n_k``; batch
        dimensions or ``mask`` do not broadcast; ``scale`` <= 0.

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
    q, k, v = _check_qkv(q, k, v)
    scale = positive_number(scale, "scale", allow_none=True)
    if scale is None:
        scale = 1.0 / np.sqrt(q.shape[-1])
    weights_shape = broadcast_batch({"q": q.shape, "k": k.shape}) + (q.shape[-2], k.shape[-2])
    allowed = attention_mask(mask, causal, weights_shape)

    if bias is not None:
        bias = as_float_array(bias, "bias")
        try:
            np.broadcast_shapes(bias.shape, weights_shape)
        except ValueError:
            raise ValueError(f"bias of shape {bias.shape} does not broadcast to the scores {weights_shape}") from None

    q_scaled = q * np.asarray(scale, dtype=q.dtype)  # scaling n_q x d_k numbers, not n_q x n_k
    scores = q_scaled @ np.swapaxes(k, -1, -2)  # (..., n_q, n_k)
    if bias is not None:
        scores = scores + bias  # (..., n_q, n_k), may gain leading dims from the bias
    if allowed is None and bias is None and _scores_are_small(q_scaled, k, scores.dtype):
        weights = _softmax_unshifted(scores)  # (..., n_q, n_k): no max needed, see below
    else:
        weights = _softmax(scores, -1, 1.0, allowed, overwrite=True)  # (..., n_q, n_k)
    output = weights @ v  # (..., n_q, d_v)
    return output, weights


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
    from attn_core.softmax import softmax_backward

    q, k, v = _check_qkv(q, k, v)
    a = as_float_array(weights, "weights", min_ndim=2)
    g = as_float_array(grad_output, "grad_output", min_ndim=2)
    scale = positive_number(scale, "scale", allow_none=True)
    if scale is None:
        scale = 1.0 / np.sqrt(q.shape[-1])
    grad_v = np.swapaxes(a, -1, -2) @ g  # (..., n_k, d_v)
    grad_a = g @ np.swapaxes(v, -1, -2)  # (..., n_q, n_k)
    grad_s = softmax_backward(a, grad_a) * scale  # (..., n_q, n_k), through S = scale * Q K^T
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
