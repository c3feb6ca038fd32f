"""Explorer of chapter 8, multi-head attention: four planted heads, and what sharing keys does to them.

The layer is :func:`attn_core.experiments.multihead.planted_heads` (heads that look at the previous token,
the next token, the same word, and everywhere). Fewer key/value heads are made with
:func:`attn_core.experiments.multihead.mean_pool_kv_heads`, the conversion of Ainslie et al. (2023), with
no training afterwards, so the reader sees which heads lose their pattern when they share.
"""

from __future__ import annotations

import numbers

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from attn_core.experiments.multihead import (
    PLANTED_HEAD_NAMES,
    mean_pool_kv_heads,
    planted_heads,
    word_position_codes,
)
from attn_core.plot import attention_heatmap
from attn_core.plot.multihead import head_grouping
from attn_core.widgets.explorer import Explorer, Slider, TextInput

__all__ = ["SENTENCE", "KV_HEAD_OPTIONS", "head_sharing_explorer"]

#: The chapter's sentence: eight tokens, "the" three times and "cat" twice.
SENTENCE = ("the", "cat", "saw", "the", "dog", "chase", "the", "cat")

#: The "Key/value heads" slider: multi-head, grouped-query and multi-query attention.
KV_HEAD_OPTIONS = (("4 (multi-head)", 4), ("2 (grouped)", 2), ("1 (multi-query)", 1))

#: Short names of the four planted heads, written above their boxes.
_SHORT_NAMES = ("previous", "next", "same\nword", "broad")

ALL_HEADS = -1

def _parse_sentence(text: str, max_tokens: int) -> tuple[str, ...]:
    tokens = tuple(text.split())
    if not 2 <= len(tokens) <= max_tokens:
        raise ValueError(f"Sentence: type 2 to {max_tokens} words separated by spaces, got {len(tokens)}")
    return tokens


