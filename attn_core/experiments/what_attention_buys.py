r"""What attention buys: associative recall read by attention, recurrences and pooling (chapter 12).

The chapter trains five readers of :func:`attn_core.experiments.data.associative_recall` under
one protocol (:data:`CONFIG`): fresh examples at every step (:func:`recall_sampler`), Adam
with global-norm clipping, every learning rate of a small grid trained for the whole budget
and the one with the lowest validation loss kept (:func:`pick_by_validation`), the same
number of steps for every reader, and one fixed held-out test set (:func:`recall_test_set`). The long
runs are made by ``benchmarks/recall_baselines.py`` and stored as package data;
:func:`load_results` and :func:`load_reader` read them back.

Pieces used on the page:

* :func:`path_lengths`: how many layers a mask of allowed (query, key) pairs needs for
  information at one position to reach another (Vaswani et al., 2017, Table 1);
* :func:`elman_states`, :func:`recurrent_sensitivity` and :func:`attention_sensitivity`: the
  size of :math:`\partial h_n / \partial x_t` along a tanh recurrence, and of
  :math:`\partial o / \partial x_t` for one query of self-attention;
* :func:`accuracy_by_distance` splits a test accuracy by how far back the answer lay;
  :func:`probe_accuracy` fits a linear probe per pair on a reader's state (is pair j's value
  still readable from it?), and :func:`query_indexed_probe_accuracy` answers each question
  with the probe of the pair it asks for (a readout that multiplies by the question);
* :func:`swap_values`, :func:`value_counts` and :func:`accuracy_without_pairing`: the bound
  that holds for a reader blind to the pairing (the mean-pooling reader, whose pair code is
  a sum of a key row and a value row), and :func:`value_probabilities`,
  :func:`first_step_reaching` to read a reader and a learning curve.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    as_int_array,
    as_mask,
    choice,
    flag,
    nonnegative_int,
    number_in_range,
    positive_int,
    positive_number,
)
from attn_core.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from attn_core.experiments.data import associative_recall
from attn_core.softmax import _softmax
from attn_core.training.loop import Model, _check_model, _evaluate, train
from attn_core.training.models import (
    AttentionReader,
    DeepSetsReader,
    GatedRecurrentReader,
    PoolingReader,
    RecurrentReader,
)

__all__ = [
    "CONFIG",
    "READERS",
    "accuracy_by_distance",
    "accuracy_without_pairing",
    "attention_sensitivity",
    "elman_states",
    "first_step_reaching",
    "load_reader",
    "load_results",
    "make_reader",
    "path_lengths",
    "pick_by_validation",
    "probe_accuracy",
    "query_indexed_probe_accuracy",
    "recall_sampler",
    "recall_test_set",
    "recurrent_sensitivity",
    "run_reader",
    "swap_values",
    "tune_learning_rate",
    "value_counts",
    "value_probabilities",
]

_FIELDS = ("keys", "values", "query", "distance", "labels")

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
    x : array_like, shape (..., n, d)
        One input row per step.
    w_h : array_like, shape (d, d)
    b_h : array_like, shape (d,), optional
        Default zeros.

    Returns
    -------
    ndarray, shape (..., n, d)
        The states :math:`h_1, \dots, h_n`.

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
    states = np.empty(x.shape)  # (..., n, d)
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
    r"""Size of :math:`\partial h_n / \partial x_t` for every step t of a tanh recurrence.

    For :math:`h_t = \tanh(x_t + h_{t-1} W_h + b_h)` with row vectors, a small change
    :math:`\varepsilon` of :math:`x_t` reaches the last state as
    :math:`\varepsilon\, D_t W_h D_{t+1} W_h \cdots W_h D_n`, where
    :math:`D_s = \operatorname{diag}(1 - h_s^2)` is the slope of tanh at step s. The
    Jacobian is a product of :math:`n - t + 1` factors :math:`D_s` and :math:`n - t`
    factors :math:`W_h`; its size is measured by its largest singular value (the most that
    a change of length 1 at step t can move :math:`h_n`).

    Parameters
    ----------
    states : array_like, shape (..., n, d)
        :math:`h_1, \dots, h_n`, e.g. from :func:`elman_states`.
    w_h : array_like, shape (d, d)

    Returns
    -------
    ndarray, shape (..., n)
        Entry t (0-based) is :math:`\lVert \partial h_n / \partial x_{t+1} \rVert_2`; the
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
    With one unit the Jacobian is a number, :math:`w^{n-t} \prod_{s \ge t} (1 - h_s^2)`:

    >>> h = elman_states([[1.0], [0.0]], [[0.5]])
    >>> recurrent_sensitivity(h, [[0.5]]).round(4)   # [0.42 * 0.5 * 0.8679, 0.8679]
    array([0.1823, 0.8679])
    """
    h = as_float_array(states, "states", min_ndim=2, nonempty=True, finite=True)
    w_h, _ = _check_recurrence(w_h, None, h.shape[-1])
    slopes = 1.0 - h**2  # (..., n, d): the diagonals of D_t
    n = h.shape[-2]
    jacobian = slopes[..., n - 1, :, None] * np.eye(h.shape[-1])  # (..., d, d): D_n
    norms = np.empty(h.shape[:-1])  # (..., n)
    norms[..., n - 1] = _spectral_norm(jacobian)
    for t in range(n - 2, -1, -1):
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


def _check_data(data: Any, name: str = "data") -> tuple[dict[str, np.ndarray], int]:
    """Check that ``data`` looks like associative_recall's output; return it as arrays and the number of pairs.

    ``keys`` and ``values`` (n_examples, n_pairs) and ``query``, ``distance``, ``labels``
    (n_examples,) must be arrays of whole numbers >= 0, with ``distance`` in ``1 .. n_pairs``;
    each missing entry, wrong shape or out-of-range entry is named.
    """
    if not isinstance(data, dict):
        raise TypeError(f"{name} must be a dict with {', '.join(_FIELDS)} "
                        f"(as made by attn_core.experiments.data.associative_recall), got {type(data).__name__}")
    for field_name in _FIELDS:
        if field_name not in data:
            raise ValueError(f"{name} has no {field_name!r}; it needs {', '.join(_FIELDS)} "
                             "(as made by attn_core.experiments.data.associative_recall)")
    keys = as_int_array(data["keys"], f"{name}['keys']", ndim=2, low=0)
    if 0 in keys.shape:
        raise ValueError(f"{name}['keys'] must be (n_examples, n_pairs), both >= 1; got shape {keys.shape}")
    values = as_int_array(data["values"], f"{name}['values']", low=0)
    if values.shape != keys.shape:
        raise ValueError(f"{name}: keys and values must both be (n_examples, n_pairs), "
                         f"got {keys.shape} and {values.shape}")
    n_examples, n_pairs = keys.shape
    checked = dict(data, keys=keys, values=values)
    for field_name, low, high in (("query", 0, None), ("distance", 1, n_pairs + 1), ("labels", 0, None)):
        array = as_int_array(data[field_name], f"{name}[{field_name!r}]", low=low, high=high)
        if array.shape != (n_examples,):
            raise ValueError(f"{name}[{field_name!r}] must have shape ({n_examples},); got {array.shape}")
        checked[field_name] = array
    return checked, n_pairs


def _position(value: Any, name: str, n_pairs: int) -> int:
    """A pair position in ``-n_pairs .. n_pairs - 1``, returned in ``0 .. n_pairs - 1``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number (a pair position), got {value!r:.40}")
    if not -n_pairs <= value < n_pairs:
        raise ValueError(f"{name}={value} is out of range for {n_pairs} pairs")
    return int(value) % n_pairs


