r"""Long sequences: how far information travels through a recurrence and through attention.

Three measurements used in chapter 12:

* :func:`path_lengths`: how many layers a pattern of allowed (query, key) pairs needs for
  information at one position to reach another (Vaswani et al., 2017, Table 1);
* :func:`elman_states` and :func:`recurrent_sensitivity`: a tanh recurrence
  ``h_t = tanh(x_t + h_{t-1} W_h + b_h)`` and the size of :math:`\partial h_T / \partial x_t`,
  a product of ``T - t`` Jacobians (Bengio et al., 1994; Hochreiter & Schmidhuber, 1997);
* :func:`attention_sensitivity`: the size of :math:`\partial o / \partial x_t` for one
  query of self-attention, a single step whatever the distance;

and, for a trained recurrent reader, :func:`state_change_by_pair` (how far its final state
moves when one pair's value is changed) and :func:`accuracy_by_distance`, which splits a
test accuracy by how far back the answer lay.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, as_int_array, as_mask
from attn_core.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from attn_core.training.models import RecurrentReader

__all__ = [
    "path_lengths",
    "elman_states",
    "recurrent_sensitivity",
    "attention_sensitivity",
    "state_change_by_pair",
    "accuracy_by_distance",
]


def _spectral_norm(jacobians: np.ndarray) -> np.ndarray:
    """Largest singular value of each matrix in a stack ``(..., m, n)``; NaN for a matrix holding NaN.

    (The SVD itself does not converge on NaN: those matrices are left out of it.)
    """
    finite = np.isfinite(jacobians).all(axis=(-2, -1))  # (...,)
    if finite.all():
        return np.linalg.svd(jacobians, compute_uv=False)[..., 0]
    norms = np.full(jacobians.shape[:-2], np.nan)  # (...,)
    if finite.any():
        norms[finite] = np.linalg.svd(jacobians[finite], compute_uv=False)[..., 0]
    return norms


def path_lengths(allowed: ArrayLike) -> np.ndarray:
    """Fewest layers through which position j can reach position i, under one attention pattern.

    Every layer applies the same pattern: query i reads key j when ``allowed[i, j]`` is True.
    A position always keeps what it has (each layer is taken to have a residual path), so
    after ``m`` layers position i has heard from j if a chain ``j -> ... -> i`` of at most
    ``m`` allowed steps exists. The answer is the length of the shortest such chain.

    Parameters
    ----------
    allowed : array_like of bool, shape (n, n)
        ``True`` = query i may attend key j (the book's mask convention).

    Returns
    -------
    ndarray of int, shape (n, n)
        Entry ``[i, j]``: the fewest layers for information at j to reach i; 0 on the
        diagonal; -1 where it never arrives (for example from the future under a causal mask).

    Raises
    ------
    TypeError
        ``allowed`` is not boolean.
    ValueError
        ``allowed`` is not square, or empty.

    Examples
    --------
    >>> import attn_core as ac
    >>> chain = ac.sliding_window_mask(4, window=1, causal=True)   # i reads i-1 and i
    >>> path_lengths(chain)
    array([[ 0, -1, -1, -1],
           [ 1,  0, -1, -1],
           [ 2,  1,  0, -1],
           [ 3,  2,  1,  0]])
    >>> int(path_lengths(ac.causal_mask(4))[3, 0])   # full attention: one layer
    1
    """
    if allowed is None or isinstance(allowed, (str, bytes)):
        raise TypeError(f"allowed must be a boolean matrix (True = may attend), got {allowed!r:.40}")
    shape = np.shape(allowed)
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
        raise ValueError(f"allowed must be a square matrix (n, n) with n >= 1, got shape {shape}")
    step = as_mask(allowed, "allowed", shape, "square matrix (n, n)") | np.eye(shape[0], dtype=bool)
    n = shape[0]
    lengths = np.where(np.eye(n, dtype=bool), 0, -1)  # (n, n)
    reached = np.eye(n, dtype=bool)  # (n, n): [i, j] = j has reached i
    for layers in range(1, n):
        reached_next = (step.astype(np.int64) @ reached.astype(np.int64)) > 0  # (n, n)
        lengths[reached_next & ~reached] = layers
        if (reached_next == reached).all():
            break
        reached = reached_next
    return lengths


def elman_states(x: ArrayLike, w_h: ArrayLike, b_h: ArrayLike | None = None) -> np.ndarray:
    r"""Run the tanh recurrence :math:`h_t = \tanh(x_t + h_{t-1} W_h + b_h)` from :math:`h_0 = 0`.

    This is the recurrence of :class:`attn_core.training.models.RecurrentReader` (an Elman network):
    the inputs enter already projected to the width of the state.

    Parameters
    ----------
    x : array_like, shape (..., T, d)
        One input row per step.
    w_h : array_like, shape (d, d)
    b_h : array_like, shape (d,), optional
        Default zeros.

    Returns
    -------
    ndarray, shape (..., T, d)
        The states :math:`h_1, \dots, h_T`.

    Raises
    ------
    TypeError
        An argument that is not an array of real numbers.
    ValueError
        ``x`` empty or holding an infinity (NaN is passed through), ``w_h`` not ``(d, d)``
        or ``b_h`` not ``(d,)`` for the width ``d`` of ``x``.

    Examples
    --------
    >>> elman_states([[1.0], [0.0]], [[0.5]]).round(4)   # tanh(1), tanh(0.5 tanh(1))
    array([[0.7616],
           [0.3635]])
    """
    x = as_float_array(x, "x (inputs)", min_ndim=2, nonempty=True, finite=True)
    w_h, b_h = _check_recurrence(w_h, b_h, x.shape[-1])
    h = np.zeros(x.shape[:-2] + x.shape[-1:])  # (..., d): h_0
    states = np.empty(x.shape)  # (..., T, d)
    for t in range(x.shape[-2]):
        h = np.tanh(x[..., t, :] + h @ w_h + b_h)  # (..., d)
        states[..., t, :] = h
    return states


def _check_recurrence(w_h: ArrayLike, b_h: ArrayLike | None, d: int) -> tuple[np.ndarray, np.ndarray]:
    w_h = as_float_array(w_h, "w_h", min_ndim=2, finite=True)
    if w_h.shape != (d, d):
        raise ValueError(f"w_h must have shape ({d}, {d}) for states of width {d} (the last axis of x or "
                         f"states), got {w_h.shape}")
    b_h = np.zeros(d) if b_h is None else as_float_array(b_h, "b_h", finite=True)
    if b_h.shape != (d,):
        raise ValueError(f"b_h must have shape ({d},) for states of width {d} (the last axis of x or "
                         f"states), got {b_h.shape}")
    return w_h, b_h


def recurrent_sensitivity(states: ArrayLike, w_h: ArrayLike) -> np.ndarray:
    r"""Size of :math:`\partial h_T / \partial x_t` for every step t of a tanh recurrence.

    For :math:`h_t = \tanh(x_t + h_{t-1} W_h + b_h)` with row vectors, a small change
    :math:`\delta` of :math:`x_t` reaches the last state as
    :math:`\delta\, D_t W_h D_{t+1} W_h \cdots W_h D_T`, where
    :math:`D_s = \operatorname{diag}(1 - h_s^2)` is the slope of tanh at step s. The
    Jacobian is a product of :math:`T - t + 1` factors :math:`D_s` and :math:`T - t`
    factors :math:`W_h`; its size is measured by its largest singular value (the most that
    a change of length 1 at step t can move :math:`h_T`).

    Parameters
    ----------
    states : array_like, shape (..., T, d)
        :math:`h_1, \dots, h_T`, e.g. from :func:`elman_states`.
    w_h : array_like, shape (d, d)

    Returns
    -------
    ndarray, shape (..., T)
        Entry t (0-based) is :math:`\lVert \partial h_T / \partial x_{t+1} \rVert_2`; the
        last entry concerns the last input, at distance 0.

    Raises
    ------
    TypeError
        An argument that is not an array of real numbers.
    ValueError
        ``states`` empty or holding an infinity, ``w_h`` not ``(d, d)``. A NaN in the
        states gives NaN sensitivities (the SVD is not run on NaN).

    Examples
    --------
    With one unit the Jacobian is a number, :math:`w^{T-t} \prod_{s \ge t} (1 - h_s^2)`:

    >>> h = elman_states([[1.0], [0.0]], [[0.5]])
    >>> recurrent_sensitivity(h, [[0.5]]).round(4)   # [0.42 * 0.5 * 0.8679, 0.8679]
    array([0.1823, 0.8679])
    """
    h = as_float_array(states, "states", min_ndim=2, nonempty=True, finite=True)
    w_h, _ = _check_recurrence(w_h, None, h.shape[-1])
    slopes = 1.0 - h**2  # (..., T, d): the diagonals of D_t
    T = h.shape[-2]
    jacobian = slopes[..., T - 1, :, None] * np.eye(h.shape[-1])  # (..., d, d): D_T
    norms = np.empty(h.shape[:-1])  # (..., T)
    norms[..., T - 1] = _spectral_norm(jacobian)
    for t in range(T - 2, -1, -1):
        jacobian = (slopes[..., t, :, None] * w_h) @ jacobian  # (..., d, d): D_t W_h J_{t+1}
        norms[..., t] = _spectral_norm(jacobian)
    return norms


def attention_sensitivity(
    x: ArrayLike, w_q: ArrayLike, w_k: ArrayLike, w_v: ArrayLike, *, query: int = -1,
) -> np.ndarray:
    r"""Size of :math:`\partial o / \partial x_t` for every position t, for one query of self-attention.

    The query is row ``query`` of :math:`X`, :math:`q = x_{\text{query}} W_Q`; the keys and
    values are :math:`K = X W_K`, :math:`V = X W_V`; the output is
    :math:`o = \operatorname{softmax}(q K^\top / \sqrt{d_k})\, V`. Position t enters
    :math:`o` only through its own key and value (and, for t = ``query``, the query): one
    step, whatever the distance. The Jacobian :math:`\partial o / \partial x_t`
    (:math:`d_v \times d_\text{model}`) is assembled from
    :func:`attn_core.scaled_dot_product_attention_backward`, one backward pass per output
    coordinate, and measured by its largest singular value.

    Parameters
    ----------
    x : array_like, shape (..., n, d_model)
    w_q, w_k : array_like, shape (d_model, d_k)
    w_v : array_like, shape (d_model, d_v)
    query : int, default -1
        The position whose output is differentiated (negative counts from the end).

    Returns
    -------
    ndarray, shape (..., n)

    Raises
    ------
    TypeError
        An array that is not real numbers, a ``query`` that is not a whole number.
    ValueError
        Empty arrays or arrays holding an infinity, projections that do not fit ``x`` or
        each other, or ``query`` out of range. NaN gives NaN.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((5, 4))
    >>> w_q, w_k, w_v = rng.standard_normal((3, 4, 4))
    >>> attention_sensitivity(x, w_q, w_k, w_v).shape
    (5,)
    """
    x = as_float_array(x, "x (inputs)", min_ndim=2, nonempty=True, finite=True)
    w_q = as_float_array(w_q, "w_q", min_ndim=2, nonempty=True, finite=True)
    w_k = as_float_array(w_k, "w_k", min_ndim=2, nonempty=True, finite=True)
    w_v = as_float_array(w_v, "w_v", min_ndim=2, nonempty=True, finite=True)
    d_model = x.shape[-1]
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v)):
        if w.ndim != 2 or w.shape[0] != d_model:
            raise ValueError(f"{name} must have shape ({d_model}, ...) for inputs x of width {d_model}, "
                             f"got {w.shape}")
    if w_q.shape != w_k.shape:
        raise ValueError(f"w_q and w_k must have the same shape (d_model, d_k), got {w_q.shape} and {w_k.shape}")
    n, d_v = x.shape[-2], w_v.shape[1]
    if isinstance(query, (bool, np.bool_)) or not isinstance(query, numbers.Integral):
        raise TypeError(f"query must be a whole number (a position), got {query!r:.40}")
    if not -n <= query < n:
        raise ValueError(f"query={query} is out of range for a sequence of {n} positions")
    query %= n
    batch = x.shape[:-2]
    # One copy of the sequence per output coordinate: axis -3 indexes the coordinate of o.
    xs = np.broadcast_to(x[..., None, :, :], batch + (d_v, n, d_model))  # (..., d_v, n, d_model)
    q = xs[..., query:query + 1, :] @ w_q  # (..., d_v, 1, d_k)
    k = xs @ w_k  # (..., d_v, n, d_k)
    v = xs @ w_v  # (..., d_v, n, d_v)
    _, weights = scaled_dot_product_attention(q, k, v)  # (..., d_v, 1, n)
    grad_output = np.broadcast_to(np.eye(d_v)[:, None, :], batch + (d_v, 1, d_v))  # row i: do = e_i
    grad_q, grad_k, grad_v = scaled_dot_product_attention_backward(q, k, v, weights, grad_output)
    jacobian = grad_k @ w_k.T + grad_v @ w_v.T  # (..., d_v, n, d_model): [i, t] = d o_i / d x_t
    jacobian[..., query, :] += grad_q[..., 0, :] @ w_q.T  # the query's own path
    return _spectral_norm(np.swapaxes(jacobian, -3, -2))  # (..., n) from (..., n, d_v, d_model)


def state_change_by_pair(reader, data: dict[str, np.ndarray]) -> np.ndarray:
    r"""How far a recurrent reader's final state moves when the value of one pair is changed.

    For each example and each pair t, the value of pair t is replaced by each of the other
    ``n_values - 1`` values in turn (everything else kept), the sequence is read again, and
    the distance :math:`\lVert h_L' - h_L \rVert` between the new and the original final
    states is averaged over the replacements. It measures how much of pair t's value is
    still written in the state that the reader answers from.

    Parameters
    ----------
    reader : RecurrentReader
        Its cache holds the states ``cache["hs"]`` (a list whose last entry is :math:`h_L`,
        shape ``(B, d)``).
    data : dict
        From :func:`attn_core.experiments.data.associative_recall`.

    Returns
    -------
    ndarray, shape (B, L)
        Entry ``[b, t]``: mean distance moved by the final state of example b when the value
        of pair t changes.

    Raises
    ------
    TypeError
        ``reader`` not a RecurrentReader, ``data`` not a dict of int arrays.
    ValueError
        ``data`` the reader cannot read (a missing entry, a wrong shape, an id outside the
        vocabulary, each named), or a reader with fewer than two values.

    Examples
    --------
    >>> from attn_core.training.models import RecurrentReader
    >>> from attn_core.experiments.data import associative_recall
    >>> reader = RecurrentReader(3, 2, width=4)
    >>> reader.params["w_h"][:] = 0.0          # no recurrence: only the last pair counts
    >>> data = associative_recall(2, n_pairs=3, n_keys=3, n_values=2, ordered=True)
    >>> change = state_change_by_pair(reader, data)
    >>> change.shape, bool((change[:, :2] == 0).all() and (change[:, 2] > 0).all())
    ((2, 3), True)
    """
    if not isinstance(reader, RecurrentReader):
        raise TypeError(f"reader must be a RecurrentReader (its cache holds the states), got {type(reader).__name__}")
    data = reader.check_inputs(data, "data")
    values = data["values"]  # (B, L)
    n_values = reader.n_values
    if n_values < 2:
        raise ValueError(f"changing a value needs at least two values, the reader has {n_values}")
    final = reader._forward(data)[1]["hs"][-1]  # (B, d): h_L
    change = np.zeros(values.shape)  # (B, L)
    for t in range(values.shape[1]):
        for shift in range(1, n_values):
            moved = values.copy()
            moved[:, t] = (values[:, t] + shift) % n_values  # another value at pair t only
            final_moved = reader._forward({**data, "values": moved})[1]["hs"][-1]  # (B, d)
            change[:, t] += np.linalg.norm(final_moved - final, axis=1) / (n_values - 1)
    return change


def accuracy_by_distance(
    logits: ArrayLike, labels: ArrayLike, distance: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of the examples at each distance, for the distances that occur.

    Parameters
    ----------
    logits : array_like, shape (B, C)
    labels, distance : array_like of int, shape (B,)

    Returns
    -------
    distances : ndarray of int, shape (m,)
        The distinct distances, increasing.
    accuracies : ndarray, shape (m,)
        Fraction of the examples at each distance whose largest logit is the label.

    Raises
    ------
    TypeError
        Logits that are not real numbers; labels or distances that are not whole numbers.
    ValueError
        Empty or infinite logits, shapes that do not match, a label outside ``0 .. C - 1``,
        a distance below 1.

    Examples
    --------
    >>> d, acc = accuracy_by_distance([[1, 0], [0, 1], [1, 0]], [0, 0, 1], [1, 2, 2])
    >>> d.tolist(), acc.tolist()
    ([1, 2], [1.0, 0.0])
    """
    z = as_float_array(logits, "logits", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    y = as_int_array(labels, "labels", ndim=1)
    dist = as_int_array(distance, "distance", ndim=1, low=1)
    if y.shape != z.shape[:1] or dist.shape != z.shape[:1]:
        raise ValueError(f"logits must be (B, C) with labels and distance (B,), got {z.shape}, "
                         f"{y.shape} and {dist.shape}")
    y = as_int_array(y, "labels", low=0, high=z.shape[1])
    correct = np.argmax(z, axis=1) == y  # (B,)
    distances = np.unique(dist)
    accuracies = np.array([correct[dist == d].mean() for d in distances])
    return distances, accuracies


__all__ += ["readers_by_distance"]


def readers_by_distance(recurrent, attention, data: dict[str, np.ndarray]) -> dict:
    """Both readers on one example per distance: what each answers and which pairs it leans on.

    Parameters
    ----------
    recurrent : RecurrentReader
    attention : AttentionReader
        Readers of the same task (``forward(data) -> (logits, cache)``).
    data : dict of ndarray
        Recall by position with a ``distance`` per example
        (:func:`attn_core.experiments.data.associative_recall` with ``ordered=True``).

    Returns
    -------
    dict
        ``distances`` (list of int, increasing), ``examples`` (the data of the first example
        at each distance, one row per distance), ``heights`` (reader name -> (m, L): the
        attention reader's weights over the pairs, the recurrent reader's
        :func:`state_change_by_pair`) and ``predicted`` (reader name -> (m,) answers).

    Raises
    ------
    TypeError
        A reader without a ``forward`` method.
    ValueError
        ``data`` is not a dict holding keys, values, query, distance and labels.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> from attn_core.training.models import AttentionReader
    >>> data = associative_recall(30, n_pairs=4, n_keys=4, n_values=3, ordered=True, seed=0)
    >>> result = readers_by_distance(RecurrentReader(4, 3, width=4), AttentionReader(4, 3, width=4), data)
    >>> result["distances"], result["heights"]["attention"].shape
    ([1, 2, 3, 4], (4, 4))
    """
    for name, reader in (("recurrent", recurrent), ("attention", attention)):
        if not callable(getattr(reader, "forward", None)):
            raise TypeError(f"{name} must be a reader with a forward(data) method, got {type(reader).__name__}")
    needed = {"keys", "values", "query", "distance", "labels"}  # labels: what each answer is checked against
    if not isinstance(data, dict) or not needed <= set(data):
        have = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"data must be a dict of arrays with {sorted(needed)} (recall by position), got {have}")
    distance = as_int_array(data["distance"], "data['distance']", ndim=1, low=1)
    if distance.size == 0:
        raise ValueError("data['distance'] must hold one distance per example; got none")
    data = dict(data, distance=distance)
    distances = [int(d) for d in np.unique(data["distance"])]
    first = [int(np.flatnonzero(data["distance"] == d)[0]) for d in distances]  # one example each
    chosen = {name: value[first] for name, value in data.items()}  # (m, ...) for m distances
    attention_logits, attention_cache = attention.forward(chosen)  # (m, n_values)
    recurrent_logits, _ = recurrent.forward(chosen)  # (m, n_values)
    heights = {
        "attention": attention_cache["weights"][:, 0, :],  # (m, L): a_t
        "recurrent": state_change_by_pair(recurrent, chosen),  # (m, L): |h_L' - h_L|
    }
    predicted = {"attention": attention_logits.argmax(1), "recurrent": recurrent_logits.argmax(1)}  # (m,)
    return {"distances": distances, "examples": chosen, "heights": heights, "predicted": predicted}
