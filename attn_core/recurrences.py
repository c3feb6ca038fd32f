r"""Linear attention as a recurrence, with decay, gates and the delta rule.

Causal linear attention (:func:`attn_core.variants.linear_attention`, chapter 10) keeps a
state of fixed size, a ``d_k x d_v`` matrix written one outer product per token,

.. math:: F_t = F_{t-1} + k_t^\top v_t, \qquad o_t = q_t F_t

(row vectors, as everywhere in the book: :math:`k_t^\top v_t` is ``d_k x d_v``). The
functions here change only how the state is updated:

* :func:`decayed_linear_attention` shrinks the old state by a number
  :math:`\gamma_t \in (0, 1]` before writing, :math:`F_t = \gamma_t F_{t-1} + k_t^\top v_t`:
  a constant :math:`\gamma` is RetNet's retention (Sun et al., 2023); a :math:`\gamma_t`
  computed from the token is a data-dependent scalar gate, as in Mamba-2 (Dao & Gu, 2024)
  and in gated linear attention (Yang et al., 2024), whose gate is in general a vector, one
  decay per key coordinate: here the scalar case.
* :func:`delta_rule_attention` replaces instead of adding (DeltaNet: Schlag et al., 2021;
  Yang et al., 2024b): :math:`F_t = F_{t-1} + \beta_t k_t^\top (v_t - k_t F_{t-1})`.

Neither uses a feature map or the normaliser :math:`q_t \cdot z_t` of chapter 10: RetNet,
GLA and DeltaNet drop the denominator and normalise each head's *outputs* later (RetNet
with a group norm), which is not part of these functions. Pass queries and keys already
mapped, scaled (RetNet scales the keys by :math:`1/\sqrt{d_k}`) or normalised (DeltaNet
normalises keys to unit length) as the model does.

Each function computes the same numbers in more than one order, chosen by ``form``:
``"recurrent"`` runs the state one token at a time (``O(n d_k d_v)`` work, what a decoder
does); ``"parallel"`` (decay only) builds the ``n x n`` matrix of weights at once, like
softmax attention; ``"chunked"`` runs the recurrence over chunks of ``chunk_size`` tokens
and the parallel form inside each chunk (how these models are trained on GPUs).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from attn_core._checks import as_float_array, broadcast_batch, choice, positive_int
from attn_core.attention import _check_qkv

__all__ = [
    "decayed_linear_attention",
    "delta_rule_attention",
]

#: The orders in which :func:`decayed_linear_attention` can compute its outputs.
DECAY_FORMS = ("recurrent", "parallel", "chunked")
#: The orders in which :func:`delta_rule_attention` can compute its outputs.
DELTA_FORMS = ("recurrent", "chunked")


# ------------------------------------------------------------------------------ the door
def _recurrence_inputs(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, gate: ArrayLike, gate_name: str,
    low: float, low_open: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check ``q, k, v`` (one query per key) and a per-step gate; broadcast all four.

    The gate is a number or an array broadcasting to ``(..., n)``, with entries in
    ``(low, 1]`` (``[low, 1]`` when not ``low_open``); NaN passes (NaN in, NaN out).
    Everything comes back with the batch shape of the broadcast, in the dtype of q, k, v.
    """
    q, k, v = _check_qkv(q, k, v)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(f"a recurrence has one query per key (n_q == n_k): q {q.shape}, k {k.shape}")
    n = q.shape[-2]
    batch = broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    gate = as_float_array(gate, gate_name, finite=True)
    try:
        gate = np.broadcast_to(gate, batch + (n,))  # (..., n)
    except ValueError:
        raise ValueError(
            f"{gate_name} of shape {gate.shape} does not broadcast to (..., n) = {batch + (n,)}: "
            "give one number, or one per step (and per batch entry or head)"
        ) from None
    too_low = gate <= low if low_open else gate < low
    bad = too_low | (gate > 1)  # NaN compares False: it passes, and comes out as NaN
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        interval = ("(" if low_open else "[") + f"{low:g}, 1]"
        raise ValueError(f"{gate_name} must lie in {interval}; got {gate[index]} at index {index}")
    dtype = np.result_type(q.dtype, k.dtype, v.dtype)
    q = np.broadcast_to(q, batch + q.shape[-2:]).astype(dtype, copy=False)  # (..., n, d_k)
    k = np.broadcast_to(k, batch + k.shape[-2:]).astype(dtype, copy=False)  # (..., n, d_k)
    v = np.broadcast_to(v, batch + v.shape[-2:]).astype(dtype, copy=False)  # (..., n, d_v)
    return q, k, v, gate.astype(dtype, copy=False)


