"""Explorers of chapter 5, scaled dot-product attention: one sentence's weight map, row by row.

The sentence is embedded with :func:`attn_core.embed_tokens` and projected to queries and
keys with fixed matrices; the explorer highlights one query's row of the weight map and
scales the scores, so the reader sees how that row spreads over the keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from attn_core.experiments.data import sentence_setup
from attn_core.experiments.sdpa import scaled_weights
from attn_core.plot import attention_heatmap
from attn_core.widgets.explorer import Explorer, Slider, TextInput, _parse_numbers

__all__ = ["SENTENCE", "SCORE_SCALES", "sentence_attention_explorer"]

#: The chapter's sentence: eight tokens, one word ("the") twice.
SENTENCE = ("the", "cat", "sat", "on", "the", "mat", "and", "slept")

#: Multiples of the standard scale ``1/sqrt(d_k)`` offered by the "Score scale" slider.
SCORE_SCALES = ((0.0, "0 (uniform)"), (0.5, "0.5/√d_k"), (1.0, "1/√d_k"), (2.0, "2/√d_k"), (4.0, "4/√d_k"))



def sentence_attention_explorer(
    tokens: Sequence[str] = SENTENCE,
    w_q: ArrayLike | None = None,
    w_k: ArrayLike | None = None,
    *,
    d_model: int = 8,
    seed: int = 0,
    query: int = 1,
) -> Explorer:
    r"""The weight map of one sentence, one query row highlighted, with the scores rescaled.

    Computes :math:`A = \operatorname{softmax}(c\,QK^\top/\sqrt{d_k})` for the sentence,
    with ``Q = X W_Q``, ``K = X W_K`` and ``X = embed_tokens(tokens, d_model)``.

    Controls:

    * **Query token** (slider): the row to highlight, one option per token;
    * **Score scale** (slider): ``c / sqrt(d_k)`` for ``c`` in 0, 0.5, 1, 2, 4; ``c = 0``
      makes every row uniform, ``c = 1`` is scaled dot-product attention itself;
    * **Query vector** (text, live kernel only): ``d_k`` numbers that replace the highlighted
      token's query; blank means the token's own query.

    Parameters
    ----------
    tokens : sequence of str
        The sentence, 2 to 12 tokens.
    w_q, w_k : array_like, shape (d_model, d_k), optional
        The query and key projections. By default both are drawn from
        ``np.random.default_rng(seed)`` (first ``w_q``, then ``w_k``), with ``d_k = 4`` and
        entries of variance ``1 / d_model``.
    d_model : int, default 8
        Width of the token vectors.
    seed : int, default 0
        Seed of the default projections.
    query : int, default 1
        The token highlighted at first.

    Returns
    -------
    Explorer
        ``state`` holds ``weights`` (n, n), ``query`` (int), ``token``, ``scale`` (the number
        multiplying ``Q K^T``), ``query_vector`` (the highlighted query, d_k numbers) and
        ``typed`` (whether that vector was typed by the reader).

    Raises
    ------
    TypeError
        ``tokens`` is not a sequence of strings.
    ValueError
        Fewer than 2 or more than 12 tokens; projections of the wrong shape; ``query`` out
        of range.

    Examples
    --------
    >>> ex = sentence_attention_explorer()
    >>> ex.frame_count(), ex.state["token"], ex.state["weights"].shape
    (40, 'cat', (8, 8))
    >>> ex.controls["scale"].value = 0.0
    >>> ex.state["weights"][1].round(3).tolist() == [0.125] * 8
    True
    """
    x, tokens, _, w_q, w_k = sentence_setup(tokens, d_model, query, seed, w_q=w_q, w_k=w_k)
    d_k = w_q.shape[1]
    queries = x @ w_q  # (n, d_k)
    keys = x @ w_k  # (n, d_k)
    standard = 1.0 / np.sqrt(d_k)
    scale_names = {c * standard: name for c, name in SCORE_SCALES}

    def compute(query: int, scale: float, query_vector: list[float] | None) -> dict:
        weights, q = scaled_weights(queries, keys, scale, query=query, query_vector=query_vector)  # (n, n)
        return {"weights": weights, "query": query, "token": tokens[query], "scale": scale,
                "scale_name": scale_names.get(scale, f"{scale:.3g}"),
                "query_vector": q[query].copy(), "typed": query_vector is not None}

    def draw(fig: Figure, state: dict) -> None:
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        title = f"scale {state['scale_name']} = {state['scale']:.3g}"
        if state["typed"]:
            title += ", typed query"
        attention_heatmap(ax, state["weights"], row_labels=tokens, col_labels=tokens,
                          highlight_row=state["query"], title=title)

    def describe(state: dict) -> str:
        row = state["weights"][state["query"]]
        spread = ", ".join(f"{tok} {w:.2f}" for tok, w in zip(tokens, row))
        top = int(np.argmax(row))
        source = "a typed query" if state["typed"] else "its own query"
        return (f"Attention weights of the sentence '{' '.join(tokens)}' at score scale "
                f"{state['scale_name']} = {state['scale']:.3g}, queries on the rows, keys on the "
                f"columns. Highlighted row {state['query'] + 1}, '{state['token']}' with {source}, "
                f"spreads its weight as: {spread}; the largest weight, {row[top]:.2f}, "
                f"is on '{tokens[top]}'.")

    def parse(text: str) -> list[float] | None:
        if not text.strip():
            return None  # blank: the token's own query
        return _parse_numbers(text, count=d_k, name="Query vector")

    def own_query_hint(index: int) -> str:
        return "blank = own query: " + ", ".join(f"{v:.2f}" for v in queries[index])

    explorer = Explorer(
        compute, draw,
        sliders={
            "query": Slider("Query token", [(f"{tok} ({i + 1})", i) for i, tok in enumerate(tokens)], value=query),
            "scale": Slider("Score scale", [(name, c * standard) for c, name in SCORE_SCALES], value=standard),
        },
        texts={"query_vector": TextInput(f"Query vector ({d_k} numbers)", "", parse,
                                         placeholder=own_query_hint(query))},
        describe=describe,
        title=("Pick a query token to outline its row; slide the score scale from 0 (every row "
               f"uniform) to 4/√d_k (rows close to one-hot). In a live notebook, type {d_k} "
               "numbers to replace the outlined token's query."),
        figsize=(4.8, 3.8),
    )
    box = explorer.controls["query_vector"]
    explorer.controls["query"].observe(lambda change: setattr(box, "placeholder", own_query_hint(change["new"])),
                                       names="value")
    return explorer
