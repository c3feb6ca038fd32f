"""Chapter 2's toy regression: a smooth target and noisy samples, for Nadaraya–Watson pooling.

Seeded: the same seed gives the same arrays on any machine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, positive_int

__all__ = ["regression_target", "regression_data"]


def regression_target(x: ArrayLike) -> np.ndarray:
    r"""The smooth curve :math:`f(x) = \sin(2x) + 0.3x` that chapter 2 tries to recover.

    Examples
    --------
    >>> regression_target([0.0])
    array([0.])
    """
    x = as_float_array(x, "x")
    return np.sin(2 * x) + 0.3 * x


def regression_data(
    n: int = 40, *, noise: float = 0.3, low: float = 0.0, high: float = 5.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy samples ``y = f(x) + noise * eps`` of :func:`regression_target`, ``x`` sorted.

    Parameters
    ----------
    n : int
        Number of samples.
    noise : float
        Standard deviation of the Gaussian noise (>= 0).
    low, high : float
        The interval ``x`` is drawn from, uniformly.
    seed : int

    Returns
    -------
    x : ndarray, shape (n,)
    y : ndarray, shape (n,)

    Examples
    --------
    >>> x, y = regression_data(5, seed=1)
    >>> x.shape, bool((x[1:] >= x[:-1]).all())
    ((5,), True)
    """
    n = positive_int(n, "n")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not high > low:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(low, high, n))
    return x, regression_target(x) + noise * rng.standard_normal(n)
