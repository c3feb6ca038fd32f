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
            if meta["locked"]:  # locked as nbgrader's release locks them
                assert cell["metadata"]["editable"] is False and cell["metadata"]["deletable"] is False
            elif meta["solution"]:
                assert cell["metadata"]["deletable"] is False
            if meta["grade"]:
                checks += 1
                assert meta["locked"] and meta["points"] > 0
                visible, hidden, _ = (text + "\n").partition("### BEGIN HIDDEN TESTS")
                assert re.search(r"\.points\(%g\)\s*$" % meta["points"], visible)
                if folder == "workbooks":
                    assert not hidden, "the student edition has no hidden tests"
                else:
                    assert f"hidden_points(check_" in text and text.rstrip().endswith("### END HIDDEN TESTS")
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
            if folder == "workbooks" and cell["cell_type"] == "markdown":
                assert "](../../" not in text  # links are relative to workbooks/
        assert 3 <= solutions == checks <= 6, (folder, solutions, checks)  # "3 to 6 exercises" (README)


@pytest.mark.parametrize("name", NAMES)
def test_chapter_links_are_absolute_and_reach_an_existing_section(name):
    """Links to chapters point at the published site (they work in a clone, Colab and an nbgrader
    release alike), at a section id that the chapter's headings produce (docutils' make_id)."""
    from docutils.nodes import make_id

    site = _tool().site_url()
    assert site.startswith("https://") and site.endswith("/")
    for folder in ("workbooks", "workbooks/teacher"):
        for cell in json.loads((ROOT / folder / name).read_text())["cells"]:
            text = "".join(cell["source"])
            assert "chapters/" not in re.sub(r"\]\(" + re.escape(site) + r"chapters/[^)]*\)", "", text) or \
                cell["cell_type"] == "code", f"a relative chapter link in {folder}/{name}: {text[:200]}"
            for chapter, anchor in re.findall(re.escape(site) + r"chapters/([\w.-]+)\.html(?:#([\w-]+))?", text):
                notebook = ROOT / "chapters" / f"{chapter}.ipynb"
                assert notebook.exists(), chapter
                if anchor:
                    headings = {make_id(line.lstrip("#")) for c in json.loads(notebook.read_text())["cells"]
                                if c["cell_type"] == "markdown"
                                for line in "".join(c["source"]).splitlines() if line.startswith("#")}
                    assert anchor in headings, (name, chapter, anchor)


def test_the_tool_writes_links_to_the_site_of_config():
    tool = _tool()
    assert tool.with_chapter_links("see [x](../../chapters/04_softmax.ipynb#temperature) and "
                                   "[y](../../chapters/05_scaled_dot_product_attention.ipynb)", "https://s/") == (
        "see [x](https://s/chapters/04_softmax.html#temperature) and "
        "[y](https://s/chapters/05_scaled_dot_product_attention.html)")
    assert tool.with_hidden_test("check_f(f).points(2)\n").splitlines()[-2] == "hidden_points(check_f, 2, f)"


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_calls_attn_core(name):
    """A solution that calls the library would pass for the wrong reason (and fails its check now)."""
    for cell in json.loads((ROOT / "workbooks" / "source" / name).read_text())["cells"]:
        if "solution" in cell["metadata"].get("tags", []):
            assert "attn_core" not in "".join(cell["source"]) and "ac." not in "".join(cell["source"])


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
        warning = nbformat.v4.new_code_cell(  # correct, but warns and writes to stderr: nbgrader would give 0
            "import sys, warnings\ndef noisy(x):\n    warnings.warn('debug')\n    print('here', file=sys.stderr)\n"
            "    e = np.exp(x - x.max(axis=-1, keepdims=True))\n    return e / e.sum(axis=-1, keepdims=True)\n"
            "check_softmax(noisy).points(2)")
        notebook.cells.insert(next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code") + 1, warning)
        notebook.cells.append(looping)
        nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT / "workbooks")}}).execute()
        assert "did not finish within 0.3 s" in looping.outputs[0]["text"]
        assert looping.outputs[-1]["data"]["text/plain"] == "'failed'"
        assert [o.name for o in warning.outputs if o.output_type == "stream"] == ["stdout"]
        assert "✓ softmax" in warning.outputs[0]["text"] and "your function warned (UserWarning: debug)" in \
            warning.outputs[0]["text"]
        assert warning.outputs[-1]["data"]["text/plain"] == "2.0"
        for cell in notebook.cells:
            assert all(o.get("name") != "stderr" for o in cell.get("outputs", [])), cell.source
        for cell in notebook.cells[:-1]:
            if cell.metadata.get("nbgrader", {}).get("grade"):
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


