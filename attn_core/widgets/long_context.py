"""Explorers of chapter 14, long context: RoPE rescaled, and how far back a stack of sliding-window layers reaches.

:func:`rescaling_explorer`: a rescaling of RoPE (as trained, position interpolation, the
NTK-aware base, YaRN) and the scale ``s`` move; the score of a perfect match at every distance
of the new context is drawn against the band of trained distances, next to how far each pair
now turns beyond the largest angle it reached in training.

:func:`reach_explorer`: the stack's pattern (sliding windows only; local and global alternating, as
Gemma 2; five local layers per global one, as Gemma 3) and its number of layers move, and the
share of the last position's output that comes from each distance back
(:func:`attn_core.experiments.long_context.influence_rollout`) is drawn with the receptive field
and the positions the stack must cache.
"""

from __future__ import annotations

import numbers

import numpy as np
from matplotlib.figure import Figure

from attn_core.experiments.long_context import (
    METHOD_LABELS,
    ROPE_METHODS,
    influence_rollout,
    kv_positions,
    layer_windows,
    matching_scores,
    receptive_field,
    rescaled_rotary,
    rope_scaling_table,
)
from attn_core.plot.long_context import influence_profile
from attn_core.plot.style import COLORS
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["RESCALING_SCALES", "RESCALING_WIDTH", "RESCALING_TRAIN_LENGTH", "rescaling_explorer",
           "STACK_PATTERNS", "LAYER_OPTIONS", "REACH_WINDOW", "REACH_POSITIONS", "reach_explorer"]

#: The "Scale s" slider: how many times the training length the context is.
RESCALING_SCALES = (2, 4, 8, 16, 32)
#: The head of :func:`rescaling_explorer`: chapter 9's RoPE reader, width 16, trained on 32 tokens.
RESCALING_WIDTH, RESCALING_TRAIN_LENGTH = 16, 32


