"""The feedback machinery of the workbooks: run a student's function safely, compare, explain.

A workbook check calls the student's function on a list of :class:`Case` s (fixed small
inputs first, then random inputs, batch dimensions, ``n_q != n_k``, float32, and the edge
cases a careless implementation gets wrong: huge scores, a query with no allowed key). It
compares each answer with attn_core's and, at the first case that fails, prints ONE message
that says in words what is wrong (the shape returned and the shape expected, rows that do
not sum to 1, an overflow, NaN where zeros were due, a known mistake recognised, or the
first differing entry with the inputs that produced it) and a hint, never the solution.

A check never raises at the student: whatever the function does (raises, returns ``None`` or
a list, loops forever), the check reports it. The function runs in a helper thread; after
``timeout`` seconds the check stops waiting and raises an exception *inside* that thread (a
Python loop then stops at its next step). Threads, not processes: a function defined in a
notebook cannot be sent to a new process on macOS (spawn), and threads behave the same in
Jupyter, Colab, plain Python and under pytest-xdist.

Every check returns a :class:`Result`; ``result.points(2)`` is the number an nbgrader test
cell shows (nbgrader reads a number as partial credit), so a stub scores 0 without a
traceback and a correct function scores full marks.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "Mistake", "Result", "Outcome", "call_safely", "check_function", "random_array", "DEFAULT_TIMEOUT"]

#: Seconds a student's function may run on one case before the check gives up on it.
DEFAULT_TIMEOUT = 5.0


@dataclass
class Result:
    """What a check found: ``passed``, and the ``message`` it printed.

    ``status`` is ``"passed"``, ``"not done"`` (the stub still raises NotImplementedError) or
    ``"failed"``. ``bool(result)`` is ``passed``, so ``assert check_x(f)`` works too.
    """

    name: str
    passed: bool
    message: str
    status: str

    def __bool__(self) -> bool:
        return self.passed

    def points(self, maximum: float) -> float:
        """``maximum`` if the check passed, else 0.0: the last line of an nbgrader test cell."""
        return float(maximum) if self.passed else 0.0

    def __repr__(self) -> str:
        return f"Result(name={self.name!r}, status={self.status!r})"


@dataclass
class Case:
    """One call of the student's function: its arguments and what they are, in words.

    ``kind`` names an edge case whose failure has a known cause: ``"overflow"`` (huge
    scores), ``"float32"`` (the answer must stay float32), ``"batch"`` (leading dimensions).
    """

    description: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    kind: str = "values"
    nonfinite_message: str | None = None  # said when the answer has NaN/inf where numbers were due


@dataclass
class Mistake:
    """A known wrong implementation: if the student's answer equals ``function``'s, say ``message``."""

    function: Callable[..., Any]
    message: str


class _TimedOut(Exception):
    """Raised inside the student's thread to stop a function that ran out of time."""


