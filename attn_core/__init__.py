"""attn_core: the maths of attention in small, tested numpy functions.

Everything here is numpy only. Figures live in :mod:`attn_core.plot`, explorers (widgets)
in :mod:`attn_core.widgets`; import those explicitly.

Conventions (used by every function):

* row vectors: a sequence is an array ``(..., n, d)``; leading dimensions broadcast;
* weights are ``(..., n_q, n_k)``: row i is how query i spreads its attention over the keys;
* masks are boolean, ``True`` = may attend; a query with no allowed key gets zeros, never NaN.

Positional encodings are in :mod:`attn_core.positions`, the approximate and sparse variants
in :mod:`attn_core.variants`.
"""

from .attention import attention_mask, scaled_dot_product_attention, scaled_dot_product_attention_backward
from .masks import bigbird_mask, causal_mask, fixed_mask, padding_mask, sliding_window_mask, strided_mask
from .multihead import KVCache, MultiHeadAttention, kv_cache_bytes
from .pooling import KERNELS, kernel_scores, nadaraya_watson
from .scores import (
    additive_scores,
    bilinear_scores,
    cosine_scores,
    dot_product_scores,
    location_scores,
    scaled_dot_product_scores,
)
from .tiled import tiled_attention
from .softmax import attention_entropy, naive_softmax, softmax, softmax_backward, sparsemax
from .toy import (
    embed_tokens,
    key_value_memory,
    query_key_projections,
    regression_data,
    regression_target,
    summary_readout,
)

__version__ = "0.1.0"

__all__ = [
    "softmax",
    "softmax_backward",
    "naive_softmax",
    "sparsemax",
    "attention_entropy",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "attention_mask",
    "tiled_attention",
    "causal_mask",
    "padding_mask",
    "sliding_window_mask",
    "strided_mask",
    "fixed_mask",
    "bigbird_mask",
    "MultiHeadAttention",
    "KVCache",
    "kv_cache_bytes",
    "dot_product_scores",
    "scaled_dot_product_scores",
    "bilinear_scores",
    "additive_scores",
    "cosine_scores",
    "location_scores",
    "KERNELS",
    "kernel_scores",
    "nadaraya_watson",
    "regression_target",
    "regression_data",
    "key_value_memory",
    "summary_readout",
    "embed_tokens",
    "query_key_projections",
]
