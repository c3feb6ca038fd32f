"""Wrong implementations for the later workbooks (chapters 8, 9, 11, 13): each caught with the
right message, and a correct implementation written here passes (see
test_wrong_implementations.py for the rules)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.workbooks.wrong_tables import checks_of, wrong_table_tests

from attn_core.experiments import interpretability as lab
from attn_core.workbooks import efficiency, interpretability, multihead, positions

T = lambda x: np.swapaxes(x, -1, -2)  # noqa: E731


def stable(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def split(x, h):
    *lead, n, w = x.shape
    return np.swapaxes(x.reshape(*lead, n, h, w // h), -2, -3)


def merge(x):
    x = np.swapaxes(x, -2, -3)
    return x.reshape(*x.shape[:-2], -1)


def mha(x, wq, wk, wv, wo, h, causal, *, scale_width=None, project_out=True, use_causal=True):
    q, k, v = split(x @ wq, h), split(x @ wk, h), split(x @ wv, h)
    s = q @ T(k) / math.sqrt(scale_width or q.shape[-1])
    if causal and use_causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf)
    a = stable(s)
    out = merge(a @ v)
    return (out @ wo if project_out else out), a


def gqa(q, k, v, *, tile=False, scale=None):
    g = q.shape[-3] // k.shape[-3]
    if tile:
        reps = (1,) * (k.ndim - 3) + (g, 1, 1)
        k, v = np.tile(k, reps), np.tile(v, reps)
    else:
        k, v = np.repeat(k, g, axis=-3), np.repeat(v, g, axis=-3)
    return stable(q @ T(k) / (scale or math.sqrt(q.shape[-1]))) @ v


def decode(q, k, v, kc, vc, *, see_self=True, prepend=False, return_old=False):
    keys = np.concatenate([k, kc] if prepend else [kc, k], axis=-2)
    values = np.concatenate([v, vc] if prepend else [vc, v], axis=-2)
    read_k, read_v = (keys, values) if see_self else (kc, vc)
    out = stable(q @ T(read_k) / math.sqrt(q.shape[-1])) @ read_v
    return (out, kc, vc) if return_old else (out, keys, values)


def sinusoids(n, d, *, exponent=2.0, swap=False, halves=False, base=10000.0):
    a = np.arange(n)[:, None] * base ** (-exponent * np.arange(d // 2) / d)
    s, c = (np.cos(a), np.sin(a)) if swap else (np.sin(a), np.cos(a))
    if halves:
        return np.concatenate([s, c], axis=-1)
    t = np.empty((n, d))
    t[:, 0::2], t[:, 1::2] = s, c
    return t


def rope(x, p, *, sign=1.0, half=False, ignore_positions=False):
    d = x.shape[-1]
    p = np.arange(x.shape[-2], dtype=float) if ignore_positions else p
    a = sign * p[:, None] * 10000.0 ** (-2 * np.arange(d // 2) / d)
    c, s = np.cos(a), np.sin(a)
    first, second = (slice(0, d // 2), slice(d // 2, None)) if half else (slice(0, None, 2), slice(1, None, 2))
    out = np.empty_like(x)
    out[..., first] = x[..., first] * c - x[..., second] * s
    out[..., second] = x[..., first] * s + x[..., second] * c
    return out


def alibi(n_q, n_k, h, *, sign=-1.0, reverse=False, top_left=False, signed=False):
    slopes = 2.0 ** (-8.0 * np.arange(1, h + 1) / h)
    slopes = slopes[::-1] if reverse else slopes
    positions = np.arange(n_q) if top_left else np.arange(n_k - n_q, n_k)
    distance = positions[:, None] - np.arange(n_k)[None, :]
    return sign * slopes[:, None, None] * (distance if signed else np.abs(distance))


def online(blocks, *, shrink_total=True, shrink_weighted=True, fixed_max=False, final_max=False):
    """The online softmax over a stream of (scores, values) blocks: (output, maxima, sums)."""
    m, total, acc, maxima, sums, seen = -math.inf, 0.0, 0.0, [], [], []
    for block, values in blocks:
        new = block.max() if m == -math.inf or not fixed_max else m
        new = max(m, new)
        shrink = math.exp(m - new)
        e = np.exp(block - new)
        total = (total * shrink if shrink_total else total) + e.sum()
        acc = (acc * shrink if shrink_weighted else acc) + e @ values
        m = new
        seen.append(block)
        maxima.append(m)
        sums.append(total)
    if final_max:
        everything = np.concatenate(seen)
        sums = [np.exp(everything[:len(np.concatenate(seen[:t + 1]))] - everything.max()).sum() for t in range(len(seen))]
    dtype = seen[0].dtype
    return (acc / total).astype(dtype), np.array(maxima, dtype=dtype), np.array(sums, dtype=dtype)


def online_not_online(blocks):
    """The reviewer's cheat: the whole softmax at the end and a running maximum, no running sum."""
    pairs = list(blocks)
    s, v = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
    maxima = np.maximum.accumulate([p[0].max() for p in pairs])
    return stable(s) @ v, maxima, np.ones(len(pairs))


