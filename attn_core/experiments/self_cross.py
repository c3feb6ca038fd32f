"""Encoder–decoder alignment on toy reordering tasks: a cross-attention aligner trained in numpy.

A source sequence of symbols is rewritten as a target sequence: copied, reversed, or with
neighbouring pairs swapped. Target position ``t`` copies source position ``alignment[t]``,
so the right alignment is known exactly and can be compared with what cross-attention
learns (Bahdanau et al., 2015; Luong et al., 2015).

The model, :class:`CrossAttentionAligner`, is the smallest encoder–decoder that aligns:

* encoder: ``X_enc[j] = E_src[x_j] + P_src[j]``, one vector per source symbol (embedding
  plus position), all kept;
* decoder state at step ``t``: ``X_dec[t] = E_tgt[y_{t-1}] + P_tgt[t]``, the previous
  target symbol (a start symbol at ``t = 0``) and the step;
* one cross-attention layer, ``Q = X_dec W_Q``, ``K = X_enc W_K``, ``V = X_enc W_V``,
  ``A = softmax(Q K^T / sqrt(d))``;
* a readout ``logits[t] = (A V)[t] W_O + b_O`` over the symbols.

It is trained on the target symbols only (cross-entropy); nobody tells it the alignment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from attn_core._checks import positive_int, positive_number
from attn_core.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from attn_core.training.adam import Adam
from attn_core.training.losses import accuracy, cross_entropy, embedding_backward

__all__ = [
    "TASKS",
    "SYMBOLS",
    "task_alignment",
    "reordering_data",
    "alignment_accuracy",
    "CrossAttentionAligner",
    "AlignmentRun",
    "train_aligner",
]

#: The reordering tasks, by name.
TASKS = ("copy", "reverse", "swap pairs")
#: Names of the symbols, used to label maps: symbol ``i`` is ``SYMBOLS[i]``.
SYMBOLS = tuple("abcdefghijklmnopqrstuvwxyz")


def task_alignment(task: str, length: int) -> np.ndarray:
    """Which source position each target position copies: target ``t`` = source ``alignment[t]``.

    Parameters
    ----------
    task : {"copy", "reverse", "swap pairs"}
        ``"swap pairs"`` exchanges positions 0 and 1, 2 and 3, ...; with an odd length the
        last symbol stays where it is.
    length : int
        Sequence length ``L``.

    Returns
    -------
    ndarray of int, shape (L,)
        A permutation of ``0 .. L-1``.

    Raises
    ------
    ValueError
        An unknown task.

    Examples
    --------
    >>> task_alignment("reverse", 4)
    array([3, 2, 1, 0])
    >>> task_alignment("swap pairs", 5)
    array([1, 0, 3, 2, 4])
    """
    length = positive_int(length, "length")
    positions = np.arange(length)
    if task == "copy":
        return positions
    if task == "reverse":
        return positions[::-1].copy()
    if task == "swap pairs":
        swapped = positions ^ 1  # 0<->1, 2<->3, ...
        return np.where(swapped < length, swapped, positions)
    raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}; got {task!r}")


def reordering_data(n_examples: int, *, task: str, length: int = 6, n_symbols: int = 10,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Examples of a reordering task: distinct random symbols in, the same symbols reordered out.

    Parameters
    ----------
    n_examples : int
    task : {"copy", "reverse", "swap pairs"}
    length : int, default 6
        ``L``, the length of source and target.
    n_symbols : int, default 10
        Size of the vocabulary; the symbols of one source are distinct, so
        ``n_symbols >= length``.
    seed : int, default 0

    Returns
    -------
    dict with
        ``source`` (N, L) int; ``target`` (N, L) int, ``source[:, alignment]``;
        ``decoder_input`` (N, L) int, the target shifted right by one with the start
        symbol ``n_symbols`` in front (what the decoder has produced before each step);
        ``alignment`` (L,) int.

    Examples
    --------
    >>> d = reordering_data(2, task="reverse", length=4, n_symbols=6, seed=1)
    >>> bool((d["target"] == d["source"][:, ::-1]).all())
    True
    >>> d["decoder_input"][0, 0], bool((d["decoder_input"][:, 1:] == d["target"][:, :-1]).all())
    (np.int64(6), True)
    """
    n_examples, length = positive_int(n_examples, "n_examples"), positive_int(length, "length")
    n_symbols = positive_int(n_symbols, "n_symbols")
    if n_symbols < length:
        raise ValueError(f"n_symbols={n_symbols} must be >= length={length} (symbols of a source are distinct)")
    alignment = task_alignment(task, length)
    rng = np.random.default_rng(seed)
    source = np.argsort(rng.random((n_examples, n_symbols)), axis=1)[:, :length]  # (N, L), distinct per row
    target = source[:, alignment]  # (N, L): target t = source alignment[t]
    start = np.full((n_examples, 1), n_symbols)
    decoder_input = np.concatenate([start, target[:, :-1]], axis=1)  # (N, L)
    return {"source": source, "target": target, "decoder_input": decoder_input, "alignment": alignment}


