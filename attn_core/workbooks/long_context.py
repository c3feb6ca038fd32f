"""Checks for the workbook of chapter 14, "Long context in practice": RoPE's frequencies under
position interpolation, NTK-aware scaling and YaRN, decoding with a rolling (ring-buffer) key/value
cache, and StreamingLLM's attention sinks next to a sliding window.

Examples
--------
>>> import numpy as np
>>> check_sink_window_mask(lambda n_q, n_k, window, n_sinks: np.ones((n_q, n_k), dtype=bool),
...                        verbose=False).passed
False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.decoding import RollingKVCache
from attn_core.masks import causal_mask, sliding_window_mask
from attn_core.positions import ntk_scaled_base, rotary_angles, yarn_frequencies
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_rescaled_frequencies", "check_yarn_frequencies", "check_rolling_cache_decode",
           "check_sink_window_mask"]


# ---------------------------------------------------------------------- RoPE beyond its length
def _frequencies(d: int, base: float) -> np.ndarray:
    return rotary_angles([1.0], d, base=base)[0]  # (d/2,): theta_i = base^(-2i/d)


def _rescaled(d, base, scale, method):
    if method == "interpolation":
        return _frequencies(d, base) / scale
    return _frequencies(d, ntk_scaled_base(base, scale, d))


def _rescaled_variant(d, base, scale, method, *, multiply=False, exponent=None, pair_exponent=2.0, swap=False):
    """Variants: interpolation multiplying; the NTK base with another exponent; theta with another exponent."""
    if swap:
        method = "ntk" if method == "interpolation" else "interpolation"
    pairs = np.arange(d // 2)
    if method == "interpolation":
        theta = base ** (-pair_exponent * pairs / d)
        return theta * scale if multiply else theta / scale
    power = d / (d - 2) if exponent is None else exponent
    return (base * scale ** power) ** (-pair_exponent * pairs / d)


def check_rescaled_frequencies(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``rescaled_frequencies(d, base, scale, method) -> (d/2,)``: RoPE's theta_i = base^(-2i/d)
    divided by ``scale`` (``method="interpolation"``), or computed with the NTK-aware base
    base * scale^(d/(d-2)) (``method="ntk"``)."""
    cases = [
        Case("the chapter's small head, interpolation: d = 8, base 100, scale 4", (8, 100.0, 4.0, "interpolation")),
        Case("the same head, NTK-aware base", (8, 100.0, 4.0, "ntk")),
        Case("two pairs, NTK: d = 4, base 100, scale 4 (the new base is 1600)", (4, 100.0, 4.0, "ntk")),
        Case("Llama 2's heads at 8 times their length, NTK: d = 128, base 10000, scale 8", (128, 10000.0, 8.0, "ntk")),
        Case("interpolation, d = 16, base 10000, scale 16", (16, 10000.0, 16.0, "interpolation")),
    ]
    return check_function(
        "rescaled_frequencies", function, _rescaled, cases, argument_names=("d", "base", "scale", "method"),
        mistakes=[
            Mistake(lambda d, b, s, m: _rescaled_variant(d, b, s, m, multiply=True),
                    "your interpolated frequencies are faster than the trained ones: interpolation divides every "
                    "position by the scale, so every theta_i is divided by it, theta_i / scale."),
            Mistake(lambda d, b, s, m: _rescaled_variant(d, b, s, m, exponent=1.0),
                    "you multiplied the base by the scale; the NTK-aware base is base * scale^(d / (d - 2)), the "
                    "exponent chosen so that the slowest pair is slowed by exactly the scale."),
            Mistake(lambda d, b, s, m: _rescaled_variant(d, b, s, m, exponent=(d - 2) / d),
                    "your exponent is upside down: the NTK-aware base is base * scale^(d / (d - 2))."),
            Mistake(lambda d, b, s, m: _rescaled_variant(d, b, s, m, pair_exponent=1.0),
                    "your trained frequencies fall too slowly: theta_i = base^(-2i / d), with i the index of the "
                    "PAIR, 0 .. d/2 - 1."),
            Mistake(lambda d, b, s, m: _rescaled_variant(d, b, s, m, swap=True),
                    "you swapped the two methods: 'interpolation' divides every theta_i by the scale, 'ntk' "
                    "raises the base."),
        ],
        hint="Chapter 14, section 'Three rescalings of the angles': how many frequencies does a width d have, "
             "which is the fastest, and does each method change the positions or the base?",
        timeout=timeout, verbose=verbose)


def _yarn(d, base, scale, original_length):
    return yarn_frequencies(d, base=base, scale=scale, original_length=original_length, alpha=1.0, beta=32.0)


def _yarn_variant(d, base, scale, original_length, *, reverse=False, radians=False, clip=True):
    """Variants: the blend reversed; turns counted in radians; the blend not clipped to [0, 1]."""
    theta = base ** (-np.arange(0, d, 2) / d)  # (d/2,)
    turns = original_length * theta if radians else original_length * theta / (2 * np.pi)
    blend = (turns - 1.0) / (32.0 - 1.0)
    blend = np.clip(blend, 0.0, 1.0) if clip else blend
    if reverse:
        return blend * theta / scale + (1 - blend) * theta
    return (1 - blend) * theta / scale + blend * theta


