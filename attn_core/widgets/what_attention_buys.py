r"""Explorer of chapter 12 (what attention buys): each reader's accuracy by distance as it trains.

The chapter's stored runs (:func:`attn_core.experiments.what_attention_buys.load_results`) hold,
at every evaluation, each reader's test accuracy split by the distance of the answer (1 = the
last pair). The explorer replays them: pick a reader and a training step, and see where in
the memory that reader can answer, on one fixed axis (accuracy 0 to 1 against distance) that
means the same for every reader, with the reader's profile at the end of training drawn as an
outline. A static figure shows one step; this shows how each profile *forms*: from the newest
pairs backwards for the recurrent readers, all distances at once for attention.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from attn_core.plot.what_attention_buys import pair_bars
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["EXPLORER_STEPS", "describe_learning", "learning_explorer"]

#: The training steps the explorer offers (those the stored runs were evaluated at).
EXPLORER_STEPS = (0, 100, 1000, 4000, 15000, 30000)


def learning_explorer(
    results: Mapping | None = None,
    *,
    reader: str = "elman",
    step: int | None = None,
    steps: Sequence[int] = EXPLORER_STEPS,
) -> Explorer:
    """Replay the stored runs: one reader at one training step, its accuracy at every distance.

    Parameters
    ----------
    results : mapping, optional
        As :func:`~attn_core.experiments.what_attention_buys.load_results` returns (the
        default): ``runs`` maps a run name to a record with ``steps``, ``test_accuracy`` and
        ``by_distance`` (one list of accuracies by distance per evaluation), and
        ``config["task"]["n_values"]`` gives chance.
    reader : str, default "elman"
        The run shown first.
    step : int, optional
        The step shown first; default the last offered.
    steps : sequence of int
        The steps offered, kept where every run was evaluated (default :data:`EXPLORER_STEPS`).

    Returns
    -------
    Explorer
        Controls ``"reader"`` and ``"step"``; its ``state`` holds ``reader``, ``step``,
        ``by_distance``, ``final`` (the profile at the last step), ``test_accuracy`` and
        ``chance``.

    Raises
    ------
    TypeError, ValueError
        ``results`` without runs of that form, runs evaluated at different steps, no offered
        step among them, more than 100 pictures, an unknown starting reader or step.

    Examples
    --------
    >>> fake = {"config": {"task": {"n_values": 4}}, "runs": {
    ...     name: {"steps": [0, 10], "test_accuracy": [0.25, 0.6],
    ...            "by_distance": [[0.25, 0.25, 0.25], [0.9, 0.5, 0.4]]} for name in ("a", "b")}}
    >>> ex = learning_explorer(fake, reader="a", steps=(0, 10))
    >>> ex.frame_count(), ex.state["step"], ex.state["by_distance"].tolist()
    (4, 10, [0.9, 0.5, 0.4])
    """
    if results is None:
        from attn_core.experiments.what_attention_buys import load_results

        results = load_results()
    runs, chance = _check_results(results)
    names = list(runs)
    recorded = list(runs[names[0]]["steps"])
    for name in names:
        if list(runs[name]["steps"]) != recorded:
            raise ValueError(f"every run must be evaluated at the same steps: {names[0]} has {recorded}, "
                             f"{name} has {list(runs[name]['steps'])}")
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise TypeError(f"steps must be a sequence of whole numbers, got {steps!r:.40}")
    offered = [int(s) for s in steps if isinstance(s, numbers.Integral) and s in recorded]
    if not offered:
        raise ValueError(f"none of steps {list(steps)} is among the evaluated steps {recorded}")
    if len(offered) * len(names) > 100:
        raise ValueError(f"{len(offered)} steps x {len(names)} readers is more than 100 pictures")
    if not isinstance(reader, str) or reader not in names:
        raise ValueError(f"reader={reader!r} is not one of the runs {names}")
    step = offered[-1] if step is None else step
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) or step not in offered:
        raise ValueError(f"step={step!r} is not one of the offered steps {offered}")

    def compute(reader: str, step: int) -> dict:
        run = runs[reader]
        i = recorded.index(step)
        return {
            "reader": reader,
            "step": step,
            "by_distance": np.asarray(run["by_distance"][i], dtype=float),
            "final": np.asarray(run["by_distance"][-1], dtype=float),
            "test_accuracy": float(run["test_accuracy"][i]),
            "chance": chance,
        }

    def draw(fig: Figure, state: dict) -> None:
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        n = len(state["by_distance"])
        pair_bars(ax, state["by_distance"], [str(d) for d in range(1, n + 1)], ylim=(0.0, 1.25),
                  xlabel="distance of the answer (1 = the last pair)", ylabel="test accuracy",
                  title=f"{state['reader']}, step {state['step']}: test accuracy {state['test_accuracy']:.2f}")
        ax.set_yticks(np.linspace(0.0, 1.0, 6))  # accuracy stops at 1; the space above holds the legend
        if not ax.get_lines():  # drawn once, then moved: chance and the end-of-training outline
            ax.axhline(state["chance"], color="black", linestyle=":", linewidth=1.0, label="chance")
            ax.step(range(n), state["final"], where="mid", color="black", linewidth=1.2,
                    label="end of training")
            ax.legend(fontsize=8, loc="upper right", ncol=2)  # above the bars: the axis reaches 1.25
        ax.get_lines()[1].set_ydata(state["final"])

    return Explorer(
        compute, draw,
        sliders={
            "reader": Slider("Reader", [(name, name) for name in names], value=reader),
            "step": Slider("Training step", [(str(s), s) for s in offered], value=step),
        },
        describe=describe_learning,
        title="Pick a reader, then move the training step: the bars are its test accuracy at each "
              "distance of the answer, the outline where it ends. Which distances does each reader "
              "learn first?",
        figsize=(6.4, 3.0),
    )


def _check_results(results: Mapping) -> tuple[dict, float]:
    if not isinstance(results, Mapping) or not isinstance(results.get("runs"), Mapping) or not results["runs"]:
        raise TypeError(f"results must be a mapping with non-empty 'runs' (see load_results), got {results!r:.60}")
    try:
        n_values = results["config"]["task"]["n_values"]
    except (KeyError, TypeError):
        raise TypeError("results must hold config['task']['n_values'] (see load_results)") from None
    runs = {}
    for name, run in results["runs"].items():
        if not isinstance(run, Mapping) or not {"steps", "test_accuracy", "by_distance"} <= set(run):
            raise TypeError(f"results['runs'][{name!r}] must hold steps, test_accuracy and by_distance")
        runs[str(name)] = run
    return runs, 1.0 / float(n_values)


def describe_learning(state: dict) -> str:
    """Alternative text for one picture of :func:`learning_explorer`: every number shown."""
    shown = ", ".join(f"{a:.2f}" for a in state["by_distance"])
    final = ", ".join(f"{a:.2f}" for a in state["final"])
    return (f"The {state['reader']} reader at training step {state['step']}, test accuracy "
            f"{state['test_accuracy']:.2f} (chance {state['chance']:.3f}). Accuracy by distance of the "
            f"answer, 1 (the last pair) first: {shown}. At the end of training: {final}.")
