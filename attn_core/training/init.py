"""The one initialiser of the book's weight matrices.

Every weight matrix multiplies row vectors from the right, ``x @ W`` with ``W`` of shape
``(fan_in, fan_out)``. Drawing its entries with standard deviation ``1 / sqrt(fan_in)``
keeps the entries of ``x @ W`` about as large as those of ``x`` (LeCun et al., 1998).
"""

from __future__ import annotations

import numpy as np

from attn_core._checks import positive_int

__all__ = ["init_weights"]


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {rng!r:.40}")
    return rng


def _init_weights(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """The kernel of :func:`init_weights`, without checks."""
    return rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, fan_out))  # (fan_in, fan_out)


def init_weights(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    r"""A random weight matrix for ``x @ W``: normal entries with standard deviation ``1/sqrt(fan_in)``.

    .. math:: W_{ij} \sim \mathcal N\!\left(0, \tfrac{1}{\text{fan\_in}}\right)

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of randomness (``np.random.default_rng(seed)``).
    fan_in : int
        Rows of ``W``: the width of the vectors it multiplies.
    fan_out : int
        Columns of ``W``: the width of the vectors it makes.

    Returns
    -------
    ndarray, shape (fan_in, fan_out)

    Raises
    ------
    TypeError
        ``rng`` is not a Generator, or a size is not a whole number.
    ValueError
        A size below 1.

    Examples
    --------
    >>> w = init_weights(np.random.default_rng(0), 400, 300)
    >>> w.shape, round(float(w.std() * np.sqrt(400)), 1)
    ((400, 300), 1.0)
    """
    rng = _check_rng(rng)
    fan_in, fan_out = positive_int(fan_in, "fan_in"), positive_int(fan_out, "fan_out")
    return _init_weights(rng, fan_in, fan_out)