def swap_values(data: dict[str, np.ndarray], first: int, second: int) -> dict[str, np.ndarray]:
    """The same memories with the values of two pairs exchanged, and the new right answers.

    Every example keeps its keys, its query and the *bag* of its values; only the pairing
    changes: pair ``first`` gets the value of pair ``second`` and the other way round. The
    label changes wherever the query asks for one of the two pairs and their values differ.

    Parameters
    ----------
    data : dict
        As made by :func:`attn_core.experiments.data.associative_recall`.
    first, second : int
        Positions of the two pairs, ``0 .. n_pairs - 1`` (negative counts from the end).

    Returns
    -------
    dict
        A new data set of the same shapes (``data`` is not changed).

    Raises
    ------
    TypeError
        ``data`` not a dict of int arrays, a position that is not a whole number.
    ValueError
        A missing entry or wrong shape in ``data`` (named), a position out of range.

    Examples
    --------
    >>> d = {"keys": np.array([[4, 7, 1]]), "values": np.array([[0, 2, 3]]),
    ...      "query": np.array([7]), "distance": np.array([2]), "labels": np.array([2])}
    >>> s = swap_values(d, 0, 1)
    >>> s["values"].tolist(), s["labels"].tolist(), d["labels"].tolist()
    ([[2, 0, 3]], [0], [2])
    """
    data, n_pairs = _check_data(data)
    a, b = _position(first, "first", n_pairs), _position(second, "second", n_pairs)
    out = {name: np.array(value, copy=True) for name, value in data.items()}
    out["values"][:, [a, b]] = out["values"][:, [b, a]]  # (n_examples, n_pairs)
    rows = np.arange(len(out["labels"]))
    out["labels"] = out["values"][rows, n_pairs - out["distance"]]  # the queried pair's value
    return out


def value_counts(data: dict[str, np.ndarray]) -> np.ndarray:
    """For every pair, how many pairs of its memory carry the same value (itself included).

    Returns
    -------
    ndarray of int, shape (n_examples, n_pairs)

    Raises
    ------
    TypeError, ValueError
        ``data`` that is not associative recall data (the entry at fault is named).

    Examples
    --------
    >>> d = {"keys": np.array([[0, 1, 2, 3]]), "values": np.array([[5, 1, 5, 5]]),
    ...      "query": np.array([0]), "distance": np.array([4]), "labels": np.array([5])}
    >>> value_counts(d)
    array([[3, 1, 3, 3]])
    """
    data, _ = _check_data(data)
    return _value_counts(data["values"])


def _value_counts(values: np.ndarray) -> np.ndarray:
    """The kernel of :func:`value_counts`, on the values (n_examples, n_pairs)."""
    return (values[:, :, None] == values[:, None, :]).sum(-1)  # (n_examples, n_pairs)


