r"""Reading attention weights, and testing what they say (chapter 13, interpretability).

A weight map says which average each query took. Whether that average *explains* anything
is a separate question, answered by measuring effects. This module holds both sides:

* reading weights across layers: :func:`attention_stack` runs layers with residual
  connections and keeps every weight map, :func:`attention_rollout` (Abnar & Zuidema, 2020)
  multiplies the maps of successive layers, each mixed half and half with the identity for
  the residual path;
* measuring what a key does: :func:`removal_effect` (leave one key out and renormalise the
  rest, as Serrano & Smith, 2019, zero and renormalise weights), :func:`gradient_times_input`
  (a key's value times the gradient of a readout with respect to it) and
  :func:`head_outputs` (each head's term in a layer's output, after ``W_O``);
* showing that weights are not determined by what they produce:
  :func:`alternative_weights` finds another weight row with the same output
  (Brunner et al., 2020), and :func:`total_variation` and :func:`js_divergence` say how
  different two rows are;
* a small model whose heads can be explained: :func:`induction_layers`, two layers whose
  heads are written by hand so that the second layer contains an induction head (Olsson et
  al., 2022), built on a previous-token head of the first, and :func:`induction_codes`, the
  inputs they read.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from math import comb

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, choice, flag, number_in_range, positive_int, positive_number
from attn_core.attention import attention_mask, scaled_dot_product_attention
from attn_core.experiments.multihead import word_position_codes
from attn_core.multihead import MultiHeadAttention
from attn_core.softmax import softmax

__all__ = [
    "attention_rollout",
    "attention_stack",
    "head_outputs",
    "removal_effect",
    "gradient_times_input",
    "alternative_weights",
    "total_variation",
    "js_divergence",
    "misleading_map_example",
    "INDUCTION_BLOCKS",
    "INDUCTION_HEAD_NAMES",
    "induction_block",
    "induction_codes",
    "induction_layers",
]


def _check_rows(weights: np.ndarray, name: str, atol: float = 1e-6) -> None:
    """Weights must be >= 0 and each row must sum to 1 (or be all zeros: a query with no key).

    A row holding NaN is let through (NaN in, NaN out); infinities were refused before.
    """
    if weights.size and np.nanmin(weights, initial=0.0) < -atol:
        raise ValueError(f"{name} must be non-negative; the smallest entry is {np.nanmin(weights):.3g}")
    sums = weights.sum(axis=-1)
    bad = ~(np.isclose(sums, 1.0, rtol=0, atol=atol) | np.isclose(sums, 0.0, rtol=0, atol=atol) | np.isnan(sums))
    if bad.any():
        raise ValueError(f"every row of {name} must sum to 1 (or be all zeros); "
                         f"one sums to {sums[bad].flat[0]:.6g}")


# --------------------------------------------------------------------------- across layers
def attention_rollout(weights: ArrayLike | Sequence[ArrayLike], *, residual: float = 0.5) -> np.ndarray:
    r"""Attention rollout (Abnar & Zuidema, 2020): how much each input position reaches each output.

    Layer :math:`l` mixes positions with its weights :math:`A_l`, and a residual connection
    adds its input back unchanged. Rollout models the residual path as a share ``residual``
    of the identity, renormalises the rows, and chains the layers:

    .. math:: \tilde A_l = \operatorname{rownorm}\bigl((1 - r) A_l + r I\bigr), \qquad
              R_l = \tilde A_l \tilde A_{l-1} \cdots \tilde A_1 .

    Row ``i`` of :math:`R_l` spreads one unit over the input positions: an estimate of how
    much of each reaches position ``i`` after ``l`` layers. With ``r = 0.5`` and weights whose
    rows sum to 1 the renormalisation changes nothing; it matters for rows of zeros (a query
    that may attend no key keeps only itself).

    Parameters
    ----------
    weights : array_like, shape (L, n, n) or (L, h, n, n), or a sequence of L such maps
        The weights of each layer in order, first layer first. With a head axis the heads
        are averaged, as Abnar & Zuidema do (a sequence may mix (n, n) and (h, n, n) maps).
    residual : float, default 0.5
        ``r`` in ``[0, 1]``: the share given to the residual path. 0 multiplies the raw maps.

    Returns
    -------
    ndarray, shape (L, n, n)
        ``R_1, ..., R_L``: the rollout after each layer (the last is the full rollout).

    Raises
    ------
    TypeError
        Non-numeric weights or ``residual``.
    ValueError
        No layers; maps that are not square or differ in size; negative weights; rows
        that do not sum to 1 (or 0); ``residual`` outside ``[0, 1]``.

    Examples
    --------
    Two layers that each look only at the previous token (the first token at itself):
    half of each position stays, half moves one step back, so after two layers the last
    position holds 1/4 of itself, 1/2 of the token before and 1/4 of the one before that.

    >>> previous = np.array([[1.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> attention_rollout([previous, previous])[-1]
    array([[1.  , 0.  , 0.  ],
           [0.75, 0.25, 0.  ],
           [0.25, 0.5 , 0.25]])
    """
    r = number_in_range(residual, "residual", 0.0, 1.0)
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or isinstance(weights, str):
        stacked = as_float_array(weights, "weights", finite=True)
        if stacked.ndim not in (3, 4) or stacked.size == 0:
            raise ValueError(f"weights must be (L, n, n) or (L, h, n, n) with L, n >= 1, got shape {stacked.shape}")
        maps = list(stacked)
    else:
        maps = [as_float_array(m, f"weights[{l}]", min_ndim=2, nonempty=True, finite=True)
                for l, m in enumerate(weights)]
    if not maps:
        raise ValueError("weights: need at least one layer")
    averaged = []
    for l, m in enumerate(maps):
        if m.ndim == 3:
            m = m.mean(axis=0)  # (n, n): heads averaged
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"weights of layer {l + 1} must be a square map (n, n) or (h, n, n), "
                             f"got shape {maps[l].shape}")
        if averaged and m.shape != averaged[0].shape:
            raise ValueError(f"every layer must have the same number of positions: layer 1 has "
                             f"{averaged[0].shape}, layer {l + 1} has {m.shape}")
        _check_rows(m, f"weights of layer {l + 1}")
        averaged.append(m)
    n = averaged[0].shape[0]
    identity = np.eye(n)
    rollout = identity
    out = np.empty((len(averaged), n, n))
    for l, a in enumerate(averaged):
        mixed = (1.0 - r) * a + r * identity  # (n, n)
        sums = mixed.sum(axis=-1, keepdims=True)  # (n, 1)
        mixed = np.divide(mixed, sums, out=np.zeros_like(mixed), where=~(sums <= 0))  # rows sum to 1; NaN stays
        rollout = mixed @ rollout  # (n, n): this layer applied after the earlier ones
        out[l] = rollout
    return out


def attention_stack(layers: Sequence[MultiHeadAttention], x: ArrayLike, *, causal: bool = False,
                    mask: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Run self-attention layers with residual connections, keeping every step.

    .. math:: X_0 = X, \qquad X_l = X_{l-1} + \operatorname{MultiHead}_l(X_{l-1})

    (no normalisation and no feed-forward layers: the smallest stack on which rollout can be
    computed).

    Parameters
    ----------
    layers : sequence of MultiHeadAttention
        Applied in order; each must have ``d_model`` equal to the width of ``x``.
    x : array_like, shape (..., n, d_model)
    causal : bool, default False
    mask : array_like of bool, optional
        Broadcastable to ``(..., n, n)``; applies to every layer.

    Returns
    -------
    stream : ndarray, shape (L + 1, ..., n, d_model)
        ``X_0, X_1, ..., X_L``: the residual stream before the first layer and after each.
    weights : ndarray, shape (L, ..., h, n, n)
        Every layer's weights (all layers must have the same number of heads).

    Raises
    ------
    TypeError
        A layer that is not a MultiHeadAttention.
    ValueError
        No layers; layers with different numbers of heads; a width other than ``d_model``.

    Examples
    --------
    >>> layers = [MultiHeadAttention(4, 2, seed=s) for s in (0, 1)]
    >>> stream, w = attention_stack(layers, np.eye(4)[:3])
    >>> stream.shape, w.shape
    ((3, 3, 4), (2, 2, 3, 3))
    >>> bool(np.allclose(stream[1], stream[0] + layers[0](stream[0])[0]))
    True
    """
    if isinstance(layers, MultiHeadAttention) or not isinstance(layers, Sequence) or isinstance(layers, str):
        raise TypeError(f"layers must be a list of MultiHeadAttention layers, got {layers!r:.40}")
    layers = list(layers)
    if not layers:
        raise ValueError("layers: need at least one layer")
    for l, layer in enumerate(layers):
        if not isinstance(layer, MultiHeadAttention):
            raise TypeError(f"layers[{l}] must be a MultiHeadAttention, got {type(layer).__name__}")
    if len({layer.n_heads for layer in layers}) > 1:
        raise ValueError("every layer must have the same number of heads, got "
                         f"{[layer.n_heads for layer in layers]}")
    x = as_float_array(x, "x", min_ndim=2, nonempty=True, finite=True)
    causal = flag(causal, "causal")
    if x.shape[-1] != layers[0].d_model:
        raise ValueError(f"x must have d_model={layers[0].d_model} columns, got shape {x.shape}")
    n = x.shape[-2]
    if mask is not None:
        attention_mask(mask, causal, x.shape[:-2] + (n, n))  # checks the mask once, here
    stream, weights = [x], []
    for layer in layers:
        out, w = layer(stream[-1], mask=mask, causal=causal)  # (..., n, d_model), (..., h, n, n)
        stream.append(stream[-1] + out)  # the residual connection
        weights.append(w)
    return np.stack(stream), np.stack(weights)


def head_outputs(layer: MultiHeadAttention, x: ArrayLike, *, causal: bool = False,
                 mask: ArrayLike | None = None) -> np.ndarray:
    r"""Each head's term in a self-attention layer's output, after the output projection.

    The concatenation of the heads times :math:`W_O` is a sum over heads,
    :math:`\sum_j \text{head}_j\, W_O^{(j)}`, where :math:`W_O^{(j)}` holds the ``d_head``
    rows of :math:`W_O` that head ``j`` multiplies. This returns the terms; their sum plus
    the bias ``b_o`` is the layer's output. A head whose rows of :math:`W_O` are zero
    contributes nothing, whatever its weights look like.

    Parameters
    ----------
    layer : MultiHeadAttention
    x : array_like, shape (..., n, d_model)
    causal : bool, default False
    mask : array_like of bool, optional

    Returns
    -------
    ndarray, shape (..., h, n, d_model)

    Raises
    ------
    TypeError
        ``layer`` is not a MultiHeadAttention.

    Examples
    --------
    >>> layer = MultiHeadAttention(4, 2, seed=0)
    >>> x = np.random.default_rng(1).standard_normal((3, 4))
    >>> terms = head_outputs(layer, x)
    >>> terms.shape, bool(np.allclose(terms.sum(axis=-3) + layer.b_o, layer(x)[0]))
    ((2, 3, 4), True)
    """
    if not isinstance(layer, MultiHeadAttention):
        raise TypeError(f"layer must be a MultiHeadAttention, got {type(layer).__name__}")
    x = layer._check_input(x, "x")
    causal = flag(causal, "causal")
    n = x.shape[-2]
    allowed = attention_mask(mask, causal, x.shape[:-2] + (n, n))  # (..., n, n) or None
    if allowed is not None:
        allowed = allowed[..., None, :, :]  # (..., 1, n, n): every head
    q = layer.split_heads(layer._project(x, layer.w_q, layer.b_q))  # (..., h, n, d_head)
    k = layer.split_heads(layer._project(x, layer.w_k, layer.b_k))  # (..., h_kv, n, d_head)
    v = layer.split_heads(layer._project(x, layer.w_v, layer.b_v))  # (..., h_kv, n, d_head)
    k = np.repeat(k, layer.group_size, axis=-3)  # (..., h, n, d_head)
    v = np.repeat(v, layer.group_size, axis=-3)  # (..., h, n, d_head)
    heads, _ = scaled_dot_product_attention(q, k, v, mask=allowed)  # (..., h, n, d_head)
    w_o = layer.w_o.reshape(layer.n_heads, layer.d_head, layer.d_model)  # (h, d_head, d_model)
    return np.einsum("...hnd,hdm->...hnm", heads, w_o)  # (..., h, n, d_model)


# --------------------------------------------------------------------------- effects
def _weights_and_values(weights: ArrayLike, values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = as_float_array(weights, "weights", min_ndim=1, nonempty=True, finite=True)
    v = as_float_array(values, "values", min_ndim=2, nonempty=True, finite=True)
    if a.shape[-1] != v.shape[-2]:
        raise ValueError(f"weights have {a.shape[-1]} keys (shape {a.shape}) but values have "
                         f"{v.shape[-2]} rows (shape {v.shape}); need one value per key")
    _check_rows(a, "weights")
    return a, v


def removal_effect(weights: ArrayLike, values: ArrayLike) -> np.ndarray:
    r"""How far each query's output moves when one key is removed and the other weights renormalised.

    Removing key ``j`` (masking it, so that the softmax shares its weight among the others)
    turns the output :math:`o = \sum_l a_l v_l` into
    :math:`o^{(-j)} = (o - a_j v_j) / (1 - a_j)`, so the output moves by

    .. math:: \lVert o - o^{(-j)} \rVert = \frac{a_j}{1 - a_j}\, \lVert v_j - o \rVert .

    A key matters when it has weight *and* its value differs from what the others say. If
    ``a_j = 1`` nothing is left, and the output becomes zeros (the book's convention for a
    query with no key): the effect is :math:`\lVert o \rVert`.

    Parameters
    ----------
    weights : array_like, shape (..., n_q, n_k) or (n_k,)
        Rows sum to 1 (or are all zeros).
    values : array_like, shape (..., n_k, d_v)

    Returns
    -------
    ndarray, shape (..., n_q, n_k) (or (n_k,) for one row)
        Entry ``[i, j]``: the Euclidean distance between query i's output with and without
        key j.

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        One value per key is not given; negative weights; rows that do not sum to 1.

    Examples
    --------
    The output is (1, 1). Each heavy key lies at distance 1 from it and moves it by
    0.45/0.55 of that when removed; the light key lies at distance 9 and moves it by 0.1/0.9
    of that, further than either heavy key.

    >>> a = np.array([0.45, 0.45, 0.1])
    >>> v = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 10.0]])
    >>> removal_effect(a, v).round(3)
    array([0.818, 0.818, 1.   ])
    """
    a, v = _weights_and_values(weights, values)
    one_row = a.ndim == 1
    if one_row:
        a = a[None, :]  # (1, n_k)
    output = a @ v  # (..., n_q, d_v)
    rest = output[..., :, None, :] - a[..., :, :, None] * v[..., None, :, :]  # (..., n_q, n_k, d_v)
    remaining = a.sum(axis=-1, keepdims=True) - a  # (..., n_q, n_k): weight left without key j
    keep = ~(remaining <= 1e-12)  # NaN is kept, so that it comes out
    without = np.divide(rest, remaining[..., None], out=np.zeros_like(rest),
                        where=keep[..., None])  # (..., n_q, n_k, d_v): zeros if nothing is left
    effect = np.linalg.norm(output[..., :, None, :] - without, axis=-1)  # (..., n_q, n_k)
    effect = np.where(a.sum(axis=-1, keepdims=True) == 0, 0.0, effect)  # an empty row: nothing moves
    return effect[0] if one_row else effect


def gradient_times_input(weights: ArrayLike, values: ArrayLike, readout: ArrayLike) -> np.ndarray:
    r"""Gradient × input for the values: what each key's value adds to a linear readout of the output.

    A later layer reads the output through a direction :math:`w`: :math:`y_i = o_i \cdot w`.
    The gradient of :math:`y_i` with respect to the value :math:`v_j` is :math:`a_{ij} w`;
    multiplied by the input :math:`v_j` it gives

    .. math:: g_{ij} = a_{ij}\, (v_j \cdot w), \qquad \sum_j g_{ij} = y_i ,

    the weight times what the value says to the readout. (Because :math:`y` is linear in the
    values, the terms add up to :math:`y` exactly.)

    Parameters
    ----------
    weights : array_like, shape (..., n_q, n_k) or (n_k,)
    values : array_like, shape (..., n_k, d_v)
    readout : array_like, shape (d_v,)

    Returns
    -------
    ndarray, shape (..., n_q, n_k) (or (n_k,) for one row)

    Raises
    ------
    ValueError
        Shapes that do not fit; weights that are not rows of a distribution.

    Examples
    --------
    >>> a = np.array([0.8, 0.2])
    >>> v = np.array([[1.0, 0.0], [0.0, 3.0]])
    >>> gradient_times_input(a, v, [0.0, 1.0])      # the heavy key says nothing to this readout
    array([0. , 0.6])
    """
    a, v = _weights_and_values(weights, values)
    w = as_float_array(readout, "readout", min_ndim=1, finite=True)
    if w.shape != (v.shape[-1],):
        raise ValueError(f"readout must be a vector of length d_v={v.shape[-1]}, got shape {w.shape}")
    said = v @ w  # (..., n_k): what each value says to the readout
    return a * said[..., None, :] if a.ndim > 1 else a * said  # (..., n_q, n_k)


# --------------------------------------------------------------------------- non-identifiable weights
def alternative_weights(weights: ArrayLike, values: ArrayLike, *, direction: ArrayLike | None = None,
                        step: float = 1.0) -> np.ndarray:
    r"""Another weight row with the same output: the farthest one, or one along a chosen direction.

    The output :math:`a V` does not change when :math:`a` moves by any :math:`u` with
    :math:`u V = 0`; the result is still a weight row when also :math:`\sum_j u_j = 0` and
    :math:`a + u \ge 0`. Such moves exist whenever there are more keys than
    ``rank(V) + 1`` (Brunner et al., 2020, for sequences longer than a head's width).
    Together they form a polytope of weight rows, all with the output :math:`a V`.

    * With no ``direction``: the corner of that polytope farthest from ``weights`` in total
      variation. Total variation is convex, so its largest value over the polytope is at a
      corner, and the corners are few for small problems: each has at most ``rank + 1``
      non-zero weights, and all of them are tried. (With more than 20,000 candidate corners,
      only the moves "take weight away from one key" are tried instead.)
    * With a ``direction``: its part in the null space, followed until a weight reaches 0.

    Either way the result is ``weights + step * (target - weights)``.

    Parameters
    ----------
    weights : array_like, shape (n_k,)
        One row: non-negative, summing to 1.
    values : array_like, shape (n_k, d_v)
    direction : array_like, shape (n_k,), optional
        The change wanted (only its part in the null space is used).
    step : float, default 1.0
        How far to go towards the target, in ``(0, 1]``. Below 1, every weight that was
        positive stays positive, so the row is the softmax of some scores (its logarithm).

    Returns
    -------
    ndarray, shape (n_k,)
        A weight row with ``alternative @ values == weights @ values`` (to rounding); a copy
        of ``weights`` when no other row has this output (or ``direction`` has no part that
        keeps it).

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        ``weights`` is not one row summing to 1; ``values`` has the wrong number of rows;
        ``direction`` has the wrong length; ``step`` outside ``(0, 1]``.

    Examples
    --------
    Three keys on a line, at 0, 1 and 2: all the weight on the middle one, or half on each
    end, give the same output, 1.

    >>> alternative_weights([0.0, 1.0, 0.0], [[0.0], [1.0], [2.0]]).round(6) + 0.0
    array([0.5, 0. , 0.5])
    """
    a = as_float_array(weights, "weights", min_ndim=1, nonempty=True, finite=True)
    v = as_float_array(values, "values", min_ndim=2, nonempty=True, finite=True)
    if a.ndim != 1:
        raise ValueError(f"weights must be one row (n_k,), got shape {a.shape}")
    if v.ndim != 2 or v.shape[0] != a.shape[0]:
        raise ValueError(f"weights has {a.shape[0]} keys (shape {a.shape}) but values has shape {v.shape}; "
                         f"values must be (n_k, d_v) with n_k={a.shape[0]} rows, one per key")
    _check_rows(a, "weights")
    if not (np.isclose(a.sum(), 1.0, atol=1e-6) or np.isnan(a.sum())):
        raise ValueError("weights must sum to 1")
    step = number_in_range(step, "step", 0.0, 1.0, low_open=True)
    if direction is not None:
        direction = as_float_array(direction, "direction", min_ndim=1, finite=True)
        if direction.shape != a.shape:
            raise ValueError(f"direction must have shape {a.shape}, got {direction.shape}")
    if np.isnan(a).any() or np.isnan(v).any() or (direction is not None and np.isnan(direction).any()):
        return np.full_like(a, np.nan)  # NaN in, NaN out (and no SVD of a NaN matrix)
    n_k = a.size
    constraints = np.vstack([v.T, np.ones(n_k)])  # (d_v + 1, n_k): rows of "u V = 0, sum u = 0"
    u_left, singular, vt = np.linalg.svd(constraints)
    rank = int((singular > 1e-10 * max(singular.max(initial=0.0), 1.0)).sum())
    if rank == n_k:
        return a.copy()  # the output fixes the weights: no other row
    null = vt[rank:].T  # (n_k, n_k - rank): a basis of the allowed moves

    def along(d: np.ndarray) -> np.ndarray:
        u = null @ (null.T @ d)  # (n_k,): the part of d that keeps the output and the sum
        shrinking = u < -1e-12
        if not shrinking.any():
            return a.copy()
        return a + np.min(a[shrinking] / -u[shrinking]) * u  # until the first weight reaches 0

    if direction is not None:
        targets = [along(direction)]
    elif comb(n_k, rank) <= 20_000:
        reduced = singular[:rank, None] * vt[:rank]  # (rank, n_k): the same equations, independent
        rhs = reduced @ a  # (rank,)
        targets = []
        for basis in combinations(range(n_k), rank):  # a corner: only these keys non-zero
            block = reduced[:, basis]  # (rank, rank)
            if abs(np.linalg.det(block)) < 1e-12:
                continue
            corner_weights = np.linalg.solve(block, rhs)
            if corner_weights.min() >= -1e-12:
                corner = np.zeros(n_k)
                corner[list(basis)] = corner_weights
                targets.append(corner)
    else:
        targets = [along(-np.eye(n_k)[j]) for j in range(n_k)]  # "drain key j"
    if not targets:
        return a.copy()
    target = max(targets, key=lambda t: 0.5 * np.abs(t - a).sum())
    moved = np.clip(a + step * (target - a), 0.0, None)  # (n_k,)
    return moved / moved.sum()


def total_variation(p: ArrayLike, q: ArrayLike) -> np.ndarray | float:
    r"""Total variation distance between weight rows: :math:`\tfrac12 \sum_j |p_j - q_j|`.

    The largest difference in the weight the two rows give any set of keys: 0 for the same
    row, 1 for rows with no key in common.

    Examples
    --------
    >>> total_variation([1.0, 0.0], [0.0, 1.0]), total_variation([0.5, 0.5], [0.7, 0.3])
    (1.0, 0.2)
    """
    p = as_float_array(p, "p", min_ndim=1, nonempty=True, finite=True)
    q = as_float_array(q, "q", min_ndim=1, nonempty=True, finite=True)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p and q must have the same number of keys, got {p.shape} and {q.shape}")
    tv = 0.5 * np.abs(p - q).sum(axis=-1)
    return float(np.round(tv, 15)) if tv.ndim == 0 else tv


def js_divergence(p: ArrayLike, q: ArrayLike) -> np.ndarray | float:
    r"""Jensen–Shannon divergence between weight rows, in bits (0 = same, 1 = disjoint).

    .. math:: \operatorname{JS}(p, q) = \tfrac12 \operatorname{KL}(p \,\|\, m)
              + \tfrac12 \operatorname{KL}(q \,\|\, m), \qquad m = \tfrac12 (p + q)

    The measure Jain & Wallace (2019) use to compare attention distributions.

    Examples
    --------
    >>> js_divergence([1.0, 0.0], [0.0, 1.0]), js_divergence([0.5, 0.5], [0.5, 0.5])
    (1.0, 0.0)
    """
    p = as_float_array(p, "p", min_ndim=1, nonempty=True, finite=True)
    q = as_float_array(q, "q", min_ndim=1, nonempty=True, finite=True)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p and q must have the same number of keys, got {p.shape} and {q.shape}")
    if (p < 0).any() or (q < 0).any():  # NaN compares False: it passes, and comes out
        raise ValueError("p and q must be non-negative")
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> np.ndarray:
        ratio = np.divide(x, m, out=np.ones_like(x), where=x > 0)  # 0 log 0 = 0
        return (x * np.log2(ratio)).sum(axis=-1)

    js = np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, None)
    return float(np.round(js, 15)) if js.ndim == 0 else js


def misleading_map_example(length: float = 4.0) -> dict[str, np.ndarray]:
    r"""Five keys whose weights rank them in the opposite order to their effects.

    One query attends to keys A to E with scores 2, 2, 1, 0.5 and -0.5. The two heaviest
    keys, A and B, hold the same value, (1, 0), which a later readout along
    :math:`w = (0, 1)` does not see; C and D hold values a little below, and the lightest
    key, E, holds the value (0, ``length``), along the readout.

    Parameters
    ----------
    length : float, default 4.0
        The length of E's value (>= 0).

    Returns
    -------
    dict with
        ``keys`` (5,) str, ``scores`` (5,), ``weights`` (5,) (their softmax), ``values``
        (5, 2), ``readout`` (2,).

    Examples
    --------
    >>> example = misleading_map_example()
    >>> example["weights"].round(3)
    array([0.374, 0.374, 0.138, 0.083, 0.031])
    >>> removal_effect(example["weights"], example["values"]).round(3)
    array([0.038, 0.038, 0.065, 0.079, 0.13 ])
    """
    length = number_in_range(length, "length", 0.0, np.inf)
    scores = np.array([2.0, 2.0, 1.0, 0.5, -0.5])
    values = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, -0.4], [0.6, -0.8], [0.0, float(length)]])
    return {"keys": np.array(["A", "B", "C", "D", "E"]), "scores": scores,
            "weights": softmax(scores), "values": values, "readout": np.array([0.0, 1.0])}