@dataclass
class Outcome:
    """How a call ended: ``value``, or ``error`` (an exception), or ``timed_out``."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False


def call_safely(function: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                *, timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """Call ``function(*args, **kwargs)`` in a helper thread with numpy warnings silenced.

    Never raises: an exception becomes ``Outcome.error``; a call still running after
    ``timeout`` seconds becomes ``Outcome(timed_out=True)`` and is interrupted inside its
    thread (pure-Python loops stop at once; a single long numpy call stops when it returns).

    Examples
    --------
    >>> call_safely(lambda x: x + 1, (1,)).value
    2
    >>> type(call_safely(lambda: 1 / 0).error).__name__
    'ZeroDivisionError'
    >>> def forever():
    ...     while True:
    ...         pass
    >>> call_safely(forever, timeout=0.05).timed_out
    True
    """
    outcome = Outcome()

    def run() -> None:
        try:
            with np.errstate(all="ignore"):  # NaN and inf are diagnosed from the answer, not warned about
                outcome.value = function(*args, **(kwargs or {}))
        except _TimedOut:
            pass
        except BaseException as error:  # noqa: BLE001 - the student's code may raise anything
            outcome.error = error

    thread = threading.Thread(target=run, daemon=True, name="workbook-check")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        outcome.timed_out = True
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_TimedOut))
        thread.join(0.5)
    return outcome


# ------------------------------------------------------------------------------ describing arrays
def _show(x: Any) -> str:
    """A short, readable picture of an input: small arrays in full, large ones by shape."""
    if isinstance(x, np.ndarray):
        if x.size <= 24:
            text = np.array2string(x, precision=3, suppress_small=True, separator=", ")
            text = " ".join(text.split())
            return f"{text} (shape {x.shape}, {x.dtype})"
        return f"an array of shape {x.shape}, {x.dtype}"
    if isinstance(x, float):
        return f"{x:g}"
    return repr(x)


def _inputs(case: Case, names: Sequence[str]) -> str:
    parts = [f"{name} = {_show(value)}" for name, value in zip(names, case.args)]
    parts += [f"{name} = {_show(value)}" for name, value in case.kwargs.items()]
    return "\n".join("      " + part for part in parts)


def _index(index: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _copy(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def _tolerances(expected: np.ndarray) -> tuple[float, float]:
    return (1e-4, 1e-5) if expected.dtype == np.float32 else (1e-6, 1e-8)


def _all_close(parts: tuple, expected: tuple) -> bool:
    """Every part an array of the expected shape and close to it."""
    try:
        return all(_close(np.asarray(part), np.asarray(want)) for part, want in zip(parts, expected))
    except (TypeError, ValueError):
        return False


def _close(got: np.ndarray, expected: np.ndarray) -> bool:
    rtol, atol = _tolerances(expected)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True))


# ------------------------------------------------------------------------------------ the check
def check_function(
    name: str,
    function: Any,
    reference: Callable[..., Any],
    cases: Sequence[Case],
    *,
    argument_names: Sequence[str],
    output_names: Sequence[str] | None = None,
    weights_output: int | None = None,
    mistakes: Sequence[Mistake] = (),
    hint: str,
    timeout: float = DEFAULT_TIMEOUT,
    verbose: bool = True,
) -> Result:
    """Run ``function`` on every case, compare with ``reference``, report the first failure.

    Parameters
    ----------
    name : str
        The exercise's function name, as the student sees it.
    function : callable
        The student's function (anything: a check of a non-callable says so).
    reference : callable
        attn_core's answer, called with the same arguments.
    cases : sequence of Case
        In teaching order: simple first, edge cases last.
    argument_names : sequence of str
        Names of the positional arguments, to show the inputs of a failing case.
    output_names : sequence of str, optional
        If the function returns a tuple, the names of its parts (e.g. ``("output", "weights")``).
    weights_output : int, optional
        Which output holds attention weights (rows sum to 1, or 0 for a query with no
        allowed key); for a single output, 0. ``None``: no such output.
    mistakes : sequence of Mistake
        Known wrong implementations and the message that explains each.
    hint : str
        Said after any failure: where to look, never the answer.
    timeout : float
        Seconds allowed per case.
    verbose : bool
        Print the message (the default); the message is also in the result.
    """
    message, status = _diagnose(name, function, reference, cases, argument_names, output_names,
                                weights_output, mistakes, hint, timeout)
    if verbose:
        print(message)
    return Result(name=name, passed=status == "passed", message=message, status=status)


def _diagnose(name, function, reference, cases, argument_names, output_names, weights_output,
              mistakes, hint, timeout) -> tuple[str, str]:
    if not callable(function):
        return (f"✗ {name}: the check needs a function, got {_type_name(function)}. "
                f"Pass the function itself, without calling it: check_{name}({name})."), "failed"
    for number, case in enumerate(cases, start=1):
        with np.errstate(all="ignore"):
            expected = reference(*case.args, **case.kwargs)
        outcome = call_safely(function, tuple(_copy(a) for a in case.args),
                              {k: _copy(v) for k, v in case.kwargs.items()}, timeout=timeout)
        if isinstance(outcome.error, NotImplementedError):
            return (f"… {name}: not yet done. Replace `raise NotImplementedError` with your code, "
                    f"run the cell, then run this check again."), "not done"
        problem = _problem(outcome, expected, case, output_names, weights_output, mistakes, timeout)
        if problem is not None:
            where = f"case {number} of {len(cases)}, {case.description}"
            return (f"✗ {name}: {problem}\n   On {where}, with inputs\n{_inputs(case, argument_names)}\n"
                    f"   Hint: {hint}"), "failed"
    return f"✓ {name}: correct on all {len(cases)} cases (including the edge cases). Well done.", "passed"


def _problem(outcome: Outcome, expected: Any, case: Case, output_names, weights_output, mistakes,
             timeout: float) -> str | None:
    """The first thing wrong with one call's outcome, in words, or None if it is right."""
    if outcome.timed_out:
        return (f"your function did not finish within {timeout:g} s. Is there a loop that never "
                f"ends (a `while` whose condition never changes)?")
    if outcome.error is not None:
        error = outcome.error
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, (IndexError, ValueError)) and case.kind == "batch":
            text += (". This case has leading batch dimensions: work from the end (axis=-1, x.shape[-2:]); "
                     "x.T reverses ALL the axes, np.swapaxes(x, -1, -2) only the last two")
        elif isinstance(error, ValueError) and "broadcast" in str(error):
            text += (". Two arrays did not line up: a reduction such as x.max(axis=-1) drops the axis; "
                     "keepdims=True keeps it so the result broadcasts against x")
        return f"your function raised {text}"
    got = outcome.value
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            what = f"a tuple of {len(got)}" if isinstance(got, tuple) else _type_name(got)
            return (f"it returned {what}; expected a tuple of {len(expected)} arrays, "
                    f"({', '.join(output_names)}).")
        if len(got) > 1 and not _all_close(got, expected):
            for order in itertools.permutations(range(len(got))):
                if list(order) != sorted(order) and _all_close(tuple(got[i] for i in order), expected):
                    returned = ", ".join(output_names[order.index(i)] for i in range(len(got)))
                    return (f"the right arrays in the wrong order: you returned ({returned}); "
                            f"return ({', '.join(output_names)}).")
        for index, (part, want, label) in enumerate(zip(got, expected, output_names)):
            problem = _array_problem(part, want, case, label, weights_output == index, mistakes, index)
            if problem is not None:
                return problem
        return None
    return _array_problem(got, expected, case, "the result", weights_output == 0, mistakes, None)


