"""Explorer of chapter 10 (a gallery of variants): which variant wins depends on the input.

Two inputs (:mod:`attn_core.experiments.variants`): the lookup sequence, whose attention is
local with a few distant lookups, and random queries and keys, whose attention has no
locality. The reader scales the queries and keys of either (sharper or flatter attention)
and picks a variant; the picture shows full attention's weights, the variant's weights
(implicit for low-rank, linear and random features), and the error on the weights of five
variants at that input, the chosen one highlighted. Moving the two input controls shows
where the ranking of the families flips, which no single static figure of one input can.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from attn_core._checks import nonnegative_int
from attn_core.experiments.variants import DEFAULT_BUDGETS, lookup_sequence, random_sequence, run_variant
from attn_core.plot.variants import error_bars, weight_map
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["EXPLORER_VARIANTS", "INPUTS", "SHARPNESS", "variant_explorer", "describe_variant"]

#: The variants the explorer compares, one per family, at the chapter's budgets.
EXPLORER_VARIANTS = ("local", "block top-k", "low-rank", "linear", "random features")
#: The two inputs: slider label -> what they are.
INPUTS = {"lookup": "the lookup sequence (local, with 8 distant lookups)",
          "random": "random queries and keys (no locality)"}
#: The factors by which the queries and keys are multiplied (scores by their square).
SHARPNESS = (0.25, 0.5, 1.0, 2.0)


def _inputs(kind: str, factor: float) -> dict[str, np.ndarray]:
    data = lookup_sequence(seed=1) if kind == "lookup" else random_sequence(128, seed=2)
    return {"q": factor * data["q"], "k": factor * data["k"], "v": data["v"], "lookups": data["lookups"]}


def variant_explorer(
    *, input: str = "random", sharpness: float = 1.0, variant: str = "local", seed: int = 0,
) -> Explorer:
    """Pick an input, scale its queries and keys, pick a variant: see which family wins there.

    Controls:

    * **Input** (slider, eight positions): the lookup sequence, then random queries and keys
      (:data:`INPUTS`), each with its queries and keys multiplied by 2, 1, 1/2 or 1/4
      (:data:`SHARPNESS`), which multiplies every score by 4 down to 1/16: from sharp,
      local attention to nearly uniform attention;
    * **Variant** (slider): one of :data:`EXPLORER_VARIANTS`, at the budgets of the
      chapter's table (:data:`attn_core.experiments.variants.DEFAULT_BUDGETS`).

    Every (input, scale) runs the five variants once with
    :func:`attn_core.experiments.variants.run_variant`; 2 x 4 x 5 = 40 pictures.

    Parameters
    ----------
    input : str, default "random"
        ``"lookup"`` or ``"random"``, shown at first.
    sharpness : float, default 1.0
        One of :data:`SHARPNESS`, shown at first.
    variant : str, default "local"
        One of :data:`EXPLORER_VARIANTS`, shown at first.
    seed : int, default 0
        Seed of the random choices inside the variants (BigBird's random keys, random features).

    Returns
    -------
    Explorer
        Controls ``"input"`` (value: the pair ``(input, sharpness)``) and ``"variant"``;
        ``state`` holds ``input``, ``sharpness``, ``variant``,
        ``parameter``, ``weights`` and ``full_weights`` (n, n), ``weight_errors`` and
        ``output_errors`` (variant -> error, for the five), ``weight_error``, ``error`` (the
        chosen variant's), ``best`` (the variant with the smallest error on the weights),
        ``multiply_adds`` and ``full_multiply_adds``.

    Raises
    ------
    ValueError
        An unknown input, sharpness or variant; a bad seed.

    Examples
    --------
    >>> ex = variant_explorer()
    >>> ex.frame_count(), ex.state["parameter"]
    (40, 'window 4')
    >>> ex.controls["input"].value = ("lookup", 1.0)
    >>> ex.state["best"]
    'block top-k'
    """
    if not isinstance(input, str) or input not in INPUTS:
        raise ValueError(f"input must be one of {', '.join(INPUTS)}, got {input!r:.40}")
    if isinstance(sharpness, bool) or not isinstance(sharpness, (int, float)) or sharpness not in SHARPNESS:
        raise ValueError(f"sharpness must be one of {SHARPNESS}, got {sharpness!r:.40}")
    if not isinstance(variant, str) or variant not in EXPLORER_VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(EXPLORER_VARIANTS)}, got {variant!r}")
    seed = nonnegative_int(seed, "seed")
    cache: dict[tuple[str, float], dict] = {}

    def runs(kind: str, factor: float) -> dict:
        if (kind, factor) not in cache:
            data = _inputs(kind, factor)
            q, k, v = data["q"], data["k"], data["v"]
            cache[(kind, factor)] = {
                "full": run_variant("full", q, k, v),
                **{name: run_variant(name, q, k, v, budget=DEFAULT_BUDGETS[name], seed=seed)
                   for name in EXPLORER_VARIANTS},
                "lookups": data["lookups"],
            }
        return cache[(kind, factor)]

    def compute(input: tuple[str, float], variant: str) -> dict:
        input, sharpness = input
        found = runs(input, sharpness)
        run, full = found[variant], found["full"]
        weight_errors = {name: found[name].weight_error for name in EXPLORER_VARIANTS}
        return {
            "input": input, "sharpness": sharpness, "variant": variant, "parameter": run.parameter,
            "weights": run.weights, "full_weights": full.weights, "lookups": found["lookups"],
            "weight_errors": weight_errors,
            "output_errors": {name: found[name].error for name in EXPLORER_VARIANTS},
            "weight_error": run.weight_error, "error": run.error,
            "best": min(weight_errors, key=weight_errors.get),
            "multiply_adds": run.multiply_adds, "full_multiply_adds": full.multiply_adds,
        }

    circled = lookup_sequence(seed=1)["lookups"]  # (8, 2)

    def draw(fig: Figure, state: dict) -> None:
        first = not fig.axes
        if first:
            fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.0, 1.0, 0.7]})
        ax_full, ax_variant, ax_bars = fig.axes
        # the lookups are circled once, on the first frame, and shown only on the lookup input
        weight_map(ax_full, state["full_weights"], lookups=circled if first else None,
                   title="full attention", xlabel="keys", ylabel="queries")
        weight_map(ax_variant, state["weights"], lookups=circled if first else None,
                   title=f"{state['variant']}: weights", xlabel="keys", ylabel="")
        for ax in (ax_full, ax_variant):
            for circle in ax.lines:
                circle.set_visible(state["input"] == "lookup")
        error_bars(ax_bars, state["weight_errors"], highlight=state["variant"],
                   title="weight error", xlabel="")
        if first:  # fixed ticks and title positions: nothing to lay out again on every frame
            for ax in (ax_full, ax_variant):
                ax.set_xticks([])
                ax.set_yticks([])
            ax_bars.set_xticks([0.0, 0.5, 1.0])
            for ax in (ax_full, ax_variant, ax_bars):
                ax.set_title(ax.get_title(), y=1.0)
            fig.suptitle(" ", fontsize=10)
        fig._suptitle.set_text(f"{state['input']} input, q and k × {state['sharpness']:g}: "
                               f"smallest error {state['best']}")

    return Explorer(
        compute, draw,
        sliders={
            "input": Slider("Input, q and k ×", [(f"{kind} × {factor:g}", (kind, factor)) for kind in INPUTS
                                                  for factor in SHARPNESS[::-1]], value=(input, sharpness)),
            "variant": Slider("Variant", [(name, name) for name in EXPLORER_VARIANTS], value=variant),
        },
        describe=describe_variant,
        title=("Change the input and the scale of its queries and keys: which family of variants "
               "comes closest to full attention changes with the structure of the attention."),
        figsize=(7.2, 3.3),
    )


def describe_variant(state: dict) -> str:
    """Alternative text for one picture of :func:`variant_explorer`: the numbers it shows."""
    errors = "; ".join(f"{name} {error:.2f}" for name, error in state["weight_errors"].items())
    return (
        f"Input: {INPUTS[state['input']]}, queries and keys multiplied by {state['sharpness']:g}. "
        f"Left: full attention's 128 by 128 weights. Middle: the weights of {state['variant']} "
        f"attention ({state['parameter']}), error on the weights {state['weight_error']:.2f}, "
        f"error on the outputs {state['error']:.2f}. Right: the error on the weights of five "
        f"variants: {errors}. The smallest is {state['best']}'s."
    )
