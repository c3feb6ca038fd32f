"""The toy data shared by the chapters."""

import pytest
from numpy.testing import assert_array_equal

from attn_core.experiments.data import embed_tokens


def test_embed_tokens_depends_only_on_the_word():
    a = embed_tokens(["the", "cat"], 6, seed=1)
    b = embed_tokens(["dog", "the"], 6, seed=1)
    assert_array_equal(a[0], b[1])
    with pytest.raises(TypeError, match="sequence of strings"):
        embed_tokens("the cat", 4)


def test_bad_input_is_refused_at_the_door_naming_the_argument():
    import numpy as np

    from attn_core.experiments.data import (
        associative_recall,
        query_key_projections,
        sentence_setup,
    )

    with pytest.raises(ValueError, match="tokens must hold at least one token"):
        embed_tokens([], 4)
    with pytest.raises(TypeError, match="tokens must be a sequence of strings"):
        embed_tokens(None, 4)
    with pytest.raises(TypeError, match="seed must be a whole number"):
        embed_tokens(["a"], 4, seed=1.5)
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        query_key_projections(4, 0)
    with pytest.raises(ValueError, match=r"w_q contains inf at index \(0, 0\)"):
        query_key_projections(4, np.random.default_rng(0), d_k=2, w_q=np.full((4, 2), np.inf))
    with pytest.raises(TypeError, match="distance must be a whole number"):
        associative_recall(2, n_pairs=3, n_keys=4, n_values=5, distance="2")
    with pytest.raises(TypeError, match="ordered must be True or False"):
        associative_recall(2, n_pairs=3, n_keys=4, n_values=5, ordered=1)
    with pytest.raises(ValueError, match="tokens: the explorer shows 2 to 12 tokens, got 1"):
        sentence_setup(["a"], 4, query=0, seed=0)
