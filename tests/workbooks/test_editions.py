"""The workbooks' two editions: generated from one source, nbgrader's format, and they run.

* the tool regenerates both editions and finds no difference (they cannot drift);
* every teacher edition passes every check, with full points;
* every student edition runs top to bottom without a traceback, and every check reports
  the exercise as not yet done, scoring 0;
* one workbook also runs in a real Jupyter kernel (the thread-based timeout included).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.workbooks.notebook_runner import run_notebook

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "workbooks" / "source").glob("*.ipynb"))
NAMES = [path.name for path in SOURCES]


def _tool():
    spec = importlib.util.spec_from_file_location("make_workbooks", ROOT / "tools" / "make_workbooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_workbooks():
    assert len(SOURCES) >= 4, SOURCES


def test_editions_are_regenerated_identically():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_workbooks.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_mode_fails_on_a_stale_edition(tmp_path, monkeypatch):
    tool = _tool()
    for name in ("STUDENT", "TEACHER"):
        monkeypatch.setattr(tool, name, tmp_path / name.lower())
    assert tool.main([]) == 0  # writes fresh editions into tmp_path
    assert tool.main(["--check"]) == 0
    stale = tmp_path / "student" / NAMES[0]
    stale.write_text(stale.read_text().replace("Exercise 1", "Exercise one"))
    assert tool.main(["--check"]) == 1


def test_the_stub_keeps_signature_and_docstring_and_indents_like_nbgrader():
    tool = _tool()
    text = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n'
    assert tool.stub_solution(text, "here") == (
        'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n')
    with pytest.raises(tool.SourceError, match="without"):
        tool.stub_solution("### BEGIN SOLUTION\nx = 1\n", "here")


@pytest.mark.parametrize("name", NAMES)
def test_editions_are_in_nbgrader_format(name):
    for folder in ("workbooks", "workbooks/teacher"):
        notebook = json.loads((ROOT / folder / name).read_text())
        nbformat.validate(nbformat.from_dict(notebook))
        assert notebook["metadata"]["mystnb"] == {"execution_mode": "off"}
        grade_ids, solutions, checks = set(), 0, 0
        for cell in notebook["cells"]:
            meta = cell["metadata"]["nbgrader"]
            assert meta["schema_version"] == 3 and meta["grade_id"] not in grade_ids
            grade_ids.add(meta["grade_id"])
            assert set(meta) >= {"grade", "grade_id", "locked", "solution", "schema_version"}
            text = "".join(cell["source"])
            if meta["solution"]:
                solutions += 1
                assert not meta["locked"] and not meta["grade"]
                assert ("### BEGIN SOLUTION" in text) == (folder == "workbooks/teacher")
                assert ("raise NotImplementedError()" in text) == (folder == "workbooks")
            if meta["grade"]:
                checks += 1
                assert meta["locked"] and meta["points"] > 0
                assert re.search(r"\.points\(%g\)\s*$" % meta["points"], text)
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
            if folder == "workbooks" and cell["cell_type"] == "markdown":
                assert "](../../" not in text  # links are relative to workbooks/
        assert 3 <= solutions == checks <= 8, (folder, solutions, checks)


def _check_runs(name: str, folder: str):
    runs = run_notebook(ROOT / folder / name)
    errors = [(run.index, repr(run.error)) for run in runs if run.error is not None]
    assert errors == [], f"{folder}/{name} raised: {errors}"
    return [run for run in runs if run.nbgrader.get("grade")]


@pytest.mark.parametrize("name", NAMES)
def test_every_teacher_edition_passes_every_check(name):
    for run in _check_runs(name, "workbooks/teacher"):
        assert run.stdout.startswith("✓"), f"cell {run.index}: {run.stdout}"
        assert run.value == run.nbgrader["points"], (run.index, run.value)


@pytest.mark.parametrize("name", NAMES)
def test_every_student_edition_runs_and_reports_not_yet_done(name):
    checks = _check_runs(name, "workbooks")
    assert checks
    for run in checks:
        assert "not yet done" in run.stdout, f"cell {run.index}: {run.stdout}"
        assert run.value == 0.0


def test_one_workbook_in_a_real_kernel():
    """The same results through Jupyter: nbgrader reads the number each check cell shows, and a
    looping function is stopped inside the kernel too."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for folder, expected in (("workbooks/teacher", "✓"), ("workbooks", "…")):
        notebook = nbformat.read(ROOT / folder / "04_softmax.ipynb", as_version=4)
        looping = nbformat.v4.new_code_cell(
            "def looping(x):\n    while True:\n        pass\ncheck_softmax(looping, timeout=0.3).status")
        notebook.cells.append(looping)
        nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT / "workbooks")}}).execute()
        assert "did not finish within 0.3 s" in looping.outputs[0]["text"]
        assert looping.outputs[-1]["data"]["text/plain"] == "'failed'"
        for cell in notebook.cells[:-1]:
            if cell.metadata["nbgrader"].get("grade"):
                text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
                shown = [o.data["text/plain"] for o in cell.outputs if o.output_type == "execute_result"]
                assert text.startswith(expected), text
                points = cell.metadata["nbgrader"]["points"] if expected == "✓" else 0
                assert shown == [repr(float(points))]


def test_the_setup_cell_installs_attn_core_like_the_chapters():
    tool = _tool()
    setup = tool._setup_source()
    for folder in ("workbooks", "workbooks/teacher"):
        for name in NAMES:
            cells = json.loads((ROOT / folder / name).read_text())["cells"]
            first_code = next(cell for cell in cells if cell["cell_type"] == "code")
            assert "".join(first_code["source"]).startswith(setup + "\n"), (folder, name)
    assert tool.with_setup("# Setup for Colab and other fresh environments: old\n%pip install old\nimport x",
                           "NEW") == "NEW\nimport x"
