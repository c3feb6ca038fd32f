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
traceback, a correct function scores full marks, and a function right on every ordinary
case (``kind="values"``) but wrong on an edge case scores half.

While the student's function runs, the check also records what would cost points or defeat
the exercise without being an error: warnings and text written to stderr (nbgrader gives 0
to a grade cell with any stderr output, so they are caught and reported on stdout), and
calls into attn_core's library (the answer the check compares with; a function that calls
it fails). :func:`hidden_points` re-runs a check from a fresh import of attn_core, for the
hidden tests of an nbgrader course (see workbooks/README.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import io
import itertools
import sys
import threading
import tracemalloc
import warnings
import weakref
from pathlib import Path
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Case", "Mistake", "Result", "Outcome", "call_safely", "check_function", "random_array", "hidden_points",
           "DEFAULT_TIMEOUT", "EDGE_KINDS"]

#: Seconds a student's function may run on one case before the check gives up on it.
DEFAULT_TIMEOUT = 5.0

#: Case kinds that are edge cases: failing only these (every ``"values"`` case right) scores half.
EDGE_KINDS = frozenset({"overflow", "float32", "batch", "empty_row", "memory"})

_PACKAGE = Path(__file__).resolve().parent.parent  # attn_core/
_WORKBOOKS = Path(__file__).resolve().parent  # attn_core/workbooks/


@dataclass
class Result:
    """What a check found: ``passed``, and the ``message`` it printed.

    ``status`` is ``"passed"``, ``"not done"`` (the stub still raises NotImplementedError) or
    ``"failed"``. ``bool(result)`` is ``passed``, so ``assert check_x(f)`` works too.
    ``partial`` is True when only edge cases failed (every ``"values"`` case was right).
    """

    name: str
    passed: bool
    message: str
    status: str
    partial: bool = False

    def __post_init__(self) -> None:
        # The score is fixed when the result is made, on the instance: patching Result.points later
        # (from a solution cell) does not change it.
        score = 1.0 if self.passed else (0.5 if self.partial else 0.0)
        object.__setattr__(self, "points", lambda maximum: float(maximum) * score)

    def __bool__(self) -> bool:
        return self.passed

    def points(self, maximum: float) -> float:
        """``maximum`` if the check passed, half of it if only edge cases failed, else 0.0: the last
        line of an nbgrader test cell."""
        return float(maximum) * (1.0 if self.passed else (0.5 if self.partial else 0.0))

    def __repr__(self) -> str:
        return f"Result(name={self.name!r}, status={self.status!r})"


@dataclass
class Case:
    """One call of the student's function: its arguments and what they are, in words.

    ``kind`` names an edge case whose failure has a known cause: ``"overflow"`` (huge
    scores), ``"float32"`` (the answer must stay float32), ``"batch"`` (leading dimensions),
    ``"empty_row"`` (a query with no allowed key: its row of the answer is zeros), ``"memory"``
    (the call's peak memory must stay below ``memory_limit`` bytes, else ``memory_message``).
    Every other kind (the default ``"values"``) is an ordinary case.
    """

    description: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    kind: str = "values"
    nonfinite_message: str | None = None  # said when the answer has NaN/inf where numbers were due
    memory_limit: int | None = None  # bytes the call may allocate at its peak (kind="memory")
    memory_message: str | None = None  # said when it allocates more


@dataclass
class Mistake:
    """A known wrong implementation: if the student's answer equals ``function``'s, say ``message``."""

    function: Callable[..., Any]
    message: str


class _TimedOut(BaseException):
    """Raised inside the student's thread to stop a function that ran out of time (a
    BaseException, so that a student's ``except Exception`` does not swallow it)."""


