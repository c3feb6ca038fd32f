"""Figures of chapter 15 (attention at inference time): decoding steps against the ridge point.

:func:`decode_intensity_bars` draws one bar per model: the arithmetic intensity of its
decoding step against an accelerator's ridge point (the roofline itself is chapter 11's
:func:`~attn_core.plot.efficiency.roofline`), marking the steps whose weights and cache do
not fit in a server's memory. The bytes of a decoding step are drawn by chapter 8's
:func:`~attn_core.plot.multihead.decode_bytes_bars`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from attn_core._checks import positive_number
from attn_core.plot import _checks as check
from attn_core.plot.style import COLORS

__all__ = ["decode_intensity_bars"]


def decode_intensity_bars(
    ax: Axes,
    labels: Sequence[str],
    intensities: Sequence[float],
    *,
    ridge: float,
    fits: Sequence[bool] | None = None,
    xlim: tuple[float, float] = (0.5, 2000.0),
    title: str | None = None,
    fontsize: float = 8.0,
) -> Axes:
    """One horizontal bar per step: its FLOPs per byte on a log axis, against the ridge point.

    A bar left of the dashed ridge line is a memory-bound step (blue), one that reaches past
    it a compute-bound step (green). A step marked as not fitting (``fits`` False) is drawn
    pale and hatched, with "does not fit" after its value: a server could not run it.

    Parameters
    ----------
    ax : Axes
    labels : sequence of str
        One per bar, top to bottom.
    intensities : sequence of float
        FLOP per byte, > 0, one per bar.
    ridge : float
        The accelerator's ridge point, FLOP per byte, > 0.
    fits : sequence of bool, optional
        Whether each step's weights and cache fit in memory; default all do.
    xlim : (float, float), default (0.5, 2000)
        The range of the intensity axis, both > 0, increasing.
    title : str, optional
    fontsize : float

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``labels`` not one string per bar; intensities not finite and > 0; ``ridge`` not a
        number > 0; ``fits`` not one True/False per bar; ``xlim`` not two increasing numbers > 0.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = decode_intensity_bars(new_figure().add_subplot(), ["a", "b"], [2.0, 500.0], ridge=295.0)
    >>> [float(bar.get_width()) for bar in ax.patches]
    [2.0, 500.0]
    """
    check.check_axes(ax)
    values = check.vector(intensities, "intensities", positive=True)
    check.labels(labels, values.size, "labels", "intensities", optional=False, text_only=True)
    ridge = positive_number(ridge, "ridge")
    if fits is None:
        fitting = [True] * values.size
    else:
        if isinstance(fits, (str, bytes)) or not isinstance(fits, Sequence) or len(fits) != values.size \
                or not all(isinstance(f, (bool, np.bool_)) for f in fits):
            raise TypeError(f"fits must be one True/False per bar ({values.size}), got {fits!r:.60}")
        fitting = [bool(f) for f in fits]
    check.pair(xlim, "xlim", optional=False)
    low, high = (positive_number(x, "xlim") for x in xlim)
    if not low < high:
        raise ValueError(f"xlim must be increasing, got {tuple(xlim)}")
    positive_number(fontsize, "fontsize")
    ax.clear()
    rows = np.arange(values.size)[::-1]  # the first label on top
    for row, value, fit in zip(rows, values, fitting):
        color = COLORS["accent"] if value >= ridge else COLORS["main"]
        ax.barh([row], [value], color=color, height=0.6, alpha=1.0 if fit else 0.35,
                hatch=None if fit else "//", edgecolor=color)
        note = f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"
        note += "" if fit else ", does not fit"
        ax.text(min(value, high) * 1.08, row, note, va="center", fontsize=fontsize)
    ax.axvline(ridge, color=COLORS["highlight"], linestyle="--", linewidth=1)
    ax.text(ridge * 0.92, values.size - 0.45, f"ridge {ridge:,.0f}", ha="right", fontsize=fontsize - 1,
            color=COLORS["highlight"])
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(-0.6, values.size - 0.2)
    ax.minorticks_off()
    ax.set_yticks(rows, list(labels), fontsize=fontsize)
    ax.set_xlabel("FLOP per byte (left of the ridge: memory-bound)", fontsize=fontsize)
    ax.tick_params(axis="x", labelsize=fontsize)
    if title is not None:
        ax.set_title(title, fontsize=fontsize + 1)
    return ax
