"""Chapter figures for self- and cross-attention: attn_core.plot.self_cross."""


import numpy as np
import pytest
from matplotlib.colors import to_hex

from attn_core.plot import new_figure
from attn_core.plot.self_cross import ALIGNMENT_EDGE, alignment_map, training_curves


def outlines(ax):
    """The one-cell outlines of the correct alignment (the heatmap's row outline spans a row)."""
    return [p for p in ax.patches if to_hex(p.get_edgecolor()) == ALIGNMENT_EDGE and p.get_width() == 1]


def test_alignment_map_outlines_and_relabels_in_place():
    fig = new_figure()
    ax = fig.add_subplot()
    w = np.full((2, 3), 1 / 3)
    alignment_map(ax, w, source_tokens=["a", "b", "c"], target_tokens=["c", "a"], alignment=[2, 0])
    boxes = outlines(ax)
    assert [b.get_x() for b in boxes] == [1.5, -0.5] and all(b.get_visible() for b in boxes)
    image = ax.images[0]
    alignment_map(ax, w, source_tokens=["x", "y", "z"], target_tokens=["y", "z"], alignment=[1, 2])
    assert list(ax.images) == [image] and outlines(ax) == boxes  # the same boxes, moved
    assert [b.get_x() for b in boxes] == [0.5, 1.5]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["y", "z"]
    alignment_map(ax, w, source_tokens=["x", "y", "z"], target_tokens=["y", "z"])
    assert not any(b.get_visible() for b in boxes)
    with pytest.raises(ValueError, match="one entry per row"):
        alignment_map(ax, w, source_tokens=["x", "y", "z"], target_tokens=["y", "z"], alignment=[0])


def test_training_curves_update_in_place():
    ax = new_figure().add_subplot()
    training_curves(ax, [0, 10, 20], {"alignment": [0.1, 0.5, 1.0], "symbol": [0.1, 0.3, 0.9]}, current_step=10)
    lines = list(ax.lines)
    training_curves(ax, [0, 10, 20], {"alignment": [0.2, 0.6, 1.0], "symbol": [0.1, 0.4, 1.0]}, current_step=20)
    assert list(ax.lines) == lines
    assert lines[0].get_ydata().tolist() == [0.2, 0.6, 1.0]
    assert lines[2].get_xdata() == [20, 20]  # the marker


def test_alignment_map_redrawn_with_a_new_shape_keeps_its_outlines_and_labels():
    ax = new_figure().add_subplot()
    alignment_map(ax, np.eye(2), source_tokens=["a", "b"], target_tokens=["a", "b"], alignment=[0, 1])
    alignment_map(ax, np.full((3, 3), 1 / 3), source_tokens=["a", "b", "c"],
                  target_tokens=["c", "b", "a"], alignment=[2, 1, 0])
    boxes = outlines(ax)
    assert len(boxes) == 3 and all(box.get_visible() for box in boxes)
    assert [b.get_x() for b in boxes] == [1.5, 0.5, -0.5]
    assert [t.get_rotation() for t in ax.get_xticklabels()] == [0.0, 0.0, 0.0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "b", "a"]
