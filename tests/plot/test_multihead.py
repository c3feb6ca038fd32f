"""Chapter figures for multihead: attn_core.plot.multihead."""

import pytest

from attn_core.plot import new_figure
from attn_core.plot.multihead import head_grouping


def test_head_grouping_joins_each_query_head_to_its_key_value_head():
    ax = head_grouping(new_figure().add_subplot(), 8, 2, highlight=5)
    ends = sorted((line.get_xdata()[0], line.get_xdata()[1]) for line in ax.lines)
    assert ends == [(j, 1.5 if j < 4 else 5.5) for j in range(8)]
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("KV1") == 1 and "KV2" in labels and "Q8" in labels
    with pytest.raises(ValueError, match="must divide"):
        head_grouping(ax, 8, 3)
    with pytest.raises(ValueError, match="highlight"):
        head_grouping(ax, 8, 2, highlight=8)