def rescaling_explorer(*, method: str = "interpolation", scale: int = 8) -> Explorer:
    """What a rescaling of RoPE does to a head's scores and angles, as the context grows.

    The head is chapter 9's shape (width :data:`RESCALING_WIDTH`, base 10,000, trained on
    :data:`RESCALING_TRAIN_LENGTH` tokens) with its energy spread equally over the pairs. Left:
    the score of a perfect match at every distance of a context ``s`` times the training
    length (:func:`~attn_core.experiments.long_context.matching_scores`), with the method's
    frequencies (YaRN's score factor left out), against the curve as trained (thin grey), the
    trained distances (shaded) and the lowest score seen there (dotted). Right: per pair, the
    largest angle over the new context divided by the largest reached in training,
    ``s theta'_f / theta_f``, on a log scale; a bar above 1 of a pair that never completed a
    turn in training (coloured) is a pair meeting angles it never saw; the grey pairs went
    round in training and have seen every angle.

    Controls: **Method** (:data:`~attn_core.experiments.long_context.ROPE_METHODS`) and
    **Scale s** (:data:`RESCALING_SCALES`).

    Parameters
    ----------
    method : str, default "interpolation"
        The starting method.
    scale : int, default 8
        The starting scale, one of :data:`RESCALING_SCALES`.

    Returns
    -------
    Explorer
        ``state`` holds ``method``, ``scale``, ``distances`` and ``scores`` (the curve),
        ``neighbour_gap`` (``1 - c(1)``), ``unseen_pairs``, ``lowest_new``, ``first_below``
        (the first distance beyond training whose score is below the lowest trained one, or
        None), ``angle_ratio`` (per pair) and ``completed_turn`` (per pair, in training).

    Raises
    ------
    ValueError
        A starting value that is not one of the options.

    Examples
    --------
    >>> ex = rescaling_explorer()
    >>> ex.frame_count(), ex.state["unseen_pairs"], ex.state["angle_ratio"].round(6).tolist()[:2]
    (20, 0, [1.0, 1.0])
    """
    if not isinstance(method, str) or method not in ROPE_METHODS:
        raise ValueError(f"method must be one of {', '.join(ROPE_METHODS)}, got {method!r:.40}")
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Integral) or scale not in RESCALING_SCALES:
        raise ValueError(f"scale must be one of {', '.join(map(str, RESCALING_SCALES))}, got {scale!r:.40}")
    width, length = RESCALING_WIDTH, RESCALING_TRAIN_LENGTH
    trained = rescaled_rotary("none", width, scale=1.0, original_length=length)["frequencies"]  # (8,)
    lowest = float(matching_scores(np.arange(length), trained).min())
    completed = length * trained >= 2 * np.pi  # (8,): pairs that went round in training

    def compute(method: str, scale: int) -> dict:
        theta = rescaled_rotary(method, width, scale=float(scale), original_length=length)["frequencies"]
        row = next(r for r in rope_scaling_table(width, length, float(scale)) if r["method"] == method)
        distances = np.arange(scale * length)  # (s L,)
        scores = matching_scores(distances, theta)
        below = np.flatnonzero(scores[length:] < lowest - 1e-9)
        return {"method": method, "scale": scale, "distances": distances, "scores": scores,
                "trained_scores": matching_scores(distances, trained),
                "neighbour_gap": row["neighbour_gap"], "unseen_pairs": row["unseen_pairs"],
                "lowest_new": row["lowest_new"], "first_below": None if below.size == 0 else int(length + below[0]),
                "angle_ratio": scale * theta / trained, "completed_turn": completed}

    def title(state: dict) -> str:
        where = ("never below the trained minimum" if state["first_below"] is None
                 else f"below the trained minimum from distance {state['first_below']:,}")
        return (f"{METHOD_LABELS[state['method']]}, s = {state['scale']}: 1 - c(1) = {state['neighbour_gap']:.4f}, "
                f"{where}; {state['unseen_pairs']} pairs meet unseen angles")

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:  # the first frame draws; the others move the artists
            scores_ax, ratio_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
            scores_ax.axvspan(0, length, color=COLORS["muted"], alpha=0.18, linewidth=0)
            scores_ax.plot([], [], color="0.6", linewidth=0.8, label="as trained")
            scores_ax.plot([], [], color=COLORS["main"], linewidth=1.4, label="rescaled")
            scores_ax.axhline(lowest, color="black", linewidth=0.9, linestyle=":",
                              label=f"lowest in training ({lowest:.2f})")
            scores_ax.set_ylim(-0.45, 1.05)
            scores_ax.set_xlabel("distance between query and key")
            scores_ax.set_ylabel("score of a perfect match")
            scores_ax.legend(fontsize=7, loc="lower left")
            colours = ["0.7" if done else COLORS["accent"] for done in completed]
            ratio_ax.bar(np.arange(trained.size), np.ones(trained.size), color=colours)
            ratio_ax.axhline(1.0, color="black", linewidth=0.9)
            ratio_ax.set_yscale("log")
            ratio_ax.set_ylim(0.5, 64)
            ratio_ax.set_yticks([0.5, 1, 4, 16, 64], ["0.5", "1", "4", "16", "64"])
            ratio_ax.minorticks_off()
            ratio_ax.set_xticks(np.arange(trained.size))
            ratio_ax.set_xlabel("pair f")
            ratio_ax.set_ylabel("largest angle / trained", fontsize=8)
        scores_ax, ratio_ax = fig.axes
        reference, curve = scores_ax.lines[:2]
        reference.set_data(state["distances"], state["trained_scores"])
        curve.set_data(state["distances"], state["scores"])
        scores_ax.set_xlim(0, state["distances"][-1])
        for bar, ratio in zip(ratio_ax.patches, state["angle_ratio"]):
            bar.set_height(ratio)
        fig.suptitle(title(state), fontsize=8)

    def describe(state: dict) -> str:
        return (f"{title(state)}. Chapter 9's head (width {width}, trained on {length} tokens) on "
                f"{state['scale'] * length:,} tokens; per pair, the largest angle over the new context is "
                + ", ".join(f"{r:.2f}" for r in state["angle_ratio"]) + " times the largest trained one.")

    return Explorer(
        compute, draw,
        sliders={
            "method": Slider("Method", [(METHOD_LABELS[m], m) for m in ROPE_METHODS], value=method),
            "scale": Slider("Scale s", [(str(s), s) for s in RESCALING_SCALES], value=scale),
        },
        describe=describe,
        title=("Raise the scale: interpolation keeps every angle in range but flattens the curve near the query "
               "(its neighbour gap shrinks about as 1/s²); the NTK base keeps the near curve but lets the middle "
               "pairs turn past their trained range; YaRN keeps the fast pair of a long enough training run."),
        figsize=(7.2, 3.0),
    )


#: The "Stack" slider: a name and how often a layer is global (0: never).
STACK_PATTERNS = (("sliding windows only", 0), ("local, global, ... (Gemma 2)", 2),
                  ("five local, one global (Gemma 3)", 6))
#: The "Layers" slider.
LAYER_OPTIONS = (1, 2, 4, 6, 8, 12)
#: Every local layer's window, and the positions of the toy context.
REACH_WINDOW, REACH_POSITIONS = 16, 256


