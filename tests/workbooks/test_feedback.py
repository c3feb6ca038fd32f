"""The safe runner and the message engine: whatever the student's function does, a check
reports it in words and never raises."""

from __future__ import annotations

import time

import numpy as np
import pytest

from attn_core.workbooks.feedback import Case, Result, call_safely, check_function
from attn_core.workbooks.softmax import check_softmax


def good_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def loops_forever(x):
    while True:
        pass


def test_a_looping_function_is_stopped_quickly_and_reported():
    start = time.perf_counter()
    result = check_softmax(loops_forever, timeout=0.2, verbose=False)
    assert time.perf_counter() - start < 2.0
    assert result.status == "failed" and "did not finish within 0.2 s" in result.message


def test_the_looping_thread_is_interrupted_not_left_running():
    import threading

    before = threading.active_count()
    assert call_safely(loops_forever, (np.zeros(2),), timeout=0.1).timed_out
    time.sleep(0.2)
    assert threading.active_count() == before


@pytest.mark.parametrize("function, fragment", [
    (lambda x: 1 / 0, "raised ZeroDivisionError: division by zero"),
    (lambda x: None, "is None. Did you forget to `return` it?"),
    (lambda x: good_softmax(x).tolist(), "is a Python list"),
    (lambda x: "weights", "is a str"),
    (lambda: 1, "raised TypeError"),
    (good_softmax(np.zeros((1, 2))), "the check needs a function, got ndarray"),
    (lambda x: good_softmax(x).astype(complex), "has dtype complex128"),
    (lambda x: sys_exit(), "raised SystemExit"),
])
def test_a_check_reports_and_never_raises(function, fragment):
    result = check_softmax(function, timeout=1.0, verbose=False)
    assert not result.passed and result.status == "failed"
    assert fragment in result.message, result.message


def sys_exit():
    raise SystemExit(3)


def test_a_stub_is_not_yet_done_and_scores_zero(capsys):
    def stub(x):
        raise NotImplementedError()

    result = check_softmax(stub)
    assert result.status == "not done" and result.points(2) == 0.0 and not result
    assert "not yet done" in capsys.readouterr().out


def test_a_correct_function_gets_a_short_confirmation_and_full_points(capsys):
    result = check_softmax(good_softmax)
    assert result.passed and bool(result) and result.points(2) == 2.0
    printed = capsys.readouterr().out
    assert printed.startswith("✓ softmax: correct") and printed.count("\n") == 1


def test_the_student_inputs_are_copies():
    """A function that scribbles on its input cannot change the reference's next case."""
    def scribbles(x):
        out = good_softmax(x)
        x[...] = 0
        return out

    assert check_softmax(scribbles, verbose=False).passed


def test_the_message_names_the_failing_case_its_inputs_and_a_hint():
    result = check_function("double", lambda x: x * 3, lambda x: x * 2,
                            [Case("a pair", (np.array([1.0, 2.0]),))], argument_names=("x",),
                            hint="multiply by two", verbose=False)
    assert isinstance(result, Result)
    lines = result.message.splitlines()
    assert lines[0] == "✗ double: the result differs from the expected answer first at entry [0]: yours is 3, expected 2 (2 of 2 entries differ)."
    assert lines[1] == "   On case 1 of 1, a pair, with inputs"
    assert lines[2] == "      x = [1., 2.] (shape (2,), float64)"
    assert lines[3] == "   Hint: multiply by two"
