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


# ------------------------------------------------------------------ tiles a structured mask skips
from attn_core.experiments.efficiency import (  # noqa: E402
    A100, TILE_SKIPPED, allowed_pairs, hbm_bytes, tile_schedule)
from attn_core.plot.efficiency import tile_grid  # noqa: E402

__all__ += ["block_sparse_explorer", "SPARSE_MASKS"]

#: The masks of :func:`block_sparse_explorer`, all causal: label -> (window, document length), one of them None.
SPARSE_MASKS = {"window 64": (64, None), "window 256": (256, None), "window 1024": (1024, None),
                "documents of 256": (None, 256), "documents of 1024": (None, 1024),
                "documents of 2048": (None, 2048)}


def _sparse_state(n: int, d: int, block_size: int, mask: str) -> dict:
    """Tiles, wasted cells and HBM bytes of one causal mask in blocks of ``block_size``."""
    window, document_length = SPARSE_MASKS[mask]
    structure = ({"window": window} if window is not None
                 else {"document_ids": np.arange(n) // document_length})  # the last document maybe shorter
    kinds = tile_schedule(n, n, block_size=block_size, causal=True, **structure)
    allowed = allowed_pairs(n, n, causal=True, **structure)
    rows = np.minimum(np.arange(0, n, block_size) + block_size, n) - np.arange(0, n, block_size)  # (blocks,)
    cells = int(((kinds != TILE_SKIPPED) * np.outer(rows, rows)).sum())  # every cell of every computed tile
    sram = A100.sram_bytes  # the block size is given, so the SRAM size does not enter the count
    traffic = hbm_bytes(n, d, sram, "tiled", block_size=block_size, causal=True, **structure)
    return {"mask": mask, "n": n, "block_size": block_size, "kinds": kinds,
            "computed": int((kinds != TILE_SKIPPED).sum()), "tiles": int(kinds.size),
            "computed_cells": cells, "allowed_pairs": allowed, "wasted_cells": cells - allowed,
            "hbm_bytes": traffic,
            "causal_hbm_bytes": hbm_bytes(n, d, sram, "tiled", block_size=block_size, causal=True),
            "standard_hbm_bytes": hbm_bytes(n, d, sram, "standard")}


def _describe_sparse(state: dict) -> str:
    return (f"causal, {state['mask']}, n = {state['n']} in blocks of {state['block_size']}: grid of tiles, "
            f"{state['computed']} of {state['tiles']} computed, {state['wasted_cells'] / state['computed_cells']:.0%} "
            f"of their cells masked; HBM traffic {state['hbm_bytes'] / 2**20:.1f} MiB, against "
            f"{state['causal_hbm_bytes'] / 2**20:.1f} MiB for tiled causal attention and "
            f"{state['standard_hbm_bytes'] / 2**20:.0f} MiB for standard attention.")


def block_sparse_explorer(
    n: int = 4096, d: int = 64, *, mask: str = "window 256", block_size: int = 256,
    block_sizes: tuple[int, ...] = (128, 256, 512),
) -> Explorer:
    """Which tiles a sliding window or packed documents let a tiled kernel skip, as the block size moves.

    For one head of ``n`` tokens under a causal mask, the picture is the grid of tiles
    (:func:`~attn_core.experiments.efficiency.tile_schedule`): skipped, computed with a mask,
    computed whole. Its title counts the tiles computed, the share of their cells that the mask
    hides (computed, then thrown away), and the bytes the forward pass moves to and from HBM
    (:func:`~attn_core.experiments.efficiency.hbm_bytes`, bfloat16), against tiled causal
    attention and standard attention. Smaller blocks follow a window more tightly (fewer
    wasted cells) but re-read the keys and values more often (more bytes).

    Controls:

    * **Mask** (slider, six positions): a causal sliding window of 64, 256 or 1024 keys, or
      causal packed documents of 256, 1024 or 2048 tokens (:data:`SPARSE_MASKS`);
    * **Block size** (slider): rows of queries and of keys per tile.

    Parameters
    ----------
    n, d : int, default 4096, 64
        Sequence length and head width.
    mask : str, default "window 256"
        The starting mask, a key of :data:`SPARSE_MASKS`.
    block_size : int, default 256
        The starting block size, one of ``block_sizes``.
    block_sizes : tuple of int, default (128, 256, 512)
        The block sizes the second slider offers.

    Returns
    -------
    Explorer
        ``state`` holds ``mask``, ``n``, ``block_size``, ``kinds`` (the grid), ``computed``
        and ``tiles`` (tiles computed, tiles in all), ``computed_cells``, ``allowed_pairs`` and
        ``wasted_cells`` (their difference), ``hbm_bytes``, ``causal_hbm_bytes`` and
        ``standard_hbm_bytes``.

    Raises
    ------
    TypeError, ValueError
        Sizes that are not whole numbers >= 1, more than 32 blocks a side, an unknown
        ``mask``, a ``block_size`` not among ``block_sizes``.

    Examples
    --------
    >>> ex = block_sparse_explorer()
    >>> ex.frame_count(), ex.state["computed"], ex.state["tiles"]
    (18, 31, 256)
    >>> ex.controls["block_size"].value = 128
    >>> ex.state["computed"], ex.state["tiles"]
    (93, 1024)
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    mask = choice(mask, SPARSE_MASKS, "mask")
    if not isinstance(block_sizes, (tuple, list)) or not block_sizes:
        raise TypeError(f"block_sizes must be a non-empty tuple of whole numbers, got {block_sizes!r:.40}")
    block_sizes = tuple(positive_int(value, "block_sizes") for value in block_sizes)
    block_size = choice(block_size, block_sizes, "block_size")
    if -(-n // min(block_sizes)) > 32:
        raise ValueError(f"n={n} in blocks of {min(block_sizes)} is more than 32 blocks a side: too many tiles to draw")

    def compute(mask: str, block_size: int) -> dict:
        return _sparse_state(n, d, block_size, mask)

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            fig.add_subplot()
        tile_grid(fig.axes[0], state["kinds"], block_size=state["block_size"],
                  title=(f"causal, {state['mask']}, blocks of {state['block_size']}\n{state['computed']} of "
                         f"{state['tiles']} tiles, {state['wasted_cells'] / state['computed_cells']:.0%} of their "
                         f"cells masked\nHBM {state['hbm_bytes'] / 2**20:.1f} MiB (tiled causal "
                         f"{state['causal_hbm_bytes'] / 2**20:.1f}, standard {state['standard_hbm_bytes'] / 2**20:.0f})"))
        fig.axes[0].title.set_fontsize(8.5)

    return Explorer(
        compute, draw,
        sliders={"mask": Slider("Mask", [(name, name) for name in SPARSE_MASKS], value=mask),
                 "block_size": Slider("Block size", [(str(value), value) for value in block_sizes],
                                      value=block_size)},
        describe=_describe_sparse,
        title=("Move the mask and the block size: a tiled kernel computes only the tiles the mask does not hide "
               "whole (coloured) and reads only their key and value blocks from HBM; smaller tiles waste fewer "
               "masked cells but re-read the keys and values more often."),
        figsize=(5.6, 3.6),
    )
