"""Bad input raises ValueError/TypeError at the door, naming the argument: a table over the whole public API.

Every public callable of every ring is enumerated from the ``__all__`` lists (the library's
``attn_core.__all__`` and each library module's, then every module of ``attn_core.training``,
``attn_core.experiments``, ``attn_core.plot`` and ``attn_core.widgets``; for a class, also its
public methods on a valid instance). Each must have a spec in
:data:`tests.bad_input_cases.SPECS`, which gives valid arguments and their kinds; the bad
cases are derived from the kinds (see :mod:`tests.bad_input_cases`), so a new public function
cannot skip this test: without a spec, :func:`test_every_public_callable_has_a_spec` fails.

Three rules are checked:

* a bad argument raises ValueError or TypeError whose message names the argument;
* ``+-inf`` in data raises ValueError naming the argument (inf is refused at the door);
* NaN in data comes out as NaN (it propagates, never silently becomes a finite number).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import signal
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import attn_core  # noqa: E402
from tests.bad_input_cases import KNOWN_FAILURES, SPECS, Arg, Spec  # noqa: E402

RINGS = ("attn_core.training", "attn_core.experiments", "attn_core.plot", "attn_core.widgets")


def _modules() -> list[str]:
    """The library modules, then every module of each ring, by name."""
    names = [f"attn_core.{m.name}" for m in pkgutil.iter_modules(attn_core.__path__)
             if not m.name.startswith("_") and not m.ispkg]
    for ring in RINGS:
        package = importlib.import_module(ring)
        names += [f"{ring}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
                  if not m.name.startswith("_")]
    return names


def _methods(cls: type) -> list[str]:
    """Public methods of a class (``__call__`` counts), defined in attn_core; properties excluded."""
    names = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("attn_core"):
            continue
        for name, member in vars(klass).items():
            if (name == "__call__" or not name.startswith("_")) and inspect.isfunction(member) \
                    and name not in names:
                names.append(name)
    return sorted(names)


def public_callables() -> dict[str, Any]:
    """Qualified name -> callable (a method's entry is ``(class, method name)``), each object once."""
    found: dict[str, Any] = {}
    seen: set[int] = set()

    def add(qualified: str, obj: Any) -> None:
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
            return
        seen.add(id(obj))
        found[qualified] = obj
        if inspect.isclass(obj):
            for method in _methods(obj):
                found[f"{qualified}.{method}"] = (obj, method)

    for name in attn_core.__all__:
        add(f"attn_core.{name}", getattr(attn_core, name))
    for module_name in _modules():
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # reported by test_every_module_imports_and_exports_what_it_lists
            BROKEN.append(f"{module_name}: {type(error).__name__}: {error}")
            continue
        for name in getattr(module, "__all__", []):
            if not hasattr(module, name):
                BROKEN.append(f"{module_name}.__all__ lists {name!r}, which the module does not define")
                continue
            add(f"{module_name}.{name}", getattr(module, name))
    return found


BROKEN: list[str] = []
CALLABLES = public_callables()


def _short(qualified: str) -> str:
    return qualified.removeprefix("attn_core.")


def _instance_of(qualified: str) -> Any:
    """A valid instance of the class a method belongs to, built from the class's spec."""
    method_spec = SPECS[qualified]
    if method_spec.factory is not None:
        return method_spec.factory()
    class_name = qualified.rsplit(".", 1)[0]
    return _call(CALLABLES[class_name], SPECS[class_name], {})


def _target(qualified: str) -> Callable:
    obj = CALLABLES[qualified]
    if isinstance(obj, tuple):
        return getattr(_instance_of(qualified), obj[1])
    return obj


def _call(fn: Callable, spec: Spec, replace: dict[str, Any]) -> Any:
    """Call ``fn`` with the spec's valid arguments, some replaced by ``replace``."""
    values = {name: arg.fresh() for name, arg in spec.args.items()} | replace
    parameters = inspect.signature(fn).parameters
    takes_star = any(p.kind is p.VAR_POSITIONAL for p in parameters.values())
    takes_keywords = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    positional, keywords = [], {}
    for name, p in parameters.items():
        if name not in values:
            continue
        if p.kind is p.POSITIONAL_ONLY or (takes_star and p.kind is p.POSITIONAL_OR_KEYWORD):
            positional.append(values.pop(name))
        else:
            keywords[name] = values.pop(name)
    if takes_keywords:
        keywords |= values
    else:
        assert not values, f"the spec names arguments the callable does not take: {sorted(values)}"
    return fn(*positional, *spec.star_args, **keywords)


def _named(message: str, name: str, arg: Arg) -> bool:
    for word in (name, *arg.names):
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])", message, re.IGNORECASE):
            return True
    return False


def _param(case_id: str, *values: Any) -> Any:
    owner = KNOWN_FAILURES.get(case_id)
    marks = [pytest.mark.xfail(strict=True, reason=f"{owner}: fix pending")] if owner else []
    return pytest.param(*values, id=case_id, marks=marks)


def _bad_cases() -> list[Any]:
    cases = []
    for qualified, spec in SPECS.items():
        if spec.exempt or qualified not in CALLABLES:
            continue
        for name, arg in spec.args.items():
            for bad in arg.bad_values():
                cases.append(_param(f"{_short(qualified)}-{name}-{bad.label}", qualified, name, bad.label))
    return cases


