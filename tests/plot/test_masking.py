"""Chapter figures for masking: attn_core.plot.masking."""

import numpy as np
import pytest

import attn_core as ac
from attn_core.plot import new_figure
from attn_core.plot.masking import mask_heatmap


def dashed_marks(ax):
    """The dashed outlines that mask_heatmap draws round the marked cells."""
    return [p for p in ax.patches if p.get_linestyle() == "--" and p.get_visible()]


def test_mask_heatmap_updates_in_place_and_checks_its_input():
    ax = new_figure().add_subplot()
    mask_heatmap(ax, ac.causal_mask(3), marked=[(0, 1), (2, 2)])
    image = ax.images[0]
    marks = dashed_marks(ax)
    assert len(marks) == 2 and len(ax.patches) == 3  # two marks and the row outline
    assert [(m.get_x() + m.get_width() / 2, m.get_y() + m.get_height() / 2) for m in marks] == [(1, 0), (2, 2)]
    mask_heatmap(ax, ~ac.causal_mask(3), marked=[(1, 1)])
    assert list(ax.images) == [image]
    assert [(m.get_x() + m.get_width() / 2, m.get_y() + m.get_height() / 2) for m in dashed_marks(ax)] == [(1, 1)]
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.texts[:3]] == ["0", "1", "1"]
    with pytest.raises(TypeError, match="boolean"):
        mask_heatmap(ax, np.eye(3))
    with pytest.raises(ValueError, match="outside the mask"):
        mask_heatmap(ax, ac.causal_mask(3), marked=[(3, 0)])
    with pytest.raises(ValueError, match="matrix"):
        mask_heatmap(ax, np.ones(3, dtype=bool))
