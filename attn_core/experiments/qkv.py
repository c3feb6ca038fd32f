"""Chapter 2's toy regression: a smooth target and noisy samples, for Nadaraya–Watson pooling.

Seeded: the same seed gives the same arrays on any machine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, nonnegative_int, number_in_range, positive_int

__all__ = ["regression_target", "regression_data"]


def regression_target(x: ArrayLike) -> np.ndarray:
    r"""The smooth curve :math:`f(x) = \sin(2x) + 0.3x` that chapter 2 tries to recover.

    Examples
    --------
    >>> regression_target([0.0])
    array([0.])
    """
    x = as_float_array(x, "x", finite=True)
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

    Raises
    ------
    TypeError, ValueError
        ``n`` not a whole number >= 1, ``seed`` not one >= 0, ``noise`` negative, ``low`` or
        ``high`` not finite, or ``low >= high``.

    Examples
    --------
    >>> x, y = regression_data(5, seed=1)
    >>> x.shape, bool((x[1:] >= x[:-1]).all())
    ((5,), True)
    """
    n = positive_int(n, "n")
    noise = number_in_range(noise, "noise", 0.0, np.inf)
    low = number_in_range(low, "low", -np.inf, np.inf)
    high = number_in_range(high, "high", -np.inf, np.inf)
    seed = nonnegative_int(seed, "seed")
    if not high > low:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(low, high, n))
    return x, regression_target(x) + noise * rng.standard_normal(n)


# ---------------------------------------------------------------- one kernel width, measured
from attn_core.pooling import nadaraya_watson  # noqa: E402
from attn_core.softmax import attention_entropy  # noqa: E402

__all__ += ["kernel_regression_fit"]


def kernel_regression_fit(
    x_query: ArrayLike,
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_heldout: ArrayLike,
    y_heldout: ArrayLike,
    *,
    bandwidth: float,
    kernel: str = "gaussian",
) -> dict:
    """Nadaraya-Watson regression at one kernel width: its weights, prediction and error.

    Parameters
    ----------
    x_query : array_like, shape (n_q,)
        Where to predict.
    x_train, y_train : array_like, shape (n,)
        The training points.
    x_heldout, y_heldout : array_like, shape (m,)
        The points the error is measured on.
    bandwidth : float
        The kernel width, > 0.
    kernel : {"gaussian", "boxcar"}

    Returns
    -------
    dict
        ``weights`` (n_q, n), ``prediction`` (n_q,), ``heldout_error`` (mean squared error
        on the held-out points), ``effective_points`` (mean over the queries with some
        weight of exp(entropy) of their row; 0 if none), ``empty_queries`` (queries whose
        window holds no training point) and ``largest_weight``.

    Raises
    ------
    ValueError
        Arrays that are not vectors or whose lengths do not pair up; a bandwidth that is
        not > 0; an unknown kernel.

    Examples
    --------
    >>> fit = kernel_regression_fit([0.0, 10.0], [0.0, 1.0], [1.0, 3.0], [0.5], [2.5],
    ...                             bandwidth=1.0, kernel="boxcar")
    >>> fit["prediction"].tolist(), fit["empty_queries"], fit["effective_points"]
    ([2.0, 0.0], 1, 2.0)
    >>> round(fit["heldout_error"], 6)
    0.25
    """
    x_heldout = as_float_array(x_heldout, "x_heldout", min_ndim=1, max_ndim=1, finite=True)
    y_heldout = as_float_array(y_heldout, "y_heldout", min_ndim=1, max_ndim=1, finite=True)
    if x_heldout.shape != y_heldout.shape:
        raise ValueError(f"x_heldout and y_heldout must have one entry each per point, got shapes "
                         f"{x_heldout.shape} and {y_heldout.shape}")
    prediction, weights = nadaraya_watson(x_query, x_train, y_train, bandwidth=bandwidth,
                                          kernel=kernel)  # (n_q,), (n_q, n); checks the rest
    heldout_prediction, _ = nadaraya_watson(x_heldout, x_train, y_train, bandwidth=bandwidth, kernel=kernel)
    has_weight = ~(weights.sum(axis=1) <= 0)  # (n_q,): boxcar rows can be empty; NaN rows stay, as NaN
    entropy = attention_entropy(weights[has_weight])  # (n_non_empty,)
    return {
        "weights": weights,
        "prediction": prediction,
        "heldout_error": float(np.mean((heldout_prediction - y_heldout) ** 2)),
        "effective_points": float(np.exp(entropy).mean()) if entropy.size else 0.0,
        "empty_queries": int((~has_weight).sum()),
        "largest_weight": float(weights.max()),
    }
