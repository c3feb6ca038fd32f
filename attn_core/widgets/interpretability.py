"""The explorer of chapter 13 (interpretability): the rows that give one output, and which a head can make.

* :func:`same_output_explorer`: the six keys of
  :func:`attn_core.experiments.interpretability.six_keys_example`. Walk from the head's own
  row of weights towards any corner of the polytope of rows with the same output: the output
  never moves, but the closest row that a query of this head can produce (its keys fixed)
  moves away, and so does that row's output.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from attn_core._checks import number_in_range
from attn_core.experiments.interpretability import (
    closest_reachable,
    same_output_corners,
    six_keys_example,
    total_variation,
)
from attn_core.plot.interpretability import grouped_bars, value_plane
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["FRACTION_OPTIONS", "corner_names", "same_output_explorer"]

#: The "Fraction of the way" slider: 0 (the head's row) to 0.8 of the way to a corner. At the
#: corner itself some weights are 0, which no finite score produces.
FRACTION_OPTIONS = (("0", 0.0), ("0.2", 0.2), ("0.4", 0.4), ("0.6", 0.6), ("0.8", 0.8))


def corner_names(corners: np.ndarray, names: np.ndarray) -> list[str]:
    """A label per corner: the keys that hold its weight, e.g. ``"B, D, F"``.

    Examples
    --------
    >>> corner_names(np.array([[0.5, 0.0, 0.5]]), np.array(["A", "B", "C"]))
    ['A, C']
    """
    return [", ".join(str(names[j]) for j in np.flatnonzero(c > 1e-12)) for c in np.asarray(corners)]


def same_output_explorer(*, corner: int | None = None, fraction: float = 0.6) -> Explorer:
    """Walk through the rows of weights that give the six keys' output; see which a query can make.

    Controls:

    * **Towards corner** (slider): one of the corners of the polytope of rows with the same
      output (each uses at most three keys), labelled by its keys;
    * **Fraction of the way** (slider): 0 (the head's own row ``a``) to 0.8.

    The row shown is ``a + fraction * (corner - a)``; its output is always ``a V`` (the
    filled star). The hollow star is the output of the closest row that some query of this
    head produces with its keys fixed (:func:`~attn_core.experiments.interpretability.closest_reachable`).

    Parameters
    ----------
    corner : int, optional
        The starting corner (an index into the corners); default the farthest from ``a``.
    fraction : float, default 0.6
        The starting fraction, one of :data:`FRACTION_OPTIONS`.

    Returns
    -------
    Explorer
        ``state`` holds ``corner``, ``corner_name``, ``fraction``, ``row``, ``output``,
        ``total_variation`` (from ``a``), ``residual`` (0 = a query makes this row),
        ``closest`` (the closest reachable row), ``closest_output`` and ``output_gap`` (how
        far its output lies from ``a V``).

    Raises
    ------
    ValueError
        ``corner`` not an index of a corner; ``fraction`` not one of the slider's values.

    Examples
    --------
    >>> ex = same_output_explorer()
    >>> ex.frame_count(), ex.state["corner_name"], ex.state["fraction"]
    (40, 'B, D, F', 0.6)
    >>> round(ex.state["total_variation"], 3), round(ex.state["residual"], 2)
    (0.419, 1.85)
    """
    example = six_keys_example()
    a, v, keys, names = example["weights"], example["values"], example["keys"], example["names"]
    corners = same_output_corners(a, v)  # (n_corners, 6)
    labels = corner_names(corners, names)
    distances = [total_variation(a, c) for c in corners]
    if corner is None:
        corner = int(np.argmax(distances))
    elif isinstance(corner, (bool, np.bool_)) or not isinstance(corner, (int, np.integer)) \
            or not 0 <= corner < len(corners):
        raise ValueError(f"corner must be an index 0..{len(corners) - 1} of a corner, got {corner!r}")
    fraction = number_in_range(fraction, "fraction", 0.0, 0.8)
    fractions = [f for _, f in FRACTION_OPTIONS]
    if fraction not in fractions:
        raise ValueError(f"fraction must be one of {fractions}, got {fraction!r}")
    output = a @ v  # (2,)

    def compute(corner: int, fraction: float) -> dict:
        row = a + fraction * (corners[corner] - a)  # (6,): a mixture of two rows with output a V
        reached = closest_reachable(row / row.sum(), keys)
        return {"corner": corner, "corner_name": labels[corner], "fraction": fraction, "row": row,
                "output": row @ v, "total_variation": total_variation(a, row),
                "residual": reached["residual"], "closest": reached["weights"],
                "closest_output": reached["weights"] @ v,
                "output_gap": float(np.linalg.norm(reached["weights"] @ v - output))}

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            grid = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.15], left=0.09, right=0.98, bottom=0.14,
                                    top=0.86, wspace=0.3)
            fig.add_subplot(grid[0, 0])
            fig.add_subplot(grid[0, 1])
        plane, bars = fig.axes
        value_plane(plane, v, state["row"], [str(n) for n in names], output=state["output"],
                    moved_output=state["closest_output"], moved_label="closest row a query makes",
                    limits=((-2.2, 2.9), (-3.0, 2.6)),
                    title=f"output ({state['output'][0]:.2f}, {state['output'][1]:.2f}) at every step")
        plane.title.set_fontsize(8.5)
        plane.xaxis.label.set_fontsize(8)
        plane.yaxis.label.set_fontsize(8)
        grouped_bars(bars, {"head's row a": a, "this row": state["row"],
                            "closest a query makes": state["closest"]},
                     [str(n) for n in names], ylim=(0.0, 0.85), annotate=False, ylabel="weight",
                     legend="upper right",
                     title=(f"towards {{{state['corner_name']}}}, {state['fraction']:.1f} of the way\n"
                            f"TV from a {state['total_variation']:.2f}, score residual {state['residual']:.2f}"))
        bars.title.set_fontsize(8.5)

    def describe(state: dict) -> str:
        row, closest = state["row"], state["closest"]
        return ("Six values A to F in the plane. The row of weights "
                + ", ".join(f"{n} {w:.2f}" for n, w in zip(names, row))
                + f", {state['fraction']:.1f} of the way from the head's row towards the corner on keys "
                f"{state['corner_name']}, at total variation {state['total_variation']:.2f} from it, has the "
                f"output ({state['output'][0]:.2f}, {state['output'][1]:.2f}), the same as the head's row. "
                f"No query of this head makes it unless the score residual is 0; it is "
                f"{state['residual']:.2f}. The closest row a query makes is "
                + ", ".join(f"{n} {w:.2f}" for n, w in zip(names, closest))
                + f", whose output lies {state['output_gap']:.2f} away.")

    return Explorer(
        compute, draw,
        sliders={
            "corner": Slider("Towards corner", [(f"{{{name}}}", i) for i, name in enumerate(labels)], value=corner),
            "fraction": Slider("Fraction of the way", list(FRACTION_OPTIONS), value=fraction),
        },
        describe=describe,
        title=("Move towards any corner: the output (filled star) never moves, but the closest row "
               "that a query of this head can make (hollow star) drifts away from it."),
        figsize=(6.6, 3.4),
    )