# --------------------------------------------------------------------------- an explainable model
#: The five blocks of columns of :func:`induction_codes`, each ``width`` wide, in order.
INDUCTION_BLOCKS = ("word", "position", "previous word", "bag of words", "next word")

#: What the two heads of each layer of :func:`induction_layers` do, layer by layer.
INDUCTION_HEAD_NAMES = (("previous token", "broad"), ("induction", "previous token, unused"))


def induction_block(name: str, width: int = 10) -> slice:
    """The columns of one block of the residual stream of :func:`induction_layers`.

    Examples
    --------
    >>> induction_block("next word")
    slice(40, 50, None)
    """
    choice(name, INDUCTION_BLOCKS, "name")
    width = positive_int(width, "width")
    start = INDUCTION_BLOCKS.index(name) * width
    return slice(start, start + width)


def induction_codes(tokens: Sequence[str], *, width: int = 10) -> np.ndarray:
    """The input of :func:`induction_layers`: word and position codes, then three empty blocks.

    The first two blocks are :func:`attn_core.experiments.multihead.word_position_codes` (words numbered in
    order of first appearance); the blocks "previous word", "bag of words" and "next word"
    start at zero and are written by the layers.

    Returns
    -------
    ndarray, shape (len(tokens), 5 * width)

    Examples
    --------
    >>> induction_codes("a b a".split(), width=3)[:, :6].astype(int)
    array([[1, 0, 0, 1, 0, 0],
           [0, 1, 0, 0, 1, 0],
           [1, 0, 0, 0, 0, 1]])
    """
    codes = word_position_codes(tokens, width=width)  # (n, 2 * width)
    return np.pad(codes, ((0, 0), (0, 3 * width)))  # (n, 5 * width)


