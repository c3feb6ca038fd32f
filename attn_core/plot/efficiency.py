"""Figures of chapter 11 (efficiency): tiles, cost curves, and the online softmax step by step.

As everywhere in :mod:`attn_core.plot`, these functions draw what the caller computed:
the tile codes come from :func:`attn_core.experiments.efficiency.tile_schedule`, the measurements from
:func:`attn_core.experiments.efficiency.time_and_peak_memory`, the running statistics from
:func:`attn_core.tiled.online_softmax_steps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from attn_core._checks import as_int_array, flag, positive_int
from attn_core.plot import _checks as check
from attn_core.plot.curves import _named_curves
from attn_core.plot.heatmap import _matrix_image
from attn_core.plot.style import COLORS, _labels

__all__ = ["TILE_COLORS", "tile_grid", "cost_curves", "score_blocks", "output_comparison", "roofline",
           "flop_shares"]

#: Colours of skipped, masked and full tiles (codes 0, 1, 2 of ``tile_schedule``).
TILE_COLORS = ("#e9ecef", COLORS["accent"], COLORS["main"])
TILE_NAMES = ("skipped", "computed, partly masked", "computed whole")
#: Bars of key blocks not read yet.
UNREAD_COLOR = "#c8c8c8"


def tile_grid(
    ax: Axes,
    kinds: np.ndarray,
    *,
    block_size: int | None = None,
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """Draw the grid of tiles: query blocks on the rows, key blocks on the columns.

    Parameters
    ----------
    ax : Axes
    kinds : ndarray of int, shape (query blocks, key blocks)
        Codes 0 (skipped), 1 (partly masked) and 2 (whole), as returned by
        :func:`attn_core.experiments.efficiency.tile_schedule`.
    block_size : int, optional
        Used to label the axes with the first position of each block.
    title : str, optional
    legend : bool, default True
        A legend of the three kinds under the grid.

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
    >>> from attn_core.experiments.efficiency import tile_schedule
    >>> ax = tile_grid(new_figure().add_subplot(), tile_schedule(6, 6, block_size=2, causal=True))
    >>> len(ax.images), [t.get_text() for t in ax.get_legend().get_texts()][0]
    (1, 'skipped')
    """
    check.check_axes(ax)
    kinds = as_int_array(kinds, "kinds", ndim=2, low=0, high=3)
    if kinds.size == 0:
        raise ValueError(f"kinds must not be empty; got shape {kinds.shape}")
    check.optional_positive_int(block_size, "block_size")
    flag(legend, "legend")
    ax.clear()
    _matrix_image(ax, kinds, cmap=ListedColormap(TILE_COLORS), vmin=-0.5, vmax=2.5, aspect="equal")
    rows, cols = kinds.shape
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="both", length=0)
    step = max(1, cols // 8)
    if block_size is None:
        ax.set_xticks(range(0, cols, step), [str(b + 1) for b in range(0, cols, step)])
        ax.set_yticks(range(0, rows, step), [str(a + 1) for a in range(0, rows, step)])
        ax.set_xlabel("key block")
        ax.set_ylabel("query block")
    else:
        ax.set_xticks(range(0, cols, step), [str(b * block_size) for b in range(0, cols, step)],
                      rotation=45 if cols * len(str(cols * block_size)) > 24 else 0)
        ax.set_yticks(range(0, rows, step), [str(a * block_size) for a in range(0, rows, step)])
        ax.set_xlabel("first key of the block")
        ax.set_ylabel("first query of the block")
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title)
    if legend:
        handles = [Patch(facecolor=c, edgecolor="#8c8c8c", label=name) for c, name in zip(TILE_COLORS, TILE_NAMES)]
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.03, 0.5), fontsize=8)
    return ax


def cost_curves(
    ax: Axes,
    n: Sequence[int],
    series: Mapping[str, Sequence[float]],
    *,
    ylabel: str,
    title: str | None = None,
    xlabel: str = "sequence length n",
) -> Axes:
    """Cost against sequence length on log-log axes, one line with markers per method.

    On these axes a cost ``c n^p`` is a straight line of slope ``p``; the caller puts the
    fitted slope in each label if it wants it shown.

    Parameters
    ----------
    ax : Axes
    n : sequence of int
    series : mapping of label -> values (one per ``n``)
    ylabel, title, xlabel : str

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
    >>> ax = cost_curves(new_figure().add_subplot(), [1, 2, 4], {"n²": [1, 4, 16]}, ylabel="cost")
    >>> ax.get_xscale(), len(ax.lines)
    ('log', 1)
    """
    from matplotlib.ticker import FuncFormatter

    check.check_axes(ax)
    check.curves(series, "series", check.vector(n, "n", positive=True).size, "n")
    n = np.asarray(n, dtype=float)
    _named_curves(ax, n, series, family="costs", x_name="n")  # styles: CURVE_STYLES["costs"]
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(n, [f"{int(x)}" for x in n])
    ax.minorticks_off()
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=7.5)
    return ax


def score_blocks(
    ax: Axes,
    scores: Sequence[float],
    block_size: int,
    blocks_read: int,
    running_max: float,
    *,
    read_order: Sequence[int] | None = None,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
    show_max: bool = True,
) -> Axes:
    """One query's scores as bars, split into key blocks; the blocks read so far in colour.

    The block read last is drawn in the accent colour, earlier ones in the main colour,
    unread ones in grey; a dashed line marks the running maximum ``m``. A second call with
    as many scores updates the picture in place.

    Parameters
    ----------
    ax : Axes
    scores : sequence of float, shape (n_k,)
    block_size : int
    blocks_read : int
        How many blocks have been read, 1 to the number of blocks.
    running_max : float
    read_order : sequence of int, optional
        The blocks in the order they are read (a permutation of the block indices); default
        left to right. The first ``blocks_read`` of them are coloured.
    title : str, optional
    ylim : (float, float), optional
        Fixed limits, so that frames of an explorer share one scale.
    show_max : bool, default True
        Draw the dashed line of the running maximum (False: hide it, for sums kept with no
        shift).

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes, ``read_order`` not a permutation of the block
        indices, or an argument is not what the list above says:
        data that is not a non-empty array of finite numbers of that shape (NaN is drawn as
        a gap), lengths that do not match, an index out of range, a flag that is not True
        or False, a whole number given as ``2.0`` or ``True``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = score_blocks(new_figure().add_subplot(), [1.0, 3.0, 2.0, 5.0], 2, 1, 3.0)
    >>> [float(b.get_height()) for b in ax.patches]
    [1.0, 3.0, 2.0, 5.0]
    """
    check.check_axes(ax)
    size = check.vector(scores, "scores").size
    n_blocks = -(-size // positive_int(block_size, "block_size"))
    if not 1 <= positive_int(blocks_read, "blocks_read") <= n_blocks:
        raise ValueError(f"blocks_read must be 1..{n_blocks}, got {blocks_read}")
    check.finite_number(running_max, "running_max")
    check.pair(ylim, "ylim")
    show_max = flag(show_max, "show_max")
    if read_order is None:
        order = list(range(n_blocks))
    else:
        given = np.asarray(read_order)
        if given.dtype.kind not in "iu" or given.ndim != 1 or sorted(given.tolist()) != list(range(n_blocks)):
            raise ValueError(f"read_order must be a permutation of 0..{n_blocks - 1}, got {read_order!r:.60}")
        order = given.tolist()
    s = np.asarray(scores, dtype=float)
    block_of = np.arange(s.size) // block_size
    last, earlier = order[blocks_read - 1], set(order[:blocks_read - 1])
    colors = [COLORS["accent"] if b == last else COLORS["main"] if b in earlier else UNREAD_COLOR
              for b in block_of]
    state = getattr(ax, "_attn_score_blocks", None)
    if state is None or len(state["bars"]) != s.size:
        ax.clear()
        bars = ax.bar(np.arange(s.size), s, color=colors, width=0.8)
        ax.axhline(0, color="#8c8c8c", lw=0.8)
        for edge in range(block_size, s.size, block_size):
            ax.axvline(edge - 0.5, color="#8c8c8c", lw=0.8, ls=":")
        line = ax.axhline(running_max, color=COLORS["dark"], lw=1.4, ls="--", label="running max m")
        ax.legend(loc="upper right", fontsize=7.5, framealpha=0.9)
        step = max(1, block_size)
        ax.set_xticks(range(0, s.size, step), [str(j + 1) for j in range(0, s.size, step)])
        ax.set_xlim(-0.6, s.size - 0.4)
        ax.set_xlabel("key (blocks between dotted lines)")
        ax.set_ylabel("score")
        state = {"bars": list(bars), "line": line}
        ax._attn_score_blocks = state
    for bar, height, color in zip(state["bars"], s, colors):
        bar.set_height(height)
        bar.set_color(color)
    state["line"].set_ydata([running_max, running_max])
    state["line"].set_visible(show_max)
    if ax.get_legend() is not None:
        ax.get_legend().set_visible(show_max)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title is not None:
        ax.set_title(title)
    return ax


def output_comparison(
    ax: Axes,
    running: Sequence[float],
    final: Sequence[float],
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
) -> Axes:
    """The running output beside the final one, two bars per output coordinate.

    A second call with as many coordinates updates the bars in place.

    Parameters
    ----------
    ax : Axes
    running, final : sequence of float, shape (d_v,)
    labels : sequence of str, optional
        One per coordinate; default 1, 2, 3, ...
    title : str, optional
    ylim : (float, float), optional

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
    >>> ax = output_comparison(new_figure().add_subplot(), [0.5, 1.0], [0.4, 1.2])
    >>> len(ax.patches)
    4
    """
    check.check_axes(ax)
    size = check.vector(running, "running").size
    check.vector(final, "final", length=size, of="running")
    check.labels(labels, size, "labels", "running")
    check.pair(ylim, "ylim")
    running = np.asarray(running, dtype=float)
    final = np.asarray(final, dtype=float)
    state = getattr(ax, "_attn_outputs", None)
    if state is None or len(state["running"]) != running.size:
        ax.clear()
        x = np.arange(running.size)
        bars_running = ax.bar(x - 0.2, running, width=0.4, color=COLORS["main"], label="running output")
        bars_final = ax.bar(x + 0.2, final, width=0.4, color="white", edgecolor=COLORS["dark"], lw=1.2,
                            hatch="///", label="final output")
        ax.axhline(0, color="#8c8c8c", lw=0.8)
        names = [str(j + 1) for j in x] if labels is None else _labels(labels, running.size, "labels")
        ax.set_xticks(x, names)
        ax.set_xlabel("output coordinate")
        ax.set_ylabel("value")
        ax.legend(fontsize=7.5, loc="upper right", framealpha=0.9)
        state = {"running": list(bars_running), "final": list(bars_final)}
        ax._attn_outputs = state
    for bar, height in zip(state["running"], running):
        bar.set_height(height)
    for bar, height in zip(state["final"], final):
        bar.set_height(height)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title is not None:
        ax.set_title(title)
    return ax


def roofline(
    ax: Axes,
    accelerators: Sequence,
    points: Mapping[str, float] | None = None,
    *,
    intensity_range: tuple[float, float] = (1.0, 4096.0),
    title: str | None = None,
) -> Axes:
    """The roofline of each accelerator on log-log axes, its ridge point marked, and computations placed on it.

    Each roof is :func:`attn_core.experiments.efficiency.attainable_flops` against arithmetic
    intensity: a slope (memory-bound) up to the ridge point, then flat at the peak
    (compute-bound). Each of ``points`` (label -> intensity in FLOP per byte) is drawn on
    every roof, with its label once, written upwards above and left of its highest point or
    downwards below and right of its lowest (whichever side has more room): as the roofs
    never fall to the right, the label never touches a roof.

    Parameters
    ----------
    ax : Axes
    accelerators : sequence of Accelerator
    points : mapping of str -> float, optional
    intensity_range : (float, float), default (1, 4096)
        The horizontal axis, FLOP per byte, both > 0.
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes, an accelerator that is not an Accelerator, an
        intensity that is not a number > 0, a range that is not two increasing numbers > 0.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> from attn_core.experiments.efficiency import A100, H100
    >>> ax = roofline(new_figure().add_subplot(), [A100, H100], {"standard": 30.0, "tiled": 300.0})
    >>> ax.get_xscale(), len([line for line in ax.lines if line.get_label().startswith("NVIDIA")])
    ('log', 2)
    """
    from attn_core.experiments.efficiency import Accelerator, attainable_flops, ridge_point

    check.check_axes(ax)
    if isinstance(accelerators, Accelerator) or not isinstance(accelerators, Sequence) or not accelerators:
        raise TypeError(f"accelerators must be a non-empty list of Accelerator, got {accelerators!r:.60}")
    for chip in accelerators:
        if not isinstance(chip, Accelerator):
            raise TypeError(f"accelerators must hold Accelerator objects, got {chip!r:.60}")
    points = {} if points is None else points
    if not isinstance(points, Mapping):
        raise TypeError(f"points must be a mapping of labels to intensities, got {type(points).__name__}")
    intensities = {label: check.vector([value], f"points[{label!r}]", positive=True)[0]
                   for label, value in points.items()}
    span = check.vector(intensity_range, "intensity_range", length=2, of="(low, high)", positive=True)
    if not span[0] < span[1]:
        raise ValueError(f"intensity_range must be (low, high) with low < high, got {tuple(span)}")
    ax.clear()
    x = np.geomspace(span[0], span[1], 200)
    for i, chip in enumerate(accelerators):
        color = (COLORS["main"], COLORS["dark"], COLORS["accent"], COLORS["muted"])[i % 4]
        ax.plot(x, attainable_flops(x, chip) / 1e12, color=color, lw=2, label=chip.name)
        ridge = ridge_point(chip)
        ax.plot([ridge], [chip.peak_flops / 1e12], "o", color=color, ms=5)
        ax.annotate(f"ridge {ridge:.0f}", (ridge, chip.peak_flops / 1e12), textcoords="offset points",
                    xytext=(5, -10), fontsize=7, color=color)
    top = max(chip.peak_flops for chip in accelerators) / 1e12
    bottom = span[0] * min(c.memory_bandwidth for c in accelerators) / 1e12 * 0.8
    for label, intensity in intensities.items():
        heights = [attainable_flops(intensity, chip) / 1e12 for chip in accelerators]
        for chip, height in zip(accelerators, heights):
            ax.plot([intensity], [height], "s", color=COLORS["highlight"], ms=5)
        ax.axvline(intensity, color=COLORS["highlight"], lw=0.8, ls=":")
        # Every roof rises (or stays flat) to the right, so text above the highest point and left of it, or
        # below the lowest point and right of it, never touches a roof: take the side with more room.
        room_above = np.log(top * 3 / max(heights))
        room_below = np.log(min(heights) / bottom)
        if room_above >= room_below:
            ax.annotate(label, (intensity, max(heights)), xytext=(-3, 6), textcoords="offset points", rotation=90,
                        ha="right", va="bottom", fontsize=7.5, color=COLORS["highlight"])
        else:
            ax.annotate(label, (intensity, min(heights)), xytext=(3, -6), textcoords="offset points", rotation=90,
                        ha="left", va="top", fontsize=7.5, color=COLORS["highlight"])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ticks = [2.0**k for k in range(int(np.ceil(np.log2(span[0]))), int(np.floor(np.log2(span[1]))) + 1, 2)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlim(span[0], span[1])
    ax.set_ylim(bottom, top * 3)
    ax.set_xlabel("arithmetic intensity (FLOP per byte of HBM traffic)")
    ax.set_ylabel("attainable TFLOP/s")
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=7.5, loc="lower right")
    return ax


def flop_shares(
    ax: Axes,
    n: Sequence[int],
    parts: Mapping[str, Sequence[float]],
    *,
    crossover: float | None = None,
    title: str | None = None,
) -> Axes:
    """Each part's share of a layer's FLOPs against sequence length, stacked to 100 %, on a log axis of n.

    Parameters
    ----------
    ax : Axes
    n : sequence of int
        Sequence lengths, > 0.
    parts : mapping of label -> FLOPs (one per ``n``)
        E.g. the fields of :func:`attn_core.experiments.efficiency.layer_flops`, stacked in order.
    crossover : float, optional
        A length to mark with a vertical line (where the n^2 part reaches half).
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes, lengths that do not match or are not > 0, FLOPs that
        are not numbers >= 0 with a positive total.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = flop_shares(new_figure().add_subplot(), [1, 2, 4], {"a": [3, 2, 1], "b": [1, 2, 3]}, crossover=2)
    >>> len(ax.collections), [float(y) for y in ax.get_ylim()]
    (2, [0.0, 100.0])
    """
    check.check_axes(ax)
    n = check.vector(n, "n", positive=True)
    check.curves(parts, "parts", n.size, "n")
    if not parts:
        raise ValueError("parts must hold at least one curve")
    values = np.array([np.asarray(curve, dtype=float) for curve in parts.values()])  # (parts, len(n))
    if (values < 0).any() or not (values.sum(axis=0) > 0).all():
        raise ValueError("parts must hold FLOPs >= 0 with a total > 0 at every n")
    crossover = check.finite_number(crossover, "crossover", optional=True)
    ax.clear()
    shares = 100 * values / values.sum(axis=0)  # (parts, len(n))
    colors = (COLORS["main"], COLORS["accent"], COLORS["dark"], COLORS["light"], COLORS["muted"])
    ax.stackplot(n, shares, labels=list(parts), colors=[colors[i % 5] for i in range(len(parts))], alpha=0.85)
    if crossover is not None:
        ax.axvline(crossover, color=COLORS["highlight"], lw=1.2, ls="--")
        ax.annotate(f"n = {crossover:,.0f}", (crossover, 96), xytext=(4, 0), textcoords="offset points",
                    fontsize=7.5, color=COLORS["highlight"], va="top")
    ax.set_xscale("log", base=2)
    ax.set_xlim(n.min(), n.max())
    ticks = n[:: max(1, n.size // 5)]
    ax.set_xticks(ticks, [f"{x:,.0f}" for x in ticks])
    ax.minorticks_off()
    ax.set_ylim(0.0, 100.0)
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("share of the layer's FLOPs (%)")
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=7.5, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return ax
