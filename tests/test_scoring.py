"""attn_core.scores.all_scores: the six score functions side by side, against plain loops."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.scores import SCORE_FUNCTIONS, all_scores


def params(d, n_k, h=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "bilinear_w": rng.standard_normal((d, d)),
        "additive_w_q": rng.standard_normal((d, h)),
        "additive_w_k": rng.standard_normal((d, h)),
        "additive_w_v": rng.standard_normal(h),
        "location_w": rng.standard_normal((d, n_k)),
    }


def plain_loop_scores(q, k, p):
    """Each score written out with Python loops over i, j and the coordinates."""
    d, h = len(q[0]), len(p["additive_w_v"])

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))

    def row_times(row, w):
        return [sum(row[a] * w[a][o] for a in range(len(row))) for o in range(len(w[0]))]

    out = {name: np.zeros((len(q), len(k))) for name in SCORE_FUNCTIONS}
    for i, qi in enumerate(q):
        loc = row_times(qi, p["location_w"])
        for j, kj in enumerate(k):
            out["dot"][i, j] = dot(qi, kj)
            out["scaled dot"][i, j] = dot(qi, kj) / math.sqrt(d)
            out["bilinear"][i, j] = dot(row_times(qi, p["bilinear_w"]), kj)
            hidden = [math.tanh(a + b) for a, b in zip(row_times(qi, p["additive_w_q"]),
                                                      row_times(kj, p["additive_w_k"]))]
            out["additive"][i, j] = sum(p["additive_w_v"][u] * hidden[u] for u in range(h))
            out["cosine"][i, j] = dot(qi, kj) / math.sqrt(dot(qi, qi) * dot(kj, kj))
            out["location"][i, j] = loc[j]
    return out


def test_order_and_shapes():
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    scores = all_scores(q, k, **params(2, 4))
    assert tuple(scores) == SCORE_FUNCTIONS
    assert all(s.shape == (3, 4) for s in scores.values())


def test_against_plain_loops():
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal((3, 5)), rng.standard_normal((6, 5))
    p = params(5, 6)
    got = all_scores(q, k, **p)
    expected = plain_loop_scores(q.tolist(), k.tolist(), {n: v.tolist() for n, v in p.items()})
    for name in SCORE_FUNCTIONS:
        assert_allclose(got[name], expected[name], atol=1e-12, err_msg=name)


def test_by_hand():
    # q = (1, 0); keys (2, 0) and (0, 1); W turns the query by +90 degrees
    scores = all_scores([[1.0, 0.0]], [[2.0, 0.0], [0.0, 1.0]],
                        bilinear_w=[[0.0, 1.0], [-1.0, 0.0]],
                        additive_w_q=[[1.0], [0.0]], additive_w_k=[[0.5], [0.0]],
                        additive_w_v=[2.0], location_w=[[0.0, 3.0], [0.0, 0.0]])
    assert_allclose(scores["dot"], [[2.0, 0.0]])
    assert_allclose(scores["scaled dot"], [[2 / math.sqrt(2), 0.0]])
    assert_allclose(scores["bilinear"], [[0.0, 1.0]])
    assert_allclose(scores["additive"], [[2 * math.tanh(2.0), 2 * math.tanh(1.0)]])
    assert_allclose(scores["cosine"], [[1.0, 0.0]])
    assert_allclose(scores["location"], [[0.0, 3.0]])


def test_batch_dimensions_broadcast():
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4))
    p = params(4, 5)
    batched = all_scores(q, k, **p)
    single = all_scores(q[1], k, **p)
    for name in SCORE_FUNCTIONS:
        assert batched[name].shape == (2, 3, 5)
        assert_allclose(batched[name][1], single[name])


def test_permuting_keys_permutes_content_scores_but_not_location():
    """What chapter 3 shows: only the location score ignores what the keys contain."""
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    p = params(2, 4)
    order = np.array([2, 0, 3, 1])
    before, after = all_scores(q, k, **p), all_scores(q, k[order], **p)
    for name in SCORE_FUNCTIONS[:-1]:
        assert_allclose(after[name], before[name][:, order])
    assert_allclose(after["location"], before["location"])


def test_bad_input_names_the_argument():
    p = params(2, 4)
    with pytest.raises(ValueError, match="location_w needs one column per key"):
        all_scores(np.ones((1, 2)), np.ones((3, 2)), **p)
    with pytest.raises(ValueError, match="same width"):
        all_scores(np.ones((1, 3)), np.ones((4, 2)), **p)
    with pytest.raises(TypeError, match="k \\(keys\\)"):
        all_scores(np.ones((1, 2)), "keys", **p)
    assert ac.softmax(all_scores(np.ones((1, 2)), np.ones((4, 2)), **p)["dot"]).sum() == pytest.approx(1.0)
