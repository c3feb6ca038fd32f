"""Figures of chapter 7 (masking): a boolean mask drawn as a map of permissions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from numpy.typing import ArrayLike

from attn_core.plot import _checks as check
from attn_core.plot.heatmap import _attention_heatmap

__all__ = ["mask_heatmap", "MARK_COLOR"]

#: Outline of the cells a reader toggled (distinct from the orange row highlight).
MARK_COLOR = "#e03131"


def mask_heatmap(
    ax: Axes,
    mask: ArrayLike,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = "mask (1 = may attend)",
    highlight_row: int | None = None,
    marked: Iterable[tuple[int, int]] = (),
    annotate: bool | None = None,
) -> Axes:
    """Draw a boolean mask, queries on the rows and keys on the columns: 1 = may attend.

    Allowed cells are the bright end of the book's colour map, blocked cells the dark end,
    and each cell prints 1 or 0. Like :func:`~attn_core.plot.heatmap.attention_heatmap`, a second
    call on the same Axes updates the picture in place.

    Parameters
    ----------
    ax : Axes
    mask : array_like of bool, shape (n_q, n_k)
    row_labels, col_labels : sequence of str, optional
    title : str, optional
    highlight_row : int, optional
        Outline one query's row.
    marked : iterable of (int, int)
        Cells ``(query, key)`` to outline with a dashed box (e.g. cells the reader toggled).
    annotate : bool, optional
        Print 1 or 0 in each cell; default when the mask has at most 12 x 12 cells.

    Returns
    -------
    Axes

    Raises
    ------
    TypeError
        ``mask`` is not boolean.
    ValueError
        ``mask`` is not a matrix, or a marked cell lies outside it.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> import attn_core as ac
    >>> ax = mask_heatmap(new_figure().add_subplot(), ac.causal_mask(3), marked=[(0, 2)])
    >>> [t.get_text() for t in ax.texts[:3]], [p.get_linestyle() for p in ax.patches if p.get_visible()]
    (['1', '0', '0'], ['--'])
    """
    check.check_axes(ax)
    if mask is None or isinstance(mask, (str, bytes)):
        raise TypeError(f"mask must be a boolean matrix (True = may attend), got {mask!r:.40}")
    m = np.asarray(mask)
    if m.dtype.kind != "b":
        raise TypeError(f"mask must be boolean (True = may attend), got dtype {m.dtype}")
    if m.ndim != 2:
        raise ValueError(f"mask must be a matrix (n_q, n_k), got shape {m.shape}")
    if m.size == 0:
        raise ValueError(f"mask must not be empty; got shape {m.shape}")
    check.labels(row_labels, m.shape[0], "row_labels", "mask (rows)")
    check.labels(col_labels, m.shape[1], "col_labels", "mask (columns)")
    check.optional_index(highlight_row, m.shape[0], "highlight_row", "query index")
    check.optional_flag(annotate, "annotate")
    marked = list(marked)
    for cell in marked:
        if (not isinstance(cell, (tuple, list)) or len(cell) != 2
                or any(isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)) for i in cell)):
            raise TypeError(f"marked must hold (row, column) pairs of whole numbers, got {cell!r:.40}")
        if not (0 <= cell[0] < m.shape[0] and 0 <= cell[1] < m.shape[1]):
            raise ValueError(f"marked cell {tuple(cell)} lies outside the mask of shape {m.shape}")
    _attention_heatmap(ax, m.astype(float), row_labels=row_labels, col_labels=col_labels, fmt="{:.0f}",
                      title=title, highlight_row=highlight_row, annotate=annotate)
    for patch in getattr(ax, "_attn_marked", []):
        patch.remove()
    patches = []
    for i, j in marked:
        patches.append(ax.add_patch(Rectangle((j - 0.42, i - 0.42), 0.84, 0.84, fill=False, lw=1.6,
                                              ls="--", edgecolor=MARK_COLOR)))
    ax._attn_marked = patches
    return ax
