"""The explorers of every chapter, found by name and built once per test session.

:func:`explorer_functions` lists every public function of ``attn_core.widgets.*`` whose name
ends in ``_explorer``: a new explorer is picked up (and checked by test_every_explorer.py)
without anyone adding it to a list. Explorers whose inputs are trained models get them from
the session fixtures below; an explorer with required arguments and no entry in
:data:`REQUIRED_INPUTS` makes test_every_explorer.py fail.

The chapter test modules take their explorers from :func:`shared_explorer` too, so each
explorer renders its frames once per session (frames never change once built; tests that
move controls put them back).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

import pytest

import attn_core.widgets
from attn_core.experiments.self_cross import FIXED_TASKS, train_aligner

#: Training steps recorded for chapter 6's aligners.
ALIGNER_STEPS = (0, 10, 20, 40, 80)
#: The training steps of chapter 12's stored runs that its explorer offers in the tests.
BUYS_STEPS = (0, 1000, 15000)


def explorer_functions() -> dict[str, Callable]:
    """Every public ``*_explorer`` function defined in a module of attn_core.widgets, by "module.name"."""
    found = {}
    for info in pkgutil.iter_modules(attn_core.widgets.__path__):
        module = importlib.import_module(f"attn_core.widgets.{info.name}")
        for name, value in vars(module).items():
            if (name.endswith("_explorer") and not name.startswith("_") and inspect.isfunction(value)
                    and value.__module__ == module.__name__):
                found[f"{info.name}.{name}"] = value
    return found


def required_parameters(function: Callable) -> list[str]:
    """The parameters of ``function`` that have no default."""
    return [p.name for p in inspect.signature(function).parameters.values()
            if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@pytest.fixture(scope="session")
def aligner_runs():
    """Chapter 6's aligners, trained briefly on each task."""
    return {task: train_aligner(task, steps=80, record_at=ALIGNER_STEPS, seed=1) for task in FIXED_TASKS}


#: How to build the explorers that need inputs: name -> request -> (args, kwargs).
REQUIRED_INPUTS: dict[str, Callable] = {
    "self_cross.alignment_training_explorer":
        lambda request: ((request.getfixturevalue("aligner_runs"),), {"task": "reverse", "step": 20}),
    "what_attention_buys.learning_explorer":
        lambda request: ((), {"steps": BUYS_STEPS}),
}


@pytest.fixture(scope="session")
def shared_explorer(request):
    """``shared_explorer("module.name")``: that explorer, built (with its defaults) once per session."""
    functions = explorer_functions()
    cache = {}

    def get(name: str):
        if name not in cache:
            args, kwargs = REQUIRED_INPUTS[name](request) if name in REQUIRED_INPUTS else ((), {})
            cache[name] = functions[name](*args, **kwargs)
        return cache[name]

    return get


@pytest.fixture
def restore():
    """``restore(explorer)``: hand a shared explorer to one test, its controls put back afterwards."""
    saved = []

    def keep(explorer):
        saved.append((explorer, {name: control.value for name, control in explorer.controls.items()}))
        return explorer

    yield keep
    for explorer, values in reversed(saved):
        for name, value in values.items():
            explorer.controls[name].value = value
