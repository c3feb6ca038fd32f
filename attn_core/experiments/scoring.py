"""Chapter 3 (scoring): the 2-D query and keys, and the parameters, that the chapter scores.

The keys point in four directions with four lengths; the query is given by a direction and
a length (:func:`query_from_polar`); :func:`example_parameters` holds untrained parameters
for the scoring functions of :func:`attn_core.scores.all_scores` that have some.
"""

from __future__ import annotations

import numpy as np

from attn_core._checks import as_float_array, nonnegative_int, number_in_range, positive_int
from attn_core.scores import SCORE_FUNCTIONS, all_scores
from attn_core.softmax import _softmax

__all__ = [
    "KEY_ANGLES",
    "KEY_LENGTHS",
    "query_from_polar",
    "example_keys",
    "example_parameters",
    "weights_by_score_function",
]

#: Directions (degrees, anticlockwise from the horizontal axis) and lengths of the four keys.
KEY_ANGLES = (0.0, 60.0, 150.0, 240.0)
KEY_LENGTHS = (2.5, 0.8, 1.5, 1.0)


def query_from_polar(angle: float, length: float) -> np.ndarray:
    """The 2-D vector of the given direction (degrees) and length, shape (2,).

    Raises
    ------
    TypeError
        ``angle`` or ``length`` is not a real number.
    ValueError
        ``angle`` is not finite, or ``length`` is negative or not finite.

    Examples
    --------
    >>> query_from_polar(90.0, 2.0).round(6).tolist()
    [0.0, 2.0]
    """
    angle = number_in_range(angle, "angle", -np.inf, np.inf, low_open=True, high_open=True)
    length = number_in_range(length, "length", 0.0, np.inf, high_open=True)
    return _query_from_polar(angle, length)


def _query_from_polar(angle: float, length: float) -> np.ndarray:
    """:func:`query_from_polar` without the checks."""
    radians = np.deg2rad(angle)
    return length * np.array([np.cos(radians), np.sin(radians)])  # (2,)


def example_keys() -> np.ndarray:
    """The four keys, one row each, from ``KEY_ANGLES`` and ``KEY_LENGTHS``; shape (4, 2).

    Examples
    --------
    >>> example_keys().round(2).tolist()[0]
    [2.5, 0.0]
    """
    return np.stack([_query_from_polar(a, r) for a, r in zip(KEY_ANGLES, KEY_LENGTHS)])  # (n_k, 2)


def example_parameters(hidden: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Parameters for :func:`attn_core.scores.all_scores` on 2-D queries and four keys.

    The bilinear matrix turns a query by 90 degrees anticlockwise before the dot product;
    the additive and location parameters are drawn from a standard normal distribution, as
    untrained parameters would be.

    Raises
    ------
    TypeError
        ``hidden`` or ``seed`` is not a whole number.
    ValueError
        ``hidden`` < 1 or ``seed`` < 0.

    Examples
    --------
    >>> params = example_parameters()
    >>> {name: value.shape for name, value in params.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'bilinear_w': (2, 2), 'additive_w_q': (2, 4), 'additive_w_k': (2, 4),
     'additive_w_v': (4,), 'location_w': (2, 4)}
    """
    hidden = positive_int(hidden, "hidden")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    return {
        "bilinear_w": np.array([[0.0, 1.0], [-1.0, 0.0]]),  # q W = q turned by +90 degrees
        "additive_w_q": rng.standard_normal((2, hidden)),
        "additive_w_k": rng.standard_normal((2, hidden)),
        "additive_w_v": rng.standard_normal(hidden),
        "location_w": rng.standard_normal((2, len(KEY_ANGLES))),
    }


def weights_by_score_function(query: np.ndarray, keys: np.ndarray, **params) -> dict:
    """One query scored against ``keys`` by every score function, and softmax weights of each row.

    Parameters
    ----------
    query : array_like, shape (d,)
    keys : array_like, shape (n_k, d)
    **params
        The parameters of :func:`attn_core.scores.all_scores` (e.g. :func:`example_parameters`).

    Returns
    -------
    dict
        ``scores``: score function name -> (n_k,) scores; ``weights``: ndarray (6, n_k), one
        softmax row per function in the order of :data:`attn_core.scores.SCORE_FUNCTIONS`.

    Raises
    ------
    ValueError
        A query that is not a vector, keys that are not a matrix of its width, or parameters
        that :func:`attn_core.scores.all_scores` refuses.

    Examples
    --------
    >>> state = weights_by_score_function(query_from_polar(0.0, 1.0), example_keys(), **example_parameters())
    >>> state["weights"].shape, state["scores"]["dot"].round(2).tolist()[:2]
    ((6, 4), [2.5, 0.4])
    """
    q = as_float_array(query, "query", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    k = as_float_array(keys, "keys", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if k.shape[1] != q.shape[0]:
        raise ValueError(f"query and keys must have the same width: query {q.shape}, keys {k.shape}")
    scores = all_scores(q[None, :], k, **params)  # name -> (1, n_k); checks the parameters
    weights = np.concatenate([_softmax(scores[name], -1, 1.0, None) for name in SCORE_FUNCTIONS])  # (6, n_k)
    return {"scores": {name: s[0] for name, s in scores.items()}, "weights": weights}
