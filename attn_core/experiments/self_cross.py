"""Encoder–decoder alignment on toy reordering tasks: a cross-attention aligner trained in numpy.

A source sequence of symbols is rewritten as a target sequence: copied, reversed, with
neighbouring pairs swapped, or sorted. Target position ``t`` of example ``b`` copies source
position ``alignment[b, t]``, so the right alignment is known exactly and can be compared with
what cross-attention learns (Bahdanau et al., 2015; Luong et al., 2015). For the first three
tasks the alignment is the same for every input, so attention by position alone can solve
them; sorting, a task of pointer networks (Vinyals et al., 2015), has an alignment that depends
on the symbols, which only attention by content can find.

The model, :class:`attn_core.training.models.CrossAttentionAligner`, is the smallest
encoder–decoder that aligns. It is trained by the one training loop,
:func:`attn_core.training.loop.train`, on the target symbols only (cross-entropy); nobody
tells it the alignment. :class:`AlignmentRun` is the loop's ``callback`` that measures the
alignment as training goes, and :func:`train_aligner` sets up the data, the model and the
run of one task.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from attn_core._checks import (
    as_float_array,
    as_int_array,
    choice,
    flag,
    nonnegative_int,
    positive_int,
)
from attn_core.training.loop import train
from attn_core.training.losses import _accuracy, _cross_entropy
from attn_core.training.models import CrossAttentionAligner

__all__ = [
    "TASKS",
    "FIXED_TASKS",
    "SYMBOLS",
    "task_alignment",
    "reordering_data",
    "training_examples",
    "alignment_accuracy",
    "AlignmentRun",
    "train_aligner",
]

#: The reordering tasks, by name: three fixed permutations, and sorting, whose permutation
#: depends on the input.
TASKS = ("copy", "reverse", "swap pairs", "sort")
#: The tasks whose alignment is the same for every input.
FIXED_TASKS = ("copy", "reverse", "swap pairs")
#: Names of the symbols, used to label maps: symbol ``i`` is ``SYMBOLS[i]``.
SYMBOLS = tuple("abcdefghijklmnopqrstuvwxyz")


def task_alignment(task: str, length: int) -> np.ndarray:
    """Which source position each target position copies: target ``t`` = source ``alignment[t]``.

    Parameters
    ----------
    task : {"copy", "reverse", "swap pairs"}
        ``"swap pairs"`` exchanges positions 0 and 1, 2 and 3, ...; with an odd length the
        last symbol stays where it is. (``"sort"`` has no alignment without its input: see
        :func:`reordering_data`.)
    length : int
        Sequence length ``L``.

    Returns
    -------
    ndarray of int, shape (L,)
        A permutation of ``0 .. L-1``.

    Raises
    ------
    TypeError
        ``task`` not a string, ``length`` not a whole number.
    ValueError
        An unknown task, ``length`` < 1.

    Examples
    --------
    >>> task_alignment("reverse", 4)
    array([3, 2, 1, 0])
    >>> task_alignment("swap pairs", 5)
    array([1, 0, 3, 2, 4])
    """
    if not isinstance(task, str):
        raise TypeError(f"task must be one of {', '.join(map(repr, FIXED_TASKS))}; got {task!r:.40}")
    if task == "sort":
        raise ValueError("the alignment of 'sort' depends on the symbols: reordering_data gives it per example")
    task = choice(task, FIXED_TASKS, "task")
    length = positive_int(length, "length")
    return _task_alignment(task, length)


def _task_alignment(task: str, length: int) -> np.ndarray:
    """The kernel of :func:`task_alignment`, without checks."""
    positions = np.arange(length)
    if task == "copy":
        return positions
    if task == "reverse":
        return positions[::-1].copy()
    if task == "swap pairs":
        swapped = positions ^ 1  # 0<->1, 2<->3, ...
        return np.where(swapped < length, swapped, positions)
    raise AssertionError(task)  # unreachable: checked at the door


def reordering_data(n_examples: int, *, task: str, length: int = 6, n_symbols: int = 10,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Examples of a reordering task: distinct random symbols in, the same symbols reordered out.

    Parameters
    ----------
    n_examples : int
    task : {"copy", "reverse", "swap pairs", "sort"}
    length : int, default 6
        ``L``, the length of source and target.
    n_symbols : int, default 10
        Size of the vocabulary; the symbols of one source are distinct, so
        ``n_symbols >= length``.
    seed : int, default 0

    Returns
    -------
    dict with
        ``source`` (N, L) int; ``target`` (N, L) int, ``source[:, alignment]``;
        ``decoder_input`` (N, L) int, the target shifted right by one with the start
        symbol ``n_symbols`` in front (what the decoder has produced before each step);
        ``alignment`` (N, L) int, the source position each target position copies.

    Raises
    ------
    TypeError, ValueError
        An unknown task, sizes that are not whole numbers >= 1, ``n_symbols < length``.

    Examples
    --------
    >>> d = reordering_data(2, task="reverse", length=4, n_symbols=6, seed=1)
    >>> bool((d["target"] == d["source"][:, ::-1]).all())
    True
    >>> d["decoder_input"][0, 0], bool((d["decoder_input"][:, 1:] == d["target"][:, :-1]).all())
    (np.int64(6), True)
    >>> s = reordering_data(1, task="sort", length=4, n_symbols=6, seed=1)
    >>> bool((np.diff(s["target"]) > 0).all()), bool((s["source"][0, s["alignment"][0]] == s["target"][0]).all())
    (True, True)
    """
    n_examples, length = positive_int(n_examples, "n_examples"), positive_int(length, "length")
    n_symbols, seed = positive_int(n_symbols, "n_symbols"), nonnegative_int(seed, "seed")
    if n_symbols < length:
        raise ValueError(f"n_symbols={n_symbols} must be >= length={length} (symbols of a source are distinct)")
    if not isinstance(task, str):
        raise TypeError(f"task must be one of {', '.join(map(repr, TASKS))}; got {task!r:.40}")
    choice(task, TASKS, "task")
    rng = np.random.default_rng(seed)
    source = np.argsort(rng.random((n_examples, n_symbols)), axis=1)[:, :length]  # (N, L), distinct per row
    if task == "sort":
        alignment = np.argsort(source, axis=1)  # (N, L): where the t-th smallest symbol stands
    else:
        alignment = np.broadcast_to(_task_alignment(task, length), source.shape).copy()  # (N, L)
    target = np.take_along_axis(source, alignment, axis=1)  # (N, L): target t = source alignment[t]
    start = np.full((n_examples, 1), n_symbols)
    decoder_input = np.concatenate([start, target[:, :-1]], axis=1)  # (N, L)
    return {"source": source, "target": target, "decoder_input": decoder_input, "alignment": alignment}