def induction_layers(*, width: int = 10, strength: float = 6.0) -> list[MultiHeadAttention]:
    r"""Two causal self-attention layers, written by hand, that complete ``A B ... A`` with ``B``.

    They read :func:`induction_codes` (``d_model = 5 * width``, two heads of width
    ``d_head = 5 * width / 2``) and are meant to be run with residual connections and
    ``causal=True`` (:func:`attention_stack`). A match scores ``strength`` after scaling.

    Layer 1:

    * head 1, **previous token**: position ``p`` attends to ``p - 1`` and copies that word
      into the block "previous word";
    * head 2, **broad**: every weight equal; it writes the average of the words so far into
      "bag of words", which no later head reads.

    Layer 2:

    * head 1, **induction** (Olsson et al., 2022): the query is the current word, the keys
      are the "previous word" blocks that layer 1 wrote, so a token attends to whatever
      *followed* an earlier occurrence of itself, and copies that word into "next word".
      Every query also scores ``strength / 2`` on the first token, whose value is zero: a
      token with no earlier occurrence parks its weight there (a "sink") and writes nothing;
    * head 2, **previous token, unused**: the same pattern as layer 1's head 1, but its rows
      of ``W_O`` are zero, so it writes nothing at all.

    Parameters
    ----------
    width : int, default 10
        Most tokens (and most distinct words) a sentence may have.
    strength : float, default 6.0

    Returns
    -------
    list of two MultiHeadAttention (no biases)

    Raises
    ------
    TypeError, ValueError
        ``width`` not an even whole number >= 2 (``5 * width`` columns are split between two
        heads); ``strength`` not a number > 0.

    Examples
    --------
    >>> tokens = "<s> the cat saw the cat".split()
    >>> stream, w = attention_stack(induction_layers(), induction_codes(tokens), causal=True)
    >>> w[1, 0, -1].round(2)          # the last "cat" attends to "saw", which followed "cat"
    array([0.05, 0.  , 0.  , 0.94, 0.  , 0.  ])
    >>> stream[-1, -1, induction_block("next word")][:4].round(2)   # words <s>, the, cat, saw
    array([0.  , 0.  , 0.  , 0.94])
    """
    width = positive_int(width, "width")
    if width < 2 or width % 2:
        raise ValueError(f"width must be an even number >= 2 (5 * width is split between two heads), got {width}")
    strength = positive_number(strength, "strength")
    d_model = 5 * width
    d_head = d_model // 2
    word, position, previous, bag, following = (induction_block(b, width).start for b in INDUCTION_BLOCKS)
    match = strength * np.sqrt(d_head)  # q . k / sqrt(d_head) = strength
    layers = [MultiHeadAttention(d_model, 2, bias=False) for _ in range(2)]
    for layer in layers:
        for w in (layer.w_q, layer.w_k, layer.w_v, layer.w_o):
            w[:] = 0.0

    def previous_token_head(layer: MultiHeadAttention, head: int, write_to: int | None) -> None:
        first = head * d_head  # the head's first column
        for p in range(width):  # the key of position p: a 1 in column p
            layer.w_k[position + p, first + p] = 1.0
        for p in range(1, width):  # the query of position p asks for position p - 1
            layer.w_q[position + p, first + p - 1] = match
        for w in range(width):  # the value is the word, copied ...
            layer.w_v[word + w, first + w] = 1.0
            if write_to is not None:  # ... into a block of the stream, or nowhere
                layer.w_o[first + w, write_to + w] = 1.0

    first_layer, second_layer = layers
    previous_token_head(first_layer, 0, previous)
    for w in range(width):  # broad head: zero queries and keys, so equal weights
        first_layer.w_v[word + w, d_head + w] = 1.0
        first_layer.w_o[d_head + w, bag + w] = 1.0
    sink = d_head - 1  # a column of the induction head used by no word
    for w in range(width):
        second_layer.w_q[word + w, w] = match  # "my word is w" ...
        second_layer.w_k[previous + w, w] = 1.0  # ... matches "the word before me was w"
        second_layer.w_q[word + w, sink] = match / 2  # every query: half a match with the sink
        if w > 0:  # the first word (the sink) has a zero value
            second_layer.w_v[word + w, w] = 1.0
        second_layer.w_o[w, following + w] = 1.0
    second_layer.w_k[word + 0, sink] = 1.0  # the first word of the sentence is the sink
    previous_token_head(second_layer, 1, None)
    return layers


