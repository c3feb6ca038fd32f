"""Checks for the workbook of chapter 13, "Interpretability": one layer's residual-mixed map,
attention rollout through layers, and the effect of removing a key.

The references are written here from their definitions (the workbooks import the library
only); tests/workbooks checks them against attn_core.experiments.interpretability.

Examples
--------
>>> import numpy as np
>>> check_residual_mix(lambda weights, residual: weights, verbose=False).passed
False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function

__all__ = ["check_residual_mix", "check_attention_rollout", "check_removal_effect"]


def residual_mix_reference(weights: np.ndarray, residual: float, *, renormalise: bool = True) -> np.ndarray:
    """rownorm((1 - r) A + r I) for one (n, n) map; a row summing to 0 stays 0."""
    mixed = (1.0 - residual) * weights + residual * np.eye(weights.shape[-1])  # (n, n)
    if not renormalise:
        return mixed
    sums = mixed.sum(axis=-1, keepdims=True)  # (n, 1)
    return np.divide(mixed, sums, out=np.zeros_like(mixed), where=sums > 0)


def rollout_reference(weights: np.ndarray, residual: float, *, order: str = "later-left", mix: bool = True,
                      average_heads: bool = True) -> np.ndarray:
    """R_l = Ã_l Ã_{l-1} ... Ã_1 for every layer l, heads averaged: (L, n, n)."""
    maps = weights.mean(axis=1) if weights.ndim == 4 and average_heads else (
        weights.sum(axis=1) if weights.ndim == 4 else weights)  # (L, n, n)
    rollout, out = np.eye(maps.shape[-1]), []
    for layer in maps:
        mixed = residual_mix_reference(layer, residual) if mix else layer
        rollout = mixed @ rollout if order == "later-left" else rollout @ mixed  # (n, n)
        out.append(rollout)
    return np.array(out)


def removal_effect_reference(weights: np.ndarray, values: np.ndarray, *, renormalise: bool = True,
                             norm: float = 2) -> np.ndarray:
    """||o - o^(-j)|| for every query i and key j, key j removed and the rest renormalised (n_q, n_k)."""
    output = weights @ values  # (n_q, d_v)
    effects = np.zeros(weights.shape)
    for j in range(weights.shape[-1]):
        kept = weights.copy()
        kept[:, j] = 0.0
        total = kept.sum(axis=-1, keepdims=True)  # (n_q, 1)
        if renormalise:
            kept = np.divide(kept, total, out=np.zeros_like(kept), where=total > 1e-12)
        effects[:, j] = np.linalg.norm(output - kept @ values, ord=norm, axis=-1)
    return effects


def _layers(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Random attention maps whose rows sum to 1."""
    raw = np.random.default_rng(seed).random(shape)
    return raw / raw.sum(axis=-1, keepdims=True)


PREVIOUS = np.array([[1.0, 0, 0], [1, 0, 0], [0, 1, 0]])  # each token looks at the one before (the first at itself)
EMPTY_ROW = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.2, 0.3, 0.5]])  # query 1 may attend no key


