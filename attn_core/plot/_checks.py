"""The door checks of :mod:`attn_core.plot`, on top of the library's (:mod:`attn_core._checks`).

A public figure function checks every argument it is given once, at its start, with these
helpers, then draws with private, unchecked code. Each error names the argument and shows
what it got. Nothing here is public.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from attn_core._checks import (
    as_float_array,
    as_int_array,
    flag,
    index_in,
    number_in_range,
    positive_int,
)

__all__: list[str] = []


def check_axes(ax: Any, name: str = "ax") -> Axes:
    """Return ``ax`` if it is a matplotlib ``Axes``, or raise a ``TypeError`` naming ``name``."""
    if not isinstance(ax, Axes):
        raise TypeError(f"{name} must be a matplotlib Axes (e.g. fig.add_subplot()), got {ax!r:.60}")
    return ax


def vector(x: Any, name: str, *, length: int | None = None, of: str = "", positive: bool = False,
           ravel: bool = False) -> np.ndarray:
    """``x`` as a non-empty vector of real numbers without infinities (NaN is drawn as a gap).

    ``length`` (with ``of``, what the length must match) fixes the number of entries;
    ``positive`` asks for entries > 0 (a logarithmic axis); ``ravel`` accepts any shape of
    at least one dimension and flattens it.
    """
    arr = as_float_array(x, name, min_ndim=1, nonempty=True, finite=True)
    if ravel:
        arr = arr.ravel()
    elif arr.ndim != 1:
        raise ValueError(f"{name} must be a vector (m,); got shape {arr.shape}")
    if length is not None and arr.size != length:
        raise ValueError(f"{name} has {arr.size} entries, but {of} has {length}")
    if positive and not (arr > 0).all():
        raise ValueError(f"{name} must hold numbers > 0 (a logarithmic axis); got {arr.min()!r}")
    return arr


def matrix(x: Any, name: str, *, columns: int | None = None) -> np.ndarray:
    """``x`` as a non-empty matrix (rows, columns) of real numbers without infinities."""
    arr = as_float_array(x, name, min_ndim=2, nonempty=True, finite=True)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a matrix (rows, columns); got shape {arr.shape}")
    if columns is not None and arr.shape[1] != columns:
        raise ValueError(f"{name} must have {columns} columns; got shape {arr.shape}")
    return arr


def labels(value: Any, n: int, name: str, of: str, *, optional: bool = True, text_only: bool = False) -> None:
    """Check ``n`` tick labels (one per entry of ``of``): a sequence, not a string; ``None`` if optional.

    ``text_only`` (tokens, group names) refuses entries that are not strings.
    """
    if value is None:
        if optional:
            return
        raise TypeError(f"{name} must be a sequence of {n} strings, got None")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence of strings (one per label), got {value!r:.60}")
    if text_only:
        for entry in value:
            if not isinstance(entry, str):
                raise TypeError(f"{name} must hold strings, got {entry!r:.40} ({type(entry).__name__})")
    if len(value) != n:
        raise ValueError(f"{name} has {len(value)} labels, but {of} has {n}")


def optional_index(value: Any, n: int, name: str, what: str = "index") -> int | None:
    """``None``, or an int in ``0..n-1`` (``True``, ``0.5`` and ``"0"`` are refused)."""
    return None if value is None else index_in(value, n, name, what)


def optional_flag(value: Any, name: str) -> bool | None:
    """``None`` (let the function decide), ``True`` or ``False``."""
    return None if value is None else flag(value, name)


def finite_number(value: Any, name: str, *, optional: bool = False) -> float | None:
    """A finite real number (``None`` too if ``optional``); booleans, strings, NaN and inf are refused."""
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r:.40}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return float(value)


def level(value: Any, name: str) -> float | None:
    """An optional accuracy level in [0, 1] (``chance``, ``ceiling``)."""
    return None if value is None else number_in_range(value, name, 0.0, 1.0)


def optional_positive_int(value: Any, name: str) -> int | None:
    """``None``, or a whole number >= 1."""
    return None if value is None else positive_int(value, name)


def curves(value: Any, name: str, n: int, of: str, *, max_ndim: int = 1) -> None:
    """A mapping of names to curves, each with ``n`` points along its last axis (as many as ``of``)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of names to curves, got {type(value).__name__}")
    for key, curve in value.items():
        arr = as_float_array(curve, f"{name}[{key!r}]", min_ndim=1, max_ndim=max_ndim, finite=True)
        if arr.shape[-1] != n:
            raise ValueError(f"{name}[{key!r}] has shape {arr.shape}, but {of} has {n} points")


def pair(value: Any, name: str, *, optional: bool = True) -> None:
    """An optional point or limits pair of two finite numbers."""
    if value is None and optional:
        return
    arr = as_float_array(value, name, finite=True)
    if arr.shape != (2,):
        raise ValueError(f"{name} must be two numbers, got shape {arr.shape}")


def groups_of(value: Any, name: str, shape: tuple[int, ...], of: str) -> None:
    """A boolean array, or whole numbers 0 and 1, of ``shape`` (the shape of ``of``)."""
    try:
        boolean = isinstance(value, (np.ndarray, list, tuple)) and np.asarray(value).dtype.kind == "b"
    except ValueError:  # ragged: as_int_array says so, naming the argument
        boolean = False
    arr = np.asarray(value) if boolean else as_int_array(value, name, low=0, high=2)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{name} has shape {arr.shape}, but {of} has shape {shape}")

