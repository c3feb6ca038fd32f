"""Input checks shared by every public function of attn_core.

Each check runs at a public entry point, before any arithmetic, and raises an error whose
message names the argument and shows the shapes or dtypes it got. Nothing here is public:
chapters never need it, and a reader meets these messages only when an input is wrong.

The rules every public function of the library follows:

* data (queries, keys, values, scores, weights, points, tables) is a real array: ``None``,
  strings, booleans, complex and object arrays raise ``TypeError``; an empty array, the wrong
  number of dimensions or shapes that do not fit together raise ``ValueError``;
* NaN in the data comes out as NaN (never as a silently finite number); an infinity raises
  a ``ValueError`` naming the argument and the index of the first one (:func:`finite_or_nan`).
  Only scores given to a softmax may be ``-inf``, meaning weight 0, as if masked;
* sizes are whole numbers (``positive_int``, ``nonnegative_int``; ``True`` and ``2.0`` are
  not), flags are ``True`` or ``False`` (``flag``; not ``None``, ``0`` or ``"no"``), options
  are one of a listed set (``choice``), and temperatures, scales and widths are finite and
  > 0 (``positive_number``);
* masks are boolean, ``True`` = may attend, and must broadcast to what they mask (``as_mask``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__: list[str] = []


def as_float_array(
    x: Any,
    name: str,
    *,
    min_ndim: int = 0,
    max_ndim: int | None = None,
    nonempty: bool = False,
    finite: bool = False,
    minus_inf_allowed: bool = False,
) -> np.ndarray:
    """Return ``x`` as a floating-point array, or raise naming ``name``.

    Integers (signed or unsigned) become float64, float16 becomes float32, float32 and
    float64 stay as they are. ``None``, strings, objects, booleans and complex numbers are
    refused with a ``TypeError``; ragged nested lists, too few or too many dimensions and
    (with ``nonempty=True``) an array with no element with a ``ValueError``. With
    ``finite=True`` the library's rule for data applies (see :func:`finite_or_nan`).
    """
    arr = _as_array(x, name, "numbers")
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
    if max_ndim is not None and arr.ndim > max_ndim:
        raise ValueError(f"{name} must have at most {max_ndim} dimensions; got shape {arr.shape}")
    if nonempty and arr.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if finite:
        finite_or_nan(arr, name, minus_inf_allowed=minus_inf_allowed)
    return arr


def _as_array(x: Any, name: str, what: str) -> np.ndarray:
    """``x`` as a numpy array; ``None``, a string or a ragged list raises, naming ``name``."""
    if x is None:
        raise TypeError(f"{name} must be an array of {what}, got None")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of {what}, got the string {x!r:.40}")
    try:
        return np.asarray(x)
    except ValueError as err:  # ragged nested sequences
        raise ValueError(
            f"{name} must be a rectangular array of {what}; its rows have different lengths ({err})"
        ) from None


def finite_or_nan(arr: np.ndarray, name: str, *, minus_inf_allowed: bool = False) -> np.ndarray:
    """Return ``arr`` if it holds no infinity, or raise a ``ValueError`` naming ``name`` and where.

    The rule for data throughout the library: **NaN in, NaN out** (a NaN is passed through
    and comes out as NaN, never as a silently finite number), but **an infinity is refused
    at the door**, because no result of arithmetic on it is meaningful. The one exception,
    ``minus_inf_allowed=True``, is for scores fed to a softmax, where ``-inf`` means "weight
    0", exactly like a masked entry.
    """
    bad = np.isposinf(arr) if minus_inf_allowed else np.isinf(arr)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        value = arr[index]
        raise ValueError(
            f"{name} contains {'-' if value < 0 else ''}inf at index {index}; "
            "data must be finite (NaN is passed through as NaN"
            + (", -inf means weight 0)" if minus_inf_allowed else ")")
        )
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
    return _whole_number(value, name, 1)


def nonnegative_int(value: Any, name: str) -> int:
    """Return ``value`` as an int >= 0, or raise naming ``name``."""
    return _whole_number(value, name, 0)


def _whole_number(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; booleans and floats such as 2.0 are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= {minimum}, got {value!r:.40}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
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
        article = "an" if what[:1].lower() in "aeiou" else "a"
        raise ValueError(f"{name} must be {article} {what} in 0..{n - 1}, got {value!r}")
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


def as_int_array(
    x: Any, name: str, *, ndim: int | None = None, low: int | None = None, high: int | None = None,
) -> np.ndarray:
    """Return ``x`` as an integer array (token ids, labels, indices), or raise naming ``name``.

    ``None``, strings, booleans, floats (even ``2.0``), complex and object arrays raise
    ``TypeError``; the wrong number of dimensions ``ValueError``; so does an entry outside
    ``low <= entry < high`` (either bound may be omitted), naming the first such entry.
    """
    arr = _as_array(x, name, "whole numbers")
    if arr.size == 0 and not isinstance(x, np.ndarray) and arr.dtype == np.float64:
        arr = arr.astype(np.int64)  # an empty list: numpy cannot know it was meant to hold integers
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold whole numbers (an integer dtype), got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension{'s' if ndim != 1 else ''}; got shape {arr.shape}")
    if arr.size:
        bad = np.zeros(arr.shape, dtype=bool)
        if low is not None:
            bad |= arr < low
        if high is not None:
            bad |= arr >= high
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            low_text = "" if low is None else f"{low}.."
            high_text = "" if high is None else f"{high - 1}"
            raise ValueError(f"{name} must lie in {low_text or '..'}{high_text}; "
                             f"got {arr[index]} at index {index}")
    return arr


def as_gradient(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``value`` as the gradient of a parameter of ``shape``: real numbers, that shape, finite.

    A gradient that is NaN or inf means training has diverged; it is refused rather than
    written into the parameters.
    """
    g = np.asarray(value)
    if g.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {g.dtype}")
    if g.shape != shape:
        raise ValueError(f"{name} has shape {g.shape}, the parameter {shape}")
    if not np.isfinite(g).all():
        raise ValueError(f"{name} is not finite (NaN or inf): training has diverged")
    return g
