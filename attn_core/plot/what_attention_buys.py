"""Figures of chapter 12 (what attention buys): sensitivity by distance, per-pair bars, paired bars.

Learning curves, accuracy by distance and probe accuracy are drawn by
:func:`~attn_core.plot.curves.accuracy_curves`, with the styles of :data:`BUYS_STYLES` (one per
reader of the chapter, the query-first controls dashed in their reader's colour).

Like the rest of :mod:`attn_core.plot`, these functions draw what the caller computed onto
an Axes and return it; nothing here runs a model or differentiates anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import flag
from attn_core.plot import _checks as check
from attn_core.plot.bars import _weight_bars
from attn_core.plot.curves import _named_curves
from attn_core.plot.style import COLORS, _labels

__all__ = ["BUYS_STYLES", "pair_bars", "paired_bars", "sensitivity_plot"]

#: Line styles of the chapter's readers, by the names of
#: :data:`attn_core.experiments.what_attention_buys.READERS` (and ", query first" for the controls,
#: ", untrained" for a reader at its initial weights, ", lr 0.001" etc. for the runs at the other
#: learning rates, thin and in their reader's colour).
BUYS_STYLES: dict[str, dict] = {
    "attention": {"color": COLORS["main"], "marker": "o"},
    "elman": {"color": COLORS["dark"], "marker": "^", "linestyle": ":"},
    "gru": {"color": COLORS["accent"], "marker": "v", "linestyle": "-."},
    "mean pooling": {"color": COLORS["muted"], "marker": "s", "linestyle": "--"},
    "deep sets": {"color": COLORS["highlight"], "marker": "D", "linestyle": "--"},
    "elman, query first": {"color": COLORS["dark"], "marker": "", "linestyle": "-", "alpha": 0.6},
    "gru, query first": {"color": COLORS["accent"], "marker": "", "linestyle": "-", "alpha": 0.6},
}
for _reader in ("attention", "elman", "gru", "mean pooling", "deep sets"):
    BUYS_STYLES[f"{_reader}, untrained"] = {"color": BUYS_STYLES[_reader]["color"], "marker": "",
                                            "linestyle": "-", "linewidth": 0.8, "alpha": 0.5}
    for _rate in ("0.001", "0.003", "0.01"):
        BUYS_STYLES[f"{_reader}, lr {_rate}"] = {"color": BUYS_STYLES[_reader]["color"], "marker": "",
                                                 "linestyle": "-", "linewidth": 0.8, "alpha": 0.5}
del _reader, _rate


def sensitivity_plot(
    ax: Axes,
    distances: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    log: bool = True,
    reference: tuple[str, float] | None = None,
    styles: Mapping[str, dict] | None = None,
    xlabel: str = "distance n − t (steps back)",
    ylabel: str = r"sensitivity $\|\partial o / \partial x_t\|$",
    title: str | None = None,
) -> Axes:
    """Sensitivity of an output to an input, against how far back the input lies.

    On the default log axis an exponential decay (or growth) with distance is a straight line.

    Parameters
    ----------
    ax : Axes
    distances : array_like, shape (m,)
    curves : mapping of str -> array_like, shape (m,)
        One positive curve per model, by its name in the legend.
    log : bool, default True
        Logarithmic vertical axis; otherwise linear, starting at 0.
    reference : (str, float), optional
        A level to compare with (name, value), drawn as a dotted horizontal line.
    styles : mapping of str -> dict, optional
        matplotlib line options for some curves; the others get the book's defaults in turn.
    xlabel, ylabel, title : str

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        A curve with a different number of points than ``distances``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = sensitivity_plot(new_figure().add_subplot(), [1, 2, 3], {"chain": [0.5, 0.25, 0.125]})
    >>> ax.get_yscale(), [line.get_label() for line in ax.get_lines()]
    ('log', ['chain'])
    """
    check.check_axes(ax)
    check.curves(curves, "curves", check.vector(distances, "distances").size, "distances")
    flag(log, "log")
    if reference is not None:
        if not isinstance(reference, tuple) or len(reference) != 2:
            raise TypeError(f"reference must be a (label, level) pair, got {reference!r:.60}")
        check.finite_number(reference[1], "reference")
    _named_curves(ax, distances, curves, styles=styles, x_name="distances")
    if reference is not None:
        ax.axhline(reference[1], color="black", linestyle=":", linewidth=1.2, label=reference[0])
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def pair_bars(
    ax: Axes,
    heights: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    highlight: int | None = None,
    log: bool = False,
    ylim: tuple[float, float] | None = None,
    xlabel: str = "pair",
    ylabel: str = "weight",
    title: str | None = None,
) -> Axes:
    """One bar per pair of a sequence, the queried pair in the accent colour (:func:`~attn_core.plot.bars.weight_bars`).

    A second call on the same Axes with as many bars and the same kind of axis updates the
    picture in place (heights, colours, labels, range, title), which keeps an explorer's
    frames cheap; otherwise the Axes is cleared and drawn again, so that successive calls
    may switch between a linear axis (weights) and a log axis (sensitivities).

    Parameters
    ----------
    ax : Axes
    heights : array_like, shape (L,)
        Positive when ``log`` is True.
    labels : sequence of str, optional
        One tick label per pair.
    highlight : int, optional
        Index of the bar to draw in the accent colour.
    log : bool, default False
        Logarithmic vertical axis.
    ylim : (float, float), optional
        Keep the vertical range fixed, so that frames of an explorer compare.
    xlabel, ylabel, title : str

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``heights`` is not a vector, or non-positive heights on a log axis.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = pair_bars(new_figure().add_subplot(), [0.1, 0.9], ["A", "B"], highlight=1)
    >>> [p.get_facecolor() == ax.patches[0].get_facecolor() for p in ax.patches]
    [True, False]
    """
    check.check_axes(ax)
    h = check.vector(heights, "heights")
    if flag(log, "log") and not (h > 0).all():
        raise ValueError("heights must all be > 0 on a log axis")
    check.labels(labels, h.size, "labels", "heights")
    check.optional_index(highlight, h.size, "highlight", "pair index")
    check.pair(ylim, "ylim")
    h = np.asarray(heights, dtype=float)
    names = _labels(labels, h.size, "labels")
    _weight_bars(ax, h, names, highlight=highlight, ylim=None, ylabel=ylabel, title=None, annotate=False,
                 log=log)
    ax.set_xticks(range(h.size), names, fontsize=7)  # the labels change with the sequence
    ax.tick_params(axis="x", length=0)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    if title is not None:
        ax.set_title(title, fontsize=10)
    return ax


def paired_bars(
    ax: Axes,
    first: ArrayLike,
    second: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    names: tuple[str, str] = ("memory A", "memory B"),
    correct: tuple[int, int] | None = None,
    ylabel: str = "predicted probability",
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """Two distributions side by side, one pair of bars per outcome, right answers starred.

    Parameters
    ----------
    ax : Axes
    first, second : array_like, shape (m,)
        E.g. the probabilities one reader gives each value for two memories.
    labels : sequence of str, optional
        One per outcome.
    names : (str, str)
        Legend entries of the two distributions.
    correct : (int, int), optional
        Index of the right answer for the first and for the second; a star marks each.
    ylabel, title : str
    legend : bool

    Returns
    -------
    Axes

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
    >>> ax = paired_bars(new_figure().add_subplot(), [0.1, 0.9], [0.8, 0.2], ["0", "1"], correct=(1, 0))
    >>> len(ax.patches), len(ax.texts)
    (4, 6)
    """
    check.check_axes(ax)
    size = check.vector(first, "first").size
    check.vector(second, "second", length=size, of="first")
    check.labels(labels, size, "labels", "first")
    if not isinstance(names, (tuple, list)) or len(names) != 2:
        raise TypeError(f"names must be two names, got {names!r:.60}")
    if correct is not None:
        if not isinstance(correct, (tuple, list)) or len(correct) != 2:
            raise TypeError(f"correct must be a pair of indices, got {correct!r:.60}")
        for index in correct:
            check.optional_index(index, size, "correct", "bar index")
    flag(legend, "legend")
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    ticks = _labels(labels, a.size, "labels")
    x = np.arange(a.size)
    colors = (COLORS["main"], COLORS["accent"])
    for offset, p, name, color in ((-0.2, a, names[0], colors[0]), (0.2, b, names[1], colors[1])):
        ax.bar(x + offset, p, width=0.38, color=color, label=name)
        for xi, pi in zip(x + offset, p):
            ax.text(xi, pi + 0.01, f"{pi:.2f}", ha="center", va="bottom", fontsize=7)
    if correct is not None:
        for offset, index, p in ((-0.2, correct[0], a), (0.2, correct[1], b)):
            ax.text(index + offset, p[index] + 0.09, "★", ha="center", va="bottom", fontsize=10,
                    color="black")
    ax.set_xticks(x, ticks)
    ax.set_ylim(0.0, 1.25)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=8, loc="upper left", ncol=2)
    return ax