@dataclass
class Outcome:
    """How a call ended: ``value``, or ``error`` (an exception), or ``timed_out``; and what it
    did on the side: ``warnings`` and ``stderr`` text (captured), ``library_calls`` (attn_core
    functions it called), ``peak_bytes`` (if measured), ``still_running`` (a timed-out call
    that would not stop)."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    warnings: list = field(default_factory=list)
    stderr: str = ""
    library_calls: list = field(default_factory=list)
    peak_bytes: int | None = None
    still_running: bool = False


def _library_watcher(found: list) -> Callable:
    """A profile function recording the first call into attn_core's library (not the workbooks)."""
    package, workbooks = str(_PACKAGE), str(_WORKBOOKS)

    def watch(frame, event, arg):
        if event == "call":
            filename = frame.f_code.co_filename
            if filename.startswith(package) and not filename.startswith(workbooks):
                module = frame.f_globals.get("__name__", "attn_core")
                found.append(f"{module}.{getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)}")
                sys.setprofile(None)  # one is enough; stop paying for the profile
        return None

    return watch


def call_safely(function: Callable[..., Any], args: tuple = (), kwargs: dict | None = None,
                *, timeout: float = DEFAULT_TIMEOUT, measure_memory: bool = False,
                watch_library: bool = True) -> Outcome:
    """Call ``function(*args, **kwargs)`` in a helper thread with numpy warnings silenced.

    Never raises: an exception becomes ``Outcome.error``; a call still running after
    ``timeout`` seconds becomes ``Outcome(timed_out=True)`` and is interrupted inside its
    thread (pure-Python loops stop at once; a single long numpy call stops when it returns).
    Warnings and stderr output are recorded in the outcome, not shown; so are calls into
    attn_core's library (``watch_library``) and, with ``measure_memory``, the peak bytes
    allocated (tracemalloc: numpy reports its buffers to it).

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
    >>> import warnings
    >>> call_safely(lambda: warnings.warn("debug")).warnings
    ['UserWarning: debug']
    """
    outcome = Outcome()

    def run() -> None:
        stderr = io.StringIO()
        tracing = measure_memory and not tracemalloc.is_tracing()
        try:
            # Warnings and stderr text are recorded, not shown: nbgrader scores a grade cell with
            # any stderr output 0. Both redirections are process-wide, which is safe here: the
            # calling thread only waits (join) while this one runs.
            with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr), \
                    np.errstate(all="ignore"):  # NaN and inf are diagnosed from the answer, not warned about
                warnings.simplefilter("always")
                if measure_memory:
                    if tracing:
                        tracemalloc.start()
                    start = tracemalloc.get_traced_memory()[0]
                    tracemalloc.reset_peak()
                if watch_library:
                    sys.setprofile(_library_watcher(outcome.library_calls))
                try:
                    outcome.value = function(*args, **(kwargs or {}))
                finally:
                    sys.setprofile(None)
                    if measure_memory:
                        outcome.peak_bytes = tracemalloc.get_traced_memory()[1] - start
                        if tracing:
                            tracemalloc.stop()
                outcome.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
        except _TimedOut:
            pass
        except BaseException as error:  # noqa: BLE001 - the student's code may raise anything
            outcome.error = error
        outcome.stderr = stderr.getvalue()

    thread = threading.Thread(target=run, daemon=True, name="workbook-check")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        outcome.timed_out = True
        for _ in range(10):  # a student's `except BaseException: pass` may swallow one: post it again
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_TimedOut))
            thread.join(0.1)
            if not thread.is_alive():
                break
        outcome.still_running = thread.is_alive()
    return outcome


# ------------------------------------------------------------------------------ describing arrays
def _show(x: Any) -> str:
    """A short, readable picture of an input: small arrays in full, large ones by shape."""
    if isinstance(x, np.ndarray):
        if x.size <= 24:
            text = np.array2string(x, precision=3, suppress_small=True, separator=", ")
            text = " ".join(text.split())
            return f"{text} (shape {x.shape}, {x.dtype})"
        origin = _ORIGINS.get(id(x))
        if origin is not None and origin[0]() is x:  # made by random_array: say how to rebuild it
            return f"an array of shape {x.shape}, {x.dtype}: rebuild it with {origin[1]}"
        return f"an array of shape {x.shape}, {x.dtype}"
    if isinstance(x, float):
        return f"{x:g}"
    return repr(x)


