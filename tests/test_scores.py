"""Every score function, and all_scores side by side, against plain Python loops written here."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose

import attn_core as ac
from attn_core.scores import SCORE_FUNCTIONS, all_scores

# no subnormal-sized entries: the plain loops below would underflow on them
finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False).map(lambda v: 0.0 if abs(v) < 1e-6 else v)


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def matvec(row, w):
    """row (d_in,) times w (d_in, d_out), as a list."""
    return [sum(row[i] * w[i][o] for i in range(len(row))) for o in range(len(w[0]))]


def loop(fn, q, k):
    return np.array([[fn(qi, kj) for kj in k] for qi in q])


@st.composite
def queries_keys(draw, same_width=True):
    n_q, n_k, d_q = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    d_k = d_q if same_width else draw(st.integers(1, 4))
    q = draw(hnp.arrays(np.float64, (n_q, d_q), elements=finite))
    k = draw(hnp.arrays(np.float64, (n_k, d_k), elements=finite))
    return q, k


@given(queries_keys())
def test_dot(qk):
    q, k = qk
    assert_allclose(ac.dot_product_scores(q, k), loop(dot, q, k), atol=1e-12)


@given(queries_keys())
def test_scaled_dot(qk):
    q, k = qk
    expected = loop(lambda a, b: dot(a, b) / math.sqrt(len(a)), q, k)
    assert_allclose(ac.scaled_dot_product_scores(q, k), expected, atol=1e-12)
    assert_allclose(ac.scaled_dot_product_scores(q, k, scale=0.5), loop(dot, q, k) * 0.5, atol=1e-12)


@given(queries_keys(same_width=False), st.data())
def test_bilinear(qk, data):
    q, k = qk
    w = data.draw(hnp.arrays(np.float64, (q.shape[1], k.shape[1]), elements=finite))
    expected = loop(lambda a, b: dot(matvec(a, w), b), q, k)
    assert_allclose(ac.bilinear_scores(q, k, w), expected, atol=1e-10)


@given(queries_keys(same_width=False), st.integers(1, 5), st.data())
def test_additive(qk, h, data):
    q, k = qk
    w_q = data.draw(hnp.arrays(np.float64, (q.shape[1], h), elements=finite))
    w_k = data.draw(hnp.arrays(np.float64, (k.shape[1], h), elements=finite))
    w_v = data.draw(hnp.arrays(np.float64, (h,), elements=finite))

    def score(a, b):
        hidden = [math.tanh(x + y) for x, y in zip(matvec(a, w_q), matvec(b, w_k))]
        return dot(w_v, hidden)

    assert_allclose(ac.additive_scores(q, k, w_q, w_k, w_v), loop(score, q, k), atol=1e-10)


@given(queries_keys())
def test_cosine(qk):
    q, k = qk

    def score(a, b):
        na, nb = math.sqrt(dot(a, a)), math.sqrt(dot(b, b))
        return 0.0 if na == 0 or nb == 0 else dot(a, b) / (na * nb)

    s = ac.cosine_scores(q, k)
    assert_allclose(s, loop(score, q, k), atol=1e-10)
    assert (np.abs(s) <= 1 + 1e-12).all()


@given(queries_keys(), st.floats(0.1, 10))
def test_cosine_ignores_length(qk, c):
    q, k = qk
    assert_allclose(ac.cosine_scores(q * c, k), ac.cosine_scores(q, k), atol=1e-10)


def test_cosine_of_huge_and_tiny_vectors():
    q = np.array([[1e200, 1e200], [1e-170, 0.0]])
    k = np.array([[1.0, 0.0]])
    assert_allclose(ac.cosine_scores(q, k), [[1 / math.sqrt(2)], [1.0]])


@given(queries_keys(same_width=False), st.data())
def test_location(qk, data):
    q, _ = qk
    n_k = data.draw(st.integers(1, 5))
    w = data.draw(hnp.arrays(np.float64, (q.shape[1], n_k), elements=finite))
    expected = np.array([matvec(qi, w) for qi in q])
    assert_allclose(ac.location_scores(q, w), expected, atol=1e-10)


def test_scores_batch_dims():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4))
    for fn in (ac.dot_product_scores, ac.scaled_dot_product_scores, ac.cosine_scores):
        s = fn(q, k)
        assert s.shape == (2, 3, 5)
        assert_allclose(s[1], fn(q[1], k))


@pytest.mark.parametrize("d_k", [4, 64, 256])
def test_unit_variance_entries_give_dot_products_of_variance_d_k(d_k):
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2000, d_k)), rng.standard_normal((200, d_k))
    var = ac.dot_product_scores(q, k).var()
    assert abs(var / d_k - 1) < 0.1
    assert abs(ac.scaled_dot_product_scores(q, k).var() - 1) < 0.1


# ------------------------------------------------ all_scores: the six side by side
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


# ------------------------------------------------------------------- NaN in, NaN out; bad input
def test_cosine_of_a_nan_vector_is_nan_not_zero():
    """Before: a row holding NaN was treated as a zero vector and scored 0."""
    s = ac.cosine_scores([[np.nan, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]])
    assert np.isnan(s[0]).all()
    assert_allclose(s[1], [1.0, 0.0])


def test_nan_propagates_through_every_score():
    q, k = np.array([[np.nan, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    scores = all_scores(q, k, **params(2, 2))
    for name in SCORE_FUNCTIONS:
        assert np.isnan(scores[name]).all(), name


q_ok, k_ok = np.ones((3, 4)), np.ones((5, 4))


@pytest.mark.parametrize("call, error, message", [
    (lambda: ac.dot_product_scores(np.ones((0, 4)), k_ok), ValueError, r"q \(queries\) must not be empty"),
    (lambda: ac.dot_product_scores(q_ok, np.full((5, 4), -np.inf)), ValueError, r"k \(keys\) contains -inf at index \(0, 0\)"),
    (lambda: ac.scaled_dot_product_scores(q_ok, k_ok, scale=0.0), ValueError, r"scale must be a finite number > 0"),
    (lambda: ac.scaled_dot_product_scores(q_ok, k_ok, scale=float("nan")), ValueError, r"scale must be a finite number > 0"),
    (lambda: ac.scaled_dot_product_scores(q_ok, k_ok, scale="1"), TypeError, r"scale must be a positive real number"),
    (lambda: ac.bilinear_scores(q_ok, k_ok, None), TypeError, r"w must be an array of numbers, got None"),
    (lambda: ac.bilinear_scores(q_ok, k_ok, np.full((4, 4), np.inf)), ValueError, r"w contains inf"),
    (lambda: ac.additive_scores(q_ok, k_ok, np.ones(4), np.ones((4, 2)), np.ones(2)), ValueError, r"w_q must be a matrix"),
    (lambda: ac.additive_scores(q_ok, k_ok, np.ones((4, 0)), np.ones((4, 0)), np.ones(0)), ValueError, r"w_q must not be empty"),
    (lambda: ac.cosine_scores(q_ok, "k"), TypeError, r"k \(keys\) must be an array of numbers, got the string"),
    (lambda: ac.cosine_scores(q_ok.astype(bool), k_ok), TypeError, r"q \(queries\) has boolean dtype"),
    (lambda: ac.location_scores(q_ok, np.ones((4, 5, 1))), ValueError, r"w must have shape \(d_q=4, n_k\), d_q the width of q \(queries\), got \(4, 5, 1\)"),
    (lambda: ac.location_scores(np.ones(4), np.ones((4, 5))), ValueError, r"q \(queries\) must be a matrix"),
    (lambda: all_scores(q_ok, k_ok, **(params(4, 5) | {"location_w": np.ones((4, 6))})), ValueError,
     r"location_w needs one column per key and one row per query dimension: it must be \(d_k=4, n_k=5\)"),
    (lambda: all_scores(q_ok, k_ok, **(params(4, 5) | {"bilinear_w": np.ones((4, 3))})), ValueError,
     r"bilinear_w must have shape \(4, 4\)"),
    (lambda: all_scores(q_ok, k_ok, **(params(4, 5) | {"additive_w_v": np.ones(4)})), ValueError,
     r"additive_w_v must have shape \(3,\)"),
    (lambda: all_scores(q_ok, np.ones((5, 3)), **params(4, 5)), ValueError, r"same width d_k"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
