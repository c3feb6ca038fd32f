"""Explorer of chapter 6, self- and cross-attention: an alignment learned, task by task, step by step.

The explorer shows what :func:`attn_core.experiments.self_cross.train_aligner` recorded: the
cross-attention map of one held-out sequence after a number of training steps, with the
correct alignment outlined, beside the held-out accuracy curves of the same run.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from attn_core.experiments.self_cross import SYMBOLS, AlignmentRun
from attn_core.plot.self_cross import alignment_map, training_curves
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["alignment_training_explorer"]


def _tokens(symbols: np.ndarray) -> list[str]:
    return [SYMBOLS[s] for s in symbols]


def alignment_training_explorer(
    runs: Mapping[str, AlignmentRun],
    *,
    probe: int = 0,
    task: str | None = None,
    step: int | None = None,
) -> Explorer:
    """The cross-attention map of a trained aligner, for each task and recorded training step.

    Controls:

    * **Task** (slider): one option per run, e.g. copy, reverse, swap pairs;
    * **Training step** (slider): the steps the runs recorded (0 = untrained).

    Parameters
    ----------
    runs : mapping of task name -> AlignmentRun
        Runs of :func:`attn_core.experiments.self_cross.train_aligner` that recorded the same steps.
    probe : int, default 0
        Which of the runs' probe sequences to show.
    task : str, optional
        The task shown at first; default the first run.
    step : int, optional
        The step shown at first; default the last recorded.

    Returns
    -------
    Explorer
        ``state`` holds ``task``, ``step``, ``weights`` (L_t, L_s), ``alignment`` (L_t,),
        ``source`` and ``target`` (lists of symbol names), ``read`` (the source position
        with the largest weight in each row), ``alignment_accuracy`` and
        ``token_accuracy`` (on the run's held-out set at that step).

    Raises
    ------
    TypeError, ValueError
        ``runs`` not a mapping of task name -> AlignmentRun, or empty; runs that recorded
        different steps or no snapshots; ``probe`` out of range; an unknown ``task`` or ``step``.

    Examples
    --------
    >>> from attn_core.experiments.self_cross import train_aligner
    >>> runs = {t: train_aligner(t, steps=10, record_at=(0, 10), length=4, n_symbols=6)
    ...         for t in ("copy", "reverse")}
    >>> ex = alignment_training_explorer(runs)
    >>> ex.frame_count(), ex.state["task"], ex.state["step"]
    (4, 'copy', 10)
    """
    if not isinstance(runs, Mapping) or not all(isinstance(run, AlignmentRun) for run in runs.values()):
        raise TypeError(f"runs must be a mapping of task name -> AlignmentRun, got {runs!r:.60}")
    runs = dict(runs)
    if not runs:
        raise ValueError("give at least one training run")
    first = next(iter(runs.values()))
    steps = list(first.steps)
    if not steps or any(list(r.steps) != steps for r in runs.values()):
        raise ValueError("every run must have recorded the same training steps: "
                         + "; ".join(f"{name} {list(r.steps)}" for name, r in runs.items()))
    n_probe = first.snapshots[0].shape[0]
    if isinstance(probe, bool) or not isinstance(probe, (int, np.integer)) or not 0 <= probe < n_probe:
        raise ValueError(f"probe must be a probe sequence index in 0..{n_probe - 1}, got {probe!r}")
    task = next(iter(runs)) if task is None else task
    if task not in runs:
        raise ValueError(f"task must be one of {list(runs)}, got {task!r}")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise ValueError(f"step must be one of the recorded steps {steps}, got {step!r}")

    def compute(task: str, step: int) -> dict:
        run = runs[task]
        i = run.steps.index(step)
        weights = run.snapshots[i][probe]  # (L_t, L_s)
        return {
            "task": task, "step": step, "weights": weights,
            "alignment": run.probe["alignment"][probe],  # (L_t,): this example's
            "source": _tokens(run.probe["source"][probe]),
            "target": _tokens(run.probe["target"][probe]),
            "read": np.argmax(weights, axis=1),
            "alignment_accuracy": run.alignment_accuracy[i],
            "token_accuracy": run.token_accuracy[i],
            "curves": {"alignment": run.alignment_accuracy, "symbol": run.token_accuracy},
            "n_test": len(run.test["source"]),
        }

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            grid = fig.add_gridspec(1, 2, width_ratios=[1.15, 1.0])
            fig.add_subplot(grid[0])
            fig.add_subplot(grid[1])
        ax_map, ax_curve = fig.axes
        alignment_map(ax_map, state["weights"], source_tokens=state["source"],
                      target_tokens=state["target"], alignment=state["alignment"], fmt="{:.1f}",
                      title=f"{state['task']}, step {state['step']}")
        training_curves(ax_curve, steps, state["curves"], current_step=state["step"],
                        title="held-out accuracy")

    def describe(state: dict) -> str:
        rows = "; ".join(
            f"{tok} reads {state['source'][j]} (position {j + 1}) with {state['weights'][t, j]:.2f}"
            + ("" if j == state["alignment"][t] else f", should read position {state['alignment'][t] + 1}")
            for t, (tok, j) in enumerate(zip(state["target"], state["read"])))
        return (f"Cross-attention map of the {state['task']} model after {state['step']} training steps, "
                f"for the source '{' '.join(state['source'])}' and the target "
                f"'{' '.join(state['target'])}': target symbols on the rows, source symbols on the "
                f"columns, the correct cells outlined. Largest weight of each row: {rows}. On "
                f"{state['n_test']} held-out sequences at this step, alignment accuracy "
                f"{state['alignment_accuracy']:.2f} and symbol accuracy {state['token_accuracy']:.2f}.")

    return Explorer(
        compute, draw,
        sliders={
            "task": Slider("Task", [(name, name) for name in runs], value=task),
            "step": Slider("Training step", [(str(s), s) for s in steps], value=step),
        },
        describe=describe,
        title=("Pick a task, then move the training step from 0 (untrained) upwards: the outlined "
               "cells are the correct alignment, and the weights gather on them."),
        figsize=(6.4, 3.0),
    )
