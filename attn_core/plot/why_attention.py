"""Figures of chapter 1 (why attention): answers side by side, and error against memory size.

Like the rest of :mod:`attn_core.plot`, these functions draw what the caller computed onto
an Axes and return it; nothing here reads a memory or computes a weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core.plot import _checks as check
from attn_core.plot.curves import _named_curves
from attn_core.plot.style import COLORS, _labels

__all__ = ["answer_bars", "retrieval_error_plot"]

def answer_bars(
    ax: Axes,
    values: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    colors: Sequence[str] | None = None,
    xlim: tuple[float, float] | None = None,
    xlabel: str = "value",
    title: str | None = None,
    fmt: str = "{:+.2f}",
) -> Axes:
    """Horizontal bars, one per answer, the first on top, each with its number at its end.

    Used to put several readers' answers beside the true value. A second call on the same
    Axes with as many values updates the bars in place (widths, numbers, colours, title).

    Parameters
    ----------
    ax : Axes
    values : array_like, shape (m,)
        The answers; they may be negative (the bars then grow to the left of 0).
    labels : sequence of str, optional
        One per bar, shown on the vertical axis.
    colors : sequence of str, optional
        One per bar; default the book's main colour.
    xlim : (float, float), optional
        Keep the horizontal range fixed, so that frames of an explorer compare.
    xlabel, title : str
    fmt : str
        Format of the printed numbers.

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``values`` is not a vector, or ``labels``/``colors`` do not have one entry per value.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = answer_bars(fig.add_subplot(), [0.5, -0.25], ["average", "true value"])
    >>> [t.get_text() for t in ax.texts]
    ['+0.50', '-0.25']
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['average', 'true value']
    """
    check.check_axes(ax)
    v = check.vector(values, "values")
    check.labels(labels, v.size, "labels", "values")
    if colors is not None and (isinstance(colors, str) or not hasattr(colors, "__len__")):
        raise TypeError(f"colors must be a sequence of colours, one per value, got {colors!r:.40}")
    check.pair(xlim, "xlim")
    v = np.asarray(values, dtype=float)
    names = _labels(labels, v.size, "labels")
    if colors is None:
        colors = [COLORS["main"]] * v.size
    if len(colors) != v.size:
        raise ValueError(f"colors has {len(colors)} entries for {v.size} bars")

    state = getattr(ax, "_attn_answer_bars", None)
    if state is None or len(state["bars"]) != v.size:
        ax.clear()
        rows = np.arange(v.size)[::-1]  # the first value on top
        bars = ax.barh(rows, v, height=0.6)
        ax.set_yticks(rows, names)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.tick_params(axis="y", length=0)
        ax.spines[["top", "right", "left"]].set_visible(False)
        ax.set_xlabel(xlabel)
        if xlim is not None:
            ax.set_xlim(*xlim)
        texts = [ax.text(0.0, row, "", va="center", fontsize=8,  # readable over grid lines
                         bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3, "alpha": 0.85})
                 for row in rows]
        state = {"bars": list(bars), "texts": texts}
        ax._attn_answer_bars = state
    else:
        ax.set_yticks(ax.get_yticks(), names)
    low, high = ax.get_xlim()
    pad = 0.02 * (high - low)
    for bar, text, value, color in zip(state["bars"], state["texts"], v, colors):
        bar.set_width(value)
        bar.set_color(color)
        text.set_text(fmt.format(value))
        text.set_x(value + pad if value >= 0 else value - pad)
        text.set_horizontalalignment("left" if value >= 0 else "right")
    if title is not None:
        ax.set_title(title)
    return ax


def retrieval_error_plot(
    ax: Axes,
    n_items: ArrayLike,
    errors: Mapping[str, ArrayLike],
    *,
    d_k: int | None = None,
    reference: tuple[str, ArrayLike] | None = None,
    styles: Mapping[str, dict] | None = None,
    xlabel: str = "number of stored items n",
    ylabel: str = "retrieval error (RMS)",
    title: str | None = None,
) -> Axes:
    """Error of several memory readers against the number of stored items, on a log2 axis.

    Parameters
    ----------
    ax : Axes
    n_items : array_like, shape (m,)
        The memory sizes, increasing; they label the horizontal axis.
    errors : mapping of str -> array_like, shape (m,)
        One curve per reader, by its name in the legend.
    d_k : int, optional
        Draw a vertical line at ``n = d_k``, the width of the keys.
    reference : (str, array_like), optional
        A predicted curve (name, values), drawn as a thin dotted black line.
    styles : mapping of str -> dict, optional
        matplotlib line options for some readers; the others get the family "memory readers"
        of :data:`attn_core.plot.style.CURVE_STYLES` in turn.
    xlabel, ylabel, title : str

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        A curve with a different number of points than ``n_items``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = retrieval_error_plot(fig.add_subplot(), [2, 4, 8], {"average": [1, 1, 1]}, d_k=4)
    >>> [line.get_label() for line in ax.get_lines()][:1]
    ['average']
    """
    check.check_axes(ax)
    count = check.vector(n_items, "n_items", positive=True).size
    check.curves(errors, "errors", count, "n_items")
    check.optional_positive_int(d_k, "d_k")
    if reference is not None:
        if not isinstance(reference, tuple) or len(reference) != 2:
            raise TypeError(f"reference must be a (label, curve) pair, got {reference!r:.60}")
        check.vector(reference[1], "reference", length=count, of="n_items")
    n = np.asarray(n_items, dtype=float)
    styles = dict(styles or {})  # the others: CURVE_STYLES["memory readers"] in turn
    curves = dict(errors)
    if reference is not None:
        curves[reference[0]] = reference[1]
        styles[reference[0]] = {"color": "black", "linestyle": ":", "linewidth": 1.2, "marker": ""}
    _named_curves(ax, n, curves, styles=styles, family="memory readers", x_name="n_items")
    ax.set_xscale("log", base=2)
    ax.set_xticks(n, [f"{int(x)}" if float(x).is_integer() else f"{x:g}" for x in n])
    ax.minorticks_off()
    ax.set_ylim(bottom=0.0)
    if d_k is not None:
        ax.axvline(d_k, color=COLORS["muted"], linewidth=1.0, linestyle="-", zorder=0)
        ax.annotate(f"n = d_k = {d_k}", (d_k, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(4, -4), textcoords="offset points", va="top", fontsize=8,
                    color=COLORS["muted"])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax
