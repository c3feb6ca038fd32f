"""Checks for the workbook of chapter 2, "Queries, keys and values": the hard lookup written as
arithmetic, Gaussian kernel weights, Nadaraya–Watson regression, the boxcar kernel as a masked
softmax, and attention with learned projections Q = X W_Q, K = X W_K, V = X W_V.

Examples
--------
>>> import numpy as np
>>> check_hard_lookup(lambda queries, keys, values: np.zeros(len(queries)), verbose=False).passed
False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.attention import scaled_dot_product_attention
from attn_core.pooling import nadaraya_watson
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_hard_lookup", "check_gaussian_weights", "check_nadaraya_watson", "check_boxcar_weights",
           "check_projected_attention", "hard_lookup_reference"]

HOURS = np.array([6.0, 12.0, 18.0])  # the chapter's weather log: hours (keys) ...
TEMPERATURES = np.array([11.0, 19.0, 15.0])  # ... and temperatures (values)
ASKED = np.array([6.0, 12.0, 13.0, 21.0])  # the hours asked (queries)


def _softmax_rows(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------------------------- the hard lookup
def hard_lookup_reference(queries: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``sum_j [q_i == k_j] v_j`` for every query: one-hot weights times the values, 0 for a missing key.

    Examples
    --------
    >>> hard_lookup_reference(np.array([12.0, 13.0]), HOURS, TEMPERATURES)
    array([19.,  0.])
    """
    weights = (queries[:, None] == keys[None, :]).astype(float)  # (n_q, n_k): 1 where the query equals the key
    return weights @ values  # (n_q,)


def _nearest(queries, keys, values):
    return values[np.abs(queries[:, None] - keys[None, :]).argmin(axis=1)]


