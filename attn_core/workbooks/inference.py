"""Checks for the workbook of chapter 15, "Attention at inference time": the bytes of a key/value
cache, int8 quantisation of a cache per token or per channel, reading a paged cache through its
block table, and split-KV (Flash-Decoding) attention over n chunks of the keys.

Examples
--------
>>> check_kv_cache_bytes(lambda n_tokens, batch, n_layers, n_heads, n_kv_heads, d_head, bytes_per_number:
...                      n_tokens * n_layers * n_heads * d_head * bytes_per_number, verbose=False).passed
False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.decoding import quantize_int8, split_kv_attention
from attn_core.multihead import kv_cache_bytes
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_kv_cache_bytes", "check_quantize_int8", "check_read_paged", "check_split_kv_attention",
           "read_paged_reference", "chunk_log_sum_exps"]


# ------------------------------------------------------------------------------ bytes of a cache
def _bytes(n_tokens, batch, n_layers, n_heads, n_kv_heads, d_head, bytes_per_number):
    return kv_cache_bytes(n_tokens, n_layers=n_layers, n_kv_heads=n_kv_heads, d_head=d_head, batch=batch,
                          bytes_per_number=bytes_per_number)


def check_kv_cache_bytes(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``kv_cache_bytes(n_tokens, batch, n_layers, n_heads, n_kv_heads, d_head, bytes_per_number)``:
    2 (keys and values) * n_layers * n_kv_heads * d_head * n_tokens * batch * bytes_per_number."""
    cases = [
        Case("Llama 3 8B, one token, 16-bit numbers (32 layers, 32 heads, 8 key/value heads of width 128)",
             (1, 1, 32, 32, 8, 128, 2)),
        Case("Llama 3 70B, one sequence of 131,072 tokens (80 layers, 64 heads, 8 key/value heads)",
             (131072, 1, 80, 64, 8, 128, 2)),
        Case("Gemma 2B, multi-query: 18 layers, 8 heads sharing 1 key/value head of width 256, 8,192 tokens",
             (8192, 1, 18, 8, 1, 256, 2)),
        Case("a batch of 32 sequences of 4,096 tokens, Llama 3 8B", (4096, 32, 32, 32, 8, 128, 2)),
        Case("an int8 cache (1 byte a number), 1,000 tokens, 4 layers, 4 heads, 2 key/value heads of width 64",
             (1000, 1, 4, 4, 2, 64, 1)),
    ]
    return check_function(
        "kv_cache_bytes", function, _bytes, cases,
        argument_names=("n_tokens", "batch", "n_layers", "n_heads", "n_kv_heads", "d_head", "bytes_per_number"),
        mistakes=[
            Mistake(lambda n, b, layers, h, h_kv, d, e: n * b * layers * h_kv * d * e,
                    "half the expected bytes: every token caches a key AND a value in every key/value head, "
                    "hence the factor 2."),
            Mistake(lambda n, b, layers, h, h_kv, d, e: 2 * n * b * layers * h * d * e,
                    "you counted every query head; only the key/value heads are cached (n_kv_heads: with "
                    "grouped-query attention several query heads share one)."),
            Mistake(lambda n, b, layers, h, h_kv, d, e: 2 * n * layers * h_kv * d * e,
                    "your count ignores the batch: each of the `batch` sequences has its own cache."),
            Mistake(lambda n, b, layers, h, h_kv, d, e: 2 * n * b * layers * h_kv * d * e * 8,
                    "you counted bits, not bytes: bytes_per_number is already in bytes (2 for 16-bit numbers)."),
        ],
        hint="Chapter 15, section 'What current models cache' (the count of chapter 8): what does one token "
             "leave in one layer? Then multiply by layers, tokens, sequences and bytes per number.",
        timeout=timeout, verbose=verbose)


# ---------------------------------------------------------------------------------- int8 codes
def _quantize(x, axis):
    return quantize_int8(x, axis=axis)


def _quantize_variant(x, axis, *, levels=127, rounding=np.rint, other_axis=False):
    axis = (-2 if axis == -1 else -1) if other_axis else axis
    scales = np.abs(x).max(axis=axis, keepdims=True) / levels
    safe = np.where(scales == 0, 1.0, scales)
    codes = np.clip(rounding(x / safe), -127, 127).astype(np.int8)
    return codes, scales


