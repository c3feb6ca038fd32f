"""Checks for the workbook of chapter 7, "Masking": causal and padding masks, masked attention.

Masks are boolean, ``True`` = may attend. A causal mask with fewer queries than keys treats
the queries as the LAST ``n_q`` positions (aligned bottom-right).

Examples
--------
>>> import numpy as np
>>> check_causal_mask(lambda n_q, n_k: np.tril(np.ones((n_q, n_k), dtype=bool)), verbose=False).passed
False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.attention import scaled_dot_product_attention
from attn_core.masks import causal_mask, padding_mask
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_causal_mask", "check_padding_mask", "check_masked_attention"]


def check_causal_mask(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``causal_mask(n_q, n_k) -> bool (n_q, n_k)``: query i (at position n_k - n_q + i)
    may attend key j iff j <= its position."""
    cases = [
        Case("3 queries, 3 keys", (3, 3)),
        Case("1 query after 3 earlier keys (a decoding step): n_q = 1, n_k = 4", (1, 4)),
        Case("2 queries, 5 keys", (2, 5)),
        Case("4 queries, 2 keys (the first two queries see no key)", (4, 2)),
    ]
    return check_function(
        "causal_mask", function, causal_mask, cases, argument_names=("n_q", "n_k"),
        mistakes=[
            Mistake(lambda n_q, n_k: np.tril(np.ones((n_q, n_k), dtype=bool)),
                    "your mask is aligned top-left: with fewer queries than keys, the queries are the LAST "
                    "n_q positions (query i stands at position n_k - n_q + i), as in decoding with a cache."),
            Mistake(lambda n_q, n_k: causal_mask(n_q, n_k) & ~np.eye(n_q, n_k, k=n_k - n_q, dtype=bool),
                    "your queries cannot see their own position: j <= i, not j < i."),
            Mistake(lambda n_q, n_k: ~causal_mask(n_q, n_k) | np.eye(n_q, n_k, k=n_k - n_q, dtype=bool),
                    "your mask lets each query see the future and hides the past: True must be on and "
                    "below the (shifted) diagonal."),
            Mistake(lambda n_q, n_k: ~causal_mask(n_q, n_k),
                    "your mask is inverted: True means MAY attend."),
        ],
        hint="Chapter 7, section 'Causal masks: no peeking at the future': compare the position of "
             "every key with the position of every query; with n_q < n_k, where does query 0 stand?",
        timeout=timeout, verbose=verbose)