def merge_partial(oa, la, ob, lb, *, stable_shift=True):
    top = np.maximum(la, lb) if stable_shift else 0.0
    wa, wb = np.exp(la - top), np.exp(lb - top)
    return (wa[..., None] * oa + wb[..., None] * ob) / (wa + wb)[..., None], top + np.log(wa + wb)


def tiled(q, k, v, b, *, shrink=True, scale=None):
    sc = scale or 1 / math.sqrt(q.shape[-1])
    dtype = np.result_type(q, k, v)
    m = np.full(q.shape[:-1] + (1,), -np.inf, dtype=dtype)
    total, acc = np.zeros(q.shape[:-1] + (1,), dtype=dtype), np.zeros(q.shape[:-1] + (v.shape[-1],), dtype=dtype)
    for start in range(0, k.shape[-2], b):
        s = q @ T(k[..., start:start + b, :]) * sc
        new = np.maximum(m, s.max(-1, keepdims=True))
        f = np.exp(m - new) if shrink else 1.0
        e = np.exp(s - new)
        total, acc, m = total * f + e.sum(-1, keepdims=True), acc * f + e @ v[..., start:start + b, :], new
    return acc / total


def mix(a, r, *, renormalise=True, transpose=False):
    a = a.T if transpose else a
    m = (1 - r) * a + r * np.eye(a.shape[-1])
    s = m.sum(-1, keepdims=True)
    return np.divide(m, s, out=np.zeros_like(m), where=s > 0) if renormalise else m


def rollout(w, r, *, right=False, raw=False, heads="mean"):
    if w.ndim == 4:
        w = w.mean(axis=1) if heads == "mean" else (w.sum(axis=1) if heads == "sum" else w[:, 0])
    out, R = [], np.eye(w.shape[-1])
    for a in w:
        m = a if raw else mix(a, r)
        R = R @ m if right else m @ R
        out.append(R)
    return np.array(out)


def removal(a, v, *, renormalise=True, order=2, last_only=False):
    o = a @ v
    eff = np.zeros(a.shape)
    for j in range(a.shape[-1]):
        kept = a.copy()
        kept[:, j] = 0
        t = kept.sum(-1, keepdims=True)
        if renormalise:
            kept = np.divide(kept, t, out=np.zeros_like(kept), where=t > 1e-12)
        eff[:, j] = np.linalg.norm(o - kept @ v, ord=order, axis=-1)
    return eff[:, -1:] if last_only else eff


CORRECT = {
    multihead.check_split_heads: split,
    multihead.check_merge_heads: merge,
    multihead.check_multi_head_attention: mha,
    multihead.check_grouped_query_attention: gqa,
    multihead.check_decode_step: decode,
    positions.check_sinusoidal_positions: sinusoids,
    positions.check_rotary_embedding: rope,
    positions.check_alibi_bias: alibi,
    efficiency.check_online_softmax: online,
    efficiency.check_merge_partial: merge_partial,
    efficiency.check_tiled_attention: tiled,
    interpretability.check_residual_mix: mix,
    interpretability.check_attention_rollout: rollout,
    interpretability.check_removal_effect: removal,
}

