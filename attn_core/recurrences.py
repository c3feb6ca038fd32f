r"""Linear attention as a recurrence, with decay, gates and the delta rule.

Causal linear attention (:func:`attn_core.variants.linear_attention`, chapter 10) keeps a
state of fixed size, a ``d_k x d_v`` matrix written one outer product per token,

.. math:: F_t = F_{t-1} + k_t^\top v_t, \qquad o_t = q_t F_t

(row vectors, as everywhere in the book: :math:`k_t^\top v_t` is ``d_k x d_v``). The
functions here change only how the state is updated:

* :func:`decayed_linear_attention` shrinks the old state by a number
  :math:`\lambda_t \in (0, 1]` before writing, :math:`F_t = \lambda_t F_{t-1} + k_t^\top v_t`:
  a constant :math:`\lambda` is RetNet's retention (Sun et al., 2023, who write :math:`\gamma`); a :math:`\lambda_t`
  computed from the token is a data-dependent scalar gate, as in Mamba-2 (Dao & Gu, 2024)
  and in gated linear attention (Yang et al., 2024), whose gate is in general a vector, one
  decay per key coordinate: that is :func:`gated_linear_attention`,
  :math:`F_t = \operatorname{diag}(\lambda_t) F_{t-1} + k_t^\top v_t`.
* :func:`delta_rule_attention` replaces instead of adding (DeltaNet: Schlag et al., 2021;
  Yang et al., 2024b): :math:`F_t = F_{t-1} + \eta_t k_t^\top (v_t - k_t F_{t-1})`, with a
  writing strength :math:`\eta_t` (the papers' :math:`\beta_t`).

None uses a feature map or the normaliser :math:`q_t \cdot z_t` of chapter 10: RetNet,
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

from attn_core._checks import as_float_array, broadcast_batch, choice, flag, positive_int
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


def _initial_state(initial_state: ArrayLike | None, q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Check ``initial_state`` against ``(..., d_k, d_v)``; zeros when None; broadcast to the batch of q."""
    shape = q.shape[:-2] + (q.shape[-1], v.shape[-1])
    if initial_state is None:
        return np.zeros(shape, dtype=q.dtype)
    state = as_float_array(initial_state, "initial_state", min_ndim=2, nonempty=True, finite=True)
    try:
        np.broadcast_shapes(state.shape, shape)
        broadcast = np.broadcast_to(state, shape)
    except ValueError:
        raise ValueError(
            f"initial_state of shape {state.shape} does not broadcast to (..., d_k, d_v) = {shape}"
        ) from None
    return broadcast.astype(np.result_type(q.dtype, state.dtype), copy=True)


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
    initial_state: ArrayLike | None = None, return_state: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Causal linear attention whose state decays: RetNet, and scalar-gated linear attention.

    .. math:: F_t = \lambda_t F_{t-1} + k_t^\top v_t, \qquad F_0 = 0, \qquad o_t = q_t F_t

    so that :math:`o_t = \sum_{s \le t} \big(\prod_{s < r \le t} \lambda_r\big)\,
    (q_t \cdot k_s)\, v_s`: key ``s`` is weighted by its score times the decay accumulated
    since it was written. A constant :math:`\lambda` is the retention of RetNet (Sun et al.,
    2023, who write :math:`\gamma`, one per head, and also rotate queries and keys by
    position, not done here); a :math:`\lambda_t` computed from token ``t``, such as
    Mamba-2's :math:`\exp(-\Delta_t a)` (Dao & Gu, 2024), is a data-dependent scalar gate.
    Gated linear attention (Yang et al., 2024) gates each key coordinate separately, a
    vector :math:`\lambda_t`: :func:`gated_linear_attention`. With :math:`\lambda \equiv 1` this is
    chapter 10's causal linear attention without its feature map and normaliser. No
    normaliser is applied (those models normalise the outputs later, per head); the first
    step's :math:`\lambda_1` multiplies the initial state, which is 0 unless one is given.

    Parameters
    ----------
    q, k : array_like, shape (..., n, d_k)
        Queries and keys, one query per key; used as given (no feature map, no scaling).
    v : array_like, shape (..., n, d_v)
    decay : array_like, broadcasting to (..., n)
        :math:`\lambda_t`, in ``(0, 1]``: one number (RetNet), or one per step, and per batch
        entry or head in the leading dimensions (a gate). ``(h, 1)`` gives each of ``h``
        heads its own constant.
    form : {"recurrent", "parallel", "chunked"}, default "recurrent"
        The order of computation; all three give the same numbers (to rounding).
        ``"recurrent"`` updates the state token by token; ``"parallel"`` builds the decay
        matrix :math:`D_{ts} = \prod_{s < r \le t} \lambda_r` (0 above the diagonal) and
        returns :math:`((Q K^\top) \odot D)\, V`; ``"chunked"`` does the parallel form
        inside chunks of ``chunk_size`` tokens and passes the state between chunks.
    chunk_size : int, default 64
        A whole number >= 1, used by ``form="chunked"``.
    initial_state : array_like, shape broadcasting to (..., d_k, d_v), optional
        :math:`F_0`, the state left by an earlier stretch of the sequence (default 0);
        :math:`\lambda_1` then multiplies it. Running a sequence in two halves, the second
        started from the first's final state, gives the outputs of one run.
    return_state : bool, default False
        Also return the final state :math:`F_n`.

    Returns
    -------
    output : ndarray, shape (..., n, d_v)
        The dtype of ``q, k, v`` (float32 stays float32, integers become float64).
    state : ndarray, shape (..., d_k, d_v)
        :math:`F_n`, only when ``return_state``.

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
    return_state = flag(return_state, "return_state")
    q, k, v, decay = _recurrence_inputs(q, k, v, decay, "decay", 0.0, low_open=True)
    state = _initial_state(initial_state, q, v)
    q, k, v, decay = (x.astype(state.dtype, copy=False) for x in (q, k, v, decay))
    if form == "recurrent":
        out, state = _decayed_recurrent(q, k, v, decay, state)
    elif form == "parallel":
        out, state = _decayed_parallel(q, k, v, decay, state)
    else:
        out, state = _decayed_chunked(q, k, v, decay, chunk_size, state)
    return (out, state) if return_state else out