def reach_explorer(*, pattern: int = 0, layers: int = 4) -> Explorer:
    """Where the last position's output comes from, as layers are stacked.

    Every layer attends uniformly over what it may see (a causal window of
    :data:`REACH_WINDOW` keys before the query, or everything for a global layer) and keeps a
    residual path, as :func:`~attn_core.experiments.long_context.influence_rollout`; the
    context is :data:`REACH_POSITIONS` tokens. The picture is the share of the last output
    coming from each distance back, on a log scale, with the receptive field (windows
    summed) as a dashed line; the title counts the positions the stack caches.

    Controls: **Stack** (:data:`STACK_PATTERNS`) and **Layers** (:data:`LAYER_OPTIONS`).

    Parameters
    ----------
    pattern : int, default 0
        The starting stack: how often a layer is global, 0 (never), 2 or 6.
    layers : int, default 4
        The starting number of layers, one of :data:`LAYER_OPTIONS`.

    Returns
    -------
    Explorer
        ``state`` holds ``pattern`` (its name), ``layers``, ``windows``, ``share`` (n,),
        ``reach`` (positions, ``inf`` with a global layer), ``beyond_two_windows`` (the share
        of the output from more than ``2 * REACH_WINDOW`` positions back) and ``cached``
        (positions cached by all the layers together).

    Raises
    ------
    ValueError
        A starting value that is not one of the options.

    Examples
    --------
    >>> ex = reach_explorer()
    >>> ex.frame_count(), ex.state["reach"], ex.state["cached"]
    (18, 64, 68)
    """
    for name, value, options in (("pattern", pattern, [g for _, g in STACK_PATTERNS]), ("layers", layers, LAYER_OPTIONS)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value not in options:
            raise ValueError(f"{name} must be one of {', '.join(map(str, options))}, got {value!r}")
    every = pattern
    names = {g: name for name, g in STACK_PATTERNS}

    def compute(pattern: int, layers: int) -> dict:
        windows = layer_windows(layers, window=REACH_WINDOW, global_every=pattern or None)
        share = influence_rollout(windows, REACH_POSITIONS)
        distance = np.arange(REACH_POSITIONS)[::-1]  # (n,): distance back of each position
        return {"pattern": names[pattern], "layers": layers, "windows": windows, "share": share,
                "reach": receptive_field(windows),
                "beyond_two_windows": float(share[distance > 2 * REACH_WINDOW].sum()),
                "cached": int(kv_positions(windows, REACH_POSITIONS).sum())}

    def title(state: dict) -> str:
        return (f"{state['pattern']}, {state['layers']} layers: {state['beyond_two_windows']:.1%} from > "
                f"{2 * REACH_WINDOW} back; {state['cached']:,} positions cached")

    def draw(fig: Figure, state: dict) -> None:
        reach = state["reach"]
        if not fig.axes:  # the first frame draws; the others move the artists
            ax = fig.add_subplot()
            influence_profile(ax, state["share"], reach=0, title=title(state))
            ax.title.set_fontsize(8)
            ax.set_xlim(0, REACH_POSITIONS - 1)
            ax.set_yticks([1e-6, 1e-4, 1e-2, 1.0])  # fixed ticks: a log axis's locators cost most of a frame
            ax.minorticks_off()
        ax = fig.axes[0]
        profile, reach_line = ax.lines
        profile.set_ydata(np.maximum(state["share"][::-1], 1e-6))
        finite = bool(np.isfinite(reach))
        reach_line.set_xdata([reach, reach] if finite else [0, 0])
        reach_line.set_visible(finite)
        ax.get_legend().texts[0].set_text(f"receptive field ({reach:,.0f})" if finite
                                          else "receptive field: everything")
        ax.set_title(title(state), fontsize=8)

    def describe(state: dict) -> str:
        reach = "everything" if not np.isfinite(state["reach"]) else f"{state['reach']:.0f} positions"
        return (f"{state['pattern']}, {state['layers']} layers, window {REACH_WINDOW}, {REACH_POSITIONS} tokens: "
                f"receptive field {reach}; {state['beyond_two_windows']:.1%} of the last output comes from more "
                f"than {2 * REACH_WINDOW} positions back; the layers cache {state['cached']:,} positions.")

    return Explorer(
        compute, draw,
        sliders={
            "pattern": Slider("Stack", [(name, g) for name, g in STACK_PATTERNS], value=every),
            "layers": Slider("Layers", [(str(n), n) for n in LAYER_OPTIONS], value=layers),
        },
        describe=describe,
        title=("Add layers and watch the last position's sources spread: a sliding window reaches one window "
               "further per layer, but the far end gets a vanishing share; one global layer reaches everything "
               "at once, and costs a full cache."),
        figsize=(6.4, 3.0),
    )
