"""Figures: functions that draw a result onto a matplotlib Axes and return it.

Nothing here computes attention; callers pass in what attn_core computed. Every function
takes the Axes to draw on, so a chapter decides the layout and the same function serves a
static figure, an explorer frame and a live redraw.

One perceptually uniform, colour-blind-safe colour map (``viridis``) is used throughout;
heatmaps put queries on the rows and keys on the columns, labelled with tokens when known.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from PIL import Image

__all__ = [
    "CMAP",
    "COLORS",
    "use_book_style",
    "new_figure",
    "figure_to_png",
    "attention_heatmap",
    "weight_bars",
    "CURVE_STYLES",
    "READER_STYLES",
    "named_curves",
    "reference_lines",
    "accuracy_curves",
]

#: The one colour map of the book: perceptually uniform and colour-blind safe.
CMAP = "viridis"
#: Line and bar colours, taken from viridis so that they sit well beside the heatmaps.
COLORS = {"main": "#31688e", "accent": "#35b779", "muted": "#8c8c8c", "dark": "#440154",
          "highlight": "#e8590c"}  # highlight: outlines and markers that point something out


def use_book_style() -> None:
    """Set matplotlib's defaults for the book's inline figures (call once per chapter).

    Small, readable figures in the book's colours: viridis for maps, its blues and greens
    for lines and bars, no top and right spines.

    Examples
    --------
    >>> use_book_style()
    >>> import matplotlib
    >>> matplotlib.rcParams["image.cmap"]
    'viridis'
    """
    import matplotlib
    from cycler import cycler

    matplotlib.rcParams.update({
        "figure.figsize": (6.4, 3.4),
        "figure.dpi": 100,
        "figure.constrained_layout.use": True,
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=[COLORS["main"], COLORS["accent"], COLORS["dark"],
                                         "#fde725", COLORS["muted"]]),
        "image.cmap": CMAP,
        "legend.frameon": False,
    })


def new_figure(width: float = 4.8, height: float = 3.2, *, dpi: int = 80, **kwargs) -> Figure:
    """A matplotlib ``Figure`` with an Agg canvas, created without pyplot.

    Figures made this way never appear in a notebook by themselves, so an explorer can
    render hundreds of frames without leaking any into the cell's output.

    Examples
    --------
    >>> fig = new_figure(3, 2)
    >>> fig.get_size_inches().tolist()
    [3.0, 2.0]
    """
    fig = Figure(figsize=(width, height), dpi=dpi, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def figure_to_png(fig: Figure, *, palette: bool = False) -> bytes:
    """Render ``fig`` to PNG bytes.

    Parameters
    ----------
    fig : Figure
        A figure with an Agg canvas (see :func:`new_figure`).
    palette : bool, default False
        Quantise to 256 colours: frames shrink about threefold, at ~5 ms more per frame.
        Used for the precomputed frames that the static website embeds.

    Returns
    -------
    bytes
        A PNG file.

    Examples
    --------
    >>> png = figure_to_png(new_figure(1, 1))
    >>> png[:4]
    b'\\x89PNG'
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    if palette:
        image = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=1 if not palette else 6)
    return buffer.getvalue()


