"""Checks for the workbook of chapter 9, "Positions": sinusoidal encodings, RoPE and ALiBi.

Examples
--------
>>> check_sinusoidal_positions(lambda n, d_model: None, verbose=False).status
'failed'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.positions import alibi_bias, rotary_embedding, sinusoidal_positions
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_sinusoidal_positions", "check_rotary_embedding", "check_alibi_bias"]


def _sinusoids(n: int, d_model: int, exponent: float = 2.0, swap: bool = False, halves: bool = False) -> np.ndarray:
    """Variants of the table: angle p * base^(-exponent*i/d); sin and cos swapped; halves side by side."""
    i = np.arange(d_model // 2)
    angles = np.arange(n)[:, None] * 10000.0 ** (-exponent * i / d_model)[None, :]  # (n, d/2)
    first, second = (np.cos(angles), np.sin(angles)) if swap else (np.sin(angles), np.cos(angles))
    if halves:
        return np.concatenate([first, second], axis=-1)
    table = np.empty((n, d_model))
    table[:, 0::2], table[:, 1::2] = first, second
    return table


def check_sinusoidal_positions(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``sinusoidal_positions(n, d_model)`` (``d_model`` even): row p holds
    sin(p w_i) in column 2i and cos(p w_i) in column 2i + 1, w_i = 10000^(-2i/d_model)."""
    cases = [
        Case("3 positions, d_model 4", (3, 4)),
        Case("10 positions, d_model 8", (10, 8)),
        Case("one position (all angles 0), d_model 6", (1, 6)),
        Case("50 positions, d_model 16", (50, 16)),
    ]
    return check_function(
        "sinusoidal_positions", function, lambda n, d: sinusoidal_positions(n, d), cases,
        argument_names=("n", "d_model"),
        mistakes=[
            Mistake(lambda n, d: _sinusoids(n, d, swap=True), "sin and cos are swapped: even columns 2i hold the "
                                                               "sine, odd columns 2i + 1 the cosine."),
            Mistake(lambda n, d: _sinusoids(n, d, halves=True), "your sines fill the first half of the columns and the "
                                                                "cosines the second; the book interleaves them: "
                                                                "columns 2i and 2i + 1 are one pair."),
            Mistake(lambda n, d: _sinusoids(n, d, exponent=1.0), "your frequencies fall too slowly: w_i = "
                                                                 "10000^(-2i/d_model), with i the index of the PAIR."),
        ],
        hint="Chapter 9, section 'Sinusoidal encodings': which columns hold sines and which cosines, and does "
             "a frequency belong to a column or to a pair of columns?",
        timeout=timeout, verbose=verbose)


def check_rotary_embedding(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``rotary_embedding(x, positions)``: rotate pair i = (x[2i], x[2i+1]) of the vector at
    position p by the angle p * theta_i, theta_i = 10000^(-2i/d)."""
    cases = [
        Case("one vector [1, 0] at position 1", (np.array([[1.0, 0.0]]), np.array([1.0]))),
        Case("3 vectors of width 4 at positions 0, 1, 2", (random_array(170, (3, 4)), np.arange(3.0))),
        Case("a batch of 2 heads, 4 positions, width 6, positions 5..8 (a later chunk)",
             (random_array(171, (2, 4, 6)), np.arange(5.0, 9.0)), kind="batch"),
        Case("float32 input", (random_array(172, (2, 4), np.float32), np.array([3.0, 7.0])), kind="float32"),
    ]
    return check_function(
        "rotary_embedding", function, lambda x, p: rotary_embedding(x, p), cases, argument_names=("x", "positions"),
        mistakes=[
            Mistake(lambda x, p: rotary_embedding(x, -p), "you rotate the wrong way: the new pair is "
                                                          "(x0 cos - x1 sin, x0 sin + x1 cos)."),
            Mistake(lambda x, p: rotary_embedding(x, p, pairing="half"),
                    "you paired coordinate i with i + d/2 (the 'rotate half' layout); this exercise pairs "
                    "neighbours (2i, 2i + 1), as chapter 9 does."),
            Mistake(lambda x, p: rotary_embedding(x, np.arange(x.shape[-2], dtype=float)),
                    "your rotation ignores the positions given and uses 0, 1, 2, ...: use `positions`."),
        ],
        hint="Chapter 9, section 'Rotary position embedding (RoPE)': which two coordinates form a pair, and "
             "by which angle does the vector at position p turn its pair i?",
        float32_hint="np.cos and np.sin of float64 angles are float64, and float64 times float32 is float64: "
                     "cast your cos/sin tables to x.dtype.",
        timeout=timeout, verbose=verbose)


def _alibi_slopes(n_heads: int) -> np.ndarray:
    return 2.0 ** (-8.0 * np.arange(1, n_heads + 1) / n_heads)


def check_alibi_bias(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``alibi_bias(n_q, n_k, n_heads)`` (``n_heads`` a power of two) -> (n_heads, n_q, n_k):
    -slope_g * abs(i - j) for query position i and key position j, slope_g = 2^(-8(g+1)/n_heads), queries the last n_q positions."""
    cases = [
        Case("3 queries, 3 keys, 2 heads", (3, 3, 2)),
        Case("4 queries, 4 keys, 8 heads", (4, 4, 8)),
        Case("1 query after 4 cached keys (a decoding step), 4 heads", (1, 5, 4)),
        Case("2 queries, 6 keys, 1 head", (2, 6, 1)),
    ]
    return check_function(
        "alibi_bias", function, lambda n_q, n_k, h: alibi_bias(n_q, n_k, n_heads=h), cases,
        argument_names=("n_q", "n_k", "n_heads"),
        mistakes=[
            Mistake(lambda n_q, n_k, h: -alibi_bias(n_q, n_k, n_heads=h),
                    "your bias is positive: ALiBi PENALISES distance, so the bias is -slope * distance."),
            Mistake(lambda n_q, n_k, h: alibi_bias(n_q, n_k, n_heads=h)[::-1],
                    "your slopes are in reverse order: head 0 has the steepest slope, 2^(-8/n_heads)."),
            Mistake(lambda n_q, n_k, h: -_alibi_slopes(h)[:, None, None]
                    * np.abs(np.arange(n_q)[:, None] - np.arange(n_k)[None, :]),
                    "your queries stand at positions 0 .. n_q - 1; they are the LAST n_q positions "
                    "(n_k - n_q + i), as in a decoding step."),
            Mistake(lambda n_q, n_k, h: -_alibi_slopes(h)[:, None, None]
                    * (np.arange(n_k - n_q, n_k)[:, None] - np.arange(n_k)[None, :]),
                    "your distance has a sign: keys after the query get a bonus. Use the absolute distance."),
        ],
        hint="Chapter 9, section 'ALiBi: a penalty for distance': which slope does head g get, where do the "
             "queries stand when n_q < n_k, and how do one slope per head and one distance per (query, key) "
             "make a (n_heads, n_q, n_k) array?",
        timeout=timeout, verbose=verbose)
