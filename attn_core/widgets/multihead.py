"""Explorer of chapter 8, multi-head attention: what one decoding step reads from memory.

:func:`decode_bytes_explorer`: batch and context move, and the bytes of one decoding step of the
Llama 2 7B shape split between the weights and the key/value cache, for 32, 8 and 1 key/value
heads (:func:`attn_core.experiments.multihead.decode_step_bytes`).
"""

from __future__ import annotations

import numbers

import numpy as np
from matplotlib.figure import Figure

from attn_core.experiments.multihead import (
    LLAMA2_7B,
    cache_crossover_tokens,
    decode_step_bytes,
    decode_step_flops,
)
from attn_core.plot.multihead import decode_bytes_bars
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["BATCH_OPTIONS", "CONTEXT_OPTIONS", "KV_CHOICES", "BANDWIDTH", "decode_bytes_explorer"]

#: The "Batch" slider: sequences decoded together.
BATCH_OPTIONS = (1, 4, 16, 64)
#: The "Context" slider: tokens in each sequence's cache.
CONTEXT_OPTIONS = (1024, 4096, 16384, 65536)
#: The three bars: the Llama 2 7B shape with 32, 8 and 1 key/value heads.
KV_CHOICES = (("multi-head, 32 kv heads", 32), ("grouped, 8 kv heads", 8), ("multi-query, 1 kv head", 1))
#: Memory bandwidth for the time of a step: an NVIDIA A100 80GB (SXM), 2,039 GB/s.
BANDWIDTH = 2.039e12


def decode_bytes_explorer(*, batch: int = 1, context: int = 4096) -> Explorer:
    """The bytes one decoding step reads, weights and cache, as batch and context move.

    Three bars, the Llama 2 7B shape (:data:`~attn_core.experiments.multihead.LLAMA2_7B`, 16-bit
    numbers) with 32 key/value heads (as released), 8 and 1, all with the released parameter
    count (as if the parameters saved in ``W_K`` and ``W_V`` went into wider feed-forward
    layers, as in the attention ablation of Touvron et al., 2023): each bar is the weights (the
    same for all three, read once per step) and the key/value cache of every sequence
    (:func:`~attn_core.experiments.multihead.decode_step_bytes`), with the time to read them
    at :data:`BANDWIDTH`.

    Controls: **Batch** (sequences decoded together) and **Context** (tokens in each cache).
    The cache grows with batch x context; the weights do not.

    Parameters
    ----------
    batch : int, default 1
        The starting batch, one of :data:`BATCH_OPTIONS`.
    context : int, default 4096
        The starting context, one of :data:`CONTEXT_OPTIONS`.

    Returns
    -------
    Explorer
        ``state`` holds ``batch``, ``context``, ``labels``, ``weights`` and ``cache`` (bytes,
        one per bar), ``cache_share``, ``milliseconds``, ``flops_per_byte`` and ``crossover``
        (the batch x context at which each bar's cache equals the weights).

    Raises
    ------
    ValueError
        ``batch`` or ``context`` not one of the options.

    Examples
    --------
    >>> ex = decode_bytes_explorer()
    >>> ex.frame_count(), ex.state["cache_share"].round(2)
    (16, array([0.14, 0.04, 0.  ]))
    """
    for name, value, options in (("batch", batch, BATCH_OPTIONS), ("context", context, CONTEXT_OPTIONS)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value not in options:
            raise ValueError(f"{name} must be one of {', '.join(map(str, options))}, got {value!r}")
    shapes = [{**LLAMA2_7B, "n_kv_heads": kv} for _, kv in KV_CHOICES]
    labels = [label for label, _ in KV_CHOICES]

    def compute(batch: int, context: int) -> dict:
        steps = [decode_step_bytes(context, batch=batch, **shape) for shape in shapes]
        flops = [sum(decode_step_flops(context, batch=batch, **shape).values()) for shape in shapes]
        weights = np.array([step["weights"] for step in steps], dtype=float)
        cache = np.array([step["cache"] for step in steps], dtype=float)
        total = weights + cache
        return {"batch": batch, "context": context, "labels": labels, "weights": weights, "cache": cache,
                "cache_share": cache / total, "milliseconds": total / BANDWIDTH * 1e3,
                "flops_per_byte": np.array(flops) / total,
                "crossover": [cache_crossover_tokens(**shape) for shape in shapes]}

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            fig.add_subplot()
        ax = fig.axes[0]
        decode_bytes_bars(ax, state["labels"], state["weights"], state["cache"], bytes_per_second=BANDWIDTH,
                          title=f"Llama 2 7B shape: batch {state['batch']} x context {state['context']:,}"
                                f" = {state['batch'] * state['context']:,} cached tokens")

    def describe(state: dict) -> str:
        bars = "; ".join(
            f"{label}: {(w + c) / 1e9:,.1f} GB a step, cache {share:.0%}, {ms:,.1f} ms at 2,039 GB/s, "
            f"{intensity:.2f} FLOP per byte, cache equals weights at {cross:,.0f} cached tokens"
            for label, w, c, share, ms, intensity, cross in zip(
                state["labels"], state["weights"], state["cache"], state["cache_share"], state["milliseconds"],
                state["flops_per_byte"], state["crossover"]))
        return (f"Bytes one decoding step reads, Llama 2 7B shape, batch {state['batch']}, context "
                f"{state['context']:,}: {bars}.")

    return Explorer(
        compute, draw,
        sliders={
            "batch": Slider("Batch", [(str(b), b) for b in BATCH_OPTIONS], value=batch),
            "context": Slider("Context", [(f"{n:,}", n) for n in CONTEXT_OPTIONS], value=context),
        },
        describe=describe,
        title=("Move the batch and the context and watch each bar split between the weights (grey, "
               "read once per step) and the key/value cache (blue, read once per sequence). All three "
               "bars keep the 7B model's parameter count, as if the parameters saved in W_K and W_V went "
               "into wider feed-forward layers."),
        figsize=(6.4, 2.8),
    )