def _nan_cases() -> list[Any]:
    cases = []
    for qualified, spec in SPECS.items():
        if spec.exempt or not spec.nan or qualified not in CALLABLES:
            continue
        if qualified.startswith(("attn_core.plot.", "attn_core.widgets.")):
            continue  # a figure has no number to carry the NaN
        for name, arg in spec.args.items():
            if arg.kind == "data" and arg.nan:
                cases.append(_param(f"{_short(qualified)}-{name}-nan", qualified, name))
    return cases


def _valid_cases() -> list[Any]:
    """Every spec's valid call, but the explorers': tests/widgets builds each (2-4 s apiece)."""
    return [_param(f"{_short(q)}-valid", q) for q, s in SPECS.items()
            if not s.exempt and q in CALLABLES and not q.endswith("_explorer")]


# --- the tests -------------------------------------------------------------------------------

SECONDS_PER_CASE = 10


@pytest.fixture(autouse=True)
def _no_case_hangs():
    """A case that runs away (a check missing before a loop or a LAPACK call on inf) fails, not hangs."""

    def give_up(signum, frame):
        raise TimeoutError(f"the call took more than {SECONDS_PER_CASE} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(SECONDS_PER_CASE)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)



def test_every_module_imports_and_exports_what_it_lists():
    assert not BROKEN, BROKEN


def test_every_public_callable_has_a_spec():
    missing = sorted(set(CALLABLES) - set(SPECS))
    assert not missing, f"public callables without a spec in tests/bad_input_cases.py: {missing}"


def test_every_spec_names_a_public_callable():
    stale = sorted(set(SPECS) - set(CALLABLES))
    assert not stale, f"specs of names that are not public (renamed or removed?): {stale}"


def test_exemptions_are_few_and_give_a_reason():
    exempt = {q: s.exempt for q, s in SPECS.items() if s.exempt}
    assert all(len(reason) > 20 for reason in exempt.values()), exempt
    assert len(exempt) <= 0.15 * len(SPECS), f"{len(exempt)} exemptions of {len(SPECS)}"


def test_every_required_argument_is_declared():
    """A spec gives every argument without a default, so the valid call is complete."""
    for qualified, spec in SPECS.items():
        if spec.exempt or qualified not in CALLABLES:
            continue
        obj = CALLABLES[qualified]
        fn = getattr(obj[0], obj[1]) if isinstance(obj, tuple) else obj
        parameters = list(inspect.signature(fn).parameters.values())
        if isinstance(obj, tuple) and not isinstance(inspect.getattr_static(obj[0], obj[1]), staticmethod):
            parameters = parameters[1:]
        required = {p.name for p in parameters if p.default is p.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        assert required <= set(spec.args), f"{qualified}: no valid value for {sorted(required - set(spec.args))}"


@pytest.mark.parametrize("qualified", _valid_cases())
def test_the_valid_arguments_are_valid(qualified):
    """The spec's valid call runs, so that a bad case fails for its one bad argument."""
    _call(_target(qualified), SPECS[qualified], {})


@pytest.mark.parametrize("qualified, name, label", _bad_cases())
def test_bad_argument_raises_naming_it(qualified, name, label):
    spec = SPECS[qualified]
    arg = spec.args[name]
    bad = next(b for b in arg.bad_values() if b.label == label)
    fn = _target(qualified)
    value = bad.make(arg.fresh())
    expected = ValueError if label in ("inf", "minus-inf") else (ValueError, TypeError)
    with pytest.raises(expected) as info:
        _call(fn, spec, {name: value})
    # a mismatch is between two arguments: naming either of them is right
    partners = [n for n, a in spec.args.items() if a.link is not None] if label == "mismatched" else []
    assert _named(str(info.value), name, arg) or any(_named(str(info.value), n, spec.args[n]) for n in partners), (
        f"{qualified}({name}=<{label}>) raised {type(info.value).__name__}: {info.value!s:.300} "
        f"(the message should name {name!r})"
    )


def _has_nan(result: Any, depth: int = 0) -> bool:
    if depth > 3:
        return False
    if inspect.isgenerator(result):
        result = list(result)
    if isinstance(result, (float, np.floating)):
        return bool(np.isnan(result))
    if isinstance(result, np.ndarray):
        return result.dtype.kind in "fc" and bool(np.isnan(result).any())
    if isinstance(result, dict):
        return any(_has_nan(v, depth + 1) for v in result.values())
    if isinstance(result, (tuple, list)):
        return any(_has_nan(v, depth + 1) for v in result)
    if dataclasses.is_dataclass(result):
        return any(_has_nan(getattr(result, f.name), depth + 1) for f in dataclasses.fields(result))
    return False


def _with_nan(value: np.ndarray) -> np.ndarray:
    out = np.array(value, dtype=np.result_type(value, np.float64) if value.dtype.kind != "f" else value.dtype)
    out.flat[0] = np.nan
    return out


@pytest.mark.parametrize("qualified, name", _nan_cases())
def test_nan_in_data_comes_out_as_nan(qualified, name):
    spec = SPECS[qualified]
    value = _with_nan(np.asarray(spec.args[name].fresh()))
    result = _call(_target(qualified), spec, {name: value})
    assert _has_nan(result), f"{qualified}: NaN in {name} gave a result without NaN: {result!r:.300}"


def test_the_table_is_large():
    """Thousands of cases: the generator covers every declared argument of every kind."""
    assert len(_bad_cases()) >= 1000
