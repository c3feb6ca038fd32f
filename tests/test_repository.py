"""The repository keeps its rules.

The chapters: structure, clean outputs, setup cells, a complete API page. The package: imports
point down only (widgets -> plot -> experiments -> training -> library), the library is numpy
only, and every package a ring imports is declared for that ring in pyproject.toml and pinned
in constraints.txt. The repository explains itself: no file points at documents outside it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import pkgutil
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import nbformat
import pytest
import yaml

import attn_core

ROOT = Path(__file__).resolve().parents[1]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CHAPTERS = [e["file"] for part in TOC["parts"] for e in part["chapters"] if e["file"].startswith("chapters/")]


def notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / f"{name}.ipynb", as_version=4)


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_every_chapter_notebook_is_in_the_table_of_contents():
    on_disk = sorted(f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("*.ipynb"))
    assert on_disk == sorted(CHAPTERS)


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_structure(name):
    """Objectives and time, an explorer, a summary, a self-check quiz, >= 3 exercises with
    hidden solutions (>= 1 checked by code), references."""
    nb = notebook(name)
    text = markdown(nb)
    assert re.search(r"^\(ch-[a-z-]+\)=", nb.cells[0].source, re.M), "label before the title"
    assert re.search(r"\*\*Time:\*\*", text), "a time estimate"
    assert re.search(r"You will be able to", text), "learning objectives"
    assert "## Summary" in text
    quiz = text.split("## Self-check", 1)[1].split("## Exercises", 1)[0] if "## Self-check" in text else ""
    assert quiz.count("{admonition} Answer") >= 3 and quiz.count(":class: dropdown") >= 3, "a self-check quiz, answers hidden"
    assert len(re.findall(r":::\{exercise\}", text)) >= 3
    hidden = re.findall(r":::\{solution(?:-start)?\}[^\n]*\n:class: dropdown", text)
    assert len(hidden) >= 3, "solutions hidden in dropdowns"
    assert ":::{solution-start}" in text, "at least one solution checked by code"
    assert "{footbibliography}" in text and "{footcite" in text
    explorer_cells = [c for c in nb.cells if c.cell_type == "code" and "nbval-ignore-output" in c.metadata.get("tags", [])
                      and any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in c.outputs)]
    assert explorer_cells, "at least one explorer, tagged nbval-ignore-output"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_outputs_are_clean(name):
    nb = notebook(name)
    assert "widgets" not in nb.metadata, "widget state is left out (the build embeds it)"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        assert cell.execution_count is not None, f"cell {i} was never executed"
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {i} stores an error"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"cell {i} writes to stderr"
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert not re.search(r"<[\w.]+ (object )?at 0x[0-9a-f]+>", text), f"cell {i} shows a stray repr"


@pytest.mark.parametrize("name", CHAPTERS)
def test_figures_have_captions_and_alt_text(name):
    nb = notebook(name)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.outputs):
            meta = cell.metadata.get("mystnb", {})
            assert meta.get("image", {}).get("alt"), f"cell {i}: a figure without alt text"
            assert meta.get("figure", {}).get("caption"), f"cell {i}: a figure without a caption"


def test_every_chapter_starts_by_installing_attn_core_where_missing():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "sync_setup_cells.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(attn_core.__path__, "attn_core."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def test_api_reference_covers_every_public_module():
    # the library and training on api.md, the chapters' rings on api_chapters.md
    page = "".join(path.read_text() for path in sorted((ROOT / "appendices").glob("api*.md")))
    missing = [m for m in public_modules() if m not in page]
    assert missing == [], f"add these modules to appendices/api.md or api_chapters.md: {missing}"


# ---------------------------------------------------------------- the package's architecture

PACKAGE = ROOT / "attn_core"
# The rings above the library, lowest first; a ring may import the library, the rings below
# it and itself, never a ring above it.
RINGS = ("training", "experiments", "plot", "widgets")
MAY_IMPORT = {
    "library": {"library"},
    "training": {"library", "training"},
    "experiments": {"library", "training", "experiments"},
    "plot": {"library", "training", "experiments", "plot"},
    "widgets": {"library", "training", "experiments", "plot", "widgets"},
}
# The extra of pyproject.toml that declares what each ring needs beyond the package's
# dependencies (None: the dependencies alone).
EXTRA_OF_RING = {"library": None, "training": None, "experiments": "experiments", "plot": "plot",
                 "widgets": "widgets"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def ring(module: str) -> str:
    """attn_core.plot.style -> plot; attn_core.softmax, attn_core -> library."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RINGS else "library"


