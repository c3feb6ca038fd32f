"""Chapter figures for efficiency: attn_core.plot.efficiency."""

import numpy as np
import pytest
from matplotlib.colors import to_hex

from attn_core.experiments.efficiency import tile_schedule
from attn_core.plot import COLORS, new_figure
from attn_core.plot.efficiency import (
    TILE_COLORS,
    cost_curves,
    output_comparison,
    score_blocks,
    tile_grid,
)


def test_tile_grid_draws_the_three_kinds():
    ax = tile_grid(new_figure().add_subplot(), tile_schedule(8, 8, block_size=2, causal=True), block_size=2)
    image = ax.images[0]
    assert image.get_array().shape == (4, 4)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "skipped", "computed, partly masked", "computed whole"]
    assert len(TILE_COLORS) == 3
    with pytest.raises(ValueError, match=r"kinds must lie in 0\.\.2; got 3"):
        tile_grid(new_figure().add_subplot(), np.full((2, 2), 3))


def test_cost_curves_and_bad_lengths():
    ax = cost_curves(new_figure().add_subplot(), [256, 512], {"a": [1, 4], "b": [1, 2]}, ylabel="seconds")
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match=r"series\['a'\] has shape \(1,\), but n has 2 points"):
        cost_curves(new_figure().add_subplot(), [256, 512], {"a": [1]}, ylabel="seconds")


def test_score_blocks_and_outputs_update_in_place():
    fig = new_figure()
    ax = fig.add_subplot()
    score_blocks(ax, [1.0, 3.0, 2.0, 5.0], 2, 1, 3.0)
    bars = list(ax.patches)
    score_blocks(ax, [1.0, 3.0, 2.0, 5.0], 2, 2, 5.0)
    assert list(ax.patches) == bars
    running_max = [line for line in ax.get_lines() if line.get_label() == "running max m"]
    assert len(running_max) == 1 and running_max[0].get_ydata()[0] == 5.0
    heights_and_colours = [(b.get_height(), to_hex(b.get_facecolor())) for b in bars]
    assert heights_and_colours == [(1.0, COLORS["main"]), (3.0, COLORS["main"]),
                                   (2.0, COLORS["accent"]), (5.0, COLORS["accent"])]  # block 2 read last
    with pytest.raises(ValueError, match="blocks_read must be 1..2"):
        score_blocks(ax, [1.0, 3.0, 2.0, 5.0], 2, 3, 5.0)
    ax2 = fig.add_subplot(2, 1, 2)
    output_comparison(ax2, [0.1, 0.2], [0.3, 0.4])
    output_comparison(ax2, [0.5, 0.6], [0.3, 0.4])
    running, final = ax2.containers  # the running bars, then the final ones
    assert running.get_label() == "running output" and final.get_label() == "final output"
    assert [round(b.get_height(), 2) for b in running] == [0.5, 0.6]
    assert [round(b.get_height(), 2) for b in final] == [0.3, 0.4]
    with pytest.raises(ValueError, match="final has 2 entries, but running has 1"):
        output_comparison(ax2, [0.1], [0.3, 0.4])


def test_score_blocks_colours_the_blocks_in_their_reading_order():
    ax = new_figure().add_subplot()
    scores = [1.0, 3.0, 2.0, 5.0, 0.5, 0.1]  # three blocks of two
    score_blocks(ax, scores, 2, 2, 5.0, read_order=[2, 1, 0])  # right to left, two blocks read
    colours = [to_hex(b.get_facecolor()) for b in ax.patches]
    assert colours == ["#c8c8c8", "#c8c8c8",  # block 0: not read yet
                       COLORS["accent"], COLORS["accent"],  # block 1: read last
                       COLORS["main"], COLORS["main"]]  # block 2: read first
    with pytest.raises(ValueError, match=r"read_order must be a permutation of 0\.\.2"):
        score_blocks(ax, scores, 2, 1, 5.0, read_order=[0, 0, 1])


def test_score_blocks_hides_the_running_max_and_shows_it_again():
    ax = score_blocks(new_figure().add_subplot(), [1.0, 3.0, 2.0, 5.0], 2, 1, 0.0, show_max=False)
    line = next(line for line in ax.get_lines() if line.get_label() == "running max m")
    assert not line.get_visible() and not ax.get_legend().get_visible()
    score_blocks(ax, [1.0, 3.0, 2.0, 5.0], 2, 2, 5.0)
    assert line.get_visible() and ax.get_legend().get_visible() and line.get_ydata()[0] == 5.0
    with pytest.raises(TypeError, match="show_max"):
        score_blocks(ax, [1.0, 3.0, 2.0, 5.0], 2, 2, 5.0, show_max=1)


