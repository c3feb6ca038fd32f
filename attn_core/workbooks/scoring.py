"""Checks for the workbook of chapter 3, "Scoring functions": the six score functions.

Every score function returns ``(..., n_q, n_k)``: row i holds query i's score for every key.

Examples
--------
>>> import numpy as np
>>> result = check_dot_product_scores(lambda q, k: q @ np.swapaxes(k, -1, -2), verbose=False)
>>> result.passed, result.status
(True, 'passed')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from attn_core.scores import (
    additive_scores,
    bilinear_scores,
    cosine_scores,
    dot_product_scores,
    location_scores,
    scaled_dot_product_scores,
)
from attn_core.softmax import softmax
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = [
    "check_dot_product_scores",
    "check_scaled_dot_product_scores",
    "check_bilinear_scores",
    "check_additive_scores",
    "check_cosine_scores",
    "check_location_scores",
]


def _t(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def _query_key_cases() -> list[Case]:
    """Square and rectangular, random, batched and float32 queries and keys."""
    return [
        Case("two queries and two keys, by hand", (np.array([[1.0, 0.0], [0.0, 2.0]]),
                                                    np.array([[1.0, 1.0], [3.0, -1.0]]))),
        Case("3 queries, 4 keys (n_q != n_k), width 5", (random_array(1, (3, 5)), random_array(2, (4, 5)))),
        Case("a batch of 2 sequences: queries (2, 3, 4), keys (2, 5, 4)",
             (random_array(3, (2, 3, 4)), random_array(4, (2, 5, 4))), kind="batch"),
        Case("float32 queries (2, 8) and keys (3, 8)",
             (random_array(5, (2, 8), np.float32), random_array(6, (3, 8), np.float32)), kind="float32"),
    ]


TRANSPOSED = Mistake(lambda q, k, *rest: _t(dot_product_scores(q, k)),
                     "your scores are transposed: row i must be query i (Q K^T, not K Q^T).")


def check_dot_product_scores(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``dot_product_scores(q, k) -> (..., n_q, n_k)``, :math:`s_{ij} = q_i \\cdot k_j`."""
    return check_function(
        "dot_product_scores", function, dot_product_scores, _query_key_cases(),
        argument_names=("q", "k"), mistakes=[TRANSPOSED],
        hint="Chapter 3, section 'The dot product': for row i to hold query i's scores, which array must be "
             "transposed, and which axes may a transpose touch when there is a batch?",
        timeout=timeout, verbose=verbose)


def check_scaled_dot_product_scores(function: Any, *, timeout: float = DEFAULT_TIMEOUT,
                                    verbose: bool = True) -> Result:
    """Check ``scaled_dot_product_scores(q, k)``: :math:`q_i \\cdot k_j / \\sqrt{d_k}`."""
    return check_function(
        "scaled_dot_product_scores", function, scaled_dot_product_scores, _query_key_cases(),
        argument_names=("q", "k"),
        mistakes=[
            Mistake(lambda q, k: dot_product_scores(q, k),
                    "these are the plain dot products: you did not divide by sqrt(d_k)."),
            Mistake(lambda q, k: dot_product_scores(q, k) / q.shape[-1],
                    "you divided by d_k; the scale is 1/sqrt(d_k), the square root of the key width."),
            Mistake(lambda q, k: dot_product_scores(q, k) / math.sqrt(k.shape[-2]),
                    "you divided by sqrt(n_k), the number of keys; d_k is the width of a key (the last axis)."),
            TRANSPOSED,
        ],
        hint="Chapter 3, section 'The scaled dot product': which width is d_k, and does the scale you "
             "apply keep float32 inputs float32?",
        timeout=timeout, verbose=verbose)


