"""attn_core: the maths of attention in small, tested numpy functions.

Everything here is numpy only. Figures live in :mod:`attn_core.plot`, explorers (widgets)
in :mod:`attn_core.widgets`; import those explicitly.

Conventions (used by every function):

* row vectors: a sequence is an array ``(..., n, d)``; leading dimensions broadcast;
* weights are ``(..., n_q, n_k)``: row i is how query i spreads its attention over the keys;
* masks are boolean, ``True`` = may attend; a query with no allowed key gets zeros, never NaN;
* ``causal=True`` with fewer queries than keys treats the queries as the LAST ``n_q``
  positions (aligned bottom-right, as FlashAttention >= 2.1 and a key/value cache do).

Bad input, one rule for the whole library. Every public function checks its arguments once,
at the door, and raises ``TypeError`` or ``ValueError`` naming the argument and the shape or
value before any arithmetic: ``None``, strings, booleans, complex or object arrays where
numbers are meant; empty arrays, wrong ranks and shapes that do not fit together; masks that
are not boolean or do not broadcast; sizes that are not whole numbers >= 1 (``True`` and
``2.0`` are not); flags other than ``True``/``False``; unknown option strings; temperatures,
scales and widths that are <= 0, NaN or infinite. In the data itself, **NaN comes out as
NaN** (never as a silently finite number), while **an infinity is refused** with a
``ValueError`` such as ``q (queries) contains inf at index (0, 1)``. The one exception: the
scores given to a softmax (and an attention ``bias``) may be ``-inf``, meaning weight 0.
Internally the public functions call private, unchecked kernels (``_name``), so an argument
is checked once however many functions it passes through.

``import attn_core as ac`` gives this library and nothing else. Three rings sit on it, each
imported explicitly, and each imports only the rings below it:

* :mod:`attn_core.training`: the learning machinery (initialiser, losses, Adam, the training
  loop, gradient checking and the small models the chapters train);
* :mod:`attn_core.experiments`: each chapter's toy data and experiments, one module per chapter;
* :mod:`attn_core.plot` (figures) and :mod:`attn_core.widgets` (explorers), again one module
  per chapter, over shared primitives.
"""

from attn_core.attention import (
    attention_mask,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from attn_core.decoding import (
    PagedKVCache,
    RollingKVCache,
    dequantize_int8,
    merge_partial_attention,
    quantize_int8,
    split_kv_attention,
)
from attn_core.fast import fast_scaled_dot_product_attention
from attn_core.latent_attention import MultiHeadLatentAttention, latent_kv_cache_bytes
from attn_core.masks import (
    bigbird_mask,
    causal_mask,
    document_mask,
    fixed_mask,
    padding_mask,
    sliding_window_mask,
    strided_mask,
)
from attn_core.multihead import KVCache, MultiHeadAttention, kv_cache_bytes
from attn_core.pooling import KERNELS, kernel_scores, nadaraya_watson
from attn_core.recurrences import decayed_linear_attention, delta_rule_attention, gated_linear_attention
from attn_core.scores import (
    SCORE_FUNCTIONS,
    additive_scores,
    all_scores,
    bilinear_scores,
    cosine_scores,
    dot_product_scores,
    location_scores,
    scaled_dot_product_scores,
)
from attn_core.softmax import (
    attention_entropy,
    naive_softmax,
    softmax,
    softmax_backward,
    sparsemax,
)
from attn_core.tiled import block_sparse_attention, tiled_attention, tiled_attention_backward

__version__ = "0.1.0"

__all__ = [
    "softmax",
    "softmax_backward",
    "naive_softmax",
    "sparsemax",
    "attention_entropy",
    "scaled_dot_product_attention",
    "fast_scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "attention_mask",
    "tiled_attention",
    "tiled_attention_backward",
    "block_sparse_attention",
    "decayed_linear_attention",
    "delta_rule_attention",
    "gated_linear_attention",
    "split_kv_attention",
    "merge_partial_attention",
    "RollingKVCache",
    "PagedKVCache",
    "quantize_int8",
    "dequantize_int8",
    "causal_mask",
    "padding_mask",
    "sliding_window_mask",
    "strided_mask",
    "fixed_mask",
    "bigbird_mask",
    "document_mask",
    "MultiHeadAttention",
    "KVCache",
    "kv_cache_bytes",
    "MultiHeadLatentAttention",
    "latent_kv_cache_bytes",
    "dot_product_scores",
    "scaled_dot_product_scores",
    "bilinear_scores",
    "additive_scores",
    "cosine_scores",
    "location_scores",
    "SCORE_FUNCTIONS",
    "all_scores",
    "KERNELS",
    "kernel_scores",
    "nadaraya_watson",
]
