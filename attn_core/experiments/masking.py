"""A next-token predictor with one attention layer, to measure what a missing causal mask leaks.

A language model is trained to predict token ``t + 1`` from position ``t`` for every
position at once (teacher forcing), and is then used to generate, when only the tokens up
to ``t`` exist. The causal mask (Vaswani et al., 2017) makes the two situations the same for
the model. :class:`NextTokenModel` can be built with or without it, so chapter 7 can train
both and compare what each learned.

The toy data, :func:`repeated_sequences`, makes the comparison measurable: the first half
of every sequence is random (no honest model can predict it better than chance) and the
second half repeats the first (an honest model can learn to look back).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import positive_int, positive_number
from attn_core.attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from attn_core.training.adam import Adam
from attn_core.training.losses import cross_entropy, embedding_backward

__all__ = ["repeated_sequences", "NextTokenModel", "train_next_token", "next_token_accuracy"]


def repeated_sequences(n_sequences: int, *, half: int = 6, vocab: int = 8, seed: int = 0) -> np.ndarray:
    """Sequences whose second half repeats their first: ``a b c a b c``.

    Parameters
    ----------
    n_sequences : int
    half : int, default 6
        Length of the random first half; sequences have ``2 * half`` tokens.
    vocab : int, default 8
        Tokens are integers ``0 .. vocab - 1``, drawn uniformly and independently.
    seed : int, default 0

    Returns
    -------
    ndarray of int, shape (n_sequences, 2 * half)

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1; ``vocab`` must be >= 2.

    Examples
    --------
    >>> s = repeated_sequences(2, half=3, vocab=5, seed=1)
    >>> s.shape, bool((s[:, :3] == s[:, 3:]).all())
    ((2, 6), True)
    """
    n_sequences, half = positive_int(n_sequences, "n_sequences"), positive_int(half, "half")
    vocab = positive_int(vocab, "vocab")
    if vocab < 2:
        raise ValueError(f"vocab must be >= 2 (one token would make every prediction trivial), got {vocab}")
    first = np.random.default_rng(seed).integers(0, vocab, (n_sequences, half))
    return np.concatenate([first, first], axis=1)


def _init(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)


class NextTokenModel:
    r"""One attention layer and a linear read-out that predicts the next token at every position.

    .. math:: X = E[\text{tokens}] + P, \quad
              O = \operatorname{Attention}(X W_Q, X W_K, X W_V), \quad
              \text{logits} = O W_O + b_O

    with a learned token table ``E`` and a learned vector per position ``P`` (without
    positions, attention could not tell "the next token" from any other). Row ``t`` of the
    logits predicts token ``t + 1``.

    Parameters
    ----------
    vocab : int
        Number of distinct tokens.
    n_positions : int
        Longest sequence the model reads.
    width : int, default 16
        ``d``: width of the token vectors, queries, keys and values.
    causal : bool, default True
        Whether position ``t`` may attend only to positions ``<= t``.
    seed : int, default 0
        Seeds the initial parameters.

    Attributes
    ----------
    params : dict of name -> ndarray
        ``token`` (vocab, d), ``position`` (n_positions, d), ``w_q``, ``w_k``, ``w_v`` (d, d),
        ``w_o`` (d, vocab), ``b_o`` (vocab,).

    Examples
    --------
    >>> model = NextTokenModel(vocab=5, n_positions=6, width=8)
    >>> logits, cache = model.forward(np.array([[0, 1, 2, 0, 1, 2]]))
    >>> logits.shape, cache["weights"].shape
    ((1, 6, 5), (1, 6, 6))
    """

    def __init__(self, vocab: int, n_positions: int, *, width: int = 16, causal: bool = True, seed: int = 0):
        self.vocab = positive_int(vocab, "vocab")
        self.n_positions = positive_int(n_positions, "n_positions")
        self.width = positive_int(width, "width")
        if not isinstance(causal, (bool, np.bool_)):
            raise TypeError(f"causal must be True or False, got {causal!r:.40}")
        self.causal = bool(causal)
        rng = np.random.default_rng(seed)
        d = self.width
        self.params = {
            "token": rng.standard_normal((self.vocab, d)),
            "position": rng.standard_normal((self.n_positions, d)),
            "w_q": _init(rng, d, d),
            "w_k": _init(rng, d, d),
            "w_v": _init(rng, d, d),
            "w_o": _init(rng, d, self.vocab),
            "b_o": np.zeros(self.vocab),
        }

    def __repr__(self) -> str:
        return (f"NextTokenModel(vocab={self.vocab}, n_positions={self.n_positions}, "
                f"width={self.width}, causal={self.causal})")

    def _check_tokens(self, tokens: ArrayLike) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.dtype.kind not in "iu" or tokens.ndim != 2:
            raise ValueError(f"tokens must be whole numbers of shape (batch, n), got {tokens.dtype} {tokens.shape}")
        if not 1 <= tokens.shape[1] <= self.n_positions:
            raise ValueError(f"sequences must have 1 to n_positions={self.n_positions} tokens, got {tokens.shape[1]}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab):
            raise ValueError(f"tokens must lie in 0..vocab-1={self.vocab - 1}")
        return tokens

    def forward(self, tokens: ArrayLike) -> tuple[np.ndarray, dict]:
        """Logits for the next token at every position, and what backward needs.

        Parameters
        ----------
        tokens : array_like of int, shape (batch, n)

        Returns
        -------
        logits : ndarray, shape (batch, n, vocab)
        cache : dict
            Includes ``weights`` (batch, n, n), the attention weights.
        """
        p = self.params
        tokens = self._check_tokens(tokens)
        n = tokens.shape[1]
        x = p["token"][tokens] + p["position"][:n]  # (B, n, d)
        q, k, v = x @ p["w_q"], x @ p["w_k"], x @ p["w_v"]  # (B, n, d) each
        out, weights = scaled_dot_product_attention(q, k, v, causal=self.causal)  # (B, n, d), (B, n, n)
        logits = out @ p["w_o"] + p["b_o"]  # (B, n, vocab)
        return logits, {"tokens": tokens, "x": x, "q": q, "k": k, "v": v, "out": out, "weights": weights}

    def backward(self, cache: dict, grad_logits: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the loss with respect to every parameter, given ``dL/d(logits)``."""
        p, x = self.params, cache["x"]
        grads = {"w_o": np.einsum("bnd,bnv->dv", cache["out"], grad_logits),  # (d, vocab)
                 "b_o": grad_logits.sum(axis=(0, 1))}
        grad_out = grad_logits @ p["w_o"].T  # (B, n, d)
        grad_q, grad_k, grad_v = scaled_dot_product_attention_backward(
            cache["q"], cache["k"], cache["v"], cache["weights"], grad_out)  # (B, n, d) each
        for name, g in (("w_q", grad_q), ("w_k", grad_k), ("w_v", grad_v)):
            grads[name] = np.einsum("bnd,bne->de", x, g)  # (d, d)
        grad_x = grad_q @ p["w_q"].T + grad_k @ p["w_k"].T + grad_v @ p["w_v"].T  # (B, n, d)
        grads["token"] = embedding_backward(len(p["token"]), cache["tokens"], grad_x)
        grads["position"] = np.zeros_like(p["position"])
        grads["position"][:x.shape[1]] = grad_x.sum(axis=0)
        return grads

    def loss(self, tokens: ArrayLike) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy of predicting token ``t + 1`` at positions ``0 .. n-2``, and its gradients.

        Examples
        --------
        >>> model = NextTokenModel(vocab=4, n_positions=3, width=4)
        >>> loss, grads = model.loss(np.array([[0, 1, 2]]))
        >>> round(loss, 1) > 0, sorted(grads) == sorted(model.params)
        (True, True)
        """
        logits, cache = self.forward(tokens)
        batch, n, vocab = logits.shape
        if n < 2:
            raise ValueError("a sequence needs at least 2 tokens to have a next token to predict")
        tokens = cache["tokens"]
        value, grad = cross_entropy(logits[:, :-1].reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        grad_logits = np.zeros_like(logits)
        grad_logits[:, :-1] = grad.reshape(batch, n - 1, vocab)  # the last position predicts nothing
        return value, self.backward(cache, grad_logits)


def train_next_token(model: NextTokenModel, tokens: ArrayLike, *, steps: int = 400, batch_size: int = 32,
                     lr: float = 0.03, seed: int = 0) -> list[float]:
    """Train ``model`` with Adam on random mini-batches of ``tokens`` (teacher forcing).

    Every position predicts its next token in one forward pass, as language models are
    trained.

    Parameters
    ----------
    model : NextTokenModel
    tokens : array_like of int, shape (n_sequences, n)
    steps, batch_size : int
    lr : float
    seed : int
        Orders the mini-batches.

    Returns
    -------
    list of float
        The loss of every step's mini-batch.

    Examples
    --------
    >>> data = repeated_sequences(64, half=3, vocab=4, seed=1)
    >>> model = NextTokenModel(4, 6, width=8, seed=2)
    >>> losses = train_next_token(model, data, steps=60, batch_size=16)
    >>> bool(np.mean(losses[-10:]) < np.mean(losses[:10]))
    True
    """
    tokens = np.asarray(tokens)
    steps, batch_size = positive_int(steps, "steps"), positive_int(batch_size, "batch_size")
    lr = positive_number(lr, "lr")
    rng = np.random.default_rng(seed)
    optimiser = Adam(model.params, lr=lr)
    losses = []
    for _ in range(steps):
        batch = tokens[rng.integers(0, len(tokens), batch_size)]  # (batch_size, n)
        value, grads = model.loss(batch)
        optimiser.step(grads)
        losses.append(value)
    return losses


def next_token_accuracy(model: NextTokenModel, tokens: ArrayLike, *, prefix_only: bool = False) -> np.ndarray:
    """How often the model's most likely next token is right, at each position ``t = 0 .. n-2``.

    Parameters
    ----------
    model : NextTokenModel
    tokens : array_like of int, shape (n_sequences, n)
    prefix_only : bool, default False
        False: one forward pass over the whole sequence (teacher forcing, as in training).
        True: as when generating text, position ``t`` is predicted from ``tokens[:, :t + 1]``
        alone, the tokens after it not yet existing.

    Returns
    -------
    ndarray, shape (n - 1,)
        Accuracy of the prediction of token ``t + 1`` made at position ``t``.

    Examples
    --------
    >>> data = repeated_sequences(8, half=2, vocab=3)
    >>> model = NextTokenModel(3, 4, width=4)     # causal: the two ways agree
    >>> a, b = next_token_accuracy(model, data), next_token_accuracy(model, data, prefix_only=True)
    >>> a.shape, bool(np.array_equal(a, b))
    ((3,), True)
    """
    tokens = model._check_tokens(tokens)
    n = tokens.shape[1]
    if not prefix_only:
        logits, _ = model.forward(tokens)  # (B, n, vocab)
        return (logits[:, :-1].argmax(axis=-1) == tokens[:, 1:]).mean(axis=0)
    hits = []
    for t in range(n - 1):
        logits, _ = model.forward(tokens[:, :t + 1])  # (B, t + 1, vocab): the future is absent
        hits.append((logits[:, -1].argmax(axis=-1) == tokens[:, t + 1]).mean())
    return np.array(hits)
