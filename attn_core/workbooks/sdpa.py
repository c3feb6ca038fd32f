"""Checks for the workbook of chapter 5, "Scaled dot-product attention": one query by hand,
the full operation on batches, and its backward pass.

Examples
--------
>>> import numpy as np
>>> result = check_scaled_dot_product_attention(lambda q, k, v: None, verbose=False)
>>> result.status
'failed'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from attn_core.attention import scaled_dot_product_attention, scaled_dot_product_attention_backward
from attn_core.softmax import naive_softmax, softmax
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_attend_one_query", "check_scaled_dot_product_attention", "check_attention_backward"]


def _t(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def _attention_with(q, k, v, scale, axis=-1, stable=True):
    weights = (softmax if stable else naive_softmax)(q @ _t(k) * scale, axis=axis)
    return weights @ v, weights


def _one_query(q, k, v):
    output, weights = scaled_dot_product_attention(q[None, :], k, v)
    return output[0], weights[0]


def check_attend_one_query(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``attend_one_query(q, k, v) -> (output, weights)`` for ONE query ``q`` of shape
    (d_k,), keys (n_k, d_k), values (n_k, d_v): weights (n_k,), output (d_v,)."""
    cases = [
        Case("the query [1, 0] against keys [1, 0], [0, 1], values [10, 0], [0, 10]",
             (np.array([1.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[10.0, 0.0], [0.0, 10.0]]))),
        Case("a query of width 4, 5 keys, values of width 3",
             (random_array(50, (4,)), random_array(51, (5, 4)), random_array(52, (5, 3)))),
        Case("float32", (random_array(53, (8,), np.float32), random_array(54, (3, 8), np.float32),
                         random_array(55, (3, 2), np.float32)), kind="float32"),
        Case("a long query: scores near 1000", (np.full(4, 30.0), np.full((3, 4), 16.0) + np.arange(3)[:, None],
                                                 np.eye(3)), kind="overflow"),
    ]
    return check_function(
        "attend_one_query", function, _one_query, cases, argument_names=("q", "k", "v"),
        output_names=("output", "weights"), weights_output=1,
        mistakes=[
            Mistake(lambda q, k, v: tuple(x[0] for x in _attention_with(q[None], k, v, 1.0)),
                    "you did not divide the scores by sqrt(d_k)."),
            Mistake(lambda q, k, v: tuple(x[0] for x in _attention_with(q[None], k, v, 1.0 / q.shape[-1])),
                    "you divided the scores by d_k; the scale is 1/sqrt(d_k)."),
        ],
        hint="Chapter 5, section 'A worked example by hand': redo the example's steps with these numbers; "
             "which width is d_k, and what must the weights over the keys add up to?",
        timeout=timeout, verbose=verbose)


def _qkv_cases() -> list[Case]:
    return [
        Case("2 queries, 2 keys, width 2, by hand",
             (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]))),
        Case("3 queries, 5 keys (n_q != n_k), d_k = 4, d_v = 2",
             (random_array(56, (3, 4)), random_array(57, (5, 4)), random_array(58, (5, 2)))),
        Case("a batch of 2 sequences: q (2, 3, 4), k and v (2, 4, 4)",
             (random_array(59, (2, 3, 4)), random_array(60, (2, 4, 4)), random_array(61, (2, 4, 4))), kind="batch"),
        Case("float32", (random_array(62, (2, 8), np.float32), random_array(63, (3, 8), np.float32),
                         random_array(64, (3, 8), np.float32)), kind="float32"),
        Case("large queries and keys: scaled scores near 1000",
             (random_array(65, (2, 4), scale=40.0), random_array(66, (3, 4), scale=40.0), random_array(67, (3, 2))),
             kind="overflow"),
    ]


def check_scaled_dot_product_attention(function: Any, *, timeout: float = DEFAULT_TIMEOUT,
                                       verbose: bool = True) -> Result:
    """Check ``scaled_dot_product_attention(q, k, v) -> (output, weights)``, no mask."""
    return check_function(
        "scaled_dot_product_attention", function, lambda q, k, v: scaled_dot_product_attention(q, k, v),
        _qkv_cases(), argument_names=("q", "k", "v"), output_names=("output", "weights"), weights_output=1,
        mistakes=[
            Mistake(lambda q, k, v: _attention_with(q, k, v, 1.0), "you did not divide the scores by sqrt(d_k)."),
            Mistake(lambda q, k, v: _attention_with(q, k, v, 1.0 / q.shape[-1]),
                    "you divided the scores by d_k; the scale is 1/sqrt(d_k)."),
            Mistake(lambda q, k, v: _attention_with(q, k, v, 1.0 / math.sqrt(q.shape[-1]), axis=-2),
                    "your softmax runs over the queries (axis -2): each query's row of weights over the KEYS "
                    "must sum to 1, so the softmax runs over the last axis."),
            Mistake(lambda q, k, v: _attention_with(q, k, v, 1.0 / math.sqrt(v.shape[-1])),
                    "you divided by sqrt(d_v), the width of the values; the scale is 1/sqrt(d_k), the width of "
                    "the queries and keys."),
        ],
        hint="Chapter 5, section 'The formula and its shapes': write down the shape of every intermediate "
             "array; which axis holds the keys, and which width sets the scale?",
        timeout=timeout, verbose=verbose)


