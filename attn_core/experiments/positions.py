"""Chapter 9 (positions): self-attention weights under each positional encoding.

:func:`encoded_weights` computes the weights of one sentence with the encodings the chapter
compares (none, sinusoidal, learned, relative keys, RoPE, ALiBi), each by calling
:mod:`attn_core.positions`; the chapter and its explorer shift every position by the same
offset and compare the maps.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core import positions as pos
from attn_core._checks import as_float_array, as_int_array, choice, index_in, nonnegative_int, positive_int
from attn_core.scores import scaled_dot_product_scores
from attn_core.softmax import softmax

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
