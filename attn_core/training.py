"""Learning in numpy: a loss, its gradient, gradient checking, Adam and a small training loop.

Every model in the book keeps its parameters in a dict of arrays and has ``forward`` and
``backward`` methods written by hand; nothing here knows what the model is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, positive_int, positive_number
from .softmax import _softmax

__all__ = [
    "embedding_backward",
    "cross_entropy",
    "gradient_check",
    "Adam",
    "Model",
    "History",
    "train",
    "accuracy",
]


def embedding_backward(n_rows: int, indices: ArrayLike, grad: ArrayLike) -> np.ndarray:
    """Gradient of a table lookup ``table[indices]``: each row adds up the gradients of the
    positions that read it.

    The same as ``np.add.at(out, indices, grad)`` on a zero table, computed as a product with
    a one-hot matrix, which is several times faster for the book's small vocabularies.

    Parameters
    ----------
    n_rows : int
        Rows of the table.
    indices : array_like of int, any shape ``S``
    grad : array_like, shape ``S + (d,)``

    Returns
    -------
    ndarray, shape (n_rows, d)

    Examples
    --------
    >>> embedding_backward(3, [0, 2, 0], [[1.0], [2.0], [3.0]])
    array([[4.],
           [0.],
           [2.]])
    """
    idx = np.asarray(indices).reshape(-1)
    g = np.asarray(grad, dtype=float).reshape(idx.size, -1)
    if idx.size * n_rows > 10_000_000:  # a large vocabulary: the one-hot matrix would not pay
        out = np.zeros((n_rows, g.shape[1]))
        np.add.at(out, idx, g)
        return out
    one_hot = idx[None, :] == np.arange(n_rows)[:, None]  # (n_rows, positions)
    return one_hot.astype(g.dtype) @ g  # (n_rows, d)


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    .. math:: L = -\frac{1}{B} \sum_b \log \operatorname{softmax}(z_b)_{y_b}, \qquad
              \frac{\partial L}{\partial z_b} = \frac{\operatorname{softmax}(z_b) - \operatorname{onehot}(y_b)}{B}

    Parameters
    ----------
    logits : array_like, shape (B, C)
    labels : array_like of int, shape (B,)

    Returns
    -------
    loss : float
    grad_logits : ndarray, shape (B, C)

    Examples
    --------
    >>> loss, grad = cross_entropy([[0.0, 0.0]], [1])
    >>> round(loss, 4), grad
    (0.6931, array([[ 0.5, -0.5]]))
    """
    z = as_float_array(logits, "logits", min_ndim=2)
    y = np.asarray(labels)
    if y.dtype.kind not in "iu" or y.shape != z.shape[:1]:
        raise ValueError(f"labels must be integers of shape ({z.shape[0]},), got {y.dtype} {y.shape}")
    if (y < 0).any() or (y >= z.shape[1]).any():
        raise ValueError(f"labels must lie in 0..{z.shape[1] - 1}")
    p = _softmax(z, 1, 1.0, None)  # (B, C)
    rows = np.arange(z.shape[0])
    log_p = z[rows, y] - z.max(1) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))
    grad = p.copy()
    grad[rows, y] -= 1.0
    return float(-log_p.mean()), grad / z.shape[0]


def accuracy(logits: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of rows whose largest logit is the label.

    Examples
    --------
    >>> accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1])
    0.5
    """
    return float((np.argmax(np.asarray(logits), axis=-1) == np.asarray(labels)).mean())


def gradient_check(
    loss: Callable[[], float], params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
    *, eps: float = 1e-5, samples: int = 20, seed: int = 0, floor: float = 1e-5,
) -> float:
    r"""Largest relative error between hand-written gradients and central finite differences.

    For a few randomly chosen entries :math:`\theta` of each parameter,
    :math:`(L(\theta + \epsilon) - L(\theta - \epsilon)) / 2\epsilon` is compared with the
    analytic gradient; the relative error is
    :math:`|g - \hat g| / \max(|g| + |\hat g|, \text{floor})`. The floor keeps entries whose
    gradient is itself tiny (below the finite differences' own rounding noise, about
    ``1e-16 * |L| / eps``) from reporting noise as error. Results of 1e-6 or below (in
    float64) mean the backward pass is right; a wrong one gives errors near 1.

    Parameters
    ----------
    loss : callable
        Recomputes the loss from the current values in ``params`` (which it perturbs in place
        and restores).
    params, grads : dict of name -> ndarray
    eps : float, default 1e-5
    samples : int, default 20
        Entries checked per parameter.
    seed : int, default 0
    floor : float, default 1e-5

    Returns
    -------
    float

    Examples
    --------
    >>> w = {"w": np.array([1.0, -2.0])}
    >>> bool(gradient_check(lambda: float((w["w"] ** 2).sum()), w, {"w": 2 * w["w"]}) < 1e-8)
    True
    >>> bool(gradient_check(lambda: float((w["w"] ** 2).sum()), w, {"w": 3 * w["w"]}) > 0.1)   # wrong
    True
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    for name, p in params.items():
        g = grads[name]
        if g.shape != p.shape:
            raise ValueError(f"gradient of {name} has shape {g.shape}, parameter {p.shape}")
        for flat_index in rng.choice(p.size, size=min(samples, p.size), replace=False):
            i = np.unravel_index(flat_index, p.shape)  # works for views of any layout
            old = p[i]
            p[i] = old + eps
            up = loss()
            p[i] = old - eps
            down = loss()
            p[i] = old
            numeric = (up - down) / (2 * eps)
            analytic = g[i]
            worst = max(worst, abs(numeric - analytic) / max(abs(numeric) + abs(analytic), floor))
    return worst


class Adam:
    r"""The Adam optimiser (Kingma & Ba, 2015), updating a dict of parameters in place.

    .. math:: m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,
              \quad \theta \leftarrow \theta - \eta \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}

    Examples
    --------
    >>> params = {"x": np.array([3.0])}
    >>> opt = Adam(params, lr=0.1)
    >>> for _ in range(300):
    ...     opt.step({"x": 2 * params["x"]})       # minimise x**2
    >>> bool(abs(params["x"][0]) < 0.05)
    True
    """

    def __init__(self, params: dict[str, np.ndarray], *, lr: float = 1e-2, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8):
        self.params = params
        self.lr = positive_number(lr, "lr")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for name, p in self.params.items():
            g = grads[name]
            self.m[name] = self.beta1 * self.m[name] + (1 - self.beta1) * g
            self.v[name] = self.beta2 * self.v[name] + (1 - self.beta2) * g * g
            m_hat = self.m[name] / (1 - self.beta1**self.t)
            v_hat = self.v[name] / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


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