def _backward(q, k, v, grad_output):
    _, weights = scaled_dot_product_attention(q, k, v)
    return scaled_dot_product_attention_backward(q, k, v, weights, grad_output)


def _backward_no_correction(q, k, v, grad_output):
    """dS = A * dA, forgetting the softmax's row-sum term."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    _, a = scaled_dot_product_attention(q, k, v)
    grad_a = grad_output @ _t(v)
    grad_s = a * grad_a
    return scale * grad_s @ k, scale * _t(grad_s) @ q, _t(a) @ grad_output


def _backward_dv_scale(q, k, v, grad_output):
    """The forward pass scaled by 1/sqrt(d_v) instead of 1/sqrt(d_k)."""
    scale = 1.0 / math.sqrt(v.shape[-1])
    weights = softmax(q @ _t(k) * scale)
    return scaled_dot_product_attention_backward(q, k, v, weights, grad_output, scale=scale)


def _backward_no_scale(q, k, v, grad_output):
    dq, dk, dv = _backward(q, k, v, grad_output)
    return dq * math.sqrt(q.shape[-1]), dk * math.sqrt(q.shape[-1]), dv


def check_attention_backward(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``attention_backward(q, k, v, grad_output) -> (grad_q, grad_k, grad_v)`` of
    scaled dot-product attention (no mask), given ``grad_output = dL/d(output)``."""
    cases = [
        Case("2 queries, 2 keys, width 2, grad_output of ones",
             (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [1.0, 1.0]]),
              np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2)))),
        Case("3 queries, 5 keys, d_k = 4, d_v = 2",
             (random_array(70, (3, 4)), random_array(71, (5, 4)), random_array(72, (5, 2)), random_array(73, (3, 2)))),
        Case("a batch of 2: q (2, 2, 3), k and v (2, 4, 3)",
             (random_array(74, (2, 2, 3)), random_array(75, (2, 4, 3)), random_array(76, (2, 4, 3)),
              random_array(77, (2, 2, 3))), kind="batch"),
        Case("float32", (random_array(78, (2, 4), np.float32), random_array(79, (3, 4), np.float32),
                         random_array(68, (3, 2), np.float32), random_array(69, (2, 2), np.float32)), kind="float32"),
        Case("large queries and keys: scaled scores near 1000",
             (random_array(65, (2, 4), scale=40.0), random_array(66, (3, 4), scale=40.0), random_array(67, (3, 2)),
              np.ones((2, 2))), kind="overflow"),
    ]
    return check_function(
        "attention_backward", function, _backward, cases, argument_names=("q", "k", "v", "grad_output"),
        output_names=("grad_q", "grad_k", "grad_v"),
        mistakes=[
            Mistake(_backward_no_correction,
                    "your gradient through the softmax is A * dA; the softmax couples a row, so subtract "
                    "each row's sum of A * dA: dS = A * (dA - rowsum(A * dA))."),
            Mistake(lambda q, k, v, g: _backward(q, k, v, g)[:2] + (scaled_dot_product_attention(q, k, v)[1] @ g,),
                    "grad_v is A dO; it is A^T dO: value j collects the gradient of every query that read it "
                    "(a column of A)."),
            Mistake(_backward_no_scale, "grad_q and grad_k miss the scale: S = Q K^T / sqrt(d_k), so both "
                                        "carry the factor 1/sqrt(d_k)."),
            Mistake(_backward_dv_scale, "you scaled by 1/sqrt(d_v), the width of the values; the forward pass "
                                        "scales the scores by 1/sqrt(d_k)."),
        ],
        hint="Chapter 5, section 'The backward pass': walk the forward pass backwards one step at a time and "
             "write the shape of each gradient. The softmax couples a row: what does dA_ij/dS_ik contribute "
             "when k is not j?",
        timeout=timeout, verbose=verbose)
