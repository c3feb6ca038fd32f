"""One training loop: cross-entropy, Adam, mini-batches, an evaluation and a progress line.

Every model in the book keeps its parameters in a dict of arrays and has ``forward`` and
``backward`` methods written by hand; nothing here knows what the model is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from attn_core._checks import positive_int
from attn_core.training.adam import Adam
from attn_core.training.losses import accuracy, cross_entropy

__all__ = ["Model", "History", "train", "evaluate"]


class Model(Protocol):
    """What :func:`train` needs of a model."""

    params: dict[str, np.ndarray]

    def forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, object]: ...

    def backward(self, cache: object, grad_logits: np.ndarray) -> dict[str, np.ndarray]: ...


@dataclass
class History:
    """What happened during training, one entry per evaluation."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterable[np.ndarray]:
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def train(
    model: Model,
    train_set: dict[str, np.ndarray],
    test_set: dict[str, np.ndarray] | None = None,
    *,
    steps: int = 1000,
    batch_size: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    eval_every: int = 100,
    progress: bool = True,
    callback: Callable[[int, Model], None] | None = None,
) -> History:
    """Minimise cross-entropy with Adam on mini-batches; report progress as it goes.

    Parameters
    ----------
    model : Model
        Has ``params``, ``forward(inputs) -> (logits, cache)`` and
        ``backward(cache, grad_logits) -> grads``.
    train_set, test_set : dict of name -> ndarray
        Inputs by name plus ``"labels"``; the first axis indexes examples.
    steps, batch_size, lr, seed : training settings (seed orders the mini-batches)
    eval_every : int
        Steps between evaluations (recorded in the history, and printed).
    progress : bool, default True
        Print one line per evaluation: the progress indicator.
    callback : callable, optional
        ``callback(step, model)`` after each evaluation (e.g. to keep snapshots of the
        attention weights as training goes).

    Returns
    -------
    History
    """
    steps, batch_size = positive_int(steps, "steps"), positive_int(batch_size, "batch_size")
    eval_every = positive_int(eval_every, "eval_every")
    n = len(train_set["labels"])
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} is larger than the training set ({n} examples)")
    rng = np.random.default_rng(seed)
    optimiser = Adam(model.params, lr=lr)
    history = History()
    start = time.perf_counter()
    batches = _batches(n, batch_size, rng)
    for step in range(1, steps + 1):
        idx = next(batches)
        batch = {name: value[idx] for name, value in train_set.items()}
        logits, cache = model.forward(batch)
        _, grad = cross_entropy(logits, batch["labels"])
        optimiser.step(model.backward(cache, grad))
        if step % eval_every == 0 or step == steps:
            loss, acc = evaluate(model, train_set)
            history.steps.append(step)
            history.train_loss.append(loss)
            history.train_accuracy.append(acc)
            test_acc = evaluate(model, test_set)[1] if test_set is not None else float("nan")
            history.test_accuracy.append(test_acc)
            if callback is not None:
                callback(step, model)
            if progress:
                bar = "#" * round(10 * step / steps)
                print(f"[{bar:<10}] step {step:>4}/{steps} loss {loss:.3f} "
                      f"train {acc:.3f}" + (f" test {test_acc:.3f}" if test_set else ""))
    history.seconds = time.perf_counter() - start
    return history


def evaluate(model: Model, data: dict[str, np.ndarray]) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on a whole data set."""
    logits, _ = model.forward(data)
    loss, _ = cross_entropy(logits, data["labels"])
    return loss, accuracy(logits, data["labels"])
