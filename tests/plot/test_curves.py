"""The generic figures of attn_core.plot that several chapters share."""

import pytest

from attn_core.plot import (
    COLORS,
    READER_STYLES,
    accuracy_curves,
    named_curves,
    new_figure,
    reference_lines,
)


def test_accuracy_curves_draw_readers_and_reference_lines():
    ax = accuracy_curves(new_figure().add_subplot(), [0, 20, 40],
                         {"attention": [0.2, 0.6, 1.0], "pooling": [0.2, 0.45, 0.46]},
                         chance=0.25, ceiling=0.47, title="recall by content")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["attention", "pooling", "best without pairing (0.47)", "chance (0.25)"]
    assert ax.get_lines()[0].get_color() == READER_STYLES["attention"]["color"]
    assert ax.get_lines()[1].get_linestyle() == "--"
    assert ax.get_ylim() == (0.0, 1.05)
    assert ax.get_legend() is not None and ax.get_title() == "recall by content"


def test_accuracy_curves_log_axis_legend_place_and_styles():
    log_ax = accuracy_curves(new_figure().add_subplot(), [64, 128, 2000], {"a": [0.1, 0.2, 0.3]},
                             log_x=True, legend=False)
    assert log_ax.get_xscale() == "log" and log_ax.get_legend() is None
    assert [t.get_text() for t in log_ax.get_xticklabels()] == ["64", "128", "2000"]
    inside = accuracy_curves(new_figure().add_subplot(), [1, 2], {"recurrent": [0.9, 0.5]},
                             styles={"recurrent": {"color": COLORS["accent"]}}, legend="center right")
    inside.figure.canvas.draw()
    legend, frame = inside.get_legend().get_window_extent(), inside.get_window_extent()
    assert abs((legend.y0 + legend.y1) / 2 - (frame.y0 + frame.y1) / 2) < 2  # centred vertically
    assert legend.x0 > (frame.x0 + frame.x1) / 2 and frame.x1 - legend.x1 < 20  # against the right edge
    assert inside.get_lines()[0].get_color() == COLORS["accent"]


def test_chance_keeps_three_digits_and_curves_must_match_x():
    ax = reference_lines(new_figure().add_subplot(), chance=1 / 8)
    assert [line.get_label() for line in ax.get_lines()] == ["chance (0.125)"]
    assert ax.get_lines()[0].get_ydata()[0] == 0.125
    with pytest.raises(ValueError, match=r"curves\['a'\] has shape \(1,\), but x has 2 points"):
        accuracy_curves(new_figure().add_subplot(), [1, 2], {"a": [0.1]})
    with pytest.raises(ValueError, match="must be a vector"):
        named_curves(new_figure().add_subplot(), [[1, 2]], {"a": [0.1, 0.2]})