def alignment_accuracy(weights: np.ndarray, alignment: np.ndarray) -> float:
    """Fraction of target positions whose largest weight is on the source position they copy.

    Parameters
    ----------
    weights : array_like, shape (..., L_t, L_s)
        Cross-attention weights, one row per target position.
    alignment : array_like of int, shape (L_t,)

    Returns
    -------
    float

    Examples
    --------
    >>> w = np.array([[0.1, 0.9], [0.6, 0.4]])
    >>> alignment_accuracy(w, [1, 0]), alignment_accuracy(w, [1, 1])
    (1.0, 0.5)
    """
    weights = np.asarray(weights, dtype=float)
    alignment = np.asarray(alignment)
    if weights.ndim < 2 or alignment.shape != weights.shape[-2:-1]:
        raise ValueError(f"alignment must have one entry per row of weights: weights {weights.shape}, "
                         f"alignment {alignment.shape}")
    return float((np.argmax(weights, axis=-1) == alignment).mean())


def _init(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(0.0, 1.0 / np.sqrt(shape[-1]), shape)


class CrossAttentionAligner:
    """A one-layer encoder–decoder whose decoder reads the source through cross-attention.

    Parameters
    ----------
    length : int
        Sequence length ``L`` (the position tables have ``L`` rows).
    n_symbols : int
        Vocabulary size; the decoder's start symbol is ``n_symbols``.
    width : int, default 16
        ``d``: width of the embeddings, queries, keys and values.
    source_positions : bool, default True
        Whether the encoder adds its position table ``P_src``. Without it the keys and
        values hold only what the symbols are, not where they stand.
    seed : int, default 0

    Attributes
    ----------
    params : dict of name -> ndarray
        ``src_embed`` (n_symbols, d), ``src_pos`` (L, d), ``tgt_embed`` (n_symbols + 1, d),
        ``tgt_pos`` (L, d), ``w_q``, ``w_k``, ``w_v`` (d, d), ``w_o`` (d, n_symbols),
        ``b_o`` (n_symbols,).

    Examples
    --------
    >>> data = reordering_data(3, task="copy", length=4, n_symbols=6)
    >>> model = CrossAttentionAligner(4, 6, width=8)
    >>> logits, cache = model.forward(data)
    >>> logits.shape, cache["weights"].shape     # (N * L_t, symbols), (N, L_t, L_s)
    ((12, 6), (3, 4, 4))
    """

    def __init__(self, length: int, n_symbols: int, *, width: int = 16, source_positions: bool = True,
                 seed: int = 0):
        self.length = positive_int(length, "length")
        self.n_symbols = positive_int(n_symbols, "n_symbols")
        self.width = positive_int(width, "width")
        self.source_positions = bool(source_positions)
        rng = np.random.default_rng(seed)
        d = self.width
        self.params = {
            "src_embed": rng.normal(0.0, 1.0, (n_symbols, d)),
            "src_pos": rng.normal(0.0, 1.0, (length, d)) if self.source_positions else np.zeros((length, d)),
            "tgt_embed": rng.normal(0.0, 1.0, (n_symbols + 1, d)),
            "tgt_pos": rng.normal(0.0, 1.0, (length, d)),
            "w_q": _init(rng, d, d),
            "w_k": _init(rng, d, d),
            "w_v": _init(rng, d, d),
            "w_o": _init(rng, d, n_symbols),
            "b_o": np.zeros(n_symbols),
        }

    def __repr__(self) -> str:
        n = sum(p.size for p in self.params.values())
        return f"CrossAttentionAligner(length={self.length}, width={self.width}, parameters={n})"

    def _check(self, data: dict[str, np.ndarray]) -> None:
        for name in ("source", "decoder_input"):
            if np.shape(data[name])[1:] != (self.length,):
                raise ValueError(f"{name} must have shape (N, {self.length}), got {np.shape(data[name])}")

    def forward(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        """Logits for every target position, and what the backward pass needs.

        Parameters
        ----------
        data : dict
            ``source`` and ``decoder_input``, int arrays (N, L), as from :func:`reordering_data`.

        Returns
        -------
        logits : ndarray, shape (N * L, n_symbols)
            Row ``b * L + t`` scores the symbols for example ``b``, target position ``t``.
        cache : dict
            Includes ``weights`` (N, L_t, L_s), the cross-attention map of every example.
        """
        self._check(data)
        p = self.params
        x_enc = p["src_embed"][data["source"]] + p["src_pos"]  # (N, L_s, d)
        x_dec = p["tgt_embed"][data["decoder_input"]] + p["tgt_pos"]  # (N, L_t, d)
        q = x_dec @ p["w_q"]  # (N, L_t, d)
        k = x_enc @ p["w_k"]  # (N, L_s, d)
        v = x_enc @ p["w_v"]  # (N, L_s, d)
        read, weights = scaled_dot_product_attention(q, k, v)  # (N, L_t, d), (N, L_t, L_s)
        flat = read.reshape(-1, self.width)  # (N * L_t, d)
        logits = flat @ p["w_o"] + p["b_o"]  # (N * L_t, n_symbols)
        cache = {"x_enc": x_enc, "x_dec": x_dec, "q": q, "k": k, "v": v, "flat": flat,
                 "weights": weights, "data": data}
        return logits, cache

    def backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the loss for every parameter, given ``dL/dlogits`` (N * L, n_symbols)."""
        p, data = self.params, cache["data"]
        grads = {"w_o": cache["flat"].T @ grad_logits, "b_o": grad_logits.sum(0)}
        grad_read = (grad_logits @ p["w_o"].T).reshape(cache["q"].shape)  # (N, L_t, d)
        gq, gk, gv = scaled_dot_product_attention_backward(
            cache["q"], cache["k"], cache["v"], cache["weights"], grad_read)  # each (N, L, d)
        grads["w_q"] = np.einsum("nti,ntj->ij", cache["x_dec"], gq)  # (d, d): sum of X_dec^T dQ
        grads["w_k"] = np.einsum("nsi,nsj->ij", cache["x_enc"], gk)  # (d, d)
        grads["w_v"] = np.einsum("nsi,nsj->ij", cache["x_enc"], gv)  # (d, d)
        grad_dec = gq @ p["w_q"].T  # (N, L_t, d)
        grad_enc = gk @ p["w_k"].T + gv @ p["w_v"].T  # (N, L_s, d)
        grads["tgt_pos"] = grad_dec.sum(0)  # (L, d)
        grads["src_pos"] = grad_enc.sum(0) if self.source_positions else np.zeros_like(p["src_pos"])
        grads["tgt_embed"] = embedding_backward(len(p["tgt_embed"]), data["decoder_input"], grad_dec)
        grads["src_embed"] = embedding_backward(len(p["src_embed"]), data["source"], grad_enc)
        return grads

    def decode(self, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Greedy decoding: each step feeds the symbol the model chose at the step before.

        Parameters
        ----------
        source : array_like of int, shape (N, L)

        Returns
        -------
        output : ndarray of int, shape (N, L)
        weights : ndarray, shape (N, L_t, L_s)
            The cross-attention map of the steps as they were decoded.

        Examples
        --------
        >>> model = CrossAttentionAligner(3, 5, width=4)
        >>> out, w = model.decode(np.array([[0, 1, 2]]))
        >>> out.shape, w.shape
        ((1, 3), (1, 3, 3))
        """
        source = np.asarray(source)
        decoder_input = np.full(source.shape, self.n_symbols)  # (N, L): start symbols
        output = np.zeros(source.shape, dtype=int)
        weights = np.zeros(source.shape + (self.length,))
        for t in range(self.length):  # step t only sees decoder inputs 0..t
            logits, cache = self.forward({"source": source, "decoder_input": decoder_input})
            output[:, t] = logits.reshape(*source.shape, -1)[:, t].argmax(-1)
            weights[:, t] = cache["weights"][:, t]
            if t + 1 < self.length:
                decoder_input[:, t + 1] = output[:, t]
        return output, weights


@dataclass
class AlignmentRun:
    """A training run of :class:`CrossAttentionAligner`, with snapshots along the way.

    ``snapshots[i]`` holds the cross-attention maps of the ``probe`` examples after
    ``steps[i]`` training steps; ``alignment_accuracy[i]``, ``token_accuracy[i]`` and
    ``test_loss[i]`` are measured on the held-out ``test`` set at the same moment, with
    teacher forcing (the decoder is given the correct previous symbols).
    """

    task: str
    model: CrossAttentionAligner
    test: dict[str, np.ndarray]
    probe: dict[str, np.ndarray]
    steps: list[int] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    alignment_accuracy: list[float] = field(default_factory=list)
    token_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)

    def record(self, step: int) -> None:
        """Measure the model now and append the measurements."""
        logits, cache = self.model.forward(self.test)
        self.steps.append(step)
        self.test_loss.append(cross_entropy(logits, self.test["target"].reshape(-1))[0])
        self.alignment_accuracy.append(alignment_accuracy(cache["weights"], self.test["alignment"]))
        self.token_accuracy.append(accuracy(logits, self.test["target"].reshape(-1)))
        self.snapshots.append(self.model.forward(self.probe)[1]["weights"].copy())


def train_aligner(
    task: str,
    *,
    steps: int = 150,
    record_at: tuple[int, ...] = (0, 10, 20, 30, 40, 60, 150),
    length: int = 6,
    n_symbols: int = 10,
    width: int = 16,
    source_positions: bool = True,
    n_train: int = 2000,
    n_test: int = 500,
    batch_size: int = 32,
    lr: float = 0.005,
    seed: int = 0,
    progress: bool = False,
) -> AlignmentRun:
    """Train a :class:`CrossAttentionAligner` on one task with Adam and cross-entropy.

    The loss is the mean cross-entropy of the target symbols given the correct previous
    ones (teacher forcing). Training, test and probe sets come from
    :func:`reordering_data` with seeds ``seed + 1``, ``seed + 2`` and ``seed + 3``; the
    model's weights and the order of the mini-batches from ``seed``.

    Parameters
    ----------
    task : {"copy", "reverse", "swap pairs"}
    steps : int, default 150
        Number of Adam steps.
    record_at : tuple of int
        Steps after which the model is measured and its probe maps saved (0 = untrained);
        steps beyond ``steps`` are ignored.
    length, n_symbols, width, source_positions
        As in :class:`CrossAttentionAligner` and :func:`reordering_data`.
    n_train, n_test : int
        Sizes of the training and test sets; the probe set holds 4 examples.
    batch_size : int, default 32
    lr : float, default 0.005
    seed : int, default 0
    progress : bool, default False
        Print one line per recorded step.

    Returns
    -------
    AlignmentRun

    Examples
    --------
    >>> run = train_aligner("reverse", steps=20, record_at=(0, 20), length=4, n_symbols=6)
    >>> run.steps, run.snapshots[-1].shape
    ([0, 20], (4, 4, 4))
    """
    if task not in TASKS:
        task_alignment(task, 1)  # raises with the list of tasks
    steps, batch_size = positive_int(steps, "steps"), positive_int(batch_size, "batch_size")
    lr = positive_number(lr, "lr")
    if batch_size > n_train:
        raise ValueError(f"batch_size={batch_size} is larger than the training set ({n_train} examples)")
    kwargs = {"task": task, "length": length, "n_symbols": n_symbols}
    train_set = reordering_data(n_train, seed=seed + 1, **kwargs)
    run = AlignmentRun(task=task,
                       model=CrossAttentionAligner(length, n_symbols, width=width,
                                                   source_positions=source_positions, seed=seed),
                       test=reordering_data(n_test, seed=seed + 2, **kwargs),
                       probe=reordering_data(4, seed=seed + 3, **kwargs))
    model = run.model
    optimiser = Adam(model.params, lr=lr)
    rng = np.random.default_rng(seed)
    record_at = set(record_at)

    def record(step: int) -> None:
        run.record(step)
        if progress:
            print(f"{task:>10}  step {step:>4}  test loss {run.test_loss[-1]:5.3f}  alignment accuracy "
                  f"{run.alignment_accuracy[-1]:.3f}  symbol accuracy {run.token_accuracy[-1]:.3f}")

    if 0 in record_at:
        record(0)
    order = rng.permutation(n_train)
    start = 0
    for step in range(1, steps + 1):
        if start + batch_size > n_train:
            order, start = rng.permutation(n_train), 0
        idx = order[start:start + batch_size]
        start += batch_size
        batch = {name: train_set[name][idx] for name in ("source", "decoder_input")}
        logits, cache = model.forward(batch)
        _, grad = cross_entropy(logits, train_set["target"][idx].reshape(-1))
        optimiser.step(model.backward(cache, grad))
        if step in record_at:
            record(step)
    return run
