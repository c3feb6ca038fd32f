"""The book's look: one colour map, one colour table, one table of line styles, and figures
rendered without pyplot (so nothing leaks into a notebook's output).
"""


from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

__all__ = ["CMAP", "COLORS", "use_book_style", "new_figure", "figure_to_png", "CURVE_STYLES", "READER_STYLES"]

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


#: Line styles given in turn to the named curves of a line plot.
CURVE_STYLES = (
    {"color": COLORS["main"], "marker": "o"},
    {"color": COLORS["dark"], "marker": "s"},
    {"color": COLORS["muted"], "marker": "^"},
    {"color": COLORS["accent"], "marker": "D", "linestyle": "--"},
)


#: Styles of the readers trained in chapters 12 and 14, by the names their figures give them.
READER_STYLES = {
    "attention": {"color": COLORS["main"], "marker": "o"},
    "pooling": {"color": COLORS["muted"], "marker": "s", "linestyle": "--"},
    "recurrent": {"color": COLORS["dark"], "marker": "^", "linestyle": ":"},
}


def _curve_style(name: str, i: int, styles: Mapping[str, dict] | None) -> dict:
    """The style of the ``i``-th curve or bar group: its entry in ``styles``, else the i-th default."""
    if styles and name in styles:
        return dict(styles[name])
    return dict(CURVE_STYLES[i % len(CURVE_STYLES)])