# --------------------------------------------------------------- the maps of the rollout explorer
__all__ += ["layer_maps"]

#: The chapter's sentence: a start token (the sink), then "cat" twice and "the" three times.
SENTENCE = ("<s>", "the", "cat", "saw", "the", "dog", "chase", "the", "cat")


def layer_maps(tokens: Sequence[str] = SENTENCE, *, width: int = 10, strength: float = 6.0) -> dict:
    """Every map the rollout explorer can show, for one sentence.

    Returns
    -------
    dict of map name -> ndarray (n, n)
        "layer 1", "layer 2" (each layer's heads averaged), "rollout" (of both layers) and
        "rollout, writing heads", which averages, in each layer,
        only the heads whose rows of ``W_O`` are not all zero.

    Examples
    --------
    >>> maps = layer_maps()
    >>> sorted(maps), maps["rollout"].shape
    (['layer 1', 'layer 2', 'rollout', 'rollout, writing heads'], (9, 9))
    """
    layers = induction_layers(width=width, strength=strength)
    _, weights = attention_stack(layers, induction_codes(tokens, width=width), causal=True)  # (2, h, n, n)
    writing = []
    for layer, w in zip(layers, weights):
        rows = layer.w_o.reshape(layer.n_heads, layer.d_head, layer.d_model)  # (h, d_head, d_model)
        writes = np.abs(rows).sum(axis=(1, 2)) > 0  # (h,)
        writing.append(w[writes].mean(axis=0))  # (n, n)
    return {"layer 1": weights[0].mean(axis=0), "layer 2": weights[1].mean(axis=0),
            "rollout": attention_rollout(weights)[-1],
            "rollout, writing heads": attention_rollout(writing)[-1]}


