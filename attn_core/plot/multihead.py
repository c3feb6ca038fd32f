"""Figures of chapter 8 (multi-head attention): which query heads share which key/value head, and
what one decoding step reads from memory.

Like the rest of :mod:`attn_core.plot`, the functions here draw onto an Axes what the
caller passes in; the grouping rule itself (query head ``j`` uses key/value head
``j // (n_heads // n_kv_heads)``, heads counted from 0) is the one
:class:`attn_core.MultiHeadAttention` follows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from attn_core._checks import positive_int, positive_number
from attn_core.plot import _checks as check
from attn_core.plot.style import COLORS, _map_colors

__all__ = ["head_grouping", "decode_bytes_bars"]

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
    of one group share a colour. Heads are labelled from 0 (``Q0``, ``KV0``), as in Python. Calling it again on the same Axes replaces the drawing (its
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
        draw_box(j, q_y, f"Q{j}", colors[g], on)
        if head_labels is not None:
            ax.text(j, q_y + box_h / 2 + 0.1, head_labels[j], ha="center", va="bottom",
                    fontsize=fontsize - 1)
    for g, x in enumerate(kv_x):
        on = highlight is not None and highlight // group == g
        draw_box(x, kv_y, f"KV{g}", colors[g], on)
    top = q_y + box_h / 2 + (0.75 if head_labels is not None else 0.1)
    ax.set_xlim(-0.6, n_heads - 0.4)
    ax.set_ylim(kv_y - box_h / 2 - 0.1, top)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=fontsize + 1)
    return ax


def decode_bytes_bars(
    ax: Axes,
    labels: Sequence[str],
    weight_bytes: Sequence[float],
    cache_bytes: Sequence[float],
    *,
    bytes_per_second: float | None = None,
    xmax: float | None = None,
    title: str | None = None,
    fontsize: float = 8.0,
) -> Axes:
    """One horizontal bar per row: the gigabytes a decoding step reads, weights then cache.

    Each bar is split into the weights (grey) and the key/value cache (blue); the text at its
    end gives the total, the cache's share and, with ``bytes_per_second``, the time the step
    takes to read them at that bandwidth.

    Parameters
    ----------
    ax : Axes
    labels : sequence of str
        One per bar, top to bottom.
    weight_bytes, cache_bytes : sequence of float
        Bytes, one per bar, >= 0.
    bytes_per_second : float, optional
        A memory bandwidth; adds the time to read each bar.
    xmax : float, optional
        The right end of the axis in GB; default a little more than the longest bar.
    title : str, optional
    fontsize : float

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``labels`` not one string per bar; bytes that are negative, infinite or of other
        lengths; ``bytes_per_second`` or ``xmax`` not a number > 0.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = decode_bytes_bars(new_figure().add_subplot(), ["a", "b"], [2e9, 2e9], [1e9, 4e9])
    >>> len(ax.patches)   # a weights bar and a cache bar per row
    4
    """
    check.check_axes(ax)
    weights = check.vector(weight_bytes, "weight_bytes")
    cache = check.vector(cache_bytes, "cache_bytes", length=weights.size, of="weight_bytes")
    check.labels(labels, weights.size, "labels", "weight_bytes", optional=False, text_only=True)
    if (weights < 0).any() or (cache < 0).any():
        raise ValueError("weight_bytes and cache_bytes must be >= 0")
    if bytes_per_second is not None:
        bytes_per_second = positive_number(bytes_per_second, "bytes_per_second")
    if xmax is not None:
        xmax = positive_number(xmax, "xmax")
    positive_number(fontsize, "fontsize")
    ax.clear()
    rows = np.arange(weights.size)[::-1]  # the first label on top
    weights_gb, cache_gb = weights / 1e9, cache / 1e9
    ax.barh(rows, weights_gb, color=COLORS["muted"], height=0.6, label="weights")
    ax.barh(rows, cache_gb, left=weights_gb, color=COLORS["main"], height=0.6, label="key/value cache")
    total = weights_gb + cache_gb
    right = xmax if xmax is not None else 1.9 * max(total.max(), 1e-9)
    for row, w_gb, c_gb in zip(rows, weights_gb, cache_gb):
        share = c_gb / max(w_gb + c_gb, 1e-30)
        note = f"{w_gb + c_gb:,.1f} GB, cache {share:.0%}" if share >= 0.1 or share == 0 else \
            f"{w_gb + c_gb:,.1f} GB, cache {share:.1%}"
        if bytes_per_second is not None:
            note += f", {(w_gb + c_gb) * 1e9 / bytes_per_second * 1e3:,.1f} ms"
        ax.text(min(w_gb + c_gb, right) + 0.01 * right, row, note, va="center", fontsize=fontsize)
    ax.set_yticks(rows, list(labels), fontsize=fontsize)
    ax.set_xlim(0, right)
    ax.set_xlabel("GB read from memory per step", fontsize=fontsize)
    ax.tick_params(axis="x", labelsize=fontsize)
    ax.legend(fontsize=fontsize - 1, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    if title is not None:
        ax.set_title(title, fontsize=fontsize + 1)
    return ax