def _inputs(case: Case, names: Sequence[str]) -> str:
    parts = [f"{name} = {_show(value)}" for name, value in zip(names, case.args)]
    parts += [f"{name} = {_show(value)}" for name, value in case.kwargs.items()]
    if any("rebuild it with random_array(" in part for part in parts):
        parts.append("(to rebuild: from attn_core.workbooks.feedback import random_array)")
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
    float32_hint: str | None = None,
    allowed_library: Sequence[str] = (),
    helpers: Sequence[tuple[str, Callable[..., Any]]] = (),
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
    float32_hint : str, optional
        Said when a float32 case gets another dtype back (default: about float64 scalars).
    allowed_library : sequence of str
        attn_core modules the student's function may call (e.g. ``("attn_core.softmax",)``);
        a call into any other part of attn_core's library fails the check.
    helpers : sequence of (str, check)
        Earlier exercises this one builds on, e.g. ``[("split_heads", check_split_heads)]``: after
        a failure, each helper of that name in the student's namespace is checked (silently),
        and one that fails is named, so that the student fixes it first.
    """
    options = _Options(timeout, float32_hint, tuple(allowed_library))
    message, status, partial = _diagnose(name, function, reference, cases, argument_names, output_names,
                                         weights_output, mistakes, hint, options)
    if status == "failed" and helpers:
        message += _failing_helpers(function, helpers, timeout)
    if verbose:
        print(message)
    return Result(name=name, passed=status == "passed", message=message, status=status, partial=partial)


@dataclass
class _Options:
    timeout: float
    float32_hint: str | None
    allowed_library: tuple


def _run(function: Callable, case: Case, options: _Options) -> Outcome:
    outcome = call_safely(function, tuple(_copy(a) for a in case.args),
                          {k: _copy(v) for k, v in case.kwargs.items()}, timeout=options.timeout,
                          measure_memory=case.memory_limit is not None)
    outcome.library_calls = [call for call in outcome.library_calls
                             if not any(call == allowed or call.startswith(allowed + ".")
                                        for allowed in options.allowed_library)]
    return outcome


def _raised_in(error: BaseException, function: Any) -> str | None:
    """The name of the function that raised ``error`` if it is not ``function`` itself but a helper
    written next to it (same module, e.g. the notebook's ``__main__``)."""
    code = getattr(function, "__code__", None)
    traceback = error.__traceback__
    if traceback is None or code is None:
        return None
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    last = traceback.tb_frame
    same_module = last.f_globals.get("__name__") == getattr(function, "__globals__", {}).get("__name__")
    return None if last.f_code is code or not same_module else last.f_code.co_name


def _side_notes(outcome: Outcome) -> list[str]:
    notes = []
    if outcome.warnings:
        notes.append(f"your function warned ({outcome.warnings[0]})")
    if outcome.stderr.strip():
        notes.append(f"your function wrote to stderr ({outcome.stderr.strip().splitlines()[0][:80]!r})")
    return notes


def _diagnose(name, function, reference, cases, argument_names, output_names, weights_output,
              mistakes, hint, options: _Options) -> tuple[str, str, bool]:
    if not callable(function):
        return (f"✗ {name}: the check needs a function, got {_type_name(function)}. "
                f"Pass the function itself, without calling it: check_{name}({name})."), "failed", False
    notes: list[str] = []
    for number, case in enumerate(cases, start=1):
        with np.errstate(all="ignore"):
            expected = reference(*case.args, **case.kwargs)
        outcome = _run(function, case, options)
        notes += [note for note in _side_notes(outcome) if note not in notes]
        if isinstance(outcome.error, NotImplementedError) and not outcome.library_calls:
            helper = _raised_in(outcome.error, function)
            if helper is not None:
                return (f"… {name}: not yet done: it calls `{helper}`, which still raises NotImplementedError. "
                        f"Write `{helper}` first (and pass its check), then run this check again."), "not done", False
            if number == 1:
                return (f"… {name}: not yet done. Replace `raise NotImplementedError` with your code, "
                        f"run the cell, then run this check again."), "not done", False
        problem = _problem(outcome, expected, case, output_names, weights_output, mistakes, options)
        if problem is not None:
            where = f"case {number} of {len(cases)}, {case.description}"
            message = (f"✗ {name}: {problem}\n   On {where}, with inputs\n{_inputs(case, argument_names)}\n"
                       f"   Hint: {hint}")
            partial = (case.kind in EDGE_KINDS and not outcome.timed_out and not outcome.library_calls
                       and _ordinary_cases_pass(function, reference, cases[number:], output_names,
                                                weights_output, options))
            if partial:
                message += ("\n   Your function is right on every ordinary case: only the edge cases "
                            "fail, which costs half the points.")
            return message + _format_notes(notes), "failed", partial
    return (f"✓ {name}: correct on all {len(cases)} cases (including the edge cases). Well done."
            + _format_notes(notes)), "passed", False


def _failing_helpers(function: Any, helpers, timeout: float) -> str:
    """A line naming the student's earlier functions (same namespace) that fail their own checks."""
    namespace = getattr(function, "__globals__", {})
    failing = [name for name, check in helpers
               if callable(namespace.get(name)) and not check(namespace[name], timeout=timeout, verbose=False)]
    if not failing:
        return ""
    names = " and ".join(f"`{name}`" for name in failing)
    return (f"\n   Note: your {names}, which this exercise builds on, "
            f"{'does' if len(failing) == 1 else 'do'} not pass {'its' if len(failing) == 1 else 'their'} own "
            f"check yet: fix {'it' if len(failing) == 1 else 'them'} first.")


def _format_notes(notes: list[str]) -> str:
    if not notes:
        return ""
    return ("\n   Note: " + "; ".join(notes) + ". The check kept it out of the cell's error stream, so "
            "it costs no points here; remove it before you hand in.")


def _ordinary_cases_pass(function, reference, rest, output_names, weights_output, options) -> bool:
    """Whether every remaining ordinary (``"values"``) case passes: partial credit."""
    for case in rest:
        if case.kind in EDGE_KINDS:
            continue
        with np.errstate(all="ignore"):
            expected = reference(*case.args, **case.kwargs)
        outcome = _run(function, case, options)
        if outcome.timed_out or _problem(outcome, expected, case, output_names, weights_output, (), options):
            return False
    return True


def _problem(outcome: Outcome, expected: Any, case: Case, output_names, weights_output, mistakes,
             options: _Options | float) -> str | None:
    """The first thing wrong with one call's outcome, in words, or None if it is right."""
    if not isinstance(options, _Options):
        options = _Options(float(options), None, ())
    timeout = options.timeout
    if outcome.library_calls:
        return (f"your function calls attn_core ({outcome.library_calls[0]}): that is the book's answer, "
                f"the one this check compares with. Write the steps yourself, with numpy.")
    if outcome.timed_out:
        text = (f"your function did not finish within {timeout:g} s. Is there a loop that never "
                f"ends (a `while` whose condition never changes)?")
        if outcome.still_running:
            text += (" It is still running in the background (it caught the interruption): restart the "
                     "kernel to stop it, or every later cell runs slower.")
        return text
    if outcome.error is not None:
        error = outcome.error
        said = str(error)
        said = said if len(said) <= 160 else said[:157] + "..."  # numpy's broadcasting errors run long
        text = f"{type(error).__name__}: {said}"
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
            problem = _array_problem(part, want, case, label, weights_output == index, mistakes, index,
                                     options.float32_hint)
            if problem is not None:
                return problem
        return _memory_problem(outcome, case)
    return (_array_problem(got, expected, case, "the result", weights_output == 0, mistakes, None,
                           options.float32_hint)
            or _memory_problem(outcome, case))


def _memory_problem(outcome: Outcome, case: Case) -> str | None:
    """A right answer that allocated more than the case allows (kind="memory")."""
    if case.memory_limit is None or outcome.peak_bytes is None or outcome.peak_bytes < case.memory_limit:
        return None
    return (f"the answer is right, but your function's peak memory was {outcome.peak_bytes / 2**20:.1f} MiB, "
            f"at least {case.memory_limit / 2**20:.1f} MiB: {case.memory_message or 'too much memory.'}")


def _array_problem(got: Any, expected: np.ndarray, case: Case, label: str, is_weights: bool,
                   mistakes: Sequence[Mistake], part: int | None, float32_hint: str | None = None) -> str | None:
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
    if expected.dtype.kind in "iu" and got.dtype.kind not in "iu":  # counts, positions, int8 codes
        text = f"{label} has dtype {got.dtype}; expected whole numbers ({expected.dtype})."
        if expected.dtype == np.int8:
            text += " Quantised codes are stored as int8, one byte each (that is the saving): .astype(np.int8)."
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
                f"convention). " + (float32_hint or "A float64 numpy scalar such as np.sqrt(d_k) promotes "
                                    "float32 arrays; a Python float (math.sqrt(d_k)) does not."))
    if expected.dtype.kind == "f" and got.dtype.kind == "f" and got.dtype != expected.dtype:
        return (f"{label} is {got.dtype}; expected {expected.dtype}, the precision of the inputs: do not "
                f"change it (no .astype({got.dtype.name}) or {got.dtype.name} buffers).")
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
        if expected.ndim >= 2 and case.kind == "empty_row":
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
    if not is_weights and expected.ndim >= 2 and case.kind == "empty_row":
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


