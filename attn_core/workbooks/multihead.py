"""Checks for the workbook of chapter 8, "Multi-head attention": split and merge heads, the
layer, grouped-query sharing of keys and values, and one decoding step with a key/value cache.

Head j owns columns ``j*d_head:(j+1)*d_head`` of a projection; with grouped heads query head
j reads key/value head ``j // (n_heads // n_kv_heads)``.

Examples
--------
>>> import numpy as np
>>> check_merge_heads(lambda x: np.concatenate(list(np.moveaxis(x, -3, 0)), axis=-1), verbose=False).passed
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.attention import scaled_dot_product_attention
from attn_core.multihead import MultiHeadAttention
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_split_heads", "check_merge_heads", "check_multi_head_attention",
           "check_grouped_query_attention", "check_decode_step"]


def _split(x: np.ndarray, n_heads: int) -> np.ndarray:
    *lead, n, width = x.shape
    return np.swapaxes(x.reshape(*lead, n, n_heads, width // n_heads), -2, -3)  # (..., h, n, d_head)


def _merge(x: np.ndarray) -> np.ndarray:
    *lead, h, n, d_head = x.shape
    return np.swapaxes(x, -2, -3).reshape(*lead, n, h * d_head)  # (..., n, h * d_head)


def check_split_heads(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``split_heads(x, n_heads)``: (..., n, n_heads * d_head) -> (..., n_heads, n, d_head)."""
    cases = [
        Case("3 positions, width 4, 2 heads", (np.arange(12.0).reshape(3, 4), 2)),
        Case("3 positions, width 6, 3 heads", (np.arange(18.0).reshape(3, 6), 3)),
        Case("a batch (2, 3, 8) and 4 heads", (random_array(90, (2, 3, 8)), 4), kind="batch"),
        Case("one head: nothing to split", (random_array(91, (3, 4)), 1)),
    ]
    return check_function(
        "split_heads", function, _split, cases, argument_names=("x", "n_heads"),
        mistakes=[
            Mistake(lambda x, h: np.moveaxis(x.reshape(*x.shape[:-1], x.shape[-1] // h, h), -1, -3),
                    "your heads take every n_heads-th column; head j owns the consecutive columns "
                    "j*d_head .. (j+1)*d_head - 1: reshape the width as (n_heads, d_head), in that order."),
            Mistake(lambda x, h: x.reshape(*x.shape[:-2], h, x.shape[-2], x.shape[-1] // h),
                    "you reshaped straight to (n_heads, n, d_head): that cuts the array in memory order, "
                    "mixing positions into heads. Reshape to (n, n_heads, d_head) first, then swap two axes."),
        ],
        hint="Chapter 8, section 'All heads at once: split and merge': which consecutive columns belong to "
             "head j, and in which order does a reshape read the entries?",
        timeout=timeout, verbose=verbose)


def check_merge_heads(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``merge_heads(x)``: (..., n_heads, n, d_head) -> (..., n, n_heads * d_head), the
    inverse of ``split_heads``."""
    cases = [
        Case("2 heads, 2 positions, d_head 2", (np.arange(8.0).reshape(2, 2, 2),)),
        Case("3 heads, 4 positions, d_head 2", (random_array(92, (3, 4, 2)),)),
        Case("a batch (2, 4, 3, 2)", (random_array(93, (2, 4, 3, 2)),), kind="batch"),
    ]
    return check_function(
        "merge_heads", function, _merge, cases, argument_names=("x",),
        mistakes=[
            Mistake(lambda x: x.reshape(*x.shape[:-3], x.shape[-2], x.shape[-3] * x.shape[-1]),
                    "you reshaped without first moving the heads next to d_head: positions and heads got "
                    "mixed. Swap the axes (heads, n) -> (n, heads) before the reshape."),
            Mistake(lambda x: np.moveaxis(x, -3, -1).reshape(*x.shape[:-3], x.shape[-2], -1),
                    "your columns interleave the heads; head j's output must fill the consecutive columns "
                    "j*d_head .. (j+1)*d_head - 1."),
        ],
        hint="Chapter 8, section 'All heads at once: split and merge': merge_heads undoes split_heads; "
             "which of split_heads' steps must be undone first?",
        timeout=timeout, verbose=verbose)


def _layer(w_q, w_k, w_v, w_o, n_heads) -> MultiHeadAttention:
    layer = MultiHeadAttention(w_q.shape[0], n_heads, n_kv_heads=n_heads * w_k.shape[1] // w_q.shape[1], bias=False)
    layer.w_q, layer.w_k, layer.w_v, layer.w_o = w_q, w_k, w_v, w_o
    return layer


def _mha(x, w_q, w_k, w_v, w_o, n_heads, causal):
    return _layer(w_q, w_k, w_v, w_o, n_heads)(x, causal=causal)


def _mha_unscaled_heads(x, w_q, w_k, w_v, w_o, n_heads, causal):
    """Scaled by the model width instead of the head width."""
    q, k, v = (_split(x @ w, n_heads) for w in (w_q, w_k, w_v))
    heads, weights = scaled_dot_product_attention(q, k, v, causal=causal, scale=1 / np.sqrt(w_q.shape[0]))
    return _merge(heads) @ w_o, weights


def _mha_no_output_projection(x, w_q, w_k, w_v, w_o, n_heads, causal):
    output, weights = _mha(x, w_q, w_k, w_v, np.eye(w_o.shape[0]), n_heads, causal)
    return output, weights


def check_multi_head_attention(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``multi_head_attention(x, w_q, w_k, w_v, w_o, n_heads, causal) -> (output, weights)``:
    self-attention, no biases; output (..., n, d_model), weights (..., n_heads, n, n)."""
    def weights(seed: int, d: int) -> tuple:
        return tuple(random_array(seed + i, (d, d), scale=d ** -0.5) for i in range(4))

    cases = [
        Case("3 positions, d_model 4, 2 heads, not causal", (random_array(94, (3, 4)), *weights(100, 4), 2, False)),
        Case("5 positions, d_model 6, 3 heads, causal", (random_array(95, (5, 6)), *weights(110, 6), 3, True)),
        Case("a batch (2, 4, 8), 4 heads, causal", (random_array(96, (2, 4, 8)), *weights(120, 8), 4, True), kind="batch"),
        Case("one head (plain attention with projections)", (random_array(97, (3, 4)), *weights(130, 4), 1, False)),
        Case("float32, 2 heads, causal", (random_array(98, (3, 4), np.float32),
                                          *(w.astype(np.float32) for w in weights(135, 4)), 2, True), kind="float32"),
    ]
    return check_function(
        "multi_head_attention", function, _mha, cases,
        argument_names=("x", "w_q", "w_k", "w_v", "w_o", "n_heads", "causal"),
        output_names=("output", "weights"), weights_output=1,
        mistakes=[
            Mistake(_mha_unscaled_heads, "you scaled the scores by 1/sqrt(d_model); each head attends in its own "
                                         "d_head = d_model / n_heads dimensions, so the scale is 1/sqrt(d_head)."),
            Mistake(_mha_no_output_projection, "the output projection is missing: merge the heads, then multiply by w_o."),
            Mistake(lambda x, w_q, w_k, w_v, w_o, h, causal: _mha(x, w_q, w_k, w_v, w_o, h, False),
                    "causal=True has no effect in your function."),
        ],
        hint="Chapter 8, sections 'One head at a time' and 'All heads at once: split and merge': list the "
             "layer's steps from x to the output with the shape after each; in how many dimensions does one "
             "head attend? (If you call your split_heads or merge_heads, pass their checks first.)",
        helpers=[("split_heads", check_split_heads), ("merge_heads", check_merge_heads)],
        timeout=timeout, verbose=verbose)


def _gqa(q, k, v):
    group = q.shape[-3] // k.shape[-3]
    return scaled_dot_product_attention(q, np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3))[0]


def _gqa_tiled(q, k, v):
    group = q.shape[-3] // k.shape[-3]
    reps = (1,) * (k.ndim - 3) + (group, 1, 1)
    return scaled_dot_product_attention(q, np.tile(k, reps), np.tile(v, reps))[0]


def check_grouped_query_attention(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``grouped_query_attention(q, k, v)``: q (..., n_heads, n_q, d), k and v
    (..., n_kv_heads, n_k, d); query head j reads key/value head j // (n_heads // n_kv_heads).
    Returns the heads' outputs (..., n_heads, n_q, d_v)."""
    cases = [
        Case("4 query heads sharing 2 key/value heads, 2 queries, 3 keys",
             (random_array(140, (4, 2, 2)), random_array(141, (2, 3, 2)), random_array(142, (2, 3, 2)))),
        Case("6 query heads, 3 key/value heads, n_q = 1 (a decoding step), 5 keys",
             (random_array(143, (6, 1, 4)), random_array(144, (3, 5, 4)), random_array(145, (3, 5, 4)))),
        Case("multi-query: 4 query heads, ONE key/value head",
             (random_array(146, (4, 3, 2)), random_array(147, (1, 3, 2)), random_array(148, (1, 3, 2)))),
        Case("a batch of 2, 4 query heads, 2 key/value heads",
             (random_array(149, (2, 4, 2, 3)), random_array(150, (2, 2, 4, 3)), random_array(151, (2, 2, 4, 3))),
             kind="batch"),
        Case("as many key/value heads as query heads (plain multi-head)",
             (random_array(152, (2, 2, 2)), random_array(153, (2, 3, 2)), random_array(154, (2, 3, 2)))),
        Case("float32, 4 query heads, 2 key/value heads",
             (random_array(155, (4, 2, 2), np.float32), random_array(156, (2, 3, 2), np.float32),
              random_array(157, (2, 3, 2), np.float32)), kind="float32"),
    ]
    return check_function(
        "grouped_query_attention", function, _gqa, cases, argument_names=("q", "k", "v"),
        mistakes=[
            Mistake(_gqa_tiled, "your query heads cycle through the key/value heads (np.tile: head j reads "
                                "j % n_kv_heads); consecutive query heads share one key/value head: head j reads "
                                "j // group (np.repeat)."),
        ],
        hint="Chapter 8, section 'Sharing keys and values: multi-query and grouped-query attention': which "
             "key/value head does query head j read, and how can the key/value heads line up with the query "
             "heads before an ordinary attention?",
        timeout=timeout, verbose=verbose)


def _decode(q_new, k_new, v_new, k_cache, v_cache):
    keys = np.concatenate([k_cache, k_new], axis=-2)  # (..., t + 1, d_k)
    values = np.concatenate([v_cache, v_new], axis=-2)  # (..., t + 1, d_v)
    return scaled_dot_product_attention(q_new, keys, values)[0], keys, values


def _decode_without_self(q_new, k_new, v_new, k_cache, v_cache):
    keys = np.concatenate([k_cache, k_new], axis=-2)
    values = np.concatenate([v_cache, v_new], axis=-2)
    return scaled_dot_product_attention(q_new, k_cache, v_cache)[0], keys, values


def _decode_prepended(q_new, k_new, v_new, k_cache, v_cache):
    keys = np.concatenate([k_new, k_cache], axis=-2)
    values = np.concatenate([v_new, v_cache], axis=-2)
    return scaled_dot_product_attention(q_new, keys, values)[0], keys, values


def check_decode_step(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``decode_step(q_new, k_new, v_new, k_cache, v_cache) -> (output, k_cache, v_cache)``:
    append the new position's key and value (..., 1, d) to the caches (..., t, d), then let its
    query attend to every cached position, itself included."""
    cases = [
        Case("one earlier position in the cache, width 2",
             (np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([[5.0, 5.0]]),
              np.array([[1.0, 0.0]]), np.array([[1.0, 2.0]]))),
        Case("4 cached positions, d_k = 3, d_v = 2",
             (random_array(160, (1, 3)), random_array(161, (1, 3)), random_array(162, (1, 2)),
              random_array(163, (4, 3)), random_array(164, (4, 2)))),
        Case("per head: 2 heads, 3 cached positions each",
             (random_array(165, (2, 1, 4)), random_array(166, (2, 1, 4)), random_array(167, (2, 1, 4)),
              random_array(168, (2, 3, 4)), random_array(169, (2, 3, 4))), kind="batch"),
        Case("float32, 2 cached positions",
             (random_array(158, (1, 2), np.float32), random_array(159, (1, 2), np.float32),
              random_array(138, (1, 3), np.float32), random_array(139, (2, 2), np.float32),
              random_array(137, (2, 3), np.float32)), kind="float32"),
    ]
    return check_function(
        "decode_step", function, _decode, cases, argument_names=("q_new", "k_new", "v_new", "k_cache", "v_cache"),
        output_names=("output", "k_cache", "v_cache"),
        mistakes=[
            Mistake(_decode_without_self, "your new position does not see itself: append its key and value to the "
                                          "cache BEFORE attending (a causal query may attend its own position)."),
            Mistake(_decode_prepended, "you put the new key and value at the start of the cache; the newest "
                                       "position goes at the end, so that position t is row t."),
        ],
        hint="Chapter 8, section 'The key/value cache': where in the cache does the newest position go, which "
             "keys may the new query see, and does it need a mask?",
        timeout=timeout, verbose=verbose)