def _chunked(x: np.ndarray, chunk_size: int, fill: float = 0.0) -> np.ndarray:
    """``(..., n, d)`` padded at the end with ``fill`` to whole chunks, as ``(..., n_chunks, C, d)``."""
    n = x.shape[-2]
    n_chunks = -(-n // chunk_size)
    pad = [(0, 0)] * (x.ndim - 2) + [(0, n_chunks * chunk_size - n), (0, 0)]
    padded = np.pad(x, pad, constant_values=fill)  # (..., n_chunks * C, d)
    return padded.reshape(x.shape[:-2] + (n_chunks, chunk_size, x.shape[-1]))  # (..., n_chunks, C, d)


def _causal(size: int, strict: bool = False) -> np.ndarray:
    """``(size, size)`` boolean: True where column <= row (< row when ``strict``)."""
    return np.tril(np.ones((size, size), dtype=bool), -1 if strict else 0)


# --------------------------------------------------------------- decayed linear attention
def decayed_linear_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, decay: ArrayLike, *,
    form: str = "recurrent", chunk_size: int = 64,
) -> np.ndarray:
    r"""Causal linear attention whose state decays: RetNet, and scalar-gated linear attention.

    .. math:: F_t = \gamma_t F_{t-1} + k_t^\top v_t, \qquad F_0 = 0, \qquad o_t = q_t F_t

    so that :math:`o_t = \sum_{s \le t} \big(\prod_{s < r \le t} \gamma_r\big)\,
    (q_t \cdot k_s)\, v_s`: key ``s`` is weighted by its score times the decay accumulated
    since it was written. A constant :math:`\gamma` is the retention of RetNet (Sun et al.,
    2023; one :math:`\gamma` per head); a :math:`\gamma_t` computed from token ``t`` (a
    sigmoid, or :math:`\exp(-\Delta_t a)`) is the scalar gate of gated linear attention
    (Yang et al., 2024) and of Mamba-2 (Dao & Gu, 2024). With :math:`\gamma \equiv 1` this is
    chapter 10's causal linear attention without its feature map and normaliser. No
    normaliser is applied (those models normalise the outputs later, per head); the first
    step's :math:`\gamma_1` multiplies the empty state and has no effect.

    Parameters
    ----------
    q, k : array_like, shape (..., n, d_k)
        Queries and keys, one query per key; used as given (no feature map, no scaling).
    v : array_like, shape (..., n, d_v)
    decay : array_like, broadcasting to (..., n)
        :math:`\gamma_t`, in ``(0, 1]``: one number (RetNet), or one per step, and per batch
        entry or head in the leading dimensions (a gate). ``(h, 1)`` gives each of ``h``
        heads its own constant.
    form : {"recurrent", "parallel", "chunked"}, default "recurrent"
        The order of computation; all three give the same numbers (to rounding).
        ``"recurrent"`` updates the state token by token; ``"parallel"`` builds the decay
        matrix :math:`D_{ts} = \prod_{s < r \le t} \gamma_r` (0 above the diagonal) and
        returns :math:`((Q K^\top) \odot D)\, V`; ``"chunked"`` does the parallel form
        inside chunks of ``chunk_size`` tokens and passes the state between chunks.
    chunk_size : int, default 64
        A whole number >= 1, used by ``form="chunked"``.

    Returns
    -------
    ndarray, shape (..., n, d_v)
        The dtype of ``q, k, v`` (float32 stays float32, integers become float64).

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention` for ``q, k, v``; ``n_q != n_k``;
        ``decay`` not numbers, infinite, outside ``(0, 1]`` or not broadcasting to
        ``(..., n)``; an unknown ``form``; ``chunk_size`` not a whole number >= 1.

    Examples
    --------
    One key, written twice, halved in between: :math:`F_2 = 0.5 \cdot 1 + 1`.

    >>> ones = np.ones((2, 1))
    >>> decayed_linear_attention(ones, ones, ones, 0.5)
    array([[1. ],
           [1.5]])
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 2, 7, 4))          # (3, heads=2, n=7, 4)
    >>> gates = rng.uniform(0.5, 1.0, (2, 7))                # one gate per head and step
    >>> recurrent = decayed_linear_attention(q, k, v, gates)
    >>> chunked = decayed_linear_attention(q, k, v, gates, form="chunked", chunk_size=3)
    >>> bool(np.allclose(recurrent, chunked))
    True
    """
    form = choice(form, DECAY_FORMS, "form")
    chunk_size = positive_int(chunk_size, "chunk_size")
    q, k, v, decay = _recurrence_inputs(q, k, v, decay, "decay", 0.0, low_open=True)
    if form == "recurrent":
        return _decayed_recurrent(q, k, v, decay)
    if form == "parallel":
        return _decayed_parallel(q, k, v, decay)
    return _decayed_chunked(q, k, v, decay, chunk_size)