WRONG = [
    # ------------------------------------------------------------------ chapter 8
    (multihead.check_split_heads, lambda x, h: np.moveaxis(x.reshape(*x.shape[:-1], x.shape[-1] // h, h), -1, -3),
     "every n_heads-th column"),
    (multihead.check_split_heads, lambda x, h: x.reshape(*x.shape[:-2], h, x.shape[-2], x.shape[-1] // h),
     "you reshaped straight to (n_heads, n, d_head)"),
    (multihead.check_split_heads, lambda x, h: x.reshape(*x.shape[:-1], h, x.shape[-1] // h), "another arrangement"),
    (multihead.check_split_heads, lambda x, h: split(x[None], h)[0] if x.ndim == 2 else x.reshape(-1), "has shape"),
    (multihead.check_merge_heads, lambda x: x.reshape(*x.shape[:-3], x.shape[-2], -1), "without first moving the heads"),
    (multihead.check_merge_heads, lambda x: np.moveaxis(x, -3, -1).reshape(*x.shape[:-3], x.shape[-2], -1),
     "your columns interleave the heads"),
    (multihead.check_merge_heads, lambda x: np.swapaxes(x, -2, -3), "has shape (2, 2, 2), expected (2, 4)"),
    (multihead.check_multi_head_attention, lambda *a: mha(*a, scale_width=a[1].shape[0]), "1/sqrt(d_model)"),
    (multihead.check_multi_head_attention, lambda *a: mha(*a, project_out=False), "output projection is missing"),
    (multihead.check_multi_head_attention, lambda *a: mha(*a, use_causal=False), "causal=True has no effect"),
    (multihead.check_multi_head_attention, lambda *a: mha(*a)[0], "expected a tuple of 2 arrays"),
    (multihead.check_grouped_query_attention, lambda q, k, v: gqa(q, k, v, tile=True), "np.tile"),
    (multihead.check_grouped_query_attention, lambda q, k, v: stable(q[..., :k.shape[-3], :, :] @ T(k)) @ v, "has shape"),
    (multihead.check_grouped_query_attention, lambda q, k, v: gqa(q, k, v, scale=1.0), "differs from the expected"),
    (multihead.check_decode_step, lambda *a: decode(*a, see_self=False), "does not see itself"),
    (multihead.check_decode_step, lambda *a: decode(*a, prepend=True), "at the start of the cache"),
    (multihead.check_decode_step, lambda *a: decode(*a, return_old=True), "k_cache has shape (1, 2), expected (2, 2)"),
    # ------------------------------------------------------------------ chapter 9
    (positions.check_sinusoidal_positions, lambda n, d: sinusoids(n, d, swap=True), "sin and cos are swapped"),
    (positions.check_sinusoidal_positions, lambda n, d: sinusoids(n, d, halves=True), "interleaves them"),
    (positions.check_sinusoidal_positions, lambda n, d: sinusoids(n, d, exponent=1.0), "frequencies fall too slowly"),
    (positions.check_sinusoidal_positions, lambda n, d: sinusoids(n, d, base=1000.0), "differs from the expected"),
    (positions.check_rotary_embedding, lambda x, p: rope(x, p, sign=-1.0), "you rotate the wrong way"),
    (positions.check_rotary_embedding, lambda x, p: rope(x, p, half=True), "rotate half"),
    (positions.check_rotary_embedding, lambda x, p: rope(x, p, ignore_positions=True), "ignores the positions"),
    (positions.check_rotary_embedding, lambda x, p: rope(x.astype(np.float64), p), "float32 inputs must give"),
    (positions.check_alibi_bias, lambda *a: alibi(*a, sign=1.0), "your bias is positive"),
    (positions.check_alibi_bias, lambda *a: alibi(*a, reverse=True), "slopes are in reverse order"),
    (positions.check_alibi_bias, lambda *a: alibi(*a, top_left=True), "they are the LAST n_q positions"),
    (positions.check_alibi_bias, lambda *a: alibi(*a, signed=True), "Use the absolute distance"),
    # ------------------------------------------------------------------ chapter 11
    (efficiency.check_online_softmax, lambda *a: online(*a, shrink_weighted=False), "but not the running weighted sum"),
    (efficiency.check_online_softmax, lambda *a: online(*a, shrink_total=False), "but not the running sum of"),
    (efficiency.check_online_softmax, lambda *a: online(*a, shrink_total=False, shrink_weighted=False),
     "nothing is rescaled"),
    (efficiency.check_online_softmax, lambda *a: online(*a, fixed_max=True), "running_max differs"),
    (efficiency.check_online_softmax, lambda *a: online(*a, final_max=True), "measured against the final maximum"),
    (efficiency.check_online_softmax, online_not_online, "running_sum differs"),
    (efficiency.check_online_softmax, lambda blocks: online(blocks)[:2], "expected a tuple of 3 arrays"),
    (efficiency.check_merge_partial, lambda oa, la, ob, lb: ((oa + ob) / 2, np.logaddexp(la, lb)), "you averaged"),
    (efficiency.check_merge_partial, lambda *a: (merge_partial(*a)[0], np.maximum(a[1], a[3])), "not the larger"),
    (efficiency.check_merge_partial, lambda *a: (merge_partial(*a)[0], a[1] + a[3]), "not lse_a + lse_b"),
    (efficiency.check_merge_partial, lambda *a: merge_partial(*a, stable_shift=False), "overflow"),
    (efficiency.check_tiled_attention, lambda *a: tiled(*a, shrink=False), "do not shrink the earlier sums"),
    (efficiency.check_tiled_attention, lambda q, k, v, b: np.mean([tiled(q, k[..., s:s + b, :], v[..., s:s + b, :], b)
                                                                   for s in range(0, k.shape[-2], b)], axis=0),
     "you averaged the blocks"),
    (efficiency.check_tiled_attention, lambda *a: tiled(*a, scale=1.0), "differs from the expected"),
    (efficiency.check_tiled_attention, lambda q, k, v, b: stable(q @ T(k) / math.sqrt(q.shape[-1])) @ v,
     "peak memory"),
    (efficiency.check_tiled_attention, lambda q, k, v, b: tiled(q.astype(np.float64), k, v, b), "float32 inputs must"),
    # ------------------------------------------------------------------ chapter 13
    (interpretability.check_residual_mix, lambda a, r: mix(a, r, renormalise=False), "must be renormalised"),
    (interpretability.check_residual_mix, lambda a, r: mix(a, 1 - r), "your shares are swapped"),
    (interpretability.check_residual_mix, lambda a, r: mix(a, r, transpose=True), "transposed"),
    (interpretability.check_attention_rollout, lambda w, r: rollout(w, r, right=True), "wrong order"),
    (interpretability.check_attention_rollout, lambda w, r: rollout(w, r, raw=True), "you chained the raw maps"),
    (interpretability.check_attention_rollout, lambda w, r: rollout(w, r, heads="sum"), "you summed the heads"),
    (interpretability.check_attention_rollout, lambda w, r: rollout(w, r)[-1], "has shape"),
    (interpretability.check_removal_effect, lambda a, v: removal(a, v, renormalise=False), "without renormalising"),
    (interpretability.check_removal_effect, lambda a, v: removal(a, v, order=1), "sum of absolute differences"),
    (interpretability.check_removal_effect, lambda a, v: np.linalg.norm((a @ v)[:, None, :], axis=-1) * a,
     "not the weight times the output's length"),
    (interpretability.check_removal_effect, lambda a, v: removal(a, v, last_only=True), "has shape (1, 1), expected (1, 3)"),
]


(test_a_wrong_implementation_is_caught_with_the_right_message,
 test_a_correct_implementation_written_here_passes,
 test_every_check_has_a_correct_and_three_wrong_implementations) = wrong_table_tests(WRONG, CORRECT, checks_of((multihead, positions, efficiency, interpretability)))


@pytest.mark.parametrize("residual", [0.0, 0.3, 0.5, 1.0])
def test_the_interpretability_references_equal_the_chapters_functions(residual):
    """The workbook writes its own references (it imports the library only): they must be the
    chapter's attention_rollout and removal_effect."""
    maps = interpretability._layers(7, (3, 2, 4, 4))
    np.testing.assert_allclose(interpretability.rollout_reference(maps, residual),
                               lab.attention_rollout(maps, residual=residual))
    with_empty_row = np.array([interpretability.EMPTY_ROW, interpretability.PREVIOUS])
    np.testing.assert_allclose(interpretability.rollout_reference(with_empty_row, residual),
                               lab.attention_rollout(with_empty_row, residual=residual))
    weights, values = interpretability._layers(8, (3, 5)), np.random.default_rng(9).standard_normal((5, 2))
    np.testing.assert_allclose(interpretability.removal_effect_reference(weights, values),
                               lab.removal_effect(weights, values), atol=1e-12)


@pytest.mark.parametrize("check", list(CORRECT), ids=lambda c: c.__name__)
def test_a_correct_function_that_calls_attn_core_fails(check):
    """Delegating to the library (the reference) is not writing it: the check says so and scores 0."""
    import attn_core

    def delegating(*args):
        attn_core.softmax(np.zeros(2))
        return CORRECT[check](*args)

    result = check(delegating, verbose=False)
    assert not result.passed and "your function calls attn_core (attn_core.softmax.softmax)" in result.message
