"""Chapter figures for inference: attn_core.plot.inference."""

import pytest

from attn_core.plot import new_figure
from attn_core.plot.inference import decode_intensity_bars
from attn_core.plot.style import COLORS


def _bars(ax):
    return [patch for patch in ax.patches]


def test_bars_have_the_intensities_and_the_ridge_separates_their_colours():
    ax = decode_intensity_bars(new_figure().add_subplot(), ["a", "b", "c"], [2.0, 295.0, 800.0], ridge=295.0)
    widths = [float(bar.get_width()) for bar in _bars(ax)]
    assert widths == [2.0, 295.0, 800.0]
    ridge = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(ridge) == 1 and ridge[0].get_xdata()[0] == 295.0
    colors = [bar.get_facecolor()[:3] for bar in _bars(ax)]
    assert colors[0] != colors[2] and colors[1] == colors[2]  # at the ridge counts as compute-bound
    assert ax.get_xscale() == "log"
    heights = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert heights["a"] > heights["b"] > heights["c"]  # the first label on top


def test_steps_that_do_not_fit_are_pale_hatched_and_named():
    ax = decode_intensity_bars(new_figure().add_subplot(), ["a", "b"], [2.0, 50.0], ridge=295.0,
                               fits=[True, False], title="t")
    first, second = _bars(ax)
    assert first.get_alpha() == 1.0 and second.get_alpha() < 0.5 and second.get_hatch() == "//"
    notes = [t.get_text() for t in ax.texts]
    assert "50, does not fit" in notes and "2.0" in notes and ax.get_title() == "t"
    assert first.get_facecolor()[:3] == pytest.approx(tuple(int(COLORS["main"][i:i + 2], 16) / 255
                                                            for i in (1, 3, 5)))


def test_redrawing_replaces_the_bars():
    ax = new_figure().add_subplot()
    decode_intensity_bars(ax, ["a", "b", "c"], [1.0, 2.0, 3.0], ridge=10.0)
    decode_intensity_bars(ax, ["d"], [5.0], ridge=10.0)
    assert len(_bars(ax)) == 1


def test_bad_input_is_named():
    ax = new_figure().add_subplot()
    with pytest.raises(ValueError, match="intensities"):
        decode_intensity_bars(ax, ["a"], [0.0], ridge=1.0)
    with pytest.raises(ValueError, match="labels"):
        decode_intensity_bars(ax, ["a"], [1.0, 2.0], ridge=1.0)
    with pytest.raises(ValueError, match="ridge"):
        decode_intensity_bars(ax, ["a"], [1.0], ridge=-1.0)
    with pytest.raises(TypeError, match="fits"):
        decode_intensity_bars(ax, ["a"], [1.0], ridge=1.0, fits=[1])
    with pytest.raises(ValueError, match="xlim"):
        decode_intensity_bars(ax, ["a"], [1.0], ridge=1.0, xlim=(10.0, 1.0))
