"""Figures of chapter 14 (why attention performs): learning curves and accuracy comparisons.

Like the rest of :mod:`attn_core.plot`, these functions draw what the caller computed onto
an Axes and return it; nothing here trains a model or reads a data set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from . import COLORS, _labels

__all__ = ["READER_STYLES", "learning_curves", "accuracy_bars", "paired_bars"]

#: Line and bar styles of the three readers, by the names the chapter gives them.
READER_STYLES = {
    "attention": {"color": COLORS["main"], "marker": "o"},
    "pooling": {"color": COLORS["muted"], "marker": "s", "linestyle": "--"},
    "recurrent": {"color": COLORS["dark"], "marker": "^", "linestyle": ":"},
}
_FALLBACK_STYLES = ({"color": COLORS["accent"], "marker": "D"}, {"color": "#fde725", "marker": "v"})


def _style(name: str, i: int, styles: Mapping[str, dict] | None) -> dict:
    if styles and name in styles:
        return dict(styles[name])
    return dict(READER_STYLES.get(name, _FALLBACK_STYLES[i % len(_FALLBACK_STYLES)]))


def _reference_lines(ax: Axes, chance: float | None, ceiling: float | None) -> None:
    """Black horizontal lines at chance and at the best accuracy without the pairing.

    They carry legend labels with their levels (a text beside the line would sit on the
    curves that run along it).
    """
    for level, text, style in ((ceiling, "best without pairing", "-."), (chance, "chance", ":")):
        if level is not None:
            ax.axhline(level, color="black", linewidth=0.9, linestyle=style, zorder=0,
                       label=f"{text} ({level:.2f})")


def learning_curves(
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
    """Accuracy against training step (or data size), one line per reader.

    Parameters
    ----------
    ax : Axes
    x : array_like, shape (m,)
        Shared horizontal positions (steps, or numbers of training examples).
    curves : mapping of str -> array_like, shape (m,)
        One curve per reader, by the name in the legend (``"attention"``, ``"pooling"`` and
        ``"recurrent"`` get the styles of :data:`READER_STYLES`).
    chance, ceiling : float, optional
        Draw labelled horizontal lines at chance and at the best accuracy possible without
        knowing which value goes with which key.
    styles : mapping of str -> dict, optional
        matplotlib line options that replace a reader's default style.
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
    ValueError
        A curve whose length differs from ``x``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = learning_curves(new_figure().add_subplot(), [10, 20],
    ...                      {"attention": [0.5, 1.0], "pooling": [0.4, 0.45]}, chance=0.25)
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['attention', 'pooling']
    """
    x = np.asarray(x, dtype=float)
    for i, (name, values) in enumerate(curves.items()):
        y = np.asarray(values, dtype=float)
        if y.shape != x.shape:
            raise ValueError(f"curve {name!r} has shape {y.shape}, x has shape {x.shape}")
        ax.plot(x, y, label=name, markersize=3.5, linewidth=1.6, **_style(name, i, styles))
    if log_x:
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
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
        Labelled horizontal lines, as in :func:`learning_curves`.
    styles : mapping of str -> dict, optional
        Replace a reader's colour (key ``"color"``).
    ylabel, title : str

    Returns
    -------
    Axes

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = accuracy_bars(new_figure().add_subplot(), ["content", "position"],
    ...                    {"attention": [[1.0, 1.0], [0.98, 1.0]], "pooling": [[0.47, 0.46], [0.48, 0.47]]})
    >>> len(ax.patches), [t.get_text() for t in ax.get_xticklabels()]
    (4, ['content', 'position'])
    """
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
        color = _style(reader, i, styles)["color"]
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

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = paired_bars(new_figure().add_subplot(), [0.1, 0.9], [0.8, 0.2], ["0", "1"], correct=(1, 0))
    >>> len(ax.patches), len(ax.texts)
    (4, 6)
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"first and second must be vectors of one length, got {a.shape} and {b.shape}")
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
