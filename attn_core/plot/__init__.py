"""Figures: functions that draw a result onto a matplotlib Axes and return it.

Nothing here computes attention; callers pass in what attn_core computed. Every function
takes the Axes to draw on, so a chapter decides the layout and the same function serves a
static figure, an explorer frame and a live redraw.

One perceptually uniform, colour-blind-safe colour map (``viridis``) is used throughout;
heatmaps put queries on the rows and keys on the columns, labelled with tokens when known.
Every map is painted by :func:`~attn_core.plot.heatmap.matrix_image`, every row of bars by
:func:`~attn_core.plot.bars.weight_bars` (or a chart that groups them), every family of
curves by :func:`~attn_core.plot.curves.named_curves` with a family of the one style table
:data:`~attn_core.plot.style.CURVE_STYLES`.

The shared primitives live in their own modules (:mod:`~attn_core.plot.style`,
:mod:`~attn_core.plot.heatmap`, :mod:`~attn_core.plot.bars`, :mod:`~attn_core.plot.curves`)
and are re-exported here; each chapter's own pictures are in the module named by its label.
"""

from attn_core.plot.bars import weight_bars
from attn_core.plot.curves import accuracy_curves, named_curves, reference_lines
from attn_core.plot.heatmap import attention_heatmap, matrix_image
from attn_core.plot.style import (
    CMAP,
    COLORS,
    CURVE_STYLES,
    CYCLE_COLORS,
    LINE_COLORS,
    READER_STYLES,
    figure_to_png,
    new_figure,
    use_book_style,
)

__all__ = [
    "CMAP",
    "COLORS",
    "CYCLE_COLORS",
    "LINE_COLORS",
    "use_book_style",
    "new_figure",
    "figure_to_png",
    "matrix_image",
    "attention_heatmap",
    "weight_bars",
    "CURVE_STYLES",
    "READER_STYLES",
    "named_curves",
    "reference_lines",
    "accuracy_curves",
]
