"""Chapter figures for multihead: attn_core.plot.multihead."""

import numpy as np
import pytest

from attn_core.plot import new_figure
from attn_core.plot.multihead import decode_bytes_bars, head_grouping


def test_head_grouping_joins_each_query_head_to_its_key_value_head():
    ax = head_grouping(new_figure().add_subplot(), 8, 2, highlight=5)
    ends = sorted((line.get_xdata()[0], line.get_xdata()[1]) for line in ax.lines)
    assert ends == [(j, 1.5 if j < 4 else 5.5) for j in range(8)]
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("KV0") == 1 and "KV1" in labels and "Q0" in labels and "Q7" in labels
    assert "Q8" not in labels and "KV2" not in labels  # heads counted from 0
    with pytest.raises(ValueError, match="must divide"):
        head_grouping(ax, 8, 3)
    with pytest.raises(ValueError, match="highlight"):
        head_grouping(ax, 8, 2, highlight=8)


def test_decode_bytes_bars_stacks_cache_after_weights():
    ax = decode_bytes_bars(new_figure().add_subplot(), ["one", "two"], [2e9, 2e9], [1e9, 6e9],
                           bytes_per_second=2e12)
    bars = ax.patches
    widths = sorted((round(b.get_x(), 6), round(b.get_width(), 6)) for b in bars)
    assert widths == [(0.0, 2.0), (0.0, 2.0), (2.0, 1.0), (2.0, 6.0)]  # GB: weights from 0, cache after
    notes = [t.get_text() for t in ax.texts]
    assert "3.0 GB, cache 33%, 1.5 ms" in notes and "8.0 GB, cache 75%, 4.0 ms" in notes
    ticks = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert ticks["one"] > ticks["two"]  # the first label on top
    assert np.isclose(ax.get_xlim()[1], 1.9 * 8.0)
    small = decode_bytes_bars(ax, ["x"], [100e9], [0.5e9])  # drawn again on the same Axes
    assert [t.get_text() for t in small.texts] == ["100.5 GB, cache 0.5%"]  # a small share keeps a decimal
    assert len(small.patches) == 2


def test_decode_bytes_bars_refuses_bad_input():
    ax = new_figure().add_subplot()
    with pytest.raises(ValueError, match="cache_bytes has 1 entries"):
        decode_bytes_bars(ax, ["a", "b"], [1.0, 1.0], [1.0])
    with pytest.raises(ValueError, match=">= 0"):
        decode_bytes_bars(ax, ["a"], [1.0], [-1.0])
    with pytest.raises(ValueError, match="labels has 1 labels"):
        decode_bytes_bars(ax, ["a"], [1.0, 2.0], [1.0, 2.0])
