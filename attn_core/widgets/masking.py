"""Explorer of chapter 7, masking: the mask editor.

A padded sentence's scores are fixed; the reader picks a mask (slider), or toggles cells of
it (text box, live kernel only), and sees the mask next to the weights that result. Every
allowed weight of a row is the unmasked weight divided by the share of the unmasked weight
the allowed keys held; a row with no allowed key gets zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

import attn_core as ac
from attn_core.experiments.data import sentence_setup
from attn_core._checks import positive_int
from attn_core.experiments.masking import _masked_weights, _toggle_cells, editor_masks
from attn_core.plot import attention_heatmap
from attn_core.plot.masking import mask_heatmap
from attn_core.widgets.explorer import Explorer, Slider, TextInput

__all__ = ["EDITOR_TOKENS", "parse_cells", "mask_editor_explorer"]

#: The editor's sentence: four words padded to six positions.
EDITOR_TOKENS = ("the", "cat", "sat", "down", "<pad>", "<pad>")


def parse_cells(text: str, n: int) -> tuple[tuple[int, int], ...]:
    """Read cells to toggle, typed as ``query key`` pairs separated by commas: ``"2 3, 4 1"``.

    Positions count from 0, as in numpy. A blank text means no cell.

    Raises
    ------
    TypeError
        ``text`` is not a str, or ``n`` is not a whole number.
    ValueError
        ``n`` < 1; or, with a sentence for the reader: a pair without exactly two numbers, a
        number that is not a whole number, a position outside ``0 .. n-1``, or a cell listed
        twice.

    Examples
    --------
    >>> parse_cells("2 3, 4 1", 6)
    ((2, 3), (4, 1))
    >>> parse_cells("  ", 6)
    ()
    >>> parse_cells("2 3 4", 6)
    Traceback (most recent call last):
    ...
    ValueError: '2 3 4' is not a cell: type a query and a key separated by a space, e.g. '2 3'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__} {text!r:.40}")
    return _parse_cells(text, positive_int(n, "n"))


def _parse_cells(text: str, n: int) -> tuple[tuple[int, int], ...]:
    """:func:`parse_cells` without the checks of its arguments."""
    cells: list[tuple[int, int]] = []
    parts = text.replace(";", ",").split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # a trailing comma is harmless
    for part in parts:
        if not part.strip():
            if text.strip():
                raise ValueError("an empty cell between two commas: type pairs such as '2 3, 4 1'")
            continue
        numbers = part.split()
        if len(numbers) != 2:
            raise ValueError(f"{part.strip()!r} is not a cell: type a query and a key separated by a space, "
                             "e.g. '2 3'")
        pair = []
        for word, role in zip(numbers, ("query", "key")):
            try:
                value = int(word)
            except ValueError:
                raise ValueError(f"{word!r} is not a whole number (the {role} of cell {part.strip()!r})") from None
            if not 0 <= value < n:
                raise ValueError(f"{role} {value} is out of range: positions are numbered 0 to {n - 1}")
            pair.append(value)
        cell = (pair[0], pair[1])
        if cell in cells:
            raise ValueError(f"cell {cell[0]} {cell[1]} is listed twice (toggling it twice changes nothing)")
        cells.append(cell)
    return tuple(cells)


def _row_sentence(state: dict) -> str:
    i, token, share = state["query"], state["token"], state["share"][state["query"]]
    if i in state["empty_rows"]:
        return f"row {i} ({token}): no key allowed, so every weight is 0"
    return (f"row {i} ({token}): the allowed keys held {share:.2f} of the unmasked weight,\n"
            f"so each of their weights is divided by {share:.2f}")


