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

import attn_core as ac
from attn_core import positions as pos
from attn_core.experiments.data import sentence_setup
from attn_core.plot import attention_heatmap
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["SENTENCE", "OFFSETS", "ENCODINGS", "SLIDER_LABELS", "encoded_weights", "position_offset_explorer"]

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


def encoded_weights(
    x: ArrayLike,
    w_q: ArrayLike,
    w_k: ArrayLike,
    encoding: str,
    positions: ArrayLike,
    *,
    learned_table: ArrayLike | None = None,
    rel_keys: ArrayLike | None = None,
    alibi_heads: int = 8,
    alibi_head: int = 0,
) -> np.ndarray | None:
    r"""The weights :math:`A` of self-attention over ``x`` with one positional encoding.

    Every encoding uses the same tokens ``x`` and projections ``W_Q``, ``W_K``; each calls
    :mod:`attn_core.positions`:

    * ``"none"``: :math:`\operatorname{softmax}(X W_Q (X W_K)^\top / \sqrt{d_k})`;
    * ``"sinusoidal"`` and ``"learned"``: the same with ``X + P``, ``P`` the rows of the
      sinusoidal table (or of ``learned_table``) at ``positions``;
    * ``"relative"``: relative position keys (Shaw et al., 2018) from ``rel_keys``;
    * ``"rope"``: queries and keys rotated by their positions (Su et al., 2024);
    * ``"alibi"``: ALiBi's distance penalty of head ``alibi_head`` of ``alibi_heads``
      added to the scores (Press et al., 2022).

    Relative keys and ALiBi are built from the offsets :math:`j - i` only (that is their
    point), so they never see ``positions``: shifting every position by ``c`` changes no
    offset, :math:`(j + c) - (i + c) = j - i`. ``positions`` must then be consecutive.

    Parameters
    ----------
    x : array_like, shape (n, d_model)
    w_q, w_k : array_like, shape (d_model, d_k)
    encoding : {"none", "sinusoidal", "learned", "relative", "rope", "alibi"}
    positions : array_like of int, shape (n,)
    learned_table : array_like, shape (n_max, d_model), optional
        Needed for ``"learned"``.
    rel_keys : array_like, shape (2 * max_distance + 1, d_k), optional
        Needed for ``"relative"``.
    alibi_heads, alibi_head : int
        Which ALiBi slope to use; default the first of 8 heads, slope 1/2.

    Returns
    -------
    ndarray, shape (n, n), or None
        ``None`` when a learned table has no row for some position.

    Raises
    ------
    ValueError
        An unknown encoding; positions of the wrong length, or not consecutive for
        ``"relative"`` and ``"alibi"``; a missing table.

    Examples
    --------
    >>> x = embed_tokens(["a", "b", "c"], 4)
    >>> w = np.eye(4)[:, :2]
    >>> a0 = encoded_weights(x, w, w, "rope", [0, 1, 2])
    >>> a9 = encoded_weights(x, w, w, "rope", [9, 10, 11])
    >>> bool(np.allclose(a0, a9)), a0.shape
    (True, (3, 3))
    """
    x = np.asarray(x, dtype=float)
    w_q, w_k = np.asarray(w_q, dtype=float), np.asarray(w_k, dtype=float)
    p = np.asarray(positions)
    n = x.shape[0]
    if p.shape != (n,):
        raise ValueError(f"positions must have one entry per token, shape ({n},), got {p.shape}")
    if encoding in ("relative", "alibi") and not np.array_equal(np.diff(p), np.ones(n - 1)):
        raise ValueError(f"{encoding} attention takes consecutive positions, got {p.tolist()}")
    bias = None
    if encoding == "none":
        q, k = x @ w_q, x @ w_k  # (n, d_k)
    elif encoding == "sinusoidal":
        table = pos.sinusoidal_positions(int(p.max()) + 1, x.shape[1])  # (p_max + 1, d_model)
        q, k = (x + table[p]) @ w_q, (x + table[p]) @ w_k  # (n, d_k)
    elif encoding == "learned":
        if learned_table is None:
            raise ValueError("the learned encoding needs learned_table")
        table = np.asarray(learned_table, dtype=float)
        if p.max() >= table.shape[0]:
            return None  # no row to look up: a learned table cannot extrapolate
        q, k = (x + table[p]) @ w_q, (x + table[p]) @ w_k  # (n, d_k)
    elif encoding == "relative":
        if rel_keys is None:
            raise ValueError("the relative encoding needs rel_keys")
        return pos.relative_position_attention(x @ w_q, x @ w_k, x @ w_k, rel_keys)[1]
    elif encoding == "rope":
        q = pos.rotary_embedding(x @ w_q, p)  # (n, d_k), pair i turned by p * theta_i
        k = pos.rotary_embedding(x @ w_k, p)  # (n, d_k)
    elif encoding == "alibi":
        q, k = x @ w_q, x @ w_k  # (n, d_k)
        bias = pos.alibi_bias(n, n_heads=alibi_heads)[alibi_head]  # (n, n): -m |i - j|
    else:
        raise ValueError(f"unknown encoding {encoding!r}; use one of none, {', '.join(ENCODINGS)}")
    scores = ac.scaled_dot_product_scores(q, k)  # (n, n)
    return ac.softmax(scores if bias is None else scores + bias)  # (n, n)


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
    at_zero = {name: encoded_weights(x, w_q, w_k, name, np.arange(n), **setup) for name in ENCODINGS}

    def compute(offset: int, encoding: str) -> dict:
        positions = offset + np.arange(n)  # (n,): every token moved by the same offset
        weights = encoded_weights(x, w_q, w_k, encoding, positions, **setup)  # (n, n) or None
        change = None if weights is None else np.abs(weights - at_zero[encoding])  # (n, n)
        return {"encoding": encoding, "offset": offset, "positions": positions, "weights": weights,
                "change": change, "max_change": None if change is None else float(change.max()),
                "weights_at_zero": at_zero[encoding], "n_max": n_max}

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
