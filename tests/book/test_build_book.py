"""tools/build_book.py: the chapters are executed afresh, in parallel, and the build reads them.

The whole build is tested by test_site.py; here, on a two-notebook book in a temporary folder,
what that test cannot see: which notebooks are executed, that myst-nb finds each one in the
cache (so Sphinx does not execute it a second time) and that a failing notebook stops the build
with its name.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
build_book = importlib.util.module_from_spec(spec)
sys.modules["build_book"] = build_book  # the worker processes find execute() by its module's name
spec.loader.exec_module(build_book)


def notebook(source: str, metadata: dict | None = None) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "a1", "metadata": {}, "outputs": [],
                   "source": source}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     **(metadata or {})},
        "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def book(tmp_path: Path) -> Path:
    (tmp_path / "_config.yml").write_text("execute:\n  execute_notebooks: force\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: A\n    chapters:\n"
        "      - file: one\n      - file: shown_as_stored\n      - file: notes\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "notes.md").write_text("# Notes\n")
    (tmp_path / "one.ipynb").write_text(notebook("print(6 * 7)"))
    (tmp_path / "shown_as_stored.ipynb").write_text(notebook("raise ValueError", {"mystnb": {"execution_mode": "off"}}))
    return tmp_path


def test_only_the_notebooks_the_build_executes_are_listed(book):
    assert [p.name for p in build_book.executed_pages(book)] == ["one.ipynb"]


def test_every_chapter_of_the_book_is_executed():
    pages = {p.relative_to(ROOT).as_posix() for p in build_book.executed_pages()}
    assert {p.relative_to(ROOT).as_posix() for p in (ROOT / "chapters").glob("*.ipynb")} <= pages


def test_an_executed_notebook_is_found_in_the_cache_as_myst_nb_looks_for_it(book):
    import nbformat
    from jupyter_cache import get_cache

    seconds = build_book.fill_cache(book / "cache", [book / "one.ipynb"], jobs=1, timeout=60)
    assert set(seconds) == {"one.ipynb"}
    fresh = nbformat.read(book / "one.ipynb", as_version=4)  # as myst-nb reads it, unexecuted
    _, merged = get_cache(str(book / "cache")).merge_match_into_notebook(fresh)
    assert merged.cells[0].outputs[0]["text"] == "42\n"


def test_a_failing_notebook_stops_the_build_with_its_name(book):
    (book / "broken.ipynb").write_text(notebook("1 / 0"))
    with pytest.raises(SystemExit, match="broken.ipynb failed to execute"):
        build_book.fill_cache(book / "cache", [book / "broken.ipynb"], jobs=1, timeout=60)
