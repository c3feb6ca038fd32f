"""The attention heatmap: queries on the rows, keys on the columns, tokens as labels.
"""


from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.image import AxesImage
from numpy.typing import ArrayLike

from attn_core._checks import choice, positive_number
from attn_core.plot import _checks as check
from attn_core.plot.style import CMAP, COLORS, _labels

__all__ = ["matrix_image", "attention_heatmap"]


def matrix_image(
    ax: Axes,
    matrix: ArrayLike,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    gamma: float = 1.0,
    aspect: str = "auto",
    cmap=CMAP,
) -> AxesImage:
    """The one way the book paints a matrix: row 0 on top, one cell per entry, the book's colour map.

    Every map of :mod:`attn_core.plot` (:func:`attention_heatmap`, the large weight maps of
    chapter 10, the position tables of chapter 9) paints its cells with this function and
    then adds its own labels.

    Parameters
    ----------
    ax : Axes
    matrix : array_like, shape (n_rows, n_cols)
    vmin, vmax : float, optional
        The colour range; default the matrix's smallest and largest entries.
    gamma : float, default 1.0
        Exponent of a power colour scale (0.5: square root, so that small values stay
        visible); 1 is linear.
    aspect : {"auto", "equal"}
        "equal" keeps the cells square.
    cmap : colour map, default :data:`~attn_core.plot.style.CMAP`

    Returns
    -------
    AxesImage

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not an Axes; ``matrix`` is not a non-empty matrix of finite numbers (NaN
        is painted as an empty cell); ``vmin``/``vmax`` are not finite numbers; ``gamma``
        is not > 0; an unknown ``aspect``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> image = matrix_image(new_figure().add_subplot(), [[0.0, 1.0], [0.25, 0.5]], vmin=0.0, vmax=1.0)
    >>> image.get_array().shape, image.get_clim()
    ((2, 2), (0.0, 1.0))
    """
    check.check_axes(ax)
    check.matrix(matrix, "matrix")
    check.finite_number(vmin, "vmin", optional=True)
    check.finite_number(vmax, "vmax", optional=True)
    positive_number(gamma, "gamma")
    choice(aspect, ("auto", "equal"), "aspect")
    return _matrix_image(ax, matrix, vmin=vmin, vmax=vmax, gamma=gamma, aspect=aspect, cmap=cmap)


def _matrix_image(ax: Axes, matrix: ArrayLike, *, vmin: float | None = None, vmax: float | None = None,
                  gamma: float = 1.0, aspect: str = "auto", cmap=CMAP) -> AxesImage:
    """:func:`matrix_image` without the checks."""
    if gamma == 1.0:
        return ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect=aspect, interpolation="nearest")
    return ax.imshow(matrix, cmap=cmap, norm=PowerNorm(gamma, vmin=vmin, vmax=vmax), interpolation="nearest",
                     aspect=aspect)


