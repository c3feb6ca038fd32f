"""Checks for the workbook of chapter 4, "Softmax": stable, with a temperature, masked.

Each softmax works along the last axis: every row of scores becomes a row of weights that
are >= 0 and sum to 1 (0 everywhere for a row with no allowed entry).

Examples
--------
>>> import numpy as np
>>> naive = lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
>>> result = check_softmax(naive, verbose=False)
>>> print(result.message.splitlines()[0][:60])
✗ softmax: the result holds nan at [0, 0] where 0.0900306 wa
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attn_core.softmax import softmax
from attn_core.workbooks.feedback import DEFAULT_TIMEOUT, Case, Mistake, Result, check_function, random_array

__all__ = ["check_softmax", "check_softmax_with_temperature", "check_masked_softmax"]


def _naive(x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    e = np.exp(x / temperature)
    return e / e.sum(axis=-1, keepdims=True)


def _global_max(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum(axis=-1, keepdims=True)


def _wrong_axis(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _whole_array(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


SOFTMAX_MISTAKES = [
    Mistake(_wrong_axis, "you normalised along the first axis (columns); each ROW (the last axis, one query) "
                         "must sum to 1: use axis=-1."),
    Mistake(_whole_array, "you divided by the sum of the whole array, so the whole array sums to 1; each row "
                          "must sum to 1 on its own (sum over axis=-1, keepdims=True)."),
]


def _softmax_cases() -> list[Case]:
    return [
        Case("one row of three scores [1, 2, 3]", (np.array([[1.0, 2.0, 3.0]]),)),
        Case("3 rows of 4 random scores", (random_array(40, (3, 4)),)),
        Case("a batch of shape (2, 3, 5)", (random_array(41, (2, 3, 5)),), kind="batch"),
        Case("float32 scores (2, 4)", (random_array(42, (2, 4), np.float32),), kind="float32"),
        Case("huge scores, near 1000", (np.array([[1000.0, 1001.0, 1002.0], [998.0, 1000.0, 999.0]]),), kind="overflow"),
        Case("rows on very different scales: one near 0, one near -2000",
             (np.array([[0.0, 1.0, 2.0], [-2000.0, -2001.0, -1999.0]]),),
             nonfinite_message="this row is far below the largest score of the WHOLE array, so all its "
                               "exponentials underflow to 0 and 0/0 is NaN. Subtract each row's own maximum "
                               "(x.max(axis=-1, keepdims=True)), not one maximum for the whole array."),
    ]


def check_softmax(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``softmax(x) -> weights`` along the last axis, stable for huge scores."""
    return check_function(
        "softmax", function, lambda x: softmax(x), _softmax_cases(), argument_names=("x",), weights_output=0,
        mistakes=SOFTMAX_MISTAKES,
        hint="Chapter 4, sections 'From scores to weights' and 'Overflow, and the max-shift fix': which "
             "number can you subtract from every score of a row without changing its weights, and along "
             "which axis does one query's row run?",
        timeout=timeout, verbose=verbose)


def check_softmax_with_temperature(function: Any, *, timeout: float = DEFAULT_TIMEOUT,
                                   verbose: bool = True) -> Result:
    """Check ``softmax_with_temperature(x, temperature)``: :math:`\\mathrm{softmax}(x / T)`, stable."""
    cases = [
        Case("scores [1, 2, 3] at temperature 1", (np.array([[1.0, 2.0, 3.0]]), 1.0)),
        Case("scores [1, 2, 3] at temperature 2 (flatter)", (np.array([[1.0, 2.0, 3.0]]), 2.0)),
        Case("3 rows of random scores at temperature 0.5 (sharper)", (random_array(43, (3, 4)), 0.5)),
        Case("a batch (2, 2, 3) at temperature 3", (random_array(44, (2, 2, 3)), 3.0), kind="batch"),
        Case("float32 at temperature 0.7", (random_array(45, (2, 4), np.float32), 0.7), kind="float32"),
        Case("scores near 10 at temperature 0.01 (scores / T near 1000)",
             (np.array([[10.0, 9.0, 8.0]]), 0.01), kind="overflow"),
    ]
    return check_function(
        "softmax_with_temperature", function, lambda x, t: softmax(x, temperature=t), cases,
        argument_names=("x", "temperature"), weights_output=0,
        mistakes=[
            Mistake(lambda x, t: softmax(x * t), "you multiplied the scores by the temperature; divide by it: "
                                                 "a high temperature must flatten the weights."),
            Mistake(lambda x, t: softmax(x), "the temperature has no effect in your function: divide the "
                                             "scores by it before the softmax."),
            Mistake(lambda x, t: softmax(x) / t, "you divided the weights by the temperature after the softmax; "
                                                 "divide the scores before it."),
        ] + SOFTMAX_MISTAKES,
        hint="Chapter 4, section 'Temperature': should a temperature above 1 make the weights flatter "
             "or sharper, and how large do the scores become when T is small?",
        timeout=timeout, verbose=verbose)


