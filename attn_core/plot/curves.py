"""Named curves against a shared axis: one family of lines, styled from one table.
"""


from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import choice, flag
from attn_core.plot import _checks as check
from attn_core.plot.style import CURVE_STYLES, _curve_style

__all__ = ["named_curves", "reference_lines", "accuracy_curves"]


def named_curves(
    ax: Axes, x: ArrayLike, curves: Mapping[str, ArrayLike], *, styles: Mapping[str, dict] | None = None,
    family: str = "default", x_name: str = "x",
) -> Axes:
    """Draw several named curves over the same ``x``, each labelled for the legend.

    Curves without an entry in ``styles`` take their style from the family ``family`` of
    :data:`~attn_core.plot.style.CURVE_STYLES`: in turn, or by name. Lines are 1.8 points
    wide with markers of 3.5 points unless the style says otherwise.

    Parameters
    ----------
    ax : Axes
    x : array_like, shape (m,)
        Shared horizontal positions.
    curves : mapping of str -> array_like, shape (m,)
        One curve per name; the names label the legend.
    styles : mapping of str -> dict, optional
        matplotlib line options for some curves, by name.
    family : str, default "default"
        A family of :data:`~attn_core.plot.style.CURVE_STYLES` for the other curves.
    x_name : str
        What error messages call ``x``.

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not an Axes; an unknown ``family``; ``x`` is not a non-empty vector of
        finite numbers, or a curve has a different number of points.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = named_curves(new_figure().add_subplot(), [1, 2, 3], {"a": [1, 2, 3], "b": [3, 2, 1]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['a', 'b']
    """
    check.check_axes(ax)
    choice(family, CURVE_STYLES, "family")
    check.curves(curves, "curves", check.vector(x, x_name).size, x_name)
    return _named_curves(ax, x, curves, styles=styles, family=family, x_name=x_name)


def _named_curves(ax: Axes, x: ArrayLike, curves: Mapping[str, ArrayLike], *,
                  styles: Mapping[str, dict] | None = None, family: str = "default", x_name: str = "x") -> Axes:
    """:func:`named_curves` without the checks."""
    xs = np.asarray(x, dtype=float)
    for i, (name, curve) in enumerate(curves.items()):
        y = np.asarray(curve, dtype=float)
        if y.shape != xs.shape:
            raise ValueError(f"curve {name!r} has shape {y.shape}, {x_name} has shape {xs.shape}")
        ax.plot(xs, y, label=name, **{"linewidth": 1.8, "markersize": 3.5, **_curve_style(name, i, styles, family)})
    return ax


def reference_lines(ax: Axes, chance: float | None = None, ceiling: float | None = None) -> Axes:
    """Black horizontal lines at the accuracy of guessing and at the best possible without the pairing.

    They carry legend labels with their levels (a text beside the line would sit on the
    curves that run along it).

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes, or an argument is not what the list above says:
        data that is not a non-empty array of finite numbers of that shape (NaN is drawn as
        a gap), lengths that do not match, an index out of range, a flag that is not True
        or False, a whole number given as ``2.0`` or ``True``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = reference_lines(new_figure().add_subplot(), chance=0.125)
    >>> [line.get_label() for line in ax.get_lines()]
    ['chance (0.125)']
    """
    check.check_axes(ax)
    check.level(chance, "chance")
    check.level(ceiling, "ceiling")
    return _reference_lines(ax, chance, ceiling)


def _reference_lines(ax: Axes, chance: float | None, ceiling: float | None) -> Axes:
    """:func:`reference_lines` without the checks."""
    for level, text, style in ((ceiling, "best without pairing", "-."), (chance, "chance", ":")):
        if level is not None:
            ax.axhline(level, color="black", linewidth=0.9, linestyle=style, zorder=0,
                       label=f"{text} ({level:.3g})")
    return ax


def accuracy_curves(
    ax: Axes,
    x: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    chance: float | None = None,
    ceiling: float | None = None,
    styles: Mapping[str, dict] | None = None,
    log_x: bool = False,
    xlabel: str = "training step",
    ylabel: str = "test accuracy",
    title: str | None = None,
    legend: bool | str = "outside",
) -> Axes:
    """Accuracy against a shared horizontal axis (training step, data size, distance), one line per model.

    Parameters
    ----------
    ax : Axes
    x : array_like, shape (m,)
        Shared horizontal positions.
    curves : mapping of str -> array_like, shape (m,)
        One curve per model, values in [0, 1], by its name in the legend (``"attention"``,
        ``"pooling"`` and ``"recurrent"`` get the styles of :data:`~attn_core.plot.style.READER_STYLES`, the family
        ``"readers"`` of :data:`~attn_core.plot.style.CURVE_STYLES`).
    chance, ceiling : float, optional
        Labelled horizontal lines at chance and at the best accuracy possible without
        knowing which value goes with which key (:func:`reference_lines`).
    styles : mapping of str -> dict, optional
        matplotlib line options that replace a curve's default style.
    log_x : bool
        A logarithmic horizontal axis labelled with the values of ``x``.
    xlabel, ylabel, title : str
    legend : bool or str
        Where to put the legend: ``"outside"`` (right of the axes, clear of the curves), a
        matplotlib ``loc``, or False for none (e.g. when a figure of several panels has one
        legend of its own).

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not an Axes; ``x`` is not a non-empty vector of finite numbers (> 0 with
        ``log_x``), or a curve has a different number of points; ``chance`` or ``ceiling``
        outside [0, 1]; ``log_x`` is not True or False.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = accuracy_curves(new_figure().add_subplot(), [10, 20],
    ...                      {"attention": [0.5, 1.0], "pooling": [0.4, 0.45]}, chance=0.25)
    >>> [line.get_label() for line in ax.get_lines()]
    ['attention', 'pooling', 'chance (0.25)']
    """
    check.check_axes(ax)
    xs = check.vector(x, "x", positive=flag(log_x, "log_x"))
    check.curves(curves, "curves", xs.size, "x")
    check.level(chance, "chance")
    check.level(ceiling, "ceiling")
    if not (isinstance(legend, (bool, np.bool_, str))):
        raise TypeError(f"legend must be True, False or a matplotlib loc string, got {legend!r:.40}")
    _named_curves(ax, x, curves, styles=styles, family="readers")
    if log_x:
        xs = np.asarray(x, dtype=float)
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        ax.minorticks_off()
    ax.set_ylim(0.0, 1.05)
    _reference_lines(ax, chance, ceiling)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend is True or legend == "outside":
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    elif legend:
        ax.legend(fontsize=8, loc=legend)
    return ax
