"""Explorer of chapter 14 (why attention performs): watch two readers learn one example.

The chapter trains an attention reader and a pooling reader on recall by content and keeps
copies of each (:class:`attn_core.experiments.performance.Snapshots`). For one fixed test example, the
reader picks a training step and a reader; the picture shows the weight the reader puts on
each pair (attention: computed from the query; pooling: 1/L by construction) and the
probability it gives each value, with its test accuracy at that step in the title.
"""

from __future__ import annotations

import numbers

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from attn_core.experiments.performance import (
    KEY_NAMES,
    Snapshots,
    pair_labels,
    pair_weights,
    value_probabilities,
)
from attn_core.plot import weight_bars
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["training_explorer", "describe_training"]


def training_explorer(
    runs: Mapping[str, Snapshots],
    example: Mapping[str, np.ndarray],
    *,
    key_names: Sequence[str] = KEY_NAMES,
    step: int | None = None,
    model: str | None = None,
) -> Explorer:
    r"""Training step x reader: the weights on the pairs and the predicted value of one example.

    Parameters
    ----------
    runs : mapping of str -> Snapshots
        One entry per reader (e.g. ``"attention"``, ``"pooling"``), each with copies of the
        model at the same steps and their test accuracy.
    example : dict
        One example of :func:`attn_core.experiments.data.associative_recall` (arrays of length 1).
    key_names : sequence of str
        Names of the keys in the labels.
    step : int, optional
        Starting step (default the last).
    model : str, optional
        Starting reader (default the first).

    Returns
    -------
    Explorer
        Controls ``"step"`` and ``"model"``; ``state`` holds ``model``, ``step``,
        ``weights`` (n_pairs,), ``probabilities`` (n_values,), ``prediction``, ``answer``,
        ``queried_pair``, ``pairs``, ``query`` and ``test_accuracy``.

    Raises
    ------
    TypeError, ValueError
        ``runs`` not a mapping of name -> Snapshots, or empty; runs recorded at different
        steps; more than 60 pictures; an example that is not a single one of associative
        recall (see :func:`~attn_core.experiments.performance.pair_labels`); a starting step
        or reader that is not there.

    Examples
    --------
    >>> from attn_core.training.models import AttentionReader, PoolingReader
    >>> from attn_core.experiments.data import associative_recall
    >>> data = associative_recall(8, n_pairs=3, n_keys=4, n_values=2, seed=0)
    >>> runs = {"attention": Snapshots(AttentionReader(4, 2, width=4), test_set=data),
    ...         "pooling": Snapshots(PoolingReader(4, 2, width=4), test_set=data)}
    >>> one = {name: value[:1] for name, value in data.items()}
    >>> ex = training_explorer(runs, one)
    >>> ex.frame_count(), ex.state["model"], ex.state["step"]
    (2, 'attention', 0)
    """
    if not isinstance(runs, Mapping) or not all(isinstance(run, Snapshots) for run in runs.values()):
        raise TypeError(f"runs must be a mapping of reader name -> Snapshots, got {runs!r:.60}")
    if not runs:
        raise ValueError("runs must hold at least one reader's Snapshots")
    names = list(runs)
    steps = runs[names[0]].steps
    for name in names:
        if runs[name].steps != steps:
            raise ValueError(f"every run must be recorded at the same steps: {names[0]} has {steps}, "
                             f"{name} has {runs[name].steps}")
        if not runs[name].test_accuracy:
            raise ValueError(f"runs[{name!r}] was recorded without a test_set, so it has no accuracy")
    if len(steps) * len(names) > 60:
        raise ValueError(f"{len(steps)} steps x {len(names)} readers is more than 60 pictures")
    pairs = pair_labels(example, key_names)  # checks that it is one example
    if step is not None and (isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral)):
        raise TypeError(f"step must be None or a whole number (a recorded step), got {step!r:.40}")
    step = steps[-1] if step is None else int(step)
    model = names[0] if model is None else model
    if step not in steps:
        raise ValueError(f"step={step} is not one of the recorded steps {steps}")
    if model not in names:
        raise ValueError(f"model={model!r} is not one of {names}")
    example = {key: np.asarray(value) for key, value in example.items()}
    n_pairs = len(pairs)
    queried = n_pairs - int(example["distance"][0])  # position of the pair asked for
    answer = int(example["labels"][0])

    def compute(step: int, model: str) -> dict:
        reader = runs[model].models[step]
        weights = pair_weights(reader, example)[0]  # (n_pairs,)
        probabilities = value_probabilities(reader, example)[0]  # (n_values,)
        return {
            "model": model,
            "step": step,
            "weights": weights,
            "probabilities": probabilities,
            "prediction": int(np.argmax(probabilities)),
            "answer": answer,
            "queried_pair": queried,
            "pairs": pairs,
            "query": key_names[int(example["query"][0])],
            "test_accuracy": runs[model].test_accuracy[step],
        }

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1.0]})
        ax_weights, ax_values = fig.axes
        weight_bars(ax_weights, state["weights"], state["pairs"], highlight=state["queried_pair"],
                    ylim=(0.0, 1.1), ylabel="weight on the pair", title="Where it looks")
        n_values = len(state["probabilities"])
        weight_bars(ax_values, state["probabilities"], [str(v) for v in range(n_values)],
                    highlight=state["answer"], ylim=(0.0, 1.1), ylabel="predicted probability",
                    title="What it answers")
        ax_weights.set_xlabel("pair (key→value)")
        ax_values.set_xlabel("value")
        fig.suptitle(f"Question {state['query']}?  {state['model'].capitalize()} reader, step "
                     f"{state['step']}: test accuracy {state['test_accuracy']:.2f}", fontsize=11)

    return Explorer(
        compute, draw,
        sliders={
            "step": Slider("Training step", [(str(s), s) for s in steps], value=step),
            "model": Slider("Reader", [(name, name) for name in names], value=model),
        },
        describe=describe_training,
        title="Move the training step from 0 and watch where each reader looks: the attention "
              "reader's weight gathers on the pair asked for (green), the pooling reader's "
              "stays spread evenly; on the right, the probability each gives the right value.",
        figsize=(6.4, 3.0),
    )


def describe_training(state: dict) -> str:
    """Alternative text for one picture of :func:`training_explorer`: every number shown."""
    weights = ", ".join(f"{p} {w:.2f}" for p, w in zip(state["pairs"], state["weights"]))
    probabilities = ", ".join(f"{v}: {p:.2f}" for v, p in enumerate(state["probabilities"]))
    return (
        f"The {state['model']} reader at training step {state['step']}, test accuracy "
        f"{state['test_accuracy']:.2f}. Question {state['query']}?, whose answer is "
        f"{state['answer']} (pair {state['pairs'][state['queried_pair']]}). Weights on the "
        f"pairs: {weights}. Predicted probability of each value: {probabilities}; "
        f"it predicts {state['prediction']}."
    )
