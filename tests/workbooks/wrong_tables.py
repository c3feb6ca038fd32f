"""The three tests every table of wrong implementations gets, written once.

A test module of wrong implementations defines ``WRONG`` (check, wrong function, a fragment of
the message the check must print) and ``CORRECT`` (check -> a correct function written in the
test), and binds the tests this returns to module-level ``test_*`` names so pytest collects them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from types import ModuleType

import pytest


def checks_of(modules: Iterable[ModuleType]) -> set[Callable]:
    """Every public ``check_*`` function of the given workbook modules."""
    return {getattr(module, name) for module in modules for name in module.__all__ if name.startswith("check_")}


def wrong_table_tests(wrong: list[tuple], correct: dict, checks: set[Callable]) -> tuple[Callable, Callable, Callable]:
    """The tests: each wrong function fails with its message; each correct one passes; every check is covered."""

    def _id(entry) -> str:
        check, _, fragment = entry
        return f"{check.__name__.removeprefix('check_')}: {fragment[:40]}"

    @pytest.mark.parametrize("check, wrong, fragment", wrong, ids=[_id(entry) for entry in wrong])
    def test_a_wrong_implementation_is_caught_with_the_right_message(check, wrong, fragment):
        result = check(wrong, timeout=2.0, verbose=False)
        assert not result.passed, f"{check.__name__} passed a wrong implementation ({fragment})"
        assert fragment in result.message, result.message
        assert "Hint:" in result.message

    @pytest.mark.parametrize("check", list(correct), ids=lambda c: c.__name__)
    def test_a_correct_implementation_written_here_passes(check):
        result = check(correct[check], verbose=False)
        assert result.passed, result.message

    def test_every_check_has_a_correct_and_three_wrong_implementations():
        counts = Counter(check for check, _, _ in wrong)
        assert set(correct) == checks
        assert {check.__name__: counts[check] for check in checks if counts[check] < 3} == {}

    return (test_a_wrong_implementation_is_caught_with_the_right_message,
            test_a_correct_implementation_written_here_passes,
            test_every_check_has_a_correct_and_three_wrong_implementations)