def alignment_accuracy(weights: np.ndarray, alignment: np.ndarray) -> float:
    """Fraction of target positions whose largest weight is on the source position they copy.

    Parameters
    ----------
    weights : array_like, shape (..., L_t, L_s)
        Cross-attention weights, one row per target position.
    alignment : array_like of int, shape (L_t,) or (..., L_t)
        One source position per row of ``weights``: the same for every example, or one row
        per example.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        Weights that are not real numbers or have fewer than 2 dimensions; an alignment that
        is not whole numbers, one per row, each a column of ``weights``.

    Examples
    --------
    >>> w = np.array([[0.1, 0.9], [0.6, 0.4]])
    >>> alignment_accuracy(w, [1, 0]), alignment_accuracy(w, [1, 1])
    (1.0, 0.5)
    """
    weights = as_float_array(weights, "weights", min_ndim=2, nonempty=True, finite=True)
    alignment = as_int_array(alignment, "alignment")
    try:
        ok = alignment.ndim >= 1 and np.broadcast_shapes(alignment.shape, weights.shape[:-1]) == weights.shape[:-1]
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"alignment must have one entry per row of weights: weights {weights.shape}, "
                         f"alignment {alignment.shape}")
    alignment = as_int_array(alignment, "alignment", low=0, high=weights.shape[-1])
    return _alignment_accuracy(weights, alignment)


def _alignment_accuracy(weights: np.ndarray, alignment: np.ndarray) -> float:
    """The kernel of :func:`alignment_accuracy`, without checks."""
    return float((np.argmax(weights, axis=-1) == alignment).mean())


