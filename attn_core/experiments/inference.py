"""Chapter 15, attention at inference time: what current models cache, and what a step costs.

The shapes of current open models, from their papers and released configurations
(:data:`LLAMA3_8B`, :data:`LLAMA3_70B`, :data:`MISTRAL_7B` with its window
:data:`MISTRAL_7B_WINDOW`, the multi-query :data:`GEMMA_2B`, and :data:`DEEPSEEK_V3` with
multi-head latent attention). The dense models are dicts with the keys of chapter 8's
:data:`~attn_core.experiments.multihead.LLAMA2_7B`, so chapter 8's cost functions take them
as they are (``decode_step_bytes(4096, **LLAMA3_8B)``). :data:`SERVER_MEMORY_BYTES` is the
memory of a server of eight 80 GB accelerators, what weights and caches must fit in.

* :func:`kv_cache_table`: bytes of key/value cache per token, per sequence and per batch, for
  every model above (``ac.kv_cache_bytes``, ``ac.latent_kv_cache_bytes``);
* :func:`decode_cost` and :func:`prefill_cost`: the bytes and FLOPs of one decoding step and of
  a prefill, a sliding window counted (chapter 8's counts, :func:`~attn_core.experiments.multihead.decode_step_bytes`
  and :func:`~attn_core.experiments.multihead.decode_step_flops`,
  at the context the cache really holds); :func:`latent_decode_cost` the same for the
  attention of a latent (MLA) cache, explicit or absorbed;
* :func:`roofline_time`: where such a cost sits on the roofline of an
  :class:`~attn_core.experiments.efficiency.Accelerator` (chapter 11), and how long it takes;
* :func:`reserved_cache_slots`: cache positions reserved for a batch of requests, contiguous
  against paged;
* :func:`outlier_keys` and :func:`int8_cache_error`: keys with a few large channels, and the
  error that int8 quantisation of a cache adds to attention, against the memory it saves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_int_array, choice, flag, nonnegative_int, positive_int, positive_number
from attn_core.attention import _attention, _check_qkv
from attn_core.decoding import _dequantize_int8, _quantize_int8
from attn_core.experiments.efficiency import Accelerator, _check_accelerator, attainable_flops
from attn_core.experiments.multihead import _decode_step_bytes, _decode_step_flops, _model_shape
from attn_core.latent_attention import latent_kv_cache_bytes
from attn_core.multihead import _kv_cache_bytes

__all__ = ["LLAMA3_8B", "LLAMA3_70B", "MISTRAL_7B", "MISTRAL_7B_WINDOW", "GEMMA_2B", "DEEPSEEK_V3",
           "SERVER_MEMORY_BYTES",
           "kv_cache_table", "decode_cost", "prefill_cost", "latent_decode_cost", "roofline_time",
           "reserved_cache_slots", "outlier_keys", "int8_cache_error"]

# ---------------------------------------------------------------- the models
# "parameters" is the count of the model's paper, recomputed from its configuration in
# tests/experiments/test_inference.py (embeddings, attention, feed-forward layers and norms).

#: Llama 3 8B (Grattafiori et al., 2024): 32 layers, 32 query heads and 8 key/value heads of
#: width 128 (d_model 4096), feed-forward width 14,336, vocabulary 128,256, untied embeddings.
LLAMA3_8B = {"parameters": 8_030_261_248, "n_layers": 32, "n_heads": 32, "n_kv_heads": 8, "d_head": 128}

#: Llama 3 70B (Grattafiori et al., 2024): 80 layers, 64 query heads and 8 key/value heads of
#: width 128 (d_model 8192), feed-forward width 28,672, vocabulary 128,256, untied embeddings.
LLAMA3_70B = {"parameters": 70_553_706_496, "n_layers": 80, "n_heads": 64, "n_kv_heads": 8, "d_head": 128}

#: Mistral 7B v0.1 (Jiang et al., 2023): 32 layers, 32 query heads and 8 key/value heads of
#: width 128, feed-forward width 14,336, vocabulary 32,000; sliding-window attention.
MISTRAL_7B = {"parameters": 7_241_732_096, "n_layers": 32, "n_heads": 32, "n_kv_heads": 8, "d_head": 128}

#: Mistral 7B's window (Jiang et al., 2023): each layer attends to at most the last 4,096
#: positions, and its rolling buffer cache holds 4,096 positions. (Chapter 14's window ``w``
#: counts ``w`` earlier positions plus the query, one more than this count.)
MISTRAL_7B_WINDOW = 4096

#: Gemma 2B (Gemma Team, 2024): 18 layers of 8 query heads sharing ONE key/value head
#: (multi-query attention) of width 256, d_model 2048, feed-forward width 16,384, vocabulary
#: 256,128, embeddings tied with the output layer: the count of the report's Table 1. The
#: released checkpoint's configuration lists a vocabulary of 256,000, so 2,506,172,416.
GEMMA_2B = {"parameters": 2_506_434_560, "n_layers": 18, "n_heads": 8, "n_kv_heads": 1, "d_head": 256}

#: DeepSeek-V3 (DeepSeek-AI, 2024): 61 layers of multi-head latent attention with 128 heads of
#: width 128, d_model 7,168, a cached latent of width 512 and a decoupled rotary key of width
#: 64, queries compressed through a latent of width 1,536; a mixture of experts with 671
#: billion parameters, 37 billion of them used for each token (as reported).
DEEPSEEK_V3 = {"parameters": 671_000_000_000, "active_parameters": 37_000_000_000, "n_layers": 61,
               "n_heads": 128, "d_head": 128, "d_model": 7168, "d_latent": 512, "d_query_latent": 1536,
               "d_rope": 64}

#: The memory of a server of 8 accelerators of 80 GB (e.g. 8 H100 SXM5), in bytes: what its
#: weights and caches must fit in.
SERVER_MEMORY_BYTES = 8 * 80 * 10**9


def kv_cache_table(contexts: ArrayLike = (8192, 32768, 131072), *, batch: int = 32,
                   bytes_per_number: int = 2) -> list[dict]:
    """Key/value cache of every model of the chapter: per token, per sequence, per batch.

    A grouped-query model caches ``2 * n_layers * n_kv_heads * d_head`` numbers per token
    (``ac.kv_cache_bytes``); Mistral 7B never more than :data:`MISTRAL_7B_WINDOW` tokens of
    them; DeepSeek-V3 ``n_layers * (d_latent + d_rope)`` (``ac.latent_kv_cache_bytes``).

    Parameters
    ----------
    contexts : array_like of int, shape (m,), default (8192, 32768, 131072)
        Sequence lengths, in tokens.
    batch : int, default 32
        Sequences in the batch of the last column (at the largest context).
    bytes_per_number : int, default 2
        2 for 16-bit numbers.

    Returns
    -------
    list of dict
        One per model: ``name``, ``attention`` (its kind), ``numbers_per_layer`` (numbers
        cached per token and layer), ``per_token`` (bytes, all layers), ``per_sequence``
        (bytes, one per context) and ``per_batch`` (bytes, ``batch`` sequences of the largest
        context).

    Raises
    ------
    TypeError, ValueError
        A context, ``batch`` or ``bytes_per_number`` that is not a whole number >= 1; no context.

    Examples
    --------
    >>> rows = kv_cache_table((4096,), batch=1)
    >>> [(row["name"], row["per_token"]) for row in rows][:2]
    [('Llama 3 8B', 131072), ('Llama 3 70B', 327680)]
    """
    contexts = as_int_array(contexts, "contexts", ndim=1, low=1)
    if contexts.size == 0:
        raise ValueError("contexts must hold at least one sequence length")
    contexts = [int(n) for n in contexts]
    batch = positive_int(batch, "batch")
    bytes_per_number = positive_int(bytes_per_number, "bytes_per_number")
    rows = []
    dense = [("Llama 3 8B", "grouped-query, 32/8 heads", LLAMA3_8B, None),
             ("Llama 3 70B", "grouped-query, 64/8 heads", LLAMA3_70B, None),
             ("Mistral 7B", "grouped-query, window 4,096", MISTRAL_7B, MISTRAL_7B_WINDOW),
             ("Gemma 2B", "multi-query, 8/1 heads", GEMMA_2B, None)]
    for name, kind, shape, window in dense:
        def cache(n: int, b: int = 1, shape=shape, window=window) -> int:
            return _kv_cache_bytes(_cached_positions(n, window), shape["n_layers"], shape["n_kv_heads"],
                                   shape["d_head"], b, bytes_per_number)
        rows.append({"name": name, "attention": kind, "numbers_per_layer": 2 * shape["n_kv_heads"] * shape["d_head"],
                     "per_token": cache(1), "per_sequence": [cache(n) for n in contexts],
                     "per_batch": cache(max(contexts), batch)})
    v3 = DEEPSEEK_V3

    def latent(n: int, b: int = 1) -> int:
        return latent_kv_cache_bytes(n, n_layers=v3["n_layers"], d_latent=v3["d_latent"], d_rope=v3["d_rope"],
                                     batch=b, bytes_per_number=bytes_per_number)
    rows.append({"name": "DeepSeek-V3", "attention": "latent (MLA), 128 heads", "numbers_per_layer":
                 v3["d_latent"] + v3["d_rope"], "per_token": latent(1),
                 "per_sequence": [latent(n) for n in contexts], "per_batch": latent(max(contexts), batch)})
    return rows


def _cached_positions(context: int, window: int | None) -> int:
    """Positions a cache holds at ``context`` tokens: all of them, or at most ``window``."""
    return context if window is None else min(context, window)


def _optional_window(window: int | None) -> int | None:
    return None if window is None else positive_int(window, "window")


def decode_cost(context: int, *, parameters: int, n_layers: int, n_heads: int, n_kv_heads: int, d_head: int,
                batch: int = 1, window: int | None = None, bytes_per_number: int = 2) -> dict[str, int]:
    """Bytes read and FLOPs done by one decoding step, a sliding window counted.

    Chapter 8's :func:`~attn_core.experiments.multihead.decode_step_bytes` and
    :func:`~attn_core.experiments.multihead.decode_step_flops` at the context the cache
    holds: ``min(context, window)`` with a window, else ``context``. Every weight is read once
    per step, every sequence's cache once.

    Parameters
    ----------
    context : int
        Tokens of each sequence so far, the new one included.
    parameters, n_layers, n_heads, n_kv_heads, d_head : int
        The model's shape (e.g. ``**LLAMA3_8B``).
    batch : int, default 1
        Sequences decoded together.
    window : int, optional
        The most positions a query attends to (and its cache holds).
    bytes_per_number : int, default 2

    Returns
    -------
    dict
        ``weight_bytes``, ``cache_bytes``, ``weight_flops``, ``attention_flops``.

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1; ``n_kv_heads`` not dividing ``n_heads``.

    Examples
    --------
    >>> step = decode_cost(8192, window=4096, **MISTRAL_7B)
    >>> step["cache_bytes"] == decode_cost(4096, **MISTRAL_7B)["cache_bytes"]
    True
    """
    context = positive_int(context, "context")
    parameters, n_layers, n_heads, n_kv_heads, d_head = _model_shape(parameters, n_layers, n_heads, n_kv_heads,
                                                                     d_head)
    batch = positive_int(batch, "batch")
    window = _optional_window(window)
    bytes_per_number = positive_int(bytes_per_number, "bytes_per_number")
    cached = _cached_positions(context, window)
    read = _decode_step_bytes(cached, parameters, n_layers, n_kv_heads, d_head, batch, bytes_per_number)
    work = _decode_step_flops(cached, parameters, n_layers, n_heads, d_head, batch)
    return {"weight_bytes": read["weights"], "cache_bytes": read["cache"], "weight_flops": work["weights"],
            "attention_flops": work["attention"]}


def prefill_cost(prompt: int, *, parameters: int, n_layers: int, n_heads: int, n_kv_heads: int, d_head: int,
                 batch: int = 1, window: int | None = None, bytes_per_number: int = 2) -> dict[str, int]:
    """Bytes moved and FLOPs done by a prefill: ``batch`` prompts of ``prompt`` tokens in one pass.

    Every token goes through the weights (``2 * parameters`` FLOPs a token), read once for the
    whole pass; query ``i`` (from 0) attends, under the causal mask, to ``i + 1`` keys, or to
    ``min(i + 1, window)`` with a window (``4 * n_layers * n_heads * d_head`` FLOPs per key);
    the keys and values of every cached position are written once. Activations are not
    counted (a fused attention kernel keeps its scores on chip, chapter 11).

    Parameters
    ----------
    prompt : int
        Tokens in each prompt.
    parameters, n_layers, n_heads, n_kv_heads, d_head : int
        The model's shape.
    batch : int, default 1
    window : int, optional
    bytes_per_number : int, default 2

    Returns
    -------
    dict
        ``weight_bytes``, ``cache_bytes`` (written), ``weight_flops``, ``attention_flops``.

    Raises
    ------
    TypeError, ValueError
        As :func:`decode_cost`.

    Examples
    --------
    >>> shape = dict(parameters=10, n_layers=1, n_heads=1, n_kv_heads=1, d_head=1)
    >>> prefill_cost(3, **shape)   # keys attended: 1 + 2 + 3 = 6, so 4 * 6 attention FLOPs
    {'weight_bytes': 20, 'cache_bytes': 12, 'weight_flops': 60, 'attention_flops': 24}
    """
    prompt = positive_int(prompt, "prompt")
    parameters, n_layers, n_heads, n_kv_heads, d_head = _model_shape(parameters, n_layers, n_heads, n_kv_heads,
                                                                     d_head)
    batch = positive_int(batch, "batch")
    window = _optional_window(window)
    bytes_per_number = positive_int(bytes_per_number, "bytes_per_number")
    if window is None or window >= prompt:
        keys_attended = prompt * (prompt + 1) // 2  # 1 + 2 + ... + prompt
    else:  # 1 + ... + window, then window for each of the remaining prompt - window queries
        keys_attended = window * (window + 1) // 2 + (prompt - window) * window
    return {"weight_bytes": parameters * bytes_per_number,
            "cache_bytes": _kv_cache_bytes(_cached_positions(prompt, window), n_layers, n_kv_heads, d_head, batch,
                                           bytes_per_number),
            "weight_flops": 2 * parameters * prompt * batch,
            "attention_flops": 4 * n_layers * n_heads * d_head * keys_attended * batch}


def latent_decode_cost(context: int, *, n_layers: int, n_heads: int, d_head: int, d_latent: int, d_rope: int,
                       batch: int = 1, absorbed: bool = True, bytes_per_number: int = 2) -> dict[str, int]:
    """The attention part of one decoding step over a latent (MLA) cache: bytes read, FLOPs done.

    The cache holds ``d_latent + d_rope`` numbers per position and layer, read once per
    sequence. In the **absorbed** form each head scores its query against the cached latent
    and rotary key (``2 * (d_latent + d_rope)`` FLOPs a position) and averages the latents
    (``2 * d_latent``). In the **explicit** form the step first up-projects every cached
    latent to every head's key and value (``2 * d_latent * 2 * n_heads * d_head`` FLOPs a
    position), then attends as usual (``2 * (d_head + d_rope) + 2 * d_head`` per head and
    position). The per-token projections (the weights) are not counted here.

    Parameters
    ----------
    context : int
        Cached positions of each sequence.
    n_layers, n_heads, d_head, d_latent, d_rope : int
        The model's attention shape (e.g. DeepSeek-V3: 61, 128, 128, 512, 64).
    batch : int, default 1
    absorbed : bool, default True
    bytes_per_number : int, default 2

    Returns
    -------
    dict
        ``cache_bytes`` and ``attention_flops``.

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1; ``absorbed`` not True or False.

    Examples
    --------
    >>> cost = latent_decode_cost(1, n_layers=1, n_heads=1, d_head=2, d_latent=3, d_rope=2)
    >>> cost   # 5 numbers of 2 bytes; 2 * (3 + 2) + 2 * 3 FLOPs
    {'cache_bytes': 10, 'attention_flops': 16}
    """
    context = positive_int(context, "context")
    n_layers, n_heads, d_head, d_latent, d_rope = (positive_int(v, name) for v, name in [
        (n_layers, "n_layers"), (n_heads, "n_heads"), (d_head, "d_head"), (d_latent, "d_latent"),
        (d_rope, "d_rope")])
    batch = positive_int(batch, "batch")
    absorbed = flag(absorbed, "absorbed")
    bytes_per_number = positive_int(bytes_per_number, "bytes_per_number")
    if absorbed:
        per_position = n_heads * (2 * (d_latent + d_rope) + 2 * d_latent)
    else:
        per_position = 2 * d_latent * 2 * n_heads * d_head + n_heads * (2 * (d_head + d_rope) + 2 * d_head)
    return {"cache_bytes": (d_latent + d_rope) * n_layers * context * batch * bytes_per_number,
            "attention_flops": per_position * n_layers * context * batch}


def roofline_time(cost: dict, accelerator: Accelerator) -> dict:
    """Where a step sits on an accelerator's roofline, and the least time it can take.

    The step's arithmetic intensity is its FLOPs (every ``*_flops`` entry of ``cost``) over
    its bytes (every ``*_bytes`` entry); its speed is at most
    :func:`~attn_core.experiments.efficiency.attainable_flops` of that intensity (chapter 11),
    so it takes at least ``flops / attainable``, which is ``max(flops / peak, bytes /
    bandwidth)``: memory-bound when the second is larger.

    Parameters
    ----------
    cost : dict
        As :func:`decode_cost`, :func:`prefill_cost` or :func:`latent_decode_cost` return it.
    accelerator : Accelerator
        E.g. :data:`~attn_core.experiments.efficiency.H100`.

    Returns
    -------
    dict
        ``flops``, ``bytes``, ``intensity`` (FLOP per byte), ``seconds`` and ``bound``
        (``"memory"`` or ``"compute"``).

    Raises
    ------
    TypeError
        ``cost`` not a dict of numbers with ``*_flops`` and ``*_bytes`` keys; ``accelerator``
        not an Accelerator.
    ValueError
        A negative count, or no bytes.

    Examples
    --------
    >>> from attn_core.experiments.efficiency import A100
    >>> point = roofline_time({"weight_bytes": 2.039e9, "weight_flops": 2.039e9}, A100)
    >>> point["intensity"], round(point["seconds"] * 1e3, 3), point["bound"]
    (1.0, 1.0, 'memory')
    """
    if not isinstance(cost, dict) or not any(str(k).endswith("_flops") for k in cost) \
            or not any(str(k).endswith("_bytes") for k in cost):
        raise TypeError(f"cost must be a dict with *_flops and *_bytes entries (as decode_cost returns), "
                        f"got {cost!r:.60}")
    accelerator = _check_accelerator(accelerator)
    for key, value in cost.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"cost[{key!r}] must be a number, got {value!r:.40}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"cost[{key!r}] must be a finite number >= 0, got {value}")
    flops = float(sum(v for k, v in cost.items() if str(k).endswith("_flops")))
    moved = float(sum(v for k, v in cost.items() if str(k).endswith("_bytes")))
    if moved == 0:
        raise ValueError("cost moves no bytes: its intensity is undefined")
    intensity = flops / moved
    seconds = max(flops / accelerator.peak_flops, moved / accelerator.memory_bandwidth)
    bound = "memory" if attainable_flops(intensity, accelerator) < accelerator.peak_flops else "compute"
    return {"flops": flops, "bytes": moved, "intensity": intensity, "seconds": seconds, "bound": bound}


def reserved_cache_slots(lengths: ArrayLike, *, block_size: int, max_length: int) -> dict[str, int]:
    """Cache positions a batch of requests occupies: used, reserved contiguously, reserved in pages.

    A server that gives each request one contiguous region must reserve ``max_length``
    positions for it, since it cannot know how long the output will grow; a paged cache
    (PagedAttention; Kwon et al., 2023) takes blocks of ``block_size`` positions as they fill,
    so it reserves ``ceil(length / block_size) * block_size``.

    Parameters
    ----------
    lengths : array_like of int, shape (n_requests,)
        Positions each request ends up using, each in ``1..max_length``.
    block_size : int
    max_length : int

    Returns
    -------
    dict
        ``used``, ``contiguous``, ``paged`` (positions).

    Raises
    ------
    TypeError, ValueError
        ``lengths`` not whole numbers in ``1..max_length``, or empty; a size not a whole
        number >= 1.

    Examples
    --------
    >>> reserved_cache_slots([5, 16, 17], block_size=16, max_length=32)
    {'used': 38, 'contiguous': 96, 'paged': 64}
    """
    block_size = positive_int(block_size, "block_size")
    max_length = positive_int(max_length, "max_length")
    lengths = as_int_array(lengths, "lengths", ndim=1, low=1, high=max_length + 1)
    if lengths.size == 0:
        raise ValueError(f"lengths must be a non-empty 1-d array of whole numbers, got shape {lengths.shape}")
    blocks = -(-lengths // block_size)  # ceil
    return {"used": int(lengths.sum()), "contiguous": int(lengths.size * max_length),
            "paged": int(blocks.sum() * block_size)}


def outlier_keys(n: int, d_head: int, *, outlier_channels: Sequence[int] = (3, 17), factor: float = 20.0,
                 seed: int = 0) -> np.ndarray:
    """Toy keys: standard normal, except a few channels ``factor`` times larger in every position.

    A stand-in for what KIVI (Liu et al., 2024) observed in real key caches, a few channels of
    large magnitude shared by all tokens; the values of a real cache show no such channels.

    Parameters
    ----------
    n, d_head : int
        Positions and channels.
    outlier_channels : sequence of int, default (3, 17)
        Channels in ``0..d_head - 1``; empty for keys without outliers.
    factor : float, default 20.0
    seed : int, default 0

    Returns
    -------
    ndarray, shape (n, d_head)

    Raises
    ------
    TypeError, ValueError
        A size not a whole number >= 1; a channel outside ``0..d_head - 1``; ``factor`` not
        finite and > 0.

    Examples
    --------
    >>> k = outlier_keys(1000, 32)
    >>> np.abs(k).mean(axis=0)[[0, 3, 17]].round(0)
    array([ 1., 16., 16.])
    """
    n, d_head = positive_int(n, "n"), positive_int(d_head, "d_head")
    factor = positive_number(factor, "factor")
    channels = as_int_array(outlier_channels, "outlier_channels", ndim=1, low=0, high=d_head)
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    keys = rng.standard_normal((n, d_head))  # (n, d_head)
    keys[:, channels] *= factor  # (n, len(channels)): the outlier columns
    return keys


def int8_cache_error(q: ArrayLike, k: ArrayLike, v: ArrayLike, *, keys: str = "channel",
                     values: str = "token") -> dict[str, float]:
    """Attention with an int8 cache against the exact one: relative error and bytes.

    The keys and values are quantised with :func:`attn_core.decoding.quantize_int8`, per channel (one
    scale per channel, over all positions: ``axis=-2``) or per token (one scale per position:
    ``axis=-1``), dequantised, and attended to by ``q``.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)
    v : array_like, shape (..., n_k, d_v)
    keys, values : {"channel", "token"}
        How each is quantised. KIVI's choice is keys per channel, values per token.

    Returns
    -------
    dict
        ``relative_error`` (``|O_int8 - O| / |O|``, Frobenius norms), ``int8_bytes`` (one byte
        a code and 2 bytes a scale, scales kept in 16 bits) and ``bf16_bytes`` (2 bytes a
        number, the cache unquantised).

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; an unknown ``keys`` or ``values``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((1, 8)), rng.standard_normal((16, 8)), rng.standard_normal((16, 8))
    >>> result = int8_cache_error(q, k, v)
    >>> result["int8_bytes"], result["bf16_bytes"], result["relative_error"] < 0.01   # 256 codes + 2 x (8 + 16) scales
    (304, 512, True)
    """
    q, k, v = _check_qkv(q, k, v)
    axes = {"channel": -2, "token": -1}
    key_axis = axes[choice(keys, tuple(axes), "keys")]
    value_axis = axes[choice(values, tuple(axes), "values")]
    key_codes, key_scales = _quantize_int8(k, key_axis)
    value_codes, value_scales = _quantize_int8(v, value_axis)
    k_hat, v_hat = _dequantize_int8(key_codes, key_scales), _dequantize_int8(value_codes, value_scales)
    scale = 1.0 / math.sqrt(q.shape[-1])
    exact = _attention(q, k, v, None, scale)[0]  # (..., n_q, d_v)
    approximate = _attention(q, k_hat, v_hat, None, scale)[0]
    error = float(np.linalg.norm(approximate - exact) / np.linalg.norm(exact))
    int8_bytes = key_codes.size + value_codes.size + 2 * (key_scales.size + value_scales.size)
    return {"relative_error": error, "int8_bytes": int(int8_bytes), "bf16_bytes": int(2 * (k.size + v.size))}
