"""Explorer of chapter 11 (efficiency): the online softmax, one key block at a time.

One query reads its keys block by block, as in :func:`attn_core.tiled_attention`. After
each block the picture shows which blocks have been read, the running maximum ``m``, the
normaliser ``l``, the factor by which the earlier sums were rescaled, and the running
output next to the final one (they meet at the last block). A second setting keeps the sums
with no shift at all, in float16: the block that holds the outlier score overflows, and the
output turns into NaN from that block on, in whatever order the blocks are read.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

import attn_core as ac
from attn_core._checks import choice, index_in, positive_int
from attn_core.experiments.efficiency import (
    READING_ORDERS,
    SHIFTS,
    online_softmax_state,
    online_softmax_walk,
    stepper_inputs,
)
from attn_core.plot.efficiency import output_comparison, score_blocks
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["tile_stepper_explorer"]


def _reading(order: str, shift: str) -> str:
    """The label of one position of the explorer's second slider (short: the slider's readout shows
    about twenty characters): the order alone with the running maximum, ", f16" without a shift."""
    return order if shift == "running max" else f"{order}, f16"


#: The second slider's positions: label -> (reading order, shift).
READINGS = {_reading(order, shift): (order, shift) for shift in SHIFTS for order in READING_ORDERS}

def _describe(state: dict) -> str:
    start, end = state["keys"]
    running = ", ".join(f"{x:.2f}" for x in state["output"])
    final = ", ".join(f"{x:.2f}" for x in state["final_output"])
    previous = ("no earlier block" if state["block"] == 0
                else f"the previous maximum was {state['previous_max']:.2f}")
    if state["shift"] == "running max":
        kept = (f"running maximum m = {state['running_max']:.2f} ({previous}; earlier sums rescaled by "
                f"{'nothing' if state['block'] == 0 else format(state['rescale'], '.4f')}); normaliser "
                f"l = {state['normaliser']:.2f}")
    else:
        kept = f"no shift, float16: normaliser l = sum of exp(score) = {state['normaliser']:.2f}"
    return (f"Query {state['query'] + 1}, reading the blocks {state['order']}, after reading key block "
            f"{state['block'] + 1} of {state['n_blocks']} (keys {start + 1} to {end}): bar chart of its "
            f"{state['n_k']} scores, blocks read in colour, the rest grey; {kept}. Running output {running}; "
            f"final output {final}; largest difference {state['gap']:.2f}.")


def tile_stepper_explorer(
    q: ArrayLike | None = None,
    k: ArrayLike | None = None,
    v: ArrayLike | None = None,
    *,
    block_size: int = 4,
    query: int = 0,
    block: int = 0,
    order: str = "in order",
    shift: str = "running max",
) -> Explorer:
    r"""Step one query through its key blocks and watch the online softmax's running numbers.

    For the chosen query :math:`i` with scores :math:`s_{ij} = q_i \cdot k_j / \sqrt{d_k}`,
    after key block :math:`b` the picture shows the running maximum
    :math:`m`, the normaliser :math:`l = \sum_j e^{s_{ij} - m}` over the keys read, the
    rescale factor :math:`e^{m_\text{old} - m}` and the running output
    :math:`\sum_j e^{s_{ij} - m} v_j / l` beside the final output, row :math:`i` of
    :func:`attn_core.scaled_dot_product_attention`.

    Controls:

    * **Key blocks read** (slider): how many blocks the query has read, one option per block;
    * **Reading order, shift** (slider, six positions): the blocks left to right, right to left, or by their
      largest score, highest first (:data:`~attn_core.experiments.efficiency.READING_ORDERS`).
      The path differs (the running maximum, the rescale factors, the running output); the
      last output does not. And the online softmax with its running maximum (float64), or sums of
      :math:`e^{s_{ij}}` with no shift in float16 (:data:`~attn_core.experiments.efficiency.SHIFTS`).
      The default inputs hold one outlier score, 12, for the first query (key 15, block 4):
      :math:`e^{12}` is above float16's largest number, 65,504, so without the shift the sums
      become ``inf`` and the output NaN as soon as that block is read; with the running maximum the
      earlier sums are only rescaled by :math:`e^{m - m'}`.

    Parameters
    ----------
    q, k, v : array_like, shapes (n_q, d_k), (n_k, d_k), (n_k, d_v), optional
        Default :func:`~attn_core.experiments.efficiency.stepper_inputs` (3 queries, 24 keys, d_k = 8, d_v = 3,
        one outlier score of 12). At most 8 queries and 2 to 12 blocks.
    block_size : int, default 4
    query : int, default 0
        Which query row to follow (0-based).
    block : int, default 0
        The starting number of blocks read, minus one.
    order : str, default "in order"
        The starting reading order, one of ``READING_ORDERS``.
    shift : str, default "running max"
        The starting way of keeping the sums, one of ``SHIFTS``.

    Returns
    -------
    Explorer
        ``state`` holds ``query``, ``block`` (0-based: blocks read before this one),
        ``n_blocks``, ``n_k``, ``keys`` (the [start, end) of the block just read), ``read``
        (the blocks read so far), ``order``, ``shift``, ``scores`` (n_k,), ``running_max``, ``previous_max``,
        ``normaliser``, ``rescale``, ``output`` and ``final_output`` (d_v,) and ``gap``
        (their largest absolute difference).

    Raises
    ------
    TypeError, ValueError
        Inputs of the wrong shapes, too many pictures, a ``block_size`` that is not a whole
        number >= 1, or a starting ``query`` or ``block`` that is not an index in range.

    Examples
    --------
    >>> ex = tile_stepper_explorer()
    >>> ex.frame_count(), ex.state["n_blocks"], ex.state["keys"]
    (36, 6, (0, 4))
    >>> ex.controls["block"].value = 5
    >>> round(ex.state["gap"], 12)
    0.0
    >>> ex.controls["reading"].value = "in order, f16"
    >>> ex.state["normaliser"], bool(np.isnan(ex.state["output"]).all())
    (inf, True)
    """
    if q is None and k is None and v is None:
        q, k, v = stepper_inputs()
    elif q is None or k is None or v is None:
        raise ValueError("give all three of q, k and v, or none of them")
    ac.scaled_dot_product_attention(q, k, v)  # checks the shapes
    q, k, v = (np.asarray(a, dtype=float) for a in (q, k, v))
    if q.ndim != 2 or k.ndim != 2 or v.ndim != 2:
        raise ValueError(f"the explorer takes one sequence: q {q.shape}, k {k.shape}, v {v.shape}")
    n_q, n_k = q.shape[0], k.shape[0]
    block_size = positive_int(block_size, "block_size")
    n_blocks = -(-n_k // block_size)
    if not 2 <= n_blocks <= 12 or n_q > 8:
        raise ValueError(f"{n_q} queries x {n_blocks} key blocks: keep 2 to 12 blocks and at most 8 queries")
    query = index_in(query, n_q, "query", "query")
    block = index_in(block, n_blocks, "block", "block")
    order = choice(order, READING_ORDERS, "order")
    shift = choice(shift, SHIFTS, "shift")
    walks = {(name, how): online_softmax_walk(q, k, v, block_size=block_size, order=name, shift=how)
             for name in READING_ORDERS for how in SHIFTS}
    scores, outputs_final = walks["in order", "running max"]["scores"], walks["in order", "running max"]["final_output"]
    low, high = min(0.0, scores.min()), max(0.0, scores.max())
    score_range = (low - 0.05 * (high - low), high + 0.35 * (high - low))  # room for the legend
    every_output = np.concatenate([[s.output for s in row] for walk in walks.values() for row in walk["steps"]]
                                  + [outputs_final])
    every_output = every_output[np.isfinite(every_output)]  # NaN after an overflow is drawn as a gap
    low, high = min(0.0, every_output.min()), max(0.0, every_output.max())
    output_range = (low - 0.05 * (high - low), high + 0.6 * (high - low))

    def compute(block: int, reading: str) -> dict:
        return online_softmax_state(walks[READINGS[reading]], query, block)

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            grid = fig.add_gridspec(1, 2, width_ratios=(1.9, 1))
            fig.add_subplot(grid[0, 0])
            fig.add_subplot(grid[0, 1])
        ax_scores, ax_out = fig.axes
        start, end = state["keys"]
        fig.suptitle(f"Query {state['query'] + 1}, {state['order']}: {state['block'] + 1} of {n_blocks} "
                     f"blocks read (last: keys {start + 1}\u2013{end})", fontsize=10)
        shifted = state["shift"] == "running max"
        walk = walks[state["order"], state["shift"]]
        score_blocks(ax_scores, state["scores"], block_size, state["block"] + 1, state["running_max"],
                     read_order=[step.block for step in walk["steps"][state["query"]]], show_max=shifted,
                     title=(f"m = {state['running_max']:.2f}, l = {state['normaliser']:.2f}" if shifted
                            else f"no shift, float16: l = {state['normaliser']:.5g}"), ylim=score_range)
        if not shifted:
            kept = "overflow: output NaN" if np.isnan(state["output"]).any() else "float16, no shift"
        else:
            kept = "first block" if state["block"] == 0 else f"rescale {state['rescale']:.4f}"
        output_comparison(ax_out, state["output"], state["final_output"], ylim=output_range,
                          title=f"{kept}, gap {state['gap']:.2f}")

    return Explorer(
        compute, draw,
        sliders={
            "block": Slider("Key blocks read", [(f"{b + 1} of {n_blocks}", b) for b in range(n_blocks)], value=block),
            "reading": Slider("Reading order, shift", [(name, name) for name in READINGS],
                              value=_reading(order, shift)),
        },
        describe=_describe,
        title=("Read the keys one block at a time: the dashed line is the running maximum m; when a "
               "block raises it, the earlier sums shrink by the rescale factor. The running output "
               "(solid bars) reaches the final output (hatched) at the last block, in any reading order. "
               "With no shift, in float16, the outlier score overflows and the output becomes NaN."),
        figsize=(6.4, 3.2),
        play=True,
    )
