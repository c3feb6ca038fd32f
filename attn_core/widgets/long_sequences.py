r"""Explorer of chapter 12 (long sequences): what each trained reader looks at, distance by distance.

The chapter trains a recurrent reader and an attention reader on associative recall. For
one test example at each distance d, the explorer shows either the attention weights of
the attention reader over the L pairs, or how far the recurrent reader's final state moves
when the value of each pair is changed (:func:`attn_core.experiments.long_sequences.state_change_by_pair`), with
the asked-for pair highlighted and the predicted and true values in the title.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from attn_core._checks import choice, positive_int
from attn_core.experiments.long_sequences import readers_by_distance
from attn_core.plot.long_sequences import pair_bars
from attn_core.training.models import AttentionReader, RecurrentReader
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["VALUE_NAMES", "MODELS", "recall_explorer", "describe_recall"]

#: Names of the values of the recall task (value 0 is "A", ...), used in printouts and labels.
VALUE_NAMES = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: The models the explorer offers, by the value of its "Model" control.
MODELS = {"recurrent": "Recurrent reader", "attention": "Attention reader"}


def recall_explorer(
    recurrent: RecurrentReader,
    attention: AttentionReader,
    data: dict[str, np.ndarray],
    *,
    value_names: Sequence[str] = VALUE_NAMES,
    distance: int = 1,
    model: str = "attention",
) -> Explorer:
    r"""Look inside two trained readers, one test example per distance.

    For each distance d present in ``data`` the first example at that distance is taken.
    The attention reader's picture is its weights :math:`a_t` over the pairs (they sum to
    1). The recurrent reader's is, for each pair t, how far its final state :math:`h_L`
    moves when the value of pair t is changed, averaged over the other values
    (:func:`attn_core.experiments.long_sequences.state_change_by_pair`), on a vertical range shared by every
    picture.

    Parameters
    ----------
    recurrent : RecurrentReader
    attention : AttentionReader
        Trained (or not) on the task that made ``data``.
    data : dict
        From :func:`attn_core.experiments.data.associative_recall`.
    value_names : sequence of str
        One name per value (default "A", "B", ...).
    distance : int
        Starting distance; one of those in ``data``.
    model : {"recurrent", "attention"}
        Starting model.

    Returns
    -------
    Explorer
        Controls ``"distance"`` and ``"model"``; its ``state`` holds ``model``,
        ``distance``, ``position`` (0-based index of the asked-for pair), ``pairs`` (value
        names, oldest first), ``heights`` (weights or state changes), ``predicted``,
        ``true`` and ``correct``.

    Raises
    ------
    TypeError, ValueError
        A reader without ``forward`` (or, for ``attention``, ``n_values``); ``data`` not a
        dict holding keys, values, query, distance and labels; ``model`` unknown;
        ``distance`` not a whole number among the distances in ``data``; too few
        ``value_names``.

    Examples
    --------
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(30, n_pairs=3, n_keys=3, n_values=2, ordered=True, seed=1)
    >>> ex = recall_explorer(RecurrentReader(3, 2, width=4), AttentionReader(3, 2, width=4), data)
    >>> ex.frame_count(), round(float(ex.state["heights"].sum()), 6)
    (6, 1.0)
    """
    choice(model, MODELS, "model")
    distance = positive_int(distance, "distance")
    result = readers_by_distance(recurrent, attention, data)  # checks the readers and data
    n_values = getattr(attention, "n_values", None)
    if isinstance(n_values, bool) or not isinstance(n_values, numbers.Integral):
        raise TypeError(f"attention must be a reader with a whole number n_values, got {type(attention).__name__}")
    if isinstance(value_names, (str, bytes)):
        raise TypeError(f"value_names must be a sequence of names, not the string {value_names!r:.40}")
    names = [str(name) for name in value_names]
    if len(names) < n_values:
        raise ValueError(f"value_names has {len(names)} names for {n_values} values")
    distances, chosen = result["distances"], result["examples"]
    heights, predicted = result["heights"], result["predicted"]
    if distance not in distances:
        raise ValueError(f"distance={distance} is not among the distances of data: {distances}")
    change_range = (0.0, 1.1 * float(heights["recurrent"].max()) or 1.0)
    n_pairs = data["values"].shape[1]

    def compute(distance: int, model: str) -> dict:
        i = distances.index(distance)
        guess, truth = int(predicted[model][i]), int(chosen["labels"][i])
        return {
            "model": model,
            "distance": distance,
            "n_pairs": n_pairs,
            "position": n_pairs - distance,
            "pairs": [names[v] for v in chosen["values"][i]],
            "heights": heights[model][i],
            "predicted": names[guess],
            "true": names[truth],
            "correct": guess == truth,
        }

    def draw(fig, state: dict) -> None:
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        recurrent_picture = state["model"] == "recurrent"
        verdict = "right" if state["correct"] else "wrong"
        pair_bars(ax, state["heights"], state["pairs"], highlight=state["position"],
                  ylim=change_range if recurrent_picture else (0.0, 1.05),
                  xlabel="pairs, oldest to newest (the value each holds)",
                  ylabel="final state moves by" if recurrent_picture else "attention weight",
                  title=f"{MODELS[state['model']]}, d = {state['distance']}: "
                        f"answers {state['predicted']}, true {state['true']} ({verdict})")
        ax.yaxis.set_label_coords(-0.08, 0.5)  # the same place whatever the tick labels

    return Explorer(
        compute, draw,
        sliders={
            "distance": Slider("Distance d", [(str(d), d) for d in distances], value=distance),
            "model": Slider("Model", [(key, key) for key in MODELS], value=model),
        },
        describe=describe_recall,
        title="Move the distance d: the green bar is the pair the query asks for. Compare "
              "where the attention reader puts its weight with how much of that pair's "
              "value is left in the recurrent reader's final state.",
        figsize=(6.4, 3.0),
    )


def describe_recall(state: dict) -> str:
    """Alternative text for one picture of :func:`recall_explorer`: every number shown."""
    position, heights = state["position"], state["heights"]
    where = (f"the query asks for pair {position + 1} of {state['n_pairs']}, "
             f"value {state['pairs'][position]}")
    verdict = "right" if state["correct"] else "wrong"
    shown = ", ".join(f"{h:.2f}" for h in heights)
    if state["model"] == "attention":
        body = (f"Attention weights over the pairs, oldest first: {shown}. "
                f"Weight on the asked-for pair: {heights[position]:.2f}.")
    else:
        body = (f"How far the final state moves when each pair's value is changed, oldest "
                f"first: {shown}. For the asked-for pair: {heights[position]:.2f}; for the "
                f"newest pair: {heights[-1]:.2f}.")
    return (f"{MODELS[state['model']]}, distance {state['distance']}: {where}. {body} "
            f"It answers {state['predicted']}; the true value is {state['true']} ({verdict}).")
