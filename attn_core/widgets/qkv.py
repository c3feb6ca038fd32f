"""Explorer of the chapter on queries, keys and values: the kernel width of attention pooling.

Nadaraya–Watson regression is attention pooling with the training inputs as keys and the
training outputs as values. Its one knob, the kernel width, moves it from a hard lookup of
the nearest point (narrow kernel) to the average of every point (wide kernel).
"""

from __future__ import annotations

import numpy as np

from attn_core._checks import nonnegative_int, positive_int, positive_number
from attn_core.experiments.qkv import kernel_regression_fit, regression_data, regression_target
from attn_core.plot.qkv import kernel_weights_heatmap, regression_panel
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["BANDWIDTHS", "kernel_width_explorer"]

#: The kernel widths the explorer offers, roughly evenly spaced on a log scale.
BANDWIDTHS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)

_KERNEL_NAMES = {"gaussian": "Gaussian", "boxcar": "boxcar"}


def kernel_width_explorer(
    *,
    n_train: int = 40,
    n_heldout: int = 200,
    n_queries: int = 51,
    seed: int = 1,
    bandwidth: float = 0.2,
) -> Explorer:
    """Move the kernel width and the kernel; watch the weights and the prediction change.

    The training data are ``regression_data(n_train, seed=seed)``; the held-out points,
    on which the error is measured, ``regression_data(n_heldout, seed=seed + 1)``.
    The queries are ``n_queries`` evenly spaced points of [0, 5].

    Parameters
    ----------
    n_train, n_heldout, n_queries : int
    seed : int
    bandwidth : float
        The starting kernel width, one of :data:`BANDWIDTHS`.

    Returns
    -------
    Explorer
        Controls ``"bandwidth"`` (the kernel width) and ``"kernel"`` (``"gaussian"`` or
        ``"boxcar"``). Its ``state`` holds ``bandwidth``, ``kernel``, ``x_train``,
        ``y_train``, ``x_query``, ``weights`` (n_queries, n_train), ``prediction``,
        ``true_curve``, ``heldout_error`` (mean squared error on the held-out points),
        ``effective_points`` (mean over queries of exp(entropy) of a row of weights,
        counting only rows with some weight), ``empty_queries`` (queries with no training
        point in their window) and ``largest_weight``.

    Raises
    ------
    TypeError, ValueError
        ``n_train``, ``n_heldout`` or ``n_queries`` not a whole number >= 1; ``seed`` not a
        whole number >= 0; ``bandwidth`` not one of :data:`BANDWIDTHS`.

    Examples
    --------
    >>> explorer = kernel_width_explorer()
    >>> explorer.frame_count()
    22
    >>> explorer.controls["bandwidth"].value = 10.0
    >>> round(explorer.state["effective_points"], 1)     # about all 40 points
    40.0
    """
    n_train = positive_int(n_train, "n_train")
    n_heldout = positive_int(n_heldout, "n_heldout")
    n_queries = positive_int(n_queries, "n_queries")
    seed = nonnegative_int(seed, "seed")
    if positive_number(bandwidth, "bandwidth") not in BANDWIDTHS:
        raise ValueError(f"bandwidth must be one of {BANDWIDTHS}, got {bandwidth}")
    x_train, y_train = regression_data(n_train, seed=seed)
    x_heldout, y_heldout = regression_data(n_heldout, seed=seed + 1)
    x_query = np.linspace(0.0, 5.0, n_queries)
    true_curve = regression_target(x_query)
    ylim = (min(y_train.min(), true_curve.min()) - 0.9, max(y_train.max(), true_curve.max()) + 0.4)

    def compute(bandwidth: float, kernel: str) -> dict:
        fit = kernel_regression_fit(x_query, x_train, y_train, x_heldout, y_heldout,
                                    bandwidth=bandwidth, kernel=kernel)
        return {"bandwidth": bandwidth, "kernel": kernel, "x_train": x_train, "y_train": y_train,
                "x_query": x_query, "true_curve": true_curve, **fit}

    def draw(fig, state: dict) -> None:
        first = not fig.axes
        if first:
            grid = fig.add_gridspec(1, 3, width_ratios=[1, 0.05, 1.25])
            left, bar, right = (fig.add_subplot(grid[0, i]) for i in range(3))
        else:
            left, bar, right = fig.axes[:3]
        kernel_weights_heatmap(left, state["weights"], state["x_query"], state["x_train"],
                               n_ticks=(6, 5), title=f"Weights (largest {state['largest_weight']:.2f})")
        if first:
            fig.colorbar(left.images[0], cax=bar)
        regression_panel(right, state["x_train"], state["y_train"], state["x_query"],
                         state["prediction"], true_curve=state["true_curve"], ylim=ylim,
                         title=f"Held-out error {state['heldout_error']:.3f}")

    def describe(state: dict) -> str:
        kernel = _KERNEL_NAMES[state["kernel"]]
        empty = state["empty_queries"]
        gaps = (f" {empty} of the {n_queries} queries have no training point within the "
                "window: their rows are all zero and they predict 0." if empty else "")
        return (
            f"Kernel width sigma = {state['bandwidth']:g}, {kernel} kernel. Left: the weights of "
            f"{n_queries} queries (rows, x from 0 to 5) over {n_train} training points "
            f"(columns, sorted by x); a query spreads its weight over about "
            f"{state['effective_points']:.1f} points, the largest weight is "
            f"{state['largest_weight']:.2f}.{gaps} Right: the training points, the true curve "
            f"and the prediction; mean squared error on {n_heldout} held-out points "
            f"{state['heldout_error']:.3f}."
        )

    return Explorer(
        compute, draw,
        sliders={
            "bandwidth": Slider("Kernel width σ", [(f"{s:g}", s) for s in BANDWIDTHS], value=bandwidth),
            "kernel": Slider("Kernel", [("Gaussian", "gaussian"), ("boxcar", "boxcar")]),
        },
        describe=describe,
        title=("Narrow the kernel until each query copies its nearest point, widen it until "
               "every query gets the average; switch to the boxcar and look for empty rows."),
        figsize=(6.4, 3.0),
    )
