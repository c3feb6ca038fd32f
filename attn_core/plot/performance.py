"""Figures of chapter 14 (why attention performs): accuracy comparisons as bars.

Its learning curves are drawn by :func:`~attn_core.plot.curves.accuracy_curves`, which chapter 12 shares.

Like the rest of :mod:`attn_core.plot`, these functions draw what the caller computed onto
an Axes and return it; nothing here trains a model or reads a data set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import flag
from attn_core.plot import _checks as check
from attn_core.plot.curves import _reference_lines
from attn_core.plot.style import COLORS, _curve_style, _labels

__all__ = ["accuracy_bars", "paired_bars"]


def accuracy_bars(
    ax: Axes,
    groups: Sequence[str],
    results: Mapping[str, ArrayLike],
    *,
    chance: float | None = None,
    ceiling: float | None = None,
    styles: Mapping[str, dict] | None = None,
    ylabel: str = "test accuracy",
    title: str | None = None,
) -> Axes:
    """Grouped bars: one group per task, one bar per reader at its mean, every run as a dot.

    Parameters
    ----------
    ax : Axes
    groups : sequence of str
        The tasks, labelling the groups on the horizontal axis.
    results : mapping of str -> array_like, shape (n_runs, n_groups)
        For each reader, the accuracy of every run (e.g. one row per seed) on every task. The
        bar stands at the mean, a whisker spans the lowest to the highest run, and each run
        is a dot.
    chance, ceiling : float, optional
        Labelled horizontal lines, as in :func:`~attn_core.plot.curves.accuracy_curves`.
    styles : mapping of str -> dict, optional
        Replace a reader's colour (key ``"color"``).
    ylabel, title : str

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
    >>> ax = accuracy_bars(new_figure().add_subplot(), ["content", "position"],
    ...                    {"attention": [[1.0, 1.0], [0.98, 1.0]], "pooling": [[0.47, 0.46], [0.48, 0.47]]})
    >>> len(ax.patches), [t.get_text() for t in ax.get_xticklabels()]
    (4, ['content', 'position'])
    """
    check.check_axes(ax)
    if groups is None or isinstance(groups, (str, bytes)) or not hasattr(groups, "__len__"):
        raise TypeError(f"groups must be a sequence of group names, got {groups!r:.60}")
    if len(groups) == 0:
        raise ValueError("groups must name at least one group, got an empty sequence")
    check.labels(groups, len(groups), "groups", "groups", text_only=True)
    check.curves(results, "results", len(groups), "groups", max_ndim=2)
    check.level(chance, "chance")
    check.level(ceiling, "ceiling")
    names = _labels(groups, len(groups), "groups")
    n_readers = len(results)
    width = 0.8 / max(n_readers, 1)
    centres = np.arange(len(names))
    for i, (reader, runs) in enumerate(results.items()):
        r = np.asarray(runs, dtype=float)
        if r.ndim == 1:
            r = r[None, :]
        if r.ndim != 2 or r.shape[1] != len(names):
            raise ValueError(f"results[{reader!r}] must be (n_runs, {len(names)}), got shape {r.shape}")
        x = centres - 0.4 + width * (i + 0.5)
        color = _curve_style(reader, i, styles, family="readers")["color"]
        mean = r.mean(axis=0)
        ax.bar(x, mean, width=width * 0.9, color=color, label=reader)
        ax.vlines(x, r.min(axis=0), r.max(axis=0), color="black", linewidth=1.2)
        for run in r:
            ax.plot(x, run, linestyle="none", marker="o", markersize=3, color="black", alpha=0.6)
        for xi, m in zip(x, mean):
            ax.text(xi, min(m, 1.0) + 0.02, f"{m:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(centres, names)
    ax.set_ylim(0.0, 1.12)
    _reference_lines(ax, chance, ceiling)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title is not None:
        ax.set_title(title)
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