def check_quantize_int8(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``quantize_int8(x, axis) -> (codes int8, scales)``: one scale ``max|x| / 127`` per group of
    numbers along ``axis`` (``scales`` keeps ``axis`` with length 1), codes round(x / scale) in
    -127..127; a group of zeros gets scale 0 and codes 0."""
    k_small = np.array([[0.5, 8.0], [-0.25, -6.0], [0.1, 7.0]])
    zeros_row = random_array(322, (3, 4))
    zeros_row[1] = 0.0
    cases = [
        Case("the chapter's example, per token (axis=-1)", (k_small, -1)),
        Case("the chapter's example, per channel (axis=-2)", (k_small, -2)),
        Case("a square cache (4 positions, 4 channels), per channel", (random_array(320, (4, 4), scale=3.0), -2)),
        Case("a batch of 2 heads, 5 positions, 3 channels, per token", (random_array(321, (2, 5, 3)), -1),
             kind="batch"),
        Case("a position whose key is all zeros, per token", (zeros_row, -1),
             nonfinite_message="that group is all zeros, so its largest |x| is 0 and dividing by a scale of 0 "
                               "gives NaN: give such a group the codes 0 (its scale stays 0)."),
    ]
    return check_function(
        "quantize_int8", function, _quantize, cases, argument_names=("x", "axis"),
        output_names=("codes", "scales"),
        mistakes=[
            Mistake(lambda x, a: _quantize_variant(x, a, rounding=np.trunc),
                    "your codes are truncated towards zero (.astype(np.int8) alone cuts off the fraction): "
                    "round first, with np.rint, so that the error is at most half a step."),
            Mistake(lambda x, a: _quantize_variant(x, a, levels=128),
                    "your step is max|x| / 128; symmetric int8 uses the codes -127..127, so the step is "
                    "max|x| / 127 and the largest number becomes exactly 127."),
            Mistake(lambda x, a: _quantize_variant(x, a, levels=255),
                    "your step is max|x| / 255, as if the codes ran over 255 levels on one side; symmetric "
                    "int8 has 127 on each side: max|x| / 127."),
            Mistake(lambda x, a: _quantize_variant(x, a, other_axis=True),
                    "your groups run along the other axis: the maximum is taken ALONG `axis` (axis=-1: one "
                    "scale per position, over its channels; axis=-2: one per channel, over the positions)."),
        ],
        hint="Chapter 15, section 'Quantising the cache' (its worked example is the first two cases): which "
             "numbers share one scale, what is that scale, and what must a group of zeros get?",
        timeout=timeout, verbose=verbose)


# ------------------------------------------------------------------------------ the paged cache
def read_paged_reference(blocks: np.ndarray, block_table: Any, length: int) -> np.ndarray:
    """A sequence's cache (n_kv_heads, length, d_head), read from the pool of
    ``attn_core.PagedKVCache`` (``key_blocks`` or ``value_blocks``, shape (n_blocks,
    n_kv_heads, block_size, d_head)) through its block table: position p is in block
    ``block_table[p // block_size]`` at offset ``p % block_size``.

    Examples
    --------
    >>> pool = np.arange(3 * 1 * 2 * 1, dtype=float).reshape(3, 1, 2, 1)   # 3 blocks of 2 positions
    >>> read_paged_reference(pool, [2, 0], 3)[0, :, 0]                      # block 2, then block 0
    array([4., 5., 0.])
    """
    block_size = blocks.shape[-2]
    positions = np.arange(length)  # (length,)
    physical = np.asarray(block_table)[positions // block_size]  # (length,): the block of each position
    gathered = blocks[physical, :, positions % block_size]  # (length, n_kv_heads, d_head)
    return np.swapaxes(gathered, 0, 1)  # (n_kv_heads, length, d_head)


def _paged_variant(blocks, block_table, length, *, table=None):
    """Read with another table: the pool's order, or the blocks sorted."""
    block_size = blocks.shape[-2]
    pages = -(-length // block_size)
    chosen = {"pool": list(range(pages)), "sorted": sorted(block_table),
              "reversed": list(block_table)[::-1]}[table]
    return read_paged_reference(blocks, chosen, length)


def check_read_paged(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``read_paged(blocks, block_table, length) -> (n_kv_heads, length, d_head)``: position p of
    the sequence is in block ``block_table[p // block_size]`` of the pool ``blocks`` (n_blocks,
    n_kv_heads, block_size, d_head), at offset ``p % block_size``."""
    pool = random_array(330, (6, 2, 4, 3))  # 6 blocks of 4 positions, 2 key/value heads of width 3
    cases = [
        Case("one key/value head of width 1, blocks of 2: the table [3, 1, 2], 5 positions",
             (np.arange(8.0).reshape(4, 1, 2, 1), [3, 1, 2], 5)),
        Case("blocks of 4, 2 heads of width 3: the table [5, 1, 3], 10 positions (the last block holds 2)",
             (pool, [5, 1, 3], 10)),
        Case("the table [4, 2], 8 positions (two full blocks)", (pool, [4, 2], 8)),
        Case("the table [3], 1 position", (pool, [3], 1)),
    ]
    return check_function(
        "read_paged", function, read_paged_reference, cases, argument_names=("blocks", "block_table", "length"),
        mistakes=[
            Mistake(lambda b, t, n: _paged_variant(b, t, n, table="pool"),
                    "you read the pool's first blocks in order, ignoring the block table: page p // block_size "
                    "of the sequence is in block block_table[p // block_size]."),
            Mistake(lambda b, t, n: _paged_variant(b, t, n, table="sorted"),
                    "you read the sequence's blocks in the order of their numbers; the block TABLE gives their "
                    "order: its first entry holds positions 0 .. block_size - 1."),
            Mistake(lambda b, t, n: _paged_variant(b, t, n, table="reversed"),
                    "you read the block table from its end: its first entry holds the sequence's first positions."),
        ],
        hint="Chapter 15, section 'Paged attention': in which block and at which offset does position p live, "
             "and which axis comes first in the answer?",
        timeout=timeout, verbose=verbose)


# ------------------------------------------------------------------------------ split-KV attention
def _bounds(n_k: int, n_splits: int) -> list[tuple[int, int]]:
    return [(c * n_k // n_splits, (c + 1) * n_k // n_splits) for c in range(n_splits)]


def chunk_log_sum_exps(q: np.ndarray, k: np.ndarray, n_splits: int) -> np.ndarray:
    """``(n_splits, ..., n_q)``: the log-sum-exp of each query's scaled scores over chunk c of the
    keys, ``c * n_k // n_splits`` up to ``(c + 1) * n_k // n_splits`` (the chunks of
    ``attn_core.split_kv_attention``).

    Examples
    --------
    >>> q, k = np.ones((1, 1)), np.log(np.array([[1.0], [3.0]]))
    >>> chunk_log_sum_exps(q, k, 2).round(4)          # log 1 and log 3: one key per chunk
    array([[0.    ],
           [1.0986]])
    """
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])  # (..., n_q, n_k)
    chunks = []
    for start, end in _bounds(k.shape[-2], n_splits):
        part = scores[..., start:end]  # (..., n_q, n_c)
        top = part.max(axis=-1, keepdims=True)
        chunks.append((top + np.log(np.exp(part - top).sum(axis=-1, keepdims=True)))[..., 0])  # (..., n_q)
    return np.stack(chunks)


def _split(q, k, v, n_splits):
    return split_kv_attention(q, k, v, n_splits=n_splits), chunk_log_sum_exps(q, k, n_splits)


def _split_variant(q, k, v, n_splits, *, merge="shares", summary="lse", cut="floor"):
    """Variants: outputs averaged; a chunk summarised by its largest score or by unscaled scores;
    chunks cut by np.array_split."""
    scale = 1 / np.sqrt(q.shape[-1])
    n_k = k.shape[-2]
    pieces = ([(int(a[0]), int(a[-1]) + 1) for a in np.array_split(np.arange(n_k), n_splits)] if cut == "numpy"
              else _bounds(n_k, n_splits))
    outputs, summaries = [], []
    for start, end in pieces:
        scores = q @ np.swapaxes(k[..., start:end, :], -1, -2) * scale  # (..., n_q, n_c)
        top = scores.max(axis=-1, keepdims=True)
        e = np.exp(scores - top)
        outputs.append(e @ v[..., start:end, :] / e.sum(axis=-1, keepdims=True))
        if summary == "max":
            summaries.append(top[..., 0])
        elif summary == "unscaled":
            raw = scores / scale
            raw_top = raw.max(axis=-1, keepdims=True)
            summaries.append((raw_top + np.log(np.exp(raw - raw_top).sum(axis=-1, keepdims=True)))[..., 0])
        else:
            summaries.append((top + np.log(e.sum(axis=-1, keepdims=True)))[..., 0])
    summaries = np.stack(summaries)  # (n_splits, ..., n_q)
    if merge == "mean":
        return np.mean(outputs, axis=0), summaries
    shares = np.exp(summaries - summaries.max(axis=0))
    merged = sum(share[..., None] * out for share, out in zip(shares, outputs)) / shares.sum(axis=0)[..., None]
    return merged, summaries


def check_split_kv_attention(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``split_kv_attention(q, k, v, n_splits) -> (output (..., n_q, d_v), chunk_lse (n_splits, ..., n_q))``:
    attention over each chunk c of the keys (``c * n_k // n_splits`` up to ``(c + 1) * n_k // n_splits``),
    normalised within the chunk, with the log-sum-exp of its scaled scores, then merged exactly."""
    cases = [
        Case("one query, two chunks of one key each, scores log 2 and log 6, values 10 and 20 (the chapter's "
             "example with both scores raised by log 2: the output is still 17.5)",
             (np.ones((1, 1)), np.log(np.array([[2.0], [6.0]])), np.array([[10.0], [20.0]]), 2)),
        Case("one query, 10 keys in 3 chunks (of 3, 3 and 4 keys)",
             (random_array(390, (1, 4)), random_array(391, (10, 4)), random_array(392, (10, 3)), 3)),
        Case("a batch of 2 heads, 2 queries, 9 keys in 4 chunks",
             (random_array(393, (2, 2, 4)), random_array(394, (2, 9, 4)), random_array(395, (2, 9, 2)), 4),
             kind="batch"),
        Case("one chunk: plain attention", (random_array(396, (2, 3)), random_array(397, (5, 3)),
                                            random_array(398, (5, 2)), 1)),
        Case("large queries and keys: scores near 1000, 2 chunks",
             (random_array(399, (1, 4), scale=40.0), random_array(400, (6, 4), scale=40.0),
              random_array(401, (6, 2)), 2), kind="overflow"),
    ]
    return check_function(
        "split_kv_attention", function, _split, cases, argument_names=("q", "k", "v", "n_splits"),
        output_names=("output", "chunk_lse"),
        mistakes=[
            Mistake(lambda *a: _split_variant(*a, merge="mean"),
                    "you averaged the chunks' outputs; each chunk counts in proportion to its share of the "
                    "softmax's mass, exp(lse_c - lse), with lse the log-sum-exp over all chunks."),
            Mistake(lambda *a: _split_variant(*a, summary="max"),
                    "you summarised a chunk by its largest score; the merge needs its log-sum-exp, "
                    "log(sum of exp(score)) over the chunk's keys, which also counts how many keys share the mass."),
            Mistake(lambda *a: _split_variant(*a, summary="unscaled"),
                    "your log-sum-exps are of the unscaled scores q . k; the chunk's weights used the scaled "
                    "scores q . k / sqrt(d_k), and so must its log-sum-exp."),
            Mistake(lambda *a: _split_variant(*a, cut="numpy"),
                    "your chunks are cut elsewhere (np.array_split puts the longer chunks first): chunk c holds "
                    "the keys c * n_k // n_splits up to (c + 1) * n_k // n_splits."),
        ],
        hint="Chapter 15, section 'Flash-Decoding: one query, many chunks of keys' (the merge of chapter 11's "
             "workbook, for n chunks): what does each chunk report, what share of the softmax's mass does it "
             "hold, and how do you weigh the chunks without overflow?",
        timeout=timeout, verbose=verbose)
