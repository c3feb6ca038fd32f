"""Chapter 9 (positions): weights under each encoding, NoPE probes, recall beyond the training length.

* :func:`encoded_weights` computes the weights of one sentence with the encodings the
  chapter compares (none, sinusoidal, learned, relative keys, RoPE, ALiBi), each by calling
  :mod:`attn_core.positions`; :func:`offset_effect` shifts every position by one offset.
* :func:`position_probe` trains a next-token model without position encodings and asks a
  linear probe for each token's position: possible with a causal mask, not without.
* :class:`MarkedRecallReader`, :func:`marked_recall` and :func:`run_extrapolation`: one
  attention head per encoding, trained on 32 tokens, tested on up to 512
  (stored by ``benchmarks/positions_extrapolation.py``, read by :func:`load_extrapolation`).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from attn_core import positions as pos
from attn_core._checks import (
    as_float_array,
    as_int_array,
    choice,
    flag,
    index_in,
    nonnegative_int,
    positive_int,
    positive_number,
)
from attn_core.attention import scaled_dot_product_attention_backward
from attn_core.scores import scaled_dot_product_scores
from attn_core.softmax import softmax
from attn_core.training.init import _init_weights
from attn_core.training.losses import _embedding_backward

__all__ = ["ENCODING_NAMES", "encoded_weights"]

#: The encodings :func:`encoded_weights` knows, "none" first.
ENCODING_NAMES = ("none", "sinusoidal", "learned", "relative", "rope", "alibi")


def encoded_weights(
    x: ArrayLike,
    w_q: ArrayLike,
    w_k: ArrayLike,
    encoding: str,
    positions: ArrayLike,
    *,
    learned_table: ArrayLike | None = None,
    rel_keys: ArrayLike | None = None,
    alibi_heads: int = 8,
    alibi_head: int = 0,
) -> np.ndarray | None:
    r"""The weights :math:`A` of self-attention over ``x`` with one positional encoding.

    Every encoding uses the same tokens ``x`` and projections ``W_Q``, ``W_K``; each calls
    :mod:`attn_core.positions`:

    * ``"none"``: :math:`\operatorname{softmax}(X W_Q (X W_K)^\top / \sqrt{d_k})`;
    * ``"sinusoidal"`` and ``"learned"``: the same with ``X + P``, ``P`` the rows of the
      sinusoidal table (or of ``learned_table``) at ``positions``;
    * ``"relative"``: relative position keys (Shaw et al., 2018) from ``rel_keys``;
    * ``"rope"``: queries and keys rotated by their positions (Su et al., 2024);
    * ``"alibi"``: ALiBi's distance penalty of head ``alibi_head`` of ``alibi_heads``
      added to the scores (Press et al., 2022).

    Relative keys and ALiBi are built from the offsets :math:`j - i` only (that is their
    point), so they never see ``positions``: shifting every position by ``c`` changes no
    offset, :math:`(j + c) - (i + c) = j - i`. ``positions`` must then be consecutive.

    Parameters
    ----------
    x : array_like, shape (n, d_model)
    w_q, w_k : array_like, shape (d_model, d_k)
    encoding : {"none", "sinusoidal", "learned", "relative", "rope", "alibi"}
    positions : array_like of int, shape (n,)
    learned_table : array_like, shape (n_max, d_model), optional
        Needed for ``"learned"``.
    rel_keys : array_like, shape (2 * max_distance + 1, d_k), optional
        Needed for ``"relative"``.
    alibi_heads, alibi_head : int
        Which ALiBi slope to use; default the first of 8 heads, slope 1/2.

    Returns
    -------
    ndarray, shape (n, n), or None
        ``None`` when a learned table has no row for some position.

    Raises
    ------
    ValueError
        An unknown encoding; positions of the wrong length, or not consecutive for
        ``"relative"`` and ``"alibi"``; a missing table.

    Examples
    --------
    >>> from attn_core.experiments.data import embed_tokens
    >>> x = embed_tokens(["a", "b", "c"], 4)
    >>> w = np.eye(4)[:, :2]
    >>> a0 = encoded_weights(x, w, w, "rope", [0, 1, 2])
    >>> a9 = encoded_weights(x, w, w, "rope", [9, 10, 11])
    >>> bool(np.allclose(a0, a9)), a0.shape
    (True, (3, 3))
    """
    x = as_float_array(x, "x", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    w_q = as_float_array(w_q, "w_q", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    w_k = as_float_array(w_k, "w_k", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    if w_q.shape[0] != x.shape[1] or w_k.shape != w_q.shape:
        raise ValueError(f"w_q and w_k must both have shape (d_model={x.shape[1]}, d_k), got w_q {w_q.shape} "
                         f"and w_k {w_k.shape}")
    encoding = choice(encoding, ENCODING_NAMES, "encoding")
    p = as_int_array(positions, "positions", ndim=1, low=0)
    alibi_heads = positive_int(alibi_heads, "alibi_heads")
    alibi_head = index_in(alibi_head, alibi_heads, "alibi_head", "head")
    n = x.shape[0]
    if p.shape != (n,):
        raise ValueError(f"positions must have one entry per token, shape ({n},), got {p.shape}")
    if encoding in ("relative", "alibi") and not np.array_equal(np.diff(p), np.ones(n - 1)):
        raise ValueError(f"{encoding} attention takes consecutive positions, got {p.tolist()}")
    bias = None
    if encoding == "none":
        q, k = x @ w_q, x @ w_k  # (n, d_k)
    elif encoding == "sinusoidal":
        table = pos.sinusoidal_positions(int(p.max()) + 1, x.shape[1])  # (p_max + 1, d_model)
        q, k = (x + table[p]) @ w_q, (x + table[p]) @ w_k  # (n, d_k)
    elif encoding == "learned":
        if learned_table is None:
            raise ValueError("the learned encoding needs learned_table")
        table = np.asarray(learned_table, dtype=float)
        if p.max() >= table.shape[0]:
            return None  # no row to look up: a learned table cannot extrapolate
        q, k = (x + table[p]) @ w_q, (x + table[p]) @ w_k  # (n, d_k)
    elif encoding == "relative":
        if rel_keys is None:
            raise ValueError("the relative encoding needs rel_keys")
        return pos.relative_position_attention(x @ w_q, x @ w_k, x @ w_k, rel_keys)[1]
    elif encoding == "rope":
        q = pos.rotary_embedding(x @ w_q, p)  # (n, d_k), pair i turned by p * theta_i
        k = pos.rotary_embedding(x @ w_k, p)  # (n, d_k)
    elif encoding == "alibi":
        q, k = x @ w_q, x @ w_k  # (n, d_k)
        bias = pos.alibi_bias(n, n_heads=alibi_heads)[alibi_head]  # (n, n): -m |i - j|
    else:
        raise ValueError(f"unknown encoding {encoding!r}; use one of {', '.join(ENCODING_NAMES)}")
    scores = scaled_dot_product_scores(q, k)  # (n, n)
    return softmax(scores if bias is None else scores + bias)  # (n, n)


def offset_effect(
    x: ArrayLike,
    w_q: ArrayLike,
    w_k: ArrayLike,
    encoding: str,
    offset: int,
    **tables,
) -> dict:
    """What adding ``offset`` to every position does to the weights of one encoding.

    Parameters
    ----------
    x : array_like, shape (n, d_model)
    w_q, w_k : array_like, shape (d_model, d_k)
    encoding : str
        One of :data:`ENCODING_NAMES`.
    offset : int
        Every token moves from position ``p`` to ``p + offset``.
    **tables
        ``learned_table``, ``rel_keys``, ``alibi_heads``, ``alibi_head``, passed to
        :func:`encoded_weights`.

    Returns
    -------
    dict
        ``encoding``, ``offset``, ``positions`` (n,), ``weights`` (n, n) or None when a
        learned table has no row for some position, ``weights_at_zero`` (n, n) (offset 0),
        ``change`` = ``|weights - weights_at_zero|`` (or None) and ``max_change`` (float or
        None).

    Raises
    ------
    ValueError
        A negative ``offset``, and whatever :func:`encoded_weights` refuses.

    Examples
    --------
    >>> from attn_core.experiments.data import embed_tokens
    >>> x, w = embed_tokens(["a", "b", "c"], 4), np.eye(4)[:, :2]
    >>> offset_effect(x, w, w, "rope", 7)["max_change"] < 1e-12
    True
    >>> offset_effect(x, w, w, "sinusoidal", 7)["max_change"] > 0.01
    True
    """
    offset = nonnegative_int(offset, "offset")
    n = as_float_array(x, "x", min_ndim=2, max_ndim=2, nonempty=True).shape[0]
    at_zero = encoded_weights(x, w_q, w_k, encoding, np.arange(n), **tables)  # (n, n)
    positions = offset + np.arange(n)  # (n,): every token moved by the same offset
    weights = encoded_weights(x, w_q, w_k, encoding, positions, **tables)  # (n, n) or None
    change = None if weights is None or at_zero is None else np.abs(weights - at_zero)  # (n, n)
    return {"encoding": encoding, "offset": offset, "positions": positions, "weights": weights,
            "weights_at_zero": at_zero, "change": change,
            "max_change": None if change is None else float(change.max())}


__all__ += ["offset_effect"]


# ------------------------------------------------------------------ position without encodings
def position_probe(causal: bool, *, steps: int = 300, seed: int = 0) -> dict:
    """Train a next-token model WITHOUT position encodings, then ask a linear probe for positions.

    The model is :class:`attn_core.training.models.NextTokenModel` with ``positions="none"``,
    trained on chapter 7's repeated sequences (``a b c a b c``, 6 + 6 tokens of 8 kinds) with
    a beginning-of-sequence token (id 8) in front, 13 tokens in all. A linear probe (least
    squares, with an intercept) then predicts each token's position ``0 .. 12`` from the
    attention layer's output at that token; it is fitted on 1,000 training sequences and
    scored on 500 fresh ones.

    With a causal mask, the query at position ``i`` averages over ``i + 1`` keys, so its
    output carries ``i`` (Haviv et al., 2022); without the mask every query sees the same
    set of keys and the probe has nothing to read.

    Parameters
    ----------
    causal : bool
        Train and probe the model with or without the causal mask.
    steps : int, default 300
        Adam steps (batch 64, step size 0.01); 0 probes the untrained model.
    seed : int, default 0
        Seeds the model's initial weights (the data are fixed).

    Returns
    -------
    dict
        ``r2`` (the probe's R² on the fresh sequences), ``mean_abs_error`` (in positions),
        ``exact`` (fraction of tokens whose rounded prediction is their position),
        ``n_positions`` (13).

    Raises
    ------
    TypeError, ValueError
        ``causal`` not True or False; ``steps`` or ``seed`` not a whole number >= 0.

    Examples
    --------
    >>> position_probe(True, steps=0)["r2"] > position_probe(False, steps=0)["r2"] + 0.2
    True
    """
    from attn_core.experiments.masking import next_token_data, repeated_sequences
    from attn_core.training.loop import train
    from attn_core.training.models import NextTokenModel

    causal = flag(causal, "causal")
    steps, seed = nonnegative_int(steps, "steps"), nonnegative_int(seed, "seed")
    bos = PROBE_VOCAB  # the beginning-of-sequence token, after the 8 ordinary ones

    def with_bos(sequences: np.ndarray) -> np.ndarray:
        return np.concatenate([np.full((len(sequences), 1), bos), sequences], axis=1)  # (B, 13)

    train_tokens = with_bos(repeated_sequences(2000, half=6, vocab=PROBE_VOCAB, seed=0))
    test_tokens = with_bos(repeated_sequences(500, half=6, vocab=PROBE_VOCAB, seed=1))
    n = train_tokens.shape[1]
    model = NextTokenModel(PROBE_VOCAB + 1, n, width=16, causal=causal, seed=seed, positions="none")
    if steps:
        train(model, next_token_data(train_tokens), steps=steps, lr=1e-2, progress=False)

    def features(tokens: np.ndarray) -> np.ndarray:
        out = model._all_logits(tokens)[1]["out"]  # (B, n, d): the attention output at every token
        flat = out.reshape(-1, out.shape[-1])  # (B n, d)
        return np.concatenate([flat, np.ones((len(flat), 1))], axis=1)  # (B n, d + 1): with intercept

    target = np.tile(np.arange(n), 1000).astype(float)  # (1000 n,): each token's position
    probe, *_ = np.linalg.lstsq(features(train_tokens[:1000]), target, rcond=None)  # (d + 1,)
    predicted = features(test_tokens) @ probe  # (500 n,)
    truth = np.tile(np.arange(n), len(test_tokens)).astype(float)
    r2 = 1.0 - ((predicted - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    return {"r2": float(r2), "mean_abs_error": float(np.abs(predicted - truth).mean()),
            "exact": float((np.round(predicted) == truth).mean()), "n_positions": n}


#: The ordinary tokens of the probe's sequences (the beginning-of-sequence token is one more).
PROBE_VOCAB = 8


# ------------------------------------------------------------------ recall beyond the training length
#: The encodings of the extrapolation experiment, in the order the chapter prints them.
RECALL_ENCODINGS = ("none", "learned", "sinusoidal", "rope", "alibi")

#: The extrapolation experiment of chapter 9, stored by ``benchmarks/positions_extrapolation.py``.
EXTRAPOLATION_CONFIG = {
    "n_values": 8,
    "width": 16,
    "train_length": 32,
    "train_examples": 4000,
    "steps": 600,
    "batch_size": 64,
    "lr": 0.01,
    "alibi_slope": 0.25,
    "extra_alibi_slopes": [0.0625, 0.015625],
    "seeds": [1, 2, 3, 4, 5, 6, 7, 8],
    "test_lengths": [32, 128, 512],
    "distances": [1, 2, 4, 8, 16, 24, 31, 48, 64, 96, 128, 192, 256, 384, 511],
    "test_examples": 500,
    "data_seed": 0,
    "test_seed": 5,
}


def _reader_specs(config: dict) -> list[tuple[str, str, float]]:
    """(name, encoding, ALiBi slope) of every reader the experiment trains, in printing order."""
    main = [(encoding, encoding, float(config["alibi_slope"])) for encoding in RECALL_ENCODINGS]
    extra = [(f"alibi 1/{round(1 / slope)}", "alibi", float(slope)) for slope in config["extra_alibi_slopes"]]
    return main + extra


#: The readers of the stored experiment: the five encodings (ALiBi with slope 1/4), then ALiBi
#: with the gentler slopes 1/16 and 1/64. They name the rows of the stored results.
RECALL_READERS = tuple(name for name, _, _ in _reader_specs(EXTRAPOLATION_CONFIG))


def marked_recall(
    n_examples: int,
    length: int,
    *,
    n_values: int = 8,
    distance: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Sequences with one marked token to recall: ``3 5 1 [7] 2 0 ... ?`` -> 7.

    Every position but the last holds a plain value ``0 .. n_values - 1`` drawn at random,
    except one, ``distance`` places before the last, which holds a *marked* value (token id
    ``n_values + value``). The last token is the question mark (id ``2 * n_values``), and
    the label is the marked value. Finding it is a matter of content (the marked token looks
    different), wherever it stands: a position encoding can help or hurt.

    Parameters
    ----------
    n_examples, length : int
        Whole numbers >= 1 and >= 2.
    n_values : int, default 8
    distance : int, optional
        How far back from the question mark the marked token stands, ``1 .. length - 1``;
        default drawn uniformly for each example.
    seed : int, default 0

    Returns
    -------
    dict
        ``tokens`` (n_examples, length), ``labels`` (n_examples,), ``distance``
        (n_examples,), all int.

    Raises
    ------
    TypeError, ValueError
        Not whole numbers; ``length < 2``; ``distance`` outside ``1 .. length - 1``.

    Examples
    --------
    >>> data = marked_recall(2, 6, n_values=4, distance=3, seed=1)
    >>> data["tokens"][:, -1].tolist(), data["tokens"][0, 2] == 4 + data["labels"][0]
    ([8, 8], np.True_)
    """
    n_examples, length = positive_int(n_examples, "n_examples"), positive_int(length, "length")
    n_values = positive_int(n_values, "n_values")
    if length < 2:
        raise ValueError(f"length must be >= 2 (a marked token and the question), got {length}")
    if distance is not None:
        distance = positive_int(distance, "distance")
        if distance > length - 1:
            raise ValueError(f"distance must lie in 1..length - 1 = {length - 1}, got {distance}")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    tokens = rng.integers(0, n_values, (n_examples, length))  # (B, n): plain values
    back = rng.integers(1, length, n_examples) if distance is None else np.full(n_examples, distance)
    value = rng.integers(0, n_values, n_examples)  # (B,)
    tokens[np.arange(n_examples), length - 1 - back] = n_values + value  # the marked token
    tokens[:, -1] = 2 * n_values  # the question
    return {"tokens": tokens, "labels": value, "distance": back}


class MarkedRecallReader:
    r"""One attention head whose last token (the question) reads a :func:`marked_recall` sequence.

    .. math:: X = E[\text{tokens}] \,(+\, P), \quad
              o = \operatorname{softmax}\!\Big(\frac{q_{n-1} K^\top}{\sqrt{d}} + b\Big) V, \quad
              \text{logits} = o W_O + b_O

    with ``q = X W_Q`` at the last token only, ``K = X W_K``, ``V = X W_V``, and the position
    entering by ``encoding``: ``"none"``; ``"learned"`` (a trained row ``P_p`` per position,
    ``n_train`` rows); ``"sinusoidal"`` (the fixed ``P_p``); ``"rope"`` (``q`` and ``k``
    rotated by their positions); ``"alibi"`` (:math:`b_j = -\lambda (n - 1 - j)`, one head
    of slope :math:`\lambda` = ``alibi_slope``). Only the last row of attention is computed, so a causal mask would change
    nothing.

    Parameters
    ----------
    encoding : {"none", "learned", "sinusoidal", "rope", "alibi"}
    n_train : int
        The training length: rows of the learned table (unused by the other encodings).
    n_values : int, default 8
    width : int, default 16
    alibi_slope : float, default 0.25
    seed : int, default 0

    Attributes
    ----------
    params : dict of name -> ndarray
        ``token`` (2 n_values + 1, d), ``w_q``, ``w_k``, ``w_v`` (d, d), ``w_o``
        (d, n_values), ``b_o`` (n_values,), and ``position`` (n_train, d) when learned.

    Examples
    --------
    >>> reader = MarkedRecallReader("alibi", 8, n_values=4, width=8)
    >>> logits, cache = reader.forward(marked_recall(3, 12, n_values=4))
    >>> logits.shape, cache["weights"].shape     # a learned table could not read 12 tokens
    ((3, 4), (3, 1, 12))
    """

    def __init__(self, encoding: str, n_train: int, *, n_values: int = 8, width: int = 16,
                 alibi_slope: float = 0.25, seed: int = 0):
        self.encoding = choice(encoding, RECALL_ENCODINGS, "encoding")
        self.n_train = positive_int(n_train, "n_train")
        self.n_values = positive_int(n_values, "n_values")
        self.width = positive_int(width, "width")
        self.alibi_slope = positive_number(alibi_slope, "alibi_slope")
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        d = self.width
        self.params = {
            "token": rng.standard_normal((2 * self.n_values + 1, d)),
            "w_q": _init_weights(rng, d, d),
            "w_k": _init_weights(rng, d, d),
            "w_v": _init_weights(rng, d, d),
            "w_o": _init_weights(rng, d, self.n_values),
            "b_o": np.zeros(self.n_values),
        }
        if self.encoding == "learned":
            self.params["position"] = rng.standard_normal((self.n_train, d))

    def __repr__(self) -> str:
        return (f"MarkedRecallReader({self.encoding!r}, n_train={self.n_train}, n_values={self.n_values}, "
                f"width={self.width})")

    def check_inputs(self, inputs: Any, name: str = "inputs") -> dict[str, np.ndarray]:
        """``tokens`` (B, n), ids below ``2 n_values + 1``, n >= 2 (and <= n_train for a learned
        table); ``labels`` (B,) below ``n_values`` if present; other entries are kept.

        Raises
        ------
        TypeError, ValueError
            Not a dict; missing ``tokens``; wrong shapes or ids; too long for the table.
        """
        if not isinstance(inputs, dict):
            raise TypeError(f"{name} must be a dict of name -> int array, got {type(inputs).__name__}")
        if "tokens" not in inputs:
            raise ValueError(f"{name} has no 'tokens'")
        tokens = as_int_array(inputs["tokens"], f"{name}['tokens']", ndim=2, low=0, high=2 * self.n_values + 1)
        if tokens.shape[0] == 0 or tokens.shape[1] < 2:
            raise ValueError(f"{name}['tokens'] must be (B >= 1, n >= 2), got {tokens.shape}")
        if self.encoding == "learned" and tokens.shape[1] > self.n_train:
            raise ValueError(f"{name}['tokens'] has {tokens.shape[1]} positions; the learned table has only "
                             f"{self.n_train} rows")
        checked = dict(inputs, tokens=tokens)
        if "labels" in inputs:
            checked["labels"] = as_int_array(inputs["labels"], f"{name}['labels']", ndim=1, low=0,
                                             high=self.n_values)
            if checked["labels"].shape != (tokens.shape[0],):
                raise ValueError(f"{name}['labels'] must have shape ({tokens.shape[0]},), "
                                 f"got {checked['labels'].shape}")
        return checked

    def forward(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        """Logits (B, n_values) for the marked value, and the cache (``weights`` (B, 1, n))."""
        return self._forward(self.check_inputs(inputs))

    def backward(self, cache: dict, grad_logits: ArrayLike) -> dict[str, np.ndarray]:
        """One gradient per parameter, given ``dL/dlogits`` (B, n_values) and the cache."""
        if not isinstance(cache, dict) or "weights" not in cache:
            raise TypeError(f"cache must be the second value returned by forward(), got {type(cache).__name__}")
        grad = as_float_array(grad_logits, "grad_logits", finite=True)
        if grad.shape != cache["out"].shape[:1] + (self.n_values,):
            raise ValueError(f"grad_logits must have shape {cache['out'].shape[:1] + (self.n_values,)}, "
                             f"got {grad.shape}")
        return self._backward(cache, grad)

    def _forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        p, tokens = self.params, data["tokens"]
        n, d = tokens.shape[1], self.width
        x = p["token"][tokens]  # (B, n, d)
        if self.encoding == "learned":
            x = x + p["position"][:n]
        elif self.encoding == "sinusoidal":
            x = x + pos.sinusoidal_positions(n, d)  # (n, d) broadcast over B
        place = np.arange(n, dtype=float)  # (n,)
        q = x[:, -1:] @ p["w_q"]  # (B, 1, d): the question only
        k, v = x @ p["w_k"], x @ p["w_v"]  # (B, n, d)
        if self.encoding == "rope":
            q = pos._rotary_embedding(q, place[-1:], 10000.0)  # (B, 1, d)
            k = pos._rotary_embedding(k, place, 10000.0)  # (B, n, d)
        scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(d)  # (B, 1, n)
        if self.encoding == "alibi":
            scores = scores - self.alibi_slope * (n - 1 - place)  # (B, 1, n): the distance penalty
        weights = softmax(scores)  # (B, 1, n)
        out = weights @ v  # (B, 1, d)
        logits = out[:, 0] @ p["w_o"] + p["b_o"]  # (B, n_values)
        return logits, {"tokens": tokens, "x": x, "q": q, "k": k, "v": v, "weights": weights, "out": out,
                        "place": place}

    def _backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        p, x = self.params, cache["x"]
        grads = {"w_o": cache["out"][:, 0].T @ grad_logits, "b_o": grad_logits.sum(axis=0)}  # (d, V), (V,)
        grad_out = (grad_logits @ p["w_o"].T)[:, None, :]  # (B, 1, d)
        grad_q, grad_k, grad_v = scaled_dot_product_attention_backward(
            cache["q"], cache["k"], cache["v"], cache["weights"], grad_out)  # (B, 1, d), (B, n, d), (B, n, d)
        if self.encoding == "rope":  # a rotation's transpose is the rotation back
            grad_q = pos._rotary_embedding(grad_q, -cache["place"][-1:], 10000.0)
            grad_k = pos._rotary_embedding(grad_k, -cache["place"], 10000.0)
        grads["w_q"] = x[:, -1].T @ grad_q[:, 0]  # (d, d)
        grads["w_k"] = np.einsum("bnd,bne->de", x, grad_k)  # (d, d)
        grads["w_v"] = np.einsum("bnd,bne->de", x, grad_v)  # (d, d)
        grad_x = grad_k @ p["w_k"].T + grad_v @ p["w_v"].T  # (B, n, d)
        grad_x[:, -1] += grad_q[:, 0] @ p["w_q"].T
        grads["token"] = _embedding_backward(len(p["token"]), cache["tokens"], grad_x)
        if "position" in p:
            grads["position"] = np.zeros_like(p["position"])
            grads["position"][:x.shape[1]] = grad_x.sum(axis=0)
        return grads


def train_recall_reader(encoding: str, seed: int, *, config: dict | None = None,
                        alibi_slope: float | None = None) -> MarkedRecallReader:
    """A :class:`MarkedRecallReader` trained as the extrapolation experiment trains it.

    Parameters
    ----------
    encoding : str
        One of :data:`RECALL_ENCODINGS`.
    seed : int
        Seeds the initial weights and the order of the mini-batches.
    config : dict, optional
        Default :data:`EXTRAPOLATION_CONFIG`: sequences of ``train_length`` tokens, the
        marked token anywhere, ``steps`` Adam steps.
    alibi_slope : float, optional
        The ALiBi slope; default the configuration's ``alibi_slope`` (1/4).

    Returns
    -------
    MarkedRecallReader

    Examples
    --------
    >>> reader = train_recall_reader("none", 1, config={**EXTRAPOLATION_CONFIG, "steps": 2})
    >>> reader.encoding, reader.n_train
    ('none', 32)
    """
    from attn_core.training.loop import train

    config = EXTRAPOLATION_CONFIG if config is None else config
    seed = nonnegative_int(seed, "seed")
    slope = config["alibi_slope"] if alibi_slope is None else positive_number(alibi_slope, "alibi_slope")
    model = MarkedRecallReader(encoding, config["train_length"], n_values=config["n_values"],
                               width=config["width"], alibi_slope=slope, seed=seed)
    data = marked_recall(config["train_examples"], config["train_length"], n_values=config["n_values"],
                         seed=config["data_seed"])
    train(model, {"tokens": data["tokens"], "labels": data["labels"]}, steps=config["steps"],
          batch_size=config["batch_size"], lr=config["lr"], seed=seed, progress=False)
    return model


def recall_accuracy(model: MarkedRecallReader, length: int, distance: int, *, config: dict | None = None
                    ) -> float | None:
    """Accuracy of ``model`` on fresh sequences of ``length`` tokens, marked ``distance`` back.

    ``None`` when a learned table has no rows for ``length`` positions. The test sequences
    depend only on ``length``, ``distance`` and the configuration's ``test_seed``, so every
    model is scored on the same ones.

    Examples
    --------
    >>> reader = MarkedRecallReader("learned", 32)
    >>> recall_accuracy(reader, 64, 10) is None
    True
    """
    if not isinstance(model, MarkedRecallReader):
        raise TypeError(f"model must be a MarkedRecallReader, got {type(model).__name__}")
    config = EXTRAPOLATION_CONFIG if config is None else config
    length, distance = positive_int(length, "length"), positive_int(distance, "distance")
    if model.encoding == "learned" and length > model.n_train:
        return None
    data = marked_recall(config["test_examples"], length, n_values=model.n_values, distance=distance,
                         seed=config["test_seed"] + 1000 * length + distance)
    logits, _ = model._forward(model.check_inputs({"tokens": data["tokens"]}))
    return float((logits.argmax(axis=-1) == data["labels"]).mean())


def run_extrapolation(config: dict | None = None) -> dict:
    """Train every reader with every seed; score each at every test length and distance.

    The readers are the five encodings of :data:`RECALL_ENCODINGS` (ALiBi with the slope
    ``alibi_slope``) and one ALiBi reader per slope in ``extra_alibi_slopes``, named
    ``"alibi 1/16"`` and so on (:data:`RECALL_READERS`).

    Returns
    -------
    dict
        ``config``; ``accuracy``: reader -> str(length) -> list over ``distances`` of the
        mean accuracy over seeds (``None`` where the distance does not fit the length or a
        learned table has no rows); ``accuracy_by_seed``: the same with a list, one
        accuracy per seed (in the order of ``seeds``), in each cell; ``params``: reader ->
        the first seed's trained parameters as nested lists (for the explorer).

    Examples
    --------
    >>> tiny = {**EXTRAPOLATION_CONFIG, "steps": 1, "seeds": [1], "test_lengths": [32],
    ...         "distances": [1, 40], "test_examples": 4, "extra_alibi_slopes": [0.5]}
    >>> result = run_extrapolation(tiny)
    >>> result["accuracy"]["learned"]["32"][1] is None, list(result["accuracy"])[-1]
    (True, 'alibi 1/2')
    """
    config = EXTRAPOLATION_CONFIG if config is None else config
    accuracy, by_seed, params = {}, {}, {}
    for reader, encoding, slope in _reader_specs(config):
        scores = {str(n): [[] for _ in config["distances"]] for n in config["test_lengths"]}
        for s, seed in enumerate(config["seeds"]):
            model = train_recall_reader(encoding, seed, config=config, alibi_slope=slope)
            if s == 0:
                params[reader] = {name: value.tolist() for name, value in model.params.items()}
            for n in config["test_lengths"]:
                for i, distance in enumerate(config["distances"]):
                    if distance < n:
                        scores[str(n)][i].append(recall_accuracy(model, n, distance, config=config))
        accuracy[reader] = {n: [None if not cell or cell[0] is None else float(np.mean(cell)) for cell in row]
                            for n, row in scores.items()}
        by_seed[reader] = {n: [None if not cell or cell[0] is None else cell for cell in row]
                           for n, row in scores.items()}
    return {"config": config, "accuracy": accuracy, "accuracy_by_seed": by_seed, "params": params}


def load_extrapolation() -> dict:
    """The stored run of :func:`run_extrapolation` (``benchmarks/positions_extrapolation.py``).

    Returns
    -------
    dict
        As :func:`run_extrapolation`, plus ``seconds``, ``machine`` and ``command``.

    Raises
    ------
    FileNotFoundError
        The results have not been made.

    Examples
    --------
    >>> load_extrapolation()["config"] == EXTRAPOLATION_CONFIG
    True
    """
    with resources.files("attn_core.experiments").joinpath("results", "positions.json").open(
            "r", encoding="utf-8") as handle:
        return json.load(handle)


def stored_recall_reader(encoding: str) -> MarkedRecallReader:
    """The first seed's reader of the stored run, with its trained weights.

    Parameters
    ----------
    encoding : str
        One of :data:`RECALL_READERS`: an encoding, or ``"alibi 1/16"``, ``"alibi 1/64"``.

    Returns
    -------
    MarkedRecallReader

    Raises
    ------
    ValueError
        A name that is not one of :data:`RECALL_READERS`.

    Examples
    --------
    >>> stored_recall_reader("alibi").alibi_slope, stored_recall_reader("alibi 1/64").alibi_slope
    (0.25, 0.015625)
    """
    config = EXTRAPOLATION_CONFIG
    reader = choice(encoding, RECALL_READERS, "encoding")
    _, kind, slope = next(spec for spec in _reader_specs(config) if spec[0] == reader)
    model = MarkedRecallReader(kind, config["train_length"], n_values=config["n_values"],
                               width=config["width"], alibi_slope=slope, seed=config["seeds"][0])
    for name, value in load_extrapolation()["params"][reader].items():
        model.params[name] = np.asarray(value, dtype=float)
    return model


__all__ += ["PROBE_VOCAB", "position_probe", "RECALL_ENCODINGS", "RECALL_READERS", "EXTRAPOLATION_CONFIG",
            "marked_recall",
            "MarkedRecallReader", "train_recall_reader", "recall_accuracy", "run_extrapolation",
            "load_extrapolation", "stored_recall_reader"]