def _array_problem(got: Any, expected: np.ndarray, case: Case, label: str, is_weights: bool,
                   mistakes: Sequence[Mistake], part: int | None) -> str | None:
    expected = np.asarray(expected)
    if got is None:
        return f"{label} is None. Did you forget to `return` it?"
    if isinstance(got, (list, tuple)):
        return (f"{label} is a Python {type(got).__name__}; return a numpy array "
                f"(np.asarray turns a list into one, but the numpy operations should not need it).")
    if not isinstance(got, (np.ndarray, int, float, np.number)):
        return f"{label} is a {_type_name(got)}; expected a numpy array of shape {expected.shape}."
    got = np.asarray(got)
    if got.dtype.kind not in "fiub":
        return f"{label} has dtype {got.dtype}; expected real numbers ({expected.dtype})."
    if got.shape != expected.shape:
        text = f"{label} has shape {got.shape}, expected {expected.shape}."
        if got.shape[::-1] == expected.shape or (got.ndim >= 2 and got.shape[:-2] + got.shape[-2:][::-1] == expected.shape):
            text += " It looks transposed: rows are queries (n_q), columns keys (n_k) in the book's convention."
        elif tuple(n for n in got.shape if n != 1) == tuple(n for n in expected.shape if n != 1):
            text += (" The shapes differ only by axes of length 1: an axis is missing or extra "
                     "(x[:, None, :] adds one, where it broadcasts).")
        elif got.size == expected.size:
            text += " Same number of entries, another arrangement: check the order of a reshape or of the axes."
        elif case.kind == "batch":
            text += " This case has leading batch dimensions: work on the last axes (-1, -2) only."
        return text
    if expected.dtype == bool:
        if got.dtype != bool:
            return (f"{label} has dtype {got.dtype}; a mask is a boolean array (True = may attend). "
                    f"A comparison such as j <= i already gives booleans.")
        if np.array_equal(got, expected):
            return None
        for mistake in mistakes:
            try:
                wrong = np.asarray(mistake.function(*case.args, **case.kwargs))
            except Exception:  # noqa: BLE001
                continue
            if wrong.shape == expected.shape and np.array_equal(got, wrong):
                return mistake.message
        first = tuple(np.argwhere(got != expected)[0])
        return (f"{label} differs first at entry {_index(first)}: yours is {bool(got[first])}, "
                f"expected {bool(expected[first])} (True = may attend).")
    if expected.dtype == np.float32 and got.dtype != np.float32:
        return (f"{label} is {got.dtype}, but float32 inputs must give a float32 answer (the book's "
                f"convention). A float64 numpy scalar such as np.sqrt(d_k) promotes float32 arrays; "
                f"a Python float (math.sqrt(d_k)) does not.")
    got = got.astype(expected.dtype, copy=False) if expected.dtype.kind == "f" else got
    with np.errstate(all="ignore"):
        bad = ~np.isfinite(got) & np.isfinite(expected)
    if bad.any():
        first = tuple(np.argwhere(bad)[0])
        if case.nonfinite_message:
            return f"{label} holds {got[first]} at {_index(first)}: {case.nonfinite_message}"
        if case.kind == "overflow":
            return (f"{label} holds {got[first]} at {_index(first)} where {expected[first]:.6g} was expected: "
                    f"overflow. np.exp of a large score is inf, and inf / inf is NaN. Subtract each row's "
                    f"maximum score before exponentiating; the weights do not change.")
        if expected.ndim >= 2:
            row = first[:-1]
            if np.all(expected[row] == 0):
                return (f"{label} row {_index(row)} is {got[row]}: a query with no allowed key must get "
                        f"zeros, not NaN. Every score in that row is -inf, so its maximum is -inf and "
                        f"-inf - (-inf) is NaN; treat such a row separately.")
        return f"{label} holds {got[first]} at {_index(first)}, where {expected[first]:.6g} was expected."
    if _close(got, expected):
        return None
    if got.ndim >= 2 and got.shape[-1] == got.shape[-2] and _close(np.swapaxes(got, -1, -2), expected):
        return (f"{label} is transposed: row i must belong to query i (in the book's convention rows "
                f"are queries, columns keys).")
    for mistake in mistakes:
        try:
            with np.errstate(all="ignore"):
                wrong = mistake.function(*case.args, **case.kwargs)
            wrong = np.asarray(wrong if part is None else wrong[part])
        except Exception:  # noqa: BLE001 - a mistake that cannot run on this case does not apply
            continue
        if wrong.shape == expected.shape and not _close(wrong, expected) and _close(got, wrong):
            return mistake.message
    if not is_weights and expected.ndim >= 2:
        zero_rows = np.all(expected == 0, axis=-1) & ~np.all(np.isclose(got, 0, atol=1e-6), axis=-1)
        if zero_rows.any():
            row = tuple(np.argwhere(zero_rows)[0])
            return (f"{label} row {_index(row)} should be all zeros: that query has no allowed key, so "
                    f"its weights are all 0 and so is its output. Yours is {np.round(got[row], 4)}. A large "
                    f"negative number such as -1e9 in place of -inf spreads its weight evenly instead.")
    if is_weights and expected.ndim >= 1:
        sums = got.sum(axis=-1)
        expected_sums = expected.sum(axis=-1)
        empty = expected_sums == 0
        if (empty & (np.abs(sums) > 1e-6)).any():
            row = tuple(np.argwhere(empty & (np.abs(sums) > 1e-6))[0])
            return (f"{label} row {_index(row)} sums to {sums[row]:.4g}, but that query has no allowed key, "
                    f"so its weights must all be 0 (the book's convention). A large negative number such "
                    f"as -1e9 in place of -inf spreads its weight evenly instead.")
        off = ~empty & ~np.isclose(sums, 1.0, rtol=1e-4, atol=1e-5)
        if off.any():
            row = tuple(np.argwhere(off)[0])
            return (f"your rows do not sum to 1: row {_index(row)} of {label} sums to {sums[row]:.6g}. "
                    f"Each row (one query) must spread exactly one unit of weight over the keys: "
                    f"divide by the sum over the last axis.")
    rtol, atol = _tolerances(expected)
    differs = ~np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    first = tuple(np.argwhere(differs)[0]) if got.ndim else ()
    return (f"{label} differs from the expected answer first at entry {_index(first)}: "
            f"yours is {float(got[first]):.6g}, expected {float(expected[first]):.6g} "
            f"({int(differs.sum())} of {differs.size} entries differ).")


def random_array(seed: int, shape: tuple[int, ...], dtype: Any = np.float64, scale: float = 1.0) -> np.ndarray:
    """Seeded standard-normal test input (every check uses fixed seeds: reproducible messages)."""
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


