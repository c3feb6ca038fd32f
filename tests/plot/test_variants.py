"""Chapter figures for variants: attn_core.plot.variants."""


import numpy as np
import pytest

from attn_core.plot import new_figure
from attn_core.plot.variants import error_bars, error_curves, row_profile, weight_map


# ----------------------------------------------------------------- figures
def test_weight_map_updates_in_place_and_clips_negatives():
    fig = new_figure()
    ax = fig.add_subplot()
    weight_map(ax, np.eye(6), lookups=[[4, 1]], title="first")
    image = ax.images[0]
    weight_map(ax, -np.eye(6), title="second")
    assert list(ax.images) == [image] and ax.get_title() == "second"
    assert image.get_array().min() == 0.0  # negative weights drawn as 0
    with pytest.raises(ValueError, match="matrix"):
        weight_map(ax, np.ones(3))


def test_row_profile_updates_in_place_and_checks_rows():
    fig = new_figure()
    ax = fig.add_subplot()
    row_profile(ax, {"full": [0.5, 0.5], "other": [1.0, 0.0]}, mark=1)
    line = ax.lines[1]
    row_profile(ax, {"full": [0.5, 0.5], "other": [0.0, 1.0]})
    assert ax.lines[1] is line and list(line.get_ydata()) == [0.0, 1.0]
    with pytest.raises(ValueError, match=r"rows\['b'\] has shape \(2,\), but rows\['a'\] has 1 points"):
        row_profile(ax, {"a": [1.0], "b": [0.5, 0.5]})


def test_error_curves_checks_lengths():
    fig = new_figure()
    ax = error_curves(fig.add_subplot(), [8, 32], {"a": [[0.5, 0.2], [0.4, 0.3]], "b": [0.1, 0.0]})
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match=r"curves\['a'\] has shape \(3,\), but x has 2 points"):
        error_curves(fig.add_subplot(), [8, 32], {"a": [1.0, 2.0, 3.0]})


def test_error_bars_update_in_place_and_check_errors():
    fig = new_figure()
    ax = error_bars(fig.add_subplot(), {"a": 0.5, "b": 0.25}, highlight="a", title="first")
    bars = list(ax.patches)
    assert [bar.get_width() for bar in bars] == [0.5, 0.25]
    assert bars[0].get_y() > bars[1].get_y()  # the first label on top
    error_bars(ax, {"a": 0.125, "b": 1.0}, highlight="b")
    assert list(ax.patches) == bars and [bar.get_width() for bar in bars] == [0.125, 1.0]
    assert [text.get_text() for text in ax.texts] == ["0.12", "1.00"]
    assert ax.get_title() == "first"
    with pytest.raises(ValueError, match=r"errors\['a'\] must be a finite number >= 0"):
        error_bars(ax, {"a": -0.1})
    with pytest.raises(ValueError, match="highlight must be one of"):
        error_bars(ax, {"a": 0.1}, highlight="c")


def test_recall_curves_styles_memories_and_moves_lines_in_place():
    from attn_core.plot.variants import MEMORY_STYLES, recall_curves

    fig = new_figure()
    ax = fig.add_subplot()
    recall_curves(ax, [4, 8, 16], {"linear": [1.0, 0.9, 0.5], "softmax": [1.0, 1.0, 1.0]}, chance=0.125)
    lines = list(ax.lines)
    assert [line.get_label() for line in lines] == ["linear", "softmax", "chance (0.125)"]
    assert lines[0].get_color() == MEMORY_STYLES["linear"]["color"]
    recall_curves(ax, [4, 8, 16], {"linear": [0.5, 0.4, 0.3], "softmax": [1.0, 1.0, 1.0]}, title="again")
    assert list(ax.lines) == lines and list(lines[0].get_ydata()) == [0.5, 0.4, 0.3]
    assert ax.get_title() == "again"
    with pytest.raises(ValueError):
        recall_curves(ax, [4, 8], {"linear": [1.0, 0.9, 0.5]})
    with pytest.raises(ValueError):
        recall_curves(fig.add_subplot(), [0, 8], {"linear": [1.0, 0.9]})  # log axis needs x > 0
