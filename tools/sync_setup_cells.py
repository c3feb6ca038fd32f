"""Give every chapter the same first cell: install attn_core where it is missing (e.g. Colab).

    python tools/sync_setup_cells.py          # insert or update the cell in every chapter
    python tools/sync_setup_cells.py --check  # exit 1 if a chapter's cell is missing or stale

The repository URL and branch come from ``_config.yml`` (``repository.url``,
``repository.branch``): the one place to change them. The cell is tagged ``remove-cell`` (it
does not appear on the website, where there is nothing to install) and does nothing where
``attn_core`` is already importable, as in the book's own environment and under nbval.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# Setup for Colab and other fresh environments"


def setup_source() -> str:
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url, branch = repo["url"].rstrip("/"), repo.get("branch", "main")
    return (
        f"{MARKER}: install the book's package, attn_core, if it is missing.\n"
        "# (Where it is installed already, as in the book's own environment, this does nothing.)\n"
        "try:\n"
        "    import attn_core  # noqa: F401\n"
        "except ModuleNotFoundError:\n"
        f'    %pip install --quiet "attn_core[book] @ git+{url}@{branch}"'
    )


def setup_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(setup_source())
    cell.metadata["tags"] = ["remove-cell"]
    return cell


def chapters() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.ipynb"))


def is_setup(cell) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(MARKER)


def first_code_index(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def check(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[first_code_index(nb)]
    return is_setup(cell) and cell.source == setup_source() and "remove-cell" in cell.metadata.get("tags", [])


def sync(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not is_setup(c)]
    nb.cells.insert(first_code_index(nb), setup_cell())
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or chapters()
    if args.check:
        stale = [p for p in paths if not check(p)]
        for p in stale:
            print(f"{p}: setup cell missing or stale (run tools/sync_setup_cells.py)")
        return 1 if stale else 0
    for p in paths:
        sync(p)
        print(f"synced {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
