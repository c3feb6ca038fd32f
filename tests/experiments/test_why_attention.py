"""Chapter 1's key-value memory: a fixed summary against attention."""

import numpy as np
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.experiments.why_attention import key_value_memory, summary_readout


def test_summary_readout_is_exact_for_orthogonal_keys_and_degrades_beyond_capacity():
    keys, values = np.eye(8), np.arange(8.0)
    assert_allclose(summary_readout(keys, values, keys), values, atol=1e-12)
    errors = []
    for n in (4, 64):
        keys, values = key_value_memory(n, 16, seed=0)
        errors.append(np.abs(summary_readout(keys, values, keys) - values).mean())
    assert errors[1] > 3 * errors[0]


def test_attention_reads_the_memory_that_the_summary_cannot():
    keys, values = key_value_memory(64, 16, seed=0)
    out, w = ac.scaled_dot_product_attention(keys, keys, values[:, None], scale=40.0)
    assert np.abs(out[:, 0] - values).mean() < 0.05
    assert (np.argmax(w, axis=1) == np.arange(64)).all()


# ------------------------------------------------------------ one look-up at a selectivity (the explorer's maths)
import pytest  # noqa: E402

from attn_core.experiments.why_attention import selective_lookup  # noqa: E402


@pytest.mark.parametrize("beta", [0.0, 1.0, 8.0])
def test_selective_lookup_by_plain_loops(beta):
    keys, values = key_value_memory(5, 4, seed=2)
    lookup = selective_lookup(keys, values, 3, beta)
    scores = [sum(a * b for a, b in zip(keys[3], key)) for key in keys]
    exps = [np.exp(beta * (s - max(scores))) for s in scores]
    assert_allclose(lookup["scores"], scores)
    assert_allclose(lookup["weights"], [e / sum(exps) for e in exps])
    assert lookup["answer"] == pytest.approx(sum(e * v for e, v in zip(exps, values)) / sum(exps))
    assert lookup["average"] == pytest.approx(sum(values) / 5)
    assert lookup["truth"] == values[3]
