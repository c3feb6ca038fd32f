"""Chapter figures for interpretability: attn_core.plot.interpretability."""

import pytest

from attn_core.plot import new_figure
from attn_core.plot.interpretability import (
    grouped_bars,
    value_plane,
    weight_effect_scatter,
)


# --------------------------------------------------------------------------- figures
def test_grouped_bars_update_in_place():
    ax = new_figure().add_subplot()
    grouped_bars(ax, {"weight": [0.5, 0.5], "effect": [0.1, 0.9]}, ["A", "B"])
    bars = list(ax.patches)
    grouped_bars(ax, {"weight": [0.2, 0.8], "effect": [0.3, 0.7]}, ["A", "B"], highlight=1)
    assert list(ax.patches) == bars
    assert [b.get_height() for b in bars] == [0.2, 0.8, 0.3, 0.7]
    assert [t.get_text() for t in ax.texts] == ["0.20", "0.80", "0.30", "0.70"]
    with pytest.raises(ValueError, match=r"series\['effect'\] has shape \(1,\)"):
        grouped_bars(ax, {"weight": [0.5, 0.5], "effect": [1.0]})
    with pytest.raises(ValueError, match="highlight"):
        grouped_bars(new_figure().add_subplot(), {"weight": [1.0]}, highlight=2)


def test_value_plane_marks_values_off_the_panel():
    ax = value_plane(new_figure().add_subplot(), [[0.0, 0.0], [0.0, 9.0]], [0.9, 0.1], ["A", "E"],
                     moved_output=[0.0, 0.0], highlight=1, limits=((-1, 1), (-1, 1)))
    texts = [t.get_text() for t in ax.texts]
    assert "A 0.90" in texts and "E 0.10, at (0, 9)" in texts
    assert ax.get_ylim() == (-1, 1)
    with pytest.raises(ValueError, match="values must have 2 columns"):
        value_plane(ax, [[0.0, 0.0, 0.0]], [1.0])
    with pytest.raises(ValueError, match="weights has 2 entries, but values has 1"):
        value_plane(ax, [[0.0, 0.0]], [0.5, 0.5])


def test_weight_effect_scatter_bad_input():
    with pytest.raises(ValueError, match="effects has 1 entries, but weights has 2"):
        weight_effect_scatter(new_figure().add_subplot(), [0.1, 0.2], [1.0], [True, False])