def test_roofline_draws_each_roof_with_its_ridge_and_the_points_on_it():
    from attn_core.experiments.efficiency import A100, H100, ridge_point
    from attn_core.plot.efficiency import roofline

    points = {"standard": 32.0, "tiled": 328.0}
    ax = roofline(new_figure().add_subplot(), [A100, H100], points)
    roofs = [line for line in ax.lines if line.get_label() in (A100.name, H100.name)]
    assert len(roofs) == 2
    x, y = roofs[0].get_data()
    assert y[0] == pytest.approx(x[0] * 2.039) and y[-1] == pytest.approx(312.0)  # TFLOP/s: slope, then flat
    markers = [line for line in ax.lines if line.get_marker() == "s"]
    assert len(markers) == 4  # two points on two roofs
    placed = sorted((float(m.get_xdata()[0]), float(m.get_ydata()[0])) for m in markers)
    on_the_roofs = sorted((value, min(312.0, value * 2.039)) for value in points.values()) + sorted(
        (value, min(989.4, value * 3.35)) for value in points.values())
    np.testing.assert_allclose(placed, sorted(on_the_roofs))  # each point sits on each roof
    for chip in (A100, H100):  # the ridge: a dot at (peak / bandwidth, peak), and its value written
        ridge = ridge_point(chip)
        assert any(line.get_marker() == "o" and line.get_xdata()[0] == pytest.approx(ridge)
                   and line.get_ydata()[0] == pytest.approx(chip.peak_flops / 1e12) for line in ax.lines)
        assert any(text.get_text() == f"ridge {ridge:.0f}" for text in ax.texts)
    with pytest.raises(TypeError, match="accelerators"):
        roofline(new_figure().add_subplot(), A100)
    with pytest.raises(ValueError, match="intensity_range"):
        roofline(new_figure().add_subplot(), [A100], intensity_range=(8.0, 2.0))


@pytest.mark.parametrize("chips, points, span", [
    ("A100 H100", {"standard": 31.5, "tiled, b = 128": 124.1, "tiled, b = 328": 292.2}, (1.0, 4096.0)),
    ("H100", {"prefill 8,192": 6000.0, "prefill 128": 120.0, "decode, B = 32": 31.0, "decode, B = 1": 1.0},
     (0.5, 3e4)),
    ("A100", {"at the ridge": 153.0, "far right": 4000.0, "far left": 1.1}, (1.0, 4096.0)),
])
def test_roofline_labels_never_touch_a_roof(chips, points, span):
    from attn_core.experiments import efficiency
    from attn_core.plot.efficiency import roofline

    accelerators = [getattr(efficiency, name) for name in chips.split()]
    ax = roofline(new_figure().add_subplot(), accelerators, points, intensity_range=span)
    renderer = ax.figure.canvas.get_renderer()
    to_data = ax.transData.inverted()
    labels = [text for text in ax.texts if text.get_text() in points]
    assert len(labels) == len(points)
    for text in labels:
        (left, low), (right, high) = to_data.transform(text.get_window_extent(renderer).get_points())
        for chip in accelerators:
            # the roof rises to the right: its lowest value over the label is at the left edge, its highest at the right
            roof_left, roof_right = (efficiency.attainable_flops(x, chip) / 1e12 for x in (left, right))
            assert low > roof_right or high < roof_left, (text.get_text(), chip.name)


def test_flop_shares_stack_to_one_hundred_percent():
    from attn_core.plot.efficiency import flop_shares

    ax = flop_shares(new_figure().add_subplot(), [1, 2, 4], {"a": [3.0, 2.0, 1.0], "b": [1.0, 2.0, 3.0]}, crossover=2)
    top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(100.0)
    assert any(line.get_xdata()[0] == 2 for line in ax.lines)  # the crossover line
    with pytest.raises(ValueError, match="FLOPs >= 0"):
        flop_shares(new_figure().add_subplot(), [1, 2], {"a": [0.0, 0.0]})
