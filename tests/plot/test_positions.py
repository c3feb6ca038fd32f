"""Chapter figures for positions: attn_core.plot.positions."""

import numpy as np
import pytest

from attn_core.plot import new_figure
from attn_core.plot.positions import position_heatmap, rotated_pair, weights_by_distance


# -------------------------------------------------------------------------- the figures
def test_position_heatmap_labels_round_indices():
    fig = new_figure()
    ax = position_heatmap(fig.add_subplot(), np.zeros((64, 32)), xlabel="dimension", ylabel="position")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "20", "40", "60"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "10", "20", "30"]
    assert len(fig.axes) == 2  # the map and its colour bar
    with pytest.raises(ValueError, match=r"matrix must be a matrix \(\.\.\., n, d\); got shape \(5,\)"):
        position_heatmap(fig.add_subplot(), np.zeros(5), xlabel="", ylabel="")


def test_rotated_pair_marks_the_angle_between_the_arrows():
    fig = new_figure()
    q, k = np.array([0.0, 2.0]), np.array([1.0, 0.0])
    ax = rotated_pair(fig.add_subplot(), q, k, query_label="q at 1", key_label="k at 3")
    assert ax.texts[-1].get_text() == "1.57 rad"
    assert [t.get_text() for t in ax.texts if t.get_text() and t.get_text() != "1.57 rad"] == ["k at 3", "q at 1"]
    tips = [t.xy for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    np.testing.assert_allclose(tips, [k, q])  # the arrows end at the vectors
    # rotating both by the same angle keeps the angle between them
    turn = np.array([[np.cos(1.0), np.sin(1.0)], [-np.sin(1.0), np.cos(1.0)]])
    ax2 = rotated_pair(new_figure().add_subplot(), q @ turn, k @ turn)
    assert ax2.texts[-1].get_text() == "1.57 rad"
    with pytest.raises(ValueError, match="query has 3 entries, but a vector of the plane has 2"):
        rotated_pair(fig.add_subplot(), [1.0, 0.0, 0.0], [1.0, 0.0])



def test_weights_by_distance_draws_the_row_the_marked_key_and_the_training_band():
    fig = new_figure()
    weights = np.array([0.5, 0.0, 0.3, 0.2])
    ax = weights_by_distance(fig.add_subplot(), weights, marked=2, train_length=2, title="t", floor=1e-4)
    line, vline, dot = ax.lines
    np.testing.assert_allclose(line.get_ydata(), [0.5, 1e-4, 0.3, 0.2])  # zero drawn at the floor
    assert list(vline.get_xdata()) == [2, 2] and list(dot.get_xdata()) == [2] and list(dot.get_ydata()) == [0.3]
    band = ax.patches[0].get_extents().transformed(ax.transData.inverted())
    assert band.x0 == pytest.approx(-0.5) and band.x1 == pytest.approx(1.5)  # distances 0 and 1
    assert ax.get_yscale() == "log" and ax.get_title() == "t"
    assert "the marked key: 0.30" in [t.get_text() for t in ax.get_legend().texts]
    with pytest.raises(ValueError, match="weights must be >= 0"):
        weights_by_distance(fig.add_subplot(), [0.5, -0.1], marked=0, train_length=1)
    with pytest.raises(ValueError, match="marked"):
        weights_by_distance(fig.add_subplot(), [0.5, 0.5], marked=2, train_length=1)