def _decayed_recurrent(q: np.ndarray, k: np.ndarray, v: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """The recurrence, one token at a time (all arrays share their batch shape)."""
    state = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]), dtype=q.dtype)  # (..., d_k, d_v)
    out = np.empty(v.shape, dtype=q.dtype)  # (..., n, d_v)
    for t in range(q.shape[-2]):
        write = k[..., t, :, None] * v[..., t, None, :]  # (..., d_k, d_v): k_t^T v_t
        state = decay[..., t, None, None] * state + write  # (..., d_k, d_v)
        out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)  # (..., d_v): q_t F_t
    return out


def _decay_matrix(log_decay: np.ndarray) -> np.ndarray:
    r"""``(..., m, m)``: :math:`\exp(L_t - L_s)` for ``s <= t``, 0 above the diagonal.

    ``log_decay`` ``(..., m)`` holds :math:`\log \gamma_t`; :math:`L` is its running sum, so
    the entry is the product of the decays after ``s`` up to ``t``. Every kept exponent is
    <= 0 (no overflow); the others are set to -inf before ``exp`` (no overflow either).
    """
    running = np.cumsum(log_decay, axis=-1)  # (..., m): L_t
    difference = running[..., :, None] - running[..., None, :]  # (..., m, m): L_t - L_s
    return np.exp(np.where(_causal(log_decay.shape[-1]), difference, -np.inf))  # (..., m, m)


def _decayed_parallel(q: np.ndarray, k: np.ndarray, v: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """``((Q K^T) * D) V`` with the ``n x n`` decay matrix D."""
    scores = q @ np.swapaxes(k, -1, -2)  # (..., n, n)
    weights = np.where(_causal(q.shape[-2]), scores * _decay_matrix(np.log(decay)), 0.0)  # (..., n, n)
    return weights @ v  # (..., n, d_v)


def _decayed_chunked(q: np.ndarray, k: np.ndarray, v: np.ndarray, decay: np.ndarray,
                     chunk_size: int) -> np.ndarray:
    r"""Parallel inside chunks of ``chunk_size``, the state carried from chunk to chunk.

    In a chunk entered with state ``S``, with :math:`b_t` the decay accumulated since the
    chunk began: :math:`o_t = b_t\, q_t S + \sum_{s \le t} (b_t / b_s)(q_t \cdot k_s) v_s`,
    and the chunk leaves :math:`b_C S + \sum_s (b_C / b_s)\, k_s^\top v_s`.
    """
    n = q.shape[-2]
    qc, kc, vc = (_chunked(x, chunk_size) for x in (q, k, v))  # (..., m, C, d_k), (..., m, C, d_k), (..., m, C, d_v)
    log_decay = _chunked(np.log(decay)[..., None], chunk_size)[..., 0]  # (..., m, C): padding has log 1 = 0
    within = _decayed_parallel_chunks(qc, kc, vc, log_decay)  # (..., m, C, d_v): the chunk's own keys
    running = np.cumsum(log_decay, axis=-1)  # (..., m, C): log b_t
    to_end = np.exp(running[..., -1:] - running)  # (..., m, C): b_C / b_s
    writes = np.swapaxes(kc * to_end[..., None], -1, -2) @ vc  # (..., m, d_k, d_v): what each chunk adds
    out = np.empty(within.shape, dtype=q.dtype)  # (..., m, C, d_v)
    state = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]), dtype=q.dtype)  # (..., d_k, d_v)
    for c in range(qc.shape[-3]):
        from_before = (qc[..., c, :, :] * np.exp(running[..., c, :, None])) @ state  # (..., C, d_v): b_t q_t S
        out[..., c, :, :] = within[..., c, :, :] + from_before
        state = np.exp(running[..., c, -1, None, None]) * state + writes[..., c, :, :]  # (..., d_k, d_v)
    return out.reshape(q.shape[:-2] + (-1, v.shape[-1]))[..., :n, :]  # (..., n, d_v)


