"""Figures of chapter 8 (multi-head attention): which query heads share which key/value head.

Like the rest of :mod:`attn_core.plot`, the function here draws onto an Axes what the
caller passes in; the grouping rule itself (query head ``j`` uses key/value head
``j // (n_heads // n_kv_heads)``) is the one :class:`attn_core.MultiHeadAttention` follows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from attn_core._checks import positive_int, positive_number
from attn_core.plot import _checks as check
from attn_core.plot.style import COLORS, _map_colors

__all__ = ["head_grouping"]

#: The outline of a highlighted head and of its line.
HIGHLIGHT_COLOR = COLORS["highlight"]


def _group_colors(n: int) -> list:
    return _map_colors(n, 0.15, 0.85) if n > 1 else _map_colors(1, 0.35, 0.35)


def head_grouping(
    ax: Axes,
    n_heads: int,
    n_kv_heads: int,
    *,
    head_labels: Sequence[str] | None = None,
    highlight: int | None = None,
    title: str | None = None,
    fontsize: float = 8.0,
) -> Axes:
    """Query heads in a row at the top, key/value heads below, a line from each to the one it uses.

    Query head ``j`` is joined to key/value head ``j // (n_heads // n_kv_heads)``; the heads
    of one group share a colour. Calling it again on the same Axes replaces the drawing (its
    boxes, lines and labels) and keeps the Axes' position.

    Parameters
    ----------
    ax : Axes
    n_heads : int
        Query heads ``h``.
    n_kv_heads : int
        Key/value heads; must divide ``n_heads``.
    head_labels : sequence of str, optional
        One label per query head, written under its box; default none.
    highlight : int, optional
        A query head to outline, with its line and its key/value head.
    title : str, optional
    fontsize : float

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``n_kv_heads`` does not divide ``n_heads``; ``highlight`` out of range.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = head_grouping(new_figure().add_subplot(), 4, 2)
    >>> len(ax.lines)   # one line per query head
    4
    """
    check.check_axes(ax)
    positive_int(n_heads, "n_heads")
    positive_int(n_kv_heads, "n_kv_heads")
    check.labels(head_labels, n_heads, "head_labels", "n_heads")
    positive_number(fontsize, "fontsize")
    if n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads={n_kv_heads} must divide n_heads={n_heads}")
    check.optional_index(highlight, n_heads, "highlight", "head index")
    group = n_heads // n_kv_heads
    colors = _group_colors(n_kv_heads)
    if getattr(ax, "_head_grouping", False):  # redraw: cheaper than ax.clear(), which rebuilds the axes
        for artist in [*ax.patches, *ax.lines, *ax.texts]:
            artist.remove()
    else:
        ax.clear()
        ax._head_grouping = True
    box_w, box_h = 0.72, 0.42  # a head's box, in units of the spacing between query heads
    q_y, kv_y = 2.0, 0.0
    kv_x = [g * group + (group - 1) / 2 for g in range(n_kv_heads)]  # under the middle of its group

    def draw_box(x, y, text, color, outlined):
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0.02,rounding_size=0.08", facecolor=color,
                                    edgecolor=HIGHLIGHT_COLOR if outlined else "white",
                                    linewidth=2.5 if outlined else 1.0, zorder=3))
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4,
                color="white" if np.mean(color[:3]) < 0.55 else "black")

    for j in range(n_heads):
        g = j // group
        on = highlight == j
        ax.plot([j, kv_x[g]], [q_y - box_h / 2, kv_y + box_h / 2], color=HIGHLIGHT_COLOR if on else colors[g],
                linewidth=2.5 if on else 1.5, zorder=2 if on else 1)
        draw_box(j, q_y, f"Q{j + 1}", colors[g], on)
        if head_labels is not None:
            ax.text(j, q_y + box_h / 2 + 0.1, head_labels[j], ha="center", va="bottom",
                    fontsize=fontsize - 1)
    for g, x in enumerate(kv_x):
        on = highlight is not None and highlight // group == g
        draw_box(x, kv_y, f"KV{g + 1}", colors[g], on)
    top = q_y + box_h / 2 + (0.75 if head_labels is not None else 0.1)
    ax.set_xlim(-0.6, n_heads - 0.4)
    ax.set_ylim(kv_y - box_h / 2 - 0.1, top)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=fontsize + 1)
    return ax
