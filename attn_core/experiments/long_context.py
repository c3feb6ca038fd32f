"""Chapter 14 (long context): RoPE beyond its training length, windows and their reach, sinks, needles.

* :func:`rescaled_rotary` gives the RoPE frequencies (and YaRN's score factor) of the three
  rescalings, built from :mod:`attn_core.positions`; :func:`matching_scores` is the score of a
  key equal to its query at each distance; :func:`rope_scaling_table` measures what each
  rescaling does to the angles and to those scores.
* :func:`needle_recall` runs chapter 9's trained RoPE reader (:func:`~attn_core.experiments.positions.stored_recall_reader`)
  on a needle-in-a-haystack grid of lengths and depths with each rescaling; :func:`run_needle` makes the stored grid of ``benchmarks/long_context.py``,
  read by :func:`load_needle`.
* :func:`layer_windows`, :func:`reachable_positions`, :func:`receptive_field`,
  :func:`influence_rollout` and :func:`kv_positions`: how far back a stack of sliding-window
  (and global) layers can see, how much of the output comes from how far back, and what
  each layer caches.
* :func:`sink_head` builds a head that parks its weight on the first token when it has
  nothing to do; :func:`eviction_errors` decodes it with a rolling cache, with and without
  sink tokens (:class:`attn_core.decoding.RollingKVCache`), against full attention.
* :class:`ResidualRecallReader`, trained on :func:`optional_needles` by
  :func:`train_sink_reader`, is a reader that sometimes has nothing to find;
  :func:`sink_eviction` measures its weight on the first token and what evicting that token
  does; :func:`run_sinks` makes the stored run of ``benchmarks/long_context.py``, read by
  :func:`load_sinks`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike

from attn_core import positions as pos
from attn_core._checks import (
    as_float_array,
    as_int_array,
    choice,
    nonnegative_int,
    number_in_range,
    positive_int,
    positive_number,
)
from attn_core.attention import _attention
from attn_core.decoding import RollingKVCache
from attn_core.experiments.positions import MarkedRecallReader, marked_recall
from attn_core.masks import _causal_mask
from attn_core.softmax import softmax
from attn_core.training.losses import _embedding_backward

__all__ = [
    "ROPE_METHODS",
    "METHOD_LABELS",
    "rescaled_rotary",
    "matching_scores",
    "rope_scaling_table",
    "needle_distance",
    "needle_recall",
    "NEEDLE_CONFIG",
    "run_needle",
    "load_needle",
    "MODEL_WINDOWS",
    "layer_windows",
    "reachable_positions",
    "receptive_field",
    "influence_rollout",
    "kv_positions",
    "sink_head",
    "eviction_errors",
    "optional_needles",
    "ResidualRecallReader",
    "SINK_CONFIG",
    "train_sink_reader",
    "sink_eviction",
    "run_sinks",
    "load_sinks",
]

# ------------------------------------------------------------------------- RoPE, rescaled
#: The ways of running RoPE beyond its training length that the chapter compares.
ROPE_METHODS = ("none", "interpolation", "ntk", "yarn")
#: How the chapter names them.
METHOD_LABELS = {"none": "RoPE as trained", "interpolation": "position interpolation",
                 "ntk": "NTK-aware base", "yarn": "YaRN"}


def rescaled_rotary(method: str, d: int, *, scale: float, original_length: int,
                    base: float = 10000.0) -> dict[str, object]:
    r"""The RoPE frequencies :math:`\theta'_i` of one rescaling, and the factor its scores get.

    ``"none"``: :math:`\theta_i = \text{base}^{-2i/d}`, as trained. ``"interpolation"``
    (Chen et al., 2023): :math:`\theta_i / s`, which turns every pair by
    :math:`(p/s)\,\theta_i`, the same as :func:`attn_core.positions.interpolated_positions`.
    ``"ntk"`` (bloc97, 2023): the frequencies of :func:`attn_core.positions.ntk_scaled_base`.
    ``"yarn"`` (Peng et al., 2024): :func:`attn_core.positions.yarn_frequencies` with the
    paper's :math:`\alpha = 1, \beta = 32`, and the scores multiplied by
    :func:`attn_core.positions.yarn_attention_factor` squared (queries and keys each by the
    factor). Use as ``rotary_embedding(x, positions, frequencies=...)`` and multiply the
    scores by ``score_factor``.

    Parameters
    ----------
    method : {"none", "interpolation", "ntk", "yarn"}
    d : int
        The even width of the rotated vectors (>= 4).
    scale : float
        :math:`s = L_\text{new} / L`, at least 1.
    original_length : int
        ``L``, the training length (YaRN counts each pair's turns over it).
    base : float, default 10000

    Returns
    -------
    dict
        ``frequencies`` (d // 2,) and ``score_factor`` (float, 1 except for YaRN).

    Raises
    ------
    TypeError, ValueError
        An unknown ``method``; the checks of the :mod:`attn_core.positions` functions.

    Examples
    --------
    >>> rescaled_rotary("interpolation", 4, scale=2.0, original_length=64, base=100.0)["frequencies"]
    array([0.5 , 0.05])
    >>> round(rescaled_rotary("yarn", 4, scale=16.0, original_length=64)["score_factor"], 4)
    1.6315
    """
    method = choice(method, ROPE_METHODS, "method")
    d = positive_int(d, "d")
    if d % 2 or d < 4:
        raise ValueError(f"d must be an even whole number >= 4, got {d}")
    base = positive_number(base, "base")
    scale = number_in_range(scale, "scale", 1.0, math.inf)
    original_length = positive_int(original_length, "original_length")
    theta = pos._rotary_angles(np.ones(1), d, base)[0]  # (d/2,): base ** (-2i/d)
    factor = 1.0
    if method == "interpolation":
        theta = theta / scale
    elif method == "ntk":
        theta = pos._rotary_angles(np.ones(1), d, pos.ntk_scaled_base(base, scale, d))[0]
    elif method == "yarn":
        theta = pos._yarn_frequencies(d, base, scale, original_length, 1.0, 32.0)
        factor = pos.yarn_attention_factor(scale) ** 2
    return {"frequencies": theta, "score_factor": factor}


def matching_scores(distances: ArrayLike, frequencies: ArrayLike, *, score_factor: float = 1.0) -> np.ndarray:
    r"""The rotary score of a key identical to its query, ``distance`` positions apart.

    For a query :math:`q` whose energy is spread equally over the :math:`d/2` pairs and a key
    equal to it, rotating by :math:`\delta\,\theta_i` in pair ``i`` gives

    .. math:: s(\delta) = \frac{q R_\delta q^\top}{\lVert q \rVert^2}
              = \frac{2}{d} \sum_{i} \cos(\delta\,\theta_i),

    1 at distance 0 (times ``score_factor``). It is the score a head that looks for "the same
    thing again" gives a perfect match, as a function of how far back the match is.

    Parameters
    ----------
    distances : array_like, shape (n,)
    frequencies : array_like, shape (d // 2,)
    score_factor : float, default 1

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> matching_scores([0, 1], [0.0, np.pi]).round(3)   # a pair that never turns, one that flips
    array([1., 0.])
    """
    delta = as_float_array(distances, "distances", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    theta = as_float_array(frequencies, "frequencies", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    score_factor = positive_number(score_factor, "score_factor")
    return score_factor * np.cos(delta[:, None] * theta[None, :]).mean(axis=1)  # (n,)


def rope_scaling_table(d: int, original_length: int, scale: float, *, base: float = 10000.0) -> list[dict]:
    """What each rescaling does at ``scale`` times the training length, in three numbers.

    For each of :data:`ROPE_METHODS`:

    * ``unseen_pairs``: pairs that never completed a turn in training (``L theta_i < 2 pi``)
      and whose angles over the new context, ``s L theta'_i``, go beyond the ``L theta_i``
      seen in training (a relative tolerance of 1e-9);
    * ``neighbour_gap``: :math:`1 - s(1)` of :func:`matching_scores` (without the factor):
      how much a match one position away scores below a match at distance 0, the
      resolution near the query;
    * ``lowest_new``: the lowest matching score at the new distances ``L .. s L - 1``,
      against ``lowest_trained``, the lowest at distances ``0 .. L - 1`` under the trained
      frequencies (the same for every method).

    Returns
    -------
    list of dict
        One per method, with ``method``, ``unseen_pairs``, ``neighbour_gap``,
        ``lowest_trained``, ``lowest_new`` and ``score_factor``.

    Examples
    --------
    >>> rows = rope_scaling_table(16, 32, 4.0)
    >>> [row["unseen_pairs"] for row in rows]    # none, interpolation, NTK, YaRN
    [6, 0, 5, 0]
    """
    d, original_length = positive_int(d, "d"), positive_int(original_length, "original_length")
    scale = number_in_range(scale, "scale", 1.0, math.inf)
    trained = rescaled_rotary("none", d, scale=1.0, original_length=original_length, base=base)["frequencies"]
    new_length = int(round(scale * original_length))
    seen = original_length * trained  # (d/2,): the largest angle of each pair in training
    old_distances = np.arange(original_length, dtype=float)
    new_distances = np.arange(original_length, max(new_length, original_length + 1), dtype=float)
    lowest_trained = float(matching_scores(old_distances, trained).min())
    rows = []
    for method in ROPE_METHODS:
        rope = rescaled_rotary(method, d, scale=scale, original_length=original_length, base=base)
        theta = rope["frequencies"]
        unseen = (seen < 2 * math.pi) & (scale * original_length * theta > seen * (1 + 1e-9))
        rows.append({"method": method, "unseen_pairs": int(unseen.sum()),
                     "neighbour_gap": float(1.0 - matching_scores([1.0], theta)[0]),
                     "lowest_trained": lowest_trained,
                     "lowest_new": float(matching_scores(new_distances, theta).min()),
                     "score_factor": float(rope["score_factor"])})
    return rows


# ------------------------------------------------------------------------- needle in a haystack
def needle_distance(length: int, depth: float) -> int:
    """How far before the question a needle at ``depth`` stands, in a ``length``-token haystack.

    Depth 0 is the first token of the context (as far back as it gets, ``length - 1``),
    depth 1 the token just before the question (distance 1), as in needle-in-a-haystack
    tests, which put the needle at a percentage of the document's depth.

    Examples
    --------
    >>> [needle_distance(32, depth) for depth in (0.0, 0.5, 1.0)]
    [31, 16, 1]
    """
    length = positive_int(length, "length")
    if length < 2:
        raise ValueError(f"length must be >= 2 (a needle and the question), got {length}")
    depth = number_in_range(depth, "depth", 0.0, 1.0)
    return int(round((1.0 - depth) * (length - 2))) + 1


def needle_recall(model: MarkedRecallReader, length: int, depth: float, *, method: str = "none",
                  n_examples: int = 500, seed: int = 5) -> float:
    """Accuracy of a RoPE :class:`~attn_core.experiments.positions.MarkedRecallReader` on needles.

    The haystack is ``length`` tokens of :func:`~attn_core.experiments.positions.marked_recall`
    with the marked token (the needle) at ``depth`` (:func:`needle_distance`). The reader's
    own forward pass is run with its RoPE frequencies replaced by those of ``method``
    (:func:`rescaled_rotary`, with ``scale = max(1, length / n_train)``) and its scores
    multiplied by the method's ``score_factor``; ``method="none"`` is the reader exactly as
    trained. No weight is changed or fine-tuned.

    Parameters
    ----------
    model : MarkedRecallReader
        With ``encoding == "rope"``.
    length : int
        Tokens in the sequence, the question included (>= 2).
    depth : float
        In [0, 1].
    method : str, default "none"
        One of :data:`ROPE_METHODS`.
    n_examples : int, default 500
    seed : int, default 5
        With ``length`` and the distance, seeds the sequences: every method and reader meets
        the same ones.

    Returns
    -------
    float

    Examples
    --------
    >>> from attn_core.experiments.positions import stored_recall_reader
    >>> needle_recall(stored_recall_reader("rope"), 32, 0.5, n_examples=50)
    1.0
    """
    if not isinstance(model, MarkedRecallReader) or model.encoding != "rope":
        raise TypeError(f"model must be a MarkedRecallReader with RoPE, got {model!r:.80}")
    distance = needle_distance(length, depth)
    method = choice(method, ROPE_METHODS, "method")
    n_examples = positive_int(n_examples, "n_examples")
    seed = nonnegative_int(seed, "seed")
    scale = max(1.0, length / model.n_train)
    rope = rescaled_rotary(method, model.width, scale=scale, original_length=model.n_train)
    data = marked_recall(n_examples, length, n_values=model.n_values, distance=distance,
                         seed=seed + 1000 * length + distance)
    p = model.params
    x = p["token"][data["tokens"]]  # (B, n, d)
    place = np.arange(length, dtype=float)  # (n,)
    q = pos._rotary_embedding(x[:, -1:] @ p["w_q"], place[-1:], 10000.0, "interleaved",
                              rope["frequencies"])  # (B, 1, d): the question only
    k = pos._rotary_embedding(x @ p["w_k"], place, 10000.0, "interleaved", rope["frequencies"])  # (B, n, d)
    scores = rope["score_factor"] * (q @ np.swapaxes(k, -1, -2)) / np.sqrt(model.width)  # (B, 1, n)
    out = softmax(scores) @ (x @ p["w_v"])  # (B, 1, d)
    logits = out[:, 0] @ p["w_o"] + p["b_o"]  # (B, n_values)
    return float((logits.argmax(axis=-1) == data["labels"]).mean())


#: The needle grid of ``benchmarks/long_context.py``: chapter 9's RoPE readers (trained on 32
#: tokens, the same configuration and seeds), every method, every length and depth.
NEEDLE_CONFIG = {
    "lengths": [32, 64, 128, 256, 512, 1024],
    "depths": [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0],
    "methods": list(ROPE_METHODS),
    "seeds": [1, 2, 3, 4, 5, 6, 7, 8],
    "test_examples": 500,
    "test_seed": 5,
}


def run_needle(config: dict | None = None) -> dict:
    """Train chapter 9's RoPE reader for every seed, then score it on the whole needle grid.

    Returns
    -------
    dict
        ``config``; ``accuracy``: method -> list over seeds of (lengths x depths) lists.

    Examples
    --------
    >>> tiny = {**NEEDLE_CONFIG, "lengths": [32], "depths": [1.0], "seeds": [1], "test_examples": 8}
    >>> run_needle(tiny)["accuracy"]["yarn"]
    [[[1.0]]]
    """
    from attn_core.experiments.positions import train_recall_reader

    config = NEEDLE_CONFIG if config is None else config
    readers = [train_recall_reader("rope", seed) for seed in config["seeds"]]
    accuracy = {method: [[[needle_recall(reader, n, depth, method=method, n_examples=config["test_examples"],
                                         seed=config["test_seed"]) for depth in config["depths"]]
                          for n in config["lengths"]] for reader in readers]
                for method in config["methods"]}
    return {"config": config, "accuracy": accuracy}


def load_needle() -> dict:
    """The stored run of :func:`run_needle` (``benchmarks/long_context.py``).

    Returns
    -------
    dict
        As :func:`run_needle`, plus ``seconds``, ``machine`` and ``command``.

    Examples
    --------
    >>> load_needle()["config"] == NEEDLE_CONFIG
    True
    """
    with resources.files("attn_core.experiments").joinpath("results", "long_context.json").open(
            "r", encoding="utf-8") as handle:
        return json.load(handle)


# ------------------------------------------------------------------------- windows, reach, memory
#: Published shapes of sliding-window stacks: layers, the window, how often a layer is global
#: (None: never), and the context at which the chapter compares caches: for Mistral 7B the
#: 32K tokens at which its paper states the rolling cache's saving (its configured context is
#: 8,192), for Gemma 2 and 3 their released contexts. Sources: Jiang et al. (2023) for
#: Mistral 7B; Gemma Team (2024) for Gemma 2 (9B: 42 layers); Gemma Team (2025) for Gemma 3
#: (27B: 62 layers), as reported there. The papers' window ``W`` counts the positions a query
#: sees, itself included (Mistral's rolling buffer has ``W`` slots, slot ``i mod W``); this
#: library's window ``w`` counts the earlier positions only (:func:`attn_core.sliding_window_mask`,
#: :class:`attn_core.decoding.RollingKVCache`), so ``w = W - 1``: 4,095 for W = 4,096.
MODEL_WINDOWS = {
    "Mistral 7B": {"layers": 32, "window": 4095, "global_every": None, "context": 32768},
    "Gemma 2 9B": {"layers": 42, "window": 4095, "global_every": 2, "context": 8192},
    "Gemma 3 27B": {"layers": 62, "window": 1023, "global_every": 6, "context": 131072},
}


def layer_windows(n_layers: int, *, window: int, global_every: int | None = None) -> list[int | None]:
    """The window of every layer of a stack: ``window``, or None for a global layer.

    With ``global_every = g`` layers ``g - 1, 2g - 1, ...`` are global: g = 2 alternates
    local and global (Gemma 2), g = 6 gives five local layers per global one (Gemma 3).

    Examples
    --------
    >>> layer_windows(6, window=4, global_every=3)
    [4, 4, None, 4, 4, None]
    """
    n_layers, window = positive_int(n_layers, "n_layers"), positive_int(window, "window")
    if global_every is not None:
        global_every = positive_int(global_every, "global_every")
    return [None if global_every and (layer + 1) % global_every == 0 else window for layer in range(n_layers)]


def _check_windows(windows: Sequence[int | None]) -> list[int | None]:
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence) or not windows:
        raise TypeError(f"windows must be a non-empty list of whole numbers >= 1 or None, got {windows!r:.60}")
    return [None if w is None else positive_int(w, "windows[...]") for w in windows]


def _layer_mask(n: int, window: int | None) -> np.ndarray:
    allowed = _causal_mask(n, n)  # (n, n)
    if window is not None:
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        allowed &= i - j <= window
    return allowed


def reachable_positions(windows: Sequence[int | None], n: int) -> np.ndarray:
    """Which positions can influence which, after the layers of ``windows``, by composing masks.

    Entry ``[i, j]`` is True when some path of allowed (query, key) pairs, one per layer,
    leads from position ``j`` at the input to position ``i`` at the output: the boolean
    product of the layers' causal (sliding-window) masks.

    Returns
    -------
    ndarray of bool, shape (n, n)

    Examples
    --------
    >>> reachable_positions([1, 1], 4)[-1].astype(int)   # two layers of window 1: two steps back
    array([0, 1, 1, 1])
    """
    windows, n = _check_windows(windows), positive_int(n, "n")
    reach = np.eye(n, dtype=bool)
    for window in windows:
        reach = (_layer_mask(n, window).astype(np.int64) @ reach.astype(np.int64)) > 0  # (n, n)
    return reach


def receptive_field(windows: Sequence[int | None]) -> float:
    """How far back information can reach after these layers: the sum of the windows.

    Each causal sliding-window layer lets a position read ``window`` positions back, so L
    layers of window w reach ``L w`` back (Mistral 7B: 32 x 4096 = 131,072, the paper's
    "theoretical attention span"). One global layer reaches everything: ``inf``.

    Examples
    --------
    >>> receptive_field([4096] * 32), receptive_field([1024, None])
    (131072, inf)
    """
    windows = _check_windows(windows)
    return math.inf if any(w is None for w in windows) else sum(windows)


def influence_rollout(windows: Sequence[int | None], n: int, *, residual: float = 0.5) -> np.ndarray:
    r"""The share of the last position's output that comes from each input position.

    Every layer attends uniformly over its allowed keys (the weights of a head with no
    preference: a causal window, or every earlier position for a global layer), and the
    layers are chained by chapter 13's attention rollout
    (:func:`~attn_core.experiments.interpretability.attention_rollout`, Abnar & Zuidema, 2020),
    whose residual share is ``residual``. The last row of the rollout says how much of the
    last output each input position contributes, when the values pass through unchanged.

    Parameters
    ----------
    windows : sequence of int or None
        One per layer, as :func:`layer_windows`.
    n : int
        Positions.
    residual : float, default 0.5
        ``r`` in [0, 1).

    Returns
    -------
    ndarray, shape (n,)
        Sums to 1.

    Examples
    --------
    >>> influence_rollout([1], 3, residual=0.0)   # one layer, window 1: half and half
    array([0. , 0.5, 0.5])
    """
    from attn_core.experiments.interpretability import attention_rollout

    windows, n = _check_windows(windows), positive_int(n, "n")
    residual = number_in_range(residual, "residual", 0.0, 1.0, high_open=True)
    maps = []
    for window in windows:
        mask = _layer_mask(n, window)  # (n, n)
        maps.append(mask / mask.sum(axis=1, keepdims=True))  # (n, n): uniform over the allowed keys
    return attention_rollout(maps, residual=residual)[-1][-1]  # (n,): the last row of the full rollout


def kv_positions(windows: Sequence[int | None], context: int) -> np.ndarray:
    """Positions each layer must cache at ``context`` tokens: ``min(window + 1, context)`` or all.

    A sliding-window layer needs only its window (:class:`attn_core.decoding.RollingKVCache`);
    a global layer needs every position.

    Examples
    --------
    >>> kv_positions([4, None], 100)
    array([  5, 100])
    """
    windows, context = _check_windows(windows), positive_int(context, "context")
    return np.array([context if w is None else min(w + 1, context) for w in windows])


# ------------------------------------------------------------------------- attention sinks
def sink_head(n: int, *, d: int = 32, sink_score: float = 6.0, active_every: int = 4, seed: int = 0
              ) -> dict[str, np.ndarray]:
    r"""A constructed head that parks its weight on the first token when it has nothing to do.

    Every query carries a component along one direction :math:`u` that only the first
    token's key shares, so the first key scores ``sink_score`` with every query; its value
    is zero, a no-op. The other keys and values are random, orthogonal to :math:`u`, with
    scores near 0. Every ``active_every``-th query (from position ``active_every`` on) is
    *active*: it also matches the key of the token just before it, with score
    ``sink_score + 3``, and so copies that token's value. The others are *idle*: with
    nothing to find, a softmax must still put its mass somewhere, and the first token takes
    most of it.

    Parameters
    ----------
    n : int
        Positions (>= 2).
    d : int, default 32
        Width of queries, keys and values (>= 2). The wider, the closer to 0 the scores
        of unrelated keys (their spread shrinks like ``1 / sqrt(d)``).
    sink_score : float, default 6
        The score every query gives the first key.
    active_every : int, default 4
    seed : int, default 0

    Returns
    -------
    dict
        ``q``, ``k``, ``v`` (n, d) and ``active`` (n,) bool.

    Examples
    --------
    >>> head = sink_head(8)
    >>> head["active"].astype(int)
    array([0, 0, 0, 0, 1, 0, 0, 0])
    """
    n, d = positive_int(n, "n"), positive_int(d, "d")
    if n < 2 or d < 2:
        raise ValueError(f"n and d must be >= 2, got n={n}, d={d}")
    sink_score = positive_number(sink_score, "sink_score")
    active_every = positive_int(active_every, "active_every")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    root = math.sqrt(d)  # scores are q.k / sqrt(d)
    k = rng.standard_normal((n, d)) * 0.5  # (n, d)
    k[:, 0] = 0.0  # direction u = e_0 is the first token's alone
    k[0] = 0.0
    k[0, 0] = 1.0
    v = rng.standard_normal((n, d))  # (n, d)
    v[0] = 0.0  # the sink's value: a no-op
    q = np.zeros((n, d))
    q[:, 0] = sink_score * root  # every query: score sink_score on the first key
    active = np.zeros(n, dtype=bool)
    active[active_every::active_every] = True
    for i in np.flatnonzero(active):
        target = k[i - 1, 1:]
        q[i, 1:] = (sink_score + 3.0) * root * target / (target @ target)  # score sink_score + 3 on key i - 1
    return {"q": q, "k": k, "v": v, "active": active}


def eviction_errors(q: ArrayLike, k: ArrayLike, v: ArrayLike, *, window: int, n_sinks: int = 0) -> np.ndarray:
    """Per query, how far decoding with a rolling cache lands from full causal attention.

    The keys and values go one position at a time into a
    :class:`~attn_core.decoding.RollingKVCache` of ``window`` (and ``n_sinks`` sinks); each
    query attends to what the cache holds. The error of query ``i`` is
    ``|o_cache - o_full| / max(|o_full|, mean over queries of |o_full|)``: relative to the
    typical output size, so that a query whose full output is nearly zero (an idle head)
    does not divide by zero.

    Parameters
    ----------
    q, k, v : array_like, shape (n, d)
    window : int
    n_sinks : int, default 0

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> head = sink_head(16)
    >>> float(eviction_errors(head["q"], head["k"], head["v"], window=20).max())  # nothing evicted
    0.0
    """
    q = as_float_array(q, "q", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    k = as_float_array(k, "k", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    v = as_float_array(v, "v", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if not q.shape == k.shape == v.shape:
        raise ValueError(f"q, k and v must have the same shape (n, d), got {q.shape}, {k.shape}, {v.shape}")
    n, d = q.shape
    full, _ = _attention(q, k, v, _causal_mask(n, n), 1.0 / math.sqrt(d))  # (n, d)
    cache = RollingKVCache(window, 1, d, n_sinks=n_sinks)
    decoded = np.empty_like(full)
    for i in range(n):
        cache.append(k[None, i:i + 1], v[None, i:i + 1])
        decoded[i] = cache._attend(q[None, i:i + 1], 1.0 / math.sqrt(d))[0, 0]  # (d,)
    size = np.linalg.norm(full, axis=1)  # (n,)
    floor = max(size.mean(), np.finfo(float).tiny)
    return np.linalg.norm(decoded - full, axis=1) / np.maximum(size, floor)


# ------------------------------------------------------------------------- a trained sink
def optional_needles(n_examples: int, length: int, *, n_values: int = 8, needle_within: int | None = None,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Haystacks with a needle half of the time; without one, the answer is the question's own default.

    Token ids: plain values ``0 .. n_values - 1``; the first-token marker ``n_values`` at
    position 0 (a beginning-of-sequence token, ``<s>``); a marked value (the needle)
    ``n_values + 1 + value``; the question at the end, ``2 (n_values + 1) + default``, which
    carries its own answer for when there is no needle. The label is the needle's value if
    there is one, else the default. With no needle, a reader has nothing to fetch: its
    attention should change nothing.

    Parameters
    ----------
    n_examples : int
    length : int
        Tokens, ``<s>`` and the question included (>= 3).
    n_values : int, default 8
    needle_within : int, optional
        Put the needle among the last ``needle_within`` tokens before the question (so that
        a window of that size still sees it); default anywhere after ``<s>``.
    seed : int, default 0

    Returns
    -------
    dict
        ``tokens`` (n_examples, length), ``labels`` (n_examples,), ``has_needle`` (n_examples,) bool.

    Examples
    --------
    >>> data = optional_needles(4, 6, n_values=3, seed=2)
    >>> data["tokens"][:, 0].tolist(), bool((data["tokens"][:, -1] >= 8).all())
    ([3, 3, 3, 3], True)
    """
    n_examples, length = positive_int(n_examples, "n_examples"), positive_int(length, "length")
    n_values = positive_int(n_values, "n_values")
    if length < 3:
        raise ValueError(f"length must be >= 3 (<s>, a token, the question), got {length}")
    if needle_within is not None:
        needle_within = positive_int(needle_within, "needle_within")
        if needle_within > length - 2:
            raise ValueError(f"needle_within must be at most length - 2 = {length - 2}, got {needle_within}")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    tokens = rng.integers(0, n_values, (n_examples, length))  # (B, n): plain values
    tokens[:, 0] = n_values  # <s>
    has_needle = rng.random(n_examples) < 0.5
    first = 1 if needle_within is None else length - 1 - needle_within
    where = rng.integers(first, length - 1, n_examples)  # (B,)
    value, default = rng.integers(0, n_values, (2, n_examples))
    tokens[has_needle, where[has_needle]] = n_values + 1 + value[has_needle]
    tokens[:, -1] = 2 * (n_values + 1) + default
    return {"tokens": tokens, "labels": np.where(has_needle, value, default), "has_needle": has_needle}


class ResidualRecallReader(MarkedRecallReader):
    r"""Chapter 9's reader with a residual path: the question's own vector reaches the output too.

    .. math:: \text{logits} = (o + x_{n-1})\, W_O + b_O, \qquad
              o = \operatorname{softmax}\!\Big(\frac{q_{n-1} K^\top}{\sqrt{d}}\Big) V

    with no position encoding (:class:`~attn_core.experiments.positions.MarkedRecallReader`
    with ``encoding="none"``, whose attention this is), on the tokens of
    :func:`optional_needles`. The residual path is what gives a head a reason to do nothing:
    without a needle the answer is already in :math:`x_{n-1}`, and whatever attention adds
    can only disturb it.

    Parameters
    ----------
    n_train : int
        The training length (only recorded: nothing here depends on positions).
    n_values : int, default 8
        Plain values; the reader has ``n_values + 1`` outputs (the last is never a label) and
        ``3 n_values + 2`` token ids.
    width : int, default 16
    seed : int, default 0

    Examples
    --------
    >>> reader = ResidualRecallReader(32, n_values=3, width=4)
    >>> logits, cache = reader.forward(optional_needles(2, 10, n_values=3))
    >>> logits.shape, cache["weights"].shape
    ((2, 4), (2, 1, 10))
    """

    def __init__(self, n_train: int, *, n_values: int = 8, width: int = 16, seed: int = 0):
        n_values = positive_int(n_values, "n_values")
        super().__init__("none", n_train, n_values=n_values + 1, width=width, seed=seed)
        self.n_plain = n_values
        self.n_tokens = 3 * n_values + 2
        rng = np.random.default_rng(nonnegative_int(seed, "seed") + 1000)
        self.params["token"] = rng.standard_normal((self.n_tokens, self.width))

    def __repr__(self) -> str:
        return f"ResidualRecallReader(n_train={self.n_train}, n_values={self.n_plain}, width={self.width})"

    def check_inputs(self, inputs: object, name: str = "inputs") -> dict[str, np.ndarray]:
        """``tokens`` (B, n) with ids below ``3 n_values + 2``, n >= 2; ``labels`` (B,) below ``n_values``.

        Raises
        ------
        TypeError, ValueError
            Not a dict; missing ``tokens``; wrong shapes or ids.
        """
        if not isinstance(inputs, dict):
            raise TypeError(f"{name} must be a dict of name -> int array, got {type(inputs).__name__}")
        if "tokens" not in inputs:
            raise ValueError(f"{name} has no 'tokens'")
        tokens = as_int_array(inputs["tokens"], f"{name}['tokens']", ndim=2, low=0, high=self.n_tokens)
        if tokens.shape[0] == 0 or tokens.shape[1] < 2:
            raise ValueError(f"{name}['tokens'] must be (B >= 1, n >= 2), got {tokens.shape}")
        checked = dict(inputs, tokens=tokens)
        if "labels" in inputs:
            checked["labels"] = as_int_array(inputs["labels"], f"{name}['labels']", ndim=1, low=0,
                                             high=self.n_plain)
            if checked["labels"].shape != (tokens.shape[0],):
                raise ValueError(f"{name}['labels'] must have shape ({tokens.shape[0]},), "
                                 f"got {checked['labels'].shape}")
        return checked

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        logits, cache = super()._forward(data)  # (B, n_values + 1): the attention's part
        return logits + cache["x"][:, -1] @ self.params["w_o"], cache  # + the residual path

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        grads = super()._backward(cache, grad_logits)
        x_last = cache["x"][:, -1]  # (B, d)
        grads["w_o"] = grads["w_o"] + x_last.T @ grad_logits  # (d, n_values + 1)
        grad_x = np.zeros_like(cache["x"])  # (B, n, d)
        grad_x[:, -1] = grad_logits @ self.params["w_o"].T
        grads["token"] = grads["token"] + _embedding_backward(self.n_tokens, cache["tokens"], grad_x)
        return grads


#: The trained-sink experiment of ``benchmarks/long_context.py``: train on 32 tokens (chapter 9's
#: readers' width, data and learning rate, but 2,400 steps instead of its 600: with 800, three
#: of the eight seeds had not learned to fetch the needle), test on 256 with the needle among
#: the last 16, with the whole context, without ``<s>``, with windows of 4 and 16, and with
#: each window and ``<s>``.
SINK_CONFIG = {
    "n_values": 8,
    "width": 16,
    "train_length": 32,
    "train_examples": 4000,
    "steps": 2400,
    "batch_size": 64,
    "lr": 0.01,
    "seeds": [1, 2, 3, 4, 5, 6, 7, 8],
    "test_length": 256,
    "needle_within": 16,
    "windows": [4, 16],
    "test_examples": 1000,
    "data_seed": 0,
    "test_seed": 7,
}


def train_sink_reader(seed: int, *, config: dict | None = None) -> ResidualRecallReader:
    """A :class:`ResidualRecallReader` trained on :func:`optional_needles` as :data:`SINK_CONFIG` says.

    Examples
    --------
    >>> train_sink_reader(1, config={**SINK_CONFIG, "steps": 2}).n_train
    32
    """
    from attn_core.training.loop import train

    config = SINK_CONFIG if config is None else config
    seed = nonnegative_int(seed, "seed")
    model = ResidualRecallReader(config["train_length"], n_values=config["n_values"], width=config["width"],
                                 seed=seed)
    data = optional_needles(config["train_examples"], config["train_length"], n_values=config["n_values"],
                            seed=config["data_seed"])
    train(model, {"tokens": data["tokens"], "labels": data["labels"]}, steps=config["steps"],
          batch_size=config["batch_size"], lr=config["lr"], seed=seed, progress=False)
    return model


def sink_eviction(model: ResidualRecallReader, *, config: dict | None = None) -> dict:
    """Weight on ``<s>`` and accuracy with the whole context, without ``<s>``, in windows with and without it.

    The test haystacks (:func:`optional_needles`, ``test_length`` tokens, the needle among the
    last ``needle_within``) are read whole; then whole but for ``<s>`` (every hay token kept:
    what evicting the first token alone does); then with only the last ``window`` tokens
    before the question (``<s>`` and the older hay evicted, as a rolling cache would); then
    with ``<s>`` kept in front of that window (one sink). The reader has no positions, so
    cutting the tokens is exactly evicting them. The same is measured at the training length
    (``train_length`` tokens, the needle anywhere after ``<s>``, whole context), to tell a
    reader that never learned the task from one that fails at the test length.

    Returns
    -------
    dict
        ``first_weight``: mean weight on ``<s>``, ``{"no needle": ..., "needle": ...}``;
        ``accuracy``: ``"whole"``, ``"whole without <s>"``, ``"window W"``,
        ``"window W + <s>"`` -> the same split; ``train_length``: ``first_weight`` and
        ``accuracy`` (whole) at the training length.

    Examples
    --------
    >>> reader = ResidualRecallReader(32, n_values=8, width=16)
    >>> tiny = {**SINK_CONFIG, "test_examples": 20, "windows": [16]}
    >>> list(sink_eviction(reader, config=tiny)["accuracy"])
    ['whole', 'whole without <s>', 'window 16', 'window 16 + <s>']
    """
    if not isinstance(model, ResidualRecallReader):
        raise TypeError(f"model must be a ResidualRecallReader, got {type(model).__name__}")
    config = SINK_CONFIG if config is None else config
    data = optional_needles(config["test_examples"], config["test_length"], n_values=model.n_plain,
                            needle_within=config["needle_within"], seed=config["test_seed"])
    tokens, labels, needle = data["tokens"], data["labels"], data["has_needle"]

    def split(values: np.ndarray) -> dict[str, float]:
        return {"no needle": float(values[~needle].mean()), "needle": float(values[needle].mean())}

    def accuracy(seen: np.ndarray) -> dict[str, float]:
        logits, _ = model._forward(model.check_inputs({"tokens": seen}))
        return split(logits.argmax(axis=-1) == labels)

    _, cache = model._forward(model.check_inputs({"tokens": tokens}))
    result = {"first_weight": split(cache["weights"][:, 0, 0]),
              "accuracy": {"whole": accuracy(tokens), "whole without <s>": accuracy(tokens[:, 1:])}}
    short = optional_needles(config["test_examples"], config["train_length"], n_values=model.n_plain,
                             seed=config["test_seed"])
    short_logits, short_cache = model._forward(model.check_inputs({"tokens": short["tokens"]}))
    short_needle = short["has_needle"]
    result["train_length"] = {
        "first_weight": {"no needle": float(short_cache["weights"][~short_needle, 0, 0].mean()),
                         "needle": float(short_cache["weights"][short_needle, 0, 0].mean())},
        "accuracy": {name: float((short_logits.argmax(axis=-1) == short["labels"])[rows].mean())
                     for name, rows in (("no needle", ~short_needle), ("needle", short_needle))}}
    for window in config["windows"]:
        recent = tokens[:, -(window + 1):]  # (B, window + 1): the window and the question
        result["accuracy"][f"window {window}"] = accuracy(recent)
        result["accuracy"][f"window {window} + <s>"] = accuracy(np.concatenate([tokens[:, :1], recent], axis=1))
    return result


def run_sinks(config: dict | None = None) -> dict:
    """Train one :class:`ResidualRecallReader` per seed and measure :func:`sink_eviction` on each.

    Returns
    -------
    dict
        ``config``; ``runs``: one :func:`sink_eviction` result per seed, in the order of ``seeds``.

    Examples
    --------
    >>> tiny = {**SINK_CONFIG, "steps": 1, "seeds": [1], "test_examples": 10, "windows": [8]}
    >>> len(run_sinks(tiny)["runs"])
    1
    """
    config = SINK_CONFIG if config is None else config
    return {"config": config,
            "runs": [sink_eviction(train_sink_reader(seed, config=config), config=config) for seed in config["seeds"]]}


def load_sinks() -> dict:
    """The stored run of :func:`run_sinks` (``benchmarks/long_context.py``).

    Examples
    --------
    >>> load_sinks()["config"] == SINK_CONFIG
    True
    """
    with resources.files("attn_core.experiments").joinpath("results", "long_context_sinks.json").open(
            "r", encoding="utf-8") as handle:
        return json.load(handle)
