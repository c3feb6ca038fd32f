"""Figures of chapter 6 (self- and cross-attention): alignment maps and training curves.

Like the rest of :mod:`attn_core.plot`, these functions draw what the caller computed onto
an Axes and return it, and a second call on the same Axes updates the picture in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from numpy.typing import ArrayLike

from attn_core._checks import as_int_array
from attn_core.plot import _checks as check
from attn_core.plot.curves import _named_curves
from attn_core.plot.heatmap import _attention_heatmap
from attn_core.plot.style import COLORS

__all__ = ["alignment_map", "training_curves"]

#: Colour of the outlines that mark the correct alignment (the highlight colour of the book).
ALIGNMENT_EDGE = COLORS["highlight"]


def alignment_map(
    ax: Axes,
    weights: ArrayLike,
    *,
    source_tokens: Sequence[str],
    target_tokens: Sequence[str],
    alignment: ArrayLike | None = None,
    title: str | None = None,
    fmt: str = "{:.2f}",
    xlabel: str = "source (keys)",
    ylabel: str = "target (queries)",
) -> Axes:
    """A cross-attention map, target tokens on the rows, source tokens on the columns.

    Parameters
    ----------
    ax : Axes
    weights : array_like, shape (n_q, n_k)
    source_tokens, target_tokens : sequence of str
        Column and row labels.
    alignment : array_like of int, shape (n_q,), optional
        The correct source position of every target row; those cells are outlined.
    title, fmt, xlabel, ylabel : str

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes, or an argument is not what the list above says:
        data that is not a non-empty array of finite numbers of that shape (NaN is drawn as
        a gap), lengths that do not match, an index out of range, a flag that is not True
        or False, a whole number given as ``2.0`` or ``True``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = alignment_map(new_figure().add_subplot(), [[0.2, 0.8], [0.9, 0.1]],
    ...                    source_tokens=["a", "b"], target_tokens=["b", "a"], alignment=[1, 0])
    >>> [(float(p.get_x()), float(p.get_y())) for p in ax.patches if p.get_visible()]   # the outlined cells
    [(0.5, -0.5), (-0.5, 0.5)]
    """
    check.check_axes(ax)
    n_target, n_source = check.matrix(weights, "weights").shape
    check.labels(source_tokens, n_source, "source_tokens", "weights (columns)", optional=False, text_only=True)
    check.labels(target_tokens, n_target, "target_tokens", "weights (rows)", optional=False, text_only=True)
    if alignment is not None:
        alignment = as_int_array(alignment, "alignment", ndim=1, low=0, high=n_source)
        if alignment.shape != (n_target,):
            raise ValueError(f"alignment must have one entry per row ({n_target}), got shape {alignment.shape}")
    w = np.asarray(weights, dtype=float)
    before = getattr(ax, "_attn_heatmap", None)
    _attention_heatmap(ax, w, row_labels=target_tokens, col_labels=source_tokens, fmt=fmt,
                      xlabel=xlabel, ylabel=ylabel, title=title)
    # an in-place update of the heatmap keeps the old tick labels: set them when they change
    labels = ([str(t) for t in source_tokens], [str(t) for t in target_tokens])
    fresh = getattr(ax, "_attn_heatmap", None) is not before  # drawn anew, ticks reset
    if fresh or getattr(ax, "_attn_alignment_labels", None) != labels:
        ax.set_xticks(range(w.shape[1]), labels[0], rotation=0, ha="center")
        ax.set_yticks(range(w.shape[0]), labels[1])
        ax._attn_alignment_labels = labels
    boxes = getattr(ax, "_attn_alignment_boxes", None)
    if fresh or boxes is None or len(boxes) != w.shape[0]:
        boxes = [ax.add_patch(Rectangle((-0.5, i - 0.5), 1, 1, fill=False, lw=2,
                                        edgecolor=ALIGNMENT_EDGE, visible=False))
                 for i in range(w.shape[0])]
        ax._attn_alignment_boxes = boxes
    for i, box in enumerate(boxes):
        box.set_visible(alignment is not None)
        if alignment is not None:
            box.set_x(alignment[i] - 0.5)
    return ax


def training_curves(
    ax: Axes,
    steps: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    current_step: float | None = None,
    title: str | None = None,
    xlabel: str = "training step",
    ylabel: str = "accuracy",
) -> Axes:
    """Accuracies during training, one line per curve, and a vertical line at ``current_step``.

    The lines are :func:`~attn_core.plot.curves.named_curves` in the family ``"training"`` of
    :data:`~attn_core.plot.style.CURVE_STYLES`. A second call with the same curve names
    updates the lines and the step marker in place (an explorer's frames stay cheap).

    Parameters
    ----------
    ax : Axes
    steps : array_like, shape (n,)
    curves : mapping of label -> array_like, shape (n,)
        Values in [0, 1].
    current_step : float, optional
    title, xlabel, ylabel : str

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``steps`` is not a vector, or a curve has a different number of points.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = training_curves(new_figure().add_subplot(), [0, 10], {"alignment": [0.2, 1.0]}, current_step=10)
    >>> [line.get_label() for line in ax.get_lines()][0], list(ax.get_lines()[-1].get_xdata())
    ('alignment', [10, 10])
    """
    check.check_axes(ax)
    check.curves(curves, "curves", check.vector(steps, "steps").size, "steps")
    check.finite_number(current_step, "current_step", optional=True)
    steps = np.asarray(steps, dtype=float)
    state = getattr(ax, "_attn_curves", None)
    if state is None or state["labels"] != list(curves):
        ax.clear()
        _named_curves(ax, steps, curves, family="training", x_name="steps")
        lines = list(ax.get_lines())
        marker = ax.axvline(0.0, color=COLORS["muted"], lw=1.5, visible=False)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="lower right", fontsize=8)
        state = {"labels": list(curves), "lines": lines, "marker": marker}
        ax._attn_curves = state
    else:
        for line, (label, values) in zip(state["lines"], curves.items()):
            values = np.asarray(values, dtype=float)
            if values.shape != steps.shape:
                raise ValueError(f"curve {label!r} has shape {values.shape}, steps has shape {steps.shape}")
            line.set_data(steps, values)
    ax.set_xlim(steps.min() - 0.03 * np.ptp(steps), steps.max() + 0.03 * np.ptp(steps))
    state["marker"].set_visible(current_step is not None)
    if current_step is not None:
        state["marker"].set_xdata([current_step, current_step])
    if title is not None:
        ax.set_title(title)
    return ax
