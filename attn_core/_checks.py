"""Input checks shared by every public function of attn_core.

Each check runs at a public entry point, before any arithmetic, and raises an error whose
message names the argument and shows the shapes or dtypes it got. Nothing here is public:
chapters never need it, and a reader meets these messages only when an input is wrong.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__: list[str] = []


def as_float_array(x: Any, name: str, *, min_ndim: int = 0) -> np.ndarray:
    """Return ``x`` as a floating-point array, or raise naming ``name``.

    Integers (signed or unsigned) become float64, float16 becomes float32, float32 and
    float64 stay as they are. ``None``, strings, objects, booleans and complex numbers are
    refused with a ``TypeError``; ragged nested lists and too few dimensions with a
    ``ValueError``.
    """
    if x is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got the string {x!r:.40}")
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged nested sequences
        raise ValueError(
            f"{name} must be a rectangular array of numbers; its rows have different lengths "
            f"({err})"
        ) from None
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(
            f"{name} has boolean dtype; it must hold numbers "
            "(a boolean array is a mask: pass it as mask=...)"
        )
    if kind in "iu":
        arr = arr.astype(np.float64)
    elif kind == "f":
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
    elif kind == "c":
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
    else:
        raise TypeError(
            f"{name} must be an array of numbers, got dtype {arr.dtype} "
            f"(first element: {arr.flat[0]!r:.40})"
            if arr.size
            else f"{name} must be an array of numbers, got dtype {arr.dtype}"
        )
    if arr.ndim < min_ndim:
        what = {1: "a vector (n,)", 2: "a matrix (..., n, d)"}.get(min_ndim, f"{min_ndim} dims")
        raise ValueError(f"{name} must be {what}; got shape {arr.shape}")
    return arr


def positive_number(value: Any, name: str, *, allow_none: bool = False) -> float | None:
    """Return ``value`` as a finite float > 0, or raise naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {value!r:.40}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int >= 1, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= 1, got {value!r:.40}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def check_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` normalised to ``0 <= axis < ndim``."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {axis!r:.40}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} dimensions")
    return int(axis) % ndim


def as_mask(mask: Any, name: str, target_shape: tuple[int, ...], target: str) -> np.ndarray:
    """Return ``mask`` as a boolean array broadcast to ``target_shape``, or raise.

    The one convention of the book: ``True`` means "may attend".
    """
    if isinstance(mask, (str, bytes)):
        raise TypeError(f"{name} must be a boolean array (True = may attend), got a string")
    arr = np.asarray(mask)
    if arr.dtype.kind != "b":
        raise TypeError(
            f"{name} must be boolean (True = may attend), got dtype {arr.dtype}. "
            "Convert a 0/1 mask with `mask == 1`, an additive mask with `mask == 0`."
        )
    try:
        return np.broadcast_to(arr, target_shape)
    except ValueError:
        raise ValueError(
            f"{name} of shape {arr.shape} does not broadcast to the {target} "
            f"of shape {target_shape}"
        ) from None


def broadcast_batch(shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """Broadcast the leading (batch/head) dimensions of several ``(..., n, d)`` arrays."""
    try:
        return np.broadcast_shapes(*(s[:-2] for s in shapes.values()))
    except ValueError:
        described = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(
            f"the batch dimensions (all but the last two) do not broadcast: {described}"
        ) from None


def index_in(value: Any, n: int, name: str, what: str = "index") -> int:
    """Return ``value`` as an int in ``0..n-1``, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or not 0 <= value < n:
        raise ValueError(f"{name} must be a {what} in 0..{n - 1}, got {value!r}")
    return int(value)


def flag(value: Any, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False``; anything else (``None``, ``"no"``, 0) raises."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r:.40}")
    return bool(value)


def choice(value: Any, options: Any, name: str) -> Any:
    """Return ``value`` if it is one of ``options``, or raise listing them."""
    try:
        ok = value in options
    except TypeError:  # unhashable value tested against a set or dict
        ok = False
    if not ok:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {listed}; got {value!r:.40}")
    return value


def nonnegative_int(value: Any, name: str) -> int:
    """Return ``value`` as an int >= 0, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= 0, got {value!r:.40}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def number_in_range(
    value: Any, name: str, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> float:
    """Return ``value`` as a float in the interval from ``low`` to ``high``, or raise naming it.

    ``low_open``/``high_open`` exclude the end points: ``number_in_range(b, "beta1", 0, 1,
    high_open=True)`` accepts ``0 <= b < 1``. NaN and infinities are refused.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r:.40}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not np.isfinite(value) or too_low or too_high:
        interval = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value
