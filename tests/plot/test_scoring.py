"""Chapter figures for scoring: attn_core.plot.scoring."""


import pytest

from attn_core.plot import new_figure
from attn_core.plot.scoring import key_colors, vector_arrows


def arrows(ax):
    """The arrows of vector_arrows: annotations with an arrow, keys first, then queries."""
    return [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]


def test_vector_arrows_updates_in_place_and_checks_input():
    fig = new_figure()
    ax = fig.add_subplot()
    vector_arrows(ax, [[1.0, 0.0], [0.0, 2.0]], ["a", "b"], queries=[[1.0, 1.0]], limit=3.0)
    before = arrows(ax)
    vector_arrows(ax, [[1.0, 0.0], [0.0, 2.0]], ["a", "b"], queries=[[-1.0, 0.5]], limit=3.0, title="moved")
    assert arrows(ax) == before  # the same artists, moved
    assert [a.xy for a in before] == [(1.0, 0.0), (0.0, 2.0), (-1.0, 0.5)]
    assert [t.get_text() for t in ax.texts if getattr(t, "arrow_patch", None) is None] == ["a", "b", "q1"]
    assert ax.get_title() == "moved" and ax.get_xlim() == (-3.0, 3.0)
    with pytest.raises(ValueError, match=r"keys must have 2 columns; got shape \(1, 3\)"):
        vector_arrows(ax, [[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="labels"):
        vector_arrows(ax, [[1.0, 0.0]], ["a", "b"])
    assert len(key_colors(3)) == 3
