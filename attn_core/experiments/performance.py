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
from collections.abc import Iterable, Sequence

import numpy as np

from attn_core._checks import as_float_array
from attn_core.softmax import softmax
from attn_core.training.loop import Model, evaluate
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


def _check_data(data: dict, name: str = "data") -> int:
    """Check that ``data`` looks like associative_recall's output; return the number of pairs."""
    if not isinstance(data, dict) or any(f not in data for f in _FIELDS):
        raise TypeError(f"{name} must be a dict with {', '.join(_FIELDS)} "
                        "(as made by attn_core.experiments.data.associative_recall)")
    keys, values = np.asarray(data["keys"]), np.asarray(data["values"])
    if keys.ndim != 2 or keys.shape != values.shape:
        raise ValueError(f"{name}: keys and values must both be (n_examples, n_pairs), "
                         f"got {keys.shape} and {values.shape}")
    return keys.shape[1]


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
    ValueError
        A position out of range.

    Examples
    --------
    >>> d = {"keys": np.array([[4, 7, 1]]), "values": np.array([[0, 2, 3]]),
    ...      "query": np.array([7]), "distance": np.array([2]), "labels": np.array([2])}
    >>> s = swap_values(d, 0, 1)
    >>> s["values"].tolist(), s["labels"].tolist(), d["labels"].tolist()
    ([[2, 0, 3]], [0], [2])
    """
    n_pairs = _check_data(data)
    positions = []
    for name, position in (("first", first), ("second", second)):
        if not -n_pairs <= int(position) < n_pairs:
            raise ValueError(f"{name}={position} is out of range for {n_pairs} pairs")
        positions.append(int(position) % n_pairs)
    out = {name: np.array(value, copy=True) for name, value in data.items()}
    a, b = positions
    out["values"][:, [a, b]] = out["values"][:, [b, a]]  # (n_examples, n_pairs)
    rows = np.arange(len(out["labels"]))
    out["labels"] = out["values"][rows, n_pairs - out["distance"]]  # the queried pair's value
    return out


def value_counts(data: dict[str, np.ndarray]) -> np.ndarray:
    """For every pair, how many pairs of its memory carry the same value (itself included).

    Returns
    -------
    ndarray of int, shape (n_examples, n_pairs)

    Examples
    --------
    >>> d = {"keys": np.array([[0, 1, 2, 3]]), "values": np.array([[5, 1, 5, 5]]),
    ...      "query": np.array([0]), "distance": np.array([4]), "labels": np.array([5])}
    >>> value_counts(d)
    array([[3, 1, 3, 3]])
    """
    _check_data(data)
    values = np.asarray(data["values"])  # (n_examples, n_pairs)
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

    Examples
    --------
    >>> d = {"keys": np.array([[0, 1, 2], [0, 1, 2]]), "values": np.array([[5, 5, 1], [0, 1, 2]]),
    ...      "query": np.array([0, 0]), "distance": np.array([3, 3]), "labels": np.array([5, 0])}
    >>> round(accuracy_without_pairing(d), 4)      # (2/3 + 1/3) / 2
    0.5
    """
    n_pairs = _check_data(data)
    return float((value_counts(data).max(axis=1) / n_pairs).mean())


def held_out(test_set: dict[str, np.ndarray], train_set: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The examples of ``test_set`` that do not occur in ``train_set``.

    Two examples are the same if they have the same keys, values and query. When the
    task has few possible examples (recall by position with a small vocabulary), some test
    examples may also have been drawn for training; this removes them.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> train = associative_recall(5, n_pairs=2, n_keys=2, n_values=2, ordered=True, seed=0)
    >>> test = associative_recall(20, n_pairs=2, n_keys=2, n_values=2, ordered=True, seed=1)
    >>> kept = held_out(test, train)
    >>> len(kept["labels"]) < 20, len(held_out(kept, train)["labels"]) == len(kept["labels"])
    (True, True)
    """
    _check_data(test_set, "test_set")
    _check_data(train_set, "train_set")

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
    n_pairs = _check_data(data)
    if isinstance(model, AttentionReader):
        _, cache = model.forward(data)
        return cache["weights"][:, 0, :]  # (n_examples, 1, L) -> (n_examples, L)
    if isinstance(model, PoolingReader):
        return np.full((len(data["labels"]), n_pairs), 1.0 / n_pairs)  # (n_examples, L)
    raise TypeError(f"{type(model).__name__} has no weights over the pairs; "
                    "pass an AttentionReader or a PoolingReader")


def value_probabilities(model: Model, data: dict[str, np.ndarray]) -> np.ndarray:
    """The probability a reader gives each possible value: the softmax of its logits.

    Returns
    -------
    ndarray, shape (n_examples, n_values)

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(3, n_pairs=4, n_keys=6, n_values=5, seed=0)
    >>> p = value_probabilities(AttentionReader(6, 5, width=4), data)
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
    ((3, 5), True)
    """
    _check_data(data)
    logits, _ = model.forward(data)  # (n_examples, n_values)
    return softmax(logits, axis=-1)


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
        self.test_set = test_set
        self.wanted = None if steps is None else {int(s) for s in steps}
        self.models: dict[int, Model] = {}
        self.test_accuracy: dict[int, float] = {}
        if model is not None:
            self.record(0, model)

    def __call__(self, step: int, model: Model) -> None:
        if self.wanted is None or step in self.wanted:
            self.record(step, model)

    def record(self, step: int, model: Model) -> None:
        """Keep a copy of ``model`` (and its test accuracy) as it is at ``step``."""
        self.models[int(step)] = copy.deepcopy(model)
        if self.test_set is not None:
            self.test_accuracy[int(step)] = evaluate(model, self.test_set)[1]

    @property
    def steps(self) -> list[int]:
        """The recorded steps, in order."""
        return sorted(self.models)

    def __repr__(self) -> str:
        return f"Snapshots(steps={self.steps})"


def first_step_reaching(steps: Sequence[int], accuracies: Sequence[float], level: float) -> int | None:
    """The first step at which an accuracy curve reaches ``level``; None if it never does.

    Examples
    --------
    >>> first_step_reaching([10, 20, 30], [0.4, 0.92, 0.99], 0.9)
    20
    >>> first_step_reaching([10, 20, 30], [0.4, 0.5, 0.5], 0.9) is None
    True
    """
    acc = as_float_array(accuracies, "accuracies", min_ndim=1)
    if len(steps) != acc.shape[0]:
        raise ValueError(f"steps has {len(steps)} entries, accuracies {acc.shape[0]}")
    for step, value in zip(steps, acc):
        if value >= level:
            return int(step)
    return None
