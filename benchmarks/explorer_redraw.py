"""Time a live explorer: from a control change to a redrawn 8x8 labelled attention map.

    python benchmarks/explorer_redraw.py [repeats]

The change is typed into the explorer's text box (the path a live kernel takes when the
reader edits numbers): parse, compute the weights with attn_core, update the heatmap in
place, render the PNG and hand it to the widget. The goal is a median <= 50 ms, under which
a redraw feels immediate; pyproject.toml keeps matplotlib below 3.11 for it.
"""

from __future__ import annotations

import statistics
import sys
import time

import matplotlib
import numpy as np

import attn_core as ac
from attn_core.plot import attention_heatmap
from attn_core.widgets import Explorer, Slider, TextInput, parse_numbers

TOKENS = "the quick brown fox jumps over lazy dogs".split()


def build() -> Explorer:
    x = ac.embed_tokens(TOKENS, 8, seed=0)

    def compute(temperature: float, query_scale: list[float]) -> dict:
        _, weights = ac.scaled_dot_product_attention(x * query_scale[0], x, x)
        return {"weights": ac.softmax(np.log(weights + 1e-12), temperature=temperature)}

    def draw(fig, state):
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        attention_heatmap(ax, state["weights"], row_labels=TOKENS, col_labels=TOKENS)

    return Explorer(
        compute, draw, figsize=(4.2, 3.8),
        sliders={"temperature": Slider("Temperature T", [("1", 1.0), ("2", 2.0)])},
        texts={"query_scale": TextInput("Query scale", "1", lambda t: parse_numbers(t, count=1))},
    )


def main(repeats: int = 40) -> float:
    explorer = build()
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        explorer.controls["query_scale"].value = f"{1 + (i + 1) / repeats:.4f}"
        times.append(time.perf_counter() - start)
        assert explorer.view.selected_index == 1, "the live picture is shown"
    median = statistics.median(times)
    print(f"matplotlib {matplotlib.__version__}, numpy {np.__version__}")
    print(f"live redraw of an 8x8 labelled map: median {median * 1e3:.1f} ms, "
          f"p90 {sorted(times)[int(0.9 * len(times))] * 1e3:.1f} ms over {repeats} changes")
    return median


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
