"""Explorers of chapter 10 (a gallery of variants): which variant wins depends on the input.

Two inputs (:mod:`attn_core.experiments.variants`): the lookup sequence, whose attention is
local with a few distant lookups, and random queries and keys, whose attention has no
locality. The reader scales the queries and keys of either (sharper or flatter attention)
and picks a variant; the picture shows full attention's weights, the variant's weights
(implicit for low-rank, linear and random features), and the error on the weights of five
variants at that input, the chosen one highlighted. Moving the two input controls shows
where the ranking of the families flips, which no single static figure of one input can.

:func:`decay_explorer` is the second: recall accuracy against the age of a pair for a
decayed linear-attention state, with the decay and the number of pairs stored as controls,
beside plain linear attention and a softmax window of the same state size. It shows how far
back a decayed state reaches, a distance that depends on the decay and hardly on the pairs.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from attn_core._checks import as_float_array, nonnegative_int, number_in_range
from attn_core.experiments.variants import (DEFAULT_BUDGETS, equal_state_window, lookup_sequence, random_sequence,
                                           memory_recall, run_variant)
from attn_core.plot.variants import error_bars, recall_curves, weight_map
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
        figsize=(6.6, 3.0),
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


# ------------------------------------------------------------------ how far back a decayed memory reaches

__all__ += ["DECAYS", "STORED_PAIRS", "REWRITES", "RECALL_WIDTH", "decay_explorer", "describe_decay", "reach"]

#: The decays :math:`\lambda` the explorer offers (1 is plain linear attention).
DECAYS = (0.9, 0.95, 1.0)
#: The numbers of (key, value) pairs written before the queries.
STORED_PAIRS = (32, 128)
#: Key and value width of the explorer's memories: a 16 x 16 state, 256 numbers.
RECALL_WIDTH = 16
#: The two tasks: every key written once, or every key written a second time with a new token
#: (the newest asked), as the ``rewrites`` of :func:`attn_core.experiments.variants.memory_recall`.
REWRITES = (0.0, 1.0)
#: Sequences per frame, as in the chapter's recall table: each age's accuracy is a mean over this many queries.
RECALL_TRIALS = 64


def reach(accuracy_by_age: np.ndarray, level: float = 0.5) -> int:
    """How many of the newest pairs are all recalled at least ``level`` of the time.

    The largest ``a`` such that every pair written at most ``a`` pairs before the end has
    accuracy >= ``level`` (0 when even the newest does not).

    Raises
    ------
    TypeError, ValueError
        ``accuracy_by_age`` not a non-empty vector of finite numbers; ``level`` outside [0, 1].

    Examples
    --------
    >>> reach(np.array([1.0, 0.9, 0.6, 0.4, 0.7]))
    3
    """
    accuracy_by_age = as_float_array(accuracy_by_age, "accuracy_by_age", min_ndim=1, max_ndim=1, nonempty=True)
    if not np.isfinite(accuracy_by_age).all():
        raise ValueError("accuracy_by_age must hold finite numbers (accuracies in [0, 1])")
    level = number_in_range(level, "level", 0.0, 1.0)
    below = np.flatnonzero(accuracy_by_age < level)
    return int(below[0]) if below.size else int(accuracy_by_age.size)


def decay_explorer(*, decay: float = 0.9, n_pairs: int = 128, rewrites: float = 0.0, seed: int = 0) -> Explorer:
    r"""Pick a decay, a number of keys and a task: see how far back a decayed memory still recalls.

    Controls:

    * **Decay λ** (slider): :data:`DECAYS`; the memory is
      :math:`F_t = \lambda F_{t-1} + k_t^\top v_t` with a 16 x 16 state;
    * **Keys stored** (slider): :data:`STORED_PAIRS` keys, and the task (:data:`REWRITES`):
      every key written once, or every key written again with a new token, the newest asked.

    The picture is recall accuracy against the age of a key's newest write (1 = written
    last), from :func:`attn_core.experiments.variants.memory_recall` with random unit keys
    and 8 value tokens, for the decayed memory, plain linear attention (:math:`\lambda = 1`),
    the delta rule (its strength tuned on other sequences) and a softmax window of the same
    state size (8 pairs), with the full softmax cache for reference. 3 x 2 x 2 = 12 pictures.

    Parameters
    ----------
    decay : float, default 0.9
        One of :data:`DECAYS`, shown at first.
    n_pairs : int, default 128
        One of :data:`STORED_PAIRS`, shown at first.
    rewrites : float, default 0.0
        One of :data:`REWRITES`, shown at first.
    seed : int, default 0
        Seed of the keys, values and embeddings (the same for every memory).

    Returns
    -------
    Explorer
        Controls ``"decay"`` and ``"stored"`` (a pair ``(n_pairs, rewrites)``); ``state`` holds ``decay``,
        ``n_pairs``, ``rewrites``, ``strength`` (the delta rule's tuned strength),
        ``by_age`` (memory -> accuracy by age, shape (n_pairs,)), ``accuracy`` (memory ->
        overall accuracy), ``reach`` (memory -> :func:`reach` of its accuracy by age),
        ``half_life`` (pairs after which the decay has halved a pair, ``inf`` for 1),
        ``window`` (the equal-size window, 8) and ``chance``.

    Raises
    ------
    ValueError
        A decay, number of pairs or task not offered; a bad seed.

    Examples
    --------
    >>> ex = decay_explorer()
    >>> ex.frame_count(), ex.state["window"]
    (12, 8)
    >>> ex.state["reach"]["decayed"] > ex.state["reach"]["softmax window"]
    True
    """
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or decay not in DECAYS:
        raise ValueError(f"decay must be one of {DECAYS}, got {decay!r:.40}")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs not in STORED_PAIRS:
        raise ValueError(f"n_pairs must be one of {STORED_PAIRS}, got {n_pairs!r:.40}")
    if isinstance(rewrites, bool) or not isinstance(rewrites, (int, float)) or rewrites not in REWRITES:
        raise ValueError(f"rewrites must be one of {REWRITES}, got {rewrites!r:.40}")
    seed = nonnegative_int(seed, "seed")
    cache: dict[tuple[str, float, int, float], object] = {}

    def run(memory: str, lam: float, pairs: int, share: float):
        key = (memory, lam if memory == "decayed" else 1.0, pairs, share)
        if key not in cache:
            knob = {"decay": lam} if memory == "decayed" else {}  # the delta rule's strength: tuned
            cache[key] = memory_recall(memory, pairs, RECALL_WIDTH, rewrites=share, n_trials=RECALL_TRIALS,
                                       seed=seed, **knob)
        return cache[key]

    def compute(decay: float, stored: tuple[int, float]) -> dict:
        n_pairs, rewrites = stored
        results = {memory: run(memory, decay, n_pairs, rewrites)
                   for memory in ("softmax", "softmax window", "linear", "delta rule", "decayed")}
        by_age = {memory: result.accuracy_by_age for memory, result in results.items()}
        return {
            "decay": decay, "n_pairs": n_pairs, "rewrites": rewrites, "strength": results["delta rule"].strength,
            "by_age": by_age,
            "accuracy": {memory: result.accuracy for memory, result in results.items()},
            "reach": {memory: reach(curve) for memory, curve in by_age.items()},
            "half_life": float(np.log(0.5) / np.log(decay)) if decay < 1 else float("inf"),
            "window": equal_state_window(RECALL_WIDTH, RECALL_WIDTH), "chance": results["linear"].chance,
        }

    def draw(fig: Figure, state: dict) -> None:
        first = not fig.axes
        if first:
            fig.subplots()
            fig.subplots_adjust(left=0.1, bottom=0.16, right=0.68, top=0.83)
        ax = fig.axes[0]
        ages = np.arange(1, state["n_pairs"] + 1)
        labels = {"softmax": "softmax, full cache", "softmax window": "softmax, last 8 pairs",
                  "linear": "linear (λ = 1)", "delta rule": "delta rule, tuned η", "decayed": "decayed"}
        curves = {memory: state["by_age"][memory] for memory in labels}
        recall_curves(ax, ages, curves, chance=state["chance"] if first else None, log_x=False,
                      xlabel="age of a key's newest write (1 = written last)", legend=False)
        if first:
            for line in ax.get_lines():  # up to 128 ages: lines without markers
                line.set_marker("")
            ax.set_xscale("log", base=2)
            ticks = [2**i for i in range(8)]
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
            ax.set_xlim(0.8, 160)
            handles = ax.get_lines()
            ax.legend(handles, [labels.get(h.get_label(), h.get_label()) for h in handles], fontsize=8,
                      loc="upper left", bbox_to_anchor=(1.02, 1.0))
        half = "no decay" if state["decay"] == 1 else f"half-life {state['half_life']:.1f} writes"
        task = "each key written twice" if state["rewrites"] else "each key written once"
        ax.set_title(f"λ = {state['decay']:g} ({half}), {state['n_pairs']} keys, {task}:\n"
                     f"decayed {state['accuracy']['decayed']:.2f}, linear {state['accuracy']['linear']:.2f}, "
                     f"delta rule {state['accuracy']['delta rule']:.2f}", fontsize=9)

    return Explorer(
        compute, draw,
        sliders={
            "decay": Slider("Decay λ", [(f"{lam:g}", lam) for lam in DECAYS], value=decay),
            "stored": Slider("Keys stored", [(f"{n}, each {'twice' if share else 'once'}", (n, share))
                                             for share in REWRITES for n in STORED_PAIRS],
                             value=(n_pairs, rewrites)),
        },
        describe=describe_decay,
        title=("Change the decay, the number of keys and the task: a decayed state recalls recent pairs "
               "better and old ones worse; a window of the same size forgets at a cliff; when keys are "
               "rewritten, forgetting and overwriting pay."),
        figsize=(6.2, 3.0),
    )


def describe_decay(state: dict) -> str:
    """Alternative text for one picture of :func:`decay_explorer`: the numbers it shows."""
    accuracy = "; ".join(f"{memory} {value:.2f}" for memory, value in state["accuracy"].items())
    reaches = "; ".join(f"{memory} {value}" for memory, value in state["reach"].items())
    task = "each key written twice, the newest value asked" if state["rewrites"] else "each key written once"
    return (
        f"Recall accuracy against the age of a key's newest write, {state['n_pairs']} keys stored in a 16 by "
        f"16 state, {task}, decay {state['decay']:g}. Overall accuracy: {accuracy}. Newest keys all recalled "
        f"at least half the time: {reaches}. Chance is {state['chance']:.3g}."
    )