def check_hard_lookup(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``hard_lookup(queries, keys, values) -> (n_q,)``: the sum of the values weighted by
    1 where the query equals the key and 0 elsewhere (0 for a query that equals no key)."""
    missing = ("a query that equals no key has weights of all zeros, so its answer is 0 (the book's "
               "convention), not NaN: there is nothing to divide.")
    cases = [
        Case("the weather log: hours 6, 12, 18; asked 6, 12, 13, 21", (ASKED, HOURS, TEMPERATURES),
             nonfinite_message=missing),
        Case("5 queries, 4 keys, every query stored", (np.array([3.0, 1.0, 4.0, 1.0, 2.0]), np.arange(1.0, 5.0),
                                                       np.array([10.0, 20.0, 30.0, 40.0])), nonfinite_message=missing),
        Case("no query is stored", (np.array([0.5, 7.0]), np.arange(1.0, 5.0), np.array([10.0, 20.0, 30.0, 40.0])),
             nonfinite_message=missing),
    ]
    return check_function(
        "hard_lookup", function, hard_lookup_reference, cases, argument_names=("queries", "keys", "values"),
        mistakes=[
            Mistake(_nearest, "your lookup answers with the NEAREST key; a dictionary's lookup is all or nothing: "
                              "weight 1 where the query equals the key, 0 elsewhere."),
            Mistake(lambda q, k, v: np.where((q[:, None] == k[None, :]).any(axis=1), hard_lookup_reference(q, k, v),
                                             v.mean()),
                    "a query that equals no key gets the answer 0 (its weights are all zero), not the mean of "
                    "the values."),
            Mistake(lambda q, k, v: (q[:, None] == k[None, :]).sum(axis=1).astype(float),
                    "you counted the matching keys; the answer adds up the VALUES with those weights."),
        ],
        hint="Chapter 2, section 'A dictionary is a hard lookup': what weight does a key get from a query, and "
             "how do you compare every query with every key at once?",
        timeout=timeout, verbose=verbose)


# -------------------------------------------------------------------------------- Gaussian weights
def _gaussian(queries, keys, bandwidth):
    return nadaraya_watson(queries, keys, np.zeros(len(keys)), bandwidth=bandwidth)[1]


def _gaussian_variant(queries, keys, bandwidth, *, power=2, denominator=None, sign=-1.0, axis=-1):
    distance = np.abs(queries[:, None] - keys[None, :]) ** power  # (n_q, n_k)
    scale = 2 * bandwidth**2 if denominator is None else denominator
    return _softmax_rows(sign * distance / scale, axis=axis)


def check_gaussian_weights(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``gaussian_weights(queries, keys, bandwidth) -> (n_q, n_k)``: row i is the softmax of the
    scores -(q_i - k_j)^2 / (2 sigma^2), sigma = ``bandwidth``."""
    far = ("every kernel value of this row underflowed to 0 (the query is far from every key, and exp of a "
           "very negative score is 0), and 0 / 0 is NaN. The weights are a softmax of the scores: subtract "
           "the row's largest score first; the weights do not change.")
    cases = [
        Case("the weather log, sigma = 3 hours", (ASKED, HOURS, 3.0)),
        Case("5 queries, 7 keys, sigma = 0.5", (random_array(340, (5,)), random_array(341, (7,)), 0.5)),
        Case("sigma = 2: a wider kernel", (random_array(342, (3,)), random_array(343, (4,), scale=3.0), 2.0)),
        Case("a narrow kernel, sigma = 0.1, and a query 100 away from every key",
             (np.array([1.5, 100.0]), np.array([1.0, 2.0, 3.0]), 0.1), kind="overflow", nonfinite_message=far),
    ]
    return check_function(
        "gaussian_weights", function, _gaussian, cases, argument_names=("queries", "keys", "bandwidth"),
        weights_output=0,
        mistakes=[
            Mistake(lambda q, k, s: _gaussian_variant(q, k, s, denominator=2 * s),
                    "you divided by 2 sigma; the score is -(q - k)^2 / (2 sigma^2): sigma squared, the "
                    "width in the units of the distance squared."),
            Mistake(lambda q, k, s: _gaussian_variant(q, k, s, denominator=s**2),
                    "the 2 is missing: the score is -(q - k)^2 / (2 sigma^2)."),
            Mistake(lambda q, k, s: _gaussian_variant(q, k, s, sign=1.0),
                    "your weights grow with the distance: the score is MINUS the squared distance, so that "
                    "the nearest keys weigh most."),
            Mistake(lambda q, k, s: _gaussian_variant(q, k, s, power=1),
                    "you used the distance |q - k|; the Gaussian kernel uses its square, (q - k)^2."),
            Mistake(lambda q, k, s: _gaussian_variant(q, k, s, axis=0),
                    "your columns sum to 1: normalise each ROW (one query) over the keys, axis=-1."),
        ],
        hint="Chapter 2, sections 'Relaxing the lookup' and 'The Gaussian kernel gives a softmax': which numbers "
             "are the scores of one row, and what keeps their softmax finite when every score is very negative?",
        timeout=timeout, verbose=verbose)


# ------------------------------------------------------------------------------ Nadaraya-Watson
def _regression(x_query, x_train, y_train, bandwidth):
    return nadaraya_watson(x_query, x_train, y_train, bandwidth=bandwidth)[0]


def _kernel(x_query, x_train, bandwidth):
    return np.exp(-((x_query[:, None] - x_train[None, :]) ** 2) / (2 * bandwidth**2))  # (n_q, n_k)


def check_nadaraya_watson(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``nadaraya_watson(x_query, x_train, y_train, bandwidth) -> (n_q,)``: each prediction is the
    average of ``y_train`` weighted by the normalised Gaussian kernel of the distance to ``x_train``."""
    x_train = np.sort(np.random.default_rng(350).uniform(0, 5, 12))
    y_train = np.sin(2 * x_train) + 0.3 * x_train
    cases = [
        Case("the weather log at 13 o'clock, sigma = 3 (the chapter's 17.8 degrees)",
             (np.array([13.0]), HOURS, TEMPERATURES, 3.0)),
        Case("the weather log at every hour asked", (ASKED, HOURS, TEMPERATURES, 3.0)),
        Case("12 noisy points of a curve, 6 queries, sigma = 0.3",
             (np.linspace(0, 5, 6), x_train, y_train, 0.3)),
        Case("3 queries, 3 training points, sigma = 1 (n_q = n_k)",
             (np.array([0.0, 1.0, 5.0]), np.array([0.5, 2.0, 4.0]), np.array([1.0, -2.0, 3.0]), 1.0)),
    ]
    return check_function(
        "nadaraya_watson", function, _regression, cases, argument_names=("x_query", "x_train", "y_train", "bandwidth"),
        mistakes=[
            Mistake(lambda xq, xt, yt, s: _kernel(xq, xt, s) @ yt,
                    "your kernel values are not normalised: divide each query's kernel values by their sum, so "
                    "that its weights sum to 1."),
            Mistake(lambda xq, xt, yt, s: _kernel(xq, xt, s) @ yt / len(yt),
                    "you divided by the number of training points; divide by the sum of the query's kernel "
                    "values, so that the weights sum to 1."),
            Mistake(lambda xq, xt, yt, s: (_kernel(xq, xt, s) / _kernel(xq, xt, s).sum(axis=0, keepdims=True)) @ yt,
                    "you normalised each training point's kernel values over the queries; normalise each "
                    "QUERY's values over the training points (a row of the weights sums to 1)."),
            Mistake(lambda xq, xt, yt, s: np.full(len(xq), yt.mean()),
                    "every prediction is the mean of y_train: the weights must depend on the distance from the "
                    "query (that is a kernel of infinite width)."),
        ],
        hint="Chapter 2, section 'Nadaraya–Watson regression is attention pooling': which observations play "
             "the keys and which the values, and what did exercise 2 already compute?",
        timeout=timeout, verbose=verbose)


# ---------------------------------------------------------------------------------- the boxcar kernel
def _boxcar(queries, keys, bandwidth):
    return nadaraya_watson(queries, keys, np.zeros(len(keys)), bandwidth=bandwidth, kernel="boxcar")[1]


def _boxcar_variant(queries, keys, bandwidth, *, strict=False, squared_width=False):
    distance = np.abs(queries[:, None] - keys[None, :])  # (n_q, n_k)
    width = bandwidth**2 if squared_width else bandwidth
    inside = (distance < width if strict else distance <= width).astype(float)
    total = inside.sum(axis=-1, keepdims=True)
    return np.divide(inside, total, out=np.zeros_like(inside), where=total > 0)


def check_boxcar_weights(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``boxcar_weights(queries, keys, bandwidth) -> (n_q, n_k)``: equal weights 1/m on the m keys
    with ``|q - k| <= sigma``, 0 elsewhere; a query with no key inside its window gets a row of zeros."""
    cases = [
        Case("the weather log at 13 o'clock, a window of ±5.5 hours", (np.array([13.0]), HOURS, 5.5)),
        Case("the log at every hour asked, a window of ±5 hours (13 and 18 are exactly 5 apart)", (ASKED, HOURS, 5.0)),
        Case("5 queries, 6 keys, a window of ±0.8", (np.linspace(-1, 1, 5), random_array(360, (6,)), 0.8)),
        Case("a window of ±0.5 hours: some hours asked have no key inside", (ASKED, HOURS, 0.5), kind="empty_row",
             nonfinite_message="that query has no key inside its window: its count of keys is 0, and 0 / 0 is "
                               "NaN. Give it a row of zeros (the book's convention for a query with no "
                               "allowed key)."),
    ]
    return check_function(
        "boxcar_weights", function, _boxcar, cases, argument_names=("queries", "keys", "bandwidth"),
        weights_output=0,
        mistakes=[
            Mistake(lambda q, k, s: _boxcar_variant(q, k, s, strict=True),
                    "off by one: the window holds the keys at distance AT MOST sigma, |q - k| <= sigma "
                    "(a key exactly sigma away is inside)."),
            Mistake(lambda q, k, s: _boxcar_variant(q, k, s, squared_width=True),
                    "your window is ±sigma^2; the boxcar keeps the keys within ±sigma of the query."),
        ],
        hint="Chapter 2, section 'The boxcar kernel: a masked softmax': which keys are inside a query's window, "
             "how many share its unit of weight, and what does a query with none get?",
        timeout=timeout, verbose=verbose)


# ------------------------------------------------------------------------------ learned projections
def _projected(x, w_q, w_k, w_v):
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)


def _projected_variant(x, w_q, w_k, w_v, *, scale_width=None, keys_with="k", values_plain=False):
    q = x @ w_q
    k = x @ (w_q if keys_with == "q" else w_k)
    v = x if values_plain else x @ w_v
    width = q.shape[-1] if scale_width is None else scale_width
    weights = _softmax_rows(q @ np.swapaxes(k, -1, -2) / np.sqrt(width))
    return weights @ v, weights


def _words():
    """The chapter's sentence 'cat sat on mat it purred' and its hand-set projections (d_k = 2)."""
    x = np.array([[1, 0, 0, 0, 1.0], [0, 0, 1, 0, 0.0], [0, 0, 0, 1, 0.0], [1, 0, 0, 0, 0.0], [0, 1, 0, 0, 0.0],
                  [0, 0, 1, 0, 0.5]])  # (6, 5): noun, pronoun, verb, preposition, animate
    w_q = np.zeros((5, 2))
    w_q[1], w_q[2] = [4.0, 4.0], [4.0, 0.0]  # the pronoun wants an animate noun, the verb a noun
    w_k = np.zeros((5, 2))
    w_k[0, 0], w_k[4, 1] = 1.0, 1.0  # is a noun, is animate
    return x, w_q, w_k, np.eye(5)


def check_projected_attention(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``projected_attention(x, w_q, w_k, w_v) -> (output, weights)``: Q = x W_Q, K = x W_K,
    V = x W_V, weights softmax(Q K^T / sqrt(d_k)) (d_k = the columns of W_Q), output = weights V."""
    cases = [
        Case("the chapter's sentence 'cat sat on mat it purred', d_model = 5, d_k = 2", _words()),
        Case("4 tokens, d_model = 6, d_k = 3, d_v = 6", (random_array(370, (4, 6)), random_array(371, (6, 3)),
                                                         random_array(372, (6, 3)), random_array(373, (6, 6)))),
        Case("a batch of 2 sequences of 5 tokens, d_model = 4, d_k = 2, d_v = 3",
             (random_array(374, (2, 5, 4)), random_array(375, (4, 2)), random_array(376, (4, 2)),
              random_array(377, (4, 3))), kind="batch"),
        Case("float32", (random_array(378, (3, 4), np.float32), random_array(379, (4, 2), np.float32),
                         random_array(380, (4, 2), np.float32), random_array(381, (4, 4), np.float32)),
             kind="float32"),
    ]
    return check_function(
        "projected_attention", function, _projected, cases, argument_names=("x", "w_q", "w_k", "w_v"),
        output_names=("output", "weights"), weights_output=1,
        mistakes=[
            Mistake(lambda x, wq, wk, wv: _projected_variant(x, wq, wk, wv, scale_width=x.shape[-1]),
                    "you scaled by 1/sqrt(d_model); the scores are scaled by 1/sqrt(d_k), the width of the "
                    "queries and keys AFTER projection (the columns of W_Q)."),
            Mistake(lambda x, wq, wk, wv: _projected_variant(x, wq, wk, wv, keys_with="q"),
                    "your keys use W_Q: then the scores are symmetric and a token cannot ask a question that "
                    "differs from what it advertises. Keys are x W_K."),
            Mistake(lambda x, wq, wk, wv: _projected_variant(x, wq, wk, wv, values_plain=True),
                    "your values are the tokens themselves; they are projected too, V = x W_V."),
            Mistake(lambda x, wq, wk, wv: _projected_variant(x, wq, wk, wv, scale_width=1),
                    "the scaling is missing: divide the scores by sqrt(d_k)."),
        ],
        hint="Chapter 2, section 'Where queries, keys and values come from': which matrix makes the queries, "
             "which the keys, which the values, and which width scales the scores?",
        timeout=timeout, verbose=verbose)
