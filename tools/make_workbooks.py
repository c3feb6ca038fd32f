"""Write the student and teacher editions of every workbook from its one source.

    .venv/bin/python tools/make_workbooks.py           # write workbooks/*.ipynb and workbooks/teacher/*.ipynb
    .venv/bin/python tools/make_workbooks.py --check   # regenerate in memory; fail on any difference

A source notebook, ``workbooks/source/NN_name.ipynb``, holds the solutions. Its cells are of
three kinds, told apart by a cell tag:

* ``solution``: a code cell with the exercise's function; the body the student writes sits
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines (the signature and docstring stay
  outside, so the student sees them);
* ``check``: the cell that checks the function and scores it, ending in ``.points(N)``
  (``check_softmax(softmax).points(2)``), N the points it is worth;
* no tag: text and setup, read-only for the student.

The setup cell's install-if-missing lines are the chapters' (``tools/sync_setup_cells.py``,
from ``repository`` in ``_config.yml``), so a course's fork changes one place for both.
Links to the chapters are written in the source relative to ``workbooks/source/``
(``../../chapters/04_softmax.ipynb#overflow-and-the-max-shift-fix``, the anchor being the
section's id on the site); both editions get the published page instead
(``<html.baseurl>chapters/04_softmax.html#...``, ``html.baseurl`` from ``_config.yml``), which
works wherever the notebook is opened: the site, a clone, Colab, an nbgrader release. Other
relative links (``../../x``) become ``../x`` in the student edition, one level up.

Cells that nbgrader would lock are locked here too (Jupyter's ``editable``/``deletable``
cell metadata, as nbgrader's release writes them), so the repository's student edition is
what ``generate_assignment`` releases. The teacher edition's check cells end in an nbgrader
hidden-tests region that re-runs the check from a fresh import of attn_core
(``hidden_points``): nbgrader's release and the student edition drop that region, and the
autograder scores with it.

Both editions are in nbgrader's format (cell metadata ``nbgrader`` with ``solution``,
``grade``, ``grade_id``, ``points``, ``locked``, ``schema_version`` 3): the teacher edition
keeps the solution regions between their markers, which is what ``nbgrader generate_assignment``
expects as a source notebook; the student edition replaces each region with nbgrader's own
stub (``# YOUR CODE HERE`` / ``raise NotImplementedError()``), as ``generate_assignment``
would. A check cell shows a number, which nbgrader's autograder reads as partial credit: a
stub scores 0 without a traceback. Outputs are cleared, and each edition asks the book build
not to execute it (notebook metadata ``mystnb.execution_mode = "off"``).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "workbooks" / "source"
STUDENT = ROOT / "workbooks"
TEACHER = ROOT / "workbooks" / "teacher"

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
AUTHORING_TAGS = {"solution", "check"}
POINTS = re.compile(r"\.points\(\s*([0-9]+(?:\.[0-9]+)?)\s*\)\s*$")
FUNCTION = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
CHECKED = re.compile(r"check_([A-Za-z_]\w*)\s*\(")
SETUP_BLOCK = re.compile(r"^# Setup for Colab and other fresh environments.*?%pip install[^\n]*", re.DOTALL | re.MULTILINE)
CHAPTER_LINK = re.compile(r"\]\(\.\./\.\./chapters/([\w.-]+?)\.ipynb(#[\w-]+)?\)")
CHECK_LINE = re.compile(r"^(check_\w+)\((.*)\)\.points\(\s*([0-9]+(?:\.[0-9]+)?)\s*\)\s*$")
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


class SourceError(ValueError):
    """A source notebook that breaks the format above (the message names the cell)."""


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _lines(text: str) -> list[str]:
    """Notebook JSON stores a cell's source as lines that keep their newlines."""
    return text.splitlines(keepends=True)


def stub_solution(text: str, where: str) -> str:
    """Replace every BEGIN/END SOLUTION region with nbgrader's stub, indented like the markers."""
    out, inside, found = [], False, 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise SourceError(f"{where}: {BEGIN} inside another solution region")
            inside, found = True, found + 1
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + stub for stub in STUB]
        elif stripped == END:
            if not inside:
                raise SourceError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SourceError(f"{where}: {BEGIN} without {END}")
    if not found:
        raise SourceError(f"{where}: a 'solution' cell needs a {BEGIN} ... {END} region")
    return "\n".join(out)


