"""One test bed for the variants of attention: shared inputs, a common error and their costs.

Chapter 10 runs every variant of :mod:`attn_core.variants` on the same queries, keys and
values and compares it with full attention. This module holds what that comparison needs
and nothing else:

* :func:`lookup_sequence`: a seeded sequence in which most queries look at their
  neighbours and a few look far back for one distant key, so that a variant which cannot
  reach distant keys loses something real;
* :func:`random_sequence`: random queries and keys, attention with no locality and, when
  they are short, almost uniform: the opposite structure, on which the ranking flips;
* :func:`relative_error`: the chapter's main error measure, with two checks on it,
  :func:`frobenius_error` (on the outputs) and :func:`weight_error` (on the weights);
* :func:`implicit_weights`: the weight matrix of any variant that is linear in the values,
  read off by feeding it the identity matrix as values;
* :func:`run_variant`: one variant by name, with its output, weights, cost and errors;
* :func:`soft_attention_gradient` and :func:`score_function_gradients`: the gradient of a
  loss through soft attention, and the REINFORCE estimate of the gradient through sampled
  hard attention, for the chapter's toy on why soft attention trains more easily;
* :func:`memory_recall` and :func:`memory_recall_sweep`: associative recall from a memory of
  fixed size (linear, decayed, delta-rule, least squares) against softmax attention with
  its full cache and with a window of equal state size (:func:`equal_state_window`, the
  book's one definition of "equal state size"; :func:`state_sizes` prints it). Chapter 14
  reuses them for its sweep over the state size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from attn_core import variants
from attn_core._checks import as_float_array, choice, flag, nonnegative_int, number_in_range, positive_int, positive_number
from attn_core.attention import _check_qkv, scaled_dot_product_attention
from attn_core.masks import bigbird_mask, fixed_mask, sliding_window_mask, strided_mask
from attn_core.recurrences import decayed_linear_attention, delta_rule_attention

__all__ = [
    "lookup_sequence",
    "random_sequence",
    "POSITION_FREQUENCIES",
    "relative_error",
    "frobenius_error",
    "weight_error",
    "implicit_weights",
    "mean_pooling_projection",
    "VARIANTS",
    "DEFAULT_BUDGETS",
    "BIGBIRD_GLOBAL",
    "BIGBIRD_RANDOM",
    "SELECTION_BLOCK",
    "FIXED_SUMMARY_SHARE",
    "VariantRun",
    "run_variant",
]

#: The variants :func:`run_variant` knows, with what its ``budget`` means for each.
VARIANTS = {
    "full": "no budget: every query scores every key",
    "hard": "no budget: one key sampled per query",
    "top-k": "k, the keys kept per query",
    "local": "window w: keys within w positions",
    "strided": "stride s: the last s keys and every s-th key",
    "fixed": "block b: own block and the last b/8 keys of each block",
    "BigBird": "window w, plus 2 global and 2 random keys",
    "block top-k": "k, the blocks of 8 keys each query selects by content",
    "low-rank": "rank r: keys and values averaged in r blocks",
    "linear": "no budget: d_k features of elu + 1",
    "random features": "n_f, the number of random features",
}

#: The budget of each variant in the chapter's summary table (n = 128, d = 16).
DEFAULT_BUDGETS = {"full": None, "hard": None, "top-k": 8, "local": 4, "strided": 16, "fixed": 16,
                   "BigBird": 2, "block top-k": 4, "low-rank": 32, "linear": None, "random features": 256}

#: Global tokens and random keys per query of the BigBird variant in :func:`run_variant`.
BIGBIRD_GLOBAL, BIGBIRD_RANDOM = 2, 2
#: The fixed pattern's summary keys are the last ``block // 8`` positions of each block
#: (Child et al. use c = 8 to 32 of 128 positions).
FIXED_SUMMARY_SHARE = 8
#: Keys per block of the block top-k variant (MoBA's gate) in :func:`run_variant`.
SELECTION_BLOCK = 8


#: The six position frequencies of :func:`lookup_sequence` (radians per position): chosen,
#: among 30,000 random sets, so that positions more than four apart score little against
#: each other for every offset below 128.
POSITION_FREQUENCIES = (0.107, 0.128, 0.168, 0.195, 0.268, 0.497)


def lookup_sequence(n: int = 128, *, n_lookups: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    r"""Queries, keys and values (width 16) where most queries look nearby and a few look far back.

    Each query and key has a *position* part and a *content* part. The position part is 12
    numbers, the cosines and sines of ``i * f`` for the six :data:`POSITION_FREQUENCIES`
    ``f``, scaled so that :math:`q_i \cdot k_j / \sqrt{d_k} = \tfrac{10}{6} \sum_f \cos(f\,(i - j))`
    (10 when ``j = i``): on its own every query puts about 0.3 of its weight on itself,
    0.2 on each neighbour, less on the next ones, and about 2% beyond four positions.
    The content part (4 numbers) is small noise, except for ``n_lookups`` *lookups*: query
    ``i`` (in the second half of the sequence) and key ``j`` (at least ``n // 4`` positions
    earlier) share a large content vector worth a score of 9, and the position part of
    that query is halved, so that query ``i`` puts most of its weight on the distant key
    ``j``. Values are standard normal.

    Parameters
    ----------
    n : int, default 128
        Sequence length, ``16 <= n <= 128`` (beyond 128 some distant positions match again).
    n_lookups : int, default 8
        Number of (query, distant key) pairs, ``0 <= n_lookups <= min(8, n // 8)``.
    seed : int, default 0

    Returns
    -------
    dict with
        ``q``, ``k``, ``v`` : ndarray, shape (n, 16);
        ``lookups`` : ndarray of int, shape (n_lookups, 2), rows ``(query i, key j)``,
        sorted by query.

    Raises
    ------
    TypeError, ValueError
        A size out of range.

    Examples
    --------
    >>> data = lookup_sequence(seed=1)
    >>> data["q"].shape, data["lookups"].shape
    ((128, 16), (8, 2))
    >>> i, j = data["lookups"][0]
    >>> _, weights = scaled_dot_product_attention(data["q"], data["k"], data["v"])
    >>> bool(weights[i].argmax() == j and i - j >= 128 // 4)
    True
    """
    n = positive_int(n, "n")
    seed = nonnegative_int(seed, "seed")
    if not 16 <= n <= 128:
        raise ValueError(f"n must lie in 16..128, got {n}")
    most = min(8, n // 8)
    if isinstance(n_lookups, bool) or not isinstance(n_lookups, (int, np.integer)) or not 0 <= n_lookups <= most:
        raise ValueError(f"n_lookups must be a whole number in 0..{most} for n={n}, got {n_lookups!r}")
    d, content = 16, 4
    rng = np.random.default_rng(seed)
    freqs = np.asarray(POSITION_FREQUENCIES)  # (6,)
    angle = np.arange(n)[:, None] * freqs[None, :]  # (n, 6)
    amplitude = np.sqrt(10.0 * np.sqrt(d) / freqs.size)  # self score |p_i|^2 / sqrt(d) = 10
    position = amplitude * np.concatenate([np.cos(angle), np.sin(angle)], axis=1)  # (n, 12)
    q = np.concatenate([position, 0.3 * rng.standard_normal((n, content))], axis=1)  # (n, 16)
    k = np.concatenate([position, 0.3 * rng.standard_normal((n, content))], axis=1)  # (n, 16)
    # Lookup contents: +-columns of a random rotation, so two lookups never match each other.
    rotation, _ = np.linalg.qr(rng.standard_normal((content, content)))
    directions = np.concatenate([rotation.T, -rotation.T])[rng.permutation(2 * content)[:n_lookups]]
    strength = np.sqrt(9.0 * np.sqrt(d))  # a lookup scores 9 on its partner's content
    queries = np.sort(rng.choice(np.arange(n // 2, n), size=n_lookups, replace=False))
    lookups = []
    taken: set[int] = set()
    for i, u in zip(queries, directions):
        choices = [j for j in range(0, i - n // 4 + 1) if j not in taken]
        j = int(rng.choice(choices))
        taken.add(j)
        q[i, :-content] *= 0.5
        q[i, -content:] = strength * u
        k[j, -content:] = strength * u
        lookups.append((int(i), j))
    v = rng.standard_normal((n, d))  # (n, d_v)
    return {"q": q, "k": k, "v": v, "lookups": np.array(lookups, dtype=int).reshape(-1, 2)}


def random_sequence(n: int = 128, *, scale: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    r"""Standard normal queries, keys and values of width 16, queries and keys times ``scale``.

    The scores :math:`q_i \cdot k_j / \sqrt{d_k}` then have mean 0 and standard deviation
    ``scale**2``: no locality, no lookups, and, for a small ``scale``, weights close to
    uniform. It is the opposite structure to :func:`lookup_sequence`'s.

    Parameters
    ----------
    n : int, default 128
    scale : float, default 1.0
        > 0.
    seed : int, default 0

    Returns
    -------
    dict with ``q``, ``k``, ``v`` : ndarray, shape (n, 16), and ``lookups``, an empty
    ``(0, 2)`` array of int (there are none).

    Raises
    ------
    TypeError, ValueError
        A bad ``n``, ``scale`` or ``seed``.

    Examples
    --------
    >>> data = random_sequence(64, scale=0.5, seed=3)
    >>> data["q"].shape, data["lookups"].shape
    ((64, 16), (0, 2))
    """
    n = positive_int(n, "n")
    scale = positive_number(scale, "scale")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    q, k, v = rng.standard_normal((3, n, 16))  # (n, 16) each
    return {"q": scale * q, "k": scale * k, "v": v, "lookups": np.zeros((0, 2), dtype=int)}


def relative_error(approx: ArrayLike, exact: ArrayLike) -> float:
    r"""Mean absolute error of ``approx`` relative to the mean absolute value of ``exact``.

    .. math:: \varepsilon = \frac{\operatorname{mean}_{i,c} |\tilde o_{ic} - o_{ic}|}
                                 {\operatorname{mean}_{i,c} |o_{ic}|}

    0 means equal; 1 means an error as large as a typical output entry.

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite arrays; shapes differ; ``exact`` is all zeros.

    Examples
    --------
    >>> relative_error([[1.0, -3.0]], [[2.0, -2.0]])
    0.5
    """
    approx = as_float_array(approx, "approx", nonempty=True, finite=True)
    exact = as_float_array(exact, "exact", nonempty=True, finite=True)
    if approx.shape != exact.shape:
        raise ValueError(f"approx and exact must have the same shape, got {approx.shape} and {exact.shape}")
    scale = np.abs(exact).mean()
    if np.isnan(scale):
        return float("nan")  # NaN in, NaN out
    if not scale > 0:
        raise ValueError("exact is all zeros: a relative error is undefined")
    return float(np.abs(approx - exact).mean() / scale)


def _same_shape(approx: ArrayLike, exact: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    approx = as_float_array(approx, "approx", nonempty=True, finite=True)
    exact = as_float_array(exact, "exact", nonempty=True, finite=True)
    if approx.shape != exact.shape:
        raise ValueError(f"approx and exact must have the same shape, got {approx.shape} and {exact.shape}")
    return approx, exact


def frobenius_error(approx: ArrayLike, exact: ArrayLike) -> float:
    r"""The relative error in the Frobenius norm: :math:`\|\tilde O - O\|_F / \|O\|_F`.

    Squares weigh a few large mistakes more than :func:`relative_error` does.

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite arrays; shapes differ; ``exact`` is all zeros.

    Examples
    --------
    >>> frobenius_error([[3.0, 0.0]], [[0.0, 4.0]])
    1.25
    """
    approx, exact = _same_shape(approx, exact)
    norm = np.linalg.norm(exact)
    if np.isnan(norm):
        return float("nan")  # NaN in, NaN out
    if not norm > 0:
        raise ValueError("exact is all zeros: a relative error is undefined")
    return float(np.linalg.norm(approx - exact) / norm)


def weight_error(approx: ArrayLike, exact: ArrayLike) -> float:
    r"""The error on the weights: the mean over rows of half the L1 distance between them.

    .. math:: \varepsilon_A = \operatorname{mean}_i \tfrac12 \sum_j |\tilde A_{ij} - A_{ij}|

    For rows that are probability distributions this is their total variation distance: 0
    for the same weights, 1 for weights on disjoint keys, whatever the values. It does not
    depend on ``V``, so it cannot favour a variant through the values.

    Parameters
    ----------
    approx, exact : array_like, shape (..., n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite arrays; shapes differ; fewer than two dimensions.

    Examples
    --------
    >>> weight_error([[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]])
    0.5
    """
    approx, exact = _same_shape(approx, exact)
    if exact.ndim < 2:
        raise ValueError(f"weights need shape (..., n_q, n_k), got {exact.shape}")
    return float(0.5 * np.abs(approx - exact).sum(-1).mean())


def implicit_weights(attend: Callable[[np.ndarray], np.ndarray], n_k: int) -> np.ndarray:
    r"""The weight matrix of an attention that is linear in its values: ``attend(eye(n_k))``.

    Every variant here computes its output as some ``(n_q, n_k)`` matrix :math:`W` times
    the values, :math:`O = W V`, with :math:`W` depending on the queries and keys only.
    Feeding the identity as values returns :math:`W` itself, even for variants that never
    form it (low-rank, linear, random features).

    Parameters
    ----------
    attend : callable
        ``attend(values) -> output``, values ``(n_k, d_v)`` to output ``(n_q, d_v)``.
    n_k : int

    Returns
    -------
    ndarray, shape (n_q, n_k)

    Examples
    --------
    >>> q = k = np.eye(3)
    >>> w = implicit_weights(lambda v: scaled_dot_product_attention(q, k, v)[0], 3)
    >>> bool(np.allclose(w, scaled_dot_product_attention(q, k, np.ones((3, 1)))[1]))
    True
    """
    if not callable(attend):
        raise TypeError(f"attend must be a function of the values, got {attend!r:.40}")
    n_k = positive_int(n_k, "n_k")
    return np.asarray(attend(np.eye(n_k)))


def mean_pooling_projection(n_k: int, rank: int) -> np.ndarray:
    """A ``(rank, n_k)`` projection whose row b averages the keys of the b-th block.

    The ``n_k`` positions are cut into ``rank`` consecutive blocks of (nearly) equal
    length, ``np.array_split``'s. Used as ``E = F`` in
    :func:`attn_core.variants.low_rank_attention`, each summary key (value) is the mean
    of one block's keys (values), so the summaries keep the scale of the originals,
    which a random projection does not; ``rank = n_k`` is the identity (exact attention).

    Raises
    ------
    TypeError, ValueError
        ``n_k`` or ``rank`` not a whole number >= 1, or ``rank > n_k``.

    Examples
    --------
    >>> mean_pooling_projection(5, 2)
    array([[0.33333333, 0.33333333, 0.33333333, 0.        , 0.        ],
           [0.        , 0.        , 0.        , 0.5       , 0.5       ]])
    """
    n_k, rank = positive_int(n_k, "n_k"), positive_int(rank, "rank")
    if rank > n_k:
        raise ValueError(f"rank must be <= n_k={n_k}, got {rank}")
    projection = np.zeros((rank, n_k))
    for row, block in enumerate(np.array_split(np.arange(n_k), rank)):
        projection[row, block] = 1.0 / block.size
    return projection


@dataclass(frozen=True)
class VariantRun:
    """One variant run on (q, k, v): what it computed, what it cost, how far from full attention.

    ``multiply_adds`` counts the multiplications of the attention step (scores, weights
    times values, projections or feature maps), not the exponentials; ``memory`` counts the
    numbers held for the weights (the scores kept) or, for the kernel variants, their
    replacement (the state). Both follow the formulas of chapter 10.
    """

    name: str
    budget: int | None
    parameter: str  # e.g. "window 4"
    output: np.ndarray  # (n_q, d_v)
    weights: np.ndarray  # (n_q, n_k), implicit for low-rank, linear and random features
    multiply_adds: int
    memory: int
    error: float  # relative_error(output, full attention's output)
    frobenius_error: float = 0.0  # frobenius_error(output, full attention's output)
    weight_error: float = 0.0  # weight_error(weights, full attention's weights)


def run_variant(
    name: str, q: ArrayLike, k: ArrayLike, v: ArrayLike, *, budget: int | None = None, seed: int = 0
) -> VariantRun:
    r"""Run one variant of attention by name and measure it against full attention.

    Costs, for ``n`` queries and keys, widths ``d_k`` and ``d_v``, and ``N`` allowed
    (query, key) pairs in a mask (multiply-adds; memory = scores kept, or state):

    * full: :math:`n^2 (d_k + d_v)`; :math:`n^2`;
    * hard: :math:`n^2 d_k` (the output is a copy); :math:`n^2`;
    * top-k: :math:`n^2 d_k + n k d_v`; :math:`n^2` (every score is needed to choose);
    * local, strided, fixed, BigBird: :math:`N (d_k + d_v)`; :math:`N`;
    * block top-k (blocks of :data:`SELECTION_BLOCK` keys, :math:`n_b = n / 8` of them):
      :math:`n d_k + n n_b d_k + N (d_k + d_v)` (block means, one score per query and
      block, then the chosen pairs); :math:`n n_b + N`;
    * low-rank: :math:`2 n r (d_k + d_v)` (``EK``, ``FV``, scores, output); :math:`n r`;
    * linear: :math:`2 n d_k (d_v + 1)` (state and normaliser, then each query);
      :math:`d_k (d_v + 1)`;
    * random features: :math:`2 n n_f (d_k + d_v + 1)` (features of queries and keys,
      state, each query); :math:`n_f (d_v + 1)`.

    The masks are non-causal (an encoder's view): ``sliding_window_mask(n, window=w)``,
    ``strided_mask(n, stride=s, causal=False)``, ``fixed_mask(n, block=b, summary=max(1, b // 8), causal=False)``
    and ``bigbird_mask(n, window=w, n_global=2, n_random=2, seed=seed)``. Low-rank uses
    ``E = F = mean_pooling_projection(n, r)``, an untrained stand-in for Linformer's
    learned projections; hard attention and random features draw with ``seed``.

    Parameters
    ----------
    name : str
        One of :data:`VARIANTS`.
    q, k, v : array_like, shapes (n, d_k), (n, d_k), (n, d_v)
        One sequence (self-attention: as many queries as keys).
    budget : int, optional
        The variant's parameter (see :data:`VARIANTS`); default :data:`DEFAULT_BUDGETS`.
        Ignored by full, hard and linear.
    seed : int, default 0

    Returns
    -------
    VariantRun

    Raises
    ------
    ValueError
        Unknown name, shapes that are not one self-attention sequence, a bad budget.

    Examples
    --------
    >>> data = lookup_sequence(seed=1)
    >>> run = run_variant("local", data["q"], data["k"], data["v"], budget=4)
    >>> run.parameter, run.memory, run.multiply_adds
    ('window 4', 1132, 36224)
    >>> run_variant("full", data["q"], data["k"], data["v"]).error
    0.0
    """
    choice(name, VARIANTS, "name")
    seed = nonnegative_int(seed, "seed")
    q, k, v = _check_qkv(q, k, v)
    if q.ndim != 2 or k.ndim != 2 or v.ndim != 2 or q.shape[0] != k.shape[0]:
        raise ValueError(f"run_variant takes one self-attention sequence: q {q.shape}, k {k.shape}, v {v.shape}")
    n, d_k = q.shape
    d_v = v.shape[1]
    budget = DEFAULT_BUDGETS[name] if budget is None else budget
    if name in ("full", "hard", "linear"):
        budget = None
    else:
        budget = positive_int(budget, "budget")
    exact, full_weights = scaled_dot_product_attention(q, k, v)

    def masked(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
        nnz = int(mask.sum())
        output = variants.sparse_attention(q, k, v, mask)
        _, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        return output, weights, nnz * (d_k + d_v), nnz

    if name == "full":
        parameter = "all keys"
        output, weights = exact, full_weights
        cost = (n * n * (d_k + d_v), n * n)
    elif name == "hard":
        parameter = f"one sample (seed {seed})"
        output, weights = variants.hard_attention(q, k, v, seed=seed)
        cost = (n * n * d_k, n * n)
    elif name == "top-k":
        parameter = f"k = {budget}"
        output, weights = variants.top_k_attention(q, k, v, top_k=budget)
        cost = (n * n * d_k + n * budget * d_v, n * n)
    elif name == "local":
        parameter = f"window {budget}"
        output, weights, *cost = masked(sliding_window_mask(n, window=budget))
    elif name == "strided":
        parameter = f"stride {budget}"
        output, weights, *cost = masked(strided_mask(n, stride=budget, causal=False))
    elif name == "fixed":
        parameter = f"block {budget}"
        output, weights, *cost = masked(fixed_mask(n, block=budget, summary=max(1, budget // FIXED_SUMMARY_SHARE),
                                                   causal=False))
    elif name == "BigBird":
        parameter = f"window {budget}, {BIGBIRD_GLOBAL} global, {BIGBIRD_RANDOM} random"
        output, weights, *cost = masked(bigbird_mask(n, window=budget, n_global=BIGBIRD_GLOBAL,
                                                     n_random=BIGBIRD_RANDOM, seed=seed))
    elif name == "block top-k":
        parameter = f"top {budget} block{'s' if budget > 1 else ''} of {SELECTION_BLOCK}"
        output, weights = variants.block_top_k_attention(q, k, v, block_size=SELECTION_BLOCK, top_k=budget)
        n_blocks = -(-n // SELECTION_BLOCK)
        nnz = int(variants.block_selection_mask(q, k, block_size=SELECTION_BLOCK, top_k=budget).sum())
        cost = (n * d_k + n * n_blocks * d_k + nnz * (d_k + d_v), n * n_blocks + nnz)
    elif name == "low-rank":
        parameter = f"rank {budget}"
        e = mean_pooling_projection(n, budget)  # (r, n)
        output, _ = variants.low_rank_attention(q, k, v, e)
        weights = implicit_weights(lambda values: variants.low_rank_attention(q, k, values, e)[0], n)
        cost = (2 * n * budget * (d_k + d_v), n * budget)
    elif name == "linear":
        parameter = f"elu + 1, {d_k} features"
        output = variants.linear_attention(q, k, v)
        weights = variants.linear_attention_weights(q, k)
        cost = (2 * n * d_k * (d_v + 1), d_k * (d_v + 1))
    else:  # random features
        parameter = f"n_f = {budget}"
        output = variants.random_feature_attention(q, k, v, n_features=budget, seed=seed)
        weights = implicit_weights(
            lambda values: variants.random_feature_attention(q, k, values, n_features=budget, seed=seed), n)
        cost = (2 * n * budget * (d_k + d_v + 1), budget * (d_v + 1))
    return VariantRun(name=name, budget=budget, parameter=parameter, output=output, weights=weights,
                      multiply_adds=int(cost[0]), memory=int(cost[1]), error=relative_error(output, exact),
                      frobenius_error=frobenius_error(output, exact),
                      weight_error=weight_error(weights, full_weights))


__all__ += ["soft_attention_gradient", "score_function_gradients"]


def _gradient_inputs(scores: ArrayLike, values: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, ...]:
    scores = as_float_array(scores, "scores", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    values = as_float_array(values, "values", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    target = as_float_array(target, "target", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    if values.shape != (scores.size, target.size):
        raise ValueError(f"values must have shape (n_k={scores.size}, d_v={target.size}), got {values.shape}")
    return scores, values, target


def _weights_of(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())  # (n_k,)
    return e / e.sum()


def soft_attention_gradient(scores: ArrayLike, values: ArrayLike, target: ArrayLike) -> tuple[float, np.ndarray]:
    r"""Loss and exact gradient, with respect to one query's scores, of soft attention's output.

    With :math:`a = \operatorname{softmax}(s)`, :math:`o = \sum_j a_j v_j` and the loss
    :math:`L = \tfrac12 \|o - y\|^2`, the gradient is
    :math:`\partial L / \partial s_j = a_j\,(g_j - \sum_l a_l g_l)` with
    :math:`g_j = (o - y) \cdot v_j`: one deterministic backward pass.

    Parameters
    ----------
    scores : array_like, shape (n_k,)
    values : array_like, shape (n_k, d_v)
    target : array_like, shape (d_v,)

    Returns
    -------
    loss : float
    gradient : ndarray, shape (n_k,)

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty or infinite arrays, or shapes that do not match.

    Examples
    --------
    >>> loss, gradient = soft_attention_gradient([0.0, 0.0], [[1.0], [0.0]], [1.0])
    >>> loss, gradient.tolist()
    (0.125, [-0.125, 0.125])
    """
    scores, values, target = _gradient_inputs(scores, values, target)
    a = _weights_of(scores)  # (n_k,)
    residual = a @ values - target  # (d_v,): o - y
    g = values @ residual  # (n_k,): dL/da_j
    return float(0.5 * residual @ residual), a * (g - a @ g)


def score_function_gradients(
    scores: ArrayLike, values: ArrayLike, target: ArrayLike, *, n_samples: int, n_trials: int = 200,
    baseline: bool = False, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Stochastic hard attention's gradient: exact, and as REINFORCE estimates from sampled keys.

    Hard attention samples key :math:`j \sim a = \operatorname{softmax}(s)` and outputs
    :math:`v_j`, with loss :math:`L_j = \tfrac12 \|v_j - y\|^2`. The objective is the
    expected loss :math:`J = \sum_j a_j L_j`, whose exact gradient is
    :math:`\partial J / \partial s_l = a_l (L_l - J)`. A sample has no gradient, so the
    score-function (REINFORCE) estimator of Williams (1992) uses
    :math:`(L_j - b)\, \nabla_s \log a_j` with :math:`\nabla_s \log a_j = e_j - a`,
    averaged over ``n_samples`` draws; it is unbiased for any baseline :math:`b` that does
    not depend on the draw it multiplies. With ``baseline=True``, :math:`b` for each draw
    is the mean loss of the *other* draws of the same estimate (needs ``n_samples >= 2``).

    Parameters
    ----------
    scores : array_like, shape (n_k,)
    values : array_like, shape (n_k, d_v)
    target : array_like, shape (d_v,)
    n_samples : int
        Draws per estimate, >= 1 (>= 2 with a baseline).
    n_trials : int, default 200
        Independent estimates.
    baseline : bool, default False
    seed : int, default 0

    Returns
    -------
    exact : ndarray, shape (n_k,)
        :math:`\nabla_s J`.
    estimates : ndarray, shape (n_trials, n_k)

    Raises
    ------
    TypeError, ValueError
        As :func:`soft_attention_gradient`; a bad ``n_samples``, ``n_trials``, ``baseline``
        or ``seed``; a baseline with one sample.

    Examples
    --------
    >>> exact, estimates = score_function_gradients([0.0, 1.0], [[1.0], [0.0]], [1.0],
    ...                                              n_samples=4, n_trials=20000, seed=1)
    >>> bool(np.allclose(estimates.mean(axis=0), exact, atol=0.01))
    True
    """
    scores, values, target = _gradient_inputs(scores, values, target)
    n_samples, n_trials = positive_int(n_samples, "n_samples"), positive_int(n_trials, "n_trials")
    baseline = flag(baseline, "baseline")
    if baseline and n_samples < 2:
        raise ValueError(f"a leave-one-out baseline needs n_samples >= 2, got {n_samples}")
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN: no distribution to sample keys from")
    a = _weights_of(scores)  # (n_k,)
    losses = 0.5 * ((values - target) ** 2).sum(axis=1)  # (n_k,): L_j
    exact = a * (losses - a @ losses)  # (n_k,)
    picks = rng.choice(a.size, size=(n_trials, n_samples), p=a)  # (trials, samples)
    loss = losses[picks]  # (trials, samples)
    if baseline:
        b = (loss.sum(axis=1, keepdims=True) - loss) / (n_samples - 1)  # mean of the other draws
    else:
        b = 0.0
    score = np.eye(a.size)[picks] - a  # (trials, samples, n_k): grad of log a_j
    estimates = ((loss - b)[..., None] * score).mean(axis=1)  # (trials, n_k)
    return exact, estimates


__all__ += ["low_rank_at_matched_cost", "linformer_jl_rank", "eckart_young_error"]


def low_rank_at_matched_cost(
    name: str, q: ArrayLike, k: ArrayLike, v: ArrayLike, *, budget: int | None = None, seed: int = 0
) -> tuple[VariantRun, VariantRun]:
    r"""A variant and low-rank attention at no more work: the rank :math:`r` that fits its budget.

    Low rank costs :math:`2 n r (d_k + d_v)` multiply-adds (:func:`run_variant`), so the
    largest rank whose work does not exceed the variant's is
    :math:`r = \lfloor \text{work} / (2 n (d_k + d_v)) \rfloor`, at least 1 and at most
    ``n``. Comparing the two at matched cost separates what a family can do from the
    budget it was given.

    Parameters
    ----------
    name : str
        One of :data:`VARIANTS`.
    q, k, v : array_like, shapes (n, d_k), (n, d_k), (n, d_v)
    budget : int, optional
        The variant's budget, as in :func:`run_variant`.
    seed : int, default 0

    Returns
    -------
    variant : VariantRun
        ``run_variant(name, q, k, v, budget=budget, seed=seed)``.
    low_rank : VariantRun
        ``run_variant("low-rank", q, k, v, budget=r)`` with the largest ``r`` above.

    Raises
    ------
    TypeError, ValueError
        As :func:`run_variant`.

    Examples
    --------
    >>> data = lookup_sequence(seed=1)
    >>> local, low = low_rank_at_matched_cost("local", data["q"], data["k"], data["v"], budget=4)
    >>> local.multiply_adds, low.budget, low.multiply_adds
    (36224, 4, 32768)
    """
    variant = run_variant(name, q, k, v, budget=budget, seed=seed)
    q, k, v = (np.asarray(x, dtype=float) for x in (q, k, v))  # checked by run_variant
    n, d_k, d_v = q.shape[0], q.shape[1], v.shape[1]
    rank = int(min(n, max(1, variant.multiply_adds // (2 * n * (d_k + d_v)))))
    return variant, run_variant("low-rank", q, k, v, budget=rank, seed=seed)


def linformer_jl_rank(n: int, epsilon: float) -> float:
    r"""The projection rank Linformer's Theorem 1 asks for: :math:`r = 5 \log n / (\varepsilon^2 - \varepsilon^3)`.

    Wang et al. (2020, Theorem 1): for a random :math:`r \times n` Gaussian :math:`R` with
    this many rows, each column :math:`w` of :math:`V` satisfies
    :math:`\|P R^\top R w - P w\| \le \varepsilon \|P w\|` with probability
    :math:`1 - o(1)`, :math:`P` the weights. The bound is useful only when it is below
    ``n``; :math:`\varepsilon^2 - \varepsilon^3` is largest (4/27) at
    :math:`\varepsilon = 2/3`, so it never is for :math:`n` below a few thousand.

    Parameters
    ----------
    n : int
        Sequence length, >= 1.
    epsilon : float
        Relative error allowed, strictly between 0 and 1.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        ``n`` not a whole number >= 1; ``epsilon`` outside (0, 1).

    Examples
    --------
    >>> round(linformer_jl_rank(128, 2 / 3), 1)  # the smallest it gets at n = 128
    163.8
    """
    n = positive_int(n, "n")
    epsilon = number_in_range(epsilon, "epsilon", 0.0, 1.0, low_open=True, high_open=True)
    return float(5.0 * np.log(n) / (epsilon**2 - epsilon**3))


def eckart_young_error(matrix: ArrayLike, rank: int) -> float:
    r"""The smallest relative Frobenius error of any rank-``rank`` matrix: :math:`\|M - M_r\|_F / \|M\|_F`.

    By the Eckart–Young theorem the truncated SVD :math:`M_r` is the closest matrix of rank
    at most :math:`r` in the Frobenius norm, and
    :math:`\|M - M_r\|_F^2 = \sum_{i > r} \sigma_i^2`. So every matrix of rank at most
    :math:`r` is at least this far from :math:`M`, relative to :math:`\|M\|_F`.

    Parameters
    ----------
    matrix : array_like, shape (m, p)
    rank : int
        1 <= rank <= min(m, p).

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        Non-numeric, empty, NaN or infinite ``matrix``, or all zeros; a bad ``rank``.

    Examples
    --------
    >>> eckart_young_error(np.diag([3.0, 4.0]), 1)  # drop sigma = 3 of sqrt(9 + 16) = 5
    0.6
    """
    matrix = as_float_array(matrix, "matrix", min_ndim=2, max_ndim=2, nonempty=True, finite=True)
    rank = positive_int(rank, "rank")
    if rank > min(matrix.shape):
        raise ValueError(f"rank must be <= min{matrix.shape} = {min(matrix.shape)}, got {rank}")
    singular_values = np.linalg.svd(matrix, compute_uv=False)  # (min(m, p),), largest first
    total = np.sum(singular_values**2)
    if not total > 0:
        raise ValueError("matrix is all zeros: a relative error is undefined")
    return float(np.sqrt(np.sum(singular_values[rank:] ** 2) / total))


# ------------------------------------------------------------------ recall from a fixed state
__all__ += ["RECALL_MEMORIES", "FIXED_STATE_MEMORIES", "TUNED_KNOBS", "equal_state_window", "state_sizes",
            "RecallResult", "tune_memory", "memory_recall", "memory_recall_sweep"]

#: The memories :func:`memory_recall` can write ``n_pairs`` (key, value) pairs into and read back.
RECALL_MEMORIES = {
    "softmax": "softmax attention over every stored pair (the full cache)",
    "softmax window": "softmax attention over the last m pairs only, m = equal_state_window(d_k, d_v)",
    "linear": "F = sum_t k_t^T v_t, read as q F",
    "decayed": "F_t = lambda F_{t-1} + k_t^T v_t (RetNet's constant decay)",
    "delta rule": "F_t = F_{t-1} + eta k_t^T (v_t - k_t F_{t-1}) (DeltaNet)",
    "least squares": "F = K^+ V, the d_k x d_v matrix of least squared error on the stored pairs (not a recurrence)",
    "fitted state": "a d_k x d_v matrix fitted to decode the stored tokens (logistic regression; not a recurrence)",
}
#: The memories whose state is one ``d_k x d_v`` matrix, whatever the number of pairs.
FIXED_STATE_MEMORIES = ("linear", "decayed", "delta rule", "least squares", "fitted state")
#: The knob each tunable memory has, and the grid :func:`tune_memory` searches by default.
TUNED_KNOBS = {
    "decayed": ("decay", (0.8, 0.9, 0.95, 0.99, 1.0)),
    "delta rule": ("strength", (0.03, 0.05, 0.1, 0.25, 0.5, 1.0)),
}
# Adam steps and learning rate of the "fitted state" (multiclass logistic regression, one per sequence)
_FIT_STEPS, _FIT_RATE = 100, 1.0


def equal_state_window(d_k: int, d_v: int) -> int:
    r"""The number of pairs a softmax cache may keep to hold no more numbers than a fixed state.

    A fixed-state memory holds one ``d_k x d_v`` matrix, :math:`d_k d_v` numbers; a cache
    holds :math:`d_k + d_v` numbers per (key, value) pair. So the window at equal state size
    is :math:`m = \lfloor d_k d_v / (d_k + d_v) \rfloor` pairs (at least 1): the one place the
    book defines "equal state size".

    Raises
    ------
    TypeError, ValueError
        ``d_k`` or ``d_v`` not a whole number >= 1.

    Examples
    --------
    >>> equal_state_window(16, 16)   # 256 numbers = 8 pairs of 16 + 16
    8
    """
    d_k, d_v = positive_int(d_k, "d_k"), positive_int(d_v, "d_v")
    return max(1, (d_k * d_v) // (d_k + d_v))


def state_sizes(n_pairs: int, d_k: int, d_v: int) -> dict[str, int]:
    r"""The numbers each memory of :data:`RECALL_MEMORIES` holds after ``n_pairs`` writes.

    The full cache holds :math:`n (d_k + d_v)`, growing with the writes; the window
    :math:`\min(n, m)\,(d_k + d_v)` with :math:`m` = :func:`equal_state_window`; every
    fixed-state memory :math:`d_k d_v`.

    Raises
    ------
    TypeError, ValueError
        A size not a whole number >= 1.

    Examples
    --------
    >>> sizes = state_sizes(64, 16, 16)
    >>> sizes["softmax"], sizes["softmax window"], sizes["linear"], sizes["fitted state"]
    (2048, 256, 256, 256)
    """
    n_pairs = positive_int(n_pairs, "n_pairs")
    window = equal_state_window(d_k, d_v)
    sizes = {"softmax": n_pairs * (d_k + d_v), "softmax window": min(n_pairs, window) * (d_k + d_v)}
    return sizes | {memory: d_k * d_v for memory in FIXED_STATE_MEMORIES}


@dataclass(frozen=True)
class RecallResult:
    """How well one memory recalls the pairs written into it (see :func:`memory_recall`)."""

    memory: str
    n_pairs: int
    d_k: int
    d_v: int
    state_size: int  # numbers held (state_sizes) after the last write
    accuracy: float  # share of queries decoded to the right (newest) value token
    accuracy_by_age: np.ndarray  # (n_pairs,): index a - 1 = the key whose newest write is the a-th newest
    error: float  # mean of |o - v| / |v| over queries: how far the recalled vector is from the stored one
    chance: float  # 1 / n_values
    decay: float | None = None  # the decay used by "decayed" (tuned or given), else None
    strength: float | None = None  # the strength used by "delta rule" (tuned or given), else None
    rewrites: float = 0.0  # share of the keys written a second time, with a new token


def _random_keys(rng: np.random.Generator, n_trials: int, n_pairs: int, d_k: int, keys: str) -> np.ndarray:
    if keys == "orthogonal":
        gaussian = rng.standard_normal((n_trials, d_k, d_k))  # (trials, d_k, d_k)
        rotation, _ = np.linalg.qr(gaussian)  # (trials, d_k, d_k), orthonormal columns
        return np.swapaxes(rotation, -1, -2)[:, :n_pairs, :]  # (trials, n_pairs, d_k): orthonormal rows
    k = rng.standard_normal((n_trials, n_pairs, d_k))  # (trials, n_pairs, d_k)
    return k / np.linalg.norm(k, axis=-1, keepdims=True)


@dataclass(frozen=True)
class _RecallTask:
    embeddings: np.ndarray  # (n_values, d_v)
    keys: np.ndarray  # (trials, n_pairs, d_k): the distinct keys, also the queries
    targets: np.ndarray  # (trials, n_pairs): the newest token written under each key
    written_keys: np.ndarray  # (trials, n_writes, d_k), in writing order
    written_values: np.ndarray  # (trials, n_writes, d_v)
    last_write: np.ndarray  # (trials, n_pairs): the position of each key's newest write


def _recall_task(n_pairs: int, d_k: int, d_v: int, n_values: int, keys: str, rewrites: float, n_trials: int,
                 seed: int) -> _RecallTask:
    rng = np.random.default_rng(seed)
    embeddings = rng.standard_normal((n_values, d_v))  # (n_values, d_v)
    embeddings /= np.linalg.norm(embeddings, axis=-1, keepdims=True)
    k = _random_keys(rng, n_trials, n_pairs, d_k, keys)  # (trials, n_pairs, d_k)
    tokens = rng.integers(0, n_values, (n_trials, n_pairs))  # (trials, n_pairs)
    n_rewritten = int(round(rewrites * n_pairs))
    last_write = np.broadcast_to(np.arange(n_pairs), (n_trials, n_pairs)).copy()  # (trials, n_pairs)
    if n_rewritten == 0:
        return _RecallTask(embeddings, k, tokens, k, embeddings[tokens], last_write)
    # a random subset of the keys, in random order, written again with a token other than the first one
    order = rng.permuted(np.broadcast_to(np.arange(n_pairs), (n_trials, n_pairs)), axis=1)[:, :n_rewritten]
    old = np.take_along_axis(tokens, order, axis=1)  # (trials, n_rewritten)
    new = (old + rng.integers(1, n_values, old.shape)) % n_values  # (trials, n_rewritten), never the old token
    targets = tokens.copy()
    np.put_along_axis(targets, order, new, axis=1)
    np.put_along_axis(last_write, order, n_pairs + np.arange(n_rewritten), axis=1)
    written_keys = np.concatenate([k, np.take_along_axis(k, order[..., None], axis=1)], axis=1)  # (trials, n_writes, d_k)
    written_tokens = np.concatenate([tokens, new], axis=1)  # (trials, n_writes)
    return _RecallTask(embeddings, k, targets, written_keys, embeddings[written_tokens], last_write)


def _check_task(n_pairs: object, d_k: object, d_v: object, n_values: object, keys: object, rewrites: object,
                n_trials: object, seed: object) -> tuple:
    keys = choice(keys, ("random", "orthogonal"), "keys")
    n_pairs, d_k = positive_int(n_pairs, "n_pairs"), positive_int(d_k, "d_k")
    d_v = d_k if d_v is None else positive_int(d_v, "d_v")
    n_values = positive_int(n_values, "n_values")
    if n_values < 2:
        raise ValueError(f"n_values must be >= 2 (one token leaves nothing to recall), got {n_values}")
    rewrites = number_in_range(rewrites, "rewrites", 0.0, 1.0)
    n_trials, seed = positive_int(n_trials, "n_trials"), nonnegative_int(seed, "seed")
    if keys == "orthogonal" and n_pairs > d_k:
        raise ValueError(f"orthogonal keys need n_pairs <= d_k, got n_pairs={n_pairs} and d_k={d_k}")
    return n_pairs, d_k, d_v, n_values, keys, rewrites, n_trials, seed


def tune_memory(
    memory: str, n_pairs: int, d_k: int, *, grid: ArrayLike | None = None, d_v: int | None = None,
    n_values: int = 8, keys: str = "random", rewrites: float = 0.0, n_trials: int = 64, seed: int = 1,
) -> float:
    r"""The knob of ``"decayed"`` or ``"delta rule"`` that recalls best on sequences of ``seed``.

    The decay :math:`\lambda` of ``"decayed"`` and the strength :math:`\eta` of
    ``"delta rule"`` (:data:`TUNED_KNOBS`) are picked by recall accuracy on the task of
    :func:`memory_recall` built with this ``seed``; :func:`memory_recall` tunes on ``seed + 1``
    and measures on ``seed``, so the knob is never chosen on the sequences it is scored on.
    The whole grid runs as one batch; on a tie the first grid value wins (the smallest, with
    the default grids).

    Parameters
    ----------
    memory : {"decayed", "delta rule"}
    n_pairs, d_k, d_v, n_values, keys, rewrites, n_trials
        The task, as in :func:`memory_recall`.
    grid : array_like of float, optional
        The values tried, each in ``(0, 1]``; default the grid of :data:`TUNED_KNOBS`.
    seed : int, default 1
        Seed of the tuning sequences.

    Returns
    -------
    float
        The best value of the grid.

    Raises
    ------
    TypeError, ValueError
        ``memory`` without a knob; a grid that is empty, not a vector or outside ``(0, 1]``;
        a bad task argument, as :func:`memory_recall`.

    Examples
    --------
    >>> tune_memory("delta rule", 16, 16)    # small steps: close to plain addition, less damage
    0.1
    >>> tune_memory("delta rule", 16, 16, rewrites=1.0) > 0.1    # keys written twice: overwriting pays
    True
    """
    memory = choice(memory, TUNED_KNOBS, "memory")
    knob, default_grid = TUNED_KNOBS[memory]
    grid = np.asarray(default_grid, dtype=float) if grid is None else as_float_array(
        grid, "grid", min_ndim=1, max_ndim=1, nonempty=True, finite=True)
    if np.any(grid <= 0) or np.any(grid > 1):
        raise ValueError(f"grid values must be in (0, 1] for the {knob} of {memory!r}, got {grid}")
    task = _recall_task(*_check_task(n_pairs, d_k, d_v, n_values, keys, rewrites, n_trials, seed))
    return float(grid[int(np.argmax(_grid_accuracy(memory, task, grid)))])


def _grid_accuracy(memory: str, task: _RecallTask, grid: np.ndarray) -> np.ndarray:
    """Recall accuracy of ``memory`` at every knob value of ``grid``, run as one leading batch: (g,)."""
    shape = (grid.size, *task.written_keys.shape)
    keys = np.broadcast_to(task.written_keys, shape)  # (g, trials, n_writes, d_k)
    values = np.broadcast_to(task.written_values, (grid.size, *task.written_values.shape))  # (g, trials, n_writes, d_v)
    knob = grid[:, None, None]  # (g, 1, 1): broadcasts to (g, trials, n_writes)
    recurrence = decayed_linear_attention if memory == "decayed" else delta_rule_attention
    _, state = recurrence(keys, keys, values, knob, return_state=True)  # (g, trials, d_k, d_v)
    recalled = task.keys @ state  # (g, trials, n_pairs, d_v)
    correct = (recalled @ task.embeddings.T).argmax(-1) == task.targets  # (g, trials, n_pairs)
    return correct.mean(axis=(1, 2))


def memory_recall(
    memory: str, n_pairs: int, d_k: int, *, d_v: int | None = None, n_values: int = 8, keys: str = "random",
    rewrites: float = 0.0, decay: float | None = None, strength: float | None = None,
    softmax_scale: float = 16.0, n_trials: int = 64, seed: int = 0,
) -> RecallResult:
    r"""Write ``n_pairs`` (key, value) pairs into a memory, query every key, count the values recalled.

    A training-free construction of chapter 12's associative recall: in each of ``n_trials``
    sequences the keys are ``n_pairs`` distinct unit vectors of width ``d_k`` (random
    directions, or orthonormal rows with ``keys="orthogonal"``), each paired with a value
    token drawn uniformly from ``n_values`` tokens, embedded as fixed random unit vectors of
    width ``d_v``. The pairs are written in order; with ``rewrites > 0`` a share of the keys,
    chosen at random, is then written a second time, in random order, with a token other
    than its first one, and the *newest* token is the one to recall. Then each key is the
    query, the memory returns a vector :math:`o`, and :math:`o` is decoded to the token whose
    embedding :math:`e` has the largest :math:`o \cdot e` (a linear read-out, like a trained
    model's output layer). The memories (:data:`RECALL_MEMORIES`):

    * ``"softmax"``: :math:`o = \operatorname{softmax}(s\, q K^\top) V` over all writes, with
      ``s = softmax_scale``: the cache grows with the writes; it has no positions, so it
      cannot tell a key's newest write from its first;
    * ``"softmax window"``: the same over the last :math:`m` writes only, :math:`m` =
      :func:`equal_state_window`: a cache as small as the fixed state;
    * ``"linear"``: :math:`F = \sum_t k_t^\top v_t`, :math:`o = q F`;
    * ``"decayed"``: :func:`attn_core.decayed_linear_attention` with a constant ``decay``;
    * ``"delta rule"``: :func:`attn_core.delta_rule_attention` with a constant ``strength``;
    * ``"least squares"``: :math:`F = K^{+} V`, the ``d_k x d_v`` matrix whose recalls of the
      final pairs (each key with its newest value) have the least squared error;
    * ``"fitted state"``: a ``d_k x d_v`` matrix fitted to *decode* the final pairs: 100
      steps of Adam on the cross-entropy of the scores :math:`q F e^\top` (multiclass
      logistic regression), so a lower bound on what the best such matrix decodes.

    The last two are computed from all pairs at once, knowing which value is the newest: they
    are not recurrences but references for what one ``d_k x d_v`` state read as :math:`q F`
    can hold, least squares in recalled vectors, the fitted state in decoded tokens.

    With ``n_pairs <= d_k`` orthonormal keys, linear attention, the delta rule with
    ``strength = 1`` and least squares return every stored value exactly. With
    ``n_pairs > d_k`` the keys are linearly dependent, so no matrix returns every stored
    *vector* (``error > 0``); whether the *token* is still decoded is what ``accuracy``
    measures, and a linear read-out of tokens holds more than ``d_k`` pairs.

    ``decay`` and ``strength`` left at ``None`` are tuned (:func:`tune_memory`) on other
    sequences of the same task (``seed + 1``) than those measured (``seed``); the values used
    are in the result.

    Parameters
    ----------
    memory : str
        One of :data:`RECALL_MEMORIES`.
    n_pairs : int
        Distinct keys written per sequence, >= 1.
    d_k : int
        Key width, >= 1: the fixed state is ``d_k x d_v``.
    d_v : int, optional
        Value width, default ``d_k``.
    n_values : int, default 8
        Value tokens (chapter 12's task has 8); chance accuracy is ``1 / n_values``. >= 2.
    keys : {"random", "orthogonal"}, default "random"
        ``"orthogonal"`` needs ``n_pairs <= d_k``.
    rewrites : float, default 0.0
        The share of keys written a second time (``round(rewrites * n_pairs)`` keys), in
        ``[0, 1]``.
    decay : float, optional
        :math:`\lambda` of ``"decayed"``, in ``(0, 1]``; default tuned.
    strength : float, optional
        The writing strength :math:`\eta` of ``"delta rule"``, in ``(0, 1]``; default tuned.
    softmax_scale : float, default 16.0
        The factor on the scores :math:`q \cdot k` of the two softmax memories, > 0. Unit
        keys score 1 on themselves, so a large factor lets a query pick its own key out
        (what a trained model achieves with long keys).
    n_trials : int, default 64
        Sequences, >= 1.
    seed : int, default 0
        Seeds keys, values and the value embeddings.

    Returns
    -------
    RecallResult
        With ``state_size`` from :func:`state_sizes` (of all writes) and the ``decay`` or
        ``strength`` used.

    Raises
    ------
    TypeError, ValueError
        An unknown ``memory`` or ``keys``; a size not a whole number >= 1 (``n_values`` >= 2);
        ``decay`` or ``strength`` outside ``(0, 1]``; ``rewrites`` outside ``[0, 1]``;
        ``softmax_scale`` not > 0; orthogonal keys with ``n_pairs > d_k``.

    Examples
    --------
    Four orthonormal keys fit a 4 x 4 state exactly; eight random ones do not.

    >>> memory_recall("linear", 4, 4, keys="orthogonal").error < 1e-12
    True
    >>> result = memory_recall("linear", 8, 4)
    >>> result.state_size, result.error > 0.5
    (16, True)
    >>> memory_recall("delta rule", 16, 16).strength    # tuned on seed 1
    0.1
    """
    memory = choice(memory, RECALL_MEMORIES, "memory")
    task_arguments = _check_task(n_pairs, d_k, d_v, n_values, keys, rewrites, n_trials, seed)
    n_pairs, d_k, d_v, n_values, keys, rewrites, n_trials, seed = task_arguments
    if decay is not None:
        decay = number_in_range(decay, "decay", 0.0, 1.0, low_open=True)
    if strength is not None:
        strength = number_in_range(strength, "strength", 0.0, 1.0, low_open=True)
    softmax_scale = positive_number(softmax_scale, "softmax_scale")
    knob = None
    if memory in TUNED_KNOBS:
        knob = decay if memory == "decayed" else strength
        if knob is None:
            tuning = _recall_task(n_pairs, d_k, d_v, n_values, keys, rewrites, n_trials, seed + 1)
            grid = np.asarray(TUNED_KNOBS[memory][1], dtype=float)
            knob = float(grid[int(np.argmax(_grid_accuracy(memory, tuning, grid)))])
    task = _recall_task(*task_arguments)
    recalled = _recall(memory, task, knob, softmax_scale, equal_state_window(d_k, d_v))  # (trials, n_pairs, d_v)
    correct = (recalled @ task.embeddings.T).argmax(-1) == task.targets  # (trials, n_pairs)
    target_vectors = task.embeddings[task.targets]  # (trials, n_pairs, d_v)
    error = np.linalg.norm(recalled - target_vectors, axis=-1) / np.linalg.norm(target_vectors, axis=-1)
    newest_first = np.argsort(-task.last_write, axis=1)  # (trials, n_pairs)
    n_writes = task.written_keys.shape[1]
    return RecallResult(memory=memory, n_pairs=n_pairs, d_k=d_k, d_v=d_v,
                        state_size=state_sizes(n_writes, d_k, d_v)[memory], accuracy=float(correct.mean()),
                        accuracy_by_age=np.take_along_axis(correct, newest_first, axis=1).mean(0),
                        error=float(error.mean()), chance=1.0 / n_values,
                        decay=knob if memory == "decayed" else None,
                        strength=knob if memory == "delta rule" else None, rewrites=rewrites)


def _recall(memory: str, task: _RecallTask, knob: float | None, softmax_scale: float, window: int) -> np.ndarray:
    """What each memory returns for every key used as the query: (trials, n_pairs, d_v)."""
    k, v = task.written_keys, task.written_values
    if memory in ("softmax", "softmax window"):
        kept = slice(None) if memory == "softmax" else slice(-window, None)
        output, _ = scaled_dot_product_attention(task.keys, k[:, kept], v[:, kept], scale=softmax_scale)
        return output
    if memory == "linear":
        state = np.swapaxes(k, -1, -2) @ v  # (trials, d_k, d_v): sum of k_t^T v_t
    elif memory == "decayed":
        _, state = decayed_linear_attention(k, k, v, knob, return_state=True)  # (trials, d_k, d_v)
    elif memory == "delta rule":
        _, state = delta_rule_attention(k, k, v, knob, return_state=True)  # (trials, d_k, d_v)
    elif memory == "least squares":
        state = np.linalg.pinv(task.keys) @ task.embeddings[task.targets]  # (trials, d_k, d_v): K^+ V
    else:  # fitted state
        state = _fitted_state(task.keys, task.targets, task.embeddings)
    return task.keys @ state  # (trials, n_pairs, d_v): q F for every key


def _fitted_state(keys: np.ndarray, targets: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """A (trials, d_k, d_v) state fitted by Adam on the cross-entropy of the scores q F e^T."""
    one_hot = np.eye(embeddings.shape[0])[targets]  # (trials, n_pairs, n_values)
    keys_t = np.swapaxes(keys, -1, -2)  # (trials, d_k, n_pairs)
    state = np.zeros((keys.shape[0], keys.shape[-1], embeddings.shape[-1]))  # (trials, d_k, d_v)
    mean, square = np.zeros_like(state), np.zeros_like(state)
    for step in range(1, _FIT_STEPS + 1):
        scores = keys @ state @ embeddings.T  # (trials, n_pairs, n_values)
        probabilities = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        gradient = keys_t @ ((probabilities - one_hot) @ embeddings) / keys.shape[-2]  # (trials, d_k, d_v)
        mean = 0.9 * mean + 0.1 * gradient
        square = 0.999 * square + 0.001 * gradient**2
        state -= _FIT_RATE * (mean / (1 - 0.9**step)) / (np.sqrt(square / (1 - 0.999**step)) + 1e-8)
    return state


def memory_recall_sweep(
    memories: tuple[str, ...] | list[str], n_pairs: int | list[int] | tuple[int, ...],
    d_k: int | list[int] | tuple[int, ...], **options: object,
) -> list[RecallResult]:
    """:func:`memory_recall` over every memory, number of pairs and key width given.

    Pass a list for ``n_pairs`` (recall against the number of pairs) or for ``d_k`` (against
    the state size, ``d_k * d_v``; with the default ``d_v = d_k`` it is ``d_k ** 2``). The
    same ``seed`` for every cell, so the memories see the same keys and values. The decay of
    ``"decayed"`` and the strength of ``"delta rule"`` are tuned in every cell on other
    sequences (``seed + 1``) unless given (:func:`tune_memory`); each result records the
    value used.

    Parameters
    ----------
    memories : list of str
        Names in :data:`RECALL_MEMORIES`.
    n_pairs, d_k : int or list of int
    **options
        Passed on to :func:`memory_recall` (``d_v``, ``n_values``, ``rewrites``, ``decay``,
        ``strength``, ...).

    Returns
    -------
    list of RecallResult
        In the order memory, then ``n_pairs``, then ``d_k``.

    Raises
    ------
    TypeError, ValueError
        As :func:`memory_recall`; an empty list.

    Examples
    --------
    >>> rows = memory_recall_sweep(["linear", "softmax window"], 16, [4, 8], n_trials=8)
    >>> [(r.memory, r.state_size) for r in rows]
    [('linear', 16), ('linear', 64), ('softmax window', 16), ('softmax window', 64)]
    >>> [r.strength for r in memory_recall_sweep(["delta rule"], 64, [4, 64])]    # tuned per cell
    [0.03, 0.25]
    """
    lists = []
    for name, value in (("memories", memories), ("n_pairs", n_pairs), ("d_k", d_k)):
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            raise ValueError(f"{name} must not be empty")
        lists.append(items)
    return [memory_recall(memory, pairs, width, **options)  # type: ignore[arg-type]
            for memory in lists[0] for pairs in lists[1] for width in lists[2]]
