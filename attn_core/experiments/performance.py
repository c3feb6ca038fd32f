"""What a reader of associative recall can and cannot see (chapter 14, why attention performs).

The readers of :mod:`attn_core.training.models` are compared on :func:`attn_core.experiments.data.associative_recall`.
This module holds the small pieces of maths the comparison needs:

* :func:`swap_values` builds a second memory with the same keys and the same values, paired
  differently, :func:`value_counts` counts the copies of each value in a memory, and
  :func:`accuracy_without_pairing` is the best accuracy that any reader blind to the
  pairing can expect (the pooling reader is such a reader);
* :func:`held_out` keeps only the test examples that training never showed;
* :func:`pair_weights` and :func:`value_probabilities` read one reader on some examples;
* :class:`Snapshots` keeps copies of a model during training (a ``callback`` of
  :func:`attn_core.training.loop.train`), and :func:`first_step_reaching` reads a learning curve.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from attn_core._checks import (
    as_float_array,
    as_int_array,
    nonnegative_int,
    number_in_range,
)
from attn_core.softmax import _softmax
from attn_core.training.loop import Model, _check_model, _evaluate
from attn_core.training.loop import _check_data as _check_training_data
from attn_core.training.models import AttentionReader, PoolingReader

__all__ = [
    "swap_values",
    "value_counts",
    "accuracy_without_pairing",
    "held_out",
    "pair_weights",
    "value_probabilities",
    "Snapshots",
    "first_step_reaching",
]

_FIELDS = ("keys", "values", "query", "distance", "labels")


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


def held_out(test_set: dict[str, np.ndarray], train_set: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The examples of ``test_set`` that do not occur in ``train_set``.

    Two examples are the same if they have the same keys, values and query. When the
    task has few possible examples (recall by position with a small vocabulary), some test
    examples may also have been drawn for training; this removes them.

    Raises
    ------
    TypeError, ValueError
        A set that is not associative recall data (the entry at fault is named), or two
        sets with different numbers of pairs.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> train = associative_recall(5, n_pairs=2, n_keys=2, n_values=2, ordered=True, seed=0)
    >>> test = associative_recall(20, n_pairs=2, n_keys=2, n_values=2, ordered=True, seed=1)
    >>> kept = held_out(test, train)
    >>> len(kept["labels"]) < 20, len(held_out(kept, train)["labels"]) == len(kept["labels"])
    (True, True)
    """
    test_set, n_pairs = _check_data(test_set, "test_set")
    train_set, train_pairs = _check_data(train_set, "train_set")
    if train_pairs != n_pairs:
        raise ValueError(f"test_set has {n_pairs} pairs per example, train_set {train_pairs}")

    def rows(data: dict) -> list[bytes]:
        table = np.column_stack([data["keys"], data["values"], data["query"]]).astype(np.int64)
        return [row.tobytes() for row in table]

    seen = set(rows(train_set))
    keep = np.array([row not in seen for row in rows(test_set)], dtype=bool)
    return {name: np.asarray(value)[keep] for name, value in test_set.items()}


def pair_weights(model: Model, data: dict[str, np.ndarray]) -> np.ndarray:
    """How much each example's answer draws on each pair: one row of weights per example.

    * :class:`~attn_core.training.models.AttentionReader`: the attention weights of the query over
      the pairs, computed from the query and the pairs.
    * :class:`~attn_core.training.models.PoolingReader`: ``1/L`` for every pair, whatever the query,
      because it averages the pairs before it sees the query.

    Parameters
    ----------
    model : AttentionReader or PoolingReader
    data : dict
        As made by :func:`attn_core.experiments.data.associative_recall`.

    Returns
    -------
    ndarray, shape (n_examples, n_pairs)
        Every row sums to 1.

    Raises
    ------
    TypeError
        Another model (a recurrent reader has no weights over the pairs).
    ValueError
        ``data`` the model cannot read (the entry at fault is named).

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(2, n_pairs=4, n_keys=6, n_values=3, seed=0)
    >>> pair_weights(PoolingReader(6, 3, width=4), data)
    array([[0.25, 0.25, 0.25, 0.25],
           [0.25, 0.25, 0.25, 0.25]])
    >>> pair_weights(AttentionReader(6, 3, width=4), data).sum(axis=1)
    array([1., 1.])
    """
    data, n_pairs = _check_data(data)
    if isinstance(model, AttentionReader):
        _, cache = model._forward(model.check_inputs(data, "data"))
        return cache["weights"][:, 0, :]  # (n_examples, 1, L) -> (n_examples, L)
    if isinstance(model, PoolingReader):
        return np.full((len(data["labels"]), n_pairs), 1.0 / n_pairs)  # (n_examples, L)
    raise TypeError(f"model must be an AttentionReader or a PoolingReader; {type(model).__name__} "
                    "has no weights over the pairs")


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