def check_yarn_frequencies(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``yarn_frequencies(d, base, scale, original_length) -> (d/2,)``: pair i made
    rho_i = L theta_i / (2 pi) turns over the ``original_length`` L; with mu_i = clip((rho_i - 1) / (32 - 1), 0, 1),
    theta'_i = (1 - mu_i) theta_i / scale + mu_i theta_i."""
    cases = [
        Case("the chapter's small head: d = 8, base 100, scale 4, trained on 16 positions", (8, 100.0, 4.0, 16)),
        Case("chapter 9's reader: d = 16, base 10000, scale 16, trained on 32 positions", (16, 10000.0, 16.0, 32)),
        Case("Llama 2's heads: d = 128, base 10000, scale 8, trained on 4096 positions", (128, 10000.0, 8.0, 4096)),
        Case("one pair that turned 10 times, one a tenth of a turn: d = 4, base 10000, scale 4, 64 positions",
             (4, 10000.0, 4.0, 64)),
    ]
    return check_function(
        "yarn_frequencies", function, _yarn, cases, argument_names=("d", "base", "scale", "original_length"),
        mistakes=[
            Mistake(lambda *a: _yarn_variant(*a, reverse=True),
                    "your blend is reversed: a pair that made many turns in training (mu = 1) keeps its "
                    "frequency, and one that made less than a turn (mu = 0) is interpolated, theta / scale."),
            Mistake(lambda *a: _yarn_variant(*a, radians=True),
                    "you counted the pairs' turns in radians: rho_i = L theta_i / (2 pi) counts whole turns."),
            Mistake(lambda *a: _yarn_variant(*a, clip=False),
                    "your blend is not clipped: mu_i = clip((rho_i - 1) / (32 - 1), 0, 1), so no pair is slowed "
                    "by more than the scale or sped up beyond its trained frequency."),
        ],
        hint="Chapter 14, section 'Three rescalings of the angles' (the YaRN formula there): how many turns "
             "did pair i make over L, and which pairs keep their frequency, which are slowed by the scale?",
        timeout=timeout, verbose=verbose)


# ------------------------------------------------------------------------------ the rolling cache
def _rolling(q, k, v, window):
    """Decode position by position with attn_core's RollingKVCache: (outputs, slot positions)."""
    cache = RollingKVCache(window, n_kv_heads=1, d_head=k.shape[-1])
    outputs = []
    for p in range(q.shape[-2]):
        cache.append(k[..., None, p:p + 1, :], v[..., None, p:p + 1, :])  # (..., 1 head, 1, d)
        outputs.append(cache.attend(q[..., None, p:p + 1, :])[..., 0, :, :])  # (..., 1, d)
    return np.concatenate(outputs, axis=-2), cache.positions.copy()


def _attend_rows(q, keys, values):
    """softmax(q keys^T / sqrt(d)) values for one query row q (..., 1, d) (no mask)."""
    scores = q @ np.swapaxes(keys, -1, -2) / np.sqrt(q.shape[-1])  # (..., 1, slots)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True) @ values


def _rolling_variant(q, k, v, window, *, slots=None, use_empty=False, empty_position=-1):
    """Variants: a ring of another size; attending over unwritten slots; -1 not used for empty slots."""
    size = window + 1 if slots is None else slots
    keys = np.zeros(k.shape[:-2] + (size, k.shape[-1]))  # (..., slots, d)
    values = np.zeros(v.shape[:-2] + (size, v.shape[-1]))
    positions = np.full(size, -1)
    outputs = []
    for p in range(q.shape[-2]):
        slot = p % size
        keys[..., slot, :], values[..., slot, :], positions[slot] = k[..., p, :], v[..., p, :], p
        readable = np.ones(size, dtype=bool) if use_empty else positions >= 0
        outputs.append(_attend_rows(q[..., p:p + 1, :], keys[..., readable, :], values[..., readable, :]))
    return np.concatenate(outputs, axis=-2), np.where(positions >= 0, positions, empty_position)


def _growing(q, k, v, window):
    """No eviction at all: every query sees every earlier position (causal attention)."""
    n = q.shape[-2]
    outputs = [_attend_rows(q[..., p:p + 1, :], k[..., :p + 1, :], v[..., :p + 1, :]) for p in range(n)]
    positions = np.array([max(p for p in range(n) if p % (window + 1) == s) if s < n else -1
                          for s in range(window + 1)])
    return np.concatenate(outputs, axis=-2), positions


def check_rolling_cache_decode(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``rolling_cache_decode(q, k, v, window) -> (outputs (..., n, d), slot_positions (window + 1,))``:
    decode position by position with a ring buffer of window + 1 slots (position p into slot
    p mod (window + 1)); each query attends to the filled slots; ``slot_positions`` holds the
    position in each slot at the end, -1 for a slot never written."""
    cases = [
        Case("6 positions of width 2, window 2 (3 slots)",
             (random_array(300, (6, 2)), random_array(301, (6, 2)), random_array(302, (6, 2)), 2)),
        Case("3 positions, window 4: the ring never fills (two slots stay empty)",
             (random_array(303, (3, 2)), random_array(304, (3, 2)), random_array(305, (3, 2)), 4)),
        Case("a batch of 2 heads, 9 positions of width 3, window 3",
             (random_array(306, (2, 9, 3)), random_array(307, (2, 9, 3)), random_array(308, (2, 9, 3)), 3),
             kind="batch"),
        Case("large queries and keys: scores near 1000, window 1",
             (random_array(309, (5, 4), scale=40.0), random_array(310, (5, 4), scale=40.0),
              random_array(311, (5, 4)), 1), kind="overflow"),
    ]
    return check_function(
        "rolling_cache_decode", function, _rolling, cases, argument_names=("q", "k", "v", "window"),
        output_names=("outputs", "slot_positions"),
        mistakes=[
            Mistake(lambda q, k, v, w: _rolling_variant(q, k, v, w, slots=w),
                    "your ring has `window` slots: a query sees its own position AND the `window` before it, so "
                    "the ring needs window + 1 slots, position p in slot p % (window + 1)."),
            Mistake(lambda q, k, v, w: _rolling_variant(q, k, v, w, use_empty=True),
                    "your first queries attend to slots that were never written (zeros): attend only to the "
                    "filled slots until the ring is full."),
            Mistake(_growing,
                    "your queries see every earlier position: the ring holds window + 1 slots, and writing "
                    "position p over slot p % (window + 1) evicts position p - window - 1."),
            Mistake(lambda q, k, v, w: _rolling_variant(q, k, v, w, empty_position=0),
                    "a slot never written must hold the position -1, not 0 (position 0 is a real position)."),
        ],
        hint="Chapter 14, section 'Sliding windows and the rolling cache': keep, next to the slots' keys and "
             "values, the position each slot holds (-1 while empty). Which slot does position p overwrite, and "
             "which slots may its query read?",
        timeout=timeout, verbose=verbose)


# ---------------------------------------------------------------------------------- attention sinks
def _sinks(n_q, n_k, window, n_sinks):
    sinks = (np.arange(n_k) < n_sinks)[None, :] & causal_mask(n_q, n_k)  # (n_q, n_k)
    return sliding_window_mask(n_q, n_k, window=window, causal=True) | sinks


def _sinks_variant(n_q, n_k, window, n_sinks, *, sinks_causal=True, strict=False, two_sided=False, inside=False):
    position = np.arange(n_k - n_q, n_k)[:, None]  # (n_q, 1)
    j = np.arange(n_k)[None, :]  # (1, n_k)
    back = position - j  # (n_q, n_k)
    reach = window - n_sinks if inside else window
    band = (np.abs(back) < reach if strict else np.abs(back) <= reach)
    band = band if two_sided else band & (back >= 0)
    sink = j < n_sinks
    return band | (sink & (back >= 0) if sinks_causal else sink)


def check_sink_window_mask(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``sink_window_mask(n_q, n_k, window, n_sinks) -> bool (n_q, n_k)``: query i at position
    p = n_k - n_q + i may attend key j iff j <= p and (j < n_sinks or p - j <= window)."""
    cases = [
        Case("8 queries, 8 keys, window 3, two sinks", (8, 8, 3, 2)),
        Case("6 queries, 6 keys, window 1, two sinks (query 0 must not see key 1)", (6, 6, 1, 2)),
        Case("one query after 9 earlier keys (decoding), window 3, 4 sinks", (1, 10, 3, 4)),
        Case("3 queries, 12 keys, window 2, no sink at all", (3, 12, 2, 0)),
    ]
    return check_function(
        "sink_window_mask", function, _sinks, cases, argument_names=("n_q", "n_k", "window", "n_sinks"),
        mistakes=[
            Mistake(lambda *a: _sinks_variant(*a, sinks_causal=False),
                    "your sink columns let an early query see a sink that comes after it: the sinks are the "
                    "first positions, still under the causal mask (j <= position)."),
            Mistake(lambda *a: _sinks_variant(*a, strict=True),
                    "off by one: the window holds the keys at most `window` positions back, p - window .. p."),
            Mistake(lambda *a: _sinks_variant(*a, two_sided=True),
                    "your window looks forward too: in a decoder the query sees only p - window .. p."),
            Mistake(lambda *a: _sinks_variant(*a, inside=True),
                    "you took the sinks out of the window: they come on top of it, so the cache holds "
                    "n_sinks + window + 1 positions."),
        ],
        hint="Chapter 14, section 'Attention sinks' (and 'Sliding windows and the rolling cache'): which keys "
             "does the causal window give position p, which do the sinks add, and may a query see a sink "
             "that comes after it?",
        timeout=timeout, verbose=verbose)
