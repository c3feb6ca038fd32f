"""The book's look: one table of curve styles, one colour cycle, and what the primitives draw."""

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_hex, to_rgb
from PIL import Image

from attn_core.plot import (
    COLORS,
    CURVE_STYLES,
    READER_STYLES,
    figure_to_png,
    named_curves,
    new_figure,
    use_book_style,
    weight_bars,
)
from attn_core.plot.efficiency import cost_curves
from attn_core.plot.what_attention_buys import pair_bars
from attn_core.plot.qkv import error_versus_bandwidth
from attn_core.plot.self_cross import training_curves
from attn_core.plot.style import CYCLE_COLORS, LINE_COLORS
from attn_core.plot.why_attention import retrieval_error_plot


def pixels(fig):
    """The figure as an (height, width, 3) array of 0..255 colours."""
    return np.asarray(Image.open(io.BytesIO(figure_to_png(fig))).convert("RGB")).astype(int)


def count_colour(image, colour, tolerance=8):
    rgb = np.array([round(255 * c) for c in to_rgb(colour)])
    return int((np.abs(image - rgb).max(axis=-1) <= tolerance).sum())


def test_every_style_uses_a_colour_of_the_book():
    book = {to_hex(c) for c in COLORS.values()}
    for family, table in CURVE_STYLES.items():
        styles = table.values() if isinstance(table, dict) else table
        for style in styles:
            assert to_hex(style["color"]) in book, family
    assert READER_STYLES is CURVE_STYLES["readers"]
    assert to_hex(COLORS["light"]) not in {to_hex(c) for c in LINE_COLORS}  # too pale for thin lines


def test_book_style_cycles_through_the_cycle_colours():
    use_book_style()
    cycle = [to_hex(c["color"]) for c in matplotlib.rcParams["axes.prop_cycle"]]
    assert cycle == [to_hex(c) for c in CYCLE_COLORS]
    assert cycle[:3] == [COLORS["main"], COLORS["accent"], COLORS["dark"]]


def test_named_curves_take_a_family_in_turn_or_by_name():
    ax = named_curves(new_figure().add_subplot(), [1, 2], {"a": [1, 2], "b": [2, 1], "c": [0, 0],
                                                           "d": [1, 1], "e": [3, 3]})
    lines = ax.get_lines()
    # the default family, in turn, the fifth curve starting again from the first style
    assert [to_hex(line.get_color()) for line in lines] == [COLORS["main"], COLORS["dark"], COLORS["muted"],
                                                           COLORS["accent"], COLORS["main"]]
    assert [line.get_marker() for line in lines] == ["o", "s", "^", "D", "o"]
    readers = named_curves(new_figure().add_subplot(), [1, 2], {"pooling": [1, 2], "attention": [2, 1]},
                           family="readers")
    assert [line.get_linestyle() for line in readers.get_lines()] == ["--", "-"]
    assert to_hex(readers.get_lines()[0].get_color()) == COLORS["muted"]
    own = named_curves(new_figure().add_subplot(), [1, 2], {"a": [1, 2]}, styles={"a": {"color": "black"}})
    assert own.get_lines()[0].get_color() == "black"
    with pytest.raises(ValueError, match="family must be one of"):
        named_curves(new_figure().add_subplot(), [1, 2], {"a": [1, 2]}, family="rainbow")


def test_chapter_curves_draw_from_the_shared_table():
    """Chapters 1, 2, 6 and 11 style their curves through named_curves: same widths, their own families."""
    figures = {
        "costs": cost_curves(new_figure().add_subplot(), [1, 2, 4], {"a": [1, 2, 4], "b": [1, 4, 16]}, ylabel="c"),
        "memory readers": retrieval_error_plot(new_figure().add_subplot(), [2, 4], {"average": [1, 1], "x": [1, 2]}),
        "errors": error_versus_bandwidth(new_figure().add_subplot(), [0.1, 1.0], {"held out": [2, 1], "train": [1, 0]}),
        "training": training_curves(new_figure().add_subplot(), [0, 10], {"alignment": [0.2, 1.0], "symbol": [0, 1]}),
    }
    for family, ax in figures.items():
        for line, style in zip(ax.get_lines()[:2], CURVE_STYLES[family]):
            assert to_hex(line.get_color()) == to_hex(style["color"]), family
            assert line.get_linewidth() == 1.8, family
    assert [line.get_linestyle() for line in figures["errors"].get_lines()[:2]] == ["-", "--"]


def test_weight_bars_paint_the_highlighted_bar_and_only_it():
    fig = new_figure(3, 2)
    ax = weight_bars(fig.add_subplot(), [0.5, 0.5, 0.5], highlight=1, annotate=False)
    image = pixels(fig)
    width = image.shape[1]
    accent_columns = np.flatnonzero([count_colour(image[:, x:x + 1], COLORS["accent"]) for x in range(width)])
    main_columns = np.flatnonzero([count_colour(image[:, x:x + 1], COLORS["main"]) for x in range(width)])
    assert accent_columns.size > 5 and main_columns.size > 10
    # the accent bar sits between the two main bars
    assert main_columns.min() < accent_columns.min() and accent_columns.max() < main_columns.max()
    weight_bars(ax, [0.5, 0.5, 0.5], highlight=None)
    assert count_colour(pixels(fig), COLORS["accent"]) == 0


def test_pair_bars_are_weight_bars_and_switch_to_a_log_axis():
    fig = new_figure(3, 2)
    ax = pair_bars(fig.add_subplot(), [0.1, 0.9], ["A", "B"], highlight=0, ylim=(0, 1))
    bars = list(ax.patches)
    assert [to_hex(b.get_facecolor()) for b in bars] == [COLORS["accent"], COLORS["main"]]
    pair_bars(ax, [0.9, 0.1], ["C", "D"], highlight=1, ylim=(0, 1))
    assert list(ax.patches) == bars and [b.get_height() for b in bars] == [0.9, 0.1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["C", "D"]
    pair_bars(ax, [0.1, 10.0], ["C", "D"], log=True)
    assert ax.get_yscale() == "log" and list(ax.patches) != bars
    with pytest.raises(ValueError, match="> 0 on a log axis"):
        pair_bars(ax, [0.0, 1.0], log=True)


def test_training_curves_move_their_step_marker_in_pixels():
    fig = new_figure(3, 2)
    ax = training_curves(fig.add_subplot(), [0, 10, 20], {"alignment": [0.5, 0.5, 0.5]}, current_step=0)
    marker_colour = ax.get_lines()[-1].get_color()

    def marker_column(image):  # the column holding a long vertical run of the marker's grey
        counts = [count_colour(image[:, x:x + 1], marker_colour, tolerance=30) for x in range(image.shape[1])]
        assert max(counts) > image.shape[0] / 2
        return int(np.argmax(counts))

    left = marker_column(pixels(fig))
    training_curves(ax, [0, 10, 20], {"alignment": [0.5, 0.5, 0.5]}, current_step=20)
    right = marker_column(pixels(fig))
    assert right - left > 50  # the grey line moved right across the panel