def _labels(labels: Sequence[str] | None, n: int, name: str) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n)]
    labels = [str(label) for label in labels]
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} labels for {n} rows/columns")
    return labels


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

    Examples
    --------
    >>> fig = new_figure()
    >>> ax = attention_heatmap(fig.add_subplot(), [[0.5, 0.5], [0.1, 0.9]], col_labels=["a", "b"])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b']
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"weights must be a matrix (n_q, n_k), got shape {w.shape}")
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
    image = ax.imshow(w, cmap=CMAP, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
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


def weight_bars(
    ax: Axes,
    weights: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    highlight: int | None = None,
    ylim: tuple[float, float] | None = (0.0, 1.0),
    ylabel: str = "weight",
    title: str | None = None,
    annotate: bool = True,
) -> Axes:
    """Bar chart of one row of weights, one bar per key; optionally highlight one key.

    Like :func:`attention_heatmap`, a second call with as many weights updates the bars in
    place.

    Parameters
    ----------
    ax : Axes
    weights : array_like, shape (n_k,)
    labels : sequence of str, optional
        One per key.
    highlight : int, optional
        Index of a key to draw in the accent colour (e.g. the right answer).
    ylim : (float, float) or None
    ylabel, title : str
    annotate : bool
        Print each weight above its bar.

    Returns
    -------
    Axes

    Examples
    --------
    >>> fig = new_figure()
    >>> ax = weight_bars(fig.add_subplot(), [0.2, 0.8], ["cat", "mat"], highlight=1)
    >>> len(ax.patches)
    2
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"weights must be a vector (n_k,), got shape {w.shape}")
    colors = [COLORS["accent"] if j == highlight else COLORS["main"] for j in range(w.size)]
    state = getattr(ax, "_attn_bars", None)
    if state is not None and len(state["bars"]) == w.size:
        for bar, height, color in zip(state["bars"], w, colors):
            bar.set_height(height)
            bar.set_color(color)
        for text, height in zip(state["texts"], w):
            text.set_y(height)
            text.set_text(f"{height:.2f}")
        if title is not None:
            ax.set_title(title)
        return ax

    ax.clear()
    bars = ax.bar(range(w.size), w, color=colors)
    ax.set_xticks(range(w.size), _labels(labels, w.size, "labels"))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    texts = []
    if annotate:
        texts = [ax.text(j, h, f"{h:.2f}", ha="center", va="bottom", fontsize=7) for j, h in enumerate(w)]
    ax._attn_bars = {"bars": list(bars), "texts": texts}
    return ax


#: Line styles given in turn to the named curves of a line plot.
CURVE_STYLES = (
    {"color": COLORS["main"], "marker": "o"},
    {"color": COLORS["dark"], "marker": "s"},
    {"color": COLORS["muted"], "marker": "^"},
    {"color": COLORS["accent"], "marker": "D", "linestyle": "--"},
)


def named_curves(
    ax: Axes, x: ArrayLike, curves: Mapping[str, ArrayLike], *, styles: Mapping[str, dict] | None = None,
    x_name: str = "x",
) -> Axes:
    """Draw several named curves over the same ``x``, each labelled for the legend.

    Curves without an entry in ``styles`` take :data:`CURVE_STYLES` in turn.

    Raises
    ------
    ValueError
        ``x`` is not a vector, or a curve has a different number of points.

    Examples
    --------
    >>> ax = named_curves(new_figure().add_subplot(), [1, 2, 3], {"a": [1, 2, 3], "b": [3, 2, 1]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['a', 'b']
    """
    xs = np.asarray(x, dtype=float)
    if xs.ndim != 1:
        raise ValueError(f"{x_name} must be a vector (m,), got shape {xs.shape}")
    for i, (name, curve) in enumerate(curves.items()):
        y = np.asarray(curve, dtype=float)
        if y.shape != xs.shape:
            raise ValueError(f"curve {name!r} has shape {y.shape}, {x_name} has shape {xs.shape}")
        ax.plot(xs, y, label=name, **{"linewidth": 1.8, "markersize": 3.5, **_curve_style(name, i, styles)})
    return ax


def _curve_style(name: str, i: int, styles: Mapping[str, dict] | None) -> dict:
    """The style of the ``i``-th curve or bar group: its entry in ``styles``, else the i-th default."""
    if styles and name in styles:
        return dict(styles[name])
    return dict(CURVE_STYLES[i % len(CURVE_STYLES)])


#: Styles of the readers trained in chapters 12 and 14, by the names their figures give them.
READER_STYLES = {
    "attention": {"color": COLORS["main"], "marker": "o"},
    "pooling": {"color": COLORS["muted"], "marker": "s", "linestyle": "--"},
    "recurrent": {"color": COLORS["dark"], "marker": "^", "linestyle": ":"},
}


def reference_lines(ax: Axes, chance: float | None = None, ceiling: float | None = None) -> Axes:
    """Black horizontal lines at the accuracy of guessing and at the best possible without the pairing.

    They carry legend labels with their levels (a text beside the line would sit on the
    curves that run along it).

    Examples
    --------
    >>> ax = reference_lines(new_figure().add_subplot(), chance=0.125)
    >>> [line.get_label() for line in ax.get_lines()]
    ['chance (0.125)']
    """
    for level, text, style in ((ceiling, "best without pairing", "-."), (chance, "chance", ":")):
        if level is not None:
            ax.axhline(level, color="black", linewidth=0.9, linestyle=style, zorder=0,
                       label=f"{text} ({level:.3g})")
    return ax


def accuracy_curves(
    ax: Axes,
    x: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    chance: float | None = None,
    ceiling: float | None = None,
    styles: Mapping[str, dict] | None = None,
    log_x: bool = False,
    xlabel: str = "training step",
    ylabel: str = "test accuracy",
    title: str | None = None,
    legend: bool | str = "outside",
) -> Axes:
    """Accuracy against a shared horizontal axis (training step, data size, distance), one line per model.

    Parameters
    ----------
    ax : Axes
    x : array_like, shape (m,)
        Shared horizontal positions.
    curves : mapping of str -> array_like, shape (m,)
        One curve per model, values in [0, 1], by its name in the legend (``"attention"``,
        ``"pooling"`` and ``"recurrent"`` get the styles of :data:`READER_STYLES`).
    chance, ceiling : float, optional
        Labelled horizontal lines at chance and at the best accuracy possible without
        knowing which value goes with which key (:func:`reference_lines`).
    styles : mapping of str -> dict, optional
        matplotlib line options that replace a curve's default style.
    log_x : bool
        A logarithmic horizontal axis labelled with the values of ``x``.
    xlabel, ylabel, title : str
    legend : bool or str
        Where to put the legend: ``"outside"`` (right of the axes, clear of the curves), a
        matplotlib ``loc``, or False for none (e.g. when a figure of several panels has one
        legend of its own).

    Returns
    -------
    Axes

    Raises
    ------
    ValueError
        ``x`` is not a vector, or a curve has a different number of points.

    Examples
    --------
    >>> ax = accuracy_curves(new_figure().add_subplot(), [10, 20],
    ...                      {"attention": [0.5, 1.0], "pooling": [0.4, 0.45]}, chance=0.25)
    >>> [line.get_label() for line in ax.get_lines()]
    ['attention', 'pooling', 'chance (0.25)']
    """
    named_curves(ax, x, curves, styles={**READER_STYLES, **(styles or {})})
    if log_x:
        xs = np.asarray(x, dtype=float)
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        ax.minorticks_off()
    ax.set_ylim(0.0, 1.05)
    reference_lines(ax, chance, ceiling)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend is True or legend == "outside":
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    elif legend:
        ax.legend(fontsize=8, loc=legend)
    return ax
