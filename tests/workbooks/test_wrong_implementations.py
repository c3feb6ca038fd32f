"""Every check catches at least three wrong implementations, each with the right message.

The table maps a wrong function, written here as a student might, to a fragment of the
message its check must print. A check that passes any of them fails this test; so does a
check that catches it for the wrong reason (another message). Every check also passes a
correct implementation written here (not attn_core's), so that the table is not vacuous.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.workbooks.wrong_tables import checks_of, wrong_table_tests

from attn_core.workbooks import masking, scoring, sdpa, softmax

T = lambda x: np.swapaxes(x, -1, -2)  # noqa: E731


def stable(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def naive(s, axis=-1):
    e = np.exp(s)
    return e / e.sum(axis=axis, keepdims=True)


def masked(s, allowed):
    s = np.where(allowed, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(m), m, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def unit(x, axis=-1):
    n = np.linalg.norm(x, axis=axis, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def attention(q, k, v, scale=None, softmax_function=stable, axis=-1):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    w = softmax_function(q @ T(k) * scale, axis=axis)
    return w @ v, w


def causal(n_q, n_k):
    return np.arange(n_k)[None, :] <= np.arange(n_k - n_q, n_k)[:, None]


def backward(q, k, v, g, *, scale=None, correction=True, transpose_dv=True, grad_scale=True):
    s = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    _, a = attention(q, k, v, s)
    dv = T(a) @ g if transpose_dv else a @ g
    da = g @ T(v)
    ds = a * (da - (da * a).sum(-1, keepdims=True)) if correction else a * da
    g_s = s if grad_scale else 1.0
    return g_s * ds @ k, g_s * T(ds) @ q, dv


def masked_attention(q, k, v, mask, is_causal, *, softmax_function=None, after=False, use_causal=True,
                     invert=False):
    allowed = np.asarray(mask, dtype=bool)
    allowed = ~allowed if invert else allowed
    if is_causal and use_causal:
        allowed = allowed & causal(q.shape[-2], k.shape[-2])
    s = q @ T(k) / math.sqrt(q.shape[-1])
    if after:
        w = stable(s) * allowed
    elif softmax_function is not None:
        w = softmax_function(np.where(allowed, s, -1e9))
    else:
        w = masked(s, allowed)
    return w @ v, w


def max_over_hidden(s, allowed, guard=True):
    """The classic masking slip: the row maximum over the hidden entries too, the mask applied after exp."""
    e = np.exp(s - s.max(axis=-1, keepdims=True)) * allowed
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0) if guard else e / total


def attention_max_over_hidden(q, k, v, mask, is_causal, guard=True):
    allowed = np.broadcast_to(np.asarray(mask, dtype=bool), q.shape[:-2] + (q.shape[-2], k.shape[-2]))
    if is_causal:
        allowed = allowed & causal(q.shape[-2], k.shape[-2])
    w = max_over_hidden(q @ T(k) / math.sqrt(q.shape[-1]), allowed, guard)
    return w @ v, w


def nan_rows(s):
    """A softmax without the all-hidden-row case: the -1e9 of masked_attention is turned back into -inf."""
    return stable(np.where(s <= -1e9, -np.inf, s))


CORRECT = {
    scoring.check_dot_product_scores: lambda q, k: q @ T(k),
    scoring.check_scaled_dot_product_scores: lambda q, k: q @ T(k) / math.sqrt(k.shape[-1]),
    scoring.check_bilinear_scores: lambda q, k, w: q @ w @ T(k),
    scoring.check_additive_scores: lambda q, k, wq, wk, wv: np.tanh((q @ wq)[..., :, None, :] + (k @ wk)[..., None, :, :]) @ wv,
    scoring.check_cosine_scores: lambda q, k: unit(q) @ T(unit(k)),
    scoring.check_location_scores: lambda q, w: q @ w,
    softmax.check_softmax: stable,
    softmax.check_softmax_with_temperature: lambda x, t: stable(x / t),
    softmax.check_masked_softmax: masked,
    sdpa.check_attend_one_query: lambda q, k, v: (stable(k @ q / math.sqrt(q.size)) @ v, stable(k @ q / math.sqrt(q.size))),
    sdpa.check_scaled_dot_product_attention: attention,
    sdpa.check_attention_backward: backward,
    masking.check_causal_mask: causal,
    masking.check_padding_mask: lambda lengths, n_k: (np.arange(n_k) < lengths[:, None])[:, None, :],
    masking.check_masked_attention: masked_attention,
}

# (check, wrong implementation, fragment of the message it must print)
WRONG = [
    # ------------------------------------------------------------------ chapter 3, scores
    (scoring.check_dot_product_scores, lambda q, k: k @ T(q), "the result is transposed"),
    (scoring.check_dot_product_scores, lambda q, k: q @ k.T, "leading batch dimensions"),
    (scoring.check_dot_product_scores, lambda q, k: (q * k).sum(-1), "has shape (2,), expected (2, 2)"),
    (scoring.check_dot_product_scores, lambda q, k: (q @ T(k)).astype(np.float64), "float32 inputs must give a float32"),
    (scoring.check_scaled_dot_product_scores, lambda q, k: q @ T(k), "you did not divide by sqrt(d_k)"),
    (scoring.check_scaled_dot_product_scores, lambda q, k: q @ T(k) / k.shape[-1], "you divided by d_k"),
    (scoring.check_scaled_dot_product_scores, lambda q, k: q @ T(k) / np.sqrt(k.shape[-1]), "np.sqrt(d_k)"),
    (scoring.check_scaled_dot_product_scores, lambda q, k: q @ T(k) / math.sqrt(k.shape[-2]), "sqrt(n_k)"),
    (scoring.check_bilinear_scores, lambda q, k, w: q @ w.T @ T(k), "you used W transposed"),
    (scoring.check_bilinear_scores, lambda q, k, w: q @ T(k), "W is missing"),
    (scoring.check_bilinear_scores, lambda q, k, w: k @ w.T @ T(q), "It looks transposed"),
    (scoring.check_additive_scores, lambda q, k, wq, wk, wv: ((q @ wq)[..., :, None, :] + (k @ wk)[..., None, :, :]) @ wv,
     "the tanh is missing"),
    (scoring.check_additive_scores, lambda q, k, wq, wk, wv: np.tanh(((q @ wq)[..., :, None, :] + (k @ wk)[..., None, :, :]) @ wv),
     "you applied tanh after w_v"),
    (scoring.check_additive_scores, lambda q, k, wq, wk, wv: T(np.tanh((q @ wq)[..., :, None, :] + (k @ wk)[..., None, :, :]) @ wv),
     "transposed"),
    (scoring.check_additive_scores, lambda q, k, wq, wk, wv: np.tanh(q @ wq + k @ wk) @ wv, "has shape (2,), expected (1, 2)"),
    (scoring.check_cosine_scores, lambda q, k: unit(q) @ T(k), "only the queries are normalised"),
    (scoring.check_cosine_scores, lambda q, k: q @ T(unit(k)), "only the keys are normalised"),
    (scoring.check_cosine_scores, lambda q, k: unit(q, -2) @ T(unit(k, -2)), "normalised along the wrong axis"),
    (scoring.check_cosine_scores, lambda q, k: q @ T(k), "these are plain dot products"),
    (scoring.check_cosine_scores, lambda q, k: (q / np.linalg.norm(q, axis=-1, keepdims=True))
     @ T(k / np.linalg.norm(k, axis=-1, keepdims=True)), "a zero vector has no direction"),
    (scoring.check_location_scores, lambda q, w: stable(q @ w), "these are weights"),
    (scoring.check_location_scores, lambda q, w: w.T @ q.T, "It looks transposed"),
    (scoring.check_location_scores, lambda q, w: q @ w[:, ::-1], "differs from the expected answer first at entry [0, 0]"),
    # ------------------------------------------------------------------ chapter 4, softmax
    (softmax.check_softmax, naive, "overflow. np.exp of a large score is inf"),
    (softmax.check_softmax, lambda x: stable(x, axis=0), "you normalised along the first axis"),
    (softmax.check_softmax, lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(), "sum of the whole array"),
    (softmax.check_softmax, lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(-1, keepdims=True),
     "Subtract each row's own maximum"),
    (softmax.check_softmax, lambda x: np.exp(x - x.max(-1)) / np.exp(x - x.max(-1)).sum(-1), "keepdims=True keeps it"),
    (softmax.check_softmax, lambda x: np.exp(x - x.max(-1, keepdims=True)), "your rows do not sum to 1"),
    (softmax.check_softmax_with_temperature, lambda x, t: stable(x * t), "you multiplied the scores by the temperature"),
    (softmax.check_softmax_with_temperature, lambda x, t: stable(x), "the temperature has no effect"),
    (softmax.check_softmax_with_temperature, lambda x, t: stable(x) / t, "divided the weights by the temperature"),
    (softmax.check_softmax_with_temperature, lambda x, t: naive(x / t), "overflow"),
    (softmax.check_masked_softmax, lambda x, m: stable(x) * m, "you applied the mask after the softmax"),
    (softmax.check_masked_softmax, lambda x, m: masked(x, ~m), "your mask is inverted"),
    (softmax.check_masked_softmax, lambda x, m: stable(np.where(m, x, -np.inf)), "must get zeros, not NaN"),
    (softmax.check_masked_softmax, lambda x, m: stable(np.where(m, x, -1e9)), "spreads its weight evenly"),
    (softmax.check_masked_softmax, lambda x, m: naive(np.where(m, x, -np.inf)) if np.any(m, -1).all() else masked(x, m),
     "overflow"),
    (softmax.check_masked_softmax, max_over_hidden, "maximum over the hidden entries too"),
    (softmax.check_masked_softmax, lambda x, m: max_over_hidden(x, m, guard=False), "maximum over the hidden entries"),
    # ------------------------------------------------------------------ chapter 5, attention
    (sdpa.check_attend_one_query, lambda q, k, v: (stable(k @ q) @ v, stable(k @ q)), "did not divide the scores by sqrt(d_k)"),
    (sdpa.check_attend_one_query, lambda q, k, v: (stable(k @ q / q.size) @ v, stable(k @ q / q.size)), "divided the scores by d_k"),
    (sdpa.check_attend_one_query, lambda q, k, v: (naive(k @ q / math.sqrt(q.size)) @ v, naive(k @ q / math.sqrt(q.size))), "overflow"),
    (sdpa.check_attend_one_query, lambda q, k, v: (stable(k @ q / math.sqrt(q.size)) @ v,), "a tuple of 1"),
    (sdpa.check_attend_one_query, lambda q, k, v: (stable(k @ q / math.sqrt(q.size)), stable(k @ q / math.sqrt(q.size)) @ v),
     "the right arrays in the wrong order: you returned (weights, output)"),
    (sdpa.check_scaled_dot_product_attention, lambda q, k, v: attention(q, k, v, 1.0), "did not divide the scores by sqrt(d_k)"),
    (sdpa.check_scaled_dot_product_attention, lambda q, k, v: attention(q, k, v, 1 / math.sqrt(v.shape[-1])),
     "you divided by sqrt(d_v)"),
    (sdpa.check_scaled_dot_product_attention, lambda q, k, v: attention(q, k, v, 1 / q.shape[-1]), "divided the scores by d_k"),
    (sdpa.check_scaled_dot_product_attention, lambda q, k, v: attention(q, k, v, axis=-2), "your softmax runs over the queries"),
    (sdpa.check_scaled_dot_product_attention, lambda q, k, v: attention(q, k, v, softmax_function=naive), "overflow"),
    (sdpa.check_scaled_dot_product_attention, lambda q, k, v: (attention(q, k, v)[1] @ v, T(attention(q, k, v)[1])),
     "weights is transposed"),
    (sdpa.check_scaled_dot_product_attention, lambda q, k, v: attention(q, k, v)[0], "expected a tuple of 2 arrays"),
    (sdpa.check_scaled_dot_product_attention, lambda q, k, v: (stable(q @ k.T / math.sqrt(q.shape[-1])) @ v,
                                                               stable(q @ k.T / math.sqrt(q.shape[-1]))),
     "x.T reverses ALL the axes"),
    (sdpa.check_attention_backward, lambda q, k, v, g: backward(q, k, v, g, correction=False), "subtract each row's sum"),
    (sdpa.check_attention_backward, lambda q, k, v, g: backward(q, k, v, g, grad_scale=False), "miss the scale"),
    (sdpa.check_attention_backward, lambda q, k, v, g: backward(q, k, v, g, transpose_dv=False), "grad_v is A dO"),
    (sdpa.check_attention_backward, lambda q, k, v, g: backward(q, k, v, g)[::-1], "the right arrays in the wrong order"),
    (sdpa.check_attention_backward, lambda q, k, v, g: backward(q, k, v, g, scale=1 / math.sqrt(v.shape[-1])),
     "you scaled by 1/sqrt(d_v)"),
    (sdpa.check_attention_backward, lambda q, k, v, g: tuple(x.astype(np.float64) for x in backward(q, k, v, g)),
     "float32 inputs must give a float32"),
    # ------------------------------------------------------------------ chapter 7, masking
    (masking.check_causal_mask, lambda n_q, n_k: np.tril(np.ones((n_q, n_k), dtype=bool)), "aligned top-left"),
    (masking.check_causal_mask, lambda n_q, n_k: np.arange(n_k)[None, :] < np.arange(n_k - n_q, n_k)[:, None],
     "cannot see their own position"),
    (masking.check_causal_mask, lambda n_q, n_k: np.arange(n_k)[None, :] >= np.arange(n_k - n_q, n_k)[:, None],
     "see the future and hides the past"),
    (masking.check_causal_mask, lambda n_q, n_k: causal(n_q, n_k).astype(int), "a mask is a boolean array"),
    (masking.check_causal_mask, lambda n_q, n_k: ~causal(n_q, n_k), "your mask is inverted"),
    (masking.check_padding_mask, lambda lengths, n_k: (np.arange(n_k) <= lengths[:, None])[:, None, :], "off by one"),
    (masking.check_padding_mask, lambda lengths, n_k: (np.arange(n_k) >= lengths[:, None])[:, None, :], "your mask is inverted"),
    (masking.check_padding_mask, lambda lengths, n_k: np.arange(n_k) < lengths[:, None], "differ only by axes of length 1"),
    (masking.check_padding_mask, lambda lengths, n_k: (np.arange(n_k) >= n_k - lengths[:, None])[:, None, :],
     "hides the start of each sequence"),
    (masking.check_masked_attention, lambda q, k, v, m, c: masked_attention(q, k, v, m, c, after=True),
     "you applied the mask after the softmax"),
    (masking.check_masked_attention, lambda q, k, v, m, c: masked_attention(q, k, v, m, c, use_causal=False),
     "causal=True has no effect"),
    (masking.check_masked_attention, lambda q, k, v, m, c: masked_attention(q, k, v, m, c, invert=True), "your mask is inverted"),
    (masking.check_masked_attention, lambda q, k, v, m, c: masked_attention(q, k, v, m, c, softmax_function=stable),
     "should be all zeros: that query has no allowed key"),
    (masking.check_masked_attention, lambda q, k, v, m, c: masked_attention(q, k, v, m, c, softmax_function=nan_rows),
     "must get zeros, not NaN"),
    (masking.check_masked_attention, attention_max_over_hidden, "maximum over the hidden keys too"),
    (masking.check_masked_attention, lambda *a: attention_max_over_hidden(*a, guard=False), "maximum over the hidden"),
    (masking.check_masked_attention,
     lambda q, k, v, m, c: masked_attention(q, k, v, np.asarray(m) & (np.tril(np.ones((q.shape[-2], k.shape[-2]), bool))
                                                                      if c else True), False),
     "your causal mask is aligned top-left"),
]


(test_a_wrong_implementation_is_caught_with_the_right_message,
 test_a_correct_implementation_written_here_passes,
 test_every_check_has_a_correct_and_three_wrong_implementations) = wrong_table_tests(WRONG, CORRECT, checks_of((scoring, softmax, sdpa, masking)))


# ------------------------------------------------------------------ after the review (findings 2 and 3)
from attn_core.workbooks import efficiency, interpretability, multihead, positions  # noqa: E402

ALL_MODULES = (scoring, softmax, sdpa, masking, multihead, positions, efficiency, interpretability)
ALL_CHECKS = [getattr(module, name) for module in ALL_MODULES for name in module.__all__]

#: What a hint must not say: code, and the key expressions of the answers (the hint names the section
#: and asks a question; only the message of a recognised mistake may say how to fix that mistake).
FORBIDDEN_IN_HINTS = ["np.", "math.", "keepdims", "axis=", "-inf", "@", "exp(m", "e^", "log(", "A^T", "V^T",
                      "rowsum", "sqrt(d", "1/sqrt", "divide by", "reshape (", "[:, None]", "0::2", "(1 - r)",
                      "dS =", "concatenate", "subtract each", "np.repeat", "arange", "x / T", "tril"]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_a_hint_asks_and_names_the_section_but_never_gives_the_solution(check):
    message = check(lambda *args: None, verbose=False).message
    hint = message.split("   Hint: ", 1)[1].split("\n")[0]
    assert hint.startswith("Chapter ") and "?" in hint, hint
    assert [fragment for fragment in FORBIDDEN_IN_HINTS if fragment in hint] == [], hint


@pytest.mark.parametrize("check", list(CORRECT), ids=lambda c: c.__name__)
def test_a_correct_function_that_calls_attn_core_fails(check):
    """Delegating to the library (the reference) is not writing it: the check says so and scores 0."""
    import attn_core

    def delegating(*args):
        attn_core.softmax(np.zeros(2))
        return CORRECT[check](*args)

    result = check(delegating, verbose=False)
    assert not result.passed and result.points(2) == 0.0
    assert "your function calls attn_core (attn_core.softmax.softmax)" in result.message