def _decayed_parallel_chunks(qc: np.ndarray, kc: np.ndarray, vc: np.ndarray, log_decay: np.ndarray) -> np.ndarray:
    """The parallel form within every chunk at once."""
    scores = qc @ np.swapaxes(kc, -1, -2)  # (..., m, C, C)
    weights = np.where(_causal(qc.shape[-2]), scores * _decay_matrix(log_decay), 0.0)  # (..., m, C, C)
    return weights @ vc  # (..., m, C, d_v)


# --------------------------------------------------------------------------- the delta rule
def delta_rule_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, beta: ArrayLike, *,
    form: str = "recurrent", chunk_size: int = 64,
) -> np.ndarray:
    r"""Causal linear attention with the delta rule (DeltaNet): the state replaces, not adds.

    .. math:: F_t = F_{t-1} + \beta_t\, k_t^\top \big(v_t - k_t F_{t-1}\big),
              \qquad F_0 = 0, \qquad o_t = q_t F_t

    :math:`k_t F_{t-1}` is what the state currently returns for the key :math:`k_t`; the
    update moves it a fraction :math:`\beta_t` of the way to :math:`v_t`. With a unit-length
    key and :math:`\beta_t = 1` the old value stored under :math:`k_t` is replaced exactly,
    where plain linear attention (:func:`decayed_linear_attention` with decay 1) would add
    the new value to it. This is the delta rule (Widrow & Hoff's LMS rule) applied to a
    fast-weight memory, proposed for linear transformers by Schlag et al. (2021);
    ``"chunked"`` is the WY form of Yang et al. (2024b), which made it trainable in
    parallel over the sequence. The update is
    :math:`F_t = (I - \beta_t k_t^\top k_t) F_{t-1} + \beta_t k_t^\top v_t`: the old content
    along :math:`k_t` is scaled by :math:`1 - \beta_t \|k_t\|^2` and the rest kept, so no
    direction of the state is amplified when :math:`0 \le \beta_t \|k_t\|^2 \le 2`. DeltaNet
    normalises its keys to unit length (not done here) and takes :math:`\beta_t` from a
    sigmoid, in ``(0, 1)``.

    Parameters
    ----------
    q, k : array_like, shape (..., n, d_k)
        Queries and keys, one query per key; used as given (no feature map, no normalising).
    v : array_like, shape (..., n, d_v)
    beta : array_like, broadcasting to (..., n)
        The writing strength :math:`\beta_t`, in ``[0, 1]``: one number, or one per step
        (and per batch entry or head).
    form : {"recurrent", "chunked"}, default "recurrent"
        ``"recurrent"`` updates the state token by token. ``"chunked"`` writes each chunk of
        ``chunk_size`` tokens as :math:`F \mapsto F + K^\top (U - W F)`, where
        :math:`W = T K`, :math:`U = T V` and
        :math:`T = (I + \operatorname{tril}_{-1}(\operatorname{diag}(\beta) K K^\top))^{-1}
        \operatorname{diag}(\beta)` (the WY representation of the product of the
        chunk's :math:`I - \beta_t k_t^\top k_t`), and reads the outputs as
        :math:`O = Q F + \operatorname{tril}(Q K^\top)(U - W F)`.
    chunk_size : int, default 64
        A whole number >= 1, used by ``form="chunked"``.

    Returns
    -------
    ndarray, shape (..., n, d_v)
        The dtype of ``q, k, v``.

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention` for ``q, k, v``; ``n_q != n_k``;
        ``beta`` not numbers, infinite, outside ``[0, 1]`` or not broadcasting to
        ``(..., n)``; an unknown ``form``; ``chunk_size`` not a whole number >= 1.

    Examples
    --------
    Store 1 then 5 under the same unit key: the delta rule returns 5, plain addition 6.

    >>> key = np.ones((2, 1)); values = np.array([[1.0], [5.0]])
    >>> delta_rule_attention(key, key, values, 1.0)[-1]
    array([5.])
    >>> decayed_linear_attention(key, key, values, 1.0)[-1]
    array([6.])
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 9, 4))
    >>> k /= np.linalg.norm(k, axis=-1, keepdims=True)        # unit keys, as in DeltaNet
    >>> beta = rng.uniform(0, 1, 9)
    >>> chunked = delta_rule_attention(q, k, v, beta, form="chunked", chunk_size=4)
    >>> bool(np.allclose(delta_rule_attention(q, k, v, beta), chunked))
    True
    """
    form = choice(form, DELTA_FORMS, "form")
    chunk_size = positive_int(chunk_size, "chunk_size")
    q, k, v, beta = _recurrence_inputs(q, k, v, beta, "beta", 0.0, low_open=False)
    if form == "recurrent":
        return _delta_recurrent(q, k, v, beta)
    return _delta_chunked(q, k, v, beta, chunk_size)


