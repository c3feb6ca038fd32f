"""Chapter figures for performance: attn_core.plot.performance."""

import pytest
from numpy.testing import assert_allclose

from attn_core.plot import new_figure
from attn_core.plot.performance import accuracy_bars, paired_bars


def test_accuracy_bars_show_mean_spread_and_runs():
    runs = {"attention": [[1.0, 1.0], [1.0, 0.98]], "pooling": [[0.45, 0.46], [0.43, 0.48]]}
    ax = accuracy_bars(new_figure().add_subplot(), ["content", "position"], runs, chance=0.25)
    heights = [bar.get_height() for bar in ax.patches]
    assert_allclose(heights, [1.0, 0.99, 0.44, 0.47])
    assert [t.get_text() for t in ax.texts] == ["1.00", "0.99", "0.44", "0.47"]
    whiskers = ax.collections[1].get_segments()  # pooling: lowest to highest run
    assert_allclose([seg[:, 1] for seg in whiskers], [[0.43, 0.45], [0.46, 0.48]])
    with pytest.raises(ValueError, match=r"results\['x'\] has shape \(1, 3\), but groups has 2 points"):
        accuracy_bars(new_figure().add_subplot(), ["a", "b"], {"x": [[1.0, 2.0, 3.0]]})


def test_paired_bars_star_the_right_answers():
    ax = paired_bars(new_figure().add_subplot(), [0.1, 0.2, 0.7], [0.7, 0.2, 0.1], ["0", "1", "2"],
                     correct=(2, 0))
    assert len(ax.patches) == 6
    stars = [t for t in ax.texts if t.get_text() == "★"]
    assert [round(s.get_position()[0], 1) for s in stars] == [1.8, 0.2]
    with pytest.raises(ValueError, match="second has 1 entries, but first has 2"):
        paired_bars(new_figure().add_subplot(), [0.5, 0.5], [1.0])
