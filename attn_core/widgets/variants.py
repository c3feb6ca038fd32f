"""Explorer of chapter 10 (a gallery of variants): each variant's weights beside full attention's.

One sequence (:func:`attn_core.experiments.variants.lookup_sequence`): most queries look at
their neighbours, a few look far back for one distant key. The reader picks a variant and
a budget (its window, stride, block, rank, number of features or k, from small to large);
the picture shows the variant's weight map (implicit for low-rank, linear and random
features) and one lookup query's row of weights beside full attention's, with the
measured error and the cost in the title.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from attn_core.experiments.variants import lookup_sequence, run_variant, work_share
from attn_core.plot import COLORS
from attn_core.plot.variants import LOOKUP_COLOR, row_profile, weight_map
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["EXPLORER_BUDGETS", "BUDGET_LABELS", "variant_explorer", "describe_variant"]

#: The budget of each variant at the five positions of the "Budget" slider (``None``: the
#: variant has no budget, every position shows the same picture).
EXPLORER_BUDGETS = {
    "full": (None,) * 5,
    "top-k": (1, 2, 4, 8, 16),
    "local": (1, 2, 4, 8, 16),
    "strided": (8, 12, 16, 24, 32),
    "fixed": (12, 16, 24, 32, 64),
    "BigBird": (1, 2, 4, 8, 16),
    "low-rank": (8, 16, 32, 64, 128),
    "linear": (None,) * 5,
    "random features": (16, 64, 256, 1024, 4096),
}
#: The labels of the five positions of the "Budget" slider.
BUDGET_LABELS = ("1 (smallest)", "2", "3", "4", "5 (largest)")


def variant_explorer(
    q: ArrayLike | None = None,
    k: ArrayLike | None = None,
    v: ArrayLike | None = None,
    lookups: ArrayLike | None = None,
    *,
    variant: str = "local",
    level: int = 2,
    seed: int = 0,
) -> Explorer:
    """Pick a variant of attention and its budget; see its weights and its error against full attention.

    Controls:

    * **Variant** (slider): full, top-k, local, strided, fixed, BigBird, low-rank, linear,
      random features;
    * **Budget** (slider): five positions, smallest to largest, meaning the variant's own
      parameter (:data:`EXPLORER_BUDGETS`): k, window, stride, block, BigBird's window,
      rank, number of random features. Full and linear attention have none.

    Every (variant, budget) is computed once by
    :func:`attn_core.experiments.variants.run_variant` and drawn once: 45 pictures.

    Parameters
    ----------
    q, k, v : array_like, shape (n, d), optional
        One sequence; by default ``lookup_sequence(seed=1)``'s.
    lookups : array_like of int, shape (p, 2), optional
        (query, distant key) pairs to circle; the first is the row shown on the right.
        Default: the lookups of the default sequence. Needs at least one pair.
    variant : str, default "local"
        The variant shown at first.
    level : int, default 2
        The budget position (0 to 4) shown at first.
    seed : int, default 0
        Seed of the random choices inside the variants (BigBird's random keys, random features).

    Returns
    -------
    Explorer
        Controls ``"variant"`` and ``"level"``; ``state`` holds ``variant``, ``level``,
        ``budget``, ``parameter``, ``weights`` (n, n), ``error``, ``multiply_adds``,
        ``memory``, ``full_multiply_adds``, ``full_memory``, ``query``, ``key`` (the lookup
        shown), ``row`` and ``full_row`` (that query's weights).

    Raises
    ------
    ValueError
        Only some of q, k, v, lookups given; no lookup; an unknown variant or a level
        outside 0..4.

    Examples
    --------
    >>> ex = variant_explorer()
    >>> ex.frame_count(), ex.state["parameter"]
    (45, 'window 4')
    >>> ex.controls["variant"].value = "full"
    >>> ex.state["error"]
    0.0
    """
    given = [a is not None for a in (q, k, v, lookups)]
    if any(given) and not all(given):
        raise ValueError("give all of q, k, v and lookups, or none of them")
    if not any(given):
        data = lookup_sequence(seed=1)
        q, k, v, lookups = data["q"], data["k"], data["v"], data["lookups"]
    q, k, v = (np.asarray(a, dtype=float) for a in (q, k, v))
    lookups = np.asarray(lookups, dtype=int).reshape(-1, 2)
    if lookups.shape[0] == 0:
        raise ValueError("lookups must hold at least one (query, key) pair")
    if variant not in EXPLORER_BUDGETS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(EXPLORER_BUDGETS)}")
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level < 5:
        raise ValueError(f"level must be a whole number in 0..4, got {level!r}")
    query, key = (int(x) for x in lookups[0])
    full = run_variant("full", q, k, v)
    cache: dict[tuple[str, int], dict] = {}

    def compute(variant: str, level: int) -> dict:
        if (variant, level) not in cache:
            budget = EXPLORER_BUDGETS[variant][level]
            run = run_variant(variant, q, k, v, budget=budget, seed=seed)
            cache[(variant, level)] = {
                "variant": variant, "level": level, "budget": run.budget, "parameter": run.parameter,
                "weights": run.weights, "error": run.error, "multiply_adds": run.multiply_adds,
                "memory": run.memory, "full_multiply_adds": full.multiply_adds, "full_memory": full.memory,
                "query": query, "key": key, "row": run.weights[query].copy(),
                "full_row": full.weights[query].copy(),
            }
        return cache[(variant, level)]

    n = q.shape[0]
    ticks = [0, n // 2, n - 1]

    def draw(fig: Figure, state: dict) -> None:
        first = not fig.axes
        if first:
            fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.25]})
        ax_map, ax_row = fig.axes
        implicit = state["variant"] in ("low-rank", "linear", "random features")
        weight_map(ax_map, state["weights"], lookups=lookups,
                   title="implicit weights" if implicit else "weights")
        row_profile(ax_row, {"full attention": state["full_row"], "this variant": state["row"]},
                    mark=state["key"], title=f"row of query {state['query']}", legend=False)
        if first:  # fixed ticks, titles and labels: nothing to lay out again on every frame
            for ax in (ax_map, ax_row):
                ax.set_xticks(ticks)
                ax.set_title(ax.get_title(), y=1.0)
            ax_map.set_yticks(ticks)
            ax_row.set_yticks([0.0, 0.5, 1.0])
            for y, text, color in [(0.93, "full attention", COLORS["muted"]),
                                   (0.84, "this variant", COLORS["main"]),
                                   (0.75, f"distant key {state['key']}", LOOKUP_COLOR)]:
                ax_row.text(0.97, y, text, color=color, ha="right", fontsize=8,
                            transform=ax_row.transAxes)
            fig.suptitle(" ", fontsize=10)
        fig._suptitle.set_text(f"{state['variant']}, {state['parameter']}: error {state['error']:.2f}, "
                               f"work {work_share(state['multiply_adds'], state['full_multiply_adds'])}")

    return Explorer(
        compute, draw,
        sliders={
            "variant": Slider("Variant", [(name, name) for name in EXPLORER_BUDGETS], value=variant),
            "level": Slider("Budget", list(zip(BUDGET_LABELS, range(5))), value=level),
        },
        describe=describe_variant,
        title=("Pick a variant, then raise its budget (window, stride, block, rank, features "
               "or k): compare its weights with full attention's, and watch whether the "
               f"circled distant keys survive, as in the row of query {query} on the right."),
        figsize=(6.4, 3.3),
    )


def describe_variant(state: dict) -> str:
    """Alternative text for one picture of :func:`variant_explorer`: the numbers it shows."""
    row, full_row = state["row"], state["full_row"]
    top = int(np.argmax(row))
    negative = float(state["weights"].min())
    note = f" Some of its weights are negative (down to {negative:.2f}), drawn as 0." if negative < -1e-9 else ""
    return (
        f"{state['variant']} attention, {state['parameter']}, on the 128-token lookup sequence. "
        f"Left: its weight map, queries on the rows, keys on the columns, the distant keys "
        f"of the lookups circled.{note} Right: the weights of query {state['query']} over the keys: "
        f"full attention puts {full_row[state['key']]:.2f} on its distant key {state['key']}, "
        f"this variant {row[state['key']]:.2f}; the variant's largest weight is {row[top]:.2f}, "
        f"on key {top}. Error against full attention {state['error']:.2f}; "
        f"{state['multiply_adds']:,} multiply-adds "
        f"(work {work_share(state['multiply_adds'], state['full_multiply_adds'])} attention's), "
        f"{state['memory']:,} numbers held (full attention: {state['full_memory']:,})."
    )
