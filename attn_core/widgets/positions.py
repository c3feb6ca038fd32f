"""Explorer of chapter 9 (positions): push the marked token further back, past the training length.

Five trained readers (:class:`attn_core.experiments.positions.MarkedRecallReader`, the first
seed's of ``benchmarks/positions_extrapolation.py``) read sequences of 512 tokens, sixteen
times the 32 they were trained on, and look for one marked token. The reader moves the
marked token further back and switches the position encoding, and watches where the
question's weight goes: ALiBi's stays near the question (a recency window, wider for a
gentler slope), RoPE's spreads over keys at distances it never saw, no encoding at all
keeps finding the marked token by its content.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from attn_core._checks import positive_int
from attn_core.experiments.positions import (
    EXTRAPOLATION_CONFIG,
    load_extrapolation,
    marked_recall,
    stored_recall_reader,
)
from attn_core.plot.positions import weights_by_distance
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["ENCODINGS", "DISTANCES", "LENGTH", "recall_distance_explorer"]

#: The encodings on the slider: name -> what the picture calls it. The learned table is not
#: among them: it has no rows for positions 32 to 511, so there is nothing to draw.
ENCODINGS = {"none": "no positions", "sinusoidal": "sinusoidal", "rope": "RoPE", "alibi": "ALiBi, slope 1/4",
             "alibi 1/64": "ALiBi, slope 1/64"}
#: How far back the marked token may be put (a subset of the stored distances).
DISTANCES = (1, 8, 16, 31, 48, 64, 96, 128, 256, 511)
#: The length of the sequences the explorer shows (one of the stored test lengths).
LENGTH = 512
#: Weights below this are drawn at this height, the bottom of the log axis.
FLOOR = 1e-6


def recall_distance_explorer(*, length: int = LENGTH, seed: int = 3) -> Explorer:
    """Move the marked token back, past the training length, and watch each encoding's weights.

    Controls:

    * **Distance of the marked token** (slider, with a play button): how many places before
      the question the marked token stands, 1 to 511;
    * **Encoding** (slider): no positions, sinusoidal, RoPE, ALiBi with slope 1/4 and with
      slope 1/64.

    The picture is the question's weights over all ``length`` keys, by distance back, on a
    log scale, with the distances seen in training (below 32) shaded and the marked key
    dotted. It is the first seed's reader; its title gives the weight on the marked key in
    this sequence, that reader's stored accuracy at this distance (500 sequences) and the
    median accuracy over all the stored seeds.

    Parameters
    ----------
    length : int, default 512
        One of the stored test lengths (32, 128, 512); distances that do not fit are dropped.
    seed : int, default 3
        Draws the one sequence shown at each distance.

    Returns
    -------
    Explorer
        ``state`` holds ``distance``, ``encoding``, ``weights`` (length,) by distance back,
        ``marked_weight``, ``predicted`` and ``label`` (the reader's answer and the truth),
        ``accuracy`` (the pictured reader's stored accuracy, float) and ``median_accuracy``
        (over the stored seeds).

    Raises
    ------
    TypeError, ValueError
        ``length`` not one of the stored test lengths; ``seed`` not a whole number >= 0.

    Examples
    --------
    >>> ex = recall_distance_explorer()
    >>> ex.frame_count(), ex.state["encoding"], ex.state["distance"]
    (50, 'alibi', 16)
    >>> ex.state["marked_weight"] > 0.5
    True
    """
    length = positive_int(length, "length")
    if length not in EXTRAPOLATION_CONFIG["test_lengths"]:
        raise ValueError(f"length must be one of the stored test lengths {EXTRAPOLATION_CONFIG['test_lengths']}, "
                         f"got {length}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a whole number >= 0, got {seed!r}")
    stored = load_extrapolation()
    readers = {name: stored_recall_reader(name) for name in ENCODINGS}
    distances = [d for d in DISTANCES if d < length]
    train_length = EXTRAPOLATION_CONFIG["train_length"]
    n_seeds = len(EXTRAPOLATION_CONFIG["seeds"])

    def compute(distance: int, encoding: str) -> dict:
        data = marked_recall(1, length, distance=distance, seed=seed + distance)
        logits, cache = readers[encoding]._forward({"tokens": data["tokens"]})
        weights = cache["weights"][0, 0, ::-1]  # (length,): by distance back, 0 = the question itself
        index = EXTRAPOLATION_CONFIG["distances"].index(distance)
        by_seed = stored["accuracy_by_seed"][encoding][str(length)][index]  # one accuracy per seed
        return {"distance": distance, "encoding": encoding, "weights": weights,
                "marked_weight": float(weights[distance]), "predicted": int(logits[0].argmax()),
                "label": int(data["labels"][0]), "accuracy": float(by_seed[0]),
                "median_accuracy": float(np.median(by_seed))}

    def draw(fig: Figure, state: dict) -> None:
        title = (f"{ENCODINGS[state['encoding']]}: marked token {state['distance']} back\n"
                 f"its weight {state['marked_weight']:.2f}; this reader's accuracy {state['accuracy']:.2f} "
                 f"(median of {n_seeds} seeds {state['median_accuracy']:.2f})")
        if not fig.axes:  # the first picture draws everything, later ones move the data
            weights_by_distance(fig.add_subplot(), state["weights"], marked=state["distance"],
                                train_length=train_length, title=title)
            return
        ax = fig.axes[0]
        line, dot = ax.lines[0], ax.lines[2]
        shown = np.maximum(state["weights"], FLOOR)
        line.set_ydata(shown)
        ax.lines[1].set_xdata([state["distance"]] * 2)
        dot.set_data([state["distance"]], [shown[state["distance"]]])
        ax.get_legend().texts[-1].set_text(f"the marked key: {state['marked_weight']:.2f}")
        ax.set_title(title)

    def describe(state: dict) -> str:
        w = state["weights"]
        near = w[:train_length].sum()
        return (f"Encoding: {ENCODINGS[state['encoding']]}. A sequence of {length} tokens, trained on "
                f"{train_length}; the marked token stands {state['distance']} places before the question. "
                f"The question puts weight {state['marked_weight']:.2f} on it and {near:.2f} on the "
                f"{train_length} nearest keys; it answers {state['predicted']} (the truth is {state['label']}). "
                f"This reader's stored accuracy at this distance: {state['accuracy']:.2f}; the median over "
                f"{n_seeds} trained seeds: {state['median_accuracy']:.2f}.")

    return Explorer(
        compute, draw,
        sliders={
            "distance": Slider("Distance of the marked token", [(str(d), d) for d in distances], value=16),
            "encoding": Slider("Encoding", [(label, name) for name, label in ENCODINGS.items()], value="alibi"),
        },
        describe=describe,
        title=(f"Trained on {train_length} tokens, reading {length}: move the marked token further back "
               "(or press play), then switch the encoding."),
        figsize=(6.4, 3.4),
        play=True,
    )
