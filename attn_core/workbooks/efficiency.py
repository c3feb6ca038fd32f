"""Checks for the workbook of chapter 11, "Efficiency": the online softmax, merging two partial
results, and tiled attention that never holds the n_q x n_k matrix.

Examples
--------
>>> import numpy as np
>>> check_merge_partial(lambda o_a, l_a, o_b, l_b: ((o_a + o_b) / 2, np.maximum(l_a, l_b)),
...                     verbose=False).passed
False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.decoding import merge_partial_attention
from attn_core.tiled import online_softmax_steps, tiled_attention
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_online_softmax", "check_merge_partial", "check_tiled_attention"]


class Blocks:
    """One query's (already scaled) scores and its values, handed out block by block.

    ``for scores_block, values_block in blocks`` yields ``(block_size,)`` scores and
    ``(block_size, d_v)`` values from the left (the last block may be shorter), as a stream
    that arrives a block at a time; each iteration starts again from the first block.
    """

    def __init__(self, scores: np.ndarray, values: np.ndarray, block_size: int) -> None:
        self.scores, self.values, self.block_size = scores, values, block_size

    def __iter__(self):
        for start in range(0, self.scores.size, self.block_size):
            stop = start + self.block_size
            yield self.scores[start:stop].copy(), self.values[start:stop].copy()

    def __repr__(self) -> str:
        shown = " | ".join(np.array2string(block, precision=3, separator=", ") for block, _ in self)
        return (f"Blocks(scores {shown}; values of shape {self.values.shape}, {self.values.dtype}; "
                f"block_size {self.block_size})")


def _online(blocks: Blocks):
    steps = list(online_softmax_steps(blocks.scores, blocks.values, block_size=blocks.block_size))
    dtype = blocks.values.dtype
    return (steps[-1].output.astype(dtype), np.array([step.running_max for step in steps], dtype=dtype),
            np.array([step.normaliser for step in steps], dtype=dtype))


def _online_variant(blocks: Blocks, *, rescale_sum=True, rescale_acc=True, final_max=False):
    scores, values = blocks.scores, blocks.values
    m, total, acc, maxima, sums = -np.inf, 0.0, np.zeros(values.shape[1]), [], []
    for start in range(0, scores.size, blocks.block_size):
        block = scores[start:start + blocks.block_size]
        m_new = max(m, block.max())
        p = np.exp(block - m_new)
        shrink = np.exp(m - m_new)
        total = (total * shrink if rescale_sum else total) + p.sum()
        acc = (acc * shrink if rescale_acc else acc) + p @ values[start:start + blocks.block_size]
        m = m_new
        maxima.append(m)
        sums.append(np.exp(scores[:start + blocks.block_size] - scores.max()).sum() if final_max else total)
    dtype = values.dtype
    return (acc / total).astype(dtype), np.array(maxima, dtype=dtype), np.array(sums, dtype=dtype)


def check_online_softmax(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``online_softmax(blocks) -> (output, running_max, running_sum)`` for ONE query:
    ``blocks`` yields ``(scores_block, values_block)`` pairs from the left; keep a running
    maximum m, a running sum l of exp(score - m) and a running weighted sum of values.
    ``running_max`` and ``running_sum`` (n_blocks,) are m and l after each block; ``output``
    (d_v,) equals softmax(scores) @ values."""
    cases = [
        Case("4 scores [1, 3, 2, 5] in blocks of 2", (Blocks(np.array([1.0, 3.0, 2.0, 5.0]), np.eye(4), 2),)),
        Case("scores that keep rising: the maximum changes in every block",
             (Blocks(np.arange(6.0), random_array(180, (6, 3)), 2),)),
        Case("7 random scores in blocks of 3 (the last block is short)",
             (Blocks(random_array(181, (7,)), random_array(182, (7, 2)), 3),)),
        Case("one block holds everything", (Blocks(random_array(183, (4,)), random_array(184, (4, 2)), 8),)),
        Case("float32 scores and values", (Blocks(random_array(186, (5,), np.float32),
                                                  random_array(187, (5, 2), np.float32), 2),), kind="float32"),
        Case("huge scores, rising to 1000", (Blocks(np.array([10.0, 20.0, 500.0, 1000.0]), random_array(185, (4, 2)), 1),),
             kind="overflow"),
    ]
    return check_function(
        "online_softmax", function, _online, cases, argument_names=("blocks",),
        output_names=("output", "running_max", "running_sum"),
        mistakes=[
            Mistake(lambda b: _online_variant(b, rescale_acc=False),
                    "when the maximum rises you shrink the running sum but not the running weighted sum of "
                    "values: both were computed against the old maximum; multiply both by exp(m_old - m_new)."),
            Mistake(lambda b: _online_variant(b, rescale_sum=False),
                    "when the maximum rises you shrink the weighted sum of values but not the running sum of "
                    "exponentials: multiply both by exp(m_old - m_new)."),
            Mistake(lambda b: _online_variant(b, rescale_sum=False, rescale_acc=False),
                    "nothing is rescaled when the maximum rises: earlier blocks' sums were computed against the "
                    "old maximum; multiply them by exp(m_old - m_new)."),
            Mistake(lambda b: _online_variant(b, final_max=True),
                    "your running sums are measured against the final maximum, which an online pass does not know "
                    "yet: after block t, l is the sum of exp(score - m_t), m_t the maximum seen so far."),
        ],
        hint="Chapter 11, section 'The online softmax': when a new block raises the maximum, what happens to "
             "the terms you have already added up, and by which factor must they change?",
        timeout=timeout, verbose=verbose)


