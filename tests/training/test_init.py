"""attn_core.training.init: the one initialiser."""

import numpy as np
import pytest

from attn_core.training.init import init_weights


def test_shape_and_scale_follow_fan_in():
    w = init_weights(np.random.default_rng(0), 500, 40)
    assert w.shape == (500, 40)
    assert abs(w.std() - 1 / np.sqrt(500)) < 0.05 / np.sqrt(500)
    # x @ W keeps the size of x: unit-variance inputs give unit-variance outputs
    x = np.random.default_rng(1).standard_normal((2000, 500))
    assert abs((x @ w).std() - 1.0) < 0.1


def test_same_rng_state_same_weights():
    a = init_weights(np.random.default_rng(3), 4, 5)
    b = init_weights(np.random.default_rng(3), 4, 5)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("args, error, message", [
    ((None, 2, 3), TypeError, r"rng must be a numpy Generator"),
    ((0, 2, 3), TypeError, r"rng must be a numpy Generator"),
    ((np.random.default_rng(0), 0, 3), ValueError, r"fan_in must be >= 1, got 0"),
    ((np.random.default_rng(0), 2, -1), ValueError, r"fan_out must be >= 1, got -1"),
    ((np.random.default_rng(0), 2.0, 3), TypeError, r"fan_in must be a whole number"),
    ((np.random.default_rng(0), True, 3), TypeError, r"fan_in must be a whole number"),
    ((np.random.default_rng(0), 2, "3"), TypeError, r"fan_out must be a whole number"),
])
def test_bad_input_is_refused(args, error, message):
    with pytest.raises(error, match=message):
        init_weights(*args)
