"""Checks for the workbook of chapter 10, "A gallery of variants": a sliding-window mask, causal
linear attention as a recurrence over a d_k x d_v state, a decayed (gated) recurrence, and the
delta rule.

Examples
--------
>>> import numpy as np
>>> check_sliding_window_mask(lambda n_q, n_k, window, causal: np.ones((n_q, n_k), dtype=bool),
...                           verbose=False).passed
False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.masks import sliding_window_mask
from attn_core.recurrences import decayed_linear_attention, delta_rule_attention
from attn_core.variants import elu_feature_map, linear_attention
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_sliding_window_mask", "check_causal_linear_attention", "check_decayed_recurrence",
           "check_delta_rule"]


# ------------------------------------------------------------------------------ the sliding window
def _window(n_q: int, n_k: int, window: int, causal: bool, *, top_left: bool = False, strict: bool = False,
            future: bool = False) -> np.ndarray:
    """Variants of the band: queries at 0..n_q-1; |offset| < window; the band reaching forward."""
    query_positions = np.arange(n_q) if top_left else np.arange(n_k - n_q, n_k)
    offset = query_positions[:, None] - np.arange(n_k)[None, :]  # (n_q, n_k): how far back key j is
    offset = -offset if future else offset
    inside = np.abs(offset) < window if strict else np.abs(offset) <= window
    return inside & (offset >= 0) if causal else inside


def _sliding(n_q, n_k, window, causal):
    return sliding_window_mask(n_q, n_k, window=window, causal=causal)


def check_sliding_window_mask(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``sliding_window_mask(n_q, n_k, window, causal) -> bool (n_q, n_k)``: query i, at
    position n_k - n_q + i, may attend key j iff ``|position - j| <= window`` (and j <= position when
    causal)."""
    cases = [
        Case("5 queries, 5 keys, window 1", (5, 5, 1, False)),
        Case("6 queries, 6 keys, window 2, causal", (6, 6, 2, True)),
        Case("2 queries after 4 earlier keys (decoding): n_q = 2, n_k = 6, window 2, causal", (2, 6, 2, True)),
        Case("3 queries, 7 keys, window 1, not causal", (3, 7, 1, False)),
        Case("a window longer than the sequence: 4 queries, 4 keys, window 10", (4, 4, 10, False)),
    ]
    return check_function(
        "sliding_window_mask", function, _sliding, cases, argument_names=("n_q", "n_k", "window", "causal"),
        mistakes=[
            Mistake(lambda n_q, n_k, w, c: _window(n_q, n_k, w, c, strict=True),
                    "off by one: the band holds the keys AT MOST `window` positions away (|i - j| <= window), "
                    "so a query sees 2 * window + 1 keys, window + 1 when causal."),
            Mistake(lambda n_q, n_k, w, c: _window(n_q, n_k, w, c, top_left=True),
                    "your band is aligned top-left: with fewer queries than keys, the queries are the LAST n_q "
                    "positions (query i stands at position n_k - n_q + i), as in decoding with a cache."),
            Mistake(lambda n_q, n_k, w, c: _window(n_q, n_k, w, False),
                    "causal=True has no effect: a causal window keeps only the keys at or before the query's "
                    "position, j <= position."),
            Mistake(lambda n_q, n_k, w, c: _window(n_q, n_k, w, c, future=True),
                    "your causal window looks forward: it must keep the `window` keys BEFORE the query, "
                    "positions p - window .. p."),
            Mistake(lambda n_q, n_k, w, c: ~_sliding(n_q, n_k, w, c),
                    "your mask is inverted: True means MAY attend (inside the window)."),
        ],
        hint="Chapter 10, section 'Local attention: a sliding window' (and chapter 7 for the alignment): "
             "where does query i stand when n_q < n_k, how far is key j from it, and which distances does the "
             "window keep?",
        timeout=timeout, verbose=verbose)


# ------------------------------------------------------------------------ causal linear attention
def _causal_linear(q, k, v):
    return linear_attention(q, k, v, causal=True)


def _linear_loop(q, k, v, *, feature=elu_feature_map, normalise=True, read_first=False, causal=True):
    """Variants of the recurrence: another feature map, no normaliser, read before write, not causal."""
    phi_q, phi_k = feature(q), feature(k)
    if not causal:
        state, norm = np.swapaxes(phi_k, -1, -2) @ v, phi_k.sum(-2)  # (..., d_k, d_v), (..., d_k)
        out = phi_q @ state
        return out / (phi_q @ norm[..., None]) if normalise else out
    state = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))  # (..., d_k, d_v)
    norm = np.zeros(q.shape[:-2] + (q.shape[-1],))  # (..., d_k)
    out = np.zeros(v.shape)
    for i in range(q.shape[-2]):
        if read_first:
            numerator = np.einsum("...k,...kd->...d", phi_q[..., i, :], state)
            denominator = np.einsum("...k,...k->...", phi_q[..., i, :], norm)
        state = state + phi_k[..., i, :, None] * v[..., i, None, :]
        norm = norm + phi_k[..., i, :]
        if not read_first:
            numerator = np.einsum("...k,...kd->...d", phi_q[..., i, :], state)
            denominator = np.einsum("...k,...k->...", phi_q[..., i, :], norm)
        out[..., i, :] = numerator / denominator[..., None] if normalise else numerator
    return out


