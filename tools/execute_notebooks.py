"""Execute chapter notebooks in place, so that their stored outputs are what a fresh kernel makes.

Usage::

    python tools/execute_notebooks.py                 # every chapter
    python tools/execute_notebooks.py chapters/04_softmax.ipynb

Each notebook runs top to bottom in a new kernel with ``chapters/`` as working directory
(as under the book build and nbval), then is written back with:

* no widget state (``metadata.widgets``): the book build re-executes and embeds it, and
  leaving it out keeps the notebooks small and their diffs readable (an explorer's state
  holds every picture it can show);
* no execution timing or kernel-specific metadata that would change on every run.

It prints how long each notebook took; the book requires <= 15 s per chapter.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
LIMIT_SECONDS = 15.0


def execute(path: Path, timeout: int = 120) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                output.get("metadata", {}).pop("execution", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    slow = []
    for path in paths:
        seconds = execute(path.resolve())
        flag = "" if seconds <= LIMIT_SECONDS else f"  (over the {LIMIT_SECONDS:.0f} s budget)"
        print(f"{seconds:6.1f} s  {path}{flag}")
        if seconds > LIMIT_SECONDS:
            slow.append(path)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
