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


# ------------------------------------------------------------------ after the review (findings 1, 3, 9, 10, 13, 14, 18, 20, 21)
def test_warnings_and_stderr_are_captured_reported_and_cost_nothing(capsys):
    """nbgrader scores a grade cell with any stderr output 0: a correct function that warns or
    prints to stderr must not write there, and still gets its points."""
    import sys
    import warnings

    def noisy(x):
        warnings.warn("debug")
        warnings.warn("old", DeprecationWarning)
        print("here", file=sys.stderr)
        return good_softmax(x)

    result = check_softmax(noisy)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert result.passed and result.points(2) == 2.0
    assert "your function warned (UserWarning: debug)" in captured.out and "wrote to stderr ('here')" in captured.out


def test_a_function_that_calls_attn_core_fails():
    import attn_core

    result = check_softmax(lambda x: attn_core.softmax(x), verbose=False)
    assert result.status == "failed" and result.points(2) == 0.0
    assert "your function calls attn_core (attn_core.softmax.softmax)" in result.message
    outcome = call_safely(lambda: attn_core.softmax(np.zeros(2)))
    assert outcome.library_calls == ["attn_core.softmax.softmax"]


def test_a_function_that_swallows_the_timeout_is_still_stopped():
    import threading

    def swallows(x):
        while True:
            try:
                while True:
                    pass
            except Exception:  # noqa: BLE001 - what a student might write
                pass

    before = threading.active_count()
    result = check_softmax(swallows, timeout=0.2, verbose=False)
    assert "did not finish within 0.2 s" in result.message and "still running" not in result.message
    time.sleep(0.2)
    assert threading.active_count() == before


def test_a_function_that_will_not_stop_is_reported_as_still_running():
    def stubborn(x):
        end = time.perf_counter() + 2.5  # bounded, so the test does not leave a thread behind for long
        while time.perf_counter() < end:
            try:
                while time.perf_counter() < end:
                    pass
            except BaseException:  # noqa: BLE001
                pass

    result = check_softmax(stubborn, timeout=0.2, verbose=False)
    assert "still running in the background" in result.message and "restart the kernel" in result.message
    time.sleep(2.5)


def test_another_float_dtype_is_named_before_the_values():
    result = check_softmax(lambda x: good_softmax(x).astype(np.float16), verbose=False)
    assert "is float16; expected float64" in result.message, result.message


def test_not_yet_done_names_the_unfinished_helper():
    def split_heads(x, n):
        raise NotImplementedError()

    def uses_helper(x):
        return split_heads(x, 2)

    result = check_softmax(uses_helper, verbose=False)
    assert result.status == "not done" and "it calls `split_heads`, which still raises NotImplementedError" in result.message

    def only_batches(x):
        if x.ndim > 2:
            raise NotImplementedError()
        return good_softmax(x)

    result = check_softmax(only_batches, verbose=False)
    assert result.status == "failed" and "raised NotImplementedError" in result.message


def test_only_edge_cases_wrong_scores_half():
    float64 = lambda x: good_softmax(x.astype(np.float64))  # noqa: E731 - right, except float32 in, float64 out
    result = check_softmax(float64, verbose=False)
    assert result.partial and result.points(2) == 1.0 and "costs half the points" in result.message
    wrong = check_softmax(lambda x: np.exp(x), verbose=False)  # wrong on the ordinary cases too
    assert not wrong.partial and wrong.points(2) == 0.0


def test_a_large_random_input_is_shown_as_the_call_that_rebuilds_it():
    from attn_core.workbooks.feedback import random_array

    x = random_array(60, (2, 4, 4))
    result = check_function("double", lambda a: a * 3, lambda a: a * 2, [Case("big", (x,))], argument_names=("a",),
                            hint="h", verbose=False)
    assert "rebuild it with random_array(60, (2, 4, 4))" in result.message
    np.testing.assert_array_equal(random_array(60, (2, 4, 4)), x)


def test_a_zero_row_is_blamed_on_a_missing_key_only_in_an_empty_row_case():
    expected = lambda a: a * 0  # noqa: E731 - a legitimate all-zero answer
    args = (np.ones((2, 3)),)
    plain = check_function("f", lambda a: a, expected, [Case("c", args)], argument_names=("a",), hint="h",
                           verbose=False)
    assert "no allowed key" not in plain.message
    empty = check_function("f", lambda a: a, expected, [Case("c", args, kind="empty_row")], argument_names=("a",),
                           hint="h", verbose=False)
    assert "no allowed key" in empty.message


def test_patching_the_grader_from_a_solution_cell_does_not_change_the_hidden_score(monkeypatch):
    """The reviewer's cheat (patch Result.points) no longer changes the score; patching the check's
    reference fools the visible check, not hidden_points, which re-imports attn_core."""
    from attn_core.workbooks import feedback
    from attn_core.workbooks import softmax as module

    identity = lambda x: x  # noqa: E731
    monkeypatch.setattr(feedback.Result, "points", lambda self, maximum: float(maximum))
    assert check_softmax(identity, verbose=False).points(2) == 0.0
    monkeypatch.setattr(module, "softmax", lambda x, **kwargs: x)  # the reference now agrees with the cheat
    assert module.check_softmax(identity, verbose=False).passed  # the visible check is fooled ...
    assert feedback.hidden_points(module.check_softmax, 2, identity) == 0.0  # ... the hidden one is not
    assert feedback.hidden_points(module.check_softmax, 2, good_softmax) == 2.0
    assert feedback.hidden_points(lambda f: None, 2, good_softmax) == 0.0  # a replaced check scores nothing


def test_a_failing_helper_of_a_later_exercise_is_named():
    """Exercise 3 of workbook 8 uses the student's split_heads: when both fail, the message says
    which one to fix first (the helper is looked up where the student's function was defined)."""
    from attn_core.workbooks.multihead import check_multi_head_attention

    namespace = {"np": np}
    exec("def split_heads(x, n):\n    return x\n"  # wrong: nothing is split
         "def multi_head_attention(x, w_q, w_k, w_v, w_o, n_heads, causal):\n"
         "    q = split_heads(x @ w_q, n_heads)\n    return q, q\n", namespace)
    result = check_multi_head_attention(namespace["multi_head_attention"], verbose=False)
    assert "Note: your `split_heads`, which this exercise builds on, does not pass its own check yet" in result.message
