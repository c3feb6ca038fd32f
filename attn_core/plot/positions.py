"""Figures of chapter 9 (positions): tables of position vectors, RoPE's rotated pairs, recall weights.

Like the rest of :mod:`attn_core.plot`, the functions here draw what the caller computed
onto an Axes and return it; the encodings themselves come from :mod:`attn_core.positions`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Arc
from matplotlib.ticker import NullLocator
from numpy.typing import ArrayLike

from attn_core._checks import flag, index_in, positive_int, positive_number
from attn_core.plot import _checks as check
from attn_core.plot.heatmap import _matrix_image
from attn_core.plot.scoring import _vector_arrows
from attn_core.plot.style import COLORS

__all__ = ["position_heatmap", "rotated_pair", "weights_by_distance"]


def _ticks(n: int, n_ticks: int) -> np.ndarray:
    """About ``n_ticks`` round indices of ``range(n)``, starting at 0."""
    step = max(1, int(np.ceil((n - 1) / max(n_ticks - 1, 1))))
    for nice in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if nice >= step:
            step = nice
            break
    return np.arange(0, n, step)


def position_heatmap(
    ax: Axes,
    matrix: ArrayLike,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    n_ticks: int = 6,
    colorbar: bool = True,
) -> Axes:
    """A large matrix indexed by positions or dimensions, without numbers in the cells.

    Row 0 is at the top; about ``n_ticks`` round indices are labelled on each axis.

    Parameters
    ----------
    ax : Axes
    matrix : array_like, shape (n_rows, n_cols)
        E.g. a table of position vectors (positions x dimensions), or the dot products of
        every pair of position vectors (positions x positions).
    xlabel, ylabel : str
    title : str, optional
    vmin, vmax : float, optional
        The colour range; default the matrix's smallest and largest entries.
    n_ticks : int
        Roughly how many ticks to label on each axis.
    colorbar : bool
        Draw a colour bar beside the map.

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``matrix`` is not two-dimensional.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = position_heatmap(fig.add_subplot(), np.zeros((50, 16)), xlabel="dimension",
    ...                       ylabel="position", colorbar=False)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['0', '10', '20', '30', '40']
    """
    check.check_axes(ax)
    check.matrix(matrix, "matrix")
    check.finite_number(vmin, "vmin", optional=True)
    check.finite_number(vmax, "vmax", optional=True)
    positive_int(n_ticks, "n_ticks")
    flag(colorbar, "colorbar")
    m = np.asarray(matrix, dtype=float)
    image = _matrix_image(ax, m, vmin=vmin, vmax=vmax)
    rows, cols = _ticks(m.shape[0], n_ticks), _ticks(m.shape[1], n_ticks)
    ax.set_yticks(rows, [str(i) for i in rows])
    ax.set_xticks(cols, [str(j) for j in cols])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(length=2)
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.85)
    return ax


def rotated_pair(
    ax: Axes,
    query: ArrayLike,
    key: ArrayLike,
    *,
    query_label: str = "q",
    key_label: str = "k",
    limit: float | None = None,
    title: str | None = None,
) -> Axes:
    """One query and one key in a plane, as arrows, with the angle between them marked.

    Used for one pair of coordinates of a rotary embedding: the caller rotates the vectors
    (:func:`attn_core.positions.rotary_embedding`) and passes the two coordinates of the pair.

    Parameters
    ----------
    ax : Axes
    query, key : array_like, shape (2,)
    query_label, key_label : str
    limit : float, optional
        Show ``[-limit, limit]`` on both axes.
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``query`` or ``key`` is not a 2-D vector.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = rotated_pair(fig.add_subplot(), [1.0, 0.0], [0.0, 1.0])
    >>> ax.texts[-1].get_text()
    '1.57 rad'
    """
    check.check_axes(ax)
    check.vector(query, "query", length=2, of="a vector of the plane")
    check.vector(key, "key", length=2, of="a vector of the plane")
    if limit is not None:
        positive_number(limit, "limit")
    q = np.asarray(query, dtype=float)
    k = np.asarray(key, dtype=float)
    _vector_arrows(ax, k[None, :], [key_label], queries=q[None, :], query_labels=[query_label],
                  limit=limit, title=title)
    angle_k, angle_q = np.arctan2(k[1], k[0]), np.arctan2(q[1], q[0])  # radians
    turn = (angle_q - angle_k + np.pi) % (2 * np.pi) - np.pi  # from k to q, in (-pi, pi]
    start, end = sorted([angle_k, angle_k + turn])
    radius = 0.35 * min(np.hypot(*q), np.hypot(*k))
    ax.add_patch(Arc((0.0, 0.0), 2 * radius, 2 * radius, theta1=np.degrees(start), theta2=np.degrees(end),
                     color=COLORS["dark"], lw=1.2))
    middle = 0.5 * (start + end)
    label_radius = radius + 0.22 * (ax.get_xlim()[1] - ax.get_xlim()[0]) / 2  # clear of the arc
    ax.text(label_radius * np.cos(middle), label_radius * np.sin(middle), f"{abs(turn):.2f} rad",
            ha="center", va="center", fontsize=8, color=COLORS["dark"])
    return ax


def weights_by_distance(
    ax: Axes,
    weights: ArrayLike,
    *,
    marked: int,
    train_length: int,
    title: str | None = None,
    floor: float = 1e-6,
) -> Axes:
    """One query's weights over the keys, by how far back each key is, on a log scale.

    Entry ``j`` of ``weights`` is the weight of the key ``j`` places before the query (0 is
    the query itself). The keys within the training length are shaded, the marked key
    (the one the query should find) gets a dot and a dashed line.

    Parameters
    ----------
    ax : Axes
    weights : array_like, shape (n,)
        Non-negative, by distance back (``weights[0]`` the query's own key).
    marked : int
        Distance of the marked key, ``0 <= marked < n``.
    train_length : int
        Keys at distances below this were seen in training (shaded).
    title : str, optional
    floor : float, default 1e-6
        Smaller weights are drawn at this height (the bottom of the log axis).

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``weights`` not a vector of non-negative numbers; ``marked`` out of range.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = weights_by_distance(fig.add_subplot(), [0.5, 0.1, 0.4], marked=2, train_length=2)
    >>> ax.get_yscale(), ax.get_xlabel()
    ('log', 'distance back from the query')
    """
    check.check_axes(ax)
    w = check.vector(weights, "weights", positive=False)
    if (w < 0).any():
        raise ValueError(f"weights must be >= 0, got {w.min()!r}")
    marked = index_in(marked, w.size, "marked", "key distance")
    train_length = positive_int(train_length, "train_length")
    floor = positive_number(floor, "floor")
    back = np.arange(w.size)
    ax.axvspan(-0.5, min(train_length, w.size) - 0.5, color=COLORS["light"], alpha=0.35, lw=0,
               label=f"distances seen in training (< {train_length})")
    ax.plot(back, np.maximum(w, floor), color=COLORS["main"], lw=1.0, label="weight of each key")
    ax.axvline(marked, color=COLORS["highlight"], lw=1.0, ls="--")
    ax.plot([marked], [max(w[marked], floor)], "o", color=COLORS["highlight"], ms=6,
            label=f"the marked key: {w[marked]:.2f}")
    ax.set_yscale("log")
    ax.set_ylim(floor / 2, 1.5)
    ax.yaxis.set_minor_locator(NullLocator())  # a few labelled decades draw fast (explorer frames)
    ax.set_yticks([10.0 ** e for e in range(int(np.floor(np.log10(floor))), 1, 2)])
    ax.set_xlim(-0.5, w.size - 0.5)
    ax.set_xlabel("distance back from the query")
    ax.set_ylabel("weight")
    ax.legend(loc="upper right", fontsize=7, frameon=False)
    if title is not None:
        ax.set_title(title)
    return ax
