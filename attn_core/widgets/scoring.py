"""Explorer of chapter 3 (scoring functions): turn a 2-D query and watch six score functions.

Four fixed 2-D keys of different lengths; the reader turns the query's direction and
changes its length. Left, the keys and the query as arrows; right, the weights
(softmax of each row of scores) that each of the six score functions gives the keys.
Dot-product weights change with the query's length, cosine weights do not; location
weights ignore the keys altogether.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, number_in_range
from attn_core.experiments.scoring import (
    _query_from_polar,
    example_keys,
    example_parameters,
    weights_by_score_function,
)
from attn_core.plot import attention_heatmap
from attn_core.plot.scoring import vector_arrows
from attn_core.scores import SCORE_FUNCTIONS
from attn_core.widgets.explorer import Explorer, Slider

__all__ = [
    "ANGLES",
    "LENGTHS",
    "query_direction_explorer",
]

#: The query directions on the slider, every 30 degrees.
ANGLES = tuple(float(a) for a in range(0, 360, 30))
#: The query lengths on the slider.
LENGTHS = (0.5, 1.0, 2.0)


def _describe(state: dict) -> str:
    keys = "; ".join(
        f"{label} of length {np.hypot(*key):.2g} at {np.degrees(np.arctan2(key[1], key[0])) % 360:.0f} degrees"
        for label, key in zip(state["key_labels"], state["keys"])
    )
    rows = "; ".join(
        f"{name}: " + ", ".join(f"{label} {w:.2f}" for label, w in zip(state["key_labels"], row))
        for name, row in zip(SCORE_FUNCTIONS, state["weights"])
    )
    return (
        f"Left: the query, of length {state['length']:g} at {state['angle']:g} degrees, and "
        f"the keys ({keys}), drawn as arrows from the origin. Right: a table of the weights "
        f"each score function gives the keys, one row per function: {rows}."
    )


def query_direction_explorer(
    *,
    keys: ArrayLike | None = None,
    params: Mapping[str, ArrayLike] | None = None,
    key_labels: Sequence[str] | None = None,
    angles: Sequence[float] = ANGLES,
    lengths: Sequence[float] = LENGTHS,
    angle: float = 60.0,
    length: float = 1.0,
) -> Explorer:
    r"""Turn a 2-D query round fixed keys and compare the weights of six score functions.

    For the query :math:`q` of the chosen direction and length, each score function of
    :func:`attn_core.scores.all_scores` scores every key and a softmax turns each row of
    scores into weights.

    Parameters
    ----------
    keys : array_like, shape (n_k, 2), optional
        Default :func:`attn_core.experiments.scoring.example_keys`.
    params : mapping, optional
        The keyword arguments of :func:`attn_core.scores.all_scores` after ``q`` and ``k``;
        default :func:`attn_core.experiments.scoring.example_parameters` (which expects four keys).
    key_labels : sequence of str, optional
        Default ``k₁, k₂, ...``.
    angles : sequence of float
        Query directions on the slider, in degrees.
    lengths : sequence of float
        Query lengths on the slider (each > 0).
    angle, length : float
        The starting direction and length, among ``angles`` and ``lengths``.

    Returns
    -------
    Explorer
        Controls ``"angle"`` and ``"length"``. Its ``state`` holds ``angle``, ``length``,
        ``query`` (2,), ``keys`` (n_k, 2), ``key_labels``, ``scores`` (a dict of one row of
        n_k scores per score function), ``weights`` (6, n_k; rows in the order of
        :data:`attn_core.scores.SCORE_FUNCTIONS`) and ``favourite`` (the label of the key
        each function weights most).

    Raises
    ------
    TypeError, ValueError
        Keys that are not 2-D vectors of finite numbers; ``angle`` or ``length`` not a real
        number, or not on its slider.

    Examples
    --------
    >>> explorer = query_direction_explorer()
    >>> explorer.frame_count()
    36
    >>> explorer.state["favourite"]["dot"], explorer.state["favourite"]["cosine"]
    ('k₁', 'k₂')
    """
    k = example_keys() if keys is None else as_float_array(keys, "keys", nonempty=True, finite=True)  # (n_k, 2)
    if k.ndim != 2 or k.shape[1] != 2:
        raise ValueError(f"keys must be 2-D vectors, shape (n_k, 2), got {k.shape}")
    parameters = dict(example_parameters() if params is None else params)
    labels = [f"k{chr(0x2080 + j + 1)}" if j < 9 else f"k{j + 1}" for j in range(len(k))] \
        if key_labels is None else [str(label) for label in key_labels]
    angles = [float(a) for a in angles]
    lengths = [float(r) for r in lengths]
    angle = number_in_range(angle, "angle", -np.inf, np.inf, low_open=True, high_open=True)
    length = number_in_range(length, "length", 0.0, np.inf, high_open=True)
    if angle not in angles or length not in lengths:
        raise ValueError(f"angle must be one of {angles} and length one of {lengths}, "
                         f"got {angle} and {length}")
    longest = max(float(np.max(np.hypot(k[:, 0], k[:, 1]))), max(lengths))
    limit = 1.2 * longest

    def compute(angle: float, length: float) -> dict:
        query = _query_from_polar(angle, length)  # (2,)
        result = weights_by_score_function(query, k, **parameters)
        weights = result["weights"]  # (6, n_k)
        return {
            "angle": float(angle),
            "length": float(length),
            "query": query,
            "keys": k,
            "key_labels": labels,
            "scores": result["scores"],
            "weights": weights,
            "favourite": {name: labels[int(np.argmax(row))] for name, row in zip(SCORE_FUNCTIONS, weights)},
        }

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            grid = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.25])
            fig.add_subplot(grid[0, 0])
            fig.add_subplot(grid[0, 1])
        left, right = fig.axes[:2]
        vector_arrows(left, state["keys"], labels, queries=state["query"][None, :],
                      query_labels=["query"], limit=limit,
                      title=f"query: {state['angle']:g}°, length {state['length']:g}")
        attention_heatmap(right, state["weights"], row_labels=SCORE_FUNCTIONS, col_labels=labels,
                          xlabel="key", ylabel="score function", title="weights (each row sums to 1)")
        for tick in right.get_xticklabels():  # short labels: no need to slant them
            tick.set_rotation(0)
            tick.set_horizontalalignment("center")

    explorer = Explorer(
        compute,
        draw,
        sliders={
            "angle": Slider("Query direction (degrees)", [(f"{a:g}", a) for a in angles], value=float(angle)),
            "length": Slider("Query length", [(f"{r:g}", r) for r in lengths], value=float(length)),
        },
        describe=_describe,
        title=("Turn the query round the keys, then change its length: which rows of weights "
               "change with the length, and which row ignores the keys?"),
        figsize=(6.4, 3.2),
        play=True,
    )
    return explorer