def imported_names(path: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in the file, nested ones included.
    ``from a.b import c`` gives both a.b and a.b.c (c may be a module: from attn_core import plot)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..plot import y
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down_only(path):
    """library imports no subpackage; training only the library; experiments training and
    the library; plot anything but widgets; only widgets import widgets."""
    own = ring(module_name(path))
    wrong = [f"line {line}: {name} ({ring(name)})" for line, name in imported_names(path)
             if name.split(".")[0] == "attn_core" and ring(name) not in MAY_IMPORT[own]]
    assert wrong == [], f"{module_name(path)} is in the {own} ring and may import only {sorted(MAY_IMPORT[own])}: {wrong}"


def third_party(path: Path) -> set[str]:
    """Top-level names of the packages the file imports that are neither stdlib nor attn_core."""
    tops = {name.split(".")[0] for _, name in imported_names(path)}
    return {top for top in tops if top not in sys.stdlib_module_names and top != "attn_core"}


def test_library_and_training_import_numpy_only():
    """`import attn_core as ac` is the library a reader learns: numpy and the standard library."""
    for path in MODULES:
        if ring(module_name(path)) in ("library", "training"):
            assert third_party(path) <= {"numpy"}, module_name(path)
    code = ("import sys; before = set(sys.modules); import attn_core, attn_core.training; "
            "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} "
            "- set(sys.stdlib_module_names) - {'attn_core'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['numpy']"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared(extra: str | None) -> set[str]:
    """Distributions that installing attn_core[extra] brings directly, following the extras'
    references to attn_core's other extras (widgets = attn_core[plot] + ipywidgets)."""
    from packaging.requirements import Requirement

    project = pyproject()["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    todo, seen = [extra], set()
    while todo:
        current = todo.pop()
        if current is None or current in seen:
            continue
        seen.add(current)
        for requirement in map(Requirement, project["optional-dependencies"][current]):
            if canonical(requirement.name) == canonical(project["name"]):
                todo += sorted(requirement.extras)
            else:
                requirements.append(requirement)
    return {canonical(requirement.name) for requirement in requirements}


def test_every_ring_declares_what_it_imports():
    """numpy for the library, threadpoolctl for experiments, matplotlib/Pillow for plot, ..."""
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for path in MODULES:
        own = ring(module_name(path))
        for top in third_party(path):
            names = {canonical(d) for d in distributions.get(top, [top])}
            if not names & declared(EXTRA_OF_RING[own]):
                undeclared.setdefault(module_name(path), []).append(f"{top} ({', '.join(sorted(names))})")
    assert undeclared == {}, "declare these in pyproject.toml, for the module's ring"


def test_every_declared_dependency_is_pinned_in_constraints():
    """tools/_setup.sh installs with -c constraints.txt: a new dependency needs a pin there,
    within its range (refresh: bash tools/refresh_constraints.sh)."""
    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonical(name)] = version.strip()
    project = pyproject()["project"]
    texts = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    texts += [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.lstrip().startswith(("#", "-"))]
    problems = []
    for text in texts:
        requirement = Requirement(text)
        name = canonical(requirement.name)
        if name == canonical(project["name"]):
            continue
        if name not in pins:
            problems.append(f"{name} is not pinned")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{name}=={pins[name]} is outside {requirement.specifier}")
    assert problems == []


def test_setup_installs_with_the_constraints():
    setup = (ROOT / "tools" / "_setup.sh").read_text()
    assert "-r requirements.txt -c constraints.txt" in setup
    assert "constraints.txt" in setup.split("sha256sum")[0].splitlines()[-1], "the stamp covers the constraints"


# ---------------------------------------------------------------- the repository explains itself

# Built from pieces, so that this file does not name them itself.
OUTSIDE_REFERENCES = ("../" + "shared", "DESIGN" + ".md", "STYLE" + ".md")


def repository_files() -> list[Path]:
    """Tracked files, and new ones not ignored by .gitignore."""
    result = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=ROOT, capture_output=True, check=False)
    if result.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in result.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def test_no_file_refers_to_documents_outside_the_repository():
    """The repository explains itself: its reasons are written in it, not in a sibling folder."""
    offenders = []
    for path in repository_files():
        data = path.read_bytes()
        offenders += [f"{path.relative_to(ROOT)}: {word}" for word in OUTSIDE_REFERENCES if word.encode() in data]
    assert offenders == []