def mask_editor_explorer(
    tokens: Sequence[str] = EDITOR_TOKENS,
    w_q: ArrayLike | None = None,
    w_k: ArrayLike | None = None,
    *,
    pad: str = "<pad>",
    d_model: int = 8,
    seed: int = 0,
    mask: str = "causal",
    query: int = 2,
) -> Explorer:
    r"""The mask editor: a mask (left) and the renormalised weights it gives (right).

    The scores are :math:`S = QK^\top/\sqrt{d_k}` of the padded sentence, with
    ``Q = X W_Q``, ``K = X W_K`` and ``X = embed_tokens(tokens, d_model)``; the weights are
    ``ac.softmax(S, mask=...)``.

    Controls:

    * **Mask** (slider): one of :func:`attn_core.experiments.masking.editor_masks`;
    * **Query row** (slider): the row outlined on both maps and explained in the heading;
    * **Toggle cells** (text, live kernel only): ``query key`` pairs, e.g. ``2 3, 4 1``; each
      listed cell of the chosen mask is switched (allowed <-> blocked).

    Parameters
    ----------
    tokens : sequence of str
        The sentence with its padding, 2 to 10 tokens.
    w_q, w_k : array_like, shape (d_model, d_k), optional
        Default: drawn from ``np.random.default_rng(seed)`` (first ``w_q``, then ``w_k``),
        ``d_k = 4``, entries of variance ``1 / d_model``.
    pad : str, default "<pad>"
        The padding token.
    d_model, seed : int
    mask : str, default "causal"
        The mask shown first.
    query : int, default 2
        The row outlined first.

    Returns
    -------
    Explorer
        ``state`` holds ``mask_name``, ``allowed`` (n, n), ``cells`` (the toggled cells),
        ``query``, ``token`` and what :func:`attn_core.experiments.masking.masked_weights` returns.

    Raises
    ------
    TypeError
        ``tokens`` is not a sequence of strings.
    ValueError
        Fewer than 2 or more than 10 tokens; an unknown ``mask``; ``query`` out of range;
        projections of the wrong shape.

    Examples
    --------
    >>> ex = mask_editor_explorer()
    >>> ex.frame_count(), ex.state["mask_name"], ex.state["token"]
    (36, 'causal', 'sat')
    >>> ex.controls["cells"].value = "2 3"       # let 'sat' see 'down' too
    >>> ex.state["allowed"][2].astype(int).tolist()
    [1, 1, 1, 1, 0, 0]
    """
    x, tokens, _, w_q, w_k = sentence_setup(tokens, d_model, query, seed, w_q=w_q, w_k=w_k,
                                            max_tokens=10, query_name="position")
    n = len(tokens)
    masks = editor_masks(np.array([t != pad for t in tokens]))
    if mask not in masks:
        raise ValueError(f"mask must be one of {list(masks)}, got {mask!r}")
    scores = ac.scaled_dot_product_scores(x @ w_q, x @ w_k)  # (n, n)
    labels = [f"{i} {t}" for i, t in enumerate(tokens)]

    def compute(mask: str, query: int, cells: tuple[tuple[int, int], ...]) -> dict:
        allowed = _toggle_cells(masks[mask], cells)  # (n, n): cells were checked by _parse_cells
        return {"mask_name": mask, "allowed": allowed, "cells": cells, "query": query,
                "token": tokens[query], **_masked_weights(scores, allowed)}

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            fig.subplots(1, 2)
        ax_mask, ax_weights = fig.axes
        title = f"mask: {state['mask_name']}"
        if state["cells"]:
            title += f" + {len(state['cells'])} toggled"
        mask_heatmap(ax_mask, state["allowed"], row_labels=labels, col_labels=labels, title=title,
                     highlight_row=state["query"], marked=state["cells"], annotate=False)
        attention_heatmap(ax_weights, state["weights"], row_labels=labels, col_labels=labels,
                          highlight_row=state["query"], title="weights after masking")
        ax_weights.set_ylabel("")
        fig.suptitle(_row_sentence(state), fontsize=9.5)

    def describe(state: dict) -> str:
        allowed, i = state["allowed"], state["query"]
        per_row = "; ".join(
            f"{labels[r]}: " + (", ".join(str(j) for j in np.flatnonzero(allowed[r])) or "none")
            for r in range(n))
        toggled = ""
        if state["cells"]:
            toggled = " Toggled cells (query key): " + ", ".join(f"{a} {b}" for a, b in state["cells"]) + "."
        empty = ", ".join(str(r) for r in state["empty_rows"]) or "none"
        row = ", ".join(f"{t} {w:.2f}" for t, w in zip(tokens, state["weights"][i]))
        return (f"Two {n} by {n} maps over '{' '.join(tokens)}', queries on the rows, keys on the columns. "
                f"Left, the mask '{state['mask_name']}' (1 = may attend); allowed keys per query row: "
                f"{per_row}.{toggled} Right, the weights after masking; rows with no allowed key, all "
                f"zeros: {empty}. Outlined, {_row_sentence(state).replace(chr(10), ' ')}. "
                f"Its weights: {row}.")

    return Explorer(
        compute, draw,
        sliders={
            "mask": Slider("Mask", [(name, name) for name in masks], value=mask),
            "query": Slider("Query row", [(label, i) for i, label in enumerate(labels)], value=query),
        },
        texts={"cells": TextInput("Toggle cells (query key)", "", lambda text: _parse_cells(text, n),
                                  placeholder="e.g. 2 3, 4 1")},
        describe=describe,
        title=("Pick a mask and a query row: the allowed keys of that row share all of its weight. "
               "In a live notebook, type cells to toggle, as query-key pairs such as 2 3, 4 1."),
        figsize=(6.4, 3.6),
    )