def _delta_recurrent(q: np.ndarray, k: np.ndarray, v: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The delta rule, one token at a time (all arrays share their batch shape)."""
    state = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]), dtype=q.dtype)  # (..., d_k, d_v)
    out = np.empty(v.shape, dtype=q.dtype)  # (..., n, d_v)
    for t in range(q.shape[-2]):
        recalled = np.einsum("...k,...kd->...d", k[..., t, :], state)  # (..., d_v): k_t F_{t-1}
        correction = beta[..., t, None] * (v[..., t, :] - recalled)  # (..., d_v)
        state = state + k[..., t, :, None] * correction[..., None, :]  # (..., d_k, d_v)
        out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)  # (..., d_v): q_t F_t
    return out


def _delta_chunked(q: np.ndarray, k: np.ndarray, v: np.ndarray, beta: np.ndarray, chunk_size: int) -> np.ndarray:
    """The WY form: every chunk's W and U at once, then the state from chunk to chunk."""
    n = q.shape[-2]
    qc, kc, vc = (_chunked(x, chunk_size) for x in (q, k, v))  # (..., m, C, d_k), (..., m, C, d_k), (..., m, C, d_v)
    betas = _chunked(beta[..., None], chunk_size)[..., 0]  # (..., m, C): padding writes nothing (beta 0)
    w, u = _wy_representation(kc, vc, betas)  # (..., m, C, d_k), (..., m, C, d_v)
    scores = np.where(_causal(chunk_size), qc @ np.swapaxes(kc, -1, -2), 0.0)  # (..., m, C, C): q_t . k_s, s <= t
    out = np.empty(vc.shape, dtype=q.dtype)  # (..., m, C, d_v)
    state = np.zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]), dtype=q.dtype)  # (..., d_k, d_v)
    for c in range(qc.shape[-3]):
        pseudo_values = u[..., c, :, :] - w[..., c, :, :] @ state  # (..., C, d_v): U - W F
        out[..., c, :, :] = qc[..., c, :, :] @ state + scores[..., c, :, :] @ pseudo_values  # (..., C, d_v)
        state = state + np.swapaxes(kc[..., c, :, :], -1, -2) @ pseudo_values  # (..., d_k, d_v)
    return out.reshape(q.shape[:-2] + (-1, v.shape[-1]))[..., :n, :]  # (..., n, d_v)


def _wy_representation(kc: np.ndarray, vc: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Solve :math:`(I + \operatorname{tril}_{-1}(\operatorname{diag}(\beta) K K^\top))\,[W\ U] = \operatorname{diag}(\beta)\,[K\ V]`.

    Forward substitution over the ``C`` rows of a chunk, all chunks at once:
    :math:`w_t = \beta_t (k_t - \sum_{s < t} (k_t \cdot k_s)\, w_s)`, and likewise
    :math:`u_t` with :math:`v_t`. Then the product of the chunk's
    :math:`I - \beta_t k_t^\top k_t` is :math:`I - K^\top W` and the sum of its writes is
    :math:`K^\top U`.
    """
    gram = np.where(_causal(kc.shape[-2], strict=True), kc @ np.swapaxes(kc, -1, -2), 0.0)  # (..., m, C, C)
    w = np.zeros(kc.shape, dtype=kc.dtype)  # (..., m, C, d_k)
    u = np.zeros(vc.shape, dtype=vc.dtype)  # (..., m, C, d_v)
    for t in range(kc.shape[-2]):
        earlier = gram[..., t, None, :t]  # (..., m, 1, t): k_t . k_s for s < t
        w[..., t, :] = betas[..., t, None] * (kc[..., t, :] - (earlier @ w[..., :t, :])[..., 0, :])  # (..., m, d_k)
        u[..., t, :] = betas[..., t, None] * (vc[..., t, :] - (earlier @ u[..., :t, :])[..., 0, :])  # (..., m, d_v)
    return w, u
