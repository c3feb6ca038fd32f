"""Wrong implementations for the workbooks of chapters 2, 10, 14 and 15: each caught with the
right message, and a correct implementation written here passes (see
test_wrong_implementations.py for the rules)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from tests.workbooks.wrong_tables import checks_of, wrong_table_tests

import attn_core as ac
from attn_core.workbooks import inference, long_context, qkv, variants
from attn_core.workbooks.feedback import Case, check_function

ROOT = Path(__file__).resolve().parents[2]
T = lambda x: np.swapaxes(x, -1, -2)  # noqa: E731


def stable(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ------------------------------------------------------------------ chapter 2, written as a student would
def hard_lookup(q, k, v, *, nearest=False, missing=0.0, count=False):
    out = []
    for query in q:
        if nearest:
            out.append(v[np.argmin(np.abs(k - query))])
            continue
        hits = [value for key, value in zip(k, v) if key == query]
        out.append(float(len(hits)) if count else (sum(hits) if hits else missing))
    return np.array(out, dtype=float)


def gaussian(q, k, s, *, denominator=None, sign=-1.0, power=2, axis=1, shift=True):
    scores = sign * np.abs(q[:, None] - k[None, :]) ** power / (2 * s * s if denominator is None else denominator)
    e = np.exp(scores - scores.max(axis=axis, keepdims=True)) if shift else np.exp(scores)
    return e / e.sum(axis=axis, keepdims=True)


def regression(xq, xt, yt, s, *, normalise="rows"):
    kernel = np.exp(-((xq[:, None] - xt[None, :]) ** 2) / (2 * s * s))
    if normalise == "rows":
        kernel = kernel / kernel.sum(axis=1, keepdims=True)
    elif normalise == "columns":
        kernel = kernel / kernel.sum(axis=0, keepdims=True)
    elif normalise == "count":
        kernel = kernel / len(yt)
    return kernel @ yt


def boxcar(q, k, s, *, strict=False, width=None, empty="zeros", normalise=True):
    w = s if width is None else width
    inside = (np.abs(q[:, None] - k[None, :]) < w) if strict else (np.abs(q[:, None] - k[None, :]) <= w)
    inside = inside.astype(float)
    if not normalise:
        return inside
    counts = inside.sum(axis=1, keepdims=True)
    if empty == "nan":
        return inside / counts
    if empty == "uniform":
        return np.where(counts > 0, inside / np.maximum(counts, 1), 1.0 / len(k))
    return np.divide(inside, counts, out=np.zeros_like(inside), where=counts > 0)


def projected(x, wq, wk, wv, *, width=None, keys_with_q=False, plain_values=False, transpose=False):
    q, k = x @ wq, x @ (wq if keys_with_q else wk)
    v = x if plain_values else x @ wv
    w = stable(q @ T(k) / math.sqrt(q.shape[-1] if width is None else width))
    w = T(w) if transpose else w
    return w @ v, w


# ------------------------------------------------------------------ chapter 10
def window_mask(n_q, n_k, w, causal, *, top_left=False, strict=False, ignore_causal=False, forward=False):
    rows = range(n_q) if top_left else range(n_k - n_q, n_k)
    mask = np.zeros((n_q, n_k), dtype=bool)
    for i, p in enumerate(rows):
        for j in range(n_k):
            back = j - p if forward else p - j
            near = abs(back) < w if strict else abs(back) <= w
            mask[i, j] = near and (back >= 0 or not causal or ignore_causal)
    return mask


def phi(x):
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def linear_loop(q, k, v, *, feature=phi, normalise=True, causal=True, read_first=False):
    n = q.shape[-2]
    F = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]), dtype=q.dtype)
    z = np.zeros(q.shape[:-2] + (q.shape[-1],), dtype=q.dtype)
    if not causal:
        F = T(feature(k)) @ v
        z = feature(k).sum(-2)
    out = np.zeros(v.shape, dtype=q.dtype)
    for i in range(n):
        fq, fk = feature(q[..., i, :]), feature(k[..., i, :])
        if read_first:
            num, den = np.einsum("...k,...kd->...d", fq, F), (fq * z).sum(-1)
        if causal:
            F = F + fk[..., :, None] * v[..., i, None, :]
            z = z + fk
        if not read_first:
            num, den = np.einsum("...k,...kd->...d", fq, F), (fq * z).sum(-1)
        out[..., i, :] = num / den[..., None] if normalise else num
    return out


def decay_loop(q, k, v, decay, *, mode="old", read_first=False):
    F = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))
    out = np.zeros(v.shape)
    for t in range(q.shape[-2]):
        write = k[..., t, :, None] * v[..., t, None, :]
        if read_first:
            out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], F)
        if mode == "old":
            F = decay[t] * F + write
        elif mode == "all":
            F = decay[t] * (F + write)
        elif mode == "write":
            F = F + decay[t] * write
        else:
            F = F + write
        if not read_first:
            out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], F)
    return out


def delta_loop(q, k, v, eta, *, subtract=True, probe="k", use_eta=True, read_first=False):
    F = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))
    out = np.zeros(v.shape)
    for t in range(q.shape[-2]):
        if read_first:
            out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], F)
        key = k[..., t, :] if probe == "k" else q[..., t, :]
        recalled = np.einsum("...k,...kd->...d", key, F) if subtract else 0.0
        strength = eta[t] if use_eta else 1.0
        F = F + k[..., t, :, None] * (strength * (v[..., t, :] - recalled))[..., None, :]
        if not read_first:
            out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], F)
    return out


# ------------------------------------------------------------------ chapter 14
def frequencies(d, base, scale, method, *, multiply=False, power=None, pair_step=2, swap=False):
    if swap:
        method = {"interpolation": "ntk", "ntk": "interpolation"}[method]
    if method == "ntk":
        base = base * scale ** (d / (d - 2) if power is None else power)
    theta = np.array([base ** (-pair_step * i / d) for i in range(d // 2)])
    if method == "interpolation":
        return theta * scale if multiply else theta / scale
    return theta


def yarn(d, base, scale, length, *, low=1.0, high=32.0, reverse=False, radians=False, clip=True):
    out = []
    for i in range(d // 2):
        theta = base ** (-2 * i / d)
        turns = length * theta / (1.0 if radians else 2 * math.pi)
        mu = (turns - low) / (high - low)
        mu = min(max(mu, 0.0), 1.0) if clip else mu
        mu = 1 - mu if reverse else mu
        out.append((1 - mu) * theta / scale + mu * theta)
    return np.array(out)


def rolling(q, k, v, window, *, slots=None, read_empty=False, keep_all=False, empty=-1):
    size = window + 1 if slots is None else slots
    keys, values = np.zeros(k.shape[:-2] + (size, k.shape[-1])), np.zeros(v.shape[:-2] + (size, v.shape[-1]))
    positions = [empty] * size
    written = [False] * size
    outputs = []
    for p in range(q.shape[-2]):
        s = p % size
        keys[..., s, :], values[..., s, :], positions[s], written[s] = k[..., p, :], v[..., p, :], p, True
        if keep_all:
            read_k, read_v = k[..., :p + 1, :], v[..., :p + 1, :]
        else:
            use = np.array(written) | read_empty
            read_k, read_v = keys[..., use, :], values[..., use, :]
        outputs.append(stable(q[..., p:p + 1, :] @ T(read_k) / math.sqrt(q.shape[-1])) @ read_v)
    return np.concatenate(outputs, axis=-2), np.array(positions)


def sinks_mask(n_q, n_k, window, n_sinks, *, sinks_see_future=False, strict=False, both_ways=False, shrink=False):
    mask = np.zeros((n_q, n_k), dtype=bool)
    for i in range(n_q):
        p = n_k - n_q + i
        for j in range(n_k):
            reach = window - n_sinks if shrink else window
            near = abs(p - j) < reach if strict else abs(p - j) <= reach
            in_window = near and (j <= p or both_ways)
            sink = j < n_sinks and (j <= p or sinks_see_future)
            mask[i, j] = in_window or sink
    return mask


# ------------------------------------------------------------------ chapter 15
def cache_bytes(n, b, layers, h, h_kv, d, e, *, pair=2, heads=None, batch=True, bits=1):
    return pair * layers * (h_kv if heads is None else heads) * d * n * (b if batch else 1) * e * bits


def quantize(x, axis, *, levels=127, rounding=np.rint, flip_axis=False, as_float=False):
    axis = (-2 if axis == -1 else -1) if flip_axis else axis
    scales = np.abs(x).max(axis=axis, keepdims=True) / levels
    codes = np.clip(rounding(np.divide(x, scales, out=np.zeros_like(x), where=scales > 0)), -127, 127)
    return (codes if as_float else codes.astype(np.int8)), scales


def read_pages(blocks, table, length, *, order=None, whole_blocks=False, heads_last=False):
    size = blocks.shape[2]
    table = {None: list(table), "pool": list(range(len(table))), "sorted": sorted(table),
             "reversed": list(table)[::-1]}[order]
    rows = [blocks[table[p // size], :, p % size] for p in range(length)]  # each (n_kv_heads, d_head)
    if whole_blocks:
        rows = [blocks[b, :, o] for b in table for o in range(size)]
    out = np.stack(rows, axis=0)  # (length, n_kv_heads, d_head)
    return out if heads_last else np.swapaxes(out, 0, 1)


def split_kv(q, k, v, n, *, average=False, summary="lse", cut="floor", shift=True):
    n_k, d_k = k.shape[-2], q.shape[-1]
    if cut == "floor":
        bounds = [(c * n_k // n, (c + 1) * n_k // n) for c in range(n)]
    else:
        sizes = [n_k // n + (1 if c < n_k % n else 0) for c in range(n)]
        ends = np.cumsum(sizes)
        bounds = [(int(e - s), int(e)) for s, e in zip(sizes, ends)]
    outputs, lses = [], []
    for start, end in bounds:
        s = q @ T(k[..., start:end, :]) / math.sqrt(d_k)
        outputs.append(stable(s) @ v[..., start:end, :])
        raw = s * math.sqrt(d_k) if summary == "unscaled" else s
        top = raw.max(axis=-1)
        lses.append(top if summary == "max" else top + np.log(np.exp(raw - top[..., None]).sum(axis=-1)))
    lses = np.array(lses)
    if average:
        return sum(outputs) / n, lses
    weights = np.exp(lses - (lses.max(axis=0) if shift else 0.0))
    return sum(w[..., None] * o for w, o in zip(weights, outputs)) / weights.sum(axis=0)[..., None], lses


CORRECT = {
    qkv.check_hard_lookup: hard_lookup,
    qkv.check_gaussian_weights: gaussian,
    qkv.check_nadaraya_watson: regression,
    qkv.check_boxcar_weights: boxcar,
    qkv.check_projected_attention: projected,
    variants.check_sliding_window_mask: window_mask,
    variants.check_causal_linear_attention: linear_loop,
    variants.check_decayed_recurrence: decay_loop,
    variants.check_delta_rule: delta_loop,
    long_context.check_rescaled_frequencies: frequencies,
    long_context.check_yarn_frequencies: yarn,
    long_context.check_rolling_cache_decode: rolling,
    long_context.check_sink_window_mask: sinks_mask,
    inference.check_kv_cache_bytes: cache_bytes,
    inference.check_quantize_int8: quantize,
    inference.check_read_paged: read_pages,
    inference.check_split_kv_attention: split_kv,
}

WRONG = [
    # ------------------------------------------------------------------ chapter 2
    (qkv.check_hard_lookup, lambda q, k, v: hard_lookup(q, k, v, nearest=True), "the NEAREST key"),
    (qkv.check_hard_lookup, lambda q, k, v: hard_lookup(q, k, v, missing=float(v.mean())), "not the mean of"),
    (qkv.check_hard_lookup, lambda q, k, v: hard_lookup(q, k, v, count=True), "you counted the matching keys"),
    (qkv.check_hard_lookup, lambda q, k, v: hard_lookup(q, k, v, missing=math.nan), "not NaN"),
    (qkv.check_gaussian_weights, lambda q, k, s: gaussian(q, k, s, denominator=2 * s), "you divided by 2 sigma"),
    (qkv.check_gaussian_weights, lambda q, k, s: gaussian(q, k, s, denominator=s * s), "the 2 is missing"),
    (qkv.check_gaussian_weights, lambda q, k, s: gaussian(q, k, s, sign=1.0), "grow with the distance"),
    (qkv.check_gaussian_weights, lambda q, k, s: gaussian(q, k, s, power=1), "uses its square"),
    (qkv.check_gaussian_weights, lambda q, k, s: gaussian(q, k, s, axis=0), "your columns sum to 1"),
    (qkv.check_gaussian_weights, lambda q, k, s: gaussian(q, k, s, shift=False), "underflowed to 0"),
    (qkv.check_nadaraya_watson, lambda *a: regression(*a, normalise="none"), "not normalised"),
    (qkv.check_nadaraya_watson, lambda *a: regression(*a, normalise="count"), "number of training points"),
    (qkv.check_nadaraya_watson, lambda *a: regression(*a, normalise="columns"), "over the queries"),
    (qkv.check_nadaraya_watson, lambda xq, xt, yt, s: np.full(len(xq), yt.mean()), "mean of y_train"),
    (qkv.check_boxcar_weights, lambda q, k, s: boxcar(q, k, s, strict=True), "AT MOST sigma"),
    (qkv.check_boxcar_weights, lambda q, k, s: boxcar(q, k, s, width=s * s), "your window is ±sigma^2"),
    (qkv.check_boxcar_weights, lambda q, k, s: boxcar(q, k, s, empty="nan"), "0 / 0 is NaN"),
    (qkv.check_boxcar_weights, lambda q, k, s: boxcar(q, k, s, empty="uniform"), "must all be 0"),
    (qkv.check_boxcar_weights, lambda q, k, s: boxcar(q, k, s, normalise=False), "your rows do not sum to 1"),
    (qkv.check_projected_attention, lambda x, *w: projected(x, *w, width=x.shape[-1]), "1/sqrt(d_model)"),
    (qkv.check_projected_attention, lambda x, *w: projected(x, *w, keys_with_q=True), "your keys use W_Q"),
    (qkv.check_projected_attention, lambda x, *w: projected(x, *w, plain_values=True), "V = x W_V"),
    (qkv.check_projected_attention, lambda x, *w: projected(x, *w, width=1), "the scaling is missing"),
    (qkv.check_projected_attention, lambda x, *w: projected(x, *w, transpose=True), "output differs from the expected"),
    (qkv.check_projected_attention, lambda x, *w: projected(x, *w)[::-1], "the right arrays in the wrong order"),
    # ------------------------------------------------------------------ chapter 10
    (variants.check_sliding_window_mask, lambda *a: window_mask(*a, strict=True), "off by one"),
    (variants.check_sliding_window_mask, lambda *a: window_mask(*a, top_left=True), "aligned top-left"),
    (variants.check_sliding_window_mask, lambda *a: window_mask(*a, ignore_causal=True), "causal=True has no effect"),
    (variants.check_sliding_window_mask, lambda *a: window_mask(*a, forward=True), "looks forward"),
    (variants.check_sliding_window_mask, lambda *a: ~window_mask(*a), "inverted"),
    (variants.check_causal_linear_attention, lambda q, k, v: linear_loop(q, k, v, causal=False), "ALL positions"),
    (variants.check_causal_linear_attention, lambda q, k, v: linear_loop(q, k, v, normalise=False),
     "the normaliser is missing"),
    (variants.check_causal_linear_attention, lambda q, k, v: linear_loop(q, k, v, feature=lambda x: x),
     "as they are"),
    (variants.check_causal_linear_attention, lambda q, k, v: linear_loop(q, k, v, feature=np.exp),
     "your feature map is exp(x)"),
    (variants.check_causal_linear_attention, lambda q, k, v: linear_loop(q, k, v, read_first=True),
     "write the pair"),
    (variants.check_causal_linear_attention, lambda q, k, v: linear_loop(q.astype(float), k.astype(float), v),
     "float32 inputs must give"),
    (variants.check_decayed_recurrence, lambda *a: decay_loop(*a, mode="all"), "you decay the new write too"),
    (variants.check_decayed_recurrence, lambda *a: decay_loop(*a, mode="write"), "multiplied the new write"),
    (variants.check_decayed_recurrence, lambda *a: decay_loop(*a, read_first=True), "before writing the new pair"),
    (variants.check_decayed_recurrence, lambda *a: decay_loop(*a, mode="none"), "never decays"),
    (variants.check_delta_rule, lambda *a: delta_loop(*a, subtract=False), "only adds"),
    (variants.check_delta_rule, lambda *a: delta_loop(*a, probe="q"), "with the query"),
    (variants.check_delta_rule, lambda *a: delta_loop(*a, use_eta=False), "ignored the writing strength"),
    (variants.check_delta_rule, lambda *a: delta_loop(*a, read_first=True), "before writing the new pair"),
    # ------------------------------------------------------------------ chapter 14
    (long_context.check_rescaled_frequencies, lambda *a: frequencies(*a, multiply=True), "faster than the trained"),
    (long_context.check_rescaled_frequencies, lambda *a: frequencies(*a, power=1.0), "multiplied the base by the scale"),
    (long_context.check_rescaled_frequencies, lambda d, *a: frequencies(d, *a, power=(d - 2) / d), "upside down"),
    (long_context.check_rescaled_frequencies, lambda *a: frequencies(*a, pair_step=1), "fall too slowly"),
    (long_context.check_rescaled_frequencies, lambda *a: frequencies(*a, swap=True), "swapped the two methods"),
    (long_context.check_yarn_frequencies, lambda *a: yarn(*a, reverse=True), "your blend is reversed"),
    (long_context.check_yarn_frequencies, lambda *a: yarn(*a, radians=True), "turns in radians"),
    (long_context.check_yarn_frequencies, lambda *a: yarn(*a, clip=False), "not clipped"),
    (long_context.check_yarn_frequencies, lambda d, b, s, n: b ** (-np.arange(0, d, 2) / d) / s,
     "differs from the expected answer"),
    (long_context.check_rolling_cache_decode, lambda q, k, v, w: rolling(q, k, v, w, slots=w), "`window` slots"),
    (long_context.check_rolling_cache_decode, lambda *a: rolling(*a, read_empty=True), "never written (zeros)"),
    (long_context.check_rolling_cache_decode, lambda *a: rolling(*a, keep_all=True), "see every earlier position"),
    (long_context.check_rolling_cache_decode, lambda *a: rolling(*a, empty=0), "the position -1, not 0"),
    (long_context.check_rolling_cache_decode, lambda *a: rolling(*a)[0], "expected a tuple of 2 arrays"),
    (long_context.check_sink_window_mask, lambda *a: sinks_mask(*a, sinks_see_future=True), "comes after it"),
    (long_context.check_sink_window_mask, lambda *a: sinks_mask(*a, strict=True), "off by one"),
    (long_context.check_sink_window_mask, lambda *a: sinks_mask(*a, both_ways=True), "looks forward too"),
    (long_context.check_sink_window_mask, lambda *a: sinks_mask(*a, shrink=True), "they come on top of it"),
    # ------------------------------------------------------------------ chapter 15
    (inference.check_kv_cache_bytes, lambda *a: cache_bytes(*a, pair=1), "a key AND a value"),
    (inference.check_kv_cache_bytes, lambda n, b, layers, h, *a: cache_bytes(n, b, layers, h, *a, heads=h),
     "you counted every query head"),
    (inference.check_kv_cache_bytes, lambda *a: cache_bytes(*a, batch=False), "ignores the batch"),
    (inference.check_kv_cache_bytes, lambda *a: cache_bytes(*a, bits=8), "you counted bits"),
    (inference.check_kv_cache_bytes, lambda *a: cache_bytes(*a) / 1.0, "expected whole numbers"),
    (inference.check_quantize_int8, lambda x, a: quantize(x, a, rounding=np.trunc), "truncated towards zero"),
    (inference.check_quantize_int8, lambda x, a: quantize(x, a, levels=128), "max|x| / 128"),
    (inference.check_quantize_int8, lambda x, a: quantize(x, a, levels=255), "max|x| / 255"),
    (inference.check_quantize_int8, lambda x, a: quantize(x, a, flip_axis=True), "run along the other axis"),
    (inference.check_quantize_int8, lambda x, a: quantize(x, a, as_float=True), "stored as int8"),
    (inference.check_read_paged, lambda *a: read_pages(*a, order="pool"), "ignoring the block table"),
    (inference.check_read_paged, lambda *a: read_pages(*a, order="sorted"), "in the order of their numbers"),
    (inference.check_read_paged, lambda *a: read_pages(*a, order="reversed"), "from its end"),
    (inference.check_read_paged, lambda *a: read_pages(*a, whole_blocks=True), "has shape (1, 6, 1), expected (1, 5, 1)"),
    (inference.check_split_kv_attention, lambda *a: split_kv(*a, average=True), "you averaged the chunks"),
    (inference.check_split_kv_attention, lambda *a: split_kv(*a, summary="max"), "by its largest score"),
    (inference.check_split_kv_attention, lambda *a: split_kv(*a, summary="unscaled"), "of the unscaled scores"),
    (inference.check_split_kv_attention, lambda *a: split_kv(*a, cut="numpy"), "your chunks are cut elsewhere"),
    (inference.check_split_kv_attention, lambda *a: split_kv(*a, shift=False), "overflow"),
    (inference.check_split_kv_attention, lambda *a: split_kv(*a)[0], "expected a tuple of 2 arrays"),
    (inference.check_read_paged, lambda *a: read_pages(*a, heads_last=True), "has shape (5, 1, 1), expected (1, 5, 1)"),
]


(test_a_wrong_implementation_is_caught_with_the_right_message,
 test_a_correct_implementation_written_here_passes,
 test_every_check_has_a_correct_and_three_wrong_implementations) = wrong_table_tests(WRONG, CORRECT, checks_of((qkv, variants, long_context, inference)))


# ------------------------------------------------------------------ the references written in the modules
def test_the_hard_lookup_reference_is_a_dictionary_lookup():
    log = {6.0: 11.0, 12.0: 19.0, 18.0: 15.0}
    asked = np.array([6.0, 12.0, 13.0, 21.0, 18.0])
    expected = [log.get(hour, 0.0) for hour in asked]
    np.testing.assert_array_equal(qkv.hard_lookup_reference(asked, np.array(list(log)), np.array(list(log.values()))),
                                  expected)


def test_the_paged_reference_reads_what_the_paged_cache_stored():
    rng = np.random.default_rng(3)
    cache = ac.PagedKVCache(block_size=3, n_blocks=12, n_kv_heads=2, d_head=4)
    kept = {}
    for sequence, t in [(0, 4), (1, 2), (2, 7), (0, 3), (1, 5), (2, 1)]:  # interleaved, as on a server
        keys, values = rng.standard_normal((2, 2, t, 4))
        cache.append(sequence, keys, values)
        old = kept.get(sequence, (np.zeros((2, 0, 4)),) * 2)
        kept[sequence] = (np.concatenate([old[0], keys], axis=1), np.concatenate([old[1], values], axis=1))
    for sequence, (keys, values) in kept.items():
        table, length = cache.block_tables[sequence], cache.lengths[sequence]
        np.testing.assert_array_equal(inference.read_paged_reference(cache.key_blocks, table, length), keys)
        np.testing.assert_array_equal(inference.read_paged_reference(cache.value_blocks, table, length), values)


def test_the_chunks_log_sum_exps_merge_into_the_full_one_and_split_kv_is_attention():
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 11, 4)), rng.standard_normal((2, 11, 2))
    scores = q @ T(k) / 2.0  # (2, 3, 11), d_k = 4
    full = np.log(np.exp(scores).sum(axis=-1))  # (2, 3)
    for n_splits in (1, 2, 3, 5, 11):
        chunks = inference.chunk_log_sum_exps(q, k, n_splits)
        assert chunks.shape == (n_splits, 2, 3)
        np.testing.assert_allclose(np.logaddexp.reduce(chunks, axis=0), full)
        output, lse = inference._split(q, k, v, n_splits)
        np.testing.assert_allclose(output, ac.scaled_dot_product_attention(q, k, v)[0])
        np.testing.assert_allclose(lse, chunks)


def test_the_rolling_reference_equals_sliding_window_attention():
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((3, 2, 11, 3))
    for window in (1, 3, 12):
        outputs, slot_positions = long_context._rolling(q, k, v, window)
        masked, _ = ac.scaled_dot_product_attention(q, k, v, mask=ac.sliding_window_mask(11, window=window,
                                                                                          causal=True))
        np.testing.assert_allclose(outputs, masked, atol=1e-12)
        by_hand = [max((p for p in range(11) if p % (window + 1) == slot), default=-1) for slot in range(window + 1)]
        assert slot_positions.tolist() == by_hand


def test_an_integer_answer_given_as_floats_is_explained():
    """feedback.py: an integer reference (a count, int8 codes) no longer accepts float answers."""
    result = check_function("count", lambda n: float(n), lambda n: int(n), [Case("three", (3,))],
                            argument_names=("n",), hint="none.", verbose=False)
    assert not result.passed and "expected whole numbers" in result.message
    codes = check_function("codes", lambda x: x.astype(float), lambda x: x.astype(np.int8),
                           [Case("two", (np.array([1.0, 2.0]),))], argument_names=("x",), hint="none.",
                           verbose=False)
    assert not codes.passed and "stored as int8" in codes.message
    assert check_function("count", lambda n: np.int32(n), lambda n: int(n), [Case("three", (3,))],
                          argument_names=("n",), hint="none.", verbose=False).passed


# ------------------------------------------------------------------ the sections cited exist
NEW_WORKBOOKS = {"02_queries_keys_values": qkv, "10_gallery_of_variants": variants, "14_long_context": long_context,
                 "15_inference": inference}
QUOTED_TITLE = re.compile(r"(?<![A-Za-z])'([A-Z][^']+)'")


def _headings(chapter: str) -> set[str]:
    cells = json.loads((ROOT / "chapters" / f"{chapter}.ipynb").read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    return {line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("stem", list(NEW_WORKBOOKS))
def test_every_section_a_new_workbook_cites_is_a_heading_of_its_chapter(stem):
    """The statements, the 'What next' cell and the checks' hints quote the chapter's section titles:
    a chapter that renames a section makes this test name the stale quotation."""
    cells = json.loads((ROOT / "workbooks" / "source" / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]
    quoted = {title for cell in cells if cell["cell_type"] == "markdown"
              for title in QUOTED_TITLE.findall("".join(cell["source"]))}
    quoted |= set(QUOTED_TITLE.findall(Path(NEW_WORKBOOKS[stem].__file__).read_text(encoding="utf-8")))
    quoted = {" ".join(title.split()) for title in quoted}  # a title may be wrapped over two lines
    assert quoted, stem
    assert sorted(quoted - _headings(stem)) == []


# ------------------------------------------------------------------ the review's rules, for these checks too
NEW_CHECKS = list(CORRECT)


@pytest.mark.parametrize("check", NEW_CHECKS, ids=lambda c: c.__name__)
def test_a_hint_asks_and_names_the_section_but_never_gives_the_solution(check):
    from tests.workbooks.test_wrong_implementations import FORBIDDEN_IN_HINTS

    message = check(lambda *args: None, verbose=False).message
    hint = message.split("   Hint: ", 1)[1].split("\n")[0]
    assert hint.startswith("Chapter ") and "?" in hint, hint
    assert [fragment for fragment in FORBIDDEN_IN_HINTS if fragment in hint] == [], hint


@pytest.mark.parametrize("check", NEW_CHECKS, ids=lambda c: c.__name__)
def test_a_correct_function_that_calls_attn_core_fails(check):
    def delegating(*args):
        ac.softmax(np.zeros(2))
        return CORRECT[check](*args)

    result = check(delegating, verbose=False)
    assert not result.passed and result.points(2) == 0.0
    assert "your function calls attn_core (attn_core.softmax.softmax)" in result.message
