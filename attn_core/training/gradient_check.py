"""Gradient checking: a hand-written backward pass compared with central finite differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from attn_core._checks import (
    as_gradient,
    nonnegative_int,
    positive_int,
    positive_number,
)

__all__ = ["gradient_check"]


def _loss_value(loss: Callable[[], float], where: str) -> float:
    value = loss()
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"loss() must return a real number, got {value!r:.40}") from None
    if not math.isfinite(value):
        raise ValueError(f"loss() returned {value} {where}; a gradient check needs a finite loss")
    return value


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
        and restores); must return a finite number.
    params : dict of name -> float ndarray
    grads : dict of name -> array
        The hand-written gradients: one finite array per parameter, of its shape.
    eps : float, default 1e-5
        The finite-difference step, finite and > 0.
    samples : int, default 20
        Entries checked per parameter (all of them if a parameter has fewer).
    seed : int, default 0
    floor : float, default 1e-5
        Finite and > 0.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``loss`` not callable or not returning a number; ``params``/``grads`` not dicts of
        arrays; a setting of the wrong type.
    ValueError
        Names or shapes of ``grads`` that do not match ``params``, a gradient that is not
        finite, an empty parameter, a setting out of range, or a loss that is NaN or infinite
        (which would otherwise look like a perfect score).

    Examples
    --------
    >>> w = {"w": np.array([1.0, -2.0])}
    >>> bool(gradient_check(lambda: float((w["w"] ** 2).sum()), w, {"w": 2 * w["w"]}) < 1e-8)
    True
    >>> bool(gradient_check(lambda: float((w["w"] ** 2).sum()), w, {"w": 3 * w["w"]}) > 0.1)   # wrong
    True
    """
    if not callable(loss):
        raise TypeError(f"loss must be a function of no arguments returning the loss, got {loss!r:.40}")
    for what, value in (("params", params), ("grads", grads)):
        if not isinstance(value, dict) or not value:
            raise TypeError(f"{what} must be a non-empty dict of name -> array, got {value!r:.40}")
    if set(grads) != set(params):
        raise ValueError(f"grads must have one entry per parameter: missing "
                         f"{sorted(set(params) - set(grads))}, unknown {sorted(set(grads) - set(params))}")
    eps, floor = positive_number(eps, "eps"), positive_number(floor, "floor")
    samples, seed = positive_int(samples, "samples"), nonnegative_int(seed, "seed")
    for name, p in params.items():
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise TypeError(f"params[{name!r}] must be a float ndarray (perturbed in place), "
                            f"got {type(p).__name__} {getattr(p, 'dtype', '')}")
        if p.size == 0:
            raise ValueError(f"params[{name!r}] is empty (shape {p.shape}); there is nothing to check")
        as_gradient(grads[name], f"grads[{name!r}]", p.shape)
    _loss_value(loss, "at the given parameters")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for name, p in params.items():
        g = np.asarray(grads[name])
        for flat_index in rng.choice(p.size, size=min(samples, p.size), replace=False):
            i = np.unravel_index(flat_index, p.shape)  # works for views of any layout
            old = p[i]
            try:
                p[i] = old + eps
                up = _loss_value(loss, f"with {name}{[int(j) for j in i]} moved by +eps")
                p[i] = old - eps
                down = _loss_value(loss, f"with {name}{[int(j) for j in i]} moved by -eps")
            finally:
                p[i] = old
            numeric = (up - down) / (2 * eps)
            analytic = float(g[i])
            worst = max(worst, abs(numeric - analytic) / max(abs(numeric) + abs(analytic), floor))
    return worst
