"""Explorer of chapter 4 (softmax): one row of scores, a temperature, softmax or sparsemax.

The reader moves the temperature T and switches between softmax and sparsemax; the
picture shows the weights the query gives to each key, with their entropy (and the
effective number of keys, exp of the entropy) in the title. With a live kernel the reader
can also type scores of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from attn_core._checks import as_float_array, choice, positive_int, positive_number
from attn_core.experiments.softmax import NORMALISATIONS, _normalised_weights
from attn_core.plot import weight_bars
from attn_core.widgets.explorer import Explorer, Slider, TextInput, _parse_numbers

__all__ = [
    "KEYS",
    "SCORES",
    "TEMPERATURES",
    "parse_scores",
    "temperature_explorer",
]

#: The keys of the default row: the tokens of "the cat sat on the mat".
KEYS = ("the", "cat", "sat", "on", "the", "mat")
#: One query's scores for those keys (the two "the" keys are the same word, so they tie).
SCORES = (-1.0, 1.5, 0.5, 0.0, -1.0, 1.0)
#: Temperatures on the slider, roughly evenly spaced on a log scale from 0.05 to 20.
TEMPERATURES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
#: Typed scores larger than this (in size) are refused: sparsemax divides them by T.
LARGEST_SCORE = 1e12


def parse_scores(text: str, count: int) -> list[float]:
    """Read ``count`` comma-separated scores typed by the reader.

    Raises
    ------
    TypeError
        ``text`` is not a str, or ``count`` is not a whole number.
    ValueError
        ``count`` < 1; or, with a sentence for the reader: not a number, the wrong count,
        not finite, or too large.

    Examples
    --------
    >>> parse_scores("1, 2.5, -3", 3)
    [1.0, 2.5, -3.0]
    >>> parse_scores("1, 2", 3)
    Traceback (most recent call last):
    ...
    ValueError: scores: expected 3 numbers, got 2
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__} {text!r:.40}")
    return _parse_scores(text, positive_int(count, "count"))


def _parse_scores(text: str, count: int) -> list[float]:
    """:func:`parse_scores` without the checks of its arguments."""
    values = _parse_numbers(text, count=count, name="scores")
    if any(abs(v) > LARGEST_SCORE for v in values):
        raise ValueError(f"scores: keep every score between -{LARGEST_SCORE:g} and {LARGEST_SCORE:g}")
    return values


def _title(state: dict) -> str:
    return (f"{state['normalisation']} at temperature T = {state['temperature']:g}\n"
            f"entropy {state['entropy']:.2f} nats \u2248 {state['effective_keys']:.1f} effective keys")


def _describe(state: dict, keys: Sequence[str]) -> str:
    pairs = ", ".join(f"{key} {w:.2f}" for key, w in zip(keys, state["weights"]))
    return (f"Bar chart of the {state['normalisation']} weights at temperature T = {state['temperature']:g}, "
            f"one bar per key (key and weight): {pairs}. Keys with a weight above zero: "
            f"{state['nonzero']} of {len(keys)}; entropy {state['entropy']:.2f} nats, about "
            f"{state['effective_keys']:.1f} effective keys.")


def temperature_explorer(
    *,
    scores: Sequence[float] = SCORES,
    keys: Sequence[str] = KEYS,
    temperatures: Sequence[float] = TEMPERATURES,
    temperature: float = 1.0,
    normalisation: str = "softmax",
) -> Explorer:
    r"""Move the temperature of one row of scores and compare softmax with sparsemax.

    The weights are :math:`\operatorname{softmax}(s / T)` or
    :math:`\operatorname{sparsemax}(s / T)`; the picture shows one bar per key (the key
    with the largest score in the accent colour, each key's score under its name) and the
    entropy of the weights in the title.

    Parameters
    ----------
    scores : sequence of float, shape (n_k,)
        The query's score for each key; the live text box starts with them.
    keys : sequence of str, shape (n_k,)
        One label per key.
    temperatures : sequence of float
        The values of T on the slider (each > 0); one picture per (T, normalisation).
    temperature : float
        Starting temperature, one of ``temperatures``.
    normalisation : {"softmax", "sparsemax"}
        Starting map.

    Returns
    -------
    Explorer
        Controls ``"temperature"``, ``"normalisation"`` and (live only) ``"scores"``; its
        ``state`` is what :func:`attn_core.experiments.softmax.normalised_weights` returns, plus ``keys``.

    Raises
    ------
    TypeError, ValueError
        ``scores`` not a row of finite numbers, or of another length than ``keys``;
        ``temperatures`` not finite numbers > 0; ``temperature`` not one of them;
        ``normalisation`` not one of :data:`~attn_core.experiments.softmax.NORMALISATIONS`.

    Examples
    --------
    >>> explorer = temperature_explorer()
    >>> explorer.frame_count()
    26
    >>> explorer.state["weights"].round(2).tolist()
    [0.03, 0.42, 0.16, 0.09, 0.03, 0.26]
    """
    if isinstance(keys, (str, bytes)):
        raise TypeError(f"keys must be a sequence of labels, not the string {keys!r:.40}")
    keys = [str(k) for k in keys]
    default = as_float_array(scores, "scores", min_ndim=1, max_ndim=1, nonempty=True, finite=True).tolist()
    if len(default) != len(keys):
        raise ValueError(f"scores has {len(default)} entries for {len(keys)} keys")
    if isinstance(temperatures, (str, bytes)):
        raise TypeError(f"temperatures must be a sequence of numbers, not the string {temperatures!r:.40}")
    temperatures = [positive_number(t, "temperatures") for t in temperatures]
    temperature = positive_number(temperature, "temperature")
    if temperature not in temperatures:
        raise ValueError(f"temperature must be one of temperatures {temperatures}, got {temperature:g}")
    choice(normalisation, NORMALISATIONS, "normalisation")

    def compute(temperature: float, normalisation: str, scores: list[float]) -> dict:
        return {**_normalised_weights(np.asarray(scores, dtype=float), temperature, normalisation),  # (n_k,)
                "keys": keys}

    def draw(fig: Figure, state: dict) -> None:
        ax = fig.axes[0] if fig.axes else fig.add_subplot()
        weight_bars(ax, state["weights"], keys, highlight=int(np.argmax(state["scores"])),
                    ylim=(0.0, 1.15), title=_title(state))
        ax.set_xticks(range(len(keys)), [f"{k}\n{s:g}" for k, s in zip(keys, state["scores"])])
        ax.set_xlabel("key (and its score)")

    return Explorer(
        compute,
        draw,
        sliders={
            "temperature": Slider("Temperature T", [(f"{t:g}", float(t)) for t in temperatures],
                                  value=float(temperature)),
            "normalisation": Slider("Normalisation", [(n, n) for n in NORMALISATIONS], value=normalisation),
        },
        texts={"scores": TextInput("Scores", ", ".join(f"{s:g}" for s in default),
                                   lambda text: _parse_scores(text, len(keys)),
                                   placeholder=f"{len(keys)} numbers separated by commas")},
        describe=lambda state: _describe(state, keys),
        title="Lower T to sharpen the weights, raise it to flatten them; switch to sparsemax to see exact zeros.",
    )
