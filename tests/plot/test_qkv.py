"""Chapter figures for qkv: attn_core.plot.qkv."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.plot import new_figure
from attn_core.plot.qkv import (
    error_versus_bandwidth,
    kernel_weights_heatmap,
    regression_panel,
)


def test_heatmap_labels_ticks_with_x_values_and_updates_in_place():
    fig = new_figure()
    ax = fig.add_subplot()
    xq, xk = np.linspace(0, 5, 51), np.sort(np.random.default_rng(0).uniform(0, 5, 40))
    w1 = ac.nadaraya_watson(xq, xk, xk, bandwidth=0.1)[1]
    kernel_weights_heatmap(ax, w1, xq, xk)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.0", "1.0", "2.0", "3.0", "4.0", "5.0"]
    assert not ax.texts  # too many cells for numbers
    image = ax.images[0]
    w2 = ac.nadaraya_watson(xq, xk, xk, bandwidth=1.0)[1]
    kernel_weights_heatmap(ax, w2, xq, xk, title="wide")
    assert list(ax.images) == [image]
    assert_allclose(image.get_array(), w2)
    assert [t.get_text() for t in ax.get_yticklabels()][1] == "1.0"  # ticks kept
    assert ax.get_title() == "wide"
    with pytest.raises(ValueError, match="must be \\(n_q, n_k\\)"):
        kernel_weights_heatmap(fig.add_subplot(), w1[:, :3], xq, xk)


def test_regression_panel_moves_only_the_prediction():
    fig = new_figure()
    ax = regression_panel(fig.add_subplot(), [0, 1, 2], [0, 1, 0], [0, 1, 2], [0, 0.5, 0],
                          true_curve=[0, 1, 0])
    n_lines = len(ax.lines)
    regression_panel(ax, [0, 1, 2], [0, 1, 0], [0, 1, 2], [1, 1, 1], title="flat")
    assert len(ax.lines) == n_lines == 2
    assert ax.lines[-1].get_ydata().tolist() == [1.0, 1.0, 1.0]
    assert ax.get_title() == "flat"
    with pytest.raises(ValueError, match="prediction has 1 entries, but x_curve has 2"):
        regression_panel(fig.add_subplot(), [0], [0], [0, 1], [0])


def test_error_curve_marks_the_best_width():
    fig = new_figure()
    ax = error_versus_bandwidth(fig.add_subplot(), [0.1, 1, 10], {"held out": [2, 1, 3], "training": [0, 1, 3]},
                                best=(1.0, 1.0), floor=0.5)
    assert ax.get_xscale() == "log"
    assert "best $\\sigma$ = 1" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match=r"errors\['held out'\] has 3 entries, but bandwidths has 2"):
        error_versus_bandwidth(fig.add_subplot(), [0.1, 1], {"held out": [1, 2, 3]})