def head_sharing_explorer(tokens: Sequence[str] = SENTENCE, *, d_head: int = 8, strength: float = 4.0,
                          seed: int = 7, kv_heads: int = 4, head: int = ALL_HEADS) -> Explorer:
    """The four planted heads' weight maps, with 4, 2 or 1 key/value heads shared among them.

    Controls:

    * **Key/value heads** (slider): 4 (multi-head attention), 2 (grouped-query: query heads
      1-2 and 3-4 each share one key/value head) or 1 (multi-query: all four share one);
      the shared heads are the mean of the heads they replace (:func:`~attn_core.experiments.multihead.mean_pool_kv_heads`);
    * **Head** (slider): all four maps side by side, or one head's map with its numbers;
    * **Sentence** (text, live kernel only): 2 to ``d_head`` words separated by spaces.

    Parameters
    ----------
    tokens : sequence of str
        The sentence, 2 to ``d_head`` tokens.
    d_head, strength, seed
        Passed to :func:`~attn_core.experiments.multihead.planted_heads`.
    kv_heads : int, default 4
        The starting number of key/value heads: 4, 2 or 1.
    head : int, default -1
        The starting head: -1 for all four, else 0 to 3.

    Returns
    -------
    Explorer
        ``state`` holds ``weights`` (4, n, n), ``kv_heads``, ``head`` (-1 = all),
        ``tokens``, ``kv_of_head`` (the key/value head each query head uses) and
        ``head_names``.

    Raises
    ------
    TypeError
        ``tokens`` is not a sequence of strings.
    ValueError
        Fewer than 2 or more than ``d_head`` tokens; ``kv_heads`` not 4, 2 or 1; ``head``
        not -1, 0, 1, 2 or 3.

    Examples
    --------
    >>> ex = head_sharing_explorer()
    >>> ex.frame_count(), ex.state["weights"].shape
    (15, (4, 8, 8))
    >>> ex.controls["kv_heads"].value = 1
    >>> ex.state["kv_of_head"]
    [0, 0, 0, 0]
    """
    base = planted_heads(d_head=d_head, strength=strength, seed=seed)
    word_position_codes(tokens, width=2 * d_head)  # checks the tokens
    tokens = tuple(tokens)
    if not 2 <= len(tokens) <= d_head:
        raise ValueError(f"the planted heads read 2 to {d_head} tokens, got {len(tokens)}")
    layers = {value: mean_pool_kv_heads(base, value) for _, value in KV_HEAD_OPTIONS}
    if isinstance(kv_heads, (bool, np.bool_)) or not isinstance(kv_heads, numbers.Integral) \
            or kv_heads not in layers:
        raise ValueError(f"kv_heads must be 4, 2 or 1, got {kv_heads!r}")
    if isinstance(head, (bool, np.bool_)) or not isinstance(head, numbers.Integral) \
            or head not in (ALL_HEADS, 0, 1, 2, 3):
        raise ValueError(f"head must be -1 (all heads) or a head index 0..3, got {head!r}")

    def compute(kv_heads: int, head: int, sentence: tuple[str, ...]) -> dict:
        layer = layers[kv_heads]
        x = word_position_codes(sentence, width=2 * d_head)  # (n, d_model)
        _, weights = layer(x)  # (heads, n, n)
        return {"weights": weights, "kv_heads": kv_heads, "head": head, "tokens": sentence,
                "kv_of_head": [j // layer.group_size for j in range(layer.n_heads)],
                "head_names": PLANTED_HEAD_NAMES}

    def layout(fig: Figure) -> tuple:
        """Every axes the frames use, made once on one grid: the explorer lays it out once."""
        grid = fig.add_gridspec(2, 3, width_ratios=[1.25, 1, 1])
        grouping = fig.add_subplot(grid[:, 0])
        small = [fig.add_subplot(grid[r, c]) for r in range(2) for c in (1, 2)]
        single = fig.add_subplot(grid[:, 1:])
        return grouping, small, single

    def draw(fig: Figure, state: dict) -> None:
        if not hasattr(fig, "_multihead_axes"):
            fig._multihead_axes = layout(fig)
            fig._multihead_tokens = None
        grouping, small, single = fig._multihead_axes
        labels = list(state["tokens"])
        if fig._multihead_tokens != state["tokens"]:  # new words: redraw the maps' labels too
            for ax in small + [single]:
                ax.__dict__.pop("_attn_heatmap", None)
            fig._multihead_tokens = state["tokens"]
        kv, j = state["kv_heads"], state["head"]
        name = {4: "multi-head", 2: "grouped-query", 1: "multi-query"}[kv]
        head_grouping(grouping, 4, kv, head_labels=_SHORT_NAMES, highlight=None if j == ALL_HEADS else j,
                      title=f"{name}: 4 query heads,\n{kv} key/value head{'s' if kv > 1 else ''}")
        show_one = j != ALL_HEADS
        first = not hasattr(fig, "_multihead_drawn")  # the first frame fills every axes (for the layout)
        fig._multihead_drawn = True
        if show_one or first:
            attention_heatmap(single, state["weights"][max(j, 0)], row_labels=labels, col_labels=labels,
                              title=f"head {max(j, 0) + 1}: {state['head_names'][max(j, 0)]}")
            single.title.set_fontsize(9)
            single.tick_params(labelsize=8)
        if not show_one or first:
            for m, ax in enumerate(small):
                attention_heatmap(ax, state["weights"][m], row_labels=labels, col_labels=labels,
                                  annotate=False, xlabel="keys" if m >= 2 else "",
                                  ylabel="queries" if m % 2 == 0 else "",
                                  title=f"{m + 1}: {state['head_names'][m]}")
                ax.title.set_fontsize(9)
                ax.tick_params(labelsize=8, labelbottom=m >= 2, labelleft=m % 2 == 0)
        single.set_visible(show_one)
        for ax in small:
            ax.set_visible(not show_one)

    def describe(state: dict) -> str:
        kv, tokens_ = state["kv_heads"], state["tokens"]
        groups = "; ".join(
            f"query head{'s' if 4 // kv > 1 else ''} "
            f"{' and '.join(str(j + 1) for j in range(4) if state['kv_of_head'][j] == g)} "
            f"{'share' if 4 // kv > 1 else 'uses'} key/value head {g + 1}" for g in range(kv))
        text = (f"Sentence '{' '.join(tokens_)}', {kv} key/value head{'s' if kv > 1 else ''} "
                f"({groups}). ")
        heads = range(4) if state["head"] == ALL_HEADS else [state["head"]]
        parts = []
        for j in heads:
            w = state["weights"][j]
            tops = ", ".join(f"{tokens_[i]}→{tokens_[int(np.argmax(w[i]))]} {w[i].max():.2f}"
                             for i in range(len(tokens_)))
            parts.append(f"Head {j + 1} ({state['head_names'][j]}), each query's largest weight: {tops}.")
        return text + " ".join(parts)

    return Explorer(
        compute, draw,
        sliders={
            "kv_heads": Slider("Key/value heads", list(KV_HEAD_OPTIONS), value=kv_heads),
            "head": Slider("Head", [("all four", ALL_HEADS)]
                           + [(f"{j + 1}: {n}", j) for j, n in enumerate(PLANTED_HEAD_NAMES)], value=head),
        },
        texts={"sentence": TextInput(f"Sentence (2 to {d_head} words)", " ".join(tokens),
                                     lambda text: _parse_sentence(text, d_head))},
        describe=describe,
        title=("Start with 4 key/value heads and look at each head's map; then share the keys and "
               "values between 2 groups, then among all four heads, and see which patterns survive. "
               f"In a live notebook, type a sentence of your own (up to {d_head} words)."),
        figsize=(6.4, 4.0),
    )