def check_padding_mask(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``padding_mask(lengths, n_k) -> bool (batch, 1, n_k)``: key j allowed iff j < lengths[b]."""
    cases = [
        Case("two sequences of lengths 2 and 3, padded to 4", (np.array([2, 3]), 4)),
        Case("three sequences, one of full length and one empty", (np.array([5, 0, 1]), 5)),
        Case("one sequence of length 1 padded to 3", (np.array([1]), 3)),
    ]
    return check_function(
        "padding_mask", function, padding_mask, cases, argument_names=("lengths", "n_k"),
        mistakes=[
            Mistake(lambda lengths, n_k: (np.arange(n_k)[None, :] <= lengths[:, None])[:, None, :],
                    "off by one: a sequence of length L has keys 0 .. L-1, so key j is allowed iff j < L."),
            Mistake(lambda lengths, n_k: ~padding_mask(lengths, n_k),
                    "your mask is inverted: True means MAY attend (a real token), False marks the padding."),
            Mistake(lambda lengths, n_k: np.arange(n_k)[None, None, :] >= n_k - lengths[:, None, None],
                    "your mask hides the start of each sequence: the padding is at the END."),
        ],
        hint="Chapter 7, section 'Padding a batch': which keys of a sequence of length L are real tokens, "
             "and which shape lets one row of the mask serve every query?",
        timeout=timeout, verbose=verbose)


def _masked(q, k, v, mask, causal):
    return scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)


def _max_over_hidden(q, k, v, mask, causal):
    """The row maximum taken over hidden keys too, the mask multiplied in after exp, a guarded division."""
    allowed = np.broadcast_to(mask, q.shape[:-2] + (q.shape[-2], k.shape[-2])) & (
        causal_mask(q.shape[-2], k.shape[-2]) if causal else True)
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])  # (..., n_q, n_k)
    exponentials = np.exp(scores - scores.max(axis=-1, keepdims=True)) * allowed
    total = exponentials.sum(axis=-1, keepdims=True)
    weights = np.divide(exponentials, total, out=np.zeros_like(exponentials), where=total > 0)
    return weights @ v, weights


def _top_left(q, k, v, mask, causal):
    allowed = np.asarray(mask) & (np.tril(np.ones((q.shape[-2], k.shape[-2]), dtype=bool)) if causal else True)
    return scaled_dot_product_attention(q, k, v, mask=allowed)


MAX_OVER_HIDDEN = ("you took each row's maximum over the hidden keys too: when a hidden (future) score is far "
                   "above the visible ones, every visible exponential underflows to 0. Take the maximum after "
                   "hiding.")


def _mask_after(q, k, v, mask, causal):
    _, weights = scaled_dot_product_attention(q, k, v)
    allowed = np.broadcast_to(mask, weights.shape) & (causal_mask(q.shape[-2], k.shape[-2]) if causal else True)
    weights = weights * allowed
    return weights @ v, weights


def check_masked_attention(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``masked_attention(q, k, v, mask, causal) -> (output, weights)``: scaled dot-product
    attention where ``mask`` (broadcastable to (..., n_q, n_k), True = may attend) and, if
    ``causal``, a causal mask hide keys; a query with no allowed key gets zeros."""
    q3, k4, v4 = random_array(80, (3, 4)), random_array(81, (4, 4)), random_array(82, (4, 2))
    cases = [
        Case("3 queries, 4 keys, the last key hidden, not causal",
             (q3, k4, v4, np.array([True, True, True, False]), False)),
        Case("self-attention over 4 positions, causal, nothing else hidden",
             (k4, k4, v4, np.ones((4, 4), dtype=bool), True)),
        Case("a padded batch of 2 (lengths 3 and 2) with a causal mask",
             (random_array(83, (2, 3, 4)), random_array(84, (2, 3, 4)), random_array(85, (2, 3, 2)),
              padding_mask([3, 2], 3), True), kind="batch"),
        Case("causal self-attention whose future key scores about 850 for the first query",
             (np.array([[30.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), np.array([[0.0, 1.0], [0.0, 1.0], [40.0, 0.0]]),
              np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]), np.ones(3, dtype=bool), True), kind="overflow",
             nonfinite_message=MAX_OVER_HIDDEN),
        Case("a query with no allowed key (row 1 of the mask is all False)",
             (q3, k4, v4, np.array([[True, False, True, False], [False] * 4, [True] * 4]), False), kind="empty_row"),
        Case("float32, causal, 2 queries after 3 keys (bottom-right alignment)",
             (random_array(86, (2, 4), np.float32), random_array(87, (5, 4), np.float32),
              random_array(88, (5, 3), np.float32), np.ones(5, dtype=bool), True), kind="float32"),
    ]
    return check_function(
        "masked_attention", function, _masked, cases, argument_names=("q", "k", "v", "mask", "causal"),
        output_names=("output", "weights"), weights_output=1,
        mistakes=[
            Mistake(_max_over_hidden, MAX_OVER_HIDDEN),
            Mistake(_top_left, "your causal mask is aligned top-left: with fewer queries than keys, the queries "
                               "are the LAST n_q positions (query i stands at position n_k - n_q + i)."),
            Mistake(_mask_after, "you applied the mask after the softmax: the hidden keys took their share of "
                                 "weight, so each row sums to less than 1. Hide the scores before the softmax."),
            Mistake(lambda q, k, v, mask, causal: _masked(q, k, v, mask, False),
                    "causal=True has no effect in your function: combine the mask with a causal mask."),
            Mistake(lambda q, k, v, mask, causal: _masked(q, k, v, None, causal),
                    "the mask has no effect in your function: hidden keys still get weight."),
            Mistake(lambda q, k, v, mask, causal: _masked(q, k, v, ~np.asarray(mask), causal),
                    "your mask is inverted: True means MAY attend."),
        ],
        hint="Chapter 7, sections 'Causal masks: no peeking at the future' and 'A query with nothing to "
             "attend to': must a key be hidden before or after the softmax, how do the two masks combine, "
             "and what does a query with no allowed key get?",
        timeout=timeout, verbose=verbose)
