"""The book's look: one colour map, one colour table, one table of line styles, and figures
rendered without pyplot (so nothing leaks into a notebook's output).
"""


from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from attn_core._checks import flag, number_in_range, positive_int, positive_number

__all__ = ["CMAP", "COLORS", "CYCLE_COLORS", "LINE_COLORS", "map_colors", "use_book_style", "new_figure", "figure_to_png",
           "CURVE_STYLES", "READER_STYLES"]

#: The one colour map of the book: perceptually uniform and colour-blind safe.
CMAP = "viridis"


#: Line and bar colours, taken from viridis so that they sit well beside the heatmaps.
COLORS = {"main": "#31688e", "accent": "#35b779", "muted": "#8c8c8c", "dark": "#440154",
          "light": "#fde725",  # viridis' yellow end: bars and areas only, too pale for a thin line
          "highlight": "#e8590c"}  # highlight: outlines and markers that point something out

#: The colours given in turn to the series of a figure (matplotlib's colour cycle, bar groups).
CYCLE_COLORS = (COLORS["main"], COLORS["accent"], COLORS["dark"], COLORS["light"], COLORS["muted"])
#: The same for thin lines and dots, without the pale yellow.
LINE_COLORS = (COLORS["main"], COLORS["accent"], COLORS["dark"], COLORS["muted"])


def map_colors(n: int, low: float = 0.0, high: float = 1.0) -> list[tuple[float, float, float, float]]:
    """``n`` colours taken evenly from the book's colour map between ``low`` and ``high`` (0 to 1).

    For things that form a sequence (keys, groups of heads): dark to light along viridis.

    Raises
    ------
    TypeError, ValueError
        ``n`` is not a whole number >= 1; ``low`` or ``high`` is not a number in [0, 1].

    Examples
    --------
    >>> [round(float(c), 3) for c in map_colors(2)[0]]   # viridis starts dark purple
    [0.267, 0.005, 0.329, 1.0]
    >>> len(map_colors(4, 0.15, 0.85))
    4
    """
    positive_int(n, "n")
    number_in_range(low, "low", 0.0, 1.0)
    number_in_range(high, "high", 0.0, 1.0)
    return _map_colors(n, low, high)


def _map_colors(n: int, low: float, high: float) -> list[tuple[float, float, float, float]]:
    import matplotlib

    cmap = matplotlib.colormaps[CMAP]
    return [cmap(x) for x in np.linspace(low, high, n)]


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
        "axes.prop_cycle": cycler(color=list(CYCLE_COLORS)),
        "image.cmap": CMAP,
        "legend.frameon": False,
    })


def new_figure(width: float = 4.8, height: float = 3.2, *, dpi: int = 80, **kwargs) -> Figure:
    """A matplotlib ``Figure`` with an Agg canvas, created without pyplot.

    Figures made this way never appear in a notebook by themselves, so an explorer can
    render hundreds of frames without leaking any into the cell's output.

    Raises
    ------
    TypeError, ValueError
        ``width`` or ``height`` is not a finite number > 0; ``dpi`` is not a whole number >= 1.

    Examples
    --------
    >>> fig = new_figure(3, 2)
    >>> fig.get_size_inches().tolist()
    [3.0, 2.0]
    """
    positive_number(width, "width")
    positive_number(height, "height")
    positive_int(dpi, "dpi")
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

    Raises
    ------
    TypeError, ValueError
        ``fig`` is not a matplotlib Figure; ``palette`` is not True or False.

    Examples
    --------
    >>> png = figure_to_png(new_figure(1, 1))
    >>> png[:4]
    b'\\x89PNG'
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure (see new_figure), got {fig!r:.60}")
    flag(palette, "palette")
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


#: The one table of curve styles. Each family is either a tuple, given in turn to the curves of
#: a figure, or a dict, by the name a figure gives a curve. Every curve-drawing function of
#: :mod:`attn_core.plot` takes its styles from here (see :func:`~attn_core.plot.curves.named_curves`).
CURVE_STYLES: dict[str, tuple[dict, ...] | dict[str, dict]] = {
    # any line plot: blue circles, purple squares, grey triangles, dashed green diamonds
    "default": (
        {"color": COLORS["main"], "marker": "o"},
        {"color": COLORS["dark"], "marker": "s"},
        {"color": COLORS["muted"], "marker": "^"},
        {"color": COLORS["accent"], "marker": "D", "linestyle": "--"},
    ),
    # the readers trained in chapters 12 and 14, by the names their figures give them
    "readers": {
        "attention": {"color": COLORS["main"], "marker": "o"},
        "pooling": {"color": COLORS["muted"], "marker": "s", "linestyle": "--"},
        "recurrent": {"color": COLORS["dark"], "marker": "^", "linestyle": ":"},
    },
    # chapter 1's memory readers: the average grey, the summary purple, attention blue and green
    "memory readers": (
        {"color": COLORS["muted"], "marker": "s"},
        {"color": COLORS["dark"], "marker": "^"},
        {"color": COLORS["main"], "marker": "o"},
        {"color": COLORS["accent"], "marker": "o", "linestyle": "--"},
    ),
    # chapter 2's errors against the kernel width: no markers, one dash pattern per curve
    "errors": tuple({"color": color, "linestyle": dash, "marker": ""}
                    for color, dash in zip(LINE_COLORS, ("-", "--", ":", "-."))),
    # chapter 6's accuracies during training
    "training": (
        {"color": COLORS["main"], "marker": "o"},
        {"color": COLORS["accent"], "marker": "s", "linestyle": "--"},
        {"color": COLORS["dark"], "marker": "^", "linestyle": ":"},
    ),
    # chapter 10's rows of weights: full attention wide and grey underneath the variants
    "profiles": (
        {"color": COLORS["muted"], "linewidth": 3.0, "alpha": 0.7},
        {"color": COLORS["main"], "linewidth": 1.3},
        {"color": COLORS["accent"], "linewidth": 1.3},
        {"color": COLORS["dark"], "linewidth": 1.0},
    ),
    # chapter 11's costs: the fourth grey and dashed, where the colour cycle would give a pale yellow
    "costs": (
        {"color": COLORS["main"], "marker": "o"},
        {"color": COLORS["accent"], "marker": "s"},
        {"color": COLORS["dark"], "marker": "D"},
        {"color": COLORS["muted"], "marker": "^", "linestyle": "--"},
    ),
}

#: Styles of the readers trained in chapters 12 and 14 (``CURVE_STYLES["readers"]``).
READER_STYLES = CURVE_STYLES["readers"]


def _curve_style(name: str, i: int, styles: Mapping[str, dict] | None, family: str = "default") -> dict:
    """The style of the ``i``-th curve or bar group: its entry in ``styles``, else the family's i-th
    (a tuple family, in turn) or its entry by name (a dict family, else the default family's i-th)."""
    if styles and name in styles:
        return dict(styles[name])
    table = CURVE_STYLES[family]
    if isinstance(table, Mapping):
        if name in table:
            return dict(table[name])
        table = CURVE_STYLES["default"]
    return dict(table[i % len(table)])