def accuracy_without_pairing(data: dict[str, np.ndarray]) -> float:
    r"""The best expected accuracy of a reader that cannot tell which value goes with which key.

    Such a reader sees the query, the keys and the values as two separate bags. Every pairing
    of them is equally likely, so the queried pair holds value :math:`v` with probability
    :math:`c_v / L`, where :math:`c_v` counts the pairs that carry :math:`v`. The best guess
    is the most frequent value, right with probability :math:`\max_v c_v / L`; this function
    averages that over the examples.

    Parameters
    ----------
    data : dict
        As made by :func:`attn_core.experiments.data.associative_recall`.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        ``data`` that is not associative recall data (the entry at fault is named).

    Examples
    --------
    >>> d = {"keys": np.array([[0, 1, 2], [0, 1, 2]]), "values": np.array([[5, 5, 1], [0, 1, 2]]),
    ...      "query": np.array([0, 0]), "distance": np.array([3, 3]), "labels": np.array([5, 0])}
    >>> round(accuracy_without_pairing(d), 4)      # (2/3 + 1/3) / 2
    0.5
    """
    data, n_pairs = _check_data(data)
    return float((_value_counts(data["values"]).max(axis=1) / n_pairs).mean())


def value_probabilities(model: Model, data: dict[str, np.ndarray]) -> np.ndarray:
    """The probability a reader gives each possible value: the softmax of its logits.

    Returns
    -------
    ndarray, shape (n_examples, n_values)

    Raises
    ------
    TypeError, ValueError
        A model without ``params``/``forward``/``backward``, or ``data`` it cannot read.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(3, n_pairs=4, n_keys=6, n_values=5, seed=0)
    >>> p = value_probabilities(AttentionReader(6, 5, width=4), data)
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
    ((3, 5), True)
    """
    _check_model(model)
    data, _ = _check_data(data)
    if hasattr(model, "check_inputs"):
        logits, _ = model._forward(model.check_inputs(data, "data"))  # (n_examples, n_values)
    else:
        logits, _ = model.forward(data)  # (n_examples, n_values)
    return _softmax(np.asarray(logits, dtype=float), -1, 1.0, None)