def _nbgrader_python() -> str:
    """The Python of an environment with nbgrader: ATTN_NBGRADER_PYTHON, else this one if it has nbgrader."""
    import os

    given = os.environ.get("ATTN_NBGRADER_PYTHON")
    if given:
        return given
    pytest.importorskip("nbgrader")
    return sys.executable


def test_nbgrader_releases_the_student_edition_and_autogrades_with_the_hidden_tests(tmp_path):
    """Real nbgrader, opt-in (nbgrader is not a dependency: ATTN_NBGRADER_PYTHON=/path/to/venv/bin/python,
    a venv with `pip install nbgrader`): generate_assignment from the teacher edition releases the student
    edition's code cells; autograde gives a correct submission full marks, a stub 0, and a submission
    that patches the check's reference in the session 0 (the hidden tests re-import attn_core)."""
    import os

    python = _nbgrader_python()
    name, course = "04_softmax.ipynb", tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "source" / "ps1" / name).write_text((ROOT / "workbooks" / "teacher" / name).read_text())
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'attn'\nc.CourseDirectory.root = {str(course)!r}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1",  # nbgrader runs `alembic`
           "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    nbgrader = [python, "-c", "import sys; from nbgrader.apps.nbgraderapp import main; sys.exit(main())"]

    def run(*args):
        done = subprocess.run(nbgrader + list(args), cwd=course, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

    run("generate_assignment", "ps1", "--force")
    released = json.loads((course / "release" / "ps1" / name).read_text())
    student = json.loads((ROOT / "workbooks" / name).read_text())
    sources = lambda notebook: ["".join(c["source"]) for c in notebook["cells"]]  # noqa: E731
    assert sources(released) == sources(student)  # every cell, code and text
    locks = lambda notebook: [(c["metadata"].get("editable", True), c["metadata"].get("deletable", True))  # noqa: E731
                              for c in notebook["cells"]]
    assert locks(released) == locks(student)  # locked as nbgrader locks them

    teacher = json.loads((ROOT / "workbooks" / "teacher" / name).read_text())
    solutions = ["".join(line for line in c["source"] if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
                 for c in teacher["cells"] if c["metadata"]["nbgrader"]["solution"]]
    cheat = ("import attn_core.workbooks.softmax as module\nmodule.softmax = lambda x, **kwargs: x\n"
             "def softmax(x):\n    return x\n")
    submissions = {"good": solutions, "stub": None, "cheat": [cheat] + solutions[1:]}
    for student_id, answers in submissions.items():
        notebook = json.loads(json.dumps(released))
        cells = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
        for cell, answer in zip(cells, answers or []):
            cell["source"] = answer.splitlines(keepends=True)
        folder = course / "submitted" / student_id / "ps1"
        folder.mkdir(parents=True)
        (folder / name).write_text(json.dumps(notebook))
        run("autograde", "ps1", "--force", "--student", student_id)
    scores = subprocess.run(
        [python, "-c", "import json; from nbgrader.api import Gradebook\n"
                       f"with Gradebook('sqlite:///{course}/gradebook.db') as gb:\n"
                       "    print(json.dumps({s: gb.find_submission('ps1', s).score for s in ('good', 'stub', 'cheat')}))"],
        env=env, capture_output=True, text=True, timeout=120)
    assert scores.returncode == 0, scores.stderr
    total = sum(c["metadata"]["nbgrader"].get("points", 0) for c in teacher["cells"])
    assert json.loads(scores.stdout) == {"good": total, "stub": 0.0, "cheat": total - 2}
