"""Explorer of chapter 15, attention at inference time: where a decoding step crosses the ridge, and whether it fits.

:func:`serving_explorer`: batch and context move; for Llama 3 8B, Llama 3 70B, Mistral 7B (its
window counted) and Gemma 2B, the bytes of one decoding step split between weights and cache
(:func:`attn_core.experiments.inference.decode_cost`), the step's FLOPs per byte against the
H100's ridge point (:func:`attn_core.experiments.inference.roofline_time`), and whether its
weights and caches fit in a server of 8 x 80 GB
(:data:`attn_core.experiments.inference.SERVER_MEMORY_BYTES`).
"""

from __future__ import annotations

import numbers

import numpy as np
from matplotlib.figure import Figure

from attn_core.experiments.efficiency import H100, ridge_point
from attn_core.experiments.inference import (
    GEMMA_2B,
    LLAMA3_8B,
    LLAMA3_70B,
    MISTRAL_7B,
    MISTRAL_7B_WINDOW,
    SERVER_MEMORY_BYTES,
    decode_cost,
    roofline_time,
)
from attn_core.plot.inference import decode_intensity_bars
from attn_core.plot.multihead import decode_bytes_bars
from attn_core.widgets.explorer import Explorer, Slider

__all__ = ["SERVING_BATCHES", "SERVING_CONTEXTS", "SERVED", "serving_explorer"]

#: The "Batch" slider: sequences decoded together.
SERVING_BATCHES = (1, 32, 256, 1024)
#: The "Context" slider: tokens of each sequence so far.
SERVING_CONTEXTS = (128, 1024, 8192, 131072)
#: The models of the explorer: label, shape, window.
SERVED = (("Llama 3 8B", LLAMA3_8B, None), ("Llama 3 70B", LLAMA3_70B, None),
          ("Mistral 7B", MISTRAL_7B, MISTRAL_7B_WINDOW), ("Gemma 2B", GEMMA_2B, None))


def serving_explorer(*, batch: int = 1, context: int = 8192) -> Explorer:
    """One decoding step of four current models: its bytes, its FLOPs per byte against the ridge, and whether it fits.

    Left, one bar per model: the gigabytes the step reads, weights (grey) and key/value cache
    of every sequence (blue), with the time to read them at the H100's bandwidth. Right, the
    step's arithmetic intensity against the H100's ridge point (chapter 11): past the ridge
    the step is compute-bound. A step whose weights and caches exceed a server of 8 x 80 GB
    (:data:`~attn_core.experiments.inference.SERVER_MEMORY_BYTES`) is drawn pale and marked
    "does not fit". Mistral 7B's cache stops growing at its window of 4,096 positions.

    Controls: **Batch** (sequences decoded together) and **Context** (tokens per sequence).

    Parameters
    ----------
    batch : int, default 1
        The starting batch, one of :data:`SERVING_BATCHES`.
    context : int, default 8192
        The starting context, one of :data:`SERVING_CONTEXTS`.

    Returns
    -------
    Explorer
        ``state`` holds ``batch``, ``context``, ``labels``, ``weights`` and ``cache`` (bytes
        per model), ``cache_share``, ``intensity`` (FLOP per byte), ``milliseconds`` (the
        roofline's least time), ``bound`` (``"memory"`` or ``"compute"`` per model) and
        ``fits`` (True where weights and caches fit in ``SERVER_MEMORY_BYTES``).

    Raises
    ------
    ValueError
        ``batch`` or ``context`` not one of the options.

    Examples
    --------
    >>> ex = serving_explorer()
    >>> ex.frame_count(), ex.state["bound"], ex.state["fits"]
    (16, ['memory', 'memory', 'memory', 'memory'], [True, True, True, True])
    """
    for name, value, options in (("batch", batch, SERVING_BATCHES), ("context", context, SERVING_CONTEXTS)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value not in options:
            raise ValueError(f"{name} must be one of {', '.join(map(str, options))}, got {value!r}")
    labels = [label for label, _, _ in SERVED]

    def compute(batch: int, context: int) -> dict:
        costs = [decode_cost(context, batch=batch, window=window, **shape) for _, shape, window in SERVED]
        points = [roofline_time(cost, H100) for cost in costs]
        weights = np.array([cost["weight_bytes"] for cost in costs], dtype=float)
        cache = np.array([cost["cache_bytes"] for cost in costs], dtype=float)
        return {"batch": batch, "context": context, "labels": labels, "weights": weights, "cache": cache,
                "cache_share": cache / (weights + cache),
                "intensity": np.array([p["intensity"] for p in points]),
                "milliseconds": np.array([p["seconds"] * 1e3 for p in points]),
                "bound": [p["bound"] for p in points],
                "fits": [bool(total <= SERVER_MEMORY_BYTES) for total in weights + cache]}

    def draw(fig: Figure, state: dict) -> None:
        if not fig.axes:
            fig.add_subplot(1, 2, 1)
            fig.add_subplot(1, 2, 2)
            fig.subplots_adjust(left=0.13, right=0.97, bottom=0.3, top=0.88, wspace=0.75)
        bars, intensity = fig.axes
        decode_bytes_bars(bars, state["labels"], state["weights"], state["cache"],
                          bytes_per_second=H100.memory_bandwidth, fontsize=7,
                          title=f"batch {state['batch']} x context {state['context']:,}")
        decode_intensity_bars(intensity, state["labels"], state["intensity"], ridge=ridge_point(H100),
                              fits=state["fits"], xlim=(0.5, 4000.0), fontsize=7,
                              title="FLOP per byte against the H100's ridge")

    def describe(state: dict) -> str:
        models = "; ".join(
            f"{label}: {(w + c) / 1e9:,.1f} GB a step, cache {share:.0%}, {intensity:,.1f} FLOP per byte, "
            f"{bound}-bound, at least {ms:,.1f} ms" + ("" if fit else ", does not fit in 8 x 80 GB")
            for label, w, c, share, intensity, bound, ms, fit in zip(
                state["labels"], state["weights"], state["cache"], state["cache_share"], state["intensity"],
                state["bound"], state["milliseconds"], state["fits"]))
        return (f"One decoding step on an H100, batch {state['batch']}, context {state['context']:,}: {models}. "
                f"The H100's ridge point is {ridge_point(H100):,.0f} FLOP per byte.")

    return Explorer(
        compute, draw,
        sliders={
            "batch": Slider("Batch", [(str(b), b) for b in SERVING_BATCHES], value=batch),
            "context": Slider("Context", [(f"{n:,}", n) for n in SERVING_CONTEXTS], value=context),
        },
        describe=describe,
        title=("Move the batch and the context: the left bars split each step's bytes between the weights "
               "(grey, read once per step) and the key/value caches (blue, one per sequence); the right bars "
               "give its FLOPs per byte against the H100's ridge. Where does a step cross the ridge, and does "
               "that batch fit in a server of 8 x 80 GB?"),
        figsize=(8.4, 3.0),
    )
