"""One training loop: cross-entropy, Adam, mini-batches, an evaluation and a progress line.

The mini-batches come from a fixed training set or, for a task whose examples can be drawn
without end, from a sampler called afresh at every step; gradients may be clipped by their
global norm before each step.

Every model in the book keeps its parameters in a dict of arrays and has ``forward`` and
``backward`` methods written by hand; nothing here knows what the model is.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from attn_core._checks import flag, nonnegative_int, positive_int, positive_number
from attn_core.training.adam import Adam, _clip_by_global_norm
from attn_core.training.losses import _accuracy, _cross_entropy, accuracy, cross_entropy

__all__ = ["Model", "History", "train", "evaluate"]


class Model(Protocol):
    """What :func:`train` needs of a model.

    ``forward(inputs)`` returns the logits, shape ``(..., C)``, with as many rows in all as
    ``inputs["labels"]`` has entries, and a cache; ``backward(cache, grad_logits)`` returns one
    gradient per entry of ``params``. The models of :mod:`attn_core.training.models` also have
    ``check_inputs(inputs, name)``, which :func:`train` calls once on each whole data set before
    it runs their unchecked kernels ``_forward`` and ``_backward`` batch after batch.
    """

    params: dict[str, np.ndarray]

    def forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, object]: ...

    def backward(self, cache: object, grad_logits: np.ndarray) -> dict[str, np.ndarray]: ...


@dataclass
class History:
    """What happened during training, one entry per evaluation.

    ``seconds_at[i]`` is the wall-clock time elapsed since training began when evaluation
    ``i`` started (the time of the earlier evaluations included); ``seconds`` is the total.
    With a sampler, ``train_loss`` and ``train_accuracy`` are measured on the fixed monitor
    batch (see :func:`train`).
    """

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seconds_at: list[float] = field(default_factory=list)


def _check_model(model: Any) -> None:
    params = getattr(model, "params", None)
    if not isinstance(params, dict) or not params:
        raise TypeError(f"model must have a non-empty dict of parameters in model.params, "
                        f"got {type(model).__name__}")
    for method in ("forward", "backward"):
        if not callable(getattr(model, method, None)):
            raise TypeError(f"model must have a {method}() method, got {type(model).__name__}")


def _check_data(model: Any, data: Any, name: str) -> dict[str, np.ndarray]:
    """Check a whole data set once: a dict of arrays with one row per example, and labels."""
    if not isinstance(data, dict):
        raise TypeError(f"{name} must be a dict of name -> array (with 'labels'), got {type(data).__name__}")
    if "labels" not in data:
        raise ValueError(f"{name} has no 'labels' (its keys: {', '.join(map(repr, data))})")
    if hasattr(model, "check_inputs"):
        data = model.check_inputs(data, name)
    arrays = {key: np.asarray(value) for key, value in data.items()}
    n = arrays["labels"].shape[0] if arrays["labels"].ndim else 0
    if n == 0:
        raise ValueError(f"{name}['labels'] must hold one entry per example; got shape {arrays['labels'].shape}")
    for key, value in arrays.items():
        if value.ndim == 0 or value.shape[0] != n:
            raise ValueError(f"every array of {name} must have one row per example ({n}, as labels); "
                             f"{name}[{key!r}] has shape {value.shape}")
    return arrays


def _kernels(model: Any) -> tuple[Callable, Callable, Callable, Callable]:
    """forward, backward, loss and accuracy: unchecked when the model checks its data at the door."""
    if hasattr(model, "check_inputs") and hasattr(model, "_forward") and hasattr(model, "_backward"):
        return model._forward, model._backward, _cross_entropy, _accuracy
    return model.forward, model.backward, cross_entropy, accuracy


def _loss_and_grad(loss_fn: Callable, logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    flat = np.asarray(logits).reshape(-1, np.shape(logits)[-1])  # (rows, C)
    if flat.shape[0] != labels.size:
        raise ValueError(f"the model made {flat.shape[0]} rows of logits for {labels.size} labels")
    loss, grad = loss_fn(flat, labels.reshape(-1))
    return loss, grad.reshape(np.shape(logits))


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterable[np.ndarray]:
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def _check_sampler(sampler: Callable) -> None:
    """A sampler must accept two positional arguments, ``(batch_size, rng)``."""
    try:
        inspect.signature(sampler).bind(1, None)
    except TypeError:
        raise TypeError(f"train_set, a function, must take two arguments sample(batch_size, rng); "
                        f"{sampler!r:.60} does not") from None
    except ValueError:  # a builtin without a signature: trust it
        pass


def _sample(model: Any, sampler: Callable, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``size`` fresh examples from the sampler, checked like a data set (they come from outside)."""
    name = f"train_set({size}, rng)"
    data = _check_data(model, sampler(size, rng), name)
    if len(data["labels"]) != size:
        raise ValueError(f"{name} must return {size} examples; it returned {len(data['labels'])}")
    return data


