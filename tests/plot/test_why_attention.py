"""Chapter figures for why attention: attn_core.plot.why_attention."""

import pytest

from attn_core.plot import new_figure
from attn_core.plot.why_attention import answer_bars, retrieval_error_plot


def test_answer_bars_update_in_place():
    ax = new_figure().add_subplot()
    answer_bars(ax, [0.5, -0.25, 1.0], ["average", "attention", "truth"], xlim=(-2, 2))
    bars = list(ax.patches)
    answer_bars(ax, [-0.5, 0.75, 1.0], ["average", "attention", "truth"], xlim=(-2, 2))
    assert list(ax.patches) == bars  # the same artists, new widths
    assert [bar.get_width() for bar in bars] == [-0.5, 0.75, 1.0]
    assert [t.get_text() for t in ax.texts] == ["-0.50", "+0.75", "+1.00"]
    assert ax.texts[0].get_horizontalalignment() == "right"
    assert ax.get_xlim() == (-2.0, 2.0)
    with pytest.raises(ValueError, match="labels"):
        answer_bars(new_figure().add_subplot(), [1.0, 2.0], ["one"])
    with pytest.raises(ValueError, match="vector"):
        answer_bars(new_figure().add_subplot(), [[1.0]])


def test_retrieval_error_plot_draws_one_curve_per_reader():
    ax = new_figure().add_subplot()
    retrieval_error_plot(ax, [2, 4, 8], {"average": [1.0, 1.0, 1.0], "attention": [0.0, 0.0, 0.1]},
                         d_k=4, reference=("predicted", [0.2, 0.4, 0.6]))
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["average", "attention", "predicted"]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "8"]
    with pytest.raises(ValueError, match="shape"):
        retrieval_error_plot(new_figure().add_subplot(), [2, 4], {"average": [1.0]})
