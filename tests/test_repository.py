"""The chapters keep the book's rules: structure, clean outputs, setup cells, and a complete API page."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
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
    page = (ROOT / "appendices" / "api.md").read_text()
    missing = [m for m in public_modules() if m not in page]
    assert missing == [], f"add these modules to appendices/api.md: {missing}"


def test_maths_does_not_import_plotting_or_widgets():
    """the library and its learning and experiment rings stay numpy-only."""
    code = "import sys, attn_core; print(any(m.split('.')[0] in ('matplotlib', 'ipywidgets') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
    for name in public_modules():
        if ".plot" in name or ".widgets" in name:
            continue
        source = Path(importlib.util.find_spec(name).origin).read_text()
        assert "matplotlib" not in source and "ipywidgets" not in source, name
