"""Multi-head attention (Vaswani et al., 2017), with grouped key/value heads and a key/value cache.

``h`` heads each attend in their own ``d_head = d_model / h``-dimensional slice of the
projected queries, keys and values; their outputs are concatenated and mixed by ``W_O``.
With ``n_kv_heads < n_heads`` several query heads share one key/value head: multi-query
attention (Shazeer, 2019) when ``n_kv_heads = 1``, grouped-query attention (Ainslie et al.,
2023) in between.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import (
    as_float_array,
    broadcast_batch,
    flag,
    nonnegative_int,
    positive_int,
)
from attn_core.attention import _attention, _checked_mask
from attn_core.masks import _causal_mask

__all__ = ["MultiHeadAttention", "KVCache", "kv_cache_bytes"]


class MultiHeadAttention:
    """Multi-head attention with parameters ``w_q, w_k, w_v, w_o`` and biases, used as ``x @ w + b``.

    Parameters
    ----------
    d_model : int
        Width of the input and output vectors.
    n_heads : int
        Number of query heads ``h``; must divide ``d_model``.
    n_kv_heads : int, optional
        Number of key/value heads; must divide ``n_heads``. Default ``n_heads`` (ordinary
        multi-head attention); 1 gives multi-query attention.
    bias : bool, default True
        Whether the four projections have biases (initialised to zero).
    seed : int, default 0
        Seeds the weights: normal with standard deviation ``1/sqrt(d_model)``. A whole
        number >= 0.

    Raises
    ------
    TypeError, ValueError
        A size that is not a whole number >= 1, ``n_heads`` not dividing ``d_model`` or
        ``n_kv_heads`` not dividing ``n_heads``; ``bias`` not True or False; a negative or
        non-integer ``seed``.

    Attributes
    ----------
    w_q, w_o : ndarray, shape (d_model, d_model)
    w_k, w_v : ndarray, shape (d_model, n_kv_heads * d_head)
    b_q, b_o : ndarray, shape (d_model,)
    b_k, b_v : ndarray, shape (n_kv_heads * d_head,)
    d_head : int

    Examples
    --------
    >>> mha = MultiHeadAttention(d_model=8, n_heads=2, seed=0)
    >>> x = np.ones((5, 8))
    >>> out, w = mha(x)
    >>> out.shape, w.shape
    ((5, 8), (2, 5, 5))
    >>> MultiHeadAttention(8, 4, n_kv_heads=2).w_k.shape   # two key heads of width 2
    (8, 4)
    """

    def __init__(self, d_model: int, n_heads: int, *, n_kv_heads: int | None = None,
                 bias: bool = True, seed: int = 0):
        d_model = positive_int(d_model, "d_model")
        n_heads = positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        n_kv_heads = n_heads if n_kv_heads is None else positive_int(n_kv_heads, "n_kv_heads")
        if n_heads % n_kv_heads:
            raise ValueError(f"n_kv_heads={n_kv_heads} does not divide n_heads={n_heads}")
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.d_head = d_model // n_heads
        self.bias = flag(bias, "bias")
        d_kv = n_kv_heads * self.d_head
        rng = np.random.default_rng(nonnegative_int(seed, "seed"))
        std = 1.0 / np.sqrt(d_model)
        self.w_q = rng.normal(0.0, std, (d_model, d_model))
        self.w_k = rng.normal(0.0, std, (d_model, d_kv))
        self.w_v = rng.normal(0.0, std, (d_model, d_kv))
        self.w_o = rng.normal(0.0, std, (d_model, d_model))
        self.b_q, self.b_o = np.zeros(d_model), np.zeros(d_model)
        self.b_k, self.b_v = np.zeros(d_kv), np.zeros(d_kv)

    def __repr__(self) -> str:
        return (f"MultiHeadAttention(d_model={self.d_model}, n_heads={self.n_heads}, "
                f"n_kv_heads={self.n_kv_heads}, bias={self.bias})")

    @property
    def group_size(self) -> int:
        """How many query heads share one key/value head."""
        return self.n_heads // self.n_kv_heads

    def parameter_count(self) -> int:
        """Number of weights and biases.

        Examples
        --------
        >>> MultiHeadAttention(8, 2).parameter_count()   # 4 * 8*8 + 4 * 8
        288
        """
        n = self.w_q.size + self.w_k.size + self.w_v.size + self.w_o.size
        return n + (self.b_q.size + self.b_k.size + self.b_v.size + self.b_o.size if self.bias else 0)

    # ------------------------------------------------------------------ pieces
    def _check_input(self, x: ArrayLike, name: str) -> np.ndarray:
        x = as_float_array(x, name, min_ndim=2, nonempty=True, finite=True)
        if x.shape[-1] != self.d_model:
            raise ValueError(f"{name} has width {x.shape[-1]} (shape {x.shape}), but d_model={self.d_model}")
        return x

    def _project(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        return x @ w + b if self.bias else x @ w

    def split_heads(self, x: ArrayLike) -> np.ndarray:
        """``(..., n, heads * d_head) -> (..., heads, n, d_head)``: head j gets columns ``j*d_head:(j+1)*d_head``.

        Raises ``TypeError``/``ValueError`` for non-numeric input, fewer than two dimensions
        or a width that is not a multiple of ``d_head``.
        """
        x = as_float_array(x, "x", min_ndim=2, nonempty=True, finite=True)
        if x.shape[-1] % self.d_head:
            raise ValueError(f"x has width {x.shape[-1]} (shape {x.shape}), not a multiple of d_head={self.d_head}")
        return self._split_heads(x)

    def _split_heads(self, x: np.ndarray) -> np.ndarray:
        *lead, n, width = x.shape
        x = x.reshape(*lead, n, width // self.d_head, self.d_head)  # (..., n, heads, d_head)
        return np.swapaxes(x, -2, -3)  # (..., heads, n, d_head)

    def merge_heads(self, x: ArrayLike) -> np.ndarray:
        """``(..., heads, n, d_head) -> (..., n, heads * d_head)``: the inverse of :meth:`split_heads`.

        Raises ``TypeError``/``ValueError`` for non-numeric input, fewer than three
        dimensions or a last dimension other than ``d_head``.
        """
        x = as_float_array(x, "x", min_ndim=3, nonempty=True, finite=True)
        if x.shape[-1] != self.d_head or x.shape[-3] not in (self.n_heads, self.n_kv_heads):
            raise ValueError(
                f"x must be (..., heads, n, d_head={self.d_head}) with heads = n_heads={self.n_heads} "
                f"or n_kv_heads={self.n_kv_heads}, got shape {x.shape}"
            )
        return self._merge_heads(x)

    def _merge_heads(self, x: np.ndarray) -> np.ndarray:
        x = np.swapaxes(x, -2, -3)  # (..., n, heads, d_head)
        *lead, n, heads, d_head = x.shape
        return x.reshape(*lead, n, heads * d_head)  # (..., n, d_model)

    def _inputs(self, query, key, value, mask, causal):
        """The door of a forward pass: inputs checked, mask and causal combined (..., n_q, n_k)."""
        query = self._check_input(query, "query")
        key = query if key is None else self._check_input(key, "key")
        value = key if value is None else self._check_input(value, "value")
        if key.shape[-2] != value.shape[-2]:
            raise ValueError(
                f"key and value must have the same length: key {key.shape}, value {value.shape}"
            )
        lead = broadcast_batch({"query": query.shape, "key": key.shape, "value": value.shape})
        allowed = _checked_mask(mask, causal, lead + (query.shape[-2], key.shape[-2]))
        return query, key, value, allowed

    def _attend(self, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Projected heads q (..., h, n_q, d_head), k and v (..., h_kv, n_k, d_head) -> output, weights."""
        k = np.repeat(k, self.group_size, axis=-3)  # (..., h, n_k, d_head): head j uses kv head j // g
        v = np.repeat(v, self.group_size, axis=-3)  # (..., h, n_k, d_head)
        heads, weights = _attention(q, k, v, allowed, 1.0 / math.sqrt(self.d_head))  # (..., h, n_q, d_head)
        return self._project(self._merge_heads(heads), self.w_o, self.b_o), weights  # (..., n_q, d_model)

    # ----------------------------------------------------------------- forward
    def __call__(self, query: ArrayLike, key: ArrayLike | None = None, value: ArrayLike | None = None,
                 *, mask: ArrayLike | None = None, causal: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Attend from ``query`` to ``key``/``value`` (default: self-attention on ``query``).

        Parameters
        ----------
        query : array_like, shape (..., n_q, d_model)
        key : array_like, shape (..., n_k, d_model), optional
            Default ``query``.
        value : array_like, shape (..., n_k, d_model), optional
            Default ``key``.
        mask : array_like of bool, optional
            Broadcastable to ``(..., n_q, n_k)``, ``True`` = may attend; applies to every head.
        causal : bool, default False

        Returns
        -------
        output : ndarray, shape (..., n_q, d_model)
        weights : ndarray, shape (..., n_heads, n_q, n_k)

        Raises
        ------
        TypeError, ValueError
            Non-numeric or empty input, or an infinity in it; a width other than
            ``d_model``; key and value of different lengths; batch dimensions or a mask
            that do not broadcast; ``causal`` not True or False.
        """
        query, key, value, allowed = self._inputs(query, key, value, mask, causal)
        if allowed is not None:
            allowed = allowed[..., None, :, :]  # (..., 1, n_q, n_k): the same for every head
        q = self._split_heads(self._project(query, self.w_q, self.b_q))  # (..., h, n_q, d_head)
        k = self._split_heads(self._project(key, self.w_k, self.b_k))  # (..., h_kv, n_k, d_head)
        v = self._split_heads(self._project(value, self.w_v, self.b_v))  # (..., h_kv, n_k, d_head)
        return self._attend(q, k, v, allowed)

    def heads_one_by_one(self, query: ArrayLike, key: ArrayLike | None = None,
                         value: ArrayLike | None = None, *, mask: ArrayLike | None = None,
                         causal: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The same computation as calling the layer, written as a Python loop over heads.

        Slower and plainer: each head slices its own columns of ``W_Q``, ``W_K``, ``W_V``,
        attends, and the head outputs are concatenated before ``W_O``. The book shows it
        first; the tests prove it equal to the vectorised form.

        Examples
        --------
        >>> mha = MultiHeadAttention(8, 2, n_kv_heads=1, seed=1)
        >>> x = np.random.default_rng(0).standard_normal((3, 8))
        >>> bool(np.allclose(mha.heads_one_by_one(x)[0], mha(x)[0]))
        True
        """
        query, key, value, allowed = self._inputs(query, key, value, mask, causal)
        outputs, all_weights = [], []
        for j in range(self.n_heads):
            cols = slice(j * self.d_head, (j + 1) * self.d_head)  # this query head's columns
            kv = j // self.group_size
            kv_cols = slice(kv * self.d_head, (kv + 1) * self.d_head)  # its key/value head's columns
            q_j = query @ self.w_q[:, cols] + (self.b_q[cols] if self.bias else 0.0)  # (..., n_q, d_head)
            k_j = key @ self.w_k[:, kv_cols] + (self.b_k[kv_cols] if self.bias else 0.0)  # (..., n_k, d_head)
            v_j = value @ self.w_v[:, kv_cols] + (self.b_v[kv_cols] if self.bias else 0.0)  # (..., n_k, d_head)
            out_j, w_j = _attention(q_j, k_j, v_j, allowed, 1.0 / math.sqrt(self.d_head))  # (..., n_q, d_head)
            outputs.append(out_j)
            all_weights.append(w_j)
        concat = np.concatenate(outputs, axis=-1)  # (..., n_q, d_model)
        return self._project(concat, self.w_o, self.b_o), np.stack(all_weights, axis=-3)

    # ------------------------------------------------------------ decoding
    def new_cache(self) -> KVCache:
        """An empty key/value cache for step-by-step causal decoding with this layer."""
        return KVCache(self.n_kv_heads, self.d_head)

    def decode_step(self, x: ArrayLike, cache: KVCache) -> tuple[np.ndarray, np.ndarray]:
        """Attend from new position(s) ``x`` to everything seen so far, appending to ``cache``.

        Each new position's key and value are computed once and stored; earlier ones are
        read from the cache instead of recomputed. Feeding a sequence one position at a
        time gives the same outputs as ``layer(x, causal=True)``.

        Parameters
        ----------
        x : array_like, shape (..., t, d_model)
            The next ``t`` positions (usually ``t = 1``).
        cache : KVCache
            Made by :meth:`new_cache`; updated in place.

        Returns
        -------
        output : ndarray, shape (..., t, d_model)
        weights : ndarray, shape (..., n_heads, t, cache.length)

        Raises
        ------
        TypeError, ValueError
            ``x`` as for a forward pass; ``cache`` not a :class:`KVCache`, or one made for
            other heads or other batch dimensions.

        Examples
        --------
        >>> mha = MultiHeadAttention(8, 2, seed=0)
        >>> x = np.random.default_rng(1).standard_normal((4, 8))
        >>> cache = mha.new_cache()
        >>> steps = np.concatenate([mha.decode_step(x[i:i + 1], cache)[0] for i in range(4)])
        >>> bool(np.allclose(steps, mha(x, causal=True)[0])), cache.length
        (True, 4)
        """
        x = self._check_input(x, "x")
        if not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache (from new_cache()), got {type(cache).__name__}")
        if (cache.n_kv_heads, cache.d_head) != (self.n_kv_heads, self.d_head):
            raise ValueError(
                f"cache holds n_kv_heads={cache.n_kv_heads}, d_head={cache.d_head}; this layer "
                f"needs n_kv_heads={self.n_kv_heads}, d_head={self.d_head}"
            )
        if cache.length and cache.keys.shape[:-3] != x.shape[:-2]:
            raise ValueError(
                f"x has batch dimensions {x.shape[:-2]} but the cache holds {cache.keys.shape[:-3]}"
            )
        cache._append(self._split_heads(self._project(x, self.w_k, self.b_k)),  # (..., h_kv, t, d_head)
                      self._split_heads(self._project(x, self.w_v, self.b_v)))
        q = self._split_heads(self._project(x, self.w_q, self.b_q))  # (..., h, t, d_head)
        allowed = _causal_mask(x.shape[-2], cache.length)  # (t, n): the last t rows of a causal mask
        return self._attend(q, cache.keys, cache.values, allowed)


class KVCache:
    """The keys and values of every position decoded so far, per key/value head.

    ``keys`` and ``values`` have shape ``(..., n_kv_heads, length, d_head)``.

    Parameters
    ----------
    n_kv_heads, d_head : int
        Whole numbers >= 1.

    Examples
    --------
    >>> cache = KVCache(2, 4)
    >>> cache.append(np.zeros((2, 3, 4)), np.ones((2, 3, 4)))
    >>> cache.length, cache.keys.shape
    (3, (2, 3, 4))
    """

    def __init__(self, n_kv_heads: int, d_head: int):
        self.n_kv_heads = positive_int(n_kv_heads, "n_kv_heads")
        self.d_head = positive_int(d_head, "d_head")
        self.keys: np.ndarray | None = None
        self.values: np.ndarray | None = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[-2]

    @property
    def nbytes(self) -> int:
        return 0 if self.keys is None else self.keys.nbytes + self.values.nbytes

    def append(self, keys: ArrayLike, values: ArrayLike) -> None:
        """Add new positions: arrays ``(..., n_kv_heads, t, d_head)``.

        Raises ``TypeError``/``ValueError`` for non-numeric, empty or infinite input, shapes
        other than ``(..., n_kv_heads, t, d_head)``, keys and values of different shapes, or
        batch dimensions other than those already cached.
        """
        keys = as_float_array(keys, "keys", min_ndim=3, nonempty=True, finite=True)
        values = as_float_array(values, "values", min_ndim=3, nonempty=True, finite=True)
        if keys.shape[-3:] != (self.n_kv_heads, keys.shape[-2], self.d_head) or keys.shape != values.shape:
            raise ValueError(
                f"cache entries must be (..., n_kv_heads={self.n_kv_heads}, t, d_head={self.d_head}); "
                f"got keys {keys.shape}, values {values.shape}"
            )
        if self.keys is not None and self.keys.shape[:-2] != keys.shape[:-2]:
            raise ValueError(f"keys {keys.shape} do not continue the cached keys {self.keys.shape}")
        self._append(keys, values)

    def _append(self, keys: np.ndarray, values: np.ndarray) -> None:
        if self.keys is None:
            self.keys, self.values = keys, values
        else:
            self.keys = np.concatenate([self.keys, keys], axis=-2)
            self.values = np.concatenate([self.values, values], axis=-2)


def kv_cache_bytes(seq_len: int, *, n_layers: int, n_kv_heads: int, d_head: int,
                   batch: int = 1, bytes_per_number: int = 2) -> int:
    """Memory of a key/value cache: ``2 * layers * kv_heads * d_head * seq_len * batch`` numbers.

    Parameters
    ----------
    seq_len : int
    n_layers, n_kv_heads, d_head : int
    batch : int, default 1
    bytes_per_number : int, default 2 (float16/bfloat16)

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> kv_cache_bytes(4096, n_layers=32, n_kv_heads=32, d_head=128) / 2**30   # GiB
    2.0
    >>> kv_cache_bytes(4096, n_layers=32, n_kv_heads=8, d_head=128) / 2**30    # GQA with 8 groups
    0.5
    """
    for name, value in [("seq_len", seq_len), ("n_layers", n_layers), ("n_kv_heads", n_kv_heads),
                        ("d_head", d_head), ("batch", batch), ("bytes_per_number", bytes_per_number)]:
        positive_int(value, name)
    return _kv_cache_bytes(seq_len, n_layers, n_kv_heads, d_head, batch, bytes_per_number)


def _kv_cache_bytes(seq_len: int, n_layers: int, n_kv_heads: int, d_head: int, batch: int,
                    bytes_per_number: int) -> int:
    """The cache's bytes, without checks: a key and a value row per layer, head, position, sequence."""
    return 2 * n_layers * n_kv_heads * d_head * seq_len * batch * bytes_per_number
