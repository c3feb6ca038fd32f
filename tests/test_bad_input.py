"""Bad input raises ValueError/TypeError at the public entry point, naming the argument and shapes."""

import numpy as np
import pytest

import attn_core as ac
from attn_core.experiments.qkv import regression_data
from attn_core.experiments.why_attention import key_value_memory

q = np.ones((3, 4))
k = np.ones((5, 4))
v = np.ones((5, 2))


def sdpa(**overrides):
    args = {"q": q, "k": k, "v": v} | overrides
    return ac.scaled_dot_product_attention(args.pop("q"), args.pop("k"), args.pop("v"), **args)


@pytest.mark.parametrize(
    "call, error, message",
    [
        # wrong rank
        (lambda: sdpa(q=np.ones(4)), ValueError, r"q \(queries\) must be a matrix .*shape \(4,\)"),
        (lambda: sdpa(v=np.float64(1.0)), ValueError, r"v \(values\) must be a matrix .*shape \(\)"),
        # mismatched d_k and lengths
        (lambda: sdpa(k=np.ones((5, 3))), ValueError, r"d_k.*\(3, 4\).*d_k=4.*\(5, 3\).*d_k=3"),
        (lambda: sdpa(v=np.ones((6, 2))), ValueError, r"same length n_k.*\(5, 4\).*n_k=5.*\(6, 2\).*n_k=6"),
        # batch dimensions that do not broadcast
        (lambda: sdpa(q=np.ones((2, 3, 4)), k=np.ones((3, 5, 4)), v=np.ones((3, 5, 2))), ValueError,
         r"batch dimensions.*q \(2, 3, 4\).*k \(3, 5, 4\)"),
        # masks
        (lambda: sdpa(mask=np.ones((3, 4), dtype=bool)), ValueError, r"mask of shape \(3, 4\) does not broadcast.*\(3, 5\)"),
        (lambda: sdpa(mask=np.ones((3, 5))), TypeError, r"mask must be boolean.*float64"),
        (lambda: sdpa(mask=np.ones((3, 5), dtype=int)), TypeError, r"mask must be boolean.*int"),
        (lambda: sdpa(mask="all"), TypeError, r"mask must be a boolean array"),
        (lambda: sdpa(causal="yes"), TypeError, r"causal must be True or False"),
        # non-numeric data and None
        (lambda: sdpa(q=None), TypeError, r"q \(queries\) must be an array of numbers, got None"),
        (lambda: sdpa(k=[["a", "b", "c", "d"]] * 5), TypeError, r"k \(keys\) must be an array of numbers, got dtype <U1"),
        (lambda: sdpa(v="values"), TypeError, r"v \(values\) must be an array of numbers, got the string"),
        (lambda: sdpa(q=[[1, 2], [3]]), ValueError, r"q \(queries\) must be a rectangular array"),
        (lambda: sdpa(q=q.astype(bool)), TypeError, r"q \(queries\) has boolean dtype"),
        (lambda: sdpa(q=q.astype(complex)), TypeError, r"q \(queries\) must hold real numbers"),
        (lambda: sdpa(scale=0.0), ValueError, r"scale must be a finite number > 0, got 0.0"),
        (lambda: sdpa(scale="big"), TypeError, r"scale must be a positive real number"),
        # softmax
        (lambda: ac.softmax(None), TypeError, r"x must be an array of numbers, got None"),
        (lambda: ac.softmax(np.float64(3.0)), ValueError, r"x must be a vector \(n,\); got shape \(\)"),
        (lambda: ac.softmax([1.0, 2.0], temperature=0), ValueError, r"temperature must be a finite number > 0, got 0"),
        (lambda: ac.softmax([1.0, 2.0], temperature=-1.0), ValueError, r"temperature .*> 0, got -1.0"),
        (lambda: ac.softmax([1.0, 2.0], temperature=float("nan")), ValueError, r"temperature .*got nan"),
        (lambda: ac.softmax([1.0, 2.0], temperature=float("inf")), ValueError, r"temperature .*got inf"),
        (lambda: ac.softmax([1.0, 2.0], temperature=None), TypeError, r"temperature must be a positive real number, got None"),
        (lambda: ac.softmax([1.0, 2.0], temperature=True), TypeError, r"temperature must be a positive real number"),
        (lambda: ac.softmax([1.0, 2.0], mask=[1, 0]), TypeError, r"mask must be boolean"),
        (lambda: ac.softmax([1.0, 2.0], mask=[True, False, True]), ValueError, r"mask of shape \(3,\).*scores x of shape \(2,\)"),
        (lambda: ac.softmax([1.0, 2.0], axis=1), ValueError, r"axis=1 is out of range.*1 dimensions"),
        (lambda: ac.softmax([1.0, 2.0], axis=0.5), TypeError, r"axis must be an integer"),
        (lambda: ac.sparsemax(["x"]), TypeError, r"x must be an array of numbers"),
        (lambda: ac.attention_entropy([0.5, -0.5]), ValueError, r"weights must be non-negative"),
        # scores
        (lambda: ac.dot_product_scores(q, np.ones((5, 3))), ValueError, r"same width d_k.*\(3, 4\).*\(5, 3\)"),
        (lambda: ac.cosine_scores(None, k), TypeError, r"q \(queries\) must be an array of numbers, got None"),
        (lambda: ac.bilinear_scores(q, k, np.ones((3, 3))), ValueError, r"w must have shape \(4, 4\).*got \(3, 3\)"),
        (lambda: ac.additive_scores(q, k, np.ones((4, 2)), np.ones((4, 3)), np.ones(2)), ValueError,
         r"w_k must have shape \(4, 2\).*got \(4, 3\)"),
        (lambda: ac.additive_scores(q, k, np.ones((4, 2)), np.ones((4, 2)), np.ones(3)), ValueError,
         r"w_v must have shape \(2,\).*got \(3,\)"),
        (lambda: ac.location_scores(q, np.ones((3, 5))), ValueError, r"w must have shape \(d_q=4, n_k\), got \(3, 5\)"),
        # masks, pooling, toys
        (lambda: ac.causal_mask(0), ValueError, r"n_q must be >= 1, got 0"),
        (lambda: ac.causal_mask(2.5), TypeError, r"n_q must be a whole number"),
        (lambda: ac.padding_mask([1.5], 3), TypeError, r"lengths must be whole numbers"),
        (lambda: ac.padding_mask([4], 3), ValueError, r"every length must lie in 0..n_k=3, got \[4\]"),
        (lambda: ac.nadaraya_watson([0.0], [0.0, 1.0], [1.0], bandwidth=1.0), ValueError,
         r"one output per input: x_train has 2 points, y_train has shape \(1,\)"),
        (lambda: ac.nadaraya_watson([0.0], [0.0], [1.0], bandwidth=0.0), ValueError, r"bandwidth must be a finite number > 0"),
        (lambda: ac.nadaraya_watson([0.0], [0.0], [1.0], bandwidth=1.0, kernel="cosine"), ValueError,
         r"kernel must be one of \('gaussian', 'boxcar'\)"),
        (lambda: ac.kernel_scores([[0.0, 1.0]], [0.0], bandwidth=1.0), ValueError, r"same dimension: queries \(1, 2\), keys \(1, 1\)"),
        (lambda: regression_data(0), ValueError, r"n must be >= 1"),
        (lambda: key_value_memory(4, d_k=0), ValueError, r"d_k must be >= 1"),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_messages_do_not_come_from_deep_inside_numpy():
    """The error is raised by attn_core's own check, not by a failing matmul."""
    with pytest.raises(ValueError) as info:
        sdpa(k=np.ones((5, 3)))
    assert info.traceback[-1].path.name == "attention.py"