_ORIGINS: dict[int, tuple[weakref.ref, str]] = {}  # id of an array made by random_array -> how to rebuild it


def random_array(seed: int, shape: tuple[int, ...], dtype: Any = np.float64, scale: float = 1.0) -> np.ndarray:
    """Seeded standard-normal test input (every check uses fixed seeds: reproducible messages).

    A failing case shows a large input as the call that rebuilds it, so that the student can
    reproduce it: ``from attn_core.workbooks.feedback import random_array``.
    """
    array = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    text = f"random_array({seed}, {tuple(shape)!r}"
    text += "" if np.dtype(dtype) == np.float64 else f", np.{np.dtype(dtype).name}"
    text += "" if scale == 1.0 else f", scale={scale:g}"
    key = id(array)
    _ORIGINS[key] = (weakref.ref(array, lambda _, key=key: _ORIGINS.pop(key, None)), text + ")")
    return array


# ------------------------------------------------------------------------------ hidden tests
_FRESH: dict[str, Any] = {}


def _fresh_module(module_name: str) -> Any:
    """``module_name`` imported again with a fresh attn_core (the student's session keeps its own)."""
    if module_name not in _FRESH:
        ours = lambda key: key == "attn_core" or key.startswith("attn_core.")  # noqa: E731
        saved = {key: module for key, module in sys.modules.items() if ours(key)}
        for key in saved:
            del sys.modules[key]
        try:
            _FRESH[module_name] = importlib.import_module(module_name)
        finally:
            for key in [key for key in sys.modules if ours(key)]:
                del sys.modules[key]
            sys.modules.update(saved)
    return _FRESH[module_name]


def hidden_points(check: Any, maximum: float, *args: Any, **kwargs: Any) -> float:
    """The points ``check(*args, **kwargs)`` earns when re-run from a fresh import of attn_core.

    The teacher edition's check cells end with this call inside nbgrader's hidden-tests
    region (``tools/make_workbooks.py`` writes it; the student edition does not have it), so
    nbgrader's autograder scores a fresh copy of the check and of the library it compares
    with: a solution cell that patched ``Result``, the check or attn_core in the student's
    session does not change the score. A ``check`` that is not a workbook check scores 0.

    Examples
    --------
    >>> from attn_core.workbooks.softmax import check_softmax
    >>> hidden_points(check_softmax, 2, lambda x: x)
    0.0
    """
    module_name, name = getattr(check, "__module__", None) or "", getattr(check, "__name__", "")
    if not module_name.startswith("attn_core.workbooks.") or not name.startswith("check_"):
        print(f"✗ the check was replaced by {check!r}: no points.")
        return 0.0
    fresh_check = getattr(_fresh_module(module_name), name, None)
    if fresh_check is None:
        return 0.0
    return float(fresh_check(*args, **{**kwargs, "verbose": False}).points(maximum))


