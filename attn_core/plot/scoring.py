"""Figures of chapter 3 (scoring functions): 2-D keys and queries drawn as arrows.

Like the rest of :mod:`attn_core.plot`, the function here draws what the caller passes in
onto an Axes and returns it; it computes no score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import positive_int, positive_number
from attn_core.plot import _checks as check
from attn_core.plot.style import COLORS, _labels, _map_colors

__all__ = ["QUERY_COLOR", "key_colors", "vector_arrows"]

#: The colour of the query arrows.
QUERY_COLOR = COLORS["highlight"]


def key_colors(n: int) -> list:
    """``n`` colours taken evenly from the book's colour map (dark to light green), one per key.

    Raises
    ------
    TypeError, ValueError
        ``n`` is not a whole number >= 1.

    Examples
    --------
    >>> len(key_colors(4))
    4
    """
    return _key_colors(positive_int(n, "n"))


def _key_colors(n: int) -> list:
    return _map_colors(n, 0.0, 0.8)


def _arrow(ax: Axes, tip: np.ndarray, color, width: float):
    return ax.annotate("", xy=tuple(tip), xytext=(0.0, 0.0),
                       arrowprops={"arrowstyle": "-|>", "color": color, "lw": width,
                                   "shrinkA": 0, "shrinkB": 0, "mutation_scale": 12})


def _label_positions(tips: np.ndarray, n_keys: int, pad: float) -> list[tuple[float, float]]:
    """Where to write each arrow's label: just beyond its tip, or beside it if that is covered.

    The label of an arrow whose tip lies on a longer arrow (within 15 degrees of it) would be
    hidden by that arrow, so it goes beside the tip instead: on the anticlockwise side for a
    key, on the clockwise side for a query.
    """
    lengths = np.hypot(tips[:, 0], tips[:, 1])  # (n,)
    directions = tips / np.where(lengths > 0, lengths, 1.0)[:, None]  # (n, 2): unit vectors
    positions = []
    for m, (tip, along, length) in enumerate(zip(tips, directions, lengths)):
        if length == 0:
            positions.append((pad, pad))
            continue
        covered = any(lengths[o] > length and directions[o] @ along > np.cos(np.deg2rad(15))
                      for o in range(len(tips)) if o != m)
        if covered:
            side = 1.0 if m < n_keys else -1.0
            beside = side * np.array([-along[1], along[0]])  # (2,): along turned by 90 degrees
            positions.append(tuple(tip + pad * (0.3 * along + 1.3 * beside)))
        else:
            positions.append(tuple(tip + 1.2 * pad * along))
    return positions


def vector_arrows(
    ax: Axes,
    keys: ArrayLike,
    key_labels: Sequence[str] | None = None,
    *,
    queries: ArrayLike | None = None,
    query_labels: Sequence[str] | None = None,
    limit: float | None = None,
    title: str | None = None,
) -> Axes:
    """Draw 2-D keys (and queries) as arrows from the origin, each labelled at its tip.

    Keys take colours from the book's colour map (:func:`key_colors`), queries are drawn in
    orange. Calling it again on the same Axes with as many keys and queries moves the
    arrows and labels in place, which is what keeps an explorer's frames fast.

    Parameters
    ----------
    ax : Axes
    keys : array_like, shape (n_k, 2)
    key_labels : sequence of str, optional
        One per key; default ``k1, k2, ...``.
    queries : array_like, shape (n_q, 2), optional
    query_labels : sequence of str, optional
        One per query; default ``q1, q2, ...``.
    limit : float, optional
        Show ``[-limit, limit]`` on both axes; default a little more than the longest arrow.
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        Keys or queries that are not 2-D vectors, or labels of the wrong count.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = vector_arrows(fig.add_subplot(), [[1.0, 0.0], [0.0, 2.0]], queries=[[1.0, 1.0]])
    >>> [text.get_text() for text in ax.texts if text.get_text()]   # the arrows carry no text
    ['k1', 'k2', 'q1']
    """
    check.check_axes(ax)
    n_keys = check.matrix(keys, "keys", columns=2).shape[0]
    n_queries = 0 if queries is None else check.matrix(queries, "queries", columns=2).shape[0]
    if key_labels:
        check.labels(key_labels, n_keys, "key_labels", "keys")
    if query_labels:
        check.labels(query_labels, n_queries, "query_labels", "queries")
    if limit is not None:
        positive_number(limit, "limit")
    return _vector_arrows(ax, keys, key_labels, queries=queries, query_labels=query_labels, limit=limit,
                          title=title)


def _vector_arrows(ax: Axes, keys: ArrayLike, key_labels: Sequence[str] | None = None, *,
                   queries: ArrayLike | None = None, query_labels: Sequence[str] | None = None,
                   limit: float | None = None, title: str | None = None) -> Axes:
    """:func:`vector_arrows` without the checks."""
    k = np.asarray(keys, dtype=float)
    q = np.zeros((0, 2)) if queries is None else np.asarray(queries, dtype=float)
    k_labels = _labels(key_labels or [f"k{j + 1}" for j in range(len(k))], len(k), "key_labels")
    q_labels = _labels(query_labels or [f"q{i + 1}" for i in range(len(q))], len(q), "query_labels")
    tips = np.concatenate([k, q])  # (n_k + n_q, 2)
    labels = k_labels + q_labels
    if limit is None:
        limit = 1.25 * float(np.max(np.hypot(tips[:, 0], tips[:, 1]), initial=1.0))
    pad = 0.09 * limit

    state = getattr(ax, "_attn_arrows", None)
    if state is not None and state["count"] == (len(k), len(q)):
        for arrow, text, tip, label, position in zip(state["arrows"], state["texts"], tips, labels,
                                                     _label_positions(tips, len(k), pad)):
            arrow.xy = tuple(tip)
            text.set_position(position)
            text.set_text(label)
        if title is not None:
            ax.set_title(title)
        return ax

    ax.clear()
    colors = _key_colors(len(k)) + [QUERY_COLOR] * len(q)
    widths = [1.8] * len(k) + [3.2] * len(q)
    arrows, texts = [], []
    positions = _label_positions(tips, len(k), pad)
    for j, (tip, label, color, width, position) in enumerate(zip(tips, labels, colors, widths, positions)):
        is_query = j >= len(k)
        arrow = _arrow(ax, tip, color, width)
        arrow.set_zorder(2 if is_query else 3)  # keys on top of a wider query along them
        if is_query:
            arrow.arrow_patch.set_alpha(0.75)
        arrows.append(arrow)
        texts.append(ax.text(*position, label, ha="center", va="center", fontsize=9, color=color,
                             zorder=4))
    ax.axhline(0.0, color=COLORS["muted"], lw=0.6, zorder=0)
    ax.axvline(0.0, color=COLORS["muted"], lw=0.6, zorder=0)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.spines[["top", "right"]].set_visible(False)
    if title is not None:
        ax.set_title(title)
    ax._attn_arrows = {"count": (len(k), len(q)), "arrows": arrows, "texts": texts}
    return ax