def check_bilinear_scores(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``bilinear_scores(q, k, w)``: :math:`q_i W k_j^\\top`, ``w`` of shape (d_q, d_k)."""
    cases = [
        Case("one query, two keys, W of shape (2, 2)", (np.array([[1.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]),
                                                       np.array([[0.0, 1.0], [2.0, 0.0]]))),
        Case("queries of width 3, keys of width 4 (W is 3 x 4), n_q=2, n_k=5",
             (random_array(7, (2, 3)), random_array(8, (5, 4)), random_array(9, (3, 4)))),
        Case("a batch: queries (2, 3, 3), keys (2, 4, 2), W (3, 2)",
             (random_array(10, (2, 3, 3)), random_array(11, (2, 4, 2)), random_array(12, (3, 2))), kind="batch"),
        Case("float32, square W (4, 4)", (random_array(13, (3, 4), np.float32), random_array(14, (3, 4), np.float32),
                                          random_array(15, (4, 4), np.float32)), kind="float32"),
    ]
    return check_function(
        "bilinear_scores", function, bilinear_scores, cases, argument_names=("q", "k", "w"),
        mistakes=[
            Mistake(lambda q, k, w: q @ w.T @ _t(k), "you used W transposed: the score is q_i W k_j^T, W of shape (d_q, d_k)."),
            Mistake(lambda q, k, w: dot_product_scores(q, k), "W is missing: these are plain dot products."),
            TRANSPOSED,
        ],
        hint="Chapter 3, section 'The general (bilinear) score': W has shape (d_q, d_k); on which side of W "
             "must the queries stand for the shapes to line up?",
        timeout=timeout, verbose=verbose)


def _additive_no_tanh(q, k, w_q, w_k, w_v):
    return ((q @ w_q)[..., :, None, :] + (k @ w_k)[..., None, :, :]) @ w_v


def check_additive_scores(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``additive_scores(q, k, w_q, w_k, w_v)``: :math:`w_v^\\top \\tanh(q_i W_q + k_j W_k)`."""
    cases = [
        Case("one query, two keys, hidden width 2",
             (np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 1.0]]), np.eye(2), np.array([[1.0, 0.0], [0.0, -1.0]]),
              np.array([1.0, 2.0]))),
        Case("n_q=3, n_k=4, query width 2, key width 5, hidden width 6",
             (random_array(16, (3, 2)), random_array(17, (4, 5)), random_array(18, (2, 6)), random_array(19, (5, 6)),
              random_array(20, (6,)))),
        Case("a batch of 2: queries (2, 2, 3), keys (2, 3, 3)",
             (random_array(21, (2, 2, 3)), random_array(22, (2, 3, 3)), random_array(23, (3, 4)),
              random_array(24, (3, 4)), random_array(25, (4,))), kind="batch"),
        Case("float32", (random_array(32, (2, 3), np.float32), random_array(33, (3, 3), np.float32),
                         random_array(34, (3, 4), np.float32), random_array(35, (3, 4), np.float32),
                         random_array(36, (4,), np.float32)), kind="float32"),
    ]
    return check_function(
        "additive_scores", function, additive_scores, cases, argument_names=("q", "k", "w_q", "w_k", "w_v"),
        mistakes=[
            Mistake(_additive_no_tanh, "the tanh is missing: without it the score is linear and "
                                       "splits into a query part plus a key part."),
            Mistake(lambda q, k, w_q, w_k, w_v: np.tanh(_additive_no_tanh(q, k, w_q, w_k, w_v)),
                    "you applied tanh after w_v; it goes on the hidden vector q_i W_q + k_j W_k, before w_v."),
            Mistake(lambda q, k, w_q, w_k, w_v: _t(additive_scores(q, k, w_q, w_k, w_v)),
                    "your scores are transposed: row i must be query i."),
        ],
        hint="Chapter 3, section 'The additive score': every (query, key) pair needs its own hidden vector; "
             "what shape holds all n_q x n_k of them, and at which step does tanh act?",
        timeout=timeout, verbose=verbose)


def check_cosine_scores(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``cosine_scores(q, k)``: dot products of unit vectors; a zero vector scores 0."""
    cases = _query_key_cases()[:3] + [
        Case("a zero query (no direction) among the queries",
             (np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 2.0]])),
             nonfinite_message="a zero vector has no direction, so the book gives its scores 0, "
                               "not 0/0 = NaN: divide only where the length is not zero."),
        _query_key_cases()[3],
    ]
    return check_function(
        "cosine_scores", function, cosine_scores, cases, argument_names=("q", "k"),
        mistakes=[
            Mistake(lambda q, k: dot_product_scores(q / np.linalg.norm(q, axis=-1, keepdims=True), k),
                    "only the queries are normalised: divide the keys by their lengths too."),
            Mistake(lambda q, k: dot_product_scores(q, k / np.linalg.norm(k, axis=-1, keepdims=True)),
                    "only the keys are normalised: divide the queries by their lengths too."),
            Mistake(lambda q, k: dot_product_scores(q / np.linalg.norm(q, axis=-2, keepdims=True),
                                                    k / np.linalg.norm(k, axis=-2, keepdims=True)),
                    "you normalised along the wrong axis: each vector is a ROW, its length is taken over the last axis."),
            Mistake(dot_product_scores, "these are plain dot products: divide each query and key by its length."),
            TRANSPOSED,
        ],
        hint="Chapter 3, section 'The cosine score': what length does each query and key have once it is "
             "normalised, and what score should a vector with no direction get?",
        timeout=timeout, verbose=verbose)


def check_location_scores(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``location_scores(q, w)``: :math:`s_i = q_i W`, ``w`` of shape (d_q, n_k); keys play no part."""
    cases = [
        Case("one query, W with 3 key positions", (np.array([[1.0, 0.0]]), np.array([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]]))),
        Case("3 queries of width 4, 5 key positions", (random_array(26, (3, 4)), random_array(27, (4, 5)))),
        Case("a batch of 2: queries (2, 3, 4)", (random_array(28, (2, 3, 4)), random_array(29, (4, 2))), kind="batch"),
        Case("float32", (random_array(30, (2, 3), np.float32), random_array(31, (3, 3), np.float32)), kind="float32"),
    ]
    return check_function(
        "location_scores", function, location_scores, cases, argument_names=("q", "w"),
        mistakes=[
            Mistake(lambda q, w: softmax(q @ w), "these are weights (rows sum to 1): the exercise asks for the "
                                                 "scores, before any softmax."),
            Mistake(lambda q, w: _t(q @ w), "your scores are transposed: row i must be query i."),
        ],
        hint="Chapter 3, section 'The location-based score': no key vector takes part; where do the scores "
             "for each key position come from, and which axis of the result is the queries'?",
        timeout=timeout, verbose=verbose)
