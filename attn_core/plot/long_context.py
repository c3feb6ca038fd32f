"""Figures of chapter 14 (long context): needle grids, matching scores by distance, influence by distance, recall by state size.

Like the rest of :mod:`attn_core.plot`, the functions here draw onto an Axes what the caller
passes in (computed by :mod:`attn_core.experiments.long_context`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import positive_int
from attn_core.plot import _checks as check
from attn_core.plot.curves import _named_curves
from attn_core.plot.heatmap import _matrix_image
from attn_core.plot.style import COLORS

__all__ = ["needle_heatmap", "matching_score_curves", "influence_profile", "recall_state_frontier"]


def needle_heatmap(
    ax: Axes,
    accuracy: ArrayLike,
    lengths: Sequence[int],
    depths: Sequence[float],
    *,
    train_length: int | None = None,
    title: str | None = None,
) -> Axes:
    """Recall as a grid: needle depth on the rows (0 % = the first token), context length on the columns.

    Each cell is coloured by its accuracy on a fixed 0-to-1 scale and carries its value;
    a dashed line separates the lengths up to ``train_length`` from the longer ones.

    Parameters
    ----------
    ax : Axes
    accuracy : array_like, shape (len(depths), len(lengths))
        Values in [0, 1].
    lengths : sequence of int
    depths : sequence of float
        In [0, 1].
    train_length : int, optional
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` not an Axes; ``accuracy`` not a matrix of the grid's shape or outside [0, 1];
        ``train_length`` not a whole number >= 1.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = needle_heatmap(new_figure().add_subplot(), [[1.0, 0.5]], [32, 64], [0.5], train_length=32)
    >>> [t.get_text() for t in ax.texts]
    ['1.00', '0.50']
    """
    check.check_axes(ax)
    grid = check.matrix(accuracy, "accuracy")
    check.labels(lengths, grid.shape[1], "lengths", "accuracy's columns", optional=False)
    check.labels(depths, grid.shape[0], "depths", "accuracy's rows", optional=False)
    if (grid < 0).any() or (grid > 1).any():
        raise ValueError(f"accuracy must lie in [0, 1]; got values from {grid.min()} to {grid.max()}")
    if train_length is not None:
        train_length = positive_int(train_length, "train_length")
    _matrix_image(ax, grid, vmin=0.0, vmax=1.0)
    for (r, c), value in np.ndenumerate(grid):
        ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="black" if value > 0.6 else "white")
    ax.set_xticks(range(len(lengths)), [f"{n:,}" for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{100 * d:.0f} %" for d in depths])
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("needle depth")
    if train_length is not None:
        inside = sum(1 for n in lengths if n <= train_length)
        if 0 < inside < len(lengths):
            ax.axvline(inside - 0.5, color="white", linewidth=1.5, linestyle="--")
    if title is not None:
        ax.set_title(title)
    return ax


def matching_score_curves(
    ax: Axes,
    distances: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    train_length: int,
    lowest_trained: float | None = None,
    title: str | None = None,
) -> Axes:
    """The score of a perfect match against its distance, one curve per rescaling.

    The distances seen in training (below ``train_length``) are shaded; ``lowest_trained``,
    if given, draws the lowest score seen there as a dotted line.

    Parameters
    ----------
    ax : Axes
    distances : array_like, shape (m,)
    curves : mapping of str -> array_like, shape (m,)
    train_length : int
    lowest_trained : float, optional
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` not an Axes; curves that do not match ``distances``; ``train_length`` not a
        whole number >= 1.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = matching_score_curves(new_figure().add_subplot(), [0, 1, 2], {"a": [1, 0.5, 0]}, train_length=2)
    >>> len(ax.lines), len(ax.patches)
    (1, 1)
    """
    check.check_axes(ax)
    x = check.vector(distances, "distances")
    check.curves(curves, "curves", x.size, "distances")
    train_length = positive_int(train_length, "train_length")
    lowest = check.finite_number(lowest_trained, "lowest_trained", optional=True)
    ax.axvspan(x.min(), train_length, color=COLORS["muted"], alpha=0.18, linewidth=0,
               label=f"distances seen in training (< {train_length:,})")
    _named_curves(ax, x, curves, styles={name: {"marker": ""} for name in curves})
    if lowest is not None:
        ax.axhline(lowest, color="black", linewidth=0.9, linestyle=":", label=f"lowest in training ({lowest:.2f})")
    ax.set_xlabel("distance between query and key")
    ax.set_ylabel("score of a perfect match")
    ax.legend(fontsize=7, loc="lower left")
    if title is not None:
        ax.set_title(title)
    return ax


def influence_profile(
    ax: Axes,
    share: ArrayLike,
    *,
    reach: float | None = None,
    floor: float = 1e-6,
    title: str | None = None,
) -> Axes:
    """How much of the last position's output comes from each distance back, on a log scale.

    ``share`` is :func:`~attn_core.experiments.long_context.influence_rollout`, indexed by
    position; it is drawn against the distance back from the last position (0 = itself),
    zeros at ``floor``. ``reach`` draws the receptive field as a vertical line (not drawn
    when it is ``inf``, a stack with a global layer).

    Parameters
    ----------
    ax : Axes
    share : array_like, shape (n,)
        Non-negative.
    reach : float, optional
    floor : float, default 1e-6
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` not an Axes; ``share`` not a vector of numbers >= 0; ``floor`` not > 0.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = influence_profile(new_figure().add_subplot(), [0.0, 0.25, 0.75], reach=1)
    >>> ax.lines[0].get_ydata().tolist()       # distance 0, 1, 2: the last position first
    [0.75, 0.25, 1e-06]
    """
    check.check_axes(ax)
    values = check.vector(share, "share")
    if (values < 0).any():
        raise ValueError(f"share must be >= 0; got {values.min()}")
    floor = check.finite_number(floor, "floor")
    if floor <= 0:
        raise ValueError(f"floor must be > 0 (a logarithmic axis), got {floor}")
    if isinstance(reach, numbers.Real) and not isinstance(reach, (bool, np.bool_)) and math.isinf(reach) and reach > 0:
        reach = None  # a global layer: everything is in reach, no line
    reach = check.finite_number(reach, "reach", optional=True)
    back = values[::-1]  # (n,): distance 0 first
    ax.plot(np.arange(back.size), np.maximum(back, floor), color=COLORS["main"], linewidth=1.6)
    if reach is not None:
        ax.axvline(reach, color=COLORS["accent"], linewidth=1.2, linestyle="--",
                   label=f"receptive field ({reach:,.0f})")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_yscale("log")
    ax.set_ylim(floor, 1.0)
    ax.set_xlabel("distance back from the last position")
    ax.set_ylabel("share of the output")
    if title is not None:
        ax.set_title(title)
    return ax


def recall_state_frontier(
    ax: Axes,
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    chance: float | None = None,
    styles: Mapping[str, dict] | None = None,
    title: str | None = None,
) -> Axes:
    """Recall against the numbers a memory holds, one curve per memory, each at its own sizes.

    A fixed state holds ``d_k * d_v`` numbers, a softmax cache ``n (d_k + d_v)``: the memories
    of one sweep sit at different sizes, so each curve brings its own horizontal positions.
    The axis is logarithmic; ``chance`` draws a dotted line.

    Parameters
    ----------
    ax : Axes
    curves : mapping of str -> (sizes, recall)
        ``sizes`` (m,) > 0 and ``recall`` (m,) in [0, 1], by the memory's name in the legend.
    chance : float, optional
    styles : mapping of str -> dict, optional
        matplotlib line options that replace a curve's default style (a colour of the book's
        cycle, in order), e.g. dashed lines for references that are not memories of the same kind.
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` not an Axes; ``styles`` not a mapping of dicts; no curves; a curve that is not a pair of vectors of equal length,
        sizes not > 0 or recall outside [0, 1].

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = recall_state_frontier(new_figure().add_subplot(),
    ...                            {"a": ([16, 64], [0.2, 0.5]), "b": ([512, 1024], [0.9, 1.0])}, chance=0.125)
    >>> [line.get_label() for line in ax.lines], ax.get_xscale()
    (['a', 'b', 'chance (0.125)'], 'log')
    """
    check.check_axes(ax)
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"curves must be a non-empty mapping of name -> (sizes, recall), got {curves!r:.80}")
    checked = {}
    for name, value in curves.items():
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ValueError(f"curves[{name!r}] must be a pair (sizes, recall), got {value!r:.80}")
        sizes = check.vector(value[0], f"curves[{name!r}] sizes", positive=True)
        recall = check.vector(value[1], f"curves[{name!r}] recall", length=sizes.size, of=f"curves[{name!r}] sizes")
        if (recall < 0).any() or (recall > 1).any():
            raise ValueError(f"curves[{name!r}] recall must lie in [0, 1], got {recall.min()} to {recall.max()}")
        checked[name] = (sizes, recall)
    chance = check.finite_number(chance, "chance", optional=True)
    styles = {} if styles is None else styles
    if not isinstance(styles, Mapping) or not all(isinstance(style, dict) for style in styles.values()):
        raise TypeError(f"styles must be a mapping of name -> dict of line options, got {styles!r:.80}")
    for i, (name, (sizes, recall)) in enumerate(checked.items()):
        ax.plot(sizes, recall, label=name, **{"linewidth": 1.8, "marker": "o", "markersize": 3.5,
                                             "color": f"C{i}", **styles.get(name, {})})
    if chance is not None:
        ax.axhline(chance, color="black", linewidth=0.9, linestyle=":", label=f"chance ({chance:g})")
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("numbers the memory holds")
    ax.set_ylabel("recall")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title is not None:
        ax.set_title(title)
    return ax