def _merge(output_a, lse_a, output_b, lse_b):
    return merge_partial_attention(np.stack([output_a, output_b]), np.stack([lse_a, lse_b]))


def _partial(q, k, v):
    """Attention of q over one chunk of keys: its output and its log-sum-exp of scores."""
    scores = q @ k.T / np.sqrt(q.shape[-1])
    top = scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores - top)
    return weights @ v / weights.sum(-1, keepdims=True), np.log(weights.sum(-1)) + top[..., 0]


def check_merge_partial(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``merge_partial(output_a, lse_a, output_b, lse_b) -> (output, lse)``: two results of
    attention over disjoint chunks of keys (outputs (..., n_q, d_v), log-sum-exps of the scores
    (..., n_q)) merged into attention over all the keys."""
    q, k, v = random_array(190, (3, 4)), random_array(191, (6, 4)), random_array(192, (6, 2))
    a, b = _partial(q, k[:2], v[:2]), _partial(q, k[2:], v[2:])
    big = (np.array([[1.0, 0.0]]), np.array([1000.0]), np.array([[0.0, 1.0]]), np.array([1001.0]))
    cases = [
        Case("one query; chunk a has one key (score 1, value 10), chunk b one key (score 2, value 20)",
             (np.array([[10.0]]), np.array([1.0]), np.array([[20.0]]), np.array([2.0]))),
        Case("3 queries over 6 keys, split 2 + 4", (*a, *b)),
        Case("chunks of different weight: lse 2 against lse -3", (np.array([[1.0, 1.0]]), np.array([2.0]),
                                                                   np.array([[-1.0, 0.0]]), np.array([-3.0]))),
        Case("a batch of 2 sequences: outputs (2, 3, 2), log-sum-exps (2, 3)",
             (random_array(193, (2, 3, 2)), random_array(194, (2, 3)), random_array(195, (2, 3, 2)),
              random_array(196, (2, 3))), kind="batch"),
        Case("float32", (random_array(197, (2, 3), np.float32), random_array(198, (2,), np.float32),
                         random_array(199, (2, 3), np.float32), random_array(189, (2,), np.float32)), kind="float32"),
        Case("large log-sum-exps, near 1000", big, kind="overflow"),
    ]
    return check_function(
        "merge_partial", function, _merge, cases, argument_names=("output_a", "lse_a", "output_b", "lse_b"),
        output_names=("output", "lse"),
        mistakes=[
            Mistake(lambda o_a, l_a, o_b, l_b: ((o_a + o_b) / 2, np.logaddexp(l_a, l_b)),
                    "you averaged the two outputs; each chunk counts in proportion to its share of the total "
                    "weight, exp(lse_c - lse)."),
            Mistake(lambda o_a, l_a, o_b, l_b: (_merge(o_a, l_a, o_b, l_b)[0], np.maximum(l_a, l_b)),
                    "the merged log-sum-exp is log(exp(lse_a) + exp(lse_b)), not the larger of the two."),
            Mistake(lambda o_a, l_a, o_b, l_b: (_merge(o_a, l_a, o_b, l_b)[0], l_a + l_b),
                    "the merged log-sum-exp is log(exp(lse_a) + exp(lse_b)), not lse_a + lse_b."),
        ],
        hint="Chapter 11, section 'The online softmax' (the same rescaling, two chunks at a time): what share "
             "of the total weight does each chunk hold, in terms of its log-sum-exp, and how do you add two "
             "exponentials of numbers near 1000 without overflow?",
        timeout=timeout, verbose=verbose)


def _tiled_no_rescale(q, k, v, block_size):
    scale = 1 / np.sqrt(q.shape[-1])
    dtype = np.result_type(q, k, v)
    m = np.full(q.shape[:-1] + (1,), -np.inf, dtype=dtype)
    total = np.zeros(q.shape[:-1] + (1,), dtype=dtype)
    acc = np.zeros(q.shape[:-1] + (v.shape[-1],), dtype=dtype)
    for start in range(0, k.shape[-2], block_size):
        s = q @ np.swapaxes(k[..., start:start + block_size, :], -1, -2) * scale
        m = np.maximum(m, s.max(-1, keepdims=True))
        p = np.exp(s - m)
        total, acc = total + p.sum(-1, keepdims=True), acc + p @ v[..., start:start + block_size, :]
    return (acc / total).astype(dtype)


def _tiled_average(q, k, v, block_size):
    outputs = [tiled_attention(q, k[..., s:s + block_size, :], v[..., s:s + block_size, :])
               for s in range(0, k.shape[-2], block_size)]
    return np.mean(outputs, axis=0)


def check_tiled_attention(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``tiled_attention(q, k, v, block_size)``: scaled dot-product attention's output
    (..., n_q, d_v), computed block of keys by block of keys with the online softmax."""
    cases = [
        Case("2 queries, 4 keys, blocks of 2", (random_array(200, (2, 3)), random_array(201, (4, 3)),
                                                random_array(202, (4, 2)), 2)),
        Case("3 queries, 7 keys, blocks of 3 (the last is short)",
             (random_array(203, (3, 4)), random_array(204, (7, 4)), random_array(205, (7, 3)), 3)),
        Case("a batch (2, 3, 4) of queries, keys (2, 5, 4), blocks of 2",
             (random_array(206, (2, 3, 4)), random_array(207, (2, 5, 4)), random_array(208, (2, 5, 2)), 2), kind="batch"),
        Case("large queries and keys: scores near 1000, blocks of 1",
             (random_array(209, (2, 4), scale=40.0), random_array(210, (3, 4), scale=40.0), random_array(211, (3, 2)), 1),
             kind="overflow"),
        Case("float32, 3 queries, 5 keys, blocks of 2",
             (random_array(212, (3, 4), np.float32), random_array(213, (5, 4), np.float32),
              random_array(214, (5, 2), np.float32), 2), kind="float32"),
        Case("128 queries, 4096 keys, blocks of 128: the 128 x 4096 score matrix alone would take 4 MiB",
             (random_array(215, (128, 16)), random_array(216, (4096, 16)), random_array(217, (4096, 16)), 128),
             kind="memory", memory_limit=128 * 4096 * 8,
             memory_message="you built an array as large as the n_q x n_k score matrix. Read k and v one block "
                            "at a time, and keep only the running maximum, sum and output of each query."),
    ]
    return check_function(
        "tiled_attention", function, lambda q, k, v, b: tiled_attention(q, k, v, block_size=b), cases,
        argument_names=("q", "k", "v", "block_size"),
        mistakes=[
            Mistake(_tiled_no_rescale, "you update the running maximum but do not shrink the earlier sums when it "
                                       "rises: multiply them by exp(m_old - m_new)."),
            Mistake(_tiled_average, "you averaged the blocks' outputs; each block counts in proportion to its "
                                    "share of the total weight, which the running sums keep track of."),
        ],
        hint="Chapter 11, section 'Tiles: attention without the n x n matrix': your online softmax, for every "
             "query at once: which running quantities does each query keep between blocks, and of what shape?",
        timeout=timeout, verbose=verbose)
