"""Chapter 4's experiment: what the common masking recipes give a row whose keys are all masked.

Implementations do not compute the masked softmax of the book's formula directly. They put a
number in place of each masked score, or add one to it, and then call an ordinary max-shifted
softmax. On a row with at least one allowed key every recipe agrees with the formula. On a row
with *no* allowed key the result depends on the recipe and on the floating-point format, and
:func:`empty_row_outcomes` measures it for each pair.

The formats are numpy's float16, float32 and float64, and bfloat16, which numpy lacks: it is
emulated by rounding float32 numbers to 8 significant bits (:func:`round_to_bfloat16`). Scores
are stored in the format; the softmax runs in that format too, except for bfloat16, whose
softmax is computed in float32 on the rounded scores, as mixed-precision kernels do.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, as_mask, choice, positive_number

__all__ = ["MASKING_RECIPES", "FORMATS", "round_to_bfloat16", "masked_by_recipe", "describe_row",
           "empty_row_outcomes"]

#: How a masked score is treated before an ordinary softmax.
MASKING_RECIPES = {
    "replace by -inf": "s[masked] = -inf",
    "replace by -1e9": "s[masked] = -1e9  (masked_fill)",
    "add -1e9": "s = s + (-1e9) * (1 - m)",
    "replace by the format's minimum": "s[masked] = finfo(dtype).min",
}
#: The floating-point formats compared, fewest significant bits first.
FORMATS = ("float16", "bfloat16", "float32", "float64")
#: The most negative finite number of each format (bfloat16: -(2 - 2**-7) * 2**127).
_LOWEST = {"float16": np.finfo(np.float16).min, "bfloat16": np.float32(-(2 - 2**-7) * 2.0**127),
           "float32": np.finfo(np.float32).min, "float64": np.finfo(np.float64).min}


def round_to_bfloat16(x: ArrayLike) -> np.ndarray:
    """Round to the nearest bfloat16 number (ties to even), returned as float32.

    bfloat16 keeps float32's 8 exponent bits and 7 of its 23 fraction bits, so it has
    float32's range with about 3 significant decimal digits.

    Examples
    --------
    Near 1 the spacing of bfloat16 is 2**-7 = 0.0078125, near 0.1 it is 2**-11; ties go to the
    even neighbour:

    >>> round_to_bfloat16([1.00390625, 1.01171875, 0.1]).tolist()
    [1.0, 1.015625, 0.10009765625]
    """
    x = as_float_array(x, "x").astype(np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    rounding = 0x7FFF + ((bits >> 16) & 1)  # round half to even on the 16 dropped bits
    rounded = ((bits + rounding) & 0xFFFF0000).astype(np.uint32)
    out = np.where(np.isnan(x), x, rounded.view(np.float32))
    return out.astype(np.float32)


def _shifted_softmax(s: np.ndarray) -> np.ndarray:
    """The textbook max-shifted softmax, with no special case (NaN where it gives NaN)."""
    with np.errstate(invalid="ignore", over="ignore"):
        z = s - s.max(axis=-1, keepdims=True)  # (..., n): -inf - (-inf) is NaN
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


def masked_by_recipe(scores: ArrayLike, mask: ArrayLike, recipe: str, dtype: str) -> np.ndarray:
    """Softmax weights of ``scores`` under ``mask`` (``True`` = may attend) as ``recipe`` computes them.

    Parameters
    ----------
    scores : array_like, shape (..., n_k)
    mask : bool array_like, broadcastable to ``scores``; ``True`` = may attend
    recipe : one of :data:`MASKING_RECIPES`
    dtype : one of :data:`FORMATS`

    Returns
    -------
    ndarray, shape (..., n_k), float64
        The weights, converted to float64 for printing; NaN where the recipe gives NaN.

    Examples
    --------
    >>> s, none = [0.3, -1.2, 2.0, 0.5], [False] * 4
    >>> masked_by_recipe(s, none, "add -1e9", "float64").round(3).tolist()
    [0.126, 0.028, 0.691, 0.154]
    >>> masked_by_recipe(s, none, "add -1e9", "float32").tolist()
    [0.25, 0.25, 0.25, 0.25]
    >>> masked_by_recipe(s, none, "replace by -1e9", "float16").tolist()
    [nan, nan, nan, nan]
    """
    scores = as_float_array(scores, "scores", min_ndim=1, finite=True)
    allowed = as_mask(mask, "mask", scores.shape, "scores")
    choice(recipe, MASKING_RECIPES, "recipe")
    choice(dtype, FORMATS, "dtype")
    return _masked_by_recipe(scores, allowed, recipe, dtype)


def _masked_by_recipe(scores: np.ndarray, allowed: np.ndarray, recipe: str, dtype: str) -> np.ndarray:
    """:func:`masked_by_recipe` without the checks."""
    store = round_to_bfloat16 if dtype == "bfloat16" else np.dtype(dtype).type
    compute = np.float32 if dtype == "bfloat16" else np.dtype(dtype).type
    s = np.asarray(store(scores))
    with np.errstate(over="ignore"):  # float16: -1e9 becomes -inf, as a cast does on a GPU
        if recipe == "replace by -inf":
            s = np.where(allowed, s, -np.inf)
        elif recipe == "replace by -1e9":
            s = np.where(allowed, s, store(-1e9))
        elif recipe == "add -1e9":
            s = np.asarray(store(s + np.where(allowed, 0.0, store(-1e9)).astype(s.dtype)))
        else:
            s = np.where(allowed, s, _LOWEST[dtype])
    return _shifted_softmax(np.asarray(s, dtype=compute)).astype(np.float64)


def describe_row(weights: ArrayLike, unmasked: ArrayLike) -> str:
    """Name what a row of weights is: ``"NaN"``, ``"zeros"``, ``"uniform"``, ``"unmasked"`` or ``"other"``.

    ``unmasked`` is the row's softmax without any mask (what a mask that did nothing gives).

    Examples
    --------
    >>> describe_row([0.25] * 4, [0.1, 0.2, 0.3, 0.4]), describe_row([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])
    ('uniform', 'unmasked')
    """
    w = as_float_array(weights, "weights", min_ndim=1, nonempty=True, finite=True)
    u = as_float_array(unmasked, "unmasked", min_ndim=1, nonempty=True, finite=True)
    if w.shape != u.shape:
        raise ValueError(f"weights {w.shape} and unmasked {u.shape} must have the same shape")
    return _describe_row(w, u)


def _describe_row(w: np.ndarray, u: np.ndarray) -> str:
    """:func:`describe_row` without the checks."""
    if np.isnan(w).any():
        return "NaN"
    if np.allclose(w, 0.0):
        return "zeros"
    if np.allclose(w, 1.0 / w.shape[-1], rtol=1e-3) and not np.allclose(u, 1.0 / u.shape[-1], rtol=1e-3):
        return "uniform"
    if np.allclose(w, u, rtol=1e-2, atol=1e-3):
        return "unmasked"
    return "other"


def empty_row_outcomes(scores: ArrayLike) -> dict[str, dict[str, str]]:
    """For every recipe and format, what a row of ``scores`` with every key masked comes out as.

    Returns ``{recipe: {format: description}}`` with the descriptions of :func:`describe_row`.

    Examples
    --------
    >>> out = empty_row_outcomes([0.3, -1.2, 2.0, 0.5])
    >>> out["add -1e9"]
    {'float16': 'NaN', 'bfloat16': 'uniform', 'float32': 'uniform', 'float64': 'unmasked'}
    """
    scores = as_float_array(scores, "scores", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    nothing = np.zeros(scores.shape, dtype=bool)
    unmasked = _shifted_softmax(scores)
    return {recipe: {fmt: _describe_row(_masked_by_recipe(scores, nothing, recipe, fmt), unmasked)
                     for fmt in FORMATS} for recipe in MASKING_RECIPES}


# ------------------------------------------------- one row at a temperature (the chapter's explorer)
from collections.abc import Sequence  # noqa: E402

from attn_core.softmax import _softmax, attention_entropy, sparsemax  # noqa: E402

__all__ += ["NORMALISATIONS", "normalised_weights"]

#: The maps from scores to weights the explorer compares.
NORMALISATIONS = ("softmax", "sparsemax")


def normalised_weights(scores: Sequence[float], temperature: float, normalisation: str) -> dict:
    """The weights of one row of scores at temperature T, and how spread out they are.

    Parameters
    ----------
    scores : sequence of float, shape (n_k,)
    temperature : float
        ``T > 0``; both maps are applied to ``scores / T``.
    normalisation : {"softmax", "sparsemax"}

    Returns
    -------
    dict
        ``scores`` (n_k,), ``temperature``, ``normalisation``, ``weights`` (n_k,),
        ``entropy`` (nats), ``effective_keys`` (exp of the entropy) and ``nonzero`` (how many
        keys get a weight above zero).

    Raises
    ------
    TypeError
        ``scores`` is not a sequence of real numbers, ``temperature`` not a real number.
    ValueError
        ``scores`` not one non-empty row of finite numbers (NaN passes through as NaN);
        ``temperature`` not finite and > 0; an unknown ``normalisation``.

    Examples
    --------
    >>> state = normalised_weights([1.5, 1.0, 0.5], 1.0, "sparsemax")
    >>> state["weights"].round(2).tolist(), state["nonzero"]
    ([0.75, 0.25, 0.0], 2)
    """
    s = as_float_array(scores, "scores", min_ndim=1, max_ndim=1, nonempty=True, finite=True)  # (n_k,)
    temperature = positive_number(temperature, "temperature")
    choice(normalisation, NORMALISATIONS, "normalisation")
    return _normalised_weights(s, temperature, normalisation)


def _normalised_weights(s: np.ndarray, temperature: float, normalisation: str) -> dict:
    """:func:`normalised_weights` without the checks: ``s`` a float row (n_k,), T > 0, a known map."""
    if normalisation == "softmax":
        weights = _softmax(s, -1, temperature, None)  # (n_k,)
    else:
        weights = sparsemax(s / temperature)  # (n_k,): attn_core.softmax has no unchecked sparsemax kernel
    entropy = float(attention_entropy(weights))
    return {
        "scores": s,
        "temperature": float(temperature),
        "normalisation": normalisation,
        "weights": weights,
        "entropy": entropy,
        "effective_keys": float(np.exp(entropy)),
        "nonzero": int(np.count_nonzero(weights)),
    }
