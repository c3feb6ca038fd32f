"""attn_core.experiments.scoring: the chapter's 2-D query, keys and score parameters."""

import math

import numpy as np
import pytest

from attn_core.experiments.scoring import (
    KEY_ANGLES,
    KEY_LENGTHS,
    example_keys,
    example_parameters,
    query_from_polar,
    weights_by_score_function,
)
from attn_core.scores import SCORE_FUNCTIONS


@pytest.mark.parametrize("angle, length, expected", [
    (0.0, 2.0, (2.0, 0.0)), (90.0, 1.5, (0.0, 1.5)), (180.0, 1.0, (-1.0, 0.0)),
    (45.0, math.sqrt(2.0), (1.0, 1.0)), (-90.0, 3.0, (0.0, -3.0)),
])
def test_query_from_polar_by_hand(angle, length, expected):
    np.testing.assert_allclose(query_from_polar(angle, length), expected, atol=1e-12)


def test_example_keys_have_the_listed_directions_and_lengths():
    keys = example_keys()
    assert keys.shape == (len(KEY_ANGLES), 2)
    np.testing.assert_allclose(np.hypot(keys[:, 0], keys[:, 1]), KEY_LENGTHS)
    np.testing.assert_allclose(np.degrees(np.arctan2(keys[:, 1], keys[:, 0])) % 360, KEY_ANGLES, atol=1e-9)


def test_example_parameters_turn_by_ninety_degrees_and_repeat_with_the_seed():
    params = example_parameters()
    np.testing.assert_allclose(np.array([1.0, 0.0]) @ params["bilinear_w"], [0.0, 1.0])
    again = example_parameters()
    for name, value in params.items():
        np.testing.assert_array_equal(value, again[name])
    assert not np.array_equal(example_parameters(seed=1)["additive_w_q"], params["additive_w_q"])


def test_weights_by_score_function_dot_row_by_hand():
    query = np.array([1.0, 2.0])
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    state = weights_by_score_function(query, keys, **example_parameters())
    dots = [1.0, 2.0, 3.0, -1.0]
    e = [math.exp(d - 3.0) for d in dots]
    dot = SCORE_FUNCTIONS.index("dot")
    np.testing.assert_allclose(state["scores"]["dot"], dots)
    np.testing.assert_allclose(state["weights"][dot], [x / sum(e) for x in e])
    assert state["weights"].shape == (len(SCORE_FUNCTIONS), 4)
    np.testing.assert_allclose(state["weights"].sum(axis=1), 1.0)


@pytest.mark.parametrize("call, error, message", [
    (lambda: query_from_polar(None, 1.0), TypeError, "angle must be a real number"),
    (lambda: query_from_polar(True, 1.0), TypeError, "angle must be a real number"),
    (lambda: query_from_polar(math.inf, 1.0), ValueError, "angle must be in"),
    (lambda: query_from_polar(math.nan, 1.0), ValueError, "angle must be in"),
    (lambda: query_from_polar(0.0, "1"), TypeError, "length must be a real number"),
    (lambda: query_from_polar(0.0, -0.5), ValueError, r"length must be in \[0, inf\)"),
    (lambda: example_parameters(hidden=2.0), TypeError, "hidden must be a whole number"),
    (lambda: example_parameters(hidden=0), ValueError, "hidden must be >= 1"),
    (lambda: example_parameters(seed=-1), ValueError, "seed must be >= 0"),
    (lambda: example_parameters(seed="0"), TypeError, "seed must be a whole number"),
])
def test_bad_input_is_refused_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_query_of_length_zero_is_the_origin():
    np.testing.assert_array_equal(query_from_polar(30.0, 0.0), [0.0, 0.0])
