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
from attn_core.experiments.data import associative_recall
from attn_core.experiments.performance import Snapshots, held_out
from attn_core.experiments.self_cross import FIXED_TASKS, train_aligner
from attn_core.training.loop import train
from attn_core.training.models import AttentionReader, PoolingReader, RecurrentReader

#: Training steps recorded for chapter 6's aligners and chapter 14's readers.
ALIGNER_STEPS = (0, 10, 20, 40, 80)
READER_STEPS = (40, 80, 200)
#: Pairs per sequence of chapter 12's tiny untrained readers.
RECALL_PAIRS = 5


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


@pytest.fixture(scope="session")
def reader_runs():
    """An attention and a pooling reader trained as in chapter 14, smaller; and one test example."""
    settings = dict(n_pairs=6, n_keys=12, n_values=4)
    train_set = associative_recall(1000, seed=10, **settings)
    test_set = held_out(associative_recall(500, seed=11, **settings), train_set)
    out = {}
    for name, reader in (("attention", AttentionReader), ("pooling", PoolingReader)):
        model = reader(12, 4, width=16, seed=0)
        keep = Snapshots(model, test_set=test_set, steps=READER_STEPS)
        train(model, train_set, test_set, steps=200, eval_every=40, progress=False, callback=keep)
        out[name] = keep
    return out, {name: value[:1] for name, value in test_set.items()}


@pytest.fixture(scope="session")
def tiny_readers():
    """Untrained tiny readers of chapter 12 and a small test set."""
    n = RECALL_PAIRS
    data = associative_recall(60, n_pairs=n, n_keys=n, n_values=3, ordered=True, seed=7)
    return RecurrentReader(n, 3, width=6, seed=1), AttentionReader(n, 3, width=6, seed=2), data


#: How to build the explorers that need inputs: name -> request -> (args, kwargs).
REQUIRED_INPUTS: dict[str, Callable] = {
    "self_cross.alignment_training_explorer":
        lambda request: ((request.getfixturevalue("aligner_runs"),), {"task": "reverse", "step": 20}),
    "performance.training_explorer":
        lambda request: (request.getfixturevalue("reader_runs"), {"step": 0}),
    "long_sequences.recall_explorer":
        lambda request: (request.getfixturevalue("tiny_readers"), {}),
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