def train(
    model: Model,
    train_set: dict[str, np.ndarray] | Callable[[int, np.random.Generator], dict[str, np.ndarray]],
    test_set: dict[str, np.ndarray] | None = None,
    *,
    steps: int = 1000,
    batch_size: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    eval_every: int = 100,
    eval_at: Iterable[int] | None = None,
    progress: bool = True,
    callback: Callable[[int, Model], None] | None = None,
    clip_norm: float | None = None,
    monitor_size: int = 1024,
) -> History:
    """Minimise cross-entropy with Adam on mini-batches; report progress as it goes.

    With a fixed training set (a dict), each pass visits the examples in a new random order,
    in mini-batches of ``batch_size`` (a last, incomplete batch is skipped). With a sampler
    (a function), every step trains on ``batch_size`` examples drawn afresh, so no example is
    seen twice and the model cannot memorise its training set; the "train" loss and accuracy
    are then measured on one fixed *monitor batch* of ``monitor_size`` examples, drawn once
    from the sampler before the first step, with a generator of its own.

    Parameters
    ----------
    model : Model
        Has ``params``, ``forward(inputs) -> (logits, cache)`` and
        ``backward(cache, grad_logits) -> grads``.
    train_set : dict of name -> ndarray, or callable
        Inputs by name plus ``"labels"``; the first axis of every array indexes examples.
        ``labels`` may have more axes (one label per position): the logits then have one row
        per label, and the loss is the mean over all of them. Or a sampler,
        ``sample(batch_size, rng) -> dict``, returning ``batch_size`` fresh labelled examples
        drawn with the numpy Generator ``rng`` (which derives from ``seed``); each batch it
        returns is checked like a data set.
    test_set : dict of name -> ndarray, optional
        As a fixed ``train_set``.
    steps : int, default 1000
        Number of Adam steps.
    batch_size : int, default 64
        Examples per step, at most the size of ``train_set``.
    lr : float, default 1e-2
        Adam's step size.
    seed : int, default 0
        Orders the mini-batches; with a sampler, seeds the generators of the training
        batches and of the monitor batch (two independent streams), so a run is reproducible.
    eval_every : int, default 100
        Steps between evaluations (recorded in the history, and printed); the last step is
        always evaluated.
    eval_at : iterable of int, optional
        The steps after which to evaluate, instead of every ``eval_every`` steps (the last
        step still is); steps beyond ``steps`` are ignored.
    progress : bool, default True
        Print one line per evaluation: the progress indicator.
    callback : callable, optional
        ``callback(step, model)`` after each evaluation (e.g. to keep snapshots of the
        attention weights as training goes).
    clip_norm : float, optional
        Before each Adam step, scale the gradients of all parameters together so that their
        global L2 norm is at most ``clip_norm`` (:func:`~attn_core.training.adam.clip_by_global_norm`;
        Pascanu, Mikolov & Bengio, 2013). Default: no clipping.
    monitor_size : int, default 1024
        Examples in the monitor batch, when ``train_set`` is a sampler (ignored otherwise).

    Returns
    -------
    History

    Raises
    ------
    TypeError
        A model without ``params``/``forward``/``backward``, a ``train_set`` neither a dict nor
        a function, data sets (or sampled batches) that are not dicts of arrays, settings of the
        wrong type, a callback that is not callable.
    ValueError
        Data sets without ``labels``, arrays with different numbers of examples, inputs the
        model refuses (named by the model), a ``batch_size`` larger than the training set, a
        sampler that returns another number of examples than asked, settings out of range.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> from attn_core.training.models import AttentionReader
    >>> data = associative_recall(256, n_pairs=3, n_keys=4, n_values=2, seed=0)
    >>> history = train(AttentionReader(4, 2, width=8), data, steps=60, batch_size=32, eval_every=30)
    [#####     ] step   30/60 loss 0.604 train 0.648
    [##########] step   60/60 loss 0.322 train 0.875

    Fresh examples at every step, gradients clipped; "train" is the monitor batch:

    >>> def sample(n, rng):
    ...     return associative_recall(n, n_pairs=3, n_keys=4, n_values=2, seed=int(rng.integers(2**31)))
    >>> history = train(AttentionReader(4, 2, width=8), sample, steps=60, batch_size=32, eval_every=30,
    ...                 clip_norm=1.0, monitor_size=256, progress=False)
    >>> history.steps, len(history.seconds_at)
    ([30, 60], 2)
    """
    _check_model(model)
    steps, batch_size = positive_int(steps, "steps"), positive_int(batch_size, "batch_size")
    eval_every = positive_int(eval_every, "eval_every")
    if eval_at is not None:
        if isinstance(eval_at, (str, bytes)) or not isinstance(eval_at, Iterable):
            raise TypeError(f"eval_at must be a sequence of steps or None, got {eval_at!r:.40}")
        eval_at = {positive_int(s, "eval_at entry") for s in eval_at}
    lr = positive_number(lr, "lr")
    seed = nonnegative_int(seed, "seed")
    progress = flag(progress, "progress")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(step, model) or None, got {callback!r:.40}")
    clip_norm = positive_number(clip_norm, "clip_norm", allow_none=True)
    monitor_size = positive_int(monitor_size, "monitor_size")
    sampler = train_set if callable(train_set) and not isinstance(train_set, dict) else None
    if sampler is None and not isinstance(train_set, dict):
        raise TypeError(f"train_set must be a dict of name -> array (with 'labels') or a function "
                        f"sample(batch_size, rng) -> dict, got {type(train_set).__name__}")
    if sampler is None:
        train_set = _check_data(model, train_set, "train_set")
    else:
        _check_sampler(sampler)
    if test_set is not None:
        test_set = _check_data(model, test_set, "test_set")
    if sampler is None:
        n = len(train_set["labels"])
        if batch_size > n:
            raise ValueError(f"batch_size={batch_size} is larger than the training set ({n} examples)")
        batches = _batches(n, batch_size, np.random.default_rng(seed))
        monitor = train_set
    else:
        batch_rng, monitor_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
        monitor = _sample(model, sampler, monitor_size, monitor_rng)
    forward, backward, loss_fn, _ = _kernels(model)
    optimiser = Adam(model.params, lr=lr)
    history = History()
    start = time.perf_counter()
    for step in range(1, steps + 1):
        if sampler is None:
            idx = next(batches)
            batch = {name: value[idx] for name, value in train_set.items()}
        else:
            batch = _sample(model, sampler, batch_size, batch_rng)
        logits, cache = forward(batch)
        _, grad = _loss_and_grad(loss_fn, logits, batch["labels"])
        grads = backward(cache, grad)
        if clip_norm is not None:
            grads, _ = _clip_by_global_norm(grads, clip_norm)
        optimiser._step(grads)
        due = step % eval_every == 0 if eval_at is None else step in eval_at
        if due or step == steps:
            history.seconds_at.append(time.perf_counter() - start)
            loss, acc = _evaluate(model, monitor)
            history.steps.append(step)
            history.train_loss.append(loss)
            history.train_accuracy.append(acc)
            test_acc = _evaluate(model, test_set)[1] if test_set is not None else float("nan")
            history.test_accuracy.append(test_acc)
            if callback is not None:
                callback(step, model)
            if progress:
                bar = "#" * round(10 * step / steps)
                print(f"[{bar:<10}] step {step:>4}/{steps} loss {loss:.3f} "
                      f"train {acc:.3f}" + (f" test {test_acc:.3f}" if test_set is not None else ""))
    history.seconds = time.perf_counter() - start
    return history


