"""Explorers of chapter 13 (interpretability): rollout across layers, and weight beside effect.

* :func:`rollout_explorer`: the two hand-written layers of
  :func:`attn_core.experiments.interpretability.induction_layers` on a sentence; pick a map (a layer's
  heads averaged, or the rollout of both layers) and a query, and read its row.
* :func:`weight_effect_explorer`: the five keys of
  :func:`attn_core.experiments.interpretability.misleading_map_example`; lengthen the value of the
  lightest key and remove one key at a time, and compare what the weights say with how far
  the output moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from attn_core.experiments.interpretability import (
    SENTENCE,
    layer_maps,
    misleading_map_example,
    weight_and_effect,
)
from attn_core._checks import choice, index_in, positive_int, positive_number
from attn_core.plot import attention_heatmap, weight_bars
from attn_core.plot.interpretability import grouped_bars, value_plane
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["SENTENCE", "MAP_OPTIONS", "MAP_TITLES", "LENGTH_OPTIONS", "rollout_explorer", "weight_effect_explorer"]

#: The "Map" slider of :func:`rollout_explorer`: label shown, map computed.
MAP_OPTIONS = (
    ("layer 1", "layer 1"),
    ("layer 2", "layer 2"),
    ("rollout", "rollout"),
    ("rollout, writing heads", "rollout, writing heads"),
)

#: The title above each map of :func:`rollout_explorer`.
MAP_TITLES = {
    "layer 1": "layer 1, heads averaged",
    "layer 2": "layer 2, heads averaged",
    "rollout": "rollout of layers 1-2",
    "rollout, writing heads": "rollout, writing heads only",
}

#: The "Length of E's value" slider of :func:`weight_effect_explorer`.
LENGTH_OPTIONS = (("0", 0.0), ("2", 2.0), ("4", 4.0), ("6", 6.0))

_REMOVED_NONE = -1


def rollout_explorer(tokens: Sequence[str] = SENTENCE, *, width: int = 10, strength: float = 6.0,
                     view: str = "rollout", query: int | None = None) -> Explorer:
    """A layer's weights, or the rollout of both, for any query of the induction layers.

    Controls:

    * **Map** (slider): layer 1 or layer 2 with its two heads averaged, the rollout of both
      layers (heads averaged, half of each layer given to the residual path), or the rollout
      of the heads that write something (the unused head of layer 2 left out);
    * **Query token** (slider): the row to read, outlined on the map and drawn as bars.

    Parameters
    ----------
    tokens : sequence of str
        2 to ``width`` tokens; the first is the sink of the induction head.
    width, strength
        Passed to :func:`~attn_core.experiments.interpretability.induction_layers`.
    view : str, default "rollout"
        The starting map: a name from :data:`MAP_OPTIONS`.
    query : int, optional
        The starting query position; default the last token.

    Returns
    -------
    Explorer
        ``state`` holds ``tokens``, ``view``, ``query``, ``map`` (n, n) and ``row`` (n,).

    Raises
    ------
    TypeError, ValueError
        ``tokens`` not strings, fewer than 2 or more than ``width`` of them; ``width`` not a
        whole number >= 1; ``strength`` not a finite number > 0; an unknown ``view``;
        ``query`` not a position of ``tokens``.

    Examples
    --------
    >>> ex = rollout_explorer()
    >>> ex.frame_count(), ex.state["view"], ex.state["query"]
    (36, 'rollout', 8)
    >>> ex.controls["view"].value = "layer 2"
    >>> ex.state["row"][[3, 7]].round(2)   # "saw" (induction head), "the" (unused head)
    array([0.47, 0.49])
    """
    width = positive_int(width, "width")
    strength = positive_number(strength, "strength")
    if isinstance(tokens, (str, bytes)) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"tokens must be a sequence of str, got {tokens!r:.60}")
    tokens = tuple(tokens)
    if not 2 <= len(tokens) <= width:
        raise ValueError(f"tokens: need 2 to {width} tokens, got {len(tokens)}")
    maps = layer_maps(tokens, width=width, strength=strength)
    choice(view, maps, "view")
    n = len(tokens)
    query = n - 1 if query is None else index_in(query, n, "query", "position")

    def compute(view: str, query: int) -> dict:
        return {"tokens": tokens, "view": view, "label": MAP_TITLES[view], "query": query,
                "map": maps[view], "row": maps[view][query]}

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            grid = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.05])
            fig.add_subplot(grid[0, 0])
            fig.add_subplot(grid[0, 1])
        heat, bars = fig.axes
        toks, i = state["tokens"], state["query"]
        attention_heatmap(heat, state["map"], row_labels=toks, col_labels=toks, annotate=False,
                          highlight_row=i, title=state["label"])
        heat.title.set_fontsize(9.5)
        heat.tick_params(labelsize=7.5)
        weight_bars(bars, state["row"], toks, highlight=int(np.argmax(state["row"])),
                    ylabel="share of the query's row", title=f"query {i}: '{toks[i]}'")
        bars.title.set_fontsize(9.5)
        bars.tick_params(axis="x", labelsize=7.5, rotation=45)

    def describe(state: dict) -> str:
        toks, i, row = state["tokens"], state["query"], state["row"]
        shares = ", ".join(f"{t} {w:.2f}" for t, w in zip(toks, row))
        top = int(np.argmax(row))
        return (f"{state['label']} for the sentence '{' '.join(toks)}' (queries on the rows, keys on "
                f"the columns; the map is lower triangular because the layers are causal). Row of "
                f"query {i} '{toks[i]}': {shares}. Largest: {toks[top]} (position {top}), {row[top]:.2f}.")

    return Explorer(
        compute, draw,
        sliders={
            "view": Slider("Map", list(MAP_OPTIONS), value=view),
            "query": Slider("Query token", [(f"{j}: {t}", j) for j, t in enumerate(tokens)], value=query),
        },
        describe=describe,
        title=("Pick a query and compare its row in layer 1, in layer 2 and in the rollout: where "
               "does the rollout put the last 'cat', and which tokens does it leave out? Then drop "
               "the head that writes nothing and see what changes."),
        figsize=(6.4, 3.3),
    )


def weight_effect_explorer(*, length: float = 4.0, removed: int = _REMOVED_NONE) -> Explorer:
    """Five keys' weights beside how far the output moves when each is removed.

    Controls:

    * **Length of E's value** (slider): 0, 2, 4 or 6; E's weight (0.03) never changes;
    * **Key removed** (slider): none, or one of A to E; the output without it is drawn as a
      hollow star, and the arrow shows how far it moves.

    Parameters
    ----------
    length : float, default 4.0
        The starting length of E's value (one of :data:`LENGTH_OPTIONS`).
    removed : int, default -1
        The starting key removed: -1 for none, else 0 to 4.

    Returns
    -------
    Explorer
        ``state`` holds ``keys``, ``weights``, ``values``, ``output``, ``effects`` (the
        removal effect of every key), ``effect_shares``, ``gradient_times_input``,
        ``removed``, ``moved_output`` and ``readout_value`` (the readout of the output, with
        and without the removed key).

    Raises
    ------
    ValueError
        ``length`` not one of the slider's values; ``removed`` not -1 or 0..4.

    Examples
    --------
    >>> ex = weight_effect_explorer()
    >>> ex.frame_count(), ex.state["weights"].round(2), ex.state["effects"].round(2)
    (24, array([0.37, 0.37, 0.14, 0.08, 0.03]), array([0.04, 0.04, 0.06, 0.08, 0.13]))
    """
    lengths = [value for _, value in LENGTH_OPTIONS]
    if length not in lengths:
        raise ValueError(f"length must be one of {lengths}, got {length!r}")
    if isinstance(removed, (bool, np.bool_)) or removed not in (_REMOVED_NONE, 0, 1, 2, 3, 4):
        raise ValueError(f"removed must be -1 (no key) or a key index 0..4, got {removed!r}")
    keys = [str(k) for k in misleading_map_example()["keys"]]

    def compute(length: float, removed: int) -> dict:
        state = weight_and_effect(length, None if removed == _REMOVED_NONE else removed)
        return {**state, "removed": removed}

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            grid = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.1])
            fig.add_subplot(grid[0, 0])
            fig.add_subplot(grid[0, 1])
        plane, bars = fig.axes
        j = state["removed"]
        gone = None if j == _REMOVED_NONE else keys[j]
        out = state["output"]
        title = f"output ({out[0]:.2f}, {out[1]:.2f})\n"
        if gone is None:
            title += "no key removed"
        else:
            moved = state["moved_output"]
            title += f"without {gone}: ({moved[0]:.2f}, {moved[1]:.2f})"
        value_plane(plane, state["values"], state["weights"], keys, output=out,
                    moved_output=state["moved_output"], moved_label=f"without {gone}",
                    highlight=None if gone is None else j, readout=None,
                    limits=((0.35, 1.35), (-1.0, 0.5)), title=title)
        plane.title.set_fontsize(9)
        grouped_bars(bars, {"weight": state["weights"], "removal effect, share": state["effect_shares"]},
                     keys, highlight=None if gone is None else j, ylim=(0.0, 1.0), ylabel="share",
                     title=f"E's value has length {state['length']:g}")
        bars.title.set_fontsize(9)

    def describe(state: dict) -> str:
        a, eff, out = state["weights"], state["effects"], state["output"]
        text = (f"Five keys A to E; E's value is (0, {state['length']:g}). Weights: "
                + ", ".join(f"{k} {w:.2f}" for k, w in zip(keys, a))
                + ". How far the output moves when each key is removed: "
                + ", ".join(f"{k} {e:.3f}" for k, e in zip(keys, eff))
                + f". Output ({out[0]:.2f}, {out[1]:.2f}).")
        if state["removed"] != _REMOVED_NONE:
            moved = state["moved_output"]
            text += (f" Without {keys[state['removed']]} it moves to ({moved[0]:.2f}, {moved[1]:.2f}), "
                     f"a distance of {eff[state['removed']]:.3f}.")
        return text

    return Explorer(
        compute, draw,
        sliders={
            "length": Slider("Length of E's value", list(LENGTH_OPTIONS), value=length),
            "removed": Slider("Key removed", [("none", _REMOVED_NONE)] + [(k, i) for i, k in enumerate(keys)],
                              value=removed),
        },
        describe=describe,
        title=("Remove one key at a time and watch how far the output (the star) moves; then make "
               "E's value longer. The weights never change."),
        figsize=(6.4, 3.4),
    )