class Snapshots:
    """Copies of a model taken during training, each with its accuracy on a test set.

    Pass it as ``callback=`` to :func:`attn_core.training.loop.train`: it is called after each
    evaluation and keeps a copy when the step is one of ``steps`` (every evaluation if
    ``steps`` is None). Give it the untrained ``model`` to keep step 0 as well.

    Parameters
    ----------
    model : Model, optional
        Recorded at once as step 0.
    test_set : dict, optional
        Each copy's accuracy on it is stored in ``test_accuracy``.
    steps : iterable of int, optional
        The steps to keep.

    Attributes
    ----------
    models : dict of step -> Model
    test_accuracy : dict of step -> float

    Raises
    ------
    TypeError, ValueError
        A model without ``params``/``forward``/``backward``, a test set it cannot read, or
        steps that are not whole numbers >= 0.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> from attn_core.training.loop import train
    >>> data = associative_recall(64, n_pairs=3, n_keys=4, n_values=2, seed=0)
    >>> model = AttentionReader(4, 2, width=4)
    >>> snaps = Snapshots(model, test_set=data, steps=[4])
    >>> _ = train(model, data, steps=4, batch_size=16, eval_every=2, progress=False, callback=snaps)
    >>> snaps.steps
    [0, 4]
    >>> snaps.models[0] is model, sorted(snaps.test_accuracy) == snaps.steps
    (False, True)
    """

    def __init__(self, model: Model | None = None, *, test_set: dict | None = None,
                 steps: Iterable[int] | None = None):
        if model is not None:
            _check_model(model)
        if test_set is not None:
            test_set = _check_training_data(model, test_set, "test_set")
        self.test_set = test_set
        if steps is not None and (isinstance(steps, (str, bytes)) or not isinstance(steps, Iterable)):
            raise TypeError(f"steps must be a sequence of whole numbers or None, got {steps!r:.40}")
        self.wanted = None if steps is None else {nonnegative_int(s, "steps entry") for s in steps}
        self._test_set_checked = model is not None  # else checked by the first model recorded
        self.models: dict[int, Model] = {}
        self.test_accuracy: dict[int, float] = {}
        if model is not None:
            self._record(0, model)

    def __call__(self, step: int, model: Model) -> None:
        """The ``callback`` of :func:`~attn_core.training.loop.train`: keep a copy if ``step`` is wanted."""
        step = nonnegative_int(step, "step")
        _check_model(model)
        if self.wanted is None or step in self.wanted:
            self._record(step, model)

    def record(self, step: int, model: Model) -> None:
        """Keep a copy of ``model`` (and its test accuracy) as it is at ``step``.

        Raises
        ------
        TypeError, ValueError
            A step that is not a whole number >= 0, a model without the protocol.
        """
        step = nonnegative_int(step, "step")
        _check_model(model)
        if self.test_set is not None:
            self.test_set = _check_training_data(model, self.test_set, "test_set")
        self._record(step, model)

    def _record(self, step: int, model: Model) -> None:
        if self.test_set is not None and not self._test_set_checked:
            self.test_set = _check_training_data(model, self.test_set, "test_set")
            self._test_set_checked = True
        self.models[int(step)] = copy.deepcopy(model)
        if self.test_set is not None:
            self.test_accuracy[int(step)] = _evaluate(model, self.test_set)[1]

    @property
    def steps(self) -> list[int]:
        """The recorded steps, in order."""
        return sorted(self.models)

    def __repr__(self) -> str:
        return f"Snapshots(steps={self.steps})"


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


# -------------------------------------------------------- names of the pairs, for printing and pictures
from collections.abc import Mapping  # noqa: E402

__all__ += ["KEY_NAMES", "pair_labels"]

#: Names of the keys of recall by content: the letters A, B, C, ...
KEY_NAMES = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def pair_labels(example: Mapping[str, np.ndarray], key_names: Sequence[str] = KEY_NAMES) -> list[str]:
    """Labels such as ``"C→2"`` for the pairs of one example (key name, arrow, value).

    Parameters
    ----------
    example : dict of arrays
        A data set of one example, as :func:`attn_core.experiments.data.associative_recall` makes.
    key_names : sequence of str or int, default :data:`KEY_NAMES`
        The name of each key id (e.g. ``range(n_pairs)`` for keys that are positions).

    Returns
    -------
    list of str
        One ``"name→value"`` per pair.

    Raises
    ------
    TypeError
        ``example`` is not a dict of whole-number arrays; ``key_names`` is not a sequence of
        str or int.
    ValueError
        ``example`` misses a field or holds more than one example; ``key_names`` has no
        name for one of the keys.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> example = associative_recall(1, n_pairs=2, n_keys=4, n_values=4, seed=0)
    >>> example["keys"].tolist(), example["values"].tolist()
    ([[3, 2]], [[0, 3]])
    >>> pair_labels(example)
    ['D→0', 'C→3']
    """
    example, _ = _check_data(example, "example")
    keys, values = example["keys"], example["values"]
    if keys.shape[0] != 1:
        raise ValueError(f"example must hold one example (keys of shape (1, n_pairs)), got {keys.shape}")
    if isinstance(key_names, (str, bytes)) or not isinstance(key_names, Sequence):
        raise TypeError(f"key_names must be a sequence of names (str or int), got {key_names!r:.40}")
    if not all(isinstance(name, (str, numbers.Integral)) and not isinstance(name, (bool, np.bool_))
               for name in key_names):
        raise TypeError(f"key_names must hold names (str or int), got {list(key_names)!r:.60}")
    if len(key_names) <= keys.max():
        raise ValueError(f"key_names has {len(key_names)} names, but example has key id {keys.max()}")
    return [f"{key_names[k]}→{v}" for k, v in zip(keys[0], values[0])]
