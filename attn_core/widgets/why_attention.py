"""Explorer of chapter 1 (why attention): from averaging every item to looking one up.

A memory of six (key, value) pairs, each item labelled by a name. The reader picks the
item to ask for and the selectivity beta; the picture shows the attention weights over the
items and the answer they give, beside the plain average and the true value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attn_core._checks import index_in, number_in_range
from attn_core.experiments.why_attention import key_value_memory, selective_lookup
from attn_core.plot import COLORS, weight_bars
from attn_core.plot.why_attention import answer_bars
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["ITEM_NAMES", "SELECTIVITIES", "selectivity_explorer"]

#: The names that label the items of the chapter's memory (one key and one value each).
ITEM_NAMES = ("ada", "ben", "cleo", "dev", "eli", "fay")
#: The values of the selectivity beta the explorer offers, from averaging (0) to lookup.
SELECTIVITIES = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def selectivity_explorer(
    *,
    names: Sequence[str] = ITEM_NAMES,
    d_k: int = 4,
    seed: int = 0,
    betas: Sequence[float] = SELECTIVITIES,
    item: int = 0,
    beta: float = 2.0,
) -> Explorer:
    r"""Ask a small memory for one item and sharpen the weights from an average to a lookup.

    The memory is ``key_value_memory(len(names), d_k, seed=seed)``. Asking for item i
    uses its key as the query, :math:`q = k_i`; the weights are
    :math:`a = \operatorname{softmax}(\beta\, q K^\top)` and the answer is :math:`a \cdot v`.
    At :math:`\beta = 0` every weight is :math:`1/n` and the answer is the plain average;
    as :math:`\beta` grows the weight gathers on the item asked for.

    Parameters
    ----------
    names : sequence of str
        One label per item (the slider shows them).
    d_k : int
        Width of the keys.
    seed : int
        Seed of the memory.
    betas : sequence of float
        The selectivities on the slider (>= 0); one picture per (item, beta).
    item : int
        Index of the item asked for at the start.
    beta : float
        Starting selectivity, one of ``betas``.

    Returns
    -------
    Explorer
        Controls ``"item"`` and ``"beta"``; its ``state`` holds ``name``, ``beta``,
        ``scores``, ``weights``, ``answer``, ``average`` and ``truth``.

    Raises
    ------
    TypeError, ValueError
        A negative beta; a starting ``beta`` that is not a number or not in ``betas``;
        ``item`` not a whole number in range.

    Examples
    --------
    >>> ex = selectivity_explorer(betas=(0.0, 64.0), beta=0.0)
    >>> ex.frame_count()
    12
    >>> bool(np.isclose(ex.state["answer"], ex.state["average"]))
    True
    """
    names = [str(name) for name in names]
    betas = [float(b) for b in betas]
    if any(not np.isfinite(b) or b < 0 for b in betas):
        raise ValueError(f"every selectivity beta must be a finite number >= 0, got {betas}")
    if number_in_range(beta, "beta", 0.0, np.inf, high_open=True) not in betas:
        raise ValueError(f"the starting beta={beta} must be one of betas={betas}")
    item = index_in(item, len(names), "item", "number")
    keys, values = key_value_memory(len(names), d_k, seed=seed)  # (n, d_k), (n,)
    reach = 1.8 * float(np.abs(values).max())  # one fixed scale for every picture

    def compute(item: int, beta: float) -> dict:
        return {"item": item, "name": names[item], "names": names, "beta": beta,
                **selective_lookup(keys, values, item, beta)}

    def draw(fig, state: dict) -> None:
        if not fig.axes:
            fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1.0]})
        ax_weights, ax_answer = fig.axes
        weight_bars(ax_weights, state["weights"], names, highlight=state["item"],
                    ylabel="attention weight", ylim=(0.0, 1.1),
                    title=f"Asking for {state['name']}, β = {state['beta']:g}")
        answer_bars(ax_answer, [state["average"], state["answer"], state["truth"]],
                    ["plain average", "attention", "true value"],
                    colors=[COLORS["muted"], COLORS["main"], COLORS["accent"]],
                    xlim=(-reach, reach), xlabel="value", title=f"Answer for {state['name']}")

    return Explorer(
        compute, draw,
        sliders={
            "item": Slider("Item asked for", [(name, i) for i, name in enumerate(names)], value=item),
            "beta": Slider("Selectivity β", [(f"{b:g}", b) for b in betas], value=float(beta)),
        },
        describe=describe_selectivity,
        title="Pick the item to ask for, then raise the selectivity β from 0: "
              "watch the weight gather on that item and the answer move from the plain "
              "average to the true value.",
        figsize=(6.4, 3.0),
    )


def describe_selectivity(state: dict) -> str:
    """Alternative text for one picture of :func:`selectivity_explorer`: every number shown."""
    weights = ", ".join(f"{name} {w:.2f}" for name, w in zip(state["names"], state["weights"]))
    return (
        f"Asking for {state['name']} with selectivity beta = {state['beta']:g}. "
        f"Attention weights: {weights}. "
        f"Attention answer {state['answer']:+.2f}; plain average {state['average']:+.2f}; "
        f"true value of {state['name']} {state['truth']:+.2f}."
    )