def _decayed_recurrent(q: np.ndarray, k: np.ndarray, v: np.ndarray, decay: np.ndarray,
                       state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The recurrence, one token at a time, from ``state`` (all arrays share their batch shape)."""
    out = np.empty(v.shape, dtype=q.dtype)  # (..., n, d_v)
    for t in range(q.shape[-2]):
        write = k[..., t, :, None] * v[..., t, None, :]  # (..., d_k, d_v): k_t^T v_t
        state = decay[..., t, None, None] * state + write  # (..., d_k, d_v)
        out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)  # (..., d_v): q_t F_t
    return out, state


def _decay_matrix(log_decay: np.ndarray) -> np.ndarray:
    r"""``(..., m, m)``: :math:`\exp(L_t - L_s)` for ``s <= t``, 0 above the diagonal.

    ``log_decay`` ``(..., m)`` holds :math:`\log \lambda_t`; :math:`L` is its running sum, so
    the entry is the product of the decays after ``s`` up to ``t``. Every kept exponent is
    <= 0 (no overflow); the others are set to -inf before ``exp`` (no overflow either).
    """
    running = np.cumsum(log_decay, axis=-1)  # (..., m): L_t
    difference = running[..., :, None] - running[..., None, :]  # (..., m, m): L_t - L_s
    return np.exp(np.where(_causal(log_decay.shape[-1]), difference, -np.inf))  # (..., m, m)


def _decayed_parallel(q: np.ndarray, k: np.ndarray, v: np.ndarray, decay: np.ndarray,
                      state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``((Q K^T) * D) V`` with the ``n x n`` decay matrix D, plus :math:`b_t\, q_t F_0`.

    :math:`b_t = \prod_{r \le t} \lambda_r` is what is left of the initial state at step t.
    The final state is :math:`b_n F_0 + \sum_s (b_n / b_s)\, k_s^\top v_s`.
    """
    log_decay = np.log(decay)  # (..., n)
    running = np.cumsum(log_decay, axis=-1)  # (..., n): log b_t
    scores = q @ np.swapaxes(k, -1, -2)  # (..., n, n)
    weights = np.where(_causal(q.shape[-2]), scores * _decay_matrix(log_decay), 0.0)  # (..., n, n)
    out = weights @ v + (q * np.exp(running)[..., None]) @ state  # (..., n, d_v)
    to_end = np.exp(running[..., -1:] - running)  # (..., n): b_n / b_s
    final = np.exp(running[..., -1, None, None]) * state + np.swapaxes(k * to_end[..., None], -1, -2) @ v  # (..., d_k, d_v)
    return out, final


def _decayed_chunked(q: np.ndarray, k: np.ndarray, v: np.ndarray, decay: np.ndarray,
                     chunk_size: int, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    for c in range(qc.shape[-3]):
        from_before = (qc[..., c, :, :] * np.exp(running[..., c, :, None])) @ state  # (..., C, d_v): b_t q_t S
        out[..., c, :, :] = within[..., c, :, :] + from_before
        state = np.exp(running[..., c, -1, None, None]) * state + writes[..., c, :, :]  # (..., d_k, d_v)
    return out.reshape(q.shape[:-2] + (-1, v.shape[-1]))[..., :n, :], state  # (..., n, d_v), (..., d_k, d_v)


def _decayed_parallel_chunks(qc: np.ndarray, kc: np.ndarray, vc: np.ndarray, log_decay: np.ndarray) -> np.ndarray:
    """The parallel form within every chunk at once."""
    scores = qc @ np.swapaxes(kc, -1, -2)  # (..., m, C, C)
    weights = np.where(_causal(qc.shape[-2]), scores * _decay_matrix(log_decay), 0.0)  # (..., m, C, C)
    return weights @ vc  # (..., m, C, d_v)


# --------------------------------------------------------------------------- the delta rule
def delta_rule_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, strength: ArrayLike, *,
    form: str = "recurrent", chunk_size: int = 64,
    initial_state: ArrayLike | None = None, return_state: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Causal linear attention with the delta rule (DeltaNet): the state replaces, not adds.

    .. math:: F_t = F_{t-1} + \eta_t\, k_t^\top \big(v_t - k_t F_{t-1}\big),
              \qquad F_0 = 0, \qquad o_t = q_t F_t

    :math:`k_t F_{t-1}` is what the state currently returns for the key :math:`k_t`; the
    update moves it a fraction :math:`\eta_t` of the way to :math:`v_t`. With a unit-length
    key and :math:`\eta_t = 1` the old value stored under :math:`k_t` is replaced exactly,
    where plain linear attention (:func:`decayed_linear_attention` with decay 1) would add
    the new value to it. This is the delta rule (Widrow & Hoff's LMS rule) applied to a
    fast-weight memory, proposed for linear transformers by Schlag et al. (2021);
    ``"chunked"`` is the WY form of Yang et al. (2024b), which made it trainable in
    parallel over the sequence. The update is
    :math:`F_t = (I - \eta_t k_t^\top k_t) F_{t-1} + \eta_t k_t^\top v_t`: the old content
    along :math:`k_t` is scaled by :math:`1 - \eta_t \|k_t\|^2` and the rest kept, so no
    direction of the state is amplified when :math:`0 \le \eta_t \|k_t\|^2 \le 2`. DeltaNet
    as parallelised by Yang et al. (2024b) normalises its keys to unit length (Schlag et al.
    used a DPFP feature map with sum normalisation; neither is done here) and takes
    :math:`\eta_t` from a
    sigmoid, in ``(0, 1)``.

    Parameters
    ----------
    q, k : array_like, shape (..., n, d_k)
        Queries and keys, one query per key; used as given (no feature map, no normalising).
    v : array_like, shape (..., n, d_v)
    strength : array_like, broadcasting to (..., n)
        The writing strength :math:`\eta_t` (DeltaNet's :math:`\beta_t`), in ``[0, 1]``: one
        number, or one per step (and per batch entry or head).
    form : {"recurrent", "chunked"}, default "recurrent"
        ``"recurrent"`` updates the state token by token. ``"chunked"`` writes each chunk of
        ``chunk_size`` tokens as :math:`F \mapsto F + K^\top (U - Y F)`, where
        :math:`Y = T K`, :math:`U = T V` and
        :math:`T = (I + \operatorname{tril}_{-1}(\operatorname{diag}(\eta) K K^\top))^{-1}
        \operatorname{diag}(\eta)` (the WY representation of the product of the
        chunk's :math:`I - \eta_t k_t^\top k_t`), and reads the outputs as
        :math:`O = Q F + \operatorname{tril}(Q K^\top)(U - Y F)` (the book writes :math:`Y`
        for the WY representation's :math:`W`, kept for projection matrices). With
        ``chunk_size >= n`` there is one chunk and :math:`F_0 = 0`, so this is the parallel
        form :math:`O = \operatorname{tril}(Q K^\top)\, U`.
    chunk_size : int, default 64
        A whole number >= 1, used by ``form="chunked"``.
    initial_state : array_like, shape broadcasting to (..., d_k, d_v), optional
        :math:`F_0` (default 0), e.g. the final state of an earlier stretch of the sequence.
    return_state : bool, default False
        Also return the final state :math:`F_n`.

    Returns
    -------
    output : ndarray, shape (..., n, d_v)
        The dtype of ``q, k, v``.
    state : ndarray, shape (..., d_k, d_v)
        :math:`F_n`, only when ``return_state``.

    Raises
    ------
    TypeError, ValueError
        As :func:`attn_core.scaled_dot_product_attention` for ``q, k, v``; ``n_q != n_k``;
        ``strength`` not numbers, infinite, outside ``[0, 1]`` or not broadcasting to
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
    >>> strength = rng.uniform(0, 1, 9)
    >>> chunked = delta_rule_attention(q, k, v, strength, form="chunked", chunk_size=4)
    >>> bool(np.allclose(delta_rule_attention(q, k, v, strength), chunked))
    True
    """
    form = choice(form, DELTA_FORMS, "form")
    chunk_size = positive_int(chunk_size, "chunk_size")
    return_state = flag(return_state, "return_state")
    q, k, v, strength = _recurrence_inputs(q, k, v, strength, "strength", 0.0, low_open=False)
    state = _initial_state(initial_state, q, v)
    q, k, v, strength = (x.astype(state.dtype, copy=False) for x in (q, k, v, strength))
    if form == "recurrent":
        out, state = _delta_recurrent(q, k, v, strength, state)
    else:
        out, state = _delta_chunked(q, k, v, strength, chunk_size, state)
    return (out, state) if return_state else out


def _delta_recurrent(q: np.ndarray, k: np.ndarray, v: np.ndarray, strength: np.ndarray,
                     state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The delta rule, one token at a time, from ``state`` (all arrays share their batch shape)."""
    out = np.empty(v.shape, dtype=q.dtype)  # (..., n, d_v)
    for t in range(q.shape[-2]):
        recalled = np.einsum("...k,...kd->...d", k[..., t, :], state)  # (..., d_v): k_t F_{t-1}
        correction = strength[..., t, None] * (v[..., t, :] - recalled)  # (..., d_v)
        state = state + k[..., t, :, None] * correction[..., None, :]  # (..., d_k, d_v)
        out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)  # (..., d_v): q_t F_t
    return out, state


def _delta_chunked(q: np.ndarray, k: np.ndarray, v: np.ndarray, strength: np.ndarray, chunk_size: int,
                   state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The WY form: every chunk's Y and U at once, then the state from chunk to chunk."""
    n = q.shape[-2]
    qc, kc, vc = (_chunked(x, chunk_size) for x in (q, k, v))  # (..., m, C, d_k), (..., m, C, d_k), (..., m, C, d_v)
    strengths = _chunked(strength[..., None], chunk_size)[..., 0]  # (..., m, C): padding writes nothing (strength 0)
    y, u = _wy_representation(kc, vc, strengths)  # (..., m, C, d_k), (..., m, C, d_v)
    scores = np.where(_causal(chunk_size), qc @ np.swapaxes(kc, -1, -2), 0.0)  # (..., m, C, C): q_t . k_s, s <= t
    out = np.empty(vc.shape, dtype=q.dtype)  # (..., m, C, d_v)
    for c in range(qc.shape[-3]):
        pseudo_values = u[..., c, :, :] - y[..., c, :, :] @ state  # (..., C, d_v): U - Y F
        out[..., c, :, :] = qc[..., c, :, :] @ state + scores[..., c, :, :] @ pseudo_values  # (..., C, d_v)
        state = state + np.swapaxes(kc[..., c, :, :], -1, -2) @ pseudo_values  # (..., d_k, d_v)
    return out.reshape(q.shape[:-2] + (-1, v.shape[-1]))[..., :n, :], state  # (..., n, d_v), (..., d_k, d_v)


def _wy_representation(kc: np.ndarray, vc: np.ndarray, strengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Solve :math:`(I + \operatorname{tril}_{-1}(\operatorname{diag}(\eta) K K^\top))\,[W\ U] = \operatorname{diag}(\eta)\,[K\ V]`.

    Forward substitution over the ``C`` rows of a chunk, all chunks at once:
    :math:`w_t = \eta_t (k_t - \sum_{s < t} (k_t \cdot k_s)\, w_s)`, and likewise
    :math:`u_t` with :math:`v_t`. Then the product of the chunk's
    :math:`I - \eta_t k_t^\top k_t` is :math:`I - K^\top W` and the sum of its writes is
    :math:`K^\top U`.
    """
    gram = np.where(_causal(kc.shape[-2], strict=True), kc @ np.swapaxes(kc, -1, -2), 0.0)  # (..., m, C, C)
    w = np.zeros(kc.shape, dtype=kc.dtype)  # (..., m, C, d_k)
    u = np.zeros(vc.shape, dtype=vc.dtype)  # (..., m, C, d_v)
    for t in range(kc.shape[-2]):
        earlier = gram[..., t, None, :t]  # (..., m, 1, t): k_t . k_s for s < t
        w[..., t, :] = strengths[..., t, None] * (kc[..., t, :] - (earlier @ w[..., :t, :])[..., 0, :])  # (..., m, d_k)
        u[..., t, :] = strengths[..., t, None] * (vc[..., t, :] - (earlier @ u[..., :t, :])[..., 0, :])  # (..., m, d_v)
    return w, u


# ------------------------------------------------------------- gated linear attention (vector gate)
__all__ += ["gated_linear_attention"]

#: The orders in which :func:`gated_linear_attention` can compute its outputs.
GATED_FORMS = ("recurrent", "parallel", "chunked")


def gated_linear_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, gate: ArrayLike, *,
    form: str = "recurrent", chunk_size: int = 64,
    initial_state: ArrayLike | None = None, return_state: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Gated linear attention (GLA): one decay per key coordinate, a vector gate per step.

    .. math:: F_t = \operatorname{diag}(\lambda_t)\, F_{t-1} + k_t^\top v_t,
              \qquad F_0 = 0, \qquad o_t = q_t F_t

    with :math:`\lambda_t \in (0, 1]^{d_k}`: row ``c`` of the state, what was written along
    key coordinate ``c``, decays at its own rate (Yang et al., 2024). Unrolled,
    :math:`o_t = \sum_{s \le t} \big(\sum_c q_{tc}\, k_{sc} \prod_{s < r \le t} \lambda_{rc}\big) v_s`;
    when every coordinate shares one decay this is :func:`decayed_linear_attention`.

    Parameters
    ----------
    q, k : array_like, shape (..., n, d_k)
    v : array_like, shape (..., n, d_v)
    gate : array_like, broadcasting to (..., n, d_k)
        :math:`\lambda_t`, entries in ``(0, 1]``; in GLA a sigmoid of a projection of token
        ``t`` (raised to a power), one vector per step and head.
    form : {"recurrent", "parallel", "chunked"}, default "recurrent"
        ``"parallel"`` forms the ``n x n`` weights
        :math:`\sum_c q_{tc} k_{sc} \exp(L_{tc} - L_{sc})` (``L`` the running sum of
        :math:`\log \lambda`, every exponent <= 0); ``"chunked"`` does so inside chunks of
        ``chunk_size`` and passes the state between them. The parallel form is computed as
        the chunked one with a single chunk of all ``n`` tokens (the same arithmetic), so
        the three forms are two implementations, tested against a loop.
    chunk_size : int, default 64
    initial_state : array_like, shape broadcasting to (..., d_k, d_v), optional
    return_state : bool, default False

    Returns
    -------
    output : ndarray, shape (..., n, d_v)
    state : ndarray, shape (..., d_k, d_v)
        :math:`F_n`, only when ``return_state``.

    Raises
    ------
    TypeError, ValueError
        As :func:`decayed_linear_attention`, with ``gate`` in place of ``decay`` and the
        shape ``(..., n, d_k)``.

    Examples
    --------
    Two coordinates, one kept (gate 1) and one halved at every step:

    >>> q = k = np.ones((3, 2))
    >>> v = np.ones((3, 1))
    >>> gated_linear_attention(q, k, v, [1.0, 0.5])[:, 0]    # row 0 sums 1, 2, 3; row 1: 1, 1.5, 1.75
    array([2.  , 3.5 , 4.75])
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 9, 4))
    >>> gates = rng.uniform(0.5, 1.0, (9, 4))
    >>> bool(np.allclose(gated_linear_attention(q, k, v, gates),
    ...                  gated_linear_attention(q, k, v, gates, form="chunked", chunk_size=4)))
    True
    """
    form = choice(form, GATED_FORMS, "form")
    chunk_size = positive_int(chunk_size, "chunk_size")
    return_state = flag(return_state, "return_state")
    q, k, v = _check_qkv(q, k, v)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(f"a recurrence has one query per key (n_q == n_k): q {q.shape}, k {k.shape}")
    n, d_k = q.shape[-2], q.shape[-1]
    batch = broadcast_batch({"q": q.shape, "k": k.shape, "v": v.shape})
    gate = as_float_array(gate, "gate", finite=True)
    try:
        gate = np.broadcast_to(gate, batch + (n, d_k))  # (..., n, d_k)
    except ValueError:
        raise ValueError(f"gate of shape {gate.shape} does not broadcast to (..., n, d_k) = {batch + (n, d_k)}: "
                         "give one gate vector, or one per step") from None
    bad = (gate <= 0) | (gate > 1)  # NaN passes, and comes out as NaN
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"gate must lie in (0, 1]; got {gate[index]} at index {index}")
    dtype = np.result_type(q.dtype, k.dtype, v.dtype)
    q = np.broadcast_to(q, batch + q.shape[-2:]).astype(dtype, copy=False)  # (..., n, d_k)
    k = np.broadcast_to(k, batch + k.shape[-2:]).astype(dtype, copy=False)  # (..., n, d_k)
    v = np.broadcast_to(v, batch + v.shape[-2:]).astype(dtype, copy=False)  # (..., n, d_v)
    state = _initial_state(initial_state, q, v)
    q, k, v = (x.astype(state.dtype, copy=False) for x in (q, k, v))
    log_gate = np.log(gate.astype(state.dtype, copy=False))  # (..., n, d_k), each <= 0
    if form == "recurrent":
        out, state = _gated_recurrent(q, k, v, log_gate, state)
    elif form == "parallel":
        out, state = _gated_chunked(q, k, v, log_gate, max(n, 1), state)  # one chunk: the parallel form
    else:
        out, state = _gated_chunked(q, k, v, log_gate, chunk_size, state)
    return (out, state) if return_state else out


def _gated_recurrent(q: np.ndarray, k: np.ndarray, v: np.ndarray, log_gate: np.ndarray,
                     state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vector-gated recurrence, one token at a time."""
    out = np.empty(v.shape, dtype=q.dtype)  # (..., n, d_v)
    gate = np.exp(log_gate)  # (..., n, d_k)
    for t in range(q.shape[-2]):
        write = k[..., t, :, None] * v[..., t, None, :]  # (..., d_k, d_v)
        state = gate[..., t, :, None] * state + write  # (..., d_k, d_v): diag(lambda_t) F + k^T v
        out[..., t, :] = np.einsum("...k,...kd->...d", q[..., t, :], state)  # (..., d_v)
    return out, state


def _gated_chunked(q: np.ndarray, k: np.ndarray, v: np.ndarray, log_gate: np.ndarray, chunk_size: int,
                   state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Inside each chunk the weights :math:`\sum_c q_{tc} k_{sc} e^{L_{tc} - L_{sc}}`; the state between chunks.

    With :math:`L` the running log-gate from the chunk's start (per coordinate), a chunk
    entered with ``S`` gives :math:`o_t = (q_t \odot e^{L_t}) S + \sum_{s \le t} w_{ts} v_s`
    and leaves :math:`\operatorname{diag}(e^{L_C}) S + \sum_s (k_s \odot e^{L_C - L_s})^\top v_s`.
    Every exponent is <= 0: nothing overflows however small the gates.
    """
    n = q.shape[-2]
    qc, kc, vc = (_chunked(x, chunk_size) for x in (q, k, v))  # (..., m, C, d_k), (..., m, C, d_k), (..., m, C, d_v)
    running = np.cumsum(_chunked(log_gate, chunk_size), axis=-2)  # (..., m, C, d_k): padding has log 1 = 0
    difference = running[..., :, None, :] - running[..., None, :, :]  # (..., m, C, C, d_k): L_t - L_s
    causal = _causal(chunk_size)[..., None]  # (C, C, 1)
    decay = np.exp(np.where(causal, difference, -np.inf))  # (..., m, C, C, d_k), 0 above the diagonal
    weights = np.einsum("...tc,...sc,...tsc->...ts", qc, kc, decay)  # (..., m, C, C)
    within = weights @ vc  # (..., m, C, d_v)
    to_end = np.exp(running[..., -1:, :] - running)  # (..., m, C, d_k): e^{L_C - L_s}
    writes = np.swapaxes(kc * to_end, -1, -2) @ vc  # (..., m, d_k, d_v)
    out = np.empty(within.shape, dtype=q.dtype)  # (..., m, C, d_v)
    for c in range(qc.shape[-3]):
        from_before = (qc[..., c, :, :] * np.exp(running[..., c, :, :])) @ state  # (..., C, d_v)
        out[..., c, :, :] = within[..., c, :, :] + from_before
        state = np.exp(running[..., c, -1, :, None]) * state + writes[..., c, :, :]  # (..., d_k, d_v)
    return out.reshape(q.shape[:-2] + (-1, v.shape[-1]))[..., :n, :], state  # (..., n, d_v), (..., d_k, d_v)
