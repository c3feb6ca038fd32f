"""Chapter figures for long context: attn_core.plot.long_context."""

import numpy as np
import pytest

from attn_core.plot import new_figure
from attn_core.plot.long_context import (
    influence_profile,
    matching_score_curves,
    needle_heatmap,
    recall_state_frontier,
)


def test_needle_heatmap_writes_every_cell_and_marks_the_training_length():
    ax = needle_heatmap(new_figure().add_subplot(), [[1.0, 0.5, 0.25], [0.0, 1.0, 1.0]], [32, 64, 128],
                        [0.0, 1.0], train_length=32, title="t")
    assert [t.get_text() for t in ax.texts] == ["1.00", "0.50", "0.25", "0.00", "1.00", "1.00"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0 %", "100 %"]
    assert list(ax.lines[0].get_xdata()) == [0.5, 0.5]  # between 32 and 64
    with pytest.raises(ValueError, match="lengths has 2 labels"):
        needle_heatmap(new_figure().add_subplot(), [[1.0, 0.5, 0.25]], [32, 64], [0.5])
    with pytest.raises(ValueError, match=r"accuracy must lie in \[0, 1\]"):
        needle_heatmap(new_figure().add_subplot(), [[1.5]], [32], [0.5])


def test_matching_score_curves_shade_the_trained_distances():
    ax = matching_score_curves(new_figure().add_subplot(), [0, 10, 20, 30], {"a": [1, 0.5, 0.2, 0.1],
                               "b": [1, 0.9, 0.8, 0.7]}, train_length=10, lowest_trained=0.5)
    band = ax.patches[0].get_extents().transformed(ax.transData.inverted())
    assert band.x0 == pytest.approx(0) and band.x1 == pytest.approx(10)
    assert [line.get_label() for line in ax.lines] == ["a", "b", "lowest in training (0.50)"]
    with pytest.raises(ValueError, match="curves"):
        matching_score_curves(new_figure().add_subplot(), [0, 1], {"a": [1.0]}, train_length=1)


def test_influence_profile_runs_from_the_last_position_back():
    ax = influence_profile(new_figure().add_subplot(), [0.0, 0.2, 0.3, 0.5], reach=2)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.5, 0.3, 0.2, 1e-6])
    assert list(ax.lines[1].get_xdata()) == [2, 2] and ax.get_yscale() == "log"
    ax = influence_profile(new_figure().add_subplot(), [0.5, 0.5], reach=float("inf"))
    assert len(ax.lines) == 1  # an infinite reach has no line
    with pytest.raises(ValueError, match="share must be >= 0"):
        influence_profile(new_figure().add_subplot(), [0.5, -0.5])


def test_recall_state_frontier_puts_each_memory_at_its_own_sizes():
    ax = recall_state_frontier(new_figure().add_subplot(), {"cache": ([512, 1024], [0.9, 1.0]),
                               "state": ([16, 64, 256], [0.2, 0.3, 0.5])}, chance=0.125, title="t")
    assert list(ax.lines[0].get_xdata()) == [512, 1024] and list(ax.lines[1].get_xdata()) == [16, 64, 256]
    assert ax.lines[2].get_label() == "chance (0.125)" and ax.get_xscale() == "log"
    dashed = recall_state_frontier(new_figure().add_subplot(), {"a": ([16], [0.5])}, styles={"a": {"linestyle": "--"}})
    assert dashed.lines[0].get_linestyle() == "--"
    with pytest.raises(ValueError, match="entries"):
        recall_state_frontier(new_figure().add_subplot(), {"a": ([16, 64], [0.5])})
    with pytest.raises(ValueError, match="> 0"):
        recall_state_frontier(new_figure().add_subplot(), {"a": ([0, 64], [0.5, 0.6])})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        recall_state_frontier(new_figure().add_subplot(), {"a": ([16], [1.5])})
    with pytest.raises(ValueError, match="pair"):
        recall_state_frontier(new_figure().add_subplot(), {"a": [16, 64, 0.5]})
