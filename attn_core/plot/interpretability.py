"""Figures of chapter 13 (interpretability): values in the plane, weights beside effects.

Like the rest of :mod:`attn_core.plot`, these functions draw what the caller computed onto an
Axes and return it; the effects themselves come from :mod:`attn_core.experiments.interpretability`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import flag
from attn_core.plot import _checks as check
from attn_core.plot.style import COLORS, CYCLE_COLORS, _labels

__all__ = ["SERIES_COLORS", "grouped_bars", "value_plane", "weight_effect_scatter"]

#: Colours of the bar series, in order (weights first, then effects).
SERIES_COLORS = CYCLE_COLORS

#: Outline of a highlighted key (the same orange as a highlighted heatmap row).
HIGHLIGHT_COLOR = COLORS["highlight"]


def grouped_bars(
    ax: Axes,
    series: Mapping[str, ArrayLike],
    labels: Sequence[str] | None = None,
    *,
    ylabel: str = "share",
    ylim: tuple[float, float] | None = (0.0, 1.0),
    highlight: int | None = None,
    title: str | None = None,
    legend: bool | str = "upper right",
    annotate: bool = True,
    fmt: str = "{:.2f}",
) -> Axes:
    """Several numbers per key side by side: e.g. a key's weight beside its measured effect.

    A second call on the same Axes with the same series names and number of keys updates
    the bars, their numbers and the highlight in place.

    Parameters
    ----------
    ax : Axes
    series : mapping of str -> array_like, shape (n,)
        One vector per series, by its legend name; all of one length.
    labels : sequence of str, optional
        One per key.
    ylabel : str
    ylim : (float, float) or None
    highlight : int, optional
        A key whose bars get an orange outline.
    title : str, optional
    legend : bool or str
        A matplotlib ``loc``, or False for none.
    annotate : bool
        Print each value above its bar.
    fmt : str
        Format of the printed values.

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
    >>> ax = grouped_bars(new_figure().add_subplot(), {"weight": [0.7, 0.3], "effect": [0.2, 0.8]},
    ...                   ["A", "B"])
    >>> len(ax.patches), [t.get_text() for t in ax.get_xticklabels()]
    (4, ['A', 'B'])
    """
    check.check_axes(ax)
    if not isinstance(series, Mapping) or not series:
        raise TypeError(f"series must be a non-empty mapping of names to vectors, got {series!r:.60}")
    first = next(iter(series))
    n = check.vector(series[first], f"series[{first!r}]").size
    check.curves(series, "series", n, f"series[{first!r}]")
    check.labels(labels, n, "labels", "each series")
    check.optional_index(highlight, n, "highlight", "key index")
    flag(annotate, "annotate")
    if not isinstance(legend, (bool, np.bool_, str)):
        raise TypeError(f"legend must be True, False or a matplotlib loc string, got {legend!r:.40}")
    names = list(series)
    data = [np.asarray(series[name], dtype=float) for name in names]
    width = 0.8 / len(names)
    offsets = (np.arange(len(names)) - (len(names) - 1) / 2) * width
    state = getattr(ax, "_interp_bars", None)
    if state is not None and state["names"] == names and state["n"] == n:
        for bars, texts, values in zip(state["bars"], state["texts"], data):
            for j, (bar, value) in enumerate(zip(bars, values)):
                bar.set_height(value)
                bar.set_edgecolor(HIGHLIGHT_COLOR if j == highlight else "none")
            for text, value in zip(texts, values):
                text.set_y(value)
                text.set_text(fmt.format(value))
        if title is not None:
            ax.set_title(title)
        return ax

    ax.clear()
    x = np.arange(n)
    all_bars, all_texts = [], []
    for k, (name, values) in enumerate(zip(names, data)):
        bars = ax.bar(x + offsets[k], values, width=width * 0.95, label=name,
                      color=SERIES_COLORS[k % len(SERIES_COLORS)], linewidth=1.8,
                      edgecolor=[HIGHLIGHT_COLOR if j == highlight else "none" for j in range(n)])
        all_bars.append(list(bars))
        texts = []
        if annotate:
            texts = [ax.text(x[j] + offsets[k], v, fmt.format(v), ha="center", va="bottom",
                             fontsize=6.5 if len(names) > 2 or n > 6 else 7) for j, v in enumerate(values)]
        all_texts.append(texts)
    ax.set_xticks(x, _labels(labels, n, "labels"))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=7.5, loc=legend)
    ax._interp_bars = {"names": names, "n": n, "bars": all_bars, "texts": all_texts}
    return ax


def value_plane(
    ax: Axes,
    values: ArrayLike,
    weights: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    output: ArrayLike | None = None,
    moved_output: ArrayLike | None = None,
    moved_label: str = "without",
    highlight: int | None = None,
    readout: ArrayLike | None = None,
    limits: tuple[tuple[float, float], tuple[float, float]] | None = None,
    title: str | None = None,
) -> Axes:
    """Two-dimensional values as points whose area grows with their weight, and the output.

    The output of attention is the weighted average of the values: the centre of mass of
    the points, drawn as a star. An optional hollow star shows another output (e.g. with a
    key removed), joined to the first by an arrow; an optional dotted arrow from the origin
    shows a readout direction. The Axes is cleared and redrawn on every call.

    Parameters
    ----------
    ax : Axes
    values : array_like, shape (n_k, 2)
    weights : array_like, shape (n_k,)
    labels : sequence of str, optional
        One per key, written beside its point with its weight.
    output : array_like, shape (2,), optional
        Default ``weights @ values``.
    moved_output : array_like, shape (2,), optional
    moved_label : str
        Legend entry of the moved output.
    highlight : int, optional
        A key drawn with an orange outline (and crossed out if ``moved_output`` is given).
    readout : array_like, shape (2,), optional
    limits : ((x0, x1), (y0, y1)), optional
        Fixed axis limits, so that several frames share one scale. A value outside them is
        drawn as a marker on the nearest edge, labelled with its coordinates.
    title : str, optional

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
    >>> ax = value_plane(new_figure().add_subplot(), [[0, 0], [1, 1]], [0.25, 0.75], ["A", "B"])
    >>> [t.get_text() for t in ax.texts]
    ['A 0.25', 'B 0.75']
    """
    check.check_axes(ax)
    n = check.matrix(values, "values", columns=2).shape[0]
    check.vector(weights, "weights", length=n, of="values")
    check.labels(labels, n, "labels", "values")
    for name, point in (("output", output), ("moved_output", moved_output), ("readout", readout)):
        check.pair(point, name)
    check.optional_index(highlight, n, "highlight", "key index")
    if limits is not None:
        limits_array = check.matrix(limits, "limits", columns=2)
        if limits_array.shape != (2, 2):
            raise ValueError(f"limits must be ((x0, x1), (y0, y1)); got shape {limits_array.shape}")
    v = np.asarray(values, dtype=float)
    a = np.asarray(weights, dtype=float)
    names = _labels(labels, v.shape[0], "labels")
    out = a @ v if output is None else np.asarray(output, dtype=float)
    ax.clear()
    ax.axhline(0, color=COLORS["muted"], linewidth=0.5, zorder=0)
    ax.axvline(0, color=COLORS["muted"], linewidth=0.5, zorder=0)
    if readout is not None:
        r = np.asarray(readout, dtype=float)
        ax.annotate("", xy=r, xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": COLORS["dark"], "linestyle": ":"})
        ax.text(*(r * 1.04), "readout", fontsize=7, color=COLORS["dark"], ha="left", va="bottom")
    sizes = 30 + 900 * a
    inside = np.ones(a.size, dtype=bool)
    if limits is not None:
        (x0, x1), (y0, y1) = limits
        inside = (v[:, 0] >= x0) & (v[:, 0] <= x1) & (v[:, 1] >= y0) & (v[:, 1] <= y1)
    edges = [HIGHLIGHT_COLOR if j == highlight else "white" for j in range(a.size)]
    ax.scatter(v[inside, 0], v[inside, 1], s=sizes[inside], color=COLORS["main"], alpha=0.75,
               edgecolors=[e for e, i in zip(edges, inside) if i],
               linewidths=[2.0 if j == highlight else 0.5 for j in range(a.size) if inside[j]], zorder=2)
    stacked = {}
    for j, (point, name) in enumerate(zip(v, names)):
        if not inside[j]:  # off the panel: a marker on its edge, pointing the way, with the value
            (x0, x1), (y0, y1) = limits
            margin_x, margin_y = 0.04 * (x1 - x0), 0.04 * (y1 - y0)
            edge = (np.clip(point[0], x0 + margin_x, x1 - margin_x), np.clip(point[1], y0 + margin_y, y1 - margin_y))
            marker = "^" if point[1] > y1 else "v" if point[1] < y0 else ">" if point[0] > x1 else "<"
            ax.scatter(*edge, marker=marker, s=60, color=COLORS["main"], zorder=2,
                       edgecolors=HIGHLIGHT_COLOR if j == highlight else "none", linewidths=2.0)
            ax.annotate(f"{name} {a[j]:.2f}, at ({point[0]:g}, {point[1]:g})", edge,
                        xytext=(8, -2), textcoords="offset points", fontsize=7, va="top")
            continue
        key = (round(point[0], 6), round(point[1], 6))
        shift = stacked.get(key, 0)  # keys with the same value: labels one under the other
        stacked[key] = shift + 1
        ax.annotate(f"{name} {a[j]:.2f}", point, xytext=(9, 4 - 10 * shift), textcoords="offset points",
                    fontsize=7.5, va="center")
        if highlight == j and moved_output is not None:
            ax.scatter(*point, marker="x", s=70, color=HIGHLIGHT_COLOR, zorder=3)
    ax.scatter(*out, marker="*", s=220, color=COLORS["accent"], edgecolors="black", linewidths=0.6,
               zorder=4, label="output")
    if moved_output is not None:
        moved = np.asarray(moved_output, dtype=float)
        ax.annotate("", xy=moved, xytext=out,
                    arrowprops={"arrowstyle": "->", "color": HIGHLIGHT_COLOR, "linewidth": 1.3})
        ax.scatter(*moved, marker="*", s=220, facecolors="none", edgecolors=HIGHLIGHT_COLOR,
                   linewidths=1.2, zorder=4, label=moved_label)
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    ax.set_xlabel("value, first coordinate")
    ax.set_ylabel("value, second coordinate")
    ax.legend(fontsize=7.5, loc="lower right", markerscale=0.6)
    if title is not None:
        ax.set_title(title)
    return ax


def weight_effect_scatter(
    ax: Axes,
    weights: ArrayLike,
    effects: ArrayLike,
    groups: ArrayLike,
    *,
    group_names: tuple[str, str] = ("other keys", "the key asked for"),
    xlabel: str = "attention weight",
    ylabel: str = "effect of removing the key",
    title: str | None = None,
) -> Axes:
    """One point per (example, key): its weight against its measured effect, in two groups.

    Parameters
    ----------
    ax : Axes
    weights, effects : array_like, any shape (flattened)
    groups : array_like of bool, same shape
        True for the points of the second group (drawn on top, in the accent colour).
    group_names : (str, str)
    xlabel, ylabel, title : str

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
    >>> ax = weight_effect_scatter(new_figure().add_subplot(), [0.1, 0.9], [0.2, 5.0], [False, True])
    >>> len(ax.collections)
    2
    """
    check.check_axes(ax)
    shape = np.shape(check.vector(weights, "weights", ravel=True))
    shape_weights = np.shape(weights)
    check.vector(effects, "effects", ravel=True, length=shape[0], of="weights")
    check.groups_of(groups, "groups", shape_weights, "weights")
    if len(group_names) != 2:
        raise ValueError(f"group_names must be two names, got {group_names!r:.60}")
    w = np.asarray(weights, dtype=float).ravel()
    e = np.asarray(effects, dtype=float).ravel()
    g = np.asarray(groups, dtype=bool).ravel()
    for chosen, name, color, marker in ((~g, group_names[0], COLORS["main"], "o"),
                                        (g, group_names[1], COLORS["accent"], "D")):
        ax.scatter(w[chosen], e[chosen], s=9, alpha=0.45, color=color, marker=marker, label=name,
                   linewidths=0)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", markerscale=2)
    return ax
