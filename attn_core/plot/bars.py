"""One row of attention weights as bars, one bar per key.
"""


from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import flag
from attn_core.plot import _checks as check
from attn_core.plot.style import COLORS, _labels

__all__ = ["weight_bars"]

def weight_bars(
    ax: Axes,
    weights: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    highlight: int | None = None,
    ylim: tuple[float, float] | None = (0.0, 1.0),
    ylabel: str = "weight",
    title: str | None = None,
    annotate: bool = True,
    log: bool = False,
) -> Axes:
    """Bar chart of one row of weights, one bar per key; optionally highlight one key.

    Like :func:`~attn_core.plot.heatmap.attention_heatmap`, a second call with as many weights (and the same kind of
    vertical axis) updates the bars in place; otherwise the Axes is cleared and drawn again.
    The book's one bar chart of a row: other modules draw their rows of bars with it.

    Parameters
    ----------
    ax : Axes
    weights : array_like, shape (n_k,)
    labels : sequence of str, optional
        One per key.
    highlight : int, optional
        Index of a key to draw in the accent colour (e.g. the right answer).
    ylim : (float, float) or None
    ylabel, title : str
    annotate : bool
        Print each weight above its bar.
    log : bool, default False
        A logarithmic vertical axis (every height must then be > 0).

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not an Axes; ``weights`` is not a non-empty vector of finite numbers (NaN
        is drawn as no bar); ``labels`` or ``highlight`` do not fit its length; a flag is not
        True or False; ``log`` with a height <= 0.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = weight_bars(fig.add_subplot(), [0.2, 0.8], ["cat", "mat"], highlight=1)
    >>> len(ax.patches)
    2
    """
    check.check_axes(ax)
    n = check.vector(weights, "weights").size
    check.labels(labels, n, "labels", "weights")
    check.optional_index(highlight, n, "highlight", "key index")
    flag(annotate, "annotate")
    if flag(log, "log") and not (np.asarray(weights, dtype=float) > 0).all():
        raise ValueError("weights must all be > 0 on a log axis")
    return _weight_bars(ax, weights, labels, highlight=highlight, ylim=ylim, ylabel=ylabel, title=title,
                        annotate=annotate, log=log)


def _weight_bars(ax: Axes, weights: ArrayLike, labels: Sequence[str] | None, *, highlight: int | None,
                 ylim: tuple[float, float] | None, ylabel: str, title: str | None, annotate: bool,
                 log: bool) -> Axes:
    """:func:`weight_bars` without the checks."""
    w = np.asarray(weights, dtype=float)
    colors = [COLORS["accent"] if j == highlight else COLORS["main"] for j in range(w.size)]
    state = getattr(ax, "_attn_bars", None)
    if state is not None and len(state["bars"]) == w.size and state["log"] == log:
        for bar, height, color in zip(state["bars"], w, colors):
            bar.set_height(height)
            bar.set_color(color)
        for text, height in zip(state["texts"], w):
            text.set_y(height)
            text.set_text(f"{height:.2f}")
        if title is not None:
            ax.set_title(title)
        return ax

    ax.clear()
    bars = ax.bar(range(w.size), w, color=colors)
    if log:
        ax.set_yscale("log")
    ax.set_xticks(range(w.size), _labels(labels, w.size, "labels"))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    texts = []
    if annotate:
        texts = [ax.text(j, h, f"{h:.2f}", ha="center", va="bottom", fontsize=7) for j, h in enumerate(w)]
    ax._attn_bars = {"bars": list(bars), "texts": texts, "log": log}
    return ax