def check_residual_mix(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``residual_mix(weights, residual)``: rownorm((1 - r) A + r I) for one layer's (n, n) map."""
    cases = [
        Case("the 'previous token' map, residual 0.5", (PREVIOUS, 0.5)),
        Case("a random 4 x 4 map, residual 0.3", (_layers(220, (4, 4)), 0.3)),
        Case("residual 0: the map itself", (_layers(221, (3, 3)), 0.0)),
        Case("a map with a query that attends no key (a zero row), residual 0.5", (EMPTY_ROW, 0.5)),
    ]
    return check_function(
        "residual_mix", function, residual_mix_reference, cases, argument_names=("weights", "residual"),
        weights_output=0,
        mistakes=[
            Mistake(lambda a, r: residual_mix_reference(a, r, renormalise=False),
                    "a row that does not sum to 1 after mixing (a query with no key keeps only r) must be "
                    "renormalised: divide each row by its sum."),
            Mistake(lambda a, r: residual_mix_reference(a, 1 - r),
                    "your shares are swapped: the residual path gets r, the attention map 1 - r."),
            Mistake(lambda a, r: residual_mix_reference(a.T, r),
                    "you mixed the transposed map: row i is query i."),
        ],
        hint="Chapter 13, section 'Following information through layers: attention rollout': which share "
             "goes to the residual path and which to the attention map, and must each row still sum to 1?",
        timeout=timeout, verbose=verbose)


def check_attention_rollout(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``attention_rollout(weights, residual)``: weights (L, n, n) or (L, h, n, n) (heads
    averaged), first layer first; returns R_1 .. R_L, (L, n, n), R_l = Ã_l R_{l-1}."""
    cases = [
        Case("two 'previous token' layers, residual 0.5", (np.array([PREVIOUS, PREVIOUS]), 0.5)),
        Case("three random layers of 4 positions, residual 0.5", (_layers(222, (3, 4, 4)), 0.5)),
        Case("two different layers (order matters), residual 0.2",
             (np.array([PREVIOUS, _layers(223, (3, 3))]), 0.2)),
        Case("two layers of 3 heads each (heads averaged), residual 0.5", (_layers(224, (2, 3, 4, 4)), 0.5)),
        Case("a layer with a query that attends no key", (np.array([EMPTY_ROW, PREVIOUS]), 0.5)),
    ]
    return check_function(
        "attention_rollout", function, rollout_reference, cases, argument_names=("weights", "residual"),
        mistakes=[
            Mistake(lambda w, r: rollout_reference(w, r, order="later-right"),
                    "you multiplied the layers in the wrong order: a later layer acts on what the earlier ones "
                    "produced, so R_l = Ã_l R_(l-1) (the new layer on the LEFT)."),
            Mistake(lambda w, r: rollout_reference(w, r, mix=False),
                    "you chained the raw maps: rollout first mixes in the residual path, "
                    "(1 - r) A + r I, renormalised."),
            Mistake(lambda w, r: rollout_reference(w, r, average_heads=False),
                    "you summed the heads; rollout averages them (np.mean over the head axis)."),
        ],
        hint="Chapter 13, section 'Following information through layers: attention rollout': in which order "
             "do the layers act, and what does each layer's map become before you chain it? (If you call your "
             "residual_mix, pass its check first.)",
        helpers=[("residual_mix", check_residual_mix)],
        timeout=timeout, verbose=verbose)


def check_removal_effect(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``removal_effect(weights, values)``: weights (n_q, n_k), values (n_k, d_v) -> (n_q, n_k),
    entry [i, j] the Euclidean distance between query i's output with and without key j (the
    other weights renormalised; with nothing left the output is zeros)."""
    cases = [
        Case("one query, weights 0.45, 0.45, 0.1", (np.array([[0.45, 0.45, 0.1]]),
                                                    np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 10.0]]))),
        Case("3 queries, 4 keys, values of width 2", (_layers(225, (3, 4)), _layers(226, (4, 2)) * 5)),
        Case("a query with all its weight on one key", (np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]]),
                                                        np.array([[1.0], [2.0], [4.0]]))),
    ]
    return check_function(
        "removal_effect", function, removal_effect_reference, cases, argument_names=("weights", "values"),
        mistakes=[
            Mistake(lambda a, v: removal_effect_reference(a, v, renormalise=False),
                    "you removed the key without renormalising: the softmax gives the removed weight to the "
                    "other keys, so divide the remaining weights by their sum."),
            Mistake(lambda a, v: removal_effect_reference(a, v, norm=1),
                    "your distance is the sum of absolute differences; use the Euclidean length (np.linalg.norm)."),
            Mistake(lambda a, v: np.linalg.norm((a @ v)[:, None, :], axis=-1) * a,
                    "the effect is not the weight times the output's length: recompute the output without the key."),
        ],
        hint="Chapter 13, section 'Weights are not explanations': what does the softmax do with a removed "
             "key's weight, and how do you measure how far an output moved?",
        timeout=timeout, verbose=verbose)