def attention_heatmap(
    ax: Axes,
    weights: ArrayLike,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    annotate: bool | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    fmt: str = "{:.2f}",
    xlabel: str = "keys",
    ylabel: str = "queries",
    title: str | None = None,
    highlight_row: int | None = None,
) -> Axes:
    """Draw a weight (or score) matrix: queries on the rows, keys on the columns.

    Calling it again on the same Axes with a matrix of the same shape updates the picture
    in place (colours, numbers, highlight) instead of drawing a new one, which is what makes
    a live explorer fast.

    Parameters
    ----------
    ax : Axes
    weights : array_like, shape (n_q, n_k)
    row_labels, col_labels : sequence of str, optional
        Tokens for the queries and the keys; default 0, 1, 2, ...
    annotate : bool, optional
        Print each value in its cell; default when the matrix has at most 12 x 12 cells.
    vmin, vmax : float
        The colour range; weights lie in [0, 1].
    fmt : str
        Format of the printed numbers.
    xlabel, ylabel, title : str
    highlight_row : int, optional
        Outline one query's row.

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not an Axes; ``weights`` is not a non-empty matrix of finite numbers;
        labels or ``highlight_row`` do not fit its shape; ``annotate`` is not None, True or
        False; ``vmin``/``vmax`` are not finite numbers.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = attention_heatmap(fig.add_subplot(), [[0.5, 0.5], [0.1, 0.9]], col_labels=["a", "b"])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b']
    """
    check.check_axes(ax)
    n_q, n_k = check.matrix(weights, "weights").shape
    check.labels(row_labels, n_q, "row_labels", "weights (rows)")
    check.labels(col_labels, n_k, "col_labels", "weights (columns)")
    check.optional_flag(annotate, "annotate")
    check.finite_number(vmin, "vmin")
    check.finite_number(vmax, "vmax")
    check.optional_index(highlight_row, n_q, "highlight_row", "query index")
    return _attention_heatmap(ax, weights, row_labels=row_labels, col_labels=col_labels, annotate=annotate,
                              vmin=vmin, vmax=vmax, fmt=fmt, xlabel=xlabel, ylabel=ylabel, title=title,
                              highlight_row=highlight_row)


def _attention_heatmap(ax: Axes, weights: ArrayLike, *, row_labels: Sequence[str] | None = None,
                       col_labels: Sequence[str] | None = None, annotate: bool | None = None,
                       vmin: float = 0.0, vmax: float = 1.0, fmt: str = "{:.2f}", xlabel: str = "keys",
                       ylabel: str = "queries", title: str | None = None,
                       highlight_row: int | None = None) -> Axes:
    """:func:`attention_heatmap` without the checks."""
    w = np.asarray(weights, dtype=float)
    n_q, n_k = w.shape
    state = getattr(ax, "_attn_heatmap", None)
    if state is not None and state["shape"] == w.shape:
        state["image"].set_data(w)
        state["image"].set_clim(vmin, vmax)
        for (i, j), text in np.ndenumerate(state["texts"]) if state["texts"] is not None else ():
            text.set_text(fmt.format(w[i, j]))
            text.set_color(_text_color(w[i, j], vmin, vmax))
        _set_highlight(ax, state, highlight_row, n_k)
        if title is not None:
            ax.set_title(title)
        return ax

    ax.clear()
    image = _matrix_image(ax, w, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(n_k), _labels(col_labels, n_k, "col_labels"), rotation=45 if col_labels else 0,
                  ha="right" if col_labels else "center", rotation_mode="anchor")
    ax.set_yticks(range(n_q), _labels(row_labels, n_q, "row_labels"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(length=0)
    if title is not None:
        ax.set_title(title)
    if annotate is None:
        annotate = n_q <= 12 and n_k <= 12
    texts = None
    if annotate:
        size = 8 if max(n_q, n_k) <= 8 else 6.5
        texts = np.empty((n_q, n_k), dtype=object)
        for (i, j), value in np.ndenumerate(w):
            texts[i, j] = ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=size,
                                  color=_text_color(value, vmin, vmax))
    state = {"shape": w.shape, "image": image, "texts": texts, "box": None}
    ax._attn_heatmap = state
    _set_highlight(ax, state, highlight_row, n_k)
    return ax


def _text_color(value: float, vmin: float, vmax: float) -> str:
    """White on the dark end of viridis, black on the light end."""
    if not np.isfinite(value):
        return "black"
    return "white" if (value - vmin) < 0.6 * (vmax - vmin) else "black"


def _set_highlight(ax: Axes, state: dict, row: int | None, n_k: int) -> None:
    from matplotlib.patches import Rectangle

    if state["box"] is None:
        state["box"] = ax.add_patch(Rectangle((-0.5, -0.5), n_k, 1, fill=False, lw=2.5,
                                              edgecolor=COLORS["highlight"], visible=False))
    state["box"].set_visible(row is not None)
    if row is not None:
        state["box"].set_y(row - 0.5)
