"""Run a workbook's code cells in this process, as a fresh kernel would, cell by cell.

Starting a Jupyter kernel per notebook costs seconds; the workbooks need no kernel features
beyond IPython's syntax (the setup cell's ``%pip`` line, which IPython's transformer turns
into a call that never runs when attn_core is installed). ``tests/workbooks/test_editions.py``
also executes one workbook in a real kernel, so the two paths are compared.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.core.inputtransformer2 import TransformerManager


@dataclass
class CellRun:
    """What one code cell did: its printed text, its last expression's value, its error."""

    index: int
    tags: list[str]
    nbgrader: dict
    source: str
    stdout: str
    value: Any
    error: BaseException | None


def run_notebook(path: Path) -> list[CellRun]:
    """Execute every code cell of ``path`` top to bottom in one fresh namespace."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    transform = TransformerManager().transform_cell
    runs = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse(transform(source))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        buffer, value, error = io.StringIO(), None, None
        with contextlib.redirect_stdout(buffer):
            try:
                exec(compile(tree, f"<{path.name} cell {index}>", "exec"), namespace)
                if last is not None:
                    value = eval(compile(ast.Expression(last.value), f"<{path.name} cell {index}>", "eval"), namespace)
            except Exception as caught:  # noqa: BLE001 - reported by the tests
                error = caught
        runs.append(CellRun(index, cell["metadata"].get("tags", []), cell["metadata"].get("nbgrader", {}),
                            source, buffer.getvalue(), value, error))
    return runs