def first_step_reaching(steps: Sequence[int], accuracies: Sequence[float], level: float) -> int | None:
    """The first step at which an accuracy curve reaches ``level``; None if it never does.

    Parameters
    ----------
    steps : sequence of int
        Steps of the curve, whole numbers >= 0.
    accuracies : sequence of float, one per step
        A NaN never reaches the level.
    level : float in [0, 1]

    Returns
    -------
    int or None

    Raises
    ------
    TypeError, ValueError
        Steps that are not whole numbers >= 0, accuracies that are not a non-empty vector of
        numbers of the same length, a level outside [0, 1] or NaN.

    Examples
    --------
    >>> first_step_reaching([10, 20, 30], [0.4, 0.92, 0.99], 0.9)
    20
    >>> first_step_reaching([10, 20, 30], [0.4, 0.5, 0.5], 0.9) is None
    True
    """
    step_array = as_int_array(steps, "steps", ndim=1, low=0)
    acc = as_float_array(accuracies, "accuracies", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    level = number_in_range(level, "level", 0.0, 1.0)
    if step_array.shape[0] != acc.shape[0]:
        raise ValueError(f"steps has {step_array.shape[0]} entries, accuracies {acc.shape[0]}")
    for step, value in zip(step_array, acc):
        if value >= level:
            return int(step)
    return None


# ------------------------------------------------------------------ the fair protocol, one config

#: Every setting of the chapter's runs. ``benchmarks/recall_baselines.py`` stores a copy with its
#: results, and a test checks that the stored copy equals this one.
CONFIG: dict[str, Any] = {
    "task": {"n_pairs": 16, "n_keys": 16, "n_values": 8, "ordered": True},
    "width": 64,
    "encoder_width": 128,
    "batch_size": 64,
    "clip_norm": 1.0,
    "seed": 0,
    "test": {"size": 2048, "seed": 2},
    "validation": {"size": 1024, "seed": 3},
    "learning_rates": [0.001, 0.003, 0.01],
    "steps": 30000,
    "eval_at": [25, 50, 100, 200, 400, 700, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000,
                10000, 12500, 15000, 17500, 20000, 22500, 25000, 27500, 30000],
    "readers": ["attention", "elman", "gru", "mean pooling", "deep sets"],
    # every rate trained for the whole budget, the pick = the lowest validation loss at the end
    "full_grid": ["attention", "elman", "gru", "mean pooling", "deep sets"],
    # (a reader too dear for that would get one run per rate to short_grid["steps"], the pick
    # = the lowest validation loss there, then the whole budget at the pick)
    "short_grid": {"readers": [], "steps": 4000},
    "query_first": ["elman", "gru"],
    # the pooling readers and attention at several numbers of pairs, the key vocabulary fixed at
    # task["n_keys"]: every rate to pairs_sweep["steps"], the pick per L by validation loss there
    # (the L = 16 point is read off the main runs at that step)
    "pairs_sweep": {"n_pairs": [4, 8, 16], "readers": ["attention", "mean pooling", "deep sets"],
                    "steps": 10000, "eval_at": [1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000]},
    # the same readers at their picks with other seeds (weights and batches; same test set)
    "seeds": {"readers": ["elman", "gru"], "seeds": [1, 2]},
    # recall by content (the keys are tokens, the query one of them), at the picks, a shorter budget
    "by_content": {"readers": ["attention", "elman", "gru", "deep sets"], "steps": 10000,
                   "eval_at": [1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000]},
}

#: The readers by the chapter's name for them.
READERS: dict[str, type] = {
    "attention": AttentionReader,
    "elman": RecurrentReader,
    "gru": GatedRecurrentReader,
    "mean pooling": PoolingReader,
    "deep sets": DeepSetsReader,
}

_RESULTS = "what_attention_buys.json"
_PARAMS = "what_attention_buys_params.npz"


def _task(n_pairs: int | None, by_content: bool = False) -> dict[str, Any]:
    """The task of :data:`CONFIG` with ``n_pairs`` pairs.

    The keys are the positions ``0 .. n_pairs - 1``; the key vocabulary stays that of
    :data:`CONFIG` (16 keys) so that the readers are the same size for every ``n_pairs`` up to
    16, and grows to ``n_pairs`` beyond.
    """
    task = dict(CONFIG["task"])
    if n_pairs is not None:
        n_pairs = positive_int(n_pairs, "n_pairs")
        task.update(n_pairs=n_pairs, n_keys=max(n_pairs, CONFIG["task"]["n_keys"]))
    if flag(by_content, "by_content"):  # the keys: distinct tokens in random order, the query one of them
        task["ordered"] = False
    return task


def recall_sampler(n_pairs: int | None = None, *, by_content: bool = False,
                   ) -> Callable[[int, np.random.Generator], dict[str, np.ndarray]]:
    """A source of fresh training examples: ``sample(batch_size, rng)`` draws a new batch every call.

    Each call draws a seed from ``rng`` and makes ``batch_size`` examples of the task of
    :data:`CONFIG` with :func:`attn_core.experiments.data.associative_recall`, so a run seeded
    once sees the same stream of batches on every machine, and (with :math:`8^{16}` value lists)
    practically never the same example twice.

    Parameters
    ----------
    n_pairs : int, optional
        Pairs per memory; default that of :data:`CONFIG` (16). The keys are the positions.
    by_content : bool, default False
        Recall by content instead: the keys are distinct tokens in a random order and the query
        is one of them (``associative_recall`` with ``ordered=False``).

    Returns
    -------
    callable
        ``sample(batch_size, rng) -> dict`` of ``keys``, ``values``, ``query``, ``distance``,
        ``labels``.

    Raises
    ------
    TypeError, ValueError
        ``n_pairs`` not a whole number >= 1; (when called) ``batch_size`` not a whole number
        >= 1, ``rng`` not a numpy Generator.

    Examples
    --------
    >>> sample = recall_sampler(4)
    >>> rng = np.random.default_rng(0)
    >>> first, second = sample(3, rng), sample(3, rng)
    >>> first["keys"].tolist()[0], bool((first["values"] == second["values"]).all())
    ([0, 1, 2, 3], False)
    """
    task = _task(n_pairs, by_content)

    def sample(batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        batch_size = positive_int(batch_size, "batch_size")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
        return associative_recall(batch_size, seed=int(rng.integers(2**62)), **task)

    return sample


def recall_test_set(n_pairs: int | None = None, *, validation: bool = False,
                    by_content: bool = False) -> dict[str, np.ndarray]:
    """The one fixed held-out set every reader is evaluated on (or the validation set of the grid).

    Parameters
    ----------
    n_pairs : int, optional
        Pairs per memory; default that of :data:`CONFIG`.
    validation : bool, default False
        The set that picks the learning rate instead (its own seed), so that the test set
        plays no part in tuning.
    by_content : bool, default False
        Recall by content (see :func:`recall_sampler`).

    Returns
    -------
    dict of ndarray
        :data:`CONFIG` ``["test"]["size"]`` examples (or ``["validation"]["size"]``).

    Raises
    ------
    TypeError, ValueError
        ``n_pairs`` not a whole number >= 1, ``validation`` not a boolean.

    Examples
    --------
    >>> test = recall_test_set()
    >>> test["values"].shape, bool((recall_test_set()["labels"] == test["labels"]).all())
    ((2048, 16), True)
    """
    which = CONFIG["validation"] if flag(validation, "validation") else CONFIG["test"]
    return associative_recall(which["size"], seed=which["seed"], **_task(n_pairs, by_content))


def make_reader(name: str, *, n_pairs: int | None = None, query_first: bool = False,
                seed: int | None = None) -> Model:
    """A fresh reader of the chapter, built with the sizes of :data:`CONFIG`.

    Parameters
    ----------
    name : {"attention", "elman", "gru", "mean pooling", "deep sets"}
    n_pairs : int, optional
        Pairs per memory (the number of keys); default that of :data:`CONFIG`.
    query_first : bool, default False
        For "elman" and "gru": read the query before the pairs (the control experiment).
    seed : int, optional
        Initial weights; default :data:`CONFIG` ``["seed"]``.

    Returns
    -------
    Model

    Raises
    ------
    TypeError, ValueError
        An unknown name, ``query_first`` for a reader that is not recurrent, sizes or seed
        that are not whole numbers.

    Examples
    --------
    >>> make_reader("gru", n_pairs=4).n_keys, type(make_reader("deep sets")).__name__
    (16, 'DeepSetsReader')
    """
    name = choice(name, tuple(READERS), "name")
    query_first = flag(query_first, "query_first")
    seed = CONFIG["seed"] if seed is None else nonnegative_int(seed, "seed")
    task = _task(n_pairs)
    sizes = {"width": CONFIG["width"], "seed": seed}
    if name == "deep sets":
        sizes["encoder_width"] = CONFIG["encoder_width"]
    if query_first:
        if name not in ("elman", "gru"):
            raise ValueError(f"query_first applies to the recurrent readers ('elman', 'gru'), not {name!r}")
        sizes["query_first"] = True
    return READERS[name](task["n_keys"], task["n_values"], **sizes)


def _accuracy_by_distance(model: Model, data: dict[str, np.ndarray]) -> np.ndarray:
    logits, _ = model._forward(data)  # (N, n_values)
    correct = logits.argmax(axis=1) == data["labels"]  # (N,)
    n_pairs = data["keys"].shape[1]
    return np.array([correct[data["distance"] == d].mean() for d in range(1, n_pairs + 1)])


def run_reader(name: str, *, lr: float, steps: int | None = None, eval_at: Sequence[int] | None = None,
               n_pairs: int | None = None, query_first: bool = False, progress: bool = False,
               seed: int | None = None, by_content: bool = False) -> tuple[Model, dict[str, Any]]:
    """Train one reader under the chapter's protocol and record its learning curve.

    Fresh examples every step (:func:`recall_sampler`), Adam at ``lr`` with the gradient's
    global norm clipped to :data:`CONFIG` ``["clip_norm"]``, batches of ``CONFIG["batch_size"]``,
    evaluated on :func:`recall_test_set` and on the validation set at step 0 and at every step
    of ``eval_at``.

    Parameters
    ----------
    name : str
        One of :data:`READERS`.
    lr : float
        Adam's step size.
    steps : int, optional
        Default :data:`CONFIG` ``["steps"]``.
    eval_at : sequence of int, optional
        Default :data:`CONFIG` ``["eval_at"]`` (those within ``steps``; the last step always).
    n_pairs : int, optional
    query_first : bool, default False
    progress : bool, default False
        Print a line per evaluation.
    seed : int, optional
        Initial weights and the stream of training batches; default :data:`CONFIG` ``["seed"]``
        (the test and validation sets stay the same).
    by_content : bool, default False
        Recall by content (see :func:`recall_sampler`).

    Returns
    -------
    model : Model
        Trained.
    record : dict
        ``steps`` (from 0), ``test_accuracy``, ``by_distance`` (one list per evaluation:
        accuracy at distance 1, 2, ..., L), ``validation_loss`` and ``validation_accuracy``
        (one per evaluation: what picks a learning rate), ``seconds_at`` (wall clock at each
        evaluation), ``seconds``, ``lr``, ``parameters``.

    Raises
    ------
    TypeError, ValueError
        As :func:`make_reader` and :func:`attn_core.training.loop.train`.

    Examples
    --------
    >>> model, record = run_reader("mean pooling", lr=0.01, steps=4, eval_at=[2], n_pairs=3)
    >>> record["steps"], len(record["by_distance"][0])
    ([0, 2, 4], 3)
    """
    lr = positive_number(lr, "lr")
    progress = flag(progress, "progress")
    steps = CONFIG["steps"] if steps is None else positive_int(steps, "steps")
    if eval_at is not None and (isinstance(eval_at, (str, bytes)) or not isinstance(eval_at, Sequence)):
        raise TypeError(f"eval_at must be a sequence of steps or None, got {eval_at!r:.40}")
    eval_at = CONFIG["eval_at"] if eval_at is None else [positive_int(s, "eval_at entry") for s in eval_at]
    seed = CONFIG["seed"] if seed is None else nonnegative_int(seed, "seed")
    by_content = flag(by_content, "by_content")
    model = make_reader(name, n_pairs=n_pairs, query_first=query_first, seed=seed)
    test_set = recall_test_set(n_pairs, by_content=by_content)
    validation = recall_test_set(n_pairs, validation=True, by_content=by_content)
    by_distance = [_accuracy_by_distance(model, test_set).tolist()]
    initial = _evaluate(model, test_set)[1]
    validation_scores = [_evaluate(model, validation)]

    def record_distances(step: int, trained: Model) -> None:
        by_distance.append(_accuracy_by_distance(trained, test_set).tolist())
        validation_scores.append(_evaluate(trained, validation))

    history = train(model, recall_sampler(n_pairs, by_content=by_content), test_set, steps=steps,
                    batch_size=CONFIG["batch_size"], lr=lr, seed=seed, clip_norm=CONFIG["clip_norm"],
                    eval_at=[s for s in eval_at if s <= steps], progress=progress, callback=record_distances)
    record = {
        "steps": [0] + list(history.steps),
        "test_accuracy": [initial] + list(history.test_accuracy),
        "by_distance": by_distance,
        "validation_loss": [float(loss) for loss, _ in validation_scores],
        "validation_accuracy": [float(accuracy) for _, accuracy in validation_scores],
        "seconds_at": [0.0] + list(getattr(history, "seconds_at", [])),
        "seconds": history.seconds,
        "lr": lr,
        "seed": seed,
        "parameters": int(model.parameter_count()),
    }
    return model, record


def pick_by_validation(records: dict[float, dict[str, Any]], step: int | None = None) -> float:
    """The learning rate whose run has the lowest validation loss at ``step`` (default: the last).

    Parameters
    ----------
    records : dict of float -> dict
        One record of :func:`run_reader` per learning rate.
    step : int, optional
        An evaluated step of every record; default each record's last.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        ``records`` not a non-empty dict of records holding ``steps`` and ``validation_loss``;
        a ``step`` that some record did not evaluate.

    Examples
    --------
    >>> records = {0.01: {"steps": [0, 10], "validation_loss": [2.1, 1.3]},
    ...            0.001: {"steps": [0, 10], "validation_loss": [2.1, 1.9]}}
    >>> pick_by_validation(records), pick_by_validation(records, step=0)   # a tie: the lower rate
    (0.01, 0.001)
    """
    if not isinstance(records, dict) or not records:
        raise TypeError(f"records must be a non-empty dict of learning rate -> run record, got {records!r:.40}")
    step = None if step is None else nonnegative_int(step, "step")
    losses = {}
    for rate, record in records.items():
        if not isinstance(record, dict) or "steps" not in record or "validation_loss" not in record:
            raise TypeError(f"records[{rate!r}] must hold 'steps' and 'validation_loss' (see run_reader)")
        at = record["steps"][-1] if step is None else step
        if at not in record["steps"]:
            raise ValueError(f"step={at!r} was not evaluated in the run at rate {rate!r}")
        losses[rate] = record["validation_loss"][record["steps"].index(at)]
    return min(losses, key=lambda rate: (losses[rate], rate))


def tune_learning_rate(name: str, *, learning_rates: Sequence[float] | None = None, steps: int | None = None,
                       query_first: bool = False) -> tuple[float, dict[float, tuple[float, float]]]:
    """Pick a reader's learning rate: one run per rate, judged on the validation LOSS at its end.

    The loss, not the accuracy: on the plateau at the bound every rate has nearly the same
    accuracy, while the loss already tells which run is leaving it.

    Parameters
    ----------
    name : str
        One of :data:`READERS`.
    learning_rates : sequence of float, optional
        Default :data:`CONFIG` ``["learning_rates"]``.
    steps : int, optional
        Default :data:`CONFIG` ``["short_grid"]["steps"]``.
    query_first : bool, default False

    Returns
    -------
    best : float
        The rate with the lowest validation loss after ``steps`` steps.
    scores : dict of float -> (accuracy, loss)
        Validation accuracy and loss of each rate.

    Raises
    ------
    TypeError, ValueError
        As :func:`run_reader`; an empty grid.

    Examples
    --------
    >>> best, scores = tune_learning_rate("mean pooling", learning_rates=[0.01, 0.1], steps=3)
    >>> best in scores, sorted(scores)
    (True, [0.01, 0.1])
    """
    name, query_first = choice(name, tuple(READERS), "name"), flag(query_first, "query_first")
    if learning_rates is not None and (isinstance(learning_rates, (str, bytes))
                                       or not isinstance(learning_rates, Sequence)):
        raise TypeError(f"learning_rates must be a sequence of numbers or None, got {learning_rates!r:.40}")
    rates = CONFIG["learning_rates"] if learning_rates is None else list(learning_rates)
    if not rates:
        raise ValueError("learning_rates must hold at least one rate")
    rates = [positive_number(rate, "learning_rates entry") for rate in rates]
    steps = CONFIG["short_grid"]["steps"] if steps is None else positive_int(steps, "steps")
    records = {rate: run_reader(name, lr=rate, steps=steps, eval_at=[steps], query_first=query_first)[1]
               for rate in rates}
    scores = {rate: (record["validation_accuracy"][-1], record["validation_loss"][-1])
              for rate, record in records.items()}
    return pick_by_validation(records), scores


def _results_file(name: str):
    return resources.files("attn_core.experiments").joinpath("results", name)


def load_results() -> dict[str, Any]:
    """The stored runs of ``benchmarks/recall_baselines.py``: configuration, curves, grid, sweep.

    Returns
    -------
    dict
        ``config`` (a copy of :data:`CONFIG` as it was), ``machine``, ``date``,
        ``wall_clock_seconds``, ``command``; ``grid`` (reader -> learning rate -> [validation
        accuracy, loss]) and ``learning_rate`` (reader -> the pick); ``runs`` (run name ->
        the record of :func:`run_reader`; query-first runs are named e.g. "elman, query
        first"); ``sweep`` (reader -> number of pairs -> record).

    Raises
    ------
    FileNotFoundError
        The results have not been made (run ``python benchmarks/recall_baselines.py``).

    Examples
    --------
    >>> results = load_results()
    >>> results["config"] == CONFIG, sorted(results["learning_rate"]) == sorted(CONFIG["readers"])
    (True, True)
    """
    with _results_file(_RESULTS).open("r", encoding="utf-8") as handle:
        return json.load(handle)


def run_name(name: str, query_first: bool = False) -> str:
    """How a run is named in the stored results: the reader's name, and ", query first" for the control.

    Raises
    ------
    TypeError
        ``name`` not a str, ``query_first`` not a boolean.

    Examples
    --------
    >>> run_name("gru", True)
    'gru, query first'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a reader's name), got {name!r:.40}")
    return f"{name}, query first" if flag(query_first, "query_first") else name


def load_reader(name: str) -> Model:
    """A reader with the trained weights stored by ``benchmarks/recall_baselines.py``.

    Only the five main runs keep their weights (the query-first controls keep their curves).

    Parameters
    ----------
    name : str
        One of :data:`READERS`.

    Returns
    -------
    Model
        Built by :func:`make_reader`, its ``params`` replaced by the stored ones (exactly).

    Raises
    ------
    TypeError, ValueError
        As :func:`make_reader`; ``ValueError`` if the stored weights do not fit the reader.
    FileNotFoundError
        The results have not been made.

    Examples
    --------
    >>> reader = load_reader("attention")
    >>> sorted(reader.params) == sorted(make_reader("attention").params)
    True
    """
    model = make_reader(name)
    prefix = name + "/"
    with _results_file(_PARAMS).open("rb") as handle, np.load(handle) as stored:
        found = {key[len(prefix):]: stored[key] for key in stored.files if key.startswith(prefix)}
    if sorted(found) != sorted(model.params) or any(found[k].shape != v.shape for k, v in model.params.items()):
        raise ValueError(f"the stored weights of {name!r} do not fit {type(model).__name__}; "
                         "rerun benchmarks/recall_baselines.py")
    for key, value in found.items():
        model.params[key][...] = value
    return model


__all__ += ["run_name"]


def _check_probe_training(train_features: Any, train_values: Any, test_features: Any, n_values: int,
                          ridge: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The door checks the two probe functions share: features, training values and ridge."""
    ridge = positive_number(ridge, "ridge")
    train_x = as_float_array(train_features, "train_features", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    test_x = as_float_array(test_features, "test_features", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if test_x.shape[1] != train_x.shape[1]:
        raise ValueError(f"test_features must have the width of train_features ({train_x.shape[1]}), "
                         f"got shape {test_x.shape}")
    train_y = as_int_array(train_values, "train_values", ndim=2, low=0, high=n_values)
    if train_y.shape[0] != train_x.shape[0] or 0 in train_y.shape:
        raise ValueError(f"train_values must be ({train_x.shape[0]}, L) for train_features of shape "
                         f"{train_x.shape}, got {train_y.shape}")
    return train_x, train_y, test_x, ridge


def probe_accuracy(
    train_features: ArrayLike, train_values: ArrayLike, test_features: ArrayLike, test_values: ArrayLike,
    n_values: int, *, ridge: float = 1e-3, method: str = "least squares",
) -> np.ndarray:
    r"""How well each pair's value can be read *linearly* from a vector: one probe per pair.

    For every pair position j a linear map (with a bias) from the features to one score per
    value is fitted by ridge-regularised least squares onto the one-hot code of pair j's
    value, on the training examples; the probe's answer on a test example is the value with
    the largest score. ``method="logistic"`` fits the same linear maps as a softmax
    regression instead (standardised features, 100 steps of full-batch gradient descent on
    the cross-entropy, step 1): the check that a stronger linear classifier reads no more. A high accuracy says the value of pair j is still written in the
    vector in a form a linear readout can use; chance (``1 / n_values``) says it is not, *for
    a linear readout* (a nonlinear one might still find it).

    Parameters
    ----------
    train_features : array_like, shape (N, w)
        E.g. a recurrent reader's final state for N training memories.
    train_values : array_like of int, shape (N, L)
        The values of the pairs of those memories.
    test_features : array_like, shape (M, w)
    test_values : array_like of int, shape (M, L)
    n_values : int
        Size of the value vocabulary.
    ridge : float, default 1e-3
        The penalty on the squared weights (times N), which keeps the solve well posed
        (least squares only).
    method : {"least squares", "logistic"}, default "least squares"

    Returns
    -------
    ndarray, shape (L,)
        Test accuracy of the probe of pair j, for j = 0 (the oldest pair) to L - 1; all NaN
        if a feature is NaN.

    Raises
    ------
    TypeError, ValueError
        Features that are not finite real matrices of one width, values that are not whole
        numbers in ``0 .. n_values - 1`` of shape (rows of the features, L), a non-positive
        ridge, an unknown method.

    Examples
    --------
    A vector that holds pair 1's value one-hot, and nothing of pair 0's:

    >>> rng = np.random.default_rng(0)
    >>> values = rng.integers(0, 3, (200, 2))
    >>> features = np.eye(3)[values[:, 1]]                     # (200, 3)
    >>> accuracy = probe_accuracy(features[:100], values[:100], features[100:], values[100:], 3)
    >>> float(accuracy[1]), bool(accuracy[0] < 0.6)
    (1.0, True)
    >>> float(probe_accuracy(features[:100], values[:100], features[100:], values[100:], 3,
    ...                      method="logistic")[1])
    1.0
    """
    n_values = positive_int(n_values, "n_values")
    method = choice(method, ("least squares", "logistic"), "method")
    train_x, train_y, test_x, ridge = _check_probe_training(train_features, train_values, test_features, n_values,
                                                            ridge)
    test_y = as_int_array(test_values, "test_values", ndim=2, low=0, high=n_values)
    if test_y.shape != (test_x.shape[0], train_y.shape[1]):
        raise ValueError(f"test_values must be ({test_x.shape[0]}, {train_y.shape[1]}), got {test_y.shape}")
    if np.isnan(train_x).any() or np.isnan(test_x).any():  # an undefined feature: an undefined probe
        return np.full(train_y.shape[1], np.nan)
    if method == "logistic":
        scores = _logistic_probe_scores(train_x, train_y, test_x, n_values)  # (M, L, n_values)
        return (scores.argmax(axis=2) == test_y).mean(axis=0)  # (L,)
    return _probe_accuracy(train_x, train_y, test_x, test_y, n_values, ridge)


def _probe_scores(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, n_values: int,
                  ridge: float) -> np.ndarray:
    """Fit one ridge probe per pair; their scores on the test features, (M, L, n_values)."""
    n, n_pairs = train_y.shape
    design = np.hstack([train_x, np.ones((n, 1))])  # (N, w + 1): features and a bias
    targets = np.eye(n_values)[train_y].reshape(n, n_pairs * n_values)  # (N, L * n_values): one-hot per pair
    gram = design.T @ design + ridge * n * np.eye(design.shape[1])  # (w + 1, w + 1)
    weights = np.linalg.solve(gram, design.T @ targets)  # (w + 1, L * n_values)
    test_design = np.hstack([test_x, np.ones((test_x.shape[0], 1))])  # (M, w + 1)
    return (test_design @ weights).reshape(test_x.shape[0], n_pairs, n_values)  # (M, L, n_values)


def _logistic_probe_scores(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, n_values: int,
                           steps: int = 100, lr: float = 1.0) -> np.ndarray:
    """Fit one softmax-regression probe per pair by gradient descent; their scores, (M, L, n_values)."""
    mean, scale = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6  # standardise each feature
    design = np.hstack([(train_x - mean) / scale, np.ones((len(train_x), 1))])  # (N, w + 1)
    test_design = np.hstack([(test_x - mean) / scale, np.ones((len(test_x), 1))])  # (M, w + 1)
    n, n_pairs = train_y.shape
    targets = np.eye(n_values)[train_y]  # (N, L, n_values)
    weights = np.zeros((design.shape[1], n_pairs * n_values))  # (w + 1, L * n_values)
    for _ in range(steps):
        logits = (design @ weights).reshape(n, n_pairs, n_values)  # (N, L, n_values)
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)  # (N, L, n_values): softmax per pair
        weights -= lr * design.T @ (p - targets).reshape(n, -1) / n  # the cross-entropy's gradient step
    return (test_design @ weights).reshape(len(test_x), n_pairs, n_values)  # (M, L, n_values)


def _probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                    n_values: int, ridge: float) -> np.ndarray:
    """The kernel of :func:`probe_accuracy`: one least-squares solve for all pairs at once."""
    scores = _probe_scores(train_x, train_y, test_x, n_values, ridge)  # (M, L, n_values)
    return (scores.argmax(axis=2) == test_y).mean(axis=0)  # (L,)


def query_indexed_probe_accuracy(
    train_features: ArrayLike, train_values: ArrayLike, test_features: ArrayLike,
    test_data: dict[str, np.ndarray], n_values: int, *, ridge: float = 1e-3,
) -> tuple[float, np.ndarray]:
    r"""Answer each test question with the linear probe of the pair it asks for.

    The probes are those of :func:`probe_accuracy`, one per pair position, fitted on the
    training vectors; a test memory that asks for the pair at position j is answered by probe
    j applied to its vector. This is a reader of the same vector whose readout *multiplies*
    by the question (it picks a different linear map for each question), where the chapter's
    shared readout can only add a term that depends on the question.

    Parameters
    ----------
    train_features : array_like, shape (N, w)
    train_values : array_like of int, shape (N, L)
    test_features : array_like, shape (M, w)
    test_data : dict
        The M test memories, as made by :func:`attn_core.experiments.data.associative_recall`
        with ``ordered=True`` (the query names a position); ``values`` (M, L) and
        ``distance``, ``labels`` (M,) are used.
    n_values : int
    ridge : float, default 1e-3

    Returns
    -------
    accuracy : float
        Fraction of the test memories answered right.
    by_distance : ndarray, shape (L,)
        The same at distance 1, 2, ..., L (NaN where no test memory has that distance).

    Raises
    ------
    TypeError, ValueError
        As :func:`probe_accuracy`; ``test_data`` that is not recall data of L pairs for the M
        test vectors.

    Examples
    --------
    A vector that holds every pair's value one-hot is answered perfectly:

    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(300, n_pairs=3, n_keys=3, n_values=4, ordered=True, seed=0)
    >>> features = np.eye(4)[data["values"]].reshape(300, 12)   # (300, 3 pairs x 4 values)
    >>> accuracy, by_distance = query_indexed_probe_accuracy(
    ...     features[:200], data["values"][:200], features[200:],
    ...     {key: value[200:] for key, value in data.items()}, 4)
    >>> accuracy, by_distance.tolist()
    (1.0, [1.0, 1.0, 1.0])
    """
    n_values = positive_int(n_values, "n_values")
    train_x, train_y, test_x, ridge = _check_probe_training(train_features, train_values, test_features, n_values,
                                                            ridge)
    data, n_pairs = _check_data(test_data, "test_data")
    if n_pairs != train_y.shape[1] or data["values"].shape[0] != test_x.shape[0]:
        raise ValueError(f"test_data must hold {test_x.shape[0]} memories of {train_y.shape[1]} pairs "
                         f"(the test vectors and the training values), got values of shape {data['values'].shape}")
    if (data["values"] >= n_values).any():
        raise ValueError(f"test_data['values'] must lie in 0 .. {n_values - 1}")
    by_distance = np.full(n_pairs, np.nan)
    if np.isnan(train_x).any() or np.isnan(test_x).any():
        return float("nan"), by_distance
    scores = _probe_scores(train_x, train_y, test_x, n_values, ridge)  # (M, L, n_values)
    rows = np.arange(test_x.shape[0])
    answers = scores[rows, n_pairs - data["distance"]].argmax(axis=1)  # (M,): the asked-for pair's probe
    correct = answers == data["labels"]  # (M,)
    for distance in range(1, n_pairs + 1):
        if (data["distance"] == distance).any():
            by_distance[distance - 1] = correct[data["distance"] == distance].mean()
    return float(correct.mean()), by_distance
