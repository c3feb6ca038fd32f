"""Every score function against a plain Python loop written here."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose

import attn_core as ac

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
