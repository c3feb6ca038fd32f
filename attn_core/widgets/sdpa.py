"""Explorers of chapter 5, scaled dot-product attention: where a sentence's queries and keys come from.

The sentence is embedded with :func:`attn_core.experiments.data.embed_tokens`; the explorer
switches between three ways of making its queries and keys (the tokens themselves, one shared
projection, two separate projections) and highlights one query's row of the weight map, so
the reader sees which ways let a token look past itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from attn_core._checks import choice
from attn_core.experiments.data import sentence_setup
from attn_core.experiments.sdpa import PROJECTIONS, _projection_weights, self_peaks
from attn_core.plot import attention_heatmap
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["SENTENCE", "PROJECTION_LABELS", "sentence_attention_explorer"]

#: Short names of :data:`~attn_core.experiments.sdpa.PROJECTIONS` for the slider's readout.
PROJECTION_LABELS = ("Q = K = X", "W_Q = W_K", "separate")

#: The chapter's sentence: eight tokens, one word ("the") twice.
SENTENCE = ("the", "cat", "sat", "on", "the", "mat", "and", "slept")


def sentence_attention_explorer(
    tokens: Sequence[str] = SENTENCE,
    w_q: ArrayLike | None = None,
    w_k: ArrayLike | None = None,
    *,
    d_model: int = 8,
    seed: int = 0,
    query: int = 1,
    projection: str = PROJECTIONS[2],
) -> Explorer:
    r"""The weight map of one sentence, one query row highlighted, for three ways of making Q and K.

    Computes :math:`A = \operatorname{softmax}(Q K^\top / \sqrt{d})` for the sentence
    ``X = embed_tokens(tokens, d_model)`` with the queries and keys of
    :func:`attn_core.experiments.sdpa.projection_weights`.

    Controls:

    * **Queries and keys** (slider): the tokens as they are (``Q = K = X``), one matrix
      (``Q = K = X W_K``), or separate matrices (``Q = X W_Q``, ``K = X W_K``);
    * **Query token** (slider): the row to highlight, one option per token.

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
    projection : one of :data:`attn_core.experiments.sdpa.PROJECTIONS`
        The way shown at first, by default separate matrices.

    Returns
    -------
    Explorer
        ``state`` holds ``weights`` and ``scores`` (n, n), ``projection``, ``query`` (int),
        ``token``, ``symmetric`` (whether the scores equal their transpose) and
        ``self_peaks`` (how many rows put their largest weight on their own token).

    Raises
    ------
    TypeError
        ``tokens`` is not a sequence of strings.
    ValueError
        Fewer than 2 or more than 12 tokens; projections of the wrong shape; ``query`` out
        of range; an unknown ``projection``.

    Examples
    --------
    >>> ex = sentence_attention_explorer()
    >>> ex.frame_count(), ex.state["token"], ex.state["weights"].shape, ex.state["symmetric"]
    (24, 'cat', (8, 8), False)
    >>> ex.controls["projection"].value = "tokens as they are"
    >>> ex.state["symmetric"], ex.state["self_peaks"]
    (True, 7)
    """
    choice(projection, PROJECTIONS, "projection")
    x, tokens, _, w_q, w_k = sentence_setup(tokens, d_model, query, seed, w_q=w_q, w_k=w_k)

    def compute(projection: str, query: int) -> dict:
        scores, weights = _projection_weights(x, w_q, w_k, projection)  # (n, n) each
        return {"scores": scores, "weights": weights, "projection": projection, "query": query,
                "token": tokens[query], "symmetric": bool(np.allclose(scores, scores.T)),
                "self_peaks": self_peaks(weights)}

    def draw(fig: Figure, state: dict) -> None:
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        title = f"{state['projection']} · diagonal peaks {state['self_peaks']}/{len(tokens)}"
        attention_heatmap(ax, state["weights"], row_labels=tokens, col_labels=tokens,
                          highlight_row=state["query"], title=title)

    def describe(state: dict) -> str:
        row = state["weights"][state["query"]]
        spread = ", ".join(f"{tok} {w:.2f}" for tok, w in zip(tokens, row))
        top = int(np.argmax(row))
        symmetric = "symmetric" if state["symmetric"] else "not symmetric"
        return (f"Attention weights of the sentence '{' '.join(tokens)}' with queries and keys made "
                f"from {state['projection']}, queries on the rows, keys on the columns; the scores "
                f"are {symmetric}, and {state['self_peaks']} of {len(tokens)} rows peak on their own "
                f"token. Highlighted row {state['query'] + 1}, '{state['token']}', spreads its weight "
                f"as: {spread}; the largest weight, {row[top]:.2f}, is on '{tokens[top]}'.")

    return Explorer(
        compute, draw,
        sliders={
            "projection": Slider("Queries and keys", list(zip(PROJECTION_LABELS, PROJECTIONS)), value=projection),
            "query": Slider("Query token", [(f"{tok} ({i + 1})", i) for i, tok in enumerate(tokens)], value=query),
        },
        describe=describe,
        title=("Switch how the queries and keys are made, and watch the diagonal: with the tokens "
               "as they are or one shared matrix the map is symmetric and rows tend to peak on "
               "their own token; with separate matrices a token can look elsewhere."),
        figsize=(4.8, 3.8),
    )
