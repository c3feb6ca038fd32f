"""Gradient checking: a hand-written backward pass compared with central finite differences.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["gradient_check"]


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
