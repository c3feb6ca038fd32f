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
* showing that weights are not determined by what they produce, and how far that goes:
  :func:`same_output_corners` lists the corners of the polytope of rows with the same output
  (the basic feasible solutions of a linear program), :func:`alternative_weights` finds the
  farthest of them (Brunner et al., 2020), :func:`closest_reachable` tests whether a row can
  be produced by any query of a head whose keys are fixed (its log-weights must lie in the
  column space of ``[K 1]``; Wiegreffe & Pinter, 2019, on rows no model produces),
  :func:`output_jacobian` says whether, near a query, the output pins the query down, and
  :func:`total_variation` and :func:`js_divergence` say how different two rows are;
  :func:`six_keys_example` is the chapter's head with six keys;
* a small model whose heads can be explained: :func:`induction_layers`, two layers whose
  heads are written by hand so that the second layer contains an induction head (Elhage et
  al., 2021; Olsson et al., 2022), built on a previous-token head of the first, and
  :func:`induction_codes`, the inputs they read;
* a trained model to check weights against: :func:`train_recall_reader` trains the attention
  reader on associative recall (the task studied in the chapter "What attention buys").
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from math import comb

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    choice,
    flag,
    nonnegative_int,
    number_in_range,
    positive_int,
    positive_number,
)
from attn_core.attention import attention_mask, scaled_dot_product_attention
from attn_core.experiments.data import associative_recall
from attn_core.experiments.multihead import word_position_codes
from attn_core.multihead import MultiHeadAttention
from attn_core.softmax import softmax
from attn_core.training.loop import train
from attn_core.training.models import AttentionReader

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
    "same_output_corners",
    "six_keys_example",
    "closest_reachable",
    "output_jacobian",
    "train_recall_reader",
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
def _constraints(values: np.ndarray) -> np.ndarray:
    """The rows of "u V = 0 and sum u = 0": V transposed, then a row of ones. Shape (d_v + 1, n_k)."""
    return np.vstack([values.T, np.ones(values.shape[0])])  # (d_v + 1, n_k)


def _corners(a: np.ndarray, reduced: np.ndarray) -> list[np.ndarray]:
    """Every corner of {x >= 0 : reduced x = reduced a}: solve for each set of ``rank`` keys, keep x >= 0."""
    rank, n_k = reduced.shape
    rhs = reduced @ a  # (rank,)
    corners, seen = [], set()
    for basis in combinations(range(n_k), rank):  # a corner: only these keys non-zero
        block = reduced[:, basis]  # (rank, rank)
        if abs(np.linalg.det(block)) < 1e-12:
            continue
        corner_weights = np.linalg.solve(block, rhs)
        if corner_weights.min() >= -1e-12:
            corner = np.zeros(n_k)
            corner[list(basis)] = np.clip(corner_weights, 0.0, None)
            key = tuple(np.round(corner, 9))
            if key not in seen:  # a degenerate corner is found from several bases: keep it once
                seen.add(key)
                corners.append(corner)
    return corners