def check_causal_linear_attention(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``causal_linear_attention(q, k, v) -> (..., n, d_v)``: the recurrence
    F_i = F_{i-1} + phi(k_i)^T v_i, z_i = z_{i-1} + phi(k_i), o_i = phi(q_i) F_i / (phi(q_i) . z_i),
    with phi = elu + 1."""
    after_first = ("the first query's denominator phi(q_1) . z_1 must already include its own key: "
                   "write the pair (phi(k_i), v_i) into the state, then read it.")
    cases = [
        Case("2 positions of width 1: q = k = [[1], [1]] (phi = 2), values 1 and 3",
             (np.ones((2, 1)), np.ones((2, 1)), np.array([[1.0], [3.0]])), nonfinite_message=after_first),
        Case("5 positions, d_k = 3, d_v = 2", (random_array(220, (5, 3)), random_array(221, (5, 3)),
                                               random_array(222, (5, 2))), nonfinite_message=after_first),
        Case("a batch of 2 heads, 4 positions, d_k = 3, d_v = 4",
             (random_array(223, (2, 4, 3)), random_array(224, (2, 4, 3)), random_array(225, (2, 4, 4))),
             kind="batch", nonfinite_message=after_first),
        Case("float32 inputs", (random_array(226, (4, 2), np.float32), random_array(227, (4, 2), np.float32),
                                random_array(228, (4, 3), np.float32)), kind="float32",
             nonfinite_message=after_first),
    ]
    return check_function(
        "causal_linear_attention", function, _causal_linear, cases, argument_names=("q", "k", "v"),
        mistakes=[
            Mistake(lambda q, k, v: _linear_loop(q, k, v, causal=False),
                    "every query reads the sums over ALL positions: causal linear attention keeps running sums, "
                    "so query i sees only the pairs written at positions <= i."),
            Mistake(lambda q, k, v: _linear_loop(q, k, v, normalise=False),
                    "the normaliser is missing: divide phi(q_i) F_i by phi(q_i) . z_i, with z_i the running sum "
                    "of phi(k_j)."),
            Mistake(lambda q, k, v: _linear_loop(q, k, v, feature=lambda x: x),
                    "you used the queries and keys as they are: linear attention maps them first with "
                    "phi(x) = elu(x) + 1 (x + 1 for x > 0, e^x otherwise), so that every weight is positive."),
            Mistake(lambda q, k, v: _linear_loop(q, k, v, feature=np.exp),
                    "your feature map is exp(x); the book's is phi(x) = elu(x) + 1: x + 1 for x > 0, "
                    "e^x otherwise."),
        ],
        hint="Chapter 10, section 'Causal linear attention is a recurrent network': what does step i add to F "
             "and to z, and does query i read them before or after that write? Keep them in the inputs' dtype.",
        timeout=timeout, verbose=verbose)


# ------------------------------------------------------------------------------ decay and gates
def _decayed(q, k, v, decay):
    return decayed_linear_attention(q, k, v, decay)


def _decay_loop(q, k, v, decay, *, where="old", read_first=False):
    """Variants: the decay on the old state (right), on everything, on the write; read before write."""
    state = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))  # (..., d_k, d_v)
    out = np.zeros(v.shape)
    for t in range(q.shape[-2]):
        write = k[..., t, :, None] * v[..., t, None, :]  # (..., d_k, d_v)
        if read_first:
            out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)
        if where == "old":
            state = decay[t] * state + write
        elif where == "all":
            state = decay[t] * (state + write)
        elif where == "write":
            state = state + decay[t] * write
        else:  # "none"
            state = state + write
        if not read_first:
            out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)
    return out


def check_decayed_recurrence(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``decayed_recurrence(q, k, v, decay) -> (..., n, d_v)``: F_t = lambda_t F_{t-1} + k_t^T v_t,
    F_0 = 0, o_t = q_t F_t, with ``decay`` (n,) holding lambda_t (no feature map, no normaliser)."""
    ones = np.ones((3, 1))
    cases = [
        Case("the chapter's example: q = k = 1, values 1, 2, 4, lambda = 0.5 at every step",
             (ones, ones, np.array([[1.0], [2.0], [4.0]]), np.full(3, 0.5))),
        Case("6 positions, d_k = 3, d_v = 2, a gate lambda_t drawn per step",
             (random_array(230, (6, 3)), random_array(231, (6, 3)), random_array(232, (6, 2)),
              np.random.default_rng(233).uniform(0.5, 1.0, 6))),
        Case("a batch of 2 heads, 5 positions, d_k = 2, d_v = 3 (one gate per step, shared)",
             (random_array(234, (2, 5, 2)), random_array(235, (2, 5, 2)), random_array(236, (2, 5, 3)),
              np.random.default_rng(237).uniform(0.5, 1.0, 5)), kind="batch"),
        Case("no decay at all, lambda = 1: plain causal linear attention without feature map",
             (random_array(238, (4, 2)), random_array(239, (4, 2)), random_array(240, (4, 2)), np.ones(4))),
    ]
    return check_function(
        "decayed_recurrence", function, _decayed, cases, argument_names=("q", "k", "v", "decay"),
        mistakes=[
            Mistake(lambda q, k, v, d: _decay_loop(q, k, v, d, where="all"),
                    "you decay the new write too: F_t = lambda_t F_{t-1} + k_t^T v_t shrinks only the OLD state; "
                    "the pair written at step t enters with weight 1."),
            Mistake(lambda q, k, v, d: _decay_loop(q, k, v, d, where="write"),
                    "you multiplied the new write by lambda_t and left the old state as it was: the decay "
                    "shrinks the old state, F_t = lambda_t F_{t-1} + k_t^T v_t."),
            Mistake(lambda q, k, v, d: _decay_loop(q, k, v, d, read_first=True),
                    "you read the state before writing the new pair: o_t = q_t F_t uses the state AFTER step "
                    "t's write, so that the query sees its own key."),
            Mistake(lambda q, k, v, d: _decay_loop(q, k, v, d, where="none"),
                    "your state never decays: multiply it by lambda_t before each write."),
        ],
        hint="Chapter 10, section 'Decay and gates: RetNet, Mamba-2, GLA': its worked example gives F_1, F_2 "
             "and F_3 by hand; which part of the state does lambda_t shrink, and when does q_t read it?",
        timeout=timeout, verbose=verbose)


# ------------------------------------------------------------------------------------ the delta rule
def _delta(q, k, v, strength):
    return delta_rule_attention(q, k, v, strength)


def _delta_loop(q, k, v, strength, *, subtract=True, recall_with="k", use_strength=True, read_first=False):
    """Variants: plain addition; recall with the query; strength ignored; read before write."""
    state = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))  # (..., d_k, d_v)
    out = np.zeros(v.shape)
    for t in range(q.shape[-2]):
        if read_first:
            out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)
        probe = k[..., t, :] if recall_with == "k" else q[..., t, :]
        recalled = np.einsum("...k,...kd->...d", probe, state) if subtract else 0.0  # (..., d_v)
        eta = strength[t] if use_strength else 1.0
        state = state + k[..., t, :, None] * (eta * (v[..., t, :] - recalled))[..., None, :]
        if not read_first:
            out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def check_delta_rule(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``delta_rule(q, k, v, strength) -> (..., n, d_v)``: F_t = F_{t-1} + eta_t k_t^T (v_t - k_t F_{t-1}),
    F_0 = 0, o_t = q_t F_t, with ``strength`` (n,) holding eta_t."""
    key = np.ones((2, 1))
    cases = [
        Case("one unit key written twice, values 1 then 5, eta = 1: the newer value replaces the older",
             (key, key, np.array([[1.0], [5.0]]), np.ones(2))),
        Case("the same with eta = 0.5", (key, key, np.array([[1.0], [5.0]]), np.full(2, 0.5))),
        Case("6 positions, unit keys of width 3, d_v = 2, eta_t drawn per step",
             (random_array(250, (6, 3)), _unit(random_array(251, (6, 3))), random_array(252, (6, 2)),
              np.random.default_rng(253).uniform(0.0, 1.0, 6))),
        Case("a batch of 2 heads, 4 positions, unit keys of width 2, d_v = 3",
             (random_array(254, (2, 4, 2)), _unit(random_array(255, (2, 4, 2))), random_array(256, (2, 4, 3)),
              np.random.default_rng(257).uniform(0.0, 1.0, 4)), kind="batch"),
    ]
    return check_function(
        "delta_rule", function, _delta, cases, argument_names=("q", "k", "v", "strength"),
        mistakes=[
            Mistake(lambda q, k, v, s: _delta_loop(q, k, v, s, subtract=False),
                    "your state only adds, as linear attention does: the delta rule first reads what the state "
                    "holds for the key, k_t F_{t-1}, and writes only the correction v_t - k_t F_{t-1}."),
            Mistake(lambda q, k, v, s: _delta_loop(q, k, v, s, recall_with="q"),
                    "you read the old value with the query; the correction uses what the state holds for the "
                    "KEY being written, v_t - k_t F_{t-1}."),
            Mistake(lambda q, k, v, s: _delta_loop(q, k, v, s, use_strength=False),
                    "you ignored the writing strength: the correction is multiplied by eta_t."),
            Mistake(lambda q, k, v, s: _delta_loop(q, k, v, s, read_first=True),
                    "you read the state before writing the new pair: o_t = q_t F_t uses the state after step t."),
        ],
        hint="Chapter 10, section 'The delta rule: DeltaNet': its worked example gives F_1 and F_2; what does "
             "the state return for k_t before the write, and which correction moves it towards v_t?",
        timeout=timeout, verbose=verbose)
