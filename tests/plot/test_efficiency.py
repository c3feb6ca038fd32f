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
