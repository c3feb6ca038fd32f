"""Figures of chapter 10 (a gallery of variants): large weight maps, one query's row, error curves.

Like the rest of :mod:`attn_core.plot`, each function draws what the caller computed onto
an Axes and returns it. :func:`weight_map` and :func:`row_profile` update their artists in
place when called again on the same Axes, which keeps an explorer's frames fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from attn_core._checks import as_int_array, flag, positive_number
from attn_core.plot import _checks as check
from attn_core.plot.heatmap import _matrix_image
from attn_core.plot.style import COLORS, CURVE_STYLES, LINE_COLORS

__all__ = ["LOOKUP_COLOR", "weight_map", "row_profile", "error_curves", "error_bars"]

#: The colour that marks the lookups (a query and the distant key it needs).
LOOKUP_COLOR = COLORS["highlight"]


def weight_map(
    ax: Axes,
    weights: ArrayLike,
    *,
    title: str | None = None,
    vmax: float = 1.0,
    gamma: float = 0.5,
    lookups: ArrayLike | None = None,
    xlabel: str = "key position j",
    ylabel: str = "query position i",
    colorbar: bool = False,
) -> Axes:
    """A large weight matrix or mask (queries on the rows), without numbers in the cells.

    The colours follow a power scale (``gamma = 0.5``: square root), so that weights of
    0.01 stay visible beside weights of 0.9; values below 0 are drawn as 0 (say so in the
    caption when a variant has negative weights). Lookups, if given, are circled.

    Parameters
    ----------
    ax : Axes
    weights : array_like, shape (n_q, n_k)
        Weights, or a boolean mask (drawn as 0 and 1).
    title : str, optional
    vmax : float, default 1.0
        The weight drawn in the brightest colour.
    gamma : float, default 0.5
        Exponent of the colour scale; 1 is linear.
    lookups : array_like of int, shape (p, 2), optional
        (query, key) cells to circle.
    xlabel, ylabel : str
    colorbar : bool, default False
        Add a colour bar (on the first call only).

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
    >>> fig = new_figure()
    >>> ax = weight_map(fig.add_subplot(), np.eye(8), lookups=[[5, 1]], title="identity")
    >>> ax.get_title(), len(ax.lines)
    ('identity', 1)
    """
    check.check_axes(ax)
    if isinstance(weights, np.ndarray) and weights.dtype.kind == "b":  # a mask: allowed pairs drawn as 1
        n_q, n_k = check.matrix(weights.astype(float), "weights").shape
    else:
        n_q, n_k = check.matrix(weights, "weights").shape
    positive_number(vmax, "vmax")
    positive_number(gamma, "gamma")
    if lookups is not None:
        pairs = as_int_array(lookups, "lookups", low=0)
        if pairs.size % 2 or (pairs.size and (pairs.reshape(-1, 2) >= (n_q, n_k)).any()):
            raise ValueError(f"lookups must be (query, key) pairs inside weights of shape {(n_q, n_k)}; "
                             f"got {pairs.tolist()!r:.60}")
    flag(colorbar, "colorbar")
    w = np.asarray(weights, dtype=float)
    state = getattr(ax, "_attn_weight_map", None)
    clipped = np.clip(w, 0.0, None)
    if state is not None and state["shape"] == w.shape:
        state["image"].set_data(clipped)
        if title is not None:
            ax.set_title(title)
        return ax
    ax.clear()
    image = _matrix_image(ax, clipped, vmin=0.0, vmax=vmax, gamma=gamma, aspect="equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(length=2, labelsize=8)
    if lookups is not None:
        pairs = np.asarray(lookups, dtype=int).reshape(-1, 2)
        ax.plot(pairs[:, 1], pairs[:, 0], "o", markersize=7, markerfacecolor="none",
                markeredgecolor=LOOKUP_COLOR, markeredgewidth=1.3)
        ax.set_xlim(-0.5, w.shape[1] - 0.5)
        ax.set_ylim(w.shape[0] - 0.5, -0.5)
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8, label="weight")
    ax._attn_weight_map = {"shape": w.shape, "image": image}
    return ax


def row_profile(
    ax: Axes,
    rows: Mapping[str, ArrayLike],
    *,
    mark: int | None = None,
    mark_label: str = "distant key",
    title: str | None = None,
    ylim: tuple[float, float] = (-0.05, 1.0),
    xlabel: str = "key position j",
    ylabel: str = "weight",
    legend: bool = True,
) -> Axes:
    """One query's weights over the keys, one line per method (the first drawn thick and grey).

    Parameters
    ----------
    ax : Axes
    rows : mapping of label -> array_like, shape (n_k,)
        E.g. ``{"full": full_row, "local": local_row}``; the first is the reference.
    mark : int, optional
        A key position to mark with a dashed line (the distant key of a lookup).
    mark_label : str
    title : str, optional
    ylim : (float, float)
    xlabel, ylabel : str
    legend : bool, default True
        Draw a legend (an explorer may label the lines more cheaply itself).

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
    >>> fig = new_figure()
    >>> ax = row_profile(fig.add_subplot(), {"full": [0.5, 0.5], "top-1": [1.0, 0.0]}, mark=1)
    >>> [line.get_label() for line in ax.lines]
    ['full', 'top-1', 'distant key']
    """
    check.check_axes(ax)
    if not isinstance(rows, Mapping) or not rows:
        raise TypeError(f"rows must be a non-empty mapping of labels to vectors (n_k,), got {rows!r:.60}")
    first = next(iter(rows))
    n = check.vector(rows[first], f"rows[{first!r}]").size
    check.curves(rows, "rows", n, f"rows[{first!r}]")
    check.optional_index(mark, n, "mark", "key position")
    check.pair(ylim, "ylim", optional=False)
    flag(legend, "legend")
    arrays = {label: np.asarray(row, dtype=float) for label, row in rows.items()}
    sizes = {a.size for a in arrays.values()}
    state = getattr(ax, "_attn_row_profile", None)
    if state is not None and state["labels"] == list(arrays):
        for line, (label, row) in zip(state["lines"], arrays.items()):
            line.set_ydata(row)
        if title is not None:
            ax.set_title(title)
        return ax
    ax.clear()
    styles = CURVE_STYLES["profiles"]  # full attention wide and grey underneath, then the variants
    lines = []
    for n, (label, row) in enumerate(arrays.items()):
        (line,) = ax.plot(np.arange(row.size), row, label=label, **styles[min(n, len(styles) - 1)])
        lines.append(line)
    if mark is not None:
        ax.axvline(mark, color=LOOKUP_COLOR, ls="--", lw=1.0, label=mark_label)
    ax.set_ylim(*ylim)
    ax.set_xlim(0, sizes.pop() - 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(loc="upper left", fontsize=8)
    if title is not None:
        ax.set_title(title)
    ax._attn_row_profile = {"labels": list(arrays), "lines": lines}
    return ax


def error_curves(
    ax: Axes,
    x: Sequence[float],
    curves: Mapping[str, ArrayLike],
    *,
    reference: float | None = None,
    reference_label: str = r"$\propto 1/\sqrt{n_f}$",
    xlabel: str = "number of random features n_f",
    ylabel: str = "relative error",
    logy: bool = True,
    title: str | None = None,
) -> Axes:
    """Error against a budget on a log x axis: one line per curve, with its seeds as dots.

    Parameters
    ----------
    ax : Axes
    x : sequence of float, length p
        The budgets (features, rank, ...).
    curves : mapping of label -> array_like, shape (p,) or (seeds, p)
        With several seeds, each seed is a dot and the line joins the means.
    reference : float, optional
        Draw the line ``reference / sqrt(x)`` (dashed), for the :math:`1/\\sqrt{n_f}` trend.
    reference_label, xlabel, ylabel, title : str
    logy : bool, default True

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
    >>> fig = new_figure()
    >>> ax = error_curves(fig.add_subplot(), [16, 64], {"a": [[0.5, 0.25], [0.6, 0.3]]}, reference=2.0)
    >>> len(ax.lines)
    3
    """
    check.check_axes(ax)
    check.curves(curves, "curves", check.vector(x, "x", positive=True).size, "x", max_ndim=2)
    check.finite_number(reference, "reference", optional=True)
    flag(logy, "logy")
    x = np.asarray(x, dtype=float)
    colors = LINE_COLORS
    for n, (label, values) in enumerate(curves.items()):
        values = np.atleast_2d(np.asarray(values, dtype=float))
        if values.shape[1] != x.size:
            raise ValueError(f"curve {label!r} has {values.shape[1]} points for {x.size} budgets")
        color = colors[n % len(colors)]
        if values.shape[0] > 1:
            ax.plot(np.repeat(x[None, :], values.shape[0], 0).ravel(), values.ravel(), ".",
                    color=color, alpha=0.5, markersize=5)
        ax.plot(x, values.mean(0), "-o", color=color, markersize=3, label=label)
    if reference is not None:
        ax.plot(x, reference / np.sqrt(x), "--", color="black", lw=1.0, label=reference_label)
    ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log", nonpositive="mask")  # an exact (zero) error ends the line
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title is not None:
        ax.set_title(title)
    return ax


def error_bars(
    ax: Axes,
    errors: Mapping[str, float],
    *,
    highlight: str | None = None,
    xlabel: str = "error on the weights",
    xmax: float = 1.0,
    title: str | None = None,
) -> Axes:
    """One horizontal bar per method, its error printed beside it; one bar highlighted.

    Called again on the same Axes with the same labels, it moves the bars in place.

    Parameters
    ----------
    ax : Axes
    errors : mapping of label -> float
        Finite numbers >= 0, drawn top to bottom in the mapping's order.
    highlight : str, optional
        The label of the bar to draw in the accent colour.
    xlabel : str
    xmax : float, default 1.0
        The right end of the axis, > 0.
    title : str, optional

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes; ``errors`` not a non-empty mapping of labels to
        finite numbers >= 0; ``highlight`` not one of its labels; a bad ``xmax``.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> fig = new_figure()
    >>> ax = error_bars(fig.add_subplot(), {"local": 0.9, "low-rank": 0.3}, highlight="local")
    >>> [float(bar.get_width()) for bar in ax.patches]
    [0.9, 0.3]
    """
    check.check_axes(ax)
    if not isinstance(errors, Mapping) or not errors:
        raise TypeError(f"errors must be a non-empty mapping of labels to numbers, got {errors!r:.60}")
    values = []
    for label, value in errors.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value) or value < 0:
            raise ValueError(f"errors[{label!r}] must be a finite number >= 0, got {value!r}")
        values.append(float(value))
    if highlight is not None and highlight not in errors:
        raise ValueError(f"highlight must be one of {list(errors)}, got {highlight!r}")
    xmax = positive_number(xmax, "xmax")
    labels = list(errors)
    colors = [COLORS["accent"] if label == highlight else COLORS["main"] for label in labels]
    state = getattr(ax, "_attn_error_bars", None)
    if state is not None and state["labels"] == labels:
        for bar, text, value, color in zip(state["bars"], state["texts"], values, colors):
            bar.set_width(value)
            bar.set_color(color)
            text.set_x(min(value, xmax) + 0.02 * xmax)
            text.set_text(f"{value:.2f}")
    else:
        ax.clear()
        positions = np.arange(len(labels))[::-1]
        bars = ax.barh(positions, values, color=colors, height=0.6)
        texts = [ax.text(min(value, xmax) + 0.02 * xmax, y, f"{value:.2f}", va="center", fontsize=8)
                 for value, y in zip(values, positions)]
        ax.set_yticks(positions, labels)
        ax.set_xlim(0, xmax * 1.2)
        ax.set_xlabel(xlabel)
        ax._attn_error_bars = {"labels": labels, "bars": list(bars), "texts": texts}
    if title is not None:
        ax.set_title(title)
    return ax


__all__ += ["MEMORY_STYLES", "recall_curves"]

#: One style per memory of :data:`attn_core.experiments.variants.RECALL_MEMORIES`: the two
#: softmax caches grey (wide: full; dashed: the window), the fixed states in colour, the two
#: references dark (least squares dotted, the fitted state dash-dotted).
MEMORY_STYLES = {
    "softmax": {"color": COLORS["muted"], "linewidth": 3.0, "alpha": 0.7, "marker": ""},
    "softmax window": {"color": COLORS["muted"], "linestyle": "--", "marker": "s"},
    "linear": {"color": COLORS["main"], "marker": "o"},
    "decayed": {"color": COLORS["highlight"], "marker": "v"},
    "delta rule": {"color": COLORS["accent"], "marker": "D"},
    "least squares": {"color": COLORS["dark"], "linestyle": ":", "marker": ""},
    "fitted state": {"color": COLORS["dark"], "linestyle": "-.", "marker": ""},
}


def recall_curves(
    ax: Axes,
    x: Sequence[float],
    curves: Mapping[str, ArrayLike],
    *,
    chance: float | None = None,
    log_x: bool = True,
    xlabel: str = "pairs stored",
    ylabel: str = "recall accuracy",
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """Recall accuracy of several memories against a shared axis (pairs stored, or age of a pair).

    Memories named as in :data:`attn_core.experiments.variants.RECALL_MEMORIES` take their
    style from :data:`MEMORY_STYLES`; other names get the book's line colours in turn.
    Called again on the same Axes with the same names, it moves the lines (an explorer's
    frames) instead of adding new ones.

    Parameters
    ----------
    ax : Axes
    x : sequence of float, length p
        Positive when ``log_x``.
    curves : mapping of name -> array_like, shape (p,)
        Accuracies in [0, 1].
    chance : float, optional
        A dotted line at the accuracy of guessing.
    log_x : bool, default True
        A base-2 logarithmic horizontal axis.
    xlabel, ylabel, title : str
    legend : bool, default True

    Returns
    -------
    Axes

    Raises
    ------
    TypeError, ValueError
        ``ax`` is not a matplotlib Axes; ``x`` not a non-empty vector of finite numbers (> 0
        with ``log_x``); a curve with another number of points; ``chance`` outside [0, 1];
        a flag that is not True or False.

    Examples
    --------
    >>> from attn_core.plot import new_figure
    >>> ax = recall_curves(new_figure().add_subplot(), [4, 8], {"linear": [1.0, 0.9], "softmax": [1.0, 1.0]},
    ...                    chance=0.125)
    >>> [line.get_label() for line in ax.get_lines()]
    ['linear', 'softmax', 'chance (0.125)']
    """
    check.check_axes(ax)
    log_x = flag(log_x, "log_x")
    legend = flag(legend, "legend")
    xs = check.vector(x, "x", positive=log_x)
    check.curves(curves, "curves", xs.size, "x")
    check.level(chance, "chance")
    drawn = getattr(ax, "_attn_recall_curves", None)
    if drawn is not None and list(drawn) == list(curves):
        for name, values in curves.items():
            drawn[name].set_data(xs, np.asarray(values, dtype=float))
    else:
        drawn = {}
        for i, (name, values) in enumerate(curves.items()):
            style = MEMORY_STYLES.get(name, {"color": LINE_COLORS[i % len(LINE_COLORS)], "marker": "o"})
            (drawn[name],) = ax.plot(xs, np.asarray(values, dtype=float), label=name,
                                     **{"linewidth": 1.6, "markersize": 3.5, **style})
        if chance is not None:
            ax.axhline(chance, color="black", linewidth=0.9, linestyle=":", zorder=0,
                       label=f"chance ({chance:.3g})")
        if log_x:
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [f"{v:g}" for v in xs])
            ax.minorticks_off()
        ax.set_ylim(0.0, 1.05)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if legend:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        ax._attn_recall_curves = drawn
    if title is not None:
        ax.set_title(title)
    return ax