def _setup_source() -> str:
    """The chapters' install-if-missing lines (tools/sync_setup_cells.py, from _config.yml's repository)."""
    spec = importlib.util.spec_from_file_location("sync_setup_cells", ROOT / "tools" / "sync_setup_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.setup_source()


def site_url() -> str:
    """The published book's address, ending in '/': ``html.baseurl`` in ``_config.yml`` (else the
    GitHub Pages address of ``repository.url``)."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    base = (config.get("html") or {}).get("baseurl")
    if not base:
        owner, name = config["repository"]["url"].rstrip("/").split("/")[-2:]
        base = f"https://{owner}.github.io/{name}/"
    return base.rstrip("/") + "/"


def with_chapter_links(text: str, site: str) -> str:
    """``](../../chapters/NN.ipynb#anchor)`` -> ``](<site>chapters/NN.html#anchor)``."""
    return CHAPTER_LINK.sub(lambda m: f"]({site}chapters/{m.group(1)}.html{m.group(2) or ''})", text)


def with_hidden_test(text: str) -> str:
    """A check cell with the hidden-tests region that scores a fresh copy of its check."""
    lines = text.rstrip("\n").split("\n")
    match = CHECK_LINE.match(lines[-1].strip())
    if match is None:
        return text
    check, arguments, points = match.groups()
    return "\n".join(lines + [
        HIDDEN_BEGIN,
        "# Autograding (nbgrader): a fresh import of the check and of attn_core decides the score.",
        "from attn_core.workbooks.feedback import hidden_points",
        f"hidden_points({check}, {points}, {arguments})",
        HIDDEN_END,
    ])


def with_setup(text: str, setup: str) -> str:
    """``text`` with its install-if-missing block (from the marker to the %pip line) replaced by ``setup``."""
    return SETUP_BLOCK.sub(lambda _: setup, text, count=1)


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def editions(source: dict, name: str, setup: str | None = None, site: str | None = None) -> tuple[dict, dict]:
    """The (student, teacher) notebooks made from one source notebook; ``setup`` replaces the
    install-if-missing block of the setup cell (default: the chapters' block), ``site`` is the
    book's address for chapter links (default: :func:`site_url`)."""
    setup = _setup_source() if setup is None else setup
    site = site_url() if site is None else site
    teacher = copy.deepcopy(source)
    student = copy.deepcopy(source)
    grade_ids: set[str] = set()
    for number, (t_cell, s_cell) in enumerate(zip(teacher["cells"], student["cells"]), start=1):
        where = f"{name}, cell {number} (id {t_cell.get('id')})"
        tags = set(t_cell.get("metadata", {}).get("tags", []))
        text = _text(t_cell)
        if "solution" in tags and "check" in tags:
            raise SourceError(f"{where}: a cell is a solution or a check, not both")
        if "solution" in tags:
            functions = FUNCTION.findall(text)
            grade_id = functions[0] if functions else f"answer_{number}"
            meta = _nbgrader(grade_id, solution=True, grade=False)
            s_cell["source"] = _lines(stub_solution(text, where))
        elif "check" in tags:
            match = POINTS.search(text.strip())
            if t_cell["cell_type"] != "code" or match is None:
                raise SourceError(f"{where}: a 'check' cell is code ending in .points(N)")
            checked = CHECKED.findall(text)
            grade_id = f"check_{checked[0]}" if checked else f"check_{number}"
            points = float(match.group(1))
            meta = _nbgrader(grade_id, solution=False, grade=True, points=int(points) if points.is_integer() else points)
            if HIDDEN_BEGIN in text:
                raise SourceError(f"{where}: the tool writes the hidden tests; a source check cell has none")
            t_cell["source"] = _lines(with_hidden_test(text))
        else:
            grade_id = f"cell_{t_cell.get('id', number)}"
            meta = _nbgrader(grade_id, solution=False, grade=False)
            if t_cell["cell_type"] == "code" and SETUP_BLOCK.search(text):
                t_cell["source"] = s_cell["source"] = _lines(with_setup(text, setup))
            if t_cell["cell_type"] == "markdown":  # links are written for source/ and teacher/, one level deeper
                text = with_chapter_links(text, site)
                t_cell["source"] = _lines(text)
                s_cell["source"] = _lines(text.replace("](../../", "](../"))
        if grade_id in grade_ids:
            raise SourceError(f"{where}: grade_id {grade_id!r} is used twice (one exercise per function)")
        grade_ids.add(grade_id)
        for cell in (t_cell, s_cell):
            metadata = cell.setdefault("metadata", {})
            kept = [tag for tag in metadata.get("tags", []) if tag not in AUTHORING_TAGS]
            if kept:
                metadata["tags"] = kept
            else:
                metadata.pop("tags", None)
            metadata["nbgrader"] = dict(meta)
            if meta["locked"]:  # as nbgrader's release locks them (LockCells)
                metadata["editable"], metadata["deletable"] = False, False
            elif meta["solution"]:
                metadata["deletable"] = False
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
    for notebook in (teacher, student):
        notebook["metadata"]["mystnb"] = {"execution_mode": "off"}
        notebook["metadata"].setdefault("kernelspec", {"display_name": "Python 3", "language": "python",
                                                       "name": "python3"})
    return student, teacher


def dumps(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def planned() -> dict[Path, str]:
    """Every file the tool writes, with its text."""
    files, setup, site = {}, _setup_source(), site_url()
    for path in sorted(SOURCE.glob("*.ipynb")):
        student, teacher = editions(json.loads(path.read_text(encoding="utf-8")), path.name, setup, site)
        files[STUDENT / path.name] = dumps(student)
        files[TEACHER / path.name] = dumps(teacher)
    return files


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and fail if any edition differs from its file")
    args = parser.parse_args(argv)
    try:
        files = planned()
    except SourceError as error:
        print(f"make_workbooks: {error}")
        return 2
    stale = [path for path, text in files.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    orphans = [path for folder in (STUDENT, TEACHER) for path in sorted(folder.glob("*.ipynb"))
               if path not in files]
    if args.check:
        for path in stale:
            print(f"out of date: {_shown(path)}")
        for path in orphans:
            print(f"no source for: {_shown(path)}")
        if stale or orphans:
            print("run: .venv/bin/python tools/make_workbooks.py")
            return 1
        print(f"workbooks up to date ({len(files)} editions)")
        return 0
    for folder in (STUDENT, TEACHER):
        folder.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(files[path], encoding="utf-8")
        print(f"wrote {_shown(path)}")
    for path in orphans:
        print(f"warning: {_shown(path)} has no source in workbooks/source/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