def training_examples(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of :func:`reordering_data` that :func:`attn_core.training.loop.train` reads.

    ``source`` and ``decoder_input`` are the inputs, ``target`` becomes ``labels``; the
    ``alignment`` is left out, since the model is never told it (``data`` must still hold
    it: it is checked to be :func:`reordering_data`'s).

    Raises
    ------
    TypeError, ValueError
        ``data`` not a dict with ``source``, ``decoder_input``, ``target`` and ``alignment``.

    Examples
    --------
    >>> sorted(training_examples(reordering_data(2, task="copy", length=3, n_symbols=4)))
    ['decoder_input', 'labels', 'source']
    """
    if not isinstance(data, dict):
        raise TypeError(f"data must be a dict as made by reordering_data, got {type(data).__name__}")
    for key in ("source", "decoder_input", "target", "alignment"):
        if key not in data:
            raise ValueError(f"data has no {key!r} (make it with reordering_data)")
    return {"source": data["source"], "decoder_input": data["decoder_input"], "labels": data["target"]}


@dataclass
class AlignmentRun:
    """A training run of a :class:`~attn_core.training.models.CrossAttentionAligner`, with snapshots.

    Pass it as ``callback=`` to :func:`attn_core.training.loop.train`: after an evaluation at
    one of the steps ``record_at`` (every evaluation if ``record_at`` is None) it measures the
    model. ``snapshots[i]`` holds the cross-attention maps of the ``probe`` examples after
    ``steps[i]`` training steps; ``alignment_accuracy[i]``, ``token_accuracy[i]`` and
    ``test_loss[i]`` are measured on the held-out ``test`` set at the same moment, with
    teacher forcing (the decoder is given the correct previous symbols).

    Parameters
    ----------
    task : str
    model : CrossAttentionAligner
    test, probe : dict
        As made by :func:`reordering_data` for the model's length and symbols.
    record_at : iterable of int, optional
        The steps to record.

    Raises
    ------
    TypeError, ValueError
        A model that is not an aligner, or test/probe sets it cannot read.

    Examples
    --------
    >>> model = CrossAttentionAligner(4, 6, width=8)
    >>> make = lambda n, seed: reordering_data(n, task="copy", length=4, n_symbols=6, seed=seed)
    >>> run = AlignmentRun("copy", model, make(20, 2), make(2, 3), record_at=(0, 10))
    >>> run.record(0)
    >>> _ = train(model, training_examples(make(64, 1)), steps=10, batch_size=16, eval_every=5,
    ...           progress=False, callback=run)
    >>> run.steps, run.snapshots[-1].shape
    ([0, 10], (2, 4, 4))
    """

    task: str
    model: CrossAttentionAligner
    test: dict[str, np.ndarray]
    probe: dict[str, np.ndarray]
    record_at: Iterable[int] | None = None
    steps: list[int] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    alignment_accuracy: list[float] = field(default_factory=list)
    token_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.model, CrossAttentionAligner):
            raise TypeError(f"model must be a CrossAttentionAligner, got {type(self.model).__name__}")
        self._test = self.model.check_inputs(training_examples(self.test), "test")
        self._probe = self.model.check_inputs(training_examples(self.probe), "probe")
        if "alignment" not in self.test:
            raise ValueError("test has no 'alignment' (make it with reordering_data)")
        self._alignment = as_int_array(self.test["alignment"], "test['alignment']", ndim=2,
                                       low=0, high=self.model.length)
        if self._alignment.shape != self._test["source"].shape:
            raise ValueError(f"test['alignment'] {self._alignment.shape} must match test['source'] "
                             f"{self._test['source'].shape}")
        if self.record_at is not None:
            self.record_at = {nonnegative_int(step, "record_at entry") for step in self.record_at}

    def __call__(self, step: int, model: CrossAttentionAligner) -> None:
        """The ``callback`` of :func:`~attn_core.training.loop.train`: record if ``step`` is wanted."""
        if self.record_at is None or step in self.record_at:
            self.record(step)

    def record(self, step: int) -> None:
        """Measure the model now and append the measurements."""
        step = nonnegative_int(step, "step")
        logits, cache = self.model._forward(self._test)  # (N * L, symbols), weights (N, L, L)
        labels = self._test["labels"].reshape(-1)  # (N * L,)
        self.steps.append(step)
        self.test_loss.append(_cross_entropy(logits, labels)[0])
        self.alignment_accuracy.append(_alignment_accuracy(cache["weights"], self._alignment))
        self.token_accuracy.append(_accuracy(logits, labels))
        self.snapshots.append(self.model._forward(self._probe)[1]["weights"].copy())


def train_aligner(
    task: str,
    *,
    steps: int = 150,
    record_at: Iterable[int] = (0, 10, 20, 30, 40, 60, 150),
    length: int = 6,
    n_symbols: int = 10,
    width: int = 16,
    source_positions: bool = True,
    scores: str = "content",
    n_train: int = 2000,
    n_test: int = 500,
    batch_size: int = 32,
    lr: float = 0.005,
    seed: int = 0,
    progress: bool = False,
) -> AlignmentRun:
    """Train a :class:`~attn_core.training.models.CrossAttentionAligner` on one task.

    A thin wrapper of :func:`attn_core.training.loop.train` (Adam, cross-entropy of the
    target symbols given the correct previous ones, i.e. teacher forcing), with an
    :class:`AlignmentRun` as its callback. Training, test and probe sets come from
    :func:`reordering_data` with seeds ``seed + 1``, ``seed + 2`` and ``seed + 3``; the
    model's weights and the order of the mini-batches from ``seed``.

    Parameters
    ----------
    task : {"copy", "reverse", "swap pairs", "sort"}
    steps : int, default 150
        Number of Adam steps.
    record_at : iterable of int
        Steps after which the model is measured and its probe maps saved (0 = untrained);
        steps beyond ``steps`` are ignored.
    length, n_symbols, width, source_positions, scores
        As in :class:`~attn_core.training.models.CrossAttentionAligner` and :func:`reordering_data`.
    n_train, n_test : int
        Sizes of the training and test sets; the probe set holds 4 examples.
    batch_size : int, default 32
    lr : float, default 0.005
    seed : int, default 0
    progress : bool, default False
        Print one line per recorded step (:func:`~attn_core.training.loop.train` evaluates
        at those steps and at the last).

    Returns
    -------
    AlignmentRun

    Raises
    ------
    TypeError, ValueError
        Any setting :func:`reordering_data`, the model or :func:`~attn_core.training.loop.train` refuses.

    Examples
    --------
    >>> run = train_aligner("reverse", steps=20, record_at=(0, 20), length=4, n_symbols=6)
    >>> run.steps, run.snapshots[-1].shape
    ([0, 20], (4, 4, 4))
    """
    if not isinstance(task, str):
        raise TypeError(f"task must be one of {', '.join(map(repr, TASKS))}; got {task!r:.40}")
    choice(task, TASKS, "task")  # before any work
    steps, seed = positive_int(steps, "steps"), nonnegative_int(seed, "seed")
    if isinstance(record_at, (str, bytes)) or not isinstance(record_at, Iterable):
        raise TypeError(f"record_at must be a sequence of steps, got {record_at!r:.40}")
    wanted = sorted({nonnegative_int(s, "record_at entry") for s in record_at})
    progress = flag(progress, "progress")
    n_train, n_test = positive_int(n_train, "n_train"), positive_int(n_test, "n_test")
    settings = {"task": task, "length": length, "n_symbols": n_symbols}
    train_data = reordering_data(n_train, seed=seed + 1, **settings)
    model = CrossAttentionAligner(length, n_symbols, width=width, source_positions=source_positions,
                                  scores=scores, seed=seed)
    run = AlignmentRun(task=task, model=model, test=reordering_data(n_test, seed=seed + 2, **settings),
                       probe=reordering_data(4, seed=seed + 3, **settings), record_at=wanted)
    if 0 in wanted:
        run.record(0)
    # the run measures the test set itself, at the recorded steps: train() evaluates only the training set
    train(model, training_examples(train_data), steps=steps, batch_size=batch_size, lr=lr, seed=seed,
          eval_at=[s for s in wanted if s >= 1], progress=progress, callback=run)
    return run
