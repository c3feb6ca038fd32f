"""Attention in tiles with an online softmax: exact, without the n_q x n_k matrix.

The softmax of a row can be computed in one pass over blocks of keys if we keep three
running quantities per query: the largest score seen so far ``m``, the sum of exponentials
relative to it ``l``, and the weighted sum of values ``acc`` (Milakov & Gimelshein, 2018).
When a block raises the maximum from ``m`` to ``m'``, everything accumulated so far is
rescaled by ``exp(m - m')``. FlashAttention (Dao et al., 2022) organises the same
computation around GPU memory; Rabe & Staats (2021) around memory on any device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, broadcast_batch, flag, positive_int
from attn_core.attention import _check_qkv, _checked_scale

__all__ = ["tiled_attention", "online_softmax_steps", "OnlineSoftmaxStep"]


def tiled_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    causal: bool = False,
    scale: float | None = None,
    block_size: int = 256,
) -> np.ndarray:
    """Exact attention computed block by block; never materialises the n_q x n_k matrix.

    Equal (up to rounding) to ``scaled_dot_product_attention(q, k, v, causal=causal,
    scale=scale)[0]``. Working memory is one ``block_size x block_size`` tile of scores per
    batch/head element plus the running statistics, whatever the sequence length. With
    ``causal=True`` the tiles wholly above the diagonal are skipped, about half the work.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)
    v : array_like, shape (..., n_k, d_v)
    causal : bool, default False
        No query attends a key after it; the queries are the last ``n_q`` positions
        (bottom-right, as in :func:`attn_core.causal_mask`): query i sees keys
        ``j <= n_k - n_q + i``.
    scale : float, optional
        Default ``1 / sqrt(d_k)``.
    block_size : int, default 256
        Rows of queries and of keys per tile; need not divide the lengths.

    Returns
    -------
    ndarray, shape (..., n_q, d_v)
        float32 inputs give float32 output. A query that sees no key (causal, ``n_q > n_k``)
        gets zeros.

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention`; ``block_size`` not a whole number
        >= 1.

    Examples
    --------
    >>> import attn_core as ac
    >>> x = np.random.default_rng(0).standard_normal((10, 4))
    >>> out = tiled_attention(x, x, x, block_size=3, causal=True)
    >>> bool(np.allclose(out, ac.scaled_dot_product_attention(x, x, x, causal=True)[0]))
    True
    """
    q, k, v = _check_qkv(q, k, v)
    block = positive_int(block_size, "block_size")
    return _tiled_attention(q, k, v, flag(causal, "causal"), _checked_scale(scale, q), block)


def _tiled_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool, scale: float,
                     block: int) -> np.ndarray:
    """Tiled attention with the online softmax, without checks."""
    lead = broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    dtype = np.result_type(q, k, v)
    n_q, n_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    offset = n_k - n_q  # causal: query i stands at position i + offset (bottom-right)
    out = np.zeros(lead + (n_q, d_v), dtype=dtype)  # a query that sees no key keeps its zeros
    k_t = np.swapaxes(k, -1, -2)  # (..., d_k, n_k): a view, no copy

    for qs in range(0, n_q, block):
        qe = min(qs + block, n_q)
        q_blk = q[..., qs:qe, :] * np.asarray(scale, dtype=dtype)  # (..., b_q, d_k)
        m = np.full(lead + (qe - qs, 1), -np.inf, dtype=dtype)  # running max
        l = np.zeros(lead + (qe - qs, 1), dtype=dtype)  # running sum of exp
        acc = np.zeros(lead + (qe - qs, d_v), dtype=dtype)  # running weighted values
        k_end = min(n_k, qe + offset) if causal else n_k  # causal: no key after the block's last query
        for ks in range(0, k_end, block):
            ke = min(ks + block, k_end)
            s = q_blk @ k_t[..., :, ks:ke]  # (..., b_q, b_k): the only score tile in memory
            if causal and ke - 1 > qs + offset:  # the tile crosses the diagonal: hide the future
                future = np.arange(ks, ke)[None, :] > np.arange(qs + offset, qe + offset)[:, None]  # (b_q, b_k)
                s[..., future] = -np.inf  # in place
            m_new = np.maximum(m, s.max(axis=-1, keepdims=True))  # (..., b_q, 1)
            shift_by = np.where(m_new == -np.inf, 0.0, m_new)  # a row with no key yet: no -inf - -inf
            s -= shift_by
            np.exp(s, out=s)  # p = exp(s - m_new), in place (0 for a hidden key)
            rescale = np.exp(m - shift_by)  # (..., b_q, 1): old sums were relative to m
            l *= rescale
            l += s.sum(axis=-1, keepdims=True)
            acc *= rescale  # in place: no second copy of the accumulator
            acc += s @ v[..., ks:ke, :]  # (..., b_q, d_v)
            m = m_new
        np.divide(acc, l, out=out[..., qs:qe, :], where=l != 0)  # (..., b_q, d_v)
    return out


@dataclass(frozen=True)
class OnlineSoftmaxStep:
    """What the online softmax knows after reading one more block of scores (one query)."""

    block: int  # index of the block just read
    keys: tuple[int, int]  # the key positions [start, end) of that block
    running_max: float  # m: the largest score so far
    normaliser: float  # l: sum of exp(score - m) so far
    output: np.ndarray  # acc / l: the attention output if the row ended here, (d_v,)
    rescale: float  # exp(m_old - m_new): how much the earlier sums were shrunk


def online_softmax_steps(scores: ArrayLike, values: ArrayLike, *, block_size: int) -> Iterator[OnlineSoftmaxStep]:
    """Replay the online softmax for one query, block by block (for teaching and explorers).

    Parameters
    ----------
    scores : array_like, shape (n_k,)
        One query's (already scaled) scores.
    values : array_like, shape (n_k, d_v)
    block_size : int

    Yields
    ------
    OnlineSoftmaxStep
        One per block. The last step's ``output`` equals ``softmax(scores) @ values``.

    Examples
    --------
    >>> import attn_core as ac
    >>> s, v = np.array([1.0, 3.0, 2.0, 5.0]), np.eye(4)
    >>> steps = list(online_softmax_steps(s, v, block_size=2))
    >>> [step.running_max for step in steps]
    [3.0, 5.0]
    >>> bool(np.allclose(steps[-1].output, ac.softmax(s) @ v))
    True
    """
    s = as_float_array(scores, "scores", min_ndim=1, nonempty=True, finite=True)
    v = as_float_array(values, "values", min_ndim=2, nonempty=True, finite=True)
    if s.ndim != 1 or v.ndim != 2 or v.shape[0] != s.shape[0]:
        raise ValueError(f"scores must be (n_k,) and values (n_k, d_v): got {s.shape} and {v.shape}")
    return _online_softmax_steps(s, v, positive_int(block_size, "block_size"))


def _online_softmax_steps(s: np.ndarray, v: np.ndarray, block: int) -> Iterator[OnlineSoftmaxStep]:
    """The replay, without checks (a generator: the checks above run at the call, not at the first step)."""
    m, l, acc = -np.inf, 0.0, np.zeros(v.shape[1])
    for b, start in enumerate(range(0, s.size, block)):
        end = min(start + block, s.size)
        m_new = max(m, float(s[start:end].max()))
        p = np.exp(s[start:end] - m_new)
        rescale = float(np.exp(m - m_new))
        l = l * rescale + float(p.sum())
        acc = acc * rescale + p @ v[start:end]
        m = m_new
        yield OnlineSoftmaxStep(b, (start, end), m, l, acc / l, rescale)