def _after(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return softmax(x) * mask


def _max_over_hidden(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The classic slip: the row maximum taken over the hidden entries too, then a guarded division."""
    exponentials = np.exp(x - x.max(axis=-1, keepdims=True)) * mask
    total = exponentials.sum(axis=-1, keepdims=True)
    return np.divide(exponentials, total, out=np.zeros_like(exponentials), where=total > 0)


MAX_OVER_HIDDEN = ("you took the row maximum over the hidden entries too: when a hidden score is far above the "
                   "visible ones, every visible exponential underflows to 0. Take the maximum after hiding.")


def check_masked_softmax(function: Any, *, timeout: float = DEFAULT_TIMEOUT, verbose: bool = True) -> Result:
    """Check ``masked_softmax(x, mask)``: masked entries (``mask`` False) get weight 0; a row
    with no allowed entry gets zeros."""
    allowed = np.array([[True, True, False], [False, True, True]])
    cases = [
        Case("two rows of scores, one hidden key in each", (np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), allowed)),
        Case("4 rows of random scores, a random mask with at least one key per row",
             (random_array(46, (4, 5)), np.array([[1, 0, 1, 1, 0], [0, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 1, 1]],
                                                  dtype=bool))),
        Case("a batch (2, 3, 4) with one mask (3, 4) for both", (random_array(47, (2, 3, 4)),
                                                                  np.tril(np.ones((3, 4), dtype=bool))), kind="batch"),
        Case("a hidden score far above the visible ones: [0, 1, 800], the 800 hidden",
             (np.array([[0.0, 1.0, 800.0]]), np.array([[True, True, False]])), kind="overflow",
             nonfinite_message=MAX_OVER_HIDDEN),
        Case("a row whose every key is hidden (a query with no allowed key)",
             (np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -0.5]]), np.array([[True, False, True], [False, False, False]])),
             kind="empty_row"),
        Case("float32 scores", (random_array(48, (2, 3), np.float32), np.array([[True, True, False], [True, False, True]])),
             kind="float32"),
        Case("huge scores with a mask", (np.array([[1000.0, 1001.0, 1002.0]]), np.array([[True, True, False]])),
             kind="overflow"),
    ]
    return check_function(
        "masked_softmax", function, lambda x, m: softmax(x, mask=m), cases, argument_names=("x", "mask"),
        weights_output=0,
        mistakes=[
            Mistake(_max_over_hidden, MAX_OVER_HIDDEN),
            Mistake(_after, "you applied the mask after the softmax: the hidden keys got their share of the "
                            "weight first, so the remaining weights no longer sum to 1. Hide the scores "
                            "(set them to -inf) before the softmax."),
            Mistake(lambda x, m: softmax(x, mask=~m), "your mask is inverted: True means MAY attend (keep the score), "
                                                      "False means hidden."),
            Mistake(lambda x, m: softmax(x), "the mask has no effect in your function."),
        ] + SOFTMAX_MISTAKES,
        hint="Chapter 4, section 'Masked softmax' and chapter 7, 'A query with nothing to attend to': "
             "which score gives a hidden key exactly zero weight, and what must a row with every key "
             "hidden become?",
        timeout=timeout, verbose=verbose)