def _check_row_and_values(weights: ArrayLike, values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The door check of a row of weights (n_k,) and its values (n_k, d_v), shared by the functions
    that move weights without moving the output."""
    a = as_float_array(weights, "weights", min_ndim=1, nonempty=True, finite=True)
    v = as_float_array(values, "values", min_ndim=2, nonempty=True, finite=True)
    if a.ndim != 1:
        raise ValueError(f"weights must be one row (n_k,), got shape {a.shape}")
    if v.ndim != 2 or v.shape[0] != a.shape[0]:
        raise ValueError(f"weights has {a.shape[0]} keys (shape {a.shape}) but values has shape {v.shape}; "
                         f"values must be (n_k, d_v) with n_k={a.shape[0]} rows, one per key")
    _check_rows(a, "weights")
    return a, v


def alternative_weights(weights: ArrayLike, values: ArrayLike, *, direction: ArrayLike | None = None,
                        step: float = 1.0) -> np.ndarray:
    r"""Another weight row with the same output: the farthest one, or one along a chosen direction.

    The output :math:`a V` does not change when :math:`a` moves by any :math:`u` with
    :math:`u V = 0`; the result is still a weight row when also :math:`\sum_j u_j = 0` and
    :math:`a + u \ge 0`. Such moves exist whenever there are more keys than
    ``rank(V) + 1`` (Brunner et al., 2020, for sequences longer than a head's width).
    Together they form a polytope of weight rows, all with the output :math:`a V`.

    * With no ``direction``: the corner of that polytope farthest from ``weights`` in total
      variation. The polytope is the feasible set of a linear program in standard form,

      .. math:: \text{variables } a' \in \mathbb{R}^{n_k}; \qquad
                a' V = a V,\ \ \textstyle\sum_j a'_j = 1,\ \ a' \ge 0 ,

      and the objective, :math:`\operatorname{TV}(a, a') = \tfrac12 \sum_j |a'_j - a_j|`,
      is convex, so its largest value over the polytope is at a corner (a basic feasible
      solution: at most ``rank`` non-zero weights, ``rank`` the rank of the constraints, at
      most ``d_v + 1``). For each set ``J`` of keys, "minimise :math:`\sum_{j \in J} a'_j`"
      is a linear program over the same polytope, and the largest total variation is the
      largest of :math:`\sum_{j \in J} a_j - \min \sum_{j \in J} a'_j` over all ``J``; every
      one of these programs is solved at a corner. So all corners are listed
      (:func:`same_output_corners`) and the farthest is returned. (With more than 20,000
      candidate corners, only the moves "take weight away from one key" are tried instead.)
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
    a, v = _check_row_and_values(weights, values)
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
    constraints = _constraints(v)  # (d_v + 1, n_k): rows of "u V = 0, sum u = 0"
    _, singular, vt = np.linalg.svd(constraints)
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
        targets = _corners(a, singular[:rank, None] * vt[:rank])
    else:
        targets = [along(-np.eye(n_k)[j]) for j in range(n_k)]  # "drain key j"
    if not targets:
        return a.copy()
    target = max(targets, key=lambda t: 0.5 * np.abs(t - a).sum())
    moved = np.clip(a + step * (target - a), 0.0, None)  # (n_k,)
    return moved / moved.sum()


def same_output_corners(weights: ArrayLike, values: ArrayLike) -> np.ndarray:
    r"""Every corner of the polytope of weight rows with the same output as ``weights``.

    The rows :math:`a'` with :math:`a' V = a V`, :math:`\sum_j a'_j = 1` and
    :math:`a' \ge 0` form a polytope, the feasible set of a linear program; its corners
    (basic feasible solutions) are found by choosing ``rank`` keys, ``rank`` the rank of
    :math:`[V\ \mathbf{1}]`, solving the square system for their weights and keeping the
    non-negative solutions. Every row with this output is a mixture of the corners.

    Parameters
    ----------
    weights : array_like, shape (n_k,)
        One row: non-negative, summing to 1.
    values : array_like, shape (n_k, d_v)

    Returns
    -------
    ndarray, shape (n_corners, n_k)
        One corner per row, each with the output ``weights @ values``; ``weights`` itself
        (one row) when the output fixes the weights.

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        ``weights`` is not one row of non-negative numbers summing to 1; ``values`` does not
        have one row per key; more than 20,000 candidate corners.

    Examples
    --------
    Three keys on a line at 0, 1 and 2, output 1: all on the middle key, or half on each end.

    >>> same_output_corners([0.2, 0.6, 0.2], [[0.0], [1.0], [2.0]]).round(6) + 0.0
    array([[0. , 1. , 0. ],
           [0.5, 0. , 0.5]])
    """
    a, v = _check_row_and_values(weights, values)
    if np.isnan(a).any() or np.isnan(v).any():
        return np.full((1, a.size), np.nan)  # NaN in, NaN out (and no SVD of a NaN matrix)
    if not np.isclose(a.sum(), 1.0, atol=1e-6):
        raise ValueError(f"weights must sum to 1, got {a.sum():.6g}")
    n_k = a.size
    _, singular, vt = np.linalg.svd(_constraints(v))
    rank = int((singular > 1e-10 * max(singular.max(initial=0.0), 1.0)).sum())
    if rank == n_k:
        return a[None, :].copy()  # (1, n_k): the output fixes the weights
    if comb(n_k, rank) > 20_000:
        raise ValueError(f"too many candidate corners: {n_k} keys choose {rank} = {comb(n_k, rank)} > 20,000")
    corners = _corners(a, singular[:rank, None] * vt[:rank])
    return np.array(corners) if corners else a[None, :].copy()  # (n_corners, n_k)


def six_keys_example() -> dict[str, np.ndarray]:
    r"""One query, six keys of width ``d_k = 2`` and six values in the plane: the chapter's example.

    The query :math:`q = (\sqrt2, \sqrt2)` and the keys give the scores
    :math:`q k_j / \sqrt{d_k}` = 2, 1, 0.5, 0, -0.5, 0.5 for keys A to F.

    Returns
    -------
    dict with
        ``names`` (6,) str, ``keys`` (6, 2), ``query`` (2,), ``scores`` (6,), ``weights``
        (6,) (their softmax), ``values`` (6, 2).

    Examples
    --------
    >>> example = six_keys_example()
    >>> example["scores"].round(6) + 0.0
    array([ 2. ,  1. ,  0.5,  0. , -0.5,  0.5])
    >>> example["weights"].round(3)
    array([0.492, 0.181, 0.11 , 0.067, 0.04 , 0.11 ])
    """
    keys = np.array([[1.0, 1.0], [0.5, 0.5], [0.5, 0.0], [0.0, 0.0], [-0.5, 0.0], [0.0, 0.5]])  # (6, d_k)
    query = np.full(2, np.sqrt(2.0))  # (d_k,)
    scores = keys @ query / np.sqrt(2.0)  # (6,)
    values = np.array([[2.0, 0.5], [0.5, 2.0], [-1.0, 1.0], [-1.5, -1.0], [0.5, -1.5], [1.5, -0.5]])
    return {"names": np.array(list("ABCDEF")), "keys": keys, "query": query, "scores": scores,
            "weights": softmax(scores), "values": values}


def closest_reachable(weights: ArrayLike, keys: ArrayLike, *, scale: float | None = None) -> dict:
    r"""The query of a head with fixed keys whose weights come closest to a given row.

    A query :math:`q` gives the weights :math:`\operatorname{softmax}(s \, q K^\top)`,
    :math:`s = 1/\sqrt{d_k}` by default, so their logarithms are
    :math:`s\, K q^\top - c\,\mathbf{1}` (:math:`c` the log of the normaliser): a row is
    produced by some query exactly when :math:`\log a'` lies in the column space of
    :math:`[K\ \mathbf{1}]`. Least squares finds the nearest point of that space; its
    ``residual`` (the length of what is left, in units of scores) is 0 for a reachable row.
    The reachable rows form a family of dimension ``rank([K 1]) - 1`` (``d_k`` for keys in
    general position), inside the ``n_k - 1`` dimensions of all rows.

    Parameters
    ----------
    weights : array_like, shape (n_k,)
        One row, every weight > 0 (no finite score gives a weight of exactly 0).
    keys : array_like, shape (n_k, d_k)
    scale : float, optional
        Default ``1 / sqrt(d_k)``.

    Returns
    -------
    dict with
        ``query`` (d_k,): the least-squares query; ``weights`` (n_k,): its softmax, the
        closest reachable row (in log space); ``residual``: float, 0 when ``weights`` is
        reachable.

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        ``weights`` not one row of positive numbers summing to 1; ``keys`` without one row
        per key; ``scale`` not a positive number.

    Examples
    --------
    >>> keys = np.array([[1.0], [0.0], [-1.0]])
    >>> reached = closest_reachable(softmax(np.array([2.0, 0.0, -2.0])), keys, scale=1.0)
    >>> reached["query"].round(6), round(reached["residual"], 6)
    (array([2.]), 0.0)
    >>> round(closest_reachable([0.25, 0.5, 0.25], keys, scale=1.0)["residual"], 3)   # not monotone in the key
    0.566
    """
    a = as_float_array(weights, "weights", min_ndim=1, nonempty=True, finite=True)
    k = as_float_array(keys, "keys", min_ndim=2, nonempty=True, finite=True)
    if a.ndim != 1:
        raise ValueError(f"weights must be one row (n_k,), got shape {a.shape}")
    if k.ndim != 2 or k.shape[0] != a.shape[0]:
        raise ValueError(f"weights has {a.shape[0]} keys (shape {a.shape}) but keys has shape {k.shape}; "
                         f"keys must be (n_k, d_k) with n_k={a.shape[0]} rows")
    s = 1.0 / np.sqrt(k.shape[1]) if scale is None else positive_number(scale, "scale")
    if np.isnan(a).any() or np.isnan(k).any():  # NaN in, NaN out
        return {"query": np.full(k.shape[1], np.nan), "weights": np.full(a.size, np.nan), "residual": np.nan}
    if not (a > 0).all():
        raise ValueError("weights must all be > 0: no finite score gives a weight of exactly 0 "
                         f"(smallest weight {a.min():.3g})")
    if not np.isclose(a.sum(), 1.0, atol=1e-6):
        raise ValueError(f"weights must sum to 1, got {a.sum():.6g}")
    basis = np.column_stack([s * k, np.ones(a.size)])  # (n_k, d_k + 1): scores s K q, plus a constant
    target = np.log(a)  # (n_k,)
    coef, *_ = np.linalg.lstsq(basis, target, rcond=None)  # (d_k + 1,)
    fitted = basis @ coef  # (n_k,)
    return {"query": coef[:-1], "weights": softmax(fitted),
            "residual": float(np.linalg.norm(target - fitted))}


def output_jacobian(query: ArrayLike, keys: ArrayLike, values: ArrayLike, *,
                    scale: float | None = None) -> np.ndarray:
    r"""How a head's output moves with its query, keys and values fixed: :math:`\partial o / \partial q`.

    One query :math:`q` gives the weights :math:`a = \operatorname{softmax}(s\, q K^\top)`,
    :math:`s = 1/\sqrt{d_k}` by default, and the output :math:`o = a V`. Since
    :math:`\partial a_j / \partial q = s\, a_j (k_j - \sum_l a_l k_l)`,

    .. math:: J = \frac{\partial o}{\partial q}
              = s\, V^\top \bigl(\operatorname{diag}(a) - a^\top a\bigr) K ,

    a ``(d_v, d_k)`` matrix: column ``c`` is how the output moves per unit of the query's
    coordinate ``c``. Near :math:`q`, the queries that keep the output fixed (to first order)
    are the null space of :math:`J`: the output alone pins the query, and so the row of weights,
    down locally exactly when :math:`J` has rank ``d_k`` (all its singular values positive,
    which needs ``d_k <= d_v``). The statement is local; it says nothing of distant queries.

    Parameters
    ----------
    query : array_like, shape (d_k,)
    keys : array_like, shape (n_k, d_k)
    values : array_like, shape (n_k, d_v)
    scale : float, optional
        Default ``1 / sqrt(d_k)``.

    Returns
    -------
    ndarray, shape (d_v, d_k)

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        ``query`` not one vector; ``keys`` not ``(n_k, d_k)`` with the query's width;
        ``values`` without one row per key; ``scale`` not a positive number.

    Examples
    --------
    Two keys on a line and scalar values: :math:`o = a_1 - a_2 = \tanh(q)` for keys
    :math:`\pm 1` and values :math:`\pm 1` (scale 1), so :math:`J = 1 - \tanh^2(q)`,
    1 at :math:`q = 0`.

    >>> output_jacobian([0.0], [[1.0], [-1.0]], [[1.0], [-1.0]], scale=1.0)
    array([[1.]])

    Keys and values :math:`e_1, e_2, 0` and :math:`q = 0`: every weight is 1/3, and
    :math:`J` is :math:`\tfrac{1}{\sqrt2}` times the top-left block of
    :math:`\tfrac13 I - \tfrac19 \mathbf 1 \mathbf 1^\top`, with singular values
    :math:`\tfrac13/\sqrt2` and :math:`\tfrac19/\sqrt2`.

    >>> keys, values = np.eye(3)[:, :2], np.eye(3)[:, :2]
    >>> np.linalg.svd(output_jacobian([0.0, 0.0], keys, values), compute_uv=False).round(4)
    array([0.2357, 0.0786])
    """
    q = as_float_array(query, "query", min_ndim=1, nonempty=True, finite=True)
    k = as_float_array(keys, "keys", min_ndim=2, nonempty=True, finite=True)
    v = as_float_array(values, "values", min_ndim=2, nonempty=True, finite=True)
    if q.ndim != 1:
        raise ValueError(f"query must be one vector (d_k,), got shape {q.shape}")
    if k.ndim != 2 or k.shape[1] != q.shape[0]:
        raise ValueError(f"keys must be (n_k, d_k) with d_k={q.shape[0]} columns (the query's width), "
                         f"got shape {k.shape}")
    if v.ndim != 2 or v.shape[0] != k.shape[0]:
        raise ValueError(f"values must be (n_k, d_v) with n_k={k.shape[0]} rows, one per key, "
                         f"got shape {v.shape}")
    s = 1.0 / np.sqrt(k.shape[1]) if scale is None else positive_number(scale, "scale")
    a = softmax(s * (k @ q))  # (n_k,)
    spread = np.diag(a) - np.outer(a, a)  # (n_k, n_k): the softmax's Jacobian
    return s * v.T @ spread @ k  # (d_v, n_k) @ (n_k, n_k) @ (n_k, d_k) = (d_v, d_k)


def train_recall_reader(*, seed: int = 0, steps: int = 200, progress: bool = True) -> tuple:
    """Train the attention reader on associative recall, as chapter 13 uses it.

    Six (key, value) pairs per memory, 12 keys, 4 values; 2,000 training memories (seed
    ``seed + 1``) and 1,000 held-out memories (seed ``seed + 2``); an
    :class:`~attn_core.training.models.AttentionReader` of width 16, trained with Adam
    (``lr=1e-2``, batches of 64). The task and the reader are studied in the chapter
    "What attention buys"; here they are only a trained model whose weights can be checked.

    Parameters
    ----------
    seed : int, default 0
    steps : int, default 200
    progress : bool, default True
        Print a progress line every 50 steps.

    Returns
    -------
    reader : AttentionReader
    test_set : dict of ndarray
        The held-out memories (``associative_recall`` format).

    Raises
    ------
    TypeError, ValueError
        ``seed`` not a whole number >= 0; ``steps`` not a whole number >= 1.

    Examples
    --------
    >>> reader, test_set = train_recall_reader(steps=2, progress=False)
    >>> reader.forward(test_set)[1]["weights"].shape
    (1000, 1, 6)
    """
    seed = nonnegative_int(seed, "seed")
    steps = positive_int(steps, "steps")
    progress = flag(progress, "progress")
    task = {"n_pairs": 6, "n_keys": 12, "n_values": 4}
    train_set = associative_recall(2000, seed=seed + 1, **task)
    test_set = associative_recall(1000, seed=seed + 2, **task)
    reader = AttentionReader(12, 4, width=16, seed=seed)
    train(reader, train_set, test_set, steps=steps, batch_size=64, lr=1e-2, seed=seed,
          eval_every=50, progress=progress)
    return reader, test_set


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

    Layer 1 (heads numbered from 0):

    * head 0, **previous token**: position ``p`` attends to ``p - 1`` and copies that word
      into the block "previous word";
    * head 1, **broad**: every weight equal; it writes the average of the words so far into
      "bag of words", which no later head reads.

    Layer 2:

    * head 0, **induction** (Elhage et al., 2021; Olsson et al., 2022): the query is the current word, the keys
      are the "previous word" blocks that layer 1 wrote, so a token attends to whatever
      *followed* an earlier occurrence of itself, and copies that word into "next word".
      Every query also scores ``strength / 2`` on the first token, whose value is zero: a
      token with no earlier occurrence parks its weight there (a "sink") and writes nothing;
    * head 1, **previous token, unused**: the same pattern as layer 1's head 0, but its rows
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