from attn_core._checks import index_in  # noqa: E402

__all__ += ["weight_and_effect"]


def weight_and_effect(length: float = 4.0, removed: int | None = None) -> dict:
    """Weights, output and removal effects of :func:`misleading_map_example`, with one key removed.

    Parameters
    ----------
    length : float, default 4.0
        The length of key E's value.
    removed : int, optional
        A key (0 to 4) taken out: the others' weights are renormalised and the output
        recomputed. None keeps every key.

    Returns
    -------
    dict
        ``keys``, ``length``, ``weights`` (5,), ``values`` (5, 2), ``readout`` (2,),
        ``output`` (2,), ``effects`` (5,) (:func:`removal_effect`), ``effect_shares`` (the
        effects divided by their sum), ``gradient_times_input`` (5,), ``moved_output`` (2,)
        or None, ``readout_value`` (the readout of the output, then of the moved output or
        None).

    Raises
    ------
    ValueError
        ``removed`` is not a key 0 to 4 (or None); a bad ``length``.

    Examples
    --------
    >>> state = weight_and_effect(4.0, removed=4)
    >>> state["weights"].round(2).tolist()
    [0.37, 0.37, 0.14, 0.08, 0.03]
    >>> bool(np.isclose(np.linalg.norm(state["output"] - state["moved_output"]), state["effects"][4]))
    True
    """
    example = misleading_map_example(length)  # checks length
    a, v, readout = example["weights"], example["values"], example["readout"]
    if removed is not None:
        removed = index_in(removed, a.shape[0], "removed", "key")
    output = a @ v  # (2,)
    effects = removal_effect(a, v)  # (5,)
    moved = None
    if removed is not None:
        allowed = np.arange(a.shape[0]) != removed  # (5,)
        moved = softmax(example["scores"], mask=allowed) @ v  # (2,): the others renormalised
    return {"keys": example["keys"], "length": length, "weights": a, "values": v,
            "readout": readout, "output": output, "effects": effects,
            "effect_shares": effects / effects.sum(),
            "gradient_times_input": gradient_times_input(a, v, readout),
            "moved_output": moved,
            "readout_value": (float(output @ readout), None if moved is None else float(moved @ readout))}