def _evaluate(model: Model, data: dict[str, np.ndarray]) -> tuple[float, float]:
    """The kernel of :func:`evaluate`, for data already checked."""
    forward, _, loss_fn, accuracy_fn = _kernels(model)
    logits, _ = forward(data)
    loss, _ = _loss_and_grad(loss_fn, logits, data["labels"])
    flat = np.asarray(logits).reshape(-1, np.shape(logits)[-1])  # (rows, C)
    return loss, accuracy_fn(flat, data["labels"].reshape(-1))


def evaluate(model: Model, data: dict[str, np.ndarray]) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on a whole data set.

    Parameters
    ----------
    model : Model
    data : dict of name -> ndarray
        Inputs by name plus ``"labels"``, as for :func:`train`.

    Returns
    -------
    loss : float
        Mean cross-entropy.
    accuracy : float
        Fraction of labels that get the largest logit.

    Raises
    ------
    TypeError, ValueError
        As :func:`train` for its data sets.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> from attn_core.training.models import AttentionReader
    >>> data = associative_recall(100, n_pairs=3, n_keys=4, n_values=2, seed=0)
    >>> loss, acc = evaluate(AttentionReader(4, 2, width=8), data)
    >>> 0 <= acc <= 1, loss > 0
    (True, True)
    """
    _check_model(model)
    return _evaluate(model, _check_data(model, data, "data"))
