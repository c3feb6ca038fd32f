r"""Multi-head latent attention, MLA (DeepSeek-AI, 2024: DeepSeek-V2; also used by DeepSeek-V3).

A decoder's key/value cache holds ``2 * h * d_head`` numbers per position and layer. MLA
caches instead one **latent** vector per position, :math:`c^{KV} = x W_{DKV}` of width
:math:`d_c \ll 2 h\, d_{head}`, from which every head's keys and values are **up-projected**:
head :math:`g` has :math:`K^{C(g)} = c^{KV} W_{UK}^{(g)}` and
:math:`V^{(g)} = c^{KV} W_{UV}^{(g)}`.

Rotary position embeddings do not survive that compression: RoPE rotates each key by its
position, so a rotated key is no longer a fixed linear map of the cached latent, and the
trick below (absorbing :math:`W_{UK}` into the query) would fail. MLA therefore
**decouples** position: each key gets a small extra part :math:`k^R = \operatorname{RoPE}(x
W_{KR})` of width :math:`d_R`, **shared by all heads** and cached as it is, and each
head's query an extra part :math:`q^{R(g)} = \operatorname{RoPE}(x W_{QR}^{(g)})`. The score of
head :math:`g` for query :math:`t` and key :math:`j` is

.. math:: S^{(g)}_{tj} = \frac{q^{C(g)}_t \cdot k^{C(g)}_j + q^{R(g)}_t \cdot k^R_j}{\sqrt{d_{head} + d_R}},

and the cache holds :math:`d_c + d_R` numbers per position and layer.

**The absorbed form.** Because :math:`q^{C(g)} \cdot (c^{KV} W_{UK}^{(g)}) = (q^{C(g)}
{W_{UK}^{(g)}}^\top) \cdot c^{KV}`, a decoder never needs the up-projected keys: multiply the
query by :math:`{W_{UK}^{(g)}}^\top` (absorbed into the query projection) and score it against
the latent directly. Likewise :math:`\sum_j a^{(g)}_{tj} v^{(g)}_j W_O^{(g)} = (\sum_j
a^{(g)}_{tj} c^{KV}_j) W_{UV}^{(g)} W_O^{(g)}`: attend over the latents and apply
:math:`W_{UV}^{(g)} W_O^{(g)}` (absorbed into the output projection) once. Both forms give the
same numbers; this module computes both.

Left out, as they change nothing here: DeepSeek-V2 and V3 also compress the queries through
a low-rank latent (to save activation memory in training; here the queries are projected
directly, :math:`q^{C(g)} = x W_Q^{(g)}`), and they apply an RMSNorm to the compressed
latent before caching it (the absorption is unaffected: the norm comes before the
up-projections).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    broadcast_batch,
    flag,
    nonnegative_int,
    positive_int,
)
from attn_core.attention import _attention
from attn_core.masks import _causal_mask
from attn_core.positions import _rotary_embedding
from attn_core.softmax import _softmax

__all__ = ["MultiHeadLatentAttention", "latent_kv_cache_bytes"]

ROPE_BASE = 10000.0


class MultiHeadLatentAttention:
    r"""Multi-head latent attention (DeepSeek-V2), explicit and absorbed, without biases.

    Parameters
    ----------
    d_model : int
        Width of the input and output vectors.
    n_heads : int
        Number of heads ``h``.
    d_latent : int
        Width :math:`d_c` of the cached latent :math:`c^{KV}` (DeepSeek-V2: 512).
    d_head : int
        Width of each head's content queries, keys and values (DeepSeek-V2: 128).
    d_rope : int
        Even width :math:`d_R` of the decoupled rotary part of queries and keys (DeepSeek-V2: 64).
    seed : int, default 0
        Seeds the weights, normal with standard deviation ``1 / sqrt(fan_in)``.

    Attributes
    ----------
    w_down_kv : ndarray, shape (d_model, d_latent)
        :math:`W_{DKV}`: input to latent.
    w_up_key, w_up_value : ndarray, shape (d_latent, n_heads * d_head)
        :math:`W_{UK}, W_{UV}`: latent to every head's keys and values (head g: columns
        ``g * d_head : (g + 1) * d_head``).
    w_key_rope : ndarray, shape (d_model, d_rope)
        :math:`W_{KR}`: the rotary key part, one for all heads.
    w_query : ndarray, shape (d_model, n_heads * d_head)
    w_query_rope : ndarray, shape (d_model, n_heads * d_rope)
    w_output : ndarray, shape (n_heads * d_head, d_model)

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1, an odd ``d_rope``, a negative or non-integer
        ``seed``.

    References
    ----------
    DeepSeek-AI, "DeepSeek-V2: a strong, economical, and efficient mixture-of-experts
    language model", arXiv:2405.04434, 2024 (section 2.1, multi-head latent attention).

    Examples
    --------
    >>> mla = MultiHeadLatentAttention(16, 4, d_latent=8, d_head=4, d_rope=2)
    >>> x = np.random.default_rng(0).standard_normal((5, 16))
    >>> out, weights = mla(x, causal=True)
    >>> out.shape, weights.shape
    ((5, 16), (4, 5, 5))
    >>> latent, key_rope = mla.compress(x)          # what a decoder caches: 8 + 2 numbers a position
    >>> out_absorbed, _ = mla.absorbed(x, latent, key_rope, causal=True)
    >>> bool(np.allclose(out_absorbed, out))
    True
    """

    def __init__(self, d_model: int, n_heads: int, *, d_latent: int, d_head: int, d_rope: int, seed: int = 0):
        self.d_model = positive_int(d_model, "d_model")
        self.n_heads = positive_int(n_heads, "n_heads")
        self.d_latent = positive_int(d_latent, "d_latent")
        self.d_head = positive_int(d_head, "d_head")
        self.d_rope = positive_int(d_rope, "d_rope")
        if self.d_rope % 2:
            raise ValueError(f"d_rope must be even (RoPE turns pairs of coordinates), got {self.d_rope}")
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        h = self.n_heads

        def weight(fan_in: int, fan_out: int) -> np.ndarray:
            return rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, fan_out))

        self.w_down_kv = weight(self.d_model, self.d_latent)
        self.w_up_key = weight(self.d_latent, h * self.d_head)
        self.w_up_value = weight(self.d_latent, h * self.d_head)
        self.w_key_rope = weight(self.d_model, self.d_rope)
        self.w_query = weight(self.d_model, h * self.d_head)
        self.w_query_rope = weight(self.d_model, h * self.d_rope)
        self.w_output = weight(h * self.d_head, self.d_model)

    def __repr__(self) -> str:
        return (f"MultiHeadLatentAttention(d_model={self.d_model}, n_heads={self.n_heads}, "
                f"d_latent={self.d_latent}, d_head={self.d_head}, d_rope={self.d_rope})")

    @property
    def scale(self) -> float:
        """``1 / sqrt(d_head + d_rope)``: a score sums ``d_head + d_rope`` products."""
        return 1.0 / np.sqrt(self.d_head + self.d_rope)

    # ------------------------------------------------------------------ checks and pieces
    def _check_input(self, x: ArrayLike, name: str, width: int, what: str) -> np.ndarray:
        x = as_float_array(x, name, min_ndim=2, nonempty=True, finite=True)
        if x.shape[-1] != width:
            raise ValueError(f"{name} has width {x.shape[-1]} (shape {x.shape}), but {what}={width}")
        return x

    def _split_heads(self, x: np.ndarray, width: int) -> np.ndarray:
        """``(..., n, h * width) -> (..., h, n, width)``."""
        *lead, n, _ = x.shape
        return np.swapaxes(x.reshape(*lead, n, self.n_heads, width), -2, -3)  # (..., h, n, width)

    def _queries(self, x: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Content and rotary queries per head, ``(..., h, n, d_head)`` and ``(..., h, n, d_rope)``."""
        content = self._split_heads(x @ self.w_query, self.d_head)  # (..., n, d_model) @ (d_model, h d_head)
        rotary = self._split_heads(x @ self.w_query_rope, self.d_rope)  # (..., h, n, d_rope), not yet rotated
        return content, _rotary_embedding(rotary, positions, ROPE_BASE)

    def _compress(self, x: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        latent = x @ self.w_down_kv  # (..., n, d_model) @ (d_model, d_latent) -> (..., n, d_latent)
        key_rope = _rotary_embedding(x @ self.w_key_rope, positions, ROPE_BASE)  # (..., n, d_rope)
        return latent, key_rope

    # ------------------------------------------------------------------ public
    def compress(self, x: ArrayLike, positions: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """What a decoder caches for each position: the latent and the rotary key part.

        Parameters
        ----------
        x : array_like, shape (..., n, d_model)
        positions : array_like of shape (n,), optional
            Absolute positions of the rows of ``x`` for RoPE; default ``0, ..., n - 1``. When
            decoding, pass the new position, e.g. ``[t]``.

        Returns
        -------
        latent : ndarray, shape (..., n, d_latent)
            :math:`c^{KV} = x W_{DKV}`.
        key_rope : ndarray, shape (..., n, d_rope)
            :math:`\\operatorname{RoPE}(x W_{KR})`, shared by every head.

        Raises
        ------
        TypeError, ValueError
            Non-numeric, empty or infinite ``x`` or ``positions``; ``x`` not of width
            ``d_model``; ``positions`` not of shape ``(n,)``.
        """
        x = self._check_input(x, "x", self.d_model, "d_model")
        n = x.shape[-2]
        if positions is None:
            p = np.arange(n, dtype=float)
        else:
            p = as_float_array(positions, "positions", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
            if p.shape != (n,):
                raise ValueError(f"positions must have shape ({n},) to match x {x.shape}, got {p.shape}")
        return self._compress(x, p)

    def __call__(self, x: ArrayLike, *, causal: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Self-attention in the explicit form: every head's keys and values up-projected from the latent.

        Parameters
        ----------
        x : array_like, shape (..., n, d_model)
            Positions ``0, ..., n - 1``.
        causal : bool, default False

        Returns
        -------
        output : ndarray, shape (..., n, d_model)
        weights : ndarray, shape (..., n_heads, n, n)

        Raises
        ------
        TypeError, ValueError
            Non-numeric, empty or infinite ``x``, or not of width ``d_model``; ``causal`` not
            True or False.
        """
        x = self._check_input(x, "x", self.d_model, "d_model")
        return self._explicit(x, flag(causal, "causal"))

    def _explicit(self, x: np.ndarray, causal: bool) -> tuple[np.ndarray, np.ndarray]:
        n = x.shape[-2]
        positions = np.arange(n, dtype=float)
        latent, key_rope = self._compress(x, positions)  # (..., n, d_latent), (..., n, d_rope)
        key_content = self._split_heads(latent @ self.w_up_key, self.d_head)  # (..., h, n, d_head)
        values = self._split_heads(latent @ self.w_up_value, self.d_head)  # (..., h, n, d_head)
        shared_rope = np.broadcast_to(key_rope[..., None, :, :], key_content.shape[:-1] + (self.d_rope,))
        keys = np.concatenate([key_content, shared_rope], axis=-1)  # (..., h, n, d_head + d_rope)
        query_content, query_rope = self._queries(x, positions)
        queries = np.concatenate([query_content, query_rope], axis=-1)  # (..., h, n, d_head + d_rope)
        allowed = _causal_mask(n, n) if causal else None
        heads, weights = _attention(queries, keys, values, allowed, self.scale)  # (..., h, n, d_head)
        merged = np.swapaxes(heads, -2, -3).reshape(*heads.shape[:-3], n, self.n_heads * self.d_head)
        return merged @ self.w_output, weights  # (..., n, h d_head) @ (h d_head, d_model) -> (..., n, d_model)

    def absorbed_weights(self) -> tuple[np.ndarray, np.ndarray]:
        r"""The two products the absorbed form uses instead of up-projecting keys and values.

        Returns
        -------
        query_to_latent : ndarray, shape (n_heads, d_model, d_latent)
            :math:`W_Q^{(g)} {W_{UK}^{(g)}}^\top`: an input to head g's query, already in latent space.
        latent_to_output : ndarray, shape (n_heads, d_latent, d_model)
            :math:`W_{UV}^{(g)} W_O^{(g)}`: head g's attended latent straight to the output.

        Examples
        --------
        >>> mla = MultiHeadLatentAttention(16, 4, d_latent=8, d_head=4, d_rope=2)
        >>> [w.shape for w in mla.absorbed_weights()]
        [(4, 16, 8), (4, 8, 16)]
        """
        h, d = self.n_heads, self.d_head
        query = np.swapaxes(self.w_query.reshape(self.d_model, h, d), 0, 1)  # (h, d_model, d_head)
        up_key = np.swapaxes(self.w_up_key.reshape(self.d_latent, h, d), 0, 1)  # (h, d_latent, d_head)
        up_value = np.swapaxes(self.w_up_value.reshape(self.d_latent, h, d), 0, 1)  # (h, d_latent, d_head)
        output = self.w_output.reshape(h, d, self.d_model)  # (h, d_head, d_model): head g's rows of W_O
        query_to_latent = query @ np.swapaxes(up_key, -1, -2)  # (h, d_model, d_head) @ (h, d_head, d_latent)
        latent_to_output = up_value @ output  # (h, d_latent, d_head) @ (h, d_head, d_model)
        return query_to_latent, latent_to_output

    def absorbed(self, x: ArrayLike, latent: ArrayLike, key_rope: ArrayLike, *,
                 causal: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Attention of new positions over cached latents, in the absorbed form (for decoding).

        The rows of ``x`` are the last ``n_q`` of the ``n_k`` cached positions (bottom-right,
        as :func:`attn_core.causal_mask`), at positions ``n_k - n_q, ..., n_k - 1``. No key
        or value is ever up-projected: each head's query is mapped into latent space by
        :math:`W_Q^{(g)} {W_{UK}^{(g)}}^\\top`, scored against the latents (plus the rotary part),
        and the attended latent goes to the output through :math:`W_{UV}^{(g)} W_O^{(g)}`
        (:meth:`absorbed_weights`).

        Parameters
        ----------
        x : array_like, shape (..., n_q, d_model)
            The new positions (usually ``n_q = 1``), already in the cache.
        latent : array_like, shape (..., n_k, d_latent)
        key_rope : array_like, shape (..., n_k, d_rope)
            As :meth:`compress` returned them for positions ``0, ..., n_k - 1``.
        causal : bool, default False

        Returns
        -------
        output : ndarray, shape (..., n_q, d_model)
            Equal, up to rounding, to the last ``n_q`` rows of ``self(x_all, causal=causal)``.
        weights : ndarray, shape (..., n_heads, n_q, n_k)

        Raises
        ------
        TypeError, ValueError
            Non-numeric, empty or infinite input; widths other than ``d_model``,
            ``d_latent``, ``d_rope``; ``latent`` and ``key_rope`` of different lengths; batch
            dimensions that do not broadcast; ``causal`` not True or False.
        """
        x = self._check_input(x, "x", self.d_model, "d_model")
        latent = self._check_input(latent, "latent", self.d_latent, "d_latent")
        key_rope = self._check_input(key_rope, "key_rope", self.d_rope, "d_rope")
        if latent.shape[-2] != key_rope.shape[-2]:
            raise ValueError(f"latent and key_rope must cover the same positions; got latent {latent.shape}, "
                             f"key_rope {key_rope.shape}")
        broadcast_batch({"x": x.shape, "latent": latent.shape, "key_rope": key_rope.shape})
        return self._absorbed(x, latent, key_rope, flag(causal, "causal"))

    def _absorbed(self, x: np.ndarray, latent: np.ndarray, key_rope: np.ndarray,
                  causal: bool) -> tuple[np.ndarray, np.ndarray]:
        n_q, n_k = x.shape[-2], latent.shape[-2]
        positions = np.arange(n_k - n_q, n_k, dtype=float)  # the queries are the last n_q positions
        query_to_latent, latent_to_output = self.absorbed_weights()
        query_latent = x[..., None, :, :] @ query_to_latent  # (..., 1, n_q, d_model) @ (h, d_model, d_c)
        query_rope = _rotary_embedding(self._split_heads(x @ self.w_query_rope, self.d_rope), positions,
                                       ROPE_BASE)  # (..., h, n_q, d_rope)
        scores = (query_latent @ np.swapaxes(latent, -1, -2)[..., None, :, :]  # (..., h, n_q, n_k)
                  + query_rope @ np.swapaxes(key_rope, -1, -2)[..., None, :, :]) * self.scale
        allowed = _causal_mask(n_q, n_k) if causal else None
        weights = _softmax(scores, -1, 1.0, allowed)  # (..., h, n_q, n_k)
        attended = weights @ latent[..., None, :, :]  # (..., h, n_q, n_k) @ (..., 1, n_k, d_c) -> (..., h, n_q, d_c)
        output = (attended @ latent_to_output).sum(axis=-3)  # (..., h, n_q, d_model) summed over heads
        return output, weights


def latent_kv_cache_bytes(seq_len: int, *, n_layers: int, d_latent: int, d_rope: int,
                          batch: int = 1, bytes_per_number: int = 2) -> int:
    """Memory of an MLA cache: ``(d_latent + d_rope) * layers * seq_len * batch`` numbers.

    Compare :func:`attn_core.kv_cache_bytes`, ``2 * n_kv_heads * d_head`` numbers per position
    and layer. DeepSeek-V2 (128 heads of width 128, ``d_latent = 512``, ``d_rope = 64``)
    caches 576 numbers per position and layer instead of 32,768: as much as grouped-query
    attention with 2.25 groups.

    Parameters
    ----------
    seq_len : int
    n_layers, d_latent, d_rope : int
    batch : int, default 1
    bytes_per_number : int, default 2 (float16/bfloat16)

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1.

    Examples
    --------
    >>> import attn_core as ac
    >>> per_token = latent_kv_cache_bytes(1, n_layers=1, d_latent=512, d_rope=64)
    >>> per_token, ac.kv_cache_bytes(1, n_layers=1, n_kv_heads=128, d_head=128) // per_token
    (1152, 56)
    """
    for name, value in [("seq_len", seq_len), ("n_layers", n_layers), ("d_latent", d_latent),
                        ("d_rope", d_rope), ("batch", batch), ("bytes_per_number", bytes_per_number)]:
        positive_int(value, name)
    return (d_latent + d_rope) * n_layers * seq_len * batch * bytes_per_number
