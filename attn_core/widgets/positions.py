"""Explorer of chapter 9 (positions): shift every position by the same amount, watch the weights.

One sentence, one pair of projections, five ways of telling attention where each token is.
The reader adds an offset to every position: the absolute encodings (sinusoidal and learned
vectors added to the tokens) change the weight map, the relative ones (Shaw et al.'s
relative keys, RoPE, ALiBi) leave it exactly as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from attn_core import positions as pos
from attn_core.experiments.data import sentence_setup
from attn_core.experiments.positions import offset_effect
from attn_core.plot import attention_heatmap
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["SENTENCE", "OFFSETS", "ENCODINGS", "SLIDER_LABELS", "position_offset_explorer"]

#: The chapter's sentence (as in chapter 5): eight tokens, "the" twice.
SENTENCE = ("the", "cat", "sat", "on", "the", "mat", "and", "slept")

#: The offsets on the slider: every position p becomes p + offset.
OFFSETS = (0, 1, 8, 16, 256)

#: The encodings the explorer compares: name -> what the picture's title calls it.
ENCODINGS = {
    "sinusoidal": "sinusoidal, added to X",
    "learned": "learned table, added to X",
    "relative": "relative keys (Shaw)",
    "rope": "rotary (RoPE)",
    "alibi": "ALiBi",
}
#: The colour scale of the change map runs from 0 to this (larger changes look the same).
CHANGE_SCALE = 0.5
#: The shorter names on the slider.
SLIDER_LABELS = {"sinusoidal": "sinusoidal", "learned": "learned", "relative": "relative keys",
                 "rope": "RoPE", "alibi": "ALiBi"}


def position_offset_explorer(
    tokens: Sequence[str] = SENTENCE,
    w_q: ArrayLike | None = None,
    w_k: ArrayLike | None = None,
    *,
    learned_table: ArrayLike | None = None,
    rel_keys: ArrayLike | None = None,
    alibi_heads: int = 8,
    alibi_head: int = 0,
    d_model: int = 8,
    seed: int = 7,
    query: int = 4,
) -> Explorer:
    r"""Add the same offset to every position and compare the weights with offset 0.

    Controls:

    * **Offset added to every position** (slider, with a play button): 0, 1, 8, 16,
      256; token ``t`` sits at position ``t + offset``;
    * **Encoding** (slider): sinusoidal or learned vectors added to ``X``, relative keys,
      RoPE, ALiBi.

    The left map is the weights at that offset, the right one how much each weight moved
    from offset 0, ``|A(offset) - A(0)|`` (colours from 0 to ``CHANGE_SCALE``), with the
    largest change in its title. A learned
    table with fewer rows than ``offset + n`` positions has nothing to look up: both maps
    are then empty and say so.

    Parameters
    ----------
    tokens : sequence of str
        The sentence, 2 to 12 tokens, embedded with :func:`attn_core.embed_tokens`.
    w_q, w_k : array_like, shape (d_model, d_k), optional
        Default: drawn from ``np.random.default_rng(seed)`` with ``d_k = 4`` and entries of
        variance ``1 / d_model``.
    learned_table : array_like, shape (n_max, d_model), optional
        Default ``learned_position_table(16, d_model, seed=seed + 1, std=1.0)``.
    rel_keys : array_like, shape (2 * max_distance + 1, d_k), optional
        Default 5 standard normal rows (``max_distance = 2``) from the same generator.
    alibi_heads, alibi_head : int
        The ALiBi slope used: head ``alibi_head`` of ``alibi_heads`` (default slope 1/2).
    d_model : int
    seed : int
    query : int
        The query row quoted in the pictures' alternative text.

    Returns
    -------
    Explorer
        ``state`` holds ``encoding``, ``offset``, ``positions`` (n,), ``weights`` and
        ``change`` ((n, n), or None when a learned table runs out), ``max_change`` (float
        or None) and ``weights_at_zero`` (n, n).

    Raises
    ------
    TypeError
        ``tokens`` is not a sequence of strings.
    ValueError
        Fewer than 2 or more than 12 tokens; projections or tables of the wrong shape.

    Examples
    --------
    >>> ex = position_offset_explorer()
    >>> ex.frame_count(), ex.state["encoding"], ex.state["max_change"]
    (25, 'sinusoidal', 0.0)
    >>> ex.controls["offset"].value = 16
    >>> ex.state["max_change"] > 0.1
    True
    >>> ex.controls["encoding"].value = "rope"
    >>> ex.state["max_change"] < 1e-12
    True
    """
    x, tokens, rng, w_q, w_k = sentence_setup(tokens, d_model, query, seed, w_q=w_q, w_k=w_k)
    n, d_k = len(tokens), w_q.shape[1]
    if rel_keys is None:
        rel_keys = rng.standard_normal((5, d_k))
    rel_keys = np.asarray(rel_keys, dtype=float)
    if learned_table is None:
        learned_table = pos.learned_position_table(16, d_model, seed=seed + 1, std=1.0)
    learned_table = np.asarray(learned_table, dtype=float)
    if learned_table.ndim != 2 or learned_table.shape[1] != d_model:
        raise ValueError(f"learned_table must have shape (n_max, d_model={d_model}), got {learned_table.shape}")
    n_max = learned_table.shape[0]
    if n > n_max:
        raise ValueError(f"the learned table has {n_max} rows, fewer than the {n} tokens")
    setup = {"learned_table": learned_table, "rel_keys": rel_keys,
             "alibi_heads": alibi_heads, "alibi_head": alibi_head}
    def compute(offset: int, encoding: str) -> dict:
        return {**offset_effect(x, w_q, w_k, encoding, offset, **setup), "n_max": n_max}

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            fig.add_subplot(1, 2, 1)
            fig.add_subplot(1, 2, 2)
        ax_w, ax_c = fig.axes[:2]
        first, last = state["positions"][0], state["positions"][-1]
        missing = state["weights"] is None
        blank = np.zeros((n, n))
        attention_heatmap(ax_w, blank if missing else state["weights"], row_labels=tokens,
                          col_labels=tokens, title=f"weights\npositions {first}–{last}")
        change_title = ("change from offset 0\nundefined" if missing
                        else f"change from offset 0\nlargest {state['max_change']:.3f}")
        attention_heatmap(ax_c, blank if missing else state["change"], row_labels=tokens,
                          col_labels=tokens, ylabel="", title=change_title, annotate=False,
                          vmax=CHANGE_SCALE)
        ax_c.tick_params(labelleft=False)  # the same tokens as on the left
        for text in ax_w._attn_heatmap["texts"].flat:
            text.set_visible(not missing)
        for ax in (ax_w, ax_c):
            if not hasattr(ax, "_attn_missing"):
                ax._attn_missing = ax.text((n - 1) / 2, (n - 1) / 2, "", ha="center", va="center",
                                           fontsize=9, color="white", wrap=True)
            ax._attn_missing.set_text(f"no table row\nfor positions\n{n_max}–{last}" if missing else "")
        fig.suptitle(ENCODINGS[state["encoding"]], fontsize=11)

    def describe(state: dict) -> str:
        first, last = state["positions"][0], state["positions"][-1]
        head = (f"Encoding: {ENCODINGS[state['encoding']]}; the sentence '{' '.join(tokens)}' at "
                f"positions {first} to {last} (offset {state['offset']}). ")
        if state["weights"] is None:
            return head + (f"The learned table has only {n_max} rows (positions 0 to {n_max - 1}), "
                           f"so positions {n_max} to {last} have no vector: both maps are empty.")
        row = state["weights"][query]
        spread = ", ".join(f"{tok} {w:.2f}" for tok, w in zip(tokens, row))
        return head + (f"Left, the weights; row {query + 1} ('{tokens[query]}') is {spread}. "
                       f"Right, the change from offset 0: largest {state['max_change']:.2g}"
                       + (", nothing moved." if state["max_change"] < 1e-9 else "."))

    return Explorer(
        compute, draw,
        sliders={
            "offset": Slider("Offset added to every position", [(str(c), c) for c in OFFSETS], value=0),
            "encoding": Slider("Encoding", [(SLIDER_LABELS[name], name) for name in ENCODINGS],
                               value="sinusoidal"),
        },
        describe=describe,
        title=("Move every token along by the same offset (or press play), then switch the "
               "encoding: the right-hand map shows what the shift changed."),
        figsize=(6.4, 3.4),
        play=True,
    )
